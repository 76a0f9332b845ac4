//! The Web API conformance suite (`conformance/`) against `outpost dev`.
//!
//! Starts an echo server on 127.0.0.1 (for the fetch group), serves
//! `conformance/all.js` with `outpost dev --config conformance/wrangler.toml`,
//! requests every group in `conformance/cases/`, prints a pass/fail table per
//! group, and fails when a case fails that `conformance/expected-failures.txt`
//! does not list, or when a listed case passes (so the list stays honest:
//! when an API lands, its cases come off the list in the same change).
//! `conformance/run` runs the same suite against workerd too.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use outpost_testkit::{get, Proc};
use serde_json::Value;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conformance")
}

// ------------------------------------------------------------ echo server
// The same paths as the echo server in conformance/run.

struct EchoRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<EchoRequest>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16)
                .map_err(std::io::Error::other)?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(EchoRequest {
        method,
        path,
        headers,
        body,
    }))
}

/// An echo answer: status, headers, body.
type EchoAnswer = (u16, Vec<(String, String)>, Vec<u8>);

/// What the echo server answers; `None` closes the connection without an
/// answer.
fn echo_response(req: &EchoRequest) -> Option<EchoAnswer> {
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let h = |k: &str, v: &str| (k.to_string(), v.to_string());
    Some(match segs.as_slice() {
        ["redirect", status, ..] => {
            let to = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("to="))
                .unwrap_or("/echo");
            (
                status.parse().unwrap_or(302),
                vec![h("location", to)],
                vec![],
            )
        }
        ["status", code, ..] => (
            code.parse().unwrap_or(500),
            vec![h("content-type", "text/plain")],
            format!("status {code}").into_bytes(),
        ),
        ["bytes", n, ..] => (
            200,
            vec![h("content-type", "application/octet-stream")],
            vec![b'a'; n.parse().unwrap_or(0)],
        ),
        ["cookies", ..] => (
            200,
            vec![h("set-cookie", "a=1; Path=/"), h("set-cookie", "b=2")],
            vec![],
        ),
        ["close", ..] => return None,
        _ => {
            let headers: serde_json::Map<String, Value> = req
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let doc = serde_json::json!({
                "method": req.method,
                "path": req.path,
                "headers": headers,
                "body": String::from_utf8_lossy(&req.body),
            });
            (
                200,
                vec![h("content-type", "application/json")],
                doc.to_string().into_bytes(),
            )
        }
    })
}

fn serve_echo_connection(stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(req) = read_request(&mut reader)? {
        let Some((status, headers, body)) = echo_response(&req) else {
            return writer.shutdown(std::net::Shutdown::Both);
        };
        let mut head = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        writer.write_all(head.as_bytes())?;
        if req.method != "HEAD" {
            writer.write_all(&body)?;
        }
    }
    Ok(())
}

/// Starts the echo server on a free loopback port; it lives as long as the
/// test process.
fn start_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind echo server");
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let _ = serve_echo_connection(stream);
            });
        }
    });
    addr
}

// ------------------------------------------------------------------ suite

/// `group/case` names from expected-failures.txt (`#` starts a comment).
fn expected_failures() -> BTreeSet<String> {
    let text = std::fs::read_to_string(conformance_dir().join("expected-failures.txt"))
        .expect("read conformance/expected-failures.txt");
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn groups() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(conformance_dir().join("cases"))
        .expect("read conformance/cases")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".js").map(str::to_string)
        })
        .collect();
    out.sort();
    out
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 200 {
        format!("{}...", s.chars().take(200).collect::<String>())
    } else {
        s
    }
}

/// Copies the worker (all.js, harness.js, cases/, wrangler.toml) into a
/// fresh scratch directory, so the state `outpost dev` keeps beside its
/// config (the Cache API's `.outpost/`) starts empty on every run.
fn scratch_copy() -> PathBuf {
    let src = conformance_dir();
    let dst = std::env::temp_dir().join(format!("outpost-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dst);
    std::fs::create_dir_all(dst.join("cases")).unwrap();
    for name in ["all.js", "harness.js", "wrangler.toml"] {
        std::fs::copy(src.join(name), dst.join(name)).unwrap();
    }
    for group in groups() {
        let file = format!("cases/{group}.js");
        std::fs::copy(src.join(&file), dst.join(&file)).unwrap();
    }
    dst
}

#[test]
fn web_api_conformance() {
    let echo = start_echo();
    let dir = scratch_copy();
    let mut proc = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_outpost"))
            .arg("dev")
            .arg("--config")
            .arg(dir.join("wrangler.toml"))
            .args(["--port", "0", "--threads", "1"])
            .env("OUTPOST_LOG", "error")
            .current_dir(&dir),
    );
    let addr = proc.addr_after("Ready on", Duration::from_secs(60));

    let listed = expected_failures();
    let mut seen = BTreeSet::new();
    let mut unexpected_failures = Vec::new();
    let mut unexpected_passes = Vec::new();
    let mut table = vec![
        "| group | cases | pass | fail | listed as expected failures |".to_string(),
        "|---|---:|---:|---:|---:|".to_string(),
    ];
    let mut totals = [0usize; 4];
    for group in groups() {
        let path = format!("/{group}?echo=http://{echo}");
        let r = get(addr, "localhost", &path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", proc.output()));
        assert_eq!(r.status, 200, "GET {path}: {}\n{}", r.text(), proc.output());
        let doc: Value = serde_json::from_str(&r.text())
            .unwrap_or_else(|e| panic!("{group}: not JSON ({e}): {}", r.text()));
        let results = doc["results"].as_array().expect("results array");
        let (mut pass, mut fail, mut expected_fail) = (0, 0, 0);
        for res in results {
            let name = format!("{group}/{}", res["name"].as_str().unwrap_or("?"));
            let passed = res["pass"].as_bool() == Some(true);
            let is_listed = listed.contains(&name);
            if is_listed {
                expected_fail += 1;
            }
            if passed {
                pass += 1;
                if is_listed {
                    unexpected_passes.push(name.clone());
                }
            } else {
                fail += 1;
                if !is_listed {
                    unexpected_failures.push(format!(
                        "{name}: got {}, expected {}",
                        short(&res["got"]),
                        short(&res["expected"])
                    ));
                }
            }
            seen.insert(name);
        }
        table.push(format!(
            "| {group} | {} | {pass} | {fail} | {expected_fail} |",
            results.len()
        ));
        for (t, n) in totals
            .iter_mut()
            .zip([results.len(), pass, fail, expected_fail])
        {
            *t += n;
        }
    }
    table.push(format!(
        "| all | {} | {} | {} | {} |",
        totals[0], totals[1], totals[2], totals[3]
    ));
    println!("{}", table.join("\n"));

    let stale: Vec<&String> = listed.difference(&seen).collect();
    let mut problems = String::new();
    if !unexpected_failures.is_empty() {
        problems += &format!(
            "\ncases that failed but are not in conformance/expected-failures.txt:\n  {}\n",
            unexpected_failures.join("\n  ")
        );
    }
    if !unexpected_passes.is_empty() {
        problems += &format!(
            "\ncases that pass now: remove them from conformance/expected-failures.txt:\n  {}\n",
            unexpected_passes.join("\n  ")
        );
    }
    if !stale.is_empty() {
        problems += &format!(
            "\nconformance/expected-failures.txt lists cases that do not exist:\n  {}\n",
            stale
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    drop(proc);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{problems}");
}
