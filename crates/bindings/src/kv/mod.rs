//! Workers KV: a namespace stored in its own SQLite database through the
//! data core's [`Primary`], so it replicates like a D1 database.
//!
//! API: <https://developers.cloudflare.com/kv/api/>. [`KvStore`] holds the
//! storage and Workers KV's limits; [`KvBinding`] makes the JS
//! `KvNamespace` object over it. Error texts are the ones a Worker sees
//! (workerd's own checks, then the KV service's: `KV PUT failed: 400 ...`).
//!
//! The table: `kv(key BLOB PRIMARY KEY, value BLOB, expiration INTEGER,
//! metadata TEXT)`. Keys are stored as their UTF-8 bytes, so `list()` is in
//! byte order; `expiration` is in seconds since the epoch; `metadata` is the
//! JSON text. Expired keys are filtered out of every read and purged by the
//! next write at most once a minute.

mod binding;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use outpost_data::{Durability, Position, Primary, Replica, Statement, StatementResult, Value};

use crate::clock::{Clock, SystemClock};

pub use binding::{KvBinding, KvNamespace};

/// Longest key, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value, in bytes (25 MiB).
pub const MAX_VALUE_BYTES: usize = 25 * 1024 * 1024;
/// Largest metadata, as serialized JSON bytes.
pub const MAX_METADATA_BYTES: usize = 1024;
/// Shortest `expirationTtl`, and how far ahead an `expiration` must be, in seconds.
pub const MIN_EXPIRATION_TTL: i64 = 60;
/// Shortest `cacheTtl`, in seconds.
pub const MIN_CACHE_TTL: i64 = 30;
/// Most keys one `list()` returns (also its default).
pub const MAX_LIST_KEYS: usize = 1000;
/// Most keys one bulk `get()` takes.
pub const MAX_BULK_KEYS: usize = 100;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS kv(key BLOB PRIMARY KEY, value BLOB, expiration INTEGER, metadata TEXT);
CREATE INDEX IF NOT EXISTS kv_expiration ON kv(expiration) WHERE expiration IS NOT NULL;";

/// A KV operation failed, worded as Workers KV words it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KvError {
    /// A check workerd makes before sending (a JS `TypeError`).
    #[error("{0}")]
    Type(String),
    /// The KV service refused the operation (a JS `Error`).
    #[error("KV {op} failed: {status} {message}")]
    Failed {
        /// `GET`, `GET_BULK`, `PUT` or `DELETE` (`list()` is a `GET`).
        op: &'static str,
        /// The HTTP status the service answers with.
        status: u16,
        /// The service's explanation.
        message: String,
    },
}

impl KvError {
    fn failed(op: &'static str, status: u16, message: impl Into<String>) -> Self {
        KvError::Failed {
            op,
            status,
            message: message.into(),
        }
    }

    fn storage(op: &'static str, e: outpost_data::Error) -> Self {
        tracing::error!("KV {op}: {e}");
        KvError::failed(op, 500, format!("Internal Server Error ({e})"))
    }
}

/// workerd's key checks: `TypeError`s for empty, `.` and `..`, the service's
/// 414 for a key over 512 bytes.
pub fn validate_key(op: &'static str, key: &str) -> Result<(), KvError> {
    match key {
        "" => Err(KvError::Type("Key name cannot be empty.".into())),
        "." => Err(KvError::Type("\".\" is not allowed as a key name.".into())),
        ".." => Err(KvError::Type("\"..\" is not allowed as a key name.".into())),
        _ => check_key_length(op, key),
    }
}

fn check_key_length(op: &'static str, key: &str) -> Result<(), KvError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(KvError::failed(
            op,
            414,
            format!(
                "UTF-8 encoded length of {} exceeds key length limit of {MAX_KEY_BYTES}.",
                key.len()
            ),
        ));
    }
    Ok(())
}

/// The KV service's key checks, which bulk `get()` meets instead of workerd's.
fn validate_key_bulk(key: &str) -> Result<(), KvError> {
    const OP: &str = "GET_BULK";
    match key {
        "" => Err(KvError::failed(OP, 400, "Key names must not be empty")),
        "." | ".." => Err(KvError::failed(
            OP,
            400,
            format!("Illegal key name \"{key}\". Please use a different name."),
        )),
        _ => check_key_length(OP, key),
    }
}

/// `cacheTtl` is checked (at least 30 s) and otherwise ignored: there is one
/// location, and reads always see the latest write.
pub fn validate_cache_ttl(op: &'static str, cache_ttl: Option<i64>) -> Result<(), KvError> {
    match cache_ttl {
        Some(ttl) if ttl < MIN_CACHE_TTL => Err(KvError::failed(
            op,
            400,
            format!("Invalid cache_ttl of {ttl}. Cache TTL must be at least {MIN_CACHE_TTL}."),
        )),
        _ => Ok(()),
    }
}

