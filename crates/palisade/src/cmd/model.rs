//! `palisade model`: scan model files for code that runs on load, sign and
//! verify them (OpenSSF model-signing compatible), and pin them in a lock file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use palisade_model::{FileReport, ScanOptions, Severity, hashing, lock, report, scan, signing};

use crate::exit::{self, Status};
use crate::output::Format;

/// Output formats of `palisade model scan`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// Aligned table for people.
    #[default]
    Human,
    /// One JSON document: `{"files": [...], "summary": {...}}`.
    Json,
    /// SARIF 2.1.0 for code-scanning dashboards.
    Sarif,
}

/// Severity threshold for `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Any finding, even informational.
    Info,
    /// Low and above.
    Low,
    /// Medium and above.
    Medium,
    /// High and above.
    High,
    /// Critical only.
    Critical,
    /// Never fail on findings (scan errors still exit 2).
    Never,
}

impl FailOn {
    fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Info => Some(Severity::Info),
            FailOn::Low => Some(Severity::Low),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::High => Some(Severity::High),
            FailOn::Critical => Some(Severity::Critical),
            FailOn::Never => None,
        }
    }
}

/// Subcommands of `palisade model`.
#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Scan model files for code that runs when they are loaded.
    ///
    /// Exit status: 0 clean, 1 a finding at or above --fail-on, 2 a file could
    /// not be scanned (fail closed), 3 internal failure.
    Scan {
        /// Files or directories to scan (directories recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ScanFormat::Human)]
        format: ScanFormat,
        /// Lowest severity that makes the command exit 1.
        #[arg(long, value_enum, default_value_t = FailOn::Medium)]
        fail_on: FailOn,
        /// How many archive levels to open (zip in zip = 2), at most 16.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(0..=16))]
        max_depth: u32,
    },
    /// Check the scanner against a labelled set of files (`labels.csv` with
    /// `path,label,...` rows; label malicious, benign or invalid).
    ///
    /// Prints every miss and a closing `N passed, M failed` line; exits 1 on
    /// any miss.
    Eval {
        /// The labels file; paths in it are relative to its directory.
        labels: PathBuf,
        /// Lowest severity that counts as "flagged".
        #[arg(long, value_enum, default_value_t = FailOn::Medium)]
        fail_on: FailOn,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Sign a model (file or directory) with a PEM P-256 private key, writing
    /// a Sigstore bundle compatible with `model_signing sign key`.
    Sign {
        /// The model file or directory.
        model_path: PathBuf,
        /// PEM private key (PKCS#8 or SEC1, P-256).
        #[arg(long)]
        private_key: PathBuf,
        /// Where to write the signature bundle.
        #[arg(long, default_value = "model.sig")]
        signature: PathBuf,
    },
    /// Verify a model against a signature bundle (`--public-key` and
    /// `--signature`), or against pinned digests (`--lock models.lock`).
    ///
    /// Exit status: 0 verified, 1 any mismatch or bad signature, 2 invalid input.
    Verify {
        /// The model file or directory (not needed with --lock alone).
        model_path: Option<PathBuf>,
        /// PEM public key matching the signing key.
        #[arg(long, requires = "signature")]
        public_key: Option<PathBuf>,
        /// The signature bundle.
        #[arg(long, requires = "public_key")]
        signature: Option<PathBuf>,
        /// A models.lock file whose pins must all match.
        #[arg(long)]
        lock: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Write a models.lock pin file (SHA-256 of every file under PATHS).
    Lock {
        /// Files or directories to pin.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The lock file to write; pinned paths are relative to its directory.
        #[arg(long, default_value = "models.lock")]
        output: PathBuf,
    },
    /// Generate a P-256 key pair for signing (private key written 0600).
    Keygen {
        /// Where to write the PEM private key.
        #[arg(long)]
        private_key: PathBuf,
        /// Where to write the PEM public key.
        #[arg(long)]
        public_key: PathBuf,
    },
}

/// Runs `palisade model`.
pub fn run(command: ModelCommand) -> anyhow::Result<ExitCode> {
    match command {
        ModelCommand::Scan {
            paths,
            format,
            fail_on,
            max_depth,
        } => run_scan(&paths, format, fail_on, max_depth),
        ModelCommand::Eval {
            labels,
            fail_on,
            format,
        } => run_eval(&labels, fail_on, format == Format::Json),
        ModelCommand::Sign {
            model_path,
            private_key,
            signature,
        } => run_sign(&model_path, &private_key, &signature),
        ModelCommand::Verify {
            model_path,
            public_key,
            signature,
            lock,
            format,
        } => run_verify(
            model_path.as_deref(),
            public_key.as_deref(),
            signature.as_deref(),
            lock.as_deref(),
            format == Format::Json,
        ),
        ModelCommand::Lock { paths, output } => run_lock(&paths, &output),
        ModelCommand::Keygen {
            private_key,
            public_key,
        } => run_keygen(&private_key, &public_key),
    }
}

fn breaches(r: &FileReport, fail_on: FailOn) -> bool {
    match (fail_on.threshold(), r.max_severity()) {
        (Some(t), Some(s)) => s >= t,
        _ => false,
    }
}

fn run_scan(
    paths: &[PathBuf],
    format: ScanFormat,
    fail_on: FailOn,
    max_depth: u32,
) -> anyhow::Result<ExitCode> {
    let opts = ScanOptions {
        max_depth,
        ..ScanOptions::default()
    };
    let reports = scan::scan_paths(paths, &opts);
    let flagged = reports.iter().filter(|r| breaches(r, fail_on)).count();
    let errored = reports.iter().filter(|r| !r.errors.is_empty()).count();
    let mut out = std::io::stdout().lock();
    match format {
        ScanFormat::Json => {
            let doc = serde_json::json!({
                "files": reports,
                "summary": {"files": reports.len(), "flagged": flagged, "errors": errored},
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        ScanFormat::Sarif => {
            let doc = report::sarif(&reports, env!("CARGO_PKG_VERSION"));
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        ScanFormat::Human => print_table(&mut out, &reports, flagged, errored)?,
    }
    let status = if flagged > 0 {
        Status::Findings
    } else if errored > 0 {
        Status::Invalid
    } else {
        Status::Ok
    };
    Ok(status.into())
}

fn print_table(
    out: &mut impl Write,
    reports: &[FileReport],
    flagged: usize,
    errored: usize,
) -> std::io::Result<()> {
    let mut rows: Vec<[String; 5]> = Vec::new();
    for r in reports {
        for f in &r.findings {
            rows.push([
                f.severity.to_string(),
                f.rule.to_string(),
                f.construct.clone(),
                f.offset.to_string(),
                f.location.clone(),
            ]);
        }
        for e in &r.errors {
            rows.push([
                "error".into(),
                "scan_error".into(),
                e.clone(),
                "-".into(),
                r.path.clone(),
            ]);
        }
    }
    if !rows.is_empty() {
        let head = ["SEVERITY", "RULE", "CONSTRUCT", "OFFSET", "LOCATION"];
        let mut w = head.map(str::len);
        for row in &rows {
            for (i, c) in row.iter().enumerate().take(4) {
                w[i] = w[i].max(c.chars().count().min(60));
            }
        }
        writeln!(
            out,
            "{:<a$}  {:<b$}  {:<c$}  {:>d$}  {}",
            head[0],
            head[1],
            head[2],
            head[3],
            head[4],
            a = w[0],
            b = w[1],
            c = w[2],
            d = w[3]
        )?;
        for row in &rows {
            let construct: String = row[2].chars().take(60).collect();
            writeln!(
                out,
                "{:<a$}  {:<b$}  {:<c$}  {:>d$}  {}",
                row[0],
                row[1],
                construct,
                row[3],
                row[4],
                a = w[0],
                b = w[1],
                c = w[2],
                d = w[3]
            )?;
        }
    }
    writeln!(
        out,
        "{} file(s) scanned, {} flagged, {} with scan errors",
        reports.len(),
        flagged,
        errored
    )
}

fn run_eval(labels: &Path, fail_on: FailOn, json: bool) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(labels)
        .with_context(|| format!("reading {}", labels.display()))
        .map_err(exit::invalid)?;
    let base = labels.parent().unwrap_or(Path::new("."));
    let opts = ScanOptions::default();
    let mut results = Vec::new();
    let (mut passed, mut failed) = (0usize, 0usize);
    for line in text.lines().skip(1) {
        let mut cols = line.split(',');
        let (Some(path), Some(label)) = (cols.next(), cols.next()) else {
            continue;
        };
        if !matches!(label, "malicious" | "benign" | "invalid") {
            continue;
        }
        let r = scan::scan_file(&base.join(path), &opts, true);
        let flagged = breaches(&r, fail_on);
        let errored = !r.errors.is_empty();
        let ok = match label {
            "malicious" => flagged,
            "benign" => !flagged && !errored,
            _ => errored,
        };
        if ok {
            passed += 1
        } else {
            failed += 1
        }
        results.push(serde_json::json!({
            "path": path, "label": label, "ok": ok, "flagged": flagged, "error": errored,
            "max_severity": r.max_severity(), "format": r.format,
            "imports": r.imports.iter().map(|i| format!("{}:{}", i.import, i.verdict)).collect::<Vec<_>>(),
        }));
    }
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"results": results, "passed": passed, "failed": failed})
            )?
        )?;
    } else {
        for r in &results {
            let verdict = if r["ok"] == true { "ok  " } else { "MISS" };
            writeln!(
                out,
                "{verdict} {:<9} flagged={:<5} error={:<5} {}",
                r["label"].as_str().unwrap_or(""),
                r["flagged"],
                r["error"],
                r["path"].as_str().unwrap_or("")
            )?;
        }
        writeln!(out, "{passed} passed, {failed} failed")?;
    }
    Ok(if failed > 0 {
        Status::Findings
    } else {
        Status::Ok
    }
    .into())
}

