//! Detector evaluation on labelled PII datasets.
//!
//! Supported format: the presidio-research JSON list of records
//! `{full_text, spans: [{entity_type, start_position, end_position}]}` with
//! character offsets (converted here to byte offsets).
//!
//! Scoring is span-overlap per entity type:
//! * a gold span counts as found (recall) when a finding of the mapped kind
//!   overlaps it;
//! * a finding counts as correct (precision) when it overlaps a gold span of
//!   its kind or of a label listed as compatible with its kind (the dataset
//!   splits one address into STREET_ADDRESS, GPE and ZIP_CODE spans, so an
//!   address finding over the city part is not a false positive).
//!
//! The label mapping is [`LABEL_MAP`]; labels with no mapping are reported as
//! "not covered" with their counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use palisade_detect::{Config, Kind, Scanner};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Dataset label → our kind (what recall is measured against).
pub const LABEL_MAP: &[(&str, Kind)] = &[
    ("PERSON", Kind::Person),
    ("STREET_ADDRESS", Kind::Address),
    ("CREDIT_CARD", Kind::CreditCard),
    ("PHONE_NUMBER", Kind::Phone),
    ("EMAIL_ADDRESS", Kind::Email),
    ("IBAN_CODE", Kind::Iban),
    ("US_SSN", Kind::UsSsn),
    ("IP_ADDRESS", Kind::IpAddress),
];

/// Extra labels a finding of a kind may overlap without being a false
/// positive (parts of the same real-world entity).
pub const COMPATIBLE: &[(&str, Kind)] = &[
    ("GPE", Kind::Address),
    ("ZIP_CODE", Kind::Address),
    ("DATE_TIME", Kind::DateOfBirth),
];

/// One labelled span, in byte offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// Dataset label.
    pub label: String,
    /// Start byte.
    pub start: usize,
    /// End byte (exclusive).
    pub end: usize,
}

/// One labelled text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The text.
    pub text: String,
    /// Its labelled spans.
    pub spans: Vec<Span>,
}

#[derive(Deserialize)]
struct RawRecord {
    full_text: String,
    #[serde(default)]
    spans: Vec<RawSpan>,
}

#[derive(Deserialize)]
struct RawSpan {
    entity_type: String,
    start_position: usize,
    end_position: usize,
}

/// Finds the dataset file for `name` under `data_root` (`pii/NAME/*.json`).
pub fn dataset_path(data_root: &Path, name: &str) -> Result<PathBuf, Error> {
    if name.contains('/') || name.contains("..") {
        return Err(Error::Format {
            path: name.to_owned(),
            reason: "dataset names are plain directory names".into(),
        });
    }
    let dir = data_root.join("pii").join(name);
    let entries = std::fs::read_dir(&dir).map_err(|source| Error::Read {
        path: dir.display().to_string(),
        source,
    })?;
    let mut jsons: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    jsons.sort();
    jsons.into_iter().next().ok_or_else(|| Error::Format {
        path: dir.display().to_string(),
        reason: "no .json file in the dataset directory".into(),
    })
}

/// Loads a presidio-research style JSON dataset.
pub fn load(path: &Path) -> Result<Vec<Sample>, Error> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: p.clone(),
        source,
    })?;
    parse(&bytes).map_err(|reason| Error::Format { path: p, reason })
}

/// Parses presidio-research JSON; character offsets become byte offsets.
pub fn parse(bytes: &[u8]) -> Result<Vec<Sample>, String> {
    let raw: Vec<RawRecord> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let mut byte_at: Vec<usize> = r.full_text.char_indices().map(|(b, _)| b).collect();
        byte_at.push(r.full_text.len());
        let mut spans = Vec::with_capacity(r.spans.len());
        for s in r.spans {
            let (Some(&start), Some(&end)) =
                (byte_at.get(s.start_position), byte_at.get(s.end_position))
            else {
                return Err(format!("record {i}: span offsets out of range"));
            };
            if start >= end {
                continue;
            }
            spans.push(Span {
                label: s.entity_type,
                start,
                end,
            });
        }
        out.push(Sample {
            text: r.full_text,
            spans,
        });
    }
    Ok(out)
}

