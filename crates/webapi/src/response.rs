//! `Response`: what a handler returns, and what `fetch` resolves to.
//!
//! Spec: <https://fetch.spec.whatwg.org/#response-class>

use http::HeaderMap;
use rquickjs::{
    class::Trace, function::Opt, Class, Ctx, JsLifetime, Object, Promise, Result, Value,
};

use crate::body::{self, Body, BodySlot, HostBody, ReadAs};
use crate::error::{OrThrow, WebApiError};
use crate::headers::{Guard, Headers};
use crate::request::LazyHeaders;

/// The JS `Response` class.
#[derive(Trace, JsLifetime)]
#[rquickjs::class]
pub struct Response<'js> {
    #[qjs(skip_trace)]
    status: u16,
    #[qjs(skip_trace)]
    status_text: String,
    headers: LazyHeaders<'js>,
    body: BodySlot<'js>,
    #[qjs(skip_trace)]
    kind: &'static str,
    #[qjs(skip_trace)]
    url: String,
    #[qjs(skip_trace)]
    redirected: bool,
    web_socket: Option<Value<'js>>,
}

/// The parts of a `Response` the host sends to the client.
pub struct ResponseParts<'js> {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body, possibly a JS stream that the host must pump.
    pub body: Body<'js>,
    /// The `webSocket` of a 101 response: the client end of a `WebSocketPair`.
    pub web_socket: Option<Value<'js>>,
}

impl<'js> Response<'js> {
    /// Builds a response from host parts (a `fetch` result).
    pub fn from_host(
        status: u16,
        status_text: String,
        headers: HeaderMap,
        body: Option<HostBody>,
        url: String,
        redirected: bool,
    ) -> Self {
        Self {
            status,
            status_text,
            headers: LazyHeaders::Map(headers, Guard::Immutable),
            body: BodySlot::new(match body {
                Some(b) => Body::Host(Box::pin(b)),
                None => Body::None,
            }),
            // workerd's value: a worker has no origin to be same-origin with.
            kind: "default",
            url,
            redirected,
            web_socket: None,
        }
    }

    /// Takes what the host needs to answer the client, leaving the body used.
    pub fn take_parts(&mut self, ctx: &Ctx<'js>) -> Result<ResponseParts<'js>> {
        if self.kind == "error" {
            return Err(WebApiError::type_error(
                "Response.error() cannot be returned from a handler",
            ))
            .or_throw(ctx);
        }
        let body = self.body.take_for_read().or_throw(ctx)?;
        Ok(ResponseParts {
            status: self.status,
            headers: self.headers.take_map(),
            body,
            web_socket: self.web_socket.take(),
        })
    }

    /// Sets the `webSocket` of a response made by the host (a fetch upgrade).
    pub fn with_web_socket(mut self, ws: Value<'js>) -> Self {
        self.web_socket = Some(ws);
        self
    }
}

/// Status codes that never have a body.
fn is_null_body_status(status: u16) -> bool {
    matches!(status, 101 | 204 | 205 | 304)
}

fn is_redirect_status(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Applies a `ResponseInit` and body to a fresh response.
///
/// Spec: <https://fetch.spec.whatwg.org/#initialize-a-response>
fn initialize<'js>(
    ctx: &Ctx<'js>,
    init: Option<Object<'js>>,
    body: Option<body::Extracted<'js>>,
) -> Result<Response<'js>> {
    let mut status = 200u16;
    let mut status_text = String::new();
    let mut headers = HeaderMap::new();
    let mut web_socket = None;
    if let Some(init) = &init {
        let s: Value = init.get("status")?;
        if !s.is_undefined() {
            let n: f64 = rquickjs::Coerced::<f64>::from_js(ctx, s)?.0;
            if !(200.0..=599.0).contains(&n) || n.fract() != 0.0 {
                // Workers allows 101 for WebSocket upgrades.
                if !(n == 101.0 && init.contains_key("webSocket")?) {
                    return Err(WebApiError::range_error(format!(
                        "Responses may only be constructed with status codes in the range 200 to 599, inclusive. Got {n}."
                    )))
                    .or_throw(ctx);
                }
            }
            status = n as u16;
        }
        if let Some(t) = init.get::<_, Option<String>>("statusText")? {
            if t.chars()
                .any(|c| c == '\r' || c == '\n' || (c as u32) > 0xFF)
            {
                return Err(WebApiError::type_error("Invalid statusText")).or_throw(ctx);
            }
            status_text = t;
        }
        let h: Value = init.get("headers")?;
        if !h.is_undefined() {
            let mut hh = Headers::default();
            hh.fill(ctx, h)?;
            headers = hh.take_map();
        }
        let ws: Value = init.get("webSocket")?;
        if !ws.is_undefined() && !ws.is_null() {
            if !crate::websocket::is_web_socket(&ws) {
                return Err(WebApiError::type_error(
                    "Failed to construct 'Response': member webSocket is not of type WebSocket.",
                ))
                .or_throw(ctx);
            }
            web_socket = Some(ws);
        }
        if web_socket.is_some() != (status == 101) {
            return Err(WebApiError::range_error(
                "A Response with status 101 must have a webSocket, and only a 101 Response may have one.",
            ))
            .or_throw(ctx);
        }
    }
    let mut slot = BodySlot::default();
    if let Some(extracted) = body {
        if !matches!(extracted.body, Body::None) {
            if is_null_body_status(status) {
                return Err(WebApiError::type_error(format!(
                    "Response with null body status ({status}) cannot have body"
                )))
                .or_throw(ctx);
            }
            if let Some(ct) = &extracted.content_type {
                if !headers.contains_key(http::header::CONTENT_TYPE) {
                    if let Ok(v) = http::HeaderValue::from_str(ct) {
                        headers.insert(http::header::CONTENT_TYPE, v);
                    }
                }
            }
        }
        slot = BodySlot::new(extracted.body);
    }
    Ok(Response {
        status,
        status_text,
        headers: LazyHeaders::Map(headers, Guard::None),
        body: slot,
        kind: "default",
        url: String::new(),
        redirected: false,
        web_socket,
    })
}

