//! `outpost db` and `outpost kv`: operate on D1 databases and KV namespaces,
//! either on a control plane (where the primaries are; default) or, with
//! `--local`, on the state of `outpost dev` beside the config
//! (`.outpost/d1/<id>.sqlite`, `.outpost/kv/<id>.sqlite`).
//!
//! Both paths send the same encoded calls (`outpost_bindings::remote`): to
//! `POST /v1/data/<kind>/<id>` on the control plane, or straight into the
//! local file, so what `db execute` does is what a worker's query does.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context as _};
use base64::Engine as _;
use bytes::Bytes;
use http::Method;
use outpost_bindings::remote::{self, DataKind};
use outpost_bindings::LocalData;
use outpost_config::WorkerConfig;
use serde_json::Value as Json;

use crate::remote::{block_on, RemoteArgs};

/// Where the databases are.
#[derive(clap::Args, Debug)]
pub struct Place {
    #[command(flatten)]
    remote: RemoteArgs,
    /// Use `outpost dev`'s local state (`.outpost/` beside the config)
    /// instead of the control plane.
    #[arg(long, global = true)]
    local: bool,
}

/// Arguments of `outpost db`.
#[derive(clap::Args, Debug)]
pub struct DbArgs {
    #[command(flatten)]
    place: Place,
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(clap::Subcommand, Debug)]
enum DbCommand {
    /// List the D1 databases and their log positions.
    List,
    /// Create a database (nothing happens if it exists).
    Create {
        /// Database id, or a name or binding from the config.
        name: String,
    },
    /// Run SQL: one statement with `--command` (its rows are printed), or a
    /// script in one transaction with `--file`.
    Execute {
        /// Database id, or a name or binding from the config.
        name: String,
        /// One SQL statement.
        #[arg(long, conflicts_with = "file", required_unless_present = "file")]
        command: Option<String>,
        /// A file of `;`-separated statements, run in one transaction.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Print the results as JSON (as `wrangler d1 execute --json`).
        #[arg(long)]
        json: bool,
    },
    /// Print the database as SQL statements (schema, then rows).
    Export {
        /// Database id, or a name or binding from the config.
        name: String,
    },
}

/// Arguments of `outpost kv`.
#[derive(clap::Args, Debug)]
pub struct KvArgs {
    #[command(flatten)]
    place: Place,
    #[command(subcommand)]
    command: KvCommand,
}

#[derive(clap::Subcommand, Debug)]
enum KvCommand {
    /// Store a value (`-` reads it from stdin).
    Put {
        /// Namespace id, or a binding from the config.
        namespace: String,
        key: String,
        value: String,
        /// Expire after this many seconds (at least 60).
        #[arg(long)]
        ttl: Option<i64>,
    },
    /// Print a value (as text; bytes that are not UTF-8 are replaced).
    Get { namespace: String, key: String },
    /// Delete a key.
    Delete { namespace: String, key: String },
    /// List keys.
    List {
        namespace: String,
        #[arg(long)]
        prefix: Option<String>,
        #[arg(long)]
        limit: Option<i64>,
    },
}

/// A way to the databases: the control plane, or local files.
enum Target {
    Remote(outpost_control::Client),
    Local { data: LocalData, dir: PathBuf },
}

impl Target {
    fn new(place: &Place, config: Option<&WorkerConfig>) -> anyhow::Result<Target> {
        if place.local {
            let base = config.map_or_else(|| PathBuf::from("."), |c| c.dir().to_path_buf());
            Ok(Target::Local {
                data: LocalData::new(),
                dir: base.join(outpost_bindings::STATE_DIR),
            })
        } else {
            Ok(Target::Remote(place.remote.client(config)?))
        }
    }

    fn call(&self, kind: DataKind, id: &str, body: Vec<u8>) -> anyhow::Result<Vec<u8>> {
        match self {
            Target::Local { data, dir } => Ok(remote::serve(data, dir, kind, id, &body, "local")?),
            Target::Remote(client) => {
                let reply = block_on(client.call(
                    Method::POST,
                    &format!("/v1/data/{kind}/{id}"),
                    &[("content-type", "application/json".into())],
                    Bytes::from(body),
                ))??;
                Ok(reply.body.to_vec())
            }
        }
    }

