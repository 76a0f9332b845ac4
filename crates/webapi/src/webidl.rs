//! WebIDL conversions shared by the bindings in this crate: `USVString`,
//! `sequence<T>` from iterables, `[EnforceRange]` integers, `BufferSource` /
//! `ArrayBufferView` introspection, `DOMException` values, and defining an
//! interface object on the global the way WebIDL does.
//!
//! Spec: <https://webidl.spec.whatwg.org/#js-type-mapping>

use std::ptr::NonNull;

use rquickjs::{
    atom::PredefinedAtom, class::JsClass, function::This, object::Property, qjs, Class, Coerced,
    Ctx, Exception, FromJs, Function, Object, Result, Value,
};

use crate::error::{OrThrow, WebApiError};

/// `value` as an instance of the Rust class `C`, if it is one.
///
/// Use this rather than `Class::<C>::from_value`: rquickjs decides with
/// `JS_GetOpaque2`, which on any object not of a Rust class builds a
/// `TypeError` (a formatted message and an Error object with a stack) and
/// then discards it. On hot paths such as `new Response(body, { headers:
/// {...} })` that cost several microseconds a request. A plain object,
/// array, function or typed array has a built-in class id, below every id
/// rquickjs registers, so those are ruled out by their id first.
pub fn class_of<'js, C: JsClass<'js>>(value: &Value<'js>) -> Option<Class<'js, C>> {
    let object = value.as_object()?;
    // SAFETY: reads the class id of a live object.
    let id = unsafe { qjs::JS_GetClassID(value.as_raw()) };
    if id < rust_class_floor(value.ctx()) {
        return None;
    }
    object.into_class().ok()
}

/// The smallest class id a Rust class can have. rquickjs registers its
/// class ids as soon as a runtime is created, before anything else can,
/// so in every runtime they come right after QuickJS's built-in classes:
/// the id of one Rust class instance, taken once, bounds them all.
fn rust_class_floor(ctx: &Ctx<'_>) -> u32 {
    static FLOOR: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *FLOOR.get_or_init(|| {
        Class::instance(ctx.clone(), crate::headers::Headers::default())
            // SAFETY: reads the class id of a live object.
            .map(|probe| unsafe { qjs::JS_GetClassID(probe.as_raw()) })
            // Without a probe, rule nothing out.
            .unwrap_or(0)
    })
}

/// Converts any value to a Rust string the way WebIDL converts to
/// `USVString`: `ToString` (so a Symbol throws a `TypeError`), then every
/// unpaired surrogate becomes U+FFFD.
///
/// Spec: <https://webidl.spec.whatwg.org/#es-USVString>
pub fn to_usv_string<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<String> {
    let s = js_to_string(ctx, value)?;
    string_lossy(ctx, &s)
}

/// `ToString(value)` as a JS string.
pub fn js_to_string<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<rquickjs::String<'js>> {
    if let Some(s) = value.as_string() {
        return Ok(s.clone());
    }
    Ok(Coerced::<rquickjs::String>::from_js(ctx, value)?.0)
}

/// Converts a JS string to Rust, replacing unpaired surrogates with U+FFFD.
pub fn string_lossy<'js>(ctx: &Ctx<'js>, s: &rquickjs::String<'js>) -> Result<String> {
    match s.to_string() {
        Ok(s) => Ok(s),
        // QuickJS hands out unpaired surrogates as (invalid) 3-byte UTF-8, which
        // rquickjs refuses; go through UTF-16 instead.
        Err(rquickjs::Error::Utf8(_)) => Ok(String::from_utf16_lossy(&utf16_units(ctx, s)?)),
        Err(e) => Err(e),
    }
}

/// The UTF-16 code units of a JS string.
pub fn utf16_units<'js>(ctx: &Ctx<'js>, s: &rquickjs::String<'js>) -> Result<Vec<u16>> {
    let mut len: qjs::size_t = 0;
    // SAFETY: `s` is a live string of this context; the returned buffer is
    // copied out and freed before any other engine call.
    unsafe {
        let ptr = qjs::JS_ToCStringLenUTF16(ctx.as_raw().as_ptr(), &mut len, s.as_raw());
        if ptr.is_null() {
            return Err(rquickjs::Error::Exception);
        }
        let units = std::slice::from_raw_parts(ptr, len as usize).to_vec();
        qjs::JS_FreeCStringUTF16(ctx.as_raw().as_ptr(), ptr);
        Ok(units)
    }
}

