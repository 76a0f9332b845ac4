//! Edge data over real processes: a control plane holding the primaries of
//! a D1 database and a KV namespace, and two `outpost serve` nodes holding
//! replicas, on 127.0.0.1.
//!
//! - a randomized session history checks read-your-writes and monotonic
//!   bookmarks across nodes, and that replicas really serve reads;
//! - a replica killed while the log moves on (and is compacted past it)
//!   bootstraps from a snapshot and catches up;
//! - a replica cut off by a proxy keeps serving and catches up when the
//!   proxy lets traffic through again;
//! - the primary killed (SIGKILL) under a write load loses no acknowledged
//!   write;
//! - after all that, every replica file has the primary's content hash.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use outpost_testkit::{get, wait_for};

const WORKER: &str = r#"
export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    const q = url.searchParams;
    const json = (o, status = 200) => Response.json(o, { status });
    try {
      switch (url.pathname) {
        case '/': return new Response('ready');
        case '/init':
          await env.DB.exec("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL, at TEXT, r REAL)");
          return json({ ok: true });
        case '/put': {
          const s = env.DB.withSession(q.get('bookmark') || 'first-primary');
          const r = await s.prepare("INSERT INTO t (k, v, at, r) VALUES (?1, ?2, datetime('now'), random()) ON CONFLICT (k) DO UPDATE SET v = excluded.v, r = random()")
            .bind(q.get('k'), Number(q.get('v'))).run();
          return json({ bookmark: s.getBookmark(), primary: r.meta.served_by_primary });
        }
        case '/get': {
          const s = env.DB.withSession(q.get('bookmark') || 'first-unconstrained');
          const r = await s.prepare('SELECT v FROM t WHERE k = ?1').bind(q.get('k')).all();
          return json({ v: r.results.length ? r.results[0].v : null, bookmark: s.getBookmark(), primary: r.meta.served_by_primary });
        }
        case '/count': {
          const s = env.DB.withSession('first-unconstrained');
          const r = await s.prepare('SELECT count(*) AS n FROM t').all();
          return json({ n: r.results[0].n, bookmark: s.getBookmark(), primary: r.meta.served_by_primary });
        }
        case '/kv/put': await env.KV.put(q.get('k'), q.get('v')); return json({ ok: true });
        case '/kv/get': return json({ v: await env.KV.get(q.get('k')) });
      }
      return new Response('not found', { status: 404 });
    } catch (e) {
      return json({ error: String(e && e.message) }, 500);
    }
  },
};
"#;

const HOST: &str = "shop.localhost";
const DB_ID: &str = "shop-db";

/// A project `dir` running [`WORKER`] as worker `dir`, binding D1 database `db`
/// and KV namespace `kv`, both with `primary_region = region` if given.
fn data_project(root: &Path, dir: &str, db: &str, kv: &str, region: Option<&str>) -> PathBuf {
    let d = root.join(dir);
    std::fs::create_dir_all(&d).unwrap();
    let placed = region
        .map(|r| format!("primary_region = \"{r}\"\n"))
        .unwrap_or_default();
    std::fs::write(
        d.join("outpost.toml"),
        format!(
            "name = \"{dir}\"\nmain = \"index.js\"\n\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"{dir}\"\ndatabase_id = \"{db}\"\n{placed}\n[[kv_namespaces]]\nbinding = \"KV\"\nid = \"{kv}\"\n{placed}"
        ),
    )
    .unwrap();
    std::fs::write(d.join("index.js"), WORKER).unwrap();
    d
}

fn shop(root: &Path) -> PathBuf {
    data_project(root, "shop", DB_ID, "sessions", None)
}

/// GET `path` on `node`, as JSON text; `None` unless it answered 200.
fn call(node: SocketAddr, path: &str) -> Option<String> {
    let r = get(node, HOST, path).ok()?;
    (r.status == 200).then(|| r.text())
}

fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let needle = format!("\"{key}\":");
    let start = json
        .find(&needle)
        .unwrap_or_else(|| panic!("{key} in {json}"))
        + needle.len();
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim_matches('"')
}

/// A D1 bookmark's position.
fn position(bookmark: &str) -> u64 {
    u64::from_str_radix(bookmark, 16).unwrap_or_else(|e| panic!("bookmark {bookmark}: {e}"))
}

/// Deploys the shop worker and creates its table; returns its directory.
fn deploy_shop(fleet: &Fleet) -> PathBuf {
    let dir = shop(&fleet.root);
    ok(&fleet.cli(&dir, &["deploy"], &fleet.admin));
    fleet.wait_all_serve(HOST, "ready");
    let init = call(fleet.nodes[0].addr, "/init").expect("init");
    assert!(init.contains("true"), "{init}");
    dir
}

