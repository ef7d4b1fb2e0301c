//! Open paper positions of the active session: entry, mark, PnL, distance to liquidation.
//! A liquidation-risk alert is spelled out (`LIQ RISK`) as well as highlighted.

use super::grid::{self, Align, Col};
use super::{panel, scroll};
use crate::app::{App, Focus};
use crate::format::{self, Unit};

/// Prices up to a 6-digit integer part (`100000.1`) or 8 decimals (`0.00001234`).
const PRICE_W: usize = 10;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let title = panel::list_title(app, Focus::Positions, "Positions (paper · USDT)");
    let inner = panel::block(app, frame, area, title);
    let Some(session) = app.active_session() else {
        return;
    };
    let theme = &app.theme;
    let open = app.model.positions.get(&session.id);
    if open.is_none_or(|m| m.is_empty()) {
        panel::empty(app, frame, inner, "no open positions");
        return;
    }
    // With the focus, a `>` column marks the selected row (the close key's target).
    let focused = app.focus == Focus::Positions;
    // Direction and PnL never drop (priority 0). Prices hold a 6-digit integer part.
    let mut cols = vec![
        Col::new("", 1, Align::Left, 0),
        Col::new("Symbol", 10, Align::Left, 0),
        Col::new("Dir", 5, Align::Left, 0),
        // The price the paper order filled at (next trade plus slippage).
        Col::new("Entry fill", PRICE_W, Align::Right, 5),
        Col::new("Mark", PRICE_W, Align::Right, 3),
        Col::new("PnL USDT", 9, Align::Right, 0),
        Col::new("PnL %", 8, Align::Right, 4),
        Col::new("Liq price", PRICE_W, Align::Right, 2),
        Col::new("To liq", 7, Align::Right, 6),
        Col::new("Fees", 7, Align::Right, 1),
        Col::new("Alert", 8, Align::Left, 0),
    ];
    if !focused {
        cols.remove(0);
    }
    let keep = grid::fit_columns(&cols, inner.width as usize);
    let mut lines: Vec<Line<'static>> = vec![grid::header(&cols, &keep, theme.header())];
    let len = app.shown_positions().count();
    let rows = (inner.height as usize).saturating_sub(1);
    let selected = app.cursor(Focus::Positions);
    let first = scroll::first_row(selected, len, rows);
    for (i, p) in app.shown_positions().enumerate().skip(first).take(rows) {
        let is_sel = focused && i == selected;
        let net = p.unrealized_pnl - p.fees;
        let pnl_style = theme.by_sign(net);
        let alert = if p.alert {
            Span::styled("LIQ RISK", theme.error())
        } else {
            Span::raw("")
        };
        let d = app.price_decimals(&p.symbol);
        let mut cells = vec![
            Span::raw(if is_sel { ">" } else { " " }),
            Span::raw(p.symbol.clone()),
            Span::raw(p.direction.clone()),
            Span::raw(format::price_in(p.entry_price, d, PRICE_W)),
            Span::raw(format::price_in(p.mark_price, d, PRICE_W)),
            Span::styled(format::signed(p.unrealized_pnl, 9), pnl_style),
            Span::styled(format::percent(p.pnl_pct, 8), pnl_style),
            Span::raw(format::price_in(p.liquidation_price, d, PRICE_W)),
            Span::raw(format::unit(p.distance_to_liq_pct, Unit::Percent, 7)),
            Span::raw(format::fit_number(p.fees, 2, 7)),
            alert,
        ];
        if !focused {
            cells.remove(0);
        }
        let row_style = if is_sel {
            theme.selected()
        } else if p.alert {
            theme.warn()
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
