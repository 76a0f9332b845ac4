//! A node's side of the control plane: follow the desired state and make
//! the node's routing table match it.
//!
//! The loop, on a thread of its own:
//! 1. long-poll `GET /v1/state?since=<applied>&cluster=<id>`, sending this
//!    node's report (what it runs) in the `x-outpost-node` header;
//! 2. for each worker whose state changed, take the bundle from the local
//!    cache or fetch `GET /v1/bundles/<hash>`, verify its SHA-256, decode
//!    and compile it, and build its spec;
//! 3. swap the whole routing table at once ([`Routes::replace`]): requests
//!    already routed finish on the spec they started with;
//! 4. persist the state it now runs, its bundles and their bytecode (keyed
//!    by engine version) under the node's directory, so a restarted node
//!    serves before the control plane is back, without compiling again.
//!
//! A worker whose new bundle cannot be compiled keeps its previous version
//! and the node reports the error. When the control plane is unreachable the
//! node keeps serving and retries with a backoff capped at one second.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use outpost_node::{RoutePattern, RouteTable, Routes};
use outpost_runtime::wire::{self, content_hash};
use outpost_runtime::{Bundle, CompiledBundle, EnvValue, Limits, WorkerSpec};
use tokio::sync::watch;

use crate::api::{
    DesiredState, NodeReport, Placement, RunningWorker, WorkerState, NODE_REPORT_HEADER,
};
use crate::client::{api_error, Client, ClientError};
use crate::data::{Opened, Primaries};
use crate::peer::{PeerAccess, PeerServer};
use crate::replicate::{Replicas, Upstream};
use crate::server::LONG_POLL;
use crate::ControlError;
use outpost_bindings::remote::DataKind;
use outpost_bindings::{D1Binding, KvBinding};

const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
const STATE_FILE: &str = "state.json";
const BUNDLES_DIR: &str = "bundles";
const BYTECODE_DIR: &str = "bytecode";
const NODE_ID_FILE: &str = "node-id";
/// Under the node's directory: the primaries placed on it.
const HELD_DIR: &str = "primaries";

/// The file name of bundle `hash`'s bytecode for this engine build.
fn bytecode_file(hash: &str) -> String {
    format!("{hash}.{}", wire::engine_version())
}

/// How a node follows a control plane.
#[derive(Debug, Clone)]
pub struct FollowConfig {
    /// The control API's URL.
    pub control: String,
    /// A token with the `node` (or `admin`) scope.
    pub token: String,
    /// The node's own state directory (created, mode 0700).
    pub dir: PathBuf,
    /// The node's region name.
    pub region: String,
    /// The control plane's data primaries, when the node runs in the same
    /// process (the embedded default): workers then use them directly
    /// instead of replicas.
    pub data: Option<Arc<Primaries>>,
    /// Where a node that follows a control plane elsewhere serves its data
    /// API (the primaries placed in its region, see [`crate::peer`]); port
    /// 0 picks one. Unused by the embedded node.
    pub data_addr: SocketAddr,
    /// Log entries each primary on this node keeps for replicas.
    pub log_retain: u64,
}

/// The primaries a node holds for its region, and their data API.
struct Held {
    primaries: Arc<Primaries>,
    access: Arc<PeerAccess>,
    server: PeerServer,
}

/// Keeps a node's routing table in step with the control plane.
pub struct Follower {
    client: Client,
    dir: PathBuf,
    routes: Arc<Routes>,
    report: NodeReport,
    cluster: String,
    /// What runs now, by worker: the state it came from and its spec.
    running: HashMap<String, (WorkerState, Arc<WorkerSpec>)>,
    /// Compiled bundles by hash.
    compiled: HashMap<String, Arc<CompiledBundle>>,
    /// Bundles running now, and those that ran before the last change
    /// (kept for a quick rollback).
    current_bundles: HashSet<String>,
    previous_bundles: HashSet<String>,
    /// Bundles taken from stored bytecode (see [`Follower::loaded_bytecode`]).
    loaded_bytecode: usize,
    /// Isolate cache key of the next spec (unique within the process).
    next_spec: u64,
    /// The control plane's primaries, when it runs in this process.
    embedded: Option<Arc<Primaries>>,
    /// Primaries placed on this node (a node following a remote control
    /// plane only).
    held: Option<Held>,
    replicas: Replicas,
    /// Where the primaries are placed (from the desired state), and the
    /// data token.
    placements: Vec<Placement>,
    data_token: String,
}

