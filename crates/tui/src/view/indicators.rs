//! Indicator table of the active session: symbols x key indicators. Stale values are dimmed
//! AND marked with `*`; indicators still warming up show `--`.

use super::grid::{self, Align, Col};
use super::panel;
use crate::app::App;
use crate::format::{self, Unit};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use trademon_engine::condition::unit_of;
use trademon_protocol::SymbolIndicators;
use unicode_width::UnicodeWidthStr;

/// (indicator, header, width, priority): most telling first; low priority drops first.
/// Price columns hold a 6-digit integer part with a decimal (`100000.1`) so they never jump.
const COLUMNS: [(&str, &str, usize, u8); 13] = [
    ("last", "Last", 10, 0),
    ("change_pct_1m", "Chg1m", 7, 9),
    ("vwap_dev_pct_5m", "VWAPdev", 8, 8),
    ("buy_ratio_1m", "Buy", 6, 8),
    ("trades_per_s_1m", "Trd/s", 6, 7),
    ("volume_surge_5m", "Surge", 6, 7),
    ("change_pct_5m", "Chg5m", 7, 6),
    ("volume_1m", "Vol1m", 7, 5),
    ("rsi_14_1m", "RSI", 5, 4),
    ("change_pct_15m", "Chg15m", 7, 3),
    ("ema_9_1m", "EMA9", 10, 2),
    ("ema_21_1m", "EMA21", 10, 2),
    ("funding_rate", "Funding", 9, 1),
];

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let inner = panel::block(
        app,
        frame,
        area,
        " Indicators (* stale · prices, volumes in USDT) ".into(),
    );
    let Some(session) = app.active_session() else {
        return;
    };
    let theme = &app.theme;
    let data = app.model.indicators.get(&session.id);
    let sym_w = session
        .symbols
        .iter()
        .map(|s| s.width())
        .max()
        .unwrap_or(0)
        .clamp(6, 16);
    let mut cols = vec![Col::new("Symbol", sym_w, Align::Left, 0)];
    cols.extend(
        COLUMNS
            .iter()
            .map(|(_, title, w, prio)| Col::new(title, *w, Align::Right, *prio)),
    );
    let keep = grid::fit_columns(&cols, inner.width as usize);
    let mut lines: Vec<Line<'static>> = vec![grid::header(&cols, &keep, theme.header())];
    let visible = (inner.height as usize).saturating_sub(1);
    let first = app.selected.saturating_sub(visible.saturating_sub(1));
    for (i, sym) in session.symbols.iter().enumerate().skip(first).take(visible) {
        let row = data.and_then(|m| m.get(sym));
        let mut cells = vec![Span::raw(sym.clone())];
        let mut any_stale = false;
        let decimals = app.price_decimals(sym);
        for (name, _, w, _) in COLUMNS {
            let (cell, stale) = cell(row, name, w, decimals);
            any_stale |= stale;
            cells.push(if stale {
                Span::styled(cell, theme.stale())
            } else {
                Span::raw(cell)
            });
        }
        let mut style = if row.is_none() || any_stale && row.is_some_and(all_stale) {
            theme.stale()
        } else {
            Style::new()
        };
        if i == app.selected {
            style = style.patch(theme.selected());
        }
        lines.push(grid::row(&cols, &keep, grid::pick(cells, &keep), style));
    }
    if data.is_none_or(|m| m.is_empty()) && visible > 1 {
        lines.push(Line::styled("waiting for indicator values…", theme.muted()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    panel::hidden_cols_note(app, frame, area, grid::hidden_note(&cols, &keep));
}

fn all_stale(row: &SymbolIndicators) -> bool {
    row.values.values().all(|v| v.value.is_none() || v.stale)
}

/// The text of one cell (with `*` when stale) and whether it is stale.
fn cell(
    row: Option<&SymbolIndicators>,
    name: &str,
    width: usize,
    price_decimals: Option<u32>,
) -> (String, bool) {
    let Some(v) = row.and_then(|r| r.values.get(name)) else {
        return (format::MISSING.into(), false);
    };
    let Some(x) = v.value else {
        return (format::MISSING.into(), false);
    };
    // Room for the stale marker so the number itself is never cut.
    let w = if v.stale { width - 1 } else { width };
    // The same unit as in condition thresholds and reasons (a ratio as a percentage).
    let text = match unit_of(name) {
        Unit::Price => format::price_in(x, price_decimals, w),
        // Changes are moves: signed.
        Unit::Percent => format::percent(x, w),
        Unit::Quote => format::volume(x, w),
        unit => format::unit(x, unit, w),
    };
    if v.stale {
        (format!("{text}*"), true)
    } else {
        (text, false)
    }
}
