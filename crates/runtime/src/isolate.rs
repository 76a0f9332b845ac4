//! An isolate: one QuickJS runtime and context holding one deployment
//! version, and the phases of a request through it.
//!
//! A request's life, top to bottom ([`Isolate::dispatch`]):
//! 1. refuse if an earlier failure poisoned the isolate;
//! 2. build the JS `Request` (headers and body stay host-side until read);
//! 3. call the handler through the format glue and await its `Response`,
//!    under the CPU meter and the wall-clock deadline;
//! 4. take status, headers and body back out (a JS stream body is pumped by a
//!    task inside the isolate);
//! 5. on a limit, poison the isolate so its owner discards it.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use outpost_webapi::body::{Body, BoxError, HostBody};
use outpost_webapi::cache::CacheStore;
use outpost_webapi::host::HostInfo;
use outpost_webapi::request::Request;
use outpost_webapi::response::Response;
use outpost_webapi::websocket::{HostSocket, SocketTarget, WsMessage};
use rquickjs::{
    AsyncContext, AsyncRuntime, Class, Ctx, Function, Module, Object, Persistent, Value,
};
use tokio::sync::Notify;

use crate::body::ResponseBody;
use crate::bundle::{describe_exception, BundleResolver, BytecodeLoader, CompiledBundle};
use crate::error::{BuildError, DispatchError, LimitKind, StartError};
use crate::limits::{Limits, Meter, Metered, MeteredOutput};
use crate::pool::Fresh;

/// A value of the `env` object handed to handlers.
#[derive(Debug, Clone)]
pub enum EnvValue {
    /// A string var or secret.
    Text(String),
    /// A structured var, as JSON text.
    Json(String),
    /// A binding object (a D1 database, a KV namespace, ...) made afresh in
    /// each isolate by its provider.
    Binding(Arc<dyn EnvBinding>),
}

/// Makes the JS object of an `env` binding in one isolate. Implemented by
/// the crates that own bindings (`outpost-bindings`), so the runtime does
/// not depend on what is behind them.
pub trait EnvBinding: Send + Sync + std::fmt::Debug {
    /// Creates the binding's JS value in `ctx`; called once per isolate start.
    fn create<'js>(&self, ctx: &Ctx<'js>) -> rquickjs::Result<Value<'js>>;
}

/// Everything needed to start isolates for one deployment version.
/// Shared by all executor threads.
#[derive(Debug)]
pub struct WorkerSpec {
    /// Deployment name (used in logs).
    pub name: String,
    /// Version number; isolates are cached per (name, version).
    pub version: u64,
    /// The deployment's bytecode.
    pub bundle: Arc<CompiledBundle>,
    /// Bindings of the `env` object.
    pub env: Vec<(String, EnvValue)>,
    /// Limits for every request.
    pub limits: Limits,
    /// Whether error responses carry messages and stacks (dev mode).
    pub dev: bool,
    /// Whether outbound fetch may reach private addresses.
    pub allow_private_fetch: bool,
    /// The node's Cache API store (shared by all its workers, which it keeps
    /// apart by worker name); `None` falls back to a per-process memory store.
    pub cache: Option<Arc<dyn CacheStore>>,
}

impl WorkerSpec {
    /// A worker named `name` running `bundle`, as production serves it:
    /// version 1, no `env`, default limits, plain error pages, `fetch` kept
    /// off private addresses, the per-process cache.
    pub fn new(name: impl Into<String>, bundle: CompiledBundle) -> WorkerSpec {
        WorkerSpec {
            name: name.into(),
            version: 1,
            bundle: Arc::new(bundle),
            env: Vec::new(),
            limits: Limits::default(),
            dev: false,
            allow_private_fetch: false,
            cache: None,
        }
    }

    /// [`WorkerSpec::new`] for a worker of one module, `index.js`, compiled
    /// from `source` (tests and benchmarks).
    pub fn from_source(name: impl Into<String>, source: &str) -> Result<WorkerSpec, BuildError> {
        let bundle =
            crate::Bundle::from_sources("index.js", [("index.js".to_string(), source.to_string())]);
        Ok(WorkerSpec::new(name, CompiledBundle::compile(&bundle)?))
    }
}

