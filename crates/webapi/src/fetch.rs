//! `fetch()`: outgoing HTTP requests from an isolate, over HTTP/1.1, or
//! HTTP/2 when TLS negotiates it by ALPN.
//!
//! Spec: <https://fetch.spec.whatwg.org/#fetch-method>. Where the spec speaks
//! of browsers (CORS, cache modes, credentials, opaque redirects) this follows
//! workerd instead: `redirect: "manual"` hands back the 3xx itself.
//!
//! The network side is hyper's client with rustls (ring, Mozilla's roots),
//! one connection pool per executor thread. Isolates are `!Send`, so nothing
//! that holds a JS value ever crosses into the tasks hyper spawns: a request
//! body from a JS stream reaches hyper through a channel fed by a task inside
//! the isolate, and the response body is read lazily from the connection as a
//! host body.
//!
//! Unless the host allows private fetches (`outpost dev`), connections go only
//! to public addresses, checked on the addresses a name resolves to, so a DNS
//! name pointing at an internal address does not get through.

use std::cell::RefCell;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, Method, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rquickjs::function::{Opt, This};
use rquickjs::object::Property;
use rquickjs::{Class, Constructor, Ctx, Function, Promise, Result, Value};
use tokio::net::TcpStream;

use crate::body::{Body, BoxError, HostBody};
use crate::error::{OrThrow, WebApiError};
use crate::events::AbortSignal;
use crate::request::Request;
use crate::response::Response;

/// Redirects followed before a fetch fails, as in the spec.
const MAX_REDIRECTS: usize = 20;

/// How long a pooled connection may sit idle before it is closed.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// Installs the global `fetch`.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    let f = Function::new(ctx.clone(), fetch)?;
    // WebIDL's length: one required argument (both are optional here so
    // that a missing one rejects rather than throws).
    f.prop("length", Property::from(1).configurable())?;
    crate::webidl::define_global_fn(ctx, "fetch", f)
}

/// `fetch(input, init)`. Every failure, including a bad argument, rejects the
/// returned promise rather than throwing.
///
/// Spec: <https://fetch.spec.whatwg.org/#dom-global-fetch>
fn fetch<'js>(
    ctx: Ctx<'js>,
    input: Opt<Value<'js>>,
    init: Opt<Value<'js>>,
) -> Result<Promise<'js>> {
    match start(&ctx, input.0, init.0) {
        Err(rquickjs::Error::Exception) => rejected(&ctx, ctx.catch()),
        other => other,
    }
}

fn rejected<'js>(ctx: &Ctx<'js>, reason: Value<'js>) -> Result<Promise<'js>> {
    let (promise, _resolve, reject) = Promise::new(ctx)?;
    reject.call::<_, ()>((reason,))?;
    Ok(promise)
}

/// The synchronous part of fetch: builds the request with `Request`'s own
/// constructor, checks it, and starts the network part as a future.
fn start<'js>(
    ctx: &Ctx<'js>,
    input: Option<Value<'js>>,
    init: Option<Value<'js>>,
) -> Result<Promise<'js>> {
    let request = new_request(ctx, input, init)?;
    let (method, url, headers, redirect, signal, body) = {
        let mut r = request.borrow_mut();
        let signal = r
            .signal_object()
            .and_then(|s| Class::<AbortSignal>::from_object(&s));
        (
            r.method_str().to_owned(),
            r.url_str().to_owned(),
            r.header_map(),
            r.redirect_mode().to_owned(),
            signal,
            r.take_body(ctx)?,
        )
    };
    if let Some(signal) = &signal {
        let reason = signal.borrow().abort_reason();
        if let Some(reason) = reason {
            cancel_stream(&body, reason.clone());
            return rejected(ctx, reason);
        }
    }
    let url = match url::Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => {
            return Err(WebApiError::type_error(format!(
                "Fetch API cannot load: {url}"
            )))
            .or_throw(ctx)
        }
    };
    if crate::websocket::wants_upgrade(&headers) {
        // Workers: `Upgrade: websocket` makes fetch a WebSocket handshake.
        let allow_private = crate::host::host_info(ctx).allow_private_fetch;
        return crate::websocket::fetch_upgrade(ctx, url, headers, allow_private);
    }
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| WebApiError::type_error(format!("Invalid HTTP method: {method}")))
        .or_throw(ctx)?;
    let redirect = match redirect.as_str() {
        "manual" => Redirect::Manual,
        "error" => Redirect::Error,
        _ => Redirect::Follow,
    };
    let body = match body {
        Body::None => Outgoing::None,
        Body::Bytes(b) => Outgoing::Bytes(b),
        other => Outgoing::Once(Some(other)),
    };
    let abort = signal.as_ref().map(|s| watch_signal(ctx, s)).transpose()?;
    let job = Job {
        headers: outgoing_headers(headers, &body),
        method,
        url,
        body,
        redirect,
        signal,
        abort,
        allow_private: crate::host::host_info(ctx).allow_private_fetch,
    };
    let ctx2 = ctx.clone();
    Promise::wrap_future(ctx, async move { job.run(&ctx2).await })
}

/// `new Request(input, init)` with the `Request` class's own constructor
/// (found through its prototype, so replacing `globalThis.Request` does not
/// change what fetch does).
fn new_request<'js>(
    ctx: &Ctx<'js>,
    input: Option<Value<'js>>,
    init: Option<Value<'js>>,
) -> Result<Class<'js, Request<'js>>> {
    let proto = Class::<Request>::prototype(ctx)?.ok_or(rquickjs::Error::Unknown)?;
    let ctor: Constructor = proto.get("constructor")?;
    let input = input.unwrap_or_else(|| Value::new_undefined(ctx.clone()));
    let value: Value = match init.filter(|i| !i.is_undefined() && !i.is_null()) {
        Some(init) => ctor.construct((input, init))?,
        None => ctor.construct((input,))?,
    };
    Class::<Request>::from_value(&value)
        .map_err(|_| WebApiError::type_error("Request constructor did not return a Request"))
        .or_throw(ctx)
}

