//! QuestDB history through the backend's two doors (issue 5 item 6): the WebSocket
//! `history` op and `GET /api/v1/history/...` answer rows from the in-repo QuestDB test
//! server, "not found" for a session QuestDB does not know, and "unavailable" when QuestDB is
//! off; the signals panel of a restarted backend is back-filled with earlier runs' signals.

use crate::support;

use std::time::Duration;
use support::*;
use trademon::config::Config;
use trademon::protocol::{ClientMsg, ErrorReply, HistoryQuery, ServerMsg, Side, StreamName};
use trademon::store::{StoreRow, StoreSettings, spawn_with};
use trademon_questdb_double::TestServer;

/// Earlier runs, as the store wrote them: session `majors` with two signals.
async fn seed(server: &TestServer, dir: &std::path::Path) {
    let (store, _health) = spawn_with(StoreSettings::for_test(server.addr(), dir)).unwrap();
    let past = trademon::protocol::now_ms() - 3_600_000;
    store.send(StoreRow::Session {
        session: "majors".into(),
        name: "MAJORS".into(),
        strategy: "default".into(),
        symbols: "BTC_USDT,ETH_USDT".into(),
        status: "stopped".into(),
        realized_pnl: 1.5,
        signals: 2,
        started_ms: past,
        updated_ms: past + 60_000,
    });
    for (i, (side, kind)) in [("BUY", "entry"), ("SELL", "exit")].iter().enumerate() {
        store.send(StoreRow::Signal {
            session: "majors".into(),
            symbol: "BTC_USDT".into(),
            signal_id: i as i64 + 1,
            side: (*side).into(),
            kind: (*kind).into(),
            price: 100.0 + i as f64,
            reason: format!("earlier run {i}"),
            ts_ms: past + 1_000 * (i as i64 + 1),
        });
    }
    let s = store.clone();
    tokio::task::spawn_blocking(move || s.flush_blocking(Duration::from_secs(10)))
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || store.shutdown())
        .await
        .unwrap();
    assert_eq!(server.row_count("signals"), 2, "seeded");
}

fn config_for(server: &TestServer) -> Config {
    let mut cfg = test_config();
    cfg.questdb.enabled = true;
    cfg.questdb.conf = format!("http::addr={};protocol_version=2;", server.addr());
    cfg.questdb.request_timeout_ms = 2000;
    cfg
}

fn history(id: u64, query: HistoryQuery, session: Option<&str>) -> ClientMsg {
    ClientMsg::History {
        id,
        query,
        session_id: session.map(str::to_string),
        symbol: None,
        limit: None,
    }
}

async fn answer(ws: &mut Ws, id: u64) -> Result<Vec<serde_json::Value>, ErrorReply> {
    recv_until(ws, |m| match m {
        ServerMsg::History(h) if h.id == id => Some(Ok(h.rows)),
        ServerMsg::Error(e) if e.id == Some(id) => Some(Err(e)),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_answers_rows_not_found_and_backfills_the_signals_panel() {
    let server = TestServer::start().unwrap();
    let dir = std::env::temp_dir().join(format!("trademon-history-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    seed(&server, &dir).await;
    let b = start(config_for(&server)).await;
    let mut ws = connect(&b).await;

    // The signals panel: the earlier run's two signals arrive, oldest first, with side.
    subscribe(&mut ws, 1, "signals", Some("majors")).await;
    let signals = recv_until(&mut ws, |m| match m {
        ServerMsg::FullUpdate(f) if f.stream == StreamName::Signals => {
            f.data.signals.filter(|s| !s.is_empty())
        }
        _ => None,
    })
    .await;
    let sides: Vec<Side> = signals.iter().map(|s| s.side).collect();
    assert_eq!(sides, [Side::Buy, Side::Sell], "{signals:?}");
    assert!(signals[0].at_ms < signals[1].at_ms);

    // WebSocket history: rows with side, newest first.
    send(&mut ws, &history(7, HistoryQuery::Signals, Some("majors"))).await;
    let rows = answer(&mut ws, 7).await.expect("signals rows");
    let sides: Vec<&str> = rows.iter().filter_map(|r| r["side"].as_str()).collect();
    assert_eq!(sides, ["SELL", "BUY"], "{rows:?}");
    send(&mut ws, &history(8, HistoryQuery::Sessions, None)).await;
    let rows = answer(&mut ws, 8).await.expect("sessions rows");
    assert_eq!(rows[0]["session_id"], "majors", "{rows:?}");

    // A session QuestDB does not know is "not found", named, on both doors.
    send(&mut ws, &history(9, HistoryQuery::Signals, Some("nope"))).await;
    let e = answer(&mut ws, 9).await.expect_err("unknown session");
    assert_eq!(e.code, "session_not_found");
    assert!(e.message.contains("nope"), "{}", e.message);
    let r = reqwest::get(b.http("/api/v1/history/sessions/nope/signals"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "session_not_found", "{body}");

    // REST rows, and a bad request named as such.
    let r = reqwest::get(b.http("/api/v1/history/sessions/majors/signals?limit=1"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rows: Vec<serde_json::Value> = r.json().await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["side"], "SELL");
    let r = reqwest::get(b.http("/api/v1/history/sessions/majors/transitions"))
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "transitions without a symbol");

    b.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn history_says_unavailable_when_questdb_is_off() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    send(&mut ws, &history(3, HistoryQuery::Sessions, None)).await;
    let e = answer(&mut ws, 3).await.expect_err("QuestDB is off");
    assert_eq!(e.code, "history_unavailable");
    let r = reqwest::get(b.http("/api/v1/history/sessions"))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    b.handle.shutdown().await;
}