impl HostRequest {
    /// A `GET` of `url` with no headers and no body.
    pub fn get(url: impl Into<String>) -> HostRequest {
        HostRequest {
            method: http::Method::GET,
            url: url.into(),
            headers: HeaderMap::new(),
            body: None,
        }
    }
}

/// What a cold start keeps: the bound handler, `Request.prototype`, the
/// handler's format and the streams-loaded flag.
type Started = (
    Persistent<Function<'static>>,
    Persistent<Object<'static>>,
    HandlerFormat,
    Rc<Cell<bool>>,
);

/// A response, with the isolate's end of a WebSocket when it is a 101 that
/// carries one.
pub type Dispatched = (http::Response<ResponseBody>, Option<HostSocket>);

/// A request as the host hands it over.
pub struct HostRequest {
    /// HTTP method.
    pub method: http::Method,
    /// Absolute URL.
    pub url: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// The body, unless the request has none.
    pub body: Option<HostBody>,
}

/// The handler format a worker was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandlerFormat {
    /// `export default { fetch(request, env, ctx) }`
    Modules,
    /// `addEventListener('fetch', e => e.respondWith(...))`
    ServiceWorker,
    /// `export default function (request, context)`
    Function,
}

/// One live isolate. Not `Send`: it lives and dies on one executor thread.
pub struct Isolate {
    // Field order is drop order: JS handles must be released before the
    // context and runtime that own them.
    dispatch: Persistent<Function<'static>>,
    /// `Request.prototype`, kept at hand: rquickjs finds a class's prototype
    /// by hashing its type id in a map on every instance it makes.
    request_proto: Persistent<Object<'static>>,
    ctx: AsyncContext,
    rt: AsyncRuntime,
    dropped: Rc<Notify>,
    meter: Rc<Meter>,
    spec: Arc<WorkerSpec>,
    format: HandlerFormat,
    poisoned: Cell<Option<LimitKind>>,
    in_flight: Cell<usize>,
    /// WebSocket connections the host pumps into this isolate.
    sockets: Cell<usize>,
    last_used: Cell<Instant>,
    /// Whether collection is still held off for the cold start (until the
    /// first request is answered).
    gc_deferred: Cell<bool>,
    /// Turns true when the isolate loads the streams implementation.
    streams_loaded: Rc<Cell<bool>>,
}

impl Drop for Isolate {
    fn drop(&mut self) {
        self.dropped.notify_one();
    }
}

