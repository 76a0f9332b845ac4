//! A control plane and three edge nodes as real `outpost serve` processes on
//! 127.0.0.1, driven by the real `outpost deploy`/`rollback`/`versions`/
//! `secret`/`routes` commands and raw control API requests.
//!
//! Every wait is a bounded poll; nothing sleeps for a fixed long time.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use outpost_testkit::{get, request, wait_for, HttpResponse};

const BIN: &str = env!("CARGO_BIN_EXE_outpost");
const WAIT: Duration = Duration::from_secs(20);

/// A running `outpost serve` with its output lines collected.
/// A spawned `outpost` with its output collected; `wait_line`/`addr_after`
/// wait up to [`WAIT`].
struct Proc(outpost_testkit::Proc);

impl Proc {
    fn spawn(args: &[&str], cwd: &Path) -> Proc {
        Proc(outpost_testkit::Proc::spawn(
            Command::new(BIN).args(args).current_dir(cwd),
        ))
    }

    fn wait_line(&mut self, needle: &str) -> String {
        self.0.wait_line(needle, WAIT)
    }

    fn output(&mut self) -> String {
        self.0.output()
    }

    fn addr_after(&mut self, needle: &str) -> SocketAddr {
        self.0.addr_after(needle, WAIT)
    }
}

struct Node {
    proc: Proc,
    addr: SocketAddr,
    dir: PathBuf,
    region: String,
}

/// A control plane (`--control-only`) and its nodes.
struct Fleet {
    root: PathBuf,
    control: Option<Proc>,
    control_addr: SocketAddr,
    admin: String,
    node_token: String,
    nodes: Vec<Node>,
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("outpost-fleet-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Fleet {
    fn start(tag: &str, nodes: usize) -> Fleet {
        let root = scratch(tag);
        let mut control = Proc::spawn(
            &[
                "serve",
                "--control-only",
                "--dir",
                "control",
                "--control-port",
                "0",
            ],
            &root,
        );
        let control_addr = control.addr_after("Control API on");
        let token_line = control.wait_line("admin token in");
        let token_path = token_line
            .split(" in ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        let admin = std::fs::read_to_string(token_path)
            .unwrap()
            .trim()
            .to_string();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(token_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "admin token file mode");
        }
        let mut fleet = Fleet {
            root,
            control: Some(control),
            control_addr,
            admin,
            node_token: String::new(),
            nodes: Vec::new(),
        };
        let created = fleet.api(
            "POST",
            "/v1/tokens",
            &fleet.admin.clone(),
            br#"{"name":"nodes","scope":"node"}"#,
        );
        assert_eq!(created.status, 201, "{}", created.text());
        fleet.node_token = json_field(&created.text(), "token");
        for i in 0..nodes {
            fleet.start_node(i);
        }
        fleet.wait_nodes_online(nodes);
        fleet
    }

    fn control_url(&self) -> String {
        format!("http://{}", self.control_addr)
    }

    fn start_node(&mut self, i: usize) {
        let dir = self.root.join(format!("node-{i}"));
        let region = format!("region-{i}");
        let mut proc = Proc::spawn(
            &[
                "serve",
                "--dir",
                dir.to_str().unwrap(),
                "--port",
                "0",
                "--threads",
                "1",
                "--region",
                &region,
                "--control",
                &self.control_url(),
                "--token",
                &self.node_token,
            ],
            &self.root,
        );
        let addr = proc.addr_after("Ready on");
        let node = Node {
            proc,
            addr,
            dir,
            region,
        };
        if i < self.nodes.len() {
            self.nodes[i] = node;
        } else {
            self.nodes.push(node);
        }
    }

    /// Kills node `i` and starts it again on its own directory.
    fn restart_node(&mut self, i: usize) {
        let child = &mut self.nodes[i].proc.0.child.0;
        let _ = child.kill();
        let _ = child.wait();
        self.start_node(i);
    }

    fn kill_control(&mut self) {
        let mut c = self.control.take().expect("control plane running");
        let _ = c.0.child.0.kill();
        let _ = c.0.child.0.wait();
    }

    fn restart_control(&mut self) {
        let port = self.control_addr.port().to_string();
        let mut control = Proc::spawn(
            &[
                "serve",
                "--control-only",
                "--dir",
                "control",
                "--control-port",
                &port,
            ],
            &self.root,
        );
        assert_eq!(control.addr_after("Control API on"), self.control_addr);
        assert!(control.wait_line("token in").contains("Admin token in"));
        self.control = Some(control);
    }

    fn api(&self, method: &str, path: &str, token: &str, body: &[u8]) -> HttpResponse {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("content-type", "application/json")];
        if !token.is_empty() {
            headers.push(("authorization", auth.as_str()));
        }
        request(self.control_addr, method, "localhost", path, &headers, body)
            .expect("control API request")
    }

