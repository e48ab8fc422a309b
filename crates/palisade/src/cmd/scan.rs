//! `palisade scan`: find personal data, secrets and attacks in text.
//!
//! Parses arguments, reads the input, calls `palisade_detect::Scanner`, and
//! renders findings (human table or DESIGN.md's JSON shape) or safe text.
//! Matched values are never printed: the human table shows a masked preview.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use palisade_detect::operators::{Operator, anonymize};
use palisade_detect::{Config, Finding, Key, Kind, Scanner, Severity};

use crate::exit;
use crate::output::Format;

/// Severity threshold for a non-zero exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Any finding.
    Low,
    /// Medium and above (contact data, names, addresses).
    Medium,
    /// High and above (government/financial IDs, attacks).
    High,
    /// Only credentials and canary leaks.
    Critical,
    /// Never exit 1 because of findings.
    Never,
}

impl FailOn {
    fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Low => Some(Severity::Low),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::High => Some(Severity::High),
            FailOn::Critical => Some(Severity::Critical),
            FailOn::Never => None,
        }
    }
}

/// Operators accepted by `--redact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RedactOp {
    /// `[REDACTED]`.
    Redact,
    /// `*` except the last 4 letters/digits (secrets fully masked).
    Mask,
    /// Typed placeholder such as `<EMAIL_1>`.
    Placeholder,
    /// Keyed HMAC pseudonym (needs a key).
    Pseudonym,
    /// Reversible AES-SIV token (needs a key).
    Tokenize,
    /// Format-preserving fake value.
    Synthetic,
}

impl RedactOp {
    fn name(self) -> &'static str {
        match self {
            RedactOp::Redact => "redact",
            RedactOp::Mask => "mask",
            RedactOp::Placeholder => "placeholder",
            RedactOp::Pseudonym => "pseudonym",
            RedactOp::Tokenize => "tokenize",
            RedactOp::Synthetic => "synthetic",
        }
    }
}

/// Arguments of `palisade scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// File to scan, or `-` for standard input.
    #[arg(default_value = "-")]
    pub input: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Scan every line as its own text; JSON output is one object per line.
    #[arg(long)]
    pub per_line: bool,
    /// Write the safe text with every finding replaced by this operator.
    #[arg(long, value_name = "OPERATOR", value_enum)]
    pub redact: Option<RedactOp>,
    /// Exit with status 1 when a finding has at least this severity.
    #[arg(long, value_enum, default_value_t = FailOn::High)]
    pub fail_on: FailOn,
    /// Only these kinds (comma-separated snake_case names, e.g. `email,hkid`).
    #[arg(long, value_delimiter = ',')]
    pub kinds: Vec<String>,
    /// Drop findings scored below this (0..1).
    #[arg(long, default_value_t = 0.5)]
    pub min_score: f32,
    /// File holding the tenant key for `pseudonym`/`tokenize` (≥16 bytes).
    #[arg(long)]
    pub key_file: Option<std::path::PathBuf>,
    /// Environment variable holding the tenant key, used when no `--key-file`.
    #[arg(long, default_value = "PALISADE_DETECT_KEY")]
    pub key_env: String,
}

/// Runs `palisade scan`.
pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let kinds = if args.kinds.is_empty() {
        None
    } else {
        let mut ks = Vec::new();
        for k in &args.kinds {
            ks.push(k.trim().parse::<Kind>().map_err(exit::invalid)?);
        }
        Some(ks)
    };
    if !(0.0..=1.0).contains(&args.min_score) {
        return Err(exit::invalid(anyhow::anyhow!(
            "--min-score must be within 0..1"
        )));
    }
    let operator = match args.redact {
        None => None,
        Some(op) => {
            let key = if matches!(op, RedactOp::Pseudonym | RedactOp::Tokenize) {
                Some(load_key(&args)?)
            } else {
                None
            };
            Some(Operator::from_name(op.name(), key).map_err(exit::invalid)?)
        }
    };
    let scanner = Scanner::new(Config {
        kinds,
        min_score: args.min_score,
        normalize: true,
    })
    .map_err(exit::failure)?;
    let text = read_input(&args.input)?;

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let threshold = args.fail_on.threshold();
    let mut breach = false;
    let result = if args.per_line {
        let mut r = Ok(());
        for (i, raw) in text.split_inclusive('\n').enumerate() {
            let line = raw.strip_suffix('\n').unwrap_or(raw);
            let line = line.strip_suffix('\r').unwrap_or(line);
            let findings = scanner.scan(line);
            breach |= breaches(&findings, threshold);
            r = render(
                &mut out,
                &args,
                operator.as_ref(),
                line,
                &findings,
                Some(i + 1),
            );
            if r.is_err() {
                break;
            }
        }
        r
    } else {
        let findings = scanner.scan(&text);
        breach = breaches(&findings, threshold);
        render(&mut out, &args, operator.as_ref(), &text, &findings, None)
    };
    match result.and_then(|()| out.flush().map_err(anyhow::Error::from)) {
        Ok(()) => {}
        Err(e) if is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(exit::failure(e)),
    }
    Ok(if breach {
        exit::Status::Findings.into()
    } else {
        exit::Status::Ok.into()
    })
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

