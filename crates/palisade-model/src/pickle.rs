//! An opcode-level simulation of the pickle machine (protocols 0–5).
//!
//! The walker keeps the same state CPython's unpickler keeps — the value
//! stack, the mark stack and the memo — but its values are *descriptions*
//! (a string, an imported global, "an object made by calling import #3"),
//! never live objects: nothing is imported, constructed or executed. It
//! records every import a real load would perform (`GLOBAL`, `INST`,
//! `STACK_GLOBAL`, `EXT1/2/4`), including names assembled on the stack or
//! fetched from the memo, and every call (`REDUCE`, `OBJ`, `NEWOBJ`, `INST`).
//!
//! Bounded memory: strings longer than [`Limits::max_string`] are kept only as
//! "long string" markers, byte payloads are skipped in chunks, and the stack
//! and memo sizes are capped. Payloads that look like a pickle themselves are
//! walked recursively (up to [`Limits::max_nested_depth`]).
//!
//! Opcode semantics follow CPython's `Lib/pickle.py` / `Modules/_pickle.c`
//! and the descriptions in `Lib/pickletools.py`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::BufRead;
use std::rc::Rc;

use serde::Serialize;

use crate::io::Input;
use crate::policy::{self, Verdict};
use crate::{Error, Result};

/// Resource bounds for one walk.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest value stack allowed.
    pub max_stack: usize,
    /// Largest number of memo entries.
    pub max_memo: usize,
    /// Strings longer than this are not kept (they can still be skipped).
    pub max_string: usize,
    /// Largest byte payload buffered to look for an embedded pickle.
    pub max_nested_bytes: usize,
    /// How deep embedded pickles are followed.
    pub max_nested_depth: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stack: 1 << 20,
            max_memo: 1 << 22,
            max_string: 4096,
            max_nested_bytes: 16 << 20,
            max_nested_depth: 4,
        }
    }
}

/// Which opcode produced an import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportOp {
    /// `c` (protocol 0+): module and name as text lines.
    Global,
    /// `i` (protocol 0+): import and instantiate.
    Inst,
    /// `\x93` (protocol 4+): module and name taken from the stack.
    StackGlobal,
    /// `\x82..\x84`: an extension-registry code.
    Ext,
}

/// One import the pickle performs when loaded.
#[derive(Debug, Clone, Serialize)]
pub struct Import {
    /// Module, as written in the pickle (before Python 2 renames).
    pub module: String,
    /// Attribute name (may be dotted).
    pub name: String,
    /// Offset of the opcode that imports it.
    pub offset: u64,
    /// Opcode kind.
    pub op: ImportOp,
    /// Whether the pickle also calls it (`REDUCE`, `OBJ`, `NEWOBJ`, `INST`).
    pub called: bool,
    /// Nesting depth: 0 for the pickle itself, 1+ for pickles inside byte strings.
    pub depth: u32,
}

impl Import {
    /// `module.name`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.module, self.name)
    }

    /// The policy verdict for this import.
    pub fn verdict(&self) -> Verdict {
        match self.op {
            ImportOp::Ext => {
                Verdict::Dangerous("extension-registry import that cannot be resolved statically")
            }
            _ if self.module.is_empty()
                || self.name.is_empty()
                || self.module == COMPUTED
                || self.name == COMPUTED =>
            {
                Verdict::Dangerous("import whose name is computed at load time or empty")
            }
            _ => policy::classify(&self.module, &self.name),
        }
    }
}

/// Something unusual the walker saw that is not an import.
#[derive(Debug, Clone, Serialize)]
pub struct Oddity {
    /// Short identifier, e.g. `build_on_global`.
    pub kind: &'static str,
    /// Offset of the opcode.
    pub offset: u64,
    /// Explanation.
    pub detail: String,
}

/// What one walk of one pickle found.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    /// Protocol from the `PROTO` opcode (0 if absent).
    pub protocol: u8,
    /// Every import, in stream order (one entry per distinct module/name).
    pub imports: Vec<Import>,
    /// Unusual constructs.
    pub oddities: Vec<Oddity>,
    /// Offset just past `STOP` (or where parsing stopped).
    pub end: u64,
    /// Number of opcodes executed.
    pub ops: u64,
    /// Why the walk stopped early; imports above remain valid (fail closed).
    #[serde(skip)]
    pub error: Option<Error>,
}

/// Placeholder for an import name that is only known at load time.
pub const COMPUTED: &str = "<computed>";

/// Containers keep at most this many items; larger ones become opaque.
const SMALL: usize = 64;

/// Tracked containers nest at most this deep; deeper ones become opaque.
/// Without the bound, a pickle of a million nested `TUPLE1`s would build a
/// million-deep value whose recursive drop overflows the stack.
const MAX_NESTING: u8 = 8;

