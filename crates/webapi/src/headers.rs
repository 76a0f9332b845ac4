//! `Headers`: an HTTP header list backed by `http::HeaderMap`, so the host can
//! hand it to hyper (and take it from hyper) without re-parsing.
//!
//! Spec: <https://fetch.spec.whatwg.org/#headers-class>

use http::header::{HeaderMap, HeaderName, HeaderValue, SET_COOKIE};
use rquickjs::{
    atom::PredefinedAtom, class::Trace, function::Opt, qjs, Array, Class, Ctx, Function,
    JsLifetime, Object, Result, Value,
};

use crate::error::{OrThrow, WebApiError};

/// QuickJS's class id of ordinary objects (`{}`), which are never `Headers`.
const ORDINARY_OBJECT_CLASS: u32 = 1;

/// Who may change a `Headers` object.
///
/// Spec: <https://fetch.spec.whatwg.org/#concept-headers-guard>
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Guard {
    /// Anyone (headers built by user code).
    #[default]
    None,
    /// Nobody (headers of a request delivered to a handler, of a fetch response).
    Immutable,
}

/// The JS `Headers` class.
#[derive(Debug, Default, Clone, JsLifetime)]
#[rquickjs::class]
pub struct Headers {
    map: HeaderMap,
    guard: Guard,
}

impl<'js> Trace<'js> for Headers {
    fn trace<'a>(&self, _tracer: rquickjs::class::Tracer<'a, 'js>) {}
}

impl Headers {
    /// Wraps a header map with the given guard.
    pub fn from_map(map: HeaderMap, guard: Guard) -> Self {
        Self { map, guard }
    }

    /// The underlying header map.
    pub fn map(&self) -> &HeaderMap {
        &self.map
    }

    /// Takes the header map out, leaving this object empty.
    pub fn take_map(&mut self) -> HeaderMap {
        std::mem::take(&mut self.map)
    }

    /// Adds `name: value` after validating both, as `append` does.
    pub fn append_pair(&mut self, name: &str, value: &str) -> std::result::Result<(), WebApiError> {
        let (name, value) = validate(name.as_bytes(), value.as_bytes())?;
        self.map.append(name, value);
        Ok(())
    }

    /// Sets `name: value`, replacing earlier values, as `set` does.
    pub fn set_pair(&mut self, name: &str, value: &str) -> std::result::Result<(), WebApiError> {
        let (name, value) = validate(name.as_bytes(), value.as_bytes())?;
        self.map.insert(name, value);
        Ok(())
    }

