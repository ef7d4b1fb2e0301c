//! Signals of the active session, newest first: time, symbol, side, kind, price, reason.

use super::grid::{self, Align, Col};
use super::panel;
use crate::protocol::{Side, SignalKind};
use crate::tui::app::App;
use crate::tui::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let inner = panel::block(app, frame, area, " Signals (newest first) ".into());
    let Some(session) = app.active_session() else {
        return;
    };
    let theme = &app.theme;
    let list = app.model.signals.get(&session.id);
    if list.is_none_or(|l| l.is_empty()) {
        panel::empty(app, frame, inner, "no signals yet");
        return;
    }
    let price_w = 12;
    let fixed = 8 + 10 + 4 + 6 + price_w + 5;
    let reason_w = (inner.width as usize).saturating_sub(fixed).max(6);
    let cols = [
        Col::new("Time", 8, Align::Left, 0),
        Col::new("Symbol", 10, Align::Left, 0),
        Col::new("Side", 4, Align::Left, 0),
        Col::new("Kind", 6, Align::Left, 2),
        Col::new("Price", price_w, Align::Right, 0),
        Col::new("Reason", reason_w, Align::Left, 1),
    ];
    let keep = grid::fit_columns(&cols, inner.width as usize);
    let mut lines: Vec<Line<'static>> = vec![grid::header(&cols, &keep, theme.header())];
    let rows = (inner.height as usize).saturating_sub(1);
    for s in list.into_iter().flatten().rev().take(rows) {
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
        let cells = vec![
            Span::styled(format::clock_utc(s.at_ms), theme.muted()),
            Span::raw(s.symbol.clone()),
            Span::styled(side, style),
            Span::raw(kind),
            Span::raw(format::price(s.price, price_w)),
            Span::raw(s.reason.clone()),
        ];
        lines.push(grid::row(
            &cols,
            &keep,
            grid::pick(cells, &keep),
            ratatui::style::Style::new(),
        ));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
