//! The one shape every detector reports: [`Finding`], its [`Kind`] and the
//! [`Severity`] policy derived from the kind.
//!
//! The JSON form is fixed by DESIGN.md:
//! `{"kind","start","end","score","detector","reason"}` with `kind` in
//! snake_case and `start`/`end` byte offsets into the scanned text.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Error;

/// What a finding is. Serialises in snake_case (`credit_card`, `hkid`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Kind {
    /// An e-mail address.
    Email,
    /// A telephone number (E.164 or a national format).
    Phone,
    /// A payment card number that passed Luhn and an issuer range.
    CreditCard,
    /// An IBAN that passed the ISO 13616 mod-97 check.
    Iban,
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// A MAC (EUI-48) address.
    MacAddress,
    /// A Hong Kong Identity Card number with a valid check digit.
    Hkid,
    /// A Macau resident identity card number.
    MacauId,
    /// A Taiwan national identification number with a valid checksum.
    TaiwanId,
    /// A mainland China resident identity number (ISO 7064 MOD 11-2).
    ChinaId,
    /// A Singapore NRIC or FIN with a valid check letter.
    SgNric,
    /// A US Social Security Number.
    UsSsn,
    /// A US Individual Taxpayer Identification Number.
    UsItin,
    /// A UK National Insurance number.
    UkNino,
    /// A UK NHS number (mod 11).
    UkNhs,
    /// A passport number (only reported next to a passport keyword).
    Passport,
    /// A date of birth (only reported next to a birth keyword).
    DateOfBirth,
    /// A bank account number (only reported next to an account keyword).
    BankAccount,
    /// A cryptocurrency wallet address (Bitcoin, Ethereum).
    CryptoWallet,
    /// A person's name.
    Person,
    /// A street address.
    Address,
    /// A credential: API key, token, password, private key, …
    Secret,
    /// An attempt to override the model's instructions (issue 4 classifiers).
    PromptInjection,
    /// Abusive or toxic language (issue 4 classifiers).
    Toxicity,
    /// Invisible characters, tag-block text, bidi overrides, homoglyph words.
    UnicodeSmuggling,
    /// A per-request canary string seen in text it must not reach.
    CanaryLeak,
}

impl Kind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [Kind] = &[
        Kind::Email,
        Kind::Phone,
        Kind::CreditCard,
        Kind::Iban,
        Kind::IpAddress,
        Kind::MacAddress,
        Kind::Hkid,
        Kind::MacauId,
        Kind::TaiwanId,
        Kind::ChinaId,
        Kind::SgNric,
        Kind::UsSsn,
        Kind::UsItin,
        Kind::UkNino,
        Kind::UkNhs,
        Kind::Passport,
        Kind::DateOfBirth,
        Kind::BankAccount,
        Kind::CryptoWallet,
        Kind::Person,
        Kind::Address,
        Kind::Secret,
        Kind::PromptInjection,
        Kind::Toxicity,
        Kind::UnicodeSmuggling,
        Kind::CanaryLeak,
    ];

    /// The snake_case name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::CreditCard => "credit_card",
            Kind::Iban => "iban",
            Kind::IpAddress => "ip_address",
            Kind::MacAddress => "mac_address",
            Kind::Hkid => "hkid",
            Kind::MacauId => "macau_id",
            Kind::TaiwanId => "taiwan_id",
            Kind::ChinaId => "china_id",
            Kind::SgNric => "sg_nric",
            Kind::UsSsn => "us_ssn",
            Kind::UsItin => "us_itin",
            Kind::UkNino => "uk_nino",
            Kind::UkNhs => "uk_nhs",
            Kind::Passport => "passport",
            Kind::DateOfBirth => "date_of_birth",
            Kind::BankAccount => "bank_account",
            Kind::CryptoWallet => "crypto_wallet",
            Kind::Person => "person",
            Kind::Address => "address",
            Kind::Secret => "secret",
            Kind::PromptInjection => "prompt_injection",
            Kind::Toxicity => "toxicity",
            Kind::UnicodeSmuggling => "unicode_smuggling",
            Kind::CanaryLeak => "canary_leak",
        }
    }

    /// Upper-case label used in typed placeholders such as `<EMAIL_1>`.
    pub fn label(self) -> String {
        self.as_str().to_ascii_uppercase()
    }

    /// True for the kinds the trained classifiers report (`prompt_injection`,
    /// `toxicity`): verdicts about a window of text, not values to redact.
    /// They never take part in overlap resolution and operators leave them
    /// alone, so a window verdict cannot hide an e-mail address inside it.
    pub fn is_verdict(self) -> bool {
        matches!(self, Kind::PromptInjection | Kind::Toxicity)
    }

    /// How serious a finding of this kind is, for `--fail-on` style policies.
    pub fn severity(self) -> Severity {
        match self {
            Kind::Secret | Kind::CanaryLeak => Severity::Critical,
            Kind::CreditCard
            | Kind::Iban
            | Kind::Hkid
            | Kind::MacauId
            | Kind::TaiwanId
            | Kind::ChinaId
            | Kind::SgNric
            | Kind::UsSsn
            | Kind::UsItin
            | Kind::UkNino
            | Kind::UkNhs
            | Kind::Passport
            | Kind::BankAccount
            | Kind::PromptInjection
            | Kind::UnicodeSmuggling => Severity::High,
            Kind::Email
            | Kind::Phone
            | Kind::Person
            | Kind::Address
            | Kind::DateOfBirth
            | Kind::CryptoWallet
            | Kind::Toxicity => Severity::Medium,
            Kind::IpAddress | Kind::MacAddress => Severity::Low,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::UnknownName {
                what: "kind",
                name: s.chars().take(40).collect(),
            })
    }
}

