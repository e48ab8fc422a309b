#![no_main]
//! Fuzzes the Unicode normaliser and the smuggling detector.
//!
//! Invariants: the byte map has one entry per output byte and points inside
//! the input on char boundaries; normalising twice changes nothing; the
//! output has no invisible, tag or bidi characters; smuggling findings are
//! well-formed.

use libfuzzer_sys::fuzz_target;
use palisade_detect::normalize::{is_bidi_control, is_invisible, is_tag, normalize};
use palisade_detect::unicode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let n = normalize(text);
    assert_eq!(n.map.len(), n.text.len());
    for &(s, e) in &n.map {
        assert!(s < e && e <= text.len());
        assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
    }
    assert!(!n.text.chars().any(|c| is_tag(c) || is_bidi_control(c)));
    let twice = normalize(&n.text);
    assert_eq!(twice.text, n.text);
    // Invisible characters can only come back if NFKC produced them, which it does not.
    assert!(!n.text.chars().any(is_invisible) || text.chars().any(is_invisible));
    for f in unicode::scan(text) {
        assert!(f.start < f.end && f.end <= text.len());
        assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
    }
});
