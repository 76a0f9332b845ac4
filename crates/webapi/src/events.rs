//! DOM events and abort signals: `Event`, `EventTarget`, `AbortController`,
//! `AbortSignal`.
//!
//! Spec: <https://dom.spec.whatwg.org/#events> and
//! <https://dom.spec.whatwg.org/#aborting-ongoing-activities>
//!
//! All four are native classes. Subclassing from JavaScript works because an
//! rquickjs constructor takes the new object's prototype from `new.target`:
//! `class X extends EventTarget {}` produces `EventTarget` instances whose
//! prototype is `X.prototype`, so no JS glue is needed. `AbortSignal` is its
//! own native class whose prototype chains to `EventTarget.prototype`; the
//! `EventTarget` methods find the listener list in either class (see
//! [`with_listeners`]).
//!
//! Outside a document nothing has a parent, so dispatch is the at-target part
//! of the DOM dispatch algorithm: capturing listeners, then the others.
//!
//! Exceptions thrown by listeners are reported (logged through `tracing`) and
//! dispatch carries on, as the DOM spec requires. The Rust entry point
//! [`dispatch`] can instead stop at the first exception and return it
//! ([`ListenerErrors::Propagate`]), which is what workerd does for the events
//! it fires itself (a throwing `fetch` listener fails the request).

use std::{cell::Cell, rc::Rc, time::Duration};

use rquickjs::{
    atom::PredefinedAtom,
    class::{Trace, Tracer},
    function::{Opt, This},
    object::Property,
    Array, Class, Coerced, Ctx, Function, JsLifetime, Object, Result, Value,
};

use crate::error::{OrThrow, WebApiError};
use crate::webidl::{
    check_dict, dict_member, dom_exception, enforce_range_u64, to_bool, to_sequence, to_usv_string,
};

/// `Event.NONE`
pub const NONE: u16 = 0;
/// `Event.CAPTURING_PHASE`
pub const CAPTURING_PHASE: u16 = 1;
/// `Event.AT_TARGET`
pub const AT_TARGET: u16 = 2;
/// `Event.BUBBLING_PHASE`
pub const BUBBLING_PHASE: u16 = 3;

/// The longest timer tokio accepts (about 2.2 years); longer timeouts are clamped.
const MAX_TIMER_MS: u64 = 68_719_476_734;

fn or_null<'js>(ctx: &Ctx<'js>, v: Option<Object<'js>>) -> Value<'js> {
    v.map(Object::into_value)
        .unwrap_or_else(|| Value::new_null(ctx.clone()))
}

/// The JS `Event` class.
///
/// Spec: <https://dom.spec.whatwg.org/#interface-event>
#[derive(Trace, JsLifetime)]
#[rquickjs::class]
pub struct Event<'js> {
    kind: String,
    bubbles: bool,
    cancelable: bool,
    composed: bool,
    target: Option<Object<'js>>,
    current_target: Option<Object<'js>>,
    phase: u16,
    stop_propagation: bool,
    stop_immediate: bool,
    canceled: bool,
    in_passive_listener: bool,
    dispatching: bool,
    initialized: bool,
    trusted: bool,
    time_stamp: f64,
}

impl<'js> Event<'js> {
    fn create(
        ctx: &Ctx<'js>,
        kind: String,
        bubbles: bool,
        cancelable: bool,
        composed: bool,
    ) -> Self {
        Self {
            kind,
            bubbles,
            cancelable,
            composed,
            target: None,
            current_target: None,
            phase: NONE,
            stop_propagation: false,
            stop_immediate: false,
            canceled: false,
            in_passive_listener: false,
            dispatching: false,
            initialized: true,
            trusted: false,
            time_stamp: crate::misc::now_ms(ctx),
        }
    }

    /// An event the platform fires (`isTrusted` is true), not bubbling, not cancelable.
    pub fn new_trusted(ctx: &Ctx<'js>, kind: &str) -> Self {
        let mut e = Self::create(ctx, kind.to_owned(), false, false, false);
        e.trusted = true;
        e
    }

    /// Marks an event as fired by the platform (`isTrusted`). For the
    /// JavaScript subclasses (`MessageEvent`, `CloseEvent`, ...), which the
    /// host builds through their constructors and so cannot start from
    /// [`Event::new_trusted`].
    pub(crate) fn set_trusted(&mut self) {
        self.trusted = true;
    }

    /// The event type.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Whether a listener canceled the event (`defaultPrevented`).
    pub fn canceled(&self) -> bool {
        self.canceled
    }

    /// Spec: <https://dom.spec.whatwg.org/#set-the-canceled-flag>
    fn set_canceled_flag(&mut self) {
        if self.cancelable && !self.in_passive_listener {
            self.canceled = true;
        }
    }
}

#[rquickjs::methods(rename_all = "camelCase")]
impl<'js> Event<'js> {
    /// `new Event(type, eventInitDict)`
    #[qjs(constructor)]
    pub fn constructor(
        ctx: Ctx<'js>,
        new_target: This<Value<'js>>,
        kind: Value<'js>,
        init: Opt<Value<'js>>,
    ) -> Result<Self> {
        crate::webidl::require_new(&ctx, &new_target.0, "Event")?;
        let kind = to_usv_string(&ctx, kind)?;
        let init = init.0.unwrap_or_else(|| Value::new_undefined(ctx.clone()));
        check_dict(&ctx, &init, "EventInit")?;
        let flag = |name: &str| -> Result<bool> {
            match dict_member(&init, name)? {
                Some(v) => to_bool(&ctx, v),
                None => Ok(false),
            }
        };
        let bubbles = flag("bubbles")?;
        let cancelable = flag("cancelable")?;
        let composed = flag("composed")?;
        Ok(Self::create(&ctx, kind, bubbles, cancelable, composed))
    }

    #[qjs(get, rename = "type")]
    pub fn get_type(&self) -> String {
        self.kind.clone()
    }

