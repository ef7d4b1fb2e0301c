//! Issue 11's headline as a trader meets it: live mode (no `--demo`) with MEXC's WebSocket and
//! REST URLs pointed at a closed loopback port, in a real terminal (tmux, 80x24). The backend
//! link is up (single process), but no market data can arrive: the headline must never say
//! `Live`, must say `No market data` with the cause in words (`connection refused`), also once
//! the REST fallback runs and fails too, and the status popup (`s`) shows the cause whole.

use crate::support::tmux;

use std::time::{Duration, Instant};
use tmux::{Tmux, have};

const WAIT: Duration = Duration::from_secs(30);

/// Poll the screen every 100 ms until `done`; every screen seen on the way must pass `never`.
fn watch(
    t: &Tmux,
    what: &str,
    done: impl Fn(&str) -> bool,
    never: impl Fn(&str) -> bool,
) -> String {
    let start = Instant::now();
    loop {
        let screen = t.capture();
        assert!(!never(&screen), "while waiting for {what}:\n{screen}");
        if done(&screen) {
            return screen;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out after {WAIT:?} waiting for {what}; screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn live_mode_with_mexc_unreachable_never_says_live_and_says_why() {
    if !have("tmux", "-V") {
        eprintln!("SKIPPED: tmux is not installed (.ci/run installs it)");
        return;
    }
    // Bind then drop: nothing listens on this port for the rest of the test.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = std::env::temp_dir().join(format!("trademon-headline-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let command = format!(
        "env TERM=xterm-256color TRADEMON_DATA__DIR={data} \
         TRADEMON_MEXC__WS_URL=ws://127.0.0.1:{port}/edge \
         TRADEMON_MEXC__REST_URL=http://127.0.0.1:{port} \
         TRADEMON_MEXC__BACKOFF_BASE_MS=200 TRADEMON_MEXC__BACKOFF_CAP_MS=1000 \
         TRADEMON_MEXC__REST_FALLBACK_AFTER_MS=2000 TRADEMON_MEXC__REST_POLL_INTERVAL_MS=500 \
         {bin} --symbols BTC_USDT,ETH_USDT",
        data = root.join("data").display(),
        bin = env!("CARGO_BIN_EXE_trademon"),
    );
    let t = Tmux::start("headline", 80, 24, &command);
    // The health bar is the two lines under the top line; the status popup further down
    // names the backend link's own state, which is Live here.
    let says_live = |s: &str| s.lines().skip(1).take(2).any(|l| l.contains("Live"));

    let first = watch(
        &t,
        "No market data with the cause",
        |s| s.contains("No market data") && s.contains("connection refused"),
        says_live,
    );
    assert!(
        first.contains("MEXC unreachable: connection refused"),
        "{first}"
    );
    // The REST fallback starts and fails as well: still no data, still the cause, never Live.
    watch(
        &t,
        "the REST fallback failing",
        |s| s.contains("REST polling") && s.contains("No market data"),
        says_live,
    );
    t.keys(&["s"]);
    let popup = watch(
        &t,
        "the status popup with the whole cause",
        |s| {
            s.contains("cause: unreachable: connection refused")
                && s.contains("REST fallback: connection refused")
        },
        says_live,
    );
    assert!(popup.contains("Backend link: ● Live"), "{popup}");
    t.keys(&["Escape"]);
    t.keys(&["q"]);
    assert!(
        t.wait_exit(Duration::from_secs(15)),
        "trademon did not exit"
    );
    let _ = std::fs::remove_dir_all(&root);
}
