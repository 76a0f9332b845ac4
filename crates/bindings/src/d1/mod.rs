//! `env.DB`: the D1 Workers Binding API over an [`outpost_data::Primary`].
//!
//! API: <https://developers.cloudflare.com/d1/worker-api/>. The JS classes
//! keep workerd's names (`D1Database`, `D1DatabaseSession`,
//! `D1PreparedStatement`) and its result shapes and error texts
//! (`D1_ERROR: no such table: x: SQLITE_ERROR`, `D1_TYPE_ERROR: ...`,
//! `D1_COLUMN_NOTFOUND: ...`, `D1_EXEC_ERROR: ...`).
//!
//! Every call runs on the executor thread, inline: SQLite is local and each
//! statement takes microseconds, so the returned promise is already settled.
//! Reads go to the primary's read connection (they do not wait for writes);
//! a statement SQLite says is not read-only goes to the write connection in
//! its own transaction, and `batch()` runs in one transaction.
//!
//! Bookmarks are the data core's log positions, written as 16 hex digits so
//! that later bookmarks compare greater as strings (as D1's do).

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use outpost_data::{Durability, Meta, Position, Primary, Statement, StatementResult};
use outpost_runtime::EnvBinding;
use rquickjs::{
    class::Trace,
    function::{Opt, Rest},
    Array, Class, Ctx, JsLifetime, Object, Promise, Result, Value,
};

use crate::js::{self, JsError};

/// A D1 database as a binding: one local primary, shared by every isolate
/// (and executor thread) of the process.
#[derive(Debug, Clone)]
pub struct D1Binding {
    db: Arc<Primary>,
}

impl D1Binding {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> outpost_data::Result<Self> {
        Ok(Self::new(Arc::new(Primary::open_with(path, durability)?)))
    }

    /// A binding over an already open primary.
    pub fn new(db: Arc<Primary>) -> Self {
        Self { db }
    }

    /// The database behind the binding.
    pub fn primary(&self) -> &Arc<Primary> {
        &self.db
    }
}

impl EnvBinding for D1Binding {
    fn create<'js>(&self, ctx: &Ctx<'js>) -> Result<Value<'js>> {
        let db = D1Database {
            db: self.db.clone(),
            session: Rc::new(Session::new(Start::Primary)),
        };
        Ok(Class::instance(ctx.clone(), db)?.into_value())
    }
}

/// The constraint a session was started with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Start {
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
struct Session {
    start: Start,
    latest: Cell<Option<Position>>,
}

impl Session {
    fn new(start: Start) -> Self {
        let latest = match start {
            Start::Bookmark(p) => Some(p),
            _ => None,
        };
        Session {
            start,
            latest: Cell::new(latest),
        }
    }

    /// Every read here is served by the primary, which has every committed
    /// write: a bookmark the primary has reached is satisfied at once. One
    /// beyond it came from another database (or a deleted state directory).
    fn check(&self, db: &Primary) -> std::result::Result<(), JsError> {
        match self.latest.get() {
            Some(p) if p > db.position() => Err(d1_error(format!(
                "bookmark {} is ahead of this database, which is at {}",
                encode_bookmark(p),
                encode_bookmark(db.position())
            ))),
            _ => Ok(()),
        }
    }

    /// Records the position a query ran at (its commit, for a write).
    fn observe(&self, position: Position) {
        if self.start != Start::Primary && self.latest.get().is_none_or(|p| p < position) {
            self.latest.set(Some(position));
        }
    }
}

/// A bookmark's text: the position as 16 lower-case hex digits.
pub fn encode_bookmark(position: Position) -> String {
    format!("{position:016x}")
}

/// The position a bookmark names, if it is one.
pub fn decode_bookmark(text: &str) -> Option<Position> {
    if text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Position::from_str_radix(text, 16).ok()
    } else {
        None
    }
}

