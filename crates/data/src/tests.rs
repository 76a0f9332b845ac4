//! Scenario tests: a primary and replicas in temporary directories, entries
//! shipped through their byte encoding, content hashes compared after each.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::*;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "outpost-data-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn setup(name: &str) -> (TempDir, Primary, Replica) {
    let dir = TempDir::new(name);
    let primary = Primary::open(dir.path("primary.db")).unwrap();
    let replica = Replica::open(dir.path("replica.db")).unwrap();
    (dir, primary, replica)
}

/// Ships everything the replica lacks, through the byte encoding.
fn sync(primary: &Primary, replica: &Replica) {
    loop {
        let entries = primary.log_since(replica.position(), 50).unwrap();
        if entries.is_empty() {
            break;
        }
        let shipped = decode_entries(&encode_entries(&entries)).unwrap();
        assert_eq!(shipped, entries);
        replica.apply_all(&shipped).unwrap();
    }
}

fn assert_converged(primary: &Primary, replica: &Replica) {
    sync(primary, replica);
    assert_eq!(replica.position(), primary.position());
    assert_eq!(
        primary.content_hash().unwrap(),
        replica.content_hash().unwrap()
    );
}

fn rows_p(p: &Primary, sql: &str) -> Vec<Vec<Value>> {
    p.query(sql, &[]).unwrap().rows
}

fn rows_r(r: &Replica, sql: &str) -> Vec<Vec<Value>> {
    r.query(sql, &[]).unwrap().rows
}

fn same_rows(p: &Primary, r: &Replica, sql: &str) -> Vec<Vec<Value>> {
    let a = rows_p(p, sql);
    assert_eq!(a, rows_r(r, sql), "{sql}");
    a
}

#[test]
fn handles_are_shareable_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Primary>();
    send_sync::<Replica>();
    send_sync::<Entry>();
    send_sync::<Error>();
}

#[test]
fn exactly_once_with_duplicate_and_out_of_order_delivery() {
    let (_d, p, r) = setup("once");
    p.exec("CREATE TABLE c(id INTEGER PRIMARY KEY, n INTEGER)")
        .unwrap();
    p.execute("INSERT INTO c VALUES(1, 0)", &[]).unwrap();
    for _ in 0..3 {
        p.execute("UPDATE c SET n = n + 1 WHERE id = 1", &[])
            .unwrap();
    }
    assert_eq!(p.position(), 5);
    let all = p.log_since(0, 100).unwrap();
    assert_eq!(
        all.iter().map(Entry::position).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );

    assert!(r.apply(&all[0]).unwrap());
    assert!(r.apply(&all[1]).unwrap());
    // Duplicates are no-ops.
    assert!(!r.apply(&all[1]).unwrap());
    assert!(!r.apply(&all[0]).unwrap());
    // Out of order: 5 before 3 is a gap; nothing applied.
    assert!(matches!(
        r.apply(&all[4]),
        Err(Error::Gap {
            expected: 3,
            got: 5
        })
    ));
    assert_eq!(r.position(), 2);
    // A shuffled batch with duplicates applies each entry once.
    let batch = vec![
        all[4].clone(),
        all[2].clone(),
        all[1].clone(),
        all[3].clone(),
        all[2].clone(),
    ];
    let applied = r.apply_all(&batch).unwrap();
    assert_eq!(
        (applied.applied, applied.skipped, applied.position),
        (3, 2, 5)
    );
    assert_eq!(rows_r(&r, "SELECT n FROM c"), vec![vec![Value::Integer(3)]]);
    // Re-delivering everything changes nothing.
    assert_eq!(r.apply_all(&all).unwrap().applied, 0);
    assert_eq!(rows_r(&r, "SELECT n FROM c"), vec![vec![Value::Integer(3)]]);
    assert_converged(&p, &r);
}

#[test]
fn gap_is_refused_and_nothing_applied() {
    let (_d, p, r) = setup("gap");
    p.exec("CREATE TABLE t(x)").unwrap();
    for i in 0..4 {
        p.execute("INSERT INTO t VALUES(?1)", &[Value::Integer(i)])
            .unwrap();
    }
    let all = p.log_since(0, 100).unwrap();
    let err = r
        .apply_all(&[all[0].clone(), all[1].clone(), all[3].clone()])
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Gap {
                expected: 3,
                got: 4
            }
        ),
        "{err}"
    );
    assert_eq!(r.position(), 0, "a batch with a gap applies nothing");
    assert!(rows_r(&r, "SELECT name FROM sqlite_schema WHERE name = 't'").is_empty());
    assert_converged(&p, &r);
}

