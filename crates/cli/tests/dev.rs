//! `outpost dev` as a user runs it: a real process, real HTTP, real files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use outpost_testkit::{get, request, wait_for, Proc};

/// A running `outpost dev`.
struct Dev {
    proc: Proc,
    addr: SocketAddr,
}

impl Dev {
    fn start(dir: &Path, args: &[&str]) -> Dev {
        let mut proc = Proc::spawn(
            Command::new(env!("CARGO_BIN_EXE_outpost"))
                .arg("dev")
                .args(args)
                .args(["--port", "0", "--threads", "1"])
                .current_dir(dir),
        );
        let addr = proc.addr_after("Ready on", Duration::from_secs(30));
        Dev { proc, addr }
    }

    /// Waits for an output line containing `needle` and returns it.
    fn wait_line(&mut self, needle: &str, timeout: Duration) -> String {
        self.proc.wait_line(needle, timeout)
    }

    fn get(&self, path: &str) -> (u16, String) {
        let r = get(self.addr, "localhost", path).expect("request");
        (r.status, r.text())
    }
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("outpost-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn serves_the_hello_example() {
    let dev = Dev::start(&repo(), &["examples/hello/index.js"]);
    assert_eq!(dev.get("/"), (200, "Hello World!".to_string()));
    let r = get(dev.addr, "localhost", "/anything?x=1").unwrap();
    assert_eq!(r.header("content-type"), Some("text/plain;charset=UTF-8"));
    assert_eq!(r.header("content-length"), Some("12"));
}

#[test]
fn serves_the_storefront_example_from_its_wrangler_toml() {
    let dev = Dev::start(&repo(), &["--config", "examples/storefront/wrangler.toml"]);
    let (status, html) = dev.get("/");
    assert_eq!(status, 200);
    assert!(
        html.contains("<h1>Outpost Outfitters</h1>") && html.contains("Welcome, stranger!"),
        "{html}"
    );
    // Featured products (a JSON var) come first.
    assert!(
        html.find("tent").unwrap() < html.find("lamp").unwrap(),
        "{html}"
    );

    let login = request(
        dev.addr,
        "POST",
        "localhost",
        "/api/login",
        &[("content-type", "application/json")],
        br#"{"name":"Ada <3"}"#,
    )
    .unwrap();
    assert_eq!(login.status, 303, "{}", login.text());
    let cookie = login
        .header("set-cookie")
        .expect("cookie set")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = request(
        dev.addr,
        "GET",
        "localhost",
        "/",
        &[("cookie", &cookie)],
        b"",
    )
    .unwrap();
    assert!(
        page.text().contains("Welcome back, Ada &lt;3!"),
        "{}",
        page.text()
    );

    let (status, json) = dev.get("/api/products?tag=cook");
    assert_eq!(status, 200);
    assert!(
        json.contains("\"stove\"") && json.contains("\"mug\"") && !json.contains("\"tent\""),
        "{json}"
    );
    let (status, json) = dev.get("/api/products/nope");
    assert_eq!(
        (status, json.as_str()),
        (404, r#"{"error":"no product nope"}"#)
    );
    let bad = request(
        dev.addr,
        "POST",
        "localhost",
        "/api/login",
        &[],
        b"{not json",
    )
    .unwrap();
    assert_eq!(bad.status, 400);
}

#[test]
fn reloads_on_change_and_keeps_the_last_good_version() {
    let dir = scratch("reload");
    std::fs::write(
        dir.join("outpost.toml"),
        "name = \"reloader\"\nmain = \"index.js\"\n[vars]\nGREETING = \"hello\"\n",
    )
    .unwrap();
    std::fs::write(dir.join(".dev.vars"), "SECRET=\"s3cret\"\n").unwrap();
    std::fs::write(dir.join("lib.js"), "export const v = 'v1';\n").unwrap();
    std::fs::write(
        dir.join("index.js"),
        "import { v } from './lib.js';\nexport default { fetch(req, env) { return new Response(`${v} ${env.GREETING} ${env.SECRET}`); } };\n",
    )
    .unwrap();
    let mut dev = Dev::start(&dir, &[]);
    assert_eq!(dev.get("/"), (200, "v1 hello s3cret".to_string()));

    // A change to an imported module is picked up.
    std::thread::sleep(Duration::from_millis(50));
    std::fs::write(dir.join("lib.js"), "export const v = 'v2';\n").unwrap();
    dev.wait_line("Reloaded `reloader`", Duration::from_secs(10));
    assert_eq!(dev.get("/"), (200, "v2 hello s3cret".to_string()));

    // A broken edit is reported with its location; the last good version keeps serving.
    std::fs::write(
        dir.join("lib.js"),
        "export const v = 'v3';\nconst broken = ;\n",
    )
    .unwrap();
    let err = dev.wait_line("lib.js:2:", Duration::from_secs(10));
    assert!(err.contains("SyntaxError"), "{err}");
    assert_eq!(dev.get("/"), (200, "v2 hello s3cret".to_string()));

    // Fixing it brings the new version.
    std::fs::write(dir.join("lib.js"), "export const v = 'v4';\n").unwrap();
    wait_for("v4 to be served", Duration::from_secs(10), || {
        (dev.get("/").1 == "v4 hello s3cret").then_some(())
    });
}

#[test]
fn handler_errors_show_message_and_stack_in_dev() {
    let dir = scratch("errors");
    std::fs::write(dir.join("w.js"), "addEventListener('fetch', (e) => e.respondWith(fail()));\nfunction fail() {\n  throw new TypeError('kaput');\n}\n").unwrap();
    let mut dev = Dev::start(&dir, &["w.js"]);
    let (status, body) = dev.get("/");
    assert_eq!(status, 500);
    assert!(
        body.contains("TypeError: kaput") && body.contains("w.js:3"),
        "{body}"
    );
    // The error is logged with the deployment's name.
    let logged = dev.wait_line("kaput", Duration::from_secs(5));
    assert!(logged.contains("[w] Uncaught TypeError: kaput"), "{logged}");
}

#[test]
fn bad_invocations_fail_with_a_clear_message() {
    let dir = scratch("bad");
    let out = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .arg("dev")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no entry module"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::write(
        dir.join("wrangler.toml"),
        "name = \"x\"\nmain = \"i.js\"\n[limits]\ncpu_ms = \"fast\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .arg("dev")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("limits.cpu_ms") && err.contains("integer"),
        "{err}"
    );

    std::fs::write(dir.join("wrangler.toml"), "name = \"x\"\nmain = \"i.js\"\n").unwrap();
    std::fs::write(
        dir.join("i.js"),
        "export default { fetch() { return new Response(1) } ",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_outpost"))
        .arg("dev")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("i.js:1:") && err.contains("SyntaxError"),
        "{err}"
    );
}
