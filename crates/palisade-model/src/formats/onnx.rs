//! ONNX external-data checks.
//!
//! An ONNX model is a protobuf `ModelProto` (onnx/onnx.proto). Tensors may
//! keep their bytes in other files named by `external_data` entries
//! (`location`, `offset`, `length`); the loader opens `location` relative to
//! the model's directory. A location that is absolute, climbs out with `..`,
//! or is a symlink leading outside lets a model read arbitrary files. The
//! walker streams the protobuf (skipping `raw_data` payloads without keeping
//! them) and follows only the messages that can hold tensors:
//! ModelProto.graph(7) and functions(25); GraphProto.node(1),
//! initializer(5), sparse_initializer(15); NodeProto.attribute(5);
//! AttributeProto t(5), g(6), tensors(10), graphs(11), sparse_tensor(22),
//! sparse_tensors(23); SparseTensorProto values(1), indices(2);
//! FunctionProto node(7); TensorProto external_data(13) → StringStringEntryProto.

use std::io::BufRead;

use crate::io::Input;
use crate::{Error, Result};

/// An external data reference found in the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRef {
    /// The `location` value.
    pub location: String,
    /// Offset of the entry in the model file.
    pub offset: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Msg {
    Model,
    Graph,
    Node,
    Attribute,
    Tensor,
    Sparse,
    Function,
    Entry,
}

fn children(m: Msg, field: u64) -> Option<Msg> {
    use Msg::*;
    Some(match (m, field) {
        (Model, 7) => Graph,
        (Model, 25) => Function,
        (Graph, 1) => Node,
        (Graph, 5) => Tensor,
        (Graph, 15) => Sparse,
        (Node, 5) => Attribute,
        (Attribute, 5) | (Attribute, 10) => Tensor,
        (Attribute, 6) | (Attribute, 11) => Graph,
        (Attribute, 22) | (Attribute, 23) => Sparse,
        (Sparse, 1) | (Sparse, 2) => Tensor,
        (Function, 7) => Node,
        (Tensor, 13) => Entry,
        _ => return None,
    })
}

fn bad(at: u64, reason: impl Into<String>) -> Error {
    Error::malformed("onnx", at, reason)
}

fn varint<R: BufRead>(input: &mut Input<R>) -> Result<u64> {
    let at = input.pos();
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = input.byte()?.ok_or_else(|| bad(at, "truncated varint"))?;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(bad(at, "varint too long"))
}

/// Whether the first bytes look like an ONNX `ModelProto`: field 1
/// (`ir_version`, varint) with a small value, then another valid field.
pub fn sniff(head: &[u8]) -> bool {
    matches!(head, [0x08, v, next, ..] if (1..=20).contains(v) && matches!(next, 0x12 | 0x1a | 0x22 | 0x28 | 0x32 | 0x3a | 0x42 | 0x52 | 0x72 | 0xca))
}

/// Collects every external data location in a model of `len` bytes.
pub fn external_refs<R: BufRead>(input: &mut Input<R>, len: u64) -> Result<Vec<ExternalRef>> {
    let mut out = Vec::new();
    walk(input, Msg::Model, len, 0, &mut out)?;
    Ok(out)
}

fn walk<R: BufRead>(
    input: &mut Input<R>,
    msg: Msg,
    end: u64,
    depth: u32,
    out: &mut Vec<ExternalRef>,
) -> Result<()> {
    if depth > 64 {
        return Err(Error::Limit(
            "ONNX messages nested more than 64 deep".into(),
        ));
    }
    let mut key: Option<String> = None;
    let mut value: Option<String> = None;
    let entry_at = input.pos();
    while input.pos() < end {
        let at = input.pos();
        let tag = varint(input)?;
        let (field, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => {
                varint(input)?;
            }
            1 => input.skip(8).map_err(|_| bad(at, "truncated fixed64"))?,
            5 => input.skip(4).map_err(|_| bad(at, "truncated fixed32"))?,
            2 => {
                let n = varint(input)?;
                let stop = input
                    .pos()
                    .checked_add(n)
                    .filter(|&s| s <= end)
                    .ok_or_else(|| bad(at, "length runs past the enclosing message"))?;
                if msg == Msg::Entry && (field == 1 || field == 2) && n <= 4096 {
                    let raw = input
                        .take_vec(n as usize)
                        .map_err(|_| bad(at, "truncated string"))?;
                    let s = String::from_utf8_lossy(&raw).into_owned();
                    if field == 1 {
                        key = Some(s)
                    } else {
                        value = Some(s)
                    }
                } else if let Some(child) = children(msg, field) {
                    walk(input, child, stop, depth + 1, out)?;
                } else {
                    input.skip(n).map_err(|_| bad(at, "truncated field"))?;
                }
            }
            _ => return Err(bad(at, format!("unsupported wire type {wire}"))),
        }
    }
    if input.pos() != end {
        return Err(bad(input.pos(), "message overruns its length"));
    }
    if msg == Msg::Entry
        && key.as_deref() == Some("location")
        && let Some(location) = value
    {
        out.push(ExternalRef {
            location,
            offset: entry_at,
        });
    }
    Ok(())
}
