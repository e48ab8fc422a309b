//! Criterion benchmark of the pickle walker on a synthetic state dict with
//! many tensors (the shape of a real PyTorch `data.pkl`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use palisade_model::pickle::{Limits, walk_bytes};

/// Builds a protocol-2 pickle of an OrderedDict with `n` tensor entries.
fn state_dict(n: usize) -> Vec<u8> {
    let mut p = vec![0x80, 2];
    p.extend(b"ccollections\nOrderedDict\n)R");
    p.extend(b"q\x00(");
    for i in 0..n {
        let key = format!("layer{i}.weight");
        p.extend([0x8c, key.len() as u8]);
        p.extend(key.as_bytes());
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n((");
        p.extend(b"X\x07\x00\x00\x00storage");
        p.extend(b"ctorch\nFloatStorage\n");
        let id = i.to_string();
        p.extend([b'X', id.len() as u8, 0, 0, 0]);
        p.extend(id.as_bytes());
        p.extend(b"X\x03\x00\x00\x00cpuJ\x00\x10\x00\x00tQK\x00M\x00\x04K\x04\x86M\x04\x00K\x01\x86\x89ccollections\nOrderedDict\n)RtR");
    }
    p.extend(b"u.");
    p
}

fn bench(c: &mut Criterion) {
    let data = state_dict(20_000);
    let limits = Limits::default();
    assert!(walk_bytes(&data, &limits).error.is_none());
    let mut g = c.benchmark_group("pickle_walker");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("state_dict_20k_tensors", |b| {
        b.iter(|| walk_bytes(std::hint::black_box(&data), &limits).ops)
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
