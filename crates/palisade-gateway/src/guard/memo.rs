//! The clean-text memo of an input stage: which request texts its detectors
//! recently found clean, so that text a client sends again is not scanned
//! again. Real traffic repeats a lot: the same system prompt (often several
//! KB) opens every request of an application, and every turn of a chat
//! resends the whole conversation before it.
//!
//! What it keeps, and why that is safe:
//! * Only the fact "clean", under an HMAC-SHA-256 (truncated to 128 bits)
//!   of the text, keyed with 32 random bytes drawn when the policy is
//!   compiled. No text, span or fragment of a prompt stays in memory, and
//!   without the key a memory dump cannot be used to test guesses.
//! * A text with any finding is never remembered: it is scanned every time,
//!   since its spans are needed to rewrite it.
//! * Entries are partitioned by the caller's credential (its
//!   `Authorization` or API-key header), so one client cannot learn from
//!   response times whether another client recently sent a given text.
//!   Clients without a credential share one partition.
//! * The detectors are pure functions of the text, and the memo belongs to
//!   one compiled policy, whose detectors and thresholds never change while
//!   it lives: policies and models change only by starting the gateway
//!   again, with empty memos. A remembered verdict is therefore always the
//!   one a fresh scan would give.
//!
//! Bounded in memory: two generations of at most `entries / 2` digests each.
//! Inserting into a full current generation retires the previous one; a hit
//! in the previous generation moves the digest to the current one. Recently
//! used texts therefore stay, as in an LRU, without per-hit bookkeeping.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Texts shorter than this are always scanned: for them the digest and the
/// lock cost about as much as the scan saves.
pub const MIN_MEMO_BYTES: usize = 32;

/// Default number of remembered texts per policy (under 1 MB of digests).
pub const DEFAULT_MEMO_ENTRIES: usize = 16_384;

/// A keyed digest of (partition, text).
pub(crate) type Digest = [u8; 16];

/// A bounded set of keyed digests of texts found clean.
pub(crate) struct CleanMemo {
    /// HMAC-SHA-256 with the key already absorbed: each digest clones it
    /// instead of redoing the key schedule (two compressions) per text.
    keyed: Hmac<Sha256>,
    per_generation: usize,
    generations: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashSet<Digest>,
    previous: HashSet<Digest>,
}

impl std::fmt::Debug for CleanMemo {
    // The key never appears in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CleanMemo")
            .field("per_generation", &self.per_generation)
            .finish_non_exhaustive()
    }
}

impl CleanMemo {
    /// A memo of at most `entries` texts with a fresh random key; `None`
    /// when `entries` is 0 (memo off).
    pub(crate) fn new(entries: usize) -> Option<CleanMemo> {
        Self::with_key(entries, rand::random())
    }

    fn with_key(entries: usize, key: [u8; 32]) -> Option<CleanMemo> {
        if entries == 0 {
            return None;
        }
        Some(CleanMemo {
            // HMAC accepts keys of any length, so this never declines.
            keyed: <Hmac<Sha256> as Mac>::new_from_slice(&key).ok()?,
            per_generation: (entries / 2).max(1),
            generations: Mutex::new(Generations::default()),
        })
    }

    /// The digest under which `text`, sent by the caller identified by
    /// `partition` in a message of a trusted role or not, is remembered.
    /// The role class and the partition's length are hashed first, so no
    /// (class, partition, text) triple can pose as another.
    pub(crate) fn digest(&self, partition: &[u8], trusted: bool, text: &str) -> Digest {
        let mut mac = self.keyed.clone();
        mac.update(&[u8::from(trusted)]);
        mac.update(&(partition.len() as u64).to_le_bytes());
        mac.update(partition);
        mac.update(text.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&full[..16]);
        digest
    }

    /// Whether `digest` was found clean recently (and keeps it fresh).
    pub(crate) fn contains(&self, digest: &Digest) -> bool {
        let mut g = self.lock();
        if g.current.contains(digest) {
            return true;
        }
        if g.previous.remove(digest) {
            g.insert(*digest, self.per_generation);
            return true;
        }
        false
    }

    /// Remembers `digest` as clean.
    pub(crate) fn insert(&self, digest: Digest) {
        self.lock().insert(digest, self.per_generation);
    }

    /// Digests held now (both generations).
    #[cfg(test)]
    fn len(&self) -> usize {
        let g = self.lock();
        g.current.len() + g.previous.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations> {
        // Two sets of digests cannot be left half-updated in a way that
        // matters: at worst a digest is missing and its text is scanned.
        self.generations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Generations {
    fn insert(&mut self, digest: Digest, per_generation: usize) {
        if self.current.len() >= per_generation && !self.current.contains(&digest) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(digest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_entries_turns_the_memo_off() {
        assert!(CleanMemo::new(0).is_none());
        assert!(CleanMemo::new(1).is_some());
    }

    #[test]
    fn digests_depend_on_key_partition_and_text() {
        let memo = CleanMemo::with_key(8, [1; 32]).unwrap();
        let other_key = CleanMemo::with_key(8, [2; 32]).unwrap();
        let d = memo.digest(b"Bearer a", false, "hello");
        assert_eq!(d, memo.digest(b"Bearer a", false, "hello"));
        assert_ne!(d, other_key.digest(b"Bearer a", false, "hello"));
        assert_ne!(d, memo.digest(b"Bearer b", false, "hello"));
        assert_ne!(d, memo.digest(b"Bearer a", false, "hellp"));
        // A text cleared in a trusted role is remembered apart.
        assert_ne!(d, memo.digest(b"Bearer a", true, "hello"));
        // The partition's length is part of the digest: moving bytes
        // between partition and text gives another digest.
        assert_ne!(
            memo.digest(b"ab", false, "c"),
            memo.digest(b"a", false, "bc")
        );
        assert_ne!(
            memo.digest(b"", false, "abc"),
            memo.digest(b"abc", false, "")
        );
    }

    #[test]
    fn remembers_what_was_inserted_and_nothing_else() {
        let memo = CleanMemo::with_key(8, [3; 32]).unwrap();
        let a = memo.digest(b"", false, "a clean text");
        let b = memo.digest(b"", false, "another text");
        assert!(!memo.contains(&a));
        memo.insert(a);
        assert!(memo.contains(&a));
        assert!(!memo.contains(&b));
        memo.insert(a);
        assert_eq!(memo.len(), 1, "inserting twice keeps one entry");
    }

    #[test]
    fn bounded_and_keeps_what_is_used() {
        let entries = 8;
        let memo = CleanMemo::with_key(entries, [4; 32]).unwrap();
        let digest = |i: usize| memo.digest(b"", false, &format!("text number {i}"));
        let hot = digest(0);
        memo.insert(hot);
        for i in 1..1000 {
            memo.insert(digest(i));
            assert!(memo.len() <= entries, "memo grew to {}", memo.len());
            // Used on every round, the hot text survives every rotation.
            assert!(memo.contains(&hot), "hot text lost after {i} inserts");
        }
        // Texts not used since two rotations are gone.
        assert!(!memo.contains(&digest(1)));
        assert!(memo.contains(&digest(999)));
    }
}
