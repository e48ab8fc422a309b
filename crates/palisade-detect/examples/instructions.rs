//! Scans the benchmark texts a fixed number of times so a run under
//! `valgrind --tool=callgrind` gives a repeatable instruction count per scan,
//! unaffected by other load on the machine. Only `scan_loop` is counted:
//!
//! ```text
//! cargo build --release -p palisade-detect --example instructions
//! valgrind --tool=callgrind --toggle-collect='*scan_loop*' \
//!     target/release/examples/instructions 4096 200
//! ```
//!
//! Arguments: text size in bytes (default 4096), number of scans (default
//! 100), and `patterns` to count only the pattern detectors (the scanner
//! of `benches/scan.rs`) instead of every detector including the trained
//! classifiers. Instructions per byte = total / (size × scans).
//!
//! `SCAN_THREADS=N` runs the scans on N threads at once: the count is then
//! for N × scans.
//!
//! A size of `varied` scans 256 different 4 KB texts in turn (consecutive
//! windows of the 1 MB text, as the `4KB_varied` benchmark), each once in
//! the warm-up.
//!
//! A fourth argument `time` (outside valgrind) also prints the wall-clock
//! time per scan as the best of seven loops of `scans` scans, after a
//! warm-up: on a noisy machine the minimum is the figure that repeats.
//! BENCHMARKS.md runs two builds this way, alternately:
//! `target/release/examples/instructions 4096 3000 patterns time`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use palisade_detect::{Config, Finding, Kind, Scanner};

#[path = "../benches/support/text.rs"]
mod text;

#[inline(never)]
fn scan_loop(scanner: &Scanner, texts: &[&str], n: usize) -> usize {
    let mut found = 0;
    for text in texts.iter().cycle().take(n) {
        let f: Vec<Finding> = scanner.scan(black_box(text));
        found += black_box(f).len();
    }
    found
}

fn main() {
    let mut args = std::env::args().skip(1);
    let size_arg = args.next();
    let varied = size_arg.as_deref() == Some("varied");
    let size: usize = if varied {
        1 << 20
    } else {
        size_arg.and_then(|a| a.parse().ok()).unwrap_or(4096)
    };
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let patterns = args.next().as_deref() == Some("patterns");
    let timed = args.next().as_deref() == Some("time");
    let config = if patterns {
        Config::only(Kind::ALL.iter().copied().filter(|k| !k.is_verdict()))
    } else {
        Config::default()
    };
    let scanner = Scanner::new(config).unwrap();
    let t = text::mixed(size);
    let texts: Vec<&str> = if varied {
        text::windows(&t, 256, 4096)
    } else {
        vec![&t]
    };
    // One warm-up scan of each text outside the counted function (lazy DFA
    // states).
    for text in &texts {
        black_box(scanner.scan(text));
    }
    // `SCAN_THREADS=N` scans on N threads at once (each `n` times), so
    // the count includes what threads other than the first pay.
    let threads: usize = std::env::var("SCAN_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let found = if threads > 1 {
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| s.spawn(|| scan_loop(&scanner, &texts, n)))
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap())
                .sum::<usize>()
                / threads
        })
    } else {
        scan_loop(&scanner, &texts, n)
    };
    let bytes: usize = texts.iter().map(|x| x.len()).sum::<usize>() / texts.len();
    eprintln!(
        "{bytes} bytes{} x {n} scans, {} findings per scan",
        if varied { " on average" } else { "" },
        found / n.max(1)
    );
    if timed {
        black_box(scan_loop(&scanner, &texts, n));
        let best = (0..7)
            .map(|_| {
                let start = std::time::Instant::now();
                scan_loop(&scanner, &texts, n);
                start.elapsed().as_secs_f64() * 1e6 / n.max(1) as f64
            })
            .fold(f64::INFINITY, f64::min);
        println!("{best:.2} µs per scan (best of 7 loops of {n})");
    }
}
