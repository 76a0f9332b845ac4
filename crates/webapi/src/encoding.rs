//! Text encoding: `TextEncoder`, `TextDecoder` (every WHATWG encoding, via
//! `encoding_rs`), and the base64 helpers `atob` / `btoa`.
//!
//! Spec: <https://encoding.spec.whatwg.org/#api> and
//! <https://html.spec.whatwg.org/multipage/webappapis.html#atob>
//!
//! QuickJS-ng ships native `atob`/`btoa`; they are replaced here so the
//! forgiving-base64 rules and error messages are the ones this crate tests.

use base64::Engine as _;
use encoding_rs::{CoderResult, Decoder, DecoderResult, Encoding};
use rquickjs::{
    atom::PredefinedAtom,
    class::Trace,
    function::{Opt, This},
    Ctx, Function, JsLifetime, Object, Result, TypedArray, Value,
};

use crate::error::{OrThrow, WebApiError};
use crate::webidl::{
    array_buffer_view, buffer_source, check_dict, dict_member, string_lossy, to_bool,
    to_usv_string, ViewKind,
};

/// The JS `TextEncoder` class (always UTF-8).
///
/// Spec: <https://encoding.spec.whatwg.org/#interface-textencoder>
#[derive(Trace, JsLifetime, Default)]
#[rquickjs::class]
pub struct TextEncoder {}

#[rquickjs::methods(rename_all = "camelCase")]
impl TextEncoder {
    #[qjs(constructor)]
    pub fn new<'js>(ctx: Ctx<'js>, new_target: This<Value<'js>>) -> Result<Self> {
        crate::webidl::require_new(&ctx, &new_target.0, "TextEncoder")?;
        Ok(Self {})
    }

    #[qjs(get, rename = "encoding")]
    pub fn get_encoding(&self) -> &'static str {
        "utf-8"
    }

    /// Spec: <https://encoding.spec.whatwg.org/#dom-textencoder-encode>
    pub fn encode<'js>(
        &self,
        ctx: Ctx<'js>,
        input: Opt<Value<'js>>,
    ) -> Result<TypedArray<'js, u8>> {
        let text = match input.0 {
            Some(v) if !v.is_undefined() => to_usv_string(&ctx, v)?,
            _ => String::new(),
        };
        TypedArray::new(ctx, text.into_bytes())
    }

    /// Writes as many whole code points of `source` as fit into `destination`.
    ///
    /// Spec: <https://encoding.spec.whatwg.org/#dom-textencoder-encodeinto>
    pub fn encode_into<'js>(
        &self,
        ctx: Ctx<'js>,
        source: Value<'js>,
        destination: Value<'js>,
    ) -> Result<Object<'js>> {
        let source = to_usv_string(&ctx, source)?;
        let view = match array_buffer_view(&ctx, &destination)? {
            Some(v) if v.kind == Some(ViewKind::Uint8) => v,
            _ => {
                return Err(WebApiError::type_error(
                    "Failed to execute 'encodeInto' on 'TextEncoder': parameter 2 is not of type 'Uint8Array'.",
                ))
                .or_throw(&ctx)
            }
        };
        let counts = view.with_bytes_mut(|dst| {
            let mut read = 0usize;
            let mut written = 0usize;
            for ch in source.chars() {
                let n = ch.len_utf8();
                if written + n > dst.len() {
                    break;
                }
                ch.encode_utf8(&mut dst[written..written + n]);
                written += n;
                read += ch.len_utf16();
            }
            (read, written)
        });
        let Some((read, written)) = counts else {
            return Err(WebApiError::type_error(
                "Cannot write into an immutable ArrayBuffer.",
            ))
            .or_throw(&ctx);
        };
        let out = Object::new(ctx)?;
        out.set("read", read)?;
        out.set("written", written)?;
        Ok(out)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "TextEncoder"
    }
}

/// The JS `TextDecoder` class.
///
/// Spec: <https://encoding.spec.whatwg.org/#interface-textdecoder>
#[derive(Trace, JsLifetime)]
#[rquickjs::class]
pub struct TextDecoder {
    #[qjs(skip_trace)]
    encoding: &'static Encoding,
    fatal: bool,
    ignore_bom: bool,
    /// The decoder kept between `decode(..., { stream: true })` calls (the
    /// spec's "do not flush" state); `None` means the next call starts fresh.
    #[qjs(skip_trace)]
    decoder: Option<Decoder>,
}

impl TextDecoder {
    fn fresh_decoder(&self) -> Decoder {
        if self.ignore_bom {
            self.encoding.new_decoder_without_bom_handling()
        } else {
            // Strips only this encoding's own BOM; a BOM never switches encodings.
            self.encoding.new_decoder_with_bom_removal()
        }
    }
}

