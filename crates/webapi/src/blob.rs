//! `Blob` and `File`: immutable byte sequences with a MIME type (and, for a
//! `File`, a name and a modification time), plus the MIME type parsing the
//! body mixin needs for `blob()` and `formData()`.
//!
//! Spec: <https://w3c.github.io/FileAPI/> and
//! <https://mimesniff.spec.whatwg.org/#parsing-a-mime-type>
//!
//! The bytes are a [`Bytes`], so `slice()`, `new Blob([blob])`, a `File`
//! made from a `Blob` and a body made from either share one allocation.
//!
//! Both are native classes. `File.prototype` chains to `Blob.prototype`, and
//! the `Blob` members take `this` as a value and accept either class (see
//! [`blob_data`]), so they work on `File` objects and on instances of JS
//! subclasses of either.

use std::{cell::RefCell, rc::Rc};

use bytes::{Bytes, BytesMut};
use rquickjs::{
    atom::PredefinedAtom,
    class::Trace,
    function::{Opt, This},
    ArrayBuffer, Class, Coerced, Ctx, FromJs, Function, JsLifetime, Object, Promise, Result, Value,
};

use crate::error::{OrThrow, WebApiError};
use crate::webidl::{buffer_source, check_dict, dict_member, js_to_string, to_usv_string};

/// Size of the chunks `stream()` hands out.
const STREAM_CHUNK: usize = 64 * 1024;

/// The contents of a `Blob` or `File`: its bytes and its `type`.
#[derive(Debug, Clone, Default)]
pub struct BlobData {
    /// The bytes (shared with slices and copies).
    pub bytes: Bytes,
    /// The `type` attribute: lower-case printable ASCII, or empty.
    pub kind: String,
}

/// The JS `Blob` class.
///
/// Spec: <https://w3c.github.io/FileAPI/#blob-section>
#[derive(Debug, Clone, Default, JsLifetime)]
#[rquickjs::class]
pub struct Blob {
    data: BlobData,
}

impl<'js> Trace<'js> for Blob {
    fn trace<'a>(&self, _tracer: rquickjs::class::Tracer<'a, 'js>) {}
}

impl Blob {
    /// A blob of `bytes` with type `kind` (taken as given: callers pass an
    /// already normalized or serialized MIME type).
    pub fn from_data(data: BlobData) -> Self {
        Self { data }
    }

    /// The blob's contents.
    pub fn data(&self) -> &BlobData {
        &self.data
    }
}

/// The JS `File` class.
///
/// Spec: <https://w3c.github.io/FileAPI/#file-section>
#[derive(Debug, Clone, Default, JsLifetime)]
#[rquickjs::class]
pub struct File {
    data: BlobData,
    name: String,
    last_modified: i64,
}

impl<'js> Trace<'js> for File {
    fn trace<'a>(&self, _tracer: rquickjs::class::Tracer<'a, 'js>) {}
}

impl File {
    /// A file with the given contents, name and modification time (ms since
    /// the Unix epoch).
    pub fn new_file(data: BlobData, name: String, last_modified: i64) -> Self {
        Self {
            data,
            name,
            last_modified,
        }
    }

    /// The file's contents.
    pub fn data(&self) -> &BlobData {
        &self.data
    }

    /// The `name` attribute.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `lastModified` attribute.
    pub fn last_modified(&self) -> i64 {
        self.last_modified
    }
}

/// The contents of `value` if it is a `Blob` or a `File` (or an instance of
/// a JS subclass of either), `None` otherwise. Cheap: the bytes are shared.
pub fn blob_data<'js>(value: &Value<'js>) -> Option<BlobData> {
    let obj = value.as_object()?;
    if let Some(b) = obj.as_class::<Blob>() {
        return Some(b.borrow().data.clone());
    }
    obj.as_class::<File>().map(|f| f.borrow().data.clone())
}

/// Makes a `Blob` object.
pub fn new_blob<'js>(ctx: &Ctx<'js>, data: BlobData) -> Result<Class<'js, Blob>> {
    Class::instance(ctx.clone(), Blob::from_data(data))
}

