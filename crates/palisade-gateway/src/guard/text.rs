//! Where the text is in OpenAI requests and responses: every string the
//! guardrails must read (and may rewrite), by endpoint.
//!
//! Requests: chat messages of every role (string content or multimodal text
//! parts), tool and function call arguments, tool results; the `prompt` of
//! `/v1/completions` and the `input` of `/v1/embeddings`. Responses: each
//! choice's message content and tool call arguments, or its `text`.

use serde_json::{Map, Value};

use crate::request::Endpoint;

/// Calls `f` on every text of a request body.
pub fn request_texts_mut(
    endpoint: Endpoint,
    body: &mut Map<String, Value>,
    f: &mut dyn FnMut(&mut String),
) {
    match endpoint {
        Endpoint::ChatCompletions => {
            if let Some(Value::Array(messages)) = body.get_mut("messages") {
                for message in messages {
                    message_texts_mut(message, f);
                }
            }
        }
        Endpoint::Completions => {
            if let Some(v) = body.get_mut("prompt") {
                strings_mut(v, f);
            }
        }
        Endpoint::Embeddings => {
            if let Some(v) = body.get_mut("input") {
                strings_mut(v, f);
            }
        }
    }
}

/// Calls `f` on every text of a non-streamed response body.
pub fn response_texts_mut(body: &mut Value, f: &mut dyn FnMut(&mut String)) {
    let Some(Value::Array(choices)) = body.get_mut("choices") else {
        return;
    };
    for choice in choices {
        if let Some(message) = choice.get_mut("message") {
            message_texts_mut(message, f);
        }
        if let Some(Value::String(text)) = choice.get_mut("text") {
            f(text);
        }
    }
}

/// A string or an array of strings (token arrays are left alone: the
/// guardrails cannot read token ids).
fn strings_mut(v: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(items) => {
            for item in items {
                if let Value::String(s) = item {
                    f(s);
                }
            }
        }
        _ => {}
    }
}

/// Content (string or text parts), refusal, tool/function call arguments.
fn message_texts_mut(message: &mut Value, f: &mut dyn FnMut(&mut String)) {
    let Some(message) = message.as_object_mut() else {
        return;
    };
    if let Some(content) = message.get_mut("content") {
        content_mut(content, f);
    }
    if let Some(Value::String(refusal)) = message.get_mut("refusal") {
        f(refusal);
    }
    if let Some(Value::Array(calls)) = message.get_mut("tool_calls") {
        for call in calls {
            if let Some(Value::String(args)) = call
                .get_mut("function")
                .and_then(|func| func.get_mut("arguments"))
            {
                f(args);
            }
        }
    }
    if let Some(Value::String(args)) = message
        .get_mut("function_call")
        .and_then(|call| call.get_mut("arguments"))
    {
        f(args);
    }
}

/// Message content: a string, or parts of which the text ones count.
pub fn content_mut(content: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match content {
        Value::String(s) => f(s),
        Value::Array(parts) => {
            for part in parts {
                if let Some(Value::String(text)) = part.get_mut("text") {
                    f(text);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn collect_request(endpoint: Endpoint, body: Value) -> Vec<String> {
        let Value::Object(mut map) = body else {
            unreachable!()
        };
        let mut out = Vec::new();
        request_texts_mut(endpoint, &mut map, &mut |s| out.push(s.clone()));
        out
    }

    #[test]
    fn every_chat_text_is_visited() {
        let texts = collect_request(
            Endpoint::ChatCompletions,
            json!({"model": "m", "messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": [
                    {"type": "text", "text": "part"},
                    {"type": "image_url", "image_url": {"url": "https://x"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"q\":1}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "tool result"},
                {"role": "assistant", "function_call": {"name": "g", "arguments": "legacy"}}
            ]}),
        );
        assert_eq!(texts, ["sys", "part", "{\"q\":1}", "tool result", "legacy"]);
    }

    #[test]
    fn prompts_and_inputs_are_visited_but_token_arrays_are_not() {
        assert_eq!(
            collect_request(
                Endpoint::Completions,
                json!({"model": "m", "prompt": ["a", "b"]})
            ),
            ["a", "b"]
        );
        assert_eq!(
            collect_request(Endpoint::Embeddings, json!({"model": "m", "input": "e"})),
            ["e"]
        );
        assert!(
            collect_request(
                Endpoint::Embeddings,
                json!({"model": "m", "input": [1, 2, 3]})
            )
            .is_empty()
        );
    }

    #[test]
    fn response_texts_include_tool_calls_and_completion_text() {
        let mut body = json!({"choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hello",
                "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}},
            {"index": 1, "text": "completion"}
        ]});
        let mut out = Vec::new();
        response_texts_mut(&mut body, &mut |s| {
            out.push(s.clone());
            s.push('!');
        });
        assert_eq!(out, ["hello", "{}", "completion"]);
        assert_eq!(body["choices"][0]["message"]["content"], "hello!");
    }
}
