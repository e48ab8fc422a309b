//! Where the regex time of the detectors goes, for BENCHMARKS.md: the
//! pattern set of issue 3 whole, split into credentials and personal data,
//! and with each pattern left out in turn (4 KB of the benchmark text); and
//! the injection rule regexes as compiled against byte-wise gaps (1 KB,
//! prepared). Microseconds per `find_iter` pass that takes every match's
//! start and end, as the scanner does, one thread; the first line also gives
//! the pass that only takes the ends (what `find_iter().count()` does, and
//! what this example reported before the ninth session). Also the floor of
//! any lazy-DFA pass (two trivial patterns), the bare DFA walk as one chain
//! and as two or three interleaved, and how much the lazy DFAs grow in one pass, with
//! the patterns that growth is most for.
//!
//! `cargo run --release -p palisade-detect --example regex_costs`
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use palisade_detect::classify::injection::RULES;
use palisade_detect::classify::model::compiled_pattern;
use palisade_detect::decode::{Work, prepare};
use palisade_detect::engine::build_regex;
use palisade_detect::{pii, secrets};
use regex_automata::hybrid::{self, LazyStateID, dfa};
use regex_automata::meta::{self, Regex};
use regex_automata::{Input, MatchKind, util::syntax};

#[path = "../benches/support/text.rs"]
mod text;

/// The pattern set as the scanner compiles it.
fn pattern_set(patterns: &[&str]) -> Regex {
    build_regex(patterns).unwrap()
}

/// Mean microseconds of one pass over `t` that finds every match with its
/// start and end, as the scanner does, after a warm-up.
fn micros(re: &Regex, t: &str, n: u32) -> f64 {
    let pass = |t: &str| re.find_iter(Input::new(t)).fold(0, |k, m| k + m.end());
    for _ in 0..n / 10 {
        black_box(pass(t));
    }
    let start = Instant::now();
    for _ in 0..n {
        black_box(pass(black_box(t)));
    }
    start.elapsed().as_secs_f64() / f64::from(n) * 1e6
}

/// The same pass reporting only where each match ends: `find_iter().count()`
/// takes this shortcut, which skips the reverse search for every start.
fn micros_ends_only(re: &Regex, t: &str, n: u32) -> f64 {
    for _ in 0..n / 10 {
        black_box(re.find_iter(Input::new(t)).count());
    }
    let start = Instant::now();
    for _ in 0..n {
        black_box(re.find_iter(Input::new(black_box(t))).count());
    }
    start.elapsed().as_secs_f64() / f64::from(n) * 1e6
}

/// Bytes the lazy DFAs of `re`'s search cache grow by in one pass over `t`
/// from an empty cache: the states and transitions the pass needs, which
/// must come back through the CPU caches on every later pass.
fn grown(re: &Regex, t: &str) -> usize {
    let mut cache = re.create_cache();
    let empty = cache.memory_usage();
    let mut at = 0;
    while let Some(m) = re.search_with(&mut cache, &Input::new(t).range(at..)) {
        at = m.end().max(m.start() + 1);
    }
    cache.memory_usage() - empty
}

/// One step of a bare walk. `next_state_untagged` answers "unknown" for a
/// transition the lazy DFA has not computed yet; the step then computes it
/// from the same state. (Until the twelfth session these walks fed the
/// unknown state itself to the next step, so they measured a walk through
/// the wrong states, and two chains seemed to gain nothing.)
#[inline(always)]
fn step(d: &dfa::DFA, c: &mut dfa::Cache, sid: LazyStateID, byte: u8) -> LazyStateID {
    let next = if sid.is_tagged() {
        d.next_state(c, sid, byte).unwrap()
    } else {
        d.next_state_untagged(c, sid, byte)
    };
    if next.is_unknown() {
        d.next_state(c, sid, byte).unwrap()
    } else {
        next
    }
}

/// After a step to `sid` at byte `i` of `t`: counts a match state, and
/// starts over after a dead state.
#[inline(always)]
fn settle(d: &dfa::DFA, c: &mut dfa::Cache, t: &[u8], i: usize, sid: &mut LazyStateID) -> usize {
    if !sid.is_tagged() {
        return 0;
    }
    if sid.is_dead() {
        *sid = d
            .start_state_forward(c, &Input::new(t).range(i + 1..))
            .unwrap();
    }
    usize::from(sid.is_match())
}

