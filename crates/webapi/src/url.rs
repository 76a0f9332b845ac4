//! `URL` and `URLSearchParams` on the `url` crate, which implements the WHATWG
//! URL parser and the setters' state overrides (`url::quirks`).
//!
//! Spec: <https://url.spec.whatwg.org/#api>
//!
//! A `URL` creates its `URLSearchParams` on first access of `searchParams`
//! (the object is then kept, as `[SameObject]` requires); the two hold each
//! other and stay in sync both ways: setting `href`/`search` re-parses the
//! list, and every list mutation re-serializes the URL's query.

use rquickjs::{
    atom::PredefinedAtom,
    class::Trace,
    function::{Opt, This},
    object::Filter,
    Array, Atom, Class, Ctx, JsLifetime, Object, Result, Value,
};
use url::{form_urlencoded, quirks};

use crate::error::{OrThrow, WebApiError};
use crate::webidl::{collect_iterable, iterator_method, to_usv_string};

fn optional_usv<'js>(ctx: &Ctx<'js>, v: Opt<Value<'js>>) -> Result<Option<String>> {
    match v.0 {
        Some(v) if !v.is_undefined() => Ok(Some(to_usv_string(ctx, v)?)),
        _ => Ok(None),
    }
}

/// Parses `input` against an optional `base`, both as the API does: a base
/// that fails to parse makes the whole parse fail.
///
/// Spec: <https://url.spec.whatwg.org/#api-url-parser>
pub fn parse_url(input: &str, base: Option<&str>) -> Option<url::Url> {
    let base = match base {
        Some(b) => Some(url::Url::parse(b).ok()?),
        None => None,
    };
    url::Url::options()
        .base_url(base.as_ref())
        .parse(input)
        .ok()
}

fn invalid_url<T>(ctx: &Ctx<'_>) -> Result<T> {
    Err(WebApiError::type_error("Invalid URL string.")).or_throw(ctx)
}

/// Parses a query (or `application/x-www-form-urlencoded` body) into pairs.
///
/// Spec: <https://url.spec.whatwg.org/#concept-urlencoded-parser>
fn parse_pairs(input: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(input.as_bytes())
        .into_owned()
        .collect()
}

/// Spec: <https://url.spec.whatwg.org/#concept-urlencoded-serializer>
fn serialize_pairs(list: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(list)
        .finish()
}

/// The JS `URL` class.
///
/// Spec: <https://url.spec.whatwg.org/#url-class>
#[derive(Trace, JsLifetime)]
#[rquickjs::class(rename = "URL")]
pub struct Url<'js> {
    #[qjs(skip_trace)]
    url: url::Url,
    search_params: Option<Class<'js, UrlSearchParams<'js>>>,
}

impl<'js> Url<'js> {
    /// Wraps a parsed URL.
    pub fn from_url(url: url::Url) -> Self {
        Self {
            url,
            search_params: None,
        }
    }

    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// Re-parses the linked `URLSearchParams` list after the query changed.
    fn sync_params(&self) {
        if let Some(sp) = &self.search_params {
            sp.borrow_mut().list = parse_pairs(self.url.query().unwrap_or(""));
        }
    }
}

#[rquickjs::methods]
impl<'js> Url<'js> {
    /// `new URL(url, base)`; throws a `TypeError` when either fails to parse.
    #[qjs(constructor)]
    pub fn new(
        ctx: Ctx<'js>,
        new_target: This<Value<'js>>,
        input: Value<'js>,
        base: Opt<Value<'js>>,
    ) -> Result<Self> {
        crate::webidl::require_new(&ctx, &new_target.0, "URL")?;
        let input = to_usv_string(&ctx, input)?;
        let base = optional_usv(&ctx, base)?;
        match parse_url(&input, base.as_deref()) {
            Some(url) => Ok(Self::from_url(url)),
            None => invalid_url(&ctx),
        }
    }

    /// Spec: <https://url.spec.whatwg.org/#dom-url-canparse>
    #[qjs(static, rename = "canParse")]
    pub fn can_parse(ctx: Ctx<'js>, input: Value<'js>, base: Opt<Value<'js>>) -> Result<bool> {
        let input = to_usv_string(&ctx, input)?;
        let base = optional_usv(&ctx, base)?;
        Ok(parse_url(&input, base.as_deref()).is_some())
    }

