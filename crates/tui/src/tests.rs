//! Whole-screen snapshots and behaviour of `App::update`, driven only by protocol messages,
//! client events and a fixed clock.

use super::action::{Action, Effect};
use super::app::{App, DetailView, Focus};
use super::keymap::Keymap;
use super::theme::{Palette, Theme};
use super::view::view;
use crate::settings::default_tui;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use trademon_client::link::{LinkState, LinkStatus};
use trademon_client::{ClientCommand, ClientEvent, Subscription};
use trademon_protocol::*;

pub(super) const NOW: i64 = 1_700_000_000_000;

fn app_with(palette: Palette) -> App {
    let mut tui = default_tui();
    // Snapshots must not depend on the machine's zone.
    tui.timezone = "UTC".into();
    let keymap = Keymap::from_config(&tui.keys).expect("default keys");
    App::new(
        &tui,
        keymap,
        Theme::new(palette),
        LinkStatus::new("ws://127.0.0.1:7878/ws"),
        (80, 24),
        NOW,
    )
}

pub(super) fn msg(app: &mut App, msg: ServerMsg) -> Vec<Effect> {
    app.update(Action::Client(ClientEvent::Message {
        msg,
        raw: String::new(),
    }))
}

pub(super) fn env<T>(
    stream: StreamName,
    session: Option<&str>,
    seq: u64,
    ts: i64,
    data: T,
) -> Envelope<T> {
    Envelope {
        interval: None,
        symbol: None,
        stream,
        session_id: session.map(str::to_string),
        seq,
        ts,
        data,
    }
}