/// Nesting depth of a tracked value (dicts hold only shallow values).
fn nesting(v: &Value) -> u8 {
    match v {
        Value::Tuple(_, d) => *d,
        Value::Dict(_) => 3,
        _ => 0,
    }
}

#[derive(Debug, Clone)]
enum Value {
    Str(Rc<str>),
    LongStr,
    Bytes,
    Global(usize),
    /// Result of calling an import (if known), with its first argument when
    /// that is a string (`numpy.dtype('f8')`).
    Called(Option<usize>, Option<Rc<str>>),
    Int(i64),
    Scalar,
    /// A tuple and its nesting depth (bounded by [`MAX_NESTING`], so dropping
    /// nested values can never recurse deeply).
    Tuple(Rc<[Value]>, u8),
    /// A dict whose first [`SMALL`] items are tracked (shared, like the real
    /// object, so SETITEMS through a memo reference is seen).
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    Container,
    PersId,
}

/// Whether a byte is a pickle opcode (any protocol).
pub fn is_opcode(b: u8) -> bool {
    matches!(
        b,
        b'(' | b'.'
            | b'0'
            | b'1'
            | b'2'
            | b'F'
            | b'I'
            | b'J'
            | b'K'
            | b'L'
            | b'M'
            | b'N'
            | b'P'
            | b'Q'
            | b'R'
            | b'S'
            | b'T'
            | b'U'
            | b'V'
            | b'X'
            | b'a'
            | b'b'
            | b'c'
            | b'd'
            | b'}'
            | b'e'
            | b'g'
            | b'h'
            | b'i'
            | b'j'
            | b'l'
            | b']'
            | b'o'
            | b'p'
            | b'q'
            | b'r'
            | b's'
            | b't'
            | b')'
            | b'u'
            | b'G'
            | b'B'
            | b'C'
            | 0x80..=0x98
    )
}

/// Whether `head` plausibly starts a binary (protocol 2+) pickle.
pub fn looks_like_binary_pickle(head: &[u8]) -> bool {
    matches!(head, [0x80, 2..=5, next, ..] if is_opcode(*next))
}

/// Keys below this are kept in a vector (pickles number their memo
/// entries densely from 0); larger ones in a map. Bounds the vector to
/// `DENSE_MEMO` slots whatever key a crafted PUT uses.
const DENSE_MEMO: u64 = 1 << 18;

/// The memo: dense keys in a vector, the rest in a map.
#[derive(Default)]
struct Memo {
    dense: Vec<Option<Value>>,
    sparse: HashMap<u64, Value>,
    len: usize,
}

impl Memo {
    fn get(&self, key: u64) -> Option<&Value> {
        if key < DENSE_MEMO {
            self.dense.get(key as usize).and_then(Option::as_ref)
        } else {
            self.sparse.get(&key)
        }
    }

    fn insert(&mut self, key: u64, v: Value) {
        if key < DENSE_MEMO {
            let k = key as usize;
            if k >= self.dense.len() {
                self.dense.resize(k + 1, None);
            }
            if let Some(slot) = self.dense.get_mut(k) {
                if slot.is_none() {
                    self.len += 1;
                }
                *slot = Some(v);
            }
        } else if self.sparse.insert(key, v).is_none() {
            self.len += 1;
        }
    }

    fn len(&self) -> usize {
        self.len
    }
}

struct Machine<'l> {
    limits: &'l Limits,
    depth: u32,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: Memo,
    out: Outcome,
    seen: HashMap<(String, String), usize>,
}

fn bad(offset: u64, reason: impl Into<String>) -> Error {
    Error::malformed("pickle", offset, reason)
}

fn eof(e: std::io::Error, offset: u64) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        bad(offset, "truncated: stream ended inside an opcode")
    } else {
        Error::Read(e)
    }
}

/// Walks one pickle from `input` up to and including its `STOP` opcode.
///
/// Never fails outright: a parse error is returned in [`Outcome::error`]
/// together with every import seen before it.
pub fn walk<R: BufRead>(input: &mut Input<R>, limits: &Limits) -> Outcome {
    walk_at_depth(input, limits, 0)
}

/// Walks a pickle held in memory (for tests, fuzzing and embedded pickles).
pub fn walk_bytes(data: &[u8], limits: &Limits) -> Outcome {
    let mut input = Input::new(data, 0);
    walk(&mut input, limits)
}