    #[qjs(get, rename = "target")]
    pub fn get_target(&self, ctx: Ctx<'js>) -> Value<'js> {
        or_null(&ctx, self.target.clone())
    }

    /// Legacy alias of `target`.
    #[qjs(get, rename = "srcElement")]
    pub fn get_src_element(&self, ctx: Ctx<'js>) -> Value<'js> {
        or_null(&ctx, self.target.clone())
    }

    #[qjs(get, rename = "currentTarget")]
    pub fn get_current_target(&self, ctx: Ctx<'js>) -> Value<'js> {
        or_null(&ctx, self.current_target.clone())
    }

    /// Spec: <https://dom.spec.whatwg.org/#dom-event-composedpath>
    pub fn composed_path(&self, ctx: Ctx<'js>) -> Result<Array<'js>> {
        let path = Array::new(ctx)?;
        if let Some(t) = &self.current_target {
            path.set(0, t.clone())?;
        }
        Ok(path)
    }

    #[qjs(get, rename = "eventPhase")]
    pub fn get_event_phase(&self) -> u16 {
        self.phase
    }

    pub fn stop_propagation(&mut self) {
        self.stop_propagation = true;
    }

    #[qjs(get, rename = "cancelBubble")]
    pub fn get_cancel_bubble(&self) -> bool {
        self.stop_propagation
    }

    #[qjs(set, rename = "cancelBubble")]
    pub fn set_cancel_bubble(&mut self, value: Coerced<bool>) {
        if value.0 {
            self.stop_propagation = true;
        }
    }

    pub fn stop_immediate_propagation(&mut self) {
        self.stop_propagation = true;
        self.stop_immediate = true;
    }

    #[qjs(get, rename = "bubbles")]
    pub fn get_bubbles(&self) -> bool {
        self.bubbles
    }

    #[qjs(get, rename = "cancelable")]
    pub fn get_cancelable(&self) -> bool {
        self.cancelable
    }

    #[qjs(get, rename = "composed")]
    pub fn get_composed(&self) -> bool {
        self.composed
    }

    /// Legacy: `!defaultPrevented`.
    #[qjs(get, rename = "returnValue")]
    pub fn get_return_value(&self) -> bool {
        !self.canceled
    }

    #[qjs(set, rename = "returnValue")]
    pub fn set_return_value(&mut self, value: Coerced<bool>) {
        if !value.0 {
            self.set_canceled_flag();
        }
    }

    pub fn prevent_default(&mut self) {
        self.set_canceled_flag();
    }

    #[qjs(get, rename = "defaultPrevented")]
    pub fn get_default_prevented(&self) -> bool {
        self.canceled
    }

    #[qjs(get, rename = "isTrusted")]
    pub fn get_is_trusted(&self) -> bool {
        self.trusted
    }

    /// Milliseconds since the isolate's time origin when the event was created.
    #[qjs(get, rename = "timeStamp")]
    pub fn get_time_stamp(&self) -> f64 {
        self.time_stamp
    }

    /// Legacy re-initialisation.
    ///
    /// Spec: <https://dom.spec.whatwg.org/#dom-event-initevent>
    pub fn init_event(
        &mut self,
        ctx: Ctx<'js>,
        kind: Value<'js>,
        bubbles: Opt<Value<'js>>,
        cancelable: Opt<Value<'js>>,
    ) -> Result<()> {
        let kind = to_usv_string(&ctx, kind)?;
        let bubbles = bubbles
            .0
            .map(|v| to_bool(&ctx, v))
            .transpose()?
            .unwrap_or(false);
        let cancelable = cancelable
            .0
            .map(|v| to_bool(&ctx, v))
            .transpose()?
            .unwrap_or(false);
        if self.dispatching {
            return Ok(());
        }
        self.initialized = true;
        self.stop_propagation = false;
        self.stop_immediate = false;
        self.canceled = false;
        self.trusted = false;
        self.target = None;
        self.kind = kind;
        self.bubbles = bubbles;
        self.cancelable = cancelable;
        Ok(())
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "Event"
    }
}

/// One registered listener.
///
/// Spec: <https://dom.spec.whatwg.org/#concept-event-listener>
#[derive(Clone)]
struct Listener<'js> {
    kind: String,
    callback: Callback<'js>,
    capture: bool,
    passive: bool,
    once: bool,
    /// The spec's "removed" flag, shared with the snapshot a running dispatch
    /// holds and with the abort algorithm of the listener's signal; its
    /// address also identifies the listener.
    removed: Rc<Cell<bool>>,
}

#[derive(Clone)]
enum Callback<'js> {
    /// A function or an object with `handleEvent`.
    Js(Object<'js>),
    /// The event handler (`on<type>` attribute) for the listener's type.
    Handler,
}

impl<'js> Trace<'js> for Listener<'js> {
    fn trace<'a>(&self, tracer: Tracer<'a, 'js>) {
        if let Callback::Js(o) = &self.callback {
            o.trace(tracer);
        }
    }
}

/// An event target's listener list and event handler values.
#[derive(Default)]
pub struct Listeners<'js> {
    list: Vec<Listener<'js>>,
    handlers: Vec<(String, Object<'js>)>,
}

impl<'js> Trace<'js> for Listeners<'js> {
    fn trace<'a>(&self, tracer: Tracer<'a, 'js>) {
        for l in &self.list {
            l.trace(tracer);
        }
        for (_, h) in &self.handlers {
            h.trace(tracer);
        }
    }
}

// SAFETY: the only lifetime is 'js, carried by JS values.
unsafe impl<'js> JsLifetime<'js> for Listeners<'js> {
    type Changed<'to> = Listeners<'to>;
}

