//! The primaries of the fleet's D1 databases and KV namespaces, and their
//! side of replication, served beside the control API.
//!
//! - `POST /v1/data/<kind>/<id>`: one call from a node (a D1 write or
//!   primary read, a KV write), encoded by `outpost_bindings::remote`; the
//!   answer carries the commit's log position, which is the bookmark.
//! - `GET /v1/data/<kind>/<id>/log?after=N&max=M&wait_ms=W`: the log
//!   entries after position N (at most M), waiting up to W ms for one when
//!   there are none yet: replicas long-poll this. The head position is in
//!   the `x-outpost-head` header. `410 Gone` when the entries were compacted
//!   away (the replica must bootstrap), `409` when N is ahead of the primary.
//! - `GET /v1/data/<kind>/<id>/snapshot`: a consistent copy of the database
//!   for a replica to bootstrap from (its position in `x-outpost-position`).
//! - `GET /v1/data`: every database with its head position.
//!
//! The primaries are files under `<state>/data/<kind>/<id>.sqlite`, opened
//! once per process and shared with the embedded node, whose workers use
//! them directly.
//!
//! A database whose `primary_region` names another region has its primary
//! on a node of that region instead, which serves the same three endpoints
//! on its own data API ([`crate::peer`]); [`serve`] is shared by both.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use outpost_bindings::remote::DataKind;
use outpost_bindings::LocalData;
use outpost_data::{Position, Primary};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::ControlError;

/// Header with the primary's head position on a log answer.
pub const HEAD_HEADER: &str = "x-outpost-head";
/// Header with a snapshot's position.
pub const POSITION_HEADER: &str = "x-outpost-position";
/// Longest a log request waits for a new entry.
pub const MAX_LOG_WAIT: Duration = Duration::from_secs(25);
/// Most entries one log answer carries.
pub const MAX_LOG_ENTRIES: usize = 1000;
/// Largest call body accepted (a 25 MiB KV value, base64, plus room).
pub const MAX_CALL_BYTES: usize = 36 << 20;

/// One database as `GET /v1/data` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseInfo {
    /// `d1` or `kv`.
    pub kind: String,
    /// The database's id.
    pub id: String,
    /// The position of its latest write (for a primary on a node: as that
    /// node last reported it).
    pub position: Position,
    /// The region of its primary.
    #[serde(default)]
    pub region: String,
    /// The node holding its primary; `None` when the control plane does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// The data primaries of a control plane.
#[derive(Debug)]
pub struct Primaries {
    dir: PathBuf,
    region: String,
    log_retain: u64,
    local: Arc<LocalData>,
    heads: Mutex<HashMap<(DataKind, String), watch::Receiver<Position>>>,
}

/// What a data API request asks of a primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataOp {
    /// `POST /v1/data/<kind>/<id>`: one encoded call.
    Call,
    /// `GET /v1/data/<kind>/<id>/log`: log entries (long-poll).
    Log,
    /// `GET /v1/data/<kind>/<id>/snapshot`: a consistent copy.
    Snapshot,
}

/// Reads a data API path: `None` for any other path.
pub(crate) fn parse_path(method: &Method, path: &str) -> Option<(DataOp, DataKind, String)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (op, kind, id) = match (method.as_str(), segs.as_slice()) {
        ("POST", ["v1", "data", kind, id]) => (DataOp::Call, kind, id),
        ("GET", ["v1", "data", kind, id, "log"]) => (DataOp::Log, kind, id),
        ("GET", ["v1", "data", kind, id, "snapshot"]) => (DataOp::Snapshot, kind, id),
        _ => return None,
    };
    Some((op, DataKind::parse(kind)?, id.to_string()))
}

/// Serves one data API request on `primaries`.
pub(crate) async fn serve(
    primaries: &Arc<Primaries>,
    op: DataOp,
    kind: DataKind,
    id: String,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ControlError> {
    crate::store::check_data_id(&id)?;
    match op {
        DataOp::Call => {
            let body = crate::server::read_body(req, MAX_CALL_BYTES).await?;
            let data = primaries.clone();
            let answer = tokio::task::spawn_blocking(move || data.call(kind, &id, &body))
                .await
                .map_err(|e| ControlError::Internal(e.to_string()))??;
            Ok(Response::builder()
                .status(StatusCode::OK)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(answer)))
                .expect("response"))
        }
        DataOp::Log => {
            let (after, max, wait) = log_query(req.uri().query().unwrap_or(""))?;
            match primaries.log(kind, &id, after, max, wait).await? {
                LogAnswer::Entries(bytes, head) => Ok(Response::builder()
                    .status(StatusCode::OK)
                    .header(HEAD_HEADER, head.to_string())
                    .body(Full::new(Bytes::from(bytes)))
                    .expect("response")),
                LogAnswer::SnapshotRequired(why) => {
                    Ok(crate::server::error_json(StatusCode::GONE, &why))
                }
                LogAnswer::Ahead(why) => Err(ControlError::Conflict(why)),
            }
        }
        DataOp::Snapshot => {
            let (bytes, position) = primaries.snapshot(kind, &id).await?;
            Ok(Response::builder()
                .status(StatusCode::OK)
                .header(POSITION_HEADER, position.to_string())
                .body(Full::new(bytes))
                .expect("response"))
        }
    }
}

