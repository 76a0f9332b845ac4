//! The control API: HTTP/1.1 + JSON on its own listener, bearer tokens with
//! scopes, and the long-poll nodes follow.
//!
//! | endpoint | scope | what |
//! |---|---|---|
//! | `GET /v1/health` | none | `{"ok":true}` |
//! | `PUT /v1/bundles/<sha256>` | deploy | upload a bundle (wire format); verified, decoded and compiled before it is stored |
//! | `GET /v1/bundles/<sha256>` | any | a bundle's wire bytes |
//! | `GET /v1/workers` | read | workers, active versions, secret names |
//! | `POST /v1/workers/<name>/versions` | deploy | new version from an uploaded bundle, active at once |
//! | `GET /v1/workers/<name>/versions` | read | versions, newest first |
//! | `POST /v1/workers/<name>/rollback` | deploy | `{"version": N}` or `{}` for the previous one |
//! | `GET /v1/workers/<name>/secrets` | read | secret names |
//! | `PUT /v1/workers/<name>/secrets/<KEY>` | deploy | body is the value |
//! | `DELETE /v1/workers/<name>/secrets/<KEY>` | deploy | |
//! | `GET /v1/routes` | read | patterns (most specific first) and default hosts |
//! | `POST /v1/routes` | deploy | `{"pattern": "example.com/*", "worker": "site"}` |
//! | `DELETE /v1/routes` | deploy | `{"pattern": "example.com/*"}` |
//! | `GET /v1/nodes` | read | nodes, their region and what they run |
//! | `GET /v1/tokens`, `POST /v1/tokens`, `DELETE /v1/tokens/<id>` | admin | tokens |
//! | `GET /v1/state?since=N` | node | the desired state, once its version passes N (else 204 after ~25 s) |
//! | `GET /v1/data` | read | D1 databases and KV namespaces with their log positions |
//! | `POST /v1/data/<d1\|kv>/<id>` | node or deploy | a D1 query or KV write on the primary (see [`crate::data`]) |
//! | `GET /v1/data/<d1\|kv>/<id>/log?after=N` | node | replication log entries after N (long-poll) |
//! | `GET /v1/data/<d1\|kv>/<id>/snapshot` | node | a consistent copy to bootstrap a replica |
//!
//! `read` ⊂ `deploy` ⊂ `admin`; `node` may only follow the state and fetch
//! bundles (the state carries secrets, so `read` and `deploy` may not).
//! Request bodies and secret values are never logged.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use outpost_runtime::wire::{self, MAX_BUNDLE_BYTES};
use outpost_runtime::{Bundle, CompiledBundle};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::watch;

use crate::api::{
    BundleInfo, Deployed, DesiredState, NewToken, NewVersion, NodeReport, NodeStatus, Placement,
    Rollback, RouteEntry, Scope, TokenInfo, BUNDLE_HASH_HEADER, NODE_REPORT_HEADER,
};
use crate::data::{DataOp, DatabaseInfo, Primaries, MAX_CALL_BYTES};
use crate::store::{region_conflict, Store};
use crate::ControlError;
use outpost_bindings::remote::DataKind;

/// How long `GET /v1/state` waits for a change before answering 204.
pub const LONG_POLL: Duration = Duration::from_secs(25);

/// A node is online if it was heard from this recently (a poll lasts at
/// most [`LONG_POLL`], and the next one follows at once).
pub const ONLINE_WINDOW: Duration = Duration::from_secs(30);

/// Nodes not heard from for this long are dropped from `/v1/nodes`.
const FORGET_NODES: Duration = Duration::from_secs(600);

/// How long a data call passed on to a node's primary may take.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the data primaries' logs are compacted.
const COMPACT_EVERY: Duration = Duration::from_secs(1);

/// Largest JSON body accepted.
const MAX_JSON_BYTES: usize = 1 << 20;

/// File names under the state directory.
pub const DB_FILE: &str = "control.sqlite";
/// The admin token's file, created on the first start (mode 0600).
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// How the control plane is started.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// State directory (created, mode 0700).
    pub dir: PathBuf,
    /// Address of the API listener; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Domain of the default hosts `<worker>.<domain>`.
    pub domain: String,
    /// The control plane's region: where the data primaries are.
    pub region: String,
    /// How many log entries each data primary keeps for replicas to catch
    /// up from; a replica further behind bootstraps from a snapshot.
    pub log_retain: u64,
}

/// A running control plane. Dropping it stops the API.
pub struct ControlServer {
    addr: SocketAddr,
    admin_token_path: PathBuf,
    created_admin_token: bool,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    store: Mutex<Store>,
    data: Arc<Primaries>,
    state: watch::Sender<Arc<DesiredState>>,
    nodes: Mutex<HashMap<String, NodeEntry>>,
}

struct NodeEntry {
    report: NodeReport,
    last_seen: Instant,
    polling: usize,
}

