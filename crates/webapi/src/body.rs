//! The body shared by `Request` and `Response`: what it holds (nothing, bytes,
//! a host stream not yet read, or a JS `ReadableStream`), how a `BodyInit`
//! becomes one, and how the consuming methods (`text`, `json`, ...) read it.
//!
//! Spec: <https://fetch.spec.whatwg.org/#body-mixin>

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use rquickjs::{class::Trace, ArrayBuffer, Ctx, Function, Object, Promise, Result, Value};

use crate::buffer::buffer_source_bytes;
use crate::error::{OrThrow, WebApiError};
use crate::streams::OnChunkError;

/// Error type of host bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A body produced by the host (an incoming request, a `fetch` response),
/// read lazily so a handler that never looks at it costs nothing.
pub type HostBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// What a request or response body holds.
#[derive(Default, rquickjs::JsLifetime)]
pub enum Body<'js> {
    /// No body (`null`).
    #[default]
    None,
    /// Fully buffered bytes.
    Bytes(Bytes),
    /// A host stream not yet read.
    Host(Pin<Box<HostBody>>),
    /// A JavaScript `ReadableStream`.
    Stream(Object<'js>),
}

impl<'js> Trace<'js> for Body<'js> {
    fn trace<'a>(&self, tracer: rquickjs::class::Tracer<'a, 'js>) {
        if let Body::Stream(s) = self {
            s.trace(tracer)
        }
    }
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::None => f.write_str("Body::None"),
            Body::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Body::Host(_) => f.write_str("Body::Host"),
            Body::Stream(_) => f.write_str("Body::Stream"),
        }
    }
}

/// A body plus its "disturbed" flag.
///
/// The flag covers bodies read without a stream (buffered and host bodies
/// consumed by `text()` and friends, or moved into another request); a body
/// that is a JS stream is also disturbed once that stream is, whoever read
/// it, as Fetch defines it (<https://fetch.spec.whatwg.org/#body-disturbed>).
#[derive(Debug, Default, rquickjs::JsLifetime)]
pub struct BodySlot<'js> {
    body: Body<'js>,
    used: bool,
}

/// The message of the `TypeError` for a body that was already read.
const USED: &str = "Body has already been used. It can only be used once.";

/// Why a body cannot be read (Fetch's "unusable"): a `TypeError`, if it
/// is locked or disturbed.
///
/// Spec: <https://fetch.spec.whatwg.org/#body-unusable>
fn unusable(stream: &Object<'_>) -> Option<WebApiError> {
    match crate::streams::stream_state(stream.ctx(), stream) {
        Some(state) if state.disturbed => Some(WebApiError::type_error(USED)),
        Some(state) if state.locked => Some(WebApiError::type_error(
            "Body is locked to a reader and cannot be read.",
        )),
        _ => None,
    }
}

impl<'js> Trace<'js> for BodySlot<'js> {
    fn trace<'a>(&self, tracer: rquickjs::class::Tracer<'a, 'js>) {
        self.body.trace(tracer)
    }
}

impl<'js> BodySlot<'js> {
    /// A slot holding `body`, not yet used.
    pub fn new(body: Body<'js>) -> Self {
        Self { body, used: false }
    }

    /// `bodyUsed`: true once the body was consumed, or its stream read
    /// from or cancelled.
    pub fn used(&self) -> bool {
        self.used || self.stream_disturbed()
    }

    fn stream_disturbed(&self) -> bool {
        match &self.body {
            Body::Stream(s) => matches!(
                crate::streams::stream_state(s.ctx(), s),
                Some(state) if state.disturbed
            ),
            _ => false,
        }
    }

    /// A `TypeError` if the body cannot be read: already used, or a stream
    /// that is disturbed or locked.
    fn check_usable(&self) -> std::result::Result<(), WebApiError> {
        if self.used {
            return Err(WebApiError::type_error(USED));
        }
        match &self.body {
            Body::Stream(s) => unusable(s).map_or(Ok(()), Err),
            _ => Ok(()),
        }
    }

