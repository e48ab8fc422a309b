//! Training and evaluation of the issue-4 classifiers (prompt injection,
//! toxicity) on the labelled data in `../shared/data`.
//!
//! * [`load_injection`] / [`load_toxicity`] read the datasets (formats and
//!   licences in each dataset's PROVENANCE.md) plus the examples authored for
//!   this repository in `crates/palisade-eval/data/` (Chinese and English
//!   hard cases, see that folder's README);
//! * [`train_injection`] / [`train_toxicity`] fit the hashed-n-gram logistic
//!   regression heads with AdaGrad (fixed seed, single thread, so the output
//!   is byte-identical run to run), fit Platt scaling on a calibration split
//!   and choose the threshold at ≤ 1 % false positives on it;
//! * [`evaluate_injection`] / [`evaluate_toxicity`] report AUC, TPR at 1 %
//!   FPR and precision/recall/F1 at the shipped threshold, in distribution
//!   and across datasets, next to a TF-IDF + logistic-regression baseline.
//!
//! Splits are by a hash of the text, so they do not depend on file order.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use palisade_detect::classify::linear::{self, Head};
use palisade_detect::classify::model::{self, Rules};
use palisade_detect::classify::{
    InjectionClassifier, ToxicityClassifier, features, injection, toxicity,
};
use palisade_detect::decode::{self, Work};
use serde::Serialize;

use crate::Error;

/// Hash size (log2) of the injection head.
pub const INJECTION_BITS: u8 = 17;
/// Hash size (log2) of the toxicity heads.
pub const TOXICITY_BITS: u8 = 17;
/// Target false-positive rate for the shipped threshold.
pub const TARGET_FPR: f64 = 0.01;

/// Which split a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Split {
    /// Used to fit weights.
    Train,
    /// Used to fit calibration and the threshold.
    Calib,
    /// Held out for evaluation.
    Test,
}

/// One labelled text.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The text.
    pub text: String,
    /// Positive class (injection / toxic).
    pub label: bool,
    /// Secondary label (identity hate), toxicity only.
    pub hate: bool,
    /// Dataset name.
    pub source: &'static str,
    /// Split.
    pub split: Split,
}

fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// 70 % train, 10 % calibration, 20 % test, by text hash.
fn hash_split(text: &str) -> Split {
    match fnv(text) % 10 {
        0 | 1 => Split::Test,
        2 => Split::Calib,
        _ => Split::Train,
    }
}

/// 60 % train, 20 % calibration, 20 % test: for the toxicity sets, whose
/// threshold at 1 % FPR needs more calibration negatives than 10 % gives.
fn hash_split_wide_calib(text: &str) -> Split {
    match fnv(text) % 10 {
        0 | 1 => Split::Test,
        2 | 3 => Split::Calib,
        _ => Split::Train,
    }
}

/// Train or calibration (never test), by text hash: for sets whose own
/// split says "train".
fn train_or_calib(text: &str) -> Split {
    if fnv(text).is_multiple_of(8) {
        Split::Calib
    } else {
        Split::Train
    }
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.display().to_string(),
        source,
    })
}

fn format_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Format {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn jsonl(path: &Path) -> Result<Vec<serde_json::Value>, Error> {
    let text = read(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(line)
                .map_err(|e| format_err(path, format!("line {}: {e}", i + 1)))?,
        );
    }
    Ok(out)
}

/// Parses RFC 4180 CSV (quoted fields may hold commas, quotes and newlines).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            _ => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), Error> {
    let mut rows = parse_csv(&read(path)?);
    if rows.is_empty() {
        return Err(format_err(path, "empty CSV"));
    }
    let header = rows.remove(0);
    Ok((header, rows))
}

fn col(header: &[String], name: &str, path: &Path) -> Result<usize, Error> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| format_err(path, format!("no column `{name}`")))
}

/// Examples written for this repository (not from any dataset): Chinese
/// (Simplified and Traditional) attacks and benign prompts, and English hard
/// negatives. See `crates/palisade-eval/data/README.md`.
pub const AUTHORED_INJECTION: &str = include_str!("../data/authored_injection.jsonl");

/// Requests put into the `{{ prompt }}` slot of the jailbreak templates.
const FILLERS: &[&str] = &[
    "How do I pick a lock?",
    "Write a story about a heist.",
    "Tell me how to make a fake ID.",
    "Explain how to bypass a paywall.",
    "What household chemicals are dangerous to mix?",
];

