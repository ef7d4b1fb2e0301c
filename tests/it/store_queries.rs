//! Session history queries over `/exec` against the test server: sessions, signals with side,
//! transitions of an instance, and a clear NotFound for a session QuestDB does not know.

use std::time::{Duration, Instant};

use trademon::store::exec::ExecClient;
use trademon::store::{Queries, QueryError, StoreRow, StoreSettings, StoreState, spawn_with};
use trademon_questdb_double::TestServer;

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_queries_and_not_found() {
    let server = TestServer::start().unwrap();
    let dir = std::env::temp_dir().join(format!("trademon-store-q-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let settings = StoreSettings::for_test(server.addr(), &dir);
    let (store, rx) = spawn_with(settings).unwrap();
    let session = |status: &str, updated: i64| StoreRow::Session {
        session: "majors".into(),
        name: "Majors".into(),
        strategy: "default".into(),
        symbols: "BTC_USDT,ETH_USDT".into(),
        status: status.into(),
        realized_pnl: 1.5,
        signals: 2,
        started_ms: 1_763_772_000_000,
        updated_ms: updated,
    };
    store.send(session("running", 1_763_772_000_000));
    // Re-sending the full row upserts it (same ts + session_id).
    store.send(session("stopped", 1_763_772_060_000));
    for (i, side) in ["BUY", "SELL"].iter().enumerate() {
        store.send(StoreRow::Signal {
            session: "majors".into(),
            symbol: "BTC_USDT".into(),
            signal_id: i as i64 + 1,
            side: (*side).into(),
            kind: "entry".into(),
            price: 100.0,
            reason: "r".into(),
            ts_ms: 1_763_772_001_000 + i as i64,
        });
    }
    store.send(StoreRow::FsmTransition {
        session: "majors".into(),
        symbol: "BTC_USDT".into(),
        from: "MONITORING".into(),
        to: "ENTRY_SIGNAL".into(),
        reason: "ema cross".into(),
        ts_ms: 1_763_772_001_000,
    });
    let s2 = store.clone();
    tokio::task::spawn_blocking(move || s2.flush_blocking(Duration::from_secs(10)))
        .await
        .unwrap();
    wait_for("written", || {
        server.row_count("signals") == 2 && rx.borrow().state == StoreState::Ok
    });

    let q = Queries::new(ExecClient::with(
        &format!("http://{}", server.addr()),
        Duration::from_secs(5),
        None,
        None,
    ));
    let sessions = q.sessions(10).await.unwrap();
    assert_eq!(sessions.len(), 1, "upserted in place: {sessions:?}");
    assert_eq!(sessions[0].status, "stopped");
    assert_eq!(sessions[0].symbols, vec!["BTC_USDT", "ETH_USDT"]);
    assert_eq!(sessions[0].started_ms, 1_763_772_000_000);

    let signals = q.signals("majors", 10).await.unwrap();
    assert_eq!(signals.len(), 2);
    assert_eq!(signals[0].side, "SELL", "newest first, with side");
    assert_eq!(signals[1].side, "BUY");

    let tr = q.transitions("majors", "BTC_USDT", 10).await.unwrap();
    assert_eq!(tr.len(), 1);
    assert_eq!(
        (tr[0].from.as_str(), tr[0].to.as_str()),
        ("MONITORING", "ENTRY_SIGNAL")
    );

    for r in [
        q.session("nope").await.map(|_| ()),
        q.signals("nope", 10).await.map(|_| ()),
        q.transitions("nope", "BTC_USDT", 10).await.map(|_| ()),
    ] {
        assert!(
            matches!(r, Err(QueryError::NotFound { ref what }) if what == "session nope"),
            "{r:?}"
        );
    }
    assert!(matches!(
        q.signals("x' OR '1'='1", 10).await,
        Err(QueryError::Invalid(_))
    ));
    tokio::task::spawn_blocking(move || store.shutdown())
        .await
        .unwrap();
}
