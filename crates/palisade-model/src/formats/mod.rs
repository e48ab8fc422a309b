//! Container and file-format parsers. Each parser is streaming and bounded;
//! the [`crate::scan`] module decides which one applies from magic bytes.

pub mod gguf;
pub mod npy;
pub mod onnx;
pub mod safetensors;
pub mod zip;

/// A file format, recognised from content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A zip archive (PyTorch, npz, keras, or generic).
    Zip,
    /// A pickle stream (any protocol), possibly legacy PyTorch.
    Pickle,
    /// NumPy `.npy`.
    Npy,
    /// safetensors.
    Safetensors,
    /// GGUF.
    Gguf,
    /// HDF5 (Keras `.h5`).
    Hdf5,
    /// ONNX protobuf.
    Onnx,
    /// 7-Zip archive.
    SevenZip,
    /// POSIX tar (legacy PyTorch tar checkpoints).
    Tar,
    /// gzip stream (compressed joblib / pickle).
    Gzip,
    /// zlib stream (joblib's default compressor).
    Zlib,
    /// xz, bzip2 or lz4 stream (joblib compressors the scanner cannot decode).
    OtherCompressed,
    /// Not recognised.
    Unknown,
}

/// Recognises a format from the first bytes (at least 512 if available)
/// and the total length.
pub fn detect(head: &[u8], len: u64) -> Format {
    if head.starts_with(b"PK\x03\x04")
        || head.starts_with(b"PK\x05\x06")
        || head.starts_with(b"PK\x07\x08")
    {
        return Format::Zip;
    }
    if head.starts_with(b"\x93NUMPY") {
        return Format::Npy;
    }
    if head.starts_with(b"GGUF") {
        return Format::Gguf;
    }
    if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        return Format::Hdf5;
    }
    if head.starts_with(b"7z\xbc\xaf\x27\x1c") {
        return Format::SevenZip;
    }
    if head.get(257..262) == Some(b"ustar") {
        return Format::Tar;
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return Format::Gzip;
    }
    if let [0x78, b1, ..] = head
        && (0x7800u16 | u16::from(*b1)).is_multiple_of(31)
    {
        return Format::Zlib;
    }
    if head.starts_with(b"\xfd7zXZ\x00")
        || head.starts_with(b"BZh")
        || head.starts_with(&[0x04, 0x22, 0x4d, 0x18])
    {
        return Format::OtherCompressed;
    }
    if let Some(n) = head.get(..8) {
        let mut b = [0u8; 8];
        b.copy_from_slice(n);
        let n = u64::from_le_bytes(b);
        if n >= 2 && n.saturating_add(8) <= len && head.get(8) == Some(&b'{') {
            return Format::Safetensors;
        }
    }
    if onnx::sniff(head) {
        return Format::Onnx;
    }
    if crate::pickle::looks_like_binary_pickle(head)
        || head.first().is_some_and(|&b| crate::pickle::is_opcode(b))
    {
        return Format::Pickle;
    }
    Format::Unknown
}
