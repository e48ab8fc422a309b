//! `palisade config`: validate configuration files.

use std::process::ExitCode;

/// Subcommands of `palisade config`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file and report every problem.
    Check {
        /// The file to check.
        file: std::path::PathBuf,
    },
}

/// Runs `palisade config`.
pub fn run(_command: ConfigCommand) -> anyhow::Result<ExitCode> {
    Err(crate::exit::failure(anyhow::anyhow!("not yet")))
}
