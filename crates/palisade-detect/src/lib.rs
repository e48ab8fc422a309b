//! Detection engine shared by the gateway guardrails and the data commands.
//!
//! A pure library: no I/O, no async, no global state. Every detector reports
//! findings in one shape (kind, byte span, score, reason) so callers can
//! combine, explain and act on them uniformly.
//!
//! * [`Scanner`] — build once from a [`Config`], then [`Scanner::scan`] any
//!   number of `&str` from any thread; one regex pass for every pattern
//!   detector, one word-lookup pass for keywords and name lists.
//! * [`Finding`] / [`Kind`] / [`Severity`] — the result shape (DESIGN.md).
//! * [`normalize`] — NFKC + invisible stripping + confusable folding, with a
//!   byte map back to the input; the classifiers of issue 4 reuse it.
//! * [`classify`] — trained prompt-injection/jailbreak and toxicity
//!   classifiers (issue 4) over the attack normaliser in [`decode`].
//! * [`canary`] — per-request canary strings and their detection.
//! * [`operators`] — redact, mask, placeholder, keyed pseudonym, reversible
//!   token (AES-SIV) with [`operators::deanonymize`], synthetic values.
//! * [`stream::StreamRedactor`] — chunk-by-chunk redaction for streamed
//!   responses, holding back [`Scanner::hold_back`] bytes.
//!
//! See `docs/detection.md` for the detector catalogue and measured quality.

mod blocks;
pub mod canary;
pub mod classify;
pub mod context;
pub mod decode;
pub mod engine;
pub mod finding;
mod lexicon;
pub mod names;
pub mod normalize;
pub mod operators;
mod paired;
pub mod pii;
mod reason;
pub mod secrets;
pub mod stream;
pub mod unicode;
pub mod validate;

pub use canary::Canary;
pub use engine::{Config, Scanner};
pub use finding::{Finding, Kind, Severity, SpanClaims, resolve_overlaps, trim_to_content};
pub use operators::{Key, Operator, anonymize, deanonymize};
pub use stream::StreamRedactor;

/// Errors of the detection engine. Messages never contain scanned text,
/// keys or detected values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A built-in pattern failed to compile (a bug in this crate).
    #[error("detector patterns failed to compile: {0}")]
    Build(String),
    /// A configuration value is out of range.
    #[error("invalid detector configuration: {0}")]
    Config(String),
    /// A name (kind, severity, operator) is not known.
    #[error("unknown {what} `{name}`")]
    UnknownName {
        /// What kind of name was expected.
        what: &'static str,
        /// The name given (truncated).
        name: String,
    },
    /// A key is too short or malformed.
    #[error("invalid key: {0}")]
    Key(&'static str),
    /// A reversible token could not be decrypted or authenticated.
    #[error("a reversible token failed to decrypt (wrong key or tampered token)")]
    Token,
    /// The operator needs a key and none was given.
    #[error("operator `{0}` needs a key")]
    MissingKey(&'static str),
    /// Classifier weights are malformed, corrupted or do not fit this build.
    #[error("invalid classifier weights: {0}")]
    Model(&'static str),
}
