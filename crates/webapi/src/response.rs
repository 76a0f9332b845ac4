//! `Response`: what a handler returns, and what `fetch` resolves to.
//!
//! Spec: <https://fetch.spec.whatwg.org/#response-class>

mod json;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use rquickjs::{
    class::Trace, function::Opt, qjs, Class, Ctx, JsLifetime, Object, Promise, Result, Value,
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

/// A body with the `Content-Type` it implies.
struct Typed<'js> {
    body: Body<'js>,
    content_type: Option<HeaderValue>,
}

impl<'js> From<body::Extracted<'js>> for Typed<'js> {
    fn from(e: body::Extracted<'js>) -> Self {
        Self {
            body: e.body,
            content_type: e
                .content_type
                .and_then(|ct| HeaderValue::from_str(&ct).ok()),
        }
    }
}

/// Extracts a body, taking an ASCII string (the usual `new Response("...")`)
/// straight from the engine's buffer.
///
/// Spec: <https://fetch.spec.whatwg.org/#concept-bodyinit-extract>
fn extract<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<Typed<'js>> {
    if let Some(s) = value.as_string() {
        let text = s.clone().to_cstring()?;
        // SAFETY: `as_ptr` and `len` describe the buffer `text` keeps alive.
        let utf8 = unsafe { std::slice::from_raw_parts(text.as_ptr().cast::<u8>(), text.len()) };
        if utf8.is_ascii() {
            return Ok(Typed {
                body: Body::Bytes(Bytes::copy_from_slice(utf8)),
                content_type: Some(HeaderValue::from_static("text/plain;charset=UTF-8")),
            });
        }
    }
    body::extract(ctx, value).map(Typed::from)
}

/// The members of `ResponseInit`, in the order they are read (WebIDL reads a
/// dictionary's members in lexicographic order).
const INIT_MEMBERS: [&str; 4] = ["headers", "status", "statusText", "webSocket"];

/// [`INIT_MEMBERS`] as atoms, made once per runtime when `Response` is
/// installed. Reading a member by a Rust string makes its atom each time
/// (hashing the name and looking it up in the atom table), which was most of
/// the cost of reading a `ResponseInit`.
struct InitAtoms<'js> {
    ctx: Ctx<'js>,
    atoms: [qjs::JSAtom; 4],
}

// SAFETY: the only lifetime is the context's.
unsafe impl<'js> JsLifetime<'js> for InitAtoms<'js> {
    type Changed<'to> = InitAtoms<'to>;
}

impl<'js> InitAtoms<'js> {
    fn new(ctx: &Ctx<'js>) -> Result<Self> {
        let raw = ctx.as_raw().as_ptr();
        let mut atoms = [qjs::JS_ATOM_NULL; 4];
        for (atom, name) in atoms.iter_mut().zip(INIT_MEMBERS) {
            // SAFETY: `name` is valid for its length; the atom is freed on drop.
            *atom = unsafe { qjs::JS_NewAtomLen(raw, name.as_ptr().cast(), name.len() as _) };
        }
        let made = Self {
            ctx: ctx.clone(),
            atoms,
        };
        if made.atoms.contains(&qjs::JS_ATOM_NULL) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(made)
    }
}

impl Drop for InitAtoms<'_> {
    fn drop(&mut self) {
        for atom in self.atoms {
            if atom != qjs::JS_ATOM_NULL {
                // SAFETY: made by `JS_NewAtomLen` in this context's runtime.
                unsafe { qjs::JS_FreeAtom(self.ctx.as_raw().as_ptr(), atom) };
            }
        }
    }
}

