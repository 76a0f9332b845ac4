//! The Cache API as Cloudflare Workers has it: the `caches` global
//! (`caches.default`, `caches.open(name)`) and `Cache` (`match`, `put`,
//! `delete`), with Workers' HTTP caching rules applied in Rust, and the
//! [`CacheStore`] trait that the host's storage backend implements.
//!
//! The JS side never sees storage: entries go through [`CacheStore`], found in
//! the isolate's [`HostInfo`] (the node's SQLite store in `outpost-cache`), or
//! a process-wide [`MemoryCacheStore`] when the host gave none. Store calls run
//! on tokio's blocking pool, so disk I/O never stalls the executor thread and
//! is not charged to the request's CPU time.
//!
//! Specs: <https://developers.cloudflare.com/workers/runtime-apis/cache/>,
//! <https://w3c.github.io/ServiceWorker/#cache-interface>, and for freshness,
//! conditional and range requests RFC 9111 and RFC 9110.

use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http_body_util::BodyExt;
use rquickjs::{
    atom::PredefinedAtom, class::Trace, function::Opt, object::Property, Class, Ctx, JsLifetime,
    Object, Promise, Result, Value,
};

use crate::body::{Body, HostBody};
use crate::error::{OrThrow, WebApiError};
use crate::headers::Headers;
use crate::host::{host_info, HostInfo};
use crate::request::Request;
use crate::response::Response;

/// The largest body a store may be asked to hold per entry: Workers' limit.
/// Stores may report a smaller one ([`CacheStore::max_entry_bytes`]).
pub const WORKERS_MAX_ENTRY_BYTES: u64 = 512 * 1024 * 1024;

/// Total size of the process-wide in-memory store used when the host
/// provides none.
const FALLBACK_CAPACITY: u64 = 32 * 1024 * 1024;

/// Longest cache name `caches.open` accepts, as in workerd.
const MAX_CACHE_NAME_BYTES: usize = 1024;

/// Where an entry lives: a worker's namespace, one of its caches, a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The worker the entry belongs to; workers never see each other's entries.
    pub namespace: String,
    /// `None` for `caches.default`, else the name given to `caches.open`
    /// (a separate cache even when the name is `"default"`, as in Workers).
    pub cache: Option<String>,
    /// The request URL without its fragment.
    pub url: String,
}

/// A stored response with what matching it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers in order; values are byte strings.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The request's values (combined with `, `) of the headers the
    /// response's `Vary` names, as at `put`; absent headers are left out.
    pub vary_request: Vec<(String, Vec<u8>)>,
    /// The whole body.
    pub body: Bytes,
    /// When the entry goes stale, in milliseconds since the Unix epoch.
    pub expires_at_ms: u64,
}

impl CachedResponse {
    /// Bytes the entry accounts for against a store's size bound: body,
    /// headers and the URL it is stored under.
    pub fn size(&self, key: &CacheKey) -> u64 {
        let pairs = |v: &[(String, Vec<u8>)]| -> usize {
            v.iter().map(|(n, v)| n.len() + v.len() + 4).sum()
        };
        (self.body.len()
            + pairs(&self.headers)
            + pairs(&self.vary_request)
            + key.url.len()
            + key.namespace.len()
            + key.cache.as_ref().map_or(0, |c| c.len())) as u64
    }
}

/// A storage failure in a [`CacheStore`].
#[derive(Debug, thiserror::Error)]
pub enum CacheStoreError {
    /// The backend (SQLite, the file system, ...) failed.
    #[error("cache storage failed: {0}")]
    Backend(String),
}

/// Storage for cached responses, shared by every isolate of a node.
///
/// Calls may block on disk I/O: the bindings call them on tokio's blocking
/// pool. Stores bound their total size themselves (evicting as they see fit)
/// and must not return entries whose `expires_at_ms` is not after `now_ms`.
pub trait CacheStore: Send + Sync + std::fmt::Debug {
    /// The fresh entry under `key`, if any. An entry that is stale at
    /// `now_ms` is not returned (and may be dropped).
    fn get(
        &self,
        key: &CacheKey,
        now_ms: u64,
    ) -> std::result::Result<Option<CachedResponse>, CacheStoreError>;

    /// Stores `entry` under `key`, replacing what was there. A store may
    /// decline to keep it (it is a cache), but must then drop any older entry.
    fn put(
        &self,
        key: &CacheKey,
        entry: CachedResponse,
    ) -> std::result::Result<(), CacheStoreError>;

    /// Removes the entry under `key`; true when a fresh one was there.
    fn delete(&self, key: &CacheKey, now_ms: u64) -> std::result::Result<bool, CacheStoreError>;

    /// The largest body this store accepts in one entry; `put` with a larger
    /// body fails in JS with a `TypeError` naming this figure.
    fn max_entry_bytes(&self) -> u64 {
        WORKERS_MAX_ENTRY_BYTES
    }
}

/// A bounded in-memory [`CacheStore`] with LRU eviction, for hosts without
/// persistent storage and for tests.
#[derive(Debug)]
pub struct MemoryCacheStore {
    capacity: u64,
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    entries: HashMap<CacheKey, (CachedResponse, u64, u64)>,
    /// Last-use sequence number → key, oldest first.
    lru: BTreeMap<u64, CacheKey>,
    next_seq: u64,
    bytes: u64,
}

impl MemoryInner {
    fn remove(&mut self, key: &CacheKey) -> Option<CachedResponse> {
        let (entry, seq, size) = self.entries.remove(key)?;
        self.lru.remove(&seq);
        self.bytes -= size;
        Some(entry)
    }

    fn touch(&mut self, key: &CacheKey) {
        self.next_seq += 1;
        let seq = self.next_seq;
        if let Some(slot) = self.entries.get_mut(key) {
            self.lru.remove(&slot.1);
            slot.1 = seq;
            self.lru.insert(seq, key.clone());
        }
    }
}