impl<'js> Listeners<'js> {
    /// Appends unless an equal (type, callback, capture) listener exists;
    /// returns whether it was appended.
    fn add(&mut self, listener: Listener<'js>) -> bool {
        let Callback::Js(cb) = &listener.callback else {
            self.list.push(listener);
            return true;
        };
        let dup = self.list.iter().any(|l| {
            l.kind == listener.kind
                && l.capture == listener.capture
                && matches!(&l.callback, Callback::Js(o) if o == cb)
        });
        if !dup {
            self.list.push(listener);
        }
        !dup
    }

    fn remove_matching(&mut self, kind: &str, callback: &Object<'js>, capture: bool) {
        self.list.retain(|l| {
            let hit = l.kind == kind
                && l.capture == capture
                && matches!(&l.callback, Callback::Js(o) if o == callback);
            if hit {
                l.removed.set(true);
            }
            !hit
        });
    }

    fn remove_by_id(&mut self, id: &Rc<Cell<bool>>) {
        id.set(true);
        self.list.retain(|l| !Rc::ptr_eq(&l.removed, id));
    }

    /// Whether any listener for `kind` is registered.
    pub fn has_listeners(&self, kind: &str) -> bool {
        self.list.iter().any(|l| l.kind == kind)
    }

    /// The current value of the `on<kind>` event handler.
    pub fn handler(&self, kind: &str) -> Option<Object<'js>> {
        self.handlers
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, h)| h.clone())
    }

    /// Sets the `on<kind>` event handler. The first non-null value registers
    /// a listener (fixing its place in the listener order); null removes it.
    ///
    /// Spec: <https://html.spec.whatwg.org/multipage/webappapis.html#event-handler-attributes>
    pub fn set_handler(&mut self, kind: &str, value: Option<Object<'js>>) {
        match value {
            None => {
                self.handlers.retain(|(k, _)| k != kind);
                self.list.retain(|l| {
                    let hit = l.kind == kind && matches!(l.callback, Callback::Handler);
                    if hit {
                        l.removed.set(true);
                    }
                    !hit
                });
            }
            Some(v) => {
                if let Some(slot) = self.handlers.iter_mut().find(|(k, _)| k == kind) {
                    slot.1 = v;
                } else {
                    self.handlers.push((kind.to_owned(), v));
                    self.list.push(Listener {
                        kind: kind.to_owned(),
                        callback: Callback::Handler,
                        capture: false,
                        passive: false,
                        once: false,
                        removed: Rc::new(Cell::new(false)),
                    });
                }
            }
        }
    }
}

/// Runs `f` on the listener list of `obj` if it is an `EventTarget` (or a
/// subclass instance) or an `AbortSignal`; `None` otherwise.
///
/// A native class that should be an event target holds a [`Listeners`] and
/// gets a branch here.
pub fn with_listeners<'js, R>(
    obj: &Object<'js>,
    f: impl FnOnce(&mut Listeners<'js>) -> R,
) -> Option<R> {
    if let Some(t) = obj.as_class::<EventTarget>() {
        return Some(f(&mut t.borrow_mut().listeners));
    }
    if let Some(s) = obj.as_class::<AbortSignal>() {
        return Some(f(&mut s.borrow_mut().listeners));
    }
    if let Some(w) = obj.as_class::<crate::websocket::WebSocket>() {
        return Some(f(w.borrow_mut().listeners_mut()));
    }
    None
}

fn illegal_invocation<T>(ctx: &Ctx<'_>) -> Result<T> {
    Err(WebApiError::type_error("Illegal invocation")).or_throw(ctx)
}

fn this_target<'js>(ctx: &Ctx<'js>, this: Value<'js>) -> Result<Object<'js>> {
    match this.into_object() {
        Some(o) if with_listeners(&o, |_| ()).is_some() => Ok(o),
        _ => illegal_invocation(ctx),
    }
}

/// The JS `EventTarget` class.
///
/// Spec: <https://dom.spec.whatwg.org/#interface-eventtarget>
#[derive(Trace, JsLifetime, Default)]
#[rquickjs::class]
pub struct EventTarget<'js> {
    listeners: Listeners<'js>,
}

#[rquickjs::methods(rename_all = "camelCase")]
impl<'js> EventTarget<'js> {
    #[qjs(constructor)]
    pub fn new(ctx: Ctx<'js>, new_target: This<Value<'js>>) -> Result<Self> {
        crate::webidl::require_new(&ctx, &new_target.0, "EventTarget")?;
        Ok(Self::default())
    }

    /// Spec: <https://dom.spec.whatwg.org/#dom-eventtarget-addeventlistener>
    pub fn add_event_listener(
        ctx: Ctx<'js>,
        this: This<Value<'js>>,
        kind: Value<'js>,
        callback: Value<'js>,
        options: Opt<Value<'js>>,
    ) -> Result<()> {
        let target = this_target(&ctx, this.0)?;
        let kind = to_usv_string(&ctx, kind)?;
        let callback = listener_callback(&ctx, callback)?;
        let mut capture = false;
        let mut once = false;
        let mut passive = false;
        let mut signal = None;
        match options.0 {
            Some(o) if o.is_object() => {
                if let Some(v) = dict_member(&o, "capture")? {
                    capture = to_bool(&ctx, v)?;
                }
                if let Some(v) = dict_member(&o, "once")? {
                    once = to_bool(&ctx, v)?;
                }
                if let Some(v) = dict_member(&o, "passive")? {
                    passive = to_bool(&ctx, v)?;
                }
                if let Some(v) = dict_member(&o, "signal")? {
                    match Class::<AbortSignal>::from_value(&v) {
                        Ok(s) => signal = Some(s),
                        Err(_) => {
                            return Err(WebApiError::type_error(
                                "Failed to execute 'addEventListener': member signal is not of type AbortSignal.",
                            ))
                            .or_throw(&ctx)
                        }
                    }
                }
            }
            Some(o) if !o.is_undefined() && !o.is_null() => capture = to_bool(&ctx, o)?,
            _ => {}
        }
        if let Some(s) = &signal {
            if s.borrow().is_aborted() {
                return Ok(());
            }
        }
        let Some(callback) = callback else {
            return Ok(());
        };
        let removed = Rc::new(Cell::new(false));
        let listener = Listener {
            kind,
            callback: Callback::Js(callback),
            capture,
            passive,
            once,
            removed: removed.clone(),
        };
        let added = with_listeners(&target, |l| l.add(listener)).unwrap_or(false);
        if let (true, Some(s)) = (added, signal) {
            s.borrow_mut()
                .algorithms
                .push(AbortAlgorithm::RemoveListener {
                    target,
                    id: removed,
                });
        }
        Ok(())
    }