/// A stored value.
#[derive(Debug, Clone, PartialEq)]
pub struct KvEntry {
    /// The bytes.
    pub value: Vec<u8>,
    /// When it expires, in seconds since the epoch.
    pub expiration: Option<i64>,
    /// The metadata's JSON text.
    pub metadata: Option<String>,
}

/// `put()` options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutOptions {
    /// Absolute expiry, seconds since the epoch.
    pub expiration: Option<i64>,
    /// Expiry relative to now, in seconds (wins over `expiration`).
    pub expiration_ttl: Option<i64>,
    /// Metadata as JSON text.
    pub metadata: Option<String>,
}

/// `list()` options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListOptions {
    /// Only keys starting with this.
    pub prefix: Option<String>,
    /// At most this many keys (default and maximum 1000; 0 or less means the default).
    pub limit: Option<i64>,
    /// Continue after the page that returned this cursor.
    pub cursor: Option<String>,
}

/// One key of a `list()` page.
#[derive(Debug, Clone, PartialEq)]
pub struct KvKey {
    /// The key.
    pub name: String,
    /// When it expires, in seconds since the epoch.
    pub expiration: Option<i64>,
    /// The metadata's JSON text.
    pub metadata: Option<String>,
}

/// A `list()` page.
#[derive(Debug, Clone, PartialEq)]
pub struct KvPage {
    /// Keys in byte order.
    pub keys: Vec<KvKey>,
    /// Where the next page starts; `None` when the listing is complete.
    pub cursor: Option<String>,
}

/// A KV namespace's storage: its primary, or a replica of it (which reads
/// and leaves writes to the primary's node).
#[derive(Debug)]
pub struct KvStore {
    db: Source,
    clock: Arc<dyn Clock>,
    /// Clock time (ms) after which the next write purges expired keys.
    next_purge_ms: AtomicU64,
}