/// Cancels a request body stream that will never be sent.
fn cancel_stream<'js>(body: &Body<'js>, reason: Value<'js>) {
    if let Body::Stream(stream) = body {
        if let Ok(cancel) = stream.get::<_, Function>("cancel") {
            let _ = cancel.call::<_, Value>((This(stream.clone()), reason));
        }
    }
}

/// What to do with a redirect response.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Redirect {
    Follow,
    Manual,
    Error,
}

/// The request body as the redirect loop sees it.
enum Outgoing<'js> {
    None,
    /// Buffered: sent again after a 307/308.
    Bytes(Bytes),
    /// A stream: sent once (`None` once taken), so a redirect that must
    /// resend it fails.
    Once(Option<Body<'js>>),
}

/// Drops headers that describe the connection rather than the request; the
/// client sets `Host` from the URL and the length from a buffered body.
fn outgoing_headers(mut headers: HeaderMap, body: &Outgoing<'_>) -> HeaderMap {
    for name in [
        header::HOST,
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
    if !matches!(body, Outgoing::Once(_)) {
        headers.remove(header::CONTENT_LENGTH);
    }
    headers
}

/// One fetch in flight: the current request of the redirect chain.
struct Job<'js> {
    method: Method,
    url: url::Url,
    headers: HeaderMap,
    body: Outgoing<'js>,
    redirect: Redirect,
    signal: Option<Class<'js, AbortSignal<'js>>>,
    abort: Option<Arc<AbortFlag>>,
    allow_private: bool,
}

impl<'js> Job<'js> {
    async fn run(mut self, ctx: &Ctx<'js>) -> Result<Class<'js, Response<'js>>> {
        let client = client(self.allow_private);
        let mut redirects = 0;
        loop {
            let request = self.build(ctx)?;
            let sent = client.request(request);
            let response = match self.abort.clone() {
                None => sent.await,
                Some(flag) => tokio::select! {
                    r = sent => r,
                    _ = flag.aborted() => return Err(self.abort_error(ctx)),
                },
            };
            let response = response.map_err(|e| network_error(ctx, &e))?;
            let location = response.headers().get(header::LOCATION).cloned();
            let status = response.status();
            match location {
                Some(location) if is_redirect(status) && self.redirect != Redirect::Manual => {
                    if self.redirect == Redirect::Error {
                        let why = format!("redirect mode is \"error\" but {} redirected", self.url);
                        return Err(fail(ctx, why));
                    }
                    redirects += 1;
                    if redirects > MAX_REDIRECTS {
                        return Err(fail(ctx, "too many redirects"));
                    }
                    drop(response);
                    self.follow(ctx, status, &location)?;
                }
                _ => return self.respond(ctx, response, redirects > 0),
            }
        }
    }

    /// The hyper request for the current hop.
    fn build(&mut self, ctx: &Ctx<'js>) -> Result<http::Request<FetchBody>> {
        let body = match &mut self.body {
            Outgoing::None => FetchBody::Empty,
            Outgoing::Bytes(b) => FetchBody::Full(Some(b.clone())),
            Outgoing::Once(b) => match b.take() {
                Some(body) => FetchBody::Host(crate::body::into_host_body(ctx, body)),
                None => FetchBody::Empty,
            },
        };
        let mut wire = self.url.clone();
        wire.set_fragment(None);
        let _ = wire.set_username("");
        let _ = wire.set_password(None);
        let uri: http::Uri = wire
            .as_str()
            .parse()
            .map_err(|_| fail(ctx, format!("invalid URL {wire}")))?;
        let mut request = http::Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = self.headers.clone();
        Ok(request)
    }

    /// Moves the request to a redirect's target.
    ///
    /// Spec: <https://fetch.spec.whatwg.org/#http-redirect-fetch>
    fn follow(
        &mut self,
        ctx: &Ctx<'js>,
        status: StatusCode,
        location: &header::HeaderValue,
    ) -> Result<()> {
        let location = String::from_utf8_lossy(location.as_bytes());
        let next = self
            .url
            .join(&location)
            .map_err(|_| fail(ctx, format!("invalid redirect location {location:?}")))?;
        if !matches!(next.scheme(), "http" | "https") {
            return Err(fail(ctx, format!("redirect to unsupported URL {next}")));
        }
        let to_get = (status == StatusCode::SEE_OTHER
            && self.method != Method::GET
            && self.method != Method::HEAD)
            || (matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                && self.method == Method::POST);
        if to_get {
            self.method = Method::GET;
            self.body = Outgoing::None;
            for name in [
                header::CONTENT_TYPE,
                header::CONTENT_LENGTH,
                header::CONTENT_ENCODING,
                header::CONTENT_LANGUAGE,
                header::CONTENT_LOCATION,
            ] {
                self.headers.remove(name);
            }
        } else if matches!(self.body, Outgoing::Once(_)) {
            // workerd's wording.
            return Err(WebApiError::type_error(
                "A request with a one-time-use body (it was initialized from a stream, not a buffer) encountered a redirect requiring the body to be retransmitted. To avoid this error in the future, construct this request from a buffer-like body initializer.",
            ))
            .or_throw(ctx);
        }
        if next.origin() != self.url.origin() {
            self.headers.remove(header::AUTHORIZATION);
        }
        self.url = next;
        Ok(())
    }

    /// Wraps the final response for script.
    fn respond(
        self,
        ctx: &Ctx<'js>,
        response: http::Response<Incoming>,
        redirected: bool,
    ) -> Result<Class<'js, Response<'js>>> {
        let (parts, incoming) = response.into_parts();
        let status_text = parts
            .extensions
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
            .or_else(|| parts.status.canonical_reason().map(str::to_owned))
            .unwrap_or_default();
        let null_body =
            self.method == Method::HEAD || matches!(parts.status.as_u16(), 101 | 204 | 205 | 304);
        let body = (!null_body).then(|| match self.abort {
            Some(abort) => AbortableBody {
                inner: incoming,
                abort,
                done: false,
            }
            .boxed_unsync(),
            None => incoming.map_err(BoxError::from).boxed_unsync(),
        });
        let mut url = self.url;
        url.set_fragment(None);
        Class::instance(
            ctx.clone(),
            Response::from_host(
                parts.status.as_u16(),
                status_text,
                parts.headers,
                body,
                url.into(),
                redirected,
            ),
        )
    }

