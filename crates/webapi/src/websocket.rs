//! WebSockets as Workers has them: `WebSocketPair`, the `WebSocket` class
//! (`accept`, `send`, `close`, events), the client side through
//! `fetch(url, {headers: {Upgrade: "websocket"}})` and `new WebSocket(url)`.
//!
//! Spec: <https://websockets.spec.whatwg.org/>; the pair and `accept()` are
//! Workers' (<https://developers.cloudflare.com/workers/runtime-apis/websockets/>).
//!
//! An end is a native `WebSocket` whose listener list is the `EventTarget`
//! one from [`crate::events`]. Where its messages go is its peer:
//! - the other end of its pair, while both are in this isolate: a send is
//!   queued on the other end and its events fire from a task;
//! - the host, once the client end is returned in a 101 `Response`
//!   ([`take_for_host`]): the server end's sends go into a queue
//!   ([`Outbox`]) the node writes to the connection, and the node enters
//!   the isolate with each frame it reads ([`SocketTarget::deliver`]), so
//!   each event runs under the isolate's CPU limit on its own;
//! - an outbound connection (client side): a task inside the isolate pumps
//!   frames both ways.
//!
//! Messages that arrive before `accept()` wait in the end's queue, as in
//! Workers. Receiving a close frame answers it with the same code (the
//! closing handshake completes without the script having to call `close()`),
//! then fires `close`.
//!
//! What an end sends waits in host memory, outside the isolate's heap limit,
//! until the connection writes it (or the other end of a pair dispatches
//! it). A peer that does not read would let that grow without bound, so past
//! [`MAX_BUFFERED_BYTES`] the end is "flagged as full" and its connection
//! closed as the spec's `send()` says: the queue is dropped, the connection
//! is cut without a closing handshake, and the end fires `error` and an
//! unclean `close` (1006).
//!
//! As in workerd, `message` events are `MessageEvent`s, `close` events
//! `CloseEvent`s and `error` events `ErrorEvent`s, all built with the
//! intrinsic classes (`scheduler::host_event`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{header, HeaderMap, HeaderValue};
use rquickjs::{
    atom::PredefinedAtom,
    class::{Trace, Tracer},
    function::{Opt, This},
    ArrayBuffer, Class, Ctx, Function, JsLifetime, Object, Persistent, Promise, Result, Value,
};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::{
    handshake::{client::generate_key, derive_accept_key},
    protocol::{frame::coding::CloseCode, CloseFrame, Role, WebSocketConfig},
    Message,
};
use tokio_tungstenite::WebSocketStream;

use crate::error::{OrThrow, WebApiError};
use crate::events::{Event, ListenerErrors, Listeners};
use crate::scheduler::{host_event, HostEvent};
use crate::webidl::{buffer_source, to_usv_string};

/// `WebSocket.CONNECTING`
pub const CONNECTING: u16 = 0;
/// `WebSocket.OPEN`
pub const OPEN: u16 = 1;
/// `WebSocket.CLOSING`
pub const CLOSING: u16 = 2;
/// `WebSocket.CLOSED`
pub const CLOSED: u16 = 3;

/// The largest message accepted from the network, as Workers' limit (1 MiB).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// Messages an end holds before `accept()`; past this many (or past
/// [`MAX_BUFFERED_BYTES`] of them) the connection is closed with 1008.
pub const MAX_PENDING: usize = 1024;

/// Most bytes of sent messages that may wait for the peer (16 MiB, 16 of
/// Workers' largest messages): past it the sending end's connection is
/// closed (see the module's documentation). workerd queues without bound;
/// the spec's `send()` has user agents close the connection when "the
/// buffer is full", which is what this does. A single message larger than
/// this is still sent when nothing else waits, since the script's heap held
/// it already; it is the backlog that is bounded.
///
/// Spec: <https://websockets.spec.whatwg.org/#dom-websocket-send>
pub const MAX_BUFFERED_BYTES: usize = 16 << 20;

/// One message between two ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A close frame (`clean`), or the connection's loss (`!clean`, code 1006).
    Close {
        /// The close code; 1005 when the frame carried none.
        code: u16,
        /// The reason text.
        reason: String,
        /// Whether the closing handshake took place.
        clean: bool,
    },
}

impl WsMessage {
    /// The bytes this message holds, as counted against
    /// [`MAX_BUFFERED_BYTES`].
    fn size(&self) -> usize {
        match self {
            WsMessage::Text(s) => s.len(),
            WsMessage::Binary(b) => b.len(),
            WsMessage::Close { reason, .. } => reason.len(),
        }
    }
}

/// Whether a queue holding `queued` bytes may take `msg`. Close frames are
/// always taken (they are small, and end the stream); a data message is
/// refused only when it would take a non-empty queue past the bound.
fn fits(queued: usize, msg: &WsMessage) -> bool {
    matches!(msg, WsMessage::Close { .. })
        || queued == 0
        || queued.saturating_add(msg.size()) <= MAX_BUFFERED_BYTES
}

/// The queue between an end and the task that writes its messages to a
/// connection.
struct OutboxShared {
    state: Mutex<OutboxState>,
    /// Signalled whenever `state` changes; one waiter at a time.
    changed: Notify,
}

#[derive(Default)]
struct OutboxState {
    queue: VecDeque<WsMessage>,
    /// The sum of the queued messages' sizes.
    bytes: usize,
    /// The end let go of its sending half: nothing more will come.
    closed: bool,
    /// The backlog passed [`MAX_BUFFERED_BYTES`]: the connection is to be
    /// cut without writing what waited.
    overflowed: bool,
    /// The writer is gone (the connection ended): sends are dropped, as
    /// they were sent after the connection closed.
    unread: bool,
}

impl OutboxShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        // A panic while holding the lock leaves consistent state: every
        // critical section is a few field updates.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending half of an [`Outbox`], held by an end in the isolate.
struct OutboxSender(Arc<OutboxShared>);

impl OutboxSender {
    /// Queues `msg`; `false` when the backlog would pass the bound, in
    /// which case the queue is dropped and the writer told to cut the
    /// connection.
    fn push(&self, msg: WsMessage) -> bool {
        let mut st = self.0.lock();
        if st.overflowed {
            return false;
        }
        if st.unread {
            return true;
        }
        if !fits(st.bytes, &msg) {
            st.overflowed = true;
            st.queue.clear();
            st.bytes = 0;
        } else {
            st.bytes += msg.size();
            st.queue.push_back(msg);
        }
        let ok = !st.overflowed;
        drop(st);
        self.0.changed.notify_one();
        ok
    }
}

impl Drop for OutboxSender {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.changed.notify_one();
    }
}

/// What an end sent, in order, for the host or task that writes it to the
/// connection; a `Close` is the end's close frame. Bounded by
/// [`MAX_BUFFERED_BYTES`]: when the end overflows it, [`Outbox::recv`]
/// returns `None` and [`Outbox::overflowed`] resolves, and the writer is to
/// drop the connection.
pub struct Outbox(Arc<OutboxShared>);

/// A new queue: the end's half and the writer's.
fn outbox() -> (OutboxSender, Outbox) {
    let shared = Arc::new(OutboxShared {
        state: Mutex::new(OutboxState::default()),
        changed: Notify::new(),
    });
    (OutboxSender(shared.clone()), Outbox(shared))
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.unread = true;
        st.queue.clear();
        st.bytes = 0;
    }
}

impl Outbox {
    /// The next message, if one is queued now; `None` also once the queue
    /// overflowed.
    pub fn try_recv(&self) -> Option<WsMessage> {
        let mut st = self.0.lock();
        if st.overflowed {
            return None;
        }
        let msg = st.queue.pop_front()?;
        st.bytes -= msg.size();
        Some(msg)
    }