    /// Runs an `outpost` command against the control plane in `cwd`.
    fn cli(&self, cwd: &Path, args: &[&str], token: &str) -> Output {
        Command::new(BIN)
            .args(args)
            .args(["--control", &self.control_url(), "--token", token])
            .current_dir(cwd)
            .stdin(Stdio::null())
            .output()
            .expect("run outpost")
    }

    /// Waits until every node answers `host` with `body`; returns how long.
    fn wait_all_serve(&self, host: &str, body: &str) -> Duration {
        let start = Instant::now();
        for n in &self.nodes {
            wait_for(
                &format!("node {} to serve {body:?}", n.region),
                WAIT,
                || {
                    let r = get(n.addr, host, "/").ok()?;
                    (r.status == 200 && r.text() == body).then_some(())
                },
            );
        }
        start.elapsed()
    }

    /// Asserts every node answers `host` with `body` right now.
    fn assert_all_serve(&self, host: &str, body: &str) {
        for n in &self.nodes {
            let r = get(n.addr, host, "/").expect("node reachable");
            assert_eq!(
                (r.status, r.text().as_str()),
                (200, body),
                "node {} ({})",
                n.region,
                n.addr
            );
        }
    }

    fn wait_nodes_online(&self, count: usize) {
        wait_for("nodes to follow the control plane", WAIT, || {
            let r = self.api("GET", "/v1/nodes", &self.admin, b"");
            (r.status == 200 && r.text().matches("\"online\":true").count() == count).then_some(())
        });
    }
}

/// A worker project: `outpost.toml` + `index.js` answering `text`.
fn project(root: &Path, dir: &str, name: &str, text: &str) -> PathBuf {
    let d = root.join(dir);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("outpost.toml"),
        format!("name = \"{name}\"\nmain = \"index.js\"\n[vars]\nLABEL = \"{text}\"\n"),
    )
    .unwrap();
    std::fs::write(
        d.join("index.js"),
        "export default { async fetch(req, env) {\n  if (new URL(req.url).pathname === '/slow') await new Promise((r) => setTimeout(r, 1500));\n  return new Response(env.LABEL + (env.KEY ? ' ' + env.KEY : ''));\n} };\n",
    )
    .unwrap();
    d
}

fn json_field(json: &str, key: &str) -> String {
    let needle = format!("\"{key}\":\"");
    let start = json
        .find(&needle)
        .unwrap_or_else(|| panic!("{key} in {json}"))
        + needle.len();
    json[start..].split('"').next().unwrap().to_string()
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "command failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Seconds from the `Deployed ... in X s` line of `outpost deploy`.
fn propagation(stdout: &str) -> f64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Deployed "))
        .unwrap_or_else(|| panic!("no Deployed line in {stdout}"));
    line.rsplit(" in ")
        .next()
        .unwrap()
        .trim_end_matches(" s")
        .parse()
        .unwrap()
}

