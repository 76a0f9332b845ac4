// Web Crypto: https://w3c.github.io/webcrypto/ with test vectors from
// FIPS 180-4 (SHA), RFC 4231 (HMAC), RFC 6070 (PBKDF2).
import { suite, threw, error, className } from "../harness.js";

const enc = (s) => new TextEncoder().encode(s);
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");

export default suite("crypto", [
  ["get_random_values", () => { const a = new Uint8Array(16); const r = crypto.getRandomValues(a);
    return [r === a, a.some((x) => x !== 0) || a.length === 16]; }, [true, true]],
  ["get_random_values_types", async () => [await threw(() => crypto.getRandomValues(new Float32Array(1))),
    await threw(() => crypto.getRandomValues(new BigUint64Array(1)).length), await threw(() => crypto.getRandomValues(new Uint8ClampedArray(2)).length)],
    [error("TypeMismatchError", "DOMException"), { ok: 1 }, { ok: 2 }]],
  ["get_random_values_quota", async () => [await threw(() => crypto.getRandomValues(new Uint8Array(65537))),
    await threw(() => crypto.getRandomValues(new Uint8Array(65536)).length)], [error("QuotaExceededError", "DOMException"), { ok: 65536 }]],
  ["random_uuid", () => { const u = crypto.randomUUID(); return [/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u), u !== crypto.randomUUID()]; },
    [true, true]],
  ["subtle_exists", () => [typeof crypto.subtle, Object.prototype.toString.call(crypto.subtle), crypto.subtle instanceof SubtleCrypto],
    ["object", "[object SubtleCrypto]", true]],
  ["digest_sha256", async () => hex(await crypto.subtle.digest("SHA-256", enc("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  ["digest_sha1_and_384", async () => [hex(await crypto.subtle.digest({ name: "sha-1" }, enc("abc"))), hex(await crypto.subtle.digest("SHA-384", enc(""))).slice(0, 16)],
    ["a9993e364706816aba3e25717850c26c9cd0d89d", "38b060a751ac9638"]],
  ["digest_unknown_algorithm", async () => threw(() => crypto.subtle.digest("SHA-3", enc("x"))), error("NotSupportedError", "DOMException")],
  ["hmac_rfc4231_case2", async () => { const key = await crypto.subtle.importKey("raw", enc("Jefe"), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    const sig = await crypto.subtle.sign("HMAC", key, enc("what do ya want for nothing?"));
    return [hex(sig), await crypto.subtle.verify("HMAC", key, sig, enc("what do ya want for nothing?"))]; },
    ["5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", true]],
  ["pbkdf2_rfc6070", async () => { const key = await crypto.subtle.importKey("raw", enc("password"), "PBKDF2", false, ["deriveBits"]);
    return hex(await crypto.subtle.deriveBits({ name: "PBKDF2", salt: enc("salt"), iterations: 1, hash: "SHA-1" }, key, 160)); },
    "0c60c80f961f0e71f3a9b524af6012062fe037a6"],
  ["aes_gcm_round_trip", async () => { const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, ["encrypt", "decrypt"]);
    const iv = new Uint8Array(12); const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, enc("secret"));
    const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, ct); return [ct.byteLength, new TextDecoder().decode(pt), key.algorithm.length, key.type]; },
    [22, "secret", 256, "secret"]],
  ["ecdsa_sign_verify", async () => { const kp = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, kp.privateKey, enc("m"));
    return [sig.byteLength, await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, kp.publicKey, sig, enc("m")),
      await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, kp.publicKey, sig, enc("n")), kp.publicKey.type]; },
    [64, true, false, "public"]],
  ["export_jwk_hmac", async () => { const key = await crypto.subtle.importKey("raw", new Uint8Array([1, 2, 3]), { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    const jwk = await crypto.subtle.exportKey("jwk", key); return [jwk.kty, jwk.k, jwk.alg, jwk.ext]; }, ["oct", "AQID", "HS256", true]],
  ["import_bad_usage", async () => threw(() => crypto.subtle.importKey("raw", enc("k"), { name: "HMAC", hash: "SHA-256" }, false, ["encrypt"])),
    error("SyntaxError", "DOMException")],
  ["crypto_key_class", async () => { const key = await crypto.subtle.importKey("raw", enc("k"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return [className(key), key.extractable, key.usages, key.algorithm.name, key.algorithm.hash.name]; },
    ["CryptoKey", false, ["sign"], "HMAC", "SHA-256"]],
]);
