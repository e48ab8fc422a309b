//! Trains the prompt-injection and toxicity classifiers and writes the
//! weights files compiled into `palisade-detect`.
//!
//! Usage (from the repository root):
//! `cargo run --release -p palisade-eval --bin train-classifiers -- --data-root ../shared/data --out crates/palisade-detect/models`
//!
//! Deterministic: the same data gives byte-identical files.

use std::path::PathBuf;
use std::process::ExitCode;

use palisade_eval::classifiers;

fn main() -> ExitCode {
    let mut data_root = PathBuf::from("../shared/data");
    let mut out = PathBuf::from("crates/palisade-detect/models");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--data-root", Some(v)) => data_root = PathBuf::from(v),
            ("--out", Some(v)) => out = PathBuf::from(v),
            _ => {
                eprintln!("usage: train-classifiers [--data-root DIR] [--out DIR]");
                return ExitCode::from(2);
            }
        }
    }
    match run(&data_root, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("train-classifiers: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(root: &std::path::Path, out: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let inj = classifiers::load_injection(root)?;
    println!("prompt injection: {} samples", inj.len());
    let bytes = classifiers::train_injection(&inj)?;
    let p = out.join("injection.bin");
    std::fs::write(&p, &bytes)?;
    println!("wrote {} ({} bytes)", p.display(), bytes.len());
    let tox = classifiers::load_toxicity(root)?;
    println!("toxicity: {} samples", tox.len());
    let bytes = classifiers::train_toxicity(&tox)?;
    let p = out.join("toxicity.bin");
    std::fs::write(&p, &bytes)?;
    println!("wrote {} ({} bytes)", p.display(), bytes.len());
    Ok(())
}
