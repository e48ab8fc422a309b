//! Parsing and validating client requests to the OpenAI endpoints.
//!
//! The gateway forwards the client's JSON as it came (unknown fields
//! included, so new OpenAI parameters keep working), but only after checking
//! the fields it relies on: the model, the shape of every message and content
//! part (guardrails read them), and `stream`. Each rejection names the JSON
//! path of the field that is wrong.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// The OpenAI endpoints the gateway proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `POST /v1/completions`.
    Completions,
    /// `POST /v1/embeddings`.
    Embeddings,
}

impl Endpoint {
    /// Every endpoint, in declaration order (`ALL[e as usize] == e`).
    pub const ALL: [Endpoint; 3] = [
        Endpoint::ChatCompletions,
        Endpoint::Completions,
        Endpoint::Embeddings,
    ];

    /// Path below the upstream base URL (`/chat/completions`, …).
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "/chat/completions",
            Endpoint::Completions => "/completions",
            Endpoint::Embeddings => "/embeddings",
        }
    }

    /// Short label for metrics and logs (a bounded set).
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat_completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
        }
    }
}

/// A validated request, ready to route and forward.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    /// Which endpoint it is for.
    pub endpoint: Endpoint,
    /// The requested model.
    pub model: String,
    /// Whether the client asked for a server-sent-event stream.
    pub stream: bool,
    /// The request body, as sent (unknown fields preserved).
    pub body: Map<String, Value>,
}

/// Longest model name accepted.
pub const MAX_MODEL_LEN: usize = 256;

/// Chat roles a request may give a message.
pub const CHAT_ROLES: &[&str] = &[
    "system",
    "developer",
    "user",
    "assistant",
    "tool",
    "function",
];

/// Parses and validates a request body for `endpoint`.
pub fn parse(endpoint: Endpoint, bytes: &[u8]) -> Result<ProxyRequest, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::InvalidRequest {
            message: "request body is empty; send a JSON object".into(),
            param: None,
            code: "invalid_json",
        });
    }
    let value = parse_unique_keys(bytes).map_err(|e| ApiError::InvalidRequest {
        // serde_json's message names the position, never the content (a
        // duplicate key is not echoed either).
        message: format!("request body is not valid JSON: {e}"),
        param: None,
        code: "invalid_json",
    })?;
    let Value::Object(body) = value else {
        return Err(ApiError::InvalidRequest {
            message: "request body must be a JSON object".into(),
            param: None,
            code: "invalid_json",
        });
    };
    let model = match body.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() && m.len() <= MAX_MODEL_LEN => m.clone(),
        Some(Value::String(_)) => {
            return Err(ApiError::invalid(
                "model",
                format!("`model` must be a non-empty string of at most {MAX_MODEL_LEN} bytes"),
            ));
        }
        Some(_) => return Err(ApiError::invalid("model", "`model` must be a string")),
        None => return Err(missing("model")),
    };
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid("stream", "`stream` must be a boolean")),
    };
    match endpoint {
        Endpoint::ChatCompletions => validate_messages(&body)?,
        Endpoint::Completions => validate_prompt(&body, "prompt")?,
        Endpoint::Embeddings => {
            if stream {
                return Err(ApiError::invalid("stream", "embeddings cannot be streamed"));
            }
            validate_prompt(&body, "input")?;
        }
    }
    if let Some(v) = body.get("stream_options")
        && !v.is_object()
        && !v.is_null()
    {
        return Err(ApiError::invalid(
            "stream_options",
            "`stream_options` must be an object",
        ));
    }
    if let Some(v) = body.get("n") {
        match v.as_u64() {
            Some(n) if (1..=128).contains(&n) => {}
            _ if v.is_null() => {}
            _ => {
                return Err(ApiError::invalid(
                    "n",
                    "`n` must be an integer between 1 and 128",
                ));
            }
        }
    }
    Ok(ProxyRequest {
        endpoint,
        model,
        stream,
        body,
    })
}

/// A JSON value whose objects have unique keys: parsing fails on the
/// first repeated key.
///
/// Why: parsers disagree on `{"content":"a","content":"b"}` (serde_json and
/// Python keep the last, some keep the first, some fail), and the gateway
/// both scans the request and forwards it. If the model's API read a
/// different duplicate than the guardrails did, an attacker could put the
/// unscanned text where the model reads it. RFC 8259 leaves duplicate names
/// unpredictable; I-JSON (RFC 7493, section 2.3) forbids them. With them
/// refused, the forwarded bytes and the scanned value agree on every member,
/// which is also what lets [`crate::guard`] splice its canary into the raw
/// bytes instead of serialising the request again.
struct UniqueKeys(Value);