impl ControlServer {
    /// Opens the state under `config.dir`, binds the listener and serves the
    /// API on a thread of its own. On the first start an admin token is
    /// written to `<dir>/admin-token` (mode 0600).
    pub fn start(config: ControlConfig) -> Result<ControlServer, ControlError> {
        crate::create_private_dir(&config.dir)?;
        let opened = Store::open(&config.dir.join(DB_FILE), &config.domain)?;
        let admin_token_path = config.dir.join(ADMIN_TOKEN_FILE);
        let created_admin_token = opened.new_admin_token.is_some();
        if let Some(token) = &opened.new_admin_token {
            crate::write_private(&admin_token_path, format!("{token}\n").as_bytes())?;
        }
        let mut store = opened.store;
        store.set_region(&config.region);
        let snapshot = store.snapshot()?;
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            data: Arc::new(Primaries::new(
                &config.dir,
                &config.region,
                config.log_retain,
            )),
            state: watch::Sender::new(Arc::new(snapshot)),
            nodes: Mutex::new(HashMap::new()),
        });
        let listener = bind(config.addr)?;
        let addr = listener
            .local_addr()
            .map_err(ControlError::io("control listener"))?;
        let (stop, stop_rx) = watch::channel(false);
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("control-api".into())
            .spawn(move || {
                let compact = s.data.clone();
                run_http("control API", listener, compact, stop_rx, move |req| {
                    handle(req, s.clone())
                })
            })
            .map_err(ControlError::io("cannot start the control thread"))?;
        Ok(ControlServer {
            addr,
            admin_token_path,
            created_admin_token,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// The address the API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API's base URL, for clients on this machine.
    pub fn url(&self) -> String {
        local_url(self.addr)
    }

    /// The data primaries (shared with an embedded node).
    pub fn data(&self) -> Arc<Primaries> {
        self.shared.data.clone()
    }

    /// Where the admin token is kept.
    pub fn admin_token_path(&self) -> &Path {
        &self.admin_token_path
    }

    /// Whether this start created the admin token (the first start).
    pub fn created_admin_token(&self) -> bool {
        self.created_admin_token
    }

    /// Returns the token stored in `path` if it is still valid, else
    /// creates a token with `scope` and stores it there (mode 0600). Used
    /// for the embedded node's token.
    pub fn ensure_token_file(
        &self,
        path: &Path,
        name: &str,
        scope: Scope,
    ) -> Result<String, ControlError> {
        let mut store = self.shared.store.lock().expect("store lock");
        if let Ok(text) = std::fs::read_to_string(path) {
            let token = text.trim();
            if store.authenticate(token)?.is_some_and(|t| t.scope == scope) {
                return Ok(token.to_string());
            }
        }
        let created = store.create_token(name, scope)?;
        crate::write_private(path, format!("{}\n", created.token).as_bytes())?;
        Ok(created.token)
    }

    /// Stops the API and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// Binds with `SO_REUSEADDR` (so a restarted control plane gets its port
/// back at once) but not `SO_REUSEPORT` (two control planes must not share
/// one).
pub(crate) fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, ControlError> {
    let err = ControlError::io(format!("cannot listen on {addr}"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(ControlError::io("runtime"))?;
    let _guard = rt.enter();
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    };
    let result = socket.and_then(|s| {
        s.set_reuseaddr(true)?;
        s.bind(addr)?;
        let l = s.listen(1024)?;
        l.into_std()
    });
    result.map_err(err)
}

/// Serves HTTP/1.1 on `listener` with `handler` until `stop` turns true,
/// compacting the logs of `compact` every [`COMPACT_EVERY`] meanwhile.
/// Blocks: it runs its own runtime, on the caller's thread.
pub(crate) fn run_http<H, F>(
    name: &'static str,
    listener: std::net::TcpListener,
    compact: Arc<Primaries>,
    mut stop: watch::Receiver<bool>,
    handler: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Reply> + Send + 'static,
{
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("{name} runtime failed to start: {e}");
            return;
        }
    };
    rt.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("{name} listener failed: {e}");
                return;
            }
        };
        tokio::spawn(async move {
            let mut every = tokio::time::interval(COMPACT_EVERY);
            loop {
                every.tick().await;
                let data = compact.clone();
                let _ = tokio::task::spawn_blocking(move || data.compact()).await;
            }
        });
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        let handler = handler.clone();
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |req| {
                                let reply = handler(req);
                                async move { Ok::<_, Infallible>(reply.await) }
                            });
                            if let Err(e) = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await
                            {
                                tracing::debug!("{name} connection ended: {e}");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!("{name} accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                _ = stop.changed() => break,
            }
        }
    });
}

/// A listener's base URL for clients on this machine (an unspecified
/// address becomes loopback).
pub(crate) fn local_url(mut addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!("http://{addr}")
}

pub(crate) type Reply = Response<Full<Bytes>>;

/// What a request needs of its token.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    None,
    Any,
    Read,
    Deploy,
    Node,
    /// Data calls: nodes (for their workers) and deployers (`outpost db`).
    Data,
    Admin,
}