    /// The next message; `None` when the end is gone and everything it sent
    /// was taken, or at once when the queue overflowed.
    pub async fn recv(&self) -> Option<WsMessage> {
        loop {
            {
                let st = self.0.lock();
                if st.overflowed || (st.closed && st.queue.is_empty()) {
                    return None;
                }
            }
            if let Some(msg) = self.try_recv() {
                return Some(msg);
            }
            // A change between the check and here leaves a permit, so this
            // returns at once rather than missing it.
            self.0.changed.notified().await;
        }
    }

    /// Whether the end overflowed the queue (the connection is to be cut).
    pub fn is_overflowed(&self) -> bool {
        self.0.lock().overflowed
    }

    /// Resolves once the end overflows the queue, so that a writer blocked
    /// on a peer that does not read can give up.
    pub async fn overflowed(&self) {
        while !self.is_overflowed() {
            self.0.changed.notified().await;
        }
    }
}

/// Where an end's sends go.
enum Peer<'js> {
    /// Nowhere yet (a `new WebSocket` still connecting) or any more.
    None,
    /// The other end of the pair, in this isolate.
    Local(Class<'js, WebSocket<'js>>),
    /// The network, through the host or a task of this isolate.
    Host(OutboxSender),
}

// SAFETY: the only lifetime is 'js, carried by JS values.
unsafe impl<'js> JsLifetime<'js> for Peer<'js> {
    type Changed<'to> = Peer<'to>;
}

/// The JS `WebSocket` class: one end of a pair or of a connection.
///
/// Spec: <https://websockets.spec.whatwg.org/#the-websocket-interface>
#[derive(JsLifetime)]
#[rquickjs::class]
pub struct WebSocket<'js> {
    listeners: Listeners<'js>,
    peer: Peer<'js>,
    ready_state: u16,
    /// Events are delivered (Workers' `accept()`; always for `new WebSocket`).
    accepted: bool,
    /// Handed to the host in a `Response`: no longer usable from script.
    taken: bool,
    close_sent: bool,
    /// The peer fell [`MAX_BUFFERED_BYTES`] behind: the connection was cut
    /// and sends are ignored.
    full: bool,
    /// Messages not yet dispatched (before `accept()`, or awaiting the task).
    pending: VecDeque<WsMessage>,
    /// The sum of the sizes of `pending`'s messages.
    pending_bytes: usize,
    /// A task that dispatches `pending` is scheduled.
    draining: bool,
    url: String,
    /// The serialized origin of `url` that `message` events carry; "" for
    /// a pair's ends.
    origin: String,
    protocol: String,
}

impl<'js> Trace<'js> for WebSocket<'js> {
    fn trace<'a>(&self, tracer: Tracer<'a, 'js>) {
        self.listeners.trace(tracer);
        if let Peer::Local(p) = &self.peer {
            p.trace(tracer);
        }
    }
}

impl<'js> WebSocket<'js> {
    fn blank(ready_state: u16) -> Self {
        Self {
            listeners: Listeners::default(),
            peer: Peer::None,
            ready_state,
            accepted: false,
            taken: false,
            close_sent: false,
            full: false,
            pending: VecDeque::new(),
            pending_bytes: 0,
            draining: false,
            url: String::new(),
            origin: String::new(),
            protocol: String::new(),
        }
    }

    /// The listener list, for [`crate::events::with_listeners`].
    pub fn listeners_mut(&mut self) -> &mut Listeners<'js> {
        &mut self.listeners
    }

    /// Checks that script may send or close on this end now.
    fn check_usable(&self, ctx: &Ctx<'js>, what: &str) -> Result<()> {
        if self.taken {
            return Err(WebApiError::type_error(format!(
                "Can't call WebSocket {what}() on a WebSocket that was returned in a Response."
            )))
            .or_throw(ctx);
        }
        if self.ready_state == CONNECTING {
            return Err(WebApiError::dom(
                "InvalidStateError",
                format!("Can't call WebSocket {what}() while it is still connecting."),
            ))
            .or_throw(ctx);
        }
        if !self.accepted {
            return Err(WebApiError::type_error(format!(
                "You must call accept() on this WebSocket before calling {what}()."
            )))
            .or_throw(ctx);
        }
        Ok(())
    }
}

/// Sends `msg` from an end to its peer; `false` when the peer is
/// [`MAX_BUFFERED_BYTES`] behind, and the sending end is to fail
/// ([`fail_full`]).
fn route<'js>(ctx: &Ctx<'js>, peer: &Peer<'js>, msg: WsMessage) -> bool {
    match peer {
        Peer::None => true,
        Peer::Local(other) => {
            if !fits(other.borrow().pending_bytes, &msg) {
                return false;
            }
            enqueue(ctx, other, msg);
            true
        }
        // A connection that is gone drops what is sent; its loss is
        // reported through a close event instead.
        Peer::Host(tx) => tx.push(msg),
    }
}

/// The spec's "flag the WebSocket as full and then close the WebSocket
/// connection", for an end whose peer fell too far behind: the link is cut
/// (what waited for the peer is dropped), sends from now on are ignored,
/// and the end fires `error` and an unclean `close` from a task. The other
/// end of a pair in this isolate loses the connection too.
///
/// Spec: <https://websockets.spec.whatwg.org/#dom-websocket-send>
fn fail_full<'js>(ctx: &Ctx<'js>, this: &Class<'js, WebSocket<'js>>) {
    let peer = {
        let mut t = this.borrow_mut();
        t.full = true;
        t.close_sent = true;
        t.ready_state = CLOSING;
        // Dropping an outbox's sender tells the writer; it has already seen
        // the overflow and cuts the connection.
        std::mem::replace(&mut t.peer, Peer::None)
    };
    if let Peer::Local(other) = peer {
        {
            let mut o = other.borrow_mut();
            // Everything waiting there came from this end.
            o.pending.clear();
            o.pending_bytes = 0;
        }
        enqueue_loss(ctx, &other);
    }
    enqueue_loss(ctx, this);
}

/// Queues `msg` on `target` and schedules its dispatch.
fn enqueue<'js>(ctx: &Ctx<'js>, target: &Class<'js, WebSocket<'js>>, msg: WsMessage) {
    let schedule = {
        let mut t = target.borrow_mut();
        t.pending_bytes += msg.size();
        t.pending.push_back(msg);
        let schedule = t.accepted && !t.draining;
        if schedule {
            t.draining = true;
        }
        schedule
    };
    if schedule {
        let ctx2 = ctx.clone();
        let target = target.clone();
        ctx.spawn(async move {
            // Listener exceptions are reported by dispatch; what remains is
            // an interrupt, which the CPU meter has recorded already.
            let _ = drain(&ctx2, &target);
        });
    }
}

/// Dispatches every queued message of an accepted end, in order.
fn drain<'js>(ctx: &Ctx<'js>, target: &Class<'js, WebSocket<'js>>) -> Result<()> {
    loop {
        let msg = {
            let mut t = target.borrow_mut();
            let next = if t.accepted {
                t.pending.pop_front()
            } else {
                None
            };
            match &next {
                Some(msg) => t.pending_bytes -= msg.size(),
                None => t.draining = false,
            }
            next
        };
        match msg {
            Some(msg) => fire(ctx, target, msg)?,
            None => return Ok(()),
        }
    }
}