    /// Fills a header list from a `HeadersInit` (Headers, sequence of pairs, or record).
    pub fn fill<'js>(&mut self, ctx: &Ctx<'js>, init: Value<'js>) -> Result<()> {
        if init.is_undefined() || init.is_null() {
            return Ok(());
        }
        let raw = ctx.as_raw().as_ptr();
        // SAFETY: reads the tag and class id of a live value.
        let (is_object, ordinary) = unsafe {
            let is_object = qjs::JS_VALUE_GET_TAG(init.as_raw()) == qjs::JS_TAG_OBJECT;
            (
                is_object,
                is_object && qjs::JS_GetClassID(init.as_raw()) == ORDINARY_OBJECT_CLASS,
            )
        };
        if !ordinary {
            if let Some(other) = crate::webidl::class_of::<Headers>(&init) {
                self.map.extend(other.borrow().map.clone());
                return Ok(());
            }
        }
        if !is_object {
            return Err(WebApiError::type_error(
                "Headers init must be an object, an array of pairs or a Headers",
            )
            .throw(ctx));
        }
        // SAFETY: `init` is a live object of `ctx`; the result is owned by
        // the `Value` made of it.
        let iter_fn = unsafe {
            let f = qjs::JS_GetProperty(
                raw,
                init.as_raw(),
                qjs::JS_ATOM_Symbol_iterator as qjs::JSAtom,
            );
            if qjs::JS_IsException(f) {
                return Err(rquickjs::Error::Exception);
            }
            Value::from_raw(ctx.clone(), f)
        };
        if iter_fn.is_function() {
            let arr: Array = ctx
                .globals()
                .get::<_, Object>("Array")?
                .get::<_, Function>("from")?
                .call((init.clone(),))?;
            for pair in arr.iter::<Value>() {
                let pair: Array = Array::from_value(pair?).map_err(|_| {
                    WebApiError::type_error("Each header pair must be an iterable [name, value]")
                        .throw(ctx)
                })?;
                if pair.len() != 2 {
                    return Err(WebApiError::type_error(
                        "Each header pair must have exactly two items",
                    )
                    .throw(ctx));
                }
                let name: rquickjs::Coerced<String> = pair.get(0)?;
                let value: rquickjs::Coerced<String> = pair.get(1)?;
                self.append_pair(&name.0, &value.0).or_throw(ctx)?;
            }
        } else {
            self.fill_record(ctx, &init)?;
        }
        Ok(())
    }

    /// Fills from a `record<ByteString, ByteString>`, the usual
    /// `{ "content-type": "..." }` of a response. This goes to the engine
    /// directly: keys stay atoms and both strings are read in place (QuickJS
    /// lends an ASCII string's bytes without copying), where rquickjs's
    /// wrappers cost more than the header itself.
    ///
    /// Spec: <https://webidl.spec.whatwg.org/#es-record>
    fn fill_record<'js>(&mut self, ctx: &Ctx<'js>, obj: &Value<'js>) -> Result<()> {
        let raw = ctx.as_raw().as_ptr();
        let mut tab: *mut qjs::JSPropertyEnum = std::ptr::null_mut();
        let mut len: u32 = 0;
        let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_ENUM_ONLY) as i32;
        // SAFETY: `obj` is a live object of `ctx`; the table is freed below.
        unsafe {
            if qjs::JS_GetOwnPropertyNames(raw, &mut tab, &mut len, obj.as_raw(), flags) < 0 {
                return Err(rquickjs::Error::Exception);
            }
            let result = self.fill_props(ctx, obj, std::slice::from_raw_parts(tab, len as usize));
            qjs::JS_FreePropertyEnum(raw, tab, len);
            result
        }
    }

    /// # Safety
    /// `props` must be own property names of `obj`, a live object of `ctx`.
    unsafe fn fill_props<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        obj: &Value<'js>,
        props: &[qjs::JSPropertyEnum],
    ) -> Result<()> {
        let raw = ctx.as_raw().as_ptr();
        for prop in props {
            let value = qjs::JS_GetProperty(raw, obj.as_raw(), prop.atom);
            if qjs::JS_IsException(value) {
                return Err(rquickjs::Error::Exception);
            }
            // Owns the value from here on.
            let value = Value::from_raw(ctx.clone(), value);
            let name = EngineUtf8::of_atom(raw, prop.atom)?;
            let value = EngineUtf8::of_value(raw, value.as_raw())?;
            let (name, value) = validate(name.bytes(), value.bytes()).or_throw(ctx)?;
            self.map.append(name, value);
        }
        Ok(())
    }
    fn check_mutable(&self) -> std::result::Result<(), WebApiError> {
        match self.guard {
            Guard::None => Ok(()),
            Guard::Immutable => Err(WebApiError::type_error("Can't modify immutable headers.")),
        }
    }

    /// The sorted-and-combined list that iteration walks.
    ///
    /// Spec: <https://fetch.spec.whatwg.org/#concept-header-list-sort-and-combine>
    pub fn sorted_pairs(&self) -> Vec<(String, String)> {
        let mut names: Vec<&HeaderName> = self.map.keys().collect();
        names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if name == SET_COOKIE {
                for v in self.map.get_all(name) {
                    out.push((name.as_str().to_owned(), value_string(v)));
                }
            } else {
                out.push((
                    name.as_str().to_owned(),
                    combined(&self.map, name.as_str()).unwrap_or_default(),
                ));
            }
        }
        out
    }
}

