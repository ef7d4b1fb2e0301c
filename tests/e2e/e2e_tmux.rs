//! End to end, as a trader runs it: the built binary with `--demo` in a real terminal (tmux,
//! 80x24). It must show Live and prices within seconds, switch sessions with Tab and digits,
//! keep prices moving, and quit cleanly on `q`.

use crate::support::tmux;

use std::path::PathBuf;
use std::time::{Duration, Instant};
use tmux::{Tmux, have};

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
    if !have("tmux", "-V") {
        eprintln!("SKIPPED: tmux is not installed (.ci/run installs it)");
        return;
    }
    let data_dir: PathBuf =
        std::env::temp_dir().join(format!("trademon-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir).unwrap();
    let bin = env!("CARGO_BIN_EXE_trademon");
    let command = format!(
        "env TERM=xterm-256color TRADEMON_DATA__DIR={} {} --demo",
        data_dir.display(),
        bin
    );
    let t = Tmux::start("e2e", 80, 24, &command);

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
    assert!(
        t.wait_exit(Duration::from_secs(10)),
        "trademon did not exit on q"
    );

    // Logs went to files, not the terminal; errors.log holds nothing below WARN.
    let logs = data_dir.join("logs");
    let main_log = std::fs::read_to_string(logs.join("trademon.log")).unwrap_or_default();
    assert!(main_log.contains("app.start"), "trademon.log: {main_log}");
    // Both ends of the one WebSocket logged the close with who closed it and why.
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
