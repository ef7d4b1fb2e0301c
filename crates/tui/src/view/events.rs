//! Event panel: recent warnings, errors and connection events, newest first, repeats
//! aggregated as `×3`. Logs never reach the terminal; this is where they surface. The list
//! scrolls with the selection when it has the focus; `open` shows an event whole.

use super::{panel, scroll};
use crate::app::{App, Focus};
use crate::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use trademon_protocol::Level;
use unicode_width::UnicodeWidthStr;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let zone = app.clock.label(app.now_ms);
    let title = panel::list_title(
        app,
        Focus::Events,
        &format!("Events (newest first · {zone})"),
    );
    let inner = panel::block(app, frame, area, title);
    let width = inner.width as usize;
    let rows = inner.height as usize;
    let focused = app.focus == Focus::Events;
    let selected = app.cursor(Focus::Events);
    let len = app.shown_events().count();
    let first = scroll::first_row(selected, len, rows);
    let lines: Vec<Line<'static>> = app
        .shown_events()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, e)| {
            let level = match e.level {
                Level::Info => "INFO ",
                Level::Warn => "WARN ",
                Level::Error => "ERROR",
            };
            let count = if e.count > 1 {
                format!("×{} ", e.count)
            } else {
                String::new()
            };
            let time = app.clock.time(e.ts);
            // Time, level and count come first so only the message text can be shortened.
            let fixed = format!("{time} {level} {count}");
            let rest = format::fit_text(
                &format!("{}: {}", e.name, e.message),
                width.saturating_sub(fixed.width()),
            );
            let line = Line::from(vec![
                Span::styled(time, theme.muted()),
                Span::raw(" "),
                Span::styled(level, theme.level(e.level)),
                Span::raw(" "),
                Span::styled(count, theme.warn()),
                Span::raw(rest),
            ]);
            if focused && i == selected {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    if lines.is_empty() {
        panel::empty(app, frame, inner, "no warnings or connection events");
        return;
    }
    let shown = lines.len();
    frame.render_widget(Paragraph::new(lines), inner);
    panel::bottom_left_note(app, frame, area, scroll::range_note(first, shown, len));
}
