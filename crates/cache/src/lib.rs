//! The node's Cache API storage: a [`CacheStore`] on one SQLite file per
//! node (`<state>/cache.sqlite`), shared by every worker and executor thread.
//!
//! It owns the on-disk format of cached responses, the total size bound and
//! its LRU eviction (a last-access counter bumped on every hit), and lazy
//! purging of expired entries (on lookup, and before evicting live ones).
//! The HTTP rules (what may be stored, for how long, how a request matches)
//! live with the JS bindings in `outpost_webapi::cache`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use outpost_webapi::cache::{
    CacheKey, CacheStore, CacheStoreError, CachedResponse, WORKERS_MAX_ENTRY_BYTES,
};
use rusqlite::{params, Connection, OptionalExtension};

/// File name of the store inside a state directory.
pub const FILE_NAME: &str = "cache.sqlite";

/// Default bound on the bytes all entries of a node take together.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Environment variable that overrides [`DEFAULT_MAX_BYTES`], in MiB.
pub const MAX_MB_ENV: &str = "OUTPOST_CACHE_MAX_MB";

/// Failure to open a store.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The file could not be created, opened or initialised.
    #[error("cannot open the cache store {path}: {source}")]
    Sqlite {
        /// The store's file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The directory holding it could not be created.
    #[error("cannot create {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The size bound in the environment is not a number of MiB.
    #[error("{MAX_MB_ENV} must be a whole number of MiB, got {0:?}")]
    BadBound(String),
}

/// A size-bounded, LRU-evicting cache store on one SQLite file.
///
/// One connection serves all threads behind a mutex: each call is a few
/// short statements, and a cache hit is worth less than the complexity of
/// a pool.
#[derive(Debug)]
pub struct SqliteCacheStore {
    inner: Mutex<Inner>,
    max_bytes: u64,
    path: PathBuf,
}

