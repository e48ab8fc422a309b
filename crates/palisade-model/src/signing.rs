//! Signing and verification compatible with OpenSSF model-signing
//! (`model_signing` on PyPI, v1.x, "key" method).
//!
//! The model is serialised to a manifest of per-file SHA-256 digests
//! ("files" serialization: every regular file under the model directory,
//! paths relative to it in POSIX form; a single-file model is the one
//! resource `"."`). The manifest becomes an in-toto v1 statement with
//! predicate type `https://model_signing/signature/v1.0`, whose subject digest
//! is SHA-256 over the concatenated per-file digests in canonical path order.
//! The statement is the payload of a DSSE envelope (payload type
//! `application/vnd.in-toto+json`), signed over the DSSE pre-authentication
//! encoding with ECDSA P-256/SHA-256 (DER signature), and the envelope is
//! wrapped in a Sigstore bundle v0.3 whose verification material is a public
//! key hint (hex SHA-256 of the PEM public key).
//!
//! Sources: model_signing `_signing/signing.py`, `_signing/sign_ec_key.py`,
//! `_signing/sign_sigstore_pb.py`, `manifest.py`, `_serialization/file.py`;
//! DSSE protocol v1.0 (PAE); in-toto attestation spec v1; Sigstore bundle
//! v0.3 JSON (protobuf-specs `Bundle`).

use std::path::{Component, Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::hashing::{self, Job, hex};
use crate::{Error, Result};

/// DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// model_signing predicate type (v1.0).
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// Sigstore bundle media type written by model_signing for key signatures.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Paths model_signing ignores by default (git metadata).
pub const GIT_PATHS: &[&str] = &[".git", ".gitattributes", ".github", ".gitignore"];

/// A serialised model: resource name → hex digest, in canonical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Name of the model (last path component; informative only).
    pub model_name: String,
    /// `(resource name, hex sha256)` sorted like model_signing sorts paths.
    pub resources: Vec<(String, String)>,
    /// The serialization parameters (`method`, `hash_type`, ...).
    pub serialization: Value,
}

impl Manifest {
    /// SHA-256 over the concatenated digests (the statement subject digest).
    pub fn root_digest(&self) -> Result<String> {
        let mut h = Sha256::new();
        for (_, d) in &self.resources {
            h.update(decode_hex(d)?);
        }
        Ok(hex(&h.finalize()))
    }
}

fn decode_hex(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(Error::Signature("digest is not hex".into()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| Error::Signature("digest is not hex".into()))
        })
        .collect()
}

/// Path ordering used by model_signing: `PurePosixPath` compares component lists.
fn path_key(name: &str) -> Vec<&str> {
    name.split('/').collect()
}

fn rel_posix(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

fn ignored(rel: &str, ignore: &[String]) -> bool {
    let r = path_key(rel);
    ignore.iter().any(|ig| {
        let ig = ig.trim_end_matches('/');
        let k = path_key(ig);
        !ig.is_empty() && r.len() >= k.len() && r[..k.len()] == k[..]
    })
}

/// Lists the files of a model (`(relative name, absolute path)`), applying
/// ignore paths (relative to the model directory). Symlinks are refused,
/// as model_signing does by default.
pub fn model_files(model: &Path, ignore: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let md = std::fs::symlink_metadata(model).map_err(|e| Error::io(model, e))?;
    if md.file_type().is_symlink() {
        return Err(Error::Signature(format!(
            "{} is a symbolic link; refusing to follow it",
            model.display()
        )));
    }
    if md.is_file() {
        return Ok(vec![(".".into(), model.to_path_buf())]);
    }
    let mut out = Vec::new();
    let mut stack = vec![model.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let e = e.map_err(|e| Error::io(&dir, e))?;
            let p = e.path();
            let rel = rel_posix(model, &p);
            if ignored(&rel, ignore) {
                continue;
            }
            let ft = e.file_type().map_err(|err| Error::io(&p, err))?;
            if ft.is_symlink() {
                return Err(Error::Signature(format!(
                    "{} is a symbolic link; refusing to follow it",
                    p.display()
                )));
            } else if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                out.push((rel, p));
            } else {
                return Err(Error::Signature(format!(
                    "{} is not a regular file or directory",
                    p.display()
                )));
            }
        }
    }
    out.sort_by(|a, b| path_key(&a.0).cmp(&path_key(&b.0)));
    Ok(out)
}