/// The primary's head position of the shop database.
fn primary_position(fleet: &Fleet) -> u64 {
    let r = fleet.api("GET", "/v1/data", &fleet.admin, b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let entry = text
        .split('{')
        .find(|e| e.contains(&format!("\"id\":\"{DB_ID}\"")))
        .unwrap_or_else(|| panic!("{DB_ID} in {text}"));
    field(entry, "position").parse().unwrap()
}

/// Waits until node `i`'s replica has reached the primary's position.
fn wait_converged(fleet: &Fleet, i: usize) {
    let target = primary_position(fleet);
    let node = fleet.nodes[i].addr;
    wait_for(
        &format!("node {i} to reach position {target}"),
        WAIT,
        || {
            let c = call(node, "/count")?;
            (position(field(&c, "bookmark")) >= target).then_some(())
        },
    );
}

/// Every node's replica file holds the primary's content (compared after
/// all processes are stopped, from the files themselves).
fn assert_same_content(fleet: &mut Fleet) {
    for i in 0..fleet.nodes.len() {
        wait_converged(fleet, i);
    }
    for i in 0..fleet.nodes.len() {
        fleet.kill_node(i);
    }
    fleet.kill_control();
    let primary =
        outpost_data::Primary::open(fleet.root.join(format!("control/data/d1/{DB_ID}.sqlite")))
            .unwrap();
    let expected = primary.content_hash().unwrap();
    for i in 0..fleet.nodes.len() {
        let path = fleet.nodes[i]
            .dir
            .join(format!("node/data/d1/{DB_ID}.sqlite"));
        let replica = outpost_data::Replica::open(&path).unwrap();
        assert_eq!(
            replica.position(),
            primary.position(),
            "node {i} replica position"
        );
        assert_eq!(
            replica.content_hash().unwrap(),
            expected,
            "node {i} content"
        );
    }
}

/// A tiny deterministic generator for the randomized history.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn sessions_read_their_writes_across_replicas() {
    let mut fleet = Fleet::start("repl-sessions", 2);
    deploy_shop(&fleet);
    let nodes = [fleet.nodes[0].addr, fleet.nodes[1].addr];

    // One client session moving between nodes at random: every read sees
    // the session's own latest write, and bookmarks never go back.
    let mut rng = Rng(7);
    let mut bookmark = String::new();
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    let mut replica_reads = 0;
    for step in 0..80u64 {
        let node = nodes[rng.below(2) as usize];
        let key = format!("k{}", rng.below(8));
        let answer = if rng.below(3) == 0 {
            let a = call(node, &format!("/put?k={key}&v={step}&bookmark={bookmark}"))
                .unwrap_or_else(|| panic!("write {step} on {node}"));
            expected.insert(key, step);
            a
        } else {
            let a = call(node, &format!("/get?k={key}&bookmark={bookmark}"))
                .unwrap_or_else(|| panic!("read {step} on {node}"));
            let got = field(&a, "v");
            let want = expected
                .get(&key)
                .map_or("null".to_string(), u64::to_string);
            assert_eq!(got, want, "step {step}: read of {key} on {node}: {a}");
            if field(&a, "primary") == "false" {
                replica_reads += 1;
            }
            a
        };
        let next = field(&answer, "bookmark").to_string();
        if !bookmark.is_empty() {
            assert!(
                position(&next) >= position(&bookmark),
                "step {step}: bookmark went back from {bookmark} to {next}"
            );
        }
        bookmark = next;
    }
    assert!(replica_reads > 0, "no read was served by a replica");

    // The operator's tools reach the same primaries.
    let dir = fleet.root.join("shop");
    let out = ok(&fleet.cli(
        &dir,
        &[
            "db",
            "execute",
            "DB",
            "--command",
            "INSERT INTO t (k, v) VALUES ('cli', 42)",
        ],
        &fleet.admin,
    ));
    assert!(out.contains("1 changed"), "{out}");
    wait_for("the CLI's write to reach node 1", WAIT, || {
        call(nodes[1], "/get?k=cli")
            .filter(|a| field(a, "v") == "42")
            .map(|_| ())
    });
    let dump = ok(&fleet.cli(&dir, &["db", "export", "shop-db"], &fleet.admin));
    assert!(
        dump.contains("CREATE TABLE t ") && dump.contains("NULL,'cli',NULL,42)"),
        "{dump}"
    );
    let bad = fleet.cli(
        &dir,
        &["db", "execute", "DB", "--command", "SELEC 1"],
        &fleet.admin,
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("syntax error"),
        "{bad:?}"
    );
    ok(&fleet.cli(&dir, &["kv", "put", "KV", "greeting", "hej"], &fleet.admin));
    wait_for("the CLI's KV write to reach node 1", WAIT, || {
        call(nodes[1], "/kv/get?k=greeting")
            .filter(|a| a.contains("hej"))
            .map(|_| ())
    });
    let listed = ok(&fleet.cli(&dir, &["kv", "list", "KV"], &fleet.admin));
    assert!(listed.contains("greeting"), "{listed}");

    // KV: written through one node, read through the other once replicated.
    call(nodes[0], "/kv/put?k=cart&v=apples").expect("kv put");
    wait_for("the KV write to reach node 1", WAIT, || {
        call(nodes[1], "/kv/get?k=cart")
            .filter(|a| a.contains("apples"))
            .map(|_| ())
    });

    assert_same_content(&mut fleet);
}