impl Need {
    fn allows(self, scope: Scope) -> bool {
        match self {
            Need::None | Need::Any => true,
            Need::Read => matches!(scope, Scope::Read | Scope::Deploy | Scope::Admin),
            Need::Deploy => matches!(scope, Scope::Deploy | Scope::Admin),
            Need::Node => matches!(scope, Scope::Node | Scope::Admin),
            Need::Data => matches!(scope, Scope::Node | Scope::Deploy | Scope::Admin),
            Need::Admin => scope == Scope::Admin,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Need::None | Need::Any => "any",
            Need::Read => "`read`, `deploy` or `admin`",
            Need::Deploy => "`deploy` or `admin`",
            Need::Node => "`node` or `admin`",
            Need::Data => "`node`, `deploy` or `admin`",
            Need::Admin => "`admin`",
        }
    }
}

/// The endpoints, by method and path segments.
#[derive(Debug)]
enum Endpoint {
    Health,
    State,
    GetBundle(String),
    PutBundle(String),
    Workers,
    Versions(String),
    NewVersion(String),
    Rollback(String),
    Secrets(String),
    PutSecret(String, String),
    DeleteSecret(String, String),
    Routes,
    PutRoute,
    DeleteRoute,
    Nodes,
    Tokens,
    NewToken,
    RevokeToken(String),
    DataList,
    Data(DataOp, DataKind, String),
}

impl Endpoint {
    fn parse(method: &Method, path: &str) -> Option<Endpoint> {
        if let Some((op, kind, id)) = crate::data::parse_path(method, path) {
            return Some(Endpoint::Data(op, kind, id));
        }
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let s = |i: usize| segs[i].to_string();
        use Endpoint as E;
        Some(match (method.as_str(), segs.as_slice()) {
            ("GET", ["v1", "health"]) => E::Health,
            ("GET", ["v1", "state"]) => E::State,
            ("GET", ["v1", "bundles", _]) => E::GetBundle(s(2)),
            ("PUT", ["v1", "bundles", _]) => E::PutBundle(s(2)),
            ("GET", ["v1", "workers"]) => E::Workers,
            ("GET", ["v1", "workers", _, "versions"]) => E::Versions(s(2)),
            ("POST", ["v1", "workers", _, "versions"]) => E::NewVersion(s(2)),
            ("POST", ["v1", "workers", _, "rollback"]) => E::Rollback(s(2)),
            ("GET", ["v1", "workers", _, "secrets"]) => E::Secrets(s(2)),
            ("PUT", ["v1", "workers", _, "secrets", _]) => E::PutSecret(s(2), s(4)),
            ("DELETE", ["v1", "workers", _, "secrets", _]) => E::DeleteSecret(s(2), s(4)),
            ("GET", ["v1", "routes"]) => E::Routes,
            ("POST", ["v1", "routes"]) => E::PutRoute,
            ("DELETE", ["v1", "routes"]) => E::DeleteRoute,
            ("GET", ["v1", "nodes"]) => E::Nodes,
            ("GET", ["v1", "tokens"]) => E::Tokens,
            ("POST", ["v1", "tokens"]) => E::NewToken,
            ("DELETE", ["v1", "tokens", _]) => E::RevokeToken(s(2)),
            ("GET", ["v1", "data"]) => E::DataList,
            _ => return None,
        })
    }

    fn need(&self) -> Need {
        use Endpoint as E;
        match self {
            E::Health => Need::None,
            E::GetBundle(_) => Need::Any,
            E::State => Need::Node,
            E::Workers | E::Versions(_) | E::Secrets(_) | E::Routes | E::Nodes | E::DataList => {
                Need::Read
            }
            E::Data(DataOp::Call, ..) => Need::Data,
            E::Data(..) => Need::Node,
            E::PutBundle(_)
            | E::NewVersion(_)
            | E::Rollback(_)
            | E::PutSecret(..)
            | E::DeleteSecret(..)
            | E::PutRoute
            | E::DeleteRoute => Need::Deploy,
            E::Tokens | E::NewToken | E::RevokeToken(_) => Need::Admin,
        }
    }
}

async fn handle(req: Request<Incoming>, shared: Arc<Shared>) -> Reply {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let reply = match route(req, &shared).await {
        Ok(r) => r,
        Err(e) => error_reply(&e),
    };
    let status = reply.status();
    if status.is_client_error() || status.is_server_error() {
        tracing::info!("control: {method} {path} -> {}", status.as_u16());
    } else {
        tracing::debug!(
            "control: {method} {path} -> {} in {:?}",
            status.as_u16(),
            started.elapsed()
        );
    }
    reply
}

