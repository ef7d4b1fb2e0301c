//! The symbol view, driven by protocol messages and keys only: whole screens at 80x24 and
//! 200x50 in colour and without, loading and link-down states, keys and the effects they ask
//! of the connection.

use super::action::{Action, Effect};
use super::tests::{NOW, key, msg, populated, render, screen_text, with_link};
use super::theme::Palette;
use crate::App;
use crossterm::event::KeyCode;
use ratatui::style::Color;
use trademon_client::link::LinkState;
use trademon_client::{ClientCommand, ClientEvent, SymbolView};
use trademon_protocol::*;

/// Min1 candles up to NOW's minute, a deterministic walk around 95 000 with a dip and a rally.
pub(super) fn candles(n: i64) -> Vec<Candle> {
    let last_t = NOW / 1000 / 60 * 60;
    let mut price = 95_000.0;
    (0..n)
        .map(|i| {
            let t = last_t - (n - 1 - i) * 60;
            let drift = ((i as f64) * 1.3).sin() * 20.0 + ((i as f64) / 9.0).sin() * 9.0;
            let open = price;
            let close = (open + drift).round();
            price = close;
            let wick = 4.0 + (i % 5) as f64 * 3.0;
            Candle {
                t,
                open,
                high: open.max(close) + wick,
                low: open.min(close) - wick / 2.0,
                close,
                volume: 100.0 + (i % 9) as f64 * 40.0,
                amount: (100.0 + (i % 9) as f64 * 40.0) * close * 0.0001,
            }
        })
        .collect()
}

fn sym_env<T>(stream: StreamName, seq: u64, data: T) -> Envelope<T> {
    Envelope {
        interval: (stream == StreamName::Candles).then_some(Interval::Min1),
        symbol: Some("BTC_USDT".into()),
        stream,
        session_id: None,
        seq,
        ts: NOW,
        data,
    }
}

fn full(stream: StreamName, seq: u64, snap: Snapshot) -> ServerMsg {
    ServerMsg::FullUpdate(sym_env(stream, seq, snap))
}

pub(super) fn book(mid: f64, levels: usize, age_ms: i64) -> BookSnapshot {
    let level = |i: usize, side: f64| BookLevel {
        price: mid + side * (0.05 + i as f64 * 0.5),
        contracts: 1_000.0 + ((i * 7919) % 13) as f64 * 900.0,
        orders: 1 + i as u32,
    };
    BookSnapshot {
        symbol: "BTC_USDT".into(),
        version: 42,
        bids: (0..levels).map(|i| level(i, -1.0)).collect(),
        asks: (0..levels).map(|i| level(i, 1.0)).collect(),
        contract_size: Some(0.0001),
        price_decimals: Some(1),
        exchange_ts_ms: NOW - age_ms,
        received_ms: NOW - age_ms,
        gaps: 1,
        source: DataSource::Ws,
    }
}

pub(super) fn trades(n: usize) -> Vec<TapeTrade> {
    (0..n)
        .map(|i| TapeTrade {
            id: Some(1_000 + i as u64),
            ts_ms: NOW - ((n - i) as i64) * 1_300,
            price: 95_130.0 + ((i % 7) as f64 - 3.0) * 0.5,
            // Every seventh is large: 6 000 contracts of 0.0001 BTC is about 57 000 USDT.
            contracts: if i % 7 == 3 {
                6_000.0
            } else {
                10.0 + (i % 5) as f64 * 25.0
            },
            taker: if i % 3 == 0 { Side::Sell } else { Side::Buy },
            self_trade: i + 2 == n,
        })
        .collect()
}

fn stats_ticker() -> Ticker {
    Ticker {
        symbol: "BTC_USDT".into(),
        last: 95_131.5,
        bid: Some(95_131.4),
        ask: Some(95_131.6),
        change_pct: Some(1.24),
        volume_24h: Some(1.234e9),
        fair_price: Some(95_130.9),
        index_price: Some(95_128.2),
        funding_rate: Some(0.0001),
        next_funding_ms: Some(NOW + 3 * 3_600_000 + 12 * 60_000 + 5_000),
        high_24h: Some(96_020.0),
        low_24h: Some(94_010.5),
        open_interest: Some(123_456.0),
        price_decimals: Some(1),
        received_ms: NOW - 200,
        source: DataSource::Ws,
    }
}

