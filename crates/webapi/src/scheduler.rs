//! Small Workers globals: `scheduler.wait`, `navigator`, `reportError`, and
//! the event-target methods of the global scope (`addEventListener`,
//! `removeEventListener`, `dispatchEvent` for events other than `fetch`),
//! which `reportError` needs so a worker can listen for `error`. Also the
//! `Event` subclasses written in JavaScript (`CustomEvent`, `ErrorEvent`,
//! `MessageEvent`, `CloseEvent`), whose intrinsic constructors the host
//! builds its own events with (`host_event`).
//!
//! The global scope is not itself an `EventTarget` instance (QuickJS's global
//! object cannot be a native class instance), so its three methods are
//! `EventTarget.prototype` methods bound to one hidden `EventTarget`. Bound
//! functions keep their target visible to QuickJS's cycle collector, which a
//! Rust closure capturing it would not.

use std::rc::Rc;
use std::time::Duration;

use rquickjs::{
    function::{Opt, This},
    object::Property,
    Class, Coerced, Constructor, Ctx, FromJs, Function, JsLifetime, Object, Promise, Result, Value,
};
use tokio::sync::Notify;

use crate::error::{OrThrow, WebApiError};
use crate::events::{AbortSignal, Event, EventTarget, ListenerErrors};
use crate::webidl::{check_dict, dict_member};

/// What `navigator.userAgent` reports: the same string as workerd.
pub const USER_AGENT: &str = "Cloudflare-Workers";

/// The JS `Scheduler` class (the `scheduler` global).
///
/// Spec (Workers): <https://developers.cloudflare.com/workers/runtime-apis/scheduler/>
#[derive(rquickjs::class::Trace, JsLifetime, Default)]
#[rquickjs::class]
pub struct Scheduler {}

#[rquickjs::methods(rename_all = "camelCase")]
impl Scheduler {
    /// `Scheduler` has no public constructor.
    #[qjs(constructor)]
    pub fn constructor(ctx: Ctx<'_>) -> Result<Self> {
        Err(WebApiError::type_error("Illegal constructor")).or_throw(&ctx)
    }

    /// `scheduler.wait(ms, { signal })`: a promise that resolves (with
    /// `undefined`) after `ms` milliseconds, or rejects with the signal's
    /// reason when it aborts first. Like `setTimeout`, a negative or NaN
    /// delay is 0.
    pub fn wait<'js>(
        &self,
        ctx: Ctx<'js>,
        delay: Opt<Value<'js>>,
        options: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let ms = match delay.0 {
            Some(v) => Coerced::<f64>::from_js(&ctx, v)?.0,
            None => 0.0,
        };
        let mut signal = None;
        if let Some(options) = options.0 {
            check_dict(&ctx, &options, "The options argument")?;
            if let Some(v) = dict_member(&options, "signal")? {
                match Class::<AbortSignal>::from_value(&v) {
                    Ok(s) => signal = Some(s),
                    Err(_) => {
                        return Err(WebApiError::type_error(
                            "Failed to execute 'wait' on 'Scheduler': member signal is not of type AbortSignal.",
                        ))
                        .or_throw(&ctx)
                    }
                }
            }
        }
        let (promise, resolve, reject) = Promise::new(&ctx)?;
        let notify = Rc::new(Notify::new());
        if let Some(s) = &signal {
            let reason = s.borrow().abort_reason();
            if let Some(reason) = reason {
                reject.call::<_, ()>((reason,))?;
                return Ok(promise);
            }
            let hook = notify.clone();
            let algorithm = Function::new(ctx.clone(), move || hook.notify_one())?;
            s.borrow_mut().add_algorithm(algorithm);
        }
        let ms = if ms.is_finite() && ms > 0.0 {
            ms.min(2_147_483_647.0)
        } else {
            0.0
        };
        let sleep = Duration::from_micros((ms * 1000.0) as u64);
        let ctx2 = ctx.clone();
        ctx.spawn(async move {
            let aborted = tokio::select! {
                _ = tokio::time::sleep(sleep) => false,
                _ = notify.notified() => true,
            };
            let settled = match (aborted, &signal) {
                (true, Some(s)) => {
                    let reason = s.borrow().abort_reason();
                    reject.call::<_, ()>((reason,))
                }
                _ => resolve.call::<_, ()>(()),
            };
            if let Err(e) = settled {
                crate::timers::report_uncaught(&ctx2, e, "scheduler.wait");
            }
        });
        Ok(promise)
    }

    #[qjs(prop, rename = rquickjs::atom::PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "Scheduler"
    }
}

