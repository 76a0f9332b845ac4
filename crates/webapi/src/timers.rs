//! Timers: `setTimeout`, `setInterval`, `clearTimeout`, `clearInterval`.
//!
//! Each timer is a future spawned into the isolate's own scheduler, so it
//! dies with the isolate (nothing outlives the runtime it refers to) and is
//! driven by whatever drives the isolate.
//!
//! Spec: <https://html.spec.whatwg.org/multipage/timers-and-user-prompts.html#timers>

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use rquickjs::{function::Opt, function::Rest, Ctx, Function, JsLifetime, Result, Value};
use tokio::sync::Notify;

/// The isolate's live timers, by id.
#[derive(Default, JsLifetime)]
pub struct TimerTable {
    next_id: Cell<u32>,
    live: RefCell<HashMap<u32, Rc<Notify>>>,
}

impl TimerTable {
    /// Number of timers not yet fired or cleared.
    pub fn live_count(&self) -> usize {
        self.live.borrow().len()
    }
}

/// Clamp as browsers do: negative or NaN delays are 0; huge delays are capped
/// at 2^31-1 ms, as the spec's signed 32-bit timeout is.
fn delay_of<'js>(ctx: &Ctx<'js>, v: Option<Value<'js>>) -> Duration {
    let ms = v
        .and_then(|v| rquickjs::Coerced::<f64>::from_js(ctx, v).ok())
        .map(|c| c.0)
        .unwrap_or(0.0);
    let ms = if ms.is_finite() && ms > 0.0 {
        ms.min(2_147_483_647.0)
    } else {
        0.0
    };
    Duration::from_micros((ms * 1000.0) as u64)
}

use rquickjs::FromJs;

fn schedule<'js>(
    ctx: Ctx<'js>,
    callback: Value<'js>,
    delay: Opt<Value<'js>>,
    args: Rest<Value<'js>>,
    repeat: bool,
) -> Result<u32> {
    let Some(callback) = callback.into_function() else {
        return Err(rquickjs::Exception::throw_type(
            &ctx,
            "Timer callback must be a function",
        ));
    };
    let delay = delay_of(&ctx, delay.0);
    let table = ctx
        .userdata::<TimerTable>()
        .ok_or_else(|| rquickjs::Exception::throw_internal(&ctx, "timers not installed"))?;
    let id = table.next_id.get().wrapping_add(1).max(1);
    table.next_id.set(id);
    let cancel = Rc::new(Notify::new());
    table.live.borrow_mut().insert(id, cancel.clone());
    drop(table);
    let ctx2 = ctx.clone();
    ctx.spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = cancel.notified() => break,
            }
            // A timer is a task: the microtasks queued before it fired run first.
            while ctx2.execute_pending_job() {}
            if let Err(e) = callback.call::<_, ()>((rquickjs::function::Rest(args.0.clone()),)) {
                report_uncaught(&ctx2, e, "timer callback");
            }
            if !repeat {
                break;
            }
        }
        if let Some(table) = ctx2.userdata::<TimerTable>() {
            table.live.borrow_mut().remove(&id);
        }
    });
    Ok(id)
}

/// Logs an exception thrown by a callback that has no caller to receive it.
pub fn report_uncaught(ctx: &Ctx<'_>, e: rquickjs::Error, what: &str) {
    let text = match e {
        rquickjs::Error::Exception => {
            let v = ctx.catch();
            crate::console::inspect(ctx, &v, 0).unwrap_or_else(|_| "exception".into())
        }
        other => other.to_string(),
    };
    crate::console::emit(
        ctx,
        crate::console::Level::Error,
        &format!("Uncaught (in {what}) {text}"),
    );
}

fn clear(ctx: Ctx<'_>, id: Opt<Value<'_>>) {
    let Some(id) = id.0.and_then(|v| v.as_number()) else {
        return;
    };
    if let Some(table) = ctx.userdata::<TimerTable>() {
        if let Some(n) = table.live.borrow_mut().remove(&(id as u32)) {
            n.notify_one();
        }
    }
}

/// Installs the timer globals and the per-isolate timer table.
pub fn init(ctx: &Ctx<'_>) -> Result<()> {
    let _ = ctx.store_userdata(TimerTable::default());
    let g = ctx.globals();
    g.set(
        "setTimeout",
        Function::new(ctx.clone(), |ctx, cb, delay, args| {
            schedule(ctx, cb, delay, args, false)
        })?
        .with_name("setTimeout")?,
    )?;
    g.set(
        "setInterval",
        Function::new(ctx.clone(), |ctx, cb, delay, args| {
            schedule(ctx, cb, delay, args, true)
        })?
        .with_name("setInterval")?,
    )?;
    g.set(
        "clearTimeout",
        Function::new(ctx.clone(), clear)?.with_name("clearTimeout")?,
    )?;
    g.set(
        "clearInterval",
        Function::new(ctx.clone(), clear)?.with_name("clearInterval")?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::testing::run_js;

    #[test]
    fn timeout_order_and_args() {
        let out = run_js(
            "const seen = [];
             await new Promise(r => { setTimeout(() => seen.push('b'), 5); setTimeout((x) => seen.push(x), 0, 'a'); setTimeout(r, 10); });
             return seen.join(',');",
        );
        assert_eq!(out, "a,b");
    }

    #[test]
    fn interval_and_clear() {
        let out = run_js(
            "let n = 0; const cleared = setTimeout(() => n += 100, 1); clearTimeout(cleared);
             await new Promise(r => { const id = setInterval(() => { n++; if (n === 3) { clearInterval(id); r(); } }, 1); });
             await new Promise(r => setTimeout(r, 5));
             return n;",
        );
        assert_eq!(out, "3");
    }

    #[test]
    fn throwing_callback_is_contained() {
        let out = run_js(
            "setTimeout(() => { throw new Error('in timer'); }, 0);
             await new Promise(r => setTimeout(r, 5));
             return 'alive';",
        );
        assert_eq!(out, "alive");
        assert!(run_js("setTimeout('code', 1)").starts_with("THROWN TypeError"));
    }
}
