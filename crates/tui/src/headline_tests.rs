//! One screen per headline at 80x24 and 200x50, the mode badges, the status popup, and the
//! rule that a cut cause always says where to read it whole.

use super::action::Action;
use super::app::{App, ReplayBadge};
use super::tests::{NOW, env, msg, populated, render, with_link};
use super::theme::Palette;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use trademon_client::link::LinkState;
use trademon_protocol::*;

fn tick(symbol: &str, last: f64, age_ms: i64, source: DataSource) -> Ticker {
    Ticker {
        next_funding_ms: None,
        high_24h: None,
        low_24h: None,
        open_interest: None,
        symbol: symbol.into(),
        last,
        bid: None,
        ask: None,
        change_pct: Some(0.5),
        volume_24h: Some(1.0e6),
        fair_price: None,
        index_price: None,
        funding_rate: None,
        price_decimals: None,
        received_ms: NOW - age_ms,
        source,
    }
}

/// The populated screen with every Majors row at `ages` (ms) from `source`.
fn majors_at(app: &mut App, ages: [i64; 4], source: DataSource) {
    let rows = [
        ("BTC_USDT", 95130.1),
        ("ETH_USDT", 3512.25),
        ("SOL_USDT", 149.871),
        ("XRP_USDT", 2.1034),
    ];
    for (i, ((sym, last), age)) in rows.into_iter().zip(ages).enumerate() {
        msg(
            app,
            ServerMsg::Ticker(env(
                StreamName::MarketData,
                Some("majors"),
                10 + i as u64,
                NOW,
                tick(sym, last, age, source),
            )),
        );
    }
}

fn health(app: &mut App, seq: u64, market: MarketSource, upstream: UpstreamHealth) {
    msg(
        app,
        ServerMsg::Health(env(
            StreamName::Health,
            None,
            seq,
            NOW,
            Health {
                backend_started_ms: NOW - 3_600_000,
                clients: 1,
                market,
                upstream,
                store: None,
            },
        )),
    );
}

fn upstream(
    state: UpstreamState,
    source: DataSource,
    cause: Option<&str>,
    rest_error: Option<&str>,
) -> UpstreamHealth {
    UpstreamHealth {
        state,
        url: "wss://contract.mexc.com/edge".into(),
        reconnects: 4,
        source,
        cause: cause.map(str::to_string),
        rest_error: rest_error.map(str::to_string),
        ..Default::default()
    }
}

const FRESH: [i64; 4] = [300, 400, 500, 600];

/// A screen: client link, MEXC state, Majors row ages.
fn screen(link: LinkState, market: MarketSource, up: UpstreamHealth, ages: [i64; 4]) -> App {
    let mut app = with_link(populated(Palette::Ansi16), link);
    let source = up.source;
    health(&mut app, 2, market, up);
    majors_at(&mut app, ages, source);
    app
}

fn text(app: &App, w: u16, h: u16) -> String {
    render(app, w, h).backend().to_string()
}

