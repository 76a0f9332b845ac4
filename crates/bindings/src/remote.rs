//! Databases whose primary lives in another process: the calls a node sends
//! to a primary (D1 writes and primary reads, KV writes), their encoding,
//! and the primary side that runs them ([`serve`]).
//!
//! The encoding is JSON, owned here so that both ends agree by
//! construction; the transport is not: [`RemotePrimary`] is implemented by
//! the control crate over HTTP. SQL values keep their SQLite type through
//! JSON: integers are JSON integers (exact over the whole 64-bit range, as
//! serde_json reads and writes them), reals are JSON numbers with a
//! fraction or exponent, blobs are `{"blob": "<base64>"}`, and infinite
//! reals (which SQLite can hold) are `{"real": "inf" | "-inf"}`.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use base64::Engine as _;
use outpost_data::{Position, Statement, StatementResult, Value};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::js::JsError;
use crate::kv::{KvError, PutOptions};
use crate::LocalData;

/// The two kinds of replicated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataKind {
    /// A D1 (SQL) database.
    D1,
    /// A Workers KV namespace.
    Kv,
}

impl DataKind {
    /// The kind's name in URLs and directories: `d1` or `kv`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataKind::D1 => "d1",
            DataKind::Kv => "kv",
        }
    }

    /// Parses `d1` or `kv`.
    pub fn parse(s: &str) -> Option<DataKind> {
        match s {
            "d1" => Some(DataKind::D1),
            "kv" => Some(DataKind::Kv),
            _ => None,
        }
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The primary could not be asked (unreachable, refused the call, answered
/// something undecodable). The call's own failures (bad SQL, KV limits) are
/// answers, not `RemoteError`s.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct RemoteError(pub String);

/// A call in flight. Not `Send`: it runs on the executor thread that made it.
pub type RemoteFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, RemoteError>>>>;

/// The way to the primaries of the databases a node replicates.
pub trait RemotePrimary: Send + Sync + fmt::Debug {
    /// Sends one encoded call for database `id` of `kind` and resolves to
    /// the encoded answer.
    fn call(&self, kind: DataKind, id: &str, body: Vec<u8>) -> RemoteFuture;

    /// The region the primaries are in (for `meta.served_by_region`).
    fn region(&self) -> &str;
}

/// A call for a D1 database's primary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct D1Call {
    /// What to run.
    pub op: D1Op,
    /// The session's latest position: the primary refuses a call from a
    /// session that has seen more than it has (another database's bookmark).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_position: Option<Position>,
    /// Whether the answer needs the database's size (`meta.size_after`,
    /// shown by `all()`, `run()` and `batch()`): one more query on the
    /// primary, skipped for `first()`, `raw()` and `exec()`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub want_size: bool,
}

/// What a D1 call runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum D1Op {
    /// One prepared statement (read or write).
    One {
        sql: String,
        #[serde(with = "values")]
        params: Vec<Value>,
    },
    /// `batch()`: statements in one transaction.
    Batch { statements: Vec<WireStatement> },
    /// `exec()`: a script without parameters.
    Exec { sql: String },
}

/// One statement of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireStatement {
    pub sql: String,
    #[serde(with = "values")]
    pub params: Vec<Value>,
}

impl From<&Statement> for WireStatement {
    fn from(s: &Statement) -> Self {
        WireStatement {
            sql: s.sql.clone(),
            params: s.params.clone(),
        }
    }
}

impl From<WireStatement> for Statement {
    fn from(s: WireStatement) -> Self {
        Statement::new(s.sql, s.params)
    }
}

/// One statement's result as the primary reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WireResult {
    pub columns: Vec<String>,
    #[serde(with = "rows")]
    pub rows: Vec<Vec<Value>>,
    pub changes: u64,
    pub last_row_id: i64,
    pub rows_read: u64,
    pub rows_written: u64,
    pub duration_ms: f64,
    pub changed_db: bool,
}

impl WireResult {
    pub(crate) fn new(r: &StatementResult, changed_db: bool) -> WireResult {
        WireResult {
            columns: r.columns.clone(),
            rows: r.rows.clone(),
            changes: r.meta.changes,
            last_row_id: r.meta.last_row_id,
            rows_read: r.meta.rows_read,
            rows_written: r.meta.rows_written,
            duration_ms: r.meta.duration.as_secs_f64() * 1000.0,
            changed_db,
        }
    }