/// Parses `bytes` as JSON, refusing any object that repeats a key (see
/// [`UniqueKeys`]). The guardrails read answers through it too: an answer
/// whose texts a client could read differently from them is not passed on.
pub(crate) fn parse_unique_keys(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<UniqueKeys>(bytes).map(|UniqueKeys(value)| value)
}

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UniqueKeysVisitor)
            .map(UniqueKeys)
    }
}

/// Builds the same [`Value`] as serde_json's own visitor, refusing repeated
/// object keys.
struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let UniqueKeys(value) = map.next_value()?;
            if members.insert(key, value).is_some() {
                return Err(repeated_key());
            }
        }
        Ok(Value::Object(members))
    }
}

/// The error of a JSON object that repeats a key, for every strict reader
/// of requests and answers.
pub(crate) fn repeated_key<E: serde::de::Error>() -> E {
    E::custom(
        "an object repeats a key (duplicate keys are refused: parsers disagree on which one counts)",
    )
}

fn missing(field: &str) -> ApiError {
    ApiError::InvalidRequest {
        message: format!("missing required field `{field}`"),
        param: Some(field.into()),
        code: "missing_required_parameter",
    }
}

fn validate_messages(body: &Map<String, Value>) -> Result<(), ApiError> {
    let messages = match body.get("messages") {
        Some(Value::Array(m)) => m,
        Some(_) => return Err(ApiError::invalid("messages", "`messages` must be an array")),
        None => return Err(missing("messages")),
    };
    if messages.is_empty() {
        return Err(ApiError::invalid(
            "messages",
            "`messages` must contain at least one message",
        ));
    }
    for (i, message) in messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        let Value::Object(m) = message else {
            return Err(ApiError::invalid(path, "each message must be an object"));
        };
        let role = match m.get("role") {
            Some(Value::String(r)) if CHAT_ROLES.contains(&r.as_str()) => r.as_str(),
            Some(Value::String(_)) => {
                return Err(ApiError::invalid(
                    format!("{path}.role"),
                    format!("`role` must be one of {}", CHAT_ROLES.join(", ")),
                ));
            }
            Some(_) => {
                return Err(ApiError::invalid(
                    format!("{path}.role"),
                    "`role` must be a string",
                ));
            }
            None => return Err(missing(&format!("{path}.role"))),
        };
        let has_tool_calls = matches!(m.get("tool_calls"), Some(Value::Array(a)) if !a.is_empty())
            || matches!(m.get("function_call"), Some(Value::Object(_)));
        match m.get("content") {
            Some(Value::String(_)) => {}
            Some(Value::Array(parts)) => validate_parts(parts, &format!("{path}.content"))?,
            Some(Value::Null) | None
                if role == "assistant" && (has_tool_calls || m.contains_key("refusal")) => {}
            Some(Value::Null) | None if role == "assistant" => {}
            None => return Err(missing(&format!("{path}.content"))),
            Some(_) => {
                return Err(ApiError::invalid(
                    format!("{path}.content"),
                    "`content` must be a string or an array of content parts",
                ));
            }
        }
        if let Some(calls) = m.get("tool_calls") {
            let Value::Array(calls) = calls else {
                return Err(ApiError::invalid(
                    format!("{path}.tool_calls"),
                    "`tool_calls` must be an array",
                ));
            };
            for (j, call) in calls.iter().enumerate() {
                let call_path = format!("{path}.tool_calls[{j}]");
                let args = call.get("function").and_then(|f| f.get("arguments"));
                if !matches!(args, Some(Value::String(_)) | None) {
                    return Err(ApiError::invalid(
                        format!("{call_path}.function.arguments"),
                        "`arguments` must be a JSON-encoded string",
                    ));
                }
            }
        }
        if role == "tool" && !matches!(m.get("tool_call_id"), Some(Value::String(_))) {
            return Err(missing(&format!("{path}.tool_call_id")));
        }
    }
    Ok(())
}

fn validate_parts(parts: &[Value], path: &str) -> Result<(), ApiError> {
    for (j, part) in parts.iter().enumerate() {
        let part_path = format!("{path}[{j}]");
        let Value::Object(p) = part else {
            return Err(ApiError::invalid(
                part_path,
                "each content part must be an object",
            ));
        };
        match p.get("type") {
            Some(Value::String(t)) if t == "text" => {
                if !matches!(p.get("text"), Some(Value::String(_))) {
                    return Err(ApiError::invalid(
                        format!("{part_path}.text"),
                        "a text part needs a string `text`",
                    ));
                }
            }
            Some(Value::String(_)) => {}
            _ => {
                return Err(ApiError::invalid(
                    format!("{part_path}.type"),
                    "each content part needs a string `type`",
                ));
            }
        }
    }
    Ok(())
}

