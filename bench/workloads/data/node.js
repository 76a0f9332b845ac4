// Node.js peer of the data benchmark (bench/data): http.createServer and
// better-sqlite3 (from bench/.peers) on a WAL database with synchronous=NORMAL.
// The same routes, queries and answers as worker.js; the kv table and its two
// statements are the ones Outpost's KV store runs (crates/bindings/src/kv).
//   node node.js seed PEERS_DIR DB_PATH SCHEMA_SQL   create and fill the items table, then exit
//   node node.js serve PEERS_DIR DB_PATH PORT        serve /item and /kv (see worker.js)
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";

const [mode, peersDir, dbPath, arg] = process.argv.slice(2);
if (!["seed", "serve"].includes(mode) || !peersDir || !dbPath || !arg) {
  console.error("usage: node.js seed PEERS_DIR DB_PATH SCHEMA_SQL | serve PEERS_DIR DB_PATH PORT");
  process.exit(2);
}
// better-sqlite3 lives in bench/.peers/node_modules, not beside this file.
const Database = createRequire(path.join(path.resolve(peersDir), "package.json"))("better-sqlite3");
const db = new Database(dbPath);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");

if (mode === "seed") {
  db.exec(`BEGIN; ${fs.readFileSync(arg, "utf8")}; COMMIT;`);
  db.close();
  process.exit(0);
}

// Outpost creates its namespace's table when it opens it; so does this.
db.exec(`CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value BLOB, expiration INTEGER, metadata TEXT);
CREATE INDEX IF NOT EXISTS kv_expiration ON kv(expiration) WHERE expiration IS NOT NULL;`);

// Statements prepared once, as better-sqlite3 is meant to be used.
const selectItem = db.prepare("SELECT * FROM items WHERE id = ?");
const insertItem = db.prepare("INSERT INTO items(name, price) VALUES(?, ?)");
const kvGet = db.prepare(
  "SELECT value, expiration, metadata FROM kv WHERE key = ? AND (expiration IS NULL OR expiration > ?)",
);
const kvPut = db.prepare(
  `INSERT INTO kv(key, value, expiration, metadata) VALUES(?, ?, ?, ?)
   ON CONFLICT(key) DO UPDATE SET value = excluded.value, expiration = excluded.expiration, metadata = excluded.metadata`,
);
const kvCount = db.prepare("SELECT count(*) AS n FROM kv WHERE key >= 'w-' AND key < 'w.'");

// Exactly 100 bytes per seeded key, as in worker.js.
function seedValue(i) {
  return `value of k${i} `.padEnd(100, ".");
}

function send(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req, done) {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => done(Buffer.concat(chunks)));
}

function item(req, res, url) {
  if (req.method === "GET") {
    const row = selectItem.get(Number(url.searchParams.get("id")));
    return row ? send(res, 200, row) : send(res, 404, { error: "no such item" });
  }
  if (req.method === "POST") {
    return readBody(req, (body) => {
      const { name, price } = JSON.parse(body.toString("utf8"));
      const info = insertItem.run(name, price);
      send(res, 200, { id: Number(info.lastInsertRowid) });
    });
  }
  send(res, 405, { error: "method not allowed" });
}

function kv(req, res, url) {
  if (req.method === "GET") {
    const row = kvGet.get(url.searchParams.get("key"), Math.floor(Date.now() / 1000));
    if (!row) return send(res, 404, { error: "no such key" });
    // KV's get() gives text by default; the Worker's Response then encodes it again.
    const text = row.value.toString("utf8");
    res.writeHead(200, { "content-type": "text/plain;charset=UTF-8", "content-length": Buffer.byteLength(text) });
    return res.end(text);
  }
  if (req.method === "POST") {
    return readBody(req, (body) => {
      kvPut.run(`w-${randomUUID()}`, body, null, null);
      res.writeHead(204);
      res.end();
    });
  }
  send(res, 405, { error: "method not allowed" });
}

http
  .createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    switch (url.pathname) {
      case "/item":
        return item(req, res, url);
      case "/kv":
        return kv(req, res, url);
      case "/kv/seed": {
        const from = Number(url.searchParams.get("from"));
        const to = Number(url.searchParams.get("to"));
        for (let i = from; i <= to; i++) kvPut.run(`k${i}`, Buffer.from(seedValue(i)), null, null);
        res.writeHead(204);
        return res.end();
      }
      case "/kv/count":
        return send(res, 200, { keys: kvCount.get().n, cursor: null });
      default:
        return send(res, 404, { error: "not found" });
    }
  })
  .listen(Number(arg), "127.0.0.1", () => {
    console.log(`listening on http://127.0.0.1:${arg}/`);
  });
