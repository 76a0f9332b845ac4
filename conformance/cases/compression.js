// Compression Streams: https://compression.spec.whatwg.org/ (known inputs
// made with Python's gzip/zlib, mtime 0).
import { suite, threw, error, bytes, collect } from "../harness.js";

const GZIP_HELLO = [31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 203, 72, 205, 201, 201, 7, 0, 134, 166, 16, 54, 5, 0, 0, 0];
const DEFLATE_HELLO = [120, 156, 203, 72, 205, 201, 201, 7, 0, 6, 44, 2, 21];
const RAW_HELLO = [203, 72, 205, 201, 201, 7, 0];

const through = async (input, ts) => {
  const chunks = await collect(new Blob([new Uint8Array(input)]).stream().pipeThrough(ts));
  return chunks.flatMap((c) => bytes(c));
};
const text = (b) => new TextDecoder().decode(new Uint8Array(b));
const long = "conformance ".repeat(500);

export default suite("compression", [
  ["gzip_round_trip", async () => { const z = await through(bytes(new TextEncoder().encode(long)), new CompressionStream("gzip"));
    return [z[0], z[1], z.length < 200, text(await through(z, new DecompressionStream("gzip"))) === long]; }, [31, 139, true, true]],
  ["deflate_round_trip", async () => { const z = await through([1, 2, 3], new CompressionStream("deflate"));
    return [z[0], await through(z, new DecompressionStream("deflate"))]; }, [120, [1, 2, 3]]],
  ["deflate_raw_round_trip", async () => through(await through([9, 9], new CompressionStream("deflate-raw")), new DecompressionStream("deflate-raw")), [9, 9]],
  ["decompress_known_gzip", async () => text(await through(GZIP_HELLO, new DecompressionStream("gzip"))), "hello"],
  ["decompress_known_deflate", async () => text(await through(DEFLATE_HELLO, new DecompressionStream("deflate"))), "hello"],
  ["decompress_known_raw", async () => text(await through(RAW_HELLO, new DecompressionStream("deflate-raw"))), "hello"],
  ["invalid_format", async () => [await threw(() => new CompressionStream("br")), await threw(() => new DecompressionStream("zip")),
    await threw(() => new CompressionStream())], [error("TypeError"), error("TypeError"), error("TypeError")]],
  ["corrupt_input", async () => threw(() => through([1, 2, 3, 4, 5], new DecompressionStream("gzip"))), error("TypeError")],
  ["truncated_input", async () => threw(() => through(GZIP_HELLO.slice(0, 12), new DecompressionStream("gzip"))), error("TypeError")],
  ["trailing_data", async () => threw(() => through([...GZIP_HELLO, 0], new DecompressionStream("gzip"))), error("TypeError")],
  ["empty_input", async () => (await through([], new CompressionStream("gzip"))).length > 0, true],
  ["rejects_non_buffer_chunks", async () => { const cs = new CompressionStream("gzip"); const w = cs.writable.getWriter();
    cs.readable.getReader().read().catch(() => {}); return threw(() => w.write("string")); }, error("TypeError")],
  ["has_readable_and_writable", () => { const cs = new CompressionStream("gzip");
    return [cs.readable instanceof ReadableStream, cs.writable instanceof WritableStream]; }, [true, true]],
]);