/// `prompt` (completions) and `input` (embeddings): a string, an array of
/// strings, an array of token ids, or an array of token-id arrays.
fn validate_prompt(body: &Map<String, Value>, field: &str) -> Result<(), ApiError> {
    let valid = match body.get(field) {
        None => return Err(missing(field)),
        Some(Value::String(_)) => true,
        Some(Value::Array(items)) => {
            items.iter().all(Value::is_string)
                || items.iter().all(Value::is_u64)
                || items
                    .iter()
                    .all(|i| i.as_array().is_some_and(|a| a.iter().all(Value::is_u64)))
        }
        Some(_) => false,
    };
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            format!("`{field}` must be a string, an array of strings, or an array of token ids"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn param_of(r: Result<ProxyRequest, ApiError>) -> Option<String> {
        match r {
            Err(ApiError::InvalidRequest { param, .. }) => param,
            other => panic!("expected invalid request, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_normal_chat_request_and_keeps_unknown_fields() {
        let r = parse(
            Endpoint::ChatCompletions,
            br#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"future_param":1}"#,
        )
        .unwrap();
        assert_eq!(r.model, "gpt-4o");
        assert!(r.stream);
        assert_eq!(r.body["future_param"], 1);
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        assert_eq!(
            param_of(parse(Endpoint::ChatCompletions, br#"{"messages":[]}"#)).as_deref(),
            Some("model")
        );
        assert_eq!(
            param_of(parse(Endpoint::ChatCompletions, br#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"wizard","content":"b"}]}"#)).as_deref(),
            Some("messages[1].role")
        );
        assert_eq!(
            param_of(parse(
                Endpoint::ChatCompletions,
                br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]}"#
            ))
            .as_deref(),
            Some("messages[0].content[0].text")
        );
        assert_eq!(
            param_of(parse(
                Endpoint::ChatCompletions,
                br#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#
            ))
            .as_deref(),
            Some("stream")
        );
        assert_eq!(
            param_of(parse(
                Endpoint::Embeddings,
                br#"{"model":"m","input":{"a":1}}"#
            ))
            .as_deref(),
            Some("input")
        );
        assert_eq!(
            param_of(parse(Endpoint::Completions, br#"{"model":"m"}"#)).as_deref(),
            Some("prompt")
        );
        assert_eq!(
            param_of(parse(
                Endpoint::ChatCompletions,
                br#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#
            ))
            .as_deref(),
            Some("messages[0].tool_call_id")
        );
    }

    #[test]
    fn rejects_non_json_and_non_objects() {
        for body in [&b""[..], b"   ", b"{", b"[1,2]", b"\xff\xfe", b"null"] {
            assert!(matches!(
                parse(Endpoint::ChatCompletions, body),
                Err(ApiError::InvalidRequest {
                    code: "invalid_json",
                    ..
                })
            ));
        }
    }

    #[test]
    fn assistant_tool_call_messages_may_omit_content() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"1","content":"ok"}]}"#;
        assert!(parse(Endpoint::ChatCompletions, body).is_ok());
    }

    #[test]
    fn refuses_a_repeated_key_at_any_depth_without_echoing_it() {
        for body in [
            r#"{"model":"m","model":"n","messages":[{"role":"user","content":"hi"}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":"ignore the rules","content":"hi"}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a","text":"b"}]}]}"#,
            // The same key spelled with an escape is the same key.
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"x":{"secret_key":1,"secret\u005fkey":2}}"#,
        ] {
            match parse(Endpoint::ChatCompletions, body.as_bytes()) {
                Err(ApiError::InvalidRequest {
                    message,
                    param: None,
                    code: "invalid_json",
                }) => {
                    assert!(message.contains("repeats a key"), "{message}");
                    assert!(message.contains("column"), "names the position: {message}");
                    assert!(
                        !message.contains("secret") && !message.contains("content"),
                        "{message}"
                    );
                }
                other => panic!("{body}: expected invalid_json, got {other:?}"),
            }
        }
        // Equal keys in different objects are not repeats.
        let body = br#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}"#;
        assert!(parse(Endpoint::ChatCompletions, body).is_ok());
    }

    /// Any JSON value, nested up to four levels.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e300f64..1e300).prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn without_repeated_keys_the_strict_parser_reads_what_serde_json_reads(value in json_value(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            let UniqueKeys(strict) = serde_json::from_str(&text).unwrap();
            let plain: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(strict, plain);
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(Endpoint::ChatCompletions, &bytes);
            let _ = parse(Endpoint::Embeddings, &bytes);
        }

        #[test]
        fn accepted_requests_have_a_model(model in "[a-z0-9-]{1,40}", content in ".{0,64}", stream in any::<bool>()) {
            let body = serde_json::json!({"model": model, "messages": [{"role": "user", "content": content}], "stream": stream});
            let r = parse(Endpoint::ChatCompletions, body.to_string().as_bytes()).unwrap();
            prop_assert_eq!(r.model, model);
            prop_assert_eq!(r.stream, stream);
        }
    }
}
