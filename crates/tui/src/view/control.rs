//! What the keyboard controls put on screen: the status line of the last command (bottom row,
//! over the panel border, only while it waits or for `tui.command_status_ms` after its answer)
//! and, over everything, the y/n question, the add-symbol prompt or the new-session form.
//! Outcomes and the field being typed in are marked with symbols (`…` `✓` `✕`, `▸`, `▏`),
//! never by colour alone.

use super::popup::wrap;
use crate::app::App;
use crate::app::commands::Outcome;
use crate::app::control::{FormField, Modal, SessionForm};
use crate::format::fit_text;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use unicode_width::UnicodeWidthStr;

/// Widest box: the form's fields hold a dozen symbols at this width.
const MAX_WIDTH: u16 = 72;
/// The label column of the form.
const LABEL_W: usize = 10;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    status_line(app, frame, area);
    if let Some(modal) = app.modal() {
        modal_box(app, modal, frame, area);
    }
}

fn status_line(app: &App, frame: &mut Frame, area: Rect) {
    let Some((outcome, text)) = app.command_line() else {
        return;
    };
    if area.height < 2 || area.width < 4 {
        return;
    }
    let theme = &app.theme;
    let style = match outcome {
        Outcome::Sent => theme.warn(),
        Outcome::Done => theme.title(),
        Outcome::Failed => theme.error(),
    };
    let max = area.width.saturating_sub(2) as usize;
    let line = fit_text(&format!(" {} {text} ", outcome.mark()), max);
    let rect = Rect {
        x: area.x + 1,
        y: area.bottom() - 1,
        width: line.width() as u16,
        height: 1,
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(Span::styled(line, style)), rect);
}

fn modal_box(app: &App, modal: &Modal, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let w = area.width.saturating_sub(4).min(MAX_WIDTH);
    let inner_w = w.saturating_sub(2) as usize;
    let (title, mut lines, hint) = match modal {
        Modal::Confirm { question, .. } => {
            let lines: Vec<Line<'static>> = wrap(question, inner_w.saturating_sub(1))
                .into_iter()
                .map(|l| Line::raw(format!(" {l}")))
                .collect();
            ("Confirm".to_string(), lines, "y yes · n / esc no")
        }
        Modal::AddSymbol {
            name, text, error, ..
        } => {
            let mut lines = vec![field_line(app, "Symbol", text, true, inner_w, Style::new())];
            lines.push(Line::styled(
                fit_text(" like BTC_USDT (typed upper case)", inner_w),
                theme.muted(),
            ));
            push_error(app, &mut lines, error.as_deref(), inner_w);
            (
                format!("Add a symbol to {name}"),
                lines,
                "enter add · esc cancel",
            )
        }
        Modal::NewSession(form) => (
            "New session".to_string(),
            form_lines(app, form, inner_w),
            "tab next field · enter create · esc cancel",
        ),
    };
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        fit_text(&format!(" {hint}"), inner_w),
        theme.muted(),
    ));
    let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let rect = Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + (area.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    };
    let block = Block::bordered()
        .border_style(theme.title())
        .title(Span::styled(
            format!(" {} ", fit_text(&title, inner_w.saturating_sub(2))),
            theme.title(),
        ));
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn form_lines(app: &App, form: &SessionForm, inner_w: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let mut lines = Vec::new();
    for field in FormField::ALL {
        let focused = form.field == field;
        lines.push(field_line(
            app,
            field.label(),
            form.text(field),
            focused,
            inner_w,
            Style::new(),
        ));
        let note = match field {
            FormField::Name => {
                let id = form.id();
                if id.is_empty() {
                    "id: from the name (letters, digits)".to_string()
                } else {
                    format!("id: {id}")
                }
            }
            FormField::Strategy => {
                let mut used: Vec<&str> =
                    app.sessions().iter().map(|s| s.strategy.as_str()).collect();
                used.sort_unstable();
                used.dedup();
                if used.is_empty() {
                    "as configured, e.g. default".to_string()
                } else {
                    format!("in use: {}", used.join(", "))
                }
            }
            FormField::Symbols => "e.g. BTC_USDT, ETH_USDT".to_string(),
        };
        // Under the field's text: ` ▸ ` + label + ` `.
        let pad = " ".repeat(LABEL_W + 4);
        lines.push(Line::styled(
            fit_text(&format!("{pad}{note}"), inner_w),
            theme.muted(),
        ));
    }
    push_error(app, &mut lines, form.error.as_deref(), inner_w);
    lines
}

/// ` ▸ Name       Alts 2▏`: the focused field has the marker and the cursor; a text longer
/// than the line shows its end (where the typing is).
fn field_line(
    app: &App,
    label: &str,
    text: &str,
    focused: bool,
    inner_w: usize,
    style: Style,
) -> Line<'static> {
    let theme = &app.theme;
    let mark = if focused { "▸" } else { " " };
    let head = format!(" {mark} {label:<LABEL_W$}");
    let room = inner_w.saturating_sub(head.width() + 1);
    let cursor = if focused { "▏" } else { "" };
    let shown = tail(text, room.saturating_sub(cursor.width()));
    let label_style = if focused {
        theme.header()
    } else {
        theme.muted()
    };
    Line::from(vec![
        Span::styled(head, label_style),
        Span::raw(" "),
        Span::styled(format!("{shown}{cursor}"), style),
    ])
}

/// The end of `text` in `width` columns, `…` in front when cut.
fn tail(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let keep = width.saturating_sub(1);
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = Vec::new();
    let mut used = 0;
    for c in chars.into_iter().rev() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + cw > keep {
            break;
        }
        used += cw;
        out.push(c);
    }
    out.reverse();
    format!("…{}", out.into_iter().collect::<String>())
}

fn push_error(app: &App, lines: &mut Vec<Line<'static>>, error: Option<&str>, inner_w: usize) {
    if let Some(e) = error {
        for l in wrap(&format!("✕ {e}"), inner_w.saturating_sub(1)) {
            lines.push(Line::styled(format!(" {l}"), app.theme.error()));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tails_keep_the_end() {
        assert_eq!(super::tail("BTC_USDT", 20), "BTC_USDT");
        assert_eq!(super::tail("BTC_USDT, ETH_USDT", 9), "…ETH_USDT");
        assert_eq!(super::tail("abc", 0), "…");
    }
}
