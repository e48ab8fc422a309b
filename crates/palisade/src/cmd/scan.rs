//! `palisade scan`: find personal data, secrets and attacks in text.

use std::process::ExitCode;

/// Arguments of `palisade scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// File to scan, or `-` for standard input.
    #[arg(default_value = "-")]
    pub input: String,
}

/// Runs `palisade scan`.
pub fn run(_args: ScanArgs) -> anyhow::Result<ExitCode> {
    Err(crate::exit::failure(anyhow::anyhow!(
        "`palisade scan` is not available in this build yet"
    )))
}
