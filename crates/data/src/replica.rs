//! A read replica: applies the primary's log exactly once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::hash::{content_hash, ContentHash};
use crate::log::{Entry, Op};
use crate::session::{self, Policy};
use crate::snapshot::Snapshot;
use crate::sql::{self, lock, Auth};
use crate::value::{StatementResult, Value};
use crate::Position;

/// What [`Replica::apply_all`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Entries applied now.
    pub applied: usize,
    /// Entries skipped because the replica already had them.
    pub skipped: usize,
    /// The replica's position afterwards.
    pub position: Position,
}

/// A read-only copy of a primary's database that applies its log.
///
/// Each batch of entries is applied in one SQLite transaction that also
/// stores the new position (in `_outpost_meta` of the same file), so after a
/// crash the replica holds exactly the entries up to its position: entries
/// at or before it are skipped when delivered again, and an entry after a
/// missing one is refused ([`Error::Gap`]).
///
/// Triggers are disabled on the replica's writing connection: the primary's
/// trigger and foreign-key effects arrive as row changes already.
pub struct Replica {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<(Connection, Arc<Auth>)>,
    position: Mutex<Position>,
    advanced: Condvar,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("path", &self.path)
            .field("position", &self.position())
            .finish()
    }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

impl Replica {
    /// Opens (creating if needed) the replica database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Replica> {
        let path = path.as_ref().to_path_buf();
        let conn = sql::open_connection(&path)?;
        // A replica can always re-fetch what it lost; its position is
        // committed atomically with its data either way.
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF")?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)?;
        let tx = conn.unchecked_transaction()?;
        match sql::file_role(&tx)?.as_deref() {
            Some("replica") => {}
            None => {
                tx.execute_batch(sql::CREATE_META)?;
                tx.execute_batch(
                    "INSERT INTO _outpost_meta(key, value) VALUES('role', 'replica'), ('position', 0)",
                )?;
            }
            Some(other) => {
                return Err(Error::Role {
                    path: path.display().to_string(),
                    expected: "replica",
                    found: other.to_string(),
                })
            }
        }
        tx.commit()?;
        let position = sql::meta_position(&conn, "position")?;
        let reader = sql::open_reader(&path)?;
        Ok(Replica {
            path,
            writer: Mutex::new(conn),
            reader: Mutex::new(reader),
            position: Mutex::new(position),
            advanced: Condvar::new(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The position of the last applied entry (0: none).
    pub fn position(&self) -> Position {
        *lock(&self.position)
    }

    /// Applies one entry. Returns `false` if the replica already had it.
    pub fn apply(&self, entry: &Entry) -> Result<bool> {
        Ok(self.apply_all(std::slice::from_ref(entry))?.applied == 1)
    }

    /// Applies entries (in any order, duplicates allowed) in one transaction.
    ///
    /// Entries at or before the replica's position are skipped. The rest must
    /// continue it without a hole, else [`Error::Gap`] and nothing is applied.
    /// If any entry fails (for example [`Error::Conflict`]), none are applied.
    pub fn apply_all(&self, entries: &[Entry]) -> Result<Applied> {
        let conn = lock(&self.writer);
        let current = self.position();
        let mut todo: Vec<&Entry> = entries.iter().filter(|e| e.position > current).collect();
        todo.sort_by_key(|e| e.position);
        todo.dedup_by_key(|e| e.position);
        let skipped = entries.len() - todo.len();
        for (expected, e) in (current + 1..).zip(&todo) {
            if e.position != expected {
                return Err(Error::Gap {
                    expected,
                    got: e.position,
                });
            }
        }
        let Some(last) = todo.last().map(|e| e.position) else {
            return Ok(Applied {
                applied: 0,
                skipped,
                position: current,
            });
        };
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| -> Result<()> {
            for e in &todo {
                apply_entry(&conn, e)?;
            }
            conn.prepare_cached("UPDATE _outpost_meta SET value = ?1 WHERE key = 'position'")?
                .execute([last as i64])?;
            Ok(())
        })();
        match result.and_then(|()| Ok(conn.execute_batch("COMMIT")?)) {
            Ok(()) => {}
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
        *lock(&self.position) = last;
        self.advanced.notify_all();
        Ok(Applied {
            applied: todo.len(),
            skipped,
            position: last,
        })
    }

    /// Replaces the replica's content with a snapshot's (atomically: readers
    /// see the old content until it is complete) and continues from its
    /// position. A snapshot older than the replica is refused
    /// ([`Error::StaleSnapshot`]): reads never go back in time.
    pub fn bootstrap(&self, snapshot: &Snapshot) -> Result<()> {
        let mut conn = lock(&self.writer);
        let current = self.position();
        if snapshot.position() < current {
            return Err(Error::StaleSnapshot {
                snapshot: snapshot.position(),
                replica: current,
            });
        }
        let src = Connection::open_with_flags(snapshot.path(), OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        {
            let backup = Backup::new(&src, &mut conn)?;
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    _ => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }
        let role = sql::file_role(&conn)?;
        if role.as_deref() != Some("replica") {
            return Err(Error::Role {
                path: snapshot.path().display().to_string(),
                expected: "snapshot",
                found: role.unwrap_or_else(|| "empty".into()),
            });
        }
        let position = sql::meta_position(&conn, "position")?;
        *lock(&self.position) = position;
        self.advanced.notify_all();
        Ok(())
    }

    /// Runs a read-only statement ([`Error::NotReadOnly`] for writes).
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<StatementResult> {
        let guard = lock(&self.reader);
        let (conn, auth) = &*guard;
        sql::run_read_only(conn, auth, sql, params)
    }

    /// Blocks until the replica reaches `position` (read-your-writes for a
    /// bookmark) or `timeout` passes ([`Error::Timeout`]). Returns the
    /// replica's position.
    pub fn wait_for(&self, position: Position, timeout: Duration) -> Result<Position> {
        let deadline = Instant::now() + timeout;
        let mut current = lock(&self.position);
        while *current < position {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    wanted: position,
                    current: *current,
                });
            }
            current = self
                .advanced
                .wait_timeout(current, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Ok(*current)
    }

    /// The [`content_hash`] of the replica's content.
    pub fn content_hash(&self) -> Result<ContentHash> {
        let guard = lock(&self.reader);
        let (conn, auth) = &*guard;
        auth.internal(|| Ok(content_hash(conn)))?
    }
}

fn apply_entry(conn: &Connection, entry: &Entry) -> Result<()> {
    let conflict = |detail: String| Error::Conflict {
        position: entry.position,
        detail,
    };
    for op in &entry.ops {
        match op {
            Op::Changeset(cs) => session::apply(conn, cs, Policy::Strict)?.map_err(conflict)?,
            Op::Schema { sql, effects } => {
                conn.execute_batch(sql)?;
                session::apply(conn, effects, Policy::Converge)?.map_err(conflict)?;
            }
            Op::Rows {
                table,
                columns,
                rows,
            } => {
                let names: Vec<String> = std::iter::once("_rowid_".to_string())
                    .chain(columns.iter().map(|c| quote(c)))
                    .collect();
                let marks = vec!["?"; names.len()].join(", ");
                let mut stmt = conn.prepare(&format!(
                    "INSERT INTO {}({}) VALUES({marks})",
                    quote(table),
                    names.join(", ")
                ))?;
                for row in rows {
                    stmt.execute(rusqlite::params_from_iter(row.iter()))?;
                }
            }
            Op::Sequence(seqs) => {
                for (name, seq) in seqs {
                    match seq {
                        Some(seq) => {
                            let n = conn.execute(
                                "UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1",
                                rusqlite::params![name, seq],
                            )?;
                            if n == 0 {
                                conn.execute(
                                    "INSERT INTO sqlite_sequence(name, seq) VALUES(?1, ?2)",
                                    rusqlite::params![name, seq],
                                )?;
                            }
                        }
                        None => {
                            conn.execute("DELETE FROM sqlite_sequence WHERE name = ?1", [name])?;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
