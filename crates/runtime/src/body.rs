//! Response bodies as the host sends them: no body, one buffer (length known,
//! so the client gets `Content-Length`), or a host stream (which may be fed
//! from a JS stream by a task inside the isolate).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use outpost_webapi::body::{BoxError, HostBody};

/// The body of a response produced by an isolate.
pub enum ResponseBody {
    /// No body.
    Empty,
    /// One buffer, taken on first poll.
    Full(Option<Bytes>),
    /// A host body passed through: from `fetch`, the incoming request, or a
    /// JS stream pumped by a task inside the isolate.
    Host(Pin<Box<HostBody>>),
}

impl ResponseBody {
    /// An empty body.
    pub fn empty() -> Self {
        ResponseBody::Empty
    }

    /// A buffered body.
    pub fn full(bytes: Bytes) -> Self {
        ResponseBody::Full(Some(bytes))
    }

    /// A host stream passed through.
    pub fn host(body: Pin<Box<HostBody>>) -> Self {
        ResponseBody::Host(body)
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ResponseBody::Empty => Poll::Ready(None),
            ResponseBody::Full(b) => Poll::Ready(
                b.take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            ResponseBody::Host(h) => h.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Empty => true,
            ResponseBody::Full(b) => b.as_ref().is_none_or(Bytes::is_empty),
            ResponseBody::Host(h) => h.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Empty => SizeHint::with_exact(0),
            ResponseBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ResponseBody::Host(h) => h.size_hint(),
        }
    }
}
