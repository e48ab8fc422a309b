//! Guardrail policies as written in `palisade.toml` (`[policies.NAME]`) and
//! the two built-in ones, `standard` (the secure default every route gets)
//! and `off` (no guardrails: a route must name it to opt out).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use palisade_detect::Kind;
use serde::Deserialize;

use crate::config::{Problem, deserialize_section};
use crate::request::CHAT_ROLES;

/// Name of the policy every route uses unless it names another.
pub const STANDARD: &str = "standard";
/// Name of the built-in policy with no guardrails at all.
pub const OFF: &str = "off";

/// What a guardrail does when a detector fires above its threshold.
/// Ordered from mildest to strictest; when several rules fire, the strictest
/// decides the fate of the request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Let it through and do not record it as a finding of note.
    Allow,
    /// Let it through; record the verdict.
    Flag,
    /// Replace the matched text with a typed marker such as `[REDACTED_EMAIL]`.
    Redact,
    /// Replace with a placeholder such as `<EMAIL_1>` before the model sees
    /// it, and put the original back in the response (input stage only).
    Pseudonymize,
    /// Hold for a person. Until a review queue exists this stops the
    /// request like `block`, with the distinct code `policy_review_required`.
    Review,
    /// Stop: HTTP 451 for a request, an error event for a stream.
    Block,
}

impl Action {
    /// The name used in configuration, headers and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Redact => "redact",
            Action::Pseudonymize => "pseudonymize",
            Action::Review => "review",
            Action::Block => "block",
        }
    }

    /// True for the actions that stop the request or response.
    pub fn stops(self) -> bool {
        matches!(self, Action::Review | Action::Block)
    }

    /// True for the actions that rewrite text.
    pub fn rewrites(self) -> bool {
        matches!(self, Action::Redact | Action::Pseudonymize)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "allow" => Action::Allow,
            "flag" => Action::Flag,
            "redact" => Action::Redact,
            "pseudonymize" | "pseudonymise" => Action::Pseudonymize,
            "review" => Action::Review,
            "block" => Action::Block,
            _ => {
                return Err(format!(
                    "unknown action `{}`; expected one of block, review, pseudonymize, redact, flag, allow",
                    s.chars().take(40).collect::<String>()
                ));
            }
        })
    }
}

/// What happens when a detector cannot evaluate (input over the scan limit,
/// an operator failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Refuse the request (HTTP 503 `guardrail_unavailable`, or an error
    /// event in a stream).
    Closed,
    /// Let the text through unguarded and record the failure.
    Open,
}

/// Where a guardrail rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The client's request, before it goes upstream.
    Input,
    /// The model's answer, before it reaches the client.
    Output,
}

impl Stage {
    /// `input` or `output`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Input => "input",
            Stage::Output => "output",
        }
    }
}

/// One detector rule of a stage: these kinds, this action above this score.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorRule {
    /// The finding kinds the rule covers (groups already expanded).
    pub kinds: Vec<Kind>,
    /// What to do when one fires.
    pub action: Action,
    /// Minimum finding score (0..1) for the rule to fire.
    pub threshold: f32,
    /// Behaviour when the detector cannot evaluate.
    pub on_error: FailMode,
}

/// How a custom rule matches text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// A regular expression (Rust `regex` syntax).
    Pattern(String),
    /// A topic deny-list: phrases matched case-insensitively on word boundaries.
    Phrases(Vec<String>),
}

/// A route-specific rule: a regex or a topic deny-list with its own action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRule {
    /// Name reported as the detector (`rule:NAME`).
    pub name: String,
    /// Stages the rule runs in.
    pub stages: Vec<Stage>,
    /// How it matches.
    pub matcher: Matcher,
    /// What to do on a match.
    pub action: Action,
}

/// A validated guardrail policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// Policy name (the key under `[policies]`).
    pub name: String,
    /// Evaluate and record verdicts without enforcing them.
    pub shadow: bool,
    /// Put a per-request canary token into the request's system prompt and
    /// treat its appearance in the answer as a `canary_leak`.
    pub canary: bool,
    /// Largest total of text scanned per request or response; more counts
    /// as a detector failure (see [`FailMode`]).
    pub max_scan_bytes: usize,
    /// Bytes of streamed text held back before release; `None` uses the
    /// detection engine's own bound, which guarantees that no detectable
    /// value is released before it can be seen whole.
    pub stream_hold_back: Option<usize>,
    /// How many input texts the policy remembers as clean, so that a text
    /// sent again (a system prompt, earlier turns of a chat) is not scanned
    /// again; 0 turns the memo off. See [`super::memo`].
    pub clean_memo_entries: usize,
    /// Chat roles whose messages are the operator's own instructions
    /// (`system` and `developer` by default): scanned by every input rule
    /// except `prompt_injection`. Telling a model what to be and do is what
    /// such messages are for, so the injection classifier flags ordinary
    /// ones ("You are a helpful assistant." scores 0.90), and an attack
    /// means untrusted text (a user's message, a tool's result, a
    /// document) overriding them. An empty list judges every role.
    pub trusted_roles: Vec<String>,
    /// Rules for the request.
    pub input: Vec<DetectorRule>,
    /// Rules for the response.
    pub output: Vec<DetectorRule>,
    /// Custom regex rules and topic deny-lists.
    pub custom: Vec<CustomRule>,
}