#[test]
fn schema_changes_replicate() {
    let (_d, p, r) = setup("schema");
    p.exec(
        "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT);
         CREATE INDEX users_name ON users(name);
         CREATE VIEW user_names AS SELECT name FROM users;
         INSERT INTO users(email, name) VALUES('a@x', 'Ada'), ('b@x', 'Bob');",
    )
    .unwrap();
    assert_converged(&p, &r);

    // DDL and DML mixed in one transaction, in both orders.
    p.batch(&[
        Statement::new("INSERT INTO users(email, name) VALUES('c@x', 'Cy')", vec![]),
        Statement::new("ALTER TABLE users ADD COLUMN age INTEGER DEFAULT 7", vec![]),
        Statement::new("UPDATE users SET age = id * 10 WHERE name <> 'Bob'", vec![]),
        Statement::new("ALTER TABLE users RENAME COLUMN name TO full_name", vec![]),
        Statement::new(
            "CREATE UNIQUE INDEX users_lower ON users(lower(email))",
            vec![],
        ),
        Statement::new(
            "INSERT INTO users(email, full_name) VALUES('d@x', 'Di')",
            vec![],
        ),
    ])
    .unwrap();
    assert_converged(&p, &r);
    same_rows(&p, &r, "SELECT * FROM users ORDER BY id");

    p.exec(
        "CREATE TABLE audit(id INTEGER PRIMARY KEY, what TEXT, at TEXT);
         CREATE TRIGGER users_ins AFTER INSERT ON users BEGIN
           INSERT INTO audit(what, at) VALUES('insert ' || new.email, datetime('now') || random());
         END;",
    )
    .unwrap();
    p.execute("INSERT INTO users(email) VALUES('e@x')", &[])
        .unwrap();
    assert_converged(&p, &r);
    // The trigger ran once on the primary; its rows were replicated, and it
    // did not run again on the replica.
    let audit = same_rows(&p, &r, "SELECT * FROM audit");
    assert_eq!(audit.len(), 1);

    p.exec(
        "ALTER TABLE users DROP COLUMN age;
         DROP INDEX users_name;
         DROP VIEW user_names;
         DROP TRIGGER users_ins;
         ALTER TABLE audit RENAME TO audit_log;",
    )
    .unwrap();
    assert_converged(&p, &r);
    p.exec("DROP TABLE audit_log").unwrap();
    assert_converged(&p, &r);
    same_rows(&p, &r, "SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE name NOT LIKE '_outpost%' ORDER BY name");

    // Planner statistics: ANALYZE is replayed, so replicas plan alike.
    p.exec("ANALYZE; REINDEX").unwrap();
    assert_converged(&p, &r);
    same_rows(
        &p,
        &r,
        "SELECT tbl, idx, stat FROM sqlite_stat1 WHERE tbl NOT LIKE '_outpost%' ORDER BY tbl, idx",
    );

    // A schema statement that changes nothing writes no entry.
    let before = p.position();
    let w = p.exec("CREATE TABLE IF NOT EXISTS users(x)").unwrap();
    assert!(!w.changed_db);
    assert_eq!((w.position, p.position()), (before, before));
}

#[test]
fn nondeterministic_sql_replicates_exactly() {
    let (_d, p, r) = setup("nondet");
    p.exec(
        "CREATE TABLE t(id INTEGER PRIMARY KEY, r INTEGER DEFAULT (random()), b BLOB, at TEXT, ms TEXT);
         INSERT INTO t(b, at, ms) VALUES(randomblob(16), datetime('now'), strftime('%f', 'now'));
         INSERT INTO t(b, at, ms) SELECT randomblob(8), CURRENT_TIMESTAMP, julianday('now') FROM t;",
    )
    .unwrap();
    p.execute("UPDATE t SET r = random() WHERE id = 1", &[])
        .unwrap();
    // CREATE TABLE .. AS SELECT with random(): the rows are copied, not re-run.
    p.exec("CREATE TABLE picks AS SELECT id, random() AS r, abs(random()) % 3 AS k FROM t WHERE random() % 2 = 0 OR 1")
        .unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_converged(&p, &r);
    let rows = same_rows(&p, &r, "SELECT * FROM t ORDER BY id");
    assert_eq!(rows.len(), 2);
    same_rows(&p, &r, "SELECT _rowid_, * FROM picks ORDER BY _rowid_");
    same_rows(&p, &r, "SELECT sql FROM sqlite_schema WHERE name = 'picks'");
}

