//! Prints the injection and toxicity verdicts for each argument (or each
//! line of standard input): `cargo run -p palisade-detect --example classify -- "text"`.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::io::BufRead;

use palisade_detect::classify::{InjectionClassifier, ToxicityClassifier};

fn main() {
    let inj = InjectionClassifier::load_embedded().unwrap();
    let tox = ToxicityClassifier::load_embedded().unwrap();
    println!(
        "thresholds: injection {:.3}, toxicity {:.3}",
        inj.threshold(),
        tox.threshold()
    );
    let mut texts: Vec<String> = std::env::args().skip(1).collect();
    if texts.is_empty() {
        texts = std::io::stdin()
            .lock()
            .lines()
            .map_while(Result::ok)
            .collect();
    }
    for t in texts {
        let a = inj.score(&t);
        let b = tox.score(&t);
        println!(
            "{t}\n  injection {:.3} {} [{}]\n  toxicity  {:.3} {} [{}]",
            a.score,
            if a.flagged { "FLAG" } else { "ok" },
            a.reason_string(),
            b.score,
            if b.flagged { "FLAG" } else { "ok" },
            b.reason_string()
        );
    }
}
