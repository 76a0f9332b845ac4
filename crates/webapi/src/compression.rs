//! `CompressionStream` and `DecompressionStream` with the formats `"gzip"`,
//! `"deflate"` (zlib) and `"deflate-raw"`.
//!
//! Spec: <https://compression.spec.whatwg.org/>,
//! <https://developers.cloudflare.com/workers/runtime-apis/streams/compressionstream/>
//!
//! The streams themselves are `compression.js`: a `TransformStream` per
//! stream whose transformer hands each chunk to a native [`Codec`] (flate2
//! over miniz_oxide) and enqueues what comes out. Both the script and the
//! codec class are loaded on first use of either global (see
//! [`crate::lazy`]), so an isolate that never compresses pays nothing.
//!
//! Input is fed to flate2 in slices of [`SLICE`] bytes and output is moved
//! into JS `Uint8Array`s as soon as [`OUT_CHUNK`] bytes have built up, so a
//! highly compressed chunk (a "zip bomb") grows the JS heap, which the
//! isolate's memory limit bounds, rather than host memory.

use std::io::Write;

use flate2::write::{
    DeflateDecoder, DeflateEncoder, GzDecoder, GzEncoder, ZlibDecoder, ZlibEncoder,
};
use flate2::Compression;
use rquickjs::{class::Trace, Array, Class, Ctx, Function, JsLifetime, Result, Value};

use crate::error::{OrThrow, WebApiError};

/// Input is given to flate2 this many bytes at a time; deflate expands by at
/// most ~1032×, so one slice makes at most ~4 MB of host-side output.
const SLICE: usize = 4096;
/// Output is handed to JS in chunks of about this size.
const OUT_CHUNK: usize = 64 * 1024;

/// Installs `CompressionStream` and `DecompressionStream` as lazy globals.
/// Needs [`crate::streams`] first.
pub fn init<'js>(ctx: &Ctx<'js>) -> Result<()> {
    // Captures no JS values, so the collector loses nothing by not seeing into it.
    let load_factory = Function::new(ctx.clone(), |ctx: Ctx<'js>| -> Result<Function<'js>> {
        let outer = crate::glue::COMPRESSION.load(&ctx)?;
        let new_codec = Function::new(ctx.clone(), new_codec)?;
        outer.call((new_codec,))
    })?;
    crate::lazy::install(
        ctx,
        &["CompressionStream", "DecompressionStream"],
        load_factory,
        vec![
            crate::lazy::global_descriptor(ctx, "TransformStream")?,
            crate::lazy::global_descriptor(ctx, "TransformStreamDefaultController")?,
        ],
    )
}

/// Makes the codec for a validated format name.
fn new_codec<'js>(ctx: Ctx<'js>, format: String, decompress: bool) -> Result<Class<'js, Codec>> {
    let state = CodecState::new(&format, decompress)
        .ok_or_else(|| {
            WebApiError::type_error(format!("Unsupported compression format '{format}'."))
        })
        .or_throw(&ctx)?;
    Class::instance(
        ctx,
        Codec {
            state: Some(state),
            decompress,
        },
    )
}

/// One flate2 writer per format and direction, each writing into a `Vec`
/// that [`Codec`] drains.
enum CodecState {
    GzipEncode(GzEncoder<Vec<u8>>),
    DeflateEncode(ZlibEncoder<Vec<u8>>),
    RawEncode(DeflateEncoder<Vec<u8>>),
    GzipDecode(GzDecoder<Vec<u8>>),
    DeflateDecode(ZlibDecoder<Vec<u8>>),
    RawDecode(DeflateDecoder<Vec<u8>>),
}

impl CodecState {
    fn new(format: &str, decompress: bool) -> Option<Self> {
        let level = Compression::default();
        Some(match (format, decompress) {
            ("gzip", false) => Self::GzipEncode(GzEncoder::new(Vec::new(), level)),
            ("deflate", false) => Self::DeflateEncode(ZlibEncoder::new(Vec::new(), level)),
            ("deflate-raw", false) => Self::RawEncode(DeflateEncoder::new(Vec::new(), level)),
            ("gzip", true) => Self::GzipDecode(GzDecoder::new(Vec::new())),
            ("deflate", true) => Self::DeflateDecode(ZlibDecoder::new(Vec::new())),
            ("deflate-raw", true) => Self::RawDecode(DeflateDecoder::new(Vec::new())),
            _ => return None,
        })
    }

