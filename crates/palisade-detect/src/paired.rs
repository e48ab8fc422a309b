//! The scanner's pass over its whole pattern set: the leftmost-first matches
//! of a sequence of searches, each starting where the caller says (after a
//! finding, or one byte past a candidate its validator refused).
//!
//! One lazy-DFA step is a table load whose address depends on the load
//! before it, so a single walk runs at the latency of the CPU's first-level
//! cache, not at its throughput. A text of [`SPLIT_MIN`] bytes or more is
//! therefore walked as two chains of searches stepped together: chain A
//! from the start, chain B from the middle; from [`SPLIT3_MIN`] bytes, as
//! three, from the start (A), a third (B) and two thirds (C). Stepping
//! them together overlaps their loads; on the benchmark text the bare walk
//! took 40 % less time as two chains (BENCHMARKS.md, twelfth session), and
//! three took about a fifth less than two (fifteenth session).
//!
//! Chain B is a guess: it assumes a search starts at its split. Chain A
//! therefore goes on past the split until it provably agrees with chain B,
//! and only then takes chain B's results. The proof is exact: B records its
//! DFA state before the bytes it passes. When A, with no match seen yet in its
//! current search, is in the state B was in at the same position, with no
//! match seen in B's search either, the same deterministic automaton reads
//! the same bytes from there, so A's search ends where B's ended, with the
//! same pattern. (B records its state every 16 bytes, so A joins at one
//! of those positions.) A's search may have started earlier, so A finds its own
//! match start with the reverse automaton, and takes B's results from that
//! search on only if the start is B's too. Otherwise A goes on by itself.
//! Chain B joins chain C in the same way, once C has reached the end; the
//! search in which B joined is recorded with C's match, so that A may join
//! B inside it, and B's results then end with C's.
//!
//! A state recorded by B or C is an index into the lazy DFA's cache, which
//! is cleared when it fills up; after a clear, no recorded state is trusted
//! and chain A finishes the text alone.

use regex_automata::hybrid::{LazyStateID, dfa, regex};
use regex_automata::nfa::thompson::{self, WhichCaptures, pikevm};
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, Match, MatchError, MatchKind, PatternID};

use crate::Error;

/// Texts shorter than this are searched as one chain: the second chain's
/// start and its records cost more than they save.
pub(crate) const SPLIT_MIN: usize = 512;

/// Texts of this many bytes or more are searched as three chains (each a
/// third at least [`SPLIT_MIN`] long).
pub(crate) const SPLIT3_MIN: usize = 3 * SPLIT_MIN;

/// Where chains B and C start (0: no such chain).
pub(crate) type Splits = [usize; 2];

/// Where chains B and C start in `text`: for a text of [`SPLIT3_MIN`] bytes
/// or more, the first character boundaries at or after a third and two
/// thirds; for one of [`SPLIT_MIN`] bytes or more, at or after the middle
/// (two chains); otherwise none (one chain).
pub(crate) fn split_points(text: &str) -> Splits {
    let boundary = |mut at: usize| {
        while !text.is_char_boundary(at) {
            at += 1;
        }
        at
    };
    let n = text.len();
    if n < SPLIT_MIN {
        [0, 0]
    } else if n < SPLIT3_MIN {
        [boundary(n / 2), 0]
    } else {
        [boundary(n / 3), boundary(2 * n / 3)]
    }
}

/// The compiled pattern set: a forward and a reverse lazy DFA, a reverse
/// lazy DFA per variable-length pattern, and the NFA simulation that
/// finishes a scan if a lazy DFA ever refuses to go on.
#[derive(Debug)]
pub(crate) struct PatternSearch {
    re: regex::Regex,
    fallback: pikevm::PikeVM,
    /// Per pattern, its length when every match has the same length: such
    /// a match's start needs no reverse search.
    fixed_len: Vec<Option<usize>>,
    /// Per pattern whose matches vary in length: a reverse lazy DFA of that
    /// pattern alone, which finds such a match's start.
    starts: Vec<Option<dfa::DFA>>,
}

/// What one thread needs to search with a [`PatternSearch`]: the lazy DFAs'
/// caches, chain B's records, and the fallback's cache (made on first use).
#[derive(Debug)]
pub(crate) struct SearchCache {
    re: regex::Cache,
    /// Chain B's records (for chain A) and chain C's (for chain B).
    marks: [Vec<Mark>; 2],
    /// Chain B's searches and chain C's.
    searches: [Vec<Searched>; 2],
    fallback: Option<pikevm::Cache>,
    /// Per pattern, the cache of its reverse automaton in
    /// [`PatternSearch`]'s `starts`, made on first use. Boxed: an unused
    /// cache is 352 bytes, so inline the list would hold 49 KB per thread
    /// for caches most scans never make.
    starts: Vec<Option<Box<dfa::Cache>>>,
}

/// Chain B's state before one byte, and which of its searches was running
/// then; [`NO_SEARCH`] when that search had already seen a match (its end
/// still depends on what comes later, so A cannot join it there).
#[derive(Clone, Copy, Debug)]
struct Mark {
    sid: LazyStateID,
    search: u32,
}

const NO_SEARCH: u32 = u32::MAX;

impl Mark {
    /// A record chain A never joins at.
    fn blank() -> Mark {
        Mark {
            sid: LazyStateID::default(),
            search: NO_SEARCH,
        }
    }
}

/// How far past the split chain B records its states. Chain A joins B
/// within a few words of the split on ordinary text; past this window it
/// finishes alone.
const MARK_WINDOW: usize = 8 * 1024;

/// Chain B records its state every this many bytes from the split, not at
/// every byte: a store in the two-chain loop cost more than chain A's
/// later join (at most this many bytes later) does.
const MARK_STRIDE: usize = 16;

/// One of chain B's searches: what it found, and how many results chain B
/// had produced before it.
#[derive(Clone, Copy, Debug)]
struct Searched {
    found: Option<Match>,
    produced: usize,
}