#[derive(Debug)]
struct Inner {
    conn: Connection,
    /// Sum of `size` over all rows, kept in step with each commit.
    total: u64,
    /// Next last-access stamp; a counter rather than a clock so the LRU
    /// order is exact even for accesses in the same millisecond.
    tick: i64,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY,
    namespace TEXT NOT NULL,
    cache TEXT NOT NULL,
    url TEXT NOT NULL,
    status INTEGER NOT NULL,
    headers BLOB NOT NULL,
    vary BLOB NOT NULL,
    body BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    last_access INTEGER NOT NULL,
    size INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_key ON entries (namespace, cache, url);
CREATE INDEX IF NOT EXISTS entries_lru ON entries (last_access);
CREATE INDEX IF NOT EXISTS entries_expiry ON entries (expires_at);
";

fn backend(e: rusqlite::Error) -> CacheStoreError {
    CacheStoreError::Backend(e.to_string())
}

/// The `cache` column: `""` for `caches.default`, `":" + name` for a named
/// cache, so no name given to `caches.open` can collide with the default.
fn cache_column(key: &CacheKey) -> String {
    match &key.cache {
        None => String::new(),
        Some(name) => format!(":{name}"),
    }
}

/// Header pairs as length-prefixed bytes (u32 LE length, then bytes, for
/// the name and then the value of each pair).
fn encode_pairs(pairs: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in pairs {
        for part in [name.as_bytes(), value.as_slice()] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

fn decode_pairs(mut bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, CacheStoreError> {
    let corrupt = || CacheStoreError::Backend("corrupt header block in the cache store".into());
    let take = |bytes: &mut &[u8]| -> Result<Vec<u8>, CacheStoreError> {
        let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(corrupt)?;
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            return Err(corrupt());
        }
        let (part, rest) = rest.split_at(len);
        *bytes = rest;
        Ok(part.to_vec())
    };
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let name = String::from_utf8(take(&mut bytes)?).map_err(|_| corrupt())?;
        let value = take(&mut bytes)?;
        out.push((name, value));
    }
    Ok(out)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SqliteCacheStore {
    /// Opens (creating if needed) the store at `path`, bounded to
    /// `max_bytes`, and drops entries that expired while it was closed.
    pub fn open(path: &Path, max_bytes: u64) -> Result<Self, OpenError> {
        let sqlite = |source| OpenError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| OpenError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite)?;
        // WAL: readers never wait for the writer. NORMAL: a crash may lose
        // the last commits, which for a cache only means misses.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite)?;
        conn.execute_batch(SCHEMA).map_err(sqlite)?;
        conn.execute(
            "DELETE FROM entries WHERE expires_at <= ?1",
            [to_i64(now_ms())],
        )
        .map_err(sqlite)?;
        let (total, tick): (i64, i64) = conn
            .query_row(
                "SELECT COALESCE(SUM(size), 0), COALESCE(MAX(last_access), 0) FROM entries",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sqlite)?;
        Ok(Self {
            inner: Mutex::new(Inner {
                conn,
                total: total.max(0) as u64,
                tick: tick + 1,
            }),
            max_bytes,
            path: path.to_path_buf(),
        })
    }

    /// Opens `<dir>/cache.sqlite` with the bound from `OUTPOST_CACHE_MAX_MB`,
    /// else [`DEFAULT_MAX_BYTES`]: what `outpost dev` and nodes use.
    pub fn open_in(dir: &Path) -> Result<Self, OpenError> {
        let max_bytes = match std::env::var(MAX_MB_ENV) {
            Ok(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| OpenError::BadBound(v.clone()))?
                .saturating_mul(1024 * 1024),
            Err(_) => DEFAULT_MAX_BYTES,
        };
        Self::open(&dir.join(FILE_NAME), max_bytes)
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size bound in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Bytes the stored entries take, as counted against the bound.
    pub fn total_bytes(&self) -> u64 {
        self.lock().total
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The connection stays usable after a panic elsewhere; SQLite rolls
        // back any transaction the panicking call left open.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The store in `<dir>/cache.sqlite` ([`SqliteCacheStore::open_in`]), shared
/// by everyone in the process who asks for that directory while anyone holds
/// it: every reload of `outpost dev` and every worker spec of a node gets the
/// same one, so the size accounting of the file stays exact.
///
/// The file is opened on first use, so a worker that never touches `caches`
/// creates nothing (as D1 and KV files are created on first use). A failure
/// to open surfaces as the failure of that cache call, and the next call
/// tries again.
pub fn open_shared(dir: &Path) -> Arc<dyn CacheStore> {
    static OPEN: Mutex<Vec<(PathBuf, Weak<LazyStore>)>> = Mutex::new(Vec::new());
    let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
    open.retain(|(_, w)| w.strong_count() > 0);
    if let Some(store) = open
        .iter()
        .find(|(d, _)| d == dir)
        .and_then(|(_, w)| w.upgrade())
    {
        return store;
    }
    let store = Arc::new(LazyStore {
        dir: dir.to_path_buf(),
        store: Mutex::new(None),
    });
    open.push((dir.to_path_buf(), Arc::downgrade(&store)));
    store
}

/// A [`SqliteCacheStore`] opened on first use (see [`open_shared`]).
#[derive(Debug)]
struct LazyStore {
    dir: PathBuf,
    store: Mutex<Option<Arc<SqliteCacheStore>>>,
}

impl LazyStore {
    fn store(&self) -> Result<Arc<SqliteCacheStore>, CacheStoreError> {
        let mut slot = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = &*slot {
            return Ok(s.clone());
        }
        let opened = Arc::new(
            SqliteCacheStore::open_in(&self.dir)
                .map_err(|e| CacheStoreError::Backend(e.to_string()))?,
        );
        *slot = Some(opened.clone());
        Ok(opened)
    }
}

impl CacheStore for LazyStore {
    fn get(&self, key: &CacheKey, now_ms: u64) -> Result<Option<CachedResponse>, CacheStoreError> {
        self.store()?.get(key, now_ms)
    }

    fn put(&self, key: &CacheKey, entry: CachedResponse) -> Result<(), CacheStoreError> {
        self.store()?.put(key, entry)
    }

    fn delete(&self, key: &CacheKey, now_ms: u64) -> Result<bool, CacheStoreError> {
        self.store()?.delete(key, now_ms)
    }

    fn max_entry_bytes(&self) -> u64 {
        // Unopenable: `put` fails on its own, whatever the cap says.
        self.store()
            .map_or(WORKERS_MAX_ENTRY_BYTES, |s| s.max_entry_bytes())
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl CacheStore for SqliteCacheStore {
    fn get(&self, key: &CacheKey, now_ms: u64) -> Result<Option<CachedResponse>, CacheStoreError> {
        let mut inner = self.lock();
        let cache = cache_column(key);
        let row = inner
            .conn
            .prepare_cached(
                "SELECT id, status, headers, vary, body, expires_at, size FROM entries
                 WHERE namespace = ?1 AND cache = ?2 AND url = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![key.namespace, cache, key.url], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, u16>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                        r.get::<_, Vec<u8>>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                    ))
                })
                .optional()
            })
            .map_err(backend)?;
        let Some((id, status, headers, vary, body, expires_at, size)) = row else {
            return Ok(None);
        };
        if expires_at <= to_i64(now_ms) {
            inner
                .conn
                .execute("DELETE FROM entries WHERE id = ?1", [id])
                .map_err(backend)?;
            inner.total = inner.total.saturating_sub(size.max(0) as u64);
            return Ok(None);
        }
        let tick = inner.tick;
        inner.tick += 1;
        inner
            .conn
            .prepare_cached("UPDATE entries SET last_access = ?1 WHERE id = ?2")
            .and_then(|mut s| s.execute([tick, id]))
            .map_err(backend)?;
        Ok(Some(CachedResponse {
            status,
            headers: decode_pairs(&headers)?,
            vary_request: decode_pairs(&vary)?,
            body: Bytes::from(body),
            expires_at_ms: expires_at.max(0) as u64,
        }))
    }

    fn put(&self, key: &CacheKey, entry: CachedResponse) -> Result<(), CacheStoreError> {
        let size = entry.size(key);
        let max = self.max_bytes;
        let mut guard = self.lock();
        let inner = &mut *guard;
        let tick = inner.tick;
        inner.tick += 1;
        let cache = cache_column(key);
        let tx = inner.conn.transaction().map_err(backend)?;
        let mut total = inner.total;
        let old: Option<i64> = tx
            .query_row(
                "DELETE FROM entries WHERE namespace = ?1 AND cache = ?2 AND url = ?3 RETURNING size",
                params![key.namespace, cache, key.url],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        total = total.saturating_sub(old.unwrap_or(0).max(0) as u64);
        if size <= max {
            tx.execute(
                "INSERT INTO entries (namespace, cache, url, status, headers, vary, body, expires_at, last_access, size)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    key.namespace,
                    cache,
                    key.url,
                    entry.status,
                    encode_pairs(&entry.headers),
                    encode_pairs(&entry.vary_request),
                    entry.body.as_ref(),
                    to_i64(entry.expires_at_ms),
                    tick,
                    to_i64(size),
                ],
            )
            .map_err(backend)?;
            total += size;
        }
        if total > max {
            // Expired entries go first, then the least recently used.
            let freed = purge_expired(&tx).map_err(backend)?;
            total = total.saturating_sub(freed.max(0) as u64);
        }
        while total > max {
            let victims: Vec<(i64, i64)> = tx
                .prepare_cached("SELECT id, size FROM entries ORDER BY last_access LIMIT 32")
                .and_then(|mut s| {
                    s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<_>>()
                })
                .map_err(backend)?;
            if victims.is_empty() {
                break;
            }
            for (id, victim_size) in victims {
                if total <= max {
                    break;
                }
                tx.execute("DELETE FROM entries WHERE id = ?1", [id])
                    .map_err(backend)?;
                total = total.saturating_sub(victim_size.max(0) as u64);
            }
        }
        tx.commit().map_err(backend)?;
        inner.total = total;
        Ok(())
    }

    fn delete(&self, key: &CacheKey, now_ms: u64) -> Result<bool, CacheStoreError> {
        let mut inner = self.lock();
        let cache = cache_column(key);
        let gone: Option<(i64, i64)> = inner
            .conn
            .query_row(
                "DELETE FROM entries WHERE namespace = ?1 AND cache = ?2 AND url = ?3
                 RETURNING expires_at, size",
                params![key.namespace, cache, key.url],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(backend)?;
        let Some((expires_at, size)) = gone else {
            return Ok(false);
        };
        inner.total = inner.total.saturating_sub(size.max(0) as u64);
        Ok(expires_at > to_i64(now_ms))
    }

    /// A quarter of the bound (at most Workers' 512 MiB): bodies are held
    /// whole in memory at `put` and `match`, and one entry should not push
    /// most of the cache out.
    fn max_entry_bytes(&self) -> u64 {
        WORKERS_MAX_ENTRY_BYTES.min(self.max_bytes / 4)
    }
}

/// Deletes expired rows and returns the bytes freed (two statements:
/// SQLite allows no `RETURNING` inside an aggregate query).
fn purge_expired(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<i64> {
    let now = to_i64(now_ms());
    let freed: i64 = tx.query_row(
        "SELECT COALESCE(SUM(size), 0) FROM entries WHERE expires_at <= ?1",
        [now],
        |r| r.get(0),
    )?;
    tx.execute("DELETE FROM entries WHERE expires_at <= ?1", [now])?;
    Ok(freed)
}

#[cfg(test)]
mod tests;