    /// Spec: <https://dom.spec.whatwg.org/#dom-eventtarget-removeeventlistener>
    pub fn remove_event_listener(
        ctx: Ctx<'js>,
        this: This<Value<'js>>,
        kind: Value<'js>,
        callback: Value<'js>,
        options: Opt<Value<'js>>,
    ) -> Result<()> {
        let target = this_target(&ctx, this.0)?;
        let kind = to_usv_string(&ctx, kind)?;
        let callback = listener_callback(&ctx, callback)?;
        let capture = match options.0 {
            Some(o) if o.is_object() => match dict_member(&o, "capture")? {
                Some(v) => to_bool(&ctx, v)?,
                None => false,
            },
            Some(o) => to_bool(&ctx, o)?,
            None => false,
        };
        if let Some(cb) = callback {
            with_listeners(&target, |l| l.remove_matching(&kind, &cb, capture));
        }
        Ok(())
    }

    /// Spec: <https://dom.spec.whatwg.org/#dom-eventtarget-dispatchevent>
    pub fn dispatch_event(
        ctx: Ctx<'js>,
        this: This<Value<'js>>,
        event: Value<'js>,
    ) -> Result<bool> {
        let target = this_target(&ctx, this.0)?;
        let Ok(event) = Class::<Event>::from_value(&event) else {
            return Err(WebApiError::type_error(
                "Failed to execute 'dispatchEvent' on 'EventTarget': parameter 1 is not of type 'Event'.",
            ))
            .or_throw(&ctx);
        };
        event.borrow_mut().trusted = false;
        dispatch(&ctx, &target, &event, ListenerErrors::Report)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "EventTarget"
    }
}

/// `EventListener?`: null/undefined, or any object (a function, or an object
/// whose `handleEvent` is looked up at dispatch time).
fn listener_callback<'js>(ctx: &Ctx<'js>, v: Value<'js>) -> Result<Option<Object<'js>>> {
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.into_object() {
        Some(o) => Ok(Some(o)),
        None => Err(WebApiError::type_error(
            "The \"listener\" argument must be an object or a function.",
        ))
        .or_throw(ctx),
    }
}

/// What [`dispatch`] does when a listener throws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerErrors {
    /// Report the exception (log it) and go on with the next listener (DOM spec).
    Report,
    /// Stop and return the exception to the caller (workerd, for platform events).
    Propagate,
}

/// Dispatches `event` at `target` and returns `!event.defaultPrevented`.
///
/// Spec: <https://dom.spec.whatwg.org/#concept-event-dispatch>
pub fn dispatch<'js>(
    ctx: &Ctx<'js>,
    target: &Object<'js>,
    event: &Class<'js, Event<'js>>,
    errors: ListenerErrors,
) -> Result<bool> {
    {
        let mut e = event.borrow_mut();
        if e.dispatching || !e.initialized {
            drop(e);
            return Err(WebApiError::dom(
                "InvalidStateError",
                "The event is already being dispatched.",
            ))
            .or_throw(ctx);
        }
        e.dispatching = true;
        e.target = Some(target.clone());
    }
    let result = invoke(ctx, target, event, true, errors)
        .and_then(|()| invoke(ctx, target, event, false, errors));
    let mut e = event.borrow_mut();
    e.phase = NONE;
    e.current_target = None;
    e.dispatching = false;
    e.stop_propagation = false;
    e.stop_immediate = false;
    let canceled = e.canceled;
    drop(e);
    result.map(|()| !canceled)
}

/// Spec: <https://dom.spec.whatwg.org/#concept-event-listener-invoke>
fn invoke<'js>(
    ctx: &Ctx<'js>,
    target: &Object<'js>,
    event: &Class<'js, Event<'js>>,
    capturing: bool,
    errors: ListenerErrors,
) -> Result<()> {
    let kind = {
        let mut e = event.borrow_mut();
        if e.stop_propagation {
            return Ok(());
        }
        e.current_target = Some(target.clone());
        e.phase = AT_TARGET;
        e.kind.clone()
    };
    // Listeners added during dispatch do not run; removed ones are skipped
    // through their shared `removed` flag.
    let snapshot: Vec<Listener<'js>> =
        with_listeners(target, |l| l.list.clone()).unwrap_or_default();
    for listener in snapshot {
        if listener.removed.get() || listener.kind != kind || listener.capture != capturing {
            continue;
        }
        if listener.once {
            with_listeners(target, |l| l.remove_by_id(&listener.removed));
        }
        if listener.passive {
            event.borrow_mut().in_passive_listener = true;
        }
        let res = call_listener(ctx, target, event, &listener);
        event.borrow_mut().in_passive_listener = false;
        if let Err(err) = res {
            match errors {
                ListenerErrors::Report => report_exception(ctx, err)?,
                ListenerErrors::Propagate => return Err(err),
            }
        }
        if event.borrow().stop_immediate {
            break;
        }
    }
    Ok(())
}

