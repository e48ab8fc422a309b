//! `models.lock`: pinned SHA-256 digests of model files, for CI.
//!
//! The format is `sha256sum`'s: one `HEX  PATH` line per file, `#` comments,
//! paths relative to the lock file's directory (so `sha256sum -c` works on it
//! too, apart from the comment lines).

use std::path::{Path, PathBuf};

use crate::hashing::{self, Job, hex};
use crate::{Error, Result};

/// One pinned file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pin {
    /// Path relative to the lock file's directory, `/`-separated.
    pub path: String,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// Parses lock file text.
pub fn parse(text: &str) -> Result<Vec<Pin>> {
    let mut pins = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (digest, path) = line
            .split_once("  ")
            .ok_or_else(|| Error::Lock(format!("line {}: expected `SHA256  PATH`", i + 1)))?;
        let digest = digest
            .strip_prefix("sha256:")
            .unwrap_or(digest)
            .to_ascii_lowercase();
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Lock(format!(
                "line {}: not a SHA-256 hex digest",
                i + 1
            )));
        }
        pins.push(Pin {
            path: path.to_string(),
            sha256: digest,
        });
    }
    Ok(pins)
}

/// Renders pins as lock file text.
pub fn render(pins: &[Pin]) -> String {
    let mut s = String::from(
        "# models.lock: SHA-256 pins written by `palisade model lock`; verify with `palisade model verify --lock`\n",
    );
    for p in pins {
        s.push_str(&format!("{}  {}\n", p.sha256, p.path));
    }
    s
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let md = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if md.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            collect(&e, out)?;
        }
    } else if md.is_file() {
        out.push(path.to_path_buf());
    } else if md.file_type().is_symlink() {
        return Err(Error::Lock(format!(
            "{} is a symbolic link; pin its target instead",
            path.display()
        )));
    }
    Ok(())
}

fn relative(base: &Path, p: &Path) -> Result<String> {
    let absb = std::path::absolute(base).map_err(|e| Error::io(base, e))?;
    let absp = std::path::absolute(p).map_err(|e| Error::io(p, e))?;
    let rel = absp.strip_prefix(&absb).map_err(|_| {
        Error::Lock(format!(
            "{} is outside the lock file's directory",
            p.display()
        ))
    })?;
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/"))
}

/// Hashes every file under `paths` and returns pins relative to `base`.
pub fn pin(paths: &[PathBuf], base: &Path, threads: usize) -> Result<Vec<Pin>> {
    let mut files = Vec::new();
    for p in paths {
        collect(p, &mut files)?;
    }
    let jobs: Vec<Job> = files
        .iter()
        .map(|p| Job {
            path: p.clone(),
            start: 0,
            end: u64::MAX,
        })
        .collect();
    let digests = hashing::sha256_jobs(&jobs, threads)?;
    let mut pins = files
        .iter()
        .zip(digests)
        .map(|(p, d)| {
            Ok(Pin {
                path: relative(base, p)?,
                sha256: hex(&d),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    pins.sort_by(|a, b| a.path.cmp(&b.path));
    pins.dedup();
    Ok(pins)
}

/// Outcome of checking one pin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PinCheck {
    /// Digest matches.
    Ok {
        /// The path.
        path: String,
    },
    /// Digest differs.
    Mismatch {
        /// The path.
        path: String,
        /// Pinned digest.
        expected: String,
        /// Digest now.
        actual: String,
    },
    /// File is missing or unreadable.
    Missing {
        /// The path.
        path: String,
    },
}

/// Checks every pin of the lock file at `lock_path`.
pub fn check(lock_path: &Path, threads: usize) -> Result<Vec<PinCheck>> {
    let text = std::fs::read_to_string(lock_path).map_err(|e| Error::io(lock_path, e))?;
    let pins = parse(&text)?;
    let base = lock_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut jobs = Vec::new();
    let mut idx = Vec::new();
    let mut out: Vec<Option<PinCheck>> = vec![None; pins.len()];
    for (i, p) in pins.iter().enumerate() {
        if p.path.split('/').any(|c| c == "..") || Path::new(&p.path).is_absolute() {
            return Err(Error::Lock(format!(
                "{}: pinned paths must stay inside the lock file's directory",
                p.path
            )));
        }
        let full = base.join(&p.path);
        if full.is_file() {
            jobs.push(Job {
                path: full,
                start: 0,
                end: u64::MAX,
            });
            idx.push(i);
        } else {
            out[i] = Some(PinCheck::Missing {
                path: p.path.clone(),
            });
        }
    }
    let digests = hashing::sha256_jobs(&jobs, threads)?;
    for (i, d) in idx.into_iter().zip(digests) {
        let actual = hex(&d);
        let p = &pins[i];
        out[i] = Some(if actual == p.sha256 {
            PinCheck::Ok {
                path: p.path.clone(),
            }
        } else {
            PinCheck::Mismatch {
                path: p.path.clone(),
                expected: p.sha256.clone(),
                actual,
            }
        });
    }
    Ok(out.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_render_round_trip() {
        let pins = vec![Pin {
            path: "a/b c.bin".into(),
            sha256: "ab".repeat(32),
        }];
        assert_eq!(parse(&render(&pins)).unwrap(), pins);
        let with_prefix = format!("sha256:{}  x\n", "AB".repeat(32));
        assert_eq!(parse(&with_prefix).unwrap()[0].sha256, "ab".repeat(32));
        assert!(parse("nothex  x\n").is_err());
        assert!(parse(&"ab".repeat(32)).is_err());
    }

    #[test]
    fn pins_cannot_escape_the_lock_directory() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("models.lock");
        std::fs::write(&lock, format!("{}  ../secret\n", "00".repeat(32))).unwrap();
        assert!(matches!(check(&lock, 1), Err(Error::Lock(_))));
    }
}
