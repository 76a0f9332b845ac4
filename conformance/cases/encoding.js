// Encoding: https://encoding.spec.whatwg.org/
import { suite, threw, error, bytes, collect } from "../harness.js";

export default suite("encoding", [
  ["encode_utf8", () => [bytes(new TextEncoder().encode("€a")), new TextEncoder().encoding, bytes(new TextEncoder().encode())],
    [[226, 130, 172, 97], "utf-8", []]],
  ["encode_lone_surrogate", () => bytes(new TextEncoder().encode("\uD800x")), [239, 191, 189, 120]],
  ["encode_into", () => { const u = new Uint8Array(3); const r = new TextEncoder().encodeInto("a€", u);
    return [r.read, r.written, bytes(u)]; }, [1, 1, [97, 0, 0]]],
  ["encode_into_surrogate_pair", () => { const u = new Uint8Array(8); const r = new TextEncoder().encodeInto("😀!", u);
    return [r.read, r.written]; }, [3, 5]],
  ["decode_default", () => [new TextDecoder().decode(new Uint8Array([0xe2, 0x82, 0xac])), new TextDecoder().encoding,
    new TextDecoder().fatal, new TextDecoder().ignoreBOM], ["€", "utf-8", false, false]],
  ["decode_fatal", async () => threw(() => new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xff]))),
    error("TypeError")],
  ["bom_handling", () => { const b = new Uint8Array([0xef, 0xbb, 0xbf, 0x41]);
    return [new TextDecoder().decode(b), new TextDecoder("utf-8", { ignoreBOM: true }).decode(b).length]; }, ["A", 2]],
  ["streaming_decode", () => { const d = new TextDecoder(); return d.decode(new Uint8Array([0xe2, 0x82]), { stream: true }) + d.decode(new Uint8Array([0xac])); },
    "€"],
  ["incomplete_at_end_replaced", () => new TextDecoder().decode(new Uint8Array([0x61, 0xe2, 0x82])), "a\uFFFD"],
  ["invalid_sequences_replaced", () => new TextDecoder().decode(new Uint8Array([0x61, 0xf0, 0x90, 0x62, 0xc0, 0x80])),
    "a\uFFFDb\uFFFD\uFFFD"],
  ["labels", () => [" UTF8 ", "unicode-1-1-utf-8", "latin1", "ascii", "utf-16", "UTF-16BE", "sjis"].map((l) => new TextDecoder(l).encoding),
    ["utf-8", "utf-8", "windows-1252", "windows-1252", "utf-16le", "utf-16be", "shift_jis"]],
  ["invalid_label", async () => [await threw(() => new TextDecoder("nope")), await threw(() => new TextDecoder("replacement"))],
    [error("RangeError"), error("RangeError")]],
  ["utf16_and_legacy", () => [new TextDecoder("utf-16le").decode(new Uint8Array([0x41, 0, 0x3d, 0xd8, 0, 0xde])),
    new TextDecoder("windows-1252").decode(new Uint8Array([0x80, 0xe9])), new TextDecoder("utf-16be").decode(new Uint8Array([0, 0x42]))],
    ["A😀", "€é", "B"]],
  ["buffer_source_inputs", () => { const buf = new Uint8Array([0x61, 0x62, 0x63]).buffer;
    return [new TextDecoder().decode(buf), new TextDecoder().decode(new DataView(buf, 1)), new TextDecoder().decode()]; },
    ["abc", "bc", ""]],
  ["decode_non_buffer", async () => threw(() => new TextDecoder().decode("abc")), error("TypeError")],
  ["encoder_stream", async () => { const s = new ReadableStream({ start(c) { c.enqueue("a"); c.enqueue("\uD83D"); c.enqueue("\uDE00"); c.close(); } })
    .pipeThrough(new TextEncoderStream()); const chunks = await collect(s); return chunks.flatMap((c) => bytes(c)); },
    [97, 240, 159, 152, 128]],
  ["decoder_stream", async () => { const s = new ReadableStream({ start(c) { c.enqueue(new Uint8Array([0xe2, 0x82])); c.enqueue(new Uint8Array([0xac, 0x21])); c.close(); } })
    .pipeThrough(new TextDecoderStream()); return (await collect(s)).join(""); }, "€!"],
]);