fn value_string(v: &HeaderValue) -> String {
    // Header values are byte strings; each byte maps to one code unit (Latin-1).
    v.as_bytes().iter().map(|&b| b as char).collect()
}

fn combined(map: &HeaderMap, name: &str) -> Option<String> {
    let mut values = map.get_all(name).iter();
    let first = values.next()?;
    let mut s = value_string(first);
    for v in values {
        s.push_str(", ");
        s.push_str(&value_string(v));
    }
    Some(s)
}

/// The bytes QuickJS converts a string to, borrowed from the engine: UTF-8,
/// except that an unpaired surrogate comes out as its 3-byte (invalid UTF-8)
/// encoding, which is why they are not read as a `str`.
struct EngineUtf8 {
    ctx: *mut qjs::JSContext,
    ptr: *const std::ffi::c_char,
    len: usize,
}

impl EngineUtf8 {
    /// The name of a property.
    ///
    /// # Safety
    /// `atom` must be live in `ctx`.
    unsafe fn of_atom(ctx: *mut qjs::JSContext, atom: qjs::JSAtom) -> Result<Self> {
        let mut len: qjs::size_t = 0;
        let ptr = qjs::JS_AtomToCStringLen(ctx, &mut len, atom);
        Self::checked(ctx, ptr, len as usize)
    }

    /// `ToString(value)`, which may run script (and throw) for an object.
    ///
    /// # Safety
    /// `value` must be live in `ctx`.
    unsafe fn of_value(ctx: *mut qjs::JSContext, value: qjs::JSValue) -> Result<Self> {
        let mut len: usize = 0;
        let ptr = qjs::JS_ToCStringLen(ctx, &mut len, value);
        Self::checked(ctx, ptr, len)
    }

    fn checked(ctx: *mut qjs::JSContext, ptr: *const std::ffi::c_char, len: usize) -> Result<Self> {
        if ptr.is_null() {
            // The engine has the exception (or ran out of memory).
            return Err(rquickjs::Error::Exception);
        }
        Ok(Self { ctx, ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the engine keeps `len` bytes at `ptr` until freed in `drop`.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for EngineUtf8 {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `JS_ToCStringLen`/`JS_AtomToCStringLen` of `ctx`.
        unsafe { qjs::JS_FreeCString(self.ctx, self.ptr) }
    }
}

/// Validates a header name and normalizes a value (strips leading and trailing
/// HTTP whitespace), rejecting what the spec rejects. Both come as the UTF-8
/// of the JS strings.
fn validate(
    name: &[u8],
    value: &[u8],
) -> std::result::Result<(HeaderName, HeaderValue), WebApiError> {
    let header_name = HeaderName::from_bytes(name).map_err(|_| {
        WebApiError::type_error(format!(
            "Invalid header name: \"{}\"",
            String::from_utf8_lossy(name)
        ))
    })?;
    let header_value = byte_string_value(value).ok_or_else(|| {
        WebApiError::type_error(format!(
            "Invalid header value for \"{}\"",
            String::from_utf8_lossy(name)
        ))
    })?;
    Ok((header_name, header_value))
}

/// A header value from the UTF-8 of a JS string read as a `ByteString`
/// (each code unit one byte), trimmed of HTTP whitespace; `None` when a code
/// unit is over 0xFF or is NUL, LF or CR.
fn byte_string_value(utf8: &[u8]) -> Option<HeaderValue> {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let start = utf8.iter().position(|b| !is_space(b)).unwrap_or(utf8.len());
    let end = utf8
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    let trimmed = &utf8[start..end];
    if trimmed.is_ascii() {
        // The common case: UTF-8 and Latin-1 agree, and `HeaderValue`
        // rejects NUL, LF and CR (with every other control but tab) itself.
        return HeaderValue::from_bytes(trimmed).ok();
    }
    let text = std::str::from_utf8(trimmed).ok()?;
    let mut bytes = Vec::with_capacity(trimmed.len());
    for c in text.chars() {
        let code = c as u32;
        if code > 0xFF || code == 0 || code == 0x0A || code == 0x0D {
            return None;
        }
        bytes.push(code as u8);
    }
    HeaderValue::from_bytes(&bytes).ok()
}

fn lower_name(name: &str) -> std::result::Result<HeaderName, WebApiError> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| WebApiError::type_error(format!("Invalid header name: \"{name}\"")))
}

#[rquickjs::methods]
impl Headers {
    #[qjs(prop, rename = rquickjs::atom::PredefinedAtom::SymbolToStringTag, configurable)]
    fn to_string_tag() -> &'static str {
        "Headers"
    }

