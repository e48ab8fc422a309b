//! The output stage for streamed answers.
//!
//! Each text channel of the stream (a choice's content, or one tool call's
//! arguments) keeps its newest `hold_back` bytes unreleased, so a value split
//! across any number of chunks is scanned whole before any of its bytes go
//! out. Released text is rescanned with a little left context; a finding
//! that straddles the release point moves the point back to its start.
//! `redact` rewrites inside the stream; `block` ends it with an error event
//! and `data: [DONE]`; pseudonyms from the input stage are put back, with a
//! small extra hold-back so a placeholder split across chunks is restored
//! whole.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use serde_json::{Map, Value, json};

use super::policy::Stage;
use super::{Hit, OutputSession, Pseudonyms, Verdict, apply_rewrites, record, rewrite_plan};
use crate::error::ApiError;
use crate::metrics as m;
use crate::sse::SseEvent;

/// Bytes of released original text rescanned as left context.
const LEFT_CONTEXT: usize = 128;

/// Whether the stream goes on after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep relaying.
    Continue,
    /// The guard ended the stream (error event and `[DONE]` written).
    Stop,
}

/// How much of a channel's newest text stays unreleased.
///
/// Multi-word values (names, addresses, cards and phone numbers written
/// with spaces) and the context words that raise their scores fit in
/// `words` bytes. Values that can be longer (tokens, keys, JWTs, URLs with
/// credentials) contain no whitespace, so a release point is never put
/// inside a whitespace-free run: the run stays held until it ends, up to
/// `run` bytes, the detection engine's bound for its longest match. Short
/// hold-back, so a fast first token, without releasing half a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldBack {
    /// Bytes always held (multi-word values plus context).
    pub words: usize,
    /// Longest whitespace-free run held whole.
    pub run: usize,
}

impl HoldBack {
    /// The release point in `pending`: everything before it may go out.
    pub fn cut(self, pending: &str) -> usize {
        let len = pending.len();
        if len <= self.words {
            return 0;
        }
        let floor = len.saturating_sub(self.run.max(self.words));
        let mut cut = len - self.words;
        while cut > 0 && !pending.is_char_boundary(cut) {
            cut -= 1;
        }
        let bytes = pending.as_bytes();
        let inside_run = |at: usize| {
            at > 0
                && at < len
                && !bytes[at - 1].is_ascii_whitespace()
                && !bytes[at].is_ascii_whitespace()
        };
        if inside_run(cut) {
            let run_start = pending[..cut]
                .rfind(|c: char| c.is_whitespace())
                .map(|i| i + pending[i..].chars().next().map_or(1, char::len_utf8))
                .unwrap_or(0);
            cut = run_start.max(floor);
            while cut > 0 && !pending.is_char_boundary(cut) {
                cut -= 1;
            }
        }
        cut
    }
}

/// Bytes that must be releasable before a channel rescans its window: one
/// scan per step of text rather than one per streamed token.
const RELEASE_STEP: usize = 32;

/// Default for [`HoldBack::words`]: the longest multi-word value the
/// engine builds (addresses, names) plus its context window, rounded up.
pub const DEFAULT_WORDS_HOLD: usize = 256;

/// Channel key: choice index, and the tool call index for arguments.
type ChannelKey = (u64, Option<u64>);

#[derive(Debug, Default)]
struct Channel {
    /// Original text not yet released.
    pending: String,
    /// The last released original bytes (left context for the next scan).
    context: String,
    /// Safe (rewritten) text waiting for a possibly split placeholder.
    restore_buf: String,
    /// True once the channel was flushed for good.
    done: bool,
}

/// What one release step produced.
struct Released {
    hits: Vec<Hit>,
    text: String,
}

