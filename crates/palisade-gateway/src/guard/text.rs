//! Where the text is in OpenAI requests and responses: every string the
//! guardrails must read (and may rewrite), by endpoint.
//!
//! Requests: chat messages of every role (string content or multimodal text
//! parts), tool and function call arguments, tool results; the `prompt` of
//! `/v1/completions` and the `input` of `/v1/embeddings`. Responses: each
//! choice's message content and tool call arguments, or its `text`.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::request::{CHAT_ROLES, Endpoint};

/// Calls `f` on every text of a request body, with the role of the chat
/// message it belongs to (`None` for a completion's prompt or an embedding's
/// input, and for a message without a known role).
pub fn request_texts_mut(
    endpoint: Endpoint,
    body: &mut Map<String, Value>,
    f: &mut dyn FnMut(Option<&'static str>, &mut String),
) {
    match endpoint {
        Endpoint::ChatCompletions => {
            if let Some(Value::Array(messages)) = body.get_mut("messages") {
                for message in messages {
                    let role = message
                        .get("role")
                        .and_then(Value::as_str)
                        .and_then(|r| CHAT_ROLES.iter().copied().find(|known| *known == r));
                    message_texts_mut(message, &mut |s| f(role, s));
                }
            }
        }
        Endpoint::Completions => {
            if let Some(v) = body.get_mut("prompt") {
                strings_mut(v, &mut |s| f(None, s));
            }
        }
        Endpoint::Embeddings => {
            if let Some(v) = body.get_mut("input") {
                strings_mut(v, &mut |s| f(None, s));
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

/// The texts of a non-streamed answer, in the order [`response_texts_mut`]
/// visits them, borrowed from `bytes` where they hold no escapes. Reading
/// them this way skips building (and dropping) a [`Value`] of the whole
/// answer, most of the output stage's own cost on a short clean answer; an
/// answer that must be rewritten is parsed into a [`Value`] after all.
///
/// Fails as [`crate::request::parse_unique_keys`] does: on anything that is
/// not JSON and on any object, anywhere in the answer, that repeats a key.
pub fn answer_texts(bytes: &[u8]) -> Result<Vec<Cow<'_, str>>, serde_json::Error> {
    let mut found = Vec::new();
    let mut keys = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Walk {
        at: At::Root,
        place: Place::default(),
        found: &mut found,
        keys: &mut keys,
    }
    .deserialize(&mut de)?;
    de.end()?;
    // The walk meets texts in document order; `response_texts_mut` visits a
    // choice's fields in a fixed order. The sort is stable, so the parts and
    // calls of one field keep their order.
    found.sort_by_key(|(place, _)| *place);
    Ok(found.into_iter().map(|(_, text)| text).collect())
}

/// How many keys an object's repeat check compares one by one.
const FEW_KEYS: usize = 16;

/// Where a text sits: its choice, then its field in the order
/// [`response_texts_mut`] visits them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Place {
    choice: usize,
    field: Field,
}

/// The fields of a choice that hold texts, in visiting order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    #[default]
    Content,
    Refusal,
    ToolCalls,
    FunctionCall,
    Text,
}

/// What the value being read is, as far as the texts are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Root,
    Choices,
    Choice,
    Message,
    /// Message content: a string, or an array of parts.
    Content,
    Part,
    ToolCalls,
    ToolCall,
    /// A tool call's `function` or a legacy `function_call`: an object whose
    /// `arguments` string counts.
    Call,
    /// A text if it is a string.
    Text,
    /// Anything else: read only to check it (and its keys).
    Other,
}

impl At {
    /// What the member `key` of an object read as `self` is.
    fn member(self, key: &str) -> (At, Option<Field>) {
        match (self, key) {
            (At::Root, "choices") => (At::Choices, None),
            (At::Choice, "message") => (At::Message, None),
            (At::Choice, "text") => (At::Text, Some(Field::Text)),
            (At::Message, "content") => (At::Content, Some(Field::Content)),
            (At::Message, "refusal") => (At::Text, Some(Field::Refusal)),
            (At::Message, "tool_calls") => (At::ToolCalls, Some(Field::ToolCalls)),
            (At::Message, "function_call") => (At::Call, Some(Field::FunctionCall)),
            (At::ToolCall, "function") => (At::Call, None),
            (At::Call, "arguments") | (At::Part, "text") => (At::Text, None),
            _ => (At::Other, None),
        }
    }

    /// What the elements of an array read as `self` are.
    fn element(self) -> At {
        match self {
            At::Choices => At::Choice,
            At::Content => At::Part,
            At::ToolCalls => At::ToolCall,
            _ => At::Other,
        }
    }
}

/// One value of the answer being read, with where it sits.
struct Walk<'w, 'de> {
    at: At,
    place: Place,
    found: &'w mut Vec<(Place, Cow<'de, str>)>,
    /// The keys of the objects being read, innermost last: each object
    /// checks its own keys, from where it started, for a repeat.
    keys: &'w mut Vec<Cow<'de, str>>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.text(Cow::Borrowed(v));
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        if matches!(self.at, At::Text | At::Content) {
            self.text(Cow::Owned(v.to_owned()));
        }
        Ok(())
    }

    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.text(Cow::Owned(v));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let element = self.at.element();
        let mut choice = 0;
        loop {
            let mut place = self.place;
            if self.at == At::Choices {
                place.choice = choice;
                choice += 1;
            }
            let next = Walk {
                at: element,
                place,
                found: &mut *self.found,
                keys: &mut *self.keys,
            };
            if seq.next_element_seed(next)?.is_none() {
                return Ok(());
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let from = self.keys.len();
        // Past a few keys, a set: a list would make an answer of one huge
        // object cost time quadratic in its size.
        let mut many: Option<HashSet<Cow<'de, str>>> = None;
        while let Some(key) = map.next_key_seed(Key)? {
            let (at, field) = self.at.member(&key);
            let repeated = match &mut many {
                Some(set) => !set.insert(key),
                None if self.keys.len() - from < FEW_KEYS => {
                    let repeated = self.keys[from..].contains(&key);
                    self.keys.push(key);
                    repeated
                }
                None => {
                    let mut set: HashSet<Cow<'de, str>> = self.keys.drain(from..).collect();
                    let repeated = !set.insert(key);
                    many = Some(set);
                    repeated
                }
            };
            if repeated {
                return Err(crate::request::repeated_key());
            }
            let mut place = self.place;
            if let Some(field) = field {
                place.field = field;
            }
            map.next_value_seed(Walk {
                at,
                place,
                found: &mut *self.found,
                keys: &mut *self.keys,
            })?;
        }
        self.keys.truncate(from);
        Ok(())
    }
}

