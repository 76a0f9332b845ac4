//! A thin, safe wrapper over SQLite's session extension (raw FFI).
//!
//! rusqlite's `session` module does not expose `sqlite3session_object_config`,
//! which is needed so tables without a `PRIMARY KEY` are recorded (keyed by
//! rowid, `SQLITE_SESSION_OBJCONFIG_ROWID`), nor `sqlite3changeset_apply_v2`'s
//! flags, so this module calls the C API directly.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::marker::PhantomData;
use std::ptr;

use rusqlite::{ffi, Connection};

/// Tables the session records: everything but SQLite's internal tables and ours.
pub(crate) fn is_replicated_table(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !(lower.starts_with("sqlite_") || lower.starts_with(crate::INTERNAL_PREFIX))
}

/// A session recording row changes on `main` of one connection.
pub(crate) struct Session<'c> {
    raw: *mut ffi::sqlite3_session,
    /// Tables not to record, read by the filter callback through a thin
    /// pointer: boxed so its address stays put when the session moves.
    #[allow(clippy::box_collection)]
    _excluded: Box<Vec<String>>,
    _conn: PhantomData<&'c Connection>,
}

fn check(conn: &Connection, rc: c_int) -> rusqlite::Result<()> {
    if rc == ffi::SQLITE_OK {
        return Ok(());
    }
    // SAFETY: the handle is valid while `conn` is borrowed.
    let msg = unsafe {
        let p = ffi::sqlite3_errmsg(conn.handle());
        (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
    };
    Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), msg))
}

unsafe extern "C" fn table_filter(ctx: *mut c_void, table: *const c_char) -> c_int {
    // SAFETY: SQLite passes a NUL-terminated table name; ctx is the
    // session's `excluded` list, alive as long as the session.
    let (name, excluded) = unsafe {
        (
            CStr::from_ptr(table).to_string_lossy(),
            &*(ctx as *const Vec<String>),
        )
    };
    (is_replicated_table(&name) && !excluded.iter().any(|t| t.eq_ignore_ascii_case(&name))) as c_int
}

impl<'c> Session<'c> {
    /// Starts recording every replicated table of `main`, including tables
    /// without a primary key (keyed by rowid).
    pub(crate) fn start(conn: &'c Connection) -> rusqlite::Result<Session<'c>> {
        Session::start_excluding(conn, Vec::new())
    }

    /// Like [`Session::start`], but never records the `excluded` tables
    /// (tables a statement drops: a session cannot describe a dropped table).
    pub(crate) fn start_excluding(
        conn: &'c Connection,
        excluded: Vec<String>,
    ) -> rusqlite::Result<Session<'c>> {
        let excluded = Box::new(excluded);
        let mut raw = ptr::null_mut();
        // SAFETY: valid handle; the session is deleted in Drop before the
        // connection can go away (it borrows the connection).
        unsafe {
            check(
                conn,
                ffi::sqlite3session_create(conn.handle(), c"main".as_ptr(), &mut raw),
            )?;
            let ctx = &*excluded as *const Vec<String> as *mut c_void;
            let session = Session {
                raw,
                _excluded: excluded,
                _conn: PhantomData,
            };
            let mut on: c_int = 1;
            check(
                conn,
                ffi::sqlite3session_object_config(
                    raw,
                    ffi::SQLITE_SESSION_OBJCONFIG_ROWID,
                    &mut on as *mut c_int as *mut c_void,
                ),
            )?;
            ffi::sqlite3session_table_filter(raw, Some(table_filter), ctx);
            check(conn, ffi::sqlite3session_attach(raw, ptr::null()))?;
            Ok(session)
        }
    }

