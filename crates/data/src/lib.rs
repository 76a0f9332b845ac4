//! Outpost's data layer core: SQLite databases with one writable
//! [`Primary`] and any number of read [`Replica`]s, kept in step by an
//! ordered, durable log of committed transactions.
//!
//! This crate is the storage and replication core only: no JS bindings, no
//! transport. Log entries and snapshots are plain bytes
//! ([`Entry::encode`], [`encode_entries`], [`Snapshot::to_bytes`]) for the
//! HTTP layer to ship.
//!
//! ```no_run
//! # fn main() -> outpost_data::Result<()> {
//! use outpost_data::{Primary, Replica, Value};
//! use std::time::Duration;
//!
//! let primary = Primary::open("db.sqlite")?;
//! primary.exec("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT)")?;
//! let write = primary.execute("INSERT INTO users(name) VALUES(?1)", &[Value::from("Ada")])?;
//!
//! let replica = Replica::open("replica.sqlite")?;
//! let entries = primary.log_since(replica.position(), 1000)?; // shipped as bytes in real life
//! replica.apply_all(&entries)?;
//! replica.wait_for(write.position, Duration::from_millis(100))?; // read-your-writes
//! let rows = replica.query("SELECT name FROM users", &[])?;
//! assert_eq!(rows.rows[0][0], Value::from("Ada"));
//! assert_eq!(primary.content_hash()?, replica.content_hash()?);
//! # Ok(())
//! # }
//! ```
//!
//! # Replication mechanism: logical (session-extension changesets)
//!
//! Chosen after a spike on this machine (SQLite 3.54.1 as bundled by
//! rusqlite 0.43). Each write transaction on the primary records its row
//! changes with SQLite's session extension and appends one log entry to the
//! `_outpost_log` table *in the same SQLite transaction*, so an acknowledged
//! write and its entry commit (and fsync, `synchronous=FULL`) together. An
//! entry is a list of ops: changesets, schema statements (replayed verbatim,
//! with their own row effects), the initial rows of `CREATE TABLE .. AS
//! SELECT`, and `sqlite_sequence` updates. Replicas apply a batch of entries
//! and store their position in one transaction.
//!
//! Why not physical (WAL frames/pages, as LiteFS and libSQL do):
//! - Applying pages on a replica needs a hook below the pager. The bundled
//!   SQLite has neither the `sqlite_dbpage` virtual table nor a WAL hook
//!   (libSQL forks SQLite for its virtual WAL; LiteFS uses FUSE), so it
//!   would mean a custom VFS over raw FFI plus a WAL parser (checksums,
//!   salts, restarts) and a shadow log with its own crash recovery.
//! - Size: a single-row insert was 25 bytes of changeset against 4,165 bytes
//!   of WAL (one page plus frame header) — 160× more log to keep and ship.
//! - Exactly-once is natural: the log is a table and the replica's position a
//!   row, each in the same transaction as the data.
//!
//! What logical costs, each measured in the spike and handled here:
//! - `changeset_apply` fires triggers (the replica conflicted on the
//!   primary's trigger-made rows): replicas run with triggers disabled.
//! - Tables without a `PRIMARY KEY` are skipped by default: sessions use
//!   `SQLITE_SESSION_OBJCONFIG_ROWID` (raw FFI), so their rowids replicate.
//! - `CREATE TABLE .. AS SELECT` inserts are invisible to the session: the
//!   table's stored definition and its rows are logged explicitly.
//! - `sqlite_sequence` is not recorded (replica showed 1 where the primary
//!   had 2): changed counters are logged explicitly.
//! - The hidden rowid of a table with a non-`INTEGER` primary key is not in
//!   the changeset, so it may differ on a replica. SQLite does not keep it
//!   stable either (`VACUUM` renumbers it), so it is not part of content.
//! - Replicas are identical in content ([`content_hash`]), not byte for byte.
//!
//! Build note: rusqlite's `session` feature generates bindings at build
//! time, which needs libclang (Debian: `libclang-dev`).
//!
//! See `DESIGN.md` beside this crate for the figures and what remains.

#![warn(missing_docs)]

mod error;
mod hash;
mod log;
mod primary;
mod replica;
mod session;
mod snapshot;
mod sql;
mod value;

#[cfg(test)]
mod tests;

pub use error::{Error, Result};
pub use hash::{content_hash, ContentHash};
pub use log::{decode_entries, encode_entries, Entry};
pub use primary::{Durability, Primary};
pub use replica::{Applied, Replica};
pub use snapshot::Snapshot;
pub use value::{ExecSummary, Meta, Statement, StatementResult, Value, Write};

/// A position in a database's replication log: the number of
/// database-changing transactions committed on its primary. A write's
/// position is its bookmark.
pub type Position = u64;

/// Prefix of the tables the data layer keeps in each database file.
pub(crate) const INTERNAL_PREFIX: &str = "_outpost_";