/// The health bar's lines (the rows under the header).
fn bar(app: &App, w: u16) -> String {
    let t = render(app, w, 24);
    let buf = t.backend().buffer();
    (1..3)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

macro_rules! headline_screens {
    ($($name:ident: $app:expr, $expect:expr;)*) => {$(
        #[test]
        fn $name() {
            let app = $app;
            for (w, h) in [(80, 24), (200, 50)] {
                let t = render(&app, w, h);
                let first = bar(&app, w);
                assert!(first.starts_with($expect), "{w}x{h}: {first}");
                insta::assert_snapshot!(format!("{}_{w}x{h}", stringify!($name)), t.backend());
            }
        }
    )*};
}

headline_screens! {
    headline_live:
        screen(LinkState::Live, MarketSource::Mexc, upstream(UpstreamState::Live, DataSource::Ws, None, None), FRESH),
        " ● Live  rtt";
    headline_degraded_rest_fallback:
        screen(
            LinkState::Live,
            MarketSource::Mexc,
            upstream(UpstreamState::RestPolling, DataSource::Rest, Some("unreachable: DNS lookup failed"), None),
            FRESH,
        ),
        " ◐ Degraded — MEXC REST fallback  ";
    headline_degraded_stale:
        screen(
            LinkState::Live,
            MarketSource::Mexc,
            upstream(UpstreamState::Live, DataSource::Ws, None, None),
            [300, 75_000, 500, 90_000],
        ),
        " ◐ Degraded — 2/4 stale  ";
    headline_no_market_data:
        screen(
            LinkState::Live,
            MarketSource::Mexc,
            upstream(UpstreamState::Reconnecting, DataSource::Ws, Some("unreachable: DNS lookup failed"), None),
            [61_000, 75_000, 80_000, 90_000],
        ),
        " ✕ No market data — MEXC unreachable: DNS lookup failed, 4/4 stale";
    headline_reconnecting:
        screen(LinkState::Reconnecting, MarketSource::Mexc, upstream(UpstreamState::Live, DataSource::Ws, None, None), FRESH),
        " ↻ Reconnecting… — backend link, attempt 3, next in 4.2 s";
    headline_demo:
        screen(LinkState::Live, MarketSource::Simulator, upstream(UpstreamState::Live, DataSource::Ws, None, None), FRESH),
        " ● Live (simulated)   DEMO ";
}

/// The backend died 42 s ago: its MEXC state is last known, with its age, never current.
#[test]
fn headline_backend_gone() {
    let mut app = screen(
        LinkState::Live,
        MarketSource::Mexc,
        upstream(UpstreamState::Live, DataSource::Ws, None, None),
        FRESH,
    );
    let mut link = app.link().clone();
    link.state = LinkState::Disconnected;
    link.attempt = 7;
    link.next_attempt_in_ms = Some(8_000);
    link.last_error = Some(("connection refused".into(), 7));
    app.update(Action::Client(trademon_client::ClientEvent::Link(link)));
    app.update(Action::Tick(NOW + 42_000));
    for (w, h) in [(80, 24), (200, 50)] {
        let screen = text(&app, w, h);
        let first = bar(&app, w);
        assert!(
            first.starts_with(" ✕ Disconnected — backend unreachable"),
            "{first}"
        );
        assert!(
            first.contains("MEXC live (last known 42s ago)"),
            "{w}x{h}: {first}"
        );
        assert_eq!(
            first.matches("MEXC live").count(),
            first.matches("MEXC live (last known").count(),
            "never as current: {first}"
        );
        insta::assert_snapshot!(format!("headline_backend_gone_{w}x{h}"), screen);
    }
}

#[test]
fn replay_badges_say_speed_paused_and_finished() {
    let mut app = screen(
        LinkState::Live,
        MarketSource::Mexc,
        upstream(UpstreamState::Live, DataSource::Ws, None, None),
        FRESH,
    );
    // A recording made while recording: the replay is not recording now.
    app.update(Action::Recording(Some(NOW - 5_000)));
    assert!(bar(&app, 80).contains("REC 00:05"));
    let mut badge = ReplayBadge {
        speed: 4.0,
        paused: false,
        finished: false,
    };
    app.set_replay(Some(badge));
    let first = bar(&app, 80);
    assert!(
        first.starts_with(" ● Live (replay)   REPLAY ×4 "),
        "{first}"
    );
    assert!(!first.contains("REC"), "{first}");
    for (w, h) in [(80, 24), (200, 50)] {
        insta::assert_snapshot!(format!("replay_badge_{w}x{h}"), text(&app, w, h));
    }
    badge.speed = 0.5;
    badge.paused = true;
    app.set_replay(Some(badge));
    assert!(bar(&app, 80).contains(" REPLAY ×0.5 paused "));
    badge.finished = true;
    app.set_replay(Some(badge));
    assert!(bar(&app, 80).contains(" REPLAY finished "));
    // The top line carries the badge too, reversed.
    let top = text(&app, 80, 24);
    assert!(
        top.lines().next().unwrap().contains(" REPLAY finished "),
        "{top}"
    );
}

#[test]
fn demo_badge_is_on_the_top_line_and_a_replayed_demo_says_both() {
    let mut app = screen(
        LinkState::Live,
        MarketSource::Simulator,
        upstream(UpstreamState::Live, DataSource::Ws, None, None),
        FRESH,
    );
    let t = text(&app, 80, 24);
    assert!(t.lines().next().unwrap().contains(" DEMO "), "{t}");
    app.set_replay(Some(ReplayBadge {
        speed: 1.0,
        paused: false,
        finished: false,
    }));
    assert!(
        bar(&app, 80).starts_with(" ● Live (simulated, replay)   REPLAY ×1 DEMO "),
        "{}",
        bar(&app, 80)
    );
}

fn press(app: &mut App, c: KeyCode) {
    app.update(Action::Key(KeyEvent::new(c, KeyModifiers::NONE)));
}

/// A cause too long for 80 columns is cut with the key that shows it whole, and the popup
/// (and the `u` view) show it whole.
#[test]
fn a_long_cause_is_cut_with_a_hint_and_shown_whole() {
    let cause = "unreachable: HTTP 451 Unavailable For Legal Reasons from the regional edge proxy";
    let mut app = screen(
        LinkState::Live,
        MarketSource::Mexc,
        upstream(
            UpstreamState::Reconnecting,
            DataSource::Ws,
            Some(cause),
            None,
        ),
        [61_000, 75_000, 80_000, 90_000],
    );
    let first = bar(&app, 80);
    assert!(
        first.starts_with(" ✕ No market data — MEXC unreachable: HTTP 451"),
        "{first}"
    );
    assert!(first.contains("… [s]"), "{first}");
    press(&mut app, KeyCode::Char('s'));
    let screen = text(&app, 80, 24);
    let flat: String = screen
        .lines()
        .map(|l| l.trim_matches('"').trim_matches('│').trim())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains(&format!("cause: {}", &cause[..30])),
        "{screen}"
    );
    assert!(flat.contains("regional edge proxy"), "{screen}");
    insta::assert_snapshot!("status_popup_80x24", screen);
    // The popup follows the state while open (ages move), and Esc closes it.
    assert!(text(&app, 80, 24).contains("ETH_USDT (1m)"));
    app.update(Action::Tick(NOW + 60_000));
    assert!(text(&app, 80, 24).contains("ETH_USDT (2m)"));
    press(&mut app, KeyCode::Esc);
    assert!(app.popup.is_none());
    // The `u` view has the cause whole too.
    press(&mut app, KeyCode::Char('u'));
    let u = text(&app, 200, 50);
    assert!(u.contains(cause), "{u}");
}
