//! The JS `KvNamespace` object over a [`KvStore`].

use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

use outpost_data::Durability;
use outpost_runtime::EnvBinding;
use rquickjs::{
    class::Trace,
    function::{Constructor, Opt, This},
    Array, ArrayBuffer, Class, Ctx, FromJs, Function, JsLifetime, Object, Promise, Result, Value,
};

use super::{
    check_value_size, validate_cache_ttl, validate_key, KvEntry, KvError, KvStore, ListOptions,
    PutOptions, MAX_VALUE_BYTES,
};
use crate::clock::Clock;
use crate::js::{self, JsError};
use crate::remote::{DataKind, KvAnswer, KvCall, RemotePrimary};
use outpost_data::Position;

/// A KV namespace as a binding: one store shared by every isolate (and
/// executor thread) of the process. With a remote primary, the store is a
/// replica that serves reads, and writes go to the primary.
#[derive(Debug, Clone)]
pub struct KvBinding {
    store: Arc<KvStore>,
    remote: Option<Remote>,
}

/// The primary of a replicated namespace.
#[derive(Debug, Clone)]
struct Remote {
    id: String,
    primary: Arc<dyn RemotePrimary>,
}

impl Remote {
    /// Sends a write to the primary; resolves to its log position.
    async fn write(&self, call: KvCall) -> std::result::Result<Position, KvError> {
        let op = match call {
            KvCall::Put { .. } => "PUT",
            KvCall::Delete { .. } => "DELETE",
            KvCall::Get { .. } | KvCall::List { .. } => "GET",
        };
        let unreachable = |e: String| KvError::Failed {
            op,
            status: 503,
            message: format!(
                "Service Unavailable (the namespace's primary could not be reached: {e})"
            ),
        };
        let body = serde_json::to_vec(&call).expect("calls serialise");
        let answer = self
            .primary
            .call(DataKind::Kv, &self.id, body)
            .await
            .map_err(|e| unreachable(e.0))?;
        let answer: KvAnswer = serde_json::from_slice(&answer)
            .map_err(|e| unreachable(format!("undecodable answer: {e}")))?;
        answer.map(|done| done.position).map_err(KvError::from)
    }
}

impl KvBinding {
    /// Opens (creating if needed) the namespace stored at `path`.
    pub fn open(path: impl AsRef<Path>, durability: Durability) -> outpost_data::Result<Self> {
        Ok(Self::new(Arc::new(KvStore::open(path, durability)?)))
    }

    /// Opens the namespace with the given clock (tests).
    pub fn open_with_clock(
        path: impl AsRef<Path>,
        durability: Durability,
        clock: Arc<dyn Clock>,
    ) -> outpost_data::Result<Self> {
        Ok(Self::new(Arc::new(KvStore::open_with_clock(
            path, durability, clock,
        )?)))
    }

    /// A binding over an open store.
    pub fn new(store: Arc<KvStore>) -> Self {
        Self {
            store,
            remote: None,
        }
    }

    /// A binding that reads from `replica` (a [`KvStore::replica`]) and
    /// sends writes to the namespace `id` at `primary`.
    pub fn replicated(replica: Arc<KvStore>, id: &str, primary: Arc<dyn RemotePrimary>) -> Self {
        Self {
            store: replica,
            remote: Some(Remote {
                id: id.to_string(),
                primary,
            }),
        }
    }

    /// The store behind the binding.
    pub fn store(&self) -> &Arc<KvStore> {
        &self.store
    }
}

impl EnvBinding for KvBinding {
    fn create<'js>(&self, ctx: &Ctx<'js>) -> Result<Value<'js>> {
        let ns = KvNamespace {
            store: self.store.clone(),
            remote: self.remote.clone(),
        };
        Ok(Class::instance(ctx.clone(), ns)?.into_value())
    }
}

impl KvError {
    fn to_js(&self) -> JsError {
        match self {
            KvError::Type(m) => JsError::Type(m.clone()),
            failed => JsError::Error(failed.to_string()),
        }
    }
}

/// What `get()` turns a value into.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ReadAs {
    Text,
    Json,
    ArrayBuffer,
    Stream,
}

/// `get(key, type | { type, cacheTtl })` options.
struct GetOptions {
    /// The `type` as given (checked once there is a value, as workerd does).
    read_as: Option<String>,
    cache_ttl: Option<i64>,
}

