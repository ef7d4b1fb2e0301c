//! A trader's controls over real loopback sockets: `close_position`, `pause_strategy` /
//! `resume_strategy` and `create_session` by WebSocket op and by REST, each answered with a
//! `result` (or an error naming why) and confirmed by the REST snapshot; what must survive a
//! restart does.

use crate::support;

use std::path::PathBuf;
use support::*;
use trademon::config::{Config, SessionConfig};
use trademon::engine::{EntrySettings, ExitSettings, StrategySettings};
use trademon::exchange::{MarketEvent, Side, Trade};
use trademon::protocol::{
    ClientMsg, CommandResult, DataSource, ErrorReply, PositionInfo, PositionStatus, RestError,
    RestSnapshot, ServerMsg, SessionInfo, SessionState, SignalKind, error_code, now_ms,
};

/// Enters on any fresh trade; never exits on its own in these tests (+1000 % on margin).
fn config() -> Config {
    let mut cfg = test_config();
    cfg.strategies.insert(
        "quick".into(),
        StrategySettings {
            entry: EntrySettings {
                all: vec!["last > 0".into()],
            },
            exit: ExitSettings {
                any: vec!["pnl_pct >= 1000".into()],
            },
            cooldown_s: 3600,
            ..StrategySettings::default_strategy()
        },
    );
    cfg
}

fn session(id: &str, syms: &[&str]) -> SessionConfig {
    SessionConfig {
        id: id.into(),
        name: id.to_uppercase(),
        strategy: "quick".into(),
        symbols: syms.iter().map(|s| s.to_string()).collect(),
    }
}

