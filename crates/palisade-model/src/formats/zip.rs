//! A tolerant zip reader for model containers.
//!
//! PyTorch checkpoints, `.npz` arrays and `.keras` models are zip files, and
//! attackers use zip quirks to hide pickles from scanners that are stricter
//! than the loader: encryption flag bits on plain data, wrong CRCs, names
//! that differ between the local header and the central directory, entries
//! missing from the central directory. This reader accepts what loaders
//! accept: it takes the entry list from the central directory (what
//! `zipfile` and PyTorch's miniz use), ignores CRCs and flag bits, locates
//! data through the local header, and additionally hops through the local
//! headers to find entries the central directory does not list.
//!
//! Format facts from PKWARE's APPNOTE.TXT (sections 4.3.7, 4.3.12, 4.3.16,
//! 4.4.4 general purpose flags, 4.5.3 Zip64 extra field).

use std::io::{Read, Seek, SeekFrom};

use crate::{Error, Result};

/// One entry of a zip archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Name (from the central directory when listed there).
    pub name: String,
    /// Offset of the local file header.
    pub header_offset: u64,
    /// Compression method (0 stored, 8 deflate, ...).
    pub method: u16,
    /// General-purpose flag bits.
    pub flags: u16,
    /// Compressed size.
    pub compressed_size: u64,
    /// Uncompressed size as declared.
    pub uncompressed_size: u64,
    /// False when the entry was only found by walking local headers.
    pub in_central_directory: bool,
}

impl Entry {
    /// Whether the "encrypted" flag bit is set.
    pub fn encrypted(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// Readable and seekable source.
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

fn le16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}
fn le32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}
fn le64(b: &[u8], at: usize) -> u64 {
    match b.get(at..at + 8) {
        Some(s) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            u64::from_le_bytes(a)
        }
        None => 0,
    }
}

fn bad(offset: u64, reason: impl Into<String>) -> Error {
    Error::malformed("zip", offset, reason)
}

/// Lists the entries of a zip archive of `len` bytes.
pub fn entries(src: &mut dyn ReadSeek, len: u64, max_entries: usize) -> Result<Vec<Entry>> {
    let mut list = central_directory(src, len, max_entries).unwrap_or_default();
    let known: std::collections::HashSet<u64> = list.iter().map(|e| e.header_offset).collect();
    let cd_sizes: std::collections::HashMap<u64, u64> = list
        .iter()
        .map(|e| (e.header_offset, e.compressed_size))
        .collect();
    for e in local_walk(src, len, max_entries, &cd_sizes)? {
        if !known.contains(&e.header_offset) {
            list.push(e);
        }
    }
    if list.is_empty() && len >= 22 {
        // An archive with a valid end record but no entries is fine; no end
        // record and no local headers is not a zip at all.
        if find_eocd(src, len)?.is_none() {
            return Err(bad(0, "no central directory and no local file headers"));
        }
    }
    if list.len() > max_entries {
        return Err(Error::Limit(format!(
            "zip with more than {max_entries} entries"
        )));
    }
    Ok(list)
}

fn find_eocd(src: &mut dyn ReadSeek, len: u64) -> Result<Option<(u64, Vec<u8>)>> {
    let tail_len = len.min(22 + 65535);
    let start = len - tail_len;
    src.seek(SeekFrom::Start(start))?;
    let mut tail = vec![0u8; tail_len as usize];
    src.read_exact(&mut tail)?;
    let pos = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail.get(i..i + 4) == Some(b"PK\x05\x06"));
    Ok(pos.map(|i| (start + i as u64, tail[i..].to_vec())))
}