fn read_as(name: Option<&str>) -> std::result::Result<ReadAs, KvError> {
    match name.unwrap_or("text") {
        "text" => Ok(ReadAs::Text),
        "json" => Ok(ReadAs::Json),
        "arrayBuffer" => Ok(ReadAs::ArrayBuffer),
        "stream" => Ok(ReadAs::Stream),
        _ => Err(KvError::Type(
            "Unknown response type. Possible types are \"text\", \"arrayBuffer\", \"json\", and \"stream\"."
                .into(),
        )),
    }
}

/// A JS number option as workerd's `int` members take it (truncated; NaN is 0).
fn int_option<'js>(ctx: &Ctx<'js>, obj: &Object<'js>, key: &str) -> Result<Option<i64>> {
    let v: Value = obj.get(key)?;
    if v.is_undefined() {
        return Ok(None);
    }
    let n = rquickjs::Coerced::<f64>::from_js(ctx, v)?.0;
    Ok(Some(if n.is_nan() { 0 } else { n.trunc() as i64 }))
}

/// An optional string member (`null` and `undefined` are absent).
fn string_option<'js>(ctx: &Ctx<'js>, obj: &Object<'js>, key: &str) -> Result<Option<String>> {
    let v: Value = obj.get(key)?;
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    js::to_string(ctx, v).map(Some)
}

fn get_options<'js>(ctx: &Ctx<'js>, options: Opt<Value<'js>>) -> Result<GetOptions> {
    let mut out = GetOptions {
        read_as: None,
        cache_ttl: None,
    };
    match options.0 {
        None => {}
        Some(v) if v.is_undefined() || v.is_null() => {}
        Some(v) => match v.as_object() {
            Some(o) if !v.is_function() => {
                out.read_as = string_option(ctx, o, "type")?;
                out.cache_ttl = int_option(ctx, o, "cacheTtl")?;
            }
            _ => out.read_as = Some(js::to_string(ctx, v)?),
        },
    }
    Ok(out)
}

/// `ToString` of a key (workerd takes keys as strings).
fn key_of<'js>(ctx: &Ctx<'js>, key: Value<'js>) -> Result<String> {
    js::to_string(ctx, key)
}

/// Converts a stored value as `get()` returns it.
fn value_to_js<'js>(ctx: &Ctx<'js>, bytes: Vec<u8>, read_as: ReadAs) -> Result<Value<'js>> {
    match read_as {
        ReadAs::Text => {
            let text = String::from_utf8_lossy(&bytes);
            Ok(rquickjs::String::from_str(ctx.clone(), &text)?.into_value())
        }
        ReadAs::Json => ctx.json_parse(bytes),
        ReadAs::ArrayBuffer => Ok(ArrayBuffer::new(ctx.clone(), bytes)?.into_value()),
        ReadAs::Stream => byte_stream(ctx, bytes),
    }
}

/// A `ReadableStream` (made with the global constructor) that yields
/// `bytes` as one `Uint8Array` and closes.
fn byte_stream<'js>(ctx: &Ctx<'js>, bytes: Vec<u8>) -> Result<Value<'js>> {
    let ctor: Value = ctx.globals().get("ReadableStream")?;
    let Some(ctor) = ctor.into_constructor() else {
        return Err(JsError::Type("KV get(): ReadableStream is not available".into()).throw(ctx));
    };
    // The start callback holds only Rust bytes, so the collector loses nothing.
    let pending = RefCell::new(Some(bytes));
    let start = Function::new(
        ctx.clone(),
        move |ctx: Ctx<'js>, controller: Object<'js>| -> Result<()> {
            if let Some(bytes) = pending.borrow_mut().take() {
                if !bytes.is_empty() {
                    let chunk = outpost_webapi::buffer::new_uint8_array(&ctx, &bytes)?;
                    let enqueue: Function = controller.get("enqueue")?;
                    enqueue.call::<_, ()>((This(controller.clone()), chunk))?;
                }
            }
            let close: Function = controller.get("close")?;
            close.call::<_, ()>((This(controller),))
        },
    )?;
    let source = Object::new(ctx.clone())?;
    source.set("start", start)?;
    ctor.construct((source,))
}