/// A following thread. Dropping it stops the thread.
pub struct FollowerHandle {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for FollowerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A worker state that could not be turned into a spec.
enum Prepare {
    /// Retry later (the control plane went away mid-fetch).
    Transient(String),
    /// This state will not work (bad bundle); keep the previous version.
    Broken(String),
}

impl Follower {
    /// Sets up the node's directory and id, and restores the state the node
    /// last ran (from its directory) into `routes`, so the node can serve
    /// before it reaches the control plane.
    pub fn new(config: FollowConfig, routes: Arc<Routes>) -> Result<Follower, ControlError> {
        crate::create_private_dir(&config.dir.join(BUNDLES_DIR))?;
        crate::create_private_dir(&config.dir.join(BYTECODE_DIR))?;
        let id_file = config.dir.join(NODE_ID_FILE);
        let id = match std::fs::read_to_string(&id_file) {
            Ok(s) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                let mut b = [0u8; 4];
                getrandom::getrandom(&mut b)
                    .map_err(|e| ControlError::Internal(format!("no randomness: {e}")))?;
                let id = format!(
                    "n-{}",
                    b.iter().map(|b| format!("{b:02x}")).collect::<String>()
                );
                crate::write_private(&id_file, format!("{id}\n").as_bytes())?;
                id
            }
        };
        let client = Client::new(&config.control, Some(config.token.clone()))
            .map_err(|e| ControlError::BadRequest(e.to_string()))?;
        let replicas = Replicas::new(&config.dir, client.clone(), &config.region);
        let held = match config.data {
            Some(_) => None,
            None => {
                let primaries = Arc::new(Primaries::new(
                    &config.dir.join(HELD_DIR),
                    &config.region,
                    config.log_retain,
                ));
                let access = Arc::new(PeerAccess::default());
                let server =
                    PeerServer::start(config.data_addr, primaries.clone(), access.clone())?;
                Some(Held {
                    primaries,
                    access,
                    server,
                })
            }
        };
        let mut follower = Follower {
            client,
            dir: config.dir,
            routes,
            report: NodeReport {
                id,
                region: config.region,
                data_url: held.as_ref().map(|h| h.server.url()).unwrap_or_default(),
                ..NodeReport::default()
            },
            cluster: String::new(),
            running: HashMap::new(),
            compiled: HashMap::new(),
            current_bundles: HashSet::new(),
            previous_bundles: HashSet::new(),
            loaded_bytecode: 0,
            next_spec: 1,
            embedded: config.data,
            held,
            replicas,
            placements: Vec::new(),
            data_token: String::new(),
        };
        follower.restore();
        Ok(follower)
    }

    /// The node's id.
    pub fn id(&self) -> &str {
        &self.report.id
    }

    /// How many workers were restored from the node's directory.
    pub fn restored(&self) -> usize {
        self.running.len()
    }

    /// How many bundles were taken from stored bytecode instead of being
    /// compiled.
    pub fn loaded_bytecode(&self) -> usize {
        self.loaded_bytecode
    }

    /// The node's data API, when it has one (it follows a control plane in
    /// another process).
    pub fn data_url(&self) -> Option<String> {
        self.held.as_ref().map(|h| h.server.url())
    }

    /// Sets the address the node reports (`http://host:port`).
    pub fn set_addr(&mut self, addr: String) {
        self.report.addr = addr;
    }

