//! The writable primary: a database plus its replication log.

use std::any::Any;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::{params, Connection};

use crate::error::{Error, Result};
use crate::hash::{content_hash, ContentHash};
use crate::log::{Cell, Entry, Op};
use crate::session::Session;
use crate::snapshot::Snapshot;
use crate::sql::{self, lock, Auth};
use crate::value::{ExecSummary, Statement, StatementResult, Value, Write};
use crate::Position;

/// How hard the primary works to keep an acknowledged write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: the WAL is fsynced at every commit, so an
    /// acknowledged write (and its log entry) survives a crash or power loss.
    #[default]
    Full,
    /// `synchronous=NORMAL`: commits are atomic and survive a process crash
    /// (`kill -9`), but the last ones may be lost on power loss. For `dev`.
    Normal,
}

/// The writable copy of a database and its durable replication log.
///
/// Every write runs in one SQLite transaction that also appends its log
/// entry (to the `_outpost_log` table of the same file), so a write that was
/// acknowledged has its entry, and a write that failed has none. Positions
/// start at 1 and increase by one per transaction that changed the database.
///
/// Writes are serialised on one connection; reads ([`Primary::query`],
/// [`Primary::log_since`]) use a second connection and do not wait for writes.
pub struct Primary {
    path: PathBuf,
    writer: Mutex<Writer>,
    reader: Mutex<(Connection, Arc<Auth>)>,
    head: AtomicU64,
    commit_hooks: Mutex<Vec<CommitHook>>,
    /// Writes waiting for the writer (see [`Primary::write`]).
    queue: Mutex<WriteQueue>,
    /// Batches of writes run so far (see [`Primary::write_batches`]).
    batches: AtomicU64,
}

/// Writes waiting for a commit, and whether a caller is leading (running
/// the next batch); both under one lock, so a write is either taken by the
/// leader or makes its own caller the leader, never neither.
#[derive(Default)]
struct WriteQueue {
    waiting: Vec<Queued>,
    leading: bool,
}

/// A write as queued for group commit: its body, type-erased, and where its
/// outcome goes.
type Job = Box<dyn FnOnce(&mut Txn<'_>) -> Result<Box<dyn Any + Send>> + Send>;

struct Queued {
    job: Job,
    reply: std::sync::mpsc::SyncSender<Turn>,
}

/// What a waiting write's caller is told.
enum Turn {
    /// Its write's outcome.
    Done(Result<Write<Box<dyn Any + Send>>>),
    /// It leads now: run the next batch (which holds its own write).
    Lead,
}

/// Called with the new head after each commit that changed the database.
type CommitHook = Box<dyn Fn(Position) + Send + Sync>;

impl std::fmt::Debug for Primary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Primary")
            .field("path", &self.path)
            .field("position", &self.position())
            .finish()
    }
}

struct Writer {
    conn: Connection,
    auth: Arc<Auth>,
    head: Position,
    compacted_through: Position,
    schema: SchemaCache,
}

/// `sqlite_schema` as of one `schema_version`.
#[derive(Default)]
struct SchemaCache {
    version: i64,
    objects: BTreeMap<String, SchemaObject>,
}

struct SchemaObject {
    kind: String,
    sql: Option<String>,
}

impl SchemaCache {
    fn load(conn: &Connection) -> rusqlite::Result<SchemaCache> {
        let version = schema_version(conn)?;
        let mut stmt = conn.prepare_cached("SELECT name, type, sql FROM sqlite_schema")?;
        let objects = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    SchemaObject {
                        kind: r.get(1)?,
                        sql: r.get(2)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(SchemaCache { version, objects })
    }
}

fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("PRAGMA schema_version")?
        .query_row([], |r| r.get(0))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

type Sequences = BTreeMap<String, i64>;

fn read_sequences(conn: &Connection, schema: &SchemaCache) -> rusqlite::Result<Sequences> {
    if !schema.objects.contains_key("sqlite_sequence") {
        return Ok(Sequences::new());
    }
    let mut stmt = conn.prepare_cached("SELECT name, seq FROM sqlite_sequence")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    rows.collect()
}

impl Primary {
    /// Opens (creating if needed) the primary database at `path` with
    /// [`Durability::Full`].
    ///
    /// A file that already holds tables but no log (a plain SQLite database)
    /// is adopted: its log starts at position 1 with nothing retained, so
    /// replicas start from a [`snapshot`](Primary::snapshot_to).
    pub fn open(path: impl AsRef<Path>) -> Result<Primary> {
        Primary::open_with(path, Durability::Full)
    }