    /// Whether there is no body at all.
    pub fn is_none(&self) -> bool {
        matches!(self.body, Body::None)
    }

    /// Takes the body for a consuming read, marking the slot used.
    pub fn take_for_read(&mut self) -> std::result::Result<Body<'js>, WebApiError> {
        self.check_usable()?;
        self.used = true;
        Ok(std::mem::take(&mut self.body))
    }

    /// Takes the body to move it into another request or response (the
    /// source becomes used only if it had a body).
    pub fn take_for_transfer(&mut self) -> std::result::Result<Body<'js>, WebApiError> {
        self.check_usable()?;
        if !self.is_none() {
            self.used = true;
        }
        Ok(std::mem::take(&mut self.body))
    }

    /// Duplicates the body for `clone()`. Buffered bodies are shared. A
    /// streamed body (a JS `ReadableStream`, or a host body, which becomes one
    /// first) is teed: this slot keeps one branch and the copy gets the other.
    /// A locked stream cannot be teed, so cloning it throws a `TypeError`.
    ///
    /// Spec: <https://fetch.spec.whatwg.org/#concept-body-clone>
    pub fn try_clone(&mut self, ctx: &Ctx<'js>) -> Result<Self> {
        self.check_usable().or_throw(ctx)?;
        let body = match &self.body {
            Body::None => Body::None,
            Body::Bytes(b) => Body::Bytes(b.clone()),
            Body::Host(_) | Body::Stream(_) => {
                let stream = body_stream(ctx, self)?
                    .into_object()
                    .ok_or_else(|| rquickjs::Error::new_from_js("value", "ReadableStream"))?;
                let tee: Function = stream.get("tee")?;
                let branches: rquickjs::Array = tee.call((rquickjs::function::This(stream),))?;
                self.body = Body::Stream(branches.get(0)?);
                Body::Stream(branches.get(1)?)
            }
        };
        Ok(Self { body, used: false })
    }
}

/// A `BodyInit` turned into a body, with the `Content-Type` it implies.
pub struct Extracted<'js> {
    /// The body.
    pub body: Body<'js>,
    /// The implied content type, if any.
    pub content_type: Option<String>,
}

/// Extracts a body from a `BodyInit` value.
///
/// Spec: <https://fetch.spec.whatwg.org/#concept-bodyinit-extract>
pub fn extract<'js>(ctx: &Ctx<'js>, init: Value<'js>) -> Result<Extracted<'js>> {
    if init.is_undefined() || init.is_null() {
        return Ok(Extracted {
            body: Body::None,
            content_type: None,
        });
    }
    if let Some(s) = init.as_string() {
        return Ok(Extracted {
            body: Body::Bytes(Bytes::from(s.to_string()?)),
            content_type: Some("text/plain;charset=UTF-8".into()),
        });
    }
    if let Some(bytes) = buffer_source_bytes(ctx, &init)? {
        return Ok(Extracted {
            body: Body::Bytes(Bytes::from(bytes)),
            content_type: None,
        });
    }
    if let Some(data) = crate::blob::blob_data(&init) {
        return Ok(Extracted {
            body: Body::Bytes(data.bytes),
            content_type: (!data.kind.is_empty()).then_some(data.kind),
        });
    }
    if let Ok(form) = rquickjs::Class::<crate::formdata::FormData>::from_value(&init) {
        let (bytes, content_type) = form.borrow().to_multipart().or_throw(ctx)?;
        return Ok(Extracted {
            body: Body::Bytes(bytes),
            content_type: Some(content_type),
        });
    }
    if let Some(obj) = init.as_object() {
        if is_instance(ctx, obj, "ReadableStream")? {
            if let Some(e) = unusable(obj) {
                return Err(e).or_throw(ctx);
            }
            return Ok(Extracted {
                body: Body::Stream(obj.clone()),
                content_type: None,
            });
        }
        if is_instance(ctx, obj, "URLSearchParams")? {
            let s: String = obj
                .get::<_, Function>("toString")?
                .call((rquickjs::function::This(obj.clone()),))?;
            return Ok(Extracted {
                body: Body::Bytes(Bytes::from(s)),
                content_type: Some("application/x-www-form-urlencoded;charset=UTF-8".into()),
            });
        }
    }
    // Anything else is stringified, as WebIDL's USVString conversion does.
    let s: rquickjs::Coerced<String> = rquickjs::FromJs::from_js(ctx, init)?;
    Ok(Extracted {
        body: Body::Bytes(Bytes::from(s.0)),
        content_type: Some("text/plain;charset=UTF-8".into()),
    })
}