/// WebIDL `boolean`: `ToBoolean(value)`.
pub fn to_bool<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<bool> {
    Ok(Coerced::<bool>::from_js(ctx, value)?.0)
}

/// Reads `dict[key]` for a WebIDL dictionary member; `undefined` and `null`
/// dictionaries have no members.
pub fn dict_member<'js>(dict: &Value<'js>, key: &str) -> Result<Option<Value<'js>>> {
    match dict.as_object() {
        Some(o) => {
            let v: Value = o.get(key)?;
            Ok((!v.is_undefined()).then_some(v))
        }
        None => Ok(None),
    }
}

/// Checks that a dictionary argument is `undefined`, `null` or an object.
pub fn check_dict<'js>(ctx: &Ctx<'js>, value: &Value<'js>, what: &str) -> Result<()> {
    if value.is_undefined() || value.is_null() || value.is_object() {
        Ok(())
    } else {
        Err(WebApiError::type_error(format!("{what} is not an object."))).or_throw(ctx)
    }
}

/// WebIDL `[EnforceRange] unsigned long long`: `ToNumber`, then a
/// `TypeError` for NaN, infinities and values outside `0..=2^53-1`.
///
/// Spec: <https://webidl.spec.whatwg.org/#abstract-opdef-converttoint>
pub fn enforce_range_u64<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Result<u64> {
    let n = Coerced::<f64>::from_js(ctx, value)?.0;
    if !n.is_finite() {
        return Err(WebApiError::type_error("Value is not a finite number.")).or_throw(ctx);
    }
    let n = n.trunc();
    if !(0.0..=9_007_199_254_740_991.0).contains(&n) {
        return Err(WebApiError::type_error(
            "Value is outside the 'unsigned long long' value range.",
        ))
        .or_throw(ctx);
    }
    Ok(n as u64)
}

/// `GetMethod(value, @@iterator)`: `Some` when `value` is an object with a
/// callable `Symbol.iterator`, `None` when it has none, a `TypeError` when
/// the property is not callable.
pub fn iterator_method<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<Option<Function<'js>>> {
    let Some(obj) = value.as_object() else {
        return Ok(None);
    };
    let method: Value = obj.get(PredefinedAtom::SymbolIterator)?;
    if method.is_undefined() || method.is_null() {
        return Ok(None);
    }
    match method.into_function() {
        Some(f) => Ok(Some(f)),
        None => Err(WebApiError::type_error(
            "Symbol.iterator is not a function.",
        ))
        .or_throw(ctx),
    }
}

/// Collects the values an iterable yields, given its `@@iterator` method.
///
/// Spec: <https://webidl.spec.whatwg.org/#create-sequence-from-iterable>
pub fn collect_iterable<'js>(
    ctx: &Ctx<'js>,
    iterable: &Value<'js>,
    method: &Function<'js>,
) -> Result<Vec<Value<'js>>> {
    let iterator: Value = method.call((This(iterable.clone()),))?;
    let Some(iterator) = iterator.into_object() else {
        return Err(WebApiError::type_error(
            "Result of the Symbol.iterator method is not an object.",
        ))
        .or_throw(ctx);
    };
    let next: Value = iterator.get(PredefinedAtom::Next)?;
    let Some(next) = next.into_function() else {
        return Err(WebApiError::type_error(
            "Iterator has no callable next method.",
        ))
        .or_throw(ctx);
    };
    let mut out = Vec::new();
    loop {
        let result: Value = next.call((This(iterator.clone()),))?;
        let Some(result) = result.into_object() else {
            return Err(WebApiError::type_error("Iterator result is not an object.")).or_throw(ctx);
        };
        let done: Value = result.get(PredefinedAtom::Done)?;
        if to_bool(ctx, done)? {
            return Ok(out);
        }
        out.push(result.get(PredefinedAtom::Value)?);
    }
}

