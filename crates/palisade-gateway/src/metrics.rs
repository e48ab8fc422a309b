//! Prometheus metrics. Names follow Prometheus conventions
//! (`palisade_…_total`, `_seconds`); labels come from bounded sets only
//! (endpoint, status class, configured upstream names), never from keys,
//! users or prompts.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::guard::policy::Stage;
use crate::request::Endpoint;

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

fn installed() -> bool {
    matches!(HANDLE.get(), Some(Some(_)))
}

/// A metric handle registered on first use and kept. Each `counter!` or
/// `histogram!` call builds its key and looks it up in the recorder's
/// registry, about a thousand instructions; the request path records half a
/// dozen metrics, so keeping the handles saves about 5 % of a proxied
/// request (BENCHMARKS.md, seventh session). Handles are kept only once the
/// recorder is installed: one taken before would record nowhere, for good.
pub struct Cached<T>(OnceLock<T>);

impl<T> Cached<T> {
    /// An empty slot.
    pub const fn new() -> Cached<T> {
        Cached(OnceLock::new())
    }

    fn with(&self, register: impl FnOnce() -> T, record: impl FnOnce(&T)) {
        if installed() {
            record(self.0.get_or_init(register));
        } else {
            record(&register());
        }
    }
}

impl<T> Default for Cached<T> {
    fn default() -> Cached<T> {
        Cached::new()
    }
}

impl<T> std::fmt::Debug for Cached<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cached(..)")
    }
}

/// How many status labels [`status_label`] gives: the exact ones, then
/// the five classes.
const STATUS_LABELS: usize = EXACT_STATUSES.len() + 5;

/// The position of `status`'s label among the [`STATUS_LABELS`].
fn status_index(status: u16) -> usize {
    match EXACT_STATUSES.iter().position(|(code, _)| *code == status) {
        Some(i) => i,
        None => EXACT_STATUSES.len() + usize::from((status / 100).clamp(1, 5) - 1),
    }
}

/// Records one handled client request.
pub fn http_request(endpoint: Endpoint, status: u16, elapsed: Duration) {
    static REQUESTS: [[Cached<Counter>; STATUS_LABELS]; 3] =
        [const { [const { Cached::new() }; STATUS_LABELS] }; 3];
    static DURATIONS: [Cached<Histogram>; 3] = [const { Cached::new() }; 3];
    let label = endpoint.label();
    REQUESTS[endpoint as usize][status_index(status)].with(
        || metrics::counter!("palisade_http_requests_total", "endpoint" => label, "status" => status_label(status)),
        |c| c.increment(1),
    );
    DURATIONS[endpoint as usize].with(
        || metrics::histogram!("palisade_http_request_duration_seconds", "endpoint" => label),
        |h| h.record(elapsed.as_secs_f64()),
    );
}

/// Records one upstream attempt's outcome.
pub fn upstream_attempt(upstream: &str, outcome: &'static str) {
    metrics::counter!("palisade_upstream_attempts_total", "upstream" => upstream.to_owned(), "outcome" => outcome).increment(1);
}

/// The metrics of one upstream that every attempt (its latency) or every
/// successful one (its count) records, with their handles kept (see
/// [`Cached`]); failures, rarer, are counted by [`upstream_attempt`].
#[derive(Debug, Default)]
pub struct UpstreamMetrics {
    ok: Cached<Counter>,
    latency: Cached<Histogram>,
}

impl UpstreamMetrics {
    /// Counts a successful attempt on `upstream` (its configured name).
    pub fn attempt_ok(&self, upstream: &str) {
        self.ok.with(
            || metrics::counter!("palisade_upstream_attempts_total", "upstream" => upstream.to_owned(), "outcome" => "ok"),
            |c| c.increment(1),
        );
    }

    /// Records how long an attempt on `upstream` took.
    pub fn latency(&self, upstream: &str, elapsed: Duration) {
        self.latency.with(
            || metrics::histogram!("palisade_upstream_request_duration_seconds", "upstream" => upstream.to_owned()),
            |h| h.record(elapsed.as_secs_f64()),
        );
    }
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
pub fn guard_latency(stage: Stage, elapsed: Duration) {
    static DURATIONS: [Cached<Histogram>; 2] = [const { Cached::new() }; 2];
    DURATIONS[stage as usize].with(
        || metrics::histogram!("palisade_guardrail_duration_seconds", "stage" => stage.as_str()),
        |h| h.record(elapsed.as_secs_f64()),
    );
}

/// Counts one lookup in an input stage's clean-text memo.
pub fn clean_memo(hit: bool) {
    static LOOKUPS: [Cached<Counter>; 2] = [const { Cached::new() }; 2];
    LOOKUPS[usize::from(hit)].with(
        || {
            metrics::counter!(
                "palisade_guardrail_clean_memo_lookups_total",
                "result" => if hit { "hit" } else { "miss" }
            )
        },
        |c| c.increment(1),
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_label_has_its_own_cached_counter() {
        // A kept handle is chosen by index: two labels sharing an index
        // would count one label's requests under the other.
        let mut owner: [Option<&str>; STATUS_LABELS] = [None; STATUS_LABELS];
        for status in 100..=599u16 {
            let (label, index) = (status_label(status), status_index(status));
            assert!(index < STATUS_LABELS, "{status}");
            match owner[index] {
                None => owner[index] = Some(label),
                Some(other) => assert_eq!(other, label, "status {status}"),
            }
        }
        assert!(
            owner.iter().all(Option::is_some),
            "every slot is some label's"
        );
    }
}