fn walk_at_depth<R: BufRead>(input: &mut Input<R>, limits: &Limits, depth: u32) -> Outcome {
    let mut m = Machine {
        limits,
        depth,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Memo::default(),
        out: Outcome::default(),
        seen: HashMap::new(),
    };
    if let Err(e) = m.run(input) {
        m.out.error = Some(e);
    }
    m.out.end = input.pos();
    m.out
}

impl Machine<'_> {
    fn push(&mut self, v: Value, at: u64) -> Result<()> {
        if self.stack.len() >= self.limits.max_stack {
            return Err(Error::Limit(format!(
                "pickle stack deeper than {} at offset {at}",
                self.limits.max_stack
            )));
        }
        self.stack.push(v);
        Ok(())
    }

    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self, at: u64) -> Result<Value> {
        if self.stack.len() <= self.floor() {
            return Err(bad(at, "stack underflow"));
        }
        self.stack.pop().ok_or_else(|| bad(at, "stack underflow"))
    }

    fn top(&self, at: u64) -> Result<&Value> {
        if self.stack.len() <= self.floor() {
            return Err(bad(at, "stack underflow"));
        }
        self.stack.last().ok_or_else(|| bad(at, "stack underflow"))
    }

    fn pop_mark(&mut self, at: u64) -> Result<Vec<Value>> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| bad(at, "no MARK on the stack"))?;
        if mark > self.stack.len() {
            return Err(bad(at, "corrupt MARK"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn memo_put(&mut self, key: u64, at: u64) -> Result<()> {
        let v = self.top(at)?.clone();
        if self.memo.len() >= self.limits.max_memo && self.memo.get(key).is_none() {
            return Err(Error::Limit(format!(
                "pickle memo larger than {} entries at offset {at}",
                self.limits.max_memo
            )));
        }
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u64, at: u64) -> Result<()> {
        let v = self
            .memo
            .get(key)
            .cloned()
            .ok_or_else(|| bad(at, format!("memo key {key} not found")))?;
        self.push(v, at)
    }

    fn import(&mut self, module: String, name: String, at: u64, op: ImportOp) -> usize {
        // Most pickles import a handful of names many times: a linear scan
        // of a short list is cheaper than hashing every GLOBAL.
        if self.out.imports.len() <= 16
            && let Some(i) = self
                .out
                .imports
                .iter()
                .position(|imp| imp.module == module && imp.name == name)
        {
            return i;
        }
        let key = (module, name);
        if let Some(&i) = self.seen.get(&key) {
            return i;
        }
        let i = self.out.imports.len();
        self.out.imports.push(Import {
            module: key.0.clone(),
            name: key.1.clone(),
            offset: at,
            op,
            called: false,
            depth: self.depth,
        });
        self.seen.insert(key, i);
        i
    }

    fn call(&mut self, callable: &Value, args: Option<&Value>, at: u64) -> Value {
        let arg0 = match args {
            Some(Value::Tuple(t, _)) => match t.first() {
                Some(Value::Str(s)) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        };
        match callable {
            Value::Global(i) => {
                if let Some(imp) = self.out.imports.get_mut(*i) {
                    imp.called = true;
                }
                Value::Called(Some(*i), arg0)
            }
            Value::Called(..) | Value::PersId => Value::Called(None, None),
            other => {
                self.out.oddities.push(Oddity {
                    kind: "call_non_callable",
                    offset: at,
                    detail: format!("call of a {} value (fails on load)", kind_name(other)),
                });
                Value::Called(None, None)
            }
        }
    }

    fn text_line(&mut self, input: &mut Input<impl BufRead>, at: u64) -> Result<(Vec<u8>, bool)> {
        input
            .line(self.limits.max_string)?
            .ok_or_else(|| bad(at, "truncated: missing newline"))
    }

    fn name_line(&mut self, input: &mut Input<impl BufRead>, at: u64) -> Result<String> {
        let (line, truncated) = self.text_line(input, at)?;
        let s = String::from_utf8(line).map_err(|_| bad(at, "import name is not UTF-8"))?;
        if truncated {
            return Err(Error::Limit(format!(
                "import name longer than {} bytes at offset {at}",
                self.limits.max_string
            )));
        }
        Ok(s)
    }

    fn int_line(&mut self, input: &mut Input<impl BufRead>, at: u64) -> Result<i128> {
        let (line, _) = self.text_line(input, at)?;
        let s = std::str::from_utf8(&line).map_err(|_| bad(at, "integer is not ASCII"))?;
        let s = s.trim_end_matches('L').trim();
        s.parse::<i128>()
            .map_err(|_| bad(at, "invalid integer literal"))
    }

    fn sized(&mut self, input: &mut Input<impl BufRead>, width: usize, at: u64) -> Result<u64> {
        let mut buf = [0u8; 8];
        let slot = buf.get_mut(..width).ok_or_else(|| bad(at, "bad width"))?;
        input.exact(slot).map_err(|e| eof(e, at))?;
        Ok(u64::from_le_bytes(buf))
    }

    fn string_value(
        &mut self,
        input: &mut Input<impl BufRead>,
        len: u64,
        at: u64,
    ) -> Result<Value> {
        if len > self.limits.max_string as u64 {
            input.skip(len).map_err(|e| eof(e, at))?;
            return Ok(Value::LongStr);
        }
        let mut raw = vec![0u8; len as usize];
        input.exact(&mut raw).map_err(|e| eof(e, at))?;
        let s = String::from_utf8(raw).map_err(|_| bad(at, "string is not valid UTF-8"))?;
        Ok(Value::Str(Rc::from(s)))
    }

    fn bytes_value(&mut self, input: &mut Input<impl BufRead>, len: u64, at: u64) -> Result<Value> {
        let head = input.peek()?;
        let nested = len >= 3
            && len <= self.limits.max_nested_bytes as u64
            && self.depth < self.limits.max_nested_depth
            && head.len() >= 3
            && looks_like_binary_pickle(head);
        if !nested {
            input.skip(len).map_err(|e| eof(e, at))?;
            return Ok(Value::Bytes);
        }
        let start = input.pos();
        let data = input.take_vec(len as usize).map_err(|e| eof(e, at))?;
        let mut inner = Input::new(&data[..], start);
        let sub = walk_at_depth(&mut inner, self.limits, self.depth + 1);
        if sub.error.is_none() || !sub.imports.is_empty() {
            self.out.oddities.push(Oddity {
                kind: "embedded_pickle",
                offset: start,
                detail: format!(
                    "byte string at offset {start} holds a pickle with {} import(s)",
                    sub.imports.len()
                ),
            });
            for imp in sub.imports {
                let key = (imp.module.clone(), imp.name.clone());
                if !self.seen.contains_key(&key) {
                    self.seen.insert(key, self.out.imports.len());
                    self.out.imports.push(imp);
                }
            }
            self.out.oddities.extend(sub.oddities);
        }
        Ok(Value::Bytes)
    }

    fn run(&mut self, input: &mut Input<impl BufRead>) -> Result<()> {
        loop {
            let at = input.pos();
            let op = input.byte()?.ok_or_else(|| {
                if self.out.ops == 0 {
                    bad(at, "empty pickle")
                } else {
                    bad(at, "truncated: no STOP opcode")
                }
            })?;
            self.out.ops += 1;
            match op {
                b'.' => {
                    self.pop(at)?;
                    return Ok(());
                }
                0x80 => {
                    let mut b = [0u8];
                    input.exact(&mut b).map_err(|e| eof(e, at))?;
                    if b[0] > 5 {
                        return Err(bad(at, format!("unsupported pickle protocol {}", b[0])));
                    }
                    self.out.protocol = b[0];
                }
                0x95 => {
                    // FRAME: an 8-byte length; frames only group opcodes.
                    self.sized(input, 8, at)?;
                }
                b'(' => {
                    self.marks.push(self.stack.len());
                    if self.marks.len() > self.limits.max_stack {
                        return Err(Error::Limit(format!("too many MARKs at offset {at}")));
                    }
                }
                b'0' => {
                    if self.stack.len() > self.floor() {
                        self.stack.pop();
                    } else {
                        self.pop_mark(at)?;
                    }
                }
                b'1' => {
                    self.pop_mark(at)?;
                }
                b'2' => {
                    let v = self.top(at)?.clone();
                    self.push(v, at)?;
                }
                b'F' => {
                    let (line, _) = self.text_line(input, at)?;
                    let s = std::str::from_utf8(&line).map_err(|_| bad(at, "bad float"))?;
                    s.trim()
                        .parse::<f64>()
                        .map_err(|_| bad(at, "invalid float literal"))?;
                    self.push(Value::Scalar, at)?;
                }
                b'I' | b'L' => {
                    let v = self.int_line(input, at)?;
                    self.push(
                        i64::try_from(v).map(Value::Int).unwrap_or(Value::Scalar),
                        at,
                    )?;
                }
                b'J' => {
                    let v = self.sized(input, 4, at)? as u32 as i32;
                    self.push(Value::Int(i64::from(v)), at)?;
                }
                b'K' => {
                    let v = self.sized(input, 1, at)?;
                    self.push(Value::Int(v as i64), at)?;
                }
                b'M' => {
                    let v = self.sized(input, 2, at)?;
                    self.push(Value::Int(v as i64), at)?;
                }
                b'G' => {
                    self.sized(input, 8, at)?;
                    self.push(Value::Scalar, at)?;
                }
                0x8a => {
                    let n = self.sized(input, 1, at)?;
                    if (1..=8).contains(&n) {
                        let raw = input.take_vec(n as usize).map_err(|e| eof(e, at))?;
                        let mut b = [if raw.last().is_some_and(|&x| x & 0x80 != 0) {
                            0xff
                        } else {
                            0
                        }; 8];
                        b[..raw.len()].copy_from_slice(&raw);
                        self.push(Value::Int(i64::from_le_bytes(b)), at)?;
                    } else {
                        input.skip(n).map_err(|e| eof(e, at))?;
                        self.push(Value::Scalar, at)?;
                    }
                }
                0x8b => {
                    let n = self.sized(input, 4, at)? as u32 as i32;
                    if n < 0 {
                        return Err(bad(at, "LONG4 with negative length"));
                    }
                    input.skip(n as u64).map_err(|e| eof(e, at))?;
                    self.push(Value::Scalar, at)?;
                }
                b'N' | 0x88 | 0x89 => self.push(Value::Scalar, at)?,
                b'P' => {
                    self.text_line(input, at)?;
                    self.push(Value::PersId, at)?;
                }
                b'Q' => {
                    self.pop(at)?;
                    self.push(Value::PersId, at)?;
                }
                b'R' => {
                    let args = self.pop(at)?;
                    let f = self.pop(at)?;
                    let v = self.call(&f, Some(&args), at);
                    self.push(v, at)?;
                }
                b'S' => {
                    let (line, truncated) = self.text_line(input, at)?;
                    let v = if truncated {
                        Value::LongStr
                    } else {
                        Value::Str(Rc::from(unquote_string(&line).ok_or_else(|| {
                            bad(at, "the STRING opcode argument must be quoted")
                        })?))
                    };
                    self.push(v, at)?;
                }
                b'T' => {
                    let n = self.sized(input, 4, at)? as u32 as i32;
                    if n < 0 {
                        return Err(bad(at, "BINSTRING with negative length"));
                    }
                    let v = self.latin1_value(input, n as u64, at)?;
                    self.push(v, at)?;
                }
                b'U' => {
                    let n = self.sized(input, 1, at)?;
                    let v = self.latin1_value(input, n, at)?;
                    self.push(v, at)?;
                }
                b'V' => {
                    let (line, truncated) = self.text_line(input, at)?;
                    let v = if truncated {
                        Value::LongStr
                    } else {
                        Value::Str(Rc::from(
                            raw_unicode_escape(&line)
                                .ok_or_else(|| bad(at, "invalid raw-unicode-escape string"))?,
                        ))
                    };
                    self.push(v, at)?;
                }
                b'X' => {
                    let n = self.sized(input, 4, at)?;
                    let v = self.string_value(input, n, at)?;
                    self.push(v, at)?;
                }
                0x8c => {
                    let n = self.sized(input, 1, at)?;
                    let v = self.string_value(input, n, at)?;
                    self.push(v, at)?;
                }
                0x8d => {
                    let n = self.sized(input, 8, at)?;
                    let v = self.string_value(input, n, at)?;
                    self.push(v, at)?;
                }
                b'B' => {
                    let n = self.sized(input, 4, at)?;
                    let v = self.bytes_value(input, n, at)?;
                    self.push(v, at)?;
                }
                b'C' => {
                    let n = self.sized(input, 1, at)?;
                    let v = self.bytes_value(input, n, at)?;
                    self.push(v, at)?;
                }
                0x8e | 0x96 => {
                    let n = self.sized(input, 8, at)?;
                    let v = self.bytes_value(input, n, at)?;
                    self.push(v, at)?;
                }
                0x97 => {
                    self.out.oddities.push(Oddity {
                        kind: "out_of_band_buffer",
                        offset: at,
                        detail: "NEXT_BUFFER: refers to out-of-band data".into(),
                    });
                    self.push(Value::Bytes, at)?;
                }
                0x98 => {
                    self.top(at)?;
                }
                b'a' => {
                    self.pop(at)?;
                    self.top(at)?;
                }
                b'e' => {
                    self.pop_mark(at)?;
                    self.top(at)?;
                }
                b'b' => {
                    let state = self.pop(at)?;
                    if let Value::Called(Some(i), _) = self.top(at)? {
                        let is_wrapper = self.out.imports.get(*i).is_some_and(|imp| {
                            imp.module == "joblib.numpy_pickle" && imp.name == "NumpyArrayWrapper"
                        });
                        if is_wrapper {
                            self.joblib_array(input, &state, at)?;
                        }
                    }
                    if let Value::Global(i) = self.top(at)? {
                        let what = self
                            .out
                            .imports
                            .get(*i)
                            .map(Import::qualified)
                            .unwrap_or_default();
                        self.out.oddities.push(Oddity {
                            kind: "build_on_global",
                            offset: at,
                            detail: format!(
                                "BUILD sets state on the imported object {what} itself, changing module state"
                            ),
                        });
                    }
                }
                b'c' | b'i' => {
                    let module = self.name_line(input, at)?;
                    let name = self.name_line(input, at)?;
                    if op == b'c' {
                        let i = self.import(module, name, at, ImportOp::Global);
                        self.push(Value::Global(i), at)?;
                    } else {
                        let i = self.import(module, name, at, ImportOp::Inst);
                        self.pop_mark(at)?;
                        let v = self.call(&Value::Global(i), None, at);
                        self.push(v, at)?;
                    }
                }
                0x93 => {
                    let name = self.pop(at)?;
                    let module = self.pop(at)?;
                    let (m, n) = match (&module, &name) {
                        (Value::Str(m), Value::Str(n)) => (m.to_string(), n.to_string()),
                        _ => {
                            self.out.oddities.push(Oddity {
                                kind: "computed_import",
                                offset: at,
                                detail: format!(
                                    "STACK_GLOBAL with a {} module and a {} name: the import target is computed at load time",
                                    kind_name(&module),
                                    kind_name(&name)
                                ),
                            });
                            (name_or_placeholder(&module), name_or_placeholder(&name))
                        }
                    };
                    let i = self.import(m, n, at, ImportOp::StackGlobal);
                    self.push(Value::Global(i), at)?;
                }
                0x82..=0x84 => {
                    let width = match op {
                        0x82 => 1,
                        0x83 => 2,
                        _ => 4,
                    };
                    let code = self.sized(input, width, at)?;
                    if code == 0 {
                        return Err(bad(at, "EXT specifies code <= 0"));
                    }
                    let i = self.import(
                        "<extension>".to_string(),
                        code.to_string(),
                        at,
                        ImportOp::Ext,
                    );
                    self.push(Value::Global(i), at)?;
                }
                b't' => {
                    let items = self.pop_mark(at)?;
                    self.push(tuple(items), at)?;
                }
                b'd' => {
                    let items = self.pop_mark(at)?;
                    if items.len() % 2 != 0 {
                        return Err(bad(at, "DICT with an odd number of items"));
                    }
                    let d = Value::Dict(Rc::new(RefCell::new(Vec::new())));
                    add_items(&d, items);
                    self.push(d, at)?;
                }
                b'l' | 0x91 => {
                    self.pop_mark(at)?;
                    self.push(Value::Container, at)?;
                }
                b')' => self.push(Value::Tuple(Rc::from(Vec::new()), 1), at)?,
                b'}' => self.push(Value::Dict(Rc::new(RefCell::new(Vec::new()))), at)?,
                b']' | 0x8f => self.push(Value::Container, at)?,
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop(at)?);
                    }
                    items.reverse();
                    self.push(tuple(items), at)?;
                }
                b's' => {
                    let v = self.pop(at)?;
                    let k = self.pop(at)?;
                    add_items(self.top(at)?, vec![k, v]);
                }
                b'u' => {
                    let items = self.pop_mark(at)?;
                    if items.len() % 2 != 0 {
                        return Err(bad(at, "SETITEMS with an odd number of items"));
                    }
                    add_items(self.top(at)?, items);
                }
                0x90 => {
                    self.pop_mark(at)?;
                    self.top(at)?;
                }
                b'g' => {
                    let key = self.int_line(input, at)?;
                    self.memo_get(key as u64, at)?;
                }
                b'h' => {
                    let key = self.sized(input, 1, at)?;
                    self.memo_get(key, at)?;
                }
                b'j' => {
                    let key = self.sized(input, 4, at)?;
                    self.memo_get(key, at)?;
                }
                b'p' => {
                    let key = self.int_line(input, at)?;
                    if key < 0 {
                        return Err(bad(at, "negative PUT argument"));
                    }
                    self.memo_put(key as u64, at)?;
                }
                b'q' => {
                    let key = self.sized(input, 1, at)?;
                    self.memo_put(key, at)?;
                }
                b'r' => {
                    let key = self.sized(input, 4, at)?;
                    self.memo_put(key, at)?;
                }
                0x94 => {
                    let key = self.memo.len() as u64;
                    self.memo_put(key, at)?;
                }
                b'o' => {
                    let mut items = self.pop_mark(at)?;
                    if items.is_empty() {
                        return Err(bad(at, "OBJ without a class"));
                    }
                    let cls = items.remove(0);
                    let v = self.call(&cls, Some(&tuple(items)), at);
                    self.push(v, at)?;
                }
                0x81 => {
                    let args = self.pop(at)?;
                    let cls = self.pop(at)?;
                    let v = self.call(&cls, Some(&args), at);
                    self.push(v, at)?;
                }
                0x92 => {
                    self.pop(at)?;
                    let args = self.pop(at)?;
                    let cls = self.pop(at)?;
                    let v = self.call(&cls, Some(&args), at);
                    self.push(v, at)?;
                }
                other => return Err(bad(at, format!("invalid opcode 0x{other:02x}"))),
            }
        }
    }

    /// joblib writes each numpy array right after the `BUILD` of its
    /// `NumpyArrayWrapper` (joblib `numpy_pickle.py`, `write_array`): object
    /// arrays as a nested pickle, others as an optional alignment padding
    /// (one length byte, then that many bytes) and the raw array bytes.
    fn joblib_array(
        &mut self,
        input: &mut Input<impl BufRead>,
        state: &Value,
        at: u64,
    ) -> Result<()> {
        let dtype = match dict_get(state, "dtype") {
            Some(Value::Called(Some(i), Some(descr)))
                if self
                    .out
                    .imports
                    .get(i)
                    .is_some_and(|imp| imp.name == "dtype") =>
            {
                descr
            }
            _ => return Err(bad(at, "joblib array without a readable dtype")),
        };
        let (itemsize, objects) = numpy_itemsize(&dtype)
            .ok_or_else(|| bad(at, format!("joblib array with unsupported dtype {dtype:?}")))?;
        if objects {
            if self.depth >= self.limits.max_nested_depth {
                return Err(Error::Limit(format!(
                    "joblib object arrays nested deeper than {} at offset {at}",
                    self.limits.max_nested_depth
                )));
            }
            let start = input.pos();
            let sub = walk_at_depth(input, self.limits, self.depth + 1);
            for imp in sub.imports {
                let key = (imp.module.clone(), imp.name.clone());
                if !self.seen.contains_key(&key) {
                    self.seen.insert(key, self.out.imports.len());
                    self.out.imports.push(imp);
                }
            }
            self.out.oddities.extend(sub.oddities);
            if let Some(e) = sub.error {
                return Err(e);
            }
            self.out.oddities.push(Oddity {
                kind: "embedded_pickle",
                offset: start,
                detail: "joblib object array: nested pickle".into(),
            });
            return Ok(());
        }
        let count = match dict_get(state, "shape") {
            Some(Value::Tuple(dims, _)) => dims.iter().try_fold(1u64, |acc, d| match d {
                Value::Int(n) if *n >= 0 => acc.checked_mul(*n as u64),
                _ => None,
            }),
            _ => None,
        }
        .ok_or_else(|| bad(at, "joblib array without a readable shape"))?;
        let bytes = count
            .checked_mul(itemsize)
            .ok_or_else(|| bad(at, "joblib array size overflows"))?;
        if dict_get(state, "numpy_array_alignment_bytes").is_some() {
            let pad = self.sized(input, 1, at)?;
            input.skip(pad).map_err(|e| eof(e, at))?;
        }
        input.skip(bytes).map_err(|e| eof(e, at))?;
        Ok(())
    }

    fn latin1_value(
        &mut self,
        input: &mut Input<impl BufRead>,
        len: u64,
        at: u64,
    ) -> Result<Value> {
        if len > self.limits.max_string as u64 {
            input.skip(len).map_err(|e| eof(e, at))?;
            return Ok(Value::LongStr);
        }
        let raw = input.take_vec(len as usize).map_err(|e| eof(e, at))?;
        // Python 3 decodes protocol 0-2 str with encoding="ASCII" by default;
        // keep Latin-1 so a name is never lost.
        Ok(Value::Str(Rc::from(
            raw.iter().map(|&b| b as char).collect::<String>(),
        )))
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "string",
        Value::LongStr => "long string",
        Value::Bytes => "bytes",
        Value::Global(_) => "global",
        Value::Called(..) => "call result",
        Value::Int(_) | Value::Scalar => "scalar",
        Value::Tuple(..) | Value::Dict(_) | Value::Container => "container",
        Value::PersId => "persistent id",
    }
}