fn indicators() -> ServerMsg {
    let v = |value: f64, stale: bool| IndicatorValue {
        value: Some(value),
        updated_at: Some(NOW),
        stale,
    };
    let values = [
        ("ema_9_1m".to_string(), v(95_118.3, false)),
        ("ema_21_1m".to_string(), v(95_060.7, false)),
        ("vwap_5m".to_string(), v(95_101.2, true)),
    ]
    .into_iter()
    .collect();
    ServerMsg::FullUpdate(super::tests::env(
        StreamName::Indicators,
        Some("majors"),
        1,
        NOW,
        Snapshot {
            indicators: Some(vec![SymbolIndicators {
                symbol: "BTC_USDT".into(),
                values,
            }]),
            ..Default::default()
        },
    ))
}

/// The populated app with BTC_USDT's symbol view open, before any of its streams answered.
fn opened(palette: Palette, link: LinkState) -> (App, Vec<Effect>) {
    let mut app = with_link(populated(palette), link);
    msg(
        &mut app,
        ServerMsg::Ticker(super::tests::env(
            StreamName::MarketData,
            Some("majors"),
            9,
            NOW,
            stats_ticker(),
        )),
    );
    msg(&mut app, indicators());
    app.update(Action::Tick(NOW));
    let effects = app.update(key(KeyCode::Enter));
    (app, effects)
}

/// The symbol view with history, book and tape.
fn loaded(palette: Palette) -> App {
    let (mut app, _) = opened(palette, LinkState::Live);
    msg(
        &mut app,
        full(
            StreamName::Candles,
            5,
            Snapshot {
                candles: Some(Box::new(CandlesUpdate {
                    symbol: "BTC_USDT".into(),
                    interval: Interval::Min1,
                    candles: candles(150),
                    price_decimals: Some(1),
                })),
                ..Default::default()
            },
        ),
    );
    msg(
        &mut app,
        full(
            StreamName::Book,
            3,
            Snapshot {
                book: Some(Box::new(book(95_131.5, 25, 400))),
                ..Default::default()
            },
        ),
    );
    msg(
        &mut app,
        full(
            StreamName::Tape,
            7,
            Snapshot {
                tape: Some(Box::new(TapeUpdate {
                    symbol: "BTC_USDT".into(),
                    trades: trades(40),
                    contract_size: Some(0.0001),
                    price_decimals: Some(1),
                })),
                ..Default::default()
            },
        ),
    );
    app
}

fn sized(app: &App, w: u16, h: u16) -> App {
    let mut app = app.clone();
    app.update(Action::Resize(w, h));
    app
}

#[test]
fn symbol_view_screens() {
    for (palette, name) in [(Palette::Ansi16, "color"), (Palette::None, "none")] {
        let app = loaded(palette);
        for (w, h) in [(80, 24), (200, 50)] {
            let app = sized(&app, w, h);
            let t = render(&app, w, h);
            let text = screen_text(&t);
            for needle in [
                "BTC_USDT Min1",
                "Last 95131.5 ▲",
                "Mark 95130.9",
                "Index 95128.2",
                "Funding 0.0100% in 3h 12m",
                "24h H 96020.0 L 94010.5",
                "Vol 1.23B USDT",
                "OI 123.5k ct (1.2M USDT)",
                "Book · 1 gap resynced",
                "Tape (newest first)",
                "◀95131.5",
                "big self",
                "newest",
                "esc back",
            ] {
                assert!(
                    text.contains(needle),
                    "{name} {w}x{h} lacks {needle:?}:\n{text}"
                );
            }
            assert!(!text.contains('#'), "{name} {w}x{h} shows a `#`:\n{text}");
            assert!(!text.contains("loading"), "{name} {w}x{h}:\n{text}");
            insta::assert_snapshot!(format!("symbol_{name}_{w}x{h}"), t.backend());
        }
    }
}

#[test]
fn without_colour_rising_candles_are_hollow_and_nothing_is_coloured() {
    let app = sized(&loaded(Palette::None), 200, 50);
    let t = render(&app, 200, 50);
    for cell in t.backend().buffer().content() {
        assert_eq!(cell.fg, Color::Reset, "fg at {:?}", cell.symbol());
        assert_eq!(cell.bg, Color::Reset, "bg at {:?}", cell.symbol());
    }
    let text = screen_text(&t);
    assert!(
        text.contains('┃') && text.contains('█'),
        "hollow and filled bodies:\n{text}"
    );
    // In colour both are blocks, told apart by colour: up and down colours both appear.
    let app = sized(&loaded(Palette::Ansi16), 200, 50);
    let t = render(&app, 200, 50);
    let theme = super::theme::Theme::new(Palette::Ansi16);
    let colours: Vec<Color> = t
        .backend()
        .buffer()
        .content()
        .iter()
        .filter(|c| c.symbol() == "█")
        .map(|c| c.fg)
        .collect();
    for want in [theme.up().fg, theme.down().fg] {
        assert!(colours.contains(&want.unwrap_or(Color::Reset)), "{want:?}");
    }
    assert!(!screen_text(&t).contains('┃'), "colour draws filled bodies");
}

