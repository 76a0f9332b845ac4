//! WHATWG Streams: `ReadableStream` (default and BYOB readers, byte streams
//! with `byobRequest`, `tee`, `pipeTo`, `pipeThrough`, async iteration,
//! `ReadableStream.from`), `WritableStream`,
//! `TransformStream`, their controllers, readers and writers, the
//! `CountQueuingStrategy` and `ByteLengthQueuingStrategy` strategies,
//! `TextEncoderStream` and `TextDecoderStream`, and the Workers byte
//! transforms `IdentityTransformStream` and `FixedLengthStream`.
//!
//! Spec: <https://streams.spec.whatwg.org/>,
//! <https://encoding.spec.whatwg.org/#interface-textdecoderstream>,
//! <https://developers.cloudflare.com/workers/runtime-apis/streams/transformstream/>
//!
//! # Why JavaScript
//!
//! Unlike the rest of this crate, the substance here is JavaScript
//! (`streams.js`, embedded with `include_str!`), as in Deno's `ext/web`. The
//! spec's algorithms are made of promises and reactions that capture stream
//! state; written in Rust every such reaction would be a `Function::new`
//! closure holding JS values, which the QuickJS garbage collector cannot
//! trace, so any cycle through one (a stream, its controller, a pending read)
//! would leak and abort the process when the runtime is freed. In JavaScript
//! the collector sees everything; the only Rust function involved (the
//! loader below) captures no JS values. The script is one function
//! expression that is called with the intrinsics it needs (`TextEncoder`,
//! `TextDecoder`, `AbortController`, `AbortSignal`) and returns the classes,
//! which are then defined on the global object, so no helper is left on
//! `globalThis`. Internal state lives in records reachable only through
//! private class fields, and the algorithms use `Promise.prototype.then` and
//! friends captured at startup, so user code can neither reach nor subvert
//! them.
//!
//! # Loading
//!
//! The implementation costs an isolate about 180 KB of engine memory and
//! about 1 ms to load, which most handlers would pay for nothing, so it is
//! loaded on first use: [`init`] runs `streams_lazy.js`, which captures the
//! intrinsics and defines each global as an accessor; the first read of any
//! of them loads the implementation and turns every global it defines into
//! the data property WebIDL specifies (writable, configurable, not
//! enumerable). Assigning or deleting one before that works as it would on a
//! data property. Both scripts are compiled to bytecode once per process
//! (without their source text) and each isolate only deserialises it.
//! Before the first use, `Object.getOwnPropertyDescriptor(globalThis,
//! "ReadableStream")` shows an accessor rather than a data property.
//!
//! Once loaded, the implementation hands the host two internal functions,
//! kept as isolate userdata: [`stream_state`] uses one to tell `Request` and
//! `Response` whether a body stream is disturbed or locked, which Fetch needs
//! (`bodyUsed`, and the `TypeError` for reading a body twice) and no public
//! API shows; [`read_fully`] uses the other to read a whole body stream
//! (`text()` and friends) with a loop of JS promise reactions, which the
//! collector can see through, rather than a Rust future, which it cannot.
//!
//! The abstract operations keep the spec's names and step order. QuickJS has
//! no JIT, so the per-chunk path is kept lean: a stream and its controller
//! share one record, read and write requests are objects with methods rather
//! than closures, `reader.read()` with a chunk queued returns without
//! allocating a read request, a pipe reads synchronously while the
//! destination wants chunks, and promises the spec keeps in slots
//! (`reader.closed`, `writer.ready`, ...) are created only when looked at.
//!
//! Byte streams follow the spec (`ReadableStreamBYOBReader` with
//! `read(view, { min })`, `ReadableStreamBYOBRequest`, `autoAllocateChunkSize`,
//! pull-into descriptors, `ReadableByteStreamTee`, whose branches' BYOB reads
//! are BYOB reads of the source into the reader's buffer), and buffers are
//! transferred (detached) where the spec transfers them, with QuickJS's
//! `ArrayBuffer.prototype.transferToFixedLength`. As in the spec, an
//! underlying byte source that closes while a BYOB read is pending settles
//! that read by calling `byobRequest.respond(0)`; host bodies
//! (`Request`/`Response` bodies, which are byte streams as in workerd) do so.
//!
//! # Departures from the spec
//!
//! - `pipeTo` reads synchronously for as long as a chunk is queued and the
//!   destination's `desiredSize` is positive, instead of waiting a microtask
//!   per chunk; which chunks are read and when the source is pulled is as the
//!   spec says, only the number of microtask ticks differs.
//! - `IdentityTransformStream` and `FixedLengthStream` are `TransformStream`s
//!   whose readable side is a default stream of `Uint8Array`s (workerd makes
//!   it a byte stream): written `ArrayBuffer`s and views are passed on as
//!   `Uint8Array`s without copying, empty chunks are dropped, anything else
//!   errors the stream with a `TypeError`. A `FixedLengthStream` that sees
//!   more than its length errors on that write, and one closed short of it
//!   errors on close.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use rquickjs::{Ctx, Function, JsLifetime, Object, Result, Value};

use crate::glue;

/// The interfaces `streams.js` returns, defined on the global object.
const INTERFACES: &[&str] = &[
    "ReadableStream",
    "ReadableStreamDefaultReader",
    "ReadableStreamBYOBReader",
    "ReadableStreamBYOBRequest",
    "ReadableStreamDefaultController",
    "ReadableByteStreamController",
    "WritableStream",
    "WritableStreamDefaultWriter",
    "WritableStreamDefaultController",
    "TransformStream",
    "TransformStreamDefaultController",
    "ByteLengthQueuingStrategy",
    "CountQueuingStrategy",
    "TextEncoderStream",
    "TextDecoderStream",
    "IdentityTransformStream",
    "FixedLengthStream",
];

/// Installs the streams interfaces. Needs `encoding` (`TextEncoder`,
/// `TextDecoder`) and `events` (`AbortController`, `AbortSignal`) first.
///
/// The implementation is loaded when one of its globals is first read (see
/// `streams_lazy.js`), so an isolate that never touches streams does not
/// pay its ~180 KB and ~1 ms.
pub fn init<'js>(ctx: &Ctx<'js>) -> Result<()> {
    let globals = ctx.globals();
    let lazy = glue::STREAMS_LAZY.load(ctx)?;
    // Captures no JS values, so the collector loses nothing by not seeing into it.
    let load_factory = Function::new(ctx.clone(), |ctx: Ctx<'js>| -> Result<Function<'js>> {
        glue::STREAMS.load(&ctx)
    })?;
    let names = rquickjs::Array::new(ctx.clone())?;
    for (i, name) in INTERFACES.iter().enumerate() {
        names.set(i, *name)?;
    }
    // Stored now, while no other userdata is borrowed; filled in when the
    // implementation loads.
    let _ = ctx.store_userdata(Internals::default());
    // Captures no JS values; the functions it is given live in the userdata.
    let register = Function::new(
        ctx.clone(),
        |ctx: Ctx<'js>, state: Function<'js>, read: Function<'js>| {
            if let Some(internals) = ctx.userdata::<Internals>() {
                *internals.state.borrow_mut() = Some(state);
                *internals.read_fully.borrow_mut() = Some(read);
                internals.loaded.set(true);
            }
        },
    )?;
    lazy.call::<_, ()>((
        load_factory,
        names,
        globals.get::<_, Value>("TextEncoder")?,
        globals.get::<_, Value>("TextDecoder")?,
        globals.get::<_, Value>("AbortController")?,
        globals.get::<_, Value>("AbortSignal")?,
        register,
    ))
}

/// What `streams.js` hands the host once loaded. Kept as isolate userdata,
/// which is dropped before the runtime is freed, so holding JS functions
/// here leaks nothing; they keep only the implementation alive, which lives
/// as long as the isolate anyway.
#[derive(Default, JsLifetime)]
struct Internals<'js> {
    /// A function of a value giving -1 when it is not a `ReadableStream`,
    /// else bit 1 for disturbed and bit 2 for locked.
    state: RefCell<Option<Function<'js>>>,
    /// `readBodyFully(stream, onChunk, onDone, cancelOnChunkError)`: see
    /// [`read_fully`].
    read_fully: RefCell<Option<Function<'js>>>,
    /// Set once the implementation has loaded; shared with the host (see
    /// [`loaded_flag`]).
    loaded: Rc<Cell<bool>>,
}

/// A flag that turns true once this context has loaded the streams
/// implementation, readable without entering the context. The host uses it
/// to learn which workers use streams, so that their next cold start can
/// take a runtime that loaded them ahead of need (see [`load`]).
pub fn loaded_flag(ctx: &Ctx<'_>) -> Rc<Cell<bool>> {
    match ctx.userdata::<Internals>() {
        Some(internals) => internals.loaded.clone(),
        None => Rc::new(Cell::new(false)),
    }
}

/// Loads the streams implementation now rather than at the first read of
/// one of its globals: for a runtime prepared ahead of a cold start, off the
/// request path. Must run before any user code (it reads the global
/// `ReadableStream`, which user code could have replaced).
pub fn load(ctx: &Ctx<'_>) -> Result<()> {
    ctx.globals().get::<_, Value>("ReadableStream").map(drop)
}

/// The state of a JS `ReadableStream` that no public API shows, needed by
/// `Request` and `Response` bodies (Fetch's "disturbed" and "locked").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamState {
    /// Read from or cancelled at least once
    /// (<https://streams.spec.whatwg.org/#is-readable-stream-disturbed>).
    pub disturbed: bool,
    /// Has a reader.
    pub locked: bool,
}