    /// Spec: <https://url.spec.whatwg.org/#dom-url-parse>
    #[qjs(static, rename = "parse")]
    pub fn static_parse(
        ctx: Ctx<'js>,
        input: Value<'js>,
        base: Opt<Value<'js>>,
    ) -> Result<Value<'js>> {
        let input = to_usv_string(&ctx, input)?;
        let base = optional_usv(&ctx, base)?;
        match parse_url(&input, base.as_deref()) {
            Some(url) => Ok(Class::instance(ctx, Self::from_url(url))?.into_value()),
            None => Ok(Value::new_null(ctx)),
        }
    }

    #[qjs(get, rename = "href", enumerable)]
    pub fn get_href(&self) -> String {
        self.url.as_str().to_owned()
    }

    /// Spec: <https://url.spec.whatwg.org/#dom-url-href>
    #[qjs(set, rename = "href", enumerable)]
    pub fn set_href(&mut self, ctx: Ctx<'js>, value: Value<'js>) -> Result<()> {
        let value = to_usv_string(&ctx, value)?;
        match url::Url::parse(&value) {
            Ok(url) => {
                self.url = url;
                self.sync_params();
                Ok(())
            }
            Err(_) => invalid_url(&ctx),
        }
    }

    #[qjs(rename = "toString")]
    pub fn js_to_string(&self) -> String {
        self.get_href()
    }

    #[qjs(rename = "toJSON")]
    pub fn to_json(&self) -> String {
        self.get_href()
    }

    #[qjs(get, rename = "origin", enumerable)]
    pub fn get_origin(&self) -> String {
        quirks::origin(&self.url)
    }

    #[qjs(get, rename = "protocol", enumerable)]
    pub fn get_protocol(&self) -> String {
        quirks::protocol(&self.url).to_owned()
    }

    #[qjs(set, rename = "protocol", enumerable)]
    pub fn set_protocol(&mut self, ctx: Ctx<'js>, value: Value<'js>) -> Result<()> {
        let value = to_usv_string(&ctx, value)?;
        let _ = quirks::set_protocol(&mut self.url, &value);
        Ok(())
    }

    #[qjs(get, rename = "username", enumerable)]
    pub fn get_username(&self) -> String {
        quirks::username(&self.url).to_owned()
    }

    #[qjs(set, rename = "username", enumerable)]
    pub fn set_username(&mut self, ctx: Ctx<'js>, value: Value<'js>) -> Result<()> {
        let value = to_usv_string(&ctx, value)?;
        let _ = quirks::set_username(&mut self.url, &value);
        Ok(())
    }

    #[qjs(get, rename = "password", enumerable)]
    pub fn get_password(&self) -> String {
        quirks::password(&self.url).to_owned()
    }

    #[qjs(set, rename = "password", enumerable)]
    pub fn set_password(&mut self, ctx: Ctx<'js>, value: Value<'js>) -> Result<()> {
        let value = to_usv_string(&ctx, value)?;
        let _ = quirks::set_password(&mut self.url, &value);
        Ok(())
    }

    #[qjs(get, rename = "host", enumerable)]
    pub fn get_host(&self) -> String {
        quirks::host(&self.url).to_owned()
    }

    #[qjs(set, rename = "host", enumerable)]
    pub fn set_host(&mut self, ctx: Ctx<'js>, value: Value<'js>) -> Result<()> {
        let value = to_usv_string(&ctx, value)?;
        let _ = quirks::set_host(&mut self.url, &value);
        Ok(())
    }

    #[qjs(get, rename = "hostname", enumerable)]
    pub fn get_hostname(&self) -> String {
        quirks::hostname(&self.url).to_owned()
    }

    #[qjs(set, rename = "hostname", enumerable)]
    pub fn set_hostname(&mut self, ctx: Ctx<'js>, value: Value<'js>) -> Result<()> {
        let value = to_usv_string(&ctx, value)?;
        let _ = quirks::set_hostname(&mut self.url, &value);
        Ok(())
    }

    #[qjs(get, rename = "port", enumerable)]
    pub fn get_port(&self) -> String {
        quirks::port(&self.url).to_owned()
    }

    #[qjs(set, rename = "port", enumerable)]
    pub fn set_port(&mut self, ctx: Ctx<'js>, value: Value<'js>) -> Result<()> {
        let value = to_usv_string(&ctx, value)?;
        if value.is_empty() {
            // The empty string removes the port; `set_port` refuses when the URL
            // cannot have one (no host, empty host, `file:`), as the spec says.
            let _ = self.url.set_port(None);
        } else {
            let _ = quirks::set_port(&mut self.url, &value);
        }
        Ok(())
    }

    #[qjs(get, rename = "pathname", enumerable)]
    pub fn get_pathname(&self) -> String {
        quirks::pathname(&self.url).to_owned()
    }

    #[qjs(set, rename = "pathname", enumerable)]
    pub fn set_pathname(&mut self, ctx: Ctx<'js>, value: Value<'js>) -> Result<()> {
        let value = to_usv_string(&ctx, value)?;
        quirks::set_pathname(&mut self.url, &value);
        Ok(())
    }

    #[qjs(get, rename = "search", enumerable)]
    pub fn get_search(&self) -> String {
        quirks::search(&self.url).to_owned()
    }

    /// Spec: <https://url.spec.whatwg.org/#dom-url-search>
    #[qjs(set, rename = "search", enumerable)]
    pub fn set_search(&mut self, ctx: Ctx<'js>, value: Value<'js>) -> Result<()> {
        let value = to_usv_string(&ctx, value)?;
        quirks::set_search(&mut self.url, &value);
        self.sync_params();
        Ok(())
    }

    #[qjs(get, rename = "hash", enumerable)]
    pub fn get_hash(&self) -> String {
        quirks::hash(&self.url).to_owned()
    }

    #[qjs(set, rename = "hash", enumerable)]
    pub fn set_hash(&mut self, ctx: Ctx<'js>, value: Value<'js>) -> Result<()> {
        let value = to_usv_string(&ctx, value)?;
        quirks::set_hash(&mut self.url, &value);
        Ok(())
    }

    /// The live `URLSearchParams` for this URL's query, created on first use.
    #[qjs(get, rename = "searchParams", enumerable)]
    pub fn get_search_params(
        ctx: Ctx<'js>,
        this: This<Class<'js, Url<'js>>>,
    ) -> Result<Class<'js, UrlSearchParams<'js>>> {
        let existing = this.0.borrow().search_params.clone();
        if let Some(sp) = existing {
            return Ok(sp);
        }
        let list = parse_pairs(this.0.borrow().url.query().unwrap_or(""));
        let sp = Class::instance(
            ctx,
            UrlSearchParams {
                list,
                url: Some(this.0.clone()),
            },
        )?;
        this.0.borrow_mut().search_params = Some(sp.clone());
        Ok(sp)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "URL"
    }
}