/// Ordered severity levels; `Critical > High > Medium > Low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Network identifiers and similar weak personal data.
    Low,
    /// Contact data, names, addresses.
    Medium,
    /// Government and financial identifiers, attacks.
    High,
    /// Credentials and canary leaks.
    Critical,
}

impl Severity {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(Error::UnknownName {
                what: "severity",
                name: s.chars().take(40).collect(),
            }),
        }
    }
}

/// One detected span. `start..end` are byte offsets into the scanned `&str`
/// and always lie on `char` boundaries.
///
/// `reason` names the rule, the validator that passed and the context words
/// seen; it never contains the matched value itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// Confidence in 0..=1.
    pub score: f32,
    /// Name of the rule or detector that produced it (e.g. `hkid`, `github_pat`).
    pub detector: Cow<'static, str>,
    /// Why: validator passed, context words seen. Never the value.
    pub reason: Cow<'static, str>,
}

impl Finding {
    /// Length of the span in bytes.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// True when the span is empty (never produced by the scanner).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The severity of this finding's kind.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }

    /// True when the two spans share at least one byte.
    pub fn overlaps(&self, other: &Finding) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Byte ranges already claimed, for resolving overlaps in priority order.
///
/// A span claimed later only gets the bytes nobody claimed before it, so
/// when two detectors disagree about where a value ends, the lower-ranked
/// one is trimmed rather than dropped. Dropping it would leave its
/// non-overlapping part (the first half of an address that runs into a
/// card number) in the text unredacted.
#[derive(Debug, Default, Clone)]
pub struct SpanClaims {
    /// Disjoint claimed ranges, start → end.
    taken: BTreeMap<usize, usize>,
}

impl SpanClaims {
    /// No bytes claimed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Claims the still-free parts of `start..end` and returns them in
    /// order (nothing when the span is empty or already fully claimed).
    pub fn claim(&mut self, start: usize, end: usize) -> Vec<(usize, usize)> {
        let mut free = Vec::new();
        self.claim_into(start, end, &mut free);
        free
    }

    /// [`SpanClaims::claim`] that writes the free parts into `free`
    /// (cleared first), so a caller resolving many spans reuses one buffer.
    pub fn claim_into(&mut self, start: usize, end: usize, free: &mut Vec<(usize, usize)>) {
        free.clear();
        if start >= end {
            return;
        }
        // Claimed ranges that intersect, in order. They are disjoint and
        // sorted by start, so their ends are sorted too: the ones that
        // start before `end` and still reach `start`, walked back from the
        // last.
        let mut at = start;
        let first_blocking = self
            .taken
            .range(..end)
            .rev()
            .take_while(|(_, e)| **e > start)
            .last()
            .map(|(s, _)| *s);
        if let Some(first) = first_blocking {
            for (&s, &e) in self.taken.range(first..end) {
                if s > at {
                    free.push((at, s));
                }
                at = at.max(e);
            }
        }
        if at < end {
            free.push((at, end));
        }
        for &(s, e) in free.iter() {
            self.taken.insert(s, e);
        }
    }
}

/// Narrows `start..end` of `text` to its first and last letter or digit;
/// `None` when it holds neither (a trimmed remainder that is only a space
/// or a comma is not worth a finding). A span that does not fit `text` is
/// returned unchanged.
pub fn trim_to_content(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let Some(piece) = text.get(start..end) else {
        return Some((start, end));
    };
    let first = piece.find(char::is_alphanumeric)?;
    let last = piece
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_alphanumeric())
        .map_or(piece.len(), |(i, c)| i + c.len_utf8());
    Some((start + first, start + last))
}

