//! A text overlay over everything: a title and a body shown whole (wrapped, scrolled with
//! up/down), closed with Esc. For text that does not fit where it normally shows.

use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use unicode_width::UnicodeWidthStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Popup {
    pub title: String,
    pub body: String,
}

/// Widest popup: longer lines wrap, which reads better than one very wide box.
const MAX_W: u16 = 100;

pub fn render(app: &App, popup: &Popup, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let widest = popup.body.lines().map(|l| l.width()).max().unwrap_or(0) as u16;
    let w = (widest + 4)
        .clamp(30, MAX_W)
        .min(area.width.saturating_sub(2));
    let inner_w = w.saturating_sub(2).max(1) as usize;
    // Wrapped line count, so the box is as tall as the text (up to the screen).
    let wrapped: usize = popup
        .body
        .lines()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .sum();
    let h = (wrapped as u16 + 2)
        .min(area.height.saturating_sub(2))
        .max(3);
    let rect = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let scrolls = wrapped > h.saturating_sub(2) as usize;
    let hint = if scrolls {
        " esc close · up/down scroll "
    } else {
        " esc close "
    };
    let block = Block::bordered()
        .border_style(theme.title())
        .title(Span::styled(format!(" {} ", popup.title), theme.title()))
        .title_bottom(Line::styled(hint, theme.muted()).right_aligned());
    let lines: Vec<Line<'static>> = popup
        .body
        .lines()
        .map(|l| Line::raw(l.to_string()))
        .collect();
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((app.popup_scroll.min(u16::MAX as usize) as u16, 0)),
        rect,
    );
}