impl Isolate {
    /// Cold start: takes a fresh runtime, loads the bundle's bytecode and
    /// runs the module's top level, then binds the handler.
    ///
    /// Must run inside a `tokio::task::LocalSet` (timers and streams are
    /// driven by a local task).
    pub async fn start(fresh: Fresh, spec: Arc<WorkerSpec>) -> Result<Isolate, StartError> {
        let Fresh {
            rt,
            ctx,
            bind,
            meter,
        } = fresh;
        meter.set_deployment(&spec.name);
        rt.set_loader(
            BundleResolver(spec.bundle.clone()),
            BytecodeLoader(spec.bundle.clone()),
        )
        .await;
        rt.set_memory_limit(spec.limits.memory_bytes).await;
        // A cold start (bytecode, top level, first request) allocates mostly
        // what stays alive, so the collections QuickJS would run as the heap
        // grows past 256 KiB, 384 KiB, ... find little garbage and each walks
        // the whole heap: about 6% of a 100 KB bundle's cold start. The
        // default comes back after the first request.
        rt.set_gc_threshold(cold_start_gc_threshold(&spec.limits))
            .await;
        let spec2 = spec.clone();
        let started = ctx.async_with(async |ctx| -> Result<Started, StartError> {
            let _ = ctx.store_userdata(HostInfo {
                deployment: spec2.name.clone(),
                allow_private_fetch: spec2.allow_private_fetch,
                cache: spec2.cache.clone(),
                cache_namespace: spec2.name.clone(),
            });
            let bind = bind
                .restore(&ctx)
                .map_err(|e| StartError::Engine(e.to_string()))?;
            let streams_loaded = outpost_webapi::streams::loaded_flag(&ctx);
            let run = async {
                let env = build_env(&ctx, &spec2.env)?;
                let bytes = spec2
                    .bundle
                    .bytecode
                    .get(&spec2.bundle.entry)
                    .cloned()
                    .ok_or(rquickjs::Error::Unknown)?;
                // SAFETY: bytecode written by this process's QuickJS (see CompiledBundle).
                let module = unsafe { Module::load(ctx.clone(), &bytes) }?;
                let (module, done) = module.eval()?;
                done.into_future::<()>().await?;
                let ns = module.namespace()?;
                let bound: Value = bind.call((ns, env))?;
                Ok::<_, rquickjs::Error>(bound)
            };
            let bound = match run.await {
                Ok(v) => v,
                Err(rquickjs::Error::Exception) => {
                    let e = ctx.catch();
                    return Err(classify_start(&ctx, &e, &spec2.limits));
                }
                Err(e) => return Err(StartError::Engine(e.to_string())),
            };
            let Some(arr) = bound.as_array() else {
                return Err(StartError::NoHandler);
            };
            let code: i32 = arr.get(0).map_err(|e| StartError::Engine(e.to_string()))?;
            let f: Function = arr.get(1).map_err(|e| StartError::Engine(e.to_string()))?;
            let format = match code {
                1 => HandlerFormat::Modules,
                2 => HandlerFormat::ServiceWorker,
                _ => HandlerFormat::Function,
            };
            let request_proto = Class::<Request>::prototype(&ctx)
                .ok()
                .flatten()
                .ok_or_else(|| StartError::Engine("Request has no prototype".into()))?;
            Ok((
                Persistent::save(&ctx, f),
                Persistent::save(&ctx, request_proto),
                format,
                streams_loaded,
            ))
        });
        let started = Metered::new(started, meter.clone(), spec.limits.cpu);
        let (dispatch, request_proto, format, streams_loaded) =
            match tokio::time::timeout(spec.limits.wall, started).await {
                Ok(MeteredOutput::Done(r)) => r?,
                Ok(MeteredOutput::OverCpu) => {
                    return Err(StartError::Limit(LimitKind::Cpu(spec.limits.cpu)))
                }
                Err(_) => return Err(StartError::Limit(LimitKind::Wall(spec.limits.wall))),
            };
        let dropped = Rc::new(Notify::new());
        spawn_driver(&rt, meter.clone(), spec.limits, dropped.clone());
        Ok(Isolate {
            dispatch,
            request_proto,
            ctx,
            rt,
            dropped,
            meter,
            spec,
            format,
            poisoned: Cell::new(None),
            in_flight: Cell::new(0),
            sockets: Cell::new(0),
            last_used: Cell::new(Instant::now()),
            gc_deferred: Cell::new(true),
            streams_loaded,
        })
    }

    /// Whether this isolate has loaded the streams implementation (the
    /// worker read a body as a stream, or used a stream global): its
    /// deployment's next cold start is better off with a runtime that
    /// loaded them ahead of need ([`Fresh::with_streams`]).
    pub fn uses_streams(&self) -> bool {
        self.streams_loaded.get()
    }

    /// The handler format this worker uses.
    pub fn format(&self) -> HandlerFormat {
        self.format
    }

    /// The deployment this isolate runs.
    pub fn spec(&self) -> &Arc<WorkerSpec> {
        &self.spec
    }

    /// Whether a limit was hit; a poisoned isolate must be discarded.
    pub fn poisoned(&self) -> Option<LimitKind> {
        if self.meter.tripped() && self.poisoned.get().is_none() {
            self.poisoned
                .set(Some(LimitKind::Cpu(self.spec.limits.cpu)));
        }
        self.poisoned.get()
    }

    /// Requests currently inside this isolate.
    pub fn in_flight(&self) -> usize {
        self.in_flight.get()
    }

    /// WebSocket connections open into this isolate; the owner must not
    /// evict it while any is.
    pub fn open_sockets(&self) -> usize {
        self.sockets.get()
    }

