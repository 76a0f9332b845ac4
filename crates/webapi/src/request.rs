//! `Request`: the method, URL, headers and body of an HTTP request, both the
//! one the host hands to a handler and the ones user code builds for `fetch`.
//!
//! Spec: <https://fetch.spec.whatwg.org/#request-class>

use http::HeaderMap;
use rquickjs::{
    class::Trace, function::Opt, Class, Ctx, JsLifetime, Object, Promise, Result, Value,
};

use crate::body::{self, Body, BodySlot, HostBody, ReadAs};
use crate::error::{OrThrow, WebApiError};
use crate::headers::{Guard, Headers};

/// Headers kept as a plain map until script asks for the `Headers` object,
/// so a handler that never reads them costs no allocation in the isolate.
#[derive(JsLifetime)]
pub enum LazyHeaders<'js> {
    /// Not yet exposed to script.
    Map(HeaderMap, Guard),
    /// Exposed: the script-visible object is the source of truth.
    Object(Class<'js, Headers>),
}

impl<'js> Trace<'js> for LazyHeaders<'js> {
    fn trace<'a>(&self, tracer: rquickjs::class::Tracer<'a, 'js>) {
        if let LazyHeaders::Object(o) = self {
            o.trace(tracer)
        }
    }
}

impl<'js> LazyHeaders<'js> {
    /// Returns the script-visible `Headers`, creating it on first use.
    pub fn object(&mut self, ctx: &Ctx<'js>) -> Result<Class<'js, Headers>> {
        if let LazyHeaders::Map(map, guard) = self {
            let obj = Class::instance(ctx.clone(), Headers::from_map(std::mem::take(map), *guard))?;
            *self = LazyHeaders::Object(obj);
        }
        match self {
            LazyHeaders::Object(o) => Ok(o.clone()),
            LazyHeaders::Map(..) => unreachable!(),
        }
    }

    /// Takes the header map out (for handing to the host).
    pub fn take_map(&mut self) -> HeaderMap {
        match self {
            LazyHeaders::Map(map, _) => std::mem::take(map),
            LazyHeaders::Object(o) => o.borrow_mut().take_map(),
        }
    }

    /// A copy of the current header map.
    pub fn clone_map(&self) -> HeaderMap {
        match self {
            LazyHeaders::Map(map, _) => map.clone(),
            LazyHeaders::Object(o) => o.borrow().map().clone(),
        }
    }

    /// The `Content-Type` values combined with `, ` (isomorphic-decoded),
    /// `None` when there is none; what `formData()` and `blob()` parse.
    pub fn content_type(&self) -> Option<String> {
        let combine = |map: &HeaderMap| {
            let values: Vec<String> = map
                .get_all(http::header::CONTENT_TYPE)
                .iter()
                .map(|v| v.as_bytes().iter().map(|&b| b as char).collect())
                .collect();
            (!values.is_empty()).then(|| values.join(", "))
        };
        match self {
            LazyHeaders::Map(map, _) => combine(map),
            LazyHeaders::Object(o) => combine(o.borrow().map()),
        }
    }

    /// Sets `content-type` unless one is present.
    pub fn default_content_type(&mut self, ct: &str) {
        let set = |map: &mut HeaderMap| {
            if !map.contains_key(http::header::CONTENT_TYPE) {
                if let Ok(v) = http::HeaderValue::from_str(ct) {
                    map.insert(http::header::CONTENT_TYPE, v);
                }
            }
        };
        match self {
            LazyHeaders::Map(map, _) => set(map),
            LazyHeaders::Object(o) => {
                let mut h = o.borrow_mut();
                let mut map = h.take_map();
                set(&mut map);
                *h = Headers::from_map(map, Guard::None);
            }
        }
    }
}

/// The JS `Request` class.
#[derive(Trace, JsLifetime)]
#[rquickjs::class]
pub struct Request<'js> {
    // `http::Method` holds the standard methods (and short others) inline,
    // so the request of every HTTP request costs no allocation for them.
    #[qjs(skip_trace)]
    method: http::Method,
    #[qjs(skip_trace)]
    url: String,
    headers: LazyHeaders<'js>,
    body: BodySlot<'js>,
    #[qjs(skip_trace)]
    redirect: &'static str,
    signal: Option<Object<'js>>,
    cf: Option<Value<'js>>,
}

impl<'js> Request<'js> {
    /// Builds the request the host delivers to a handler (immutable headers).
    /// A `method` that is not an HTTP token is taken as `GET`; the host's
    /// HTTP parser has already refused such requests.
    pub fn incoming(method: &str, url: String, headers: HeaderMap, body: Option<HostBody>) -> Self {
        Self::from_host(
            http::Method::from_bytes(method.as_bytes()).unwrap_or_default(),
            url,
            headers,
            body,
        )
    }

