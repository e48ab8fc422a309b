//! `palisade config`: validate configuration files and show the default.

use std::path::PathBuf;
use std::process::ExitCode;

use palisade_gateway::config::{self, ConfigError, Overrides, ProcessEnv};
use serde_json::json;

use crate::exit::{self, Status};
use crate::output::Format;

/// Subcommands of `palisade config`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file and report every problem (exit 2 when invalid).
    Check {
        /// The file to check.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Print the embedded default configuration.
    Default,
}

/// Runs `palisade config`.
#[allow(clippy::print_stdout)]
pub fn run(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Default => {
            print!("{}", config::EMBEDDED_DEFAULT);
            Ok(Status::Ok.into())
        }
        ConfigCommand::Check { file, format } => {
            let result = config::load(Some(&file), &ProcessEnv, &Overrides::default());
            match (result, format) {
                (Ok(c), Format::Human) => {
                    println!(
                        "{}: valid ({} upstream{}, {} route{})",
                        file.display(),
                        c.upstreams.len(),
                        if c.upstreams.len() == 1 { "" } else { "s" },
                        c.routes.len(),
                        if c.routes.len() == 1 { "" } else { "s" }
                    );
                    Ok(Status::Ok.into())
                }
                (Ok(c), Format::Json) => {
                    println!(
                        "{}",
                        json!({"valid": true, "problems": [], "upstreams": c.upstreams.len(), "routes": c.routes.len()})
                    );
                    Ok(Status::Ok.into())
                }
                (Err(ConfigError::Invalid(problems)), Format::Human) => {
                    println!(
                        "{}: {} problem{}",
                        file.display(),
                        problems.len(),
                        if problems.len() == 1 { "" } else { "s" }
                    );
                    for p in &problems {
                        println!("  {p}");
                    }
                    Ok(Status::Invalid.into())
                }
                (Err(ConfigError::Invalid(problems)), Format::Json) => {
                    let problems: Vec<_> = problems
                        .iter()
                        .map(|p| json!({"path": p.path, "line": p.line, "message": p.message}))
                        .collect();
                    println!("{}", json!({"valid": false, "problems": problems}));
                    Ok(Status::Invalid.into())
                }
                (Err(e @ ConfigError::Read { .. }), _) => Err(exit::invalid(e)),
            }
        }
    }
}