    #[qjs(constructor)]
    fn new<'js>(ctx: Ctx<'js>, init: Opt<Value<'js>>) -> Result<Self> {
        let mut h = Headers::default();
        if let Some(init) = init.0 {
            h.fill(&ctx, init)?;
        }
        Ok(h)
    }

    fn append(&mut self, ctx: Ctx<'_>, name: String, value: String) -> Result<()> {
        self.check_mutable().or_throw(&ctx)?;
        self.append_pair(&name, &value).or_throw(&ctx)
    }

    fn set(&mut self, ctx: Ctx<'_>, name: String, value: String) -> Result<()> {
        self.check_mutable().or_throw(&ctx)?;
        self.set_pair(&name, &value).or_throw(&ctx)
    }

    fn delete(&mut self, ctx: Ctx<'_>, name: String) -> Result<()> {
        self.check_mutable().or_throw(&ctx)?;
        let name = lower_name(&name).or_throw(&ctx)?;
        self.map.remove(name);
        Ok(())
    }

    fn get<'js>(&self, ctx: Ctx<'js>, name: String) -> Result<Value<'js>> {
        let name = lower_name(&name).or_throw(&ctx)?;
        match combined(&self.map, name.as_str()) {
            Some(v) => rquickjs::IntoJs::into_js(v, &ctx),
            None => Ok(Value::new_null(ctx)),
        }
    }

    fn has(&self, ctx: Ctx<'_>, name: String) -> Result<bool> {
        let name = lower_name(&name).or_throw(&ctx)?;
        Ok(self.map.contains_key(name))
    }

    #[qjs(rename = "getSetCookie")]
    fn get_set_cookie(&self) -> Vec<String> {
        self.map
            .get_all(SET_COOKIE)
            .iter()
            .map(value_string)
            .collect()
    }

    #[qjs(rename = "forEach")]
    fn for_each<'js>(
        &self,
        this: rquickjs::function::This<Class<'js, Headers>>,
        callback: Function<'js>,
    ) -> Result<()> {
        for (name, value) in self.sorted_pairs() {
            callback.call::<_, ()>((value, name, this.0.clone()))?;
        }
        Ok(())
    }

    fn entries<'js>(&self, ctx: Ctx<'js>) -> Result<Value<'js>> {
        let pairs: Vec<Vec<String>> = self
            .sorted_pairs()
            .into_iter()
            .map(|(n, v)| vec![n, v])
            .collect();
        array_iterator(&ctx, pairs)
    }

    fn keys<'js>(&self, ctx: Ctx<'js>) -> Result<Value<'js>> {
        let names: Vec<String> = self.sorted_pairs().into_iter().map(|(n, _)| n).collect();
        array_iterator(&ctx, names)
    }

    fn values<'js>(&self, ctx: Ctx<'js>) -> Result<Value<'js>> {
        let values: Vec<String> = self.sorted_pairs().into_iter().map(|(_, v)| v).collect();
        array_iterator(&ctx, values)
    }

    #[qjs(rename = PredefinedAtom::SymbolIterator)]
    fn iterator<'js>(&self, ctx: Ctx<'js>) -> Result<Value<'js>> {
        self.entries(ctx)
    }
}

