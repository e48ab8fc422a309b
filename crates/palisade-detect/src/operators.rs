//! Operators turn findings into safe text.
//!
//! * [`Operator::Redact`] — `[REDACTED]`.
//! * [`Operator::Mask`] — `*` over every letter/digit except the last N
//!   (separators kept: `**** **** **** 1111`); secrets and canaries are
//!   masked completely.
//! * [`Operator::Placeholder`] — typed placeholder `<EMAIL_1>`; the same value
//!   gets the same number within one call.
//! * [`Operator::Pseudonym`] — `<EMAIL_3fa9c1d2e0b4>` from HMAC-SHA-256 under
//!   a tenant key (RFC 2104): stable across calls, not reversible.
//! * [`Operator::Tokenize`] — `[[ptk:email:…]]`, deterministic authenticated
//!   encryption with AES-SIV (RFC 5297) under the tenant key, the kind as
//!   associated data; [`deanonymize`] restores the original.
//! * [`Operator::Synthetic`] — a fake that keeps the format: a card that
//!   passes Luhn, an HKID/China ID with a correct check character, an IBAN
//!   with valid check digits, a plausible name, digits for digits.
//!
//! Overlapping findings are resolved first with
//! [`crate::resolve_overlaps`] (higher score, then longer span).

use std::collections::HashMap;

use aes_siv::KeyInit;
use aes_siv::siv::Aes256Siv;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::finding::{Finding, Kind, resolve_overlaps};
use crate::validate;

type HmacSha256 = Hmac<Sha256>;

/// A tenant key. Sub-keys for pseudonyms and tokens are derived from it
/// with HMAC-SHA-256 and distinct labels. `Debug` never shows the bytes.
#[derive(Clone)]
pub struct Key {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A key from at least 16 bytes of secret material.
    pub fn from_bytes(bytes: &[u8]) -> Result<Key, Error> {
        if bytes.len() < 16 {
            return Err(Error::Key("key material must be at least 16 bytes"));
        }
        Ok(Key {
            bytes: bytes.to_vec(),
        })
    }

    fn derive(&self, label: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        if let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(&self.bytes) {
            mac.update(b"palisade-detect/v1/");
            mac.update(label);
            out.copy_from_slice(&mac.finalize().into_bytes());
        }
        out
    }

    fn siv(&self) -> Aes256Siv {
        let mut k = [0u8; 64];
        k[..32].copy_from_slice(&self.derive(b"siv-mac"));
        k[32..].copy_from_slice(&self.derive(b"siv-ctr"));
        Aes256Siv::new(&k.into())
    }
}

/// How to replace a finding.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Operator {
    /// Replace with `[REDACTED]`.
    Redact,
    /// Mask letters and digits except the last `keep_last` ones.
    Mask {
        /// How many trailing letters/digits stay visible.
        keep_last: usize,
    },
    /// Typed, numbered placeholder such as `<EMAIL_1>`.
    Placeholder,
    /// Keyed, stable, irreversible pseudonym.
    Pseudonym(Key),
    /// Reversible deterministic token (AES-SIV).
    Tokenize(Key),
    /// Format-preserving fake value, deterministic for a given seed and value.
    Synthetic {
        /// Seed; the same seed and value give the same fake.
        seed: u64,
    },
}

impl Operator {
    /// The operator's command-line name.
    pub fn name(&self) -> &'static str {
        match self {
            Operator::Redact => "redact",
            Operator::Mask { .. } => "mask",
            Operator::Placeholder => "placeholder",
            Operator::Pseudonym(_) => "pseudonym",
            Operator::Tokenize(_) => "tokenize",
            Operator::Synthetic { .. } => "synthetic",
        }
    }

    /// Builds an operator from its name; `pseudonym` and `tokenize` need a key.
    pub fn from_name(name: &str, key: Option<Key>) -> Result<Operator, Error> {
        match name {
            "redact" => Ok(Operator::Redact),
            "mask" => Ok(Operator::Mask { keep_last: 4 }),
            "placeholder" => Ok(Operator::Placeholder),
            "pseudonym" => key
                .map(Operator::Pseudonym)
                .ok_or(Error::MissingKey("pseudonym")),
            "tokenize" => key
                .map(Operator::Tokenize)
                .ok_or(Error::MissingKey("tokenize")),
            "synthetic" => Ok(Operator::Synthetic { seed: 0 }),
            _ => Err(Error::UnknownName {
                what: "operator",
                name: name.chars().take(40).collect(),
            }),
        }
    }
}