#[test]
fn tables_with_and_without_primary_keys() {
    let (_d, p, r) = setup("keys");
    p.exec(
        "CREATE TABLE nopk(a, b);
         CREATE TABLE intpk(id INTEGER PRIMARY KEY, v);
         CREATE TABLE textpk(k TEXT PRIMARY KEY, v);
         CREATE TABLE compound(a INTEGER, b TEXT, v, PRIMARY KEY(a, b)) WITHOUT ROWID;
         CREATE TABLE auto(id INTEGER PRIMARY KEY AUTOINCREMENT, v);",
    )
    .unwrap();
    // Identical rows in a table without a key are told apart by rowid.
    p.exec("INSERT INTO nopk VALUES(1, 'same'), (1, 'same'), (2, 'other')")
        .unwrap();
    p.execute("UPDATE nopk SET b = 'changed' WHERE rowid = 2", &[])
        .unwrap();
    p.execute("DELETE FROM nopk WHERE rowid = 3", &[]).unwrap();
    p.exec(
        "INSERT INTO intpk(v) VALUES('x'), ('y');
         INSERT INTO textpk VALUES('z', 1), ('a', 2), ('m', 3);
         DELETE FROM textpk WHERE k = 'z';
         UPDATE textpk SET k = 'b' WHERE k = 'a';
         INSERT INTO compound VALUES(1, 'x', 1.5), (1, 'y', NULL), (2, 'x', x'00ff');
         UPDATE compound SET v = 'new' WHERE a = 1 AND b = 'y';",
    )
    .unwrap();
    // AUTOINCREMENT: a row inserted and deleted in one transaction leaves
    // no row change, but moves the counter; the counter replicates.
    p.batch(&[
        Statement::new("INSERT INTO auto(v) VALUES('kept')", vec![]),
        Statement::new("INSERT INTO auto(v) VALUES('gone')", vec![]),
        Statement::new("DELETE FROM auto WHERE v = 'gone'", vec![]),
    ])
    .unwrap();
    assert_converged(&p, &r);
    assert_eq!(
        same_rows(&p, &r, "SELECT name, seq FROM sqlite_sequence"),
        vec![vec![Value::from("auto"), Value::Integer(2)]]
    );
    same_rows(&p, &r, "SELECT rowid, * FROM nopk ORDER BY rowid");
    same_rows(&p, &r, "SELECT * FROM textpk ORDER BY k");
    same_rows(&p, &r, "SELECT * FROM compound ORDER BY a, b");
    // The counter keeps working on the replica's copy.
    p.execute("INSERT INTO auto(v) VALUES('next')", &[])
        .unwrap();
    assert_converged(&p, &r);
    assert_eq!(
        rows_r(&r, "SELECT id FROM auto WHERE v = 'next'"),
        vec![vec![Value::Integer(3)]]
    );
}

#[test]
fn values_round_trip_exactly() {
    let (_d, p, r) = setup("values");
    p.exec("CREATE TABLE v(id INTEGER PRIMARY KEY, x)").unwrap();
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let values = vec![
        Value::Null,
        Value::Integer(i64::MIN),
        Value::Integer(i64::MAX),
        Value::Integer(0),
        Value::Integer(-1),
        Value::Real(f64::MAX),
        Value::Real(f64::MIN_POSITIVE),
        Value::Real(-0.0),
        Value::Real(0.1 + 0.2),
        Value::Text(String::new()),
        Value::Text("héllo ✓ 日本 \u{0}nul".into()),
        Value::Blob(vec![]),
        Value::Blob(vec![0, 0, 255, 1]),
        Value::Blob(big),
    ];
    for (i, v) in values.iter().enumerate() {
        let w = p
            .execute(
                "INSERT INTO v(id, x) VALUES(?1, ?2)",
                &[Value::Integer(i as i64), v.clone()],
            )
            .unwrap();
        assert_eq!(w.output.meta.last_row_id, i as i64);
    }
    // A statement that inserts nothing reports the last user insert, not the log's.
    let w = p.execute("UPDATE v SET x = x WHERE id = 0", &[]).unwrap();
    assert_eq!(w.output.meta.last_row_id, values.len() as i64 - 1);
    // Keys at the i64 extremes too.
    p.execute(
        "INSERT INTO v(id, x) VALUES(?1, 'min')",
        &[Value::Integer(i64::MIN)],
    )
    .unwrap();
    p.execute(
        "INSERT INTO v(id, x) VALUES(?1, 'max')",
        &[Value::Integer(i64::MAX)],
    )
    .unwrap();
    assert_converged(&p, &r);
    let got = r
        .query(
            "SELECT x FROM v WHERE id >= 0 AND id < 1000 ORDER BY id",
            &[],
        )
        .unwrap();
    let got: Vec<Value> = got.rows.into_iter().map(|mut row| row.remove(0)).collect();
    assert_eq!(got.len(), values.len());
    for (a, b) in got.iter().zip(&values) {
        match (a, b) {
            (Value::Real(x), Value::Real(y)) => assert_eq!(x.to_bits(), y.to_bits()),
            _ => assert_eq!(a, b),
        }
    }
    same_rows(&p, &r, "SELECT id, typeof(x) FROM v ORDER BY id");
}

