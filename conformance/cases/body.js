// Body mixin: https://fetch.spec.whatwg.org/#body-mixin
import { suite, threw, error, bytes, pairs } from "../harness.js";

const urlencoded = { "content-type": "application/x-www-form-urlencoded" };

export default suite("body", [
  ["text_strips_bom", () => new Response(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69])).text(), "hi"],
  ["text_replaces_invalid_utf8", () => new Response(new Uint8Array([0x61, 0xff, 0x62])).text(), "a\uFFFDb"],
  ["json_invalid", async () => threw(() => new Response("{nope").json()), error("SyntaxError")],
  ["json_valid", () => new Response(" [1, {\"a\": null}] ").json(), [1, { a: null }]],
  ["array_buffer_utf8", async () => bytes(await new Response("é").arrayBuffer()), [195, 169]],
  ["bytes_method", async () => { const b = await new Response("ab").bytes(); return [b instanceof Uint8Array, bytes(b)]; },
    [true, [97, 98]]],
  ["blob_type_from_header", async () => { const b = await new Response("x", { headers: { "content-type": "Text/HTML" } }).blob();
    return [b.type, b.size]; }, ["text/html", 1]],
  ["body_used_reuse", async () => { const r = new Response("x"); await r.text(); return [r.bodyUsed, await threw(() => r.arrayBuffer())]; },
    [true, error("TypeError")]],
  ["body_is_stream", async () => { const r = new Response("abc"); const s = r.body;
    const reader = s.getReader(); let text = ""; const dec = new TextDecoder();
    for (;;) { const { done, value } = await reader.read(); if (done) break; text += dec.decode(value, { stream: true }); }
    return [s instanceof ReadableStream, text, r.bodyUsed]; }, [true, "abc", true]],
  ["stream_body", () => new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("a")); c.enqueue(new TextEncoder().encode("b")); c.close(); } })).text(),
    "ab"],
  ["form_data_urlencoded", async () => pairs(await new Response("a=1&b=x+y&a=%C3%A9", { headers: urlencoded }).formData()),
    [["a", "1"], ["b", "x y"], ["a", "é"]]],
  ["form_data_without_type", async () => threw(() => new Response("a=1").formData()), error("TypeError")],
  ["locked_stream_body", async () => { const r = new Response("x"); r.body.getReader(); return threw(() => r.text()); },
    error("TypeError")],
  ["blob_body_sets_type", () => new Response(new Blob(["x"], { type: "text/x" })).headers.get("content-type"), "text/x"],
  ["data_view_body", async () => bytes(await new Response(new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 1, 2)).arrayBuffer()),
    [2, 3]],
  ["request_stream_body", async () => { const body = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("s")); c.close(); } });
    return new Request("http://a/", { method: "POST", body, duplex: "half" }).text(); }, "s"],
  ["empty_body_reads", async () => [await new Response(null).text(), bytes(await new Response().arrayBuffer()), await new Response("").text()],
    ["", [], ""]],
  ["multipart_round_trip", async () => { const fd = new FormData(); fd.append("a", "1"); fd.append("f", new Blob(["xyz"], { type: "text/plain" }), "f.txt");
    const r = new Response(fd); const ct = r.headers.get("content-type"); const back = await r.formData(); const f = back.get("f");
    return [ct.startsWith("multipart/form-data; boundary="), back.get("a"), f.name, f.type, await f.text()]; },
    [true, "1", "f.txt", "text/plain", "xyz"]],
]);
