//! WebSocket connections on the edge node: accepting the HTTP/1.1 upgrade
//! when a worker answers with a 101 `Response` carrying a `webSocket`, and
//! pumping frames between the connection and the worker's server end for as
//! long as the connection lives.
//!
//! Framing is `tokio-tungstenite` over hyper's upgraded connection. Each
//! frame read from the client enters the isolate on its own, under the CPU
//! and wall-clock limits of one request ([`Isolate::socket_event`]); what
//! the worker sends arrives on a bounded queue ([`ws::Outbox`]) and is
//! written out in order; when a client that does not read lets that queue
//! overflow, the connection is dropped. While
//! the connection is open the isolate counts it ([`Isolate::hold_socket`]),
//! and the executor does not evict an isolate with open sockets.

use std::rc::Rc;

use futures_util::{SinkExt, StreamExt};
use http::{header, HeaderValue, Request, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use outpost_runtime::{DispatchError, Isolate, ResponseBody};
use outpost_webapi::websocket::{self as ws, HostSocket, SocketTarget, WsMessage};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use crate::executor::ThreadState;

/// How long the node waits to write its own close frame to a client before
/// it drops the connection anyway.
const CLOSE_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A request that asked for a WebSocket upgrade, with what accepting it needs.
pub struct Upgrade {
    on_upgrade: OnUpgrade,
    key: Option<HeaderValue>,
    version_ok: bool,
}

impl Upgrade {
    /// Takes the upgrade handle from `req` if it asks for `Upgrade: websocket`.
    pub fn of<B>(req: &mut Request<B>) -> Option<Upgrade> {
        if !ws::wants_upgrade(req.headers()) || req.method() != http::Method::GET {
            return None;
        }
        let key = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned();
        let version_ok = req
            .headers()
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v.as_bytes() == b"13");
        Some(Upgrade {
            on_upgrade: hyper::upgrade::on(req),
            key,
            version_ok,
        })
    }

    /// Completes the handshake on the worker's 101 response and starts
    /// pumping the connection.
    ///
    /// Spec: <https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2>
    pub fn accept(
        self,
        mut resp: Response<ResponseBody>,
        socket: HostSocket,
        iso: Rc<Isolate>,
        state: Rc<ThreadState>,
    ) -> Response<ResponseBody> {
        let Some(key) = self.key.filter(|_| self.version_ok) else {
            deliver_loss(socket, iso);
            return crate::serve::plain(
                StatusCode::BAD_REQUEST,
                "A WebSocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13.\n"
                    .into(),
            );
        };
        let accept = ws::accept_key(key.as_bytes());
        let headers = resp.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        headers.remove(header::CONTENT_LENGTH);
        headers.remove(header::TRANSFER_ENCODING);
        let on_upgrade = self.on_upgrade;
        tokio::task::spawn_local(async move {
            let session = Session {
                target: socket.target,
                iso,
            };
            session.pump(on_upgrade, socket.outgoing, state).await;
        });
        resp
    }
}

/// The isolate's end and the isolate. Field order is drop order: the end's
/// handle roots a JS object and must go before the isolate can.
struct Session {
    target: SocketTarget,
    iso: Rc<Isolate>,
}

/// Tells the worker's end that its connection never opened.
fn deliver_loss(socket: HostSocket, iso: Rc<Isolate>) {
    let session = Session {
        target: socket.target,
        iso,
    };
    tokio::task::spawn_local(async move {
        let _ = session.event(lost()).await;
    });
}

fn lost() -> WsMessage {
    WsMessage::Close {
        code: 1006,
        reason: String::new(),
        clean: false,
    }
}

impl Session {
    async fn event(&self, msg: WsMessage) -> Result<(), DispatchError> {
        self.iso.socket_event(&self.target, msg).await
    }

    async fn pump(self, on_upgrade: OnUpgrade, outgoing: ws::Outbox, state: Rc<ThreadState>) {
        let _open = self.iso.hold_socket();
        let name = self.iso.spec().name.clone();
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!("[{name}] WebSocket upgrade failed: {e}");
                let _ = self.event(lost()).await;
                return;
            }
        };
        let stream = WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(ws::config()),
        )
        .await;
        let (mut sink, mut stream) = stream.split();
        let mut writing = true;
        let mut closed = false;
        loop {
            tokio::select! {
                frame = stream.next() => {
                    let msg = match frame {
                        Some(Ok(frame)) => match ws::from_frame(frame) {
                            Some(msg) => msg,
                            None => continue,
                        },
                        Some(Err(e)) => {
                            tracing::debug!("[{name}] WebSocket connection failed: {e}");
                            if closed { break; }
                            lost()
                        }
                        None if closed => break,
                        None => lost(),
                    };
                    let last = matches!(msg, WsMessage::Close { clean: false, .. });
                    closed |= matches!(msg, WsMessage::Close { .. });
                    match self.event(msg).await {
                        Ok(()) => {}
                        Err(e) => {
                            tracing::error!("[{name}] WebSocket event: {e}");
                            if e.poisons_isolate() || self.iso.poisoned().is_some() {
                                state.discard(&self.iso);
                                let close = sink.send(ws::to_frame(WsMessage::Close {
                                    code: 1011,
                                    reason: "Worker exceeded a limit".into(),
                                    clean: true,
                                }));
                                // A client that does not read would hold the
                                // discarded isolate here for good.
                                let _ = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, close).await;
                                break;
                            }
                        }
                    }
                    if last {
                        break;
                    }
                }
                out = outgoing.recv(), if writing => match out {
                    Some(msg) => {
                        // A client that does not read blocks the write; the
                        // worker's end gives up on it when its backlog
                        // overflows, and so does this.
                        tokio::select! {
                            sent = sink.send(ws::to_frame(msg)) => writing = sent.is_ok(),
                            () = outgoing.overflowed() => {}
                        }
                    }
                    None => writing = false,
                },
            }
            if outgoing.is_overflowed() {
                // The worker's end has fired its own error and close.
                tracing::debug!("[{name}] WebSocket dropped: the client fell too far behind");
                break;
            }
        }
        drop(_open);
        drop(self);
    }
}
