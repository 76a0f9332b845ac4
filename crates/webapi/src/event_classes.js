// `CustomEvent`, `ErrorEvent`, `MessageEvent` and `CloseEvent`: JavaScript
// subclasses of the native `Event` (its constructor takes the prototype
// from `new.target`), as they are plain data holders with no host state.
// The script is a function expression called with the intrinsic `Event`;
// it returns the classes in that order.
//
// The constructors run for events the host fires too, after user code may
// have replaced globals, so what they use after loading (`String`,
// `toWellFormed`) is captured when the script loads.
//
// Spec: <https://dom.spec.whatwg.org/#interface-customevent>,
// <https://html.spec.whatwg.org/multipage/webappapis.html#errorevent>,
// <https://html.spec.whatwg.org/multipage/comms.html#the-messageevent-interface>,
// <https://websockets.spec.whatwg.org/#the-closeevent-interface>
(function (Event) {
  "use strict";
  const $TypeError = TypeError;
  const toWellFormed = Function.prototype.call.bind(String.prototype.toWellFormed);
  const required = (n, name) => {
    if (n < 1) throw new $TypeError(`Failed to construct '${name}': 1 argument required, but only 0 present.`);
  };
  // A missing dictionary reads no members (Object.prototype may have them).
  const noInit = Object.freeze({ __proto__: null });
  const init = (dict) => (dict == null ? noInit : dict);
  // WebIDL DOMString, USVString and unsigned short.
  const str = (v) => `${v}`;
  const usv = (v) => toWellFormed(`${v}`);
  const u16 = (v) => +v & 0xffff;
  // workerd has no MessagePort: `ports` is always this empty FrozenArray.
  const noPorts = Object.freeze([]);
  class CustomEvent extends Event {
    #detail;
    constructor(type, eventInitDict = undefined) {
      required(arguments.length, "CustomEvent");
      super(type, eventInitDict);
      const d = eventInitDict == null ? undefined : eventInitDict.detail;
      this.#detail = d === undefined ? null : d;
    }
    get detail() { return this.#detail; }
    initCustomEvent(type, bubbles = false, cancelable = false, detail = null) {
      this.initEvent(type, bubbles, cancelable);
      this.#detail = detail;
    }
  }
  class ErrorEvent extends Event {
    #message; #filename; #lineno; #colno; #error;
    constructor(type, eventInitDict = undefined) {
      required(arguments.length, "ErrorEvent");
      super(type, eventInitDict);
      const o = init(eventInitDict);
      this.#colno = o.colno === undefined ? 0 : o.colno >>> 0;
      this.#error = o.error;
      this.#filename = o.filename === undefined ? "" : str(o.filename);
      this.#lineno = o.lineno === undefined ? 0 : o.lineno >>> 0;
      this.#message = o.message === undefined ? "" : str(o.message);
    }
    get message() { return this.#message; }
    get filename() { return this.#filename; }
    get lineno() { return this.#lineno; }
    get colno() { return this.#colno; }
    get error() { return this.#error; }
  }
  class MessageEvent extends Event {
    #data; #origin; #lastEventId;
    constructor(type, eventInitDict = undefined) {
      required(arguments.length, "MessageEvent");
      super(type, eventInitDict);
      // Members in WebIDL's (lexicographic) order; `source` and `ports`
      // are not read, as there is nothing they could hold.
      const o = init(eventInitDict);
      const data = o.data;
      this.#data = data === undefined ? null : data;
      this.#lastEventId = o.lastEventId === undefined ? "" : str(o.lastEventId);
      this.#origin = o.origin === undefined ? "" : usv(o.origin);
    }
    get data() { return this.#data; }
    get origin() { return this.#origin; }
    get lastEventId() { return this.#lastEventId; }
    // Reading the private field is the brand check other getters get free.
    get source() { this.#data; return null; }
    get ports() { this.#data; return noPorts; }
  }
  class CloseEvent extends Event {
    #wasClean; #code; #reason;
    constructor(type, eventInitDict = undefined) {
      required(arguments.length, "CloseEvent");
      super(type, eventInitDict);
      const o = init(eventInitDict);
      this.#code = o.code === undefined ? 0 : u16(o.code);
      this.#reason = o.reason === undefined ? "" : usv(o.reason);
      this.#wasClean = !!o.wasClean;
    }
    get wasClean() { return this.#wasClean; }
    get code() { return this.#code; }
    get reason() { return this.#reason; }
  }
  for (const C of [CustomEvent, ErrorEvent, MessageEvent, CloseEvent]) {
    const proto = C.prototype;
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key !== "constructor") Object.defineProperty(proto, key, { enumerable: true });
    }
    Object.defineProperty(proto, Symbol.toStringTag, { value: C.name, configurable: true });
  }
  return [CustomEvent, ErrorEvent, MessageEvent, CloseEvent];
})