/// Maps a signing-library error to an exit status: bad input (missing
/// files, unusable keys, symlinks in the model, malformed bundles) is 2; a
/// stream failing mid-read is 3.
fn sig_error(e: palisade_model::Error) -> anyhow::Error {
    match e {
        palisade_model::Error::Read(_) => exit::failure(e),
        other => exit::invalid(other),
    }
}

fn run_sign(model: &Path, private_key: &Path, signature: &Path) -> anyhow::Result<ExitCode> {
    let bundle = signing::sign(model, private_key, signature, hashing::default_threads())
        .map_err(sig_error)?;
    std::fs::write(signature, bundle)
        .with_context(|| format!("writing {}", signature.display()))
        .map_err(exit::failure)?;
    tracing::info!(model = %model.display(), signature = %signature.display(), "model signed");
    let mut out = std::io::stdout().lock();
    writeln!(out, "signed {} -> {}", model.display(), signature.display())?;
    Ok(Status::Ok.into())
}

fn run_verify(
    model: Option<&Path>,
    public_key: Option<&Path>,
    signature: Option<&Path>,
    lock_path: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if public_key.is_none() && lock_path.is_none() {
        return Err(exit::invalid(anyhow::anyhow!(
            "give --public-key and --signature, or --lock"
        )));
    }
    let threads = hashing::default_threads();
    let mut ok = true;
    let mut doc = serde_json::Map::new();
    let mut out = std::io::stdout().lock();
    if let (Some(pk), Some(sig)) = (public_key, signature) {
        let model = model.ok_or_else(|| {
            exit::invalid(anyhow::anyhow!("MODEL_PATH is required with --signature"))
        })?;
        match signing::verify(model, pk, sig, threads) {
            Ok(v) => {
                ok &= v.ok();
                if !json {
                    for p in &v.changed {
                        writeln!(out, "MISMATCH {p}")?;
                    }
                    for p in &v.missing {
                        writeln!(out, "MISSING  {p}")?;
                    }
                    for p in &v.extra {
                        writeln!(out, "UNSIGNED {p}")?;
                    }
                    if v.ok() {
                        writeln!(out, "signature verified: {} resource(s) match", v.checked)?;
                    } else {
                        writeln!(out, "verification FAILED")?;
                    }
                }
                doc.insert(
                    "signature".into(),
                    serde_json::json!({"ok": v.ok(), "detail": v}),
                );
            }
            Err(palisade_model::Error::Signature(msg)) => {
                ok = false;
                if !json {
                    writeln!(out, "verification FAILED: {msg}")?;
                }
                doc.insert(
                    "signature".into(),
                    serde_json::json!({"ok": false, "error": msg}),
                );
            }
            Err(e) => return Err(sig_error(e)),
        }
    }
    if let Some(lp) = lock_path {
        let checks = lock::check(lp, threads).map_err(exit::invalid)?;
        let bad = checks
            .iter()
            .filter(|c| !matches!(c, lock::PinCheck::Ok { .. }))
            .count();
        ok &= bad == 0;
        if !json {
            for c in &checks {
                match c {
                    lock::PinCheck::Ok { .. } => {}
                    lock::PinCheck::Mismatch { path, .. } => writeln!(out, "MISMATCH {path}")?,
                    lock::PinCheck::Missing { path } => writeln!(out, "MISSING  {path}")?,
                }
            }
            writeln!(
                out,
                "lock {}: {} pinned, {} mismatched or missing",
                lp.display(),
                checks.len(),
                bad
            )?;
        }
        doc.insert(
            "lock".into(),
            serde_json::json!({"ok": bad == 0, "files": checks}),
        );
    }
    if json {
        doc.insert("ok".into(), ok.into());
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(if ok { Status::Ok } else { Status::Findings }.into())
}

fn run_lock(paths: &[PathBuf], output: &Path) -> anyhow::Result<ExitCode> {
    let base = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let pins = lock::pin(paths, base, hashing::default_threads()).map_err(exit::invalid)?;
    let pins: Vec<_> = pins
        .into_iter()
        .filter(|p| Some(p.path.as_str()) != output.file_name().and_then(|n| n.to_str()))
        .collect();
    std::fs::write(output, lock::render(&pins))
        .with_context(|| format!("writing {}", output.display()))
        .map_err(exit::failure)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "pinned {} file(s) in {}", pins.len(), output.display())?;
    Ok(Status::Ok.into())
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())
}

fn run_keygen(private_key: &Path, public_key: &Path) -> anyhow::Result<ExitCode> {
    let (secret, public) = signing::generate_key().map_err(exit::failure)?;
    write_private(private_key, secret.expose())
        .with_context(|| format!("writing {} (it must not exist yet)", private_key.display()))
        .map_err(exit::invalid)?;
    std::fs::write(public_key, public)
        .with_context(|| format!("writing {}", public_key.display()))
        .map_err(exit::failure)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote private key {} (0600) and public key {}",
        private_key.display(),
        public_key.display()
    )?;
    Ok(Status::Ok.into())
}