    fn d1(&self, id: &str, body: Vec<u8>) -> anyhow::Result<Json> {
        let answer = self.call(DataKind::D1, id, body)?;
        remote::d1_answer_json(&answer).map_err(|e| anyhow!(e))
    }

    fn kv(&self, id: &str, body: Vec<u8>) -> anyhow::Result<remote::KvDone> {
        let answer = self.call(DataKind::Kv, id, body)?;
        remote::kv_answer(&answer).map_err(|e| anyhow!(e))
    }
}

/// The id of the D1 database the config calls `name` (by binding or
/// `database_name`), else `name` itself.
fn d1_id(config: Option<&WorkerConfig>, name: &str) -> String {
    config
        .into_iter()
        .flat_map(|c| &c.d1_databases)
        .find(|d| d.binding == name || d.database_name == name || d.database_id == name)
        .map(|d| match d.database_id.as_str() {
            "" => d.database_name.clone(),
            id => id.to_string(),
        })
        .unwrap_or_else(|| name.to_string())
}

/// The id of the KV namespace the config binds as `name`, else `name`.
fn kv_id(config: Option<&WorkerConfig>, name: &str) -> String {
    config
        .into_iter()
        .flat_map(|c| &c.kv_namespaces)
        .find(|k| k.binding == name)
        .map_or_else(|| name.to_string(), |k| k.id.clone())
}

/// `outpost db ...`.
pub fn db(args: DbArgs) -> anyhow::Result<()> {
    let config = args.place.remote.config()?;
    let target = Target::new(&args.place, config.as_ref())?;
    match args.command {
        DbCommand::List => list(&target, DataKind::D1),
        DbCommand::Create { name } => {
            let id = d1_id(config.as_ref(), &name);
            target.d1(&id, remote::d1_statement_call("SELECT 1"))?;
            println!("Database `{id}` is ready.");
            Ok(())
        }
        DbCommand::Execute {
            name,
            command,
            file,
            json,
        } => {
            let id = d1_id(config.as_ref(), &name);
            let body = match (command, file) {
                (Some(sql), _) => remote::d1_statement_call(&sql),
                (None, Some(f)) => remote::d1_script_call(
                    &std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?,
                ),
                (None, None) => bail!("give --command SQL or --file FILE"),
            };
            let out = target.d1(&id, body)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_results(&out);
            }
            Ok(())
        }
        DbCommand::Export { name } => export(&target, &d1_id(config.as_ref(), &name)),
    }
}

fn list(target: &Target, kind: DataKind) -> anyhow::Result<()> {
    match target {
        Target::Remote(client) => {
            let list: Vec<outpost_control::data::DatabaseInfo> =
                block_on(client.get_json("/v1/data"))??;
            for d in list.iter().filter(|d| d.kind == kind.as_str()) {
                let primary = match &d.node {
                    Some(node) => format!("primary on node {node} in region `{}`", d.region),
                    None => format!("primary with the control plane (region `{}`)", d.region),
                };
                println!("{:<40} position {:<8} {primary}", d.id, d.position);
            }
        }
        Target::Local { dir, .. } => {
            for id in outpost_bindings::stored_ids(dir, kind.as_str()) {
                println!("{id}");
            }
        }
    }
    Ok(())
}

/// Rows as `column = value` lines, then the counters.
fn print_results(out: &Json) {
    for statement in out.as_array().into_iter().flatten() {
        let rows = statement["results"].as_array().cloned().unwrap_or_default();
        for row in &rows {
            let fields: Vec<String> = row
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k} = {}", show(v)))
                .collect();
            println!("{}", fields.join(", "));
        }
        let meta = &statement["meta"];
        match meta.get("statements") {
            Some(n) => println!("Ran {n} statements."),
            None => println!(
                "{} rows; {} changed, {} read, {} written.",
                rows.len(),
                meta["changes"],
                meta["rows_read"],
                meta["rows_written"]
            ),
        }
    }
}

