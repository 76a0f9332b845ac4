//! The JSON shapes of the control API, shared by the server, the follower
//! on each node and the CLI.

use std::collections::BTreeMap;

use outpost_data::Position;
use serde::{Deserialize, Serialize};

/// Header a node sends with each long-poll of `/v1/state`: its
/// [`NodeReport`] as JSON (ASCII only).
pub const NODE_REPORT_HEADER: &str = "x-outpost-node";

/// Header carrying the SHA-256 of an uploaded bundle, as an alternative to
/// the hash in the URL (both must agree when both are given).
pub const BUNDLE_HASH_HEADER: &str = "x-outpost-bundle-sha256";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// List workers, versions, routes and nodes; fetch bundles.
    Read,
    /// Everything `read` may, plus upload, deploy, roll back, set secrets
    /// and routes.
    Deploy,
    /// Follow the desired state (which carries secrets) and fetch bundles:
    /// what an edge node needs, and nothing else.
    Node,
    /// Everything, including managing tokens.
    Admin,
}

impl Scope {
    /// The scope's name as written in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Deploy => "deploy",
            Scope::Node => "node",
            Scope::Admin => "admin",
        }
    }

    /// Parses `read`, `deploy`, `node` or `admin`.
    pub fn parse(s: &str) -> Option<Scope> {
        Some(match s {
            "read" => Scope::Read,
            "deploy" => Scope::Deploy,
            "node" => Scope::Node,
            "admin" => Scope::Admin,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The desired state of the fleet, as nodes follow it
/// (`GET /v1/state?since=N`). It carries secrets: only `node` and `admin`
/// tokens may read it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DesiredState {
    /// Random id of the control plane's database; a node that sees a new
    /// one takes the state as is, whatever its version.
    pub cluster: String,
    /// Increases with every change nodes must act on.
    pub version: u64,
    /// Domain of the default hosts `<worker>.<domain>`.
    pub domain: String,
    /// The control plane's region, where the data primaries are.
    #[serde(default)]
    pub region: String,
    /// Every worker with an active version, by name.
    pub workers: Vec<WorkerState>,
    /// Route patterns, in no particular order (nodes sort by specificity).
    pub routes: Vec<RouteEntry>,
    /// Databases whose primary a node holds (`primary_region` names a
    /// region other than the control plane's); the others' primaries are
    /// with the control plane.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placements: Vec<Placement>,
    /// The bearer token nodes present to each other's data API (replicas
    /// pulling from a node's primary, workers writing to it).
    #[serde(default)]
    pub data_token: String,
}

/// Where the primary of a database lives when a node holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// `d1` or `kv`.
    pub kind: String,
    /// The database's id.
    pub id: String,
    /// The region named by `primary_region`.
    pub region: String,
    /// The id of the node that holds the primary.
    pub node: String,
    /// That node's data API (`http://host:port`), as it last reported it.
    pub url: String,
}

/// One worker as nodes must run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerState {
    /// Worker name.
    pub name: String,
    /// The active version (per worker: 1, 2, 3, ...).
    pub version: u64,
    /// The state version at which this worker's effective configuration
    /// (version, secrets) last changed. Unique and increasing, so nodes use
    /// it to key isolates.
    pub deployment: u64,
    /// Content address of the bundle (SHA-256 of its wire format).
    pub bundle: String,
    /// Vars: a JSON string is a text var, anything else a JSON var.
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Secrets, as text.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// CPU time per request in milliseconds (`[limits] cpu_ms`), if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u32>,
    /// The worker's D1 and KV bindings.
    #[serde(default, skip_serializing_if = "DataBindings::is_empty")]
    pub data: DataBindings,
}

/// A worker's data bindings (`[[d1_databases]]`, `[[kv_namespaces]]`).
/// A database's primary lives with the control plane, or on a node of its
/// `primary_region`; every other node binds a replica.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataBindings {
    /// D1 databases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub d1: Vec<DataBinding>,
    /// KV namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kv: Vec<DataBinding>,
}

impl DataBindings {
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.d1.is_empty() && self.kv.is_empty()
    }
}

/// One data binding: the name on `env` and the database's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataBinding {
    /// The name under which the database appears on `env`.
    pub binding: String,
    /// The database's id (`database_id` or the KV namespace `id`).
    pub id: String,
    /// `primary_region` from the config: the region whose node holds the
    /// database's writable primary. Fixed when the database is first placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
}

/// A route pattern and the worker it sends requests to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteEntry {
    /// `host/path*`, e.g. `example.com/api/*`.
    pub pattern: String,
    /// Worker name.
    pub worker: String,
}

