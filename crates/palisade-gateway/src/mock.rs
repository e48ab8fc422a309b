//! A small deterministic OpenAI-compatible upstream, built into the binary.
//!
//! `palisade demo` runs it so a newcomer needs no API key; the tests and the
//! load benchmark use it as the local upstream, with misbehaviours (slow,
//! stalling, dying, garbage, error statuses) switched on per instance. It
//! answers by echoing the last user message, so what reached the model is
//! visible in the reply.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// How the mock upstream misbehaves.
#[derive(Debug, Clone, Default)]
pub enum Behaviour {
    /// Answer correctly.
    #[default]
    Normal,
    /// Wait this long before sending the response head.
    DelayHead(Duration),
    /// Stream this many events, then go silent (hold the connection open).
    StallAfter(usize),
    /// Stream this many events, then break the connection.
    DieAfter(usize),
    /// Answer 200 with a body that is neither JSON nor an event stream.
    Garbage,
    /// Answer every request with this status and an OpenAI error body.
    Status(u16),
    /// Stream normally but close without the `[DONE]` marker.
    NoDone,
}

/// Options for [`MockUpstream::start`].
#[derive(Debug, Clone, Default)]
pub struct MockOptions {
    /// Misbehaviour.
    pub behaviour: Behaviour,
    /// Split the stream's bytes into pieces of at most this size, each sent
    /// separately, to exercise re-assembly.
    pub max_chunk_bytes: Option<usize>,
    /// Pause between streamed pieces.
    pub chunk_delay: Option<Duration>,
    /// Fixed reply text instead of the echo.
    pub reply: Option<String>,
    /// Stream the reply in pieces of this many bytes (at character
    /// boundaries) instead of word by word, so values split across events.
    pub piece_bytes: Option<usize>,
}

/// What the mock has seen, for assertions.
#[derive(Debug, Default)]
pub struct MockStats {
    /// Requests received on the completion endpoints.
    pub requests: AtomicU64,
    /// Streams whose client went away before the end.
    pub cancelled_streams: AtomicU64,
    /// Streams sent to the end.
    pub completed_streams: AtomicU64,
    /// `Authorization` header of the last request.
    pub last_authorization: Mutex<Option<String>>,
    /// Body of the last request.
    pub last_body: Mutex<Option<Value>>,
    /// `api-key` header (Azure style) of the last request.
    pub last_api_key: Mutex<Option<String>>,
}

#[derive(Clone)]
struct MockState {
    options: Arc<MockOptions>,
    stats: Arc<MockStats>,
}

/// A running mock upstream; stops when dropped.
#[derive(Debug)]
pub struct MockUpstream {
    addr: SocketAddr,
    /// What it has seen.
    pub stats: Arc<MockStats>,
    shutdown: CancellationToken,
}

impl MockUpstream {
    /// Starts a mock on 127.0.0.1 with an ephemeral port.
    pub async fn start(options: MockOptions) -> std::io::Result<MockUpstream> {
        Self::start_on(
            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
            options,
        )
        .await
    }

