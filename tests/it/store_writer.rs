//! The QuestDB store against the in-repo test server over real loopback HTTP: outages, lost
//! acks, crashes, poison rows, schema gaps, odd statuses and a full spool. Every test checks
//! what reached the "database": each row exactly once (DEDUP), nothing lost that must not be.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use trademon::store::quarantine::Quarantine;
use trademon::store::{StoreHandle, StoreHealth, StoreRow, StoreSettings, StoreState, spawn_with};
use trademon_questdb_double::{TestServer, WriteFault};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "trademon-store-{name}-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn trade(id: i64) -> StoreRow {
    trade_on("BTC_USDT", id)
}

fn trade_on(symbol: &str, id: i64) -> StoreRow {
    StoreRow::Trade {
        symbol: symbol.into(),
        trade_id: id,
        price: 100.0 + id as f64,
        qty: 1.0,
        side: if id % 2 == 0 { "BUY" } else { "SELL" }.into(),
        // Several trades per millisecond, like MEXC: trade_id separates them.
        ts_ms: 1_763_772_000_000 + id / 4,
    }
}

fn signal(id: i64) -> StoreRow {
    StoreRow::Signal {
        session: "majors".into(),
        symbol: "BTC_USDT".into(),
        signal_id: id,
        side: if id % 2 == 0 { "BUY" } else { "SELL" }.into(),
        kind: "entry".into(),
        price: 1.0,
        reason: "ema cross".into(),
        ts_ms: 1_763_772_000_000 + id,
    }
}

