// Outpost side of the data benchmark (bench/data): a Workers module over the
// D1 binding `env.DB` and the KV binding `env.KV` (see wrangler.toml). The
// same routes, queries and answers as node.js.
//   GET  /item?id=N   -> SELECT * FROM items WHERE id = ?    -> {"id":N,"name":"item N","price":...}
//   POST /item {name, price} -> INSERT INTO items(name, price) VALUES(?, ?) -> {"id":NEW_ID}
//   GET  /kv?key=K    -> env.KV.get(K)                       -> the value as text (404 if absent)
//   POST /kv  BYTES   -> env.KV.put("w-" + a random UUID, BYTES) -> 204
// Set-up routes the driver calls outside the timed runs:
//   POST /kv/seed?from=A&to=B -> puts kA..kB with seedValue(i) -> 204
//   GET  /kv/count[?cursor=C] -> {"keys": n, "cursor": C2|null}, one list() page of "w-" keys
const JSON_HEADERS = { "content-type": "application/json" };

function json(status, value) {
  return new Response(JSON.stringify(value), { status, headers: JSON_HEADERS });
}

// Exactly 100 bytes per seeded key; node.js and bench/lib/data.py build the same text.
function seedValue(i) {
  return `value of k${i} `.padEnd(100, ".");
}

async function item(request, env, url) {
  if (request.method === "GET") {
    const id = Number(url.searchParams.get("id"));
    const row = await env.DB.prepare("SELECT * FROM items WHERE id = ?").bind(id).first();
    return row ? json(200, row) : json(404, { error: "no such item" });
  }
  if (request.method === "POST") {
    const { name, price } = await request.json();
    const result = await env.DB.prepare("INSERT INTO items(name, price) VALUES(?, ?)").bind(name, price).run();
    return json(200, { id: result.meta.last_row_id });
  }
  return json(405, { error: "method not allowed" });
}

async function kv(request, env, url) {
  if (request.method === "GET") {
    const value = await env.KV.get(url.searchParams.get("key"));
    return value === null ? json(404, { error: "no such key" }) : new Response(value);
  }
  if (request.method === "POST") {
    await env.KV.put(`w-${crypto.randomUUID()}`, await request.arrayBuffer());
    return new Response(null, { status: 204 });
  }
  return json(405, { error: "method not allowed" });
}

async function seed(env, url) {
  const from = Number(url.searchParams.get("from"));
  const to = Number(url.searchParams.get("to"));
  for (let i = from; i <= to; i++) await env.KV.put(`k${i}`, seedValue(i));
  return new Response(null, { status: 204 });
}

async function count(env, url) {
  const page = await env.KV.list({ prefix: "w-", cursor: url.searchParams.get("cursor") || undefined });
  return json(200, { keys: page.keys.length, cursor: page.list_complete ? null : page.cursor });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/item":
        return item(request, env, url);
      case "/kv":
        return kv(request, env, url);
      case "/kv/seed":
        return request.method === "POST" ? seed(env, url) : json(405, { error: "method not allowed" });
      case "/kv/count":
        return count(env, url);
      default:
        return json(404, { error: "not found" });
    }
  },
};
