//! The compiled [`Scanner`]: every pattern detector in one regex pass, every
//! keyword and name list in one word-lookup pass, validators only on
//! candidates.
//!
//! How one scan works:
//! 1. one leftmost-first pass of a `regex_automata::meta::Regex` built with
//!    `build_many` over all enabled pattern rules (PII + secrets). A
//!    candidate that fails its validator is retried, anchored at the same
//!    position, against the lower-priority rules that can start with that
//!    byte, so a failed checksum never hides another detector's match;
//! 2. one walk over the words of the text, each looked up in a hash table of
//!    the context keywords and the name lists (see `lexicon`; the case forms
//!    accepted are stored explicitly), which also notes capitalised words;
//! 3. context-gated rules (passport, date of birth, bank account, NHS, bare
//!    SSN) run only in a short window after one of their keywords;
//! 4. names are assembled from the name-list hits; addresses are extended
//!    over apartment/city/postcode or Hong Kong district tails;
//! 5. unicode smuggling is checked (nothing to do on ASCII text), and text
//!    containing non-ASCII is normalised (NFKC, invisibles removed,
//!    confusables folded) and rescanned so `９１２３ ４５６７` or an e-mail
//!    split by zero-width spaces is still found; spans map back to the input.
//!
//! The scanner is immutable after [`Scanner::new`] and `Send + Sync`; share
//! one behind an `Arc`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use regex_automata::meta::{self, Regex};
use regex_automata::util::pool::Pool;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, Match, MatchKind, PatternID};

use crate::context::{KEYWORDS, group, is_word_byte};
use crate::finding::{Finding, Kind, resolve_overlaps};
use crate::lexicon::{LexHit, Lexicon, LexiconBuilder};
use crate::names::{self, NameModel, NameRole};
use crate::paired::{PatternSearch, SearchCache, Splits, split_points};
use crate::pii::{self, Check, GATED_RULES, Lead, PII_RULES, Rule};
use crate::reason::Reasons;
use crate::secrets;
use crate::validate;
use crate::{Error, normalize, unicode};

/// Bytes before a candidate in which a context word counts.
const CONTEXT_BEFORE: usize = 64;
/// Bytes after a candidate in which a context word counts.
const CONTEXT_AFTER: usize = 24;
/// Bytes after a keyword in which a gated rule may match.
const GATE_WINDOW: usize = 48;
/// How much a context word adds to a score.
const CONTEXT_BOOST: f32 = 0.2;
/// Longest span counted for patterns with unbounded repetition (JWTs, bearer
/// headers) when computing the streaming hold-back.
const UNBOUNDED_CAP: usize = 1024;
/// Longest name span the name detector builds.
const MAX_NAME_LEN: usize = 96;

/// Scanner configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Kinds to detect; `None` means every kind this engine knows.
    pub kinds: Option<Vec<Kind>>,
    /// Findings below this score are dropped.
    pub min_score: f32,
    /// Rescan normalised text when the input has non-ASCII characters.
    pub normalize: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kinds: None,
            min_score: 0.5,
            normalize: true,
        }
    }
}

impl Config {
    /// Config that only detects the given kinds.
    pub fn only(kinds: impl IntoIterator<Item = Kind>) -> Self {
        Config {
            kinds: Some(kinds.into_iter().collect()),
            ..Config::default()
        }
    }

    fn enabled(&self, kind: Kind) -> bool {
        self.kinds.as_ref().is_none_or(|k| k.contains(&kind))
    }
}

/// What a keyword or name-list pattern stands for.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// Context groups (0 if not a keyword).
    groups: u32,
    /// Name roles as bit flags (see [`role_bit`]).
    roles: u8,
    /// Index of the keyword in [`KEYWORDS`] (for reasons).
    keyword: usize,
    /// Keyword needs ASCII word boundaries.
    ascii: bool,
}

fn role_bit(r: NameRole) -> u8 {
    match r {
        NameRole::Given => 1,
        NameRole::Family => 2,
        NameRole::ChineseFamily => 4,
        NameRole::ChineseGiven => 8,
    }
}

const STOP_BIT: u8 = 16;
const TITLE_BIT: u8 = 32;

/// A keyword or name-list hit from the word-lookup pass.
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    entry: usize,
}

/// Result of a validator.
struct Verdict {
    start: usize,
    end: usize,
    score: f32,
    kind: Kind,
    note: &'static str,
}

/// A compiled, reusable scanner. Build once, scan many texts from many
/// threads.
pub struct Scanner {
    config: Config,
    rules: Vec<Rule>,
    search: Option<Arc<PatternSearch>>,
    gated: Vec<GatedRule>,
    words: Arc<WordTable>,
    address_tail: Arc<Regex>,
    hk_segment: Arc<Regex>,
    hold_back: usize,
    name_model: Option<Box<dyn NameModel>>,
    /// Trained injection/toxicity classifiers (issue 4), if enabled.
    classifiers: crate::classify::Classifiers,
    /// Search caches for the regexes above, taken once per scan: each
    /// regex's own pool gives its fast path to one thread only, and every
    /// other thread paid a locked pool round trip on each of the dozens of
    /// searches of a scan.
    caches: Pool<Caches, CacheMaker>,
    /// Reason texts per rule of `rules`, and for the name detector, shared
    /// by every finding that reads the same.
    reasons: Vec<Reasons>,
    name_reasons: Reasons,
}

/// A rule searched only in the window after one of its context keywords.
struct GatedRule {
    rule: Rule,
    /// The keyword groups (`group::…`) that open a window for it.
    groups: u32,
    regex: Arc<Regex>,
    /// The bytes its matches can start with, when the pattern's prefixes
    /// tell (see [`start_bytes`]).
    starts: Option<Box<[bool; 256]>>,
    /// Its findings' reason texts, shared by every finding that reads the
    /// same.
    reasons: Reasons,
}

/// The search caches of one scan, one per regex of the scanner.
struct Caches {
    main: Option<SearchCache>,
    gated: Vec<meta::Cache>,
    address_tail: meta::Cache,
    hk_segment: meta::Cache,
    scratch: Scratch,
}

/// Working lists a scan fills; [`Scratch::trim`] empties them after every
/// scan, so each scan finds them empty. They travel with the
/// search caches, so a thread allocates them once instead of on every scan:
/// about a dozen allocations per scan, which on short texts (a chat message,
/// an answer) were most of the name pass's cost.
#[derive(Default)]
struct Scratch {
    lex: Vec<LexHit>,
    hits: Vec<Hit>,
    caps: Vec<(usize, usize)>,
    tokens: Vec<(usize, (usize, u8))>,
    token_bits: Vec<u64>,
    token_rank: Vec<u32>,
    token_starts: Vec<usize>,
    taken: Vec<u64>,
    produced: Vec<Finding>,
    parts: Vec<u8>,
    /// Findings of the pattern search's second and third chains, until the
    /// chain before takes them ([`PatternSearch::run`]).
    spares: [Vec<Finding>; 2],
}

impl Scratch {
    /// Bytes of capacity each list keeps between scans at most: a 1 MB text
    /// must not leave megabytes behind in every thread's pool entry (twelve
    /// lists, so at most 768 KB in all), while the lists of texts up to tens
    /// of kilobytes stay allocated.
    const KEEP_BYTES: usize = 64 * 1024;

    /// Empties every list, and frees one whose capacity is over the cap.
    fn trim(&mut self) {
        fn cap<T>(v: &mut Vec<T>) {
            v.clear();
            if v.capacity().saturating_mul(std::mem::size_of::<T>()) > Scratch::KEEP_BYTES {
                *v = Vec::new();
            }
        }
        cap(&mut self.lex);
        cap(&mut self.hits);
        cap(&mut self.caps);
        cap(&mut self.tokens);
        cap(&mut self.token_bits);
        cap(&mut self.token_rank);
        cap(&mut self.token_starts);
        cap(&mut self.taken);
        cap(&mut self.produced);
        cap(&mut self.parts);
        for spare in &mut self.spares {
            cap(spare);
        }
    }
}

/// Builds a [`Caches`] for the pool.
type CacheMaker =
    Box<dyn Fn() -> Caches + Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>;

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("config", &self.config)
            .field("rules", &self.rules.len())
            .field("hold_back", &self.hold_back)
            .finish_non_exhaustive()
    }
}

fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

/// Compiles `patterns` into one leftmost-first regex with the scanner's
/// settings (bytes, not UTF-8; a large lazy-DFA cache). Public so that the
/// cost examples measure exactly the automaton the scanner runs.
pub fn build_regex<P: AsRef<str>>(patterns: &[P]) -> Result<Regex, Error> {
    meta::Builder::new()
        .syntax(syntax_config())
        .configure(
            meta::Config::new()
                .match_kind(MatchKind::LeftmostFirst)
                .utf8_empty(false)
                .nfa_size_limit(Some(256 << 20))
                .hybrid_cache_capacity(8 << 20)
                .which_captures(regex_automata::nfa::thompson::WhichCaptures::Implicit),
        )
        .build_many(patterns)
        .map_err(|e| Error::Build(e.to_string()))
}

/// The keyword and name-list lookup and what each entry stands for.
struct WordTable {
    lexicon: Lexicon,
    entries: Vec<Entry>,
}

/// The process-wide word table, with or without the name lists, built on
/// first use and shared by every scanner (one copy in the CPU caches).
fn shared_word_table(person: bool) -> Arc<WordTable> {
    static TABLES: [OnceLock<Arc<WordTable>>; 2] = [OnceLock::new(), OnceLock::new()];
    TABLES[usize::from(person)]
        .get_or_init(|| Arc::new(build_word_table(person)))
        .clone()
}

fn build_word_table(person: bool) -> WordTable {
    // One automaton for keywords, names, titles and stop words.
    // Case-sensitive on purpose: names must be capitalised anyway, so
    // matching only `Chan`/`Ma`/`Li` (not `chan`, `format`, `like`) keeps
    // the hit count low; keywords get lower, Capitalised and UPPER forms.
    let mut map: HashMap<String, Entry> = HashMap::new();
    for (i, (kw, groups)) in KEYWORDS.iter().enumerate() {
        // Short keywords that hide inside ordinary words ("id" in "did",
        // "eth" in "method") only match Capitalised or UPPER.
        let noisy =
            kw.len() <= 3 && !matches!(*kw, "tel" | "ssn" | "dob" | "nhs" | "btc" | "pwd" | "fax");
        let mut forms = vec![kw.to_ascii_uppercase()];
        if !noisy {
            forms.push(kw.to_ascii_lowercase());
        }
        let mut cap = kw.to_ascii_lowercase();
        if let Some(first) = cap.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        forms.push(cap);
        forms.dedup();
        for form in forms {
            let e = map.entry(form).or_default();
            e.groups |= groups;
            e.keyword = i;
            e.ascii = kw.is_ascii();
        }
    }
    if person {
        let lists: [(&[&str], u8); 6] = [
            (names::GIVEN, role_bit(NameRole::Given)),
            (names::FAMILY, role_bit(NameRole::Family)),
            (names::CHINESE_FAMILY, role_bit(NameRole::ChineseFamily)),
            (names::CHINESE_GIVEN, role_bit(NameRole::ChineseGiven)),
            (names::STOP, STOP_BIT),
            (names::TITLES, TITLE_BIT),
        ];
        for (list, bit) in lists {
            for n in list {
                let e = map.entry((*n).to_owned()).or_default();
                e.roles |= bit;
                e.ascii = true;
            }
        }
    }
    let mut words: Vec<(String, Entry)> = map.into_iter().collect();
    words.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lexicon = LexiconBuilder::default();
    for (i, (w, _)) in words.iter().enumerate() {
        lexicon.add(w, i);
    }
    WordTable {
        lexicon: lexicon.build(),
        entries: words.into_iter().map(|w| w.1).collect(),
    }
}

