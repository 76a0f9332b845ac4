//! A node's data API: the primaries of the databases whose
//! `primary_region` is this node's region, served to the other nodes (and
//! to the control plane, which passes `outpost db` calls on).
//!
//! The endpoints are the control plane's data endpoints
//! ([`crate::data::serve`]): `POST /v1/data/<kind>/<id>`, `GET .../log`,
//! `GET .../snapshot`. It is a listener of its own, apart from the edge
//! port, so worker traffic never reaches it and it can be bound to a
//! private interface. Callers present the cluster's data token (from the
//! desired state), and only databases placed on this node are served: a
//! token holder cannot make a node create databases it does not own.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use outpost_bindings::remote::DataKind;
use tokio::sync::watch;

use crate::data::Primaries;
use crate::server::{error_reply, Reply};
use crate::ControlError;

/// What the data API lets through, updated by the follower with each
/// desired state.
#[derive(Debug, Default)]
pub struct PeerAccess {
    token: Mutex<String>,
    placed: Mutex<HashSet<(DataKind, String)>>,
}

impl PeerAccess {
    /// Sets the data token and the databases placed on this node.
    pub fn update(&self, token: &str, placed: HashSet<(DataKind, String)>) {
        *self.token.lock().expect("peer token lock") = token.to_string();
        *self.placed.lock().expect("peer placements lock") = placed;
    }

    /// Whether database `id` of `kind` is placed on this node.
    pub fn holds(&self, kind: DataKind, id: &str) -> bool {
        self.placed
            .lock()
            .expect("peer placements lock")
            .contains(&(kind, id.to_string()))
    }

    fn check(&self, req: &Request<Incoming>) -> Result<(), ControlError> {
        let expected = self.token.lock().expect("peer token lock").clone();
        if expected.is_empty() {
            return Err(ControlError::Unavailable(
                "this node has not heard from the control plane yet".into(),
            ));
        }
        let given = crate::server::bearer(req)?;
        // Both are ours to compare; a constant-time comparison keeps the
        // token from leaking through timing.
        let same = given.len() == expected.len()
            && given
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        if same {
            Ok(())
        } else {
            Err(ControlError::Unauthorized(
                "not the cluster's data token".into(),
            ))
        }
    }
}

/// A running data API. Dropping it stops the listener.
pub struct PeerServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl PeerServer {
    /// Binds `addr` (port 0 picks one) and serves `primaries` on a thread
    /// of its own, to callers `access` lets through.
    pub fn start(
        addr: SocketAddr,
        primaries: Arc<Primaries>,
        access: Arc<PeerAccess>,
    ) -> Result<PeerServer, ControlError> {
        let listener = crate::server::bind(addr)?;
        let addr = listener
            .local_addr()
            .map_err(ControlError::io("data API listener"))?;
        let (stop, stop_rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("data-api".into())
            .spawn(move || {
                let compact = primaries.clone();
                let handler = move |req: Request<Incoming>| {
                    let primaries = primaries.clone();
                    let access = access.clone();
                    async move {
                        match route(req, &primaries, &access).await {
                            Ok(r) => r,
                            Err(e) => error_reply(&e),
                        }
                    }
                };
                crate::server::run_http("data API", listener, compact, stop_rx, handler)
            })
            .map_err(ControlError::io("cannot start the data API thread"))?;
        Ok(PeerServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The API's base URL.
    pub fn url(&self) -> String {
        crate::server::local_url(self.addr)
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn route(
    req: Request<Incoming>,
    primaries: &Arc<Primaries>,
    access: &PeerAccess,
) -> Result<Reply, ControlError> {
    let Some((op, kind, id)) = crate::data::parse_path(req.method(), req.uri().path()) else {
        return Err(ControlError::NotFound(format!(
            "no such endpoint on a node's data API: {} {}",
            req.method(),
            req.uri().path()
        )));
    };
    access.check(&req)?;
    if !access.holds(kind, &id) {
        return Ok(crate::server::error_json(
            StatusCode::MISDIRECTED_REQUEST,
            &format!("this node does not hold the primary of {kind} database `{id}`"),
        ));
    }
    crate::data::serve(primaries, op, kind, id, req).await
}