#[test]
fn panels_say_loading_until_their_full_update_and_the_link_state_when_down() {
    let (app, effects) = opened(Palette::Ansi16, LinkState::Live);
    assert_eq!(
        effects,
        vec![Effect::Client(ClientCommand::SetSymbolView(Some(
            SymbolView {
                symbol: "BTC_USDT".into(),
                interval: Interval::Min1,
            }
        )))]
    );
    let mut app = app;
    app.update(Action::Tick(NOW + 3_000));
    let t = render(&app, 80, 24);
    let text = screen_text(&t);
    for needle in [
        "loading Min1 candles… 3s",
        "loading book… 3s",
        "loading trades… 3s",
    ] {
        assert!(text.contains(needle), "lacks {needle:?}:\n{text}");
    }
    insta::assert_snapshot!("symbol_loading_80x24", t.backend());

    // The book arrives; the others still load. A refused stream's error shows at the bottom.
    msg(
        &mut app,
        full(
            StreamName::Book,
            1,
            Snapshot {
                book: Some(Box::new(book(95_131.5, 3, 0))),
                ..Default::default()
            },
        ),
    );
    app.update(Action::Client(ClientEvent::Notice(LogEvent {
        ts: NOW + 3_000,
        level: Level::Warn,
        name: "link.error".into(),
        message: "unknown_stream: candles is not served".into(),
        count: 1,
    })));
    let text = screen_text(&render(&app, 80, 24));
    assert!(text.contains("spread 0.1"), "{text}");
    assert!(text.contains("loading Min1 candles"), "{text}");
    assert!(text.contains("link.error: unknown_stream"), "{text}");

    // The link goes down: the status line says so and the book shows its age.
    let mut app = with_link(app, LinkState::Reconnecting);
    app.update(Action::Tick(NOW + 9_000));
    let t = render(&app, 80, 24);
    let text = screen_text(&t);
    assert!(text.contains("backend link Reconnecting"), "{text}");
    assert!(
        text.contains("6s old"),
        "the book's age (it came at 3 s):\n{text}"
    );
    assert!(
        text.contains("loading trades… 9s (backend link") && text.contains("Reconnecting…)"),
        "loading says why:\n{text}"
    );
    insta::assert_snapshot!("symbol_link_down_80x24", t.backend());
}

#[test]
fn a_closed_view_stops_its_streams_and_esc_returns() {
    let mut app = loaded(Palette::Ansi16);
    let effects = app.update(key(KeyCode::Esc));
    assert_eq!(
        effects,
        vec![Effect::Client(ClientCommand::SetSymbolView(None))]
    );
    assert!(app.symbol_view().is_none());
    assert!(
        app.model().symbol_view.is_none(),
        "the model forgets the data"
    );
    let text = screen_text(&render(&app, 80, 24));
    assert!(text.contains("Watchlist"), "{text}");
    // `c` opens it from any list; again closes it.
    app.update(key(KeyCode::Char('f')));
    let effects = app.update(key(KeyCode::Char('c')));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Client(ClientCommand::SetSymbolView(Some(v)))] if v.symbol == "BTC_USDT"
    ));
    assert!(screen_text(&render(&app, 80, 24)).contains("loading Min1 candles"));
    let effects = app.update(key(KeyCode::Char('c')));
    assert_eq!(
        effects,
        vec![Effect::Client(ClientCommand::SetSymbolView(None))]
    );
    // Esc closes help first, then the view.
    app.update(key(KeyCode::Char('c')));
    app.update(key(KeyCode::Char('?')));
    assert!(app.update(key(KeyCode::Esc)).is_empty());
    assert!(app.symbol_view().is_some());
}