/// `after=N&max=M&wait_ms=W` of a log request.
fn log_query(query: &str) -> Result<(Position, usize, Duration), ControlError> {
    let mut after = 0;
    let mut max = MAX_LOG_ENTRIES;
    let mut wait = Duration::ZERO;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let bad = || ControlError::BadRequest(format!("bad `{k}`: {v}"));
        match &*k {
            "after" => after = v.parse().map_err(|_| bad())?,
            "max" => {
                max = v
                    .parse::<usize>()
                    .map_err(|_| bad())?
                    .clamp(1, MAX_LOG_ENTRIES)
            }
            "wait_ms" => {
                wait = Duration::from_millis(v.parse().map_err(|_| bad())?).min(MAX_LOG_WAIT)
            }
            _ => {}
        }
    }
    Ok((after, max, wait))
}

/// A log answer.
pub(crate) enum LogAnswer {
    /// Entries (possibly none, when the wait ran out), encoded, and the head.
    Entries(Vec<u8>, Position),
    /// The entries were compacted away: bootstrap from a snapshot.
    SnapshotRequired(String),
    /// The replica is ahead of the primary (it follows another one).
    Ahead(String),
}

impl Primaries {
    /// The primaries under `<state_dir>/data`, in `region`, each keeping
    /// the last `log_retain` log entries (see [`Primaries::compact`]).
    pub fn new(state_dir: &std::path::Path, region: &str, log_retain: u64) -> Primaries {
        Primaries {
            dir: state_dir.join("data"),
            region: region.to_string(),
            log_retain: log_retain.max(1),
            local: Arc::new(LocalData::new()),
            heads: Mutex::new(HashMap::new()),
        }
    }

    /// The directory the primaries' files are under.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The region the primaries are in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Whether database `id` of `kind` has a file here.
    pub fn exists(&self, kind: DataKind, id: &str) -> bool {
        self.dir
            .join(kind.as_str())
            .join(format!("{id}.sqlite"))
            .exists()
    }

    /// The open databases, shared with an embedded node.
    pub fn local(&self) -> &Arc<LocalData> {
        &self.local
    }

    /// Opens (creating if needed) a database's primary.
    pub fn open(&self, kind: DataKind, id: &str) -> Result<Opened, ControlError> {
        Ok(self.open_with_head(kind, id)?.0)
    }

    /// Opens a database's primary, and a watch of its head position (fed
    /// by a commit hook registered on first open).
    fn open_with_head(
        &self,
        kind: DataKind,
        id: &str,
    ) -> Result<(Opened, watch::Receiver<Position>), ControlError> {
        let internal = |e: outpost_bindings::OpenError| ControlError::Internal(e.to_string());
        let primary = match kind {
            DataKind::D1 => self
                .local
                .d1(&self.dir, id)
                .map_err(internal)?
                .primary()
                .cloned()
                .map(Opened::D1),
            DataKind::Kv => {
                let kv = self.local.kv(&self.dir, id).map_err(internal)?;
                kv.store()
                    .primary()
                    .is_some()
                    .then(|| Opened::Kv(kv.store().clone()))
            }
        };
        let primary = primary.ok_or_else(|| {
            ControlError::Internal(format!("{kind} database `{id}` is not a primary"))
        })?;
        let opened = primary.clone();
        let primary = primary.primary();
        let mut heads = self.heads.lock().expect("heads lock");
        let head = heads.entry((kind, id.to_string())).or_insert_with(|| {
            let (tx, rx) = watch::channel(primary.position());
            primary.on_commit(move |p| raise(&tx, p));
            rx
        });
        Ok((opened, head.clone()))
    }

    /// Runs one encoded call (blocking: SQLite).
    pub fn call(&self, kind: DataKind, id: &str, body: &[u8]) -> Result<Vec<u8>, ControlError> {
        self.open(kind, id)?;
        outpost_bindings::remote::serve(&self.local, &self.dir, kind, id, body, &self.region)
            .map_err(|e| match e {
                outpost_bindings::remote::ServeError::Malformed { .. } => {
                    ControlError::BadRequest(e.to_string())
                }
                other => ControlError::Internal(other.to_string()),
            })
    }

