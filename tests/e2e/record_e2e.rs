//! Recording end to end: the built binary with `--demo --record DIR` in tmux, a few seconds of
//! live data, keys, a resize, a `B` bug report, `q`. Then the bundle is checked: the cast
//! parses (header, monotonic times, non-empty frames), its `o` stream fed into a terminal
//! emulator (vt100) ends on the same screen that `replay --headless --dump-screen` prints,
//! two replays agree, `asciinema cat` accepts the cast (when installed), and a canary token
//! is in no file of the bundle, the bug bundles or the logs.

use crate::support::tmux;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tmux::{Tmux, have};
use trademon::record::cast;

const CANARY: &str = "canary-TOKEN-7f3a9c";
const W: u16 = 100;
const H: u16 = 30;
const WAIT: Duration = Duration::from_secs(20);

fn replay_screen(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trademon"))
        .args(["replay", "--headless", "--dump-screen"])
        .arg(dir)
        .output()
        .expect("run replay");
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 screen")
}

/// The cast's final screen as vt100 sees it, rows trimmed like `--dump-screen`.
fn cast_screen(c: &cast::Cast) -> String {
    let mut p = vt100::Parser::new(c.header.height, c.header.width, 0);
    for (_, code, data) in &c.events {
        match code.as_str() {
            "o" => p.process(data.as_bytes()),
            "r" => {
                let (w, h) = data.split_once('x').expect("r is WxH");
                p.screen_mut()
                    .set_size(h.parse().expect("rows"), w.parse().expect("cols"));
            }
            _ => {}
        }
    }
    let (_, cols) = p.screen().size();
    p.screen()
        .rows(0, cols)
        .map(|r| format!("{}\n", r.trim_end()))
        .collect()
}

/// Every file under `dir`, with the members of .tar.gz files unpacked in memory.
fn all_files(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
            continue;
        }
        let bytes = std::fs::read(&p).unwrap_or_default();
        if p.to_string_lossy().ends_with(".tar.gz") {
            let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
            for m in ar.entries().expect("tar entries") {
                let mut m = m.expect("tar entry");
                let name = format!("{}!{}", p.display(), m.path().unwrap().display());
                let mut data = Vec::new();
                m.read_to_end(&mut data).expect("tar member");
                out.push((name, data));
            }
        }
        out.push((p.display().to_string(), bytes));
    }
}

