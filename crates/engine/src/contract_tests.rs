//! The engine with contract specifications: volumes in quote currency from the exchange's
//! contract size, paper order sizing, per-symbol maintenance margin, refused contracts FAILED.

use super::*;
use trademon_core::market::Side;
use trademon_protocol::DataSource;

const S: &str = "s1";

fn spec(
    symbol: &str,
    contract_size: f64,
    min_vol: f64,
    max_leverage: f64,
    mmr: f64,
) -> ContractSpec {
    ContractSpec {
        symbol: symbol.into(),
        contract_size,
        price_scale: 8,
        price_unit: 1e-8,
        vol_scale: 0,
        vol_unit: 1.0,
        min_vol,
        max_vol: 1_000_000.0,
        max_leverage,
        maintenance_margin_rate: mmr,
        state: 0,
    }
}

fn contracts(specs: Vec<ContractSpec>, unlisted: &[&str]) -> EngineInput {
    EngineInput::Market(MarketEvent::Contracts(ContractUpdate {
        specs,
        unlisted: unlisted
            .iter()
            .map(|s| (s.to_string(), NOT_LISTED.to_string()))
            .collect(),
    }))
}

fn trades(symbol: &str, list: &[(f64, f64)]) -> EngineInput {
    EngineInput::Market(MarketEvent::Trades {
        symbol: symbol.into(),
        trades: list
            .iter()
            .map(|&(price, contracts)| Trade {
                self_trade: false,
                id: None,
                price,
                contracts,
                taker: Side::Buy,
                ts_ms: 0,
            })
            .collect(),
        source: DataSource::Ws,
    })
}

fn engine(strategy: StrategySettings) -> Engine {
    Engine::new(
        EngineSettings::default(),
        BTreeMap::from([("t".to_string(), strategy)]),
    )
    .unwrap()
}

fn start(e: &mut Engine, symbols: &[&str], now: i64) -> Vec<EngineEvent> {
    e.apply(
        EngineInput::StartSession {
            id: S.into(),
            strategy: "t".into(),
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
        },
        now,
    )
}

fn volume_1m(e: &Engine, symbol: &str) -> f64 {
    e.indicators(symbol)
        .unwrap()
        .values
        .iter()
        .find(|v| v.name == IndicatorId::Volume1m)
        .and_then(|v| v.value)
        .unwrap()
}

fn state(e: &Engine, symbol: &str) -> (InstanceState, String) {
    let i = e
        .instances(S)
        .into_iter()
        .find(|i| i.symbol == symbol)
        .unwrap();
    (i.state, i.reason)
}

fn approx(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
}

/// Enters on the first trade batch (buy ratio 1) and never exits by itself.
fn always_long(size_quote: f64, leverage: f64) -> StrategySettings {
    StrategySettings {
        entry: EntrySettings {
            all: vec!["buy_ratio_1m > 0.5".into()],
        },
        exit: ExitSettings {
            any: vec!["position_age_s > 100000".into()],
        },
        size_quote,
        leverage,
        slippage_bps: 0.0,
        cooldown_s: 60,
        ..StrategySettings::default_strategy()
    }
}

#[test]
fn pepe_and_doge_volumes_use_their_contract_sizes() {
    let mut e = engine(always_long(100.0, 5.0));
    e.apply(
        contracts(
            vec![
                spec("PEPE_USDT", 10_000_000.0, 1.0, 50.0, 0.015),
                spec("DOGE_USDT", 100.0, 1.0, 100.0, 0.01),
            ],
            &[],
        ),
        0,
    );
    // 15 PEPE contracts at 0.000012: 15 x 10^7 x 0.000012 = 1800 USDT (not 0.00018).
    e.apply(trades("PEPE_USDT", &[(0.000012, 15.0)]), 1_000);
    approx(volume_1m(&e, "PEPE_USDT"), 1800.0);
    // 60 DOGE contracts at 0.35: 60 x 100 x 0.35 = 2100 USDT (not 21).
    e.apply(trades("DOGE_USDT", &[(0.35, 60.0)]), 1_000);
    approx(volume_1m(&e, "DOGE_USDT"), 2100.0);
    assert_eq!(e.contract_size("PEPE_USDT"), 10_000_000.0);
    assert_eq!(e.contract_size("UNKNOWN_USDT"), 1.0);
}

