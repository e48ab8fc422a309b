//! File hashing: streaming SHA-256, parallel over files.
//!
//! `sha2` picks the SHA-NI (x86) or SHA2 (ARMv8) instructions at run time
//! through `cpufeatures`, so one core hashes at well over 1 GB/s on current
//! servers; several files are hashed on several threads at once.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

const CHUNK: usize = 4 << 20;

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// SHA-256 of a byte range `[start, end)` of a file (whole file: `0..u64::MAX`).
pub fn sha256_range(path: &Path, start: u64, end: u64) -> Result<[u8; 32]> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    if start > 0 {
        f.seek(SeekFrom::Start(start))
            .map_err(|e| Error::io(path, e))?;
    }
    let mut left = end - start;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = f.read(&mut buf[..want]).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(h.finalize().into())
}

/// SHA-256 of a whole file, streamed in 4 MiB chunks.
pub fn sha256_file(path: &Path) -> Result<[u8; 32]> {
    sha256_range(path, 0, u64::MAX)
}

/// A unit of hashing work: a file, or a byte range of one.
#[derive(Debug, Clone)]
pub struct Job {
    /// File to read.
    pub path: PathBuf,
    /// Start offset.
    pub start: u64,
    /// End offset (exclusive; `u64::MAX` for the whole file).
    pub end: u64,
}

/// Hashes jobs on up to `threads` threads; results are in job order.
pub fn sha256_jobs(jobs: &[Job], threads: usize) -> Result<Vec<[u8; 32]>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<[u8; 32]>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    let threads = threads.clamp(1, jobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let r = sha256_range(&job.path, job.start, job.end);
                    if let Ok(mut g) = results.lock()
                        && let Some(slot) = g.get_mut(i)
                    {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| Error::Limit("hashing thread panicked".into()))?;
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::Limit("hash job did not run".into()))))
        .collect()
}

/// Number of hashing threads to use by default.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
