//! Process exit codes shared by every command, so scripts and CI pipelines can
//! tell "found something" from "could not run".

use std::fmt;
use std::process::ExitCode;

/// Meaning of a `palisade` exit status. Documented in `docs/cli.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The command ran and found nothing that breaches the policy.
    Ok = 0,
    /// The command ran and its findings breach the policy (or a verification failed).
    Findings = 1,
    /// The input, configuration or command line is invalid.
    Invalid = 2,
    /// The command could not run: I/O, network or an internal failure.
    Failure = 3,
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> Self {
        ExitCode::from(status as u8)
    }
}

/// An error that carries the exit status it should end the process with.
#[derive(Debug)]
pub struct CliError {
    /// Exit status to use.
    pub status: Status,
    /// What went wrong, for the user.
    pub error: anyhow::Error,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.error)
    }
}

impl std::error::Error for CliError {}

/// Marks an error as invalid input (exit 2).
pub fn invalid(error: impl Into<anyhow::Error>) -> anyhow::Error {
    CliError {
        status: Status::Invalid,
        error: error.into(),
    }
    .into()
}

/// Marks an error as a failure to run (exit 3).
pub fn failure(error: impl Into<anyhow::Error>) -> anyhow::Error {
    CliError {
        status: Status::Failure,
        error: error.into(),
    }
    .into()
}

/// The exit status an error should produce: the one it was marked with, else `Failure`.
pub fn status_of(error: &anyhow::Error) -> Status {
    error
        .downcast_ref::<CliError>()
        .map(|e| e.status)
        .unwrap_or(Status::Failure)
}