/// The JS `Navigator` class (the `navigator` global), with what workerd
/// reports.
///
/// Spec: <https://html.spec.whatwg.org/multipage/system-state.html#the-navigator-object>
#[derive(rquickjs::class::Trace, JsLifetime, Default)]
#[rquickjs::class]
pub struct Navigator {}

#[rquickjs::methods(rename_all = "camelCase")]
impl Navigator {
    /// `Navigator` has no public constructor.
    #[qjs(constructor)]
    pub fn constructor(ctx: Ctx<'_>) -> Result<Self> {
        Err(WebApiError::type_error("Illegal constructor")).or_throw(&ctx)
    }

    /// Always `"Cloudflare-Workers"`, as in workerd.
    #[qjs(get, enumerable)]
    pub fn user_agent(&self) -> &'static str {
        USER_AGENT
    }

    /// Always 1: a request runs on one thread, and reporting the node's cores
    /// would leak the host's shape (workerd reports 1 too).
    #[qjs(get, enumerable)]
    pub fn hardware_concurrency(&self) -> u32 {
        1
    }

    #[qjs(prop, rename = rquickjs::atom::PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "Navigator"
    }
}

/// The events the host fires that are instances of the classes of
/// `event_classes.js`
/// subclasses rather than plain `Event`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostEvent {
    /// `ErrorEvent`
    Error,
    /// `MessageEvent`
    Message,
    /// `CloseEvent`
    Close,
}

/// The intrinsic constructors of the [`HostEvent`] classes, captured at
/// install time: user code may replace the globals, and the events the host
/// fires must not run its replacements. Isolate userdata, which is dropped
/// before the runtime is freed, so holding JS values here leaks nothing; the
/// classes live as long as the isolate anyway.
#[derive(JsLifetime)]
struct IntrinsicEvents<'js> {
    error: Constructor<'js>,
    message: Constructor<'js>,
    close: Constructor<'js>,
}

/// A trusted (`isTrusted`) event of the intrinsic `class`, of type `kind`,
/// built as `new class(kind, init)` where `init` holds `fields` (the rest of
/// the dictionary at its defaults: not bubbling, not cancelable). Needs
/// [`init`] first.
pub(crate) fn host_event<'js>(
    ctx: &Ctx<'js>,
    class: HostEvent,
    kind: &str,
    fields: &[(&str, Value<'js>)],
) -> Result<Class<'js, Event<'js>>> {
    let ctor = {
        let classes = ctx
            .userdata::<IntrinsicEvents>()
            .ok_or(rquickjs::Error::Unknown)?;
        match class {
            HostEvent::Error => classes.error.clone(),
            HostEvent::Message => classes.message.clone(),
            HostEvent::Close => classes.close.clone(),
        }
    };
    // No prototype, so members the host leaves out are not looked up on a
    // user-modified Object.prototype.
    let init = Object::new(ctx.clone())?;
    init.set_prototype(None)?;
    for (name, value) in fields {
        init.set(*name, value.clone())?;
    }
    let event: Class<Event> = ctor.construct((kind, init))?;
    event.borrow_mut().set_trusted();
    Ok(event)
}

/// `reportError(e)`, bound to the global scope's hidden event target and the
/// intrinsic `ErrorEvent` constructor: dispatches a cancelable `error` event
/// carrying `error` and `message`, and logs `Uncaught <e>` unless a listener
/// called `preventDefault()`.
///
/// Spec: <https://html.spec.whatwg.org/multipage/webappapis.html#dom-reporterror>
fn report_error<'js>(
    ctx: Ctx<'js>,
    this: This<Value<'js>>,
    error_event: Constructor<'js>,
    error: Opt<Value<'js>>,
) -> Result<()> {
    let Some(error) = error.0 else {
        return Err(WebApiError::type_error(
            "Failed to execute 'reportError': 1 argument required, but only 0 present.",
        ))
        .or_throw(&ctx);
    };
    let target = this.0.into_object().ok_or(rquickjs::Error::Unknown)?;
    let has_listener =
        crate::events::with_listeners(&target, |l| l.has_listeners("error")).unwrap_or(false);
    let mut log = true;
    if has_listener {
        // The message is implementation-defined; this is workerd's (and
        // Chrome's): "Uncaught " and the value as a string.
        let text = match crate::webidl::js_to_string(&ctx, error.clone()) {
            Ok(s) => crate::webidl::string_lossy(&ctx, &s)?,
            Err(_) => {
                let _ = ctx.catch();
                crate::console::inspect(&ctx, &error, 0)?
            }
        };
        let init = Object::new(ctx.clone())?;
        init.set("cancelable", true)?;
        init.set("message", format!("Uncaught {text}"))?;
        init.set("error", error.clone())?;
        let event: Class<Event> = error_event.construct(("error", init))?;
        log = crate::events::dispatch(&ctx, &target, &event, ListenerErrors::Report)?;
    }
    if log {
        let text = crate::console::inspect(&ctx, &error, 0)?;
        crate::console::emit(
            &ctx,
            crate::console::Level::Error,
            &format!("Uncaught {text}"),
        );
    }
    Ok(())
}

