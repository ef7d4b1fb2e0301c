//! `?` overlay, generated from the keymap so it always matches the configured keys.

use crate::app::App;
use crate::format::fit_text;
use crate::keymap::{Binding, Key, Screen};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use unicode_width::UnicodeWidthStr;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    // The keys of the screen on show: the symbol view's own, or the main screen's.
    let screen = if app.symbol_view.is_some() {
        Screen::Symbol
    } else {
        Screen::Main
    };
    let shown: Vec<&Binding> = app
        .keymap
        .bindings()
        .iter()
        .filter(|b| b.command.acts_on(screen))
        .collect();
    let keys_of = |b: &Binding| {
        let keys = b
            .keys
            .iter()
            .map(Key::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        if keys.is_empty() {
            "(unbound)".to_string()
        } else {
            keys
        }
    };
    let mut rows: Vec<(String, &str)> = Vec::new();
    let mut paired = Vec::new();
    for b in &shown {
        if paired.contains(&b.command) {
            continue;
        }
        let pair = b.command.help_pair(screen).and_then(|(other, desc)| {
            let ob = shown.iter().find(|o| o.command == other)?;
            Some((ob, desc))
        });
        match pair {
            Some((ob, desc)) => {
                paired.push(ob.command);
                rows.push((format!("{}/{}", keys_of(b), keys_of(ob)), desc));
            }
            None => rows.push((keys_of(b), b.command.description_on(screen))),
        }
    }
    match screen {
        Screen::Main => {
            rows.push(("1-9".into(), "jump to session N"));
            rows.push(("esc".into(), "close this help or a popup"));
        }
        Screen::Symbol => rows.push(("esc".into(), "close help or popup, else back")),
    }

    let key_w = rows.iter().map(|(k, _)| k.width()).max().unwrap_or(0);
    let desc_w = rows.iter().map(|(_, d)| d.width()).max().unwrap_or(0);
    let want_w = (key_w + desc_w + 5) as u16;
    let w = want_w.min(area.width.saturating_sub(2));
    let h = (rows.len() as u16 + 2).min(area.height.saturating_sub(2));
    let popup = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let inner_w = w.saturating_sub(2) as usize;
    // Too short for every key: say how many are left out rather than cutting silently.
    let room = h.saturating_sub(2) as usize;
    if rows.len() > room && room > 0 {
        rows.truncate(room - 1);
        rows.push(("…".into(), "more keys: enlarge the terminal"));
    }
    let lines: Vec<Line<'static>> = rows
        .into_iter()
        .map(|(k, d)| {
            let key = format!(" {k:<key_w$}  ");
            let desc = fit_text(d, inner_w.saturating_sub(key.width()));
            Line::from(vec![Span::styled(key, theme.header()), Span::raw(desc)])
        })
        .collect();
    let block = Block::bordered()
        .border_style(theme.title())
        .title(Span::styled(" Keys ", theme.title()));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
