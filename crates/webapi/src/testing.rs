//! Test support: run a snippet of async JavaScript in a fresh isolate with all
//! Web APIs installed and get its result back as a string.

use rquickjs::{AsyncContext, AsyncRuntime, Promise, Value};

/// Evaluates `body` as the body of an async function and returns
/// `String(result)`, or `"Error: <message>"`-style text of a thrown error
/// prefixed by `THROWN `.
pub fn run_js(body: &str) -> String {
    run_js_inner(body, None)
}

/// [`run_js`] with `host` stored as the isolate's [`crate::host::HostInfo`]
/// (for policy switches such as `allow_private_fetch`).
pub fn run_js_with_host(body: &str, host: crate::host::HostInfo) -> String {
    run_js_inner(body, Some(host))
}

/// Runs `fut` to completion on a current-thread tokio runtime, inside a
/// `LocalSet`: isolates are `!Send`, and their futures spawn local tasks.
pub fn block_on_local<F: std::future::Future>(fut: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, fut)
}

fn run_js_inner(body: &str, host: Option<crate::host::HostInfo>) -> String {
    block_on_local(async {
        let qjs = AsyncRuntime::new().unwrap();
        let ctx = AsyncContext::full(&qjs).await.unwrap();
        let out = ctx
            .async_with(async |ctx| {
                if let Some(host) = host {
                    let _ = ctx.store_userdata(host);
                }
                crate::install(&ctx).unwrap();
                let fmt = rquickjs::Function::new(ctx.clone(), fmt_args).unwrap();
                ctx.globals().set("__fmt", fmt).unwrap();
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
                        let text = crate::console::inspect(&ctx, &v, 0).unwrap_or_default();
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

fn fmt_args<'js>(ctx: rquickjs::Ctx<'js>, args: Vec<Value<'js>>) -> rquickjs::Result<String> {
    crate::console::format_args(&ctx, &args)
}

#[test]
fn runs_plain_js() {
    assert_eq!(run_js("return 1 + 1"), "2");
    let e = run_js("throw new TypeError('nope')");
    assert!(e.starts_with("THROWN TypeError: nope"), "{e}");
}
