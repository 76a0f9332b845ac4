// Request: https://fetch.spec.whatwg.org/#request-class
import { suite, threw, error, pairs } from "../harness.js";

export default suite("request", [
  ["defaults", () => { const r = new Request("https://a.com/x");
    return [r.method, r.url, r.redirect, pairs(r.headers), r.body, r.bodyUsed]; },
    ["GET", "https://a.com/x", "follow", [], null, false]],
  ["method_normalised", () => ["post", "Get", "delete", "patch", "options", "head", "put"].map(
    (m) => new Request("http://a/", { method: m }).method), ["POST", "GET", "DELETE", "patch", "OPTIONS", "HEAD", "PUT"]],
  ["forbidden_and_invalid_methods", async () => [await threw(() => new Request("http://a/", { method: "CONNECT" })),
    await threw(() => new Request("http://a/", { method: "bad method" })), await threw(() => new Request("http://a/", { method: "" }))],
    [error("TypeError"), error("TypeError"), error("TypeError")]],
  ["get_with_body", async () => [await threw(() => new Request("http://a/", { body: "x" })),
    await threw(() => new Request("http://a/", { method: "HEAD", body: "x" }))], [error("TypeError"), error("TypeError")]],
  ["relative_url_rejected", async () => threw(() => new Request("/x")), error("TypeError")],
  ["credentials_in_url_rejected", async () => threw(() => new Request("http://u:p@a/")), error("TypeError")],
  ["text_body", async () => { const r = new Request("http://a/", { method: "POST", body: "hi" });
    return [await r.text(), r.headers.get("content-type"), r.bodyUsed]; }, ["hi", "text/plain;charset=UTF-8", true]],
  ["body_used_twice", async () => { const r = new Request("http://a/", { method: "POST", body: "hi" }); await r.text();
    return threw(() => r.text()); }, error("TypeError")],
  ["clone", async () => { const r = new Request("http://a/", { method: "POST", body: "hi", headers: { x: "1" } });
    const c = r.clone(); return [await r.text(), await c.text(), c.headers.get("x"), c.method]; }, ["hi", "hi", "1", "POST"]],
  ["request_from_request", async () => { const a = new Request("http://a/", { method: "POST", body: "b", headers: { x: "1" } });
    const b = new Request(a, { method: "PUT" }); return [b.method, b.url, b.headers.get("x"), await b.text(), a.bodyUsed]; },
    ["PUT", "http://a/", "1", "b", true]],
  ["signal", () => { const r = new Request("http://a/"); return [r.signal instanceof AbortSignal, r.signal.aborted]; },
    [true, false]],
  ["signal_follows_init", () => { const c = new AbortController(); const r = new Request("http://a/", { signal: c.signal });
    c.abort(); return r.signal.aborted; }, true],
  ["url_search_params_body", async () => { const r = new Request("http://a/", { method: "POST", body: new URLSearchParams("a=1&b=2") });
    return [r.headers.get("content-type"), await r.text()]; }, ["application/x-www-form-urlencoded;charset=UTF-8", "a=1&b=2"]],
  ["explicit_content_type_kept", async () => { const r = new Request("http://a/", { method: "POST", body: "x", headers: { "content-type": "text/x" } });
    return r.headers.get("content-type"); }, "text/x"],
  ["fragment_kept", () => new Request("http://a/b#frag").url, "http://a/b#frag"],
  ["bad_redirect_mode", async () => threw(() => new Request("http://a/", { redirect: "bogus" })), error("TypeError")],
  ["url_is_serialised", () => new Request("HTTP://A.COM:80/ x").url, "http://a.com/%20x"],
  ["to_string_tag", () => Object.prototype.toString.call(new Request("http://a/")), "[object Request]"],
]);
