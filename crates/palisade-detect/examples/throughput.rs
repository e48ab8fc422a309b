//! Scan throughput measured in on-CPU time (from `/proc/self/schedstat`),
//! which stays meaningful on a shared, loaded machine where wall-clock
//! benchmarks also count time spent waiting for a core. Uses the same text
//! generator as `benches/scan.rs`.
//!
//! `cargo run --release -p palisade-detect --example throughput`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use palisade_detect::{Config, Scanner};

#[path = "../benches/support/text.rs"]
mod text;

fn on_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let scanner = Scanner::new(Config::default()).unwrap();
    let ascii: String = text::mixed(8192)
        .chars()
        .filter(char::is_ascii)
        .take(4096)
        .collect();
    let cases = [
        ("1KB mixed", text::mixed(1024)),
        ("4KB mixed", text::mixed(4096)),
        ("1MB mixed", text::mixed(1 << 20)),
        ("4KB ascii", ascii),
    ];
    println!("| input | bytes | on-CPU MB/s | wall MB/s |");
    println!("|---|---:|---:|---:|");
    for (name, t) in cases {
        let iters = (200_000_000 / t.len()).max(20);
        for _ in 0..iters / 10 {
            black_box(scanner.scan(&t));
        }
        let cpu0 = on_cpu_ns();
        let wall0 = Instant::now();
        for _ in 0..iters {
            black_box(scanner.scan(black_box(&t)));
        }
        let cpu = (on_cpu_ns() - cpu0) as f64 / 1e9;
        let wall = wall0.elapsed().as_secs_f64();
        let mb = (t.len() * iters) as f64 / 1e6;
        println!(
            "| {name} | {} | {:.1} | {:.1} |",
            t.len(),
            mb / cpu,
            mb / wall
        );
    }
}