/// A search in progress: where it started, the next byte to read, the
/// state before that byte, and the last match end seen.
#[derive(Clone, Copy, Debug)]
struct Chain {
    at: usize,
    pos: usize,
    sid: LazyStateID,
    seen: Option<(usize, PatternID)>,
}

/// What reading one more byte (or the end of the text) did to a search.
enum Step {
    Reading,
    Ended(Option<(usize, PatternID)>),
}

/// How a scan of chain A ends when it stops early.
enum Stop {
    /// Chain A's results are complete: it reached the end, or it took the
    /// next chain's results.
    Done,
    /// A lazy DFA refused (it cannot with this crate's settings): the NFA
    /// simulation goes on from this search start.
    Fallback(usize),
}

impl SearchCache {
    /// Empties chains B's and C's lists of searches, and frees one past
    /// `keep_bytes` of capacity (a long text can hold thousands of
    /// searches; the state records are bounded by [`MARK_WINDOW`] anyway).
    pub(crate) fn trim(&mut self, keep_bytes: usize) {
        for searches in &mut self.searches {
            searches.clear();
            if searches
                .capacity()
                .saturating_mul(std::mem::size_of::<Searched>())
                > keep_bytes
            {
                *searches = Vec::new();
            }
        }
    }
}

impl PatternSearch {
    /// Compiles `patterns` as one leftmost-first set over bytes (not UTF-8:
    /// a match may start anywhere, as the scanner's validators expect).
    pub(crate) fn new(patterns: &[&str]) -> Result<PatternSearch, Error> {
        PatternSearch::with_cache_capacity(patterns, 8 << 20)
    }

