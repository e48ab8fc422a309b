#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Interoperability with OpenSSF model-signing (`model_signing` on PyPI):
//! Palisade signs and `model_signing verify key` accepts it; `model_signing
//! sign key` signs and Palisade verifies it; tampering fails both ways.
//!
//! The test installs model-signing into a virtualenv under the cargo target
//! directory the first time it runs (CI machines reach PyPI). It is never
//! skipped: a missing Python is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Pinned so the interop check is reproducible; pyOpenSSL is a runtime
/// import of model-signing 1.1.1 that its metadata does not declare.
const PIP_PACKAGES: &[&str] = &["model-signing==1.1.1", "pyopenssl"];

fn venv() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../py-model-signing");
    let cli = dir.join("bin/model_signing");
    let ok = cli.exists()
        && Command::new(&cli)
            .arg("--help")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
    if !ok {
        let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let st = Command::new(&py)
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .expect("python3 is required");
        assert!(st.success(), "creating the virtualenv failed");
        let st = Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PIP_PACKAGES)
            .status()
            .unwrap();
        assert!(st.success(), "pip install model-signing failed");
    }
    dir
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().unwrap();
    eprintln!(
        "{:?}\nstdout: {}\nstderr: {}",
        cmd,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn palisade(args: &[&str], cwd: &Path) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(cwd)
        .env("PALISADE_LOG", "warn"))
}

