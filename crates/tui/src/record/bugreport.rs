//! `trademon-bug-<time>.tar.gz`: what a developer needs from one bug report — a recording
//! (the flight recorder's last minutes, or the newest recording on disk), the recent log
//! lines, the redacted config and the versions. Every text goes through the redactor once
//! more on its way in: log files were scrubbed when written, but a bundle must be safe even
//! if an older trademon wrote them.

use super::bundle::{BundleFiles, CAST, EVENTS, MANIFEST, create_private_file};
use super::manifest::{file_stamp, utc_text};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use trademon_core::redact::Redactor;
use trademon_protocol::now_ms;

/// Everything a bug bundle holds besides the recording.
#[derive(Debug, Clone)]
pub struct Extras {
    pub redactor: Redactor,
    pub config_toml: String,
    pub log_dir: PathBuf,
    pub log_lines: usize,
    /// Why the bundle was written (key, command, panic message).
    pub reason: String,
}

/// Where the recording in the bundle came from.
pub enum Recording {
    Files(BundleFiles),
    Dir(PathBuf),
    None,
}

/// Write the bundle into `out_dir`; returns its path.
pub fn write(out_dir: &Path, recording: Recording, extras: &Extras) -> io::Result<PathBuf> {
    fs::create_dir_all(out_dir)?;
    let stamp = file_stamp(now_ms());
    let root = format!("trademon-bug-{stamp}");
    let mut path = out_dir.join(format!("{root}.tar.gz"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = out_dir.join(format!("{root}-{n}.tar.gz"));
    }
    let file = create_private_file(&path)?;
    // Fast compression: the panic hook and the B key write this while the user waits.
    let gz = GzEncoder::new(file, Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let r = &extras.redactor;
    let mut add = |name: &str, text: &str| -> io::Result<()> {
        let clean = r.scrub(text);
        let mut h = tar::Header::new_gnu();
        h.set_size(clean.len() as u64);
        h.set_mode(0o600);
        h.set_mtime((now_ms() / 1000).max(0) as u64);
        h.set_cksum();
        tar.append_data(&mut h, format!("{root}/{name}"), clean.as_bytes())
    };

    add("README.txt", &readme(extras, &recording))?;
    add("versions.txt", &versions())?;
    add("config.toml", &extras.config_toml)?;
    match &recording {
        Recording::Files(f) => {
            add(&format!("recording/{MANIFEST}"), &f.manifest)?;
            add(&format!("recording/{CAST}"), &f.cast)?;
            add(&format!("recording/{EVENTS}"), &f.events)?;
        }
        Recording::Dir(dir) => {
            for name in [MANIFEST, CAST, EVENTS] {
                if let Ok(text) = fs::read_to_string(dir.join(name)) {
                    add(&format!("recording/{name}"), &text)?;
                }
            }
        }
        Recording::None => {}
    }
    for log in ["trademon.log", "errors.log"] {
        if let Some(tail) = tail_lines(&extras.log_dir.join(log), extras.log_lines) {
            add(&format!("logs/{log}"), &tail)?;
        }
    }
    let gz = tar.into_inner()?;
    let mut file = gz.finish()?;
    file.flush()?;
    Ok(path)
}

fn readme(extras: &Extras, recording: &Recording) -> String {
    let what = match recording {
        Recording::Files(_) => "recording/: the flight recorder's last minutes",
        Recording::Dir(d) => &format!(
            "recording/: the newest recording ({})",
            d.file_name().unwrap_or_default().to_string_lossy()
        ),
        Recording::None => "no recording was available",
    };
    format!(
        "trademon bug report, written {} ({})\n\n\
         {what}\n\
         \x20 watch:  asciinema play recording/screen.cast\n\
         \x20 replay: trademon replay recording [--speed N]   (same update/view code, no network;\n\
         \x20         the .tar.gz or this folder can be given instead of recording)\n\
         \x20 text:   trademon replay recording --headless --dump-screen\n\
         logs/: the last {} lines of each log file\n\
         config.toml: the effective configuration, secrets redacted\n",
        utc_text(now_ms()),
        extras.reason,
        extras.log_lines
    )
}

fn versions() -> String {
    format!(
        "trademon {}\nprotocol {}\nos {} {}\n",
        env!("CARGO_PKG_VERSION"),
        trademon_protocol::PROTOCOL_VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The last `n` lines of a file, reading at most a few MB from its end.
fn tail_lines(path: &Path, n: usize) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    const MAX_READ: u64 = 8 << 20;
    let mut f = fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let from = len.saturating_sub(MAX_READ);
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    let mut out = lines[start..].join("\n");
    out.push('\n');
    Some(out)
}

/// The newest recording directory under `base` (by name, which is the start time).
pub fn newest_recording(base: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(base)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(MANIFEST).is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}
