//! `env.DB`: the D1 Workers Binding API.
//!
//! API: <https://developers.cloudflare.com/d1/worker-api/>. The JS classes
//! keep workerd's names (`D1Database`, `D1DatabaseSession`,
//! `D1PreparedStatement`) and its result shapes and error texts
//! (`D1_ERROR: no such table: x: SQLITE_ERROR`, `D1_TYPE_ERROR: ...`,
//! `D1_COLUMN_NOTFOUND: ...`, `D1_EXEC_ERROR: ...`).
//!
//! Where a call runs is [`exec`]'s business: with the primary in this
//! process (`outpost dev`, the embedded node) every call runs inline on the
//! executor thread (a local statement takes microseconds, so the returned
//! promise is already settled); on a node that holds a replica, session
//! reads run on the replica and everything else goes to the primary over
//! the network, settling the promise later.
//!
//! Bookmarks are the data core's log positions, written as 16 hex digits so
//! that later bookmarks compare greater as strings (as D1's do).

pub(crate) mod exec;

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
use crate::remote::{D1Op, WireStatement};
use exec::{Outcome, Pending, Ran, Session, Start, Target};
pub use exec::{ReplicaLink, REPLICA_WAIT};

/// A D1 database as a binding, shared by every isolate (and executor
/// thread) of the process: a primary here, or a replica with its primary
/// elsewhere.
#[derive(Debug, Clone)]
pub struct D1Binding {
    target: Target,
}

impl D1Binding {
    /// Opens (creating if needed) the database file at `path` as a primary.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> outpost_data::Result<Self> {
        Ok(Self::new(Arc::new(Primary::open_with(path, durability)?)))
    }

    /// A binding over a primary in this process (region `local`).
    pub fn new(db: Arc<Primary>) -> Self {
        Self::local_in(db, "local")
    }

    /// A binding over a primary in this process, in `region`.
    pub fn local_in(db: Arc<Primary>, region: &str) -> Self {
        Self {
            target: Target::Local(db, region.to_string()),
        }
    }

    /// A binding over a local replica whose primary is elsewhere.
    pub fn replicated(link: ReplicaLink) -> Self {
        Self {
            target: Target::Replica(Arc::new(link)),
        }
    }

    /// The primary behind the binding, when it is in this process.
    pub fn primary(&self) -> Option<&Arc<Primary>> {
        match &self.target {
            Target::Local(db, _) => Some(db),
            Target::Replica(_) => None,
        }
    }
}

impl EnvBinding for D1Binding {
    fn create<'js>(&self, ctx: &Ctx<'js>) -> Result<Value<'js>> {
        let db = D1Database {
            target: self.target.clone(),
            session: Rc::new(Session::new(Start::Primary)),
        };
        Ok(Class::instance(ctx.clone(), db)?.into_value())
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
pub(crate) fn d1_error(message: String) -> JsError {
    JsError::WithCause(format!("D1_ERROR: {message}"), message)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `meta` object of a result.
fn meta_object<'js>(
    ctx: &Ctx<'js>,
    meta: &Meta,
    changed_db: bool,
    outcome: &Outcome,
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
                rquickjs::String::from_str(ctx.clone(), &outcome.region)?.into_value(),
            ),
            (
                "served_by_primary",
                Value::new_bool(ctx.clone(), outcome.served_by_primary),
            ),
            ("timings", timings.into_value()),
            ("duration", num(millis(meta.duration))),
            ("changes", num(meta.changes as f64)),
            ("last_row_id", num(meta.last_row_id as f64)),
            ("changed_db", Value::new_bool(ctx.clone(), changed_db)),
        ],
    )?;
    if let Some(size) = outcome.size_after {
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
fn result_object<'js>(ctx: &Ctx<'js>, ran: &Ran, outcome: &Outcome) -> Result<Value<'js>> {
    Ok(js::object(
        ctx,
        [
            ("success", Value::new_bool(ctx.clone(), true)),
            (
                "meta",
                meta_object(ctx, &ran.result.meta, ran.changed_db, outcome)?.into_value(),
            ),
            ("results", row_objects(ctx, &ran.result)?.into_value()),
        ],
    )?
    .into_value())
}

