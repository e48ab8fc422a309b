//! Canary tokens: a random per-request string placed in a system prompt or
//! a document; if it shows up in model output, the protected text leaked.
//!
//! Detection survives the usual evasions: the token split by spaces,
//! hyphens, newlines or zero-width characters, re-cased, written in
//! full-width or homoglyph letters (via [`crate::normalize`]), reversed,
//! hex-encoded or base64-encoded (standard or URL-safe alphabet, any byte
//! alignment).

use std::borrow::Cow;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::finding::{Finding, Kind};
use crate::{Error, normalize};

/// Crockford-style base32 alphabet (no I, L, O, U) for generated tokens.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A token's letters and digits, lower-cased: the form matched after the
/// output is normalised and squeezed the same way.
fn squeeze(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    for b in token.bytes().filter(u8::is_ascii_alphanumeric) {
        out.push(char::from(b.to_ascii_lowercase()));
    }
    out
}

/// A canary token.
#[derive(Clone)]
pub struct Canary {
    token: String,
    squeezed: String,
    /// `squeezed` backwards, kept rather than rebuilt for every text.
    reversed: String,
    /// The base64 and hex forms, built the first time a text could hold
    /// one (see [`Canary::find_in`]): a gateway makes a canary per request,
    /// and most answers rule every encoded form out at a glance.
    encoded: OnceLock<Vec<(String, &'static str)>>,
}

/// Two canaries are the same when their tokens are: everything else is
/// derived from the token.
impl PartialEq for Canary {
    fn eq(&self, other: &Self) -> bool {
        self.token == other.token
    }
}

impl Eq for Canary {}

impl std::fmt::Debug for Canary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Canary(..)")
    }
}

impl Canary {
    /// A fresh random canary such as `PAL-7QK2M9XW4HJD3RTV` (80 random bits).
    pub fn generate() -> Result<Canary, Error> {
        let mut raw = [0u8; 16];
        getrandom::fill(&mut raw).map_err(|_| Error::Key("no system randomness for canary"))?;
        Ok(Canary::from_random(raw))
    }

    /// The canary [`Canary::generate`] makes, from 16 bytes the caller drew
    /// from a cryptographically secure generator (the gateway uses its
    /// per-thread one rather than a system call per request). Only the low
    /// five bits of each byte are used. It cannot fail: the token always has
    /// the 16 letters and digits [`Canary::from_token`] asks for.
    pub fn from_random(raw: [u8; 16]) -> Canary {
        let mut token = String::with_capacity(4 + raw.len());
        token.push_str("PAL-");
        token.extend(
            raw.iter()
                .map(|b| char::from(ALPHABET[usize::from(b % 32)])),
        );
        let squeezed = squeeze(&token);
        Canary::with_forms(token, squeezed)
    }

    /// Wraps a known token (e.g. one stored with a request). It needs at
    /// least 12 ASCII letters or digits to be distinctive.
    pub fn from_token(token: &str) -> Result<Canary, Error> {
        let squeezed = squeeze(token);
        if squeezed.len() < 12 || !token.is_ascii() {
            return Err(Error::Key(
                "canary token needs at least 12 ASCII letters or digits",
            ));
        }
        Ok(Canary::with_forms(token.to_owned(), squeezed))
    }

    /// The canary for a checked token; its encoded forms are built later,
    /// when first needed.
    fn with_forms(token: String, squeezed: String) -> Canary {
        // `squeezed` is ASCII: reversed byte by byte.
        let mut reversed = String::with_capacity(squeezed.len());
        for b in squeezed.bytes().rev() {
            reversed.push(char::from(b));
        }
        Canary {
            token,
            squeezed,
            reversed,
            encoded: OnceLock::new(),
        }
    }