/// Converts a value to `sequence<any>`: a `TypeError` unless it is iterable.
pub fn to_sequence<'js>(ctx: &Ctx<'js>, value: &Value<'js>, what: &str) -> Result<Vec<Value<'js>>> {
    match iterator_method(ctx, value)? {
        Some(method) => collect_iterable(ctx, value, &method),
        None => Err(WebApiError::type_error(format!("{what} is not iterable."))).or_throw(ctx),
    }
}

/// Throws the `TypeError` WebIDL requires when an interface constructor is
/// called without `new`. `new_target` is the constructor's `this`, which
/// rquickjs sets to `new.target` for construct calls.
pub fn require_new<'js>(ctx: &Ctx<'js>, new_target: &Value<'js>, name: &str) -> Result<()> {
    if new_target.is_constructor() {
        Ok(())
    } else {
        Err(WebApiError::type_error(format!(
            "Failed to construct '{name}': Please use the 'new' operator, this object constructor cannot be called as a function."
        )))
        .or_throw(ctx)
    }
}

/// Creates a `DOMException` object (not thrown) with the engine's intrinsic
/// constructor, so a user overwriting `globalThis.DOMException` cannot change it.
pub fn dom_exception<'js>(ctx: &Ctx<'js>, name: &str, message: &str) -> Value<'js> {
    let _ = Exception::throw_dom(ctx, name, message);
    ctx.catch()
}

/// Defines `C`'s constructor on the global object as WebIDL defines interface
/// objects (writable, configurable, not enumerable) and returns it.
pub fn define_interface<'js, C: JsClass<'js>>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    let ctor = Class::<C>::create_constructor(ctx)?
        .ok_or_else(|| rquickjs::Error::new_from_js("class", "constructor"))?;
    let ctor: Object = ctor
        .into_value()
        .into_object()
        .ok_or(rquickjs::Error::Unknown)?;
    ctx.globals().prop(
        C::NAME,
        Property::from(ctor.clone()).writable().configurable(),
    )?;
    Ok(ctor)
}

/// Defines a global function (WebIDL operation: writable, enumerable, configurable).
pub fn define_global_fn<'js>(ctx: &Ctx<'js>, name: &str, f: Function<'js>) -> Result<()> {
    let f = f.with_name(name)?;
    ctx.globals().set(name, f)
}

/// Which kind of `ArrayBufferView` a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    /// `Uint8ClampedArray`
    Uint8Clamped,
    /// `Int8Array`
    Int8,
    /// `Uint8Array`
    Uint8,
    /// `Int16Array`
    Int16,
    /// `Uint16Array`
    Uint16,
    /// `Int32Array`
    Int32,
    /// `Uint32Array`
    Uint32,
    /// `BigInt64Array`
    BigInt64,
    /// `BigUint64Array`
    BigUint64,
    /// `Float16Array`
    Float16,
    /// `Float32Array`
    Float32,
    /// `Float64Array`
    Float64,
    /// `DataView`
    DataView,
}

impl ViewKind {
    fn from_qjs(t: i32) -> Option<Self> {
        let t = t as qjs::JSTypedArrayEnum;
        Some(match t {
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_UINT8C => Self::Uint8Clamped,
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_INT8 => Self::Int8,
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_UINT8 => Self::Uint8,
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_INT16 => Self::Int16,
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_UINT16 => Self::Uint16,
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_INT32 => Self::Int32,
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_UINT32 => Self::Uint32,
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_BIG_INT64 => Self::BigInt64,
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_BIG_UINT64 => Self::BigUint64,
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_FLOAT16 => Self::Float16,
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_FLOAT32 => Self::Float32,
            x if x == qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_FLOAT64 => Self::Float64,
            _ => return None,
        })
    }