fn show(v: &Json) -> String {
    match v {
        Json::Null => "NULL".into(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value as a SQL literal.
fn literal(v: &Json) -> anyhow::Result<String> {
    Ok(match v {
        Json::Null => "NULL".into(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => format!("'{}'", s.replace('\'', "''")),
        Json::Object(o) => match (o.get("blob"), o.get("real")) {
            (Some(Json::String(b)), _) => {
                let bytes = base64::engine::general_purpose::STANDARD.decode(b)?;
                format!(
                    "X'{}'",
                    bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
                )
            }
            (_, Some(Json::String(r))) if r == "inf" => "9e999".into(),
            (_, Some(Json::String(_))) => "-9e999".into(),
            _ => bail!("unexpected value {v}"),
        },
        other => bail!("unexpected value {other}"),
    })
}

fn rows(out: &Json) -> Vec<serde_json::Map<String, Json>> {
    out[0]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_object().cloned())
        .collect()
}

/// Schema and rows as SQL, tables first and the other objects (indexes,
/// views, triggers) after the rows.
fn export(target: &Target, id: &str) -> anyhow::Result<()> {
    let schema = target.d1(
        id,
        remote::d1_statement_call(
            "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_outpost_%' ORDER BY type = 'table' DESC, rowid",
        ),
    )?;
    println!("PRAGMA defer_foreign_keys=TRUE;");
    let objects = rows(&schema);
    for o in objects.iter().filter(|o| o["type"] == "table") {
        println!("{};", show(&o["sql"]));
        let name = show(&o["name"]);
        let data = target.d1(
            id,
            remote::d1_statement_call(&format!("SELECT * FROM \"{}\"", name.replace('"', "\"\""))),
        )?;
        for row in rows(&data) {
            let columns: Vec<String> = row
                .keys()
                .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
                .collect();
            let values = row
                .values()
                .map(literal)
                .collect::<anyhow::Result<Vec<_>>>()?;
            println!(
                "INSERT INTO \"{}\" ({}) VALUES({});",
                name.replace('"', "\"\""),
                columns.join(","),
                values.join(",")
            );
        }
    }
    for o in objects.iter().filter(|o| o["type"] != "table") {
        println!("{};", show(&o["sql"]));
    }
    Ok(())
}

/// `outpost kv ...`.
pub fn kv(args: KvArgs) -> anyhow::Result<()> {
    let config = args.place.remote.config()?;
    let target = Target::new(&args.place, config.as_ref())?;
    let ns = |n: &str| kv_id(config.as_ref(), n);
    match args.command {
        KvCommand::Put {
            namespace,
            key,
            value,
            ttl,
        } => {
            let bytes = if value == "-" {
                let mut b = Vec::new();
                std::io::stdin().read_to_end(&mut b)?;
                b
            } else {
                value.into_bytes()
            };
            target.kv(&ns(&namespace), remote::kv_put_call(&key, bytes, ttl))?;
            println!("Wrote `{key}`.");
        }
        KvCommand::Get { namespace, key } => {
            let done = target.kv(&ns(&namespace), remote::kv_get_call(&key))?;
            match done.entry {
                Some((b64, _)) => {
                    let bytes = base64::engine::general_purpose::STANDARD.decode(b64)?;
                    println!("{}", String::from_utf8_lossy(&bytes));
                }
                None => bail!("no key `{key}`"),
            }
        }
        KvCommand::Delete { namespace, key } => {
            target.kv(&ns(&namespace), remote::kv_delete_call(&key))?;
            println!("Deleted `{key}`.");
        }
        KvCommand::List {
            namespace,
            prefix,
            limit,
        } => {
            let id = ns(&namespace);
            let mut cursor: Option<String> = None;
            let mut left = limit;
            loop {
                let done = target.kv(
                    &id,
                    remote::kv_list_call(prefix.as_deref(), left, cursor.as_deref()),
                )?;
                let (keys, next) = done.page.unwrap_or_default();
                for (name, expiration, _) in &keys {
                    match expiration {
                        Some(e) => println!("{name}\t(expires {e})"),
                        None => println!("{name}"),
                    }
                }
                if let Some(l) = left.as_mut() {
                    *l -= keys.len() as i64;
                    if *l <= 0 {
                        break;
                    }
                }
                match next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
    }
    Ok(())
}