    /// The encoded forms of the token, searched for in output alongside the
    /// token itself.
    fn encoded(&self) -> &[(String, &'static str)] {
        self.encoded.get_or_init(|| encoded_forms(&self.token))
    }

    /// The token to embed.
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// Every place the canary appears in `text`, as `canary_leak` findings.
    pub fn find_in(&self, text: &str) -> Vec<Finding> {
        self.find_in_gated(text, true)
    }

    /// [`Self::find_in`]; `gate` off searches every encoded form whatever
    /// the text's runs (the tests' reference for the gate).
    fn find_in_gated(&self, text: &str, gate: bool) -> Vec<Finding> {
        let mut out = Vec::new();
        let push = |out: &mut Vec<Finding>, s: usize, e: usize, how: &'static str| {
            if !out.iter().any(|f: &Finding| f.start < e && s < f.end) {
                out.push(Finding {
                    kind: Kind::CanaryLeak,
                    start: s,
                    end: e,
                    score: 1.0,
                    detector: Cow::Borrowed("canary"),
                    reason: format!("canary token found ({how})").into(),
                });
            }
        };
        // Encoded forms first, on the raw text (case matters for base64, not
        // for hex). Each is one unbroken run of base64 (or hex) characters,
        // so a text without a run as long as the shortest form holds none.
        let run = if gate {
            longest_encoded_run(text.as_bytes())
        } else {
            usize::MAX
        };
        if run >= shortest_encoded_len(self.token.len()) {
            for (core, how) in self.encoded() {
                if core.len() > run {
                    continue;
                }
                for i in occurrences(text.as_bytes(), core.as_bytes(), *how == "hex") {
                    push(&mut out, i, i + core.len(), how);
                }
            }
        }
        let forms = [
            (&self.squeezed, "verbatim, spaced, split or re-cased"),
            (&self.reversed, "reversed"),
        ];
        if text.is_ascii() {
            // ASCII is its own normal form: match against its letters and
            // digits where they stand, with no squeezed copy to build.
            for (needle, how) in forms {
                for (s, e) in squeezed_occurrences(text.as_bytes(), needle.as_bytes()) {
                    push(&mut out, s, e, how);
                }
            }
        } else {
            let (sq, map) = squeezed_view(text);
            for (needle, how) in forms {
                for i in occurrences(&sq, needle.as_bytes(), false) {
                    let (s, _) = map[i];
                    let (_, e) = map[i + needle.len() - 1];
                    push(&mut out, s, e, how);
                }
            }
        }
        out.sort_by_key(|f| f.start);
        out
    }
}

/// The base64 (standard and URL-safe, padding dropped) and hex forms of
/// `token` that [`Canary::find_in`] looks for: for each of the three byte
/// alignments a token can have inside encoded data, the part of the
/// encoding that depends on the token alone.
fn encoded_forms(token: &str) -> Vec<(String, &'static str)> {
    let mut encoded: Vec<(String, &'static str)> = Vec::with_capacity(7);
    let mut buf = Vec::with_capacity(token.len() + 2);
    for k in 0..3usize {
        buf.clear();
        buf.resize(k, 0);
        buf.extend_from_slice(token.as_bytes());
        let enc = STANDARD.encode(&buf);
        let enc = enc.trim_end_matches('=');
        let skip = if k == 0 { 0 } else { 4 };
        if enc.len() <= skip + 4 + 8 {
            continue;
        }
        let core = &enc[skip..enc.len() - 4];
        // The URL-safe alphabet differs only in `+` and `/`: the same
        // form with those swapped, and no second form without them.
        let url_safe = core
            .contains(['+', '/'])
            .then(|| core.replace('+', "-").replace('/', "_"));
        for (form, name) in [(Some(core.to_owned()), "base64"), (url_safe, "base64url")] {
            if let Some(form) = form
                && !encoded.iter().any(|(c, _)| *c == form)
            {
                encoded.push((form, name));
            }
        }
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hex: String = token
        .bytes()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]])
        .map(char::from)
        .collect();
    encoded.push((hex, "hex"));
    encoded
}