#[test]
fn failed_batch_leaves_no_log_entry() {
    let (_d, p, r) = setup("rollback");
    p.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, email TEXT UNIQUE)")
        .unwrap();
    p.execute("INSERT INTO t(email) VALUES('a')", &[]).unwrap();
    let before = p.position();
    let hash = p.content_hash().unwrap();
    let err = p
        .batch(&[
            Statement::new("INSERT INTO t(email) VALUES('b')", vec![]),
            Statement::new("CREATE TABLE extra(x)", vec![]),
            Statement::new("INSERT INTO t(email) VALUES(?1)", vec![Value::from("a")]),
        ])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("UNIQUE constraint failed: t.email"),
        "{err}"
    );
    assert_eq!(
        err.sqlite_code(),
        Some(rusqlite::ErrorCode::ConstraintViolation)
    );
    let err = p
        .exec("INSERT INTO t(email) VALUES('c'); SELECT * FROM missing")
        .unwrap_err();
    assert!(err.to_string().contains("no such table: missing"), "{err}");
    assert_eq!(p.position(), before);
    assert_eq!(p.content_hash().unwrap(), hash);
    assert!(p.log_since(before, 10).unwrap().is_empty());
    // The next write takes the next position.
    let w = p.execute("INSERT INTO t(email) VALUES('b')", &[]).unwrap();
    assert_eq!(w.position, before + 1);
    assert_converged(&p, &r);
}

#[test]
fn catch_up_from_zero_after_many_transactions() {
    let dir = TempDir::new("catchup");
    let p = Primary::open_with(dir.path("p.db"), Durability::Normal).unwrap();
    p.exec("CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT, r INTEGER)")
        .unwrap();
    for i in 0..400 {
        let sql = match i % 4 {
            0 | 1 => "INSERT INTO kv(k, v, r) VALUES(?1, 'v' || ?1, random())",
            2 => "UPDATE kv SET v = v || '+', r = random() WHERE k = ?1 - 1",
            _ => "DELETE FROM kv WHERE k = ?1 - 3",
        };
        p.execute(sql, &[Value::Integer(i)]).unwrap();
    }
    assert_eq!(p.position(), 401);
    // One replica catches up in pages of 64 entries, another one entry at a time.
    let r1 = Replica::open(dir.path("r1.db")).unwrap();
    let mut after = 0;
    loop {
        let page = p.log_since(after, 64).unwrap();
        if page.is_empty() {
            break;
        }
        after = r1.apply_all(&page).unwrap().position;
    }
    assert_converged(&p, &r1);
    let r2 = Replica::open(dir.path("r2.db")).unwrap();
    for e in p.log_since(0, usize::MAX).unwrap() {
        assert!(r2.apply(&Entry::decode(&e.encode()).unwrap()).unwrap());
    }
    assert_converged(&p, &r2);
    // Reopened, both keep their positions and content.
    drop(r1);
    let r1 = Replica::open(dir.path("r1.db")).unwrap();
    assert_eq!(r1.position(), 401);
    assert_converged(&p, &r1);
}

