//! A trader's controls, pure: closing a paper position at market, pausing a strategy (monitor
//! only) and resuming it. Numbers are worked by hand in the comments.

use super::*;
use trademon_core::market::Side;
use trademon_protocol::DataSource;

const S: &str = "s1";
const X: &str = "X_USDT";

/// Enters on any price, exits at +50 % (never, in these tests); fee 6 bps, slippage 2 bps,
/// size 100 USDT at 5x, cooldown 10 s.
fn engine() -> Engine {
    let s = StrategySettings {
        entry: EntrySettings {
            all: vec!["last > 0".into()],
        },
        exit: ExitSettings {
            any: vec!["pnl_pct >= 50".into()],
        },
        cooldown_s: 10,
        fee_bps: 6.0,
        slippage_bps: 2.0,
        ..StrategySettings::default_strategy()
    };
    Engine::new(EngineSettings::default(), BTreeMap::from([("k".into(), s)])).unwrap()
}

fn start(e: &mut Engine, now: i64) {
    e.apply(
        EngineInput::StartSession {
            id: S.into(),
            strategy: "k".into(),
            symbols: vec![X.into()],
        },
        now,
    );
}

fn trade(price: f64) -> EngineInput {
    EngineInput::Market(MarketEvent::Trades {
        symbol: X.into(),
        trades: vec![Trade {
            self_trade: false,
            id: None,
            price,
            contracts: 1.0,
            taker: Side::Buy,
            ts_ms: 0,
        }],
        source: DataSource::Ws,
    })
}

fn close() -> EngineInput {
    EngineInput::ClosePosition {
        session: S.into(),
        symbol: X.into(),
    }
}

fn pause(on: bool) -> EngineInput {
    if on {
        EngineInput::PauseSession { id: S.into() }
    } else {
        EngineInput::ResumeSession { id: S.into() }
    }
}

