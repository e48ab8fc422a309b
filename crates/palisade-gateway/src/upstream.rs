//! Calling upstream LLM endpoints: URL and credential dialects (OpenAI-
//! compatible, Azure OpenAI), timeouts, and the classification of every way a
//! call can fail, which drives retries, fallback and the circuit breaker.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::breaker::Breaker;
use crate::config::{EnvSource, UpstreamConfig, UpstreamKind};
use crate::error::ApiError;
use crate::request::Endpoint;
use crate::tls::{self, TlsError};

/// The HTTP client of one upstream: hyper's pooled client over rustls,
/// HTTP/1.1 or HTTP/2 as the server's ALPN answer decides. No redirects are
/// followed (they could carry the credential to another host) and no proxy
/// settings are read from the environment. A general-purpose client did
/// the same through redirect and URL layers that re-parsed the URL of every
/// request, a fifth of the proxy's own instructions (BENCHMARKS.md).
type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An upstream's answer: status, headers, and a body read as it arrives.
pub type UpstreamResponse = http::Response<hyper::body::Incoming>;

/// One configured upstream with its HTTP client, credential and breaker.
#[derive(Debug)]
pub struct Upstream {
    /// Its configuration.
    pub config: UpstreamConfig,
    client: HttpClient,
    /// The credential header, built once from the key and marked sensitive
    /// (never shown by `Debug` or logged by hyper); the key itself is not
    /// kept.
    auth_header: Option<(HeaderName, HeaderValue)>,
    /// For OpenAI-style upstreams, the URI of each endpoint, built once:
    /// rebuilding it cost a URL clone, a path parse and a `format!` per
    /// request.
    endpoint_uris: Option<[Uri; 3]>,
    /// Its circuit breaker.
    pub breaker: Breaker,
    /// Kept handles of the metrics every attempt records.
    pub metrics: crate::metrics::UpstreamMetrics,
}

/// Why one attempt at one upstream failed.
#[derive(Debug, Clone)]
pub enum Failure {
    /// TCP/TLS connection could not be established.
    Connect,
    /// No response head (or body, or next stream chunk) in time.
    Timeout,
    /// A 5xx status.
    ServerError(u16),
    /// A 429 status, with the upstream's `Retry-After` in seconds.
    RateLimited(Option<u64>),
    /// 401/403: the gateway's credential for this upstream is wrong.
    AuthRejected(u16),
    /// A 4xx that is the client's fault; returned to the client as is.
    ClientError(ApiError),
    /// The upstream answered with something that is not an OpenAI response.
    Invalid(&'static str),
    /// The credential variable is not set.
    NoCredentials,
    /// The circuit breaker refused the call.
    CircuitOpen(Duration),
}

impl Failure {
    /// Whether the same upstream should be tried again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Failure::Connect | Failure::ServerError(502..=504))
    }

    /// Whether the failure says something about the upstream's health.
    pub fn counts_against_upstream(&self) -> bool {
        !matches!(
            self,
            Failure::ClientError(_) | Failure::CircuitOpen(_) | Failure::NoCredentials
        )
    }

    /// Short label for metrics (a bounded set).
    pub fn label(&self) -> &'static str {
        match self {
            Failure::Connect => "connect_error",
            Failure::Timeout => "timeout",
            Failure::ServerError(_) => "server_error",
            Failure::RateLimited(_) => "rate_limited",
            Failure::AuthRejected(_) => "auth_rejected",
            Failure::ClientError(_) => "client_error",
            Failure::Invalid(_) => "invalid_response",
            Failure::NoCredentials => "no_credentials",
            Failure::CircuitOpen(_) => "circuit_open",
        }
    }

    /// The error the client sees when this was the last failure.
    pub fn into_api_error(self) -> ApiError {
        match self {
            Failure::Connect | Failure::ServerError(_) | Failure::AuthRejected(_) => {
                ApiError::UpstreamFailed
            }
            Failure::Timeout => ApiError::UpstreamTimeout,
            Failure::Invalid(_) => ApiError::UpstreamInvalid,
            Failure::RateLimited(retry_after) => ApiError::UpstreamRateLimited { retry_after },
            Failure::ClientError(e) => e,
            Failure::NoCredentials => ApiError::UpstreamUnavailable { retry_after: None },
            Failure::CircuitOpen(d) => ApiError::UpstreamUnavailable {
                retry_after: Some(d.as_secs().max(1)),
            },
        }
    }
}

