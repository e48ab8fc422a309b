//! GGUF header and metadata checks (format: ggml `docs/gguf.md`).
//!
//! Layout: `GGUF`, u32 version (1–3), tensor count, metadata key/value count
//! (u64; u32 in version 1), the key/value pairs, then tensor infos. Every
//! length and count is checked against the bytes left in the file and
//! against fixed caps, so a crafted header cannot make the scanner allocate
//! or loop without bound (the class of bugs behind several GGUF parser CVEs).
//! Chat templates (`tokenizer.chat_template*`) are Jinja2 that llama.cpp
//! front ends and `transformers` render; constructs that reach Python
//! internals (`__class__`, `__globals__`, ...) are the known template
//! injection route to code execution.

use std::io::BufRead;

use crate::finding::Severity;
use crate::io::Input;
use crate::{Error, Result};

/// A problem found in a GGUF file: severity, rule, construct, offset, message.
pub type Problem = (Severity, &'static str, String, u64, String);

const MAX_STRING: u64 = 64 << 20;
const MAX_ARRAY: u64 = 1 << 28;
const MAX_KV: u64 = 1 << 20;
const MAX_TENSORS: u64 = 1 << 24;

struct Reader<'a, R> {
    input: &'a mut Input<R>,
    len: u64,
    v1: bool,
}

fn bad(at: u64, reason: impl Into<String>) -> Error {
    Error::malformed("gguf", at, reason)
}

impl<R: BufRead> Reader<'_, R> {
    fn left(&self) -> u64 {
        self.len.saturating_sub(self.input.pos())
    }
    fn n<const W: usize>(&mut self) -> Result<[u8; W]> {
        let at = self.input.pos();
        let mut b = [0u8; W];
        self.input.exact(&mut b).map_err(|_| bad(at, "truncated"))?;
        Ok(b)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.n::<4>()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.n::<8>()?))
    }
    fn count(&mut self) -> Result<u64> {
        if self.v1 {
            Ok(u64::from(self.u32()?))
        } else {
            self.u64()
        }
    }
    fn string(&mut self, keep: bool) -> Result<Option<Vec<u8>>> {
        let at = self.input.pos();
        let n = self.count()?;
        if n > MAX_STRING || n > self.left() {
            return Err(bad(
                at,
                format!("string length {n} exceeds the file or the {MAX_STRING}-byte cap"),
            ));
        }
        if keep {
            Ok(Some(
                self.input
                    .take_vec(n as usize)
                    .map_err(|_| bad(at, "truncated string"))?,
            ))
        } else {
            self.input
                .skip(n)
                .map_err(|_| bad(at, "truncated string"))?;
            Ok(None)
        }
    }
    fn value(&mut self, ty: u32, keep: bool, depth: u32) -> Result<Option<Vec<u8>>> {
        let at = self.input.pos();
        let width = match ty {
            0 | 1 | 7 => 1,
            2 | 3 => 2,
            4..=6 => 4,
            10..=12 => 8,
            8 => return self.string(keep),
            9 => {
                if depth > 4 {
                    return Err(bad(at, "arrays nested too deeply"));
                }
                let inner = self.u32()?;
                let n = self.count()?;
                if n > MAX_ARRAY || n > self.left() {
                    return Err(bad(at, format!("array of {n} elements exceeds the file")));
                }
                for _ in 0..n {
                    self.value(inner, false, depth + 1)?;
                }
                return Ok(None);
            }
            other => return Err(bad(at, format!("unknown metadata value type {other}"))),
        };
        self.input
            .skip(width)
            .map_err(|_| bad(at, "truncated value"))?;
        Ok(None)
    }
}