fn model_name(model: &Path) -> String {
    model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| {
            model
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_default()
}

/// Ignore paths for a signature written at `signature` (if inside the model).
pub fn default_ignores(model: &Path, signature: Option<&Path>, extra: &[String]) -> Vec<String> {
    let mut v: Vec<String> = GIT_PATHS.iter().map(|s| (*s).to_string()).collect();
    v.extend(extra.iter().cloned());
    if let Some(sig) = signature
        && let (Ok(root), Some(parent)) = (model.canonicalize(), sig.parent())
    {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let (Ok(p), Some(name)) = (parent.canonicalize(), sig.file_name()) {
            let full = p.join(name);
            if let Ok(rel) = full.strip_prefix(&root) {
                let rel = rel_posix(Path::new(""), rel);
                if rel != "." && !v.contains(&rel) {
                    v.push(rel);
                }
            }
        }
    }
    v
}

/// Hashes a model with the "files" serialization (SHA-256).
pub fn hash_files(model: &Path, ignore: &[String], threads: usize) -> Result<Manifest> {
    let files = model_files(model, ignore)?;
    let jobs: Vec<Job> = files
        .iter()
        .map(|(_, p)| Job {
            path: p.clone(),
            start: 0,
            end: u64::MAX,
        })
        .collect();
    let digests = hashing::sha256_jobs(&jobs, threads)?;
    Ok(Manifest {
        model_name: model_name(model),
        resources: files
            .into_iter()
            .map(|(n, _)| n)
            .zip(digests.iter().map(|d| hex(d)))
            .collect(),
        serialization: json!({
            "method": "files",
            "hash_type": "sha256",
            "allow_symlinks": false,
            "ignore_paths": ignore,
        }),
    })
}

/// Hashes a model with the "shards" serialization (SHA-256, fixed shard size).
pub fn hash_shards(
    model: &Path,
    ignore: &[String],
    shard_size: u64,
    threads: usize,
) -> Result<Manifest> {
    if shard_size == 0 {
        return Err(Error::Signature("shard size 0".into()));
    }
    let files = model_files(model, ignore)?;
    let mut names = Vec::new();
    let mut jobs = Vec::new();
    for (rel, p) in &files {
        let len = std::fs::metadata(p).map_err(|e| Error::io(p, e))?.len();
        let mut start = 0;
        loop {
            let end = (start + shard_size).min(len);
            names.push(format!("{rel}:{start}:{end}"));
            jobs.push(Job {
                path: p.clone(),
                start,
                end,
            });
            start = end;
            if start >= len {
                break;
            }
        }
    }
    let digests = hashing::sha256_jobs(&jobs, threads)?;
    let mut resources: Vec<(String, String)> = names
        .into_iter()
        .zip(digests.iter().map(|d| hex(d)))
        .collect();
    resources.sort_by(|a, b| shard_key(&a.0).cmp(&shard_key(&b.0)));
    Ok(Manifest {
        model_name: model_name(model),
        resources,
        serialization: json!({
            "method": "shards",
            "hash_type": "sha256",
            "shard_size": shard_size,
            "allow_symlinks": false,
            "ignore_paths": ignore,
        }),
    })
}

fn shard_key(name: &str) -> (Vec<&str>, u64, u64) {
    let mut it = name.rsplitn(3, ':');
    let end = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let start = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (path_key(it.next().unwrap_or("")), start, end)
}

/// The DSSE pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    v.extend_from_slice(payload);
    v
}

