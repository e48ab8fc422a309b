//! `palisade eval`: measure detectors against labelled datasets.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use palisade_eval::detect;

use crate::exit;
use crate::output::Format;

/// Subcommands of `palisade eval`.
#[derive(Debug, clap::Subcommand)]
pub enum EvalCommand {
    /// Precision, recall and F1 of the detectors on a labelled dataset.
    ///
    /// Human format prints the table and writes it into EVALUATION.md
    /// (section "Detection engine"); JSON format only prints.
    Detect {
        /// Dataset name: a directory under `<data-root>/pii/`.
        #[arg(long)]
        dataset: String,
        /// Root of the shared data directory.
        #[arg(long, default_value = "../shared/data")]
        data_root: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Markdown file to update (human format only).
        #[arg(long, default_value = "EVALUATION.md")]
        output: PathBuf,
        /// Print only; do not update the Markdown file.
        #[arg(long)]
        no_write: bool,
    },
}

/// Runs `palisade eval`.
pub fn run(command: EvalCommand) -> anyhow::Result<ExitCode> {
    match command {
        EvalCommand::Detect {
            dataset,
            data_root,
            format,
            output,
            no_write,
        } => {
            let path = detect::dataset_path(&data_root, &dataset).map_err(exit::invalid)?;
            let samples = detect::load(&path).map_err(exit::invalid)?;
            let report = detect::evaluate(&dataset, &samples).map_err(exit::failure)?;
            let mut out = std::io::stdout().lock();
            match format {
                Format::Json => {
                    serde_json::to_writer_pretty(&mut out, &report).map_err(exit::failure)?;
                    writeln!(out)?;
                }
                Format::Human => {
                    let block = report.to_markdown();
                    write!(out, "{block}")?;
                    if !no_write {
                        let doc = match std::fs::read_to_string(&output) {
                            Ok(d) => d,
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                            Err(e) => return Err(exit::failure(e)),
                        };
                        std::fs::write(&output, detect::update_markdown(&doc, &block))
                            .map_err(exit::failure)?;
                        writeln!(out, "updated {}", output.display())?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