/// A TCP proxy that can be cut (every connection closed, new ones refused)
/// and restored.
struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    generation: Arc<AtomicU64>,
}

impl Proxy {
    fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicU64::new(0));
        let (c, g) = (cut.clone(), generation.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if c.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let born = g.load(Ordering::SeqCst);
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let g = g.clone();
                    std::thread::spawn(move || pump(from, to, &g, born));
                }
            }
        });
        Proxy {
            addr,
            cut,
            generation,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Copies bytes until either side closes or the proxy is cut.
fn pump(mut from: TcpStream, mut to: TcpStream, generation: &AtomicU64, born: u64) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 16 * 1024];
    while generation.load(Ordering::SeqCst) == born {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[test]
fn replicas_survive_kills_partitions_compaction_and_a_primary_crash() {
    // A short log, so a replica that misses 50 writes needs a snapshot.
    let mut fleet = Fleet::start_with("repl-faults", 1, &["--log-retain", "20"]);
    let proxy = Proxy::start(fleet.control_addr);
    fleet.start_node_via(1, &format!("http://{}", proxy.addr));
    fleet.wait_nodes_online(2);
    deploy_shop(&fleet);
    let writer = fleet.nodes[0].addr;
    let put = |k: &str, v: u64| call(writer, &format!("/put?k={k}&v={v}"));
    for i in 0..5 {
        put(&format!("a{i}"), i).expect("write");
    }
    wait_converged(&fleet, 1);

    // 1. A replica killed while 50 writes land (and the log is compacted
    // past its position) comes back through a snapshot.
    fleet.kill_node(1);
    for i in 0..50 {
        put(&format!("b{i}"), i).expect("write");
    }
    std::thread::sleep(Duration::from_millis(1500)); // compaction runs every second
    fleet.start_node_via(1, &format!("http://{}", proxy.addr));
    wait_converged(&fleet, 1);
    let out = fleet.nodes[1].proc.output();
    assert!(
        out.contains("bootstrapped from a snapshot"),
        "node 1 should have needed a snapshot:\n{out}"
    );

    // 2. A replica cut off keeps serving (stale) reads, then catches up.
    proxy.cut();
    for i in 0..10 {
        put(&format!("c{i}"), i).expect("write");
    }
    let stale = call(fleet.nodes[1].addr, "/count").expect("a cut-off replica still serves");
    assert!(field(&stale, "primary") == "false", "{stale}");
    proxy.restore();
    wait_converged(&fleet, 1);

    // 3. The primary killed under a write load: every acknowledged write
    // is there after it restarts.
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (acked, stop) = (acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let k = format!("d{i}");
                if let Some(a) = call(writer, &format!("/put?k={k}&v={i}")) {
                    assert!(a.contains("bookmark"), "{a}");
                    acked.lock().unwrap().push((k, i));
                }
                i += 1;
            }
        })
    };
    wait_for("some acknowledged writes", WAIT, || {
        (acked.lock().unwrap().len() >= 20).then_some(())
    });
    fleet.kill_control();
    std::thread::sleep(Duration::from_millis(300));
    fleet.restart_control();
    let before = acked.lock().unwrap().len();
    wait_for("writes to resume after the restart", WAIT, || {
        (acked.lock().unwrap().len() >= before + 10).then_some(())
    });
    stop.store(true, Ordering::SeqCst);
    load.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    for (k, v) in &acked {
        let a = call(writer, &format!("/get?k={k}&bookmark=first-primary")).expect("read");
        assert_eq!(field(&a, "v"), v.to_string(), "acknowledged write {k}");
    }
    eprintln!(
        "{} acknowledged writes around a SIGKILL of the primary, none lost",
        acked.len()
    );

    assert_same_content(&mut fleet);
}

const PLACED_HOST: &str = "placed.localhost";
const PLACED_DB: &str = "placed-db";

/// The shop worker as `placed`, its database and namespace with
/// `primary_region = region`.
fn placed(root: &Path, region: &str) -> PathBuf {
    data_project(root, "placed", PLACED_DB, "placed-kv", Some(region))
}

fn placed_call(node: SocketAddr, path: &str) -> Option<String> {
    let r = get(node, PLACED_HOST, path).ok()?;
    (r.status == 200).then(|| r.text())
}

