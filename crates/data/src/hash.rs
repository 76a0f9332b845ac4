//! A content hash over a database's schema and rows.

use std::fmt;

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::session::is_replicated_table;

/// SHA-256 over a database's schema and rows in a canonical order; equal on
/// a replica and its primary at the same position.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentHash({self})")
    }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Hashes the schema and every row of `main` on `conn`.
///
/// What is covered:
/// - the schema: `type`, `name`, `tbl_name` and `sql` of every `sqlite_schema`
///   row (not `rootpage`, which is physical);
/// - every ordinary table's rows in primary-key order; tables without a
///   primary key are read with their rowid, in rowid order, because the rowid
///   is their row identity and is replicated. A table with a non-`INTEGER`
///   primary key has a hidden rowid too, but SQLite itself does not keep it
///   stable (`VACUUM` may renumber it), so it is not content and is not hashed;
/// - `sqlite_sequence` (the `AUTOINCREMENT` counters), by name.
///
/// Not covered: the `_outpost_*` bookkeeping tables, `sqlite_stat*` planner
/// statistics, and virtual tables (their content lives in their shadow
/// tables, which are hashed).
///
/// Runs in one read transaction when `conn` is not already in one.
pub fn content_hash(conn: &Connection) -> Result<ContentHash> {
    let own_txn = conn.is_autocommit();
    if own_txn {
        conn.execute_batch("BEGIN")?;
    }
    let result = hash_in_txn(conn);
    if own_txn {
        let _ = conn.execute_batch("COMMIT");
    }
    result
}

fn hash_in_txn(conn: &Connection) -> Result<ContentHash> {
    let mut h = Sha256::new();
    let mut tables = Vec::new();
    {
        let mut stmt = conn
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let kind: String = row.get(0)?;
            let name: String = row.get(1)?;
            let tbl: String = row.get(2)?;
            let sql: Option<String> = row.get(3)?;
            let lower = name.to_ascii_lowercase();
            let internal = lower.starts_with(crate::INTERNAL_PREFIX)
                || tbl.to_ascii_lowercase().starts_with(crate::INTERNAL_PREFIX)
                || lower.starts_with("sqlite_stat");
            if internal {
                continue;
            }
            for part in [&kind, &name, &tbl] {
                hash_bytes(&mut h, part.as_bytes());
            }
            match &sql {
                Some(s) => hash_bytes(&mut h, s.as_bytes()),
                None => h.update([0xff]),
            }
            let is_virtual = sql.as_deref().is_some_and(|s| {
                s.trim_start()
                    .to_ascii_uppercase()
                    .starts_with("CREATE VIRTUAL")
            });
            if kind == "table"
                && !is_virtual
                && (is_replicated_table(&name) || lower == "sqlite_sequence")
            {
                tables.push(name);
            }
        }
    }
    for table in tables {
        let query = if table.eq_ignore_ascii_case("sqlite_sequence") {
            "SELECT name, seq FROM sqlite_sequence ORDER BY name, seq".to_string()
        } else {
            let pk = primary_key(conn, &table)?;
            if pk.is_empty() {
                format!("SELECT _rowid_, * FROM {} ORDER BY _rowid_", quote(&table))
            } else {
                let order: Vec<String> = pk.iter().map(|c| quote(c)).collect();
                format!(
                    "SELECT * FROM {} ORDER BY {}",
                    quote(&table),
                    order.join(", ")
                )
            }
        };
        h.update([0xfe]);
        hash_bytes(&mut h, table.as_bytes());
        let mut stmt = conn.prepare(&query)?;
        let n = stmt.column_count();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            h.update([0xfd]);
            for i in 0..n {
                match row.get_ref(i)? {
                    ValueRef::Null => h.update([0]),
                    ValueRef::Integer(v) => {
                        h.update([1]);
                        h.update(v.to_le_bytes());
                    }
                    ValueRef::Real(v) => {
                        h.update([2]);
                        h.update(v.to_bits().to_le_bytes());
                    }
                    ValueRef::Text(t) => {
                        h.update([3]);
                        hash_bytes(&mut h, t);
                    }
                    ValueRef::Blob(b) => {
                        h.update([4]);
                        hash_bytes(&mut h, b);
                    }
                }
            }
        }
    }
    Ok(ContentHash(h.finalize().into()))
}

fn hash_bytes(h: &mut Sha256, b: &[u8]) {
    h.update((b.len() as u64).to_le_bytes());
    h.update(b);
}

/// The table's primary-key columns in key order (empty: no declared key).
pub(crate) fn primary_key(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT name, pk FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")?;
    let cols = stmt.query_map([table], |r| r.get::<_, String>(0))?;
    cols.collect()
}