/// The length of the shortest form [`encoded_forms`] gives a token of
/// `len` bytes, from the lengths alone.
fn shortest_encoded_len(len: usize) -> usize {
    let mut shortest = 2 * len;
    for k in 0..3usize {
        let enc = ((k + len) * 4).div_ceil(3);
        let skip = if k == 0 { 0 } else { 4 };
        if enc > skip + 4 + 8 {
            shortest = shortest.min(enc - skip - 4);
        }
    }
    shortest
}

/// The longest run of bytes that can appear in a base64, base64url or hex
/// encoding (`[A-Za-z0-9+/_-]`) in `text`.
fn longest_encoded_run(text: &[u8]) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for &b in text {
        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'_' | b'-') {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// `text` normalised, reduced to its ASCII letters and digits and
/// lower-cased, with the input span each kept byte came from. (ASCII text
/// is searched in place instead, by [`squeezed_occurrences`].)
fn squeezed_view(text: &str) -> (Vec<u8>, Vec<(usize, usize)>) {
    let n = normalize::normalize(text);
    let mut sq = Vec::with_capacity(n.text.len());
    let mut map = Vec::with_capacity(n.text.len());
    for (b, &span) in n.text.bytes().zip(&n.map) {
        if b.is_ascii_alphanumeric() {
            sq.push(b.to_ascii_lowercase());
            map.push(span);
        }
    }
    (sq, map)
}

/// The spans of `text` (ASCII) whose letters and digits, lower-cased, spell
/// `needle` (lower-case letters and digits) with anything else between
/// them: what [`occurrences`] finds in the squeezed view, left to right
/// and without overlaps, each from its first letter to its last.
fn squeezed_occurrences<'a>(
    text: &'a [u8],
    needle: &'a [u8],
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut from = 0;
    std::iter::from_fn(move || {
        let &first = needle.first()?;
        while from < text.len() {
            let s = from + memchr::memchr2(first, first.to_ascii_uppercase(), &text[from..])?;
            // The rest of the needle against the letters and digits after s.
            let mut want = needle[1..].iter();
            let mut end = s + 1;
            let mut next = want.next();
            while let Some(&w) = next {
                let Some(&b) = text.get(end) else { break };
                end += 1;
                if !b.is_ascii_alphanumeric() {
                    continue;
                }
                if b.to_ascii_lowercase() != w {
                    break;
                }
                next = want.next();
            }
            if next.is_none() {
                from = end;
                return Some((s, end));
            }
            // The squeezed search resumes at the next letter or digit.
            from = s + 1;
        }
        None
    })
}

