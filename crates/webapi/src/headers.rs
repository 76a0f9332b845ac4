//! `Headers`: an HTTP header list backed by `http::HeaderMap`, so the host can
//! hand it to hyper (and take it from hyper) without re-parsing.
//!
//! Spec: <https://fetch.spec.whatwg.org/#headers-class>

use http::header::{HeaderMap, HeaderName, HeaderValue, SET_COOKIE};
use rquickjs::{
    atom::PredefinedAtom, class::Trace, function::Opt, Array, Class, Ctx, Function, JsLifetime,
    Object, Result, Value,
};

use crate::error::{OrThrow, WebApiError};

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
        let (name, value) = validate(name, value)?;
        self.map.append(name, value);
        Ok(())
    }

    /// Sets `name: value`, replacing earlier values, as `set` does.
    pub fn set_pair(&mut self, name: &str, value: &str) -> std::result::Result<(), WebApiError> {
        let (name, value) = validate(name, value)?;
        self.map.insert(name, value);
        Ok(())
    }

    /// Fills a header list from a `HeadersInit` (Headers, sequence of pairs, or record).
    pub fn fill<'js>(&mut self, ctx: &Ctx<'js>, init: Value<'js>) -> Result<()> {
        if init.is_undefined() || init.is_null() {
            return Ok(());
        }
        if let Some(other) = crate::webidl::class_of::<Headers>(&init) {
            self.map.extend(other.borrow().map.clone());
            return Ok(());
        }
        let Some(obj) = init.as_object() else {
            return Err(WebApiError::type_error(
                "Headers init must be an object, an array of pairs or a Headers",
            )
            .throw(ctx));
        };
        let iter_fn: Value = obj.get(PredefinedAtom::SymbolIterator)?;
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
            for key in obj.keys::<String>() {
                let key = key?;
                let value: rquickjs::Coerced<String> = obj.get(&key)?;
                self.append_pair(&key, &value.0).or_throw(ctx)?;
            }
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

/// Validates a header name and normalizes a value (strips leading and trailing
/// HTTP whitespace), rejecting what the spec rejects.
fn validate(
    name: &str,
    value: &str,
) -> std::result::Result<(HeaderName, HeaderValue), WebApiError> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| WebApiError::type_error(format!("Invalid header name: \"{name}\"")))?;
    let trimmed = value.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    let mut bytes = Vec::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        let code = c as u32;
        if code > 0xFF || code == 0 || code == 0x0A || code == 0x0D {
            return Err(WebApiError::type_error(format!(
                "Invalid header value for \"{name}\""
            )));
        }
        bytes.push(code as u8);
    }
    let header_value = HeaderValue::from_bytes(&bytes)
        .map_err(|_| WebApiError::type_error(format!("Invalid header value for \"{name}\"")))?;
    Ok((header_name, header_value))
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