/// Returns `items[Symbol.iterator]()` for a fresh JS array of `items`.
pub(crate) fn array_iterator<'js, T: rquickjs::IntoJs<'js>>(
    ctx: &Ctx<'js>,
    items: Vec<T>,
) -> Result<Value<'js>> {
    let arr = Array::new(ctx.clone())?;
    for (i, item) in items.into_iter().enumerate() {
        arr.set(i, item)?;
    }
    let iter: Function = arr.as_object().get(PredefinedAtom::SymbolIterator)?;
    iter.call((rquickjs::function::This(arr),))
}

/// Installs the `Headers` global.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    Class::<Headers>::define(&ctx.globals())
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    #[test]
    fn combines_and_sorts() {
        let out = run_js(
            "const h = new Headers({'X-B': '1', 'x-a': ' 2 '}); h.append('x-b', '3');
             return JSON.stringify([...h]) + '|' + h.get('X-B') + '|' + h.has('x-a') + '|' + h.get('nope');",
        );
        assert_eq!(out, r#"[["x-a","2"],["x-b","1, 3"]]|1, 3|true|null"#);
    }

    #[test]
    fn set_cookie_is_not_combined() {
        let out = run_js(
            "const h = new Headers([['Set-Cookie', 'a=1'], ['set-cookie', 'b=2']]);
             return JSON.stringify([h.getSetCookie(), [...h.keys()], h.get('set-cookie')]);",
        );
        assert_eq!(
            out,
            r#"[["a=1","b=2"],["set-cookie","set-cookie"],"a=1, b=2"]"#
        );
    }

    #[test]
    fn rejects_invalid_names_and_values() {
        assert!(run_js("new Headers({'bad name': 'x'})").starts_with("THROWN TypeError"));
        assert!(run_js("new Headers().set('x', 'a\\nb')").starts_with("THROWN TypeError"));
        assert!(run_js("new Headers().set('x', '\\u0100')").starts_with("THROWN TypeError"));
        assert!(run_js("new Headers([['a']])").starts_with("THROWN TypeError"));
    }

    /// A record is read straight from the engine; these are the conversions
    /// it must still make.
    #[test]
    fn records_convert_keys_and_values() {
        let out = run_js(
            "let reads = 0;
             const init = {b: 1, 2: true, get a() { reads++; return 'x\\u00e9'; }, [Symbol('s')]: 'skipped'};
             Object.defineProperty(init, 'hidden', {value: 'no', enumerable: false});
             const h = new Headers(init);
             const e = h.get('a');
             return JSON.stringify([[...h], reads, e.length, e.charCodeAt(1)]);",
        );
        assert_eq!(out, r#"[[["2","true"],["a","xé"],["b","1"]],1,2,233]"#);
        assert!(run_js("new Headers({a: Symbol('s')})").starts_with("THROWN TypeError"));
        assert!(run_js("new Headers({a: '\\ud800'})").starts_with("THROWN TypeError"));
        assert!(run_js("new Headers({'a': '\\u0100'})").starts_with("THROWN TypeError"));
        assert!(
            run_js("new Headers({get a() { throw new RangeError('from getter'); }})")
                .starts_with("THROWN RangeError")
        );
        assert!(
            run_js("new Headers({a: {toString() { throw new SyntaxError('ts'); }}})")
                .starts_with("THROWN SyntaxError")
        );
    }

    #[test]
    fn delete_set_and_foreach() {
        let out = run_js(
            "const h = new Headers(new Headers({a: '1', b: '2'})); h.delete('A'); h.set('c', '3'); h.set('c', '4');
             const seen = []; h.forEach((v, k, o) => seen.push(k + '=' + v + (o === h)));
             return seen.join(',');",
        );
        assert_eq!(out, "b=2true,c=4true");
    }
}
