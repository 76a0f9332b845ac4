//! Fresh runtimes, prepared ahead of need.
//!
//! Creating a runtime and context and installing the Web API globals is the
//! part of a cold start that does not depend on the deployment, so each
//! executor thread keeps a few ready and refills the pool off the request
//! path. A cold start then only loads bytecode and runs the top level.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::OnceLock;

use rquickjs::{AsyncContext, AsyncRuntime, Function, Persistent};

use crate::error::StartError;
use crate::limits::{Limits, Meter};

const PRELUDE: &str = include_str!("prelude.js");

/// The handler-format glue, compiled once per process: parsing it for every
/// fresh runtime would cost more than the rest of a cold start.
fn prelude_bytecode() -> Result<&'static [u8], StartError> {
    static BYTECODE: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    BYTECODE
        .get_or_init(|| {
            let rt = rquickjs::Runtime::new().map_err(|e| e.to_string())?;
            let ctx = rquickjs::Context::full(&rt).map_err(|e| e.to_string())?;
            ctx.with(|ctx| {
                let module = rquickjs::Module::declare(ctx.clone(), "outpost:handler", PRELUDE)
                    .map_err(|e| format!("prelude: {e}"))?;
                module
                    .write(rquickjs::WriteOptions::default())
                    .map_err(|e| format!("prelude: {e}"))
            })
        })
        .as_deref()
        .map_err(|e| StartError::Engine(e.clone()))
}

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
        Fresh::prepare(false).await
    }

    /// [`Fresh::new`], with the streams implementation loaded as well: for a
    /// worker known to use streams, whose first request would otherwise load
    /// it (about a millisecond) on the request path.
    pub async fn with_streams() -> Result<Fresh, StartError> {
        Fresh::prepare(true).await
    }

    async fn prepare(streams: bool) -> Result<Fresh, StartError> {
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
        let prelude = prelude_bytecode()?;
        let bind = ctx
            .with(|ctx| -> rquickjs::Result<Persistent<Function<'static>>> {
                outpost_webapi::install(&ctx)?;
                if streams {
                    outpost_webapi::streams::load(&ctx)?;
                }
                // SAFETY: written by this process's QuickJS in `prelude_bytecode`.
                let module = unsafe { rquickjs::Module::load(ctx.clone(), prelude) }?;
                let (module, _done) = module.eval()?;
                let bind: Function = module.get("default")?;
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

/// A per-thread stock of [`Fresh`] runtimes: plain ones, and once told
/// that a worker uses streams ([`want_streams`](Self::want_streams)), ones
/// with streams loaded as well.
pub struct WarmPool {
    ready: RefCell<Vec<Fresh>>,
    with_streams: RefCell<Vec<Fresh>>,
    streams_wanted: Cell<bool>,
    target: usize,
}

impl WarmPool {
    /// A pool that keeps `target` runtimes of each kind in use ready.
    pub fn new(target: usize) -> Self {
        Self {
            ready: RefCell::new(Vec::with_capacity(target)),
            with_streams: RefCell::new(Vec::new()),
            streams_wanted: Cell::new(false),
            target,
        }
    }

    /// Takes a ready runtime, with streams loaded if `streams` and one is
    /// ready, else a plain one (which loads streams on first use), made on
    /// the spot when the pool is dry.
    pub async fn take(&self, streams: bool) -> Result<Fresh, StartError> {
        if streams {
            if let Some(f) = self.with_streams.borrow_mut().pop() {
                return Ok(f);
            }
        }
        let ready = self.ready.borrow_mut().pop();
        match ready {
            Some(f) => Ok(f),
            None => Fresh::new().await,
        }
    }

    /// From now on, keeps runtimes with streams loaded as well (from the
    /// next [`refill`](Self::refill) on): a worker of the node uses them.
    pub fn want_streams(&self) {
        self.streams_wanted.set(true);
    }

    /// Makes the pool's first runtime, if it has none: what a thread does
    /// when it starts. The rest is left to the [`refill`](Self::refill)
    /// after the thread's first cold start, because building a runtime
    /// holds the thread for most of a millisecond and a request arriving
    /// meanwhile (the first one after the process starts, say) waits for it.
    pub async fn prime(&self) {
        if self.is_empty() {
            self.top_up(false, self.target.min(1)).await;
        }
    }

    /// Tops each stock in use up to the target, yielding after each
    /// runtime: making one takes most of a millisecond of this thread, and a
    /// request that arrives meanwhile should not wait for the whole pool.
    pub async fn refill(&self) {
        if self.top_up(false, self.target).await && self.streams_wanted.get() {
            self.top_up(true, self.target).await;
        }
    }

    /// Fills the plain stock, or the one with streams, up to `target`;
    /// false if a runtime could not be made (logged).
    async fn top_up(&self, streams: bool, target: usize) -> bool {
        let stock = if streams {
            &self.with_streams
        } else {
            &self.ready
        };
        while stock.borrow().len() < target {
            match Fresh::prepare(streams).await {
                Ok(f) => {
                    stock.borrow_mut().push(f);
                    tokio::task::yield_now().await;
                }
                Err(e) => {
                    tracing::error!("cannot prepare a runtime: {e}");
                    return false;
                }
            }
        }
        true
    }

    /// Runtimes ready now, of both kinds.
    pub fn len(&self) -> usize {
        self.ready.borrow().len() + self.with_streams.borrow().len()
    }

    /// Whether no runtime is ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