/// `obj instanceof globalThis[name]`, false when that global does not exist.
pub fn is_instance<'js>(ctx: &Ctx<'js>, obj: &Object<'js>, name: &str) -> Result<bool> {
    let ctor: Value = ctx.globals().get(name)?;
    match ctor.as_constructor() {
        Some(c) => Ok(obj.is_instance_of(c)),
        None => Ok(false),
    }
}

/// Reads a whole body into memory.
pub async fn read_all<'js>(ctx: Ctx<'js>, body: Body<'js>) -> Result<Bytes> {
    match body {
        Body::None => Ok(Bytes::new()),
        Body::Bytes(b) => Ok(b),
        Body::Host(host) => {
            let collected = host.collect().await.map_err(|e| {
                WebApiError::type_error(format!("Failed to read body: {e}")).throw(&ctx)
            })?;
            Ok(collected.to_bytes())
        }
        Body::Stream(stream) => {
            let out = Rc::new(RefCell::new(Bytes::new()));
            let out2 = out.clone();
            // Fetch leaves a stream with a chunk that is not bytes uncancelled.
            read_js_stream(
                &ctx,
                &stream,
                None,
                OnChunkError::Keep,
                move |ctx, bytes| {
                    *out2.borrow_mut() = bytes;
                    Ok(Value::new_undefined(ctx.clone()))
                },
            )?
            .into_future::<()>()
            .await?;
            Ok(out.take())
        }
    }
}

/// A bound on a JS body stream read: at most `.0` bytes, else the error
/// `.1` makes of the bound.
pub(crate) type ReadLimit = (u64, fn(&Ctx<'_>, u64) -> rquickjs::Error);

/// Reads a JS `ReadableStream` of byte chunks to its end; the promise
/// settles with what `finish` makes of the bytes. A chunk that is not bytes,
/// or one that would take the body past `limit`, rejects the read, and
/// `on_chunk_error` says what then becomes of the stream.
///
/// The read loop runs in JS ([`crate::streams::read_fully`]) and the two
/// functions it calls back hold only Rust values, so a read that never ends
/// leaves nothing the garbage collector cannot see: a Rust future awaiting
/// each chunk would keep the stream and all it references alive for the
/// isolate's life.
pub(crate) fn read_js_stream<'js>(
    ctx: &Ctx<'js>,
    stream: &Object<'js>,
    limit: Option<ReadLimit>,
    on_chunk_error: crate::streams::OnChunkError,
    finish: impl FnOnce(&Ctx<'js>, Bytes) -> Result<Value<'js>> + 'js,
) -> Result<Promise<'js>> {
    let out = Rc::new(RefCell::new(BytesMut::new()));
    let out2 = out.clone();
    let on_chunk = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, chunk: Value<'js>| -> Result<()> {
            let cap = limit.map_or(u64::MAX, |(cap, _)| cap);
            match (
                append_chunk(&ctx, &mut out.borrow_mut(), &chunk, cap)?,
                limit,
            ) {
                (false, Some((cap, too_big))) => Err(too_big(&ctx, cap)),
                _ => Ok(()),
            }
        },
    )?;
    let finish = RefCell::new(Some(finish));
    let on_done = Function::new(ctx.clone(), move |ctx: Ctx<'js>| -> Result<Value<'js>> {
        // A read closes once, so this runs once.
        let finish = finish.take().ok_or(rquickjs::Error::Unknown)?;
        finish(&ctx, out2.take().freeze())
    })?;
    crate::streams::read_fully(ctx, stream, on_chunk, on_done, on_chunk_error)
}