    /// Counts a WebSocket connection as open until the guard drops.
    pub fn hold_socket(&self) -> InFlight<'_> {
        self.sockets.set(self.sockets.get() + 1);
        InFlight(&self.sockets)
    }

    /// When a request last entered.
    pub fn last_used(&self) -> Instant {
        self.last_used.get()
    }

    /// Bytes the isolate's heap uses now.
    pub async fn heap_bytes(&self) -> usize {
        self.rt.memory_usage().await.malloc_size as usize
    }

    /// Runs one request through the handler.
    pub async fn dispatch(
        &self,
        req: HostRequest,
    ) -> Result<http::Response<ResponseBody>, DispatchError> {
        match self.dispatch_upgrade(req).await? {
            (resp, None) => Ok(resp),
            (_, Some(_socket)) => Err(DispatchError::BadResponse(
                "The handler returned a WebSocket (status 101) for a request that is not a WebSocket upgrade (it has no `Upgrade: websocket` header)".into(),
            )),
        }
    }

    /// [`Isolate::dispatch`] for a request that asks for a WebSocket upgrade:
    /// a 101 response comes with the isolate's end of the socket, for the
    /// host to connect to the client.
    pub async fn dispatch_upgrade(&self, req: HostRequest) -> Result<Dispatched, DispatchError> {
        if let Some(limit) = self.poisoned() {
            let _ = limit;
            return Err(DispatchError::Poisoned);
        }
        self.in_flight.set(self.in_flight.get() + 1);
        self.last_used.set(Instant::now());
        let _guard = InFlight(&self.in_flight);
        let limits = self.spec.limits;
        let run = self
            .ctx
            .async_with(async |ctx| -> Result<Dispatched, DispatchError> {
                let outcome = async {
                    let dispatch = self.dispatch.clone().restore(&ctx)?;
                    let request = Class::instance_proto(
                        Request::from_host(req.method, req.url, req.headers, req.body),
                        self.request_proto.clone().restore(&ctx)?,
                    )?;
                    let result: Value = dispatch.call((request,))?;
                    let value: Value = match result.as_promise() {
                        Some(p) => {
                            let settled = p.clone().into_future().await;
                            // We handle this promise's rejection ourselves (a
                            // settled promise is read without attaching a handler).
                            let id = unsafe { p.as_value().as_raw().u.ptr } as u64;
                            self.meter.track_rejection(id, true, String::new);
                            settled?
                        }
                        None => result,
                    };
                    Ok::<_, rquickjs::Error>(value)
                };
                let value = match outcome.await {
                    Ok(v) => v,
                    Err(rquickjs::Error::Exception) => {
                        let e = ctx.catch();
                        return Err(classify_dispatch(&ctx, &e, &limits));
                    }
                    Err(e) => return Err(DispatchError::Engine(e.to_string())),
                };
                into_host_response(&ctx, value)
            });
        let result = self.metered(run).await;
        if self.gc_deferred.replace(false) {
            self.rt.set_gc_threshold(DEFAULT_GC_THRESHOLD).await;
        }
        result
    }

    /// Delivers a message from a WebSocket connection to the isolate's end
    /// and runs its listeners. Each event has the CPU and wall-clock limits
    /// of one request, and exceeding them poisons the isolate as a request
    /// would.
    pub async fn socket_event(
        &self,
        target: &SocketTarget,
        msg: WsMessage,
    ) -> Result<(), DispatchError> {
        if self.poisoned().is_some() {
            return Err(DispatchError::Poisoned);
        }
        self.in_flight.set(self.in_flight.get() + 1);
        self.last_used.set(Instant::now());
        let _guard = InFlight(&self.in_flight);
        let limits = self.spec.limits;
        let run = self
            .ctx
            .async_with(async |ctx| match target.deliver(&ctx, msg) {
                Ok(()) => Ok(()),
                Err(rquickjs::Error::Exception) => {
                    let e = ctx.catch();
                    Err(classify_dispatch(&ctx, &e, &limits))
                }
                Err(e) => Err(DispatchError::Engine(e.to_string())),
            });
        self.metered(run).await
    }

    /// Runs `run` under the CPU meter and the wall-clock deadline, and
    /// poisons the isolate when either is exceeded.
    async fn metered<T>(
        &self,
        run: impl std::future::Future<Output = Result<T, DispatchError>>,
    ) -> Result<T, DispatchError> {
        let limits = self.spec.limits;
        let metered = Metered::new(run, self.meter.clone(), limits.cpu);
        let result = match tokio::time::timeout(limits.wall, metered).await {
            Ok(MeteredOutput::Done(r)) => r,
            Ok(MeteredOutput::OverCpu) => Err(DispatchError::Limit(LimitKind::Cpu(limits.cpu))),
            Err(_) => Err(DispatchError::Limit(LimitKind::Wall(limits.wall))),
        };
        if let Err(DispatchError::Limit(kind)) = &result {
            self.poisoned.set(Some(*kind));
        }
        result
    }
}

