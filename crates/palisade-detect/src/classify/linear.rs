//! The compact weights format of the linear classifiers and its loader.
//!
//! A model file holds one or more *heads* (one logistic-regression model
//! each) over the same hashed feature space. Layout, little-endian:
//!
//! ```text
//! magic    8 bytes  "PLSDLIN\0"
//! version  u32      1
//! heads    u32
//! per head:
//!   name_len u8, name (UTF-8)
//!   bits     u8       log2 of the hash space (8..=24)
//!   rules    u32      number of rule weights
//!   rules_id u64      fingerprint of the rule table the head was trained with
//!   bias, platt_a, platt_b, threshold, scale   f32 × 5
//!   rule weights      f32 × rules
//!   weights           i16 × (1 << bits), value = q × scale
//! sha256   32 bytes  over everything before
//! ```
//!
//! Loading checks the magic, version, every length and the checksum and
//! returns [`Error::Model`] on any mismatch; it never panics.

use sha2::{Digest, Sha256};

use crate::Error;

const MAGIC: &[u8; 8] = b"PLSDLIN\0";
const VERSION: u32 = 1;

/// One trained logistic-regression head.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    /// Name of the head (`injection`, `toxic`, `hate`).
    pub name: String,
    /// log2 of the hash space.
    pub bits: u8,
    /// Fingerprint of the rule table ([`rules_fingerprint`]).
    pub rules_id: u64,
    /// Intercept.
    pub bias: f32,
    /// Platt scaling slope: `p = sigmoid(platt_a * margin + platt_b)`.
    pub platt_a: f32,
    /// Platt scaling intercept.
    pub platt_b: f32,
    /// Shipped decision threshold on the calibrated probability.
    pub threshold: f32,
    /// One weight per rule feature.
    pub rule_weights: Vec<f32>,
    /// One weight per hash bucket.
    pub weights: Vec<f32>,
}

impl Head {
    /// Calibrated probability for a raw margin.
    pub fn calibrate(&self, margin: f32) -> f32 {
        sigmoid(self.platt_a * margin + self.platt_b)
    }
}

/// The logistic function.
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// A stable fingerprint (FNV-1a) of a rule table's names, stored in each
/// head so weights trained against another rule table are refused.
pub fn rules_fingerprint(names: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for n in names {
        for &b in n.as_bytes().iter().chain(b"\n") {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Serialises heads into the weights format (weights quantised to i16).
pub fn encode(heads: &[Head]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(heads.len() as u32).to_le_bytes());
    for h in heads {
        let name = h.name.as_bytes();
        let name = &name[..name.len().min(255)];
        out.push(name.len() as u8);
        out.extend_from_slice(name);
        out.push(h.bits);
        out.extend_from_slice(&(h.rule_weights.len() as u32).to_le_bytes());
        out.extend_from_slice(&h.rules_id.to_le_bytes());
        let max = h.weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
        for v in [h.bias, h.platt_a, h.platt_b, h.threshold, scale] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for w in &h.rule_weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        let n = 1usize << h.bits;
        for i in 0..n {
            let w = h.weights.get(i).copied().unwrap_or(0.0);
            let q = (w / scale).round().clamp(-32767.0, 32767.0) as i16;
            out.extend_from_slice(&q.to_le_bytes());
        }
    }
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    out
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or(Error::Model("truncated weights"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Error> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, Error> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    fn f32(&mut self) -> Result<f32, Error> {
        let v = f32::from_bits(self.u32()?);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Error::Model("non-finite parameter"))
        }
    }
}

/// Parses and verifies a weights file.
pub fn decode(bytes: &[u8]) -> Result<Vec<Head>, Error> {
    if bytes.len() < MAGIC.len() + 8 + 32 {
        return Err(Error::Model("weights file too short"));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body)[..] != *sum {
        return Err(Error::Model("weights checksum mismatch"));
    }
    let mut r = Reader { b: body, at: 0 };
    if r.take(8)? != MAGIC {
        return Err(Error::Model("not a Palisade weights file"));
    }
    if r.u32()? != VERSION {
        return Err(Error::Model("unsupported weights version"));
    }
    let n = r.u32()?;
    if n == 0 || n > 16 {
        return Err(Error::Model("bad head count"));
    }
    let mut heads = Vec::new();
    for _ in 0..n {
        let len = usize::from(r.u8()?);
        let name = std::str::from_utf8(r.take(len)?)
            .map_err(|_| Error::Model("head name is not UTF-8"))?
            .to_owned();
        let bits = r.u8()?;
        if !(8..=24).contains(&bits) {
            return Err(Error::Model("hash size out of range"));
        }
        let rules = r.u32()? as usize;
        if rules > 4096 {
            return Err(Error::Model("too many rule weights"));
        }
        let rules_id = r.u64()?;
        let bias = r.f32()?;
        let platt_a = r.f32()?;
        let platt_b = r.f32()?;
        let threshold = r.f32()?;
        let scale = r.f32()?;
        let mut rule_weights = Vec::with_capacity(rules);
        for _ in 0..rules {
            rule_weights.push(r.f32()?);
        }
        let size = 1usize << bits;
        let raw = r.take(size * 2)?;
        let weights = raw
            .chunks_exact(2)
            .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) * scale)
            .collect();
        heads.push(Head {
            name,
            bits,
            rules_id,
            bias,
            platt_a,
            platt_b,
            threshold,
            rule_weights,
            weights,
        });
    }
    if r.at != body.len() {
        return Err(Error::Model("trailing bytes in weights file"));
    }
    Ok(heads)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn head() -> Head {
        Head {
            name: "t".into(),
            bits: 8,
            rules_id: 7,
            bias: -0.5,
            platt_a: 1.5,
            platt_b: 0.1,
            threshold: 0.8,
            rule_weights: vec![1.0, -2.0],
            weights: (0..256).map(|i| (i as f32 - 128.0) / 100.0).collect(),
        }
    }

    #[test]
    fn round_trip_within_quantisation() {
        let bytes = encode(&[head()]);
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].rule_weights, vec![1.0, -2.0]);
        for (a, b) in back[0].weights.iter().zip(head().weights) {
            assert!((a - b).abs() < 1e-3);
        }
    }

    #[test]
    fn malformed_weights_are_errors() {
        let bytes = encode(&[head()]);
        for cut in [0, 10, 40, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err());
        }
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(decode(&flipped).is_err());
        assert!(decode(b"").is_err());
    }
}
