//! The scan driver: walks paths, recognises each file's format from its
//! content, dispatches to the format parsers, recurses into archives within
//! depth and size bounds, and turns what the parsers saw into [`Finding`]s.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::read::{DeflateDecoder, GzDecoder, ZlibDecoder};
use serde::Serialize;

use crate::finding::{Finding, Severity};
use crate::formats::zip::{self, ReadSeek};
use crate::formats::{Format, detect, gguf, npy, onnx, safetensors};
use crate::io::Input;
use crate::pickle::{self, Limits};
use crate::policy::Verdict;
use crate::{Error, Result};

/// Bounds and switches for a scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Pickle walker bounds.
    pub pickle: Limits,
    /// How many archive levels are opened (a zip in a zip is depth 2).
    pub max_depth: u32,
    /// Largest number of entries read from one archive.
    pub max_entries: usize,
    /// Largest compressed entry buffered in memory to scan it as an archive.
    pub max_buffered: u64,
    /// Largest total of decompressed bytes read for one top-level file.
    pub max_inflated: u64,
    /// Compression ratio above which a large entry is treated as a zip bomb.
    pub max_ratio: u64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            pickle: Limits::default(),
            max_depth: 4,
            max_entries: 100_000,
            max_buffered: 256 << 20,
            max_inflated: 8 << 30,
            max_ratio: 1000,
        }
    }
}

/// One import seen in a pickle, for reports and comparisons.
#[derive(Debug, Clone, Serialize)]
pub struct ImportRecord {
    /// `module.name`.
    pub import: String,
    /// `allowed`, `dangerous` or `unknown`.
    pub verdict: &'static str,
    /// Where (file plus archive members).
    pub location: String,
    /// Offset of the importing opcode.
    pub offset: u64,
}

/// The result of scanning one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The file scanned.
    pub path: String,
    /// Its format, as recognised from content.
    pub format: Format,
    /// Size in bytes.
    pub size: u64,
    /// What was found.
    pub findings: Vec<Finding>,
    /// Every import seen in pickles, allowed or not.
    pub imports: Vec<ImportRecord>,
    /// Scan errors: the file (or a part of it) could not be parsed. A scan
    /// error fails closed: the file is not known to be safe.
    pub errors: Vec<String>,
}

impl FileReport {
    /// The highest severity among the findings.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// A read-only window `[start, start + len)` of a seekable source.
struct Window<'a> {
    inner: &'a mut dyn ReadSeek,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        self.inner
            .seek(SeekFrom::Start(self.start.saturating_add(self.pos)))?;
        let n = self.inner.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let new =
            new.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        self.pos = new;
        Ok(new)
    }
}

/// A reader that counts decompressed bytes against a shared budget.
struct Budget<'b, R> {
    inner: R,
    left: &'b mut u64,
}

impl<R: Read> Read for Budget<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > *self.left {
            return Err(io::Error::other(
                "decompression budget exhausted (zip bomb?)",
            ));
        }
        *self.left -= n as u64;
        Ok(n)
    }
}

struct Ctx<'o> {
    opts: &'o ScanOptions,
    report: FileReport,
    inflate_left: u64,
    entries_left: usize,
    base_dir: Option<PathBuf>,
}

/// One unit of scan work, found by walking the paths.
enum Task {
    /// Scan this file; `explicit` when named on the command line.
    File(PathBuf, bool),
    /// Scan the file behind a symbolic link met in a directory.
    LinkedFile(PathBuf, String),
    /// A result known without scanning (errors, links not followed).
    Done(FileReport),
}

