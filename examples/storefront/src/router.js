// A tiny router: method + path pattern with `:params`, first match wins.
export class Router {
  #routes = [];

  on(method, pattern, handler) {
    const keys = [];
    const re = new RegExp(
      "^" + pattern.replace(/:(\w+)/g, (_, k) => (keys.push(k), "([^/]+)")) + "/?$",
    );
    this.#routes.push({ method, re, keys, handler });
    return this;
  }

  async handle(request, env) {
    const url = new URL(request.url);
    for (const r of this.#routes) {
      if (r.method !== request.method && r.method !== "*") continue;
      const m = url.pathname.match(r.re);
      if (!m) continue;
      const params = Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1])]));
      return r.handler({ request, env, url, params });
    }
    return Response.json({ error: "not found", path: url.pathname }, { status: 404 });
  }
}