/// The JS `URLSearchParams` class: an ordered list of name/value pairs.
///
/// Spec: <https://url.spec.whatwg.org/#interface-urlsearchparams>
#[derive(Trace, JsLifetime, Default)]
#[rquickjs::class(rename = "URLSearchParams")]
pub struct UrlSearchParams<'js> {
    #[qjs(skip_trace)]
    list: Vec<(String, String)>,
    url: Option<Class<'js, Url<'js>>>,
}

impl<'js> UrlSearchParams<'js> {
    /// The name/value pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.list
    }

    /// Builds a list from pairs (not linked to any URL).
    pub fn from_pairs(list: Vec<(String, String)>) -> Self {
        Self { list, url: None }
    }

    /// Spec: <https://url.spec.whatwg.org/#concept-urlsearchparams-update>
    fn update(&self) {
        if let Some(url) = &self.url {
            let query = serialize_pairs(&self.list);
            let mut url = url.borrow_mut();
            url.url
                .set_query(if query.is_empty() { None } else { Some(&query) });
        }
    }

    fn init_from_object(ctx: &Ctx<'js>, init: &Value<'js>) -> Result<Vec<(String, String)>> {
        if let Some(other) = crate::webidl::class_of::<UrlSearchParams>(init) {
            return Ok(other.borrow().list.clone());
        }
        if let Some(method) = iterator_method(ctx, init)? {
            let mut list = Vec::new();
            for pair in collect_iterable(ctx, init, &method)? {
                let Some(pair_method) = iterator_method(ctx, &pair)? else {
                    return Err(WebApiError::type_error(
                        "Failed to construct 'URLSearchParams': the provided value cannot be converted to a sequence.",
                    ))
                    .or_throw(ctx);
                };
                let items = collect_iterable(ctx, &pair, &pair_method)?;
                if items.len() != 2 {
                    return Err(WebApiError::type_error(
                        "Failed to construct 'URLSearchParams': each query pair must be an iterable [name, value] tuple.",
                    ))
                    .or_throw(ctx);
                }
                let mut items = items.into_iter();
                let name = to_usv_string(
                    ctx,
                    items
                        .next()
                        .unwrap_or_else(|| Value::new_undefined(ctx.clone())),
                )?;
                let value = to_usv_string(
                    ctx,
                    items
                        .next()
                        .unwrap_or_else(|| Value::new_undefined(ctx.clone())),
                )?;
                list.push((name, value));
            }
            return Ok(list);
        }
        // record<USVString, USVString>
        let obj = init.as_object().ok_or(rquickjs::Error::Unknown)?;
        let keys: Vec<Atom<'js>> = obj
            .own_keys::<Atom>(Filter::new().string().symbol().enum_only())
            .collect::<Result<_>>()?;
        let mut list = Vec::with_capacity(keys.len());
        for key in keys {
            let name = to_usv_string(ctx, key.to_value()?)?;
            let value: Value = obj.get(key)?;
            list.push((name, to_usv_string(ctx, value)?));
        }
        Ok(list)
    }
}