impl<'de> Walk<'_, 'de> {
    /// Keeps a string read where a text may be.
    fn text(self, text: Cow<'de, str>) {
        if matches!(self.at, At::Text | At::Content) {
            self.found.push((self.place, text));
        }
    }
}

/// An object key, borrowed where it holds no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The texts `response_texts_mut` visits in the answer the strict
    /// parser reads from `bytes`.
    fn texts_by_value(bytes: &[u8]) -> Result<Vec<String>, serde_json::Error> {
        let mut value = crate::request::parse_unique_keys(bytes)?;
        let mut out = Vec::new();
        response_texts_mut(&mut value, &mut |s| out.push(s.clone()));
        Ok(out)
    }

    fn owned(texts: Vec<Cow<'_, str>>) -> Vec<String> {
        texts.into_iter().map(Cow::into_owned).collect()
    }

    #[test]
    fn answer_texts_come_in_visiting_order_whatever_the_key_order() {
        let bytes = br#"{"choices":[{"text":"completion","message":{"function_call":{"arguments":"legacy"},
            "tool_calls":[{"function":{"arguments":"{}","name":"f"}},{"function":{"arguments":"2"}}],
            "refusal":"no","content":[{"type":"text","text":"p1"},{"type":"image_url"},{"text":"p2"}]}},
            {"message":{"content":"second"}}],"choices_not":"x"}"#;
        let texts = answer_texts(bytes).unwrap();
        assert_eq!(
            owned(texts),
            [
                "p1",
                "p2",
                "no",
                "{}",
                "2",
                "legacy",
                "completion",
                "second"
            ]
        );
        assert_eq!(
            owned(answer_texts(bytes).unwrap()),
            texts_by_value(bytes).unwrap()
        );
    }

    #[test]
    fn answer_texts_borrow_unescaped_strings_and_decode_escaped_ones() {
        let bytes = br#"{"choices":[{"message":{"content":"plain"}},{"message":{"content":"tab\there \u00e9"}}]}"#;
        let texts = answer_texts(bytes).unwrap();
        assert!(matches!(texts[0], Cow::Borrowed("plain")));
        assert_eq!(texts[1], "tab\there \u{e9}");
        // An escaped key is the same key.
        let bytes = br#"{"choices":[{"message":{"\u0063ontent":"escaped key"}}]}"#;
        assert_eq!(owned(answer_texts(bytes).unwrap()), ["escaped key"]);
    }

    #[test]
    fn answer_texts_refuse_repeated_keys_anywhere_and_trailing_bytes() {
        for bytes in [
            &br#"{"choices":[{"message":{"content":"a","content":"b"}}]}"#[..],
            br#"{"choices":[{"message":{"content":"a","\u0063ontent":"b"}}]}"#,
            br#"{"usage":{"x":{"y":1,"y":2}},"choices":[]}"#,
            br#"{"choices":[],"choices":[]}"#,
            br#"{"choices":[]} x"#,
            br#"{"choices":[{"message":{"content":"a"}}"#,
        ] {
            assert!(
                answer_texts(bytes).is_err(),
                "{}",
                String::from_utf8_lossy(bytes)
            );
            assert!(texts_by_value(bytes).is_err());
        }
        // Equal keys in sibling objects are not repeats.
        let siblings = br#"{"choices":[{"message":{"content":"a"}},{"message":{"content":"b"}}]}"#;
        assert_eq!(owned(answer_texts(siblings).unwrap()), ["a", "b"]);
    }

    #[test]
    fn a_key_repeated_in_a_large_object_is_found_after_the_switch_to_a_set() {
        // The repeat as the key that switches to the set, just before it,
        // and well after it.
        for distinct in [FEW_KEYS - 1, FEW_KEYS, FEW_KEYS + 1, 40] {
            for repeat_of in [0, distinct / 2, distinct - 1] {
                let mut members: Vec<String> =
                    (0..distinct).map(|i| format!("\"k{i}\":{i}")).collect();
                members.push(format!("\"k{repeat_of}\":0"));
                let bytes = format!("{{{}}}", members.join(","));
                assert!(
                    answer_texts(bytes.as_bytes()).is_err(),
                    "repeat of k{repeat_of} after {distinct} keys"
                );
            }
        }
        let members: Vec<String> = (0..40)
            .map(|i| format!("\"k{i}\":{{\"k{i}\":1}}"))
            .collect();
        let bytes = format!("{{\"choices\":[{{\"text\":\"t\"}}],{}}}", members.join(","));
        assert_eq!(owned(answer_texts(bytes.as_bytes()).unwrap()), ["t"]);
    }

    /// JSON with members in a chosen order (serde_json's maps sort them).
    #[derive(Debug, Clone)]
    enum Json {
        Leaf(Value),
        Array(Vec<Json>),
        Object(Vec<(&'static str, Json)>),
    }

    impl Json {
        fn write(&self, out: &mut String) {
            match self {
                Json::Leaf(v) => out.push_str(&v.to_string()),
                Json::Array(items) => {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        item.write(out);
                    }
                    out.push(']');
                }
                Json::Object(members) => {
                    out.push('{');
                    for (i, (key, value)) in members.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        out.push_str(&Value::from(*key).to_string());
                        out.push(':');
                        value.write(out);
                    }
                    out.push('}');
                }
            }
        }
    }

    /// Any JSON value, with keys from the ones texts hide under: what an
    /// answer may hold where a text or an object is expected.
    fn noise() -> impl Strategy<Value = Json> {
        let key = prop_oneof![
            Just("choices"),
            Just("message"),
            Just("content"),
            Just("text"),
            Just("refusal"),
            Just("tool_calls"),
            Just("function"),
            Just("arguments"),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            string().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map(key.clone(), inner, 0..3).prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
        .prop_map(Json::Leaf)
    }

    fn string() -> impl Strategy<Value = String> {
        "[a-z \\\\\"\u{e9}\n]{0,8}"
    }

    /// A text where one belongs, or now and then anything else.
    fn text() -> BoxedStrategy<Json> {
        prop_oneof![4 => string().prop_map(|s| Json::Leaf(Value::String(s))), 1 => noise()].boxed()
    }

    /// An object of the members that are present, in any order.
    fn object(members: Vec<(&'static str, Option<Json>)>) -> impl Strategy<Value = Json> {
        let present: Vec<(&'static str, Json)> = members
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        Just(present).prop_shuffle().prop_map(Json::Object)
    }

    /// Either the expected shape or, now and then, anything else.
    fn or_noise(shape: impl Strategy<Value = Json> + 'static) -> BoxedStrategy<Json> {
        prop_oneof![4 => shape, 1 => noise()].boxed()
    }

    fn call() -> BoxedStrategy<Json> {
        or_noise(
            proptest::option::weighted(0.8, text()).prop_flat_map(|args| {
                object(vec![
                    ("arguments", args),
                    ("name", Some(Json::Leaf("f".into()))),
                ])
            }),
        )
    }

    fn content() -> BoxedStrategy<Json> {
        let part = or_noise(
            (proptest::option::weighted(0.8, text()), any::<bool>()).prop_flat_map(
                |(text, typed)| {
                    object(vec![
                        ("text", text),
                        ("type", typed.then(|| Json::Leaf("text".into()))),
                    ])
                },
            ),
        );
        prop_oneof![
            2 => text(),
            2 => prop::collection::vec(part, 0..4).prop_map(Json::Array),
            1 => noise(),
        ]
        .boxed()
    }

    fn message() -> BoxedStrategy<Json> {
        let tool_call = or_noise(proptest::option::weighted(0.8, call()).prop_flat_map(|f| {
            object(vec![("function", f), ("id", Some(Json::Leaf("c".into())))])
        }));
        let tool_calls = or_noise(prop::collection::vec(tool_call, 0..3).prop_map(Json::Array));
        or_noise(
            (
                proptest::option::weighted(0.8, content()),
                proptest::option::weighted(0.8, text()),
                proptest::option::weighted(0.8, tool_calls),
                proptest::option::weighted(0.8, call()),
            )
                .prop_flat_map(|(content, refusal, tool_calls, function_call)| {
                    object(vec![
                        ("content", content),
                        ("refusal", refusal),
                        ("tool_calls", tool_calls),
                        ("function_call", function_call),
                        ("role", Some(Json::Leaf("assistant".into()))),
                    ])
                }),
        )
    }

    /// Answers of the OpenAI shapes, with every field that holds texts
    /// present or not, in any member order, and anything at all now and
    /// then where a text or an object is expected.
    fn answer() -> impl Strategy<Value = Json> {
        let choice = or_noise(
            (
                proptest::option::weighted(0.8, message()),
                proptest::option::weighted(0.8, text()),
                proptest::option::weighted(0.8, noise()),
            )
                .prop_flat_map(|(message, text, extra)| {
                    object(vec![
                        ("message", message),
                        ("text", text),
                        ("logprobs", extra),
                        ("index", Some(Json::Leaf(0.into()))),
                    ])
                }),
        );
        let choices = or_noise(prop::collection::vec(choice, 0..4).prop_map(Json::Array));
        (
            proptest::option::weighted(0.8, choices),
            proptest::option::weighted(0.8, noise()),
        )
            .prop_flat_map(|(choices, usage)| {
                object(vec![
                    ("choices", choices),
                    ("usage", usage),
                    ("id", Some(Json::Leaf("x".into()))),
                ])
            })
    }

    proptest! {
        #[test]
        fn answer_texts_are_the_texts_the_value_walk_visits(answer in answer()) {
            let mut text = String::new();
            answer.write(&mut text);
            prop_assert_eq!(owned(answer_texts(text.as_bytes()).unwrap()), texts_by_value(text.as_bytes()).unwrap());
        }

        #[test]
        fn answer_texts_fail_exactly_where_the_strict_parser_does(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            prop_assert_eq!(answer_texts(&bytes).is_err(), texts_by_value(&bytes).is_err());
        }
    }

    fn collect_request(endpoint: Endpoint, body: Value) -> Vec<String> {
        let Value::Object(mut map) = body else {
            unreachable!()
        };
        let mut out = Vec::new();
        request_texts_mut(endpoint, &mut map, &mut |_, s| out.push(s.clone()));
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
