//! Where a D1 call runs, and running it: on a primary in this process, on
//! the local replica, or on the primary of another process.
//!
//! The routing follows D1's read replication
//! (<https://developers.cloudflare.com/d1/best-practices/read-replication/>):
//! - the database object itself (no session) always uses the primary;
//! - a session's reads go to the local replica once it has caught up with
//!   the session's latest position (`first-unconstrained` starts anywhere,
//!   `first-primary` and writes go to the primary); a replica that is behind
//!   is waited for (bounded by [`REPLICA_WAIT`]), then the primary answers;
//! - `batch()` and `exec()` always run on the primary, in one transaction.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use outpost_data::{ExecSummary, Position, Primary, Replica, Statement, StatementResult};

use super::{d1_error, encode_bookmark};
use crate::js::JsError;
use crate::remote::{D1Answer, D1Call, D1Done, D1Op, DataKind, RemotePrimary, WireResult};

/// How long a session's read waits for the local replica to reach the
/// session's position before the primary answers instead.
pub const REPLICA_WAIT: Duration = Duration::from_millis(250);

/// A local replica of a database whose primary is elsewhere.
#[derive(Debug, Clone)]
pub struct ReplicaLink {
    /// The database's id (as the primary knows it).
    pub id: String,
    /// The local replica.
    pub replica: Arc<Replica>,
    /// Changes with every position the replica reaches (sent by whoever
    /// applies the log), so reads can wait for a position without blocking.
    pub advanced: tokio::sync::watch::Receiver<Position>,
    /// The way to the primary.
    pub remote: Arc<dyn RemotePrimary>,
    /// This node's region.
    pub region: String,
}

impl ReplicaLink {
    /// Waits (at most `timeout`) for the replica to reach `position`.
    async fn reached(&self, position: Position, timeout: Duration) -> bool {
        if self.replica.position() >= position {
            return true;
        }
        let mut rx = self.advanced.clone();
        let wait = rx.wait_for(|&p| p >= position);
        matches!(tokio::time::timeout(timeout, wait).await, Ok(Ok(_))) || {
            self.replica.position() >= position
        }
    }
}

/// Where a binding's calls run.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// The primary is in this process (`outpost dev`, the embedded node),
    /// in the named region.
    Local(Arc<Primary>, String),
    /// A replica is here, the primary elsewhere.
    Replica(Arc<ReplicaLink>),
}

/// The constraint a session was started with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Start {
    /// The database's own session: always the primary, no bookmarks.
    Primary,
    /// `withSession("first-primary")`.
    FirstPrimary,
    /// `withSession("first-unconstrained")` or `withSession()`.
    FirstUnconstrained,
    /// `withSession(bookmark)`.
    Bookmark(Position),
}

/// Where a sequence of queries stands: the latest position it has seen.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) start: Start,
    pub(crate) latest: Cell<Option<Position>>,
}

impl Session {
    pub(crate) fn new(start: Start) -> Self {
        let latest = match start {
            Start::Bookmark(p) => Some(p),
            _ => None,
        };
        Session {
            start,
            latest: Cell::new(latest),
        }
    }

    /// Records the position a query ran at (its commit, for a write).
    fn observe(&self, position: Position) {
        if self.start != Start::Primary && self.latest.get().is_none_or(|p| p < position) {
            self.latest.set(Some(position));
        }
    }
}

/// One statement's outcome.
#[derive(Debug)]
pub(crate) struct Ran {
    pub(crate) result: StatementResult,
    pub(crate) changed_db: bool,
}

impl Ran {
    fn new(mut result: StatementResult, changed_db: bool) -> Ran {
        // `sqlite3_changes` keeps the count of the last INSERT, UPDATE or
        // DELETE: after a schema statement it is stale. A statement's own
        // changes are among the rows it wrote.
        result.meta.changes = result.meta.changes.min(result.meta.rows_written);
        Ran { result, changed_db }
    }
}

/// What a call did, and who answered it.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// One per statement (none for `exec()`).
    pub(crate) results: Vec<Ran>,
    /// `exec()`'s summary.
    pub(crate) exec: Option<ExecSummary>,
    /// The position the call ran at.
    pub(crate) position: Position,
    /// The database's size afterwards (not known for replica reads).
    pub(crate) size_after: Option<u64>,
    /// Whether the primary answered.
    pub(crate) served_by_primary: bool,
    /// The region that answered.
    pub(crate) region: String,
}

impl Outcome {
    pub(crate) fn to_wire(&self) -> D1Done {
        D1Done {
            results: self
                .results
                .iter()
                .map(|r| WireResult::new(&r.result, r.changed_db))
                .collect(),
            exec: self
                .exec
                .as_ref()
                .map(|e| (e.count, e.duration.as_secs_f64() * 1000.0)),
            position: self.position,
            size_after: self.size_after,
        }
    }