#[rquickjs::methods(rename_all = "camelCase")]
impl<'js> UrlSearchParams<'js> {
    /// `new URLSearchParams(init)` from a query string (leading `?` ignored),
    /// a sequence of pairs, a record, or another `URLSearchParams`.
    ///
    /// Spec: <https://url.spec.whatwg.org/#dom-urlsearchparams-urlsearchparams>
    #[qjs(constructor)]
    pub fn new(ctx: Ctx<'js>, new_target: This<Value<'js>>, init: Opt<Value<'js>>) -> Result<Self> {
        crate::webidl::require_new(&ctx, &new_target.0, "URLSearchParams")?;
        let list = match init.0 {
            None => Vec::new(),
            Some(v) if v.is_undefined() => Vec::new(),
            Some(v) if v.is_object() => Self::init_from_object(&ctx, &v)?,
            Some(v) => {
                let s = to_usv_string(&ctx, v)?;
                parse_pairs(s.strip_prefix('?').unwrap_or(&s))
            }
        };
        Ok(Self { list, url: None })
    }

    #[qjs(get, rename = "size")]
    pub fn get_size(&self) -> usize {
        self.list.len()
    }

    pub fn append(&mut self, ctx: Ctx<'js>, name: Value<'js>, value: Value<'js>) -> Result<()> {
        let name = to_usv_string(&ctx, name)?;
        let value = to_usv_string(&ctx, value)?;
        self.list.push((name, value));
        self.update();
        Ok(())
    }

    /// Removes every pair named `name` (and, if given, with value `value`).
    pub fn delete(
        &mut self,
        ctx: Ctx<'js>,
        name: Value<'js>,
        value: Opt<Value<'js>>,
    ) -> Result<()> {
        let name = to_usv_string(&ctx, name)?;
        let value = optional_usv(&ctx, value)?;
        self.list
            .retain(|(n, v)| !(n == &name && value.as_ref().is_none_or(|want| v == want)));
        self.update();
        Ok(())
    }

