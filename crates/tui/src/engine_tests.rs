//! Snapshots and keys of the engine panels (indicators, conditions, signals, positions,
//! summary line) on top of the populated screen of `tests`.

use super::action::Action;
use super::app::{App, DetailView};
use super::tests::{NOW, env, key, msg, populated, render, screen_text, with_link};
use super::theme::Palette;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;
use trademon_client::link::LinkState;
use trademon_protocol::*;

fn full<F: FnOnce(&mut Snapshot)>(stream: StreamName, fill: F) -> ServerMsg {
    let mut snap = Snapshot::default();
    fill(&mut snap);
    ServerMsg::FullUpdate(env(stream, Some("majors"), 1, NOW, snap))
}

fn indicators(symbol: &str, vals: &[(&str, f64, bool)]) -> SymbolIndicators {
    let values: BTreeMap<String, IndicatorValue> = vals
        .iter()
        .map(|(n, v, stale)| {
            let iv = IndicatorValue {
                value: Some(*v),
                updated_at: Some(NOW - if *stale { 90_000 } else { 500 }),
                stale: *stale,
            };
            (n.to_string(), iv)
        })
        .collect();
    SymbolIndicators {
        symbol: symbol.into(),
        values,
    }
}

fn cond(kind: ConditionKind, expr: &str, value: Option<f64>, pct: f64, met: bool) -> ConditionInfo {
    let mut parts = expr.split(' ');
    let indicator = parts.next().unwrap_or_default().to_string();
    let op = parts.next().unwrap_or_default().to_string();
    let threshold = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0.0);
    ConditionInfo {
        kind,
        expr: expr.into(),
        indicator,
        op,
        threshold,
        value,
        progress_pct: pct,
        met,
        stale: false,
    }
}

fn position(symbol: &str, entry: f64, mark: f64, alert: bool) -> PositionInfo {
    PositionInfo {
        id: 7,
        symbol: symbol.into(),
        direction: "long".into(),
        status: PositionStatus::Open,
        size_quote: 100.0,
        leverage: 5.0,
        entry_price: entry,
        mark_price: mark,
        unrealized_pnl: 100.0 / entry * (mark - entry),
        realized_pnl: 0.0,
        fees: 0.06,
        pnl_pct: (100.0 / entry * (mark - entry) - 0.06) / 20.0 * 100.0,
        liquidation_price: entry * 0.805,
        distance_to_liq_pct: (mark - entry * 0.805) / mark * 100.0,
        alert,
        opened_at_ms: NOW - 12_000,
        closed_at_ms: None,
        exit_price: None,
        close_reason: None,
    }
}

/// A closed paper trade: `realized` net of `fees`, closed `ago_ms` before `NOW`.
fn trade(
    id: u64,
    symbol: &str,
    direction: &str,
    (entry, exit): (f64, f64),
    (realized, fees): (f64, f64),
    ago_ms: i64,
    reason: &str,
) -> PositionInfo {
    PositionInfo {
        id,
        direction: direction.into(),
        status: PositionStatus::Closed,
        mark_price: exit,
        unrealized_pnl: 0.0,
        realized_pnl: realized,
        fees,
        pnl_pct: realized / 20.0 * 100.0,
        alert: false,
        closed_at_ms: Some(NOW - ago_ms),
        exit_price: Some(exit),
        close_reason: Some(reason.into()),
        ..position(symbol, entry, exit, false)
    }
}

