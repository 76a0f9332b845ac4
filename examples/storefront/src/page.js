// Server-side HTML, personalised by the `name` cookie.
const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

export function price(cents, currency) {
  return `${(cents / 100).toFixed(2)} ${currency}`;
}

export function renderHome({ shop, visitor, products, currency }) {
  const greeting = visitor ? `Welcome back, ${escape(visitor)}!` : "Welcome, stranger!";
  const rows = products
    .map((p) => `<li data-id="${escape(p.id)}">${escape(p.name)} — ${price(p.price, currency)}</li>`)
    .join("\n      ");
  return `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><title>${escape(shop)}</title></head>
  <body>
    <h1>${escape(shop)}</h1>
    <p class="greeting">${greeting}</p>
    <ul>
      ${rows}
    </ul>
  </body>
</html>`;
}

export function cookie(request, name) {
  const header = request.headers.get("cookie") ?? "";
  for (const part of header.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return null;
}