/// Fires the event(s) for one arriving message.
fn fire<'js>(ctx: &Ctx<'js>, target: &Class<'js, WebSocket<'js>>, msg: WsMessage) -> Result<()> {
    match msg {
        WsMessage::Text(s) => {
            let data = rquickjs::String::from_str(ctx.clone(), &s)?.into_value();
            fire_message(ctx, target, data)
        }
        WsMessage::Binary(b) => {
            let data = ArrayBuffer::new_copy(ctx.clone(), b.as_ref())?.into_value();
            fire_message(ctx, target, data)
        }
        WsMessage::Close {
            code,
            reason,
            clean,
        } => {
            let reply = {
                let mut t = target.borrow_mut();
                if t.ready_state == CLOSED {
                    return Ok(());
                }
                t.ready_state = CLOSED;
                let reply = clean && !t.close_sent;
                t.close_sent = true;
                // Nothing is sent on a closed end; dropping the peer also
                // breaks the pair's reference cycle.
                let peer = std::mem::replace(&mut t.peer, Peer::None);
                (reply, peer)
            };
            if let (true, peer) = &reply {
                // Spec: "If the WebSocket closing handshake has not yet been
                // started, start it" (RFC 6455 §5.5.1): echo the code. A
                // close frame always fits.
                let _ = route(
                    ctx,
                    peer,
                    WsMessage::Close {
                        code,
                        reason: reason.clone(),
                        clean: true,
                    },
                );
            }
            if !clean {
                let why = if target.borrow().full { FULL } else { LOST };
                let message = rquickjs::String::from_str(ctx.clone(), why)?;
                let error = rquickjs::Exception::from_message(ctx.clone(), why)?;
                let event = host_event(
                    ctx,
                    HostEvent::Error,
                    "error",
                    &[
                        ("error", error.into_value()),
                        ("message", message.into_value()),
                    ],
                )?;
                fire_event(ctx, target, &event)?;
            }
            let code_v = Value::new_int(ctx.clone(), i32::from(code));
            let reason_v = rquickjs::String::from_str(ctx.clone(), &reason)?.into_value();
            let clean_v = Value::new_bool(ctx.clone(), clean);
            let event = host_event(
                ctx,
                HostEvent::Close,
                "close",
                &[
                    ("code", code_v),
                    ("reason", reason_v),
                    ("wasClean", clean_v),
                ],
            )?;
            fire_event(ctx, target, &event)
        }
    }
}

/// The `message` of the `error` event fired when a connection ends without
/// a closing handshake.
const LOST: &str = "WebSocket disconnected without sending Close frame.";

/// The `message` of the `error` event fired when an end's connection was
/// closed because the peer fell [`MAX_BUFFERED_BYTES`] behind.
const FULL: &str =
    "WebSocket closed: more than 16 MiB of sent messages were waiting for the peer to read them.";

/// Fires a `MessageEvent` carrying `data`, with the serialization of the
/// socket URL's origin as its `origin` ("" for a pair's ends, which have no
/// URL, as in workerd).
///
/// Spec: <https://websockets.spec.whatwg.org/#feedback-from-the-protocol>
/// ("When a WebSocket message has been received").
fn fire_message<'js>(
    ctx: &Ctx<'js>,
    target: &Class<'js, WebSocket<'js>>,
    data: Value<'js>,
) -> Result<()> {
    let origin = {
        let t = target.borrow();
        rquickjs::String::from_str(ctx.clone(), &t.origin)?.into_value()
    };
    let event = host_event(
        ctx,
        HostEvent::Message,
        "message",
        &[("data", data), ("origin", origin)],
    )?;
    fire_event(ctx, target, &event)
}

/// The serialization of the origin of a client socket's URL, with `http`
/// and `https` read as `ws` and `wss` as the spec's constructor converts
/// them (a `fetch()` upgrade names an `http(s)` URL).
///
/// Spec: <https://websockets.spec.whatwg.org/#dom-websocket-websocket>
/// (steps 4-5), <https://url.spec.whatwg.org/#concept-url-origin>
fn socket_origin(url: &url::Url) -> String {
    let mut ws = url.clone();
    let scheme = match url.scheme() {
        "http" => "ws",
        "https" => "wss",
        other => other,
    };
    // Both schemes are special, so the change is always allowed.
    let _ = ws.set_scheme(scheme);
    ws.origin().ascii_serialization()
}

/// Dispatches a host-made event at an end; listener exceptions are reported
/// rather than returned.
fn fire_event<'js>(
    ctx: &Ctx<'js>,
    target: &Class<'js, WebSocket<'js>>,
    event: &Class<'js, Event<'js>>,
) -> Result<()> {
    crate::events::dispatch(ctx, target.as_inner(), event, ListenerErrors::Report)?;
    Ok(())
}

/// Spec: <https://websockets.spec.whatwg.org/#dom-websocket-close> (the checks).
fn close_args<'js>(
    ctx: &Ctx<'js>,
    code: Option<Value<'js>>,
    reason: Option<Value<'js>>,
) -> Result<(u16, String)> {
    let code = match code.filter(|c| !c.is_undefined()) {
        None => None,
        Some(c) => {
            let n = rquickjs::Coerced::<f64>::from_js(ctx, c)?.0;
            if !(n == 1000.0 || (3000.0..=4999.0).contains(&n)) || n.fract() != 0.0 {
                return Err(WebApiError::dom(
                    "InvalidAccessError",
                    format!("The close code must be either 1000, or between 3000 and 4999. {n} is neither."),
                ))
                .or_throw(ctx);
            }
            Some(n as u16)
        }
    };
    let reason = match reason.filter(|r| !r.is_undefined()) {
        None => String::new(),
        Some(r) => to_usv_string(ctx, r)?,
    };
    if reason.len() > 123 {
        return Err(WebApiError::dom(
            "SyntaxError",
            "The close reason must not be longer than 123 bytes of UTF-8.",
        ))
        .or_throw(ctx);
    }
    // No code: "no status" (1005) on the wire is an empty close frame.
    Ok((code.unwrap_or(1005), reason))
}

use rquickjs::FromJs;

