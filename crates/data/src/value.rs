//! SQL values, statements and results as callers see them.

use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};

use crate::Position;

/// A SQLite value, as D1 maps them: `NULL`, a 64-bit integer, a double, text or a blob.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL `NULL`.
    Null,
    /// A 64-bit signed integer.
    Integer(i64),
    /// An IEEE double.
    Real(f64),
    /// UTF-8 text (invalid UTF-8 stored by other tools is read lossily).
    Text(String),
    /// A byte string.
    Blob(Vec<u8>),
}

impl Value {
    pub(crate) fn from_ref(v: ValueRef<'_>) -> Value {
        match v {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One SQL statement with its positional parameters (`?`, `?NNN`), as in a
/// D1 `batch()`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The SQL text of exactly one statement.
    pub sql: String,
    /// Values bound to the statement's parameters, in order.
    pub params: Vec<Value>,
}

impl Statement {
    /// A statement with parameters.
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Statement {
            sql: sql.into(),
            params,
        }
    }
}

/// Counters for one statement, as D1 reports them in `meta`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    /// Rows changed by the statement itself (`sqlite3_changes`); 0 for a read-only statement.
    pub changes: u64,
    /// The connection's last inserted rowid after the statement (`sqlite3_last_insert_rowid`).
    pub last_row_id: i64,
    /// Rows read. SQLite has no exact counter: this is the rows the statement
    /// returned plus its full-scan steps (`SQLITE_STMTSTATUS_FULLSCAN_STEP`).
    pub rows_read: u64,
    /// Rows written, including those written by triggers and foreign-key
    /// actions (the change in `sqlite3_total_changes`).
    pub rows_written: u64,
    /// Time spent preparing and running the statement.
    pub duration: Duration,
}

/// The rows and counters of one statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatementResult {
    /// Result column names, in order (empty for statements that return no columns).
    pub columns: Vec<String>,
    /// Result rows; each has one value per column.
    pub rows: Vec<Vec<Value>>,
    /// The statement's counters.
    pub meta: Meta,
}

/// What a write on the primary returns: its output plus where it landed in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Write<T> {
    /// The statements' results.
    pub output: T,
    /// The bookmark: the log position of this write's commit if it changed the
    /// database, else the primary's position when it ran. A replica at this
    /// position or later has seen the write.
    pub position: Position,
    /// Whether the write changed the database (and so added a log entry).
    pub changed_db: bool,
}

/// The result of [`Primary::exec`](crate::Primary::exec), like D1's `exec()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecSummary {
    /// Statements run.
    pub count: usize,
    /// Time spent running them (not counting the commit).
    pub duration: Duration,
}
