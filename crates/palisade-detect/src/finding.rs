//! The one shape every detector reports: [`Finding`], its [`Kind`] and the
//! [`Severity`] policy derived from the kind.
//!
//! The JSON form is fixed by DESIGN.md:
//! `{"kind","start","end","score","detector","reason"}` with `kind` in
//! snake_case and `start`/`end` byte offsets into the scanned text.

use std::borrow::Cow;
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
    pub reason: String,
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

/// Resolves overlapping findings deterministically: the higher score wins,
/// then the longer span, then the earlier start, then the smaller kind.
/// The result is sorted by start offset and has no overlaps, except that
/// verdict findings ([`Kind::is_verdict`]) are kept as they are and may
/// overlap anything.
pub fn resolve_overlaps(findings: Vec<Finding>) -> Vec<Finding> {
    if findings.len() < 2 {
        return findings;
    }
    let (verdicts, findings): (Vec<Finding>, Vec<Finding>) =
        findings.into_iter().partition(|f| f.kind.is_verdict());
    // Sort indices, not findings (a finding is ten words long).
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&findings[a], &findings[b]);
        b.score
            .total_cmp(&a.score)
            .then(b.len().cmp(&a.len()))
            .then(a.start.cmp(&b.start))
            .then(a.kind.cmp(&b.kind))
            .then(a.detector.cmp(&b.detector))
    });
    // Greedy in that order: a finding is kept unless it shares a byte with
    // one kept before it. Offsets are compressed to the ranks of the span
    // ends that occur, so "taken" is a bitmap of at most 2n positions
    // whatever the offsets are (an empty span counts as one byte).
    let span = |f: &Finding| (f.start, f.end.max(f.start.saturating_add(1)));
    let mut points: Vec<usize> = findings
        .iter()
        .flat_map(|f| {
            let (s, e) = span(f);
            [s, e]
        })
        .collect();
    points.sort_unstable();
    points.dedup();
    let rank = |x: usize| points.partition_point(|&p| p < x);
    let mut taken = vec![0u64; points.len() / 64 + 1];
    let mut keep = vec![false; findings.len()];
    for i in order {
        let (s, e) = span(&findings[i]);
        let (s, e) = (rank(s), rank(e));
        if (s..e).all(|b| taken[b / 64] & (1 << (b % 64)) == 0) {
            for b in s..e {
                taken[b / 64] |= 1 << (b % 64);
            }
            keep[i] = true;
        }
    }
    let mut kept: Vec<Finding> = findings
        .into_iter()
        .zip(keep)
        .filter_map(|(f, k)| k.then_some(f))
        .collect();
    kept.extend(verdicts);
    kept.sort_by(|a, b| a.start.cmp(&b.start).then(a.end.cmp(&b.end)));
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
            reason: String::new(),
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
    fn overlap_resolution_prefers_score_then_length() {
        let out = resolve_overlaps(vec![
            f(Kind::Phone, 0, 8, 0.6),
            f(Kind::CreditCard, 0, 16, 0.9),
            f(Kind::Email, 20, 30, 0.5),
            f(Kind::Person, 22, 40, 0.5),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].kind, Kind::CreditCard);
        assert_eq!(out[1].kind, Kind::Person);
    }
}