impl MemoryCacheStore {
    /// A store holding at most `capacity` bytes (see [`CachedResponse::size`]).
    pub fn new(capacity: u64) -> Self {
        Self {
            capacity,
            inner: Mutex::new(MemoryInner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A panic while holding the lock cannot leave the maps inconsistent
        // in a way that matters for a cache, so a poisoned lock is reused.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl CacheStore for MemoryCacheStore {
    fn get(
        &self,
        key: &CacheKey,
        now_ms: u64,
    ) -> std::result::Result<Option<CachedResponse>, CacheStoreError> {
        let mut inner = self.lock();
        let fresh = match inner.entries.get(key) {
            None => return Ok(None),
            Some((entry, ..)) => entry.expires_at_ms > now_ms,
        };
        if !fresh {
            inner.remove(key);
            return Ok(None);
        }
        inner.touch(key);
        Ok(inner.entries.get(key).map(|(e, ..)| e.clone()))
    }

    fn put(
        &self,
        key: &CacheKey,
        entry: CachedResponse,
    ) -> std::result::Result<(), CacheStoreError> {
        let size = entry.size(key);
        let mut inner = self.lock();
        inner.remove(key);
        if size > self.capacity {
            return Ok(());
        }
        inner.next_seq += 1;
        let seq = inner.next_seq;
        inner.entries.insert(key.clone(), (entry, seq, size));
        inner.lru.insert(seq, key.clone());
        inner.bytes += size;
        while inner.bytes > self.capacity {
            let Some((_, oldest)) = inner.lru.pop_first() else {
                break;
            };
            if let Some((_, _, size)) = inner.entries.remove(&oldest) {
                inner.bytes -= size;
            }
        }
        Ok(())
    }

    fn delete(&self, key: &CacheKey, now_ms: u64) -> std::result::Result<bool, CacheStoreError> {
        Ok(self
            .lock()
            .remove(key)
            .is_some_and(|e| e.expires_at_ms > now_ms))
    }

    fn max_entry_bytes(&self) -> u64 {
        WORKERS_MAX_ENTRY_BYTES.min(self.capacity / 4)
    }
}

/// The store and namespace an isolate's caches use.
fn store_of(host: &HostInfo) -> Arc<dyn CacheStore> {
    static FALLBACK: OnceLock<Arc<MemoryCacheStore>> = OnceLock::new();
    match &host.cache {
        Some(store) => store.clone(),
        None => FALLBACK
            .get_or_init(|| Arc::new(MemoryCacheStore::new(FALLBACK_CAPACITY)))
            .clone(),
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Runs a store call on the blocking pool.
async fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, CacheStoreError> + Send + 'static,
) -> std::result::Result<T, WebApiError> {
    let joined = tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CacheStoreError::Backend(e.to_string()));
    joined
        .and_then(|r| r)
        .map_err(|e| WebApiError::type_error(format!("Cache operation failed: {e}")))
}

// ---------------------------------------------------------------------------
// HTTP caching rules (pure functions, unit-tested below)

/// The parsed `Cache-Control` directives that matter to a shared cache.
///
/// Spec: <https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2>
#[derive(Debug, Default, PartialEq)]
struct CacheControl {
    no_store: bool,
    no_cache: bool,
    /// `None`: absent. `Some(empty)`: bare `private`. Otherwise the
    /// (lower-cased) field names listed in `private="..."`.
    private: Option<Vec<String>>,
    s_maxage: Option<u64>,
    max_age: Option<u64>,
}

impl CacheControl {
    fn parse(headers: &HeaderMap) -> Self {
        let mut cc = CacheControl::default();
        for value in headers.get_all(header::CACHE_CONTROL) {
            let text = String::from_utf8_lossy(value.as_bytes());
            for (name, arg) in split_directives(&text) {
                // An unparsable delta-seconds makes the response stale
                // (RFC 9111 §1.2.2), which for a cache means zero.
                let seconds = || {
                    arg.as_deref()
                        .and_then(|a| a.parse::<u64>().ok())
                        .or(Some(0))
                };
                match name.as_str() {
                    "no-store" => cc.no_store = true,
                    "no-cache" if arg.is_none() => cc.no_cache = true,
                    "private" => {
                        let fields = arg
                            .map(|a| {
                                a.split(',')
                                    .map(|f| f.trim().to_ascii_lowercase())
                                    .filter(|f| !f.is_empty())
                                    .collect()
                            })
                            .unwrap_or_default();
                        cc.private = Some(fields);
                    }
                    "s-maxage" => cc.s_maxage = cc.s_maxage.or_else(seconds),
                    "max-age" => cc.max_age = cc.max_age.or_else(seconds),
                    _ => {}
                }
            }
        }
        cc
    }
}

/// Splits a `Cache-Control` value into lower-cased names and unquoted
/// arguments, honouring commas inside quoted strings.
fn split_directives(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == ',' || c == '=' {
                break;
            }
            name.push(c);
            chars.next();
        }
        let mut arg = None;
        if chars.peek() == Some(&'=') {
            chars.next();
            let mut value = String::new();
            while chars.peek() == Some(&' ') {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => value.extend(chars.next()),
                        c => value.push(c),
                    }
                }
                while chars.peek().is_some_and(|&c| c != ',') {
                    chars.next();
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim().to_owned();
            }
            arg = Some(value);
        }
        let name = name.trim().to_ascii_lowercase();
        if !name.is_empty() {
            out.push((name, arg));
        }
        if chars.next().is_none() {
            return out;
        }
    }
}

/// A header's values combined with `, `, as bytes.
fn combined(map: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let mut values = map.get_all(name).iter();
    let mut out = values.next()?.as_bytes().to_vec();
    for v in values {
        out.extend_from_slice(b", ");
        out.extend_from_slice(v.as_bytes());
    }
    Some(out)
}