    fn write_all(&mut self, input: &[u8]) -> std::io::Result<()> {
        match self {
            Self::GzipEncode(w) => w.write_all(input),
            Self::DeflateEncode(w) => w.write_all(input),
            Self::RawEncode(w) => w.write_all(input),
            Self::GzipDecode(w) => w.write_all(input),
            Self::DeflateDecode(w) => w.write_all(input),
            Self::RawDecode(w) => w.write_all(input),
        }
    }

    /// Writes the trailer (compression) or checks the input ended where the
    /// format says it does (decompression: `UnexpectedEof` if truncated).
    fn try_finish(&mut self) -> std::io::Result<()> {
        match self {
            Self::GzipEncode(w) => w.try_finish(),
            Self::DeflateEncode(w) => w.try_finish(),
            Self::RawEncode(w) => w.try_finish(),
            Self::GzipDecode(w) => w.try_finish(),
            Self::DeflateDecode(w) => w.try_finish(),
            Self::RawDecode(w) => w.try_finish(),
        }
    }

    fn output(&mut self) -> &mut Vec<u8> {
        match self {
            Self::GzipEncode(w) => w.get_mut(),
            Self::DeflateEncode(w) => w.get_mut(),
            Self::RawEncode(w) => w.get_mut(),
            Self::GzipDecode(w) => w.get_mut(),
            Self::DeflateDecode(w) => w.get_mut(),
            Self::RawDecode(w) => w.get_mut(),
        }
    }
}

/// The native half of one compression or decompression stream. Not a
/// global: only `compression.js` holds codecs.
#[derive(Trace, JsLifetime)]
#[rquickjs::class]
pub struct Codec {
    /// `None` once finished or failed.
    #[qjs(skip_trace)]
    state: Option<CodecState>,
    decompress: bool,
}

#[rquickjs::methods]
impl Codec {
    /// Feeds one chunk; returns the output ready so far as an array of
    /// `Uint8Array`s, or `undefined` when there is none yet.
    pub fn push<'js>(&mut self, ctx: Ctx<'js>, chunk: Value<'js>) -> Result<Value<'js>> {
        let what = self.what();
        let view = crate::webidl::buffer_source(&ctx, &chunk)?
            .ok_or_else(|| {
                WebApiError::type_error(format!(
                    "The chunk written to a {what} must be an ArrayBuffer or ArrayBufferView."
                ))
            })
            .or_throw(&ctx)?;
        // Copied out so no JS memory is borrowed across the allocations below.
        let input = view.to_vec();
        let mut out = Vec::new();
        for slice in input.chunks(SLICE) {
            let result = self.state_mut(&ctx)?.write_all(slice);
            if let Err(e) = result {
                return Err(self.fail(&ctx, &e));
            }
            self.move_output(&ctx, &mut out, OUT_CHUNK)?;
        }
        self.move_output(&ctx, &mut out, 1)?;
        finish_output(&ctx, out)
    }

    /// Ends the input; returns the remaining output like [`Codec::push`].
    pub fn finish<'js>(&mut self, ctx: Ctx<'js>) -> Result<Value<'js>> {
        let result = self.state_mut(&ctx)?.try_finish();
        if let Err(e) = result {
            return Err(self.fail(&ctx, &e));
        }
        let mut out = Vec::new();
        self.move_output(&ctx, &mut out, 1)?;
        self.state = None;
        finish_output(&ctx, out)
    }
}