/// The [`StreamState`] of `stream`, or `None` when it is not a
/// `ReadableStream` made by this implementation (or the implementation was
/// never loaded, in which case no stream exists).
pub fn stream_state<'js>(ctx: &Ctx<'js>, stream: &Object<'js>) -> Option<StreamState> {
    let f = match ctx.userdata::<Internals>() {
        Some(internals) => internals.state.borrow().clone(),
        None => None,
    }?;
    // The function only reads private fields and cannot throw; should it
    // ever, the exception must not stay pending for unrelated code to find.
    let bits: i32 = match f.call((stream.clone(),)) {
        Ok(bits) => bits,
        Err(e) => {
            if matches!(e, rquickjs::Error::Exception) {
                ctx.catch();
            }
            return None;
        }
    };
    (bits >= 0).then_some(StreamState {
        disturbed: bits & 1 != 0,
        locked: bits & 2 != 0,
    })
}

/// What [`read_fully`] does to the stream when `on_chunk` throws. Either
/// way the read rejects with what was thrown and the stream stays locked:
/// the caller has no reader to release it with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnChunkError {
    /// Leave the stream as it is, as Fetch's "fully read" does (a `text()`
    /// given a chunk that is not bytes).
    Keep,
    /// Cancel it with no reason, so that its source stops producing for a
    /// read that has given up (a `cache.put` past its size limit).
    Cancel,
}