#[test]
fn demo_recording_replays_to_the_screen_the_cast_shows_and_leaks_no_secret() {
    if !have("tmux", "-V") {
        eprintln!("SKIPPED: tmux is not installed (.ci/run installs it)");
        return;
    }
    let root: PathBuf =
        std::env::temp_dir().join(format!("trademon-rec-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let data = root.join("data");
    let rec = root.join("rec");
    let command = format!(
        "env TERM=xterm-256color TRADEMON_DATA__DIR={} TRADEMON_SERVER__TOKEN={CANARY} {} --demo --record {}",
        data.display(),
        env!("CARGO_BIN_EXE_trademon"),
        rec.display()
    );
    let t = Tmux::start("rec", W, H, &command);
    t.wait_for("Live, prices and REC", WAIT, |s| {
        s.contains("Live") && s.contains("REC 00:") && s.contains("BTC_USDT")
    });
    std::thread::sleep(Duration::from_secs(2));
    t.keys(&["Tab"]);
    t.wait_for("the Alts session", WAIT, |s| s.contains("DOGE_USDT"));
    t.keys(&["?"]);
    t.wait_for("help", WAIT, |s| s.to_lowercase().contains("bug-report"));
    t.keys(&["?"]);
    // A resize must show up as an `r` event.
    t.resize(96, 28);
    std::thread::sleep(Duration::from_secs(1));
    t.keys(&["B"]);
    t.wait_for("the bug report notice", WAIT, |s| s.contains("bug report"));
    std::thread::sleep(Duration::from_millis(1500));
    t.keys(&["q"]);
    assert!(
        t.wait_exit(Duration::from_secs(10)),
        "trademon did not exit on q"
    );

    // The cast: header, monotonic times, frames.
    let text = std::fs::read_to_string(rec.join("screen.cast")).expect("screen.cast");
    let c = cast::parse(&text, "screen.cast").expect("cast parses");
    assert_eq!(c.header.version, 2);
    assert_eq!((c.header.width, c.header.height), (W, H));
    assert!(c.header.timestamp.is_some());
    assert_eq!(
        c.header.env.get("TERM").map(String::as_str),
        Some("xterm-256color")
    );
    let outputs: Vec<_> = c.events.iter().filter(|e| e.1 == "o").collect();
    assert!(outputs.len() > 10, "only {} frames", outputs.len());
    assert!(outputs.iter().all(|e| !e.2.is_empty()), "empty o event");
    assert!(
        outputs[0].2.contains("\u{1b}[?1049h"),
        "first frame is not a keyframe"
    );
    let mut last = 0.0;
    for (t, _, _) in &c.events {
        assert!(*t >= last, "time went back: {t} after {last}");
        last = *t;
    }
    assert!(
        c.events.iter().any(|e| e.1 == "r" && e.2 == "96x28"),
        "no r event for the resize"
    );

    // events.ndjson has what replay needs; the manifest what a developer needs.
    let events = std::fs::read_to_string(rec.join("events.ndjson")).unwrap();
    for kind in [
        "\"start\"",
        "\"frame\"",
        "\"key\"",
        "\"tick\"",
        "\"draw\"",
        "\"link\"",
        "\"session\"",
        "\"resize\"",
        "\"end\"",
    ] {
        assert!(
            events.contains(&format!("\"k\":{kind}")),
            "no {kind} record"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rec.join("manifest.json")).unwrap()).unwrap();
    for key in [
        "trademon_version",
        "protocol_version",
        "terminal",
        "colour_mode",
        "start_time",
        "os",
        "config",
    ] {
        assert!(manifest.get(key).is_some(), "manifest lacks {key}");
    }
    assert!(manifest["config"].as_str().unwrap().contains("<redacted>"));

    // What the trader saw (the cast, through a terminal emulator) is what replay renders.
    let replayed = replay_screen(&rec);
    let seen = cast_screen(&c);
    assert_eq!(
        seen, replayed,
        "cast screen (left) differs from replay (right)"
    );
    assert!(replayed.contains("DOGE_USDT"), "{replayed}");
    assert_eq!(replay_screen(&rec), replayed, "two replays differ");

    // asciinema accepts the cast (it reads /dev/tty, so give it one with script(1)).
    if have("asciinema", "--version") && have("script", "--version") {
        let out = Command::new("script")
            .args(["-q", "-e", "-c"])
            .arg(format!(
                "asciinema cat {}",
                rec.join("screen.cast").display()
            ))
            .arg("/dev/null")
            .output()
            .expect("script asciinema cat");
        assert!(
            out.status.success(),
            "asciinema cat refused the cast: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("DOGE_USDT"));
    } else {
        eprintln!("SKIPPED asciinema check: asciinema (apt package `asciinema`) is not installed");
    }

    // `trademon bugreport` from outside, too.
    let out = Command::new(env!("CARGO_BIN_EXE_trademon"))
        .args(["bugreport", "--out"])
        .arg(root.join("cli-bug"))
        .env("TRADEMON_DATA__DIR", &data)
        .env("TRADEMON_SERVER__TOKEN", CANARY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The canary: nowhere, in any file, archive member included.
    let mut files = Vec::new();
    all_files(&root, &mut files);
    let bugs: Vec<_> = files
        .iter()
        .filter(|(n, _)| n.contains("trademon-bug-") && n.ends_with(".tar.gz"))
        .collect();
    assert_eq!(bugs.len(), 2, "expected the B and the CLI bug bundles");
    for needed in [
        "recording/screen.cast",
        "recording/events.ndjson",
        "logs/trademon.log",
        "config.toml",
    ] {
        assert!(
            files
                .iter()
                .any(|(n, _)| n.contains(".tar.gz!") && n.ends_with(needed)),
            "bug bundle lacks {needed}"
        );
    }
    assert!(files.len() > 10, "{} files", files.len());
    for (name, bytes) in &files {
        assert!(
            !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "the canary token leaked into {name}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
