//! A node's replicas of the fleet's D1 databases and KV namespaces.
//!
//! For every database a worker on the node binds, the node keeps a replica
//! under `<node dir>/data/<kind>/<id>.sqlite` and one task that long-polls
//! the primary's log (`GET /v1/data/<kind>/<id>/log?after=<position>`),
//! applies each batch exactly once (the replica stores its position in the
//! same transaction), and bootstraps from a snapshot when the entries it
//! needs were compacted away. Replicas survive restarts: a node continues
//! from its stored position, hours later if need be.
//!
//! Workers read from the replica (see `outpost_bindings::d1` for D1's
//! session rules) and write through [`HttpPrimary`], `POST
//! /v1/data/<kind>/<id>` on the primary's side.
//!
//! The primary's side is the control API, or the data API of the node
//! holding the primary when the database's `primary_region` placed it on
//! one ([`Upstream`]); that node's address may change when it restarts, and
//! the link follows it.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use outpost_bindings::clock::SystemClock;
use outpost_bindings::d1::ReplicaLink;
use outpost_bindings::remote::{DataKind, RemoteError, RemoteFuture, RemotePrimary};
use outpost_bindings::{D1Binding, KvBinding, KvStore};
use outpost_data::{decode_entries, Position, Replica, Snapshot};
use outpost_runtime::EnvValue;
use tokio::sync::watch;

use crate::api::ReplicaStatus;
use crate::client::{api_error, Client};
use crate::data::{HEAD_HEADER, MAX_LOG_ENTRIES};
use crate::ControlError;

const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How long a log request waits at the primary for a new entry.
const LOG_WAIT: Duration = Duration::from_secs(20);
/// A worker's call to the primary gives up after this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug)]
struct Live {
    status: ReplicaStatus,
    /// When the replica was last caught up.
    caught_up: Instant,
}

/// One replicated database on this node.
struct Link {
    replica: Arc<Replica>,
    advanced: watch::Receiver<Position>,
    kv: Option<Arc<KvStore>>,
    live: Arc<Mutex<Live>>,
    primary: Arc<HttpPrimary>,
    /// Its pull task's inputs, until the task is started.
    pull: Option<Pull>,
}

/// Where a database's primary is, for a replica of it.
#[derive(Debug, Clone, Copy)]
pub enum Upstream<'a> {
    /// With the control plane (the default).
    Control,
    /// On a node of the database's `primary_region`.
    Node {
        /// The node's data API.
        url: &'a str,
        /// The cluster's data token.
        token: &'a str,
        /// The region.
        region: &'a str,
    },
}

/// A node's replicas.
pub struct Replicas {
    dir: PathBuf,
    control: Client,
    region: String,
    control_region: String,
    links: HashMap<(DataKind, String), Link>,
}

impl Replicas {
    /// Replicas under `<node_dir>/data`, pulling from the control plane
    /// `control` talks to or from the nodes holding primaries; `region` is
    /// this node's.
    pub fn new(node_dir: &Path, control: Client, region: &str) -> Replicas {
        Replicas {
            dir: node_dir.join("data"),
            control,
            region: region.to_string(),
            control_region: String::new(),
            links: HashMap::new(),
        }
    }

    /// Records the control plane's region (from the desired state).
    pub fn set_control_region(&mut self, region: &str) {
        self.control_region = region.to_string();
    }

    /// Points the replica of database `id` of `kind`, if there is one, at
    /// `upstream` (the node holding its primary restarted elsewhere).
    pub fn point_at(
        &mut self,
        kind: DataKind,
        id: &str,
        upstream: Upstream<'_>,
    ) -> Result<(), ControlError> {
        let client = self.client(upstream)?.0;
        if let Some(link) = self.links.get(&(kind, id.to_string())) {
            link.primary.point_at(client);
        }
        Ok(())
    }

    fn client(&self, upstream: Upstream<'_>) -> Result<(Client, String), ControlError> {
        Ok(match upstream {
            Upstream::Control => (self.control.clone(), self.control_region.clone()),
            Upstream::Node { url, token, region } => (
                Client::new(url, Some(token.to_string()))
                    .map_err(|e| ControlError::Internal(e.to_string()))?,
                region.to_string(),
            ),
        })
    }

