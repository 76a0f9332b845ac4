//! Small globals QuickJS-ng lacks or gets wrong: `structuredClone` and
//! `performance`.
//!
//! What a full QuickJS-ng context already has (checked by
//! `tests::quickjs_baseline`): `queueMicrotask`, `DOMException` (with names,
//! legacy codes and `instanceof Error`), `atob`/`btoa` and a `performance`
//! object. The native `performance.timeOrigin` is a monotonic-clock reading
//! (milliseconds since boot, not since the Unix epoch) and cannot be
//! redefined, so `performance` is replaced here by a `Performance` instance
//! whose `now()` counts from isolate creation and whose `timeOrigin` is a Unix
//! time in milliseconds. `Event.timeStamp` uses the same clock.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rquickjs::{
    atom::PredefinedAtom,
    class::Trace,
    function::{Opt, This},
    object::{Filter, Property},
    qjs, Array, ArrayBuffer, Atom, Class, Coerced, Constructor, Ctx, FromJs, Function, JsLifetime,
    Object, Result, Value,
};

use crate::error::{OrThrow, WebApiError};
use crate::webidl::{
    array_buffer_memory, array_buffer_view, class_name, dict_member, to_sequence, ViewKind,
};

/// Clock resolution: times are coarsened to 5 µs, the finest the HR-Time
/// spec allows.
const RESOLUTION_MS: f64 = 0.005;

/// When the isolate started, for `performance.now()` and `Event.timeStamp`.
/// Runtime userdata: plain data, no JS values.
#[derive(JsLifetime)]
struct IsolateClock {
    origin: Instant,
    time_origin: f64,
}

fn clock(ctx: &Ctx<'_>) -> (Instant, f64) {
    if let Some(c) = ctx.userdata::<IsolateClock>() {
        return (c.origin, c.time_origin);
    }
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let c = IsolateClock {
        origin: Instant::now(),
        time_origin: coarsen(since_epoch.as_secs_f64() * 1000.0),
    };
    let out = (c.origin, c.time_origin);
    let _ = ctx.store_userdata(c);
    out
}

fn coarsen(ms: f64) -> f64 {
    (ms / RESOLUTION_MS).floor() * RESOLUTION_MS
}

/// Milliseconds (with a fractional part) since the isolate's time origin.
///
/// Spec: <https://w3c.github.io/hr-time/#dom-performance-now>
pub fn now_ms(ctx: &Ctx<'_>) -> f64 {
    coarsen(clock(ctx).0.elapsed().as_secs_f64() * 1000.0)
}

/// The isolate's time origin as Unix time in milliseconds.
///
/// Spec: <https://w3c.github.io/hr-time/#dom-performance-timeorigin>
pub fn time_origin_ms(ctx: &Ctx<'_>) -> f64 {
    clock(ctx).1
}

/// The JS `Performance` class (the `performance` global).
///
/// Spec: <https://w3c.github.io/hr-time/#sec-performance>
#[derive(Trace, JsLifetime, Default)]
#[rquickjs::class]
pub struct Performance {}

#[rquickjs::methods(rename_all = "camelCase")]
impl Performance {
    /// `Performance` has no public constructor.
    #[qjs(constructor)]
    pub fn constructor(ctx: Ctx<'_>) -> Result<Self> {
        Err(WebApiError::type_error("Illegal constructor")).or_throw(&ctx)
    }

    pub fn now(&self, ctx: Ctx<'_>) -> f64 {
        now_ms(&ctx)
    }

    #[qjs(get, rename = "timeOrigin", enumerable)]
    pub fn get_time_origin(&self, ctx: Ctx<'_>) -> f64 {
        time_origin_ms(&ctx)
    }

    #[qjs(rename = "toJSON")]
    pub fn to_json<'js>(&self, ctx: Ctx<'js>) -> Result<Object<'js>> {
        let o = Object::new(ctx.clone())?;
        o.set("timeOrigin", time_origin_ms(&ctx))?;
        Ok(o)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "Performance"
    }
}

