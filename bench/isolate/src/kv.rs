//! `outpost-bench kv`: the latency of a Workers KV `get` and `put` made from
//! JS through the `env.KV` binding, in process, on the namespace's primary
//! and on a node-side replica of it. Printed as JSON lines like the other
//! figures, then as a small Markdown table.
//!
//! The setup is `replication`'s: a real control plane (its HTTP API on
//! 127.0.0.1) holds the namespace's primary, seeded with 10,000 keys of 100
//! bytes; a node-side replica pulls its log over HTTP. Two live isolates run
//! the same module, one with `env.KV` on the primary (as `outpost dev` and
//! `outpost serve`'s embedded node bind it), one on the replica (as a node of
//! `outpost serve --control` binds it: reads from the replica, writes sent to
//! the control API). The replica starts pulling only once the primary's
//! figures are taken, so those are a lone primary's, as under `outpost dev`.
//!
//! Each sample is one request dispatched to an isolate until its body is in
//! hand, so it holds the dispatch as well as the KV call; `kv_dispatch_*`
//! times the same request with a handler that makes no KV call, the part to
//! subtract. `kv_store_*` times the store without JS (the primary's
//! `KvStore::get`/`put`, the replica's `KvStore::get`) for the other end of
//! the comparison. The three requests of an iteration run back to back, so
//! a busy machine slows them alike.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use outpost_bindings::kv::PutOptions;
use outpost_bindings::remote::DataKind;
use outpost_bindings::{KvBinding, KvStore};
use outpost_control::data::Opened;
use outpost_control::replicate::{Replicas, Upstream};
use outpost_runtime::isolate::collect_body;
use outpost_runtime::{
    Bundle, CompiledBundle, EnvValue, Fresh, HostRequest, Isolate, Limits, WorkerSpec,
};

use crate::report;

/// Keys seeded before the reads.
const KEYS: usize = 10_000;
/// Requests of each kind run before the timed ones.
const WARMUP: usize = 200;

const WORKER: &str = r#"
const VALUE = "v".repeat(100);
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = url.searchParams.get("key");
    switch (url.pathname) {
      case "/get":
        return new Response(await env.KV.get(key));
      case "/put":
        await env.KV.put(key, VALUE);
        return new Response(null, { status: 204 });
      default:
        return new Response(VALUE);
    }
  },
};
"#;

/// Exactly 100 bytes, as bench/data seeds its keys.
fn seed_value(i: usize) -> String {
    format!("{:.<100}", format!("value of k{i} "))
}

/// The key read at iteration `i`: spread over the seeded keys.
fn read_key(i: usize) -> usize {
    1 + (i * 7919) % KEYS
}

