//! Text normaliser shared with the classifiers (issue 4): removes invisible
//! and tag-block characters and bidi controls, applies NFKC (Unicode
//! Standard Annex #15) and folds common cross-script confusables to Latin
//! (a subset of the UTS #39 confusables table: Cyrillic and Greek letters
//! that look like Latin ones), so that `pаypal` (Cyrillic а) and
//! `ｐａｙｐａｌ` both become `paypal`.
//!
//! [`Normalized::map`] gives, for every byte of the output, the span of the
//! input character it came from, so findings on normalised text can be
//! reported at the right place in the original.

use unicode_normalization::UnicodeNormalization;

/// Normalised text plus the map back to the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The normalised text.
    pub text: String,
    /// For each byte of `text`: `(start, end)` byte span in the input of the
    /// character it came from.
    pub map: Vec<(usize, usize)>,
}

impl Normalized {
    /// Maps an output span back to an input span (widened to whole input
    /// characters). Returns `None` for an empty or out-of-range span.
    pub fn to_input_span(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        if start >= end || end > self.map.len() {
            return None;
        }
        Some((self.map[start].0, self.map[end - 1].1))
    }
}

/// Characters that render as nothing and are removed by the normaliser.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}'
        | '\u{206A}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0100}'..='\u{E01EF}')
}

/// Unicode tag characters (U+E0000–U+E007F), which can carry hidden ASCII.
pub fn is_tag(c: char) -> bool {
    ('\u{E0000}'..='\u{E007F}').contains(&c)
}

/// Bidirectional embedding, override and isolate controls.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Folds a Cyrillic or Greek letter that looks like a Latin one.
pub fn confusable_to_latin(c: char) -> Option<char> {
    Some(match c {
        'а' => 'a',
        'в' => 'b',
        'с' => 'c',
        'е' => 'e',
        'ё' => 'e',
        'һ' => 'h',
        'і' => 'i',
        'ј' => 'j',
        'к' => 'k',
        'м' => 'm',
        'н' => 'h',
        'о' => 'o',
        'р' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' => 't',
        'у' => 'y',
        'х' => 'x',
        'ԝ' => 'w',
        'ь' => 'b',
        'ӏ' => 'l',
        'А' => 'A',
        'В' => 'B',
        'С' => 'C',
        'Е' => 'E',
        'Н' => 'H',
        'І' => 'I',
        'Ј' => 'J',
        'К' => 'K',
        'М' => 'M',
        'О' => 'O',
        'Р' => 'P',
        'Ѕ' => 'S',
        'Т' => 'T',
        'Х' => 'X',
        'У' => 'Y',
        'Ԝ' => 'W',
        'Ү' => 'Y',
        'α' => 'a',
        'ο' => 'o',
        'ρ' => 'p',
        'ν' => 'v',
        'τ' => 't',
        'ι' => 'i',
        'κ' => 'k',
        'υ' => 'u',
        'χ' => 'x',
        'ε' => 'e',
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        _ => return None,
    })
}

/// Normalises `input`: strip invisible/tag/bidi characters, NFKC each
/// remaining character, fold confusables. Pure ASCII input is returned as is.
pub fn normalize(input: &str) -> Normalized {
    let mut text = String::with_capacity(input.len());
    let mut map = Vec::with_capacity(input.len());
    if input.is_ascii() {
        text.push_str(input);
        map.extend((0..input.len()).map(|i| (i, i + 1)));
        return Normalized { text, map };
    }
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // ASCII runs are copied whole: NFKC and folding leave them alone.
        let run_end = skip_ascii(bytes, i);
        if run_end > i {
            text.push_str(&input[i..run_end]);
            map.extend((i..run_end).map(|j| (j, j + 1)));
            i = run_end;
            continue;
        }
        let Some(c) = input[i..].chars().next() else {
            break;
        };
        let start = i;
        let end = start + c.len_utf8();
        i = end;
        if is_invisible(c) || is_tag(c) || is_bidi_control(c) {
            continue;
        }
        if matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}') {
            // CJK ideographs are NFKC-stable and no confusables (the test
            // below checks every character): skip building a normaliser.
            text.push(c);
            map.extend([(start, end); 3]);
            continue;
        }
        for n in std::iter::once(c).nfkc() {
            let out = confusable_to_latin(n).unwrap_or(n);
            let before = text.len();
            text.push(out);
            for _ in before..text.len() {
                map.push((start, end));
            }
        }
    }
    Normalized { text, map }
}