    /// [`PatternSearch::new`] with a lazy-DFA cache of `bytes` per automaton
    /// (tests use a small one to make the cache clear during a scan).
    fn with_cache_capacity(patterns: &[&str], bytes: usize) -> Result<PatternSearch, Error> {
        let syntax = syntax::Config::new().unicode(false).utf8(false);
        let nfa = thompson::Config::new()
            .utf8(false)
            .nfa_size_limit(Some(256 << 20))
            .which_captures(WhichCaptures::Implicit);
        let build = |e: thompson::BuildError| Error::Build(e.to_string());
        // The forward NFA keeps the implicit groups the fallback reports
        // matches with; the lazy DFA does not mind them.
        let forward_nfa = thompson::Compiler::new()
            .syntax(syntax)
            .configure(nfa.clone())
            .build_many(patterns)
            .map_err(build)?;
        let mut reverse_compiler = thompson::Compiler::new();
        reverse_compiler.syntax(syntax).configure(
            nfa.clone()
                .which_captures(WhichCaptures::None)
                .reverse(true),
        );
        let reverse_nfa = reverse_compiler.build_many(patterns).map_err(build)?;
        // No quit bytes and no give-up threshold: the lazy DFA clears its
        // cache when full and never refuses. The fallback is for safety.
        let lazy = dfa::Config::new()
            .match_kind(MatchKind::LeftmostFirst)
            .starts_for_each_pattern(true)
            .cache_capacity(bytes);
        let dfa_error = |e: regex_automata::hybrid::BuildError| Error::Build(e.to_string());
        let forward = dfa::Builder::new()
            .configure(lazy.clone())
            .build_from_nfa(forward_nfa.clone())
            .map_err(dfa_error)?;
        // As the library's own regex builds its reverse automaton: every
        // match, so the search from a match end finds the leftmost start.
        // The set's is used by the library's own search (`one_chain`);
        // `whole` has one per pattern.
        let reverse_config = lazy
            .clone()
            .starts_for_each_pattern(false)
            .specialize_start_states(false)
            .match_kind(MatchKind::All);
        let reverse = dfa::Builder::new()
            .configure(reverse_config.clone())
            .build_from_nfa(reverse_nfa)
            .map_err(dfa_error)?;
        let re = regex::Builder::new().build_from_dfas(forward, reverse);
        let fallback = pikevm::PikeVM::new_from_nfa(forward_nfa).map_err(build)?;
        let fixed_len = patterns
            .iter()
            .map(|p| {
                let props = syntax::parse_with(p, &syntax).ok()?.properties().clone();
                let len = props.minimum_len()?;
                (props.maximum_len() == Some(len)).then_some(len)
            })
            .collect::<Vec<Option<usize>>>();
        let one_reverse = reverse_config.cache_capacity(bytes.min(1 << 20));
        let starts = patterns
            .iter()
            .zip(&fixed_len)
            .map(|(p, fixed)| {
                if fixed.is_some() {
                    return Ok(None);
                }
                let nfa = reverse_compiler.build(p).map_err(build)?;
                dfa::Builder::new()
                    .configure(one_reverse.clone())
                    .build_from_nfa(nfa)
                    .map(Some)
                    .map_err(dfa_error)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(PatternSearch {
            re,
            fallback,
            fixed_len,
            starts,
        })
    }

    /// A fresh cache for one thread.
    pub(crate) fn create_cache(&self) -> SearchCache {
        SearchCache {
            re: self.re.create_cache(),
            marks: [Vec::new(), Vec::new()],
            searches: [Vec::new(), Vec::new()],
            fallback: None,
            starts: self.starts.iter().map(|_| None).collect(),
        }
    }

    /// The match of pattern `pid` that starts exactly at `from`, if any.
    pub(crate) fn anchored(
        &self,
        cache: &mut SearchCache,
        text: &str,
        from: usize,
        pid: PatternID,
    ) -> Option<Match> {
        let input = Input::new(text)
            .range(from..)
            .anchored(Anchored::Pattern(pid));
        match self.re.try_search(&mut cache.re, &input) {
            Ok(m) => m,
            Err(_) => {
                let vm = cache
                    .fallback
                    .get_or_insert_with(|| self.fallback.create_cache());
                self.fallback.find(vm, input)
            }
        }
    }

    /// Runs the chain of searches over `text`: each match goes to `on_match`,
    /// which pushes what it makes of the match into the list it is given and
    /// returns where the next search starts. The chain ends when a search
    /// finds nothing or the next start is at or past the end.
    ///
    /// `splits` are where chains B and C start (0: no such chain; a C at or
    /// before B is none); [`split_points`] is the scanner's choice, and
    /// tests try others. `spares` hold chain B's and chain C's results until
    /// the chain before takes them; they are left empty.
    ///
    /// `on_match` must depend only on the match and the text (it may search
    /// with [`PatternSearch::anchored`]): a later chain's results are taken
    /// as the earlier chain's once the two agree on a match.
    ///
    /// Returns how many chains joined the next one and took its results
    /// (for tests: the chains are what make the pass fast, and the joins
    /// must not quietly stop happening).
    pub(crate) fn run<T>(
        &self,
        cache: &mut SearchCache,
        text: &str,
        splits: Splits,
        out: &mut Vec<T>,
        spares: &mut [Vec<T>; 2],
        mut on_match: impl FnMut(&mut SearchCache, Match, &mut Vec<T>) -> usize,
    ) -> usize {
        for spare in spares.iter_mut() {
            spare.clear();
        }
        let n = text.len();
        let [b, c] = splits;
        let mut joins = 0;
        let stop = if b == 0 || b >= n {
            self.one_chain(cache, text, 0, out, &mut on_match)
        } else {
            let c = (c > b && c < n).then_some(c);
            self.walk(cache, text, b, c, out, spares, &mut joins, &mut on_match)
                .unwrap_or_else(|stop| stop)
        };
        if let Stop::Fallback(at) = stop {
            self.fallback_chain(cache, text, at, out, &mut on_match);
        }
        for spare in spares.iter_mut() {
            spare.clear();
        }
        joins
    }

    /// Chain A alone from `at`, with the library's own (unrolled) search.
    fn one_chain<T>(
        &self,
        cache: &mut SearchCache,
        text: &str,
        mut at: usize,
        out: &mut Vec<T>,
        on_match: &mut impl FnMut(&mut SearchCache, Match, &mut Vec<T>) -> usize,
    ) -> Stop {
        while at < text.len() {
            let input = Input::new(text).range(at..);
            match self.re.try_search(&mut cache.re, &input) {
                Ok(Some(m)) => at = on_match(cache, m, out),
                Ok(None) => break,
                Err(_) => return Stop::Fallback(at),
            }
        }
        Stop::Done
    }

    /// The NFA simulation from `at` to the end, for the case the lazy DFA
    /// refuses (slow, exact).
    fn fallback_chain<T>(
        &self,
        cache: &mut SearchCache,
        text: &str,
        mut at: usize,
        out: &mut Vec<T>,
        on_match: &mut impl FnMut(&mut SearchCache, Match, &mut Vec<T>) -> usize,
    ) {
        while at < text.len() {
            let input = Input::new(text).range(at..);
            let vm = cache
                .fallback
                .get_or_insert_with(|| self.fallback.create_cache());
            let Some(m) = self.fallback.find(vm, input) else {
                break;
            };
            at = on_match(cache, m, out);
        }
    }

    fn start(&self, cache: &mut SearchCache, text: &str, at: usize) -> Result<Chain, MatchError> {
        let input = Input::new(text).range(at..);
        let sid = self
            .re
            .forward()
            .start_state_forward(cache.re.as_parts_mut().0, &input)?;
        Ok(Chain {
            at,
            pos: at,
            sid,
            seen: None,
        })
    }

    /// Reads one byte, or the end of the text, with everything the fast
    /// loops leave out: computing a missing transition, match and dead
    /// states. Mirrors the library's forward search, including the one-byte
    /// delay of match states.
    fn step(
        &self,
        cache: &mut SearchCache,
        text: &[u8],
        c: &mut Chain,
    ) -> Result<Step, MatchError> {
        let fwd = self.re.forward();
        let fc = cache.re.as_parts_mut().0;
        let Some(&byte) = text.get(c.pos) else {
            let sid = fwd
                .next_eoi_state(fc, c.sid)
                .map_err(|_| MatchError::gave_up(c.pos))?;
            if sid.is_match() {
                c.seen = Some((c.pos, fwd.match_pattern(fc, sid, 0)));
            }
            return Ok(Step::Ended(c.seen));
        };
        let sid = fwd
            .next_state(fc, c.sid, byte)
            .map_err(|_| MatchError::gave_up(c.pos))?;
        c.sid = sid;
        if sid.is_tagged() {
            if sid.is_match() {
                c.seen = Some((c.pos, fwd.match_pattern(fc, sid, 0)));
            } else if sid.is_dead() {
                return Ok(Step::Ended(c.seen));
            } else if sid.is_quit() {
                return Err(MatchError::quit(byte, c.pos));
            }
        }
        c.pos += 1;
        Ok(Step::Reading)
    }

    /// The whole match of a search from `at` that ended at `end` with
    /// pattern `pid`: the start comes from the pattern's fixed length, or
    /// from the reverse automaton of `pid` alone. That automaton is a lazy
    /// DFA of its own, not the set's reverse DFA started for `pid`: its
    /// byte classes and states are those of one pattern, so its table stays
    /// small and in cache (on the benchmark text this took 0.4 µs off a
    /// 4 KB scan and 0.3 µs off a 1 KB one; BENCHMARKS.md, thirteenth
    /// session).
    ///
    /// Leftmost-first means the match starts at the leftmost start of any
    /// match at or after `at`, and `pid` matches from there to `end`; no
    /// match of `pid` can start further left, so the leftmost start of
    /// `pid`'s matches ending at `end` is the match's start. The library's
    /// own search runs every pattern backwards instead, which walks on
    /// while any of them could (an e-mail local part, a keyword before a
    /// token).
    fn whole(
        &self,
        cache: &mut SearchCache,
        text: &str,
        at: usize,
        (end, pid): (usize, PatternID),
    ) -> Result<Match, MatchError> {
        if end == at {
            return Ok(Match::new(pid, end..end));
        }
        if let Some(Some(len)) = self.fixed_len.get(pid.as_usize())
            && end >= at + len
        {
            return Ok(Match::new(pid, end - len..end));
        }
        // Every pattern has a fixed length or an automaton of its own; a
        // miss here (or none found) sends the scan to the NFA simulation.
        let (Some(Some(d)), Some(c)) = (
            self.starts.get(pid.as_usize()),
            cache.starts.get_mut(pid.as_usize()),
        ) else {
            return Err(MatchError::gave_up(end));
        };
        let c = c.get_or_insert_with(|| Box::new(dfa::Cache::new(d)));
        let input = Input::new(text).span(at..end).anchored(Anchored::Yes);
        match d.try_search_rev(c, &input)? {
            Some(start) => Ok(Match::new(pid, start.offset()..end)),
            // The reverse automaton matches wherever the forward one did.
            None => Err(MatchError::gave_up(end)),
        }
    }

    fn clears(cache: &mut SearchCache) -> usize {
        cache.re.as_parts_mut().0.clear_count()
    }

    /// After the lazy DFA's cache was cleared since it counted `clears`
    /// (by another chain's step), chain A's state may name a state that is
    /// gone: A starts its current search again. True when it did.
    fn restarted_after_clear(
        &self,
        cache: &mut SearchCache,
        text: &str,
        clears: usize,
        a: &mut Chain,
    ) -> Result<bool, Stop> {
        if Self::clears(cache) == clears {
            return Ok(false);
        }
        let at = a.at;
        self.restart(cache, text, a, at)?;
        Ok(true)
    }

    /// Starts chain `c`'s next search at `next`; `Err(Done)` at the end.
    fn restart(
        &self,
        cache: &mut SearchCache,
        text: &str,
        c: &mut Chain,
        next: usize,
    ) -> Result<(), Stop> {
        if next >= text.len() {
            return Err(Stop::Done);
        }
        *c = self
            .start(cache, text, next)
            .map_err(|_| Stop::Fallback(next))?;
        Ok(())
    }

    /// One careful step of chain A: when its search ends, the match goes to
    /// `on_match` and the next search starts. `Err` ends the run.
    fn step_a<T>(
        &self,
        cache: &mut SearchCache,
        text: &str,
        a: &mut Chain,
        out: &mut Vec<T>,
        on_match: &mut impl FnMut(&mut SearchCache, Match, &mut Vec<T>) -> usize,
    ) -> Result<(), Stop> {
        match self.step(cache, text.as_bytes(), a) {
            Ok(Step::Reading) => Ok(()),
            Ok(Step::Ended(None)) => Err(Stop::Done),
            Ok(Step::Ended(Some(seen))) => {
                let m = self
                    .whole(cache, text, a.at, seen)
                    .map_err(|_| Stop::Fallback(a.at))?;
                let next = on_match(cache, m, out);
                self.restart(cache, text, a, next)
            }
            Err(_) => Err(Stop::Fallback(a.at)),
        }
    }

    /// Chains A, B and (if `c` is some) C; see the module's text.
    ///
    /// 1. All three read together until chain C's searches end (at the end
    ///    of the text).
    /// 2. Chains A and B read together until B joins C (or its own
    ///    searches end).
    /// 3. Chain A reads alone until it joins B (or its searches end).
    ///
    /// With no chain C, phase 2 is where B reads to the end. `Ok` when A
    /// joined B; `joins` counts every join.
    #[allow(clippy::too_many_arguments)]
    fn walk<T>(
        &self,
        cache: &mut SearchCache,
        text: &str,
        split: usize,
        c_split: Option<usize>,
        out: &mut Vec<T>,
        spares: &mut [Vec<T>; 2],
        joins: &mut usize,
        on_match: &mut impl FnMut(&mut SearchCache, Match, &mut Vec<T>) -> usize,
    ) -> Result<Stop, Stop> {
        let bytes = text.as_bytes();
        let n = bytes.len();
        let mut a = self.start(cache, text, 0).map_err(|_| Stop::Fallback(0))?;
        let mut b = self
            .leader(cache, text, split, 0)
            .map_err(|_| Stop::Fallback(0))?;
        let mut c = match c_split {
            Some(at) => Some(
                self.leader(cache, text, at, 1)
                    .map_err(|_| Stop::Fallback(0))?,
            ),
            None => None,
        };
        let clears = Self::clears(cache);
        let [b_spare, c_spare] = spares;

        // Phase 1: three chains reading.
        let mut b_alive = true;
        let mut c_done = false;
        let mut trusted = true;
        if let Some(c) = c.as_mut() {
            loop {
                let room = (n - a.pos)
                    .min(n - b.chain.pos)
                    .min(n - c.chain.pos)
                    .min(b.record(cache))
                    .min(c.record(cache));
                if !a.sid.is_tagged() && !b.chain.sid.is_tagged() && !c.chain.sid.is_tagged() {
                    let fwd = self.re.forward();
                    let fc = cache.re.as_parts_mut().0;
                    let ta = &bytes[a.pos..a.pos + room];
                    let tb = &bytes[b.chain.pos..b.chain.pos + room];
                    let tc = &bytes[c.chain.pos..c.chain.pos + room];
                    let mut i = 0;
                    for ((&x, &y), &z) in ta.iter().zip(tb).zip(tc) {
                        let na = fwd.next_state_untagged(fc, a.sid, x);
                        let nb = fwd.next_state_untagged(fc, b.chain.sid, y);
                        let nc = fwd.next_state_untagged(fc, c.chain.sid, z);
                        if na.is_tagged() || nb.is_tagged() || nc.is_tagged() {
                            break;
                        }
                        a.sid = na;
                        b.chain.sid = nb;
                        c.chain.sid = nc;
                        i += 1;
                    }
                    a.pos += i;
                    b.chain.pos += i;
                    c.chain.pos += i;
                    if i == room && room > 0 {
                        continue;
                    }
                }
                // Careful steps: chain C, B, then A. After a clear of the
                // lazy DFA's cache, chain A goes on alone.
                let c_reading = self
                    .step_leader(cache, text, c, c_spare, on_match)
                    .map_err(|_| Stop::Fallback(a.at))?;
                if self.restarted_after_clear(cache, text, clears, &mut a)? {
                    trusted = false;
                    break;
                }
                if !c_reading {
                    c_done = true;
                    break;
                }
                let b_reading = self
                    .step_leader(cache, text, &mut b, b_spare, on_match)
                    .map_err(|_| Stop::Fallback(a.at))?;
                if self.restarted_after_clear(cache, text, clears, &mut a)? {
                    trusted = false;
                    break;
                }
                if !b_reading {
                    // B's searches reached the end: C's results are not needed.
                    b_alive = false;
                    break;
                }
                self.step_a(cache, text, &mut a, out, on_match)?;
                if Self::clears(cache) != clears {
                    // Chain A's state survives a clear it caused; B's and
                    // C's states and records may not.
                    trusted = false;
                    break;
                }
            }
        }

        // Phase 2: chains A and B reading; B joins C where their states agree.
        // C's results from the search where B joined are B's last ones;
        // they stay in C's list (a copy into B's would grow it past the
        // allocator's reuse of freed blocks on long texts).
        let mut b_joined = None;
        let c_split = c_split.unwrap_or(n);
        let c_covered = c.as_ref().filter(|_| c_done).map_or(0, |c| c.covered);
        while trusted && b_alive {
            if b.chain.seen.is_none() && b.chain.pos >= c_split {
                let rel = b.chain.pos - c_split;
                if rel.is_multiple_of(MARK_STRIDE) && rel / MARK_STRIDE < c_covered {
                    let mark = cache.marks[1][rel / MARK_STRIDE];
                    if mark.search != NO_SEARCH && mark.sid == b.chain.sid {
                        let j = mark.search as usize;
                        let joined = self.join_leaders(cache, text, &mut b, j, b_spare, on_match);
                        if self.restarted_after_clear(cache, text, clears, &mut a)? {
                            trusted = false;
                            break;
                        }
                        match joined {
                            Ok(Leading::Joined(from)) => {
                                *joins += 1;
                                b_joined = Some(from);
                                break;
                            }
                            Ok(Leading::Ended) => break,
                            Ok(Leading::Reading) => continue,
                            Err(()) => return Err(Stop::Fallback(a.at)),
                        }
                    }
                }
            }
            // Stop where chain B records its state, and where it may join C.
            let to_c_record = if b.chain.pos < c_split {
                c_split - b.chain.pos
            } else {
                let rel = b.chain.pos - c_split;
                if rel / MARK_STRIDE < c_covered {
                    MARK_STRIDE - rel % MARK_STRIDE
                } else {
                    usize::MAX
                }
            };
            let room = (n - a.pos)
                .min(n - b.chain.pos)
                .min(b.record(cache))
                .min(to_c_record);
            if !a.sid.is_tagged() && !b.chain.sid.is_tagged() {
                let fwd = self.re.forward();
                let fc = cache.re.as_parts_mut().0;
                let ta = &bytes[a.pos..a.pos + room];
                let tb = &bytes[b.chain.pos..b.chain.pos + room];
                let mut i = 0;
                for (&x, &y) in ta.iter().zip(tb) {
                    let na = fwd.next_state_untagged(fc, a.sid, x);
                    let nb = fwd.next_state_untagged(fc, b.chain.sid, y);
                    if na.is_tagged() || nb.is_tagged() {
                        break;
                    }
                    a.sid = na;
                    b.chain.sid = nb;
                    i += 1;
                }
                a.pos += i;
                b.chain.pos += i;
                if i == room && room > 0 {
                    continue;
                }
            }
            // A state needs care (a transition to compute, a match, a
            // dead end) or a chain is at the end: one careful step each,
            // chain B first.
            if !self
                .step_leader(cache, text, &mut b, b_spare, on_match)
                .map_err(|_| Stop::Fallback(a.at))?
            {
                break;
            }
            if self.restarted_after_clear(cache, text, clears, &mut a)? {
                trusted = false;
                break;
            }
            self.step_a(cache, text, &mut a, out, on_match)?;
            if Self::clears(cache) != clears {
                trusted = false;
                break;
            }
        }

        // Phase 3: chain A alone, joining chain B where their states agree.
        loop {
            let rel = a.pos.wrapping_sub(split);
            if trusted
                && a.seen.is_none()
                && a.pos >= split
                && rel.is_multiple_of(MARK_STRIDE)
                && rel / MARK_STRIDE < b.covered
            {
                let mark = cache.marks[0][rel / MARK_STRIDE];
                if mark.search != NO_SEARCH && mark.sid == a.sid {
                    let j = mark.search as usize;
                    let Some(next) = self.join(cache, text, &a, j, out, b_spare, on_match)? else {
                        *joins += 1;
                        // Chain B's results end with C's from where B joined.
                        if let Some(from) = b_joined {
                            out.extend(c_spare.drain(from..));
                        }
                        return Ok(Stop::Done);
                    };
                    self.restart(cache, text, &mut a, next)?;
                    if Self::clears(cache) != clears {
                        trusted = false;
                    }
                    continue;
                }
            }
            if !a.sid.is_tagged() && a.pos < n {
                let next = self.re.forward().next_state_untagged(
                    cache.re.as_parts_mut().0,
                    a.sid,
                    bytes[a.pos],
                );
                if !next.is_tagged() {
                    a.sid = next;
                    a.pos += 1;
                    continue;
                }
            }
            self.step_a(cache, text, &mut a, out, on_match)?;
            if Self::clears(cache) != clears {
                trusted = false;
            }
        }
    }

    /// Chain B (`k` 0) or C (`k` 1), starting at `split`, with an empty list
    /// of searches and room for its records.
    fn leader(
        &self,
        cache: &mut SearchCache,
        text: &str,
        split: usize,
        k: usize,
    ) -> Result<Leader, MatchError> {
        cache.searches[k].clear();
        // Records at split, split + MARK_STRIDE, ... up to the window's end.
        let slots = MARK_WINDOW.min(text.len() - split) / MARK_STRIDE + 1;
        if cache.marks[k].len() < slots {
            cache.marks[k].resize(slots, Mark::blank());
        }
        Ok(Leader {
            chain: self.start(cache, text, split)?,
            split,
            k,
            slots,
            covered: 0,
        })
    }

    /// One careful step of a leading chain: when its search ends, the
    /// search is recorded, its match goes to `on_match` and the next search
    /// starts. `Ok(false)` when its searches have reached the end.
    #[inline(always)]
    fn step_leader<T>(
        &self,
        cache: &mut SearchCache,
        text: &str,
        l: &mut Leader,
        spare: &mut Vec<T>,
        on_match: &mut impl FnMut(&mut SearchCache, Match, &mut Vec<T>) -> usize,
    ) -> Result<bool, ()> {
        match self.step(cache, text.as_bytes(), &mut l.chain) {
            Ok(Step::Reading) => Ok(true),
            Ok(Step::Ended(seen)) => {
                let found = seen
                    .map(|s| self.whole(cache, text, l.chain.at, s))
                    .transpose()
                    .map_err(|_| ())?;
                self.end_search(cache, text, l, found, spare, on_match)
            }
            Err(_) => Err(()),
        }
    }

    /// A leading chain's search ended with `found`: records it, hands the
    /// match to `on_match` and starts the next search. `Ok(false)` when no
    /// search follows.
    #[inline]
    fn end_search<T>(
        &self,
        cache: &mut SearchCache,
        text: &str,
        l: &mut Leader,
        found: Option<Match>,
        spare: &mut Vec<T>,
        on_match: &mut impl FnMut(&mut SearchCache, Match, &mut Vec<T>) -> usize,
    ) -> Result<bool, ()> {
        let n = text.len();
        cache.searches[l.k].push(Searched {
            found,
            produced: spare.len(),
        });
        let next = found.map_or(n, |m| on_match(cache, m, spare));
        if next >= n {
            return Ok(false);
        }
        // Records the chain will not pass are blanks.
        let to = (next - l.split).div_ceil(MARK_STRIDE).min(l.slots);
        if to > l.covered {
            cache.marks[l.k][l.covered..to].fill(Mark::blank());
            l.covered = to;
        }
        l.chain = self.start(cache, text, next).map_err(|_| ())?;
        Ok(true)
    }

    /// Chain A, reading at a position where its state is chain B's in B's
    /// search `j`, takes that search's end. If its match starts where B's
    /// did, B's results from search `j` on are A's: they move to `out`, and
    /// the result is `None` (done). Otherwise A handles its own match and
    /// the result is where A's next search starts.
    #[allow(clippy::too_many_arguments)]
    fn join<T>(
        &self,
        cache: &mut SearchCache,
        text: &str,
        a: &Chain,
        j: usize,
        out: &mut Vec<T>,
        spare: &mut Vec<T>,
        on_match: &mut impl FnMut(&mut SearchCache, Match, &mut Vec<T>) -> usize,
    ) -> Result<Option<usize>, Stop> {
        let Some(&searched) = cache.searches[0].get(j) else {
            return Err(Stop::Fallback(a.at));
        };
        let Some(theirs) = searched.found else {
            out.extend(spare.drain(searched.produced..));
            return Ok(None);
        };
        let ours = self
            .whole(cache, text, a.at, (theirs.end(), theirs.pattern()))
            .map_err(|_| Stop::Fallback(a.at))?;
        if ours.start() == theirs.start() {
            out.extend(spare.drain(searched.produced..));
            return Ok(None);
        }
        Ok(Some(on_match(cache, ours, out)))
    }

    /// Chain B, reading at a position where its state is chain C's in C's
    /// search `j`, as [`PatternSearch::join`] for chain A: if B's match
    /// starts where C's did, C's results from search `j` on are B's last
    /// ones ([`Leading::Joined`] says where they start in C's list), and
    /// B's current search is recorded with C's match (chain A may join B
    /// in that search later).
    fn join_leaders<T>(
        &self,
        cache: &mut SearchCache,
        text: &str,
        b: &mut Leader,
        j: usize,
        b_spare: &mut Vec<T>,
        on_match: &mut impl FnMut(&mut SearchCache, Match, &mut Vec<T>) -> usize,
    ) -> Result<Leading, ()> {
        let Some(&searched) = cache.searches[1].get(j) else {
            return Err(());
        };
        let ours = match searched.found {
            None => None,
            Some(theirs) => {
                let ours = self
                    .whole(cache, text, b.chain.at, (theirs.end(), theirs.pattern()))
                    .map_err(|_| ())?;
                if ours.start() != theirs.start() {
                    return Ok(
                        if self.end_search(cache, text, b, Some(ours), b_spare, on_match)? {
                            Leading::Reading
                        } else {
                            Leading::Ended
                        },
                    );
                }
                Some(ours)
            }
        };
        cache.searches[0].push(Searched {
            found: ours,
            produced: b_spare.len(),
        });
        Ok(Leading::Joined(searched.produced))
    }
}

/// Chain B or C: a chain of searches that starts at a split and records its
/// states for the chain before it to join.
struct Leader {
    chain: Chain,
    /// Where its first search starts.
    split: usize,
    /// Which of the cache's record and search lists are its own.
    k: usize,
    /// How many records it may write.
    slots: usize,
    /// Records `0..covered` were written by this run.
    covered: usize,
}

impl Leader {
    /// At a record position within the window, records the chain's state
    /// before its next byte. Returns how many bytes the chain may read
    /// before its next record position (unbounded past the window).
    #[inline(always)]
    fn record(&mut self, cache: &mut SearchCache) -> usize {
        let rel = self.chain.pos - self.split;
        let at = rel / MARK_STRIDE;
        if at >= self.slots {
            return usize::MAX;
        }
        if rel.is_multiple_of(MARK_STRIDE) {
            let search = if self.chain.seen.is_none() {
                u32::try_from(cache.searches[self.k].len()).unwrap_or(NO_SEARCH)
            } else {
                NO_SEARCH
            };
            cache.marks[self.k][at] = Mark {
                sid: self.chain.sid,
                search,
            };
            self.covered = self.covered.max(at + 1);
        }
        MARK_STRIDE - rel % MARK_STRIDE
    }
}

/// What a join attempt of chain B left it doing.
enum Leading {
    /// B took C's results from this one on: done.
    Joined(usize),
    /// B's own searches reached the end: done.
    Ended,
    /// B handled its own match and goes on.
    Reading,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pii, secrets};
    use proptest::prelude::*;

    /// The scanner's own pattern set.
    fn scanner_patterns() -> Vec<&'static str> {
        secrets::FORMATS
            .iter()
            .map(|f| f.pattern)
            .chain([secrets::GENERIC_PATTERN])
            .chain(pii::PII_RULES.iter().map(|r| r.pattern))
            .collect()
    }