#[test]
fn keys_switch_timeframe_symbol_zoom_and_scroll() {
    let mut app = sized(&loaded(Palette::Ansi16), 80, 24);
    // Timeframe: the candles stream alone moves to the new interval.
    let effects = app.update(key(KeyCode::Char('t')));
    assert_eq!(
        effects,
        vec![Effect::Client(ClientCommand::SetSymbolView(Some(
            SymbolView {
                symbol: "BTC_USDT".into(),
                interval: Interval::Min5,
            }
        )))]
    );
    let text = screen_text(&render(&app, 80, 24));
    assert!(
        text.contains("BTC_USDT Min5") && text.contains("loading Min5 candles"),
        "{text}"
    );
    assert!(!text.contains("loading book"), "the book stays:\n{text}");
    app.update(key(KeyCode::Char('T')));
    app.update(key(KeyCode::Char('T')));
    assert_eq!(
        app.symbol_view().map(|v| v.interval),
        Some(Interval::Min1),
        "stops at Min1"
    );

    // Down: the next watchlist symbol, same interval.
    let effects = app.update(key(KeyCode::Down));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Client(ClientCommand::SetSymbolView(Some(v)))] if v.symbol == "ETH_USDT" && v.interval == Interval::Min1
    ));
    app.update(key(KeyCode::Up));

    // Load history again and scroll: back, stop at the oldest, forward to the newest.
    let mut app = sized(&loaded(Palette::Ansi16), 80, 24);
    let visible = app.visible_candles();
    assert!(visible >= 10, "{visible}");
    app.update(key(KeyCode::Left));
    let anchor = app.symbol_view().and_then(|v| v.anchor);
    let newest_t = candles(150).last().map(|c| c.t).unwrap_or_default();
    let step = (visible / 4).max(1) as i64;
    assert_eq!(anchor, Some(newest_t - step * 60));
    let text = screen_text(&render(&app, 80, 24));
    assert!(text.contains(&format!("{step} back")), "{text}");
    for _ in 0..200 {
        app.update(key(KeyCode::Char('h')));
    }
    let oldest_full = candles(150)[visible - 1].t;
    assert_eq!(app.symbol_view().and_then(|v| v.anchor), Some(oldest_full));
    for _ in 0..200 {
        app.update(key(KeyCode::Right));
    }
    assert_eq!(
        app.symbol_view().and_then(|v| v.anchor),
        None,
        "back at the newest"
    );

    // Zoom: more columns per candle, fewer candles; bounded both ways.
    app.update(key(KeyCode::Char('+')));
    let zoomed = app.visible_candles();
    assert!(zoomed < visible, "{zoomed} < {visible}");
    for _ in 0..10 {
        app.update(key(KeyCode::Char('-')));
    }
    assert_eq!(app.symbol_view().map(|v| v.zoom), Some(0));
    assert!(app.visible_candles() > visible);
    for _ in 0..10 {
        app.update(key(KeyCode::Char('=')));
    }
    assert_eq!(app.symbol_view().map(|v| v.zoom), Some(3));
    // The main screen's keys do nothing here: no focus change, no session switch.
    app.update(key(KeyCode::Char('2')));
    assert_eq!(app.active_session().map(|s| s.id.as_str()), Some("majors"));
}

#[test]
fn the_help_in_the_symbol_view_lists_its_keys_and_fits_80x24() {
    let mut app = loaded(Palette::Ansi16);
    app.update(key(KeyCode::Char('?')));
    let text = screen_text(&render(&app, 80, 24));
    for needle in [
        "chart: next timeframe",
        "chart: zoom in",
        "left, h",
        "previous watchlist symbol",
    ] {
        assert!(text.contains(needle), "lacks {needle:?}:\n{text}");
    }
    assert!(!text.contains("more keys"), "{text}");
    assert!(
        !text.contains("next detail view"),
        "main-screen keys stay out:\n{text}"
    );
    // The main screen's help still fits too.
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char('?')));
    let text = screen_text(&render(&app, 80, 24));
    assert!(
        !text.contains("more keys") && text.contains("symbol's chart"),
        "{text}"
    );
}

#[test]
fn a_gap_on_the_tape_resyncs_that_stream_of_the_symbol() {
    let mut app = loaded(Palette::Ansi16);
    let tape = |seq| {
        ServerMsg::Tape(sym_env(
            StreamName::Tape,
            seq,
            TapeUpdate {
                symbol: "BTC_USDT".into(),
                trades: trades(1),
                contract_size: Some(0.0001),
                price_decimals: Some(1),
            },
        ))
    };
    assert!(msg(&mut app, tape(8)).is_empty());
    assert_eq!(
        msg(&mut app, tape(10)),
        vec![Effect::Client(ClientCommand::ResyncSymbol {
            stream: StreamName::Tape,
            symbol: "BTC_USDT".into(),
        })]
    );
}

#[test]
fn self_trades_can_be_hidden_and_are_counted() {
    let mut tui = crate::settings::default_tui();
    tui.tape_self_trades = crate::settings::SelfTrades::Hide;
    tui.tape_large_quote = 0.0;
    let mut app = loaded(Palette::Ansi16);
    app.view_cfg = crate::app::symbol::ViewConfig::from_config(&tui);
    let text = screen_text(&render(&sized(&app, 200, 50), 200, 50));
    assert!(text.contains("1 self hidden"), "{text}");
    let rows = text
        .lines()
        .filter(|l| l.contains(" buy ") || l.contains(" sell "));
    assert!(rows.clone().count() > 5, "{text}");
    for row in rows {
        assert!(!row.contains("self"), "{row}");
    }
    assert!(!text.contains(" big"), "threshold 0 marks nothing:\n{text}");
}
