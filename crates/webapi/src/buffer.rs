//! Reading bytes out of JavaScript `BufferSource` values (ArrayBuffer,
//! typed arrays, DataView) without caring which view type the caller used.
//!
//! Spec: <https://webidl.spec.whatwg.org/#BufferSource>

use rquickjs::{ArrayBuffer, Ctx, Object, Result, Value};

/// Returns a copy of the bytes a `BufferSource` value views, or `None` when
/// `value` is not an ArrayBuffer, typed array or DataView.
pub fn buffer_source_bytes(value: &Value<'_>) -> Result<Option<Vec<u8>>> {
    let Some(obj) = value.as_object() else {
        return Ok(None);
    };
    if let Some(ab) = ArrayBuffer::from_object(obj.clone()) {
        // SAFETY: the bytes are copied out before any JS can run and detach the buffer.
        return Ok(Some(unsafe { ab.as_bytes() }.map(<[u8]>::to_vec).unwrap_or_default()));
    }
    view_bytes(obj)
}

/// Copies the bytes a typed array or DataView looks at.
fn view_bytes(obj: &Object<'_>) -> Result<Option<Vec<u8>>> {
    let buffer: Value = obj.get("buffer")?;
    let Some(ab) = buffer.as_object().and_then(|b| ArrayBuffer::from_object(b.clone())) else {
        return Ok(None);
    };
    if !is_view(obj.ctx(), obj)? {
        return Ok(None);
    }
    let offset: usize = obj.get("byteOffset")?;
    let len: usize = obj.get("byteLength")?;
    // SAFETY: as above, copied before any JS runs.
    let bytes = unsafe { ab.as_bytes() }.unwrap_or_default();
    Ok(Some(bytes.get(offset..offset + len).unwrap_or_default().to_vec()))
}

/// `ArrayBuffer.isView(obj)`, so plain objects with a `buffer` key do not pass.
fn is_view<'js>(ctx: &Ctx<'js>, obj: &Object<'js>) -> Result<bool> {
    let ab_ctor: Object = ctx.globals().get("ArrayBuffer")?;
    let is_view: rquickjs::Function = ab_ctor.get("isView")?;
    is_view.call((obj.clone(),))
}

/// Makes a `Uint8Array` holding `bytes`.
pub fn new_uint8_array<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> Result<Value<'js>> {
    rquickjs::TypedArray::<u8>::new_copy(ctx.clone(), bytes).map(|a| a.into_value())
}
