//! The commands that talk to a control plane: `deploy`, `rollback`,
//! `versions`, `secret`, `routes`, `token` and `nodes`.
//!
//! The control plane's URL comes from `--control`, else `OUTPOST_CONTROL`,
//! else `[control] url` in the config file, else `http://127.0.0.1:8788`
//! (a local `outpost serve`). The token comes from `--token`, else
//! `OUTPOST_TOKEN`, else the file named by `[control] token_file`, else
//! `.outpost/admin-token` in the current directory (a local `outpost serve`
//! started there).

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use http::Method;
use outpost_config::{VarValue, WorkerConfig};
use outpost_control::api::{
    BundleInfo, CreatedToken, DataBinding, DataBindings, Deployed, NewToken, NewVersion,
    NodeStatus, Rollback, RouteEntry, RoutesInfo, Scope, TokenInfo, VersionInfo,
    BUNDLE_HASH_HEADER,
};
use outpost_control::Client;
use outpost_runtime::content_hash;

/// Default control API address (a local `outpost serve`).
const DEFAULT_CONTROL: &str = "http://127.0.0.1:8788";

/// Where to find the control plane.
#[derive(clap::Args, Debug, Clone)]
pub struct RemoteArgs {
    /// Control API URL [default: $OUTPOST_CONTROL, `[control] url`, http://127.0.0.1:8788].
    #[arg(long, global = true)]
    control: Option<String>,
    /// Bearer token [default: $OUTPOST_TOKEN, `[control] token_file`, .outpost/admin-token].
    #[arg(long, global = true)]
    token: Option<String>,
    /// Config file (default: outpost.toml, then wrangler.toml, in the current directory).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

impl RemoteArgs {
    pub(crate) fn config(&self) -> anyhow::Result<Option<WorkerConfig>> {
        crate::build::load_config(self.config.as_deref())
    }

    pub(crate) fn client(&self, config: Option<&WorkerConfig>) -> anyhow::Result<Client> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let url = self
            .control
            .clone()
            .or_else(|| env("OUTPOST_CONTROL"))
            .or_else(|| config.and_then(|c| c.control.url.clone()))
            .unwrap_or_else(|| DEFAULT_CONTROL.to_string());
        let token = match self.token.clone().or_else(|| env("OUTPOST_TOKEN")) {
            Some(t) => t,
            None => {
                let file = config
                    .and_then(|c| c.control.token_file.as_ref().map(|f| c.dir().join(f)))
                    .or_else(|| {
                        let local = PathBuf::from(".outpost/admin-token");
                        local.is_file().then_some(local)
                    });
                let Some(file) = file else {
                    bail!("no token for the control plane: pass --token, set OUTPOST_TOKEN, or set `token_file` under [control] in the config");
                };
                std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read the token file {}", file.display()))?
                    .trim()
                    .to_string()
            }
        };
        Ok(Client::new(&url, Some(token))?)
    }
}

pub(crate) fn block_on<F: Future>(f: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}

fn flush() {
    let _ = std::io::stdout().flush();
}