/// The current time in milliseconds since the Unix epoch (`Date.now()`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Normalizes a `type` given to the constructor or `slice()`: empty if any
/// character is outside U+0020..=U+007E, else ASCII-lower-cased.
///
/// Spec: <https://w3c.github.io/FileAPI/#dom-blob-blob> (step 3 of the constructor)
pub fn normalize_type(t: &str) -> String {
    if t.chars().all(|c| (' '..='~').contains(&c)) {
        t.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// One converted `BlobPart`. Strings stay strings until the `endings`
/// option (read after the parts, in WebIDL argument order) is known.
enum Part {
    Text(String),
    Bytes(Bytes),
}

/// Converts the `blobParts` argument: a sequence of `Blob`, `BufferSource`
/// or `USVString`.
fn convert_parts<'js>(ctx: &Ctx<'js>, parts: Value<'js>, what: &str) -> Result<Vec<Part>> {
    let items = crate::webidl::to_sequence(
        ctx,
        &parts,
        &format!("Failed to construct '{what}': The provided value"),
    )?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if let Some(data) = blob_data(&item) {
            out.push(Part::Bytes(data.bytes));
        } else if let Some(view) = buffer_source(ctx, &item)? {
            out.push(Part::Bytes(Bytes::from(view.to_vec())));
        } else {
            out.push(Part::Text(to_usv_string(ctx, item)?));
        }
    }
    Ok(out)
}

/// Converts line endings to the native ones (`\n`), as `endings: "native"` does.
///
/// Spec: <https://w3c.github.io/FileAPI/#convert-line-endings-to-native>
fn native_line_endings(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// Joins converted parts into one byte sequence.
///
/// Spec: <https://w3c.github.io/FileAPI/#process-blob-parts>
fn process_parts(parts: Vec<Part>, native: bool) -> Bytes {
    let text = |s: String| {
        if native {
            Bytes::from(native_line_endings(&s))
        } else {
            Bytes::from(s)
        }
    };
    let mut chunks: Vec<Bytes> = parts
        .into_iter()
        .map(|p| match p {
            Part::Text(s) => text(s),
            Part::Bytes(b) => b,
        })
        .filter(|b| !b.is_empty())
        .collect();
    match chunks.len() {
        0 => Bytes::new(),
        // A single part (typically `new Blob([blob])`) shares its memory.
        1 => chunks.pop().unwrap_or_default(),
        _ => {
            let mut out = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
            for c in chunks {
                out.extend_from_slice(&c);
            }
            out.freeze()
        }
    }
}

/// Reads the `BlobPropertyBag` members (`endings`, then `type`): whether to
/// convert line endings, and the normalized type.
fn blob_property_bag<'js>(
    ctx: &Ctx<'js>,
    options: &Value<'js>,
    what: &str,
) -> Result<(bool, String)> {
    check_dict(
        ctx,
        options,
        &format!("Failed to construct '{what}': The provided value"),
    )?;
    let native = match dict_member(options, "endings")? {
        None => false,
        Some(v) => {
            let s = to_usv_string(ctx, v)?;
            match s.as_str() {
                "transparent" => false,
                "native" => true,
                _ => {
                    return Err(WebApiError::type_error(format!(
                        "Failed to construct '{what}': The provided value '{s}' is not a valid enum value of type EndingType."
                    )))
                    .or_throw(ctx)
                }
            }
        }
    };
    let kind = match dict_member(options, "type")? {
        None => String::new(),
        Some(v) => normalize_type(&to_usv_string(ctx, v)?),
    };
    Ok((native, kind))
}

/// WebIDL `[Clamp] long long`.
///
/// Spec: <https://webidl.spec.whatwg.org/#abstract-opdef-converttoint>
fn clamp_i64<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<i64> {
    let n = Coerced::<f64>::from_js(ctx, value)?.0;
    if n.is_nan() {
        return Ok(0);
    }
    // `as` saturates at the i64 bounds, which is the clamp.
    Ok(n.round_ties_even() as i64)
}

/// WebIDL `long long` (no extended attributes): truncate, wrap modulo 2^64.
fn to_i64<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<i64> {
    let n = Coerced::<f64>::from_js(ctx, value)?.0;
    if !n.is_finite() {
        return Ok(0);
    }
    let n = n.trunc();
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if (-TWO_63..TWO_63).contains(&n) {
        return Ok(n as i64);
    }
    // Beyond 2^63 every f64 is a multiple of 2^11, so this is exact.
    let m = n.rem_euclid(TWO_64);
    Ok(if m >= TWO_63 {
        (m - TWO_64) as i64
    } else {
        m as i64
    })
}

