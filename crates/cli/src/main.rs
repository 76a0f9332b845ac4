//! The `outpost` binary: the command-line edge of the platform. Parses
//! arguments, sets up logging, and hands off to one module per subcommand.

mod build;
mod build_cmd;
mod data_cmd;
mod dev;
mod remote;
mod serve;

use clap::{Parser, Subcommand};

/// Outpost: run Workers-style JavaScript handlers on QuickJS isolates.
#[derive(Parser)]
#[command(name = "outpost", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a worker locally, reloading it when its files change.
    Dev(dev::DevArgs),
    /// Build the worker's bundle (TypeScript, npm packages) and print its hash.
    Build(build_cmd::BuildArgs),
    /// Run the platform: control plane and edge node (or either alone).
    Serve(serve::ServeArgs),
    /// Build the worker, upload it as a new version, and wait for every node to run it.
    Deploy(remote::DeployArgs),
    /// Make an earlier version of a worker active again.
    Rollback(remote::RollbackArgs),
    /// List a worker's versions.
    Versions(remote::VersionsArgs),
    /// Set, list or delete a worker's secrets.
    Secret(remote::SecretArgs),
    /// List route patterns and default hosts, or add and remove routes.
    Routes(remote::RoutesArgs),
    /// Create, list or revoke control API tokens.
    Token(remote::TokenArgs),
    /// List the nodes following the control plane, what they run and their replicas' lag.
    Nodes(remote::NodesArgs),
    /// D1 databases: list, create, execute SQL, export as SQL.
    Db(data_cmd::DbArgs),
    /// KV namespaces: put, get, delete, list keys.
    Kv(data_cmd::KvArgs),
}

fn main() -> std::process::ExitCode {
    let level = match std::env::var("OUTPOST_LOG").as_deref() {
        Ok("debug") => tracing::Level::DEBUG,
        Ok("trace") => tracing::Level::TRACE,
        Ok("warn") => tracing::Level::WARN,
        Ok("error") => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dev(args) => dev::run(args),
        Command::Build(args) => build_cmd::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Deploy(args) => remote::deploy(args),
        Command::Rollback(args) => remote::rollback(args),
        Command::Versions(args) => remote::versions(args),
        Command::Secret(args) => remote::secret(args),
        Command::Routes(args) => remote::routes(args),
        Command::Token(args) => remote::token(args),
        Command::Nodes(args) => remote::nodes(args),
        Command::Db(args) => data_cmd::db(args),
        Command::Kv(args) => data_cmd::kv(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
