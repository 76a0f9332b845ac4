//! The JS binding objects for data: D1 databases (`env.DB`) and Workers KV
//! namespaces (`env.KV`), over the storage and replication core
//! (`outpost-data`).
//!
//! - [`d1`]: `D1Database`, `D1DatabaseSession`, `D1PreparedStatement`, as in
//!   <https://developers.cloudflare.com/d1/worker-api/>;
//! - [`kv`]: `KvNamespace` and its store, as in
//!   <https://developers.cloudflare.com/kv/api/>;
//! - [`LocalData`]: the databases of `outpost dev`, one SQLite file each
//!   under the project's `.outpost/` state directory, opened once per process.
//!
//! Each binding implements the runtime's [`EnvBinding`]: the runtime calls
//! it once per isolate to make the JS object, and knows nothing of what is
//! behind it. The Rust side (a [`outpost_data::Primary`] per database) is
//! shared by every isolate and executor thread; its connections are guarded
//! by the primary's mutexes.
//!
//! With the primary in this process, calls run inline on the executor
//! thread that makes them: a local SQLite statement takes microseconds, so
//! the promises they return are already settled. On a node that holds a
//! replica ([`d1::ReplicaLink`], [`KvStore::replica`]), reads are local and
//! writes travel to the primary through a [`remote::RemotePrimary`], and
//! their promises settle when the answer arrives.
//!
//! Bookmarks are real: a D1 session's bookmark is the data core's commit
//! position, which is also how far a replica has applied the log.

#![warn(missing_docs)]

pub mod clock;
pub mod d1;
mod js;
pub mod kv;
pub mod remote;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use d1::D1Binding;
pub use kv::{KvBinding, KvStore};
pub use outpost_data::Durability;
pub use outpost_runtime::EnvBinding;

/// The state directory's name, under a project's directory.
pub const STATE_DIR: &str = ".outpost";

/// Failure to open a local database.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The state directory could not be created.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: outpost_data::Error,
    },
}

/// The local databases of a process (`outpost dev`): each file is opened
/// once and its binding shared by every build, reload and isolate, so writes
/// go through one primary per file.
#[derive(Debug, Default)]
pub struct LocalData {
    d1: Mutex<HashMap<PathBuf, D1Binding>>,
    kv: Mutex<HashMap<PathBuf, KvBinding>>,
}

impl LocalData {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The D1 database `<state_dir>/d1/<id>.sqlite`, created if needed.
    pub fn d1(&self, state_dir: &Path, id: &str) -> Result<D1Binding, OpenError> {
        let path = db_file(state_dir, "d1", id)?;
        open_once(&self.d1, path, |p| D1Binding::open(p, Durability::Normal))
    }

    /// The KV namespace `<state_dir>/kv/<id>.sqlite`, created if needed.
    pub fn kv(&self, state_dir: &Path, id: &str) -> Result<KvBinding, OpenError> {
        let path = db_file(state_dir, "kv", id)?;
        open_once(&self.kv, path, |p| KvBinding::open(p, Durability::Normal))
    }
}

/// The ids of the databases of `kind` (`d1` or `kv`) stored under
/// `state_dir`, sorted.
pub fn stored_ids(state_dir: &Path, kind: &str) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(state_dir.join(kind))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".sqlite"))
                .map(str::to_string)
        })
        .collect();
    ids.sort();
    ids
}

fn open_once<B: Clone>(
    open: &Mutex<HashMap<PathBuf, B>>,
    path: PathBuf,
    make: impl FnOnce(&Path) -> outpost_data::Result<B>,
) -> Result<B, OpenError> {
    let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = open.get(&path) {
        return Ok(b.clone());
    }
    let binding = make(&path).map_err(|source| OpenError::Open {
        path: path.clone(),
        source,
    })?;
    tracing::debug!("opened {}", path.display());
    open.insert(path, binding.clone());
    Ok(binding)
}

/// `<state_dir>/<kind>/<id>.sqlite`, the directory created, the id made
/// safe as a file name.
fn db_file(state_dir: &Path, kind: &str, id: &str) -> Result<PathBuf, OpenError> {
    let dir = state_dir.join(kind);
    std::fs::create_dir_all(&dir).map_err(|source| OpenError::Dir {
        path: dir.clone(),
        source,
    })?;
    // Canonical, so two spellings of one directory share one primary.
    let dir = dir.canonicalize().unwrap_or(dir);
    Ok(dir.join(format!("{}.sqlite", file_stem(id))))
}

/// `id` with every character outside `[A-Za-z0-9._-]` replaced by `_`
/// (and never empty, `.` or `..`).
fn file_stem(id: &str) -> String {
    let stem: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match stem.as_str() {
        "" | "." | ".." => format!("_{stem}"),
        _ => stem,
    }
}