/// An optional argument: absent and `undefined` are both "not passed".
fn present<'js>(v: Opt<Value<'js>>) -> Option<Value<'js>> {
    v.0.filter(|v| !v.is_undefined())
}

fn illegal_invocation<T>(ctx: &Ctx<'_>) -> Result<T> {
    Err(WebApiError::type_error("Illegal invocation")).or_throw(ctx)
}

/// The contents of `this`, or the `TypeError` for a foreign receiver.
fn this_data<'js>(ctx: &Ctx<'js>, this: &Value<'js>) -> Result<BlobData> {
    match blob_data(this) {
        Some(d) => Ok(d),
        None => illegal_invocation(ctx),
    }
}

/// Settles a new promise with `result`: a promise-returning operation
/// rejects rather than throws.
fn settle<'js>(ctx: &Ctx<'js>, result: Result<Value<'js>>) -> Result<Promise<'js>> {
    let (promise, resolve, reject) = Promise::new(ctx)?;
    match result {
        Ok(v) => resolve.call::<_, ()>((v,))?,
        Err(rquickjs::Error::Exception) => reject.call::<_, ()>((ctx.catch(),))?,
        Err(e) => return Err(e),
    }
    Ok(promise)
}

/// Makes a `ReadableStream` (through the global constructor) that yields
/// `bytes` as `Uint8Array` chunks of at most 64 KiB.
///
/// The pull callback holds only Rust data, so the engine's GC has nothing
/// hidden from it.
pub fn bytes_stream<'js>(ctx: &Ctx<'js>, bytes: Bytes) -> Result<Object<'js>> {
    let ctor: Value = ctx.globals().get("ReadableStream")?;
    let Some(ctor) = ctor.as_constructor() else {
        return Err(WebApiError::type_error("ReadableStream is not available")).or_throw(ctx);
    };
    let rest = Rc::new(RefCell::new(bytes));
    let pull = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, controller: Object<'js>| -> Result<()> {
            let chunk = {
                let mut rest = rest.borrow_mut();
                let n = rest.len().min(STREAM_CHUNK);
                (n > 0).then(|| rest.split_to(n))
            };
            match chunk {
                Some(chunk) => {
                    let arr = crate::buffer::new_uint8_array(&ctx, &chunk)?;
                    controller
                        .get::<_, Function>("enqueue")?
                        .call::<_, ()>((This(controller.clone()), arr))
                }
                None => controller
                    .get::<_, Function>("close")?
                    .call::<_, ()>((This(controller.clone()),)),
            }
        },
    )?;
    let source = Object::new(ctx.clone())?;
    source.set("pull", pull)?;
    ctor.construct((source,))
}

/// The parts of `slice()` after argument conversion.
///
/// Spec: <https://w3c.github.io/FileAPI/#slice-blob>
fn slice_range(size: usize, start: Option<i64>, end: Option<i64>) -> std::ops::Range<usize> {
    let size = size as i64;
    let relative = |p: Option<i64>, default: i64| match p {
        None => default,
        Some(p) if p < 0 => (size + p).max(0),
        Some(p) => p.min(size),
    };
    let from = relative(start, 0);
    let to = relative(end, size).max(from);
    from as usize..to as usize
}

