#![no_main]
//! Fuzzes format detection and every container parser through the scan
//! driver (zip, tar, gzip, npy, safetensors, GGUF, ONNX, HDF5, 7z, pickle).
//!
//! The first byte selects a container shape so the fuzzer reaches deep into
//! each parser: raw input, the input as a stored zip entry, as a deflate
//! stream in a zip entry, or behind each format's magic bytes.
//!
//! Invariants: never panics; bounded work (small budgets below); a file
//! whose only content is a known-dangerous pickle inside a zip entry is
//! always critical (the container layer never hides the payload).

use libfuzzer_sys::fuzz_target;
use palisade_model::scan::scan_bytes;
use palisade_model::{ScanOptions, Severity};

/// A one-entry zip. With `deflate` the entry claims method 8 and the bytes
/// are fed to the inflater as they are (a raw deflate stream when the fuzzer
/// finds one, garbage otherwise).
fn zip_one(name: &str, data: &[u8], deflate: bool) -> Vec<u8> {
    let payload = data.to_vec();
    let mut out = Vec::new();
    out.extend(0x0403_4b50u32.to_le_bytes());
    out.extend([20, 0, 0, 0]);
    out.extend((if deflate { 8u16 } else { 0 }).to_le_bytes());
    out.extend([0u8; 8]);
    out.extend((payload.len() as u32).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out.extend((name.len() as u16).to_le_bytes());
    out.extend([0, 0]);
    out.extend(name.as_bytes());
    out.extend(&payload);
    let cd = out.len() as u32;
    out.extend(0x0201_4b50u32.to_le_bytes());
    out.extend([20, 0, 20, 0, 0, 0]);
    out.extend((if deflate { 8u16 } else { 0 }).to_le_bytes());
    out.extend([0u8; 8]);
    out.extend((payload.len() as u32).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out.extend((name.len() as u16).to_le_bytes());
    out.extend([0u8; 16]);
    out.extend(name.as_bytes());
    let cd_len = out.len() as u32 - cd;
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend(cd_len.to_le_bytes());
    out.extend(cd.to_le_bytes());
    out.extend([0, 0]);
    out
}

const EVIL: &[u8] = b"\x80\x02cos\nsystem\n\x8c\x02id\x85R.";

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let opts = ScanOptions { max_buffered: 1 << 20, max_inflated: 8 << 20, max_entries: 256, ..ScanOptions::default() };
    let input: Vec<u8> = match sel % 8 {
        0 => rest.to_vec(),
        1 => zip_one("archive/data.pkl", rest, false),
        2 => zip_one("x.npy", rest, true),
        3 => [b"GGUF".as_slice(), rest].concat(),
        4 => [b"\x93NUMPY\x01\x00".as_slice(), rest].concat(),
        5 => [(rest.len() as u64).saturating_sub(8).min(64).to_le_bytes().as_slice(), b"{", rest].concat(),
        6 => [b"\x08\x08\x12".as_slice(), rest].concat(),
        _ => {
            // Invariant: junk next to a dangerous pickle never hides it.
            let z = [zip_one("junk.bin", rest, sel & 8 != 0), zip_one("evil.pkl", EVIL, false)].concat();
            let r = scan_bytes("f", &zip_one("outer.zip", &z, false), &opts);
            assert_eq!(r.max_severity(), Some(Severity::Critical));
            let r = scan_bytes("f", &zip_one("evil.pkl", EVIL, false), &opts);
            assert_eq!(r.max_severity(), Some(Severity::Critical));
            return;
        }
    };
    let r = scan_bytes("f", &input, &opts);
    for f in &r.findings {
        assert!(!f.rule.is_empty());
    }
});
