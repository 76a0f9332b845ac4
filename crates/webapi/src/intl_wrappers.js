// Installs the wrappers; called with the `hooks` object that `intl.js`
// fills in when it loads and the `Intl` accessor's descriptor, whose getter
// loads it. Each wrapper is a method definition, so, like the built-in it
// replaces, it is not a constructor.
(function (hooks, descriptor) {
  'use strict';
  const load = descriptor.get;
  const apply = Reflect.apply;
  Object.setPrototypeOf(hooks, null);
  const hook = (key) => {
    if (hooks[key] === undefined) load();
    return hooks[key];
  };
  // Plain assignment keeps the built-ins' attributes (non-enumerable).
  Number.prototype.toLocaleString = {
    toLocaleString() { return apply(hook('number'), this, arguments); },
  }.toLocaleString;
  BigInt.prototype.toLocaleString = {
    toLocaleString() { return apply(hook('bigint'), this, arguments); },
  }.toLocaleString;
  const D = Date.prototype;
  D.toLocaleString = {
    toLocaleString() { return apply(hook('dateString'), this, arguments); },
  }.toLocaleString;
  D.toLocaleDateString = {
    toLocaleDateString() { return apply(hook('dateDate'), this, arguments); },
  }.toLocaleDateString;
  D.toLocaleTimeString = {
    toLocaleTimeString() { return apply(hook('dateTime'), this, arguments); },
  }.toLocaleTimeString;
  String.prototype.localeCompare = {
    localeCompare(that) { return apply(hook('compare'), this, arguments); },
  }.localeCompare;
})
