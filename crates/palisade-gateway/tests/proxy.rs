//! Integration tests: the real gateway on a real socket against local mock
//! upstreams that behave well, slowly, badly or not at all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use palisade_gateway::config::{self, MapEnv, Overrides};
use palisade_gateway::mock::{Behaviour, MockOptions, MockUpstream};
use palisade_gateway::server;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

mod support;
use support::{TestGateway, assembled, client, error_of, read_events, sample};

/// One upstream, one catch-all route.
fn single(base_url: &str, extra: &str) -> String {
    format!(
        r#"
[[upstreams]]
name = "primary"
base_url = "{base_url}"
api_key_env = "UPSTREAM_KEY"
{extra}

[[routes]]
models = ["*"]
upstreams = ["primary"]
allow_plain_http = true
"#
    )
}

/// As [`single`], with guardrails explicitly off: for tests that count the
/// relayed events one by one (the output guard holds text back and merges
/// it into later events).
fn single_unguarded(base_url: &str, extra: &str) -> String {
    format!("{}policy = \"off\"\n", single(base_url, extra))
}

async fn mock_with(behaviour: Behaviour) -> MockUpstream {
    MockUpstream::start(MockOptions {
        behaviour,
        ..MockOptions::default()
    })
    .await
    .unwrap()
}

fn chat(stream: bool) -> Value {
    json!({"model": "gpt-test", "stream": stream, "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there gateway"}]})
}

async fn post(gw: &TestGateway, body: &Value) -> reqwest::Response {
    client()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth("client-key-should-not-travel")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn expect_error(request: reqwest::RequestBuilder, status: u16, field: &str, value: &str) {
    let (got, error, _) = error_of(request.send().await.unwrap()).await;
    assert_eq!(
        (got, error[field].as_str()),
        (status, Some(value)),
        "{error}"
    );
}

#[tokio::test]
async fn json_chat_is_proxied_with_the_upstream_credential_only() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let gw = TestGateway::start(&single(&mock.base_url(), "")).await;
    let r = post(&gw, &chat(false)).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    assert_eq!(r.headers()["x-palisade-upstream"], "primary");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from the Palisade demo upstream. You said: hello there gateway"
    );
    let auth = mock.stats.last_authorization.lock().unwrap().clone();
    assert_eq!(auth.as_deref(), Some("Bearer sk-upstream-secret"));
    // Unknown fields travel unchanged.
    let r = post(&gw, &json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": 7, "future": {"a": 1}})).await;
    assert_eq!(r.status(), 200);
    let sent = mock.stats.last_body.lock().unwrap().clone().unwrap();
    assert_eq!(sent["future"], json!({"a": 1}));
    assert_eq!(sent["seed"], 7);
}

#[tokio::test]
async fn a_client_request_id_is_kept_when_sane_and_replaced_when_not() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let gw = TestGateway::start(&single(&mock.base_url(), "")).await;
    let r = client()
        .get(gw.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = client()
        .get(gw.url("/healthz"))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
}

