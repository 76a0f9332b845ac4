//! Tests of `crypto.subtle`, run as JavaScript in a fresh isolate (each
//! one also checks the isolate tears down cleanly with keys alive).
//!
//! Known answers come from the RFCs named in each test and from
//! `testdata/vectors.js`, produced by Node.js' Web Crypto (OpenSSL).

use crate::testing::run_js;

const VECTORS: &str = include_str!("testdata/vectors.js");

const PRELUDE: &str = r#"
const S = crypto.subtle;
const te = new TextEncoder();
const td = new TextDecoder();
const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (h) => new Uint8Array((h.match(/../g) || []).map((x) => parseInt(x, 16)));
const unb64 = (s) => {
  const t = s.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(t + "=".repeat((4 - (t.length % 4)) % 4)), (c) => c.charCodeAt(0));
};
const b64u = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const err = async (p) => { try { await p; return "resolved"; } catch (e) { return e.name; } };
const jwtVerify = async (jwt, alg, key) => {
  const [h, p, sig] = jwt.split(".");
  return S.verify(alg, key, unb64(sig), te.encode(h + "." + p));
};
"#;

fn js(body: &str) -> String {
    run_js(&format!("{VECTORS}\n{PRELUDE}\n{body}"))
}

#[test]
fn digests_of_abc() {
    assert_eq!(
        js(r#"const abc = te.encode("abc");
              const out = [];
              for (const h of ["SHA-1", "SHA-256", "SHA-384", { name: "sha-512" }]) out.push(hex(await S.digest(h, abc)));
              const d = await S.digest("SHA-256", abc.buffer);
              out.push(d instanceof ArrayBuffer);
              return out.join(" ");"#),
        "a9993e364706816aba3e25717850c26c9cd0d89d \
         ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad \
         cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7 \
         ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f \
         true"
    );
}

/// RFC 4231 test case 2.
#[test]
fn hmac_rfc4231() {
    assert_eq!(
        js(r#"const data = te.encode("what do ya want for nothing?");
              const k256 = await S.importKey("raw", te.encode("Jefe"), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
              const k512 = await S.importKey("raw", te.encode("Jefe"), { name: "HMAC", hash: { name: "SHA-512" } }, false, ["sign"]);
              const s256 = await S.sign("HMAC", k256, data);
              const bad = new Uint8Array(s256).slice(); bad[0] ^= 1;
              return [hex(s256), hex(await S.sign({ name: "HMAC" }, k512, data)),
                      await S.verify("HMAC", k256, s256, data), await S.verify("HMAC", k256, bad, data),
                      k256.algorithm.length, k256.algorithm.hash.name].join(" ");"#),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843 \
         164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737 \
         true false 32 SHA-256"
    );
}

/// The HS256 example token of RFC 7519's usual demo (secret "your-256-bit-secret").
#[test]
fn jwt_hs256_verify() {
    assert_eq!(
        js(
            r#"const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
              const key = await S.importKey("raw", te.encode("your-256-bit-secret"), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
              const jwk = await S.importKey("jwk", { kty: "oct", k: b64u(te.encode("your-256-bit-secret")), alg: "HS256" }, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
              return [await jwtVerify(jwt, "HMAC", key), await jwtVerify(jwt, "HMAC", jwk),
                      await jwtVerify(jwt.slice(0, -2) + "xx", "HMAC", key)].join();"#
        ),
        "true,true,false"
    );
}

#[test]
fn rs256_jwt_from_jwk_and_spki() {
    assert_eq!(
        js(
            r#"const alg = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
              const fromJwk = await S.importKey("jwk", V.rsaPublicJwk, alg, true, ["verify"]);
              const fromSpki = await S.importKey("spki", unb64(V.rsaSpki), alg, true, ["verify"]);
              const priv = await S.importKey("jwk", V.rsaPrivateJwk, alg, true, ["sign"]);
              const [h, p, sig] = V.rs256Jwt.split(".");
              const mine = b64u(await S.sign(alg, priv, te.encode(h + "." + p)));
              const tampered = h + "." + b64u(te.encode('{"sub":"admin"}')) + "." + sig;
              const spki = b64u(await S.exportKey("spki", fromJwk));
              return [await jwtVerify(V.rs256Jwt, alg, fromJwk), await jwtVerify(V.rs256Jwt, alg, fromSpki),
                      mine === sig, await jwtVerify(tampered, alg, fromSpki),
                      spki === b64u(unb64(V.rsaSpki)), fromJwk.algorithm.modulusLength,
                      hex(fromJwk.algorithm.publicExponent), priv.type].join();"#
        ),
        "true,true,true,false,true,2048,010001,private"
    );
}

#[test]
fn es256_jwt_from_jwk_and_spki() {
    assert_eq!(
        js(r#"const alg = { name: "ECDSA", namedCurve: "P-256" };
              const sig = { name: "ECDSA", hash: "SHA-256" };
              const { d, ...pub } = V.ecPrivateJwk;
              const fromJwk = await S.importKey("jwk", { ...pub, key_ops: ["verify"] }, alg, true, ["verify"]);
              const fromSpki = await S.importKey("spki", unb64(V.ecSpki), alg, true, ["verify"]);
              const fromRaw = await S.importKey("raw", unb64(V.ecRaw), alg, true, ["verify"]);
              const priv = await S.importKey("pkcs8", unb64(V.ecPkcs8), alg, true, ["sign"]);
              const mine = await S.sign(sig, priv, te.encode("mine"));
              const exported = await S.exportKey("jwk", priv);
              return [await jwtVerify(V.es256Jwt, sig, fromJwk), await jwtVerify(V.es256Jwt, sig, fromSpki),
                      await jwtVerify(V.es256Jwt, sig, fromRaw),
                      await jwtVerify(V.es256Jwt.slice(0, -3) + "AAA", sig, fromRaw),
                      mine.byteLength, await S.verify(sig, fromSpki, mine, te.encode("mine")),
                      exported.d === d, exported.x === pub.x, exported.crv,
                      b64u(await S.exportKey("raw", fromSpki)) === b64u(unb64(V.ecRaw))].join();"#),
        "true,true,true,false,64,true,true,true,P-256,true"
    );
}

#[test]
fn ecdsa_p384() {
    assert_eq!(
        js(
            r#"const key = await S.importKey("spki", unb64(V.ec384Spki), { name: "ECDSA", namedCurve: "P-384" }, false, ["verify"]);
              const alg = { name: "ECDSA", hash: "SHA-384" };
              const pair = await S.generateKey({ name: "ECDSA", namedCurve: "P-384" }, false, ["sign", "verify"]);
              const mine = await S.sign(alg, pair.privateKey, te.encode("x"));
              const sha1 = await S.sign({ name: "ECDSA", hash: "SHA-1" }, pair.privateKey, te.encode("x"));
              const sha1ok = await S.verify({ name: "ECDSA", hash: "SHA-1" }, pair.publicKey, sha1, te.encode("x"));
              return [await S.verify(alg, key, unb64(V.ec384Sig), te.encode("p384 message")),
                      await S.verify(alg, key, unb64(V.ec384Sig), te.encode("p384 messagE")),
                      mine.byteLength, await S.verify(alg, pair.publicKey, mine, te.encode("x")),
                      pair.publicKey.extractable, pair.privateKey.extractable,
                      pair.publicKey.usages.join("+"), pair.privateKey.usages.join("+")].join();"#
        ),
        "true,false,96,true,true,false,verify,sign"
    );
}

#[test]
fn rsa_pss_and_oaep_known_answers() {
    assert_eq!(
        js(
            r#"const pss = await S.importKey("spki", unb64(V.rsaSpki), { name: "RSA-PSS", hash: "SHA-256" }, false, ["verify"]);
              const msg = te.encode(V.pssMessage);
              const oaep = await S.importKey("pkcs8", unb64(V.rsaPkcs8), { name: "RSA-OAEP", hash: "SHA-256" }, false, ["decrypt"]);
              const oaepPub = await S.importKey("spki", unb64(V.rsaSpki), { name: "RSA-OAEP", hash: "SHA-256" }, false, ["encrypt"]);
              const label = te.encode("label");
              const plain = td.decode(await S.decrypt({ name: "RSA-OAEP", label }, oaep, unb64(V.oaepCiphertext)));
              const ct = await S.encrypt({ name: "RSA-OAEP", label }, oaepPub, te.encode("round trip"));
              const back = td.decode(await S.decrypt({ name: "RSA-OAEP", label }, oaep, ct));
              const pssPriv = await S.importKey("pkcs8", unb64(V.rsaPkcs8), { name: "RSA-PSS", hash: "SHA-256" }, false, ["sign"]);
              const mySig = await S.sign({ name: "RSA-PSS", saltLength: 32 }, pssPriv, msg);
              return [await S.verify({ name: "RSA-PSS", saltLength: 32 }, pss, unb64(V.pssSig), msg),
                      await S.verify({ name: "RSA-PSS", saltLength: 32 }, pss, unb64(V.pssSig), te.encode("other")),
                      await S.verify({ name: "RSA-PSS", saltLength: 32 }, pss, mySig, msg),
                      plain, back, ct.byteLength,
                      await err(S.decrypt({ name: "RSA-OAEP" }, oaep, unb64(V.oaepCiphertext)))].join();"#
        ),
        "true,false,true,hello oaep,round trip,256,OperationError"
    );
}

#[test]
fn rsa_pss_salt_too_long_for_the_key_is_an_operation_error() {
    // 2048-bit key, SHA-256: at most 256 - 32 - 2 = 222 bytes of salt. A
    // huge saltLength used to allocate that many bytes before failing.
    assert_eq!(
        js(r#"const alg = { name: "RSA-PSS", hash: "SHA-256" };
              const priv = await S.importKey("pkcs8", unb64(V.rsaPkcs8), alg, false, ["sign"]);
              const pub = await S.importKey("spki", unb64(V.rsaSpki), alg, false, ["verify"]);
              const msg = te.encode("m");
              const sig = await S.sign({ name: "RSA-PSS", saltLength: 222 }, priv, msg);
              return [await S.verify({ name: "RSA-PSS", saltLength: 222 }, pub, sig, msg),
                      await err(S.sign({ name: "RSA-PSS", saltLength: 223 }, priv, msg)),
                      await err(S.sign({ name: "RSA-PSS", saltLength: 2 ** 32 - 1 }, priv, msg))].join();"#),
        "true,OperationError,OperationError"
    );
}

#[test]
fn rsa_generate_and_jwk_round_trip() {
    assert_eq!(
        js(
            r#"const alg = { name: "RSASSA-PKCS1-v1_5", modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" };
              const pair = await S.generateKey(alg, true, ["sign", "verify"]);
              const jwk = await S.exportKey("jwk", pair.privateKey);
              const again = await S.importKey("jwk", jwk, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
              const sig = await S.sign("RSASSA-PKCS1-v1_5", again, te.encode("m"));
              const pkcs8 = await S.exportKey("pkcs8", pair.privateKey);
              const fromPkcs8 = await S.importKey("pkcs8", pkcs8, { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
              const sig2 = await S.sign("RSASSA-PKCS1-v1_5", fromPkcs8, te.encode("m"));
              const a = pair.publicKey.algorithm;
              return [await S.verify("RSASSA-PKCS1-v1_5", pair.publicKey, sig, te.encode("m")),
                      hex(sig) === hex(sig2), jwk.alg, jwk.kty, typeof jwk.qi, a.name, a.modulusLength,
                      hex(a.publicExponent), a.hash.name,
                      await err(S.generateKey({ ...alg, publicExponent: new Uint8Array([7]) }, true, ["sign"]))].join();"#
        ),
        "true,true,RS256,RSA,string,RSASSA-PKCS1-v1_5,1024,010001,SHA-256,OperationError"
    );
}

/// McGrew & Viega GCM test case 2, a Node.js vector with AAD and a 96-bit
/// tag, and tampering.
#[test]
fn aes_gcm() {
    assert_eq!(
        js(r#"const zero = await S.importKey("raw", new Uint8Array(16), "AES-GCM", true, ["encrypt", "decrypt"]);
              const tc2 = hex(await S.encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, zero, new Uint8Array(16)));
              const key = await S.importKey("raw", new Uint8Array(32).map((_, i) => 255 - i), "AES-GCM", false, ["decrypt", "encrypt"]);
              const iv = new Uint8Array(16).map((_, i) => 0xf0 + i).slice(0, 12);
              const p = { name: "AES-GCM", iv, additionalData: te.encode("aad"), tagLength: 96 };
              const ct = await S.encrypt(p, key, te.encode("The quick brown fox jumps over the lazy dog"));
              const back = td.decode(await S.decrypt(p, key, unhex(V.gcm96Hex)));
              const bad = unhex(V.gcm96Hex); bad[3] ^= 0x80;
              return [tc2, hex(ct) === V.gcm96Hex, back,
                      await err(S.decrypt(p, key, bad)),
                      await err(S.decrypt({ ...p, additionalData: te.encode("AAD") }, key, unhex(V.gcm96Hex))),
                      await err(S.decrypt(p, key, new Uint8Array(4))),
                      await err(S.encrypt({ ...p, tagLength: 100 }, key, bad))].join();"#),
        "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf,true,The quick brown fox jumps over the lazy dog,OperationError,OperationError,OperationError,OperationError"
    );
}

#[test]
fn aes_cbc_and_ctr() {
    assert_eq!(
        js(r#"const k = new Uint8Array(16).map((_, i) => i);
              const iv = new Uint8Array(16).map((_, i) => 0xf0 + i);
              const msg = te.encode("The quick brown fox jumps over the lazy dog");
              const cbc = await S.importKey("raw", k, { name: "AES-CBC" }, false, ["encrypt", "decrypt"]);
              const ctr = await S.importKey("raw", k, "AES-CTR", false, ["encrypt", "decrypt"]);
              const c1 = await S.encrypt({ name: "AES-CBC", iv }, cbc, msg);
              const c2 = await S.encrypt({ name: "AES-CTR", counter: iv, length: 64 }, ctr, msg);
              const wrap = new Uint8Array(16).fill(0xff); wrap[0] = 0x12;
              const c3 = await S.encrypt({ name: "AES-CTR", counter: wrap, length: 4 }, ctr, msg);
              const badPad = unhex(V.cbcHex); badPad[badPad.length - 17] ^= 1;
              return [hex(c1) === V.cbcHex, hex(c2) === V.ctrHex, hex(c3) === V.ctrWrapHex,
                      td.decode(await S.decrypt({ name: "AES-CBC", iv }, cbc, c1)),
                      td.decode(await S.decrypt({ name: "AES-CTR", counter: iv, length: 64 }, ctr, c2)),
                      await err(S.decrypt({ name: "AES-CBC", iv }, cbc, badPad)),
                      await err(S.encrypt({ name: "AES-CBC", iv: iv.slice(1) }, cbc, msg)),
                      await err(S.encrypt({ name: "AES-CTR", counter: iv, length: 1 }, ctr, msg))].join("|");"#),
        "true|true|true|The quick brown fox jumps over the lazy dog|The quick brown fox jumps over the lazy dog|OperationError|OperationError|OperationError"
    );
}

/// RFC 3394 section 4.1, then wrap/unwrap round trips with AES-KW and AES-GCM.
#[test]
fn wrap_and_unwrap() {
    assert_eq!(
        js(r#"const kek = await S.importKey("raw", unhex("000102030405060708090a0b0c0d0e0f"), "AES-KW", false, ["wrapKey", "unwrapKey"]);
              const inner = await S.importKey("raw", unhex("00112233445566778899aabbccddeeff"), "AES-GCM", true, ["encrypt"]);
              const wrapped = await S.wrapKey("raw", inner, kek, "AES-KW");
              const back = await S.unwrapKey("raw", wrapped, kek, "AES-KW", "AES-GCM", true, ["encrypt", "decrypt"]);
              const gcmKek = await S.generateKey({ name: "AES-GCM", length: 256 }, false, ["wrapKey", "unwrapKey"]);
              const hmac = await S.generateKey({ name: "HMAC", hash: "SHA-384" }, true, ["sign"]);
              const iv = crypto.getRandomValues(new Uint8Array(12));
              const w2 = await S.wrapKey("jwk", hmac, gcmKek, { name: "AES-GCM", iv });
              const h2 = await S.unwrapKey("jwk", w2, gcmKek, { name: "AES-GCM", iv }, { name: "HMAC", hash: "SHA-384" }, false, ["sign"]);
              const same = hex(await S.sign("HMAC", hmac, te.encode("x"))) === hex(await S.sign("HMAC", h2, te.encode("x")));
              const bad = new Uint8Array(wrapped).slice(); bad[0] ^= 1;
              const secret = await S.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"]);
              return [hex(wrapped), hex(await S.exportKey("raw", back)), same, h2.algorithm.length, h2.extractable,
                      await err(S.unwrapKey("raw", bad, kek, "AES-KW", "AES-GCM", true, ["encrypt"])),
                      await err(S.wrapKey("raw", secret, kek, "AES-KW")),
                      await err(S.wrapKey("raw", inner, gcmKek, "AES-KW"))].join();"#),
        "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5,00112233445566778899aabbccddeeff,true,1024,false,OperationError,InvalidAccessError,InvalidAccessError"
    );
}

/// RFC 6070 (PBKDF2-HMAC-SHA1) and RFC 7914 section 11 (PBKDF2-HMAC-SHA256).
#[test]
fn pbkdf2_vectors() {
    assert_eq!(
        js(r#"const pw = await S.importKey("raw", te.encode("password"), "PBKDF2", false, ["deriveBits", "deriveKey"]);
              const out = [];
              for (const iterations of [1, 2, 4096])
                out.push(hex(await S.deriveBits({ name: "PBKDF2", hash: "SHA-1", salt: te.encode("salt"), iterations }, pw, 160)));
              const pw2 = await S.importKey("raw", te.encode("passwd"), { name: "PBKDF2" }, false, ["deriveBits"]);
              out.push(hex(await S.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: te.encode("salt"), iterations: 1 }, pw2, 512)));
              const aes = await S.deriveKey({ name: "PBKDF2", hash: "SHA-256", salt: te.encode("salt"), iterations: 10 }, pw,
                                            { name: "AES-GCM", length: 256 }, true, ["encrypt"]);
              out.push(aes.algorithm.name + "/" + aes.algorithm.length + "/" + (await S.exportKey("raw", aes)).byteLength);
              out.push(await err(S.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(), iterations: 0 }, pw, 128)));
              out.push(await err(S.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(), iterations: 1e6 }, pw, 128)));
              out.push(await err(S.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(), iterations: 1 }, pw)));
              out.push(await err(S.importKey("raw", te.encode("p"), "PBKDF2", true, ["deriveBits"])));
              out.push(await err(S.exportKey("raw", pw)));
              return out.join(" ");"#),
        "0c60c80f961f0e71f3a9b524af6012062fe037a6 \
         ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957 \
         4b007901b765489abead49d926f721d065a429c1 \
         55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783 \
         AES-GCM/256/32 OperationError NotSupportedError OperationError SyntaxError NotSupportedError"
    );
}

/// RFC 5869 test case 1.
#[test]
fn hkdf_rfc5869() {
    assert_eq!(
        js(r#"const ikm = await S.importKey("raw", new Uint8Array(22).fill(0x0b), "HKDF", false, ["deriveBits", "deriveKey"]);
              const p = { name: "HKDF", hash: "SHA-256", salt: unhex("000102030405060708090a0b0c"), info: unhex("f0f1f2f3f4f5f6f7f8f9") };
              const bits = hex(await S.deriveBits(p, ikm, 42 * 8));
              const hmac = await S.deriveKey(p, ikm, { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign"]);
              return [bits, hmac.algorithm.length, await err(S.deriveBits(p, ikm, 255 * 32 * 8 + 8)),
                      await err(S.deriveKey(p, ikm, { name: "HKDF" }, false, ["deriveBits"]))].join(" ");"#),
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865 256 OperationError OperationError"
    );
}

#[test]
fn ecdh_agreement() {
    assert_eq!(
        js(r#"const alg = { name: "ECDH", namedCurve: "P-256" };
              const a = await S.generateKey(alg, false, ["deriveBits", "deriveKey"]);
              const b = await S.generateKey(alg, false, ["deriveBits"]);
              const ab = hex(await S.deriveBits({ name: "ECDH", public: b.publicKey }, a.privateKey, 256));
              const ba = hex(await S.deriveBits({ name: "ECDH", public: a.publicKey }, b.privateKey, null));
              const short = hex(await S.deriveBits({ name: "ECDH", public: b.publicKey }, a.privateKey, 12));
              const nodeA = await S.importKey("pkcs8", unb64(V.ecdhAPkcs8), alg, false, ["deriveBits"]);
              const nodeB = await S.importKey("raw", unb64(V.ecdhBRaw), alg, true, []);
              const known = hex(await S.deriveBits({ name: "ECDH", public: nodeB }, nodeA, 256));
              const aes = await S.deriveKey({ name: "ECDH", public: b.publicKey }, a.privateKey, { name: "AES-KW", length: 128 }, false, ["wrapKey"]);
              const p384 = await S.generateKey({ name: "ECDH", namedCurve: "P-384" }, false, ["deriveBits"]);
              return [ab === ba, ab.length, short === ab.slice(0, 2) + (parseInt(ab[2], 16) & 0xf).toString(16) + "0", known === V.ecdhBits,
                      aes.algorithm.name, b.publicKey.usages.length,
                      await err(S.deriveBits({ name: "ECDH", public: p384.publicKey }, a.privateKey, 256)),
                      await err(S.deriveBits({ name: "ECDH", public: a.privateKey }, b.privateKey, 256)),
                      await err(S.deriveBits({ name: "ECDH", public: b.publicKey }, a.privateKey, 512)),
                      await err(S.deriveBits({ name: "ECDH", public: "nope" }, a.privateKey, 256))].join();"#),
        "true,64,true,true,AES-KW,0,InvalidAccessError,InvalidAccessError,OperationError,TypeError"
    );
}

#[test]
fn ed25519_and_node_ed25519() {
    assert_eq!(
        js(r#"const msg = te.encode("ed message");
              const priv = await S.importKey("pkcs8", unb64(V.edPkcs8), "Ed25519", true, ["sign"]);
              const sig = await S.sign("Ed25519", priv, msg);
              const raw = await S.importKey("raw", unb64(V.edRaw), { name: "Ed25519" }, true, ["verify"]);
              const spki = await S.importKey("spki", unb64(V.edSpki), "Ed25519", false, ["verify"]);
              const { d, key_ops, ...pub } = V.edPrivateJwk;
              const jwkPub = await S.importKey("jwk", pub, "Ed25519", false, ["verify"]);
              const jwkPriv = await S.importKey("jwk", V.edPrivateJwk, "Ed25519", false, ["sign"]);
              const node = await S.importKey("raw", unb64(V.edRaw), { name: "NODE-ED25519", namedCurve: "NODE-ED25519" }, false, ["verify"]);
              const gen = await S.generateKey({ name: "NODE-ED25519", namedCurve: "NODE-ED25519" }, true, ["sign", "verify"]);
              const gsig = await S.sign("NODE-ED25519", gen.privateKey, msg);
              const bad = new Uint8Array(sig).slice(); bad[10] ^= 1;
              const exported = await S.exportKey("jwk", priv);
              return [b64u(sig) === b64u(unb64(V.edSig)), b64u(await S.sign("Ed25519", jwkPriv, msg)) === b64u(sig),
                      await S.verify("Ed25519", raw, sig, msg), await S.verify("Ed25519", spki, sig, msg),
                      await S.verify("Ed25519", jwkPub, sig, msg), await S.verify({ name: "NODE-ED25519" }, node, sig, msg),
                      await S.verify("Ed25519", raw, bad, msg), await S.verify("Ed25519", raw, sig.slice(1), msg),
                      await S.verify("NODE-ED25519", gen.publicKey, gsig, msg),
                      gen.publicKey.algorithm.namedCurve, exported.crv, exported.d === d,
                      await err(S.verify("Ed25519", node, sig, msg)),
                      await err(S.importKey("raw", unb64(V.edRaw), { name: "NODE-ED25519" }, false, ["verify"]))].join();"#),
        "true,true,true,true,true,true,false,false,true,NODE-ED25519,Ed25519,true,InvalidAccessError,TypeError"
    );
}

#[test]
fn crypto_key_shape() {
    assert_eq!(
        js(r#"const k = await S.generateKey({ name: "AES-GCM", length: 128 }, false, ["unwrapKey", "decrypt", "encrypt", "encrypt"]);
              const h = await S.generateKey({ name: "HMAC", hash: "SHA-1", length: 100 }, true, ["verify", "sign"]);
              let ctor; try { new CryptoKey(); ctor = "constructed"; } catch (e) { ctor = e.name; }
              return [k instanceof CryptoKey, Object.prototype.toString.call(k), k.type, k.extractable,
                      k.algorithm === k.algorithm, k.usages === k.usages, k.usages.join("+"),
                      JSON.stringify(k.algorithm), h.algorithm.length, (await S.exportKey("raw", h)).byteLength,
                      JSON.stringify(h.usages), ctor, k.constructor === CryptoKey,
                      Object.getOwnPropertyDescriptor(globalThis, "CryptoKey").writable,
                      await err((async () => structuredClone(k))())].join(" ");"#),
        "true [object CryptoKey] secret false true true encrypt+decrypt+unwrapKey {\"name\":\"AES-GCM\",\"length\":128} 100 13 [\"sign\",\"verify\"] TypeError true true DataCloneError"
    );
}

#[test]
fn lazy_globals_can_be_replaced() {
    assert_eq!(
        run_js(
            "const before = Object.getOwnPropertyDescriptor(globalThis, 'CryptoKey');
             globalThis.SubtleCrypto = 5;
             return [typeof before.get, SubtleCrypto, typeof CryptoKey, crypto.subtle.constructor.name].join();"
        ),
        "function,5,function,SubtleCrypto"
    );
}

#[test]
fn bad_inputs() {
    assert_eq!(
        js(r#"const out = [];
              const hmac = await S.importKey("raw", te.encode("k"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
              const aes = await S.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt"]);
              // wrong usage, wrong algorithm for the key
              out.push(await err(S.verify("HMAC", hmac, new Uint8Array(32), te.encode("x"))));
              out.push(await err(S.decrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, aes, new Uint8Array(32))));
              out.push(await err(S.encrypt({ name: "AES-CBC", iv: new Uint8Array(16) }, aes, new Uint8Array(32))));
              out.push(await err(S.exportKey("raw", hmac)));
              // unknown and unsupported algorithms
              out.push(await err(S.digest("MD5", te.encode("x"))));
              out.push(await err(S.digest("HMAC", te.encode("x"))));
              out.push(await err(S.generateKey({ name: "ECDSA", namedCurve: "P-521" }, true, ["sign"])));
              out.push(await err(S.importKey("raw", new Uint8Array(16), "AES-XTS", false, ["encrypt"])));
              // bad JWKs
              out.push(await err(S.importKey("jwk", { kty: "RSA", k: "AAAA" }, "AES-GCM", false, ["encrypt"])));
              out.push(await err(S.importKey("jwk", { kty: "oct", k: "!!!" }, "AES-GCM", false, ["encrypt"])));
              out.push(await err(S.importKey("jwk", { kty: "oct", k: b64u(new Uint8Array(16)), alg: "A256GCM" }, "AES-GCM", false, ["encrypt"])));
              out.push(await err(S.importKey("jwk", { kty: "oct", k: b64u(new Uint8Array(16)), ext: false }, "AES-GCM", true, ["encrypt"])));
              out.push(await err(S.importKey("jwk", { kty: "EC", crv: "P-256", x: "AA", y: "AA" }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])));
              out.push(await err(S.importKey("jwk", { kty: "oct", k: b64u(new Uint8Array(16)), key_ops: ["decrypt"] }, "AES-GCM", false, ["encrypt"])));
              out.push(await err(S.importKey("jwk", new Uint8Array(4), "AES-GCM", false, ["encrypt"])));
              // bad key data
              out.push(await err(S.importKey("raw", new Uint8Array(15), "AES-GCM", false, ["encrypt"])));
              out.push(await err(S.importKey("spki", new Uint8Array(30), { name: "RSA-PSS", hash: "SHA-256" }, false, ["verify"])));
              out.push(await err(S.importKey("spki", unb64(V.edSpki), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"])));
              out.push(await err(S.importKey("raw", new Uint8Array(16), { name: "RSA-OAEP", hash: "SHA-1" }, false, ["encrypt"])));
              // bad dictionaries and arguments: TypeError, rejected rather than thrown
              out.push(await err(S.encrypt({ name: "AES-GCM" }, aes, new Uint8Array(1))));
              out.push(await err(S.importKey("raw", new Uint8Array(16), { name: "HMAC" }, false, ["sign"])));
              out.push(await err(S.generateKey({ name: "AES-GCM", length: 70000 }, false, ["encrypt"])));
              out.push(await err(S.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["frobnicate"])));
              out.push(await err(S.importKey("pem", new Uint8Array(16), "AES-GCM", false, ["encrypt"])));
              out.push(await err(S.sign("HMAC", {}, te.encode("x"))));
              out.push(await err(S.digest("SHA-256", "not a buffer")));
              out.push(await err(S.digest("SHA-256")));
              out.push(await err(S.digest({})));
              let thrown = "none"; let p;
              try { p = S.digest(Symbol("x"), te.encode("x")); } catch (e) { thrown = e.name; }
              out.push(thrown + "/" + (p instanceof Promise) + "/" + await err(p));
              // usages: empty for a secret key, or not allowed for the algorithm
              out.push(await err(S.generateKey({ name: "AES-GCM", length: 128 }, false, [])));
              out.push(await err(S.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["encrypt"])));
              out.push(await err(S.importKey("raw", new Uint8Array(16), "AES-KW", false, ["encrypt"])));
              // tampered data
              const k = await S.importKey("raw", new Uint8Array(16), "AES-GCM", false, ["encrypt", "decrypt"]);
              const ct = new Uint8Array(await S.encrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, k, te.encode("secret")));
              ct[0] ^= 1;
              out.push(await err(S.decrypt({ name: "AES-GCM", iv: new Uint8Array(12) }, k, ct)));
              const es = await S.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
              const sig = new Uint8Array(await S.sign({ name: "ECDSA", hash: "SHA-256" }, es.privateKey, te.encode("m")));
              sig[5] ^= 1;
              out.push(await S.verify({ name: "ECDSA", hash: "SHA-256" }, es.publicKey, sig, te.encode("m")));
              out.push(await S.verify({ name: "ECDSA", hash: "SHA-256" }, es.publicKey, sig.slice(2), te.encode("m")));
              out.push(await err(S.sign({ name: "ECDSA", hash: "SHA-256" }, es.publicKey, te.encode("m"))));
              out.push(await err(S.sign({ name: "ECDSA", hash: "MD5" }, es.privateKey, te.encode("m"))));
              return out.join(" ");"#),
        "InvalidAccessError InvalidAccessError InvalidAccessError InvalidAccessError \
         NotSupportedError NotSupportedError NotSupportedError NotSupportedError \
         DataError DataError DataError DataError DataError DataError TypeError \
         DataError DataError DataError NotSupportedError \
         TypeError TypeError TypeError TypeError TypeError TypeError TypeError TypeError TypeError none/true/TypeError \
         SyntaxError SyntaxError SyntaxError \
         OperationError false false InvalidAccessError NotSupportedError"
    );
}

#[test]
fn rsa_oaep_generate_with_exponent_3() {
    assert_eq!(
        js(
            r#"const pair = await S.generateKey({ name: "RSA-OAEP", modulusLength: 1024, publicExponent: new Uint8Array([3]), hash: "SHA-1" },
                                            false, ["encrypt", "decrypt", "wrapKey", "unwrapKey"]);
              const ct = await S.encrypt("RSA-OAEP", pair.publicKey, te.encode("hi"));
              const hmac = await S.generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
              const wrapped = await S.wrapKey("raw", hmac, pair.publicKey, "RSA-OAEP");
              const back = await S.unwrapKey("raw", wrapped, pair.privateKey, "RSA-OAEP", { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
              return [td.decode(await S.decrypt({ name: "RSA-OAEP" }, pair.privateKey, ct)),
                      hex(pair.publicKey.algorithm.publicExponent), pair.publicKey.usages.join("+"),
                      pair.privateKey.usages.join("+"), back.algorithm.length,
                      await err(S.encrypt("RSA-OAEP", pair.publicKey, new Uint8Array(100))),
                      await err(S.exportKey("spki", pair.privateKey))].join();"#
        ),
        "hi,03,encrypt+wrapKey,decrypt+unwrapKey,512,OperationError,InvalidAccessError"
    );
}

/// Keys kept alive in globals and in cycles through their cached
/// `algorithm` objects must not trip QuickJS's leak assertion at teardown.
#[test]
fn keys_survive_until_teardown() {
    assert_eq!(
        js(r#"globalThis.keep = [];
              for (let i = 0; i < 50; i++) {
                const k = await S.generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
                k.algorithm.self = k; k.usages.push(k); keep.push(k);
              }
              const pair = await S.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
              pair.privateKey.algorithm.pair = pair; keep.push(pair);
              keep.push(S.digest("SHA-1", new Uint8Array(1)));
              return keep.length;"#),
        "52"
    );
}

#[test]
fn pbkdf2_output_is_capped() {
    assert_eq!(
        js(
            r#"const pw = await S.importKey("raw", te.encode("pw"), "PBKDF2", false, ["deriveBits"]);
              const p = { name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(8), iterations: 1 };
              return [(await S.deriveBits(p, pw, 4096 * 8)).byteLength, await err(S.deriveBits(p, pw, 4097 * 8)),
                      await err(S.deriveBits(p, pw, 2 ** 32 - 8))].join();"#
        ),
        "4096,NotSupportedError,NotSupportedError"
    );
}

/// HMAC key material lives outside the isolate's heap, so its length is
/// bounded (`hmac_ops::MAX_KEY_BITS`); zero and odd lengths follow the spec.
#[test]
fn hmac_key_length_is_bounded() {
    assert_eq!(
        js(
            r#"const H = (length) => ({ name: "HMAC", hash: "SHA-256", length });
              const gen = (length) => S.generateKey(H(length), true, ["sign"]);
              const out = [];
              const max = await gen(65536);
              out.push(max.algorithm.length, (await S.exportKey("raw", max)).byteLength);
              out.push(await err(gen(65537)), await err(gen(2 ** 31)), await err(gen(2 ** 32 - 1)), await err(gen(0)));
              // a length that is not a multiple of 8 rounds the data up and clears the spare bits
              const odd = await gen(13);
              const raw = new Uint8Array(await S.exportKey("raw", odd));
              out.push(odd.algorithm.length, raw.byteLength, raw[1] & 7);
              const imp = (data, length) => S.importKey("raw", data, H(length), false, ["sign"]);
              out.push((await imp(new Uint8Array(8192))).algorithm.length, (await imp(new Uint8Array(2), 9)).algorithm.length);
              out.push(await err(imp(new Uint8Array(8193))), await err(imp(new Uint8Array(8193), 65537)),
                       await err(imp(new Uint8Array(2), 8)), await err(imp(new Uint8Array(2), 17)),
                       await err(imp(new Uint8Array(1), 0)), await err(imp(new Uint8Array(0))));
              // deriveKey asks HMAC for its length before deriving anything
              const pw = await S.importKey("raw", te.encode("pw"), "HKDF", false, ["deriveKey"]);
              const hkdf = { name: "HKDF", hash: "SHA-512", salt: new Uint8Array(0), info: new Uint8Array(0) };
              const dk = (length) => S.deriveKey(hkdf, pw, H(length), false, ["sign"]);
              out.push((await dk(65536)).algorithm.length, await err(dk(65544)), await err(dk(0)));
              return out.join();"#
        ),
        "65536,8192,OperationError,OperationError,OperationError,OperationError,\
         13,2,0,65536,9,DataError,DataError,DataError,DataError,DataError,DataError,\
         65536,OperationError,TypeError"
    );
}

#[test]
fn timing_safe_equal() {
    assert_eq!(
        js(
            r#"let e; try { S.timingSafeEqual(new Uint8Array(2), new Uint8Array(3)); } catch (x) { e = x.name; }
              return [S.timingSafeEqual(te.encode("abc"), te.encode("abc").buffer),
                      S.timingSafeEqual(te.encode("abc"), te.encode("abd")),
                      S.timingSafeEqual(new Uint8Array(0), new ArrayBuffer(0)), e].join();"#
        ),
        "true,false,true,TypeError"
    );
}

/// The cost `init` adds to every fresh context, and what the first use of
/// `crypto.subtle` then costs. Run in release:
/// `cargo test --release -p outpost-webapi --lib crypto_subtle::tests::install_cost -- --ignored --nocapture`
#[test]
#[ignore]
fn install_cost() {
    use rquickjs::{Context, Runtime};
    use std::time::{Duration, Instant};
    let rt = Runtime::new().unwrap();
    let (mut init, mut first_use) = (Vec::new(), Vec::new());
    for _ in 0..500 {
        let ctx = Context::full(&rt).unwrap();
        ctx.with(|ctx| {
            crate::crypto_random::init(&ctx).unwrap();
            let t = Instant::now();
            super::init(&ctx).unwrap();
            init.push(t.elapsed());
            let t = Instant::now();
            let _: rquickjs::Value = ctx.eval("crypto.subtle; CryptoKey").unwrap();
            first_use.push(t.elapsed());
        });
    }
    let p50 = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e6
    };
    println!(
        "crypto_subtle::init p50 {:.2} us; first crypto.subtle + CryptoKey read p50 {:.2} us",
        p50(&mut init),
        p50(&mut first_use)
    );
}