/// One replacement made by [`anonymize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    /// Kind of the replaced finding.
    pub kind: Kind,
    /// Span in the input text.
    pub input: (usize, usize),
    /// Span of the replacement in the output text.
    pub output: (usize, usize),
}

/// The safe text and where the replacements went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anonymized {
    /// The text with every finding replaced.
    pub text: String,
    /// One entry per replaced finding, in text order.
    pub replacements: Vec<Replacement>,
}

/// Replaces every finding in `text` with `op`'s output. Findings may
/// overlap; they are resolved deterministically first. Findings whose span
/// is out of range or not on `char` boundaries are ignored.
pub fn anonymize(text: &str, findings: &[Finding], op: &Operator) -> Result<Anonymized, Error> {
    let findings = resolve_overlaps(
        text,
        findings
            .iter()
            .filter(|f| {
                // Classifier verdicts cover whole windows: nothing to replace.
                !f.kind.is_verdict()
                    && f.start < f.end
                    && f.end <= text.len()
                    && text.is_char_boundary(f.start)
                    && text.is_char_boundary(f.end)
            })
            .cloned()
            .collect(),
    );
    let mut out = String::with_capacity(text.len() + 16 * findings.len());
    let mut replacements = Vec::with_capacity(findings.len());
    let mut numbers: HashMap<(Kind, &str), usize> = HashMap::new();
    let mut counters: HashMap<Kind, usize> = HashMap::new();
    let mut at = 0;
    for f in &findings {
        out.push_str(&text[at..f.start]);
        let value = &text[f.start..f.end];
        let start = out.len();
        match op {
            Operator::Redact => out.push_str("[REDACTED]"),
            Operator::Mask { keep_last } => {
                let keep = if matches!(f.kind, Kind::Secret | Kind::CanaryLeak) {
                    0
                } else {
                    *keep_last
                };
                out.push_str(&mask(value, keep));
            }
            Operator::Placeholder => {
                let n = *numbers.entry((f.kind, value)).or_insert_with(|| {
                    let c = counters.entry(f.kind).or_insert(0);
                    *c += 1;
                    *c
                });
                out.push_str(&format!("<{}_{}>", f.kind.label(), n));
            }
            Operator::Pseudonym(key) => out.push_str(&pseudonym(key, f.kind, value)),
            Operator::Tokenize(key) => out.push_str(&tokenize(key, f.kind, value)?),
            Operator::Synthetic { seed } => out.push_str(&synthetic(*seed, f.kind, value)),
        }
        replacements.push(Replacement {
            kind: f.kind,
            input: (f.start, f.end),
            output: (start, out.len()),
        });
        at = f.end;
    }
    out.push_str(&text[at..]);
    Ok(Anonymized {
        text: out,
        replacements,
    })
}