fn data_clone_error<T>(ctx: &Ctx<'_>, what: &str) -> Result<T> {
    Err(WebApiError::dom(
        "DataCloneError",
        format!("{what} could not be cloned."),
    ))
    .or_throw(ctx)
}

/// `structuredClone(value, { transfer })`: serialize then deserialize in one
/// pass, keeping a memory of already-cloned objects so shared references and
/// cycles survive.
///
/// Spec: <https://html.spec.whatwg.org/multipage/structured-data.html#dom-structuredclone>
pub fn structured_clone<'js>(
    ctx: Ctx<'js>,
    value: Value<'js>,
    options: Opt<Value<'js>>,
) -> Result<Value<'js>> {
    let mut cloner = Cloner {
        ctx: ctx.clone(),
        memory: HashMap::new(),
    };
    let mut transferred = Vec::new();
    if let Some(options) = options.0 {
        crate::webidl::check_dict(&ctx, &options, "StructuredSerializeOptions")?;
        if let Some(list) = dict_member(&options, "transfer")? {
            for t in to_sequence(&ctx, &list, "The transfer option")? {
                let Some(obj) = t.into_object() else {
                    return Err(WebApiError::type_error("Transferables must be objects."))
                        .or_throw(&ctx);
                };
                // SAFETY: type query on a live value.
                if !unsafe { qjs::JS_IsArrayBuffer(obj.as_raw()) } {
                    return data_clone_error(
                        &ctx,
                        "Only ArrayBuffers can be transferred; this value",
                    );
                }
                if cloner.memory.contains_key(&obj) {
                    return data_clone_error(&ctx, "An ArrayBuffer listed twice in transfer");
                }
                let Some(mem) = array_buffer_memory(&obj) else {
                    return data_clone_error(&ctx, "A detached ArrayBuffer");
                };
                // SAFETY: no JS runs between reading the memory and copying it.
                let copy = ArrayBuffer::new_copy(ctx.clone(), unsafe { mem.as_ref() })?;
                cloner.memory.insert(obj.clone(), copy.into_value());
                transferred.push(obj);
            }
        }
    }
    let out = cloner.clone_value(value)?;
    for obj in transferred {
        // SAFETY: `obj` is an ArrayBuffer (checked above).
        unsafe { qjs::JS_DetachArrayBuffer(ctx.as_raw().as_ptr(), obj.as_raw()) };
    }
    Ok(out)
}

struct Cloner<'js> {
    ctx: Ctx<'js>,
    memory: HashMap<Object<'js>, Value<'js>>,
}