    /// The signal's reason, thrown.
    fn abort_error(&self, ctx: &Ctx<'js>) -> rquickjs::Error {
        let reason = self.signal.as_ref().and_then(|s| s.borrow().abort_reason());
        match reason {
            Some(reason) => ctx.throw(reason),
            None => WebApiError::dom("AbortError", "The operation was aborted").throw(ctx),
        }
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// A network error: `TypeError: fetch failed: <cause>`.
fn fail(ctx: &Ctx<'_>, cause: impl std::fmt::Display) -> rquickjs::Error {
    WebApiError::type_error(format!("fetch failed: {cause}")).throw(ctx)
}

/// Turns a client error into the network error, naming its root cause.
fn network_error(ctx: &Ctx<'_>, e: &hyper_util::client::legacy::Error) -> rquickjs::Error {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    fail(ctx, cause)
}

// ---------------------------------------------------------------------------
// Abort

/// What a fetch knows of its signal without holding a JS value: whether it
/// fired, with the reason as text (for errors raised outside the isolate),
/// and who to wake. `Send` because the response body holding it is.
#[derive(Default)]
struct AbortFlag {
    state: Mutex<AbortState>,
}

#[derive(Default)]
struct AbortState {
    reason: Option<String>,
    wakers: Vec<Waker>,
}

impl AbortFlag {
    fn fire(&self, reason: String) {
        let wakers = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.reason.is_some() {
                return;
            }
            state.reason = Some(reason);
            std::mem::take(&mut state.wakers)
        };
        for waker in wakers {
            waker.wake();
        }
    }

    fn poll_aborted(&self, cx: &mut Context<'_>) -> Poll<String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(reason) = &state.reason {
            return Poll::Ready(reason.clone());
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    fn aborted(&self) -> impl Future<Output = String> + '_ {
        std::future::poll_fn(move |cx| self.poll_aborted(cx))
    }
}

/// Registers an abort algorithm on `signal` that raises the returned flag.
///
/// The algorithm is a Rust function bound to the signal (`this`), so it
/// reads the reason without capturing any JS value: a closure's captures are
/// invisible to QuickJS's cycle collector, a bound function's are not.
fn watch_signal<'js>(
    ctx: &Ctx<'js>,
    signal: &Class<'js, AbortSignal<'js>>,
) -> Result<Arc<AbortFlag>> {
    let flag = Arc::new(AbortFlag::default());
    let hook = flag.clone();
    let algorithm = Function::new(ctx.clone(), move |ctx: Ctx<'js>, this: This<Value<'js>>| {
        let reason = Class::<AbortSignal>::from_value(&this.0)
            .ok()
            .and_then(|s| s.borrow().abort_reason());
        hook.fire(match reason {
            Some(r) => reason_text(&ctx, &r),
            None => "AbortError: The operation was aborted".into(),
        });
    })?;
    let bind: Function = algorithm.get("bind")?;
    let bound: Value = bind.call((This(algorithm.clone()), signal.clone()))?;
    let bound = bound.into_function().unwrap_or(algorithm);
    signal.borrow_mut().add_algorithm(bound);
    Ok(flag)
}

/// `name: message` for an error-like reason, its string form otherwise.
fn reason_text<'js>(ctx: &Ctx<'js>, reason: &Value<'js>) -> String {
    if let Some(o) = reason.as_object() {
        let name: Option<String> = o.get("name").ok().flatten();
        let message: Option<String> = o.get("message").ok().flatten();
        if let (Some(name), Some(message)) = (name, message) {
            return format!("{name}: {message}");
        }
    }
    crate::webidl::to_usv_string(ctx, reason.clone()).unwrap_or_else(|_| {
        let _ = ctx.catch();
        "aborted".into()
    })
}

/// The error a response body ends with when its fetch's signal aborts.
#[derive(Debug)]
struct Aborted(String);

impl std::fmt::Display for Aborted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Aborted {}

/// A response body that errors once the fetch's signal aborts.
struct AbortableBody {
    inner: Incoming,
    abort: Arc<AbortFlag>,
    done: bool,
}

impl http_body::Body for AbortableBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(reason) = this.abort.poll_aborted(cx) {
            this.done = true;
            return Poll::Ready(Some(Err(Box::new(Aborted(reason)))));
        }
        Pin::new(&mut this.inner)
            .poll_frame(cx)
            .map_err(BoxError::from)
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

// ---------------------------------------------------------------------------
// Request bodies

/// A request body as hyper takes it. A streamed body is a host body (a JS
/// stream is pumped into one by [`crate::body::into_host_body`]).
enum FetchBody {
    Empty,
    Full(Option<Bytes>),
    Host(HostBody),
}

impl http_body::Body for FetchBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            FetchBody::Empty => Poll::Ready(None),
            FetchBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            FetchBody::Host(h) => Pin::new(h).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            FetchBody::Empty => true,
            FetchBody::Full(b) => b.is_none(),
            FetchBody::Host(h) => h.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            FetchBody::Empty => SizeHint::with_exact(0),
            FetchBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            FetchBody::Host(h) => h.size_hint(),
        }
    }
}

// ---------------------------------------------------------------------------
// Connections

type HttpClient = Client<hyper_rustls::HttpsConnector<Connector>, FetchBody>;

thread_local! {
    /// This thread's clients: `[public only, private allowed]`. The two never
    /// share pooled connections.
    static CLIENTS: RefCell<[Option<HttpClient>; 2]> = const { RefCell::new([None, None]) };
}