    fn from_wire(done: D1Done, region: &str) -> Outcome {
        Outcome {
            results: done
                .results
                .into_iter()
                .map(|w| {
                    let (result, changed_db) = w.into_result();
                    Ran { result, changed_db }
                })
                .collect(),
            exec: done.exec.map(|(count, ms)| ExecSummary {
                count,
                duration: Duration::from_secs_f64(ms.max(0.0) / 1000.0),
            }),
            position: done.position,
            size_after: done.size_after,
            served_by_primary: true,
            region: region.to_string(),
        }
    }
}

/// A call's outcome now, or later (when the primary is remote).
pub(crate) enum Pending {
    Ready(Result<Outcome, JsError>),
    Later(std::pin::Pin<Box<dyn std::future::Future<Output = Result<Outcome, JsError>>>>),
}

/// Runs `op` for `session` wherever it should run; `want_size` asks for
/// `meta.size_after` (known only where the primary is).
pub(crate) fn run(
    target: &Target,
    session: &std::rc::Rc<Session>,
    op: D1Op,
    want_size: bool,
) -> Pending {
    let call = D1Call {
        op,
        min_position: session.latest.get(),
        want_size,
    };
    match target {
        Target::Local(db, region) => {
            let done = on_primary(db, &call, region);
            if let Ok(o) = &done {
                session.observe(o.position);
            }
            Pending::Ready(done)
        }
        Target::Replica(link) => {
            let link = link.clone();
            let session = session.clone();
            Pending::Later(Box::pin(async move {
                let done = on_replica_node(&link, &session, call).await;
                if let Ok(o) = &done {
                    session.observe(o.position);
                }
                done
            }))
        }
    }
}

/// A call on a node whose primary is elsewhere.
async fn on_replica_node(
    link: &ReplicaLink,
    session: &Session,
    call: D1Call,
) -> Result<Outcome, JsError> {
    if let D1Op::One { sql, params } = &call.op {
        let local = match (session.start, session.latest.get()) {
            (Start::Primary, _) | (Start::FirstPrimary, None) => false,
            (_, None) => true,
            (_, Some(p)) => link.reached(p, REPLICA_WAIT).await,
        };
        if local {
            match link.replica.query(sql, params) {
                Ok(result) => {
                    return Ok(Outcome {
                        results: vec![Ran::new(result, false)],
                        exec: None,
                        // Read after the query: at least what it saw, so
                        // the session never goes back.
                        position: link.replica.position(),
                        size_after: None,
                        served_by_primary: false,
                        region: link.region.clone(),
                    });
                }
                // A write: the primary runs it.
                Err(outpost_data::Error::NotReadOnly) => {}
                Err(e) => return Err(query_error(&e)),
            }
        }
    }
    on_remote(link, call).await
}

/// Sends `call` to the remote primary.
async fn on_remote(link: &ReplicaLink, call: D1Call) -> Result<Outcome, JsError> {
    let body = serde_json::to_vec(&call).expect("calls serialise");
    let unreachable = |e: String| d1_error(format!("the primary could not be reached: {e}"));
    let answer = link
        .remote
        .call(DataKind::D1, &link.id, body)
        .await
        .map_err(|e| unreachable(e.0))?;
    let answer: D1Answer = serde_json::from_slice(&answer)
        .map_err(|e| unreachable(format!("undecodable answer: {e}")))?;
    answer.map(|done| Outcome::from_wire(done, link.remote.region()))
}