    /// Patterns whose matches overlap a split in awkward ways: a run that
    /// can start anywhere inside itself, an optional prefix, a word-bounded
    /// number, a pattern that needs a look at the byte before it.
    const AWKWARD: &[&str] = &[
        r"a+b",
        r"x*yz",
        r"\b[0-9]{3,}\b",
        r"(?:ab)*c",
        r"\bfoo",
        r"=[a-z]{4}",
    ];

    /// What the caller does with a match: whether it keeps it, and where the
    /// next search starts.
    type Rule = fn(&Match) -> (bool, usize);

    /// Keeps every match; the next search starts at its end.
    fn keep_all(m: &Match) -> (bool, usize) {
        (true, m.end().max(m.start() + 1))
    }

    /// Refuses matches at even starts (the next search starts one byte
    /// later, inside the refused match).
    fn keep_odd_starts(m: &Match) -> (bool, usize) {
        if m.start() % 2 == 1 {
            keep_all(m)
        } else {
            (false, m.start() + 1)
        }
    }

    /// Keeps every match, but after some the next search starts well past
    /// the end (as after a validator that extends a finding).
    fn skip_ahead(m: &Match) -> (bool, usize) {
        let jump = if m.start().is_multiple_of(3) { 37 } else { 0 };
        (true, m.end().max(m.start() + 1) + jump)
    }

