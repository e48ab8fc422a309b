//! Quality gate on the labelled PII set: fails (exit 1) when detection
//! quality drops below floors set a little under the numbers recorded in
//! EVALUATION.md. It is an evaluation, not a test: the test suite must pass
//! without the shared data, so `bench/run-evaluations.sh` runs this where the
//! data exists.
//!
//! Usage: cargo run -p palisade-eval --example quality_gate -- DATA_ROOT
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::path::PathBuf;
use std::process::ExitCode;

use palisade_eval::detect;

/// (kind, minimum precision, minimum recall).
const FLOORS: &[(&str, f64, f64)] = &[
    ("email", 0.99, 0.99),
    ("credit_card", 0.99, 0.90),
    ("iban", 0.99, 0.90),
    ("us_ssn", 0.99, 0.99),
    ("ip_address", 0.99, 0.99),
    ("phone", 0.80, 0.90),
    ("person", 0.89, 0.58),
    ("address", 0.98, 0.65),
];
const MIN_MICRO_F1: f64 = 0.78;

fn main() -> ExitCode {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/data".into()),
    );
    let loaded =
        detect::dataset_path(&root, "presidio-research-synth").and_then(|p| detect::load(&p));
    let samples = match loaded {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "quality gate: cannot load presidio-research-synth under {}: {e}",
                root.display()
            );
            return ExitCode::from(2);
        }
    };
    let report = match detect::evaluate("presidio-research-synth", &samples) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("quality gate: evaluation failed: {e}");
            return ExitCode::from(3);
        }
    };
    let mut failures = 0;
    for (kind, min_p, min_r) in FLOORS {
        match report.rows.iter().find(|r| r.kind == *kind) {
            Some(row) if row.precision >= *min_p && row.recall >= *min_r => {
                println!(
                    "ok   {kind}: P {:.3} >= {min_p}, R {:.3} >= {min_r}",
                    row.precision, row.recall
                );
            }
            Some(row) => {
                failures += 1;
                println!(
                    "FAIL {kind}: P {:.3} (min {min_p}), R {:.3} (min {min_r})",
                    row.precision, row.recall
                );
            }
            None => {
                failures += 1;
                println!("FAIL {kind}: no row in the report");
            }
        }
    }
    if report.micro.f1 < MIN_MICRO_F1 {
        failures += 1;
        println!("FAIL micro F1 {:.3} < {MIN_MICRO_F1}", report.micro.f1);
    } else {
        println!("ok   micro F1 {:.3} >= {MIN_MICRO_F1}", report.micro.f1);
    }
    println!("{} passed, {failures} failed", FLOORS.len() + 1 - failures);
    if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