fn session(id: &str, name: &str, symbols: &[&str]) -> SessionInfo {
    SessionInfo {
        id: id.into(),
        name: name.into(),
        mode: "paper".into(),
        strategy: "default".into(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        state: SessionState::Running,
        error: None,
        paused: false,
    }
}

fn sessions_update(seq: u64, sessions: Vec<SessionInfo>) -> ServerMsg {
    ServerMsg::FullUpdate(env(
        StreamName::Sessions,
        None,
        seq,
        NOW,
        Snapshot {
            sessions: Some(sessions),
            ..Default::default()
        },
    ))
}

fn ticker(symbol: &str, last: f64, chg: f64, vol: f64, age_ms: i64) -> Ticker {
    Ticker {
        next_funding_ms: None,
        high_24h: None,
        low_24h: None,
        open_interest: None,
        symbol: symbol.into(),
        last,
        bid: None,
        ask: None,
        change_pct: Some(chg),
        volume_24h: Some(vol),
        fair_price: None,
        index_price: None,
        funding_rate: None,
        price_decimals: None,
        received_ms: NOW - age_ms,
        source: DataSource::Ws,
    }
}

fn two_sessions() -> Vec<SessionInfo> {
    vec![
        session(
            "majors",
            "Majors",
            &["BTC_USDT", "ETH_USDT", "SOL_USDT", "XRP_USDT"],
        ),
        session(
            "alts",
            "Alts",
            &["DOGE_USDT", "PEPE_USDT", "LINK_USDT", "AVAX_USDT"],
        ),
    ]
}

/// Two sessions with data, one stale row (ETH), one symbol without data (XRP), movements
/// both ways, state machines, backend health and a few events.
pub(super) fn populated(palette: Palette) -> App {
    let mut app = app_with(palette);
    app.start();
    msg(&mut app, sessions_update(1, two_sessions()));
    let market = |session: &str, tickers: Vec<Ticker>| {
        ServerMsg::FullUpdate(env(
            StreamName::MarketData,
            Some(session),
            1,
            NOW,
            Snapshot {
                market_data: Some(tickers),
                ..Default::default()
            },
        ))
    };
    msg(
        &mut app,
        market(
            "majors",
            vec![
                ticker("BTC_USDT", 95123.4, 1.234, 1.234e9, 800),
                ticker("ETH_USDT", 3512.25, -0.5, 4.5e8, 75_000),
                ticker("SOL_USDT", 150.123, 3.2, 9.8e7, 2_000),
            ],
        ),
    );
    msg(
        &mut app,
        market(
            "alts",
            vec![
                ticker("DOGE_USDT", 0.35012, -2.75, 5.5e7, 1_000),
                ticker("PEPE_USDT", 0.00001234, 12.5, 3.3e7, 1_000),
                ticker("LINK_USDT", 14.523, 0.0, 2.1e6, 1_000),
                ticker("AVAX_USDT", 35.12, 0.8, 999.0, 1_000),
            ],
        ),
    );
    // Deltas give BTC an up-tick and SOL a down-tick.
    for (seq, t) in [
        (2, ticker("BTC_USDT", 95130.1, 1.241, 1.235e9, 300)),
        (3, ticker("SOL_USDT", 149.871, 3.0, 9.81e7, 400)),
    ] {
        msg(
            &mut app,
            ServerMsg::Ticker(env(StreamName::MarketData, Some("majors"), seq, NOW, t)),
        );
    }
    let inst = |symbol: &str, state: &str, ago: i64| Instance {
        symbol: symbol.into(),
        state: state.into(),
        since_ms: NOW - ago,
        last_reason: match state {
            "ENTRY_SIGNAL" => "all entry conditions met".into(),
            _ => "session started".into(),
        },
    };
    msg(
        &mut app,
        ServerMsg::FullUpdate(env(
            StreamName::StateMachines,
            Some("majors"),
            1,
            NOW,
            Snapshot {
                state_machines: Some(vec![
                    inst("BTC_USDT", "MONITORING", 125_000),
                    inst("ETH_USDT", "ENTRY_SIGNAL", 4_000),
                    inst("SOL_USDT", "MONITORING", 7_300_000),
                    inst("XRP_USDT", "MONITORING", 125_000),
                ]),
                ..Default::default()
            },
        )),
    );
    msg(
        &mut app,
        ServerMsg::FullUpdate(env(
            StreamName::Health,
            None,
            1,
            NOW,
            Snapshot {
                health: Some(Box::new(Health {
                    backend_started_ms: NOW - 3_600_000,
                    clients: 1,
                    market: MarketSource::Mexc,
                    upstream: UpstreamHealth {
                        state: UpstreamState::Live,
                        url: "wss://contract.mexc.com/edge".into(),
                        pong_age_ms: Some(3_000),
                        last_data_age_ms: Some(200),
                        reconnects: 0,
                        last_close: None,
                        subscriptions: SubscriptionCounts::default(),
                        source: DataSource::Ws,
                        ..Default::default()
                    },
                    store: None,
                })),
                ..Default::default()
            },
        )),
    );
    let ev = |ago: i64, level: Level, name: &str, message: &str, count: u32| LogEvent {
        ts: NOW - ago,
        level,
        name: name.into(),
        message: message.into(),
        count,
    };
    msg(
        &mut app,
        ServerMsg::FullUpdate(env(
            StreamName::Events,
            None,
            1,
            NOW,
            Snapshot {
                events: Some(vec![
                    ev(90_000, Level::Info, "mexc.connect", "connected to MEXC", 1),
                    ev(
                        60_000,
                        Level::Info,
                        "engine.tick",
                        "not shown: plain info",
                        1,
                    ),
                    ev(
                        30_000,
                        Level::Warn,
                        "mexc.sub",
                        "rs.error Contract [FOO_USDT] not exists",
                        1,
                    ),
                    ev(
                        5_000,
                        Level::Error,
                        "mexc.close",
                        "remote closed 1006 without a close frame",
                        3,
                    ),
                ]),
                ..Default::default()
            },
        )),
    );
    app
}

pub(super) fn with_link(mut app: App, state: LinkState) -> App {
    let mut link = LinkStatus::new("ws://127.0.0.1:7878/ws");
    link.state = state;
    match state {
        LinkState::Live => link.rtt_ms = Some(3.2),
        LinkState::Slow => {
            link.rtt_ms = Some(812.0);
            link.missed_pongs = 2;
        }
        LinkState::Reconnecting | LinkState::Polling | LinkState::Disconnected => {
            link.rtt_ms = Some(3.2);
            link.attempt = match state {
                LinkState::Reconnecting => 3,
                LinkState::Polling => 5,
                _ => 9,
            };
            link.next_attempt_in_ms = Some(match state {
                LinkState::Reconnecting => 4_200,
                LinkState::Polling => 2_000,
                _ => 15_000,
            });
            link.last_close = Some(CloseInfo {
                initiator: Initiator::Remote,
                code: close::HEARTBEAT_TIMEOUT,
                reason: "heartbeat timeout".into(),
                at_ms: NOW - 9_000,
            });
            link.last_error = Some(("connection refused".into(), 3));
        }
        LinkState::Connecting => {}
    }
    app.update(Action::Client(ClientEvent::Link(link)));
    if state == LinkState::Polling {
        // While polling, data comes from REST snapshots of the backend.
        app.update(Action::Client(ClientEvent::Snapshot(RestSnapshot {
            session_id: "majors".into(),
            epoch: "e1".into(),
            ts: NOW,
            seq: Default::default(),
            data: Snapshot {
                market_data: Some(vec![
                    Ticker {
                        source: DataSource::Rest,
                        ..ticker("BTC_USDT", 95101.0, 1.2, 1.236e9, 1_500)
                    },
                    ticker("ETH_USDT", 3512.25, -0.5, 4.5e8, 75_000),
                    ticker("SOL_USDT", 149.9, 3.0, 9.81e7, 1_500),
                ]),
                ..Default::default()
            },
        })));
    }
    app
}

pub(super) fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    terminal.draw(|f| view(app, f)).expect("draw");
    terminal
}