/// The in-toto statement for a manifest.
pub fn statement(m: &Manifest) -> Result<Value> {
    let resources: Vec<Value> = m
        .resources
        .iter()
        .map(|(n, d)| json!({"name": n, "algorithm": "sha256", "digest": d}))
        .collect();
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": m.model_name, "digest": {"sha256": m.root_digest()?}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {"serialization": m.serialization, "resources": resources},
    }))
}

/// A private signing key on one of the curves model_signing accepts. Each
/// curve signs with the hash model_signing pairs with it (P-256/SHA-256,
/// P-384/SHA-384, P-521/SHA-512).
pub enum PrivateKey {
    /// NIST P-256.
    P256(SigningKey),
    /// NIST P-384.
    P384(p384::ecdsa::SigningKey),
    /// NIST P-521 (boxed: its key types are several times larger).
    P521(Box<(p521::ecdsa::SigningKey, p521::PublicKey)>),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

/// A public verification key on one of the supported curves.
#[derive(Clone)]
pub enum PublicKey {
    /// NIST P-256.
    P256(VerifyingKey),
    /// NIST P-384.
    P384(p384::ecdsa::VerifyingKey),
    /// NIST P-521 (boxed: its key types are several times larger).
    P521(Box<(p521::ecdsa::VerifyingKey, p521::PublicKey)>),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let curve = match self {
            PublicKey::P256(_) => "P-256",
            PublicKey::P384(_) => "P-384",
            PublicKey::P521(_) => "P-521",
        };
        write!(f, "PublicKey({curve})")
    }
}

