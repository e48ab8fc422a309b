//! `palisade model`: scan, sign and verify model files.

use std::process::ExitCode;

/// Subcommands of `palisade model`.
#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Scan model files for code that runs when they are loaded.
    Scan {
        /// Files or directories to scan.
        paths: Vec<std::path::PathBuf>,
    },
}

/// Runs `palisade model`.
pub fn run(_command: ModelCommand) -> anyhow::Result<ExitCode> {
    Err(crate::exit::failure(anyhow::anyhow!(
        "`palisade model` is not available in this build yet"
    )))
}
