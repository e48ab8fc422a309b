//! The proxy core: route a validated request to its upstreams (retries,
//! fallback, circuit breakers) and relay the answer, JSON or streamed.
//!
//! Streams are relayed event by event as they arrive. The response body pulls
//! from the upstream only when the client's connection can take more, so a
//! slow client slows the upstream read instead of filling memory, and a
//! client that goes away drops the upstream request with it.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use http::{HeaderValue, StatusCode, header};

use crate::breaker::Admission;
use crate::error::ApiError;
use crate::guard::stream::{Flow, StreamGuard};
use crate::guard::{CompiledPolicy, OutputSession};
use crate::headers;
use crate::metrics as m;
use crate::request::ProxyRequest;
use crate::sse::{SseError, SseEvent, SseParser};
use crate::upstream::{self, Failure, SharedUpstream};

/// Largest single server-sent event accepted from an upstream.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// A route resolved to its upstreams, primary first.
#[derive(Debug, Clone)]
pub struct ResolvedRoute {
    /// Upstreams in fallback order.
    pub upstreams: Vec<SharedUpstream>,
    /// The guardrail policy for this route.
    pub policy: Arc<CompiledPolicy>,
}

/// What a successful upstream exchange produced.
pub enum Relayed {
    /// A complete JSON body, validated.
    Json {
        /// Upstream status (2xx).
        status: StatusCode,
        /// The body.
        body: Bytes,
        /// Which upstream answered.
        upstream: String,
    },
    /// A live event stream whose first events are already read.
    Stream {
        /// The framed events for the client.
        body: Body,
        /// Which upstream answered.
        upstream: String,
    },
}

impl IntoResponse for Relayed {
    fn into_response(self) -> Response {
        match self {
            Relayed::Json {
                status,
                body,
                upstream,
            } => {
                let mut r =
                    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
                set_upstream_header(&mut r, &upstream);
                r
            }
            Relayed::Stream { body, upstream } => {
                let mut r = Response::new(body);
                let h = r.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/event-stream"),
                );
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                // Ask reverse proxies in front of us not to buffer the stream.
                h.insert(
                    headers::ACCEL_BUFFERING.clone(),
                    HeaderValue::from_static("no"),
                );
                set_upstream_header(&mut r, &upstream);
                r
            }
        }
    }
}

fn set_upstream_header(r: &mut Response, upstream: &str) {
    if let Ok(v) = HeaderValue::from_str(upstream) {
        r.headers_mut().insert(headers::UPSTREAM.clone(), v);
    }
}

/// Sends `request` along `route`: each upstream in order, each with its retry
/// policy, skipping upstreams whose circuit is open. Returns the first
/// success, a client error as soon as an upstream blames the request, or the
/// last failure mapped to an [`ApiError`].
///
/// `body` is the JSON sent upstream: the client's bytes as received when
/// nothing changed the request (re-serialising `request.body` costs time on
/// every call), or the serialised body of an edited request.
///
/// `guard` is the output stage for a streamed answer; each attempt gets a
/// fresh [`StreamGuard`] so a fallback starts clean.
pub async fn forward(
    route: &ResolvedRoute,
    request: &ProxyRequest,
    body: Bytes,
    request_id: &str,
    max_response_bytes: usize,
    guard: Option<&Arc<OutputSession>>,
) -> Result<Relayed, ApiError> {
    let mut last: Option<Failure> = None;
    for upstream in &route.upstreams {
        if let Admission::Rejected(wait) = upstream.breaker.admit() {
            m::upstream_attempt(upstream.name(), "circuit_open");
            last = Some(Failure::CircuitOpen(wait));
            continue;
        }
        let policy = upstream.config.retry;
        for attempt in 1..=policy.max_attempts {
            if attempt > 1 {
                tokio::time::sleep(upstream::backoff(
                    policy.initial_backoff,
                    policy.max_backoff,
                    attempt - 1,
                ))
                .await;
            }
            let started = Instant::now();
            let outcome = attempt_once(
                upstream,
                request,
                body.clone(),
                request_id,
                max_response_bytes,
                guard,
            )
            .await;
            upstream.metrics.latency(upstream.name(), started.elapsed());
            match outcome {
                Ok(relayed) => {
                    upstream.breaker.success();
                    upstream.metrics.attempt_ok(upstream.name());
                    return Ok(relayed);
                }
                Err(failure) => {
                    m::upstream_attempt(upstream.name(), failure.label());
                    tracing::warn!(
                        request_id,
                        upstream = %upstream.name(),
                        attempt,
                        failure = failure.label(),
                        "upstream attempt failed"
                    );
                    if failure.counts_against_upstream() {
                        upstream.breaker.failure();
                    }
                    if let Failure::ClientError(e) = failure {
                        return Err(e);
                    }
                    let retry = failure.is_retryable() && attempt < policy.max_attempts;
                    last = Some(failure);
                    if !retry {
                        break;
                    }
                }
            }
        }
    }
    Err(last
        .map(Failure::into_api_error)
        .unwrap_or(ApiError::Internal))
}