/// One DFA walk over `t`, counting match states, restarting after a dead
/// state: the transitions alone, with no search bookkeeping.
fn walk(d: &dfa::DFA, c: &mut dfa::Cache, t: &[u8]) -> usize {
    let mut sid = d.start_state_forward(c, &Input::new(t)).unwrap();
    let mut matches = 0;
    for (i, &b) in t.iter().enumerate() {
        sid = step(d, c, sid, b);
        matches += settle(d, c, t, i, &mut sid);
    }
    matches
}

/// The same walk over the two halves of `t` stepped together, so the two
/// dependent chains of table loads overlap.
fn walk_two(d: &dfa::DFA, c: &mut dfa::Cache, t: &[u8]) -> usize {
    let half = t.len() / 2;
    let (x, y) = (&t[..half], &t[half..2 * half]);
    let mut a = d.start_state_forward(c, &Input::new(t)).unwrap();
    let mut b = d
        .start_state_forward(c, &Input::new(t).range(half..))
        .unwrap();
    let mut matches = 0;
    for i in 0..half {
        if !a.is_tagged() && !b.is_tagged() {
            let (na, nb) = (
                d.next_state_untagged(c, a, x[i]),
                d.next_state_untagged(c, b, y[i]),
            );
            if !na.is_tagged() && !nb.is_tagged() {
                (a, b) = (na, nb);
                continue;
            }
        }
        a = step(d, c, a, x[i]);
        b = step(d, c, b, y[i]);
        matches += settle(d, c, t, i, &mut a) + settle(d, c, t, half + i, &mut b);
    }
    matches
}

/// The same walk over three thirds of `t` stepped together.
fn walk_three(d: &dfa::DFA, c: &mut dfa::Cache, t: &[u8]) -> usize {
    let third = t.len() / 3;
    let (x, y, z) = (&t[..third], &t[third..2 * third], &t[2 * third..3 * third]);
    let mut a = d.start_state_forward(c, &Input::new(t)).unwrap();
    let mut b = d
        .start_state_forward(c, &Input::new(t).range(third..))
        .unwrap();
    let mut e = d
        .start_state_forward(c, &Input::new(t).range(2 * third..))
        .unwrap();
    let mut matches = 0;
    for i in 0..third {
        if !a.is_tagged() && !b.is_tagged() && !e.is_tagged() {
            let (na, nb, ne) = (
                d.next_state_untagged(c, a, x[i]),
                d.next_state_untagged(c, b, y[i]),
                d.next_state_untagged(c, e, z[i]),
            );
            if !na.is_tagged() && !nb.is_tagged() && !ne.is_tagged() {
                (a, b, e) = (na, nb, ne);
                continue;
            }
        }
        a = step(d, c, a, x[i]);
        b = step(d, c, b, y[i]);
        e = step(d, c, e, z[i]);
        matches += settle(d, c, t, i, &mut a)
            + settle(d, c, t, third + i, &mut b)
            + settle(d, c, t, 2 * third + i, &mut e);
    }
    matches
}

/// Microseconds of the bare forward DFA walk over `t`: one chain, two
/// and three.
fn dfa_walks(patterns: &[&str], t: &str) {
    let re = hybrid::regex::Builder::new()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .dfa(
            dfa::Config::new()
                .match_kind(MatchKind::LeftmostFirst)
                .cache_capacity(8 << 20),
        )
        .build_many(patterns)
        .unwrap();
    let d = re.forward();
    let mut c = dfa::Cache::new(d);
    let t = t.as_bytes();
    let time = |f: &mut dyn FnMut() -> usize| {
        for _ in 0..2000 {
            black_box(f());
        }
        let start = Instant::now();
        for _ in 0..20_000 {
            black_box(f());
        }
        start.elapsed().as_secs_f64() / 20_000.0 * 1e6
    };
    let one = time(&mut || walk(d, &mut c, black_box(t)));
    let two = time(&mut || walk_two(d, &mut c, black_box(t)));
    let three = time(&mut || walk_three(d, &mut c, black_box(t)));
    println!(
        "  bare DFA walk, no search bookkeeping: {one:.1} us; \
         two interleaved halves: {two:.1} us; three thirds: {three:.1} us"
    );
}