/// Errors building upstream clients.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// TLS material for the upstream could not be loaded.
    #[error("upstream `{name}`: {source}")]
    Tls {
        /// The upstream.
        name: String,
        /// The TLS problem.
        source: TlsError,
    },
    /// The HTTP client could not be built.
    #[error("upstream `{name}`: cannot build HTTP client: {reason}")]
    Client {
        /// The upstream.
        name: String,
        /// Why.
        reason: String,
    },
}

/// Largest error body read from an upstream.
const MAX_ERROR_BODY: usize = 64 * 1024;

impl Upstream {
    /// Builds the client for `config`, reading its credential from `env`.
    pub fn new(config: UpstreamConfig, env: &dyn EnvSource) -> Result<Self, UpstreamError> {
        let tls = tls::client_config(config.ca_bundle.as_deref()).map_err(|source| {
            UpstreamError::Tls {
                name: config.name.clone(),
                source,
            }
        })?;
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(config.timeouts.connect));
        http.set_nodelay(true);
        // The TLS layer above decides which schemes are allowed.
        http.enforce_http(false);
        let schemes = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        let protocols = if config.base_url.scheme() == "https" {
            schemes.https_only()
        } else {
            schemes.https_or_http()
        };
        let connector = protocols.enable_http1().enable_http2().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .build(connector);
        let api_key = config
            .api_key_env
            .as_deref()
            .and_then(|var| env.var(var))
            .map(SecretString::from);
        let auth_header = match &api_key {
            Some(key) => {
                Some(
                    auth_header(config.kind, key).ok_or_else(|| UpstreamError::Client {
                        name: config.name.clone(),
                        reason: "the API key contains characters an HTTP header cannot carry"
                            .into(),
                    })?,
                )
            }
            None => None,
        };
        let breaker = Breaker::new(config.breaker);
        let mut upstream = Upstream {
            config,
            client,
            auth_header,
            endpoint_uris: None,
            breaker,
            metrics: crate::metrics::UpstreamMetrics::default(),
        };
        if upstream.config.kind == UpstreamKind::OpenAi {
            let [a, b, c] = Endpoint::ALL.map(|e| upstream.build_uri(e, ""));
            if let (Some(a), Some(b), Some(c)) = (a, b, c) {
                upstream.endpoint_uris = Some([a, b, c]);
            }
        }
        Ok(upstream)
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether a credential is configured but missing.
    pub fn missing_credentials(&self) -> bool {
        self.config.api_key_env.is_some() && self.auth_header.is_none()
    }

    /// The full URL for `endpoint` and `model`; `None` when the model name
    /// cannot be an Azure deployment (empty, or only dots, which URL
    /// normalisation would turn into path navigation).
    pub fn url(&self, endpoint: Endpoint, model: &str) -> Option<Url> {
        let mut url = self.config.base_url.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        match self.config.kind {
            UpstreamKind::OpenAi => url.set_path(&format!("{base_path}{}", endpoint.path())),
            UpstreamKind::Azure => {
                let deployment = self
                    .config
                    .deployments
                    .get(model)
                    .map(String::as_str)
                    .unwrap_or(model);
                if deployment.is_empty() || deployment.chars().all(|c| c == '.') {
                    return None;
                }
                url.set_path(&format!("{base_path}/openai/deployments/"));
                // One percent-encoded segment: `/`, `?` and `#` stay inside it.
                url = url
                    .join(&format!(
                        "{}{}",
                        urlencode_segment(deployment),
                        endpoint.path()
                    ))
                    .ok()?;
                if let Some(v) = &self.config.api_version {
                    url.query_pairs_mut().clear().append_pair("api-version", v);
                }
            }
        }
        Some(url)
    }

    /// [`Self::url`] as the request URI, from the per-endpoint cache when
    /// the URL does not depend on the model.
    fn uri(&self, endpoint: Endpoint, model: &str) -> Option<Uri> {
        if let Some(uris) = &self.endpoint_uris {
            return Some(uris[endpoint as usize].clone());
        }
        self.build_uri(endpoint, model)
    }

    fn build_uri(&self, endpoint: Endpoint, model: &str) -> Option<Uri> {
        self.url(endpoint, model)?.as_str().parse().ok()
    }

