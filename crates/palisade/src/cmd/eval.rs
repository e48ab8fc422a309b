//! `palisade eval`: measure detectors against labelled datasets.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use palisade_eval::{classifiers, detect};

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
        /// Dataset name: a directory under `<data-root>/pii/`, or
        /// `classifiers` (both trained classifiers), `prompt_injection` or
        /// `toxicity` for the issue-4 classifiers (AUC, TPR at 1 % FPR,
        /// precision/recall/F1 at the shipped threshold, cross-dataset rows
        /// and a TF-IDF + logistic-regression baseline).
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
        } if matches!(
            dataset.as_str(),
            "classifiers" | "prompt_injection" | "toxicity"
        ) =>
        {
            let mut reports = Vec::new();
            if dataset != "toxicity" {
                let samples = classifiers::load_injection(&data_root).map_err(exit::invalid)?;
                reports.push(classifiers::evaluate_injection(&samples).map_err(exit::failure)?);
            }
            if dataset != "prompt_injection" {
                let samples = classifiers::load_toxicity(&data_root).map_err(exit::invalid)?;
                reports.push(classifiers::evaluate_toxicity(&samples).map_err(exit::failure)?);
            }
            let block = classifiers::to_markdown(&reports);
            let out = Output {
                format,
                path: &output,
                no_write,
            };
            out.emit(&reports, &block, classifiers::update_markdown)
        }
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
            let block = report.to_markdown();
            let out = Output {
                format,
                path: &output,
                no_write,
            };
            out.emit(&report, &block, detect::update_markdown)
        }
    }
}

/// Where a report goes: JSON to stdout, or the Markdown block to stdout and
/// into its section of the Markdown file.
struct Output<'a> {
    format: Format,
    path: &'a std::path::Path,
    no_write: bool,
}

impl Output<'_> {
    fn emit(
        &self,
        report: &impl serde::Serialize,
        block: &str,
        update: fn(&str, &str) -> String,
    ) -> anyhow::Result<ExitCode> {
        let mut out = std::io::stdout().lock();
        match self.format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut out, report).map_err(exit::failure)?;
                writeln!(out)?;
            }
            Format::Human => {
                write!(out, "{block}")?;
                if !self.no_write {
                    let doc = match std::fs::read_to_string(self.path) {
                        Ok(d) => d,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                        Err(e) => return Err(exit::failure(e)),
                    };
                    std::fs::write(self.path, update(&doc, block)).map_err(exit::failure)?;
                    writeln!(out, "updated {}", self.path.display())?;
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