#[rquickjs::methods]
impl Blob {
    /// `new Blob(blobParts, options)`.
    ///
    /// Spec: <https://w3c.github.io/FileAPI/#constructorBlob>
    #[qjs(constructor)]
    fn new<'js>(
        ctx: Ctx<'js>,
        new_target: This<Value<'js>>,
        parts: Opt<Value<'js>>,
        options: Opt<Value<'js>>,
    ) -> Result<Self> {
        crate::webidl::require_new(&ctx, &new_target.0, "Blob")?;
        let parts = match present(parts) {
            Some(p) => convert_parts(&ctx, p, "Blob")?,
            None => Vec::new(),
        };
        let options = options
            .0
            .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
        let (native, kind) = blob_property_bag(&ctx, &options, "Blob")?;
        Ok(Self::from_data(BlobData {
            bytes: process_parts(parts, native),
            kind,
        }))
    }

    #[qjs(get, enumerable)]
    fn size<'js>(ctx: Ctx<'js>, this: This<Value<'js>>) -> Result<usize> {
        Ok(this_data(&ctx, &this.0)?.bytes.len())
    }

    #[qjs(get, rename = "type", enumerable)]
    fn kind<'js>(ctx: Ctx<'js>, this: This<Value<'js>>) -> Result<String> {
        Ok(this_data(&ctx, &this.0)?.kind)
    }

    /// `slice(start, end, contentType)`: a new `Blob` sharing the bytes.
    ///
    /// Spec: <https://w3c.github.io/FileAPI/#dfn-slice>
    fn slice<'js>(
        ctx: Ctx<'js>,
        this: This<Value<'js>>,
        start: Opt<Value<'js>>,
        end: Opt<Value<'js>>,
        content_type: Opt<Value<'js>>,
    ) -> Result<Class<'js, Blob>> {
        let data = this_data(&ctx, &this.0)?;
        let start = present(start).map(|v| clamp_i64(&ctx, v)).transpose()?;
        let end = present(end).map(|v| clamp_i64(&ctx, v)).transpose()?;
        let kind = match present(content_type) {
            Some(v) => normalize_type(&crate::webidl::string_lossy(&ctx, &js_to_string(&ctx, v)?)?),
            None => String::new(),
        };
        let range = slice_range(data.bytes.len(), start, end);
        new_blob(
            &ctx,
            BlobData {
                bytes: data.bytes.slice(range),
                kind,
            },
        )
    }

    /// Spec: <https://w3c.github.io/FileAPI/#dom-blob-text>
    fn text<'js>(ctx: Ctx<'js>, this: This<Value<'js>>) -> Result<Promise<'js>> {
        let result = this_data(&ctx, &this.0).and_then(|d| {
            rquickjs::String::from_str(ctx.clone(), &crate::body::decode_text(&d.bytes))
                .map(|s| s.into_value())
        });
        settle(&ctx, result)
    }

    /// Spec: <https://w3c.github.io/FileAPI/#dom-blob-arraybuffer>
    #[qjs(rename = "arrayBuffer")]
    fn array_buffer<'js>(ctx: Ctx<'js>, this: This<Value<'js>>) -> Result<Promise<'js>> {
        let result = this_data(&ctx, &this.0).and_then(|d| {
            ArrayBuffer::new_copy(ctx.clone(), d.bytes.as_ref()).map(|a| a.into_value())
        });
        settle(&ctx, result)
    }

    /// Spec: <https://w3c.github.io/FileAPI/#dom-blob-bytes>
    fn bytes<'js>(ctx: Ctx<'js>, this: This<Value<'js>>) -> Result<Promise<'js>> {
        let result =
            this_data(&ctx, &this.0).and_then(|d| crate::buffer::new_uint8_array(&ctx, &d.bytes));
        settle(&ctx, result)
    }

    /// Spec: <https://w3c.github.io/FileAPI/#dom-blob-stream>
    fn stream<'js>(ctx: Ctx<'js>, this: This<Value<'js>>) -> Result<Object<'js>> {
        let data = this_data(&ctx, &this.0)?;
        bytes_stream(&ctx, data.bytes)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    fn to_string_tag() -> &'static str {
        "Blob"
    }
}

#[rquickjs::methods]
impl File {
    /// `new File(fileBits, fileName, options)`.
    ///
    /// Spec: <https://w3c.github.io/FileAPI/#file-constructor>
    #[qjs(constructor)]
    fn new<'js>(
        ctx: Ctx<'js>,
        new_target: This<Value<'js>>,
        bits: Value<'js>,
        name: Value<'js>,
        options: Opt<Value<'js>>,
    ) -> Result<Self> {
        crate::webidl::require_new(&ctx, &new_target.0, "File")?;
        let parts = convert_parts(&ctx, bits, "File")?;
        let name = to_usv_string(&ctx, name)?;
        let options = options
            .0
            .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
        let (native, kind) = blob_property_bag(&ctx, &options, "File")?;
        let last_modified = match dict_member(&options, "lastModified")? {
            Some(v) => to_i64(&ctx, v)?,
            None => now_ms(),
        };
        Ok(Self::new_file(
            BlobData {
                bytes: process_parts(parts, native),
                kind,
            },
            name,
            last_modified,
        ))
    }

    #[qjs(get, rename = "name", enumerable)]
    fn get_name(&self) -> String {
        self.name.clone()
    }

    #[qjs(get, rename = "lastModified", enumerable)]
    fn get_last_modified(&self) -> i64 {
        self.last_modified
    }

    #[qjs(get, rename = "webkitRelativePath", enumerable)]
    fn webkit_relative_path(&self) -> &'static str {
        ""
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    fn to_string_tag() -> &'static str {
        "File"
    }
}

