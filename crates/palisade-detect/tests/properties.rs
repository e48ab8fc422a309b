#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property tests: the scanner never panics and returns well-formed spans;
//! operators never leave a detected value in their output; pseudonyms are
//! stable; deanonymize undoes tokenize; the normaliser is idempotent.

use std::sync::OnceLock;

use palisade_detect::operators::{Operator, anonymize, deanonymize, pseudonym};
use palisade_detect::{
    Finding, Key, Kind, Scanner, StreamRedactor, normalize, resolve_overlaps, validate,
};
use proptest::prelude::*;

fn scanner() -> &'static Scanner {
    static S: OnceLock<Scanner> = OnceLock::new();
    S.get_or_init(|| Scanner::with_defaults().unwrap())
}

fn shared_scanner() -> std::sync::Arc<Scanner> {
    static S: OnceLock<std::sync::Arc<Scanner>> = OnceLock::new();
    S.get_or_init(|| std::sync::Arc::new(Scanner::with_defaults().unwrap()))
        .clone()
}

fn key() -> Key {
    Key::from_bytes(b"property-test-tenant-key-0123456789").unwrap()
}

fn card() -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, 14).prop_map(|mut d| {
        d.insert(0, 4);
        d.push(validate::luhn_check_digit(&d));
        d.iter().map(|x| (b'0' + x) as char).collect()
    })
}

fn hkid() -> impl Strategy<Value = String> {
    (b'A'..=b'Z', proptest::collection::vec(b'0'..=b'9', 6)).prop_map(|(l, body)| {
        let c = validate::hkid_check(&[l], &body).unwrap();
        format!(
            "{}{}({})",
            l as char,
            String::from_utf8(body).unwrap(),
            c as char
        )
    })
}

fn china_id() -> impl Strategy<Value = String> {
    (1950u32..2005, 1u32..13, 1u32..29, 0u32..1000).prop_map(|(y, m, d, n)| {
        let body = format!("440305{y:04}{m:02}{d:02}{n:03}");
        let c = validate::china_id_check(body.as_bytes()).unwrap();
        format!("{body}{}", c as char)
    })
}

fn email() -> impl Strategy<Value = String> {
    ("[a-z]{3,8}", "[a-z]{3,8}").prop_map(|(a, b)| format!("{a}.{b}@{b}mail.com"))
}

fn phone() -> impl Strategy<Value = String> {
    (1000u32..10000, 1000u32..10000).prop_map(|(a, b)| format!("+852 9{:03} {b:04}", a % 1000))
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![card(), hkid(), china_id(), email(), phone()]
}

fn filler() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(" please contact ".to_owned()),
        Just("，請聯絡".to_owned()),
        Just(" 我的资料是 ".to_owned()),
        Just(" and then ".to_owned()),
        Just("\n".to_owned()),
    ]
}

fn document() -> impl Strategy<Value = (String, Vec<String>)> {
    proptest::collection::vec((filler(), value()), 1..6).prop_map(|parts| {
        let mut text = String::new();
        let mut values = Vec::new();
        for (f, v) in parts {
            text.push_str(&f);
            text.push_str(&v);
            values.push(v);
        }
        text.push('.');
        (text, values)
    })
}

fn operators() -> Vec<Operator> {
    vec![
        Operator::Redact,
        Operator::Mask { keep_last: 4 },
        Operator::Placeholder,
        Operator::Pseudonym(key()),
        Operator::Tokenize(key()),
        Operator::Synthetic { seed: 42 },
    ]
}

