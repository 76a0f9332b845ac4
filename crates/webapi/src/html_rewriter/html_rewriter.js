// HTMLRewriter for Outpost isolates:
// https://developers.cloudflare.com/workers/runtime-apis/html-rewriter/
//
// Loaded by html_rewriter/mod.rs on first use of the global
// (lazy_globals.js). The outer function is called from Rust with the native
// pieces: `startRewriter` (spawns the lol_html thread of one transform and
// returns its session) and `validateSelector`. The function it returns is
// the group's factory.
//
// A transform's output is a pull-based ReadableStream: each pull reads one
// chunk of the input body, hands it to the session, runs the JS handler of
// every event the session reports (awaiting it if it returns a promise) and
// enqueues whatever output the rewriter has produced, so chunks flow as they
// arrive. The objects handlers receive are thin proxies whose every member
// is an op on the session; each holds a token that is invalidated when its
// handler returns (or its promise settles).
(function (startRewriter, validateSelector) {
  'use strict';
  return function (
    $, readableStreamDescriptor, readerDescriptor, controllerDescriptor, Response, Headers,
  ) {
    const {
      ObjectDefineProperty,
      ObjectGetOwnPropertyDescriptor,
      ObjectGetOwnPropertyNames,
      ReflectApply,
      promiseThen,
      TypeError: $TypeError,
      SymbolToStringTag,
    } = $;
    const resolve = (d) => (d.get !== undefined ? d.get() : d.value);
    const getterOf = (proto, name) => ObjectGetOwnPropertyDescriptor(proto, name).get;
    const ReadableStream = resolve(readableStreamDescriptor);
    const Reader = resolve(readerDescriptor);
    const Controller = resolve(controllerDescriptor);
    const StreamGetReader = ReadableStream.prototype.getReader;
    const ReaderRead = Reader.prototype.read;
    const ReaderCancel = Reader.prototype.cancel;
    const ControllerEnqueue = Controller.prototype.enqueue;
    const ControllerClose = Controller.prototype.close;
    const ResponseBody = getterOf(Response.prototype, 'body');
    const ResponseStatus = getterOf(Response.prototype, 'status');
    const ResponseStatusText = getterOf(Response.prototype, 'statusText');
    const ResponseHeaders = getterOf(Response.prototype, 'headers');
    const HeadersGet = Headers.prototype.get;
    const HeadersDelete = Headers.prototype.delete;
    const ArrayValues = Array.prototype.values;
    const noop = () => {};

    const INTERNAL = Symbol('internal');

    // Event kinds, shared with worker.rs.
    const ELEMENT = 0;
    const COMMENT = 1;
    const TEXT = 2;
    const DOCTYPE = 3;
    const DOCUMENT_END = 4;
    const END_TAG = 5;
    const DOC_COMMENT = 6;
    const DOC_TEXT = 7;

    // Op codes, shared with mod.rs.
    const TAG_NAME = 0, SET_TAG_NAME = 1, ATTRIBUTES = 2, GET_ATTRIBUTE = 3, HAS_ATTRIBUTE = 4,
      SET_ATTRIBUTE = 5, REMOVE_ATTRIBUTE = 6, NAMESPACE_URI = 7, REMOVED = 8, SELF_CLOSING = 9,
      CAN_HAVE_CONTENT = 10, INSERT = 11, REMOVE = 12, REMOVE_AND_KEEP_CONTENT = 13,
      ON_END_TAG = 14, NAME = 15, SET_NAME = 16, TEXT_OF = 17, SET_TEXT = 18,
      LAST_IN_TEXT_NODE = 19, PUBLIC_ID = 20, SYSTEM_ID = 21;
    // Insert places, shared with mod.rs.
    const BEFORE = 0, AFTER = 1, PREPEND = 2, APPEND = 3, REPLACE = 4, INNER = 5;

    // What a proxy points at while its handler runs.
    class Token {
      st;
      valid = true;
      constructor(st) {
        this.st = st;
      }
    }

    function op(t, what, code, a, b, c) {
      if (!t.valid) {
        throw new $TypeError(
          `This ${what} is no longer valid: objects passed to HTMLRewriter handlers can only be used while their handler runs (until the promise it returns settles).`,
        );
      }
      return t.st.session.op(code, a, b, c);
    }

    // ContentOptions: { html?: boolean }
    function isHtml(options) {
      if (options === undefined || options === null) return false;
      if (typeof options !== 'object' && typeof options !== 'function') {
        throw new $TypeError('The content options must be an object.');
      }
      return !!options.html;
    }

    function insert(t, what, place, content, options) {
      const html = isHtml(options);
      op(t, what, INSERT, `${content}`, place, html);
    }

    function illegal(key) {
      if (key !== INTERNAL) throw new $TypeError('Illegal constructor');
    }

    class Element {
      #t;
      constructor(key, t) {
        illegal(key);
        this.#t = t;
      }
      get tagName() {
        return op(this.#t, 'Element', TAG_NAME);
      }
      set tagName(name) {
        op(this.#t, 'Element', SET_TAG_NAME, `${name}`);
      }
      get attributes() {
        return ReflectApply(ArrayValues, op(this.#t, 'Element', ATTRIBUTES), []);
      }
      get namespaceURI() {
        return op(this.#t, 'Element', NAMESPACE_URI);
      }
      get removed() {
        return op(this.#t, 'Element', REMOVED);
      }
      get selfClosing() {
        return op(this.#t, 'Element', SELF_CLOSING);
      }
      get canHaveContent() {
        return op(this.#t, 'Element', CAN_HAVE_CONTENT);
      }
      getAttribute(name) {
        // null for a missing attribute, as the DOM and workerd answer.
        return op(this.#t, 'Element', GET_ATTRIBUTE, `${name}`) ?? null;
      }
      hasAttribute(name) {
        return op(this.#t, 'Element', HAS_ATTRIBUTE, `${name}`);
      }
      setAttribute(name, value) {
        op(this.#t, 'Element', SET_ATTRIBUTE, `${name}`, `${value}`);
        return this;
      }
      removeAttribute(name) {
        op(this.#t, 'Element', REMOVE_ATTRIBUTE, `${name}`);
        return this;
      }
      before(content, options = undefined) {
        insert(this.#t, 'Element', BEFORE, content, options);
        return this;
      }
      after(content, options = undefined) {
        insert(this.#t, 'Element', AFTER, content, options);
        return this;
      }
      prepend(content, options = undefined) {
        insert(this.#t, 'Element', PREPEND, content, options);
        return this;
      }
      append(content, options = undefined) {
        insert(this.#t, 'Element', APPEND, content, options);
        return this;
      }
      replace(content, options = undefined) {
        insert(this.#t, 'Element', REPLACE, content, options);
        return this;
      }
      setInnerContent(content, options = undefined) {
        insert(this.#t, 'Element', INNER, content, options);
        return this;
      }
      remove() {
        op(this.#t, 'Element', REMOVE);
        return this;
      }
      removeAndKeepContent() {
        op(this.#t, 'Element', REMOVE_AND_KEEP_CONTENT);
        return this;
      }
      onEndTag(handler) {
        if (typeof handler !== 'function') {
          throw new $TypeError("Failed to execute 'onEndTag' on 'Element': the handler must be a function.");
        }
        const t = this.#t;
        const handlers = t.st.endTag;
        const id = handlers.length;
        op(t, 'Element', ON_END_TAG, id);
        handlers[id] = handler;
      }
    }

    class EndTag {
      #t;
      constructor(key, t) {
        illegal(key);
        this.#t = t;
      }
      get name() {
        return op(this.#t, 'EndTag', NAME);
      }
      set name(name) {
        op(this.#t, 'EndTag', SET_NAME, `${name}`);
      }
      before(content, options = undefined) {
        insert(this.#t, 'EndTag', BEFORE, content, options);
        return this;
      }
      after(content, options = undefined) {
        insert(this.#t, 'EndTag', AFTER, content, options);
        return this;
      }
      remove() {
        op(this.#t, 'EndTag', REMOVE);
        return this;
      }
    }

    class Text {
      #t;
      constructor(key, t) {
        illegal(key);
        this.#t = t;
      }
      get text() {
        return op(this.#t, 'Text', TEXT_OF);
      }
      get lastInTextNode() {
        return op(this.#t, 'Text', LAST_IN_TEXT_NODE);
      }
      get removed() {
        return op(this.#t, 'Text', REMOVED);
      }
      before(content, options = undefined) {
        insert(this.#t, 'Text', BEFORE, content, options);
        return this;
      }
      after(content, options = undefined) {
        insert(this.#t, 'Text', AFTER, content, options);
        return this;
      }
      replace(content, options = undefined) {
        insert(this.#t, 'Text', REPLACE, content, options);
        return this;
      }
      remove() {
        op(this.#t, 'Text', REMOVE);
        return this;
      }
    }

    class Comment {
      #t;
      constructor(key, t) {
        illegal(key);
        this.#t = t;
      }
      get text() {
        return op(this.#t, 'Comment', TEXT_OF);
      }
      set text(text) {
        op(this.#t, 'Comment', SET_TEXT, `${text}`);
      }
      get removed() {
        return op(this.#t, 'Comment', REMOVED);
      }
      before(content, options = undefined) {
        insert(this.#t, 'Comment', BEFORE, content, options);
        return this;
      }
      after(content, options = undefined) {
        insert(this.#t, 'Comment', AFTER, content, options);
        return this;
      }
      replace(content, options = undefined) {
        insert(this.#t, 'Comment', REPLACE, content, options);
        return this;
      }
      remove() {
        op(this.#t, 'Comment', REMOVE);
        return this;
      }
    }

    class Doctype {
      #t;
      constructor(key, t) {
        illegal(key);
        this.#t = t;
      }
      get name() {
        return op(this.#t, 'Doctype', NAME);
      }
      get publicId() {
        return op(this.#t, 'Doctype', PUBLIC_ID);
      }
      get systemId() {
        return op(this.#t, 'Doctype', SYSTEM_ID);
      }
    }

    class DocumentEnd {
      #t;
      constructor(key, t) {
        illegal(key);
        this.#t = t;
      }
      append(content, options = undefined) {
        insert(this.#t, 'DocumentEnd', APPEND, content, options);
        return this;
      }
    }

    const PROXIES = [Element, Comment, Text, Doctype, DocumentEnd, EndTag, Comment, Text];

    // Reads the handler functions when `on()`/`onDocument()` is called, as
    // workerd does; they are called with the handler object as `this`, so
    // class instances work.
    function handlerRecord(handlers, names, method) {
      if (handlers === null || (typeof handlers !== 'object' && typeof handlers !== 'function')) {
        throw new $TypeError(`Failed to execute '${method}' on 'HTMLRewriter': the handlers must be an object.`);
      }
      const record = { __proto__: null, obj: handlers };
      for (let i = 0; i < names.length; i++) {
        const f = handlers[names[i]];
        if (f !== undefined && typeof f !== 'function') {
          throw new $TypeError(
            `Failed to execute '${method}' on 'HTMLRewriter': the '${names[i]}' handler must be a function.`,
          );
        }
        record[names[i]] = f;
      }
      return record;
    }

    function handlerFor(st, kind, index) {
      switch (kind) {
        case ELEMENT: return [st.on[index].element, st.on[index].obj];
        case COMMENT: return [st.on[index].comments, st.on[index].obj];
        case TEXT: return [st.on[index].text, st.on[index].obj];
        case DOCTYPE: return [st.doc[index].doctype, st.doc[index].obj];
        case DOCUMENT_END: return [st.doc[index].end, st.doc[index].obj];
        case DOC_COMMENT: return [st.doc[index].comments, st.doc[index].obj];
        case DOC_TEXT: return [st.doc[index].text, st.doc[index].obj];
        default: {
          const f = st.endTag[index];
          st.endTag[index] = undefined;
          return [f, undefined];
        }
      }
    }

    function flush(st, controller) {
      const out = st.session.takeOutput();
      if (out === undefined) return false;
      ReflectApply(ControllerEnqueue, controller, [out]);
      return true;
    }

    // Runs the handlers of every event until the session has finished the
    // current write (`-1`).
    async function drive(st, controller, ev) {
      while (ev !== -1) {
        flush(st, controller);
        const kind = ev & 7;
        const index = (ev - kind) / 8;
        const [fn, thisArg] = handlerFor(st, kind, index);
        const t = new Token(st);
        try {
          const result = ReflectApply(fn, thisArg, [new PROXIES[kind](INTERNAL, t)]);
          if (result !== null && (typeof result === 'object' || typeof result === 'function')
              && typeof result.then === 'function') {
            await result;
          }
        } catch (e) {
          t.valid = false;
          // Lets the thread unwind; the stream errors with what the handler threw.
          try { st.session.resume(true); } catch { /* the rewriter reports its own failure */ }
          throw e;
        }
        t.valid = false;
        ev = st.session.resume(false);
      }
    }

    // The output stream's pull: rewrites input chunks until some output is
    // ready or the input has ended.
    async function pull(st, controller) {
      try {
        for (;;) {
          let ev;
          if (st.reader === undefined) {
            ev = st.session.end();
            st.ended = true;
          } else {
            const r = await ReflectApply(ReaderRead, st.reader, []);
            if (r.done) {
              st.reader = undefined;
              ev = st.session.end();
              st.ended = true;
            } else {
              ev = st.session.write(r.value);
            }
          }
          await drive(st, controller, ev);
          const produced = flush(st, controller);
          if (st.ended) {
            ReflectApply(ControllerClose, controller, []);
            return;
          }
          if (produced) return;
        }
      } catch (e) {
        st.session.abort();
        if (st.reader !== undefined) {
          const reader = st.reader;
          st.reader = undefined;
          promiseThen(ReflectApply(ReaderCancel, reader, [e]), undefined, noop);
        }
        throw e;
      }
    }

    // Statuses whose responses must not have a body.
    const nullBodyStatus = (s) => s === 101 || s === 204 || s === 205 || s === 304;

    class HTMLRewriter {
      #on = [];
      #doc = [];

      on(selector, handlers) {
        const sel = `${selector}`;
        validateSelector(sel);
        const record = handlerRecord(handlers, ['element', 'comments', 'text'], 'on');
        record.selector = sel;
        this.#on[this.#on.length] = record;
        return this;
      }

      onDocument(handlers) {
        const record = handlerRecord(handlers, ['doctype', 'comments', 'text', 'end'], 'onDocument');
        this.#doc[this.#doc.length] = record;
        return this;
      }

      transform(response) {
        let body;
        try {
          body = ReflectApply(ResponseBody, response, []);
        } catch {
          throw new $TypeError("Failed to execute 'transform' on 'HTMLRewriter': parameter 1 is not of type 'Response'.");
        }
        const status = ReflectApply(ResponseStatus, response, []);
        const statusText = ReflectApply(ResponseStatusText, response, []);
        const headers = new Headers(ReflectApply(ResponseHeaders, response, []));
        // The rewritten body has a different length.
        ReflectApply(HeadersDelete, headers, ['content-length']);
        if (nullBodyStatus(status)) return new Response(null, { status, statusText, headers });
        const contentType = ReflectApply(HeadersGet, headers, ['content-type']);
        const on = [];
        const onSpec = [];
        for (let i = 0; i < this.#on.length; i++) {
          const r = this.#on[i];
          on[i] = r;
          onSpec[i] = [r.selector, r.element !== undefined, r.comments !== undefined, r.text !== undefined];
        }
        const doc = [];
        const docSpec = [];
        for (let i = 0; i < this.#doc.length; i++) {
          const r = this.#doc[i];
          doc[i] = r;
          docSpec[i] = [r.doctype !== undefined, r.comments !== undefined, r.text !== undefined, r.end !== undefined];
        }
        // Locks the input at once, as workerd does.
        const reader = body === null ? undefined : ReflectApply(StreamGetReader, body, []);
        const st = {
          __proto__: null,
          session: startRewriter(onSpec, docSpec, contentType === null ? '' : contentType),
          reader,
          on,
          doc,
          endTag: [],
          ended: false,
        };
        const out = new ReadableStream(
          {
            __proto__: null,
            pull(controller) {
              return pull(st, controller);
            },
            cancel(reason) {
              st.session.abort();
              if (st.reader !== undefined) {
                const r = st.reader;
                st.reader = undefined;
                return ReflectApply(ReaderCancel, r, [reason]);
              }
            },
          },
          { highWaterMark: 0 },
        );
        return new Response(out, { status, statusText, headers });
      }
    }

    const interfaces = { HTMLRewriter };
    const classes = [HTMLRewriter, Element, EndTag, Text, Comment, Doctype, DocumentEnd];
    // WebIDL: operations and attributes are enumerable; prototypes carry
    // @@toStringTag.
    for (let i = 0; i < classes.length; i++) {
      const proto = classes[i].prototype;
      const keys = ObjectGetOwnPropertyNames(proto);
      for (let k = 0; k < keys.length; k++) {
        if (keys[k] === 'constructor') continue;
        const d = ObjectGetOwnPropertyDescriptor(proto, keys[k]);
        d.enumerable = true;
        ObjectDefineProperty(proto, keys[k], d);
      }
      ObjectDefineProperty(proto, SymbolToStringTag, { value: classes[i].name, configurable: true });
    }
    return interfaces;
  };
});
