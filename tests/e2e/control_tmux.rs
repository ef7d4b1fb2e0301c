//! Control from the keyboard as a trader does it: the built binary with `--demo` in a real
//! terminal (tmux, 80x24). The simulator's scripted BTC pump opens a paper position; `X` and
//! `y` close it at market; `p` pauses and resumes the strategy; `S` and `y` stop the session,
//! `S` starts it again. After each key the screen shows the backend's answer and the REST API
//! (found through the backend the TUI advertises in its data dir) confirms the change.

use crate::support::tmux;

use std::path::Path;
use std::time::{Duration, Instant};
use tmux::{Tmux, have};
use trademon::protocol::{RestSnapshot, SessionInfo, SessionState, SignalKind};

const WAIT: Duration = Duration::from_secs(20);
/// The pump starts 1 s in; the demo strategy needs a few seconds of it to enter.
const POSITION_WAIT: Duration = Duration::from_secs(45);

/// The REST base of the backend the TUI runs (`<data dir>/demo-backend.json`).
fn rest_base(data: &Path) -> String {
    let start = Instant::now();
    loop {
        let advert = std::fs::read_to_string(data.join("demo-backend.json")).unwrap_or_default();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&advert)
            && let Some(url) = v["url"].as_str()
        {
            let host = url.trim_start_matches("ws://").trim_end_matches("/ws");
            return format!("http://{host}");
        }
        assert!(
            start.elapsed() < WAIT,
            "no backend advert in {}",
            data.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One GET, its JSON body; `None` while the backend does not answer it.
fn get<T: serde::de::DeserializeOwned>(url: &str) -> Option<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    rt.block_on(async { reqwest::get(url).await.ok()?.json().await.ok() })
}

fn majors(base: &str) -> SessionInfo {
    let list: Vec<SessionInfo> = get(&format!("{base}/api/v1/sessions")).expect("sessions");
    list.into_iter()
        .find(|s| s.id == "majors")
        .expect("the majors session")
}

/// Polls the REST API until `pred` holds for what `read` returns.
fn wait_rest<T>(what: &str, read: impl Fn() -> Option<T>, pred: impl Fn(&T) -> bool) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = read()
            && pred(&v)
        {
            return v;
        }
        assert!(start.elapsed() < WAIT, "REST never showed {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn demo_keys_close_a_position_pause_stop_and_start_and_rest_confirms() {
    if !have("tmux", "-V") {
        eprintln!("SKIPPED: tmux is not installed (.ci/run installs it)");
        return;
    }
    let root = std::env::temp_dir().join(format!("trademon-control-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let data = root.join("data");
    let config = root.join("config.toml");
    // The scripted BTC pump at once; a position that stays open until the key closes it, and a
    // cooldown that keeps it from reopening while the test reads.
    std::fs::write(
        &config,
        format!(
            "[data]\ndir = {:?}\n\n[sim]\nfirst_pump_after_s = 1\n\n\
             [strategies.demo]\ndirection = \"long\"\n\
             entry.all = [\"vwap_dev_pct_5m > 0.8\", \"buy_ratio_1m > 0.6\", \"trades_per_s_1m > 5\"]\n\
             exit.any = [\"pnl_pct >= 1000\", \"pnl_pct <= -90\"]\n\
             cooldown_s = 600\n",
            data.to_string_lossy(),
        ),
    )
    .unwrap();
    let command = format!(
        "env TERM=xterm-256color {} --demo --config {}",
        env!("CARGO_BIN_EXE_trademon"),
        config.display(),
    );
    let t = Tmux::start("control", 80, 24, &command);
    t.wait_for("Live with BTC_USDT on the watchlist", WAIT, |s| {
        s.contains("Live") && s.contains("BTC_USDT")
    });
    let base = rest_base(&data);
    let snapshot = || get::<RestSnapshot>(&format!("{base}/api/v1/snapshot?session=majors"));

    // The pump opens a BTC position; the watchlist's selected row is BTC_USDT.
    let start = Instant::now();
    loop {
        let open = snapshot()
            .and_then(|s| s.data.positions)
            .is_some_and(|p| p.open.iter().any(|p| p.symbol == "BTC_USDT"));
        if open {
            break;
        }
        assert!(
            start.elapsed() < POSITION_WAIT,
            "no BTC position within {POSITION_WAIT:?}; screen:\n{}",
            t.capture()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // X asks first; y closes it at market.
    t.keys(&["X"]);
    t.wait_for("the close question", WAIT, |s| {
        s.contains("Confirm") && s.contains("Close the BTC_USDT long position")
    });
    t.keys(&["y"]);
    t.wait_for("the backend's answer", WAIT, |s| {
        s.contains("✓ session majors closed BTC_USDT at market")
    });
    let snap = wait_rest("the position closed", snapshot, |s: &RestSnapshot| {
        s.data
            .positions
            .as_ref()
            .is_some_and(|p| p.open.iter().all(|p| p.symbol != "BTC_USDT"))
    });
    let positions = snap.data.positions.expect("positions");
    let closed = positions
        .closed
        .iter()
        .find(|p| p.symbol == "BTC_USDT")
        .expect("the closed trade");
    assert!(
        closed
            .close_reason
            .as_deref()
            .is_some_and(|r| r.starts_with("closed at market by request")),
        "{closed:?}"
    );
    let signals = snap.data.signals.unwrap_or_default();
    assert_eq!(
        signals.last().map(|s| (s.symbol.as_str(), s.kind)),
        Some(("BTC_USDT", SignalKind::ForcedExit))
    );

    // p pauses (monitor only), p again resumes.
    t.keys(&["p"]);
    t.wait_for("paused on the session line", WAIT, |s| {
        s.contains("PAUSED (monitor only)")
    });
    wait_rest("paused", || Some(majors(&base)), |s| s.paused);
    t.keys(&["p"]);
    t.wait_for("resumed", WAIT, |s| {
        s.contains("✓ session majors resumed its strategy")
    });
    wait_rest("resumed", || Some(majors(&base)), |s| !s.paused);

    // S asks first; y stops it; S starts it again (no question).
    t.keys(&["S"]);
    t.wait_for("the stop question", WAIT, |s| {
        s.contains("Stop session Majors?")
    });
    t.keys(&["y"]);
    t.wait_for("stopped", WAIT, |s| {
        s.contains("✓ session majors stopped") && s.contains("STOPPED")
    });
    wait_rest(
        "stopped",
        || Some(majors(&base)),
        |s| s.state == SessionState::Stopped,
    );
    t.keys(&["S"]);
    t.wait_for("started", WAIT, |s| s.contains("✓ session majors started"));
    wait_rest(
        "running",
        || Some(majors(&base)),
        |s| s.state == SessionState::Running,
    );

    t.keys(&["q"]);
    assert!(
        t.wait_exit(Duration::from_secs(10)),
        "trademon did not exit"
    );
    // Every action is in the log, with its answer.
    let log = std::fs::read_to_string(data.join("logs").join("trademon.log")).unwrap_or_default();
    for event in [
        "\"tui.command\"",
        "\"tui.command_done\"",
        "\"session.position_closed\"",
    ] {
        assert!(log.contains(event), "trademon.log lacks {event}");
    }
    let _ = std::fs::remove_dir_all(&root);
}