/// `D1_ERROR: <message>` with the message as its `cause`, as D1 rejects.
fn d1_error(message: String) -> JsError {
    JsError::WithCause(format!("D1_ERROR: {message}"), message)
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

/// One statement's outcome.
struct Ran {
    result: StatementResult,
    changed_db: bool,
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

/// Runs one statement: on the read connection when it is read-only, else
/// as a write transaction of its own.
fn run_one(
    db: &Primary,
    session: &Session,
    sql: &str,
    params: &[outpost_data::Value],
) -> std::result::Result<Ran, JsError> {
    session.check(db)?;
    let (result, changed_db, position) = match db.query(sql, params) {
        Ok(result) => (result, false, db.position()),
        Err(outpost_data::Error::NotReadOnly) => {
            let w = db.execute(sql, params).map_err(|e| query_error(&e))?;
            (w.output, w.changed_db, w.position)
        }
        Err(e) => return Err(query_error(&e)),
    };
    session.observe(position);
    Ok(Ran::new(result, changed_db))
}

/// Runs statements in one transaction (all or nothing).
fn run_batch(
    db: &Primary,
    session: &Session,
    statements: &[Statement],
) -> std::result::Result<Vec<Ran>, JsError> {
    session.check(db)?;
    let w = db.batch(statements).map_err(|e| query_error(&e))?;
    session.observe(w.position);
    Ok(w.output
        .into_iter()
        .zip(statements)
        .map(|(result, s)| {
            // The log records changes per transaction: a statement changed
            // the database if it wrote rows, or is a schema statement of a
            // transaction that changed it.
            let changed_db =
                result.meta.rows_written > 0 || (w.changed_db && is_schema_statement(&s.sql));
            Ran::new(result, changed_db)
        })
        .collect())
}

/// Whether `sql` starts (after comments) with CREATE, ALTER or DROP.
fn is_schema_statement(sql: &str) -> bool {
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

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `meta` object of a result.
fn meta_object<'js>(
    ctx: &Ctx<'js>,
    meta: &Meta,
    changed_db: bool,
    size_after: Option<u64>,
) -> Result<Object<'js>> {
    let num = |n: f64| Value::new_number(ctx.clone(), n);
    let timings = js::object(ctx, [("sql_duration_ms", num(millis(meta.duration)))])?;
    let obj = js::object(
        ctx,
        [
            (
                "served_by",
                rquickjs::String::from_str(ctx.clone(), "outpost")?.into_value(),
            ),
            (
                "served_by_region",
                rquickjs::String::from_str(ctx.clone(), "local")?.into_value(),
            ),
            ("served_by_primary", Value::new_bool(ctx.clone(), true)),
            ("timings", timings.into_value()),
            ("duration", num(millis(meta.duration))),
            ("changes", num(meta.changes as f64)),
            ("last_row_id", num(meta.last_row_id as f64)),
            ("changed_db", Value::new_bool(ctx.clone(), changed_db)),
        ],
    )?;
    if let Some(size) = size_after {
        obj.set("size_after", num(size as f64))?;
    }
    obj.set("rows_read", num(meta.rows_read as f64))?;
    obj.set("rows_written", num(meta.rows_written as f64))?;
    Ok(obj)
}

/// Rows as objects keyed by column name (a later duplicate name wins, as
/// with `Object.fromEntries`).
fn row_objects<'js>(ctx: &Ctx<'js>, result: &StatementResult) -> Result<Array<'js>> {
    let rows = Array::new(ctx.clone())?;
    for (i, row) in result.rows.iter().enumerate() {
        let obj = Object::new(ctx.clone())?;
        for (name, value) in result.columns.iter().zip(row) {
            obj.set(name.as_str(), js::sql_to_js(ctx, value)?)?;
        }
        rows.set(i, obj)?;
    }
    Ok(rows)
}

