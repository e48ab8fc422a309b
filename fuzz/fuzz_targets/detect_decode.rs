//! Fuzzes the attack normaliser and the payload decoders of issue 4:
//! never panics, prepared-text maps point inside the input on character
//! boundaries, decoded payload spans lie inside the input, the limits on
//! payload count and decoded bytes hold, and work stays linear.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_detect::decode::{self, Limits, Work};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut work = Work::default();
    let p = decode::prepare(text, &mut work);
    assert_eq!(p.text.len(), p.map.len());
    for &(s, e) in &p.map {
        let (s, e) = (s as usize, e as usize);
        assert!(s < e && e <= text.len());
        assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
    }
    let limits = Limits::default();
    let payloads = decode::payloads(text, &limits, &mut work);
    assert!(payloads.len() <= limits.max_payloads);
    let decoded: usize = payloads.iter().map(|p| p.text.len()).sum();
    assert!(decoded <= limits.total_bytes);
    for pl in &payloads {
        assert!(pl.start < pl.end && pl.end <= text.len());
        assert!(pl.scheme.split('>').count() <= usize::from(limits.depth));
    }
    let rot = decode::rot13(text, &mut work);
    assert_eq!(rot.len(), text.len());
    assert!(work.bytes <= 64 * (text.len() as u64 + 16));
});