    /// Opens the primary with the given durability.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Primary> {
        let path = path.as_ref().to_path_buf();
        let mut conn = sql::open_connection(&path)?;
        conn.execute_batch(match durability {
            Durability::Full => "PRAGMA synchronous=FULL",
            Durability::Normal => "PRAGMA synchronous=NORMAL",
        })?;
        // As D1 does: foreign keys are enforced on the primary. Replicas
        // receive the effects (cascades included) as row changes.
        conn.execute_batch("PRAGMA foreign_keys=ON")?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let init = (|| -> Result<()> {
            match sql::file_role(&conn)?.as_deref() {
                Some("primary") => {}
                None | Some("plain") => {
                    let adopted = sql::file_role(&conn)?.is_some();
                    conn.execute_batch(sql::CREATE_META)?;
                    conn.execute_batch(
                        "CREATE TABLE IF NOT EXISTS _outpost_log(position INTEGER PRIMARY KEY, entry BLOB NOT NULL)",
                    )?;
                    conn.execute(
                        "INSERT INTO _outpost_meta(key, value) VALUES('role', 'primary'), ('compacted_through', ?1)",
                        [adopted as i64],
                    )?;
                }
                Some(other) => {
                    return Err(Error::Role {
                        path: path.display().to_string(),
                        expected: "primary",
                        found: other.to_string(),
                    })
                }
            }
            Ok(())
        })();
        match init {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
        let compacted_through = sql::meta_position(&conn, "compacted_through")?;
        let head = log_head(&conn, compacted_through)?;
        let schema = SchemaCache::load(&conn)?;
        let auth = Auth::install(&mut conn)?;
        let reader = sql::open_reader(&path)?;
        Ok(Primary {
            path,
            writer: Mutex::new(Writer {
                conn,
                auth,
                head,
                compacted_through,
                schema,
            }),
            reader: Mutex::new(reader),
            head: AtomicU64::new(head),
            commit_hooks: Mutex::new(Vec::new()),
            queue: Mutex::new(WriteQueue::default()),
            batches: AtomicU64::new(0),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The position of the latest committed write (0 before the first).
    pub fn position(&self) -> Position {
        self.head.load(Ordering::Acquire)
    }

    /// Runs one statement (read or write) in its own transaction and returns
    /// its rows (for `RETURNING` or a `SELECT`), counters and bookmark.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<Write<StatementResult>> {
        let (sql, params) = (sql.to_owned(), params.to_vec());
        self.write(move |txn| {
            let started = Instant::now();
            let (mut stmt, ddl) = txn.prepare(&sql)?;
            txn.run(&mut stmt, ddl, &params, started)
        })
    }

    /// Runs statements in one transaction: all take effect, or (on the first
    /// failure, whose error is returned) none do and no log entry is written.
    pub fn batch(&self, statements: &[Statement]) -> Result<Write<Vec<StatementResult>>> {
        let statements = statements.to_vec();
        self.write(move |txn| {
            let mut out = Vec::with_capacity(statements.len());
            for s in &statements {
                let started = Instant::now();
                let (mut stmt, ddl) = txn.prepare(&s.sql)?;
                out.push(txn.run(&mut stmt, ddl, &s.params, started)?);
            }
            Ok(out)
        })
    }

    /// Runs a script of `;`-separated statements without parameters in one
    /// transaction, like D1's `exec()` (all or nothing).
    pub fn exec(&self, script: &str) -> Result<Write<ExecSummary>> {
        let script = script.to_owned();
        self.write(move |txn| {
            let started = Instant::now();
            let conn = txn.conn;
            let mut batch = rusqlite::Batch::new(conn, &script);
            let mut count = 0;
            loop {
                txn.auth.begin_statement();
                let next = batch.next().map_err(|e| txn.auth.map_err(e))?;
                let Some(mut stmt) = next else { break };
                let ddl = txn.auth.was_ddl();
                txn.run(&mut stmt, ddl, &[], Instant::now())?;
                count += 1;
            }
            Ok(ExecSummary {
                count,
                duration: started.elapsed(),
            })
        })
    }

    /// Runs a read-only statement on the read connection (concurrently with
    /// writes; it sees every write acknowledged before it started).
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<StatementResult> {
        let guard = lock(&self.reader);
        let (conn, auth) = &*guard;
        sql::run_read_only(conn, auth, sql, params)
    }

    /// Up to `max_entries` log entries after position `after`, oldest first
    /// (empty when `after` is the head).
    ///
    /// Errors: [`Error::SnapshotRequired`] when entries after `after` were
    /// compacted away, [`Error::AheadOfPrimary`] when `after` is beyond the head.
    pub fn log_since(&self, after: Position, max_entries: usize) -> Result<Vec<Entry>> {
        let guard = lock(&self.reader);
        let (conn, auth) = &*guard;
        auth.internal(|| conn.execute_batch("BEGIN"))?;
        let result = (|| -> Result<Vec<Entry>> {
            let (compacted, head) = auth.internal(|| {
                let compacted = sql::meta_position(conn, "compacted_through")?;
                Ok((compacted, log_head(conn, compacted)?))
            })?;
            if after > head {
                return Err(Error::AheadOfPrimary {
                    requested: after,
                    head,
                });
            }
            if after < compacted {
                return Err(Error::SnapshotRequired {
                    requested: after,
                    compacted_through: compacted,
                });
            }
            let limit = i64::try_from(max_entries).unwrap_or(i64::MAX);
            let blobs: Vec<Vec<u8>> = auth.internal(|| {
                let mut stmt = conn.prepare_cached(
                    "SELECT entry FROM _outpost_log WHERE position > ?1 ORDER BY position LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![after as i64, limit], |r| r.get(0))?;
                rows.collect()
            })?;
            blobs.iter().map(|b| Entry::decode(b)).collect()
        })();
        let _ = auth.internal(|| conn.execute_batch("COMMIT"));
        result
    }

    /// The oldest position a replica can continue from: entries up to and
    /// including it have been compacted away.
    pub fn compacted_through(&self) -> Position {
        lock(&self.writer).compacted_through
    }

    /// Drops log entries at or before `keep_after` (clamped to the head),
    /// returning how many were removed. Replicas behind the new
    /// [`compacted_through`](Primary::compacted_through) must bootstrap from a
    /// snapshot.
    pub fn compact(&self, keep_after: Position) -> Result<u64> {
        let mut w = lock(&self.writer);
        let w = &mut *w;
        let keep = keep_after.min(w.head).max(w.compacted_through);
        let auth = w.auth.clone();
        let conn = &w.conn;
        let removed = auth.internal(|| {
            let tx = conn.unchecked_transaction()?;
            let removed = tx.execute(
                "DELETE FROM _outpost_log WHERE position <= ?1",
                [keep as i64],
            )?;
            tx.execute(
                "UPDATE _outpost_meta SET value = ?1 WHERE key = 'compacted_through'",
                [keep as i64],
            )?;
            tx.commit()?;
            Ok(removed as u64)
        })?;
        w.compacted_through = keep;
        Ok(removed)
    }

    /// Writes a consistent snapshot of the database to `path` (which must not
    /// exist), for bootstrapping a replica, without blocking writes.
    ///
    /// The snapshot is a replica database at the position of the last write
    /// it contains; it does not carry the log.
    pub fn snapshot_to(&self, path: impl AsRef<Path>) -> Result<Snapshot> {
        let path = path.as_ref();
        if path.exists() {
            return Err(Error::io(
                format!("snapshot {}", path.display()),
                std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ));
        }
        {
            // VACUUM INTO reads in one transaction: a consistent copy.
            let conn = sql::open_connection(&self.path)?;
            conn.execute("VACUUM INTO ?1", [path.to_string_lossy()])?;
        }
        {
            let snap = Connection::open(path)?;
            snap.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))?;
            let compacted = sql::meta_position(&snap, "compacted_through")?;
            let position = log_head(&snap, compacted)?;
            let tx = snap.unchecked_transaction()?;
            tx.execute_batch(
                "DROP TABLE _outpost_log;
                 DELETE FROM _outpost_meta;",
            )?;
            tx.execute(
                "INSERT INTO _outpost_meta(key, value) VALUES('role', 'replica'), ('position', ?1)",
                [position as i64],
            )?;
            tx.commit()?;
            snap.execute_batch("VACUUM")?;
        }
        Snapshot::open(path)
    }

    /// The [`content_hash`] of the database as of the latest commit.
    pub fn content_hash(&self) -> Result<ContentHash> {
        let guard = lock(&self.reader);
        let (conn, auth) = &*guard;
        auth.internal(|| Ok(content_hash(conn)))?
    }

    /// How many batches of writes have run: one SQLite commit each, so
    /// fewer than the writes when concurrent writes shared commits.
    pub fn write_batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Registers `hook` to be called with the new head after every commit
    /// that changes the database (after the commit is durable), e.g. to wake
    /// replicas long-polling for the log. Hooks run on the writing thread:
    /// they must be quick and must not write to this primary.
    pub fn on_commit(&self, hook: impl Fn(Position) + Send + Sync + 'static) {
        lock(&self.commit_hooks).push(Box::new(hook));
    }

    /// Runs `body` as one write with its own log entry, committed together
    /// with whatever other writes are waiting (group commit): one caller at
    /// a time leads, running every queued write, each inside a savepoint (a
    /// failing one is rolled back alone), and committing them with one
    /// fsync. Each write still gets its own position, in queue order, and
    /// is acknowledged only after the shared commit.
    ///
    /// After its batch the leader hands the lead to the first write queued
    /// meanwhile, so callers waiting for an answer are woken by it and never
    /// queue for the writer themselves, and no caller leads for longer than
    /// one batch after its own write is done.
    fn write<T: Send + 'static>(
        &self,
        body: impl FnOnce(&mut Txn<'_>) -> Result<T> + Send + 'static,
    ) -> Result<Write<T>> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let lead = {
            let mut queue = lock(&self.queue);
            queue.waiting.push(Queued {
                job: Box::new(move |txn| body(txn).map(|v| Box::new(v) as Box<dyn Any + Send>)),
                reply,
            });
            !std::mem::replace(&mut queue.leading, true)
        };
        if lead {
            self.lead();
        }
        let out = loop {
            match answer.recv() {
                Ok(Turn::Done(done)) => break done,
                Ok(Turn::Lead) => self.lead(),
                // A leader died (a panic) with our write still queued.
                Err(_) => break Err(Error::GroupCommit("the write's leader stopped".into())),
            }
        };
        let out = out.map(|w| Write {
            output: *w
                .output
                .downcast::<T>()
                .expect("a write's output has its own type"),
            position: w.position,
            changed_db: w.changed_db,
        });
        if let Ok(Write {
            changed_db: true,
            position,
            ..
        }) = &out
        {
            for hook in lock(&self.commit_hooks).iter() {
                hook(*position);
            }
        }
        out
    }