/// The populated screen plus live engine data for `majors`: indicators (ETH stale, XRP
/// warming up), BTC's conditions (two entry conditions met), two signals and two open
/// positions (SOL close to liquidation).
pub(super) fn engine_populated() -> App {
    let mut app = with_link(populated(Palette::Ansi16), LinkState::Live);
    msg(
        &mut app,
        full(StreamName::Indicators, |s| {
            s.indicators = Some(vec![
                indicators(
                    "BTC_USDT",
                    &[
                        ("last", 95130.1, false),
                        ("change_pct_1m", 0.62, false),
                        ("change_pct_5m", 1.9, false),
                        ("vwap_dev_pct_5m", 0.93, false),
                        ("buy_ratio_1m", 0.71, false),
                        ("trades_per_s_1m", 3.4, false),
                        ("volume_surge_5m", 2.4, false),
                        ("volume_1m", 1_234_567.0, false),
                        ("rsi_14_1m", 68.2, false),
                    ],
                ),
                indicators(
                    "ETH_USDT",
                    &[
                        ("last", 3512.25, true),
                        ("change_pct_1m", -0.12, true),
                        ("buy_ratio_1m", 0.48, true),
                    ],
                ),
                indicators(
                    "SOL_USDT",
                    &[("last", 149.871, false), ("change_pct_1m", -3.5, false)],
                ),
            ])
        }),
    );
    let entry = ConditionKind::Entry;
    let exit = ConditionKind::Exit;
    msg(
        &mut app,
        full(StreamName::Conditions, |s| {
            s.conditions = Some(vec![SymbolConditions {
                symbol: "BTC_USDT".into(),
                state: "MONITORING".into(),
                conditions: vec![
                    cond(entry, "volume_surge_5m > 3", Some(2.4), 70.0, false),
                    cond(entry, "change_pct_1m > 0.5", Some(0.62), 100.0, true),
                    cond(entry, "buy_ratio_1m > 0.6", Some(0.71), 100.0, true),
                    cond(exit, "pnl_pct >= 3", None, 0.0, false),
                    cond(exit, "pnl_pct <= -1.5", None, 0.0, false),
                    cond(exit, "position_age_s > 600", None, 0.0, false),
                ],
            }])
        }),
    );
    let signal =
        |id: u64, symbol: &str, side: Side, kind: SignalKind, price: f64, ago: i64| SignalInfo {
            id,
            symbol: symbol.into(),
            side,
            price,
            reason: match kind {
                SignalKind::Entry => "all entry conditions met".into(),
                _ => "pnl_pct >= 3 (3.4)".into(),
            },
            kind,
            at_ms: NOW - ago,
        };
    msg(
        &mut app,
        full(StreamName::Signals, |s| {
            s.signals = Some(vec![
                signal(1, "SOL_USDT", Side::Buy, SignalKind::Entry, 152.4, 60_000),
                signal(2, "ETH_USDT", Side::Buy, SignalKind::Entry, 3498.1, 12_000),
            ])
        }),
    );
    msg(
        &mut app,
        full(StreamName::Positions, |s| {
            s.positions = Some(Box::new(PositionsSnapshot {
                open: vec![
                    position("ETH_USDT", 3498.8, 3512.25, false),
                    position("SOL_USDT", 152.43, 125.1, true),
                ],
                // Newest first: a 50x short liquidated, a long that took profit.
                closed: vec![
                    trade(
                        5,
                        "BTC_USDT",
                        "short",
                        (94_100.0, 95_511.5),
                        (-2.1209, 0.1209),
                        30_000,
                        "liquidated: mark 95600 crossed the liquidation price 95511.5 (50x isolated); margin 2 lost",
                    ),
                    trade(
                        3,
                        "ETH_USDT",
                        "long",
                        (3401.2, 3526.35),
                        (3.6209, 0.1191),
                        95_000,
                        "exit condition met: pnl_pct >= 3",
                    ),
                ],
                totals: SessionTotals {
                    started_ms: Some(NOW - 192_000),
                    realized_pnl: 1.5,
                    unrealized_pnl: -17.55,
                    fees: 0.12,
                    open_positions: 2,
                    signals: 2,
                    closed_fees: 0.24,
                    closed_trades: 2,
                    winning_trades: 1,
                },
            }))
        }),
    );
    app
}