/// Most texts a policy's clean-text memo may hold, so a typo cannot
/// exhaust memory: at most 2^20 digests of 16 bytes in two hash sets, a few
/// tens of MB with the sets' own overhead.
pub const MAX_MEMO_ENTRIES: usize = 1 << 20;

/// Default per-request scan budget.
pub const DEFAULT_MAX_SCAN_BYTES: usize = 4 * 1024 * 1024;

/// The roles trusted unless a policy says otherwise: the operator's
/// instructions. Microsoft's Prompt Shields likewise look for attacks in
/// user input and in documents and tool results, not in the system message.
pub fn default_trusted_roles() -> Vec<String> {
    vec!["system".to_owned(), "developer".to_owned()]
}

/// Personal-data kinds, the `personal_data` group: every finding kind
/// except credentials and the text-level verdicts.
pub fn personal_data() -> Vec<Kind> {
    Kind::ALL
        .iter()
        .copied()
        .filter(|k| {
            !matches!(
                k,
                Kind::Secret
                    | Kind::PromptInjection
                    | Kind::Toxicity
                    | Kind::UnicodeSmuggling
                    | Kind::CanaryLeak
            )
        })
        .collect()
}

fn expand_detector(name: &str) -> Result<Vec<Kind>, String> {
    match name {
        "personal_data" | "pii" => Ok(personal_data()),
        "secrets" => Ok(vec![Kind::Secret]),
        other => other.parse::<Kind>().map(|k| vec![k]).map_err(|_| {
            format!(
                "unknown detector `{}`; use a finding kind (email, secret, prompt_injection, toxicity, unicode_smuggling, canary_leak, …) or a group (personal_data, secrets)",
                other.chars().take(40).collect::<String>()
            )
        }),
    }
}

impl PolicyConfig {
    /// The built-in secure default: input — prompt injection (in messages
    /// of untrusted roles) and secrets blocked, personal data
    /// pseudonymised, unicode smuggling flagged (toxicity is not scored on
    /// input: it costs as much again as the injection classifier and the
    /// answer is what reaches people); output — secrets and personal data
    /// redacted, a canary leak blocked, toxic content blocked above 0.97,
    /// unicode smuggling redacted.
    pub fn standard() -> PolicyConfig {
        let rule = |kinds: Vec<Kind>, action, threshold| DetectorRule {
            kinds,
            action,
            threshold,
            on_error: FailMode::Closed,
        };
        PolicyConfig {
            name: STANDARD.into(),
            shadow: false,
            canary: true,
            max_scan_bytes: DEFAULT_MAX_SCAN_BYTES,
            stream_hold_back: None,
            clean_memo_entries: super::memo::DEFAULT_MEMO_ENTRIES,
            trusted_roles: default_trusted_roles(),
            input: vec![
                // The classifiers report only above their calibrated
                // thresholds (injection 0.75, toxicity 0.971; EVALUATION.md).
                // A false block costs a user's request, so the gateway
                // blocks injections from 0.8 (bench/injection_threshold.py:
                // recall 0.43 -> 0.40, false positives 1.0 % -> 0 %).
                rule(vec![Kind::PromptInjection], Action::Block, 0.8),
                rule(vec![Kind::Secret], Action::Block, 0.5),
                rule(personal_data(), Action::Pseudonymize, 0.5),
                rule(vec![Kind::UnicodeSmuggling], Action::Flag, 0.5),
            ],
            output: vec![
                rule(vec![Kind::CanaryLeak], Action::Block, 0.5),
                rule(vec![Kind::Toxicity], Action::Block, 0.97),
                rule(vec![Kind::Secret], Action::Redact, 0.5),
                rule(personal_data(), Action::Redact, 0.5),
                rule(vec![Kind::UnicodeSmuggling], Action::Redact, 0.5),
            ],
            custom: Vec::new(),
        }
    }

