// Node.js peer of the data benchmark (bench/data): http.createServer and
// better-sqlite3 (from bench/.peers) on a WAL database with synchronous=NORMAL.
// The same routes, SQL and JSON as worker.js.
//   node node.js seed PEERS_DIR DB_PATH SCHEMA_SQL   create and fill the table, then exit
//   node node.js serve PEERS_DIR DB_PATH PORT        serve GET/POST /item
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
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

// Statements prepared once, as better-sqlite3 is meant to be used.
const selectItem = db.prepare("SELECT * FROM items WHERE id = ?");
const insertItem = db.prepare("INSERT INTO items(name, price) VALUES(?, ?)");

function send(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

http
  .createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    if (url.pathname !== "/item") return send(res, 404, { error: "not found" });
    if (req.method === "GET") {
      const row = selectItem.get(Number(url.searchParams.get("id")));
      return row ? send(res, 200, row) : send(res, 404, { error: "no such item" });
    }
    if (req.method === "POST") {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        const { name, price } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        const info = insertItem.run(name, price);
        send(res, 200, { id: Number(info.lastInsertRowid) });
      });
      return;
    }
    send(res, 405, { error: "method not allowed" });
  })
  .listen(Number(arg), "127.0.0.1", () => {
    console.log(`listening on http://127.0.0.1:${arg}/`);
  });