    fn models_url(&self) -> Url {
        let mut url = self.config.base_url.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}/models"));
        url
    }

    /// A request to `uri` with the gateway's headers and credential.
    fn request(
        &self,
        method: http::Method,
        uri: Uri,
        accept: &'static str,
        body: Bytes,
    ) -> http::Request<Full<Bytes>> {
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        if let Some((name, value)) = &self.auth_header {
            headers.insert(name.clone(), value.clone());
        }
        request
    }

    /// Sends `request`, waiting at most `wait` for the response head.
    async fn exchange(
        &self,
        request: http::Request<Full<Bytes>>,
        wait: Duration,
    ) -> Result<UpstreamResponse, Failure> {
        match tokio::time::timeout(wait, self.client.request(request)).await {
            Err(_) => Err(Failure::Timeout),
            Ok(Err(e)) if timed_out(&e) => Err(Failure::Timeout),
            Ok(Err(e)) => {
                if !e.is_connect() {
                    tracing::debug!(upstream = %self.name(), error = %e, "upstream request failed");
                }
                Err(Failure::Connect)
            }
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// Sends one request and waits for the response head. Status codes other
    /// than 2xx become a [`Failure`].
    pub async fn send(
        &self,
        endpoint: Endpoint,
        model: &str,
        body: Bytes,
        stream: bool,
        request_id: &str,
    ) -> Result<UpstreamResponse, Failure> {
        if self.missing_credentials() {
            return Err(Failure::NoCredentials);
        }
        let Some(uri) = self.uri(endpoint, model) else {
            return Err(Failure::ClientError(ApiError::invalid(
                "model",
                "this model name cannot be routed to an Azure deployment",
            )));
        };
        let accept = if stream {
            "text/event-stream"
        } else {
            "application/json"
        };
        let mut request = self.request(http::Method::POST, uri, accept, body);
        let headers = request.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert(crate::headers::REQUEST_ID.clone(), id);
        }
        let response = self
            .exchange(request, self.config.timeouts.first_byte)
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        Err(self.classify_error(status, response).await)
    }

    async fn classify_error(&self, status: StatusCode, response: UpstreamResponse) -> Failure {
        let retry_after = retry_after_seconds(response.headers());
        match status.as_u16() {
            401 | 403 => {
                tracing::error!(upstream = %self.name(), status = status.as_u16(), "upstream rejected the gateway's credential");
                Failure::AuthRejected(status.as_u16())
            }
            408 => Failure::Timeout,
            429 => Failure::RateLimited(retry_after),
            code @ 500..=599 => Failure::ServerError(code),
            code @ 400..=499 => {
                let body = read_limited(response, MAX_ERROR_BODY, Duration::from_secs(5))
                    .await
                    .unwrap_or_default();
                Failure::ClientError(client_error_from(code, &body))
            }
            _ => Failure::Invalid("unexpected status"),
        }
    }

    /// Lists the model ids the upstream reports (`GET {base}/models`).
    pub async fn list_models(&self) -> Option<Vec<String>> {
        if self.missing_credentials() {
            return None;
        }
        let uri: Uri = self.models_url().as_str().parse().ok()?;
        let request = self.request(http::Method::GET, uri, "application/json", Bytes::new());
        let response = self.exchange(request, Duration::from_secs(5)).await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body = read_limited(response, 4 * 1024 * 1024, Duration::from_secs(5))
            .await
            .ok()?;
        let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
        let ids = value
            .get("data")?
            .as_array()?
            .iter()
            .filter_map(|m| m.get("id")?.as_str().map(str::to_owned))
            .collect();
        Some(ids)
    }
}

/// Percent-encodes `s` as one path segment.
fn urlencode_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Parses `Retry-After` given in seconds (the HTTP-date form is ignored).
pub fn retry_after_seconds(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| s.min(3600))
}