    /// The built-in policy with no rules: guardrails off for the routes
    /// that name it explicitly.
    pub fn off() -> PolicyConfig {
        PolicyConfig {
            name: OFF.into(),
            shadow: false,
            canary: false,
            max_scan_bytes: DEFAULT_MAX_SCAN_BYTES,
            stream_hold_back: None,
            clean_memo_entries: 0,
            trusted_roles: default_trusted_roles(),
            input: Vec::new(),
            output: Vec::new(),
            custom: Vec::new(),
        }
    }
}

// ------------------------------------------------------------ raw (TOML)

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    shadow: bool,
    #[serde(default)]
    canary: Option<bool>,
    #[serde(default)]
    max_scan_bytes: Option<usize>,
    #[serde(default)]
    stream_hold_back: Option<usize>,
    #[serde(default)]
    clean_memo_entries: Option<usize>,
    #[serde(default)]
    trusted_roles: Option<Vec<String>>,
    #[serde(default)]
    input: Vec<toml::Value>,
    #[serde(default)]
    output: Vec<toml::Value>,
    #[serde(default)]
    rules: Vec<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDetectorRule {
    detectors: Vec<String>,
    action: String,
    #[serde(default)]
    threshold: Option<f64>,
    #[serde(default)]
    on_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCustomRule {
    name: String,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    phrases: Option<Vec<String>>,
    #[serde(default)]
    stage: Option<String>,
    action: String,
}

fn problem(problems: &mut Vec<Problem>, path: String, message: impl Into<String>) {
    problems.push(Problem {
        path,
        message: message.into(),
        line: None,
    });
}

/// Validates the `[policies]` table; built-ins are always present and
/// cannot be redefined.
pub(crate) fn validate_policies(
    value: Option<&toml::Value>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, PolicyConfig> {
    let mut out = BTreeMap::new();
    out.insert(STANDARD.to_owned(), PolicyConfig::standard());
    out.insert(OFF.to_owned(), PolicyConfig::off());
    let Some(value) = value else { return out };
    let Some(table) = value.as_table() else {
        problem(
            problems,
            "policies".into(),
            "`policies` must be a table of named policies (`[policies.NAME]`)",
        );
        return out;
    };
    for (name, value) in table {
        let path = format!("policies.{name}");
        if name == STANDARD || name == OFF {
            problem(
                problems,
                path,
                format!(
                    "`{name}` is a built-in policy and cannot be redefined; give yours another name"
                ),
            );
            continue;
        }
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            problem(
                problems,
                path,
                "policy names are 1–64 letters, digits, `-` or `_`",
            );
            continue;
        }
        let Some(raw) = deserialize_section::<RawPolicy>(value, &path, problems) else {
            continue;
        };
        let input = detector_rules(&raw.input, &format!("{path}.input"), Stage::Input, problems);
        let output = detector_rules(
            &raw.output,
            &format!("{path}.output"),
            Stage::Output,
            problems,
        );
        let mut custom = Vec::new();
        for (i, v) in raw.rules.iter().enumerate() {
            let rpath = format!("{path}.rules[{i}]");
            if let Some(r) = deserialize_section::<RawCustomRule>(v, &rpath, problems)
                && let Some(rule) = custom_rule(r, &rpath, problems)
            {
                custom.push(rule);
            }
        }
        if raw.max_scan_bytes == Some(0) {
            problem(
                problems,
                format!("{path}.max_scan_bytes"),
                "must be at least 1",
            );
        }
        if let Some(n) = raw.clean_memo_entries
            && n > MAX_MEMO_ENTRIES
        {
            problem(
                problems,
                format!("{path}.clean_memo_entries"),
                format!("must be at most {MAX_MEMO_ENTRIES}"),
            );
        }
        if let Some(h) = raw.stream_hold_back
            && h > 1024 * 1024
        {
            problem(
                problems,
                format!("{path}.stream_hold_back"),
                "must be at most 1048576 bytes",
            );
        }
        let trusted_roles = raw.trusted_roles.unwrap_or_else(default_trusted_roles);
        for role in &trusted_roles {
            if !CHAT_ROLES.contains(&role.as_str()) {
                problem(
                    problems,
                    format!("{path}.trusted_roles"),
                    format!(
                        "unknown role `{}`; use {}",
                        role.chars().take(40).collect::<String>(),
                        CHAT_ROLES.join(", ")
                    ),
                );
            }
        }
        out.insert(
            name.clone(),
            PolicyConfig {
                name: name.clone(),
                shadow: raw.shadow,
                canary: raw.canary.unwrap_or(false),
                max_scan_bytes: raw.max_scan_bytes.unwrap_or(DEFAULT_MAX_SCAN_BYTES),
                stream_hold_back: raw.stream_hold_back,
                clean_memo_entries: raw
                    .clean_memo_entries
                    .unwrap_or(super::memo::DEFAULT_MEMO_ENTRIES),
                trusted_roles,
                input,
                output,
                custom,
            },
        );
    }
    out
}

fn detector_rules(
    values: &[toml::Value],
    path: &str,
    stage: Stage,
    problems: &mut Vec<Problem>,
) -> Vec<DetectorRule> {
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let rpath = format!("{path}[{i}]");
        let Some(raw) = deserialize_section::<RawDetectorRule>(v, &rpath, problems) else {
            continue;
        };
        let mut kinds = Vec::new();
        if raw.detectors.is_empty() {
            problem(
                problems,
                format!("{rpath}.detectors"),
                "name at least one detector",
            );
        }
        for (j, d) in raw.detectors.iter().enumerate() {
            match expand_detector(d) {
                Ok(ks) => {
                    for k in ks {
                        if k == Kind::CanaryLeak && stage == Stage::Input {
                            problem(
                                problems,
                                format!("{rpath}.detectors[{j}]"),
                                "`canary_leak` is an output detector",
                            );
                        } else if !kinds.contains(&k) {
                            kinds.push(k);
                        }
                    }
                }
                Err(m) => problem(problems, format!("{rpath}.detectors[{j}]"), m),
            }
        }
        let action = match raw.action.parse::<Action>() {
            Ok(Action::Pseudonymize) if stage == Stage::Output => {
                problem(
                    problems,
                    format!("{rpath}.action"),
                    "`pseudonymize` applies to the input stage only (the answer is restored from it); use `redact` on output",
                );
                continue;
            }
            Ok(a) => a,
            Err(m) => {
                problem(problems, format!("{rpath}.action"), m);
                continue;
            }
        };
        let threshold = raw.threshold.unwrap_or(0.5);
        if !(0.0..=1.0).contains(&threshold) {
            problem(
                problems,
                format!("{rpath}.threshold"),
                "must be between 0 and 1",
            );
            continue;
        }
        let on_error = match raw.on_error.as_deref() {
            None | Some("closed") => FailMode::Closed,
            Some("open") => FailMode::Open,
            Some(_) => {
                problem(
                    problems,
                    format!("{rpath}.on_error"),
                    "must be `closed` or `open`",
                );
                continue;
            }
        };
        out.push(DetectorRule {
            kinds,
            action,
            #[allow(clippy::cast_possible_truncation)]
            threshold: threshold as f32,
            on_error,
        });
    }
    out
}

