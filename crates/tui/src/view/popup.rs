//! A popup with the full text of one row (an event, a signal, an instance, an upstream
//! subscription): what a table cell had to cut with `…` is readable here whole. Drawn over
//! everything, wrapped to its width, scrolled with up/down and the page keys, closed by esc.

use super::scroll;
use crate::app::App;
use crate::app::describe::Popup;
use crate::format;
use crate::keymap::Command;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Widest popup: longer lines wrap, which reads better than a full-width block.
const MAX_WIDTH: u16 = 100;

pub fn render(app: &App, popup: &Popup, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let w = area.width.saturating_sub(2).min(MAX_WIDTH);
    let inner_w = w.saturating_sub(2) as usize;
    let lines = wrap(&popup.body, inner_w);
    let h = (lines.len() as u16 + 2)
        .min(area.height.saturating_sub(2))
        .max(3);
    let rect = Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + (area.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    };
    let visible = h.saturating_sub(2) as usize;
    let first = (app.popup_scroll as usize).min(lines.len().saturating_sub(visible));
    let close = format!(" esc close · {} ", scroll_hint(app));
    let mut block = Block::bordered()
        .border_style(theme.title())
        .title(Span::styled(
            format!(
                " {} ",
                format::fit_text(&popup.title, inner_w.saturating_sub(2))
            ),
            theme.title(),
        ))
        .title_bottom(Span::styled(close, theme.muted()));
    if let Some(note) = scroll::range_note(first, visible.min(lines.len()), lines.len()) {
        block = block.title_bottom(Line::styled(note, theme.muted()).right_aligned());
    }
    let shown: Vec<Line<'static>> = lines
        .into_iter()
        .skip(first)
        .take(visible)
        .map(Line::from)
        .collect();
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(shown).block(block), rect);
}

fn scroll_hint(app: &App) -> String {
    let up = app.keymap.keys_for(Command::Up);
    let down = app.keymap.keys_for(Command::Down);
    let first = |k: String| k.split(", ").next().unwrap_or("").to_string();
    format!("{}/{} scroll", first(up), first(down))
}

/// Word-wraps `text` to `width` columns; words longer than a line are split.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        let mut used = 0;
        for word in para.split(' ') {
            let ww = word.width();
            let sep = usize::from(used > 0);
            if used + sep + ww <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(word);
                used += sep + ww;
                continue;
            }
            if used > 0 {
                out.push(std::mem::take(&mut line));
                used = 0;
            }
            for ch in word.chars() {
                let cw = ch.width().unwrap_or(0);
                if used + cw > width {
                    out.push(std::mem::take(&mut line));
                    used = 0;
                }
                line.push(ch);
                used += cw;
            }
        }
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_words_and_splits_long_ones() {
        assert_eq!(wrap("aaa bbb ccc", 7), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("one\n\ntwo", 10), vec!["one", "", "two"]);
    }
}