    /// Every match kept, as `(pattern, start, end)`, of the chain `rule`
    /// drives, and how many chains joined the next one.
    fn chain(
        search: &PatternSearch,
        cache: &mut SearchCache,
        text: &str,
        splits: Splits,
        rule: Rule,
    ) -> (Vec<(usize, usize, usize)>, usize) {
        let (mut out, mut spares) = (Vec::new(), [Vec::new(), Vec::new()]);
        let joins = search.run(cache, text, splits, &mut out, &mut spares, |_, m, out| {
            let (keep, next) = rule(&m);
            if keep {
                out.push((m.pattern().as_usize(), m.start(), m.end()));
            }
            next
        });
        assert!(spares.iter().all(Vec::is_empty));
        (out, joins)
    }

    /// How many chains `splits` makes for a text of `n` bytes.
    fn chains(splits: Splits, n: usize) -> usize {
        let [b, c] = splits;
        if b == 0 || b >= n {
            1
        } else if c > b && c < n {
            3
        } else {
            2
        }
    }

    /// The same chain through the NFA simulation alone.
    fn fallback(search: &PatternSearch, text: &str, rule: Rule) -> Vec<(usize, usize, usize)> {
        let mut cache = search.create_cache();
        let mut out = Vec::new();
        search.fallback_chain(
            &mut cache,
            text,
            0,
            &mut out,
            &mut |_, m: Match, out: &mut Vec<_>| {
                let (keep, next) = rule(&m);
                if keep {
                    out.push((m.pattern().as_usize(), m.start(), m.end()));
                }
                next
            },
        );
        out
    }

