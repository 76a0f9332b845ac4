//! Shared SQL plumbing: the authorizer that guards user SQL, running one
//! statement into a [`StatementResult`], connection setup.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::{Connection, OptionalExtension, StatementStatus};

use crate::error::{Error, Result};
use crate::value::{Meta, StatementResult, Value};
use crate::{Position, INTERNAL_PREFIX};

/// Pragmas user SQL may read but not set: they would break durability, the
/// log's view of the schema, or are not replicated.
const GUARDED_PRAGMAS: &[&str] = &[
    "journal_mode",
    "synchronous",
    "locking_mode",
    "writable_schema",
    "schema_version",
    "user_version",
    "application_id",
    "query_only",
    "foreign_keys",
    "wal_autocheckpoint",
    "temp_store_directory",
];

/// State shared with a connection's authorizer.
#[derive(Default)]
pub(crate) struct Auth {
    /// Set while the crate runs its own statements: everything is allowed.
    internal: AtomicBool,
    /// The statement being prepared creates, alters or drops schema objects.
    ddl: AtomicBool,
    /// Why the statement being prepared was refused.
    denied: Mutex<Option<String>>,
    /// Tables the statement being prepared drops.
    dropped: Mutex<Vec<String>>,
    /// The statement being prepared is ANALYZE, which reads every table.
    analyzing: AtomicBool,
}

impl Auth {
    /// Installs the authorizer on `conn`.
    pub(crate) fn install(conn: &mut Connection) -> rusqlite::Result<Arc<Auth>> {
        let auth = Arc::new(Auth::default());
        let hook = auth.clone();
        conn.authorizer(Some(move |ctx: AuthContext<'_>| hook.decide(ctx)))?;
        Ok(auth)
    }

    /// Clears the per-statement flags; call before preparing user SQL.
    pub(crate) fn begin_statement(&self) {
        self.ddl.store(false, Ordering::Relaxed);
        *lock(&self.denied) = None;
        lock(&self.dropped).clear();
        self.analyzing.store(false, Ordering::Relaxed);
    }

    /// Tables the statement just prepared drops.
    pub(crate) fn dropped_tables(&self) -> Vec<String> {
        lock(&self.dropped).clone()
    }

    /// Whether the statement just prepared is a schema statement.
    pub(crate) fn was_ddl(&self) -> bool {
        self.ddl.load(Ordering::Relaxed)
    }

    /// Turns a failure to prepare user SQL into [`Error::Forbidden`] when the
    /// authorizer refused it.
    pub(crate) fn map_err(&self, e: rusqlite::Error) -> Error {
        match lock(&self.denied).take() {
            Some(reason) => Error::Forbidden(reason),
            None => Error::Sqlite(e),
        }
    }

    /// Runs the crate's own statements with the guard lifted.
    pub(crate) fn internal<T>(
        &self,
        f: impl FnOnce() -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let was = self.internal.swap(true, Ordering::Relaxed);
        let out = f();
        self.internal.store(was, Ordering::Relaxed);
        out
    }

    fn deny(&self, reason: String) -> Authorization {
        lock(&self.denied).get_or_insert(reason);
        Authorization::Deny
    }

    fn decide(&self, ctx: AuthContext<'_>) -> Authorization {
        if self.internal.load(Ordering::Relaxed) {
            return Authorization::Allow;
        }
        let internal_table = |t: &str| t.to_ascii_lowercase().starts_with(INTERNAL_PREFIX);
        use AuthAction as A;
        let table = match ctx.action {
            A::Transaction { .. } => {
                return self.deny(
                    "transaction control (BEGIN/COMMIT/ROLLBACK); every call is one transaction, use batch() to group statements".into(),
                )
            }
            A::Savepoint { .. } => {
                return self.deny("SAVEPOINT; use batch() to group statements".into())
            }
            A::Attach { .. } | A::Detach { .. } => {
                return self.deny("ATTACH/DETACH of other databases".into())
            }
            A::Pragma {
                pragma_name,
                pragma_value: Some(_),
            } if GUARDED_PRAGMAS.contains(&pragma_name.to_ascii_lowercase().as_str()) => {
                return self.deny(format!("setting PRAGMA {pragma_name}"));
            }
            A::DropTable { table_name } => {
                self.ddl.store(true, Ordering::Relaxed);
                lock(&self.dropped).push(table_name.to_string());
                Some(table_name)
            }
            A::CreateTable { table_name }
            | A::CreateView { view_name: table_name }
            | A::DropView { view_name: table_name }
            | A::CreateVtable { table_name, .. }
            | A::DropVtable { table_name, .. }
            | A::AlterTable { table_name, .. }
            | A::CreateIndex { table_name, .. }
            | A::DropIndex { table_name, .. }
            | A::CreateTrigger { table_name, .. }
            | A::DropTrigger { table_name, .. } => {
                self.ddl.store(true, Ordering::Relaxed);
                Some(table_name)
            }
            A::Analyze { .. } => {
                self.ddl.store(true, Ordering::Relaxed);
                self.analyzing.store(true, Ordering::Relaxed);
                None
            }
            A::Reindex { .. }
            | A::CreateTempTable { .. }
            | A::CreateTempIndex { .. }
            | A::CreateTempTrigger { .. }
            | A::CreateTempView { .. }
            | A::DropTempTable { .. }
            | A::DropTempIndex { .. }
            | A::DropTempTrigger { .. }
            | A::DropTempView { .. } => {
                self.ddl.store(true, Ordering::Relaxed);
                None
            }
            // Writes to sqlite_schema itself are refused by SQLite unless
            // `writable_schema` is on, which is guarded above.
            A::Read { table_name, .. }
            | A::Insert { table_name }
            | A::Update { table_name, .. }
            | A::Delete { table_name } => Some(table_name),
            A::Unknown { code, .. } if code == rusqlite::ffi::SQLITE_ANALYZE || code == rusqlite::ffi::SQLITE_REINDEX => {
                self.ddl.store(true, Ordering::Relaxed);
                None
            }
            _ => None,
        };
        match table {
            Some(t) if internal_table(t) => self.deny(format!(
                "the internal table {t} (names starting with {INTERNAL_PREFIX} are reserved)"
            )),
            _ => Authorization::Allow,
        }
    }
}

/// Locks a mutex, recovering it if a panic poisoned it (the connections it
/// guards roll back any transaction a panic left open before reuse).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs a prepared statement with its parameters and collects rows and counters.
pub(crate) fn run_statement(
    conn: &Connection,
    stmt: &mut rusqlite::Statement<'_>,
    params: &[Value],
    started: Instant,
) -> rusqlite::Result<StatementResult> {
    let columns: Vec<String> = stmt.column_names().map(String::from).collect();
    let readonly = stmt.readonly();
    let total_before = conn.total_changes();
    let mut rows = Vec::new();
    {
        let mut cursor = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        while let Some(row) = cursor.next()? {
            let mut out = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                out.push(Value::from_ref(row.get_ref(i)?));
            }
            rows.push(out);
        }
    }
    let fullscan = stmt.get_status(StatementStatus::FullscanStep).max(0) as u64;
    let rows_written = conn.total_changes().saturating_sub(total_before);
    let meta = Meta {
        changes: if readonly { 0 } else { conn.changes() },
        last_row_id: conn.last_insert_rowid(),
        rows_read: rows.len() as u64 + fullscan,
        rows_written,
        duration: started.elapsed(),
    };
    Ok(StatementResult {
        columns,
        rows,
        meta,
    })
}

/// Runs a read-only statement (for `query` on either role).
pub(crate) fn run_read_only(
    conn: &Connection,
    auth: &Auth,
    sql: &str,
    params: &[Value],
) -> Result<StatementResult> {
    let started = Instant::now();
    auth.begin_statement();
    // Prepared statements are cached per connection (parsing was a large
    // share of a read's CPU). User SQL is keyed with a leading comment that
    // the crate's own statements never carry, so user text can never pick
    // up a statement prepared without the authorizer's guard; every user
    // statement in the cache passed the authorizer when it was prepared
    // (SQLite consults it again when a schema change recompiles it).
    let key = format!("{USER_SQL_MARK}{sql}");
    let mut stmt = conn.prepare_cached(&key).map_err(|e| auth.map_err(e))?;
    if !stmt.readonly() {
        return Err(Error::NotReadOnly);
    }
    // The counter is per statement: start this run's count from zero.
    stmt.reset_status(StatementStatus::FullscanStep);
    Ok(run_statement(conn, &mut stmt, params, started)?)
}

/// Marks user SQL in the statement cache (see [`run_read_only`]).
const USER_SQL_MARK: &str = "/*user*/";

/// Opens a connection with the settings both roles share.
pub(crate) fn open_connection(path: &std::path::Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Unsupported(format!(
            "{}: could not switch to WAL (journal_mode is {mode})",
            path.display()
        )));
    }
    Ok(conn)
}

