#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Quality gate on the labelled PII set, when the shared data directory is
//! present beside the repository (as in CI); skipped on a bare clone.
//! Thresholds sit a little under the numbers recorded in EVALUATION.md so
//! that a regression fails the build.

use std::path::PathBuf;

use palisade_eval::detect;

#[test]
fn presidio_research_synth_does_not_regress() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let Ok(path) = detect::dataset_path(&root, "presidio-research-synth") else {
        eprintln!("skipped: {} not present", root.display());
        return;
    };
    let samples = detect::load(&path).unwrap();
    let report = detect::evaluate("presidio-research-synth", &samples).unwrap();
    let row = |k: &str| report.rows.iter().find(|r| r.kind == k).unwrap();
    let floors = [
        ("email", 0.99, 0.99),
        ("credit_card", 0.99, 0.90),
        ("iban", 0.99, 0.90),
        ("us_ssn", 0.99, 0.99),
        ("ip_address", 0.99, 0.99),
        ("phone", 0.80, 0.90),
        ("person", 0.80, 0.38),
        ("address", 0.95, 0.30),
    ];
    for (kind, p, r) in floors {
        let got = row(kind);
        assert!(got.precision >= p && got.recall >= r, "{kind}: {got:?}");
    }
    assert!(report.micro.f1 >= 0.62, "{:?}", report.micro);
}