/// Runs `decoder` over `src`; `None` on malformed input when `fatal`.
fn run_decoder(decoder: &mut Decoder, mut src: &[u8], last: bool, fatal: bool) -> Option<String> {
    let mut out = String::new();
    loop {
        if fatal {
            let need = decoder
                .max_utf8_buffer_length_without_replacement(src.len())
                .unwrap_or(src.len().saturating_mul(3).saturating_add(16));
            out.reserve(need);
            let (result, read) = decoder.decode_to_string_without_replacement(src, &mut out, last);
            src = &src[read..];
            match result {
                DecoderResult::InputEmpty => return Some(out),
                DecoderResult::Malformed(..) => return None,
                DecoderResult::OutputFull => continue,
            }
        } else {
            let need = decoder
                .max_utf8_buffer_length(src.len())
                .unwrap_or(src.len().saturating_mul(3).saturating_add(16));
            out.reserve(need);
            let (result, read, _) = decoder.decode_to_string(src, &mut out, last);
            src = &src[read..];
            match result {
                CoderResult::InputEmpty => return Some(out),
                CoderResult::OutputFull => continue,
            }
        }
    }
}

#[rquickjs::methods(rename_all = "camelCase")]
impl TextDecoder {
    /// `new TextDecoder(label = "utf-8", { fatal, ignoreBOM })`
    #[qjs(constructor)]
    pub fn new<'js>(
        ctx: Ctx<'js>,
        new_target: This<Value<'js>>,
        label: Opt<Value<'js>>,
        options: Opt<Value<'js>>,
    ) -> Result<Self> {
        crate::webidl::require_new(&ctx, &new_target.0, "TextDecoder")?;
        let label = match label.0 {
            Some(v) if !v.is_undefined() => to_usv_string(&ctx, v)?,
            _ => "utf-8".to_owned(),
        };
        let options = options
            .0
            .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
        check_dict(&ctx, &options, "TextDecoderOptions")?;
        let fatal = match dict_member(&options, "fatal")? {
            Some(v) => to_bool(&ctx, v)?,
            None => false,
        };
        let ignore_bom = match dict_member(&options, "ignoreBOM")? {
            Some(v) => to_bool(&ctx, v)?,
            None => false,
        };
        let encoding = match Encoding::for_label(label.as_bytes()) {
            Some(e) if e != encoding_rs::REPLACEMENT => e,
            _ => {
                return Err(WebApiError::range_error(format!(
                    "The \"{label}\" encoding is not supported."
                )))
                .or_throw(&ctx)
            }
        };
        Ok(Self {
            encoding,
            fatal,
            ignore_bom,
            decoder: None,
        })
    }

    /// The canonical (lowercase) encoding name, e.g. `"utf-8"`, `"windows-1252"`.
    #[qjs(get, rename = "encoding")]
    pub fn get_encoding(&self) -> String {
        self.encoding.name().to_ascii_lowercase()
    }

    #[qjs(get, rename = "fatal")]
    pub fn get_fatal(&self) -> bool {
        self.fatal
    }

    #[qjs(get, rename = "ignoreBOM")]
    pub fn get_ignore_bom(&self) -> bool {
        self.ignore_bom
    }

    /// Spec: <https://encoding.spec.whatwg.org/#dom-textdecoder-decode>
    pub fn decode<'js>(
        &mut self,
        ctx: Ctx<'js>,
        input: Opt<Value<'js>>,
        options: Opt<Value<'js>>,
    ) -> Result<String> {
        let view = match input.0 {
            Some(v) if !v.is_undefined() => match buffer_source(&ctx, &v)? {
                Some(view) => Some(view),
                None => {
                    return Err(WebApiError::type_error(
                        "Failed to execute 'decode' on 'TextDecoder': parameter 1 is not of type 'ArrayBuffer' or 'ArrayBufferView'.",
                    ))
                    .or_throw(&ctx)
                }
            },
            _ => None,
        };
        let options = options
            .0
            .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
        check_dict(&ctx, &options, "TextDecodeOptions")?;
        let stream = match dict_member(&options, "stream")? {
            Some(v) => to_bool(&ctx, v)?,
            None => false,
        };
        let mut decoder = self.decoder.take().unwrap_or_else(|| self.fresh_decoder());
        let fatal = self.fatal;
        let out = match &view {
            Some(view) => view.with_bytes(|bytes| run_decoder(&mut decoder, bytes, !stream, fatal)),
            None => run_decoder(&mut decoder, &[], !stream, fatal),
        };
        let Some(out) = out else {
            return Err(WebApiError::type_error(format!(
                "The encoded data was not valid for encoding {}",
                self.get_encoding()
            )))
            .or_throw(&ctx);
        };
        if stream {
            self.decoder = Some(decoder);
        }
        Ok(out)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "TextDecoder"
    }
}

