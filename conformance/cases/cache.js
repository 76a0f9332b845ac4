// Cache API as Workers define it:
// https://developers.cloudflare.com/workers/runtime-apis/cache/
import { suite, threw, error } from "../harness.js";

let n = 0;
const key = () => `https://conformance.example/cache/${Date.now()}-${n++}`;
const cacheable = (body) => new Response(body, { headers: { "cache-control": "max-age=60" } });

export default suite("cache", [
  ["globals", () => [typeof caches, typeof caches.default, typeof caches.open, Object.prototype.toString.call(caches.default)],
    ["object", "object", "function", "[object Cache]"]],
  ["put_then_match", async () => { const k = key(); await caches.default.put(k, cacheable("cached"));
    const r = await caches.default.match(k); return r ? [r.status, await r.text()] : r; }, [200, "cached"]],
  ["miss_is_undefined", async () => caches.default.match(key()), undefined],
  ["open_named", async () => { const c = await caches.open("conformance"); const k = key(); await c.put(k, cacheable("n"));
    const other = await caches.default.match(k); const r = await c.match(k); return [other, r ? await r.text() : r]; }, [undefined, "n"]],
  ["delete", async () => { const k = key(); await caches.default.put(k, cacheable("d"));
    return [await caches.default.delete(k), await caches.default.delete(k), await caches.default.match(k)]; }, [true, false, undefined]],
  ["put_non_get_rejected", async () => threw(() => caches.default.put(new Request(key(), { method: "POST" }), cacheable("x"))), error("TypeError")],
  ["put_partial_rejected", async () => threw(() => caches.default.put(key(), new Response("x", { status: 206 }))), error("TypeError")],
  ["put_vary_star_rejected", async () => threw(() => caches.default.put(key(), new Response("x", { headers: { vary: "*" } }))), error("TypeError")],
  ["no_store_not_cached", async () => { const k = key(); await caches.default.put(k, new Response("x", { headers: { "cache-control": "no-store" } }));
    return caches.default.match(k); }, undefined],
  ["match_ignore_method", async () => { const k = key(); await caches.default.put(k, cacheable("m"));
    const r = await caches.default.match(new Request(k, { method: "POST" }), { ignoreMethod: true });
    const r2 = await caches.default.match(new Request(k, { method: "POST" })); return [r ? await r.text() : r, r2]; }, ["m", undefined]],
  ["put_body_used_response", async () => { const res = cacheable("x"); await res.text(); return threw(() => caches.default.put(key(), res)); },
    error("TypeError")],
]);
