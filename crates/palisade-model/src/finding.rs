//! Findings: what a scan reports, with severity, construct, location and offset.

use serde::Serialize;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing, not a risk by itself.
    Info,
    /// A weak signal or something that could not be inspected but cannot load either.
    Low,
    /// Unusual structure that deserves a look.
    Medium,
    /// Suspicious: code that is not on the allow-list may run, or structure is unsafe.
    High,
    /// Known-dangerous: loading the file runs attacker-chosen code.
    Critical,
}

impl Severity {
    /// Lower-case name, as used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing a scan found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// Stable rule identifier in snake_case, e.g. `pickle_dangerous_import`.
    pub rule: &'static str,
    /// The offending import or construct, e.g. `os.system` or `Lambda`.
    pub construct: String,
    /// Where: the file path, with `!member` appended for each archive level.
    pub location: String,
    /// Byte offset within the innermost stream named by `location`.
    pub offset: u64,
    /// Human explanation.
    pub message: String,
}
