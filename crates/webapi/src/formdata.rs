//! `FormData`, its `multipart/form-data` serialization (for bodies made from
//! a `FormData`) and the parsers behind the body mixin's `formData()`
//! (`multipart/form-data` and `application/x-www-form-urlencoded`).
//!
//! Spec: <https://xhr.spec.whatwg.org/#interface-formdata>,
//! <https://html.spec.whatwg.org/multipage/form-control-infrastructure.html#multipart/form-data-encoding-algorithm>
//! and <https://fetch.spec.whatwg.org/#dom-body-formdata>
//!
//! The multipart parser follows RFC 7578 and the parser proposed for the
//! Fetch standard (whatwg/fetch#1571, as undici implements it): names and
//! filenames are quoted, with `%0A`, `%0D` and `%22` standing for LF, CR and
//! `"`. It also accepts a preamble before the first boundary, an epilogue
//! after the last, and an RFC 5987 `filename*=utf-8''...` parameter. File
//! parts share the body's memory.

use bytes::{Bytes, BytesMut};
use rquickjs::{
    atom::PredefinedAtom,
    class::Trace,
    function::{Opt, This},
    Array, Class, Ctx, JsLifetime, Object, Result, Value,
};

use crate::blob::{blob_data, now_ms, BlobData, File, MimeType};
use crate::error::{OrThrow, WebApiError};
use crate::webidl::to_usv_string;

/// The value of a form entry.
#[derive(Clone)]
pub enum FormValue<'js> {
    /// A string value.
    Text(String),
    /// A file value (always a `File`, never a bare `Blob`).
    File(Class<'js, File>),
}

impl<'js> Trace<'js> for FormValue<'js> {
    fn trace<'a>(&self, tracer: rquickjs::class::Tracer<'a, 'js>) {
        if let FormValue::File(f) = self {
            f.trace(tracer)
        }
    }
}

impl<'js> FormValue<'js> {
    fn to_js(&self, ctx: &Ctx<'js>) -> Result<Value<'js>> {
        match self {
            FormValue::Text(s) => {
                rquickjs::String::from_str(ctx.clone(), s).map(|s| s.into_value())
            }
            FormValue::File(f) => Ok(f.clone().into_value()),
        }
    }
}

/// The JS `FormData` class: an ordered list of name/value entries.
///
/// Spec: <https://xhr.spec.whatwg.org/#interface-formdata>
#[derive(Default)]
#[rquickjs::class]
pub struct FormData<'js> {
    entries: Vec<(String, FormValue<'js>)>,
}

// SAFETY: `Changed<'to>` is the same type with only the lifetime replaced,
// which is what `#[derive(JsLifetime)]` generates (it cannot see through
// the tuple in `entries`).
unsafe impl<'js> JsLifetime<'js> for FormData<'js> {
    type Changed<'to> = FormData<'to>;
}

impl<'js> Trace<'js> for FormData<'js> {
    fn trace<'a>(&self, tracer: rquickjs::class::Tracer<'a, 'js>) {
        for (_, v) in &self.entries {
            v.trace(tracer)
        }
    }
}

/// Turns a value given to `append`/`set` into an entry value.
///
/// Spec: <https://xhr.spec.whatwg.org/#create-an-entry>
fn create_entry_value<'js>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
    filename: Option<String>,
) -> Result<FormValue<'js>> {
    if let Some(file) = crate::webidl::class_of::<File>(&value) {
        let Some(name) = filename else {
            return Ok(FormValue::File(file));
        };
        let f = file.borrow();
        let copy = File::new_file(f.data().clone(), name, f.last_modified());
        drop(f);
        return Ok(FormValue::File(Class::instance(ctx.clone(), copy)?));
    }
    if let Some(data) = blob_data(&value) {
        let name = filename.unwrap_or_else(|| "blob".to_owned());
        let file = File::new_file(data, name, now_ms());
        return Ok(FormValue::File(Class::instance(ctx.clone(), file)?));
    }
    Ok(FormValue::Text(to_usv_string(ctx, value)?))
}

/// Converts the arguments of `append`/`set` (WebIDL overload resolution
/// between `(name, USVString value)` and `(name, Blob value, filename)`).
fn entry_args<'js>(
    ctx: &Ctx<'js>,
    method: &str,
    name: Value<'js>,
    value: Value<'js>,
    filename: Opt<Value<'js>>,
) -> Result<(String, FormValue<'js>)> {
    let is_blob = blob_data(&value).is_some();
    if filename.0.is_some() && !is_blob {
        return Err(WebApiError::type_error(format!(
            "Failed to execute '{method}' on 'FormData': parameter 2 is not of type 'Blob'."
        )))
        .or_throw(ctx);
    }
    let name = to_usv_string(ctx, name)?;
    let filename = match filename.0 {
        Some(v) if !v.is_undefined() => Some(to_usv_string(ctx, v)?),
        _ => None,
    };
    let value = create_entry_value(ctx, value, filename)?;
    Ok((name, value))
}