/// `{ success: true, meta, results }`.
fn result_object<'js>(ctx: &Ctx<'js>, ran: &Ran, size_after: Option<u64>) -> Result<Value<'js>> {
    Ok(js::object(
        ctx,
        [
            ("success", Value::new_bool(ctx.clone(), true)),
            (
                "meta",
                meta_object(ctx, &ran.result.meta, ran.changed_db, size_after)?.into_value(),
            ),
            ("results", row_objects(ctx, &ran.result)?.into_value()),
        ],
    )?
    .into_value())
}

/// Converts a bound JS value as D1's `bind()` does. Departure: a `bigint`
/// in the 64-bit range binds as an INTEGER (D1 refuses bigints).
fn bind_value<'js>(
    ctx: &Ctx<'js>,
    value: &Value<'js>,
) -> Result<std::result::Result<outpost_data::Value, JsError>> {
    use outpost_data::Value as V;
    if value.is_null() {
        return Ok(Ok(V::Null));
    }
    if let Some(b) = value.as_bool() {
        return Ok(Ok(V::Integer(b as i64)));
    }
    if let Some(i) = value.as_int() {
        return Ok(Ok(V::Integer(i64::from(i))));
    }
    if let Some(n) = value.as_float() {
        // 2^63 is exactly representable; i64::MAX is not.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        return Ok(Ok(if n.fract() == 0.0 && (-LIMIT..LIMIT).contains(&n) {
            V::Integer(n as i64)
        } else {
            V::Real(n)
        }));
    }
    if let Some(s) = value.as_string() {
        return Ok(Ok(V::Text(outpost_webapi::webidl::string_lossy(ctx, s)?)));
    }
    if value.is_big_int() {
        let text = js::display(ctx, value)?;
        return Ok(text.parse::<i64>().map(V::Integer).map_err(|_| {
            type_error_for(
                "bigint",
                &format!("{text} (outside the 64-bit INTEGER range)"),
            )
        }));
    }
    if let Some(array) = value.as_array() {
        let mut bytes = Vec::with_capacity(array.len());
        let mut all_bytes = true;
        for item in array.iter::<Value>() {
            match item?.as_number() {
                Some(b) if (0.0..256.0).contains(&b) => bytes.push(b as u8),
                _ => {
                    all_bytes = false;
                    break;
                }
            }
        }
        if all_bytes {
            return Ok(Ok(V::Blob(bytes)));
        }
    } else if let Some(bytes) = outpost_webapi::buffer::buffer_source_bytes(ctx, value)? {
        return Ok(Ok(V::Blob(bytes)));
    }
    Ok(Err(type_error_for(
        js::type_of(value),
        &js::display(ctx, value)?,
    )))
}

fn type_error_for(type_name: &str, shown: &str) -> JsError {
    let message = format!("Type '{type_name}' not supported for value '{shown}'");
    JsError::WithCause(format!("D1_TYPE_ERROR: {message}"), message)
}

/// The statements of a `batch()` argument.
fn batch_statements<'js>(
    statements: &Value<'js>,
) -> Result<std::result::Result<Vec<Statement>, JsError>> {
    let Some(array) = statements.as_array() else {
        return Ok(Err(JsError::Type(
            "D1_ERROR: batch() takes an array of prepared statements".into(),
        )));
    };
    let mut out = Vec::with_capacity(array.len());
    for (i, item) in array.iter::<Value>().enumerate() {
        let item = item?;
        match Class::<D1PreparedStatement>::from_value(&item) {
            Ok(stmt) => {
                let stmt = stmt.borrow();
                out.push(Statement::new(stmt.sql.clone(), stmt.params.clone()));
            }
            Err(_) => {
                return Ok(Err(JsError::Type(format!(
                    "D1_ERROR: batch() takes an array of prepared statements; element {i} is not one"
                ))));
            }
        }
    }
    Ok(Ok(out))
}