    /// [`Request::incoming`] for a method the host has parsed already.
    pub fn from_host(
        method: http::Method,
        url: String,
        headers: HeaderMap,
        body: Option<HostBody>,
    ) -> Self {
        Self {
            method,
            url,
            headers: LazyHeaders::Map(headers, Guard::Immutable),
            body: BodySlot::new(match body {
                Some(b) => Body::Host(Box::pin(b)),
                None => Body::None,
            }),
            redirect: "follow",
            signal: None,
            cf: None,
        }
    }

    /// The request's method.
    pub fn method_str(&self) -> &str {
        self.method.as_str()
    }

    /// The request's URL.
    pub fn url_str(&self) -> &str {
        &self.url
    }

    /// The redirect mode (`follow`, `manual`, `error`).
    pub fn redirect_mode(&self) -> &str {
        self.redirect
    }

    /// The abort signal, if one was given.
    pub fn signal_object(&self) -> Option<Object<'js>> {
        self.signal.clone()
    }

    /// A copy of the headers.
    pub fn header_map(&self) -> HeaderMap {
        self.headers.clone_map()
    }

    /// Takes the body out, for sending.
    pub fn take_body(&mut self, ctx: &Ctx<'js>) -> Result<Body<'js>> {
        self.body.take_for_transfer().or_throw(ctx)
    }
}