/// `*` over letters and digits except the last `keep` of them. A value with
/// no more than `keep` letters/digits is masked completely.
pub fn mask(value: &str, keep: usize) -> String {
    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
    let keep = if total <= keep { 0 } else { keep };
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                seen += 1;
                if seen > total - keep { c } else { '*' }
            } else if c.is_whitespace() || "-./@():+".contains(c) {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// The keyed pseudonym for a value: `<KIND_` + 12 hex digits of HMAC + `>`.
pub fn pseudonym(key: &Key, kind: Kind, value: &str) -> String {
    let sub = key.derive(b"pseudonym");
    let mut hex = String::with_capacity(12);
    if let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(&sub) {
        mac.update(kind.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        for b in mac.finalize().into_bytes().iter().take(6) {
            hex.push_str(&format!("{b:02x}"));
        }
    }
    format!("<{}_{}>", kind.label(), hex)
}

const TOKEN_PREFIX: &str = "[[ptk:";
const TOKEN_SUFFIX: &str = "]]";

/// The reversible token for a value.
pub fn tokenize(key: &Key, kind: Kind, value: &str) -> Result<String, Error> {
    let mut siv = key.siv();
    let ct = siv
        .encrypt([kind.as_str().as_bytes()], value.as_bytes())
        .map_err(|_| Error::Token)?;
    Ok(format!(
        "{TOKEN_PREFIX}{}:{}{TOKEN_SUFFIX}",
        kind.as_str(),
        URL_SAFE_NO_PAD.encode(ct)
    ))
}

/// Restores every `[[ptk:…]]` token in `text` made by [`Operator::Tokenize`]
/// under `key`. Fails without output if any token does not authenticate.
pub fn deanonymize(text: &str, key: &Key) -> Result<String, Error> {
    let mut siv = key.siv();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(TOKEN_PREFIX) {
        out.push_str(&rest[..i]);
        let after = &rest[i + TOKEN_PREFIX.len()..];
        let parsed = after.find(TOKEN_SUFFIX).and_then(|j| {
            let body = &after[..j];
            let (kind, b64) = body.split_once(':')?;
            Some((kind, b64, j))
        });
        let Some((kind, b64, j)) = parsed else {
            out.push_str(TOKEN_PREFIX);
            rest = after;
            continue;
        };
        let ct = URL_SAFE_NO_PAD.decode(b64).map_err(|_| Error::Token)?;
        let pt = siv
            .decrypt([kind.as_bytes()], &ct)
            .map_err(|_| Error::Token)?;
        out.push_str(&String::from_utf8(pt).map_err(|_| Error::Token)?);
        rest = &after[j + TOKEN_SUFFIX.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Small deterministic generator (SplitMix64) seeded from the seed and value.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, value: &str, attempt: u32) -> Rng {
        let mut h = Sha256::new();
        h.update(seed.to_le_bytes());
        h.update(attempt.to_le_bytes());
        h.update(value.as_bytes());
        let d = h.finalize();
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        Rng(u64::from_le_bytes(b))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn digit(&mut self) -> u8 {
        b'0' + self.below(10) as u8
    }

    fn upper(&mut self) -> u8 {
        b'A' + self.below(26) as u8
    }
}

const FAKE_GIVEN: &[&str] = &[
    "Alex", "Jordan", "Casey", "Morgan", "Riley", "Taylor", "Jamie", "Avery", "Quinn", "Rowan",
];
const FAKE_FAMILY: &[&str] = &[
    "Fenwick",
    "Ashdown",
    "Marlowe",
    "Thornby",
    "Kestrel",
    "Halvorsen",
    "Brightwater",
    "Okonkwo",
    "Delacroix",
    "Lindqvist",
];

/// A format-preserving fake for `value`, never equal to it.
pub fn synthetic(seed: u64, kind: Kind, value: &str) -> String {
    for attempt in 0..16 {
        let mut rng = Rng::new(seed, value, attempt);
        let fake = synthetic_once(&mut rng, kind, value);
        if fake != value && !fake.contains(value) {
            return fake;
        }
    }
    "[REDACTED]".to_owned()
}

fn synthetic_once(rng: &mut Rng, kind: Kind, value: &str) -> String {
    match kind {
        Kind::CreditCard => {
            let d = validate::digits(value);
            let n = d.len();
            let mut nd: Vec<u8> = d.iter().take(4.min(n)).copied().collect();
            while nd.len() + 1 < n {
                nd.push(rng.digit() - b'0');
            }
            nd.push(validate::luhn_check_digit(&nd));
            refill_digits(value, &nd)
        }
        Kind::Hkid => {
            let letters = value
                .bytes()
                .filter(u8::is_ascii_uppercase)
                .count()
                .clamp(1, 2);
            let l: Vec<u8> = (0..letters).map(|_| rng.upper()).collect();
            let body: Vec<u8> = (0..6).map(|_| rng.digit()).collect();
            let check = validate::hkid_check(&l, &body).unwrap_or(b'0');
            let (l, b) = (String::from_utf8_lossy(&l), String::from_utf8_lossy(&body));
            if value.contains('(') {
                format!("{l}{b}({})", check as char)
            } else {
                format!("{l}{b}{}", check as char)
            }
        }
        Kind::ChinaId => {
            let mut d: Vec<u8> = value.bytes().take(6).collect();
            let year = 1950 + rng.below(55);
            let month = 1 + rng.below(12);
            let day = 1 + rng.below(28);
            d.extend(format!("{year:04}{month:02}{day:02}").bytes());
            for _ in 0..3 {
                d.push(rng.digit());
            }
            let c = validate::china_id_check(&d).unwrap_or(b'0');
            d.push(c);
            String::from_utf8_lossy(&d).into_owned()
        }
        Kind::Iban => {
            let c = validate::compact_alnum(value);
            let cc = c.get(..2).unwrap_or("GB").to_owned();
            let bban: String = c
                .bytes()
                .skip(4)
                .map(|b| {
                    if b.is_ascii_digit() {
                        rng.digit() as char
                    } else {
                        rng.upper() as char
                    }
                })
                .collect();
            let check = 98 - validate::mod97(&format!("{bban}{cc}00")).unwrap_or(0);
            let compact = format!("{cc}{check:02}{bban}");
            if value.contains(' ') {
                compact
                    .as_bytes()
                    .chunks(4)
                    .map(|ch| String::from_utf8_lossy(ch).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                compact
            }
        }
        Kind::Email => {
            let n = 4 + rng.below(6) as usize;
            let local: String = (0..n)
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect();
            format!("{local}@example.com")
        }
        Kind::Person => {
            let g = FAKE_GIVEN[rng.below(FAKE_GIVEN.len() as u64) as usize];
            let f = FAKE_FAMILY[rng.below(FAKE_FAMILY.len() as u64) as usize];
            if value.contains(' ') {
                format!("{g} {f}")
            } else {
                g.to_owned()
            }
        }
        _ => {
            // Shape-preserving: keep a leading '+' and country code digits.
            let keep = if value.starts_with('+') { 3 } else { 0 };
            value
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if i < keep {
                        c
                    } else if c.is_ascii_digit() {
                        rng.digit() as char
                    } else if c.is_ascii_uppercase() {
                        rng.upper() as char
                    } else if c.is_ascii_lowercase() {
                        (b'a' + rng.below(26) as u8) as char
                    } else {
                        c
                    }
                })
                .collect()
        }
    }
}

/// Writes `digits` into the digit positions of `template`, keeping separators.
fn refill_digits(template: &str, digits: &[u8]) -> String {
    let mut it = digits.iter();
    template
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                it.next().map_or('0', |d| (b'0' + d) as char)
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn f(kind: Kind, text: &str, value: &str) -> Finding {
        let start = text.find(value).unwrap();
        Finding {
            kind,
            start,
            end: start + value.len(),
            score: 0.9,
            detector: Cow::Borrowed("t"),
            reason: "".into(),
        }
    }

    fn key() -> Key {
        Key::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn each_operator() {
        let text = "mail a@b.com or a@b.com, card 4111 1111 1111 1111";
        let mut fs = vec![
            f(Kind::Email, text, "a@b.com"),
            f(Kind::CreditCard, text, "4111 1111 1111 1111"),
        ];
        let second = text.rfind("a@b.com").unwrap();
        fs.push(Finding {
            start: second,
            end: second + 7,
            ..fs[0].clone()
        });
        let r = anonymize(text, &fs, &Operator::Redact).unwrap();
        assert_eq!(r.text, "mail [REDACTED] or [REDACTED], card [REDACTED]");
        let m = anonymize(text, &fs, &Operator::Mask { keep_last: 4 }).unwrap();
        assert!(m.text.ends_with("**** **** **** 1111"), "{}", m.text);
        let p = anonymize(text, &fs, &Operator::Placeholder).unwrap();
        assert_eq!(p.text, "mail <EMAIL_1> or <EMAIL_1>, card <CREDIT_CARD_1>");
        let ps = anonymize(text, &fs, &Operator::Pseudonym(key())).unwrap();
        assert!(ps.text.starts_with("mail <EMAIL_"));
        assert_eq!(
            ps.text,
            anonymize(text, &fs, &Operator::Pseudonym(key()))
                .unwrap()
                .text
        );
        let t = anonymize(text, &fs, &Operator::Tokenize(key())).unwrap();
        assert!(!t.text.contains("a@b.com"));
        assert_eq!(deanonymize(&t.text, &key()).unwrap(), text);
        let wrong = Key::from_bytes(b"another key of sixteen+ bytes").unwrap();
        assert!(deanonymize(&t.text, &wrong).is_err());
        let s = anonymize(text, &fs, &Operator::Synthetic { seed: 7 }).unwrap();
        assert!(!s.text.contains("4111 1111 1111 1111"));
        let card = &s.text[s.replacements[2].output.0..s.replacements[2].output.1];
        assert!(validate::luhn(card), "{card}");
    }

    #[test]
    fn synthetic_keeps_checksums() {
        let h = synthetic(1, Kind::Hkid, "A123456(3)");
        assert!(validate::hkid(&h), "{h}");
        assert_ne!(h, "A123456(3)");
        let c = synthetic(1, Kind::ChinaId, "11010519491231002X");
        assert!(validate::china_id(&c), "{c}");
        let i = synthetic(1, Kind::Iban, "GB82 WEST 1234 5698 7654 32");
        assert!(validate::iban(&i), "{i}");
        let p = synthetic(1, Kind::Phone, "+852 9123 4567");
        assert!(p.starts_with("+85") && p.len() == "+852 9123 4567".len());
    }

    #[test]
    fn key_debug_hides_bytes() {
        assert_eq!(format!("{:?}", key()), "Key(..)");
        assert!(Key::from_bytes(b"short").is_err());
    }
}