/// The plain byte-by-byte statement of overlap resolution, to check the
/// fast one: in priority order, each finding keeps the maximal runs of its
/// bytes that no earlier finding kept.
fn resolve_naively(mut findings: Vec<Finding>) -> Vec<Finding> {
    findings.retain(|f| f.start < f.end);
    findings.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.len().cmp(&a.len()))
            .then(a.start.cmp(&b.start))
            .then(a.kind.cmp(&b.kind))
            .then(a.detector.cmp(&b.detector))
    });
    let mut covered = vec![false; 256];
    let mut kept: Vec<Finding> = Vec::new();
    for f in findings {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for (b, taken) in covered.iter().enumerate().take(f.end).skip(f.start) {
            if *taken {
                continue;
            }
            match runs.last_mut() {
                Some(run) if run.1 == b => run.1 = b + 1,
                _ => runs.push((b, b + 1)),
            }
        }
        for &(s, e) in &runs {
            covered[s..e].iter_mut().for_each(|c| *c = true);
        }
        if runs == [(f.start, f.end)] {
            kept.push(f);
            continue;
        }
        for (s, e) in runs {
            kept.push(Finding {
                start: s,
                end: e,
                reason: format!("{}; trimmed where a stronger finding overlaps", f.reason).into(),
                ..f.clone()
            });
        }
    }
    kept.sort_by(|a, b| a.start.cmp(&b.start).then(a.end.cmp(&b.end)));
    kept
}

/// A finding for the overlap tests: one of three kinds by `kind`, score in
/// quarters, `reason` to tell equal spans apart.
fn test_finding(kind: usize, start: usize, end: usize, score: u8, reason: String) -> Finding {
    Finding {
        kind: [Kind::Email, Kind::Phone, Kind::Person][kind % 3],
        start,
        end,
        score: f32::from(score) / 4.0,
        detector: std::borrow::Cow::Borrowed("t"),
        reason: reason.into(),
    }
}

/// Findings laid end to end from `(gap, len, score)`, reasons prefixed.
fn laid_end_to_end(spans: &[(usize, usize, u8)], prefix: &str) -> Vec<Finding> {
    let mut at = 0;
    spans
        .iter()
        .enumerate()
        .map(|(i, &(gap, len, score))| {
            at += gap;
            let f = test_finding(i, at, at + len, score, format!("{prefix}{i}"));
            at += len;
            f
        })
        .collect()
}

/// `findings` handed over in a rotated order.
fn rotated(mut findings: Vec<Finding>, rotate: usize) -> Vec<Finding> {
    if !findings.is_empty() {
        let k = rotate % findings.len();
        findings.rotate_left(k);
    }
    findings
}