/// `{ value, metadata, cacheStatus }`.
fn with_metadata<'js>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
    metadata: Option<&str>,
) -> Result<Value<'js>> {
    let metadata = match metadata {
        Some(m) => ctx.json_parse(m)?,
        None => Value::new_null(ctx.clone()),
    };
    Ok(js::object(
        ctx,
        [
            ("value", value),
            ("metadata", metadata),
            ("cacheStatus", Value::new_null(ctx.clone())),
        ],
    )?
    .into_value())
}

/// Whether `value` is a `ReadableStream` of the global constructor.
fn is_readable_stream<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<bool> {
    let Some(obj) = value.as_object() else {
        return Ok(false);
    };
    let ctor: Value = ctx.globals().get("ReadableStream")?;
    Ok(match ctor.as_constructor() {
        Some(c) => obj.is_instance_of(c),
        None => false,
    })
}

const PUT_TYPES: &str =
    "KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.";

/// Reads a `ReadableStream` of bytes to the end. Past the value limit it
/// keeps counting (so the error names the full length) without keeping bytes.
async fn read_stream<'js>(ctx: Ctx<'js>, stream: Object<'js>) -> Result<Vec<u8>> {
    let get_reader: Function = stream.get("getReader")?;
    let reader: Object = get_reader.call((This(stream),))?;
    let read: Function = reader.get("read")?;
    let mut out = Vec::new();
    let mut len = 0usize;
    loop {
        let p: Promise = read.call((This(reader.clone()),))?;
        let chunk: Object = p.into_future().await?;
        if chunk.get::<_, bool>("done")? {
            break;
        }
        let value: Value = chunk.get("value")?;
        let Some(bytes) = outpost_webapi::buffer::buffer_source_bytes(&ctx, &value)? else {
            return Err(
                JsError::Type("This ReadableStream did not return bytes.".into()).throw(&ctx),
            );
        };
        len += bytes.len();
        if len <= MAX_VALUE_BYTES {
            out.extend_from_slice(&bytes);
        }
    }
    if let Err(e) = check_value_size(len) {
        return Err(e.to_js().throw(&ctx));
    }
    Ok(out)
}

fn put_options<'js>(ctx: &Ctx<'js>, options: Opt<Value<'js>>) -> Result<PutOptions> {
    let mut out = PutOptions::default();
    let Some(o) = options.0.as_ref().and_then(|v| v.as_object()) else {
        return Ok(out);
    };
    out.expiration = int_option(ctx, o, "expiration")?;
    out.expiration_ttl = int_option(ctx, o, "expirationTtl")?;
    let metadata: Value = o.get("metadata")?;
    if !metadata.is_undefined() && !metadata.is_null() {
        out.metadata = match ctx.json_stringify(metadata)? {
            Some(s) => Some(s.to_string()?),
            None => None,
        };
    }
    Ok(out)
}

fn list_options<'js>(ctx: &Ctx<'js>, options: Opt<Value<'js>>) -> Result<ListOptions> {
    let mut out = ListOptions::default();
    let Some(o) = options.0.as_ref().and_then(|v| v.as_object()) else {
        return Ok(out);
    };
    out.limit = int_option(ctx, o, "limit")?;
    out.prefix = string_option(ctx, o, "prefix")?;
    out.cursor = string_option(ctx, o, "cursor")?;
    Ok(out)
}

/// `env.KV`: a Workers KV namespace.
#[derive(JsLifetime)]
#[rquickjs::class(rename = "KvNamespace")]
pub struct KvNamespace {
    store: Arc<KvStore>,
    remote: Option<Remote>,
}

impl<'js> Trace<'js> for KvNamespace {
    fn trace<'a>(&self, _tracer: rquickjs::class::Tracer<'a, 'js>) {}
}