/// Runs the measurements with `n` samples of each.
pub fn run(n: usize) -> anyhow::Result<()> {
    let (dir, control, client) = crate::replication::control_plane("kv")?;
    let Opened::Kv(store) = control.data().open(DataKind::Kv, "bench")? else {
        anyhow::bail!("`bench` did not open as a KV namespace");
    };
    let none = PutOptions::default();
    for i in 1..=KEYS {
        store.put(&format!("k{i}"), seed_value(i).as_bytes(), &none)?;
    }

    let mut replicas = Replicas::new(&dir.join("node"), client, "edge");
    let on_replica = replicas.binding(DataKind::Kv, "bench", Upstream::Control)?;
    let on_primary = EnvValue::Binding(Arc::new(KvBinding::new(store.clone())));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let figures = tokio::task::LocalSet::new().block_on(&rt, async {
        // The primary first, with no replica pulling: a pull reads the log
        // on the primary's reader connection, which `get` also uses.
        let primary = measure("primary", on_primary, n).await?;
        replicas.start_pulling(&stopped);
        let head = store.primary().context("a primary")?.position();
        let caught_up = Instant::now() + Duration::from_secs(30);
        while replicas.report().get("kv/bench").map_or(0, |s| s.position) < head {
            anyhow::ensure!(
                Instant::now() < caught_up,
                "the replica did not catch up in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let replica = measure("replica", on_replica, n).await?;
        anyhow::Ok([primary, replica])
    })?;
    let _ = stop.send(true);
    drop(rt);

    let replica_store = KvStore::replica(
        Arc::new(
            outpost_data::Replica::open(dir.join("node/data/kv/bench.sqlite"))
                .context("opening the replica for reads")?,
        ),
        Arc::new(outpost_bindings::clock::SystemClock),
    );
    let [mut primary, mut replica] = figures;
    primary.store_get = Some(store_gets("primary", &store, n)?);
    primary.store_put = Some(store_puts(&store, n)?);
    replica.store_get = Some(store_gets("replica", &replica_store, n)?);
    print_table(n, &primary, &replica);

    drop(control);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// p50 and p99 in µs of each measurement on one side.
struct Figures {
    dispatch: (f64, f64),
    get: (f64, f64),
    put: (f64, f64),
    store_get: Option<(f64, f64)>,
    store_put: Option<(f64, f64)>,
}

fn spec(env: EnvValue) -> anyhow::Result<Arc<WorkerSpec>> {
    let bundle = Bundle::from_sources("index.js", [("index.js".to_string(), WORKER.to_string())]);
    Ok(Arc::new(WorkerSpec {
        name: "kv".into(),
        version: 1,
        bundle: Arc::new(CompiledBundle::compile(&bundle)?),
        env: vec![("KV".into(), env)],
        limits: Limits::default(),
        dev: false,
        allow_private_fetch: false,
        cache: None,
    }))
}

/// One request to `path`; its status and body.
async fn call(iso: &Isolate, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let resp = iso
        .dispatch(HostRequest {
            method: http::Method::GET,
            url: format!("http://localhost{path}"),
            headers: http::HeaderMap::new(),
            body: None,
        })
        .await?;
    let status = resp.status().as_u16();
    let body = collect_body(resp.into_body())
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    Ok((status, body.to_vec()))
}

/// Times `n` iterations of (no KV call, get, put) through one isolate.
async fn measure(side: &str, kv: EnvValue, n: usize) -> anyhow::Result<Figures> {
    let iso = Isolate::start(Fresh::new().await?, spec(kv)?).await?;
    let (status, body) = call(&iso, "/get?key=k42").await?;
    anyhow::ensure!(
        status == 200 && body == seed_value(42).as_bytes(),
        "{side}: get(k42) answered {status} {:?}",
        String::from_utf8_lossy(&body)
    );
    let mut dispatch = Vec::with_capacity(n);
    let mut get = Vec::with_capacity(n);
    let mut put = Vec::with_capacity(n);
    for i in 0..WARMUP + n {
        let started = Instant::now();
        call(&iso, "/").await?;
        let t_dispatch = started.elapsed();

        let path = format!("/get?key=k{}", read_key(i));
        let started = Instant::now();
        let (status, _) = call(&iso, &path).await?;
        let t_get = started.elapsed();
        anyhow::ensure!(status == 200, "{side}: {path} answered {status}");

        let path = format!("/put?key={side}-{i}");
        let started = Instant::now();
        let (status, body) = call(&iso, &path).await?;
        let t_put = started.elapsed();
        anyhow::ensure!(
            status == 204,
            "{side}: {path} answered {status} {:?}",
            String::from_utf8_lossy(&body)
        );
        if i >= WARMUP {
            dispatch.push(t_dispatch);
            get.push(t_get);
            put.push(t_put);
        }
    }
    Ok(Figures {
        dispatch: report(&format!("kv_dispatch_{side}_us"), dispatch),
        get: report(&format!("kv_get_{side}_us"), get),
        put: report(&format!("kv_put_{side}_us"), put),
        store_get: None,
        store_put: None,
    })
}

fn store_gets(side: &str, store: &KvStore, n: usize) -> anyhow::Result<(f64, f64)> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..WARMUP + n {
        let key = format!("k{}", read_key(i));
        let started = Instant::now();
        let entry = store.get(&key)?;
        let took = started.elapsed();
        anyhow::ensure!(entry.is_some(), "{side}: {key} is missing");
        if i >= WARMUP {
            samples.push(took);
        }
    }
    Ok(report(&format!("kv_store_get_{side}_us"), samples))
}

fn store_puts(store: &KvStore, n: usize) -> anyhow::Result<(f64, f64)> {
    let value = [b'v'; 100];
    let none = PutOptions::default();
    let mut samples = Vec::with_capacity(n);
    for i in 0..WARMUP + n {
        let key = format!("store-{i}");
        let started = Instant::now();
        store.put(&key, &value, &none)?;
        let took = started.elapsed();
        if i >= WARMUP {
            samples.push(took);
        }
    }
    Ok(report("kv_store_put_primary_us", samples))
}

fn print_table(n: usize, primary: &Figures, replica: &Figures) {
    let cell = |f: Option<(f64, f64)>| match f {
        Some((p50, p99)) => format!("{p50:.1} | {p99:.1}"),
        None => "– | –".to_string(),
    };
    println!();
    println!("KV through `env.KV` from JS, {n} samples each (µs; a request dispatched until its body is in hand):");
    println!();
    println!("| measurement | primary p50 | primary p99 | replica p50 | replica p99 |");
    println!("|---|---:|---:|---:|---:|");
    let rows = [
        (
            "request, no KV call",
            Some(primary.dispatch),
            Some(replica.dispatch),
        ),
        (
            "request + `get` (100 B, 1 of 10,000 keys)",
            Some(primary.get),
            Some(replica.get),
        ),
        (
            "request + `put` (100 B, new key)",
            Some(primary.put),
            Some(replica.put),
        ),
        (
            "`KvStore::get`, no JS",
            primary.store_get,
            replica.store_get,
        ),
        ("`KvStore::put`, no JS", primary.store_put, None),
    ];
    for (name, p, r) in rows {
        println!("| {name} | {} | {} |", cell(p), cell(r));
    }
}