/// QuickJS's own initial collection threshold: the next allocation past it
/// collects, and each collection sets the next threshold at 1.5 times the
/// heap it leaves.
const DEFAULT_GC_THRESHOLD: usize = 256 * 1024;

/// The collection threshold during a cold start: no collection below 8 MiB,
/// nor below a quarter of the memory limit, whichever is lower, so that
/// cyclic garbage of a start that allocates much is still collected long
/// before the limit.
fn cold_start_gc_threshold(limits: &Limits) -> usize {
    (limits.memory_bytes / 4).clamp(DEFAULT_GC_THRESHOLD, 8 << 20)
}

/// Counts something as inside an isolate until dropped.
pub struct InFlight<'a>(&'a Cell<usize>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// Drives the isolate's own tasks (timers, body pumps, waitUntil work)
/// between requests, each burst under the CPU limit, until the isolate drops.
fn spawn_driver(rt: &AsyncRuntime, meter: Rc<Meter>, limits: Limits, dropped: Rc<Notify>) {
    let drive = rt.drive();
    tokio::task::spawn_local(async move {
        let background = Metered::per_burst(drive, meter, limits.cpu);
        tokio::select! {
            _ = background => {}
            _ = dropped.notified() => {}
        }
    });
}

fn build_env<'js>(ctx: &Ctx<'js>, vars: &[(String, EnvValue)]) -> rquickjs::Result<Object<'js>> {
    let env = Object::new(ctx.clone())?;
    for (name, value) in vars {
        match value {
            EnvValue::Text(s) => env.set(name.as_str(), s.as_str())?,
            EnvValue::Json(j) => env.set(name.as_str(), ctx.json_parse(j.as_str())?)?,
            EnvValue::Binding(b) => env.set(name.as_str(), b.create(ctx)?)?,
        }
    }
    Ok(env)
}

/// Names the limit an engine exception stands for, if any.
fn limit_of<'js>(ctx: &Ctx<'js>, e: &Value<'js>, limits: &Limits) -> Option<LimitKind> {
    let _ = ctx;
    if e.is_uncatchable_error() {
        return Some(LimitKind::Cpu(limits.cpu));
    }
    let obj = e.as_object()?;
    let name: String = obj.get("name").unwrap_or_default();
    let message: String = obj.get("message").unwrap_or_default();
    match (name.as_str(), message.as_str()) {
        (_, "out of memory") => Some(LimitKind::Memory(limits.memory_bytes)),
        (_, "interrupted") => Some(LimitKind::Cpu(limits.cpu)),
        ("RangeError" | "InternalError", m) if m.contains("stack") => Some(LimitKind::Stack),
        _ => None,
    }
}

fn classify_start<'js>(ctx: &Ctx<'js>, e: &Value<'js>, limits: &Limits) -> StartError {
    match limit_of(ctx, e, limits) {
        Some(limit) => StartError::Limit(limit),
        None => StartError::TopLevel(describe_exception(ctx, e)),
    }
}

fn classify_dispatch<'js>(ctx: &Ctx<'js>, e: &Value<'js>, limits: &Limits) -> DispatchError {
    if let Some(limit) = limit_of(ctx, e, limits) {
        return DispatchError::Limit(limit);
    }
    let (message, stack) = match e.as_object() {
        Some(o) if o.is_error() => {
            let name: String = o.get("name").unwrap_or_else(|_| "Error".into());
            let msg: String = o.get("message").unwrap_or_default();
            let stack: Option<String> = o.get("stack").ok();
            (format!("{name}: {msg}"), stack)
        }
        _ => (
            outpost_webapi::console::inspect(ctx, e, 0).unwrap_or_default(),
            None,
        ),
    };
    DispatchError::Uncaught { message, stack }
}