impl Codec {
    fn what(&self) -> &'static str {
        if self.decompress {
            "DecompressionStream"
        } else {
            "CompressionStream"
        }
    }

    fn state_mut(&mut self, ctx: &Ctx<'_>) -> Result<&mut CodecState> {
        let what = self.what();
        self.state
            .as_mut()
            .ok_or_else(|| WebApiError::type_error(format!("This {what} has already finished.")))
            .or_throw(ctx)
    }

    /// Drops the codec and throws the spec's `TypeError` for `e`.
    fn fail(&mut self, ctx: &Ctx<'_>, e: &std::io::Error) -> rquickjs::Error {
        self.state = None;
        let msg = if !self.decompress {
            format!("Compression failed: {e}.")
        } else if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "Decompression failed: the compressed input ended before the end of its stream.".into()
        } else if e.kind() == std::io::ErrorKind::WriteZero {
            "Decompression failed: there is data after the end of the compressed stream.".into()
        } else {
            format!("Decompression failed: {e}.")
        };
        WebApiError::type_error(msg).throw(ctx)
    }

    /// Moves the codec's pending output into a new `Uint8Array` pushed onto
    /// `out` once at least `min` bytes are pending.
    fn move_output<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        out: &mut Vec<Value<'js>>,
        min: usize,
    ) -> Result<()> {
        let Some(state) = self.state.as_mut() else {
            return Ok(());
        };
        let pending = state.output();
        if !pending.is_empty() && pending.len() >= min {
            out.push(crate::buffer::new_uint8_array(ctx, pending)?);
            pending.clear();
        }
        Ok(())
    }
}