#[test]
fn compaction_then_snapshot_bootstrap_then_continue() {
    let (dir, p, behind) = setup("compact");
    p.exec("CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, v, r); CREATE TABLE nopk(x)")
        .unwrap();
    for i in 0..20 {
        p.execute(
            "INSERT INTO t(v, r) VALUES(?1, random())",
            &[Value::Integer(i)],
        )
        .unwrap();
    }
    behind.apply_all(&p.log_since(0, 5).unwrap()).unwrap();
    assert_eq!(behind.position(), 5);
    let head = p.position();
    assert_eq!(p.compact(head - 5).unwrap(), head - 5);
    assert_eq!(p.compacted_through(), head - 5);
    assert_eq!(p.log_since(head - 5, 100).unwrap().len(), 5);
    // Behind the retained log: a distinct error.
    let err = p.log_since(behind.position(), 100).unwrap_err();
    assert!(
        matches!(err, Error::SnapshotRequired { requested: 5, compacted_through } if compacted_through == head - 5),
        "{err}"
    );
    assert!(matches!(
        p.log_since(head + 1, 1),
        Err(Error::AheadOfPrimary { .. })
    ));

    let snap = p.snapshot_to(dir.path("snap.db")).unwrap();
    assert_eq!(snap.position(), head);
    // Shipped as bytes to a fresh replica.
    let shipped = Snapshot::from_bytes(&snap.to_bytes().unwrap(), dir.path("shipped.db")).unwrap();
    let fresh = Replica::open(dir.path("fresh.db")).unwrap();
    fresh.bootstrap(&shipped).unwrap();
    assert_eq!(fresh.position(), head);
    assert_converged(&p, &fresh);
    behind.bootstrap(&snap).unwrap();
    assert_converged(&p, &behind);

    // Both continue from the log, schema changes included.
    p.exec("ALTER TABLE t ADD COLUMN extra DEFAULT 'e'; INSERT INTO nopk VALUES(randomblob(4))")
        .unwrap();
    p.execute("DELETE FROM t WHERE id % 3 = 0", &[]).unwrap();
    assert_converged(&p, &fresh);
    assert_converged(&p, &behind);

    // A snapshot older than a replica is refused.
    let err = fresh.bootstrap(&snap).unwrap_err();
    assert!(matches!(err, Error::StaleSnapshot { .. }), "{err}");
    // Compacting everything: the head stays servable as "nothing new".
    p.compact(u64::MAX).unwrap();
    assert!(p.log_since(p.position(), 10).unwrap().is_empty());
    let snap2 = p.snapshot_to(dir.path("snap2.db")).unwrap();
    assert_eq!(snap2.position(), p.position());
}

#[test]
fn foreign_key_actions_replicate_once() {
    let (_d, p, r) = setup("fk");
    p.exec(
        "CREATE TABLE parent(id INTEGER PRIMARY KEY);
         CREATE TABLE child(id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id) ON DELETE CASCADE);
         CREATE TABLE other(id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id) ON DELETE SET NULL);
         INSERT INTO parent VALUES(1), (2), (3);
         INSERT INTO child VALUES(10, 1), (11, 1), (20, 2), (30, 3);
         INSERT INTO other VALUES(100, 2);",
    )
    .unwrap();
    let w = p.execute("DELETE FROM parent WHERE id = 1", &[]).unwrap();
    assert_eq!(w.output.meta.changes, 1);
    assert_eq!(
        w.output.meta.rows_written, 3,
        "the cascade counts as rows written"
    );
    // Enforced on the primary.
    let err = p
        .execute("INSERT INTO child VALUES(99, 42)", &[])
        .unwrap_err();
    assert!(
        err.to_string().contains("FOREIGN KEY constraint failed"),
        "{err}"
    );
    assert_converged(&p, &r);
    // DROP TABLE of a parent runs an implicit DELETE with its actions; they
    // are carried with the schema statement.
    p.exec("DROP TABLE other; DELETE FROM child WHERE parent = 3; DELETE FROM parent WHERE id = 3")
        .unwrap();
    p.exec("CREATE TABLE c2(id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id) ON DELETE CASCADE); INSERT INTO c2 VALUES(1, 2)")
        .unwrap();
    p.exec("DELETE FROM child; DROP TABLE parent").unwrap();
    assert!(rows_p(&p, "SELECT * FROM c2").is_empty());
    assert_converged(&p, &r);
    assert!(rows_r(&r, "SELECT * FROM c2").is_empty());
}

#[test]
fn virtual_tables_replicate() {
    let (_d, p, r) = setup("fts");
    p.exec("CREATE VIRTUAL TABLE docs USING fts5(title, body)")
        .unwrap();
    p.execute(
        "INSERT INTO docs(title, body) VALUES(?1, ?2)",
        &[
            Value::from("Tokyo"),
            Value::from("served in Tokyo, not Virginia"),
        ],
    )
    .unwrap();
    p.exec("INSERT INTO docs(title, body) VALUES('Other', 'nothing here')")
        .unwrap();
    assert_converged(&p, &r);
    assert_eq!(
        rows_r(&r, "SELECT title FROM docs WHERE docs MATCH 'tokyo'"),
        vec![vec![Value::from("Tokyo")]]
    );
}

