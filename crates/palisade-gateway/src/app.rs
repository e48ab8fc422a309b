//! The HTTP application: routes, request ids, body limits, and the handlers
//! that parse a request, call the proxy core once, and render the result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use palisade_store::Store;
use serde_json::json;

use crate::config::{Config, EnvSource, Limits};
use crate::error::ApiError;
use crate::guard;
use crate::headers;
use crate::metrics as m;
use crate::proxy::{self, Relayed, ResolvedRoute};
use crate::request::{self, Endpoint};
use crate::upstream::{SharedUpstream, Upstream, UpstreamError};

/// Header carrying the request id on every response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The request id, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Errors building the gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// An upstream client could not be built.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The state store could not be opened.
    #[error(transparent)]
    Store(#[from] palisade_store::StoreError),
    /// TLS material could not be loaded.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// A guardrail policy could not be built.
    #[error(transparent)]
    Guard(#[from] crate::guard::GuardError),
    /// The listener failed.
    #[error("listener error on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Everything a request handler needs, shared by all connections.
#[derive(Debug)]
pub struct Gateway {
    config: Config,
    router: proxy::Router,
    upstreams: Vec<SharedUpstream>,
    store: Store,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl Gateway {
    /// Builds the gateway: upstream clients (credentials read from `env`), the
    /// route table, and the state store (created on first run).
    pub async fn new(config: Config, env: &dyn EnvSource) -> Result<Arc<Gateway>, GatewayError> {
        let store = Store::open(&config.server.data_dir).await?;
        let policies = crate::guard::compile_all(&config.policies)?;
        let mut upstreams = Vec::new();
        for u in &config.upstreams {
            upstreams.push(Arc::new(Upstream::new(u.clone(), env)?));
        }
        let mut routes = Vec::new();
        for r in &config.routes {
            let resolved = r
                .upstreams
                .iter()
                .filter_map(|name| upstreams.iter().find(|u| u.name() == name).cloned())
                .collect();
            // Validation guarantees the policy exists; fall back to the
            // secure default rather than to none if that ever breaks.
            let policy = match policies.get(&r.policy) {
                Some(p) => p.clone(),
                None => Arc::new(crate::guard::CompiledPolicy::new(
                    crate::guard::policy::PolicyConfig::standard(),
                )?),
            };
            routes.push((
                r.models.clone(),
                ResolvedRoute {
                    upstreams: resolved,
                    policy,
                },
            ));
        }
        for u in &upstreams {
            if u.missing_credentials() {
                tracing::warn!(upstream = %u.name(), "upstream credential variable is not set; requests routed to it will fail with 503");
            }
        }
        Ok(Arc::new(Gateway {
            router: proxy::Router::new(routes),
            config,
            upstreams,
            store,
            metrics: m::install(),
        }))
    }

    /// The configuration the gateway runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The state store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The axum application.
    pub fn app(self: &Arc<Self>) -> Router {
        let routes = Router::new()
            .route("/v1/chat/completions", post(chat_completions))
            .route("/v1/completions", post(completions))
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/models", get(models))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics_text))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .with_state(self.clone());
        harden(routes)
    }
}

/// Wraps every route: a handler that panics costs one request a 500 in the
/// OpenAI shape, never the connection or the process; every response, that
/// one included, carries the request id.
fn harden(routes: Router) -> Router {
    routes
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::Internal.into_response()
        }))
        .layer(middleware::from_fn(request_id))
}

/// A fresh request id: a random (version 4) UUID. The bytes come from the
/// thread's CSPRNG (ChaCha, seeded from the OS) rather than from the OS on
/// every request: `Uuid::new_v4` made one `getrandom` system call per
/// request.
fn new_request_id() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    let mut hex = uuid::Uuid::encode_buffer();
    let simple = uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .simple()
        .encode_lower(&mut hex);
    let mut id = String::with_capacity(4 + simple.len());
    id.push_str("req_");
    id.push_str(simple);
    id
}

