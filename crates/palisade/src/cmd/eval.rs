//! `palisade eval`: measure detectors against labelled datasets.

use std::process::ExitCode;

/// Subcommands of `palisade eval`.
#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Precision, recall and F1 of the detectors on a labelled dataset.
    Detect {
        /// Dataset name.
        #[arg(long)]
        dataset: String,
    },
}

/// Runs `palisade eval`.
pub fn run(_command: EvalCommand) -> anyhow::Result<ExitCode> {
    Err(crate::exit::failure(anyhow::anyhow!(
        "`palisade eval` is not available in this build yet"
    )))
}
