//! The control plane's durable state: one SQLite database under the state
//! directory.
//!
//! SQLite rather than JSON files, because one deploy touches several
//! objects at once (the bundle it names, a new version row, the active
//! pointer, the worker's routes, the state version nodes follow), and a
//! SQLite transaction makes all of them change together or not at all,
//! across crashes, without a hand-rolled write-ahead scheme; bundles are
//! kept as blobs keyed by their hash in the same file. The database runs in
//! WAL mode. rusqlite is already the workspace's SQLite (the data layer
//! uses it), so nothing new is built.
//!
//! Tokens are stored as SHA-256 hashes only; secrets are stored as given
//! (the directory and database are private to the user running Outpost) and
//! leave the store only in [`Store::snapshot`], the state nodes follow.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use sha2::{Digest, Sha256};

use outpost_node::RoutePattern;

use crate::api::{
    valid_worker_name, CreatedToken, Deployed, DesiredState, NewVersion, Placement, RouteEntry,
    RoutesInfo, Scope, TokenInfo, VersionInfo, WorkerInfo, WorkerState,
};
use crate::ControlError;

/// Largest secret value accepted (bytes).
pub const MAX_SECRET_BYTES: usize = 64 * 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bundles (
    hash TEXT PRIMARY KEY, data BLOB NOT NULL, modules INTEGER NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS workers (
    name TEXT PRIMARY KEY, active INTEGER, deployment INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    worker TEXT NOT NULL, version INTEGER NOT NULL, bundle TEXT NOT NULL REFERENCES bundles(hash),
    vars TEXT NOT NULL, cpu_ms INTEGER, message TEXT, created INTEGER NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (worker, version));
CREATE TABLE IF NOT EXISTS secrets (
    worker TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (worker, key));
CREATE TABLE IF NOT EXISTS routes (pattern TEXT PRIMARY KEY, worker TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS placements (
    kind TEXT NOT NULL, id TEXT NOT NULL, region TEXT NOT NULL, node TEXT NOT NULL,
    url TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (kind, id));
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL);
";

/// The refusal of a `primary_region` (`wanted`) that contradicts the region
/// where the primary of database `id` of `kind` already is (`placed`): data
/// does not move.
pub(crate) fn region_conflict(kind: &str, id: &str, placed: &str, wanted: &str) -> ControlError {
    ControlError::Conflict(format!(
        "{kind} database `{id}` has its primary in region `{placed}`, not `{wanted}`: a primary \
         stays where it was first placed"
    ))
}

/// The control plane's state database.
pub struct Store {
    conn: Connection,
    cluster: String,
    domain: String,
    region: String,
    data_token: String,
}

/// What opening the store found.
pub struct Opened {
    /// The store.
    pub store: Store,
    /// On the very first start, the admin token just created (to be written
    /// to a file for the operator); `None` afterwards.
    pub new_admin_token: Option<String>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Column `i` as a `u64` (SQLite integers are `i64`; ours are never negative).
fn u(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    r.get::<_, i64>(i).map(|v| v as u64)
}

fn opt_u(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<u64>> {
    r.get::<_, Option<i64>>(i).map(|v| v.map(|v| v as u64))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], ControlError> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b)
        .map_err(|e| ControlError::Internal(format!("no randomness: {e}")))?;
    Ok(b)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn meta(tx: &Connection, key: &str) -> Result<Option<String>, ControlError> {
    Ok(tx
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn set_meta(tx: &Connection, key: &str, value: &str) -> Result<(), ControlError> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

/// Increments and returns the state version.
fn bump(tx: &Transaction<'_>) -> Result<u64, ControlError> {
    let v: u64 = meta(tx, "state_version")?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
        + 1;
    set_meta(tx, "state_version", &v.to_string())?;
    Ok(v)
}

fn parse_vars(text: &str) -> BTreeMap<String, serde_json::Value> {
    serde_json::from_str(text).unwrap_or_default()
}

fn check_worker_name(name: &str) -> Result<(), ControlError> {
    if valid_worker_name(name) {
        Ok(())
    } else {
        Err(ControlError::BadRequest(format!(
            "invalid worker name `{name}`: use 1-63 lower-case letters, digits and `-`"
        )))
    }
}

fn check_binding_name(kind: &str, name: &str) -> Result<(), ControlError> {
    if outpost_config::is_js_identifier(name) {
        Ok(())
    } else {
        Err(ControlError::BadRequest(format!(
            "invalid {kind} name `{name}`: it must be a JavaScript identifier"
        )))
    }
}

/// A database id: what `[[d1_databases]] database_id` and
/// `[[kv_namespaces]] id` hold, and a file name on every node.
pub(crate) fn check_data_id(id: &str) -> Result<(), ControlError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ControlError::BadRequest(format!(
            "invalid database id `{id}`: use 1 to 128 of A-Z a-z 0-9 . _ -"
        )))
    }
}

impl Store {
    /// Names the control plane's region (where the data primaries are), as
    /// the desired state reports it. `local` until set.
    pub fn set_region(&mut self, region: &str) {
        self.region = region.to_string();
    }

    /// Opens (or creates) the database at `path`. `domain` is the domain of
    /// default hosts; changing it from the last start changes the state.
    pub fn open(path: &Path, domain: &str) -> Result<Opened, ControlError> {
        if !path.exists() {
            // The database holds secrets: private to the owner from the
            // start (SQLite gives its -wal and -shm files the same mode).
            crate::write_private(path, b"")?;
        }
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        // State directories from before data bindings were deployed.
        let has_data: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info('versions') WHERE name = 'data')",
            [],
            |r| r.get(0),
        )?;
        if !has_data {
            conn.execute_batch("ALTER TABLE versions ADD COLUMN data TEXT NOT NULL DEFAULT '{}'")?;
        }
        let tx = conn.transaction()?;
        let (cluster, first) = match meta(&tx, "cluster")? {
            Some(c) => (c, false),
            None => {
                let c = hex(&random_bytes::<8>()?);
                set_meta(&tx, "cluster", &c)?;
                set_meta(&tx, "state_version", "0")?;
                (c, true)
            }
        };
        let data_token = match meta(&tx, "data_token")? {
            Some(t) => t,
            None => {
                let t = format!("outpost_data_{}", hex(&random_bytes::<24>()?));
                set_meta(&tx, "data_token", &t)?;
                t
            }
        };
        if meta(&tx, "domain")?.as_deref() != Some(domain) {
            set_meta(&tx, "domain", domain)?;
            bump(&tx)?;
        }
        tx.commit()?;
        let mut store = Store {
            conn,
            cluster,
            region: "local".to_string(),
            domain: domain.to_string(),
            data_token,
        };
        let new_admin_token = if first {
            Some(store.create_token("admin", Scope::Admin)?.token)
        } else {
            None
        };
        Ok(Opened {
            store,
            new_admin_token,
        })
    }

    /// The current state version.
    pub fn state_version(&self) -> Result<u64, ControlError> {
        Ok(meta(&self.conn, "state_version")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    /// The desired state nodes follow (with secrets).
    pub fn snapshot(&self) -> Result<DesiredState, ControlError> {
        let mut secrets: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        {
            let mut q = self
                .conn
                .prepare("SELECT worker, key, value FROM secrets")?;
            let rows = q.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (w, k, v) = row?;
                secrets.entry(w).or_default().insert(k, v);
            }
        }
        let mut q = self.conn.prepare(
            "SELECT w.name, w.active, w.deployment, v.bundle, v.vars, v.cpu_ms, v.data
             FROM workers w JOIN versions v ON v.worker = w.name AND v.version = w.active
             ORDER BY w.name",
        )?;
        let workers = q
            .query_map([], |r| {
                Ok(WorkerState {
                    name: r.get(0)?,
                    version: u(r, 1)?,
                    deployment: u(r, 2)?,
                    bundle: r.get(3)?,
                    vars: parse_vars(&r.get::<_, String>(4)?),
                    secrets: BTreeMap::new(),
                    cpu_ms: r.get(5)?,
                    data: serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .map(|mut w| {
                w.secrets = secrets.remove(&w.name).unwrap_or_default();
                w
            })
            .collect();
        Ok(DesiredState {
            cluster: self.cluster.clone(),
            version: self.state_version()?,
            domain: self.domain.clone(),
            region: self.region.clone(),
            workers,
            routes: self.route_entries()?,
            placements: self.placements()?,
            data_token: self.data_token.clone(),
        })
    }

    /// The databases whose primary a node holds.
    pub fn placements(&self) -> Result<Vec<Placement>, ControlError> {
        let mut q = self
            .conn
            .prepare("SELECT kind, id, region, node, url FROM placements ORDER BY kind, id")?;
        let rows = q.query_map([], |r| {
            Ok(Placement {
                kind: r.get(0)?,
                id: r.get(1)?,
                region: r.get(2)?,
                node: r.get(3)?,
                url: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records that `placement.node` holds the primary of a database from
    /// now on. A placement is permanent: the data lives there.
    ///
    /// Returns the new state version, or `None` if the database was already
    /// placed in the same region (a deploy that raced this one recorded it
    /// first; its node stays). A database already placed in another region
    /// is refused with [`ControlError::Conflict`].
    pub fn place(&mut self, placement: &Placement) -> Result<Option<u64>, ControlError> {
        let tx = self.conn.transaction()?;
        // The deploy handler decides on a placement from the published
        // state, before it takes the store lock, so two deploys of the same
        // new database both get here with one. The row already there wins
        // (the first deploy's node may have created the data by now); the
        // later one is only acceptable if it agrees on the region.
        let n = tx.execute(
            "INSERT INTO placements (kind, id, region, node, url, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (kind, id) DO NOTHING",
            params![
                placement.kind,
                placement.id,
                placement.region,
                placement.node,
                placement.url,
                now()
            ],
        )?;
        if n == 0 {
            let placed: String = tx.query_row(
                "SELECT region FROM placements WHERE kind = ?1 AND id = ?2",
                [&placement.kind, &placement.id],
                |r| r.get(0),
            )?;
            if placed != placement.region {
                return Err(region_conflict(
                    &placement.kind,
                    &placement.id,
                    &placed,
                    &placement.region,
                ));
            }
            return Ok(None);
        }
        let sv = bump(&tx)?;
        tx.commit()?;
        Ok(Some(sv))
    }

    /// The region where a node holds the primary of database `id` of
    /// `kind`, if one does. Read from the store itself, so under the store
    /// lock it is current, unlike the published state.
    pub fn placed_region(&self, kind: &str, id: &str) -> Result<Option<String>, ControlError> {
        Ok(self
            .conn
            .query_row(
                "SELECT region FROM placements WHERE kind = ?1 AND id = ?2",
                [kind, id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Records that `node` now serves its data API at `url` (a restarted
    /// node may listen elsewhere); the state changes only if it moved.
    pub fn move_data_url(&mut self, node: &str, url: &str) -> Result<(), ControlError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE placements SET url = ?2 WHERE node = ?1 AND url <> ?2",
            [node, url],
        )?;
        if n > 0 {
            bump(&tx)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn route_entries(&self) -> Result<Vec<RouteEntry>, ControlError> {
        let mut q = self
            .conn
            .prepare("SELECT pattern, worker FROM routes ORDER BY pattern")?;
        let rows = q.query_map([], |r| {
            Ok(RouteEntry {
                pattern: r.get(0)?,
                worker: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores an already verified bundle; returns whether it was new.
    pub fn put_bundle(
        &mut self,
        hash: &str,
        bytes: &[u8],
        modules: usize,
    ) -> Result<bool, ControlError> {
        let n = self.conn.execute(
            "INSERT OR IGNORE INTO bundles (hash, data, modules, created) VALUES (?1, ?2, ?3, ?4)",
            params![hash, bytes, modules as i64, now()],
        )?;
        Ok(n > 0)
    }

    /// A bundle's wire bytes.
    pub fn bundle(&self, hash: &str) -> Result<Option<Vec<u8>>, ControlError> {
        Ok(self
            .conn
            .query_row("SELECT data FROM bundles WHERE hash = ?1", [hash], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Creates a new version of `worker` and makes it active, atomically.
    pub fn create_version(
        &mut self,
        worker: &str,
        new: &NewVersion,
    ) -> Result<Deployed, ControlError> {
        check_worker_name(worker)?;
        for name in new.vars.keys() {
            check_binding_name("var", name)?;
        }
        if let Some(ms) = new.cpu_ms {
            if !(1..=outpost_config::MAX_CPU_MS).contains(&ms) {
                return Err(ControlError::BadRequest(format!(
                    "cpu_ms must be between 1 and {}, found {ms}",
                    outpost_config::MAX_CPU_MS
                )));
            }
        }
        let routes = match &new.routes {
            Some(r) => Some(
                r.iter()
                    .map(|p| {
                        RoutePattern::parse(p)
                            .map(|p| p.as_str().to_string())
                            .map_err(|e| ControlError::BadRequest(e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        let vars =
            serde_json::to_string(&new.vars).map_err(|e| ControlError::Internal(e.to_string()))?;
        for b in new.data.d1.iter().chain(&new.data.kv) {
            check_binding_name("binding", &b.binding)?;
            check_data_id(&b.id)?;
        }
        let data =
            serde_json::to_string(&new.data).map_err(|e| ControlError::Internal(e.to_string()))?;
        let tx = self.conn.transaction()?;
        let known: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM bundles WHERE hash = ?1)",
            [&new.bundle],
            |r| r.get(0),
        )?;
        if !known {
            return Err(ControlError::BadRequest(format!(
                "bundle {} has not been uploaded: PUT /v1/bundles/{} first",
                new.bundle, new.bundle
            )));
        }
        if let Some(routes) = &routes {
            for pattern in routes {
                let owner: Option<String> = tx
                    .query_row(
                        "SELECT worker FROM routes WHERE pattern = ?1",
                        [pattern],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(owner) = owner.filter(|o| o != worker) {
                    return Err(ControlError::Conflict(format!(
                        "route `{pattern}` already belongs to worker `{owner}`"
                    )));
                }
            }
        }
        let version: u64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM versions WHERE worker = ?1",
            [worker],
            |r| u(r, 0),
        )?;
        let sv = bump(&tx)?;
        tx.execute(
            "INSERT INTO versions (worker, version, bundle, vars, cpu_ms, message, created, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                worker,
                version as i64,
                new.bundle,
                vars,
                new.cpu_ms,
                new.message,
                now(),
                data
            ],
        )?;
        tx.execute(
            "INSERT INTO workers (name, active, deployment, created) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET active = excluded.active,
                 deployment = excluded.deployment",
            params![worker, version as i64, sv as i64, now()],
        )?;
        if let Some(routes) = routes {
            tx.execute("DELETE FROM routes WHERE worker = ?1", [worker])?;
            for pattern in routes {
                tx.execute(
                    "INSERT INTO routes (pattern, worker) VALUES (?1, ?2)",
                    [&pattern, worker],
                )?;
            }
        }
        tx.commit()?;
        Ok(Deployed {
            worker: worker.to_string(),
            version,
            deployment: sv,
            state_version: sv,
        })
    }

    fn active(tx: &Connection, worker: &str) -> Result<Option<u64>, ControlError> {
        Ok(tx
            .query_row(
                "SELECT active FROM workers WHERE name = ?1",
                [worker],
                |r| opt_u(r, 0),
            )
            .optional()?
            .flatten())
    }

    /// Makes an earlier version active again (the one before the active
    /// version when `version` is `None`).
    pub fn rollback(
        &mut self,
        worker: &str,
        version: Option<u64>,
    ) -> Result<Deployed, ControlError> {
        let tx = self.conn.transaction()?;
        let Some(active) = Self::active(&tx, worker)? else {
            return Err(ControlError::NotFound(format!(
                "worker `{worker}` has no deployed version"
            )));
        };
        let target = match version {
            Some(v) => {
                let exists: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM versions WHERE worker = ?1 AND version = ?2)",
                    params![worker, v as i64],
                    |r| r.get(0),
                )?;
                if !exists {
                    return Err(ControlError::NotFound(format!(
                        "worker `{worker}` has no version {v}"
                    )));
                }
                v
            }
            None => tx
                .query_row(
                    "SELECT MAX(version) FROM versions WHERE worker = ?1 AND version < ?2",
                    params![worker, active as i64],
                    |r| opt_u(r, 0),
                )?
                .ok_or_else(|| {
                    ControlError::NotFound(format!(
                        "worker `{worker}` has no version before {active} to roll back to"
                    ))
                })?,
        };
        if target == active {
            return Err(ControlError::Conflict(format!(
                "version {target} of `{worker}` is already active"
            )));
        }
        let sv = bump(&tx)?;
        tx.execute(
            "UPDATE workers SET active = ?2, deployment = ?3 WHERE name = ?1",
            params![worker, target as i64, sv as i64],
        )?;
        tx.commit()?;
        Ok(Deployed {
            worker: worker.to_string(),
            version: target,
            deployment: sv,
            state_version: sv,
        })
    }

    /// Every version of `worker`, newest first.
    pub fn versions(&self, worker: &str) -> Result<Vec<VersionInfo>, ControlError> {
        let active = Self::active(&self.conn, worker)?;
        let mut q = self.conn.prepare(
            "SELECT version, bundle, created, vars, cpu_ms, message FROM versions
             WHERE worker = ?1 ORDER BY version DESC",
        )?;
        let list = q
            .query_map([worker], |r| {
                let version = u(r, 0)?;
                Ok(VersionInfo {
                    version,
                    bundle: r.get(1)?,
                    created: u(r, 2)?,
                    active: Some(version) == active,
                    vars: parse_vars(&r.get::<_, String>(3)?),
                    cpu_ms: r.get(4)?,
                    message: r.get(5)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        if list.is_empty() {
            return Err(ControlError::NotFound(format!("no worker `{worker}`")));
        }
        Ok(list)
    }

    /// Every worker with versions.
    pub fn workers(&self) -> Result<Vec<WorkerInfo>, ControlError> {
        let mut q = self.conn.prepare(
            "SELECT w.name, w.active, w.deployment,
                (SELECT COUNT(*) FROM versions v WHERE v.worker = w.name)
             FROM workers w ORDER BY w.name",
        )?;
        let rows = q
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, opt_u(r, 1)?, u(r, 2)?, u(r, 3)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let routes = self.route_entries()?;
        rows.into_iter()
            .map(|(name, active, deployment, versions)| {
                Ok(WorkerInfo {
                    secrets: self.secret_names(&name)?,
                    default_host: format!("{name}.{}", self.domain),
                    routes: routes
                        .iter()
                        .filter(|r| r.worker == name)
                        .map(|r| r.pattern.clone())
                        .collect(),
                    name,
                    active_version: active,
                    deployment,
                    versions,
                })
            })
            .collect()
    }

    /// Sets a secret; returns the new state version.
    pub fn put_secret(
        &mut self,
        worker: &str,
        key: &str,
        value: &str,
    ) -> Result<u64, ControlError> {
        check_worker_name(worker)?;
        check_binding_name("secret", key)?;
        if value.len() > MAX_SECRET_BYTES {
            return Err(ControlError::BadRequest(format!(
                "secret `{key}` is {} bytes; the limit is {MAX_SECRET_BYTES}",
                value.len()
            )));
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO secrets (worker, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (worker, key) DO UPDATE SET value = excluded.value",
            [worker, key, value],
        )?;
        let sv = Self::redeploy(&tx, worker)?;
        tx.commit()?;
        Ok(sv)
    }

    /// Deletes a secret; returns the new state version.
    pub fn delete_secret(&mut self, worker: &str, key: &str) -> Result<u64, ControlError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "DELETE FROM secrets WHERE worker = ?1 AND key = ?2",
            [worker, key],
        )?;
        if n == 0 {
            return Err(ControlError::NotFound(format!(
                "worker `{worker}` has no secret `{key}`"
            )));
        }
        let sv = Self::redeploy(&tx, worker)?;
        tx.commit()?;
        Ok(sv)
    }

    /// After a change to a worker's secrets: a new deployment if it is live.
    fn redeploy(tx: &Transaction<'_>, worker: &str) -> Result<u64, ControlError> {
        if Self::active(tx, worker)?.is_some() {
            let sv = bump(tx)?;
            tx.execute(
                "UPDATE workers SET deployment = ?2 WHERE name = ?1",
                params![worker, sv as i64],
            )?;
            Ok(sv)
        } else {
            Ok(meta(tx, "state_version")?
                .and_then(|s| s.parse().ok())
                .unwrap_or(0))
        }
    }

    /// Names of a worker's secrets.
    pub fn secret_names(&self, worker: &str) -> Result<Vec<String>, ControlError> {
        let mut q = self
            .conn
            .prepare("SELECT key FROM secrets WHERE worker = ?1 ORDER BY key")?;
        let rows = q.query_map([worker], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds a route, or points an existing pattern at `worker`.
    pub fn put_route(&mut self, pattern: &str, worker: &str) -> Result<u64, ControlError> {
        let pattern =
            RoutePattern::parse(pattern).map_err(|e| ControlError::BadRequest(e.to_string()))?;
        check_worker_name(worker)?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO routes (pattern, worker) VALUES (?1, ?2)
             ON CONFLICT (pattern) DO UPDATE SET worker = excluded.worker",
            [pattern.as_str(), worker],
        )?;
        let sv = bump(&tx)?;
        tx.commit()?;
        Ok(sv)
    }

    /// Removes a route.
    pub fn delete_route(&mut self, pattern: &str) -> Result<u64, ControlError> {
        let tx = self.conn.transaction()?;
        let n = tx.execute("DELETE FROM routes WHERE pattern = ?1", [pattern.trim()])?;
        if n == 0 {
            return Err(ControlError::NotFound(format!("no route `{pattern}`")));
        }
        let sv = bump(&tx)?;
        tx.commit()?;
        Ok(sv)
    }

    /// Routes, most specific first, and default hosts.
    pub fn routes(&self) -> Result<RoutesInfo, ControlError> {
        let mut routes = self.route_entries()?;
        routes.sort_by_key(|r| {
            std::cmp::Reverse(
                RoutePattern::parse(&r.pattern)
                    .map(|p| p.specificity())
                    .unwrap_or_default(),
            )
        });
        let default_hosts = self
            .snapshot()?
            .workers
            .into_iter()
            .map(|w| RouteEntry {
                pattern: format!("{}.{}/*", w.name, self.domain),
                worker: w.name,
            })
            .collect();
        Ok(RoutesInfo {
            domain: self.domain.clone(),
            routes,
            default_hosts,
        })
    }

    /// Creates a token; its secret is returned this once.
    pub fn create_token(&mut self, name: &str, scope: Scope) -> Result<CreatedToken, ControlError> {
        if name.trim().is_empty() || name.len() > 100 {
            return Err(ControlError::BadRequest(
                "a token needs a name of 1-100 characters".into(),
            ));
        }
        let token = format!(
            "opt_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<24>()?)
        );
        let info = TokenInfo {
            id: hex(&random_bytes::<6>()?),
            name: name.to_string(),
            scope,
            created: now() as u64,
        };
        self.conn.execute(
            "INSERT INTO tokens (id, name, scope, hash, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                info.id,
                info.name,
                scope.as_str(),
                token_hash(&token),
                info.created as i64
            ],
        )?;
        Ok(CreatedToken { info, token })
    }

    /// Revokes a token by id.
    pub fn revoke_token(&mut self, id: &str) -> Result<(), ControlError> {
        let n = self
            .conn
            .execute("DELETE FROM tokens WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(ControlError::NotFound(format!("no token `{id}`")));
        }
        Ok(())
    }

    /// Every token (without secrets).
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, ControlError> {
        let mut q = self
            .conn
            .prepare("SELECT id, name, scope, created FROM tokens ORDER BY created, id")?;
        let rows = q.query_map([], Self::token_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenInfo> {
        Ok(TokenInfo {
            id: r.get(0)?,
            name: r.get(1)?,
            scope: Scope::parse(&r.get::<_, String>(2)?).unwrap_or(Scope::Read),
            created: u(r, 3)?,
        })
    }

    /// The token a bearer secret belongs to, if any.
    pub fn authenticate(&self, token: &str) -> Result<Option<TokenInfo>, ControlError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, name, scope, created FROM tokens WHERE hash = ?1",
                [token_hash(token)],
                Self::token_row,
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("outpost-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.join("control.sqlite")
    }

    fn upload(store: &mut Store, body: &str) -> String {
        let b = outpost_runtime::Bundle::from_sources(
            "index.js",
            [("index.js".to_string(), body.to_string())],
        );
        let bytes = b.to_wire();
        let hash = outpost_runtime::content_hash(&bytes);
        store.put_bundle(&hash, &bytes, 1).unwrap();
        hash
    }

    fn deploy(store: &mut Store, worker: &str, bundle: &str) -> Result<Deployed, ControlError> {
        store.create_version(
            worker,
            &NewVersion {
                bundle: bundle.into(),
                ..NewVersion::default()
            },
        )
    }

    #[test]
    fn versions_rollback_secrets_and_restart() {
        let path = tmp("versions");
        let opened = Store::open(&path, "localhost").unwrap();
        assert!(opened.new_admin_token.is_some());
        let mut s = opened.store;
        let v0 = s.state_version().unwrap();
        let a = upload(&mut s, "export default 1;");
        let b = upload(&mut s, "export default 2;");
        let d1 = deploy(&mut s, "hello", &a).unwrap();
        let d2 = deploy(&mut s, "hello", &b).unwrap();
        assert_eq!((d1.version, d2.version), (1, 2));
        assert!(d2.deployment > d1.deployment && d1.deployment > v0);
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.workers.len(), 1);
        assert_eq!(snap.workers[0].bundle, b);

        // Secrets are in the state nodes follow, never in listings.
        let sv = s.put_secret("hello", "API_KEY", "s3cret").unwrap();
        let snap = s.snapshot().unwrap();
        assert_eq!(snap.version, sv);
        assert_eq!(snap.workers[0].deployment, sv);
        assert_eq!(snap.workers[0].secrets["API_KEY"], "s3cret");
        let listed = serde_json::to_string(&s.workers().unwrap()).unwrap();
        assert!(
            listed.contains("API_KEY") && !listed.contains("s3cret"),
            "{listed}"
        );

        let r = s.rollback("hello", None).unwrap();
        assert_eq!(r.version, 1);
        assert!(matches!(
            s.rollback("hello", None),
            Err(ControlError::NotFound(_))
        ));
        assert!(matches!(
            s.rollback("hello", Some(1)),
            Err(ControlError::Conflict(_))
        ));
        assert_eq!(s.rollback("hello", Some(2)).unwrap().version, 2);
        assert!(matches!(
            s.rollback("hello", Some(9)),
            Err(ControlError::NotFound(_))
        ));
        assert!(matches!(
            deploy(&mut s, "hello", &"0".repeat(64)),
            Err(ControlError::BadRequest(_))
        ));
        assert!(matches!(
            deploy(&mut s, "Bad_Name", &a),
            Err(ControlError::BadRequest(_))
        ));
        let before = s.snapshot().unwrap();
        drop(s);

        // A restart sees the same state, and no new admin token.
        let opened = Store::open(&path, "localhost").unwrap();
        assert!(opened.new_admin_token.is_none());
        assert_eq!(opened.store.snapshot().unwrap(), before);
        // A new domain is a state change.
        let opened = Store::open(&path, "example.net").unwrap();
        let after = opened.store.snapshot().unwrap();
        assert_eq!(after.domain, "example.net");
        assert!(after.version > before.version);
    }

    #[test]
    fn routes_and_tokens() {
        let mut s = Store::open(&tmp("routes"), "localhost").unwrap().store;
        let a = upload(&mut s, "export default 1;");
        deploy(&mut s, "site", &a).unwrap();
        s.create_version(
            "api",
            &NewVersion {
                bundle: a.clone(),
                routes: Some(vec!["example.com/api/*".into()]),
                ..NewVersion::default()
            },
        )
        .unwrap();
        s.put_route("example.com/*", "site").unwrap();
        assert!(matches!(
            s.put_route("example.com", "site"),
            Err(ControlError::BadRequest(_))
        ));
        let taken = s.create_version(
            "site",
            &NewVersion {
                bundle: a.clone(),
                routes: Some(vec!["example.com/api/*".into()]),
                ..NewVersion::default()
            },
        );
        assert!(matches!(taken, Err(ControlError::Conflict(_))), "{taken:?}");
        let r = s.routes().unwrap();
        let patterns: Vec<_> = r.routes.iter().map(|r| r.pattern.as_str()).collect();
        assert_eq!(patterns, ["example.com/api/*", "example.com/*"]);
        assert_eq!(r.default_hosts.len(), 2);
        s.delete_route("example.com/*").unwrap();
        assert!(matches!(
            s.delete_route("example.com/*"),
            Err(ControlError::NotFound(_))
        ));

        let t = s.create_token("ci", Scope::Deploy).unwrap();
        assert_eq!(
            s.authenticate(&t.token).unwrap().unwrap().scope,
            Scope::Deploy
        );
        assert!(s.authenticate("opt_nope").unwrap().is_none());
        s.revoke_token(&t.info.id).unwrap();
        assert!(s.authenticate(&t.token).unwrap().is_none());
    }

    /// Two deploys of the same new database each decide on a placement from
    /// the same published state (no placement yet) before taking the store
    /// lock, then apply it one after the other: the second must not fail on
    /// the primary key, but be accepted if it agrees on the region and
    /// refused as a conflict if it does not.
    #[test]
    fn racing_placements_of_one_database() {
        let path = tmp("race");
        let mut s = Store::open(&path, "localhost").unwrap().store;
        let snapshot = s.snapshot().unwrap();
        assert!(snapshot.placements.is_empty());
        let placement = |region: &str, node: &str| Placement {
            kind: "d1".into(),
            id: "shop".into(),
            region: region.into(),
            node: node.into(),
            url: format!("http://{node}.internal:9000"),
        };
        let first = placement("eu", "node-a");
        let same_region = placement("eu", "node-b");
        let other_region = placement("us", "node-c");

        s.place(&first).unwrap();
        let placed = s.state_version().unwrap();
        assert_eq!(
            s.placed_region("d1", "shop").unwrap().as_deref(),
            Some("eu")
        );

        // Same region: accepted, and the first placement (its node) stays.
        let again = s.place(&same_region);
        assert!(again.is_ok(), "{again:?}");
        assert_eq!(s.placements().unwrap(), std::slice::from_ref(&first));
        assert_eq!(s.state_version().unwrap(), placed, "nothing changed");

        // Another region: refused with the region-change message, not a
        // storage error.
        match s.place(&other_region) {
            Err(ControlError::Conflict(m)) => assert_eq!(
                m,
                "d1 database `shop` has its primary in region `eu`, not `us`: a primary stays \
                 where it was first placed"
            ),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(s.placements().unwrap(), [first]);
        assert_eq!(s.state_version().unwrap(), placed);
        assert_eq!(s.placed_region("kv", "shop").unwrap(), None);
    }
}