/// Scans files and directories (recursively; links to files are scanned
/// through, links to directories are not followed), several files at once.
pub fn scan_paths(paths: &[PathBuf], opts: &ScanOptions) -> Vec<FileReport> {
    let mut tasks = Vec::new();
    for p in paths {
        match std::fs::symlink_metadata(p) {
            Ok(md) if md.is_dir() => walk_dir(p, &mut tasks),
            Ok(_) => tasks.push(Task::File(p.clone(), true)),
            Err(e) => tasks.push(Task::Done(error_report(p, e.to_string()))),
        }
    }
    let run = |task: &Task| match task {
        Task::File(p, explicit) => scan_file(p, opts, *explicit),
        Task::LinkedFile(p, target) => {
            let mut r = scan_file(p, opts, false);
            r.findings.push(Finding {
                severity: Severity::Info,
                rule: "symlink",
                construct: target.clone(),
                location: p.display().to_string(),
                offset: 0,
                message: "symbolic link; its target file was scanned".into(),
            });
            r
        }
        Task::Done(r) => r.clone(),
    };
    let threads = crate::hashing::default_threads().min(tasks.len()).max(1);
    if threads == 1 {
        return tasks.iter().map(run).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: std::sync::Mutex<Vec<Option<FileReport>>> =
        std::sync::Mutex::new((0..tasks.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(task) = tasks.get(i) else { break };
                    let r = run(task);
                    if let Ok(mut g) = slots.lock()
                        && let Some(slot) = g.get_mut(i)
                    {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .zip(tasks.iter())
        .map(|(r, t)| match (r, t) {
            (Some(r), _) => r,
            (None, Task::File(p, _) | Task::LinkedFile(p, _)) => {
                error_report(p, "scan worker failed".into())
            }
            (None, Task::Done(r)) => r.clone(),
        })
        .collect()
}

fn error_report(p: &Path, e: String) -> FileReport {
    FileReport {
        path: p.display().to_string(),
        format: Format::Unknown,
        size: 0,
        findings: Vec::new(),
        imports: Vec::new(),
        errors: vec![e],
    }
}

fn walk_dir(dir: &Path, tasks: &mut Vec<Task>) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            tasks.push(Task::Done(error_report(dir, e.to_string())));
            return;
        }
    };
    entries.sort();
    for p in entries {
        if p.file_name().is_some_and(|n| n == ".git") {
            continue;
        }
        match std::fs::symlink_metadata(&p) {
            Ok(md) if md.file_type().is_symlink() => {
                // Hugging Face cache snapshots are symlinks to blobs: scan
                // the target file (reading is safe), never follow links to
                // directories (loops), and say where the link points.
                let target = std::fs::read_link(&p)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default();
                let (severity, message) = match std::fs::metadata(&p) {
                    Ok(t) if t.is_file() => {
                        tasks.push(Task::LinkedFile(p, target));
                        continue;
                    }
                    Ok(_) => (
                        Severity::Medium,
                        "symbolic link to a directory; not followed",
                    ),
                    Err(_) => (Severity::Low, "dangling symbolic link"),
                };
                let mut r = error_report(&p, String::new());
                r.errors.clear();
                r.findings.push(Finding {
                    severity,
                    rule: "symlink",
                    construct: target,
                    location: p.display().to_string(),
                    offset: 0,
                    message: message.into(),
                });
                tasks.push(Task::Done(r));
            }
            Ok(md) if md.is_dir() => walk_dir(&p, tasks),
            Ok(_) => tasks.push(Task::File(p, false)),
            Err(e) => tasks.push(Task::Done(error_report(&p, e.to_string()))),
        }
    }
}

/// Scans one file. `explicit` files of unknown format are errors; files met
/// while walking a directory that are not model formats are skipped.
pub fn scan_file(path: &Path, opts: &ScanOptions, explicit: bool) -> FileReport {
    let loc = path.display().to_string();
    let mut ctx = Ctx {
        opts,
        report: FileReport {
            path: loc.clone(),
            format: Format::Unknown,
            size: 0,
            findings: Vec::new(),
            imports: Vec::new(),
            errors: Vec::new(),
        },
        inflate_left: opts.max_inflated,
        entries_left: opts.max_entries,
        base_dir: path.parent().map(Path::to_path_buf),
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            ctx.report.errors.push(Error::io(path, e).to_string());
            return ctx.report;
        }
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    ctx.report.size = len;
    match ctx.scan_source(&mut file, len, &loc, 0) {
        Ok(fmt) => ctx.report.format = fmt,
        Err(Error::UnknownFormat(_))
        | Err(Error::Malformed {
            format: "pickle", ..
        }) if !explicit
            && weak_head(path)
            && (ctx.report.findings.is_empty() || is_text_name(path)) =>
        {
            // Text that merely starts with an opcode byte and then fails to
            // parse: what a partial walk "imported" from it is noise.
            ctx.report.findings.clear();
            ctx.report.imports.clear();
            let extra = remote_code_finding(path, &loc);
            ctx.report.findings.push(extra.unwrap_or_else(|| Finding {
                severity: Severity::Info,
                rule: "not_a_model_format",
                construct: String::new(),
                location: loc,
                offset: 0,
                message: "not a recognised model format; skipped".into(),
            }));
        }
        Err(e) => ctx.report.errors.push(e.to_string()),
    }
    ctx.report
}

/// Names of text files found in model repositories (code, configs, docs).
fn is_text_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    [
        ".py", ".json", ".md", ".txt", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".csv", ".jinja",
        ".html",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
        || matches!(name.as_str(), "license" | "readme" | "notice" | "copying")
}

/// Hugging Face repositories can ship Python that `transformers` imports
/// and runs when a model is loaded with `trust_remote_code=True`: the
/// `auto_map` of `config.json` (or `tokenizer_config.json`) names it.
fn remote_code_finding(path: &Path, loc: &str) -> Option<Finding> {
    let name = path.file_name()?.to_str()?;
    if name.ends_with(".py") {
        return Some(Finding {
            severity: Severity::Medium,
            rule: "remote_code",
            construct: name.to_string(),
            location: loc.to_string(),
            offset: 0,
            message: "Python source shipped with the model: it runs if the model is loaded with trust_remote_code=True".into(),
        });
    }
    if !name.ends_with("config.json") || std::fs::metadata(path).ok()?.len() > 16 << 20 {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let map = json.get("auto_map")?;
    let targets: Vec<String> = match map {
        serde_json::Value::Object(m) => m
            .values()
            .flat_map(|v| -> Vec<String> {
                match v {
                    serde_json::Value::Array(a) => a
                        .iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect(),
                    other => other.as_str().map(str::to_string).into_iter().collect(),
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(Finding {
        severity: Severity::High,
        rule: "remote_code",
        construct: targets.join(", "),
        location: loc.to_string(),
        offset: 0,
        message: "auto_map makes transformers import and run Python from the model repository (trust_remote_code=True)".into(),
    })
}

fn weak_head(path: &Path) -> bool {
    let mut head = Vec::new();
    match File::open(path) {
        Ok(f) => {
            let _ = f.take(512).read_to_end(&mut head);
            weak_pickle(&head) || detect(&head, u64::MAX) == Format::Unknown
        }
        Err(_) => false,
    }
}

/// Scans an in-memory buffer as if it were a file named `name` (fuzzing, tests).
pub fn scan_bytes(name: &str, data: &[u8], opts: &ScanOptions) -> FileReport {
    let mut ctx = Ctx {
        opts,
        report: FileReport {
            path: name.to_string(),
            format: Format::Unknown,
            size: data.len() as u64,
            findings: Vec::new(),
            imports: Vec::new(),
            errors: Vec::new(),
        },
        inflate_left: opts.max_inflated,
        entries_left: opts.max_entries,
        base_dir: None,
    };
    let mut cur = Cursor::new(data);
    match ctx.scan_source(&mut cur, data.len() as u64, name, 0) {
        Ok(fmt) => ctx.report.format = fmt,
        Err(e) => ctx.report.errors.push(e.to_string()),
    }
    ctx.report
}

fn read_head(src: &mut dyn ReadSeek, n: usize) -> io::Result<Vec<u8>> {
    src.seek(SeekFrom::Start(0))?;
    let mut head = Vec::with_capacity(n);
    src.take(n as u64).read_to_end(&mut head)?;
    src.seek(SeekFrom::Start(0))?;
    Ok(head)
}

const LEGACY_TORCH_MAGIC: &[u8] = &[
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
];

impl Ctx<'_> {
    fn find(
        &mut self,
        severity: Severity,
        rule: &'static str,
        construct: impl Into<String>,
        location: &str,
        offset: u64,
        message: impl Into<String>,
    ) {
        self.report.findings.push(Finding {
            severity,
            rule,
            construct: construct.into(),
            location: location.to_string(),
            offset,
            message: message.into(),
        });
    }

    fn take_entry(&mut self) -> Result<()> {
        self.entries_left = self.entries_left.checked_sub(1).ok_or_else(|| {
            Error::Limit(format!(
                "more than {} archive entries in one file",
                self.opts.max_entries
            ))
        })?;
        Ok(())
    }

    fn scan_source(
        &mut self,
        src: &mut dyn ReadSeek,
        len: u64,
        loc: &str,
        depth: u32,
    ) -> Result<Format> {
        let head = read_head(src, 512)?;
        let fmt = detect(&head, len);
        match fmt {
            Format::Zip => self.scan_zip(src, len, loc, depth)?,
            Format::Pickle => {
                let reader = BufReader::with_capacity(64 << 10, src);
                self.scan_pickles(reader, 0, loc, true)?;
            }
            Format::Npy => self.scan_npy(BufReader::new(src), loc)?,
            Format::Safetensors => self.scan_safetensors(src, len, loc)?,
            Format::Gguf => {
                let mut input = Input::new(BufReader::with_capacity(64 << 10, src), 0);
                for (sev, rule, construct, off, msg) in gguf::check(&mut input, len)? {
                    self.find(sev, rule, construct, loc, off, msg);
                }
            }
            Format::Hdf5 => self.scan_hdf5(src, loc)?,
            Format::Onnx => self.scan_onnx(src, len, loc, depth)?,
            Format::SevenZip => self.scan_7z(src, len, loc)?,
            Format::Tar => self.scan_tar(src, len, loc, depth)?,
            Format::Gzip => self.scan_gzip(src, loc, depth, false)?,
            Format::Zlib => self.scan_gzip(src, loc, depth, true)?,
            Format::OtherCompressed => self.find(
                Severity::High,
                "archive_unscannable",
                "xz/bzip2/lz4",
                loc,
                0,
                "compressed with a codec the scanner does not decode; contents not inspected",
            ),
            Format::Unknown => {
                return Err(Error::UnknownFormat(format!(
                    "{loc}: no known model format matches its first bytes"
                )));
            }
        }
        Ok(fmt)
    }

    fn record_outcome(&mut self, out: &pickle::Outcome, loc: &str) {
        for imp in &out.imports {
            let verdict = imp.verdict();
            self.report.imports.push(ImportRecord {
                import: imp.qualified(),
                verdict: match verdict {
                    Verdict::Allowed => "allowed",
                    Verdict::Dangerous(_) => "dangerous",
                    Verdict::Unknown => "unknown",
                },
                location: loc.to_string(),
                offset: imp.offset,
            });
            let (rule, why) = match &verdict {
                Verdict::Allowed => continue,
                Verdict::Dangerous(why) => ("pickle_dangerous_import", (*why).to_string()),
                Verdict::Unknown => (
                    "pickle_unknown_import",
                    "not on the allow-list of harmless constructors".to_string(),
                ),
            };
            let sev = verdict.severity().unwrap_or(Severity::High);
            let nested = if imp.depth > 0 {
                " (in a pickle embedded in a byte string)"
            } else {
                ""
            };
            let called = if imp.called {
                "imported and called"
            } else {
                "imported"
            };
            self.find(
                sev,
                rule,
                imp.qualified(),
                loc,
                imp.offset,
                format!("{called} via {:?}{nested}: {why}", imp.op),
            );
        }
        for odd in &out.oddities {
            let sev = match odd.kind {
                "computed_import" => Severity::Critical,
                "build_on_global" => Severity::Critical,
                "call_non_callable" | "out_of_band_buffer" => Severity::Medium,
                _ => Severity::Info,
            };
            self.find(
                sev,
                "pickle_construct",
                odd.kind,
                loc,
                odd.offset,
                odd.detail.clone(),
            );
        }
    }

    /// Walks back-to-back pickles (legacy PyTorch files hold five).
    fn scan_pickles<R: BufRead>(
        &mut self,
        reader: R,
        start: u64,
        loc: &str,
        strict: bool,
    ) -> Result<()> {
        let mut input = Input::new(reader, start);
        let legacy = input.peek()?.starts_with(LEGACY_TORCH_MAGIC);
        let mut count = 0u32;
        loop {
            let at = input.pos();
            let out = pickle::walk(&mut input, &self.opts.pickle);
            count += 1;
            self.record_outcome(&out, loc);
            if let Some(e) = out.error {
                if count == 1 && strict {
                    return Err(e);
                }
                self.find(
                    Severity::Low,
                    "trailing_data",
                    "",
                    loc,
                    at,
                    format!("data after the pickle does not parse as a pickle: {e}"),
                );
                return Ok(());
            }
            if legacy && count == 5 {
                return Ok(()); // the rest is raw storage data
            }
            let next = input.peek()?;
            if next.is_empty() {
                return Ok(());
            }
            let more = pickle::looks_like_binary_pickle(next)
                || next
                    .first()
                    .is_some_and(|&b| pickle::is_opcode(b) && b != 0x80);
            if !more || count >= 1000 {
                self.find(
                    Severity::Info,
                    "trailing_data",
                    "",
                    loc,
                    input.pos(),
                    "bytes after the final STOP opcode (ignored by the unpickler)",
                );
                return Ok(());
            }
        }
    }

    fn scan_npy<R: BufRead>(&mut self, reader: R, loc: &str) -> Result<()> {
        let mut input = Input::new(reader, 0);
        let header = npy::read_header(&mut input)?;
        if header.has_objects {
            self.find(
                Severity::Info,
                "npy_object_array",
                header.descr.clone(),
                loc,
                header.data_offset,
                "object-dtype array: its data is a pickle (numpy.load needs allow_pickle=True)",
            );
            let out = pickle::walk(&mut input, &self.opts.pickle);
            self.record_outcome(&out, loc);
            if let Some(e) = out.error {
                return Err(e);
            }
        }
        Ok(())
    }

    fn scan_safetensors(&mut self, src: &mut dyn ReadSeek, len: u64, loc: &str) -> Result<()> {
        let mut b = [0u8; 8];
        src.seek(SeekFrom::Start(0))?;
        src.read_exact(&mut b)?;
        let n = u64::from_le_bytes(b);
        if n > safetensors::MAX_HEADER || n + 8 > len {
            return Err(Error::malformed(
                "safetensors",
                0,
                format!("header length {n} exceeds the file or the 100 MB cap"),
            ));
        }
        let mut header = vec![0u8; n as usize];
        src.read_exact(&mut header)?;
        let problems = safetensors::check_header(&header, len - 8 - n)
            .map_err(|e| Error::malformed("safetensors", 8, e))?;
        for (sev, rule, construct, msg) in problems {
            self.find(sev, rule, construct, loc, 8, msg);
        }
        Ok(())
    }

    fn scan_hdf5(&mut self, src: &mut dyn ReadSeek, loc: &str) -> Result<()> {
        // Keras stores the model as JSON in the `model_config` attribute; the
        // attribute bytes are stored uncompressed, so a streaming search for
        // the JSON constructs is enough without a full HDF5 implementation.
        const PATTERNS: &[(&[u8], Severity, &str)] = &[
            (
                b"\"class_name\": \"Lambda\"",
                Severity::Critical,
                "Keras Lambda layer: runs serialized Python code on load",
            ),
            (
                b"\"class_name\":\"Lambda\"",
                Severity::Critical,
                "Keras Lambda layer: runs serialized Python code on load",
            ),
            (
                b"\"function_type\": \"lambda\"",
                Severity::Critical,
                "marshalled Python lambda in layer config",
            ),
            (
                b"\"class_name\": \"TFOpLambda\"",
                Severity::Medium,
                "TFOpLambda layer calls TensorFlow ops by name",
            ),
        ];
        src.seek(SeekFrom::Start(0))?;
        let mut reader = BufReader::with_capacity(1 << 20, src);
        let mut carry: Vec<u8> = Vec::new();
        let mut base = 0u64;
        let mut saw_config = false;
        let mut hits = vec![false; PATTERNS.len()];
        loop {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let n = buf.len();
            let mut window = std::mem::take(&mut carry);
            let wstart = base - window.len() as u64;
            window.extend_from_slice(buf);
            reader.consume(n);
            saw_config |= memfind(&window, b"model_config").is_some();
            for (i, (pat, sev, msg)) in PATTERNS.iter().enumerate() {
                if !hits[i]
                    && let Some(p) = memfind(&window, pat)
                {
                    hits[i] = true;
                    self.find(
                        *sev,
                        "keras_unsafe_layer",
                        String::from_utf8_lossy(pat),
                        loc,
                        wstart + p as u64,
                        *msg,
                    );
                }
            }
            base += n as u64;
            let keep = window.len().min(64);
            carry = window[window.len() - keep..].to_vec();
        }
        if !saw_config {
            self.find(
                Severity::Info,
                "hdf5_no_keras_config",
                "",
                loc,
                0,
                "HDF5 file without a Keras model_config attribute",
            );
        }
        Ok(())
    }

    fn scan_onnx(&mut self, src: &mut dyn ReadSeek, len: u64, loc: &str, depth: u32) -> Result<()> {
        src.seek(SeekFrom::Start(0))?;
        let mut input = Input::new(BufReader::with_capacity(64 << 10, src), 0);
        let refs = onnx::external_refs(&mut input, len)?;
        for r in refs {
            let p = Path::new(&r.location);
            let escapes = p
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
            let absolute = p.is_absolute()
                || r.location.starts_with('\\')
                || r.location.get(1..2) == Some(":");
            if absolute {
                self.find(
                    Severity::Critical,
                    "onnx_external_data",
                    r.location.clone(),
                    loc,
                    r.offset,
                    "external data location is an absolute path: loading reads an arbitrary file",
                );
                continue;
            }
            if escapes {
                self.find(
                    Severity::Critical,
                    "onnx_external_data",
                    r.location.clone(),
                    loc,
                    r.offset,
                    "external data location climbs out of the model directory",
                );
                continue;
            }
            if let (Some(base), 0) = (&self.base_dir, depth) {
                let target = base.join(p);
                let is_link = std::fs::symlink_metadata(&target)
                    .map(|m| m.file_type().is_symlink())
                    .unwrap_or(false);
                let inside = match (target.canonicalize(), base.canonicalize()) {
                    (Ok(t), Ok(b)) => Some(t.starts_with(&b)),
                    _ => None,
                };
                match (is_link, inside) {
                    (_, Some(false)) => self.find(
                        Severity::Critical,
                        "onnx_external_data",
                        r.location.clone(),
                        loc,
                        r.offset,
                        "external data resolves (through a symlink) outside the model directory",
                    ),
                    (true, _) => self.find(
                        Severity::High,
                        "onnx_external_data",
                        r.location.clone(),
                        loc,
                        r.offset,
                        "external data file is a symbolic link",
                    ),
                    (false, None) => self.find(
                        Severity::Low,
                        "onnx_external_data",
                        r.location.clone(),
                        loc,
                        r.offset,
                        "external data file is missing",
                    ),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn scan_7z(&mut self, src: &mut dyn ReadSeek, len: u64, loc: &str) -> Result<()> {
        self.find(
            Severity::High,
            "archive_unscannable",
            "7z",
            loc,
            0,
            "7-Zip archive: compressed contents are not inspected; treat as unverified",
        );
        // Stored (copy-method) streams start right after the 32-byte
        // signature header: scan a pickle found there.
        // LZMA2 streams may also hold uncompressed chunks (control byte 1 or
        // 2, then a big-endian size - 1): their bytes are the plain data.
        if len > 34 {
            let mut w = Window {
                inner: src,
                start: 32,
                len: len - 32,
                pos: 0,
            };
            let head = read_head(&mut w, 16)?;
            if pickle::looks_like_binary_pickle(&head) {
                let out = pickle::walk(
                    &mut Input::new(BufReader::new(&mut w), 32),
                    &self.opts.pickle,
                );
                self.record_outcome(&out, &format!("{loc}!<stream 0>"));
                return Ok(());
            }
            let mut plain = Vec::new();
            let mut at = 0u64;
            loop {
                w.seek(SeekFrom::Start(at))?;
                let mut ctl = [0u8; 3];
                if w.read_exact(&mut ctl).is_err() || !matches!(ctl[0], 1 | 2) {
                    break;
                }
                let n = u64::from(u16::from_be_bytes([ctl[1], ctl[2]])) + 1;
                if plain.len() as u64 + n > self.opts.max_buffered {
                    break;
                }
                let mut chunk = Vec::new();
                (&mut w).take(n).read_to_end(&mut chunk)?;
                plain.extend_from_slice(&chunk);
                at += 3 + n;
            }
            if detect(&plain, plain.len() as u64) == Format::Pickle {
                let out = pickle::walk_bytes(&plain, &self.opts.pickle);
                self.record_outcome(&out, &format!("{loc}!<lzma2 stored chunk>"));
            }
        }
        Ok(())
    }

    fn scan_gzip(
        &mut self,
        src: &mut dyn ReadSeek,
        loc: &str,
        depth: u32,
        zlib: bool,
    ) -> Result<()> {
        let inner_loc = format!("{loc}!<{}>", if zlib { "zlib" } else { "gzip" });
        if depth >= self.opts.max_depth {
            self.find(
                Severity::High,
                "archive_too_deep",
                "",
                &inner_loc,
                0,
                "archive nesting exceeds the depth bound; not scanned",
            );
            return Ok(());
        }
        fn decoder<'a>(src: &'a mut dyn ReadSeek, zlib: bool) -> Box<dyn Read + 'a> {
            if zlib {
                Box::new(ZlibDecoder::new(src))
            } else {
                Box::new(GzDecoder::new(src))
            }
        }
        src.seek(SeekFrom::Start(0))?;
        let mut head = Vec::new();
        decoder(&mut *src, zlib).take(512).read_to_end(&mut head)?;
        src.seek(SeekFrom::Start(0))?;
        if detect(&head, u64::MAX) == Format::Pickle {
            let mut left = self.inflate_left;
            let mut budget = Budget {
                inner: decoder(&mut *src, zlib),
                left: &mut left,
            };
            let reader = BufReader::with_capacity(64 << 10, &mut budget);
            let r = self.scan_pickles(reader, 0, &inner_loc, true);
            self.inflate_left = left;
            return r;
        }
        let data = self.buffer(decoder(&mut *src, zlib), &inner_loc)?;
        let n = data.len() as u64;
        self.scan_source(&mut Cursor::new(data), n, &inner_loc, depth + 1)?;
        Ok(())
    }

    fn buffer(&mut self, r: impl Read, loc: &str) -> Result<Vec<u8>> {
        let cap = self.opts.max_buffered.min(self.inflate_left);
        let mut data = Vec::new();
        r.take(cap + 1).read_to_end(&mut data)?;
        if data.len() as u64 > cap {
            return Err(Error::Limit(format!(
                "{loc}: nested archive larger than {cap} bytes after decompression"
            )));
        }
        self.inflate_left -= data.len() as u64;
        Ok(data)
    }

    fn scan_tar(&mut self, src: &mut dyn ReadSeek, len: u64, loc: &str, depth: u32) -> Result<()> {
        let mut at = 0u64;
        while at + 512 <= len {
            src.seek(SeekFrom::Start(at))?;
            let mut h = [0u8; 512];
            src.read_exact(&mut h)?;
            if h.iter().all(|&b| b == 0) {
                break;
            }
            let name: String = String::from_utf8_lossy(&h[..100])
                .trim_end_matches('\0')
                .to_string();
            let size_txt = String::from_utf8_lossy(&h[124..136])
                .trim_matches(|c: char| c == '\0' || c == ' ')
                .to_string();
            let size = u64::from_str_radix(&size_txt, 8)
                .map_err(|_| Error::malformed("tar", at, "bad size field"))?;
            let kind = h[156];
            let data_at = at + 512;
            if data_at + size > len {
                return Err(Error::malformed(
                    "tar",
                    at,
                    "entry runs past the end of the file",
                ));
            }
            self.take_entry()?;
            if (kind == b'0' || kind == 0) && size > 0 {
                let member = format!("{loc}!{name}");
                let mut w = Window {
                    inner: &mut *src,
                    start: data_at,
                    len: size,
                    pos: 0,
                };
                self.scan_member(&mut w, size, &member, depth, &name, false)?;
            }
            at = data_at + size.div_ceil(512) * 512;
        }
        Ok(())
    }

    /// Scans an archive member presented as a seekable source.
    fn scan_member(
        &mut self,
        src: &mut dyn ReadSeek,
        len: u64,
        member: &str,
        depth: u32,
        name: &str,
        encrypted: bool,
    ) -> Result<()> {
        if depth + 1 > self.opts.max_depth {
            self.find(
                Severity::High,
                "archive_too_deep",
                "",
                member,
                0,
                "archive nesting exceeds the depth bound; not scanned",
            );
            return Ok(());
        }
        let findings_before = self.report.findings.len();
        match self.scan_source(src, len, member, depth + 1) {
            Ok(_) => Ok(()),
            Err(Error::UnknownFormat(_)) => {
                if encrypted {
                    self.find(Severity::Low, "encrypted_entry", name, member, 0, "encrypted archive entry: contents cannot be inspected (and cannot be loaded without the password)");
                } else if is_pickle_name(name) {
                    self.report
                        .errors
                        .push(format!("{member}: named like a pickle but not parseable"));
                }
                Ok(())
            }
            Err(_)
                if !is_pickle_name(name)
                    && self.report.findings.len() == findings_before
                    && read_head(src, 512).is_ok_and(|h| weak_pickle(&h)) =>
            {
                Ok(())
            }
            Err(e) if encrypted => {
                self.find(
                    Severity::Low,
                    "encrypted_entry",
                    name,
                    member,
                    0,
                    format!("encrypted archive entry could not be inspected: {e}"),
                );
                Ok(())
            }
            Err(e) => {
                self.report.errors.push(format!("{member}: {e}"));
                Ok(())
            }
        }
    }

    fn scan_zip(&mut self, src: &mut dyn ReadSeek, len: u64, loc: &str, depth: u32) -> Result<()> {
        let entries = zip::entries(src, len, self.opts.max_entries)?;
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        let torch_prefixes: Vec<String> = names
            .iter()
            .filter_map(|n| n.strip_suffix("data.pkl").map(str::to_string))
            .collect();
        let keras = names.contains(&"config.json")
            && (names.contains(&"metadata.json") || names.contains(&"model.weights.h5"));
        let mut seen_ranges = std::collections::HashSet::new();
        for e in &entries {
            let member = format!("{loc}!{}", e.name);
            if e.name.ends_with('/') {
                continue;
            }
            // Every entry at every nesting level draws from one budget, so
            // archives whose entries share data cannot fan out exponentially.
            self.take_entry()?;
            if !e.in_central_directory {
                self.find(
                    Severity::Medium,
                    "zip_hidden_entry",
                    e.name.clone(),
                    loc,
                    e.header_offset,
                    "entry has a local header but is missing from the central directory",
                );
            }
            if is_torch_storage(&e.name, &torch_prefixes) {
                continue;
            }
            let start = match zip::data_offset(src, e, len) {
                Ok(s) => s,
                Err(err) => {
                    self.report.errors.push(format!("{member}: {err}"));
                    continue;
                }
            };
            if !seen_ranges.insert((start, e.compressed_size)) {
                self.find(
                    Severity::Medium,
                    "zip_overlapping_entries",
                    e.name.clone(),
                    loc,
                    e.header_offset,
                    "entry shares its data with another entry; scanned once",
                );
                continue;
            }
            if e.compressed_size > 0
                && e.uncompressed_size / e.compressed_size.max(1) > self.opts.max_ratio
                && e.uncompressed_size > 64 << 20
            {
                self.find(
                    Severity::High,
                    "zip_bomb",
                    e.name.clone(),
                    loc,
                    e.header_offset,
                    format!(
                        "compression ratio {}:1 over {} bytes; not decompressed",
                        e.uncompressed_size / e.compressed_size,
                        e.uncompressed_size
                    ),
                );
                continue;
            }
            if keras && e.name == "config.json" {
                self.scan_keras_config(src, e, start, &member)?;
                continue;
            }
            match e.method {
                0 => {
                    let mut w = Window {
                        inner: &mut *src,
                        start,
                        len: e.compressed_size,
                        pos: 0,
                    };
                    self.scan_member(
                        &mut w,
                        e.compressed_size,
                        &member,
                        depth,
                        &e.name,
                        e.encrypted(),
                    )?;
                }
                8 => self.scan_deflated(src, e, start, &member, depth)?,
                m => {
                    let (sev, msg) = if e.encrypted() {
                        (
                            Severity::Low,
                            format!("encrypted entry (method {m}) cannot be inspected"),
                        )
                    } else {
                        (
                            Severity::High,
                            format!(
                                "compression method {m} is not supported by the scanner; entry not inspected"
                            ),
                        )
                    };
                    self.find(
                        sev,
                        "zip_unsupported_entry",
                        e.name.clone(),
                        &member,
                        0,
                        msg,
                    );
                }
            }
        }
        Ok(())
    }

    fn scan_deflated(
        &mut self,
        src: &mut dyn ReadSeek,
        e: &zip::Entry,
        start: u64,
        member: &str,
        depth: u32,
    ) -> Result<()> {
        let mut head = Vec::new();
        {
            let w = Window {
                inner: &mut *src,
                start,
                len: e.compressed_size,
                pos: 0,
            };
            let _ = DeflateDecoder::new(w).take(512).read_to_end(&mut head);
        }
        let fmt = detect(&head, u64::MAX);
        if fmt == Format::Unknown || head.is_empty() {
            if e.encrypted() {
                self.find(
                    Severity::Low,
                    "encrypted_entry",
                    e.name.clone(),
                    member,
                    0,
                    "encrypted archive entry: contents cannot be inspected",
                );
            } else if is_pickle_name(&e.name) {
                self.report
                    .errors
                    .push(format!("{member}: named like a pickle but not parseable"));
            }
            return Ok(());
        }
        if depth + 1 > self.opts.max_depth {
            self.find(
                Severity::High,
                "archive_too_deep",
                "",
                member,
                0,
                "archive nesting exceeds the depth bound; not scanned",
            );
            return Ok(());
        }
        let w = Window {
            inner: &mut *src,
            start,
            len: e.compressed_size,
            pos: 0,
        };
        if matches!(fmt, Format::Pickle | Format::Npy) {
            let mut left = self.inflate_left;
            let mut budget = Budget {
                inner: DeflateDecoder::new(w),
                left: &mut left,
            };
            let reader = BufReader::with_capacity(64 << 10, &mut budget);
            let result = if fmt == Format::Pickle {
                self.scan_pickles(reader, 0, member, true)
            } else {
                self.scan_npy(reader, member)
            };
            self.inflate_left = left;
            if let Err(err) = result {
                if !is_pickle_name(&e.name) && weak_pickle(&head) {
                    // Text that merely starts with an opcode byte.
                } else if e.encrypted() {
                    self.find(
                        Severity::Low,
                        "encrypted_entry",
                        e.name.clone(),
                        member,
                        0,
                        format!("encrypted entry could not be inspected: {err}"),
                    );
                } else {
                    self.report.errors.push(format!("{member}: {err}"));
                }
            }
            return Ok(());
        }
        let data = match self.buffer(DeflateDecoder::new(w), member) {
            Ok(d) => d,
            Err(err) => {
                self.report.errors.push(err.to_string());
                return Ok(());
            }
        };
        let n = data.len() as u64;
        self.scan_member(
            &mut Cursor::new(data),
            n,
            member,
            depth,
            &e.name,
            e.encrypted(),
        )
    }

    fn scan_keras_config(
        &mut self,
        src: &mut dyn ReadSeek,
        e: &zip::Entry,
        start: u64,
        member: &str,
    ) -> Result<()> {
        let w = Window {
            inner: &mut *src,
            start,
            len: e.compressed_size,
            pos: 0,
        };
        let data = match e.method {
            0 => self.buffer(w, member)?,
            8 => self.buffer(DeflateDecoder::new(w), member)?,
            m => {
                return Err(Error::malformed(
                    "keras",
                    0,
                    format!("config.json compressed with method {m}"),
                ));
            }
        };
        let json: serde_json::Value = serde_json::from_slice(&data).map_err(|err| {
            Error::malformed("keras", 0, format!("config.json is not JSON: {err}"))
        })?;
        let mut hits = Vec::new();
        keras_walk(&json, &mut hits, 0);
        for (sev, construct, msg) in hits {
            self.find(sev, "keras_unsafe_layer", construct, member, 0, msg);
        }
        Ok(())
    }
}

/// True when content was classified as a pickle only because its first byte
/// happens to be a protocol 0/1 opcode (text such as `little` or `MIT
/// License` qualifies): a failed parse then means "not a pickle".
fn weak_pickle(head: &[u8]) -> bool {
    detect(head, u64::MAX) == Format::Pickle && !pickle::looks_like_binary_pickle(head)
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn is_pickle_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".pkl", ".pickle", ".pt", ".pth", ".bin", ".joblib", ".ckpt"]
        .iter()
        .any(|s| lower.ends_with(s))
}

fn is_torch_storage(name: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| {
        name.strip_prefix(p.as_str())
            .and_then(|rest| rest.strip_prefix("data/"))
            .is_some_and(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
    }) || name.starts_with(".data/") && !name.ends_with(".pkl")
}

fn keras_walk(v: &serde_json::Value, hits: &mut Vec<(Severity, String, String)>, depth: u32) {
    if depth > 200 {
        return;
    }
    match v {
        serde_json::Value::Object(map) => {
            if let Some(cls) = map.get("class_name").and_then(|c| c.as_str()) {
                match cls {
                    "Lambda" => hits.push((
                        Severity::Critical,
                        "Lambda".into(),
                        "Keras Lambda layer: deserialising it runs Python code (safe_mode=False) "
                            .trim()
                            .into(),
                    )),
                    "__lambda__" => hits.push((
                        Severity::Critical,
                        "__lambda__".into(),
                        "serialized Python lambda (bytecode) in the config".into(),
                    )),
                    "TFOpLambda" => hits.push((
                        Severity::Medium,
                        "TFOpLambda".into(),
                        "TFOpLambda layer calls TensorFlow functions by name".into(),
                    )),
                    _ => {}
                }
            }
            if let Some(module) = map.get("module").and_then(|m| m.as_str()) {
                let ok = ["keras", "tensorflow", "tf_keras", "builtins"]
                    .iter()
                    .any(|p| module == *p || module.starts_with(&format!("{p}.")));
                if !ok {
                    hits.push((
                        Severity::High,
                        module.to_string(),
                        "config references a module outside Keras: custom code is imported on load"
                            .into(),
                    ));
                }
            }
            for child in map.values() {
                keras_walk(child, hits, depth + 1);
            }
        }
        serde_json::Value::Array(a) => {
            for child in a {
                keras_walk(child, hits, depth + 1);
            }
        }
        _ => {}
    }
}
