//! The crate's error type.

use crate::Position;

/// Everything that can go wrong in the data layer.
///
/// SQLite's own errors are carried in [`Error::Sqlite`], whose `Display` is
/// SQLite's message (`no such table: users`, `UNIQUE constraint failed:
/// users.email`, ...), as D1's errors carry it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite (or the rusqlite layer over it) failed; the message is SQLite's.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),

    /// Reading or writing a snapshot file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The statement uses something the data layer does not allow in user SQL
    /// (transaction control, `ATTACH`, durability pragmas, the internal
    /// `_outpost_*` tables). Nothing was written.
    #[error("not allowed: {0}")]
    Forbidden(String),

    /// A write statement was given to a read-only entry point
    /// ([`Primary::query`](crate::Primary::query), [`Replica::query`](crate::Replica::query)).
    #[error("statement is not read-only; send writes to the primary")]
    NotReadOnly,

    /// The statement changed the schema in a way the log cannot carry.
    #[error("unsupported statement: {0}")]
    Unsupported(String),

    /// The requested log position is older than the retained log: the caller
    /// must bootstrap from a [`Snapshot`](crate::Snapshot) instead.
    #[error("log position {requested} is no longer retained (compacted through {compacted_through}); bootstrap from a snapshot")]
    SnapshotRequired {
        /// The position asked for (entries after it were wanted).
        requested: Position,
        /// Entries up to and including this position have been dropped.
        compacted_through: Position,
    },

    /// A replica asked for entries after a position the primary never reached:
    /// it follows another database, or the primary lost its log.
    #[error("log position {requested} is ahead of the primary's head {head}")]
    AheadOfPrimary {
        /// The position asked for.
        requested: Position,
        /// The primary's latest position.
        head: Position,
    },

    /// An entry arrived that does not follow the replica's position.
    /// Nothing was applied.
    #[error("log gap: replica expected position {expected}, got {got}")]
    Gap {
        /// The next position the replica can apply.
        expected: Position,
        /// The position that arrived instead.
        got: Position,
    },

    /// Applying an entry's row changes conflicted with the replica's content:
    /// the replica has diverged. Nothing of that entry was applied.
    #[error("replica diverged applying position {position}: {detail}")]
    Conflict {
        /// The entry being applied.
        position: Position,
        /// What conflicted (table and conflict kind).
        detail: String,
    },

    /// A snapshot older than the replica's current position was offered.
    #[error("snapshot at position {snapshot} is older than the replica's position {replica}")]
    StaleSnapshot {
        /// The snapshot's position.
        snapshot: Position,
        /// The replica's position.
        replica: Position,
    },

    /// [`Replica::wait_for`](crate::Replica::wait_for) timed out.
    #[error("timed out waiting for position {wanted} (replica is at {current})")]
    Timeout {
        /// The position waited for.
        wanted: Position,
        /// The replica's position when the wait ended.
        current: Position,
    },

    /// The database file belongs to the other role (a replica opened as a
    /// primary, or the reverse), or is not a snapshot.
    #[error("{path}: is a {found} database, expected a {expected}")]
    Role {
        /// The file.
        path: String,
        /// The role asked for.
        expected: &'static str,
        /// The role found in the file.
        found: String,
    },

    /// The transaction a write was committed with (group commit) failed,
    /// so the write did not happen.
    #[error("the write's commit failed: {0}")]
    GroupCommit(String),
    /// Encoded log bytes are malformed (truncated, bad checksum, unknown
    /// version or tag).
    #[error("corrupt log data: {0}")]
    Corrupt(String),
}

impl Error {
    /// SQLite's primary result code, when the error came from SQLite.
    pub fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        match self {
            Error::Sqlite(e) => e.sqlite_error_code(),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
