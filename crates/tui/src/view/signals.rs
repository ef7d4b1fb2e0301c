//! Signals of the active session, newest first: time, symbol, side, kind, the last price when
//! the signal was raised (paper orders fill at the next trade: the fill price is the
//! position's), reason. Scrolls with the selection when focused; `open` shows one whole.

use super::grid::{self, Align, Col};
use super::{panel, scroll};
use crate::app::{App, Focus};
use crate::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use trademon_protocol::{Side, SignalKind};

/// Prices up to a 6-digit integer part (`100000.1`) or 8 decimals (`0.00001234`).
pub const PRICE_W: usize = 10;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let title = panel::list_title(app, Focus::Signals, "Signals (newest first)");
    let inner = panel::block(app, frame, area, title);
    let theme = &app.theme;
    let len = app.shown_signals().count();
    if len == 0 {
        panel::empty(app, frame, inner, "no signals yet");
        return;
    }
    let time_title = format!("Time {}", app.clock.label(app.now_ms));
    // The reason takes what the other columns (and the gaps between all seven) leave.
    let fixed = 1 + time_title.len().max(8) + 10 + 4 + 6 + "Last@signal".len() + 6 * grid::GAP;
    let reason_w = (inner.width as usize).saturating_sub(fixed).max(6);
    let cols = [
        Col::new("", 1, Align::Left, 0),
        Col::new_owned(time_title, 8, Align::Left, 3),
        Col::new("Symbol", 10, Align::Left, 0),
        Col::new("Side", 4, Align::Left, 0),
        Col::new("Kind", 6, Align::Left, 2),
        // The last price when raised, not a fill: named so it is not read as one.
        Col::new("Last@signal", PRICE_W, Align::Right, 4),
        Col::new("Reason", reason_w, Align::Left, 1),
    ];
    let keep = grid::fit_columns(&cols, inner.width as usize);
    let mut lines: Vec<Line<'static>> = vec![grid::header(&cols, &keep, theme.header())];
    let rows = (inner.height as usize).saturating_sub(1);
    let focused = app.focus == Focus::Signals;
    let selected = app.cursor(Focus::Signals);
    let first = scroll::first_row(selected, len, rows);
    for (i, s) in app.shown_signals().enumerate().skip(first).take(rows) {
        let (side, style) = match s.side {
            Side::Buy => ("BUY", theme.up()),
            Side::Sell => ("SELL", theme.down()),
        };
        let kind = match s.kind {
            SignalKind::Entry => "entry",
            SignalKind::Exit => "exit",
            SignalKind::ForcedExit => "forced",
            SignalKind::Liquidation => "LIQ",
        };
        let is_sel = focused && i == selected;
        let cells = vec![
            Span::raw(if is_sel { ">" } else { " " }),
            Span::styled(app.clock.time(s.at_ms), theme.muted()),
            Span::raw(s.symbol.clone()),
            Span::styled(side, style),
            Span::raw(kind),
            Span::raw(format::price(s.price, PRICE_W)),
            Span::raw(s.reason.clone()),
        ];
        let row_style = if is_sel {
            theme.selected()
        } else {
            Style::new()
        };
        lines.push(grid::row(&cols, &keep, grid::pick(cells, &keep), row_style));
    }
    let shown = lines.len() - 1;
    frame.render_widget(Paragraph::new(lines), inner);
    panel::hidden_cols_note(app, frame, area, grid::hidden_note(&cols, &keep));
    panel::bottom_left_note(app, frame, area, scroll::range_note(first, shown, len));
}