/// Arguments of `outpost deploy`.
#[derive(clap::Args, Debug)]
pub struct DeployArgs {
    #[command(flatten)]
    remote: RemoteArgs,
    /// The worker's entry module (default: `main` from the config file).
    entry: Option<PathBuf>,
    /// Worker name (default: `name` from the config, else the entry's file name).
    #[arg(long)]
    name: Option<String>,
    /// A note stored with the version.
    #[arg(long)]
    message: Option<String>,
    /// Seconds to wait for every node to run the new version.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// `outpost deploy`: build, upload, activate, then follow the nodes.
pub fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = args.remote.config()?;
    if let Some(c) = &config {
        c.log_warnings();
    }
    let client = args.remote.client(config.as_ref())?;
    let built = crate::build::build(args.entry.as_deref(), config.as_ref())?;
    let name = args.name.clone().unwrap_or(built.name);
    let bytes = built.bundle.to_wire();
    let hash = content_hash(&bytes);
    println!(
        "Built `{name}`: {} modules, {} bytes, bundle {}",
        built.bundle.modules.len(),
        bytes.len(),
        &hash[..12]
    );
    let mut vars = BTreeMap::new();
    let mut cpu_ms = None;
    let mut routes = None;
    let mut data = DataBindings::default();
    if let Some(c) = &config {
        data.d1 = c
            .d1_databases
            .iter()
            .map(|d| DataBinding {
                binding: d.binding.clone(),
                // As in `outpost dev`: the name when there is no id.
                id: match d.database_id.as_str() {
                    "" => d.database_name.clone(),
                    id => id.to_string(),
                },
                primary_region: d.primary_region.clone(),
            })
            .collect();
        data.kv = c
            .kv_namespaces
            .iter()
            .map(|k| DataBinding {
                binding: k.binding.clone(),
                id: k.id.clone(),
                primary_region: k.primary_region.clone(),
            })
            .collect();
        for (k, v) in &c.vars {
            let value = match v {
                VarValue::Text(s) => serde_json::Value::String(s.clone()),
                VarValue::Json(j) => serde_json::from_str(j)
                    .with_context(|| format!("var `{k}` is not valid JSON"))?,
            };
            vars.insert(k.clone(), value);
        }
        cpu_ms = c.limits.cpu_ms;
        if !c.routes.is_empty() {
            routes = Some(
                c.routes
                    .iter()
                    .map(|r| {
                        if r.custom_domain && !r.pattern.contains('/') {
                            format!("{}/*", r.pattern)
                        } else {
                            r.pattern.clone()
                        }
                    })
                    .collect(),
            );
        }
    }
    let deployed = block_on(async {
        let info: BundleInfo = {
            let reply = client
                .call(
                    Method::PUT,
                    &format!("/v1/bundles/{hash}"),
                    &[
                        ("content-type", "application/vnd.outpost.bundle".into()),
                        (BUNDLE_HASH_HEADER, hash.clone()),
                    ],
                    Bytes::from(bytes),
                )
                .await
                .context("uploading the bundle")?;
            serde_json::from_slice(&reply.body)?
        };
        let deployed: Deployed = client
            .send_json(
                Method::POST,
                &format!("/v1/workers/{name}/versions"),
                &NewVersion {
                    bundle: info.hash,
                    vars,
                    cpu_ms,
                    routes,
                    message: args.message.clone(),
                    data,
                },
            )
            .await
            .context("creating the version")?;
        anyhow::Ok(deployed)
    })??;
    println!(
        "Uploaded `{name}` version {} in {} ms; waiting for the nodes",
        deployed.version,
        started.elapsed().as_millis()
    );
    flush();
    block_on(wait_for_nodes(
        &client,
        &deployed,
        Duration::from_secs(args.timeout),
    ))?
}