    pub(crate) fn into_result(self) -> (StatementResult, bool) {
        let meta = outpost_data::Meta {
            changes: self.changes,
            last_row_id: self.last_row_id,
            rows_read: self.rows_read,
            rows_written: self.rows_written,
            duration: std::time::Duration::from_secs_f64(self.duration_ms.max(0.0) / 1000.0),
        };
        (
            StatementResult {
                columns: self.columns,
                rows: self.rows,
                meta,
            },
            self.changed_db,
        )
    }
}

/// What a D1 call did on the primary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct D1Done {
    /// One result per statement (none for `exec()`).
    pub results: Vec<WireResult>,
    /// `exec()`'s statement count and duration in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<(usize, f64)>,
    /// The position the call ran at (its commit, for a write).
    pub position: Position,
    /// The database's size afterwards, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_after: Option<u64>,
}

/// The answer to a D1 call.
pub(crate) type D1Answer = Result<D1Done, JsError>;

/// A call for a KV namespace's primary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum KvCall {
    /// `put()`, the value already read and checked for size.
    Put {
        key: String,
        #[serde(with = "base64_bytes")]
        value: Vec<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expiration: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expiration_ttl: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metadata: Option<String>,
    },
    /// `delete()`.
    Delete { key: String },
    /// A read on the primary (`outpost kv get`).
    Get { key: String },
    /// A `list()` page on the primary (`outpost kv list`).
    List {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<String>,
    },
}

/// What a KV call did: a write's position, or what a read found.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KvDone {
    /// The primary's position after the call (the write's commit).
    pub position: Position,
    /// `Get`: the value (base64) and its metadata JSON, if the key is live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<(String, Option<String>)>,
    /// `List`: the keys of the page and the cursor of the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<(Vec<ListedKey>, Option<String>)>,
}

/// A key of a listed page: name, expiration (seconds since the epoch) and
/// metadata JSON.
pub type ListedKey = (String, Option<i64>, Option<String>);

/// A [`KvError`] as it travels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum WireKvError {
    Type {
        message: String,
    },
    Failed {
        op: String,
        status: u16,
        message: String,
    },
}

impl From<&KvError> for WireKvError {
    fn from(e: &KvError) -> Self {
        match e {
            KvError::Type(m) => WireKvError::Type { message: m.clone() },
            KvError::Failed {
                op,
                status,
                message,
            } => WireKvError::Failed {
                op: (*op).to_string(),
                status: *status,
                message: message.clone(),
            },
        }
    }
}

impl From<WireKvError> for KvError {
    fn from(e: WireKvError) -> Self {
        match e {
            WireKvError::Type { message } => KvError::Type(message),
            WireKvError::Failed {
                op,
                status,
                message,
            } => KvError::Failed {
                op: match op.as_str() {
                    "GET" => "GET",
                    "GET_BULK" => "GET_BULK",
                    "DELETE" => "DELETE",
                    _ => "PUT",
                },
                status,
                message,
            },
        }
    }
}

/// The answer to a KV call.
pub(crate) type KvAnswer = Result<KvDone, WireKvError>;

/// Why [`serve`] could not run a call at all.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The call is not one (HTTP 400).
    #[error("malformed {kind} call: {reason}")]
    Malformed {
        /// The kind of database called.
        kind: DataKind,
        /// What was wrong.
        reason: String,
    },
    /// The database could not be opened (HTTP 500).
    #[error(transparent)]
    Open(#[from] crate::OpenError),
}