/// Appends a body stream's chunk to `out`: the bytes of a `BufferSource`,
/// or the UTF-8 of a string; anything else is a `TypeError`. `Ok(false)`,
/// with nothing appended, when `out` would pass `cap` bytes.
fn append_chunk<'js>(
    ctx: &Ctx<'js>,
    out: &mut BytesMut,
    chunk: &Value<'js>,
    cap: u64,
) -> Result<bool> {
    let fits = |out: &BytesMut, n: usize| (out.len() as u64).saturating_add(n as u64) <= cap;
    if let Some(s) = chunk.as_string() {
        let s = s.to_string()?;
        if !fits(out, s.len()) {
            return Ok(false);
        }
        out.extend_from_slice(s.as_bytes());
        return Ok(true);
    }
    match crate::webidl::buffer_source(ctx, chunk)? {
        Some(view) => Ok(view.with_bytes(|b| {
            let ok = fits(out, b.len());
            if ok {
                out.extend_from_slice(b);
            }
            ok
        })),
        None => Err(
            WebApiError::type_error("ReadableStream chunks in a body must be Uint8Array")
                .throw(ctx),
        ),
    }
}

/// Decodes body bytes as UTF-8 text (BOM stripped, errors replaced), as
/// `text()` does.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a consuming method produces.
#[derive(Clone, Copy)]
pub enum ReadAs {
    /// `text()`
    Text,
    /// `json()`
    Json,
    /// `arrayBuffer()`
    ArrayBuffer,
    /// `bytes()`
    Bytes,
    /// `formData()`: parsed according to the `Content-Type`.
    FormData,
    /// `blob()`: typed with the `Content-Type`'s MIME type.
    Blob,
}

/// Implements `text()`/`json()`/`arrayBuffer()`/`bytes()` for any body slot:
/// returns a promise of the converted body.
pub fn consume<'js>(
    ctx: &Ctx<'js>,
    slot: &mut BodySlot<'js>,
    read_as: ReadAs,
) -> Result<Promise<'js>> {
    consume_typed(ctx, slot, read_as, None)
}

/// [`consume`] with the body's `Content-Type` header value (all values
/// combined with `, `), which `formData()` and `blob()` need.
pub fn consume_typed<'js>(
    ctx: &Ctx<'js>,
    slot: &mut BodySlot<'js>,
    read_as: ReadAs,
    content_type: Option<String>,
) -> Result<Promise<'js>> {
    let body = match slot.take_for_read() {
        Ok(b) => b,
        Err(e) => {
            // A used body rejects rather than throws, as the spec's promise-returning methods do.
            let (promise, _resolve, reject) = Promise::new(ctx)?;
            let err = e.throw(ctx);
            let value = if let rquickjs::Error::Exception = err {
                ctx.catch()
            } else {
                Value::new_undefined(ctx.clone())
            };
            reject.call::<_, ()>((value,))?;
            return Ok(promise);
        }
    };
    // Fast path: buffered bodies resolve without a Rust future.
    if let Body::Bytes(ref b) = body {
        let value = convert(ctx, b, read_as, content_type.as_deref());
        let (promise, resolve, reject) = Promise::new(ctx)?;
        match value {
            Ok(v) => resolve.call::<_, ()>((v,))?,
            Err(rquickjs::Error::Exception) => reject.call::<_, ()>((ctx.catch(),))?,
            Err(e) => return Err(e),
        }
        return Ok(promise);
    }
    if let Body::Stream(stream) = body {
        return read_js_stream(ctx, &stream, None, OnChunkError::Keep, move |ctx, bytes| {
            convert(ctx, &bytes, read_as, content_type.as_deref())
        });
    }
    // A host body's read holds no JS values but the promise's resolving
    // functions, and ends with the request it belongs to.
    let ctx2 = ctx.clone();
    Promise::wrap_future(ctx, async move {
        let bytes = read_all(ctx2.clone(), body).await?;
        convert(&ctx2, &bytes, read_as, content_type.as_deref())
    })
}

