//! Runs one classifier workload in a loop over the benchmark text, for
//! `perf record` or for stable instruction counts with callgrind:
//!
//! ```text
//! cargo build --release -p palisade-detect --example classify_profile
//! valgrind --tool=callgrind --toggle-collect='*InjectionClassifier::score' \
//!     target/release/examples/classify_profile injection 1024 200
//! ```
//!
//! Workloads: `injection`, `toxicity` (score), `pipeline` (Scanner::scan with
//! every detector and both classifiers), `patterns` (Scanner::scan without
//! the classifiers), `output` (Scanner::scan with the pattern detectors and
//! toxicity, as the gateway's `standard` output stage scans an answer).
//! Arguments: workload, text size in bytes, iterations.
//! `PROFILE_TEXT=FILE` scans that file instead of the generated text;
//! workload `dump` prints the generated text.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::hint::black_box;

use palisade_detect::classify::{InjectionClassifier, ToxicityClassifier};
use palisade_detect::{Config, Kind, Scanner};

#[path = "../benches/support/text.rs"]
mod text;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("injection", String::as_str);
    let size: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let n: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let mut t = text::mixed(size);
    let mut cut = size.min(t.len());
    while !t.is_char_boundary(cut) {
        cut -= 1;
    }
    t.truncate(cut);
    // Another text instead of the generated one, to compare inputs (the
    // size argument is then ignored).
    if let Some(path) = std::env::var_os("PROFILE_TEXT") {
        t = std::fs::read_to_string(path).unwrap();
    }
    if mode == "dump" {
        print!("{t}");
        return;
    }
    let mut acc = 0usize;
    match mode {
        "injection" => {
            let c = InjectionClassifier::load_embedded().unwrap();
            for _ in 0..n {
                acc += black_box(c.score(black_box(&t))).reasons.len();
            }
        }
        "toxicity" => {
            let c = ToxicityClassifier::load_embedded().unwrap();
            for _ in 0..n {
                acc += black_box(c.score(black_box(&t))).reasons.len();
            }
        }
        "pipeline" | "patterns" | "output" => {
            let config = if mode == "pipeline" {
                Config::default()
            } else if mode == "output" {
                // What the gateway's `standard` output stage runs on each
                // text of an answer: the pattern detectors and toxicity.
                Config::only(
                    Kind::ALL
                        .iter()
                        .copied()
                        .filter(|k| !k.is_verdict() || *k == Kind::Toxicity),
                )
            } else {
                Config {
                    kinds: Some(
                        Kind::ALL
                            .iter()
                            .copied()
                            .filter(|k| !k.is_verdict())
                            .collect(),
                    ),
                    ..Config::default()
                }
            };
            let s = Scanner::new(config).unwrap();
            for _ in 0..n {
                acc += black_box(s.scan(black_box(&t))).len();
            }
        }
        _ => {
            println!("unknown workload {mode}");
            return;
        }
    }
    println!("{mode}: {n} iterations on {} bytes ({acc})", t.len());
}
