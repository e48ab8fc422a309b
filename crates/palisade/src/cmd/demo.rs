//! `palisade demo`: guided tour.

use std::process::ExitCode;

/// Arguments of `palisade demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {}

/// Runs `palisade demo`.
pub fn run(_args: DemoArgs) -> anyhow::Result<ExitCode> {
    Err(crate::exit::failure(anyhow::anyhow!("not yet")))
}
