#![no_main]
//! Fuzzes the pickle machine simulation.
//!
//! Invariants: never panics; never reads past the input; every import offset
//! lies inside the input; with small bounds the walk fails with a limit error
//! rather than growing; and walking the same bytes twice gives the same
//! imports (the walker is deterministic, no hidden state).

use libfuzzer_sys::fuzz_target;
use palisade_model::pickle::{Limits, walk_bytes};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_stack: 256, max_memo: 256, max_string: 64, max_nested_bytes: 4096, max_nested_depth: 2 };
    let a = walk_bytes(data, &limits);
    assert!(a.end <= data.len() as u64);
    assert!(a.ops <= data.len() as u64);
    for imp in &a.imports {
        assert!(imp.offset < data.len() as u64);
        assert!(imp.depth <= limits.max_nested_depth);
    }
    let b = walk_bytes(data, &limits);
    let names = |o: &palisade_model::pickle::Outcome| o.imports.iter().map(|i| i.qualified()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b));
    assert_eq!(a.error.is_some(), b.error.is_some());
});
