//! What the `standard` guardrails cost per request on the load test's
//! 3 KB chat request (`bench/load.sh`), for BENCHMARKS.md:
//! * the input stage with warm CPU caches, as criterion measures it (the
//!   clean-text memo off, so every call scans);
//! * the same after sweeping 0.5 to 4 MB of other memory before each call,
//!   as happens in the server, where the kernel's network path, hyper and
//!   the other stage run in between;
//! * the output stage on the load test's canned answer, canary included;
//! * the input stage when the memo remembers the text as clean (a client
//!   sending the same text again);
//! * generating a canary.
//!
//! Best of five loops of `N` calls each.
//!
//! ```text
//! cargo build --release -p palisade-gateway --example guard_cost
//! target/release/examples/guard_cost [N]
//! ```
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use palisade_detect::canary::Canary;
use palisade_gateway::guard::policy::PolicyConfig;
use palisade_gateway::guard::{self, CompiledPolicy, OutputSession};
use palisade_gateway::request::{Endpoint, parse};

/// The canned completion of `bench/load.sh`'s static upstream.
const ANSWER: &[u8] = br#"{"id":"chatcmpl-bench","object":"chat.completion","created":0,"model":"bench","choices":[{"index":0,"message":{"role":"assistant","content":"This is a fixed answer from the static upstream used for load testing."},"finish_reason":"stop"}],"usage":{"prompt_tokens":600,"completion_tokens":14,"total_tokens":614}}"#;

/// Best mean in microseconds over five loops of `n` timed calls; `between`
/// runs untimed before each call.
fn best_of_five(n: usize, mut between: impl FnMut(usize), mut call: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut spent = Duration::ZERO;
        for k in 0..n {
            between(k);
            let start = Instant::now();
            call();
            spent += start.elapsed();
        }
        best = best.min(spent.as_secs_f64() / n as f64 * 1e6);
    }
    best
}

fn main() {
    let n: usize = std::env::args().nth(1).map_or(2000, |a| a.parse().unwrap());
    let filler = "Please summarise the following meeting notes for the project team, keeping \
                  the action items and owners, and flag anything that looks like a risk to the \
                  delivery date. "
        .repeat(20);
    let body = serde_json::to_vec(&serde_json::json!({
        "model": "bench-model",
        "messages": [
            {"role": "system", "content": "You are a careful assistant for an engineering team."},
            {"role": "user", "content": &filler[..2950]},
        ],
        "temperature": 0.2,
    }))
    .unwrap();
    let policy = Arc::new(
        CompiledPolicy::new(PolicyConfig {
            clean_memo_entries: 0,
            ..PolicyConfig::standard()
        })
        .unwrap(),
    );
    let remembering = Arc::new(CompiledPolicy::new(PolicyConfig::standard()).unwrap());
    let parsed = parse(Endpoint::ChatCompletions, &body).unwrap();
    let check_input = || {
        let mut request = parsed.clone();
        black_box(
            guard::check_input(&policy, black_box(&mut request), &body, b"", "req_bench").is_ok(),
        );
    };

    let warm = best_of_five(n, |_| {}, check_input);
    println!("input stage, warm caches: {warm:.1} µs");
    for sweep_kb in [512usize, 1024, 2048, 4096] {
        let mut other = vec![1u8; sweep_kb * 1024];
        let cold = best_of_five(
            n / 4,
            |k| {
                // One write per cache line evicts what the last call left.
                for at in (0..other.len()).step_by(64) {
                    other[at] = other[at].wrapping_add(k as u8);
                }
            },
            check_input,
        );
        black_box(&other);
        println!("input stage after a {sweep_kb} KB sweep: {cold:.1} µs");
    }

    let remembered = best_of_five(
        n,
        |_| {},
        || {
            let mut request = parsed.clone();
            black_box(
                guard::check_input(
                    &remembering,
                    black_box(&mut request),
                    &body,
                    b"",
                    "req_bench",
                )
                .is_ok(),
            );
        },
    );
    println!("input stage, text remembered as clean: {remembered:.1} µs");

    let answer = Bytes::from_static(ANSWER);
    let session = OutputSession {
        policy: policy.clone(),
        canary: Some(Canary::generate().expect("system randomness")),
        restore: Vec::new(),
        request_id: "req_bench".into(),
    };
    let output = best_of_five(
        n,
        |_| {},
        || {
            black_box(guard::check_output_json(&session, black_box(&answer)).is_ok());
        },
    );
    println!("output stage: {output:.1} µs");
    let canary = best_of_five(
        n,
        |_| {},
        || {
            black_box(Canary::generate().is_ok());
        },
    );
    println!("Canary::generate: {canary:.2} µs");
}