#[test]
fn forbidden_statements_are_refused_without_an_entry() {
    let (_d, p, _r) = setup("forbidden");
    p.exec("CREATE TABLE t(x)").unwrap();
    let head = p.position();
    for sql in [
        "BEGIN",
        "COMMIT",
        "SAVEPOINT s",
        "ATTACH DATABASE ':memory:' AS other",
        "PRAGMA journal_mode = DELETE",
        "PRAGMA synchronous = OFF",
        "PRAGMA foreign_keys = OFF",
        "SELECT * FROM _outpost_log",
        "DELETE FROM _outpost_meta",
        "CREATE TABLE _outpost_mine(x)",
        "PRAGMA writable_schema = 1",
    ] {
        let err = p
            .exec(&format!("INSERT INTO t VALUES(1); {sql}"))
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden(_)), "{sql}: {err}");
    }
    let err = p.query("SELECT * FROM _outpost_log", &[]).unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err}");
    assert_eq!(p.position(), head);
    assert!(rows_p(&p, "SELECT * FROM t").is_empty());
    // Reading pragmas is fine.
    assert_eq!(rows_p(&p, "PRAGMA table_info(t)").len(), 1);
    assert_eq!(
        p.execute("PRAGMA foreign_keys", &[]).unwrap().output.rows,
        vec![vec![Value::Integer(1)]]
    );
}

#[test]
fn results_and_counters() {
    let (_d, p, r) = setup("meta");
    p.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)")
        .unwrap();
    let w = p
        .execute(
            "INSERT INTO t(name) VALUES('a'), ('b'), (?1) RETURNING id, name",
            &[Value::from("c")],
        )
        .unwrap();
    assert!(w.changed_db);
    assert_eq!(w.output.columns, vec!["id", "name"]);
    assert_eq!(w.output.rows.len(), 3);
    assert_eq!(
        (
            w.output.meta.changes,
            w.output.meta.last_row_id,
            w.output.meta.rows_written
        ),
        (3, 3, 3)
    );
    // A read through execute writes no entry and returns the current bookmark.
    let read = p.execute("SELECT count(*) AS n FROM t", &[]).unwrap();
    assert!(!read.changed_db);
    assert_eq!(read.position, w.position);
    assert_eq!(read.output.meta.changes, 0);
    let q = p
        .query("SELECT * FROM t WHERE name > ?1", &[Value::from("a")])
        .unwrap();
    assert_eq!(q.rows.len(), 2);
    assert!(q.meta.rows_read >= 2);
    // An UPDATE matching nothing changes nothing.
    let none = p
        .execute("UPDATE t SET name = 'x' WHERE id = 99", &[])
        .unwrap();
    assert!(!none.changed_db);
    // Errors carry SQLite's message.
    let err = p.query("SELECT * FROM nope", &[]).unwrap_err();
    assert_eq!(err.to_string(), "no such table: nope");
    let err = p
        .execute("INSERT INTO t VALUES(?1, ?2)", &[Value::Integer(1)])
        .unwrap_err();
    assert!(matches!(err, Error::Sqlite(_)), "{err}");
    // Read-only entry points refuse writes.
    assert!(matches!(
        p.query("DELETE FROM t", &[]),
        Err(Error::NotReadOnly)
    ));
    sync(&p, &r);
    assert!(matches!(
        r.query("INSERT INTO t VALUES(9, 'z')", &[]),
        Err(Error::NotReadOnly)
    ));
    assert_eq!(
        r.query("SELECT name FROM t ORDER BY id", &[])
            .unwrap()
            .rows
            .len(),
        3
    );
}

#[test]
fn wait_for_gives_read_your_writes() {
    let (_d, p, r) = setup("wait");
    p.exec("CREATE TABLE t(x)").unwrap();
    sync(&p, &r);
    let w = p.execute("INSERT INTO t VALUES('mine')", &[]).unwrap();
    let err = r
        .wait_for(w.position, Duration::from_millis(20))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            sync(&p, &r);
        });
        let at = r.wait_for(w.position, Duration::from_secs(10)).unwrap();
        assert!(at >= w.position);
        assert_eq!(
            rows_r(&r, "SELECT x FROM t"),
            vec![vec![Value::from("mine")]]
        );
    });
}

