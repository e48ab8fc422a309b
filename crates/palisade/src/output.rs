//! Output formats shared by every command that prints results.

use clap::ValueEnum;

/// How a command prints its results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Human,
    /// One JSON document (or JSON lines where the command says so) for programs.
    Json,
}
