//! Alerts through `App` as the live UI runs them: banner (80x24, main screen and symbol view),
//! acknowledgement, the bell byte in the terminal output of the next frame, effects for the
//! event loop, and a recording's start state carrying the alert state.

use crate::action::{Action, Effect};
use crate::alerts::{Alert, AlertKind, config};
use crate::app::App;
use crate::render::{RenderEvent, RenderJob, Renderer};
use crate::tests::{NOW, env, key, msg, populated, render, screen_text, with_link};
use crate::theme::Palette;
use crossterm::event::KeyCode;
use ratatui::style::Modifier;
use std::io::Write;
use std::sync::{Arc, Mutex};
use trademon_client::link::LinkState;
use trademon_protocol::*;

fn with_alerts(app: App) -> App {
    app.with_alerts(&config::defaults())
}

fn signal(id: u64, at_ms: i64) -> SignalInfo {
    SignalInfo {
        id,
        symbol: "BTC_USDT".into(),
        side: Side::Buy,
        price: 95130.1,
        reason: "entry conditions met: volume_surge_5m > 3, change_pct_1m > 0.5".into(),
        kind: SignalKind::Entry,
        at_ms,
    }
}

/// The populated screen with alerts on and the signals baseline taken (one old signal).
fn alerting() -> App {
    let mut app = with_alerts(with_link(populated(Palette::Ansi16), LinkState::Live));
    msg(
        &mut app,
        ServerMsg::FullUpdate(env(
            StreamName::Signals,
            Some("majors"),
            1,
            NOW,
            Snapshot {
                signals: Some(vec![signal(1, NOW - 60_000)]),
                ..Default::default()
            },
        )),
    );
    assert!(app.alert_banner().is_none(), "history does not alert");
    app
}

fn new_signal(app: &mut App, seq: u64, id: u64) -> Vec<Effect> {
    msg(
        app,
        ServerMsg::Signal(env(
            StreamName::Signals,
            Some("majors"),
            seq,
            NOW,
            signal(id, NOW - 2_000),
        )),
    )
}

fn extra(kind: AlertKind, text: &str) -> Alert {
    Alert::new(kind, NOW, text)
}

#[test]
fn a_signal_shows_a_banner_until_acknowledged_and_asks_the_loop_to_log_it() {
    let mut app = alerting();
    let effects = new_signal(&mut app, 2, 2);
    let raised: Vec<&Alert> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Alert { alert, hook } => {
                assert!(!hook, "no hook without alerts.command");
                Some(alert)
            }
            _ => None,
        })
        .collect();
    assert_eq!(raised.len(), 1, "{effects:?}");
    assert_eq!(raised[0].kind, AlertKind::Signal);
    assert!(app.is_dirty());

    app.raise_alert(extra(AlertKind::Fill, "majors: paper LONG BTC_USDT opened"));
    app.raise_alert(extra(AlertKind::DataStale, "alts: market data stale"));
    let t = render(&app, 80, 24);
    insta::assert_snapshot!("alert_banner_80x24", t.backend());
    let text = screen_text(&t);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.contains("! 22:13:18 SIGNAL majors: BUY BTC_USDT entry")
            && first.contains("(+2 more) A ack"),
        "{first}"
    );
    // Highlighted by reverse video, not colour alone.
    let cell = &t.backend().buffer()[(1, 0)];
    assert!(cell.modifier.contains(Modifier::REVERSED), "{cell:?}");

    // `A` takes the shown one away; the next shows with one fewer waiting.
    let acked = app.update(key(KeyCode::Char('A')));
    assert!(
        matches!(&acked[..], [Effect::AlertAcknowledged(a)] if a.kind == AlertKind::Signal),
        "{acked:?}"
    );
    let first = screen_text(&render(&app, 80, 24));
    let first = first.lines().next().unwrap_or_default().to_string();
    assert!(
        first.contains("FILL") && first.contains("(+1 more)"),
        "{first}"
    );
    app.update(key(KeyCode::Char('A')));
    app.update(key(KeyCode::Char('A')));
    assert!(app.alert_banner().is_none());
    let text = screen_text(&render(&app, 80, 24));
    assert!(
        text.lines()
            .next()
            .unwrap_or_default()
            .starts_with("\" trademon"),
        "the header is back on top:\n{text}"
    );
    assert!(
        app.update(key(KeyCode::Char('A'))).is_empty(),
        "nothing to ack"
    );
}

#[test]
fn the_banner_shows_over_the_symbol_view_at_80x24() {
    let mut app = alerting();
    app.update(Action::Tick(NOW));
    app.update(key(KeyCode::Enter));
    assert!(app.symbol_view.is_some(), "enter on the watchlist opens it");
    new_signal(&mut app, 2, 2);
    let t = render(&app, 80, 24);
    insta::assert_snapshot!("alert_banner_symbol_view_80x24", t.backend());
    // The tick found the majors' ETH row stale (75 s): that banner came first.
    let text = screen_text(&t);
    let first = text.lines().next().unwrap_or_default().to_string();
    assert!(
        first.contains("STALE majors: 1/4 stale: ETH_USDT (no market data")
            && first.contains("(+1 more)"),
        "{text}"
    );
    // `A` acts on the symbol view too, and leaves it open.
    app.update(key(KeyCode::Char('A')));
    let text = screen_text(&render(&app, 80, 24));
    assert!(
        text.lines().next().unwrap_or_default().contains("SIGNAL"),
        "{text}"
    );
    app.update(key(KeyCode::Char('A')));
    assert!(app.alert_banner().is_none() && app.symbol_view.is_some());
}