fn convert<'js>(
    ctx: &Ctx<'js>,
    bytes: &Bytes,
    read_as: ReadAs,
    content_type: Option<&str>,
) -> Result<Value<'js>> {
    match read_as {
        ReadAs::Text => {
            rquickjs::String::from_str(ctx.clone(), &decode_text(bytes)).map(|s| s.into_value())
        }
        ReadAs::Json => ctx.json_parse(decode_text(bytes)),
        ReadAs::ArrayBuffer => {
            ArrayBuffer::new_copy(ctx.clone(), bytes.as_ref()).map(|a| a.into_value())
        }
        ReadAs::Bytes => crate::buffer::new_uint8_array(ctx, bytes),
        ReadAs::FormData => {
            crate::formdata::parse_body(ctx, bytes, content_type).map(|f| f.into_value())
        }
        ReadAs::Blob => {
            // Spec: <https://fetch.spec.whatwg.org/#concept-body-mime-type>
            let kind = content_type
                .and_then(crate::blob::MimeType::extract)
                .map(|m| m.to_string())
                .unwrap_or_default();
            let data = crate::blob::BlobData {
                bytes: bytes.clone(),
                kind,
            };
            crate::blob::new_blob(ctx, data).map(|b| b.into_value())
        }
    }
}

/// Throws unless `init` is allowed a body with `method`.
pub fn check_method_allows_body(ctx: &Ctx<'_>, method: &str, has_body: bool) -> Result<()> {
    if has_body && (method == "GET" || method == "HEAD") {
        return Err(WebApiError::type_error(
            "Request with a GET or HEAD method cannot have a body.",
        ))
        .or_throw(ctx);
    }
    Ok(())
}

/// `new AbortController().signal`, a signal that never fires, or `undefined`
/// when the events module is not installed.
pub fn new_never_aborted_signal<'js>(ctx: &Ctx<'js>) -> Result<Value<'js>> {
    let ctor: Value = ctx.globals().get("AbortController")?;
    match ctor.as_constructor() {
        Some(c) => {
            let controller: Object = c.construct(())?;
            controller.get("signal")
        }
        None => Ok(Value::new_undefined(ctx.clone())),
    }
}

/// Implements the `body` getter: exposes the body as a `ReadableStream`,
/// converting buffered and host bodies on first access so later reads go
/// through the same stream.
pub fn body_stream<'js>(ctx: &Ctx<'js>, slot: &mut BodySlot<'js>) -> Result<Value<'js>> {
    let stream = match std::mem::take(&mut slot.body) {
        Body::None => return Ok(Value::new_null(ctx.clone())),
        Body::Stream(s) => s,
        Body::Bytes(b) => stream_from_chunks(ctx, HostChunks::Once(Some(b)))?,
        Body::Host(h) => stream_from_chunks(ctx, HostChunks::Host(h))?,
    };
    slot.body = Body::Stream(stream.clone());
    Ok(stream.into_value())
}

/// Where a host-backed `ReadableStream` pulls its chunks from.
enum HostChunks {
    Once(Option<Bytes>),
    Host(Pin<Box<HostBody>>),
}

impl HostChunks {
    async fn next(&mut self) -> std::result::Result<Option<Bytes>, BoxError> {
        match self {
            HostChunks::Once(b) => Ok(b.take()),
            HostChunks::Host(h) => loop {
                match h.frame().await {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(e),
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            if !data.is_empty() {
                                return Ok(Some(data));
                            }
                        }
                    }
                }
            },
        }
    }
}