/// True when [`normalize`] would change `input`: it has invisible, tag or
/// bidi characters, a confusable letter, or is not already NFKC (quick
/// check). Plain CJK, accented Latin and most other text answer `false`
/// quickly, so callers can skip the normalised rescan.
pub fn needs_normalization(input: &str) -> bool {
    let b = input.as_bytes();
    let mut i = 0;
    while i < b.len() {
        i = skip_ascii(b, i);
        let Some(&lead) = b.get(i) else { break };
        if (0xE3..=0xE9).contains(&lead) {
            // U+3000–U+9FFF: CJK ideographs and punctuation, kana: stable or
            // irrelevant to detection (a full-width comma changes nothing).
            i += 3;
            continue;
        }
        let Some(c) = input.get(i..).and_then(|r| r.chars().next()) else {
            break;
        };
        i += c.len_utf8();
        if char_needs_normalization(c) {
            return true;
        }
    }
    false
}

/// Whether the non-ASCII character `c` makes [`needs_normalization`]
/// answer `true`. Shared with the Unicode smuggling scan, which checks this
/// on the characters it visits anyway.
pub(crate) fn char_needs_normalization(c: char) -> bool {
    if ('\u{3000}'..='\u{9FFF}').contains(&c) || ('\u{AC00}'..='\u{D7AF}').contains(&c) {
        // CJK ideographs and punctuation, kana (the walk above skips them
        // by their lead bytes E3–E9 without decoding); Hangul syllables.
        return false;
    }
    if ('\u{FF01}'..='\u{FF65}').contains(&c) {
        // Full-width forms: only letters and digits matter. Spelled out:
        // `char::is_alphanumeric` searches Unicode's tables for every
        // full-width comma and full stop of Chinese text (a test checks the
        // ranges against it).
        return is_full_width_alphanumeric(c);
    }
    is_invisible(c)
        || is_tag(c)
        || is_bidi_control(c)
        || confusable_to_latin(c).is_some()
        || !matches!(
            unicode_normalization::is_nfkc_quick(std::iter::once(c)),
            unicode_normalization::IsNormalized::Yes
        )
}

/// The letters and digits among the full-width forms U+FF01–U+FF65.
fn is_full_width_alphanumeric(c: char) -> bool {
    matches!(c, '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}')
}

/// The first index at or after `i` whose byte is not ASCII (or `b.len()`),
/// checking eight bytes at a time.
pub(crate) fn skip_ascii(b: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        if u64::from_ne_bytes(w) & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        i += 8;
    }
    while i < b.len() && b[i] < 0x80 {
        i += 1;
    }
    i
}

/// Normalises and lower-cases: the form classifiers should compare against.
pub fn normalize_for_matching(input: &str) -> String {
    normalize(input).text.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_letters_and_digits_are_the_alphanumerics_of_the_block() {
        for c in '\u{FF01}'..='\u{FF65}' {
            assert_eq!(is_full_width_alphanumeric(c), c.is_alphanumeric(), "{c:?}");
        }
    }

    #[test]
    fn needs_normalization_past_cjk_and_ascii_runs() {
        assert!(!needs_normalization("plain ascii text that is long enough"));
        assert!(!needs_normalization(
            "我的電話是 9123 4567，謝謝 and more ascii"
        ));
        assert!(needs_normalization("我的電話是 ９１２３ 4567"));
        assert!(needs_normalization(
            "a long ascii prefix, then 中文, then zero\u{200B}width"
        ));
        assert!(needs_normalization("中文中文中文 pаypal"));
    }

    #[test]
    fn every_character_normalises_as_a_full_nfkc_pass_would() {
        use unicode_normalization::UnicodeNormalization;
        for c in (0x80u32..0x3_0000).filter_map(char::from_u32) {
            if is_invisible(c) || is_tag(c) || is_bidi_control(c) {
                continue;
            }
            let want: String = std::iter::once(c)
                .nfkc()
                .map(|n| confusable_to_latin(n).unwrap_or(n))
                .collect();
            let input = format!("a{c}b");
            assert_eq!(normalize(&input).text, format!("a{want}b"), "{c:?}");
        }
    }

    #[test]
    fn folds_homoglyphs_and_fullwidth() {
        assert_eq!(normalize("pаypal").text, "paypal");
        assert_eq!(normalize("ｐａｙｐａｌ").text, "paypal");
        assert_eq!(normalize("ig\u{200B}nore").text, "ignore");
        assert_eq!(normalize("a\u{E0041}b").text, "ab");
        assert_eq!(normalize("電話９１２３").text, "電話9123");
    }

    #[test]
    fn map_points_back() {
        let s = "x\u{200B}９y";
        let n = normalize(s);
        assert_eq!(n.text, "x9y");
        let (a, b) = n.to_input_span(1, 2).unwrap();
        assert_eq!(&s[a..b], "９");
        assert_eq!(n.to_input_span(0, 3), Some((0, s.len())));
    }
}
