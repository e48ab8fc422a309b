//! Counting, bounded reader shared by the parsers.

use std::io::{self, BufRead, Read};

/// A buffered reader that counts the bytes consumed, so every parser can
/// report byte offsets, and skips large payloads without keeping them.
pub struct Input<R> {
    inner: R,
    pos: u64,
}

impl<R: BufRead> Input<R> {
    /// Wraps a reader whose first byte is at `start` in the enclosing stream.
    pub fn new(inner: R, start: u64) -> Self {
        Input { inner, pos: start }
    }

    /// Offset of the next byte to be read.
    pub fn pos(&self) -> u64 {
        self.pos
    }

    /// Reads one byte; `None` at end of stream.
    pub fn byte(&mut self) -> io::Result<Option<u8>> {
        let buf = self.inner.fill_buf()?;
        match buf.first() {
            Some(&b) => {
                self.inner.consume(1);
                self.pos += 1;
                Ok(Some(b))
            }
            None => Ok(None),
        }
    }

    /// Looks at the next bytes without consuming them (may return fewer).
    pub fn peek(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    /// Fills `buf` completely or fails with `UnexpectedEof`.
    pub fn exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_exact(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    /// Reads `n` bytes into a new vector (caller bounds `n`).
    pub fn take_vec(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        let got = (&mut self.inner).take(n as u64).read_to_end(&mut v)?;
        self.pos += got as u64;
        if got < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "stream ended inside a value",
            ));
        }
        Ok(v)
    }

    /// Discards exactly `n` bytes, in bounded chunks.
    pub fn skip(&mut self, n: u64) -> io::Result<()> {
        let got = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        self.pos += got;
        if got < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "stream ended inside a value",
            ));
        }
        Ok(())
    }

    /// Reads a `\n`-terminated line (without the newline), keeping at most
    /// `keep` bytes; `Ok(None)` if the stream ends before the newline.
    pub fn line(&mut self, keep: usize) -> io::Result<Option<(Vec<u8>, bool)>> {
        let mut out = Vec::with_capacity(32);
        let mut truncated = false;
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(None);
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            let room = keep.saturating_sub(out.len());
            if chunk.len() > room {
                truncated = true;
            }
            out.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = done.unwrap_or(buf.len());
            self.inner.consume(used);
            self.pos += used as u64;
            if done.is_some() {
                return Ok(Some((out, truncated)));
            }
        }
    }
}

impl<R: BufRead> Read for Input<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}
