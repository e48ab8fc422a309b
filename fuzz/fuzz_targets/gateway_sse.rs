#![no_main]
//! Feeds arbitrary bytes to the incremental SSE parser, split at an
//! arbitrary point. Invariants: no panic, memory bounded by the limit, and
//! the events are the same however the bytes were split.

use libfuzzer_sys::fuzz_target;
use palisade_gateway::sse::{SseEvent, SseParser};

const LIMIT: usize = 4096;

fn run(chunks: &[&[u8]]) -> (Vec<SseEvent>, bool) {
    let mut parser = SseParser::new(LIMIT);
    let mut events = Vec::new();
    for chunk in chunks {
        parser.push(chunk);
        loop {
            match parser.next_event() {
                Ok(Some(event)) => {
                    assert!(event.data.len() <= LIMIT);
                    events.push(event);
                }
                Ok(None) => break,
                Err(_) => return (events, true),
            }
        }
    }
    (events, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else { return };
    let at = usize::from(split) % (bytes.len() + 1);
    let (whole, whole_failed) = run(&[bytes]);
    let (parts, parts_failed) = run(&[&bytes[..at], &bytes[at..]]);
    if !whole_failed && !parts_failed {
        assert_eq!(whole, parts);
    }
    // Re-framing what was parsed and parsing again is the identity.
    if !whole_failed {
        let mut wire = bytes::BytesMut::new();
        for event in &whole {
            event.write_to(&mut wire);
        }
        let (again, failed) = run(&[&wire]);
        if !failed {
            let strip = |e: &SseEvent| (e.event.clone(), e.data.clone());
            assert_eq!(whole.iter().map(strip).collect::<Vec<_>>(), again.iter().map(strip).collect::<Vec<_>>());
        }
    }
});
