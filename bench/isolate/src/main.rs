//! In-process figures for the benchmark table, printed as JSON lines
//! (`{"metric":..,"p50":..,"p99":..,"unit":..}`):
//!
//! - `cold_start_hello_us`: a warm-pool runtime → bytecode loaded, top level
//!   run, handler bound → first response body in hand;
//! - `cold_start_bundle_us`: the same for a larger bundle given with
//!   `--bundle FILE` (e.g. a Hono app bundled to one module), on the
//!   runtime the node's warm pool gives it once it has seen one cold start
//!   of the worker (with streams loaded if the worker used them);
//!   `cold_start_bundle_unprepared_us`: on a plain runtime, as the first cold
//!   start of a worker on an executor thread;
//! - `warm_pool_fresh_runtime_us`: preparing one pool runtime (runtime,
//!   context, Web API globals), done off the request path;
//! - `first_fresh_runtime_in_process_us`: the same for the first runtime of
//!   the process (one sample), which also pays for one-time work;
//! - `warm_dispatch_hello_us`: one request through a live isolate;
//! - `idle_isolate_kib`: heap of one idle hello isolate (QuickJS's own count),
//!   and `idle_isolate_rss_kib`: process RSS growth per isolate over 500.
//!
//! Usage: `outpost-bench isolate [--bundle FILE] [--iterations N]`, or for
//! the data figures `outpost-bench replication [--iterations N]` (see
//! [`replication`]) and `outpost-bench kv [--iterations N]` (see [`kv`]).

mod kv;
mod replication;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use outpost_runtime::isolate::collect_body;
use outpost_runtime::{Bundle, CompiledBundle, Fresh, HostRequest, Isolate, WorkerSpec};

const HELLO: &str = "export default { fetch() { return new Response('Hello World!'); } };";

fn spec(name: &str, bundle: &Bundle) -> anyhow::Result<Arc<WorkerSpec>> {
    Ok(Arc::new(WorkerSpec::new(
        name,
        CompiledBundle::compile(bundle)?,
    )))
}

/// One GET through `iso`, until its response body is in hand.
async fn request(iso: &Isolate) -> anyhow::Result<()> {
    let resp = iso.dispatch(HostRequest::get("http://localhost/")).await?;
    collect_body(resp.into_body())
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

/// Prints the JSON line of `metric`; returns its (p50, p99) in µs.
fn report(metric: &str, mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let (p50, p99) = (percentile(&samples, 0.5), percentile(&samples, 0.99));
    println!(
        "{{\"metric\":\"{metric}\",\"p50\":{p50:.1},\"p99\":{p99:.1},\"unit\":\"us\",\"n\":{}}}",
        samples.len()
    );
    (p50, p99)
}

/// Times cold starts; returns (cold start samples, fresh-runtime samples).
async fn cold_starts(
    spec: &Arc<WorkerSpec>,
    n: usize,
    streams: bool,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let mut samples = Vec::with_capacity(n);
    let mut fresh_samples = Vec::with_capacity(n);
    for _ in 0..n {
        // Preparing the runtime is the warm pool's job, off the request path.
        let t = Instant::now();
        let fresh = if streams {
            Fresh::with_streams().await?
        } else {
            Fresh::new().await?
        };
        fresh_samples.push(t.elapsed());
        let t = Instant::now();
        let iso = Isolate::start(fresh, spec.clone()).await?;
        request(&iso).await?;
        samples.push(t.elapsed());
        drop(iso);
    }
    Ok((samples, fresh_samples))
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

async fn run(bundle_file: Option<String>, n: usize) -> anyhow::Result<()> {
    // The first runtime of a cold process (what an executor thread makes
    // when the process starts), before anything has warmed up.
    let t = Instant::now();
    drop(Fresh::new().await?);
    report("first_fresh_runtime_in_process_us", vec![t.elapsed()]);
    let hello = spec(
        "hello",
        &Bundle::from_sources("index.js", [("index.js".to_string(), HELLO.to_string())]),
    )?;
    // Warm up the allocator and code paths once.
    cold_starts(&hello, 20, false).await?;
    let (cold, fresh) = cold_starts(&hello, n, false).await?;
    report("cold_start_hello_us", cold);
    report("warm_pool_fresh_runtime_us", fresh);

    if let Some(file) = bundle_file {
        let bundle = Bundle::from_entry_file(std::path::Path::new(&file))
            .with_context(|| format!("building {file}"))?;
        let big = spec("bundle", &bundle)?;
        let size: usize = bundle.modules.values().map(String::len).sum();
        eprintln!(
            "bundle: {} bytes of source, {} bytes of bytecode",
            size, big.bundle.size
        );
        // What the node learns from a first cold start: whether the worker
        // loads streams, so that its later cold starts take a runtime that
        // loaded them ahead of need, off the request path.
        let iso = Isolate::start(Fresh::new().await?, big.clone()).await?;
        request(&iso).await?;
        let streams = iso.uses_streams();
        drop(iso);
        eprintln!("bundle: uses streams: {streams}");
        report(
            "cold_start_bundle_us",
            cold_starts(&big, n, streams).await?.0,
        );
        report(
            "cold_start_bundle_unprepared_us",
            cold_starts(&big, n, false).await?.0,
        );
    }

    let iso = Isolate::start(Fresh::new().await?, hello.clone()).await?;
    let mut warm = Vec::with_capacity(n * 10);
    for _ in 0..n * 10 {
        let t = Instant::now();
        request(&iso).await?;
        warm.push(t.elapsed());
    }
    report("warm_dispatch_hello_us", warm);
    let heap = iso.heap_bytes().await;
    println!(
        "{{\"metric\":\"idle_isolate_kib\",\"p50\":{:.1},\"p99\":{:.1},\"unit\":\"KiB\",\"n\":1}}",
        heap as f64 / 1024.0,
        heap as f64 / 1024.0
    );
    drop(iso);

    let count = 500;
    let before = rss_kib();
    let mut live = Vec::with_capacity(count);
    for _ in 0..count {
        let iso = Isolate::start(Fresh::new().await?, hello.clone()).await?;
        request(&iso).await?;
        live.push(iso);
    }
    let per = (rss_kib().saturating_sub(before)) as f64 / count as f64;
    println!("{{\"metric\":\"idle_isolate_rss_kib\",\"p50\":{per:.1},\"p99\":{per:.1},\"unit\":\"KiB\",\"n\":{count}}}");
    drop(live);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut bundle = None;
    let mut n = 200;
    let mut data = false;
    let mut kv = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "isolate" => {}
            "replication" => data = true,
            "kv" => kv = true,
            "--bundle" => bundle = args.next(),
            "--iterations" => n = args.next().context("--iterations N")?.parse()?,
            other => anyhow::bail!("unknown argument `{other}`"),
        }
    }
    if kv {
        return kv::run(n);
    }
    if data {
        return replication::run(n);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio::task::LocalSet::new().block_on(&rt, run(bundle, n))
}