impl KvStore {
    /// Opens (creating if needed) the namespace stored at `path`, on the system clock.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> outpost_data::Result<Self> {
        Self::open_with_clock(path, durability, Arc::new(SystemClock))
    }

    /// Opens the namespace with the given clock.
    pub fn open_with_clock(
        path: impl AsRef<Path>,
        durability: Durability,
        clock: Arc<dyn Clock>,
    ) -> outpost_data::Result<Self> {
        let db = Primary::open_with(path, durability)?;
        db.exec(SCHEMA)?;
        Ok(KvStore {
            db: Source::Primary(Box::new(db)),
            clock,
            next_purge_ms: AtomicU64::new(0),
        })
    }

    /// A read-only store over a replica of a namespace's primary. Until the
    /// replica has the primary's first entry (which creates the table), the
    /// namespace reads as empty.
    pub fn replica(replica: Arc<Replica>, clock: Arc<dyn Clock>) -> Self {
        KvStore {
            db: Source::Replica(replica),
            clock,
            next_purge_ms: AtomicU64::new(0),
        }
    }

    /// The primary behind the namespace, when it is in this process.
    pub fn primary(&self) -> Option<&Primary> {
        match &self.db {
            Source::Primary(p) => Some(p),
            Source::Replica(_) => None,
        }
    }

    fn writer(&self, op: &'static str) -> Result<&Primary, KvError> {
        self.primary().ok_or_else(|| {
            KvError::failed(op, 500, "Internal Server Error (this node holds a replica of the namespace: writes go to its primary)")
        })
    }

    fn now_s(&self) -> i64 {
        (self.clock.now_ms() / 1000) as i64
    }

    /// The live value of `key`, if any.
    pub fn get(&self, key: &str) -> Result<Option<KvEntry>, KvError> {
        validate_key("GET", key)?;
        self.read("GET", key)
    }

    fn read(&self, op: &'static str, key: &str) -> Result<Option<KvEntry>, KvError> {
        let r = self
            .query(
                "SELECT value, expiration, metadata FROM kv WHERE key = ?1 AND (expiration IS NULL OR expiration > ?2)",
                &[Value::Blob(key.as_bytes().to_vec()), Value::Integer(self.now_s())],
            )
            .map_err(|e| KvError::storage(op, e))?;
        let Some(row) = r.rows.into_iter().next() else {
            return Ok(None);
        };
        let mut row = row.into_iter();
        let value = match row.next() {
            Some(Value::Blob(b)) => b,
            Some(Value::Text(t)) => t.into_bytes(),
            _ => Vec::new(),
        };
        Ok(Some(KvEntry {
            value,
            expiration: integer(row.next()),
            metadata: text(row.next()),
        }))
    }

    /// The live values of up to 100 keys, in order (bulk `get()`).
    pub fn get_many(&self, keys: &[String]) -> Result<Vec<Option<KvEntry>>, KvError> {
        const OP: &str = "GET_BULK";
        if keys.len() > MAX_BULK_KEYS {
            return Err(KvError::failed(
                OP,
                400,
                format!("You can request a maximum of {MAX_BULK_KEYS} keys"),
            ));
        }
        if keys.is_empty() {
            return Err(KvError::failed(
                OP,
                400,
                "You must request a minimum of 1 key",
            ));
        }
        let mut total = 0;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            validate_key_bulk(key)?;
            let entry = self.read(OP, key)?;
            total += entry.as_ref().map_or(0, |e| e.value.len());
            out.push(entry);
        }
        if total > MAX_VALUE_BYTES {
            return Err(KvError::failed(
                OP,
                413,
                format!(
                    "Total size of request exceeds the limit of {}MB",
                    MAX_VALUE_BYTES / 1024 / 1024
                ),
            ));
        }
        Ok(out)
    }

    /// Stores `value` under `key`, checking Workers KV's limits; returns the
    /// write's log position.
    pub fn put(&self, key: &str, value: &[u8], options: &PutOptions) -> Result<Position, KvError> {
        const OP: &str = "PUT";
        validate_key(OP, key)?;
        let now = self.now_s();
        let expiration = match (options.expiration_ttl, options.expiration) {
            (Some(ttl), _) => {
                if ttl <= 0 {
                    return Err(KvError::failed(
                        OP,
                        400,
                        format!("Invalid expiration_ttl of {ttl}. Please specify integer greater than 0."),
                    ));
                }
                if ttl < MIN_EXPIRATION_TTL {
                    return Err(KvError::failed(
                        OP,
                        400,
                        format!("Invalid expiration_ttl of {ttl}. Expiration TTL must be at least {MIN_EXPIRATION_TTL}."),
                    ));
                }
                Some(now.saturating_add(ttl))
            }
            (None, Some(at)) => {
                if at <= now {
                    return Err(KvError::failed(
                        OP,
                        400,
                        format!("Invalid expiration of {at}. Please specify integer greater than the current number of seconds since the UNIX epoch."),
                    ));
                }
                if at < now + MIN_EXPIRATION_TTL {
                    return Err(KvError::failed(
                        OP,
                        400,
                        format!("Invalid expiration of {at}. Expiration times must be at least {MIN_EXPIRATION_TTL} seconds in the future."),
                    ));
                }
                Some(at)
            }
            (None, None) => None,
        };
        if let Some(m) = &options.metadata {
            if m.len() > MAX_METADATA_BYTES {
                return Err(KvError::failed(
                    OP,
                    413,
                    format!(
                        "Metadata length of {} exceeds limit of {MAX_METADATA_BYTES}.",
                        m.len()
                    ),
                ));
            }
        }
        check_value_size(value.len())?;
        let db = self.writer(OP)?;
        self.purge_expired(now);
        let w = db
            .execute(
                "INSERT INTO kv(key, value, expiration, metadata) VALUES(?1, ?2, ?3, ?4)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, expiration = excluded.expiration, metadata = excluded.metadata",
                &[
                    Value::Blob(key.as_bytes().to_vec()),
                    Value::Blob(value.to_vec()),
                    expiration.map_or(Value::Null, Value::Integer),
                    options.metadata.clone().map_or(Value::Null, Value::Text),
                ],
            )
            .map_err(|e| KvError::storage(OP, e))?;
        Ok(w.position)
    }

    /// Removes `key` (nothing happens if it is absent); returns the log position.
    pub fn delete(&self, key: &str) -> Result<Position, KvError> {
        validate_key("DELETE", key)?;
        let db = self.writer("DELETE")?;
        self.purge_expired(self.now_s());
        let w = db
            .execute(
                "DELETE FROM kv WHERE key = ?1",
                &[Value::Blob(key.as_bytes().to_vec())],
            )
            .map_err(|e| KvError::storage("DELETE", e))?;
        Ok(w.position)
    }

    /// One page of live keys in byte order.
    pub fn list(&self, options: &ListOptions) -> Result<KvPage, KvError> {
        const OP: &str = "GET";
        let limit = match options.limit {
            None => MAX_LIST_KEYS,
            // workerd sends no limit for 0 or less.
            Some(n) if n <= 0 => MAX_LIST_KEYS,
            Some(n) if n as u64 > MAX_LIST_KEYS as u64 => {
                return Err(KvError::failed(
                    OP,
                    400,
                    format!("Invalid key_count_limit of {n}. Please specify an integer less than {MAX_LIST_KEYS}."),
                ))
            }
            Some(n) => n as usize,
        };
        let prefix = options.prefix.as_deref().unwrap_or("").as_bytes().to_vec();
        check_key_length(OP, options.prefix.as_deref().unwrap_or(""))?;
        let after = match options.cursor.as_deref() {
            None | Some("") => Vec::new(),
            Some(c) => decode_cursor(c)
                .ok_or_else(|| KvError::failed(OP, 400, format!("Invalid cursor {c}")))?,
        };
        let upper = prefix_end(&prefix).map_or(Value::Null, Value::Blob);
        let r = self
            .query(
                "SELECT key, expiration, metadata FROM kv
                 WHERE key >= ?1 AND (?2 IS NULL OR key < ?2) AND key > ?3
                   AND (expiration IS NULL OR expiration > ?4)
                 ORDER BY key LIMIT ?5",
                &[
                    Value::Blob(prefix),
                    upper,
                    Value::Blob(after),
                    Value::Integer(self.now_s()),
                    Value::Integer(limit as i64 + 1),
                ],
            )
            .map_err(|e| KvError::storage(OP, e))?;
        let mut keys: Vec<(Vec<u8>, KvKey)> = r
            .rows
            .into_iter()
            .map(|row| {
                let mut row = row.into_iter();
                let raw = match row.next() {
                    Some(Value::Blob(b)) => b,
                    Some(Value::Text(t)) => t.into_bytes(),
                    _ => Vec::new(),
                };
                let key = KvKey {
                    name: String::from_utf8_lossy(&raw).into_owned(),
                    expiration: integer(row.next()),
                    metadata: text(row.next()),
                };
                (raw, key)
            })
            .collect();
        let cursor = if keys.len() > limit {
            keys.truncate(limit);
            keys.last().map(|(raw, _)| encode_cursor(raw))
        } else {
            None
        };
        Ok(KvPage {
            keys: keys.into_iter().map(|(_, k)| k).collect(),
            cursor,
        })
    }

    /// Deletes expired keys, at most once a minute of clock time. A failure
    /// is only logged: reads filter expired keys anyway.
    fn purge_expired(&self, now_s: i64) {
        let now_ms = self.clock.now_ms();
        if now_ms < self.next_purge_ms.load(Ordering::Relaxed) {
            return;
        }
        self.next_purge_ms
            .store(now_ms.saturating_add(60_000), Ordering::Relaxed);
        let Some(db) = self.primary() else { return };
        if let Err(e) = db.batch(&[Statement::new(
            "DELETE FROM kv WHERE expiration IS NOT NULL AND expiration <= ?1",
            vec![Value::Integer(now_s)],
        )]) {
            tracing::warn!("KV: purging expired keys failed: {e}");
        }
    }
}