    /// Runs one batch, every write queued now, as one commit, then hands
    /// the lead on to the first write queued meanwhile (or gives it up).
    fn lead(&self) {
        /// Gives the lead up if the batch panics, failing the writes still
        /// queued (their callers get an error, not a hang).
        struct Abdicate<'a>(&'a Mutex<WriteQueue>);
        impl Drop for Abdicate<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    let mut queue = lock(self.0);
                    queue.waiting.clear();
                    queue.leading = false;
                }
            }
        }
        let _abdicate = Abdicate(&self.queue);
        {
            let mut w = lock(&self.writer);
            let queued = std::mem::take(&mut lock(&self.queue).waiting);
            let (jobs, replies): (Vec<Job>, Vec<_>) =
                queued.into_iter().map(|q| (q.job, q.reply)).unzip();
            let results = w.transactions(jobs);
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.head.store(w.head, Ordering::Release);
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(Turn::Done(result));
            }
        }
        let mut queue = lock(&self.queue);
        match queue.waiting.first() {
            // Its caller is blocked on its channel, which is empty.
            Some(next) => {
                let _ = next.reply.send(Turn::Lead);
            }
            None => queue.leading = false,
        }
    }
}

/// The head of the log: its last entry, or the compaction point if empty.
fn log_head(conn: &Connection, compacted_through: Position) -> rusqlite::Result<Position> {
    let max: Option<i64> = conn
        .prepare_cached("SELECT max(position) FROM _outpost_log")?
        .query_row([], |r| r.get(0))?;
    Ok((max.unwrap_or(0) as Position).max(compacted_through))
}