#[test]
fn deploy_rollback_and_a_control_plane_outage() {
    let mut fleet = Fleet::start("main", 3);
    let host = "hello.localhost";
    let v1 = project(&fleet.root, "v1", "hello", "one");
    let v2 = project(&fleet.root, "v2", "hello", "two");
    let admin = fleet.admin.clone();

    // Deploy: when the command returns, every node serves the new version.
    let out = ok(&fleet.cli(&v1, &["deploy"], &admin));
    assert!(out.contains("to 3/3 nodes"), "{out}");
    let first = propagation(&out);
    fleet.assert_all_serve(host, "one");
    let out = ok(&fleet.cli(&v2, &["deploy", "--message", "second"], &admin));
    for n in &fleet.nodes {
        assert!(
            out.contains(&n.region),
            "progress names {}: {out}",
            n.region
        );
    }
    let second = propagation(&out);
    fleet.assert_all_serve(host, "two");
    eprintln!("propagation, deploy acknowledged -> 3 nodes report it: {first:.3} s, {second:.3} s");
    assert!(first < 1.0 && second < 1.0, "{first} {second}");

    // Rollback, to the previous version and then to a named one.
    let out = ok(&fleet.cli(&v1, &["rollback", "hello"], &admin));
    assert!(out.contains("back to version 1"), "{out}");
    fleet.assert_all_serve(host, "one");
    ok(&fleet.cli(&v1, &["rollback", "hello", "2"], &admin));
    fleet.assert_all_serve(host, "two");
    let out = ok(&fleet.cli(&v1, &["versions", "hello"], &admin));
    let active: Vec<&str> = out.lines().filter(|l| l.starts_with('*')).collect();
    assert_eq!(active.len(), 1, "{out}");
    assert!(
        active[0].contains(" 2 ") && active[0].contains("second"),
        "{out}"
    );

    // The control plane dies: the nodes keep serving.
    fleet.kill_control();
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        fleet.assert_all_serve(host, "two");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A node restarted meanwhile serves its last good state from its own
    // directory before the control plane is back.
    fleet.restart_node(2);
    let line = fleet.nodes[2].proc.wait_line("follows");
    assert!(
        line.contains("serving 1 workers from its last good state"),
        "{line}"
    );
    assert!(fleet.nodes[2].dir.join("node/state.json").is_file());
    fleet.assert_all_serve(host, "two");

    // It comes back: the nodes follow again and converge on a new deploy.
    fleet.restart_control();
    fleet.wait_nodes_online(3);
    let v3 = project(&fleet.root, "v3", "hello", "three");
    let out = ok(&fleet.cli(&v3, &["deploy"], &admin));
    assert!(out.contains("to 3/3 nodes"), "{out}");
    fleet.assert_all_serve(host, "three");
    let logs = fleet.nodes[0].proc.output();
    assert!(logs.contains("still serving the last good state"), "{logs}");
}