fn start(
    server: &TestServer,
    dir: &std::path::Path,
) -> (StoreHandle, watch::Receiver<StoreHealth>) {
    spawn_with(StoreSettings::for_test(server.addr(), dir)).unwrap()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn health(rx: &watch::Receiver<StoreHealth>) -> StoreHealth {
    rx.borrow().clone()
}

/// Every id in `0..n` exactly once.
fn assert_exactly_once(server: &TestServer, n: i64) {
    let ids = server.longs("trades", "trade_id");
    let set: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(ids.len(), set.len(), "duplicates stored");
    assert_eq!(set, (0..n).collect::<BTreeSet<_>>(), "missing trade ids");
}

#[test]
fn refused_for_a_while_then_every_row_arrives_once() {
    let server = TestServer::start().unwrap();
    server.refuse();
    let dir = tmp("refused");
    let (store, rx) = start(&server, &dir);
    for i in 0..5000 {
        store.send(trade(i));
    }
    for i in 0..50 {
        store.send(signal(i));
    }
    assert!(store.flush_blocking(Duration::from_secs(10)));
    wait_for("rows spooled while down", || {
        let h = health(&rx);
        h.state == StoreState::Down && h.rows_spooled == 5050
    });
    assert!(health(&rx).last_error.is_some());
    server.resume();
    wait_for("spool drained", || {
        let h = health(&rx);
        h.rows_spooled == 0 && h.state == StoreState::Ok
    });
    assert_exactly_once(&server, 5000);
    assert_eq!(server.row_count("signals"), 50);
    assert_eq!(health(&rx).dropped, 0);
    store.shutdown();
}

#[test]
fn commit_then_500_or_close_does_not_duplicate() {
    let server = TestServer::start().unwrap();
    let dir = tmp("lostack");
    let (store, rx) = start(&server, &dir);
    wait_for("schema ready", || health(&rx).state == StoreState::Ok);
    // Lost ack: the client retries the 500 itself; then an in-doubt close the outer loop resends.
    server.script_writes([WriteFault::CommitThen500, WriteFault::CommitThenClose]);
    for i in 0..1500 {
        store.send(trade(i));
    }
    assert!(store.flush_blocking(Duration::from_secs(10)));
    wait_for("all trades", || {
        server.row_count("trades") == 1500 && health(&rx).rows_spooled == 0
    });
    assert_exactly_once(&server, 1500);
    // Both faulty requests were committed and sent again.
    assert!(server.write_requests() >= 4, "{}", server.write_requests());
    store.shutdown();
}

#[test]
fn kill_9_while_spooling_then_restart_replays_each_trade_once() {
    let server = TestServer::start().unwrap();
    server.refuse();
    let dir = tmp("kill9");
    let (store, rx) = start(&server, &dir);
    for i in 0..3000 {
        store.send(trade(i));
    }
    assert!(store.flush_blocking(Duration::from_secs(10)));
    wait_for("spooled", || health(&rx).rows_spooled == 3000);
    // A few rows still in memory when the process dies: they are the ones a crash may lose.
    store.abort();
    // The crash tore the last line of the newest segment.
    let seg_dir = dir.join("trades");
    let newest = std::fs::read_dir(&seg_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap()
        .write_all(b"{\"at\":1,\"row\":{\"t\":\"trade\",\"sym")
        .unwrap();

    server.resume();
    let (store2, rx2) = start(&server, &dir);
    wait_for("replayed", || {
        server.row_count("trades") == 3000 && health(&rx2).rows_spooled == 0
    });
    assert_exactly_once(&server, 3000);
    assert_eq!(health(&rx2).dropped, 1, "the torn line is counted");
    // A third start finds nothing left to replay.
    store2.shutdown();
    let (store3, rx3) = start(&server, &dir);
    wait_for("ok", || health(&rx3).state == StoreState::Ok);
    assert_eq!(health(&rx3).rows_spooled, 0);
    assert_exactly_once(&server, 3000);
    store3.shutdown();
}

#[test]
fn poison_row_is_quarantined_with_error_id_and_the_rest_written() {
    let server = TestServer::start().unwrap();
    server.poison_symbol("symbol", "BAD_USDT");
    let dir = tmp("poison");
    let (store, rx) = start(&server, &dir);
    wait_for("schema ready", || health(&rx).state == StoreState::Ok);
    for i in 0..100 {
        if i == 37 {
            store.send(trade_on("BAD_USDT", 1_000_000));
        }
        store.send(trade(i));
    }
    assert!(store.flush_blocking(Duration::from_secs(10)));
    wait_for("written", || server.row_count("trades") == 100);
    assert_exactly_once(&server, 100);
    let h = health(&rx);
    assert_eq!(h.quarantined, 1);
    assert_eq!(h.rows_spooled, 0);
    let q = Quarantine::read_all(&dir.join("quarantine.ndjson"));
    assert_eq!(q.len(), 1);
    assert!(matches!(&q[0].row, StoreRow::Trade { symbol, .. } if symbol == "BAD_USDT"));
    assert!(
        q[0].error_id.contains('-'),
        "server error id kept: {:?}",
        q[0]
    );
    assert!(q[0].message.contains("cast error"), "{}", q[0].message);
    // One rejected request, one resend: no retry loop.
    assert_eq!(server.write_requests(), 2);
    store.shutdown();
}

#[test]
fn missing_side_column_is_named_and_signals_wait_in_the_spool() {
    let server = TestServer::start().unwrap();
    // A signals table from an older deployment: everything but `side`.
    server.with_catalog(|c| {
        let sql = trademon::store::schema::create_sql(trademon::store::Table::Signals);
        let (status, _) = trademon_questdb_double::exec::run(c, &sql);
        assert_eq!(status, 200);
    });
    assert!(server.drop_column("signals", "side"));
    let dir = tmp("noside");
    let (store, rx) = start(&server, &dir);
    for i in 0..20 {
        store.send(signal(i));
    }
    for i in 0..200 {
        store.send(trade(i));
    }
    assert!(store.flush_blocking(Duration::from_secs(10)));
    wait_for("trades written, signals held", || {
        let h = health(&rx);
        server.row_count("trades") == 200 && h.rows_spooled == 20
    });
    let h = health(&rx);
    assert_eq!(h.state, StoreState::Degraded);
    assert_eq!(
        h.schema_problems,
        vec!["signals.side: column missing".to_string()]
    );
    assert_eq!(server.row_count("signals"), 0);
    // Fix the schema: the held signals drain.
    server.with_catalog(|c| {
        let t = c.get_mut("signals").unwrap();
        t.columns.push((
            "side".into(),
            trademon_questdb_double::tables::ColType::Symbol,
        ));
    });
    wait_for("signals drained", || {
        server.row_count("signals") == 20 && health(&rx).state == StoreState::Ok
    });
    store.shutdown();
}

#[test]
fn status_413_429_502_and_slow_answers_are_survived() {
    let server = TestServer::start().unwrap();
    let dir = tmp("statuses");
    let mut s = StoreSettings::for_test(server.addr(), &dir);
    s.conf = format!(
        "http::addr={};protocol_version=2;request_timeout=300;request_min_throughput=0;retry_timeout=500;",
        server.addr()
    );
    let (store, rx) = spawn_with(s).unwrap();
    wait_for("schema ready", || health(&rx).state == StoreState::Ok);
    server.clear_log();
    server.script_writes([
        WriteFault::Status(413),
        WriteFault::Status(429),
        WriteFault::Status(502),
        WriteFault::Slow(Duration::from_millis(700)),
        WriteFault::Status(503),
    ]);
    for i in 0..800 {
        store.send(trade(i));
    }
    assert!(store.flush_blocking(Duration::from_secs(20)));
    wait_for("all written", || {
        server.row_count("trades") == 800 && health(&rx).rows_spooled == 0
    });
    assert_exactly_once(&server, 800);
    let statuses: Vec<u16> = server
        .requests()
        .iter()
        .filter(|r| r.path == "/write")
        .map(|r| r.status)
        .collect();
    for s in [413, 429, 502, 503] {
        assert!(statuses.contains(&s), "{s} not seen in {statuses:?}");
    }
    let h = health(&rx);
    assert_eq!((h.quarantined, h.dropped), (0, 0));
    store.shutdown();
}

#[test]
fn full_spool_drops_market_data_first_and_keeps_every_signal() {
    let server = TestServer::start().unwrap();
    server.refuse();
    let dir = tmp("full");
    let mut s = StoreSettings::for_test(server.addr(), &dir);
    s.spool_max_bytes = 128 * 1024;
    let (store, rx) = spawn_with(s).unwrap();
    for i in 0..4000 {
        store.send(trade(i));
        if i % 40 == 0 {
            store.send(signal(i / 40));
        }
    }
    assert!(store.flush_blocking(Duration::from_secs(10)));
    wait_for("drops counted", || health(&rx).dropped > 0);
    let dropped = health(&rx).dropped;
    server.resume();
    wait_for("drained", || {
        let h = health(&rx);
        h.rows_spooled == 0 && h.state == StoreState::Ok
    });
    assert_eq!(server.row_count("signals"), 100, "no signal dropped");
    let stored = server.row_count("trades") as u64;
    assert_eq!(stored + dropped, 4000, "every trade stored or counted");
    // The oldest went first: what is stored is the newest tail.
    let ids: BTreeSet<i64> = server.longs("trades", "trade_id").into_iter().collect();
    assert_eq!(ids, (4000 - stored as i64..4000).collect());
    store.shutdown();
}

#[test]
fn auth_failure_alerts_and_does_not_spin() {
    let server = TestServer::start().unwrap();
    let dir = tmp("auth");
    let mut s = StoreSettings::for_test(server.addr(), &dir);
    s.retry_cap = Duration::from_millis(400);
    let (store, rx) = spawn_with(s).unwrap();
    wait_for("schema ready", || health(&rx).state == StoreState::Ok);
    server.set_write_fault(Some(WriteFault::Status(401)));
    server.clear_log();
    for i in 0..10 {
        store.send(trade(i));
    }
    assert!(store.flush_blocking(Duration::from_secs(10)));
    wait_for("down", || health(&rx).state == StoreState::Down);
    std::thread::sleep(Duration::from_millis(900));
    // At the cap (400 ms) that is at most a few attempts, not a tight loop.
    let attempts = server.write_requests();
    assert!((1..=4).contains(&attempts), "{attempts} attempts");
    assert!(
        health(&rx)
            .last_error
            .unwrap_or_default()
            .contains("authentication")
    );
    server.set_write_fault(None);
    wait_for("recovered", || server.row_count("trades") == 10);
    store.shutdown();
}