    const FRAGMENTS: &[&str] = &[
        "Contact chan.taiman@example.com.hk or +852 9123 4567. ",
        "card 4111 1111 1111 1111 and HKID A123456(3). ",
        "請致電 9876 5432 聯絡陳先生。",
        "token ghp_R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0sA2eZ8u\n",
        "The quarterly report shows revenue grew in every region. ",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab ",
        "xxxxxxxxxxxxxxyz 123456 foo=abcd ",
        "ababababababababc 0042 ",
        "GB82 WEST 1234 5698 7654 32 ",
        "10.20.30.40 ",
        " ",
        "a",
        "7",
        "é",
    ];

    fn text_of(parts: &[usize]) -> String {
        parts
            .iter()
            .map(|&i| FRAGMENTS[i % FRAGMENTS.len()])
            .collect()
    }

    fn split_of(text: &str, fraction: f64) -> usize {
        // Any byte, boundary or not: the search does not rely on it.
        ((text.len() as f64) * fraction) as usize
    }

    #[test]
    fn chains_join_on_ordinary_text_and_agree_with_one() {
        let search = PatternSearch::new(&scanner_patterns()).unwrap();
        let mut cache = search.create_cache();
        let text = text_of(&(0..80).collect::<Vec<_>>());
        let (one, _) = chain(&search, &mut cache, &text, [0, 0], keep_all);
        assert!(one.len() > 10, "{one:?}");
        assert_eq!(one, fallback(&search, &text, keep_all));
        let mid = split_points(&text[..text.len() / 2 + 100]);
        for splits in [split_points(&text), [mid[0], 0]] {
            let (more, joins) = chain(&search, &mut cache, &text, splits, keep_all);
            assert_eq!(one, more, "{splits:?}");
            assert_eq!(joins, chains(splits, text.len()) - 1, "{splits:?}");
        }
        assert_eq!(chains(split_points(&text), text.len()), 3);
    }