fn central_directory(src: &mut dyn ReadSeek, len: u64, max_entries: usize) -> Result<Vec<Entry>> {
    let Some((eocd_at, eocd)) = find_eocd(src, len)? else {
        return Ok(Vec::new());
    };
    let mut count = u64::from(le16(&eocd, 10));
    let mut cd_size = u64::from(le32(&eocd, 12));
    let mut cd_offset = u64::from(le32(&eocd, 16));
    let mut cd_end = eocd_at;
    // Zip64 end of central directory locator sits just before the EOCD.
    if eocd_at >= 20 {
        src.seek(SeekFrom::Start(eocd_at - 20))?;
        let mut loc = [0u8; 20];
        src.read_exact(&mut loc)?;
        if &loc[..4] == b"PK\x06\x07" {
            let z64_at = le64(&loc, 8);
            if z64_at.checked_add(56).is_some_and(|end| end <= len) {
                src.seek(SeekFrom::Start(z64_at))?;
                let mut z = [0u8; 56];
                src.read_exact(&mut z)?;
                if &z[..4] == b"PK\x06\x06" {
                    count = le64(&z, 32);
                    cd_size = le64(&z, 40);
                    cd_offset = le64(&z, 48);
                    cd_end = z64_at;
                }
            }
        }
    }
    if count > max_entries as u64 {
        return Err(Error::Limit(format!("zip declares {count} entries")));
    }
    // Data prepended to the archive shifts every offset: PyTorch and zipfile
    // both correct for it by comparing where the directory really ends.
    let shift = cd_end.saturating_sub(cd_offset.saturating_add(cd_size));
    let cd_start = cd_offset.saturating_add(shift);
    if cd_size > len || cd_start > len {
        return Err(bad(eocd_at, "central directory outside the file"));
    }
    src.seek(SeekFrom::Start(cd_start))?;
    let mut cd = vec![0u8; cd_size as usize];
    src.read_exact(&mut cd)?;
    let mut out = Vec::new();
    let mut p = 0usize;
    while p + 46 <= cd.len() && out.len() < count as usize {
        if le32(&cd, p) != 0x0201_4b50 {
            return Err(bad(cd_start + p as u64, "bad central directory record"));
        }
        let flags = le16(&cd, p + 8);
        let method = le16(&cd, p + 10);
        let mut csize = u64::from(le32(&cd, p + 20));
        let mut usize_ = u64::from(le32(&cd, p + 24));
        let nlen = le16(&cd, p + 28) as usize;
        let xlen = le16(&cd, p + 30) as usize;
        let clen = le16(&cd, p + 32) as usize;
        let mut hoff = u64::from(le32(&cd, p + 42));
        let name_bytes = cd
            .get(p + 46..p + 46 + nlen)
            .ok_or_else(|| bad(cd_start, "name outside directory"))?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        if let Some(extra) = cd.get(p + 46 + nlen..p + 46 + nlen + xlen) {
            let mut q = 0;
            while q + 4 <= extra.len() {
                let id = le16(extra, q);
                let sz = le16(extra, q + 2) as usize;
                if id == 1 {
                    let mut r = q + 4;
                    if usize_ == 0xFFFF_FFFF {
                        usize_ = le64(extra, r);
                        r += 8;
                    }
                    if csize == 0xFFFF_FFFF {
                        csize = le64(extra, r);
                        r += 8;
                    }
                    if hoff == 0xFFFF_FFFF {
                        hoff = le64(extra, r);
                    }
                }
                q += 4 + sz;
            }
        }
        out.push(Entry {
            name,
            header_offset: hoff.saturating_add(shift),
            method,
            flags,
            compressed_size: csize,
            uncompressed_size: usize_,
            in_central_directory: true,
        });
        p += 46 + nlen + xlen + clen;
    }
    Ok(out)
}

fn local_walk(
    src: &mut dyn ReadSeek,
    len: u64,
    max_entries: usize,
    cd_sizes: &std::collections::HashMap<u64, u64>,
) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut at = 0u64;
    while at + 30 <= len && out.len() <= max_entries {
        src.seek(SeekFrom::Start(at))?;
        let mut h = [0u8; 30];
        src.read_exact(&mut h)?;
        if le32(&h, 0) != 0x0403_4b50 {
            break;
        }
        let flags = le16(&h, 6);
        let method = le16(&h, 8);
        let mut csize = u64::from(le32(&h, 18));
        let mut usize_ = u64::from(le32(&h, 22));
        let nlen = le16(&h, 26) as u64;
        let xlen = le16(&h, 28) as u64;
        let mut name = vec![0u8; nlen as usize];
        src.read_exact(&mut name)?;
        let mut extra = vec![0u8; xlen as usize];
        src.read_exact(&mut extra)?;
        let mut q = 0;
        while q + 4 <= extra.len() {
            if le16(&extra, q) == 1 {
                if usize_ == 0xFFFF_FFFF {
                    usize_ = le64(&extra, q + 4);
                }
                if csize == 0xFFFF_FFFF {
                    csize = le64(&extra, q + 12);
                }
            }
            q += 4 + le16(&extra, q + 2) as usize;
        }
        if let Some(&c) = cd_sizes.get(&at) {
            csize = c;
        } else if flags & 8 != 0 && csize == 0 {
            // Sizes follow the data; without the directory we cannot hop on.
            out.push(Entry {
                name: String::from_utf8_lossy(&name).into_owned(),
                header_offset: at,
                method,
                flags,
                compressed_size: len.saturating_sub(at + 30 + nlen + xlen),
                uncompressed_size: 0,
                in_central_directory: false,
            });
            break;
        }
        out.push(Entry {
            name: String::from_utf8_lossy(&name).into_owned(),
            header_offset: at,
            method,
            flags,
            compressed_size: csize,
            uncompressed_size: usize_,
            in_central_directory: false,
        });
        let mut next = (at + 30 + nlen + xlen).saturating_add(csize);
        if flags & 8 != 0 {
            // Optional signature + crc + sizes (zip64 sizes are 8 bytes each).
            src.seek(SeekFrom::Start(next))?;
            let mut sig = [0u8; 4];
            if src.read_exact(&mut sig).is_ok() && u32::from_le_bytes(sig) == 0x0807_4b50 {
                next = next.saturating_add(4);
            }
            next = next.saturating_add(12);
        }
        if next <= at {
            break;
        }
        at = next;
    }
    Ok(out)
}

/// Offset of the entry's data, read from its local header.
pub fn data_offset(src: &mut dyn ReadSeek, entry: &Entry, len: u64) -> Result<u64> {
    src.seek(SeekFrom::Start(entry.header_offset))?;
    let mut h = [0u8; 30];
    src.read_exact(&mut h)
        .map_err(|_| bad(entry.header_offset, "local header outside the file"))?;
    if le32(&h, 0) != 0x0403_4b50 {
        return Err(bad(entry.header_offset, "missing local file header"));
    }
    let start = entry
        .header_offset
        .saturating_add(30 + u64::from(le16(&h, 26)) + u64::from(le16(&h, 28)));
    if start.saturating_add(entry.compressed_size) > len {
        return Err(bad(
            entry.header_offset,
            "entry data runs past the end of the file",
        ));
    }
    Ok(start)
}