#[test]
fn roles_are_checked_and_plain_databases_adopted() {
    let dir = TempDir::new("roles");
    let p = Primary::open(dir.path("p.db")).unwrap();
    p.exec("CREATE TABLE t(x); INSERT INTO t VALUES(1)")
        .unwrap();
    drop(p);
    let _r = Replica::open(dir.path("r.db")).unwrap();
    assert!(matches!(
        Replica::open(dir.path("p.db")),
        Err(Error::Role { .. })
    ));
    assert!(matches!(
        Primary::open(dir.path("r.db")),
        Err(Error::Role { .. })
    ));
    let p = Primary::open(dir.path("p.db")).unwrap();
    assert_eq!(p.position(), 1, "reopening keeps the head");

    // A plain SQLite file with data: adopted at position 1, nothing retained.
    {
        let plain = rusqlite::Connection::open(dir.path("plain.db")).unwrap();
        plain
            .execute_batch("CREATE TABLE old(x); INSERT INTO old VALUES('kept')")
            .unwrap();
    }
    assert!(matches!(
        Replica::open(dir.path("plain.db")),
        Err(Error::Role { .. })
    ));
    let adopted = Primary::open(dir.path("plain.db")).unwrap();
    assert_eq!((adopted.position(), adopted.compacted_through()), (1, 1));
    let r = Replica::open(dir.path("r2.db")).unwrap();
    assert!(matches!(
        adopted.log_since(0, 10),
        Err(Error::SnapshotRequired { .. })
    ));
    r.bootstrap(&adopted.snapshot_to(dir.path("s.db")).unwrap())
        .unwrap();
    adopted
        .execute("INSERT INTO old VALUES('new')", &[])
        .unwrap();
    assert_converged(&adopted, &r);
    assert_eq!(rows_r(&r, "SELECT x FROM old").len(), 2);
}

/// The child half of `acknowledged_writes_survive_kill_9`: writes until killed.
#[test]
fn durability_child() {
    let Ok(path) = std::env::var("OUTPOST_DATA_DURABILITY_CHILD") else {
        return;
    };
    let p = Primary::open(&path).unwrap();
    p.exec("CREATE TABLE IF NOT EXISTS acks(seq INTEGER PRIMARY KEY, r INTEGER, at TEXT)")
        .unwrap();
    let mut out = std::io::stdout().lock();
    let started = Instant::now();
    for seq in 0..100_000i64 {
        if started.elapsed() > Duration::from_secs(60) {
            break;
        }
        let w = p
            .execute(
                "INSERT INTO acks(seq, r, at) VALUES(?1, random(), strftime('%f', 'now'))",
                &[Value::Integer(seq)],
            )
            .unwrap();
        writeln!(out, "ack {seq} {}", w.position).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = TempDir::new("kill9");
    let db = dir.path("p.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tests::durability_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("OUTPOST_DATA_DURABILITY_CHILD", &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<(i64, u64)>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let ["ack", seq, pos] = parts.as_slice() {
                if let (Ok(seq), Ok(pos)) = (seq.parse(), pos.parse()) {
                    let _ = tx.send((seq, pos));
                }
            }
        }
    });
    let mut acks = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks.len() < 150 && Instant::now() < deadline {
        if let Ok(ack) = rx.recv_timeout(Duration::from_millis(100)) {
            acks.push(ack);
        }
    }
    child.kill().unwrap(); // SIGKILL, mid-write
    child.wait().unwrap();
    reader.join().unwrap();
    acks.extend(rx.try_iter());
    assert!(
        acks.len() >= 100,
        "child acknowledged only {} writes",
        acks.len()
    );

    let p = Primary::open(&db).unwrap();
    let max_pos = acks.iter().map(|a| a.1).max().unwrap();
    assert!(
        p.position() >= max_pos,
        "head {} < acknowledged {max_pos}",
        p.position()
    );
    for &(seq, pos) in &acks {
        let n = p
            .query(
                "SELECT count(*) FROM acks WHERE seq = ?1",
                &[Value::Integer(seq)],
            )
            .unwrap();
        assert_eq!(
            n.rows,
            vec![vec![Value::Integer(1)]],
            "acknowledged write {seq} lost"
        );
        let entry = p.log_since(pos - 1, 1).unwrap();
        assert_eq!(entry[0].position(), pos, "log entry {pos} lost");
    }
    // The log rebuilds exactly the primary's content.
    let r = Replica::open(dir.path("r.db")).unwrap();
    assert_converged(&p, &r);
    println!(
        "kill -9 after {} acknowledged writes: all present, head {}, log replays to the same content hash",
        acks.len(),
        p.position()
    );
}

