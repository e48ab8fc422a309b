//! Calling upstream LLM endpoints: URL and credential dialects (OpenAI-
//! compatible, Azure OpenAI), timeouts, and the classification of every way a
//! call can fail, which drives retries, fallback and the circuit breaker.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::breaker::Breaker;
use crate::config::{EnvSource, UpstreamConfig, UpstreamKind};
use crate::error::ApiError;
use crate::request::Endpoint;
use crate::tls::{self, TlsError};

/// One configured upstream with its HTTP client, credential and breaker.
#[derive(Debug)]
pub struct Upstream {
    /// Its configuration.
    pub config: UpstreamConfig,
    client: reqwest::Client,
    api_key: Option<SecretString>,
    /// For OpenAI-style upstreams, the URL of each endpoint, built once:
    /// rebuilding it cost a URL clone, a path parse and a `format!` per
    /// request.
    endpoint_urls: Option<[Url; 3]>,
    /// Its circuit breaker.
    pub breaker: Breaker,
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
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(config.timeouts.connect)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!("palisade/", env!("CARGO_PKG_VERSION")))
            // Redirects could carry the credential to another host.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(config.base_url.scheme() == "https")
            .no_proxy()
            .build()
            .map_err(|e| UpstreamError::Client {
                name: config.name.clone(),
                reason: e.to_string(),
            })?;
        let api_key = config
            .api_key_env
            .as_deref()
            .and_then(|var| env.var(var))
            .map(SecretString::from);
        let breaker = Breaker::new(config.breaker);
        let mut upstream = Upstream {
            config,
            client,
            api_key,
            endpoint_urls: None,
            breaker,
        };
        if upstream.config.kind == UpstreamKind::OpenAi {
            let [a, b, c] = Endpoint::ALL.map(|e| upstream.build_url(e, ""));
            if let (Some(a), Some(b), Some(c)) = (a, b, c) {
                upstream.endpoint_urls = Some([a, b, c]);
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
        self.config.api_key_env.is_some() && self.api_key.is_none()
    }

    /// The full URL for `endpoint` and `model`; `None` when the model name
    /// cannot be an Azure deployment (empty, or only dots, which URL
    /// normalisation would turn into path navigation).
    pub fn url(&self, endpoint: Endpoint, model: &str) -> Option<Url> {
        if let Some(urls) = &self.endpoint_urls {
            return Some(urls[endpoint as usize].clone());
        }
        self.build_url(endpoint, model)
    }

    fn build_url(&self, endpoint: Endpoint, model: &str) -> Option<Url> {
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

    fn models_url(&self) -> Url {
        let mut url = self.config.base_url.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}/models"));
        url
    }

    fn authorize(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match (&self.api_key, self.config.kind) {
            (Some(key), UpstreamKind::OpenAi) => builder.bearer_auth(key.expose_secret()),
            (Some(key), UpstreamKind::Azure) => builder.header("api-key", key.expose_secret()),
            (None, _) => builder,
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
    ) -> Result<reqwest::Response, Failure> {
        if self.missing_credentials() {
            return Err(Failure::NoCredentials);
        }
        let Some(url) = self.url(endpoint, model) else {
            return Err(Failure::ClientError(ApiError::invalid(
                "model",
                "this model name cannot be routed to an Azure deployment",
            )));
        };
        let builder = self
            .client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::ACCEPT,
                if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                },
            )
            .header("x-request-id", request_id)
            .body(body);
        let builder = self.authorize(builder);
        let response =
            match tokio::time::timeout(self.config.timeouts.first_byte, builder.send()).await {
                Err(_) => return Err(Failure::Timeout),
                Ok(Err(e)) if e.is_timeout() => return Err(Failure::Timeout),
                Ok(Err(e)) if e.is_connect() => return Err(Failure::Connect),
                Ok(Err(e)) => {
                    tracing::debug!(upstream = %self.name(), error = %e, "upstream request failed");
                    return Err(Failure::Connect);
                }
                Ok(Ok(r)) => r,
            };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        Err(self.classify_error(status, response).await)
    }

    async fn classify_error(&self, status: StatusCode, response: reqwest::Response) -> Failure {
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
        let request = self.authorize(self.client.get(self.models_url()));
        let response = tokio::time::timeout(Duration::from_secs(5), request.send())
            .await
            .ok()?
            .ok()?;
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
    response: reqwest::Response,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, Failure> {
    use futures_util::StreamExt;
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(Failure::Invalid("response too large"));
    }
    let read = async {
        let mut stream = response.bytes_stream();
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                if e.is_timeout() {
                    Failure::Timeout
                } else {
                    Failure::Connect
                }
            })?;
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
    fn openai_urls_append_the_endpoint_to_the_base_path() {
        let u = upstream(UpstreamKind::OpenAi, "https://api.example.com/v1/");
        assert_eq!(
            u.url(Endpoint::ChatCompletions, "m").unwrap().as_str(),
            "https://api.example.com/v1/chat/completions"
        );
        assert_eq!(u.models_url().as_str(), "https://api.example.com/v1/models");
    }

    #[test]
    fn cached_openai_urls_equal_freshly_built_ones() {
        for base in [
            "https://api.example.com/v1/",
            "http://127.0.0.1:9/v1",
            "https://h/",
        ] {
            let u = upstream(UpstreamKind::OpenAi, base);
            assert!(u.endpoint_urls.is_some());
            for e in Endpoint::ALL {
                for model in ["m", "gpt-4o", "../x"] {
                    assert_eq!(u.url(e, model), u.build_url(e, model), "{base} {e:?}");
                }
                assert!(u.url(e, "m").unwrap().path().ends_with(e.path()));
            }
        }
        assert!(
            upstream(UpstreamKind::Azure, "https://h")
                .endpoint_urls
                .is_none()
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
        u.api_key = None;
        assert!(u.missing_credentials());
    }
}