/// Assigns the request id (the client's, when it is a sane token), logs the
/// request, and stamps the id on the response whatever produced it.
async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&headers::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(new_request_id);
    request.extensions_mut().insert(RequestId(id.clone()));
    // Kept as they are and formatted only if the log line is written.
    let peer = request
        .extensions()
        .get::<crate::server::PeerAddr>()
        .map(|p| p.0);
    let method = request.method().clone();
    let uri = request.uri().clone();
    let started = Instant::now();
    let mut response = next.run(request).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(headers::REQUEST_ID.clone(), v);
    }
    let status = response.status().as_u16();
    let upstream = response
        .headers()
        .get(&headers::UPSTREAM)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info!(
        request_id = %id,
        peer = %OptionalAddr(peer),
        method = %method,
        path = %uri.path(),
        status,
        upstream,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// A peer address for the log line, empty when unknown.
struct OptionalAddr(Option<std::net::SocketAddr>);

impl std::fmt::Display for OptionalAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(addr) => addr.fmt(f),
            None => Ok(()),
        }
    }
}

async fn chat_completions(State(gw): State<Arc<Gateway>>, request: Request) -> Response {
    proxy_endpoint(gw, Endpoint::ChatCompletions, request).await
}

async fn completions(State(gw): State<Arc<Gateway>>, request: Request) -> Response {
    proxy_endpoint(gw, Endpoint::Completions, request).await
}

async fn embeddings(State(gw): State<Arc<Gateway>>, request: Request) -> Response {
    proxy_endpoint(gw, Endpoint::Embeddings, request).await
}

async fn proxy_endpoint(gw: Arc<Gateway>, endpoint: Endpoint, request: Request) -> Response {
    let started = Instant::now();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let limits = &gw.config.server.limits;
    // The policy and verdicts outlive the attempt so that a block, too,
    // carries its explanation headers.
    let mut verdicts: Vec<guard::Verdict> = Vec::new();
    let mut policy: Option<Arc<guard::CompiledPolicy>> = None;
    let result = async {
        check_content_type(&request)?;
        let caller = guard::caller_partition(request.headers());
        let body = read_body(request.into_body(), limits).await?;
        let parsed = request::parse(endpoint, &body)?;
        let route = gw
            .router
            .route(&parsed.model)
            .ok_or_else(|| ApiError::ModelNotFound(parsed.model.clone()))?;
        policy = Some(route.policy.clone());
        let (parsed, outcome) =
            match guard::check_input_async(&route.policy, parsed, &body, caller, &request_id).await
            {
                Ok(checked) => checked,
                Err(stopped) => {
                    verdicts = stopped.verdicts;
                    return Err(stopped.error);
                }
            };
        verdicts = outcome.verdicts;
        let body = outcome.rewritten.unwrap_or(body);
        let session = Arc::new(outcome.session);
        let stream_guard = (parsed.stream && !session.is_passthrough()).then_some(&session);
        let relayed = proxy::forward(
            route,
            &parsed,
            body,
            &request_id,
            limits.max_upstream_response_bytes,
            stream_guard,
        )
        .await?;
        match relayed {
            Relayed::Json {
                status,
                body,
                upstream,
            } => match guard::check_output_json_async(&session, &body).await {
                Ok(checked) => {
                    verdicts.extend(checked.verdicts);
                    Ok(Relayed::Json {
                        status,
                        body: checked.rewritten.unwrap_or(body),
                        upstream,
                    })
                }
                Err(stopped) => {
                    verdicts.extend(stopped.verdicts);
                    Err(stopped.error)
                }
            },
            stream => Ok(stream),
        }
    }
    .await;
    let mut response = match result {
        Ok(relayed) => relayed.into_response(),
        Err(error) => error.into_response(),
    };
    if let Some(policy) = &policy {
        guard::set_headers(response.headers_mut(), &policy.config, &verdicts);
        if !verdicts.is_empty() {
            tracing::info!(
                request_id = %request_id,
                policy = %policy.config.name,
                verdicts = %guard::summary(&verdicts),
                "guardrail verdicts"
            );
        }
    }
    m::http_request(endpoint, response.status().as_u16(), started.elapsed());
    response
}

