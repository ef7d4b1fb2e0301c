//! Event panel (DG-3): recent warnings, errors and connection events, newest first, repeats
//! aggregated as `×3`. Logs never reach the terminal; this is where they surface.

use crate::protocol::{Level, LogEvent};
use crate::tui::app::App;
use crate::tui::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use unicode_width::UnicodeWidthStr;

/// INFO events shown anyway: connection life cycle, signals and session changes, which the
/// trader must see, and where a recording or bug report went.
fn is_connection_event(ev: &LogEvent) -> bool {
    let n = ev.name.as_str();
    n.starts_with("link")
        || n.starts_with("client")
        || n.contains("connect")
        || n.contains("close")
        || n == "signal"
        || n.starts_with("session.")
        || n == "record"
}

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let block = Block::bordered()
        .border_style(theme.border())
        .title(Span::styled(" Events (newest first) ", theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let lines: Vec<Line<'static>> = app
        .model
        .events
        .iter()
        .rev()
        .filter(|e| e.level >= Level::Warn || is_connection_event(e))
        .take(inner.height as usize)
        .map(|e| {
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
            // Time, level and count come first so only the message text can be shortened.
            let fixed = format!("{} {level} {count}", format::clock_utc(e.ts));
            let rest = format::fit_text(
                &format!("{}: {}", e.name, e.message),
                width.saturating_sub(fixed.width()),
            );
            Line::from(vec![
                Span::styled(format::clock_utc(e.ts), theme.muted()),
                Span::raw(" "),
                Span::styled(level, theme.level(e.level)),
                Span::raw(" "),
                Span::styled(count, theme.warn()),
                Span::raw(rest),
            ])
        })
        .collect();
    if lines.is_empty() {
        let msg = Line::styled("no warnings or connection events", theme.muted());
        frame.render_widget(Paragraph::new(msg), inner);
    } else {
        frame.render_widget(Paragraph::new(lines), inner);
    }
}
