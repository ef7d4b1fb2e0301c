//! Recording edges: `--record` onto an existing recording is refused before anything starts;
//! `replay` opens a bug bundle (`.tar.gz` or its folder) directly and refuses a hostile or
//! foreign archive.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use trademon::record::bugreport::{self, Extras, Recording};
use trademon::record::bundle::BundleFiles;
use trademon::record::events::{self, Record};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trademon-edges-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn trademon(args: &[&std::ffi::OsStr], home: &Path) -> Output {
    let config = home.join("config.toml");
    std::fs::write(&config, "").unwrap();
    Command::new(env!("CARGO_BIN_EXE_trademon"))
        .args(args)
        .arg("--config")
        .arg(&config)
        .env("RUST_BACKTRACE", "1")
        .env("TRADEMON_DATA__DIR", home.join("data"))
        .output()
        .unwrap()
}

/// A small valid recording: the start state, one frame, the end.
fn recording(dir: &Path) {
    let cfg = trademon::config::Config::defaults();
    let keymap = trademon::tui::keymap::Keymap::from_config(&cfg.tui.keys).unwrap();
    let app = trademon::tui::App::new(
        &cfg.tui,
        keymap,
        trademon::tui::theme::Theme::new(trademon::tui::theme::Palette::None),
        trademon::client::link::LinkStatus::new(""),
        (80, 24),
        0,
    );
    let start = Record::Start {
        now_ms: 0,
        size: (80, 24),
        state: Box::new(events::AppState::of(&app)),
    };
    let lines: Vec<String> = [
        (0, start),
        (10, Record::Tick { now_ms: 10 }),
        (20, Record::Draw { seq: 1 }),
        (30, Record::End),
    ]
    .iter()
    .map(|(t, r)| events::with_time(*t, &events::body(r)))
    .collect();
    let manifest = serde_json::json!({
        "format": 1, "kind": "recording", "trademon_version": "0", "protocol_version": 1,
        "terminal": {"width": 80, "height": 24, "term": "", "colorterm_set": false,
                     "no_color_set": false, "lang": ""},
        "colour_mode": "none", "start_time": "", "start_unix_ms": 0, "os": "", "arch": "",
        "config": cfg.redacted_toml()
    });
    BundleFiles {
        manifest: manifest.to_string(),
        cast: "{\"version\":2,\"width\":80,\"height\":24}\n".into(),
        events: lines.join("\n") + "\n",
    }
    .write_dir(dir)
    .unwrap();
}

fn replay_screen(path: &Path, home: &Path) -> String {
    let out = trademon(
        &[
            "replay".as_ref(),
            path.as_os_str(),
            "--headless".as_ref(),
            "--dump-screen".as_ref(),
        ],
        home,
    );
    assert!(
        out.status.success(),
        "replay {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn replay_err(path: &Path, home: &Path) -> (Option<i32>, String) {
    let out = trademon(
        &["replay".as_ref(), path.as_os_str(), "--headless".as_ref()],
        home,
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn record_onto_an_existing_recording_is_refused_before_start() {
    let home = scratch("rec");
    let dir = home.join("rec");
    recording(&dir);
    let before = std::fs::read(dir.join("events.ndjson")).unwrap();
    let out = trademon(
        &["--demo".as_ref(), "--record".as_ref(), dir.as_os_str()],
        &home,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&dir.display().to_string()), "{stderr}");
    assert!(stderr.contains("already holds a recording"), "{stderr}");
    assert!(stderr.contains("choose a new directory"), "{stderr}");
    // Nothing started: no terminal codes, no logs, the recording untouched.
    assert!(
        !stderr.contains("Location:") && !stderr.contains('\x1b'),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert!(!home.join("data").exists(), "started something");
    assert_eq!(std::fs::read(dir.join("events.ndjson")).unwrap(), before);

    let file = home.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = trademon(
        &["--demo".as_ref(), "--record".as_ref(), file.as_os_str()],
        &home,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("not a directory"), "{stderr}");
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn replay_opens_a_bug_bundle_and_its_folder() {
    let home = scratch("bundle");
    let rec = home.join("rec");
    recording(&rec);
    let extras = Extras {
        redactor: trademon::record::Redactor::new(Vec::<String>::new()),
        config_toml: String::new(),
        log_dir: home.join("no-logs"),
        log_lines: 10,
        reason: "test".into(),
    };
    let tgz = bugreport::write(&home.join("out"), Recording::Dir(rec.clone()), &extras).unwrap();
    let want = replay_screen(&rec, &home);
    assert!(!want.trim().is_empty());
    assert_eq!(replay_screen(&tgz, &home), want, ".tar.gz");

    // Unpacked by hand, as a developer would: the folder holding trademon-bug-*/, and that.
    let unpacked = home.join("unpacked");
    let file = std::fs::File::open(&tgz).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(&unpacked)
        .unwrap();
    assert_eq!(replay_screen(&unpacked, &home), want, "unpack folder");
    let root = std::fs::read_dir(&unpacked)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        root.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("trademon-bug-")
    );
    assert_eq!(replay_screen(&root, &home), want, "bundle folder");

    // The temporary unpack directory is gone afterwards.
    let child = Command::new(env!("CARGO_BIN_EXE_trademon"))
        .args(["replay", "--headless"])
        .arg(&tgz)
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(child.wait_with_output().unwrap().status.success());
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("trademon-replay-{pid}-"))
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir_all(home);
}

/// A gzip'd tar with one entry whose name is written raw (the tar crate refuses to build
/// `..` paths itself, a hostile tool does not).
fn tar_with_raw_name(path: &Path, name: &[u8], body: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut b = tar::Builder::new(gz);
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    b.append(&h, body).unwrap();
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

#[test]
fn a_hostile_or_foreign_archive_is_refused() {
    let home = scratch("hostile");
    let victim = format!("trademon-edges-victim-{}", std::process::id());
    let evil = home.join("evil.tar.gz");
    tar_with_raw_name(&evil, format!("../{victim}").as_bytes(), b"owned");
    let (code, stderr) = replay_err(&evil, &home);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("outside the unpack directory"), "{stderr}");
    assert!(
        !std::env::temp_dir().join(&victim).exists(),
        "wrote outside"
    );

    let abs = home.join("abs.tar.gz");
    let target = home.join("absolute-target");
    tar_with_raw_name(&abs, target.to_string_lossy().as_bytes(), b"owned");
    let (code, stderr) = replay_err(&abs, &home);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(!target.exists(), "wrote to an absolute path");

    let foreign = home.join("photos.tar.gz");
    tar_with_raw_name(&foreign, b"holiday/beach.jpg", b"jpeg");
    let (code, stderr) = replay_err(&foreign, &home);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("not a trademon bug bundle"), "{stderr}");

    let text = home.join("notes.tar.gz");
    std::fs::write(&text, "plain text, not gzip").unwrap();
    let (code, stderr) = replay_err(&text, &home);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(stderr.contains("not a trademon bug bundle"), "{stderr}");
    for internal in ["Location:", "Backtrace"] {
        assert!(!stderr.contains(internal), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(home);
}