async fn route(req: Request<Incoming>, shared: &Arc<Shared>) -> Result<Reply, ControlError> {
    let Some(endpoint) = Endpoint::parse(req.method(), req.uri().path()) else {
        return Err(ControlError::NotFound(format!(
            "no such endpoint: {} {}",
            req.method(),
            req.uri().path()
        )));
    };
    let token = authorize(&req, shared, endpoint.need())?;
    use Endpoint as E;
    match endpoint {
        E::Health => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        E::State => long_poll(req, shared).await,
        E::GetBundle(hash) => {
            let bytes = shared.store.lock().expect("store lock").bundle(&hash)?;
            match bytes {
                Some(b) => Ok(Response::builder()
                    .status(StatusCode::OK)
                    .header(http::header::CONTENT_TYPE, "application/vnd.outpost.bundle")
                    .header(BUNDLE_HASH_HEADER, hash)
                    .body(Full::new(Bytes::from(b)))
                    .expect("response")),
                None => Err(ControlError::NotFound(format!("no bundle {hash}"))),
            }
        }
        E::PutBundle(hash) => put_bundle(req, shared, hash).await,
        E::Workers => json(
            StatusCode::OK,
            &shared.store.lock().expect("store lock").workers()?,
        ),
        E::Versions(name) => json(
            StatusCode::OK,
            &shared.store.lock().expect("store lock").versions(&name)?,
        ),
        E::NewVersion(name) => {
            let body: NewVersion = read_json(req).await?;
            let placements = shared.place_primaries(&body)?;
            let (deployed, placed) = shared.deploy(&name, &body, &placements)?;
            for p in &placed {
                tracing::info!(
                    "placed the primary of {} database `{}` on node {} (region `{}`)",
                    p.kind,
                    p.id,
                    p.node,
                    p.region
                );
            }
            tracing::info!(
                "deployed `{name}` version {} (deployment {}) by token `{}`",
                deployed.version,
                deployed.deployment,
                token.map(|t| t.name).unwrap_or_default()
            );
            json(StatusCode::CREATED, &deployed)
        }
        E::Rollback(name) => {
            let body: Rollback = read_json_or_default(req).await?;
            let deployed = shared.mutate(|s| s.rollback(&name, body.version))?;
            tracing::info!(
                "rolled `{name}` back to version {} (deployment {})",
                deployed.version,
                deployed.deployment
            );
            json(StatusCode::OK, &deployed)
        }
        E::Secrets(name) => json(
            StatusCode::OK,
            &shared
                .store
                .lock()
                .expect("store lock")
                .secret_names(&name)?,
        ),
        E::PutSecret(name, key) => {
            let bytes = read_body(req, crate::store::MAX_SECRET_BYTES + 1).await?;
            let value = String::from_utf8(bytes.to_vec()).map_err(|_| {
                ControlError::BadRequest(format!("secret `{key}` is not valid UTF-8"))
            })?;
            let sv = shared.mutate(|s| s.put_secret(&name, &key, &value))?;
            tracing::info!("set secret `{key}` of `{name}`");
            json(
                StatusCode::OK,
                &serde_json::json!({ "worker": name, "secret": key, "state_version": sv }),
            )
        }
        E::DeleteSecret(name, key) => {
            let sv = shared.mutate(|s| s.delete_secret(&name, &key))?;
            json(
                StatusCode::OK,
                &serde_json::json!({ "worker": name, "deleted": key, "state_version": sv }),
            )
        }
        E::Routes => json(
            StatusCode::OK,
            &shared.store.lock().expect("store lock").routes()?,
        ),
        E::PutRoute => {
            let body: RouteEntry = read_json(req).await?;
            let sv = shared.mutate(|s| s.put_route(&body.pattern, &body.worker))?;
            json(
                StatusCode::OK,
                &serde_json::json!({ "pattern": body.pattern, "worker": body.worker, "state_version": sv }),
            )
        }
        E::DeleteRoute => {
            #[derive(serde::Deserialize)]
            struct Pattern {
                pattern: String,
            }
            let body: Pattern = read_json(req).await?;
            let sv = shared.mutate(|s| s.delete_route(&body.pattern))?;
            json(
                StatusCode::OK,
                &serde_json::json!({ "deleted": body.pattern, "state_version": sv }),
            )
        }
        E::Nodes => json(StatusCode::OK, &shared.nodes()),
        E::DataList => json(StatusCode::OK, &shared.databases()?),
        E::Data(op, kind, id) => match shared.placement(kind, &id) {
            Some(placed) if op == DataOp::Call => {
                forward_call(req, shared, &placed, kind, &id).await
            }
            Some(placed) => Err(ControlError::Conflict(format!(
                "the primary of {kind} database `{id}` is on node {} (region `{}`), at {}",
                placed.node, placed.region, placed.url
            ))),
            None => crate::data::serve(&shared.data, op, kind, id, req).await,
        },
        E::Tokens => json(
            StatusCode::OK,
            &shared.store.lock().expect("store lock").tokens()?,
        ),
        E::NewToken => {
            let body: NewToken = read_json(req).await?;
            let created = shared
                .store
                .lock()
                .expect("store lock")
                .create_token(&body.name, body.scope)?;
            tracing::info!(
                "created token `{}` ({}) with scope `{}`",
                created.info.name,
                created.info.id,
                created.info.scope
            );
            json(StatusCode::CREATED, &created)
        }
        E::RevokeToken(id) => {
            shared.store.lock().expect("store lock").revoke_token(&id)?;
            tracing::info!("revoked token {id}");
            json(StatusCode::OK, &serde_json::json!({ "revoked": id }))
        }
    }
}

