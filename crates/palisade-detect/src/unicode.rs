//! Unicode smuggling: invisible characters, tag-block text, bidi overrides
//! and mixed-script (homoglyph) words, reported as findings of kind
//! `unicode_smuggling`. Pure-ASCII text is skipped in O(n) with no work.

use std::borrow::Cow;

use crate::blocks::leads_outside_cjk;
use crate::finding::{Finding, Kind};
use crate::normalize::{char_needs_normalization, is_bidi_control, is_invisible, is_tag};

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
        reason: reason.into(),
    }
}

/// True for characters that belong to a word for the mixed-script check.
fn wordish(c: char) -> bool {
    c.is_ascii_alphanumeric() || (!c.is_ascii() && script(c) != Script::Other)
}

/// Finds smuggling in `text`. Only non-ASCII characters are inspected (ASCII
/// runs are skipped byte-wise); a word is examined for mixed scripts only
/// when it contains a Cyrillic or Greek letter.
pub fn scan(text: &str) -> Vec<Finding> {
    scan_checking(text, false).0
}

/// [`scan`], and with `check` also what
/// [`crate::normalize::needs_normalization`] answers for `text`, from the
/// same walk over its non-ASCII characters (the scanner needs both; two
/// walks cost it about 4 % of a 4 KB scan).
pub(crate) fn scan_checking(text: &str, check: bool) -> (Vec<Finding>, bool) {
    let mut walk = Walk {
        out: Vec::new(),
        needs: false,
        check,
        checked_to: 0,
    };
    let bytes = text.as_bytes();
    // The walk visits the characters of each 64-byte block whose lead byte
    // is not that of U+4000–U+9FFF (see `blocks`; `Walk::visit` has nothing
    // to do for those): ASCII and CJK ideographs cost no step of their own.
    // Bytes before `resume` are done.
    let mut resume = 0;
    for base in (0..bytes.len()).step_by(64) {
        let mut events = leads_outside_cjk(&bytes[base..]);
        while events != 0 {
            let i = base + events.trailing_zeros() as usize;
            events &= events - 1;
            if i >= resume {
                resume = walk.visit(text, i);
            }
        }
    }
    walk.finish()
}

/// What the walk over a text's non-ASCII characters has found so far.
struct Walk {
    out: Vec<Finding>,
    /// The normalisation check's answer so far (only when `check`).
    needs: bool,
    check: bool,
    /// End of the last word already checked for mixed scripts.
    checked_to: usize,
}

impl Walk {
    /// Looks at the non-ASCII character at byte `i` of `text`; returns the
    /// byte where the walk goes on.
    fn visit(&mut self, text: &str, i: usize) -> usize {
        let bytes = text.as_bytes();
        match bytes.get(i..i + 3) {
            // U+3000–U+3FFF (kana, CJK punctuation) and U+FF00–U+FF7F
            // (full-width forms) hold nothing this pass reports except
            // U+3164 HANGUL FILLER, which is invisible.
            Some(&[0xE3, x, y]) if !(x == 0x85 && y == 0xA4) => return i + 3,
            Some(&[0xEF, 0xBC | 0xBD, _]) => {
                if let Some(c) = text[i..].chars().next() {
                    self.check_normalization(c);
                }
                return i + 3;
            }
            _ => {}
        }
        let Some(c) = text.get(i..).and_then(|t| t.chars().next()) else {
            return text.len();
        };
        let pos = i;
        let len = c.len_utf8();
        self.check_normalization(c);
        if is_tag(c) {
            let mut end = pos + len;
            let mut n = 1;
            while let Some(d) = text[end..].chars().next().filter(|d| is_tag(*d)) {
                // The run's characters are not visited on their own: the
                // normalisation check looks at each here.
                self.check_normalization(d);
                end += d.len_utf8();
                n += 1;
            }
            self.out.push(finding(
                pos,
                end,
                0.99,
                "unicode_tags",
                format!("{n} Unicode tag characters (hidden text)"),
            ));
            return end;
        }
        if is_bidi_control(c) {
            self.out.push(finding(
                pos,
                pos + len,
                0.9,
                "bidi_control",
                format!("bidi control U+{:04X}", c as u32),
            ));
            return pos + len;
        }
        if is_invisible(c) {
            let prev = text[..pos].chars().next_back();
            let next = text[pos + len..].chars().next();
            let benign = match c {
                // ZWJ/VS inside emoji sequences, BOM at the very start.
                '\u{200D}' | '\u{FE0F}' | '\u{FE0E}' => {
                    prev.is_some_and(is_pictograph)
                        || next.is_some_and(is_pictograph)
                        || (c != '\u{200D}' && prev.is_some_and(|p| !p.is_ascii()))
                }
                '\u{FEFF}' => pos == 0,
                // ZWNJ is a normal joiner control in Persian/Indic text.
                '\u{200C}' => prev.is_some_and(|p| !p.is_ascii() && script(p) == Script::Other),
                _ => false,
            };
            if benign {
                return pos + len;
            }
            let mut end = pos + len;
            let mut n = 1;
            while let Some(d) = text[end..].chars().next().filter(|d| is_invisible(*d)) {
                // The run's characters are not visited on their own: the
                // normalisation check looks at each here.
                self.check_normalization(d);
                end += d.len_utf8();
                n += 1;
            }
            let inside_word = prev.is_some_and(char::is_alphanumeric)
                && text[end..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric);
            let score = if n >= 3 {
                0.95
            } else if inside_word {
                0.8
            } else {
                0.6
            };
            self.out.push(finding(
                pos,
                end,
                score,
                "invisible_characters",
                format!("{n} invisible characters"),
            ));
            return end;
        }
        if matches!(script(c), Script::Cyrillic | Script::Greek) && pos >= self.checked_to {
            // Find the word around it (invisible characters do not split words).
            let mut ws = pos;
            while let Some(p) = text[..ws]
                .chars()
                .next_back()
                .filter(|p| wordish(*p) || is_invisible(*p))
            {
                ws -= p.len_utf8();
            }
            let mut we = pos;
            while let Some(n) = text[we..]
                .chars()
                .next()
                .filter(|n| wordish(*n) || is_invisible(*n))
            {
                we += n.len_utf8();
            }
            let latin = text[ws..we].chars().any(|x| script(x) == Script::Latin);
            if latin {
                self.out.push(finding(
                    ws,
                    we,
                    0.8,
                    "mixed_script_word",
                    "word mixes Latin with Cyrillic/Greek look-alikes".to_owned(),
                ));
            }
            self.checked_to = we;
        }
        pos + len
    }

