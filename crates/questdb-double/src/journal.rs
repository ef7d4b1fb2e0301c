//! Durability for the standalone double (`trademon questdb-double --journal FILE`): every
//! committed `/write` body and every table-creating `/exec` is appended to a file before the
//! answer goes out, and replayed through the same ILP and `/exec` code on the next start. A
//! real QuestDB keeps its tables across a restart; without this, stopping the double for an
//! outage drill would also erase what was written before it, and the check that every trade
//! id is stored exactly once could not be made.
//!
//! Record format (binary-safe: ILP v2 bodies carry raw doubles):
//! `W <precision nanos> <len>\n<len bytes>\n` for a write, `E <len>\n<len bytes>\n` for a query.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::exec;
use super::ilp;
use super::tables::Catalog;

/// One journalled request.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Write { precision: i64, body: Vec<u8> },
    Exec { query: String },
}

/// What a replay found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Replayed {
    pub writes: usize,
    pub execs: usize,
    /// A record cut short by a kill during its append: the client got no answer for it and
    /// resends it, so it is skipped.
    pub torn_tail: bool,
}

/// The append side. Each record is one `write_all` on an unbuffered file, so a killed
/// process leaves at most one torn record, and only at the end.
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    pub fn open(path: &Path) -> io::Result<Journal> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Journal {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&mut self, e: &Entry) -> io::Result<()> {
        self.file.write_all(&encode(e))
    }
}

fn encode(e: &Entry) -> Vec<u8> {
    let mut rec = Vec::new();
    match e {
        Entry::Write { precision, body } => {
            rec.extend_from_slice(format!("W {precision} {}\n", body.len()).as_bytes());
            rec.extend_from_slice(body);
        }
        Entry::Exec { query } => {
            rec.extend_from_slice(format!("E {}\n", query.len()).as_bytes());
            rec.extend_from_slice(query.as_bytes());
        }
    }
    rec.push(b'\n');
    rec
}

/// Parse a journal's bytes: the entries, and whether a torn record ended it.
pub fn parse(mut bytes: &[u8]) -> (Vec<Entry>, bool) {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let Some(nl) = bytes.iter().position(|&b| b == b'\n') else {
            return (out, true);
        };
        let header = String::from_utf8_lossy(&bytes[..nl]).into_owned();
        let rest = &bytes[nl + 1..];
        let mut f = header.split(' ');
        let (kind, a, b) = (f.next(), f.next(), f.next());
        let parsed = match (kind, a, b) {
            (Some("W"), Some(p), Some(n)) => p.parse::<i64>().ok().zip(n.parse::<usize>().ok()),
            (Some("E"), Some(n), None) => n.parse::<usize>().ok().map(|n| (0, n)),
            _ => None,
        };
        let Some((precision, len)) = parsed else {
            return (out, true);
        };
        if rest.len() < len + 1 || rest[len] != b'\n' {
            return (out, true);
        }
        let payload = rest[..len].to_vec();
        out.push(if kind == Some("W") {
            Entry::Write {
                precision,
                body: payload,
            }
        } else {
            Entry::Exec {
                query: String::from_utf8_lossy(&payload).into_owned(),
            }
        });
        bytes = &rest[len + 1..];
    }
    (out, false)
}

/// Rebuild `cat` from the journal at `path` (absent: nothing to do).
pub fn replay(path: &Path, cat: &mut Catalog) -> io::Result<Replayed> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => f.read_to_end(&mut bytes)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Replayed::default()),
        Err(e) => return Err(e),
    };
    let (entries, torn_tail) = parse(&bytes);
    let mut r = Replayed {
        torn_tail,
        ..Replayed::default()
    };
    for e in entries {
        match e {
            Entry::Exec { query } => {
                exec::run(cat, &query);
                r.execs += 1;
            }
            Entry::Write { precision, body } => {
                // Only committed requests were journalled, so they parse and stage again.
                let lines = ilp::parse(&body, precision).map_err(|(line, msg)| {
                    io::Error::other(format!("journal write {}: line {line}: {msg}", r.writes))
                })?;
                let now_us = trademon_protocol::now_ms() * 1000;
                let staged = cat.stage(&lines, now_us).map_err(|(line, msg)| {
                    io::Error::other(format!("journal write {}: line {line}: {msg}", r.writes))
                })?;
                cat.commit(staged, None).map_err(io::Error::other)?;
                r.writes += 1;
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_including_binary_bodies() {
        let entries = vec![
            Entry::Exec {
                query: "CREATE TABLE IF NOT EXISTS t (x LONG)".into(),
            },
            Entry::Write {
                precision: 1,
                body: vec![b't', b' ', 0, b'\n', 0xff, b'\n'],
            },
        ];
        let dir = std::env::temp_dir().join(format!("trademon-journal-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        let mut j = Journal::open(&path).unwrap();
        entries.iter().for_each(|e| j.append(e).unwrap());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(parse(&bytes), (entries.clone(), false));
        // A record cut anywhere inside is dropped, the ones before it kept.
        for cut in 1..encode(&entries[1]).len() {
            let (got, torn) = parse(&bytes[..bytes.len() - cut]);
            assert!(torn, "cut {cut}");
            assert_eq!(got, entries[..1].to_vec(), "cut {cut}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn garbage_header_stops_the_parse_without_panicking() {
        assert_eq!(parse(b"X 1 2\nab\n"), (vec![], true));
        assert_eq!(parse(b"W 1 99999999999999999999\n"), (vec![], true));
        assert_eq!(parse(b""), (vec![], false));
    }
}
