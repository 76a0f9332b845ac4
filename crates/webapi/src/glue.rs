//! The JavaScript glue of the Web API groups (streams, the lazy-global
//! installer, compression, HTMLRewriter, Intl, the event subclasses):
//! scripts compiled to QuickJS bytecode by `build.rs`, loaded into an
//! isolate when its group is installed or first used.
//!
//! Bytecode only loads in the engine build that wrote it, so the first use
//! in a process compiles a probe script and compares it with the probe
//! `build.rs` compiled; if they differ, every script is compiled from its
//! source instead (once per process), as it was before build-time
//! compilation. Either way the bytecode carries no source text, so
//! `Function.prototype.toString` of the internals shows no code.

use std::ffi::CStr;
use std::sync::OnceLock;

use rquickjs::{qjs, Ctx, Function, Result, Value};

#[path = "glue_compile.rs"]
mod raw;

include!(concat!(env!("OUT_DIR"), "/glue.rs"));

/// One glue script: its name in stack traces, its source and the bytecode
/// `build.rs` made of it.
pub(crate) struct Glue {
    name: &'static CStr,
    source: &'static str,
    prebuilt: &'static [u8],
    /// Compiled from `source` when `prebuilt` cannot be used.
    compiled: OnceLock<Vec<u8>>,
}

impl Glue {
    const fn new(name: &'static CStr, source: &'static str, prebuilt: &'static [u8]) -> Glue {
        Glue {
            name,
            source,
            prebuilt,
            compiled: OnceLock::new(),
        }
    }

    /// Runs the script in `ctx` and returns its value, a function (every
    /// glue script is a function expression).
    pub(crate) fn load<'js>(&'static self, ctx: &Ctx<'js>) -> Result<Function<'js>> {
        let bytecode = if prebuilt_loads(ctx) {
            self.prebuilt
        } else {
            bytecode(ctx, &self.compiled, self.source, self.name)?
        };
        load(ctx, bytecode)
    }
}

/// Whether this engine reads what `build.rs` wrote (decided once).
fn prebuilt_loads(ctx: &Ctx<'_>) -> bool {
    static SAME_ENGINE: OnceLock<bool> = OnceLock::new();
    *SAME_ENGINE.get_or_init(|| {
        // SAFETY: a live context, used only by this thread for the call.
        let probe = unsafe { raw::compile(ctx.as_raw().as_ptr(), PROBE, c"outpost:probe") };
        if probe.is_none() {
            let _ = ctx.catch();
        }
        let same = probe.as_deref() == Some(PROBE_BYTECODE);
        if !same {
            tracing::warn!("the build-time bytecode of the Web API glue is for another engine build; compiling it from source");
        }
        same
    })
}

/// The bytecode of `source`, compiled on first use in the process and kept
/// in `cache`.
fn bytecode<'a>(
    ctx: &Ctx<'_>,
    cache: &'a OnceLock<Vec<u8>>,
    source: &str,
    name: &CStr,
) -> Result<&'a [u8]> {
    if let Some(b) = cache.get() {
        return Ok(b);
    }
    // SAFETY: a live context, used only by this thread for the call.
    let b = unsafe { raw::compile(ctx.as_raw().as_ptr(), source, name) }
        .ok_or(rquickjs::Error::Exception)?;
    Ok(cache.get_or_init(|| b))
}

/// Loads bytecode from [`bytecode`] or `build.rs` and runs it, giving the
/// script's value (a function expression).
fn load<'js>(ctx: &Ctx<'js>, bytecode: &[u8]) -> Result<Function<'js>> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the bytes were written by this engine build: compiled in this
    // process, or at build time by an engine whose probe bytecode equals
    // this one's. `JS_EvalFunction` takes ownership of the function object;
    // its result is a new reference that the returned `Value` owns.
    let value = unsafe {
        let func = qjs::JS_ReadObject(
            raw,
            bytecode.as_ptr(),
            bytecode.len() as _,
            qjs::JS_READ_OBJ_BYTECODE as i32,
        );
        if qjs::JS_IsException(func) {
            return Err(rquickjs::Error::Exception);
        }
        let result = qjs::JS_EvalFunction(raw, func);
        if qjs::JS_IsException(result) {
            return Err(rquickjs::Error::Exception);
        }
        Value::from_raw(ctx.clone(), result)
    };
    value
        .into_function()
        .ok_or_else(|| rquickjs::Error::new_from_js("value", "function"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_engine_loads_the_build_time_bytecode() {
        let rt = rquickjs::Runtime::new().unwrap();
        let ctx = rquickjs::Context::full(&rt).unwrap();
        ctx.with(|ctx| {
            assert!(
                prebuilt_loads(&ctx),
                "the probe compiled differently at run time"
            );
            // Each script, compiled now, gives the bytes build.rs wrote.
            for glue in [
                &STREAMS,
                &STREAMS_LAZY,
                &LAZY_GLOBALS,
                &COMPRESSION,
                &HTML_REWRITER,
            ] {
                let cache = OnceLock::new();
                let now = bytecode(&ctx, &cache, glue.source, glue.name).unwrap();
                assert_eq!(now, glue.prebuilt, "{:?}", glue.name);
                glue.load(&ctx).unwrap();
            }
        });
    }
}