impl Writer {
    /// Runs `jobs` as one SQLite transaction, each in a savepoint, and
    /// returns each one's outcome (a lone job runs without a savepoint).
    fn transactions(&mut self, mut jobs: Vec<Job>) -> Vec<Result<Write<Box<dyn Any + Send>>>> {
        if jobs.len() == 1 {
            return vec![self.transaction(jobs.pop().expect("one job"))];
        }
        let auth = self.auth.clone();
        if !self.conn.is_autocommit() {
            let _ = auth.internal(|| self.conn.execute_batch("ROLLBACK"));
        }
        if let Err(e) = auth.internal(|| self.conn.execute_batch("BEGIN IMMEDIATE")) {
            let why = e.to_string();
            return jobs
                .iter()
                .map(|_| Err(Error::GroupCommit(why.clone())))
                .collect();
        }
        let mut outcomes = Vec::with_capacity(jobs.len());
        for job in jobs {
            let savepoint = auth.internal(|| self.conn.execute_batch("SAVEPOINT outpost_write"));
            let outcome = savepoint
                .map_err(Error::from)
                .and_then(|()| self.run_txn(job));
            let end = match &outcome {
                Ok(_) => "RELEASE outpost_write",
                Err(_) => "ROLLBACK TO outpost_write; RELEASE outpost_write",
            };
            let _ = auth.internal(|| self.conn.execute_batch(end));
            outcomes.push(outcome);
        }
        match auth.internal(|| self.conn.execute_batch("COMMIT")) {
            Ok(()) => outcomes
                .into_iter()
                .map(|o| {
                    o.map(|(output, entry)| {
                        if let Some(p) = entry {
                            self.head = self.head.max(p);
                        }
                        Write {
                            output,
                            position: entry.unwrap_or(self.head),
                            changed_db: entry.is_some(),
                        }
                    })
                })
                .collect(),
            Err(e) => {
                let _ = auth.internal(|| self.conn.execute_batch("ROLLBACK"));
                // Nothing of the batch is in the log: back to the real head.
                let conn = &self.conn;
                if let Ok(head) = auth.internal(|| log_head(conn, self.compacted_through)) {
                    self.head = head;
                }
                let why = e.to_string();
                outcomes
                    .iter()
                    .map(|_| Err(Error::GroupCommit(why.clone())))
                    .collect()
            }
        }
    }