/// `undefined` for no output, else the array of chunks.
fn finish_output<'js>(ctx: &Ctx<'js>, out: Vec<Value<'js>>) -> Result<Value<'js>> {
    if out.is_empty() {
        return Ok(Value::new_undefined(ctx.clone()));
    }
    let arr = Array::new(ctx.clone())?;
    for (i, v) in out.into_iter().enumerate() {
        arr.set(i, v)?;
    }
    Ok(arr.into_value())
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    /// Runs `src` (the body of an async function) with helpers: `collect(rs)`
    /// concatenates a byte stream, `pipe(bytes, ts)` runs bytes through a
    /// transform in the given chunks. A body still pending after 5 s gives
    /// `TIMEOUT` rather than hanging.
    #[track_caller]
    fn check(src: &str, expected: &str) {
        let wrapped = format!(
            "const collect = async (rs) => {{
               const parts = []; let n = 0;
               for await (const c of rs) {{ parts.push(c); n += c.byteLength; }}
               const out = new Uint8Array(n); let o = 0;
               for (const p of parts) {{ out.set(p, o); o += p.byteLength; }}
               return out;
             }};
             const pipe = (chunks, ts) => collect(ReadableStream.from(chunks).pipeThrough(ts));
             const enc = (s) => new TextEncoder().encode(s);
             const dec = (b) => new TextDecoder().decode(b);
             const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
             let timer;
             const timeout = new Promise((r) => {{ timer = setTimeout(() => r('TIMEOUT'), 5000); }});
             try {{ return await Promise.race([(async () => {{ {src}\n}})(), timeout]); }}
             finally {{ clearTimeout(timer); }}"
        );
        assert_eq!(run_js(&wrapped), expected, "{src}");
    }

    #[test]
    fn round_trips_every_format() {
        check(
            "const text = 'hello hello hello hello, compression! '.repeat(50);
             const out = [];
             for (const f of ['gzip', 'deflate', 'deflate-raw']) {
               const z = await pipe([enc(text.slice(0, 100)), enc(text.slice(100))], new CompressionStream(f));
               const back = dec(await pipe([z], new DecompressionStream(f)));
               out.push(f + ':' + (z.length < text.length) + ':' + (back === text));
             }
             return out.join(' ');",
            "gzip:true:true deflate:true:true deflate-raw:true:true",
        );
    }

    #[test]
    fn format_headers_are_the_right_ones() {
        // gzip magic 1f8b08, zlib header 78 9c (default level); raw deflate has none.
        check(
            "const g = await pipe([enc('x')], new CompressionStream('gzip'));
             const d = await pipe([enc('x')], new CompressionStream('deflate'));
             return [hex(g.slice(0, 3)), hex(d.slice(0, 2))].join();",
            "1f8b08,789c",
        );
    }

    #[test]
    fn decompresses_known_bytes_split_anywhere() {
        // `printf 'hello' | gzip -n`, fed one byte per chunk.
        check(
            "const gz = [0x1f,0x8b,0x08,0x00,0x00,0x00,0x00,0x00,0x00,0x03,0xcb,0x48,0xcd,0xc9,0xc9,0x07,
                         0x00,0x86,0xa6,0x10,0x36,0x05,0x00,0x00,0x00];
             const chunks = gz.map((b) => new Uint8Array([b]));
             const a = dec(await pipe(chunks, new DecompressionStream('gzip')));
             const b = dec(await pipe([new Uint8Array(gz).buffer], new DecompressionStream('gzip')));
             const c = dec(await pipe([new DataView(new Uint8Array(gz).buffer)], new DecompressionStream('gzip')));
             return [a, b, c].join();",
            "hello,hello,hello",
        );
    }

    #[test]
    fn unknown_format_is_a_type_error() {
        check(
            "const out = [];
             for (const f of ['br', undefined, 'GZIP', Symbol('gzip')]) {
               for (const C of [CompressionStream, DecompressionStream]) {
                 try { new C(f); out.push('ok'); } catch (e) { out.push(e.name); }
               }
             }
             try { CompressionStream('gzip'); } catch (e) { out.push(e.name); }
             return out.join();",
            "TypeError,TypeError,TypeError,TypeError,TypeError,TypeError,TypeError,TypeError,TypeError",
        );
    }

    #[test]
    fn non_buffer_chunk_errors_the_stream() {
        check(
            "const cs = new CompressionStream('gzip');
             const w = cs.writable.getWriter();
             const r = cs.readable.getReader();
             const wrote = w.write('text').then(() => 'ok', (e) => e.name + ': ' + e.message);
             const read = r.read().then(() => 'ok', (e) => e.name);
             return [await wrote, await read].join(' | ');",
            "TypeError: The chunk written to a CompressionStream must be an ArrayBuffer or ArrayBufferView. | TypeError",
        );
    }

    #[test]
    fn corrupt_truncated_and_trailing_input_error_the_readable_side() {
        check(
            "const z = await pipe([enc('some text to squeeze')], new CompressionStream('deflate'));
             const bad = (p) => p.then(() => 'ok', (e) => e.name + ': ' + e.message);
             const corrupt = await bad(pipe([enc('definitely not zlib')], new DecompressionStream('deflate')));
             const truncated = await bad(pipe([z.slice(0, z.length - 3)], new DecompressionStream('deflate')));
             const trailing = await bad(pipe([z, new Uint8Array([1, 2])], new DecompressionStream('deflate')));
             const empty = await bad(pipe([], new DecompressionStream('gzip')));
             const gz = await pipe([enc('abc')], new CompressionStream('gzip'));
             gz[gz.length - 5] ^= 1; // the CRC
             const crc = await bad(pipe([gz], new DecompressionStream('gzip')));
             return [corrupt, truncated, trailing, empty, crc].map((s) => s.split(':')[0] + ':' + (s.includes('Decompression failed'))).join();",
            "TypeError:true,TypeError:true,TypeError:true,TypeError:true,TypeError:true",
        );
    }

    #[test]
    fn large_output_comes_in_bounded_chunks() {
        check(
            "const z = await pipe([new Uint8Array(1 << 20)], new CompressionStream('deflate-raw'));
             const rs = ReadableStream.from([z]).pipeThrough(new DecompressionStream('deflate-raw'));
             let n = 0, max = 0, count = 0;
             for await (const c of rs) { n += c.byteLength; max = Math.max(max, c.byteLength); count++; }
             return [z.length < 2000, n, max <= 65536 + 4096 * 1100, count > 1].join();",
            "true,1048576,true,true",
        );
    }

    #[test]
    fn interfaces_are_lazy_and_webidl_shaped() {
        check(
            "const before = typeof Object.getOwnPropertyDescriptor(globalThis, 'CompressionStream').get;
             globalThis.TransformStream = function () { throw new Error('patched'); };
             const cs = new CompressionStream('gzip');
             const d = Object.getOwnPropertyDescriptor(globalThis, 'DecompressionStream');
             const tag = Object.prototype.toString.call(cs);
             const keys = Object.keys(CompressionStream.prototype).join('+');
             let bad;
             try { Object.getOwnPropertyDescriptor(CompressionStream.prototype, 'readable').get.call({}); }
             catch (e) { bad = e.name; }
             return [before, typeof d.value, d.enumerable, tag, keys, bad,
                     cs.readable instanceof ReadableStream].join();",
            "function,function,false,[object CompressionStream],readable+writable,TypeError,true",
        );
    }
}