    /// Each chain must keep joining the next on realistic text of any
    /// length, split as the scanner splits it: a change that stopped the
    /// joins would find the same matches, only slower (a chain would walk
    /// the rest of the text alone after the lockstep part).
    #[test]
    fn chains_join_on_mixed_text_of_any_length() {
        let search = PatternSearch::new(&scanner_patterns()).unwrap();
        let mut cache = search.create_cache();
        let realistic: Vec<&str> = [0, 1, 2, 3, 4, 8, 9]
            .iter()
            .map(|&i| FRAGMENTS[i])
            .chain([
                "fn handle(req: Request) -> Result<Response, Error> { Ok(render(req)) }\n",
                "config = { \"timeout_ms\": 2500, \"region\": \"ap-east-1\" }\n",
                "我们需要在月底前完成数据迁移，并确认所有备份都已验证。",
            ])
            .collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for size in (512..24_000).step_by(997) {
            let mut text = String::new();
            while text.len() < size {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(realistic[(state % realistic.len() as u64) as usize]);
            }
            let splits = split_points(&text);
            let (one, _) = chain(&search, &mut cache, &text, [0, 0], keep_all);
            let (more, joins) = chain(&search, &mut cache, &text, splits, keep_all);
            assert_eq!(one, more, "{size} bytes");
            let want = chains(splits, text.len()) - 1;
            assert_eq!(joins, want, "{size} bytes: {joins} of {want} joins");
        }
    }

