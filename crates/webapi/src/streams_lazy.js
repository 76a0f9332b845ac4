// Outpost: installs the streams interfaces lazily. Evaluated in every
// context by streams.rs, before any user code runs; the implementation
// (streams.js, ~180 KB of engine memory once loaded) is loaded the first time
// any of its globals is read. Until then each global is an accessor; reading
// one loads them all and turns every untouched one into the data property
// WebIDL defines. Assigning one first simply replaces it, as assigning an
// interface does.
//
// The intrinsics streams.js relies on are captured here, at install time, so
// user code that patches globals or prototypes before the first use of
// streams cannot change how they behave. `loadFactory()` returns the function
// streams.js evaluates to; `registerInternals(state, readFully)`, called by
// streams.js once loaded, hands the host (body.rs) the internals it needs: a
// function telling whether a stream is disturbed or locked, and one reading a
// whole body stream.
(function (loadFactory, names, TextEncoder, TextDecoder, AbortController, AbortSignal, registerInternals) {
  'use strict';
  const global = globalThis;
  const defineProperty = Object.defineProperty;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const getPrototypeOf = Object.getPrototypeOf;
  const call = Function.prototype.call;

  const getterOf = (proto, name) => {
    for (let o = proto; o !== null; o = getPrototypeOf(o)) {
      const d = getOwnPropertyDescriptor(o, name);
      if (d !== undefined) return d.get;
    }
    return undefined;
  };
  const ArrayBufferPrototype = ArrayBuffer.prototype;
  // The typed array constructors by [[TypedArrayName]], for the views a
  // BYOB read gives back (Float16Array only where the engine has it).
  const typedArrays = { __proto__: null };
  const typedArrayNames = [
    'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
    'Uint32Array', 'Float16Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
  ];
  for (let i = 0; i < typedArrayNames.length; i++) {
    const ctor = global[typedArrayNames[i]];
    if (typeof ctor === 'function') typedArrays[typedArrayNames[i]] = ctor;
  }
  const intrinsics = {
    __proto__: null,
    ObjectDefineProperty: defineProperty,
    ObjectGetOwnPropertyDescriptor: getOwnPropertyDescriptor,
    ObjectGetOwnPropertyNames: Object.getOwnPropertyNames,
    ObjectSetPrototypeOf: Object.setPrototypeOf,
    ObjectFreeze: Object.freeze,
    callFunction: call.bind(call),
    promiseThen: call.bind(Promise.prototype.then),
    PromiseResolve: Promise.resolve.bind(Promise),
    PromiseReject: Promise.reject.bind(Promise),
    PromiseWithResolvers: Promise.withResolvers.bind(Promise),
    MathFloor: Math.floor,
    NumberIsInteger: Number.isInteger,
    Number,
    TypeError,
    RangeError,
    Uint8Array,
    ArrayBuffer,
    DataView,
    TypedArrays: typedArrays,
    TypedArraySet: getPrototypeOf(Uint8Array.prototype).set,
    RegisterInternals: registerInternals,
    ArrayBufferIsView: ArrayBuffer.isView,
    ArrayBufferTransfer: ArrayBufferPrototype.transferToFixedLength || ArrayBufferPrototype.transfer,
    ArrayBufferSlice: ArrayBufferPrototype.slice,
    ArrayBufferByteLength: getterOf(ArrayBufferPrototype, 'byteLength'),
    ArrayBufferDetached: getterOf(ArrayBufferPrototype, 'detached'),
    TypedArrayToStringTag: getterOf(getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag),
    SymbolAsyncIterator: Symbol.asyncIterator,
    SymbolIterator: Symbol.iterator,
    SymbolToStringTag: Symbol.toStringTag,
    AsyncIteratorPrototype: getPrototypeOf(getPrototypeOf(async function* () {}).prototype),
    TextEncoder,
    TextEncoderEncode: TextEncoder.prototype.encode,
    TextDecoder,
    TextDecoderDecode: TextDecoder.prototype.decode,
    TextDecoderEncoding: getterOf(TextDecoder.prototype, 'encoding'),
    TextDecoderFatal: getterOf(TextDecoder.prototype, 'fatal'),
    TextDecoderIgnoreBOM: getterOf(TextDecoder.prototype, 'ignoreBOM'),
    AbortController,
    AbortControllerAbort: AbortController.prototype.abort,
    AbortControllerSignal: getterOf(AbortController.prototype, 'signal'),
    AbortSignalAborted: getterOf(AbortSignal.prototype, 'aborted'),
    AbortSignalReason: getterOf(AbortSignal.prototype, 'reason'),
    AbortSignalAddEventListener: AbortSignal.prototype.addEventListener,
    AbortSignalRemoveEventListener: AbortSignal.prototype.removeEventListener,
  };

  const getters = [];
  let interfaces;
  const dataProperty = (value) => ({ value, writable: true, enumerable: false, configurable: true });

  function materialize() {
    if (interfaces === undefined) {
      const built = loadFactory()(intrinsics);
      interfaces = built;
      for (let i = 0; i < names.length; i++) {
        const d = getOwnPropertyDescriptor(global, names[i]);
        if (d !== undefined && d.get === getters[i]) {
          defineProperty(global, names[i], dataProperty(built[names[i]]));
        }
      }
    }
    return interfaces;
  }

  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const get = getOwnPropertyDescriptor(
      {
        get [name]() {
          return materialize()[name];
        },
      },
      name,
    ).get;
    getters[i] = get;
    const set = function (value) {
      const target = (typeof this === 'object' && this !== null) || typeof this === 'function' ? this : global;
      defineProperty(target, name, dataProperty(value));
    };
    defineProperty(global, name, { get, set, enumerable: false, configurable: true });
  }
});