    fn transaction<T>(&mut self, body: impl FnOnce(&mut Txn<'_>) -> Result<T>) -> Result<Write<T>> {
        let auth = self.auth.clone();
        if !self.conn.is_autocommit() {
            // A panic left a transaction open: discard it.
            let _ = auth.internal(|| self.conn.execute_batch("ROLLBACK"));
        }
        auth.internal(|| self.conn.execute_batch("BEGIN IMMEDIATE"))?;
        match self.run_txn(body) {
            Ok((output, entry)) => match auth.internal(|| self.conn.execute_batch("COMMIT")) {
                Ok(()) => {
                    if let Some(p) = entry {
                        self.head = p;
                    }
                    Ok(Write {
                        output,
                        position: self.head,
                        changed_db: entry.is_some(),
                    })
                }
                Err(e) => {
                    let _ = auth.internal(|| self.conn.execute_batch("ROLLBACK"));
                    Err(e.into())
                }
            },
            Err(e) => {
                let _ = auth.internal(|| self.conn.execute_batch("ROLLBACK"));
                Err(e)
            }
        }
    }

    fn run_txn<T>(
        &mut self,
        body: impl FnOnce(&mut Txn<'_>) -> Result<T>,
    ) -> Result<(T, Option<Position>)> {
        let auth = self.auth.clone();
        let conn = &self.conn;
        // Read inside the write lock: robust to a commit whose outcome was
        // unknown, and to other processes (which must not write, but may).
        let head = auth.internal(|| log_head(conn, self.compacted_through))?;
        self.head = head;
        if auth.internal(|| schema_version(conn))? != self.schema.version {
            self.schema = auth.internal(|| SchemaCache::load(conn))?;
        }
        let before = auth.internal(|| read_sequences(conn, &self.schema))?;
        let mut txn = Txn {
            conn,
            auth: &auth,
            schema: &mut self.schema,
            session: Some(auth.internal(|| Session::start(conn))?),
            ops: Vec::new(),
        };
        let output = body(&mut txn)?;
        let ops = txn.finish(&before)?;
        if ops.is_empty() {
            return Ok((output, None));
        }
        let position = head + 1;
        let entry = Entry {
            position,
            committed_at_ms: now_ms(),
            ops,
        };
        let last_row_id = conn.last_insert_rowid();
        auth.internal(|| {
            conn.prepare_cached("INSERT INTO _outpost_log(position, entry) VALUES(?1, ?2)")?
                .execute(params![position as i64, entry.encode()])
        })?;
        // The log's own row must not become the caller's last insert rowid
        // (the next statement that inserts nothing reports it, as D1's meta does).
        // SAFETY: the handle is this open connection's; the call only sets a field.
        unsafe { rusqlite::ffi::sqlite3_set_last_insert_rowid(conn.handle(), last_row_id) };
        Ok((output, Some(position)))
    }
}

/// One write transaction in progress: runs statements and records their
/// effects as log ops.
struct Txn<'a> {
    conn: &'a Connection,
    auth: &'a Auth,
    schema: &'a mut SchemaCache,
    /// Records row changes since the last schema statement.
    session: Option<Session<'a>>,
    ops: Vec<Op>,
}

impl<'a> Txn<'a> {
    fn prepare(&self, sql: &str) -> Result<(rusqlite::Statement<'a>, bool)> {
        self.auth.begin_statement();
        let stmt = self.conn.prepare(sql).map_err(|e| self.auth.map_err(e))?;
        Ok((stmt, self.auth.was_ddl()))
    }

