//! The `palisade` command line: wires the library crates together.
//!
//! Each subcommand lives in its own module under `cmd/`; this file only parses
//! the command line, sets up logging, and turns results into exit codes.

mod cmd;
mod exit;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: the gateway allocates on one tokio
/// worker and frees on the other, which in glibc means locking the other
/// thread's arena (measured in BENCHMARKS.md, "Fifth session").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Palisade: the security layer in front of AI solutions.
#[derive(Debug, Parser)]
#[command(name = "palisade", version, about, propagate_version = true)]
struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or
    /// `palisade_gateway=debug`. Default: `info`, or `warn` for `demo`.
    #[arg(long, global = true, env = "PALISADE_LOG")]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: an OpenAI-compatible proxy that enforces the runtime controls.
    Serve(cmd::serve::ServeArgs),
    /// Start the gateway with a built-in upstream and walk through what it does.
    Demo(cmd::demo::DemoArgs),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(cmd::config::ConfigCommand),
    /// Scan text for personal data, secrets and attacks.
    Scan(cmd::scan::ScanArgs),
    /// Measure detectors on labelled datasets.
    #[command(subcommand)]
    Eval(cmd::eval::EvalCommand),
    /// Scan, sign and verify model files.
    #[command(subcommand)]
    Model(cmd::model::ModelCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = if matches!(cli.command, Command::Demo(_)) {
        "warn"
    } else {
        "info"
    };
    init_logging(cli.log.as_deref().unwrap_or(default_filter));
    let result = match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Config(command) => cmd::config::run(command),
        Command::Scan(args) => cmd::scan::run(args),
        Command::Eval(command) => cmd::eval::run(command),
        Command::Model(command) => cmd::model::run(command),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            let status = exit::status_of(&error);
            // Errors are already free of secrets: library errors never embed
            // keys, prompts or upstream bodies.
            eprintln!("error: {error:#}");
            status.into()
        }
    }
}

/// Selects aws-lc-rs as the process-wide rustls provider, before any TLS
/// config is built. Idempotent; a second provider would make rustls panic at
/// run time if both `ring` and `aws-lc-rs` were compiled in.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// JSON logs to stderr, so stdout stays free for command output.
fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .try_init();
}
