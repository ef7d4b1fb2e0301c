//! Small helpers the engine panels share: a bordered block, signed money, a text gauge.

use crate::app::{App, Focus};
use crate::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use unicode_width::UnicodeWidthStr;

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

/// The title of a list panel: `▸` marks the list with the focus (not colour alone).
pub fn list_title(app: &App, list: Focus, title: &str) -> String {
    if app.focus == list {
        format!(" ▸ {title} ")
    } else {
        format!(" {title} ")
    }
}

/// A note on the bottom border at the right (`+2 cols hidden`), clear of the title above
/// and of the row count at the bottom left.
pub fn hidden_cols_note(app: &App, frame: &mut Frame, area: Rect, note: Option<String>) {
    let Some(note) = note else { return };
    let w = (note.width() as u16).min(area.width.saturating_sub(4));
    if w == 0 || area.height < 2 {
        return;
    }
    let r = Rect {
        x: area.right().saturating_sub(w + 1),
        y: area.bottom().saturating_sub(1),
        width: w,
        height: 1,
    };
    frame.render_widget(Paragraph::new(Span::styled(note, app.theme.muted())), r);
}

/// A note on the bottom border at the left (`3-9 of 40`).
pub fn bottom_left_note(app: &App, frame: &mut Frame, area: Rect, note: Option<String>) {
    let Some(note) = note else { return };
    if area.height < 2 {
        return;
    }
    let r = Rect {
        x: area.x + 2,
        y: area.bottom().saturating_sub(1),
        width: (note.width() as u16).min(area.width.saturating_sub(4)),
        height: 1,
    };
    frame.render_widget(Paragraph::new(Span::styled(note, app.theme.muted())), r);
}

/// One muted line saying why a panel is empty.
pub fn empty(app: &App, frame: &mut Frame, area: Rect, msg: &str) {
    let line = Line::styled(msg.to_string(), app.theme.muted());
    frame.render_widget(Paragraph::new(line), area);
}

/// Money with a sign (`+1.23`, `-0.50`), fitted to `width` like every number.
pub fn signed(value: f64, width: usize) -> String {
    format::signed(value, width)
}

/// `[=====-----]`: ten cells, one per 10 % (not `#`, which marks a number that does not fit).
pub fn gauge(progress_pct: f64) -> String {
    let filled = (progress_pct.clamp(0.0, 100.0) / 10.0).round() as usize;
    format!("[{}{}]", "=".repeat(filled), "-".repeat(10 - filled))
}