#[test]
fn corrupt_uploads_scopes_and_concurrent_deploys() {
    let fleet = Fleet::start("guard", 3);
    let host = "hello.localhost";
    let admin = fleet.admin.clone();
    let a = project(&fleet.root, "a", "hello", "A");
    let b = project(&fleet.root, "b", "hello", "B");
    ok(&fleet.cli(&a, &["deploy", "--message", "A"], &admin));
    fleet.assert_all_serve(host, "A");

    // A bundle whose bytes do not match the hash it claims.
    let blob = b"outpost-bundle\nv1\n\0\0\0\x08index.js\0\0\0\x01\0\0\0\x08index.js\0\0\0\x11export default 1;";
    let hash = sha256_hex(blob);
    let mut corrupt = blob.to_vec();
    *corrupt.last_mut().unwrap() = b'!';
    let r = fleet.api("PUT", &format!("/v1/bundles/{hash}"), &admin, &corrupt);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("bundle hash mismatch") && r.text().contains("nothing was stored"),
        "{}",
        r.text()
    );
    let r = fleet.api("GET", &format!("/v1/bundles/{hash}"), &admin, b"");
    assert_eq!(r.status, 404);
    // Bytes that match their hash but are not a bundle.
    let junk = b"<html>not a bundle</html>";
    let r = fleet.api(
        "PUT",
        &format!("/v1/bundles/{}", sha256_hex(junk)),
        &admin,
        junk,
    );
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("invalid bundle: not an Outpost bundle"),
        "{}",
        r.text()
    );
    // A well-formed bundle whose JavaScript does not compile.
    let broken =
        b"outpost-bundle\nv1\n\0\0\0\x08index.js\0\0\0\x01\0\0\0\x08index.js\0\0\0\x0aexport {;}";
    let r = fleet.api(
        "PUT",
        &format!("/v1/bundles/{}", sha256_hex(broken)),
        &admin,
        broken,
    );
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("does not compile") && r.text().contains("index.js:1"),
        "{}",
        r.text()
    );
    // A version naming a bundle that was never stored.
    let r = fleet.api(
        "POST",
        "/v1/workers/hello/versions",
        &admin,
        format!("{{\"bundle\":\"{hash}\"}}").as_bytes(),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("has not been uploaded"), "{}", r.text());
    // Nothing changed.
    let r = fleet.api("GET", "/v1/workers/hello/versions", &admin, b"");
    assert_eq!(r.text().matches("\"version\":").count(), 1, "{}", r.text());
    fleet.assert_all_serve(host, "A");

    // Scopes: a read token may look but not deploy, nor read the state
    // (which carries secrets); no token, or a revoked one, is refused.
    let created = fleet.api(
        "POST",
        "/v1/tokens",
        &admin,
        br#"{"name":"viewer","scope":"read"}"#,
    );
    let read = json_field(&created.text(), "token");
    let read_id = json_field(&created.text(), "id");
    assert_eq!(fleet.api("GET", "/v1/workers", &read, b"").status, 200);
    assert_eq!(fleet.api("GET", "/v1/nodes", &read, b"").status, 200);
    let r = fleet.api("GET", "/v1/state", &read, b"");
    assert_eq!(r.status, 403, "{}", r.text());
    let out = fleet.cli(&b, &["deploy"], &read);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("scope `read`")
            && err.contains("needs `deploy` or `admin`")
            && err.contains("403"),
        "{err}"
    );
    let r = fleet.api(
        "POST",
        "/v1/tokens",
        &read,
        br#"{"name":"x","scope":"admin"}"#,
    );
    assert_eq!(r.status, 403);
    let r = fleet.api("GET", "/v1/workers", "", b"");
    assert_eq!(r.status, 401);
    assert!(r.text().contains("missing bearer token"), "{}", r.text());
    assert_eq!(
        fleet
            .api("DELETE", &format!("/v1/tokens/{read_id}"), &admin, b"")
            .status,
        200
    );
    let r = fleet.api("GET", "/v1/workers", &read, b"");
    assert_eq!(r.status, 401);
    assert!(
        r.text().contains("unknown or revoked token"),
        "{}",
        r.text()
    );
    fleet.assert_all_serve(host, "A");

    // Two deploys of one worker at once: both succeed, and every node ends
    // on the same version, the active one.
    let spawn = |dir: &Path, msg: &str| {
        Command::new(BIN)
            .args(["deploy", "--message", msg])
            .args(["--control", &fleet.control_url(), "--token", &admin])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let c = project(&fleet.root, "c", "hello", "C");
    // A request in flight on version A meanwhile finishes on version A.
    let node0 = fleet.nodes[0].addr;
    let slow = std::thread::spawn(move || get(node0, host, "/slow").unwrap());
    std::thread::sleep(Duration::from_millis(100));
    let first = spawn(&b, "B");
    let second = spawn(&c, "C");
    ok(&first.wait_with_output().unwrap());
    ok(&second.wait_with_output().unwrap());
    eprintln!(
        "both deploys done while the slow request was {}",
        if slow.is_finished() {
            "already answered"
        } else {
            "still in flight"
        }
    );
    let slow = slow.join().unwrap();
    assert_eq!((slow.status, slow.text().as_str()), (200, "A"));
    let r = fleet.api("GET", "/v1/workers/hello/versions", &admin, b"");
    let versions = r.text();
    let active = versions
        .split("},{")
        .find(|v| v.contains("\"active\":true"))
        .unwrap_or_else(|| panic!("{versions}"));
    assert!(
        active.contains("\"version\":3"),
        "the later deploy is active: {versions}"
    );
    let expected = json_field(active, "message");
    fleet.wait_all_serve(host, &expected);
    for _ in 0..5 {
        fleet.assert_all_serve(host, &expected);
        std::thread::sleep(Duration::from_millis(20));
    }
    let nodes = fleet.api("GET", "/v1/nodes", &admin, b"").text();
    assert_eq!(
        nodes.matches("\"hello\":{\"version\":3").count(),
        3,
        "{nodes}"
    );
}

