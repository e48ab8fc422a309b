//! Shared helpers for the gateway's integration tests: a real gateway on a
//! loopback socket, and readers for its JSON errors and event streams.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use palisade_gateway::config::{self, MapEnv, Overrides};
use palisade_gateway::server;
use palisade_gateway::sse::{SseEvent, SseParser};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub struct TestGateway {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestGateway {
    pub async fn start(toml: &str) -> TestGateway {
        Self::start_with_env(toml, &[("UPSTREAM_KEY", "sk-upstream-secret")]).await
    }

    pub async fn start_with_env(toml: &str, env: &[(&str, &str)]) -> TestGateway {
        let dir = tempfile::tempdir().unwrap();
        let env = MapEnv(
            env.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        );
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().join("data")),
            upstream: None,
        };
        let config = config::parse(toml, Path::new(""), &env, &overrides).unwrap();
        let gateway = palisade_gateway::Gateway::new(config, &env).await.unwrap();
        let listener = server::bind(gateway.config().server.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        tokio::spawn(server::run(gateway, listener, None, shutdown.clone()));
        TestGateway {
            addr,
            shutdown,
            _dir: dir,
        }
    }

    /// The gateway's `/metrics` page, as Prometheus reads it.
    pub async fn metrics(&self) -> String {
        client()
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// The value of the sample `name{labels}` on a `/metrics` page (0 if
/// absent).
pub fn sample(metrics: &str, name_and_labels: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

pub async fn error_of(response: reqwest::Response) -> (u16, Value, reqwest::header::HeaderMap) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    assert!(
        headers.contains_key("x-request-id"),
        "every response carries x-request-id"
    );
    let body: Value = response.json().await.unwrap();
    let error = body["error"].clone();
    assert!(
        error["message"].is_string() && error["type"].is_string() && error.get("code").is_some(),
        "{body}"
    );
    (status, error, headers)
}

pub async fn read_events(response: reqwest::Response) -> Vec<SseEvent> {
    let mut parser = SseParser::new(1 << 20);
    let mut events = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let Ok(chunk) = chunk else { break };
        parser.push(&chunk);
        while let Some(e) = parser.next_event().unwrap() {
            events.push(e);
        }
    }
    events
}

pub fn assembled(events: &[SseEvent]) -> String {
    events
        .iter()
        .filter(|e| !e.is_done())
        .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok())
        .filter_map(|v| {
            v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}
