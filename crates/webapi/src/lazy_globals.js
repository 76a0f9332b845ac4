// Outpost: installs a group of globals lazily, the way streams_lazy.js does
// for the streams interfaces, for groups that are built on top of them
// (CompressionStream, HTMLRewriter). Evaluated by the group's `init` before
// any user code runs; the implementation is loaded the first time one of
// the group's globals is read. Until then each global is an accessor;
// reading one loads the group and turns every untouched one into the data
// property WebIDL defines. Assigning one first simply replaces it.
//
// `loadFactory()` returns the function the implementation evaluates to; it
// is called with `intrinsics` (captured here, at install time, so user code
// that patches built-ins later cannot change how the implementation
// behaves) followed by `args` (whatever else the group captured at install
// time, e.g. the streams accessors).
(function (names, loadFactory, args) {
  'use strict';
  const global = globalThis;
  const defineProperty = Object.defineProperty;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const apply = Reflect.apply;
  const intrinsics = {
    __proto__: null,
    ObjectDefineProperty: defineProperty,
    ObjectGetOwnPropertyDescriptor: getOwnPropertyDescriptor,
    ObjectGetOwnPropertyNames: Object.getOwnPropertyNames,
    ObjectFreeze: Object.freeze,
    ReflectApply: apply,
    PromiseResolve: Promise.resolve.bind(Promise),
    promiseThen: Function.prototype.call.bind(Promise.prototype.then),
    TypeError,
    Uint8Array,
    String,
    ArrayIsArray: Array.isArray,
    SymbolIterator: Symbol.iterator,
    SymbolToStringTag: Symbol.toStringTag,
    IteratorPrototype: Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())),
  };

  const getters = [];
  let interfaces;
  const dataProperty = (value) => ({ value, writable: true, enumerable: false, configurable: true });

  function materialize() {
    if (interfaces === undefined) {
      const built = apply(loadFactory(), undefined, [intrinsics, ...args]);
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