#[rquickjs::methods(rename_all = "camelCase")]
impl<'js> WebSocket<'js> {
    /// `new WebSocket(url, protocols)`: a client connection.
    ///
    /// Spec: <https://websockets.spec.whatwg.org/#dom-websocket-websocket>
    #[qjs(constructor)]
    pub fn new(
        ctx: Ctx<'js>,
        new_target: This<Value<'js>>,
        url: Value<'js>,
        protocols: Opt<Value<'js>>,
    ) -> Result<Class<'js, Self>> {
        crate::webidl::require_new(&ctx, &new_target.0, "WebSocket")?;
        let url = to_usv_string(&ctx, url)?;
        let parsed = match crate::url::parse_url(&url, None) {
            Some(u) => u,
            None => {
                return Err(WebApiError::dom(
                    "SyntaxError",
                    format!("Failed to construct 'WebSocket': The URL '{url}' is invalid."),
                ))
                .or_throw(&ctx)
            }
        };
        let mut wire = parsed.clone();
        let scheme = match parsed.scheme() {
            "ws" | "http" => "http",
            "wss" | "https" => "https",
            other => {
                return Err(WebApiError::dom(
                    "SyntaxError",
                    format!("Failed to construct 'WebSocket': The URL's scheme must be either 'ws' or 'wss'. '{other}' is not allowed."),
                ))
                .or_throw(&ctx)
            }
        };
        if parsed.fragment().is_some() {
            return Err(WebApiError::dom(
                "SyntaxError",
                "Failed to construct 'WebSocket': The URL contains a fragment identifier.",
            ))
            .or_throw(&ctx);
        }
        if wire.set_scheme(scheme).is_err() {
            // `url` refuses some special-to-special changes; rebuild instead.
            let rest = &parsed.as_str()[parsed.scheme().len()..];
            wire = url::Url::parse(&format!("{scheme}{rest}"))
                .map_err(|_| WebApiError::dom("SyntaxError", "Invalid WebSocket URL"))
                .or_throw(&ctx)?;
        }
        let mut headers = HeaderMap::new();
        if let Some(p) = protocols.0.filter(|p| !p.is_undefined()) {
            let list: Vec<String> = if p.is_object() && !p.is_function() {
                crate::webidl::to_sequence(&ctx, &p, "protocols")?
                    .into_iter()
                    .map(|v| to_usv_string(&ctx, v))
                    .collect::<Result<_>>()?
            } else {
                vec![to_usv_string(&ctx, p)?]
            };
            if !list.is_empty() {
                let joined = list.join(", ");
                let v = HeaderValue::from_str(&joined)
                    .map_err(|_| WebApiError::dom("SyntaxError", "Invalid WebSocket protocol"))
                    .or_throw(&ctx)?;
                headers.insert(header::SEC_WEBSOCKET_PROTOCOL, v);
            }
        }
        let mut ws = WebSocket::blank(CONNECTING);
        ws.accepted = true;
        ws.url = parsed.to_string();
        ws.origin = socket_origin(&parsed);
        let obj = Class::instance(ctx.clone(), ws)?;
        let allow_private = crate::host::host_info(&ctx).allow_private_fetch;
        let target = obj.clone();
        let ctx2 = ctx.clone();
        ctx.spawn(async move {
            match connect(wire, headers, allow_private).await {
                Ok(Connected::Socket(stream, protocol)) => {
                    let tx = attach(&ctx2, &target, stream);
                    {
                        let mut t = target.borrow_mut();
                        t.peer = Peer::Host(tx);
                        t.ready_state = OPEN;
                        t.protocol = protocol;
                    }
                    let open = Class::instance(ctx2.clone(), Event::new_trusted(&ctx2, "open"));
                    let _ = open.and_then(|open| fire_event(&ctx2, &target, &open));
                }
                Ok(Connected::Refused(status, _)) => {
                    tracing::debug!("WebSocket handshake refused with status {status}");
                    enqueue_loss(&ctx2, &target);
                }
                Err(e) => {
                    tracing::debug!("WebSocket connection failed: {e}");
                    enqueue_loss(&ctx2, &target);
                }
            }
        });
        Ok(obj)
    }

    /// Workers: starts delivering this end's events to the script.
    pub fn accept(ctx: Ctx<'js>, this: This<Class<'js, Self>>) -> Result<()> {
        let schedule = {
            let mut t = this.0.borrow_mut();
            if t.taken {
                return Err(WebApiError::type_error(
                    "Can't accept() a WebSocket that was returned in a Response.",
                ))
                .or_throw(&ctx);
            }
            if t.accepted {
                return Err(WebApiError::type_error(
                    "Can't accept() a WebSocket more than once.",
                ))
                .or_throw(&ctx);
            }
            t.accepted = true;
            let schedule = !t.pending.is_empty() && !t.draining;
            t.draining |= schedule;
            schedule
        };
        if schedule {
            let ctx2 = ctx.clone();
            let target = this.0.clone();
            ctx.spawn(async move {
                let _ = drain(&ctx2, &target);
            });
        }
        Ok(())
    }

    /// Spec: <https://websockets.spec.whatwg.org/#dom-websocket-send>
    pub fn send(ctx: Ctx<'js>, this: This<Class<'js, Self>>, data: Value<'js>) -> Result<()> {
        let this = this.0;
        let t = this.borrow();
        t.check_usable(&ctx, "send")?;
        if t.full {
            // Spec: once the connection is closing, sends are dropped. Only
            // a send after the script's own close() throws (as in workerd).
            return Ok(());
        }
        if t.close_sent || t.ready_state >= CLOSING {
            return Err(WebApiError::type_error(
                "Can't call WebSocket send() after close().",
            ))
            .or_throw(&ctx);
        }
        let msg = if let Some(s) = data.as_string() {
            WsMessage::Text(crate::webidl::string_lossy(&ctx, s)?)
        } else if let Some(view) = buffer_source(&ctx, &data)? {
            WsMessage::Binary(Bytes::from(view.to_vec()))
        } else if data.is_object() {
            return Err(WebApiError::type_error(
                "WebSocket send() takes a string, an ArrayBuffer or an ArrayBufferView.",
            ))
            .or_throw(&ctx);
        } else {
            WsMessage::Text(to_usv_string(&ctx, data)?)
        };
        let sent = route(&ctx, &t.peer, msg);
        drop(t);
        if !sent {
            fail_full(&ctx, &this);
        }
        Ok(())
    }

    /// Spec: <https://websockets.spec.whatwg.org/#dom-websocket-close>
    pub fn close(
        &mut self,
        ctx: Ctx<'js>,
        code: Opt<Value<'js>>,
        reason: Opt<Value<'js>>,
    ) -> Result<()> {
        let (code, reason) = close_args(&ctx, code.0, reason.0)?;
        if self.ready_state == CONNECTING {
            // Spec: fail the connection. The connecting task sees CLOSED.
            self.ready_state = CLOSED;
            return Ok(());
        }
        self.check_usable(&ctx, "close")?;
        if self.close_sent || self.ready_state >= CLOSING {
            return Ok(());
        }
        self.close_sent = true;
        self.ready_state = CLOSING;
        // A close frame always fits.
        let _ = route(
            &ctx,
            &self.peer,
            WsMessage::Close {
                code,
                reason,
                clean: true,
            },
        );
        Ok(())
    }

    /// Spec: <https://websockets.spec.whatwg.org/#dom-websocket-readystate>
    #[qjs(get)]
    pub fn ready_state(&self) -> u16 {
        self.ready_state
    }

    /// The URL a client socket connected to; `null` for a pair's ends (Workers).
    #[qjs(get)]
    pub fn url(&self, ctx: Ctx<'js>) -> Result<Value<'js>> {
        if self.url.is_empty() {
            return Ok(Value::new_null(ctx));
        }
        Ok(rquickjs::String::from_str(ctx, &self.url)?.into_value())
    }

    /// The subprotocol the server selected.
    #[qjs(get)]
    pub fn protocol(&self) -> String {
        self.protocol.clone()
    }

    /// No extensions are negotiated.
    #[qjs(get)]
    pub fn extensions(&self) -> &'static str {
        ""
    }

    /// Binary messages arrive as `ArrayBuffer`s.
    #[qjs(get)]
    pub fn binary_type(&self) -> &'static str {
        "arraybuffer"
    }

    /// `onmessage`
    #[qjs(get)]
    pub fn onmessage(&self, ctx: Ctx<'js>) -> Value<'js> {
        handler_value(&ctx, self.listeners.handler("message"))
    }

    /// `onmessage`
    #[qjs(set, rename = "onmessage")]
    pub fn set_onmessage(&mut self, value: Value<'js>) {
        self.listeners.set_handler("message", value.into_object());
    }

    /// `onclose`
    #[qjs(get)]
    pub fn onclose(&self, ctx: Ctx<'js>) -> Value<'js> {
        handler_value(&ctx, self.listeners.handler("close"))
    }

    /// `onclose`
    #[qjs(set, rename = "onclose")]
    pub fn set_onclose(&mut self, value: Value<'js>) {
        self.listeners.set_handler("close", value.into_object());
    }

    /// `onerror`
    #[qjs(get)]
    pub fn onerror(&self, ctx: Ctx<'js>) -> Value<'js> {
        handler_value(&ctx, self.listeners.handler("error"))
    }

    /// `onerror`
    #[qjs(set, rename = "onerror")]
    pub fn set_onerror(&mut self, value: Value<'js>) {
        self.listeners.set_handler("error", value.into_object());
    }

    /// `onopen`
    #[qjs(get)]
    pub fn onopen(&self, ctx: Ctx<'js>) -> Value<'js> {
        handler_value(&ctx, self.listeners.handler("open"))
    }

    /// `onopen`
    #[qjs(set, rename = "onopen")]
    pub fn set_onopen(&mut self, value: Value<'js>) {
        self.listeners.set_handler("open", value.into_object());
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    pub fn to_string_tag() -> &'static str {
        "WebSocket"
    }
}

fn handler_value<'js>(ctx: &Ctx<'js>, h: Option<Object<'js>>) -> Value<'js> {
    h.map(Object::into_value)
        .unwrap_or_else(|| Value::new_null(ctx.clone()))
}

/// Queues the loss of a connection (1006) on an end.
fn enqueue_loss<'js>(ctx: &Ctx<'js>, target: &Class<'js, WebSocket<'js>>) {
    enqueue(
        ctx,
        target,
        WsMessage::Close {
            code: 1006,
            reason: String::new(),
            clean: false,
        },
    );
}

/// `new WebSocketPair()`: `{0: client, 1: server}`, linked to each other.
fn new_pair<'js>(ctx: Ctx<'js>) -> Result<Object<'js>> {
    let client = Class::instance(ctx.clone(), WebSocket::blank(OPEN))?;
    let server = Class::instance(ctx.clone(), WebSocket::blank(OPEN))?;
    client.borrow_mut().peer = Peer::Local(server.clone());
    server.borrow_mut().peer = Peer::Local(client.clone());
    let pair = Object::new(ctx.clone())?;
    let ctor: Object = ctx.globals().get("WebSocketPair")?;
    if let Ok(proto) = ctor.get::<_, Object>("prototype") {
        pair.set_prototype(Some(&proto))?;
    }
    pair.set(0, client)?;
    pair.set(1, server)?;
    Ok(pair)
}

