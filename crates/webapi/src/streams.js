// WHATWG Streams for Outpost isolates: https://streams.spec.whatwg.org/
//
// Evaluated once per context by streams.rs. The script is one function
// expression: `init` calls it with the intrinsics it needs and defines the
// classes it returns on the global object, so nothing else reaches
// `globalThis`. Internal state lives in records reachable only through
// private class fields (`#x`), never through properties user code can see.
//
// The abstract operations keep the spec's names and step order. Where the
// spec has a stream and its controller (one-to-one) the record holds both
// sets of slots, and the per-chunk path avoids closures: read requests and
// write requests are objects with methods, reactions are made once per
// stream. Promises the spec keeps in slots (`reader.closed`, `writer.ready`,
// ...) are created only when something looks at them (LazyPromise).
(function ($) {
  'use strict';

  // Intrinsics, captured by streams_lazy.js when the isolate was set up
  // (before any user code ran), so user code patching globals or prototypes
  // cannot change how the algorithms behave.
  const {
    ObjectDefineProperty,
    ObjectGetOwnPropertyDescriptor,
    ObjectGetOwnPropertyNames,
    ObjectSetPrototypeOf,
    ObjectFreeze,
    callFunction, // callFunction(f, thisArg, ...args), without looking up f.call
    promiseThen, // promiseThen(p, onFulfilled, onRejected): PerformPromiseThen
    PromiseResolve,
    PromiseReject,
    PromiseWithResolvers,
    MathFloor,
    NumberIsInteger,
    Number: $Number,
    TypeError: $TypeError,
    RangeError: $RangeError,
    Uint8Array: $Uint8Array,
    ArrayBuffer: $ArrayBuffer,
    DataView: $DataView,
    TypedArrays,
    TypedArraySet,
    RegisterInternals,
    ArrayBufferIsView,
    ArrayBufferTransfer,
    ArrayBufferSlice,
    ArrayBufferByteLength,
    ArrayBufferDetached,
    TypedArrayToStringTag,
    SymbolAsyncIterator,
    SymbolIterator,
    SymbolToStringTag,
    AsyncIteratorPrototype,
    TextEncoder,
    TextEncoderEncode,
    TextDecoder,
    TextDecoderDecode,
    TextDecoderEncoding,
    TextDecoderFatal,
    TextDecoderIgnoreBOM,
    AbortController,
    AbortControllerAbort,
    AbortControllerSignal,
    AbortSignalAborted,
    AbortSignalReason,
    AbortSignalAddEventListener,
    AbortSignalRemoveEventListener,
  } = $;

  const noop = () => {};
  const returnUndefined = () => undefined;
  // Only ever used internally (never handed to user code).
  const RESOLVED = PromiseResolve(undefined);
  // Passed to constructors by the implementation; user code cannot get it.
  const INTERNAL = ObjectFreeze({ __proto__: null });
  const CLOSE_SENTINEL = ObjectFreeze({ __proto__: null });
  const IDENTITY = ObjectFreeze({ __proto__: null });
  const STREAM_TRUE = ObjectFreeze({ stream: true });

  const isObject = (v) => (typeof v === 'object' && v !== null) || typeof v === 'function';
  const setPromiseIsHandled = (p) => {
    promiseThen(p, undefined, noop);
  };
  const illegalInvocation = () => new $TypeError('Illegal invocation');
  const isAbortSignal = (v) => {
    if (!isObject(v)) return false;
    try {
      callFunction(AbortSignalAborted, v);
      return true;
    } catch {
      return false;
    }
  };
  const isArrayBuffer = (v) => {
    if (!isObject(v)) return false;
    try {
      callFunction(ArrayBufferByteLength, v);
      return true;
    } catch {
      return false;
    }
  };
  const isDetached = (buffer) =>
    ArrayBufferDetached !== undefined ? callFunction(ArrayBufferDetached, buffer) : false;
  const isUint8Array = (v) => callFunction(TypedArrayToStringTag, v) === 'Uint8Array';

  // ---------------------------------------------------------------------
  // A promise kept in a slot, materialised on first look.
  // https://webidl.spec.whatwg.org/#a-new-promise
  // ---------------------------------------------------------------------

  class LazyPromise {
    state = 0; // 0 pending, 1 fulfilled, 2 rejected
    reason = undefined;
    promise = undefined;
    resolveFn = undefined;
    rejectFn = undefined;
    handled;
    constructor(handled) {
      // Whether rejections are marked handled ([[PromiseIsHandled]]), which
      // the spec does for every rejection of the promises kept this way.
      this.handled = handled;
    }
  }

  function lazyGet(lp) {
    let p = lp.promise;
    if (p === undefined) {
      if (lp.state === 0) {
        const r = PromiseWithResolvers();
        p = r.promise;
        lp.resolveFn = r.resolve;
        lp.rejectFn = r.reject;
      } else if (lp.state === 1) {
        p = PromiseResolve(undefined);
      } else {
        p = PromiseReject(lp.reason);
      }
      if (lp.handled) setPromiseIsHandled(p);
      lp.promise = p;
    }
    return p;
  }

  function lazyResolve(lp) {
    if (lp.state !== 0) return;
    lp.state = 1;
    const f = lp.resolveFn;
    if (f !== undefined) {
      lp.resolveFn = lp.rejectFn = undefined;
      f(undefined);
    }
  }

  function lazyReject(lp, e) {
    if (lp.state !== 0) return;
    lp.state = 2;
    lp.reason = e;
    const f = lp.rejectFn;
    if (f !== undefined) {
      lp.resolveFn = lp.rejectFn = undefined;
      f(e);
    }
  }

  // "Set p to a promise rejected with e."
  function lazyReplaceRejected(lp, e) {
    lp.state = 2;
    lp.reason = e;
    lp.promise = undefined;
    lp.resolveFn = lp.rejectFn = undefined;
  }

  function resolvedLazyPromise(handled) {
    const lp = new LazyPromise(handled);
    lp.state = 1;
    return lp;
  }

  // https://webidl.spec.whatwg.org/#wait-for-all (rejects on the first failure)
  function waitForAllPromise(promises) {
    const n = promises.length;
    if (n === 0) return PromiseResolve(undefined);
    const r = PromiseWithResolvers();
    let left = n;
    const onFulfilled = () => {
      if (--left === 0) r.resolve(undefined);
    };
    for (let i = 0; i < n; i++) promiseThen(promises[i], onFulfilled, r.reject);
    return r.promise;
  }

  // ---------------------------------------------------------------------
  // Queue-with-sizes (https://streams.spec.whatwg.org/#queue-with-sizes),
  // kept as a flat [value, size, value, size, ...] array with a head index.
  // ---------------------------------------------------------------------

  const queueIsEmpty = (c) => c.queue.length === c.qHead;

  function EnqueueValueWithSize(c, value, size) {
    if (typeof size !== 'number' || size !== size || size < 0 || size === Infinity) {
      throw new $RangeError('The chunk size must be a finite, non-negative number.');
    }
    const q = c.queue;
    q[q.length] = value;
    q[q.length] = size;
    c.queueTotalSize += size;
  }

  function DequeueValue(c) {
    const q = c.queue;
    const h = c.qHead;
    const value = q[h];
    c.queueTotalSize -= q[h + 1];
    if (c.queueTotalSize < 0) c.queueTotalSize = 0;
    if (h + 2 === q.length) {
      q.length = 0;
      c.qHead = 0;
    } else {
      q[h] = undefined;
      c.qHead = h + 2;
      if (h >= 1024 && h * 2 >= q.length) {
        q.splice(0, h + 2);
        c.qHead = 0;
      }
    }
    return value;
  }

  function ResetQueue(c) {
    c.queue = [];
    c.qHead = 0;
    c.queueTotalSize = 0;
  }

  // ---------------------------------------------------------------------
  // WebIDL conversions for the dictionaries the constructors take.
  // ---------------------------------------------------------------------

  function dictionary(value, what) {
    if (value === undefined || value === null) return undefined;
    if (!isObject(value)) throw new $TypeError(`${what} is not an object.`);
    return value;
  }

  function callbackMember(dict, key, what) {
    const v = dict[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'function') throw new $TypeError(`${what}.${key} is not a function.`);
    return v;
  }

  // QueuingStrategy: { highWaterMark (unrestricted double), size (callback) }.
  class Strategy {
    hwm = undefined;
    size = undefined;
  }

  function convertQueuingStrategy(value, what) {
    const s = new Strategy();
    const dict = dictionary(value, what);
    if (dict !== undefined) {
      const hwm = dict.highWaterMark;
      if (hwm !== undefined) s.hwm = +hwm;
      s.size = callbackMember(dict, 'size', what);
    }
    return s;
  }

  // https://streams.spec.whatwg.org/#validate-and-normalize-high-water-mark
  function ExtractHighWaterMark(hwm, defaultHWM) {
    if (hwm === undefined) return defaultHWM;
    if (hwm !== hwm || hwm < 0) throw new $RangeError('Invalid highWaterMark');
    return hwm;
  }

  function enforceRangeU64(v, what) {
    const n = +v;
    if (n !== n || n === Infinity || n === -Infinity) {
      throw new $TypeError(`${what} is not a finite number.`);
    }
    const t = n < 0 ? -MathFloor(-n) : MathFloor(n);
    if (t < 0 || t > 9007199254740991) {
      throw new $TypeError(`${what} is outside the 'unsigned long long' value range.`);
    }
    return t;
  }

  class PipeOptions {
    preventAbort = false;
    preventCancel = false;
    preventClose = false;
    signal = undefined;
  }

  // StreamPipeOptions, members in lexicographic order.
  function convertPipeOptions(value) {
    const o = new PipeOptions();
    const dict = dictionary(value, 'options');
    if (dict !== undefined) {
      o.preventAbort = !!dict.preventAbort;
      o.preventCancel = !!dict.preventCancel;
      o.preventClose = !!dict.preventClose;
      const signal = dict.signal;
      if (signal !== undefined) {
        if (!isAbortSignal(signal)) {
          throw new $TypeError("Failed to read the 'signal' property: it is not an AbortSignal.");
        }
        o.signal = signal;
      }
    }
    return o;
  }

  // ---------------------------------------------------------------------
  // Readable streams
  // https://streams.spec.whatwg.org/#rs-abstract-ops
  // ---------------------------------------------------------------------

  // A readable stream's slots and its controller's slots in one record.
  class RS {
    state = 'readable';
    reader = undefined; // RSReader while locked
    storedError = undefined;
    disturbed = false;
    obj = undefined; // the ReadableStream
    // [[controller]]
    controllerObj = undefined; // the controller object given to the source
    isBytes = false;
    queue = [];
    qHead = 0;
    queueTotalSize = 0;
    started = false;
    closeRequested = false;
    pullAgain = false;
    pulling = false;
    hwm = 1;
    sizeFn = undefined; // strategy size(); undefined means 1
    source = undefined; // `this` for the algorithms below
    pullFn = undefined;
    cancelFn = undefined;
    onPulled = undefined;
    onPullFailed = undefined;
    // Byte streams only (ReadableByteStreamController's own slots); their
    // [[queue]] is `queue` above, holding ByteQueueEntry records.
    pendingPullIntos = [];
    byobRequest = null; // a BYOBRequestRecord, or null
    autoAllocateChunkSize = undefined;
  }

  class RSReader {
    stream = undefined;
    readRequests = [];
    closed = new LazyPromise(true);
    byob = false;
  }

  // https://streams.spec.whatwg.org/#byob-reader-class
  class RSBYOBReader {
    stream = undefined;
    readIntoRequests = [];
    closed = new LazyPromise(true);
    byob = true;
  }

  // The read request of reader.read(): https://streams.spec.whatwg.org/#read-request
  class DefaultReadRequest {
    promise;
    resolve;
    reject;
    constructor() {
      const r = PromiseWithResolvers();
      this.promise = r.promise;
      this.resolve = r.resolve;
      this.reject = r.reject;
    }
    chunkSteps(chunk) {
      this.resolve({ value: chunk, done: false });
    }
    closeSteps() {
      this.resolve({ value: undefined, done: true });
    }
    errorSteps(e) {
      this.reject(e);
    }
  }

  // The read-into request of byobReader.read(): https://streams.spec.whatwg.org/#read-into-request
  class ReadIntoRequest {
    promise;
    resolve;
    reject;
    constructor() {
      const r = PromiseWithResolvers();
      this.promise = r.promise;
      this.resolve = r.resolve;
      this.reject = r.reject;
    }
    chunkSteps(chunk) {
      this.resolve({ value: chunk, done: false });
    }
    // Given the (empty or partly filled) view when the stream closed, so
    // the caller gets its memory back; undefined when it was cancelled.
    closeSteps(chunk) {
      this.resolve({ value: chunk, done: true });
    }
    errorSteps(e) {
      this.reject(e);
    }
  }

  function CreateReadableStream(source, startValue, pullFn, cancelFn, hwm, isBytes) {
    const rs = new RS();
    new ReadableStream(INTERNAL, rs);
    rs.isBytes = isBytes;
    SetUpReadableStreamDefaultController(
      rs, undefined, source, undefined, pullFn, cancelFn, hwm, undefined, startValue,
    );
    return rs;
  }

  const IsReadableStreamLocked = (rs) => rs.reader !== undefined;

  function AcquireReadableStreamDefaultReader(rs) {
    const reader = new RSReader();
    SetUpReadableStreamDefaultReader(reader, rs);
    return reader;
  }

  function ReadableStreamCancel(rs, reason) {
    rs.disturbed = true;
    if (rs.state === 'closed') return PromiseResolve(undefined);
    if (rs.state === 'errored') return PromiseReject(rs.storedError);
    ReadableStreamClose(rs);
    const reader = rs.reader;
    if (reader !== undefined && reader.byob) {
      const requests = reader.readIntoRequests;
      reader.readIntoRequests = [];
      for (let i = 0; i < requests.length; i++) requests[i].closeSteps(undefined);
    }
    const sourceCancelPromise = rs.isBytes
      ? ReadableByteStreamControllerCancelSteps(rs, reason)
      : ReadableStreamDefaultControllerCancelSteps(rs, reason);
    return promiseThen(sourceCancelPromise, returnUndefined);
  }

  function ReadableStreamClose(rs) {
    rs.state = 'closed';
    const reader = rs.reader;
    if (reader === undefined) return;
    lazyResolve(reader.closed);
    // A BYOB reader's requests wait for the source's respond(0).
    if (reader.byob) return;
    const requests = reader.readRequests;
    if (requests.length !== 0) {
      reader.readRequests = [];
      for (let i = 0; i < requests.length; i++) requests[i].closeSteps();
    }
  }

  function ReadableStreamError(rs, e) {
    rs.state = 'errored';
    rs.storedError = e;
    const reader = rs.reader;
    if (reader === undefined) return;
    lazyReject(reader.closed, e);
    if (reader.byob) ReadableStreamBYOBReaderErrorReadIntoRequests(reader, e);
    else ReadableStreamDefaultReaderErrorReadRequests(reader, e);
  }

  function ReadableStreamFulfillReadRequest(rs, chunk, done) {
    const request = rs.reader.readRequests.shift();
    if (done) request.closeSteps();
    else request.chunkSteps(chunk);
  }

  function ReadableStreamReaderGenericInitialize(reader, rs) {
    reader.stream = rs;
    rs.reader = reader;
    if (rs.state === 'closed') lazyResolve(reader.closed);
    else if (rs.state === 'errored') lazyReject(reader.closed, rs.storedError);
  }

  function ReadableStreamReaderGenericRelease(reader) {
    const rs = reader.stream;
    const e = new $TypeError(
      "Reader was released and can no longer be used to monitor the stream's closedness",
    );
    if (rs.state === 'readable') lazyReject(reader.closed, e);
    else lazyReplaceRejected(reader.closed, e);
    if (rs.isBytes) ReadableByteStreamControllerReleaseSteps(rs);
    rs.reader = undefined;
    reader.stream = undefined;
  }

  function ReadableStreamDefaultReaderRead(reader, request) {
    const rs = reader.stream;
    rs.disturbed = true;
    if (rs.state === 'closed') request.closeSteps();
    else if (rs.state === 'errored') request.errorSteps(rs.storedError);
    else if (rs.isBytes) ReadableByteStreamControllerPullSteps(rs, request);
    else ReadableStreamDefaultControllerPullSteps(rs, request);
  }

  function ReadableStreamDefaultReaderRelease(reader) {
    ReadableStreamReaderGenericRelease(reader);
    ReadableStreamDefaultReaderErrorReadRequests(reader, new $TypeError('Reader was released'));
  }

  function ReadableStreamDefaultReaderErrorReadRequests(reader, e) {
    const requests = reader.readRequests;
    if (requests.length === 0) return;
    reader.readRequests = [];
    for (let i = 0; i < requests.length; i++) requests[i].errorSteps(e);
  }

  function SetUpReadableStreamDefaultReader(reader, rs) {
    if (IsReadableStreamLocked(rs)) {
      throw new $TypeError('This stream has already been locked for exclusive reading by another reader');
    }
    ReadableStreamReaderGenericInitialize(reader, rs);
  }

  // [[PullSteps]] of the default controller.
  function ReadableStreamDefaultControllerPullSteps(rs, request) {
    if (!queueIsEmpty(rs)) {
      const chunk = DequeueValue(rs);
      if (rs.closeRequested && queueIsEmpty(rs)) {
        ReadableStreamDefaultControllerClearAlgorithms(rs);
        ReadableStreamClose(rs);
      } else {
        ReadableStreamDefaultControllerCallPullIfNeeded(rs);
      }
      request.chunkSteps(chunk);
    } else {
      rs.reader.readRequests.push(request);
      ReadableStreamDefaultControllerCallPullIfNeeded(rs);
    }
  }

  // [[CancelSteps]]
  function ReadableStreamDefaultControllerCancelSteps(rs, reason) {
    ResetQueue(rs);
    let result;
    const fn = rs.cancelFn;
    if (fn === undefined) {
      result = PromiseResolve(undefined);
    } else {
      try {
        result = PromiseResolve(callFunction(fn, rs.source, reason));
      } catch (e) {
        result = PromiseReject(e);
      }
    }
    ReadableStreamDefaultControllerClearAlgorithms(rs);
    return result;
  }

  // Also ReadableByteStreamControllerCallPullIfNeeded, whose steps are the
  // same but for ShouldCallPull and the error it reports a failure with.
  function ReadableStreamDefaultControllerCallPullIfNeeded(rs) {
    const shouldPull = rs.isBytes
      ? ReadableByteStreamControllerShouldCallPull(rs)
      : ReadableStreamDefaultControllerShouldCallPull(rs);
    if (!shouldPull) return;
    if (rs.pulling) {
      rs.pullAgain = true;
      return;
    }
    rs.pulling = true;
    let result;
    const fn = rs.pullFn;
    if (fn !== undefined) {
      try {
        result = PromiseResolve(callFunction(fn, rs.source, rs.controllerObj));
      } catch (e) {
        result = PromiseReject(e);
      }
    } else {
      result = RESOLVED;
    }
    if (rs.onPulled === undefined) {
      rs.onPulled = () => {
        rs.pulling = false;
        if (rs.pullAgain) {
          rs.pullAgain = false;
          ReadableStreamDefaultControllerCallPullIfNeeded(rs);
        }
      };
      rs.onPullFailed = (e) => ReadableStreamControllerError(rs, e);
    }
    promiseThen(result, rs.onPulled, rs.onPullFailed);
  }

  function ReadableStreamDefaultControllerShouldCallPull(rs) {
    if (rs.closeRequested || rs.state !== 'readable') return false;
    if (!rs.started) return false;
    const reader = rs.reader;
    if (reader !== undefined && reader.readRequests.length > 0) return true;
    return rs.hwm - rs.queueTotalSize > 0;
  }

  function ReadableStreamDefaultControllerClearAlgorithms(rs) {
    rs.pullFn = undefined;
    rs.cancelFn = undefined;
    rs.sizeFn = undefined;
    rs.source = undefined;
  }

  function ReadableStreamDefaultControllerClose(rs) {
    if (!ReadableStreamDefaultControllerCanCloseOrEnqueue(rs)) return;
    rs.closeRequested = true;
    if (queueIsEmpty(rs)) {
      ReadableStreamDefaultControllerClearAlgorithms(rs);
      ReadableStreamClose(rs);
    }
  }

  function ReadableStreamDefaultControllerEnqueue(rs, chunk) {
    if (rs.closeRequested || rs.state !== 'readable') return;
    const reader = rs.reader;
    if (reader !== undefined && reader.readRequests.length > 0) {
      ReadableStreamFulfillReadRequest(rs, chunk, false);
    } else {
      let size = 1;
      const fn = rs.sizeFn;
      if (fn !== undefined) {
        try {
          size = +callFunction(fn, undefined, chunk);
        } catch (e) {
          ReadableStreamDefaultControllerError(rs, e);
          throw e;
        }
      }
      try {
        EnqueueValueWithSize(rs, chunk, size);
      } catch (e) {
        ReadableStreamDefaultControllerError(rs, e);
        throw e;
      }
    }
    ReadableStreamDefaultControllerCallPullIfNeeded(rs);
  }

  function ReadableStreamDefaultControllerError(rs, e) {
    if (rs.state !== 'readable') return;
    ResetQueue(rs);
    ReadableStreamDefaultControllerClearAlgorithms(rs);
    ReadableStreamError(rs, e);
  }

  // The error steps of whichever controller `rs` has, for the code both
  // kinds share (pull and start failures, tee).
  function ReadableStreamControllerError(rs, e) {
    if (rs.isBytes) ReadableByteStreamControllerError(rs, e);
    else ReadableStreamDefaultControllerError(rs, e);
  }

  function ReadableStreamDefaultControllerGetDesiredSize(rs) {
    const state = rs.state;
    if (state === 'errored') return null;
    if (state === 'closed') return 0;
    return rs.hwm - rs.queueTotalSize;
  }

  const ReadableStreamDefaultControllerHasBackpressure = (rs) =>
    !ReadableStreamDefaultControllerShouldCallPull(rs);

  const ReadableStreamDefaultControllerCanCloseOrEnqueue = (rs) =>
    !rs.closeRequested && rs.state === 'readable';

  // Also SetUpReadableByteStreamController (`rs.isBytes` set, no sizeFn),
  // whose steps are the same apart from the byte controller's own slots.
  function SetUpReadableStreamDefaultController(
    rs, controllerObj, source, startFn, pullFn, cancelFn, hwm, sizeFn, startValue,
  ) {
    rs.controllerObj = controllerObj;
    rs.source = source;
    rs.pullFn = pullFn;
    rs.cancelFn = cancelFn;
    rs.hwm = hwm;
    rs.sizeFn = sizeFn;
    const startResult =
      startFn === undefined ? startValue : callFunction(startFn, source, controllerObj);
    promiseThen(
      PromiseResolve(startResult),
      () => {
        rs.started = true;
        ReadableStreamDefaultControllerCallPullIfNeeded(rs);
      },
      (r) => ReadableStreamControllerError(rs, r),
    );
  }

  // ---------------------------------------------------------------------
  // Byte stream controllers and BYOB readers
  // https://streams.spec.whatwg.org/#rbs-controller-abstract-ops
  // https://streams.spec.whatwg.org/#readable-stream-byob-reader-read
  // ---------------------------------------------------------------------

  // https://streams.spec.whatwg.org/#readable-byte-stream-queue-entry
  class ByteQueueEntry {
    buffer;
    byteOffset;
    byteLength;
    constructor(buffer, byteOffset, byteLength) {
      this.buffer = buffer;
      this.byteOffset = byteOffset;
      this.byteLength = byteLength;
    }
  }

  // https://streams.spec.whatwg.org/#pull-into-descriptor
  class PullIntoDescriptor {
    buffer;
    bufferByteLength;
    byteOffset;
    byteLength;
    bytesFilled = 0;
    minimumFill;
    elementSize;
    viewConstructor;
    readerType; // 'default', 'byob' or 'none'
    constructor(buffer, byteOffset, byteLength, minimumFill, elementSize, viewConstructor, readerType) {
      this.buffer = buffer;
      this.bufferByteLength = callFunction(ArrayBufferByteLength, buffer);
      this.byteOffset = byteOffset;
      this.byteLength = byteLength;
      this.minimumFill = minimumFill;
      this.elementSize = elementSize;
      this.viewConstructor = viewConstructor;
      this.readerType = readerType;
    }
  }

  // A ReadableStreamBYOBRequest's slots; `controller` is the stream record.
  class BYOBRequestRecord {
    controller;
    view;
    obj = undefined;
    constructor(controller, view) {
      this.controller = controller;
      this.view = view;
    }
  }

  // https://streams.spec.whatwg.org/#transfer-array-buffer
  const TransferArrayBuffer = (buffer) => callFunction(ArrayBufferTransfer, buffer);

  function CopyDataBlockBytes(to, toIndex, from, fromIndex, count) {
    callFunction(TypedArraySet, new $Uint8Array(to, toIndex, count), new $Uint8Array(from, fromIndex, count));
  }

  function AcquireReadableStreamBYOBReader(rs) {
    const reader = new RSBYOBReader();
    SetUpReadableStreamBYOBReader(reader, rs);
    return reader;
  }

  function SetUpReadableStreamBYOBReader(reader, rs) {
    if (IsReadableStreamLocked(rs)) {
      throw new $TypeError('This stream has already been locked for exclusive reading by another reader');
    }
    if (!rs.isBytes) {
      throw new $TypeError('Cannot use a BYOB reader with a stream that is not a byte stream (type: "bytes")');
    }
    ReadableStreamReaderGenericInitialize(reader, rs);
  }

  function ReadableStreamBYOBReaderRead(reader, view, min, readIntoRequest) {
    const rs = reader.stream;
    rs.disturbed = true;
    if (rs.state === 'errored') readIntoRequest.errorSteps(rs.storedError);
    else ReadableByteStreamControllerPullInto(rs, view, min, readIntoRequest);
  }

  function ReadableStreamBYOBReaderRelease(reader) {
    ReadableStreamReaderGenericRelease(reader);
    ReadableStreamBYOBReaderErrorReadIntoRequests(reader, new $TypeError('Reader was released'));
  }

  function ReadableStreamBYOBReaderErrorReadIntoRequests(reader, e) {
    const requests = reader.readIntoRequests;
    if (requests.length === 0) return;
    reader.readIntoRequests = [];
    for (let i = 0; i < requests.length; i++) requests[i].errorSteps(e);
  }

  function ReadableStreamFulfillReadIntoRequest(rs, chunk, done) {
    const request = rs.reader.readIntoRequests.shift();
    if (done) request.closeSteps(chunk);
    else request.chunkSteps(chunk);
  }

  // [[CancelSteps]]
  function ReadableByteStreamControllerCancelSteps(rs, reason) {
    ReadableByteStreamControllerClearPendingPullIntos(rs);
    // ResetQueue, the cancel algorithm, ClearAlgorithms: as for default controllers.
    return ReadableStreamDefaultControllerCancelSteps(rs, reason);
  }

  // [[PullSteps]], for a default reader.
  function ReadableByteStreamControllerPullSteps(rs, readRequest) {
    if (rs.queueTotalSize > 0) {
      ReadableByteStreamControllerFillReadRequestFromQueue(rs, readRequest);
      return;
    }
    const size = rs.autoAllocateChunkSize;
    if (size !== undefined) {
      let buffer;
      try {
        buffer = new $ArrayBuffer(size);
      } catch (e) {
        readRequest.errorSteps(e);
        return;
      }
      const pending = rs.pendingPullIntos;
      pending[pending.length] = new PullIntoDescriptor(buffer, 0, size, 1, 1, $Uint8Array, 'default');
    }
    const requests = rs.reader.readRequests;
    requests[requests.length] = readRequest;
    ReadableStreamDefaultControllerCallPullIfNeeded(rs);
  }

  // [[ReleaseSteps]]: a read in progress keeps its descriptor, so the
  // source can still respond to it; what it gets goes to the queue.
  function ReadableByteStreamControllerReleaseSteps(rs) {
    const pending = rs.pendingPullIntos;
    if (pending.length !== 0) {
      const first = pending[0];
      first.readerType = 'none';
      rs.pendingPullIntos = [first];
    }
  }

  function ReadableByteStreamControllerClearPendingPullIntos(rs) {
    ReadableByteStreamControllerInvalidateBYOBRequest(rs);
    rs.pendingPullIntos = [];
  }

  function ReadableByteStreamControllerClose(rs) {
    if (rs.closeRequested || rs.state !== 'readable') return;
    if (rs.queueTotalSize > 0) {
      rs.closeRequested = true;
      return;
    }
    const pending = rs.pendingPullIntos;
    if (pending.length !== 0) {
      const first = pending[0];
      if (first.bytesFilled % first.elementSize !== 0) {
        const e = new $TypeError('Insufficient bytes to fill elements in the given buffer');
        ReadableByteStreamControllerError(rs, e);
        throw e;
      }
    }
    ReadableStreamDefaultControllerClearAlgorithms(rs);
    ReadableStreamClose(rs);
  }

  function ReadableByteStreamControllerCommitPullIntoDescriptor(rs, pullIntoDescriptor) {
    const done = rs.state === 'closed';
    const filledView = ReadableByteStreamControllerConvertPullIntoDescriptor(pullIntoDescriptor);
    if (pullIntoDescriptor.readerType === 'default') {
      ReadableStreamFulfillReadRequest(rs, filledView, done);
    } else {
      ReadableStreamFulfillReadIntoRequest(rs, filledView, done);
    }
  }

  function ReadableByteStreamControllerConvertPullIntoDescriptor(d) {
    const buffer = TransferArrayBuffer(d.buffer);
    const Ctor = d.viewConstructor;
    return new Ctor(buffer, d.byteOffset, d.bytesFilled / d.elementSize);
  }

  function ReadableByteStreamControllerEnqueue(rs, chunk) {
    if (rs.closeRequested || rs.state !== 'readable') return;
    const buffer = chunk.buffer;
    const byteOffset = chunk.byteOffset;
    const byteLength = chunk.byteLength;
    if (isDetached(buffer)) {
      throw new $TypeError("chunk's buffer is detached and so cannot be enqueued");
    }
    const transferredBuffer = TransferArrayBuffer(buffer);
    const pending = rs.pendingPullIntos;
    if (pending.length !== 0) {
      const first = pending[0];
      if (isDetached(first.buffer)) {
        throw new $TypeError("The BYOB request's buffer has been detached and so cannot be filled with an enqueued chunk");
      }
      ReadableByteStreamControllerInvalidateBYOBRequest(rs);
      first.buffer = TransferArrayBuffer(first.buffer);
      if (first.readerType === 'none') ReadableByteStreamControllerEnqueueDetachedPullIntoToQueue(rs, first);
    }
    const reader = rs.reader;
    if (reader !== undefined && !reader.byob) {
      ReadableByteStreamControllerProcessReadRequestsUsingQueue(rs);
      if (reader.readRequests.length === 0) {
        ReadableByteStreamControllerEnqueueChunkToQueue(rs, transferredBuffer, byteOffset, byteLength);
      } else {
        if (rs.pendingPullIntos.length !== 0) ReadableByteStreamControllerShiftPendingPullInto(rs);
        const transferredView = new $Uint8Array(transferredBuffer, byteOffset, byteLength);
        ReadableStreamFulfillReadRequest(rs, transferredView, false);
      }
    } else if (reader !== undefined) {
      ReadableByteStreamControllerEnqueueChunkToQueue(rs, transferredBuffer, byteOffset, byteLength);
      const filled = ReadableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(rs);
      for (let i = 0; i < filled.length; i++) ReadableByteStreamControllerCommitPullIntoDescriptor(rs, filled[i]);
    } else {
      ReadableByteStreamControllerEnqueueChunkToQueue(rs, transferredBuffer, byteOffset, byteLength);
    }
    ReadableStreamDefaultControllerCallPullIfNeeded(rs);
  }

  function ReadableByteStreamControllerEnqueueChunkToQueue(rs, buffer, byteOffset, byteLength) {
    const q = rs.queue;
    q[q.length] = new ByteQueueEntry(buffer, byteOffset, byteLength);
    rs.queueTotalSize += byteLength;
  }

  function ReadableByteStreamControllerEnqueueClonedChunkToQueue(rs, buffer, byteOffset, byteLength) {
    let clone;
    try {
      clone = callFunction(ArrayBufferSlice, buffer, byteOffset, byteOffset + byteLength);
    } catch (e) {
      ReadableByteStreamControllerError(rs, e);
      throw e;
    }
    ReadableByteStreamControllerEnqueueChunkToQueue(rs, clone, 0, byteLength);
  }

  function ReadableByteStreamControllerEnqueueDetachedPullIntoToQueue(rs, d) {
    if (d.bytesFilled > 0) {
      ReadableByteStreamControllerEnqueueClonedChunkToQueue(rs, d.buffer, d.byteOffset, d.bytesFilled);
    }
    ReadableByteStreamControllerShiftPendingPullInto(rs);
  }

  function ReadableByteStreamControllerError(rs, e) {
    if (rs.state !== 'readable') return;
    ReadableByteStreamControllerClearPendingPullIntos(rs);
    ResetQueue(rs);
    ReadableStreamDefaultControllerClearAlgorithms(rs);
    ReadableStreamError(rs, e);
  }

  function ReadableByteStreamControllerFillHeadPullIntoDescriptor(rs, size, d) {
    d.bytesFilled += size;
  }

  function ReadableByteStreamControllerFillPullIntoDescriptorFromQueue(rs, d) {
    const room = d.byteLength - d.bytesFilled;
    const maxBytesToCopy = rs.queueTotalSize < room ? rs.queueTotalSize : room;
    const maxBytesFilled = d.bytesFilled + maxBytesToCopy;
    let totalBytesToCopyRemaining = maxBytesToCopy;
    let ready = false;
    const remainderBytes = maxBytesFilled % d.elementSize;
    const maxAlignedBytes = maxBytesFilled - remainderBytes;
    if (maxAlignedBytes >= d.minimumFill) {
      totalBytesToCopyRemaining = maxAlignedBytes - d.bytesFilled;
      ready = true;
    }
    const queue = rs.queue;
    while (totalBytesToCopyRemaining > 0) {
      const head = queue[0];
      const bytesToCopy = totalBytesToCopyRemaining < head.byteLength ? totalBytesToCopyRemaining : head.byteLength;
      const destStart = d.byteOffset + d.bytesFilled;
      CopyDataBlockBytes(d.buffer, destStart, head.buffer, head.byteOffset, bytesToCopy);
      if (head.byteLength === bytesToCopy) {
        queue.shift();
      } else {
        head.byteOffset += bytesToCopy;
        head.byteLength -= bytesToCopy;
      }
      rs.queueTotalSize -= bytesToCopy;
      ReadableByteStreamControllerFillHeadPullIntoDescriptor(rs, bytesToCopy, d);
      totalBytesToCopyRemaining -= bytesToCopy;
    }
    return ready;
  }

  function ReadableByteStreamControllerFillReadRequestFromQueue(rs, readRequest) {
    const entry = rs.queue.shift();
    rs.queueTotalSize -= entry.byteLength;
    ReadableByteStreamControllerHandleQueueDrain(rs);
    readRequest.chunkSteps(new $Uint8Array(entry.buffer, entry.byteOffset, entry.byteLength));
  }

  function ReadableByteStreamControllerGetBYOBRequest(rs) {
    if (rs.byobRequest === null && rs.pendingPullIntos.length !== 0) {
      const d = rs.pendingPullIntos[0];
      const view = new $Uint8Array(d.buffer, d.byteOffset + d.bytesFilled, d.byteLength - d.bytesFilled);
      const record = new BYOBRequestRecord(rs, view);
      record.obj = new ReadableStreamBYOBRequest(INTERNAL, record);
      rs.byobRequest = record;
    }
    return rs.byobRequest === null ? null : rs.byobRequest.obj;
  }

  function ReadableByteStreamControllerHandleQueueDrain(rs) {
    if (rs.queueTotalSize === 0 && rs.closeRequested) {
      ReadableStreamDefaultControllerClearAlgorithms(rs);
      ReadableStreamClose(rs);
    } else {
      ReadableStreamDefaultControllerCallPullIfNeeded(rs);
    }
  }

  function ReadableByteStreamControllerInvalidateBYOBRequest(rs) {
    const request = rs.byobRequest;
    if (request === null) return;
    request.controller = undefined;
    request.view = null;
    rs.byobRequest = null;
  }

  function ReadableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(rs) {
    const filled = [];
    while (rs.pendingPullIntos.length !== 0) {
      if (rs.queueTotalSize === 0) break;
      const d = rs.pendingPullIntos[0];
      if (ReadableByteStreamControllerFillPullIntoDescriptorFromQueue(rs, d)) {
        ReadableByteStreamControllerShiftPendingPullInto(rs);
        filled[filled.length] = d;
      }
    }
    return filled;
  }

  function ReadableByteStreamControllerProcessReadRequestsUsingQueue(rs) {
    const requests = rs.reader.readRequests;
    while (requests.length !== 0) {
      if (rs.queueTotalSize === 0) return;
      ReadableByteStreamControllerFillReadRequestFromQueue(rs, requests.shift());
    }
  }

  function ReadableByteStreamControllerPullInto(rs, view, min, readIntoRequest) {
    let elementSize = 1;
    let Ctor = $DataView;
    const name = callFunction(TypedArrayToStringTag, view);
    if (name !== undefined) {
      Ctor = TypedArrays[name];
      elementSize = Ctor.BYTES_PER_ELEMENT;
    }
    const minimumFill = min * elementSize;
    const byteOffset = view.byteOffset;
    const byteLength = view.byteLength;
    let buffer;
    try {
      buffer = TransferArrayBuffer(view.buffer);
    } catch (e) {
      readIntoRequest.errorSteps(e);
      return;
    }
    const d = new PullIntoDescriptor(buffer, byteOffset, byteLength, minimumFill, elementSize, Ctor, 'byob');
    const pending = rs.pendingPullIntos;
    const requests = rs.reader.readIntoRequests;
    if (pending.length !== 0) {
      pending[pending.length] = d;
      requests[requests.length] = readIntoRequest;
      return;
    }
    if (rs.state === 'closed') {
      readIntoRequest.closeSteps(new Ctor(d.buffer, d.byteOffset, 0));
      return;
    }
    if (rs.queueTotalSize > 0) {
      if (ReadableByteStreamControllerFillPullIntoDescriptorFromQueue(rs, d)) {
        const filledView = ReadableByteStreamControllerConvertPullIntoDescriptor(d);
        ReadableByteStreamControllerHandleQueueDrain(rs);
        readIntoRequest.chunkSteps(filledView);
        return;
      }
      if (rs.closeRequested) {
        const e = new $TypeError('Insufficient bytes to fill elements in the given buffer');
        ReadableByteStreamControllerError(rs, e);
        readIntoRequest.errorSteps(e);
        return;
      }
    }
    pending[pending.length] = d;
    requests[requests.length] = readIntoRequest;
    ReadableStreamDefaultControllerCallPullIfNeeded(rs);
  }

  function ReadableByteStreamControllerRespond(rs, bytesWritten) {
    const first = rs.pendingPullIntos[0];
    if (rs.state === 'closed') {
      if (bytesWritten !== 0) {
        throw new $TypeError('bytesWritten must be 0 when calling respond() on a closed stream');
      }
    } else {
      if (bytesWritten === 0) {
        throw new $TypeError('bytesWritten must be greater than 0 when calling respond() on a readable stream');
      }
      if (first.bytesFilled + bytesWritten > first.byteLength) {
        throw new $RangeError('bytesWritten out of range');
      }
    }
    first.buffer = TransferArrayBuffer(first.buffer);
    ReadableByteStreamControllerRespondInternal(rs, bytesWritten);
  }

  function ReadableByteStreamControllerRespondInClosedState(rs, first) {
    if (first.readerType === 'none') ReadableByteStreamControllerShiftPendingPullInto(rs);
    const reader = rs.reader;
    if (reader !== undefined && reader.byob) {
      const filled = [];
      while (filled.length < reader.readIntoRequests.length) {
        filled[filled.length] = ReadableByteStreamControllerShiftPendingPullInto(rs);
      }
      for (let i = 0; i < filled.length; i++) ReadableByteStreamControllerCommitPullIntoDescriptor(rs, filled[i]);
    }
  }

  function ReadableByteStreamControllerRespondInReadableState(rs, bytesWritten, d) {
    ReadableByteStreamControllerFillHeadPullIntoDescriptor(rs, bytesWritten, d);
    if (d.readerType === 'none') {
      ReadableByteStreamControllerEnqueueDetachedPullIntoToQueue(rs, d);
      const filled = ReadableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(rs);
      for (let i = 0; i < filled.length; i++) ReadableByteStreamControllerCommitPullIntoDescriptor(rs, filled[i]);
      return;
    }
    // Not filled to its minimum yet: stays at the head for the source to fill further.
    if (d.bytesFilled < d.minimumFill) return;
    ReadableByteStreamControllerShiftPendingPullInto(rs);
    const remainderSize = d.bytesFilled % d.elementSize;
    if (remainderSize > 0) {
      const end = d.byteOffset + d.bytesFilled;
      ReadableByteStreamControllerEnqueueClonedChunkToQueue(rs, d.buffer, end - remainderSize, remainderSize);
    }
    d.bytesFilled -= remainderSize;
    const filled = ReadableByteStreamControllerProcessPullIntoDescriptorsUsingQueue(rs);
    ReadableByteStreamControllerCommitPullIntoDescriptor(rs, d);
    for (let i = 0; i < filled.length; i++) ReadableByteStreamControllerCommitPullIntoDescriptor(rs, filled[i]);
  }

  function ReadableByteStreamControllerRespondInternal(rs, bytesWritten) {
    const first = rs.pendingPullIntos[0];
    ReadableByteStreamControllerInvalidateBYOBRequest(rs);
    if (rs.state === 'closed') ReadableByteStreamControllerRespondInClosedState(rs, first);
    else ReadableByteStreamControllerRespondInReadableState(rs, bytesWritten, first);
    ReadableStreamDefaultControllerCallPullIfNeeded(rs);
  }

  function ReadableByteStreamControllerRespondWithNewView(rs, view) {
    const first = rs.pendingPullIntos[0];
    const viewByteLength = view.byteLength;
    if (rs.state === 'closed') {
      if (viewByteLength !== 0) {
        throw new $TypeError("The view's length must be 0 when calling respondWithNewView() on a closed stream");
      }
    } else if (viewByteLength === 0) {
      throw new $TypeError("The view's length must be greater than 0 when calling respondWithNewView() on a readable stream");
    }
    if (first.byteOffset + first.bytesFilled !== view.byteOffset) {
      throw new $RangeError('The region specified by view does not match byobRequest');
    }
    const viewBuffer = view.buffer;
    if (!isArrayBuffer(viewBuffer) || first.bufferByteLength !== callFunction(ArrayBufferByteLength, viewBuffer)) {
      throw new $RangeError('The buffer of view has different capacity than byobRequest');
    }
    if (first.bytesFilled + viewByteLength > first.byteLength) {
      throw new $RangeError('The region specified by view is larger than byobRequest');
    }
    first.buffer = TransferArrayBuffer(viewBuffer);
    ReadableByteStreamControllerRespondInternal(rs, viewByteLength);
  }

  function ReadableByteStreamControllerShiftPendingPullInto(rs) {
    return rs.pendingPullIntos.shift();
  }

  function ReadableByteStreamControllerShouldCallPull(rs) {
    if (rs.state !== 'readable' || rs.closeRequested || !rs.started) return false;
    const reader = rs.reader;
    if (reader !== undefined) {
      const waiting = reader.byob ? reader.readIntoRequests.length : reader.readRequests.length;
      if (waiting > 0) return true;
    }
    return rs.hwm - rs.queueTotalSize > 0;
  }

  function CloneAsUint8Array(view) {
    const buffer = callFunction(
      ArrayBufferSlice, view.buffer, view.byteOffset, view.byteOffset + view.byteLength,
    );
    return new $Uint8Array(buffer);
  }

  // --- tee: https://streams.spec.whatwg.org/#readable-stream-tee ---------

  function ReadableStreamTee(rs) {
    if (rs.isBytes) return ReadableByteStreamTee(rs);
    return ReadableStreamDefaultTee(rs);
  }

  // The state of a tee of a default stream; it is also the read request on
  // the source and the `this` of both branches' algorithms.
  // https://streams.spec.whatwg.org/#abstract-opdef-readablestreamdefaulttee
  // (cloneForBranch2 false: nothing here tees with it true)
  class Tee {
    stream;
    reader;
    reading = false;
    readAgain = false;
    canceled1 = false;
    canceled2 = false;
    reason1 = undefined;
    reason2 = undefined;
    branch1 = undefined;
    branch2 = undefined;
    cancelPromise;
    chunk = undefined;
    deliver;
    constructor(rs, reader) {
      this.stream = rs;
      this.reader = reader;
      this.cancelPromise = PromiseWithResolvers();
      this.deliver = () => teeDeliver(this);
    }
    chunkSteps(chunk) {
      // Delayed a microtask so errors, which take a microtask to detect
      // through reader.closed, reach both branches before later chunks.
      this.chunk = chunk;
      promiseThen(RESOLVED, this.deliver);
    }
    closeSteps() {
      this.reading = false;
      if (!this.canceled1) ReadableStreamDefaultControllerClose(this.branch1);
      if (!this.canceled2) ReadableStreamDefaultControllerClose(this.branch2);
      if (!this.canceled1 || !this.canceled2) this.cancelPromise.resolve(undefined);
    }
    errorSteps() {
      this.reading = false;
    }
  }

  function teeDeliver(t) {
    t.readAgain = false;
    const chunk = t.chunk;
    t.chunk = undefined;
    if (!t.canceled1) ReadableStreamDefaultControllerEnqueue(t.branch1, chunk);
    if (!t.canceled2) ReadableStreamDefaultControllerEnqueue(t.branch2, chunk);
    t.reading = false;
    if (t.readAgain) callFunction(teePull, t);
  }

  function teePull() {
    if (this.reading) {
      this.readAgain = true;
      return undefined;
    }
    this.reading = true;
    ReadableStreamDefaultReaderRead(this.reader, this);
    return undefined;
  }

  // Shared by both kinds of tee.
  function teeCancel(t) {
    const composite = [t.reason1, t.reason2];
    t.cancelPromise.resolve(ReadableStreamCancel(t.stream, composite));
  }

  function teeCancel1(reason) {
    this.canceled1 = true;
    this.reason1 = reason;
    if (this.canceled2) teeCancel(this);
    return this.cancelPromise.promise;
  }

  function teeCancel2(reason) {
    this.canceled2 = true;
    this.reason2 = reason;
    if (this.canceled1) teeCancel(this);
    return this.cancelPromise.promise;
  }

  function ReadableStreamDefaultTee(rs) {
    const reader = AcquireReadableStreamDefaultReader(rs);
    const t = new Tee(rs, reader);
    t.branch1 = CreateReadableStream(t, undefined, teePull, teeCancel1, 1, false);
    t.branch2 = CreateReadableStream(t, undefined, teePull, teeCancel2, 1, false);
    promiseThen(lazyGet(reader.closed), undefined, (r) => {
      ReadableStreamDefaultControllerError(t.branch1, r);
      ReadableStreamDefaultControllerError(t.branch2, r);
      if (!t.canceled1 || !t.canceled2) t.cancelPromise.resolve(undefined);
    });
    return [t.branch1, t.branch2];
  }

  // --- byte tee: https://streams.spec.whatwg.org/#abstract-opdef-readablebytestreamtee
  //
  // A branch's default read is a default read of the source, whose chunk
  // goes to the branch and a copy to the other; a branch's BYOB read is a
  // BYOB read of the source into the branch's own buffer, copied for the
  // other branch. The source's reader is swapped between the two kinds as
  // the reads require.

  // The byte tee's state, and the `this` of both branches' algorithms; its
  // cancel algorithms are teeCancel1 and teeCancel2 above.
  class ByteTee {
    stream;
    reader;
    reading = false;
    readAgain1 = false;
    readAgain2 = false;
    canceled1 = false;
    canceled2 = false;
    reason1 = undefined;
    reason2 = undefined;
    branch1 = undefined;
    branch2 = undefined;
    cancelPromise;
    // The three read requests it makes, made once.
    readRequest;
    readIntoRequest1;
    readIntoRequest2;
    constructor(rs, reader) {
      this.stream = rs;
      this.reader = reader;
      this.cancelPromise = PromiseWithResolvers();
      this.readRequest = new ByteTeeReadRequest(this);
      this.readIntoRequest1 = new ByteTeeReadIntoRequest(this, false);
      this.readIntoRequest2 = new ByteTeeReadIntoRequest(this, true);
    }
  }

  // The read request of pullWithDefaultReader.
  class ByteTeeReadRequest {
    tee;
    chunk = undefined;
    deliver;
    constructor(t) {
      this.tee = t;
      this.deliver = () => byteTeeDeliver(this);
    }
    chunkSteps(chunk) {
      this.chunk = chunk;
      promiseThen(RESOLVED, this.deliver);
    }
    closeSteps() {
      const t = this.tee;
      t.reading = false;
      if (!t.canceled1) byteTeeCloseBranch(t.branch1);
      if (!t.canceled2) byteTeeCloseBranch(t.branch2);
      // A BYOB read pending on a branch gets its (empty) view back.
      byteTeeRespondEmpty(t.branch1);
      byteTeeRespondEmpty(t.branch2);
      if (!t.canceled1 || !t.canceled2) t.cancelPromise.resolve(undefined);
    }
    errorSteps() {
      this.tee.reading = false;
    }
  }

  function byteTeeDeliver(request) {
    const t = request.tee;
    t.readAgain1 = false;
    t.readAgain2 = false;
    const chunk1 = request.chunk;
    let chunk2 = chunk1;
    request.chunk = undefined;
    if (!t.canceled1 && !t.canceled2) {
      try {
        chunk2 = CloneAsUint8Array(chunk1);
      } catch (e) {
        byteTeeFail(t, t.branch1, t.branch2, e);
        return;
      }
    }
    if (!t.canceled1) ReadableByteStreamControllerEnqueue(t.branch1, chunk1);
    if (!t.canceled2) ReadableByteStreamControllerEnqueue(t.branch2, chunk2);
    byteTeeReadDone(t);
  }

  // The read-into request of pullWithBYOBReader, one per branch.
  class ByteTeeReadIntoRequest {
    tee;
    forBranch2;
    chunk = undefined;
    deliver;
    constructor(t, forBranch2) {
      this.tee = t;
      this.forBranch2 = forBranch2;
      this.deliver = () => byteTeeDeliverInto(this);
    }
    chunkSteps(chunk) {
      this.chunk = chunk;
      promiseThen(RESOLVED, this.deliver);
    }
    closeSteps(chunk) {
      const t = this.tee;
      t.reading = false;
      const byobBranch = this.forBranch2 ? t.branch2 : t.branch1;
      const otherBranch = this.forBranch2 ? t.branch1 : t.branch2;
      const byobCanceled = this.forBranch2 ? t.canceled2 : t.canceled1;
      const otherCanceled = this.forBranch2 ? t.canceled1 : t.canceled2;
      if (!byobCanceled) byteTeeCloseBranch(byobBranch);
      if (!otherCanceled) byteTeeCloseBranch(otherBranch);
      if (chunk !== undefined) {
        // The branch's buffer, back from the source, empty.
        if (!byobCanceled && byteTeeClosedWithPullInto(byobBranch)) {
          ReadableByteStreamControllerRespondWithNewView(byobBranch, chunk);
        }
        if (!otherCanceled) byteTeeRespondEmpty(otherBranch);
      }
      if (!byobCanceled || !otherCanceled) t.cancelPromise.resolve(undefined);
    }
    errorSteps() {
      this.tee.reading = false;
    }
  }

  function byteTeeDeliverInto(request) {
    const t = request.tee;
    t.readAgain1 = false;
    t.readAgain2 = false;
    const chunk = request.chunk;
    request.chunk = undefined;
    const forBranch2 = request.forBranch2;
    const byobBranch = forBranch2 ? t.branch2 : t.branch1;
    const otherBranch = forBranch2 ? t.branch1 : t.branch2;
    const byobCanceled = forBranch2 ? t.canceled2 : t.canceled1;
    const otherCanceled = forBranch2 ? t.canceled1 : t.canceled2;
    if (!otherCanceled) {
      let clonedChunk;
      try {
        clonedChunk = CloneAsUint8Array(chunk);
      } catch (e) {
        byteTeeFail(t, byobBranch, otherBranch, e);
        return;
      }
      if (!byobCanceled) ReadableByteStreamControllerRespondWithNewView(byobBranch, chunk);
      ReadableByteStreamControllerEnqueue(otherBranch, clonedChunk);
    } else if (!byobCanceled) {
      ReadableByteStreamControllerRespondWithNewView(byobBranch, chunk);
    }
    byteTeeReadDone(t);
  }

  function byteTeeReadDone(t) {
    t.reading = false;
    if (t.readAgain1) byteTeePull(t, false);
    else if (t.readAgain2) byteTeePull(t, true);
  }

  function byteTeeFail(t, a, b, e) {
    ReadableByteStreamControllerError(a, e);
    ReadableByteStreamControllerError(b, e);
    t.cancelPromise.resolve(ReadableStreamCancel(t.stream, e));
  }

  // ReadableByteStreamControllerClose, which throws (having errored the
  // branch) when a pending BYOB read holds part of an element; the branch's
  // reader sees that error, and the tee carries on with the other branch.
  function byteTeeCloseBranch(branch) {
    try {
      ReadableByteStreamControllerClose(branch);
    } catch {
      // Already errored.
    }
  }

  // The spec responds to a branch's pending BYOB read right after closing
  // the branch; the state check skips a branch that could not close yet
  // (bytes still queued) or errored instead, where responding would throw.
  const byteTeeClosedWithPullInto = (branch) =>
    branch.state === 'closed' && branch.pendingPullIntos.length !== 0;

  function byteTeeRespondEmpty(branch) {
    if (byteTeeClosedWithPullInto(branch)) ReadableByteStreamControllerRespond(branch, 0);
  }

  // forwardReaderError
  function byteTeeForwardReaderError(t, reader) {
    promiseThen(lazyGet(reader.closed), undefined, (r) => {
      if (reader !== t.reader) return;
      ReadableByteStreamControllerError(t.branch1, r);
      ReadableByteStreamControllerError(t.branch2, r);
      if (!t.canceled1 || !t.canceled2) t.cancelPromise.resolve(undefined);
    });
  }

  // pull1Algorithm and pull2Algorithm
  function byteTeePull(t, forBranch2) {
    if (t.reading) {
      if (forBranch2) t.readAgain2 = true;
      else t.readAgain1 = true;
      return;
    }
    t.reading = true;
    const branch = forBranch2 ? t.branch2 : t.branch1;
    ReadableByteStreamControllerGetBYOBRequest(branch);
    const byobRequest = branch.byobRequest;
    if (byobRequest === null) {
      // pullWithDefaultReader
      if (t.reader.byob) {
        ReadableStreamBYOBReaderRelease(t.reader);
        t.reader = AcquireReadableStreamDefaultReader(t.stream);
        byteTeeForwardReaderError(t, t.reader);
      }
      ReadableStreamDefaultReaderRead(t.reader, t.readRequest);
    } else {
      // pullWithBYOBReader
      if (!t.reader.byob) {
        ReadableStreamDefaultReaderRelease(t.reader);
        t.reader = AcquireReadableStreamBYOBReader(t.stream);
        byteTeeForwardReaderError(t, t.reader);
      }
      const request = forBranch2 ? t.readIntoRequest2 : t.readIntoRequest1;
      ReadableStreamBYOBReaderRead(t.reader, byobRequest.view, 1, request);
    }
  }

  function byteTeePull1() {
    byteTeePull(this, false);
    return undefined;
  }

  function byteTeePull2() {
    byteTeePull(this, true);
    return undefined;
  }

  function ReadableByteStreamTee(rs) {
    const reader = AcquireReadableStreamDefaultReader(rs);
    const t = new ByteTee(rs, reader);
    t.branch1 = CreateReadableStream(t, undefined, byteTeePull1, teeCancel1, 0, true);
    t.branch2 = CreateReadableStream(t, undefined, byteTeePull2, teeCancel2, 0, true);
    byteTeeForwardReaderError(t, reader);
    return [t.branch1, t.branch2];
  }

  // --- pipeTo: https://streams.spec.whatwg.org/#readable-stream-pipe-to ---

  // A pipe's state. It is the read request on the source, and it stands in
  // for the promise of each write it makes (resolve/reject below), so a
  // chunk costs no closures.
  class Pipe {
    source;
    dest;
    reader;
    writer;
    preventClose;
    preventAbort;
    preventCancel;
    signal;
    shuttingDown = false;
    pendingWrites = 0;
    onWritesDone = undefined;
    checkWritesDone = undefined;
    looping = false;
    waitingReady = false;
    reading = false;
    readDone = false; // the source closed or errored
    resolvePipe;
    rejectPipe;
    abortAlgorithm = undefined;
    onReady;
    constructor(source, dest, options) {
      this.source = source;
      this.dest = dest;
      this.preventClose = options.preventClose;
      this.preventAbort = options.preventAbort;
      this.preventCancel = options.preventCancel;
      this.signal = options.signal;
      this.onReady = () => {
        this.waitingReady = false;
        if (!this.looping) pipeLoop(this);
      };
    }
    // Read request steps.
    chunkSteps(chunk) {
      this.reading = false;
      this.pendingWrites++;
      WritableStreamDefaultWriterWrite(this.writer, chunk, this);
      if (!this.looping) pipeLoop(this);
    }
    closeSteps() {
      this.reading = false;
      this.readDone = true;
    }
    errorSteps() {
      this.reading = false;
      this.readDone = true;
    }
    // Write request steps (a write's failure is seen through dest's state).
    resolve() {
      pipeWriteSettled(this);
    }
    reject() {
      pipeWriteSettled(this);
    }
  }

  function pipeWriteSettled(p) {
    if (--p.pendingWrites === 0 && p.onWritesDone !== undefined) {
      promiseThen(RESOLVED, p.checkWritesDone);
    }
  }

  // Reads while dest wants chunks; waits on dest's ready promise when it
  // does not, and on the read when no chunk is queued.
  function pipeLoop(p) {
    p.looping = true;
    while (!p.shuttingDown && !p.reading && !p.readDone) {
      const ready = p.writer.ready;
      if (ready.state !== 1) {
        // A rejected ready promise means dest is erroring; the watchers
        // below shut the pipe down.
        if (ready.state === 0 && !p.waitingReady) {
          p.waitingReady = true;
          promiseThen(lazyGet(ready), p.onReady, p.onReady);
        }
        break;
      }
      p.reading = true;
      ReadableStreamDefaultReaderRead(p.reader, p);
    }
    p.looping = false;
  }

  function ReadableStreamPipeTo(source, dest, options) {
    const p = new Pipe(source, dest, options);
    p.reader = AcquireReadableStreamDefaultReader(source);
    p.writer = AcquireWritableStreamDefaultWriter(dest);
    source.disturbed = true;
    const r = PromiseWithResolvers();
    p.resolvePipe = r.resolve;
    p.rejectPipe = r.reject;
    const signal = p.signal;
    if (signal !== undefined) {
      p.abortAlgorithm = () => {
        const error = callFunction(AbortSignalReason, signal);
        pipeShutdownWithAction(
          p,
          () => {
            const actions = [];
            if (!p.preventAbort) {
              actions[actions.length] =
                dest.state === 'writable' ? WritableStreamAbort(dest, error) : PromiseResolve(undefined);
            }
            if (!p.preventCancel) {
              actions[actions.length] =
                source.state === 'readable' ? ReadableStreamCancel(source, error) : PromiseResolve(undefined);
            }
            return waitForAllPromise(actions);
          },
          true,
          error,
        );
      };
      if (callFunction(AbortSignalAborted, signal)) {
        p.abortAlgorithm();
        return r.promise;
      }
      callFunction(AbortSignalAddEventListener, signal, 'abort', p.abortAlgorithm);
    }

    // Errors must be propagated forward.
    const onSourceErrored = (e) => {
      if (!p.preventAbort) pipeShutdownWithAction(p, () => WritableStreamAbort(dest, e), true, e);
      else pipeShutdown(p, true, e);
    };
    // Errors must be propagated backward.
    const onDestErrored = (e) => {
      if (!p.preventCancel) pipeShutdownWithAction(p, () => ReadableStreamCancel(source, e), true, e);
      else pipeShutdown(p, true, e);
    };
    // Closing must be propagated forward.
    const onSourceClosed = () => {
      if (!p.preventClose) {
        pipeShutdownWithAction(p, () => WritableStreamDefaultWriterCloseWithErrorPropagation(p.writer));
      } else {
        pipeShutdown(p);
      }
    };
    if (source.state === 'errored') onSourceErrored(source.storedError);
    else promiseThen(lazyGet(p.reader.closed), undefined, onSourceErrored);
    if (dest.state === 'errored') onDestErrored(dest.storedError);
    else promiseThen(lazyGet(p.writer.closed), undefined, onDestErrored);
    if (source.state === 'closed') onSourceClosed();
    else promiseThen(lazyGet(p.reader.closed), onSourceClosed, noop);
    // Closing must be propagated backward.
    if (WritableStreamCloseQueuedOrInFlight(dest) || dest.state === 'closed') {
      const destClosed = new $TypeError(
        'the destination writable stream closed before all data could be piped to it',
      );
      if (!p.preventCancel) {
        pipeShutdownWithAction(p, () => ReadableStreamCancel(source, destClosed), true, destClosed);
      } else {
        pipeShutdown(p, true, destClosed);
      }
    }
    promiseThen(RESOLVED, p.onReady);
    return r.promise;
  }

  // Runs f once every chunk read so far has been written. A read already
  // in flight may still deliver a chunk, whose write is waited for too.
  function pipeWaitForWrites(p, f) {
    p.onWritesDone = f;
    p.checkWritesDone = () => {
      if (p.pendingWrites === 0 && p.onWritesDone !== undefined) {
        const done = p.onWritesDone;
        p.onWritesDone = undefined;
        done();
      }
    };
    if (p.pendingWrites === 0) promiseThen(RESOLVED, p.checkWritesDone);
  }

  function pipeShutdownWithAction(p, action, originalIsError = false, originalError = undefined) {
    if (p.shuttingDown) return;
    p.shuttingDown = true;
    const doTheRest = () => {
      let result;
      try {
        result = PromiseResolve(action());
      } catch (e) {
        result = PromiseReject(e);
      }
      promiseThen(
        result,
        () => pipeFinalize(p, originalIsError, originalError),
        (newError) => pipeFinalize(p, true, newError),
      );
    };
    const dest = p.dest;
    if (dest.state === 'writable' && !WritableStreamCloseQueuedOrInFlight(dest)) {
      pipeWaitForWrites(p, doTheRest);
    } else {
      doTheRest();
    }
  }

  function pipeShutdown(p, isError = false, error = undefined) {
    if (p.shuttingDown) return;
    p.shuttingDown = true;
    const dest = p.dest;
    if (dest.state === 'writable' && !WritableStreamCloseQueuedOrInFlight(dest)) {
      pipeWaitForWrites(p, () => pipeFinalize(p, isError, error));
    } else {
      pipeFinalize(p, isError, error);
    }
  }

  function pipeFinalize(p, isError, error) {
    WritableStreamDefaultWriterRelease(p.writer);
    ReadableStreamDefaultReaderRelease(p.reader);
    if (p.signal !== undefined) {
      callFunction(AbortSignalRemoveEventListener, p.signal, 'abort', p.abortAlgorithm);
    }
    if (isError) p.rejectPipe(error);
    else p.resolvePipe(undefined);
  }

  // --- ReadableStream.from: https://streams.spec.whatwg.org/#readable-stream-from-iterable

  // %AsyncFromSyncIteratorPrototype%, for sync iterables.
  class AsyncFromSyncIterator {
    iterator;
    nextMethod;
    constructor(iterator, nextMethod) {
      this.iterator = iterator;
      this.nextMethod = nextMethod;
    }
    next() {
      let result;
      try {
        result = callFunction(this.nextMethod, this.iterator);
        if (!isObject(result)) throw new $TypeError('The iterator result is not an object');
      } catch (e) {
        return PromiseReject(e);
      }
      return asyncFromSyncContinuation(this.iterator, result, true);
    }
    return(value) {
      const iterator = this.iterator;
      let result;
      try {
        const method = iterator.return;
        if (method === undefined || method === null) {
          return PromiseResolve({ value, done: true });
        }
        result = callFunction(method, iterator, value);
        if (!isObject(result)) throw new $TypeError('The iterator result is not an object');
      } catch (e) {
        return PromiseReject(e);
      }
      return asyncFromSyncContinuation(iterator, result, false);
    }
  }

  function asyncFromSyncContinuation(iterator, result, closeOnRejection) {
    let done;
    let wrapped;
    try {
      done = !!result.done;
      wrapped = PromiseResolve(result.value);
    } catch (e) {
      return PromiseReject(e);
    }
    const onRejected =
      done || !closeOnRejection
        ? undefined
        : (e) => {
            try {
              const method = iterator.return;
              if (method !== undefined && method !== null) callFunction(method, iterator);
            } catch {
              // The original rejection wins.
            }
            throw e;
          };
    return promiseThen(wrapped, (value) => ({ value, done }), onRejected);
  }

  function getMethod(obj, key, what) {
    const f = obj[key];
    if (f === undefined || f === null) return undefined;
    if (typeof f !== 'function') throw new $TypeError(`${what} is not a function`);
    return f;
  }

  // GetIterator(obj, async)
  function GetAsyncIterator(obj) {
    const method = getMethod(obj, SymbolAsyncIterator, 'Symbol.asyncIterator');
    if (method === undefined) {
      const syncMethod = getMethod(obj, SymbolIterator, 'Symbol.iterator');
      if (syncMethod === undefined) throw new $TypeError('The value is not async iterable');
      const iterator = callFunction(syncMethod, obj);
      if (!isObject(iterator)) throw new $TypeError('The iterator is not an object');
      const wrapper = new AsyncFromSyncIterator(iterator, iterator.next);
      return new FromState(wrapper, AsyncFromSyncIterator.prototype.next);
    }
    const iterator = callFunction(method, obj);
    if (!isObject(iterator)) throw new $TypeError('The async iterator is not an object');
    return new FromState(iterator, iterator.next);
  }

  class FromState {
    iterator;
    nextMethod;
    rs = undefined;
    onNext = undefined;
    constructor(iterator, nextMethod) {
      this.iterator = iterator;
      this.nextMethod = nextMethod;
    }
  }

  function fromPull() {
    const t = this;
    let nextResult;
    try {
      nextResult = PromiseResolve(callFunction(t.nextMethod, t.iterator));
    } catch (e) {
      return PromiseReject(e);
    }
    if (t.onNext === undefined) {
      t.onNext = (iterResult) => {
        if (!isObject(iterResult)) {
          throw new $TypeError('The promise returned by the iterator.next() method must fulfill with an object');
        }
        if (iterResult.done) ReadableStreamDefaultControllerClose(t.rs);
        else ReadableStreamDefaultControllerEnqueue(t.rs, iterResult.value);
      };
    }
    return promiseThen(nextResult, t.onNext);
  }

  function fromCancel(reason) {
    const iterator = this.iterator;
    let returnResult;
    try {
      const method = getMethod(iterator, 'return', 'iterator.return');
      if (method === undefined) return PromiseResolve(undefined);
      returnResult = PromiseResolve(callFunction(method, iterator, reason));
    } catch (e) {
      return PromiseReject(e);
    }
    return promiseThen(returnResult, (iterResult) => {
      if (!isObject(iterResult)) {
        throw new $TypeError('The promise returned by the iterator.return() method must fulfill with an object');
      }
      return undefined;
    });
  }

  function ReadableStreamFromIterable(asyncIterable) {
    const t = GetAsyncIterator(asyncIterable);
    t.rs = CreateReadableStream(t, undefined, fromPull, fromCancel, 0, false);
    return t.rs;
  }

  // --- Async iteration: https://streams.spec.whatwg.org/#rs-asynciterator

  class IterState {
    reader;
    preventCancel;
    ongoing = undefined;
    finished = false;
    nextSteps = undefined;
    constructor(reader, preventCancel) {
      this.reader = reader;
      this.preventCancel = preventCancel;
    }
  }

  class IterReadRequest {
    it;
    promise;
    resolve;
    reject;
    settled = false;
    constructor(it) {
      this.it = it;
      const r = PromiseWithResolvers();
      this.promise = r.promise;
      this.resolve = r.resolve;
      this.reject = r.reject;
    }
    chunkSteps(chunk) {
      this.settled = true;
      this.it.ongoing = undefined;
      this.resolve({ value: chunk, done: false });
    }
    closeSteps() {
      this.settled = true;
      const it = this.it;
      it.ongoing = undefined;
      it.finished = true;
      ReadableStreamDefaultReaderRelease(it.reader);
      this.resolve({ value: undefined, done: true });
    }
    errorSteps(e) {
      this.settled = true;
      const it = this.it;
      it.ongoing = undefined;
      it.finished = true;
      ReadableStreamDefaultReaderRelease(it.reader);
      this.reject(e);
    }
  }

  function iterNextSteps(it) {
    if (it.finished) return PromiseResolve({ value: undefined, done: true });
    const reader = it.reader;
    const rs = reader.stream;
    rs.disturbed = true;
    if (rs.state === 'readable' && !rs.isBytes && !queueIsEmpty(rs)) {
      const chunk = DequeueValue(rs);
      if (rs.closeRequested && queueIsEmpty(rs)) {
        ReadableStreamDefaultControllerClearAlgorithms(rs);
        ReadableStreamClose(rs);
      } else {
        ReadableStreamDefaultControllerCallPullIfNeeded(rs);
      }
      return PromiseResolve({ value: chunk, done: false });
    }
    const request = new IterReadRequest(it);
    ReadableStreamDefaultReaderRead(reader, request);
    if (!request.settled && it.ongoing === undefined) it.ongoing = request.promise;
    return request.promise;
  }

  function iterReturnSteps(it, value) {
    if (it.finished) return PromiseResolve({ value, done: true });
    it.finished = true;
    const reader = it.reader;
    if (!it.preventCancel) {
      const result = ReadableStreamCancel(reader.stream, value);
      ReadableStreamDefaultReaderRelease(reader);
      return result;
    }
    ReadableStreamDefaultReaderRelease(reader);
    return PromiseResolve(undefined);
  }

  let iterOf;
  class ReadableStreamAsyncIterator {
    #it;
    constructor(token, it) {
      if (token !== INTERNAL) throw new $TypeError('Illegal constructor');
      this.#it = it;
    }
    static {
      iterOf = (o) => (isObject(o) && #it in o ? o.#it : undefined);
    }
    next() {
      const it = iterOf(this);
      if (it === undefined) return PromiseReject(illegalInvocation());
      const ongoing = it.ongoing;
      if (ongoing !== undefined) {
        if (it.nextSteps === undefined) it.nextSteps = () => iterNextSteps(it);
        const p = promiseThen(ongoing, it.nextSteps, it.nextSteps);
        it.ongoing = p;
        return p;
      }
      return iterNextSteps(it);
    }
    return(value = undefined) {
      const it = iterOf(this);
      if (it === undefined) return PromiseReject(illegalInvocation());
      const ongoing = it.ongoing;
      let p;
      if (ongoing !== undefined) {
        const steps = () => iterReturnSteps(it, value);
        p = promiseThen(ongoing, steps, steps);
      } else {
        p = iterReturnSteps(it, value);
      }
      it.ongoing = p;
      return promiseThen(p, () => ({ value, done: true }));
    }
  }
  const RSAsyncIteratorPrototype = ReadableStreamAsyncIterator.prototype;
  ObjectSetPrototypeOf(RSAsyncIteratorPrototype, AsyncIteratorPrototype);
  delete RSAsyncIteratorPrototype.constructor;
  ObjectDefineProperty(RSAsyncIteratorPrototype, SymbolToStringTag, {
    value: 'ReadableStream AsyncIterator',
    configurable: true,
  });

  // --- Public interfaces ---------------------------------------------------

  let rsOf;
  // https://streams.spec.whatwg.org/#rs-class
  class ReadableStream {
    #rs;
    constructor(underlyingSource = undefined, strategy = undefined) {
      if (underlyingSource === INTERNAL) {
        this.#rs = strategy;
        strategy.obj = this;
        return;
      }
      if (underlyingSource !== undefined && !isObject(underlyingSource)) {
        throw new $TypeError("Failed to construct 'ReadableStream': parameter 1 is not of type 'object'.");
      }
      const s = convertQueuingStrategy(strategy, 'strategy');
      // UnderlyingSource, members in lexicographic order.
      let autoAllocateChunkSize, cancel, pull, start, type;
      if (underlyingSource !== undefined) {
        const what = 'underlyingSource';
        autoAllocateChunkSize = underlyingSource.autoAllocateChunkSize;
        if (autoAllocateChunkSize !== undefined) {
          autoAllocateChunkSize = enforceRangeU64(autoAllocateChunkSize, 'autoAllocateChunkSize');
        }
        cancel = callbackMember(underlyingSource, 'cancel', what);
        pull = callbackMember(underlyingSource, 'pull', what);
        start = callbackMember(underlyingSource, 'start', what);
        type = underlyingSource.type;
        if (type !== undefined) {
          type = `${type}`;
          if (type !== 'bytes') {
            throw new $TypeError(`The provided value '${type}' is not a valid enum value of type ReadableStreamType.`);
          }
        }
      }
      const rs = new RS();
      this.#rs = rs;
      rs.obj = this;
      if (type === 'bytes') {
        if (s.size !== undefined) {
          throw new $RangeError('The strategy for a byte stream cannot have a size function');
        }
        const hwm = ExtractHighWaterMark(s.hwm, 0);
        if (autoAllocateChunkSize === 0) {
          throw new $TypeError('autoAllocateChunkSize must be greater than 0');
        }
        rs.isBytes = true;
        rs.autoAllocateChunkSize = autoAllocateChunkSize;
        const controller = new ReadableByteStreamController(INTERNAL, rs);
        SetUpReadableStreamDefaultController(
          rs, controller, underlyingSource, start, pull, cancel, hwm, undefined, undefined,
        );
      } else {
        const hwm = ExtractHighWaterMark(s.hwm, 1);
        const controller = new ReadableStreamDefaultController(INTERNAL, rs);
        SetUpReadableStreamDefaultController(
          rs, controller, underlyingSource, start, pull, cancel, hwm, s.size, undefined,
        );
      }
    }

    static {
      rsOf = (o) => (isObject(o) && #rs in o ? o.#rs : undefined);
    }

    static from(asyncIterable) {
      return ReadableStreamFromIterable(asyncIterable).obj;
    }

    get locked() {
      const rs = rsOf(this);
      if (rs === undefined) throw illegalInvocation();
      return IsReadableStreamLocked(rs);
    }

    cancel(reason = undefined) {
      const rs = rsOf(this);
      if (rs === undefined) return PromiseReject(illegalInvocation());
      if (IsReadableStreamLocked(rs)) {
        return PromiseReject(new $TypeError('Cannot cancel a stream that already has a reader'));
      }
      return ReadableStreamCancel(rs, reason);
    }

    getReader(options = undefined) {
      const rs = rsOf(this);
      if (rs === undefined) throw illegalInvocation();
      const dict = dictionary(options, 'options');
      if (dict !== undefined) {
        let mode = dict.mode;
        if (mode !== undefined) {
          mode = `${mode}`;
          if (mode !== 'byob') {
            throw new $TypeError(`The provided value '${mode}' is not a valid enum value of type ReadableStreamReaderMode.`);
          }
          return new ReadableStreamBYOBReader(INTERNAL, AcquireReadableStreamBYOBReader(rs));
        }
      }
      return new ReadableStreamDefaultReader(INTERNAL, AcquireReadableStreamDefaultReader(rs));
    }

    pipeThrough(transform, options = undefined) {
      const rs = rsOf(this);
      if (rs === undefined) throw illegalInvocation();
      if (!isObject(transform)) {
        throw new $TypeError("Failed to execute 'pipeThrough' on 'ReadableStream': parameter 1 is not an object.");
      }
      const readable = transform.readable;
      if (rsOf(readable) === undefined) {
        throw new $TypeError("Failed to execute 'pipeThrough': transform.readable is not a ReadableStream.");
      }
      const writable = transform.writable;
      const ws = wsOf(writable);
      if (ws === undefined) {
        throw new $TypeError("Failed to execute 'pipeThrough': transform.writable is not a WritableStream.");
      }
      const o = convertPipeOptions(options);
      if (IsReadableStreamLocked(rs)) {
        throw new $TypeError('ReadableStream.prototype.pipeThrough cannot be used on a locked ReadableStream');
      }
      if (IsWritableStreamLocked(ws)) {
        throw new $TypeError('ReadableStream.prototype.pipeThrough cannot be used on a locked WritableStream');
      }
      setPromiseIsHandled(ReadableStreamPipeTo(rs, ws, o));
      return readable;
    }

    pipeTo(destination, options = undefined) {
      const rs = rsOf(this);
      if (rs === undefined) return PromiseReject(illegalInvocation());
      const ws = wsOf(destination);
      if (ws === undefined) {
        return PromiseReject(
          new $TypeError("Failed to execute 'pipeTo' on 'ReadableStream': parameter 1 is not of type 'WritableStream'."),
        );
      }
      let o;
      try {
        o = convertPipeOptions(options);
      } catch (e) {
        return PromiseReject(e);
      }
      if (IsReadableStreamLocked(rs)) {
        return PromiseReject(new $TypeError('ReadableStream.prototype.pipeTo cannot be used on a locked ReadableStream'));
      }
      if (IsWritableStreamLocked(ws)) {
        return PromiseReject(new $TypeError('ReadableStream.prototype.pipeTo cannot be used on a locked WritableStream'));
      }
      return ReadableStreamPipeTo(rs, ws, o);
    }

    tee() {
      const rs = rsOf(this);
      if (rs === undefined) throw illegalInvocation();
      const branches = ReadableStreamTee(rs);
      return [branches[0].obj, branches[1].obj];
    }

    values(options = undefined) {
      const rs = rsOf(this);
      if (rs === undefined) throw illegalInvocation();
      const dict = dictionary(options, 'options');
      const preventCancel = dict !== undefined && !!dict.preventCancel;
      const reader = AcquireReadableStreamDefaultReader(rs);
      return new ReadableStreamAsyncIterator(INTERNAL, new IterState(reader, preventCancel));
    }
  }
  ObjectDefineProperty(ReadableStream.prototype, SymbolAsyncIterator, {
    value: ReadableStream.prototype.values,
    writable: true,
    configurable: true,
  });

  let readerOf;
  // https://streams.spec.whatwg.org/#default-reader-class
  class ReadableStreamDefaultReader {
    #r;
    constructor(stream) {
      if (stream === INTERNAL) {
        this.#r = arguments[1];
        return;
      }
      const rs = rsOf(stream);
      if (rs === undefined) {
        throw new $TypeError("Failed to construct 'ReadableStreamDefaultReader': parameter 1 is not of type 'ReadableStream'.");
      }
      const reader = new RSReader();
      SetUpReadableStreamDefaultReader(reader, rs);
      this.#r = reader;
    }

    static {
      readerOf = (o) => (isObject(o) && #r in o ? o.#r : undefined);
    }

    get closed() {
      const reader = readerOf(this);
      if (reader === undefined) return PromiseReject(illegalInvocation());
      return lazyGet(reader.closed);
    }

    cancel(reason = undefined) {
      const reader = readerOf(this);
      if (reader === undefined) return PromiseReject(illegalInvocation());
      if (reader.stream === undefined) {
        return PromiseReject(new $TypeError('Cannot cancel a stream using a released reader'));
      }
      return ReadableStreamCancel(reader.stream, reason);
    }

    read() {
      const reader = readerOf(this);
      if (reader === undefined) return PromiseReject(illegalInvocation());
      const rs = reader.stream;
      if (rs === undefined) {
        return PromiseReject(new $TypeError('Cannot read from a stream using a released reader'));
      }
      // ReadableStreamDefaultReaderRead, with the read request's steps inlined
      // when the result is known now.
      rs.disturbed = true;
      const state = rs.state;
      if (state === 'readable') {
        if (rs.isBytes) {
          // [[PullSteps]] with the read request's steps inlined when bytes are queued.
          if (rs.queueTotalSize > 0) {
            const entry = rs.queue.shift();
            rs.queueTotalSize -= entry.byteLength;
            ReadableByteStreamControllerHandleQueueDrain(rs);
            return PromiseResolve({ value: new $Uint8Array(entry.buffer, entry.byteOffset, entry.byteLength), done: false });
          }
          const request = new DefaultReadRequest();
          ReadableByteStreamControllerPullSteps(rs, request);
          return request.promise;
        }
        if (!queueIsEmpty(rs)) {
          const chunk = DequeueValue(rs);
          if (rs.closeRequested && queueIsEmpty(rs)) {
            ReadableStreamDefaultControllerClearAlgorithms(rs);
            ReadableStreamClose(rs);
          } else {
            ReadableStreamDefaultControllerCallPullIfNeeded(rs);
          }
          return PromiseResolve({ value: chunk, done: false });
        }
        const request = new DefaultReadRequest();
        reader.readRequests.push(request);
        ReadableStreamDefaultControllerCallPullIfNeeded(rs);
        return request.promise;
      }
      if (state === 'closed') return PromiseResolve({ value: undefined, done: true });
      return PromiseReject(rs.storedError);
    }

    releaseLock() {
      const reader = readerOf(this);
      if (reader === undefined) throw illegalInvocation();
      if (reader.stream === undefined) return;
      ReadableStreamDefaultReaderRelease(reader);
    }
  }

  // https://streams.spec.whatwg.org/#rs-default-controller-class
  class ReadableStreamDefaultController {
    #rs;
    constructor(token = undefined, rs = undefined) {
      if (token !== INTERNAL) throw new $TypeError('Illegal constructor');
      this.#rs = rs;
    }

    get desiredSize() {
      return ReadableStreamDefaultControllerGetDesiredSize(this.#rs);
    }

    close() {
      const rs = this.#rs;
      if (!ReadableStreamDefaultControllerCanCloseOrEnqueue(rs)) {
        throw new $TypeError('The stream is not in a state that permits close');
      }
      ReadableStreamDefaultControllerClose(rs);
    }

    enqueue(chunk = undefined) {
      const rs = this.#rs;
      if (!ReadableStreamDefaultControllerCanCloseOrEnqueue(rs)) {
        throw new $TypeError('The stream is not in a state that permits enqueue');
      }
      ReadableStreamDefaultControllerEnqueue(rs, chunk);
    }

    error(e = undefined) {
      ReadableStreamDefaultControllerError(this.#rs, e);
    }
  }

  // https://streams.spec.whatwg.org/#rbs-controller-class
  class ReadableByteStreamController {
    #rs;
    constructor(token = undefined, rs = undefined) {
      if (token !== INTERNAL) throw new $TypeError('Illegal constructor');
      this.#rs = rs;
    }

    get byobRequest() {
      return ReadableByteStreamControllerGetBYOBRequest(this.#rs);
    }

    get desiredSize() {
      return ReadableStreamDefaultControllerGetDesiredSize(this.#rs);
    }

    close() {
      const rs = this.#rs;
      if (rs.closeRequested) throw new $TypeError('The stream has already been closed');
      if (rs.state !== 'readable') {
        throw new $TypeError('The stream is not in the readable state and cannot be closed');
      }
      ReadableByteStreamControllerClose(rs);
    }

    enqueue(chunk) {
      const rs = this.#rs;
      if (!ArrayBufferIsView(chunk)) {
        throw new $TypeError("Failed to execute 'enqueue' on 'ReadableByteStreamController': parameter 1 is not of type 'ArrayBufferView'.");
      }
      if (chunk.byteLength === 0) throw new $TypeError('chunk must have non-zero byteLength');
      if (chunk.buffer.byteLength === 0) {
        throw new $TypeError("chunk's buffer must have non-zero byteLength");
      }
      if (rs.closeRequested) throw new $TypeError('stream is closed or draining');
      if (rs.state !== 'readable') {
        throw new $TypeError('The stream is not in the readable state and cannot be enqueued to');
      }
      ReadableByteStreamControllerEnqueue(rs, chunk);
    }

    error(e = undefined) {
      ReadableByteStreamControllerError(this.#rs, e);
    }
  }

  // https://streams.spec.whatwg.org/#rs-byob-request-class
  class ReadableStreamBYOBRequest {
    #r;
    constructor(token = undefined, record = undefined) {
      if (token !== INTERNAL) throw new $TypeError('Illegal constructor');
      this.#r = record;
    }

    get view() {
      return this.#r.view;
    }

    respond(bytesWritten) {
      const r = this.#r;
      const n = enforceRangeU64(bytesWritten, 'bytesWritten');
      if (r.controller === undefined) throw new $TypeError('This BYOB request has been invalidated');
      if (isDetached(r.view.buffer)) {
        throw new $TypeError("The BYOB request's buffer has been detached and so cannot be used as a response");
      }
      ReadableByteStreamControllerRespond(r.controller, n);
    }

    respondWithNewView(view) {
      const r = this.#r;
      if (!ArrayBufferIsView(view)) {
        throw new $TypeError("Failed to execute 'respondWithNewView' on 'ReadableStreamBYOBRequest': parameter 1 is not of type 'ArrayBufferView'.");
      }
      if (r.controller === undefined) throw new $TypeError('This BYOB request has been invalidated');
      if (isDetached(view.buffer)) {
        throw new $TypeError("The given view's buffer has been detached and so cannot be used as a response");
      }
      ReadableByteStreamControllerRespondWithNewView(r.controller, view);
    }
  }

  let byobReaderOf;
  // https://streams.spec.whatwg.org/#byob-reader-class
  class ReadableStreamBYOBReader {
    #r;
    constructor(stream) {
      if (stream === INTERNAL) {
        this.#r = arguments[1];
        return;
      }
      const rs = rsOf(stream);
      if (rs === undefined) {
        throw new $TypeError("Failed to construct 'ReadableStreamBYOBReader': parameter 1 is not of type 'ReadableStream'.");
      }
      const reader = new RSBYOBReader();
      SetUpReadableStreamBYOBReader(reader, rs);
      this.#r = reader;
    }

    static {
      byobReaderOf = (o) => (isObject(o) && #r in o ? o.#r : undefined);
    }

    get closed() {
      const reader = byobReaderOf(this);
      if (reader === undefined) return PromiseReject(illegalInvocation());
      return lazyGet(reader.closed);
    }

    cancel(reason = undefined) {
      const reader = byobReaderOf(this);
      if (reader === undefined) return PromiseReject(illegalInvocation());
      if (reader.stream === undefined) {
        return PromiseReject(new $TypeError('Cannot cancel a stream using a released reader'));
      }
      return ReadableStreamCancel(reader.stream, reason);
    }

    read(view, options = undefined) {
      const reader = byobReaderOf(this);
      if (reader === undefined) return PromiseReject(illegalInvocation());
      // WebIDL: an ArrayBufferView not on a SharedArrayBuffer, then
      // ReadableStreamBYOBReaderReadOptions.
      if (!ArrayBufferIsView(view) || !isArrayBuffer(view.buffer)) {
        return PromiseReject(
          new $TypeError("Failed to execute 'read' on 'ReadableStreamBYOBReader': parameter 1 is not of type 'ArrayBufferView'."),
        );
      }
      let min = 1;
      try {
        const dict = dictionary(options, 'options');
        if (dict !== undefined) {
          const m = dict.min;
          if (m !== undefined) min = enforceRangeU64(m, 'min');
        }
      } catch (e) {
        return PromiseReject(e);
      }
      if (view.byteLength === 0) return PromiseReject(new $TypeError('view must have non-zero byteLength'));
      const buffer = view.buffer;
      if (callFunction(ArrayBufferByteLength, buffer) === 0) {
        return PromiseReject(new $TypeError("view's buffer must have non-zero byteLength"));
      }
      if (isDetached(buffer)) return PromiseReject(new $TypeError("view's buffer has been detached"));
      if (min === 0) return PromiseReject(new $TypeError('options.min must be greater than 0'));
      if (callFunction(TypedArrayToStringTag, view) !== undefined) {
        if (min > view.length) {
          return PromiseReject(new $RangeError("options.min must be less than or equal to view's length"));
        }
      } else if (min > view.byteLength) {
        return PromiseReject(new $RangeError("options.min must be less than or equal to view's byteLength"));
      }
      if (reader.stream === undefined) {
        return PromiseReject(new $TypeError('Cannot read from a stream using a released reader'));
      }
      const request = new ReadIntoRequest();
      ReadableStreamBYOBReaderRead(reader, view, min, request);
      return request.promise;
    }

    releaseLock() {
      const reader = byobReaderOf(this);
      if (reader === undefined) throw illegalInvocation();
      if (reader.stream === undefined) return;
      ReadableStreamBYOBReaderRelease(reader);
    }
  }

  // ---------------------------------------------------------------------
  // Writable streams
  // https://streams.spec.whatwg.org/#ws-abstract-ops
  // ---------------------------------------------------------------------

  class WS {
    state = 'writable';
    storedError = undefined;
    writer = undefined; // WSWriter while locked
    obj = undefined;
    inFlightWriteRequest = undefined;
    closeRequest = undefined;
    inFlightCloseRequest = undefined;
    pendingAbortRequest = undefined;
    // Objects with resolve(v)/reject(e): promise capabilities, or a Pipe.
    writeRequests = [];
    backpressure = false;
    // [[controller]]
    controllerObj = undefined;
    queue = [];
    qHead = 0;
    queueTotalSize = 0;
    started = false;
    hwm = 1;
    sizeFn = undefined;
    sink = undefined; // `this` for the algorithms below
    writeFn = undefined;
    closeFn = undefined;
    abortFn = undefined;
    // [[abortController]], made when the sink first asks for the signal.
    abortController = undefined;
    abortRequested = false;
    abortReason = undefined;
    onWritten = undefined;
    onWriteFailed = undefined;
  }

  class WSWriter {
    stream = undefined;
    ready = new LazyPromise(true);
    closed = new LazyPromise(true);
  }

  class AbortRequest {
    promise;
    reason;
    wasAlreadyErroring;
    constructor(promise, reason, wasAlreadyErroring) {
      this.promise = promise;
      this.reason = reason;
      this.wasAlreadyErroring = wasAlreadyErroring;
    }
  }

  function AcquireWritableStreamDefaultWriter(ws) {
    const writer = new WSWriter();
    SetUpWritableStreamDefaultWriter(writer, ws);
    return writer;
  }

  const IsWritableStreamLocked = (ws) => ws.writer !== undefined;

  function WritableStreamAbort(ws, reason) {
    if (ws.state === 'closed' || ws.state === 'errored') return PromiseResolve(undefined);
    // Signal abort on the controller's [[abortController]].
    if (ws.abortController !== undefined) {
      callFunction(AbortControllerAbort, ws.abortController, reason);
    } else if (!ws.abortRequested) {
      ws.abortRequested = true;
      ws.abortReason = reason;
    }
    const state = ws.state;
    if (state === 'closed' || state === 'errored') return PromiseResolve(undefined);
    if (ws.pendingAbortRequest !== undefined) return ws.pendingAbortRequest.promise.promise;
    let wasAlreadyErroring = false;
    if (state === 'erroring') {
      wasAlreadyErroring = true;
      reason = undefined;
    }
    const promise = PromiseWithResolvers();
    ws.pendingAbortRequest = new AbortRequest(promise, reason, wasAlreadyErroring);
    if (!wasAlreadyErroring) WritableStreamStartErroring(ws, reason);
    return promise.promise;
  }

  function WritableStreamClose(ws) {
    const state = ws.state;
    if (state === 'closed' || state === 'errored') {
      return PromiseReject(
        new $TypeError(`The stream (in ${state} state) is not in the writable state and cannot be closed`),
      );
    }
    const request = PromiseWithResolvers();
    ws.closeRequest = request;
    const writer = ws.writer;
    if (writer !== undefined && ws.backpressure && state === 'writable') lazyResolve(writer.ready);
    WritableStreamDefaultControllerClose(ws);
    return request.promise;
  }

  function WritableStreamDealWithRejection(ws, error) {
    if (ws.state === 'writable') {
      WritableStreamStartErroring(ws, error);
      return;
    }
    WritableStreamFinishErroring(ws);
  }

  function WritableStreamFinishErroring(ws) {
    ws.state = 'errored';
    ResetQueue(ws); // the controller's [[ErrorSteps]]
    const storedError = ws.storedError;
    const requests = ws.writeRequests;
    if (requests.length !== 0) {
      ws.writeRequests = [];
      for (let i = 0; i < requests.length; i++) requests[i].reject(storedError);
    }
    const abortRequest = ws.pendingAbortRequest;
    if (abortRequest === undefined) {
      WritableStreamRejectCloseAndClosedPromiseIfNeeded(ws);
      return;
    }
    ws.pendingAbortRequest = undefined;
    if (abortRequest.wasAlreadyErroring) {
      abortRequest.promise.reject(storedError);
      WritableStreamRejectCloseAndClosedPromiseIfNeeded(ws);
      return;
    }
    promiseThen(
      WritableStreamDefaultControllerAbortSteps(ws, abortRequest.reason),
      () => {
        abortRequest.promise.resolve(undefined);
        WritableStreamRejectCloseAndClosedPromiseIfNeeded(ws);
      },
      (reason) => {
        abortRequest.promise.reject(reason);
        WritableStreamRejectCloseAndClosedPromiseIfNeeded(ws);
      },
    );
  }

  function WritableStreamFinishInFlightClose(ws) {
    ws.inFlightCloseRequest.resolve(undefined);
    ws.inFlightCloseRequest = undefined;
    if (ws.state === 'erroring') {
      ws.storedError = undefined;
      if (ws.pendingAbortRequest !== undefined) {
        ws.pendingAbortRequest.promise.resolve(undefined);
        ws.pendingAbortRequest = undefined;
      }
    }
    ws.state = 'closed';
    const writer = ws.writer;
    if (writer !== undefined) lazyResolve(writer.closed);
  }

  function WritableStreamFinishInFlightCloseWithError(ws, error) {
    ws.inFlightCloseRequest.reject(error);
    ws.inFlightCloseRequest = undefined;
    if (ws.pendingAbortRequest !== undefined) {
      ws.pendingAbortRequest.promise.reject(error);
      ws.pendingAbortRequest = undefined;
    }
    WritableStreamDealWithRejection(ws, error);
  }

  const WritableStreamCloseQueuedOrInFlight = (ws) =>
    ws.closeRequest !== undefined || ws.inFlightCloseRequest !== undefined;

  function WritableStreamRejectCloseAndClosedPromiseIfNeeded(ws) {
    if (ws.closeRequest !== undefined) {
      ws.closeRequest.reject(ws.storedError);
      ws.closeRequest = undefined;
    }
    const writer = ws.writer;
    if (writer !== undefined) lazyReject(writer.closed, ws.storedError);
  }

  function WritableStreamStartErroring(ws, reason) {
    ws.state = 'erroring';
    ws.storedError = reason;
    const writer = ws.writer;
    if (writer !== undefined) WritableStreamDefaultWriterEnsureReadyPromiseRejected(writer, reason);
    if (
      ws.inFlightWriteRequest === undefined &&
      ws.inFlightCloseRequest === undefined &&
      ws.started
    ) {
      WritableStreamFinishErroring(ws);
    }
  }

  function WritableStreamUpdateBackpressure(ws, backpressure) {
    const writer = ws.writer;
    if (writer !== undefined && backpressure !== ws.backpressure) {
      if (backpressure) writer.ready = new LazyPromise(true);
      else lazyResolve(writer.ready);
    }
    ws.backpressure = backpressure;
  }

  function WritableStreamDefaultWriterCloseWithErrorPropagation(writer) {
    const ws = writer.stream;
    const state = ws.state;
    if (WritableStreamCloseQueuedOrInFlight(ws) || state === 'closed') return PromiseResolve(undefined);
    if (state === 'errored') return PromiseReject(ws.storedError);
    return WritableStreamClose(ws);
  }

  function WritableStreamDefaultWriterEnsureClosedPromiseRejected(writer, error) {
    if (writer.closed.state === 0) lazyReject(writer.closed, error);
    else lazyReplaceRejected(writer.closed, error);
  }

  function WritableStreamDefaultWriterEnsureReadyPromiseRejected(writer, error) {
    if (writer.ready.state === 0) lazyReject(writer.ready, error);
    else lazyReplaceRejected(writer.ready, error);
  }

  function WritableStreamDefaultWriterGetDesiredSize(writer) {
    const ws = writer.stream;
    const state = ws.state;
    if (state === 'errored' || state === 'erroring') return null;
    if (state === 'closed') return 0;
    return ws.hwm - ws.queueTotalSize;
  }

  function WritableStreamDefaultWriterRelease(writer) {
    const ws = writer.stream;
    const releasedError = new $TypeError(
      "Writer was released and can no longer be used to monitor the stream's closedness",
    );
    WritableStreamDefaultWriterEnsureReadyPromiseRejected(writer, releasedError);
    WritableStreamDefaultWriterEnsureClosedPromiseRejected(writer, releasedError);
    ws.writer = undefined;
    writer.stream = undefined;
  }

  // Settles `request` (an object with resolve/reject) as the spec settles
  // the promise it returns.
  function WritableStreamDefaultWriterWrite(writer, chunk, request) {
    const ws = writer.stream;
    const chunkSize = WritableStreamDefaultControllerGetChunkSize(ws, chunk);
    if (ws !== writer.stream) {
      request.reject(new $TypeError('Cannot write to a stream using a released writer'));
      return;
    }
    const state = ws.state;
    if (state === 'errored') {
      request.reject(ws.storedError);
      return;
    }
    if (WritableStreamCloseQueuedOrInFlight(ws) || state === 'closed') {
      request.reject(new $TypeError('The stream is closing or closed and cannot be written to'));
      return;
    }
    if (state === 'erroring') {
      request.reject(ws.storedError);
      return;
    }
    ws.writeRequests.push(request);
    WritableStreamDefaultControllerWrite(ws, chunk, chunkSize);
  }

  function SetUpWritableStreamDefaultWriter(writer, ws) {
    if (IsWritableStreamLocked(ws)) {
      throw new $TypeError('This stream has already been locked for exclusive writing by another writer');
    }
    writer.stream = ws;
    ws.writer = writer;
    const state = ws.state;
    if (state === 'writable') {
      if (WritableStreamCloseQueuedOrInFlight(ws) || !ws.backpressure) lazyResolve(writer.ready);
    } else if (state === 'erroring') {
      lazyReject(writer.ready, ws.storedError);
    } else if (state === 'closed') {
      lazyResolve(writer.ready);
      lazyResolve(writer.closed);
    } else {
      lazyReject(writer.ready, ws.storedError);
      lazyReject(writer.closed, ws.storedError);
    }
  }

  function WritableStreamDefaultControllerAbortSteps(ws, reason) {
    let result;
    const fn = ws.abortFn;
    if (fn === undefined) {
      result = PromiseResolve(undefined);
    } else {
      try {
        result = PromiseResolve(callFunction(fn, ws.sink, reason));
      } catch (e) {
        result = PromiseReject(e);
      }
    }
    WritableStreamDefaultControllerClearAlgorithms(ws);
    return result;
  }

  function SetUpWritableStreamDefaultController(
    ws, controllerObj, sink, startFn, writeFn, closeFn, abortFn, hwm, sizeFn, startValue,
  ) {
    ws.controllerObj = controllerObj;
    ws.sink = sink;
    ws.writeFn = writeFn;
    ws.closeFn = closeFn;
    ws.abortFn = abortFn;
    ws.hwm = hwm;
    ws.sizeFn = sizeFn;
    WritableStreamUpdateBackpressure(ws, WritableStreamDefaultControllerGetBackpressure(ws));
    const startResult =
      startFn === undefined ? startValue : callFunction(startFn, sink, controllerObj);
    promiseThen(
      PromiseResolve(startResult),
      () => {
        ws.started = true;
        WritableStreamDefaultControllerAdvanceQueueIfNeeded(ws);
      },
      (r) => {
        ws.started = true;
        WritableStreamDealWithRejection(ws, r);
      },
    );
  }

  function WritableStreamDefaultControllerAdvanceQueueIfNeeded(ws) {
    if (!ws.started) return;
    if (ws.inFlightWriteRequest !== undefined) return;
    if (ws.state === 'erroring') {
      WritableStreamFinishErroring(ws);
      return;
    }
    if (queueIsEmpty(ws)) return;
    const value = ws.queue[ws.qHead];
    if (value === CLOSE_SENTINEL) WritableStreamDefaultControllerProcessClose(ws);
    else WritableStreamDefaultControllerProcessWrite(ws, value);
  }

  function WritableStreamDefaultControllerClearAlgorithms(ws) {
    ws.writeFn = undefined;
    ws.closeFn = undefined;
    ws.abortFn = undefined;
    ws.sizeFn = undefined;
    ws.sink = undefined;
  }

  function WritableStreamDefaultControllerClose(ws) {
    EnqueueValueWithSize(ws, CLOSE_SENTINEL, 0);
    WritableStreamDefaultControllerAdvanceQueueIfNeeded(ws);
  }

  function WritableStreamDefaultControllerError(ws, error) {
    WritableStreamDefaultControllerClearAlgorithms(ws);
    WritableStreamStartErroring(ws, error);
  }

  function WritableStreamDefaultControllerErrorIfNeeded(ws, error) {
    if (ws.state === 'writable') WritableStreamDefaultControllerError(ws, error);
  }

  const WritableStreamDefaultControllerGetBackpressure = (ws) => ws.hwm - ws.queueTotalSize <= 0;

  function WritableStreamDefaultControllerGetChunkSize(ws, chunk) {
    const fn = ws.sizeFn;
    if (fn === undefined) return 1;
    try {
      return +callFunction(fn, undefined, chunk);
    } catch (e) {
      WritableStreamDefaultControllerErrorIfNeeded(ws, e);
      return 1;
    }
  }

  function WritableStreamDefaultControllerProcessClose(ws) {
    ws.inFlightCloseRequest = ws.closeRequest; // WritableStreamMarkCloseRequestInFlight
    ws.closeRequest = undefined;
    DequeueValue(ws);
    let result;
    const fn = ws.closeFn;
    if (fn === undefined) {
      result = RESOLVED;
    } else {
      try {
        result = PromiseResolve(callFunction(fn, ws.sink));
      } catch (e) {
        result = PromiseReject(e);
      }
    }
    WritableStreamDefaultControllerClearAlgorithms(ws);
    promiseThen(
      result,
      () => WritableStreamFinishInFlightClose(ws),
      (reason) => WritableStreamFinishInFlightCloseWithError(ws, reason),
    );
  }

  function WritableStreamDefaultControllerProcessWrite(ws, chunk) {
    ws.inFlightWriteRequest = ws.writeRequests.shift(); // WritableStreamMarkFirstWriteRequestInFlight
    let result;
    const fn = ws.writeFn;
    if (fn === undefined) {
      result = RESOLVED;
    } else {
      try {
        result = PromiseResolve(callFunction(fn, ws.sink, chunk, ws.controllerObj));
      } catch (e) {
        result = PromiseReject(e);
      }
    }
    if (ws.onWritten === undefined) {
      ws.onWritten = () => {
        // WritableStreamFinishInFlightWrite
        const request = ws.inFlightWriteRequest;
        ws.inFlightWriteRequest = undefined;
        request.resolve(undefined);
        const state = ws.state;
        DequeueValue(ws);
        if (!WritableStreamCloseQueuedOrInFlight(ws) && state === 'writable') {
          WritableStreamUpdateBackpressure(ws, WritableStreamDefaultControllerGetBackpressure(ws));
        }
        WritableStreamDefaultControllerAdvanceQueueIfNeeded(ws);
      };
      ws.onWriteFailed = (reason) => {
        if (ws.state === 'writable') WritableStreamDefaultControllerClearAlgorithms(ws);
        // WritableStreamFinishInFlightWriteWithError
        const request = ws.inFlightWriteRequest;
        ws.inFlightWriteRequest = undefined;
        request.reject(reason);
        WritableStreamDealWithRejection(ws, reason);
      };
    }
    promiseThen(result, ws.onWritten, ws.onWriteFailed);
  }

  function WritableStreamDefaultControllerWrite(ws, chunk, chunkSize) {
    try {
      EnqueueValueWithSize(ws, chunk, chunkSize);
    } catch (e) {
      WritableStreamDefaultControllerErrorIfNeeded(ws, e);
      return;
    }
    if (!WritableStreamCloseQueuedOrInFlight(ws) && ws.state === 'writable') {
      WritableStreamUpdateBackpressure(ws, WritableStreamDefaultControllerGetBackpressure(ws));
    }
    WritableStreamDefaultControllerAdvanceQueueIfNeeded(ws);
  }

  let wsOf;
  // https://streams.spec.whatwg.org/#ws-class
  class WritableStream {
    #ws;
    constructor(underlyingSink = undefined, strategy = undefined) {
      if (underlyingSink === INTERNAL) {
        this.#ws = strategy;
        strategy.obj = this;
        return;
      }
      if (underlyingSink !== undefined && !isObject(underlyingSink)) {
        throw new $TypeError("Failed to construct 'WritableStream': parameter 1 is not of type 'object'.");
      }
      const s = convertQueuingStrategy(strategy, 'strategy');
      // UnderlyingSink, members in lexicographic order.
      let abort, close, start, type, write;
      if (underlyingSink !== undefined) {
        const what = 'underlyingSink';
        abort = callbackMember(underlyingSink, 'abort', what);
        close = callbackMember(underlyingSink, 'close', what);
        start = callbackMember(underlyingSink, 'start', what);
        type = underlyingSink.type;
        write = callbackMember(underlyingSink, 'write', what);
      }
      if (type !== undefined) throw new $RangeError('Invalid type is specified');
      const ws = new WS();
      this.#ws = ws;
      ws.obj = this;
      const hwm = ExtractHighWaterMark(s.hwm, 1);
      const controller = new WritableStreamDefaultController(INTERNAL, ws);
      SetUpWritableStreamDefaultController(
        ws, controller, underlyingSink, start, write, close, abort, hwm, s.size, undefined,
      );
    }

    static {
      wsOf = (o) => (isObject(o) && #ws in o ? o.#ws : undefined);
    }

    get locked() {
      const ws = wsOf(this);
      if (ws === undefined) throw illegalInvocation();
      return IsWritableStreamLocked(ws);
    }

    abort(reason = undefined) {
      const ws = wsOf(this);
      if (ws === undefined) return PromiseReject(illegalInvocation());
      if (IsWritableStreamLocked(ws)) {
        return PromiseReject(new $TypeError('Cannot abort a stream that already has a writer'));
      }
      return WritableStreamAbort(ws, reason);
    }

    close() {
      const ws = wsOf(this);
      if (ws === undefined) return PromiseReject(illegalInvocation());
      if (IsWritableStreamLocked(ws)) {
        return PromiseReject(new $TypeError('Cannot close a stream that already has a writer'));
      }
      if (WritableStreamCloseQueuedOrInFlight(ws)) {
        return PromiseReject(new $TypeError('Cannot close an already-closing stream'));
      }
      return WritableStreamClose(ws);
    }

    getWriter() {
      const ws = wsOf(this);
      if (ws === undefined) throw illegalInvocation();
      return new WritableStreamDefaultWriter(INTERNAL, AcquireWritableStreamDefaultWriter(ws));
    }
  }

  let writerOf;
  // https://streams.spec.whatwg.org/#default-writer-class
  class WritableStreamDefaultWriter {
    #w;
    constructor(stream) {
      if (stream === INTERNAL) {
        this.#w = arguments[1];
        return;
      }
      const ws = wsOf(stream);
      if (ws === undefined) {
        throw new $TypeError("Failed to construct 'WritableStreamDefaultWriter': parameter 1 is not of type 'WritableStream'.");
      }
      const writer = new WSWriter();
      SetUpWritableStreamDefaultWriter(writer, ws);
      this.#w = writer;
    }

    static {
      writerOf = (o) => (isObject(o) && #w in o ? o.#w : undefined);
    }

    get closed() {
      const writer = writerOf(this);
      if (writer === undefined) return PromiseReject(illegalInvocation());
      return lazyGet(writer.closed);
    }

    get desiredSize() {
      const writer = writerOf(this);
      if (writer === undefined) throw illegalInvocation();
      if (writer.stream === undefined) {
        throw new $TypeError('Cannot get the desired size of a stream using a released writer');
      }
      return WritableStreamDefaultWriterGetDesiredSize(writer);
    }

    get ready() {
      const writer = writerOf(this);
      if (writer === undefined) return PromiseReject(illegalInvocation());
      return lazyGet(writer.ready);
    }

    abort(reason = undefined) {
      const writer = writerOf(this);
      if (writer === undefined) return PromiseReject(illegalInvocation());
      if (writer.stream === undefined) {
        return PromiseReject(new $TypeError('Cannot abort a stream using a released writer'));
      }
      return WritableStreamAbort(writer.stream, reason);
    }

    close() {
      const writer = writerOf(this);
      if (writer === undefined) return PromiseReject(illegalInvocation());
      const ws = writer.stream;
      if (ws === undefined) {
        return PromiseReject(new $TypeError('Cannot close a stream using a released writer'));
      }
      if (WritableStreamCloseQueuedOrInFlight(ws)) {
        return PromiseReject(new $TypeError('Cannot close an already-closing stream'));
      }
      return WritableStreamClose(ws);
    }

    releaseLock() {
      const writer = writerOf(this);
      if (writer === undefined) throw illegalInvocation();
      if (writer.stream === undefined) return;
      WritableStreamDefaultWriterRelease(writer);
    }

    write(chunk = undefined) {
      const writer = writerOf(this);
      if (writer === undefined) return PromiseReject(illegalInvocation());
      if (writer.stream === undefined) {
        return PromiseReject(new $TypeError('Cannot write to a stream using a released writer'));
      }
      const request = PromiseWithResolvers();
      WritableStreamDefaultWriterWrite(writer, chunk, request);
      return request.promise;
    }
  }

  // https://streams.spec.whatwg.org/#ws-default-controller-class
  class WritableStreamDefaultController {
    #ws;
    constructor(token = undefined, ws = undefined) {
      if (token !== INTERNAL) throw new $TypeError('Illegal constructor');
      this.#ws = ws;
    }

    get signal() {
      const ws = this.#ws;
      let ac = ws.abortController;
      if (ac === undefined) {
        ac = new AbortController();
        ws.abortController = ac;
        if (ws.abortRequested) {
          const reason = ws.abortReason;
          ws.abortReason = undefined;
          callFunction(AbortControllerAbort, ac, reason);
        }
      }
      return callFunction(AbortControllerSignal, ac);
    }

    error(e = undefined) {
      const ws = this.#ws;
      if (ws.state !== 'writable') return;
      WritableStreamDefaultControllerError(ws, e);
    }
  }

  // ---------------------------------------------------------------------
  // Transform streams
  // https://streams.spec.whatwg.org/#ts-abstract-ops
  // ---------------------------------------------------------------------

  class TS {
    backpressure = undefined;
    backpressureChange = undefined; // LazyPromise
    readable = undefined; // RS
    writable = undefined; // WS
    obj = undefined;
    // [[controller]]
    controllerObj = undefined;
    transformer = undefined; // `this` for the algorithms below
    transformFn = undefined; // IDENTITY for the default transform
    flushFn = undefined;
    cancelFn = undefined;
    finish = undefined; // [[finishPromise]] capability
    pendingChunk = undefined; // the write waiting for backpressure to lift
    onBackpressureLifted = undefined;
    onTransformFailed = undefined;
  }

  function InitializeTransformStream(
    ts, startPromise, writableHwm, writableSizeFn, readableHwm, readableSizeFn,
  ) {
    const ws = new WS();
    new WritableStream(INTERNAL, ws);
    SetUpWritableStreamDefaultController(
      ws, undefined, ts, undefined, tsSinkWrite, tsSinkClose, tsSinkAbort,
      writableHwm, writableSizeFn, startPromise,
    );
    ts.writable = ws;
    const rs = new RS();
    new ReadableStream(INTERNAL, rs);
    SetUpReadableStreamDefaultController(
      rs, undefined, ts, undefined, tsSourcePull, tsSourceCancel, readableHwm, readableSizeFn,
      startPromise,
    );
    ts.readable = rs;
    ts.backpressure = undefined;
    ts.backpressureChange = undefined;
    TransformStreamSetBackpressure(ts, true);
  }

  // Makes a transform stream whose algorithms are internal functions called
  // with `this` = transformer (https://streams.spec.whatwg.org/#transformstream-set-up).
  function CreateInternalTransformStream(transformer, transformFn, flushFn, readableHwm, readableSizeFn) {
    const ts = new TS();
    const start = PromiseWithResolvers();
    InitializeTransformStream(ts, start.promise, 1, undefined, readableHwm, readableSizeFn);
    ts.transformer = transformer;
    ts.transformFn = transformFn;
    ts.flushFn = flushFn;
    start.resolve(undefined);
    return ts;
  }

  function TransformStreamError(ts, e) {
    ReadableStreamDefaultControllerError(ts.readable, e);
    TransformStreamErrorWritableAndUnblockWrite(ts, e);
  }

  function TransformStreamErrorWritableAndUnblockWrite(ts, e) {
    TransformStreamDefaultControllerClearAlgorithms(ts);
    WritableStreamDefaultControllerErrorIfNeeded(ts.writable, e);
    TransformStreamUnblockWrite(ts);
  }

  function TransformStreamUnblockWrite(ts) {
    if (ts.backpressure) TransformStreamSetBackpressure(ts, false);
  }

  function TransformStreamSetBackpressure(ts, backpressure) {
    if (ts.backpressureChange !== undefined) lazyResolve(ts.backpressureChange);
    ts.backpressureChange = new LazyPromise(false);
    ts.backpressure = backpressure;
  }

  function TransformStreamDefaultControllerClearAlgorithms(ts) {
    ts.transformFn = undefined;
    ts.flushFn = undefined;
    ts.cancelFn = undefined;
  }

  function TransformStreamDefaultControllerEnqueue(ts, chunk) {
    const rs = ts.readable;
    if (!ReadableStreamDefaultControllerCanCloseOrEnqueue(rs)) {
      throw new $TypeError('Readable side is not in a state that permits enqueue');
    }
    try {
      ReadableStreamDefaultControllerEnqueue(rs, chunk);
    } catch (e) {
      TransformStreamErrorWritableAndUnblockWrite(ts, e);
      throw rs.storedError;
    }
    const backpressure = ReadableStreamDefaultControllerHasBackpressure(rs);
    if (backpressure !== ts.backpressure) TransformStreamSetBackpressure(ts, true);
  }

  function TransformStreamDefaultControllerPerformTransform(ts, chunk) {
    let result;
    const fn = ts.transformFn;
    if (fn === IDENTITY) {
      try {
        TransformStreamDefaultControllerEnqueue(ts, chunk);
        return RESOLVED;
      } catch (e) {
        result = PromiseReject(e);
      }
    } else if (fn === undefined) {
      return RESOLVED;
    } else {
      try {
        result = PromiseResolve(callFunction(fn, ts.transformer, chunk, ts.controllerObj));
      } catch (e) {
        result = PromiseReject(e);
      }
    }
    if (ts.onTransformFailed === undefined) {
      ts.onTransformFailed = (r) => {
        TransformStreamError(ts, r);
        throw r;
      };
    }
    return promiseThen(result, undefined, ts.onTransformFailed);
  }

  function TransformStreamDefaultControllerTerminate(ts) {
    ReadableStreamDefaultControllerClose(ts.readable);
    TransformStreamErrorWritableAndUnblockWrite(ts, new $TypeError('TransformStream terminated'));
  }

  // The writable side's algorithms, `this` = TS.
  function tsSinkWrite(chunk) {
    const ts = this;
    if (ts.backpressure) {
      // The writable side has one write in flight at a time, so one slot holds it.
      ts.pendingChunk = chunk;
      if (ts.onBackpressureLifted === undefined) {
        ts.onBackpressureLifted = () => {
          const pending = ts.pendingChunk;
          ts.pendingChunk = undefined;
          const writable = ts.writable;
          if (writable.state === 'erroring') throw writable.storedError;
          return TransformStreamDefaultControllerPerformTransform(ts, pending);
        };
      }
      return promiseThen(lazyGet(ts.backpressureChange), ts.onBackpressureLifted);
    }
    return TransformStreamDefaultControllerPerformTransform(ts, chunk);
  }

  function tsCallAlgorithm(ts, fn, arg) {
    if (fn === undefined) return PromiseResolve(undefined);
    try {
      return PromiseResolve(callFunction(fn, ts.transformer, arg));
    } catch (e) {
      return PromiseReject(e);
    }
  }

  function tsSinkAbort(reason) {
    const ts = this;
    if (ts.finish !== undefined) return ts.finish.promise;
    const readable = ts.readable;
    ts.finish = PromiseWithResolvers();
    const cancelPromise = tsCallAlgorithm(ts, ts.cancelFn, reason);
    TransformStreamDefaultControllerClearAlgorithms(ts);
    promiseThen(
      cancelPromise,
      () => {
        if (readable.state === 'errored') {
          ts.finish.reject(readable.storedError);
        } else {
          ReadableStreamDefaultControllerError(readable, reason);
          ts.finish.resolve(undefined);
        }
      },
      (r) => {
        ReadableStreamDefaultControllerError(readable, r);
        ts.finish.reject(r);
      },
    );
    return ts.finish.promise;
  }

  function tsSinkClose() {
    const ts = this;
    if (ts.finish !== undefined) return ts.finish.promise;
    const readable = ts.readable;
    ts.finish = PromiseWithResolvers();
    const flushPromise = tsCallAlgorithm(ts, ts.flushFn, ts.controllerObj);
    TransformStreamDefaultControllerClearAlgorithms(ts);
    promiseThen(
      flushPromise,
      () => {
        if (readable.state === 'errored') {
          ts.finish.reject(readable.storedError);
        } else {
          ReadableStreamDefaultControllerClose(readable);
          ts.finish.resolve(undefined);
        }
      },
      (r) => {
        ReadableStreamDefaultControllerError(readable, r);
        ts.finish.reject(r);
      },
    );
    return ts.finish.promise;
  }

  // The readable side's algorithms, `this` = TS.
  function tsSourcePull() {
    TransformStreamSetBackpressure(this, false);
    return lazyGet(this.backpressureChange);
  }

  function tsSourceCancel(reason) {
    const ts = this;
    if (ts.finish !== undefined) return ts.finish.promise;
    const writable = ts.writable;
    ts.finish = PromiseWithResolvers();
    const cancelPromise = tsCallAlgorithm(ts, ts.cancelFn, reason);
    TransformStreamDefaultControllerClearAlgorithms(ts);
    promiseThen(
      cancelPromise,
      () => {
        if (writable.state === 'errored') {
          ts.finish.reject(writable.storedError);
        } else {
          WritableStreamDefaultControllerErrorIfNeeded(writable, reason);
          TransformStreamUnblockWrite(ts);
          ts.finish.resolve(undefined);
        }
      },
      (r) => {
        WritableStreamDefaultControllerErrorIfNeeded(writable, r);
        TransformStreamUnblockWrite(ts);
        ts.finish.reject(r);
      },
    );
    return ts.finish.promise;
  }

  let tsOf;
  // https://streams.spec.whatwg.org/#ts-class
  class TransformStream {
    #ts;
    constructor(transformer = undefined, writableStrategy = undefined, readableStrategy = undefined) {
      if (transformer === INTERNAL) {
        this.#ts = writableStrategy;
        writableStrategy.obj = this;
        return;
      }
      if (transformer !== undefined && !isObject(transformer)) {
        throw new $TypeError("Failed to construct 'TransformStream': parameter 1 is not of type 'object'.");
      }
      const ws = convertQueuingStrategy(writableStrategy, 'writableStrategy');
      const rs = convertQueuingStrategy(readableStrategy, 'readableStrategy');
      // Transformer, members in lexicographic order.
      let cancel, flush, readableType, start, transform, writableType;
      if (transformer !== undefined) {
        const what = 'transformer';
        cancel = callbackMember(transformer, 'cancel', what);
        flush = callbackMember(transformer, 'flush', what);
        readableType = transformer.readableType;
        start = callbackMember(transformer, 'start', what);
        transform = callbackMember(transformer, 'transform', what);
        writableType = transformer.writableType;
      }
      if (readableType !== undefined) throw new $RangeError('Invalid readableType specified');
      if (writableType !== undefined) throw new $RangeError('Invalid writableType specified');
      const readableHwm = ExtractHighWaterMark(rs.hwm, 0);
      const writableHwm = ExtractHighWaterMark(ws.hwm, 1);
      const startPromise = PromiseWithResolvers();
      const ts = new TS();
      this.#ts = ts;
      ts.obj = this;
      InitializeTransformStream(ts, startPromise.promise, writableHwm, ws.size, readableHwm, rs.size);
      // SetUpTransformStreamDefaultControllerFromTransformer
      ts.controllerObj = new TransformStreamDefaultController(INTERNAL, ts);
      ts.transformer = transformer;
      ts.transformFn = transform === undefined ? IDENTITY : transform;
      ts.flushFn = flush;
      ts.cancelFn = cancel;
      if (start !== undefined) {
        startPromise.resolve(callFunction(start, transformer, ts.controllerObj));
      } else {
        startPromise.resolve(undefined);
      }
    }

    static {
      tsOf = (o) => (isObject(o) && #ts in o ? o.#ts : undefined);
    }

    get readable() {
      const ts = tsOf(this);
      if (ts === undefined) throw illegalInvocation();
      return ts.readable.obj;
    }

    get writable() {
      const ts = tsOf(this);
      if (ts === undefined) throw illegalInvocation();
      return ts.writable.obj;
    }
  }

  // https://streams.spec.whatwg.org/#ts-default-controller-class
  class TransformStreamDefaultController {
    #ts;
    constructor(token = undefined, ts = undefined) {
      if (token !== INTERNAL) throw new $TypeError('Illegal constructor');
      this.#ts = ts;
    }

    get desiredSize() {
      return ReadableStreamDefaultControllerGetDesiredSize(this.#ts.readable);
    }

    enqueue(chunk = undefined) {
      TransformStreamDefaultControllerEnqueue(this.#ts, chunk);
    }

    error(reason = undefined) {
      TransformStreamError(this.#ts, reason);
    }

    terminate() {
      TransformStreamDefaultControllerTerminate(this.#ts);
    }
  }

  // ---------------------------------------------------------------------
  // Queuing strategies
  // https://streams.spec.whatwg.org/#qs
  // ---------------------------------------------------------------------

  function convertQueuingStrategyInit(init, name) {
    const dict = dictionary(init, 'init');
    const hwm = dict === undefined ? undefined : dict.highWaterMark;
    if (hwm === undefined) {
      throw new $TypeError(`Failed to construct '${name}': required member highWaterMark is undefined.`);
    }
    return +hwm;
  }

  const countSize = { size() { return 1; } }.size;
  const byteLengthSize = { size(chunk) { return chunk.byteLength; } }.size;

  class ByteLengthQueuingStrategy {
    #hwm;
    constructor(init) {
      this.#hwm = convertQueuingStrategyInit(init, 'ByteLengthQueuingStrategy');
    }
    get highWaterMark() {
      return this.#hwm;
    }
    get size() {
      this.#hwm;
      return byteLengthSize;
    }
  }

  class CountQueuingStrategy {
    #hwm;
    constructor(init) {
      this.#hwm = convertQueuingStrategyInit(init, 'CountQueuingStrategy');
    }
    get highWaterMark() {
      return this.#hwm;
    }
    get size() {
      this.#hwm;
      return countSize;
    }
  }

  // ---------------------------------------------------------------------
  // Encoding streams
  // https://encoding.spec.whatwg.org/#interface-textencoderstream
  // ---------------------------------------------------------------------

  class EncoderState {
    encoder = new TextEncoder();
    pendingHighSurrogate = '';
    ts = undefined;
  }

  // "encode and enqueue a chunk", `this` = EncoderState
  function encodeTransform(chunk) {
    let s = `${chunk}`;
    if (this.pendingHighSurrogate !== '') {
      s = this.pendingHighSurrogate + s;
      this.pendingHighSurrogate = '';
    }
    const n = s.length;
    if (n !== 0) {
      const last = s.charCodeAt(n - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        this.pendingHighSurrogate = s[n - 1];
        s = s.slice(0, n - 1);
      }
    }
    if (s.length === 0) return;
    TransformStreamDefaultControllerEnqueue(this.ts, callFunction(TextEncoderEncode, this.encoder, s));
  }

  // "encode and flush"
  function encodeFlush() {
    if (this.pendingHighSurrogate !== '') {
      TransformStreamDefaultControllerEnqueue(this.ts, new $Uint8Array([0xef, 0xbf, 0xbd]));
    }
  }

  class TextEncoderStream {
    #s;
    constructor() {
      const s = new EncoderState();
      s.ts = CreateInternalTransformStream(s, encodeTransform, encodeFlush, 0, undefined);
      this.#s = s;
    }
    get encoding() {
      this.#s;
      return 'utf-8';
    }
    get readable() {
      return this.#s.ts.readable.obj;
    }
    get writable() {
      return this.#s.ts.writable.obj;
    }
  }

  class DecoderState {
    decoder;
    ts = undefined;
    constructor(decoder) {
      this.decoder = decoder;
    }
  }

  // "decode and enqueue a chunk", `this` = DecoderState
  function decodeTransform(chunk) {
    // decode() rejects other objects (AllowSharedBufferSource), but would
    // take a missing chunk for the end of the input.
    if (!isObject(chunk)) {
      throw new $TypeError("Failed to execute 'write' on 'TextDecoderStream': the chunk is not an ArrayBuffer or ArrayBufferView.");
    }
    const out = callFunction(TextDecoderDecode, this.decoder, chunk, STREAM_TRUE);
    if (out !== '') TransformStreamDefaultControllerEnqueue(this.ts, out);
  }

  // "flush and enqueue"
  function decodeFlush() {
    const out = callFunction(TextDecoderDecode, this.decoder);
    if (out !== '') TransformStreamDefaultControllerEnqueue(this.ts, out);
  }

  class TextDecoderStream {
    #s;
    constructor(label = undefined, options = undefined) {
      const s = new DecoderState(new TextDecoder(label, options));
      s.ts = CreateInternalTransformStream(s, decodeTransform, decodeFlush, 0, undefined);
      this.#s = s;
    }
    get encoding() {
      return callFunction(TextDecoderEncoding, this.#s.decoder);
    }
    get fatal() {
      return callFunction(TextDecoderFatal, this.#s.decoder);
    }
    get ignoreBOM() {
      return callFunction(TextDecoderIgnoreBOM, this.#s.decoder);
    }
    get readable() {
      return this.#s.ts.readable.obj;
    }
    get writable() {
      return this.#s.ts.writable.obj;
    }
  }

  // ---------------------------------------------------------------------
  // Cloudflare Workers byte transforms
  // https://developers.cloudflare.com/workers/runtime-apis/streams/transformstream/
  // ---------------------------------------------------------------------

  class ByteTransformState {
    ts = undefined;
    expected; // undefined for IdentityTransformStream
    written = 0;
    constructor(expected) {
      this.expected = expected;
    }
  }

  function toByteChunk(chunk) {
    if (ArrayBufferIsView(chunk)) {
      if (isUint8Array(chunk)) return chunk;
      return new $Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
    if (isArrayBuffer(chunk)) return new $Uint8Array(chunk);
    throw new $TypeError(
      'This TransformStream is being used as a byte stream, but received an object of non-ArrayBuffer/ArrayBufferView type on its writable side.',
    );
  }

  // `this` = ByteTransformState
  function byteTransform(chunk) {
    const bytes = toByteChunk(chunk);
    const n = bytes.byteLength;
    if (this.expected !== undefined) {
      this.written += n;
      if (this.written > this.expected) {
        throw new $TypeError('Attempt to write too many bytes through a FixedLengthStream.');
      }
    }
    if (n !== 0) TransformStreamDefaultControllerEnqueue(this.ts, bytes);
  }

  function fixedLengthFlush() {
    if (this.written < this.expected) {
      throw new $TypeError('FixedLengthStream did not see all expected bytes before close().');
    }
  }

  function byteTransformStream(expected, queuingStrategy) {
    const s = new ByteTransformState(expected);
    const dict = dictionary(queuingStrategy, 'queuingStrategy');
    let hwm = 0;
    if (dict !== undefined && dict.highWaterMark !== undefined) {
      const v = dict.highWaterMark;
      hwm = ExtractHighWaterMark(typeof v === 'bigint' ? $Number(v) : +v, 0);
    }
    s.ts = CreateInternalTransformStream(
      s, byteTransform, expected === undefined ? undefined : fixedLengthFlush, hwm,
      hwm === 0 ? undefined : byteLengthSize,
    );
    return s.ts;
  }

  class IdentityTransformStream extends TransformStream {
    constructor(queuingStrategy = undefined) {
      // FixedLengthStream passes (INTERNAL, record) through here.
      const ts =
        queuingStrategy === INTERNAL ? arguments[1] : byteTransformStream(undefined, queuingStrategy);
      super(INTERNAL, ts);
    }
  }

  function convertExpectedLength(v) {
    const n = typeof v === 'bigint' ? $Number(v) : +v;
    if (!NumberIsInteger(n) || n < 0 || n > 9007199254740991) {
      throw new $TypeError('FixedLengthStream requires a non-negative integer expected length.');
    }
    return n;
  }

  class FixedLengthStream extends IdentityTransformStream {
    constructor(expectedLength, queuingStrategy = undefined) {
      const n = convertExpectedLength(expectedLength);
      super(INTERNAL, byteTransformStream(n, queuingStrategy));
    }
  }

  // ---------------------------------------------------------------------
  // Reading a whole Request or Response body stream (text(), json(), ...)
  // https://fetch.spec.whatwg.org/#body-fully-read
  // https://streams.spec.whatwg.org/#readablestreamdefaultreader-read-all-bytes
  // ---------------------------------------------------------------------

  // The read loop is here rather than in the host so that a read that never
  // ends (a stream that is never closed) is only records and promise
  // reactions, which the collector sees: once nothing else reaches the
  // stream, it is collected together with the read. A host future awaiting
  // each read would keep all of it alive for the isolate's life.
  //
  // `onChunk(chunk)` and `onDone()` are host functions that hold no JS
  // values: the first takes a chunk's bytes (throwing a TypeError for a
  // chunk that is not bytes), the second turns all the bytes taken into
  // the result (text, JSON, ...), or throws.
  class BodyRead {
    reader;
    onChunk;
    onDone;
    cancelOnChunkError;
    resolve;
    reject;
    reading = false;
    looping = false;
    done = false;
    constructor(reader, onChunk, onDone, cancelOnChunkError, resolve, reject) {
      this.reader = reader;
      this.onChunk = onChunk;
      this.onDone = onDone;
      this.cancelOnChunkError = cancelOnChunkError;
      this.resolve = resolve;
      this.reject = reject;
    }
    chunkSteps(chunk) {
      this.reading = false;
      try {
        this.onChunk(chunk);
      } catch (e) {
        this.done = true;
        // Fetch's "fully read" leaves the stream locked and uncancelled,
        // which body reads keep. A caller that gives up on the body (a
        // cache.put past its size limit) must still stop the source, and
        // only this read holds the reader that could. The source gets no
        // reason, as it always has from cache.put. A stream that has already
        // closed or errored only settles the (ignored) promise.
        if (this.cancelOnChunkError) {
          setPromiseIsHandled(ReadableStreamCancel(this.reader.stream, undefined));
        }
        this.reject(e);
        return;
      }
      if (!this.looping) bodyReadLoop(this);
    }
    closeSteps() {
      this.done = true;
      let result;
      try {
        result = this.onDone();
      } catch (e) {
        this.reject(e);
        return;
      }
      this.resolve(result);
    }
    errorSteps(e) {
      this.done = true;
      this.reject(e);
    }
  }

  // Reads while chunks come synchronously; a loop rather than the spec's
  // recursion, which a long queue would turn into a deep stack.
  function bodyReadLoop(b) {
    b.looping = true;
    while (!b.reading && !b.done) {
      b.reading = true;
      ReadableStreamDefaultReaderRead(b.reader, b);
    }
    b.looping = false;
  }

  // Locks `o` (a ReadableStream) and reads it to its end; a promise of what
  // `onDone()` returns. With `cancelOnChunkError`, `o` is also cancelled
  // when `onChunk` throws.
  function readBodyFully(o, onChunk, onDone, cancelOnChunkError) {
    const rs = rsOf(o);
    if (rs === undefined) return PromiseReject(illegalInvocation());
    let reader;
    try {
      reader = AcquireReadableStreamDefaultReader(rs);
    } catch (e) {
      return PromiseReject(e);
    }
    const r = PromiseWithResolvers();
    bodyReadLoop(
      new BodyRead(reader, onChunk, onDone, cancelOnChunkError === true, r.resolve, r.reject),
    );
    return r.promise;
  }

  // ---------------------------------------------------------------------
  // Interface objects
  // ---------------------------------------------------------------------

  const interfaces = {
    ReadableStream,
    ReadableStreamDefaultReader,
    ReadableStreamBYOBReader,
    ReadableStreamBYOBRequest,
    ReadableStreamDefaultController,
    ReadableByteStreamController,
    WritableStream,
    WritableStreamDefaultWriter,
    WritableStreamDefaultController,
    TransformStream,
    TransformStreamDefaultController,
    ByteLengthQueuingStrategy,
    CountQueuingStrategy,
    TextEncoderStream,
    TextDecoderStream,
    IdentityTransformStream,
    FixedLengthStream,
  };

  // WebIDL: operations and attributes are enumerable; prototypes carry
  // @@toStringTag.
  const makeEnumerable = (proto, keys) => {
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === 'constructor') continue;
      const d = ObjectGetOwnPropertyDescriptor(proto, keys[i]);
      d.enumerable = true;
      ObjectDefineProperty(proto, keys[i], d);
    }
  };
  const names = ObjectGetOwnPropertyNames(interfaces);
  for (let i = 0; i < names.length; i++) {
    const proto = interfaces[names[i]].prototype;
    makeEnumerable(proto, ObjectGetOwnPropertyNames(proto));
    ObjectDefineProperty(proto, SymbolToStringTag, { value: names[i], configurable: true });
  }
  makeEnumerable(RSAsyncIteratorPrototype, ObjectGetOwnPropertyNames(RSAsyncIteratorPrototype));

  // For Request and Response bodies (body.rs), which must see what no
  // public API shows: -1 for anything but a ReadableStream, else bit 1 set
  // when the stream is disturbed and bit 2 when it is locked; and the read
  // of a whole body stream (readBodyFully above).
  if (RegisterInternals !== undefined) {
    RegisterInternals((o) => {
      const rs = rsOf(o);
      if (rs === undefined) return -1;
      return (rs.disturbed ? 1 : 0) | (rs.reader !== undefined ? 2 : 0);
    }, readBodyFully);
  }

  return interfaces;
});
