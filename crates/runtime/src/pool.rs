//! Fresh runtimes, prepared ahead of need.
//!
//! Creating a runtime and context and installing the Web API globals is the
//! part of a cold start that does not depend on the deployment, so each
//! executor thread keeps a few ready and refills the pool off the request
//! path. A cold start then only loads bytecode and runs the top level.

use std::cell::RefCell;
use std::rc::Rc;

use rquickjs::{AsyncContext, AsyncRuntime, Function, Persistent};

use crate::error::StartError;
use crate::limits::{Limits, Meter};

const PRELUDE: &str = include_str!("prelude.js");

/// A runtime + context with all globals installed and no user code run.
pub struct Fresh {
    // Drop order: the persistent handle before the runtime that owns it.
    pub(crate) bind: Persistent<Function<'static>>,
    pub(crate) ctx: AsyncContext,
    pub(crate) rt: AsyncRuntime,
    pub(crate) meter: Rc<Meter>,
}

impl Fresh {
    /// Builds a fresh runtime with Web APIs, format glue and the interrupt
    /// handler installed.
    pub async fn new() -> Result<Fresh, StartError> {
        let engine = |e: rquickjs::Error| StartError::Engine(e.to_string());
        let rt = AsyncRuntime::new().map_err(engine)?;
        let meter = Rc::new(Meter::default());
        let m = meter.clone();
        rt.set_interrupt_handler(Some(Box::new(move || m.should_interrupt())))
            .await;
        let m = meter.clone();
        rt.set_host_promise_rejection_tracker(Some(Box::new(
            move |ctx, promise, reason, handled| {
                // The promise's address identifies it between the two calls.
                let id = unsafe { promise.as_raw().u.ptr } as u64;
                m.track_rejection(id, handled, || {
                    outpost_webapi::console::inspect(&ctx, &reason, 0).unwrap_or_default()
                });
            },
        )))
        .await;
        rt.set_max_stack_size(Limits::default().stack_bytes).await;
        let ctx = AsyncContext::full(&rt).await.map_err(engine)?;
        let bind = ctx
            .with(|ctx| -> rquickjs::Result<Persistent<Function<'static>>> {
                outpost_webapi::install(&ctx)?;
                let mut opts = rquickjs::context::EvalOptions::default();
                opts.filename = Some("outpost:handler".into());
                let bind: Function = ctx.eval_with_options(PRELUDE, opts)?;
                Ok(Persistent::save(&ctx, bind))
            })
            .await
            .map_err(engine)?;
        Ok(Fresh {
            bind,
            ctx,
            rt,
            meter,
        })
    }
}

/// A per-thread stock of [`Fresh`] runtimes.
pub struct WarmPool {
    ready: RefCell<Vec<Fresh>>,
    target: usize,
}

impl WarmPool {
    /// A pool that keeps `target` runtimes ready.
    pub fn new(target: usize) -> Self {
        Self {
            ready: RefCell::new(Vec::with_capacity(target)),
            target,
        }
    }

    /// Takes a ready runtime, or makes one on the spot when the pool is dry.
    pub async fn take(&self) -> Result<Fresh, StartError> {
        let ready = self.ready.borrow_mut().pop();
        match ready {
            Some(f) => Ok(f),
            None => Fresh::new().await,
        }
    }

    /// Tops the pool up to its target.
    pub async fn refill(&self) {
        while self.ready.borrow().len() < self.target {
            match Fresh::new().await {
                Ok(f) => self.ready.borrow_mut().push(f),
                Err(e) => {
                    tracing::error!("cannot prepare a runtime: {e}");
                    return;
                }
            }
        }
    }

    /// Runtimes ready now.
    pub fn len(&self) -> usize {
        self.ready.borrow().len()
    }

    /// Whether no runtime is ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