#[test]
fn a_late_spec_rescales_the_volume_already_counted_and_config_overrides_it() {
    let mut e = engine(always_long(100.0, 5.0));
    e.apply(trades("DOGE_USDT", &[(0.35, 60.0)]), 1_000);
    approx(volume_1m(&e, "DOGE_USDT"), 21.0);
    e.apply(
        contracts(vec![spec("DOGE_USDT", 100.0, 1.0, 100.0, 0.01)], &[]),
        1_500,
    );
    approx(volume_1m(&e, "DOGE_USDT"), 2100.0);

    let mut settings = EngineSettings::default();
    settings.contract_sizes.insert("DOGE_USDT".into(), 10.0);
    let mut e = Engine::new(settings, BTreeMap::new()).unwrap();
    e.apply(
        contracts(vec![spec("DOGE_USDT", 100.0, 1.0, 100.0, 0.01)], &[]),
        0,
    );
    e.apply(trades("DOGE_USDT", &[(0.35, 60.0)]), 1_000);
    approx(volume_1m(&e, "DOGE_USDT"), 210.0);
}

#[test]
fn order_is_rounded_down_to_whole_contracts_with_the_symbols_margin_rate() {
    let mut e = engine(always_long(100.0, 50.0));
    // BTC: 0.0001 BTC per contract, max 20x, mmr 0.4 %.
    e.apply(
        contracts(vec![spec("BTC_USDT", 0.0001, 1.0, 20.0, 0.004)], &[]),
        0,
    );
    start(&mut e, &["BTC_USDT"], 0);
    e.apply(trades("BTC_USDT", &[(95_000.0, 3.0)]), 1_000);
    assert_eq!(state(&e, "BTC_USDT").0, InstanceState::EntrySignal);
    e.apply(trades("BTC_USDT", &[(95_000.0, 1.0)]), 2_000);
    let (st, reason) = state(&e, "BTC_USDT");
    assert_eq!(st, InstanceState::InPosition, "{reason}");
    let p = &e.positions(S)[0];
    // 100 / (95 000 x 0.0001) = 10.53 contracts -> 10 = 0.001 BTC = 95 USDT.
    approx(p.quantity, 0.001);
    approx(p.size_quote, 95.0);
    assert_eq!(p.leverage, 20.0, "capped at the contract's maximum");
    // Long liquidation with the symbol's mmr: 95 000 x (1 - 1/20 + 0.004).
    approx(p.liquidation_price, 95_000.0 * (1.0 - 0.05 + 0.004));
    assert!(reason.contains("10 contracts x 0.0001"), "{reason}");
    assert!(reason.contains("leverage capped at 20x"), "{reason}");
}

#[test]
fn an_order_under_the_minimum_is_refused_without_a_position() {
    let mut e = engine(always_long(100.0, 5.0));
    // One PEPE contract is 120 USDT at 0.000012: 100 USDT is under one contract.
    e.apply(
        contracts(vec![spec("PEPE_USDT", 10_000_000.0, 1.0, 50.0, 0.015)], &[]),
        0,
    );
    start(&mut e, &["PEPE_USDT"], 0);
    e.apply(trades("PEPE_USDT", &[(0.000012, 3.0)]), 1_000);
    let ev = e.apply(trades("PEPE_USDT", &[(0.000012, 3.0)]), 2_000);
    assert!(e.positions(S).is_empty());
    assert!(
        !ev.iter()
            .any(|e| matches!(e, EngineEvent::PositionOpened(_)))
    );
    let (st, reason) = state(&e, "PEPE_USDT");
    assert_eq!(st, InstanceState::Cooldown);
    assert!(reason.starts_with("entry refused:"), "{reason}");
    assert!(
        reason.contains("under the MEXC minimum of 1 contracts"),
        "{reason}"
    );
}

