//! Prometheus metrics. Names follow Prometheus conventions
//! (`palisade_…_total`, `_seconds`); labels come from bounded sets only
//! (endpoint, status class, configured upstream names), never from keys,
//! users or prompts.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0,
];

/// Guardrail work is measured in microseconds.
const GUARD_BUCKETS: &[f64] = &[
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005, 0.025, 0.1,
];

/// Installs the process-wide recorder (once) and returns its handle.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .ok()?
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Prefix("palisade_guardrail".into()),
                    GUARD_BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "palisade_http_requests_total",
        "Client requests handled, by endpoint and status code."
    );
    metrics::describe_histogram!(
        "palisade_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to the response head, by endpoint."
    );
    metrics::describe_counter!(
        "palisade_upstream_attempts_total",
        "Upstream attempts, by upstream and outcome."
    );
    metrics::describe_histogram!(
        "palisade_upstream_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time per upstream attempt until the response head (or failure)."
    );
    metrics::describe_counter!(
        "palisade_guardrail_verdicts_total",
        "Guardrail findings acted on, by policy, stage, detector, action and mode."
    );
    metrics::describe_histogram!(
        "palisade_guardrail_duration_seconds",
        metrics::Unit::Seconds,
        "Time spent in guardrails, per request stage or streamed event."
    );
    metrics::describe_counter!(
        "palisade_guardrail_clean_memo_lookups_total",
        "Input texts looked up in the clean-text memo, by result (hit: not scanned again)."
    );
    metrics::describe_gauge!(
        "palisade_upstream_circuit_open",
        "1 while the upstream's circuit breaker is open."
    );
}

/// Records one handled client request.
pub fn http_request(endpoint: &'static str, status: u16, elapsed: Duration) {
    metrics::counter!("palisade_http_requests_total", "endpoint" => endpoint, "status" => status_label(status)).increment(1);
    metrics::histogram!("palisade_http_request_duration_seconds", "endpoint" => endpoint)
        .record(elapsed.as_secs_f64());
}

/// Records one upstream attempt's outcome.
pub fn upstream_attempt(upstream: &str, outcome: &'static str) {
    metrics::counter!("palisade_upstream_attempts_total", "upstream" => upstream.to_owned(), "outcome" => outcome).increment(1);
}

/// Records one upstream attempt's latency.
pub fn upstream_latency(upstream: &str, elapsed: Duration) {
    metrics::histogram!("palisade_upstream_request_duration_seconds", "upstream" => upstream.to_owned())
        .record(elapsed.as_secs_f64());
}

/// Counts guardrail verdicts. Labels are bounded: configured policy and
/// rule names, finding kinds, actions.
pub fn guard_verdict(
    policy: &str,
    stage: &'static str,
    detector: &str,
    action: &'static str,
    enforced: bool,
    count: usize,
) {
    metrics::counter!(
        "palisade_guardrail_verdicts_total",
        "policy" => policy.to_owned(),
        "stage" => stage,
        "detector" => detector.to_owned(),
        "action" => action,
        "mode" => if enforced { "enforce" } else { "shadow" }
    )
    .increment(count as u64);
}

/// Records time spent evaluating guardrails for one request stage (or one
/// streamed event).
pub fn guard_latency(stage: &'static str, elapsed: Duration) {
    metrics::histogram!("palisade_guardrail_duration_seconds", "stage" => stage)
        .record(elapsed.as_secs_f64());
}

/// Counts one lookup in an input stage's clean-text memo.
pub fn clean_memo(hit: bool) {
    metrics::counter!(
        "palisade_guardrail_clean_memo_lookups_total",
        "result" => if hit { "hit" } else { "miss" }
    )
    .increment(1);
}

/// Publishes a breaker's state.
pub fn circuit_state(upstream: &str, open: bool) {
    metrics::gauge!("palisade_upstream_circuit_open", "upstream" => upstream.to_owned())
        .set(if open { 1.0 } else { 0.0 });
}

/// Status codes labelled individually; anything else is labelled by class,
/// so the label set stays bounded.
const EXACT_STATUSES: &[(u16, &str)] = &[
    (200, "200"),
    (400, "400"),
    (401, "401"),
    (403, "403"),
    (404, "404"),
    (405, "405"),
    (408, "408"),
    (413, "413"),
    (415, "415"),
    (429, "429"),
    (451, "451"),
    (500, "500"),
    (502, "502"),
    (503, "503"),
    (504, "504"),
];

fn status_label(status: u16) -> &'static str {
    match EXACT_STATUSES.iter().find(|(code, _)| *code == status) {
        Some((_, label)) => label,
        None => match status / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        },
    }
}