fn breaches(findings: &[Finding], threshold: Option<Severity>) -> bool {
    threshold.is_some_and(|t| findings.iter().any(|f| f.severity() >= t))
}

fn load_key(args: &ScanArgs) -> anyhow::Result<Key> {
    let material = if let Some(path) = &args.key_file {
        std::fs::read(path)
            .with_context(|| format!("cannot read key file {}", path.display()))
            .map_err(exit::invalid)?
    } else {
        match std::env::var(&args.key_env) {
            Ok(v) => v.into_bytes(),
            Err(_) => {
                return Err(exit::invalid(anyhow::anyhow!(
                    "this operator needs a key: set {} or pass --key-file",
                    args.key_env
                )));
            }
        }
    };
    let trimmed: Vec<u8> = material.trim_ascii().to_vec();
    Key::from_bytes(&trimmed).map_err(exit::invalid)
}

fn read_input(input: &str) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    if input == "-" {
        io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read standard input")
            .map_err(exit::invalid)?;
    } else {
        bytes = std::fs::read(input)
            .with_context(|| format!("cannot read {input}"))
            .map_err(exit::invalid)?;
    }
    String::from_utf8(bytes).map_err(|e| {
        exit::invalid(anyhow::anyhow!(
            "input is not valid UTF-8 (first invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn render(
    out: &mut impl Write,
    args: &ScanArgs,
    operator: Option<&Operator>,
    text: &str,
    findings: &[Finding],
    line: Option<usize>,
) -> anyhow::Result<()> {
    if let Some(op) = operator {
        let safe = anonymize(text, findings, op).map_err(exit::failure)?;
        match args.format {
            Format::Json => {
                let v = match line {
                    Some(n) => {
                        serde_json::json!({"line": n, "text": safe.text, "findings": findings})
                    }
                    None => serde_json::json!({"text": safe.text, "findings": findings}),
                };
                writeln!(out, "{v}")?;
            }
            Format::Human => {
                if line.is_some() {
                    writeln!(out, "{}", safe.text)?;
                } else {
                    write!(out, "{}", safe.text)?;
                }
            }
        }
        return Ok(());
    }
    match args.format {
        Format::Json => {
            let v = match line {
                Some(n) => serde_json::json!({"line": n, "findings": findings}),
                None => serde_json::json!({"findings": findings}),
            };
            writeln!(out, "{v}")?;
        }
        Format::Human => {
            if line.is_none() && findings.is_empty() {
                writeln!(out, "no findings")?;
            }
            if line.is_none() && !findings.is_empty() {
                writeln!(
                    out,
                    "{:<7} {:<7} {:<18} {:<9} {:<5} {:<26} PREVIEW",
                    "START", "END", "KIND", "SEVERITY", "SCORE", "DETECTOR"
                )?;
            }
            for f in findings {
                if let Some(n) = line {
                    write!(out, "line {n}: ")?;
                }
                writeln!(
                    out,
                    "{:<7} {:<7} {:<18} {:<9} {:<5.2} {:<26} {}",
                    f.start,
                    f.end,
                    f.kind.as_str(),
                    f.severity().as_str(),
                    f.score,
                    f.detector,
                    preview(text, f)
                )?;
            }
            if line.is_none() && !findings.is_empty() {
                writeln!(out, "{} finding(s)", findings.len())?;
            }
        }
    }
    Ok(())
}

/// A masked preview: first and last character of personal data, nothing of
/// credentials or canaries.
fn preview(text: &str, f: &Finding) -> String {
    if matches!(
        f.kind,
        Kind::Secret | Kind::CanaryLeak | Kind::UnicodeSmuggling
    ) {
        return format!("[{} bytes hidden]", f.len());
    }
    let value = text.get(f.start..f.end).unwrap_or("");
    let chars: Vec<char> = value.chars().filter(|c| !c.is_control()).collect();
    if chars.len() < 4 {
        return "*".repeat(chars.len());
    }
    let first = chars[0];
    let last = chars[chars.len() - 1];
    format!("{first}{}{last}", "*".repeat((chars.len() - 2).min(12)))
}
