//! NumPy `.npy` headers (format spec: numpy `lib/format.py`, NEP 1).
//!
//! An `.npy` file is `\x93NUMPY`, a version, a header length and a Python
//! dict literal `{'descr': ..., 'fortran_order': ..., 'shape': (...)}`. When
//! the dtype contains objects (`'O'`), the data that follows is a pickle,
//! which `numpy.load(allow_pickle=True)` unpickles.

use std::io::BufRead;

use crate::io::Input;
use crate::{Error, Result};

/// The parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The raw `descr` text.
    pub descr: String,
    /// Whether the dtype holds Python objects (so the payload is a pickle).
    pub has_objects: bool,
    /// Offset of the array data.
    pub data_offset: u64,
}

/// Reads the header; `input` is left at the start of the data.
pub fn read_header<R: BufRead>(input: &mut Input<R>) -> Result<Header> {
    let start = input.pos();
    let mut magic = [0u8; 8];
    input
        .exact(&mut magic)
        .map_err(|_| Error::malformed("npy", start, "truncated magic"))?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(Error::malformed("npy", start, "bad magic"));
    }
    let hlen = match magic[6] {
        1 => {
            let mut b = [0u8; 2];
            input
                .exact(&mut b)
                .map_err(|_| Error::malformed("npy", start, "truncated"))?;
            u64::from(u16::from_le_bytes(b))
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            input
                .exact(&mut b)
                .map_err(|_| Error::malformed("npy", start, "truncated"))?;
            u64::from(u32::from_le_bytes(b))
        }
        v => {
            return Err(Error::malformed(
                "npy",
                start + 6,
                format!("unknown version {v}"),
            ));
        }
    };
    if hlen > 1 << 20 {
        return Err(Error::Limit(format!("npy header of {hlen} bytes")));
    }
    let raw = input
        .take_vec(hlen as usize)
        .map_err(|_| Error::malformed("npy", start, "truncated header"))?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let descr =
        descr_of(&text).ok_or_else(|| Error::malformed("npy", start, "header has no 'descr'"))?;
    let has_objects = descr_has_objects(&descr);
    Ok(Header {
        descr,
        has_objects,
        data_offset: input.pos(),
    })
}

fn descr_of(header: &str) -> Option<String> {
    let i = header.find("'descr'")? + "'descr'".len();
    let rest = header
        .get(i..)?
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    if rest.starts_with('\'') || rest.starts_with('"') {
        let q = rest.chars().next()?;
        let end = rest.get(1..)?.find(q)? + 1;
        return rest.get(1..end).map(str::to_string);
    }
    // A structured dtype: a list of tuples; keep up to the matching bracket.
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => {
                depth -= 1;
                if depth == 0 {
                    return rest.get(..=i).map(str::to_string);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether a dtype description contains an object field.
pub fn descr_has_objects(descr: &str) -> bool {
    // Simple descr: '|O', 'O', '<O8'; structured: [('a', 'O'), ...].
    let mut chars = descr.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        if c == 'O' && matches!(prev, '\'' | '"' | '|' | '<' | '>' | '=') {
            let next = chars.peek().copied().unwrap_or('\'');
            if matches!(next, '\'' | '"' | '8' | '4') {
                return true;
            }
        }
        prev = c;
    }
    descr == "O"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_objects() {
        assert!(descr_has_objects("|O"));
        assert!(descr_has_objects("[('a', '<f8'), ('b', '|O')]"));
        assert!(!descr_has_objects("<f8"));
        assert!(!descr_has_objects("[('Obj', '<f8')]"));
    }
}