fn call_listener<'js>(
    ctx: &Ctx<'js>,
    target: &Object<'js>,
    event: &Class<'js, Event<'js>>,
    listener: &Listener<'js>,
) -> Result<()> {
    match &listener.callback {
        Callback::Js(cb) => {
            if let Some(f) = cb.as_function() {
                f.call::<_, Value>((This(target.clone()), event.clone()))?;
            } else {
                let handle: Value = cb.get("handleEvent")?;
                let Some(f) = handle.as_function() else {
                    return Err(WebApiError::type_error(
                        "The listener's handleEvent is not a function.",
                    ))
                    .or_throw(ctx);
                };
                f.call::<_, Value>((This(cb.clone()), event.clone()))?;
            }
        }
        Callback::Handler => {
            let Some(h) = with_listeners(target, |l| l.handler(&listener.kind)).flatten() else {
                return Ok(());
            };
            let Some(f) = h.as_function() else {
                return Err(WebApiError::type_error(
                    "The event handler is not a function.",
                ))
                .or_throw(ctx);
            };
            let ret: Value = f.call((This(target.clone()), event.clone()))?;
            if ret.as_bool() == Some(false) {
                event.borrow_mut().set_canceled_flag();
            }
        }
    }
    Ok(())
}

/// Reports an exception a callback threw ("report the exception") by logging
/// it; uncatchable errors (interrupts) and non-exception errors propagate.
pub(crate) fn report_exception(ctx: &Ctx<'_>, err: rquickjs::Error) -> Result<()> {
    if !matches!(err, rquickjs::Error::Exception) {
        return Err(err);
    }
    let value = ctx.catch();
    if value.is_uncatchable_error() {
        return Err(ctx.throw(value));
    }
    let mut text = display_value(ctx, value.clone());
    if let Some(obj) = value.as_object() {
        match obj.get::<_, Value>(PredefinedAtom::Stack) {
            Ok(stack) if stack.is_string() => {
                let stack = display_value(ctx, stack);
                if !stack.is_empty() {
                    text.push('\n');
                    text.push_str(stack.trim_end());
                }
            }
            Ok(_) => {}
            Err(_) => {
                // A throwing `stack` getter: report without it.
                let _ = ctx.catch();
            }
        }
    }
    let deployment = crate::host::host_info(ctx).deployment;
    tracing::error!(deployment = %deployment, "Uncaught {text}");
    Ok(())
}

/// `String(value)`, or a placeholder if converting throws.
fn display_value<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> String {
    match crate::webidl::js_to_string(ctx, value) {
        Ok(s) => crate::webidl::string_lossy(ctx, &s).unwrap_or_default(),
        Err(_) => {
            let _ = ctx.catch();
            "<unprintable value>".to_owned()
        }
    }
}

/// Steps that run when a signal aborts, before its `abort` event.
enum AbortAlgorithm<'js> {
    /// Remove an event listener registered with `{ signal }`.
    RemoveListener {
        target: Object<'js>,
        id: Rc<Cell<bool>>,
    },
    /// A callback another binding registered with [`AbortSignal::add_algorithm`].
    Call(Function<'js>),
}

impl<'js> Trace<'js> for AbortAlgorithm<'js> {
    fn trace<'a>(&self, tracer: Tracer<'a, 'js>) {
        match self {
            Self::RemoveListener { target, .. } => target.trace(tracer),
            Self::Call(f) => f.trace(tracer),
        }
    }
}

// SAFETY: the only lifetime is 'js, carried by JS values.
unsafe impl<'js> JsLifetime<'js> for AbortAlgorithm<'js> {
    type Changed<'to> = AbortAlgorithm<'to>;
}

/// The JS `AbortSignal` class.
///
/// Spec: <https://dom.spec.whatwg.org/#interface-AbortSignal>
#[derive(Trace, JsLifetime, Default)]
#[rquickjs::class]
pub struct AbortSignal<'js> {
    listeners: Listeners<'js>,
    /// `Some` once aborted.
    reason: Option<Value<'js>>,
    algorithms: Vec<AbortAlgorithm<'js>>,
    dependent: bool,
    /// Signals this one follows (`AbortSignal.any`). The spec holds these and
    /// `dependents` weakly; here they are strong (traced, so cycles are
    /// collected) and both lists are emptied once the signal aborts.
    sources: Vec<Class<'js, AbortSignal<'js>>>,
    dependents: Vec<Class<'js, AbortSignal<'js>>>,
}

impl<'js> AbortSignal<'js> {
    /// Whether the signal has aborted.
    pub fn is_aborted(&self) -> bool {
        self.reason.is_some()
    }

    /// The abort reason, once aborted.
    pub fn abort_reason(&self) -> Option<Value<'js>> {
        self.reason.clone()
    }

    /// Registers `f` to be called (without arguments) when the signal aborts,
    /// before the `abort` event fires. Does nothing if already aborted.
    pub fn add_algorithm(&mut self, f: Function<'js>) {
        if !self.is_aborted() {
            self.algorithms.push(AbortAlgorithm::Call(f));
        }
    }

    /// A new signal, already aborted with `reason` (an `AbortError`
    /// `DOMException` when `None` or `undefined`).
    pub fn new_aborted(ctx: &Ctx<'js>, reason: Option<Value<'js>>) -> Self {
        Self {
            reason: Some(reason_or_default(ctx, reason)),
            ..Self::default()
        }
    }
}

fn reason_or_default<'js>(ctx: &Ctx<'js>, reason: Option<Value<'js>>) -> Value<'js> {
    match reason {
        Some(v) if !v.is_undefined() => v,
        _ => dom_exception(ctx, "AbortError", "The operation was aborted"),
    }
}

#[rquickjs::methods(rename_all = "camelCase")]
impl<'js> AbortSignal<'js> {
    /// `AbortSignal` has no public constructor.
    #[qjs(constructor)]
    pub fn constructor(ctx: Ctx<'js>) -> Result<Self> {
        Err(WebApiError::type_error("Illegal constructor")).or_throw(&ctx)
    }