    /// The engine's typed array type, `None` for `DataView`.
    pub fn to_qjs(self) -> Option<qjs::JSTypedArrayEnum> {
        Some(match self {
            Self::Uint8Clamped => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_UINT8C,
            Self::Int8 => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_INT8,
            Self::Uint8 => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_UINT8,
            Self::Int16 => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_INT16,
            Self::Uint16 => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_UINT16,
            Self::Int32 => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_INT32,
            Self::Uint32 => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_UINT32,
            Self::BigInt64 => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_BIG_INT64,
            Self::BigUint64 => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_BIG_UINT64,
            Self::Float16 => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_FLOAT16,
            Self::Float32 => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_FLOAT32,
            Self::Float64 => qjs::JSTypedArrayEnum_JS_TYPED_ARRAY_FLOAT64,
            Self::DataView => return None,
        })
    }

    /// Whether this is an integer typed array (what `getRandomValues` accepts).
    pub fn is_integer(self) -> bool {
        !matches!(
            self,
            Self::Float16 | Self::Float32 | Self::Float64 | Self::DataView
        )
    }

    /// Size of one element in bytes (1 for `DataView`).
    pub fn element_size(self) -> usize {
        match self {
            Self::Uint8Clamped | Self::Int8 | Self::Uint8 | Self::DataView => 1,
            Self::Int16 | Self::Uint16 | Self::Float16 => 2,
            Self::Int32 | Self::Uint32 | Self::Float32 => 4,
            Self::BigInt64 | Self::BigUint64 | Self::Float64 => 8,
        }
    }
}

/// The engine's class name of an object (`"Object"`, `"Date"`,
/// `"SharedArrayBuffer"`, ...), which unlike `Symbol.toStringTag` cannot be
/// spoofed from JavaScript.
pub fn class_name<'js>(ctx: &Ctx<'js>, obj: &Object<'js>) -> Option<String> {
    // SAFETY: queries on a live value; the atom and C string are freed here.
    unsafe {
        let id = qjs::JS_GetClassID(obj.as_raw());
        let rt = qjs::JS_GetRuntime(ctx.as_raw().as_ptr());
        let atom = qjs::JS_GetClassName(rt, id);
        if atom == qjs::JS_ATOM_NULL {
            return None;
        }
        let mut len: qjs::size_t = 0;
        let ptr = qjs::JS_AtomToCStringLen(ctx.as_raw().as_ptr(), &mut len, atom);
        qjs::JS_FreeAtomRT(rt, atom);
        if ptr.is_null() {
            let _ = ctx.catch();
            return None;
        }
        let bytes = std::slice::from_raw_parts(ptr.cast::<u8>(), len as usize);
        let name = String::from_utf8_lossy(bytes).into_owned();
        qjs::JS_FreeCString(ctx.as_raw().as_ptr(), ptr);
        Some(name)
    }
}

/// Whether `obj` is an `ArrayBuffer` or `SharedArrayBuffer` (detached or not).
pub fn is_array_buffer<'js>(ctx: &Ctx<'js>, obj: &Object<'js>) -> bool {
    // SAFETY: type query on a live value.
    let plain = unsafe { qjs::JS_IsArrayBuffer(obj.as_raw()) };
    plain || class_name(ctx, obj).as_deref() == Some("SharedArrayBuffer")
}

/// The memory of an `ArrayBuffer`/`SharedArrayBuffer`, `None` when detached
/// or not a buffer. The pointer is only valid until JavaScript runs again.
pub fn array_buffer_memory<'js>(obj: &Object<'js>) -> Option<NonNull<[u8]>> {
    let ctx = obj.ctx();
    let mut len: qjs::size_t = 0;
    // SAFETY: `JS_GetArrayBuffer` checks the class; on failure it leaves a
    // TypeError pending, which we clear because "no memory" is an answer here.
    let ptr = unsafe { qjs::JS_GetArrayBuffer(ctx.as_raw().as_ptr(), &mut len, obj.as_raw()) };
    match NonNull::new(ptr) {
        Some(p) => Some(NonNull::slice_from_raw_parts(p, len as usize)),
        None => {
            let _ = ctx.catch();
            None
        }
    }
}

/// A window onto an `ArrayBuffer`: a typed array, a `DataView`, or a whole
/// buffer (kind `None`).
#[derive(Debug, Clone)]
pub struct BufferView<'js> {
    /// The viewed `ArrayBuffer` or `SharedArrayBuffer`.
    pub buffer: Object<'js>,
    /// Start of the view in bytes.
    pub byte_offset: usize,
    /// Length of the view in bytes (0 when the buffer is detached).
    pub byte_length: usize,
    /// The view type; `None` when the value was the buffer itself.
    pub kind: Option<ViewKind>,
}

