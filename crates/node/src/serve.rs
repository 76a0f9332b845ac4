//! One HTTP request on an executor thread, top to bottom:
//! route → isolate (cached or cold-started) → dispatch → response, with every
//! failure turned into a response that says what happened.

use std::convert::Infallible;
use std::rc::Rc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use outpost_runtime::{DispatchError, HostRequest, ResponseBody};

use crate::executor::ThreadState;

/// The scheme of the URL a handler sees (TLS ends before the node).
const URL_SCHEME: &str = "http://";

/// Serves one HTTP/1.1 connection.
pub async fn connection<I>(io: I, state: Rc<ThreadState>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(request(req, state).await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service)
        .with_upgrades()
        .await
    {
        tracing::debug!("connection ended: {e}");
    }
}

/// The phases of one request.
pub async fn request(mut req: Request<Incoming>, state: Rc<ThreadState>) -> Response<ResponseBody> {
    // 1. Route by host and path. The URL is built first and the host read
    //    back out of it, so neither needs a copy of its own.
    let (url, host_len) = {
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()));
        let authority = host.unwrap_or("localhost");
        let path_and_query = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut url =
            String::with_capacity(URL_SCHEME.len() + authority.len() + path_and_query.len());
        url.push_str(URL_SCHEME);
        url.push_str(authority);
        url.push_str(path_and_query);
        (url, host.map(str::len))
    };
    let host = host_len.map(|n| &url[URL_SCHEME.len()..URL_SCHEME.len() + n]);
    let Some(spec) = state.routes.route(host, req.uri().path()) else {
        return plain(
            StatusCode::NOT_FOUND,
            format!(
                "No worker is routed for host `{}` and path `{}`.\n",
                host.unwrap_or(""),
                req.uri().path()
            ),
        );
    };

    // 2. Turn the hyper request into the host request the isolate takes.
    let mut upgrade = crate::websocket::Upgrade::of(&mut req);
    let (parts, body) = req.into_parts();
    let body = if body.is_end_stream() {
        None
    } else {
        Some(
            body.map_err(|e| Box::new(e) as outpost_webapi::body::BoxError)
                .boxed_unsync(),
        )
    };
    let mut host_req = Some(HostRequest {
        method: parts.method,
        url,
        headers: parts.headers,
        body,
    });

    // 3. Dispatch, on a fresh isolate if the cached one was just poisoned
    //    by another request.
    for _attempt in 0..2 {
        let iso = match state.isolate(&spec).await {
            Ok(iso) => iso,
            Err(e) => {
                tracing::error!("[{}] worker failed to start: {e}", spec.name);
                let status = match e {
                    outpost_runtime::StartError::Limit(_) => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                return error_page(status, &e.to_string(), None, spec.dev);
            }
        };
        if iso.poisoned().is_some() {
            state.discard(&iso);
            continue;
        }
        let Some(req) = host_req.take() else { break };
        let result = if upgrade.is_some() {
            iso.dispatch_upgrade(req).await
        } else {
            iso.dispatch(req).await.map(|r| (r, None))
        };
        if iso.poisoned().is_some() {
            state.discard(&iso);
        }
        state.learn_from(&iso);
        match result {
            Ok((resp, None)) => return resp,
            Ok((resp, Some(socket))) => {
                return match upgrade.take() {
                    Some(upgrade) => upgrade.accept(resp, socket, iso, state.clone()),
                    // `dispatch` refuses sockets, so this is not reached.
                    None => {
                        drop(socket);
                        plain(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "Unexpected WebSocket.\n".into(),
                        )
                    }
                };
            }
            Err(DispatchError::Limit(kind)) => {
                tracing::error!("[{}] {kind}", spec.name);
                return plain(StatusCode::SERVICE_UNAVAILABLE, format!("{kind}\n"));
            }
            Err(e @ DispatchError::Uncaught { .. }) => {
                let DispatchError::Uncaught { message, stack } = &e else {
                    unreachable!()
                };
                tracing::error!(
                    "[{}] Uncaught {message}{}",
                    spec.name,
                    stack
                        .as_deref()
                        .map(|s| format!("\n{s}"))
                        .unwrap_or_default()
                );
                return error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &e.to_string(),
                    stack.as_deref(),
                    spec.dev,
                );
            }
            Err(e) => {
                tracing::error!("[{}] {e}", spec.name);
                return error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &e.to_string(),
                    None,
                    spec.dev,
                );
            }
        }
    }
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "Worker unavailable.\n".into(),
    )
}

/// A 5xx answer: the details in dev, a plain status line in production.
fn error_page(
    status: StatusCode,
    message: &str,
    stack: Option<&str>,
    dev: bool,
) -> Response<ResponseBody> {
    if dev {
        let mut text = format!("{message}\n");
        if let Some(s) = stack {
            text.push_str(s);
            if !s.ends_with('\n') {
                text.push('\n');
            }
        }
        plain(status, text)
    } else {
        plain(
            status,
            format!("{}\n", status.canonical_reason().unwrap_or("Error")),
        )
    }
}

pub(crate) fn plain(status: StatusCode, text: String) -> Response<ResponseBody> {
    let mut resp = Response::new(ResponseBody::full(Bytes::from(text)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    resp
}
