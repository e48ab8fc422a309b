//! safetensors header checks (format: huggingface/safetensors README).
//!
//! Layout: an 8-byte little-endian header length N, N bytes of JSON
//! (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`),
//! then the data buffer. Offsets are relative to the buffer. The reference
//! loader requires offsets inside the buffer, sizes matching dtype × shape,
//! and no overlaps or gaps; anything else is a crafted or corrupt file.

use crate::finding::Severity;

/// Largest header the reference implementation accepts (100 MB).
pub const MAX_HEADER: u64 = 100_000_000;

/// A problem in a safetensors header: severity, rule, construct, message.
pub type Problem = (Severity, &'static str, String, String);

fn dtype_size(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E4M3" | "F8_E5M2" | "F8_E8M0" => 1,
        "U16" | "I16" | "F16" | "BF16" => 2,
        "U32" | "I32" | "F32" => 4,
        "U64" | "I64" | "F64" | "C64" => 8,
        "F4" | "F6_E2M3" | "F6_E3M2" => return None,
        _ => return None,
    })
}

/// Checks a parsed header against a data buffer of `buffer_len` bytes.
pub fn check_header(header: &[u8], buffer_len: u64) -> Result<Vec<Problem>, String> {
    let json: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| format!("header is not JSON: {e}"))?;
    let obj = json.as_object().ok_or("header is not a JSON object")?;
    let mut problems = Vec::new();
    let mut spans: Vec<(u64, u64, String)> = Vec::new();
    for (name, v) in obj {
        if name == "__metadata__" {
            if let Some(m) = v.as_object() {
                if m.values().any(|x| !x.is_string()) {
                    problems.push((
                        Severity::Medium,
                        "safetensors_metadata",
                        name.clone(),
                        "__metadata__ values must be strings".into(),
                    ));
                }
            } else {
                problems.push((
                    Severity::Medium,
                    "safetensors_metadata",
                    name.clone(),
                    "__metadata__ is not an object".into(),
                ));
            }
            continue;
        }
        let t = v
            .as_object()
            .ok_or_else(|| format!("tensor {name} is not an object"))?;
        let dtype = t
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| format!("tensor {name} has no dtype"))?;
        let shape: Option<Vec<u64>> = t
            .get("shape")
            .and_then(|s| s.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_u64()).collect());
        let offs: Option<Vec<u64>> = t
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_u64()).collect());
        let (Some(shape), Some(offs)) = (shape, offs) else {
            return Err(format!("tensor {name} lacks shape or data_offsets"));
        };
        let [begin, end] = offs[..] else {
            return Err(format!("tensor {name}: data_offsets must be two integers"));
        };
        if begin > end || end > buffer_len {
            problems.push((
                Severity::High,
                "safetensors_offsets",
                name.clone(),
                format!("data_offsets [{begin}, {end}] outside the {buffer_len}-byte data buffer"),
            ));
            continue;
        }
        if let Some(size) = dtype_size(dtype) {
            let n = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d));
            if n.and_then(|n| n.checked_mul(size)) != Some(end - begin) {
                problems.push((
                    Severity::High,
                    "safetensors_size",
                    name.clone(),
                    format!(
                        "{dtype} {shape:?} does not match {} data bytes",
                        end - begin
                    ),
                ));
            }
        }
        spans.push((begin, end, name.clone()));
    }
    spans.sort();
    let mut cursor = 0u64;
    for (b, e, name) in &spans {
        if *b < cursor {
            problems.push((
                Severity::High,
                "safetensors_overlap",
                name.clone(),
                format!("tensor data [{b}, {e}] overlaps the previous tensor"),
            ));
        } else if *b > cursor {
            problems.push((
                Severity::Medium,
                "safetensors_gap",
                name.clone(),
                format!("{} unaccounted bytes before this tensor", b - cursor),
            ));
        }
        cursor = cursor.max(*e);
    }
    if cursor < buffer_len && !spans.is_empty() {
        problems.push((
            Severity::Medium,
            "safetensors_trailing",
            String::new(),
            format!("{} bytes after the last tensor", buffer_len - cursor),
        ));
    }
    Ok(problems)
}
