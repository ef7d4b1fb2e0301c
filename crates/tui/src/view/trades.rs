//! Closed paper trades of the active session, newest first: time, symbol, side, size, entry,
//! exit, PnL, fees, reason; above them the session totals (count, win rate, realized PnL,
//! fees). The totals count every closed trade of the session (restored runs included), the
//! list the newest ones the backend keeps.

use super::grid::{self, Align, Col};
use super::{panel, scroll};
use crate::app::{App, Focus};
use crate::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use trademon_protocol::SessionTotals;

const PRICE_W: usize = 11;
const REASON_MIN: usize = 12;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let title = panel::list_title(app, Focus::Trades, "Trades (paper, newest first)");
    let inner = panel::block(app, frame, area, title);
    let Some(session) = app.active_session() else {
        return;
    };
    let theme = &app.theme;
    let totals = app.model.totals.get(&session.id);
    let mut lines: Vec<Line<'static>> = vec![totals_line(app, totals)];
    let len = app.shown_trades().count();
    if len == 0 {
        lines.push(Line::styled("no closed trades yet", theme.muted()));
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }
    let time_title = format!("Time {}", app.clock.label(app.now_ms));
    let cols = |reason_w: usize| {
        [
            Col::new("", 1, Align::Left, 0),
            Col::new_owned(time_title.clone(), 8, Align::Left, 3),
            Col::new("Symbol", 10, Align::Left, 0),
            Col::new("Side", 5, Align::Left, 0),
            Col::new("Size USDT", 9, Align::Right, 1),
            Col::new("Entry fill", PRICE_W, Align::Right, 5),
            Col::new("Exit fill", PRICE_W, Align::Right, 6),
            Col::new("PnL USDT", 8, Align::Right, 0),
            Col::new("Fees", 6, Align::Right, 2),
            Col::new("Reason", reason_w, Align::Left, 4),
        ]
    };
    let avail = inner.width as usize;
    let keep = grid::fit_columns(&cols(REASON_MIN), avail);
    // The reason takes what the kept columns leave.
    let used: usize = keep
        .iter()
        .map(|&i| cols(REASON_MIN)[i].width + grid::GAP)
        .sum::<usize>()
        .saturating_sub(grid::GAP);
    let cols = cols(REASON_MIN + avail.saturating_sub(used));
    lines.push(grid::header(&cols, &keep, theme.header()));
    let rows = (inner.height as usize).saturating_sub(2);
    let focused = app.focus == Focus::Trades;
    let selected = app.cursor(Focus::Trades);
    let first = scroll::first_row(selected, len, rows);
    for (i, t) in app.shown_trades().enumerate().skip(first).take(rows) {
        let pnl_style = theme.by_sign(t.realized_pnl);
        let reason = t.close_reason.clone().unwrap_or_default();
        let liquidated = reason.starts_with("liquidated");
        let is_sel = focused && i == selected;
        let cells = vec![
            Span::raw(if is_sel { ">" } else { " " }),
            Span::styled(
                t.closed_at_ms
                    .map_or(format::MISSING.to_string(), |ms| app.clock.time(ms)),
                theme.muted(),
            ),
            Span::raw(t.symbol.clone()),
            Span::raw(t.direction.clone()),
            Span::raw(format::fit_number(t.size_quote, 2, 9)),
            Span::raw(format::price_in(
                t.entry_price,
                app.price_decimals(&t.symbol),
                PRICE_W,
            )),
            Span::raw(t.exit_price.map_or(format::MISSING.to_string(), |x| {
                format::price_in(x, app.price_decimals(&t.symbol), PRICE_W)
            })),
            Span::styled(panel::signed(t.realized_pnl, 8), pnl_style),
            Span::raw(format::fit_number(t.fees, 2, 6)),
            if liquidated {
                Span::styled(reason, theme.error())
            } else {
                Span::raw(reason)
            },
        ];
        let row_style = if is_sel {
            theme.selected()
        } else {
            Style::new()
        };
        lines.push(grid::row(&cols, &keep, grid::pick(cells, &keep), row_style));
    }
    let shown = lines.len() - 2;
    frame.render_widget(Paragraph::new(lines), inner);
    panel::hidden_cols_note(app, frame, area, grid::hidden_note(&cols, &keep));
    panel::bottom_left_note(app, frame, area, scroll::range_note(first, shown, len));
}

/// `3 trades · win 67% (2/3) · realized +1.23 USDT · fees 0.36 USDT`.
fn totals_line(app: &App, t: Option<&SessionTotals>) -> Line<'static> {
    let theme = &app.theme;
    let Some(t) = t else {
        return Line::styled("session totals not received yet", theme.muted());
    };
    let win = if t.closed_trades == 0 {
        "win —".to_string()
    } else {
        let pct = t.winning_trades as f64 / t.closed_trades as f64 * 100.0;
        format!("win {pct:.0}% ({}/{})", t.winning_trades, t.closed_trades)
    };
    let pnl_style = theme.by_sign(t.realized_pnl);
    let n = t.closed_trades;
    Line::from(vec![
        Span::raw(format!(
            "{n} trade{} · {win} · realized ",
            if n == 1 { "" } else { "s" }
        )),
        Span::styled(
            panel::signed(t.realized_pnl, 12).trim_start().to_string(),
            pnl_style,
        ),
        Span::raw(format!(
            " USDT · fees {} USDT",
            format::fit_number(t.closed_fees, 2, 10).trim_start()
        )),
    ])
}
