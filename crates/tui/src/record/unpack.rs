//! `trademon replay` accepts what a trader has at hand: a recording directory, a bug bundle
//! (`trademon-bug-<time>.tar.gz`, from `trademon bugreport` or the `B` key) or the folder it
//! unpacks to. A `.tar.gz` is unpacked into a private temporary directory, which goes away
//! when the replay ends. An archive comes from someone else, so nothing in it may write outside
//! that directory: absolute paths, `..`, links and device entries refuse the whole archive.

use super::bundle::{BundleError, MANIFEST, create_private_dir, create_private_file};
use flate2::read::GzDecoder;
use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// Unpacked bytes allowed from one archive (a bundle holds one recording of at most
/// `record.max_recording_mb` and a few log tails; this stops a decompression bomb).
const MAX_UNPACKED_BYTES: u64 = 4 << 30;
const MAX_ENTRIES: usize = 10_000;

/// A recording found for replay; a temporary unpack directory lives as long as this.
#[derive(Debug)]
pub struct Opened {
    /// The directory holding `manifest.json`, `screen.cast`, `events.ndjson`.
    pub dir: PathBuf,
    temp: Option<PathBuf>,
}

impl Drop for Opened {
    fn drop(&mut self) {
        if let Some(t) = &self.temp {
            let _ = fs::remove_dir_all(t);
        }
    }
}

/// The recording in `path`: a recording directory, a bug bundle's folder or a `.tar.gz`.
pub fn open(path: &Path) -> Result<Opened, BundleError> {
    let name = path.display().to_string();
    let meta = fs::metadata(path).map_err(|e| BundleError::file(&name, e.to_string()))?;
    if meta.is_dir() {
        let dir = find_recording(path).ok_or_else(|| not_a_recording(&name))?;
        return Ok(Opened { dir, temp: None });
    }
    let temp = private_temp_dir()
        .map_err(|e| BundleError::file(&name, format!("cannot make a temporary directory: {e}")))?;
    // From here on `opened` removes the directory on every return.
    let mut opened = Opened {
        dir: temp.clone(),
        temp: Some(temp.clone()),
    };
    unpack(path, &temp).map_err(|why| BundleError::file(&name, why))?;
    opened.dir = find_recording(&temp).ok_or_else(|| {
        BundleError::file(
            &name,
            "not a trademon bug bundle: there is no recording/manifest.json inside \
             (a bundle written without a recording cannot be replayed)",
        )
    })?;
    Ok(opened)
}

fn not_a_recording(name: &str) -> BundleError {
    BundleError::file(
        name,
        "no recording here: expected manifest.json (a recording), recording/manifest.json \
         (an unpacked bug bundle) or a trademon-bug-*.tar.gz file",
    )
}

/// `dir` itself, `dir/recording`, or `dir/<one folder>/recording` (a bundle unpacks into
/// its `trademon-bug-<time>/` folder).
fn find_recording(dir: &Path) -> Option<PathBuf> {
    let has = |d: &Path| d.join(MANIFEST).is_file();
    if has(dir) {
        return Some(dir.to_path_buf());
    }
    if has(&dir.join("recording")) {
        return Some(dir.join("recording"));
    }
    let subdirs: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    match subdirs.as_slice() {
        [one] if has(&one.join("recording")) => Some(one.join("recording")),
        _ => None,
    }
}

/// A new directory only this user can read, under the system temp dir. `create_dir` (not
/// `_all`) so a directory someone else made in advance is never used.
fn private_temp_dir() -> io::Result<PathBuf> {
    let base = std::env::temp_dir();
    for _ in 0..16 {
        let dir = base.join(format!(
            "trademon-replay-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        match fs::create_dir(&dir) {
            Ok(()) => {
                create_private_dir(&dir)?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free temporary directory name"))
}

/// Unpack the gzip'd tar at `archive` into `into`, refusing anything that is not a plain
/// file or folder inside it.
pub fn unpack(archive: &Path, into: &Path) -> Result<(), String> {
    let file = fs::File::open(archive).map_err(|e| e.to_string())?;
    let mut tar = tar::Archive::new(GzDecoder::new(file));
    let not_bundle = |e: io::Error| {
        format!(
            "not a trademon bug bundle (a .tar.gz written by `trademon bugreport` or the B key): {e}"
        )
    };
    let mut budget = MAX_UNPACKED_BYTES;
    for (n, entry) in tar.entries().map_err(not_bundle)?.enumerate() {
        if n >= MAX_ENTRIES {
            return Err(format!(
                "more than {MAX_ENTRIES} entries: not a trademon bug bundle"
            ));
        }
        let mut entry = entry.map_err(not_bundle)?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let rel = safe_relative(&raw).ok_or_else(|| {
            format!(
                "refused: entry {shown:?} would be written outside the unpack directory \
                 (absolute path or ..); this is not an archive trademon wrote"
            )
        })?;
        let kind = entry.header().entry_type();
        let dest = into.join(&rel);
        if kind.is_dir() {
            create_private_dir(&dest).map_err(|e| format!("{shown}: {e}"))?;
            continue;
        }
        if !kind.is_file() {
            return Err(format!(
                "refused: entry {shown:?} is a link or special file; a trademon bug bundle \
                 holds only plain files"
            ));
        }
        if let Some(parent) = dest.parent() {
            create_private_dir(parent).map_err(|e| format!("{shown}: {e}"))?;
        }
        let mut out = create_private_file(&dest).map_err(|e| format!("{shown}: {e}"))?;
        let copied = io::copy(&mut (&mut entry).take(budget + 1), &mut out)
            .map_err(|e| format!("{shown}: {e}"))?;
        if copied > budget {
            return Err(format!(
                "more than {} GiB unpacked: not a trademon bug bundle",
                MAX_UNPACKED_BYTES >> 30
            ));
        }
        budget -= copied;
    }
    Ok(())
}

/// The entry path as a relative path of plain names, or `None` when it is absolute, climbs
/// with `..`, or is empty.
fn safe_relative(raw: &[u8]) -> Option<PathBuf> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut out = PathBuf::new();
    for c in Path::new(text).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_accepted() {
        assert_eq!(
            safe_relative(b"trademon-bug-x/recording/manifest.json"),
            Some(PathBuf::from("trademon-bug-x/recording/manifest.json"))
        );
        assert_eq!(safe_relative(b"./a/b"), Some(PathBuf::from("a/b")));
        for bad in [
            &b"../evil"[..],
            b"a/../../evil",
            b"/etc/passwd",
            b"",
            b".",
            b"a/..",
        ] {
            assert_eq!(safe_relative(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