    pub fn get(&self, ctx: Ctx<'js>, name: Value<'js>) -> Result<Value<'js>> {
        let name = to_usv_string(&ctx, name)?;
        match self.list.iter().find(|(n, _)| n == &name) {
            Some((_, v)) => rquickjs::String::from_str(ctx, v).map(|s| s.into_value()),
            None => Ok(Value::new_null(ctx)),
        }
    }

    pub fn get_all(&self, ctx: Ctx<'js>, name: Value<'js>) -> Result<Vec<String>> {
        let name = to_usv_string(&ctx, name)?;
        Ok(self
            .list
            .iter()
            .filter(|(n, _)| n == &name)
            .map(|(_, v)| v.clone())
            .collect())
    }

    pub fn has(&self, ctx: Ctx<'js>, name: Value<'js>, value: Opt<Value<'js>>) -> Result<bool> {
        let name = to_usv_string(&ctx, name)?;
        let value = optional_usv(&ctx, value)?;
        Ok(self
            .list
            .iter()
            .any(|(n, v)| n == &name && value.as_ref().is_none_or(|want| v == want)))
    }

    /// Replaces the first pair named `name` and removes the others, or appends.
    pub fn set(&mut self, ctx: Ctx<'js>, name: Value<'js>, value: Value<'js>) -> Result<()> {
        let name = to_usv_string(&ctx, name)?;
        let value = to_usv_string(&ctx, value)?;
        match self.list.iter().position(|(n, _)| n == &name) {
            Some(first) => {
                self.list[first].1 = value;
                let mut i = 0;
                self.list.retain(|(n, _)| {
                    let keep = i <= first || n != &name;
                    i += 1;
                    keep
                });
            }
            None => self.list.push((name, value)),
        }
        self.update();
        Ok(())
    }

    /// Stable sort by name, comparing UTF-16 code units.
    ///
    /// Spec: <https://url.spec.whatwg.org/#dom-urlsearchparams-sort>
    pub fn sort(&mut self) {
        self.list
            .sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
        self.update();
    }

    #[qjs(rename = "toString")]
    pub fn js_to_string(&self) -> String {
        serialize_pairs(&self.list)
    }

    /// Calls `callback(value, name, params)` for each pair, re-reading the
    /// list each step so changes made by the callback are seen.
    pub fn for_each(
        ctx: Ctx<'js>,
        this: This<Class<'js, UrlSearchParams<'js>>>,
        callback: Value<'js>,
        this_arg: Opt<Value<'js>>,
    ) -> Result<()> {
        let Some(callback) = callback.into_function() else {
            return Err(WebApiError::type_error(
                "Failed to execute 'forEach' on 'URLSearchParams': parameter 1 is not a function.",
            ))
            .or_throw(&ctx);
        };
        let this_arg = this_arg
            .0
            .unwrap_or_else(|| Value::new_undefined(ctx.clone()));
        let mut i = 0;
        loop {
            let pair = this.0.borrow().list.get(i).cloned();
            let Some((name, value)) = pair else {
                return Ok(());
            };
            callback.call::<_, Value>((This(this_arg.clone()), value, name, this.0.clone()))?;
            i += 1;
        }
    }

    pub fn keys(
        ctx: Ctx<'js>,
        this: This<Class<'js, UrlSearchParams<'js>>>,
    ) -> Result<Class<'js, UrlSearchParamsIterator<'js>>> {
        UrlSearchParamsIterator::create(ctx, this.0, IterKind::Keys)
    }

    pub fn values(
        ctx: Ctx<'js>,
        this: This<Class<'js, UrlSearchParams<'js>>>,
    ) -> Result<Class<'js, UrlSearchParamsIterator<'js>>> {
        UrlSearchParamsIterator::create(ctx, this.0, IterKind::Values)
    }

    /// Also installed as `[Symbol.iterator]` (the same function object).
    pub fn entries(
        ctx: Ctx<'js>,
        this: This<Class<'js, UrlSearchParams<'js>>>,
    ) -> Result<Class<'js, UrlSearchParamsIterator<'js>>> {
        UrlSearchParamsIterator::create(ctx, this.0, IterKind::Entries)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "URLSearchParams"
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
#[derive(Trace, JsLifetime)]
#[rquickjs::class(rename = "URLSearchParams Iterator")]
pub struct UrlSearchParamsIterator<'js> {
    params: Class<'js, UrlSearchParams<'js>>,
    index: usize,
    #[qjs(skip_trace)]
    kind: IterKind,
}

impl<'js> UrlSearchParamsIterator<'js> {
    fn create(
        ctx: Ctx<'js>,
        params: Class<'js, UrlSearchParams<'js>>,
        kind: IterKind,
    ) -> Result<Class<'js, Self>> {
        Class::instance(
            ctx,
            Self {
                params,
                index: 0,
                kind,
            },
        )
    }
}

