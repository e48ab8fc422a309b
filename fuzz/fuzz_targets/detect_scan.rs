#![no_main]
//! Fuzzes the full scanner and the operators on arbitrary UTF-8.
//!
//! Invariants checked (not just "does not crash"):
//! * findings lie inside the text, on char boundaries, sorted by start,
//!   with scores in 0..=1; all but classifier verdicts are disjoint;
//! * redaction keeps every byte outside the findings unchanged and replaces
//!   every finding that is not a verdict;
//! * deanonymize(tokenize(text)) == text;
//! * a canary embedded anywhere (split by a space) is found.

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use palisade_detect::operators::{Operator, anonymize, deanonymize};
use palisade_detect::{Canary, Key, Scanner};

fn scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| Scanner::with_defaults().expect("built-in patterns compile"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let findings = scanner().scan(text);
    // Classifier verdicts cover whole windows of text: they may overlap
    // other findings and are never replaced by an operator. Every other
    // finding is disjoint from the rest and replaced.
    let mut first = 0;
    let mut last_end = 0;
    let mut values = 0;
    for f in &findings {
        assert!(f.start < f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
        assert!((0.0..=1.0).contains(&f.score));
        assert!(f.start >= first, "sorted by start");
        first = f.start;
        if !f.kind.is_verdict() {
            assert!(f.start >= last_end, "value findings do not overlap");
            last_end = f.end;
            values += 1;
        }
    }

    let redacted = anonymize(text, &findings, &Operator::Redact).expect("redact never fails");
    assert_eq!(redacted.replacements.len(), values);
    let mut at_in = 0;
    let mut at_out = 0;
    for r in &redacted.replacements {
        assert_eq!(&text[at_in..r.input.0], &redacted.text[at_out..r.output.0]);
        assert_eq!(&redacted.text[r.output.0..r.output.1], "[REDACTED]");
        at_in = r.input.1;
        at_out = r.output.1;
    }
    assert_eq!(&text[at_in..], &redacted.text[at_out..]);

    if !text.contains("[[ptk:") {
        let key = Key::from_bytes(b"fuzz-tenant-key-0123456789abcdef").expect("key");
        let tok = anonymize(text, &findings, &Operator::Tokenize(key.clone())).expect("tokenize");
        assert_eq!(deanonymize(&tok.text, &key).expect("round trip"), text);
    }

    let canary = Canary::from_token("PAL-FUZZ7QK2M9XW4HJD").expect("canary");
    let mut cut = data.len() / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let planted = format!("{}PAL-FUZZ7QK2 M9XW4HJD{}", &text[..cut], &text[cut..]);
    assert!(!canary.find_in(&planted).is_empty());
});
