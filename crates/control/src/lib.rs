//! The control plane: owns deployments, versions, routes, vars and secrets,
//! tokens, and the control API (HTTP + JSON with bearer tokens), plus the
//! follower that keeps an edge node in step with it.
//!
//! - [`api`]: the JSON shapes of the API, shared by server, nodes and CLI;
//! - [`store`]: the durable state, one SQLite database under the state
//!   directory (why SQLite: see the module);
//! - [`server`]: the HTTP API, its tokens and scopes, and the long-poll
//!   nodes follow (`GET /v1/state?since=N`);
//! - [`client`]: a small HTTP client for the API (nodes and the CLI);
//! - [`data`]: the primaries of D1 databases and KV namespaces and their
//!   side of replication (calls, log long-poll, snapshots);
//! - [`replicate`]: a node's replicas: pulling the log, bootstrapping from
//!   snapshots, and the HTTP way to the primary for writes;
//! - [`peer`]: a node's data API, serving the primaries placed in its
//!   region (`primary_region`) to the other nodes;
//! - [`follow`]: a node's side: long-poll the desired state, fetch bundles
//!   by hash and verify them, compile, switch the routing table atomically,
//!   keep (and persist) the last good state, and report what it runs.
//!
//! A deploy is two requests: `PUT /v1/bundles/<sha256>` uploads the bundle
//! in the wire format of [`outpost_runtime::wire`] (verified against its
//! hash, decoded and compiled before it is stored), then
//! `POST /v1/workers/<name>/versions` creates a version naming that hash and
//! makes it active in one transaction. Bundles ship as sources and every
//! node compiles them, because QuickJS bytecode only loads in the engine
//! version that wrote it.

#![warn(missing_docs)]

pub mod api;
pub mod client;
pub mod data;
pub mod follow;
pub mod peer;
pub mod replicate;
pub mod server;
pub mod store;

use std::path::Path;

pub use api::Scope;
pub use client::{Client, ClientError};
pub use follow::{FollowConfig, Follower, FollowerHandle};
pub use server::{ControlConfig, ControlServer};

/// What can go wrong in the control plane. Each variant maps to an HTTP
/// status in the API.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The request is malformed or names something invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// The token is missing or unknown (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The token's scope does not allow the request (403).
    #[error("{0}")]
    Forbidden(String),
    /// The named object does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// Something the request needs is down or not there yet (503).
    #[error("{0}")]
    Unavailable(String),
    /// The state database failed (500).
    #[error("state database: {0}")]
    Storage(#[from] rusqlite::Error),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// Anything else that is not the caller's fault (500).
    #[error("{0}")]
    Internal(String),
}

impl ControlError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ControlError {
        let context = context.into();
        move |source| ControlError::Io { context, source }
    }
}

/// Writes `bytes` to `path` atomically (a temporary file renamed over it),
/// readable and writable by the owner only (mode 0600 on Unix).
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ControlError> {
    use std::io::Write as _;
    let tmp = path.with_extension(format!(
        "tmp-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let ctx = || format!("cannot write {}", path.display());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp).map_err(ControlError::io(ctx()))?;
    f.write_all(bytes).map_err(ControlError::io(ctx()))?;
    f.sync_all().map_err(ControlError::io(ctx()))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(ControlError::io(ctx()))?;
    Ok(())
}

/// Creates `dir` (and its parents) private to the owner (mode 0700 on Unix).
pub fn create_private_dir(dir: &Path) -> Result<(), ControlError> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .map_err(ControlError::io(format!("cannot create {}", dir.display())))
}