fn header_text(map: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    map.get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn http_date(map: &HeaderMap, name: impl header::AsHeaderName) -> Option<SystemTime> {
    header_text(map, name).and_then(|t| httpdate::parse_http_date(t.trim()).ok())
}

/// The lower-cased field names a `Vary` header lists.
fn vary_names(map: &HeaderMap) -> Vec<String> {
    map.get_all(header::VARY)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|n| n.trim().to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Cloudflare's default edge TTL by status, used when a response carries
/// no freshness information.
///
/// Spec: <https://developers.cloudflare.com/cache/how-to/configure-cache-status-code/#edge-ttl>
fn default_edge_ttl(status: u16) -> Duration {
    match status {
        200 | 206 | 301 => Duration::from_secs(120 * 60),
        302 | 303 => Duration::from_secs(20 * 60),
        404 | 410 => Duration::from_secs(3 * 60),
        _ => Duration::ZERO,
    }
}

/// Decides whether a response may be stored and until when, and which
/// headers are kept. `None` means "do not store".
///
/// Freshness lifetime: `s-maxage`, else `max-age`, else `Expires` minus
/// `Date` (or now), less the `Age` already spent.
/// Spec: <https://www.rfc-editor.org/rfc/rfc9111#section-4.2.1>
fn storable(status: u16, headers: &HeaderMap, now: SystemTime) -> Option<(SystemTime, HeaderMap)> {
    let cc = CacheControl::parse(headers);
    if cc.no_store || cc.no_cache {
        return None;
    }
    let mut kept = headers.clone();
    // Hop-by-hop headers describe one connection, not the stored response.
    // Spec: <https://www.rfc-editor.org/rfc/rfc9111#section-3.1>
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        HeaderName::from_static("keep-alive"),
    ] {
        kept.remove(name);
    }
    match &cc.private {
        Some(fields) if fields.is_empty() => return None,
        Some(fields) => {
            // `private=<fields>`: only those fields are private; a shared
            // cache stores the response without them.
            for f in fields {
                if let Ok(name) = HeaderName::from_bytes(f.as_bytes()) {
                    kept.remove(name);
                }
            }
        }
        None => {}
    }
    if kept.contains_key(header::SET_COOKIE) {
        return None;
    }
    let lifetime = if let Some(s) = cc.s_maxage.or(cc.max_age) {
        Duration::from_secs(s)
    } else if let Some(expires) = headers.get(header::EXPIRES) {
        // An invalid Expires (such as "0") means already expired.
        let expires = httpdate::parse_http_date(String::from_utf8_lossy(expires.as_bytes()).trim());
        let date = http_date(headers, header::DATE).unwrap_or(now);
        match expires {
            Ok(e) => e.duration_since(date).unwrap_or(Duration::ZERO),
            Err(_) => Duration::ZERO,
        }
    } else {
        default_edge_ttl(status)
    };
    let age = header_text(headers, header::AGE)
        .and_then(|a| a.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs);
    let remaining = lifetime.checked_sub(age).filter(|d| !d.is_zero())?;
    Some((now + remaining, kept))
}

/// Whether two entity tags match under the weak comparison function.
///
/// Spec: <https://www.rfc-editor.org/rfc/rfc9110#section-8.8.3.2>
fn weak_etag_eq(a: &str, b: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    strip(a) == strip(b)
}

/// Whether a conditional request is answered with 304 Not Modified.
///
/// Spec: <https://www.rfc-editor.org/rfc/rfc9110#section-13.2.2>
fn not_modified(request: &HeaderMap, stored: &HeaderMap) -> bool {
    if let Some(inm) = header_text(request, header::IF_NONE_MATCH) {
        let Some(etag) = header_text(stored, header::ETAG) else {
            return inm.trim() == "*";
        };
        return inm
            .split(',')
            .any(|t| t.trim() == "*" || weak_etag_eq(t, &etag));
    }
    match (
        http_date(request, header::IF_MODIFIED_SINCE),
        http_date(stored, header::LAST_MODIFIED),
    ) {
        (Some(since), Some(modified)) => modified <= since,
        _ => false,
    }
}

/// What a `Range` header asks of a body of `len` bytes.
#[derive(Debug, PartialEq)]
enum RangeAnswer {
    /// No usable single range: send the whole body.
    Full,
    /// Send bytes `start..=end`.
    Partial(u64, u64),
    /// 416 Range Not Satisfiable.
    Unsatisfiable,
}

/// Evaluates a `Range` header. Only one byte range is served; several (or a
/// malformed header) get the whole body, which RFC 9110 allows.
///
/// Spec: <https://www.rfc-editor.org/rfc/rfc9110#section-14.1.2>
fn evaluate_range(range: &str, len: u64) -> RangeAnswer {
    let Some(spec) = range.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if first.is_empty() {
        let Some(suffix) = parse(last) else {
            return RangeAnswer::Full;
        };
        if suffix == 0 || len == 0 {
            return RangeAnswer::Unsatisfiable;
        }
        return RangeAnswer::Partial(len.saturating_sub(suffix), len - 1);
    }
    let Some(start) = parse(first) else {
        return RangeAnswer::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match parse(last) {
            Some(e) if e >= start => e,
            _ => return RangeAnswer::Full,
        }
    };
    if start >= len {
        return RangeAnswer::Unsatisfiable;
    }
    RangeAnswer::Partial(start, end.min(len - 1))
}

/// Whether an `If-Range` precondition lets a range request be served.
///
/// Spec: <https://www.rfc-editor.org/rfc/rfc9110#section-13.1.5>
fn if_range_holds(request: &HeaderMap, stored: &HeaderMap) -> bool {
    let Some(cond) = header_text(request, header::IF_RANGE) else {
        return true;
    };
    let cond = cond.trim();
    if cond.starts_with('"') || cond.starts_with("W/") {
        // Strong comparison: weak tags never match.
        return !cond.starts_with("W/")
            && header_text(stored, header::ETAG).is_some_and(|e| e.trim() == cond);
    }
    match (
        httpdate::parse_http_date(cond).ok(),
        http_date(stored, header::LAST_MODIFIED),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// JS classes

/// A request argument (`Request` or URL string) reduced to what caching uses.
struct KeyRequest {
    method: String,
    url: url::Url,
    headers: HeaderMap,
}

/// `Request | string` → method, fragment-less URL and headers.
fn key_request<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<KeyRequest> {
    let (method, url, headers) = if let Some(req) = crate::webidl::class_of::<Request>(&value) {
        let req = req.borrow();
        (
            req.method_str().to_owned(),
            req.url_str().to_owned(),
            req.header_map(),
        )
    } else {
        let s: rquickjs::Coerced<String> = rquickjs::FromJs::from_js(ctx, value)?;
        ("GET".to_owned(), s.0, HeaderMap::new())
    };
    let mut url = url::Url::parse(&url)
        .map_err(|_| {
            WebApiError::type_error(format!(
                "Invalid URL: {url}. Cache API keys must be fully-qualified, valid URLs."
            ))
        })
        .or_throw(ctx)?;
    url.set_fragment(None);
    Ok(KeyRequest {
        method,
        url,
        headers,
    })
}

/// `options.ignoreMethod`, truthy-tested.
fn ignore_method(options: &Option<Value<'_>>) -> Result<bool> {
    match options.as_ref().and_then(|o| o.as_object()) {
        Some(o) => Ok(o.get::<_, rquickjs::Coerced<bool>>("ignoreMethod")?.0),
        None => Ok(false),
    }
}

/// Turns a synchronous failure into a rejected promise, as Workers'
/// promise-returning methods do.
fn settle<'js>(ctx: &Ctx<'js>, r: Result<Promise<'js>>) -> Result<Promise<'js>> {
    match r {
        Err(rquickjs::Error::Exception) => {
            let reason = ctx.catch();
            let (promise, _resolve, reject) = Promise::new(ctx)?;
            reject.call::<_, ()>((reason,))?;
            Ok(promise)
        }
        other => other,
    }
}

fn resolved<'js, T: rquickjs::IntoJs<'js>>(ctx: &Ctx<'js>, value: T) -> Result<Promise<'js>> {
    let (promise, resolve, _reject) = Promise::new(ctx)?;
    resolve.call::<_, ()>((value,))?;
    Ok(promise)
}

fn host_body(bytes: Bytes) -> HostBody {
    http_body_util::Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The error of a `put` whose body passes the store's per-entry limit.
fn too_big(ctx: &Ctx<'_>, cap: u64) -> rquickjs::Error {
    WebApiError::type_error(format!(
        "Cannot cache a response body larger than {} (the per-entry limit of this node's cache).",
        human_bytes(cap)
    ))
    .throw(ctx)
}

/// Reads a host body for storing, failing once it passes `cap` bytes.
async fn read_capped<'js>(ctx: &Ctx<'js>, body: Pin<Box<HostBody>>, cap: u64) -> Result<Bytes> {
    let limited = http_body_util::Limited::new(body, cap as usize);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_big(ctx, cap)),
        Err(e) => Err(WebApiError::type_error(format!("Failed to read body: {e}")).throw(ctx)),
    }
}

/// An entry waiting for its body.
struct PendingPut {
    store: Arc<dyn CacheStore>,
    key: CacheKey,
    entry: CachedResponse,
}

impl PendingPut {
    async fn commit<'js>(self, ctx: Ctx<'js>, body: Bytes) -> Result<Value<'js>> {
        let PendingPut {
            store,
            key,
            mut entry,
        } = self;
        entry.body = body;
        off_thread(move || store.put(&key, entry))
            .await
            .or_throw(&ctx)?;
        Ok(Value::new_undefined(ctx))
    }
}

