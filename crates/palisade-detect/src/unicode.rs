//! Unicode smuggling: invisible characters, tag-block text, bidi overrides
//! and mixed-script (homoglyph) words, reported as findings of kind
//! `unicode_smuggling`. Pure-ASCII text is skipped in O(n) with no work.

use std::borrow::Cow;

use crate::finding::{Finding, Kind};
use crate::normalize::{is_bidi_control, is_invisible, is_tag};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Greek,
    Other,
}

fn script(c: char) -> Script {
    match c {
        'a'..='z' | 'A'..='Z' | '\u{00C0}'..='\u{024F}' => Script::Latin,
        '\u{0400}'..='\u{052F}' => Script::Cyrillic,
        '\u{0370}'..='\u{03FF}' => Script::Greek,
        _ => Script::Other,
    }
}

/// True for emoji and other pictographs, around which ZWJ and VS16 are normal.
fn is_pictograph(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27BF}' | '\u{1F000}'..='\u{1FAFF}' | '\u{2190}'..='\u{21FF}'
        | '\u{2B00}'..='\u{2BFF}')
}

fn finding(
    start: usize,
    end: usize,
    score: f32,
    detector: &'static str,
    reason: String,
) -> Finding {
    Finding {
        kind: Kind::UnicodeSmuggling,
        start,
        end,
        score,
        detector: Cow::Borrowed(detector),
        reason,
    }
}

/// Finds smuggling in `text`.
pub fn scan(text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    if text.is_ascii() {
        return out;
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if is_tag(c) {
            let mut j = i;
            while j < chars.len() && is_tag(chars[j].1) {
                j += 1;
            }
            let end = chars.get(j).map_or(text.len(), |x| x.0);
            out.push(finding(
                pos,
                end,
                0.99,
                "unicode_tags",
                format!("{} Unicode tag characters (hidden text)", j - i),
            ));
            i = j;
            continue;
        }
        if is_bidi_control(c) {
            let end = pos + c.len_utf8();
            out.push(finding(
                pos,
                end,
                0.9,
                "bidi_control",
                format!("bidi control U+{:04X}", c as u32),
            ));
            i += 1;
            continue;
        }
        if is_invisible(c) {
            let prev = i.checked_sub(1).map(|k| chars[k].1);
            let next = chars.get(i + 1).map(|x| x.1);
            let benign = match c {
                // ZWJ/VS inside emoji sequences, BOM at the very start.
                '\u{200D}' | '\u{FE0F}' | '\u{FE0E}' => {
                    prev.is_some_and(is_pictograph)
                        || next.is_some_and(is_pictograph)
                        || (c != '\u{200D}' && prev.is_some_and(|p| !p.is_ascii()))
                }
                '\u{FEFF}' => pos == 0,
                // ZWNJ is a normal letter joiner control in Persian/Indic text.
                '\u{200C}' => prev.is_some_and(|p| !p.is_ascii() && script(p) == Script::Other),
                _ => false,
            };
            if benign {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < chars.len() && is_invisible(chars[j].1) {
                j += 1;
            }
            let end = chars.get(j).map_or(text.len(), |x| x.0);
            let n = j - i;
            let inside_word = prev.is_some_and(char::is_alphanumeric)
                && chars.get(j).is_some_and(|x| x.1.is_alphanumeric());
            let score = if n >= 3 {
                0.95
            } else if inside_word {
                0.8
            } else {
                0.6
            };
            out.push(finding(
                pos,
                end,
                score,
                "invisible_characters",
                format!("{n} invisible characters"),
            ));
            i = j;
            continue;
        }
        // Mixed-script word check at word starts.
        if c.is_alphabetic() && (i == 0 || !chars[i - 1].1.is_alphanumeric()) {
            let mut j = i;
            let mut latin = false;
            let mut other = false;
            while j < chars.len() && (chars[j].1.is_alphanumeric() || is_invisible(chars[j].1)) {
                match script(chars[j].1) {
                    Script::Latin => latin = true,
                    Script::Cyrillic | Script::Greek => other = true,
                    Script::Other => {}
                }
                j += 1;
            }
            if latin && other {
                let end = chars.get(j).map_or(text.len(), |x| x.0);
                out.push(finding(
                    pos,
                    end,
                    0.8,
                    "mixed_script_word",
                    "word mixes Latin with Cyrillic/Greek look-alikes".to_owned(),
                ));
            }
            // Skip only the word's first char so invisibles inside it are still seen.
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_each_kind() {
        let t = scan("hello\u{E0049}\u{E0047}\u{E004E} world");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].detector, "unicode_tags");
        assert_eq!(scan("ab\u{202E}cd")[0].detector, "bidi_control");
        assert_eq!(scan("ig\u{200B}nore")[0].detector, "invisible_characters");
        assert_eq!(
            scan("log in to pаypal now")[0].detector,
            "mixed_script_word"
        );
    }

    #[test]
    fn normal_text_is_clean() {
        assert!(scan("plain ascii").is_empty());
        assert!(scan("我的電話是 9123 4567，謝謝").is_empty());
        assert!(scan("Привет мир").is_empty());
        assert!(scan("family: 👨\u{200D}👩\u{200D}👧 ❤\u{FE0F}").is_empty());
        assert!(scan("\u{FEFF}bom at start").is_empty());
    }
}
