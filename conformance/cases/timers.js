// Timers: https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#timers
import { suite, threw, error } from "../harness.js";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export default suite("timers", [
  ["order_by_delay", async () => { const log = []; setTimeout(() => log.push("b"), 20); setTimeout(() => log.push("a"), 0);
    await sleep(40); return log; }, ["a", "b"]],
  ["same_delay_fifo", async () => { const log = []; for (let i = 0; i < 5; i++) setTimeout(() => log.push(i), 1); await sleep(20); return log; },
    [0, 1, 2, 3, 4]],
  ["extra_arguments", async () => { let got; setTimeout((a, b) => { got = [a, b]; }, 0, "x", 2); await sleep(10); return got; }, ["x", 2]],
  ["clear_timeout", async () => { let fired = false; const id = setTimeout(() => { fired = true; }, 1); clearTimeout(id); await sleep(15); return fired; },
    false],
  ["interval_repeats", async () => { let n = 0; await new Promise((r) => { const id = setInterval(() => { if (++n === 3) { clearInterval(id); r(); } }, 1); });
    await sleep(10); return n; }, 3],
  ["ids_are_distinct_positive", () => { const a = setTimeout(() => {}, 1000); const b = setTimeout(() => {}, 1000); clearTimeout(a); clearTimeout(b);
    return [typeof a, Number(a) > 0, Number(a) !== Number(b)]; }, ["number", true, true]],
  ["microtasks_before_timers", async () => { const log = []; setTimeout(() => log.push("timer"), 0); queueMicrotask(() => log.push("micro"));
    Promise.resolve().then(() => log.push("promise")); await sleep(10); return log; }, ["micro", "promise", "timer"]],
  ["clear_invalid_ids", async () => threw(() => { clearTimeout(undefined); clearTimeout("x"); clearInterval(null); clearTimeout(123456); return "ok"; }),
    { ok: "ok" }],
  ["negative_and_nan_delay", async () => { const log = []; setTimeout(() => log.push("nan"), NaN); setTimeout(() => log.push("neg"), -10);
    await sleep(10); return log; }, ["nan", "neg"]],
  ["non_function_callback", async () => threw(() => setTimeout("1 + 1", 0)), error("TypeError")],
  ["queue_microtask_non_function", async () => threw(() => queueMicrotask(1)), error("TypeError")],
  ["clear_from_inside_interval", async () => { let n = 0; const id = setInterval(() => { n++; clearInterval(id); }, 1); await sleep(20); return n; }, 1],
  ["this_in_callback", async () => { let self; setTimeout(function () { self = this; }, 0); await sleep(5); return self === globalThis || self === undefined; }, true],
]);
