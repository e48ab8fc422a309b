//! Incremental server-sent-events parser and writer.
//!
//! Upstream streams arrive in arbitrary chunks: an event, a line, even a
//! `\r\n` pair may be split between two reads. [`SseParser`] accepts bytes
//! as they come and yields complete events, following the WHATWG
//! `text/event-stream` rules (LF, CRLF or CR line ends; `data` lines joined
//! with `\n`; comments ignored; one optional space after the colon; a leading
//! BOM dropped). Memory is bounded: a line or event larger than the limit is an
//! error, not an allocation.
//!
//! Reference: <https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>

use bytes::{BufMut, Bytes, BytesMut};

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` type, when the stream named one.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, when present.
    pub id: Option<String>,
}

impl SseEvent {
    /// An event carrying only data.
    pub fn data(data: impl Into<String>) -> Self {
        SseEvent {
            event: None,
            data: data.into(),
            id: None,
        }
    }

    /// Whether this is OpenAI's end-of-stream marker `data: [DONE]`.
    pub fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }

    /// Writes the event in canonical framing (`field: value\n` lines, blank line).
    pub fn write_to(&self, out: &mut BytesMut) {
        if let Some(event) = &self.event {
            out.put_slice(b"event: ");
            out.put_slice(event.as_bytes());
            out.put_u8(b'\n');
        }
        if let Some(id) = &self.id {
            out.put_slice(b"id: ");
            out.put_slice(id.as_bytes());
            out.put_u8(b'\n');
        }
        for line in self.data.split('\n') {
            out.put_slice(b"data: ");
            out.put_slice(line.as_bytes());
            out.put_u8(b'\n');
        }
        out.put_u8(b'\n');
    }

    /// The event as framed bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.data.len() + 16);
        self.write_to(&mut out);
        out.freeze()
    }
}

/// Why a stream could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line or an event grew past the limit.
    #[error("server-sent event larger than {0} bytes")]
    TooLarge(usize),
    /// An event's text is not UTF-8.
    #[error("server-sent event is not valid UTF-8")]
    InvalidUtf8,
}

/// Incremental parser. Feed bytes with [`SseParser::push`], take events with
/// [`SseParser::next_event`], and call [`SseParser::finish`] at end of stream.
#[derive(Debug)]
pub struct SseParser {
    buffer: BytesMut,
    /// Bytes of `buffer` already known to hold no line end.
    scanned: usize,
    /// The previous chunk ended in `\r`; a `\n` at the start of the next is
    /// part of the same line end.
    skip_lf: bool,
    at_start: bool,
    max_event_bytes: usize,
    data: Vec<u8>,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
}

impl SseParser {
    /// A parser that rejects lines and events larger than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        SseParser {
            buffer: BytesMut::new(),
            scanned: 0,
            skip_lf: false,
            at_start: true,
            max_event_bytes,
            data: Vec::new(),
            has_data: false,
            event: None,
            id: None,
        }
    }

    /// Adds bytes received from the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    /// Whether bytes of an unfinished line or event are pending.
    pub fn has_partial(&self) -> bool {
        !self.buffer.is_empty() || self.has_data || self.event.is_some()
    }

    /// The next complete event, if the bytes pushed so far hold one.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, SseError> {
        loop {
            if self.skip_lf && !self.buffer.is_empty() {
                if self.buffer[0] == b'\n' {
                    let _ = self.buffer.split_to(1);
                }
                self.skip_lf = false;
            }
            if self.at_start {
                if self.buffer.len() < 3
                    && b"\xEF\xBB\xBF".starts_with(&self.buffer)
                    && !self.buffer.is_empty()
                {
                    return Ok(None);
                }
                // Only one BOM is ever dropped, however the bytes were split.
                if self.buffer.starts_with(b"\xEF\xBB\xBF") {
                    let _ = self.buffer.split_to(3);
                    self.at_start = false;
                } else if !self.buffer.is_empty() {
                    self.at_start = false;
                }
            }
            let Some(pos) = self.buffer[self.scanned..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
            else {
                self.scanned = self.buffer.len();
                if self.buffer.len() > self.max_event_bytes {
                    return Err(SseError::TooLarge(self.max_event_bytes));
                }
                return Ok(None);
            };
            let end = self.scanned + pos;
            let line = self.buffer.split_to(end);
            let terminator = self.buffer.split_to(1);
            self.scanned = 0;
            if terminator[0] == b'\r' {
                if self.buffer.is_empty() {
                    self.skip_lf = true;
                } else if self.buffer[0] == b'\n' {
                    let _ = self.buffer.split_to(1);
                }
            }
            if let Some(event) = self.process_line(&line)? {
                return Ok(Some(event));
            }
        }
    }

    /// Ends the stream. Per the standard an event without its terminating
    /// blank line is discarded; this returns whether such a fragment existed,
    /// so callers can tell a truncated stream from a clean end.
    pub fn finish(&mut self) -> bool {
        let truncated = self.has_partial();
        self.buffer.clear();
        self.reset_event();
        truncated
    }

    fn reset_event(&mut self) {
        self.data.clear();
        self.has_data = false;
        self.event = None;
    }

    fn process_line(&mut self, line: &[u8]) -> Result<Option<SseEvent>, SseError> {
        if line.is_empty() {
            if !self.has_data {
                self.event = None;
                return Ok(None);
            }
            if self.data.last() == Some(&b'\n') {
                self.data.pop();
            }
            let data = String::from_utf8(std::mem::take(&mut self.data))
                .map_err(|_| SseError::InvalidUtf8)?;
            let event = SseEvent {
                event: self.event.take(),
                data,
                id: self.id.clone(),
            };
            self.has_data = false;
            return Ok(Some(event));
        }
        if line[0] == b':' {
            return Ok(None);
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.data.len() + value.len() + 1 > self.max_event_bytes {
                    return Err(SseError::TooLarge(self.max_event_bytes));
                }
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
                self.has_data = true;
            }
            b"event" => {
                self.event =
                    Some(String::from_utf8(value.to_vec()).map_err(|_| SseError::InvalidUtf8)?);
            }
            b"id" if !value.contains(&0) => {
                self.id =
                    Some(String::from_utf8(value.to_vec()).map_err(|_| SseError::InvalidUtf8)?);
            }
            // `retry` and unknown fields do not concern a relay.
            _ => {}
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new(1 << 20);
        let mut out = Vec::new();
        for c in chunks {
            p.push(c);
            while let Some(e) = p.next_event().unwrap() {
                out.push(e);
            }
        }
        out
    }

    #[test]
    fn parses_openai_style_stream() {
        let events = parse_all(&[b"data: {\"a\":1}\n\ndata: [DONE]\n\n"]);
        assert_eq!(
            events,
            vec![SseEvent::data("{\"a\":1}"), SseEvent::data("[DONE]")]
        );
        assert!(events[1].is_done());
    }

    #[test]
    fn handles_all_line_endings_split_anywhere() {
        let events = parse_all(&[
            b"data: a\r",
            b"\ndata: b\r",
            b"\r",
            b"event: x\rdata:c\n",
            b"\n",
        ]);
        assert_eq!(events[0].data, "a\nb");
        assert_eq!(
            events[1],
            SseEvent {
                event: Some("x".into()),
                data: "c".into(),
                id: None
            }
        );
    }

    #[test]
    fn ignores_comments_bom_and_dataless_events() {
        let events = parse_all(&[
            b"\xEF\xBB",
            b"\xBF: keep-alive\n\nevent: ping\n\ndata: x\n\n",
        ]);
        assert_eq!(events, vec![SseEvent::data("x")]);
    }

    /// Found by the `gateway_sse` fuzz target: a BOM arriving alone in the
    /// first chunk let a second BOM be dropped too.
    #[test]
    fn only_the_first_bom_is_dropped_whatever_the_split() {
        let bytes = b"\xEF\xBB\xBF\xEF\xBB\xBFid: 1\ndata: x\n\n";
        let whole = parse_all(&[bytes]);
        let split = parse_all(&[&bytes[..3], &bytes[3..]]);
        assert_eq!(whole, split);
        assert_eq!(
            whole,
            vec![SseEvent::data("x")],
            "a BOM inside the stream is part of the field name"
        );
    }

    #[test]
    fn bounds_memory() {
        let mut p = SseParser::new(16);
        p.push(&[b'a'; 64]);
        assert_eq!(p.next_event(), Err(SseError::TooLarge(16)));
        let mut p = SseParser::new(16);
        p.push(b"data: 0123456789\ndata: 0123456789\n");
        assert_eq!(p.next_event(), Err(SseError::TooLarge(16)));
    }

    #[test]
    fn reports_truncation() {
        let mut p = SseParser::new(1024);
        p.push(b"data: half");
        assert_eq!(p.next_event(), Ok(None));
        assert!(p.finish());
        let mut p = SseParser::new(1024);
        p.push(b"data: whole\n\n");
        assert!(p.next_event().unwrap().is_some());
        assert!(!p.finish());
    }

    fn event_strategy() -> impl Strategy<Value = SseEvent> {
        (
            proptest::option::of("[a-z]{1,8}"),
            proptest::collection::vec("[^\r\n]{0,20}", 1..4),
            proptest::option::of("[a-z0-9]{1,6}"),
        )
            .prop_map(|(event, lines, id)| SseEvent {
                event,
                data: lines.join("\n"),
                id,
            })
    }

    proptest! {
        /// Any chunking of a valid event stream re-assembles to the same events.
        #[test]
        fn any_chunking_yields_the_same_events(
            events in proptest::collection::vec(event_strategy(), 0..8),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..16),
            crlf in any::<bool>(),
        ) {
            let mut wire = BytesMut::new();
            // `id` persists across events per the standard; give each event
            // an explicit id state so the expectation is simple.
            let mut expected = Vec::new();
            let mut last_id: Option<String> = None;
            for e in &events {
                e.write_to(&mut wire);
                if e.id.is_some() { last_id = e.id.clone(); }
                expected.push(SseEvent { id: last_id.clone(), ..e.clone() });
            }
            let mut wire = wire.to_vec();
            if crlf {
                let text = String::from_utf8(wire).unwrap();
                wire = text.replace('\n', "\r\n").into_bytes();
            }
            let mut positions: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
            positions.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for p in positions { chunks.push(&wire[start..p]); start = p; }
            chunks.push(&wire[start..]);
            let got = parse_all(&chunks);
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1024), split in any::<prop::sample::Index>()) {
            let mut p = SseParser::new(256);
            let at = split.index(bytes.len() + 1);
            for chunk in [&bytes[..at], &bytes[at..]] {
                p.push(chunk);
                while let Ok(Some(_)) = p.next_event() {}
            }
            let _ = p.finish();
        }
    }
}