fn client(allow_private: bool) -> HttpClient {
    CLIENTS.with(|clients| {
        clients.borrow_mut()[usize::from(allow_private)]
            .get_or_insert_with(|| build_client(allow_private))
            .clone()
    })
}

fn build_client(allow_private: bool) -> HttpClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .expect("ring supports rustls's default protocol versions")
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(Connector { allow_private });
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(https)
}

/// Why a connection could not be made. It carries its cause in its message
/// and has no source, so it is the root cause a network error names.
#[derive(Debug)]
pub(crate) struct ConnectError(String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

/// Resolves the host, drops addresses the policy forbids, and connects over
/// TCP to the first allowed address that answers.
#[derive(Clone)]
pub(crate) struct Connector {
    /// Whether loopback and private addresses may be reached.
    pub(crate) allow_private: bool,
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectError;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Self::Response, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::result::Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        Box::pin(connect(uri, self.allow_private))
    }
}

async fn connect(
    uri: http::Uri,
    allow_private: bool,
) -> std::result::Result<TokioIo<TcpStream>, ConnectError> {
    let host = uri
        .host()
        .ok_or_else(|| ConnectError(format!("URL {uri} has no host")))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let resolved: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| ConnectError(format!("DNS lookup of {host} failed: {e}")))?
            .collect(),
    };
    let allowed: Vec<SocketAddr> = resolved
        .iter()
        .copied()
        .filter(|a| allow_private || is_public_address(a.ip()))
        .collect();
    let Some(first) = resolved.first() else {
        return Err(ConnectError(format!(
            "DNS lookup of {host} found no address"
        )));
    };
    if allowed.is_empty() {
        let ip = first.ip();
        let what = if host.parse::<IpAddr>().is_ok() {
            format!("address {ip}")
        } else {
            format!("address {ip} (of {host})")
        };
        return Err(ConnectError(format!(
            "{what} is not allowed: fetch may only connect to public addresses"
        )));
    }
    let mut last = None;
    for addr in allowed {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                return Ok(TokioIo::new(stream));
            }
            Err(e) => last = Some(ConnectError(format!("connection to {addr} failed: {e}"))),
        }
    }
    Err(last.unwrap_or_else(|| ConnectError("no address to connect to".into())))
}

