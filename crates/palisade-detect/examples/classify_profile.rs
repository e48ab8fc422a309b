//! Runs the injection and toxicity scores in a loop over the benchmark
//! text, for `perf record` or `valgrind --tool=callgrind`:
//! `cargo run --release -p palisade-detect --example classify_profile -- 2000`.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::hint::black_box;

use palisade_detect::classify::{InjectionClassifier, ToxicityClassifier};

#[path = "../benches/support/text.rs"]
mod text;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let inj = InjectionClassifier::load_embedded().unwrap();
    let tox = ToxicityClassifier::load_embedded().unwrap();
    let mut t = text::mixed(1024);
    let mut cut = 1024.min(t.len());
    while !t.is_char_boundary(cut) {
        cut -= 1;
    }
    t.truncate(cut);
    let mut s = 0.0;
    for _ in 0..n {
        s += black_box(inj.score(black_box(&t))).score;
        s += black_box(tox.score(black_box(&t))).score;
    }
    println!("{} iterations on {} bytes, checksum {s:.3}", n, t.len());
}
