//! Compiling a glue script to bytecode, shared by `build.rs` (at build time)
//! and [`crate::glue`] (the fallback at run time), so both write the same
//! bytes.

use rquickjs::qjs;

/// Compiles `source` as a strict global script named `name` and serialises
/// it without its source. `None` leaves the engine's exception pending.
///
/// # Safety
///
/// `raw` must be a live context, used by no one else for the call.
pub unsafe fn compile(
    raw: *mut qjs::JSContext,
    source: &str,
    name: &std::ffi::CStr,
) -> Option<Vec<u8>> {
    let src = std::ffi::CString::new(source).ok()?;
    let flags =
        qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_STRICT | qjs::JS_EVAL_FLAG_COMPILE_ONLY;
    // SAFETY: `src` is NUL-terminated at `source.len()`; the compiled
    // function is freed after serialising, and the buffer QuickJS returns
    // is copied out and freed with the context's allocator.
    unsafe {
        let func = qjs::JS_Eval(
            raw,
            src.as_ptr(),
            source.len() as _,
            name.as_ptr(),
            flags as i32,
        );
        if qjs::JS_IsException(func) {
            return None;
        }
        let mut len: qjs::size_t = 0;
        let write_flags = qjs::JS_WRITE_OBJ_BYTECODE | qjs::JS_WRITE_OBJ_STRIP_SOURCE;
        let buf = qjs::JS_WriteObject(raw, &mut len, func, write_flags as i32);
        qjs::JS_FreeValue(raw, func);
        if buf.is_null() {
            return None;
        }
        let out = std::slice::from_raw_parts(buf, len as usize).to_vec();
        qjs::js_free(raw, buf.cast());
        Some(out)
    }
}