/// A promise for `pending`: settled now when the outcome is known, else
/// when it arrives. `to_js` makes the fulfilled value.
fn respond<'js>(
    ctx: &Ctx<'js>,
    pending: Pending,
    to_js: impl FnOnce(&Ctx<'js>, Outcome) -> std::result::Result<Result<Value<'js>>, JsError> + 'js,
) -> Result<Promise<'js>> {
    let finish = move |ctx: &Ctx<'js>, done: std::result::Result<Outcome, JsError>| match done
        .and_then(|o| to_js(ctx, o))
    {
        Ok(value) => value,
        Err(e) => Err(e.throw(ctx)),
    };
    match pending {
        Pending::Ready(done) => {
            let value = finish(ctx, done);
            js::settled(ctx, value)
        }
        Pending::Later(future) => {
            let ctx2 = ctx.clone();
            Promise::wrap_future(ctx, async move {
                let done = future.await;
                finish(&ctx2, done)
            })
        }
    }
}

/// The only statement result of a one-statement outcome.
fn only(outcome: &Outcome) -> std::result::Result<&Ran, JsError> {
    outcome
        .results
        .first()
        .ok_or_else(|| d1_error("the primary answered without a result".into()))
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

/// Runs `batch()` for a database or session.
fn batch_promise<'js>(
    ctx: &Ctx<'js>,
    target: &Target,
    session: &Rc<Session>,
    statements: &Value<'js>,
) -> Result<Promise<'js>> {
    let statements = match batch_statements(statements)? {
        Ok(s) => s,
        Err(e) => return js::rejected(ctx, &e),
    };
    let op = D1Op::Batch {
        statements: statements.iter().map(WireStatement::from).collect(),
    };
    respond(ctx, exec::run(target, session, op, true), |ctx, outcome| {
        let out = (|| {
            let out = Array::new(ctx.clone())?;
            for (i, r) in outcome.results.iter().enumerate() {
                out.set(i, result_object(ctx, r, &outcome)?)?;
            }
            Ok(out.into_value())
        })();
        Ok(out)
    })
}

fn prepare<'js>(
    ctx: &Ctx<'js>,
    target: &Target,
    session: &Rc<Session>,
    query: Value<'js>,
) -> Result<D1PreparedStatement> {
    Ok(D1PreparedStatement {
        target: target.clone(),
        session: session.clone(),
        sql: js::to_string(ctx, query)?,
        params: Vec::new(),
    })
}

/// `env.DB`: a D1 database.
#[derive(JsLifetime)]
#[rquickjs::class(rename = "D1Database")]
pub struct D1Database {
    target: Target,
    session: Rc<Session>,
}

impl<'js> Trace<'js> for D1Database {
    fn trace<'a>(&self, _tracer: rquickjs::class::Tracer<'a, 'js>) {}
}

#[rquickjs::methods(rename_all = "camelCase")]
impl D1Database {
    /// `prepare(query)`: a statement to bind and run later.
    fn prepare<'js>(&self, ctx: Ctx<'js>, query: Value<'js>) -> Result<D1PreparedStatement> {
        prepare(&ctx, &self.target, &self.session, query)
    }

    /// `batch(statements)`: one transaction; rejects (and changes nothing)
    /// if any statement fails.
    fn batch<'js>(&self, ctx: Ctx<'js>, statements: Value<'js>) -> Result<Promise<'js>> {
        batch_promise(&ctx, &self.target, &self.session, &statements)
    }

    /// `exec(query)`: runs `;`-separated statements without parameters, in
    /// one transaction, and resolves to `{ count, duration }`.
    fn exec<'js>(&self, ctx: Ctx<'js>, query: Value<'js>) -> Result<Promise<'js>> {
        let sql = js::to_string(&ctx, query)?;
        let pending = exec::run(&self.target, &self.session, D1Op::Exec { sql }, false);
        respond(&ctx, pending, |ctx, outcome| {
            let summary = outcome.exec.unwrap_or(outpost_data::ExecSummary {
                count: 0,
                duration: Duration::ZERO,
            });
            Ok(js::object(
                ctx,
                [
                    (
                        "count",
                        Value::new_number(ctx.clone(), summary.count as f64),
                    ),
                    (
                        "duration",
                        Value::new_number(ctx.clone(), millis(summary.duration)),
                    ),
                ],
            )
            .map(Object::into_value))
        })
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
            target: self.target.clone(),
            session: Rc::new(Session::new(start)),
        })
    }
}

