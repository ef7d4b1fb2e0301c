//! Control from the keyboard, app-level and pure: each key's effect (the WebSocket op sent
//! through `ClientCommand::Request`), the y/n question before what cannot be undone, the
//! add-symbol prompt and the new-session form with their checks, and the backend's answer (or
//! its absence) on the status line. Snapshots of the form and the question at 80x24.

use super::action::{Action, Effect};
use super::app::control::Modal;
use super::app::{App, Focus};
use super::tests::{NOW, env, key, msg, populated, render, screen_text, with_link};
use super::theme::Palette;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use trademon_client::ClientCommand;
use trademon_client::link::LinkState;
use trademon_protocol::*;

fn live() -> App {
    with_link(populated(Palette::Ansi16), LinkState::Live)
}

fn press(app: &mut App, c: char) -> Vec<Effect> {
    app.update(key(KeyCode::Char(c)))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, c);
    }
}

/// The one op a key sent, or a panic naming what came instead.
fn sent(effects: Vec<Effect>) -> ClientMsg {
    match &effects[..] {
        [Effect::Client(ClientCommand::Request(m))] => m.clone(),
        other => panic!("expected one request, got {other:?}"),
    }
}

fn request_id(m: &ClientMsg) -> u64 {
    match m {
        ClientMsg::StartSession { id, .. }
        | ClientMsg::StopSession { id, .. }
        | ClientMsg::PauseStrategy { id, .. }
        | ClientMsg::ResumeStrategy { id, .. }
        | ClientMsg::ClosePosition { id, .. }
        | ClientMsg::AddSymbol { id, .. }
        | ClientMsg::RemoveSymbol { id, .. }
        | ClientMsg::CreateSession { id, .. } => *id,
        other => panic!("not a command: {other:?}"),
    }
}

fn status(app: &App) -> String {
    app.command_line().map(|(_, t)| t).unwrap_or_default()
}

