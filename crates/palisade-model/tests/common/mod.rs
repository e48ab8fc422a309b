//! Test fixtures built from raw bytes: a pickle opcode assembler and a zip
//! writer that can produce the quirks loaders tolerate. Nothing here is ever
//! unpickled; the bytes only feed the scanner.
#![allow(dead_code)]

use std::io::Write;

/// Assembles pickle opcodes.
#[derive(Default, Clone)]
pub struct Asm(pub Vec<u8>);

impl Asm {
    pub fn new() -> Self {
        Asm(Vec::new())
    }
    pub fn proto(mut self, v: u8) -> Self {
        self.0.extend([0x80, v]);
        self
    }
    pub fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    pub fn op(mut self, b: u8) -> Self {
        self.0.push(b);
        self
    }
    /// `c` GLOBAL with text lines.
    pub fn global(mut self, m: &str, n: &str) -> Self {
        self.0.push(b'c');
        self.0.extend_from_slice(format!("{m}\n{n}\n").as_bytes());
        self
    }
    /// `i` INST (pops to MARK).
    pub fn inst(mut self, m: &str, n: &str) -> Self {
        self.0.push(b'i');
        self.0.extend_from_slice(format!("{m}\n{n}\n").as_bytes());
        self
    }
    /// SHORT_BINUNICODE.
    pub fn s(mut self, s: &str) -> Self {
        self.0.extend([0x8c, s.len() as u8]);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    /// BINUNICODE (4-byte length).
    pub fn binunicode(mut self, s: &str) -> Self {
        self.0.push(b'X');
        self.0.extend((s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    /// Protocol 0 `V` UNICODE line.
    pub fn unicode0(mut self, s: &str) -> Self {
        self.0.push(b'V');
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(b'\n');
        self
    }
    /// Protocol 0 `S` STRING line (quoted).
    pub fn string0(mut self, s: &str) -> Self {
        self.0.extend_from_slice(format!("S'{s}'\n").as_bytes());
        self
    }
    /// SHORT_BINBYTES / BINBYTES.
    pub fn bytes(mut self, b: &[u8]) -> Self {
        if b.len() < 256 {
            self.0.extend([b'C', b.len() as u8]);
        } else {
            self.0.push(b'B');
            self.0.extend((b.len() as u32).to_le_bytes());
        }
        self.0.extend_from_slice(b);
        self
    }
    pub fn int(mut self, v: u8) -> Self {
        self.0.extend([b'K', v]);
        self
    }
    pub fn memoize(self) -> Self {
        self.op(0x94)
    }
    pub fn binput(mut self, i: u8) -> Self {
        self.0.extend([b'q', i]);
        self
    }
    pub fn binget(mut self, i: u8) -> Self {
        self.0.extend([b'h', i]);
        self
    }
    pub fn put0(mut self, i: u32) -> Self {
        self.0.extend_from_slice(format!("p{i}\n").as_bytes());
        self
    }
    pub fn get0(mut self, i: u32) -> Self {
        self.0.extend_from_slice(format!("g{i}\n").as_bytes());
        self
    }
    pub fn pop(self) -> Self {
        self.op(b'0')
    }
    pub fn mark(self) -> Self {
        self.op(b'(')
    }
    pub fn tuple(self) -> Self {
        self.op(b't')
    }
    pub fn tuple1(self) -> Self {
        self.op(0x85)
    }
    pub fn tuple2(self) -> Self {
        self.op(0x86)
    }
    pub fn empty_tuple(self) -> Self {
        self.op(b')')
    }
    pub fn empty_dict(self) -> Self {
        self.op(b'}')
    }
    pub fn none(self) -> Self {
        self.op(b'N')
    }
    pub fn reduce(self) -> Self {
        self.op(b'R')
    }
    pub fn build(self) -> Self {
        self.op(b'b')
    }
    pub fn stack_global(self) -> Self {
        self.op(0x93)
    }
    pub fn obj(self) -> Self {
        self.op(b'o')
    }
    pub fn newobj(self) -> Self {
        self.op(0x81)
    }
    pub fn setitem(self) -> Self {
        self.op(b's')
    }
    pub fn binpersid(self) -> Self {
        self.op(b'Q')
    }
    pub fn ext1(mut self, code: u8) -> Self {
        self.0.extend([0x82, code]);
        self
    }
    pub fn stop(self) -> Self {
        self.op(b'.')
    }
    /// `os.system('echo pwned')` in protocol 2 with GLOBAL.
    pub fn os_system() -> Vec<u8> {
        Asm::new()
            .proto(2)
            .global("os", "system")
            .s("echo pwned")
            .tuple1()
            .reduce()
            .stop()
            .0
    }
    /// A benign torch-style state dict pickle.
    pub fn torch_state_dict() -> Vec<u8> {
        Asm::new()
            .proto(2)
            .global("collections", "OrderedDict")
            .empty_tuple()
            .reduce()
            .binput(0)
            .s("weight")
            .global("torch._utils", "_rebuild_tensor_v2")
            .mark()
            .mark()
            .s("storage")
            .global("torch", "FloatStorage")
            .s("0")
            .s("cpu")
            .int(4)
            .tuple()
            .binpersid()
            .int(0)
            .int(4)
            .tuple1()
            .int(1)
            .tuple1()
            .op(0x89)
            .global("collections", "OrderedDict")
            .empty_tuple()
            .reduce()
            .tuple()
            .reduce()
            .setitem()
            .stop()
            .0
    }
}

/// One entry for [`zip`].
#[derive(Clone)]
pub struct ZipEntry {
    pub name: String,
    /// Name written in the local header (defaults to `name`).
    pub local_name: Option<String>,
    pub data: Vec<u8>,
    pub deflate: bool,
    pub flags: u16,
    pub bad_crc: bool,
    /// Leave the entry out of the central directory.
    pub hidden: bool,
    /// Override the declared uncompressed size.
    pub declared_size: Option<u32>,
}

impl ZipEntry {
    pub fn new(name: &str, data: &[u8]) -> Self {
        ZipEntry {
            name: name.into(),
            local_name: None,
            data: data.to_vec(),
            deflate: false,
            flags: 0,
            bad_crc: false,
            hidden: false,
            declared_size: None,
        }
    }
    pub fn deflated(mut self) -> Self {
        self.deflate = true;
        self
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Writes a zip archive.
pub fn zip(entries: &[ZipEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut count = 0u16;
    for e in entries {
        let payload = if e.deflate {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&e.data).unwrap();
            enc.finish().unwrap()
        } else {
            e.data.clone()
        };
        let crc = if e.bad_crc {
            crc32(&e.data) ^ 0xdead_beef
        } else {
            crc32(&e.data)
        };
        let method: u16 = if e.deflate { 8 } else { 0 };
        let usize_ = e.declared_size.unwrap_or(e.data.len() as u32);
        let local_name = e.local_name.clone().unwrap_or_else(|| e.name.clone());
        let offset = out.len() as u32;
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend(20u16.to_le_bytes());
        out.extend(e.flags.to_le_bytes());
        out.extend(method.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend(crc.to_le_bytes());
        out.extend((payload.len() as u32).to_le_bytes());
        out.extend(usize_.to_le_bytes());
        out.extend((local_name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend_from_slice(local_name.as_bytes());
        out.extend_from_slice(&payload);
        if e.hidden {
            continue;
        }
        count += 1;
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend(20u16.to_le_bytes());
        central.extend(20u16.to_le_bytes());
        central.extend(e.flags.to_le_bytes());
        central.extend(method.to_le_bytes());
        central.extend([0u8; 4]);
        central.extend(crc.to_le_bytes());
        central.extend((payload.len() as u32).to_le_bytes());
        central.extend(usize_.to_le_bytes());
        central.extend((e.name.len() as u16).to_le_bytes());
        central.extend([0u8; 12]);
        central.extend(offset.to_le_bytes());
        central.extend_from_slice(e.name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend(count.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// A `.npy` file: header for `descr` and shape (1,), then `data`.
pub fn npy(descr: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (1,), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A safetensors file from a JSON header and a data buffer.
pub fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A GGUF v3 file with string metadata and no tensors.
pub fn gguf(kv: &[(&str, &str)]) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend(0u64.to_le_bytes());
    out.extend((kv.len() as u64).to_le_bytes());
    for (k, v) in kv {
        out.extend((k.len() as u64).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend(8u32.to_le_bytes());
        out.extend((v.len() as u64).to_le_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn field(num: u64, body: &[u8], out: &mut Vec<u8>) {
    varint(num << 3 | 2, out);
    varint(body.len() as u64, out);
    out.extend_from_slice(body);
}

/// A minimal ONNX ModelProto with one initializer stored externally at `location`.
pub fn onnx_external(location: &str) -> Vec<u8> {
    let mut entry = Vec::new();
    field(1, b"location", &mut entry);
    field(2, location.as_bytes(), &mut entry);
    let mut tensor = Vec::new();
    field(8, b"w", &mut tensor);
    field(13, &entry, &mut tensor);
    tensor.extend([0x70, 1]); // data_location = EXTERNAL (field 14, varint)
    let mut graph = Vec::new();
    field(2, b"g", &mut graph);
    field(5, &tensor, &mut graph);
    let mut model = vec![0x08, 8]; // ir_version 8
    field(2, b"test", &mut model);
    field(7, &graph, &mut model);
    model
}