/// Whether `ip` is a public unicast address: not loopback, private (RFC 1918,
/// fc00::/7), link-local, CGNAT (100.64.0.0/10), unspecified, multicast,
/// documentation, benchmarking or otherwise reserved. IPv6 forms that embed
/// an IPv4 address (mapped, NAT64, 6to4) are judged by that address.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let reserved = a == 0 // "this network", 0.0.0.0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF assignments, TEST-NET-1
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 well-known prefix.
        return is_public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        // 6to4
        return is_public_v4(embedded(s[1], s[2]));
    }
    // Only global unicast (2000::/3) is public; of it, not the IETF protocol
    // block (2001::/23, with Teredo), documentation (2001:db8::/32, 3fff::/20).
    (s[0] & 0xe000) == 0x2000
        && !(s[0] == 0x2001 && s[1] < 0x200)
        && !(s[0] == 0x2001 && s[1] == 0xdb8)
        && !(s[0] == 0x3fff && s[1] < 0x1000)
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;
    use std::time::Duration;

    use super::is_public_address;
    use crate::host::HostInfo;
    use crate::testing::{run_js, run_js_with_host};

    /// A request as the test server saw it.
    struct Req {
        method: String,
        path: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Req {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    fn read_line(r: &mut impl BufRead) -> Option<String> {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
        }
    }

    fn read_request(r: &mut impl BufRead) -> Option<Req> {
        let start = read_line(r)?;
        let mut parts = start.split(' ');
        let method = parts.next()?.to_owned();
        let path = parts.next()?.to_owned();
        let mut headers = Vec::new();
        loop {
            let line = read_line(r)?;
            if line.is_empty() {
                break;
            }
            let (n, v) = line.split_once(':')?;
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let mut req = Req {
            method,
            path,
            headers,
            body: Vec::new(),
        };
        if let Some(len) = req.header("content-length") {
            let mut body = vec![0; len.parse().ok()?];
            r.read_exact(&mut body).ok()?;
            req.body = body;
        } else if req.header("transfer-encoding") == Some("chunked") {
            loop {
                let size = usize::from_str_radix(read_line(r)?.split(';').next()?, 16).ok()?;
                let mut chunk = vec![0; size + 2];
                r.read_exact(&mut chunk).ok()?;
                if size == 0 {
                    break;
                }
                req.body.extend_from_slice(&chunk[..size]);
            }
        }
        Some(req)
    }

    /// Serves HTTP/1.1 on an ephemeral loopback port, one thread per
    /// connection, calling `handler` for each request; returns the port.
    fn serve(handler: impl Fn(Req, &mut TcpStream) + Send + Sync + 'static) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let handler = handler.clone();
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    while let Some(req) = read_request(&mut reader) {
                        handler(req, &mut conn);
                    }
                });
            }
        });
        port
    }

    /// Writes a complete response.
    fn reply(conn: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut out = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
        for (n, v) in headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(body);
        let _ = conn.write_all(&bytes);
    }

    /// Starts a chunked response and returns; write chunks with [`chunk`].
    fn start_chunked(conn: &mut TcpStream, headers: &[(&str, &str)]) {
        let mut out = String::from("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n");
        for (n, v) in headers {
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let _ = conn.write_all(out.as_bytes());
    }

    fn chunk(conn: &mut TcpStream, data: &[u8]) {
        let _ = conn.write_all(format!("{:x}\r\n", data.len()).as_bytes());
        let _ = conn.write_all(data);
        let _ = conn.write_all(b"\r\n");
        let _ = conn.flush();
    }

    /// Echoes the request as JSON: method, path, selected headers, body.
    fn echo(req: Req, conn: &mut TcpStream) {
        let h = |n: &str| match req.header(n) {
            Some(v) => format!("{v:?}"),
            None => "null".into(),
        };
        let json = format!(
            "{{\"method\":{:?},\"path\":{:?},\"body\":{:?},\"ct\":{},\"cl\":{},\"te\":{},\"x\":{},\"host\":{},\"auth\":{}}}",
            req.method,
            req.path,
            String::from_utf8_lossy(&req.body),
            h("content-type"),
            h("content-length"),
            h("transfer-encoding"),
            h("x-test"),
            h("host"),
            h("authorization"),
        );
        reply(
            conn,
            "200 OK",
            &[("content-type", "application/json")],
            json.as_bytes(),
        );
    }

    fn dev() -> HostInfo {
        HostInfo {
            deployment: "test".into(),
            allow_private_fetch: true,
            ..HostInfo::default()
        }
    }

    /// A minimal `ReadableStream` (start/pull/cancel, one reader) for as long
    /// as the real one is not installed.
    const STREAM_SHIM: &str = r#"
if (typeof ReadableStream === 'undefined') {
  globalThis.ReadableStream = class ReadableStream {
    constructor(src = {}) {
      this.q = []; this.done = false; this.failed = false; this.err = undefined;
      this.waiters = []; this.src = src; this.pulling = false; this.locked = false;
      this.c = {
        enqueue: (v) => { this.q.push(v); this.flush(); },
        close: () => { this.done = true; this.flush(); },
        error: (e) => { this.failed = true; this.err = e; this.flush(); },
      };
      if (src.start) src.start(this.c);
    }
    flush() {
      while (this.waiters.length) {
        if (this.q.length) this.waiters.shift().resolve({ value: this.q.shift(), done: false });
        else if (this.failed) this.waiters.shift().reject(this.err);
        else if (this.done) this.waiters.shift().resolve({ value: undefined, done: true });
        else break;
      }
    }
    async pull() {
      if (this.pulling || !this.src.pull) return;
      this.pulling = true;
      try { await this.src.pull(this.c); } catch (e) { this.c.error(e); }
      this.pulling = false;
      this.flush();
      if (this.waiters.length && !this.done && !this.failed) this.pull();
    }
    getReader() {
      if (this.locked) throw new TypeError('ReadableStream is locked');
      this.locked = true;
      return {
        read: () => new Promise((resolve, reject) => {
          this.waiters.push({ resolve, reject }); this.flush();
          if (this.waiters.length) this.pull();
        }),
        cancel: async (r) => {
          this.done = true; this.q = [];
          if (this.src.cancel) await this.src.cancel(r);
          this.flush();
        },
        releaseLock: () => { this.locked = false; },
      };
    }
  };
}
"#;

    fn run_dev(body: &str) -> String {
        run_js_with_host(&format!("{STREAM_SHIM}\n{body}"), dev())
    }

    #[test]
    fn get_text_and_json() {
        let port = serve(|req, conn| match req.path.as_str() {
            "/text" => reply(
                conn,
                "200 OK",
                &[("content-type", "text/plain"), ("x-a", "b")],
                b"hello",
            ),
            "/json" => reply(
                conn,
                "201 Created",
                &[("content-type", "application/json")],
                br#"{"a":[1,2]}"#,
            ),
            _ => reply(conn, "404 Not Found", &[], b""),
        });
        let out = run_dev(&format!(
            "const r = await fetch('http://127.0.0.1:{port}/text#frag');
             const t = await r.text();
             const j = await fetch(new URL('http://127.0.0.1:{port}/json'));
             const v = await j.json();
             const n = await fetch('http://127.0.0.1:{port}/missing');
             return [r.status, r.ok, r.statusText, r.url, r.redirected, r.type, r.headers.get('content-type'),
                     r.headers.get('x-a'), t, r.bodyUsed, j.status, j.statusText, v.a.join('+'), n.status, n.ok].join('|');"
        ));
        assert_eq!(
            out,
            format!("200|true|OK|http://127.0.0.1:{port}/text|false|default|text/plain|b|hello|true|201|Created|1+2|404|false")
        );
    }

    #[test]
    fn post_round_trips_body_and_headers() {
        let port = serve(echo);
        let out = run_dev(&format!(
            "const base = 'http://127.0.0.1:{port}';
             const a = await (await fetch(base + '/p?q=1', {{method: 'POST', body: 'payload', headers: {{'X-Test': 'yes', 'Host': 'evil.example'}}}})).json();
             const b = await (await fetch(base + '/bin', {{method: 'PUT', body: new Uint8Array([104, 105]), headers: {{'content-length': '99'}}}})).json();
             const req = new Request(base + '/req', {{method: 'PATCH', body: JSON.stringify({{k: 1}}), headers: {{'content-type': 'application/json'}}}});
             const c = await (await fetch(req)).json();
             const d = await (await fetch(base + '/get')).json();
             return JSON.stringify([a, b, c, d, req.bodyUsed]);"
        ));
        let host = format!("127.0.0.1:{port}");
        let expect = format!(
            r#"[{{"method":"POST","path":"/p?q=1","body":"payload","ct":"text/plain;charset=UTF-8","cl":"7","te":null,"x":"yes","host":"{host}","auth":null}},{{"method":"PUT","path":"/bin","body":"hi","ct":null,"cl":"2","te":null,"x":null,"host":"{host}","auth":null}},{{"method":"PATCH","path":"/req","body":"{{\"k\":1}}","ct":"application/json","cl":"7","te":null,"x":null,"host":"{host}","auth":null}},{{"method":"GET","path":"/get","body":"","ct":null,"cl":null,"te":null,"x":null,"host":"{host}","auth":null}},true]"#
        );
        assert_eq!(out, expect);
    }

    #[test]
    fn streams_request_body_from_js() {
        let port = serve(echo);
        let out = run_dev(&format!(
            "const enc = new TextEncoder();
             const parts = ['ab', 'cd', 'ef'];
             const body = new ReadableStream({{
               pull(c) {{
                 const next = parts.shift();
                 if (next === undefined) c.close(); else c.enqueue(enc.encode(next));
               }}
             }});
             const r = await (await fetch('http://127.0.0.1:{port}/up', {{method: 'POST', body}})).json();
             const bad = new ReadableStream({{ start(c) {{ c.enqueue(42); c.close(); }} }});
             let err;
             try {{ await fetch('http://127.0.0.1:{port}/up', {{method: 'POST', body: bad}}); }} catch (e) {{ err = e.name + ': ' + e.message; }}
             return [r.body, r.te, r.cl, err].join('|');"
        ));
        assert_eq!(
            out,
            "abcdef|chunked||TypeError: fetch failed: TypeError: ReadableStream chunks in a body must be Uint8Array"
        );
    }

    #[test]
    fn streams_response_body_chunk_by_chunk() {
        let port = serve(|_req, conn| {
            start_chunked(conn, &[("content-type", "text/plain")]);
            for part in ["one", "two", "three"] {
                chunk(conn, part.as_bytes());
                std::thread::sleep(Duration::from_millis(80));
            }
            chunk(conn, b"");
        });
        let out = run_dev(&format!(
            "const t0 = Date.now();
             const r = await fetch('http://127.0.0.1:{port}/s');
             const headersAfter = Date.now() - t0;
             const reader = r.body.getReader();
             const dec = new TextDecoder();
             const chunks = [];
             for (;;) {{
               const {{ value, done }} = await reader.read();
               if (done) break;
               chunks.push(dec.decode(value));
             }}
             return [headersAfter < 200, chunks.join(',')].join('|');"
        ));
        assert_eq!(out, "true|one,two,three");
    }

    fn redirect_server() -> u16 {
        serve(|req, conn| {
            let path = req.path.clone();
            let to = |conn: &mut TcpStream, status: &str, loc: &str| {
                reply(conn, status, &[("location", loc)], b"moved")
            };
            match path.as_str() {
                "/301" => to(conn, "301 Moved Permanently", "/final"),
                "/302" => to(conn, "302 Found", "final?x=1"),
                "/303" => to(conn, "303 See Other", "/final"),
                "/307" => to(conn, "307 Temporary Redirect", "/final"),
                "/308" => to(conn, "308 Permanent Redirect", "/final"),
                "/chain" => to(conn, "302 Found", "/301"),
                "/loop" => to(conn, "302 Found", "/loop"),
                "/ftp" => to(conn, "302 Found", "ftp://example.com/"),
                "/nolocation" => reply(conn, "302 Found", &[], b"stay"),
                "/cross" => {
                    // Same server, other origin (localhost vs 127.0.0.1).
                    let port = req
                        .header("host")
                        .and_then(|h| h.rsplit(':').next())
                        .unwrap_or("");
                    let loc = format!("http://localhost:{port}/final");
                    to(conn, "307 Temporary Redirect", &loc)
                }
                _ => echo(req, conn),
            }
        })
    }

    #[test]
    fn redirects_follow() {
        let port = redirect_server();
        let out = run_dev(&format!(
            "const base = 'http://127.0.0.1:{port}';
             const show = async (p, init) => {{
               const r = await fetch(base + p, init);
               const j = await r.json();
               return [r.status, r.redirected, r.url.slice(base.length), j.method, j.path, j.body, j.ct].join(' ');
             }};
             const out = [
               await show('/301'),
               await show('/302', {{method: 'POST', body: 'x'}}),
               await show('/chain'),
               await show('/307', {{method: 'POST', body: 'kept', headers: {{'content-type': 'text/x'}}}}),
               await show('/308', {{method: 'PUT', body: new Uint8Array([65])}}),
               await show('/301', {{method: 'PUT', body: 'put'}}),
             ];
             const nl = await fetch(base + '/nolocation');
             out.push(nl.status + ' ' + await nl.text());
             const auth = {{headers: {{authorization: 'Bearer t'}}}};
             out.push((await (await fetch(base + '/301', auth)).json()).auth);
             const cross = await fetch(base + '/cross', auth);
             out.push(cross.url.replace(/:[0-9]+/, '') + ' ' + (await cross.json()).auth);
             return out.join('\\n');"
        ));
        assert_eq!(
            out,
            [
                "200 true /final GET /final  ",
                "200 true /final?x=1 GET /final?x=1  ",
                "200 true /final GET /final  ",
                "200 true /final POST /final kept text/x",
                "200 true /final PUT /final A ",
                "200 true /final PUT /final put text/plain;charset=UTF-8",
                "302 stay",
                "Bearer t",
                "http://localhost/final null",
            ]
            .join("\n")
        );
    }

    #[test]
    fn redirect_303_becomes_get_without_body() {
        let port = redirect_server();
        let out = run_dev(&format!(
            "const base = 'http://127.0.0.1:{port}';
             const r = await fetch(base + '/303', {{method: 'PUT', body: 'gone', headers: {{'content-type': 'text/x', 'x-test': 'kept'}}}});
             const j = await r.json();
             const h = await (await fetch(base + '/303', {{method: 'HEAD'}}));
             return [r.redirected, j.method, JSON.stringify(j.body), j.ct, j.cl, j.x, h.status, String(h.body)].join('|');"
        ));
        assert_eq!(out, "true|GET|\"\"|||kept|200|null");
    }

    #[test]
    fn redirects_manual_and_error() {
        let port = redirect_server();
        let out = run_dev(&format!(
            "const base = 'http://127.0.0.1:{port}';
             const m = await fetch(base + '/301', {{redirect: 'manual'}});
             const out = [m.status, m.redirected, m.url.slice(base.length), m.headers.get('location'), await m.text()].join(' ');
             const errs = [];
             for (const [p, init] of [
               ['/302', {{redirect: 'error'}}],
               ['/loop', {{}}],
               ['/ftp', {{}}],
               ['/307', {{method: 'POST', body: new ReadableStream({{ start(c) {{ c.enqueue(new Uint8Array([1])); c.close(); }} }})}}],
             ]) {{
               try {{ await fetch(base + p, init); errs.push('resolved'); }}
               catch (e) {{ errs.push(e.constructor.name + ': ' + e.message.slice(0, 40)); }}
             }}
             return [out, ...errs].join('\\n');"
        ));
        assert_eq!(
            out,
            [
                "301 false /301 /final moved",
                "TypeError: fetch failed: redirect mode is \"error\" b",
                "TypeError: fetch failed: too many redirects",
                "TypeError: fetch failed: redirect to unsupported UR",
                "TypeError: A request with a one-time-use body (it w",
            ]
            .join("\n")
        );
    }

    #[test]
    fn abort_before_sending() {
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = hits.clone();
        let port = serve(move |req, conn| {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            echo(req, conn)
        });
        let out = run_dev(&format!(
            "const url = 'http://127.0.0.1:{port}/';
             const out = [];
             const c = new AbortController(); c.abort();
             try {{ await fetch(url, {{signal: c.signal}}); }} catch (e) {{ out.push(e.name, e instanceof DOMException); }}
             try {{ await fetch(url, {{signal: AbortSignal.abort('why')}}); }} catch (e) {{ out.push(e); }}
             const req = new Request(url, {{signal: AbortSignal.abort(new RangeError('r'))}});
             try {{ await fetch(req); }} catch (e) {{ out.push(e.name); }}
             return out.join('|');"
        ));
        assert_eq!(out, "AbortError|true|why|RangeError");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn abort_while_waiting_for_headers() {
        let port = serve(|req, conn| {
            std::thread::sleep(Duration::from_millis(1500));
            echo(req, conn)
        });
        let out = run_dev(&format!(
            "const c = new AbortController();
             setTimeout(() => c.abort(), 50);
             const t0 = Date.now();
             let name;
             try {{ await fetch('http://127.0.0.1:{port}/slow', {{signal: c.signal}}); name = 'resolved'; }}
             catch (e) {{ name = e.name; }}
             const timed = AbortSignal.timeout(50);
             try {{ await fetch('http://127.0.0.1:{port}/slow', {{signal: timed}}); }}
             catch (e) {{ name += '|' + e.name; }}
             return name + '|' + (Date.now() - t0 < 1000);"
        ));
        assert_eq!(out, "AbortError|TimeoutError|true");
    }

    #[test]
    fn abort_while_streaming_body() {
        let port = serve(|_req, conn| {
            start_chunked(conn, &[]);
            chunk(conn, b"first");
            std::thread::sleep(Duration::from_millis(1500));
            chunk(conn, b"late");
            chunk(conn, b"");
        });
        let out = run_dev(&format!(
            "const c = new AbortController();
             const url = 'http://127.0.0.1:{port}/';
             const r = await fetch(url, {{signal: c.signal}});
             const reader = r.body.getReader();
             const first = new TextDecoder().decode((await reader.read()).value);
             const pending = reader.read();
             c.abort();
             let err;
             try {{ await pending; err = 'resolved'; }} catch (e) {{ err = e.name + ': ' + e.message; }}
             const c2 = new AbortController();
             const r2 = await fetch(url, {{signal: c2.signal}});
             setTimeout(() => c2.abort(), 50);
             let err2;
             try {{ await r2.text(); err2 = 'resolved'; }} catch (e) {{ err2 = e.name; }}
             const c3 = new AbortController();
             const r3 = await fetch(url, {{signal: c3.signal}});
             setTimeout(() => c3.abort('custom reason'), 50);
             let err3;
             try {{ await r3.arrayBuffer(); err3 = 'resolved'; }} catch (e) {{ err3 = e.message; }}
             return [first, err, err2, err3].join('|');"
        ));
        assert_eq!(
            out,
            "first|TypeError: Failed to read body: AbortError: The operation was aborted|TypeError|Failed to read body: custom reason"
        );
    }

    #[test]
    fn connection_refused_is_type_error() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let out = run_dev(&format!(
            "try {{ await fetch('http://127.0.0.1:{port}/'); return 'resolved'; }}
             catch (e) {{ return e.constructor.name + ': ' + e.message; }}"
        ));
        assert!(
            out.starts_with(&format!(
                "TypeError: fetch failed: connection to 127.0.0.1:{port} failed:"
            )),
            "{out}"
        );
    }

    #[test]
    fn bad_input_rejects_with_type_error() {
        let out = run_dev(
            "const out = [];
             for (const args of [['ftp://example.com/'], ['data:text/plain,hi'], ['/relative'], [],
                                 ['http://a.example/', {method: 'GET', body: 'x'}], ['http://a.example/', {redirect: 'nope'}]]) {
               let p;
               try { p = fetch(...args); } catch (e) { out.push('threw'); continue; }
               try { await p; out.push('resolved'); } catch (e) { out.push(e.constructor.name); }
             }
             out.push(typeof fetch, fetch.name, fetch.length);
             return out.join('|');",
        );
        assert_eq!(
            out,
            "TypeError|TypeError|TypeError|TypeError|TypeError|TypeError|function|fetch|1"
        );
        let msg =
            run_dev("try { await fetch('ftp://example.com/x'); } catch (e) { return e.message; }");
        assert_eq!(msg, "Fetch API cannot load: ftp://example.com/x");
    }

    #[test]
    fn private_addresses_are_refused_unless_allowed() {
        let port = serve(echo);
        let out = run_js(&format!(
            "const out = [];
             for (const host of ['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '10.0.0.1', '169.254.169.254', '[::ffff:127.0.0.1]']) {{
               try {{ await fetch(`http://${{host}}:{port}/`); out.push('resolved'); }}
               catch (e) {{ out.push(e.constructor.name + ': ' + e.message); }}
             }}
             return out.join('\\n');"
        ));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 7, "{out}");
        for line in &lines {
            assert!(
                line.starts_with("TypeError: fetch failed: address ")
                    && line.ends_with("is not allowed: fetch may only connect to public addresses"),
                "{line}"
            );
        }
        assert!(lines[1].contains("(of localhost)"), "{}", lines[1]);
        let allowed = run_js_with_host(
            &format!("return (await fetch('http://localhost:{port}/x')).status"),
            dev(),
        );
        assert_eq!(allowed, "200");
    }

    #[test]
    fn classifies_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "2001:db8::1",
            "2001::1",
            "::127.0.0.1",
            "100::1",
        ] {
            assert!(
                !is_public_address(ip.parse().unwrap()),
                "{ip} should not be public"
            );
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.0.1",
            "172.32.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(
                is_public_address(ip.parse().unwrap()),
                "{ip} should be public"
            );
        }
    }

    #[test]
    fn set_cookie_headers_stay_separate() {
        let port = serve(|_req, conn| {
            reply(
                conn,
                "200 OK",
                &[
                    ("set-cookie", "a=1; Path=/"),
                    ("set-cookie", "b=2, c=3"),
                    ("x-multi", "1"),
                    ("x-multi", "2"),
                ],
                b"",
            )
        });
        let out = run_dev(&format!(
            "const r = await fetch('http://127.0.0.1:{port}/');
             return JSON.stringify([r.headers.getSetCookie(), r.headers.get('x-multi')]);"
        ));
        assert_eq!(out, r#"[["a=1; Path=/","b=2, c=3"],"1, 2"]"#);
    }

    /// A host body in chunks, like an incoming request's.
    struct Chunks(std::collections::VecDeque<bytes::Bytes>);

    impl http_body::Body for Chunks {
        type Data = bytes::Bytes;
        type Error = crate::body::BoxError;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
            std::task::Poll::Ready(
                self.get_mut()
                    .0
                    .pop_front()
                    .map(|b| Ok(http_body::Frame::data(b))),
            )
        }
    }

    /// Runs `script` (an async function body) in a dev isolate whose global
    /// `incoming` is a request to `url` as the host delivers it, with a
    /// chunked body.
    fn run_with_incoming(url: &str, script: &str) -> String {
        use http_body_util::BodyExt;
        crate::testing::block_on_local(async {
            let qjs = rquickjs::AsyncRuntime::new().unwrap();
            let ctx = rquickjs::AsyncContext::full(&qjs).await.unwrap();
            let script = format!("{STREAM_SHIM}\n(async () => {{ {script} }})()");
            let out = ctx
                .async_with(async |ctx| {
                    let _ = ctx.store_userdata(dev());
                    crate::install(&ctx).unwrap();
                    let mut headers = http::HeaderMap::new();
                    headers.insert("host", "original.example".parse().unwrap());
                    headers.insert("x-test", "from-client".parse().unwrap());
                    let body = Chunks(["from", "-", "host"].map(bytes::Bytes::from).into());
                    let incoming = crate::request::Request::incoming(
                        "POST",
                        url.into(),
                        headers,
                        Some(body.boxed_unsync()),
                    );
                    ctx.globals().set("incoming", incoming).unwrap();
                    let p: rquickjs::Promise = ctx.eval(script).unwrap();
                    match p.into_future::<String>().await {
                        Ok(s) => s,
                        Err(_) => format!("THROWN {:?}", ctx.catch()),
                    }
                })
                .await;
            qjs.idle().await;
            out
        })
    }

    #[test]
    fn proxies_an_incoming_request_and_its_host_body() {
        let port = serve(echo);
        let show = "const j = await r.json();
                    return [j.method, j.body, j.path, j.host, j.x, j.te, incoming.bodyUsed].join('|');";
        // The request itself: its host body goes to hyper as is.
        let out = run_with_incoming(
            &format!("http://127.0.0.1:{port}/direct"),
            &format!("const r = await fetch(incoming); {show}"),
        );
        assert_eq!(
            out,
            format!("POST|from-host|/direct|127.0.0.1:{port}|from-client|chunked|true")
        );
        // The usual proxy idiom: the request as the init of a new one, whose
        // body is then `incoming.body`, a stream.
        let out = run_with_incoming(
            "http://original.example/in",
            &format!("const r = await fetch(new Request('http://127.0.0.1:{port}/fwd', incoming)); {show}"),
        );
        assert!(
            out.starts_with(&format!(
                "POST|from-host|/fwd|127.0.0.1:{port}|from-client|chunked|"
            )),
            "{out}"
        );
    }

    /// Tears the isolate down while fetches are in flight (waiting for
    /// headers, mid-body, mid-upload, with a signal): nothing may leak, or
    /// QuickJS aborts the process when the runtime is freed.
    #[test]
    fn isolate_teardown_with_fetches_in_flight() {
        let slow = serve(|req, conn| {
            std::thread::sleep(Duration::from_secs(2));
            echo(req, conn)
        });
        let trickle = serve(|_req, conn| {
            start_chunked(conn, &[]);
            chunk(conn, b"first");
            std::thread::sleep(Duration::from_secs(2));
            chunk(conn, b"");
        });
        crate::testing::block_on_local(async {
            let qjs = rquickjs::AsyncRuntime::new().unwrap();
            let ctx = rquickjs::AsyncContext::full(&qjs).await.unwrap();
            let script = format!(
                "{STREAM_SHIM}
                 (async () => {{
                   const c = new AbortController();
                   globalThis.keep = [c, fetch('http://127.0.0.1:{slow}/', {{signal: c.signal}})];
                   fetch('http://127.0.0.1:{slow}/', {{method: 'POST', body: new ReadableStream({{ pull() {{ return new Promise(() => {{}}); }} }})}});
                   const r = await fetch('http://127.0.0.1:{trickle}/', {{signal: AbortSignal.timeout(60000)}});
                   const reader = r.body.getReader();
                   await reader.read();
                   globalThis.pendingRead = reader.read();
                   return 'started';
                 }})()"
            );
            let out = ctx
                .async_with(async |ctx| {
                    let _ = ctx.store_userdata(dev());
                    crate::install(&ctx).unwrap();
                    let p: rquickjs::Promise = ctx.eval(script).unwrap();
                    let v: String = p.into_future().await.unwrap();
                    v
                })
                .await;
            assert_eq!(out, "started");
            drop(ctx);
            drop(qjs);
        });
    }
}
