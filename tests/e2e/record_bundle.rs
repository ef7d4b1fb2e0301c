//! Replay refuses a corrupt bundle with the file and line, instead of panicking.

use std::path::PathBuf;
use std::process::Command;

fn bundle(name: &str, manifest: &str, events: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trademon-bad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("manifest.json"), manifest).unwrap();
    std::fs::write(dir.join("events.ndjson"), events).unwrap();
    dir
}

fn replay_err(dir: &PathBuf) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trademon"))
        .args(["replay", "--headless", "--dump-screen"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn manifest() -> String {
    let cfg = trademon::config::Config::defaults();
    serde_json::json!({
        "format": 1, "kind": "recording", "trademon_version": "0", "protocol_version": 1,
        "terminal": {"width": 80, "height": 24, "term": "", "colorterm_set": false,
                     "no_color_set": false, "lang": ""},
        "colour_mode": "none", "start_time": "", "start_unix_ms": 0, "os": "", "arch": "",
        "config": cfg.redacted_toml()
    })
    .to_string()
}

#[test]
fn corrupt_events_line_is_named() {
    let dir = bundle("line", &manifest(), "{\"t\":0,\"k\":\"start\"\n");
    let err = replay_err(&dir);
    assert!(err.contains("events.ndjson:1"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_frame_is_named_with_its_line() {
    let dir = std::env::temp_dir().join(format!("trademon-bad-frame-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // A valid start from a real state, then a frame that is not a protocol message.
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
    let state = trademon::record::events::AppState::of(&app);
    let start = trademon::record::events::Record::Start {
        now_ms: 0,
        size: (80, 24),
        state: Box::new(state),
    };
    let events = format!(
        "{}\n{}\n",
        trademon::record::events::with_time(0, &trademon::record::events::body(&start)),
        r#"{"t":5,"k":"frame","raw":"{\"type\":\"nope\"}"}"#
    );
    let dir = bundle(
        dir.file_name().unwrap().to_str().unwrap(),
        &manifest(),
        &events,
    );
    let err = replay_err(&dir);
    assert!(
        err.contains("events.ndjson:2") && err.contains("protocol"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn missing_manifest_is_named() {
    let dir = std::env::temp_dir().join(format!("trademon-bad-none-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let err = replay_err(&dir);
    assert!(err.contains("manifest.json"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