    /// Spec: <https://dom.spec.whatwg.org/#dom-abortsignal-abort>
    #[qjs(static, rename = "abort")]
    pub fn static_abort(ctx: Ctx<'js>, reason: Opt<Value<'js>>) -> Result<Class<'js, Self>> {
        let signal = Self::new_aborted(&ctx, reason.0);
        Class::instance(ctx, signal)
    }

    /// Spec: <https://dom.spec.whatwg.org/#dom-abortsignal-timeout>
    #[qjs(static)]
    pub fn timeout(ctx: Ctx<'js>, ms: Value<'js>) -> Result<Class<'js, Self>> {
        let ms = enforce_range_u64(&ctx, ms)?.min(MAX_TIMER_MS);
        let signal = Class::instance(ctx.clone(), Self::default())?;
        let timer_signal = signal.clone();
        let timer_ctx = ctx.clone();
        ctx.spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            let reason = dom_exception(
                &timer_ctx,
                "TimeoutError",
                "The operation was aborted due to timeout",
            );
            if let Err(e) = signal_abort(&timer_ctx, &timer_signal, Some(reason)) {
                let _ = report_exception(&timer_ctx, e);
            }
        });
        Ok(signal)
    }

    /// Spec: <https://dom.spec.whatwg.org/#dom-abortsignal-any>
    #[qjs(static)]
    pub fn any(ctx: Ctx<'js>, signals: Value<'js>) -> Result<Class<'js, Self>> {
        let mut inputs = Vec::new();
        for v in to_sequence(&ctx, &signals, "The signals argument")? {
            match Class::<AbortSignal>::from_value(&v) {
                Ok(s) => inputs.push(s),
                Err(_) => {
                    return Err(WebApiError::type_error(
                        "Failed to execute 'any' on 'AbortSignal': an element is not of type 'AbortSignal'.",
                    ))
                    .or_throw(&ctx)
                }
            }
        }
        let result = Class::instance(ctx.clone(), Self::default())?;
        for s in &inputs {
            let reason = s.borrow().reason.clone();
            if let Some(r) = reason {
                result.borrow_mut().reason = Some(r);
                return Ok(result);
            }
        }
        result.borrow_mut().dependent = true;
        for s in &inputs {
            let (dependent, sources) = {
                let b = s.borrow();
                (b.dependent, b.sources.clone())
            };
            if dependent {
                for src in &sources {
                    link(&result, src);
                }
            } else {
                link(&result, s);
            }
        }
        Ok(result)
    }

    #[qjs(get, rename = "aborted")]
    pub fn get_aborted(&self) -> bool {
        self.is_aborted()
    }

    #[qjs(get, rename = "reason")]
    pub fn get_reason(&self, ctx: Ctx<'js>) -> Value<'js> {
        self.reason
            .clone()
            .unwrap_or_else(|| Value::new_undefined(ctx))
    }

    /// Spec: <https://dom.spec.whatwg.org/#dom-abortsignal-throwifaborted>
    pub fn throw_if_aborted(&self, ctx: Ctx<'js>) -> Result<()> {
        match &self.reason {
            Some(r) => Err(ctx.throw(r.clone())),
            None => Ok(()),
        }
    }

    #[qjs(get, rename = "onabort")]
    pub fn get_onabort(&self, ctx: Ctx<'js>) -> Value<'js> {
        or_null(&ctx, self.listeners.handler("abort"))
    }

    #[qjs(set, rename = "onabort")]
    pub fn set_onabort(&mut self, value: Value<'js>) {
        self.listeners.set_handler("abort", value.into_object());
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "AbortSignal"
    }
}

fn link<'js>(result: &Class<'js, AbortSignal<'js>>, source: &Class<'js, AbortSignal<'js>>) {
    {
        let mut r = result.borrow_mut();
        if r.sources.contains(source) {
            return;
        }
        r.sources.push(source.clone());
    }
    source.borrow_mut().dependents.push(result.clone());
}

/// Aborts `signal` with `reason` (an `AbortError` `DOMException` when `None`
/// or `undefined`), then every signal that depends on it.
///
/// Spec: <https://dom.spec.whatwg.org/#abortsignal-signal-abort>
pub fn signal_abort<'js>(
    ctx: &Ctx<'js>,
    signal: &Class<'js, AbortSignal<'js>>,
    reason: Option<Value<'js>>,
) -> Result<()> {
    if signal.borrow().is_aborted() {
        return Ok(());
    }
    let reason = reason_or_default(ctx, reason);
    let mut to_abort = Vec::new();
    let dependents = {
        let mut s = signal.borrow_mut();
        s.reason = Some(reason.clone());
        std::mem::take(&mut s.dependents)
    };
    for d in dependents {
        let fresh = {
            let mut db = d.borrow_mut();
            let fresh = db.reason.is_none();
            if fresh {
                db.reason = Some(reason.clone());
            }
            fresh
        };
        if fresh {
            to_abort.push(d);
        }
    }
    unlink_from_sources(signal);
    run_abort_steps(ctx, signal)?;
    for d in &to_abort {
        unlink_from_sources(d);
        run_abort_steps(ctx, d)?;
    }
    Ok(())
}

/// An aborted signal never aborts again, so it need not be reachable from its
/// sources any longer.
fn unlink_from_sources<'js>(signal: &Class<'js, AbortSignal<'js>>) {
    let sources = std::mem::take(&mut signal.borrow_mut().sources);
    for src in sources {
        src.borrow_mut().dependents.retain(|d| d != signal);
    }
}

/// Spec: <https://dom.spec.whatwg.org/#run-the-abort-steps>
fn run_abort_steps<'js>(ctx: &Ctx<'js>, signal: &Class<'js, AbortSignal<'js>>) -> Result<()> {
    let algorithms = std::mem::take(&mut signal.borrow_mut().algorithms);
    for algorithm in algorithms {
        match algorithm {
            AbortAlgorithm::RemoveListener { target, id } => {
                with_listeners(&target, |l| l.remove_by_id(&id));
            }
            AbortAlgorithm::Call(f) => {
                if let Err(e) = f.call::<_, Value>(()) {
                    report_exception(ctx, e)?;
                }
            }
        }
    }
    let event = Class::instance(ctx.clone(), Event::new_trusted(ctx, "abort"))?;
    dispatch(ctx, signal.as_inner(), &event, ListenerErrors::Report)?;
    Ok(())
}

