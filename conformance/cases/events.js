// Events and aborting: https://dom.spec.whatwg.org/#events and
// https://dom.spec.whatwg.org/#aborting-ongoing-activities
import { suite, threw, error, className } from "../harness.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export default suite("events", [
  ["event_defaults", () => { const e = new Event("x");
    return [e.type, e.bubbles, e.cancelable, e.composed, e.defaultPrevented, e.eventPhase, e.target, e.currentTarget, e.isTrusted,
      typeof e.timeStamp, Event.AT_TARGET]; }, ["x", false, false, false, false, 0, null, null, false, "number", 2]],
  ["event_requires_type", async () => threw(() => new Event()), error("TypeError")],
  ["prevent_default", () => { const a = new Event("x", { cancelable: true }); a.preventDefault(); const b = new Event("x"); b.preventDefault();
    return [a.defaultPrevented, b.defaultPrevented]; }, [true, false]],
  ["dispatch_basics", () => { const t = new EventTarget(); const log = [];
    t.addEventListener("x", function (e) { log.push(e.target === t, e.currentTarget === t, e.eventPhase, this === t); });
    const r = t.dispatchEvent(new Event("x")); return [log, r]; }, [[true, true, 2, true], true]],
  ["dispatch_returns_not_canceled", () => { const t = new EventTarget(); t.addEventListener("x", (e) => e.preventDefault());
    return [t.dispatchEvent(new Event("x", { cancelable: true })), t.dispatchEvent(new Event("x"))]; }, [false, true]],
  ["listener_order_and_duplicates", () => { const t = new EventTarget(); const log = []; const f = () => log.push("f");
    t.addEventListener("x", f); t.addEventListener("x", f); t.addEventListener("x", () => log.push("g"));
    t.addEventListener("x", () => log.push("cap"), true); t.dispatchEvent(new Event("x")); return log; }, ["cap", "f", "g"]],
  ["once", () => { const t = new EventTarget(); let n = 0; t.addEventListener("x", () => n++, { once: true });
    t.dispatchEvent(new Event("x")); t.dispatchEvent(new Event("x")); return n; }, 1],
  ["remove_listener", () => { const t = new EventTarget(); let n = 0; const f = () => n++; t.addEventListener("x", f);
    t.removeEventListener("x", f); t.dispatchEvent(new Event("x")); return n; }, 0],
  ["handle_event_object", () => { const t = new EventTarget(); const o = { n: 0, handleEvent() { this.n++; } };
    t.addEventListener("x", o); t.dispatchEvent(new Event("x")); return o.n; }, 1],
  ["signal_option_removes", () => { const t = new EventTarget(); const c = new AbortController(); let n = 0;
    t.addEventListener("x", () => n++, { signal: c.signal }); t.dispatchEvent(new Event("x")); c.abort(); t.dispatchEvent(new Event("x")); return n; }, 1],
  ["stop_immediate_propagation", () => { const t = new EventTarget(); const log = [];
    t.addEventListener("x", (e) => { log.push(1); e.stopImmediatePropagation(); }); t.addEventListener("x", () => log.push(2));
    t.dispatchEvent(new Event("x")); return log; }, [1]],
  ["redispatch_while_dispatching", () => { const t = new EventTarget(); let inner;
    t.addEventListener("x", (e) => { try { t.dispatchEvent(e); } catch (err) { inner = [err.name, className(err)]; } });
    t.dispatchEvent(new Event("x")); return inner; }, ["InvalidStateError", "DOMException"]],
  ["subclass", () => { class T extends EventTarget { fire() { return this.dispatchEvent(new Event("y")); } }
    const t = new T(); let hit = false; t.addEventListener("y", () => { hit = true; }); t.fire(); return [hit, t instanceof EventTarget]; }, [true, true]],
  ["custom_event", () => { const e = new CustomEvent("c", { detail: { a: 1 } }); return [e.type, e.detail, e instanceof Event]; },
    ["c", { a: 1 }, true]],
  ["message_event", () => { const d = new MessageEvent("message"); const m = new MessageEvent("m", { data: [1], origin: "https://a", lastEventId: "7" });
    return [d.data, d.origin, d.lastEventId, d.source, d.ports, d.isTrusted, d instanceof Event,
      m.data, m.origin, m.lastEventId, Object.prototype.toString.call(m)]; },
    [null, "", "", null, [], false, true, [1], "https://a", "7", "[object MessageEvent]"]],
  ["message_event_requires_type", async () => threw(() => new MessageEvent()), error("TypeError")],
  ["close_event", () => { const d = new CloseEvent("close"); const c = new CloseEvent("c", { code: 4000, reason: "bye", wasClean: true });
    return [d.code, d.reason, d.wasClean, d.isTrusted, d instanceof Event, c.code, c.reason, c.wasClean, Object.prototype.toString.call(c)]; },
    [0, "", false, false, true, 4000, "bye", true, "[object CloseEvent]"]],
  ["close_event_requires_type", async () => threw(() => new CloseEvent()), error("TypeError")],
  ["abort_controller", () => { const c = new AbortController(); const log = []; c.signal.addEventListener("abort", (e) => log.push(e.type));
    c.abort(); c.abort(); return [c.signal.aborted, c.signal.reason.name, className(c.signal.reason), log]; },
    [true, "AbortError", "DOMException", ["abort"]]],
  ["abort_with_reason", () => { const c = new AbortController(); c.abort("why"); return [c.signal.reason, c.signal.aborted]; }, ["why", true]],
  ["onabort_handler", () => { const c = new AbortController(); let hit = 0; c.signal.onabort = () => hit++; c.abort(); return hit; }, 1],
  ["abort_static_and_throw_if_aborted", async () => { const s = AbortSignal.abort(new TypeError("t"));
    return [s.aborted, await threw(() => s.throwIfAborted()), await threw(() => new AbortController().signal.throwIfAborted())]; },
    [true, error("TypeError"), { ok: "(undefined)" }]],
  ["abort_signal_timeout", async () => { const s = AbortSignal.timeout(5); const before = s.aborted; await sleep(30);
    return [before, s.aborted, s.reason.name, className(s.reason)]; }, [false, true, "TimeoutError", "DOMException"]],
  ["abort_signal_any", () => { const a = new AbortController(); const b = new AbortController(); const s = AbortSignal.any([a.signal, b.signal]);
    const before = s.aborted; b.abort("b"); a.abort("a"); return [before, s.aborted, s.reason]; }, [false, true, "b"]],
  ["abort_signal_any_already_aborted", () => AbortSignal.any([new AbortController().signal, AbortSignal.abort("x")]).reason, "x"],
  ["abort_signal_constructor", async () => threw(() => new AbortSignal()), error("TypeError")],
  ["to_string_tags", () => [new Event("x"), new EventTarget(), new AbortController(), new AbortController().signal].map((o) => Object.prototype.toString.call(o)),
    ["[object Event]", "[object EventTarget]", "[object AbortController]", "[object AbortSignal]"]],
]);