/// The bearer token of a request.
pub(crate) fn bearer(req: &Request<Incoming>) -> Result<&str, ControlError> {
    let header = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ControlError::Unauthorized(
                "missing bearer token: send `Authorization: Bearer <token>`".into(),
            )
        })
}

fn authorize(
    req: &Request<Incoming>,
    shared: &Shared,
    need: Need,
) -> Result<Option<TokenInfo>, ControlError> {
    if need == Need::None {
        return Ok(None);
    }
    let token = bearer(req)?;
    let Some(info) = shared
        .store
        .lock()
        .expect("store lock")
        .authenticate(token)?
    else {
        return Err(ControlError::Unauthorized(
            "unknown or revoked token".into(),
        ));
    };
    if !need.allows(info.scope) {
        return Err(ControlError::Forbidden(format!(
            "token `{}` has scope `{}`, which may not do this: it needs {}",
            info.name,
            info.scope,
            need.describe()
        )));
    }
    Ok(Some(info))
}

impl Shared {
    /// Runs a change against the store and publishes the new state to the
    /// long-polls, under one lock so states are published in order.
    fn mutate<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, ControlError>,
    ) -> Result<T, ControlError> {
        let mut store = self.store.lock().expect("store lock");
        let out = f(&mut store)?;
        let snapshot = store.snapshot()?;
        self.state.send_if_modified(|cur| {
            if snapshot.version != cur.version {
                *cur = Arc::new(snapshot);
                true
            } else {
                false
            }
        });
        Ok(out)
    }

    /// Creates a version of `name` from `version` and records `placements`
    /// (from [`Shared::place_primaries`]) first, under the store lock.
    /// Returns the deployment and the placements that were new: a deploy
    /// that raced this one may have recorded the same database first.
    fn deploy(
        &self,
        name: &str,
        version: &NewVersion,
        placements: &[Placement],
    ) -> Result<(Deployed, Vec<Placement>), ControlError> {
        self.mutate(|s| {
            // The placements were decided from the published state, before
            // this lock: a racing deploy may have placed one of these
            // databases since, perhaps in another region, or one that
            // `place_primaries` left with the control plane because nothing
            // had placed it yet. Check every `primary_region` again against
            // the store before writing anything, so a refused deploy
            // records no placement either.
            for (kind, id, region) in primary_regions(version) {
                if let Some(placed) = s.placed_region(kind.as_str(), id)? {
                    if placed != region {
                        return Err(region_conflict(kind.as_str(), id, &placed, region));
                    }
                }
            }
            let mut new = Vec::new();
            for p in placements {
                if s.place(p)?.is_some() {
                    new.push(p.clone());
                }
            }
            Ok((s.create_version(name, version)?, new))
        })
    }

    /// Where the primary of a database lives, if a node holds it.
    fn placement(&self, kind: DataKind, id: &str) -> Option<Placement> {
        self.state
            .borrow()
            .placements
            .iter()
            .find(|p| p.kind == kind.as_str() && p.id == id)
            .cloned()
    }

    /// The placements a new version needs: one for every database it binds
    /// with a `primary_region` other than the control plane's that has
    /// none yet, on the first online node of that region (by id). Refuses a
    /// `primary_region` that contradicts where the primary already is:
    /// data does not move.
    fn place_primaries(&self, version: &NewVersion) -> Result<Vec<Placement>, ControlError> {
        let here = self.data.region().to_string();
        let nodes = self.nodes();
        // One database bound twice (under two names) must not ask for two
        // regions: only the first would count, silently.
        let mut asked: Vec<(DataKind, &str, &str)> = Vec::new();
        for (kind, id, region) in primary_regions(version) {
            match asked.iter().find(|(k, i, _)| *k == kind && *i == id) {
                Some((_, _, first)) if *first != region => {
                    return Err(ControlError::BadRequest(format!(
                        "{} database `{id}` is bound twice with different primary_region values (`{first}` and `{region}`)",
                        kind.as_str()
                    )));
                }
                Some(_) => {}
                None => asked.push((kind, id, region)),
            }
        }
        let mut out: Vec<Placement> = Vec::new();
        for (kind, id, region) in primary_regions(version) {
            crate::store::check_data_id(id)?;
            let placed_region = match self.placement(kind, id) {
                Some(p) => Some(p.region),
                None if self.data.exists(kind, id) => Some(here.clone()),
                None => None,
            };
            if let Some(placed_region) = placed_region {
                if placed_region != region {
                    return Err(region_conflict(kind.as_str(), id, &placed_region, region));
                }
                continue;
            }
            if region == here || out.iter().any(|p| p.kind == kind.as_str() && p.id == id) {
                continue;
            }
            let node = nodes
                .iter()
                .find(|n| n.online && n.report.region == region && !n.report.data_url.is_empty())
                .ok_or_else(|| {
                    ControlError::Unavailable(format!(
                        "{kind} database `{id}` wants its primary in region `{region}`, but no \
                         node of that region is following: start one with \
                         `outpost serve --control URL --region {region}`, or drop `primary_region` \
                         to keep the primary with the control plane (region `{here}`)"
                    ))
                })?;
            out.push(Placement {
                kind: kind.as_str().to_string(),
                id: id.to_string(),
                region: region.to_string(),
                node: node.report.id.clone(),
                url: node.report.data_url.clone(),
            });
        }
        Ok(out)
    }

    /// Every database: those with the control plane, and those placed on
    /// nodes with the head their node last reported.
    fn databases(&self) -> Result<Vec<DatabaseInfo>, ControlError> {
        let mut out = self.data.list()?;
        let nodes = self.nodes();
        for p in self.state.borrow().placements.iter() {
            let key = format!("{}/{}", p.kind, p.id);
            let position = nodes
                .iter()
                .find(|n| n.report.id == p.node)
                .and_then(|n| n.report.primaries.get(&key).copied())
                .unwrap_or(0);
            out.push(DatabaseInfo {
                kind: p.kind.clone(),
                id: p.id.clone(),
                position,
                region: p.region.clone(),
                node: Some(p.node.clone()),
            });
        }
        out.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
        Ok(out)
    }

    fn nodes(&self) -> Vec<NodeStatus> {
        let mut nodes = self.nodes.lock().expect("nodes lock");
        nodes.retain(|_, n| n.polling > 0 || n.last_seen.elapsed() < FORGET_NODES);
        let mut list: Vec<NodeStatus> = nodes
            .values()
            .map(|n| NodeStatus {
                report: n.report.clone(),
                online: n.polling > 0 || n.last_seen.elapsed() < ONLINE_WINDOW,
                last_seen_ms: n.last_seen.elapsed().as_millis() as u64,
            })
            .collect();
        list.sort_by(|a, b| {
            (&a.report.region, &a.report.id).cmp(&(&b.report.region, &b.report.id))
        });
        list
    }
}

