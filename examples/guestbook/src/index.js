// A guestbook: GET / lists the entries (and counts the visit in KV),
// POST /entries adds one (form or JSON), GET /api/entries returns JSON.
//
// Reads and writes go through a D1 session whose bookmark travels in the
// `x-d1-bookmark` header, so a client sees its own writes even when reads
// are served by a replica.

const SCHEMA = `CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  message TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
)`;

// The table is created on first use, once per isolate.
let schemaReady;
function ensureSchema(db) {
  schemaReady ??= db.prepare(SCHEMA).run().catch((e) => {
    schemaReady = undefined;
    throw e;
  });
  return schemaReady;
}

async function listEntries(db) {
  const { results } = await db
    .prepare("SELECT id, name, message, created_at FROM entries ORDER BY id DESC LIMIT 100")
    .all();
  return results;
}

async function addEntry(db, request) {
  const type = request.headers.get("content-type") ?? "";
  const input = type.includes("application/json")
    ? await request.json()
    : Object.fromEntries(await request.formData());
  const name = String(input.name ?? "").trim().slice(0, 80);
  const message = String(input.message ?? "").trim().slice(0, 1000);
  if (!name || !message) return null;
  return db
    .prepare("INSERT INTO entries (name, message) VALUES (?, ?) RETURNING id, name, message, created_at")
    .bind(name, message)
    .first();
}

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(entries, views) {
  const items = entries
    .map((e) => `<li><b>${escape(e.name)}</b>: ${escape(e.message)} <small>${escape(e.created_at)}</small></li>`)
    .join("\n");
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Guestbook</title></head>
<body>
<h1>Guestbook</h1>
<form method="post" action="/entries">
  <input name="name" placeholder="Your name" required>
  <input name="message" placeholder="Say hello" required>
  <button>Sign</button>
</form>
<ul>
${items || "<li>No entries yet.</li>"}
</ul>
<p>${views} ${views === 1 ? "view" : "views"}</p>
</body></html>`;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const session = env.DB.withSession(request.headers.get("x-d1-bookmark") ?? "first-unconstrained");
    await ensureSchema(session);
    let response;
    if (request.method === "GET" && url.pathname === "/") {
      const views = Number((await env.KV.get("views")) ?? 0) + 1;
      await env.KV.put("views", String(views));
      response = new Response(page(await listEntries(session), views), {
        headers: { "content-type": "text/html;charset=UTF-8" },
      });
    } else if (request.method === "GET" && url.pathname === "/api/entries") {
      const views = Number((await env.KV.get("views")) ?? 0);
      response = Response.json({ entries: await listEntries(session), views });
    } else if (request.method === "POST" && url.pathname === "/entries") {
      const entry = await addEntry(session, request);
      if (!entry) {
        response = Response.json({ error: "name and message are required" }, { status: 400 });
      } else if ((request.headers.get("accept") ?? "").includes("application/json")) {
        response = Response.json(entry, { status: 201 });
      } else {
        response = Response.redirect(new URL("/", url).href, 303);
      }
    } else {
      response = new Response("Not found", { status: 404 });
    }
    const bookmark = session.getBookmark();
    if (bookmark) {
      response = new Response(response.body, response);
      response.headers.set("x-d1-bookmark", bookmark);
    }
    return response;
  },
};