/// Reads a JS body stream, then stores `pending` with it. A body past `cap`
/// (or a chunk that is not bytes) cancels the stream, so that its source
/// stops producing for a put that has failed.
///
/// Nothing here is a Rust future until the stream has ended: `on_chunk` and
/// `on_done` hold only Rust values, so a stream that never ends is collected
/// with its read once the script drops it, where a future awaiting each
/// chunk would hold it for the isolate's life.
fn put_js_stream<'js>(
    ctx: &Ctx<'js>,
    stream: &Object<'js>,
    cap: u64,
    pending: PendingPut,
) -> Result<Promise<'js>> {
    crate::body::read_js_stream(
        ctx,
        stream,
        Some((cap, too_big)),
        crate::streams::OnChunkError::Cancel,
        move |ctx, body| {
            let ctx2 = ctx.clone();
            Ok(Promise::wrap_future(ctx, pending.commit(ctx2, body))?.into_value())
        },
    )
}

fn human_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

fn to_pairs(map: &HeaderMap) -> Vec<(String, Vec<u8>)> {
    map.iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fn from_pairs(pairs: &[(String, Vec<u8>)]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(pairs.len());
    for (n, v) in pairs {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_bytes(v),
        ) {
            map.append(n, v);
        }
    }
    map
}

/// Builds the `Response` `match` resolves to: the stored one, or a 304, 206
/// or 416 derived from it for conditional and range requests.
fn answer<'js>(ctx: &Ctx<'js>, request: &HeaderMap, entry: CachedResponse) -> Result<Value<'js>> {
    let mut headers = from_pairs(&entry.headers);
    headers.insert(
        HeaderName::from_static("cf-cache-status"),
        HeaderValue::from_static("HIT"),
    );
    let ok = (200..300).contains(&entry.status);
    let len = entry.body.len() as u64;
    let (status, body) = if ok && not_modified(request, &headers) {
        headers.remove(header::CONTENT_LENGTH);
        (304, None)
    } else if let Some(range) = header_text(request, header::RANGE)
        .filter(|_| entry.status == 200 && if_range_holds(request, &headers))
    {
        match evaluate_range(&range, len) {
            RangeAnswer::Full => (entry.status, Some(entry.body)),
            RangeAnswer::Partial(start, end) => {
                let value = format!("bytes {start}-{end}/{len}");
                headers.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("")),
                );
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
                (206, Some(entry.body.slice(start as usize..=end as usize)))
            }
            RangeAnswer::Unsatisfiable => {
                let value = format!("bytes */{len}");
                headers.insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("")),
                );
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(0u64));
                (416, None)
            }
        }
    } else {
        (entry.status, Some(entry.body))
    };
    let status_text = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
        .to_owned();
    let response = Response::from_host(
        status,
        status_text,
        headers,
        body.filter(|b| !b.is_empty()).map(host_body),
        String::new(),
        false,
    );
    Ok(Class::instance(ctx.clone(), response)?.into_value())
}

/// The JS `Cache` class: one named cache (or the default one) of the worker.
#[derive(Trace, JsLifetime)]
#[rquickjs::class]
pub struct Cache {
    #[qjs(skip_trace)]
    name: Option<String>,
}

impl Cache {
    fn key(&self, host: &HostInfo, url: &url::Url) -> CacheKey {
        CacheKey {
            namespace: host.cache_namespace.clone(),
            cache: self.name.clone(),
            url: url.as_str().to_owned(),
        }
    }

