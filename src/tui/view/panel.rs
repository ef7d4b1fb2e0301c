//! Small helpers the engine panels share: a bordered block, signed money, a text gauge.

use crate::tui::app::App;
use crate::tui::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

/// Draws a bordered block titled `title` and returns its inner area.
pub fn block(app: &App, frame: &mut Frame, area: Rect, title: String) -> Rect {
    let theme = &app.theme;
    let block = Block::bordered()
        .border_style(theme.border())
        .title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// One muted line saying why a panel is empty.
pub fn empty(app: &App, frame: &mut Frame, area: Rect, msg: &str) {
    let line = Line::styled(msg.to_string(), app.theme.muted());
    frame.render_widget(Paragraph::new(line), area);
}

/// Money with a sign (`+1.23`, `-0.50`), fitted to `width` like every number.
pub fn signed(value: f64, width: usize) -> String {
    if value > 0.0 {
        let s = format::fit_number(value, 2, width.saturating_sub(1));
        if s.starts_with(format::OVERFLOW_CHAR) {
            return format::overflow(width);
        }
        format!("+{s}")
    } else {
        format::fit_number(value, 2, width)
    }
}

/// `[#####-----]`: ten cells, one per 10 %.
pub fn gauge(progress_pct: f64) -> String {
    let filled = (progress_pct.clamp(0.0, 100.0) / 10.0).round() as usize;
    format!("[{}{}]", "#".repeat(filled), "-".repeat(10 - filled))
}

/// A generic indicator value: two decimals, more only for tiny values (funding rates),
/// fitted to `width`.
pub fn number(value: f64, width: usize) -> String {
    let decimals = if value.abs() >= 0.01 {
        2
    } else {
        format::price_decimals(value)
    };
    format::fit_number(value, decimals, width)
}