/// Polls `/v1/nodes` until every online node runs `deployed` (or a later
/// deployment of the worker), printing each node as it gets there.
async fn wait_for_nodes(
    client: &Client,
    deployed: &Deployed,
    timeout: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let name = &deployed.worker;
    let mut announced = HashSet::new();
    loop {
        let nodes: Vec<NodeStatus> = client.get_json("/v1/nodes").await?;
        let online: Vec<&NodeStatus> = nodes.iter().filter(|n| n.online).collect();
        if online.is_empty() {
            println!(
                "No nodes follow the control plane right now; they will run version {} when they connect.",
                deployed.version
            );
            return Ok(());
        }
        let mut done = 0;
        let mut failed = Vec::new();
        for n in &online {
            let r = &n.report;
            match r.workers.get(name.as_str()) {
                Some(w) if w.deployment >= deployed.deployment => {
                    done += 1;
                    if announced.insert(r.id.clone()) {
                        let later = if w.version != deployed.version {
                            format!(" (a later change made version {} active)", w.version)
                        } else {
                            String::new()
                        };
                        println!(
                            "  node {} ({}, {}) runs version {} after {} ms{later}",
                            r.id,
                            r.region,
                            r.addr,
                            w.version,
                            start.elapsed().as_millis()
                        );
                        flush();
                    }
                }
                _ if r.applied >= deployed.state_version => {
                    let why = r
                        .errors
                        .get(name.as_str())
                        .cloned()
                        .unwrap_or_else(|| "unknown error".into());
                    failed.push(format!("node {} ({}): {why}", r.id, r.region));
                }
                _ => {}
            }
        }
        if done + failed.len() == online.len() {
            if !failed.is_empty() {
                bail!(
                    "{} of {} nodes could not run version {} of `{name}` and keep the previous one:\n  {}",
                    failed.len(),
                    online.len(),
                    deployed.version,
                    failed.join("\n  ")
                );
            }
            println!(
                "Deployed `{name}` version {} to {done}/{} nodes in {:.3} s",
                deployed.version,
                online.len(),
                start.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        if start.elapsed() > timeout {
            let waiting: Vec<String> = online
                .iter()
                .filter(|n| !announced.contains(&n.report.id))
                .map(|n| format!("{} ({})", n.report.id, n.report.region))
                .collect();
            bail!(
                "timed out after {} s: {done}/{} nodes run version {} of `{name}`; still waiting for {}",
                timeout.as_secs(),
                online.len(),
                deployed.version,
                waiting.join(", ")
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Arguments of `outpost rollback`.
#[derive(clap::Args, Debug)]
pub struct RollbackArgs {
    #[command(flatten)]
    remote: RemoteArgs,
    /// Worker name.
    name: String,
    /// Version to make active (default: the one before the active version).
    version: Option<u64>,
    /// Seconds to wait for every node to run it.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// `outpost rollback NAME [VERSION]`.
pub fn rollback(args: RollbackArgs) -> anyhow::Result<()> {
    let client = args.remote.client(args.remote.config()?.as_ref())?;
    block_on(async {
        let deployed: Deployed = client
            .send_json(
                Method::POST,
                &format!("/v1/workers/{}/rollback", args.name),
                &Rollback {
                    version: args.version,
                },
            )
            .await?;
        println!(
            "Rolled `{}` back to version {}; waiting for the nodes",
            args.name, deployed.version
        );
        flush();
        wait_for_nodes(&client, &deployed, Duration::from_secs(args.timeout)).await
    })?
}

/// Arguments of `outpost versions`.
#[derive(clap::Args, Debug)]
pub struct VersionsArgs {
    #[command(flatten)]
    remote: RemoteArgs,
    /// Worker name.
    name: String,
}

fn ago(created: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let s = now.saturating_sub(created);
    match s {
        0..=59 => format!("{s} s ago"),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86399 => format!("{} h ago", s / 3600),
        _ => format!("{} days ago", s / 86400),
    }
}

/// `outpost versions NAME`.
pub fn versions(args: VersionsArgs) -> anyhow::Result<()> {
    let client = args.remote.client(args.remote.config()?.as_ref())?;
    let list: Vec<VersionInfo> =
        block_on(client.get_json(&format!("/v1/workers/{}/versions", args.name)))??;
    println!("  VERSION  CREATED        BUNDLE        MESSAGE");
    for v in list {
        println!(
            "{} {:<8} {:<14} {:<13} {}",
            if v.active { "*" } else { " " },
            v.version,
            ago(v.created),
            &v.bundle[..12.min(v.bundle.len())],
            v.message.unwrap_or_default()
        );
    }
    Ok(())
}

/// Arguments of `outpost secret`.
#[derive(clap::Args, Debug)]
pub struct SecretArgs {
    #[command(subcommand)]
    action: SecretAction,
}

/// What `outpost secret` does.
#[derive(clap::Subcommand, Debug)]
pub enum SecretAction {
    /// Set a secret of a worker; the value is read from standard input.
    Put {
        #[command(flatten)]
        remote: RemoteArgs,
        /// Worker name.
        name: String,
        /// Secret name (a JavaScript identifier).
        key: String,
    },
    /// List a worker's secrets (names only: values are never returned).
    List {
        #[command(flatten)]
        remote: RemoteArgs,
        /// Worker name.
        name: String,
    },
    /// Delete a secret.
    Delete {
        #[command(flatten)]
        remote: RemoteArgs,
        /// Worker name.
        name: String,
        /// Secret name.
        key: String,
    },
}

/// `outpost secret put|list|delete`.
pub fn secret(args: SecretArgs) -> anyhow::Result<()> {
    match args.action {
        SecretAction::Put { remote, name, key } => {
            let client = remote.client(remote.config()?.as_ref())?;
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                eprint!("Value of secret `{key}` for `{name}` (end with Enter): ");
                let mut line = String::new();
                stdin.read_line(&mut line)?;
                put_secret(&client, &name, &key, line)
            } else {
                let mut value = String::new();
                stdin
                    .lock()
                    .read_to_string(&mut value)
                    .context("reading the secret from standard input")?;
                put_secret(&client, &name, &key, value)
            }
        }
        SecretAction::List { remote, name } => {
            let client = remote.client(remote.config()?.as_ref())?;
            let names: Vec<String> =
                block_on(client.get_json(&format!("/v1/workers/{name}/secrets")))??;
            for n in names {
                println!("{n}");
            }
            Ok(())
        }
        SecretAction::Delete { remote, name, key } => {
            let client = remote.client(remote.config()?.as_ref())?;
            block_on(client.call(
                Method::DELETE,
                &format!("/v1/workers/{name}/secrets/{key}"),
                &[],
                Bytes::new(),
            ))??;
            println!("Deleted secret `{key}` of `{name}`");
            Ok(())
        }
    }
}

fn put_secret(client: &Client, name: &str, key: &str, mut value: String) -> anyhow::Result<()> {
    // One trailing newline is the end of the input, not of the secret.
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    block_on(client.call(
        Method::PUT,
        &format!("/v1/workers/{name}/secrets/{key}"),
        &[("content-type", "text/plain".into())],
        Bytes::from(value),
    ))??;
    println!("Set secret `{key}` of `{name}`");
    Ok(())
}

/// Arguments of `outpost routes`.
#[derive(clap::Args, Debug)]
pub struct RoutesArgs {
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(subcommand)]
    action: Option<RoutesAction>,
}

/// What `outpost routes` does besides listing.
#[derive(clap::Subcommand, Debug)]
pub enum RoutesAction {
    /// Send requests matching PATTERN (`host/path*`) to WORKER.
    Add {
        /// e.g. `example.com/*` or `*.example.com/api/*`.
        pattern: String,
        /// Worker name.
        worker: String,
    },
    /// Remove a route pattern.
    Remove {
        /// The pattern as listed.
        pattern: String,
    },
}

/// `outpost routes [add PATTERN WORKER | remove PATTERN]`.
pub fn routes(args: RoutesArgs) -> anyhow::Result<()> {
    let client = args.remote.client(args.remote.config()?.as_ref())?;
    match args.action {
        Some(RoutesAction::Add { pattern, worker }) => {
            let _: serde_json::Value = block_on(client.send_json(
                Method::POST,
                "/v1/routes",
                &RouteEntry {
                    pattern: pattern.clone(),
                    worker: worker.clone(),
                },
            ))??;
            println!("Route {pattern} -> {worker}");
        }
        Some(RoutesAction::Remove { pattern }) => {
            let _: serde_json::Value = block_on(client.send_json(
                Method::DELETE,
                "/v1/routes",
                &serde_json::json!({ "pattern": pattern }),
            ))??;
            println!("Removed route {pattern}");
        }
        None => {
            let r: RoutesInfo = block_on(client.get_json("/v1/routes"))??;
            println!("Routes (most specific first):");
            if r.routes.is_empty() {
                println!("  (none)");
            }
            for e in &r.routes {
                println!("  {:<40} -> {}", e.pattern, e.worker);
            }
            println!("Default hosts (*.{}):", r.domain);
            for e in &r.default_hosts {
                println!("  {:<40} -> {}", e.pattern, e.worker);
            }
        }
    }
    Ok(())
}

/// Arguments of `outpost token`.
#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(subcommand)]
    action: TokenAction,
}

/// What `outpost token` does.
#[derive(clap::Subcommand, Debug)]
pub enum TokenAction {
    /// Create a token; prints it on standard output (shown this once).
    Create {
        /// A label.
        name: String,
        /// `read`, `deploy`, `node` or `admin`.
        #[arg(long, default_value = "deploy")]
        scope: String,
    },
    /// List tokens (without their secrets).
    List,
    /// Revoke a token by id.
    Revoke {
        /// The id shown by `outpost token list`.
        id: String,
    },
}

/// `outpost token create|list|revoke`.
pub fn token(args: TokenArgs) -> anyhow::Result<()> {
    let client = args.remote.client(args.remote.config()?.as_ref())?;
    match args.action {
        TokenAction::Create { name, scope } => {
            let Some(scope) = Scope::parse(&scope) else {
                bail!("unknown scope `{scope}`: use read, deploy, node or admin");
            };
            let created: CreatedToken =
                block_on(client.send_json(Method::POST, "/v1/tokens", &NewToken { name, scope }))??;
            eprintln!(
                "Created token `{}` (id {}, scope {}); it is shown only once:",
                created.info.name, created.info.id, created.info.scope
            );
            println!("{}", created.token);
        }
        TokenAction::List => {
            let list: Vec<TokenInfo> = block_on(client.get_json("/v1/tokens"))??;
            println!("ID            SCOPE   CREATED        NAME");
            for t in list {
                println!(
                    "{:<13} {:<7} {:<14} {}",
                    t.id,
                    t.scope,
                    ago(t.created),
                    t.name
                );
            }
        }
        TokenAction::Revoke { id } => {
            block_on(client.call(
                Method::DELETE,
                &format!("/v1/tokens/{id}"),
                &[],
                Bytes::new(),
            ))??;
            println!("Revoked token {id}");
        }
    }
    Ok(())
}

/// Arguments of `outpost nodes`.
#[derive(clap::Args, Debug)]
pub struct NodesArgs {
    #[command(flatten)]
    remote: RemoteArgs,
}

/// `outpost nodes`: the nodes following the control plane and what they run.
pub fn nodes(args: NodesArgs) -> anyhow::Result<()> {
    let client = args.remote.client(args.remote.config()?.as_ref())?;
    let list: Vec<NodeStatus> = block_on(client.get_json("/v1/nodes"))??;
    if list.is_empty() {
        println!("No nodes have reported yet.");
    }
    for n in list {
        let r = &n.report;
        let running: Vec<String> = r
            .workers
            .iter()
            .map(|(name, w)| format!("{name}@v{}", w.version))
            .collect();
        println!(
            "{} {:<10} {:<12} {:<24} state {:<5} {}",
            if n.online { "●" } else { "○" },
            r.id,
            r.region,
            r.addr,
            r.applied,
            running.join(" ")
        );
        for (w, e) in &r.errors {
            println!("    {w}: {e}");
        }
        for (db, st) in &r.data {
            println!(
                "    replica {db}: position {} of {} (lag {} entries, {} ms){}",
                st.position,
                st.head,
                st.head.saturating_sub(st.position),
                st.lag_ms,
                st.error
                    .as_deref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            );
        }
        for (db, head) in &r.primaries {
            println!("    primary {db}: head {head} (data API {})", r.data_url);
        }
    }
    Ok(())
}