#[test]
fn without_a_spec_the_configured_margin_rate_is_the_fallback() {
    let mut e = engine(always_long(100.0, 5.0));
    start(&mut e, &["X_USDT"], 0);
    e.apply(trades("X_USDT", &[(100.0, 3.0)]), 1_000);
    e.apply(trades("X_USDT", &[(100.0, 3.0)]), 2_000);
    let p = &e.positions(S)[0];
    approx(p.size_quote, 100.0);
    approx(p.liquidation_price, 100.0 * (1.0 - 0.2 + 0.005));
}

#[test]
fn unlisted_symbol_is_failed_once_and_never_monitoring() {
    let mut e = engine(always_long(100.0, 5.0));
    start(&mut e, &["BTC_USDT", "NOPE_USDT"], 0);
    let ev = e.apply(
        contracts(
            vec![spec("BTC_USDT", 0.0001, 1.0, 125.0, 0.004)],
            &["NOPE_USDT"],
        ),
        10,
    );
    let failed: Vec<_> = ev
        .iter()
        .filter(|e| {
            matches!(
                e,
                EngineEvent::StateChange {
                    to: InstanceState::Failed,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(failed.len(), 1, "{ev:?}");
    assert_eq!(
        state(&e, "NOPE_USDT"),
        (InstanceState::Failed, NOT_LISTED.to_string())
    );
    assert_eq!(state(&e, "BTC_USDT").0, InstanceState::Monitoring);
    // The WebSocket refusing it too adds nothing.
    let again = e.apply(
        EngineInput::Market(MarketEvent::SymbolFailed {
            symbol: "NOPE_USDT".into(),
            reason: "Contract [NOPE_USDT] not exists".into(),
        }),
        20,
    );
    assert!(
        !again
            .iter()
            .any(|e| matches!(e, EngineEvent::StateChange { .. })),
        "{again:?}"
    );
    // Data for it never moves it out of FAILED.
    e.apply(trades("NOPE_USDT", &[(1.0, 3.0)]), 1_000);
    e.apply(EngineInput::Tick, 5_000);
    assert_eq!(state(&e, "NOPE_USDT").0, InstanceState::Failed);
}

#[test]
fn a_refused_symbol_added_later_starts_failed_and_a_disabled_one_says_why() {
    let mut e = engine(always_long(100.0, 5.0));
    let mut offline = spec("OLD_USDT", 1.0, 1.0, 20.0, 0.01);
    offline.state = 3;
    e.apply(contracts(vec![offline], &["NOPE_USDT"]), 0);
    let ev = start(&mut e, &["OLD_USDT"], 0);
    assert!(matches!(
        ev[0],
        EngineEvent::InstanceAdded {
            state: InstanceState::Failed,
            ..
        }
    ));
    assert_eq!(
        state(&e, "OLD_USDT").1,
        "not tradable on MEXC: offline (state 3)"
    );
    let ev = e.apply(
        EngineInput::AddSymbol {
            session: S.into(),
            symbol: "NOPE_USDT".into(),
        },
        1,
    );
    assert!(matches!(
        ev[0],
        EngineEvent::InstanceAdded {
            state: InstanceState::Failed,
            ..
        }
    ));
    assert_eq!(e.contract_failure("NOPE_USDT").as_deref(), Some(NOT_LISTED));
    // Enabled again (a fresh answer after a stale cache): back to monitoring.
    e.apply(
        contracts(vec![spec("OLD_USDT", 1.0, 1.0, 20.0, 0.01)], &[]),
        2,
    );
    assert_eq!(state(&e, "OLD_USDT").0, InstanceState::Monitoring);
}

#[test]
fn websocket_refusal_fails_a_running_instance() {
    let mut e = engine(always_long(100.0, 5.0));
    start(&mut e, &["NOPE_USDT"], 0);
    assert_eq!(state(&e, "NOPE_USDT").0, InstanceState::Monitoring);
    let ev = e.apply(
        EngineInput::Market(MarketEvent::SymbolFailed {
            symbol: "NOPE_USDT".into(),
            reason: "Contract [NOPE_USDT] not exists".into(),
        }),
        10,
    );
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, EngineEvent::StateChange { .. }))
            .count(),
        1
    );
    assert_eq!(
        state(&e, "NOPE_USDT"),
        (InstanceState::Failed, NOT_LISTED.to_string())
    );
}