    /// The changes recorded so far as a changeset (empty if none).
    pub(crate) fn changeset(&self, conn: &Connection) -> rusqlite::Result<Vec<u8>> {
        let mut n: c_int = 0;
        let mut p: *mut c_void = ptr::null_mut();
        // SAFETY: valid session; the buffer is copied then freed with sqlite3_free.
        unsafe {
            check(
                conn,
                ffi::sqlite3session_changeset(self.raw, &mut n, &mut p),
            )?;
            if p.is_null() {
                return Ok(Vec::new());
            }
            let out = std::slice::from_raw_parts(p as *const u8, n as usize).to_vec();
            ffi::sqlite3_free(p);
            Ok(out)
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // SAFETY: created by sqlite3session_create, deleted once.
        unsafe { ffi::sqlite3session_delete(self.raw) }
    }
}

/// How conflicts are resolved while applying a changeset.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// Any conflict aborts: the replica must hold exactly the primary's rows.
    Strict,
    /// For the row effects of a replayed schema statement, which the replay
    /// may already have produced: the primary's values win, rows already
    /// gone stay gone.
    Converge,
}

struct ApplyCtx {
    policy: Policy,
    conflict: Option<String>,
}

unsafe extern "C" fn on_conflict(
    ctx: *mut c_void,
    kind: c_int,
    iter: *mut ffi::sqlite3_changeset_iter,
) -> c_int {
    // SAFETY: ctx is the &mut ApplyCtx passed to apply_v2 below.
    let ctx = unsafe { &mut *(ctx as *mut ApplyCtx) };
    if ctx.policy == Policy::Converge {
        match kind {
            ffi::SQLITE_CHANGESET_DATA | ffi::SQLITE_CHANGESET_CONFLICT => {
                return ffi::SQLITE_CHANGESET_REPLACE
            }
            ffi::SQLITE_CHANGESET_NOTFOUND => return ffi::SQLITE_CHANGESET_OMIT,
            _ => {}
        }
    }
    let mut table: *const c_char = ptr::null();
    let (mut ncol, mut op, mut indirect) = (0, 0, 0);
    // SAFETY: iter is valid during the callback.
    let name = unsafe {
        if ffi::sqlite3changeset_op(iter, &mut table, &mut ncol, &mut op, &mut indirect)
            == ffi::SQLITE_OK
            && !table.is_null()
        {
            CStr::from_ptr(table).to_string_lossy().into_owned()
        } else {
            "?".into()
        }
    };
    let kind = match kind {
        ffi::SQLITE_CHANGESET_DATA => "row differs",
        ffi::SQLITE_CHANGESET_NOTFOUND => "row not found",
        ffi::SQLITE_CHANGESET_CONFLICT => "row already exists",
        ffi::SQLITE_CHANGESET_CONSTRAINT => "constraint violated",
        ffi::SQLITE_CHANGESET_FOREIGN_KEY => "foreign key violated",
        _ => "conflict",
    };
    let op = match op {
        ffi::SQLITE_INSERT => "insert",
        ffi::SQLITE_UPDATE => "update",
        ffi::SQLITE_DELETE => "delete",
        _ => "change",
    };
    ctx.conflict
        .get_or_insert_with(|| format!("{op} into {name}: {kind}"));
    ffi::SQLITE_CHANGESET_ABORT
}

/// Applies a changeset inside the caller's open transaction.
///
/// Returns `Ok(Err(detail))` when a conflict aborted it (the caller rolls
/// back), `Err` for other SQLite failures.
pub(crate) fn apply(
    conn: &Connection,
    changeset: &[u8],
    policy: Policy,
) -> rusqlite::Result<Result<(), String>> {
    if changeset.is_empty() {
        return Ok(Ok(()));
    }
    let mut ctx = ApplyCtx {
        policy,
        conflict: None,
    };
    // apply_v2 takes a mutable pointer but does not write through it.
    let mut buf = changeset.to_vec();
    // SAFETY: valid handle and buffer; ctx outlives the call.
    let rc = unsafe {
        ffi::sqlite3changeset_apply_v2(
            conn.handle(),
            buf.len() as c_int,
            buf.as_mut_ptr() as *mut c_void,
            None,
            Some(on_conflict),
            &mut ctx as *mut ApplyCtx as *mut c_void,
            ptr::null_mut(),
            ptr::null_mut(),
            ffi::SQLITE_CHANGESETAPPLY_NOSAVEPOINT,
        )
    };
    if let Some(detail) = ctx.conflict {
        return Ok(Err(detail));
    }
    check(conn, rc)?;
    Ok(Ok(()))
}