impl<'js> BufferView<'js> {
    /// Copies the viewed bytes out (empty if the buffer was detached or shrunk).
    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(<[u8]>::to_vec)
    }

    fn raw(&self) -> Option<NonNull<u8>> {
        let raw = array_buffer_memory(&self.buffer)?;
        (self.byte_offset.checked_add(self.byte_length)? <= raw.len())
            // SAFETY: offset is within the allocation, checked above.
            .then(|| unsafe { raw.cast::<u8>().add(self.byte_offset) })
    }

    /// Runs `f` over the viewed bytes. `f` must not call into JavaScript.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self.raw() {
            // SAFETY: bounds checked in `raw`; no JS runs while `f` holds the slice
            // (it has no engine handle), so the buffer cannot be detached or resized.
            Some(p) => f(unsafe { std::slice::from_raw_parts(p.as_ptr(), self.byte_length) }),
            None => f(&[]),
        }
    }

    /// Whether the viewed buffer is an immutable `ArrayBuffer`.
    pub fn is_immutable(&self) -> bool {
        // SAFETY: plain query on a live value (-1 for non-ArrayBuffer classes).
        unsafe { qjs::JS_IsImmutableArrayBuffer(self.buffer.as_raw()) == 1 }
    }

    /// Runs `f` over the viewed bytes mutably (empty if the buffer was
    /// detached or shrunk); `None` when the buffer is immutable. `f` must not
    /// call into JavaScript.
    pub fn with_bytes_mut<R>(&self, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        if self.is_immutable() {
            return None;
        }
        Some(match self.raw() {
            // SAFETY: as in `with_bytes`; the engine owns the memory and nothing
            // else references it while `f` runs.
            Some(p) => f(unsafe { std::slice::from_raw_parts_mut(p.as_ptr(), self.byte_length) }),
            None => f(&mut []),
        })
    }
}

/// Describes `value` if it is a typed array or a `DataView`.
///
/// Spec: <https://webidl.spec.whatwg.org/#ArrayBufferView>
pub fn array_buffer_view<'js>(
    ctx: &Ctx<'js>,
    value: &Value<'js>,
) -> Result<Option<BufferView<'js>>> {
    let Some(obj) = value.as_object() else {
        return Ok(None);
    };
    let raw = value.as_raw();
    // SAFETY: type queries on a live value; they do not throw.
    let ta_type = unsafe { qjs::JS_GetTypedArrayType(raw) };
    if let Some(kind) = ViewKind::from_qjs(ta_type) {
        let mut off: qjs::size_t = 0;
        let mut len: qjs::size_t = 0;
        // SAFETY: `value` is a typed array (checked above); the returned buffer
        // reference is owned by the `Value` we wrap it in.
        let buf = unsafe {
            qjs::JS_GetTypedArrayBuffer(
                ctx.as_raw().as_ptr(),
                raw,
                &mut off,
                &mut len,
                std::ptr::null_mut(),
            )
        };
        // SAFETY: tag check on the value just returned.
        if unsafe { qjs::JS_IsException(buf) } {
            // Detached or out of bounds: a view of nothing.
            let _ = ctx.catch();
            let buffer: Object = obj.get("buffer")?;
            return Ok(Some(BufferView {
                buffer,
                byte_offset: 0,
                byte_length: 0,
                kind: Some(kind),
            }));
        }
        // SAFETY: `buf` is a new reference we now own.
        let buffer = unsafe { Value::from_raw(ctx.clone(), buf) };
        let buffer = buffer
            .into_object()
            .ok_or_else(|| rquickjs::Error::new_from_js("value", "ArrayBuffer"))?;
        return Ok(Some(BufferView {
            buffer,
            byte_offset: off as usize,
            byte_length: len as usize,
            kind: Some(kind),
        }));
    }
    // SAFETY: as above.
    if unsafe { qjs::JS_IsDataView(raw) } {
        let buffer: Object = obj.get("buffer")?;
        if array_buffer_memory(&buffer).is_none() {
            return Ok(Some(BufferView {
                buffer,
                byte_offset: 0,
                byte_length: 0,
                kind: Some(ViewKind::DataView),
            }));
        }
        let byte_offset: usize = obj.get("byteOffset")?;
        let byte_length: usize = obj.get("byteLength")?;
        return Ok(Some(BufferView {
            buffer,
            byte_offset,
            byte_length,
            kind: Some(ViewKind::DataView),
        }));
    }
    Ok(None)
}