impl<'js> Cloner<'js> {
    fn global_ctor(&self, name: &str) -> Result<Constructor<'js>> {
        self.ctx.globals().get(name)
    }

    /// Wraps an owned raw value, turning an exception marker into an error.
    fn own(&self, raw: qjs::JSValue) -> Result<Value<'js>> {
        // SAFETY: callers pass a value they own (a fresh result of a qjs call).
        if unsafe { qjs::JS_IsException(raw) } {
            return Err(rquickjs::Error::Exception);
        }
        Ok(unsafe { Value::from_raw(self.ctx.clone(), raw) })
    }

    fn remember(&mut self, from: &Object<'js>, to: Value<'js>) -> Value<'js> {
        self.memory.insert(from.clone(), to.clone());
        to
    }

    fn clone_value(&mut self, value: Value<'js>) -> Result<Value<'js>> {
        let ctx = self.ctx.clone();
        if value.is_symbol() {
            return data_clone_error(&ctx, "A Symbol");
        }
        let Some(obj) = value.as_object() else {
            return Ok(value);
        };
        if let Some(done) = self.memory.get(obj) {
            return Ok(done.clone());
        }
        if value.is_function() {
            return data_clone_error(&ctx, "A function");
        }
        if value.is_proxy() {
            return data_clone_error(&ctx, "A Proxy");
        }
        if let Some(view) = array_buffer_view(&ctx, &value)? {
            return self.clone_view(obj, view);
        }
        let class = class_name(&ctx, obj).unwrap_or_default();
        match class.as_str() {
            "Object" => {
                let out = Object::new(ctx.clone())?;
                self.remember(obj, out.clone().into_value());
                self.copy_properties(obj, &out)?;
                Ok(out.into_value())
            }
            "Array" => {
                let out = Array::new(ctx.clone())?.into_object();
                let len: Value = obj.get(PredefinedAtom::Length)?;
                out.set(PredefinedAtom::Length, len)?;
                self.remember(obj, out.clone().into_value());
                self.copy_properties(obj, &out)?;
                Ok(out.into_value())
            }
            "Boolean" | "Number" | "String" | "BigInt" => {
                let value_of: Function = obj.get(PredefinedAtom::ValueOf)?;
                let prim: Value = value_of.call((This(obj.clone()),))?;
                // SAFETY: `prim` is live; JS_ToObject returns a new reference.
                let wrapped =
                    self.own(unsafe { qjs::JS_ToObject(ctx.as_raw().as_ptr(), prim.as_raw()) })?;
                Ok(self.remember(obj, wrapped))
            }
            "Date" => {
                let time = Coerced::<f64>::from_js(&ctx, value.clone())?.0;
                // SAFETY: returns a new reference.
                let date = self.own(unsafe { qjs::JS_NewDate(ctx.as_raw().as_ptr(), time) })?;
                Ok(self.remember(obj, date))
            }
            "RegExp" => {
                let source: Value = obj.get("source")?;
                let flags: Value = obj.get("flags")?;
                let re: Value = self.global_ctor("RegExp")?.construct((source, flags))?;
                Ok(self.remember(obj, re))
            }
            "ArrayBuffer" => {
                let Some(mem) = array_buffer_memory(obj) else {
                    return data_clone_error(&ctx, "A detached ArrayBuffer");
                };
                // SAFETY: no JS runs between reading the memory and copying it.
                let copy = ArrayBuffer::new_copy(ctx.clone(), unsafe { mem.as_ref() })?;
                Ok(self.remember(obj, copy.into_value()))
            }
            "Map" => {
                let entries = self.collection_entries(obj, "Map")?;
                let out: Object = self.global_ctor("Map")?.construct(())?;
                self.remember(obj, out.clone().into_value());
                let set: Function = self
                    .global_ctor("Map")?
                    .get::<_, Object>(PredefinedAtom::Prototype)?
                    .get("set")?;
                for pair in entries {
                    let pair = pair.into_object().ok_or(rquickjs::Error::Unknown)?;
                    let k = self.clone_value(pair.get(0)?)?;
                    let v = self.clone_value(pair.get(1)?)?;
                    set.call::<_, Value>((This(out.clone()), k, v))?;
                }
                Ok(out.into_value())
            }
            "Set" => {
                let entries = self.collection_entries(obj, "Set")?;
                let out: Object = self.global_ctor("Set")?.construct(())?;
                self.remember(obj, out.clone().into_value());
                let add: Function = self
                    .global_ctor("Set")?
                    .get::<_, Object>(PredefinedAtom::Prototype)?
                    .get("add")?;
                for v in entries {
                    let v = self.clone_value(v)?;
                    add.call::<_, Value>((This(out.clone()), v))?;
                }
                Ok(out.into_value())
            }
            "Error" => self.clone_error(obj),
            "DOMException" => {
                let message: Value = obj.get("message")?;
                let name: Value = obj.get("name")?;
                let out: Value = self
                    .global_ctor("DOMException")?
                    .construct((message, name))?;
                if let Some(o) = out.as_object() {
                    copy_stack(obj, o)?;
                }
                Ok(self.remember(obj, out))
            }
            "" => data_clone_error(&ctx, "This value"),
            other => data_clone_error(&ctx, &format!("{other} object")),
        }
    }

    /// The entries (Map) or values (Set) of a collection, snapshotted before
    /// any of them is cloned.
    fn collection_entries(&self, obj: &Object<'js>, ctor: &str) -> Result<Vec<Value<'js>>> {
        let proto: Object = self.global_ctor(ctor)?.get(PredefinedAtom::Prototype)?;
        let method: Function = proto.get(if ctor == "Map" { "entries" } else { "values" })?;
        let iter: Value = method.call((This(obj.clone()),))?;
        let iter_obj = iter.clone().into_object().ok_or(rquickjs::Error::Unknown)?;
        let next: Function = iter_obj.get(PredefinedAtom::Next)?;
        let mut out = Vec::new();
        loop {
            let r: Object = next.call((This(iter.clone()),))?;
            if r.get::<_, bool>(PredefinedAtom::Done)? {
                return Ok(out);
            }
            out.push(r.get(PredefinedAtom::Value)?);
        }
    }

    /// Copies the own enumerable string-keyed properties, cloning values.
    fn copy_properties(&mut self, from: &Object<'js>, to: &Object<'js>) -> Result<()> {
        let keys: Vec<Atom<'js>> = from
            .own_keys::<Atom>(Filter::new().string().enum_only())
            .collect::<Result<_>>()?;
        for key in keys {
            let v: Value = from.get(key.clone())?;
            let v = self.clone_value(v)?;
            to.set(key, v)?;
        }
        Ok(())
    }

    /// Spec: the "Error" branches of StructuredSerializeInternal and
    /// StructuredDeserialize. The stack is kept too, as the spec suggests,
    /// and so is an own `cause` (cloned, so a cycle through it survives).
    fn clone_error(&mut self, obj: &Object<'js>) -> Result<Value<'js>> {
        const NAMES: [&str; 7] = [
            "Error",
            "EvalError",
            "RangeError",
            "ReferenceError",
            "SyntaxError",
            "TypeError",
            "URIError",
        ];
        let ctx = self.ctx.clone();
        let name: Value = obj.get(PredefinedAtom::Name)?;
        let name = match name.as_string() {
            Some(s) => s.to_string().unwrap_or_default(),
            None => String::new(),
        };
        let name = NAMES
            .iter()
            .find(|n| **n == name)
            .copied()
            .unwrap_or("Error");
        let message = own_data_property(obj, "message")?;
        let message = match message {
            Some(m) => Some(crate::webidl::js_to_string(&ctx, m)?),
            None => None,
        };
        let ctor = self.global_ctor(name)?;
        let out: Object = match message {
            Some(m) => ctor.construct((m,))?,
            None => ctor.construct(())?,
        };
        copy_stack(obj, &out)?;
        self.remember(obj, out.clone().into_value());
        // `cause` is not in the HTML spec's list yet, but V8 (so workerd)
        // and Firefox serialize it, and dropping it loses the error chain.
        if let Some(cause) = own_data_property(obj, "cause")? {
            let cause = self.clone_value(cause)?;
            out.prop("cause", Property::from(cause).writable().configurable())?;
        }
        Ok(out.into_value())
    }

    fn clone_view(
        &mut self,
        obj: &Object<'js>,
        view: crate::webidl::BufferView<'js>,
    ) -> Result<Value<'js>> {
        let kind = view.kind.ok_or(rquickjs::Error::Unknown)?;
        let buffer = self.clone_value(view.buffer.clone().into_value())?;
        let out = match kind.to_qjs() {
            Some(ta) => {
                let len = view.byte_length / kind.element_size();
                let mut argv = [
                    buffer.as_raw(),
                    qjs::JS_NewFloat64(view.byte_offset as f64),
                    qjs::JS_NewFloat64(len as f64),
                ];
                // SAFETY: the arguments are borrowed for the call; the result is owned.
                self.own(unsafe {
                    qjs::JS_NewTypedArray(self.ctx.as_raw().as_ptr(), 3, argv.as_mut_ptr(), ta)
                })?
            }
            None => {
                debug_assert_eq!(kind, ViewKind::DataView);
                self.global_ctor("DataView")?.construct((
                    buffer,
                    view.byte_offset,
                    view.byte_length,
                ))?
            }
        };
        Ok(self.remember(obj, out))
    }
}

/// The value of an own data property, `None` if absent or an accessor.
fn own_data_property<'js>(obj: &Object<'js>, key: &str) -> Result<Option<Value<'js>>> {
    let ctx = obj.ctx();
    let object_ctor: Object = ctx.globals().get("Object")?;
    let gopd: Function = object_ctor.get("getOwnPropertyDescriptor")?;
    let desc: Value = gopd.call((obj.clone(), key))?;
    let Some(desc) = desc.into_object() else {
        return Ok(None);
    };
    if !desc.contains_key("value")? {
        return Ok(None);
    }
    Ok(Some(desc.get("value")?))
}