    fn match_inner<'js>(
        &self,
        ctx: &Ctx<'js>,
        request: Value<'js>,
        options: Option<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let req = key_request(ctx, request)?;
        if req.method != "GET" && !ignore_method(&options)? {
            return resolved(ctx, Value::new_undefined(ctx.clone()));
        }
        let host = host_info(ctx);
        let key = self.key(&host, &req.url);
        let store = store_of(&host);
        let ctx2 = ctx.clone();
        Promise::wrap_future(ctx, async move {
            let now = now_ms();
            let found = off_thread(move || store.get(&key, now))
                .await
                .or_throw(&ctx2)?;
            let Some(entry) = found else {
                return Ok(Value::new_undefined(ctx2.clone()));
            };
            // One variant per URL: a request whose varied headers differ
            // from the stored request's is a miss.
            let stored = from_pairs(&entry.headers);
            for name in vary_names(&stored) {
                let recorded = entry
                    .vary_request
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.as_slice());
                if combined(&req.headers, &name).as_deref() != recorded {
                    return Ok(Value::new_undefined(ctx2.clone()));
                }
            }
            answer(&ctx2, &req.headers, entry)
        })
    }

    fn put_inner<'js>(
        &self,
        ctx: &Ctx<'js>,
        request: Value<'js>,
        response: Value<'js>,
    ) -> Result<Promise<'js>> {
        let req = key_request(ctx, request)?;
        let Ok(resp) = Class::<Response>::from_value(&response) else {
            return Err(WebApiError::type_error(
                "Failed to execute 'put' on 'Cache': parameter 2 is not of type 'Response'.",
            ))
            .or_throw(ctx);
        };
        if req.method != "GET" {
            return Err(WebApiError::type_error(
                "Cannot cache response to non-GET request.",
            ))
            .or_throw(ctx);
        }
        if !matches!(req.url.scheme(), "http" | "https") {
            return Err(WebApiError::type_error(format!(
                "Cannot cache a response to a request for {}: only http and https URLs are cached.",
                req.url
            )))
            .or_throw(ctx);
        }
        let obj = response
            .as_object()
            .cloned()
            .ok_or(rquickjs::Error::Unknown)?;
        let status: u16 = obj.get("status")?;
        let kind: String = obj.get("type")?;
        if kind == "error" || status == 0 {
            return Err(WebApiError::type_error(
                "Cannot cache a network error response.",
            ))
            .or_throw(ctx);
        }
        if status == 206 {
            return Err(WebApiError::type_error(
                "Cannot cache response to a range request (206 Partial Content).",
            ))
            .or_throw(ctx);
        }
        let headers_obj: Class<Headers> = obj.get("headers")?;
        let headers = headers_obj.borrow().map().clone();
        if vary_names(&headers).iter().any(|n| n == "*") {
            return Err(WebApiError::type_error(
                "Cannot cache response with 'Vary: *' header.",
            ))
            .or_throw(ctx);
        }
        if status == 304 {
            // As workerd: a 304 is meaningless to cache and silently dropped.
            return resolved(ctx, Value::new_undefined(ctx.clone()));
        }
        // Taking the body empties the response's header object; keep the
        // script's view of the response intact apart from its used body.
        let saved = headers_obj.borrow().clone();
        let parts = resp.borrow_mut().take_parts(ctx);
        *headers_obj.borrow_mut() = saved;
        let body = parts?.body;

        let host = host_info(ctx);
        let store = store_of(&host);
        let key = self.key(&host, &req.url);
        let cap = store.max_entry_bytes();
        if let Some(len) =
            header_text(&headers, header::CONTENT_LENGTH).and_then(|l| l.trim().parse::<u64>().ok())
        {
            if len > cap {
                return Err(too_big(ctx, cap));
            }
        }
        let now = SystemTime::now();
        let Some((expires, kept)) = storable(status, &headers, now) else {
            // Not storable: nothing is kept, and the body is dropped unread.
            return resolved(ctx, Value::new_undefined(ctx.clone()));
        };
        let vary_request = vary_names(&kept)
            .into_iter()
            .filter_map(|n| combined(&req.headers, &n).map(|v| (n, v)))
            .collect();
        let pending = PendingPut {
            store,
            key,
            entry: CachedResponse {
                status,
                headers: to_pairs(&kept),
                vary_request,
                body: Bytes::new(),
                expires_at_ms: expires
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
            },
        };
        let host_body = match body {
            Body::Stream(stream) => return put_js_stream(ctx, &stream, cap, pending),
            Body::Host(h) => h,
            Body::Bytes(b) => Box::pin(host_body(b)),
            Body::None => Box::pin(host_body(Bytes::new())),
        };
        let ctx2 = ctx.clone();
        Promise::wrap_future(ctx, async move {
            let body = read_capped(&ctx2, host_body, cap).await?;
            pending.commit(ctx2, body).await
        })
    }

    fn delete_inner<'js>(
        &self,
        ctx: &Ctx<'js>,
        request: Value<'js>,
        options: Option<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let req = key_request(ctx, request)?;
        if req.method != "GET" && !ignore_method(&options)? {
            return resolved(ctx, false);
        }
        let host = host_info(ctx);
        let key = self.key(&host, &req.url);
        let store = store_of(&host);
        let ctx2 = ctx.clone();
        Promise::wrap_future(ctx, async move {
            let now = now_ms();
            off_thread(move || store.delete(&key, now))
                .await
                .or_throw(&ctx2)
        })
    }
}

#[rquickjs::methods]
impl Cache {
    /// `Cache` has no public constructor.
    #[qjs(constructor)]
    fn constructor(ctx: Ctx<'_>) -> Result<Self> {
        Err(WebApiError::type_error("Illegal constructor")).or_throw(&ctx)
    }

    /// Resolves to the stored response for `request`, or `undefined`.
    #[qjs(rename = "match")]
    fn match_<'js>(
        &self,
        ctx: Ctx<'js>,
        request: Value<'js>,
        options: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let r = self.match_inner(&ctx, request, options.0);
        settle(&ctx, r)
    }

    /// Stores `response` for `request`, consuming its body.
    fn put<'js>(
        &self,
        ctx: Ctx<'js>,
        request: Value<'js>,
        response: Value<'js>,
    ) -> Result<Promise<'js>> {
        let r = self.put_inner(&ctx, request, response);
        settle(&ctx, r)
    }

    /// Removes the entry for `request`; resolves to whether one was there.
    fn delete<'js>(
        &self,
        ctx: Ctx<'js>,
        request: Value<'js>,
        options: Opt<Value<'js>>,
    ) -> Result<Promise<'js>> {
        let r = self.delete_inner(&ctx, request, options.0);
        settle(&ctx, r)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    fn to_string_tag() -> &'static str {
        "Cache"
    }
}

/// The JS `CacheStorage` class: the `caches` global.
#[derive(Trace, JsLifetime)]
#[rquickjs::class]
pub struct CacheStorage<'js> {
    default: Class<'js, Cache>,
}

#[rquickjs::methods]
impl<'js> CacheStorage<'js> {
    /// `CacheStorage` has no public constructor.
    #[qjs(constructor)]
    fn constructor(ctx: Ctx<'js>) -> Result<Self> {
        Err(WebApiError::type_error("Illegal constructor")).or_throw(&ctx)
    }