pub(super) fn screen_text(t: &Terminal<TestBackend>) -> String {
    t.backend().to_string()
}

macro_rules! snapshots {
    ($($name:ident: $state:expr;)*) => {$(
        #[test]
        fn $name() {
            let app = with_link(populated(Palette::Ansi16), $state);
            for (w, h) in [(80, 24), (120, 40), (200, 50)] {
                let t = render(&app, w, h);
                let text = screen_text(&t);
                assert!(!text.contains('#'), "{w}x{h} shows a `#`:\n{text}");
                insta::assert_snapshot!(format!("{}_{w}x{h}", stringify!($name)), t.backend());
            }
        }
    )*};
}

snapshots! {
    screen_live: LinkState::Live;
    screen_slow: LinkState::Slow;
    screen_reconnecting: LinkState::Reconnecting;
    screen_polling: LinkState::Polling;
    screen_disconnected: LinkState::Disconnected;
}

#[test]
fn screen_help_overlay_and_second_session() {
    let mut app = with_link(populated(Palette::Ansi16), LinkState::Live);
    app.update(key(KeyCode::Char('2')));
    insta::assert_snapshot!("screen_alts_80x24", render(&app, 80, 24).backend());
    app.update(key(KeyCode::Char('?')));
    insta::assert_snapshot!("screen_help_80x24", render(&app, 80, 24).backend());
}

#[test]
fn screen_too_small_says_so() {
    let app = with_link(populated(Palette::Ansi16), LinkState::Live);
    let text = screen_text(&render(&app, 50, 12));
    assert!(text.contains("terminal too small: 50x12"), "{text}");
}

#[test]
fn screens_show_whole_numbers_stale_marks_and_missing_data() {
    let app = with_link(populated(Palette::Ansi16), LinkState::Reconnecting);
    for (w, h) in [(80, 24), (200, 50)] {
        let text = screen_text(&render(&app, w, h));
        for needle in [
            "95130.1",
            "3512.25",
            "149.87",
            "stale!",
            "no data",
            "↻ Reconnecting… — backend link, attempt 3, next in 4.2 s",
            "last known",
            "×3",
        ] {
            assert!(text.contains(needle), "{w}x{h} lacks {needle:?}:\n{text}");
        }
    }
}

#[test]
fn reconnect_countdown_runs_on_ticks() {
    let mut app = with_link(populated(Palette::Ansi16), LinkState::Reconnecting);
    app.take_dirty();
    app.update(Action::Tick(NOW + 1_000));
    assert!(app.take_dirty());
    assert_eq!(app.next_attempt_in_ms(), Some(3_200));
    app.update(Action::Tick(NOW + 9_000));
    assert_eq!(app.next_attempt_in_ms(), Some(0));
}

#[test]
fn none_palette_renders_without_any_colour() {
    for state in [LinkState::Live, LinkState::Disconnected] {
        let mut app = with_link(populated(Palette::None), state);
        app.update(key(KeyCode::Char('?')));
        let t = render(&app, 200, 50);
        for cell in t.backend().buffer().content() {
            assert_eq!(cell.fg, Color::Reset, "fg at {:?}", cell.symbol());
            assert_eq!(cell.bg, Color::Reset, "bg at {:?}", cell.symbol());
        }
    }
    // And the 16-colour palette does colour something (the check above is not vacuous).
    let t = render(
        &with_link(populated(Palette::Ansi16), LinkState::Live),
        80,
        24,
    );
    assert!(
        t.backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset)
    );
}

// ----- keys -----------------------------------------------------------------------------

