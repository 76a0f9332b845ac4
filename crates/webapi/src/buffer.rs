//! Bytes out of and into JavaScript buffers, for the body and stream code.
//!
//! Spec: <https://webidl.spec.whatwg.org/#BufferSource>

use rquickjs::{Ctx, Result, Value};

/// Returns a copy of the bytes a `BufferSource` value views, or `None` when
/// `value` is not an ArrayBuffer, typed array or DataView.
pub fn buffer_source_bytes<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<Option<Vec<u8>>> {
    Ok(crate::webidl::buffer_source(ctx, value)?.map(|view| view.to_vec()))
}

/// Makes a `Uint8Array` holding `bytes`.
pub fn new_uint8_array<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> Result<Value<'js>> {
    rquickjs::TypedArray::<u8>::new_copy(ctx.clone(), bytes).map(|a| a.into_value())
}