/// Describes `value` if it is a `BufferSource` (an `ArrayBuffer`, shared or
/// not, or an `ArrayBufferView`).
///
/// Spec: <https://webidl.spec.whatwg.org/#BufferSource>
pub fn buffer_source<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<Option<BufferView<'js>>> {
    if let Some(obj) = value.as_object() {
        if is_array_buffer(ctx, obj) {
            let byte_length = array_buffer_memory(obj).map(|r| r.len()).unwrap_or(0);
            return Ok(Some(BufferView {
                buffer: obj.clone(),
                byte_offset: 0,
                byte_length,
                kind: None,
            }));
        }
    }
    array_buffer_view(ctx, value)
}

/// Wires a WebIDL pair-iterable interface `C` and its iterator class `It`:
/// `C.prototype[Symbol.iterator]` is the same function as `entries`, and the
/// iterator's prototype inherits from %IteratorPrototype%.
///
/// Spec: <https://webidl.spec.whatwg.org/#es-iterable>
pub fn install_pair_iterable<'js, C: JsClass<'js>, It: JsClass<'js>>(ctx: &Ctx<'js>) -> Result<()> {
    let proto = rquickjs::Class::<C>::prototype(ctx)?.ok_or(rquickjs::Error::Unknown)?;
    let entries: Value = proto.get("entries")?;
    proto.set(rquickjs::atom::PredefinedAtom::SymbolIterator, entries)?;
    let iter_proto = rquickjs::Class::<It>::prototype(ctx)?.ok_or(rquickjs::Error::Unknown)?;
    iter_proto.set_prototype(Some(&iterator_prototype(ctx)?))?;
    Ok(())
}