/// Decodes base64 the forgiving way: ASCII whitespace is ignored, padding is
/// optional, non-zero trailing bits are dropped.
///
/// Spec: <https://infra.spec.whatwg.org/#forgiving-base64-decode>
pub fn forgiving_base64_decode(input: &str) -> Option<Vec<u8>> {
    let mut data: Vec<u8> = input
        .bytes()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\x0C' | b'\r' | b' '))
        .collect();
    let rem = data.len() % 4;
    if rem == 0 {
        if data.ends_with(b"==") {
            data.truncate(data.len() - 2);
        } else if data.ends_with(b"=") {
            data.truncate(data.len() - 1);
        }
    }
    if data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for b in data {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `atob(data)`: base64 to a "binary string" (one code unit per byte).
///
/// Spec: <https://html.spec.whatwg.org/multipage/webappapis.html#dom-atob>
pub fn atob<'js>(ctx: Ctx<'js>, data: Value<'js>) -> Result<String> {
    let data = crate::webidl::js_to_string(&ctx, data)?;
    let data = string_lossy(&ctx, &data)?;
    match forgiving_base64_decode(&data) {
        Some(bytes) => Ok(bytes.into_iter().map(char::from).collect()),
        None => Err(WebApiError::dom(
            "InvalidCharacterError",
            "The string to be decoded is not correctly encoded.",
        ))
        .or_throw(&ctx),
    }
}

/// `btoa(data)`: a "binary string" (code units up to U+00FF) to base64.
///
/// Spec: <https://html.spec.whatwg.org/multipage/webappapis.html#dom-btoa>
pub fn btoa<'js>(ctx: Ctx<'js>, data: Value<'js>) -> Result<String> {
    let data = crate::webidl::js_to_string(&ctx, data)?;
    // An unpaired surrogate becomes U+FFFD, which is rejected like any other
    // code unit above U+00FF.
    let data = string_lossy(&ctx, &data)?;
    let mut bytes = Vec::with_capacity(data.len());
    for c in data.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => bytes.push(b),
            Err(_) => {
                return Err(WebApiError::dom(
                    "InvalidCharacterError",
                    "The string to be encoded contains characters outside of the Latin1 range.",
                ))
                .or_throw(&ctx)
            }
        }
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// Installs `TextEncoder`, `TextDecoder`, `atob` and `btoa`.
pub fn init<'js>(ctx: &Ctx<'js>) -> Result<()> {
    crate::webidl::define_interface::<TextEncoder>(ctx)?;
    crate::webidl::define_interface::<TextDecoder>(ctx)?;
    let f = Function::new(ctx.clone(), |ctx: Ctx<'js>, data: Value<'js>| {
        atob(ctx, data)
    })?
    .with_length(1)?;
    crate::webidl::define_global_fn(ctx, "atob", f)?;
    let f = Function::new(ctx.clone(), |ctx: Ctx<'js>, data: Value<'js>| {
        btoa(ctx, data)
    })?
    .with_length(1)?;
    crate::webidl::define_global_fn(ctx, "btoa", f)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::forgiving_base64_decode;
    use crate::testing::run_js;

    #[test]
    fn text_encoder() {
        assert_eq!(
            run_js(
                "const e = new TextEncoder();
                 return [e.encoding, e.encode('h\\u00e9\\u{1F600}').join(' '), e.encode().length,
                         e.encode('\\ud800x').join(' '), e.encode('a') instanceof Uint8Array].join();"
            ),
            "utf-8,104 195 169 240 159 152 128,0,239 191 189 120,true"
        );
    }

    #[test]
    fn text_encoder_encode_into() {
        assert_eq!(
            run_js(
                "const e = new TextEncoder();
                 const buf = new Uint8Array(5);
                 const r1 = e.encodeInto('a\\u00e9\\u{1F600}', buf);
                 const big = new Uint8Array(10);
                 const r2 = e.encodeInto('a\\u{1F600}', big.subarray(2));
                 let err; try { e.encodeInto('x', new Uint16Array(4)); } catch (x) { err = x.constructor.name; }
                 return [r1.read, r1.written, buf.join(' '), r2.read, r2.written, big.join(' '), err].join();"
            ),
            "2,3,97 195 169 0 0,3,5,0 0 97 240 159 152 128 0 0 0,TypeError"
        );
    }

    #[test]
    fn text_decoder_basics() {
        assert_eq!(
            run_js(
                "const d = new TextDecoder();
                 const bytes = new Uint8Array([0xEF, 0xBB, 0xBF, 0x68, 0xC3, 0xA9]);
                 return [d.encoding, d.fatal, d.ignoreBOM, d.decode(bytes), d.decode(bytes.buffer),
                         d.decode(new DataView(bytes.buffer, 3)), d.decode(new Uint16Array([0x6968])),
                         d.decode(), new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes).length,
                         d.decode(new Uint8Array([0x61, 0xFF, 0x62]))].join('|');"
            ),
            "utf-8|false|false|h\u{e9}|h\u{e9}|h\u{e9}|hi||3|a\u{FFFD}b"
        );
    }

    #[test]
    fn text_decoder_labels() {
        assert_eq!(
            run_js(
                "return [new TextDecoder(' Latin1 ').encoding, new TextDecoder('utf-16').encoding,
                         new TextDecoder('shift_jis').encoding, new TextDecoder('UTF8').encoding,
                         new TextDecoder('windows-1252').decode(new Uint8Array([0x80, 0x41])),
                         new TextDecoder('utf-16le').decode(new Uint8Array([0xFF, 0xFE, 0x41, 0x00])),
                         new TextDecoder('utf-16be').decode(new Uint8Array([0x00, 0x42]))].join();"
            ),
            "windows-1252,utf-16le,shift_jis,utf-8,\u{20AC}A,A,B"
        );
        for label in ["nope", "replacement", "iso-2022-kr"] {
            let out = run_js(&format!("new TextDecoder('{label}')"));
            assert!(out.starts_with("THROWN RangeError"), "{label}: {out}");
        }
    }

    #[test]
    fn text_decoder_fatal_and_stream() {
        assert_eq!(
            run_js(
                "const f = new TextDecoder('utf-8', { fatal: true });
                 let err; try { f.decode(new Uint8Array([0xC3])); } catch (e) { err = e.constructor.name; }
                 const s = new TextDecoder();
                 const euro = [0xE2, 0x82, 0xAC];
                 const a = s.decode(new Uint8Array(euro.slice(0, 1)), { stream: true });
                 const b = s.decode(new Uint8Array(euro.slice(1)), { stream: true });
                 const c = s.decode(new Uint8Array([0xE2]), { stream: true });
                 const d = s.decode();
                 const again = s.decode(new Uint8Array([0x41]));
                 let ferr; try { f.decode(new Uint8Array([0xE2]), { stream: true }); f.decode(); } catch (e) { ferr = e.constructor.name; }
                 let typeErr; try { s.decode('str'); } catch (e) { typeErr = e.constructor.name; }
                 return [err, a.length, b, c.length, d, again, ferr, typeErr].join();"
            ),
            "TypeError,0,\u{20AC},0,\u{FFFD},A,TypeError,TypeError"
        );
    }

    #[test]
    fn base64_forgiving() {
        assert_eq!(forgiving_base64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(forgiving_base64_decode(" aG k\n").unwrap(), b"hi");
        assert_eq!(forgiving_base64_decode("aGl").unwrap(), b"hi");
        assert_eq!(forgiving_base64_decode("YR==").unwrap(), b"a");
        assert_eq!(forgiving_base64_decode("").unwrap(), b"");
        assert!(forgiving_base64_decode("a").is_none());
        assert!(forgiving_base64_decode("aGk==").is_none());
        assert!(forgiving_base64_decode("aG=k").is_none());
        assert!(forgiving_base64_decode("aGk*").is_none());
        assert!(forgiving_base64_decode("ab=").is_none());
    }

    #[test]
    fn atob_btoa() {
        assert_eq!(
            run_js(
                "const bin = atob(' AP8= ');
                 return [btoa('hello'), atob('aGVsbG8'), bin.length, bin.charCodeAt(1), btoa('\\u00ff\\u0000'),
                         btoa(''), atob(''), btoa(123), atob(btoa('\\u00e9'))].join();"
            ),
            "aGVsbG8=,hello,2,255,/wA=,,,MTIz,\u{e9}"
        );
        for src in [
            "atob('a')",
            "atob('@@@@')",
            "btoa('\\u0100')",
            "btoa('\\ud800')",
        ] {
            let out = run_js(&format!(
                "try {{ {src}; return 'no error'; }} catch (e) {{ return e.name + ':' + (e instanceof DOMException); }}"
            ));
            assert_eq!(out, "InvalidCharacterError:true", "{src}");
        }
        assert!(run_js("atob()").starts_with("THROWN TypeError"));
    }

    #[test]
    fn constructors_require_new() {
        for src in ["TextEncoder()", "TextDecoder()"] {
            assert!(run_js(src).starts_with("THROWN TypeError"), "{src}");
        }
    }
}
