//! Time to first token through the output guard.
//!
//! The built-in mock model streams a 1.2 KB answer word by word with a
//! fixed pause per word (a stand-in for a model's generation pace). The
//! gateway runs with guardrails off, with the `standard` policy (256 bytes
//! held, plus any unfinished token up to the engine's 1 KiB bound), and with
//! other `stream_hold_back` settings. Prints a Markdown table of the median time to the first
//! non-empty content delta and to the end of the stream.
//!
//! `cargo run --release -p palisade-gateway --example ttft [PAUSE_MS] [RUNS]`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use palisade_gateway::config::{self, MapEnv, Overrides};
use palisade_gateway::mock::{MockOptions, MockUpstream};
use palisade_gateway::server;
use palisade_gateway::sse::SseParser;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const ANSWER: &str = "Thank you for your question about the quarterly maintenance window. \
The operations team will take the reporting cluster offline on Saturday between two and six in \
the morning, Hong Kong time. During that window the dashboards will show cached figures from \
Friday evening, and scheduled exports will be queued rather than dropped, so nothing needs to be \
re-run afterwards. If you own a job that cannot wait, tell the on-call engineer before Thursday \
noon and they will move it to the standby cluster. The change has been reviewed by the platform \
group and the rollback plan is to restore the previous configuration snapshot, which takes about \
fifteen minutes. We expect no data loss. After the window, please check that your saved filters \
still load, because the upgrade touches the query layer, and report anything odd in the usual \
channel with a screenshot and the time you noticed it. A short summary will be posted on Monday \
with the final timings, any incidents, and the follow-up actions agreed with the data owners. \
Thanks again for raising this early; it makes planning much easier for everyone involved, and we \
appreciate the patience of all the teams that depend on these reports every week.";

async fn measure(base_url: &str, policy_toml: &str, runs: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
[[upstreams]]
name = "mock"
base_url = "{base_url}"

[[routes]]
models = ["*"]
upstreams = ["mock"]
allow_plain_http = true
{policy_toml}
"#
    );
    let env = MapEnv(BTreeMap::new());
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().join("data")),
        upstream: None,
    };
    let config = config::parse(&toml, Path::new(""), &env, &overrides).unwrap();
    let gateway = palisade_gateway::Gateway::new(config, &env).await.unwrap();
    let listener = server::bind(gateway.config().server.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(server::run(gateway, listener, None, shutdown.clone()));
    let client = reqwest::Client::new();
    let mut firsts = Vec::new();
    let mut totals = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let response = client
            .post(format!("http://{addr}/v1/chat/completions"))
            .json(&json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "When is the maintenance window?"}]}))
            .send()
            .await
            .unwrap();
        let mut parser = SseParser::new(1 << 20);
        let mut chunks = response.bytes_stream();
        let mut first = None;
        while let Some(chunk) = chunks.next().await {
            parser.push(&chunk.unwrap());
            while let Ok(Some(event)) = parser.next_event() {
                if first.is_none()
                    && serde_json::from_str::<Value>(&event.data)
                        .ok()
                        .and_then(|v| {
                            v.pointer("/choices/0/delta/content")
                                .and_then(Value::as_str)
                                .map(|s| !s.is_empty())
                        })
                        == Some(true)
                {
                    first = Some(started.elapsed());
                }
            }
        }
        firsts.push(first.unwrap_or_default().as_secs_f64() * 1000.0);
        totals.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    shutdown.cancel();
    (median(&mut firsts), median(&mut totals))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let pause_ms: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let mock = MockUpstream::start(MockOptions {
        reply: Some(ANSWER.into()),
        chunk_delay: Some(Duration::from_millis(pause_ms)),
        ..MockOptions::default()
    })
    .await
    .unwrap();
    let words = ANSWER.split(' ').count();
    println!(
        "Answer: {} bytes in {words} word events, {pause_ms} ms apart; median of {runs} runs.\n",
        ANSWER.len()
    );
    println!("| output guard | first content (ms) | whole stream (ms) |");
    println!("|---|---:|---:|");
    let setups = [
        ("off (`policy = \"off\"`)", "policy = \"off\"".to_owned()),
        ("`standard` (256 B + unfinished token)", String::new()),
        (
            "`standard` rules, `stream_hold_back = 1024`",
            custom_policy(1024),
        ),
        (
            "`standard` rules, `stream_hold_back = 64`",
            custom_policy(64),
        ),
    ];
    for (label, policy) in setups {
        let (first, total) = measure(&mock.base_url(), &policy, runs).await;
        println!("| {label} | {first:.0} | {total:.0} |");
    }
}

/// The standard output rules with a chosen hold-back.
fn custom_policy(hold: usize) -> String {
    format!(
        r#"policy = "short"

[policies.short]
stream_hold_back = {hold}
[[policies.short.output]]
detectors = ["canary_leak"]
action = "block"
[[policies.short.output]]
detectors = ["toxicity"]
action = "block"
threshold = 0.9
[[policies.short.output]]
detectors = ["secrets", "personal_data", "unicode_smuggling"]
action = "redact"
"#
    )
}
