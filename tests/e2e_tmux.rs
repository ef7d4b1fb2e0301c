//! End to end, as a trader runs it: the built binary with `--demo` in a real terminal (tmux,
//! 80x24). It must show Live and prices within seconds, switch sessions with Tab and digits,
//! keep prices moving, and quit cleanly on `q`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn capture(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let status = self
            .cmd()
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    fn alive(&self) -> bool {
        self.cmd()
            .args(["has-session", "-t", &self.session])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Poll the screen until `pred` holds; the last screen is in the panic message otherwise.
    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The price shown right after `symbol` on its watchlist row.
fn price_of(screen: &str, symbol: &str) -> Option<f64> {
    let line = screen.lines().find(|l| l.contains(symbol))?;
    let rest = &line[line.find(symbol)? + symbol.len()..];
    rest.split_whitespace()
        .map(|t| t.trim_matches(|c: char| !(c.is_ascii_digit() || c == '.')))
        .find(|t| !t.is_empty())
        .and_then(|t| t.replace(',', "").parse().ok())
}

#[test]
fn demo_in_tmux_shows_live_prices_switches_sessions_and_quits() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (.ci/run installs it)");
        return;
    }
    let data_dir: PathBuf =
        std::env::temp_dir().join(format!("trademon-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_trademon");
    let t = Tmux {
        socket: format!("trademon-e2e-{}", std::process::id()),
        session: "e2e".into(),
    };
    let command = format!(
        "env TERM=xterm-256color TRADEMON_DATA__DIR={} {} --demo",
        data_dir.display(),
        bin
    );
    let status = t
        .cmd()
        .args([
            "new-session",
            "-d",
            "-x",
            "80",
            "-y",
            "24",
            "-s",
            &t.session,
        ])
        .arg(&command)
        .status()
        .expect("tmux new-session");
    assert!(status.success());

    // Live with prices, offline, within a few seconds (the issue asks for 2 s on a normal
    // machine; the bound here is loose for a loaded CI box).
    let started = Instant::now();
    let screen = t.wait_for("Live and a BTC price", Duration::from_secs(20), |s| {
        s.contains("Live") && price_of(s, "BTC_USDT").is_some()
    });
    eprintln!("Live with prices after {:?}", started.elapsed());
    assert!(screen.contains("Majors"), "session tab missing:\n{screen}");

    // Prices move.
    let first = price_of(&screen, "BTC_USDT").unwrap();
    t.wait_for("the BTC price to move", Duration::from_secs(20), |s| {
        price_of(s, "BTC_USDT").is_some_and(|p| p != first)
    });

    // Tab switches to the second session, 1 back to the first.
    t.keys(&["Tab"]);
    t.wait_for("the Alts session's symbols", Duration::from_secs(5), |s| {
        s.contains("DOGE_USDT") && !s.contains("BTC_USDT")
    });
    t.keys(&["1"]);
    t.wait_for("the Majors session again", Duration::from_secs(5), |s| {
        s.contains("BTC_USDT") && !s.contains("DOGE_USDT")
    });
    t.keys(&["2"]);
    t.wait_for("the Alts session via 2", Duration::from_secs(5), |s| {
        s.contains("DOGE_USDT")
    });

    // Help overlay from the keymap.
    t.keys(&["?"]);
    t.wait_for("the help overlay", Duration::from_secs(5), |s| {
        s.to_lowercase().contains("reconnect")
    });
    t.keys(&["?"]);

    // q quits and the process ends (tmux session closes with it).
    t.keys(&["q"]);
    let start = Instant::now();
    while t.alive() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!t.alive(), "trademon did not exit on q");

    // Logs went to files, not the terminal; errors.log holds nothing below WARN.
    let logs = data_dir.join("logs");
    let main_log = std::fs::read_to_string(logs.join("trademon.log")).unwrap_or_default();
    assert!(main_log.contains("app.start"), "trademon.log: {main_log}");
    // DG-1: both ends of the one WebSocket logged the close with who closed it and why.
    for side in ["\"client.close\"", "\"link.close\""] {
        let line = main_log
            .lines()
            .find(|l| l.contains(side))
            .unwrap_or_else(|| panic!("no {side} line in trademon.log:\n{main_log}"));
        for field in [
            "initiator",
            "code",
            "reason",
            "duration_ms",
            "frames_in",
            "frames_out",
        ] {
            assert!(line.contains(field), "{side} line lacks {field}: {line}");
        }
    }
    let errors = std::fs::read_to_string(logs.join("errors.log")).unwrap_or_default();
    for line in errors.lines() {
        assert!(
            line.contains("\"WARN\"") || line.contains("\"ERROR\""),
            "errors.log has a line below WARN: {line}"
        );
    }
    let _ = std::fs::remove_dir_all(&data_dir);
}
