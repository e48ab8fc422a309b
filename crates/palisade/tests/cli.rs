//! End-to-end tests of the `palisade` binary: configuration checking, the
//! demo, and `serve` as a real process (signals, TLS reload).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use common::{Served, bin};
use palisade_gateway::mock::{MockOptions, MockUpstream};
use serde_json::{Value, json};

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env_remove("PALISADE_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_check_reports_every_problem_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"nowhere\"\n\n[[upstreams]]\nname = \"a\"\nbase_url = \"https://a.example/v1\"\napi_key = \"sk-do-not-echo\"\n\n[[routes]]\nmodels = [\"m\"]\nupstreams = [\"missing\"]\n",
    )
    .unwrap();
    let (code, stdout, _) = run(&["config", "check", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stdout.contains("line 2: `server.listen`"), "{stdout}");
    assert!(
        stdout.contains("line 7: `upstreams[0].api_key`"),
        "{stdout}"
    );
    assert!(stdout.contains("`routes[0].upstreams[0]`"), "{stdout}");
    assert!(!stdout.contains("sk-do-not-echo"));

    let (code, stdout, _) = run(&[
        "config",
        "check",
        "--format",
        "json",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["problems"].as_array().unwrap().len(), 3);
    assert_eq!(v["problems"][0]["line"], 2);
}

#[test]
fn the_example_and_the_default_configs_are_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/palisade.toml");
    let (code, stdout, stderr) = run(&["config", "check", example]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let (code, default, _) = run(&["config", "default"]);
    assert_eq!(code, 0);
    let file = dir.path().join("default.toml");
    std::fs::write(&file, default).unwrap();
    let (code, stdout, _) = run(&[
        "config",
        "check",
        "--format",
        "json",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["valid"],
        true
    );
}

#[test]
fn a_missing_config_file_is_exit_2() {
    let (code, _, stderr) = run(&["config", "check", "/nonexistent/palisade.toml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot read configuration file"),
        "{stderr}"
    );
    let (code, _, _) = run(&["serve", "--config", "/nonexistent/palisade.toml"]);
    assert_eq!(code, 2);
}

#[test]
fn the_demo_walks_through_every_step_and_exits_0() {
    let (code, stdout, stderr) = run(&["demo", "--listen", "127.0.0.1:0", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["passed"], v["total"]);
    assert!(v["total"].as_u64().unwrap() >= 6);
    let (code, stdout, _) = run(&["demo", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("[3] A streamed completion is relayed chunk by chunk"),
        "{stdout}"
    );
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn serve_proxies_creates_its_store_and_drains_on_sigterm() {
    let rt = rt();
    let mock = rt
        .block_on(MockUpstream::start(MockOptions {
            chunk_delay: Some(Duration::from_millis(20)),
            ..MockOptions::default()
        }))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut served = Served::start(
        &["--listen", "127.0.0.1:0", "--upstream", &mock.base_url()],
        &data,
    );
    assert!(
        data.join("palisade.db").exists(),
        "the SQLite store is created on first run"
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let base = served.base.clone();
    let reply: Value = rt.block_on(async {
        client
            .post(format!("{base}/v1/chat/completions"))
            .json(&json!({"model": "any", "messages": [{"role": "user", "content": "ping"}]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert!(
        reply["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .ends_with("ping")
    );
    // A stream in flight when SIGTERM arrives still completes.
    let pending = rt.spawn(async move {
        let r = client.post(format!("{base}/v1/chat/completions")).json(&json!({"model": "any", "stream": true, "messages": [{"role": "user", "content": "one two three four five six"}]})).send().await.unwrap();
        r.text().await.unwrap()
    });
    std::thread::sleep(Duration::from_millis(100));
    served.signal("TERM");
    let body = rt.block_on(pending).unwrap();
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    assert_eq!(served.wait_exit(Duration::from_secs(20)), Some(0));
}

#[test]
fn tls_certificate_is_reloaded_on_sighup() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rt = rt();
    let mock = rt
        .block_on(MockUpstream::start(MockOptions::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let first = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let second = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, first.cert.pem()).unwrap();
    std::fs::write(&key, first.signing_key.serialize_pem()).unwrap();
    let config = dir.path().join("palisade.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n[[upstreams]]\nname = \"mock\"\nbase_url = \"{}\"\n[[routes]]\nmodels = [\"*\"]\nupstreams = [\"mock\"]\nallow_plain_http = true\n",
            mock.base_url()
        ),
    )
    .unwrap();
    let served = Served::start(
        &["--config", config.to_str().unwrap()],
        &dir.path().join("data"),
    );
    assert!(served.base.starts_with("https://"), "{}", served.base);
    let port: u16 = served.base.rsplit(':').next().unwrap().parse().unwrap();
    let trusting = |pem: String| {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
            .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    let url = format!("https://localhost:{port}/healthz");
    let trusts_first = trusting(first.cert.pem());
    let trusts_second = trusting(second.cert.pem());
    rt.block_on(async {
        assert_eq!(trusts_first.get(&url).send().await.unwrap().status(), 200);
        assert!(trusts_second.get(&url).send().await.is_err());
    });
    std::fs::write(&cert, second.cert.pem()).unwrap();
    std::fs::write(&key, second.signing_key.serialize_pem()).unwrap();
    served.signal("HUP");
    let mut reloaded = false;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        if rt.block_on(trusts_second.get(&url).send()).is_ok() {
            reloaded = true;
            break;
        }
    }
    assert!(reloaded, "the new certificate is served after SIGHUP");
    assert!(rt.block_on(trusts_first.get(&url).send()).is_err());
    // A broken certificate file on reload keeps the previous one in service.
    std::fs::write(&cert, "not a certificate").unwrap();
    served.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        rt.block_on(trusts_second.get(&url).send())
            .unwrap()
            .status(),
        200
    );
}