fn trade(symbol: &str, id: u64, price: f64) -> MarketEvent {
    MarketEvent::Trades {
        symbol: symbol.into(),
        trades: vec![Trade {
            self_trade: false,
            id: Some(id),
            price,
            contracts: 10.0,
            taker: Side::Buy,
            ts_ms: now_ms(),
        }],
        source: DataSource::Ws,
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trademon-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Subscribes and skips to the stream's `full_update`.
async fn follow(ws: &mut Ws, id: u64, stream: &str, session: Option<&str>) {
    subscribe(ws, id, stream, session).await;
    recv_until(ws, |m| match m {
        ServerMsg::FullUpdate(e) if e.stream.as_str() == stream => Some(()),
        _ => None,
    })
    .await;
}

/// The `result` or `error` answering request `id`.
async fn answer(ws: &mut Ws, id: u64) -> Result<CommandResult, ErrorReply> {
    answer_with_sessions(ws, id).await.0
}

/// The answer to request `id` and the `session_changed` deltas that came before it (a
/// command publishes what it changed before it replies).
async fn answer_with_sessions(
    ws: &mut Ws,
    id: u64,
) -> (Result<CommandResult, ErrorReply>, Vec<SessionInfo>) {
    let mut changed = Vec::new();
    loop {
        match recv(ws).await {
            ServerMsg::Result(r) if r.id == id => return (Ok(r), changed),
            ServerMsg::Error(e) if e.id == Some(id) => return (Err(e), changed),
            ServerMsg::SessionChanged(e) => changed.push(e.data),
            _ => {}
        }
    }
}

async fn snapshot(b: &TestBackend, session: &str) -> RestSnapshot {
    reqwest::get(b.http(&format!("/api/v1/snapshot?session={session}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn sessions_list(b: &TestBackend) -> Vec<SessionInfo> {
    reqwest::get(b.http("/api/v1/sessions"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn close_position_by_websocket_closes_at_market_and_the_snapshot_confirms() {
    let cfg = config();
    let slip = cfg.strategies["quick"].slippage_bps / 10_000.0;
    let b = start_with(cfg, vec![session("s", &["BTC_USDT"])]).await;
    let mut ws = connect(&b).await;
    follow(&mut ws, 1, "positions", Some("s")).await;

    // Nothing to close yet: refused with the reason, nothing changes.
    let close = |id| ClientMsg::ClosePosition {
        id,
        session_id: "s".into(),
        symbol: "BTC_USDT".into(),
    };
    send(&mut ws, &close(2)).await;
    let e = answer(&mut ws, 2).await.unwrap_err();
    assert_eq!(e.code, error_code::REJECTED);
    assert!(e.message.contains("no open paper position"), "{e:?}");

    // Entry on the first trade, fill on the second; then the mark moves to 101.
    b.market.send(trade("BTC_USDT", 1, 100.0)).await.unwrap();
    b.market.send(trade("BTC_USDT", 2, 100.0)).await.unwrap();
    let (mut moved, mut marked) = (false, false);
    while !marked {
        if let ServerMsg::Position(e) = recv(&mut ws).await
            && e.data.status == PositionStatus::Open
        {
            marked = e.data.mark_price == 101.0;
            if !moved {
                moved = true;
                b.market.send(trade("BTC_USDT", 3, 101.0)).await.unwrap();
            }
        }
    }

    send(&mut ws, &close(3)).await;
    let r = answer(&mut ws, 3).await.expect("closed");
    let text = r.message.unwrap_or_default();
    assert!(
        text.starts_with("session s closed BTC_USDT at market: exit 100.98 USDT"),
        "{text}"
    );

    // The REST snapshot: no open position, the closed trade at 101 less slippage, a
    // forced_exit signal, the instance cooling down, totals counting the trade.
    let snap = snapshot(&b, "s").await;
    let pos = snap.data.positions.unwrap();
    assert!(pos.open.is_empty(), "{:?}", pos.open);
    let c = &pos.closed[0];
    assert!(
        (c.exit_price.unwrap() - 101.0 * (1.0 - slip)).abs() < 1e-9,
        "{c:?}"
    );
    assert!(c.realized_pnl.is_finite() && c.fees > 0.0);
    let reason = c.close_reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("closed at market by request"),
        "{reason}"
    );
    assert_eq!(pos.totals.closed_trades, 1);
    let signals = snap.data.signals.unwrap();
    assert_eq!(signals.last().map(|s| s.kind), Some(SignalKind::ForcedExit));
    let sm = snap.data.state_machines.unwrap();
    assert_eq!(sm[0].state, "COOLDOWN");
    assert!(sm[0].last_reason.contains("closed at market"), "{sm:?}");

    // REST: nothing left to close (409 with the reason), an unknown session 404.
    let http = reqwest::Client::new();
    let r = http
        .post(b.http("/api/v1/sessions/s/positions/BTC_USDT/close"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let body: RestError = r.json().await.unwrap();
    assert!(
        body.message.unwrap_or_default().contains("COOLDOWN"),
        "the state is named"
    );
    let r = http
        .post(b.http("/api/v1/sessions/nope/positions/BTC_USDT/close"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn close_position_by_rest_answers_the_closed_trade() {
    let b = start_with(config(), vec![session("s", &["BTC_USDT"])]).await;
    let mut ws = connect(&b).await;
    follow(&mut ws, 1, "positions", Some("s")).await;
    b.market.send(trade("BTC_USDT", 1, 100.0)).await.unwrap();
    b.market.send(trade("BTC_USDT", 2, 100.0)).await.unwrap();
    recv_until(&mut ws, |m| match m {
        ServerMsg::Position(e) if e.data.status == PositionStatus::Open => Some(()),
        _ => None,
    })
    .await;
    let r = reqwest::Client::new()
        .post(b.http("/api/v1/sessions/s/positions/BTC_USDT/close"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let p: PositionInfo = r.json().await.unwrap();
    assert_eq!(
        (p.status, p.symbol.as_str()),
        (PositionStatus::Closed, "BTC_USDT")
    );
    // The client sees the same close on its stream.
    let closed = recv_until(&mut ws, |m| match m {
        ServerMsg::Position(e) if e.data.status == PositionStatus::Closed => Some(e.data),
        _ => None,
    })
    .await;
    assert_eq!(closed.id, p.id);
    assert!(
        snapshot(&b, "s")
            .await
            .data
            .positions
            .unwrap()
            .open
            .is_empty()
    );
    b.handle.shutdown().await;
}

#[tokio::test]
async fn a_paused_strategy_monitors_without_entering_and_stays_paused_after_a_restart() {
    let dir = temp_dir("pause");
    let file = dir.join("sessions.json");
    let sessions = vec![session("s", &["BTC_USDT"])];
    let b = start_persisted(config(), sessions.clone(), Some(file.clone())).await;
    let mut ws = connect(&b).await;
    follow(&mut ws, 1, "sessions", None).await;
    follow(&mut ws, 2, "conditions", Some("s")).await;
    send(
        &mut ws,
        &ClientMsg::PauseStrategy {
            id: 3,
            session_id: "s".into(),
        },
    )
    .await;
    let (r, changed) = answer_with_sessions(&mut ws, 3).await;
    let r = r.expect("paused");
    assert_eq!(
        r.message.as_deref(),
        Some("session s paused its strategy (monitor only: no new entries)")
    );
    assert!(
        changed
            .iter()
            .any(|c| c.paused && c.state == SessionState::Running),
        "{changed:?}"
    );

    // The entry condition is met on screen, and still no signal, no position.
    b.market.send(trade("BTC_USDT", 1, 100.0)).await.unwrap();
    recv_until(&mut ws, |m| match m {
        ServerMsg::Conditions(e) if e.data.conditions.iter().any(|c| c.met) => Some(()),
        _ => None,
    })
    .await;
    b.market.send(trade("BTC_USDT", 2, 100.0)).await.unwrap();
    recv_until(&mut ws, |m| match m {
        ServerMsg::Conditions(e) if e.data.conditions.iter().any(|c| c.met) => Some(()),
        _ => None,
    })
    .await;
    let snap = snapshot(&b, "s").await;
    assert_eq!(snap.data.signals, Some(vec![]));
    assert_eq!(snap.data.state_machines.unwrap()[0].state, "MONITORING");
    b.handle.shutdown().await;

    // After a restart it is still paused; REST resumes it and the next trade enters.
    let b = start_persisted(config(), sessions, Some(file)).await;
    let list = sessions_list(&b).await;
    assert!(list[0].paused, "{list:?}");
    let mut ws = connect(&b).await;
    follow(&mut ws, 1, "signals", Some("s")).await;
    let r = reqwest::Client::new()
        .post(b.http("/api/v1/sessions/s/resume"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: SessionInfo = r.json().await.unwrap();
    assert!(!info.paused);
    b.market.send(trade("BTC_USDT", 3, 100.0)).await.unwrap();
    let sig = recv_until(&mut ws, |m| match m {
        ServerMsg::Signal(e) => Some(e.data),
        _ => None,
    })
    .await;
    assert_eq!(sig.kind, SignalKind::Entry);
    // Pausing by REST too; an unknown session is 404.
    let http = reqwest::Client::new();
    let r = http
        .post(b.http("/api/v1/sessions/s/pause"))
        .send()
        .await
        .unwrap();
    let info: SessionInfo = r.json().await.unwrap();
    assert!(info.paused);
    let r = http
        .post(b.http("/api/v1/sessions/nope/pause"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    b.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn create_session_validates_starts_and_persists() {
    let dir = temp_dir("create");
    let file = dir.join("sessions.json");
    let sessions = vec![session("s", &["BTC_USDT"])];
    let b = start_persisted(config(), sessions.clone(), Some(file.clone())).await;
    let mut ws = connect(&b).await;
    follow(&mut ws, 1, "sessions", None).await;
    let create = |id, session: &str, strategy: &str, symbols: &[&str]| ClientMsg::CreateSession {
        id,
        session_id: session.into(),
        name: None,
        strategy: strategy.into(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
    };

    // Refusals name the problem and change nothing.
    for (id, msg, code, says) in [
        (
            2,
            create(2, "new", "nope", &["ETH_USDT"]),
            error_code::REJECTED,
            "known strategies: default, demo, quick",
        ),
        (
            3,
            create(3, "new", "quick", &["eth-usdt"]),
            error_code::INVALID_SYMBOL,
            "not a MEXC futures symbol",
        ),
        (
            4,
            create(4, "s", "quick", &["ETH_USDT"]),
            error_code::REJECTED,
            "exists already",
        ),
        (
            5,
            create(5, "a b", "quick", &["ETH_USDT"]),
            error_code::REJECTED,
            "letters, digits",
        ),
        (
            6,
            create(6, "new", "quick", &[]),
            error_code::REJECTED,
            "at least one symbol",
        ),
        (
            7,
            create(7, "new", "quick", &["ETH_USDT", "ETH_USDT"]),
            error_code::REJECTED,
            "listed twice",
        ),
    ] {
        send(&mut ws, &msg).await;
        let e = answer(&mut ws, id).await.unwrap_err();
        assert_eq!(e.code, code, "{e:?}");
        assert!(e.message.contains(says), "{e:?}");
    }
    assert_eq!(sessions_list(&b).await.len(), 1);

    send(
        &mut ws,
        &create(8, "new", "quick", &["ETH_USDT", "SOL_USDT"]),
    )
    .await;
    let (r, changed) = answer_with_sessions(&mut ws, 8).await;
    let r = r.expect("created");
    assert_eq!(
        r.message.as_deref(),
        Some("session new created and started")
    );
    let info = changed
        .iter()
        .find(|s| s.state == SessionState::Running)
        .expect("the new session is published running");
    assert_eq!((info.id.as_str(), info.name.as_str()), ("new", "new"));
    assert!(b.symbols.borrow().contains("SOL_USDT"));
    let snap = snapshot(&b, "new").await;
    assert_eq!(snap.data.state_machines.unwrap().len(), 2);

    // REST: 201 with the session; a body that is no session is 400.
    let http = reqwest::Client::new();
    let r = http
        .post(b.http("/api/v1/sessions"))
        .json(
            &serde_json::json!({"id": "rest", "name": "Rest", "strategy": "quick",
            "symbols": ["DOGE_USDT"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let info: SessionInfo = r.json().await.unwrap();
    assert_eq!(
        (info.name.as_str(), info.state),
        ("Rest", SessionState::Running)
    );
    let r = http
        .post(b.http("/api/v1/sessions"))
        .json(&serde_json::json!({"id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: RestError = r.json().await.unwrap();
    assert_eq!(body.error, "invalid_parameter");
    b.handle.shutdown().await;

    // Both come back after a restart, running, with their strategy and symbols.
    let b = start_persisted(config(), sessions, Some(file)).await;
    let list = sessions_list(&b).await;
    let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s", "new", "rest"]);
    assert!(list.iter().all(|s| s.state == SessionState::Running));
    assert_eq!(list[1].symbols, ["ETH_USDT", "SOL_USDT"]);
    assert_eq!(list[2].strategy, "quick");
    b.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