impl Channel {
    fn release(&mut self, session: &OutputSession, hold: HoldBack, final_flush: bool) -> Released {
        // Rescanning the window costs the same however little it releases,
        // so wait until a step's worth of text is past the hold-back.
        if !final_flush && self.pending.len() < hold.words + RELEASE_STEP {
            return Released {
                hits: Vec::new(),
                text: String::new(),
            };
        }
        let mut cut = if final_flush {
            self.pending.len()
        } else {
            hold.cut(&self.pending)
        };
        if cut == 0 {
            return Released {
                hits: Vec::new(),
                text: String::new(),
            };
        }
        let ctx = self.context.len();
        let window = format!("{}{}", self.context, self.pending);
        let all = session
            .policy
            .output
            .evaluate(&window, session.canary.as_ref());
        let mut local = Vec::new();
        for mut h in all {
            if h.end <= ctx {
                continue;
            }
            h.start = h.start.saturating_sub(ctx);
            h.end -= ctx;
            local.push(h);
        }
        // Moving the release point back to the start of a straddling hit
        // can make an earlier, overlapping hit straddle it in turn, so
        // repeat until no hit crosses it.
        let mut moved = true;
        while moved {
            moved = false;
            for h in &local {
                if h.start < cut && h.end > cut {
                    cut = h.start;
                    moved = true;
                }
            }
        }
        // Detector spans are meant to sit on character boundaries; never
        // let one that does not split a character of the upstream's text.
        while cut > 0 && !self.pending.is_char_boundary(cut) {
            cut -= 1;
        }
        local.retain(|h| h.end <= cut && h.end > 0);
        let original: String = self.pending.drain(..cut).collect();
        self.context.push_str(&original);
        if self.context.len() > LEFT_CONTEXT {
            let mut from = self.context.len() - LEFT_CONTEXT;
            while !self.context.is_char_boundary(from) {
                from += 1;
            }
            self.context.drain(..from);
        }
        Released {
            hits: local,
            text: original,
        }
    }

    /// Appends safe text and returns what may be emitted now: everything
    /// except a trailing fragment that could be the start of a placeholder.
    fn emit(&mut self, session: &OutputSession, safe: &str, final_flush: bool) -> String {
        if session.restore.is_empty() {
            return safe.to_owned();
        }
        self.restore_buf.push_str(safe);
        let longest = session.longest_placeholder();
        let keep_from = if final_flush {
            self.restore_buf.len()
        } else {
            match self.restore_buf.rfind('<') {
                Some(i)
                    if !self.restore_buf[i..].contains('>')
                        && self.restore_buf.len() - i < longest =>
                {
                    i
                }
                _ => self.restore_buf.len(),
            }
        };
        let ready: String = self.restore_buf.drain(..keep_from).collect();
        session.restore_text(&ready)
    }
}

/// Guards one streamed answer, event by event.
#[derive(Debug)]
pub struct StreamGuard {
    session: Arc<OutputSession>,
    hold: HoldBack,
    channels: BTreeMap<ChannelKey, Channel>,
    template: Option<Map<String, Value>>,
    verdicts: Vec<Verdict>,
    scanned: usize,
    unguarded: bool,
    finished: bool,
}

impl StreamGuard {
    /// A guard for one stream of the request behind `session`.
    pub fn new(session: Arc<OutputSession>) -> StreamGuard {
        let hold = session.policy.stream_hold_back();
        StreamGuard {
            session,
            hold,
            channels: BTreeMap::new(),
            template: None,
            verdicts: Vec::new(),
            scanned: 0,
            unguarded: false,
            finished: false,
        }
    }

    /// Verdicts so far.
    pub fn verdicts(&self) -> &[Verdict] {
        &self.verdicts
    }

    /// Handles one upstream event, writing what the client may see to `out`.
    pub fn on_event(&mut self, event: SseEvent, out: &mut BytesMut) -> Flow {
        if self.finished {
            return Flow::Stop;
        }
        let started = Instant::now();
        let flow = self.handle(event, out);
        m::guard_latency(Stage::Output, started.elapsed());
        if flow == Flow::Stop {
            self.finish_log();
        }
        flow
    }

    fn handle(&mut self, event: SseEvent, out: &mut BytesMut) -> Flow {
        if event.is_done() {
            if let Err(stop) = self.flush_all(out) {
                return self.stop(stop, out);
            }
            self.write_summary(out);
            event.write_to(out);
            self.finished = true;
            self.finish_log();
            return Flow::Stop;
        }
        if self.unguarded {
            event.write_to(out);
            return Flow::Continue;
        }
        let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(&event.data) else {
            event.write_to(out);
            return Flow::Continue;
        };
        if self.template.is_none() {
            let mut t = Map::new();
            for key in ["id", "object", "created", "model", "system_fingerprint"] {
                if let Some(v) = obj.get(key) {
                    t.insert(key.to_owned(), v.clone());
                }
            }
            self.template = Some(t);
        }
        let shadow = self.session.shadow();
        match self.process_choices(&mut obj) {
            Err(stop) => self.stop(stop, out),
            Ok(()) if shadow => {
                event.write_to(out);
                Flow::Continue
            }
            Ok(()) => {
                if !is_empty_chunk(&obj) {
                    let data = Value::Object(obj).to_string();
                    SseEvent {
                        event: event.event,
                        data,
                        id: event.id,
                    }
                    .write_to(out);
                }
                Flow::Continue
            }
        }
    }