/// A parsed MIME type: lower-case essence parts and parameters in order
/// (names lower-cased, values as given).
///
/// Spec: <https://mimesniff.spec.whatwg.org/#mime-type-representation>
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeType {
    /// The type, e.g. `multipart`.
    pub kind: String,
    /// The subtype, e.g. `form-data`.
    pub subtype: String,
    /// The parameters, first occurrence of each name.
    pub params: Vec<(String, String)>,
}

fn is_http_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' ')
}

fn is_http_tab_or_space(c: char) -> bool {
    matches!(c, '\t' | ' ')
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn is_quoted_string_char(c: char) -> bool {
    matches!(c, '\t' | ' '..='~' | '\u{80}'..='\u{FF}')
}

/// Collects an HTTP quoted string starting at the `"` at `chars[*pos]`.
/// With `extract`, returns the unescaped value, otherwise the raw text.
///
/// Spec: <https://fetch.spec.whatwg.org/#collect-an-http-quoted-string>
fn collect_quoted(chars: &[char], pos: &mut usize, extract: bool) -> String {
    let start = *pos;
    let mut value = String::new();
    *pos += 1;
    loop {
        while *pos < chars.len() && chars[*pos] != '"' && chars[*pos] != '\\' {
            value.push(chars[*pos]);
            *pos += 1;
        }
        if *pos >= chars.len() {
            break;
        }
        let c = chars[*pos];
        *pos += 1;
        if c == '\\' {
            if *pos >= chars.len() {
                value.push('\\');
                break;
            }
            value.push(chars[*pos]);
            *pos += 1;
        } else {
            break;
        }
    }
    if extract {
        value
    } else {
        chars[start..*pos].iter().collect()
    }
}

impl MimeType {
    /// Parses a MIME type; `None` on failure.
    ///
    /// Spec: <https://mimesniff.spec.whatwg.org/#parse-a-mime-type>
    pub fn parse(input: &str) -> Option<Self> {
        let chars: Vec<char> = input.trim_matches(is_http_whitespace).chars().collect();
        let mut pos = 0;
        let collect = |pos: &mut usize, stop: &dyn Fn(char) -> bool| {
            let start = *pos;
            while *pos < chars.len() && !stop(chars[*pos]) {
                *pos += 1;
            }
            chars[start..*pos].iter().collect::<String>()
        };
        let kind = collect(&mut pos, &|c| c == '/');
        if kind.is_empty() || !kind.chars().all(is_token_char) || pos >= chars.len() {
            return None;
        }
        pos += 1;
        let subtype = collect(&mut pos, &|c| c == ';');
        let subtype = subtype.trim_end_matches(is_http_whitespace).to_owned();
        if subtype.is_empty() || !subtype.chars().all(is_token_char) {
            return None;
        }
        let mut mime = MimeType {
            kind: kind.to_ascii_lowercase(),
            subtype: subtype.to_ascii_lowercase(),
            params: Vec::new(),
        };
        while pos < chars.len() {
            pos += 1;
            collect(&mut pos, &|c| !is_http_whitespace(c));
            let name = collect(&mut pos, &|c| c == ';' || c == '=').to_ascii_lowercase();
            if pos < chars.len() {
                if chars[pos] == ';' {
                    continue;
                }
                pos += 1;
            }
            if pos >= chars.len() {
                break;
            }
            let value = if chars[pos] == '"' {
                let v = collect_quoted(&chars, &mut pos, true);
                collect(&mut pos, &|c| c == ';');
                v
            } else {
                let v = collect(&mut pos, &|c| c == ';');
                let v = v.trim_end_matches(is_http_whitespace).to_owned();
                if v.is_empty() {
                    continue;
                }
                v
            };
            if !name.is_empty()
                && name.chars().all(is_token_char)
                && value.chars().all(is_quoted_string_char)
                && mime.param(&name).is_none()
            {
                mime.params.push((name, value));
            }
        }
        Some(mime)
    }

    /// `type/subtype`.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.kind, self.subtype)
    }

    /// The value of parameter `name` (lower-case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn set_param(&mut self, name: &str, value: String) {
        match self.params.iter_mut().find(|(n, _)| n == name) {
            Some(p) => p.1 = value,
            None => self.params.push((name.to_owned(), value)),
        }
    }

    /// Extracts the MIME type from a `Content-Type` header value (several
    /// values combined with `, `), as the body mixin does; `None` is failure.
    ///
    /// Spec: <https://fetch.spec.whatwg.org/#concept-header-extract-mime-type>
    pub fn extract(header_value: &str) -> Option<Self> {
        let mut charset: Option<String> = None;
        let mut essence: Option<String> = None;
        let mut mime: Option<MimeType> = None;
        for value in split_header_values(header_value) {
            let Some(mut temp) = MimeType::parse(&value) else {
                continue;
            };
            let temp_essence = temp.essence();
            if temp_essence == "*/*" {
                continue;
            }
            if essence.as_deref() != Some(temp_essence.as_str()) {
                charset = temp.param("charset").map(str::to_owned);
                essence = Some(temp_essence);
            } else if temp.param("charset").is_none() {
                if let Some(c) = &charset {
                    temp.set_param("charset", c.clone());
                }
            }
            mime = Some(temp);
        }
        mime
    }
}