/// Counts and scores for one kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Row {
    /// Our kind.
    pub kind: String,
    /// Dataset labels mapped to it.
    pub labels: Vec<String>,
    /// Gold spans.
    pub gold: usize,
    /// Gold spans overlapped by a finding of this kind.
    pub found: usize,
    /// Findings of this kind.
    pub predicted: usize,
    /// Findings of this kind overlapping a gold span of this kind (or a compatible label).
    pub correct: usize,
    /// correct / predicted.
    pub precision: f64,
    /// found / gold.
    pub recall: f64,
    /// Harmonic mean.
    pub f1: f64,
}

/// The evaluation result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Dataset name.
    pub dataset: String,
    /// Number of texts.
    pub records: usize,
    /// Total bytes scanned.
    pub bytes: usize,
    /// Rows for kinds with gold labels, then kinds only predicted.
    pub rows: Vec<Row>,
    /// Micro-averaged over the mapped kinds.
    pub micro: Row,
    /// Gold spans of mapped labels overlapped by a finding of any kind.
    pub any_kind_recall: f64,
    /// Labels not covered by any kind, with their span counts.
    pub not_covered: BTreeMap<String, usize>,
    /// Seconds of the fastest timed pass over the set (single thread, one
    /// scanner).
    pub scan_seconds: f64,
    /// How many passes were timed (see [`TIMED_PASSES`]).
    pub timed_passes: usize,
    /// Texts per second.
    pub texts_per_second: f64,
    /// Megabytes (10^6 bytes) per second.
    pub mb_per_second: f64,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn f1(p: f64, r: f64) -> f64 {
    if p + r == 0.0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

fn mapped(label: &str) -> Option<Kind> {
    LABEL_MAP.iter().find(|(l, _)| *l == label).map(|(_, k)| *k)
}

fn compatible(label: &str, kind: Kind) -> bool {
    mapped(label) == Some(kind) || COMPATIBLE.iter().any(|(l, k)| *l == label && *k == kind)
}

/// Most timed passes over a set after the warm-up; the fastest gives the
/// speed. A pass over presidio-research-synth takes about 10 ms, and single
/// passes differed by up to 13 % from run to run; on a shared machine the
/// minimum is the figure that repeats.
pub const TIMED_PASSES: usize = 20;

/// Timing stops after the pass that brings the timed total to this many
/// seconds, so a large set is not scanned twenty times.
const TIMING_BUDGET_SECONDS: f64 = 1.0;

/// Scores the default scanner on `samples`.
pub fn evaluate(dataset: &str, samples: &[Sample]) -> Result<Report, Error> {
    let scanner = Scanner::new(Config::default())?;
    // One full warm-up pass: the regex engine builds its lazy DFA states on
    // first use, and a small set would otherwise time mostly that.
    for s in samples {
        let _ = scanner.scan(&s.text);
    }
    let mut secs = f64::INFINITY;
    let mut all = Vec::new();
    let (mut passes, mut timed) = (0, 0.0);
    while passes < TIMED_PASSES && timed < TIMING_BUDGET_SECONDS {
        let t0 = Instant::now();
        let pass: Vec<_> = samples.iter().map(|s| scanner.scan(&s.text)).collect();
        let took = t0.elapsed().as_secs_f64();
        secs = secs.min(took);
        timed += took;
        passes += 1;
        all = pass;
    }
    let bytes: usize = samples.iter().map(|s| s.text.len()).sum();

    let mut rows: BTreeMap<Kind, Row> = BTreeMap::new();
    for (label, kind) in LABEL_MAP {
        let row = rows.entry(*kind).or_insert_with(|| Row {
            kind: kind.as_str().to_owned(),
            ..Row::default()
        });
        row.labels.push((*label).to_owned());
    }
    let mut not_covered: BTreeMap<String, usize> = BTreeMap::new();
    let (mut gold_any, mut found_any) = (0usize, 0usize);
    for (sample, findings) in samples.iter().zip(&all) {
        for g in &sample.spans {
            match mapped(&g.label) {
                Some(kind) => {
                    let row = rows.entry(kind).or_default();
                    row.gold += 1;
                    gold_any += 1;
                    let overl = |f: &&palisade_detect::Finding| f.start < g.end && g.start < f.end;
                    if findings.iter().filter(overl).any(|f| f.kind == kind) {
                        row.found += 1;
                    }
                    if findings.iter().any(|f| overl(&f)) {
                        found_any += 1;
                    }
                }
                None => *not_covered.entry(g.label.clone()).or_insert(0) += 1,
            }
        }
        for f in findings {
            let row = rows.entry(f.kind).or_insert_with(|| Row {
                kind: f.kind.as_str().to_owned(),
                ..Row::default()
            });
            row.predicted += 1;
            if sample
                .spans
                .iter()
                .any(|g| f.start < g.end && g.start < f.end && compatible(&g.label, f.kind))
            {
                row.correct += 1;
            }
        }
    }
    let mut micro = Row {
        kind: "micro (mapped kinds)".into(),
        ..Row::default()
    };
    let mut out_rows = Vec::new();
    for (kind, mut row) in rows {
        row.precision = ratio(row.correct, row.predicted);
        row.recall = ratio(row.found, row.gold);
        row.f1 = f1(row.precision, row.recall);
        if LABEL_MAP.iter().any(|(_, k)| *k == kind) {
            micro.gold += row.gold;
            micro.found += row.found;
            micro.predicted += row.predicted;
            micro.correct += row.correct;
        }
        out_rows.push(row);
    }
    out_rows.sort_by(|a, b| b.gold.cmp(&a.gold).then(a.kind.cmp(&b.kind)));
    micro.precision = ratio(micro.correct, micro.predicted);
    micro.recall = ratio(micro.found, micro.gold);
    micro.f1 = f1(micro.precision, micro.recall);
    Ok(Report {
        dataset: dataset.to_owned(),
        records: samples.len(),
        bytes,
        rows: out_rows,
        micro,
        any_kind_recall: ratio(found_any, gold_any),
        not_covered,
        scan_seconds: secs,
        timed_passes: passes,
        texts_per_second: if secs > 0.0 {
            samples.len() as f64 / secs
        } else {
            0.0
        },
        mb_per_second: if secs > 0.0 {
            bytes as f64 / 1e6 / secs
        } else {
            0.0
        },
    })
}

/// Marker lines delimiting the generated table inside EVALUATION.md.
pub const BEGIN_MARK: &str = "<!-- palisade eval detect: begin (generated, do not edit) -->";
/// End marker.
pub const END_MARK: &str = "<!-- palisade eval detect: end -->";
/// Heading of the section this crate owns in EVALUATION.md.
pub const SECTION: &str = "## Detection engine";

impl Report {
    /// The generated Markdown block (between [`BEGIN_MARK`] and [`END_MARK`]).
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        s.push_str(BEGIN_MARK);
        s.push('\n');
        s.push_str(&format!(
            "\nDataset `{}`: {} texts, {} bytes. Command: `palisade eval detect --dataset {}`.\n\n",
            self.dataset, self.records, self.bytes, self.dataset
        ));
        s.push_str("| kind | dataset labels | gold | found | predicted | correct | precision | recall | F1 |\n");
        s.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in self.rows.iter().chain(std::iter::once(&self.micro)) {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} |\n",
                r.kind,
                if r.labels.is_empty() {
                    "—".to_owned()
                } else {
                    r.labels.join(", ")
                },
                r.gold,
                r.found,
                r.predicted,
                r.correct,
                r.precision,
                r.recall,
                r.f1
            ));
        }
        s.push_str(&format!(
            "\nAny-kind recall (a mapped gold span overlapped by some finding, what matters for redaction): {:.3}.\n",
            self.any_kind_recall
        ));
        if !self.not_covered.is_empty() {
            let list: Vec<String> = self
                .not_covered
                .iter()
                .map(|(l, n)| format!("{l} {n}"))
                .collect();
            s.push_str(&format!(
                "Labels with no palisade kind (not scored): {}.\n",
                list.join(", ")
            ));
        }
        s.push_str(&format!(
            "Speed on this set: {:.0} texts/s, {:.2} MB/s (one thread, fastest of {} passes after a warm-up pass; release build when run as documented).\n",
            self.texts_per_second, self.mb_per_second, self.timed_passes
        ));
        s.push('\n');
        s.push_str(END_MARK);
        s.push('\n');
        s
    }
}