    fn flush_session(&mut self) -> Result<()> {
        if let Some(session) = self.session.take() {
            let conn = self.conn;
            let cs = self.auth.internal(|| session.changeset(conn))?;
            if !cs.is_empty() {
                self.ops.push(Op::Changeset(cs));
            }
        }
        Ok(())
    }

    fn run(
        &mut self,
        stmt: &mut rusqlite::Statement<'_>,
        ddl: bool,
        params: &[Value],
        started: Instant,
    ) -> Result<StatementResult> {
        let conn = self.conn;
        if !ddl {
            let result = sql::run_statement(conn, stmt, params, started)?;
            if self.auth.internal(|| schema_version(conn))? != self.schema.version {
                return Err(Error::Unsupported(
                    "the statement changed the schema but is not a schema statement".into(),
                ));
            }
            return Ok(result);
        }
        // A schema statement: close the row changes before it, replay it
        // verbatim on replicas, then start recording afresh (tables may
        // have new shapes).
        self.flush_session()?;
        let auth = self.auth;
        let dropped = auth.dropped_tables();
        let effects_session = auth.internal(|| Session::start_excluding(conn, dropped))?;
        let result = sql::run_statement(conn, stmt, params, started)?;
        // The session module runs its own SQL (a SAVEPOINT) to build changesets.
        let effects = auth.internal(|| effects_session.changeset(conn))?;
        drop(effects_session);
        let version = auth.internal(|| schema_version(conn))?;
        let is_analyze = stmt
            .expanded_sql()
            .is_some_and(|s| s.trim_start().to_ascii_uppercase().starts_with("ANALYZE"));
        if version != self.schema.version || is_analyze {
            let old = std::mem::take(&mut self.schema.objects);
            *self.schema = auth.internal(|| SchemaCache::load(conn))?;
            let added: Vec<(&String, &SchemaObject)> = self
                .schema
                .objects
                .iter()
                .filter(|(name, o)| o.sql.is_some() && !old.contains_key(*name))
                .collect();
            let created_table = match added.as_slice() {
                [(name, o)]
                    if o.kind == "table"
                        && o.sql.as_deref().is_some_and(|s| {
                            s.to_ascii_uppercase().starts_with("CREATE TABLE")
                        })
                        // AS SELECT makes tables without a key; a keyed table is new and empty.
                        && auth
                            .internal(|| crate::hash::primary_key(conn, name))
                            .is_ok_and(|pk| pk.is_empty()) =>
                {
                    Some(((*name).clone(), o.sql.clone().unwrap_or_default()))
                }
                _ => None,
            };
            match created_table {
                // CREATE TABLE (possibly .. AS SELECT, whose rows the session
                // does not see and whose SELECT may not be deterministic):
                // log the definition SQLite stored, then the rows.
                Some((table, definition)) => {
                    self.ops.push(Op::Schema {
                        sql: definition,
                        effects: Vec::new(),
                    });
                    let (columns, rows) = auth.internal(|| read_rows(conn, &table))?;
                    if !rows.is_empty() {
                        self.ops.push(Op::Rows {
                            table,
                            columns,
                            rows,
                        });
                    }
                }
                None => {
                    let sql = stmt.expanded_sql().ok_or_else(|| {
                        Error::Unsupported("schema statement text unavailable".into())
                    })?;
                    self.ops.push(Op::Schema { sql, effects });
                }
            }
        }
        self.session = Some(auth.internal(|| Session::start(conn))?);
        Ok(result)
    }