impl KvNamespace {
    /// `get(key)` and `getWithMetadata(key)` for one key.
    fn get_one<'js>(
        &self,
        ctx: &Ctx<'js>,
        key: String,
        options: GetOptions,
        metadata: bool,
    ) -> Result<Value<'js>> {
        let lookup = validate_key("GET", &key)
            .and_then(|()| validate_cache_ttl("GET", options.cache_ttl))
            .and_then(|()| self.store.get(&key));
        let entry = lookup.map_err(|e| e.to_js().throw(ctx))?;
        let Some(KvEntry {
            value, metadata: m, ..
        }) = entry
        else {
            let null = Value::new_null(ctx.clone());
            return if metadata {
                with_metadata(ctx, null, None)
            } else {
                Ok(null)
            };
        };
        let read_as = read_as(options.read_as.as_deref()).map_err(|e| e.to_js().throw(ctx))?;
        let value = value_to_js(ctx, value, read_as)?;
        if metadata {
            with_metadata(ctx, value, m.as_deref())
        } else {
            Ok(value)
        }
    }

    /// `get([keys])` and `getWithMetadata([keys])`: a `Map` from each key to
    /// its value (or `{ value, metadata }`), `null` where there is none.
    fn get_bulk<'js>(
        &self,
        ctx: &Ctx<'js>,
        keys: Array<'js>,
        options: GetOptions,
        metadata: bool,
    ) -> Result<Value<'js>> {
        let keys = keys
            .iter::<Value>()
            .map(|k| key_of(ctx, k?))
            .collect::<Result<Vec<String>>>()?;
        let fail = |e: KvError| e.to_js().throw(ctx);
        let read_as = match options.read_as.as_deref() {
            None | Some("text") => ReadAs::Text,
            Some("json") => ReadAs::Json,
            Some(other) => {
                let message = format!("\"{other}\" is not a valid type. Use \"json\" or \"text\"");
                return Err(fail(KvError::Failed {
                    op: "GET_BULK",
                    status: 400,
                    message,
                }));
            }
        };
        validate_cache_ttl("GET_BULK", options.cache_ttl).map_err(fail)?;
        let entries = self.store.get_many(&keys).map_err(fail)?;
        let map_ctor: Constructor = ctx.globals().get("Map")?;
        let map: Object = map_ctor.construct(())?;
        let set: Function = map.get("set")?;
        for (key, entry) in keys.iter().zip(entries) {
            let value = match entry {
                None => Value::new_null(ctx.clone()),
                Some(entry) => {
                    let value = match value_to_js(ctx, entry.value, read_as) {
                        Ok(v) => v,
                        Err(rquickjs::Error::Exception) if read_as == ReadAs::Json => {
                            let _ = ctx.catch();
                            return Err(fail(KvError::Failed {
                                op: "GET_BULK",
                                status: 400,
                                message: "At least one of the requested keys corresponds to a non-json value".into(),
                            }));
                        }
                        Err(e) => return Err(e),
                    };
                    if metadata {
                        with_metadata(ctx, value, entry.metadata.as_deref())?
                    } else {
                        value
                    }
                }
            };
            set.call::<_, Value>((This(map.clone()), key.as_str(), value))?;
        }
        Ok(map.into_value())
    }

    fn get_impl<'js>(
        &self,
        ctx: Ctx<'js>,
        key: Value<'js>,
        options: Opt<Value<'js>>,
        metadata: bool,
    ) -> Result<Promise<'js>> {
        let result = (|| {
            let options = get_options(&ctx, options)?;
            match key.as_array() {
                Some(keys) => self.get_bulk(&ctx, keys.clone(), options, metadata),
                None => {
                    let key = key_of(&ctx, key.clone())?;
                    self.get_one(&ctx, key, options, metadata)
                }
            }
        })();
        js::settled(&ctx, result)
    }
}

