//! Model supply chain: scan model files for code that runs on load, and sign
//! and verify them, before anyone loads a downloaded model.
//!
//! * [`scan`] walks files and directories, detects each file's format from its
//!   magic bytes and structure (never from the extension alone) and reports
//!   [`Finding`]s: pickle imports outside the allow-list, Keras Lambda layers,
//!   ONNX external data escaping the model directory, malformed safetensors or
//!   GGUF headers, Jinja chat templates that reach Python objects, and more.
//! * [`pickle`] is the opcode-level pickle machine simulation behind every
//!   pickle-based format (PyTorch, NumPy object arrays, joblib).
//! * [`signing`] signs and verifies models in the OpenSSF model-signing format
//!   (in-toto statement in a DSSE envelope in a Sigstore bundle, P-256 keys).
//! * [`lock`] writes and checks `models.lock` pin files.
//!
//! Everything reads its input as a stream with bounded memory: a multi-GB
//! checkpoint is never loaded whole.

pub mod finding;
pub mod formats;
pub mod hashing;
mod io;
pub mod lock;
pub mod pickle;
pub mod policy;
pub mod report;
pub mod scan;
pub mod signing;

pub use finding::{Finding, Severity};
pub use scan::{FileReport, ScanOptions, scan_paths};

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A stream could not be read (no path known at this level).
    #[error("read error: {0}")]
    Read(#[from] std::io::Error),
    /// The input is not a well-formed instance of the format it claims to be.
    #[error("malformed {format} at offset {offset}: {reason}")]
    Malformed {
        /// Format being parsed (`pickle`, `zip`, ...).
        format: &'static str,
        /// Byte offset where parsing failed.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// A resource bound (size, depth, count) was exceeded; the scan fails closed.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The format of a file could not be recognised.
    #[error("unrecognised format: {0}")]
    UnknownFormat(String),
    /// A key file could not be read or has an unsupported type.
    #[error("key error: {0}")]
    Key(String),
    /// A signature bundle is malformed or does not verify.
    #[error("signature error: {0}")]
    Signature(String),
    /// A lock file is malformed.
    #[error("lock file error: {0}")]
    Lock(String),
}

impl Error {
    /// Builds a [`Error::Malformed`].
    pub(crate) fn malformed(format: &'static str, offset: u64, reason: impl Into<String>) -> Self {
        Error::Malformed {
            format,
            offset,
            reason: reason.into(),
        }
    }

    /// Attaches a path to an I/O error.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
