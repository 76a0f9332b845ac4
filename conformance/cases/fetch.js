// fetch against the echo server the runner starts on 127.0.0.1:
// https://fetch.spec.whatwg.org/#fetch-method and, where Workers decide
// (redirect: "manual"), workerd's behaviour.
//
// Echo server paths: /echo/... answers JSON {method, path, headers, body};
// /redirect/<status>?to=<path>; /status/<code>; /bytes/<n> (n bytes of "a");
// /cookies (two Set-Cookie headers); /close (closes without answering).
import { suite, threw, error } from "../harness.js";

const echo = async (env, path, init) => (await fetch(env.echo + path, init)).json();

export default suite("fetch", [
  ["get", async (env) => { const r = await fetch(env.echo + "/echo/a?b=c"); const j = await r.json();
    return [r.status, r.ok, j.method, j.path, r.headers.get("content-type"), r.url === env.echo + "/echo/a?b=c", r.redirected]; },
    [200, true, "GET", "/echo/a?b=c", "application/json", true, false]],
  ["post_text_body", async (env) => { const j = await echo(env, "/echo", { method: "POST", body: "hello" });
    return [j.method, j.body, j.headers["content-type"], j.headers["content-length"]]; },
    ["POST", "hello", "text/plain;charset=UTF-8", "5"]],
  ["custom_headers_sent", async (env) => { const j = await echo(env, "/echo", { headers: { "X-One": "1", "x-two": "a, b" } });
    return [j.headers["x-one"], j.headers["x-two"]]; }, ["1", "a, b"]],
  ["request_object", async (env) => { const req = new Request(env.echo + "/echo/r", { method: "PUT", body: "b", headers: { x: "y" } });
    const j = await (await fetch(req)).json(); return [j.method, j.path, j.body, j.headers.x]; }, ["PUT", "/echo/r", "b", "y"]],
  ["stream_request_body", async (env) => { const body = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("st")); c.enqueue(new TextEncoder().encode("ream")); c.close(); } });
    const j = await echo(env, "/echo", { method: "POST", body, duplex: "half" }); return j.body; }, "stream"],
  ["status_404", async (env) => { const r = await fetch(env.echo + "/status/404"); return [r.status, r.ok, await r.text()]; },
    [404, false, "status 404"]],
  ["redirect_follow", async (env) => { const r = await fetch(env.echo + "/redirect/302?to=/echo/done");
    const j = await r.json(); return [r.status, r.redirected, r.url === env.echo + "/echo/done", j.path]; },
    [200, true, true, "/echo/done"]],
  ["redirect_303_becomes_get", async (env) => { const r = await fetch(env.echo + "/redirect/303?to=/echo/x", { method: "POST", body: "b" });
    const j = await r.json(); return [j.method, j.body]; }, ["GET", ""]],
  ["redirect_307_keeps_method", async (env) => { const r = await fetch(env.echo + "/redirect/307?to=/echo/x", { method: "POST", body: "b" });
    const j = await r.json(); return [j.method, j.body]; }, ["POST", "b"]],
  ["redirect_manual", async (env) => { const r = await fetch(env.echo + "/redirect/301?to=/echo/x", { redirect: "manual" });
    return [r.status, r.headers.get("location"), r.redirected]; }, [301, "/echo/x", false]],
  ["redirect_error", async (env) => threw(() => fetch(env.echo + "/redirect/302?to=/echo/x", { redirect: "error" })),
    error("TypeError")],
  ["aborted_before", async (env) => threw(() => fetch(env.echo + "/echo", { signal: AbortSignal.abort() })),
    error("AbortError", "DOMException")],
  ["aborted_with_reason", async (env) => { const c = new AbortController(); const p = fetch(env.echo + "/echo", { signal: c.signal });
    c.abort(new RangeError("stop")); return threw(() => p); }, error("RangeError")],
  ["unsupported_scheme", async () => threw(() => fetch("ftp://example.com/")), error("TypeError")],
  ["invalid_url", async () => threw(() => fetch("http://")), error("TypeError")],
  ["connection_closed", async (env) => threw(() => fetch(env.echo + "/close")), error("TypeError")],
  ["large_streamed_response", async (env) => { const r = await fetch(env.echo + "/bytes/200000"); let n = 0; let chunks = 0;
    const reader = r.body.getReader(); for (;;) { const { done, value } = await reader.read(); if (done) break; n += value.byteLength; chunks++; }
    return [n, chunks > 0, r.headers.get("content-length")]; }, [200000, true, "200000"]],
  ["set_cookie_headers", async (env) => { const r = await fetch(env.echo + "/cookies"); await r.arrayBuffer();
    return r.headers.getSetCookie(); }, ["a=1; Path=/", "b=2"]],
  ["head_has_no_body", async (env) => { const r = await fetch(env.echo + "/bytes/10", { method: "HEAD" });
    return [r.status, await r.text()]; }, [200, ""]],
  // A worker has no origin, so the spec's "basic" filtering does not apply;
  // workerd reports "default".
  ["response_is_response", async (env) => { const r = await fetch(env.echo + "/echo"); await r.arrayBuffer();
    return [r instanceof Response, r.type, r.bodyUsed]; }, [true, "default", true]],
]);