#[test]
fn a_primary_lives_on_a_node_of_its_primary_region() {
    let mut fleet = Fleet::start("repl-placed", 2);
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();

    // A region no node is in: refused, and nothing is created anywhere.
    let dir = placed(&fleet.root, "mars");
    let refused = fleet.cli(&dir, &["deploy"], &fleet.admin);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("no node of that region is following"),
        "{}",
        stderr(&refused)
    );

    // region-0 holds the primaries; region-1 replicates from it.
    placed(&fleet.root, "region-0");
    ok(&fleet.cli(&dir, &["deploy"], &fleet.admin));
    let (home, away) = (fleet.nodes[0].addr, fleet.nodes[1].addr);
    for node in [home, away] {
        wait_for("the placed worker", WAIT, || {
            placed_call(node, "/").filter(|t| t == "ready")
        });
    }
    let init = placed_call(away, "/init").expect("init through the replica's node");
    assert!(init.contains("true"), "{init}");
    let held = fleet.nodes[0]
        .dir
        .join(format!("node/primaries/data/d1/{PLACED_DB}.sqlite"));
    assert!(held.exists(), "the primary is not on node 0");
    assert!(!fleet
        .root
        .join(format!("control/data/d1/{PLACED_DB}.sqlite"))
        .exists());

    // Writes through the other node reach the primary; its bookmark gives
    // read-your-writes on the replica.
    let put = placed_call(away, "/put?k=a&v=1").expect("put through node 1");
    let bookmark = field(&put, "bookmark").to_string();
    let got = placed_call(away, &format!("/get?k=a&bookmark={bookmark}")).expect("get");
    assert_eq!(field(&got, "v"), "1", "{got}");
    let local = placed_call(home, "/put?k=b&v=2").expect("put on the primary's node");
    assert_eq!(field(&local, "primary"), "true", "{local}");

    // KV likewise.
    placed_call(away, "/kv/put?k=cart&v=pears").expect("kv put");
    let kv = placed_call(home, "/kv/get?k=cart").expect("kv get");
    assert!(kv.contains("pears"), "{kv}");
    wait_for("the KV write to reach node 1's replica", WAIT, || {
        placed_call(away, "/kv/get?k=cart")
            .filter(|a| a.contains("pears"))
            .map(|_| ())
    });

    // The operator's tools reach it through the control plane, which lists
    // where it is.
    let out = ok(&fleet.cli(
        &dir,
        &[
            "db",
            "execute",
            "DB",
            "--command",
            "INSERT INTO t (k, v) VALUES ('cli', 3)",
        ],
        &fleet.admin,
    ));
    assert!(out.contains("1 changed"), "{out}");
    let node0 = json_field(
        &fleet.api("GET", "/v1/nodes", &fleet.admin, b"").text(),
        "id",
    );
    let listed = fleet.api("GET", "/v1/data", &fleet.admin, b"").text();
    let entry = listed
        .split('{')
        .find(|e| e.contains(&format!("\"id\":\"{PLACED_DB}\"")))
        .unwrap_or_else(|| panic!("{PLACED_DB} in {listed}"));
    assert!(entry.contains("\"region\":\"region-0\""), "{entry}");
    assert!(entry.contains(&format!("\"node\":\"{node0}\"")), "{entry}");

    // The primary's node restarts on another data port: the control plane
    // and the replica follow it.
    fleet.restart_node(0);
    let home = fleet.nodes[0].addr;
    wait_for("writes through node 1 after node 0 restarted", WAIT, || {
        placed_call(away, "/put?k=c&v=4").map(|_| ())
    });
    let count = placed_call(home, "/count").expect("count on the primary's node");
    assert_eq!(field(&count, "n"), "4", "{count}");

    // A primary does not move.
    placed(&fleet.root, "region-1");
    let moved = fleet.cli(&dir, &["deploy"], &fleet.admin);
    assert!(!moved.status.success());
    assert!(
        stderr(&moved).contains("stays where it was first placed"),
        "{}",
        stderr(&moved)
    );

    // The replica converges to the primary's content.
    wait_for("node 1 to catch up", WAIT, || {
        let c = placed_call(away, "/count")?;
        (field(&c, "n") == "4").then_some(())
    });
    fleet.kill_node(0);
    fleet.kill_node(1);
    let primary = outpost_data::Primary::open(&held).unwrap();
    let replica = outpost_data::Replica::open(
        fleet.nodes[1]
            .dir
            .join(format!("node/data/d1/{PLACED_DB}.sqlite")),
    )
    .unwrap();
    assert_eq!(replica.position(), primary.position());
    assert_eq!(
        replica.content_hash().unwrap(),
        primary.content_hash().unwrap()
    );
}