#[rquickjs::methods]
impl<'js> UrlSearchParamsIterator<'js> {
    pub fn next(&mut self, ctx: Ctx<'js>) -> Result<Object<'js>> {
        let pair = self.params.borrow().list.get(self.index).cloned();
        let result = Object::new(ctx.clone())?;
        match pair {
            Some((name, value)) => {
                self.index += 1;
                let v: Value = match self.kind {
                    IterKind::Keys => rquickjs::String::from_str(ctx, &name)?.into_value(),
                    IterKind::Values => rquickjs::String::from_str(ctx, &value)?.into_value(),
                    IterKind::Entries => {
                        let a = Array::new(ctx)?;
                        a.set(0, name)?;
                        a.set(1, value)?;
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
        "URLSearchParams Iterator"
    }
}

/// Installs `URL` and `URLSearchParams`.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    crate::webidl::define_interface::<Url>(ctx)?;
    crate::webidl::define_interface::<UrlSearchParams>(ctx)?;
    crate::webidl::install_pair_iterable::<UrlSearchParams, UrlSearchParamsIterator>(ctx)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    #[test]
    fn parse_and_getters() {
        assert_eq!(
            run_js(
                "const u = new URL('https://user:pa%20ss@EXAMPLE.com:8080/a/../b/c?x=1&y=2#frag');
                 return [u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname,
                         u.port, u.pathname, u.search, u.hash, String(u), JSON.stringify({ u }),
                         Object.prototype.toString.call(u)].join('|');"
            ),
            "https://user:pa%20ss@example.com:8080/b/c?x=1&y=2#frag|https://example.com:8080|https:|user|pa%20ss|\
             example.com:8080|example.com|8080|/b/c|?x=1&y=2|#frag|https://user:pa%20ss@example.com:8080/b/c?x=1&y=2#frag|\
             {\"u\":\"https://user:pa%20ss@example.com:8080/b/c?x=1&y=2#frag\"}|[object URL]"
        );
    }

    #[test]
    fn base_and_errors() {
        assert_eq!(
            run_js(
                "return [new URL('../d?q', 'http://h/a/b/c').href, new URL('//other/x', 'https://h/').href,
                         new URL('http://h:80/').port, new URL('data:text/plain,hi').origin,
                         URL.canParse('nope'), URL.canParse('/p', 'http://h'), URL.canParse('http://x', 'bad base'),
                         URL.parse('nope'), URL.parse('/p', 'http://h').href, URL.parse('x:y') instanceof URL].join('|');"
            ),
            "http://h/a/d?q|https://other/x||null|false|true|false||http://h/p|true"
        );
        assert!(run_js("new URL('not a url')").starts_with("THROWN TypeError: Invalid URL"));
        assert!(run_js("new URL('/x', 'bad')").starts_with("THROWN TypeError"));
        assert!(run_js("new URL()").starts_with("THROWN TypeError"));
    }

    #[test]
    fn setters() {
        assert_eq!(
            run_js(
                "const u = new URL('http://example.com/p?q#h');
                 u.protocol = 'https'; u.username = 'me'; u.password = 'pw'; u.hostname = 'other.org';
                 u.port = '8443'; u.pathname = 'a b'; u.search = 'k=v w'; u.hash = 'top';
                 const a = u.href;
                 u.port = ''; u.search = ''; u.hash = '';
                 const b = u.href;
                 u.host = 'h.example:99'; u.protocol = 'ftp:';
                 const c = u.href;
                 u.port = 'nope'; u.protocol = 'not a scheme';
                 const d = u.href;
                 u.href = 'http://new/';
                 let err; try { u.href = 'bad'; } catch (e) { err = e.constructor.name; }
                 return [a, b, c, d, u.href, err].join(' ');"
            ),
            "https://me:pw@other.org:8443/a%20b?k=v%20w#top https://me:pw@other.org/a%20b \
             ftp://me:pw@h.example:99/a%20b ftp://me:pw@h.example:99/a%20b http://new/ TypeError"
        );
    }

    #[test]
    fn search_params_construct() {
        assert_eq!(
            run_js(
                "const a = new URLSearchParams('?a=1&b=2&a=3&sp=x+y&enc=%26%3D');
                 const b = new URLSearchParams([['x', '1'], ['y', 2]]);
                 const c = new URLSearchParams({ k: 'v', n: 5 });
                 const d = new URLSearchParams(a);
                 const e = new URLSearchParams(new Map([['m', 'n']]));
                 const f = new URLSearchParams();
                 return [a.toString(), a.get('sp'), a.get('enc'), b.toString(), c.toString(), d.toString(),
                         e.toString(), f.size, a.size, d !== a].join(' | ');"
            ),
            "a=1&b=2&a=3&sp=x+y&enc=%26%3D | x y | &= | x=1&y=2 | k=v&n=5 | a=1&b=2&a=3&sp=x+y&enc=%26%3D | m=n | 0 | 5 | true"
        );
        assert!(run_js("new URLSearchParams([['a']])").starts_with("THROWN TypeError"));
        assert!(run_js("new URLSearchParams([1])").starts_with("THROWN TypeError"));
    }

    #[test]
    fn search_params_methods() {
        assert_eq!(
            run_js(
                "const p = new URLSearchParams('a=1&b=2&a=3&c=4');
                 const r = [p.get('a'), String(p.get('zz')), p.getAll('a').join('+'), p.has('b'), p.has('a', '3'), p.has('a', '9')];
                 p.append('d', 'x y'); p.delete('a', '1'); r.push(p.toString());
                 p.set('a', 'new'); p.set('e', '5'); r.push(p.toString());
                 p.delete('a'); r.push(p.toString(), p.has('a', undefined));
                 const s = new URLSearchParams('z=1&\\u{1F600}=2&\\uFFFD=3&a=4&z=0');
                 s.sort(); r.push(s.toString());
                 return r.join(' | ');"
            ),
            "1 | null | 1+3 | true | true | false | b=2&a=3&c=4&d=x+y | b=2&a=new&c=4&d=x+y&e=5 | b=2&c=4&d=x+y&e=5 | false | \
             a=4&z=1&z=0&%F0%9F%98%80=2&%EF%BF%BD=3"
        );
    }

    #[test]
    fn search_params_iteration() {
        assert_eq!(
            run_js(
                "const p = new URLSearchParams('a=1&b=2');
                 const seen = [];
                 p.forEach(function (v, k, obj) { seen.push(k + v + (obj === p) + (this === 7)); if (k === 'a') p.append('c', '3'); }, 7);
                 const it = p.keys();
                 return [seen.join(','), [...p].join(';'), [...p.keys()].join(), [...p.values()].join(),
                         Array.from(p.entries()).length, it.next().value, it[Symbol.iterator]() === it,
                         Object.prototype.toString.call(it), p[Symbol.iterator] === p.entries,
                         typeof it.map].join(' | ');"
            ),
            "a1truetrue,b2truetrue,c3truetrue | a,1;b,2;c,3 | a,b,c | 1,2,3 | 3 | a | true | \
             [object URLSearchParams Iterator] | true | function"
        );
    }

    #[test]
    fn url_and_search_params_are_linked() {
        assert_eq!(
            run_js(
                "const u = new URL('https://h/p?a=1#f');
                 const sp = u.searchParams;
                 const r = [sp === u.searchParams, sp.get('a')];
                 sp.append('b', 'two words'); r.push(u.href);
                 u.search = '?x=9'; r.push(sp.toString(), String(sp.get('a')));
                 u.href = 'https://h/?y=8'; r.push(sp.get('y'));
                 sp.delete('y'); r.push(u.href, u.search);
                 sp.set('z', '1'); sp.sort(); r.push(u.search);
                 const o = new URL('data:text/plain,hello  ?q'); o.searchParams.delete('q'); r.push(JSON.stringify(o.href));
                 return r.join(' | ');"
            ),
            "true | 1 | https://h/p?a=1&b=two+words#f | x=9 | null | 8 | https://h/ |  | ?z=1 | \"data:text/plain,hello\""
        );
    }

    #[test]
    fn usv_strings() {
        assert_eq!(
            run_js(
                "const p = new URLSearchParams(); p.append('\\ud800', 'x\\udc00');
                 return [p.toString(), new URL('http://h/\\ud800').pathname].join(' ');"
            ),
            "%EF%BF%BD=x%EF%BF%BD /%EF%BF%BD"
        );
    }

    #[test]
    fn cycles_are_collected() {
        // URL <-> URLSearchParams reference each other; dropping the runtime
        // would abort on a leak.
        assert_eq!(
            run_js(
                "for (let i = 0; i < 100; i++) { const u = new URL('http://h/?a=' + i); u.searchParams.append('b', i); u.self = u; }
                 return 'ok';"
            ),
            "ok"
        );
    }

    #[test]
    fn constructors_require_new() {
        for src in ["URL('http://h/')", "URLSearchParams('a=1')"] {
            assert!(run_js(src).starts_with("THROWN TypeError"), "{src}");
        }
    }
}