impl std::fmt::Display for MimeType {
    /// Spec: <https://mimesniff.spec.whatwg.org/#serialize-a-mime-type>
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.subtype)?;
        for (name, value) in &self.params {
            write!(f, ";{name}=")?;
            if !value.is_empty() && value.chars().all(is_token_char) {
                f.write_str(value)?;
            } else {
                f.write_str("\"")?;
                for c in value.chars() {
                    if c == '"' || c == '\\' {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")?;
            }
        }
        Ok(())
    }
}

/// Splits a combined header value on commas outside quoted strings.
///
/// Spec: <https://fetch.spec.whatwg.org/#header-value-get-decode-and-split>
fn split_header_values(input: &str) -> Vec<String> {
    let chars: Vec<char> = input.chars().collect();
    let mut pos = 0;
    let mut values = Vec::new();
    let mut temp = String::new();
    loop {
        while pos < chars.len() && chars[pos] != '"' && chars[pos] != ',' {
            temp.push(chars[pos]);
            pos += 1;
        }
        if pos < chars.len() && chars[pos] == '"' {
            temp.push_str(&collect_quoted(&chars, &mut pos, false));
            if pos < chars.len() {
                continue;
            }
        }
        values.push(temp.trim_matches(is_http_tab_or_space).to_owned());
        temp.clear();
        if pos >= chars.len() {
            return values;
        }
        pos += 1;
    }
}

