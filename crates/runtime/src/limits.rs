//! Per-isolate limits and CPU metering.
//!
//! CPU time is charged as the time the executor thread spends inside the
//! isolate on a request's behalf: each poll of the request's future (which
//! runs its JS and any promise jobs) is timed, and an interrupt handler stops
//! JS that overruns the remaining budget mid-burst. On a thread that runs
//! nothing else while it polls, that is the request's CPU time; it is read
//! from the monotonic clock because the thread CPU clock is a system call.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Limits applied to every isolate of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Heap limit of the isolate, in bytes.
    pub memory_bytes: usize,
    /// CPU time one request may use.
    pub cpu: Duration,
    /// Wall-clock time one request may take.
    pub wall: Duration,
    /// Maximum JS stack size, in bytes.
    pub stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 128 * 1024 * 1024,
            cpu: Duration::from_millis(50),
            wall: Duration::from_secs(30),
            stack_bytes: 512 * 1024,
        }
    }
}

/// Shared between an isolate's interrupt handler and the futures that enter it.
#[derive(Debug, Default)]
pub(crate) struct Meter {
    burst_start: Cell<Option<Instant>>,
    burst_budget: Cell<Duration>,
    tripped: Cell<bool>,
    /// Rejections with no handler yet, by promise identity. A handler may
    /// still be attached later in the same burst (an async handler that throws
    /// synchronously is awaited right after it returns), so they are only
    /// reported when a burst ends with them still unhandled.
    unhandled: RefCell<Vec<(u64, String)>>,
    deployment: RefCell<String>,
}

impl Meter {
    /// Names the deployment in reports of unhandled rejections.
    pub(crate) fn set_deployment(&self, name: &str) {
        *self.deployment.borrow_mut() = name.to_string();
    }

    /// The host rejection tracker's input.
    pub(crate) fn track_rejection(
        &self,
        id: u64,
        handled: bool,
        describe: impl FnOnce() -> String,
    ) {
        let mut list = self.unhandled.borrow_mut();
        if handled {
            list.retain(|(p, _)| *p != id);
        } else {
            list.push((id, describe()));
        }
    }

    /// Logs the rejections still unhandled at the end of a burst.
    fn report_unhandled(&self) {
        let list = std::mem::take(&mut *self.unhandled.borrow_mut());
        for (_, reason) in list {
            tracing::warn!(
                "[{}] Unhandled promise rejection: {reason}",
                self.deployment.borrow()
            );
        }
    }

    /// Called by QuickJS every few thousand operations: true stops the script.
    pub(crate) fn should_interrupt(&self) -> bool {
        if self.tripped.get() {
            return true;
        }
        match self.burst_start.get() {
            Some(start) if start.elapsed() > self.burst_budget.get() => {
                self.tripped.set(true);
                true
            }
            _ => false,
        }
    }

    /// Whether a CPU overrun has stopped a script in this isolate.
    pub(crate) fn tripped(&self) -> bool {
        self.tripped.get()
    }
}

/// A future whose polls are charged against a CPU budget.
pub(crate) struct Metered<F> {
    fut: F,
    meter: Rc<Meter>,
    limit: Duration,
    used: Duration,
    /// Whether the limit applies to each poll (a burst of background work)
    /// rather than to the future's whole life (a request).
    per_burst: bool,
}

impl<F> Metered<F> {
    /// `fut` may use `limit` of CPU over its whole life.
    pub(crate) fn new(fut: F, meter: Rc<Meter>, limit: Duration) -> Self {
        Self {
            fut,
            meter,
            limit,
            used: Duration::ZERO,
            per_burst: false,
        }
    }

    /// Each poll of `fut` may use `limit` of CPU: for the isolate's
    /// background driver, which lives as long as the isolate.
    pub(crate) fn per_burst(fut: F, meter: Rc<Meter>, limit: Duration) -> Self {
        Self {
            per_burst: true,
            ..Self::new(fut, meter, limit)
        }
    }
}

/// What a metered future yields: its output, or the CPU it overran by.
pub(crate) enum MeteredOutput<T> {
    Done(T),
    OverCpu,
}

impl<F: Future> Future for Metered<F> {
    type Output = MeteredOutput<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `fut` is structurally pinned; the other fields are plain data.
        let this = unsafe { self.get_unchecked_mut() };
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        if this.per_burst {
            this.used = Duration::ZERO;
        }
        let start = Instant::now();
        let outer = this.meter.burst_start.replace(Some(start));
        let outer_budget = this
            .meter
            .burst_budget
            .replace(this.limit.saturating_sub(this.used));
        let res = fut.poll(cx);
        this.used += start.elapsed();
        this.meter.burst_start.set(outer);
        this.meter.burst_budget.set(outer_budget);
        if outer.is_none() {
            this.meter.report_unhandled();
        }
        match res {
            Poll::Ready(v) if !this.meter.tripped() => Poll::Ready(MeteredOutput::Done(v)),
            Poll::Ready(_) => Poll::Ready(MeteredOutput::OverCpu),
            Poll::Pending if this.used > this.limit || this.meter.tripped() => {
                Poll::Ready(MeteredOutput::OverCpu)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