#[test]
fn acknowledge_works_over_popups_but_a_typed_filter_takes_the_letter() {
    let mut app = alerting();
    new_signal(&mut app, 2, 2);
    app.update(key(KeyCode::Char('s')));
    assert!(app.popup().is_some());
    app.update(key(KeyCode::Char('A')));
    assert!(app.alert_banner().is_none() && app.popup().is_some());

    new_signal(&mut app, 3, 3);
    app.update(key(KeyCode::Esc));
    app.update(key(KeyCode::Char('/')));
    app.update(key(KeyCode::Char('A')));
    assert!(app.alert_banner().is_some(), "typed into the filter");
    assert_eq!(app.filter, "A");
}

#[test]
fn the_hook_flag_follows_the_command_and_the_kind() {
    let mut cfg = config::defaults();
    cfg.command = "cat > /dev/null".into();
    cfg.signal.hook = false;
    let mut app = with_link(populated(Palette::Ansi16), LinkState::Live).with_alerts(&cfg);
    let hooks = |effects: Vec<Effect>| -> Vec<bool> {
        effects
            .into_iter()
            .filter_map(|e| match e {
                Effect::Alert { hook, .. } => Some(hook),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        hooks(app.raise_alert(extra(AlertKind::Signal, "s"))),
        [false]
    );
    assert_eq!(hooks(app.raise_alert(extra(AlertKind::Fill, "f"))), [true]);
}

/// A terminal sink the test can read.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn bells(&self) -> usize {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner());
        bytes.iter().filter(|b| **b == 0x07).count()
    }
}

/// Draw `app` on the render thread and wait until it says the frame is out.
fn draw(
    renderer: &Renderer,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<RenderEvent>,
    app: &App,
    seq: u64,
) {
    assert!(renderer.send(RenderJob {
        app: Box::new(app.clone()),
        seq,
        keyframe: false,
    }));
    assert_eq!(events.blocking_recv(), Some(RenderEvent::Ready));
}

#[test]
fn the_bell_byte_goes_out_with_the_next_frame_once_and_rate_limited() {
    let sink = Sink::default();
    let (term, _capture) =
        crate::terminal::headless(Box::new(sink.clone()), (80, 24)).expect("headless terminal");
    let (renderer, mut events) = Renderer::spawn(term, 120, None).expect("render thread");
    let mut app = alerting();
    draw(&renderer, &mut events, &app, 1);
    assert_eq!(sink.bells(), 0, "no alert, no bell");

    app.take_dirty();
    new_signal(&mut app, 2, 2);
    assert!(app.take_dirty(), "the alert asks for a frame");
    draw(&renderer, &mut events, &app, 2);
    assert_eq!(sink.bells(), 1, "the frame after the alert rings");
    draw(&renderer, &mut events, &app, 3);
    assert_eq!(sink.bells(), 1, "a later frame does not ring again");

    // A burst inside `bell_min_interval_ms` (2 s): banners, one bell at most.
    for i in 0..50 {
        app.raise_alert(extra(AlertKind::Fill, &format!("fill {i}")));
    }
    draw(&renderer, &mut events, &app, 4);
    assert_eq!(
        sink.bells(),
        1,
        "the burst came within 2 s of the last bell"
    );
    assert_eq!(app.alert_banner().map(|(_, more)| more), Some(50));

    app.update(Action::Tick(NOW + 2_000));
    app.raise_alert(extra(AlertKind::Fill, "later"));
    draw(&renderer, &mut events, &app, 5);
    assert_eq!(sink.bells(), 2, "after the interval it rings again");

    // Data stale only shows (no bell by default).
    app.update(Action::Tick(NOW + 10_000));
    app.raise_alert(extra(AlertKind::DataStale, "stale"));
    draw(&renderer, &mut events, &app, 6);
    assert_eq!(sink.bells(), 2);
    renderer.shutdown(std::time::Duration::from_secs(5));
}

#[test]
fn a_recording_start_state_carries_banners_and_marks() {
    use crate::record::events::AppState;
    let mut app = alerting();
    new_signal(&mut app, 2, 2);
    let json = serde_json::to_string(&AppState::of(&app)).expect("serializes");
    let state: AppState = serde_json::from_str(&json).expect("parses");
    let mut replayed = with_link(populated(Palette::Ansi16), LinkState::Live);
    state.apply_to(&mut replayed);
    assert_eq!(
        replayed.alert_banner().map(|(a, _)| a.text.clone()),
        app.alert_banner().map(|(a, _)| a.text.clone())
    );
    // The replay knows signal 2 was told: its resync is no news.
    let effects = msg(
        &mut replayed,
        ServerMsg::FullUpdate(env(
            StreamName::Signals,
            Some("majors"),
            5,
            NOW,
            Snapshot {
                signals: Some(vec![signal(1, NOW - 60_000), signal(2, NOW - 2_000)]),
                ..Default::default()
            },
        )),
    );
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Alert { .. })),
        "{effects:?}"
    );
}
