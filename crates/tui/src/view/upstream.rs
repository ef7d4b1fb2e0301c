//! Upstream detail (key `upstream`, default `u`): the MEXC connections with their state,
//! pong age, subscription counts and last close, the QuestDB writer when it is on, then every
//! (channel, symbol) subscription with its state, data age, resubscribes and error. Replaces
//! the panels; up/down scroll the subscription list, so any number of symbols fits 80x24.

use super::grid::{self, Align, Col};
use crate::app::App;
use crate::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use trademon_protocol::{StreamState, UpstreamConnection, UpstreamHealth, UpstreamState};

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let key = app.keymap.keys_for(crate::keymap::Command::Upstream);
    let store = app.model.health.as_ref().and_then(|h| h.store.as_ref());
    let venue = match app.market() {
        Some(trademon_protocol::MarketSource::Simulator) => "Simulated market (DEMO, not MEXC)",
        _ => "MEXC upstream",
    };
    let what = if store.is_some() {
        format!("{venue} and QuestDB")
    } else {
        venue.to_string()
    };
    let block = Block::bordered()
        .border_style(theme.border())
        .title(Span::styled(
            format!(" {what} ({key} or esc to close) "),
            theme.title(),
        ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(up) = app.model.health.as_ref().map(|h| &h.upstream) else {
        frame.render_widget(
            Paragraph::new(Line::styled("no health received yet", theme.muted())),
            inner,
        );
        return;
    };
    let width = inner.width as usize;
    let mut lines: Vec<Line<'static>> = vec![summary(up, width)];
    // Why the exchange link is not live, whole: wrapped, never cut.
    for (label, text) in [("cause: ", &up.cause), ("REST fallback: ", &up.rest_error)] {
        if let Some(text) = text {
            lines.extend(wrapped(label, text, width, theme.warn()));
        }
    }
    for c in &up.connections {
        lines.push(connection(app, c, width));
    }
    if let Some(s) = store {
        lines.extend(super::store_detail::lines(s, theme, width));
    }

    let cols = [
        Col::new("Symbol", 14, Align::Left, 0),
        Col::new("Chan", 6, Align::Left, 0),
        Col::new("State", 7, Align::Left, 0),
        Col::new("Data age", 8, Align::Right, 0),
        Col::new("Resub", 5, Align::Right, 1),
        // The exchange's refusal text is the point of this column: give it the rest.
        Col::new("Error", width.saturating_sub(45).max(8), Align::Left, 2),
    ];
    let keep = grid::fit_columns(&cols, width);
    lines.push(grid::header(&cols, &keep, theme.header()));
    let room = (inner.height as usize).saturating_sub(lines.len());
    let total = up.streams.len();
    // One line goes to the position note when not every row fits.
    let rows = if total > room {
        room.saturating_sub(1)
    } else {
        room
    };
    let selected = app.upstream_scroll.min(total.saturating_sub(1));
    let first = super::scroll::first_row(selected, total, rows);
    let shown: Vec<_> = up
        .streams
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .collect();
    let n_shown = shown.len();
    for (i, s) in shown {
        let (word, style) = match s.state {
            StreamState::Pending => ("pending", theme.muted()),
            StreamState::Acked => ("acked", Style::new()),
            StreamState::Live => ("live", theme.up()),
            StreamState::Stale => ("STALE", theme.warn()),
            StreamState::Failed => ("FAILED", theme.error()),
        };
        let age = s
            .data_age_ms
            .map_or(format::MISSING.to_string(), |a| format::age(a as i64));
        let err_w = width.saturating_sub(45);
        let cells = vec![
            Span::raw(s.symbol.clone()),
            Span::raw(s.channel.clone()),
            Span::styled(word, style),
            Span::raw(age),
            Span::raw(s.resubscribes.to_string()),
            Span::styled(
                format::fit_text(s.error.as_deref().unwrap_or(""), err_w.max(8)),
                theme.warn(),
            ),
        ];
        let row_style = if i == selected {
            theme.selected()
        } else {
            Style::new()
        };
        lines.push(grid::row(&cols, &keep, grid::pick(cells, &keep), row_style));
    }
    if total > n_shown && n_shown > 0 {
        // Say where we are instead of dropping rows silently.
        let open = app.keymap.keys_for(crate::keymap::Command::Open);
        lines.push(Line::styled(
            format!(
                "rows {}-{} of {total} (up/down select, {open} shows a row whole)",
                first + 1,
                first + n_shown
            ),
            theme.muted(),
        ));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// `label` then `text`, broken into lines of `width` characters.
fn wrapped(label: &str, text: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    let chars: Vec<char> = format!("{label}{text}").chars().collect();
    chars
        .chunks(width.max(1))
        .map(|c| Line::styled(c.iter().collect::<String>(), style))
        .collect()
}

fn state_word(s: UpstreamState) -> &'static str {
    match s {
        UpstreamState::Connecting => "connecting",
        UpstreamState::Live => "live",
        UpstreamState::Reconnecting => "reconnecting",
        UpstreamState::RestPolling => "REST polling",
        UpstreamState::Down => "DOWN",
    }
}

fn summary(up: &UpstreamHealth, width: usize) -> Line<'static> {
    let source = match up.source {
        trademon_protocol::DataSource::Ws => "ws",
        trademon_protocol::DataSource::Rest => "REST",
    };
    let c = &up.subscriptions;
    let text = format!(
        "{} · source {source} · reconnects {} · malformed {} · subs P{} A{} L{} S{} F{}",
        state_word(up.state),
        up.reconnects,
        up.malformed_frames,
        c.pending,
        c.acked,
        c.live,
        c.stale,
        c.failed
    );
    Line::raw(format::fit_text(&text, width))
}

fn connection(app: &App, c: &UpstreamConnection, width: usize) -> Line<'static> {
    let theme = &app.theme;
    let pong = c
        .pong_age_ms
        .map_or(format::MISSING.to_string(), |a| format::age(a as i64));
    let s = &c.subscriptions;
    let close = c.last_close.as_ref().map_or(String::new(), |l| {
        let who = match l.initiator {
            trademon_protocol::Initiator::Local => "us",
            trademon_protocol::Initiator::Remote => "server",
            trademon_protocol::Initiator::Transport => "transport",
        };
        format!(" · closed {} by {who} {}", l.code, l.reason)
    });
    let head = format!("{:<8} ", c.id);
    let rest = format!(
        "{} · pong {pong} · L{} A{} P{} S{} F{} · reconn {}{close}",
        state_word(c.state),
        s.live,
        s.acked,
        s.pending,
        s.stale,
        s.failed,
        c.reconnects
    );
    Line::from(vec![
        Span::styled(head.clone(), theme.header()),
        Span::styled(
            format::fit_text(&rest, width.saturating_sub(head.len())),
            theme.upstream(c.state),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use crate::action::Action;
    use crate::app::App;
    use crate::keymap::Keymap;
    use crate::settings::default_tui;
    use crate::theme::{Palette, Theme};
    use crate::view::view;
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use trademon_client::ClientEvent;
    use trademon_client::link::{LinkState, LinkStatus};
    use trademon_protocol::*;

    const NOW: i64 = 1_700_000_000_000;

    fn stream(
        symbol: &str,
        channel: &str,
        state: StreamState,
        age: Option<u64>,
        resub: u32,
        error: Option<&str>,
    ) -> UpstreamStream {
        UpstreamStream {
            channel: channel.into(),
            symbol: symbol.into(),
            state,
            data_age_ms: age,
            resubscribes: resub,
            error: error.map(str::to_string),
            gaps: 0,
        }
    }

    fn app() -> App {
        app_with(None)
    }

    fn app_with(store: Option<trademon_protocol::StoreHealth>) -> App {
        let mut tui = default_tui();
        // Snapshots must not depend on the machine's zone.
        tui.timezone = "UTC".into();
        let keymap = Keymap::from_config(&tui.keys).expect("default keys");
        let mut link = LinkStatus::new("ws://127.0.0.1:7878/ws");
        link.state = LinkState::Live;
        let mut app = App::new(
            &tui,
            keymap,
            Theme::new(Palette::Ansi16),
            link,
            (80, 24),
            NOW,
        );
        let mut streams = Vec::new();
        for (i, sym) in [
            "ADA_USDT",
            "BTC_USDT",
            "DOGE_USDT",
            "ETH_USDT",
            "LINK_USDT",
            "SOL_USDT",
            "XRP_USDT",
        ]
        .iter()
        .enumerate()
        {
            streams.push(stream(
                sym,
                "deal",
                StreamState::Live,
                Some(400 + i as u64 * 900),
                0,
                None,
            ));
            streams.push(stream(
                sym,
                "ticker",
                StreamState::Live,
                Some(1_200),
                0,
                None,
            ));
        }
        streams[3] = stream(
            "BTC_USDT",
            "ticker",
            StreamState::Stale,
            Some(17_000),
            2,
            None,
        );
        streams.push(stream(
            "NOPE_USDT",
            "deal",
            StreamState::Failed,
            None,
            0,
            Some("Contract [NOPE_USDT] not exists"),
        ));
        streams.push(stream(
            "NOPE_USDT",
            "ticker",
            StreamState::Failed,
            None,
            0,
            Some("Contract [NOPE_USDT] not exists"),
        ));
        let upstream = UpstreamHealth {
            state: UpstreamState::Live,
            url: "wss://contract.mexc.com/edge".into(),
            pong_age_ms: Some(3_100),
            last_data_age_ms: Some(40),
            reconnects: 1,
            subscriptions: SubscriptionCounts {
                pending: 0,
                acked: 0,
                live: 13,
                stale: 1,
                failed: 2,
            },
            source: DataSource::Rest,
            malformed_frames: 3,
            connections: vec![UpstreamConnection {
                id: "mexc-4".into(),
                state: UpstreamState::Live,
                pong_age_ms: Some(3_100),
                subscriptions: SubscriptionCounts {
                    pending: 0,
                    acked: 0,
                    live: 13,
                    stale: 1,
                    failed: 2,
                },
                last_close: Some(CloseInfo {
                    initiator: Initiator::Local,
                    code: 1000,
                    reason: "ticker BTC_USDT stale after 2 resubscribes".into(),
                    at_ms: NOW - 60_000,
                }),
                reconnects: 1,
            }],
            streams,
            ..Default::default()
        };
        let health = Health {
            backend_started_ms: NOW - 3_600_000,
            clients: 1,
            market: MarketSource::Mexc,
            upstream,
            store,
        };
        app.update(Action::Client(ClientEvent::Message {
            msg: ServerMsg::FullUpdate(Envelope {
                interval: None,
                symbol: None,
                stream: StreamName::Health,
                session_id: None,
                seq: 1,
                ts: NOW,
                data: Snapshot {
                    health: Some(Box::new(health)),
                    ..Default::default()
                },
            }),
            raw: String::new(),
        }));
        app
    }

    fn key(c: KeyCode) -> Action {
        Action::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    fn render(app: &App) -> Terminal<TestBackend> {
        let mut t = Terminal::new(TestBackend::new(80, 24)).expect("backend");
        t.draw(|f| view(app, f)).expect("draw");
        t
    }

    #[test]
    fn upstream_detail_80x24_toggles_and_scrolls() {
        let mut app = app();
        app.update(key(KeyCode::Char('u')));
        insta::assert_snapshot!("upstream_detail_80x24", render(&app).backend());
        for _ in 0..20 {
            app.update(key(KeyCode::Down));
        }
        let text = render(&app).backend().to_string();
        assert!(
            text.contains("NOPE_USDT") && text.contains("Contract [NOPE_USDT]"),
            "{text}"
        );
        app.update(key(KeyCode::Esc));
        assert!(
            !render(&app)
                .backend()
                .to_string()
                .contains("MEXC upstream (")
        );
        app.update(key(KeyCode::Char('u')));
        app.update(key(KeyCode::Char('u')));
        assert!(!app.show_upstream);
    }

    #[test]
    fn questdb_detail_says_down_with_spool_and_names_the_missing_column_at_80x24() {
        let mut h = trademon_protocol::StoreHealth::disabled();
        h.state = trademon_protocol::StoreState::Down;
        h.rows_spooled = 4321;
        h.oldest_spooled_age_ms = 75_000;
        h.last_error = Some("Could not flush buffer: connection refused".into());
        h.schema_problems = vec!["signals.side: column missing".into()];
        let mut app = app_with(Some(h));
        app.update(key(KeyCode::Char('u')));
        let text = render(&app).backend().to_string();
        for want in [
            "MEXC upstream and QuestDB",
            "QuestDB DOWN · spool 4321 rows, oldest 1m",
            "last error: Could not flush buffer: connection refused",
            "schema: signals.side: column missing",
            // The subscription list still follows.
            "BTC_USDT",
        ] {
            assert!(text.contains(want), "{want:?} missing:\n{text}");
        }
    }
}