/// The common cases, resolved without claims: no two non-empty,
/// non-verdict findings share a byte, except findings nested inside one
/// that beats them outright (dropped: they would lose every byte). The
/// survivors are kept whole and only the order matters: by start and end,
/// a verdict after a finding with the same span (as the general path
/// orders them). Returns `None` (leaving `findings` as it was, possibly
/// reordered) when some overlap needs resolving.
fn quick_resolve(findings: &mut Vec<Finding>) -> Option<Vec<Finding>> {
    findings.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then_with(|| a.end.cmp(&b.end))
            .then_with(|| a.kind.is_verdict().cmp(&b.kind.is_verdict()))
    });
    // Nested losers: the address tails inside an address are the common
    // case. Anything else that overlaps goes to the general path.
    let mut reach = 0;
    let mut holder: Option<usize> = None;
    let mut beaten: Vec<usize> = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        if f.kind.is_verdict() || f.start >= f.end {
            continue;
        }
        if f.start < reach {
            let c = &findings[holder?];
            let wins = c.score > f.score || (c.score == f.score && c.len() > f.len());
            if f.end <= c.end && wins {
                beaten.push(i);
                continue;
            }
            return None;
        }
        reach = f.end;
        holder = Some(i);
    }
    // Emptied, a beaten finding goes with the empty ones below.
    for i in beaten {
        findings[i].end = findings[i].start;
    }
    findings.retain(|f| f.kind.is_verdict() || f.start < f.end);
    Some(std::mem::take(findings))
}

