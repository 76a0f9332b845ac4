// Storefront: a JSON API and a personalised home page.
//   GET  /                      HTML, greets the visitor by the `name` cookie
//   GET  /api/products          all products (?tag=cook filters)
//   GET  /api/products/:id      one product or 404
//   POST /api/login             {"name": "..."} → sets the `name` cookie
import products from "./products.json";
import { Router } from "./router.js";
import { cookie, renderHome } from "./page.js";

const router = new Router()
  .on("GET", "/", ({ request, env }) => {
    const featured = env.FEATURED;
    const ordered = [...products].sort(
      (a, b) => featured.indexOf(b.id) - featured.indexOf(a.id),
    );
    const html = renderHome({
      shop: env.SHOP_NAME,
      visitor: cookie(request, "name"),
      products: ordered,
      currency: env.CURRENCY,
    });
    return new Response(html, { headers: { "content-type": "text/html;charset=UTF-8" } });
  })
  .on("GET", "/api/products", ({ url }) => {
    const tag = url.searchParams.get("tag");
    return Response.json(tag ? products.filter((p) => p.tags.includes(tag)) : products);
  })
  .on("GET", "/api/products/:id", ({ params }) => {
    const p = products.find((p) => p.id === params.id);
    return p ? Response.json(p) : Response.json({ error: `no product ${params.id}` }, { status: 404 });
  })
  .on("POST", "/api/login", async ({ request }) => {
    let body;
    try {
      body = await request.json();
    } catch {
      return Response.json({ error: "body must be JSON" }, { status: 400 });
    }
    if (typeof body?.name !== "string" || body.name.length === 0 || body.name.length > 40) {
      return Response.json({ error: "name must be a string of 1-40 characters" }, { status: 400 });
    }
    const headers = new Headers({ location: "/" });
    headers.append("set-cookie", `name=${encodeURIComponent(body.name)}; Path=/; HttpOnly; SameSite=Lax`);
    return new Response(null, { status: 303, headers });
  });

export default {
  fetch(request, env) {
    return router.handle(request, env);
  },
};