fn copy_stack<'js>(from: &Object<'js>, to: &Object<'js>) -> Result<()> {
    let stack: Value = from.get(PredefinedAtom::Stack)?;
    if stack.is_string() {
        to.prop(
            PredefinedAtom::Stack,
            Property::from(stack).writable().configurable(),
        )?;
    }
    Ok(())
}

/// Installs `structuredClone`, `Performance` and `performance`.
pub fn init<'js>(ctx: &Ctx<'js>) -> Result<()> {
    clock(ctx);
    let clone = Function::new(
        ctx.clone(),
        |ctx: Ctx<'js>, v: Value<'js>, o: Opt<Value<'js>>| structured_clone(ctx, v, o),
    )?
    .with_length(1)?;
    crate::webidl::define_global_fn(ctx, "structuredClone", clone)?;

    crate::webidl::define_interface::<Performance>(ctx)?;
    let performance = Class::instance(ctx.clone(), Performance::default())?;
    ctx.globals().prop(
        "performance",
        Property::from(performance)
            .writable()
            .enumerable()
            .configurable(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;
    use rquickjs::{Context, Runtime};

    /// Documents what a full QuickJS-ng context provides before `install`.
    #[test]
    fn quickjs_baseline() {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        let out: String = ctx.with(|ctx| {
            ctx.eval(
                "[typeof queueMicrotask, typeof structuredClone, typeof performance,
                  typeof performance.now, typeof DOMException, typeof atob, typeof btoa,
                  new DOMException('m', 'AbortError').code, new DOMException('m') instanceof Error,
                  Math.abs(performance.timeOrigin - Date.now()) > 1000].join()",
            )
            .unwrap()
        });
        assert_eq!(
            out,
            "function,undefined,object,function,function,function,function,20,true,true"
        );
    }

    #[test]
    fn performance_clock() {
        assert_eq!(
            run_js(
                "const a = performance.now(); const b = performance.now();
                 return [typeof a, a >= 0, b >= a, a < 60000,
                         Math.abs(performance.timeOrigin + a - Date.now()) < 1000,
                         performance instanceof Performance,
                         JSON.stringify(performance) === JSON.stringify({ timeOrigin: performance.timeOrigin }),
                         Object.prototype.toString.call(performance)].join();"
            ),
            "number,true,true,true,true,true,true,[object Performance]"
        );
        assert!(run_js("new Performance()").starts_with("THROWN TypeError"));
    }

    #[test]
    fn queue_microtask_runs_before_timers_resolve() {
        assert_eq!(
            run_js(
                "const log = []; queueMicrotask(() => log.push('micro')); log.push('sync');
                 await null; return log.join();"
            ),
            "sync,micro"
        );
    }

    #[test]
    fn structured_clone_plain_data_and_cycles() {
        assert_eq!(
            run_js(
                "const o = { a: 1, s: 'x', n: null, u: undefined, b: 10n, nested: { arr: [1, , 3] } };
                 o.self = o; o.list = [o.nested, o.nested];
                 const c = structuredClone(o);
                 return [c !== o, c.self === c, c.list[0] === c.list[1], c.list[0] !== o.nested,
                         c.a, c.s, c.n, 'u' in c, c.b === 10n, c.nested.arr.length, 1 in c.nested.arr,
                         Array.isArray(c.nested.arr)].join();"
            ),
            "true,true,true,true,1,x,,true,true,3,false,true"
        );
    }

    #[test]
    fn structured_clone_builtins() {
        assert_eq!(
            run_js(
                "const d = new Date(86400000); const re = /a+b/gi; re.lastIndex = 3;
                 const m = new Map([[1, { k: 'v' }]]); const s = new Set(['x', d]);
                 const buf = new Uint8Array([1, 2, 3, 4]).buffer;
                 const view = new Uint16Array(buf, 2, 1); const dv = new DataView(buf, 1, 2);
                 const c = structuredClone({ d, re, m, s, buf, view, dv, w: new Number(5), str: new String('q') });
                 return [c.d instanceof Date, c.d.getTime(), c.d !== d, c.re.source, c.re.flags, c.re.lastIndex,
                         c.m.get(1).k, c.m.get(1) !== m.get(1), c.s.has('x'), [...c.s][1] instanceof Date,
                         c.buf.byteLength, c.view.buffer === c.buf, c.view.byteOffset, c.view[0] === view[0],
                         c.dv.buffer === c.buf, c.dv.byteOffset, c.dv.byteLength, c.buf !== buf,
                         typeof c.w, c.w + 1, c.str + '!'].join();"
            ),
            "true,86400000,true,a+b,gi,0,v,true,true,true,4,true,2,true,true,1,2,true,object,6,q!"
        );
    }

    #[test]
    fn structured_clone_errors() {
        assert_eq!(
            run_js(
                "const e = new RangeError('bad'); const c = structuredClone(e);
                 class MyErr extends Error { constructor() { super('mine'); this.name = 'MyErr'; } }
                 const m = structuredClone(new MyErr());
                 const d = structuredClone(new DOMException('gone', 'AbortError'));
                 const inner = new Error('inner'); const outer = new Error('outer', { cause: inner }); inner.cause = outer;
                 const k = structuredClone(outer);
                 return [c instanceof RangeError, c.message, c !== e, typeof c.stack,
                         m.constructor.name, m.message, d instanceof DOMException, d.name, d.message, d.code,
                         k.cause.message, k.cause.cause === k, Object.keys(k).length, 'cause' in c].join();"
            ),
            "true,bad,true,string,Error,mine,true,AbortError,gone,20,inner,true,0,false"
        );
    }

    #[test]
    fn structured_clone_rejects_uncloneables() {
        for src in [
            "structuredClone(() => 1)",
            "structuredClone({ f() {} })",
            "structuredClone(Symbol('s'))",
            "structuredClone(new WeakMap())",
            "structuredClone(Promise.resolve())",
            "structuredClone(new Proxy({}, {}))",
            "structuredClone(new EventTarget())",
        ] {
            let out = run_js(&format!(
                "try {{ {src}; return 'no error'; }} catch (e) {{ return e.name + ':' + (e instanceof DOMException); }}"
            ));
            assert_eq!(out, "DataCloneError:true", "{src}");
        }
        assert!(run_js("structuredClone()").starts_with("THROWN TypeError"));
    }

    #[test]
    fn structured_clone_transfer() {
        assert_eq!(
            run_js(
                "const buf = new Uint8Array([7, 8]).buffer;
                 const c = structuredClone({ buf }, { transfer: [buf] });
                 let dup; try { structuredClone(1, { transfer: [c.buf, c.buf] }); } catch (e) { dup = e.name; }
                 return [buf.byteLength, c.buf.byteLength, new Uint8Array(c.buf)[1], dup].join();"
            ),
            "0,2,8,DataCloneError"
        );
    }
}
