//! Alerts as a trader gets them: the built binary with `--demo --record DIR` in a real terminal
//! (tmux, 80x24) and `[alerts] command` set. The demo's scripted pump makes the demo strategy
//! signal on BTC_USDT: a banner on the top line says so until `A` acknowledges it, the bell
//! byte is in the terminal output (the recording's cast holds every byte the terminal got),
//! the hook got the alert as JSON once, the log has the alert and its acknowledgement, and
//! the replay of the recording ends on the screen the terminal showed.

use crate::support::tmux;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use tmux::{Tmux, have};
use trademon::record::cast;

/// The pump starts 15 s in (`sim.first_pump_after_s`); the signal follows within ~30 s.
const SIGNAL_WAIT: Duration = Duration::from_secs(90);
const WAIT: Duration = Duration::from_secs(20);

fn top_line(screen: &str) -> &str {
    screen.lines().next().unwrap_or_default()
}

#[test]
fn demo_signal_rings_shows_a_banner_until_acknowledged_and_runs_the_hook_once() {
    if !have("tmux", "-V") {
        eprintln!("SKIPPED: tmux is not installed (.ci/run installs it)");
        return;
    }
    let root: PathBuf =
        std::env::temp_dir().join(format!("trademon-alerts-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let data = root.join("data");
    let rec = root.join("rec");
    let hook_out = root.join("hook.ndjson");
    let command = format!(
        "env TERM=xterm-256color TRADEMON_DATA__DIR={data} \
         'TRADEMON_ALERTS__COMMAND=cat >> {hook}' {bin} --demo --record {rec}",
        data = data.display(),
        hook = hook_out.display(),
        bin = env!("CARGO_BIN_EXE_trademon"),
        rec = rec.display(),
    );
    let t = Tmux::start("alerts", 80, 24, &command);
    let screen = t.wait_for("a SIGNAL banner on the top line", SIGNAL_WAIT, |s| {
        top_line(s).contains("SIGNAL") && top_line(s).contains("BTC_USDT")
    });
    let top = top_line(&screen).to_string();
    assert!(
        top.starts_with(" ! ") && top.contains("A ack"),
        "the banner: marker, kind, key:\n{screen}"
    );
    assert!(
        screen
            .lines()
            .nth(1)
            .unwrap_or_default()
            .contains("trademon"),
        "the header moved one line down:\n{screen}"
    );

    // `A` acknowledges it: the signal banner goes (the fill's may follow).
    t.keys(&["A"]);
    t.wait_for("the signal banner gone", WAIT, |s| {
        !top_line(s).contains("SIGNAL")
    });
    // The rest too, until the header is on top again.
    for _ in 0..10 {
        if top_line(&t.capture()).starts_with(" trademon") {
            break;
        }
        t.keys(&["A"]);
        std::thread::sleep(Duration::from_millis(300));
    }
    let screen = t.wait_for("the header on top again", WAIT, |s| {
        top_line(s).starts_with(" trademon")
    });
    std::thread::sleep(Duration::from_millis(500));
    t.keys(&["q"]);
    assert!(
        t.wait_exit(Duration::from_secs(10)),
        "trademon did not exit"
    );

    // The hook: the signal once, as JSON.
    let hook = std::fs::read_to_string(&hook_out).expect("the hook wrote its input");
    let alerts: Vec<serde_json::Value> = hook
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let entries: Vec<_> = alerts
        .iter()
        .filter(|a| a["kind"] == "signal" && a["text"].as_str().unwrap_or("").contains("entry"))
        .collect();
    assert_eq!(entries.len(), 1, "one entry signal, once:\n{hook}");
    let e = entries[0];
    assert_eq!(e["session"], "majors", "{e}");
    assert_eq!(e["symbol"], "BTC_USDT", "{e}");
    assert!(
        e["at_ms"].as_i64().is_some() && e["time"].as_str().is_some(),
        "{e}"
    );
    let mut seen = std::collections::BTreeSet::new();
    for a in &alerts {
        assert!(seen.insert(a.to_string()), "an alert twice: {a}");
    }

    // The bell byte went to the terminal with a frame.
    let text = std::fs::read_to_string(rec.join("screen.cast")).expect("screen.cast");
    let c = cast::parse(&text, "screen.cast").expect("cast parses");
    let bells: usize = c
        .events
        .iter()
        .filter(|e| e.1 == "o")
        .map(|e| e.2.matches('\u{7}').count())
        .sum();
    assert!(bells >= 1, "no BEL in the terminal output");
    assert!(
        bells <= alerts.len(),
        "{bells} bells for {} alerts",
        alerts.len()
    );

    // Logged: every alert, and the acknowledgement.
    let log = std::fs::read_to_string(data.join("logs").join("trademon.log")).unwrap_or_default();
    let logged = log
        .lines()
        .filter(|l| l.contains("\"message\":\"alert\""))
        .count();
    assert_eq!(logged, alerts.len(), "alerts logged vs hooked:\n{log}");
    assert!(log.contains("\"alert.acknowledged\""), "{log}");

    // The replay ends where the terminal did (banners acknowledged, header on top).
    let out = Command::new(env!("CARGO_BIN_EXE_trademon"))
        .args(["replay", "--headless", "--dump-screen"])
        .arg(&rec)
        .output()
        .expect("run replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed = String::from_utf8_lossy(&out.stdout);
    assert!(
        replayed.starts_with(" trademon"),
        "replay:\n{replayed}\nlive:\n{screen}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