/// Opens the read connection of either role: WAL readers never block the writer.
pub(crate) fn open_reader(path: &std::path::Path) -> Result<(Connection, Arc<Auth>)> {
    let mut conn = open_connection(path)?;
    conn.execute_batch("PRAGMA query_only=1")?;
    conn.set_prepared_statement_cache_capacity(64);
    let auth = Auth::install(&mut conn)?;
    Ok((conn, auth))
}

/// Reads a value from `_outpost_meta` (`None` when the table or key is missing).
pub(crate) fn meta_get(
    conn: &Connection,
    key: &str,
) -> rusqlite::Result<Option<rusqlite::types::Value>> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_schema WHERE type='table' AND name='_outpost_meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    conn.query_row("SELECT value FROM _outpost_meta WHERE key=?1", [key], |r| {
        r.get(0)
    })
    .optional()
}

/// The file's role (`primary`, `replica`), `None` for a file the data layer
/// never initialised, `Some("plain")` for such a file that already holds tables.
pub(crate) fn file_role(conn: &Connection) -> rusqlite::Result<Option<String>> {
    if let Some(rusqlite::types::Value::Text(role)) = meta_get(conn, "role")? {
        return Ok(Some(role));
    }
    let has_tables: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\')",
        [],
        |r| r.get(0),
    )?;
    Ok(has_tables.then(|| "plain".to_string()))
}

pub(crate) fn meta_position(conn: &Connection, key: &str) -> rusqlite::Result<Position> {
    Ok(match meta_get(conn, key)? {
        Some(rusqlite::types::Value::Integer(i)) => i as Position,
        _ => 0,
    })
}

pub(crate) const CREATE_META: &str =
    "CREATE TABLE IF NOT EXISTS _outpost_meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID";