async fn attempt_once(
    upstream: &SharedUpstream,
    request: &ProxyRequest,
    body: Bytes,
    request_id: &str,
    max_response_bytes: usize,
    guard: Option<&Arc<OutputSession>>,
) -> Result<Relayed, Failure> {
    let started = Instant::now();
    let response = upstream
        .send(
            request.endpoint,
            &request.model,
            body,
            request.stream,
            request_id,
        )
        .await?;
    let status = response.status();
    if request.stream {
        let is_sse = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("text/event-stream")
            });
        if !is_sse {
            return Err(Failure::Invalid("stream response is not text/event-stream"));
        }
        let guard = guard.map(|session| StreamGuard::new(session.clone()));
        let relay = StreamRelay::start(upstream.clone(), response, request_id, guard).await?;
        return Ok(Relayed::Stream {
            body: Body::from_stream(relay.into_stream()),
            upstream: upstream.name().to_owned(),
        });
    }
    let remaining = upstream
        .config
        .timeouts
        .total
        .saturating_sub(started.elapsed());
    let bytes = upstream::read_limited(response, max_response_bytes, remaining).await?;
    if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() {
        return Err(Failure::Invalid("response body is not JSON"));
    }
    Ok(Relayed::Json {
        status,
        body: bytes,
        upstream: upstream.name().to_owned(),
    })
}

/// Relays one upstream event stream, re-framing each event.
struct StreamRelay {
    upstream: SharedUpstream,
    chunks: std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, hyper::Error>> + Send>>,
    parser: SseParser,
    ready: VecDeque<SseEvent>,
    idle: Duration,
    finished: bool,
    request_id: String,
    guard: Option<StreamGuard>,
}

enum Step {
    Events,
    End,
    Fail(ApiError, &'static str),
}

impl StreamRelay {
    /// Reads until the first complete event, so a stream that dies before
    /// saying anything still counts as a failed attempt (and can fall back).
    async fn start(
        upstream: SharedUpstream,
        response: crate::upstream::UpstreamResponse,
        request_id: &str,
        guard: Option<StreamGuard>,
    ) -> Result<Self, Failure> {
        let idle = upstream.config.timeouts.stream_idle;
        let mut relay = StreamRelay {
            upstream,
            chunks: Box::pin(http_body_util::BodyDataStream::new(response.into_body())),
            parser: SseParser::new(MAX_EVENT_BYTES),
            ready: VecDeque::new(),
            idle,
            finished: false,
            request_id: request_id.to_owned(),
            guard,
        };
        while relay.ready.is_empty() {
            match relay.pull().await {
                Step::Events => {}
                Step::End => return Err(Failure::Invalid("stream ended before any event")),
                Step::Fail(ApiError::UpstreamTimeout, _) => return Err(Failure::Timeout),
                Step::Fail(ApiError::UpstreamFailed, _) => return Err(Failure::Connect),
                Step::Fail(_, why) => return Err(Failure::Invalid(why)),
            }
        }
        Ok(relay)
    }