/// The databases `version` binds with a `primary_region`: kind, id and that
/// region.
fn primary_regions(version: &NewVersion) -> impl Iterator<Item = (DataKind, &str, &str)> {
    let d1 = version.data.d1.iter().map(|b| (DataKind::D1, b));
    let kv = version.data.kv.iter().map(|b| (DataKind::Kv, b));
    d1.chain(kv)
        .filter_map(|(kind, b)| Some((kind, b.id.as_str(), b.primary_region.as_deref()?)))
}

/// Marks a node as polling while a long-poll is open.
struct Polling {
    shared: Arc<Shared>,
    id: String,
}

impl Drop for Polling {
    fn drop(&mut self) {
        if let Some(n) = self
            .shared
            .nodes
            .lock()
            .expect("nodes lock")
            .get_mut(&self.id)
        {
            n.polling = n.polling.saturating_sub(1);
            n.last_seen = Instant::now();
        }
    }
}

async fn long_poll(req: Request<Incoming>, shared: &Arc<Shared>) -> Result<Reply, ControlError> {
    let mut since = 0u64;
    let mut cluster = None;
    let mut wait = LONG_POLL;
    for (k, v) in url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()) {
        match &*k {
            "since" => {
                since = v
                    .parse()
                    .map_err(|_| ControlError::BadRequest(format!("bad `since`: {v}")))?
            }
            "cluster" => cluster = Some(v.into_owned()),
            "wait_ms" => {
                let ms: u64 = v
                    .parse()
                    .map_err(|_| ControlError::BadRequest(format!("bad `wait_ms`: {v}")))?;
                wait = Duration::from_millis(ms.min(60_000));
            }
            _ => {}
        }
    }
    let _polling = match req.headers().get(NODE_REPORT_HEADER) {
        Some(h) => {
            let report: NodeReport = h
                .to_str()
                .ok()
                .and_then(|s| serde_json::from_str(s).ok())
                .filter(|r: &NodeReport| !r.id.is_empty())
                .ok_or_else(|| {
                    ControlError::BadRequest(format!("malformed `{NODE_REPORT_HEADER}` header"))
                })?;
            let id = report.id.clone();
            let mut nodes = shared.nodes.lock().expect("nodes lock");
            let entry = nodes.entry(id.clone()).or_insert_with(|| {
                tracing::info!(
                    "node {} ({}, region {}) is following",
                    report.id,
                    report.addr,
                    report.region
                );
                NodeEntry {
                    report: report.clone(),
                    last_seen: Instant::now(),
                    polling: 0,
                }
            });
            let moved = !report.data_url.is_empty() && entry.report.data_url != report.data_url;
            entry.report = report;
            entry.last_seen = Instant::now();
            entry.polling += 1;
            let data_url = entry.report.data_url.clone();
            drop(nodes);
            if moved {
                shared.mutate(|s| s.move_data_url(&id, &data_url))?;
            }
            Some(Polling {
                shared: shared.clone(),
                id,
            })
        }
        None => None,
    };
    let mut rx = shared.state.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let current = rx.borrow_and_update().clone();
        // A node ahead of us (a state database restored from a backup) or
        // on another cluster takes our state as it is, at once.
        if current.version != since || cluster.as_deref().is_some_and(|c| c != current.cluster) {
            return json(StatusCode::OK, &*current);
        }
        tokio::select! {
            changed = rx.changed() => if changed.is_err() {
                return Err(ControlError::Internal("control plane is stopping".into()));
            },
            _ = tokio::time::sleep_until(deadline) => {
                return Ok(Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .body(Full::new(Bytes::new()))
                    .expect("response"));
            }
        }
    }
}

