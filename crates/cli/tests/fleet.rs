//! A control plane and three edge nodes as real `outpost serve` processes on
//! 127.0.0.1, driven by the real `outpost deploy`/`rollback`/`versions`/
//! `secret`/`routes` commands and raw control API requests.
//!
//! Every wait is a bounded poll; nothing sleeps for a fixed long time.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use outpost_testkit::{get, request, wait_for};

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
    // ... from the bytecode it compiled before, kept per engine version.
    assert!(line.contains("1 bundles from stored bytecode"), "{line}");
    assert!(fleet.nodes[2].dir.join("node/state.json").is_file());
    let stored = |i: usize| -> Vec<String> {
        let dir = fleet.nodes[i].dir.join("node/bytecode");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    // Node 1 keeps the bytecode of its one bundle (the versions differ in
    // vars only), named by bundle hash and engine.
    let kept = stored(1);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].contains(".quickjs-ng-"), "{kept:?}");
    // A corrupt bytecode file is not used: the node compiles the bundle
    // again and serves.
    for name in stored(1) {
        std::fs::write(fleet.nodes[1].dir.join("node/bytecode").join(name), b"junk").unwrap();
    }
    fleet.restart_node(1);
    let line = fleet.nodes[1].proc.wait_line("follows");
    assert!(line.contains("0 bundles from stored bytecode"), "{line}");
    let rewritten = std::fs::read(fleet.nodes[1].dir.join("node/bytecode").join(&kept[0])).unwrap();
    assert!(
        rewritten.starts_with(b"outpost-bytecode"),
        "the recompiled bytecode is stored again"
    );
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