/// Puts `block` into `doc`: replaces an existing generated block, else
/// appends it to the `## Detection engine` section (creating the section).
pub fn update_markdown(doc: &str, block: &str) -> String {
    if let Some(done) = crate::replace_marked(doc, BEGIN_MARK, END_MARK, block) {
        return done;
    }
    let section_intro = "\nMeasured by `palisade eval detect`; scoring rules and the label mapping are in \
`crates/palisade-eval/src/detect.rs` and `docs/detection.md`.\n\n";
    match doc.find(SECTION) {
        Some(i) => {
            let line_end = doc[i..].find('\n').map_or(doc.len(), |j| i + j + 1);
            let next = doc[line_end..]
                .find("\n## ")
                .map_or(doc.len(), |j| line_end + j + 1);
            let mut out = doc[..next].to_owned();
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push('\n');
            out.push_str(block);
            out.push_str(&doc[next..]);
            out
        }
        None => {
            let mut out = doc.to_owned();
            if out.is_empty() {
                out.push_str("# Evaluation\n");
            }
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push('\n');
            out.push_str(SECTION);
            out.push_str(" — personal data and secrets\n");
            out.push_str(section_intro);
            out.push_str(block);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DATA: &str = r#"[
      {"full_text": "Call Jane Smith at 212-555-0187 or jane@example.org", "spans": [
        {"entity_type": "PERSON", "entity_value": "Jane Smith", "start_position": 5, "end_position": 15},
        {"entity_type": "PHONE_NUMBER", "entity_value": "212-555-0187", "start_position": 19, "end_position": 31},
        {"entity_type": "EMAIL_ADDRESS", "entity_value": "jane@example.org", "start_position": 35, "end_position": 51}]},
      {"full_text": "Née Zoë paid with 4111111111111111", "spans": [
        {"entity_type": "CREDIT_CARD", "entity_value": "4111111111111111", "start_position": 18, "end_position": 34},
        {"entity_type": "NRP", "entity_value": "x", "start_position": 0, "end_position": 3}]},
      {"full_text": "nothing here", "spans": []}
    ]"#;

    #[test]
    fn char_offsets_become_byte_offsets() {
        let s = parse(DATA.as_bytes()).unwrap();
        let card = &s[1].spans[0];
        assert_eq!(&s[1].text[card.start..card.end], "4111111111111111");
    }

    #[test]
    fn scores_a_small_set() {
        let s = parse(DATA.as_bytes()).unwrap();
        let r = evaluate("tiny", &s).unwrap();
        let get = |k: &str| r.rows.iter().find(|x| x.kind == k).unwrap();
        assert_eq!(get("email").found, 1);
        assert_eq!(get("credit_card").found, 1);
        assert_eq!(get("phone").found, 1);
        assert_eq!(get("person").found, 1);
        assert!(r.micro.recall > 0.99);
        assert_eq!(r.not_covered.get("NRP"), Some(&1));
        // The speed comes from a timed pass (the fastest), never from none.
        assert!(r.scan_seconds.is_finite() && r.scan_seconds > 0.0);
        assert!(r.texts_per_second.is_finite() && r.texts_per_second > 0.0);
        // A set this small is timed the full number of passes.
        assert_eq!(r.timed_passes, TIMED_PASSES);
    }

    #[test]
    fn markdown_block_is_replaced_in_place() {
        let block1 = format!("{BEGIN_MARK}\nA\n{END_MARK}\n");
        let block2 = format!("{BEGIN_MARK}\nB\n{END_MARK}\n");
        let doc = update_markdown("# Evaluation\n\n## Other\ntext\n", &block1);
        assert!(doc.contains("## Detection engine") && doc.contains("\nA\n"));
        let doc2 = update_markdown(&doc, &block2);
        assert!(doc2.contains("\nB\n") && !doc2.contains("\nA\n") && doc2.contains("## Other"));
        assert_eq!(update_markdown(&doc2, &block2), doc2);
    }
}
