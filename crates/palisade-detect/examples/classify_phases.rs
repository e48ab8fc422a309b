//! Wall-clock cost of each phase of the classifiers on one text, for
//! BENCHMARKS.md: the attack normaliser, char and word n-grams, the rule
//! regexes, the ROT13 screens that decide whether the rules also run over
//! the ROT13 view, the injection findings on extracted features, and
//! `Classifiers::scan` with both models and with injection alone (what the
//! gateway's input stage runs). Best of seven loops of `N` calls each.
//!
//! ```text
//! cargo build --release -p palisade-detect --example classify_phases
//! target/release/examples/classify_phases FILE [N]
//! ```
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::time::Instant;

use palisade_detect::classify::features::{CharGrams, word_grams};
use palisade_detect::classify::injection::{RULES, TAG_INSTRUCTION};
use palisade_detect::classify::model::{Features, RuleDef, rot13_screen};
use palisade_detect::classify::{Classifiers, InjectionClassifier};
use palisade_detect::decode::{Work, prepare};
use regex_automata::Input;

/// Prints the best mean over seven loops of `n` calls of `f`.
fn time(name: &str, n: usize, mut f: impl FnMut()) {
    let mut best = f64::MAX;
    for _ in 0..7 {
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(start.elapsed().as_secs_f64() / n as f64 * 1e6);
    }
    println!("{name:>24}: {best:7.2} µs");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text =
        std::fs::read_to_string(args.get(1).expect("usage: classify_phases FILE [N]")).unwrap();
    let n: usize = args.get(2).map_or(2000, |a| a.parse().unwrap());
    let injection = InjectionClassifier::load_embedded().unwrap();
    let bits = injection.bits();
    let mut work = Work::default();
    time("prepare", n, || {
        black_box(prepare(black_box(&text), &mut work));
    });
    let prepared = prepare(&text, &mut work);
    time("char n-grams", n, || {
        black_box(CharGrams::new(black_box(&prepared.text), bits));
    });
    let mut words = Vec::new();
    time("word n-grams", n, || {
        words.clear();
        word_grams(black_box(&prepared.text), bits, &mut words);
        black_box(&words);
    });
    let features = Features::new(&text, bits, &mut work);
    time("rule regexes", n, || {
        black_box(
            injection
                .rules()
                .hits(black_box(&features.prepared.text), &mut work),
        );
    });
    let instruction: Vec<RuleDef> = RULES
        .iter()
        .filter(|d| d.tag == TAG_INSTRUCTION)
        .copied()
        .collect();
    let screens = rot13_screen(&instruction).unwrap();
    time("ROT13 screens", n, || {
        let text = black_box(features.prepared.text.as_str());
        black_box(screens.iter().any(|s| s.is_match(Input::new(text))));
    });
    time("injection findings", n, || {
        black_box(injection.findings_with_features(&text, features.clone(), &mut work));
    });
    let mut found = Vec::new();
    let both = Classifiers::new(true, true).unwrap();
    time("scan, both classifiers", n, || {
        found.clear();
        both.scan(black_box(&text), &mut found);
    });
    let input_stage = Classifiers::new(true, false).unwrap();
    time("scan, injection only", n, || {
        found.clear();
        input_stage.scan(black_box(&text), &mut found);
    });
}
