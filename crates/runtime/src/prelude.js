// Handler-format glue: a module evaluated once in every fresh context before
// user code. Its default export is `bind(namespace, env)`, which finds the
// handler in whichever format the worker uses and returns `[format,
// dispatch]`, where `dispatch(request)` runs one request. Nothing here is
// reachable from user code except the `addEventListener` it installs for
// service-worker style.
const fetchListeners = [];
const otherAdd = globalThis.addEventListener;

const report = (what) => (e) => console.error(`Uncaught (in ${what})`, e);

// https://developers.cloudflare.com/workers/runtime-apis/context/
class ExecutionContext {
  waitUntil(promise) {
    Promise.resolve(promise).catch(report("waitUntil"));
  }
  passThroughOnException() {}
  get props() {
    return {};
  }
}

// https://developers.cloudflare.com/workers/reference/migrate-to-module-workers/
class FetchEvent {
  #response;
  #ctx;
  constructor(request, ctx) {
    this.type = "fetch";
    this.request = request;
    this.#ctx = ctx;
  }
  respondWith(response) {
    if (this.#response !== undefined) {
      throw new DOMException("respondWith() was already called", "InvalidStateError");
    }
    this.#response = Promise.resolve(response);
  }
  waitUntil(promise) {
    this.#ctx.waitUntil(promise);
  }
  passThroughOnException() {}
  get response() {
    return this.#response;
  }
}

Object.defineProperty(globalThis, "addEventListener", {
  value: function addEventListener(type, listener, options) {
    if (type === "fetch") {
      if (typeof listener !== "function" && typeof listener?.handleEvent !== "function") {
        throw new TypeError("addEventListener: listener must be a function");
      }
      fetchListeners.push(listener);
    } else if (typeof otherAdd === "function") {
      otherAdd.call(globalThis, type, listener, options);
    }
  },
  writable: true,
  configurable: true,
});

export default function bind(ns, env) {
  const def = ns.default;
  if (def !== null && typeof def === "object" && typeof def.fetch === "function") {
    return [1, (request) => def.fetch(request, env, new ExecutionContext())];
  }
  if (typeof def === "function" && typeof def.prototype?.fetch === "function") {
    // Class-based entrypoint (`class extends WorkerEntrypoint`).
    const instance = new def(new ExecutionContext(), env);
    return [1, (request) => instance.fetch(request)];
  }
  if (typeof def === "function") {
    // Vercel / Next.js edge style: `export default function (request, context)`.
    return [3, (request) => def(request, new ExecutionContext())];
  }
  if (fetchListeners.length > 0) {
    return [2, (request) => {
      const event = new FetchEvent(request, new ExecutionContext());
      for (const l of fetchListeners) {
        typeof l === "function" ? l.call(globalThis, event) : l.handleEvent(event);
        if (event.response !== undefined) break;
      }
      if (event.response === undefined) {
        throw new Error("No response: the fetch event listener did not call event.respondWith()");
      }
      return event.response;
    }];
  }
  return null;
}