/// What a node reports with each poll.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeReport {
    /// Stable id of the node (kept in its state directory).
    pub id: String,
    /// Region name (`--region`).
    pub region: String,
    /// Where the node serves HTTP, e.g. `http://127.0.0.1:8787`.
    pub addr: String,
    /// The state version the node has applied.
    pub applied: u64,
    /// What the node runs, by worker name.
    #[serde(default)]
    pub workers: BTreeMap<String, RunningWorker>,
    /// Workers whose latest deployment the node could not apply, and why
    /// (it keeps serving the previous one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
    /// The node's replicas, keyed `<kind>/<id>` (`d1/shop`, `kv/sessions`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, ReplicaStatus>,
    /// The node's data API (`http://host:port`), where the primaries it
    /// holds are served to other nodes; empty when it serves none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data_url: String,
    /// The primaries this node holds, keyed `<kind>/<id>`, with their head
    /// positions.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub primaries: BTreeMap<String, Position>,
}

/// One worker as a node runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningWorker {
    /// Version number.
    pub version: u64,
    /// Deployment number (see [`WorkerState::deployment`]).
    pub deployment: u64,
}

/// How a replica stands, as the node reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    /// The replica's log position.
    pub position: Position,
    /// The primary's head when last heard from.
    pub head: Position,
    /// Milliseconds since the replica last had every entry the primary
    /// had (0 when caught up).
    pub lag_ms: u64,
    /// The last failure to pull, if the latest attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A node as `GET /v1/nodes` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The node's last report.
    #[serde(flatten)]
    pub report: NodeReport,
    /// Whether the node is following now (polled within the last 30 s).
    pub online: bool,
    /// Milliseconds since the node was last heard from.
    pub last_seen_ms: u64,
}

/// `PUT /v1/bundles/<hash>` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleInfo {
    /// Content address.
    pub hash: String,
    /// Number of modules.
    pub modules: usize,
    /// Size of the wire format in bytes.
    pub bytes: usize,
}

/// `POST /v1/workers/<name>/versions` body: a new version of a worker,
/// made active at once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewVersion {
    /// Content address of a bundle uploaded before with `PUT /v1/bundles/<hash>`.
    pub bundle: String,
    /// Vars: a JSON string is a text var, anything else a JSON var.
    #[serde(default)]
    pub vars: BTreeMap<String, serde_json::Value>,
    /// CPU time per request in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u32>,
    /// When present, the worker's route patterns become exactly these
    /// (from the config's `routes`), in the same transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<String>>,
    /// A note shown by `outpost versions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// D1 and KV bindings; their databases are created if new.
    #[serde(default, skip_serializing_if = "DataBindings::is_empty")]
    pub data: DataBindings,
}

/// `POST /v1/workers/<name>/rollback` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    /// The version to make active; the one before the active version when
    /// absent.
    #[serde(default)]
    pub version: Option<u64>,
}

/// Answer to a deploy or a rollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployed {
    /// Worker name.
    pub worker: String,
    /// The version now active.
    pub version: u64,
    /// The deployment nodes will report once they run it.
    pub deployment: u64,
    /// The state version that carries it.
    pub state_version: u64,
}

/// One version, as `GET /v1/workers/<name>/versions` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// Version number.
    pub version: u64,
    /// Content address of its bundle.
    pub bundle: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// Whether it is the active version.
    pub active: bool,
    /// Its vars.
    pub vars: BTreeMap<String, serde_json::Value>,
    /// Its CPU limit, if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u32>,
    /// Its note, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A worker, as `GET /v1/workers` lists it. Secrets appear by name only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    /// Worker name.
    pub name: String,
    /// The active version, if any.
    pub active_version: Option<u64>,
    /// Its deployment number.
    pub deployment: u64,
    /// How many versions exist.
    pub versions: u64,
    /// Names of its secrets (never their values).
    pub secrets: Vec<String>,
    /// Its default host, `<name>.<domain>`.
    pub default_host: String,
    /// Route patterns that send requests to it.
    pub routes: Vec<String>,
}

/// `GET /v1/routes` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutesInfo {
    /// Domain of the default hosts.
    pub domain: String,
    /// Route patterns, most specific first.
    pub routes: Vec<RouteEntry>,
    /// Every active worker's default host.
    pub default_hosts: Vec<RouteEntry>,
}

/// `POST /v1/tokens` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    /// A label for people.
    pub name: String,
    /// What the token may do.
    pub scope: Scope,
}

/// A token, as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Id (to revoke it).
    pub id: String,
    /// Label.
    pub name: String,
    /// Scope.
    pub scope: Scope,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
}

/// `POST /v1/tokens` answer: the token's secret is shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    /// The token's details.
    #[serde(flatten)]
    pub info: TokenInfo,
    /// The bearer token.
    pub token: String,
}

/// Every error answer: `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// What went wrong, for people.
    pub error: String,
}

/// Whether `name` is a valid worker name: 1–63 lower-case letters, digits
/// and `-`, not starting or ending with `-` (it becomes a DNS label).
pub fn valid_worker_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_names() {
        for ok in ["hello", "a", "my-worker-2"] {
            assert!(valid_worker_name(ok), "{ok}");
        }
        for bad in ["", "Hello", "-a", "a-", "a.b", "a_b", &"x".repeat(64)] {
            assert!(!valid_worker_name(bad), "{bad}");
        }
    }

    #[test]
    fn scopes_round_trip() {
        for s in [Scope::Read, Scope::Deploy, Scope::Node, Scope::Admin] {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{s}\""));
        }
    }
}
