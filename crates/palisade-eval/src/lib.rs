//! Evaluation harness: measures detectors on labelled data and tests endpoints
//! for robustness, repeatability and fairness.
//!
//! [`detect`] scores `palisade-detect` on labelled PII datasets (precision,
//! recall and F1 per entity type) and renders the table kept in
//! `EVALUATION.md`. [`classifiers`] trains and evaluates the prompt-injection
//! and toxicity classifiers (issue 4).

pub mod classifiers;
pub mod detect;

/// Errors of the evaluation harness. Messages name files, never their
/// contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The dataset could not be read.
    #[error("cannot read dataset {path}: {source}")]
    Read {
        /// Path that failed.
        path: String,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The dataset is not in a known format.
    #[error("dataset {path} is not in the expected format: {reason}")]
    Format {
        /// Path of the dataset.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The detection engine failed to build.
    #[error(transparent)]
    Detect(#[from] palisade_detect::Error),
}

/// Replaces the block between `begin` and `end` (markers included, plus one
/// newline after `end`) with `block`; `None` when the markers are missing.
pub fn replace_marked(doc: &str, begin: &str, end: &str, block: &str) -> Option<String> {
    let b = doc.find(begin)?;
    let e = doc.find(end).filter(|e| *e > b)?;
    let mut after = e + end.len();
    if doc[after..].starts_with('\n') {
        after += 1;
    }
    Some(format!("{}{}{}", &doc[..b], block, &doc[after..]))
}