pub(super) fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[test]
fn tab_backtab_and_digits_switch_sessions_and_wrap() {
    let mut app = populated(Palette::Ansi16);
    assert_eq!(app.active, 0);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.active, 1);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.active, 0, "tab wraps");
    app.update(key(KeyCode::BackTab));
    assert_eq!(app.active, 1, "backtab wraps");
    app.update(key(KeyCode::Char('1')));
    assert_eq!(app.active, 0);
    app.update(key(KeyCode::Char('2')));
    assert_eq!(app.active, 1);
    app.update(key(KeyCode::Char('9')));
    assert_eq!(app.active, 1, "no session 9: nothing happens");
}

#[test]
fn selection_moves_and_stays_in_range() {
    let mut app = populated(Palette::Ansi16);
    app.update(key(KeyCode::Up));
    assert_eq!(app.selected, 0);
    for _ in 0..10 {
        app.update(key(KeyCode::Char('j')));
    }
    assert_eq!(app.selected, 3, "4 symbols");
    app.update(key(KeyCode::Char('k')));
    assert_eq!(app.selected, 2);
    app.update(key(KeyCode::Tab));
    assert_eq!(app.selected, 0, "a new session starts at the top");
}

#[test]
fn help_reconnect_record_and_quit_keys() {
    let mut app = populated(Palette::Ansi16);
    assert!(app.update(key(KeyCode::Char('?'))).is_empty());
    assert!(app.show_help());
    app.update(key(KeyCode::Char('?')));
    assert!(!app.show_help());
    app.update(key(KeyCode::Char('?')));
    app.update(key(KeyCode::Esc));
    assert!(!app.show_help(), "esc closes help");

    assert_eq!(
        app.update(key(KeyCode::Char('r'))),
        vec![Effect::Client(ClientCommand::ReconnectNow)]
    );
    assert_eq!(
        app.update(key(KeyCode::Char('R'))),
        vec![Effect::ToggleRecording]
    );
    let quit = vec![Effect::Client(ClientCommand::Shutdown), Effect::Quit];
    assert_eq!(app.update(key(KeyCode::Char('q'))), quit);
    assert_eq!(
        app.update(Action::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL
        ))),
        quit
    );
}

#[test]
fn unknown_keys_and_releases_do_nothing() {
    let mut app = populated(Palette::Ansi16);
    app.take_dirty();
    let before = (app.active, app.selected, app.show_help());
    assert!(app.update(key(KeyCode::Char('x'))).is_empty());
    assert!(app.update(key(KeyCode::F(5))).is_empty());
    let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    release.kind = KeyEventKind::Release;
    assert!(app.update(Action::Key(release)).is_empty());
    assert_eq!(before, (app.active, app.selected, app.show_help()));
    assert!(!app.take_dirty(), "nothing to redraw");
}

// ----- subscriptions and resync -----------------------------------------------------------

fn sub(stream: StreamName, session: Option<&str>) -> Subscription {
    Subscription {
        stream,
        session_id: session.map(str::to_string),
    }
}

#[test]
fn desired_subscriptions_follow_the_session_list() {
    let mut app = app_with(Palette::Ansi16);
    let global = [
        sub(StreamName::Sessions, None),
        sub(StreamName::Health, None),
        sub(StreamName::Events, None),
    ];
    assert_eq!(
        app.start(),
        vec![Effect::Client(ClientCommand::SetSubscriptions(
            global.iter().cloned().collect()
        ))]
    );

    let effects = msg(&mut app, sessions_update(1, two_sessions()));
    let mut want: std::collections::BTreeSet<_> = global.iter().cloned().collect();
    for s in ["majors", "alts"] {
        for stream in StreamName::ALL.into_iter().filter(|n| n.is_per_session()) {
            want.insert(sub(stream, Some(s)));
        }
    }
    assert_eq!(
        effects,
        vec![Effect::Client(ClientCommand::SetSubscriptions(
            want.clone()
        ))]
    );

    // The same list again: nothing to send.
    assert!(msg(&mut app, sessions_update(2, two_sessions())).is_empty());

    // A session added by a delta joins the set.
    let effects = msg(
        &mut app,
        ServerMsg::SessionChanged(env(
            StreamName::Sessions,
            None,
            3,
            NOW,
            session("memes", "Memes", &["WIF_USDT"]),
        )),
    );
    for stream in StreamName::ALL.into_iter().filter(|n| n.is_per_session()) {
        want.insert(sub(stream, Some("memes")));
    }
    assert_eq!(
        effects,
        vec![Effect::Client(ClientCommand::SetSubscriptions(want))]
    );
}