    /// Feeds every text of the event's choices through its channel and
    /// writes the releasable text back in place.
    fn process_choices(&mut self, obj: &mut Map<String, Value>) -> Result<(), ApiError> {
        let Some(Value::Array(choices)) = obj.get_mut("choices") else {
            return Ok(());
        };
        for (position, choice) in choices.iter_mut().enumerate() {
            let index = choice
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let finished = choice.get("finish_reason").is_some_and(|f| !f.is_null());
            if let Some(delta) = choice.get_mut("delta").and_then(Value::as_object_mut) {
                if let Some(Value::Array(calls)) = delta.get_mut("tool_calls") {
                    for (j, call) in calls.iter_mut().enumerate() {
                        let tool = call
                            .get("index")
                            .and_then(Value::as_u64)
                            .unwrap_or(j as u64);
                        if let Some(Value::String(args)) = call
                            .get_mut("function")
                            .and_then(|f| f.get_mut("arguments"))
                        {
                            let released = self.feed((index, Some(tool)), args, false)?;
                            *args = released;
                        }
                    }
                }
                let had_content = matches!(delta.get("content"), Some(Value::String(_)));
                let mut text = match delta.get("content") {
                    Some(Value::String(s)) => self.feed((index, None), s, finished)?,
                    _ if finished => self.feed((index, None), "", true)?,
                    _ => String::new(),
                };
                if finished {
                    let rest = self.flush_tools(index)?;
                    if !rest.is_empty() {
                        let calls = delta
                            .entry("tool_calls")
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if let Value::Array(calls) = calls {
                            for (tool, args) in rest {
                                calls.push(json!({"index": tool, "function": {"arguments": args}}));
                            }
                        }
                    }
                }
                if had_content || !text.is_empty() {
                    delta.insert("content".into(), Value::String(std::mem::take(&mut text)));
                }
            } else if let Some(Value::String(s)) = choice.get("text").cloned().as_ref() {
                let released = self.feed((index, None), s, finished)?;
                if let Some(slot) = choice.get_mut("text") {
                    *slot = Value::String(released);
                }
            } else if finished {
                let released = self.feed((index, None), "", true)?;
                if !released.is_empty()
                    && let Some(choice) = choice.as_object_mut()
                {
                    choice.insert("delta".into(), json!({"content": released}));
                }
            }
        }
        Ok(())
    }

    /// Flushes the tool-call channels of one choice.
    fn flush_tools(&mut self, index: u64) -> Result<Vec<(u64, String)>, ApiError> {
        let keys: Vec<ChannelKey> = self
            .channels
            .iter()
            .filter(|(k, c)| k.0 == index && k.1.is_some() && !c.done)
            .map(|(k, _)| *k)
            .collect();
        let mut out = Vec::new();
        for key in keys {
            let text = self.feed(key, "", true)?;
            if let (Some(tool), false) = (key.1, text.is_empty()) {
                out.push((tool, text));
            }
        }
        Ok(out)
    }