// ---------------------------------------------------------------------------
// The host side: ends whose peer is a connection the node owns

/// A handle the host keeps on the isolate's server end while it pumps a
/// connection. It roots the end's JS object, so it must be dropped before
/// the isolate it came from.
pub struct SocketTarget(Persistent<Class<'static, WebSocket<'static>>>);

impl SocketTarget {
    /// Delivers a message that arrived from the network and dispatches its
    /// events now (when the end is accepted), on the caller's CPU budget.
    pub fn deliver(&self, ctx: &Ctx<'_>, msg: WsMessage) -> Result<()> {
        let target = self.0.clone().restore(ctx)?;
        let now = {
            let mut t = target.borrow_mut();
            let flooded = t.pending.len() >= MAX_PENDING || !fits(t.pending_bytes, &msg);
            if !t.accepted && flooded {
                // The queue lives outside the isolate's heap limit, so a
                // client must not grow it without bound: close instead.
                if !t.close_sent {
                    t.close_sent = true;
                    t.ready_state = CLOSING;
                    let close = WsMessage::Close {
                        code: 1008,
                        reason: "Too many messages before accept()".into(),
                        clean: true,
                    };
                    let _ = route(ctx, &t.peer, close);
                }
                return Ok(());
            }
            t.pending_bytes += msg.size();
            t.pending.push_back(msg);
            t.accepted
        };
        if now {
            target.borrow_mut().draining = true;
            drain(ctx, &target)?;
        }
        Ok(())
    }
}

/// The server end of a pair whose client end the handler returned in a 101
/// response: what the worker sends arrives on `outgoing`, and what the
/// network sends goes in through `target`.
pub struct HostSocket {
    /// Messages the worker sent, in order; a `Close` is the worker's close.
    pub outgoing: Outbox,
    /// The isolate's end, to deliver network messages to.
    pub target: SocketTarget,
}

/// Whether `value` is a `WebSocket`.
pub fn is_web_socket(value: &Value<'_>) -> bool {
    crate::webidl::class_of::<WebSocket>(value).is_some()
}

/// Takes the client end the handler returned in its response and connects
/// its server end to the host.
pub fn take_for_host<'js>(ctx: &Ctx<'js>, client: &Value<'js>) -> Result<HostSocket> {
    let Ok(client) = Class::<WebSocket>::from_value(client) else {
        return Err(WebApiError::type_error("webSocket is not a WebSocket")).or_throw(ctx);
    };
    let (server, queued) = {
        let mut c = client.borrow_mut();
        if c.taken {
            return Err(WebApiError::type_error(
                "This WebSocket was already returned in a Response.",
            ))
            .or_throw(ctx);
        }
        if c.accepted {
            return Err(WebApiError::type_error(
                "Can't return a WebSocket in a Response after calling accept() on it; return the other end of the WebSocketPair.",
            ))
            .or_throw(ctx);
        }
        let Peer::Local(server) = std::mem::replace(&mut c.peer, Peer::None) else {
            return Err(WebApiError::type_error(
                "Only the end of a WebSocketPair can be returned in a Response.",
            ))
            .or_throw(ctx);
        };
        c.taken = true;
        c.ready_state = CLOSED;
        c.pending_bytes = 0;
        (server, std::mem::take(&mut c.pending))
    };
    let (tx, rx) = outbox();
    // What the server sent before the response went out goes first; it was
    // held to the same bound, so it fits.
    for msg in queued {
        let _ = tx.push(msg);
    }
    {
        let mut s = server.borrow_mut();
        if !matches!(s.peer, Peer::None) || s.ready_state != CLOSED {
            s.peer = Peer::Host(tx);
        }
    }
    Ok(HostSocket {
        outgoing: rx,
        target: SocketTarget(Persistent::save(ctx, server)),
    })
}

/// Converts a frame read from the network; `None` for control frames the
/// protocol layer answers itself.
pub fn from_frame(msg: Message) -> Option<WsMessage> {
    match msg {
        Message::Text(t) => Some(WsMessage::Text(t.as_str().to_owned())),
        Message::Binary(b) => Some(WsMessage::Binary(b)),
        Message::Close(frame) => Some(match frame {
            Some(f) => WsMessage::Close {
                code: f.code.into(),
                reason: f.reason.as_str().to_owned(),
                clean: true,
            },
            None => WsMessage::Close {
                code: 1005,
                reason: String::new(),
                clean: true,
            },
        }),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
    }
}

/// Converts a message to the frame written to the network.
pub fn to_frame(msg: WsMessage) -> Message {
    match msg {
        WsMessage::Text(s) => Message::Text(s.into()),
        WsMessage::Binary(b) => Message::Binary(b),
        WsMessage::Close { code: 1005, .. } | WsMessage::Close { clean: false, .. } => {
            Message::Close(None)
        }
        WsMessage::Close { code, reason, .. } => Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        })),
    }
}

/// Frame limits for every connection (Workers' 1 MiB message size).
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES))
}

/// The `Sec-WebSocket-Accept` value for a request's `Sec-WebSocket-Key`.
///
/// Spec: <https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2>
pub fn accept_key(request_key: &[u8]) -> String {
    derive_accept_key(request_key)
}

// ---------------------------------------------------------------------------
// The client side: outbound connections

/// An outbound connection after its handshake.
type ClientStream = WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

/// The outcome of an outbound handshake.
enum Connected {
    /// Upgraded: the stream and the selected subprotocol.
    Socket(Box<ClientStream>, String),
    /// The server answered without upgrading.
    Refused(http::StatusCode, HeaderMap),
}

