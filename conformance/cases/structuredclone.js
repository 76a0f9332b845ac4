// structuredClone: https://html.spec.whatwg.org/multipage/structured-data.html
import { suite, threw, error, bytes, className } from "../harness.js";

const dce = error("DataCloneError", "DOMException");

export default suite("structuredclone", [
  ["primitives", () => [1, "s", true, null, undefined, 10n, -0, NaN].map((v) => structuredClone(v)), [1, "s", true, null, undefined, 10n, -0, NaN]],
  ["cycles_and_sharing", () => { const o = { a: [1] }; o.self = o; o.b = o.a; const c = structuredClone(o);
    return [c !== o, c.self === c, c.a === c.b, c.a !== o.a]; }, [true, true, true, true]],
  ["builtins", () => { const c = structuredClone({ d: new Date(5), r: /x/gi, m: new Map([["k", 1]]), s: new Set([2]) });
    return [c.d.getTime(), c.r.source, c.r.flags, c.m.get("k"), c.s.has(2)]; }, [5, "x", "gi", 1, true]],
  ["typed_arrays_share_buffer", () => { const buf = new ArrayBuffer(4); const c = structuredClone({ a: new Uint8Array(buf, 1, 2), b: new Uint16Array(buf) });
    return [c.a.buffer === c.b.buffer, c.a.byteOffset, c.a.length, c.b.length]; }, [true, 1, 2, 2]],
  ["errors", () => { const c = structuredClone(new RangeError("r")); const t = structuredClone(new TypeError("t"));
    return [className(c), c.message, className(t), t.name]; }, ["RangeError", "r", "TypeError", "TypeError"]],
  ["error_cause", () => structuredClone(new Error("e", { cause: "because" })).cause, "because"],
  ["dom_exception", () => { const c = structuredClone(new DOMException("m", "AbortError")); return [className(c), c.name, c.message, c.code]; },
    ["DOMException", "AbortError", "m", 20]],
  ["uncloneable", async () => [await threw(() => structuredClone(() => 1)), await threw(() => structuredClone(Symbol("s"))),
    await threw(() => structuredClone(new WeakMap())), await threw(() => structuredClone({ p: Promise.resolve() }))], [dce, dce, dce, dce]],
  ["transfer", () => { const buf = new Uint8Array([1, 2]).buffer; const c = structuredClone(buf, { transfer: [buf] }); return [buf.byteLength, bytes(c)]; },
    [0, [1, 2]]],
  ["getters_run_once_prototype_dropped", () => { let n = 0; class P { get g() { return 1; } } const o = new P(); o.x = 1;
    const src = { get v() { n++; return 2; } }; const c = structuredClone(src); const d = structuredClone(o);
    return [c.v, n, Object.getPrototypeOf(d) === Object.prototype, d.x, d.g]; }, [2, 1, true, 1, undefined]],
  ["blob_and_file", async () => { const b = structuredClone(new Blob(["x"], { type: "t/t" })); const f = structuredClone(new File(["y"], "n"));
    return [b.type, await b.text(), f.name, await f.text()]; }, ["t/t", "x", "n", "y"]],
  ["missing_argument", async () => threw(() => structuredClone()), error("TypeError")],
]);