/// `POST /v1/data/<kind>/<id>` for a database whose primary a node holds
/// (`outpost db` and `outpost kv` against the control plane): passed on to
/// that node's data API.
async fn forward_call(
    req: Request<Incoming>,
    shared: &Arc<Shared>,
    placed: &Placement,
    kind: DataKind,
    id: &str,
) -> Result<Reply, ControlError> {
    let body = read_body(req, MAX_CALL_BYTES).await?;
    let token = shared.state.borrow().data_token.clone();
    let unavailable = |e: String| {
        ControlError::Unavailable(format!(
            "the primary of {kind} database `{id}` is on node {} (region `{}`), which cannot be \
             reached: {e}",
            placed.node, placed.region
        ))
    };
    let client = crate::client::Client::new(&placed.url, Some(token))
        .map_err(|e| unavailable(e.to_string()))?;
    let reply = client
        .send(
            Method::POST,
            &format!("/v1/data/{kind}/{id}"),
            &[("content-type", "application/json".to_string())],
            body,
            FORWARD_TIMEOUT,
        )
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    Ok(Response::builder()
        .status(reply.status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(reply.body))
        .expect("response"))
}

/// An error answer with `status`, in the API's error shape.
pub(crate) fn error_json(status: StatusCode, message: &str) -> Reply {
    json(status, &serde_json::json!({ "error": message })).expect("a JSON string")
}

async fn put_bundle(
    req: Request<Incoming>,
    shared: &Arc<Shared>,
    claimed: String,
) -> Result<Reply, ControlError> {
    if !wire::is_content_hash(&claimed) {
        return Err(ControlError::BadRequest(format!(
            "`{claimed}` is not a bundle hash (64 lower-case hex digits of SHA-256)"
        )));
    }
    if let Some(h) = req.headers().get(BUNDLE_HASH_HEADER) {
        if h.as_bytes() != claimed.as_bytes() {
            return Err(ControlError::BadRequest(format!(
                "the `{BUNDLE_HASH_HEADER}` header disagrees with the hash in the URL; nothing was stored"
            )));
        }
    }
    let body = read_body(req, MAX_BUNDLE_BYTES).await?;
    let check = tokio::task::spawn_blocking(move || -> Result<(Bytes, usize), ControlError> {
        let actual = wire::content_hash(&body);
        if actual != claimed {
            return Err(ControlError::BadRequest(format!(
                "bundle hash mismatch: the upload claims {claimed} but its {} bytes hash to {actual}; the bundle is corrupt, nothing was stored",
                body.len()
            )));
        }
        let bundle = Bundle::from_wire(&body).map_err(|e| {
            ControlError::BadRequest(format!("invalid bundle: {e}; nothing was stored"))
        })?;
        CompiledBundle::compile(&bundle).map_err(|e| {
            ControlError::BadRequest(format!(
                "bundle does not compile: {e}; nothing was stored"
            ))
        })?;
        Ok((body, bundle.modules.len()))
    })
    .await
    .map_err(|e| ControlError::Internal(format!("bundle check failed: {e}")))?;
    let (body, modules) = check?;
    let hash = wire::content_hash(&body);
    let new = shared
        .store
        .lock()
        .expect("store lock")
        .put_bundle(&hash, &body, modules)?;
    json(
        if new {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &BundleInfo {
            hash,
            modules,
            bytes: body.len(),
        },
    )
}

pub(crate) async fn read_body(req: Request<Incoming>, limit: usize) -> Result<Bytes, ControlError> {
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ControlError::BadRequest(
            format!("request body is larger than {limit} bytes"),
        )),
        Err(e) => Err(ControlError::BadRequest(format!(
            "cannot read request body: {e}"
        ))),
    }
}

async fn read_json<T: DeserializeOwned>(req: Request<Incoming>) -> Result<T, ControlError> {
    let body = read_body(req, MAX_JSON_BYTES).await?;
    serde_json::from_slice(&body)
        .map_err(|e| ControlError::BadRequest(format!("invalid JSON body: {e}")))
}

async fn read_json_or_default<T: DeserializeOwned + Default>(
    req: Request<Incoming>,
) -> Result<T, ControlError> {
    let body = read_body(req, MAX_JSON_BYTES).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body)
        .map_err(|e| ControlError::BadRequest(format!("invalid JSON body: {e}")))
}

pub(crate) fn json<T: Serialize + ?Sized>(
    status: StatusCode,
    value: &T,
) -> Result<Reply, ControlError> {
    let body = serde_json::to_vec(value).map_err(|e| ControlError::Internal(e.to_string()))?;
    Ok(Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("response"))
}

