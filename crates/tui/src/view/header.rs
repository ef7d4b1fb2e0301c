//! Top line: app name, the mode badge (`DEMO`, `REPLAY ×4`: reversed, in words), session tabs
//! (active one reversed AND bracketed), key hints.

use crate::app::App;
use crate::keymap::Command;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use trademon_protocol::SessionState;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let width = area.width as usize;
    let mut spans = vec![Span::styled(" trademon ", theme.title())];
    if let Some(badge) = crate::app::describe::mode_badge(app) {
        spans.push(Span::styled(format!(" {badge} "), theme.active_tab()));
        spans.push(Span::raw(" "));
    }

    let sessions = app.sessions();
    let tabs: Vec<Span<'static>> = sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let state = match s.state {
                SessionState::Running => "",
                SessionState::Starting => " (starting)",
                SessionState::Stopped => " (stopped)",
                SessionState::Failed => " (failed)",
            };
            // Only 1-9 have a key; later tabs are reached with next/prev.
            let num = if i < 9 {
                format!("{} ", i + 1)
            } else {
                String::new()
            };
            if i == app.active {
                Span::styled(format!("[{num}{}{state}]", s.name), theme.active_tab())
            } else {
                Span::raw(format!(" {num}{}{state} ", s.name))
            }
        })
        .collect();

    let help = format!("{} help ", app.keymap.keys_for(Command::Help));
    let used = spans_width(&spans) + help.chars().count();
    let sep = Span::styled("│", theme.border());
    let all_width: usize = tabs.iter().map(|t| t.content.chars().count() + 1).sum();
    if sessions.is_empty() {
        spans.push(Span::styled(" no sessions yet", theme.muted()));
    } else if used + all_width <= width {
        for (i, tab) in tabs.into_iter().enumerate() {
            if i > 0 {
                spans.push(sep.clone());
            }
            spans.push(tab);
        }
    } else if let Some(active) = tabs.into_iter().nth(app.active) {
        // Too many tabs for the width: the active one and where it sits.
        spans.push(active);
        spans.push(Span::styled(
            format!(" {}/{}", app.active + 1, sessions.len()),
            theme.muted(),
        ));
    }

    let pad = width.saturating_sub(spans_width(&spans) + help.chars().count());
    if pad > 0 {
        spans.push(Span::raw(" ".repeat(pad)));
        spans.push(Span::styled(help, theme.muted()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn spans_width(spans: &[Span]) -> usize {
    spans.iter().map(|s| s.width()).sum()
}