    /// Reads one upstream chunk and parses whatever events it completes.
    async fn pull(&mut self) -> Step {
        let next = match tokio::time::timeout(self.idle, self.chunks.next()).await {
            Err(_) => return Step::Fail(ApiError::UpstreamTimeout, "stream idle timeout"),
            Ok(n) => n,
        };
        match next {
            None => {
                if self.parser.finish() {
                    Step::Fail(ApiError::UpstreamFailed, "stream truncated mid-event")
                } else {
                    Step::End
                }
            }
            Some(Err(_)) => Step::Fail(ApiError::UpstreamFailed, "stream connection failed"),
            Some(Ok(chunk)) => {
                self.parser.push(&chunk);
                loop {
                    match self.parser.next_event() {
                        Ok(Some(event)) => {
                            if !event.is_done()
                                && serde_json::from_str::<serde::de::IgnoredAny>(&event.data)
                                    .is_err()
                            {
                                return Step::Fail(
                                    ApiError::UpstreamInvalid,
                                    "stream event is not JSON",
                                );
                            }
                            self.ready.push_back(event);
                        }
                        Ok(None) => return Step::Events,
                        Err(SseError::TooLarge(_)) => {
                            return Step::Fail(ApiError::UpstreamInvalid, "stream event too large");
                        }
                        Err(SseError::InvalidUtf8) => {
                            return Step::Fail(ApiError::UpstreamInvalid, "stream event not UTF-8");
                        }
                    }
                }
            }
        }
    }

    /// Frames every ready event into one buffer (through the output guard
    /// when there is one); true once the stream is over: `[DONE]` seen, or
    /// the guard ended it.
    fn drain(&mut self, out: &mut BytesMut) -> bool {
        while let Some(event) = self.ready.pop_front() {
            let done = event.is_done();
            match &mut self.guard {
                Some(guard) => {
                    if guard.on_event(event, out) == Flow::Stop {
                        self.ready.clear();
                        return true;
                    }
                }
                None => event.write_to(out),
            }
            if done {
                self.ready.clear();
                return true;
            }
        }
        false
    }

    fn fail(&mut self, error: &ApiError, why: &'static str, out: &mut BytesMut) {
        tracing::warn!(request_id = %self.request_id, upstream = %self.upstream.name(), reason = why, "stream ended with an error");
        m::upstream_attempt(self.upstream.name(), "stream_error");
        if !matches!(error, ApiError::UpstreamInvalid) {
            self.upstream.breaker.failure();
        }
        out.extend_from_slice(error.sse_event().as_bytes());
        out.extend_from_slice(b"data: [DONE]\n\n");
        self.finished = true;
    }

    fn into_stream(self) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
        futures_util::stream::unfold(self, |mut relay| async move {
            if relay.finished {
                return None;
            }
            let mut out = BytesMut::new();
            loop {
                if relay.drain(&mut out) {
                    relay.finished = true;
                    return Some((Ok(out.freeze()), relay));
                }
                if !out.is_empty() {
                    return Some((Ok(out.freeze()), relay));
                }
                match relay.pull().await {
                    Step::Events => continue,
                    Step::End => {
                        // A clean close without `[DONE]` still leaves the
                        // client unable to tell it from a cut connection.
                        relay.fail(
                            &ApiError::UpstreamFailed,
                            "stream ended without [DONE]",
                            &mut out,
                        );
                        return Some((Ok(out.freeze()), relay));
                    }
                    Step::Fail(error, why) => {
                        relay.fail(&error, why, &mut out);
                        return Some((Ok(out.freeze()), relay));
                    }
                }
            }
        })
    }
}

/// Route lookup table built from the configuration.
#[derive(Debug, Default)]
pub struct Router {
    exact: std::collections::HashMap<String, Arc<ResolvedRoute>>,
    wildcard: Option<Arc<ResolvedRoute>>,
    /// Model names routed explicitly, in configuration order.
    pub explicit_models: Vec<String>,
}

impl Router {
    /// Builds the table.
    pub fn new(routes: Vec<(Vec<String>, ResolvedRoute)>) -> Self {
        let mut router = Router::default();
        for (models, route) in routes {
            let route = Arc::new(route);
            for model in models {
                if model == "*" {
                    router.wildcard = Some(route.clone());
                } else {
                    router.explicit_models.push(model.clone());
                    router.exact.insert(model, route.clone());
                }
            }
        }
        router
    }

    /// The route for `model`: an exact match first, then the wildcard route.
    pub fn route(&self, model: &str) -> Option<&Arc<ResolvedRoute>> {
        self.exact.get(model).or(self.wildcard.as_ref())
    }

    /// The wildcard route, if any.
    pub fn wildcard(&self) -> Option<&Arc<ResolvedRoute>> {
        self.wildcard.as_ref()
    }
}