#[test]
fn interop_with_model_signing_both_directions() {
    let venv = venv();
    let ms = venv.join("bin/model_signing");
    let py = venv.join("bin/python");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A directory model with nesting, a git file that both ignore, and names
    // whose string order differs from path-component order.
    std::fs::create_dir_all(d.join("model/a")).unwrap();
    std::fs::write(d.join("model/a/b.bin"), vec![1u8; 300_000]).unwrap();
    std::fs::write(d.join("model/a.txt"), b"card").unwrap();
    std::fs::write(d.join("model/config.json"), b"{\"x\": 1}").unwrap();
    std::fs::write(d.join("model/.gitattributes"), b"*.bin lfs").unwrap();

    // Keys: Palisade's PKCS#8 pair, and a SEC1 pair made by Python's
    // cryptography (the format `openssl ecparam -genkey` writes).
    assert!(
        palisade(
            &[
                "model",
                "keygen",
                "--private-key",
                "pk.pem",
                "--public-key",
                "pub.pem"
            ],
            d
        )
        .status
        .success()
    );
    let keygen_py = "from cryptography.hazmat.primitives.asymmetric import ec\n\
from cryptography.hazmat.primitives import serialization as s\n\
k = ec.generate_private_key(ec.SECP256R1())\n\
open('sec1.pem','wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.TraditionalOpenSSL, s.NoEncryption()))\n\
open('sec1.pub','wb').write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))\n";
    assert!(
        run(Command::new(&py).args(["-c", keygen_py]).current_dir(d))
            .status
            .success()
    );

    // Palisade signs (signature inside the model dir) → model_signing verifies.
    assert!(
        palisade(
            &[
                "model",
                "sign",
                "model",
                "--private-key",
                "pk.pem",
                "--signature",
                "model/model.sig"
            ],
            d
        )
        .status
        .success()
    );
    let o = run(Command::new(&ms)
        .args([
            "verify",
            "key",
            "model",
            "--public_key",
            "pub.pem",
            "--signature",
            "model/model.sig",
        ])
        .current_dir(d));
    assert!(
        o.status.success(),
        "model_signing rejected Palisade's signature"
    );

    // Palisade signs with a SEC1 key, signature outside the model.
    assert!(
        palisade(
            &[
                "model",
                "sign",
                "model",
                "--private-key",
                "sec1.pem",
                "--signature",
                "p.sig"
            ],
            d
        )
        .status
        .success()
    );
    let o = run(Command::new(&ms)
        .args([
            "verify",
            "key",
            "model",
            "--public_key",
            "sec1.pub",
            "--signature",
            "p.sig",
        ])
        .current_dir(d));
    assert!(o.status.success());

    // model_signing signs → Palisade verifies.
    let o = run(Command::new(&ms)
        .args([
            "sign",
            "key",
            "model",
            "--private_key",
            "sec1.pem",
            "--signature",
            "ms.sig",
        ])
        .current_dir(d));
    assert!(o.status.success());
    let o = palisade(
        &[
            "model",
            "verify",
            "model",
            "--public-key",
            "sec1.pub",
            "--signature",
            "ms.sig",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(0));

    // Single-file model, both directions.
    let o = run(Command::new(&ms)
        .args([
            "sign",
            "key",
            "model/a/b.bin",
            "--private_key",
            "sec1.pem",
            "--signature",
            "file.sig",
        ])
        .current_dir(d));
    assert!(o.status.success());
    assert_eq!(
        palisade(
            &[
                "model",
                "verify",
                "model/a/b.bin",
                "--public-key",
                "sec1.pub",
                "--signature",
                "file.sig"
            ],
            d
        )
        .status
        .code(),
        Some(0)
    );
    assert!(
        palisade(
            &[
                "model",
                "sign",
                "model/a/b.bin",
                "--private-key",
                "pk.pem",
                "--signature",
                "pfile.sig"
            ],
            d
        )
        .status
        .success()
    );
    assert!(
        run(Command::new(&ms)
            .args([
                "verify",
                "key",
                "model/a/b.bin",
                "--public_key",
                "pub.pem",
                "--signature",
                "pfile.sig"
            ])
            .current_dir(d))
        .status
        .success()
    );

    // P-384 (SHA-384) and P-521 (SHA-512) keys, both directions.
    for curve in ["SECP384R1", "SECP521R1"] {
        let script = format!(
            "from cryptography.hazmat.primitives.asymmetric import ec\n\
from cryptography.hazmat.primitives import serialization as s\n\
k = ec.generate_private_key(ec.{curve}())\n\
open('{curve}.pem','wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))\n\
open('{curve}.pub','wb').write(k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))\n"
        );
        assert!(
            run(Command::new(&py).args(["-c", &script]).current_dir(d))
                .status
                .success()
        );
        let (key, public) = (format!("{curve}.pem"), format!("{curve}.pub"));
        let (ours, theirs) = (format!("{curve}-p.sig"), format!("{curve}-ms.sig"));
        assert!(
            palisade(
                &[
                    "model",
                    "sign",
                    "model",
                    "--private-key",
                    &key,
                    "--signature",
                    &ours
                ],
                d
            )
            .status
            .success()
        );
        let o = run(Command::new(&ms)
            .args([
                "verify",
                "key",
                "model",
                "--public_key",
                &public,
                "--signature",
                &ours,
            ])
            .current_dir(d));
        assert!(
            o.status.success(),
            "model_signing rejected a {curve} signature"
        );
        let o = run(Command::new(&ms)
            .args([
                "sign",
                "key",
                "model",
                "--private_key",
                &key,
                "--signature",
                &theirs,
            ])
            .current_dir(d));
        assert!(o.status.success());
        let o = palisade(
            &[
                "model",
                "verify",
                "model",
                "--public-key",
                &public,
                "--signature",
                &theirs,
            ],
            d,
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "Palisade rejected a {curve} signature"
        );
    }

    // Tamper: both tools reject both signatures.
    std::fs::write(d.join("model/a.txt"), b"card!").unwrap();
    assert_eq!(
        palisade(
            &[
                "model",
                "verify",
                "model",
                "--public-key",
                "sec1.pub",
                "--signature",
                "ms.sig"
            ],
            d
        )
        .status
        .code(),
        Some(1)
    );
    let o = run(Command::new(&ms)
        .args([
            "verify",
            "key",
            "model",
            "--public_key",
            "pub.pem",
            "--signature",
            "model/model.sig",
        ])
        .current_dir(d));
    assert!(!o.status.success());
}