#[rquickjs::methods(rename_all = "camelCase")]
impl KvNamespace {
    /// `get(key, type | { type, cacheTtl })`: the value as text (default),
    /// parsed JSON, an `ArrayBuffer` or a `ReadableStream`; `null` if absent.
    /// With an array of keys, a `Map` of up to 100 values (text or JSON).
    fn get<'js>(
        &self,
        ctx: Ctx<'js>,
        key: Value<'js>,
        options: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        self.get_impl(ctx, key, options, false)
    }

    /// `getWithMetadata(key, type)`: `{ value, metadata, cacheStatus }`.
    #[qjs(rename = "getWithMetadata")]
    fn get_with_metadata<'js>(
        &self,
        ctx: Ctx<'js>,
        key: Value<'js>,
        options: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        self.get_impl(ctx, key, options, true)
    }

    /// `put(key, value, { expiration, expirationTtl, metadata })` with a
    /// string, `ArrayBuffer`, view or `ReadableStream` value.
    fn put<'js>(
        &self,
        ctx: Ctx<'js>,
        key: Value<'js>,
        value: Value<'js>,
        options: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let prepared = (|| -> Result<std::result::Result<_, KvError>> {
            let key = key_of(&ctx, key)?;
            if let Err(e) = validate_key("PUT", &key) {
                return Ok(Err(e));
            }
            let options = put_options(&ctx, options)?;
            let body = if value.is_object() && !value.is_function() {
                match outpost_webapi::buffer::buffer_source_bytes(&ctx, &value)? {
                    Some(bytes) => Body::Bytes(bytes),
                    None if is_readable_stream(&ctx, &value)? => {
                        Body::Stream(value.as_object().cloned().ok_or(rquickjs::Error::Unknown)?)
                    }
                    None => return Ok(Err(KvError::Type(PUT_TYPES.into()))),
                }
            } else {
                Body::Bytes(js::to_string(&ctx, value.clone())?.into_bytes())
            };
            Ok(Ok((key, options, body)))
        })();
        let (key, options, body) = match prepared {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return js::rejected(&ctx, &e.to_js()),
            Err(e) => return js::settled(&ctx, Err(e)),
        };
        match (body, self.remote.clone()) {
            (Body::Bytes(bytes), None) => {
                let done = self
                    .store
                    .put(&key, &bytes, &options)
                    .map(|_| Value::new_undefined(ctx.clone()))
                    .map_err(|e| e.to_js().throw(&ctx));
                js::settled(&ctx, done)
            }
            (body, remote) => {
                let store = self.store.clone();
                let ctx2 = ctx.clone();
                Promise::wrap_future(&ctx, async move {
                    let bytes = match body {
                        Body::Bytes(bytes) => bytes,
                        Body::Stream(stream) => read_stream(ctx2.clone(), stream).await?,
                    };
                    let done = match remote {
                        None => store.put(&key, &bytes, &options),
                        Some(remote) => {
                            check_value_size(bytes.len()).map_err(|e| e.to_js().throw(&ctx2))?;
                            let call = KvCall::Put {
                                key,
                                value: bytes,
                                expiration: options.expiration,
                                expiration_ttl: options.expiration_ttl,
                                metadata: options.metadata,
                            };
                            remote.write(call).await
                        }
                    };
                    done.map(|_| ()).map_err(|e| e.to_js().throw(&ctx2))
                })
            }
        }
    }

    /// `delete(key)`.
    fn delete<'js>(&self, ctx: Ctx<'js>, key: Value<'js>) -> Result<Promise<'js>> {
        if let Some(remote) = self.remote.clone() {
            let key = key_of(&ctx, key)?;
            if let Err(e) = validate_key("DELETE", &key) {
                return js::rejected(&ctx, &e.to_js());
            }
            let ctx2 = ctx.clone();
            return Promise::wrap_future(&ctx, async move {
                remote
                    .write(KvCall::Delete { key })
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_js().throw(&ctx2))
            });
        }
        let result = key_of(&ctx, key).and_then(|key| {
            self.store
                .delete(&key)
                .map(|_| Value::new_undefined(ctx.clone()))
                .map_err(|e| e.to_js().throw(&ctx))
        });
        js::settled(&ctx, result)
    }

    /// `list({ prefix, limit, cursor })`: `{ keys, list_complete, cursor?,
    /// cacheStatus }`, keys in byte order, each `{ name, expiration?, metadata? }`.
    fn list<'js>(&self, ctx: Ctx<'js>, options: Opt<Value<'js>>) -> Result<Promise<'js>> {
        let result = (|| {
            let options = list_options(&ctx, options)?;
            let page = self
                .store
                .list(&options)
                .map_err(|e| e.to_js().throw(&ctx))?;
            let keys = Array::new(ctx.clone())?;
            for (i, k) in page.keys.iter().enumerate() {
                let obj = Object::new(ctx.clone())?;
                obj.set("name", k.name.as_str())?;
                if let Some(exp) = k.expiration {
                    obj.set("expiration", exp as f64)?;
                }
                if let Some(m) = &k.metadata {
                    obj.set("metadata", ctx.json_parse(m.as_str())?)?;
                }
                keys.set(i, obj)?;
            }
            let out = Object::new(ctx.clone())?;
            out.set("keys", keys)?;
            out.set("list_complete", page.cursor.is_none())?;
            if let Some(c) = page.cursor {
                out.set("cursor", c)?;
            }
            out.set("cacheStatus", Value::new_null(ctx.clone()))?;
            Ok(out.into_value())
        })();
        js::settled(&ctx, result)
    }
}

/// A `put()` value.
enum Body<'js> {
    Bytes(Vec<u8>),
    Stream(Object<'js>),
}