impl PrivateKey {
    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        match self {
            PrivateKey::P256(k) => PublicKey::P256(*k.verifying_key()),
            PrivateKey::P384(k) => PublicKey::P384(*k.verifying_key()),
            PrivateKey::P521(k) => {
                PublicKey::P521(Box::new((p521::ecdsa::VerifyingKey::from(&k.0), k.1)))
            }
        }
    }

    /// Signs `msg`; returns a DER-encoded ECDSA signature.
    pub fn sign_der(&self, msg: &[u8]) -> Vec<u8> {
        match self {
            PrivateKey::P256(k) => {
                let s: Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            PrivateKey::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            PrivateKey::P521(k) => {
                let s: p521::ecdsa::Signature = k.0.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
        }
    }
}

impl PublicKey {
    /// PEM SubjectPublicKeyInfo text, as `cryptography` writes it.
    pub fn to_pem(&self) -> Result<String> {
        let pem = match self {
            PublicKey::P256(k) => k.to_public_key_pem(LineEnding::LF),
            PublicKey::P384(k) => k.to_public_key_pem(LineEnding::LF),
            PublicKey::P521(k) => k.1.to_public_key_pem(LineEnding::LF),
        };
        pem.map_err(|_| Error::Key("cannot encode public key".into()))
    }

    /// Verifies a DER-encoded ECDSA signature over `msg`.
    pub fn verify_der(&self, msg: &[u8], der: &[u8]) -> Result<()> {
        let bad_der = |_| Error::Signature("signature is not DER ECDSA".into());
        let ok = match self {
            PublicKey::P256(k) => k
                .verify(msg, &Signature::from_der(der).map_err(bad_der)?)
                .is_ok(),
            PublicKey::P384(k) => k
                .verify(
                    msg,
                    &p384::ecdsa::Signature::from_der(der).map_err(bad_der)?,
                )
                .is_ok(),
            PublicKey::P521(k) => {
                k.0.verify(
                    msg,
                    &p521::ecdsa::Signature::from_der(der).map_err(bad_der)?,
                )
                .is_ok()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::Signature(
                "signature does not verify with this public key".into(),
            ))
        }
    }
}

/// Loads a PEM private key (PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`)
/// on P-256, P-384 or P-521.
pub fn load_private_key(path: &Path) -> Result<PrivateKey> {
    let pem = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    if pem.contains("ENCRYPTED") {
        return Err(Error::Key(
            "encrypted private keys are not supported; decrypt it first".into(),
        ));
    }
    use p256::elliptic_curve::SecretKey;
    if let Ok(k) = SecretKey::<p256::NistP256>::from_pkcs8_pem(&pem)
        .or_else(|_| SecretKey::<p256::NistP256>::from_sec1_pem(&pem))
    {
        return Ok(PrivateKey::P256(SigningKey::from(k)));
    }
    if let Ok(k) = SecretKey::<p384::NistP384>::from_pkcs8_pem(&pem)
        .or_else(|_| SecretKey::<p384::NistP384>::from_sec1_pem(&pem))
    {
        return Ok(PrivateKey::P384(p384::ecdsa::SigningKey::from(k)));
    }
    if let Ok(k) =
        p521::SecretKey::from_pkcs8_pem(&pem).or_else(|_| p521::SecretKey::from_sec1_pem(&pem))
    {
        let signing = p521::ecdsa::SigningKey::from_bytes(&k.to_bytes())
            .map_err(|_| Error::Key("invalid P-521 private key".into()))?;
        return Ok(PrivateKey::P521(Box::new((signing, k.public_key()))));
    }
    Err(Error::Key(format!(
        "{}: not a PEM P-256, P-384 or P-521 private key",
        path.display()
    )))
}

/// Loads a PEM public key (SubjectPublicKeyInfo) on P-256, P-384 or P-521.
pub fn load_public_key(path: &Path) -> Result<PublicKey> {
    let pem = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    if let Ok(k) = VerifyingKey::from_public_key_pem(&pem) {
        return Ok(PublicKey::P256(k));
    }
    if let Ok(k) = p384::ecdsa::VerifyingKey::from_public_key_pem(&pem) {
        return Ok(PublicKey::P384(k));
    }
    if let Ok(p) = p521::PublicKey::from_public_key_pem(&pem) {
        use p521::elliptic_curve::sec1::ToEncodedPoint;
        let k = p521::ecdsa::VerifyingKey::from_sec1_bytes(p.to_encoded_point(false).as_bytes())
            .map_err(|_| Error::Key("invalid P-521 public key".into()))?;
        return Ok(PublicKey::P521(Box::new((k, p))));
    }
    Err(Error::Key(format!(
        "{}: not a PEM P-256, P-384 or P-521 public key",
        path.display()
    )))
}

/// The key hint model_signing records: hex SHA-256 of the PEM public key.
pub fn key_hint(key: &PublicKey) -> Result<String> {
    Ok(hex(&Sha256::digest(key.to_pem()?.as_bytes())))
}

/// Generates a P-256 key pair; returns (PKCS#8 private PEM, SPKI public PEM).
pub fn generate_key() -> Result<(zeroize_string::Secret, String)> {
    let sk = SigningKey::random(&mut rand_core::OsRng);
    let private = sk
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| Error::Key("cannot encode private key".into()))?;
    let public = sk
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|_| Error::Key("cannot encode public key".into()))?;
    Ok((zeroize_string::Secret(private), public))
}

/// A private key PEM that is wiped from memory when dropped.
pub mod zeroize_string {
    /// PEM text of a private key; its `Debug` never shows the key.
    pub struct Secret(pub p256::elliptic_curve::zeroize::Zeroizing<String>);

    impl Secret {
        /// The PEM text, for writing to a 0600 file.
        pub fn expose(&self) -> &str {
            self.0.as_str()
        }
    }

    impl std::fmt::Debug for Secret {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Secret(<redacted>)")
        }
    }
}