/// Compiled automata by pattern set, one map per automaton type.
type Compiled<T> = OnceLock<Mutex<HashMap<Vec<&'static str>, Arc<T>>>>;

/// The process-wide automaton for `patterns` from `compiled`, built with
/// `build` on first use. A gateway builds one scanner per policy stage and
/// route, nearly always over the same pattern set: sharing the automaton
/// (and so its lazy-DFA cache, about 1 MB once warm) keeps one copy in the
/// CPU caches instead of one per stage, and compiles it once
/// (BENCHMARKS.md, fifth session).
fn shared<T>(
    compiled: &'static Compiled<T>,
    patterns: &[&'static str],
    build: impl FnOnce(&[&'static str]) -> Result<T, Error>,
) -> Result<Arc<T>, Error> {
    let compiled = compiled.get_or_init(Mutex::default);
    // A panic while the lock was held cannot leave a half-built entry (an
    // entry is inserted whole), so a poisoned map is still sound.
    let known = compiled
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(patterns)
        .cloned();
    if let Some(known) = known {
        return Ok(known);
    }
    // Compiled outside the lock: it takes milliseconds. Two threads racing
    // here both compile; the first to insert wins and both share it.
    let built = Arc::new(build(patterns)?);
    let mut map = compiled.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(map.entry(patterns.to_vec()).or_insert(built).clone())
}

/// The process-wide meta regex for `patterns` (gated rules, address tails).
fn shared_regex(patterns: &[&'static str]) -> Result<Arc<Regex>, Error> {
    static COMPILED: Compiled<Regex> = OnceLock::new();
    shared(&COMPILED, patterns, build_regex)
}

/// The process-wide search over the scanner's whole pattern set.
fn shared_search(patterns: &[&'static str]) -> Result<Arc<PatternSearch>, Error> {
    static COMPILED: Compiled<PatternSearch> = OnceLock::new();
    shared(&COMPILED, patterns, PatternSearch::new)
}

/// The bytes a match of `pattern` can start with, from the literal
/// prefixes that every match begins with; `None` when they do not tell (a
/// match may be empty, or its first byte is any of too many).
fn start_bytes(pattern: &str) -> Option<Box<[bool; 256]>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let hir = syntax::parse_with(pattern, &syntax_config()).ok()?;
    // Only first bytes are wanted: literals cut to one byte keep the
    // extractor from giving up on the cross products of longer prefixes.
    let prefixes = Extractor::new()
        .kind(ExtractKind::Prefix)
        .limit_literal_len(1)
        .limit_class(256)
        .limit_total(256)
        .extract(&hir);
    let mut starts = Box::new([false; 256]);
    for literal in prefixes.literals()? {
        let &first = literal.as_bytes().first()?;
        starts[usize::from(first)] = true;
    }
    Some(starts)
}

/// The leftmost-first match of `re` in `window`, as `re.search_with` over
/// that range finds it. With `starts` (the bytes a match can start with),
/// the first such byte in the window is the leftmost place a match can
/// start: an anchored search there needs no reverse pass to find the start,
/// and no match is missed before it. Only if none starts there does the
/// general search go on from the next byte. On the benchmark text this
/// took 2.6 k instructions and about 0.16 µs off a 4 KB scan (BENCHMARKS.md,
/// sixteenth session).
fn search_window(
    re: &Regex,
    cache: &mut meta::Cache,
    text: &str,
    window: std::ops::Range<usize>,
    starts: Option<&[bool; 256]>,
) -> Option<Match> {
    let Some(starts) = starts else {
        return re.search_with(cache, &Input::new(text).range(window));
    };
    let bytes = text.as_bytes().get(window.clone())?;
    let first = window.start + bytes.iter().position(|&b| starts[usize::from(b)])?;
    let anchored = Input::new(text)
        .range(first..window.end)
        .anchored(Anchored::Yes);
    re.search_with(cache, &anchored)
        .or_else(|| re.search_with(cache, &Input::new(text).range(first + 1..window.end)))
}

fn max_len(pattern: &str) -> usize {
    syntax::parse_with(pattern, &syntax_config())
        .ok()
        .and_then(|h| h.properties().maximum_len())
        .map_or(UNBOUNDED_CAP, |n| n.min(UNBOUNDED_CAP))
}

impl Scanner {
    /// Compiles every enabled detector. Fails only if a built-in pattern does
    /// not compile (a bug) or the configuration is out of range.
    pub fn new(config: Config) -> Result<Scanner, Error> {
        if !(0.0..=1.0).contains(&config.min_score) {
            return Err(Error::Config("min_score must be within 0..=1".into()));
        }
        let mut rules: Vec<Rule> = Vec::new();
        if config.enabled(Kind::Secret) {
            for f in secrets::FORMATS {
                let check = if f.name == "private_key_pem" {
                    Check::Pem
                } else {
                    Check::Secret
                };
                rules.push(Rule {
                    name: f.name,
                    kind: Kind::Secret,
                    pattern: f.pattern,
                    check,
                    score: 0.95,
                    ctx: group::SECRET,
                    lead: Lead::Any,
                });
            }
        }
        for rule in PII_RULES {
            if config.enabled(rule.kind) {
                rules.push(*rule);
            }
        }
        if config.enabled(Kind::Secret) {
            rules.push(Rule {
                name: secrets::GENERIC_NAME,
                kind: Kind::Secret,
                pattern: secrets::GENERIC_PATTERN,
                check: Check::GenericSecret,
                score: 0.8,
                ctx: group::SECRET,
                lead: Lead::Alpha,
            });
        }
        // SSN rule may yield ITIN; keep it if either is enabled.
        if !config.enabled(Kind::UsSsn)
            && config.enabled(Kind::UsItin)
            && let Some(r) = PII_RULES.iter().find(|r| r.name == "us_ssn")
        {
            rules.push(*r);
        }
        let patterns: Vec<&'static str> = rules.iter().map(|r| r.pattern).collect();
        let search = if patterns.is_empty() {
            None
        } else {
            Some(shared_search(&patterns)?)
        };
        let mut gated = Vec::new();
        for (rule, groups) in GATED_RULES {
            if config.enabled(rule.kind) {
                gated.push(GatedRule {
                    rule: *rule,
                    groups: *groups,
                    regex: shared_regex(&[rule.pattern])?,
                    starts: start_bytes(rule.pattern),
                    reasons: Reasons::default(),
                });
            }
        }

        let person = config.enabled(Kind::Person);
        let words = shared_word_table(person);

        let address_tail = shared_regex(&[pii::ADDRESS_TAIL])?;
        let hk_segment = shared_regex(&[pii::HK_SEGMENT])?;

        let hold_back = rules
            .iter()
            .map(|r| max_len(r.pattern))
            .chain(gated.iter().map(|g| max_len(g.rule.pattern) + GATE_WINDOW))
            .chain([MAX_NAME_LEN, CONTEXT_BEFORE + CONTEXT_AFTER, 512])
            .max()
            .unwrap_or(UNBOUNDED_CAP);

        let classifiers = crate::classify::Classifiers::new(
            config.enabled(Kind::PromptInjection),
            config.enabled(Kind::Toxicity),
        )?;
        let caches = {
            let main = search.clone();
            let gated: Vec<Arc<Regex>> = gated.iter().map(|g| g.regex.clone()).collect();
            let (address_tail, hk_segment) = (address_tail.clone(), hk_segment.clone());
            let make: CacheMaker = Box::new(move || Caches {
                main: main.as_ref().map(|re| re.create_cache()),
                gated: gated.iter().map(|re| re.create_cache()).collect(),
                address_tail: address_tail.create_cache(),
                hk_segment: hk_segment.create_cache(),
                scratch: Scratch::default(),
            });
            Pool::new(make)
        };
        Ok(Scanner {
            reasons: rules.iter().map(|_| Reasons::default()).collect(),
            name_reasons: Reasons::default(),
            config,
            rules,
            search,
            gated,
            words,
            address_tail,
            hk_segment,
            hold_back,
            name_model: None,
            classifiers,
            caches,
        })
    }

    /// A scanner with every detector on and default thresholds.
    pub fn with_defaults() -> Result<Scanner, Error> {
        Scanner::new(Config::default())
    }

    /// Adds a statistical name recogniser whose spans join the list-based
    /// person names.
    pub fn with_name_model(mut self, model: Box<dyn NameModel>) -> Scanner {
        self.name_model = Some(model);
        self
    }

    /// The configuration this scanner was built with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Number of pattern rules compiled into the single regex pass.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Names of every pattern rule (secret formats and personal-data rules).
    pub fn rule_names(&self) -> Vec<&'static str> {
        self.rules.iter().map(|r| r.name).collect()
    }

    /// How many trailing bytes a streaming caller must hold back (or re-scan
    /// in an overlapping window) so that no match can straddle the boundary:
    /// the longest match any rule can produce plus the context window.
    /// Patterns with unbounded repetition count as 1024 bytes; a PEM private
    /// key is detected from its 30–40 byte header line alone.
    pub fn hold_back(&self) -> usize {
        self.hold_back
    }

    /// Scans `text` and returns non-overlapping findings sorted by start
    /// (overlaps resolved with [`resolve_overlaps`]).
    pub fn scan(&self, text: &str) -> Vec<Finding> {
        resolve_overlaps(text, self.scan_all(text))
    }

    /// Scans `text` and returns every finding above `min_score`, possibly
    /// overlapping (e.g. a homoglyph word inside an e-mail address).
    pub fn scan_all(&self, text: &str) -> Vec<Finding> {
        let mut caches = self.caches.get();
        let mut out = self.scan_core(text, &mut caches);
        let needs_normalization = if self.config.enabled(Kind::UnicodeSmuggling) {
            let (found, needs) = unicode::scan_checking(text, self.config.normalize);
            out.extend(found);
            needs
        } else {
            self.config.normalize && normalize::needs_normalization(text)
        };
        self.classifiers.scan(text, &mut out);
        if needs_normalization {
            let n = normalize::normalize(text);
            if n.text != text {
                for mut f in self.scan_core(&n.text, &mut caches) {
                    let Some((s, e)) = n.to_input_span(f.start, f.end) else {
                        continue;
                    };
                    if out
                        .iter()
                        .any(|o| o.kind == f.kind && o.start == s && o.end == e)
                    {
                        continue;
                    }
                    f.start = s;
                    f.end = e;
                    f.reason
                        .to_mut()
                        .push_str("; found after Unicode normalisation");
                    out.push(f);
                }
            }
        }
        out.retain(|f| f.score >= self.config.min_score);
        out.sort_by(|a, b| a.start.cmp(&b.start).then(a.end.cmp(&b.end)));
        out
    }

    fn scan_core(&self, text: &str, caches: &mut Caches) -> Vec<Finding> {
        let mut scratch = std::mem::take(&mut caches.scratch);
        let out = self.scan_with(text, caches, &mut scratch, split_points(text));
        scratch.trim();
        if let Some(main) = caches.main.as_mut() {
            main.trim(Scratch::KEEP_BYTES);
        }
        caches.scratch = scratch;
        out
    }

    fn scan_with(
        &self,
        text: &str,
        caches: &mut Caches,
        scratch: &mut Scratch,
        splits: Splits,
    ) -> Vec<Finding> {
        let bytes = text.as_bytes();
        self.keyword_hits(text, scratch);
        let hits = std::mem::take(&mut scratch.hits);
        let caps = std::mem::take(&mut scratch.caps);
        let mut out: Vec<Finding> = Vec::with_capacity(16);

        if let (Some(search), Some(cache)) = (&self.search, caches.main.as_mut()) {
            let mut spares = std::mem::take(&mut scratch.spares);
            let on_match = |cache: &mut SearchCache, m: Match, out: &mut Vec<Finding>| {
                let pid = m.pattern().as_usize();
                let (s, e) = (m.start(), m.end());
                if let Some(v) = self.validate(pid, text, s, e) {
                    let next = v.end.max(e).max(s + 1);
                    out.push(self.finding(pid, v, text, &hits));
                    return next;
                }
                // A later rule may match here where the first one's
                // validator refused (a card-like run that is a phone).
                let Some(&first) = bytes.get(s) else {
                    return next_boundary(text, s);
                };
                for q in pid + 1..self.rules.len() {
                    if !self.rules[q].lead.admits(first) {
                        continue;
                    }
                    let Ok(qid) = PatternID::new(q) else { continue };
                    if let Some(m2) = search.anchored(cache, text, s, qid)
                        && let Some(v) = self.validate(q, text, m2.start(), m2.end())
                    {
                        let next = v.end.max(m2.end()).max(s + 1);
                        out.push(self.finding(q, v, text, &hits));
                        return next;
                    }
                }
                next_boundary(text, s)
            };
            search.run(cache, text, splits, &mut out, &mut spares, on_match);
            scratch.spares = spares;
        }

        self.gated_pass(text, &hits, &mut out, &mut caches.gated);
        self.extend_addresses(text, &mut out, caches);
        if self.config.enabled(Kind::Person) {
            self.names_pass(text, &hits, &caps, &mut out, scratch);
        }
        scratch.hits = hits;
        scratch.caps = caps;
        out
    }

    /// Keyword and name-list hits, and the spans of ASCII words starting
    /// with a capital, from one walk over the text.
    fn keyword_hits(&self, text: &str, scratch: &mut Scratch) {
        self.words
            .lexicon
            .find(text, &mut scratch.lex, &mut scratch.caps);
        scratch.hits.extend(scratch.lex.iter().map(|h| Hit {
            start: h.start,
            end: h.end,
            entry: h.id,
        }));
    }

    /// The first context keyword of `groups` near `[s, e)`.
    fn context_word(&self, hits: &[Hit], groups: u32, s: usize, e: usize) -> Option<&'static str> {
        let from = s.saturating_sub(CONTEXT_BEFORE);
        let to = e + CONTEXT_AFTER;
        let first = hits.partition_point(|h| h.start < from);
        hits[first..]
            .iter()
            .take_while(|h| h.start < to)
            .filter(|h| h.end <= s || h.start >= e)
            .find(|h| self.words.entries[h.entry].groups & groups != 0)
            .map(|h| KEYWORDS[self.words.entries[h.entry].keyword].0)
    }

    fn finding(&self, rule: usize, v: Verdict, _text: &str, hits: &[Hit]) -> Finding {
        let r = &self.rules[rule];
        let mut score = v.score;
        let word = self.context_word(hits, r.ctx, v.start, v.end);
        if word.is_some() {
            score = (score + CONTEXT_BOOST).min(0.99);
        }
        let reason = match self.reasons.get(rule) {
            Some(reasons) => reasons.get(r.name, v.note, word),
            None => Cow::Owned(crate::reason::compose(r.name, v.note, word)),
        };
        Finding {
            kind: v.kind,
            start: v.start,
            end: v.end,
            score,
            detector: Cow::Borrowed(r.name),
            reason,
        }
    }

    fn validate(&self, rule: usize, text: &str, s: usize, e: usize) -> Option<Verdict> {
        let r = self.rules.get(rule)?;
        if !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            return None;
        }
        validate_rule(r, text, s, e, &self.config)
    }

    fn gated_pass(
        &self,
        text: &str,
        hits: &[Hit],
        out: &mut Vec<Finding>,
        caches: &mut [meta::Cache],
    ) {
        let addresses = self.config.enabled(Kind::Address);
        // Everything this pass looks up in `out` starts at or after the
        // keyword's end, and keywords come in text order: a finding that
        // ends at or before a keyword's end never matters again. Two
        // cursors skip such findings, one over the pattern pass's findings
        // (sorted by start), one over this pass's own, so a long text does
        // not compare every keyword with every finding.
        let sorted = out.len();
        debug_assert!(out.windows(2).all(|w| w[0].start <= w[1].start));
        let (mut first_sorted, mut first_own) = (0, sorted);
        for h in hits {
            let groups = self.words.entries[h.entry].groups;
            if groups == 0 {
                continue;
            }
            while first_sorted < sorted && out[first_sorted].end <= h.end {
                first_sorted += 1;
            }
            while first_own < out.len() && out[first_own].end <= h.end {
                first_own += 1;
            }
            // The findings that may reach into `[h.end, before)`.
            let near = |out: &[Finding], before: usize| {
                let upto = out[first_sorted..sorted].partition_point(|f| f.start < before);
                (first_sorted..first_sorted + upto).chain(first_own..out.len())
            };
            let clause = (addresses && groups & group::ADDRESS != 0)
                .then(|| address_after_keyword(text, h.end))
                .flatten();
            if let Some((s, e)) = clause
                && near(out, e).any(|i| out[i].start < e && s < out[i].end)
            {
                // An address rule matched inside the clause but after its
                // start ("Rua do Arenque 1634" in "lives at 86036 Rua do
                // Arenque 1634, Goiânia"): the clause is the whole address.
                for i in near(out, e) {
                    let f = &mut out[i];
                    if f.kind == Kind::Address && s < f.start && f.end <= e {
                        f.start = s;
                        f.end = e;
                    }
                }
            } else if let Some((s, e)) = clause {
                let word = KEYWORDS[self.words.entries[h.entry].keyword].0;
                let reason = Cow::Owned(format!("address_after_keyword: clause after '{word}'"));
                out.push(Finding {
                    kind: Kind::Address,
                    start: s,
                    end: e,
                    score: 0.75,
                    detector: Cow::Borrowed("address_after_keyword"),
                    reason,
                });
            }
            let mut end = (h.end + GATE_WINDOW).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            // Every gated pattern needs an ASCII digit (a test reads it off
            // the patterns' automata), so most keywords of prose, followed
            // by words only, need no search at all.
            if !text.as_bytes()[h.end..end].iter().any(u8::is_ascii_digit) {
                continue;
            }
            for (gated, cache) in self.gated.iter().zip(caches.iter_mut()) {
                if groups & gated.groups == 0 {
                    continue;
                }
                let window = h.end..end;
                let starts = gated.starts.as_deref();
                let Some(m) = search_window(&gated.regex, cache, text, window, starts) else {
                    continue;
                };
                let rule = &gated.rule;
                let (s, e) = (m.start(), m.end());
                if near(out, e).any(|i| {
                    let f = &out[i];
                    f.start == s && f.end == e && f.kind == rule.kind
                }) {
                    continue;
                }
                // The keyword is right there, so the context boost applies;
                // overlaps with ungated findings are resolved by score later.
                if let Some(v) = validate_rule(rule, text, s, e, &self.config) {
                    let word = KEYWORDS[self.words.entries[h.entry].keyword].0;
                    out.push(Finding {
                        kind: v.kind,
                        start: v.start,
                        end: v.end,
                        score: (v.score + CONTEXT_BOOST).min(0.99),
                        detector: Cow::Borrowed(rule.name),
                        reason: gated.reasons.get(rule.name, v.note, Some(word)),
                    });
                }
            }
        }
    }

    fn extend_addresses(&self, text: &str, out: &mut [Finding], caches: &mut Caches) {
        for f in out.iter_mut().filter(|f| f.kind == Kind::Address) {
            let hk = f.detector == "address_hk";
            for _ in 0..6 {
                let input = Input::new(text).range(f.end..).anchored(Anchored::Yes);
                if let Some(m) = self
                    .address_tail
                    .search_with(&mut caches.address_tail, &input)
                    && m.end() > f.end
                    && !runs_into_digits(text, m.end())
                {
                    f.end = m.end();
                    continue;
                }
                if hk
                    && let Some(m) = self.hk_segment.search_with(&mut caches.hk_segment, &input)
                    && m.end() > f.end
                {
                    f.end = m.end();
                    continue;
                }
                break;
            }
        }
    }

    fn names_pass(
        &self,
        text: &str,
        hits: &[Hit],
        caps: &[(usize, usize)],
        out: &mut Vec<Finding>,
        scratch: &mut Scratch,
    ) {
        let bytes = text.as_bytes();
        // Name-list tokens by start offset.
        // Hits are sorted and non-overlapping (leftmost-longest), so a
        // sorted vector with binary search replaces a hash map.
        let mut list = std::mem::take(&mut scratch.tokens);
        for h in hits {
            let entry = &self.words.entries[h.entry];
            let roles = entry.roles;
            let intro = entry.groups & group::NAME != 0
                && self.introduces_name(text, h.start, h.end).is_some();
            if !intro && (roles == 0 || !capitalised(&bytes[h.start..h.end])) {
                continue;
            }
            list.push((h.start, (h.end, roles)));
        }
        let tokens = Tokens::new(
            list,
            std::mem::take(&mut scratch.token_bits),
            std::mem::take(&mut scratch.token_rank),
            text.len(),
        );
        let mut starts = std::mem::take(&mut scratch.token_starts);
        starts.extend(tokens.list.iter().map(|t| t.0));
        let mut last_end = 0;
        let mut produced = Produced::new(
            text.len(),
            out,
            std::mem::take(&mut scratch.produced),
            std::mem::take(&mut scratch.taken),
        );
        // Roles of the words of the name being built; reused across names.
        let mut parts = std::mem::take(&mut scratch.parts);
        for &s in &starts {
            if s < last_end {
                continue;
            }
            let Some(&(e, roles)) = tokens.get(&s) else {
                continue;
            };
            let title = roles & TITLE_BIT != 0
                || (roles & !STOP_BIT == 0 && self.introduces_name(text, s, e).is_some());
            if roles & STOP_BIT != 0 && !title {
                continue;
            }
            parts.clear();
            let mut start = s;
            let mut end = e;
            if title {
                // "Mr. X Y" / "my name is X Y": the name is the following capitalised words.
                let Some(p) = self
                    .introduces_name(text, s, e)
                    .or_else(|| after_title(bytes, e))
                else {
                    continue;
                };
                let Some(we) = word_end(text, p) else {
                    continue;
                };
                let r = tokens.get(&p).map_or(0, |t| t.1);
                if r & (STOP_BIT | TITLE_BIT) != 0 {
                    continue;
                }
                start = p;
                end = we;
                parts.push(r);
            } else {
                parts.push(roles);
            }
            // Extend right over capitalised words (list or not) and initials.
            while parts.len() < 4 {
                let mut p = end;
                let sep = bytes.get(p).copied();
                if !matches!(sep, Some(b' ') | Some(b'-')) {
                    break;
                }
                p += 1;
                let Some(we) = word_end(text, p) else { break };
                let r = tokens.get(&p).map_or(0, |t| t.1);
                if r & (STOP_BIT | TITLE_BIT) != 0 {
                    break;
                }
                let known_first = parts.iter().any(|x| x & (1 | 4) != 0) || title;
                if r == 0 && !known_first && !is_initial(&bytes[p..we]) {
                    break;
                }
                if r == 0 && parts.iter().filter(|x| **x == 0).count() >= 1 && !title {
                    // At most one unknown word in a list-seeded name.
                    break;
                }
                end = we;
                parts.push(r);
            }
            // Extend left over one unknown capitalised word before a family name.
            if !title
                && parts.len() == 1
                && roles & (2 | 4) != 0
                && roles & 1 == 0
                && let Some(ps) = prev_word(bytes, s)
            {
                let r = tokens.get(&ps).map_or(0, |t| t.1);
                // Not inside a Title Case run ("The Quick Brown Fox").
                let run_before = prev_word(bytes, ps).is_some();
                let run_after = bytes.get(end) == Some(&b' ') && word_end(text, end + 1).is_some();
                if r & (STOP_BIT | TITLE_BIT) == 0
                    && ps >= last_end
                    && !sentence_start(bytes, ps)
                    && !run_before
                    && !run_after
                {
                    start = ps;
                    parts.insert(0, r);
                }
            }
            if end - start > MAX_NAME_LEN || (parts.len() >= 2 && ends_like_place(text, start, end))
            {
                continue;
            }
            let n = parts.len();
            let given = parts.iter().any(|r| r & 1 != 0);
            let family = parts.iter().any(|r| r & 2 != 0);
            let cfam = parts.iter().any(|r| r & 4 != 0);
            let cgiven = parts.iter().filter(|r| **r & 8 != 0).count();
            let known = parts.iter().filter(|r| **r != 0).count();
            let (mut score, note) = if title {
                (0.8, "title followed by capitalised name")
            } else if n >= 2 && cfam && cgiven >= 1 {
                (0.85, "romanised Chinese family + given name")
            } else if n >= 2 && given && (family || cfam) {
                (0.85, "given + family name from lists")
            } else if n >= 2 && given {
                (0.75, "listed given name + capitalised word")
            } else if n >= 2 && (family || cfam) && known >= 1 {
                (0.65, "capitalised word + listed family name")
            } else if given && !sentence_start(bytes, start) {
                // Mid-sentence capitalisation is evidence of a proper noun.
                (0.55, "listed given name, capitalised mid-sentence")
            } else if given && n == 1 && starts_clause_after(bytes, end) {
                // "David is …", "Melanie: …", "Danial, can I …".
                (0.55, "listed given name starting a clause")
            } else if given {
                (0.45, "listed given name alone")
            } else if family
                && !sentence_start(bytes, start)
                && !followed_by_capitalised(text, end)
                && !preceded_by_the(bytes, start)
            {
                (0.5, "listed family name, capitalised mid-sentence")
            } else if family {
                (0.35, "listed family name alone")
            } else {
                (0.2, "name syllable alone")
            };
            let word = self
                .context_word(hits, group::NAME | group::TITLE, start, end)
                .filter(|_| !title);
            if word.is_some() {
                score = f32::min(score + CONTEXT_BOOST, 0.95);
            }
            if score < self.config.min_score {
                continue;
            }
            if produced.overlaps(start, end) {
                continue;
            }
            let reason = self.name_reasons.get("person_name", note, word);
            last_end = end;
            produced.push(Finding {
                kind: Kind::Person,
                start,
                end,
                score,
                detector: Cow::Borrowed("person_name"),
                reason,
            });
        }
        // Chinese-character names before a title (陳大文先生, 王小明女士,
        // 李醫生): a listed family-name character followed by up to two more
        // ideographs, right before the title. No keyword needs to precede.
        for h in hits {
            let e = &self.words.entries[h.entry];
            if e.groups & group::TITLE == 0 || e.ascii {
                continue;
            }
            // Up to three ideographs right before the title: the longest
            // span whose first character is a family name.
            let mut start = None;
            let mut at = h.start;
            for _ in 0..3 {
                let Some(c) = text[..at]
                    .chars()
                    .next_back()
                    .filter(|c| ('\u{4E00}'..='\u{9FFF}').contains(c))
                else {
                    break;
                };
                at -= c.len_utf8();
                if names::is_chinese_surname_char(c) {
                    start = Some(at);
                }
            }
            let Some(start) = start else {
                continue;
            };
            let end = h.start;
            if produced.overlaps(start, end) {
                continue;
            }
            let given = text[start..end].chars().count() > 1;
            produced.push(Finding {
                kind: Kind::Person,
                start,
                end,
                score: if given { 0.8 } else { 0.6 },
                detector: Cow::Borrowed("person_name"),
                reason: joined(&[
                    "person_name: Chinese ",
                    if given { "name" } else { "family name" },
                    " before '",
                    &text[h.start..h.end],
                    "'",
                ]),
            });
        }
        // Chinese-character names after 姓名 / 名字: two to four ideographs.
        for h in hits {
            // Both introducers start with the byte 0xE5; checking it first
            // spares a string comparison for every other word of the text.
            if bytes.get(h.start) != Some(&0xE5) {
                continue;
            }
            let word = &text[h.start..h.end];
            if word != "姓名" && word != "名字" {
                continue;
            }
            let rest = &text[h.end..];
            let after = rest.trim_start_matches([' ', ':', '：', '是', '為', '为']);
            let start = h.end + (rest.len() - after.len());
            let len: usize = after
                .chars()
                .take_while(|c| ('\u{4E00}'..='\u{9FFF}').contains(c))
                .take(4)
                .map(char::len_utf8)
                .sum();
            let n = after[..len].chars().count();
            if (2..=4).contains(&n) && !produced.overlaps(start, start + len) {
                produced.push(Finding {
                    kind: Kind::Person,
                    start,
                    end: start + len,
                    score: 0.8,
                    detector: Cow::Borrowed("person_name"),
                    reason: joined(&["person_name: Chinese name after '", word, "'"]),
                });
            }
        }
        // "Janka M. Szász", "Ravil G Yefimov": capitalised word, a one-letter
        // initial, capitalised word, in any cased script.
        let mut skip_to = 0;
        for &(i, _) in caps.iter().filter(|(s, e)| *e == s + 1) {
            if i < skip_to || i == 0 || i + 2 >= bytes.len() || bytes[i - 1] != b' ' {
                continue;
            }
            let after = if bytes[i + 1] == b'.' { i + 2 } else { i + 1 };
            if bytes.get(after) != Some(&b' ') {
                continue;
            }
            let Some(next_end) = word_end(text, after + 1) else {
                continue;
            };
            // The word before the initial.
            let mut ps = i - 1;
            while let Some(c) = text[..ps]
                .chars()
                .next_back()
                .filter(|c| c.is_alphabetic() || *c == '\'')
            {
                ps -= c.len_utf8();
            }
            let first_ok = ps < i - 1 && word_end(text, ps) == Some(i - 1);
            let stop = |w: &str| self.is_stop_word(w);
            if first_ok
                && next_end - (after + 1) >= 2
                && !stop(&text[ps..i - 1])
                && !stop(&text[after + 1..next_end])
                && !produced.overlaps(ps, next_end)
            {
                produced.push(Finding {
                    kind: Kind::Person,
                    start: ps,
                    end: next_end,
                    score: 0.75,
                    detector: Cow::Borrowed("person_name"),
                    reason: "person_name: capitalised name with middle initial".into(),
                });
                skip_to = next_end;
            }
        }
        self.name_runs(text, hits, caps, &tokens, &mut produced);
        repeated_name_words(self, text, caps, &mut produced);
        if let Some(model) = &self.name_model {
            for (s, e, score) in model.names(text) {
                if s < e
                    && e <= text.len()
                    && text.is_char_boundary(s)
                    && text.is_char_boundary(e)
                    && !produced.list.iter().any(|f| f.start < e && s < f.end)
                {
                    produced.push(Finding {
                        kind: Kind::Person,
                        start: s,
                        end: e,
                        score: score.clamp(0.0, 1.0),
                        detector: Cow::Borrowed("name_model"),
                        reason: "statistical name model".into(),
                    });
                }
            }
        }
        out.append(&mut produced.list);
        scratch.produced = produced.list;
        scratch.taken = produced.taken;
        scratch.tokens = tokens.list;
        scratch.token_bits = tokens.starts;
        scratch.token_rank = tokens.before;
        scratch.token_starts = starts;
        scratch.parts = parts;
    }
}

impl Scanner {
    /// True for a listed stop word or title (`The`, `Street`, `Mr`), looked
    /// up in the word table rather than by scanning the lists.
    fn is_stop_word(&self, w: &str) -> bool {
        self.words
            .lexicon
            .word_id(w)
            .is_some_and(|id| self.words.entries[id].roles & (STOP_BIT | TITLE_BIT) != 0)
    }

    /// Runs of two or three capitalised words spelled like personal names
    /// from outside the English lists: at least one word carries a
    /// non-ASCII letter (`Sigrid Nyström`, `Samir Jelenovič`) or a common
    /// surname ending (`Bekbolat Musliyevich`, `Ken Fukumoto`). Runs that
    /// touch a stop word (articles, months, street and company words) or
    /// follow "the" are not names.
    fn name_runs(
        &self,
        text: &str,
        hits: &[Hit],
        caps: &[(usize, usize)],
        tokens: &Tokens,
        produced: &mut Produced,
    ) {
        let b = text.as_bytes();
        // Stop words and titles were found by the word lookup already.
        let stop = |p: usize, e: usize| {
            tokens
                .get(&p)
                .is_some_and(|&(te, r)| te == e && r & (STOP_BIT | TITLE_BIT) != 0)
        };
        // The full end of a capitalised word whose ASCII part is `[s, e)`.
        let full_end = |s: usize, e: usize| {
            if b.get(e).is_some_and(|&c| c >= 0x80) {
                word_end(text, s)
            } else {
                Some(e)
            }
        };
        let mut skip_to = 0;
        // The words of the run being built; reused across runs.
        let mut words: Vec<(usize, usize)> = Vec::with_capacity(3);
        for (i, &(s, e_ascii)) in caps.iter().enumerate() {
            // Cheap filter first: only a capitalised word directly followed
            // by another one can start a run.
            let pair = full_end(s, e_ascii).is_some_and(|e| {
                b.get(e) == Some(&b' ') && caps.get(i + 1).is_some_and(|n| n.0 == e + 1)
            });
            if !pair
                || s < skip_to
                || (s > 0 && (b[s - 1].is_ascii_alphanumeric() || b[s - 1] >= 0x80))
            {
                continue;
            }
            words.clear();
            let mut p = s;
            while words.len() < 3 {
                let Some(e) = word_end(text, p).filter(|&e| e - p >= 2 && !stop(p, e)) else {
                    break;
                };
                words.push((p, e));
                if b.get(e) != Some(&b' ') {
                    break;
                }
                p = e + 1;
            }
            let Some(&(_, end)) = words.last() else {
                continue;
            };
            if words.len() < 2 {
                continue;
            }
            skip_to = end;
            // The run must end the capitalised sequence, and not be a street
            // or company name ("Nyström Road", "Ström Group").
            let next_capital = b.get(end) == Some(&b' ') && word_end(text, end + 1).is_some();
            if next_capital || preceded_by_the(b, s) || ends_like_place(text, s, end) {
                continue;
            }
            let foreign = words.iter().any(|&(ws, we)| {
                let w = &text[ws..we];
                !w.is_ascii() || surname_ending(w)
            });
            if !foreign || produced.overlaps(s, end) {
                continue;
            }
            let mut score = 0.6;
            let word = self.context_word(hits, group::NAME | group::TITLE, s, end);
            if word.is_some() {
                score += CONTEXT_BOOST;
            }
            let reason =
                self.name_reasons
                    .get("person_name", "capitalised words spelled like a name", word);
            produced.push(Finding {
                kind: Kind::Person,
                start: s,
                end,
                score,
                detector: Cow::Borrowed("person_name"),
                reason,
            });
        }
    }
}

/// True for last words that make a capitalised run a street, place, event or firm
/// rather than a person ("Eriksson Bridge", "Labor Day", "Civic Impulse LLC").
fn place_word(w: &str) -> bool {
    // A `match` on strings dispatches on length first: much cheaper than a
    // linear `contains` over the list for every candidate name.
    matches!(
        w,
        "Street"
            | "Avenue"
            | "Road"
            | "Boulevard"
            | "Lane"
            | "Drive"
            | "Court"
            | "Way"
            | "Place"
            | "Terrace"
            | "Circle"
            | "Square"
            | "Parkway"
            | "Highway"
            | "Trail"
            | "Crescent"
            | "Close"
            | "Gardens"
            | "Grove"
            | "Hill"
            | "Hills"
            | "Row"
            | "Walk"
            | "Bridge"
            | "Route"
            | "Lodge"
            | "Loop"
            | "Mall"
            | "Plaza"
            | "Park"
            | "Point"
            | "Port"
            | "Ridge"
            | "River"
            | "Station"
            | "Valley"
            | "View"
            | "Village"
            | "Isle"
            | "Island"
            | "Lake"
            | "Lakes"
            | "Mount"
            | "Mountain"
            | "Creek"
            | "Cove"
            | "Heights"
            | "Harbor"
            | "Harbour"
            | "Falls"
            | "Field"
            | "Fields"
            | "Forest"
            | "Glen"
            | "Green"
            | "Haven"
            | "Junction"
            | "Landing"
            | "Manor"
            | "Meadow"
            | "Meadows"
            | "Mews"
            | "Mill"
            | "Mills"
            | "Pass"
            | "Pike"
            | "Pines"
            | "Shore"
            | "Shores"
            | "Springs"
            | "Summit"
            | "Tunnel"
            | "Vista"
            | "Day"
            | "Inc"
            | "LLC"
            | "Ltd"
            | "Group"
            | "Impulse"
            | "Investments"
            | "Partners"
            | "Holdings"
            | "Museum"
            | "Gallery"
            | "Theatre"
            | "Theater"
            | "Stadium"
            | "Airport"
            | "Church"
            | "Cathedral"
            | "Palace"
            | "Castle"
            | "Market"
            | "Restaurant"
            | "Cafe"
            | "Studio"
            | "Studios"
            | "Foundation"
            | "Institute"
            | "Society"
            | "Association"
            | "Club"
            | "Orchestra"
            | "Records"
            | "Press"
            | "Media"
            | "Labs"
            | "Systems"
            | "Solutions"
            | "Technologies"
            | "Services"
            | "Consulting"
            | "Trust"
            | "Fund"
            | "Capital"
            | "Insurance"
    )
}

/// True when a capitalised run is a place or firm: its last word is in
/// [`place_word`], or a number follows it ("Joaquin Suarez 2906").
fn ends_like_place(text: &str, start: usize, end: usize) -> bool {
    let number_after = match text.as_bytes().get(end..) {
        Some([b' ', d, ..]) => d.is_ascii_digit(),
        _ => false,
    };
    let last = text
        .get(start..end)
        .and_then(|run| run.rsplit([' ', '-']).next())
        .unwrap_or("");
    number_after || place_word(last)
}

/// Surname endings common in Slavic, Nordic, Greek, Romanian, Turkish,
/// Spanish, Italian, German and Japanese family names.
const SURNAME_ENDINGS: &[&str] = &[
    "ov", "ova", "ev", "eva", "vich", "ski", "ska", "sky", "cki", "cka", "vic", "enko", "chuk",
    "yan", "dze", "shvili", "sson", "ssen", "sen", "dottir", "poulos", "escu", "oglu", "ez",
    "elli", "etti", "moto", "mura", "kawa", "yama", "hara", "berg", "stein", "mann",
];

/// For each byte, a bit mask of the [`SURNAME_ENDINGS`] whose last byte it
/// is (`[0]`) and whose last but one (`[1]`): an ending can only end a word
/// if its bit is set in both masks of the word's last two bytes.
const ENDING_TAILS: [[u64; 256]; 2] = {
    let mut t = [[0u64; 256]; 2];
    let mut i = 0;
    while i < SURNAME_ENDINGS.len() {
        let e = SURNAME_ENDINGS[i].as_bytes();
        t[0][e[e.len() - 1] as usize] |= 1 << i;
        t[1][e[e.len() - 2] as usize] |= 1 << i;
        i += 1;
    }
    t
};

const _: () = assert!(SURNAME_ENDINGS.len() <= 64);

/// True when `w` (at least five letters) ends like a family name. Only the
/// endings that share the word's last two bytes are compared: this runs on
/// every word of every capitalised run, and a comparison per ending was
/// most of the run check's cost.
fn surname_ending(w: &str) -> bool {
    let b = w.as_bytes();
    let [.., before, last] = b else {
        return false;
    };
    if b.len() < 5 {
        return false;
    }
    let mut mask = ENDING_TAILS[0][usize::from(*last)] & ENDING_TAILS[1][usize::from(*before)];
    while mask != 0 {
        let k = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        if SURNAME_ENDINGS
            .get(k)
            .is_some_and(|e| b.ends_with(e.as_bytes()))
        {
            return true;
        }
    }
    false
}

/// A word of a multi-word name found in this text, repeated alone elsewhere
/// ("Nikolaj spent a year … assistant to Nikolaj Petrussen").
fn repeated_name_words(
    scanner: &Scanner,
    text: &str,
    caps: &[(usize, usize)],
    produced: &mut Produced,
) {
    let mut parts: Vec<&str> = Vec::new();
    for f in produced.list.iter().filter(|f| f.kind == Kind::Person) {
        let Some(name) = text.get(f.start..f.end) else {
            continue;
        };
        if !name.contains(' ') {
            continue;
        }
        for w in name.split(' ') {
            if w.len() >= 3
                && w.chars().next().is_some_and(char::is_uppercase)
                && !scanner.is_stop_word(w)
                && !parts.contains(&w)
            {
                parts.push(w);
            }
        }
    }
    if parts.is_empty() {
        return;
    }
    // Most capitalised words of a text are no part of a name: a bitmap over
    // the first two bytes of each part's leading ASCII word rejects them
    // before any part is compared.
    let mut heads = [0u64; 4];
    for p in &parts {
        let bit = head_bit(p.as_bytes());
        heads[bit / 64] |= 1 << (bit % 64);
    }
    let bytes = text.as_bytes();
    for &(s, e_ascii) in caps {
        let Some(ascii) = bytes.get(s..e_ascii) else {
            continue;
        };
        let bit = head_bit(ascii);
        if heads[bit / 64] & (1 << (bit % 64)) == 0
            || !parts.iter().any(|p| p.as_bytes().starts_with(ascii))
        {
            continue;
        }
        let Some(e) = word_end(text, s) else { continue };
        let w = &text[s..e];
        if !parts.contains(&w)
            || (s > 0 && text.as_bytes()[s - 1].is_ascii_alphanumeric())
            || produced.overlaps(s, e)
        {
            continue;
        }
        produced.push(Finding {
            kind: Kind::Person,
            start: s,
            end: e,
            score: 0.7,
            detector: Cow::Borrowed("person_name"),
            reason: "person_name: repeats part of a full name found in this text".into(),
        });
    }
}

/// A bit (of 256) for a word's first byte and, when it is an ASCII word
/// byte, its second: a name part and the capitalised word the word lookup
/// saw at the same place (its leading ASCII word bytes) get the same bit.
fn head_bit(w: &[u8]) -> usize {
    let first = w.first().copied().unwrap_or(0);
    let second = w.get(1).copied().filter(|&c| is_word_byte(c)).unwrap_or(0);
    (usize::from(first) * 31 + usize::from(second)) & 255
}

/// True when the word ending at `end` is followed by a clause: a comma or
/// colon, a possessive, or a lower-case word ("David is", "Melanie: …").
fn starts_clause_after(b: &[u8], end: usize) -> bool {
    match b.get(end..) {
        Some([b',' | b':', b' ' | b'\n', ..]) => true,
        Some([b'\'', b's', b' ', ..]) => true,
        Some([b' ', c, ..]) => c.is_ascii_lowercase(),
        _ => false,
    }
}

/// Person findings of the name pass, plus a bitmap of every byte already
/// covered by them or by an earlier finding, so that each overlap check is
/// a few word reads instead of a walk over all findings (which made long
/// texts quadratic).
struct Produced {
    list: Vec<Finding>,
    taken: Vec<u64>,
}

impl Produced {
    /// `list` and `taken` are reused buffers (emptied here).
    fn new(len: usize, out: &[Finding], mut list: Vec<Finding>, mut taken: Vec<u64>) -> Produced {
        list.clear();
        taken.clear();
        taken.resize(len / 64 + 1, 0);
        let mut p = Produced { list, taken };
        for f in out {
            p.mark(f.start, f.end);
        }
        p
    }

    fn mark(&mut self, s: usize, e: usize) {
        for (w, mask) in Self::words(s, e.min(self.taken.len() * 64)) {
            self.taken[w] |= mask;
        }
    }

    /// True when `[s, e)` shares a byte with a finding seen so far.
    fn overlaps(&self, s: usize, e: usize) -> bool {
        Self::words(s, e.min(self.taken.len() * 64)).any(|(w, mask)| self.taken[w] & mask != 0)
    }

    /// The bitmap words covering bytes `[s, e)`, each with the mask of the
    /// bits in range: 64 bytes per step instead of one.
    fn words(s: usize, e: usize) -> impl Iterator<Item = (usize, u64)> {
        let mut b = s;
        std::iter::from_fn(move || {
            (b < e).then(|| {
                let bits = (e - b).min(64 - b % 64);
                let word = (b / 64, range_mask(b % 64, bits));
                b += bits;
                word
            })
        })
    }

    fn push(&mut self, f: Finding) {
        self.mark(f.start, f.end);
        self.list.push(f);
    }
}

/// `bits` set bits (1..=64) starting at bit `from` (`from + bits <= 64`).
#[inline]
fn range_mask(from: usize, bits: usize) -> u64 {
    let ones = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    ones << from
}

/// Name-list tokens sorted by start offset.
struct Tokens {
    /// `(start, (end, roles))`, sorted by start.
    list: Vec<(usize, (usize, u8))>,
    /// One bit per byte offset that starts a token.
    starts: Vec<u64>,
    /// Tokens starting before each 64-byte block of `starts`.
    before: Vec<u32>,
}

impl Tokens {
    /// `starts` and `before` are reused buffers (emptied here).
    fn new(
        list: Vec<(usize, (usize, u8))>,
        mut starts: Vec<u64>,
        mut before: Vec<u32>,
        text_len: usize,
    ) -> Tokens {
        let words = text_len / 64 + 1;
        starts.clear();
        starts.resize(words, 0);
        for &(s, _) in &list {
            if let Some(w) = starts.get_mut(s / 64) {
                *w |= 1 << (s % 64);
            }
        }
        before.clear();
        before.reserve(words);
        let mut n = 0u32;
        for w in &starts {
            before.push(n);
            n += w.count_ones();
        }
        Tokens {
            list,
            starts,
            before,
        }
    }

    /// The token starting at `start`: a bit test, then a rank by popcount
    /// (this is asked for every word a name might extend over).
    fn get(&self, start: &usize) -> Option<&(usize, u8)> {
        let (w, bit) = (start / 64, start % 64);
        let word = *self.starts.get(w)?;
        if word & (1 << bit) == 0 {
            return None;
        }
        let rank = self.before[w] as usize + (word & ((1u64 << bit) - 1)).count_ones() as usize;
        self.list.get(rank).map(|t| &t.1)
    }
}

impl Scanner {
    /// If the keyword hit `[s, e)` is a name introducer ("my name is",
    /// "name:", "dear", "signed") followed by a capitalised word, the
    /// byte offset of that word.
    fn introduces_name(&self, text: &str, s: usize, e: usize) -> Option<usize> {
        const INTRODUCERS: &[&str] = &[
            "my name is",
            "name is",
            "name",
            "dear",
            "signed",
            "regards",
            "sincerely",
            "i am",
            "i'm",
            "姓名",
        ];
        let word = text.get(s..e)?;
        if !INTRODUCERS.iter().any(|w| w.eq_ignore_ascii_case(word)) {
            return None;
        }
        let b = text.as_bytes();
        let mut p = e;
        let mut skipped = 0;
        while p < b.len()
            && matches!(b[p], b' ' | b':' | b',' | b'?' | b'\n' | b'\t')
            && skipped < 4
        {
            p += 1;
            skipped += 1;
        }
        // "name: X", or a question answered with the name ("What's your
        // name? X").
        if word.eq_ignore_ascii_case("name") && !text[e..p].contains([':', '?']) {
            return None;
        }
        word_end(text, p).map(|_| p)
    }
}

/// The address that follows an address keyword ("lives at", "address:"):
/// starts at the first word containing a digit (or a `PSC`/`Unit` military
/// prefix) within 40 bytes, and runs to the end of the clause (`?`, `!`, a
/// blank line, or a full stop that ends a sentence rather than an
/// abbreviation), at most 160 bytes. It must hold a digit and letters.
/// True when the digits ending at `end` continue with a space and more
/// digits: "Kowloon 4111 1111 1111 1111" is a district and a card number,
/// not a district and a postcode, so the address tail stops before it.
fn runs_into_digits(text: &str, end: usize) -> bool {
    let b = text.as_bytes();
    end > 0
        && b.get(end - 1).is_some_and(u8::is_ascii_digit)
        && b.get(end) == Some(&b' ')
        && b.get(end + 1).is_some_and(u8::is_ascii_digit)
}

fn address_after_keyword(text: &str, from: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let window_end = (from + 40).min(b.len());
    let digit = (from..window_end).find(|&i| b[i].is_ascii_digit())?;
    // Stop early if the clause ends before the number.
    if b[from..digit]
        .iter()
        .any(|c| matches!(c, b'.' | b'?' | b'!' | b'\n'))
    {
        return None;
    }
    let mut start = digit;
    while start > from && !matches!(b[start - 1], b' ' | b':' | b',' | b'\t' | b'\n') {
        start -= 1;
    }
    if !text.is_char_boundary(start) {
        return None;
    }
    // Skip connectors such as a full-width colon or "is" before the value.
    let rest = &text[start..];
    let trimmed = rest.trim_start_matches([' ', ':', '：', '，', ',', '\t']);
    let start = start + (rest.len() - trimmed.len());
    let limit = (start + 160).min(b.len());
    let mut end = limit;
    let mut i = start;
    while i < limit {
        match b[i] {
            b'?' | b'!' | b';' => {
                end = i;
                break;
            }
            b'\n' if b.get(i + 1) == Some(&b'\n') => {
                end = i;
                break;
            }
            b'.' => {
                let next = b.get(i + 1).copied();
                let word_start = b[..i]
                    .iter()
                    .rposition(|c| !(c.is_ascii_alphabetic() || *c >= 0x80))
                    .map_or(0, |p| p + 1);
                let word = &b[word_start..i];
                let abbreviation = word.len() <= 3
                    && word.is_ascii()
                    && word.first().is_some_and(u8::is_ascii_alphabetic);
                if next.is_none_or(|c| c == b' ' || c == b'\n') && !abbreviation {
                    end = i;
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    while end > start && !text.is_char_boundary(end) {
        end -= 1;
    }
    let span = text
        .get(start..end)?
        .trim_end_matches([' ', ',', '\n', '\t']);
    let end = start + span.len();
    // Three letters and a digit are all the test needs: stop counting there.
    let three_letters = span.chars().filter(|c| c.is_alphabetic()).nth(2).is_some();
    let digit = span.bytes().any(|c| c.is_ascii_digit());
    (span.len() >= 8 && three_letters && digit).then_some((start, end))
}

/// After a title such as `Mr` or `Dr.`: the offset of the next word.
fn after_title(b: &[u8], e: usize) -> Option<usize> {
    let mut p = e;
    if b.get(p) == Some(&b'.') {
        p += 1;
    }
    (b.get(p) == Some(&b' ')).then_some(p + 1)
}

fn next_boundary(text: &str, s: usize) -> usize {
    let mut n = s + 1;
    while n < text.len() && !text.is_char_boundary(n) {
        n += 1;
    }
    n
}

/// `Xxxx` (apostrophes and hyphens allowed); all-lower or all-upper words are not names.
fn capitalised(w: &[u8]) -> bool {
    w.first().is_some_and(u8::is_ascii_uppercase)
        && w.iter()
            .skip(1)
            .all(|b| b.is_ascii_lowercase() || *b == b'\'' || *b == b'-')
        && (w.len() < 2 || w[1..].iter().any(u8::is_ascii_lowercase))
}

/// `parts` joined into one string allocated once: `format!` costs more
/// than the rest of building a finding.
fn joined(parts: &[&str]) -> Cow<'static, str> {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    Cow::Owned(s)
}

/// End of a capitalised word (any script with case: `Šárka`, `Ottová`)
/// starting at byte `p`, or `None`. An initial such as `J.` counts.
fn word_end(text: &str, p: usize) -> Option<usize> {
    let rest = text.get(p..)?;
    let b = rest.as_bytes();
    let first = *b.first()?;
    let mut end = if first.is_ascii() {
        if !first.is_ascii_uppercase() {
            return None;
        }
        1
    } else {
        let c0 = rest.chars().next()?;
        if !c0.is_uppercase() {
            return None;
        }
        c0.len_utf8()
    };
    let mut lower = 0;
    // ASCII letters byte by byte (names are mostly ASCII); the first
    // non-ASCII character hands over to the Unicode classification below.
    let mut unicode_from = None;
    while let Some(&c) = b.get(end) {
        match c {
            b'a'..=b'z' | b'\'' => {
                lower += 1;
                end += 1;
            }
            b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'@' => return None,
            0x80.. => {
                unicode_from = Some(end);
                break;
            }
            _ => break,
        }
    }
    if let Some(from) = unicode_from {
        for (i, c) in rest[from..].char_indices() {
            if c.is_lowercase() || c == '\'' || (c.is_alphabetic() && !c.is_uppercase()) {
                lower += 1;
                end = from + i + c.len_utf8();
            } else if c.is_uppercase() || c.is_ascii_digit() || c == '_' || c == '@' {
                return None;
            } else {
                break;
            }
        }
    }
    if lower == 0 {
        // An initial: "J." or a bare "J" followed by a space.
        return match rest.as_bytes().get(end) {
            Some(b'.') => Some(p + end + 1),
            Some(b' ') => Some(p + end),
            _ => None,
        };
    }
    Some(p + end)
}

fn is_initial(w: &[u8]) -> bool {
    (w.len() == 2 && w[0].is_ascii_uppercase() && w[1] == b'.')
        || (w.len() == 1 && w[0].is_ascii_uppercase())
}

/// Start of the capitalised word just before `s` (separated by one space).
fn prev_word(b: &[u8], s: usize) -> Option<usize> {
    if s < 2 || b[s - 1] != b' ' {
        return None;
    }
    let mut p = s - 1;
    while p > 0 && b[p - 1].is_ascii_alphabetic() {
        p -= 1;
    }
    (p < s - 1 && capitalised(&b[p..s - 1])).then_some(p)
}

/// True when a capitalised word follows `end` after one space.
fn followed_by_capitalised(text: &str, end: usize) -> bool {
    text.as_bytes().get(end) == Some(&b' ') && word_end(text, end + 1).is_some()
}

/// True when the word at `p` follows "the " ("the White House") or a
/// hyphen (the second half of a compound such as "Mayo-Walters").
fn preceded_by_the(b: &[u8], p: usize) -> bool {
    (p >= 4 && b[p - 4..p].eq_ignore_ascii_case(b"the ")) || (p >= 1 && b[p - 1] == b'-')
}

/// True when the word at `p` starts a sentence (text start or after `.!?`/newline).
fn sentence_start(b: &[u8], p: usize) -> bool {
    let mut i = p;
    while i > 0 && b[i - 1] == b' ' {
        i -= 1;
    }
    i == 0 || matches!(b[i - 1], b'.' | b'!' | b'?' | b'\n' | b'"' | b':')
}

fn verdict(kind: Kind, s: usize, e: usize, score: f32, note: &'static str) -> Option<Verdict> {
    Some(Verdict {
        start: s,
        end: e,
        score,
        kind,
        note,
    })
}

/// Runs rule `r`'s validator on `text[s..e]`.
fn validate_rule(r: &Rule, text: &str, s: usize, e: usize, config: &Config) -> Option<Verdict> {
    let m = text.get(s..e)?;
    let bytes = text.as_bytes();
    let k = r.kind;
    let sc = r.score;
    match r.check {
        Check::Email => {
            let at = m.find('@')?;
            let mut ls = 0;
            while m[ls..].starts_with('.') {
                ls += 1;
            }
            // Inside a local part that was rejected (e.g. `a..b@x`): not a new address.
            if s > 0 && (bytes[s - 1].is_ascii_alphanumeric() || b"._%+-".contains(&bytes[s - 1])) {
                return None;
            }
            let local = &m[ls..at];
            let domain = &m[at + 1..];
            if local.is_empty() || local.ends_with('.') || local.contains("..") {
                return None;
            }
            if domain
                .split('.')
                .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
            {
                return None;
            }
            verdict(k, s + ls, e, sc, "address structure valid")
        }
        Check::UrlCredentials => {
            let scheme_end = m.find("://")?;
            let scheme = m[..scheme_end].to_ascii_lowercase();
            let cred = &m[scheme_end + 3..m.len() - 1];
            let colon = cred.find(':')?;
            let pass = &cred[colon + 1..];
            let user = &cred[..colon];
            if pass.is_empty() || user.is_empty() {
                return None;
            }
            let lower = pass.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "password" | "pass" | "secret" | "pwd" | "passwd" | "xxx" | "changeme"
            ) || lower.starts_with('$')
                || lower.starts_with('<')
                || lower.starts_with('{')
                || pass.bytes().all(|b| b == b'*' || b == b'x' || b == b'X')
            {
                return None;
            }
            let ps = s + scheme_end + 3 + colon + 1;
            let db = matches!(
                scheme.as_str(),
                "postgres"
                    | "postgresql"
                    | "mysql"
                    | "mariadb"
                    | "mongodb"
                    | "mongodb+srv"
                    | "redis"
                    | "rediss"
                    | "amqp"
                    | "amqps"
                    | "mssql"
                    | "sqlserver"
                    | "clickhouse"
                    | "jdbc:mysql"
            );
            let note = if db {
                "database URL with password"
            } else {
                "URL with embedded password"
            };
            verdict(k, ps, e - 1, sc, note)
        }
        Check::Iban => {
            let cc = m.as_bytes().get(..2)?;
            let cc = [cc[0].to_ascii_uppercase(), cc[1].to_ascii_uppercase()];
            let want = validate::iban_length(std::str::from_utf8(&cc).ok()?)?;
            // Take exactly `want` alphanumerics from the start.
            let mut n = 0;
            let mut end = s;
            for (i, c) in m.char_indices() {
                if c.is_ascii_alphanumeric() {
                    n += 1;
                    if n == want {
                        end = s + i + 1;
                        break;
                    }
                }
            }
            if n != want || (end < text.len() && bytes[end].is_ascii_alphanumeric()) {
                return None;
            }
            validate::iban(&text[s..end]).then_some(Verdict {
                start: s,
                end,
                score: sc,
                kind: k,
                note: "ISO 13616 mod-97 check passed",
            })
        }
        Check::Card => {
            let d = validate::digits_of(m);
            if !consistent_separators(m) || !validate::luhn_digits(&d) {
                return None;
            }
            if d.iter().all(|&x| x == d[0]) {
                return None;
            }
            validate::card_network(&d)?;
            verdict(k, s, e, sc, "Luhn check and issuer range passed")
        }
        Check::CardAnyIssuer => {
            let d = validate::digits_of(m);
            if !(13..=19).contains(&d.len())
                || !consistent_separators(m)
                || !validate::luhn_digits(&d)
                || d.iter().all(|&x| x == d[0])
            {
                return None;
            }
            verdict(k, s, e, sc, "Luhn check passed, issuer range unknown")
        }
        Check::ChinaId => validate::china_id(m).then_some(Verdict {
            start: s,
            end: e,
            score: sc,
            kind: k,
            note: "ISO 7064 MOD 11-2 check passed",
        }),
        Check::Hkid => {
            if !validate::hkid(m) {
                return None;
            }
            let sc = if m.contains('(') { sc + 0.05 } else { sc };
            verdict(k, s, e, sc, "HKID check digit passed")
        }
        Check::MacauId => verdict(k, s, e, sc, "Macau ID format (no public check digit)"),
        Check::TaiwanId => validate::taiwan_id(m).then_some(Verdict {
            start: s,
            end: e,
            score: sc,
            kind: k,
            note: "Taiwan ID checksum passed",
        }),
        Check::SgNric => validate::sg_nric(m).then_some(Verdict {
            start: s,
            end: e,
            score: sc,
            kind: k,
            note: "NRIC/FIN check letter passed",
        }),
        Check::UkNino => validate::uk_nino(m).then_some(Verdict {
            start: s,
            end: e,
            score: sc,
            kind: k,
            note: "NINO prefix rules passed",
        }),
        Check::SsnOrItin => {
            if validate::us_itin(m) && config.enabled(Kind::UsItin) {
                return verdict(Kind::UsItin, s, e, sc, "ITIN group range passed");
            }
            if !config.enabled(Kind::UsSsn) {
                return None;
            }
            validate::us_ssn(m).then_some(Verdict {
                start: s,
                end: e,
                score: sc,
                kind: k,
                note: "SSA area/group/serial rules passed",
            })
        }
        Check::SsnBare => validate::us_ssn(m).then_some(Verdict {
            start: s,
            end: e,
            score: sc,
            kind: k,
            note: "SSA rules passed",
        }),
        Check::PhoneIntl => {
            let n = validate::digits_of(m).len();
            (8..=15 + 5).contains(&n).then_some(Verdict {
                start: s,
                end: e,
                score: sc,
                kind: k,
                note: "international prefix, digit count plausible",
            })
        }
        Check::PhoneNanp => {
            let d = validate::digits_of(m);
            let core: &[u8] = if d.len() == 11 && d[0] == 1 {
                &d[1..]
            } else {
                &d
            };
            if core.len() < 10 {
                return None;
            }
            let nanp = core[0] >= 2 && core[3] >= 2;
            let sc = if nanp { sc } else { sc - 0.15 };
            verdict(
                k,
                s,
                e,
                sc,
                if nanp {
                    "North American numbering plan"
                } else {
                    "North American format"
                },
            )
        }
        Check::PhoneNational => {
            let d = validate::digits_of(m);
            if d.iter().all(|&x| x == d[0]) {
                return None;
            }
            // A grouped number ("9123 4567") reads more like a phone than a bare run.
            let grouped = m.contains(' ') || m.contains('-');
            let sc = if grouped { sc + 0.1 } else { sc };
            verdict(k, s, e, sc, "national number format")
        }
        Check::Ipv4 => {
            // Not part of a longer dotted sequence such as a version number.
            let before_dot = s >= 2 && bytes[s - 1] == b'.' && bytes[s - 2].is_ascii_digit();
            let after_dot =
                e + 1 < bytes.len() && bytes[e] == b'.' && bytes[e + 1].is_ascii_digit();
            if before_dot || after_dot {
                return None;
            }
            verdict(k, s, e, sc, "valid dotted quad")
        }
        Check::Ipv6 => {
            if m.matches(':').count() < 2 {
                return None;
            }
            m.parse::<std::net::Ipv6Addr>().ok()?;
            verdict(k, s, e, sc, "parses as IPv6")
        }
        Check::Mac => {
            let d = validate::compact_alnum(m);
            if d.bytes().all(|b| b == b'0') || d.bytes().all(|b| b == b'F') {
                return None;
            }
            verdict(k, s, e, sc, "EUI-48 format")
        }
        Check::Base58 => validate::base58check(m).then_some(Verdict {
            start: s,
            end: e,
            score: sc,
            kind: k,
            note: "base58check checksum passed",
        }),
        Check::Bech32 => validate::bech32(m).then_some(Verdict {
            start: s,
            end: e,
            score: sc,
            kind: k,
            note: "bech32 checksum passed",
        }),
        Check::Eth => {
            let hex = &m[2..];
            if validate::entropy(hex) < 3.0 || !validate::eip55(hex) {
                return None;
            }
            verdict(k, s, e, sc, "0x + 40 hex digits, EIP-55 checksum ok")
        }
        Check::Address => verdict(k, s, e, sc, "house number + street name + street suffix"),
        Check::HkAddress => verdict(k, s, e, sc, "flat/room + floor (Hong Kong style)"),
        Check::Secret => secrets::plausible_secret(m).then_some(Verdict {
            start: s,
            end: e,
            score: sc,
            kind: k,
            note: "provider token format, entropy ok",
        }),
        Check::Pem => {
            // Extend over the whole block when its END line is present.
            let rest = &text[e..];
            let end = rest
                .find("-----END ")
                .and_then(|i| rest[i + 9..].find("-----").map(|j| e + i + 9 + j + 5))
                .unwrap_or(e);
            verdict(k, s, end, 0.99, "PEM private key block")
        }
        Check::GenericSecret => {
            let trimmed = m.trim_end_matches(['.', ',', ';']);
            let vstart = trimmed
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || "_-+/=.~!@#$%^&*".contains(c)))
                .map_or(0, |i| i + 1);
            let value = &trimmed[vstart..];
            // `password = read_password()` is code, not a value.
            if matches!(bytes.get(s + trimmed.len()), Some(b'(' | b'[')) {
                return None;
            }
            let score = secrets::generic_value_ok(value)?;
            verdict(
                k,
                s + vstart,
                s + trimmed.len(),
                score,
                "secret keyword with high-entropy value",
            )
        }
        Check::Passport => {
            let d = validate::digits_of(m);
            if d.iter().all(|&x| x == d[0]) {
                return None;
            }
            verdict(k, s, e, sc, "passport number format after passport keyword")
        }
        Check::Dob => verdict(k, s, e, sc, "date after birth keyword"),
        Check::BankAccount => {
            let d = validate::digits_of(m);
            if !(6..=20).contains(&d.len()) || d.iter().all(|&x| x == d[0]) {
                return None;
            }
            verdict(k, s, e, sc, "account number format after account keyword")
        }
        Check::Nhs => validate::uk_nhs(m).then_some(Verdict {
            start: s,
            end: e,
            score: sc,
            kind: k,
            note: "NHS mod-11 check passed",
        }),
    }
}

/// Card numbers are either unseparated or use one separator kind.
fn consistent_separators(m: &str) -> bool {
    let spaces = m.contains(' ');
    let dashes = m.contains('-');
    !(spaces && dashes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_on_many_threads_at_once_find_what_one_thread_finds() {
        let scanner = Scanner::new(Config::only(
            Kind::ALL.iter().copied().filter(|k| !k.is_verdict()),
        ))
        .unwrap();
        // Every regex of the scanner is searched: the main pass, a gated
        // rule after its keyword, and both address extensions.
        let text = "Call +852 9123 4567 or mail chan.taiman@example.com. \
                    Passport number: K12345678. My name is Chan Tai Man, \
                    Flat 12, 3/F, Block B, Mei Foo Sun Chuen, Kowloon.";
        let want = scanner.scan(text);
        let kinds: Vec<Kind> = want.iter().map(|f| f.kind).collect();
        for kind in [
            Kind::Phone,
            Kind::Email,
            Kind::Passport,
            Kind::Person,
            Kind::Address,
        ] {
            assert!(kinds.contains(&kind), "{kind:?} in {want:?}");
        }
        std::thread::scope(|threads| {
            for _ in 0..4 {
                threads.spawn(|| {
                    for _ in 0..25 {
                        assert_eq!(scanner.scan(text), want);
                    }
                });
            }
        });
    }

    #[test]
    fn scanners_share_automata_and_word_tables_by_configuration() {
        let all = Scanner::new(Config::default()).unwrap();
        let again = Scanner::new(Config::default()).unwrap();
        let emails = Scanner::new(Config::only([Kind::Email])).unwrap();
        let (Some(a), Some(b), Some(e)) = (&all.search, &again.search, &emails.search) else {
            panic!("every one of these scanners has pattern rules")
        };
        assert!(Arc::ptr_eq(a, b));
        assert!(!Arc::ptr_eq(a, e));
        assert!(Arc::ptr_eq(&all.words, &again.words));
        assert!(
            !Arc::ptr_eq(&all.words, &emails.words),
            "names only with Person"
        );
        assert!(Arc::ptr_eq(&all.address_tail, &emails.address_tail));
        // Sharing changes nothing about what each one finds.
        let text = "Mail Chan Tai Man at tai.man@example.com, card 4111 1111 1111 1111.";
        let kinds = |s: &Scanner| s.scan(text).iter().map(|f| f.kind).collect::<Vec<_>>();
        assert_eq!(kinds(&emails), vec![Kind::Email]);
        let found = kinds(&all);
        assert!(found.contains(&Kind::Email) && found.contains(&Kind::CreditCard));
        assert!(found.contains(&Kind::Person), "{found:?}");
        assert_eq!(kinds(&again), found);
    }

    /// The character-by-character statement of [`word_end`].
    fn word_end_by_chars(text: &str, p: usize) -> Option<usize> {
        let rest = text.get(p..)?;
        let mut it = rest.char_indices();
        let (_, c0) = it.next()?;
        if !c0.is_uppercase() {
            return None;
        }
        let mut end = c0.len_utf8();
        let mut lower = 0;
        for (i, c) in it {
            if c.is_lowercase() || c == '\'' || (c.is_alphabetic() && !c.is_uppercase()) {
                lower += 1;
                end = i + c.len_utf8();
            } else if c.is_uppercase() || c.is_ascii_digit() || c == '_' || c == '@' {
                return None;
            } else {
                break;
            }
        }
        if lower == 0 {
            // An initial: "J." or a bare "J" followed by a space.
            return match rest.as_bytes().get(end) {
                Some(b'.') => Some(p + end + 1),
                Some(b' ') => Some(p + end),
                _ => None,
            };
        }
        Some(p + end)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, ..Default::default() })]
        // A small alphabet with every class the walk tells apart (ASCII
        // upper/lower, apostrophe, digit, `_`, `@`, stops, non-ASCII upper,
        // lower and caseless letters), so each meets each often.
        #[test]
        fn word_end_matches_the_character_walk(
            text in "[AZaz'0_@. \\-ÉéßÆæ中]{0,10}",
            p in 0usize..12,
        ) {
            proptest::prop_assert_eq!(word_end(&text, p), word_end_by_chars(&text, p));
        }
    }

    /// Whether `pattern` can match some text without an ASCII digit: a
    /// walk of its lazy DFA, from every start state, over every other byte,
    /// looking for a match state.
    fn matches_without_digits(pattern: &str) -> bool {
        use regex_automata::hybrid::LazyStateID;
        use regex_automata::hybrid::dfa::DFA;
        let dfa = DFA::builder()
            .syntax(syntax_config())
            .configure(DFA::config().cache_capacity(64 << 20))
            .build(pattern)
            .unwrap();
        let mut cache = dfa.create_cache();
        let mut seen = std::collections::HashSet::<LazyStateID>::new();
        let mut todo = Vec::new();
        // No byte before, a word byte, a non-word byte, line ends, non-ASCII.
        for prev in [&b""[..], b"a", b" ", b"\n", b"\r", b"\xE4"] {
            let mut hay = prev.to_vec();
            hay.push(b' ');
            let input = Input::new(&hay).range(prev.len()..);
            let start = dfa.start_state_forward(&mut cache, &input).unwrap();
            if seen.insert(start) {
                todo.push(start);
            }
        }
        while let Some(state) = todo.pop() {
            if state.is_match() || dfa.next_eoi_state(&mut cache, state).unwrap().is_match() {
                return true;
            }
            for b in (0..=255u8).filter(|b| !b.is_ascii_digit()) {
                let next = dfa.next_state(&mut cache, state, b).unwrap();
                if next.is_match() {
                    return true;
                }
                if !next.is_dead() && seen.insert(next) {
                    todo.push(next);
                }
            }
        }
        false
    }

    #[test]
    fn every_gated_pattern_needs_a_digit() {
        // The gated pass skips windows without a digit on the strength of it.
        for (rule, _) in GATED_RULES {
            assert!(!matches_without_digits(rule.pattern), "{}", rule.name);
        }
        // The walk itself finds digit-free matches where there are some.
        assert!(matches_without_digits(r"\b[0-9]{2}\b|[a-z]+@"));
        assert!(matches_without_digits(r"(?:[0-9]{4}|x)\b"));
        assert!(!matches_without_digits(r"[a-z]{0,5}[0-9]"));
    }

    #[test]
    fn gated_rules_know_the_bytes_their_matches_start_with() {
        let known: Vec<&str> = GATED_RULES
            .iter()
            .filter(|(r, _)| start_bytes(r.pattern).is_some())
            .map(|(r, _)| r.name)
            .collect();
        assert_eq!(
            known,
            GATED_RULES.iter().map(|(r, _)| r.name).collect::<Vec<_>>(),
            "a gated rule whose start bytes are unknown is searched the slow way"
        );
        let starts = start_bytes(r"\b[0-9]{4}(?: ?x)?").unwrap();
        let set: Vec<u8> = (0..=255u8).filter(|&b| starts[usize::from(b)]).collect();
        assert_eq!(set, b"0123456789".to_vec());
        let starts = start_bytes(r"(?:\+[0-9]{1,4}[ .-]?)?(?:\(0\) ?)?\(?[0-9]{1,5}\)?").unwrap();
        let set: Vec<u8> = (0..=255u8).filter(|&b| starts[usize::from(b)]).collect();
        assert_eq!(set, b"(+0123456789".to_vec());
        // A pattern that may match nothing says nothing; one that may start
        // with any byte says so.
        assert!(start_bytes(r"[0-9]*").is_none());
        assert!(start_bytes(r"(?s:.)x").is_none_or(|s| s.iter().all(|&b| b)));
    }

    /// Pieces of the window search's property test: digits and separators
    /// in runs that do and do not make the gated values, and the words and
    /// characters their patterns start with.
    const WINDOW_PIECES: &[&str] = &[
        "4111", "1111", "12", "123", "9876", "5432", "0", "7", " ", "-", ".", "/", "+", "+852",
        "(", ")", "(0)", "AB", "A", "x", "Jan", "march", "1st", "3rd", ",", "2024", "年", "月",
        "日", "é", "\n", ":", "K1234567",
    ];

    proptest::proptest! {
        /// The window search finds what the general search over the window
        /// finds, for every gated rule.
        #[test]
        fn the_window_search_finds_what_the_general_search_finds(
            picks in proptest::collection::vec(0..WINDOW_PIECES.len(), 0..30),
            from in 0usize..40,
            len in 0usize..60,
        ) {
            let text: String = picks.iter().map(|&k| WINDOW_PIECES[k]).collect();
            let from = from.min(text.len());
            let to = (from + len).min(text.len());
            for (rule, _) in GATED_RULES {
                let re = build_regex(&[rule.pattern]).unwrap();
                let mut cache = re.create_cache();
                let starts = start_bytes(rule.pattern);
                let general = re.search(&Input::new(&text).range(from..to));
                let window = search_window(&re, &mut cache, &text, from..to, starts.as_deref());
                proptest::prop_assert_eq!(window, general, "{} in {:?} [{}, {})", rule.name, text, from, to);
            }
        }
    }

    #[test]
    fn an_address_clause_needs_three_letters_and_a_digit() {
        assert_eq!(address_after_keyword(" 12345 Abc, 678", 0), Some((1, 15)));
        assert_eq!(address_after_keyword(" 12345 Ab, 678", 0), None);
        // The clause ends at the semicolon, before the number.
        assert_eq!(address_after_keyword(" abcdefgh;12", 0), None);
        assert_eq!(address_after_keyword(" 1234567", 0), None);
    }

    #[test]
    fn surname_endings_are_found_by_their_last_two_bytes() {
        let by_list = |w: &str| w.len() >= 5 && SURNAME_ENDINGS.iter().any(|e| w.ends_with(e));
        // Every ending on a long enough word, and near misses of each.
        for e in SURNAME_ENDINGS {
            for w in [
                format!("Abcd{e}"),
                format!("Abcd{e}x"),
                format!("Ab{e}"),
                format!("Abcdx{}", &e[1..]),
            ] {
                assert_eq!(surname_ending(&w), by_list(&w), "{w}");
            }
        }
        assert!(surname_ending("Petrov"));
        assert!(surname_ending("Fukumoto"));
        assert!(!surname_ending("ov"));
        assert!(!surname_ending("Smith"));
        assert!(!surname_ending(""));
    }

    /// Pattern findings of `text` with the pattern search's second and third
    /// chains starting at `splits` (0: no such chain).
    fn split_scan(scanner: &Scanner, text: &str, splits: Splits) -> Vec<Finding> {
        let mut caches = scanner.caches.get();
        let mut scratch = std::mem::take(&mut caches.scratch);
        let out = scanner.scan_with(text, &mut caches, &mut scratch, splits);
        scratch.trim();
        caches.scratch = scratch;
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// Where the pattern search splits the text (two chains or three)
        /// changes no finding,
        /// validated or refused (the refused card-like runs and bare
        /// numbers make the search restart inside a candidate).
        #[test]
        fn the_search_split_changes_no_finding(
            parts in proptest::collection::vec(0usize..16, 0..60),
            fraction in 0.0f64..1.0,
            second in 0.0f64..1.0,
        ) {
            const PARTS: &[&str] = &[
                "Contact Chan Tai Man at chan.taiman@example.com.hk or +852 9123 4567. ",
                "My card is 4111 1111 1111 1111 and my HKID is A123456(3). ",
                "Not a card: 4111 1111 1111 1112, not an id: A123456(4). ",
                "請致電 9876 5432 聯絡陳先生。",
                "身份证号码 11010519491231002X，手机 13812345678。",
                "export GITHUB_TOKEN=ghp_R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0sA2eZ8u\n",
                "Wire it to GB82 WEST 1234 5698 7654 32 by Friday. ",
                "The server at 10.20.30.40 rejected the login from Sarah Johnson. ",
                "Ship to Flat B, 8/F, Harbour View Building, 25 Des Voeux Road, Central. ",
                "The quarterly report shows revenue grew in every region. ",
                "order 1234567890123 ref 000-00-0000 ",
                "password = \"hunter2hunter2\" ",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "9",
                " ",
                "é",
            ];
            static SCANNER: OnceLock<Scanner> = OnceLock::new();
            let scanner = SCANNER.get_or_init(|| Scanner::new(Config::default()).unwrap());
            let text: String = parts.iter().map(|&i| PARTS[i]).collect();
            let at = |f: f64| (text.len() as f64 * f) as usize;
            let one = split_scan(scanner, &text, [0, 0]);
            proptest::prop_assert_eq!(&split_scan(scanner, &text, [at(fraction), 0]), &one);
            proptest::prop_assert_eq!(&split_scan(scanner, &text, [at(fraction), at(second)]), &one);
        }
    }

    /// Two keywords before one gated value find it once, and two address
    /// keywords before one clause give one address: the gated pass checks
    /// its own earlier findings, not only the pattern pass's.
    #[test]
    fn keywords_that_share_a_value_report_it_once() {
        let scanner = Scanner::new(Config::default()).unwrap();
        let lead = "Ship 4111 1111 1111 1111 today. ".repeat(3);
        for text in [
            format!("{lead}Passport, passport K1234567 on file."),
            format!("{lead}Address: lives at 86036 Rua do Arenque, Goiânia."),
        ] {
            let all = scanner.scan_all(&text);
            for (i, f) in all.iter().enumerate() {
                let twins = all[i + 1..]
                    .iter()
                    .filter(|g| g.kind == f.kind && g.start == f.start && g.end == f.end)
                    .count();
                assert_eq!(twins, 0, "{:?} found twice in {text:?}: {all:?}", f.kind);
            }
            assert!(
                all.iter()
                    .any(|f| matches!(f.kind, Kind::Passport | Kind::Address)),
                "{all:?}"
            );
        }
    }

    #[test]
    fn scratch_keeps_small_lists_and_drops_large_ones() {
        let mut scratch = Scratch::default();
        scratch.caps.extend((0..100).map(|i| (i, i + 1)));
        scratch.lex.extend((0..100_000).map(|i| LexHit {
            start: i,
            end: i + 1,
            id: 0,
        }));
        scratch.trim();
        assert!(scratch.caps.is_empty() && scratch.caps.capacity() >= 100);
        assert!(scratch.lex.is_empty());
        assert_eq!(scratch.lex.capacity(), 0, "a 2.4 MB list is not kept");
    }

    #[test]
    fn reused_scratch_lists_leave_no_trace_between_scans() {
        let short = "Call Chan Tai Man on +852 9123 4567 or mail chan@example.com.";
        let long = format!(
            "{}Ship to Flat B, 8/F, Harbour View Building, 25 Des Voeux Road, Central. \
             My card is 4111 1111 1111 1111 and my HKID is A123456(3). Sarah Johnson",
            "The Quick Brown Fox met Mary Ann Lee. ".repeat(400)
        );
        let fresh = |text: &str| Scanner::new(Config::default()).unwrap().scan(text);
        let (short_alone, long_alone) = (fresh(short), fresh(&long));
        assert!(short_alone.len() >= 3 && long_alone.len() > short_alone.len());
        // One scanner, one thread: every scan reuses the same lists.
        let scanner = Scanner::new(Config::default()).unwrap();
        for _ in 0..2 {
            assert_eq!(scanner.scan(short), short_alone);
            assert_eq!(scanner.scan(&long), long_alone);
            assert_eq!(scanner.scan(""), Vec::new());
        }
    }

    #[test]
    fn produced_ranges_match_a_byte_by_byte_bitmap() {
        let len = 300;
        // The bitmap covers whole words: bytes up to the next multiple of 64.
        let covered = (len / 64 + 1) * 64;
        let spans = [
            (0, 1),
            (63, 65),
            (70, 200),
            (128, 192),
            (250, 300),
            (299, 400),
        ];
        // Buffers left dirty by an earlier, longer text must not leak marks.
        let mut p = Produced::new(len, &[], Vec::new(), vec![u64::MAX; 40]);
        let mut naive = vec![false; covered];
        for &(s, e) in &spans {
            p.mark(s, e);
            for b in naive.iter_mut().take(e.min(covered)).skip(s) {
                *b = true;
            }
        }
        for s in 0..len + 10 {
            for e in s..(s + 130).min(len + 20) {
                let expected = (s..e.min(covered)).any(|b| naive[b]);
                assert_eq!(p.overlaps(s, e), expected, "[{s}, {e})");
            }
        }
    }

    #[test]
    fn token_lookup_by_rank_matches_a_search() {
        let starts = [0usize, 5, 63, 64, 65, 127, 128, 200, 511];
        let list: Vec<(usize, (usize, u8))> = starts
            .iter()
            .map(|&s| (s, (s + 3, (s % 7) as u8)))
            .collect();
        // Buffers left dirty by an earlier, longer text must not matter.
        let tokens = Tokens::new(list.clone(), vec![u64::MAX; 40], vec![7; 40], 512);
        for p in 0..600 {
            let expected = list.iter().find(|t| t.0 == p).map(|t| &t.1);
            assert_eq!(tokens.get(&p), expected, "offset {p}");
        }
    }

    #[test]
    fn stop_words_and_titles_are_found_by_lookup() {
        let scanner = Scanner::new(Config::only([Kind::Person])).unwrap();
        for w in names::STOP
            .iter()
            .chain(names::TITLES)
            .filter(|w| w.is_ascii())
        {
            assert!(scanner.is_stop_word(w), "{w}");
        }
        assert!(!scanner.is_stop_word("Chan"));
        assert!(!scanner.is_stop_word("David"));
    }
}