impl<'js> FormData<'js> {
    /// The entries, in order.
    pub fn list(&self) -> &[(String, FormValue<'js>)] {
        &self.entries
    }

    /// Builds a form from entries.
    pub fn from_entries(entries: Vec<(String, FormValue<'js>)>) -> Self {
        Self { entries }
    }

    /// Serializes the entries as `multipart/form-data` with a fresh random
    /// boundary; returns the body and its `Content-Type`.
    pub fn to_multipart(&self) -> std::result::Result<(Bytes, String), WebApiError> {
        let boundary = generate_boundary()?;
        let mut out = BytesMut::new();
        for (name, value) in &self.entries {
            out.extend_from_slice(b"--");
            out.extend_from_slice(boundary.as_bytes());
            out.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
            out.extend_from_slice(escape_name(&normalize_newlines(name)).as_bytes());
            out.extend_from_slice(b"\"");
            match value {
                FormValue::Text(s) => {
                    out.extend_from_slice(b"\r\n\r\n");
                    out.extend_from_slice(normalize_newlines(s).as_bytes());
                }
                FormValue::File(f) => {
                    let f = f.borrow();
                    out.extend_from_slice(b"; filename=\"");
                    out.extend_from_slice(escape_name(f.name()).as_bytes());
                    out.extend_from_slice(b"\"\r\nContent-Type: ");
                    let kind = &f.data().kind;
                    out.extend_from_slice(if kind.is_empty() {
                        b"application/octet-stream"
                    } else {
                        kind.as_bytes()
                    });
                    out.extend_from_slice(b"\r\n\r\n");
                    out.extend_from_slice(&f.data().bytes);
                }
            }
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"--\r\n");
        Ok((
            out.freeze(),
            format!("multipart/form-data; boundary={boundary}"),
        ))
    }
}

/// A boundary of 16 random bytes in hex, prefixed so it is recognisable.
fn generate_boundary() -> std::result::Result<String, WebApiError> {
    let mut raw = [0u8; 16];
    getrandom::getrandom(&mut raw).map_err(|e| {
        WebApiError::dom(
            "OperationError",
            format!("The system random source failed: {e}"),
        )
    })?;
    let mut s = String::from("----OutpostFormBoundary");
    for b in raw {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

/// Replaces every CR not followed by LF, and every LF not preceded by CR,
/// with CRLF.
fn normalize_newlines(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                out.push_str("\r\n");
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
            }
            '\n' => out.push_str("\r\n"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a field name or filename for a `Content-Disposition` header.
fn escape_name(s: &str) -> String {
    s.replace('\n', "%0A")
        .replace('\r', "%0D")
        .replace('"', "%22")
}

/// Reverses [`escape_name`] (`%0A`/`%0D` in either case, `%22`).
fn unescape_name(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let pair = [b[i + 1].to_ascii_uppercase(), b[i + 2].to_ascii_uppercase()];
            let replacement = match &pair {
                b"0A" => Some(b'\n'),
                b"0D" => Some(b'\r'),
                b"22" => Some(b'"'),
                _ => None,
            };
            if let Some(r) = replacement {
                out.push(r);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-decodes `s` (for `filename*`), leaving malformed escapes as they are.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// One part of a parsed `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultipartPart {
    /// The `name` parameter of `Content-Disposition`.
    pub name: String,
    /// The `filename` (or `filename*`) parameter, when the part is a file.
    pub filename: Option<String>,
    /// The part's `Content-Type` header (isomorphic-decoded), if any.
    pub content_type: Option<String>,
    /// The part's content (shares the body's memory).
    pub body: Bytes,
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_tab_or_space(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_tab_or_space(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_tab_or_space(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Position of `needle` in `hay` at or after `from`.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let off = hay[i..=hay.len() - needle.len()]
            .iter()
            .position(|&b| b == first)?;
        i += off;
        if hay[i..].starts_with(needle) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Parses a `Content-Disposition: form-data; name="..."[; filename="..."]`
/// value into the name and filename.
fn parse_disposition(
    value: &[u8],
) -> std::result::Result<(Option<String>, Option<String>), String> {
    let mut pos = value.iter().position(|&b| b == b';').unwrap_or(value.len());
    if !trim_ows(&value[..pos]).eq_ignore_ascii_case(b"form-data") {
        return Err("Content-Disposition of a part is not form-data".into());
    }
    let (mut name, mut filename, mut filename_ext) = (None, None, None);
    while pos < value.len() {
        pos += 1; // the ';'
        while pos < value.len() && is_tab_or_space(value[pos]) {
            pos += 1;
        }
        let start = pos;
        while pos < value.len() && value[pos] != b'=' && value[pos] != b';' {
            pos += 1;
        }
        let param = trim_ows(&value[start..pos]).to_ascii_lowercase();
        if pos >= value.len() || value[pos] == b';' {
            continue;
        }
        pos += 1; // the '='
        while pos < value.len() && is_tab_or_space(value[pos]) {
            pos += 1;
        }
        let raw: &[u8] = if value.get(pos) == Some(&b'"') {
            let start = pos + 1;
            let Some(len) = value[start..].iter().position(|&b| b == b'"') else {
                return Err("unterminated quoted string in Content-Disposition".into());
            };
            pos = start + len + 1;
            let v = &value[start..start + len];
            while pos < value.len() && value[pos] != b';' {
                pos += 1;
            }
            v
        } else {
            let start = pos;
            while pos < value.len() && value[pos] != b';' {
                pos += 1;
            }
            trim_ows(&value[start..pos])
        };
        match param.as_slice() {
            b"name" if name.is_none() => {
                name = Some(unescape_name(&String::from_utf8_lossy(raw)));
            }
            b"filename" if filename.is_none() => {
                filename = Some(unescape_name(&String::from_utf8_lossy(raw)));
            }
            b"filename*" if filename_ext.is_none() => {
                // RFC 5987: charset'language'percent-encoded
                let mut it = raw.splitn(3, |&b| b == b'\'');
                let (charset, _lang, encoded) = (it.next(), it.next(), it.next());
                match (charset, encoded) {
                    (Some(c), Some(e)) if c.eq_ignore_ascii_case(b"utf-8") => {
                        filename_ext =
                            Some(String::from_utf8_lossy(&percent_decode(e)).into_owned());
                    }
                    _ => return Err("unsupported filename* encoding in Content-Disposition".into()),
                }
            }
            _ => {}
        }
    }
    Ok((name, filename_ext.or(filename)))
}

/// Parses a `multipart/form-data` body delimited by `boundary`.
///
/// Errors carry a message for the `TypeError` `formData()` rejects with.
pub fn parse_multipart(
    body: &Bytes,
    boundary: &str,
) -> std::result::Result<Vec<MultipartPart>, String> {
    if boundary.is_empty() {
        return Err("empty boundary".into());
    }
    let input = body.as_ref();
    let mut delimiter = Vec::with_capacity(boundary.len() + 4);
    delimiter.extend_from_slice(b"\r\n--");
    delimiter.extend_from_slice(boundary.as_bytes());
    let dash_boundary = &delimiter[2..];
    // The first delimiter may open the body or follow a preamble.
    let mut pos = if input.starts_with(dash_boundary) {
        dash_boundary.len()
    } else {
        match find(input, &delimiter, 0) {
            Some(i) => i + delimiter.len(),
            None => return Err("no boundary delimiter found".into()),
        }
    };
    let mut parts = Vec::new();
    loop {
        // Just after a delimiter: `--` closes, else padding then CRLF.
        if input[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        while pos < input.len() && is_tab_or_space(input[pos]) {
            pos += 1;
        }
        if !input[pos..].starts_with(b"\r\n") {
            return Err("expected CRLF after a boundary delimiter".into());
        }
        pos += 2;
        let (mut name, mut filename, mut content_type) = (None, None, None);
        loop {
            let Some(eol) = find(input, b"\r\n", pos) else {
                return Err("unterminated part headers".into());
            };
            let line = &input[pos..eol];
            pos = eol + 2;
            if line.is_empty() {
                break;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return Err("malformed part header".into());
            };
            let header = trim_ows(&line[..colon]);
            if header.is_empty() || !header.iter().all(|&b| is_token_byte(b)) {
                return Err("malformed part header name".into());
            }
            let value = trim_ows(&line[colon + 1..]);
            if header.eq_ignore_ascii_case(b"content-disposition") {
                let (n, f) = parse_disposition(value)?;
                name = n;
                filename = f;
            } else if header.eq_ignore_ascii_case(b"content-type") {
                content_type = Some(value.iter().map(|&b| b as char).collect::<String>());
            }
        }
        let Some(name) = name else {
            return Err("a part has no name in its Content-Disposition".into());
        };
        let Some(end) = find(input, &delimiter, pos - 2) else {
            return Err("missing closing boundary delimiter".into());
        };
        // Searching from `pos - 2` also accepts a part whose headers end
        // straight in the delimiter (no content, no separate blank line).
        let content = if end < pos { pos..pos } else { pos..end };
        parts.push(MultipartPart {
            name,
            filename,
            content_type,
            body: body.slice(content),
        });
        pos = end + delimiter.len();
    }
}

/// Parses a body for `formData()` according to its `Content-Type` header
/// value (`multipart/form-data` or `application/x-www-form-urlencoded`).
///
/// Spec: <https://fetch.spec.whatwg.org/#dom-body-formdata>
pub fn parse_body<'js>(
    ctx: &Ctx<'js>,
    bytes: &Bytes,
    content_type: Option<&str>,
) -> Result<Class<'js, FormData<'js>>> {
    let fail = |msg: String| -> Result<Class<'js, FormData<'js>>> {
        Err(WebApiError::type_error(format!(
            "Failed to parse body as FormData: {msg}"
        )))
        .or_throw(ctx)
    };
    let Some(mime) = content_type.and_then(MimeType::extract) else {
        return fail("missing or invalid Content-Type".into());
    };
    let entries = match mime.essence().as_str() {
        "multipart/form-data" => {
            let Some(boundary) = mime.param("boundary") else {
                return fail("no boundary in the multipart/form-data Content-Type".into());
            };
            let parts = match parse_multipart(bytes, boundary) {
                Ok(p) => p,
                Err(e) => return fail(e),
            };
            let mut entries = Vec::with_capacity(parts.len());
            for part in parts {
                let value = match part.filename {
                    Some(filename) => {
                        let kind = match &part.content_type {
                            Some(t) if t.is_ascii() => crate::blob::normalize_type(t),
                            Some(_) => String::new(),
                            None => "text/plain".to_owned(),
                        };
                        let file = File::new_file(
                            BlobData {
                                bytes: part.body,
                                kind,
                            },
                            filename,
                            now_ms(),
                        );
                        FormValue::File(Class::instance(ctx.clone(), file)?)
                    }
                    None => FormValue::Text(crate::body::decode_text(&part.body)),
                };
                entries.push((part.name, value));
            }
            entries
        }
        "application/x-www-form-urlencoded" => url::form_urlencoded::parse(bytes)
            .map(|(k, v)| (strip_bom(k), FormValue::Text(strip_bom(v))))
            .collect(),
        other => return fail(format!("unsupported Content-Type {other}")),
    };
    Class::instance(ctx.clone(), FormData { entries })
}

/// "UTF-8 decode without BOM" of an already decoded name or value.
fn strip_bom(s: std::borrow::Cow<'_, str>) -> String {
    match s.strip_prefix('\u{FEFF}') {
        Some(rest) => rest.to_owned(),
        None => s.into_owned(),
    }
}

#[rquickjs::methods(rename_all = "camelCase")]
impl<'js> FormData<'js> {
    /// `new FormData()`; there are no form elements here, so any argument
    /// other than `undefined` is a `TypeError`.
    #[qjs(constructor)]
    pub fn new(ctx: Ctx<'js>, new_target: This<Value<'js>>, form: Opt<Value<'js>>) -> Result<Self> {
        crate::webidl::require_new(&ctx, &new_target.0, "FormData")?;
        if form.0.is_some_and(|f| !f.is_undefined()) {
            return Err(WebApiError::type_error(
                "Failed to construct 'FormData': parameter 1 is not of type 'HTMLFormElement'.",
            ))
            .or_throw(&ctx);
        }
        Ok(Self::default())
    }

    /// Spec: <https://xhr.spec.whatwg.org/#dom-formdata-append>
    pub fn append(
        &mut self,
        ctx: Ctx<'js>,
        name: Value<'js>,
        value: Value<'js>,
        filename: Opt<Value<'js>>,
    ) -> Result<()> {
        let entry = entry_args(&ctx, "append", name, value, filename)?;
        self.entries.push(entry);
        Ok(())
    }

    pub fn delete(&mut self, ctx: Ctx<'js>, name: Value<'js>) -> Result<()> {
        let name = to_usv_string(&ctx, name)?;
        self.entries.retain(|(n, _)| n != &name);
        Ok(())
    }

    pub fn get(&self, ctx: Ctx<'js>, name: Value<'js>) -> Result<Value<'js>> {
        let name = to_usv_string(&ctx, name)?;
        match self.entries.iter().find(|(n, _)| n == &name) {
            Some((_, v)) => v.to_js(&ctx),
            None => Ok(Value::new_null(ctx)),
        }
    }

    pub fn get_all(&self, ctx: Ctx<'js>, name: Value<'js>) -> Result<Array<'js>> {
        let name = to_usv_string(&ctx, name)?;
        let out = Array::new(ctx.clone())?;
        for (i, (_, v)) in self.entries.iter().filter(|(n, _)| n == &name).enumerate() {
            out.set(i, v.to_js(&ctx)?)?;
        }
        Ok(out)
    }

    pub fn has(&self, ctx: Ctx<'js>, name: Value<'js>) -> Result<bool> {
        let name = to_usv_string(&ctx, name)?;
        Ok(self.entries.iter().any(|(n, _)| n == &name))
    }

    /// Replaces the first entry named `name` and removes the others, or appends.
    ///
    /// Spec: <https://xhr.spec.whatwg.org/#dom-formdata-set>
    pub fn set(
        &mut self,
        ctx: Ctx<'js>,
        name: Value<'js>,
        value: Value<'js>,
        filename: Opt<Value<'js>>,
    ) -> Result<()> {
        let (name, value) = entry_args(&ctx, "set", name, value, filename)?;
        match self.entries.iter().position(|(n, _)| n == &name) {
            Some(first) => {
                self.entries[first].1 = value;
                let mut i = 0;
                self.entries.retain(|(n, _)| {
                    let keep = i <= first || n != &name;
                    i += 1;
                    keep
                });
            }
            None => self.entries.push((name, value)),
        }
        Ok(())
    }

    /// Calls `callback(value, name, formData)` for each entry, re-reading the
    /// list each step so changes made by the callback are seen.
    pub fn for_each(
        ctx: Ctx<'js>,
        this: This<Class<'js, FormData<'js>>>,
        callback: Value<'js>,
        this_arg: Opt<Value<'js>>,
    ) -> Result<()> {
        let Some(callback) = callback.into_function() else {
            return Err(WebApiError::type_error(
                "Failed to execute 'forEach' on 'FormData': parameter 1 is not a function.",
            ))
            .or_throw(&ctx);
        };
        let this_arg = this_arg
            .0
            .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
        let mut i = 0;
        loop {
            let entry = this.0.borrow().entries.get(i).cloned();
            let Some((name, value)) = entry else {
                return Ok(());
            };
            let value = value.to_js(&ctx)?;
            callback.call::<_, Value>((This(this_arg.clone()), value, name, this.0.clone()))?;
            i += 1;
        }
    }

    pub fn keys(
        ctx: Ctx<'js>,
        this: This<Class<'js, FormData<'js>>>,
    ) -> Result<Class<'js, FormDataIterator<'js>>> {
        FormDataIterator::create(ctx, this.0, IterKind::Keys)
    }

    pub fn values(
        ctx: Ctx<'js>,
        this: This<Class<'js, FormData<'js>>>,
    ) -> Result<Class<'js, FormDataIterator<'js>>> {
        FormDataIterator::create(ctx, this.0, IterKind::Values)
    }

    /// Also installed as `[Symbol.iterator]` (the same function object).
    pub fn entries(
        ctx: Ctx<'js>,
        this: This<Class<'js, FormData<'js>>>,
    ) -> Result<Class<'js, FormDataIterator<'js>>> {
        FormDataIterator::create(ctx, this.0, IterKind::Entries)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "FormData"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IterKind {
    Keys,
    Values,
    Entries,
}

/// The iterator `keys()`, `values()` and `entries()` return; it reads the
/// live list by index, as WebIDL's default iterators do.
///
/// Spec: <https://webidl.spec.whatwg.org/#es-default-iterator-object>
#[derive(JsLifetime)]
#[rquickjs::class(rename = "FormData Iterator")]
pub struct FormDataIterator<'js> {
    form: Class<'js, FormData<'js>>,
    index: usize,
    kind: IterKind,
}

impl<'js> Trace<'js> for FormDataIterator<'js> {
    fn trace<'a>(&self, tracer: rquickjs::class::Tracer<'a, 'js>) {
        self.form.trace(tracer)
    }
}

impl<'js> FormDataIterator<'js> {
    fn create(
        ctx: Ctx<'js>,
        form: Class<'js, FormData<'js>>,
        kind: IterKind,
    ) -> Result<Class<'js, Self>> {
        Class::instance(
            ctx,
            Self {
                form,
                index: 0,
                kind,
            },
        )
    }
}

#[rquickjs::methods]
impl<'js> FormDataIterator<'js> {
    pub fn next(&mut self, ctx: Ctx<'js>) -> Result<Object<'js>> {
        let entry = self.form.borrow().entries.get(self.index).cloned();
        let result = Object::new(ctx.clone())?;
        match entry {
            Some((name, value)) => {
                self.index += 1;
                let v: Value = match self.kind {
                    IterKind::Keys => rquickjs::String::from_str(ctx, &name)?.into_value(),
                    IterKind::Values => value.to_js(&ctx)?,
                    IterKind::Entries => {
                        let a = Array::new(ctx.clone())?;
                        a.set(0, name)?;
                        a.set(1, value.to_js(&ctx)?)?;
                        a.into_value()
                    }
                };
                result.set(PredefinedAtom::Value, v)?;
                result.set(PredefinedAtom::Done, false)?;
            }
            None => {
                result.set(PredefinedAtom::Value, Value::new_undefined(ctx))?;
                result.set(PredefinedAtom::Done, true)?;
            }
        }
        Ok(result)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "FormData Iterator"
    }
}

/// Installs `FormData`.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    crate::webidl::define_interface::<FormData>(ctx)?;
    crate::webidl::install_pair_iterable::<FormData, FormDataIterator>(ctx)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_js;

    #[test]
    fn entries_and_methods() {
        assert_eq!(
            run_js(
                "const fd = new FormData();
                 fd.append('a', '1'); fd.append('b', 2); fd.append('a', '3');
                 const r = [fd.get('a'), String(fd.get('zz')), fd.getAll('a').join('+'), fd.has('b'), fd.has('c')];
                 fd.set('a', 'new'); fd.set('c', 'x'); r.push([...fd].map(([k, v]) => k + '=' + v).join('&'));
                 fd.delete('a'); r.push([...fd.keys()].join(), [...fd.values()].join());
                 const seen = [];
                 fd.forEach(function (v, k, o) { seen.push(k + v + (o === fd) + (this === 9)); if (k === 'b') fd.append('d', '4'); }, 9);
                 r.push(seen.join(), Object.prototype.toString.call(fd), fd[Symbol.iterator] === fd.entries,
                        Object.prototype.toString.call(fd.keys()), typeof fd.keys().map, fd.getAll('none').length);
                 return r.join(' | ');"
            ),
            "1 | null | 1+3 | true | false | a=new&b=2&c=x | b,c | 2,x | \
             b2truetrue,cxtruetrue,d4truetrue | [object FormData] | true | [object FormData Iterator] | function | 0"
        );
    }

    #[test]
    fn blob_values_become_files() {
        assert_eq!(
            run_js(
                "const fd = new FormData();
                 const blob = new Blob(['abc'], { type: 'text/x' });
                 const file = new File(['hello'], 'h.txt', { type: 'text/plain', lastModified: 5 });
                 fd.append('b', blob); fd.append('n', blob, 'named.bin'); fd.append('f', file); fd.append('g', file, 'renamed');
                 fd.append('u', blob, undefined);
                 const [b, n, f, g, u] = ['b', 'n', 'f', 'g', 'u'].map((k) => fd.get(k));
                 return [b instanceof File, b.name, b.type, await b.text(), n.name, f === file, g === file, g.name,
                         g.lastModified, await g.text(), u.name, fd.get('b') === b].join('|');"
            ),
            "true|blob|text/x|abc|named.bin|true|false|renamed|5|hello|blob|true"
        );
    }

    #[test]
    fn argument_errors() {
        for src in [
            "new FormData().append('a')",
            "new FormData().append('a', 'str', 'name')",
            "new FormData().set('a', 'str', undefined)",
            "new FormData({})",
            "FormData()",
            "new FormData().forEach(1)",
            "FormData.prototype.get.call({}, 'a')",
        ] {
            let out = run_js(src);
            assert!(out.starts_with("THROWN TypeError"), "{src}: {out}");
        }
        assert_eq!(run_js("return new FormData(undefined).has('x')"), "false");
    }

    #[test]
    fn multipart_round_trip() {
        assert_eq!(
            run_js(
                "const fd = new FormData();
                 fd.append('text', 'line1\\nline2\\rline3\\r\\nend');
                 fd.append('we\"ird\\nname', 'v');
                 fd.append('file', new File([new Uint8Array([0, 1, 2, 255])], 'a \"b\".bin', { type: 'application/x-thing' }));
                 fd.append('untyped', new Blob(['zz']));
                 fd.append('uni', '\\u00e9\\u{1F600}');
                 const res = new Response(fd);
                 const ct = res.headers.get('content-type');
                 const raw = await res.clone().text();
                 const back = await res.formData();
                 const file = back.get('file');
                 const untyped = back.get('untyped');
                 return [ct.startsWith('multipart/form-data; boundary='), raw.includes('name=\"we%22ird%0D%0Aname\"'),
                         raw.includes('filename=\"a %22b%22.bin\"'), raw.includes('Content-Type: application/octet-stream'),
                         JSON.stringify(back.get('text')), back.get('we\"ird\\r\\nname'), file instanceof File, file.name,
                         file.type, [...new Uint8Array(await file.arrayBuffer())].join(), untyped.name, untyped.type,
                         back.get('uni'), [...back.keys()].join()].join('|');"
            ),
            "true|true|true|true|\"line1\\r\\nline2\\r\\nline3\\r\\nend\"|v|true|a \"b\".bin|application/x-thing|0,1,2,255|\
             blob|application/octet-stream|\u{e9}\u{1F600}|text,we\"ird\r\nname,file,untyped,uni"
        );
    }

    #[test]
    fn boundaries_are_random() {
        assert_eq!(
            run_js(
                "const ct = () => new Request('http://a/', { method: 'POST', body: new FormData() }).headers.get('content-type');
                 const a = ct(), b = ct();
                 const r = new Response(new FormData());
                 const boundary = r.headers.get('content-type').split('boundary=')[1];
                 return [a !== b, /^multipart\\/form-data; boundary=-+OutpostFormBoundary[0-9a-f]{32}$/.test(a),
                         (await r.text()) === '--' + boundary + '--\\r\\n'].join();"
            ),
            "true,true,true"
        );
    }

    #[test]
    fn parses_hand_written_multipart() {
        assert_eq!(
            run_js(
                "const body = 'preamble\\r\\n--XyZ\\r\\n' +
                   'Content-Disposition: form-data; name=\"field\"\\r\\n\\r\\n' +
                   'hello world\\r\\n' +
                   '--XyZ\\r\\n' +
                   'content-disposition: form-data; name=\"upload\"; filename=\"notes.txt\"\\r\\n' +
                   'Content-Type: Text/Plain; Charset=UTF-8\\r\\n\\r\\n' +
                   'line one\\r\\nline two\\r\\n' +
                   '--XyZ\\r\\n' +
                   'Content-Disposition: form-data; name=\"bare\"; filename=\"b.dat\"\\r\\n\\r\\n' +
                   '\\r\\n' +
                   '--XyZ\\r\\n' +
                   'Content-Disposition: form-data; name=\"empty\"\\r\\n\\r\\n' +
                   '\\r\\n' +
                   '--XyZ\\r\\n' +
                   'Content-Disposition: form-data; name=\"utf\"; filename*=UTF-8\\'\\'%C3%A9t%C3%A9.txt\\r\\n\\r\\n' +
                   'x\\r\\n' +
                   '--XyZ--\\r\\nepilogue';
                 const req = new Request('http://a/', { method: 'POST', body, headers: { 'content-type': 'multipart/form-data; boundary=\"XyZ\"' } });
                 const fd = await req.formData();
                 const up = fd.get('upload');
                 const bare = fd.get('bare');
                 return [fd.get('field'), up instanceof File, up.name, up.type, JSON.stringify(await up.text()),
                         bare.name, bare.type, bare.size, JSON.stringify(fd.get('empty')), fd.get('utf').name,
                         [...fd.keys()].join(), req.bodyUsed].join('|');"
            ),
            "hello world|true|notes.txt|text/plain; charset=utf-8|\"line one\\r\\nline two\"|b.dat|text/plain|0|\"\"|\
             \u{e9}t\u{e9}.txt|field,upload,bare,empty,utf|true"
        );
    }

    #[test]
    fn parses_urlencoded() {
        assert_eq!(
            run_js(
                "const r = new Response('a=1&b=x+y%2Bz&c=%E2%82%AC&a=2&=empty&novalue&d=%zz',
                                        { headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' } });
                 const fd = await r.formData();
                 const sp = await new Response(new URLSearchParams({ q: 'a b&c' })).formData();
                 return [fd.getAll('a').join(), fd.get('b'), fd.get('c'), fd.get(''), JSON.stringify(fd.get('novalue')),
                         fd.get('d'), [...fd.keys()].length, sp.get('q')].join('|');"
            ),
            "1,2|x y+z|\u{20ac}|empty|\"\"|%zz|7|a b&c"
        );
    }

    #[test]
    fn invalid_bodies_reject() {
        for (body, ct) in [
            ("'--b\\r\\n\\r\\nx\\r\\n--b--'", "'multipart/form-data'"),
            ("'x'", "'multipart/form-data; boundary='"),
            ("'no delimiter here'", "'multipart/form-data; boundary=b'"),
            (
                "'--b\\r\\nContent-Disposition: form-data; name=\"a\"\\r\\n\\r\\nunterminated'",
                "'multipart/form-data; boundary=b'",
            ),
            (
                "'--b\\r\\nContent-Disposition: form-data\\r\\n\\r\\nx\\r\\n--b--'",
                "'multipart/form-data; boundary=b'",
            ),
            (
                "'--b\\r\\nContent-Disposition: attachment; name=\"a\"\\r\\n\\r\\nx\\r\\n--b--'",
                "'multipart/form-data; boundary=b'",
            ),
            (
                "'--b\\r\\nBad Header\\r\\n\\r\\nx\\r\\n--b--'",
                "'multipart/form-data; boundary=b'",
            ),
            ("'--bXX'", "'multipart/form-data; boundary=b'"),
            ("'a=1'", "'text/plain'"),
            ("'a=1'", "undefined"),
            ("'a=1'", "'not a mime type'"),
        ] {
            let src = format!(
                "const h = new Headers(); if ({ct} !== undefined) h.set('content-type', {ct});
                 const r = new Response(new TextEncoder().encode({body}), {{ headers: h }});
                 const p = r.formData();
                 if (!(p instanceof Promise)) return 'not a promise';
                 try {{ await p; return 'resolved'; }} catch (e) {{ return e.constructor.name + ': ' + e.message; }}"
            );
            let out = run_js(&src);
            assert!(
                out.starts_with("TypeError: Failed to parse body as FormData"),
                "{body} / {ct}: {out}"
            );
        }
    }

    #[test]
    fn multipart_parser_unit() {
        let body = Bytes::from_static(
            b"--B\r\nContent-Disposition: form-data; name=\"a%0D%0Ab\"; filename=\"x%22y\"\r\n\
              Content-Type: image/png\r\nX-Other: ignored\r\n\r\n\x00\x01\r\n--B  \r\n\
              Content-Disposition: form-data; name=t\r\n\r\nv\r\n--B--",
        );
        let parts = parse_multipart(&body, "B").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "a\r\nb");
        assert_eq!(parts[0].filename.as_deref(), Some("x\"y"));
        assert_eq!(parts[0].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[0].body.as_ref(), b"\x00\x01");
        assert_eq!(parts[1].name, "t");
        assert_eq!(parts[1].filename, None);
        assert_eq!(parts[1].body.as_ref(), b"v");
        // The file part shares the body's memory.
        let offset = body.windows(2).position(|w| w == b"\x00\x01").unwrap();
        assert_eq!(parts[0].body.as_ptr(), body[offset..].as_ptr());
        assert!(parse_multipart(&body, "C").is_err());
        assert_eq!(normalize_newlines("a\rb\nc\r\nd"), "a\r\nb\r\nc\r\nd");
        assert_eq!(escape_name("a\"b\r\nc"), "a%22b%0D%0Ac");
        assert_eq!(unescape_name("a%22b%0d%0Ac%41%"), "a\"b\r\nc%41%");
    }

    #[test]
    fn blob_and_formdata_bodies() {
        assert_eq!(
            run_js(
                "const b = new Blob(['{\"k\":1}'], { type: 'Application/JSON' });
                 const r = new Response(b);
                 const untyped = new Response(new Blob(['x']));
                 const req = new Request('http://a/', { method: 'PUT', body: new File(['f'], 'f.txt', { type: 'text/csv' }) });
                 const over = new Response(b, { headers: { 'content-type': 'text/other' } });
                 return [r.headers.get('content-type'), (await r.json()).k, String(untyped.headers.get('content-type')),
                         req.headers.get('content-type'), await req.text(), over.headers.get('content-type')].join('|');"
            ),
            "application/json|1|null|text/csv|f|text/other"
        );
    }

    #[test]
    fn blob_method_on_bodies() {
        assert_eq!(
            run_js(
                "const r = new Response('hello', { headers: { 'content-type': 'Text/Plain;Charset=UTF-8' } });
                 const b = await r.blob();
                 const none = await new Response(new Uint8Array([1, 2])).blob();
                 const req = await new Request('http://a/', { method: 'POST', body: 'xy' }).blob();
                 const used = new Response('a'); await used.text();
                 let err; try { await used.blob(); } catch (e) { err = e.constructor.name; }
                 return [b instanceof Blob, b.type, b.size, await b.text(), JSON.stringify(none.type), none.size,
                         req.type, await req.text(), err].join('|');"
            ),
            "true|text/plain;charset=UTF-8|5|hello|\"\"|2|text/plain;charset=UTF-8|xy|TypeError"
        );
    }

    /// `formData()`/`blob()` on a body the host streams in (the path of an
    /// incoming upload), which goes through the async read.
    #[test]
    fn parses_host_bodies() {
        use http_body_util::BodyExt;
        let out = crate::testing::block_on_local(async {
            let qjs = rquickjs::AsyncRuntime::new().unwrap();
            let ctx = rquickjs::AsyncContext::full(&qjs).await.unwrap();
            let out = ctx
                .async_with(async |ctx| {
                    crate::install(&ctx).unwrap();
                    let request = |body: &'static str, ct: &str| {
                        let mut headers = http::HeaderMap::new();
                        headers.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
                        let host = http_body_util::Full::new(Bytes::from_static(body.as_bytes()))
                            .map_err(|e| match e {})
                            .boxed_unsync();
                        let req = crate::request::Request::incoming(
                            "POST",
                            "http://a/".into(),
                            headers,
                            Some(host),
                        );
                        Class::instance(ctx.clone(), req).unwrap()
                    };
                    let good = "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\n\r\nhi\r\n--b--";
                    let globals = ctx.globals();
                    globals.set("good", request(good, "multipart/form-data; boundary=b")).unwrap();
                    globals.set("bad", request("--b\r\n", "multipart/form-data; boundary=b")).unwrap();
                    globals.set("typed", request("abc", "image/png")).unwrap();
                    let p: rquickjs::Promise = ctx
                        .eval(
                            "(async () => {
                               const f = (await good.formData()).get('f');
                               let err; try { await bad.formData(); } catch (e) { err = e.constructor.name; }
                               const b = await typed.blob();
                               return [f.name, await f.text(), err, b.type, b.size].join('|');
                             })()",
                        )
                        .unwrap();
                    p.into_future::<String>().await.unwrap()
                })
                .await;
            qjs.idle().await;
            out
        });
        assert_eq!(out, "x.txt|hi|TypeError|image/png|3");
    }

    #[test]
    fn many_forms_are_collected() {
        assert_eq!(
            run_js(
                "for (let i = 0; i < 50; i++) {
                   const fd = new FormData();
                   fd.append('f', new Blob(['x' + i]));
                   fd.self = fd;
                   const it = fd.entries(); it.form = fd;
                   await new Response(fd).formData();
                 }
                 return 'ok';"
            ),
            "ok"
        );
    }
}
