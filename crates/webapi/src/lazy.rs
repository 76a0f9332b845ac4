//! Lazily loaded global groups built on the streams: the installer shared by
//! `CompressionStream`/`DecompressionStream` and `HTMLRewriter`, so an
//! isolate that never reads one of those globals compiles, loads and
//! allocates nothing for them.
//!
//! It follows `streams_lazy.js` (see [`crate::streams`]): each global starts
//! as an accessor and the first read loads the group's script (bytecode
//! compiled once per process) and defines the globals as data properties.

use rquickjs::{Ctx, Function, Object, Result, Value};

/// Defines `names` on the global object as accessors; the first read of
/// any calls `load_factory()` and then calls the function it returns with
/// the installer's captured intrinsics followed by `args`, and that call's
/// result object supplies every global of the group.
///
/// `load_factory` must capture no JS values (the collector cannot see into
/// Rust closures); whatever the group needs from install time goes in `args`.
pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    names: &[&str],
    load_factory: Function<'js>,
    args: Vec<Value<'js>>,
) -> Result<()> {
    let lazy = crate::glue::LAZY_GLOBALS.load(ctx)?;
    let names_arr = rquickjs::Array::new(ctx.clone())?;
    for (i, name) in names.iter().enumerate() {
        names_arr.set(i, *name)?;
    }
    let args_arr = rquickjs::Array::new(ctx.clone())?;
    for (i, a) in args.into_iter().enumerate() {
        args_arr.set(i, a)?;
    }
    lazy.call((names_arr, load_factory, args_arr))
}

/// The property descriptor of the global `name` as it is now (before user
/// code runs, the streams' accessor): the group's script resolves it with
/// `d.get ? d.get() : d.value`, which yields the streams' own interface even
/// if user code has replaced the global by then.
pub(crate) fn global_descriptor<'js>(ctx: &Ctx<'js>, name: &str) -> Result<Value<'js>> {
    let object: Object = ctx.globals().get("Object")?;
    let gopd: Function = object.get("getOwnPropertyDescriptor")?;
    gopd.call((ctx.globals(), name))
}
