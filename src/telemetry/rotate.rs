//! A log file that rotates: the live file keeps its name (`trademon.log`, so the bug bundle
//! and anyone tailing it find it), the one before it becomes `trademon.log.1`, older ones
//! `.2`, `.3`…, and files past `log.max_files` are removed. Only the log's own writer thread
//! writes here (`tracing_appender::non_blocking`), one formatted line per `write`.

use crate::config::LogRotation;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Days since the Unix epoch, UTC.
pub type Clock = Box<dyn Fn() -> u64 + Send>;

pub fn utc_day(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0)
}

pub struct RotatingFile {
    dir: PathBuf,
    name: String,
    rotation: LogRotation,
    max_bytes: u64,
    /// Old files kept besides the live one.
    keep: u32,
    /// `None` after a failed reopen; the next write tries again.
    file: Option<File>,
    written: u64,
    /// The UTC day the live file was last written on.
    day: u64,
    today: Clock,
}

impl RotatingFile {
    /// Appends to `dir/name` (created if missing). `max_files`: files kept, the live one
    /// included (0 is taken as 1).
    pub fn open(
        dir: &Path,
        name: &str,
        rotation: LogRotation,
        max_bytes: u64,
        max_files: u32,
        today: Clock,
    ) -> io::Result<RotatingFile> {
        let path = dir.join(name);
        let file = open_append(&path)?;
        let meta = file.metadata()?;
        // A file left by an earlier run counts as written on the day it was last changed, so
        // a daily log started after midnight rotates yesterday's file away first.
        let day = meta.modified().map(utc_day).unwrap_or_else(|_| today());
        Ok(RotatingFile {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            rotation,
            max_bytes,
            keep: max_files.saturating_sub(1),
            written: meta.len(),
            file: Some(file),
            day,
            today,
        })
    }

    fn due(&self, incoming: usize, today: u64) -> bool {
        match self.rotation {
            LogRotation::Size => {
                self.written > 0 && self.written.saturating_add(incoming as u64) > self.max_bytes
            }
            LogRotation::Daily => today != self.day,
            LogRotation::Never => false,
        }
    }

    fn old(&self, n: u32) -> PathBuf {
        self.dir.join(format!("{}.{n}", self.name))
    }

    /// Shift `name.k` to `name.k+1`, the live file to `name.1`, drop what is past `keep`.
    /// Failures are ignored: a log that cannot rotate keeps logging into the file it has.
    fn rotate(&mut self) {
        self.file = None;
        self.remove_beyond_keep();
        if self.keep == 0 {
            let _ = std::fs::remove_file(self.dir.join(&self.name));
        } else {
            for k in (1..self.keep).rev() {
                let _ = std::fs::rename(self.old(k), self.old(k + 1));
            }
            let _ = std::fs::rename(self.dir.join(&self.name), self.old(1));
        }
        self.reopen();
    }

    /// Every `name.N` with N >= keep (the next shift would push it past the count), including
    /// those an earlier run with a larger `log.max_files` left behind.
    fn remove_beyond_keep(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!("{}.", self.name);
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(n) = file_name
                .to_str()
                .and_then(|f| f.strip_prefix(&prefix))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if n >= self.keep.max(1) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    fn reopen(&mut self) {
        match open_append(&self.dir.join(&self.name)) {
            Ok(f) => {
                self.written = f.metadata().map(|m| m.len()).unwrap_or(0);
                self.file = Some(f);
            }
            Err(_) => self.file = None,
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let today = (self.today)();
        if self.due(buf.len(), today) {
            self.rotate();
        }
        self.day = today;
        if self.file.is_none() {
            self.reopen();
        }
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other(format!(
                "cannot open {}",
                self.dir.join(&self.name).display()
            )));
        };
        file.write_all(buf)?;
        self.written = self.written.saturating_add(buf.len() as u64);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "trademon-rotate-{name}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    fn fixed_day(day: u64) -> Clock {
        Box::new(move || day)
    }

    #[test]
    fn size_rotation_keeps_the_newest_files_and_removes_older_ones() {
        let dir = tmp("size");
        // Left by an earlier run that kept more files: beyond the count, so removed too.
        std::fs::write(dir.join("trademon.log.7"), "ancient\n").unwrap();
        std::fs::write(dir.join("trademon.log.x"), "not ours\n").unwrap();
        let mut f =
            RotatingFile::open(&dir, "trademon.log", LogRotation::Size, 10, 3, fixed_day(1))
                .unwrap();
        for i in 0..6 {
            // 8 bytes a line, 10 bytes a file: one line per file.
            f.write_all(format!("line {i:02}\n").as_bytes()).unwrap();
        }
        assert_eq!(
            files(&dir),
            [
                "trademon.log",
                "trademon.log.1",
                "trademon.log.2",
                "trademon.log.x"
            ]
        );
        assert_eq!(read(&dir, "trademon.log"), "line 05\n");
        assert_eq!(read(&dir, "trademon.log.1"), "line 04\n");
        assert_eq!(read(&dir, "trademon.log.2"), "line 03\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_line_longer_than_the_limit_still_gets_written_whole() {
        let dir = tmp("long");
        let mut f =
            RotatingFile::open(&dir, "errors.log", LogRotation::Size, 4, 2, fixed_day(1)).unwrap();
        f.write_all(b"a long line\n").unwrap();
        f.write_all(b"next\n").unwrap();
        assert_eq!(read(&dir, "errors.log"), "next\n");
        assert_eq!(read(&dir, "errors.log.1"), "a long line\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn daily_rotation_starts_a_new_file_on_a_new_day() {
        let dir = tmp("daily");
        let day = Arc::new(AtomicU64::new(utc_day(SystemTime::now())));
        let clock = {
            let day = day.clone();
            Box::new(move || day.load(Ordering::SeqCst)) as Clock
        };
        let mut f =
            RotatingFile::open(&dir, "trademon.log", LogRotation::Daily, 1, 2, clock).unwrap();
        f.write_all(b"monday a\n").unwrap();
        f.write_all(b"monday b\n").unwrap();
        day.fetch_add(1, Ordering::SeqCst);
        f.write_all(b"tuesday\n").unwrap();
        day.fetch_add(1, Ordering::SeqCst);
        f.write_all(b"wednesday\n").unwrap();
        assert_eq!(files(&dir), ["trademon.log", "trademon.log.1"]);
        assert_eq!(read(&dir, "trademon.log"), "wednesday\n");
        assert_eq!(read(&dir, "trademon.log.1"), "tuesday\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn never_appends_to_one_file() {
        let dir = tmp("never");
        std::fs::write(dir.join("trademon.log"), "earlier run\n").unwrap();
        let mut f =
            RotatingFile::open(&dir, "trademon.log", LogRotation::Never, 1, 1, fixed_day(9))
                .unwrap();
        f.write_all(b"this run\n").unwrap();
        assert_eq!(files(&dir), ["trademon.log"]);
        assert_eq!(read(&dir, "trademon.log"), "earlier run\nthis run\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
