//! `outpost serve`: the platform in production.
//!
//! - `outpost serve` alone is the embedded default: the control API (on
//!   `--control-port`, 8788 by default) and an edge node (on `--port`) in
//!   one process, state under `--dir`. The node follows the control plane
//!   over loopback HTTP like any other node, with a `node` token kept in
//!   `<dir>/node-token`.
//! - `--control-only` runs the control API without a node.
//! - `--control URL --token T` (or `--token-file F`) runs a node that
//!   follows a control plane elsewhere. It also serves a data API (on
//!   `--data-port`) for the primaries of databases whose `primary_region` is
//!   its `--region`.
//!
//! The control API has its own listener, so the edge port only ever carries
//! worker traffic and no hostname or path is taken from workers.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use outpost_control::{ControlConfig, ControlServer, FollowConfig, Follower, Scope};
use outpost_node::{Node, NodeConfig, Routes};

/// Arguments of `outpost serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// State directory (control plane database, tokens, the node's last good state).
    #[arg(long, default_value = ".outpost")]
    dir: PathBuf,
    /// Port of the edge node (worker traffic); 0 picks a free port.
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// Address to listen on (edge node and control API).
    #[arg(long, default_value = "127.0.0.1")]
    ip: IpAddr,
    /// This node's region name.
    #[arg(long, default_value = "local")]
    region: String,
    /// Domain of every worker's default host `<name>.<domain>` (control plane).
    #[arg(long, default_value = "localhost", conflicts_with = "control")]
    domain: String,
    /// Port of the control API; 0 picks a free port.
    #[arg(long, default_value_t = 8788, conflicts_with = "control")]
    control_port: u16,
    /// Run the control API only, without an edge node.
    #[arg(long, conflicts_with = "control")]
    control_only: bool,
    /// Follow the control plane at this URL instead of running one (node only).
    #[arg(long)]
    control: Option<String>,
    /// The node token for `--control` (a token with the `node` scope).
    #[arg(long, requires = "control", conflicts_with = "token_file")]
    token: Option<String>,
    /// A file holding the node token for `--control`.
    #[arg(long, requires = "control")]
    token_file: Option<PathBuf>,
    /// Log entries each data primary keeps for replicas to catch up from;
    /// a replica further behind bootstraps from a snapshot.
    #[arg(long, default_value_t = 10_000)]
    log_retain: u64,
    /// Port of a node's data API (`--control` only): where it serves the
    /// primaries of databases whose `primary_region` is its region to the
    /// other nodes; 0 picks a free port. Listens on `--ip`.
    #[arg(long, default_value_t = 0, requires = "control")]
    data_port: u16,
    /// Executor threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// Runs `outpost serve` until interrupted.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    outpost_control::create_private_dir(&args.dir)?;
    let mut control = None;
    let (control_url, token) = match &args.control {
        Some(url) => {
            let token = match (&args.token, &args.token_file) {
                (Some(t), _) => t.clone(),
                (None, Some(f)) => std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read the token file {}", f.display()))?
                    .trim()
                    .to_string(),
                (None, None) => {
                    bail!("--control needs --token or --token-file (a token with the `node` scope)")
                }
            };
            (url.clone(), token)
        }
        None => {
            let server = ControlServer::start(ControlConfig {
                dir: args.dir.clone(),
                addr: SocketAddr::new(args.ip, args.control_port),
                domain: args.domain.clone(),
                region: args.region.clone(),
                log_retain: args.log_retain,
            })?;
            println!("Control API on {}", server.url());
            let token_path = server.admin_token_path().canonicalize()?;
            if server.created_admin_token() {
                println!(
                    "Created the admin token in {} (mode 0600)",
                    token_path.display()
                );
            } else {
                println!("Admin token in {}", token_path.display());
            }
            let token = server.ensure_token_file(
                &args.dir.join("node-token"),
                "embedded node",
                Scope::Node,
            )?;
            let url = server.url();
            control = Some(server);
            (url, token)
        }
    };
    let _ = std::io::stdout().flush();

    let mut node = None;
    let mut follower = None;
    if !args.control_only {
        let routes = Arc::new(Routes::new());
        let mut config = NodeConfig {
            addr: SocketAddr::new(args.ip, args.port),
            dev: false,
            ..NodeConfig::default()
        };
        if let Some(t) = args.threads {
            config.threads = t;
        }
        // The executor threads make their first runtimes while the follower
        // restores the last good state; they accept once it is in place.
        let n = Node::prepare(config, routes.clone())?;
        let mut f = Follower::new(
            FollowConfig {
                control: control_url.clone(),
                token,
                dir: args.dir.join("node"),
                region: args.region.clone(),
                // The embedded node's workers use the primaries directly.
                data: control.as_ref().map(|c| c.data()),
                data_addr: SocketAddr::new(args.ip, args.data_port),
                log_retain: args.log_retain,
            },
            routes.clone(),
        )?;
        n.open();
        f.set_addr(format!("http://{}", n.addr()));
        println!(
            "Node {} in region `{}` follows {control_url}{}",
            f.id(),
            args.region,
            match f.restored() {
                0 => String::new(),
                k => format!(
                    " (serving {k} workers from its last good state meanwhile; {} bundles from stored bytecode)",
                    f.loaded_bytecode()
                ),
            }
        );
        if let Some(url) = f.data_url() {
            println!("Data API on {url}");
        }
        println!("Ready on http://{}", n.addr());
        let _ = std::io::stdout().flush();
        follower = Some(f.spawn()?);
        node = Some(n);
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(crate::dev::shutdown_signal());
    drop(follower);
    if let Some(n) = node {
        n.shutdown();
    }
    if let Some(c) = control {
        c.shutdown();
    }
    Ok(())
}