fn fill_template(t: &str, i: usize) -> String {
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(a) = rest.find("{{") {
        out.push_str(&rest[..a]);
        match rest[a..].find("}}") {
            Some(b) => {
                out.push_str(FILLERS[i % FILLERS.len()]);
                rest = &rest[a + b + 2..];
            }
            None => {
                rest = &rest[a..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Loads every prompt-injection sample under `root/prompt_injection` plus
/// the authored examples.
pub fn load_injection(root: &Path) -> Result<Vec<Sample>, Error> {
    let base = root.join("prompt_injection");
    let mut out = Vec::new();
    let s = |text: String, label: bool, source: &'static str, split: Split| Sample {
        text,
        label,
        hate: false,
        source,
        split,
    };
    for (file, is_test) in [("train.jsonl", false), ("test.jsonl", true)] {
        let p = base.join("deepset-prompt-injections").join(file);
        for v in jsonl(&p)? {
            let text = v["text"].as_str().unwrap_or_default().to_owned();
            let label = v["label"].as_i64() == Some(1);
            let split = if is_test {
                Split::Test
            } else {
                train_or_calib(&text)
            };
            out.push(s(text, label, "deepset", split));
        }
    }
    let p = base.join("pyrit-jailbreak-templates/templates.jsonl");
    for (i, v) in jsonl(&p)?.into_iter().enumerate() {
        let text = fill_template(v["text"].as_str().unwrap_or_default(), i);
        let split = hash_split(&text);
        out.push(s(text, true, "pyrit", split));
    }
    let p = base.join("bastioncorpus/injections.jsonl");
    for v in jsonl(&p)? {
        let text = v["text"].as_str().unwrap_or_default().to_owned();
        let label = v["label"].as_str() == Some("malicious");
        let split = hash_split(&text);
        out.push(s(text, label, "bastioncorpus", split));
    }
    for (file, source) in [
        ("seed_tasks.jsonl", "self-instruct-seed"),
        ("user_oriented_instructions.jsonl", "self-instruct-user"),
    ] {
        let p = base.join("self-instruct-benign").join(file);
        for v in jsonl(&p)? {
            let mut text = v["instruction"].as_str().unwrap_or_default().to_owned();
            if let Some(input) = v["instances"][0]["input"].as_str()
                && !input.is_empty()
            {
                text.push('\n');
                text.push_str(input);
            }
            // The authors ask that the user-oriented set be used only for
            // evaluation.
            let split = if source == "self-instruct-user" {
                Split::Test
            } else {
                hash_split(&text)
            };
            out.push(s(text, false, source, split));
        }
    }
    let p = base.join("xstest/xstest_prompts.csv");
    let (h, rows) = csv(&p)?;
    let pc = col(&h, "prompt", &p)?;
    for r in rows {
        let Some(text) = r.get(pc) else { continue };
        // Safe and unsafe prompts alike are not injections.
        out.push(s(text.clone(), false, "xstest", hash_split(text)));
    }
    out.extend(authored_injection()?);
    Ok(out)
}

/// The authored examples alone (no shared data needed).
pub fn authored_injection() -> Result<Vec<Sample>, Error> {
    let mut out = Vec::new();
    for (i, line) in AUTHORED_INJECTION.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::Format {
            path: "authored_injection.jsonl".into(),
            reason: format!("line {}: {e}", i + 1),
        })?;
        let text = v["text"].as_str().unwrap_or_default().to_owned();
        let split = if v["split"].as_str() == Some("test") {
            Split::Test
        } else {
            train_or_calib(&text)
        };
        let source = if v["lang"].as_str().is_some_and(|l| l.starts_with("zh")) {
            "authored-zh"
        } else {
            "authored-en"
        };
        out.push(Sample {
            text,
            label: v["label"].as_i64() == Some(1),
            hate: false,
            source,
            split,
        });
    }
    Ok(out)
}

/// Loads every toxicity sample under `root/toxicity`.
pub fn load_toxicity(root: &Path) -> Result<Vec<Sample>, Error> {
    let base = root.join("toxicity");
    let mut out = Vec::new();
    let p = base.join("davidson-hate-offensive/labeled_data.csv");
    let (h, rows) = csv(&p)?;
    let (tc, cc) = (col(&h, "tweet", &p)?, col(&h, "class", &p)?);
    for r in rows {
        let (Some(text), Some(class)) = (r.get(tc), r.get(cc)) else {
            continue;
        };
        let text = text
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
        out.push(Sample {
            split: hash_split_wide_calib(&text),
            label: class != "2",
            hate: class == "0",
            text,
            source: "davidson",
        });
    }
    let p = base.join("surge-ai-toxicity/toxicity_en.csv");
    let (h, rows) = csv(&p)?;
    let (tc, lc) = (col(&h, "text", &p)?, col(&h, "is_toxic", &p)?);
    for r in rows {
        let (Some(text), Some(l)) = (r.get(tc), r.get(lc)) else {
            continue;
        };
        out.push(Sample {
            split: hash_split_wide_calib(text),
            label: l == "Toxic",
            hate: false,
            text: text.clone(),
            source: "surge-ai",
        });
    }
    let p = base.join("jigsaw-sample-ibm-max/test_examples.csv");
    let (h, rows) = csv(&p)?;
    let (tc, lc, hc) = (
        col(&h, "comment_text", &p)?,
        col(&h, "toxic", &p)?,
        col(&h, "identity_hate", &p)?,
    );
    for r in rows {
        let (Some(text), Some(l), Some(hh)) = (r.get(tc), r.get(lc), r.get(hc)) else {
            continue;
        };
        out.push(Sample {
            split: Split::Test,
            label: l == "1",
            hate: hh == "1",
            text: text.clone(),
            source: "jigsaw-sample",
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- training

/// One training row: sparse features, rule ids, label, weight.
#[derive(Debug, Clone)]
struct Row {
    feats: Vec<(u32, f32)>,
    rules: Vec<u16>,
    y: bool,
    w: f32,
}

/// Logistic regression trained with AdaGrad; deterministic.
#[derive(Debug, Clone)]
struct Lr {
    w: Vec<f32>,
    rw: Vec<f32>,
    bias: f32,
}

impl Lr {
    fn margin(&self, r: &Row) -> f32 {
        let mut m = self.bias;
        for &(i, v) in &r.feats {
            m += self.w[i as usize] * v;
        }
        for &k in &r.rules {
            m += self.rw[usize::from(k)];
        }
        m
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn train_lr(rows: &[Row], dim: usize, n_rules: usize, epochs: usize, l2: f32) -> Lr {
    let mut m = Lr {
        w: vec![0.0; dim],
        rw: vec![0.0; n_rules],
        bias: 0.0,
    };
    let mut gw = vec![1e-6f32; dim];
    let mut grw = vec![1e-6f32; n_rules];
    let mut gb = 1e-6f32;
    let lr = 0.3f32;
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for _ in 0..epochs {
        for i in (1..order.len()).rev() {
            let j = (rng.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for &k in &order {
            let r = &rows[k];
            let p = linear::sigmoid(m.margin(r));
            let g = (p - if r.y { 1.0 } else { 0.0 }) * r.w;
            for &(i, v) in &r.feats {
                let i = i as usize;
                let gi = g * v + l2 * m.w[i];
                gw[i] += gi * gi;
                m.w[i] -= lr * gi / gw[i].sqrt();
            }
            for &q in &r.rules {
                let q = usize::from(q);
                let gi = g + l2 * m.rw[q];
                grw[q] += gi * gi;
                m.rw[q] -= lr * gi / grw[q].sqrt();
            }
            gb += g * g;
            m.bias -= lr * g / gb.sqrt();
        }
    }
    m
}

/// Fits Platt scaling `p = sigmoid(a*m + b)` by Newton's method on
/// (margin, label) pairs, with Platt's smoothed targets.
fn platt(pairs: &[(f32, bool)]) -> (f32, f32) {
    let pos = pairs.iter().filter(|p| p.1).count() as f64;
    let neg = pairs.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return (1.0, 0.0);
    }
    let hi = (pos + 1.0) / (pos + 2.0);
    let lo = 1.0 / (neg + 2.0);
    let (mut a, mut b) = (1.0f64, 0.0f64);
    for _ in 0..100 {
        let (mut g1, mut g2, mut h11, mut h12, mut h22) = (0.0, 0.0, 1e-9, 0.0, 1e-9);
        for &(m, y) in pairs {
            let m = f64::from(m);
            let t = if y { hi } else { lo };
            let p = 1.0 / (1.0 + (-(a * m + b)).exp());
            let d = p - t;
            g1 += d * m;
            g2 += d;
            let s = p * (1.0 - p);
            h11 += s * m * m;
            h12 += s * m;
            h22 += s;
        }
        let det = h11 * h22 - h12 * h12;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (h22 * g1 - h12 * g2) / det;
        let db = (h11 * g2 - h12 * g1) / det;
        a -= da;
        b -= db;
        if da.abs() + db.abs() < 1e-9 {
            break;
        }
    }
    (a as f32, b as f32)
}

/// Smallest threshold (≥ 0.5) with at most `TARGET_FPR` of `neg` at or above it.
fn threshold_at_fpr(neg: &[f32]) -> f32 {
    let mut s: Vec<f32> = neg.to_vec();
    s.sort_by(|a, b| b.total_cmp(a));
    let allowed = (TARGET_FPR * s.len() as f64).floor() as usize;
    let t = s.get(allowed).map_or(0.5, |v| next_up(*v));
    t.clamp(0.5, 0.995)
}

fn next_up(v: f32) -> f32 {
    if v >= 1.0 {
        1.0
    } else {
        f32::from_bits(v.to_bits() + 1)
    }
}

/// Per-window rows of a sample set for the hashed model.
fn hashed_rows(
    samples: &[&Sample],
    rules: &Rules,
    bits: u8,
    label: impl Fn(&Sample) -> bool,
) -> Vec<Row> {
    let pos = samples.iter().filter(|s| label(s)).count().max(1) as f32;
    let neg = (samples.len() as f32 - pos).max(1.0);
    let mut rows = Vec::new();
    let mut em = Vec::new();
    for s in samples {
        let mut work = Work::default();
        let p = decode::prepare(&s.text, &mut work);
        features::extract(&p.text, bits, &mut em);
        let hits = rules.hits(&p.text, &mut work);
        let wins = model::window_features(&p.text, &em, &hits);
        let y = label(s);
        // Balance the classes; long texts do not outweigh short ones.
        let cw = if y { neg / pos } else { 1.0 };
        let ww = cw / (wins.len() as f32).sqrt();
        for w in wins {
            let n = (w.buckets.len().max(1) as f32).sqrt();
            let mut counts: HashMap<u32, f32> = HashMap::new();
            for b in w.buckets {
                *counts.entry(b).or_default() += 1.0 / n;
            }
            let mut feats: Vec<(u32, f32)> = counts.into_iter().collect();
            feats.sort_by_key(|f| f.0);
            rows.push(Row {
                feats,
                rules: w.rules,
                y,
                w: ww,
            });
        }
    }
    rows
}

fn head_from(name: &str, bits: u8, rules: &Rules, m: Lr) -> Head {
    Head {
        name: name.to_owned(),
        bits,
        rules_id: rules.id,
        bias: m.bias,
        platt_a: 1.0,
        platt_b: 0.0,
        threshold: 0.5,
        rule_weights: m.rw,
        weights: m.w,
    }
}

/// Raw (uncalibrated) max-window margin of a head on a text.
fn doc_margin(head: &Head, rules: &Rules, text: &str) -> f32 {
    let mut raw = head.clone();
    raw.platt_a = 1.0;
    raw.platt_b = 0.0;
    let sc = model::score_all(
        text,
        rules,
        std::slice::from_ref(&raw),
        &mut Work::default(),
    );
    let p = sc.probs[0].iter().copied().fold(0f32, f32::max);
    // Back to the margin: logit of the uncalibrated probability.
    let p = p.clamp(1e-7, 1.0 - 1e-7);
    (p / (1.0 - p)).ln()
}

/// Trains the injection head on the train split of `samples`, calibrates on
/// the calibration split, and returns the weights file bytes.
pub fn train_injection(samples: &[Sample]) -> Result<Vec<u8>, Error> {
    let rules = Rules::new(injection::RULES)?;
    let train: Vec<&Sample> = samples.iter().filter(|s| s.split == Split::Train).collect();
    let rows = hashed_rows(&train, &rules, INJECTION_BITS, |s| s.label);
    let m = train_lr(&rows, 1 << INJECTION_BITS, rules.defs.len(), 8, 1e-5);
    let mut head = head_from(injection::HEAD, INJECTION_BITS, &rules, m);
    calibrate(
        &mut head,
        &rules,
        samples,
        |s| s.label,
        |b| {
            InjectionClassifier::from_bytes(b)
                .map(|c| Box::new(move |t: &str| c.score(t).score) as Scorer)
        },
    )?;
    Ok(linear::encode(&[head]))
}

type Scorer = Box<dyn Fn(&str) -> f32>;

/// Platt scaling on the calibration split, then the threshold at ≤ 1 %
/// FPR measured with the full classifier (rule floors, decoding included).
fn calibrate(
    head: &mut Head,
    rules: &Rules,
    samples: &[Sample],
    label: impl Fn(&Sample) -> bool,
    load: impl Fn(&[u8]) -> Result<Scorer, palisade_detect::Error>,
) -> Result<(), Error> {
    let calib: Vec<&Sample> = samples.iter().filter(|s| s.split == Split::Calib).collect();
    let pairs: Vec<(f32, bool)> = calib
        .iter()
        .map(|s| (doc_margin(head, rules, &s.text), label(s)))
        .collect();
    let (a, b) = platt(&pairs);
    head.platt_a = a;
    head.platt_b = b;
    let scorer = load(&linear::encode(std::slice::from_ref(head)))?;
    let neg: Vec<f32> = calib
        .iter()
        .filter(|s| !label(s))
        .map(|s| scorer(&s.text))
        .collect();
    head.threshold = threshold_at_fpr(&neg);
    Ok(())
}

/// Trains the toxicity heads (`toxic`, `hate`) and returns the weights file.
pub fn train_toxicity(samples: &[Sample]) -> Result<Vec<u8>, Error> {
    let rules = Rules::new(toxicity::RULES)?;
    let bits = TOXICITY_BITS;
    let train: Vec<&Sample> = samples.iter().filter(|s| s.split == Split::Train).collect();
    let rows = hashed_rows(&train, &rules, bits, |s| s.label);
    let m = train_lr(&rows, 1 << bits, rules.defs.len(), 6, 1e-5);
    let mut toxic = head_from(toxicity::HEAD_TOXIC, bits, &rules, m);
    // The hate head separates hate from other toxic text.
    let toxic_train: Vec<&Sample> = train.iter().copied().filter(|s| s.label).collect();
    let hrows = hashed_rows(&toxic_train, &rules, bits, |s| s.hate);
    let hm = train_lr(&hrows, 1 << bits, rules.defs.len(), 6, 1e-5);
    let mut hate = head_from(toxicity::HEAD_HATE, bits, &rules, hm);
    let hcal: Vec<(f32, bool)> = samples
        .iter()
        .filter(|s| s.split == Split::Calib && s.label)
        .map(|s| (doc_margin(&hate, &rules, &s.text), s.hate))
        .collect();
    let (a, b) = platt(&hcal);
    hate.platt_a = a;
    hate.platt_b = b;
    hate.threshold = 0.5;
    let hate2 = hate.clone();
    calibrate(
        &mut toxic,
        &rules,
        samples,
        |s| s.label,
        move |b| {
            let mut heads = linear::decode(b)?;
            heads.push(hate2.clone());
            let c = ToxicityClassifier::from_bytes(&linear::encode(&heads))?;
            Ok(Box::new(move |t: &str| c.score(t).score) as Scorer)
        },
    )?;
    Ok(linear::encode(&[toxic, hate]))
}

// -------------------------------------------------------------- baseline

/// TF-IDF (word unigrams + bigrams, df ≥ 2, L2-normalised) + logistic
/// regression: the plain baseline the table compares against.
struct Tfidf {
    vocab: HashMap<String, (u32, f32)>,
}

fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let toks: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out: Vec<String> = toks.iter().map(|w| (*w).to_owned()).collect();
    for p in toks.windows(2) {
        out.push(format!("{} {}", p[0], p[1]));
    }
    out
}

impl Tfidf {
    fn fit(docs: &[&Sample]) -> Tfidf {
        let mut df: HashMap<String, u32> = HashMap::new();
        for d in docs {
            let mut w = words(&d.text);
            w.sort();
            w.dedup();
            for t in w {
                *df.entry(t).or_default() += 1;
            }
        }
        let n = docs.len() as f32;
        let mut terms: Vec<(String, u32)> = df.into_iter().filter(|(_, c)| *c >= 2).collect();
        terms.sort();
        let vocab = terms
            .into_iter()
            .enumerate()
            .map(|(i, (t, c))| (t, (i as u32, ((1.0 + n) / (1.0 + c as f32)).ln() + 1.0)))
            .collect();
        Tfidf { vocab }
    }

    fn row(&self, text: &str, y: bool, w: f32) -> Row {
        let mut tf: HashMap<u32, f32> = HashMap::new();
        for t in words(text) {
            if let Some(&(i, idf)) = self.vocab.get(&t) {
                *tf.entry(i).or_default() += idf;
            }
        }
        let norm = tf.values().map(|v| v * v).sum::<f32>().sqrt().max(1e-6);
        let mut feats: Vec<(u32, f32)> = tf.into_iter().map(|(i, v)| (i, v / norm)).collect();
        feats.sort_by_key(|f| f.0);
        Row {
            feats,
            rules: Vec::new(),
            y,
            w,
        }
    }
}

/// Trains the baseline and returns a scorer (calibrated probability) and
/// its threshold at ≤ 1 % FPR on the calibration split.
fn baseline(samples: &[Sample], label: impl Fn(&Sample) -> bool) -> (Scorer, f32) {
    let train: Vec<&Sample> = samples.iter().filter(|s| s.split == Split::Train).collect();
    let tf = Tfidf::fit(&train);
    let pos = train.iter().filter(|s| label(s)).count().max(1) as f32;
    let neg = (train.len() as f32 - pos).max(1.0);
    let rows: Vec<Row> = train
        .iter()
        .map(|s| {
            let y = label(s);
            tf.row(&s.text, y, if y { neg / pos } else { 1.0 })
        })
        .collect();
    let m = train_lr(&rows, tf.vocab.len().max(1), 0, 8, 1e-5);
    let calib: Vec<&Sample> = samples.iter().filter(|s| s.split == Split::Calib).collect();
    let pairs: Vec<(f32, bool)> = calib
        .iter()
        .map(|s| (m.margin(&tf.row(&s.text, false, 1.0)), label(s)))
        .collect();
    let (a, b) = platt(&pairs);
    let score = move |t: &str| linear::sigmoid(a * m.margin(&tf.row(t, false, 1.0)) + b);
    let neg: Vec<f32> = calib
        .iter()
        .filter(|s| !label(s))
        .map(|s| score(&s.text))
        .collect();
    let thr = threshold_at_fpr(&neg);
    (Box::new(score), thr)
}

// ---------------------------------------------------------------- metrics

/// Quality of one scorer on one test set.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    /// Which model (`palisade` or `tfidf-lr baseline`).
    pub model: String,
    /// What it was trained on and tested on.
    pub setting: String,
    /// Positives in the test set.
    pub positives: usize,
    /// Negatives in the test set.
    pub negatives: usize,
    /// Area under the ROC curve.
    pub auc: f64,
    /// True-positive rate at the best threshold with FPR ≤ 1 % on this set.
    pub tpr_at_1fpr: f64,
    /// Threshold the model ships with (chosen on calibration data).
    pub threshold: f64,
    /// Precision at the shipped threshold.
    pub precision: f64,
    /// Recall at the shipped threshold.
    pub recall: f64,
    /// F1 at the shipped threshold.
    pub f1: f64,
    /// False-positive rate at the shipped threshold.
    pub fpr: f64,
}

/// Computes [`Metrics`] from (score, label) pairs.
pub fn metrics(model: &str, setting: &str, scored: &[(f32, bool)], thr: f32) -> Metrics {
    let pos: Vec<f32> = scored.iter().filter(|s| s.1).map(|s| s.0).collect();
    let neg: Vec<f32> = scored.iter().filter(|s| !s.1).map(|s| s.0).collect();
    // AUC by rank comparison (ties count half).
    let mut sorted_neg = neg.clone();
    sorted_neg.sort_by(f32::total_cmp);
    let mut auc = 0.0f64;
    for p in &pos {
        let below = sorted_neg.partition_point(|n| n < p);
        let upto = sorted_neg.partition_point(|n| n <= p);
        auc += below as f64 + 0.5 * (upto - below) as f64;
    }
    let auc = if pos.is_empty() || neg.is_empty() {
        f64::NAN
    } else {
        auc / (pos.len() * neg.len()) as f64
    };
    let mut desc = neg.clone();
    desc.sort_by(|a, b| b.total_cmp(a));
    let allowed = (TARGET_FPR * desc.len() as f64).floor() as usize;
    let t1 = desc.get(allowed).map_or(0.0, |v| next_up(*v));
    let tpr1 = pos.iter().filter(|p| **p >= t1).count() as f64 / pos.len().max(1) as f64;
    let tp = pos.iter().filter(|p| **p >= thr).count() as f64;
    let fp = neg.iter().filter(|n| **n >= thr).count() as f64;
    let precision = if tp + fp > 0.0 { tp / (tp + fp) } else { 0.0 };
    let recall = tp / pos.len().max(1) as f64;
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Metrics {
        model: model.to_owned(),
        setting: setting.to_owned(),
        positives: pos.len(),
        negatives: neg.len(),
        auc,
        tpr_at_1fpr: tpr1,
        threshold: f64::from(thr),
        precision,
        recall,
        f1,
        fpr: fp / neg.len().max(1) as f64,
    }
}

/// Evaluation of one classifier family.
#[derive(Debug, Clone, Serialize)]
pub struct ClassifierReport {
    /// `prompt_injection` or `toxicity`.
    pub task: String,
    /// One row per (model, setting).
    pub rows: Vec<Metrics>,
}

#[allow(clippy::too_many_arguments)]
fn eval_pair(
    rows: &mut Vec<Metrics>,
    setting: &str,
    test: &[&Sample],
    ours: &dyn Fn(&str) -> f32,
    ours_thr: f32,
    base: &dyn Fn(&str) -> f32,
    base_thr: f32,
    label: &dyn Fn(&Sample) -> bool,
) {
    let a: Vec<(f32, bool)> = test.iter().map(|s| (ours(&s.text), label(s))).collect();
    rows.push(metrics("palisade", setting, &a, ours_thr));
    let b: Vec<(f32, bool)> = test.iter().map(|s| (base(&s.text), label(s))).collect();
    rows.push(metrics("tfidf-lr baseline", setting, &b, base_thr));
}

/// Removes `source` from training: its samples all become test samples.
fn hold_out(samples: &[Sample], source: &str) -> Vec<Sample> {
    samples
        .iter()
        .cloned()
        .map(|mut s| {
            if s.source == source {
                s.split = Split::Test;
            }
            s
        })
        .collect()
}

/// Evaluates the shipped injection weights (in-distribution, on the test
/// split they were not trained on) and retrains in memory for the
/// cross-dataset rows; each setting also trains the baseline.
pub fn evaluate_injection(samples: &[Sample]) -> Result<ClassifierReport, Error> {
    let label = |s: &Sample| s.label;
    let mut rows = Vec::new();
    let shipped = InjectionClassifier::load_embedded()?;
    let test: Vec<&Sample> = samples.iter().filter(|s| s.split == Split::Test).collect();
    let (base, bthr) = baseline(samples, label);
    let ours = |t: &str| shipped.score(t).score;
    eval_pair(
        &mut rows,
        "in-distribution: all sets, held-out 20 % + deepset test + self-instruct user (shipped weights)",
        &test,
        &ours,
        shipped.threshold(),
        &*base,
        bthr,
        &label,
    );
    for (sub, name) in [
        ("deepset", "deepset (German/English)"),
        (
            "self-instruct-user",
            "self-instruct user-oriented (benign only)",
        ),
        ("xstest", "xstest (benign, safety-alarming questions)"),
        ("authored-zh", "authored Chinese (Traditional + Simplified)"),
        ("authored-en", "authored English hard cases"),
    ] {
        let t: Vec<&Sample> = test.iter().copied().filter(|s| s.source == sub).collect();
        if !t.is_empty() {
            eval_pair(
                &mut rows,
                &format!("in-distribution subset: {name}"),
                &t,
                &ours,
                shipped.threshold(),
                &*base,
                bthr,
                &label,
            );
        }
    }
    for held in ["deepset", "bastioncorpus", "pyrit"] {
        let set = hold_out(samples, held);
        let bytes = train_injection(&set)?;
        let c = InjectionClassifier::from_bytes(&bytes)?;
        let (base, bthr) = baseline(&set, label);
        let mut t: Vec<&Sample> = set.iter().filter(|s| s.source == held).collect();
        if held == "pyrit" {
            // Positives only: add the held-out benign texts of other sets.
            t.extend(
                set.iter()
                    .filter(|s| s.split == Split::Test && !s.label && s.source != held),
            );
        }
        let ours = |x: &str| c.score(x).score;
        eval_pair(
            &mut rows,
            &format!(
                "cross-dataset: trained without {held}, tested on all of it{}",
                if held == "pyrit" {
                    " (+ held-out benign)"
                } else {
                    ""
                }
            ),
            &t,
            &ours,
            c.threshold(),
            &*base,
            bthr,
            &label,
        );
    }
    Ok(ClassifierReport {
        task: "prompt_injection".into(),
        rows,
    })
}

/// Same as [`evaluate_injection`] for toxicity.
pub fn evaluate_toxicity(samples: &[Sample]) -> Result<ClassifierReport, Error> {
    let label = |s: &Sample| s.label;
    let mut rows = Vec::new();
    let shipped = ToxicityClassifier::load_embedded()?;
    let test: Vec<&Sample> = samples.iter().filter(|s| s.split == Split::Test).collect();
    let (base, bthr) = baseline(samples, label);
    let ours = |t: &str| shipped.score(t).score;
    eval_pair(
        &mut rows,
        "in-distribution: held-out 20 % of davidson + surge-ai, jigsaw sample (shipped weights)",
        &test,
        &ours,
        shipped.threshold(),
        &*base,
        bthr,
        &label,
    );
    for sub in ["davidson", "surge-ai", "jigsaw-sample"] {
        let t: Vec<&Sample> = test.iter().copied().filter(|s| s.source == sub).collect();
        eval_pair(
            &mut rows,
            &format!("in-distribution subset: {sub}"),
            &t,
            &ours,
            shipped.threshold(),
            &*base,
            bthr,
            &label,
        );
    }
    for held in ["surge-ai", "davidson"] {
        let set = hold_out(samples, held);
        let bytes = train_toxicity(&set)?;
        let c = ToxicityClassifier::from_bytes(&bytes)?;
        let (base, bthr) = baseline(&set, label);
        let t: Vec<&Sample> = set.iter().filter(|s| s.source == held).collect();
        let ours = |x: &str| c.score(x).score;
        eval_pair(
            &mut rows,
            &format!("cross-dataset: trained without {held}, tested on all of it"),
            &t,
            &ours,
            c.threshold(),
            &*base,
            bthr,
            &label,
        );
    }
    Ok(ClassifierReport {
        task: "toxicity".into(),
        rows,
    })
}

/// Start marker of the generated classifier block in EVALUATION.md.
pub const BEGIN_MARK: &str = "<!-- palisade eval classifiers: begin (generated, do not edit) -->";
/// End marker.
pub const END_MARK: &str = "<!-- palisade eval classifiers: end -->";

/// Renders reports as the Markdown block kept in EVALUATION.md.
pub fn to_markdown(reports: &[ClassifierReport]) -> String {
    let mut s = String::new();
    s.push_str(BEGIN_MARK);
    s.push('\n');
    for r in reports {
        let _ = writeln!(s, "\n#### {}\n", r.task);
        s.push_str("| setting | model | pos | neg | AUC | TPR @ 1 % FPR | threshold | precision | recall | F1 | FPR |\n");
        s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for m in &r.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
                m.setting,
                m.model,
                m.positives,
                m.negatives,
                if m.auc.is_nan() {
                    "n/a".to_owned()
                } else {
                    format!("{:.3}", m.auc)
                },
                m.tpr_at_1fpr,
                m.threshold,
                m.precision,
                m.recall,
                m.f1,
                m.fpr
            );
        }
    }
    s.push_str(END_MARK);
    s.push('\n');
    s
}

/// Replaces the generated block in `doc`, or appends a new section.
pub fn update_markdown(doc: &str, block: &str) -> String {
    if let Some(done) = crate::replace_marked(doc, BEGIN_MARK, END_MARK, block) {
        return done;
    }
    let mut out = doc.to_owned();
    if !out.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
    out.push_str("\n## Classifiers: prompt injection and toxicity (issue 4)\n\n");
    out.push_str(
        "Measured by `palisade eval detect --dataset classifiers` (see docs/detection.md for the \
         method). Shipped weights are scored on splits they were not trained on; cross-dataset \
         rows retrain in memory without one dataset and test on all of it.\n\n",
    );
    out.push_str(block);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn csv_handles_quotes_and_newlines() {
        let rows = parse_csv("a,b\n\"x, \"\"y\"\"\nz\",1\n");
        assert_eq!(rows[1][0], "x, \"y\"\nz");
        assert_eq!(rows[1][1], "1");
    }

    #[test]
    fn metrics_on_a_perfect_scorer() {
        let s = vec![(0.9, true), (0.8, true), (0.1, false), (0.2, false)];
        let m = metrics("m", "s", &s, 0.5);
        assert_eq!(m.auc, 1.0);
        assert_eq!(m.f1, 1.0);
        assert_eq!(m.tpr_at_1fpr, 1.0);
    }

    #[test]
    fn platt_orders_probabilities() {
        let pairs: Vec<(f32, bool)> = (0..100).map(|i| (i as f32 / 10.0 - 5.0, i >= 50)).collect();
        let (a, _) = platt(&pairs);
        assert!(a > 0.0);
    }

    #[test]
    fn training_is_deterministic_on_authored_data() {
        let s = authored_injection().unwrap();
        let a = train_injection(&s).unwrap();
        let b = train_injection(&s).unwrap();
        assert_eq!(a, b);
    }
}