    /// The worker's default cache (Workers' `caches.default`).
    #[qjs(get)]
    fn default(&self) -> Class<'js, Cache> {
        self.default.clone()
    }

    /// Resolves to the cache named `name`, which needs no creating.
    fn open(&self, ctx: Ctx<'js>, name: Value<'js>) -> Result<Promise<'js>> {
        let r = (|| {
            let name: rquickjs::Coerced<String> = rquickjs::FromJs::from_js(&ctx, name)?;
            if name.0.len() >= MAX_CACHE_NAME_BYTES {
                return Err(WebApiError::type_error("Cache name is too long.")).or_throw(&ctx);
            }
            let cache = Class::instance(ctx.clone(), Cache { name: Some(name.0) })?;
            resolved(&ctx, cache)
        })();
        settle(&ctx, r)
    }

    #[qjs(prop, rename = PredefinedAtom::SymbolToStringTag, configurable)]
    fn to_string_tag() -> &'static str {
        "CacheStorage"
    }
}

/// Installs `Cache`, `CacheStorage` and the `caches` global. No storage is
/// touched here: the store is looked up on each call.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    crate::webidl::define_interface::<Cache>(ctx)?;
    crate::webidl::define_interface::<CacheStorage>(ctx)?;
    let default = Class::instance(ctx.clone(), Cache { name: None })?;
    let caches = Class::instance(ctx.clone(), CacheStorage { default })?;
    ctx.globals().prop(
        "caches",
        Property::from(caches)
            .writable()
            .enumerable()
            .configurable(),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_js_with_host;

    fn host(store: &Arc<MemoryCacheStore>, namespace: &str) -> HostInfo {
        HostInfo {
            deployment: namespace.into(),
            cache: Some(store.clone() as Arc<dyn CacheStore>),
            cache_namespace: namespace.into(),
            ..HostInfo::default()
        }
    }

    fn run(store: &Arc<MemoryCacheStore>, js: &str) -> String {
        run_js_with_host(js, host(store, "w"))
    }

    fn store() -> Arc<MemoryCacheStore> {
        Arc::new(MemoryCacheStore::new(1 << 20))
    }

    #[test]
    fn put_then_match_across_isolates_and_caches() {
        let s = store();
        let out = run(
            &s,
            "const c = caches.default;
             const r = await c.put('https://a.example/x#frag', new Response('hello', {headers: {'x-a': 'b', 'cache-control': 'max-age=60'}}));
             const m = await c.match(new Request('https://a.example/x'));
             const other = await (await caches.open('other')).match('https://a.example/x');
             const named = await (await caches.open('default')).match('https://a.example/x');
             return [r, m.status, m.headers.get('x-a'), m.headers.get('cf-cache-status'), await m.text(),
                     other, named, caches.default === c, String(caches), String(c)].join('|');",
        );
        assert_eq!(
            out,
            "|200|b|HIT|hello|||true|[object CacheStorage]|[object Cache]"
        );
        // A fresh isolate on the same store sees the entry; another worker does not.
        let again = run(
            &s,
            "const m = await caches.default.match('https://a.example/x'); return await m.text();",
        );
        assert_eq!(again, "hello");
        let foreign = run_js_with_host(
            "return String(await caches.default.match('https://a.example/x'));",
            host(&s, "other-worker"),
        );
        assert_eq!(foreign, "undefined");
    }

    #[test]
    fn only_get_requests_are_cached() {
        let s = store();
        let out = run(
            &s,
            "const c = caches.default;
             const put = await c.put(new Request('https://a.example/p', {method: 'POST', body: 'x'}), new Response('r')).catch(e => e.name + ': ' + e.message);
             await c.put('https://a.example/g', new Response('got', {headers: {'cache-control': 'max-age=60'}}));
             const head = new Request('https://a.example/g', {method: 'HEAD'});
             const m1 = await c.match(head);
             const m2 = await c.match(head, {ignoreMethod: true});
             const d1 = await c.delete(head);
             const d2 = await c.delete(head, {ignoreMethod: true});
             const d3 = await c.delete('https://a.example/g');
             return [put, m1, await m2.text(), d1, d2, d3].join('|');",
        );
        assert_eq!(
            out,
            "TypeError: Cannot cache response to non-GET request.||got|false|true|false"
        );
    }

    #[test]
    fn rejects_bad_input_with_type_errors() {
        let s = store();
        let out = run(
            &s,
            "const c = caches.default;
             const e = (p) => p.then(() => 'ok', (e) => e.name + ': ' + e.message);
             return [
               await e(c.put('https://a.example/', new Response('x', {status: 206}))),
               await e(c.put('https://a.example/', new Response('x', {headers: {vary: 'accept, *'}}))),
               await e(c.put('https://a.example/', 'not a response')),
               await e(c.put('/relative', new Response('x'))),
               await e(c.match('nope')),
               await e(c.put('ftp://a.example/', new Response('x'))),
               await e((async () => { const r = new Response('x'); await r.text(); return c.put('https://a.example/', r); })()),
               await e(caches.open('n'.repeat(1024))),
               await e(c.put('https://a.example/', Response.error())),
             ].join('\\n');",
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 9, "{out}");
        assert_eq!(
            lines[0],
            "TypeError: Cannot cache response to a range request (206 Partial Content)."
        );
        assert_eq!(
            lines[1],
            "TypeError: Cannot cache response with 'Vary: *' header."
        );
        assert!(
            lines[2].starts_with("TypeError: Failed to execute 'put'"),
            "{out}"
        );
        assert!(
            lines[3].starts_with("TypeError: Invalid URL: /relative"),
            "{out}"
        );
        assert!(
            lines[4].starts_with("TypeError: Invalid URL: nope"),
            "{out}"
        );
        assert!(
            lines[5].starts_with("TypeError: Cannot cache a response to a request for ftp:"),
            "{out}"
        );
        assert!(
            lines[6].starts_with("TypeError: Body has already been used"),
            "{out}"
        );
        assert_eq!(lines[7], "TypeError: Cache name is too long.");
        assert!(
            lines[8].starts_with("TypeError: Cannot cache a network error"),
            "{out}"
        );
        assert!(run(&s, "new Cache()").starts_with("THROWN TypeError: Illegal constructor"));
    }

    #[test]
    fn private_no_store_and_set_cookie_are_not_stored() {
        let s = store();
        let out = run(
            &s,
            "const c = caches.default;
             const put = (path, headers) => c.put('https://a.example/' + path, new Response('x', {headers}));
             await put('ns', {'cache-control': 'no-store, max-age=60'});
             await put('priv', {'cache-control': 'private, max-age=60'});
             await put('cookie', {'cache-control': 'max-age=60', 'set-cookie': 'a=1'});
             await put('cookie-ok', {'cache-control': 'max-age=60, private=\"Set-Cookie\"', 'set-cookie': 'a=1', 'x-kept': '1'});
             const got = [];
             for (const p of ['ns', 'priv', 'cookie', 'cookie-ok']) {
               const m = await c.match('https://a.example/' + p);
               got.push(m ? 'stored(' + m.headers.get('set-cookie') + ',' + m.headers.get('x-kept') + ')' : 'no');
             }
             return got.join(' ');",
        );
        assert_eq!(out, "no no no stored(null,1)");
    }

    #[test]
    fn stale_entries_are_not_returned() {
        let s = store();
        let far = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(3600));
        let out = run(
            &s,
            &format!(
                "const c = caches.default;
                 const put = (path, headers) => c.put('https://a.example/' + path, new Response(path, {{headers}}));
                 await put('smax', {{'cache-control': 's-maxage=1, max-age=600'}});
                 await put('max', {{'cache-control': 'max-age=1', expires: '{far}'}});
                 await put('long', {{'cache-control': 'max-age=600'}});
                 await put('expires', {{expires: '{far}'}});
                 await put('past', {{expires: '{past}'}});
                 await put('zero', {{'cache-control': 'max-age=0'}});
                 await put('aged', {{'cache-control': 'max-age=60', age: '60'}});
                 const seen = async () => {{
                   const out = [];
                   for (const p of ['smax', 'max', 'long', 'expires', 'past', 'zero', 'aged']) {{
                     out.push((await c.match('https://a.example/' + p)) ? p : '-');
                   }}
                   return out.join(',');
                 }};
                 const before = await seen();
                 await new Promise((r) => setTimeout(r, 1100));
                 return before + ' / ' + await seen();"
            ),
        );
        assert_eq!(out, "smax,max,long,expires,-,-,- / -,-,long,expires,-,-,-");
    }

    #[test]
    fn vary_headers_select_the_stored_variant() {
        let s = store();
        let out = run(
            &s,
            "const c = caches.default;
             const req = (lang) => new Request('https://a.example/v', {headers: lang ? {'accept-language': lang} : {}});
             await c.put(req('de'), new Response('hallo', {headers: {vary: 'Accept-Language', 'cache-control': 'max-age=60'}}));
             const de = await c.match(req('de'));
             const en = await c.match(req('en'));
             const none = await c.match(req(null));
             return [await de.text(), en, none].join('|');",
        );
        assert_eq!(out, "hallo||");
    }

    #[test]
    fn conditional_requests_get_304() {
        let s = store();
        let lm = "Wed, 21 Oct 2026 07:28:00 GMT";
        let out = run(
            &s,
            &format!(
                "const c = caches.default;
                 await c.put('https://a.example/e', new Response('etag body', {{headers: {{etag: '\"v1\"', 'last-modified': '{lm}', 'cache-control': 'max-age=60'}}}}));
                 const get = async (headers) => {{
                   const m = await c.match(new Request('https://a.example/e', {{headers}}));
                   return m.status + ':' + (await m.text()).length;
                 }};
                 return [
                   await get({{'if-none-match': '\"v1\"'}}),
                   await get({{'if-none-match': 'W/\"v1\", \"v2\"'}}),
                   await get({{'if-none-match': '\"v2\"'}}),
                   await get({{'if-modified-since': '{lm}'}}),
                   await get({{'if-modified-since': 'Thu, 22 Oct 2026 07:28:00 GMT'}}),
                   await get({{'if-modified-since': 'Tue, 20 Oct 2026 07:28:00 GMT'}}),
                   await get({{'if-none-match': '\"v2\"', 'if-modified-since': '{lm}'}}),
                 ].join(',');"
            ),
        );
        assert_eq!(out, "304:0,304:0,200:9,304:0,304:0,200:9,200:9");
    }

    #[test]
    fn range_requests_get_206_or_416() {
        let s = store();
        let out = run(
            &s,
            "const c = caches.default;
             await c.put('https://a.example/r', new Response('0123456789', {headers: {'cache-control': 'max-age=60', etag: '\"t\"'}}));
             const get = async (headers) => {
               const m = await c.match(new Request('https://a.example/r', {headers}));
               return [m.status, m.headers.get('content-range'), await m.text()].join(' ');
             };
             return [
               await get({range: 'bytes=2-4'}),
               await get({range: 'bytes=7-'}),
               await get({range: 'bytes=-3'}),
               await get({range: 'bytes=5-100'}),
               await get({range: 'bytes=10-'}),
               await get({range: 'bytes=0-1,4-5'}),
               await get({range: 'lines=1-2'}),
               await get({range: 'bytes=2-4', 'if-range': '\"t\"'}),
               await get({range: 'bytes=2-4', 'if-range': '\"other\"'}),
             ].join('|');",
        );
        assert_eq!(
            out,
            "206 bytes 2-4/10 234|206 bytes 7-9/10 789|206 bytes 7-9/10 789|206 bytes 5-9/10 56789|416 bytes */10 |200  0123456789|200  0123456789|206 bytes 2-4/10 234|200  0123456789"
        );
    }

    #[test]
    fn bodies_over_the_entry_cap_are_refused() {
        // A 8 KiB store takes entries up to a quarter of it: 2 KiB.
        let s = Arc::new(MemoryCacheStore::new(8 * 1024));
        let out = run(
            &s,
            "const c = caches.default;
             const e = (p) => p.then(() => 'ok', (e) => e.name + ': ' + e.message);
             const big = 'x'.repeat(3000);
             const stream = new ReadableStream({
               pull(ctl) { ctl.enqueue(new Uint8Array(1000)); },
             });
             return [
               await e(c.put('https://a.example/a', new Response(big, {headers: {'cache-control': 'max-age=60'}}))),
               await e(c.put('https://a.example/b', new Response(stream, {headers: {'cache-control': 'max-age=60'}}))),
               await e(c.put('https://a.example/c', new Response('small', {headers: {'cache-control': 'max-age=60'}}))),
             ].join('\\n');",
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(
            lines[0],
            "TypeError: Cannot cache a response body larger than 2 KiB (the per-entry limit of this node's cache)."
        );
        assert_eq!(lines[1], lines[0]);
        assert_eq!(lines[2], "ok");
    }

    #[test]
    fn stream_bodies_over_the_cap_cancel_the_stream() {
        let s = Arc::new(MemoryCacheStore::new(8 * 1024));
        let out = run(
            &s,
            "const c = caches.default;
             const e = (p) => p.then(() => 'ok', (e) => e.name + ': ' + e.message);
             const h = {headers: {'cache-control': 'max-age=60'}};
             let cancelled = 'not cancelled';
             const big = new ReadableStream({
               pull(ctl) { ctl.enqueue(new Uint8Array(1000)); },
               cancel(r) { cancelled = 'cancelled with ' + r; },
             });
             const failing = new ReadableStream({ start(ctl) { ctl.error(new RangeError('boom')); } });
             const mixed = new ReadableStream({
               start(ctl) { ctl.enqueue('ab'); ctl.enqueue(new Uint8Array([99])); ctl.close(); },
             });
             let badCancelled = 'not cancelled';
             const bad = new ReadableStream({
               start(ctl) { ctl.enqueue(7); },
               cancel(r) { badCancelled = 'cancelled with ' + r; },
             });
             return [
               await e(c.put('https://a.example/big', new Response(big, h))),
               cancelled,
               await e(c.put('https://a.example/failing', new Response(failing, h))),
               await e(c.put('https://a.example/mixed', new Response(mixed, h))),
               await (await c.match('https://a.example/mixed')).text(),
               await e(c.put('https://a.example/bad', new Response(bad, h))),
               badCancelled + ', locked: ' + bad.locked + ', big locked: ' + big.locked,
             ].join('\\n');",
        );
        assert_eq!(
            out,
            "TypeError: Cannot cache a response body larger than 2 KiB (the per-entry limit of this node's cache).
cancelled with undefined
RangeError: boom
ok
abc
TypeError: ReadableStream chunks in a body must be Uint8Array
cancelled with undefined, locked: true, big locked: true"
        );
    }

    #[test]
    fn streamed_and_default_ttl_bodies_are_stored() {
        let s = store();
        let out = run(
            &s,
            "const c = caches.default;
             const stream = new ReadableStream({
               start(ctl) { ctl.enqueue(new TextEncoder().encode('str')); ctl.enqueue(new TextEncoder().encode('eam')); ctl.close(); },
             });
             const resp = new Response(stream);
             await c.put('https://a.example/s', resp);
             await c.put('https://a.example/teapot', new Response('t', {status: 418}));
             const m = await c.match('https://a.example/s');
             return [resp.bodyUsed, await m.text(), await c.match('https://a.example/teapot')].join('|');",
        );
        assert_eq!(out, "true|stream|");
    }

    #[test]
    fn cache_control_parsing() {
        assert_eq!(
            split_directives(r#"Max-Age=5, private="set-cookie, x-a", no-cache"#),
            vec![
                ("max-age".to_owned(), Some("5".to_owned())),
                ("private".to_owned(), Some("set-cookie, x-a".to_owned())),
                ("no-cache".to_owned(), None),
            ]
        );
        let mut h = HeaderMap::new();
        h.append(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=abc"),
        );
        assert_eq!(CacheControl::parse(&h).max_age, Some(0));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("s-maxage=7, max-age=3"),
        );
        let cc = CacheControl::parse(&h);
        assert_eq!((cc.s_maxage, cc.max_age), (Some(7), Some(3)));
    }

    #[test]
    fn freshness_from_expires_and_date() {
        let now = SystemTime::now();
        let mut h = HeaderMap::new();
        let date = now - Duration::from_secs(1000);
        h.insert(header::DATE, httpdate::fmt_http_date(date).parse().unwrap());
        h.insert(
            header::EXPIRES,
            httpdate::fmt_http_date(date + Duration::from_secs(100))
                .parse()
                .unwrap(),
        );
        // Lifetime is Expires − Date (100 s), not Expires − now (in the past).
        let (until, _) = storable(200, &h, now).unwrap();
        assert_eq!(until.duration_since(now).unwrap().as_secs(), 100);
        h.insert(header::EXPIRES, HeaderValue::from_static("0"));
        assert!(storable(200, &h, now).is_none());
        assert!(storable(500, &HeaderMap::new(), now).is_none());
        let (until, _) = storable(404, &HeaderMap::new(), now).unwrap();
        assert_eq!(until.duration_since(now).unwrap().as_secs(), 180);
    }

    #[test]
    fn range_evaluation() {
        assert_eq!(evaluate_range("bytes=0-0", 5), RangeAnswer::Partial(0, 0));
        assert_eq!(evaluate_range("bytes=-10", 5), RangeAnswer::Partial(0, 4));
        assert_eq!(evaluate_range("bytes=-0", 5), RangeAnswer::Unsatisfiable);
        assert_eq!(evaluate_range("bytes=0-", 0), RangeAnswer::Unsatisfiable);
        assert_eq!(evaluate_range("bytes=3-1", 5), RangeAnswer::Full);
        assert_eq!(evaluate_range("bytes=a-1", 5), RangeAnswer::Full);
    }

    #[test]
    fn memory_store_evicts_least_recently_used() {
        let key = |u: &str| CacheKey {
            namespace: "n".into(),
            cache: None,
            url: u.into(),
        };
        let entry = || CachedResponse {
            status: 200,
            headers: vec![],
            vary_request: vec![],
            body: Bytes::from(vec![0u8; 100]),
            expires_at_ms: u64::MAX,
        };
        let size = entry().size(&key("a"));
        let s = MemoryCacheStore::new(size * 3);
        for u in ["a", "b", "c"] {
            s.put(&key(u), entry()).unwrap();
        }
        assert!(s.get(&key("a"), 0).unwrap().is_some()); // a is now the newest
        s.put(&key("d"), entry()).unwrap(); // evicts b
        let present: Vec<bool> = ["a", "b", "c", "d"]
            .iter()
            .map(|u| s.get(&key(u), 0).unwrap().is_some())
            .collect();
        assert_eq!(present, [true, false, true, true]);
        // Stale entries are neither returned nor counted as deleted.
        let mut stale = entry();
        stale.expires_at_ms = 10;
        s.put(&key("s"), stale).unwrap();
        assert!(s.get(&key("s"), 10).unwrap().is_none());
        assert!(!s.delete(&key("s"), 10).unwrap());
        // "s" pushed out "a", the least recently used; "d" is still there.
        assert!(s.get(&key("a"), 0).unwrap().is_none());
        assert!(s.delete(&key("d"), 10).unwrap());
    }
}