/// Where a store's rows are.
#[derive(Debug)]
enum Source {
    Primary(Box<Primary>),
    Replica(Arc<Replica>),
}

impl KvStore {
    fn query(&self, sql: &str, params: &[Value]) -> outpost_data::Result<StatementResult> {
        match &self.db {
            Source::Primary(p) => p.query(sql, params),
            Source::Replica(r) if r.position() == 0 => Ok(StatementResult::default()),
            Source::Replica(r) => r.query(sql, params),
        }
    }
}

/// The service's value size check.
pub fn check_value_size(len: usize) -> Result<(), KvError> {
    if len > MAX_VALUE_BYTES {
        return Err(KvError::failed(
            "PUT",
            413,
            format!("Value length of {len} exceeds limit of {MAX_VALUE_BYTES}."),
        ));
    }
    Ok(())
}

fn integer(v: Option<Value>) -> Option<i64> {
    match v {
        Some(Value::Integer(i)) => Some(i),
        _ => None,
    }
}

fn text(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::Text(t)) => Some(t),
        _ => None,
    }
}

/// The smallest byte string above every string starting with `prefix`
/// (`None` when there is none: an empty or all-0xFF prefix).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A cursor is the last key of the page, hex-encoded: opaque to callers,
/// stable across writes (the next page starts after that key).
fn encode_cursor(key: &[u8]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(cursor: &str) -> Option<Vec<u8>> {
    if !cursor.len().is_multiple_of(2) {
        return None;
    }
    (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges_and_cursors() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
        let key = "ключ/1".as_bytes();
        assert_eq!(decode_cursor(&encode_cursor(key)).as_deref(), Some(key));
        assert_eq!(decode_cursor("abc"), None);
        assert_eq!(decode_cursor("zz"), None);
    }
}
