//! Errors the gateway returns to clients, in the OpenAI error shape
//! `{"error": {"message", "type", "param", "code"}}`.
//!
//! One enum, one exhaustive map to HTTP status. Messages never carry prompts,
//! keys or upstream bodies: a client learns what went wrong and the request id
//! to quote, nothing it did not already know.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// Everything that can end a client request with an error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The request body or a field in it is not a valid OpenAI request.
    #[error("{message}")]
    InvalidRequest {
        /// What is wrong, naming the field.
        message: String,
        /// JSON path of the offending field, when there is one.
        param: Option<String>,
        /// Machine-readable code.
        code: &'static str,
    },
    /// The request body is larger than the configured limit.
    #[error("request body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The client took too long to send the body.
    #[error("request body was not received within {0:?}")]
    BodyTimeout(Duration),
    /// The body is not declared as JSON.
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    /// No such endpoint.
    #[error(
        "no endpoint at this path; see /v1/models, /v1/chat/completions, /v1/completions, /v1/embeddings"
    )]
    NotFound,
    /// The endpoint exists but not for this method.
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    /// No route serves the requested model.
    #[error("{}", model_not_found_message(.0))]
    ModelNotFound(String),
    /// Every upstream of the route failed to connect or answered 5xx.
    #[error("the upstream model provider could not be reached or failed")]
    UpstreamFailed,
    /// Every upstream of the route is unavailable (circuit open or no credentials).
    #[error("no upstream for this model is available right now")]
    UpstreamUnavailable {
        /// Seconds after which a retry may succeed.
        retry_after: Option<u64>,
    },
    /// The upstream did not answer in time.
    #[error("the upstream model provider did not answer in time")]
    UpstreamTimeout,
    /// The upstream answered with something that is not a valid OpenAI response.
    #[error("the upstream model provider sent an invalid response")]
    UpstreamInvalid,
    /// The upstream rejected the request as the client's fault (a 4xx).
    #[error("{message}")]
    UpstreamRejected {
        /// Status the upstream used (400–499, excluding auth failures).
        status: u16,
        /// The upstream's own error message, when it sent one in the OpenAI shape.
        message: String,
        /// The upstream's error type.
        kind: String,
        /// The upstream's `param`.
        param: Option<String>,
        /// The upstream's error code.
        code: Option<String>,
    },
    /// The upstream rate-limited every attempt.
    #[error("the upstream model provider is rate limiting requests")]
    UpstreamRateLimited {
        /// Seconds the upstream asked to wait.
        retry_after: Option<u64>,
    },
    /// A guardrail policy stopped the request or the response. The message
    /// names the policy, the stage and the detectors, never the matched text.
    #[error("{}", policy_message(.0))]
    PolicyBlocked(Box<PolicyBlock>),
    /// A guardrail failed to evaluate and its detector is configured to fail
    /// closed.
    #[error(
        "the `{policy}` guardrail policy could not evaluate this {stage} (`{detector}` failed); the request was not forwarded"
    )]
    GuardrailUnavailable {
        /// Policy name.
        policy: String,
        /// `input` or `output`.
        stage: &'static str,
        /// The detector that failed.
        detector: String,
    },
    /// A bug or resource failure inside the gateway.
    #[error("internal gateway error")]
    Internal,
}

/// What a policy block reports to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyBlock {
    /// Policy name.
    pub policy: String,
    /// `input` or `output`.
    pub stage: &'static str,
    /// Detectors that fired with a blocking action, comma-separated.
    pub detectors: String,
    /// True when the action was `review` (held for a person) rather than `block`.
    pub review: bool,
    /// The request id, so the client can quote it to an operator.
    pub request_id: String,
}

fn policy_message(b: &PolicyBlock) -> String {
    if b.review {
        format!(
            "The {} was held for human review by guardrail policy `{}` (detectors: {}); it was not processed. Request id {}.",
            b.stage, b.policy, b.detectors, b.request_id
        )
    } else {
        format!(
            "The {} was blocked by guardrail policy `{}` (detectors: {}). Request id {}.",
            b.stage, b.policy, b.detectors, b.request_id
        )
    }
}

fn model_not_found_message(model: &str) -> String {
    // Echo the model name only when it looks like one; a client could put
    // anything in that field.
    let safe = model.len() <= 128
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@".contains(c));
    if safe {
        format!(
            "The model `{model}` is not served by this gateway; GET /v1/models lists the models it serves"
        )
    } else {
        "The requested model is not served by this gateway; GET /v1/models lists the models it serves".into()
    }
}

/// The OpenAI error body.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The error object.
    pub error: ErrorObject<'a>,
}

