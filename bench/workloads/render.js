// Workload logic shared by every runtime flavour. Pure functions only: no
// runtime APIs, so the same file runs in Outpost, workerd, Deno, Bun and Node.
// Every function builds its data fresh on each call (per request).

export const HELLO_TEXT = "Hello World!";

export function helloText() {
  return HELLO_TEXT;
}

// ~1 KB once serialised with JSON.stringify (checked by bench/lib/bench.py).
export function buildJson() {
  const items = [];
  for (let i = 0; i < 10; i++) {
    items.push({
      id: 1000 + i,
      sku: `SKU-${(i * 7919) % 10000}`,
      name: `Item number ${i}`,
      price: Math.round((i + 1) * 13.37 * 100) / 100,
      inStock: i % 3 !== 0,
    });
  }
  return {
    ok: true,
    service: "outpost-bench",
    version: "1.0.0",
    region: "local",
    user: { id: 42, name: "Ada Lovelace", email: "ada@example.com", roles: ["admin", "editor"] },
    items,
    total: items.reduce((sum, it) => sum + it.price, 0),
    tags: ["edge", "functions", "benchmark", "json"],
  };
}

function escapeHtml(s) {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

export const HTML_ROWS = 100;

export function buildRows() {
  const rows = [];
  for (let i = 0; i < HTML_ROWS; i++) {
    rows.push({
      id: i + 1,
      name: `User <${i}>`,
      email: `user${i}@example.com`,
      score: (i * 37) % 101,
      active: i % 2 === 0,
    });
  }
  return rows;
}

export function renderHtml() {
  const rows = buildRows();
  return `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Users</title></head>
<body>
<table>
<thead><tr><th>ID</th><th>Name</th><th>Email</th><th>Score</th><th>Active</th></tr></thead>
<tbody>
${rows
  .map(
    (r) =>
      `<tr><td>${r.id}</td><td>${escapeHtml(r.name)}</td><td>${escapeHtml(r.email)}</td><td>${r.score}</td><td>${r.active ? "yes" : "no"}</td></tr>`,
  )
  .join("\n")}
</tbody>
</table>
</body>
</html>
`;
}

export const HTML_TYPE = "text/html; charset=utf-8";
export const TEXT_TYPE = "text/plain; charset=utf-8";