fn set_sessions(app: &mut App, seq: u64, majors: SessionState, paused: bool) {
    let s = |id: &str, name: &str, symbols: &[&str], state, paused| SessionInfo {
        id: id.into(),
        name: name.into(),
        mode: "paper".into(),
        strategy: "default".into(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        state,
        error: None,
        paused,
    };
    let list = vec![
        s(
            "majors",
            "Majors",
            &["BTC_USDT", "ETH_USDT", "SOL_USDT", "XRP_USDT"],
            majors,
            paused,
        ),
        s(
            "alts",
            "Alts",
            &["DOGE_USDT", "PEPE_USDT", "LINK_USDT", "AVAX_USDT"],
            SessionState::Running,
            false,
        ),
    ];
    msg(
        app,
        ServerMsg::FullUpdate(env(
            StreamName::Sessions,
            None,
            seq,
            NOW,
            Snapshot {
                sessions: Some(list),
                ..Default::default()
            },
        )),
    );
}

fn position(id: u64, symbol: &str, entry: f64, mark: f64) -> PositionInfo {
    PositionInfo {
        id,
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
        pnl_pct: 1.0,
        liquidation_price: entry * 0.805,
        distance_to_liq_pct: 19.5,
        alert: false,
        opened_at_ms: NOW - 60_000,
        closed_at_ms: None,
        exit_price: None,
        close_reason: None,
    }
}

/// Majors holds BTC and SOL positions.
fn with_positions(app: &mut App) {
    msg(
        app,
        ServerMsg::FullUpdate(env(
            StreamName::Positions,
            Some("majors"),
            1,
            NOW,
            Snapshot {
                positions: Some(Box::new(PositionsSnapshot {
                    open: vec![
                        position(3, "BTC_USDT", 95_000.0, 95_130.1),
                        position(4, "SOL_USDT", 150.0, 149.871),
                    ],
                    closed: vec![],
                    totals: SessionTotals::default(),
                })),
                ..Default::default()
            },
        )),
    );
}

fn answer(app: &mut App, id: u64, ok: Result<&str, &str>) {
    let reply = match ok {
        Ok(m) => ServerMsg::Result(CommandResult {
            id,
            ok: true,
            message: Some(m.into()),
        }),
        Err(m) => ServerMsg::Error(ErrorReply {
            id: Some(id),
            code: error_code::REJECTED.into(),
            message: m.into(),
            valid: vec![],
        }),
    };
    msg(app, reply);
}

#[test]
fn stop_asks_first_and_only_y_sends_it_then_the_answer_shows_with_its_age() {
    let mut app = live();
    with_positions(&mut app);
    assert!(press(&mut app, 'S').is_empty(), "nothing sent before y");
    let Some(Modal::Confirm { question, .. }) = app.modal() else {
        panic!("a question: {:?}", app.modal());
    };
    assert_eq!(
        question,
        "Stop session Majors? Its 2 open paper positions close at market."
    );
    // Other keys leave the question up and do nothing behind it.
    assert!(press(&mut app, 'q').is_empty());
    assert!(app.update(key(KeyCode::Enter)).is_empty());
    assert!(app.modal().is_some());
    let m = sent(press(&mut app, 'y'));
    assert!(
        matches!(&m, ClientMsg::StopSession { session_id, .. } if session_id == "majors"),
        "{m:?}"
    );
    assert!(app.modal().is_none());
    assert_eq!(status(&app), "stop session majors (sent 0s ago)");
    let text = screen_text(&render(&app, 80, 24));
    assert!(
        text.contains("… stop session majors (sent 0s ago)"),
        "{text}"
    );

    app.update(Action::Tick(NOW + 1_500));
    answer(&mut app, request_id(&m), Ok("session majors stopped"));
    let (outcome, line) = app.command_line().expect("the answer shows");
    assert_eq!(
        (outcome.mark(), line.as_str()),
        ("✓", "session majors stopped · 0s ago")
    );
    app.update(Action::Tick(NOW + 4_500));
    let text = screen_text(&render(&app, 80, 24));
    assert!(text.contains("✓ session majors stopped · 3s ago"), "{text}");
    // Gone after tui.command_status_ms (10 s); the event panel keeps the backend's event.
    app.update(Action::Tick(NOW + 11_500));
    assert_eq!(app.command_line(), None);
    assert!(!screen_text(&render(&app, 80, 24)).contains("stopped"));
}

#[test]
fn n_or_esc_cancel_and_nothing_is_sent() {
    let mut app = live();
    press(&mut app, 'S');
    assert!(press(&mut app, 'n').is_empty());
    assert!(app.modal().is_none());
    assert_eq!(status(&app), "stop session majors: cancelled · 0s ago");
    press(&mut app, '-');
    assert!(app.update(key(KeyCode::Esc)).is_empty());
    assert!(app.modal().is_none());
    assert_eq!(
        status(&app),
        "remove BTC_USDT from session majors: cancelled · 0s ago"
    );
}

#[test]
fn a_stopped_session_starts_at_once_and_pause_follows_the_paused_flag() {
    let mut app = live();
    set_sessions(&mut app, 2, SessionState::Stopped, false);
    let m = sent(press(&mut app, 'S'));
    assert!(matches!(m, ClientMsg::StartSession { ref session_id, .. } if session_id == "majors"));

    let m = sent(press(&mut app, 'p'));
    assert!(matches!(m, ClientMsg::PauseStrategy { ref session_id, .. } if session_id == "majors"));
    set_sessions(&mut app, 3, SessionState::Running, true);
    let text = screen_text(&render(&app, 80, 24));
    assert!(text.contains("PAUSED (monitor only)"), "{text}");
    let m = sent(press(&mut app, 'p'));
    assert!(
        matches!(m, ClientMsg::ResumeStrategy { ref session_id, .. } if session_id == "majors")
    );
}

#[test]
fn close_acts_on_the_focused_position_else_the_watchlist_symbol() {
    let mut app = live();
    with_positions(&mut app);
    // The watchlist's selected row is BTC_USDT.
    press(&mut app, 'X');
    let Some(Modal::Confirm { question, .. }) = app.modal() else {
        panic!("a question");
    };
    assert!(
        question.starts_with("Close the BTC_USDT long position (100.00 USDT, 5x, mark"),
        "{question}"
    );
    let m = sent(press(&mut app, 'y'));
    assert!(matches!(m, ClientMsg::ClosePosition { ref symbol, .. } if symbol == "BTC_USDT"));

    // The Positions list with the focus: its selected row, marked `>`.
    press(&mut app, 'f');
    press(&mut app, 'f');
    assert_eq!(app.focus, Focus::Positions);
    app.update(key(KeyCode::Down));
    let text = screen_text(&render(&app, 80, 24));
    assert!(
        text.lines()
            .any(|l| l.contains(">SOL_USDT") || l.contains("> SOL_USDT")),
        "{text}"
    );
    press(&mut app, 'X');
    let m = sent(press(&mut app, 'y'));
    assert!(matches!(m, ClientMsg::ClosePosition { ref symbol, .. } if symbol == "SOL_USDT"));
    // Enter shows the position whole, with the key that closes it.
    app.update(key(KeyCode::Enter));
    let popup = app.popup().expect("the position popup");
    assert!(popup.title.contains("SOL_USDT"), "{popup:?}");
    assert!(popup.body.contains("Close it at market: X"), "{popup:?}");
    app.update(key(KeyCode::Esc));

    // A symbol without a position: said at once, nothing sent.
    press(&mut app, 'f');
    press(&mut app, 'f');
    press(&mut app, 'f');
    assert_eq!(app.focus, Focus::Watchlist);
    app.update(key(KeyCode::Down));
    assert!(press(&mut app, 'X').is_empty());
    assert!(app.modal().is_none());
    assert_eq!(
        status(&app),
        "close ETH_USDT: no open paper position in session majors · 0s ago"
    );
}

#[test]
fn add_symbol_prompt_checks_what_it_can_then_sends() {
    let mut app = live();
    assert!(press(&mut app, '+').is_empty());
    typed(&mut app, "eth usdt");
    let Some(Modal::AddSymbol { text, .. }) = app.modal() else {
        panic!("the prompt");
    };
    assert_eq!(text, "ETHUSDT", "upper case, no spaces");
    app.update(key(KeyCode::Enter));
    let Some(Modal::AddSymbol { error, .. }) = app.modal() else {
        panic!("still the prompt");
    };
    assert_eq!(
        error.as_deref(),
        Some("\"ETHUSDT\" is not a MEXC futures symbol like BTC_USDT")
    );
    for _ in 0..4 {
        app.update(key(KeyCode::Backspace));
    }
    typed(&mut app, "_usdt");
    app.update(key(KeyCode::Enter));
    let Some(Modal::AddSymbol { error, .. }) = app.modal() else {
        panic!("still the prompt");
    };
    assert_eq!(error.as_deref(), Some("Majors has ETH_USDT already"));
    for _ in 0.."ETH_USDT".len() {
        app.update(key(KeyCode::Backspace));
    }
    typed(&mut app, "sui_usdt");
    let m = sent(app.update(key(KeyCode::Enter)));
    assert!(
        matches!(&m, ClientMsg::AddSymbol { session_id, symbol, .. }
            if session_id == "majors" && symbol == "SUI_USDT"),
        "{m:?}"
    );
    assert!(app.modal().is_none());
    // The backend refuses: its text on the status line.
    answer(
        &mut app,
        request_id(&m),
        Err("SUI_USDT: not listed on MEXC"),
    );
    assert_eq!(
        status(&app),
        "add SUI_USDT to session majors: SUI_USDT: not listed on MEXC · 0s ago"
    );
    assert_eq!(app.command_line().map(|(o, _)| o.mark()), Some("✕"));
}

#[test]
fn remove_asks_about_the_selected_watchlist_symbol() {
    let mut app = live();
    with_positions(&mut app);
    press(&mut app, '-');
    let Some(Modal::Confirm { question, .. }) = app.modal() else {
        panic!("a question");
    };
    assert_eq!(
        question,
        "Remove BTC_USDT from session Majors? Its open paper position closes at market."
    );
    let m = sent(press(&mut app, 'Y'));
    assert!(
        matches!(&m, ClientMsg::RemoveSymbol { session_id, symbol, .. }
            if session_id == "majors" && symbol == "BTC_USDT")
    );
}

#[test]
fn new_session_form_moves_with_tab_checks_and_submits() {
    let mut app = live();
    press(&mut app, 'n');
    let Some(Modal::NewSession(form)) = app.modal() else {
        panic!("the form");
    };
    assert_eq!(
        form.strategy, "default",
        "the active session's strategy to start from"
    );
    // Enter on an empty form says what is missing; the form stays.
    app.update(key(KeyCode::Enter));
    let error = |app: &App| match app.modal() {
        Some(Modal::NewSession(f)) => f.error.clone().unwrap_or_default(),
        other => panic!("{other:?}"),
    };
    assert_eq!(error(&app), "type a name for the session");
    typed(&mut app, "Majors");
    app.update(key(KeyCode::Enter));
    assert_eq!(
        error(&app),
        "session id majors is in use: choose another name"
    );
    for _ in 0..6 {
        app.update(key(KeyCode::Backspace));
    }
    // Keys that are commands elsewhere (q, n, S) are text here.
    typed(&mut app, "Meme coins");
    app.update(key(KeyCode::Tab));
    for _ in 0.."default".len() {
        app.update(key(KeyCode::Backspace));
    }
    typed(&mut app, "demo");
    app.update(key(KeyCode::Tab));
    typed(&mut app, "pepe_usdt, wif_usdt pepe_usdt");
    app.update(key(KeyCode::Enter));
    assert_eq!(error(&app), "PEPE_USDT is listed twice");
    for _ in 0.." pepe_usdt".len() {
        app.update(key(KeyCode::Backspace));
    }
    // Back-tab returns to the name; the text stays.
    app.update(Action::Key(KeyEvent::new(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
    )));
    app.update(Action::Key(KeyEvent::new(
        KeyCode::BackTab,
        KeyModifiers::SHIFT,
    )));
    match app.modal() {
        Some(Modal::NewSession(f)) => {
            assert_eq!(f.field, super::app::control::FormField::Name);
            assert_eq!(f.id(), "meme-coins");
            assert_eq!(f.symbols, "PEPE_USDT, WIF_USDT");
        }
        other => panic!("{other:?}"),
    }
    let m = sent(app.update(key(KeyCode::Enter)));
    assert_eq!(
        m,
        ClientMsg::CreateSession {
            id: request_id(&m),
            session_id: "meme-coins".into(),
            name: Some("Meme coins".into()),
            strategy: "demo".into(),
            symbols: vec!["PEPE_USDT".into(), "WIF_USDT".into()],
        }
    );
    assert_eq!(status(&app), "create session meme-coins (sent 0s ago)");

    // Esc cancels a form; nothing is sent.
    press(&mut app, 'n');
    typed(&mut app, "x");
    assert!(app.update(key(KeyCode::Esc)).is_empty());
    assert!(app.modal().is_none());
    assert_eq!(status(&app), "create a session: cancelled · 0s ago");
}

#[test]
fn unanswered_commands_and_a_dead_link_are_said_so() {
    let mut app = live();
    sent(press(&mut app, 'p'));
    app.update(Action::Tick(NOW + 4_999));
    assert!(status(&app).starts_with("pause the strategy of session majors (sent 4s"));
    app.update(Action::Tick(NOW + 5_000));
    assert_eq!(
        status(&app),
        "pause the strategy of session majors: no answer within 5 s · 0s ago"
    );
    // A late answer changes nothing: the command was given up.
    answer(&mut app, 1 << 40, Ok("session majors paused its strategy"));
    assert!(status(&app).contains("no answer"));

    let mut app = with_link(populated(Palette::Ansi16), LinkState::Reconnecting);
    assert!(press(&mut app, 'p').is_empty());
    assert_eq!(
        status(&app),
        "pause the strategy of session majors: not sent, the backend link is down · 0s ago"
    );
}

#[test]
fn ctrl_c_quits_from_a_form() {
    let mut app = live();
    press(&mut app, 'n');
    let quit = app.update(Action::Key(KeyEvent::new(
        KeyCode::Char('c'),
        KeyModifiers::CONTROL,
    )));
    assert_eq!(
        quit,
        vec![Effect::Client(ClientCommand::Shutdown), Effect::Quit]
    );
}

#[test]
fn the_help_lists_the_control_keys_at_80x24() {
    let mut app = live();
    press(&mut app, '?');
    let text = screen_text(&render(&app, 80, 24));
    for want in [
        "S/p",
        "session: start or stop (y/n) / pause or resume",
        "X ",
        "close the selected paper position at market (y/n)",
        "+/-",
        "n ",
        "new session: name, strategy, symbols",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    assert!(!text.contains("more keys"), "every key fits:\n{text}");
}

#[test]
fn screen_new_session_form_80x24() {
    for palette in [Palette::Ansi16, Palette::None] {
        let mut app = with_link(populated(palette), LinkState::Live);
        press(&mut app, 'n');
        typed(&mut app, "Meme coins");
        app.update(key(KeyCode::Tab));
        app.update(key(KeyCode::Tab));
        typed(&mut app, "pepe_usdt, wif");
        app.update(key(KeyCode::Enter));
        let name = format!("screen_new_session_form_{palette:?}_80x24");
        insta::assert_snapshot!(name, render(&app, 80, 24).backend());
    }
}

#[test]
fn screen_confirm_close_80x24() {
    let mut app = live();
    with_positions(&mut app);
    press(&mut app, 'X');
    insta::assert_snapshot!(render(&app, 80, 24).backend());
}