/// Converts what the handler resolved to into a host response.
fn into_host_response<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<Dispatched, DispatchError> {
    let Ok(response) = Class::<Response>::from_value(&value) else {
        let got = outpost_webapi::console::inspect(ctx, &value, 0).unwrap_or_default();
        return Err(DispatchError::BadResponse(format!(
            "The handler did not return a Response object (got {got})"
        )));
    };
    let parts = response.borrow_mut().take_parts(ctx).map_err(|_| {
        let e = ctx.catch();
        DispatchError::BadResponse(describe_exception(ctx, &e))
    })?;
    let socket = match &parts.web_socket {
        Some(ws) => Some(
            outpost_webapi::websocket::take_for_host(ctx, ws).map_err(|_| {
                let e = ctx.catch();
                DispatchError::BadResponse(describe_exception(ctx, &e))
            })?,
        ),
        None if parts.status == 101 => {
            return Err(DispatchError::BadResponse(
                "A response with status 101 must carry a webSocket".into(),
            ))
        }
        None => None,
    };
    let body: ResponseBody = match parts.body {
        Body::None => ResponseBody::empty(),
        Body::Bytes(b) => ResponseBody::full(b),
        Body::Host(h) => ResponseBody::host(h),
        stream @ Body::Stream(_) => {
            ResponseBody::host(Box::pin(outpost_webapi::body::into_host_body(ctx, stream)))
        }
    };
    let mut resp = http::Response::new(body);
    *resp.status_mut() = http::StatusCode::from_u16(parts.status)
        .map_err(|_| DispatchError::BadResponse(format!("invalid status {}", parts.status)))?;
    *resp.headers_mut() = parts.headers;
    Ok((resp, socket))
}