    /// The binding for database `id` of `kind`: its replica here, opened
    /// (and its pulling scheduled) on first use, pulling from `upstream`.
    pub fn binding(
        &mut self,
        kind: DataKind,
        id: &str,
        upstream: Upstream<'_>,
    ) -> Result<EnvValue, ControlError> {
        let (client, primary_region) = self.client(upstream)?;
        let link = self.link(kind, id, client.clone(), &primary_region)?;
        link.primary.point_at(client);
        let (replica, advanced, kv) =
            (link.replica.clone(), link.advanced.clone(), link.kv.clone());
        let primary: Arc<dyn RemotePrimary> = link.primary.clone();
        Ok(match kind {
            DataKind::D1 => EnvValue::Binding(Arc::new(D1Binding::replicated(ReplicaLink {
                id: id.to_string(),
                replica,
                advanced,
                remote: primary,
                region: self.region.clone(),
            }))),
            DataKind::Kv => EnvValue::Binding(Arc::new(KvBinding::replicated(
                kv.expect("KV links have a store"),
                id,
                primary,
            ))),
        })
    }

    fn link(
        &mut self,
        kind: DataKind,
        id: &str,
        client: Client,
        primary_region: &str,
    ) -> Result<&mut Link, ControlError> {
        let key = (kind, id.to_string());
        if !self.links.contains_key(&key) {
            let dir = self.dir.join(kind.as_str());
            crate::create_private_dir(&dir)?;
            let path = dir.join(format!("{id}.sqlite"));
            let replica = Arc::new(Replica::open(&path).map_err(|e| {
                ControlError::Internal(format!("cannot open the replica {}: {e}", path.display()))
            })?);
            let (tx, advanced) = watch::channel(replica.position());
            let kv = (kind == DataKind::Kv)
                .then(|| Arc::new(KvStore::replica(replica.clone(), Arc::new(SystemClock))));
            let live = Arc::new(Mutex::new(Live {
                status: ReplicaStatus {
                    position: replica.position(),
                    ..ReplicaStatus::default()
                },
                caught_up: Instant::now(),
            }));
            let primary = Arc::new(HttpPrimary {
                client: Mutex::new(client),
                region: primary_region.to_string(),
            });
            let pull = Pull {
                primary: primary.clone(),
                kind,
                id: id.to_string(),
                dir,
                replica: replica.clone(),
                advanced: tx,
                live: live.clone(),
            };
            self.links.insert(
                key.clone(),
                Link {
                    replica,
                    advanced,
                    kv,
                    live,
                    primary,
                    pull: Some(pull),
                },
            );
        }
        Ok(self.links.get_mut(&key).expect("just inserted"))
    }

    /// Starts the pull task of every replica that has none yet, on the
    /// current tokio runtime; they stop when `stop` turns true.
    pub fn start_pulling(&mut self, stop: &watch::Receiver<bool>) {
        for link in self.links.values_mut() {
            if let Some(pull) = link.pull.take() {
                tokio::spawn(pull.run(stop.clone()));
            }
        }
    }

    /// Each replica's status, keyed `<kind>/<id>`.
    pub fn report(&self) -> BTreeMap<String, ReplicaStatus> {
        self.links
            .iter()
            .map(|((kind, id), link)| {
                let live = link.live.lock().expect("replica status lock");
                let mut status = live.status.clone();
                status.position = link.replica.position();
                status.lag_ms = if status.position >= status.head {
                    0
                } else {
                    live.caught_up.elapsed().as_millis() as u64
                };
                (format!("{kind}/{id}"), status)
            })
            .collect()
    }
}

/// A replica's pull task.
struct Pull {
    primary: Arc<HttpPrimary>,
    kind: DataKind,
    id: String,
    dir: PathBuf,
    replica: Arc<Replica>,
    advanced: watch::Sender<Position>,
    live: Arc<Mutex<Live>>,
}