/// Runs `batch()` for a database or session and settles its promise.
fn batch_promise<'js>(
    ctx: &Ctx<'js>,
    db: &Primary,
    session: &Session,
    statements: &Value<'js>,
) -> Result<Promise<'js>> {
    let statements = match batch_statements(statements)? {
        Ok(s) => s,
        Err(e) => return js::rejected(ctx, &e),
    };
    match run_batch(db, session, &statements) {
        Ok(ran) => {
            let size = database_size(db);
            let out = Array::new(ctx.clone())?;
            for (i, r) in ran.iter().enumerate() {
                out.set(i, result_object(ctx, r, size)?)?;
            }
            js::settled(ctx, Ok(out.into_value()))
        }
        Err(e) => js::rejected(ctx, &e),
    }
}

/// `env.DB`: a D1 database.
#[derive(JsLifetime)]
#[rquickjs::class(rename = "D1Database")]
pub struct D1Database {
    db: Arc<Primary>,
    session: Rc<Session>,
}

impl<'js> Trace<'js> for D1Database {
    fn trace<'a>(&self, _tracer: rquickjs::class::Tracer<'a, 'js>) {}
}

#[rquickjs::methods(rename_all = "camelCase")]
impl D1Database {
    /// `prepare(query)`: a statement to bind and run later.
    fn prepare<'js>(&self, ctx: Ctx<'js>, query: Value<'js>) -> Result<D1PreparedStatement> {
        Ok(D1PreparedStatement {
            db: self.db.clone(),
            session: self.session.clone(),
            sql: js::to_string(&ctx, query)?,
            params: Vec::new(),
        })
    }

    /// `batch(statements)`: one transaction; rejects (and changes nothing)
    /// if any statement fails.
    fn batch<'js>(&self, ctx: Ctx<'js>, statements: Value<'js>) -> Result<Promise<'js>> {
        batch_promise(&ctx, &self.db, &self.session, &statements)
    }

    /// `exec(query)`: runs `;`-separated statements without parameters, in
    /// one transaction, and resolves to `{ count, duration }`.
    fn exec<'js>(&self, ctx: Ctx<'js>, query: Value<'js>) -> Result<Promise<'js>> {
        let sql = js::to_string(&ctx, query)?;
        match self.db.exec(&sql) {
            Ok(w) => {
                let summary = js::object(
                    &ctx,
                    [
                        (
                            "count",
                            Value::new_number(ctx.clone(), w.output.count as f64),
                        ),
                        (
                            "duration",
                            Value::new_number(ctx.clone(), millis(w.output.duration)),
                        ),
                    ],
                )?;
                js::settled(&ctx, Ok(summary.into_value()))
            }
            Err(e) => {
                // D1 names the first line of the query whichever statement failed.
                let first_line = sql.trim().lines().next().unwrap_or("");
                let message = format!("Error in line 1: {first_line}: {}", sqlite_message(&e));
                let error = JsError::WithCause(format!("D1_EXEC_ERROR: {message}"), message);
                js::rejected(&ctx, &error)
            }
        }
    }

    /// `withSession(constraintOrBookmark)`: `"first-unconstrained"` (the
    /// default), `"first-primary"`, or a bookmark from `getBookmark()`.
    #[qjs(rename = "withSession")]
    fn with_session<'js>(
        &self,
        ctx: Ctx<'js>,
        constraint: Opt<Value<'js>>,
    ) -> Result<D1DatabaseSession> {
        let text =
            match constraint.0 {
                None => String::new(),
                Some(v) if v.is_undefined() || v.is_null() => String::new(),
                Some(v) => match v.as_string() {
                    Some(s) => outpost_webapi::webidl::string_lossy(&ctx, s)?,
                    None => return Err(JsError::Type(
                        "D1_SESSION_ERROR: withSession() takes a constraint or a bookmark string"
                            .into(),
                    )
                    .throw(&ctx)),
                },
            };
        let start = match text.trim() {
            "" | "first-unconstrained" => Start::FirstUnconstrained,
            "first-primary" => Start::FirstPrimary,
            other => match decode_bookmark(other) {
                Some(p) => Start::Bookmark(p),
                None => {
                    return Err(JsError::Error(
                        "D1_SESSION_ERROR: invalid bookmark or constraint".into(),
                    )
                    .throw(&ctx))
                }
            },
        };
        Ok(D1DatabaseSession {
            db: self.db.clone(),
            session: Rc::new(Session::new(start)),
        })
    }
}

