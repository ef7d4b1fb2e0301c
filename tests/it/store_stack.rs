//! The store wired into the whole stack: demo simulator -> adapter -> hub -> QuestDB store ->
//! the in-repo QuestDB test server. Trades arrive; while the server refuses connections the
//! health shows the store down/degraded with a growing spool; once it listens again the spool
//! drains to zero and every trade is stored exactly once (ids contiguous per symbol).

use crate::support::trade_ids as trade_check;

use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};
use trade_check::assert_each_trade_once_and_contiguous;
use trademon::config::Config;
use trademon::launch::start_embedded;
use trademon_questdb_double::TestServer;
use trademon_questdb_double::tables::Value;

fn config(server: SocketAddr, dir: &std::path::Path) -> Config {
    let mut cfg = Config::defaults();
    cfg.sim.ticker_interval_ms = 200;
    cfg.sim.trades_per_s = 20.0;
    cfg.sim.first_pump_after_s = 0;
    cfg.sim.pump_chance_per_s = 0.0;
    cfg.data.dir = dir.display().to_string();
    let q = &mut cfg.questdb;
    q.enabled = true;
    q.conf =
        format!("http::addr={server};protocol_version=2;request_timeout=1000;retry_timeout=200;");
    q.exec_url = format!("http://{server}");
    q.spool_dir = dir.join("spool").display().to_string();
    q.flush_rows = 1000;
    q.flush_age_ms = 50;
    q.retry_base_ms = 20;
    q.retry_cap_ms = 200;
    q.request_timeout_ms = 1000;
    cfg
}

async fn store_health(addr: SocketAddr) -> serde_json::Value {
    let h: serde_json::Value = reqwest::get(format!("http://{addr}/api/v1/health"))
        .await
        .expect("health answers")
        .json()
        .await
        .expect("health is JSON");
    h["store"].clone()
}

/// Polls `f` every 50 ms until it returns true or `limit` passes.
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + limit;
    while !f().await {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        sleep(Duration::from_millis(50)).await;
    }
}

/// trade ids per symbol as stored.
fn trade_ids(server: &TestServer) -> BTreeMap<String, Vec<i64>> {
    server.with_catalog(|c| {
        let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        if let Some(t) = c.get("trades") {
            for (sym, id) in t
                .column_values("symbol")
                .into_iter()
                .zip(t.column_values("trade_id"))
            {
                if let (Some(Value::Str(s)), Some(Value::Long(id))) = (sym, id) {
                    out.entry(s).or_default().push(id);
                }
            }
        }
        out
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trades_reach_questdb_survive_an_outage_and_are_stored_once() {
    let server = TestServer::start().expect("test server starts");
    let dir = std::env::temp_dir().join(format!(
        "trademon-store-stack-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let cfg = config(server.addr(), &dir);
    let (_tx, rx) = mpsc::channel(16);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let stack = start_embedded(&cfg, true, loopback, rx)
        .await
        .expect("embedded stack starts");
    let addr = stack.backend.addr;

    // 1. Trades arrive and the store says ok.
    wait_until(
        Duration::from_secs(8),
        "trade rows in the server",
        || async { server.row_count("trades") > 0 },
    )
    .await;
    wait_until(Duration::from_secs(3), "store ok", || async {
        store_health(addr).await["state"] == "ok"
    })
    .await;

    // A TUI's socket opens and closes: both ends of it are stored as connection events.
    let (mut ws, _) = tokio_tungstenite::connect_async(stack.backend.ws_url())
        .await
        .expect("client connects");
    ws.close(None).await.expect("client closes");
    while let Some(Ok(_)) = ws.next().await {}

    // 2. Outage: the server refuses connections; rows go to the spool and health says so.
    server.refuse();
    wait_until(
        Duration::from_secs(5),
        "store down with a spool",
        || async {
            let h = store_health(addr).await;
            (h["state"] == "down" || h["state"] == "degraded")
                && h["rows_spooled"].as_u64().unwrap_or(0) > 0
        },
    )
    .await;
    sleep(Duration::from_millis(500)).await;

    // 3. Back: the spool drains to zero.
    server.resume();
    wait_until(
        Duration::from_secs(8),
        "spool drained, store ok",
        || async {
            let h = store_health(addr).await;
            h["state"] == "ok" && h["rows_spooled"] == 0
        },
    )
    .await;

    stack.shutdown().await;

    // 4. Every trade once, ids contiguous per symbol (the simulator numbers them so).
    let ids = trade_ids(&server);
    assert_each_trade_once_and_contiguous(ids);

    // Connection events: the exchange link opened; the TUI's socket opened and closed
    // (1000), each close with its code.
    let events: Vec<(Option<Value>, Option<Value>, Option<Value>)> = server.with_catalog(|c| {
        let t = c.get("connection_events").expect("connection_events table");
        t.column_values("link")
            .into_iter()
            .zip(t.column_values("event"))
            .zip(t.column_values("code"))
            .map(|((l, e), c)| (l, e, c))
            .collect()
    });
    let has = |link: &str, event: &str| {
        events.iter().any(|(l, e, c)| {
            *l == Some(Value::Str(link.into()))
                && *e == Some(Value::Str(event.into()))
                && (event == "open") == c.is_none()
        })
    };
    assert!(has("mexc", "open"), "{events:?}");
    assert!(
        server.row_count("indicator_values") > 0,
        "indicator values are stored"
    );
    assert!(has("client", "open"), "{events:?}");
    assert!(has("client", "close"), "{events:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
