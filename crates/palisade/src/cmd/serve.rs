//! `palisade serve`: run the gateway until SIGINT/SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use palisade_gateway::Gateway;
use palisade_gateway::config::{self, ConfigError, Overrides, ProcessEnv};
use palisade_gateway::server::{self, TlsReloader};
use tokio_util::sync::CancellationToken;

use crate::exit;

/// Arguments of `palisade serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Configuration file; without it the embedded default is used.
    #[arg(long, short, env = "PALISADE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides `server.listen`).
    #[arg(long, env = "PALISADE_LISTEN")]
    pub listen: Option<String>,
    /// Data directory (overrides `server.data_dir`).
    #[arg(long, env = "PALISADE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// One OpenAI-compatible upstream for every model, e.g.
    /// `http://127.0.0.1:11434/v1`; its key is read from `PALISADE_UPSTREAM_API_KEY`.
    #[arg(long, env = "PALISADE_UPSTREAM")]
    pub upstream: Option<String>,
}

/// Loads configuration for `serve`-like commands, marking invalid config as exit 2.
pub fn load_config(
    path: Option<&std::path::Path>,
    overrides: &Overrides,
) -> anyhow::Result<palisade_gateway::Config> {
    config::load(path, &ProcessEnv, overrides).map_err(|e| match e {
        ConfigError::Invalid(_) => exit::invalid(e),
        ConfigError::Read { .. } => exit::invalid(e),
    })
}

/// Builds the multi-threaded runtime the gateway runs on.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| exit::failure(anyhow::anyhow!("cannot start the async runtime: {e}")))
}

/// Runs `palisade serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    crate::install_crypto_provider();
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir,
        upstream: args.upstream,
    };
    let config = load_config(args.config.as_deref(), &overrides)?;
    runtime()?.block_on(async move {
        let tls = match &config.server.tls {
            Some(files) => Some(TlsReloader::load(files.clone()).map_err(exit::invalid)?),
            None => None,
        };
        let gateway = Gateway::new(config, &ProcessEnv).await.map_err(exit::failure)?;
        let listener = server::bind(gateway.config().server.listen).await.map_err(exit::failure)?;
        let addr = listener.local_addr().map_err(exit::failure)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(listen = %addr, tls = tls.is_some(), data_dir = %gateway.config().server.data_dir.display(), "gateway listening");
        // One line on stdout that scripts (and the tests) can wait for.
        #[allow(clippy::print_stdout)]
        {
            println!("palisade listening on {scheme}://{addr}");
        }
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        server::run(gateway, listener, tls, shutdown).await.map_err(exit::failure)?;
        Ok(ExitCode::SUCCESS)
    })
}

async fn cancel_on_signal(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutdown signal received");
    token.cancel();
}
