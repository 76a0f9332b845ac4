//! Hostile workers and a well-behaved one share one node (same executor
//! threads, same process). Every hostile request must fail on its own with a
//! response that says why, while the good worker keeps answering correctly
//! and the process stays alive through every isolate teardown.

use std::sync::Arc;
use std::time::Duration;

use outpost_node::{Node, NodeConfig, Routes};
use outpost_runtime::{Limits, WorkerSpec};
use outpost_testkit::get;

const GOOD: &str =
    "let n = 0; export default { fetch(req) { n++; return new Response('ok ' + req.method); } };";

const EVIL: &str = r#"
export default {
  async fetch(req) {
    const path = req.url.slice(req.url.indexOf('/', 8));
    switch (path) {
      case '/loop': while (true) {}
      case '/memory': { const keep = []; while (true) keep.push(new Array(1e5).fill(path)); }
      case '/recursion': { const f = (n) => f(n + 1) + 1; return new Response(String(f(0))); }
      case '/giant-string': return new Response('x'.repeat(1 << 28));
      case '/never': return new Promise(() => {});
      case '/throw': throw new Error('thrown on purpose');
      case '/reject': await Promise.resolve(); throw new RangeError('rejected on purpose');
      case '/timer-throw': setTimeout(() => { throw new Error('thrown in a timer'); }, 0); return new Response('scheduled');
      case '/timer-loop': setTimeout(() => { while (true) {} }, 0); return new Response('scheduled');
      case '/unhandled': Promise.reject(new Error('nobody listens')); return new Response('unhandled');
      case '/not-a-response': return { status: 200 };
      default: return new Response('evil but fine');
    }
  },
};
"#;

fn spec(name: &str, src: &str, limits: Limits) -> Arc<WorkerSpec> {
    Arc::new(WorkerSpec {
        limits,
        dev: true,
        ..WorkerSpec::from_source(name, src).unwrap()
    })
}

#[test]
fn hostile_workers_do_not_disturb_a_good_one() {
    let limits = Limits {
        cpu: Duration::from_millis(50),
        wall: Duration::from_millis(1500),
        memory_bytes: 32 << 20,
        ..Limits::default()
    };
    let routes = Arc::new(Routes::new());
    routes.deploy(spec("good", GOOD, limits));
    routes.deploy(spec("evil", EVIL, limits));
    let node = Node::start(
        NodeConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            threads: 2,
            warm_pool: 1,
            dev: true,
            ..NodeConfig::default()
        },
        routes,
    )
    .unwrap();
    let addr = node.addr();

    let cases: &[(&str, u16, &str)] = &[
        ("/loop", 503, "CPU time limit"),
        ("/memory", 503, "memory limit"),
        ("/recursion", 503, "stack limit"),
        ("/giant-string", 503, "memory limit"),
        ("/never", 503, "wall-clock time limit"),
        ("/throw", 500, "Error: thrown on purpose"),
        ("/reject", 500, "RangeError: rejected on purpose"),
        ("/timer-throw", 200, "scheduled"),
        ("/timer-loop", 200, "scheduled"),
        ("/unhandled", 200, "unhandled"),
        ("/not-a-response", 500, "did not return a Response"),
    ];

    // The good worker is hammered from another thread the whole time.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let good_traffic = std::thread::spawn(move || {
        let mut served = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let r = get(addr, "good.localhost", "/").expect("good worker reachable");
            assert_eq!(
                (r.status, r.text()),
                (200, "ok GET".to_string()),
                "good worker answered wrongly"
            );
            served += 1;
        }
        served
    });

    for round in 0..2 {
        for (path, status, needle) in cases {
            let r = get(addr, "evil.localhost", path).unwrap();
            assert_eq!(r.status, *status, "round {round} {path}: {}", r.text());
            assert!(
                r.text().contains(needle),
                "round {round} {path}: body {:?} lacks {needle:?}",
                r.text()
            );
            // After each failure the evil worker recovers on a fresh isolate
            // (a background runaway may take one more request to notice).
            let after = get(addr, "evil.localhost", "/").unwrap();
            assert!(
                after.status == 200 || after.text().contains("CPU time limit"),
                "round {round} after {path}: {} {}",
                after.status,
                after.text()
            );
        }
    }
    let fine = get(addr, "evil.localhost", "/").unwrap();
    assert_eq!(
        (fine.status, fine.text()),
        (200, "evil but fine".to_string())
    );

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let served = good_traffic.join().expect("good traffic thread");
    assert!(served > 0);
    node.shutdown();
}

#[test]
fn unknown_host_gets_a_404_that_says_so() {
    let routes = Arc::new(Routes::new());
    routes.deploy(spec("good", GOOD, Limits::default()));
    let node = Node::start(
        NodeConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            threads: 1,
            warm_pool: 0,
            dev: false,
            ..NodeConfig::default()
        },
        routes,
    )
    .unwrap();
    let r = get(node.addr(), "nobody.localhost", "/").unwrap();
    assert_eq!(r.status, 404);
    assert!(
        r.text()
            .contains("No worker is routed for host `nobody.localhost`"),
        "{}",
        r.text()
    );
    let r = get(node.addr(), "good.localhost", "/").unwrap();
    assert_eq!(r.text(), "ok GET");
}

#[test]
fn idle_isolates_are_evicted_past_the_memory_budget() {
    let counter = "let n = 0; export default { fetch() { return new Response(String(++n)); } };";
    let routes = Arc::new(Routes::new());
    routes.deploy(spec("counter", counter, Limits::default()));
    let start = |budget| {
        Node::start(
            NodeConfig {
                addr: "127.0.0.1:0".parse().unwrap(),
                threads: 1,
                warm_pool: 0,
                dev: true,
                memory_budget: budget,
            },
            routes.clone(),
        )
        .unwrap()
    };
    // A generous budget keeps the isolate (and its module state) alive...
    let node = start(1 << 30);
    assert_eq!(
        get(node.addr(), "counter.localhost", "/").unwrap().text(),
        "1"
    );
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(
        get(node.addr(), "counter.localhost", "/").unwrap().text(),
        "2"
    );
    node.shutdown();
    // ...a budget smaller than one isolate evicts it once idle.
    let node = start(1);
    assert_eq!(
        get(node.addr(), "counter.localhost", "/").unwrap().text(),
        "1"
    );
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(
        get(node.addr(), "counter.localhost", "/").unwrap().text(),
        "1"
    );
    node.shutdown();
}