/// What `withSession()` returns.
#[derive(JsLifetime)]
#[rquickjs::class(rename = "D1DatabaseSession")]
pub struct D1DatabaseSession {
    db: Arc<Primary>,
    session: Rc<Session>,
}

impl<'js> Trace<'js> for D1DatabaseSession {
    fn trace<'a>(&self, _tracer: rquickjs::class::Tracer<'a, 'js>) {}
}

#[rquickjs::methods(rename_all = "camelCase")]
impl D1DatabaseSession {
    /// `prepare(query)`, as on the database, within this session.
    fn prepare<'js>(&self, ctx: Ctx<'js>, query: Value<'js>) -> Result<D1PreparedStatement> {
        Ok(D1PreparedStatement {
            db: self.db.clone(),
            session: self.session.clone(),
            sql: js::to_string(&ctx, query)?,
            params: Vec::new(),
        })
    }

    /// `batch(statements)`, as on the database, within this session.
    fn batch<'js>(&self, ctx: Ctx<'js>, statements: Value<'js>) -> Result<Promise<'js>> {
        batch_promise(&ctx, &self.db, &self.session, &statements)
    }

    /// The latest bookmark this session has seen: `null` before its first
    /// query when it started from a constraint.
    #[qjs(rename = "getBookmark")]
    fn get_bookmark<'js>(&self, ctx: Ctx<'js>) -> Result<Value<'js>> {
        match self.session.latest.get() {
            Some(p) => Ok(rquickjs::String::from_str(ctx, &encode_bookmark(p))?.into_value()),
            None => Ok(Value::new_null(ctx)),
        }
    }
}

/// A statement with its bound values.
#[derive(JsLifetime)]
#[rquickjs::class(rename = "D1PreparedStatement")]
pub struct D1PreparedStatement {
    db: Arc<Primary>,
    session: Rc<Session>,
    sql: String,
    params: Vec<outpost_data::Value>,
}

impl<'js> Trace<'js> for D1PreparedStatement {
    fn trace<'a>(&self, _tracer: rquickjs::class::Tracer<'a, 'js>) {}
}

impl D1PreparedStatement {
    fn run_one(&self) -> std::result::Result<Ran, JsError> {
        run_one(&self.db, &self.session, &self.sql, &self.params)
    }
}

#[rquickjs::methods(rename_all = "camelCase")]
impl D1PreparedStatement {
    /// The SQL text.
    #[qjs(get)]
    fn statement(&self) -> String {
        self.sql.clone()
    }