    /// Starts a mock on `addr`.
    pub async fn start_on(addr: SocketAddr, options: MockOptions) -> std::io::Result<MockUpstream> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(MockStats::default());
        let state = MockState {
            options: Arc::new(options),
            stats: stats.clone(),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/completions", post(completion))
            .route("/v1/embeddings", post(embeddings))
            .route("/v1/models", get(models))
            .route(
                "/openai/deployments/{deployment}/chat/completions",
                post(chat),
            )
            .route(
                "/openai/deployments/{deployment}/embeddings",
                post(embeddings),
            )
            .with_state(state);
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(token.cancelled_owned())
                .await;
        });
        Ok(MockUpstream {
            addr,
            stats,
            shutdown,
        })
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL to configure as an upstream (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn last_user_text(body: &Value) -> String {
    let Some(messages) = body.get("messages").and_then(Value::as_array) else {
        return match body.get("prompt") {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
    };
    let Some(message) = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
    else {
        return String::new();
    };
    match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

fn system_text(body: &Value) -> String {
    body.get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| {
            matches!(
                m.get("role").and_then(Value::as_str),
                Some("system" | "developer")
            )
        })
        .filter_map(|m| m.get("content").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The phrase that makes the mock play a model that over-shares: it answers
/// an innocent question by reciting its system prompt.
pub const LEAK_TRIGGER: &str = "what can you help me with";

/// The phrase that makes the mock answer with a credential it should not
/// know (a syntactically valid, made-up GitHub token).
pub const SECRET_TRIGGER: &str = "deployment key";

/// The made-up token the mock reveals after [`SECRET_TRIGGER`].
pub const FAKE_TOKEN: &str = "ghp_R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0sA2eZ8u";

fn reply_text(state: &MockState, body: &Value) -> String {
    if let Some(reply) = &state.options.reply {
        return reply.clone();
    }
    let said: String = last_user_text(body).chars().take(2000).collect();
    if said.to_lowercase().contains(LEAK_TRIGGER) {
        // A deliberately obedient model, for canary demos and tests.
        return format!("Of course. My instructions are: {}", system_text(body));
    }
    if said.to_lowercase().contains(SECRET_TRIGGER) {
        return format!(
            "The deployment key is {FAKE_TOKEN} and it has admin rights. Keep it safe."
        );
    }
    format!("Hello from the Palisade demo upstream. You said: {said}")
}

async fn common(state: &MockState, headers: &HeaderMap, body: &Bytes) -> Result<Value, Response> {
    state.stats.requests.fetch_add(1, Ordering::Relaxed);
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Ok(mut a) = state.stats.last_authorization.lock() {
        *a = auth;
    }
    let api_key = headers
        .get("api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Ok(mut a) = state.stats.last_api_key.lock() {
        *a = api_key;
    }
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Ok(mut b) = state.stats.last_body.lock() {
        *b = Some(value.clone());
    }
    match &state.options.behaviour {
        Behaviour::DelayHead(d) => tokio::time::sleep(*d).await,
        Behaviour::Garbage => {
            return Err((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/event-stream")],
                "<html>upstream exploded\n\n",
            )
                .into_response());
        }
        Behaviour::Status(code) => {
            let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = json!({"error": {"message": format!("mock upstream answered {code}"), "type": "mock_error", "param": null, "code": "mock"}});
            let mut r = (status, axum::Json(body)).into_response();
            if *code == 429 {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("7"));
            }
            return Err(r);
        }
        _ => {}
    }
    Ok(value)
}

async fn chat(State(state): State<MockState>, headers: HeaderMap, body: Bytes) -> Response {
    let request = match common(&state, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_owned();
    let text = reply_text(&state, &request);
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        let include_usage = request
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            == Some(true);
        let mut events = vec![chunk(
            &model,
            json!({"role": "assistant", "content": ""}),
            None,
        )];
        for piece in split_pieces(&state, &text) {
            events.push(chunk(&model, json!({"content": piece}), None));
        }
        events.push(chunk(&model, json!({}), Some("stop")));
        if include_usage {
            events.push(json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [], "usage": usage(&request, &text)}).to_string());
        }
        return stream_response(state, events);
    }
    axum::Json(json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage(&request, &text),
    }))
    .into_response()
}

async fn completion(State(state): State<MockState>, headers: HeaderMap, body: Bytes) -> Response {
    let request = match common(&state, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_owned();
    let text = reply_text(&state, &request);
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        let events = split_pieces(&state, &text)
            .into_iter()
            .map(|piece| {
                json!({"id": "cmpl-mock", "object": "text_completion", "created": 0, "model": model, "choices": [{"index": 0, "text": piece, "finish_reason": null}]}).to_string()
            })
            .collect();
        return stream_response(state, events);
    }
    axum::Json(json!({
        "id": "cmpl-mock",
        "object": "text_completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
        "usage": usage(&request, &text),
    }))
    .into_response()
}