fn check_content_type(request: &Request) -> Result<(), ApiError> {
    match request.headers().get(header::CONTENT_TYPE) {
        None => Ok(()),
        Some(v) => {
            let essence = v
                .to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if essence == "application/json" || essence.ends_with("+json") {
                Ok(())
            } else {
                Err(ApiError::UnsupportedMediaType)
            }
        }
    }
}

/// Reads the whole body within the size and time limits.
async fn read_body(body: Body, limits: &Limits) -> Result<bytes::Bytes, ApiError> {
    let limit = limits.max_body_bytes;
    let limited = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(limits.body_read_timeout, limited.collect()).await {
        Err(_) => Err(ApiError::BodyTimeout(limits.body_read_timeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::BodyTooLarge { limit })
        }
        Ok(Err(_)) => Err(ApiError::InvalidRequest {
            message: "the request body could not be read completely".into(),
            param: None,
            code: "incomplete_body",
        }),
    }
}

async fn models(State(gw): State<Arc<Gateway>>) -> Response {
    let mut ids: Vec<(String, String)> = gw
        .router
        .explicit_models
        .iter()
        .map(|m| (m.clone(), "palisade".to_owned()))
        .collect();
    if let Some(route) = gw.router.wildcard() {
        for upstream in &route.upstreams {
            if let Some(listed) = upstream.list_models().await {
                for id in listed {
                    if !ids.iter().any(|(existing, _)| existing == &id) {
                        ids.push((id, upstream.name().to_owned()));
                    }
                }
                break;
            }
        }
    }
    let data: Vec<_> = ids
        .into_iter()
        .map(|(id, owner)| json!({"id": id, "object": "model", "created": 0, "owned_by": owner}))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

async fn healthz() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}

/// Ready when the store answers and at least one upstream can take calls
/// (credential present, circuit not open).
async fn readyz(State(gw): State<Arc<Gateway>>) -> Response {
    let store_ok = matches!(
        tokio::time::timeout(Duration::from_secs(2), gw.store.ping()).await,
        Ok(Ok(()))
    );
    let mut upstreams = serde_json::Map::new();
    let mut any_healthy = false;
    for u in &gw.upstreams {
        let state = if u.missing_credentials() {
            "no_credentials"
        } else if u.breaker.is_open() {
            "circuit_open"
        } else {
            any_healthy = true;
            "available"
        };
        upstreams.insert(u.name().to_owned(), json!(state));
    }
    let ready = store_ok && any_healthy;
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "store": if store_ok { "ok" } else { "unreachable" },
        "upstreams": upstreams,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics_text(State(gw): State<Arc<Gateway>>) -> Response {
    for u in &gw.upstreams {
        m::circuit_state(u.name(), u.breaker.is_open());
    }
    match &gw.metrics {
        Some(handle) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
        )
            .into_response(),
        None => ApiError::Internal.into_response(),
    }
}

async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::MethodNotAllowed.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[test]
    fn request_ids_are_distinct_version_4_uuids() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            let hex = id.strip_prefix("req_").unwrap();
            let uuid = uuid::Uuid::parse_str(hex).unwrap();
            assert_eq!(uuid.get_version_num(), 4, "{id}");
            assert_eq!(uuid.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
    }

    #[tokio::test]
    async fn a_panicking_handler_becomes_a_500_with_a_request_id() {
        async fn boom() -> &'static str {
            panic!("bug")
        }
        let app = harden(Router::new().route("/boom", get(boom)));
        let response = app
            .oneshot(Request::builder().uri("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().contains_key(REQUEST_ID_HEADER));
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["error"]["code"], "internal_error");
    }
}
