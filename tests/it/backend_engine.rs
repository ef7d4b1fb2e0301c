//! The hub driving the trading engine over real loopback sockets: the engine streams
//! (full_update + deltas, seq rules), add/remove symbol, persisted sessions and the failed
//! lifecycle.

use crate::support;

use std::path::PathBuf;
use support::*;
use trademon::config::{Config, SessionConfig};
use trademon::engine::{EntrySettings, ExitSettings, StrategySettings};
use trademon::exchange::{MarketEvent, Side, Trade};
use trademon::protocol::{
    ClientMsg, DataSource, Level, PositionStatus, RestSnapshot, ServerMsg, SessionInfo,
    SessionState, StreamName, error_code, now_ms,
};

/// Enters on any fresh trade, exits at +10 % on margin. The cooldown outlasts every test so a
/// slow run cannot re-enter and emit a third signal while the test still reads.
fn quick_config() -> Config {
    let mut cfg = test_config();
    cfg.strategies.insert(
        "quick".into(),
        StrategySettings {
            entry: EntrySettings {
                all: vec!["last > 0".into()],
            },
            exit: ExitSettings {
                any: vec!["pnl_pct >= 10".into()],
            },
            cooldown_s: 3600,
            ..StrategySettings::default_strategy()
        },
    );
    cfg
}