async fn embeddings(State(state): State<MockState>, headers: HeaderMap, body: Bytes) -> Response {
    let request = match common(&state, &headers, &body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let inputs: Vec<String> = match request.get("input") {
        Some(Value::Array(items)) => items.iter().map(Value::to_string).collect(),
        Some(other) => vec![other.to_string()],
        None => vec![],
    };
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": pseudo_embedding(text)}))
        .collect();
    axum::Json(json!({"object": "list", "data": data, "model": request.get("model"), "usage": {"prompt_tokens": 0, "total_tokens": 0}}))
        .into_response()
}

async fn models() -> Response {
    axum::Json(json!({"object": "list", "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": "mock"}]}))
        .into_response()
}

/// A deterministic 8-dimensional unit vector derived from the text.
fn pseudo_embedding(text: &str) -> Vec<f32> {
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        state = (state ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let raw: Vec<f32> = (0..8)
        .map(|i| {
            let x = state.rotate_left(i * 8) & 0xffff;
            (x as f32 / 65535.0) - 0.5
        })
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    raw.into_iter().map(|x| x / norm).collect()
}

fn usage(request: &Value, text: &str) -> Value {
    let prompt = last_user_text(request).split_whitespace().count();
    let completion = text.split_whitespace().count();
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> String {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    })
    .to_string()
}

/// Splits text into word-sized pieces that keep their trailing spaces, so the
/// pieces concatenate back to the text.
fn split_pieces(state: &MockState, text: &str) -> Vec<String> {
    match state.options.piece_bytes {
        Some(n) if n > 0 => {
            let mut pieces = Vec::new();
            let mut current = String::new();
            for c in text.chars() {
                if current.len() + c.len_utf8() > n && !current.is_empty() {
                    pieces.push(std::mem::take(&mut current));
                }
                current.push(c);
            }
            if !current.is_empty() {
                pieces.push(current);
            }
            pieces
        }
        _ => split_words(text),
    }
}

fn split_words(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        current.push(c);
        if c == ' ' {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// Counts a stream as cancelled unless it was marked complete.
struct StreamGuard {
    stats: Arc<MockStats>,
    completed: bool,
}

impl StreamGuard {
    fn finish(mut self) {
        self.completed = true;
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let counter = if self.completed {
            &self.stats.completed_streams
        } else {
            &self.stats.cancelled_streams
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

fn stream_response(state: MockState, events: Vec<String>) -> Response {
    let behaviour = state.options.behaviour.clone();
    let max_chunk = state.options.max_chunk_bytes.unwrap_or(usize::MAX).max(1);
    let delay = state.options.chunk_delay;
    let mut frames: Vec<Bytes> = events
        .iter()
        .map(|e| Bytes::from(format!("data: {e}\n\n")))
        .collect();
    let cut_at = match behaviour {
        Behaviour::StallAfter(n) | Behaviour::DieAfter(n) => Some(n),
        _ => None,
    };
    if let Some(n) = cut_at {
        frames.truncate(n);
    } else if !matches!(behaviour, Behaviour::NoDone) {
        frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    }
    let pieces: Vec<Bytes> = frames
        .into_iter()
        .flat_map(|frame| {
            let mut out = Vec::new();
            let mut start = 0;
            while start < frame.len() {
                let end = (start + max_chunk).min(frame.len());
                out.push(frame.slice(start..end));
                start = end;
            }
            out
        })
        .collect();
    let guard = StreamGuard {
        stats: state.stats.clone(),
        completed: false,
    };
    let stream = futures_util::stream::unfold(
        (pieces.into_iter(), guard, behaviour, false),
        move |(mut it, mut guard, behaviour, ended)| async move {
            if ended {
                return None;
            }
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            match it.next() {
                Some(piece) => Some((
                    Ok::<Bytes, std::io::Error>(piece),
                    (it, guard, behaviour, false),
                )),
                None => match behaviour {
                    Behaviour::StallAfter(_) => {
                        // Hold the connection open without sending anything.
                        std::future::pending::<()>().await;
                        None
                    }
                    Behaviour::DieAfter(_) => {
                        // Let what was sent reach the peer before the reset.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        guard.completed = true;
                        Some((
                            Err(std::io::Error::other("mock upstream died")),
                            (it, guard, behaviour, true),
                        ))
                    }
                    _ => {
                        guard.finish();
                        None
                    }
                },
            }
        },
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