/// Makes a byte `ReadableStream` (`type: "bytes"`, so it can be read with a
/// BYOB reader, as in workerd) whose `pull` reads the next host chunk. Each
/// chunk is a fresh `Uint8Array`, whose buffer `enqueue` may transfer.
fn stream_from_chunks<'js>(ctx: &Ctx<'js>, chunks: HostChunks) -> Result<Object<'js>> {
    let ctor: Value = ctx.globals().get("ReadableStream")?;
    let Some(ctor) = ctor.as_constructor() else {
        return Err(WebApiError::type_error("ReadableStream is not available")).or_throw(ctx);
    };
    let source = std::rc::Rc::new(std::cell::RefCell::new(Some(chunks)));
    let pull = rquickjs::Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, controller: Object<'js>| -> Result<Promise<'js>> {
            let source = source.clone();
            let ctx2 = ctx.clone();
            Promise::wrap_future(&ctx, async move {
                let taken = source.borrow_mut().take();
                let Some(mut chunks) = taken else {
                    return Ok(());
                };
                let next = chunks.next().await;
                match next {
                    Ok(Some(bytes)) => {
                        *source.borrow_mut() = Some(chunks);
                        let arr = crate::buffer::new_uint8_array(&ctx2, &bytes)?;
                        controller
                            .get::<_, Function>("enqueue")?
                            .call::<_, ()>((rquickjs::function::This(controller.clone()), arr))
                    }
                    Ok(None) => {
                        controller
                            .get::<_, Function>("close")?
                            .call::<_, ()>((rquickjs::function::This(controller.clone()),))?;
                        // A BYOB read still waiting gets its buffer back, empty.
                        let request: Value = controller.get("byobRequest")?;
                        match request.into_object() {
                            Some(request) => request
                                .get::<_, Function>("respond")?
                                .call::<_, ()>((rquickjs::function::This(request.clone()), 0)),
                            None => Ok(()),
                        }
                    }
                    Err(e) => {
                        let err = WebApiError::type_error(format!("Failed to read body: {e}"))
                            .throw(&ctx2);
                        let _ = err;
                        let value = ctx2.catch();
                        controller
                            .get::<_, Function>("error")?
                            .call::<_, ()>((rquickjs::function::This(controller.clone()), value))
                    }
                }
            })
        },
    )?;
    let source_obj = Object::new(ctx.clone())?;
    source_obj.set("type", "bytes")?;
    source_obj.set("pull", pull)?;
    ctor.construct((source_obj,))
}