/// The inner object of [`ErrorBody`].
#[derive(Debug, Serialize)]
pub struct ErrorObject<'a> {
    /// Human-readable message.
    pub message: String,
    /// Error class (`invalid_request_error`, `rate_limit_error`, …).
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// Offending parameter, if any.
    pub param: Option<&'a str>,
    /// Machine-readable code.
    pub code: Option<&'a str>,
}

impl ApiError {
    /// Shorthand for an invalid-request error about `param`.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidRequest {
            message: message.into(),
            param: Some(param.into()),
            code: "invalid_value",
        }
    }

    /// HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound | ApiError::ModelNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UpstreamFailed | ApiError::UpstreamInvalid => StatusCode::BAD_GATEWAY,
            ApiError::UpstreamUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            ApiError::UpstreamRejected { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ApiError::UpstreamRateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PolicyBlocked(_) => StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            ApiError::GuardrailUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// OpenAI error `type`.
    pub fn kind(&self) -> &str {
        match self {
            ApiError::InvalidRequest { .. }
            | ApiError::BodyTooLarge { .. }
            | ApiError::BodyTimeout(_)
            | ApiError::UnsupportedMediaType
            | ApiError::NotFound
            | ApiError::MethodNotAllowed
            | ApiError::ModelNotFound(_) => "invalid_request_error",
            ApiError::UpstreamFailed
            | ApiError::UpstreamUnavailable { .. }
            | ApiError::UpstreamTimeout
            | ApiError::UpstreamInvalid => "upstream_error",
            ApiError::UpstreamRejected { kind, .. } => kind,
            ApiError::UpstreamRateLimited { .. } => "rate_limit_error",
            ApiError::PolicyBlocked(_) => "policy_violation_error",
            ApiError::GuardrailUnavailable { .. } | ApiError::Internal => "server_error",
        }
    }

    /// OpenAI error `code`.
    pub fn code(&self) -> Option<&str> {
        Some(match self {
            ApiError::InvalidRequest { code, .. } => code,
            ApiError::BodyTooLarge { .. } => "request_too_large",
            ApiError::BodyTimeout(_) => "request_timeout",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::ModelNotFound(_) => "model_not_found",
            ApiError::UpstreamFailed => "upstream_failed",
            ApiError::UpstreamUnavailable { .. } => "upstream_unavailable",
            ApiError::UpstreamTimeout => "upstream_timeout",
            ApiError::UpstreamInvalid => "upstream_invalid_response",
            ApiError::UpstreamRejected { code, .. } => return code.as_deref(),
            ApiError::UpstreamRateLimited { .. } => "rate_limit_exceeded",
            ApiError::PolicyBlocked(b) if b.review => "policy_review_required",
            ApiError::PolicyBlocked(_) => "policy_blocked",
            ApiError::GuardrailUnavailable { .. } => "guardrail_unavailable",
            ApiError::Internal => "internal_error",
        })
    }

    fn param(&self) -> Option<&str> {
        match self {
            ApiError::InvalidRequest { param, .. } | ApiError::UpstreamRejected { param, .. } => {
                param.as_deref()
            }
            _ => None,
        }
    }

    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::UpstreamUnavailable { retry_after }
            | ApiError::UpstreamRateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// The JSON body for this error.
    pub fn body(&self) -> serde_json::Value {
        let body = ErrorBody {
            error: ErrorObject {
                message: self.to_string(),
                kind: self.kind(),
                param: self.param(),
                code: self.code(),
            },
        };
        serde_json::to_value(&body).unwrap_or(serde_json::Value::Null)
    }

    /// The error as one server-sent event, for failures after a stream began.
    pub fn sse_event(&self) -> String {
        format!("data: {}\n\n", self.body())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after()
            && let Ok(v) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_renders_the_openai_shape() {
        let errors = [
            ApiError::invalid("messages[0].role", "bad role"),
            ApiError::BodyTooLarge { limit: 10 },
            ApiError::ModelNotFound("gpt-x".into()),
            ApiError::UpstreamTimeout,
            ApiError::UpstreamRateLimited {
                retry_after: Some(3),
            },
        ];
        for e in errors {
            let body = e.body();
            let obj = body["error"].as_object().unwrap();
            assert!(obj["message"].is_string());
            assert!(obj["type"].is_string());
            assert!(obj.contains_key("code"));
            assert!(obj.contains_key("param"));
        }
    }

    #[test]
    fn unsafe_model_names_are_not_echoed() {
        let e = ApiError::ModelNotFound("john@example.com <script>".into());
        assert!(!e.to_string().contains("john"));
        let e = ApiError::ModelNotFound("gpt-4o-mini".into());
        assert!(e.to_string().contains("gpt-4o-mini"));
    }

    #[test]
    fn retry_after_header_is_set() {
        let r = ApiError::UpstreamRateLimited {
            retry_after: Some(7),
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
    }
}
