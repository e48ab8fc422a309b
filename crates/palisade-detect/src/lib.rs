//! Detection engine shared by the gateway guardrails and the data commands.
//!
//! A pure library: no I/O, no async, no global state. Every detector reports
//! findings in one shape (kind, byte span, score, reason) so callers can
//! combine, explain and act on them uniformly.
