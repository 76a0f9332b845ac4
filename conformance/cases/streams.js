// Streams: https://streams.spec.whatwg.org/ (plus workerd's
// IdentityTransformStream and FixedLengthStream).
import { suite, threw, error, bytes, collect } from "../harness.js";

const enc = (s) => new TextEncoder().encode(s);
const from = (chunks) => new ReadableStream({ start(c) { for (const x of chunks) c.enqueue(x); c.close(); } });

export default suite("streams", [
  ["read_all", async () => collect(from([1, 2, 3])), [1, 2, 3]],
  ["pull_source", async () => { let i = 0; const s = new ReadableStream({ pull(c) { if (i < 3) c.enqueue(i++); else c.close(); } });
    return collect(s); }, [0, 1, 2]],
  ["cancel_reason_reaches_source", async () => { let got; const s = new ReadableStream({ cancel(r) { got = r; } });
    await s.cancel("bye"); return got; }, "bye"],
  ["locked", async () => { const s = from([]); s.getReader(); return [s.locked, await threw(() => s.getReader())]; },
    [true, error("TypeError")]],
  ["release_lock", async () => { const s = from([1]); const r = s.getReader(); r.releaseLock(); return [s.locked, (await collect(s))[0]]; },
    [false, 1]],
  ["tee", async () => { const [a, b] = from(["x", "y"]).tee(); return [await collect(a), await collect(b)]; }, [["x", "y"], ["x", "y"]]],
  ["pipe_through_transform", async () => collect(from(["a", "b"]).pipeThrough(new TransformStream({ transform(c, ctl) { ctl.enqueue(c.toUpperCase()); } }))),
    ["A", "B"]],
  ["transform_flush", async () => collect(from([1]).pipeThrough(new TransformStream({ flush(ctl) { ctl.enqueue("end"); } }))), [1, "end"]],
  ["writable_collects", async () => { const out = []; const w = new WritableStream({ write(c) { out.push(c); }, close() { out.push("closed"); } });
    const writer = w.getWriter(); await writer.write("a"); await writer.write("b"); await writer.close(); return out; }, ["a", "b", "closed"]],
  ["pipe_to", async () => { const out = []; await from([1, 2]).pipeTo(new WritableStream({ write(c) { out.push(c); } })); return out; }, [1, 2]],
  ["pipe_to_abort_signal", async () => { const c = new AbortController(); c.abort("stop");
    return threw(() => new ReadableStream().pipeTo(new WritableStream(), { signal: c.signal })); }, { threw: "string", value: "stop" }],
  ["error_propagates", async () => { const s = new ReadableStream({ start(c) { c.error(new RangeError("r")); } });
    return threw(() => s.getReader().read()); }, error("RangeError")],
  ["async_iteration", async () => { const out = []; for await (const c of from(["p", "q"])) out.push(c); return out; }, ["p", "q"]],
  ["readable_stream_from", async () => collect(ReadableStream.from((async function* () { yield 1; yield 2; })())), [1, 2]],
  ["queuing_strategies", () => { const c = new CountQueuingStrategy({ highWaterMark: 3 }); const b = new ByteLengthQueuingStrategy({ highWaterMark: 8 });
    return [c.highWaterMark, c.size("anything"), b.highWaterMark, b.size(new Uint8Array(5))]; }, [3, 1, 8, 5]],
  ["desired_size", () => { let ctl; new ReadableStream({ start(c) { ctl = c; } }, { highWaterMark: 2 }); const a = ctl.desiredSize;
    ctl.enqueue("x"); return [a, ctl.desiredSize]; }, [2, 1]],
  ["writer_desired_size", async () => { const w = new WritableStream({}, { highWaterMark: 4 }).getWriter(); await w.ready; return w.desiredSize; }, 4],
  ["byob_reader", async () => { const s = new ReadableStream({ type: "bytes", start(c) { c.enqueue(new Uint8Array([1, 2, 3])); c.close(); } });
    const r = s.getReader({ mode: "byob" }); const { value } = await r.read(new Uint8Array(8)); return bytes(value); }, [1, 2, 3]],
  ["byob_read_min", async () => { let ctl; const s = new ReadableStream({ type: "bytes", start(c) { ctl = c; } });
    const r = s.getReader({ mode: "byob" }); const p = r.read(new Uint8Array(8), { min: 3 });
    ctl.enqueue(new Uint8Array([1, 2])); ctl.enqueue(new Uint8Array([3, 4])); return bytes((await p).value); }, [1, 2, 3, 4]],
  ["byob_view_detached", async () => { const s = new ReadableStream({ type: "bytes", start(c) { c.enqueue(new Uint8Array([5])); } });
    const view = new Uint8Array(4); const { value } = await s.getReader({ mode: "byob" }).read(view);
    return [view.byteLength, value.byteLength, value.buffer.byteLength]; }, [0, 1, 4]],
  ["byob_read_errors", async () => { const r = new ReadableStream({ type: "bytes" }).getReader({ mode: "byob" });
    return [await threw(() => r.read(new Uint8Array(0))), await threw(() => r.read(new Uint8Array(2), { min: 3 })),
      await threw(() => new ReadableStream().getReader({ mode: "byob" }))]; },
    [error("TypeError"), error("RangeError"), error("TypeError")]],
  ["byob_release_lock_rejects_reads", async () => { const r = new ReadableStream({ type: "bytes" }).getReader({ mode: "byob" });
    const p = threw(() => r.read(new Uint8Array(1))); r.releaseLock(); return p; }, error("TypeError")],
  ["byob_request_respond", async () => { const s = new ReadableStream({ type: "bytes", pull(c) {
      const v = c.byobRequest.view; v[0] = 9; v[1] = 8; c.byobRequest.respond(2); } });
    const { value } = await s.getReader({ mode: "byob" }).read(new Uint8Array(4)); return bytes(value); }, [9, 8]],
  ["byob_request_respond_with_new_view", async () => { const s = new ReadableStream({ type: "bytes", pull(c) {
      const v = new Uint8Array(c.byobRequest.view.buffer, c.byobRequest.view.byteOffset, 1); v[0] = 7; c.byobRequest.respondWithNewView(v); } });
    const { value } = await s.getReader({ mode: "byob" }).read(new Uint8Array(4)); return bytes(value); }, [7]],
  ["byob_close_returns_buffer", async () => { const s = new ReadableStream({ type: "bytes", pull(c) { c.close(); c.byobRequest.respond(0); } });
    const { value, done } = await s.getReader({ mode: "byob" }).read(new Uint16Array(2)); return [done, value.constructor.name, value.length]; },
    [true, "Uint16Array", 0]],
  ["byob_response_body", async () => { const r = new Response("hello world").body.getReader({ mode: "byob" });
    const { value } = await r.read(new Uint8Array(5)); return new TextDecoder().decode(value); }, "hello"],
  ["byob_globals", () => [typeof ReadableStreamBYOBReader, typeof ReadableStreamBYOBRequest,
    Object.prototype.toString.call(new ReadableStream({ type: "bytes" }).getReader({ mode: "byob" }))],
    ["function", "function", "[object ReadableStreamBYOBReader]"]],
  ["body_disturbed_by_partial_read", async () => { const res = new Response("abc"); const before = res.bodyUsed;
    const r = res.body.getReader(); await r.read(); r.releaseLock(); return [before, res.bodyUsed, await threw(() => res.text())]; },
    [false, true, error("TypeError")]],
  ["byte_stream_default_reader", async () => { const s = new ReadableStream({ type: "bytes", start(c) { c.enqueue(new Uint8Array([7])); c.close(); } });
    return (await collect(s)).map(bytes); }, [[7]]],
  ["identity_transform_stream", async () => { const { readable, writable } = new IdentityTransformStream(); const w = writable.getWriter();
    w.write(enc("hi")); w.close(); return new TextDecoder().decode(new Uint8Array((await collect(readable)).flatMap((c) => bytes(c)))); }, "hi"],
  ["fixed_length_stream", async () => { const { readable, writable } = new FixedLengthStream(3); const w = writable.getWriter();
    w.write(enc("abc")); w.close(); return new Response(readable).text(); }, "abc"],
  ["response_from_transform", async () => { const { readable, writable } = new TransformStream(); const w = writable.getWriter();
    w.write(enc("a")); w.write(enc("b")); w.close(); return new Response(readable).text(); }, "ab"],
  ["closed_promise", async () => { const r = from([]).getReader(); await r.closed; return (await r.read()).done; }, true],
  ["to_string_tags", () => [new ReadableStream(), new WritableStream(), new TransformStream()].map((o) => Object.prototype.toString.call(o)),
    ["[object ReadableStream]", "[object WritableStream]", "[object TransformStream]"]],
]);
