//! Test support: temporary directories, and running async JavaScript in a
//! fresh context with the Web APIs and some bindings installed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use outpost_runtime::EnvBinding;
use rquickjs::{AsyncContext, AsyncRuntime, Object, Promise, Value};

/// A directory removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "outpost-bindings-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Evaluates `body` as the body of an async function, with each binding
/// both a global and a member of a global `env`, and returns
/// `String(result)`, or `THROWN <inspected error>`.
pub(crate) fn run_js(body: &str, bindings: &[(&str, Arc<dyn EnvBinding>)]) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let qjs = AsyncRuntime::new().unwrap();
        let ctx = AsyncContext::full(&qjs).await.unwrap();
        let out = ctx
            .async_with(async |ctx| {
                outpost_webapi::install(&ctx).unwrap();
                let env = Object::new(ctx.clone()).unwrap();
                for (name, binding) in bindings {
                    let obj = binding.create(&ctx).unwrap();
                    env.set(*name, obj.clone()).unwrap();
                    ctx.globals().set(*name, obj).unwrap();
                }
                ctx.globals().set("env", env).unwrap();
                let src = format!("(async () => {{ {body} \n}})()");
                let run = async {
                    let promise: Promise = ctx.eval(src)?;
                    let v: Value = promise.into_future().await?;
                    let s: rquickjs::String = ctx
                        .globals()
                        .get::<_, rquickjs::Function>("String")?
                        .call((v,))?;
                    s.to_string()
                };
                match run.await {
                    Ok(s) => s,
                    Err(rquickjs::Error::Exception) => {
                        let v = ctx.catch();
                        let text =
                            outpost_webapi::console::inspect(&ctx, &v, 0).unwrap_or_default();
                        format!("THROWN {text}")
                    }
                    Err(e) => format!("THROWN (host) {e}"),
                }
            })
            .await;
        qjs.idle().await;
        out
    })
}
