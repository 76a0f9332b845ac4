//! `env.DB` against the D1 Workers Binding API documentation.

use std::sync::Arc;

use outpost_data::{Durability, Value as SqlValue};

use crate::d1::{encode_bookmark, D1Binding};
use crate::testing::{run_js, TempDir};

/// The documentation's `Customers` table (D1 "Get started").
const CUSTOMERS: &str = "
    CREATE TABLE Customers (CustomerId INTEGER PRIMARY KEY, CompanyName TEXT, ContactName TEXT);
    INSERT INTO Customers (CustomerId, CompanyName, ContactName) VALUES
      (1, 'Alfreds Futterkiste', 'Maria Anders'),
      (4, 'Around the Horn', 'Thomas Hardy'),
      (11, 'Bs Beverages', 'Victoria Ashworth'),
      (13, 'Bs Beverages', 'Random Name');";

struct Db {
    _dir: TempDir,
    binding: D1Binding,
}

impl Db {
    fn new(name: &str) -> Db {
        let dir = TempDir::new(name);
        let binding = D1Binding::open(dir.path("db.sqlite"), Durability::Normal).unwrap();
        Db { _dir: dir, binding }
    }

    fn customers(name: &str) -> Db {
        let db = Db::new(name);
        db.binding.primary().unwrap().exec(CUSTOMERS).unwrap();
        db
    }

    fn js(&self, body: &str) -> String {
        run_js(body, &[("DB", Arc::new(self.binding.clone()))])
    }

    fn rows(&self, sql: &str) -> Vec<Vec<SqlValue>> {
        self.binding
            .primary()
            .unwrap()
            .query(sql, &[])
            .unwrap()
            .rows
    }
}

#[test]
fn documented_statement_methods() {
    let db = Db::customers("doc-methods");
    let out = db.js(
        "const stmt = env.DB.prepare('SELECT * FROM Customers WHERE CompanyName = ?').bind('Bs Beverages');
         const all = await stmt.all();
         const run = await stmt.run();
         return JSON.stringify({
           all: all.results, success: all.success, runSame: JSON.stringify(run.results) === JSON.stringify(all.results),
           raw: await stmt.raw(),
           rawNames: await stmt.raw({ columnNames: true }),
           first: await stmt.first(),
           firstId: await stmt.first('CustomerId'),
         });",
    );
    assert_eq!(
        out,
        r#"{"all":[{"CustomerId":11,"CompanyName":"Bs Beverages","ContactName":"Victoria Ashworth"},{"CustomerId":13,"CompanyName":"Bs Beverages","ContactName":"Random Name"}],"success":true,"runSame":true,"raw":[[11,"Bs Beverages","Victoria Ashworth"],[13,"Bs Beverages","Random Name"]],"rawNames":[["CustomerId","CompanyName","ContactName"],[11,"Bs Beverages","Victoria Ashworth"],[13,"Bs Beverages","Random Name"]],"first":{"CustomerId":11,"CompanyName":"Bs Beverages","ContactName":"Victoria Ashworth"},"firstId":11}"#
    );
}

#[test]
fn ordered_and_anonymous_parameters() {
    let db = Db::customers("params");
    let out = db.js(
        "const a = await env.DB.prepare('SELECT * FROM Customers WHERE CompanyName = ? AND CustomerId = ?').bind('Alfreds Futterkiste', 1).first('ContactName');
         const b = await env.DB.prepare('SELECT * FROM Customers WHERE CompanyName = ?2 AND CustomerId = ?1').bind(1, 'Alfreds Futterkiste').first('ContactName');
         const s = env.DB.prepare('SELECT ?1 AS x');
         const rebound = await s.bind(1).bind(2).first('x');
         return [a, b, rebound, s.statement].join('|');",
    );
    assert_eq!(out, "Maria Anders|Maria Anders|2|SELECT ?1 AS x");
}

