//! Snapshots: a consistent copy of a primary, for bootstrapping replicas.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};
use crate::{sql, Position};

/// A consistent copy of a primary's database as of one log position, stored
/// in a file: a ready replica database without the log.
///
/// Made by [`Primary::snapshot_to`](crate::Primary::snapshot_to), shipped as
/// bytes ([`Snapshot::to_bytes`], [`Snapshot::from_bytes`]) and installed with
/// [`Replica::bootstrap`](crate::Replica::bootstrap), after which the replica
/// continues from [`Snapshot::position`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    path: PathBuf,
    position: Position,
}

impl Snapshot {
    /// Opens an existing snapshot file, reading its position.
    pub fn open(path: impl AsRef<Path>) -> Result<Snapshot> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let role = sql::file_role(&conn)?;
        if role.as_deref() != Some("replica") {
            return Err(Error::Role {
                path: path.display().to_string(),
                expected: "snapshot",
                found: role.unwrap_or_else(|| "empty".into()),
            });
        }
        let position = sql::meta_position(&conn, "position")?;
        Ok(Snapshot { path, position })
    }

    /// The log position the snapshot corresponds to.
    pub fn position(&self) -> Position {
        self.position
    }

    /// The snapshot's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The snapshot file's bytes, to ship.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        std::fs::read(&self.path)
            .map_err(|e| Error::io(format!("reading {}", self.path.display()), e))
    }

    /// Writes shipped snapshot bytes to `path` (replacing it) and opens them.
    pub fn from_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Snapshot> {
        let path = path.as_ref();
        std::fs::write(path, bytes)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        Snapshot::open(path)
    }
}
