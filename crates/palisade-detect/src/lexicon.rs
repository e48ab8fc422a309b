//! Word lookup for the context keywords and name lists: one walk over the
//! bytes that looks each ASCII word up in a hash table, plus a short check of
//! CJK keywords at non-ASCII characters.
//!
//! This replaces an Aho-Corasick automaton over the same ~1,700 patterns.
//! Every ASCII pattern has to sit on word boundaries anyway, so the only
//! places a pattern can start are word starts: hashing the ~one word in six
//! bytes is several times cheaper than stepping an automaton on every byte.
//! A pattern is split into its *head* (the leading run of word bytes, the
//! table key) and its *tail* (the rest: `" card"` in `id card`, `"'Brien"`
//! in `O'Brien`), which is compared only when the head matches. CJK keywords
//! need no boundaries and are compared wherever their first character
//! appears.
//!
//! Matching is case-sensitive: callers insert each case form they accept.
//! Where several patterns start at one word, the longest one that ends on a
//! word boundary wins; scanning resumes after it (non-overlapping hits).

use crate::blocks::{WORD, words_and_leads};
use crate::context::is_word_byte;

/// One stored pattern.
#[derive(Debug, Clone)]
struct Pattern {
    /// Bytes after the head (empty for one-word patterns).
    tail: Box<[u8]>,
    /// Caller's id for the pattern.
    id: usize,
}

/// A hash-table slot: a head and the range of its patterns in `patterns`.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// [`WordKey`] of the head; for heads of up to eight bytes it is the
    /// bytes themselves, so equal keys and lengths mean equal words.
    key: u64,
    /// Length of the head.
    len: u32,
    /// Index + 1 into `heads`; 0 marks an empty slot.
    head: u32,
}

/// Where the run of word bytes from `from` ends (byte by byte).
fn word_end(b: &[u8], from: usize) -> usize {
    from + b[from..].iter().take_while(|&&c| WORD[c as usize]).count()
}

/// A word folded into 64 bits, the hash table's key: its first eight bytes
/// exactly (read big-endian), later bytes rotated in.
fn word_key(w: &[u8]) -> u64 {
    w.iter()
        .fold(0, |k: u64, &b| k.rotate_left(8) ^ u64::from(b))
}

/// Slot index for a folded word key.
#[inline]
fn slot_of(key: u64, len: usize, mask: usize) -> usize {
    (mix(key, len) >> 40) as usize & mask
}

