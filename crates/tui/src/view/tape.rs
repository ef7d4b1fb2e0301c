//! The trade tape of the symbol view, newest first: time, taker side in words (`buy`/`sell`,
//! colour only repeats it), price, size in contracts and in quote currency, and a note for
//! large trades (`big`, at least `tui.tape_large_quote`) and self-trades (`self`, or left out
//! with `tui.tape_self_trades = "hide"`, counted in the title).

use super::grid::{self, Align, Col};
use super::{book, panel, symbol};
use crate::app::App;
use crate::format;
use crate::settings::SelfTrades;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use trademon_protocol::{Side, TapeTrade};

const SIZE_W: usize = 8;

/// The note of one trade: `big` when its quote value reaches `large` (0: never), `self`
/// for a self-trade; empty for the rest.
pub fn note(trade: &TapeTrade, quote: Option<f64>, large: f64) -> String {
    let big = large > 0.0 && quote.is_some_and(|q| q >= large);
    match (big, trade.self_trade) {
        (true, true) => "big self".into(),
        (true, false) => "big".into(),
        (false, true) => "self".into(),
        (false, false) => String::new(),
    }
}

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let tape = symbol::market(app).and_then(|m| m.tape.as_ref());
    let hide = app.view_cfg.self_trades == SelfTrades::Hide;
    let hidden = match tape {
        Some(t) if hide => t.trades.iter().filter(|t| t.self_trade).count(),
        _ => 0,
    };
    let title = if hidden > 0 {
        format!(" Tape (newest first) · {hidden} self hidden ")
    } else {
        " Tape (newest first) ".to_string()
    };
    let inner = panel::block(app, frame, area, title);
    let Some(tape) = tape else {
        symbol::message(app, frame, inner, &symbol::loading(app, "trades"));
        return;
    };
    let theme = &app.theme;
    if tape.trades.is_empty() {
        symbol::message(app, frame, inner, "no trades yet");
        return;
    }
    let d = symbol::decimals(app);
    let cs = symbol::contract_size(app);
    let large = app.view_cfg.large_quote;
    let rows = (inner.height as usize).saturating_sub(1);
    let shown: Vec<&TapeTrade> = tape
        .trades
        .iter()
        .rev()
        .filter(|t| !(hide && t.self_trade))
        .take(rows)
        .collect();
    let price_w = shown
        .iter()
        .map(|t| format::price_in(t.price, d, 14).len())
        .max()
        .unwrap_or(0)
        .max(5);
    let cols = [
        Col::new_owned(
            format!("Time {}", app.clock.label(app.now_ms)),
            8,
            Align::Left,
            1,
        ),
        Col::new("Side", 4, Align::Left, 0),
        Col::new("Price", price_w, Align::Right, 0),
        Col::new("Contr.", SIZE_W, Align::Right, 0),
        Col::new("USDT", SIZE_W, Align::Right, 2),
        Col::new("Note", 8, Align::Left, 3),
    ];
    let keep = grid::fit_columns(&cols, inner.width as usize);
    let mut lines: Vec<Line<'static>> = vec![grid::header(&cols, &keep, theme.header())];
    for t in shown {
        let quote = book::quote_value(t.contracts, t.price, cs);
        let note = note(t, quote, large);
        let (side, style) = match t.taker {
            Side::Buy => ("buy", theme.up()),
            Side::Sell => ("sell", theme.down()),
        };
        let row_style = if note.starts_with("big") {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        let cells = vec![
            Span::styled(app.clock.time(t.ts_ms), theme.muted()),
            Span::styled(side, style),
            Span::styled(format::price_in(t.price, d, price_w), style),
            Span::raw(format::volume(t.contracts, SIZE_W)),
            Span::raw(quote.map_or(format::MISSING.to_string(), |q| format::volume(q, SIZE_W))),
            Span::styled(note, theme.warn()),
        ];
        lines.push(grid::row(&cols, &keep, grid::pick(cells, &keep), row_style));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    panel::bottom_left_note(app, frame, area, grid::hidden_note(&cols, &keep));
    let age = app.now_ms - tape.applied_ms;
    panel::hidden_cols_note(
        app,
        frame,
        area,
        symbol::age_note(app, age).map(|n| format!(" {n} ")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(self_trade: bool) -> TapeTrade {
        TapeTrade {
            id: Some(1),
            ts_ms: 0,
            price: 95_000.0,
            contracts: 10.0,
            taker: Side::Buy,
            self_trade,
        }
    }

    #[test]
    fn large_and_self_trades_are_marked_in_words() {
        assert_eq!(note(&trade(false), Some(60_000.0), 50_000.0), "big");
        assert_eq!(note(&trade(false), Some(49_999.0), 50_000.0), "");
        assert_eq!(note(&trade(true), Some(60_000.0), 50_000.0), "big self");
        assert_eq!(note(&trade(true), Some(1.0), 50_000.0), "self");
        // Unknown quote value (contract size unknown) is never called big; 0 turns it off.
        assert_eq!(note(&trade(false), None, 50_000.0), "");
        assert_eq!(note(&trade(false), Some(1e12), 0.0), "");
    }
}
