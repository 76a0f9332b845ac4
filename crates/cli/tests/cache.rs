//! The Cache API through `outpost dev`: a worker that caches its responses
//! gets a HIT on the second request, and the entry outlives a restart
//! (it lives in `.outpost/cache.sqlite` beside the config).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use outpost_testkit::{get, HttpResponse, Proc};

const WORKER: &str = r#"
let generated = 0;
export default {
  async fetch(request) {
    const cache = caches.default;
    const hit = await cache.match(request);
    if (hit) return hit;
    generated += 1;
    const response = new Response(`made #${generated} at ${Date.now()}`, {
      headers: { "cache-control": "max-age=3600", "x-generated": String(generated) },
    });
    await cache.put(request, response.clone());
    return response;
  },
};
"#;

/// A running `outpost dev` in `dir`.
struct Dev {
    _proc: Proc,
    addr: SocketAddr,
}

impl Dev {
    fn start(dir: &Path) -> Dev {
        let mut proc = Proc::spawn(
            Command::new(env!("CARGO_BIN_EXE_outpost"))
                .args(["dev", "--port", "0", "--threads", "1"])
                .current_dir(dir),
        );
        let addr = proc.addr_after("Ready on", Duration::from_secs(30));
        Dev { _proc: proc, addr }
    }

    fn get(&self, path: &str) -> HttpResponse {
        get(self.addr, "localhost", path).expect("request")
    }
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("outpost-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn cached_response_hits_and_survives_a_restart() {
    let dir = scratch("cache");
    std::fs::write(
        dir.join("wrangler.toml"),
        "name = \"cachey\"\nmain = \"index.js\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("index.js"), WORKER).unwrap();

    let dev = Dev::start(&dir);
    let first = dev.get("/page?x=1");
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("cf-cache-status"), None);
    assert!(first.text().starts_with("made #1 "), "{}", first.text());

    let second = dev.get("/page?x=1");
    assert_eq!(second.status, 200);
    assert_eq!(second.header("cf-cache-status"), Some("HIT"));
    assert_eq!(second.header("x-generated"), Some("1"));
    assert_eq!(second.text(), first.text());

    // Another URL (here: another query) is another entry.
    let other = dev.get("/page?x=2");
    assert_eq!(other.header("cf-cache-status"), None);
    assert!(other.text().starts_with("made #2 "), "{}", other.text());
    drop(dev);

    assert!(dir.join(".outpost/cache.sqlite").is_file());
    let dev = Dev::start(&dir);
    let after = dev.get("/page?x=1");
    assert_eq!(after.status, 200);
    assert_eq!(after.header("cf-cache-status"), Some("HIT"));
    assert_eq!(after.text(), first.text());
    drop(dev);
    let _ = std::fs::remove_dir_all(&dir);
}