#[test]
fn a_sequence_gap_asks_for_a_resync() {
    let mut app = populated(Palette::Ansi16);
    let change = |seq: u64| {
        ServerMsg::StateChange(env(
            StreamName::StateMachines,
            Some("majors"),
            seq,
            NOW,
            StateChange {
                symbol: "BTC_USDT".into(),
                from: "MONITORING".into(),
                to: "ENTRY_SIGNAL".into(),
                reason: "test".into(),
                at_ms: NOW,
            },
        ))
    };
    assert!(msg(&mut app, change(2)).is_empty());
    assert_eq!(
        msg(&mut app, change(4)),
        vec![Effect::Client(ClientCommand::Resync(sub(
            StreamName::StateMachines,
            Some("majors")
        )))]
    );
}

#[test]
fn many_symbols_at_80x24_scroll_with_a_visible_count() {
    let mut app = app_with(Palette::Ansi16);
    let symbols: Vec<String> = (0..20).map(|i| format!("SYM{i:02}_USDT")).collect();
    let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    msg(
        &mut app,
        sessions_update(1, vec![session("big", "Big", &refs)]),
    );
    for _ in 0..19 {
        app.update(key(KeyCode::Down));
    }
    let text = screen_text(&render(&app, 80, 24));
    let expect = [
        ("> SYM19_USDT", "the selected row is scrolled into view"),
        ("15-20 of 20", "scrolled rows are counted"),
        ("State machines", "the detail panel keeps a few rows"),
        ("Events", "the event panel keeps its place"),
    ];
    for (needle, why) in expect {
        assert!(text.contains(needle), "{why}:\n{text}");
    }
}

#[test]
fn btc_crossing_100k_does_not_move_the_columns() {
    let line_of = |last: f64| {
        let mut app = with_link(populated(Palette::Ansi16), LinkState::Live);
        msg(
            &mut app,
            ServerMsg::Ticker(env(
                StreamName::MarketData,
                Some("majors"),
                9,
                NOW,
                ticker("BTC_USDT", last, 1.0, 1.2e9, 0),
            )),
        );
        let text = screen_text(&render(&app, 80, 24));
        let header = text.lines().nth(4).unwrap_or_default().to_string();
        let btc = text
            .lines()
            .find(|l| l.contains("BTC_USDT"))
            .unwrap_or_default()
            .to_string();
        (header, btc)
    };
    let (h1, below) = line_of(99_999.9);
    let (h2, above) = line_of(100_000.1);
    assert_eq!(h1, h2, "the header does not move");
    assert!(
        below.contains("99999.9") && above.contains("100000.1"),
        "{below}\n{above}"
    );
    // The change column starts at the same place on both sides of 100 000.
    assert_eq!(
        below.find("+1.00%"),
        above.find("+1.00%"),
        "{below}\n{above}"
    );
}

fn many_signals(app: &mut App, n: u64) {
    let signals = (0..n)
        .map(|i| SignalInfo {
            id: i + 1,
            symbol: "BTC_USDT".into(),
            side: Side::Buy,
            price: 1000.0 + i as f64,
            reason: format!("reason number {i} {}", "word ".repeat(40)),
            kind: SignalKind::Entry,
            at_ms: NOW - 1_000 * (n - i) as i64,
        })
        .collect();
    msg(
        app,
        ServerMsg::FullUpdate(env(
            StreamName::Signals,
            Some("majors"),
            1,
            NOW,
            Snapshot {
                signals: Some(signals),
                ..Default::default()
            },
        )),
    );
}

#[test]
fn the_selected_signal_stays_visible_moving_down_a_long_list() {
    let mut app = with_link(populated(Palette::Ansi16), LinkState::Live);
    many_signals(&mut app, 40);
    app.update(key(KeyCode::Char('f')));
    assert_eq!(app.focus, Focus::Signals);
    assert_eq!(
        app.detail,
        DetailView::Signals,
        "focusing a list brings its panel up"
    );
    for step in 1..=39usize {
        app.update(key(KeyCode::Down));
        // Newest first: row `step` is signal 40 - step, price 1000 + 39 - step.
        let price = format!("{:.2}", 1000.0 + 39.0 - step as f64);
        let text = screen_text(&render(&app, 80, 24));
        let row = text
            .lines()
            .find(|l| l.contains("│>") && l.contains("entry"));
        assert!(
            row.is_some_and(|r| r.contains(&price)),
            "step {step}: selected row with {price} not shown:\n{text}"
        );
    }
    app.update(key(KeyCode::Down));
    assert_eq!(
        app.cursor(Focus::Signals),
        39,
        "the selection stops at the end"
    );
    let text = screen_text(&render(&app, 80, 24));
    assert!(
        text.contains("of 40"),
        "the visible range is counted:\n{text}"
    );
    app.update(key(KeyCode::PageUp));
    assert!(app.cursor(Focus::Signals) < 39);
}

