#![no_main]
//! Runs the guardrails of the `standard` policy on arbitrary bytes: once as
//! a request body (input stage), once as the events of a streamed answer
//! (output stage). Invariants: no panic; a rewritten request is still a
//! valid request and holds exactly what the input stage left; the texts of
//! an answer read in place are those of the parsed answer; the guarded
//! stream is valid SSE that ends with `[DONE]`
//! once the upstream's `[DONE]` went in.

use std::sync::{Arc, OnceLock};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use palisade_gateway::guard::policy::PolicyConfig;
use palisade_gateway::guard::stream::{Flow, StreamGuard};
use palisade_gateway::guard::{self, CompiledPolicy, OutputSession};
use palisade_gateway::request::{self, Endpoint};
use palisade_gateway::sse::{SseEvent, SseParser};

fn policy() -> Arc<CompiledPolicy> {
    static POLICY: OnceLock<Arc<CompiledPolicy>> = OnceLock::new();
    POLICY
        .get_or_init(|| match CompiledPolicy::new(PolicyConfig::standard()) {
            Ok(p) => Arc::new(p),
            Err(e) => panic!("standard policy must compile: {e}"),
        })
        .clone()
}

fuzz_target!(|data: &[u8]| {
    let policy = policy();
    if let Ok(mut parsed) = request::parse(Endpoint::ChatCompletions, data) {
        let caller = b"fuzz-caller";
        if let Ok(outcome) = guard::check_input(&policy, &mut parsed, data, caller, "req_fuzz") {
            if let Some(body) = outcome.rewritten {
                // Whether the canary was spliced into the client's bytes or
                // the request serialised again, what goes upstream is the
                // request the guardrails left.
                match request::parse(Endpoint::ChatCompletions, &body) {
                    Ok(sent) => assert_eq!(sent.body, parsed.body),
                    Err(e) => panic!("rewritten request does not parse: {e:?}"),
                }
            }
        }
    }

    // An answer's texts read in place are the ones a parsed answer holds.
    if let Ok(texts) = guard::text::answer_texts(data) {
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(data) else {
            panic!("answer texts read from bytes that are not JSON");
        };
        let mut by_value = Vec::new();
        guard::text::response_texts_mut(&mut value, &mut |s| by_value.push(s.clone()));
        assert_eq!(texts, by_value);
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let session = Arc::new(OutputSession {
        policy,
        canary: None,
        restore: vec![("<EMAIL_1>".into(), "user@example.com".into())],
        request_id: "req_fuzz".into(),
    });
    let mut guard = StreamGuard::new(session);
    let mut out = BytesMut::new();
    let mut stopped = false;
    for line in text.lines().chain(std::iter::once("[DONE]")) {
        if guard.on_event(SseEvent::data(line), &mut out) == Flow::Stop {
            stopped = true;
            break;
        }
    }
    assert!(stopped, "[DONE] always ends the stream");
    let mut parser = SseParser::new(1 << 24);
    parser.push(&out);
    let mut last = None;
    while let Ok(Some(event)) = parser.next_event() {
        last = Some(event);
    }
    assert!(last.is_some_and(|e| e.is_done()));
});