/// Reads the members of a `ResponseInit` (`undefined` when absent), in
/// [`INIT_MEMBERS`] order.
fn init_members<'js>(ctx: &Ctx<'js>, init: &Object<'js>) -> Result<[Value<'js>; 4]> {
    // Copied out so that no userdata stays borrowed while getters run.
    let atoms = ctx.userdata::<InitAtoms>().map(|a| a.atoms);
    let mut values: [Value<'js>; 4] = std::array::from_fn(|_| Value::new_undefined(ctx.clone()));
    for (i, value) in values.iter_mut().enumerate() {
        *value = match atoms {
            // SAFETY: `init` is a live object and the atom lives as long as
            // the runtime; the result is owned by the `Value` made of it.
            Some(atoms) => unsafe {
                let v = qjs::JS_GetProperty(ctx.as_raw().as_ptr(), init.as_raw(), atoms[i]);
                if qjs::JS_IsException(v) {
                    return Err(rquickjs::Error::Exception);
                }
                Value::from_raw(ctx.clone(), v)
            },
            None => init.get(INIT_MEMBERS[i])?,
        };
    }
    Ok(values)
}

/// Applies a `ResponseInit` and body to a fresh response.
///
/// Spec: <https://fetch.spec.whatwg.org/#initialize-a-response>
fn initialize<'js>(
    ctx: &Ctx<'js>,
    init: Option<Object<'js>>,
    body: Option<Typed<'js>>,
) -> Result<Response<'js>> {
    let mut status = 200u16;
    let mut status_text = String::new();
    let mut headers = HeaderMap::new();
    let mut web_socket = None;
    if let Some(init) = &init {
        let [h, s, t, ws] = init_members(ctx, init)?;
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
        if let Some(t) = Option::<String>::from_js(ctx, t)? {
            if t.chars()
                .any(|c| c == '\r' || c == '\n' || (c as u32) > 0xFF)
            {
                return Err(WebApiError::type_error("Invalid statusText")).or_throw(ctx);
            }
            status_text = t;
        }
        if !h.is_undefined() {
            let mut hh = Headers::default();
            hh.fill(ctx, h)?;
            headers = hh.take_map();
        }
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
            if let Some(ct) = extracted.content_type {
                if !headers.contains_key(http::header::CONTENT_TYPE) {
                    headers.insert(http::header::CONTENT_TYPE, ct);
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
            Some(b) => Some(extract(&ctx, b)?),
            None => None,
        };
        initialize(&ctx, init.0, extracted)
    }

    /// Spec: <https://fetch.spec.whatwg.org/#dom-response-json>
    #[qjs(static)]
    fn json(ctx: Ctx<'js>, data: Value<'js>, init: Opt<Object<'js>>) -> Result<Self> {
        let bytes = match json::stringify(&ctx, &data) {
            Some(text) => Bytes::from(text),
            None => {
                let Some(text) = ctx.json_stringify(data)? else {
                    return Err(WebApiError::type_error("Value is not JSON serializable"))
                        .or_throw(&ctx);
                };
                Bytes::from(text.to_string()?)
            }
        };
        let extracted = Typed {
            body: Body::Bytes(bytes),
            content_type: Some(HeaderValue::from_static("application/json")),
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
    // Stored now, while no other userdata is borrowed. Without it (should
    // another userdata be borrowed) members are read by name.
    let _ = ctx.store_userdata(InitAtoms::new(ctx)?);
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

    /// `Response.json` writes plain data itself; whatever it writes must be
    /// what `JSON.stringify` writes, and what it declines must still be.
    #[test]
    fn json_matches_json_stringify() {
        let out = run_js(
            r#"const cases = [
                 0, -0, 1, -1, 2147483647, -2147483648, 2 ** 31, 2 ** 53, -(2 ** 53) - 2, 1e15, 1e16, 1e20, 1e21, 1e22,
                 123.456, -0.5, 0.1 + 0.2, 1e-6, 1e-7, 1.5e-7, 5e-324, 1.7976931348623157e308, 123456789012345680,
                 1 / 3, 13.37 * 3, NaN, Infinity, -Infinity, true, false, null, "", "plain",
                 "q\"b\\s/\n\r\t\b\f\u0000\u001f\u007f", "\u00e9 \u00fc \u4e2d \ud83d\ude00", "lone \ud800 surrogate", "\udc00",
                 [], {}, [1, "a", null, undefined, () => 1, Symbol("s"), [2, [3]]],
                 {a: 1, b: undefined, c: () => 1, d: Symbol("x"), e: {f: [true]}, 2: "two", 1: "one", "k\n": 1},
                 {toJSON() { return "custom"; }}, new Date(0), [new Date(0)], {d: new Date(0)},
                 Object.create(null), Object.assign(Object.create(null), {x: 1}), new (class P { constructor() { this.y = 2; } })(),
                 new Map([[1, 2]]), [new Set()], new Number(3), new String("s"), new Boolean(false), [1, , 3],
                 Object.defineProperty({}, "hidden", {value: 1, enumerable: false}),
                 new Proxy({a: 1}, {}), [new Proxy([1], {})], new Uint8Array([1, 2]), /re/g, new Error("e"),
                 "x".repeat(3) + "y", `t${1}${"\u00e9"}`,
                 [{a: 1, "k\n": "x"}, {a: 2, "k\n": [{a: 3}]}, {"k\n": 4, b: {a: 5}}],
               ];
               const out = [];
               for (const c of cases) {
                 let want, got;
                 try { want = JSON.stringify(c); } catch (e) { want = "throws " + e.name; }
                 try { got = await Response.json(c).text(); } catch (e) { got = "throws " + e.name; }
                 if (want === undefined) want = "throws TypeError";
                 if (got !== want) out.push(`${String(want)} != ${got}`);
               }
               // Getters run once, in order, and only the engine runs them.
               let calls = 0;
               const g = {a: 1, get b() { calls++; return [calls]; }, c: 3};
               const withGetter = await Response.json(g).text();
               if (withGetter !== '{"a":1,"b":[1],"c":3}' || calls !== 1) out.push("getter " + withGetter + calls);
               // A toJSON on a prototype is honoured.
               Object.prototype.toJSON = function () { return "proto"; };
               const proto = await Response.json({a: 1}).text();
               delete Object.prototype.toJSON;
               if (proto !== '"proto"') out.push("proto toJSON " + proto);
               Array.prototype.toJSON = function () { return "arr"; };
               const arr = await Response.json({a: [1]}).text();
               delete Array.prototype.toJSON;
               if (arr !== '{"a":"arr"}') out.push("array toJSON " + arr);
               // Cycles and BigInts throw as JSON.stringify does.
               const cyc = {}; cyc.self = cyc;
               for (const bad of [cyc, [cyc], 1n, {n: 1n}]) {
                 try { Response.json(bad); out.push("no throw"); } catch (e) { if (e.name !== "TypeError") out.push(e.name); }
               }
               // Many magnitudes, to cover every layout of a number.
               for (let i = -30; i <= 30; i++) {
                 for (const m of [1, 1.5, 7.25, 123456.789, 3.0000000000000004]) {
                   const x = m * 10 ** i;
                   const got = await Response.json([x, -x]).text();
                   if (got !== JSON.stringify([x, -x])) out.push(`${x}: ${got}`);
                 }
               }
               return out.length ? out.join("; ") : "ok";"#,
        );
        assert_eq!(out, "ok");
    }

    #[test]
    fn string_bodies() {
        let out = run_js(
            "const a = new Response('plain'); const b = new Response('\\u00e9\\u{1F600}');
             const c = new Response('x', {headers: {'content-type': 'text/html'}});
             return [await a.text(), a.headers.get('content-type'), (await b.text()).length, c.headers.get('content-type')].join('|');",
        );
        assert_eq!(out, "plain|text/plain;charset=UTF-8|3|text/html");
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