/// Turns a body into a host body the host can send: the outgoing body of a
/// `fetch`, or a handler's response. Bytes become one frame and a host stream
/// passes through. A JS `ReadableStream` is locked at once and pumped chunk by
/// chunk by a task inside the isolate through a one-chunk channel, so it is
/// read only as fast as the consumer takes chunks; when the consumer drops the
/// body, the stream is cancelled. A stream that cannot be read (already
/// locked, a chunk that is not bytes, an error) ends the body with an error.
pub fn into_host_body<'js>(ctx: &Ctx<'js>, body: Body<'js>) -> HostBody {
    use http_body_util::{BodyExt as _, Empty, Full};
    use rquickjs::function::This;
    use std::task::{Context, Poll};
    use tokio::sync::mpsc;

    type Chunk = std::result::Result<bytes::Bytes, BoxError>;

    /// The receiving end of the pump.
    struct Pumped(mpsc::Receiver<Chunk>);

    impl http_body::Body for Pumped {
        type Data = bytes::Bytes;
        type Error = BoxError;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<std::result::Result<http_body::Frame<bytes::Bytes>, BoxError>>> {
            self.get_mut()
                .0
                .poll_recv(cx)
                .map(|c| c.map(|r| r.map(http_body::Frame::data)))
        }
    }

    /// `name: message` for errors, the text of anything else.
    fn error_text<'js>(ctx: &Ctx<'js>, e: rquickjs::Error) -> String {
        if !matches!(e, rquickjs::Error::Exception) {
            return e.to_string();
        }
        let v = ctx.catch();
        if let Some(o) = v.as_object().filter(|o| o.is_error()) {
            let name: String = o.get("name").unwrap_or_else(|_| "Error".into());
            let message: String = o.get("message").unwrap_or_default();
            return format!("{name}: {message}");
        }
        crate::console::inspect(ctx, &v, 0).unwrap_or_else(|_| "exception".into())
    }

    async fn read_chunk<'js>(
        ctx: &Ctx<'js>,
        reader: &Object<'js>,
        read: &Function<'js>,
    ) -> Result<Option<bytes::Bytes>> {
        let p: rquickjs::Promise = read.call((This(reader.clone()),))?;
        let chunk: Object = p.into_future().await?;
        if chunk.get::<_, bool>("done")? {
            return Ok(None);
        }
        let value: Value = chunk.get("value")?;
        let bytes = match value.as_string() {
            Some(s) => s.to_string()?.into_bytes(),
            None => buffer_source_bytes(ctx, &value)?.ok_or_else(|| {
                WebApiError::type_error("ReadableStream chunks in a body must be Uint8Array")
                    .throw(ctx)
            })?,
        };
        Ok(Some(bytes::Bytes::from(bytes)))
    }

    fn cancel<'js>(reader: &Object<'js>) {
        if let Ok(f) = reader.get::<_, Function>("cancel") {
            let _ = f.call::<_, Value>((This(reader.clone()),));
        }
    }

    let stream = match body {
        Body::None => return Empty::new().map_err(|never| match never {}).boxed_unsync(),
        Body::Bytes(b) => return Full::new(b).map_err(|never| match never {}).boxed_unsync(),
        Body::Host(h) => return *std::pin::Pin::into_inner(h),
        Body::Stream(s) => s,
    };
    let (tx, rx) = mpsc::channel::<Chunk>(1);
    let locked = stream
        .get::<_, Function>("getReader")
        .and_then(|f| f.call::<_, Object>((This(stream.clone()),)))
        .and_then(|reader| Ok((reader.get::<_, Function>("read")?, reader)));
    let (read, reader) = match locked {
        Ok(pair) => pair,
        Err(e) => {
            let _ = tx.try_send(Err(error_text(ctx, e).into()));
            return Pumped(rx).boxed_unsync();
        }
    };
    let ctx2 = ctx.clone();
    ctx.spawn(async move {
        loop {
            // Read a chunk only once there is room for it.
            let Ok(permit) = tx.reserve().await else {
                return cancel(&reader);
            };
            let next = tokio::select! {
                next = read_chunk(&ctx2, &reader, &read) => next,
                _ = tx.closed() => return cancel(&reader),
            };
            match next {
                Ok(Some(bytes)) if bytes.is_empty() => {}
                Ok(Some(bytes)) => permit.send(Ok(bytes)),
                Ok(None) => return,
                Err(e) => return permit.send(Err(error_text(&ctx2, e).into())),
            }
        }
    });
    Pumped(rx).boxed_unsync()
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    #[test]
    fn body_used_follows_the_stream() {
        assert_eq!(
            run_js(
                "const a = new Response('abc');
                 const body = a.body;
                 const before = a.bodyUsed;
                 const r = body.getReader();
                 await r.read();
                 const afterRead = a.bodyUsed;
                 r.releaseLock();
                 const rest = await a.text().catch((e) => e.name);
                 const c = new Response(new ReadableStream());
                 await c.body.cancel();
                 const req = new Request('https://example.com/', { method: 'POST', body: 'hi' });
                 await req.body.getReader().read();
                 return [before, afterRead, rest, c.bodyUsed, req.bodyUsed].join();"
            ),
            "false,true,TypeError,true,true"
        );
    }

    #[test]
    fn stream_bodies_are_read_whole() {
        assert_eq!(
            run_js(
                r#"const out = [];
                 const of = (...xs) => new ReadableStream({ start(c) { for (const x of xs) c.enqueue(x); c.close(); } });
                 // Strings (as UTF-8) and any BufferSource are taken.
                 out.push(await new Response(of(new Uint8Array([104, 105]), ' ',
                   new TextEncoder().encode('there').buffer, new DataView(new Uint8Array([33]).buffer))).text());
                 out.push((await new Response(of('{"a":', '1}')).json()).a);
                 const b = await new Response(of('xy'), { headers: { 'content-type': 'text/plain;charset=utf-8' } }).blob();
                 out.push(b.size, b.type);
                 // A chunk that is not bytes rejects; the stream stays locked and is not cancelled.
                 let cancelled = false;
                 const bad = new ReadableStream({ start(c) { c.enqueue(1); c.enqueue(new Uint8Array(1)); }, cancel() { cancelled = true; } });
                 const res = new Response(bad);
                 const p = res.text();
                 out.push(bad.locked, res.bodyUsed);
                 out.push(await p.catch((e) => `${e.name}: ${e.message}`), cancelled, bad.locked);
                 out.push(await res.text().catch((e) => e.name));
                 const boom = new Error('boom');
                 const failing = new ReadableStream({ pull(c) { c.enqueue(new Uint8Array(1)); c.error(boom); } });
                 out.push(await new Response(failing).arrayBuffer().catch((e) => e === boom));
                 out.push(await new Response(of('{')).json().catch((e) => e.name));
                 let n = 0;
                 const slow = new ReadableStream({ async pull(c) { await null; if (n++ < 3) c.enqueue(new Uint8Array([97 + n])); else c.close(); } });
                 out.push(await new Request('https://x/', { method: 'POST', body: slow }).text());
                 // A long queue is read in a loop, not by recursion.
                 const many = new ReadableStream({ start(c) { for (let i = 0; i < 100000; i++) c.enqueue(new Uint8Array([120])); c.close(); } });
                 out.push((await new Response(many).arrayBuffer()).byteLength);
                 // Patching the reader's prototype does not change how a body is read.
                 ReadableStreamDefaultReader.prototype.read = () => { throw new Error('patched'); };
                 out.push(await new Response(of('ok')).text());
                 return out.join('|');"#
            ),
            "hi there!|1|2|text/plain;charset=utf-8|true|true|\
             TypeError: ReadableStream chunks in a body must be Uint8Array|false|true|TypeError|\
             true|SyntaxError|bcd|100000|ok"
        );
    }

    #[test]
    fn locked_or_disturbed_bodies_are_unusable() {
        assert_eq!(
            run_js(
                "const out = [];
                 const b = new Response('xyz');
                 b.body.getReader();
                 out.push(await b.text().catch((e) => e.name), b.bodyUsed);
                 const rs = new ReadableStream({ start(c) { c.enqueue(new Uint8Array([1])); } });
                 const r = rs.getReader();
                 await r.read();
                 r.releaseLock();
                 for (const f of [() => new Response(rs), () => new Request('https://x/', { method: 'POST', body: rs }),
                                  () => new Response(new ReadableStream({ start(c) { c.close(); } })).body.getReader()]) {
                   try { f(); out.push('ok'); } catch (e) { out.push(e.name); }
                 }
                 const locked = new ReadableStream();
                 locked.getReader();
                 try { new Response(locked); } catch (e) { out.push(e.name); }
                 const d = new Response('q');
                 await d.body.getReader().read();
                 try { d.clone(); } catch (e) { out.push(e.name); }
                 const req = new Request('https://x/', { method: 'POST', body: 'hi' });
                 const rr = req.body.getReader();
                 await rr.read();
                 rr.releaseLock();
                 try { new Request(req); } catch (e) { out.push(e.name); }
                 // A body read to its end is used too.
                 const e = new Response('abc');
                 for await (const _ of e.body);
                 out.push(e.bodyUsed, await e.arrayBuffer().catch((x) => x.name));
                 return out.join();"
            ),
            "TypeError,false,TypeError,TypeError,ok,TypeError,TypeError,TypeError,true,TypeError"
        );
    }
}