/// Starts of the non-overlapping occurrences of `needle` in `hay`, left to
/// right, as `str::match_indices` finds them; ASCII case is ignored when
/// `fold` (the needle is then lower case). Candidates come from a `memchr`
/// for the first byte: on the short texts of a chat answer that is several
/// times cheaper than the substring searcher `match_indices` sets up for
/// each of the seven forms on every call.
fn occurrences<'a>(
    hay: &'a [u8],
    needle: &'a [u8],
    fold: bool,
) -> impl Iterator<Item = usize> + 'a {
    let first = needle.first().copied().unwrap_or(0);
    let other = if fold {
        first.to_ascii_uppercase()
    } else {
        first
    };
    let mut at = 0;
    std::iter::from_fn(move || {
        if needle.is_empty() {
            return None;
        }
        let last_start = hay.len().checked_sub(needle.len())?;
        while at <= last_start {
            let i = at + memchr::memchr2(first, other, hay.get(at..=last_start)?)?;
            let window = &hay[i..i + needle.len()];
            let hit = if fold {
                window.eq_ignore_ascii_case(needle)
            } else {
                window == needle
            };
            if hit {
                at = i + needle.len();
                return Some(i);
            }
            at = i + 1;
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE;
    use proptest::prelude::*;

    #[test]
    fn tokens_from_random_bytes_use_five_bits_of_each() {
        let a = Canary::from_random([0u8; 16]);
        assert_eq!(a.as_str(), "PAL-0000000000000000");
        let mut raw = [0u8; 16];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = (i as u8) * 2 + 32; // the high bits must not matter
        }
        let b = Canary::from_random(raw);
        assert_eq!(b.as_str(), "PAL-02468ACEGJMPRTWY");
        // The encoded forms are built from the token, as for any token.
        assert_eq!(b, Canary::from_token("PAL-02468ACEGJMPRTWY").unwrap());
        assert_ne!(Canary::generate().unwrap(), Canary::generate().unwrap());
    }

    #[test]
    fn finds_evasions() {
        let c = Canary::from_token("PAL-7QK2M9XW4HJD3RTV").unwrap();
        let t = c.as_str();
        assert_eq!(c.find_in(&format!("leak: {t} end")).len(), 1);
        assert_eq!(c.find_in("p a l 7 q k 2 m 9 x w 4 h j d 3 r t v").len(), 1);
        let spaced = c.find_in("say p a l 7 q k 2 m 9 x w 4 h j d 3 r t v ok");
        assert_eq!((spaced[0].start, spaced[0].end), (4, 41));
        assert_eq!(c.find_in("pal-7qk2m9xw\n4hjd3rtv").len(), 1);
        assert_eq!(c.find_in("PAL\u{200B}-7QK2M9XW4HJD3RTV").len(), 1);
        assert_eq!(
            c.find_in("ＰＡＬ－７ＱＫ２Ｍ９ＸＷ４ＨＪＤ３ＲＴＶ").len(),
            1
        );
        for k in 0..3 {
            let mut s = "x".repeat(k);
            s.push_str(t);
            s.push_str(" tail");
            let b = STANDARD.encode(s.as_bytes());
            assert_eq!(
                c.find_in(&format!("encoded: {b}")).len(),
                1,
                "alignment {k}"
            );
        }
        let hex: String = t.bytes().map(|b| format!("{b:02X}")).collect();
        assert_eq!(c.find_in(&hex).len(), 1);
        let rev: String = t.chars().rev().collect();
        assert_eq!(c.find_in(&rev).len(), 1);
    }

    #[test]
    fn no_false_positive() {
        let c = Canary::generate().unwrap();
        assert!(
            c.find_in("an ordinary answer about PAL and tokens")
                .is_empty()
        );
        let other = Canary::generate().unwrap();
        assert!(c.find_in(other.as_str()).is_empty());
        assert!(Canary::from_token("short").is_err());
    }

    /// The input spans of `needle` found in the squeezed copy of `text`:
    /// what the in-place search must give.
    fn spans_in_squeezed_view(text: &str, needle: &[u8]) -> Vec<(usize, usize)> {
        let (sq, map) = squeezed_view(text);
        occurrences(&sq, needle, false)
            .map(|i| (map[i].0, map[i + needle.len() - 1].1))
            .collect()
    }

    proptest! {
        #[test]
        fn ascii_text_is_searched_as_its_normal_form_is(
            text in "[ -~\t\n]{0,80}",
            cut in (0usize..80, 1usize..8),
        ) {
            // A needle taken from the text's own squeezed form, so that
            // most cases match somewhere.
            let (sq, _) = squeezed_view(&text);
            let needle = match sq.len() {
                0 => b"a".to_vec(),
                n => sq[cut.0 % n..(cut.0 % n + cut.1).min(n)].to_vec(),
            };
            let got: Vec<(usize, usize)> =
                squeezed_occurrences(text.as_bytes(), &needle).collect();
            prop_assert_eq!(got, spans_in_squeezed_view(&text, &needle));
        }

        #[test]
        fn ascii_occurrences_match_the_squeezed_view(
            text in "[pPaAlL7qQkK2 .-]{0,40}",
            needle in "[pal7qk2]{1,5}",
        ) {
            let got: Vec<(usize, usize)> =
                squeezed_occurrences(text.as_bytes(), needle.as_bytes()).collect();
            prop_assert_eq!(got, spans_in_squeezed_view(&text, needle.as_bytes()));
        }

        #[test]
        fn occurrences_are_what_match_indices_finds(
            hay in "[ab/+AB]{0,40}",
            needle in "[ab/+]{1,4}",
        ) {
            let want: Vec<usize> = hay.match_indices(needle.as_str()).map(|(i, _)| i).collect();
            let got: Vec<usize> = occurrences(hay.as_bytes(), needle.as_bytes(), false).collect();
            prop_assert_eq!(got, want);
            let lower = hay.to_ascii_lowercase();
            let want: Vec<usize> = lower.match_indices(needle.as_str()).map(|(i, _)| i).collect();
            let got: Vec<usize> = occurrences(hay.as_bytes(), needle.as_bytes(), true).collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn ascii_occurrences_do_not_overlap_and_span_letter_to_letter() {
        let got: Vec<(usize, usize)> = squeezed_occurrences(b"aaa a", b"aa").collect();
        assert_eq!(got, vec![(0, 2), (2, 5)]);
        let got: Vec<(usize, usize)> = squeezed_occurrences(b"-P.a-L-", b"pal").collect();
        assert_eq!(got, vec![(1, 6)]);
    }

    #[test]
    fn shortest_form_length_is_known_from_the_token_length() {
        for len in 12..90 {
            let token: String = "PAL-7QK2M9XW4HJD3RTV~?>_"
                .chars()
                .cycle()
                .take(len)
                .collect();
            let shortest = encoded_forms(&token).iter().map(|(f, _)| f.len()).min();
            assert_eq!(Some(shortest_encoded_len(len)), shortest, "length {len}");
        }
    }

    #[test]
    fn encoded_forms_are_built_only_for_texts_that_could_hold_one() {
        let c = Canary::from_token("PAL-7QK2M9XW4HJD3RTV").unwrap();
        assert!(
            c.find_in("This is a fixed answer from the upstream.")
                .is_empty()
        );
        assert!(c.encoded.get().is_none(), "prose rules every form out");
        let b = STANDARD.encode(c.as_str().as_bytes());
        assert_eq!(c.find_in(&format!("see {b}")).len(), 1);
        assert!(c.encoded.get().is_some());
    }

    proptest! {
        #[test]
        fn the_run_gate_never_hides_an_encoded_form(
            pieces in prop::collection::vec((0usize..9, "[a-zA-Z0-9 +/=_.-]{0,12}"), 0..8),
        ) {
            let c = Canary::from_token("PAL-7QK2M9XW4HJD3RTV").unwrap();
            let forms = encoded_forms(c.as_str());
            // Noise with whole or cut encoded forms between its pieces.
            let mut text = String::new();
            for (pick, noise) in &pieces {
                text.push_str(noise);
                if let Some((form, _)) = forms.get(*pick) {
                    let cut = form.len() - pick % 3;
                    text.push_str(&form[..cut]);
                }
            }
            prop_assert_eq!(c.find_in(&text), c.find_in_gated(&text, false));
        }
    }

    #[test]
    fn url_safe_forms_are_found_where_the_alphabets_differ() {
        // Generated tokens (letters, digits, `-`) never encode to `+` or
        // `/`; a caller's own token may, and then has a URL-safe form too.
        let mut seen = 0;
        for tail in ["", "~~~", "-~?~?>>", "???~~~___"] {
            let c = Canary::from_token(&format!("PAL-7QK2M9XW4HJD3RTV{tail}")).unwrap();
            for k in 0..3usize {
                let mut s = "x".repeat(k);
                s.push_str(c.as_str());
                s.push_str(" tail");
                let std_form = STANDARD.encode(s.as_bytes());
                let url_form = URL_SAFE.encode(s.as_bytes());
                assert_eq!(c.find_in(&std_form).len(), 1, "{std_form}");
                assert_eq!(c.find_in(&url_form).len(), 1, "{url_form}");
                seen += usize::from(std_form != url_form);
            }
        }
        assert!(seen > 0, "some token exercised the URL-safe alphabet");
    }
}