/// Collects a whole response body (tests and the in-process benchmark).
pub async fn collect_body(body: ResponseBody) -> Result<Bytes, BoxError> {
    Ok(body.collect().await?.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Bundle;
    use crate::pool::Fresh;
    use std::time::Duration;

    fn spec_of(modules: &[(&str, &str)], limits: Limits) -> Arc<WorkerSpec> {
        let bundle = Bundle::from_sources(
            modules[0].0,
            modules.iter().map(|(n, s)| (n.to_string(), s.to_string())),
        );
        spec_with(Arc::new(CompiledBundle::compile(&bundle).unwrap()), limits)
    }

    fn spec_with(bundle: Arc<CompiledBundle>, limits: Limits) -> Arc<WorkerSpec> {
        Arc::new(WorkerSpec {
            name: "test".into(),
            version: 1,
            bundle,
            env: vec![
                ("GREETING".into(), EnvValue::Text("hi".into())),
                ("CONF".into(), EnvValue::Json("{\"n\":3}".into())),
            ],
            limits,
            dev: true,
            allow_private_fetch: true,
            cache: None,
        })
    }

    fn get(url: &str) -> HostRequest {
        HostRequest::get(url)
    }

    /// Runs `f` on a current-thread runtime inside a LocalSet, as executors do.
    fn local<F: std::future::Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&rt, f)
    }

    async fn text_of(iso: &Isolate, req: HostRequest) -> (u16, String) {
        let resp = iso.dispatch(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = collect_body(resp.into_body()).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[test]
    fn a_compiled_bundle_read_back_from_its_encoding_runs() {
        local(async {
            let spec = spec_of(
                &[
                    ("index.js", "import {v} from './v.js'; export default { fetch() { return new Response(v); } }"),
                    ("v.js", "export const v = 'from stored bytecode';"),
                ],
                Limits::default(),
            );
            let bytes = crate::wire::encode_compiled(&spec.bundle);
            // SAFETY: encoded just above by this process.
            let back = unsafe { crate::wire::decode_compiled(&bytes) }.unwrap();
            let spec = spec_with(Arc::new(back), Limits::default());
            let iso = Isolate::start(Fresh::new().await.unwrap(), spec)
                .await
                .unwrap();
            let (status, text) = text_of(&iso, get("https://x/")).await;
            assert_eq!((status, text.as_str()), (200, "from stored bytecode"));
        });
    }

    #[test]
    fn all_three_handler_formats() {
        local(async {
            let modules = spec_of(&[("index.js", "import {v} from './v.js'; export default { async fetch(req, env, ctx) { ctx.waitUntil(Promise.resolve()); return new Response(v + env.GREETING + env.CONF.n + req.url.slice(8)); } }"), ("v.js", "export const v = 'm:';")], Limits::default());
            let iso = Isolate::start(Fresh::new().await.unwrap(), modules)
                .await
                .unwrap();
            assert_eq!(iso.format(), HandlerFormat::Modules);
            assert_eq!(
                text_of(&iso, get("http://x/p")).await,
                (200, "m:hi3/p".into())
            );

            let sw = spec_of(&[("sw.js", "addEventListener('fetch', e => e.respondWith(new Response('sw ' + e.request.method, {status: 201})));")], Limits::default());
            let iso = Isolate::start(Fresh::new().await.unwrap(), sw)
                .await
                .unwrap();
            assert_eq!(iso.format(), HandlerFormat::ServiceWorker);
            assert_eq!(
                text_of(&iso, get("http://x/")).await,
                (201, "sw GET".into())
            );

            let f = spec_of(&[("f.js", "export default function (request, context) { return Response.json({ok: typeof context.waitUntil}); }")], Limits::default());
            let iso = Isolate::start(Fresh::new().await.unwrap(), f)
                .await
                .unwrap();
            assert_eq!(iso.format(), HandlerFormat::Function);
            assert_eq!(
                text_of(&iso, get("http://x/")).await,
                (200, "{\"ok\":\"function\"}".into())
            );
        });
    }

    /// The CPU limit applies to each burst of background work (a timer
    /// callback), not to all background work over the isolate's life.
    #[test]
    fn background_work_is_limited_per_burst() {
        local(async {
            let src = "let n = 0; let t;
                export default { fetch(req) {
                  if (req.url.endsWith('/start')) {
                    t = setInterval(() => { const end = performance.now() + 3; while (performance.now() < end) {} n++; }, 2);
                  }
                  if (req.url.endsWith('/stop')) clearInterval(t);
                  return new Response(String(n));
                } }";
            let limits = Limits {
                cpu: Duration::from_millis(30),
                ..Limits::default()
            };
            let iso = Isolate::start(
                Fresh::new().await.unwrap(),
                spec_of(&[("a.js", src)], limits),
            )
            .await
            .unwrap();
            text_of(&iso, get("http://x/start")).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            let (status, ticks) = text_of(&iso, get("http://x/stop")).await;
            let ticks: u32 = ticks.parse().unwrap();
            // 3 ms per tick: a life-long 30 ms budget would stop at 10.
            assert!(status == 200 && ticks > 20, "{status} {ticks}");
        });
    }

    #[test]
    fn start_failures_are_reported() {
        local(async {
            let none = spec_of(&[("a.js", "export const x = 1;")], Limits::default());
            assert!(matches!(
                Isolate::start(Fresh::new().await.unwrap(), none).await,
                Err(StartError::NoHandler)
            ));
            let throws = spec_of(
                &[("a.js", "throw new Error('top level boom');")],
                Limits::default(),
            );
            match Isolate::start(Fresh::new().await.unwrap(), throws).await {
                Err(StartError::TopLevel(m)) => assert!(m.contains("top level boom"), "{m}"),
                Err(e) => panic!("unexpected {e}"),
                Ok(_) => panic!("started"),
            }
        });
    }

    #[test]
    fn exceptions_and_bad_responses() {
        local(async {
            let spec = spec_of(&[("a.js", "export default { fetch(req) { const p = req.url.slice(8); if (p === '/throw') throw new TypeError('bad thing'); if (p === '/reject') return Promise.reject(new Error('async bad')); if (p === '/str') return 'nope'; return new Response('ok'); } }")], Limits::default());
            let iso = Isolate::start(Fresh::new().await.unwrap(), spec)
                .await
                .unwrap();
            match iso.dispatch(get("http://x/throw")).await {
                Err(DispatchError::Uncaught { message, stack }) => {
                    assert_eq!(message, "TypeError: bad thing");
                    assert!(stack.unwrap().contains("a.js"));
                }
                other => panic!("unexpected {:?}", other.map(|_| ())),
            }
            assert!(matches!(
                iso.dispatch(get("http://x/reject")).await,
                Err(DispatchError::Uncaught { .. })
            ));
            assert!(matches!(
                iso.dispatch(get("http://x/str")).await,
                Err(DispatchError::BadResponse(_))
            ));
            // None of those poison the isolate.
            assert!(iso.poisoned().is_none());
            assert_eq!(text_of(&iso, get("http://x/")).await, (200, "ok".into()));
        });
    }

    #[test]
    fn limits_poison_the_isolate_only() {
        local(async {
            let limits = Limits {
                cpu: Duration::from_millis(20),
                wall: Duration::from_millis(300),
                memory_bytes: 16 << 20,
                ..Limits::default()
            };
            let src = "export default { async fetch(req) { switch (req.url.slice(8)) {
                case '/loop': while (true) {}
                case '/mem': { const a = []; while (true) a.push(new Array(1e5).fill(1)); }
                case '/deep': { const f = n => f(n + 1) + 1; return new Response(String(f(0))); }
                case '/never': return new Promise(() => {});
                case '/bigstr': return new Response('x'.repeat(1 << 28));
                case '/rope': { let s = 'x'; while (true) s = s + s; }
                default: return new Response('fine');
            } } }";
            for (path, want) in [
                ("/loop", "CPU"),
                ("/mem", "memory"),
                ("/deep", "stack"),
                ("/never", "wall-clock"),
                ("/bigstr", "memory"),
            ] {
                let spec = spec_of(&[("a.js", src)], limits);
                let iso = Isolate::start(Fresh::new().await.unwrap(), spec)
                    .await
                    .unwrap();
                assert_eq!(text_of(&iso, get("http://x/")).await.1, "fine");
                match iso.dispatch(get(&format!("http://x{path}"))).await {
                    Err(DispatchError::Limit(kind)) => {
                        assert!(kind.to_string().contains(want), "{path}: {kind}")
                    }
                    other => panic!("{path}: unexpected {:?}", other.map(|_| ())),
                }
                assert!(iso.poisoned().is_some(), "{path}");
                assert!(matches!(
                    iso.dispatch(get("http://x/")).await,
                    Err(DispatchError::Poisoned)
                ));
                drop(iso);
            }
            // A string over the engine's length limit is an ordinary exception.
            let iso = Isolate::start(
                Fresh::new().await.unwrap(),
                spec_of(&[("a.js", src)], limits),
            )
            .await
            .unwrap();
            match iso.dispatch(get("http://x/rope")).await {
                Err(DispatchError::Uncaught { message, .. }) => {
                    assert!(message.contains("string too long"), "{message}")
                }
                other => panic!("unexpected {:?}", other.map(|_| ())),
            }
            assert_eq!(text_of(&iso, get("http://x/")).await.1, "fine");
        });
    }

    #[test]
    fn streams_response_bodies() {
        local(async {
            // A hand-rolled reader is enough to exercise the pump without the streams module.
            let src = "globalThis.ReadableStream ??= class ReadableStream {};
            export default { fetch() {
                let i = 0;
                const stream = { getReader() { return { read: async () => (i < 3 ? { done: false, value: new TextEncoder().encode('c' + i++) } : { done: true }), cancel() {} }; } };
                Object.setPrototypeOf(stream, ReadableStream.prototype);
                return new Response(stream);
            } }";
            let spec = spec_of(&[("a.js", src)], Limits::default());
            let iso = Isolate::start(Fresh::new().await.unwrap(), spec)
                .await
                .unwrap();
            assert_eq!(
                text_of(&iso, get("http://x/")).await,
                (200, "c0c1c2".into())
            );
        });
    }

    #[test]
    fn the_sandbox_has_no_host_access() {
        local(async {
            let src = "export default { async fetch() {
                const globals = ['process', 'require', 'Deno', 'Bun', 'std', 'os', 'module'].filter((g) => typeof globalThis[g] !== 'undefined');
                const imports = [];
                for (const spec of ['/etc/passwd', '../../../etc/passwd', 'node:fs', 'fs', 'os']) {
                    try { await import(spec); imports.push(spec + ' loaded'); } catch (e) { imports.push(e.name); }
                }
                return Response.json({ globals, imports });
            } }";
            let spec = spec_of(&[("a.js", src)], Limits::default());
            let iso = Isolate::start(Fresh::new().await.unwrap(), spec)
                .await
                .unwrap();
            let (status, body) = text_of(&iso, get("http://x/")).await;
            assert_eq!(status, 200);
            assert_eq!(
                body,
                r#"{"globals":[],"imports":["TypeError","TypeError","TypeError","TypeError","TypeError"]}"#
            );
        });
    }
}
