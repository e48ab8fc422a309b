//! Throughput of a scan with every pattern detector on (issue 3: personal
//! data, secrets, unicode smuggling; the trained classifiers of issue 4 have
//! their own benchmark, `classify`) over realistic mixed text:
//! English prose, chat-style requests, code with config, some Traditional
//! and Simplified Chinese, and personal data / secrets at a realistic
//! density (roughly one value per 400 bytes). The text is generated here,
//! deterministically, so results do not depend on any external data.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use palisade_detect::{Config, Kind, Scanner};

#[path = "support/text.rs"]
mod text;

fn bench(c: &mut Criterion) {
    let patterns = Kind::ALL.iter().copied().filter(|k| !k.is_verdict());
    let scanner = Scanner::new(Config::only(patterns)).unwrap();
    let mut g = c.benchmark_group("scan_pattern_detectors");
    for (name, size) in [("1KB", 1024), ("4KB", 4096), ("1MB", 1 << 20)] {
        let t = text::mixed(size);
        g.throughput(Throughput::Bytes(t.len() as u64));
        if size > 100_000 {
            g.sample_size(10);
        } else {
            g.sample_size(50);
        }
        g.bench_function(name, |b| b.iter(|| black_box(scanner.scan(black_box(&t)))));
    }
    // 256 different 4 KB texts in turn (consecutive windows of a 1 MB text),
    // so the figure does not rest on one text whose every lazy-DFA state,
    // branch and cache line is warm from the previous iteration.
    let long = text::mixed(1 << 20);
    let windows = text::windows(&long, 256, 4096);
    let mean = windows.iter().map(|w| w.len()).sum::<usize>() / windows.len();
    g.throughput(Throughput::Bytes(mean as u64));
    g.sample_size(50);
    let mut next = 0usize;
    g.bench_function("4KB_varied", |b| {
        b.iter(|| {
            next = (next + 1) % windows.len();
            black_box(scanner.scan(black_box(windows[next])))
        })
    });
    // English/code only (no CJK): the normalised rescan and Unicode checks are skipped.
    let ascii: String = text::mixed(4096 * 2)
        .chars()
        .filter(char::is_ascii)
        .take(4096)
        .collect();
    g.throughput(Throughput::Bytes(ascii.len() as u64));
    g.bench_function("4KB_ascii", |b| {
        b.iter(|| black_box(scanner.scan(black_box(&ascii))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