/// The primary side: decodes a call for database `id` of `kind`, runs it on
/// the primary under `state_dir` (opened once through `data`), and encodes
/// the answer. `region` is the primary's region, as results report it.
pub fn serve(
    data: &LocalData,
    state_dir: &Path,
    kind: DataKind,
    id: &str,
    body: &[u8],
    region: &str,
) -> Result<Vec<u8>, ServeError> {
    let malformed = |e: serde_json::Error| ServeError::Malformed {
        kind,
        reason: e.to_string(),
    };
    match kind {
        DataKind::D1 => {
            let call: D1Call = serde_json::from_slice(body).map_err(malformed)?;
            let db = data.d1(state_dir, id)?;
            let primary = db.primary().ok_or_else(|| ServeError::Malformed {
                kind,
                reason: format!("database `{id}` is not a primary here"),
            })?;
            let answer: D1Answer =
                crate::d1::exec::on_primary(primary, &call, region).map(|o| o.to_wire());
            Ok(serde_json::to_vec(&answer).expect("answers serialise"))
        }
        DataKind::Kv => {
            let call: KvCall = serde_json::from_slice(body).map_err(malformed)?;
            let ns = data.kv(state_dir, id)?;
            let store = ns.store();
            let at = |position| KvDone {
                position,
                ..KvDone::default()
            };
            let head = || store.primary().map_or(0, |p| p.position());
            let answer: KvAnswer = match call {
                KvCall::Put {
                    key,
                    value,
                    expiration,
                    expiration_ttl,
                    metadata,
                } => store
                    .put(
                        &key,
                        &value,
                        &PutOptions {
                            expiration,
                            expiration_ttl,
                            metadata,
                        },
                    )
                    .map(at),
                KvCall::Delete { key } => store.delete(&key).map(at),
                KvCall::Get { key } => store.get(&key).map(|e| KvDone {
                    entry: e.map(|e| {
                        (
                            base64::engine::general_purpose::STANDARD.encode(e.value),
                            e.metadata,
                        )
                    }),
                    ..at(head())
                }),
                KvCall::List {
                    prefix,
                    limit,
                    cursor,
                } => store
                    .list(&crate::kv::ListOptions {
                        prefix,
                        limit,
                        cursor,
                    })
                    .map(|p| KvDone {
                        page: Some((
                            p.keys
                                .into_iter()
                                .map(|k| (k.name, k.expiration, k.metadata))
                                .collect(),
                            p.cursor,
                        )),
                        ..at(head())
                    }),
            }
            .map_err(|e| WireKvError::from(&e));
            Ok(serde_json::to_vec(&answer).expect("answers serialise"))
        }
    }
}

/// The encoded call that runs one SQL statement (`outpost db execute
/// --command`).
pub fn d1_statement_call(sql: &str) -> Vec<u8> {
    let op = D1Op::One {
        sql: sql.to_string(),
        params: Vec::new(),
    };
    serde_json::to_vec(&D1Call {
        op,
        min_position: None,
        want_size: false,
    })
    .expect("calls serialise")
}

/// The encoded call that runs a script of statements in one transaction
/// (`outpost db execute --file`).
pub fn d1_script_call(sql: &str) -> Vec<u8> {
    let op = D1Op::Exec {
        sql: sql.to_string(),
    };
    serde_json::to_vec(&D1Call {
        op,
        min_position: None,
        want_size: false,
    })
    .expect("calls serialise")
}

/// A D1 answer as the JSON `wrangler d1 execute --json` prints: a list of
/// `{results, success, meta}`, one per statement; `Err` with D1's message
/// when the call failed.
pub fn d1_answer_json(answer: &[u8]) -> Result<Json, String> {
    let answer: D1Answer = serde_json::from_slice(answer).map_err(|e| e.to_string())?;
    let done = answer.map_err(|e| match e {
        JsError::Error(m) | JsError::WithCause(m, _) | JsError::Type(m) => m,
    })?;
    if let Some((count, ms)) = done.exec {
        return Ok(serde_json::json!([{
            "results": [],
            "success": true,
            "meta": { "statements": count, "duration": ms, "position": done.position },
        }]));
    }
    Ok(Json::Array(
        done.results
            .iter()
            .map(|r| {
                let rows: Vec<Json> = r
                    .rows
                    .iter()
                    .map(|row| {
                        Json::Object(
                            r.columns
                                .iter()
                                .cloned()
                                .zip(row.iter().map(value_to_json))
                                .collect(),
                        )
                    })
                    .collect();
                serde_json::json!({
                    "results": rows,
                    "success": true,
                    "meta": {
                        "changes": r.changes,
                        "last_row_id": r.last_row_id,
                        "rows_read": r.rows_read,
                        "rows_written": r.rows_written,
                        "duration": r.duration_ms,
                        "position": done.position,
                    },
                })
            })
            .collect(),
    ))
}

/// The encoded KV call for `outpost kv put`.
pub fn kv_put_call(key: &str, value: Vec<u8>, expiration_ttl: Option<i64>) -> Vec<u8> {
    let call = KvCall::Put {
        key: key.to_string(),
        value,
        expiration: None,
        expiration_ttl,
        metadata: None,
    };
    serde_json::to_vec(&call).expect("calls serialise")
}

/// The encoded KV call for `outpost kv get`.
pub fn kv_get_call(key: &str) -> Vec<u8> {
    serde_json::to_vec(&KvCall::Get {
        key: key.to_string(),
    })
    .expect("calls serialise")
}