    /// Adds `chunk` to a channel and returns the text that may go out now.
    fn feed(
        &mut self,
        key: ChannelKey,
        chunk: &str,
        final_flush: bool,
    ) -> Result<String, ApiError> {
        let policy = &self.session.policy;
        self.scanned += chunk.len();
        if self.scanned > policy.config.max_scan_bytes && !self.unguarded {
            let (v, error) =
                super::over_budget(policy, Stage::Output, self.scanned, !self.session.shadow());
            self.verdicts.push(v);
            if let Some(error) = error {
                return Err(error);
            }
            // Fail open: what is held goes out as it is, the rest unscanned.
            self.unguarded = true;
            let channel = self.channels.entry(key).or_default();
            let mut rest = std::mem::take(&mut channel.pending);
            rest.push_str(chunk);
            return Ok(rest);
        }
        let session = self.session.clone();
        let hold = self.hold;
        let channel = self.channels.entry(key).or_default();
        if channel.done {
            // Text after the choice finished: treat it as a fresh segment.
            channel.done = false;
        }
        channel.pending.push_str(chunk);
        let released = channel.release(&session, hold, final_flush);
        if final_flush {
            channel.done = true;
        }
        let enforced = !session.shadow();
        let mut new_verdicts = Vec::new();
        super::verdicts_from(&released.hits, Stage::Output, enforced, &mut new_verdicts);
        record(&session.policy.config.name, &new_verdicts);
        merge_verdicts(&mut self.verdicts, new_verdicts);
        if enforced
            && let Some(error) = super::stop_error(
                &session.policy,
                Stage::Output,
                &self.verdicts,
                &session.request_id,
            )
        {
            return Err(error);
        }
        if !enforced {
            return Ok(String::new());
        }
        let plan = rewrite_plan(&released.text, &released.hits);
        let safe = if plan.is_empty() {
            released.text
        } else {
            apply_rewrites(&released.text, &plan, &mut Pseudonyms::default())
        };
        let channel = self.channels.entry(key).or_default();
        Ok(channel.emit(&session, &safe, final_flush))
    }

    /// Releases every channel at the end of the stream, as synthetic chunks.
    fn flush_all(&mut self, out: &mut BytesMut) -> Result<(), ApiError> {
        let keys: Vec<ChannelKey> = self
            .channels
            .iter()
            .filter(|(_, c)| !c.done || !c.pending.is_empty() || !c.restore_buf.is_empty())
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            let text = self.feed(key, "", true)?;
            if text.is_empty() || self.session.shadow() {
                continue;
            }
            let mut chunk = self.template.clone().unwrap_or_default();
            let delta = match key.1 {
                None => json!({"content": text}),
                Some(tool) => {
                    json!({"tool_calls": [{"index": tool, "function": {"arguments": text}}]})
                }
            };
            let is_completion = chunk
                .get("object")
                .and_then(Value::as_str)
                .is_some_and(|o| o == "text_completion");
            let choice = if is_completion && key.1.is_none() {
                json!({"index": key.0, "text": text, "finish_reason": null})
            } else {
                json!({"index": key.0, "delta": delta, "finish_reason": null})
            };
            chunk.insert("choices".into(), Value::Array(vec![choice]));
            SseEvent::data(Value::Object(chunk).to_string()).write_to(out);
        }
        Ok(())
    }

    fn stop(&mut self, error: ApiError, out: &mut BytesMut) -> Flow {
        self.finished = true;
        self.write_summary(out);
        out.extend_from_slice(error.sse_event().as_bytes());
        out.extend_from_slice(b"data: [DONE]\n\n");
        Flow::Stop
    }

    /// An SSE comment with the output verdicts (clients ignore comments;
    /// the headers went out before the answer was known).
    fn write_summary(&self, out: &mut BytesMut) {
        if self.verdicts.is_empty() {
            return;
        }
        let items: Vec<String> = self.verdicts.iter().map(super::verdict_item).collect();
        out.extend_from_slice(b": x-palisade-output: ");
        out.extend_from_slice(items.join(", ").as_bytes());
        out.extend_from_slice(b"\n\n");
    }

    fn finish_log(&self) {
        if !self.verdicts.is_empty() {
            tracing::info!(
                request_id = %self.session.request_id,
                policy = %self.session.policy.config.name,
                verdicts = %super::summary(&self.verdicts),
                "stream guardrail verdicts"
            );
        }
    }
}

fn merge_verdicts(into: &mut Vec<Verdict>, new: Vec<Verdict>) {
    for v in new {
        if let Some(existing) = into
            .iter_mut()
            .find(|e| e.detector == v.detector && e.action == v.action)
        {
            existing.count += v.count;
            existing.score = existing.score.max(v.score);
        } else {
            into.push(v);
        }
    }
}