#[tokio::test]
async fn completions_and_embeddings_are_proxied() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let gw = TestGateway::start(&single(&mock.base_url(), "")).await;
    let r = client()
        .post(gw.url("/v1/completions"))
        .json(&json!({"model": "m", "prompt": "say hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["choices"][0]["text"]
            .as_str()
            .unwrap()
            .ends_with("say hi")
    );
    let r = client()
        .post(gw.url("/v1/embeddings"))
        .json(&json!({"model": "m", "input": ["a", "b"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let r = client()
        .post(gw.url("/v1/completions"))
        .json(&json!({"model": "m", "prompt": "stream it", "stream": true}))
        .send()
        .await
        .unwrap();
    let events = read_events(r).await;
    assert!(events.last().unwrap().is_done());
}

#[tokio::test]
async fn streams_with_many_tiny_chunks_reassemble_exactly() {
    let mock = MockUpstream::start(MockOptions {
        max_chunk_bytes: Some(1),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let gw = TestGateway::start(&single(&mock.base_url(), "")).await;
    let r = post(&gw, &chat(true)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let events = read_events(r).await;
    assert!(events.last().unwrap().is_done());
    assert_eq!(
        assembled(&events),
        "Hello from the Palisade demo upstream. You said: hello there gateway"
    );
    assert!(
        events
            .iter()
            .all(|e| e.is_done() || serde_json::from_str::<Value>(&e.data).is_ok())
    );
}

#[tokio::test]
async fn stream_usage_chunk_is_relayed() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let gw = TestGateway::start(&single(&mock.base_url(), "")).await;
    let mut body = chat(true);
    body["stream_options"] = json!({"include_usage": true});
    let events = read_events(post(&gw, &body).await).await;
    let usage = events
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok())
        .find(|v| v.get("usage").is_some());
    assert!(usage.is_some());
}

#[tokio::test]
async fn slow_upstream_head_times_out_with_504() {
    let mock = mock_with(Behaviour::DelayHead(Duration::from_secs(5))).await;
    let gw = TestGateway::start(&single(
        &mock.base_url(),
        "[upstreams.timeouts]\nfirst_byte = \"300ms\"",
    ))
    .await;
    let (status, error, _) = error_of(post(&gw, &chat(false)).await).await;
    assert_eq!(status, 504);
    assert_eq!(error["code"], "upstream_timeout");
}

#[tokio::test]
async fn a_stalled_stream_ends_with_an_error_event_and_done() {
    let mock = mock_with(Behaviour::StallAfter(3)).await;
    let gw = TestGateway::start(&single_unguarded(
        &mock.base_url(),
        "[upstreams.timeouts]\nstream_idle = \"300ms\"",
    ))
    .await;
    let r = post(&gw, &chat(true)).await;
    assert_eq!(r.status(), 200);
    let events = read_events(r).await;
    let n = events.len();
    assert!(n >= 5, "{events:?}");
    assert!(events[n - 1].is_done());
    let error: Value = serde_json::from_str(&events[n - 2].data).unwrap();
    assert_eq!(error["error"]["code"], "upstream_timeout");
}

#[tokio::test]
async fn an_upstream_dying_mid_stream_yields_a_well_formed_error() {
    let mock = mock_with(Behaviour::DieAfter(4)).await;
    let gw = TestGateway::start(&single_unguarded(&mock.base_url(), "")).await;
    let events = read_events(post(&gw, &chat(true)).await).await;
    let n = events.len();
    assert!(events[n - 1].is_done());
    let error: Value = serde_json::from_str(&events[n - 2].data).unwrap();
    assert_eq!(error["error"]["code"], "upstream_failed");
    assert_eq!(
        events.iter().filter(|e| !e.is_done()).count(),
        5,
        "4 relayed events and the error"
    );
}

#[tokio::test]
async fn a_stream_closed_without_done_is_reported() {
    let mock = mock_with(Behaviour::NoDone).await;
    let gw = TestGateway::start(&single(&mock.base_url(), "")).await;
    let events = read_events(post(&gw, &chat(true)).await).await;
    let n = events.len();
    assert!(events[n - 1].is_done());
    assert!(events[n - 2].data.contains("upstream_failed"));
}

#[tokio::test]
async fn a_dead_upstream_is_a_502() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let gw = TestGateway::start(&single(
        &format!("http://127.0.0.1:{port}/v1"),
        "[upstreams.retry]\nmax_attempts = 2\ninitial_backoff = \"10ms\"",
    ))
    .await;
    let (status, error, _) = error_of(post(&gw, &chat(false)).await).await;
    assert_eq!(status, 502);
    assert_eq!(error["code"], "upstream_failed");
    let (status, _, _) = error_of(post(&gw, &chat(true)).await).await;
    assert_eq!(status, 502);
}

#[tokio::test]
async fn garbage_from_upstream_is_a_502_for_json_and_streams() {
    let mock = mock_with(Behaviour::Garbage).await;
    let gw = TestGateway::start(&single(&mock.base_url(), "")).await;
    let (status, error, _) = error_of(post(&gw, &chat(false)).await).await;
    assert_eq!(status, 502);
    assert_eq!(error["code"], "upstream_invalid_response");
    let (status, error, _) = error_of(post(&gw, &chat(true)).await).await;
    assert_eq!(status, 502);
    assert_eq!(error["code"], "upstream_invalid_response");
}

fn two_upstreams(first: &str, second: &str, first_extra: &str) -> String {
    format!(
        r#"
[[upstreams]]
name = "first"
base_url = "{first}"
{first_extra}

[[upstreams]]
name = "second"
base_url = "{second}"

[[routes]]
models = ["gpt-test"]
upstreams = ["first", "second"]
allow_plain_http = true
"#
    )
}

#[tokio::test]
async fn falls_back_to_the_next_upstream_when_the_first_is_dead() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let good = MockUpstream::start(MockOptions::default()).await.unwrap();
    let gw = TestGateway::start(&two_upstreams(
        &format!("http://127.0.0.1:{port}/v1"),
        &good.base_url(),
        "",
    ))
    .await;
    for stream in [false, true] {
        let r = post(&gw, &chat(stream)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-palisade-upstream"], "second");
        let _ = r.bytes().await.unwrap();
    }
}

#[tokio::test]
async fn retries_503_with_backoff_then_falls_back() {
    let failing = mock_with(Behaviour::Status(503)).await;
    let good = MockUpstream::start(MockOptions::default()).await.unwrap();
    let extra =
        "[upstreams.retry]\nmax_attempts = 3\ninitial_backoff = \"10ms\"\nmax_backoff = \"50ms\"";
    let gw = TestGateway::start(&two_upstreams(&failing.base_url(), &good.base_url(), extra)).await;
    let r = post(&gw, &chat(false)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(failing.stats.requests.load(Ordering::Relaxed), 3);
    assert_eq!(good.stats.requests.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_500_is_not_retried_on_the_same_upstream() {
    let failing = mock_with(Behaviour::Status(500)).await;
    let gw = TestGateway::start(&single(
        &failing.base_url(),
        "[upstreams.retry]\nmax_attempts = 3",
    ))
    .await;
    let (status, error, _) = error_of(post(&gw, &chat(false)).await).await;
    assert_eq!(status, 502);
    assert_eq!(error["code"], "upstream_failed");
    assert_eq!(failing.stats.requests.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn the_circuit_opens_after_repeated_failures() {
    let failing = mock_with(Behaviour::Status(500)).await;
    let extra = "[upstreams.retry]\nmax_attempts = 1\n[upstreams.circuit_breaker]\nfailure_threshold = 2\nopen_for = \"60s\"";
    let gw = TestGateway::start(&single(&failing.base_url(), extra)).await;
    for _ in 0..2 {
        assert_eq!(post(&gw, &chat(false)).await.status(), 502);
    }
    let (status, error, headers) = error_of(post(&gw, &chat(false)).await).await;
    assert_eq!(status, 503);
    assert_eq!(error["code"], "upstream_unavailable");
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(
        failing.stats.requests.load(Ordering::Relaxed),
        2,
        "an open circuit spares the upstream"
    );
    let ready = client().get(gw.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let metrics = gw.metrics().await;
    assert!(
        metrics.contains("palisade_upstream_circuit_open{upstream=\"primary\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn upstream_rate_limits_and_client_errors_pass_through() {
    let limited = mock_with(Behaviour::Status(429)).await;
    let gw = TestGateway::start(&single(&limited.base_url(), "")).await;
    let (status, error, headers) = error_of(post(&gw, &chat(false)).await).await;
    assert_eq!(status, 429);
    assert_eq!(error["type"], "rate_limit_error");
    assert_eq!(headers["retry-after"], "7");

    let rejecting = mock_with(Behaviour::Status(400)).await;
    let gw = TestGateway::start(&single(&rejecting.base_url(), "")).await;
    let (status, error, _) = error_of(post(&gw, &chat(false)).await).await;
    assert_eq!(status, 400);
    assert_eq!(error["message"], "mock upstream answered 400");
}

#[tokio::test]
async fn upstream_auth_failure_is_a_502_without_leaking_the_key() {
    let mock = mock_with(Behaviour::Status(401)).await;
    let gw = TestGateway::start(&single(&mock.base_url(), "")).await;
    let r = post(&gw, &chat(false)).await;
    let text = r.text().await.unwrap();
    assert!(text.contains("upstream_failed"));
    assert!(!text.contains("sk-upstream-secret"));
}

#[tokio::test]
async fn missing_upstream_credentials_are_a_503_and_not_ready() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let gw = TestGateway::start_with_env(&single(&mock.base_url(), ""), &[]).await;
    let (status, error, _) = error_of(post(&gw, &chat(false)).await).await;
    assert_eq!(status, 503);
    assert_eq!(error["code"], "upstream_unavailable");
    let ready: Value = client()
        .get(gw.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["upstreams"]["primary"], "no_credentials");
    assert_eq!(mock.stats.requests.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn azure_upstreams_get_deployment_urls_and_api_key_header() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let toml = format!(
        r#"
[[upstreams]]
name = "azure"
kind = "azure"
base_url = "http://{}"
api_key_env = "UPSTREAM_KEY"
api_version = "2024-10-21"
deployments = {{ "gpt-4o" = "prod-4o" }}

[[routes]]
models = ["gpt-4o"]
upstreams = ["azure"]
allow_plain_http = true
"#,
        mock.addr()
    );
    let gw = TestGateway::start(&toml).await;
    let r = post(
        &gw,
        &json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        mock.stats.last_api_key.lock().unwrap().as_deref(),
        Some("sk-upstream-secret")
    );
    assert_eq!(
        mock.stats.last_authorization.lock().unwrap().as_deref(),
        None
    );
}

#[tokio::test]
async fn bad_requests_get_precise_openai_errors() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let toml = single(&mock.base_url(), "[server.limits]\nmax_body_bytes = 2048")
        .replace("models = [\"*\"]", "models = [\"gpt-test\"]");
    // `[server.limits]` must not sit under `[[upstreams]]`.
    let toml = format!(
        "[server.limits]\nmax_body_bytes = 2048\n{}",
        toml.replace("[server.limits]\nmax_body_bytes = 2048", "")
    );
    let gw = TestGateway::start(&toml).await;
    let c = client();
    let chat_url = gw.url("/v1/chat/completions");
    let big =
        json!({"model": "gpt-test", "messages": [{"role": "user", "content": "x".repeat(4096)}]});
    expect_error(
        c.post(&chat_url).json(&big),
        413,
        "code",
        "request_too_large",
    )
    .await;
    let raw = |body: Vec<u8>| {
        c.post(&chat_url)
            .header("content-type", "application/json")
            .body(body)
    };
    expect_error(raw(b"{\"model\": ".to_vec()), 400, "code", "invalid_json").await;
    expect_error(raw(vec![0xff, 0xfe, 0x00]), 400, "code", "invalid_json").await;
    // A repeated key: the guardrails and the model's API could each read a
    // different one.
    expect_error(
        raw(
            br#"{"model":"gpt-test","messages":[{"role":"user","content":"a","content":"b"}]}"#
                .to_vec(),
        ),
        400,
        "code",
        "invalid_json",
    )
    .await;
    expect_error(
        c.post(&chat_url)
            .header("content-type", "text/plain")
            .body("hi"),
        415,
        "code",
        "unsupported_media_type",
    )
    .await;
    let other_model = json!({"model": "other", "messages": [{"role": "user", "content": "x"}]});
    expect_error(
        c.post(&chat_url).json(&other_model),
        404,
        "code",
        "model_not_found",
    )
    .await;
    let no_content = json!({"model": "gpt-test", "messages": [{"role": "user"}]});
    expect_error(
        c.post(&chat_url).json(&no_content),
        400,
        "param",
        "messages[0].content",
    )
    .await;
    expect_error(c.get(gw.url("/v2/nothing")), 404, "code", "not_found").await;
    expect_error(c.get(&chat_url), 405, "code", "method_not_allowed").await;

    assert_eq!(
        mock.stats.requests.load(Ordering::Relaxed),
        0,
        "no bad request reached the upstream"
    );
}

async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn oversized_and_too_many_headers_are_refused() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let gw = TestGateway::start(&single(&mock.base_url(), "")).await;
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let response = raw_exchange(gw.addr, huge.as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 431"), "{response}");
    let mut many = String::from("GET /healthz HTTP/1.1\r\nhost: x\r\n");
    for i in 0..150 {
        many.push_str(&format!("x-h{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let response = raw_exchange(gw.addr, many.as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 431"), "{response}");
}

#[tokio::test]
async fn a_slow_client_body_gets_408() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let toml = format!(
        "[server.limits]\nbody_read_timeout = \"300ms\"\n{}",
        single(&mock.base_url(), "")
    );
    let gw = TestGateway::start(&toml).await;
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"model\":").await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("request_timeout"));
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_upstream_stream() {
    let mock = MockUpstream::start(MockOptions {
        chunk_delay: Some(Duration::from_millis(100)),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let gw = TestGateway::start(&single(&mock.base_url(), "")).await;
    let r = post(&gw, &chat(true)).await;
    let mut chunks = r.bytes_stream();
    let _first = chunks.next().await.unwrap().unwrap();
    drop(chunks);
    for _ in 0..50 {
        if mock.stats.cancelled_streams.load(Ordering::Relaxed) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(mock.stats.cancelled_streams.load(Ordering::Relaxed), 1);
    assert_eq!(mock.stats.completed_streams.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn models_health_and_readiness() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let toml = format!(
        r#"
[[upstreams]]
name = "primary"
base_url = "{}"
[[routes]]
models = ["alpha", "beta"]
upstreams = ["primary"]
allow_plain_http = true
[[routes]]
models = ["*"]
upstreams = ["primary"]
allow_plain_http = true
"#,
        mock.base_url()
    );
    let gw = TestGateway::start(&toml).await;
    let models: Value = client()
        .get(gw.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["alpha", "beta", "mock-model"]);
    assert_eq!(
        client()
            .get(gw.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = client().get(gw.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn tls_termination_serves_https_and_http2() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let toml = format!(
        "[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n{}",
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display(),
        single(&mock.base_url(), "")
    );
    let env = MapEnv(BTreeMap::from([(
        "UPSTREAM_KEY".to_string(),
        "k".to_string(),
    )]));
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().join("data")),
        upstream: None,
    };
    let config = config::parse(&toml, Path::new(""), &env, &overrides).unwrap();
    let tls = server::TlsReloader::load(config.server.tls.clone().unwrap()).unwrap();
    let gateway = palisade_gateway::Gateway::new(config, &env).await.unwrap();
    let listener = server::bind(gateway.config().server.listen).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shutdown = CancellationToken::new();
    tokio::spawn(server::run(gateway, listener, Some(tls), shutdown.clone()));

    let root = reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([root])
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .unwrap();
    let r = client
        .post(format!("https://localhost:{port}/v1/chat/completions"))
        .json(&chat(false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    // Plain HTTP to a TLS port is refused, not served.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_err()
    );
    shutdown.cancel();
}

#[tokio::test]
async fn a_slow_request_head_is_cut_off() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let toml = format!(
        "[server.limits]\nheader_read_timeout = \"300ms\"\n{}",
        single(&mock.base_url(), "")
    );
    let gw = TestGateway::start(&toml).await;
    let mut tcp = TcpStream::connect(gw.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut response)).await;
    assert!(
        read.is_ok(),
        "the gateway closes a connection whose head never completes"
    );
    assert!(!String::from_utf8_lossy(&response).contains("200 OK"));
}

/// Starts a TLS gateway in front of `mock`, to serve as an HTTPS upstream.
async fn tls_front(mock: &MockUpstream, dir: &Path) -> (u16, String, CancellationToken) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("front-cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.join("front-key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let toml = format!(
        "[server.tls]\ncert = \"front-cert.pem\"\nkey = \"front-key.pem\"\n{}",
        single(&mock.base_url(), "")
    );
    let env = MapEnv(BTreeMap::from([(
        "UPSTREAM_KEY".to_string(),
        "k".to_string(),
    )]));
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.join("front-data")),
        upstream: None,
    };
    let config = config::parse(&toml, dir, &env, &overrides).unwrap();
    let tls = server::TlsReloader::load(config.server.tls.clone().unwrap()).unwrap();
    let gateway = palisade_gateway::Gateway::new(config, &env).await.unwrap();
    let listener = server::bind(gateway.config().server.listen).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shutdown = CancellationToken::new();
    tokio::spawn(server::run(gateway, listener, Some(tls), shutdown.clone()));
    (port, cert.cert.pem(), shutdown)
}

#[tokio::test]
async fn https_upstreams_are_verified_against_webpki_roots_plus_the_extra_ca() {
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (port, ca_pem, front) = tls_front(&mock, dir.path()).await;
    std::fs::write(dir.path().join("private-ca.pem"), ca_pem).unwrap();
    // 127.0.0.1 is not the certificate's name; `localhost` is.
    let base = format!("https://localhost:{port}/v1");
    let trusted = format!(
        "[[upstreams]]\nname = \"tls\"\nbase_url = \"{base}\"\nca_bundle = \"{}\"\n[upstreams.retry]\nmax_attempts = 1\n[[routes]]\nmodels = [\"*\"]\nupstreams = [\"tls\"]\n",
        dir.path().join("private-ca.pem").display()
    );
    let gw = TestGateway::start(&trusted).await;
    let r = post(&gw, &chat(false)).await;
    assert_eq!(
        r.status(),
        200,
        "an upstream signed by the configured CA is accepted"
    );
    let stream = read_events(post(&gw, &chat(true)).await).await;
    assert!(stream.last().unwrap().is_done());

    let untrusted = format!(
        "[[upstreams]]\nname = \"tls\"\nbase_url = \"{base}\"\n[upstreams.retry]\nmax_attempts = 1\n[[routes]]\nmodels = [\"*\"]\nupstreams = [\"tls\"]\n"
    );
    let gw = TestGateway::start(&untrusted).await;
    let (status, error, _) = error_of(post(&gw, &chat(false)).await).await;
    assert_eq!(
        status, 502,
        "a self-signed upstream is refused without the CA"
    );
    assert_eq!(error["code"], "upstream_failed");
    front.cancel();
}

#[tokio::test]
async fn an_answer_over_the_upstream_response_limit_is_a_502_and_one_under_it_passes() {
    let long = "word ".repeat(1_000);
    let mock = MockUpstream::start(MockOptions {
        reply: Some(long.clone()),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    for (limit, allowed) in [(1024usize, false), (64 * 1024, true)] {
        let toml = format!(
            "[server.limits]\nmax_upstream_response_bytes = {limit}\n{}",
            single(&mock.base_url(), "")
        );
        let gw = TestGateway::start(&toml).await;
        let r = post(&gw, &chat(false)).await;
        if allowed {
            assert_eq!(r.status(), 200, "limit {limit}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["choices"][0]["message"]["content"], long.as_str());
        } else {
            let (status, error, _) = error_of(r).await;
            assert_eq!(status, 502, "limit {limit}");
            assert_eq!(error["code"], "upstream_invalid_response");
        }
    }
}

#[tokio::test]
async fn every_request_is_counted_in_the_request_and_upstream_metrics() {
    // The recorder is shared by every test of this binary: the upstream has
    // a name of its own, so its samples move with this test's requests only.
    let mock = MockUpstream::start(MockOptions::default()).await.unwrap();
    let gw = TestGateway::start(
        &single_unguarded(&mock.base_url(), "").replace("primary", "metrics-probe"),
    )
    .await;
    let attempts = "palisade_upstream_attempts_total{upstream=\"metrics-probe\",outcome=\"ok\"}";
    let timed = "palisade_upstream_request_duration_seconds_count{upstream=\"metrics-probe\"}";
    let handled = "palisade_http_requests_total{endpoint=\"chat_completions\",status=\"200\"}";
    let before = gw.metrics().await;
    for _ in 0..3 {
        assert_eq!(post(&gw, &chat(false)).await.status(), 200);
    }
    let after = gw.metrics().await;
    assert_eq!(
        sample(&after, attempts) - sample(&before, attempts),
        3.0,
        "{after}"
    );
    assert_eq!(
        sample(&after, timed) - sample(&before, timed),
        3.0,
        "{after}"
    );
    assert!(
        sample(&after, handled) - sample(&before, handled) >= 3.0,
        "{after}"
    );
    assert!(
        sample(
            &after,
            "palisade_http_request_duration_seconds_count{endpoint=\"chat_completions\"}"
        ) >= 3.0,
        "{after}"
    );
}
