//! A small HTTP/1.1 client for the control API and nodes' data APIs, used
//! by nodes (the follower, replicas, workers' writes) and by the CLI.
//! Plain `http://` only for now; TLS comes with the rest of the transport
//! work.
//!
//! Connections are kept alive and reused, per thread: a worker's D1 write
//! goes to its primary over HTTP, and a fresh TCP connection for each one
//! would add a handshake to every write. The pool is per thread because a
//! connection's task runs on the runtime that opened it, and every
//! executor thread has a runtime of its own.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::ApiError;

/// Why a request to the control API failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is unusable.
    #[error("invalid control plane URL `{url}`: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// Why.
        reason: String,
    },
    /// The control plane could not be reached.
    #[error("cannot reach the control plane at {url}: {source}")]
    Connect {
        /// The base URL.
        url: String,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("control plane request failed: {0}")]
    Http(#[from] hyper::Error),
    /// No answer in time.
    #[error("the control plane did not answer within {0:?}")]
    Timeout(Duration),
    /// The API answered with an error.
    #[error("{message} (HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's error message.
        message: String,
    },
    /// The answer was not what the API promises.
    #[error("unexpected answer from the control plane: {0}")]
    Decode(String),
}

impl ClientError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// An answer, whatever its status.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

/// A client for one control plane, with an optional bearer token.
#[derive(Debug, Clone)]
pub struct Client {
    url: String,
    host: String,
    port: u16,
    authority: String,
    prefix: String,
    token: Option<String>,
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// Kept-alive connections per server (most kept idle, per thread).
const MAX_IDLE: usize = 8;

thread_local! {
    static IDLE: std::cell::RefCell<std::collections::HashMap<(String, u16), Vec<Sender>>> =
        std::cell::RefCell::default();
}

/// How long ordinary API requests may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    /// A client for the API at `url` (`http://host:port`, optionally with a
    /// path prefix).
    pub fn new(url: &str, token: Option<String>) -> Result<Client, ClientError> {
        let bad = |reason: &str| ClientError::BadUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if parsed.scheme() != "http" {
            return Err(bad("only http:// is supported for now"));
        }
        let host = parsed.host_str().ok_or_else(|| bad("no host"))?.to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let authority = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        Ok(Client {
            url: url.trim_end_matches('/').to_string(),
            host: host.trim_matches(['[', ']']).to_string(),
            port,
            authority,
            prefix: parsed.path().trim_end_matches('/').to_string(),
            token,
        })
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one request and reads the whole answer (any status).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Reply, ClientError> {
        tokio::time::timeout(timeout, self.exchange(method, path, headers, body))
            .await
            .map_err(|_| ClientError::Timeout(timeout))?
    }

    /// A kept-alive connection to this client's server opened on this
    /// thread (`true`), or a new one.
    async fn connection(&self) -> Result<(Sender, bool), ClientError> {
        let key = (self.host.clone(), self.port);
        while let Some(mut sender) = IDLE.with(|idle| idle.borrow_mut().get_mut(&key)?.pop()) {
            // `ready` fails at once for a closed connection, and otherwise
            // waits for the connection's task to finish with the last
            // exchange (it may not have run since).
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Ok((sender, true));
            }
        }
        Ok((self.connect().await?, false))
    }

    async fn connect(&self) -> Result<Sender, ClientError> {
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|source| ClientError::Connect {
                url: self.url.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The task ends when the connection closes (either side) or its
        // runtime stops; a sender whose task is gone is never ready.
        tokio::spawn(conn);
        Ok(sender)
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let build = || {
            let mut req = Request::builder()
                .method(method.clone())
                .uri(format!("{}{path}", self.prefix))
                .header(http::header::HOST, &self.authority);
            if let Some(t) = &self.token {
                req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
            }
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            req.body(Full::new(body.clone()))
                .map_err(|e| ClientError::Decode(format!("cannot build request: {e}")))
        };
        let (mut sender, reused) = self.connection().await?;
        let resp = match sender.send_request(build()?).await {
            Ok(resp) => resp,
            // A kept-alive connection the server closed as we took it: the
            // request was never sent, so sending it again is safe.
            Err(e) if reused && e.is_canceled() => {
                sender = self.connect().await?;
                sender.send_request(build()?).await?
            }
            Err(e) => return Err(e.into()),
        };
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        IDLE.with(|idle| {
            let mut idle = idle.borrow_mut();
            let list = idle.entry((self.host.clone(), self.port)).or_default();
            if list.len() < MAX_IDLE {
                list.push(sender);
            }
        });
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends a request and turns a non-2xx answer into [`ClientError::Api`].
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let reply = self
            .send(method, path, headers, body, REQUEST_TIMEOUT)
            .await?;
        if reply.status.is_success() {
            Ok(reply)
        } else {
            Err(api_error(&reply))
        }
    }

    /// `GET path`, decoded from JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let reply = self.call(Method::GET, path, &[], Bytes::new()).await?;
        decode(&reply.body)
    }

    /// A request with a JSON body, its answer decoded from JSON.
    pub async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Decode(e.to_string()))?;
        let reply = self
            .call(
                method,
                path,
                &[("content-type", "application/json".to_string())],
                Bytes::from(body),
            )
            .await?;
        decode(&reply.body)
    }
}

/// The API's `{"error": ...}` answer as a [`ClientError::Api`].
pub fn api_error(reply: &Reply) -> ClientError {
    let message = serde_json::from_slice::<ApiError>(&reply.body)
        .map(|e| e.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(&reply.body).trim().to_string());
    ClientError::Api {
        status: reply.status.as_u16(),
        message,
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| ClientError::Decode(e.to_string()))
}
