// Conformance harness: runs one API group's cases and answers with JSON
// {group, results: [{name, pass, got, expected}]}.
//
// A case is `[name, fn, expected]`: `fn(env)` is an async function returning
// a JSON-serialisable observation (a value, or what `threw()` reports for an
// error: its name and class, never its message, which runtimes word
// differently). `env.echo` is the base URL of the echo server the runner
// starts (for the fetch group). A case passes when its observation equals
// `expected` after both are normalised (see `normalise`). A case that
// throws is reported as {uncaught: name, class}; one that takes longer than
// CASE_TIMEOUT_MS as {timeout: true}, so one hanging case cannot hang the
// group.
//
// Each cases/<group>.js exports `suite(group, cases)` as its default export,
// which is a complete worker; all.js routes /<group> to it.

const CASE_TIMEOUT_MS = 3000;

/** The class name of a thrown value: DOMException, TypeError, ... */
export function className(e) {
  if (typeof DOMException === "function" && e instanceof DOMException) return "DOMException";
  if (e === null || (typeof e !== "object" && typeof e !== "function")) return typeof e;
  const ctor = e.constructor;
  return ctor && typeof ctor.name === "string" ? ctor.name : "Object";
}

/** What a thrown value looks like in an observation. */
export function errorOf(e) {
  if (e !== null && typeof e === "object") return { threw: String(e.name), class: className(e) };
  return { threw: typeof e, value: normalise(e) };
}

/** Runs `fn` (sync or async): {ok: value} or {threw: name, class}. */
export async function threw(fn) {
  try {
    const v = await fn();
    return { ok: normalise(v) };
  } catch (e) {
    return errorOf(e);
  }
}

/** Shorthand for the observation of a thrown error. */
export function error(name, cls = name) {
  return { threw: name, class: cls };
}

/** Bytes of a buffer or view as a plain array. */
export function bytes(buf) {
  if (ArrayBuffer.isView(buf)) return Array.from(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
  return Array.from(new Uint8Array(buf));
}

/** Reads every chunk of a ReadableStream into an array. */
export async function collect(stream) {
  const out = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}

/** Headers (or any pair iterable) as an array of [name, value]. */
export function pairs(iterable) {
  return Array.from(iterable, ([k, v]) => [k, v]);
}

// JSON cannot carry undefined, NaN, -0, Infinity or bigints; spell them out
// so that two runtimes disagreeing on them still show a difference.
export function normalise(v, depth = 0) {
  if (depth > 20) return "(too deep)";
  if (v === undefined) return "(undefined)";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "(NaN)";
    if (v === Infinity) return "(Infinity)";
    if (v === -Infinity) return "(-Infinity)";
    if (Object.is(v, -0)) return "(-0)";
    return v;
  }
  if (typeof v === "bigint") return `(${v}n)`;
  if (typeof v === "symbol") return `(${String(v)})`;
  if (typeof v === "function") return "(function)";
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => normalise(x, depth + 1));
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return { bytes: bytes(v) };
  const out = {};
  for (const k of Object.keys(v).sort()) out[k] = normalise(v[k], depth + 1);
  return out;
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function runCase(fn, env) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ timeout: true }), CASE_TIMEOUT_MS);
  });
  try {
    const run = (async () => {
      try {
        return normalise(await fn(env));
      } catch (e) {
        const o = errorOf(e);
        return { uncaught: o.threw, class: o.class };
      }
    })();
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every case of a group, one after another, in the order given. */
export async function runSuite(group, cases, env, only) {
  const results = [];
  for (const [name, fn, expected] of cases) {
    if (only && only !== name) continue;
    const got = await runCase(fn, env);
    const want = normalise(expected);
    results.push({ name, pass: same(got, want), got, expected: want });
  }
  return { group, results };
}

/**
 * A group's worker: `GET /?echo=<base url>&case=<name>` runs the group (or
 * one case) and answers with its JSON results.
 */
export function suite(group, cases) {
  const names = new Set();
  for (const c of cases) {
    if (names.has(c[0])) throw new Error(`${group}: duplicate case name ${c[0]}`);
    names.add(c[0]);
  }
  return {
    group,
    cases,
    async fetch(request) {
      const url = new URL(request.url);
      const env = { echo: url.searchParams.get("echo") || "http://127.0.0.1:9" };
      const out = await runSuite(group, cases, env, url.searchParams.get("case"));
      return new Response(JSON.stringify(out), { headers: { "content-type": "application/json" } });
    },
  };
}