use rquickjs::FromJs;

#[rquickjs::methods]
impl<'js> Response<'js> {
    #[qjs(prop, rename = rquickjs::atom::PredefinedAtom::SymbolToStringTag, configurable)]
    fn to_string_tag() -> &'static str {
        "Response"
    }

    #[qjs(constructor)]
    fn new(ctx: Ctx<'js>, body: Opt<Value<'js>>, init: Opt<Object<'js>>) -> Result<Self> {
        let extracted = match body.0 {
            Some(b) => Some(body::extract(&ctx, b)?),
            None => None,
        };
        initialize(&ctx, init.0, extracted)
    }

    /// Spec: <https://fetch.spec.whatwg.org/#dom-response-json>
    #[qjs(static)]
    fn json(ctx: Ctx<'js>, data: Value<'js>, init: Opt<Object<'js>>) -> Result<Self> {
        let Some(text) = ctx.json_stringify(data)? else {
            return Err(WebApiError::type_error("Value is not JSON serializable")).or_throw(&ctx);
        };
        let extracted = body::Extracted {
            body: Body::Bytes(bytes::Bytes::from(text.to_string()?)),
            content_type: Some("application/json".into()),
        };
        initialize(&ctx, init.0, Some(extracted))
    }

    /// Spec: <https://fetch.spec.whatwg.org/#dom-response-redirect>
    #[qjs(static)]
    fn redirect(ctx: Ctx<'js>, url: String, status: Opt<u16>) -> Result<Self> {
        let status = status.0.unwrap_or(302);
        let url = crate::request::parse_absolute_url(&ctx, &url)?;
        if !is_redirect_status(status) {
            return Err(WebApiError::range_error(format!(
                "Invalid redirect status: {status}"
            )))
            .or_throw(&ctx);
        }
        let mut headers = HeaderMap::new();
        let location = http::HeaderValue::from_str(&url)
            .map_err(|_| WebApiError::type_error("Invalid redirect URL").throw(&ctx))?;
        headers.insert(http::header::LOCATION, location);
        Ok(Response {
            status,
            status_text: String::new(),
            headers: LazyHeaders::Map(headers, Guard::Immutable),
            body: BodySlot::default(),
            kind: "default",
            url: String::new(),
            redirected: false,
            web_socket: None,
        })
    }

    /// Spec: <https://fetch.spec.whatwg.org/#dom-response-error>
    #[qjs(static)]
    fn error() -> Self {
        Response {
            status: 0,
            status_text: String::new(),
            headers: LazyHeaders::Map(HeaderMap::new(), Guard::Immutable),
            body: BodySlot::default(),
            kind: "error",
            url: String::new(),
            redirected: false,
            web_socket: None,
        }
    }

    #[qjs(get)]
    fn status(&self) -> u16 {
        self.status
    }

    #[qjs(get, rename = "statusText")]
    fn status_text(&self) -> String {
        self.status_text.clone()
    }

    #[qjs(get)]
    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    #[qjs(get)]
    fn headers(&mut self, ctx: Ctx<'js>) -> Result<Class<'js, Headers>> {
        self.headers.object(&ctx)
    }

    #[qjs(get, rename = "type")]
    fn kind(&self) -> &'static str {
        self.kind
    }

    #[qjs(get)]
    fn url(&self) -> String {
        self.url.clone()
    }

    #[qjs(get)]
    fn redirected(&self) -> bool {
        self.redirected
    }

    #[qjs(get, rename = "webSocket")]
    fn web_socket(&self, ctx: Ctx<'js>) -> Value<'js> {
        self.web_socket
            .clone()
            .unwrap_or_else(|| Value::new_null(ctx))
    }

    #[qjs(get, rename = "bodyUsed")]
    fn body_used(&self) -> bool {
        self.body.used()
    }

    #[qjs(get)]
    fn body(&mut self, ctx: Ctx<'js>) -> Result<Value<'js>> {
        body::body_stream(&ctx, &mut self.body)
    }

    fn clone(&mut self, ctx: Ctx<'js>) -> Result<Self> {
        Ok(Response {
            status: self.status,
            status_text: self.status_text.clone(),
            headers: LazyHeaders::Map(self.headers.clone_map(), Guard::None),
            body: self.body.try_clone(&ctx)?,
            kind: self.kind,
            url: self.url.clone(),
            redirected: self.redirected,
            web_socket: None,
        })
    }

    fn text(&mut self, ctx: Ctx<'js>) -> Result<Promise<'js>> {
        body::consume(&ctx, &mut self.body, ReadAs::Text)
    }

    #[qjs(rename = "json")]
    fn json_body(&mut self, ctx: Ctx<'js>) -> Result<Promise<'js>> {
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

/// Installs the `Response` global.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    Class::<Response>::define(&ctx.globals())
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    #[test]
    fn builds_and_reads() {
        let out = run_js(
            "const r = new Response('hello', {status: 201, headers: {'x-a': 'b'}});
             return [r.status, r.ok, r.headers.get('content-type'), r.headers.get('x-a'), await r.text(), r.bodyUsed].join('|');",
        );
        assert_eq!(out, "201|true|text/plain;charset=UTF-8|b|hello|true");
    }

    #[test]
    fn statics() {
        let out = run_js(
            "const j = Response.json({a: [1]}, {status: 418});
             const r = Response.redirect('https://x.example/', 301);
             const e = Response.error();
             return [j.status, j.headers.get('content-type'), JSON.stringify(await j.json()), r.status, r.headers.get('location'), e.type, e.status].join('|');",
        );
        assert_eq!(
            out,
            "418|application/json|{\"a\":[1]}|301|https://x.example/|error|0"
        );
    }

    #[test]
    fn rejects_bad_init() {
        assert!(run_js("new Response('x', {status: 99})").starts_with("THROWN RangeError"));
        assert!(run_js("new Response('x', {status: 204})").starts_with("THROWN TypeError"));
        assert!(run_js("Response.redirect('https://a/', 200)").starts_with("THROWN RangeError"));
        assert!(run_js("Response.json(undefined)").starts_with("THROWN TypeError"));
    }

    #[test]
    fn binary_bodies_and_clone() {
        let out = run_js(
            "const r = new Response(new Uint8Array([104, 105]));
             const c = r.clone();
             const ab = await r.arrayBuffer();
             return [ab.byteLength, await c.text(), r.headers.get('content-type')].join('|');",
        );
        assert_eq!(out, "2|hi|");
    }
}