/// The JS `AbortController` class.
///
/// Spec: <https://dom.spec.whatwg.org/#interface-abortcontroller>
#[derive(Trace, JsLifetime)]
#[rquickjs::class]
pub struct AbortController<'js> {
    signal: Class<'js, AbortSignal<'js>>,
}

#[rquickjs::methods(rename_all = "camelCase")]
impl<'js> AbortController<'js> {
    #[qjs(constructor)]
    pub fn new(ctx: Ctx<'js>, new_target: This<Value<'js>>) -> Result<Self> {
        crate::webidl::require_new(&ctx, &new_target.0, "AbortController")?;
        Ok(Self {
            signal: Class::instance(ctx, AbortSignal::default())?,
        })
    }

    #[qjs(get, rename = "signal")]
    pub fn get_signal(&self) -> Class<'js, AbortSignal<'js>> {
        self.signal.clone()
    }

    /// Spec: <https://dom.spec.whatwg.org/#dom-abortcontroller-abort>
    pub fn abort(&self, ctx: Ctx<'js>, reason: Opt<Value<'js>>) -> Result<()> {
        let signal = self.signal.clone();
        signal_abort(&ctx, &signal, reason.0)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "AbortController"
    }
}

/// Installs `Event`, `EventTarget`, `AbortSignal` and `AbortController`.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    let event_ctor = crate::webidl::define_interface::<Event>(ctx)?;
    let event_proto = Class::<Event>::prototype(ctx)?.ok_or(rquickjs::Error::Unknown)?;
    for (name, value) in [
        ("NONE", NONE),
        ("CAPTURING_PHASE", CAPTURING_PHASE),
        ("AT_TARGET", AT_TARGET),
        ("BUBBLING_PHASE", BUBBLING_PHASE),
    ] {
        event_ctor.prop(name, Property::from(value).enumerable())?;
        event_proto.prop(name, Property::from(value).enumerable())?;
    }

    let target_ctor = crate::webidl::define_interface::<EventTarget>(ctx)?;
    let target_proto = Class::<EventTarget>::prototype(ctx)?.ok_or(rquickjs::Error::Unknown)?;

    let signal_ctor = crate::webidl::define_interface::<AbortSignal>(ctx)?;
    let signal_proto = Class::<AbortSignal>::prototype(ctx)?.ok_or(rquickjs::Error::Unknown)?;
    signal_proto.set_prototype(Some(&target_proto))?;
    signal_ctor.set_prototype(Some(&target_ctor))?;

    crate::webidl::define_interface::<AbortController>(ctx)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    #[test]
    fn event_basics() {
        assert_eq!(
            run_js(
                "const e = new Event('x', { cancelable: true });
                 const r = [e.type, e.bubbles, e.cancelable, e.defaultPrevented, e.eventPhase,
                            e.target, e.isTrusted, typeof e.timeStamp, Event.AT_TARGET, e.AT_TARGET,
                            Object.prototype.toString.call(e)];
                 e.preventDefault();
                 r.push(e.defaultPrevented);
                 const n = new Event('y');
                 n.preventDefault();
                 r.push(n.defaultPrevented);
                 return r.join();"
            ),
            "x,false,true,false,0,,false,number,2,2,[object Event],true,false"
        );
        assert!(run_js("new Event()").starts_with("THROWN TypeError"));
    }

    #[test]
    fn dispatch_order_once_and_handle_event() {
        assert_eq!(
            run_js(
                "const t = new EventTarget(); const log = [];
                 const f = (e) => log.push('f:' + (e.target === t) + (e.currentTarget === t) + e.eventPhase);
                 t.addEventListener('a', f);
                 t.addEventListener('a', f); // duplicate ignored
                 t.addEventListener('a', { handleEvent(e) { log.push('obj:' + (this !== t)); } });
                 t.addEventListener('a', () => log.push('cap'), { capture: true });
                 t.addEventListener('a', () => log.push('once'), { once: true });
                 t.addEventListener('b', () => log.push('b'));
                 const ev = new Event('a');
                 t.dispatchEvent(ev);
                 t.dispatchEvent(new Event('a'));
                 log.push(ev.eventPhase, ev.currentTarget, ev.target === t);
                 return log.join(' ');"
            ),
            "cap f:truetrue2 obj:true once cap f:truetrue2 obj:true 0  true"
        );
    }

    #[test]
    fn remove_and_stop_immediate() {
        assert_eq!(
            run_js(
                "const t = new EventTarget(); const log = [];
                 const g = () => log.push('g');
                 t.addEventListener('a', (e) => { log.push('f'); t.removeEventListener('a', g); });
                 t.addEventListener('a', g);
                 t.addEventListener('a', (e) => { log.push('h'); e.stopImmediatePropagation(); });
                 t.addEventListener('a', () => log.push('never'));
                 t.dispatchEvent(new Event('a'));
                 return log.join('');"
            ),
            "fh"
        );
    }

    #[test]
    fn dispatch_return_value_and_errors() {
        assert_eq!(
            run_js(
                "const t = new EventTarget();
                 t.addEventListener('a', (e) => e.preventDefault());
                 t.addEventListener('a', () => { throw new Error('boom'); });
                 let after = false;
                 t.addEventListener('a', () => { after = true; });
                 const r1 = t.dispatchEvent(new Event('a', { cancelable: true }));
                 const r2 = t.dispatchEvent(new Event('a'));
                 let err;
                 try { t.dispatchEvent({}); } catch (e) { err = e.constructor.name; }
                 const ev = new Event('z');
                 t.addEventListener('z', () => { try { t.dispatchEvent(ev); } catch (e) { err += ':' + e.name; } });
                 t.dispatchEvent(ev);
                 return [r1, r2, after, err].join();"
            ),
            "false,true,true,TypeError:InvalidStateError"
        );
    }

    #[test]
    fn passive_listener_cannot_cancel() {
        assert_eq!(
            run_js(
                "const t = new EventTarget();
                 t.addEventListener('a', (e) => e.preventDefault(), { passive: true });
                 return t.dispatchEvent(new Event('a', { cancelable: true }));"
            ),
            "true"
        );
    }

    #[test]
    fn subclassing_event_target_and_event() {
        assert_eq!(
            run_js(
                "class Emitter extends EventTarget { constructor() { super(); this.n = 1; } fire() { return this.dispatchEvent(new MyEvent('go')); } }
                 class MyEvent extends Event { constructor(t) { super(t, { cancelable: true }); this.extra = 42; } }
                 const em = new Emitter(); let seen;
                 em.addEventListener('go', (e) => { seen = e.extra + ':' + (e instanceof MyEvent) + ':' + (e.target === em); });
                 em.fire();
                 return [seen, em instanceof EventTarget, em.n, Object.prototype.toString.call(em)].join();"
            ),
            "42:true:true,true,1,[object EventTarget]"
        );
        assert!(
            run_js("EventTarget.prototype.addEventListener.call({}, 'a', () => {})")
                .starts_with("THROWN TypeError")
        );
    }

    #[test]
    fn abort_controller() {
        assert_eq!(
            run_js(
                "const c = new AbortController(); const s = c.signal; const log = [];
                 s.onabort = (e) => log.push('on:' + e.type + ':' + e.isTrusted);
                 s.addEventListener('abort', () => log.push('listener'));
                 log.push(s.aborted, s.reason, s === c.signal, s instanceof EventTarget);
                 c.abort();
                 c.abort('again');
                 log.push(s.aborted, s.reason instanceof DOMException, s.reason.name);
                 try { s.throwIfAborted(); } catch (e) { log.push('threw:' + e.name); }
                 const c2 = new AbortController(); c2.abort('why');
                 log.push(c2.signal.reason);
                 return log.join(' ');"
            ),
            "false  true true on:abort:true listener true true AbortError threw:AbortError why"
        );
        assert!(run_js("new AbortSignal()").starts_with("THROWN TypeError: Illegal constructor"));
    }

    #[test]
    fn listener_signal_option() {
        assert_eq!(
            run_js(
                "const t = new EventTarget(); const c = new AbortController(); let n = 0;
                 t.addEventListener('a', () => n++, { signal: c.signal });
                 t.dispatchEvent(new Event('a'));
                 c.abort();
                 t.dispatchEvent(new Event('a'));
                 t.addEventListener('a', () => n += 10, { signal: c.signal });
                 t.dispatchEvent(new Event('a'));
                 return n;"
            ),
            "1"
        );
    }

    #[test]
    fn abort_signal_statics() {
        assert_eq!(
            run_js(
                "const a = AbortSignal.abort(); const b = AbortSignal.abort(5);
                 const c1 = new AbortController(); const c2 = new AbortController();
                 const any = AbortSignal.any([c1.signal, c2.signal]);
                 const nested = AbortSignal.any([any]);
                 let fired = 0; any.addEventListener('abort', () => fired++);
                 nested.onabort = () => fired++;
                 const before = any.aborted;
                 c2.abort('second');
                 c1.abort('first');
                 const pre = AbortSignal.any([new AbortController().signal, b]);
                 return [a.aborted, a.reason.name, b.reason, before, any.aborted, any.reason,
                         nested.reason, fired, pre.aborted, pre.reason].join();"
            ),
            "true,AbortError,5,false,true,second,second,2,true,5"
        );
        assert!(run_js("AbortSignal.any([{}])").starts_with("THROWN TypeError"));
    }

    #[test]
    fn abort_signal_timeout() {
        assert_eq!(
            run_js(
                "const s = AbortSignal.timeout(5);
                 const first = s.aborted;
                 await new Promise((resolve) => s.addEventListener('abort', resolve));
                 return [first, s.aborted, s.reason.name, s.reason instanceof DOMException].join();"
            ),
            "false,true,TimeoutError,true"
        );
        assert!(run_js("AbortSignal.timeout(-1)").starts_with("THROWN TypeError"));
    }

    #[test]
    fn constructors_require_new() {
        for src in ["EventTarget()", "Event('x')", "AbortController()"] {
            assert!(run_js(src).starts_with("THROWN TypeError"), "{src}");
        }
    }

    #[test]
    fn listener_cycles_are_collected() {
        assert_eq!(
            run_js(
                "for (let i = 0; i < 50; i++) {
                   const t = new EventTarget(); const c = new AbortController();
                   t.addEventListener('x', () => t, { signal: c.signal });
                   c.signal.onabort = () => c;
                   const any = AbortSignal.any([c.signal, AbortSignal.any([c.signal])]);
                   any.addEventListener('abort', () => any);
                   if (i % 2) c.abort();
                 }
                 return 'ok';"
            ),
            "ok"
        );
    }

    /// A runtime dropped with a pending `AbortSignal.timeout` (and listener
    /// cycles) must free everything; QuickJS aborts the process otherwise.
    #[test]
    fn pending_timeout_is_released_with_the_runtime() {
        crate::testing::block_on_local(async {
            let qjs = rquickjs::AsyncRuntime::new().unwrap();
            let ctx = rquickjs::AsyncContext::full(&qjs).await.unwrap();
            ctx.async_with(async |ctx| {
                crate::install(&ctx).unwrap();
                ctx.eval::<(), _>(
                    "globalThis.s = AbortSignal.timeout(1e9);
                     s.addEventListener('abort', () => s);
                     const t = new EventTarget(); t.addEventListener('x', () => t);",
                )
                .unwrap();
            })
            .await;
            drop(ctx);
            drop(qjs);
        });
    }
}