/// Builds the client-facing error for an upstream 4xx, keeping only the
/// fields of an OpenAI error object (never the raw body).
fn client_error_from(status: u16, body: &[u8]) -> ApiError {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let field = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(|v| v.as_str())
            .map(|s| truncate(s, 1000))
    };
    ApiError::UpstreamRejected {
        status,
        message: field("message").unwrap_or_else(|| {
            format!("the upstream model provider rejected the request ({status})")
        }),
        kind: field("type").unwrap_or_else(|| "invalid_request_error".into()),
        param: field("param"),
        code: field("code"),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Reads a response body up to `limit` bytes within `timeout`.
pub async fn read_limited(
    response: UpstreamResponse,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Failure> {
    let mut incoming = response.into_body();
    if http_body::Body::size_hint(&incoming).lower() > limit as u64 {
        return Err(Failure::Invalid("response too large"));
    }
    let read = async {
        let mut body = bytes::BytesMut::new();
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| {
                if e.is_timeout() {
                    Failure::Timeout
                } else {
                    Failure::Connect
                }
            })?;
            let Ok(chunk) = frame.into_data() else {
                continue; // trailers
            };
            if body.len() + chunk.len() > limit {
                return Err(Failure::Invalid("response too large"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(Failure::Timeout))
}

/// Whether a client error is, somewhere down its chain, a timeout (a TCP
/// connect that did not finish within `timeouts.connect`).
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The gateway's `User-Agent` toward upstreams.
const USER_AGENT: &str = concat!("palisade/", env!("CARGO_PKG_VERSION"));

/// The credential header for `kind`: `Authorization: Bearer KEY` for
/// OpenAI-style upstreams, `api-key: KEY` for Azure; `None` if the key
/// cannot be a header value.
fn auth_header(kind: UpstreamKind, key: &SecretString) -> Option<(HeaderName, HeaderValue)> {
    let (name, value) = match kind {
        UpstreamKind::OpenAi => (
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", key.expose_secret())),
        ),
        UpstreamKind::Azure => (
            HeaderName::from_static("api-key"),
            HeaderValue::from_str(key.expose_secret()),
        ),
    };
    let mut value = value.ok()?;
    value.set_sensitive(true);
    Some((name, value))
}

/// Full-jitter-with-floor backoff before retry number `retry` (1-based):
/// uniformly between half and all of `min(max, initial * 2^(retry-1))`.
pub fn backoff(initial: Duration, max: Duration, retry: u32) -> Duration {
    use rand::Rng;
    let ceiling = initial
        .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
        .min(max);
    let floor = ceiling / 2;
    let spread = ceiling.saturating_sub(floor).as_micros() as u64;
    let jitter = if spread == 0 {
        0
    } else {
        rand::rng().random_range(0..=spread)
    };
    floor + Duration::from_micros(jitter)
}

/// Shared handle.
pub type SharedUpstream = Arc<Upstream>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BreakerPolicy, MapEnv, RetryPolicy, Timeouts};
    use std::collections::BTreeMap;

    fn upstream(kind: UpstreamKind, base: &str) -> Upstream {
        let config = UpstreamConfig {
            name: "u".into(),
            kind,
            base_url: Url::parse(base).unwrap(),
            api_key_env: Some("KEY".into()),
            api_version: Some("2024-10-21".into()),
            deployments: BTreeMap::from([("gpt-4o".to_string(), "prod 4o".to_string())]),
            ca_bundle: None,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            breaker: BreakerPolicy::default(),
        };
        Upstream::new(
            config,
            &MapEnv(BTreeMap::from([("KEY".to_string(), "sk-test".to_string())])),
        )
        .unwrap()
    }

    #[test]
    fn a_timeout_anywhere_in_the_error_chain_counts_as_a_timeout() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("connect failed")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let slow = Wrapper(std::io::Error::new(std::io::ErrorKind::TimedOut, "slow"));
        assert!(timed_out(&slow));
        let refused = Wrapper(std::io::ErrorKind::ConnectionRefused.into());
        assert!(!timed_out(&refused));
    }

    #[test]
    fn the_credential_header_is_sensitive_and_kept_out_of_debug_output() {
        for (kind, name) in [
            (UpstreamKind::OpenAi, "authorization"),
            (UpstreamKind::Azure, "api-key"),
        ] {
            let u = upstream(kind, "https://api.example.com/v1");
            let (header, value) = u.auth_header.clone().unwrap();
            assert_eq!(header.as_str(), name);
            assert!(value.is_sensitive());
            assert!(value.to_str().unwrap().ends_with("sk-test"));
            let shown = format!("{u:?}");
            assert!(!shown.contains("sk-test"), "{shown}");
        }
        let mut config = upstream(UpstreamKind::OpenAi, "https://h").config;
        config.api_key_env = Some("KEY".into());
        let bad = Upstream::new(
            config,
            &MapEnv(BTreeMap::from([(
                "KEY".to_string(),
                "sk\ntest".to_string(),
            )])),
        );
        assert!(bad.is_err(), "a key with a line break cannot be a header");
    }

    #[test]
    fn openai_urls_append_the_endpoint_to_the_base_path() {
        let u = upstream(UpstreamKind::OpenAi, "https://api.example.com/v1/");
        assert_eq!(
            u.url(Endpoint::ChatCompletions, "m").unwrap().as_str(),
            "https://api.example.com/v1/chat/completions"
        );
        assert_eq!(u.models_url().as_str(), "https://api.example.com/v1/models");
    }

    #[test]
    fn cached_openai_uris_equal_the_urls() {
        for base in [
            "https://api.example.com/v1/",
            "http://127.0.0.1:9/v1",
            "https://h/",
        ] {
            let u = upstream(UpstreamKind::OpenAi, base);
            assert!(u.endpoint_uris.is_some());
            for e in Endpoint::ALL {
                for model in ["m", "gpt-4o", "../x"] {
                    let uri = u.uri(e, model).unwrap();
                    assert_eq!(
                        uri.to_string(),
                        u.url(e, model).unwrap().as_str(),
                        "{base} {e:?}"
                    );
                    assert_eq!(Some(uri), u.build_uri(e, model));
                }
                assert!(u.url(e, "m").unwrap().path().ends_with(e.path()));
            }
        }
        let azure = upstream(UpstreamKind::Azure, "https://res.openai.azure.com");
        assert!(azure.endpoint_uris.is_none());
        let uri = azure.uri(Endpoint::ChatCompletions, "gpt-4o").unwrap();
        assert_eq!(
            uri.to_string(),
            azure
                .url(Endpoint::ChatCompletions, "gpt-4o")
                .unwrap()
                .as_str()
        );
    }

    #[test]
    fn azure_urls_use_the_deployment_and_api_version() {
        let u = upstream(UpstreamKind::Azure, "https://res.openai.azure.com");
        assert_eq!(
            u.url(Endpoint::ChatCompletions, "gpt-4o").unwrap().as_str(),
            "https://res.openai.azure.com/openai/deployments/prod%204o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            u.url(Endpoint::Embeddings, "ada").unwrap().as_str(),
            "https://res.openai.azure.com/openai/deployments/ada/embeddings?api-version=2024-10-21"
        );
    }

    #[test]
    fn a_hostile_model_name_cannot_escape_the_deployment_segment() {
        let u = upstream(UpstreamKind::Azure, "https://res.openai.azure.com");
        for model in ["..", ".", ""] {
            assert!(u.url(Endpoint::ChatCompletions, model).is_none(), "{model}");
        }
        for model in ["../../admin?x=1#", "a/b", "%2e%2e", "..a"] {
            let url = u.url(Endpoint::ChatCompletions, model).unwrap();
            assert!(url.path().starts_with("/openai/deployments/"), "{url}");
            assert!(url.path().ends_with("/chat/completions"), "{url}");
            assert_eq!(url.path_segments().unwrap().count(), 5, "{url}");
            assert_eq!(url.host_str(), Some("res.openai.azure.com"));
            assert_eq!(url.query(), Some("api-version=2024-10-21"));
        }
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        let initial = Duration::from_millis(100);
        let max = Duration::from_secs(1);
        for retry in 1..20 {
            let d = backoff(initial, max, retry);
            let ceiling = (initial * 2u32.pow((retry - 1).min(16))).min(max);
            assert!(d >= ceiling / 2 && d <= ceiling, "retry {retry}: {d:?}");
        }
    }

    #[test]
    fn upstream_errors_keep_only_openai_fields() {
        let e = client_error_from(400, br#"{"error":{"message":"context too long","type":"invalid_request_error","param":"messages","code":"context_length_exceeded","internal":"secret"}}"#);
        let body = e.body().to_string();
        assert!(body.contains("context too long"));
        assert!(!body.contains("secret"));
        let e = client_error_from(422, b"<html>stack trace with sk-123</html>");
        assert!(!e.body().to_string().contains("sk-123"));
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn missing_credential_is_detected() {
        let mut u = upstream(UpstreamKind::OpenAi, "https://x.example/v1");
        assert!(!u.missing_credentials());
        u.auth_header = None;
        assert!(u.missing_credentials());
    }
}
