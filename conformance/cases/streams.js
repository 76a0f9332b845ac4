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
