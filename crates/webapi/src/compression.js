// CompressionStream and DecompressionStream for Outpost isolates:
// https://compression.spec.whatwg.org/
//
// Loaded by compression.rs on first use of either global (lazy_globals.js).
// The outer function is called from Rust with the native codec constructor;
// the function it returns is the group's factory. Each stream is a
// TransformStream (the streams' own class, reached through the accessor
// captured at install time) whose transformer feeds chunks to a native
// codec (flate2) and enqueues what comes out. The transformer has a null
// prototype and is reachable only from here, so user code cannot swap its
// methods.
(function (newCodec) {
  'use strict';
  return function ($, transformStreamDescriptor, controllerDescriptor) {
    const {
      ObjectDefineProperty,
      ObjectGetOwnPropertyDescriptor,
      ObjectGetOwnPropertyNames,
      ReflectApply,
      TypeError: $TypeError,
      SymbolToStringTag,
    } = $;
    const resolve = (d) => (d.get !== undefined ? d.get() : d.value);
    const TransformStream = resolve(transformStreamDescriptor);
    const Controller = resolve(controllerDescriptor);
    const readableOf = ObjectGetOwnPropertyDescriptor(TransformStream.prototype, 'readable').get;
    const writableOf = ObjectGetOwnPropertyDescriptor(TransformStream.prototype, 'writable').get;
    const enqueue = Controller.prototype.enqueue;

    // https://compression.spec.whatwg.org/#enumdef-compressionformat
    function convertFormat(format, iface) {
      const f = `${format}`; // ToString: a Symbol throws a TypeError
      if (f !== 'gzip' && f !== 'deflate' && f !== 'deflate-raw') {
        throw new $TypeError(
          `Failed to construct '${iface}': the format must be one of 'gzip', 'deflate' or 'deflate-raw' (got '${f}').`,
        );
      }
      return f;
    }

    function enqueueAll(controller, out) {
      if (out === undefined) return;
      for (let i = 0; i < out.length; i++) ReflectApply(enqueue, controller, [out[i]]);
    }

    // "compress and enqueue a chunk" / "decompress and enqueue a chunk" and
    // their flush steps; the codec throws the TypeErrors the spec asks for
    // (non-BufferSource chunk, corrupt, truncated or over-long input).
    function codecStream(codec) {
      return new TransformStream({
        __proto__: null,
        transform(chunk, controller) {
          enqueueAll(controller, codec.push(chunk));
        },
        flush(controller) {
          enqueueAll(controller, codec.finish());
        },
      });
    }

    class CompressionStream {
      #ts;
      constructor(format) {
        this.#ts = codecStream(newCodec(convertFormat(format, 'CompressionStream'), false));
      }
      get readable() {
        return ReflectApply(readableOf, this.#ts, []);
      }
      get writable() {
        return ReflectApply(writableOf, this.#ts, []);
      }
    }

    class DecompressionStream {
      #ts;
      constructor(format) {
        this.#ts = codecStream(newCodec(convertFormat(format, 'DecompressionStream'), true));
      }
      get readable() {
        return ReflectApply(readableOf, this.#ts, []);
      }
      get writable() {
        return ReflectApply(writableOf, this.#ts, []);
      }
    }

    const interfaces = { CompressionStream, DecompressionStream };
    // WebIDL: attributes are enumerable; prototypes carry @@toStringTag.
    const names = ObjectGetOwnPropertyNames(interfaces);
    for (let i = 0; i < names.length; i++) {
      const proto = interfaces[names[i]].prototype;
      const keys = ObjectGetOwnPropertyNames(proto);
      for (let k = 0; k < keys.length; k++) {
        if (keys[k] === 'constructor') continue;
        const d = ObjectGetOwnPropertyDescriptor(proto, keys[k]);
        d.enumerable = true;
        ObjectDefineProperty(proto, keys[k], d);
      }
      ObjectDefineProperty(proto, SymbolToStringTag, { value: names[i], configurable: true });
    }
    return interfaces;
  };
});