fn tuple(items: Vec<Value>) -> Value {
    let depth = 1 + items.iter().map(nesting).max().unwrap_or(0);
    if items.len() <= SMALL && depth <= MAX_NESTING {
        Value::Tuple(Rc::from(items), depth)
    } else {
        Value::Container
    }
}

fn add_items(target: &Value, items: Vec<Value>) {
    if let Value::Dict(d) = target {
        let mut d = d.borrow_mut();
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            if d.len() >= SMALL {
                break;
            }
            // Only shallow values (scalars, strings, calls, flat tuples): a
            // dict never holds a dict, so dicts cannot nest (or form cycles).
            let shallow = |x: &Value| nesting(x) <= 1;
            if shallow(&k) && shallow(&v) {
                d.push((k, v));
            }
        }
    }
}

fn dict_get(d: &Value, key: &str) -> Option<Value> {
    match d {
        Value::Dict(d) => d
            .borrow()
            .iter()
            .find(|(k, _)| matches!(k, Value::Str(s) if &**s == key))
            .map(|(_, v)| v.clone()),
        _ => None,
    }
}

/// Item size of a NumPy dtype string (`'f8'`, `'<i4'`, `'U5'`); `None` for
/// objects or anything not understood.
fn numpy_itemsize(descr: &str) -> Option<(u64, bool)> {
    let d = descr.trim_start_matches(['<', '>', '=', '|']);
    let kind = d.chars().next()?;
    let n: u64 = d
        .get(1..)
        .filter(|r| !r.is_empty())
        .map(|r| r.parse().ok())
        .unwrap_or(Some(0))?;
    match kind {
        'O' => Some((8, true)),
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'V' | 'M' | 'm' => {
            Some((if n == 0 && kind == 'b' { 1 } else { n }, false))
        }
        'U' => Some((n.checked_mul(4)?, false)),
        '?' => Some((1, false)),
        'e' => Some((2, false)),
        'd' => Some((8, false)),
        _ => None,
    }
}

