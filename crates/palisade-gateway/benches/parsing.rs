//! Per-request parsing costs on the gateway's hot path: validating a ~3 KB
//! chat request, and re-assembling a streamed answer from upstream chunks.
//!
//! Run: `cargo bench -p palisade-gateway --bench parsing`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use palisade_gateway::request::{Endpoint, parse};
use palisade_gateway::sse::{SseEvent, SseParser};
use std::hint::black_box;

fn chat_request() -> Vec<u8> {
    let filler = "Please summarise the following meeting notes for the project team, keeping the action items \
                  and owners, and flag anything that looks like a risk to the delivery date. "
        .repeat(20);
    serde_json::to_vec(&serde_json::json!({
        "model": "bench-model",
        "messages": [
            {"role": "system", "content": "You are a careful assistant for an engineering team."},
            {"role": "user", "content": &filler[..2950]},
        ],
        "temperature": 0.2,
    }))
    .unwrap()
}

/// An OpenAI-style stream of `n` content chunks plus `[DONE]`.
fn stream_bytes(n: usize) -> Vec<u8> {
    let mut out = BytesMut::new();
    for i in 0..n {
        let chunk = serde_json::json!({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [{"index": 0, "delta": {"content": format!("token{i} ")}, "finish_reason": null}],
        });
        SseEvent::data(chunk.to_string()).write_to(&mut out);
    }
    SseEvent::data("[DONE]").write_to(&mut out);
    out.to_vec()
}

fn bench_request(c: &mut Criterion) {
    let body = chat_request();
    let mut group = c.benchmark_group("request");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("parse_chat_3kb", |b| {
        b.iter(|| parse(Endpoint::ChatCompletions, black_box(&body)).unwrap())
    });
    group.finish();
}

/// The input stage of the `standard` policy on the 3 KB request (every
/// detector of the engine, nothing found; the clean-text memo off so each
/// iteration scans, and on for a text sent again), and the output stage on
/// a 500-event stream.
fn bench_guard(c: &mut Criterion) {
    use palisade_gateway::guard::policy::PolicyConfig;
    use palisade_gateway::guard::stream::StreamGuard;
    use palisade_gateway::guard::{self, CompiledPolicy, OutputSession};
    use std::sync::Arc;

    let remembering = Arc::new(CompiledPolicy::new(PolicyConfig::standard()).unwrap());
    let policy = Arc::new(
        CompiledPolicy::new(PolicyConfig {
            clean_memo_entries: 0,
            ..PolicyConfig::standard()
        })
        .unwrap(),
    );
    let body = chat_request();
    let parsed = parse(Endpoint::ChatCompletions, &body).unwrap();
    let mut group = c.benchmark_group("guard");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("input_standard_chat_3kb", |b| {
        b.iter(|| {
            let mut request = parsed.clone();
            guard::check_input(&policy, black_box(&mut request), &body, b"", "req_bench").unwrap()
        })
    });
    group.bench_function("input_standard_chat_3kb_remembered", |b| {
        b.iter(|| {
            let mut request = parsed.clone();
            guard::check_input(
                &remembering,
                black_box(&mut request),
                &body,
                b"",
                "req_bench",
            )
            .unwrap()
        })
    });
    let wire = stream_bytes(500);
    let mut parser = SseParser::new(1 << 20);
    parser.push(&wire);
    let mut events = Vec::new();
    while let Some(e) = parser.next_event().unwrap() {
        events.push(e);
    }
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("output_standard_stream_500_events", |b| {
        b.iter(|| {
            let session = Arc::new(OutputSession {
                policy: policy.clone(),
                canary: None,
                restore: Vec::new(),
                request_id: "req_bench".into(),
            });
            let mut guard = StreamGuard::new(session);
            let mut out = BytesMut::new();
            for e in &events {
                guard.on_event(e.clone(), &mut out);
            }
            out.len()
        })
    });
    group.finish();
}

fn bench_sse(c: &mut Criterion) {
    let wire = stream_bytes(500);
    let mut group = c.benchmark_group("sse");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    for chunk_size in [16usize, 1400] {
        group.bench_function(format!("parse_500_events_chunks_of_{chunk_size}"), |b| {
            b.iter(|| {
                let mut parser = SseParser::new(1 << 20);
                let mut events = 0;
                for chunk in wire.chunks(chunk_size) {
                    parser.push(black_box(chunk));
                    while let Some(event) = parser.next_event().unwrap() {
                        events += event.data.len();
                    }
                }
                events
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_request, bench_guard, bench_sse);
criterion_main!(benches);