#[test]
fn enter_opens_the_full_text_and_esc_closes_it() {
    let mut app = with_link(populated(Palette::Ansi16), LinkState::Live);
    many_signals(&mut app, 3);
    app.update(key(KeyCode::Char('f')));
    app.update(key(KeyCode::Enter));
    let popup = app.popup().expect("a popup").clone();
    assert!(popup.title.contains("BTC_USDT"), "{popup:?}");
    assert!(
        popup.body.contains("reason number 2"),
        "the newest signal: {popup:?}"
    );
    assert!(
        popup.body.contains("Last price when raised: 1002.00 USDT"),
        "{popup:?}"
    );
    let text = screen_text(&render(&app, 80, 24));
    assert!(text.contains("esc close"), "{text}");
    // The whole reason is there to scroll to, not cut with `…`.
    assert!(
        popup
            .body
            .contains(&"word ".repeat(40).trim_end().to_string())
    );
    // Keys other than scroll, esc and quit do nothing behind the popup.
    app.update(key(KeyCode::Char('v')));
    assert_eq!(app.detail, DetailView::Signals);
    app.update(key(KeyCode::Down));
    assert_eq!(app.popup_scroll, 1);
    app.update(key(KeyCode::Esc));
    assert!(app.popup().is_none());
    assert!(!screen_text(&render(&app, 80, 24)).contains("esc close"));

    // Positions: none open in this fixture, so Enter opens nothing.
    app.update(key(KeyCode::Char('f')));
    assert_eq!(app.focus, Focus::Positions);
    app.update(key(KeyCode::Enter));
    assert!(app.popup().is_none());

    // Events: focus moves on, Enter shows the event whole.
    app.update(key(KeyCode::Char('f')));
    assert_eq!(app.focus, Focus::Events);
    app.update(key(KeyCode::Enter));
    let popup = app.popup().expect("an event popup");
    assert!(
        popup
            .body
            .contains("remote closed 1006 without a close frame"),
        "{popup:?}"
    );
    assert!(popup.body.contains("seen 3 times"), "{popup:?}");
    app.update(key(KeyCode::Esc));

    // Trades: none closed in this fixture, so Enter opens nothing.
    app.update(key(KeyCode::Char('f')));
    assert_eq!(app.focus, Focus::Trades);
    app.update(key(KeyCode::Enter));
    assert!(app.popup().is_none());

    // The watchlist: Enter opens the symbol view; there Enter shows the instance with its
    // last reason.
    app.update(key(KeyCode::Char('f')));
    assert_eq!(app.focus, Focus::Watchlist);
    let effects = app.update(key(KeyCode::Enter));
    assert!(app.popup().is_none());
    assert_eq!(
        effects,
        vec![Effect::Client(ClientCommand::SetSymbolView(Some(
            trademon_client::SymbolView {
                symbol: "BTC_USDT".into(),
                interval: Interval::Min1,
            }
        )))]
    );
    app.update(key(KeyCode::Enter));
    let popup = app.popup().expect("an instance popup");
    assert!(popup.title.starts_with("BTC_USDT"), "{popup:?}");
    assert!(popup.body.contains("Last price: 95130.1 USDT"), "{popup:?}");
}

#[test]
fn times_follow_the_configured_zone_and_say_which() {
    let mut tui = default_tui();
    tui.timezone = "Europe/Berlin".into();
    let keymap = Keymap::from_config(&tui.keys).expect("default keys");
    let mut app = App::new(
        &tui,
        keymap,
        Theme::new(Palette::Ansi16),
        LinkStatus::new("ws://127.0.0.1:7878/ws"),
        (80, 24),
        NOW,
    );
    msg(&mut app, sessions_update(1, two_sessions()));
    app.update(Action::Client(ClientEvent::Notice(LogEvent {
        ts: NOW,
        level: Level::Warn,
        name: "mexc.sub".into(),
        message: "a warning".into(),
        count: 1,
    })));
    let text = screen_text(&render(&app, 80, 24));
    // 22:13:20 UTC is 23:13:20 in Berlin in November (UTC+1).
    assert!(text.contains("23:13:20 WARN"), "{text}");
    assert!(text.contains("Events (newest first · UTC+1)"), "{text}");
}