    /// The log after `after`, waiting up to `wait` for an entry.
    pub(crate) async fn log(
        self: &Arc<Self>,
        kind: DataKind,
        id: &str,
        after: Position,
        max: usize,
        wait: Duration,
    ) -> Result<LogAnswer, ControlError> {
        let (primary, mut head) = self.open_with_head(kind, id)?;
        if *head.borrow() <= after && !wait.is_zero() {
            let _ = tokio::time::timeout(wait, head.wait_for(|&p| p > after)).await;
        }
        let answer = tokio::task::spawn_blocking(move || {
            let primary = primary.primary();
            let head = primary.position();
            match primary.log_since(after, max) {
                Ok(entries) => Ok(LogAnswer::Entries(
                    outpost_data::encode_entries(&entries),
                    head,
                )),
                Err(e @ outpost_data::Error::SnapshotRequired { .. }) => {
                    Ok(LogAnswer::SnapshotRequired(e.to_string()))
                }
                Err(e @ outpost_data::Error::AheadOfPrimary { .. }) => {
                    Ok(LogAnswer::Ahead(e.to_string()))
                }
                Err(e) => Err(ControlError::Internal(format!("reading the log: {e}"))),
            }
        })
        .await
        .map_err(|e| ControlError::Internal(e.to_string()))?;
        answer
    }

    /// A snapshot of the database: its bytes and position.
    pub(crate) async fn snapshot(
        &self,
        kind: DataKind,
        id: &str,
    ) -> Result<(Bytes, Position), ControlError> {
        let primary = self.open(kind, id)?;
        let tmp = self.dir.join(format!(
            "snapshot-{}-{}-{:x}.sqlite",
            kind,
            std::process::id(),
            rand_u64()
        ));
        tokio::task::spawn_blocking(move || {
            let result = (|| {
                let snapshot = primary
                    .primary()
                    .snapshot_to(&tmp)
                    .map_err(|e| ControlError::Internal(format!("snapshot: {e}")))?;
                let bytes = snapshot
                    .to_bytes()
                    .map_err(|e| ControlError::Internal(format!("snapshot: {e}")))?;
                Ok((Bytes::from(bytes), snapshot.position()))
            })();
            let _ = std::fs::remove_file(&tmp);
            result
        })
        .await
        .map_err(|e| ControlError::Internal(e.to_string()))?
    }

    /// Drops log entries beyond the last `log_retain` of every open
    /// primary (once a primary holds more than twice that many, so the work
    /// is batched). Replicas further behind bootstrap from a snapshot.
    pub fn compact(&self) {
        let open: Vec<(DataKind, String)> = self
            .heads
            .lock()
            .expect("heads lock")
            .keys()
            .cloned()
            .collect();
        for (kind, id) in open {
            let Ok(db) = self.open(kind, &id) else {
                continue;
            };
            let primary = db.primary();
            let head = primary.position();
            if head.saturating_sub(primary.compacted_through()) > 2 * self.log_retain {
                match primary.compact(head - self.log_retain) {
                    Ok(n) => tracing::debug!("{kind}/{id}: compacted {n} log entries"),
                    Err(e) => tracing::warn!("{kind}/{id}: compacting the log failed: {e}"),
                }
            }
        }
    }

    /// Every database under the data directory, with its head.
    pub fn list(&self) -> Result<Vec<DatabaseInfo>, ControlError> {
        let mut out = Vec::new();
        for kind in [DataKind::D1, DataKind::Kv] {
            let ids = outpost_bindings::stored_ids(&self.dir, kind.as_str());
            for id in ids {
                let primary = self.open(kind, &id)?;
                out.push(DatabaseInfo {
                    kind: kind.as_str().to_string(),
                    id,
                    position: primary.primary().position(),
                    region: self.region.clone(),
                    node: None,
                });
            }
        }
        Ok(out)
    }
}

/// Moves a position watch forward to `position` (never back: commits and
/// applies may report out of order across threads).
pub(crate) fn raise(tx: &watch::Sender<Position>, position: Position) {
    tx.send_if_modified(|cur| {
        let newer = position > *cur;
        if newer {
            *cur = position;
        }
        newer
    });
}

/// An open primary: a D1 database, or the store of a KV namespace.
#[derive(Debug, Clone)]
pub enum Opened {
    /// A D1 database.
    D1(Arc<Primary>),
    /// A KV namespace.
    Kv(Arc<outpost_bindings::KvStore>),
}

impl Opened {
    /// The database's primary.
    pub fn primary(&self) -> &Primary {
        match self {
            Opened::D1(p) => p,
            Opened::Kv(kv) => kv.primary().expect("opened as a primary"),
        }
    }
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    u64::from_le_bytes(b)
}