fn rejected(events: &[EngineEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::CommandRejected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

fn state(e: &Engine) -> InstanceState {
    e.instances(S)[0].state
}

fn approx(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

/// Opens a position: the first trade signals the entry, the next one fills it at
/// 100 x (1 + 2 bps) = 100.02.
fn open_at_100(e: &mut Engine) {
    e.apply(trade(100.0), 1_000);
    assert_eq!(state(e), InstanceState::EntrySignal);
    e.apply(trade(100.0), 2_000);
    assert_eq!(state(e), InstanceState::InPosition);
}

#[test]
fn close_at_market_fills_at_the_last_price_with_fees_signal_and_cooldown() {
    let mut e = engine();
    start(&mut e, 0);
    open_at_100(&mut e);
    e.apply(trade(101.0), 3_000);
    let ev = e.apply(close(), 4_000);
    assert!(rejected(&ev).is_empty(), "{ev:?}");

    // Signal, closed position, then COOLDOWN, in that order (as an exit fill).
    let kinds: Vec<&str> = ev
        .iter()
        .map(|x| match x {
            EngineEvent::Signal(_) => "signal",
            EngineEvent::PositionClosed(_) => "closed",
            EngineEvent::StateChange { .. } => "state",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["signal", "closed", "state"]);
    let EngineEvent::Signal(sig) = &ev[0] else {
        unreachable!()
    };
    assert_eq!(
        (sig.side, sig.kind, sig.price, sig.at_ms),
        (SignalSide::Sell, SignalKind::ForcedExit, 101.0, 4_000)
    );
    assert!(
        sig.reason.starts_with("closed at market by request"),
        "{sig:?}"
    );

    // entry 100.02, qty = 100 / 100.02; exit = 101 x (1 - 2 bps) = 100.9798;
    // fees = 0.06 + qty x 100.9798 x 0.0006; realized = qty x (100.9798 - 100.02) - fees.
    let EngineEvent::PositionClosed(p) = &ev[1] else {
        unreachable!()
    };
    let qty = 100.0 / 100.02;
    let exit = 100.9798;
    let fees = 0.06 + qty * exit * 0.0006;
    approx(p.exit_price.unwrap_or_default(), exit);
    approx(p.fees, fees);
    approx(p.realized_pnl, qty * (exit - 100.02) - fees);
    assert_eq!(p.closed_at_ms, Some(4_000));
    assert_eq!(p.status, PositionStatus::Closed);
    assert!(e.positions(S).is_empty());

    // The book counts it like any closed trade.
    let view = e.session(S).unwrap();
    approx(view.realized_pnl, p.realized_pnl);
    assert_eq!((view.closed_trades, view.signals), (1, 2));
    assert_eq!(e.closed_trades(S).len(), 1);

    // The instance cools down 10 s, then monitors (and the always-true entry fires again).
    assert_eq!(state(&e), InstanceState::Cooldown);
    let reason = &e.instances(S)[0].reason;
    assert!(
        reason.starts_with("closed at market by request: exit 100.98 USDT (last 101.00"),
        "{reason}"
    );
    assert!(reason.contains("cooldown 10 s"), "{reason}");
    e.apply(EngineInput::Tick, 13_999);
    assert_eq!(state(&e), InstanceState::Cooldown);
    e.apply(EngineInput::Tick, 14_000);
    assert_eq!(state(&e), InstanceState::EntrySignal);
}

#[test]
fn close_at_market_overtakes_a_pending_exit() {
    let mut e = engine();
    start(&mut e, 0);
    open_at_100(&mut e);
    // +80 % on margin at 5x: 100 -> 116 meets `pnl_pct >= 50`: EXIT_SIGNAL, fill pending.
    e.apply(trade(116.0), 3_000);
    assert_eq!(state(&e), InstanceState::ExitSignal);
    let ev = e.apply(close(), 3_500);
    assert!(rejected(&ev).is_empty(), "{ev:?}");
    assert_eq!(state(&e), InstanceState::Cooldown);
    // The next trade fills nothing: the position is gone.
    let ev = e.apply(trade(117.0), 4_000);
    assert!(
        !ev.iter()
            .any(|x| matches!(x, EngineEvent::PositionClosed(_)))
    );
    assert_eq!(e.session(S).unwrap().closed_trades, 1);
}

#[test]
fn close_at_market_refusals_say_why() {
    let mut e = engine();
    let ev = e.apply(close(), 0);
    assert_eq!(rejected(&ev), vec!["no running session `s1`".to_string()]);
    start(&mut e, 0);
    let ev = e.apply(
        EngineInput::ClosePosition {
            session: S.into(),
            symbol: "Y_USDT".into(),
        },
        1,
    );
    assert_eq!(
        rejected(&ev),
        vec!["session `s1` has no Y_USDT".to_string()]
    );
    let ev = e.apply(close(), 2);
    assert_eq!(
        rejected(&ev),
        vec!["X_USDT has no open paper position (it is MONITORING)".to_string()]
    );
    // An entry signalled but not filled is no position either.
    e.apply(trade(100.0), 3);
    let ev = e.apply(close(), 4);
    assert_eq!(
        rejected(&ev),
        vec!["X_USDT has no open paper position (it is ENTRY_SIGNAL)".to_string()]
    );
    assert_eq!(e.stats().rejected_commands, 4);
    assert_eq!(e.session(S).unwrap().closed_trades, 0);
}

#[test]
fn paused_strategy_monitors_without_entering_and_resumes() {
    let mut e = engine();
    start(&mut e, 0);
    let ev = e.apply(pause(true), 500);
    assert!(rejected(&ev).is_empty());
    assert!(e.session(S).unwrap().paused);

    // Entry conditions hold and show as met, but no signal while paused.
    let ev = e.apply(trade(100.0), 1_000);
    assert!(
        !ev.iter().any(|x| matches!(x, EngineEvent::Signal(_))),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|x| matches!(x, EngineEvent::ConditionsChanged { .. }))
    );
    assert_eq!(state(&e), InstanceState::Monitoring);
    let c = e.conditions(S, X).unwrap();
    assert!(c[0].met && c[0].value == Some(100.0), "{c:?}");
    e.apply(EngineInput::Tick, 2_000);
    assert_eq!(state(&e), InstanceState::Monitoring);

    // Pausing twice changes nothing; resuming lets the next evaluation enter.
    assert!(e.apply(pause(true), 2_500).is_empty());
    e.apply(pause(false), 3_000);
    assert!(!e.session(S).unwrap().paused);
    let ev = e.apply(trade(100.0), 4_000);
    assert!(ev.iter().any(|x| matches!(
        x,
        EngineEvent::Signal(Signal {
            kind: SignalKind::Entry,
            ..
        })
    )));
    assert_eq!(state(&e), InstanceState::EntrySignal);
}

#[test]
fn pause_cancels_a_pending_entry_and_keeps_exits_working() {
    let mut e = engine();
    start(&mut e, 0);
    e.apply(trade(100.0), 1_000);
    assert_eq!(state(&e), InstanceState::EntrySignal);
    let ev = e.apply(pause(true), 1_500);
    let to: Vec<(InstanceState, InstanceState, String)> = ev
        .iter()
        .filter_map(|x| match x {
            EngineEvent::StateChange {
                from, to, reason, ..
            } => Some((*from, *to, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        to,
        vec![(
            InstanceState::EntrySignal,
            InstanceState::Monitoring,
            "strategy paused: the pending entry was cancelled".to_string()
        )]
    );
    // The trade that would have filled it opens nothing.
    e.apply(trade(100.0), 2_000);
    assert!(e.positions(S).is_empty());
    assert_eq!(state(&e), InstanceState::Monitoring);

    // A position opened before the pause still exits on its condition.
    e.apply(pause(false), 3_000);
    open_at_100_from(&mut e, 4_000);
    e.apply(pause(true), 6_000);
    e.apply(trade(116.0), 7_000);
    assert_eq!(state(&e), InstanceState::ExitSignal);
    e.apply(trade(116.0), 8_000);
    assert_eq!(state(&e), InstanceState::Cooldown);
    assert_eq!(e.session(S).unwrap().closed_trades, 1);
}

fn open_at_100_from(e: &mut Engine, at: i64) {
    e.apply(trade(100.0), at);
    e.apply(trade(100.0), at + 1_000);
    assert_eq!(state(e), InstanceState::InPosition);
}

#[test]
fn pause_and_resume_of_a_session_not_running_are_refused() {
    let mut e = engine();
    assert_eq!(
        rejected(&e.apply(pause(true), 0)),
        vec!["no running session `s1`".to_string()]
    );
    assert_eq!(
        rejected(&e.apply(pause(false), 0)),
        vec!["no running session `s1`".to_string()]
    );
    // A restarted session starts unpaused: the backend pauses it again if it was.
    start(&mut e, 1);
    e.apply(pause(true), 2);
    e.apply(EngineInput::StopSession { id: S.into() }, 3);
    start(&mut e, 4);
    assert!(!e.session(S).unwrap().paused);
}