fn custom_rule(r: RawCustomRule, path: &str, problems: &mut Vec<Problem>) -> Option<CustomRule> {
    if r.name.is_empty()
        || r.name.len() > 64
        || !r
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        problem(
            problems,
            format!("{path}.name"),
            "rule names are 1–64 letters, digits, `-`, `_` or `.`",
        );
        return None;
    }
    let stages = match r.stage.as_deref() {
        None | Some("both") => vec![Stage::Input, Stage::Output],
        Some("input") => vec![Stage::Input],
        Some("output") => vec![Stage::Output],
        Some(_) => {
            problem(
                problems,
                format!("{path}.stage"),
                "must be `input`, `output` or `both`",
            );
            return None;
        }
    };
    let action = match r.action.parse::<Action>() {
        Ok(Action::Pseudonymize) => {
            problem(
                problems,
                format!("{path}.action"),
                "custom rules can block, review, redact, flag or allow",
            );
            return None;
        }
        Ok(a) => a,
        Err(m) => {
            problem(problems, format!("{path}.action"), m);
            return None;
        }
    };
    let matcher = match (r.pattern, r.phrases) {
        (Some(p), None) => {
            if let Err(e) = regex::RegexBuilder::new(&p).size_limit(1 << 20).build() {
                problem(
                    problems,
                    format!("{path}.pattern"),
                    format!("not a valid regular expression: {e}"),
                );
                return None;
            }
            Matcher::Pattern(p)
        }
        (None, Some(phrases)) => {
            if phrases.is_empty() || phrases.iter().any(|p| p.trim().is_empty()) {
                problem(
                    problems,
                    format!("{path}.phrases"),
                    "list at least one non-empty phrase",
                );
                return None;
            }
            Matcher::Phrases(phrases)
        }
        _ => {
            problem(
                problems,
                path.to_owned(),
                "give exactly one of `pattern` (a regular expression) or `phrases` (a topic deny-list)",
            );
            return None;
        }
    };
    Some(CustomRule {
        name: r.name,
        stages,
        matcher,
        action,
    })
}