    /// `bind(...values)`: a new statement with these values (replacing any
    /// bound before). Throws `D1_TYPE_ERROR` for a value D1 cannot store.
    fn bind<'js>(&self, ctx: Ctx<'js>, values: Rest<Value<'js>>) -> Result<D1PreparedStatement> {
        let mut params = Vec::with_capacity(values.len());
        for v in values.iter() {
            match bind_value(&ctx, v)? {
                Ok(p) => params.push(p),
                Err(e) => return Err(e.throw(&ctx)),
            }
        }
        Ok(D1PreparedStatement {
            db: self.db.clone(),
            session: self.session.clone(),
            sql: self.sql.clone(),
            params,
        })
    }

    /// `first(column?)`: the first row as an object (or that column's
    /// value), `null` when there are no rows.
    fn first<'js>(&self, ctx: Ctx<'js>, column: Opt<Value<'js>>) -> Result<Promise<'js>> {
        let ran = match self.run_one() {
            Ok(r) => r,
            Err(e) => return js::rejected(&ctx, &e),
        };
        let Some(row) = ran.result.rows.first() else {
            return js::settled(&ctx, Ok(Value::new_null(ctx.clone())));
        };
        let column = match column.0 {
            Some(c) if !c.is_undefined() => Some(js::display(&ctx, &c)?),
            _ => None,
        };
        let value = match column {
            None => {
                let obj = Object::new(ctx.clone())?;
                for (name, value) in ran.result.columns.iter().zip(row) {
                    obj.set(name.as_str(), js::sql_to_js(&ctx, value)?)?;
                }
                obj.into_value()
            }
            Some(name) => match ran.result.columns.iter().rposition(|c| *c == name) {
                Some(i) => js::sql_to_js(&ctx, &row[i])?,
                None => {
                    let e = JsError::WithCause(
                        format!("D1_COLUMN_NOTFOUND: Column not found ({name})"),
                        "Column not found".into(),
                    );
                    return js::rejected(&ctx, &e);
                }
            },
        };
        js::settled(&ctx, Ok(value))
    }

    /// `all()`: `{ success, meta, results }` with every row as an object.
    fn all<'js>(&self, ctx: Ctx<'js>) -> Result<Promise<'js>> {
        match self.run_one() {
            Ok(ran) => {
                let size = database_size(&self.db);
                let result = result_object(&ctx, &ran, size);
                js::settled(&ctx, result)
            }
            Err(e) => js::rejected(&ctx, &e),
        }
    }

    /// `run()`: the same as `all()` (as D1 documents it).
    fn run<'js>(&self, ctx: Ctx<'js>) -> Result<Promise<'js>> {
        self.all(ctx)
    }

    /// `raw({ columnNames })`: rows as arrays, with the column names first
    /// when asked.
    fn raw<'js>(&self, ctx: Ctx<'js>, options: Opt<Value<'js>>) -> Result<Promise<'js>> {
        let column_names = match options.0.as_ref().and_then(Value::as_object) {
            Some(o) => outpost_webapi::webidl::to_bool(&ctx, o.get("columnNames")?)?,
            None => false,
        };
        let ran = match self.run_one() {
            Ok(r) => r,
            Err(e) => return js::rejected(&ctx, &e),
        };
        let out = Array::new(ctx.clone())?;
        let mut n = 0;
        if column_names {
            let names = Array::new(ctx.clone())?;
            for (i, c) in ran.result.columns.iter().enumerate() {
                names.set(i, c.as_str())?;
            }
            out.set(n, names)?;
            n += 1;
        }
        for row in &ran.result.rows {
            let arr = Array::new(ctx.clone())?;
            for (i, v) in row.iter().enumerate() {
                arr.set(i, js::sql_to_js(&ctx, v)?)?;
            }
            out.set(n, arr)?;
            n += 1;
        }
        js::settled(&ctx, Ok(out.into_value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookmarks_sort_as_positions() {
        assert_eq!(encode_bookmark(42), "000000000000002a");
        assert_eq!(decode_bookmark("000000000000002a"), Some(42));
        assert!(encode_bookmark(9) < encode_bookmark(10));
        assert!(encode_bookmark(255) < encode_bookmark(256));
        for bad in [
            "",
            "first-primary",
            "2a",
            "000000000000002g",
            "0000000000000002a",
        ] {
            assert_eq!(decode_bookmark(bad), None, "{bad}");
        }
    }

    #[test]
    fn schema_statements_are_recognised() {
        assert!(is_schema_statement("CREATE TABLE t(x)"));
        assert!(is_schema_statement("  -- note\n /* c */ drop table t"));
        assert!(is_schema_statement("alter TABLE t ADD y"));
        assert!(!is_schema_statement("INSERT INTO t VALUES(1)"));
        assert!(!is_schema_statement("-- CREATE\nSELECT 1"));
    }
}
