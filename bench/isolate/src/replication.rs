//! `outpost-bench replication`: replication lag on loopback and a point read
//! on a replica, in process, printed as JSON lines like the isolate figures.
//!
//! A real control plane (its HTTP API on 127.0.0.1) holds a D1 primary; a
//! node-side replica pulls the primary's log over HTTP exactly as the
//! replicas of `outpost serve --control` nodes do.
//!
//! - `replication_lag_us`: a single-row insert acknowledged by the primary
//!   → the replica has applied it (its stored position has reached the
//!   write's);
//! - `replica_point_read_us`: `SELECT * FROM items WHERE id = ?1` on the
//!   replica, the statement a D1 `first()` runs, without HTTP or JS.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use outpost_bindings::remote::DataKind;
use outpost_control::data::Opened;
use outpost_control::replicate::{Replicas, Upstream};
use outpost_control::{Client, ControlConfig, ControlServer, Scope};
use outpost_data::{Primary, Replica, Value};

use crate::report;

/// Rows the table holds before the point reads.
const ROWS: i64 = 10_000;

/// A control plane with its HTTP API on 127.0.0.1, in a fresh directory
/// `outpost-bench-<tag>-<pid>` under the temporary directory, and a client
/// for it with a node token.
pub fn control_plane(tag: &str) -> anyhow::Result<(std::path::PathBuf, ControlServer, Client)> {
    let dir = std::env::temp_dir().join(format!("outpost-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let control = ControlServer::start(ControlConfig {
        dir: dir.join("control"),
        addr: "127.0.0.1:0".parse()?,
        domain: "localhost".into(),
        region: "primary".into(),
        log_retain: 100_000,
    })?;
    let token = control.ensure_token_file(&dir.join("node-token"), "bench", Scope::Node)?;
    let client = Client::new(&control.url(), Some(token))?;
    Ok((dir, control, client))
}

/// Runs both measurements with `n` samples each. The control plane runs
/// its own threads; the replica's pull task runs on a runtime made here.
pub fn run(n: usize) -> anyhow::Result<()> {
    let (dir, control, client) = control_plane("replication")?;
    let Opened::D1(primary) = control.data().open(DataKind::D1, "bench")? else {
        anyhow::bail!("`bench` did not open as a D1 database");
    };
    primary.exec("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL)")?;
    primary.exec(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
         INSERT INTO items(id, name) SELECT i, 'item ' || i FROM n"
    ))?;

    let mut replicas = Replicas::new(&dir.join("node"), client, "edge");
    replicas.binding(DataKind::D1, "bench", Upstream::Control)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    rt.block_on(async {
        replicas.start_pulling(&stopped);
        measure(&replicas, &primary, n).await
    })?;
    let _ = stop.send(true);
    drop(rt);

    let replica = Replica::open(dir.join("node/data/d1/bench.sqlite"))
        .context("opening the replica for reads")?;
    let mut reads = Vec::with_capacity(n);
    for i in 0..n {
        let id = 1 + (i as i64 * 7919) % ROWS;
        let started = Instant::now();
        let result = replica.query("SELECT * FROM items WHERE id = ?1", &[Value::Integer(id)])?;
        reads.push(started.elapsed());
        anyhow::ensure!(
            result.rows.len() == 1,
            "item {id} is missing on the replica"
        );
    }
    report("replica_point_read_us", reads);

    drop(control);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Waits for the replica to catch up, then times `n` writes from their
/// acknowledgement until the replica has them.
async fn measure(replicas: &Replicas, primary: &Primary, n: usize) -> anyhow::Result<()> {
    let position = || replicas.report().get("d1/bench").map_or(0, |s| s.position);
    let caught_up = Instant::now() + Duration::from_secs(30);
    while position() < primary.position() {
        anyhow::ensure!(
            Instant::now() < caught_up,
            "the replica did not catch up in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    let mut lag = Vec::with_capacity(n);
    for i in 0..n {
        let write = primary.execute(
            "INSERT INTO items(name) VALUES (?1)",
            &[Value::Text(format!("lag {i}"))],
        )?;
        let acknowledged = Instant::now();
        // Yield rather than sleep: tokio's timer has millisecond ticks.
        while position() < write.position {
            tokio::task::yield_now().await;
        }
        lag.push(acknowledged.elapsed());
    }
    report("replication_lag_us", lag);

    Ok(())
}