pub(crate) fn error_reply(e: &ControlError) -> Reply {
    let status = match e {
        ControlError::BadRequest(_) => StatusCode::BAD_REQUEST,
        ControlError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        ControlError::Forbidden(_) => StatusCode::FORBIDDEN,
        ControlError::NotFound(_) => StatusCode::NOT_FOUND,
        ControlError::Conflict(_) => StatusCode::CONFLICT,
        ControlError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ControlError::Storage(_) | ControlError::Io { .. } | ControlError::Internal(_) => {
            tracing::error!("control API error: {e}");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    let body = serde_json::to_vec(&crate::api::ApiError {
        error: e.to_string(),
    })
    .unwrap_or_default();
    let mut r = Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json");
    if status == StatusCode::UNAUTHORIZED {
        r = r.header(http::header::WWW_AUTHENTICATE, "Bearer");
    }
    r.body(Full::new(Bytes::from(body))).expect("response")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DataBinding, DataBindings};

    const BUNDLE: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    /// A control plane in region `here` without its HTTP side, with one
    /// node of region `eu` following.
    fn shared(tag: &str) -> Shared {
        let dir = std::env::temp_dir().join(format!("outpost-server-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut store = Store::open(&dir.join(DB_FILE), "localhost").unwrap().store;
        store.set_region("here");
        store.put_bundle(BUNDLE, b"bundle", 1).unwrap();
        let snapshot = store.snapshot().unwrap();
        let node = NodeReport {
            id: "node-eu".into(),
            region: "eu".into(),
            data_url: "http://node-eu.internal:9000".into(),
            ..NodeReport::default()
        };
        Shared {
            store: Mutex::new(store),
            data: Arc::new(Primaries::new(&dir, "here", 16)),
            state: watch::Sender::new(Arc::new(snapshot)),
            nodes: Mutex::new(HashMap::from([(
                node.id.clone(),
                NodeEntry {
                    report: node,
                    last_seen: Instant::now(),
                    polling: 1,
                },
            )])),
        }
    }

    fn binding_shop(region: &str) -> NewVersion {
        NewVersion {
            bundle: BUNDLE.into(),
            data: DataBindings {
                d1: vec![DataBinding {
                    binding: "DB".into(),
                    id: "shop".into(),
                    primary_region: Some(region.into()),
                }],
                kv: Vec::new(),
            },
            ..NewVersion::default()
        }
    }

    /// Deploys that decided on their placements from the same published
    /// state (the database not placed yet), applied one after the other:
    /// the one that agrees with the recorded region is accepted without a
    /// placement of its own, the one that does not gets a 409.
    #[test]
    fn deploys_racing_to_place_one_database() {
        let shared = shared("race");
        let first = binding_shop("eu");
        let second = binding_shop("eu");
        let with_control = binding_shop("here");
        let first_placements = shared.place_primaries(&first).unwrap();
        let second_placements = shared.place_primaries(&second).unwrap();
        let control_placements = shared.place_primaries(&with_control).unwrap();
        assert_eq!(first_placements.len(), 1);
        assert_eq!(second_placements, first_placements);
        assert!(control_placements.is_empty());

        let (_, placed) = shared.deploy("a", &first, &first_placements).unwrap();
        assert_eq!(placed, first_placements);
        let (deployed, placed) = shared.deploy("b", &second, &second_placements).unwrap();
        assert_eq!(deployed.version, 1);
        assert!(placed.is_empty(), "already placed by the first: {placed:?}");

        let refused = shared
            .deploy("c", &with_control, &control_placements)
            .unwrap_err();
        assert!(matches!(refused, ControlError::Conflict(_)), "{refused:?}");
        assert_eq!(
            refused.to_string(),
            "d1 database `shop` has its primary in region `eu`, not `here`: a primary stays \
             where it was first placed"
        );
        assert_eq!(error_reply(&refused).status(), StatusCode::CONFLICT);
        let state = shared.state.borrow().clone();
        assert_eq!(state.placements, first_placements);
        let workers: Vec<_> = state.workers.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(workers, ["a", "b"]);
    }

    /// One version binding a database twice must ask one region for it.
    #[test]
    fn one_database_bound_twice_with_two_regions_is_refused() {
        let shared = shared("twice");
        let mut version = binding_shop("eu");
        let mut other = version.data.d1[0].clone();
        other.binding = "DB2".into();
        version.data.d1.push(other.clone());
        assert_eq!(shared.place_primaries(&version).unwrap().len(), 1);
        for region in ["here", "us"] {
            version.data.d1[1].primary_region = Some(region.into());
            let refused = shared.place_primaries(&version).unwrap_err();
            assert!(
                matches!(refused, ControlError::BadRequest(_)),
                "{refused:?}"
            );
            assert_eq!(
                refused.to_string(),
                format!(
                    "d1 database `shop` is bound twice with different primary_region values (`eu` and `{region}`)"
                )
            );
        }
    }
}
