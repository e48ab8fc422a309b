//! Splits the labelled PII set by generator template into a development
//! half (even template ids: the texts whose misses may be looked at while
//! tuning heuristics) and a held-out half (odd template ids: sentence
//! shapes never looked at), and prints the detection table for each.
//! Splitting by template rather than by text means a rule tuned on a
//! development sentence cannot simply recognise the same sentence again in
//! the held-out half.
//!
//! Usage: cargo run --release -p palisade-eval --example heldout -- [DATA_ROOT] [--misses]
//!
//! `--misses` also lists, for the development half only, the person and
//! address spans that were missed and the findings of those kinds that
//! match no label.
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::path::PathBuf;
use std::process::ExitCode;

use palisade_eval::detect;

#[derive(serde::Deserialize)]
struct Record {
    #[serde(default)]
    template_id: Option<i64>,
}

fn main() -> ExitCode {
    let root = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "../shared/data".into()),
    );
    let name = "presidio-research-synth";
    let run = || -> Result<(), String> {
        let path = detect::dataset_path(&root, name).map_err(|e| e.to_string())?;
        let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
        let samples = detect::parse(&bytes)?;
        let records: Vec<Record> = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        let (mut dev, mut held) = (Vec::new(), Vec::new());
        for (s, r) in samples.into_iter().zip(records) {
            if r.template_id.unwrap_or(0) % 2 == 0 {
                dev.push(s);
            } else {
                held.push(s);
            }
        }
        if std::env::args().any(|a| a == "--misses") {
            misses(&dev)?;
        }
        for (label, part) in [
            ("development (even template ids)", dev),
            ("held-out (odd template ids)", held),
        ] {
            let report = detect::evaluate(name, &part).map_err(|e| e.to_string())?;
            println!("### {label}\n\n{}", report.to_markdown());
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("heldout: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prints missed person/address labels and unlabelled person/address
/// findings of the development half.
fn misses(dev: &[detect::Sample]) -> Result<(), String> {
    use palisade_detect::{Kind, Scanner};
    let scanner = Scanner::with_defaults().map_err(|e| e.to_string())?;
    for s in dev {
        let found = scanner.scan(&s.text);
        for (label, kind) in [("PERSON", Kind::Person), ("STREET_ADDRESS", Kind::Address)] {
            for g in s.spans.iter().filter(|g| g.label == label) {
                if !found
                    .iter()
                    .any(|f| f.kind == kind && f.start < g.end && g.start < f.end)
                {
                    println!(
                        "MISS {label}: [{}] in {:?}",
                        &s.text[g.start..g.end],
                        s.text
                    );
                }
            }
            for f in found.iter().filter(|f| f.kind == kind) {
                let ok = s.spans.iter().any(|g| {
                    g.start < f.end
                        && f.start < g.end
                        && (g.label == label
                            || (kind == Kind::Address
                                && matches!(g.label.as_str(), "GPE" | "ZIP_CODE")))
                });
                if !ok {
                    println!(
                        "FP {label}: [{}] ({}) in {:?}",
                        &s.text[f.start..f.end],
                        f.reason,
                        s.text
                    );
                }
            }
        }
    }
    Ok(())
}