fn name_or_placeholder(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        _ => COMPUTED.to_string(),
    }
}

/// Decodes a protocol-0 `STRING` argument: a Python repr in quotes.
fn unquote_string(line: &[u8]) -> Option<String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (&q, rest) = line.split_first()?;
    if q != b'\'' && q != b'"' {
        return None;
    }
    let body = rest.strip_suffix(&[q])?;
    let mut out = String::new();
    let mut it = body.iter().copied();
    while let Some(b) = it.next() {
        if b != b'\\' {
            out.push(b as char);
            continue;
        }
        match it.next()? {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'0' => out.push('\0'),
            b'x' => {
                let h = [it.next()?, it.next()?];
                let s = std::str::from_utf8(&h).ok()?;
                out.push(u8::from_str_radix(s, 16).ok()? as char);
            }
            other => out.push(other as char),
        }
    }
    Some(out)
}

/// Decodes a protocol-0 `UNICODE` argument (raw-unicode-escape).
fn raw_unicode_escape(line: &[u8]) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    while i < line.len() {
        let b = *line.get(i)?;
        if b == b'\\' && matches!(line.get(i + 1), Some(b'u') | Some(b'U')) {
            let width = if line.get(i + 1) == Some(&b'u') { 4 } else { 8 };
            let hex = line.get(i + 2..i + 2 + width)?;
            let cp = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
            i += 2 + width;
        } else {
            out.push(b as char);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol0_global_reduce() {
        let data = b"cos\nsystem\n(S'echo hi'\ntR.";
        let out = walk_bytes(data, &Limits::default());
        assert!(out.error.is_none(), "{:?}", out.error);
        assert_eq!(out.imports.len(), 1);
        assert_eq!(out.imports[0].qualified(), "os.system");
        assert!(out.imports[0].called);
    }

    #[test]
    fn stack_global_via_memo() {
        // PROTO 4, 'os' MEMOIZE POP, 'system' MEMOIZE POP, GET 0, GET 1, STACK_GLOBAL, STOP
        let mut d = vec![0x80, 4, 0x8c, 2];
        d.extend_from_slice(b"os");
        d.extend_from_slice(&[0x94, b'0', 0x8c, 6]);
        d.extend_from_slice(b"system");
        d.extend_from_slice(&[0x94, b'0', b'h', 0, b'h', 1, 0x93, b'.']);
        let out = walk_bytes(&d, &Limits::default());
        assert!(out.error.is_none(), "{:?}", out.error);
        assert_eq!(out.imports[0].qualified(), "os.system");
    }

    #[test]
    fn truncated_keeps_imports() {
        let out = walk_bytes(b"cbuiltins\nexec\n(X\x05\x00\x00\x00ab", &Limits::default());
        assert!(out.error.is_some());
        assert_eq!(out.imports[0].qualified(), "builtins.exec");
    }

    #[test]
    fn unquote() {
        assert_eq!(unquote_string(b"'a\\x41'").as_deref(), Some("aA"));
        assert_eq!(unquote_string(b"abc"), None);
        assert_eq!(raw_unicode_escape(b"a\\u0041").as_deref(), Some("aA"));
    }
}
