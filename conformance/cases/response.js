// Response: https://fetch.spec.whatwg.org/#response-class
import { suite, threw, error, pairs } from "../harness.js";

export default suite("response", [
  ["defaults", () => { const r = new Response();
    return [r.status, r.statusText, r.ok, r.body, pairs(r.headers), r.type, r.redirected, r.url, r.bodyUsed]; },
    [200, "", true, null, [], "default", false, "", false]],
  ["json_static", async () => { const r = Response.json({ a: 1 });
    return [r.headers.get("content-type"), await r.text(), r.status]; }, ["application/json", "{\"a\":1}", 200]],
  ["json_with_init", async () => { const r = Response.json([1], { status: 201, headers: { x: "1" } });
    return [r.status, r.headers.get("x"), r.headers.get("content-type"), await r.json()]; },
    [201, "1", "application/json", [1]]],
  ["json_unserialisable", async () => [await threw(() => Response.json(undefined)), await threw(() => Response.json(1n))],
    [error("TypeError"), error("TypeError")]],
  ["redirect_static", () => { const r = Response.redirect("http://a/x", 301);
    return [r.status, r.headers.get("location"), r.body]; }, [301, "http://a/x", null]],
  ["redirect_default_status", () => Response.redirect("http://a/").status, 302],
  ["redirect_bad_status", async () => threw(() => Response.redirect("http://a/", 200)), error("RangeError")],
  ["redirect_relative_url", async () => threw(() => Response.redirect("/x")), error("TypeError")],
  ["error_static", () => { const r = Response.error(); return [r.type, r.status, r.ok, r.statusText]; },
    ["error", 0, false, ""]],
  ["status_range", async () => [await threw(() => new Response("", { status: 99 })), await threw(() => new Response("", { status: 600 })),
    await threw(() => new Response("", { status: 599 }).status)], [error("RangeError"), error("RangeError"), { ok: 599 }]],
  ["null_body_status_with_body", async () => [await threw(() => new Response("x", { status: 204 })),
    await threw(() => new Response(null, { status: 204 }).status), await threw(() => new Response("", { status: 304 }))],
    [error("TypeError"), { ok: 204 }, error("TypeError")]],
  ["status_text_validated", async () => [await threw(() => new Response("", { statusText: "a\nb" })),
    new Response("", { statusText: "Fine" }).statusText], [error("TypeError"), "Fine"]],
  ["ok_range", () => [200, 299, 300, 404].map((s) => new Response(null, { status: s }).ok), [true, true, false, false]],
  ["clone", async () => { const r = new Response("hi", { status: 201, headers: { x: "1" } }); const c = r.clone();
    return [await r.text(), await c.text(), c.status, c.headers.get("x")]; }, ["hi", "hi", 201, "1"]],
  ["clone_after_use", async () => { const r = new Response("hi"); await r.text(); return threw(() => r.clone()); },
    error("TypeError")],
  ["string_content_type", () => new Response("x").headers.get("content-type"), "text/plain;charset=UTF-8"],
  ["buffer_has_no_content_type", () => new Response(new Uint8Array([1])).headers.get("content-type"), null],
  ["to_string_tag", () => Object.prototype.toString.call(new Response()), "[object Response]"],
]);