/// Installs `scheduler`, `Navigator`/`navigator`, `self`, `CustomEvent`,
/// `ErrorEvent`, `MessageEvent`, `CloseEvent`, `reportError` and the global
/// scope's event-target methods.
/// Needs `events::init` first.
pub fn init<'js>(ctx: &Ctx<'js>) -> Result<()> {
    let globals = ctx.globals();

    // workerd has a `scheduler` but no `Scheduler` interface object.
    let scheduler = Class::instance(ctx.clone(), Scheduler::default())?;
    globals.prop(
        "scheduler",
        Property::from(scheduler)
            .writable()
            .enumerable()
            .configurable(),
    )?;

    crate::webidl::define_interface::<Navigator>(ctx)?;
    let navigator = Class::instance(ctx.clone(), Navigator::default())?;
    globals.prop(
        "navigator",
        Property::from(navigator).enumerable().configurable(),
    )?;
    globals.prop(
        "self",
        Property::from(globals.clone())
            .writable()
            .enumerable()
            .configurable(),
    )?;

    let event_ctor: Object = Class::<Event>::prototype(ctx)?
        .ok_or(rquickjs::Error::Unknown)?
        .get("constructor")?;
    // `event_classes.js`: `CustomEvent`, `ErrorEvent`, `MessageEvent` and
    // `CloseEvent`, JavaScript subclasses of the native `Event`.
    let factory: Function = crate::glue::EVENT_CLASSES.load(ctx)?;
    let classes: rquickjs::Array = factory.call((event_ctor,))?;
    let custom_event: Constructor = classes.get(0)?;
    let error_event: Constructor = classes.get(1)?;
    let message_event: Constructor = classes.get(2)?;
    let close_event: Constructor = classes.get(3)?;
    for (name, class) in [
        ("CustomEvent", &custom_event),
        ("ErrorEvent", &error_event),
        ("MessageEvent", &message_event),
        ("CloseEvent", &close_event),
    ] {
        globals.prop(
            name,
            Property::from(class.clone()).writable().configurable(),
        )?;
    }
    ctx.store_userdata(IntrinsicEvents {
        error: error_event.clone(),
        message: message_event,
        close: close_event,
    })
    .map_err(|_| rquickjs::Error::Unknown)?;

    let target = Class::instance(ctx.clone(), EventTarget::default())?;
    let target_proto = Class::<EventTarget>::prototype(ctx)?.ok_or(rquickjs::Error::Unknown)?;
    for name in ["addEventListener", "removeEventListener", "dispatchEvent"] {
        let method: Function = target_proto.get(name)?;
        let bind: Function = method.get("bind")?;
        let bound: Function = bind.call((This(method.clone()), target.clone()))?;
        crate::webidl::define_global_fn(ctx, name, bound)?;
    }

    let report = Function::new(ctx.clone(), report_error)?;
    let bind: Function = report.get("bind")?;
    let bound: Function = bind.call((This(report.clone()), target, error_event))?;
    let bound = bound.with_length(1)?;
    crate::webidl::define_global_fn(ctx, "reportError", bound)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    #[test]
    fn scheduler_wait_resolves_after_the_delay() {
        assert_eq!(
            run_js(
                "const t0 = Date.now(); const v = await scheduler.wait(20);
                 return [v, Date.now() - t0 >= 15, typeof Scheduler,
                         Object.prototype.toString.call(scheduler), await scheduler.wait(-5),
                         await scheduler.wait()].join();"
            ),
            ",true,undefined,[object Scheduler],,"
        );
    }

    #[test]
    fn scheduler_wait_aborts() {
        assert_eq!(
            run_js(
                "const out = [];
                 try { await scheduler.wait(10, { signal: AbortSignal.abort() }); } catch (e) { out.push(e.name); }
                 const c = new AbortController();
                 const p = scheduler.wait(10000, { signal: c.signal });
                 setTimeout(() => c.abort('why'), 5);
                 try { await p; } catch (e) { out.push(e); }
                 try { await scheduler.wait(1, { signal: 1 }); } catch (e) { out.push(e.name); }
                 try { await scheduler.wait(1, 5); } catch (e) { out.push(e.name); }
                 return out.join();"
            ),
            "AbortError,why,TypeError,TypeError"
        );
    }

    #[test]
    fn navigator_matches_workerd() {
        assert_eq!(
            run_js(
                "return [navigator.userAgent, navigator.hardwareConcurrency, navigator instanceof Navigator,
                         Object.prototype.toString.call(navigator)].join();"
            ),
            "Cloudflare-Workers,1,true,[object Navigator]"
        );
    }

    #[test]
    fn report_error_dispatches_and_can_be_prevented() {
        assert_eq!(
            run_js(
                "const seen = [];
                 const f = (e) => { seen.push(e.type, e.error.message, e.message, e.cancelable, e instanceof ErrorEvent); e.preventDefault(); };
                 addEventListener('error', f);
                 const r = reportError(new TypeError('boom'));
                 removeEventListener('error', f);
                 reportError('unheard');
                 addEventListener('x', (e) => seen.push('x:' + e.type));
                 seen.push(dispatchEvent(new Event('x')));
                 reportError(42);
                 seen.push(r, reportError.length);
                 return seen.join();"
            ),
            "error,boom,Uncaught TypeError: boom,true,true,x:x,true,,1"
        );
        assert!(run_js("reportError()").starts_with("THROWN TypeError"));
    }

    #[test]
    fn report_error_logs_through_the_console() {
        // A listener that does not cancel leaves the error logged; one that
        // throws is itself reported and does not escape reportError.
        assert_eq!(
            run_js(
                "let n = 0;
                 addEventListener('error', () => { n++; throw new Error('in listener'); });
                 reportError(new Error('x'));
                 return n;"
            ),
            "1"
        );
    }

    #[test]
    fn custom_and_error_events() {
        assert_eq!(
            run_js(
                "const c = new CustomEvent('c', { detail: { a: 1 }, cancelable: true });
                 const d = new CustomEvent('d');
                 const e = new ErrorEvent('error', { message: 'm', filename: 'f.js', lineno: 3, colno: 4, error: 7 });
                 const z = new ErrorEvent('z');
                 const t = new EventTarget(); let seen;
                 t.addEventListener('c', (ev) => { seen = ev.detail.a; });
                 t.dispatchEvent(c);
                 let brand; try { Object.getOwnPropertyDescriptor(CustomEvent.prototype, 'detail').get.call(new Event('x')); } catch (err) { brand = err.name; }
                 return [c.type, c.cancelable, c instanceof Event, d.detail, seen, e.message, e.filename, e.lineno, e.colno, e.error,
                         z.message, z.lineno, z.error, Object.prototype.toString.call(e), Object.prototype.toString.call(c), brand,
                         Object.keys(CustomEvent.prototype).join('|'), self === globalThis].join();"
            ),
            "c,true,true,,1,m,f.js,3,4,7,,0,,[object ErrorEvent],[object CustomEvent],TypeError,detail|initCustomEvent,true"
        );
        assert!(run_js("new CustomEvent()").starts_with("THROWN TypeError"));
        assert!(run_js("new ErrorEvent('x', 5)").starts_with("THROWN TypeError"));
    }

    #[test]
    fn message_events() {
        assert_eq!(
            run_js(
                "const d = new MessageEvent('message');
                 const m = new MessageEvent('m', { data: { a: 1 }, origin: 'https://x\\ud800', lastEventId: 7, cancelable: true });
                 let brand; try { Object.getOwnPropertyDescriptor(MessageEvent.prototype, 'ports').get.call(new Event('x')); } catch (err) { brand = err.name; }
                 return [d.type, d.data, d.origin === '', d.lastEventId === '', d.source, Array.isArray(d.ports), d.ports.length,
                         Object.isFrozen(d.ports), d.isTrusted, d instanceof Event, new MessageEvent('u', { data: undefined }).data,
                         m.data.a, m.origin === 'https://x\\ufffd', m.lastEventId, m.cancelable, m.bubbles,
                         Object.prototype.toString.call(m), Object.keys(MessageEvent.prototype).join('|'), brand].join();"
            ),
            "message,,true,true,,true,0,true,false,true,,1,true,7,true,false,[object MessageEvent],data|origin|lastEventId|source|ports,TypeError"
        );
        assert_eq!(
            run_js("try { new MessageEvent(); } catch (e) { return e.name + ': ' + e.message; }"),
            "TypeError: Failed to construct 'MessageEvent': 1 argument required, but only 0 present."
        );
        assert!(run_js("new MessageEvent('x', 5)").starts_with("THROWN TypeError"));
    }

    #[test]
    fn close_events() {
        assert_eq!(
            run_js(
                "const d = new CloseEvent('close');
                 const c = new CloseEvent('c', { code: 65536 + 1000, reason: 'bye\\udc00', wasClean: 1, bubbles: true });
                 let brand; try { Object.getOwnPropertyDescriptor(CloseEvent.prototype, 'code').get.call(new MessageEvent('x')); } catch (err) { brand = err.name; }
                 return [d.type, d.code, d.reason === '', d.wasClean, d.isTrusted, d instanceof Event, c.code, c.reason === 'bye\\ufffd',
                         c.wasClean, c.bubbles, new CloseEvent('n', { code: NaN }).code, Object.prototype.toString.call(c),
                         Object.keys(CloseEvent.prototype).join('|'), brand, typeof CloseEvent, Object.keys(globalThis).includes('CloseEvent')].join();"
            ),
            "close,0,true,false,false,true,1000,true,true,true,0,[object CloseEvent],wasClean|code|reason,TypeError,function,false"
        );
        assert!(run_js("new CloseEvent()").starts_with("THROWN TypeError"));
        assert!(run_js("new CloseEvent('x', { code: Symbol() })").starts_with("THROWN TypeError"));
    }

    #[test]
    fn missing_init_members_are_not_inherited() {
        // A dictionary member absent from the object given is read through
        // its prototype chain, but an absent dictionary reads nothing.
        assert_eq!(
            run_js(
                "Object.prototype.origin = 'o'; Object.prototype.message = 'm';
                 return [new MessageEvent('x').origin === '', new ErrorEvent('x').message === '',
                         new MessageEvent('x', {}).origin].join();"
            ),
            "true,true,o"
        );
    }

    #[test]
    fn dom_exception_is_complete() {
        assert_eq!(
            run_js(
                "const d = new DOMException('gone', 'NotFoundError');
                 const c = structuredClone(d);
                 return [d.name, d.message, d.code, d instanceof Error, DOMException.NOT_FOUND_ERR,
                         d.DATA_CLONE_ERR, new DOMException().name, new DOMException('m', 'Nope').code,
                         Object.prototype.toString.call(d), c instanceof DOMException, c.name, c.code,
                         c.message, String(d)].join();"
            ),
            "NotFoundError,gone,8,true,8,25,Error,0,[object DOMException],true,NotFoundError,8,gone,NotFoundError: gone"
        );
    }
}