    /// Prose without a match across both splits: chain B's first search
    /// runs from its start past chain C's, and B joins C inside it; chain
    /// A then joins B in that same search, which B must have recorded.
    #[test]
    fn a_chain_joins_one_that_joined_inside_the_same_search() {
        let search = PatternSearch::new(&scanner_patterns()).unwrap();
        let mut cache = search.create_cache();
        let text = format!(
            "card 4111 1111 1111 1111 {} 10.20.30.40 end",
            FRAGMENTS[4].repeat(40)
        );
        let splits = split_points(&text);
        assert_eq!(chains(splits, text.len()), 3);
        let (one, _) = chain(&search, &mut cache, &text, [0, 0], keep_all);
        let (three, joins) = chain(&search, &mut cache, &text, splits, keep_all);
        assert_eq!(one.len(), 2, "{one:?}");
        assert_eq!(one, three);
        assert_eq!(joins, 2);
    }

    #[test]
    fn a_match_that_starts_before_the_split_is_chain_a_s() {
        // `a+b` over a run across the split: chain B's search from the
        // split finds the same end as A's, but A's match starts earlier.
        let search = PatternSearch::new(AWKWARD).unwrap();
        let mut cache = search.create_cache();
        let text = format!("{} {}b tail foo", "z".repeat(600), "a".repeat(800));
        let (one, _) = chain(&search, &mut cache, &text, [0, 0], keep_all);
        assert_eq!(one, vec![(0, 601, 1402), (4, 1408, 1411)]);
        // The run across chain B's start, chain C's, or both.
        for splits in [[1000, 0], [300, 1000], [700, 1000], [1000, 1200]] {
            let (more, _) = chain(&search, &mut cache, &text, splits, keep_all);
            assert_eq!(one, more, "{splits:?}");
        }
    }

    #[test]
    fn a_lazy_dfa_that_clears_mid_scan_changes_nothing() {
        let patterns = scanner_patterns();
        // The smallest cache the lazy DFA accepts for this set.
        let small = (16..28)
            .find_map(|bits| PatternSearch::with_cache_capacity(&patterns, 1 << bits).ok())
            .unwrap();
        let big = PatternSearch::new(&patterns).unwrap();
        // Fragments between pseudo-random runs over the bytes the patterns
        // care about, so the lazy DFA meets many more states than fit.
        let alphabet = b"aAbBkKxXzZ0123456789@.-_:/=+ ";
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut text = String::new();
        for i in 0..400 {
            text.push_str(FRAGMENTS[i % FRAGMENTS.len()]);
            for _ in 0..40 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(char::from(
                    alphabet[(state % alphabet.len() as u64) as usize],
                ));
            }
        }
        let mut cache = small.create_cache();
        let mut big_cache = big.create_cache();
        let before = cache.re.as_parts_mut().0.clear_count();
        for keep in [keep_all as Rule, keep_odd_starts, skip_ahead] {
            let (want, _) = chain(&big, &mut big_cache, &text, [0, 0], keep);
            for k in 0..24 {
                let b = text.len() * k / 24;
                let c = if k % 2 == 0 { b + text.len() / 5 } else { 0 };
                let (got, _) = chain(&small, &mut cache, &text, [b, c], keep);
                assert_eq!(got, want, "splits {b} {c}");
            }
        }
        assert!(
            cache.re.as_parts_mut().0.clear_count() > before + 10,
            "the cache seldom cleared"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any splits give what one chain gives, with the scanner's patterns
        /// and with awkward ones, taking every match or refusing some.
        #[test]
        fn any_split_finds_what_one_chain_finds(
            parts in proptest::collection::vec(0usize..64, 0..80),
            fraction in 0.0f64..1.0,
            second in 0.0f64..1.0,
            awkward in any::<bool>(),
            rule in 0usize..3,
        ) {
            use std::sync::{Mutex, OnceLock};
            // One cache per pattern set for every case, as a scanner's
            // thread reuses its own: records of earlier texts stay in it.
            static SCANNER: OnceLock<(PatternSearch, Mutex<SearchCache>)> = OnceLock::new();
            static ODD: OnceLock<(PatternSearch, Mutex<SearchCache>)> = OnceLock::new();
            let make = |patterns: &[&str]| {
                let search = PatternSearch::new(patterns).unwrap();
                let cache = Mutex::new(search.create_cache());
                (search, cache)
            };
            let (search, cache) = if awkward {
                ODD.get_or_init(|| make(AWKWARD))
            } else {
                SCANNER.get_or_init(|| make(&scanner_patterns()))
            };
            let mut cache = cache.lock().unwrap();
            let rule = [keep_all as Rule, keep_odd_starts, skip_ahead][rule];
            let text = text_of(&parts);
            let (one, _) = chain(search, &mut cache, &text, [0, 0], rule);
            let b = split_of(&text, fraction);
            let (two, _) = chain(search, &mut cache, &text, [b, 0], rule);
            prop_assert_eq!(&one, &two);
            // A second fraction before the first makes two chains only.
            let (three, _) = chain(search, &mut cache, &text, [b, split_of(&text, second)], rule);
            prop_assert_eq!(&one, &three);
            prop_assert_eq!(one, fallback(search, &text, rule));
        }
    }
}
