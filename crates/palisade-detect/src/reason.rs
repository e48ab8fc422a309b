//! Reason texts shared between findings instead of built for each one.
//!
//! A pattern finding's reason is `"<rule>: <validator note>"`, followed by
//! `"; context word '<word>'"` when a context keyword was near. Every part
//! is a `&'static str`, so one rule only ever produces a handful of distinct
//! texts. Allocating (and later freeing) a fresh `String` for each finding
//! cost about 4 % of a 4 KB scan (BENCHMARKS.md, eleventh session); here each
//! distinct text is built once per process and every later finding borrows
//! it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

/// How many distinct (note, context word) pairs one rule keeps borrowed
/// texts for. A rule's validator has one to three notes and a finding sees
/// at most one context word, so eight covers ordinary text; a rule that
/// meets more pairs builds the rest per finding, as before.
const SLOTS: usize = 8;

/// One cached text and the parts it was built from.
#[derive(Debug, Clone, Copy)]
struct Slot {
    note: &'static str,
    word: Option<&'static str>,
    text: &'static str,
}

/// The reason texts of one rule, filled in as findings need them. Reads are
/// lock-free (a filled slot is an atomic load), so scans on many threads
/// share one `Reasons` without contention.
#[derive(Debug, Default)]
pub(crate) struct Reasons {
    slots: [OnceLock<Slot>; SLOTS],
}

impl Reasons {
    /// The reason for a finding of rule `name` whose validator said `note`,
    /// with the context keyword `word` if one was near.
    pub(crate) fn get(
        &self,
        name: &'static str,
        note: &'static str,
        word: Option<&'static str>,
    ) -> Cow<'static, str> {
        for slot in &self.slots {
            let filled = slot.get_or_init(|| Slot {
                note,
                word,
                text: intern(compose(name, note, word)),
            });
            if same(filled.note, note)
                && match (filled.word, word) {
                    (None, None) => true,
                    (Some(a), Some(b)) => same(a, b),
                    _ => false,
                }
            {
                return Cow::Borrowed(filled.text);
            }
        }
        Cow::Owned(compose(name, note, word))
    }
}

/// The reason text itself.
pub(crate) fn compose(name: &str, note: &str, word: Option<&str>) -> String {
    let mut reason =
        String::with_capacity(name.len() + note.len() + word.map_or(0, |w| w.len() + 18) + 2);
    reason.push_str(name);
    reason.push_str(": ");
    reason.push_str(note);
    if let Some(word) = word {
        reason.push_str("; context word '");
        reason.push_str(word);
        reason.push('\'');
    }
    reason
}

/// The same static string: compared by address, which is enough because
/// every caller passes the literal its validator returned. Two equal
/// literals at different addresses only cost a second slot.
fn same(a: &'static str, b: &'static str) -> bool {
    std::ptr::eq(a, b)
}

/// `text` as a string that lives for the rest of the process, leaked at most
/// once per distinct text whatever the number of scanners built. The texts
/// are made of rule names, validator notes and context keywords, all fixed
/// in the binary, so their number is bounded (a few thousand at the very
/// most, a few dozen in practice).
fn intern(text: String) -> &'static str {
    static TEXTS: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut texts = TEXTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(&known) = texts.get(&text) {
        return known;
    }
    let leaked: &'static str = Box::leak(text.clone().into_boxed_str());
    texts.insert(text, leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_read_as_before_and_are_shared() {
        let reasons = Reasons::default();
        let a = reasons.get("hkid", "HKID check digit passed", None);
        assert_eq!(a, "hkid: HKID check digit passed");
        assert!(matches!(a, Cow::Borrowed(_)));
        let b = reasons.get("hkid", "HKID check digit passed", None);
        let (Cow::Borrowed(x), Cow::Borrowed(y)) = (&a, &b) else {
            panic!("both borrowed");
        };
        assert!(
            std::ptr::eq(*x, *y),
            "the second finding borrows the first text"
        );
        let c = reasons.get("hkid", "HKID check digit passed", Some("HKID"));
        assert_eq!(c, "hkid: HKID check digit passed; context word 'HKID'");
    }

    #[test]
    fn pairs_beyond_the_slots_are_still_right() {
        static WORDS: [&str; 12] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"];
        let reasons = Reasons::default();
        for round in 0..2 {
            for (i, w) in WORDS.iter().enumerate() {
                let r = reasons.get("rule", "note", Some(*w));
                assert_eq!(r, format!("rule: note; context word '{w}'"));
                // The first SLOTS pairs are cached; the rest are built each time.
                assert_eq!(
                    matches!(r, Cow::Borrowed(_)),
                    i < SLOTS,
                    "round {round}, {w}"
                );
            }
        }
        // A pair seen before the slots filled is still found.
        assert!(matches!(
            reasons.get("rule", "note", Some(WORDS[0])),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn scanners_built_twice_share_one_leaked_text() {
        let first = Reasons::default().get("email", "address structure valid", None);
        let second = Reasons::default().get("email", "address structure valid", None);
        let (Cow::Borrowed(x), Cow::Borrowed(y)) = (first, second) else {
            panic!("both borrowed");
        };
        assert!(std::ptr::eq(x, y));
    }
}