/// Installs `Blob` and `File`.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    let blob_ctor = crate::webidl::define_interface::<Blob>(ctx)?;
    let file_ctor = crate::webidl::define_interface::<File>(ctx)?;
    let blob_proto = Class::<Blob>::prototype(ctx)?.ok_or(rquickjs::Error::Unknown)?;
    let file_proto = Class::<File>::prototype(ctx)?.ok_or(rquickjs::Error::Unknown)?;
    file_proto.set_prototype(Some(&blob_proto))?;
    file_ctor.set_prototype(Some(&blob_ctor))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::MimeType;
    use crate::testing::run_js;

    #[test]
    fn constructs_from_parts() {
        assert_eq!(
            run_js(
                "const inner = new Blob(['in', 'ner']);
                 const b = new Blob(['a\\u00e9', new Uint8Array([98, 99]), new Uint16Array([0x6564]).buffer,
                                     new DataView(new Uint8Array([0, 102, 0]).buffer, 1, 1), inner, 7, '\\ud800']);
                 const bytes = [...new Uint8Array(await b.arrayBuffer())];
                 return [b.size, b.type === '', bytes.slice(0, 3).join(), await b.text(), b instanceof Blob,
                         Object.prototype.toString.call(b), new Blob().size, new Blob(undefined, undefined).size,
                         new Blob([]).size].join('|');"
            ),
            "17|true|97,195,169|a\u{e9}bcdefinner7\u{FFFD}|true|[object Blob]|0|0|0"
        );
    }

    #[test]
    fn constructor_errors() {
        for src in [
            "new Blob('abc')",
            "new Blob(null)",
            "new Blob(5)",
            "new Blob([], 5)",
            "new Blob([], { endings: 'weird' })",
            "new Blob([Symbol('s')])",
            "Blob([])",
            "new File(['x'])",
            "new File()",
            "new File('x', 'n')",
            "File(['x'], 'n')",
        ] {
            let out = run_js(src);
            assert!(out.starts_with("THROWN TypeError"), "{src}: {out}");
        }
    }

    #[test]
    fn type_and_endings() {
        assert_eq!(
            run_js(
                "const t = (o) => JSON.stringify(new Blob([], o).type);
                 const n = await new Blob(['a\\r\\nb\\rc\\nd'], { endings: 'native' }).text();
                 const k = await new Blob(['a\\r\\nb'], { endings: 'transparent' }).text();
                 const order = [];
                 new Blob([], { get type() { order.push('type'); return 'x/y'; }, get endings() { order.push('endings'); return 'native'; } });
                 return [t({ type: 'Text/HTML;Charset=UTF-8' }), t({ type: 'a\\u00e9' }), t({ type: 'a\\nb' }),
                         t({}), t(null), t({ type: undefined }), JSON.stringify(n), JSON.stringify(k),
                         order.join()].join('|');"
            ),
            "\"text/html;charset=utf-8\"|\"\"|\"\"|\"\"|\"\"|\"\"|\"a\\nb\\nc\\nd\"|\"a\\r\\nb\"|endings,type"
        );
    }

    #[test]
    fn slicing() {
        assert_eq!(
            run_js(
                "const b = new Blob(['0123456789'], { type: 'text/plain' });
                 const s = async (...a) => { const x = b.slice(...a); return x.size + ':' + (await x.text()) + ':' + x.type; };
                 return [await s(), await s(2), await s(2, 5), await s(-3), await s(-3, -1), await s(5, 2),
                         await s(-100, 100), await s(3, undefined, 'A/B'), await s(undefined, 4),
                         await s(1.5, 3.5), await s(NaN, '3'), await s(0, 10, 'bad\\u0100'),
                         await b.slice(2, 8).slice(1, -1).text(), b.slice() !== b, b.slice() instanceof Blob].join(' ');"
            ),
            "10:0123456789: 8:23456789: 3:234: 3:789: 2:78: 0:: 10:0123456789: 7:3456789:a/b 4:0123: \
             2:23: 3:012: 10:0123456789: 3456 true true"
        );
    }

    #[test]
    fn reads() {
        assert_eq!(
            run_js(
                "const b = new Blob(['\\ufeffhi \\u{1F600}']);
                 const ab = await b.arrayBuffer();
                 const u8 = await b.bytes();
                 const p = Blob.prototype.text.call({});
                 let rejected; try { await p; } catch (e) { rejected = e.constructor.name; }
                 let thrown; try { Blob.prototype.slice.call({}); } catch (e) { thrown = e.constructor.name; }
                 return [await b.text(), ab instanceof ArrayBuffer, ab.byteLength, u8 instanceof Uint8Array,
                         u8.length, p instanceof Promise, rejected, thrown].join('|');"
            ),
            "hi \u{1F600}|true|10|true|10|true|TypeError|TypeError"
        );
    }

    #[test]
    fn files() {
        assert_eq!(
            run_js(
                "const before = Date.now();
                 const f = new File(['ab', new Blob(['c'])], 'a/b.txt', { type: 'Text/Plain', lastModified: 42 });
                 const g = new File([], 'x');
                 const s = f.slice(1);
                 return [f.name, f.size, f.type, f.lastModified, await f.text(), f instanceof File, f instanceof Blob,
                         Object.prototype.toString.call(f), g.lastModified >= before, typeof g.lastModified,
                         s instanceof File, s instanceof Blob, await s.text(),
                         new File([], 'n', { lastModified: new Date(5) }).lastModified,
                         new File([], 'n', { lastModified: NaN }).lastModified,
                         new File([], 'n', { lastModified: -7.9 }).lastModified,
                         Object.getPrototypeOf(File) === Blob, Object.getPrototypeOf(File.prototype) === Blob.prototype,
                         Object.getOwnPropertyDescriptor(globalThis, 'File').enumerable].join('|');"
            ),
            "a/b.txt|3|text/plain|42|abc|true|true|[object File]|true|number|false|true|bc|5|0|-7|true|true|false"
        );
    }

    #[test]
    fn subclasses() {
        assert_eq!(
            run_js(
                "class MyBlob extends Blob { hello() { return 'hi ' + this.size; } }
                 class MyFile extends File {}
                 const b = new MyBlob(['abc']);
                 const f = new MyFile(['abcd'], 'f.txt');
                 return [b.hello(), b instanceof Blob, await new Blob([b, f]).text(), f.name, f.size].join('|');"
            ),
            "hi 3|true|abcabcd|f.txt|4"
        );
    }

    #[test]
    fn streams() {
        let out = run_js(
            "if (typeof ReadableStream === 'undefined') return 'skipped';
             const big = new Uint8Array(150000).fill(7);
             const reader = new Blob(['ab', big]).stream().getReader();
             let total = 0, chunks = 0, first;
             for (;;) {
               const { done, value } = await reader.read();
               if (done) break;
               if (!first) first = value[0] + ',' + value[1];
               total += value.length; chunks++;
             }
             const empty = new Blob([]).stream().getReader();
             const e = await empty.read();
             return [total, chunks, first, e.done].join('|');",
        );
        assert!(out == "skipped" || out == "150002|3|97,98|true", "{out}");
    }

    #[test]
    fn stream_pull_source() {
        // Drives the pull source the way a ReadableStream does, through a
        // stand-in constructor, so this runs whether or not streams exist.
        assert_eq!(
            run_js(
                "globalThis.ReadableStream = class {
                   constructor(source) { this.source = source; }
                 };
                 const s = new Blob([new Uint8Array(70000).fill(1), 'xyz']).stream();
                 const sizes = [];
                 let closed = false;
                 const controller = { enqueue(c) { sizes.push(c.constructor.name + ':' + c.length); }, close() { closed = true; } };
                 while (!closed) s.source.pull(controller);
                 return sizes.join() + '|' + closed;"
            ),
            "Uint8Array:65536,Uint8Array:4467|true"
        );
        assert!(
            run_js("delete globalThis.ReadableStream; new Blob([]).stream()")
                .starts_with("THROWN TypeError")
        );
    }

    #[test]
    fn mime_types() {
        let p = |s: &str| MimeType::parse(s).map(|m| m.to_string());
        assert_eq!(p("Text/HTML"), Some("text/html".into()));
        assert_eq!(
            p(" multipart/form-data ; Boundary=\"a b\\\"c\"; x=1; boundary=zzz"),
            Some("multipart/form-data;boundary=\"a b\\\"c\";x=1".into())
        );
        assert_eq!(p("text/plain;charset="), Some("text/plain".into()));
        assert_eq!(p("text/plain;;a=b;c"), Some("text/plain;a=b".into()));
        assert_eq!(p("text"), None);
        assert_eq!(p("/plain"), None);
        assert_eq!(p("te xt/plain"), None);
        assert_eq!(p("text/"), None);
        let e = |s: &str| MimeType::extract(s).map(|m| m.to_string());
        assert_eq!(
            e("text/plain;charset=gbk, text/plain"),
            Some("text/plain;charset=gbk".into())
        );
        assert_eq!(
            e("text/plain;charset=gbk, text/html"),
            Some("text/html".into())
        );
        assert_eq!(e("text/html, */*, bogus"), Some("text/html".into()));
        assert_eq!(
            e("multipart/form-data; boundary=\"a,b\""),
            Some("multipart/form-data;boundary=\"a,b\"".into())
        );
        assert_eq!(e(""), None);
    }
}