/// The pass when other work has pushed its lazy-DFA tables out of the CPU
/// caches in between (as the scanner's other passes do): a read sweep of
/// 256 KB and 1 MB between passes, which are not timed.
fn cache_pressure(re: &Regex, t: &str) {
    for sweep_kb in [256usize, 1024] {
        let buf = vec![1u8; sweep_kb * 1024];
        let n = 20_000;
        let mut timed = 0.0;
        let mut sum = 0u64;
        for _ in 0..n {
            for line in buf.chunks(64) {
                sum = sum.wrapping_add(u64::from(black_box(line[0])));
            }
            let start = Instant::now();
            black_box(
                re.find_iter(Input::new(black_box(t)))
                    .fold(0, |k, m| k + m.end()),
            );
            timed += start.elapsed().as_secs_f64();
        }
        black_box(sum);
        println!(
            "  after a {sweep_kb} KB sweep of other memory: {:.1} us",
            timed / f64::from(n) * 1e6
        );
    }
}

fn main() {
    let t = text::mixed(4096);
    let credentials: Vec<&str> = secrets::FORMATS
        .iter()
        .map(|f| f.pattern)
        .chain([secrets::GENERIC_PATTERN])
        .collect();
    let personal: Vec<&str> = pii::PII_RULES.iter().map(|r| r.pattern).collect();
    let all: Vec<&str> = credentials.iter().chain(&personal).copied().collect();
    let whole = micros(&pattern_set(&all), &t, 2000);
    println!(
        "pattern set, {} patterns, 4 KB: {whole:.1} us (match ends only: {:.1} us)",
        all.len(),
        micros_ends_only(&pattern_set(&all), &t, 2000)
    );
    println!(
        "  credentials only: {:.1} us",
        micros(&pattern_set(&credentials), &t, 2000)
    );
    println!(
        "  personal data only: {:.1} us",
        micros(&pattern_set(&personal), &t, 2000)
    );
    let most = (0..all.len())
        .map(|i| {
            let mut rest = all.clone();
            rest.remove(i);
            whole - micros(&pattern_set(&rest), &t, 300)
        })
        .fold(f64::MIN, f64::max);
    println!("  most saved by leaving one pattern out: {most:.1} us");
    // The floor: two trivial patterns with no literal for a prefilter still
    // make the lazy DFA step through every byte.
    println!(
        "  two trivial patterns, no prefilter: {:.1} us",
        micros(
            &pattern_set(&["[0-9]{3}-[0-9]{4}", "[A-Z]{4}[0-9]{12}"]),
            &t,
            2000
        )
    );
    dfa_walks(&all, &t);
    cache_pressure(&pattern_set(&all), &t);
    let re = pattern_set(&all);
    let mut cache = re.create_cache();
    let empty = cache.memory_usage();
    let mut at = 0;
    while let Some(m) = re.search_with(&mut cache, &Input::new(&t).range(at..)) {
        at = m.end();
    }
    println!(
        "  search cache (lazy DFAs and the rest): {} KB empty, {} KB after one pass",
        empty / 1024,
        cache.memory_usage() / 1024
    );
    // Which patterns the pass's DFA states are there for: the growth saved
    // by leaving each one out (patterns interact, so these do not add up).
    let whole_growth = grown(&re, &t);
    let mut saved: Vec<(usize, &str)> = (0..all.len())
        .map(|i| {
            let mut rest = all.clone();
            let p = rest.remove(i);
            (
                whole_growth.saturating_sub(grown(&pattern_set(&rest), &t)),
                p,
            )
        })
        .collect();
    saved.sort_by_key(|s| std::cmp::Reverse(s.0));
    println!(
        "  lazy-DFA growth in one pass: {} KB; most saved by leaving one pattern out:",
        whole_growth / 1024
    );
    for (bytes, p) in saved.iter().take(8) {
        let shown: String = p.chars().take(60).collect();
        println!("    {:4} KB  {shown}", bytes / 1024);
    }

    let prepared = prepare(&text::mixed(1024), &mut Work::default()).text;
    let rules = |patterns: &[String], utf8: bool| {
        meta::Builder::new()
            .syntax(syntax::Config::new().utf8(utf8))
            .configure(
                meta::Config::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .nfa_size_limit(Some(64 << 20))
                    .hybrid_cache_capacity(4 << 20),
            )
            .build_many(patterns)
            .unwrap()
    };
    let compiled: Vec<String> = RULES.iter().map(|d| compiled_pattern(d.pattern)).collect();
    let byte_gaps: Vec<String> = compiled
        .iter()
        .map(|p| {
            p.replace(r"[^.\n]", r"(?-u:[^.\n])")
                .replace("[^ ]", "(?-u:[^ ])")
        })
        .collect();
    println!(
        "injection rules, 1 KB prepared: {:.2} us as compiled, {:.2} us with byte-wise gaps",
        micros(&rules(&compiled, true), &prepared, 5000),
        micros(&rules(&byte_gaps, false), &prepared, 5000)
    );
}