/// Normalizes a method name: the spec's six are upper-cased, others kept.
///
/// Spec: <https://fetch.spec.whatwg.org/#concept-method-normalize>
fn normalize_method(ctx: &Ctx<'_>, m: &str) -> Result<http::Method> {
    if m.is_empty() || !m.bytes().all(is_token_byte) {
        return Err(WebApiError::type_error(format!(
            "Invalid HTTP method: \"{m}\""
        )))
        .or_throw(ctx);
    }
    let upper = m.to_ascii_uppercase();
    let name = match upper.as_str() {
        "CONNECT" | "TRACE" | "TRACK" => {
            return Err(WebApiError::type_error(format!(
                "Forbidden HTTP method: \"{m}\""
            )))
            .or_throw(ctx)
        }
        "DELETE" | "GET" | "HEAD" | "OPTIONS" | "POST" | "PUT" => upper.as_str(),
        _ => m,
    };
    // Every token is a valid `http::Method`.
    http::Method::from_bytes(name.as_bytes())
        .map_err(|_| WebApiError::type_error(format!("Invalid HTTP method: \"{m}\"")))
        .or_throw(ctx)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Parses an absolute URL, as Workers does (there is no base URL in a worker).
pub fn parse_absolute_url(ctx: &Ctx<'_>, s: &str) -> Result<String> {
    match url::Url::parse(s) {
        Ok(u) => Ok(u.to_string()),
        Err(_) => Err(WebApiError::type_error(format!("Invalid URL: {s}"))).or_throw(ctx),
    }
}

#[rquickjs::methods]
impl<'js> Request<'js> {
    #[qjs(prop, rename = rquickjs::atom::PredefinedAtom::SymbolToStringTag, configurable)]
    fn to_string_tag() -> &'static str {
        "Request"
    }

    #[qjs(constructor)]
    fn new(ctx: Ctx<'js>, input: Value<'js>, init: Opt<Object<'js>>) -> Result<Self> {
        let mut req = if let Some(other) = crate::webidl::class_of::<Request>(&input) {
            let mut other = other.borrow_mut();
            let body = if init
                .0
                .as_ref()
                .map(|i| i.contains_key("body"))
                .transpose()?
                .unwrap_or(false)
            {
                Body::None
            } else {
                other.body.take_for_transfer().or_throw(&ctx)?
            };
            Request {
                method: other.method.clone(),
                url: other.url.clone(),
                headers: LazyHeaders::Map(other.headers.clone_map(), Guard::None),
                body: BodySlot::new(body),
                redirect: other.redirect,
                signal: other.signal.clone(),
                cf: other.cf.clone(),
            }
        } else {
            let s: rquickjs::Coerced<String> = rquickjs::FromJs::from_js(&ctx, input)?;
            Request {
                method: http::Method::GET,
                url: parse_absolute_url(&ctx, &s.0)?,
                headers: LazyHeaders::Map(HeaderMap::new(), Guard::None),
                body: BodySlot::default(),
                redirect: "follow",
                signal: None,
                cf: None,
            }
        };
        if let Some(init) = init.0 {
            if let Some(m) = init.get::<_, Option<String>>("method")? {
                req.method = normalize_method(&ctx, &m)?;
            }
            let headers: Value = init.get("headers")?;
            if !headers.is_undefined() {
                let mut h = Headers::default();
                h.fill(&ctx, headers)?;
                req.headers = LazyHeaders::Map(h.take_map(), Guard::None);
            }
            if let Some(r) = init.get::<_, Option<String>>("redirect")? {
                req.redirect = match r.as_str() {
                    "follow" => "follow",
                    "manual" => "manual",
                    "error" => "error",
                    _ => {
                        return Err(WebApiError::type_error(format!(
                            "Invalid redirect mode: {r}"
                        )))
                        .or_throw(&ctx)
                    }
                };
            }
            let signal: Value = init.get("signal")?;
            if let Some(s) = signal.as_object() {
                req.signal = Some(s.clone());
            }
            let cf: Value = init.get("cf")?;
            if !cf.is_undefined() {
                req.cf = Some(cf);
            }
            if init.contains_key("body")? {
                let extracted = body::extract(&ctx, init.get("body")?)?;
                if let Some(ct) = &extracted.content_type {
                    req.headers.default_content_type(ct);
                }
                req.body = BodySlot::new(extracted.body);
            }
        }
        body::check_method_allows_body(&ctx, req.method.as_str(), !req.body.is_none())?;
        Ok(req)
    }

    #[qjs(get)]
    fn method(&self) -> &str {
        self.method.as_str()
    }

    #[qjs(get)]
    fn url(&self) -> String {
        self.url.clone()
    }

    #[qjs(get)]
    fn headers(&mut self, ctx: Ctx<'js>) -> Result<Class<'js, Headers>> {
        self.headers.object(&ctx)
    }

    #[qjs(get)]
    fn redirect(&self) -> &'static str {
        self.redirect
    }

    #[qjs(get)]
    fn signal(&self, ctx: Ctx<'js>) -> Result<Value<'js>> {
        match &self.signal {
            Some(s) => Ok(s.clone().into_value()),
            None => crate::body::new_never_aborted_signal(&ctx),
        }
    }

    #[qjs(get)]
    fn cf(&self, ctx: Ctx<'js>) -> Value<'js> {
        self.cf.clone().unwrap_or_else(|| Value::new_undefined(ctx))
    }

    #[qjs(get, rename = "bodyUsed")]
    fn body_used(&self) -> bool {
        self.body.used()
    }

    #[qjs(get)]
    fn body(&mut self, ctx: Ctx<'js>) -> Result<Value<'js>> {
        crate::body::body_stream(&ctx, &mut self.body)
    }

    fn clone(&mut self, ctx: Ctx<'js>) -> Result<Self> {
        Ok(Request {
            method: self.method.clone(),
            url: self.url.clone(),
            headers: LazyHeaders::Map(self.headers.clone_map(), Guard::None),
            body: self.body.try_clone(&ctx)?,
            redirect: self.redirect,
            signal: self.signal.clone(),
            cf: self.cf.clone(),
        })
    }

    fn text(&mut self, ctx: Ctx<'js>) -> Result<Promise<'js>> {
        body::consume(&ctx, &mut self.body, ReadAs::Text)
    }

    fn json(&mut self, ctx: Ctx<'js>) -> Result<Promise<'js>> {
        body::consume(&ctx, &mut self.body, ReadAs::Json)
    }

    #[qjs(rename = "arrayBuffer")]
    fn array_buffer(&mut self, ctx: Ctx<'js>) -> Result<Promise<'js>> {
        body::consume(&ctx, &mut self.body, ReadAs::ArrayBuffer)
    }

    fn bytes(&mut self, ctx: Ctx<'js>) -> Result<Promise<'js>> {
        body::consume(&ctx, &mut self.body, ReadAs::Bytes)
    }

    #[qjs(rename = "formData")]
    fn form_data(&mut self, ctx: Ctx<'js>) -> Result<Promise<'js>> {
        let content_type = self.headers.content_type();
        body::consume_typed(&ctx, &mut self.body, ReadAs::FormData, content_type)
    }

    fn blob(&mut self, ctx: Ctx<'js>) -> Result<Promise<'js>> {
        let content_type = self.headers.content_type();
        body::consume_typed(&ctx, &mut self.body, ReadAs::Blob, content_type)
    }
}

/// Installs the `Request` global.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    Class::<Request>::define(&ctx.globals())
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    #[test]
    fn constructs_and_reads() {
        let out = run_js(
            "const r = new Request('https://example.com/a?b=1', {method: 'post', body: 'hi', headers: {'x-y': 'z'}});
             const t = await r.text();
             return [r.method, r.url, r.headers.get('x-y'), r.headers.get('content-type'), t, r.bodyUsed].join('|');",
        );
        assert_eq!(
            out,
            "POST|https://example.com/a?b=1|z|text/plain;charset=UTF-8|hi|true"
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert!(run_js("new Request('/relative')").starts_with("THROWN TypeError"));
        assert!(
            run_js("new Request('http://a/', {method: 'GET', body: 'x'})")
                .starts_with("THROWN TypeError")
        );
        assert!(run_js("new Request('http://a/', {method: 'bad method'})")
            .starts_with("THROWN TypeError"));
        assert!(run_js("const r = new Request('http://a/', {method: 'PUT', body: 'x'}); await r.text(); await r.text()")
            .starts_with("THROWN TypeError"));
    }

    #[test]
    fn copies_from_request() {
        let out = run_js(
            "const a = new Request('http://a/x', {method: 'PUT', body: '{\"k\":1}'});
             const b = new Request(a, {headers: {h: '1'}});
             const j = await b.json();
             return [b.method, b.url, b.headers.get('h'), j.k, a.bodyUsed].join('|');",
        );
        assert_eq!(out, "PUT|http://a/x|1|1|true");
    }
}