/// Opens an HTTP/1.1 connection under fetch's address policy and performs
/// the client handshake (RFC 6455 §4.1) on it.
async fn connect(
    url: url::Url,
    mut headers: HeaderMap,
    allow_private: bool,
) -> std::result::Result<Connected, String> {
    use tower_service::Service;
    let uri: http::Uri = url
        .as_str()
        .parse()
        .map_err(|_| format!("invalid URL {url}"))?;
    let mut connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| e.to_string())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(crate::fetch::Connector { allow_private });
    let io = connector
        .call(uri.clone())
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::task::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let key = generate_key();
    for name in [
        header::HOST,
        header::CONNECTION,
        header::UPGRADE,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::SEC_WEBSOCKET_KEY,
        header::SEC_WEBSOCKET_VERSION,
        header::SEC_WEBSOCKET_EXTENSIONS,
    ] {
        headers.remove(name);
    }
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => return Err(format!("URL {url} has no host")),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let mut req = http::Request::new(http_body_util::Empty::<Bytes>::new());
    *req.uri_mut() = path.parse().map_err(|_| format!("invalid URL {url}"))?;
    let h = req.headers_mut();
    *h = headers;
    let value = |s: &str| HeaderValue::from_str(s).map_err(|e| e.to_string());
    h.insert(header::HOST, value(&host)?);
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        header::SEC_WEBSOCKET_VERSION,
        HeaderValue::from_static("13"),
    );
    h.insert(header::SEC_WEBSOCKET_KEY, value(&key)?);
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    if resp.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        return Ok(Connected::Refused(resp.status(), resp.headers().clone()));
    }
    let expected = derive_accept_key(key.as_bytes());
    let got = resp
        .headers()
        .get(header::SEC_WEBSOCKET_ACCEPT)
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    if got != expected.as_bytes() {
        return Err("the server's Sec-WebSocket-Accept does not match the key".into());
    }
    let protocol = resp
        .headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let upgraded = hyper::upgrade::on(resp).await.map_err(|e| e.to_string())?;
    let stream = WebSocketStream::from_raw_socket(
        hyper_util::rt::TokioIo::new(upgraded),
        Role::Client,
        Some(config()),
    )
    .await;
    Ok(Connected::Socket(Box::new(stream), protocol))
}

/// Starts the task that pumps a client connection for the end `target` and
/// returns the sender its sends go to.
fn attach<'js>(
    ctx: &Ctx<'js>,
    target: &Class<'js, WebSocket<'js>>,
    stream: Box<ClientStream>,
) -> OutboxSender {
    let (tx, rx) = outbox();
    let target = target.clone();
    let ctx2 = ctx.clone();
    ctx.spawn(async move {
        let (mut sink, mut stream) = stream.split();
        let mut writing = true;
        loop {
            tokio::select! {
                frame = stream.next() => match frame {
                    Some(Ok(frame)) => {
                        if let Some(msg) = from_frame(frame) {
                            enqueue(&ctx2, &target, msg);
                        }
                    }
                    Some(Err(e)) => {
                        tracing::debug!("WebSocket connection failed: {e}");
                        enqueue_loss(&ctx2, &target);
                        break;
                    }
                    None => {
                        // Ended after the closing handshake, or abruptly.
                        if target.borrow().ready_state != CLOSED {
                            enqueue_loss(&ctx2, &target);
                        }
                        break;
                    }
                },
                out = rx.recv(), if writing => match out {
                    Some(msg) => {
                        // A peer that does not read blocks the write; the
                        // end gives up on it when its backlog overflows.
                        tokio::select! {
                            sent = sink.send(to_frame(msg)) => writing = sent.is_ok(),
                            () = rx.overflowed() => {}
                        }
                    }
                    None => writing = false,
                },
            }
            if rx.is_overflowed() {
                // The end has fired its own error and close already.
                tracing::debug!("WebSocket dropped: the server fell too far behind");
                break;
            }
        }
    });
    tx
}

/// `fetch()` with `Upgrade: websocket`: connects and resolves to a 101
/// `Response` whose `webSocket` is the client end (to `accept()`), or to the
/// server's answer when it does not upgrade.
pub(crate) fn fetch_upgrade<'js>(
    ctx: &Ctx<'js>,
    url: url::Url,
    headers: HeaderMap,
    allow_private: bool,
) -> Result<Promise<'js>> {
    let ctx2 = ctx.clone();
    Promise::wrap_future(ctx, async move {
        let ctx = ctx2;
        let shown = url.to_string();
        let origin = socket_origin(&url);
        let outcome = connect(url, headers, allow_private).await;
        let fail =
            |why: String| WebApiError::type_error(format!("fetch failed: {why}")).throw(&ctx);
        match outcome {
            Ok(Connected::Socket(stream, protocol)) => {
                let mut ws = WebSocket::blank(OPEN);
                ws.url = shown.clone();
                ws.origin = origin;
                ws.protocol = protocol;
                let obj = Class::instance(ctx.clone(), ws)?;
                let tx = attach(&ctx, &obj, stream);
                obj.borrow_mut().peer = Peer::Host(tx);
                let response = crate::response::Response::from_host(
                    101,
                    "Switching Protocols".into(),
                    HeaderMap::new(),
                    None,
                    shown,
                    false,
                )
                .with_web_socket(obj.into_inner().into_value());
                Class::instance(ctx.clone(), response)
            }
            Ok(Connected::Refused(status, headers)) => Class::instance(
                ctx.clone(),
                crate::response::Response::from_host(
                    status.as_u16(),
                    status.canonical_reason().unwrap_or_default().into(),
                    headers,
                    None,
                    shown,
                    false,
                ),
            ),
            Err(why) => Err(fail(why)),
        }
    })
}