/// Signs a manifest; returns the Sigstore bundle JSON text.
pub fn sign_manifest(m: &Manifest, key: &PrivateKey) -> Result<String> {
    let payload =
        serde_json::to_vec_pretty(&statement(m)?).map_err(|e| Error::Signature(e.to_string()))?;
    let der = key.sign_der(&pae(PAYLOAD_TYPE, &payload));
    let bundle = json!({
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key_hint(&key.public())?}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": B64.encode(&payload),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": B64.encode(&der), "keyid": ""}],
        },
    });
    serde_json::to_string(&bundle).map_err(|e| Error::Signature(e.to_string()))
}

/// Checks a bundle's signature with `key` and returns the signed manifest.
pub fn open_bundle(bundle_text: &str, key: &PublicKey) -> Result<Manifest> {
    let bundle: Value = serde_json::from_str(bundle_text)
        .map_err(|e| Error::Signature(format!("bundle is not JSON: {e}")))?;
    let media = bundle
        .get("mediaType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if media != BUNDLE_MEDIA_TYPE {
        return Err(Error::Signature(format!(
            "unsupported bundle media type {media:?}"
        )));
    }
    if let Some(hint) = bundle
        .pointer("/verificationMaterial/publicKey/hint")
        .and_then(Value::as_str)
        && !hint.is_empty()
        && hint != key_hint(key)?
    {
        return Err(Error::Signature(
            "the bundle names a different public key".into(),
        ));
    }
    let env = bundle
        .get("dsseEnvelope")
        .ok_or_else(|| Error::Signature("bundle has no DSSE envelope".into()))?;
    let ptype = env.get("payloadType").and_then(Value::as_str).unwrap_or("");
    if ptype != PAYLOAD_TYPE {
        return Err(Error::Signature(format!(
            "unexpected payload type {ptype:?}"
        )));
    }
    let payload = B64
        .decode(env.get("payload").and_then(Value::as_str).unwrap_or(""))
        .map_err(|_| Error::Signature("payload is not base64".into()))?;
    let sig_b64 = env
        .pointer("/signatures/0/sig")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Signature("envelope has no signature".into()))?;
    let sig_der = B64
        .decode(sig_b64)
        .map_err(|_| Error::Signature("signature is not base64".into()))?;
    key.verify_der(&pae(PAYLOAD_TYPE, &payload), &sig_der)?;
    let st: Value = serde_json::from_slice(&payload)
        .map_err(|_| Error::Signature("payload is not JSON".into()))?;
    if st.get("_type").and_then(Value::as_str) != Some(STATEMENT_TYPE) {
        return Err(Error::Signature(
            "payload is not an in-toto v1 statement".into(),
        ));
    }
    if st.get("predicateType").and_then(Value::as_str) != Some(PREDICATE_TYPE) {
        return Err(Error::Signature("unsupported predicate type".into()));
    }
    let subjects = st
        .get("subject")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Signature("no subject".into()))?;
    let [subject] = &subjects[..] else {
        return Err(Error::Signature("expected exactly one subject".into()));
    };
    let name = subject
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let root = subject
        .pointer("/digest/sha256")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let serialization = st
        .pointer("/predicate/serialization")
        .cloned()
        .ok_or_else(|| Error::Signature("no serialization".into()))?;
    let mut resources = Vec::new();
    for r in st
        .pointer("/predicate/resources")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::Signature("no resources".into()))?
    {
        let n = r
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Signature("resource without name".into()))?;
        let a = r.get("algorithm").and_then(Value::as_str).unwrap_or("");
        let d = r
            .get("digest")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Signature("resource without digest".into()))?;
        if a != "sha256" {
            return Err(Error::Signature(format!(
                "unsupported digest algorithm {a:?}"
            )));
        }
        resources.push((n.to_string(), d.to_ascii_lowercase()));
    }
    let m = Manifest {
        model_name: name,
        resources,
        serialization,
    };
    if m.root_digest()? != root {
        return Err(Error::Signature(
            "statement is inconsistent: subject digest does not match the resources".into(),
        ));
    }
    Ok(m)
}