/// %IteratorPrototype%, found through an array iterator.
fn iterator_prototype<'js>(ctx: &Ctx<'js>) -> Result<Object<'js>> {
    let array = rquickjs::Array::new(ctx.clone())?;
    let method: Function = array
        .as_object()
        .get(rquickjs::atom::PredefinedAtom::SymbolIterator)?;
    let it: Object = method.call((rquickjs::function::This(array),))?;
    it.get_prototype()
        .and_then(|p| p.get_prototype())
        .ok_or(rquickjs::Error::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::run_js;
    use rquickjs::{Context, Runtime};

    fn with_ctx(f: impl FnOnce(Ctx<'_>)) {
        let rt = Runtime::new().unwrap();
        let ctx = Context::full(&rt).unwrap();
        ctx.with(f);
    }

    #[test]
    fn class_of_tells_rust_class_instances_apart_without_throwing() {
        use crate::headers::Headers;
        // Two runtimes alive at once: the class-id floor holds in both.
        let first = Runtime::new().unwrap();
        let first_ctx = Context::full(&first).unwrap();
        for _ in 0..2 {
            with_ctx(|ctx| {
                crate::install(&ctx).unwrap();
                let headers: Value = ctx.eval("new Headers({ a: '1' })").unwrap();
                assert!(class_of::<Headers>(&headers).is_some());
                assert!(class_of::<crate::blob::Blob>(&headers).is_none());
                for source in [
                    "({ a: 1 })",
                    "[1]",
                    "(() => 1)",
                    "new Uint8Array(2)",
                    "'text'",
                    "new Map()",
                ] {
                    let v: Value = ctx.eval(source).unwrap();
                    assert!(class_of::<Headers>(&v).is_none(), "{source}");
                    assert!(!ctx.has_exception(), "{source} left an exception pending");
                }
            });
            first_ctx.with(|ctx| {
                crate::install(&ctx).unwrap();
                let headers: Value = ctx.eval("new Headers()").unwrap();
                assert!(class_of::<Headers>(&headers).is_some());
            });
        }
    }

    #[test]
    fn usv_string_conversion() {
        with_ctx(|ctx| {
            let v: Value = ctx.eval("'a\\ud800b\\udc00\\ud83d\\ude00'").unwrap();
            assert_eq!(
                to_usv_string(&ctx, v).unwrap(),
                "a\u{FFFD}b\u{FFFD}\u{1F600}"
            );
            let v: Value = ctx.eval("({ toString() { return 'obj'; } })").unwrap();
            assert_eq!(to_usv_string(&ctx, v).unwrap(), "obj");
            let v: Value = ctx.eval("Symbol('s')").unwrap();
            assert!(to_usv_string(&ctx, v).is_err());
            let _ = ctx.catch();
        });
    }

    #[test]
    fn enforce_range() {
        with_ctx(|ctx| {
            let n = |src: &str| {
                let v: Value = ctx.eval(src).unwrap();
                let r = enforce_range_u64(&ctx, v).ok();
                let _ = ctx.catch();
                r
            };
            assert_eq!(n("12.9"), Some(12));
            assert_eq!(n("'7'"), Some(7));
            assert_eq!(n("-0"), Some(0));
            assert_eq!(n("-1"), None);
            assert_eq!(n("NaN"), None);
            assert_eq!(n("Infinity"), None);
            assert_eq!(n("2 ** 53"), None);
        });
    }

    #[test]
    fn buffer_views() {
        with_ctx(|ctx| {
            let v: Value = ctx
                .eval("new Uint16Array(new Uint8Array([1, 2, 3, 4, 5, 6]).buffer, 2, 2)")
                .unwrap();
            let view = array_buffer_view(&ctx, &v).unwrap().unwrap();
            assert_eq!(view.kind, Some(ViewKind::Uint16));
            assert_eq!((view.byte_offset, view.byte_length), (2, 4));
            assert_eq!(view.to_vec(), vec![3, 4, 5, 6]);

            let v: Value = ctx.eval("new DataView(new ArrayBuffer(8), 1, 3)").unwrap();
            let view = array_buffer_view(&ctx, &v).unwrap().unwrap();
            assert_eq!(view.kind, Some(ViewKind::DataView));
            assert_eq!((view.byte_offset, view.byte_length), (1, 3));

            let v: Value = ctx.eval("new ArrayBuffer(5)").unwrap();
            assert!(array_buffer_view(&ctx, &v).unwrap().is_none());
            let src = buffer_source(&ctx, &v).unwrap().unwrap();
            assert_eq!((src.kind, src.byte_length), (None, 5));

            let v: Value = ctx
                .eval("const b = new ArrayBuffer(4); const u = new Uint8Array(b); b.transfer(); u")
                .unwrap();
            let view = array_buffer_view(&ctx, &v).unwrap().unwrap();
            assert_eq!(view.byte_length, 0);
            assert!(!ctx.has_exception());

            for src in ["({ buffer: new ArrayBuffer(1) })", "[1, 2]", "'str'"] {
                let v: Value = ctx.eval(src).unwrap();
                assert!(buffer_source(&ctx, &v).unwrap().is_none(), "{src}");
                assert!(!ctx.has_exception(), "{src}");
            }
        });
    }

    #[test]
    fn class_names() {
        with_ctx(|ctx| {
            for (src, name) in [
                ("({})", "Object"),
                ("[]", "Array"),
                ("new Date(0)", "Date"),
                ("new Map()", "Map"),
                ("new TypeError('x')", "Error"),
            ] {
                let v: Object = ctx.eval(src).unwrap();
                assert_eq!(class_name(&ctx, &v).as_deref(), Some(name), "{src}");
            }
        });
    }

    #[test]
    fn interfaces_are_not_enumerable_globals() {
        assert_eq!(
            run_js(
                "const d = Object.getOwnPropertyDescriptor(globalThis, 'URL');
                 return [d.enumerable, d.writable, d.configurable, Object.keys(globalThis).includes('EventTarget')].join();"
            ),
            "false,true,true,false"
        );
    }
}
