// Outpost side of the data benchmark (bench/data): a Workers module over the
// D1 binding `env.DB` (see wrangler.toml). The same routes, SQL and JSON as node.js.
//   GET  /item?id=N   -> SELECT * FROM items WHERE id = ?    -> {"id":N,"name":"item N","price":...}
//   POST /item {name, price} -> INSERT INTO items(name, price) VALUES(?, ?) -> {"id":NEW_ID}
const JSON_HEADERS = { "content-type": "application/json" };

function json(status, value) {
  return new Response(JSON.stringify(value), { status, headers: JSON_HEADERS });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== "/item") return json(404, { error: "not found" });
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
  },
};
