//! The paper book survives `kill -9`: `trademon --demo serve` trades on the simulator until a
//! paper trade has closed, is killed with SIGKILL, restarts on the same data dir, and gives back
//! the same closed trades, realized PnL, signals and open positions (over REST, as any client
//! sees them).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use trademon::protocol::{PositionInfo, RestSnapshot, SignalInfo};

/// The backend process, killed when the test ends, passing or not.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `trademon --demo serve` and returns it with its REST base URL.
fn serve(config: &Path) -> (Serve, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trademon"))
        .arg("--demo")
        .arg("--config")
        .arg(config)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("trademon serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve printed its address")
            .expect("readable stdout");
        if let Some(rest) = line.split("ws://").nth(1) {
            break rest.split("/ws").next().unwrap_or_default().to_string();
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Serve(child), format!("http://{addr}"))
}

async fn snapshot(http: &reqwest::Client, base: &str, session: &str) -> Option<RestSnapshot> {
    let r = http
        .get(format!("{base}/api/v1/snapshot?session={session}"))
        .send()
        .await
        .ok()?;
    r.json().await.ok()
}

struct Book {
    closed: Vec<PositionInfo>,
    open: Vec<PositionInfo>,
    realized: f64,
    closed_trades: u64,
    signals: Vec<SignalInfo>,
}

fn book(s: &RestSnapshot) -> Book {
    let p = s
        .data
        .positions
        .as_deref()
        .expect("positions in the snapshot");
    Book {
        closed: p.closed.clone(),
        open: p.open.clone(),
        realized: p.totals.realized_pnl,
        closed_trades: p.totals.closed_trades,
        signals: s.data.signals.clone().unwrap_or_default(),
    }
}

/// The fields a trade is: what it was, not how it is shown.
fn trade_key(p: &PositionInfo) -> String {
    format!(
        "{} {} {} {} {:?} {} {} {:?} {:?}",
        p.id,
        p.symbol,
        p.direction,
        p.entry_price,
        p.exit_price,
        p.realized_pnl,
        p.fees,
        p.closed_at_ms,
        p.close_reason
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_book_survives_kill_9_and_comes_back_on_restart() {
    let root = std::env::temp_dir().join(format!("trademon-paper-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let config = root.join("config.toml");
    // The first pump comes at once and positions close after 3 s, so a trade closes within
    // seconds; both demo sessions trade.
    std::fs::write(
        &config,
        format!(
            "[data]\ndir = {:?}\n\n[log]\ndir = {:?}\n\n[sim]\nfirst_pump_after_s = 1\n\n\
             [strategies.demo]\ndirection = \"long\"\n\
             entry.all = [\"vwap_dev_pct_5m > 0.8\", \"buy_ratio_1m > 0.6\", \"trades_per_s_1m > 5\"]\n\
             exit.any = [\"pnl_pct >= 12\", \"pnl_pct <= -5\", \"position_age_s > 3\"]\n\
             cooldown_s = 2\n",
            root.join("data").to_string_lossy(),
            root.join("logs").to_string_lossy(),
        ),
    )
    .unwrap();
    let http = reqwest::Client::new();
    let sessions = ["majors", "alts"];

    let (mut first, base) = serve(&config);
    let start = Instant::now();
    let before = loop {
        assert!(
            start.elapsed() < Duration::from_secs(45),
            "no paper trade closed within 45 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        let mut books = Vec::new();
        for s in sessions {
            if let Some(snap) = snapshot(&http, &base, s).await {
                books.push((s, book(&snap)));
            }
        }
        if books.len() == sessions.len() && books.iter().any(|(_, b)| !b.closed.is_empty()) {
            break books;
        }
    };
    // SIGKILL: no shutdown path runs.
    first.0.kill().unwrap();
    first.0.wait().unwrap();

    let (_second, base) = serve(&config);
    for (session, b1) in &before {
        let b2 = book(
            &snapshot(&http, &base, session)
                .await
                .expect("snapshot after restart"),
        );
        // Every trade closed before the kill is back, unchanged.
        let after: Vec<String> = b2.closed.iter().map(trade_key).collect();
        for t in &b1.closed {
            assert!(
                after.contains(&trade_key(t)),
                "{session}: trade {} lost or changed across kill -9: {after:?}",
                trade_key(t)
            );
        }
        // Totals: the same, plus exactly what closed since the first snapshot (a position
        // open at the kill may close at once after the restart).
        let known: Vec<u64> = b1.closed.iter().map(|t| t.id).collect();
        let new: Vec<&PositionInfo> = b2
            .closed
            .iter()
            .filter(|t| !known.contains(&t.id))
            .collect();
        let new_pnl: f64 = new.iter().map(|t| t.realized_pnl).sum();
        assert_eq!(
            b2.closed_trades,
            b1.closed_trades + new.len() as u64,
            "{session}: closed trade count"
        );
        assert!(
            (b2.realized - (b1.realized + new_pnl)).abs() < 1e-9,
            "{session}: realized {} after, {} before plus {new_pnl} new",
            b2.realized,
            b1.realized
        );
        // Signals are back with their ids and reasons.
        for s in &b1.signals {
            assert!(
                b2.signals.contains(s),
                "{session}: signal {} ({:?}) lost across kill -9",
                s.id,
                s.kind
            );
        }
        // A position open at the kill is open again with the same entry, size, leverage and
        // liquidation price, or closed since (then it is in the trade list).
        for p in &b1.open {
            let reopened = b2.open.iter().find(|q| q.id == p.id);
            match reopened {
                Some(q) => {
                    assert_eq!(
                        (q.entry_price, q.size_quote, q.leverage, q.liquidation_price),
                        (p.entry_price, p.size_quote, p.leverage, p.liquidation_price),
                        "{session}: position {} restored differently",
                        p.id
                    );
                }
                None => assert!(
                    b2.closed.iter().any(|t| t.id == p.id),
                    "{session}: open position {} neither open nor closed after restart",
                    p.id
                ),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}
