//! The process harness shared by the multi-process tests: a control plane
//! and edge nodes as real `outpost serve` processes on 127.0.0.1, driven by
//! the real CLI and raw control API requests. Every wait is a bounded poll.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use outpost_testkit::{get, request, wait_for, HttpResponse};

pub const BIN: &str = env!("CARGO_BIN_EXE_outpost");
pub const WAIT: Duration = Duration::from_secs(20);

/// A running `outpost serve` with its output lines collected.
/// A spawned `outpost` with its output collected; `wait_line`/`addr_after`
/// wait up to [`WAIT`].
pub struct Proc(pub outpost_testkit::Proc);

impl Proc {
    pub fn spawn(args: &[&str], cwd: &Path) -> Proc {
        Proc(outpost_testkit::Proc::spawn(
            Command::new(BIN).args(args).current_dir(cwd),
        ))
    }

    pub fn wait_line(&mut self, needle: &str) -> String {
        self.0.wait_line(needle, WAIT)
    }

    pub fn output(&mut self) -> String {
        self.0.output()
    }

    pub fn addr_after(&mut self, needle: &str) -> SocketAddr {
        self.0.addr_after(needle, WAIT)
    }
}

pub struct Node {
    pub proc: Proc,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub region: String,
}

/// A control plane (`--control-only`) and its nodes.
pub struct Fleet {
    pub control_args: Vec<String>,
    pub root: PathBuf,
    pub control: Option<Proc>,
    pub control_addr: SocketAddr,
    pub admin: String,
    pub node_token: String,
    pub nodes: Vec<Node>,
}

/// `outpost serve --control-only` in `root`, state under `root/control`.
pub fn spawn_control(root: &Path, port: &str, extra: &[String]) -> Proc {
    let mut args = vec![
        "serve",
        "--control-only",
        "--dir",
        "control",
        "--control-port",
        port,
    ];
    args.extend(extra.iter().map(String::as_str));
    Proc::spawn(&args, root)
}

pub fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("outpost-fleet-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Fleet {
    pub fn start(tag: &str, nodes: usize) -> Fleet {
        Fleet::start_with(tag, nodes, &[])
    }

    /// [`Fleet::start`] with extra `outpost serve` arguments for the
    /// control plane (kept for its restarts).
    pub fn start_with(tag: &str, nodes: usize, control_args: &[&str]) -> Fleet {
        let root = scratch(tag);
        let extra: Vec<String> = control_args.iter().map(|a| a.to_string()).collect();
        let mut control = spawn_control(&root, "0", &extra);
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
            control_args: control_args.iter().map(|a| a.to_string()).collect(),
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

    pub fn control_url(&self) -> String {
        format!("http://{}", self.control_addr)
    }

    pub fn start_node(&mut self, i: usize) {
        let url = self.control_url();
        self.start_node_via(i, &url);
    }

    /// Starts node `i` following the control plane at `control` (a proxy,
    /// say) instead of its own address.
    pub fn start_node_via(&mut self, i: usize, control: &str) {
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
                control,
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

    /// Kills node `i` (SIGKILL) and waits for it to be gone.
    pub fn kill_node(&mut self, i: usize) {
        let child = &mut self.nodes[i].proc.0.child.0;
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills node `i` and starts it again on its own directory.
    pub fn restart_node(&mut self, i: usize) {
        let child = &mut self.nodes[i].proc.0.child.0;
        let _ = child.kill();
        let _ = child.wait();
        self.start_node(i);
    }

    pub fn kill_control(&mut self) {
        let mut c = self.control.take().expect("control plane running");
        let _ = c.0.child.0.kill();
        let _ = c.0.child.0.wait();
    }

    pub fn restart_control(&mut self) {
        let port = self.control_addr.port().to_string();
        let mut control = spawn_control(&self.root, &port, &self.control_args);
        assert_eq!(control.addr_after("Control API on"), self.control_addr);
        assert!(control.wait_line("token in").contains("Admin token in"));
        self.control = Some(control);
    }

    pub fn api(&self, method: &str, path: &str, token: &str, body: &[u8]) -> HttpResponse {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("content-type", "application/json")];
        if !token.is_empty() {
            headers.push(("authorization", auth.as_str()));
        }
        request(self.control_addr, method, "localhost", path, &headers, body)
            .expect("control API request")
    }

    /// Runs an `outpost` command against the control plane in `cwd`.
    pub fn cli(&self, cwd: &Path, args: &[&str], token: &str) -> Output {
        Command::new(BIN)
            .args(args)
            .args(["--control", &self.control_url(), "--token", token])
            .current_dir(cwd)
            .stdin(Stdio::null())
            .output()
            .expect("run outpost")
    }

    /// Waits until every node answers `host` with `body`; returns how long.
    pub fn wait_all_serve(&self, host: &str, body: &str) -> Duration {
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
    pub fn assert_all_serve(&self, host: &str, body: &str) {
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

    pub fn wait_nodes_online(&self, count: usize) {
        wait_for("nodes to follow the control plane", WAIT, || {
            let r = self.api("GET", "/v1/nodes", &self.admin, b"");
            (r.status == 200 && r.text().matches("\"online\":true").count() == count).then_some(())
        });
    }
}

/// A worker project: `outpost.toml` + `index.js` answering `text`.
pub fn project(root: &Path, dir: &str, name: &str, text: &str) -> PathBuf {
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

pub fn json_field(json: &str, key: &str) -> String {
    let needle = format!("\"{key}\":\"");
    let start = json
        .find(&needle)
        .unwrap_or_else(|| panic!("{key} in {json}"))
        + needle.len();
    json[start..].split('"').next().unwrap().to_string()
}

pub fn ok(out: &Output) -> String {
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
pub fn propagation(stdout: &str) -> f64 {
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
