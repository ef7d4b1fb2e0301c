//! The store wired into the whole stack: demo simulator -> adapter -> hub -> QuestDB store ->
//! the in-repo QuestDB test server. Trades arrive; while the server refuses connections the
//! health shows the store down/degraded with a growing spool; once it listens again the spool
//! drains to zero and every trade is stored exactly once (ids contiguous per symbol).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};
use trademon::config::Config;
use trademon::launch::start_embedded;
use trademon::store::testserver::TestServer;
use trademon::store::testserver::tables::Value;

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
    assert!(!ids.is_empty(), "trades stored");
    for (sym, mut list) in ids {
        let n = list.len();
        list.sort_unstable();
        list.dedup();
        assert_eq!(list.len(), n, "{sym}: duplicate trade ids stored");
        let span = (list[n - 1] - list[0] + 1) as usize;
        assert_eq!(span, n, "{sym}: trade ids not contiguous ({n} of {span})");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