fn finding() -> impl Strategy<Value = Finding> {
    (0usize..60, 0usize..12, 0u8..5, 0usize..3).prop_map(|(start, len, score, kind)| {
        test_finding(kind, start, start + len, score, format!("{start}"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn overlap_resolution_matches_the_byte_by_byte_definition(
        findings in proptest::collection::vec(finding(), 0..40)
    ) {
        // Letters only, so trimming to content never moves a span.
        let text = "x".repeat(128);
        prop_assert_eq!(resolve_overlaps(&text, findings.clone()), resolve_naively(findings));
    }

    #[test]
    fn disjoint_findings_come_back_whole_and_in_order(
        spans in proptest::collection::vec((0usize..6, 0usize..8, 0u8..5), 0..20),
        rotate in 0usize..20,
    ) {
        // Findings laid end to end with gaps (some empty), handed over in a
        // rotated order: the fast path for overlap-free input must agree
        // with the definition.
        let findings = rotated(laid_end_to_end(&spans, ""), rotate);
        let text = "x".repeat(256);
        prop_assert_eq!(resolve_overlaps(&text, findings.clone()), resolve_naively(findings));
    }

    #[test]
    fn scan_never_panics_and_spans_are_well_formed(text in any::<String>()) {
        let fs = scanner().scan(&text);
        let mut last = 0;
        for f in &fs {
            prop_assert!(f.start < f.end && f.end <= text.len());
            prop_assert!(text.is_char_boundary(f.start) && text.is_char_boundary(f.end));
            prop_assert!((0.0..=1.0).contains(&f.score));
            prop_assert!(f.start >= last, "overlap after resolution");
            last = f.end;
        }
    }

    #[test]
    fn scan_survives_pii_like_noise(text in "[0-9A-Za-z @.+()\\-:/=_\u{200B}\u{FF10}-\u{FF19}電話]{0,200}") {
        let _ = scanner().scan(&text);
        let _ = scanner().scan_all(&text);
    }

    #[test]
    fn generated_values_are_detected((text, values) in document()) {
        let fs = scanner().scan(&text);
        for v in &values {
            let i = text.find(v.as_str()).unwrap();
            prop_assert!(fs.iter().any(|f| f.start <= i && i + v.len() <= f.end),
                "`{}` not detected in `{}`: {:?}", v, text, fs);
        }
    }

    #[test]
    fn operators_never_leave_a_detected_value((text, _values) in document()) {
        let fs = scanner().scan(&text);
        for op in operators() {
            let out = anonymize(&text, &fs, &op).unwrap();
            for f in &fs {
                let v = &text[f.start..f.end];
                prop_assert!(!out.text.contains(v), "{} left `{}` in `{}`", op.name(), v, out.text);
            }
        }
    }

    #[test]
    fn streaming_redaction_leaves_no_value(
        (text, _values) in document(),
        pad in 200usize..900,
        chunk in 1usize..64,
    ) {
        // Spread the values out so the stream releases text between them.
        let long = text.replace('\n', &format!(" {} ", "padding words ".repeat(pad / 14)));
        let fs = scanner().scan(&long);
        let mut r = StreamRedactor::new(shared_scanner(), Operator::Redact);
        let mut out = String::new();
        let mut at = 0;
        while at < long.len() {
            let mut end = (at + chunk).min(long.len());
            while !long.is_char_boundary(end) {
                end += 1;
            }
            out.push_str(&r.push(&long[at..end]).unwrap());
            at = end;
        }
        out.push_str(&r.finish().unwrap());
        for f in &fs {
            let v = &long[f.start..f.end];
            prop_assert!(!out.contains(v), "stream left `{}`", v);
        }
    }

    #[test]
    fn tokenize_round_trips((text, _values) in document()) {
        let fs = scanner().scan(&text);
        let out = anonymize(&text, &fs, &Operator::Tokenize(key())).unwrap();
        prop_assert_eq!(deanonymize(&out.text, &key()).unwrap(), text);
    }

    #[test]
    fn pseudonyms_are_stable_and_distinct(a in "[a-z0-9@.]{4,30}", b in "[a-z0-9@.]{4,30}") {
        prop_assert_eq!(pseudonym(&key(), Kind::Email, &a), pseudonym(&key(), Kind::Email, &a));
        if a != b {
            prop_assert_ne!(pseudonym(&key(), Kind::Email, &a), pseudonym(&key(), Kind::Email, &b));
        }
        let other = Key::from_bytes(b"a-different-tenant-key-xyz").unwrap();
        prop_assert_ne!(pseudonym(&key(), Kind::Email, &a), pseudonym(&other, Kind::Email, &a));
    }

    #[test]
    fn normaliser_is_idempotent_and_mapped(text in any::<String>()) {
        let n = normalize::normalize(&text);
        prop_assert_eq!(n.map.len(), n.text.len());
        for &(s, e) in &n.map {
            prop_assert!(s < e && e <= text.len());
        }
        let twice = normalize::normalize(&n.text);
        prop_assert_eq!(twice.text, n.text);
    }
}

proptest! {
    // Many cases: the interesting inputs (a finding nested in one that
    // beats it, or ties with it exactly) are a small share of the space.
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn nested_losers_are_dropped_as_the_definition_says(
        outer in proptest::collection::vec((0usize..4, 1usize..10, 0u8..3), 0..10),
        inner in proptest::collection::vec((0usize..10, 0usize..10, 0u8..3, 0usize..10), 0..12),
        rotate in 0usize..20,
    ) {
        // Disjoint containers with findings inside them (some beaten
        // outright, some not, some spilling over): whichever path runs,
        // the result must match the definition.
        let mut findings = laid_end_to_end(&outer, "o");
        let containers = findings.clone();
        for (j, &(which, off, score, len)) in inner.iter().enumerate() {
            if containers.is_empty() {
                break;
            }
            let c = &containers[which % containers.len()];
            let start = c.start + off % (c.len() + 1);
            let end = start + len % (c.end - start + 2);
            findings.push(test_finding(j, start, end, score, format!("i{j}")));
        }
        let findings = rotated(findings, rotate);
        let text = "x".repeat(256);
        prop_assert_eq!(resolve_overlaps(&text, findings.clone()), resolve_naively(findings));
    }
}
