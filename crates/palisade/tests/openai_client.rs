//! End-to-end: the official `openai` Python client talks to the real
//! `palisade serve` binary (JSON, streaming, errors, model list). The test
//! installs the client from PyPI into a virtualenv under the cargo target
//! directory the first time it runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Served;
use palisade_gateway::mock::{MockOptions, MockUpstream};
use serde_json::Value;

/// The openai releases this test is known to work with.
const OPENAI_REQUIREMENT: &str = "openai>=1.40,<3";

fn python_with_openai() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("openai-venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 is required for this test");
        assert!(status.success(), "python3 -m venv failed");
    }
    let has_openai = Command::new(&python)
        .args(["-c", "import openai"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has_openai {
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                OPENAI_REQUIREMENT,
            ])
            .status()
            .unwrap();
        assert!(status.success(), "pip install {OPENAI_REQUIREMENT} failed");
    }
    python
}

#[test]
fn the_official_openai_client_works_through_the_gateway() {
    let python = python_with_openai();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mock = rt
        .block_on(MockUpstream::start(MockOptions {
            max_chunk_bytes: Some(7),
            ..MockOptions::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        &["--listen", "127.0.0.1:0", "--upstream", &mock.base_url()],
        &dir.path().join("data"),
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/openai_client.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(&served.base)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        seen["content"],
        "Hello from the Palisade demo upstream. You said: hello from python"
    );
    assert_eq!(seen["finish_reason"], "stop");
    assert_eq!(
        seen["streamed"],
        "Hello from the Palisade demo upstream. You said: stream to python"
    );
    // The output guard holds text back, so fewer chunks than words arrive.
    assert!(seen["chunks"].as_u64().unwrap() >= 2);
    assert_eq!(seen["blocked"]["status"], 451);
    assert_eq!(seen["blocked"]["code"], "policy_blocked");
    assert_eq!(seen["blocked"]["type"], "policy_violation_error");
    assert!(
        !seen["blocked"]["message"]
            .as_str()
            .unwrap()
            .contains("ghp_")
    );
    assert_eq!(
        seen["redacted_stream"],
        "The deployment key is [REDACTED_SECRET] and it has admin rights. Keep it safe."
    );
    let cut = &seen["blocked_stream"];
    assert!(
        cut["message"].as_str().unwrap().contains("canary_leak"),
        "{cut}"
    );
    assert!(!cut["received"].as_str().unwrap().contains("PAL-"));
    assert!(
        seen["request_id_header"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    assert_eq!(seen["error"]["status"], 400);
    assert_eq!(seen["error"]["param"], "messages[0].role");
    assert_eq!(seen["error"]["type"], "invalid_request_error");
    assert_eq!(seen["models"], serde_json::json!(["mock-model"]));
    // The client's own key never travels upstream.
    let auth = mock.stats.last_authorization.lock().unwrap().clone();
    assert_eq!(auth, None);
    drop(served);
}
