//! D1 and KV bindings in `outpost dev` as a user runs it: a real process,
//! real HTTP, SQLite files under the project's `.outpost/`, which outlive
//! reloads and the process itself (it is killed with SIGKILL here).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use outpost_testkit::{request, HttpResponse, Proc};

/// A running `outpost dev`.
struct Dev {
    proc: Proc,
    addr: SocketAddr,
}

impl Dev {
    fn start(dir: &Path) -> Dev {
        let mut proc = Proc::spawn(
            Command::new(env!("CARGO_BIN_EXE_outpost"))
                .args(["dev", "--port", "0", "--threads", "2"])
                .current_dir(dir),
        );
        let addr = proc.addr_after("Ready on", Duration::from_secs(30));
        Dev { proc, addr }
    }

    /// Waits for an output line containing `needle` and returns it.
    #[allow(dead_code)]
    fn wait_line(&mut self, needle: &str, timeout: Duration) -> String {
        self.proc.wait_line(needle, timeout)
    }

    /// Output seen so far (and whatever arrived since).
    fn output(&mut self) -> String {
        self.proc.output()
    }

    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        request(
            self.addr,
            method,
            "localhost",
            path,
            headers,
            body.as_bytes(),
        )
        .expect("request")
    }

    fn get(&self, path: &str) -> (u16, String) {
        let r = self.send("GET", path, &[], "");
        (r.status, r.text())
    }
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("outpost-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != ".outpost" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

const WRANGLER: &str = r#"
name = "notes"
main = "index.js"

[[d1_databases]]
binding = "DB"
database_name = "notes"
database_id = "notes-db-0001"

[[kv_namespaces]]
binding = "CACHE"
id = "notes-kv-0001"
"#;

const WORKER: &str = r#"
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    await env.DB.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, data BLOB)");
    if (request.method === "POST") {
      const body = await request.text();
      const session = env.DB.withSession("first-primary");
      const { meta } = await session.prepare("INSERT INTO notes (body, data) VALUES (?, ?)")
        .bind(body, new TextEncoder().encode(body)).run();
      await env.CACHE.put("note:" + meta.last_row_id, body, { metadata: { length: body.length } });
      return Response.json({ id: meta.last_row_id, bookmark: session.getBookmark() }, { status: 201 });
    }
    if (url.pathname === "/kv") {
      const { keys } = await env.CACHE.list({ prefix: "note:" });
      const values = await Promise.all(keys.map((k) => env.CACHE.get(k.name)));
      return Response.json({ keys: keys.map((k) => [k.name, k.metadata.length]), values });
    }
    const session = env.DB.withSession(request.headers.get("x-bookmark") ?? "first-unconstrained");
    const rows = await session.prepare("SELECT id, body, data FROM notes ORDER BY id").raw();
    return Response.json({ rows, version: "v1" });
  },
};
"#;

#[test]
fn d1_and_kv_survive_reloads_and_restarts() {
    let dir = scratch("bindings");
    std::fs::write(dir.join("wrangler.toml"), WRANGLER).unwrap();
    std::fs::write(dir.join("index.js"), WORKER).unwrap();

    let mut dev = Dev::start(&dir);
    assert_eq!(dev.get("/"), (200, r#"{"rows":[],"version":"v1"}"#.into()));
    let mut bookmarks = Vec::new();
    for body in ["first note", "second ✓"] {
        let r = dev.send("POST", "/", &[("content-type", "text/plain")], body);
        assert_eq!(r.status, 201, "{}", r.text());
        bookmarks.push(r.text());
    }
    assert!(
        bookmarks[0].starts_with(r#"{"id":1,"bookmark":""#),
        "{bookmarks:?}"
    );
    assert!(
        bookmarks[1].starts_with(r#"{"id":2,"bookmark":""#),
        "{bookmarks:?}"
    );
    let rows = r#"[[1,"first note",[102,105,114,115,116,32,110,111,116,101]],[2,"second ✓",[115,101,99,111,110,100,32,226,156,147]]]"#;
    assert_eq!(
        dev.get("/"),
        (200, format!(r#"{{"rows":{rows},"version":"v1"}}"#))
    );
    let kv = r#"{"keys":[["note:1",10],["note:2",8]],"values":["first note","second ✓"]}"#;
    assert_eq!(dev.get("/kv"), (200, kv.to_string()));
    let out = dev.output();
    assert!(!out.contains("not available"), "{out}");

    // A reload starts new isolates over the same databases.
    std::fs::write(dir.join("index.js"), WORKER.replace("\"v1\"", "\"v2\"")).unwrap();
    dev.wait_line("Reloaded", Duration::from_secs(20));
    assert_eq!(
        dev.get("/"),
        (200, format!(r#"{{"rows":{rows},"version":"v2"}}"#))
    );

    // SIGKILL, then a new process: everything acknowledged is still there.
    drop(dev);
    assert!(dir.join(".outpost/d1/notes-db-0001.sqlite").is_file());
    assert!(dir.join(".outpost/kv/notes-kv-0001.sqlite").is_file());
    let dev = Dev::start(&dir);
    assert_eq!(
        dev.get("/"),
        (200, format!(r#"{{"rows":{rows},"version":"v2"}}"#))
    );
    assert_eq!(dev.get("/kv"), (200, kv.to_string()));
    // A bookmark from the last process still names a position this database has.
    let bookmark = bookmarks[1].split('"').nth(5).unwrap().to_string();
    let r = dev.send("GET", "/", &[("x-bookmark", &bookmark)], "");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = dev.send("POST", "/", &[], "third");
    assert!(r.text().starts_with(r#"{"id":3,"#), "{}", r.text());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serves_the_guestbook_example() {
    let dir = scratch("guestbook");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/guestbook");
    copy_dir(&example, &dir);

    let dev = Dev::start(&dir);
    let json = [
        ("accept", "application/json"),
        ("content-type", "application/json"),
    ];
    let r = dev.send(
        "POST",
        "/entries",
        &json,
        r#"{"name":"Ada","message":"Hello <world>"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(
        r.text()
            .contains(r#""id":1,"name":"Ada","message":"Hello <world>""#),
        "{}",
        r.text()
    );
    let bookmark = r
        .header("x-d1-bookmark")
        .expect("bookmark header")
        .to_string();
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let r = dev.send("POST", "/entries", &form, "name=Grace&message=Hi+there");
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        dev.send("POST", "/entries", &json, r#"{"name":""}"#).status,
        400
    );

    let (status, html) = dev.get("/");
    assert_eq!(status, 200);
    assert!(
        html.contains("<b>Grace</b>: Hi there") && html.contains("Hello &#60;world&#62;"),
        "{html}"
    );
    assert!(
        html.find("Grace").unwrap() < html.find("Ada").unwrap(),
        "{html}"
    );
    assert!(html.contains("<p>1 view</p>"), "{html}");
    dev.get("/");
    drop(dev);

    let dev = Dev::start(&dir);
    let r = dev.send("GET", "/api/entries", &[("x-d1-bookmark", &bookmark)], "");
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains(r#""name":"Grace""#) && text.contains(r#""name":"Ada""#),
        "{text}"
    );
    assert!(text.ends_with(r#""views":2}"#), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