    fn finish(mut self, before: &Sequences) -> Result<Vec<Op>> {
        self.flush_session()?;
        let (conn, schema) = (self.conn, &*self.schema);
        let after = self.auth.internal(|| read_sequences(conn, schema))?;
        let mut changed: Vec<(String, Option<i64>)> = after
            .iter()
            .filter(|(name, seq)| before.get(*name) != Some(seq))
            .map(|(name, seq)| (name.clone(), Some(*seq)))
            .collect();
        changed.extend(
            before
                .keys()
                .filter(|name| !after.contains_key(*name))
                .map(|name| (name.clone(), None)),
        );
        if !changed.is_empty() {
            self.ops.push(Op::Sequence(changed));
        }
        Ok(self.ops)
    }
}

/// A table's rowid and columns, every row, in rowid order.
fn read_rows(conn: &Connection, table: &str) -> rusqlite::Result<(Vec<String>, Vec<Vec<Cell>>)> {
    let mut stmt = conn.prepare(&format!(
        "SELECT _rowid_, * FROM {} ORDER BY _rowid_",
        quote(table)
    ))?;
    let columns: Vec<String> = stmt.column_names().skip(1).map(String::from).collect();
    let n = columns.len() + 1;
    let rows = stmt
        .query_map([], |r| {
            (0..n).map(|i| r.get_ref(i).map(Cell::from_ref)).collect()
        })?
        .collect::<rusqlite::Result<Vec<Vec<Cell>>>>()?;
    Ok((columns, rows))
}
