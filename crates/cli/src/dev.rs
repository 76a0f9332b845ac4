//! `outpost dev`: serve one worker on 127.0.0.1 with dev error pages, and
//! rebuild it whenever one of its files, its config or `.dev.vars` changes.
//! A rebuild that fails keeps the last good version serving.
//!
//! D1 databases and KV namespaces are local SQLite files under `.outpost/`
//! beside the config, each opened once per process ([`LocalData`]) and
//! shared by every reload and executor thread. Their calls run inline on the
//! executor thread: local SQLite statements take microseconds.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use outpost_bindings::LocalData;
use outpost_config::WorkerConfig;
use outpost_node::{Node, NodeConfig, Routes};
use outpost_runtime::{CompiledBundle, EnvValue, Limits, WorkerSpec};

/// Arguments of `outpost dev`.
#[derive(clap::Args, Debug)]
pub struct DevArgs {
    /// The worker's entry module (default: `main` from the config file).
    entry: Option<PathBuf>,
    /// Port to listen on (default: `[dev] port` from the config, else 8787).
    #[arg(long)]
    port: Option<u16>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// Config file (default: outpost.toml, then wrangler.toml, in the current directory).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Executor threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// Everything one build of the worker came from.
struct Build {
    spec: Arc<WorkerSpec>,
    watched: Vec<PathBuf>,
}

/// Reads config, builds and compiles the bundle, and assembles the spec.
fn build(
    args: &DevArgs,
    config: Option<&WorkerConfig>,
    version: u64,
    data: &LocalData,
) -> anyhow::Result<Build> {
    let built = crate::build::build(args.entry.as_deref(), config)?;
    let compiled = CompiledBundle::compile(&built.bundle)?;

    let mut env = Vec::new();
    let mut watched = built.bundle.files.clone();
    let mut limits = Limits::default();
    if let Some(c) = config {
        env = crate::build::vars_env(c);
        bind_data(c, data, &mut env)?;
        if let Some(ms) = c.limits.cpu_ms {
            limits.cpu = Duration::from_millis(u64::from(ms));
        }
        watched.push(c.path.clone());
    }
    let vars_dir = match config {
        Some(c) => c.dir().to_path_buf(),
        None => std::env::current_dir()?,
    };
    for (k, v) in outpost_config::load_dev_vars(&vars_dir)? {
        env.retain(|(name, _)| name != &k);
        env.push((k, EnvValue::Text(v)));
    }
    watched.push(vars_dir.join(outpost_config::DEV_VARS_FILE));

    let name = built.name;
    tracing::debug!(
        "built `{name}`: {} modules, {} bytes of bytecode",
        compiled.bytecode.len(),
        compiled.size
    );
    let spec = Arc::new(WorkerSpec {
        name,
        version,
        bundle: Arc::new(compiled),
        env,
        limits,
        dev: true,
        allow_private_fetch: true,
        cache: Some(outpost_cache::open_shared(
            &vars_dir.join(outpost_bindings::STATE_DIR),
        )),
    });
    Ok(Build { spec, watched })
}

/// Binds each `[[d1_databases]]` entry to `.outpost/d1/<database_id>.sqlite`
/// and each `[[kv_namespaces]]` entry to `.outpost/kv/<id>.sqlite`, beside
/// the config. The files outlive the process; `data` opens each only once.
fn bind_data(
    config: &WorkerConfig,
    data: &LocalData,
    env: &mut Vec<(String, EnvValue)>,
) -> anyhow::Result<()> {
    let state = config.dir().join(outpost_bindings::STATE_DIR);
    for db in &config.d1_databases {
        let id = match db.database_id.as_str() {
            "" => &db.database_name,
            id => id,
        };
        let binding = data
            .d1(&state, id)
            .with_context(|| format!("D1 binding `{}`", db.binding))?;
        env.push((db.binding.clone(), EnvValue::Binding(Arc::new(binding))));
    }
    for kv in &config.kv_namespaces {
        let binding = data
            .kv(&state, &kv.id)
            .with_context(|| format!("KV binding `{}`", kv.binding))?;
        env.push((kv.binding.clone(), EnvValue::Binding(Arc::new(binding))));
    }
    Ok(())
}

fn mtimes(paths: &[PathBuf]) -> Vec<Option<SystemTime>> {
    paths
        .iter()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

/// Runs `outpost dev` until interrupted.
pub fn run(args: DevArgs) -> anyhow::Result<()> {
    let data = LocalData::new();
    let config = crate::build::load_config(args.config.as_deref())?;
    if let Some(c) = &config {
        c.log_warnings();
    }
    let port = args
        .port
        .or(config.as_ref().and_then(|c| c.dev.port))
        .unwrap_or(8787);
    let mut node_config = NodeConfig {
        addr: SocketAddr::new(args.ip, port),
        dev: true,
        ..NodeConfig::default()
    };
    if let Some(t) = args.threads {
        node_config.threads = t;
    }
    // The executor threads make their first runtimes while the worker
    // builds; they accept once it is deployed.
    let routes = Arc::new(Routes::new());
    let node = Node::prepare(node_config, routes.clone())?;
    let first = build(&args, config.as_ref(), 1, &data)?;
    let name = first.spec.name.clone();
    routes.deploy(first.spec.clone());
    routes.set_default(&name);
    node.open();
    println!("Ready on http://{}", node.addr());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut watched = first.watched;
        let mut seen = mtimes(&watched);
        let mut version = 1;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown_signal() => break,
            }
            let now = mtimes(&watched);
            if now == seen {
                continue;
            }
            seen = now;
            version += 1;
            let rebuilt = crate::build::load_config(args.config.as_deref())
                .and_then(|config| build(&args, config.as_ref(), version, &data));
            match rebuilt {
                Ok(b) => {
                    routes.deploy(b.spec.clone());
                    routes.set_default(&b.spec.name);
                    watched = b.watched;
                    seen = mtimes(&watched);
                    println!("Reloaded `{}` (version {version})", b.spec.name);
                }
                Err(e) => eprintln!("Reload failed, still serving the last good version:\n  {e:#}"),
            }
            let _ = std::io::stdout().flush();
        }
    });
    node.shutdown();
    Ok(())
}

pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