/// A chunk whose only payload was text that is now held back.
fn is_empty_chunk(obj: &Map<String, Value>) -> bool {
    if obj.get("usage").is_some_and(|u| !u.is_null()) {
        return false;
    }
    let Some(Value::Array(choices)) = obj.get("choices") else {
        return false;
    };
    !choices.is_empty()
        && choices.iter().all(|c| {
            c.get("finish_reason").is_none_or(Value::is_null)
                && match (c.get("delta"), c.get("text")) {
                    (Some(Value::Object(d)), _) => d
                        .iter()
                        .all(|(k, v)| k == "content" && v.as_str().is_some_and(str::is_empty)),
                    (None, Some(Value::String(t))) => t.is_empty(),
                    _ => false,
                }
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;
    use crate::guard::CompiledPolicy;
    use crate::guard::policy::PolicyConfig;
    use crate::sse::SseParser;

    fn standard() -> Arc<CompiledPolicy> {
        static POLICY: OnceLock<Arc<CompiledPolicy>> = OnceLock::new();
        POLICY
            .get_or_init(|| Arc::new(CompiledPolicy::new(PolicyConfig::standard()).unwrap()))
            .clone()
    }

    /// The standard policy without its toxicity rule. A classifier scores
    /// the window it is given, and a window of a long answer can score
    /// differently from the whole (random filler words once scored 0.970 as
    /// an insult in a window and lower in full), so the chunking
    /// properties, which compare the stream with the text in one piece,
    /// hold for the pattern detectors and are checked on those.
    fn patterns_only() -> Arc<CompiledPolicy> {
        static POLICY: OnceLock<Arc<CompiledPolicy>> = OnceLock::new();
        POLICY
            .get_or_init(|| {
                let mut config = PolicyConfig::standard();
                config
                    .output
                    .retain(|r| !r.kinds.contains(&palisade_detect::Kind::Toxicity));
                Arc::new(CompiledPolicy::new(config).unwrap())
            })
            .clone()
    }

    fn session_with(
        policy: Arc<CompiledPolicy>,
        restore: Vec<(String, String)>,
    ) -> Arc<OutputSession> {
        Arc::new(OutputSession {
            policy,
            canary: None,
            restore,
            request_id: "req_test".into(),
        })
    }

    fn pattern_session() -> Arc<OutputSession> {
        session_with(patterns_only(), Vec::new())
    }

    fn session(restore: Vec<(String, String)>) -> Arc<OutputSession> {
        session_with(standard(), restore)
    }

    fn chunk_event(piece: &str) -> SseEvent {
        SseEvent::data(
            json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]})
            .to_string(),
        )
    }

    /// Streams `text` cut at `cuts` through a guard; returns the raw bytes
    /// the client would get.
    fn run(session: Arc<OutputSession>, text: &str, cuts: &[usize]) -> String {
        let mut guard = StreamGuard::new(session);
        let mut out = BytesMut::new();
        let mut at = 0;
        let mut points: Vec<usize> = cuts
            .iter()
            .map(|c| c % (text.len() + 1))
            .filter(|c| text.is_char_boundary(*c))
            .collect();
        points.sort_unstable();
        points.push(text.len());
        for p in points {
            if p <= at {
                continue;
            }
            if guard.on_event(chunk_event(&text[at..p]), &mut out) == Flow::Stop {
                return String::from_utf8(out.to_vec()).unwrap();
            }
            at = p;
        }
        let end = SseEvent::data(
            json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            .to_string(),
        );
        guard.on_event(end, &mut out);
        guard.on_event(SseEvent::data("[DONE]"), &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    /// The answer text as a client re-assembles it from the events.
    fn content_of(raw: &str) -> String {
        let mut parser = SseParser::new(1 << 20);
        parser.push(raw.as_bytes());
        let mut text = String::new();
        while let Some(e) = parser.next_event().unwrap() {
            if let Ok(v) = serde_json::from_str::<Value>(&e.data)
                && let Some(s) = v
                    .pointer("/choices/0/delta/content")
                    .and_then(Value::as_str)
            {
                text.push_str(s);
            }
        }
        text
    }

    const VALUES: &[&str] = &[
        "ghp_R8mK2pQ9xL4vN7wT1yH6jB3cF5gD0sA2eZ8u",
        "chan.taiman@example.com",
        "4111 1111 1111 1111",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4iLCJyb2xlcyI6WyJhZG1pbiIsImJpbGxpbmciLCJzdXBwb3J0IiwiYXVkaXQiXSwidGVuYW50IjoiZXhhbXBsZS1iYW5rLWhrIiwic2NvcGUiOiJyZWFkIHdyaXRlIGRlbGV0ZSIsImlhdCI6MTUxNjIzOTAyMn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "Flat B, 12/F, 88 Nathan Road, Tsim Sha Tsui, Kowloon",
        "AKIAZ3MHQ7RTYW2XK4PB",
        "+852 9123 4567",
    ];

    /// Found by the chunking property in CI: an address whose tail ran
    /// into a card number. Releasing up to the card left the address
    /// straddling the release point unnoticed, and the first half went
    /// out in clear; in one piece, the address won and twelve card digits
    /// went out. Both must be rewritten whole.
    #[test]
    fn an_address_running_into_a_card_number_is_redacted_whole() {
        let filler =
            "a aaaaa aa aaaaaaa aaaaaaaaa aaaaa aaaaaa aaaaaaa aaaaaaaa aaa lpktgzho rwqclp bb vsl";
        let text = format!("{filler} {} {} {}", VALUES[4], VALUES[2], VALUES[3]);
        let cuts = [
            1805, 1088, 535, 910, 1854, 2030, 218, 3352, 3264, 3887, 1826, 1268, 1663, 2629, 1600,
            844, 2308, 3584, 230, 1313, 824, 1345, 3385, 3248, 764, 1316, 1118, 977, 2358, 745, 48,
            2077, 3730, 1587, 2193, 1315, 3304, 1100, 1818, 1159, 929, 195, 3257, 3512, 1770, 2405,
            618, 586, 1892, 4069, 3799, 3199, 3779, 1330, 3462, 3028, 1465, 3509, 2, 3356, 1434,
            1423, 1163, 380, 115, 2494, 3715, 2382, 1707, 2288,
        ];
        for cuts in [&cuts[..], &[]] {
            let seen = content_of(&run(session(Vec::new()), &text, cuts));
            assert_eq!(
                seen,
                format!("{filler} [REDACTED_ADDRESS] [REDACTED_CREDIT_CARD] [REDACTED_SECRET]")
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// For any chunking, the text the client re-assembles never
        /// contains a value the policy redacts or blocks in the unchunked
        /// text, not even its first half.
        #[test]
        fn no_chunking_leaks_a_detected_value(
            words in proptest::collection::vec("[a-z]{1,9}", 5..60),
            picks in proptest::collection::vec((0usize..VALUES.len(), 0usize..60), 1..4),
            cuts in proptest::collection::vec(0usize..4096, 0..80),
        ) {
            let mut parts: Vec<String> = words;
            for (v, at) in &picks {
                let at = (*at).min(parts.len());
                parts.insert(at, VALUES[*v].to_owned());
            }
            let text = parts.join(" ");
            let policy = patterns_only();
            let sensitive: Vec<String> = policy
                .output
                .evaluate(&text, None)
                .into_iter()
                .filter(|h| h.action.rewrites() || h.action.stops())
                .map(|h| text[h.start..h.end].to_owned())
                .collect();
            prop_assume!(!sensitive.is_empty());
            let raw = run(pattern_session(), &text, &cuts);
            let seen = content_of(&raw);
            for value in &sensitive {
                let half = &value[..value.len() / 2 + 1];
                prop_assert!(!seen.contains(half), "{value:?} leaked in {seen:?}");
                prop_assert!(!raw.contains(value.as_str()));
                // Nor any 8-byte piece with a digit in it (the filler words
                // have none), so no part of a number or an address leaks.
                for i in 0..value.len().saturating_sub(8) {
                    let piece = value.get(i..i + 8).unwrap_or("");
                    if piece.bytes().any(|b| b.is_ascii_digit()) {
                        prop_assert!(!seen.contains(piece), "{piece:?} of {value:?} leaked in {seen:?}");
                    }
                }
            }
            prop_assert!(raw.ends_with("data: [DONE]\n\n"));
        }

        /// Text with nothing to find comes out unchanged whatever the chunking.
        #[test]
        fn clean_text_passes_through_unchanged(
            words in proptest::collection::vec("[a-z]{1,9}", 1..80),
            cuts in proptest::collection::vec(0usize..2048, 0..40),
        ) {
            let text = words.join(" ");
            prop_assume!(patterns_only().output.evaluate(&text, None).is_empty());
            let raw = run(pattern_session(), &text, &cuts);
            prop_assert_eq!(content_of(&raw), text);
        }

        /// Placeholders split anywhere are restored whole.
        #[test]
        fn placeholders_are_restored_across_any_split(
            cuts in proptest::collection::vec(0usize..200, 0..30),
        ) {
            let text = "Dear <PERSON_1>, we wrote to <EMAIL_1> and <EMAIL_12> today.";
            let restore = vec![
                ("<PERSON_1>".to_owned(), "Ms Wong".to_owned()),
                ("<EMAIL_1>".to_owned(), "wong@example.com".to_owned()),
                ("<EMAIL_12>".to_owned(), "w2@example.com".to_owned()),
            ];
            // The restored values are the user's own data: they are put
            // back after the output scan, so they are not redacted again.
            let raw = run(session(restore), text, &cuts);
            prop_assert_eq!(
                content_of(&raw),
                "Dear Ms Wong, we wrote to wong@example.com and w2@example.com today."
            );
        }
    }

    #[test]
    fn streamed_tool_call_arguments_are_guarded_and_flushed_at_finish() {
        let args = format!("{{\"repo\": \"acme/api\", \"token\": \"{}\"}}", VALUES[0]);
        let mut guard = StreamGuard::new(session(Vec::new()));
        let mut out = BytesMut::new();
        let mut at = 0;
        while at < args.len() {
            let end = (at + 5).min(args.len());
            let event = SseEvent::data(
                json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                    "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": &args[at..end]}}]}, "finish_reason": null}]})
                .to_string(),
            );
            assert_eq!(guard.on_event(event, &mut out), Flow::Continue);
            at = end;
        }
        let finish = SseEvent::data(
            json!({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
            .to_string(),
        );
        guard.on_event(finish, &mut out);
        guard.on_event(SseEvent::data("[DONE]"), &mut out);
        let raw = String::from_utf8(out.to_vec()).unwrap();
        let mut parser = SseParser::new(1 << 20);
        parser.push(raw.as_bytes());
        let mut assembled = String::new();
        while let Some(e) = parser.next_event().unwrap() {
            if let Ok(v) = serde_json::from_str::<Value>(&e.data)
                && let Some(a) = v
                    .pointer("/choices/0/delta/tool_calls/0/function/arguments")
                    .and_then(Value::as_str)
            {
                assembled.push_str(a);
            }
        }
        assert_eq!(
            assembled,
            "{\"repo\": \"acme/api\", \"token\": \"[REDACTED_SECRET]\"}"
        );
        assert!(raw.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn the_release_point_never_splits_a_token_within_the_engine_bound() {
        let hold = HoldBack {
            words: 4,
            run: 1024,
        };
        assert_eq!(hold.cut("aaa bbb ccc"), 7);
        assert_eq!(hold.cut("abc"), 0);
        let token = format!("hello {}", "x".repeat(500));
        assert_eq!(hold.cut(&token), 6, "the whole run is held");
        let blob = format!("hi {}", "x".repeat(2000));
        assert_eq!(
            hold.cut(&blob),
            blob.len() - 1024,
            "but never more than the bound"
        );
        let wide = "日本語 テキスト ですね";
        let cut = HoldBack { words: 5, run: 64 }.cut(wide);
        assert!(wide.is_char_boundary(cut));
    }

    #[test]
    fn a_block_ends_the_stream_with_an_error_event_and_done() {
        let canary = palisade_detect::Canary::generate().unwrap();
        let session = Arc::new(OutputSession {
            policy: standard(),
            canary: Some(canary.clone()),
            restore: Vec::new(),
            request_id: "req_x".into(),
        });
        let text = format!("the secret marker is {} ok", canary.as_str());
        let raw = run(session, &text, &[3, 9, 22, 25, 30]);
        assert!(!content_of(&raw).contains(&canary.as_str()[..6]));
        assert!(raw.contains("\"code\":\"policy_blocked\""), "{raw}");
        assert!(raw.ends_with("data: [DONE]\n\n"));
    }
}
