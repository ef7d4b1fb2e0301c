//! The symbol view as a trader opens it: the built binary with `--demo` in a real terminal
//! (tmux, 80x24). Enter on the first watchlist row opens BTC_USDT's chart, order book and
//! trade tape with its key stats; `t` moves the chart to the next timeframe; Esc returns to
//! the watchlist; all of it over the one WebSocket the TUI started with.

use crate::support::tmux;

use std::path::PathBuf;
use std::time::Duration;
use tmux::{Tmux, have};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn demo_enter_opens_the_symbol_view_and_esc_returns_on_one_websocket() {
    if !have("tmux", "-V") {
        eprintln!("SKIPPED: tmux is not installed (.ci/run installs it)");
        return;
    }
    let data_dir: PathBuf =
        std::env::temp_dir().join(format!("trademon-symbol-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir).unwrap();
    let command = format!(
        "env TERM=xterm-256color TRADEMON_DATA__DIR={} {} --demo",
        data_dir.display(),
        env!("CARGO_BIN_EXE_trademon"),
    );
    let t = Tmux::start("symbol", 80, 24, &command);

    t.wait_for("Live with BTC_USDT on the watchlist", WAIT, |s| {
        s.contains("Live") && s.contains("BTC_USDT")
    });

    // Enter on the first row (BTC_USDT): the symbol view with its four parts. What the chart,
    // book and tape hold depends on the backend serving their streams; each says `loading`
    // until it does, so only the panels are asserted here.
    t.keys(&["Enter"]);
    let screen = t.wait_for("the symbol view's panels", WAIT, |s| {
        s.contains("BTC_USDT Min1") && s.contains("Book") && s.contains("Tape (newest first)")
    });
    for stat in [
        "Last ", "Mark ", "Index ", "Funding ", "24h H ", "Vol ", "OI ",
    ] {
        assert!(screen.contains(stat), "key stats lack {stat:?}:\n{screen}");
    }
    assert!(
        !screen.contains("Watchlist"),
        "the view replaces the panels:\n{screen}"
    );

    // The next timeframe.
    t.keys(&["t"]);
    t.wait_for("the Min5 chart", WAIT, |s| s.contains("BTC_USDT Min5"));

    // Esc: back to the watchlist.
    t.keys(&["Escape"]);
    t.wait_for("the watchlist again", WAIT, |s| {
        s.contains("Watchlist") && !s.contains("Tape (newest first)")
    });

    t.keys(&["q"]);
    assert!(
        t.wait_exit(Duration::from_secs(10)),
        "trademon did not exit"
    );

    // One WebSocket throughout: the backend logged exactly one client close.
    let log =
        std::fs::read_to_string(data_dir.join("logs").join("trademon.log")).unwrap_or_default();
    let closes = log
        .lines()
        .filter(|l| l.contains("\"client.close\""))
        .count();
    assert_eq!(
        closes, 1,
        "client connections closed, per trademon.log:\n{log}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}