/// Measured once for DESIGN.md:
/// `cargo test -p outpost-data --lib -- --ignored --nocapture write_throughput`
#[test]
#[ignore]
fn write_throughput() {
    let dir = TempDir::new("throughput");
    for (name, durability) in [("Full", Durability::Full), ("Normal", Durability::Normal)] {
        let path: &Path = &dir.path(&format!("{name}.db"));
        let p = Primary::open_with(path, durability).unwrap();
        p.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
            .unwrap();
        let n = 2000;
        let started = Instant::now();
        for i in 0..n {
            p.execute(
                "INSERT INTO t(v) VALUES(?1)",
                &[Value::Text(format!("row {i}"))],
            )
            .unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        let entry_bytes: usize = p
            .log_since(1, 100)
            .unwrap()
            .iter()
            .map(|e| e.encode().len())
            .sum::<usize>()
            / 100;
        println!(
            "Durability::{name}: {n} single-row write transactions in {secs:.2} s = {:.0} tx/s, {:.0} µs each; log entry {entry_bytes} bytes",
            n as f64 / secs,
            secs * 1e6 / n as f64
        );
        // The same from 16 threads at once: group commit shares fsyncs.
        let p = std::sync::Arc::new(p);
        let batches_before = p.write_batches();
        let per_thread = 500;
        let started = Instant::now();
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let p = p.clone();
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        p.execute(
                            "INSERT INTO t(v) VALUES(?1)",
                            &[Value::Text(format!("thread {t} row {i}"))],
                        )
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "Durability::{name}: {} single-row write transactions from 16 threads in {secs:.2} s = {:.0} tx/s, {:.1} writes per commit",
            16 * per_thread,
            (16 * per_thread) as f64 / secs,
            (16 * per_thread) as f64 / (p.write_batches() - batches_before) as f64
        );
    }
}

/// Concurrent writers share commits, and each still gets its own position
/// and log entry; a failing write in a shared commit is rolled back alone.
#[test]
fn group_commit_keeps_writes_separate() {
    let dir = TempDir::new("group");
    let p = std::sync::Arc::new(Primary::open(dir.path("p.db")).unwrap());
    p.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let p = p.clone();
            std::thread::spawn(move || {
                let mut positions = Vec::new();
                for i in 0..50 {
                    // Every 10th write collides with a value another thread writes.
                    let v = if i % 10 == 0 {
                        format!("dup {i}")
                    } else {
                        format!("{t}/{i}")
                    };
                    match p.execute("INSERT INTO t(v) VALUES(?1)", &[Value::Text(v)]) {
                        Ok(w) => positions.push(w.position),
                        Err(e) => assert!(e.to_string().contains("UNIQUE"), "{e}"),
                    }
                }
                positions
            })
        })
        .collect();
    let mut positions: Vec<Position> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    positions.sort();
    let n = positions.len();
    // 8 × 45 distinct rows plus one winner of each of the 5 duplicate values.
    assert_eq!(n, 8 * 45 + 5);
    positions.dedup();
    assert_eq!(positions.len(), n, "every write has its own position");
    // 8 writers at once: writes queued during a commit share the next one.
    let attempts = 8 * 50 + 1;
    assert!(
        p.write_batches() < attempts,
        "{} commits for {attempts} writes",
        p.write_batches()
    );
    assert_eq!(p.position(), 1 + n as Position);
    let log = p.log_since(0, 10_000).unwrap();
    assert_eq!(log.len(), 1 + n);
    let replica = Replica::open(dir.path("r.db")).unwrap();
    replica.apply_all(&log).unwrap();
    assert_eq!(replica.content_hash().unwrap(), p.content_hash().unwrap());
}

/// Cached statements: user SQL never reuses a statement the crate prepared
/// for itself (which skipped the guard), and counters start afresh per run.
#[test]
fn cached_reads_keep_the_guard_and_fresh_counters() {
    let dir = TempDir::new("cache");
    let p = Primary::open(dir.path("p.db")).unwrap();
    p.exec("CREATE TABLE t(x); INSERT INTO t VALUES (1), (2), (3)")
        .unwrap();
    // The crate's own read of the log, prepared (and cached) on the reader.
    assert_eq!(p.log_since(0, 10).unwrap().len(), 1);
    let internal = "SELECT entry FROM _outpost_log WHERE position > ?1 ORDER BY position LIMIT ?2";
    for _ in 0..2 {
        let e = p
            .query(internal, &[Value::Integer(0), Value::Integer(10)])
            .unwrap_err();
        assert!(matches!(e, Error::Forbidden(_)), "{e}");
    }
    let first = p.query("SELECT * FROM t WHERE x > 0", &[]).unwrap();
    let second = p.query("SELECT * FROM t WHERE x > 0", &[]).unwrap();
    assert_eq!(first.rows.len(), 3);
    assert_eq!(first.meta.rows_read, second.meta.rows_read);
}