/// Whether request headers ask for a WebSocket upgrade.
pub fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// Installs `WebSocket` and `WebSocketPair`.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    let ctor = crate::webidl::define_interface::<WebSocket>(ctx)?;
    let proto = Class::<WebSocket>::prototype(ctx)?.ok_or(rquickjs::Error::Unknown)?;
    let target_ctor: Object = ctx.globals().get("EventTarget")?;
    let target_proto: Object = target_ctor.get("prototype")?;
    proto.set_prototype(Some(&target_proto))?;
    ctor.set_prototype(Some(&target_ctor))?;
    for (name, value) in [
        ("CONNECTING", CONNECTING),
        ("OPEN", OPEN),
        ("CLOSING", CLOSING),
        ("CLOSED", CLOSED),
    ] {
        ctor.prop(name, rquickjs::object::Property::from(value).enumerable())?;
        proto.prop(name, rquickjs::object::Property::from(value).enumerable())?;
    }
    let pair = Function::new(ctx.clone(), new_pair)?
        .with_name("WebSocketPair")?
        .with_constructor(true);
    let pair_proto = Object::new(ctx.clone())?;
    pair_proto.prop(
        PredefinedAtom::SymbolToStringTag,
        rquickjs::object::Property::from("WebSocketPair").configurable(),
    )?;
    pair_proto.set("constructor", pair.clone())?;
    pair.set("prototype", pair_proto)?;
    ctx.globals().prop(
        "WebSocketPair",
        rquickjs::object::Property::from(pair)
            .writable()
            .configurable(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    #[test]
    fn pair_messages_after_accept() {
        let out = run_js(
            "const pair = new WebSocketPair();
             const [client, server] = Object.values(pair);
             const got = [];
             server.addEventListener('message', (e) => got.push('s:' + (typeof e.data === 'string' ? e.data : new Uint8Array(e.data).join(','))));
             client.addEventListener('message', (e) => got.push('c:' + (typeof e.data === 'string' ? e.data : new Uint8Array(e.data).join(','))));
             client.accept();
             client.send('early');
             await new Promise((r) => setTimeout(r, 0));
             got.push('accepting');
             server.accept();
             server.send('hello');
             server.send(new Uint8Array([9]).buffer);
             client.send(new Uint8Array([1, 2, 3]));
             client.send(new Uint8Array([7, 8, 9]).subarray(1));
             await new Promise((r) => setTimeout(r, 0));
             return [pair[0] === client, pair[1] === server, client instanceof WebSocket, client instanceof EventTarget,
                     pair instanceof WebSocketPair, client.readyState, WebSocket.OPEN, client.url, got.join(' ')].join('|');",
        );
        assert_eq!(
            out,
            "true|true|true|true|true|1|1||accepting s:early s:1,2,3 s:8,9 c:hello c:9"
        );
    }

    #[test]
    fn close_handshake_between_ends() {
        let out = run_js(
            "const [client, server] = Object.values(new WebSocketPair());
             const got = [];
             client.accept(); server.accept();
             server.onclose = (e) => got.push(`server close ${e.code} ${e.reason} ${e.wasClean} ${server.readyState}`);
             client.addEventListener('close', (e) => got.push(`client close ${e.code} ${e.reason} ${client.readyState}`));
             client.close(4001, 'bye');
             got.push('closing ' + client.readyState);
             await new Promise((r) => setTimeout(r, 0));
             let after;
             try { client.send('x'); } catch (e) { after = e.name; }
             return [got.join('; '), after].join('|');",
        );
        assert_eq!(
            out,
            "closing 2; server close 4001 bye true 3; client close 4001 bye 3|TypeError"
        );
    }

    #[test]
    fn events_are_message_and_close_events() {
        let out = run_js(
            "const [client, server] = Object.values(new WebSocketPair());
             const got = [];
             client.accept(); server.accept();
             server.onmessage = (e) => got.push([e instanceof MessageEvent, e.isTrusted, e.type, e.data, e.origin === '',
                                                 e.ports.length, e.source, Object.keys(e).length].join(' '));
             server.onclose = (e) => got.push([e instanceof CloseEvent, e.isTrusted, e.type, e.code, e.reason, e.wasClean,
                                               Object.keys(e).length].join(' '));
             client.send('hi');
             client.close(4000, 'done');
             await new Promise((r) => setTimeout(r, 0));
             return got.join('; ');",
        );
        assert_eq!(
            out,
            "true true message hi true 0  0; true true close 4000 done true 0"
        );
    }

    /// Replaced globals are not what the host builds its events with.
    #[test]
    fn events_use_the_intrinsic_classes() {
        let out = run_js(
            "const Message = MessageEvent, Close = CloseEvent;
             globalThis.MessageEvent = class { constructor() { throw new Error('user MessageEvent'); } };
             globalThis.CloseEvent = function () { throw new Error('user CloseEvent'); };
             const S = String; globalThis.String = () => 'user String';
             Object.prototype.origin = 'user';
             const [client, server] = Object.values(new WebSocketPair());
             const got = [];
             client.accept(); server.accept();
             server.addEventListener('message', (e) => got.push(e instanceof Message, e.origin === '', e.data));
             server.addEventListener('close', (e) => got.push(e instanceof Close, e.reason));
             client.send('x');
             client.close(1000, 'r');
             await new Promise((r) => setTimeout(r, 0));
             // The test harness stringifies the result with the global.
             globalThis.String = S;
             return got.join();",
        );
        assert_eq!(out, "true,true,x,true,r");
    }

    /// A connection that fails fires an `ErrorEvent`, then an unclean
    /// `CloseEvent` (1006). Private addresses are refused by policy here, so
    /// nothing is dialled.
    #[test]
    fn lost_connection_fires_error_then_close() {
        let out = run_js(
            "const ws = new WebSocket('ws://127.0.0.1:1/');
             const got = [];
             ws.onerror = (e) => got.push([e instanceof ErrorEvent, e.isTrusted, e.message, e.error instanceof Error].join(' '));
             await new Promise((resolve) => ws.addEventListener('close', (e) => {
               got.push([e instanceof CloseEvent, e.isTrusted, e.code, e.wasClean].join(' '));
               resolve();
             }));
             return got.join('; ');",
        );
        assert_eq!(
            out,
            "true true WebSocket disconnected without sending Close frame. true; true true 1006 false"
        );
    }

    /// The host's view: a returned client end hands the server end to the
    /// host, queued sends come out first, network messages reach listeners,
    /// and an unaccepted end closes rather than queue without bound.
    #[test]
    fn host_side_of_a_returned_pair() {
        use super::{take_for_host, WsMessage, MAX_PENDING};
        use rquickjs::{AsyncContext, AsyncRuntime, Object, Value};
        crate::testing::block_on_local(async {
            let qjs = AsyncRuntime::new().unwrap();
            let ctx = AsyncContext::full(&qjs).await.unwrap();
            ctx.async_with(async |ctx| {
                crate::install(&ctx).unwrap();
                let pairs: Object = ctx
                    .eval(
                        "globalThis.log = [];
                         const a = Object.values(new WebSocketPair());
                         a[1].accept();
                         a[1].send('queued');
                         a[1].addEventListener('message', (e) => log.push(e.data));
                         const b = Object.values(new WebSocketPair());
                         ({ accepted: a[0], idle: b[0] })",
                    )
                    .unwrap();
                let accepted: Value = pairs.get("accepted").unwrap();
                let host = take_for_host(&ctx, &accepted).unwrap();
                assert_eq!(
                    host.outgoing.try_recv().unwrap(),
                    WsMessage::Text("queued".into())
                );
                host.target
                    .deliver(&ctx, WsMessage::Text("from the network".into()))
                    .unwrap();
                let log: String = ctx.eval("log.join()").unwrap();
                assert_eq!(log, "from the network");
                // Returning the same end twice is refused.
                assert!(take_for_host(&ctx, &accepted).is_err());
                let _ = ctx.catch();

                let idle: Value = pairs.get("idle").unwrap();
                let host = take_for_host(&ctx, &idle).unwrap();
                for i in 0..=MAX_PENDING {
                    host.target
                        .deliver(&ctx, WsMessage::Text(i.to_string()))
                        .unwrap();
                }
                match host.outgoing.try_recv().unwrap() {
                    WsMessage::Close { code, .. } => assert_eq!(code, 1008),
                    other => panic!("expected a close, got {other:?}"),
                }
            })
            .await;
            qjs.idle().await;
        });
    }

    /// A pair's ends in one isolate: an end that sends more than
    /// `MAX_BUFFERED_BYTES` to an end that does not take it is flagged full
    /// and closed; both ends lose the connection, and later sends and
    /// closes are quietly ignored.
    #[test]
    fn a_full_pair_end_fails_the_connection() {
        let out = run_js(
            "const [client, server] = Object.values(new WebSocketPair());
             const got = [];
             for (const [name, ws] of [['server', server], ['client', client]]) {
               ws.addEventListener('message', (e) => got.push(`${name} message`));
               ws.addEventListener('error', (e) => got.push(`${name} error ${e.message}`));
               ws.addEventListener('close', (e) => got.push(`${name} close ${e.code} ${e.wasClean} ${ws.readyState}`));
             }
             server.accept();
             const big = 'x'.repeat(1 << 20);
             let sent = 0;
             while (server.readyState === WebSocket.OPEN && sent < 100) { server.send(big); sent++; }
             const state = server.readyState;
             server.send('after'); server.close(1000);
             await new Promise((r) => setTimeout(r, 0));
             client.accept();
             await new Promise((r) => setTimeout(r, 0));
             return [sent, state, server.readyState, client.readyState, got.join('; ')].join('|');",
        );
        assert_eq!(
            out,
            "17|2|3|3|server error WebSocket closed: more than 16 MiB of sent messages were waiting \
             for the peer to read them.; server close 1006 false 3; \
             client error WebSocket disconnected without sending Close frame.; client close 1006 false 3"
        );
    }

    /// The host's half of an outbox: messages come out in order, an
    /// overflow drops the backlog and ends the stream, a gone writer drops
    /// sends.
    #[test]
    fn outbox_bounds_the_backlog() {
        use super::{outbox, WsMessage, MAX_BUFFERED_BYTES};
        let bin = |n: usize| WsMessage::Binary(vec![0u8; n].into());
        let (tx, rx) = outbox();
        // One message over the bound is sent when nothing waits.
        assert!(tx.push(bin(MAX_BUFFERED_BYTES + 1)));
        assert_eq!(rx.try_recv(), Some(bin(MAX_BUFFERED_BYTES + 1)));
        assert!(tx.push(WsMessage::Text("a".into())));
        assert!(tx.push(bin(MAX_BUFFERED_BYTES - 1)));
        assert!(!rx.is_overflowed());
        assert!(!tx.push(WsMessage::Text("b".into())));
        assert!(rx.is_overflowed());
        assert_eq!(rx.try_recv(), None);
        assert!(!tx.push(WsMessage::Text("c".into())));
        drop(rx);

        let (tx, rx) = outbox();
        assert!(tx.push(WsMessage::Text("a".into())));
        let close = WsMessage::Close {
            code: 1000,
            reason: String::new(),
            clean: true,
        };
        assert!(tx.push(close.clone()));
        drop(tx);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(rx.recv().await, Some(WsMessage::Text("a".into())));
            assert_eq!(rx.recv().await, Some(close));
            assert_eq!(rx.recv().await, None);
            assert!(!rx.is_overflowed());
        });
        let (tx, rx) = outbox();
        drop(rx);
        assert!(tx.push(bin(2 * MAX_BUFFERED_BYTES)));
        assert!(tx.push(bin(2 * MAX_BUFFERED_BYTES)));
    }

    /// A WebSocket server on 127.0.0.1 for the client tests, on threads of
    /// its own, that echoes every data message.
    fn echo_server() -> std::net::SocketAddr {
        use tokio_tungstenite::tungstenite;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { return };
                std::thread::spawn(move || {
                    let Ok(mut ws) = tungstenite::accept(tcp) else {
                        return;
                    };
                    while let Ok(msg) = ws.read() {
                        if (msg.is_text() || msg.is_binary()) && ws.send(msg).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn private_fetch() -> crate::host::HostInfo {
        crate::host::HostInfo {
            allow_private_fetch: true,
            ..Default::default()
        }
    }

    /// A client socket's `message` events carry the origin of its URL
    /// (with `http` read as `ws`), for `new WebSocket` and for a `fetch()`
    /// upgrade alike.
    #[test]
    fn client_messages_carry_the_url_origin() {
        let addr = echo_server();
        let out = crate::testing::run_js_with_host(
            &format!(
                "const got = [];
                 const ws = new WebSocket('ws://{addr}/path?q=1');
                 await new Promise((resolve) => {{
                   ws.onopen = () => ws.send('hi');
                   ws.onmessage = (e) => {{ got.push(e.data + ' ' + e.origin); ws.close(1000); }};
                   ws.onclose = resolve;
                 }});
                 const resp = await fetch('http://{addr}/other', {{ headers: {{ Upgrade: 'websocket' }} }});
                 const up = resp.webSocket;
                 up.accept();
                 await new Promise((resolve) => {{
                   up.onmessage = (e) => {{ got.push(e.data + ' ' + e.origin + ' ' + up.url); up.close(1000); }};
                   up.onclose = resolve;
                   up.send('there');
                 }});
                 return got.join('; ');"
            ),
            private_fetch(),
        );
        assert_eq!(
            out,
            format!("hi ws://{addr}; there ws://{addr} http://{addr}/other")
        );
    }

    /// A client socket whose server never reads: once `MAX_BUFFERED_BYTES`
    /// wait behind what the kernel buffers took, the socket fires `error`
    /// and an unclean `close`, and the connection is cut (the server reads
    /// what reached it, then the end of the stream).
    #[test]
    fn a_client_socket_to_a_server_that_never_reads_is_closed() {
        use std::io::Read;
        use tokio_tungstenite::tungstenite;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let (report, outcome) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            let mut ws = tungstenite::accept(tcp).unwrap();
            let _ = wait.recv();
            let tcp = ws.get_mut();
            tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let mut buf = vec![0u8; 1 << 20];
            let mut read = 0usize;
            let ended = loop {
                match tcp.read(&mut buf) {
                    Ok(0) => break true,
                    Ok(n) => read += n,
                    Err(e) => {
                        break !matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        )
                    }
                }
            };
            let _ = report.send((ended, read));
        });
        let out = crate::testing::run_js_with_host(
            &format!(
                "const got = [];
                 const resp = await fetch('http://{addr}/', {{ headers: {{ Upgrade: 'websocket' }} }});
                 const ws = resp.webSocket;
                 ws.accept();
                 ws.onerror = (e) => got.push('error ' + e.message);
                 const closed = new Promise((resolve) => ws.onclose = (e) => {{
                   got.push(`close ${{e.code}} ${{e.wasClean}}`);
                   resolve();
                 }});
                 const big = new Uint8Array(1 << 20);
                 let sent = 0;
                 while (ws.readyState === WebSocket.OPEN && sent < 400) {{
                   ws.send(big);
                   sent++;
                   await new Promise((r) => setTimeout(r, 0));
                 }}
                 ws.send(big);
                 await closed;
                 return [sent, got.join('; ')].join('|');"
            ),
            private_fetch(),
        );
        let _ = go.send(());
        let (sent, events) = out.split_once('|').unwrap_or((&out, ""));
        let sent: usize = sent.parse().unwrap_or_else(|_| panic!("{out}"));
        // The backlog, plus what the kernel's buffers hold on both sides.
        assert!((17..400).contains(&sent), "{out}");
        assert_eq!(
            events,
            "error WebSocket closed: more than 16 MiB of sent messages were waiting for the \
             peer to read them.; close 1006 false"
        );
        let (ended, read) = outcome
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap();
        assert!(ended, "the connection stayed open after {read} bytes");
        assert!(read < sent << 20, "read {read} of {sent} MiB sent");
        eprintln!("sent {sent} MiB before the socket was full; the server then read {read} bytes");
    }

    #[test]
    fn misuse_throws() {
        for (src, want) in [
            ("const [c] = Object.values(new WebSocketPair()); c.send('x')", "TypeError"),
            ("const [c] = Object.values(new WebSocketPair()); c.accept(); c.accept()", "TypeError"),
            ("const [c] = Object.values(new WebSocketPair()); c.accept(); c.close(1001)", "InvalidAccessError"),
            ("const [c] = Object.values(new WebSocketPair()); c.accept(); c.close(1000, 'x'.repeat(124))", "SyntaxError"),
            ("const [c] = Object.values(new WebSocketPair()); c.accept(); c.send({})", "TypeError"),
            ("new WebSocket('ftp://x/')", "SyntaxError"),
            ("new WebSocket('ws://x/#frag')", "SyntaxError"),
            ("new Response(null, {status: 101})", "RangeError"),
            ("new Response(null, {status: 101, webSocket: {}})", "TypeError"),
            ("const [c] = Object.values(new WebSocketPair()); new Response(null, {status: 200, webSocket: c})", "RangeError"),
        ] {
            let out = run_js(&format!("try {{ {src}; return 'no error'; }} catch (e) {{ return e.name; }}"));
            assert_eq!(out, want, "{src}");
        }
        let ok = run_js(
            "const [c] = Object.values(new WebSocketPair());
             const r = new Response(null, {status: 101, webSocket: c});
             return [r.status, r.webSocket === c, new Response('x').webSocket].join('|');",
        );
        assert_eq!(ok, "101|true|");
    }
}
