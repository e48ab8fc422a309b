//! Report renderings: SARIF 2.1.0 for code-scanning tools.
//!
//! SARIF structure per OASIS SARIF v2.1.0 (`runs[].tool.driver`,
//! `runs[].results[]` with `ruleId`, `level`, `message.text`, and a physical
//! location whose `region.byteOffset` carries the finding's offset).

use serde_json::{Value, json};

use crate::finding::Severity;
use crate::scan::FileReport;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// Renders scan reports as a SARIF 2.1.0 log.
pub fn sarif(reports: &[FileReport], version: &str) -> Value {
    let mut results = Vec::new();
    let mut rules = std::collections::BTreeSet::new();
    for r in reports {
        for f in &r.findings {
            rules.insert(f.rule);
            results.push(json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": {"text": format!("{}: {} ({})", f.severity, f.message, f.construct)},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": r.path},
                    "region": {"byteOffset": f.offset}
                }}],
                "properties": {"severity": f.severity, "construct": f.construct, "member": f.location}
            }));
        }
        for e in &r.errors {
            rules.insert("scan_error");
            results.push(json!({
                "ruleId": "scan_error",
                "level": "error",
                "message": {"text": e},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.path}}}]
            }));
        }
    }
    let rules: Vec<Value> = rules.into_iter().map(|id| json!({"id": id})).collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "palisade model scan", "version": version, "rules": rules}},
            "results": results
        }]
    })
}
