//! The `outpost` binary: the command-line edge of the platform. Parses
//! arguments, sets up logging, and hands off to one module per subcommand.

mod dev;

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
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
