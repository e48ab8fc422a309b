//! `palisade serve`: run the gateway.

use std::process::ExitCode;

/// Arguments of `palisade serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {}

/// Runs `palisade serve`.
pub fn run(_args: ServeArgs) -> anyhow::Result<ExitCode> {
    Err(crate::exit::failure(anyhow::anyhow!("not yet")))
}