    /// Starts following on a thread of its own.
    pub fn spawn(self) -> Result<FollowerHandle, ControlError> {
        let (stop, stop_rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("follower".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!("follower runtime failed to start: {e}");
                        return;
                    }
                };
                rt.block_on(self.run(stop_rx));
            })
            .map_err(ControlError::io("cannot start the follower thread"))?;
        Ok(FollowerHandle {
            stop,
            thread: Some(thread),
        })
    }

    fn restore(&mut self) {
        let path = self.dir.join(STATE_FILE);
        let Ok(text) = std::fs::read(&path) else {
            return;
        };
        let state: DesiredState = match serde_json::from_slice(&text) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("ignoring unreadable {}: {e}", path.display());
                return;
            }
        };
        self.set_placements(&state);
        let mut errors = BTreeMap::new();
        for w in &state.workers {
            match self
                .compiled_locally(&w.bundle)
                .unwrap_or_else(|| {
                    Err(Prepare::Broken(format!(
                        "bundle {} is not on disk",
                        w.bundle
                    )))
                })
                .and_then(|c| self.spec(w, c))
            {
                Ok(spec) => {
                    self.running.insert(w.name.clone(), (w.clone(), spec));
                }
                Err(Prepare::Broken(e) | Prepare::Transient(e)) => {
                    tracing::warn!("cannot restore `{}`: {e}", w.name);
                    errors.insert(w.name.clone(), e);
                }
            }
        }
        self.install(&state, errors);
        tracing::info!(
            "restored state version {} ({} workers) from {}",
            state.version,
            self.running.len(),
            path.display()
        );
    }

    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut backoff = MIN_BACKOFF;
        let mut down_since: Option<Instant> = None;
        loop {
            self.replicas.start_pulling(&stop);
            self.report.data = self.replicas.report();
            if let Some(held) = &self.held {
                self.report.primaries = self
                    .placements
                    .iter()
                    .filter(|p| p.node == self.report.id)
                    .filter_map(|p| {
                        let kind = DataKind::parse(&p.kind)?;
                        let head = held.primaries.open(kind, &p.id).ok()?.primary().position();
                        Some((format!("{}/{}", p.kind, p.id), head))
                    })
                    .collect();
            }
            let report = ascii_json(&serde_json::to_string(&self.report).unwrap_or_default());
            let path = format!(
                "/v1/state?since={}&cluster={}",
                self.report.applied, self.cluster
            );
            let headers = [(NODE_REPORT_HEADER, report)];
            let poll = self.client.send(
                Method::GET,
                &path,
                &headers,
                Bytes::new(),
                LONG_POLL + Duration::from_secs(15),
            );
            let result = tokio::select! {
                r = poll => r,
                _ = stop.changed() => return,
            };
            let outcome = match result {
                Ok(r) if r.status == StatusCode::OK => {
                    match serde_json::from_slice::<DesiredState>(&r.body) {
                        Ok(state) => self.apply(state).await,
                        Err(e) => Err(format!("unreadable state from the control plane: {e}")),
                    }
                }
                Ok(r) if r.status == StatusCode::NO_CONTENT => Ok(()),
                Ok(r) => Err(api_error(&r).to_string()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(()) => {
                    if let Some(t) = down_since.take() {
                        tracing::info!(
                            "following the control plane again (it was away for {:.1} s)",
                            t.elapsed().as_secs_f64()
                        );
                    }
                    backoff = MIN_BACKOFF;
                }
                Err(e) => {
                    if down_since.is_none() {
                        tracing::warn!(
                            "cannot follow the control plane: {e}; still serving the last good state"
                        );
                        down_since = Some(Instant::now());
                    } else {
                        tracing::debug!("control plane still unreachable: {e}");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Makes the node run `desired`. An `Err` means "retry later": nothing
    /// changed.
    async fn apply(&mut self, desired: DesiredState) -> Result<(), String> {
        let started = Instant::now();
        self.set_placements(&desired);
        let mut errors = BTreeMap::new();
        let mut next: HashMap<String, (WorkerState, Arc<WorkerSpec>)> = HashMap::new();
        for w in &desired.workers {
            if let Some((cur, spec)) = self.running.get(&w.name) {
                if cur == w && self.cluster == desired.cluster {
                    next.insert(w.name.clone(), (cur.clone(), spec.clone()));
                    continue;
                }
            }
            match self.prepare(w).await.and_then(|c| self.spec(w, c)) {
                Ok(spec) => {
                    next.insert(w.name.clone(), (w.clone(), spec));
                }
                Err(Prepare::Transient(e)) => return Err(e),
                Err(Prepare::Broken(e)) => {
                    tracing::error!(
                        "cannot run `{}` version {}: {e}; keeping the previous version",
                        w.name,
                        w.version
                    );
                    errors.insert(w.name.clone(), ascii_line(&e));
                    if let Some(old) = self.running.get(&w.name) {
                        next.insert(w.name.clone(), old.clone());
                    }
                }
            }
        }
        let changed: Vec<String> = next
            .iter()
            .filter(|(name, (w, _))| {
                self.running
                    .get(*name)
                    .is_none_or(|(cur, _)| cur.deployment != w.deployment)
            })
            .map(|(name, (w, _))| format!("{name}@v{}", w.version))
            .collect();
        self.running = next;
        self.install(&desired, errors);
        if !changed.is_empty() {
            tracing::info!(
                "state version {}: now running {} ({} ms)",
                desired.version,
                changed.join(", "),
                started.elapsed().as_millis()
            );
        }
        Ok(())
    }

    /// Swaps the routing table to what `running` holds, records it in the
    /// report and persists it.
    fn install(&mut self, desired: &DesiredState, errors: BTreeMap<String, String>) {
        let mut routes = Vec::new();
        for r in &desired.routes {
            match RoutePattern::parse(&r.pattern) {
                Ok(p) => routes.push((p, r.worker.clone())),
                Err(e) => tracing::warn!("skipping route: {e}"),
            }
        }
        self.routes.replace(RouteTable {
            workers: self.running.values().map(|(_, s)| s.clone()).collect(),
            routes,
            domain: desired.domain.clone(),
            default: None,
        });
        self.cluster = desired.cluster.clone();
        self.report.applied = desired.version;
        self.report.workers = self
            .running
            .iter()
            .map(|(name, (w, _))| {
                (
                    name.clone(),
                    RunningWorker {
                        version: w.version,
                        deployment: w.deployment,
                    },
                )
            })
            .collect();
        self.report.errors = errors;
        // Keep the bundles of what runs now and of what ran just before, so
        // rolling back one step needs no fetch and no compile.
        let used: HashSet<String> = self
            .running
            .values()
            .map(|(w, _)| w.bundle.clone())
            .collect();
        if used != self.current_bundles {
            self.previous_bundles = std::mem::replace(&mut self.current_bundles, used);
        }
        let keep: HashSet<String> = self
            .current_bundles
            .union(&self.previous_bundles)
            .cloned()
            .collect();
        self.compiled.retain(|h, _| keep.contains(h));

        // What runs now, as a state: a worker whose new version failed keeps
        // its old entry, so a restart comes back to exactly this.
        let mut workers: Vec<WorkerState> = self.running.values().map(|(w, _)| w.clone()).collect();
        workers.sort_by(|a, b| a.name.cmp(&b.name));
        let effective = DesiredState {
            cluster: desired.cluster.clone(),
            version: desired.version,
            domain: desired.domain.clone(),
            region: desired.region.clone(),
            workers,
            routes: desired.routes.clone(),
            placements: desired.placements.clone(),
            data_token: desired.data_token.clone(),
        };
        if let Err(e) = self.persist(&effective, &keep) {
            tracing::warn!("cannot persist the node's state: {e}");
        }
    }

    fn persist(&self, state: &DesiredState, keep: &HashSet<String>) -> Result<(), ControlError> {
        let bytes = serde_json::to_vec(state).map_err(|e| ControlError::Internal(e.to_string()))?;
        crate::write_private(&self.dir.join(STATE_FILE), &bytes)?;
        let kept_bytecode: HashSet<String> = keep.iter().map(|h| bytecode_file(h)).collect();
        for (dir, keep) in [(BUNDLES_DIR, keep), (BYTECODE_DIR, &kept_bytecode)] {
            let Ok(entries) = std::fs::read_dir(self.dir.join(dir)) else {
                continue;
            };
            for e in entries.flatten() {
                if !keep.contains(e.file_name().to_string_lossy().as_ref()) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// Bundle `hash` from the node's directory, if intact (`hash` is a
    /// content hash, checked by the caller).
    fn local_bundle(&self, hash: &str) -> Option<Vec<u8>> {
        let bytes = std::fs::read(self.dir.join(BUNDLES_DIR).join(hash)).ok()?;
        (content_hash(&bytes) == hash).then_some(bytes)
    }

    async fn prepare(&mut self, w: &WorkerState) -> Result<Arc<CompiledBundle>, Prepare> {
        if !wire::is_content_hash(&w.bundle) {
            return Err(Prepare::Broken(format!(
                "`{}` is not a bundle hash",
                w.bundle
            )));
        }
        if let Some(compiled) = self.compiled_locally(&w.bundle) {
            return compiled;
        }
        let bytes = self.fetch(&w.bundle).await?;
        let path = self.dir.join(BUNDLES_DIR).join(&w.bundle);
        if let Err(e) = crate::write_private(&path, &bytes) {
            tracing::warn!("cannot keep bundle {}: {e}", w.bundle);
        }
        self.compile(&w.bundle, &bytes)
    }

    /// Bundle `hash` compiled, from memory, this node's stored bytecode or
    /// its stored bundle; `None` when the node has none of them.
    fn compiled_locally(&mut self, hash: &str) -> Option<Result<Arc<CompiledBundle>, Prepare>> {
        // A hash names files under the node's directory: nothing else may.
        if !wire::is_content_hash(hash) {
            return None;
        }
        if let Some(c) = self.compiled.get(hash) {
            return Some(Ok(c.clone()));
        }
        if let Some(compiled) = self.stored_bytecode(hash) {
            self.loaded_bytecode += 1;
            self.compiled.insert(hash.to_string(), compiled.clone());
            return Some(Ok(compiled));
        }
        let bytes = self.local_bundle(hash)?;
        Some(self.compile(hash, &bytes))
    }

    async fn fetch(&self, hash: &str) -> Result<Vec<u8>, Prepare> {
        let reply = self
            .client
            .send(
                Method::GET,
                &format!("/v1/bundles/{hash}"),
                &[],
                Bytes::new(),
                crate::client::REQUEST_TIMEOUT,
            )
            .await
            .map_err(|e: ClientError| Prepare::Transient(e.to_string()))?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => {
                return Err(Prepare::Broken(format!(
                    "the control plane has no bundle {hash}"
                )))
            }
            _ => return Err(Prepare::Transient(api_error(&reply).to_string())),
        }
        let actual = content_hash(&reply.body);
        if actual != hash {
            return Err(Prepare::Broken(format!(
                "bundle hash mismatch: expected {hash}, received bytes hash to {actual}"
            )));
        }
        Ok(reply.body.to_vec())
    }

    fn compile(&mut self, hash: &str, bytes: &[u8]) -> Result<Arc<CompiledBundle>, Prepare> {
        let bundle = Bundle::from_wire(bytes)
            .map_err(|e| Prepare::Broken(format!("invalid bundle {hash}: {e}")))?;
        let compiled = CompiledBundle::compile(&bundle)
            .map_err(|e| Prepare::Broken(format!("bundle {hash} does not compile: {e}")))?;
        let path = self.dir.join(BYTECODE_DIR).join(bytecode_file(hash));
        if let Err(e) = crate::write_private(&path, &wire::encode_compiled(&compiled)) {
            tracing::warn!("cannot keep the bytecode of bundle {hash}: {e}");
        }
        let compiled = Arc::new(compiled);
        self.compiled.insert(hash.to_string(), compiled.clone());
        Ok(compiled)
    }

    /// The bytecode this node compiled earlier from bundle `hash`, if it is
    /// stored and intact and this engine wrote it.
    fn stored_bytecode(&self, hash: &str) -> Option<Arc<CompiledBundle>> {
        let path = self.dir.join(BYTECODE_DIR).join(bytecode_file(hash));
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: the node's private directory only holds what `compile`
        // wrote with `encode_compiled`; the engine key in the file name and
        // inside it, and its checksum, are checked before any byte is used.
        match unsafe { wire::decode_compiled(&bytes) } {
            Ok(compiled) => Some(Arc::new(compiled)),
            Err(e) => {
                tracing::warn!("recompiling bundle {hash}: {}: {e}", path.display());
                None
            }
        }
    }

    /// Takes the data placements of a desired state: where each
    /// database's primary is, and which of them this node serves.
    fn set_placements(&mut self, state: &DesiredState) {
        self.replicas.set_control_region(&state.region);
        self.placements = state.placements.clone();
        self.data_token = state.data_token.clone();
        if let Some(held) = &self.held {
            let mine = self
                .placements
                .iter()
                .filter(|p| p.node == self.report.id)
                .filter_map(|p| Some((DataKind::parse(&p.kind)?, p.id.clone())))
                .collect();
            held.access.update(&self.data_token, mine);
        }
        for p in &self.placements {
            let Some(kind) = DataKind::parse(&p.kind) else {
                continue;
            };
            if p.node != self.report.id {
                let upstream = Upstream::Node {
                    url: &p.url,
                    token: &self.data_token,
                    region: &p.region,
                };
                if let Err(e) = self.replicas.point_at(kind, &p.id, upstream) {
                    tracing::warn!("{kind} database `{}`: {e}", p.id);
                }
            }
        }
    }

    /// The env value of a data binding: the primary itself where it is in
    /// this process or placed on this node, else a replica of it.
    fn data_binding(&mut self, kind: DataKind, id: &str) -> Result<EnvValue, ControlError> {
        let local = |primaries: &Primaries| -> Result<EnvValue, ControlError> {
            let region = primaries.region().to_string();
            Ok(match primaries.open(kind, id)? {
                Opened::D1(db) => EnvValue::Binding(Arc::new(D1Binding::local_in(db, &region))),
                Opened::Kv(store) => EnvValue::Binding(Arc::new(KvBinding::new(store))),
            })
        };
        let placed = self
            .placements
            .iter()
            .find(|p| p.kind == kind.as_str() && p.id == id);
        match (placed, &self.embedded, &self.held) {
            (Some(p), _, Some(held)) if p.node == self.report.id => local(&held.primaries),
            (Some(p), _, _) => {
                let upstream = Upstream::Node {
                    url: &p.url,
                    token: &self.data_token,
                    region: &p.region,
                };
                self.replicas.binding(kind, id, upstream)
            }
            (None, Some(primaries), _) => local(primaries),
            (None, None, _) => self.replicas.binding(kind, id, Upstream::Control),
        }
    }

    fn spec(
        &mut self,
        w: &WorkerState,
        bundle: Arc<CompiledBundle>,
    ) -> Result<Arc<WorkerSpec>, Prepare> {
        let mut env: Vec<(String, EnvValue)> = w
            .vars
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    serde_json::Value::String(s) => EnvValue::Text(s.clone()),
                    other => EnvValue::Json(other.to_string()),
                };
                (k.clone(), value)
            })
            .collect();
        for (k, v) in &w.secrets {
            env.retain(|(name, _)| name != k);
            env.push((k.clone(), EnvValue::Text(v.clone())));
        }
        let data = w
            .data
            .d1
            .iter()
            .map(|b| (DataKind::D1, b))
            .chain(w.data.kv.iter().map(|b| (DataKind::Kv, b)));
        for (kind, b) in data {
            let value = self.data_binding(kind, &b.id).map_err(|e| {
                Prepare::Broken(format!("{kind} binding `{}` ({}): {e}", b.binding, b.id))
            })?;
            env.retain(|(name, _)| *name != b.binding);
            env.push((b.binding.clone(), value));
        }
        let mut limits = Limits::default();
        if let Some(ms) = w.cpu_ms {
            limits.cpu = Duration::from_millis(u64::from(ms));
        }
        // Isolates are cached per (name, version): a process-unique number
        // per spec, so a rollback or a secret change never meets an isolate
        // built for other code or other env.
        let version = self.next_spec;
        self.next_spec += 1;
        Ok(Arc::new(WorkerSpec {
            name: w.name.clone(),
            version,
            bundle,
            env,
            limits,
            dev: false,
            allow_private_fetch: false,
            cache: Some(outpost_cache::open_shared(&self.dir)),
        }))
    }
}

/// JSON text with every non-ASCII character escaped (`\uXXXX`), so it fits
/// in an HTTP header. Non-ASCII characters only occur inside JSON strings,
/// where the escape means the same.
fn ascii_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// One line of at most 300 characters (error texts in reports).
fn ascii_line(s: &str) -> String {
    let line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_json_round_trips() {
        let report = NodeReport {
            id: "n-1".into(),
            region: "tōkyō 🗼".into(),
            ..NodeReport::default()
        };
        let text = ascii_json(&serde_json::to_string(&report).unwrap());
        assert!(text.is_ascii(), "{text}");
        let back: NodeReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, report);
    }
}