    /// Notes whether `c` needs normalising (only with `check`, and until
    /// one character does).
    fn check_normalization(&mut self, c: char) {
        if self.check && !self.needs {
            self.needs = char_needs_normalization(c);
        }
    }

    fn finish(mut self) -> (Vec<Finding>, bool) {
        self.out.sort_by_key(|f| f.start);
        (self.out, self.needs)
    }
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
    fn characters_inside_a_run_count_for_the_normalisation_check() {
        // The Hangul filler needs no normalising but starts an invisible
        // run; the zero-width space after it does.
        for text in [
            "\u{3164}\u{200B}",
            "x\u{E0041}\u{E0042}",
            "a\u{200C}\u{200B}b",
        ] {
            assert_eq!(
                scan_checking(text, true).1,
                crate::normalize::needs_normalization(text),
                "{text:?}"
            );
        }
        assert!(scan_checking("\u{3164}\u{200B}", true).1);
    }

    #[test]
    fn fast_paths_keep_findings_after_cjk() {
        // The CJK/full-width skip must not step over the Hangul filler
        // (U+3164, same lead byte as CJK punctuation) or anything after it.
        let t = scan("請電話，ａｂ\u{3164}x 我們 ab\u{200B}cd 中文 pаypal");
        let kinds: Vec<_> = t.iter().map(|f| f.detector.as_ref()).collect();
        assert_eq!(
            kinds,
            [
                "invisible_characters",
                "invisible_characters",
                "mixed_script_word"
            ]
        );
        assert_eq!(&"請電話，ａｂ\u{3164}x"[t[0].start..t[0].end], "\u{3164}");
    }

    /// Characters from every branch of the walk and of the
    /// normalisation check.
    const PALETTE: &[char] = &[
        'a',
        'Z',
        '7',
        ' ',
        '.',
        '請',
        '，',
        '。',
        'ア',
        '\u{3164}',
        'ａ',
        '１',
        '！',
        '｡',
        'ｱ',
        '\u{FF00}',
        '한',
        'ᄀ',
        'é',
        'ß',
        'а',
        'Ω',
        'ο',
        'ﬁ',
        '①',
        'Ⅻ',
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{FE0F}',
        '\u{FEFF}',
        '\u{202E}',
        '\u{E0041}',
        '👨',
        '❤',
        'ℌ',
        '½',
        '\u{0301}',
        '𝐀',
        'ı',
        'µ',
    ];

    proptest::proptest! {
        /// The one walk answers the normalisation check exactly as the
        /// check's own walk does, and finds what the plain scan finds.
        #[test]
        fn the_checking_scan_agrees_with_both_walks(
            picks in proptest::collection::vec(0..PALETTE.len(), 0..40),
        ) {
            let text: String = picks.iter().map(|&i| PALETTE[i]).collect();
            let (found, needs) = scan_checking(&text, true);
            proptest::prop_assert_eq!(
                needs,
                crate::normalize::needs_normalization(&text),
                "{:?}",
                text
            );
            proptest::prop_assert_eq!(&found, &scan(&text));
            proptest::prop_assert!(!scan_checking(&text, false).1);
        }

        /// The bitmap walk, which never visits ASCII or CJK ideographs,
        /// finds and answers what a walk that visits every non-ASCII
        /// character does, over texts of several 64-byte blocks.
        #[test]
        fn skipping_ascii_and_ideographs_loses_nothing(
            picks in proptest::collection::vec(0..PALETTE.len(), 0..120),
        ) {
            let text: String = picks.iter().map(|&i| PALETTE[i]).collect();
            let mut every = Walk {
                out: Vec::new(),
                needs: false,
                check: true,
                checked_to: 0,
            };
            let mut resume = 0;
            for (i, c) in text.char_indices() {
                if !c.is_ascii() && i >= resume {
                    resume = every.visit(&text, i);
                }
            }
            let (found, needs) = scan_checking(&text, true);
            let (want, want_needs) = every.finish();
            proptest::prop_assert_eq!(found, want, "{:?}", text);
            proptest::prop_assert_eq!(needs, want_needs, "{:?}", text);
        }

        /// One character of the palette among text that needs nothing, so
        /// that each one alone decides the answer.
        #[test]
        fn one_character_decides_the_check_as_in_its_own_walk(
            before in "[a-z 請，。한]{0,6}",
            pick in 0..PALETTE.len(),
            after in "[a-z 請，。한]{0,6}",
        ) {
            let text = format!("{before}{}{after}", PALETTE[pick]);
            proptest::prop_assert_eq!(
                scan_checking(&text, true).1,
                crate::normalize::needs_normalization(&text),
                "{:?}",
                text
            );
        }
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