/// The result of verifying a model against a signature.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    /// Files (or shards) present in the model but not signed.
    pub extra: Vec<String>,
    /// Signed files (or shards) missing from the model.
    pub missing: Vec<String>,
    /// Files whose digest differs.
    pub changed: Vec<String>,
    /// Number of resources checked.
    pub checked: usize,
}

impl Verification {
    /// True when the model matches the signature exactly.
    pub fn ok(&self) -> bool {
        self.extra.is_empty() && self.missing.is_empty() && self.changed.is_empty()
    }
}

/// Verifies `model` against the bundle at `signature` with `public_key`.
/// Errors mean the signature itself is bad; a returned [`Verification`]
/// lists content mismatches.
pub fn verify(
    model: &Path,
    public_key: &Path,
    signature: &Path,
    threads: usize,
) -> Result<Verification> {
    let key = load_public_key(public_key)?;
    let text = std::fs::read_to_string(signature).map_err(|e| Error::io(signature, e))?;
    let expected = open_bundle(&text, &key)?;
    let ser = &expected.serialization;
    if ser.get("hash_type").and_then(Value::as_str) != Some("sha256") {
        return Err(Error::Signature(
            "only sha256 serializations are supported".into(),
        ));
    }
    if ser.get("allow_symlinks").and_then(Value::as_bool) == Some(true) {
        tracing::warn!("signature allows symlinks; symbolic links are still refused");
    }
    let signed_ignores: Vec<String> = ser
        .get("ignore_paths")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let ignores = default_ignores(model, Some(signature), &signed_ignores);
    let actual = match ser.get("method").and_then(Value::as_str) {
        Some("files") => hash_files(model, &ignores, threads)?,
        Some("shards") => {
            let size = ser
                .get("shard_size")
                .and_then(Value::as_u64)
                .ok_or_else(|| Error::Signature("shards without shard_size".into()))?;
            hash_shards(model, &ignores, size, threads)?
        }
        other => {
            return Err(Error::Signature(format!(
                "unsupported serialization method {other:?}"
            )));
        }
    };
    Ok(compare(&expected.resources, &actual.resources))
}

fn compare(expected: &[(String, String)], actual: &[(String, String)]) -> Verification {
    use std::collections::BTreeMap;
    let e: BTreeMap<&str, &str> = expected
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let a: BTreeMap<&str, &str> = actual
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    Verification {
        extra: a
            .keys()
            .filter(|k| !e.contains_key(*k))
            .map(|k| k.to_string())
            .collect(),
        missing: e
            .keys()
            .filter(|k| !a.contains_key(*k))
            .map(|k| k.to_string())
            .collect(),
        changed: e
            .iter()
            .filter(|(k, v)| a.get(*k).is_some_and(|x| x != *v))
            .map(|(k, _)| k.to_string())
            .collect(),
        checked: e.len(),
    }
}

/// Signs `model` with the key at `private_key`; returns the bundle JSON.
pub fn sign(model: &Path, private_key: &Path, signature: &Path, threads: usize) -> Result<String> {
    let key = load_private_key(private_key)?;
    let ignores = default_ignores(model, Some(signature), &[]);
    let m = hash_files(model, &ignores, threads)?;
    sign_manifest(&m, &key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_dsse_spec() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn ignore_is_component_prefix() {
        let ig = vec![".git".to_string(), "model.sig".to_string()];
        assert!(ignored(".git/HEAD", &ig));
        assert!(ignored("model.sig", &ig));
        assert!(!ignored(".gitx", &ig));
        assert!(!ignored("a/model.sig", &ig));
    }

    #[test]
    fn order_is_by_components() {
        let mut v = vec!["a.txt", "a/b"];
        v.sort_by(|a, b| path_key(a).cmp(&path_key(b)));
        assert_eq!(v, vec!["a/b", "a.txt"]);
    }
}