/// Resolves overlapping findings in `text` deterministically: the higher
/// score wins, then the longer span, then the earlier start, then the
/// smaller kind. A finding that loses part of its span keeps the rest,
/// trimmed to letters and digits ([`trim_to_content`]) and split in two
/// when the winner sits in its middle; one that loses all of it is
/// dropped, as are empty findings. The result is sorted by start offset
/// and has no overlaps, except that verdict findings ([`Kind::is_verdict`])
/// are kept as they are and may overlap anything.
pub fn resolve_overlaps(text: &str, mut findings: Vec<Finding>) -> Vec<Finding> {
    if let Some(sorted) = quick_resolve(&mut findings) {
        return sorted;
    }
    // Decide on indices, then move each finding once: findings are large,
    // and sorting them by value cost more than the decisions themselves.
    let mut order: Vec<usize> = (0..findings.len())
        .filter(|&i| !findings[i].kind.is_verdict() && findings[i].start < findings[i].end)
        .collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&findings[a], &findings[b]);
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.len().cmp(&a.len()))
            .then_with(|| a.start.cmp(&b.start))
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.detector.cmp(&b.detector))
    });
    /// What happens to one finding.
    #[derive(Clone, Copy)]
    enum Fate {
        Drop,
        Keep,
        /// Replaced by the trimmed pieces in `pieces[from..to]`.
        Trim(usize, usize),
    }
    let mut fate: Vec<Fate> = findings
        .iter()
        .map(|f| {
            if f.kind.is_verdict() {
                Fate::Keep
            } else {
                Fate::Drop
            }
        })
        .collect();
    let mut claims = SpanClaims::new();
    let mut free = Vec::new();
    let mut pieces: Vec<(usize, usize)> = Vec::new();
    for &i in &order {
        let f = &findings[i];
        claims.claim_into(f.start, f.end, &mut free);
        fate[i] = match free.as_slice() {
            [] => Fate::Drop,
            [(s, e)] if (*s, *e) == (f.start, f.end) => Fate::Keep,
            _ => {
                let from = pieces.len();
                pieces.extend(
                    free.iter()
                        .filter_map(|&(s, e)| trim_to_content(text, s, e)),
                );
                Fate::Trim(from, pieces.len())
            }
        };
    }
    // Emitted in priority order with the verdicts last, so findings with
    // equal spans keep the order the stable sort below always gave them.
    let mut slots: Vec<Option<Finding>> = findings.into_iter().map(Some).collect();
    let verdicts =
        (0..slots.len()).filter(|&i| slots[i].as_ref().is_some_and(|f| f.kind.is_verdict()));
    let emit: Vec<usize> = order.iter().copied().chain(verdicts).collect();
    let mut kept: Vec<Finding> = Vec::with_capacity(emit.len());
    for i in emit {
        let Some(f) = slots[i].take() else { continue };
        match fate[i] {
            Fate::Drop => {}
            Fate::Keep => kept.push(f),
            Fate::Trim(from, to) => {
                for &(s, e) in &pieces[from..to] {
                    kept.push(Finding {
                        start: s,
                        end: e,
                        reason: Cow::Owned(format!(
                            "{}; trimmed where a stronger finding overlaps",
                            f.reason
                        )),
                        ..f.clone()
                    });
                }
            }
        }
    }
    kept.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.end.cmp(&b.end)));
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: Kind, start: usize, end: usize, score: f32) -> Finding {
        Finding {
            kind,
            start,
            end,
            score,
            detector: Cow::Borrowed("t"),
            reason: Cow::Borrowed(""),
        }
    }

    #[test]
    fn json_shape_matches_design() {
        let v = serde_json::to_value(f(Kind::CreditCard, 1, 5, 0.9)).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 6);
        for k in ["kind", "start", "end", "score", "detector", "reason"] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["kind"], "credit_card");
    }

    #[test]
    fn kind_names_round_trip() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), *k);
            let json = serde_json::to_string(k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
    }

    #[test]
    fn verdicts_follow_findings_with_the_same_span() {
        let text = "x".repeat(64);
        let mut verdict = f(Kind::PromptInjection, 0, 10, 0.9);
        verdict.reason = "v".into();
        let spans = |v: &[Finding]| -> Vec<(Kind, usize, usize)> {
            v.iter().map(|x| (x.kind, x.start, x.end)).collect()
        };
        // Overlap-free input (fast path) and overlapping input (general
        // path) order a verdict the same way.
        let quick = resolve_overlaps(&text, vec![verdict.clone(), f(Kind::Email, 0, 10, 0.5)]);
        assert_eq!(
            spans(&quick),
            [(Kind::Email, 0, 10), (Kind::PromptInjection, 0, 10)]
        );
        let general = resolve_overlaps(
            &text,
            vec![
                verdict,
                f(Kind::Email, 0, 10, 0.5),
                f(Kind::Phone, 5, 12, 0.4),
            ],
        );
        assert_eq!(
            spans(&general),
            [
                (Kind::Email, 0, 10),
                (Kind::PromptInjection, 0, 10),
                (Kind::Phone, 10, 12)
            ]
        );
    }

    #[test]
    fn overlap_resolution_prefers_score_then_length() {
        let text = "x".repeat(64);
        let out = resolve_overlaps(
            &text,
            vec![
                f(Kind::Phone, 0, 8, 0.6),
                f(Kind::CreditCard, 0, 16, 0.9),
                f(Kind::Email, 22, 30, 0.5),
                f(Kind::Person, 22, 40, 0.5),
            ],
        );
        assert_eq!(out.len(), 1 + 1);
        assert_eq!(out[0].kind, Kind::CreditCard);
        assert_eq!(out[1].kind, Kind::Person);
    }

    #[test]
    fn a_partly_covered_finding_keeps_its_uncovered_part() {
        // An address whose tail ran into a card number: the card wins, the
        // address keeps everything before it, without the joining space.
        let text = "Flat B, 12/F, Kowloon 4111 1111 1111 1111 ok";
        let card = text.find("4111").unwrap();
        let out = resolve_overlaps(
            text,
            vec![
                f(Kind::Address, 0, card + 4, 0.8),
                f(Kind::CreditCard, card, card + 19, 0.9),
            ],
        );
        assert_eq!(out.len(), 2);
        assert_eq!(&text[out[0].start..out[0].end], "Flat B, 12/F, Kowloon");
        assert_eq!(out[0].kind, Kind::Address);
        assert!(out[0].reason.contains("trimmed"));
        assert_eq!(&text[out[1].start..out[1].end], "4111 1111 1111 1111");
    }

    #[test]
    fn a_winner_inside_a_loser_splits_it() {
        let text = "aaaa bbbb cccc";
        let out = resolve_overlaps(
            text,
            vec![f(Kind::Person, 0, 14, 0.5), f(Kind::Email, 5, 9, 0.9)],
        );
        let spans: Vec<&str> = out.iter().map(|f| &text[f.start..f.end]).collect();
        assert_eq!(spans, ["aaaa", "bbbb", "cccc"]);
        assert_eq!(out[1].kind, Kind::Email);
    }

    #[test]
    fn remainders_without_letters_or_digits_are_dropped() {
        let text = "abcd, efgh";
        let out = resolve_overlaps(
            text,
            vec![f(Kind::Person, 0, 6, 0.5), f(Kind::Email, 0, 4, 0.9)],
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, Kind::Email);
    }

    #[test]
    fn claims_return_only_free_bytes() {
        let mut c = SpanClaims::new();
        assert_eq!(c.claim(10, 20), [(10, 20)]);
        assert_eq!(c.claim(30, 40), [(30, 40)]);
        assert_eq!(c.claim(5, 45), [(5, 10), (20, 30), (40, 45)]);
        assert!(c.claim(0, 50).iter().all(|&(s, e)| e <= 5 || s >= 45));
        assert!(c.claim(12, 18).is_empty());
        assert!(c.claim(7, 7).is_empty());
    }
}