/// Walks the header of a GGUF file of `len` bytes; returns problems found.
pub fn check<R: BufRead>(input: &mut Input<R>, len: u64) -> Result<Vec<Problem>> {
    let mut magic = [0u8; 4];
    input.exact(&mut magic).map_err(|_| bad(0, "truncated"))?;
    if &magic != b"GGUF" {
        return Err(bad(0, "bad magic"));
    }
    let mut r = Reader {
        input,
        len,
        v1: false,
    };
    let version = r.u32()?;
    if !(1..=3).contains(&version) {
        return Err(bad(4, format!("unsupported version {version}")));
    }
    r.v1 = version == 1;
    let tensors = r.count()?;
    let kvs = r.count()?;
    if kvs > MAX_KV || tensors > MAX_TENSORS {
        return Err(Error::Limit(format!(
            "gguf declares {kvs} metadata pairs and {tensors} tensors"
        )));
    }
    let mut problems = Vec::new();
    let mut alignment = 32u64;
    for _ in 0..kvs {
        let key = r.string(true)?.unwrap_or_default();
        let key = String::from_utf8_lossy(&key).into_owned();
        let at = r.input.pos();
        let ty = r.u32()?;
        let is_template = key.starts_with("tokenizer.chat_template");
        if key == "general.alignment" && ty == 4 {
            alignment = u64::from(r.u32()?).max(1);
            continue;
        }
        let val = r.value(ty, is_template && ty == 8, 0)?;
        if let Some(v) = val {
            let text = String::from_utf8_lossy(&v);
            for (sev, construct, why) in jinja_risks(&text) {
                problems.push((
                    sev,
                    "gguf_chat_template",
                    construct,
                    at,
                    format!("{key}: {why}"),
                ));
            }
        }
    }
    let mut max_end = 0u64;
    for _ in 0..tensors {
        let at = r.input.pos();
        r.string(false)?;
        let dims = r.u32()?;
        if dims > 8 {
            return Err(bad(at, format!("tensor with {dims} dimensions")));
        }
        for _ in 0..dims {
            if r.v1 {
                r.u32()?;
            } else {
                r.u64()?;
            }
        }
        r.u32()?;
        let off = r.u64()?;
        if off % alignment != 0 {
            problems.push((
                Severity::Medium,
                "gguf_tensor_offset",
                String::new(),
                at,
                format!("tensor offset {off} not aligned to {alignment}"),
            ));
        }
        max_end = max_end.max(off);
    }
    let data_start = r.input.pos().div_ceil(alignment) * alignment;
    if tensors > 0 && data_start.saturating_add(max_end) > len {
        problems.push((
            Severity::High,
            "gguf_tensor_offset",
            String::new(),
            data_start,
            format!(
                "a tensor starts at {} beyond the {len}-byte file",
                data_start.saturating_add(max_end)
            ),
        ));
    }
    Ok(problems)
}

/// Jinja constructs in a chat template that can reach Python objects.
pub fn jinja_risks(template: &str) -> Vec<(Severity, String, &'static str)> {
    const CRITICAL: &[&str] = &[
        "__class__",
        "__mro__",
        "__subclasses__",
        "__globals__",
        "__builtins__",
        "__import__",
        "__init__",
        "__base__",
        "__bases__",
        "__dict__",
        "__getattribute__",
        "__reduce__",
        "__code__",
        "func_globals",
        "_TemplateReference__context",
    ];
    const HIGH: &[&str] = &[
        "|attr",
        "| attr",
        "attr(",
        "popen",
        "subprocess",
        "os.system",
        "eval(",
        "exec(",
        "import ",
        "self._",
        "lipsum",
        "cycler",
        "joiner",
        "namespace.__",
        "config.items",
        "request.",
        "getattr",
        "\\x5f\\x5f",
        "\\u005f",
    ];
    let mut out = Vec::new();
    let lower = template.to_ascii_lowercase();
    for p in CRITICAL {
        if template.contains(p) {
            out.push((
                Severity::Critical,
                (*p).to_string(),
                "Jinja template reaches Python internals (sandbox escape)",
            ));
        }
    }
    for p in HIGH {
        if lower.contains(p) {
            out.push((
                Severity::High,
                (*p).to_string(),
                "Jinja construct commonly used to escape the template sandbox",
            ));
        }
    }
    // Dunder names assembled from pieces: '__' ~ 'class' ~ '__'.
    if out.is_empty() && (template.contains("'__'") || template.contains("\"__\"")) {
        out.push((
            Severity::High,
            "'__'".into(),
            "template assembles a dunder name from string pieces",
        ));
    }
    out
}