/// What `withSession()` returns.
#[derive(JsLifetime)]
#[rquickjs::class(rename = "D1DatabaseSession")]
pub struct D1DatabaseSession {
    target: Target,
    session: Rc<Session>,
}

impl<'js> Trace<'js> for D1DatabaseSession {
    fn trace<'a>(&self, _tracer: rquickjs::class::Tracer<'a, 'js>) {}
}

#[rquickjs::methods(rename_all = "camelCase")]
impl D1DatabaseSession {
    /// `prepare(query)`, as on the database, within this session.
    fn prepare<'js>(&self, ctx: Ctx<'js>, query: Value<'js>) -> Result<D1PreparedStatement> {
        prepare(&ctx, &self.target, &self.session, query)
    }

    /// `batch(statements)`, as on the database, within this session.
    fn batch<'js>(&self, ctx: Ctx<'js>, statements: Value<'js>) -> Result<Promise<'js>> {
        batch_promise(&ctx, &self.target, &self.session, &statements)
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
    target: Target,
    session: Rc<Session>,
    sql: String,
    params: Vec<outpost_data::Value>,
}

impl<'js> Trace<'js> for D1PreparedStatement {
    fn trace<'a>(&self, _tracer: rquickjs::class::Tracer<'a, 'js>) {}
}

impl D1PreparedStatement {
    /// Runs the statement; `want_size` for the methods that report `meta`.
    fn run_one(&self, want_size: bool) -> Pending {
        exec::run(
            &self.target,
            &self.session,
            D1Op::One {
                sql: self.sql.clone(),
                params: self.params.clone(),
            },
            want_size,
        )
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
            target: self.target.clone(),
            session: self.session.clone(),
            sql: self.sql.clone(),
            params,
        })
    }

    /// `first(column?)`: the first row as an object (or that column's
    /// value), `null` when there are no rows.
    fn first<'js>(&self, ctx: Ctx<'js>, column: Opt<Value<'js>>) -> Result<Promise<'js>> {
        let column = match column.0 {
            Some(c) if !c.is_undefined() => Some(js::display(&ctx, &c)?),
            _ => None,
        };
        respond(&ctx, self.run_one(false), move |ctx, outcome| {
            let ran = only(&outcome)?;
            let Some(row) = ran.result.rows.first() else {
                return Ok(Ok(Value::new_null(ctx.clone())));
            };
            match column {
                None => Ok((|| {
                    let obj = Object::new(ctx.clone())?;
                    for (name, value) in ran.result.columns.iter().zip(row) {
                        obj.set(name.as_str(), js::sql_to_js(ctx, value)?)?;
                    }
                    Ok(obj.into_value())
                })()),
                Some(name) => match ran.result.columns.iter().rposition(|c| *c == name) {
                    Some(i) => Ok(js::sql_to_js(ctx, &row[i])),
                    None => Err(JsError::WithCause(
                        format!("D1_COLUMN_NOTFOUND: Column not found ({name})"),
                        "Column not found".into(),
                    )),
                },
            }
        })
    }

    /// `all()`: `{ success, meta, results }` with every row as an object.
    fn all<'js>(&self, ctx: Ctx<'js>) -> Result<Promise<'js>> {
        respond(&ctx, self.run_one(true), |ctx, outcome| {
            Ok(result_object(ctx, only(&outcome)?, &outcome))
        })
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
        respond(&ctx, self.run_one(false), move |ctx, outcome| {
            let ran = only(&outcome)?;
            Ok((|| {
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
                        arr.set(i, js::sql_to_js(ctx, v)?)?;
                    }
                    out.set(n, arr)?;
                    n += 1;
                }
                Ok(out.into_value())
            })())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exec::is_schema_statement;

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