#[test]
fn embedded_serve_routes_hosts_paths_and_secrets() {
    let root = scratch("embedded");
    let mut serve = Proc::spawn(
        &[
            "serve",
            "--port",
            "0",
            "--control-port",
            "0",
            "--threads",
            "1",
            "--domain",
            "localhost",
        ],
        &root,
    );
    let control = serve.addr_after("Control API on");
    assert!(serve
        .wait_line("admin token in")
        .contains(".outpost/admin-token"));
    let node = serve.addr_after("Ready on");
    project(&root, "hello", "hello", "hi");
    let api_dir = project(&root, "api", "api", "api");
    let mut toml = std::fs::read_to_string(api_dir.join("outpost.toml")).unwrap();
    toml = toml.replace("[vars]", "routes = [\"shop.example/api/*\"]\n[vars]");
    std::fs::write(api_dir.join("outpost.toml"), toml).unwrap();

    // The CLI finds the control plane through OUTPOST_CONTROL and the token
    // in ./.outpost/admin-token (the directory `outpost serve` ran in).
    let cli = |args: &[&str], stdin: Option<&str>| {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("OUTPOST_CONTROL", format!("http://{control}"))
            .env_remove("OUTPOST_TOKEN")
            .current_dir(&root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        ok(&child.wait_with_output().unwrap())
    };
    let token = std::fs::read_to_string(root.join(".outpost/admin-token")).unwrap();
    let auth = format!("Bearer {}", token.trim());
    let api = |path: &str| {
        request(
            control,
            "GET",
            "localhost",
            path,
            &[("authorization", &auth)],
            b"",
        )
        .unwrap()
        .text()
    };
    wait_for("the embedded node to follow", WAIT, || {
        api("/v1/nodes").contains("\"online\":true").then_some(())
    });
    cli(&["deploy", "--config", "hello/outpost.toml"], None);
    cli(&["deploy", "--config", "api/outpost.toml"], None);
    let body = |host: &str, path: &str| {
        let r = get(node, host, path).unwrap();
        (r.status, r.text())
    };
    assert_eq!(body("hello.localhost", "/"), (200, "hi".into()));
    assert_eq!(body("Hello.LocalHost:8787", "/x?y=1"), (200, "hi".into()));
    assert_eq!(body("api.localhost", "/"), (200, "api".into()));
    assert_eq!(body("shop.example", "/api/items"), (200, "api".into()));
    let (status, text) = body("nobody.localhost", "/");
    assert_eq!(status, 404);
    assert!(
        text.contains("No worker is routed for host `nobody.localhost`"),
        "{text}"
    );

    // Routes: the most specific pattern wins.
    cli(&["routes", "add", "shop.example/*", "hello"], None);
    wait_for("the new route", WAIT, || {
        (body("shop.example", "/").1 == "hi").then_some(())
    });
    assert_eq!(body("shop.example", "/api/x"), (200, "api".into()));
    let listed = cli(&["routes"], None);
    let api_line = listed.find("shop.example/api/*").unwrap();
    let site_line = listed.find("shop.example/*").unwrap();
    assert!(api_line < site_line, "{listed}");
    assert!(listed.contains("hello.localhost/*"), "{listed}");
    cli(&["routes", "remove", "shop.example/*"], None);
    wait_for("the route to go", WAIT, || {
        (body("shop.example", "/").0 == 404).then_some(())
    });

    // Secrets are write-only: the worker sees them, the API and logs never
    // show them.
    let out = cli(&["secret", "put", "hello", "KEY"], Some("s3cr3t-value\n"));
    assert!(out.contains("Set secret `KEY`"), "{out}");
    wait_for("the secret to reach the node", WAIT, || {
        (body("hello.localhost", "/").1 == "hi s3cr3t-value").then_some(())
    });
    let listed = cli(&["secret", "list", "hello"], None);
    assert_eq!(listed.trim(), "KEY");
    let workers = api("/v1/workers");
    assert!(
        workers.contains("\"KEY\"") && !workers.contains("s3cr3t"),
        "{workers}"
    );
    let nodes = cli(&["nodes"], None);
    assert!(
        nodes.contains("hello@v1") && nodes.contains("api@v1"),
        "{nodes}"
    );
    assert!(!serve.output().contains("s3cr3t"), "a secret was logged");
}

/// SHA-256 as lower-case hex.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