fn session(id: &str, strategy: &str, syms: &[&str]) -> SessionConfig {
    SessionConfig {
        id: id.into(),
        name: id.to_uppercase(),
        strategy: strategy.into(),
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

/// Subscribes and returns the full_update's seq (after checking the ack).
async fn sub(
    ws: &mut Ws,
    id: u64,
    stream: &str,
    session: &str,
) -> (u64, trademon::protocol::Snapshot) {
    subscribe(ws, id, stream, Some(session)).await;
    let ServerMsg::Ack(a) = recv(ws).await else {
        panic!("ack expected")
    };
    assert_eq!(a.id, id);
    match recv(ws).await {
        ServerMsg::FullUpdate(e) => {
            assert_eq!(e.stream.as_str(), stream);
            assert_eq!(e.session_id.as_deref(), Some(session));
            (e.seq, e.data)
        }
        other => panic!("full_update expected, got {other:?}"),
    }
}

#[tokio::test]
async fn trades_drive_an_instance_through_entry_position_and_exit_on_every_stream() {
    let b = start_with(quick_config(), vec![session("s", "quick", &["BTC_USDT"])]).await;
    let mut ws = connect(&b).await;
    let (sm_seq, sm) = sub(&mut ws, 1, "state_machines", "s").await;
    let inst = sm.state_machines.unwrap();
    assert_eq!(inst.len(), 1);
    assert_eq!(inst[0].state, "MONITORING");
    let (sig_seq, sig) = sub(&mut ws, 2, "signals", "s").await;
    assert_eq!(sig.signals, Some(vec![]));
    let (_, pos) = sub(&mut ws, 3, "positions", "s").await;
    let pos = pos.positions.unwrap();
    assert!(pos.open.is_empty());
    assert!(pos.totals.started_ms.is_some());
    let (_, ind) = sub(&mut ws, 4, "indicators", "s").await;
    assert!(ind.indicators.is_some());
    let (_, cond) = sub(&mut ws, 5, "conditions", "s").await;
    let cond = cond.conditions.unwrap();
    assert_eq!(cond[0].conditions[0].expr, "last > 0");
    subscribe(&mut ws, 6, "events", None).await;

    // Entry signal on the first trade, fill on the next, exit at +10 % on margin (+2 %).
    // The exit trades go out once the open position was seen: positions are conflated per
    // symbol, so an open replaced by its close before the client read it is legitimately lost.
    b.market.send(trade("BTC_USDT", 1, 100.0)).await.unwrap();
    b.market.send(trade("BTC_USDT", 2, 100.0)).await.unwrap();
    let mut exit_sent = false;

    let (mut transitions, mut signals, mut opened, mut closed) = (vec![], vec![], false, false);
    let (mut indicators, mut conditions, mut signal_events) = (false, false, false);
    let (mut next_sm, mut next_sig) = (sm_seq + 1, sig_seq + 1);
    while !(closed && indicators && conditions && signal_events && transitions.len() >= 4) {
        if opened && !exit_sent {
            exit_sent = true;
            b.market.send(trade("BTC_USDT", 3, 103.0)).await.unwrap();
            b.market.send(trade("BTC_USDT", 4, 103.0)).await.unwrap();
        }
        match recv(&mut ws).await {
            ServerMsg::StateChange(e) => {
                assert_eq!(e.seq, next_sm, "state_machines is ordered: no gaps");
                next_sm += 1;
                assert!(!e.data.reason.is_empty());
                transitions.push((e.data.from, e.data.to));
            }
            ServerMsg::Signal(e) => {
                assert_eq!(e.seq, next_sig, "signals is ordered: no gaps");
                next_sig += 1;
                signals.push(e.data);
            }
            ServerMsg::Position(e) => match e.data.status {
                PositionStatus::Open => {
                    opened = true;
                    assert!(e.data.liquidation_price < e.data.entry_price);
                }
                PositionStatus::Closed => {
                    closed = true;
                    assert!(e.data.realized_pnl > 0.0, "{:?}", e.data);
                }
            },
            ServerMsg::Indicators(e) => {
                let last = e.data.values.get("last").and_then(|v| v.value);
                indicators |= last.is_some();
            }
            ServerMsg::Conditions(e) => conditions |= e.data.conditions.iter().any(|c| c.met),
            ServerMsg::Event(e) => {
                signal_events |= e.data.name == "signal" && e.data.level == Level::Info
            }
            // The events subscription and the trades race into the hub on separate channels:
            // signals processed first are in the snapshot rather than in deltas.
            ServerMsg::FullUpdate(e) if e.stream == StreamName::Events => {
                signal_events |= e
                    .data
                    .events
                    .iter()
                    .flatten()
                    .any(|ev| ev.name == "signal" && ev.level == Level::Info)
            }
            _ => {}
        }
    }
    assert!(opened);
    let states: Vec<(&str, &str)> = transitions
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        &states[..4],
        [
            ("MONITORING", "ENTRY_SIGNAL"),
            ("ENTRY_SIGNAL", "IN_POSITION"),
            ("IN_POSITION", "EXIT_SIGNAL"),
            ("EXIT_SIGNAL", "COOLDOWN"),
        ]
    );
    let sides: Vec<_> = signals.iter().map(|s| format!("{:?}", s.side)).collect();
    assert_eq!(sides, ["Buy", "Sell"]);

    // A fresh subscriber's snapshots hold the same: the signals, no open position, totals.
    let mut ws2 = connect(&b).await;
    let (seq, snap) = sub(&mut ws2, 1, "signals", "s").await;
    assert_eq!(seq, next_sig - 1);
    assert_eq!(snap.signals.unwrap().len(), 2);
    let (_, snap) = sub(&mut ws2, 2, "positions", "s").await;
    let p = snap.positions.unwrap();
    assert!(p.open.is_empty());
    assert_eq!(p.totals.signals, 2);
    assert!(p.totals.realized_pnl > 0.0);
    let rest: RestSnapshot = reqwest::get(b.http("/api/v1/snapshot?session=s"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest.data.signals.unwrap().len(), 2);
    assert!(rest.data.indicators.is_some() && rest.data.conditions.is_some());
    assert_eq!(rest.seq["signals"], next_sig - 1);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn symbols_are_added_and_removed_by_websocket_and_rest() {
    let b = start_with(quick_config(), vec![session("s", "quick", &["BTC_USDT"])]).await;
    let mut ws = connect(&b).await;
    let (seq, _) = sub(&mut ws, 1, "state_machines", "s").await;
    let add = ClientMsg::AddSymbol {
        id: 2,
        session_id: "s".into(),
        symbol: "ETH_USDT".into(),
    };
    send(&mut ws, &add).await;
    let mut got = (false, false);
    while !(got.0 && got.1) {
        match recv(&mut ws).await {
            ServerMsg::Result(r) if r.id == 2 => got.0 = r.ok,
            ServerMsg::InstanceAdded(e) => {
                assert_eq!((e.seq, e.data.symbol.as_str()), (seq + 1, "ETH_USDT"));
                got.1 = true;
            }
            _ => {}
        }
    }
    assert!(b.symbols.borrow().contains("ETH_USDT"));

    // Bad and duplicate symbols are refused with a reason.
    for (id, symbol, code) in [
        (3, "eth-usdt", error_code::INVALID_SYMBOL),
        (4, "ETH_USDT", error_code::REJECTED),
    ] {
        let m = ClientMsg::AddSymbol {
            id,
            session_id: "s".into(),
            symbol: symbol.into(),
        };
        send(&mut ws, &m).await;
        let e = recv_until(&mut ws, |m| match m {
            ServerMsg::Error(e) if e.id == Some(id) => Some(e),
            _ => None,
        })
        .await;
        assert_eq!(e.code, code, "{e:?}");
    }

    // REST: remove BTC, then add SOL; 409 on removing what is not there.
    let http = reqwest::Client::new();
    let r = http
        .delete(b.http("/api/v1/sessions/s/symbols/BTC_USDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: SessionInfo = r.json().await.unwrap();
    assert_eq!(info.symbols, ["ETH_USDT"]);
    let r = http
        .post(b.http("/api/v1/sessions/s/symbols/SOL_USDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .delete(b.http("/api/v1/sessions/s/symbols/XRP_USDT"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let removed = recv_until(&mut ws, |m| match m {
        ServerMsg::InstanceRemoved(e) => Some(e.data.symbol),
        _ => None,
    })
    .await;
    assert_eq!(removed, "BTC_USDT");
    let want: Vec<String> = b.symbols.borrow().iter().cloned().collect();
    assert_eq!(want, ["ETH_USDT", "SOL_USDT"]);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn a_restarted_backend_restores_sessions_state_and_symbols() {
    let dir = temp_dir("persist");
    let file = dir.join("sessions.json");
    let cfg = quick_config();
    let sessions = vec![
        session("a", "quick", &["BTC_USDT"]),
        session("b", "quick", &["ETH_USDT"]),
    ];
    let b = start_persisted(cfg.clone(), sessions.clone(), Some(file.clone())).await;
    let http = reqwest::Client::new();
    let ok = |r: reqwest::Response| assert_eq!(r.status(), 200);
    ok(http
        .post(b.http("/api/v1/sessions/b/stop"))
        .send()
        .await
        .unwrap());
    ok(http
        .post(b.http("/api/v1/sessions/a/symbols/SOL_USDT"))
        .send()
        .await
        .unwrap());
    b.handle.shutdown().await;
    assert!(file.exists());

    let b = start_persisted(cfg, sessions, Some(file.clone())).await;
    let list: Vec<SessionInfo> = reqwest::get(b.http("/api/v1/sessions"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let a = list.iter().find(|s| s.id == "a").unwrap();
    let bb = list.iter().find(|s| s.id == "b").unwrap();
    assert_eq!(a.state, SessionState::Running);
    assert_eq!(a.symbols, ["BTC_USDT", "SOL_USDT"]);
    assert_eq!(bb.state, SessionState::Stopped);
    let want: Vec<String> = b.symbols.borrow().iter().cloned().collect();
    assert_eq!(want, ["BTC_USDT", "SOL_USDT"]);
    b.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_bad_sessions_file_is_reported_and_the_config_used() {
    let dir = temp_dir("badfile");
    let file = dir.join("sessions.json");
    std::fs::write(&file, "{ not json").unwrap();
    let b = start_persisted(
        quick_config(),
        vec![session("a", "quick", &["BTC_USDT"])],
        Some(file),
    )
    .await;
    let mut ws = connect(&b).await;
    subscribe(&mut ws, 1, "events", None).await;
    let events = recv_until(&mut ws, |m| match m {
        ServerMsg::FullUpdate(e) => e.data.events,
        _ => None,
    })
    .await;
    let bad = events
        .iter()
        .find(|e| e.name == "sessions.load_failed")
        .expect("the load failure is an event");
    assert_eq!(bad.level, Level::Error);
    assert!(bad.message.contains("sessions.json"), "{}", bad.message);
    let list: Vec<SessionInfo> = reqwest::get(b.http("/api/v1/sessions"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0].state, SessionState::Running);
    b.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_start_the_engine_refuses_leaves_the_session_failed_with_the_reason() {
    // A persisted session naming a strategy the config no longer has.
    let dir = temp_dir("failed");
    let file = dir.join("sessions.json");
    std::fs::write(
        &file,
        r#"{"version":1,"sessions":[{"id":"old","name":"Old","strategy":"gone","symbols":["BTC_USDT"],"running":true}]}"#,
    )
    .unwrap();
    let b = start_persisted(quick_config(), vec![], Some(file)).await;
    let list: Vec<SessionInfo> = reqwest::get(b.http("/api/v1/sessions"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0].state, SessionState::Failed);
    let why = list[0].error.clone().unwrap_or_default();
    assert!(
        why.contains("unknown strategy `gone`") && why.contains("quick"),
        "{why}"
    );
    assert!(b.symbols.borrow().is_empty());

    // Starting again is refused the same way: WS error `rejected`, REST 409.
    let mut ws = connect(&b).await;
    send(
        &mut ws,
        &ClientMsg::StartSession {
            id: 9,
            session_id: "old".into(),
        },
    )
    .await;
    let e = recv_until(&mut ws, |m| match m {
        ServerMsg::Error(e) => Some(e),
        _ => None,
    })
    .await;
    assert_eq!(e.code, error_code::REJECTED);
    let r = reqwest::Client::new()
        .post(b.http("/api/v1/sessions/old/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    // Stop clears the failure.
    let r = reqwest::Client::new()
        .post(b.http("/api/v1/sessions/old/stop"))
        .send()
        .await
        .unwrap();
    let info: SessionInfo = r.json().await.unwrap();
    assert_eq!(info.state, SessionState::Stopped);
    b.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_refuses_bad_conditions_and_unknown_strategies() {
    let mut cfg = quick_config();
    cfg.strategies.get_mut("quick").unwrap().entry.all = vec!["lsat > 1".into()];
    let e = cfg.validate().unwrap_err().to_string();
    assert!(e.contains("quick") && e.contains("lsat > 1"), "{e}");
    let mut cfg = quick_config();
    cfg.sessions[0].strategy = "nope".into();
    let e = cfg.validate().unwrap_err().to_string();
    assert!(
        e.contains("majors") && e.contains("nope") && e.contains("default"),
        "{e}"
    );
    let _ = StreamName::Signals;
}

#[tokio::test]
async fn a_mark_near_liquidation_flags_the_position_and_raises_a_warning() {
    let mut cfg = quick_config();
    // 50x: liquidation 1.5 % under entry, alert within 2 % of it.
    if let Some(s) = cfg.strategies.get_mut("quick") {
        s.leverage = 50.0;
        s.exit.any = vec!["position_age_s > 600".into()];
    }
    let b = start_with(cfg, vec![session("s", "quick", &["BTC_USDT"])]).await;
    let mut ws = connect(&b).await;
    sub(&mut ws, 1, "positions", "s").await;
    subscribe(&mut ws, 2, "events", None).await;
    let is_liq_warning = |e: &trademon::protocol::LogEvent| {
        e.name == "position.liquidation_risk" && e.level == Level::Warn
    };
    // At 50x the position is inside the alert distance from its fill (liquidation 1.5 % under
    // entry): the warning comes with the open, the flag stays on while the mark falls.
    b.market.send(trade("BTC_USDT", 1, 100.0)).await.unwrap();
    b.market.send(trade("BTC_USDT", 2, 100.0)).await.unwrap();
    let (mut flagged, mut warned, mut fell) = (false, false, false);
    while !(flagged && warned) {
        match recv(&mut ws).await {
            ServerMsg::Position(e) if e.data.status == PositionStatus::Open => {
                if !fell {
                    fell = true;
                    b.market.send(trade("BTC_USDT", 3, 99.0)).await.unwrap();
                }
                flagged |= e.data.alert && e.data.distance_to_liq_pct < 1.0;
            }
            ServerMsg::Event(e) => warned |= is_liq_warning(&e.data),
            // The alert may precede the events subscription (separate inputs to the hub).
            ServerMsg::FullUpdate(e) => {
                warned |= e.data.events.unwrap_or_default().iter().any(is_liq_warning)
            }
            _ => {}
        }
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn a_mark_past_liquidation_liquidates_with_signal_state_and_warning() {
    let mut cfg = quick_config();
    if let Some(s) = cfg.strategies.get_mut("quick") {
        s.leverage = 50.0;
        s.slippage_bps = 0.0;
        s.exit.any = vec!["position_age_s > 600".into()];
    }
    let b = start_with(cfg, vec![session("s", "quick", &["BTC_USDT"])]).await;
    let mut ws = connect(&b).await;
    sub(&mut ws, 1, "positions", "s").await;
    sub(&mut ws, 2, "signals", "s").await;
    sub(&mut ws, 3, "state_machines", "s").await;
    subscribe(&mut ws, 4, "events", None).await;
    // Long 50x filled at 100: liquidation at 100 x (1 - 0.02 + 0.005) = 98.5.
    b.market.send(trade("BTC_USDT", 1, 100.0)).await.unwrap();
    b.market.send(trade("BTC_USDT", 2, 100.0)).await.unwrap();
    let mut sent_fall = false;
    let (mut closed, mut signal, mut state, mut warned) = (None, None, None, false);
    let is_liquidated = |e: &trademon::protocol::LogEvent| {
        e.name == "position.liquidated" && e.level == Level::Warn && e.message.contains("98.5")
    };
    while !(closed.is_some() && signal.is_some() && state.is_some() && warned) {
        match recv(&mut ws).await {
            ServerMsg::Position(e) if e.data.status == PositionStatus::Open && !sent_fall => {
                sent_fall = true;
                // The mark gaps past the liquidation price.
                b.market.send(trade("BTC_USDT", 3, 98.0)).await.unwrap();
            }
            ServerMsg::Position(e) if e.data.status == PositionStatus::Closed => {
                closed = Some(e.data)
            }
            ServerMsg::Signal(e) if e.data.kind == trademon::protocol::SignalKind::Liquidation => {
                signal = Some(e.data)
            }
            ServerMsg::StateChange(e) if e.data.to == "LIQUIDATED" => state = Some(e.data),
            ServerMsg::Event(e) => warned |= is_liquidated(&e.data),
            ServerMsg::FullUpdate(e) => {
                warned |= e.data.events.unwrap_or_default().iter().any(is_liquidated)
            }
            _ => {}
        }
    }
    let closed = closed.unwrap();
    // Closed AT the liquidation price, not at the 98 trade; margin 2 and fees lost:
    // fees = 100 x 0.0006 + 1 x 98.5 x 0.0006 = 0.1191; realized = -2 - 0.1191.
    assert!(
        (closed.exit_price.unwrap() - 98.5).abs() < 1e-9,
        "{closed:?}"
    );
    assert!((closed.realized_pnl + 2.1191).abs() < 1e-9, "{closed:?}");
    assert!((signal.unwrap().price - 98.5).abs() < 1e-9);
    assert!(state.unwrap().reason.contains("liquidated"));
    b.handle.shutdown().await;
}
