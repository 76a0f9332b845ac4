// Small globals: navigator, scheduler.wait (Workers), reportError
// (https://html.spec.whatwg.org/multipage/webappapis.html#dom-reporterror),
// DOMException (https://webidl.spec.whatwg.org/#idl-DOMException),
// performance, queueMicrotask, self.
import { suite, threw, error, className } from "../harness.js";

export default suite("globals", [
  ["navigator", () => [navigator.userAgent, navigator.hardwareConcurrency], ["Cloudflare-Workers", 1]],
  ["scheduler_wait", async () => { const t0 = performance.now(); const v = await scheduler.wait(10); return [v, typeof scheduler.wait]; },
    [undefined, "function"]],
  ["scheduler_wait_abort", async () => { const c = new AbortController(); const p = scheduler.wait(10000, { signal: c.signal }); c.abort(new RangeError("r"));
    return [await threw(() => p), await threw(() => scheduler.wait(1, { signal: AbortSignal.abort() }))];
  }, [error("RangeError"), error("AbortError", "DOMException")]],
  ["report_error_event", () => { const seen = []; const err = new TypeError("boom");
    const f = (e) => { seen.push(e.type, e.error === err, e.message, e instanceof ErrorEvent); };
    addEventListener("error", f); reportError(err); removeEventListener("error", f); return seen; }, ["error", true, "Uncaught TypeError: boom", true]],
  // The HTML spec makes the event cancelable, so a listener can keep the
  // error out of the console.
  ["report_error_event_cancelable", () => { let c; const f = (e) => { c = e.cancelable; e.preventDefault(); };
    addEventListener("error", f); reportError(1); removeEventListener("error", f); return c; }, true],
  ["error_and_custom_event_classes", () => { const e = new ErrorEvent("error", { message: "m", lineno: 2, error: 5 });
    const c = new CustomEvent("c", { detail: [1] }); return [e.message, e.lineno, e.colno, e.filename, e.error, c.detail, e instanceof Event]; },
    ["m", 2, 0, "", 5, [1], true]],
  ["report_error_requires_argument", async () => threw(() => reportError()), error("TypeError")],
  ["global_event_target", () => { let hit = 0; const f = () => hit++; addEventListener("custom", f); const r = dispatchEvent(new Event("custom"));
    removeEventListener("custom", f); dispatchEvent(new Event("custom")); return [hit, r]; }, [1, true]],
  ["dom_exception_fields", () => { const d = new DOMException("gone", "NotFoundError");
    return [d.name, d.message, d.code, d instanceof Error, className(d), Object.prototype.toString.call(d), String(d)]; },
    ["NotFoundError", "gone", 8, true, "DOMException", "[object DOMException]", "NotFoundError: gone"]],
  ["dom_exception_defaults_and_codes", () => [new DOMException().name, new DOMException().message, new DOMException("m", "Custom").code,
    new DOMException("m", "AbortError").code, new DOMException("m", "DataCloneError").code, new DOMException("m", "TimeoutError").code],
    ["Error", "", 0, 20, 25, 23]],
  ["dom_exception_legacy_constants", () => [DOMException.INDEX_SIZE_ERR, DOMException.NOT_FOUND_ERR, DOMException.SYNTAX_ERR,
    DOMException.QUOTA_EXCEEDED_ERR, DOMException.DATA_CLONE_ERR, DOMException.prototype.ABORT_ERR], [1, 8, 12, 22, 25, 20]],
  ["dom_exception_structured_clone", () => { const c = structuredClone(new DOMException("m", "SyntaxError")); return [className(c), c.name, c.message, c.code]; },
    ["DOMException", "SyntaxError", "m", 12]],
  ["performance", () => { const a = performance.now(); return [typeof a, a >= 0, typeof performance.timeOrigin, performance.timeOrigin > 1.6e12]; },
    ["number", true, "number", true]],
  ["self_is_global", () => [typeof self, self === globalThis], ["object", true]],
]);