/// The encoded KV call for `outpost kv delete`.
pub fn kv_delete_call(key: &str) -> Vec<u8> {
    serde_json::to_vec(&KvCall::Delete {
        key: key.to_string(),
    })
    .expect("calls serialise")
}

/// The encoded KV call for `outpost kv list`.
pub fn kv_list_call(prefix: Option<&str>, limit: Option<i64>, cursor: Option<&str>) -> Vec<u8> {
    serde_json::to_vec(&KvCall::List {
        prefix: prefix.map(str::to_string),
        limit,
        cursor: cursor.map(str::to_string),
    })
    .expect("calls serialise")
}

/// Decodes a KV answer; `Err` with the KV service's message.
pub fn kv_answer(answer: &[u8]) -> Result<KvDone, String> {
    let answer: KvAnswer = serde_json::from_slice(answer).map_err(|e| e.to_string())?;
    answer.map_err(|e| KvError::from(e).to_string())
}

/// A SQL value as JSON (see the module header).
pub(crate) fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Integer(i) => Json::from(*i),
        Value::Real(f) if f.is_finite() => Json::from(*f),
        Value::Real(f) => serde_json::json!({ "real": if *f > 0.0 { "inf" } else { "-inf" } }),
        Value::Text(s) => Json::String(s.clone()),
        Value::Blob(b) => {
            serde_json::json!({ "blob": base64::engine::general_purpose::STANDARD.encode(b) })
        }
    }
}

/// The SQL value of [`value_to_json`]'s JSON.
pub(crate) fn value_from_json(j: Json) -> Result<Value, String> {
    Ok(match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Integer(b as i64),
        Json::Number(n) => match n.as_i64() {
            Some(i) if !n.is_f64() => Value::Integer(i),
            _ => Value::Real(n.as_f64().ok_or("number out of range")?),
        },
        Json::String(s) => Value::Text(s),
        Json::Object(o) => match (o.get("blob"), o.get("real")) {
            (Some(Json::String(b)), None) => Value::Blob(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|e| format!("bad blob: {e}"))?,
            ),
            (None, Some(Json::String(r))) if r == "inf" => Value::Real(f64::INFINITY),
            (None, Some(Json::String(r))) if r == "-inf" => Value::Real(f64::NEG_INFINITY),
            _ => return Err("unknown value object".into()),
        },
        Json::Array(_) => return Err("an array is not a SQL value".into()),
    })
}

mod values {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[Value], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(value_to_json))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
        Vec::<Json>::deserialize(d)?
            .into_iter()
            .map(|j| value_from_json(j).map_err(serde::de::Error::custom))
            .collect()
    }
}

mod rows {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(rows: &[Vec<Value>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            rows.iter()
                .map(|r| r.iter().map(value_to_json).collect::<Vec<_>>()),
        )
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Vec<Value>>, D::Error> {
        Vec::<Vec<Json>>::deserialize(d)?
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|j| value_from_json(j).map_err(serde::de::Error::custom))
                    .collect()
            })
            .collect()
    }
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_sqlite_type_through_json() {
        let values = vec![
            Value::Null,
            Value::Integer(i64::MAX),
            Value::Integer(i64::MIN),
            Value::Integer(1),
            Value::Real(1.0),
            Value::Real(-0.5),
            Value::Real(f64::INFINITY),
            Value::Real(f64::NEG_INFINITY),
            Value::Text("{\"blob\":1}".into()),
            Value::Blob(vec![0, 255, 1]),
        ];
        let call = D1Call {
            op: D1Op::One {
                sql: "SELECT ?".into(),
                params: values.clone(),
            },
            min_position: None,
            want_size: true,
        };
        let text = serde_json::to_string(&call).unwrap();
        let back: D1Call = serde_json::from_str(&text).unwrap();
        assert_eq!(back, call, "{text}");
    }

    #[test]
    fn kv_errors_keep_their_class_and_words() {
        for e in [
            KvError::Type("Key name cannot be empty.".into()),
            KvError::Failed {
                op: "PUT",
                status: 413,
                message: "too big".into(),
            },
        ] {
            let text = serde_json::to_string(&WireKvError::from(&e)).unwrap();
            let back: WireKvError = serde_json::from_str(&text).unwrap();
            assert_eq!(KvError::from(back), e);
        }
    }
}
