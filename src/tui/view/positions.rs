//! Open paper positions of the active session: entry, mark, PnL, distance to liquidation.
//! A liquidation-risk alert is spelled out (`LIQ RISK`) as well as highlighted.

use super::grid::{self, Align, Col};
use super::panel;
use crate::tui::app::App;
use crate::tui::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let inner = panel::block(app, frame, area, " Positions (paper) ".into());
    let Some(session) = app.active_session() else {
        return;
    };
    let theme = &app.theme;
    let open = app.model.positions.get(&session.id);
    if open.is_none_or(|m| m.is_empty()) {
        panel::empty(app, frame, inner, "no open positions");
        return;
    }
    let cols = [
        Col::new("Symbol", 10, Align::Left, 0),
        Col::new("Dir", 5, Align::Left, 3),
        Col::new("Entry", 11, Align::Right, 0),
        Col::new("Mark", 11, Align::Right, 0),
        Col::new("PnL", 8, Align::Right, 0),
        Col::new("PnL%", 8, Align::Right, 4),
        Col::new("Liq", 11, Align::Right, 2),
        Col::new("ToLiq", 7, Align::Right, 0),
        Col::new("Fees", 6, Align::Right, 1),
        Col::new("Alert", 8, Align::Left, 0),
    ];
    let keep = grid::fit_columns(&cols, inner.width as usize);
    let mut lines: Vec<Line<'static>> = vec![grid::header(&cols, &keep, theme.header())];
    for p in open.into_iter().flat_map(|m| m.values()) {
        let net = p.unrealized_pnl - p.fees;
        let pnl_style = if net > 0.0 {
            theme.up()
        } else if net < 0.0 {
            theme.down()
        } else {
            Style::new()
        };
        let alert = if p.alert {
            Span::styled("LIQ RISK", theme.error())
        } else {
            Span::raw("")
        };
        let cells = vec![
            Span::raw(p.symbol.clone()),
            Span::raw(p.direction.clone()),
            Span::raw(format::price(p.entry_price, 11)),
            Span::raw(format::price(p.mark_price, 11)),
            Span::styled(panel::signed(p.unrealized_pnl, 8), pnl_style),
            Span::styled(format::percent(p.pnl_pct, 8), pnl_style),
            Span::raw(format::price(p.liquidation_price, 11)),
            Span::raw(format!(
                "{}%",
                format::fit_number(p.distance_to_liq_pct, 1, 6)
            )),
            Span::raw(format::fit_number(p.fees, 2, 6)),
            alert,
        ];
        let row_style = if p.alert { theme.warn() } else { Style::new() };
        lines.push(grid::row(&cols, &keep, grid::pick(cells, &keep), row_style));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