impl Pull {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut backoff = MIN_BACKOFF;
        loop {
            if *stop.borrow() {
                return;
            }
            let step = tokio::select! {
                step = self.step() => step,
                _ = stop.changed() => return,
            };
            match step {
                Ok(()) => backoff = MIN_BACKOFF,
                Err(e) => {
                    tracing::warn!("replica {}/{}: {e}", self.kind, self.id);
                    self.live.lock().expect("replica status lock").status.error = Some(e);
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// `GET /v1/data/<kind>/<id>/<rest>` on the primary, any status.
    async fn get(&self, rest: &str, timeout: Duration) -> Result<crate::client::Reply, String> {
        let path = format!("/v1/data/{}/{}/{rest}", self.kind, self.id);
        self.primary
            .client()
            .send(Method::GET, &path, &[], Bytes::new(), timeout)
            .await
            .map_err(|e| e.to_string())
    }

    /// One long-poll of the log, applied; or a bootstrap when needed.
    async fn step(&self) -> Result<(), String> {
        let after = self.replica.position();
        let query = format!(
            "log?after={after}&max={MAX_LOG_ENTRIES}&wait_ms={}",
            LOG_WAIT.as_millis()
        );
        let reply = self.get(&query, LOG_WAIT + Duration::from_secs(10)).await?;
        match reply.status {
            StatusCode::OK => {
                let head = reply
                    .headers
                    .get(HEAD_HEADER)
                    .and_then(|h| h.to_str().ok())
                    .and_then(|h| h.parse::<Position>().ok())
                    .unwrap_or(0);
                let entries = decode_entries(&reply.body).map_err(|e| e.to_string())?;
                let position = if entries.is_empty() {
                    after
                } else {
                    let replica = self.replica.clone();
                    tokio::task::spawn_blocking(move || replica.apply_all(&entries))
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| format!("applying the log: {e}"))?
                        .position
                };
                self.advanced(position, head);
                Ok(())
            }
            StatusCode::GONE => self.bootstrap().await,
            _ => Err(api_error(&reply).to_string()),
        }
    }

    /// Replaces the replica's content with a snapshot of the primary.
    async fn bootstrap(&self) -> Result<(), String> {
        let reply = self.get("snapshot", Duration::from_secs(300)).await?;
        if reply.status != StatusCode::OK {
            return Err(api_error(&reply).to_string());
        }
        let file = self.dir.join(format!("{}.snapshot", self.id));
        let replica = self.replica.clone();
        let position = tokio::task::spawn_blocking(move || {
            let done = Snapshot::from_bytes(&reply.body, &file).and_then(|snapshot| {
                replica.bootstrap(&snapshot)?;
                Ok(snapshot.position())
            });
            let _ = std::fs::remove_file(&file);
            done
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("bootstrapping from a snapshot: {e}"))?;
        tracing::info!(
            "replica {}/{} bootstrapped from a snapshot at position {position}",
            self.kind,
            self.id
        );
        self.advanced(position, position);
        Ok(())
    }

    fn advanced(&self, position: Position, head: Position) {
        crate::data::raise(&self.advanced, position);
        let mut live = self.live.lock().expect("replica status lock");
        live.status.position = position;
        live.status.head = live.status.head.max(head);
        live.status.error = None;
        if position >= live.status.head {
            live.caught_up = Instant::now();
        }
    }
}

/// The way to a database's primary over HTTP (the control API, or the data
/// API of the node holding it), for workers' writes and the pull task.
#[derive(Debug)]
pub struct HttpPrimary {
    client: Mutex<Client>,
    region: String,
}

impl HttpPrimary {
    fn client(&self) -> Client {
        self.client.lock().expect("primary client lock").clone()
    }

    /// Follows the primary to a new address (a restarted node).
    fn point_at(&self, client: Client) {
        let mut cur = self.client.lock().expect("primary client lock");
        if cur.url() != client.url() {
            tracing::info!("the primary moved to {}", client.url());
            *cur = client;
        }
    }
}

impl RemotePrimary for HttpPrimary {
    fn call(&self, kind: DataKind, id: &str, body: Vec<u8>) -> RemoteFuture {
        let client = self.client();
        let path = format!("/v1/data/{kind}/{id}");
        Box::pin(async move {
            let reply = client
                .send(
                    Method::POST,
                    &path,
                    &[("content-type", "application/json".to_string())],
                    Bytes::from(body),
                    CALL_TIMEOUT,
                )
                .await
                .map_err(|e| RemoteError(e.to_string()))?;
            if reply.status == StatusCode::OK {
                Ok(reply.body.to_vec())
            } else {
                Err(RemoteError(api_error(&reply).to_string()))
            }
        })
    }

    fn region(&self) -> &str {
        &self.region
    }
}
