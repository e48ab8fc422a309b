#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End-to-end tests of `palisade model …` through the real binary.

use std::path::Path;
use std::process::{Command, Output};

fn palisade(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .current_dir(cwd)
        .env("PALISADE_LOG", "warn")
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn evil_pickle() -> Vec<u8> {
    let mut p = vec![0x80, 2];
    p.extend(b"cos\nsystem\n");
    p.extend([0x8c, 2]);
    p.extend(b"id");
    p.extend([0x85, b'R', b'.']);
    p
}

#[test]
fn scan_exit_codes_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("evil.bin"), evil_pickle()).unwrap();
    std::fs::write(d.join("ok.pkl"), b"\x80\x02}q\x00.").unwrap();
    std::fs::write(d.join("junk.pt"), b"\x89PNG\r\n\x1a\n").unwrap();

    let o = palisade(&["model", "scan", "ok.pkl"], d);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));

    let o = palisade(&["model", "scan", "evil.bin"], d);
    assert_eq!(code(&o), 1);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("critical") && text.contains("os.system"),
        "{text}"
    );

    let o = palisade(&["model", "scan", "junk.pt"], d);
    assert_eq!(code(&o), 2);

    let o = palisade(&["model", "scan", "--fail-on", "never", "evil.bin"], d);
    assert_eq!(code(&o), 0);

    let o = palisade(
        &["model", "scan", "--format", "json", "evil.bin", "ok.pkl"],
        d,
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["summary"]["flagged"], 1);
    let f = &v["files"][0]["findings"][0];
    assert_eq!(f["severity"], "critical");
    assert_eq!(f["construct"], "os.system");
    assert_eq!(f["offset"], 2);

    let o = palisade(&["model", "scan", "--format", "sarif", "evil.bin"], d);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"][0]["results"][0]["level"], "error");
}

#[test]
fn sign_verify_roundtrip_and_tamper() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("model/sub")).unwrap();
    std::fs::write(d.join("model/config.json"), b"{}").unwrap();
    std::fs::write(d.join("model/sub/weights.bin"), vec![7u8; 10_000]).unwrap();

    let o = palisade(
        &[
            "model",
            "keygen",
            "--private-key",
            "key.pem",
            "--public-key",
            "pub.pem",
        ],
        d,
    );
    assert_eq!(code(&o), 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key_text = std::fs::read_to_string(d.join("key.pem")).unwrap();
    assert!(!String::from_utf8_lossy(&o.stdout).contains(key_text.lines().nth(1).unwrap()));

    let o = palisade(
        &[
            "model",
            "sign",
            "model",
            "--private-key",
            "key.pem",
            "--signature",
            "model/model.sig",
        ],
        d,
    );
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !all.contains(key_text.lines().nth(1).unwrap()),
        "key material printed"
    );

    let verify = |d: &Path| {
        palisade(
            &[
                "model",
                "verify",
                "model",
                "--public-key",
                "pub.pem",
                "--signature",
                "model/model.sig",
            ],
            d,
        )
    };
    assert_eq!(code(&verify(d)), 0);

    std::fs::write(d.join("model/sub/weights.bin"), vec![8u8; 10_000]).unwrap();
    let o = verify(d);
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("MISMATCH sub/weights.bin"));

    std::fs::write(d.join("model/sub/weights.bin"), vec![7u8; 10_000]).unwrap();
    std::fs::write(d.join("model/extra.py"), b"print(1)").unwrap();
    assert_eq!(code(&verify(d)), 1);
    std::fs::remove_file(d.join("model/extra.py")).unwrap();
    assert_eq!(code(&verify(d)), 0);

    // A different key does not verify.
    palisade(
        &[
            "model",
            "keygen",
            "--private-key",
            "k2.pem",
            "--public-key",
            "p2.pem",
        ],
        d,
    );
    let o = palisade(
        &[
            "model",
            "verify",
            "model",
            "--public-key",
            "p2.pem",
            "--signature",
            "model/model.sig",
        ],
        d,
    );
    assert_eq!(code(&o), 1);

    // A forged payload does not verify.
    let sig = std::fs::read_to_string(d.join("model/model.sig")).unwrap();
    let mut bundle: serde_json::Value = serde_json::from_str(&sig).unwrap();
    bundle["dsseEnvelope"]["payload"] = serde_json::Value::String("e30=".into());
    std::fs::write(d.join("model/model.sig"), bundle.to_string()).unwrap();
    assert_eq!(code(&verify(d)), 1);
}

#[test]
fn lock_write_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("models/a")).unwrap();
    std::fs::write(d.join("models/a/w.safetensors"), b"abc").unwrap();
    std::fs::write(d.join("models/b.gguf"), b"def").unwrap();
    let o = palisade(&["model", "lock", "models", "--output", "models.lock"], d);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(d.join("models.lock")).unwrap();
    assert!(text.contains("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  models/a/w.safetensors"), "{text}");

    assert_eq!(
        code(&palisade(&["model", "verify", "--lock", "models.lock"], d)),
        0
    );
    std::fs::write(d.join("models/b.gguf"), b"DEF").unwrap();
    let o = palisade(
        &[
            "model",
            "verify",
            "--lock",
            "models.lock",
            "--format",
            "json",
        ],
        d,
    );
    assert_eq!(code(&o), 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    std::fs::remove_file(d.join("models/b.gguf")).unwrap();
    assert_eq!(
        code(&palisade(&["model", "verify", "--lock", "models.lock"], d)),
        1
    );
}