/// Locks `stream` and reads it to its end, as Fetch's "fully read" does for
/// `text()` and friends: `on_chunk` is called with each chunk (and rejects
/// the read by throwing, after which `on_chunk_error` says what becomes of
/// the stream), then `on_done` with no arguments; the promise settles with
/// what `on_done` returns or the first error (a chunk, the stream, or
/// `on_done` itself). A stream that is not a `ReadableStream` of this
/// implementation, or is locked, gives a rejected promise.
///
/// The pending read is made of JS objects only, so a read of a stream that
/// never ends is collected once nothing reaches the stream, provided
/// `on_chunk` and `on_done` capture no JS values (the collector cannot see
/// into Rust closures).
///
/// Spec: <https://fetch.spec.whatwg.org/#body-fully-read>,
/// <https://streams.spec.whatwg.org/#readablestreamdefaultreader-read-all-bytes>
pub fn read_fully<'js>(
    ctx: &Ctx<'js>,
    stream: &Object<'js>,
    on_chunk: Function<'js>,
    on_done: Function<'js>,
    on_chunk_error: OnChunkError,
) -> Result<rquickjs::Promise<'js>> {
    let f = match ctx.userdata::<Internals>() {
        Some(internals) => internals.read_fully.borrow().clone(),
        None => None,
    };
    let cancel = on_chunk_error == OnChunkError::Cancel;
    match f {
        Some(f) => f.call((stream.clone(), on_chunk, on_done, cancel)),
        // Not loaded, so `stream` cannot be one of its streams.
        None => {
            let (promise, _, reject) = rquickjs::Promise::new(ctx)?;
            let _ = crate::error::WebApiError::type_error("Illegal invocation").throw(ctx);
            reject.call::<_, ()>((ctx.catch(),))?;
            Ok(promise)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    /// Runs `src` (the body of an async function) and compares its result;
    /// a body still pending after 5 s gives `TIMEOUT` rather than hanging.
    #[track_caller]
    fn check(src: &str, expected: &str) {
        let wrapped = format!(
            "let timer;
             const timeout = new Promise((r) => {{ timer = setTimeout(() => r('TIMEOUT'), 5000); }});
             try {{ return await Promise.race([(async () => {{ {src}\n}})(), timeout]); }}
             finally {{ clearTimeout(timer); }}"
        );
        assert_eq!(run_js(&wrapped), expected, "{src}");
    }

    #[test]
    fn the_loaded_flag_turns_on_with_the_first_use_or_an_early_load() {
        crate::testing::block_on_local(async {
            let rt = rquickjs::AsyncRuntime::new().unwrap();
            for early in [false, true] {
                let ctx = rquickjs::AsyncContext::full(&rt).await.unwrap();
                ctx.with(|ctx| {
                    crate::install(&ctx).unwrap();
                    let flag = super::loaded_flag(&ctx);
                    assert!(!flag.get(), "loaded by install alone");
                    let _: rquickjs::Value = ctx.eval("new TextEncoder()").unwrap();
                    assert!(!flag.get(), "loaded by an unrelated global");
                    if early {
                        super::load(&ctx).unwrap();
                    } else {
                        let _: rquickjs::Value = ctx.eval("new Response('x').body").unwrap();
                    }
                    assert!(flag.get());
                    let kind: String = ctx
                        .eval("typeof Object.getOwnPropertyDescriptor(globalThis, 'WritableStream').value")
                        .unwrap();
                    assert_eq!(kind, "function");
                })
                .await;
            }
        });
    }

    #[test]
    fn globals_are_interfaces_once_loaded() {
        check(
            "const before = typeof Object.getOwnPropertyDescriptor(globalThis, 'WritableStream').get;
             const keys = Object.keys(globalThis).filter((k) => k.includes('Stream'));
             const rs = ReadableStream;
             const names = ['ReadableStream', 'WritableStream', 'TransformStream', 'TextDecoderStream',
                            'FixedLengthStream'];
             const after = names.map((n) => {
               const d = Object.getOwnPropertyDescriptor(globalThis, n);
               return [typeof d.value, d.enumerable, d.writable, d.configurable].join('/');
             });
             return [before, keys.length, rs === ReadableStream, ...after].join(' ');",
            "function 0 true function/false/true/true function/false/true/true function/false/true/true \
             function/false/true/true function/false/true/true",
        );
    }

    #[test]
    fn patched_builtins_before_first_use_do_not_matter() {
        // Spies that count calls coming from the implementation's code.
        check(
            "let fromStreams = 0;
             const spy = (orig) => function (...args) {
               if (String(new Error().stack).includes('outpost:streams')) fromStreams++;
               return Reflect.apply(orig, this, args);
             };
             const saved = [Promise.prototype.then, Function.prototype.call, Function.prototype.bind,
                            Object.defineProperty, Promise.resolve];
             Promise.prototype.then = spy(saved[0]);
             Function.prototype.call = spy(saved[1]);
             Function.prototype.bind = spy(saved[2]);
             Object.defineProperty = spy(saved[3]);
             Promise.resolve = spy(saved[4]);
             let out;
             try {
               const rs = new ReadableStream({ start(c) { c.enqueue('a'); c.close(); } });
               const [b1, b2] = rs.tee();
               const r = b1.getReader();
               const v = (await r.read()).value;
               await r.closed;
               await b2.pipeThrough(new TransformStream()).pipeTo(new WritableStream());
               // The check can see the implementation's frames at all:
               let seen = false;
               new ReadableStream({ start() { seen = String(new Error().stack).includes('outpost:streams'); } });
               out = [v, fromStreams, seen].join();
             } finally {
               [Promise.prototype.then, Function.prototype.call, Function.prototype.bind,
                Object.defineProperty, Promise.resolve] = saved;
             }
             return out;",
            "a,0,true",
        );
    }

    #[test]
    fn assigning_a_global_before_first_use() {
        check(
            "globalThis.TransformStream = 'mine';
             const other = typeof WritableStream;
             const d = Object.getOwnPropertyDescriptor(globalThis, 'TransformStream');
             delete globalThis.CountQueuingStrategy;
             return [TransformStream, other, d.writable, d.enumerable, typeof ReadableStream.from,
                     'CountQueuingStrategy' in globalThis].join();",
            "mine,function,true,false,function,false",
        );
    }

    #[test]
    fn read_enqueued_chunks_then_done() {
        check(
            "const rs = new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); c.close(); } });
             const r = rs.getReader();
             const out = [];
             for (;;) { const { value, done } = await r.read(); if (done) break; out.push(value); }
             await r.closed;
             return out.join();",
            "a,b",
        );
    }

    /// Resolves after the pending jobs and a timer tick have run.
    const TICK: &str = "const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));";

    #[track_caller]
    fn check_ticked(src: &str, expected: &str) {
        check(&format!("{TICK}\n{src}"), expected);
    }

    // ----- ReadableStream -------------------------------------------------

    #[test]
    fn pull_fills_to_high_water_mark() {
        check_ticked(
            "let pulls = 0;
             const rs = new ReadableStream({ pull(c) { pulls++; c.enqueue(pulls); } }, { highWaterMark: 3 });
             await tick();
             const before = pulls;
             const r = rs.getReader();
             const a = await r.read();
             await tick();
             return [before, a.value, a.done, pulls].join();",
            "3,1,false,4",
        );
    }

    #[test]
    fn pull_waits_for_start_and_for_previous_pull() {
        check_ticked(
            "const log = [];
             let release;
             let active = 0;
             const rs = new ReadableStream({
               start() { log.push('start'); return new Promise((r) => { release = r; }); },
               pull(c) {
                 log.push('pull' + active++);
                 return tick(5).then(() => { active--; c.enqueue('x'); });
               },
             });
             await tick();
             log.push('started');
             release();
             const r = rs.getReader();
             const [a, b] = await Promise.all([r.read(), r.read()]);
             return [log.slice(0, 4).join(' '), a.value, b.value].join();",
            "start started pull0 pull0,x,x",
        );
    }

    #[test]
    fn desired_size_follows_queue_and_state() {
        check(
            "let ctl;
             const rs = new ReadableStream({ start(c) { ctl = c; } }, { highWaterMark: 2 });
             const out = [ctl.desiredSize];
             ctl.enqueue('a'); out.push(ctl.desiredSize);
             ctl.enqueue('b'); ctl.enqueue('c'); out.push(ctl.desiredSize);
             ctl.close(); out.push(ctl.desiredSize);
             const r = rs.getReader();
             await r.read(); await r.read(); await r.read();
             out.push(ctl.desiredSize);
             const e = new ReadableStream({ start(c) { ctl = c; c.error(new Error('x')); } });
             out.push(ctl.desiredSize);
             return out.join();",
            "2,1,-1,-1,0,",
        );
    }

    #[test]
    fn controller_rejects_enqueue_and_close_after_close() {
        check(
            "let ctl;
             new ReadableStream({ start(c) { ctl = c; } });
             ctl.close();
             const out = [];
             for (const f of [() => ctl.enqueue(1), () => ctl.close()]) {
               try { f(); out.push('ok'); } catch (e) { out.push(e.name); }
             }
             ctl.error(new Error('ignored'));
             try { new ReadableStreamDefaultController(); } catch (e) { out.push(e.name); }
             return out.join();",
            "TypeError,TypeError,TypeError",
        );
    }

    #[test]
    fn close_with_queued_chunks_drains_first() {
        check(
            "const rs = new ReadableStream({ start(c) { c.enqueue(1); c.enqueue(2); c.close(); } });
             const r = rs.getReader();
             let closed = false;
             r.closed.then(() => { closed = true; });
             const a = await r.read();
             await null; await null;
             const closedEarly = closed;
             const b = await r.read();
             const c = await r.read();
             await r.closed;
             return [a.value, closedEarly, b.value, c.done, c.value, closed].join();",
            "1,false,2,true,,true",
        );
    }

    #[test]
    fn cancel_passes_reason_and_settles_pending_reads() {
        check(
            "let reason;
             const rs = new ReadableStream({ cancel(r) { reason = r; } });
             const r = rs.getReader();
             const pending = r.read();
             const c = await r.cancel('why');
             const res = await pending;
             const again = await r.read();
             return [reason, c, res.done, res.value, again.done, rs.locked].join();",
            "why,,true,,true,true",
        );
    }

    #[test]
    fn close_while_locked_settles_pending_reads() {
        check(
            "let ctl;
             const rs = new ReadableStream({ start(c) { ctl = c; } });
             const r = rs.getReader();
             const reads = [r.read(), r.read()];
             ctl.close();
             const res = await Promise.all(reads);
             await r.closed;
             return [res.map((x) => x.done).join('/'), rs.locked, ctl.desiredSize].join();",
            "true/true,true,0",
        );
    }

    #[test]
    fn iterator_return_value_is_the_cancel_reason() {
        check(
            "let reason;
             const rs = new ReadableStream({ start(c) { c.enqueue(1); }, cancel(r) { reason = r; } });
             const it = rs.values();
             const first = await it.next();
             const ret = await it.return('enough');
             return [first.value, reason, ret.value, ret.done, rs.locked].join();",
            "1,enough,enough,true,false",
        );
    }

    #[test]
    fn cancel_of_a_locked_stream_rejects() {
        check(
            "const rs = new ReadableStream();
             rs.getReader();
             try { await rs.cancel(); return 'resolved'; } catch (e) { return e.name + ':' + rs.locked; }",
            "TypeError:true",
        );
    }

    #[test]
    fn cancel_reports_source_cancel_failure() {
        check(
            "const rs = new ReadableStream({ cancel() { throw new RangeError('bad'); } });
             const rs2 = new ReadableStream({ cancel() { return Promise.reject(new SyntaxError('later')); } });
             const out = [];
             for (const s of [rs, rs2]) {
               try { await s.cancel(); out.push('ok'); } catch (e) { out.push(e.name); }
             }
             return out.join();",
            "RangeError,SyntaxError",
        );
    }

    #[test]
    fn reader_locks_and_release_lock() {
        check(
            "const rs = new ReadableStream({ start(c) { c.enqueue('a'); } });
             const r1 = rs.getReader();
             const out = [rs.locked];
             try { rs.getReader(); } catch (e) { out.push(e.name); }
             try { new ReadableStreamDefaultReader(rs); } catch (e) { out.push(e.name); }
             r1.releaseLock();
             r1.releaseLock();
             out.push(rs.locked);
             try { await r1.read(); } catch (e) { out.push('read:' + e.name); }
             try { await r1.closed; } catch (e) { out.push('closed:' + e.name); }
             const r2 = new ReadableStreamDefaultReader(rs);
             out.push((await r2.read()).value);
             return out.join();",
            "true,TypeError,TypeError,false,read:TypeError,closed:TypeError,a",
        );
    }

    #[test]
    fn release_lock_rejects_pending_reads() {
        check(
            "const rs = new ReadableStream();
             const r = rs.getReader();
             const pending = r.read();
             const closed = r.closed;
             r.releaseLock();
             const out = [];
             try { await pending; } catch (e) { out.push(e.name); }
             try { await closed; } catch (e) { out.push(e.name); }
             out.push(rs.locked);
             const r2 = rs.getReader();
             out.push(typeof r2.read);
             return out.join();",
            "TypeError,TypeError,false,function",
        );
    }

    #[test]
    fn errors_reject_reads_and_closed() {
        check(
            "const boom = new Error('boom');
             const rs = new ReadableStream({ start(c) { c.enqueue('a'); c.error(boom); } });
             const r = rs.getReader();
             const out = [];
             try { await r.read(); } catch (e) { out.push(e === boom); }
             try { await r.closed; } catch (e) { out.push(e === boom); }
             try { await rs.cancel(); } catch (e) { out.push('cancel'); }
             r.releaseLock();
             try { await rs.cancel(); } catch (e) { out.push(e === boom); }
             return out.join();",
            "true,true,cancel,true",
        );
    }

    #[test]
    fn pull_and_start_failures_error_the_stream() {
        check_ticked(
            "const out = [];
             const a = new ReadableStream({ pull() { throw new Error('pull'); } });
             try { await a.getReader().read(); } catch (e) { out.push(e.message); }
             const b = new ReadableStream({ start() { return Promise.reject(new Error('start')); } });
             try { await b.getReader().read(); } catch (e) { out.push(e.message); }
             try { new ReadableStream({ start() { throw new Error('sync'); } }); } catch (e) { out.push(e.message); }
             return out.join();",
            "pull,start,sync",
        );
    }

    #[test]
    fn constructor_validates_arguments() {
        check(
            "const out = [];
             const tries = [
               () => new ReadableStream(null),
               () => new ReadableStream(5),
               () => new ReadableStream({ type: 'nope' }),
               () => new ReadableStream({ pull: 5 }),
               () => new ReadableStream({}, { highWaterMark: -1 }),
               () => new ReadableStream({}, { highWaterMark: NaN }),
               () => new ReadableStream({}, { size: 1 }),
               () => new ReadableStream({ type: 'bytes' }, { size() { return 1; } }),
               () => ReadableStream(),
             ];
             for (const f of tries) { try { f(); out.push('ok'); } catch (e) { out.push(e.name); } }
             out.push(new ReadableStream(undefined, undefined).locked);
             out.push(ReadableStream.length, ReadableStream.prototype.pipeTo.length);
             return out.join();",
            "TypeError,TypeError,TypeError,TypeError,RangeError,RangeError,TypeError,RangeError,TypeError,false,0,1",
        );
    }

    #[test]
    fn size_strategy_and_bad_sizes() {
        check(
            "let ctl;
             const rs = new ReadableStream({ start(c) { ctl = c; } },
               { highWaterMark: 10, size(chunk) { return chunk.length; } });
             ctl.enqueue('abcd');
             const out = [ctl.desiredSize];
             let ctl2;
             const rs2 = new ReadableStream({ start(c) { ctl2 = c; } }, { size() { return NaN; } });
             try { ctl2.enqueue('x'); } catch (e) { out.push(e.name); }
             try { await rs2.getReader().read(); } catch (e) { out.push('errored:' + e.name); }
             let ctl3;
             const rs3 = new ReadableStream({ start(c) { ctl3 = c; } }, { size() { throw new SyntaxError('s'); } });
             try { ctl3.enqueue('x'); } catch (e) { out.push(e.name); }
             out.push(ctl3.desiredSize);
             return out.join();",
            "6,RangeError,errored:RangeError,SyntaxError,",
        );
    }

    #[test]
    fn brand_checks() {
        check(
            "const out = [];
             try { await ReadableStream.prototype.cancel.call({}); } catch (e) { out.push(e.name); }
             try { Object.getOwnPropertyDescriptor(ReadableStream.prototype, 'locked').get.call({}); } catch (e) { out.push(e.name); }
             try { await ReadableStreamDefaultReader.prototype.read.call({}); } catch (e) { out.push(e.name); }
             try { await WritableStream.prototype.abort.call(new ReadableStream()); } catch (e) { out.push(e.name); }
             try { ReadableStreamDefaultController.prototype.enqueue.call({}, 1); } catch (e) { out.push(e.name); }
             out.push(Object.prototype.toString.call(new ReadableStream()));
             out.push(Object.keys(ReadableStream.prototype).sort().join(' '));
             return out.join();",
            "TypeError,TypeError,TypeError,TypeError,TypeError,[object ReadableStream],\
             cancel getReader locked pipeThrough pipeTo tee values",
        );
    }

    #[test]
    fn byte_streams_read_as_uint8_arrays() {
        check(
            "let ctl;
             const rs = new ReadableStream({ type: 'bytes', start(c) { ctl = c; } });
             const buf = new Uint8Array([1, 2, 3, 4]);
             const view = new Uint16Array(buf.buffer, 2, 1);
             const out = [ctl.constructor.name, ctl.byobRequest, ctl.desiredSize];
             ctl.enqueue(view);
             out.push(buf.byteLength, ctl.desiredSize);
             for (const bad of [new ArrayBuffer(2), 'str', new Uint8Array(0)]) {
               try { ctl.enqueue(bad); } catch (e) { out.push(e.name); }
             }
             const byob = rs.getReader({ mode: 'byob' });
             out.push(byob instanceof ReadableStreamBYOBReader);
             byob.releaseLock();
             try { rs.getReader({ mode: 'other' }); } catch (e) { out.push(e.name); }
             try { new ReadableStream().getReader({ mode: 'byob' }); } catch (e) { out.push(e.name); }
             const { value } = await rs.getReader().read();
             out.push(Object.prototype.toString.call(value), value.join(' '));
             return out.join();",
            "ReadableByteStreamController,,0,0,-2,TypeError,TypeError,TypeError,true,TypeError,TypeError,\
             [object Uint8Array],3 4",
        );
    }

    #[test]
    fn tee_gives_both_branches_every_chunk() {
        check(
            "const rs = new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); c.close(); } });
             const [b1, b2] = rs.tee();
             const all = async (s) => { const out = []; for await (const x of s) out.push(x); return out.join(''); };
             const [x, y] = await Promise.all([all(b1), all(b2)]);
             return [x, y, rs.locked, b1 instanceof ReadableStream].join();",
            "ab,ab,true,true",
        );
    }

    #[test]
    fn tee_cancel_both_branches_cancels_source_with_both_reasons() {
        check(
            "let reason;
             const rs = new ReadableStream({ cancel(r) { reason = r; } });
             const [b1, b2] = rs.tee();
             const p1 = b1.cancel('one');
             let settled = false;
             p1.then(() => { settled = true; });
             await null; await null;
             const early = settled;
             await Promise.all([p1, b2.cancel('two')]);
             return [early, Array.isArray(reason), reason.join('+')].join();",
            "false,true,one+two",
        );
    }

    #[test]
    fn tee_branch_keeps_reading_after_other_is_cancelled() {
        check(
            "let n = 0;
             const rs = new ReadableStream({ pull(c) { n++; if (n > 3) c.close(); else c.enqueue(n); } });
             const [b1, b2] = rs.tee();
             // Cancelling one branch settles only once the other ends too.
             let cancelled = false;
             const c1 = b1.cancel().then(() => { cancelled = true; });
             const out = [];
             for await (const x of b2) { out.push(x + ':' + cancelled); }
             await c1;
             return out.join() + ';' + cancelled;",
            "1:false,2:false,3:false;true",
        );
    }

    #[test]
    fn tee_source_error_errors_both_branches() {
        check_ticked(
            "let ctl;
             const rs = new ReadableStream({ start(c) { ctl = c; } });
             const [b1, b2] = rs.tee();
             const r1 = b1.getReader(), r2 = b2.getReader();
             const p = Promise.allSettled([r1.read(), r2.read(), r1.closed, r2.closed]);
             ctl.error(new Error('src'));
             const res = await p;
             return res.map((r) => r.status + ':' + r.reason.message).join();",
            "rejected:src,rejected:src,rejected:src,rejected:src",
        );
    }

    #[test]
    fn tee_of_byte_stream_clones_chunks() {
        check(
            "const rs = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([7, 8])); c.close(); } });
             const [b1, b2] = rs.tee();
             const a = (await b1.getReader().read()).value;
             const b = (await b2.getReader().read()).value;
             a[0] = 0;
             return [a.join(' '), b.join(' '), a.buffer !== b.buffer].join();",
            "0 8,7 8,true",
        );
    }

    // ----- BYOB readers and byte stream controllers ------------------------

    #[test]
    fn byob_globals_install_lazily() {
        check(
            "const before = typeof Object.getOwnPropertyDescriptor(globalThis, 'ReadableStreamBYOBReader').get;
             const R = ReadableStreamBYOBReader;
             const d = Object.getOwnPropertyDescriptor(globalThis, 'ReadableStreamBYOBRequest');
             let e1, e2;
             try { new ReadableStreamBYOBRequest(); } catch (e) { e1 = e.name; }
             try { new R(new ReadableStream()); } catch (e) { e2 = e.name; }
             const rs = new ReadableStream({ type: 'bytes' });
             const reader = new R(rs);
             return [before, typeof d.value, d.enumerable, e1, e2, rs.locked,
                     Object.prototype.toString.call(reader), Object.keys(R.prototype).sort().join(' ')].join();",
            "function,function,false,TypeError,TypeError,true,[object ReadableStreamBYOBReader],\
             cancel closed read releaseLock",
        );
    }

    #[test]
    fn byob_read_into_one_buffer_in_a_loop() {
        // The spec's example of reading a whole stream into one buffer.
        check(
            "const chunks = [[1, 2, 3], [4, 5], [6, 7, 8, 9]];
             let i = 0;
             const rs = new ReadableStream({ type: 'bytes', pull(c) {
               if (i < chunks.length) { c.enqueue(new Uint8Array(chunks[i++])); return; }
               // A pending BYOB read waits for respond(0) after close(), as in the spec's examples.
               c.close();
               c.byobRequest?.respond(0); } });
             const reader = rs.getReader({ mode: 'byob' });
             let buffer = new ArrayBuffer(16);
             let offset = 0;
             const sizes = [];
             let firstView;
             for (;;) {
               const view = new Uint8Array(buffer, offset, buffer.byteLength - offset);
               firstView ??= view;
               const { value, done } = await reader.read(view);
               buffer = value.buffer;
               if (done) break;
               sizes.push(value.byteLength);
               offset += value.byteLength;
             }
             await reader.closed;
             return [sizes.join(' '), offset, new Uint8Array(buffer, 0, offset).join(' '), buffer.byteLength,
                     firstView.byteLength, firstView.buffer.detached].join(';');",
            "3 2 4;9;1 2 3 4 5 6 7 8 9;16;0;true",
        );
    }

    #[test]
    fn byob_read_min_and_element_sizes() {
        check_ticked(
            "let ctl;
             const rs = new ReadableStream({ type: 'bytes', start(c) { ctl = c; } });
             const r = rs.getReader({ mode: 'byob' });
             const p = r.read(new Uint8Array(8), { min: 5 });
             let settled = false;
             p.then(() => { settled = true; });
             await tick();
             ctl.enqueue(new Uint8Array([1, 2]));
             ctl.enqueue(new Uint8Array([3, 4]));
             await tick();
             const early = settled;
             ctl.enqueue(new Uint8Array([5, 6]));
             const a = (await p).value;
             // Uint16: an odd byte waits for its pair, and min counts elements.
             const p16 = r.read(new Uint16Array(4), { min: 2 });
             ctl.enqueue(new Uint8Array([7, 8, 9]));
             ctl.enqueue(new Uint8Array([10, 11]));
             const b = (await p16).value;
             const errs = [];
             for (const [v, o] of [[new Uint8Array(2), { min: 3 }], [new Uint8Array(2), { min: 0 }],
                                   [new DataView(new ArrayBuffer(2)), { min: 3 }], [new Uint8Array(2), { min: -1 }]]) {
               errs.push(await r.read(v, o).catch((e) => e.name));
             }
             // One byte is left over, which cannot fill a Uint16 once closed.
             ctl.close();
             const c = await r.read(new Uint16Array(1)).catch((e) => e.name);
             return [early, a.join(' '), a.byteLength, b.constructor.name, b.length,
                     new Uint8Array(b.buffer, b.byteOffset, 4).join(' '), errs.join(' '), c].join(';');",
            "false;1 2 3 4 5 6;6;Uint16Array;2;7 8 9 10;RangeError TypeError RangeError TypeError;TypeError",
        );
    }

    #[test]
    fn byob_request_respond_and_respond_with_new_view() {
        check(
            "const seen = [];
             const rs = new ReadableStream({ type: 'bytes', pull(c) {
               const req = c.byobRequest;
               seen.push(req === c.byobRequest, req.view.constructor.name, req.view.byteOffset, req.view.byteLength);
               if (seen.length === 4) {
                 req.view[0] = 42; req.view[1] = 43;
                 req.respond(2);
                 seen.push(String(c.byobRequest), String(req.view));
               } else {
                 const v = new Uint8Array(req.view.buffer, req.view.byteOffset, 1);
                 v[0] = 7;
                 req.respondWithNewView(v);
               }
             } });
             const r = rs.getReader({ mode: 'byob' });
             const a = await r.read(new Uint8Array(new ArrayBuffer(10), 2, 4));
             const b = await r.read(new Uint8Array(3));
             return [seen.join(' '), a.value.join(' '), a.value.byteOffset, a.value.buffer.byteLength,
                     b.value.join(' ')].join(';');",
            "true Uint8Array 2 4 null null true Uint8Array 0 3;42 43;2;10;7",
        );
    }

    #[test]
    fn byob_request_errors() {
        check_ticked(
            "let ctl;
             const rs = new ReadableStream({ type: 'bytes', start(c) { ctl = c; } });
             const r = rs.getReader({ mode: 'byob' });
             const out = [];
             const detached = new Uint8Array(4);
             detached.buffer.transfer();
             for (const v of [new Uint8Array(0), new Uint8Array(new ArrayBuffer(0)), detached, 'x', undefined]) {
               out.push(await r.read(v).catch((e) => e.name));
             }
             out.push(ctl.byobRequest);
             const view = new Uint8Array(4);
             const p = r.read(view);
             await tick();
             out.push(view.byteLength, view.buffer.detached);
             const req = ctl.byobRequest;
             const attempts = [() => req.respond(0), () => req.respond(5), () => req.respond(-1),
                               () => req.respondWithNewView(new Uint8Array(req.view.buffer, 1, 1)),
                               () => req.respondWithNewView(new Uint8Array(8)),
                               () => req.respondWithNewView('x')];
             for (const f of attempts) { try { f(); out.push('ok'); } catch (e) { out.push(e.name); } }
             req.view.buffer.transfer();
             try { req.respond(1); } catch (e) { out.push(e.name); }
             try { ctl.enqueue(new Uint8Array([1])); } catch (e) { out.push(e.name); }
             // Releasing the lock rejects the pending read and the closed promise.
             r.releaseLock();
             out.push(await p.catch((e) => e.name), await r.closed.catch((e) => e.name),
                      await r.read(new Uint8Array(1)).catch((e) => e.name));
             return out.join();",
            "TypeError,TypeError,TypeError,TypeError,TypeError,,0,true,TypeError,RangeError,TypeError,\
             RangeError,RangeError,TypeError,TypeError,TypeError,TypeError,TypeError,TypeError",
        );
    }

    #[test]
    fn byob_reads_settle_on_cancel_close_and_error() {
        check(
            "const rs = new ReadableStream({ type: 'bytes' });
             const r = rs.getReader({ mode: 'byob' });
             const p = r.read(new Uint8Array(4));
             await r.cancel('why');
             const cancelled = await p;
             // close() and respond(0) give the buffer back, empty.
             const closing = new ReadableStream({ type: 'bytes', pull(c) { c.close(); c.byobRequest.respond(0); } });
             const cr = closing.getReader({ mode: 'byob' });
             const buf = new ArrayBuffer(4);
             const closed = await cr.read(new Uint16Array(buf, 2, 1));
             await cr.closed;
             const again = await cr.read(new Uint8Array(2));
             const errored = new ReadableStream({ type: 'bytes', start(c) { c.error(new Error('bad')); } });
             const er = errored.getReader({ mode: 'byob' });
             const e = await er.read(new Uint8Array(1)).catch((x) => x.message);
             const ec = await er.closed.catch((x) => x.message);
             const v = closed.value;
             return [String(cancelled.value), cancelled.done, closed.done, v.constructor.name, v.length, v.byteOffset,
                     v.buffer.byteLength, buf.detached, again.done, again.value.byteLength, e, ec].join();",
            "undefined,true,true,Uint16Array,0,2,4,true,true,0,bad,bad",
        );
    }

    #[test]
    fn byte_stream_auto_allocate_for_default_readers() {
        check(
            "const rs = new ReadableStream({ type: 'bytes', autoAllocateChunkSize: 8, pull(c) {
               const v = c.byobRequest.view; v.set([1, 2, 3]); c.byobRequest.respond(3); } });
             const { value } = await rs.getReader().read();
             let plain;
             const rs2 = new ReadableStream({ type: 'bytes', pull(c) { plain = c.byobRequest; c.enqueue(new Uint8Array([9])); } });
             const second = (await rs2.getReader().read()).value;
             return [value.constructor.name, value.join(' '), value.buffer.byteLength, plain, second.join(' ')].join();",
            "Uint8Array,1 2 3,8,,9",
        );
    }

    #[test]
    fn byob_response_after_release_goes_to_the_queue() {
        check_ticked(
            "let ctl;
             const rs = new ReadableStream({ type: 'bytes', start(c) { ctl = c; } });
             const r = rs.getReader({ mode: 'byob' });
             const p = r.read(new Uint8Array(4)).catch((e) => e.name);
             await tick();
             const req = ctl.byobRequest;
             r.releaseLock();
             const first = await p;
             req.view.set([5, 6]);
             req.respond(2);
             const { value } = await rs.getReader().read();
             return [first, value.join(' ')].join();",
            "TypeError,5 6",
        );
    }

    #[test]
    fn tee_of_byte_stream_serves_byob_reads() {
        check(
            "const rs = new ReadableStream({ type: 'bytes', start(c) { c.enqueue(new Uint8Array([1, 2, 3])); c.close(); } });
             const [a, b] = rs.tee();
             const ra = a.getReader({ mode: 'byob' });
             const x = await ra.read(new Uint8Array(2));
             const y = await ra.read(new Uint8Array(2));
             const z = await ra.read(new Uint8Array(2));
             const all = [];
             for await (const c of b) all.push(...c);
             return [x.value.join(' '), y.value.join(' '), z.done, z.value.byteLength, all.join(' ')].join();",
            "1 2,3,true,0,1 2 3",
        );
    }

    #[test]
    fn tee_of_byte_stream_reads_source_with_byob_reader() {
        check(
            "const seen = [];
             const rs = new ReadableStream({ type: 'bytes', pull(c) {
               const req = c.byobRequest;
               seen.push(req ? req.view.byteLength : 'none');
               if (req) { req.view[0] = 9; req.view[1] = 8; req.respond(2); } else c.enqueue(new Uint8Array([5]));
             } });
             const [a, b] = rs.tee();
             const ra = a.getReader({ mode: 'byob' });
             const buf = new Uint8Array(4);
             const x = await ra.read(buf);
             const rb = b.getReader();
             const y = await rb.read();
             // A default read of the branch goes back to a default read of the source.
             ra.releaseLock();
             const w = await a.getReader().read();
             const v = await rb.read();
             return [seen.join(' '), x.value.join(' '), x.value.buffer.byteLength, buf.byteLength,
                     y.value.join(' '), x.value.buffer !== y.value.buffer, w.value.join(' '), v.value.join(' ')].join();",
            "4 none,9 8,4,0,9 8,true,5,5",
        );
    }

    #[test]
    fn tee_of_byte_stream_fills_byob_reads_over_several_source_reads() {
        check(
            "let n = 0;
             const rs = new ReadableStream({ type: 'bytes', pull(c) {
               const req = c.byobRequest;
               if (n === 4) { c.close(); if (req) req.respond(0); return; }
               req.view[0] = ++n; req.respond(1);
             } });
             const [a, b] = rs.tee();
             const ra = a.getReader({ mode: 'byob' });
             const x = await ra.read(new Uint16Array(2), { min: 2 });
             const bytes = new Uint8Array(x.value.buffer, x.value.byteOffset, x.value.byteLength);
             // The other branch got each piece the source gave.
             const rest = [];
             for await (const chunk of b) rest.push(chunk.join(' '));
             const z = await ra.read(new Uint8Array(3));
             return [x.value.constructor.name, x.value.length, bytes.join(' '), rest.join('|'),
                     z.done, z.value.byteLength, z.value.buffer.byteLength].join();",
            "Uint16Array,2,1 2 3 4,1|2|3|4,true,0,3",
        );
    }

    #[test]
    fn tee_of_byte_stream_errors_and_cancels() {
        check(
            "const boom = new Error('boom');
             const failing = new ReadableStream({ type: 'bytes', pull(c) { c.error(boom); } });
             const [a, b] = failing.tee();
             const out = [];
             out.push(await a.getReader({ mode: 'byob' }).read(new Uint8Array(1)).catch((e) => e === boom));
             out.push(await b.getReader().read().catch((e) => e === boom));
             let reason;
             const src = new ReadableStream({ type: 'bytes', cancel(r) { reason = r; } });
             const [c, d] = src.tee();
             const rc = c.getReader({ mode: 'byob' });
             const pending = rc.read(new Uint8Array(2));
             // Settles once both branches are cancelled.
             const cancelled = rc.cancel('x');
             const r = await pending;
             out.push(r.done, r.value === undefined, reason === undefined);
             await d.cancel('y');
             await cancelled;
             out.push(reason.join('+'));
             return out.join();",
            "true,true,true,true,true,x+y",
        );
    }

    #[test]
    fn byte_streams_pipe_and_iterate() {
        check(
            "const make = () => new ReadableStream({ type: 'bytes', start(c) {
               c.enqueue(new Uint8Array([1, 2])); c.enqueue(new Uint8Array([3])); c.close(); } });
             const out = [];
             await make().pipeTo(new WritableStream({ write(c) { out.push(c.join('+')); } }));
             for await (const c of make()) out.push(c.join('-'));
             return out.join(' ');",
            "1+2 3 1-2 3",
        );
    }

    #[test]
    fn async_iteration_collects_chunks() {
        check(
            "const rs = new ReadableStream({ start(c) { for (const x of [1, 2, 3]) c.enqueue(x); c.close(); } });
             let sum = 0;
             for await (const x of rs) sum += x;
             const it = rs.values();
             return [sum, rs.locked, ReadableStream.prototype[Symbol.asyncIterator] === ReadableStream.prototype.values,
                     Object.prototype.toString.call(it),
                     Object.getPrototypeOf(Object.getPrototypeOf(it)) === Object.getPrototypeOf(Object.getPrototypeOf((async function* () {})()).__proto__),
                     JSON.stringify(await it.next())].join();",
            "6,true,true,[object ReadableStream AsyncIterator],true,{\"done\":true}",
        );
    }

    #[test]
    fn async_iteration_break_cancels_the_stream() {
        check(
            "let reason = 'not cancelled';
             let n = 0;
             const rs = new ReadableStream({ pull(c) { c.enqueue(++n); }, cancel(r) { reason = r; } });
             const out = [];
             for await (const x of rs) { out.push(x); if (x === 2) break; }
             return [out.join(' '), reason, rs.locked].join();",
            "1 2,,false",
        );
    }

    #[test]
    fn async_iteration_prevent_cancel_releases_only() {
        check(
            "let cancelled = false;
             const rs = new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); }, cancel() { cancelled = true; } });
             for await (const x of rs.values({ preventCancel: true })) break;
             const rest = await rs.getReader().read();
             return [cancelled, rest.value].join();",
            "false,b",
        );
    }

    #[test]
    fn async_iteration_rethrows_stream_errors_and_return_is_idempotent() {
        check(
            "const rs = new ReadableStream({ start(c) { c.enqueue(1); c.error(new TypeError('bad')); } });
             let err;
             try { for await (const x of rs) {} } catch (e) { err = e.message; }
             const it = new ReadableStream().values();
             const r1 = await it.return('v');
             const r2 = await it.return('w');
             const n = await it.next();
             return [err, JSON.stringify(r1), JSON.stringify(r2), n.done].join();",
            "bad,{\"value\":\"v\",\"done\":true},{\"value\":\"w\",\"done\":true},true",
        );
    }

    #[test]
    fn async_iteration_next_calls_queue_up() {
        check_ticked(
            "let n = 0;
             const rs = new ReadableStream({ async pull(c) { await tick(1); c.enqueue(++n); if (n === 3) c.close(); } });
             const it = rs[Symbol.asyncIterator]();
             const rs4 = await Promise.all([it.next(), it.next(), it.next(), it.next()]);
             return rs4.map((r) => r.done ? 'done' : r.value).join();",
            "1,2,3,done",
        );
    }

    #[test]
    fn from_async_and_sync_iterables() {
        check(
            "async function* gen() { yield 'a'; yield 'b'; }
             const collect = async (s) => { const o = []; for await (const x of s) o.push(x); return o.join(''); };
             const out = [await collect(ReadableStream.from(gen())),
                          await collect(ReadableStream.from([1, Promise.resolve(2), 3])),
                          await collect(ReadableStream.from('xyz'))];
             for (const bad of [5, null, {}]) { try { ReadableStream.from(bad); out.push('ok'); } catch (e) { out.push(e.name); } }
             const s = ReadableStream.from(new ReadableStream({ start(c) { c.enqueue('nested'); c.close(); } }));
             out.push(await collect(s));
             return out.join();",
            "ab,123,xyz,TypeError,TypeError,TypeError,nested",
        );
    }

    #[test]
    fn from_cancel_calls_iterator_return() {
        check(
            "let finalized = false;
             async function* gen() { try { yield 1; yield 2; } finally { finalized = true; } }
             const rs = ReadableStream.from(gen());
             const r = rs.getReader();
             const first = await r.read();
             await r.cancel('stop');
             const errs = ReadableStream.from({ [Symbol.asyncIterator]() { return { next() { return Promise.resolve(5); } }; } });
             let err;
             try { await errs.getReader().read(); } catch (e) { err = e.name; }
             return [first.value, finalized, err].join();",
            "1,true,TypeError",
        );
    }

    // ----- WritableStream -------------------------------------------------

    #[test]
    fn writes_reach_the_sink_in_order_one_at_a_time() {
        check_ticked(
            "const log = [];
             let active = 0;
             const ws = new WritableStream({
               async write(chunk, c) { log.push(chunk + ':' + active++); await tick(1); active--; },
               close() { log.push('close'); },
             });
             const w = ws.getWriter();
             const ps = [w.write('a'), w.write('b'), w.write('c')];
             await w.close();
             await Promise.all(ps);
             await w.closed;
             return log.join(' ');",
            "a:0 b:0 c:0 close",
        );
    }

    #[test]
    fn writer_ready_and_desired_size_show_backpressure() {
        check_ticked(
            "let finish;
             const ws = new WritableStream({ write() { return new Promise((r) => { finish = r; }); } },
                                           new CountQueuingStrategy({ highWaterMark: 2 }));
             const w = ws.getWriter();
             await w.ready;
             const out = [w.desiredSize];
             w.write(1); w.write(2);
             out.push(w.desiredSize);
             let ready = false;
             w.ready.then(() => { ready = true; });
             await tick();
             out.push(ready);
             finish(); await tick();
             out.push(w.desiredSize, ready);
             return out.join();",
            "2,0,false,1,true",
        );
    }

    #[test]
    fn close_rejects_later_writes_and_closes_the_writer() {
        check(
            "let closed = 0;
             const ws = new WritableStream({ close() { closed++; } });
             const w = ws.getWriter();
             const c = w.close();
             const out = [];
             try { await w.write('late'); } catch (e) { out.push(e.name); }
             try { await w.close(); } catch (e) { out.push(e.name); }
             await c;
             await w.closed;
             out.push(closed, w.desiredSize);
             return out.join();",
            "TypeError,TypeError,1,0",
        );
    }

    #[test]
    fn abort_rejects_pending_writes_and_signals_the_sink() {
        check_ticked(
            "const log = [];
             let signal;
             const ws = new WritableStream({
               start(c) { signal = c.signal; signal.addEventListener('abort', () => log.push('signal:' + signal.reason)); },
               write() { return tick(5); },
               abort(r) { log.push('abort:' + r); },
             });
             const w = ws.getWriter();
             const w1 = w.write(1);
             const w2 = w.write(2);
             await tick();
             const a = w.abort('stop');
             const res = await Promise.allSettled([w1, w2, a, w.closed, w.ready]);
             log.push(res.map((r) => r.status === 'fulfilled' ? 'ok' : r.reason).join('/'));
             log.push(w.desiredSize);
             return log.join(' ');",
            "signal:stop abort:stop ok/stop/ok/stop/stop ",
        );
    }

    #[test]
    fn controller_signal_made_after_abort_is_aborted() {
        check(
            "let ctl;
             const ws = new WritableStream({ start(c) { ctl = c; } });
             await ws.abort();
             const s = ctl.signal;
             return [s.aborted, s.reason.name, s === ctl.signal].join();",
            "true,AbortError,true",
        );
    }

    #[test]
    fn controller_error_and_sink_failures_error_the_stream() {
        check_ticked(
            "const out = [];
             let ctl;
             const ws = new WritableStream({ start(c) { ctl = c; } });
             const w = ws.getWriter();
             ctl.error(new Error('ctl'));
             try { await w.write(1); } catch (e) { out.push(e.message); }
             try { await w.ready; } catch (e) { out.push(e.message); }
             try { await w.closed; } catch (e) { out.push(e.message); }
             const ws2 = new WritableStream({ write() { throw new Error('sink'); } });
             const w2 = ws2.getWriter();
             try { await w2.write(1); } catch (e) { out.push(e.message); }
             try { await w2.write(2); } catch (e) { out.push(e.message); }
             try { await w2.closed; } catch (e) { out.push(e.message); }
             const ws3 = new WritableStream({ close() { return Promise.reject(new Error('close')); } });
             try { await ws3.close(); } catch (e) { out.push(e.message); }
             return out.join();",
            "ctl,ctl,ctl,sink,sink,sink,close",
        );
    }

    #[test]
    fn writer_release_lock() {
        check(
            "const ws = new WritableStream();
             const w = ws.getWriter();
             const out = [ws.locked];
             try { ws.getWriter(); } catch (e) { out.push(e.name); }
             try { await ws.close(); } catch (e) { out.push('close:' + e.name); }
             try { await ws.abort(); } catch (e) { out.push('abort:' + e.name); }
             const closed = w.closed;
             w.releaseLock();
             out.push(ws.locked);
             try { await closed; } catch (e) { out.push('closed:' + e.name); }
             try { w.desiredSize; } catch (e) { out.push('size:' + e.name); }
             try { await w.write(1); } catch (e) { out.push('write:' + e.name); }
             const w2 = new WritableStreamDefaultWriter(ws);
             await w2.write('again');
             await w2.close();
             return out.join();",
            "true,TypeError,close:TypeError,abort:TypeError,false,closed:TypeError,size:TypeError,write:TypeError",
        );
    }

    #[test]
    fn writable_constructor_validates_arguments() {
        check(
            "const out = [];
             for (const f of [() => new WritableStream({ type: 'bytes' }), () => new WritableStream(null),
                              () => new WritableStream({ write: 1 }), () => new WritableStream({}, { highWaterMark: -1 }),
                              () => new WritableStreamDefaultController()]) {
               try { f(); out.push('ok'); } catch (e) { out.push(e.name); }
             }
             const ws = new WritableStream({ write() {} }, { size() { return -1; } });
             try { await ws.getWriter().write('x'); } catch (e) { out.push('size:' + e.name); }
             return out.join();",
            "RangeError,TypeError,TypeError,RangeError,TypeError,size:RangeError",
        );
    }

    // ----- TransformStream ------------------------------------------------

    #[test]
    fn identity_transform_passes_chunks() {
        check(
            "const ts = new TransformStream();
             const w = ts.writable.getWriter();
             w.write('a'); w.write('b'); w.close();
             const out = [];
             for await (const x of ts.readable) out.push(x);
             return out.join();",
            "a,b",
        );
    }

    #[test]
    fn transformer_start_transform_flush() {
        check(
            "const log = [];
             const ts = new TransformStream({
               start(c) { log.push('start:' + c.desiredSize); },
               transform(chunk, c) { c.enqueue(chunk.toUpperCase()); c.enqueue('|'); },
               flush(c) { c.enqueue('END'); },
             });
             const text = new ReadableStream({ start(c) { c.enqueue('ab'); c.enqueue('cd'); c.close(); } })
               .pipeThrough(ts);
             const out = [];
             for await (const x of text) out.push(x);
             return log.join() + ' ' + out.join('');",
            "start:0 AB|CD|END",
        );
    }

    #[test]
    fn transform_controller_terminate_and_error() {
        check(
            "const out = [];
             const t1 = new TransformStream({ transform(chunk, c) { c.enqueue(chunk); c.terminate(); } });
             const w1 = t1.writable.getWriter();
             const r1 = t1.readable.getReader();
             w1.write('only');
             out.push((await r1.read()).value, (await r1.read()).done);
             try { await w1.write('more'); } catch (e) { out.push(e.name); }
             const t2 = new TransformStream({ start(c) { c.error(new Error('boom')); } });
             try { await t2.readable.getReader().read(); } catch (e) { out.push(e.message); }
             try { await t2.writable.getWriter().write(1); } catch (e) { out.push(e.message); }
             return out.join();",
            "only,true,TypeError,boom,boom",
        );
    }

    #[test]
    fn transform_failure_errors_both_sides() {
        check(
            "const ts = new TransformStream({ transform() { throw new RangeError('nope'); } });
             const w = ts.writable.getWriter();
             const r = ts.readable.getReader();
             const read = r.read();
             const out = [];
             try { await w.write(1); } catch (e) { out.push('write:' + e.name); }
             try { await read; } catch (e) { out.push('read:' + e.name); }
             try { await w.closed; } catch (e) { out.push('closed:' + e.name); }
             return out.join();",
            "write:RangeError,read:RangeError,closed:RangeError",
        );
    }

    #[test]
    fn transform_backpressure_holds_writes_until_read() {
        check_ticked(
            "let transforms = 0;
             const ts = new TransformStream({ transform(chunk, c) { transforms++; c.enqueue(chunk); } });
             const w = ts.writable.getWriter();
             const r = ts.readable.getReader();
             w.write(1); w.write(2); w.write(3);
             await tick();
             const before = [transforms, w.desiredSize];
             const a = await r.read();
             await tick();
             return [...before, a.value, transforms].join();",
            // Nothing is transformed until the readable side pulls, then one
            // chunk per read (the readable side's highWaterMark is 0).
            "0,-2,1,1",
        );
    }

    #[test]
    fn readable_cancel_errors_the_writable_side() {
        check(
            "let reason;
             const ts = new TransformStream({ cancel(r) { reason = 'cancel:' + r; } });
             const w = ts.writable.getWriter();
             await ts.readable.cancel('gone');
             let err;
             try { await w.write(1); } catch (e) { err = e; }
             return [reason, err].join();",
            "cancel:gone,gone",
        );
    }

    #[test]
    fn transform_constructor_validates_arguments() {
        check(
            "const out = [];
             for (const f of [() => new TransformStream({ readableType: 'bytes' }),
                              () => new TransformStream({ writableType: 'bytes' }),
                              () => new TransformStream({ transform: 'x' }),
                              () => new TransformStream({}, { highWaterMark: -5 }),
                              () => new TransformStreamDefaultController()]) {
               try { f(); out.push('ok'); } catch (e) { out.push(e.name); }
             }
             const ts = new TransformStream({}, undefined, { highWaterMark: 4 });
             out.push(ts.readable instanceof ReadableStream, ts.writable instanceof WritableStream);
             return out.join();",
            "RangeError,RangeError,TypeError,RangeError,TypeError,true,true",
        );
    }

    // ----- Queuing strategies ---------------------------------------------

    #[test]
    fn queuing_strategies() {
        check(
            "const c = new CountQueuingStrategy({ highWaterMark: 3 });
             const b = new ByteLengthQueuingStrategy({ highWaterMark: '16' });
             const out = [c.highWaterMark, c.size(), c.size === new CountQueuingStrategy({ highWaterMark: 1 }).size,
                          b.highWaterMark, b.size(new Uint8Array(5)), b.size.name, b.size.length];
             for (const f of [() => new CountQueuingStrategy(), () => new ByteLengthQueuingStrategy({}),
                              () => new CountQueuingStrategy(5)]) {
               try { f(); out.push('ok'); } catch (e) { out.push(e.name); }
             }
             let ctl;
             new ReadableStream({ start(x) { ctl = x; } }, b);
             ctl.enqueue(new Uint8Array(10));
             out.push(ctl.desiredSize);
             return out.join();",
            "3,1,true,16,5,size,1,TypeError,TypeError,TypeError,6",
        );
    }

    // ----- pipeTo / pipeThrough -------------------------------------------

    #[test]
    fn pipe_to_copies_everything_and_closes() {
        check(
            "const got = [];
             let closed = false;
             const rs = ReadableStream.from(['a', 'b', 'c']);
             const ws = new WritableStream({ write(c) { got.push(c); }, close() { closed = true; } });
             const res = await rs.pipeTo(ws);
             return [got.join(''), closed, res, rs.locked, ws.locked].join();",
            "abc,true,,false,false",
        );
    }

    #[test]
    fn pipe_to_respects_backpressure_from_a_slow_sink() {
        check_ticked(
            "let pulls = 0;
             let maxAhead = 0;
             let written = 0;
             const rs = new ReadableStream({
               pull(c) { pulls++; maxAhead = Math.max(maxAhead, pulls - written); if (pulls > 20) c.close(); else c.enqueue(pulls); },
             });
             const ws = new WritableStream({ async write() { await tick(1); written++; } });
             await rs.pipeTo(ws);
             return [written, maxAhead <= 4].join();",
            "20,true",
        );
    }

    #[test]
    fn pipe_to_prevent_close() {
        check(
            "const ws = new WritableStream();
             await ReadableStream.from([1]).pipeTo(ws, { preventClose: true });
             const w = ws.getWriter();
             await w.write(2);
             return 'still writable';",
            "still writable",
        );
    }

    #[test]
    fn pipe_to_propagates_source_errors_forward() {
        check(
            "let aborted;
             const rs = new ReadableStream({ start(c) { c.error(new Error('src')); } });
             const ws = new WritableStream({ abort(r) { aborted = r.message; } });
             let err;
             try { await rs.pipeTo(ws); } catch (e) { err = e.message; }
             const rs2 = new ReadableStream({ start(c) { c.error(new Error('src2')); } });
             const ws2 = new WritableStream({ abort() { aborted = 'should not'; } });
             let err2;
             try { await rs2.pipeTo(ws2, { preventAbort: true }); } catch (e) { err2 = e.message; }
             const w2 = ws2.getWriter();
             await w2.write('ok');
             return [err, aborted, err2].join();",
            "src,src,src2",
        );
    }

    #[test]
    fn pipe_to_propagates_dest_errors_backward() {
        check(
            "let cancelled;
             const rs = new ReadableStream({ pull(c) { c.enqueue('x'); }, cancel(r) { cancelled = r.message; } });
             const ws = new WritableStream({ write() { throw new Error('dest'); } });
             let err;
             try { await rs.pipeTo(ws); } catch (e) { err = e.message; }
             const rs2 = new ReadableStream({ cancel() { cancelled = 'should not'; } });
             const ws2 = new WritableStream({ start(c) { c.error(new Error('early')); } });
             let err2;
             try { await rs2.pipeTo(ws2, { preventCancel: true }); } catch (e) { err2 = e.message; }
             return [err, cancelled, err2, rs2.locked].join();",
            "dest,dest,early,false",
        );
    }

    #[test]
    fn pipe_to_a_closed_destination_cancels_the_source() {
        check(
            "let cancelled;
             const rs = new ReadableStream({ cancel(r) { cancelled = r.name; } });
             const ws = new WritableStream();
             await ws.close();
             let err;
             try { await rs.pipeTo(ws); } catch (e) { err = e.name; }
             return [err, cancelled].join();",
            "TypeError,TypeError",
        );
    }

    #[test]
    fn pipe_to_with_abort_signal() {
        check_ticked(
            "const log = [];
             const rs = new ReadableStream({ pull(c) { return tick(1).then(() => c.enqueue('x')); },
                                             cancel(r) { log.push('cancel:' + r.name); } });
             const ws = new WritableStream({ abort(r) { log.push('abort:' + r.name); } });
             const ac = new AbortController();
             const p = rs.pipeTo(ws, { signal: ac.signal });
             await tick(5);
             ac.abort();
             try { await p; } catch (e) { log.push('rejected:' + e.name); }
             const pre = new ReadableStream({ cancel() { log.push('pre-cancel'); } });
             try { await pre.pipeTo(new WritableStream(), { signal: AbortSignal.abort('why'), preventAbort: true }); }
             catch (e) { log.push('pre:' + e); }
             try { await pre.pipeTo(new WritableStream(), { signal: {} }); } catch (e) { log.push(e.name); }
             return log.join(' ');",
            "abort:AbortError cancel:AbortError rejected:AbortError pre-cancel pre:why TypeError",
        );
    }

    #[test]
    fn pipe_to_argument_and_lock_checks() {
        check(
            "const out = [];
             const rs = new ReadableStream();
             try { await rs.pipeTo({}); } catch (e) { out.push(e.name); }
             const ws = new WritableStream();
             ws.getWriter();
             try { await rs.pipeTo(ws); } catch (e) { out.push(e.name); }
             rs.getReader();
             try { await rs.pipeTo(new WritableStream()); } catch (e) { out.push(e.name); }
             try { rs.pipeThrough(new TransformStream()); } catch (e) { out.push(e.name); }
             try { new ReadableStream().pipeThrough({ readable: 1, writable: new WritableStream() }); } catch (e) { out.push(e.name); }
             return out.join();",
            "TypeError,TypeError,TypeError,TypeError,TypeError",
        );
    }

    #[test]
    fn pipe_through_chain() {
        check(
            "const upper = new TransformStream({ transform(c, ctl) { ctl.enqueue(c.toUpperCase()); } });
             const out = await new Response(
               ReadableStream.from(['he', 'llo'])
                 .pipeThrough(upper)
                 .pipeThrough(new TextEncoderStream())
             ).text();
             return out;",
            "HELLO",
        );
    }

    // ----- Encoding streams -----------------------------------------------

    #[test]
    fn text_encoder_stream_joins_split_surrogates() {
        check(
            "const ts = new TextEncoderStream();
             const w = ts.writable.getWriter();
             w.write('a\\ud83d'); w.write('\\ude00b'); w.write('\\ud800'); w.close();
             const out = [];
             for await (const c of ts.readable) out.push(Array.from(c).join(' '));
             return [ts.encoding, out.join(' | ')].join();",
            "utf-8,97 | 240 159 152 128 98 | 239 191 189",
        );
    }

    #[test]
    fn text_decoder_stream_handles_split_multibyte_chars() {
        check(
            "const bytes = new TextEncoder().encode('h\\u00e9\\u{1F600}!');
             const ts = new TextDecoderStream();
             const w = ts.writable.getWriter();
             for (let i = 0; i < bytes.length; i++) w.write(bytes.subarray(i, i + 1));
             w.close();
             const out = [];
             for await (const s of ts.readable) out.push(s);
             return [ts.encoding, ts.fatal, ts.ignoreBOM, out.join('|')].join();",
            "utf-8,false,false,h|\u{e9}|\u{1F600}|!",
        );
    }

    #[test]
    fn text_decoder_stream_errors() {
        check(
            "const out = [];
             const fatal = new TextDecoderStream('utf-8', { fatal: true });
             const w = fatal.writable.getWriter();
             const r = fatal.readable.getReader();
             w.write(new Uint8Array([0xff])).catch(() => {});
             try { await r.read(); } catch (e) { out.push(e.name); }
             const partial = new TextDecoderStream('utf-8', { fatal: true });
             partial.readable.getReader().read().catch(() => {});
             const w2 = partial.writable.getWriter();
             w2.write(new Uint8Array([0xe2, 0x82]));
             const closing = w2.close();
             try { await closing; } catch (e) { out.push('close:' + e.name); }
             const t = new TextDecoderStream();
             t.readable.getReader().read().catch(() => {});
             try { await t.writable.getWriter().write('not bytes'); } catch (e) { out.push(e.name); }
             try { new TextDecoderStream('nope'); } catch (e) { out.push(e.name); }
             const latin = new TextDecoderStream('latin1');
             out.push(latin.encoding);
             return out.join();",
            "TypeError,close:TypeError,TypeError,RangeError,windows-1252",
        );
    }

    // ----- Workers byte transforms ------------------------------------------

    #[test]
    fn identity_transform_stream_passes_bytes() {
        check(
            "const ts = new IdentityTransformStream();
             const w = ts.writable.getWriter();
             w.write(new Uint8Array([1, 2]));
             w.write(new Uint16Array([0x0403]).buffer);
             w.write(new Uint8Array(0));
             w.close();
             const out = [];
             for await (const c of ts.readable) out.push(Object.prototype.toString.call(c) + ':' + c.join(' '));
             const bad = new IdentityTransformStream();
             // The transform runs once the readable side asks for a chunk.
             bad.readable.getReader().read().catch(() => {});
             let err;
             try { await bad.writable.getWriter().write('text'); } catch (e) { err = e.name; }
             return [out.join(' '), err, ts instanceof TransformStream, Object.prototype.toString.call(ts)].join();",
            "[object Uint8Array]:1 2 [object Uint8Array]:3 4,TypeError,true,[object IdentityTransformStream]",
        );
    }

    #[test]
    fn fixed_length_stream_checks_the_length() {
        check(
            "const out = [];
             const ok = new FixedLengthStream(3);
             const text = new Response(ok.readable).text();
             const w = ok.writable.getWriter();
             await w.write(new TextEncoder().encode('ab'));
             w.write(new TextEncoder().encode('c'));
             await w.close();
             out.push(await text);
             const long = new FixedLengthStream(2);
             long.readable.getReader().read();
             try { await long.writable.getWriter().write(new Uint8Array(3)); } catch (e) { out.push('long:' + e.name); }
             const short = new FixedLengthStream(5n);
             const sw = short.writable.getWriter();
             const sr = short.readable.getReader();
             sw.write(new Uint8Array(2));
             await sr.read();
             try { await sw.close(); } catch (e) { out.push('short:' + e.name); }
             try { await sr.read(); } catch (e) { out.push('read:' + e.name); }
             for (const bad of [-1, 1.5, 'x']) { try { new FixedLengthStream(bad); } catch (e) { out.push(e.name); } }
             out.push(new FixedLengthStream(0) instanceof IdentityTransformStream);
             return out.join();",
            "abc,long:TypeError,short:TypeError,read:TypeError,TypeError,TypeError,TypeError,true",
        );
    }

    // ----- Body integration -----------------------------------------------

    #[test]
    fn response_from_a_readable_stream() {
        check(
            "const rs = new ReadableStream({ start(c) {
               c.enqueue(new TextEncoder().encode('hel')); c.enqueue(new TextEncoder().encode('lo')); c.close(); } });
             const res = new Response(rs);
             const out = [res.body === rs, await res.text(), res.bodyUsed];
             return out.join();",
            "true,hello,true",
        );
    }

    #[test]
    fn response_body_reads_as_a_byte_stream() {
        check(
            "const res = new Response('abc');
             const body = res.body;
             const { value, done } = await body.getReader().read();
             return [body instanceof ReadableStream, res.body === body, value instanceof Uint8Array,
                     Array.from(value).join(' '), done].join();",
            "true,true,true,97 98 99,false",
        );
    }

    #[test]
    fn response_body_reads_with_a_byob_reader() {
        check(
            "const res = new Response('hello world');
             const r = res.body.getReader({ mode: 'byob' });
             const a = await r.read(new Uint8Array(5));
             const b = await r.read(new Uint8Array(100));
             const c = await r.read(new Uint8Array(1));
             const d = new TextDecoder();
             return [d.decode(a.value), d.decode(b.value), c.done, res.bodyUsed].join('|');",
            "hello| world|true|true",
        );
    }

    #[test]
    fn response_clone_of_a_streamed_body_tees_it() {
        check(
            "const rs = ReadableStream.from(['a', 'b', 'c'].map((s) => new TextEncoder().encode(s)));
             const res = new Response(rs, { headers: { 'x-a': '1' } });
             const copy = res.clone();
             const [a, b] = await Promise.all([res.text(), copy.text()]);
             return [a, b, rs.locked, copy.headers.get('x-a')].join();",
            "abc,abc,true,1",
        );
    }

    #[test]
    fn byob_reads_of_a_cloned_host_body() {
        check(
            "const res = new Response('abcdef');
             void res.body;
             const copy = res.clone();
             const r = copy.body.getReader({ mode: 'byob' });
             const d = new TextDecoder();
             const a = await r.read(new Uint8Array(4));
             const b = await r.read(new Uint8Array(4));
             const c = await r.read(new Uint8Array(4));
             return [d.decode(a.value), d.decode(b.value), c.done, c.value.byteLength, await res.text()].join('|');",
            "abcd|ef|true|0|abcdef",
        );
    }

    #[test]
    fn response_clone_after_body_access_and_of_buffered_bodies() {
        check(
            "const res = new Response('hello');
             const body = res.body;
             const copy = res.clone();
             const first = await copy.text();
             const second = await res.text();
             const plain = new Response('x');
             const plainCopy = plain.clone();
             const locked = new Response(new ReadableStream());
             locked.body.getReader();
             let err;
             try { locked.clone(); } catch (e) { err = e.name; }
             return [first, second, body.locked, await plain.text(), await plainCopy.text(), err].join();",
            "hello,hello,true,x,x,TypeError",
        );
    }

    #[test]
    fn request_clone_of_a_streamed_body() {
        check(
            "const req = new Request('https://example.com/', { method: 'POST', body: ReadableStream.from([new Uint8Array([104, 105])]), duplex: 'half' });
             const copy = req.clone();
             return [await copy.text(), await req.text()].join();",
            "hi,hi",
        );
    }

    // ----- Teardown ---------------------------------------------------------

    /// Streams left in every awkward state when the runtime is dropped must
    /// not leak (QuickJS aborts the process on a leak at teardown).
    #[test]
    fn teardown_with_streams_in_flight() {
        check(
            "globalThis.keep = [];
             const never = new ReadableStream();
             const r = never.getReader();
             keep.push(r.read(), r.read(), r.closed);
             const half = new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(8)); } });
             const hr = half.getReader();
             await hr.read();
             keep.push(half);
             const errored = new ReadableStream({ start(c) { c.error(new Error('x')); } });
             keep.push(errored.getReader().closed.catch(() => {}));
             const [t1, t2] = new ReadableStream({ pull(c) { c.enqueue(1); } }).tee();
             await t1.getReader().read();
             keep.push(t2);
             const it = new ReadableStream()[Symbol.asyncIterator]();
             keep.push(it.next());
             const slow = new WritableStream({ write() { return new Promise(() => {}); } });
             const w = slow.getWriter();
             keep.push(w.write(1), w.write(2), w.ready, w.closed);
             const ac = new AbortController();
             keep.push(new ReadableStream({ pull(c) { c.enqueue('p'); } })
               .pipeTo(new WritableStream({ write() { return new Promise(() => {}); } }), { signal: ac.signal }));
             const ts = new TransformStream();
             ts.writable.getWriter().write('pending');
             keep.push(ts);
             keep.push(new Response(new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(1)); } })).clone());
             const unresolved = new Response('abc').body;
             keep.push(unresolved.getReader().read());
             const byob = new ReadableStream({ type: 'bytes', pull(c) { keep.push(c, c.byobRequest); } });
             keep.push(byob.getReader({ mode: 'byob' }).read(new Uint16Array(4), { min: 2 }));
             const [bt1, bt2] = new ReadableStream({ type: 'bytes', pull(c) { c.enqueue(new Uint8Array(3)); } }).tee();
             keep.push(bt1.getReader({ mode: 'byob' }).read(new Uint32Array(2)), bt2);
             const hostByob = new Response('abcdef').body.getReader({ mode: 'byob' });
             keep.push(hostByob.read(new Uint8Array(2)), hostByob.read(new Uint8Array(64), { min: 64 }));
             return 'ok';",
            "ok",
        );
    }
}
