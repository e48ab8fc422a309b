//! Streaming redaction for output guards (issue 5): feed chunks of a
//! streamed model response, get back the part that is safe to release.
//!
//! The redactor keeps the last [`Scanner::hold_back`] bytes unreleased, so a
//! value split across chunks is still seen whole, and it rescans a short
//! stretch of already released text as left context, so a context word just
//! before the boundary still counts. A finding that straddles the release
//! point moves the point back to the finding's start.
//!
//! Placeholder numbers (`<EMAIL_1>`) restart in each released segment; use
//! the pseudonym or tokenize operators when numbering must be stable across
//! a whole stream.

use std::sync::Arc;

use crate::engine::Scanner;
use crate::operators::{Operator, anonymize};
use crate::{Error, Finding};

/// Bytes of released original text kept as left context for the next scan.
const LEFT_CONTEXT: usize = 96;

/// Incremental redactor over a stream of text chunks.
#[derive(Debug)]
pub struct StreamRedactor {
    scanner: Arc<Scanner>,
    operator: Operator,
    /// Original text already released, last few bytes only (left context).
    context: String,
    /// Original text not yet released.
    pending: String,
    /// Every finding released so far (offsets into the whole stream).
    findings: Vec<Finding>,
    /// Bytes of original text released so far.
    released: usize,
}

impl StreamRedactor {
    /// A redactor that replaces findings with `operator`.
    pub fn new(scanner: Arc<Scanner>, operator: Operator) -> StreamRedactor {
        StreamRedactor {
            scanner,
            operator,
            context: String::new(),
            pending: String::new(),
            findings: Vec::new(),
            released: 0,
        }
    }

    /// Adds a chunk; returns the safe text that can be sent now (possibly empty).
    pub fn push(&mut self, chunk: &str) -> Result<String, Error> {
        self.pending.push_str(chunk);
        let hold = self.scanner.hold_back();
        if self.pending.len() <= hold {
            return Ok(String::new());
        }
        let mut cut = self.pending.len() - hold;
        while !self.pending.is_char_boundary(cut) {
            cut -= 1;
        }
        self.release(cut)
    }

    /// Ends the stream; returns the remaining safe text.
    pub fn finish(&mut self) -> Result<String, Error> {
        let n = self.pending.len();
        self.release(n)
    }

    /// Findings released so far, with byte offsets into the whole stream.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    fn release(&mut self, mut cut: usize) -> Result<String, Error> {
        let ctx = self.context.len();
        let window = format!("{}{}", self.context, self.pending);
        let all = self.scanner.scan(&window);
        // Findings inside the pending part, in pending offsets.
        let mut local: Vec<Finding> = Vec::new();
        for f in all {
            if f.end <= ctx {
                continue;
            }
            let mut g = f;
            g.start = g.start.saturating_sub(ctx);
            g.end -= ctx;
            if g.start < cut && g.end > cut && !g.kind.is_verdict() {
                // Straddles the release point: keep it for the next round.
                cut = g.start;
            }
            local.push(g);
        }
        local.retain(|f| f.end <= cut);
        let out = anonymize(&self.pending[..cut], &local, &self.operator)?;
        for mut f in local {
            f.start += self.released;
            f.end += self.released;
            self.findings.push(f);
        }
        self.released += cut;
        let released_text: String = self.pending.drain(..cut).collect();
        self.context.push_str(&released_text);
        if self.context.len() > LEFT_CONTEXT {
            let mut from = self.context.len() - LEFT_CONTEXT;
            while !self.context.is_char_boundary(from) {
                from += 1;
            }
            self.context.drain(..from);
        }
        Ok(out.text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Config;

    #[test]
    fn split_values_are_redacted() {
        let scanner = Arc::new(Scanner::new(Config::default()).unwrap());
        let filler = "lorem ipsum dolor sit amet ".repeat(60);
        let text =
            format!("{filler}card 4111 1111 1111 1111 and mail chan.taiman@example.com {filler}");
        let mut r = StreamRedactor::new(scanner, Operator::Redact);
        let mut out = String::new();
        for chunk in text.as_bytes().chunks(7) {
            out.push_str(&r.push(std::str::from_utf8(chunk).unwrap()).unwrap());
        }
        out.push_str(&r.finish().unwrap());
        assert!(!out.contains("4111 1111 1111 1111"), "{out}");
        assert!(!out.contains("chan.taiman@example.com"));
        assert_eq!(r.findings().len(), 2);
        let card = &r.findings()[0];
        assert_eq!(&text[card.start..card.end], "4111 1111 1111 1111");
    }
}