fn press(app: &mut App, code: KeyCode) {
    app.update(Action::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

#[test]
fn engine_panels_all_at_once_at_200x50() {
    let app = engine_populated();
    let t = render(&app, 200, 50);
    insta::assert_snapshot!("engine_full_200x50", t.backend());
}

#[test]
fn engine_detail_views_cycle_at_80x24() {
    let mut app = engine_populated();
    for view in DetailView::ALL {
        assert_eq!(app.detail, view);
        let t = render(&app, 80, 24);
        insta::assert_snapshot!(
            format!("engine_{}_80x24", view.title().to_lowercase()),
            t.backend()
        );
        press(&mut app, KeyCode::Char('v'));
    }
    // Round trip, and back with `V`.
    assert_eq!(app.detail, DetailView::Machines);
    press(&mut app, KeyCode::Char('V'));
    assert_eq!(app.detail, DetailView::Trades);
    press(&mut app, KeyCode::Left);
    assert_eq!(app.detail, DetailView::Positions);
}

#[test]
fn the_condition_panel_follows_the_selection() {
    let mut app = engine_populated();
    press(&mut app, KeyCode::Char('v'));
    press(&mut app, KeyCode::Char('v'));
    assert_eq!(app.detail, DetailView::Conditions);
    let text = render(&app, 80, 24).backend().to_string();
    assert!(text.contains("Conditions BTC_USDT · MONITORING"), "{text}");
    assert!(text.contains("[=======---]  70%"), "{text}");
    assert!(text.contains("✓ met"), "{text}");
    press(&mut app, KeyCode::Down);
    let text = render(&app, 80, 24).backend().to_string();
    assert!(text.contains("Conditions ETH_USDT"), "{text}");
    assert!(text.contains("no condition data"), "{text}");
}

#[test]
fn alerts_and_stale_values_are_marked_in_text() {
    let mut app = engine_populated();
    for _ in 0..4 {
        press(&mut app, KeyCode::Char('v'));
    }
    let text = render(&app, 80, 24).backend().to_string();
    assert!(text.contains("LIQ RISK"), "{text}");
    let mut app = engine_populated();
    press(&mut app, KeyCode::Char('v'));
    let text = render(&app, 80, 24).backend().to_string();
    assert!(text.contains("3512.25*"), "stale value marked: {text}");
    assert!(text.contains("PAPER"), "{text}");
    assert!(text.contains("running 3m12s"), "{text}");
}

/// Every screen the tests build, at the three sizes, in every detail view and with the help,
/// carries no `#`: numbers always fit (the gauge uses `=`).
#[test]
fn no_hash_anywhere_at_80x24_120x40_200x50() {
    let mut apps = vec![
        with_link(populated(Palette::Ansi16), LinkState::Live),
        engine_populated(),
        small_values(),
    ];
    let mut help = engine_populated();
    help.update(key(KeyCode::Char('?')));
    apps.push(help);
    for mut app in apps {
        for _ in DetailView::ALL {
            for (w, h) in [(80, 24), (120, 40), (200, 50)] {
                let text = screen_text(&render(&app, w, h));
                assert!(!text.contains('#'), "{w}x{h} {:?}:\n{text}", app.detail);
            }
            app.update(key(KeyCode::Char('v')));
        }
    }
}

#[test]
fn engine_screen_at_120x40() {
    let app = engine_populated();
    insta::assert_snapshot!("engine_120x40", render(&app, 120, 40).backend());
}

/// Cents of PnL and fees, a funding rate of 0.01 % and a condition value of 0.034: the values
/// that used to render as `####`.
fn small_values() -> App {
    let mut app = engine_populated();
    msg(
        &mut app,
        ServerMsg::Position(env(
            StreamName::Positions,
            Some("majors"),
            5,
            NOW,
            PositionInfo {
                id: 9,
                symbol: "BTC_USDT".into(),
                direction: "short".into(),
                status: PositionStatus::Open,
                size_quote: 5.0,
                leverage: 50.0,
                entry_price: 98264.92458370002,
                mark_price: 98260.1,
                unrealized_pnl: 0.0031,
                realized_pnl: 0.0,
                fees: 0.0042,
                pnl_pct: 0.034,
                liquidation_price: 100137.4471,
                distance_to_liq_pct: 1.91,
                alert: false,
                opened_at_ms: NOW - 5_000,
                closed_at_ms: None,
                exit_price: None,
                close_reason: None,
            },
        )),
    );
    msg(
        &mut app,
        ServerMsg::FullUpdate(env(
            StreamName::Conditions,
            Some("majors"),
            7,
            NOW,
            Snapshot {
                conditions: Some(vec![SymbolConditions {
                    symbol: "BTC_USDT".into(),
                    state: "MONITORING".into(),
                    conditions: vec![ConditionInfo {
                        kind: ConditionKind::Entry,
                        expr: "vwap_dev_pct_5m > 0.05".into(),
                        indicator: "vwap_dev_pct_5m".into(),
                        op: ">".into(),
                        threshold: 0.05,
                        value: Some(0.034),
                        progress_pct: 68.0,
                        met: false,
                        stale: false,
                    }],
                }]),
                ..Default::default()
            },
        )),
    );
    app
}

#[test]
fn small_values_read_whole_not_as_hashes() {
    let mut app = small_values();
    while app.detail != DetailView::Positions {
        app.update(key(KeyCode::Char('v')));
    }
    let text = screen_text(&render(&app, 80, 24));
    assert!(
        text.contains("+0.0031"),
        "PnL of a third of a cent:\n{text}"
    );
    assert!(
        text.contains("98264.9"),
        "entry fill rounded like every price:\n{text}"
    );
    assert!(!text.contains("98264.92458"), "{text}");
    assert!(
        text.contains("+2 cols hidden"),
        "dropped columns are announced:\n{text}"
    );
    assert!(text.contains("short"), "the direction never drops:\n{text}");
    let wide = screen_text(&render(&app, 200, 50));
    assert!(wide.contains("0.0042"), "fees of 0.0042:\n{wide}");
    assert!(
        wide.contains("0.034%"),
        "a condition value of 0.034:\n{wide}"
    );
    assert!(wide.contains("vwap_dev_pct_5m > 0.05%"), "{wide}");
    assert!(
        wide.contains("71.0%"),
        "the buy ratio as a percentage:\n{wide}"
    );
    assert!(!wide.contains("0.71 "), "never as a fraction:\n{wide}");
}