#[test]
fn meta_of_reads_and_writes() {
    let db = Db::customers("meta");
    let out = db.js(
        "const ins = await env.DB.prepare('INSERT INTO Customers (CompanyName, ContactName) VALUES (?, ?)').bind('Ernst Handel', 'Roland Mendel').run();
         const upd = await env.DB.prepare(\"UPDATE Customers SET ContactName = 'x' WHERE CompanyName = ?\").bind('Bs Beverages').run();
         const sel = await env.DB.prepare('SELECT * FROM Customers').all();
         const ddl = await env.DB.prepare('CREATE TABLE Orders (OrderId INTEGER PRIMARY KEY)').run();
         const m = ins.meta;
         return JSON.stringify({
           keys: Object.keys(m),
           ins: [m.changes, m.last_row_id, m.changed_db, m.rows_written, ins.results.length, m.served_by_region, m.served_by_primary],
           upd: [upd.meta.changes, upd.meta.changed_db, upd.meta.rows_written],
           sel: [sel.meta.changes, sel.meta.changed_db, sel.meta.rows_read >= 5, sel.meta.rows_written, sel.results.length],
           ddl: [ddl.meta.changes, ddl.meta.changed_db, ddl.meta.rows_written, ddl.meta.last_row_id],
           types: [typeof m.duration, typeof m.timings.sql_duration_ms, m.size_after > 0 && m.size_after % 4096 === 0],
         });",
    );
    assert_eq!(
        out,
        r#"{"keys":["served_by","served_by_region","served_by_primary","timings","duration","changes","last_row_id","changed_db","size_after","rows_read","rows_written"],"ins":[1,14,true,1,0,"local",true],"upd":[2,true,2],"sel":[0,false,true,0,5],"ddl":[0,true,0,14],"types":["number","number",true]}"#
    );
}

#[test]
fn returning_rows_from_a_write() {
    let db = Db::new("returning");
    let out = db.js(
        "await env.DB.exec('CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)');
         const r = await env.DB.prepare('INSERT INTO t(name) VALUES (?), (?) RETURNING id, name').bind('a', 'b').all();
         return JSON.stringify([r.results, r.meta.changes, r.meta.last_row_id]);",
    );
    assert_eq!(out, r#"[[{"id":1,"name":"a"},{"id":2,"name":"b"}],2,2]"#);
}

#[test]
fn batch_results_in_order() {
    let db = Db::customers("batch");
    let out = db.js(
        "const stmt = env.DB.prepare('SELECT * FROM Customers WHERE CompanyName = ?');
         const r = await env.DB.batch([stmt.bind('Bs Beverages'), stmt.bind('Around the Horn')]);
         return JSON.stringify(r.map((x) => [x.success, x.results.map((c) => c.CustomerId), x.meta.changed_db]));",
    );
    assert_eq!(out, r#"[[true,[11,13],false],[true,[4],false]]"#);
}

#[test]
fn batch_rolls_back_when_a_statement_fails() {
    let db = Db::customers("rollback");
    let out = db.js(
        "const ins = env.DB.prepare('INSERT INTO Customers (CustomerId, CompanyName) VALUES (?, ?)');
         try {
           await env.DB.batch([
             ins.bind(100, 'first'),
             env.DB.prepare('DELETE FROM Customers WHERE CustomerId = 1'),
             ins.bind(4, 'duplicate key'),
             ins.bind(101, 'never'),
           ]);
           return 'resolved';
         } catch (e) {
           return [e instanceof Error, e.constructor.name, e.message, e.cause && e.cause.message].join('|');
         }",
    );
    assert_eq!(
        out,
        "true|Error|D1_ERROR: UNIQUE constraint failed: Customers.CustomerId: SQLITE_CONSTRAINT|UNIQUE constraint failed: Customers.CustomerId: SQLITE_CONSTRAINT"
    );
    // Nothing of the batch stayed: no row 100, row 1 still there.
    assert_eq!(
        db.rows("SELECT group_concat(CustomerId) FROM Customers"),
        vec![vec![SqlValue::from("1,4,11,13")]]
    );
    // A successful batch with a schema statement and writes.
    let out = db.js("const r = await env.DB.batch([
           env.DB.prepare('CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)'),
           env.DB.prepare('INSERT INTO notes(body) VALUES (?)').bind('hi'),
           env.DB.prepare('SELECT count(*) AS n FROM notes'),
         ]);
         return JSON.stringify(r.map((x) => [x.meta.changed_db, x.meta.changes, x.results]));");
    assert_eq!(out, r#"[[true,0,[]],[true,1,[]],[false,0,[{"n":1}]]]"#);
}

#[test]
fn sqlite_errors_carry_d1_prefixes() {
    let db = Db::customers("errors");
    let out = db.js(
        "const msg = async (p) => { try { await p; return 'ok'; } catch (e) { return e.message; } };
         return [
           await msg(env.DB.prepare('SELECT * FROM x').all()),
           await msg(env.DB.prepare('SELEC 1').run()),
           await msg(env.DB.prepare('SELECT ?1 + ?2').bind(1).all()),
           await msg(env.DB.prepare('INSERT INTO Customers (CustomerId) VALUES (1)').run()),
           await msg(env.DB.prepare('BEGIN TRANSACTION').run()),
           await msg(env.DB.prepare('SELECT * FROM x').first()),
           await msg(env.DB.prepare('SELECT * FROM x').raw()),
         ].join('\\n');",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "D1_ERROR: no such table: x: SQLITE_ERROR");
    assert_eq!(
        lines[1],
        "D1_ERROR: near \"SELEC\": syntax error: SQLITE_ERROR"
    );
    assert_eq!(
        lines[2],
        "D1_ERROR: Wrong number of parameter bindings for SQL query."
    );
    assert_eq!(
        lines[3],
        "D1_ERROR: UNIQUE constraint failed: Customers.CustomerId: SQLITE_CONSTRAINT"
    );
    assert!(
        lines[4].starts_with("D1_ERROR: not authorized: transaction control")
            && lines[4].ends_with(": SQLITE_AUTH"),
        "{}",
        lines[4]
    );
    assert_eq!(lines[5], lines[0]);
    assert_eq!(lines[6], lines[0]);
}

#[test]
fn first_of_nothing_and_of_a_missing_column() {
    let db = Db::customers("first");
    let out = db.js(
        "const none = env.DB.prepare('SELECT * FROM Customers WHERE CustomerId = 999');
         const one = env.DB.prepare('SELECT * FROM Customers WHERE CustomerId = 1');
         let err;
         try { await one.first('Nope'); } catch (e) { err = [e.message, e.cause.message].join(' / '); }
         return JSON.stringify([await none.first(), await none.first('Nope'), await one.first('CompanyName'), err]);",
    );
    assert_eq!(
        out,
        r#"[null,null,"Alfreds Futterkiste","D1_COLUMN_NOTFOUND: Column not found (Nope) / Column not found"]"#
    );
}

#[test]
fn type_conversion_on_bind() {
    let db = Db::new("types");
    db.binding
        .primary()
        .unwrap()
        .exec("CREATE TABLE v(id INTEGER PRIMARY KEY, x)")
        .unwrap();
    let out = db.js(
        "const ins = env.DB.prepare('INSERT INTO v(id, x) VALUES (?, ?)');
         const values = [null, 42, -0, 1.5, 2 ** 53, 1e300, -(2 ** 63), 2 ** 63, 'text', '', true, false];
         await env.DB.batch(values.map((v, i) => ins.bind(i, v)));
         return JSON.stringify(await env.DB.prepare('SELECT x, typeof(x) AS t FROM v ORDER BY id').raw());",
    );
    assert_eq!(
        out,
        r#"[[null,"null"],[42,"integer"],[0,"integer"],[1.5,"real"],[9007199254740992,"integer"],[1e+300,"real"],[-9223372036854776000,"integer"],[9223372036854776000,"real"],["text","text"],["","text"],[1,"integer"],[0,"integer"]]"#
    );
}

#[test]
fn blobs_in_and_out() {
    let db = Db::new("blobs");
    db.binding
        .primary()
        .unwrap()
        .exec("CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB)")
        .unwrap();
    let out = db.js(
        "const ins = env.DB.prepare('INSERT INTO b(id, data) VALUES (?, ?)');
         const buf = new Uint8Array([1, 2, 255]).buffer;
         await env.DB.batch([
           ins.bind(1, buf),
           ins.bind(2, new Uint8Array([0, 128, 7])),
           ins.bind(3, new Uint8Array(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2)),
           ins.bind(4, new DataView(new Uint8Array([5, 6]).buffer)),
           ins.bind(5, [10, 20, 30]),
           ins.bind(6, new ArrayBuffer(0)),
         ]);
         const rows = await env.DB.prepare('SELECT id, data, typeof(data) AS t, length(data) AS n FROM b ORDER BY id').all();
         const back = await env.DB.prepare('SELECT id FROM b WHERE data = ?').bind(new Uint8Array([1, 2, 255])).first('id');
         return JSON.stringify([rows.results.map((r) => [r.data, r.t, r.n]), Array.isArray(rows.results[0].data), back]);",
    );
    assert_eq!(
        out,
        r#"[[[[1,2,255],"blob",3],[[0,128,7],"blob",3],[[8,7],"blob",2],[[5,6],"blob",2],[[10,20,30],"blob",3],[[],"blob",0]],true,1]"#
    );
}

#[test]
fn bigints_bind_as_integers_and_read_back_as_numbers() {
    let db = Db::new("bigint");
    db.binding
        .primary()
        .unwrap()
        .exec("CREATE TABLE n(id INTEGER PRIMARY KEY, x INTEGER)")
        .unwrap();
    let out = db.js(
        "const big = 2n ** 53n + 1n;
         await env.DB.prepare('INSERT INTO n(id, x) VALUES (1, ?), (2, ?), (3, ?)').bind(big, 9223372036854775807n, -5n).run();
         const exact = await env.DB.prepare('SELECT CAST(x AS TEXT) AS s FROM n ORDER BY id').raw();
         const back = await env.DB.prepare('SELECT x FROM n ORDER BY id').raw();
         const found = await env.DB.prepare('SELECT id FROM n WHERE x = ?').bind(big).first('id');
         let err;
         try { env.DB.prepare('SELECT ?').bind(2n ** 64n); } catch (e) { err = e.message; }
         return JSON.stringify([exact, back, typeof back[0][0], found, err]);",
    );
    assert_eq!(
        out,
        r#"[[["9007199254740993"],["9223372036854775807"],["-5"]],[[9007199254740992],[9223372036854776000],[-5]],"number",1,"D1_TYPE_ERROR: Type 'bigint' not supported for value '18446744073709551616 (outside the 64-bit INTEGER range)'"]"#
    );
}

#[test]
fn bind_type_errors_are_thrown_synchronously() {
    let db = Db::new("bind-errors");
    let out = db.js(
        "const s = env.DB.prepare('SELECT ?');
         const err = (v) => { try { s.bind(v); return 'bound'; } catch (e) { return [e.constructor.name, e.message, e.cause.message].join(' | '); } };
         return [
           err({}),
           err(undefined),
           err(Symbol('s')),
           err(() => 1),
           err([1, 2, 300]),
           err(new Date(0).getTime()),
         ].join('\\n');",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "Error | D1_TYPE_ERROR: Type 'object' not supported for value '[object Object]' | Type 'object' not supported for value '[object Object]'",
            "Error | D1_TYPE_ERROR: Type 'undefined' not supported for value 'undefined' | Type 'undefined' not supported for value 'undefined'",
            "Error | D1_TYPE_ERROR: Type 'symbol' not supported for value 'Symbol(s)' | Type 'symbol' not supported for value 'Symbol(s)'",
            "Error | D1_TYPE_ERROR: Type 'function' not supported for value '() => 1' | Type 'function' not supported for value '() => 1'",
            "Error | D1_TYPE_ERROR: Type 'object' not supported for value '1,2,300' | Type 'object' not supported for value '1,2,300'",
            "bound",
        ]
    );
}

#[test]
fn exec_runs_scripts() {
    let db = Db::new("exec");
    let out = db.js(
        "const r = await env.DB.exec(`CREATE TABLE t(x);
           INSERT INTO t VALUES (1);
           INSERT INTO t VALUES (2); INSERT INTO t VALUES (3)`);
         let err;
         try { await env.DB.exec('INSERT INTO t VALUES (4);\\nSELECT * FROM missing'); } catch (e) { err = [e.message, e.cause.message]; }
         const n = await env.DB.prepare('SELECT count(*) AS n FROM t').first('n');
         return JSON.stringify([r.count, typeof r.duration, err, n]);",
    );
    assert_eq!(
        out,
        r#"[4,"number",["D1_EXEC_ERROR: Error in line 1: INSERT INTO t VALUES (4);: no such table: missing: SQLITE_ERROR","Error in line 1: INSERT INTO t VALUES (4);: no such table: missing: SQLITE_ERROR"],3]"#
    );
}

#[test]
fn sessions_and_bookmarks() {
    let db = Db::new("sessions");
    db.binding
        .primary()
        .unwrap()
        .exec("CREATE TABLE t(x)")
        .unwrap();
    let created = db.binding.primary().unwrap().position();
    let out = db.js(
        "const out = {};
         const s = env.DB.withSession('first-primary');
         out.before = s.getBookmark();
         out.read = (await s.prepare('SELECT count(*) AS n FROM t').first('n'));
         out.afterRead = s.getBookmark();
         await s.prepare('INSERT INTO t VALUES (1)').run();
         out.afterWrite = s.getBookmark();
         await s.batch([s.prepare('INSERT INTO t VALUES (2)'), s.prepare('INSERT INTO t VALUES (3)')]);
         out.afterBatch = s.getBookmark();
         const resumed = env.DB.withSession(out.afterWrite);
         out.resumedBefore = resumed.getBookmark();
         out.resumedCount = await resumed.prepare('SELECT count(*) AS n FROM t').first('n');
         out.resumedAfter = resumed.getBookmark();
         out.unconstrained = env.DB.withSession().getBookmark();
         const bad = (arg) => { try { env.DB.withSession(arg); return 'ok'; } catch (e) { return e.message; } };
         out.invalid = bad('not-a-bookmark');
         out.nonString = bad(5);
         out.hasGetBookmark = typeof env.DB.getBookmark;
         try { await env.DB.withSession('7fffffffffffffff').prepare('SELECT 1').run(); } catch (e) { out.ahead = e.message; }
         return JSON.stringify(out);",
    );
    let b = |p: u64| encode_bookmark(p);
    assert_eq!(
        out,
        format!(
            r#"{{"before":null,"read":0,"afterRead":"{}","afterWrite":"{}","afterBatch":"{}","resumedBefore":"{}","resumedCount":3,"resumedAfter":"{}","unconstrained":null,"invalid":"D1_SESSION_ERROR: invalid bookmark or constraint","nonString":"D1_SESSION_ERROR: withSession() takes a constraint or a bookmark string","hasGetBookmark":"undefined","ahead":"D1_ERROR: bookmark 7fffffffffffffff is ahead of this database, which is at {}"}}"#,
            b(created),
            b(created + 1),
            b(created + 2),
            b(created + 1),
            b(created + 2),
            b(created + 2),
        )
    );
    assert_eq!(db.binding.primary().unwrap().position(), created + 2);
}