#[inline]
fn mix(key: u64, len: usize) -> u64 {
    (key ^ (len as u64).rotate_left(59)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Bits in the membership filter in front of the slot table.
const FILTER_BITS: usize = 1 << 16;

/// Bit of the membership filter for a folded word key. The product's high
/// half is folded into the bits taken: on their own, low bits of a product
/// depend only on the low bits of the key (the last three or four bytes
/// of a word), so words with a common ending ("-ing", "-tion") shared bits
/// and one word in eight passed the filter without being in the table.
#[inline]
fn filter_bit(key: u64, len: usize) -> usize {
    let h = mix(key, len);
    ((h ^ (h >> 29)) >> 12) as usize & (FILTER_BITS - 1)
}

/// A match: byte span and the caller's pattern id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexHit {
    /// Start byte.
    pub start: usize,
    /// End byte (exclusive).
    pub end: usize,
    /// Id given to [`LexiconBuilder::add`].
    pub id: usize,
}

/// Collects patterns, then [`LexiconBuilder::build`]s a [`Lexicon`].
#[derive(Debug, Default)]
pub struct LexiconBuilder {
    ascii: Vec<(Vec<u8>, Vec<u8>, usize)>,
    other: Vec<(Vec<u8>, usize)>,
}

impl LexiconBuilder {
    /// Adds `pattern` with the caller's `id`. A pattern starting with an
    /// ASCII word byte must match on word boundaries; one starting with a
    /// non-ASCII character matches anywhere. Patterns starting with other
    /// ASCII bytes (punctuation, space) are ignored: none exists.
    pub fn add(&mut self, pattern: &str, id: usize) {
        let b = pattern.as_bytes();
        match b.first() {
            Some(&c) if is_word_byte(c) => {
                let h = b.iter().position(|&c| !is_word_byte(c)).unwrap_or(b.len());
                self.ascii.push((b[..h].to_vec(), b[h..].to_vec(), id));
            }
            Some(&c) if c >= 0x80 => self.other.push((b.to_vec(), id)),
            _ => {}
        }
    }

    /// Builds the lookup tables.
    pub fn build(mut self) -> Lexicon {
        // Longest tail first so that the first fitting pattern is the longest.
        self.ascii
            .sort_by(|a, b| a.0.cmp(&b.0).then(b.1.len().cmp(&a.1.len())));
        let mut heads: Vec<(Box<[u8]>, u32, u32)> = Vec::new();
        let mut patterns = Vec::with_capacity(self.ascii.len());
        for (head, tail, id) in self.ascii {
            let at = patterns.len() as u32;
            if heads.last().is_none_or(|h| *h.0 != *head) {
                heads.push((head.into_boxed_slice(), at, at));
            }
            patterns.push(Pattern {
                tail: tail.into_boxed_slice(),
                id,
            });
            if let Some(h) = heads.last_mut() {
                h.2 = at + 1;
            }
        }
        let size = (heads.len() * 4).next_power_of_two().max(64);
        let mut slots = vec![Slot::default(); size];
        let mut filter = vec![0u64; FILTER_BITS / 64];
        let mut head_firsts = [false; 256];
        for (i, (head, _, _)) in heads.iter().enumerate() {
            let key = word_key(head);
            if let Some(&first) = head.first() {
                head_firsts[usize::from(first)] = true;
            }
            let bit = filter_bit(key, head.len());
            filter[bit / 64] |= 1 << (bit % 64);
            let mut at = slot_of(key, head.len(), size - 1);
            while slots[at].head != 0 {
                at = (at + 1) & (size - 1);
            }
            slots[at] = Slot {
                key,
                len: head.len() as u32,
                head: i as u32 + 1,
            };
        }
        self.other
            .sort_by(|a, b| a.0.cmp(&b.0).then(b.0.len().cmp(&a.0.len())));
        let mut first_chars = vec![0u64; 1024];
        let mut pairs = [0u64; 32];
        for (p, _) in &self.other {
            let len = match p[0] {
                0xF0.. => 4,
                0xE0.. => 3,
                _ => 2,
            };
            let key = cp_key(&p[..len.min(p.len())]);
            first_chars[key >> 6] |= 1 << (key & 63);
            let k = pair_key(p[0], p.get(1).copied().unwrap_or(0));
            pairs[k / 64] |= 1 << (k % 64);
        }
        let mut firsts: Vec<(u32, u32, u32)> = Vec::new();
        for (i, (p, _)) in self.other.iter().enumerate() {
            let key = first_char_key(p);
            match firsts.last_mut() {
                Some(last) if last.0 == key => last.2 = i as u32 + 1,
                _ => firsts.push((key, i as u32, i as u32 + 1)),
            }
        }
        Lexicon {
            slots,
            filter,
            heads,
            patterns,
            other: self
                .other
                .into_iter()
                .map(|(p, id)| (p.into_boxed_slice(), id))
                .collect(),
            firsts,
            first_chars,
            pairs,
            head_firsts,
        }
    }
}

/// The compiled lookup tables (immutable, `Send + Sync`).
#[derive(Debug, Clone)]
pub struct Lexicon {
    slots: Vec<Slot>,
    /// One bit per [`filter_bit`] of every head: 8 KB that stay in the L1
    /// cache, so most words of ordinary prose (in no list) are rejected
    /// without touching the much larger slot table.
    filter: Vec<u64>,
    /// `(head bytes, first pattern, end of patterns)`.
    heads: Vec<(Box<[u8]>, u32, u32)>,
    patterns: Vec<Pattern>,
    /// Non-ASCII patterns, sorted by bytes.
    other: Vec<(Box<[u8]>, usize)>,
    /// `(first character as UTF-8 bytes packed in a u32, first pattern, end
    /// of patterns)` for each distinct first character of `other`, sorted.
    firsts: Vec<(u32, u32, u32)>,
    /// Bitmap over [`cp_key`] of the first characters of `other`.
    first_chars: Vec<u64>,
    /// Bitmap over [`pair_key`] of the first two bytes of `other`.
    pairs: [u64; 32],
    /// Whether some head starts with each byte.
    head_firsts: [bool; 256],
}

/// A bit (of 2,048) for the first two bytes of a non-ASCII character: the
/// payload bits of its lead byte and of its first continuation byte.
/// Characters that share it only cost a closer look.
#[inline(always)]
fn pair_key(first: u8, second: u8) -> usize {
    (usize::from(first & 0x1F) << 6) | usize::from(second & 0x3F)
}

/// The low 16 bits of the code point of the UTF-8 character in `c` (a
/// bitmap index; distinct characters may share it, which only costs a
/// comparison).
fn cp_key(c: &[u8]) -> usize {
    let mut k = (c[0] as usize) & 0x0F;
    for &b in c.iter().skip(1) {
        k = (k << 6) | (b as usize & 0x3F);
    }
    k & 0xFFFF
}

/// The first UTF-8 character of `b` (up to four bytes) packed big-endian
/// into a u32, so byte order and integer order agree.
#[inline]
fn first_char_key(b: &[u8]) -> u32 {
    let len = match b.first() {
        Some(0xF0..) => 4,
        Some(0xE0..) => 3,
        Some(0x80..) => 2,
        _ => 1,
    };
    b.iter()
        .take(len)
        .fold(0u32, |k, &c| (k << 8) | u32::from(c))
}

impl Lexicon {
    /// The head entry for word `w` with folded key `key`, if any.
    #[inline(always)]
    fn head(&self, w: &[u8], key: u64) -> Option<&(Box<[u8]>, u32, u32)> {
        let bit = filter_bit(key, w.len());
        if self.filter[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut at = slot_of(key, w.len(), mask);
        loop {
            let s = self.slots[at];
            if s.head == 0 {
                return None;
            }
            if s.key == key && s.len as usize == w.len() {
                let h = &self.heads[s.head as usize - 1];
                if w.len() <= 8 || *h.0 == *w {
                    return Some(h);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// The id of the pattern that is exactly the ASCII word `w` (no tail),
    /// if any.
    pub fn word_id(&self, w: &str) -> Option<usize> {
        let w = w.as_bytes();
        if w.is_empty() || !w.iter().all(|&b| WORD[b as usize]) {
            return None;
        }
        let key = word_key(w);
        let &(_, from, to) = self.head(w, key)?;
        self.patterns[from as usize..to as usize]
            .iter()
            .find(|p| p.tail.is_empty())
            .map(|p| p.id)
    }

    /// Appends every non-overlapping hit in `text` to `out`, by start, and
    /// the span of every ASCII word that starts with an upper-case letter
    /// (name candidates and initials) to `caps`.
    ///
    /// The text is classified 64 bytes at a time into two bitmaps (word
    /// bytes, and lead bytes of non-ASCII characters; see [`words_and_leads`]),
    /// so the walk visits only word starts and the non-ASCII characters that
    /// may start a pattern: the spaces and punctuation between them, the
    /// inside of each word, and other characters cost no step of their own.
    #[inline]
    pub fn find(&self, text: &str, out: &mut Vec<LexHit>, caps: &mut Vec<(usize, usize)>) {
        let b = text.as_bytes();
        let n = b.len();
        // Bytes before `next` are taken: by a hit, or by the word just
        // looked up.
        let mut next = 0;
        let mut base = 0;
        while base < n {
            let (word, lead) = words_and_leads(&b[base..]);
            // A word running on from the previous block shows as a start
            // at bit 0; the walk is past it already (`next`).
            let starts = word & !(word << 1);
            let candidates = self.candidate_characters(b, base, lead);
            let mut events = starts | candidates;
            while events != 0 {
                let j = events.trailing_zeros() as usize;
                events &= events - 1;
                let p = base + j;
                if p < next {
                    continue;
                }
                // Most blocks have no candidate character: the test is
                // predicted and the block is words only.
                if candidates & (1 << j) != 0 {
                    let after = self.at_character(b, p, out);
                    // A non-ASCII pattern that ends in a word byte ("號碼A")
                    // leaves the walk inside a word, at a start the bitmap
                    // does not show. No list has one; handled all the same.
                    next = if b.get(after).is_some_and(|&c| WORD[c as usize])
                        && WORD[b[after - 1] as usize]
                    {
                        let e = word_end(b, after);
                        if b[after].is_ascii_uppercase() {
                            caps.push((after, e));
                        }
                        self.at_word(b, after, e, out)
                    } else {
                        after
                    };
                    continue;
                }
                // The word's end: the first non-word byte after `p` in
                // this block, or past it byte by byte.
                let rest = !word >> j;
                let e = if rest != 0 {
                    p + rest.trailing_zeros() as usize
                } else {
                    word_end(b, base + 64)
                };
                if b[p].is_ascii_uppercase() {
                    caps.push((p, e));
                }
                next = self.at_word(b, p, e, out);
            }
            base += 64;
        }
    }

    /// Bitmap of the non-ASCII characters among `lead` (the lead bytes of
    /// the block at `base`) whose first two bytes some non-ASCII pattern
    /// starts with: only those need [`Lexicon::at_character`]. In Chinese
    /// text nearly every character is a lead byte and nearly none starts a
    /// keyword; this test has no branch per character.
    #[inline(always)]
    fn candidate_characters(&self, b: &[u8], base: usize, lead: u64) -> u64 {
        let mut rest = lead;
        let mut candidates = 0u64;
        while rest != 0 {
            let j = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            let first = b.get(base + j).copied().unwrap_or(0);
            let second = b.get(base + j + 1).copied().unwrap_or(0);
            let k = pair_key(first, second);
            candidates |= ((self.pairs[k / 64] >> (k % 64)) & 1) << j;
        }
        candidates
    }

    /// Looks up the ASCII word `b[s..e)`; returns where the walk goes on.
    #[inline(always)]
    fn at_word(&self, b: &[u8], s: usize, e: usize, out: &mut Vec<LexHit>) -> usize {
        // Numbers, mostly: no head starts with their first byte.
        if !self.head_firsts[usize::from(b[s])] {
            return e;
        }
        let n = b.len();
        let len = e - s;
        // For up to eight bytes the key is the bytes themselves read
        // big-endian, as `word_key` builds it: one load where the text has
        // eight bytes from `s`.
        let key = match b.get(s..s + 8) {
            Some(chunk) if len <= 8 => {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                let x = u64::from_be_bytes(word);
                x >> (8 * (8 - len))
            }
            _ => word_key(&b[s..e]),
        };
        let Some(&(_, from, to)) = self.head(&b[s..e], key) else {
            return e;
        };
        for p in &self.patterns[from as usize..to as usize] {
            let end = e + p.tail.len();
            if end <= n
                && (p.tail.is_empty() || b[e..end] == *p.tail)
                && (end == n || !WORD[b[end] as usize])
            {
                out.push(LexHit {
                    start: s,
                    end,
                    id: p.id,
                });
                return end;
            }
        }
        e
    }

    /// Checks the non-ASCII character at `i` against the first characters
    /// of the non-ASCII patterns; returns where the walk goes on.
    #[inline(always)]
    fn at_character(&self, b: &[u8], i: usize, out: &mut Vec<LexHit>) -> usize {
        let n = b.len();
        let len = match b[i] {
            0xF0.. => 4,
            0xE0.. => 3,
            _ => 2,
        };
        let key = cp_key(&b[i..(i + len).min(n)]);
        if self.first_chars[key >> 6] & (1 << (key & 63)) != 0 {
            let rest = &b[i..];
            let ch = first_char_key(rest);
            let best = self
                .firsts
                .binary_search_by_key(&ch, |f| f.0)
                .ok()
                .and_then(|at| {
                    let (_, from, to) = self.firsts[at];
                    self.other[from as usize..to as usize]
                        .iter()
                        .filter(|(p, _)| rest.starts_with(p))
                        .max_by_key(|(p, _)| p.len())
                });
            if let Some((p, id)) = best {
                out.push(LexHit {
                    start: i,
                    end: i + p.len(),
                    id: *id,
                });
                return i + p.len();
            }
        }
        i + len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(patterns: &[&str]) -> Lexicon {
        let mut b = LexiconBuilder::default();
        for (i, p) in patterns.iter().enumerate() {
            b.add(p, i);
        }
        b.build()
    }

    fn hits(l: &Lexicon, t: &str) -> Vec<(usize, usize, usize)> {
        let mut v = Vec::new();
        l.find(t, &mut v, &mut Vec::new());
        v.into_iter().map(|h| (h.start, h.end, h.id)).collect()
    }

    #[test]
    fn words_on_boundaries_only() {
        let l = lex(&["id", "Chan", "phone"]);
        assert_eq!(hits(&l, "my id is"), vec![(3, 5, 0)]);
        assert!(hits(&l, "did Chantal idle").is_empty());
        assert_eq!(hits(&l, "Chan_x Chan."), vec![(7, 11, 1)]);
        assert_eq!(hits(&l, "電話phone"), vec![(6, 11, 2)]);
    }

    #[test]
    fn longest_phrase_wins_and_falls_back() {
        let l = lex(&["id", "id card", "reach me", "reach me at", "O'Brien", "a/c"]);
        assert_eq!(hits(&l, "id card no"), vec![(0, 7, 1)]);
        // "id cards" is not "id card"; the shorter keyword still counts.
        assert_eq!(hits(&l, "id cards"), vec![(0, 2, 0)]);
        assert_eq!(hits(&l, "reach me at 5"), vec![(0, 11, 3)]);
        assert_eq!(hits(&l, "reach me"), vec![(0, 8, 2)]);
        assert_eq!(hits(&l, "Ms O'Brien's a/c"), vec![(3, 10, 4), (13, 16, 5)]);
        assert!(hits(&l, "O'Briens").is_empty());
    }

    #[test]
    fn cjk_anywhere_longest_first() {
        let l = lex(&["出生", "出生日期", "電話", "name"]);
        assert_eq!(hits(&l, "他的出生日期是"), vec![(6, 18, 1)]);
        assert_eq!(hits(&l, "出生地"), vec![(0, 6, 0)]);
        assert_eq!(hits(&l, "請電話name"), vec![(3, 9, 2), (9, 13, 3)]);
        assert!(hits(&l, "電").is_empty());
    }

    #[test]
    fn reports_capitalised_words() {
        let l = lex(&["x"]);
        let mut caps = Vec::new();
        l.find("Janka M. Sz J A-b a 電Xy", &mut Vec::new(), &mut caps);
        assert_eq!(
            caps,
            vec![(0, 5), (6, 7), (9, 11), (12, 13), (14, 15), (23, 25)]
        );
    }

    #[test]
    fn the_filter_rejects_words_that_only_share_an_ending_with_a_head() {
        // 2,000 seven-letter heads ending in "ing", and as many other such
        // words: when the filter bit came from the product's low bits, it
        // depended on little more than the last three bytes, and nearly
        // every other "-ing" word passed.
        let word = |n: usize| {
            let letters: String = (0..4)
                .map(|k| char::from(b'a' + ((n / 26usize.pow(k)) % 26) as u8))
                .collect();
            format!("{letters}ing")
        };
        let heads: Vec<String> = (0..2000).map(|n| word(2 * n)).collect();
        let refs: Vec<&str> = heads.iter().map(String::as_str).collect();
        let l = lex(&refs);
        let others: Vec<String> = (0..2000).map(|n| word(2 * n + 1)).collect();
        let passed = others
            .iter()
            .filter(|w| {
                let bit = filter_bit(word_key(w.as_bytes()), w.len());
                l.filter[bit / 64] & (1 << (bit % 64)) != 0
            })
            .count();
        assert!(passed < 200, "{passed} of 2000 passed the filter");
        assert!(refs.iter().all(|w| l.word_id(w).is_some()));
    }

    #[test]
    fn every_non_ascii_pattern_start_is_a_candidate() {
        let patterns = ["出生", "名字", "é", "😀x", "ßa"];
        let l = lex(&patterns);
        for p in patterns {
            let b = p.as_bytes();
            let lead = 1u64;
            assert_eq!(l.candidate_characters(b, 0, lead), 1, "{p}");
        }
        // A character no pattern starts with (its pair bit is clear).
        assert_eq!(l.candidate_characters("中".as_bytes(), 0, 1), 0);
    }

    #[test]
    fn words_whose_first_byte_starts_no_head_are_not_looked_up() {
        let l = lex(&["4x4", "card"]);
        assert_eq!(hits(&l, "a 4x4 card 5x5"), vec![(2, 5, 0), (6, 10, 1)]);
        assert!(l.head_firsts[usize::from(b'4')] && !l.head_firsts[usize::from(b'5')]);
        // A word looked up or not, its capital still counts.
        let mut caps = Vec::new();
        l.find("Zed 4x4", &mut Vec::new(), &mut caps);
        assert_eq!(caps, vec![(0, 3)]);
    }

    #[test]
    fn case_sensitive_and_long_words() {
        let l = lex(&["phone", "Internationalisation"]);
        assert!(hits(&l, "PHONE Phone").is_empty());
        assert_eq!(hits(&l, "Internationalisation"), vec![(0, 20, 1)]);
        assert!(hits(&l, "Internationalisations").is_empty());
    }

    #[test]
    fn cjk_patterns_sharing_a_lead_byte_are_told_apart() {
        // 出 (E5 87 BA) and 名 (E5 90 8D) share their first UTF-8 byte; only
        // the patterns starting with the character found are candidates.
        let l = lex(&["出生", "名字", "姓名", "名"]);
        assert_eq!(hits(&l, "名字出生"), vec![(0, 6, 1), (6, 12, 0)]);
        assert_eq!(hits(&l, "名 出"), vec![(0, 3, 3)]);
        assert_eq!(hits(&l, "姓名"), vec![(0, 6, 2)]);
    }

    #[test]
    fn word_id_finds_exact_single_words_only() {
        let l = lex(&["The", "id card", "Street", "電話"]);
        assert_eq!(l.word_id("The"), Some(0));
        assert_eq!(l.word_id("Street"), Some(2));
        assert_eq!(l.word_id("the"), None);
        assert_eq!(
            l.word_id("id"),
            None,
            "a phrase head alone is not a word entry"
        );
        assert_eq!(l.word_id("id card"), None);
        assert_eq!(l.word_id("電話"), None);
        assert_eq!(l.word_id(""), None);
    }

    /// Patterns of the property test below: phrases, a long head, a head
    /// longer than a block, apostrophes, CJK, and a non-ASCII pattern that
    /// ends in a word byte.
    const PATTERNS: &[&str] = &[
        "card",
        "id card",
        "id",
        "passport",
        "Passport",
        "date of birth",
        "date",
        "Hong Kong",
        "O'Brien",
        "Internationalisation",
        "Mr",
        "電話",
        "電話號碼",
        "身份證",
        "號碼A",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ];

    /// A hit as `(start, end, id)`.
    type Span = (usize, usize, usize);

    /// The walk as first written, byte by byte, against the pattern list
    /// itself (no hash table): at each word start the longest pattern whose
    /// head is the word and whose tail follows up to a word boundary; at
    /// each non-ASCII character the longest non-ASCII pattern there.
    fn reference(text: &str) -> (Vec<Span>, Vec<(usize, usize)>) {
        let b = text.as_bytes();
        let (mut hits, mut caps) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c >= 0x80 {
                let len = text[i..].chars().next().map_or(1, char::len_utf8);
                let best = PATTERNS
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.as_bytes()[0] >= 0x80 && b[i..].starts_with(p.as_bytes()))
                    .max_by_key(|(_, p)| p.len());
                match best {
                    Some((id, p)) => {
                        hits.push((i, i + p.len(), id));
                        i += p.len();
                    }
                    None => i += len,
                }
                continue;
            }
            if !WORD[c as usize] {
                i += 1;
                continue;
            }
            let e = i + b[i..].iter().take_while(|&&c| WORD[c as usize]).count();
            if c.is_ascii_uppercase() {
                caps.push((i, e));
            }
            let best = PATTERNS
                .iter()
                .enumerate()
                .filter(|(_, p)| {
                    let p = p.as_bytes();
                    let head = p.iter().take_while(|&&c| WORD[c as usize]).count();
                    let end = i + p.len();
                    head == e - i
                        && b[i..].starts_with(p)
                        && (end == b.len() || !WORD[b[end] as usize])
                })
                .max_by_key(|(_, p)| p.len());
            match best {
                Some((id, p)) => {
                    hits.push((i, i + p.len(), id));
                    i += p.len();
                }
                None => i = e,
            }
        }
        (hits, caps)
    }

    /// Pieces of the property test's texts.
    const PIECES: &[&str] = &[
        "card",
        "Card",
        "id",
        "id card",
        "date of birth",
        "date of",
        "passport",
        "Passport",
        "Hong Kong",
        "Hong",
        "O'Brien",
        "O'",
        "Internationalisation",
        "Internationalisations",
        "Mr",
        "Mrs",
        "電話",
        "電話號碼",
        "身份證",
        "號碼A",
        "號碼AB",
        "中",
        "é",
        "ß",
        "😀",
        " ",
        "  ",
        ",",
        ".",
        "\n",
        "-",
        "_",
        "x",
        "X9",
        "9",
        "Zürich",
        "bank",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "word_with_underscores",
    ];

    proptest::proptest! {
        #[test]
        fn the_bitmap_walk_finds_what_the_byte_walk_finds(
            picks in proptest::collection::vec(0..PIECES.len(), 0..120)
        ) {
            let text: String = picks.iter().map(|&k| PIECES[k]).collect();
            let l = lex(PATTERNS);
            let mut out = Vec::new();
            let mut caps = Vec::new();
            l.find(&text, &mut out, &mut caps);
            let found: Vec<Span> =
                out.iter().map(|h| (h.start, h.end, h.id)).collect();
            let (want, want_caps) = reference(&text);
            proptest::prop_assert_eq!(found, want, "{:?}", text);
            proptest::prop_assert_eq!(caps, want_caps, "{:?}", text);
        }
    }

    #[test]
    fn word_keys_do_not_depend_on_where_the_text_ends() {
        // The eight-byte path and the byte-wise tail must build the same key.
        let l = lex(&["card", "Internationalisation", "passport"]);
        for t in [
            "card",
            "card!",
            "passport no",
            "a passport",
            "Internationalisation x",
        ] {
            let padded = format!("{t}          ");
            let mut a = hits(&l, t);
            let b = hits(&l, &padded);
            a.retain(|h| h.1 <= t.len());
            assert_eq!(a, b, "{t}");
            assert!(!a.is_empty(), "{t}");
        }
    }
}
