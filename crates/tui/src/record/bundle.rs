//! A recording bundle on disk: `manifest.json`, `screen.cast`, `events.ndjson` in one
//! directory (mode 0700, files 0600: a recording shows positions and prices). Written as
//! the session goes (both data files are streamable, so a crash keeps the prefix) and read
//! back for replay with errors that name the file and line.

use super::cast::{self, Header};
use super::events::{Line, Record};
use super::manifest::Manifest;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
pub const CAST: &str = "screen.cast";
pub const EVENTS: &str = "events.ndjson";

/// A bundle that cannot be read: which file, which line, why.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleError {
    pub file: String,
    pub line: Option<usize>,
    pub why: String,
}

impl BundleError {
    pub fn at(file: &str, line: usize, why: impl Into<String>) -> BundleError {
        BundleError {
            file: file.to_string(),
            line: Some(line),
            why: why.into(),
        }
    }

    pub fn file(file: impl Into<String>, why: impl Into<String>) -> BundleError {
        BundleError {
            file: file.into(),
            line: None,
            why: why.into(),
        }
    }
}

impl std::fmt::Display for BundleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.why),
            None => write!(f, "{}: {}", self.file, self.why),
        }
    }
}

impl std::error::Error for BundleError {}

/// The three files of a bundle in memory (flight recorder dumps, bug bundles).
#[derive(Debug, Clone, Default)]
pub struct BundleFiles {
    pub manifest: String,
    pub cast: String,
    pub events: String,
}

impl BundleFiles {
    pub fn write_dir(&self, dir: &Path) -> io::Result<()> {
        create_private_dir(dir)?;
        for (name, text) in [
            (MANIFEST, &self.manifest),
            (CAST, &self.cast),
            (EVENTS, &self.events),
        ] {
            let mut f = create_private_file(&dir.join(name))?;
            f.write_all(text.as_bytes())?;
        }
        Ok(())
    }
}

/// Streams a live recording to its directory.
pub struct BundleWriter {
    dir: PathBuf,
    manifest: Manifest,
    cast: BufWriter<File>,
    events: BufWriter<File>,
    bytes: u64,
    frames: u64,
}

impl BundleWriter {
    /// Create `dir` and the files. A directory that already holds a bundle is refused rather
    /// than overwritten (`--record DIR` twice must not lose the first recording).
    pub fn create(dir: &Path, manifest: Manifest, header: &Header) -> io::Result<BundleWriter> {
        if holds_recording(dir) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                already_recorded(dir),
            ));
        }
        create_private_dir(dir)?;
        write_manifest(dir, &manifest)?;
        let mut cast = BufWriter::new(create_private_file(&dir.join(CAST))?);
        let events = BufWriter::new(create_private_file(&dir.join(EVENTS))?);
        let head = header.line();
        writeln!(cast, "{head}")?;
        Ok(BundleWriter {
            dir: dir.to_path_buf(),
            manifest,
            cast,
            events,
            bytes: head.len() as u64,
            frames: 0,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes written so far (for the size cap).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// One `events.ndjson` line.
    pub fn event(&mut self, line: &str) -> io::Result<()> {
        self.bytes += line.len() as u64 + 1;
        writeln!(self.events, "{line}")
    }

    /// One cast event (`o` or `r`), data already JSON.
    pub fn cast_event(&mut self, t_us: u64, code: char, data_json: &str) -> io::Result<()> {
        let line = cast::event_line(t_us, code, data_json);
        self.bytes += line.len() as u64 + 1;
        if code == 'o' {
            self.frames += 1;
        }
        writeln!(self.cast, "{line}")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.cast.flush()?;
        self.events.flush()
    }

    /// Flush and complete the manifest with duration and frame count.
    pub fn finish(mut self, duration_ms: u64) -> io::Result<PathBuf> {
        self.flush()?;
        self.manifest.duration_ms = Some(duration_ms);
        self.manifest.frames = Some(self.frames);
        write_manifest(&self.dir, &self.manifest)?;
        Ok(self.dir)
    }
}

/// True when `dir` has any file of a recording in it.
pub fn holds_recording(dir: &Path) -> bool {
    [MANIFEST, CAST, EVENTS]
        .iter()
        .any(|f| dir.join(f).exists())
}

fn already_recorded(dir: &Path) -> String {
    format!(
        "{} already holds a recording; choose a new directory for --record (it is never \
         overwritten), or watch it with: trademon replay {}",
        dir.display(),
        dir.display()
    )
}

/// Why `dir` cannot take a new recording, checked before start so `--record DIR` is refused
/// on a normal terminal rather than after the TUI took it. Creates `dir` (as recording would)
/// to prove it can.
pub fn check_new_dir(dir: &Path) -> Result<(), RecordDirError> {
    if dir.exists() && !dir.is_dir() {
        return Err(RecordDirError::NotADirectory(dir.to_owned()));
    }
    if holds_recording(dir) {
        return Err(RecordDirError::AlreadyRecorded(already_recorded(dir)));
    }
    create_private_dir(dir).map_err(|source| RecordDirError::Create {
        dir: dir.to_owned(),
        source,
    })
}

/// Why a directory cannot take a new recording (`--record DIR`).
#[derive(Debug, thiserror::Error)]
pub enum RecordDirError {
    #[error("--record {}: that is a file, not a directory; choose a new directory", .0.display())]
    NotADirectory(PathBuf),
    /// The message names the directory and how to watch what it holds.
    #[error("{0}")]
    AlreadyRecorded(String),
    #[error("--record {}: cannot create the directory: {source}", dir.display())]
    Create {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn write_manifest(dir: &Path, m: &Manifest) -> io::Result<()> {
    let text = serde_json::to_string_pretty(m).map_err(io::Error::other)?;
    let mut f = create_private_file(&dir.join(MANIFEST))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}

pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

pub fn create_private_file(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// A bundle read back for replay.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Every line of `events.ndjson` with its 1-based line number.
    pub lines: Vec<(usize, Line)>,
}

pub fn load(dir: &Path) -> Result<Loaded, BundleError> {
    let name = |f: &str| dir.join(f).display().to_string();
    let manifest_text = fs::read_to_string(dir.join(MANIFEST))
        .map_err(|e| BundleError::file(name(MANIFEST), e.to_string()))?;
    let manifest: Manifest = serde_json::from_str(&manifest_text)
        .map_err(|e| BundleError::at(&name(MANIFEST), e.line(), format!("not a manifest: {e}")))?;
    if manifest.format != super::manifest::FORMAT {
        return Err(BundleError::file(
            name(MANIFEST),
            format!(
                "bundle format {} (this trademon reads {})",
                manifest.format,
                super::manifest::FORMAT
            ),
        ));
    }
    let events_text = fs::read_to_string(dir.join(EVENTS))
        .map_err(|e| BundleError::file(name(EVENTS), e.to_string()))?;
    let mut lines = Vec::new();
    for (i, text) in events_text.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(text)
            .map_err(|e| BundleError::at(&name(EVENTS), i + 1, format!("bad record: {e}")))?;
        lines.push((i + 1, line));
    }
    match lines.first() {
        Some((_, l)) if matches!(l.record, Record::Start { .. }) => {}
        Some((n, _)) => {
            return Err(BundleError::at(
                &name(EVENTS),
                *n,
                "the first record must be the start state",
            ));
        }
        None => return Err(BundleError::file(name(EVENTS), "no records")),
    }
    Ok(Loaded {
        dir: dir.to_path_buf(),
        manifest,
        lines,
    })
}
