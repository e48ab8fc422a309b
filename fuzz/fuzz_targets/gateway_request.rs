#![no_main]
//! Feeds arbitrary bytes to the OpenAI request parser of every endpoint.
//! Invariants: it never panics, and an accepted request has a non-empty
//! model of bounded length and a body that is a JSON object carrying it.

use libfuzzer_sys::fuzz_target;
use palisade_gateway::request::{Endpoint, MAX_MODEL_LEN, parse};

fuzz_target!(|data: &[u8]| {
    for endpoint in [Endpoint::ChatCompletions, Endpoint::Completions, Endpoint::Embeddings] {
        if let Ok(request) = parse(endpoint, data) {
            assert!(!request.model.trim().is_empty());
            assert!(request.model.len() <= MAX_MODEL_LEN);
            assert_eq!(request.body.get("model").and_then(|m| m.as_str()), Some(request.model.as_str()));
            if endpoint == Endpoint::Embeddings {
                assert!(!request.stream);
            }
        }
    }
});