/// Runs `call` on a primary in this process: the local path, and the
/// primary side of remote calls.
pub(crate) fn on_primary(db: &Primary, call: &D1Call, region: &str) -> Result<Outcome, JsError> {
    // Every read here is served by the primary, which has every committed
    // write: a bookmark the primary has reached is satisfied at once. One
    // beyond it came from another database (or a deleted state directory).
    if let Some(p) = call.min_position.filter(|&p| p > db.position()) {
        return Err(d1_error(format!(
            "bookmark {} is ahead of this database, which is at {}",
            encode_bookmark(p),
            encode_bookmark(db.position())
        )));
    }
    let outcome = |results, exec, position| Outcome {
        results,
        exec,
        position,
        size_after: if call.want_size {
            database_size(db)
        } else {
            None
        },
        served_by_primary: true,
        region: region.to_string(),
    };
    match &call.op {
        D1Op::One { sql, params } => {
            let (result, changed_db, position) = match db.query(sql, params) {
                Ok(result) => (result, false, db.position()),
                Err(outpost_data::Error::NotReadOnly) => {
                    let w = db.execute(sql, params).map_err(|e| query_error(&e))?;
                    (w.output, w.changed_db, w.position)
                }
                Err(e) => return Err(query_error(&e)),
            };
            Ok(outcome(vec![Ran::new(result, changed_db)], None, position))
        }
        D1Op::Batch { statements } => {
            let statements: Vec<Statement> = statements.iter().cloned().map(Into::into).collect();
            let w = db.batch(&statements).map_err(|e| query_error(&e))?;
            let results = w
                .output
                .into_iter()
                .zip(&statements)
                .map(|(result, s)| {
                    // The log records changes per transaction: a statement
                    // changed the database if it wrote rows, or is a schema
                    // statement of a transaction that changed it.
                    let changed_db = result.meta.rows_written > 0
                        || (w.changed_db && is_schema_statement(&s.sql));
                    Ran::new(result, changed_db)
                })
                .collect();
            Ok(outcome(results, None, w.position))
        }
        D1Op::Exec { sql } => match db.exec(sql) {
            Ok(w) => Ok(outcome(Vec::new(), Some(w.output), w.position)),
            Err(e) => {
                // D1 names the first line of the query whichever statement failed.
                let first_line = sql.trim().lines().next().unwrap_or("");
                let message = format!("Error in line 1: {first_line}: {}", sqlite_message(&e));
                Err(JsError::WithCause(
                    format!("D1_EXEC_ERROR: {message}"),
                    message,
                ))
            }
        },
    }
}

/// SQLite's primary result code names, as D1 appends them to messages.
fn code_name(extended_code: i32) -> &'static str {
    match extended_code & 0xff {
        2 => "SQLITE_INTERNAL",
        3 => "SQLITE_PERM",
        4 => "SQLITE_ABORT",
        5 => "SQLITE_BUSY",
        6 => "SQLITE_LOCKED",
        7 => "SQLITE_NOMEM",
        8 => "SQLITE_READONLY",
        9 => "SQLITE_INTERRUPT",
        10 => "SQLITE_IOERR",
        11 => "SQLITE_CORRUPT",
        12 => "SQLITE_NOTFOUND",
        13 => "SQLITE_FULL",
        14 => "SQLITE_CANTOPEN",
        15 => "SQLITE_PROTOCOL",
        16 => "SQLITE_EMPTY",
        17 => "SQLITE_SCHEMA",
        18 => "SQLITE_TOOBIG",
        19 => "SQLITE_CONSTRAINT",
        20 => "SQLITE_MISMATCH",
        21 => "SQLITE_MISUSE",
        22 => "SQLITE_NOLFS",
        23 => "SQLITE_AUTH",
        24 => "SQLITE_FORMAT",
        25 => "SQLITE_RANGE",
        26 => "SQLITE_NOTADB",
        _ => "SQLITE_ERROR",
    }
}

/// The message of a failed query as D1 words it (without the `D1_ERROR: `
/// prefix): SQLite's message and its result code name.
fn sqlite_message(e: &outpost_data::Error) -> String {
    use rusqlite::Error as E;
    match e {
        outpost_data::Error::Sqlite(E::SqliteFailure(code, msg)) => {
            let msg = msg.clone().unwrap_or_else(|| code.to_string());
            format!("{msg}: {}", code_name(code.extended_code))
        }
        outpost_data::Error::Sqlite(E::SqlInputError { error, msg, .. }) => {
            format!("{msg}: {}", code_name(error.extended_code))
        }
        outpost_data::Error::Sqlite(E::InvalidParameterCount(..)) => {
            "Wrong number of parameter bindings for SQL query.".into()
        }
        outpost_data::Error::Sqlite(E::MultipleStatement) => {
            "A prepared statement must hold exactly one SQL statement; use batch() or exec() for several.: SQLITE_ERROR".into()
        }
        outpost_data::Error::Sqlite(E::Empty) => "No SQL statements detected.: SQLITE_ERROR".into(),
        outpost_data::Error::Forbidden(reason) => format!("not authorized: {reason}: SQLITE_AUTH"),
        other => other.to_string(),
    }
}

fn query_error(e: &outpost_data::Error) -> JsError {
    d1_error(sqlite_message(e))
}

/// Whether `sql` starts (after comments) with CREATE, ALTER or DROP.
pub(crate) fn is_schema_statement(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    matches!(word.as_str(), "CREATE" | "ALTER" | "DROP")
}

/// The database file's size in bytes, as `meta.size_after` reports it.
fn database_size(db: &Primary) -> Option<u64> {
    let r = db
        .query(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
            &[],
        )
        .ok()?;
    match r.rows.first()?.first()? {
        outpost_data::Value::Integer(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}
