//! Condition progress of the selected instance (the watchlist's selected symbol): one text
//! gauge per condition, met ones marked `✓ met`, stale ones `stale` (never colour alone).

use super::grid::{self, Align, Col};
use super::panel;
use crate::app::App;
use crate::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;
use trademon_engine::condition::{display_expr, unit_of};
use trademon_protocol::ConditionKind;
use unicode_width::UnicodeWidthStr;

/// A 6-digit price with a decimal (`100000.1`), a percentage (`-12.34%`), a volume.
const VALUE_W: usize = 9;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let Some(session) = app.active_session() else {
        panel::block(app, frame, area, " Conditions ".into());
        return;
    };
    let symbol = app.selected_symbol().unwrap_or("");
    let data = app
        .model
        .conditions
        .get(&session.id)
        .and_then(|m| m.get(symbol));
    let state = data.map_or("", |d| d.state.as_str());
    let title = if state.is_empty() {
        format!(" Conditions {symbol} (↑↓ selects) ")
    } else {
        format!(" Conditions {symbol} · {state} ")
    };
    let inner = panel::block(app, frame, area, title);
    let theme = &app.theme;
    let Some(data) = data else {
        panel::empty(app, frame, inner, "no condition data for this instance yet");
        return;
    };
    // Thresholds in the unit values are shown in (`buy_ratio_1m > 60%`, not `> 0.6`).
    let exprs: Vec<String> = data
        .conditions
        .iter()
        .map(|c| display_expr(&c.indicator, &c.op, c.threshold))
        .collect();
    let expr_w = exprs
        .iter()
        .map(|e| e.width())
        .max()
        .unwrap_or(0)
        .clamp(8, 32);
    let cols = [
        Col::new("", 5, Align::Left, 0),
        Col::new("Condition", expr_w, Align::Left, 0),
        // The gauge repeats the `%` column as a picture: it goes before the value does.
        Col::new("Progress", 12, Align::Left, 1),
        Col::new("%", 4, Align::Right, 0),
        Col::new("Value", VALUE_W, Align::Right, 2),
        Col::new("", 5, Align::Left, 0),
    ];
    let keep = grid::fit_columns(&cols, inner.width as usize);
    let mut lines = vec![grid::header(&cols, &keep, theme.header())];
    for (c, expr) in data
        .conditions
        .iter()
        .zip(exprs)
        .take((inner.height as usize).saturating_sub(1))
    {
        let kind = match c.kind {
            ConditionKind::Entry => "entry",
            ConditionKind::Exit => "exit",
        };
        let (status, style) = if c.stale {
            ("stale", theme.stale())
        } else if c.met {
            ("✓ met", theme.up())
        } else {
            ("", Style::new())
        };
        let value = c.value.map_or(format::MISSING.to_string(), |v| {
            format::unit(v, unit_of(&c.indicator), VALUE_W)
        });
        let cells = vec![
            Span::styled(kind, theme.muted()),
            Span::raw(expr),
            Span::styled(panel::gauge(c.progress_pct), style),
            Span::raw(format!("{:.0}%", c.progress_pct.clamp(0.0, 100.0))),
            Span::raw(value),
            Span::styled(status, style),
        ];
        let row_style = if c.stale { theme.stale() } else { Style::new() };
        lines.push(grid::row(&cols, &keep, grid::pick(cells, &keep), row_style));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    panel::hidden_cols_note(app, frame, area, grid::hidden_note(&cols, &keep));
}
