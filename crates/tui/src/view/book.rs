//! The order book of the symbol view: asks above (best nearest the middle), the spread and
//! mid, bids below; per level the price, size in contracts and in quote currency, the
//! cumulative size from the best level out, and a bar for the level's size. Which side a row
//! is on reads from its place around the spread line, not from colour.

use super::grid::{self, Align, Col};
use super::{panel, symbol};
use crate::app::App;
use crate::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use trademon_protocol::{BookLevel, BookSnapshot, DataSource};
use unicode_width::UnicodeWidthStr;

const SIZE_W: usize = 8;
/// A bar narrower than this says too little: the column is dropped instead.
const BAR_MIN: usize = 4;

/// `contracts × contract size × price` in quote currency, when the contract size is known.
pub fn quote_value(contracts: f64, price: f64, contract_size: Option<f64>) -> Option<f64> {
    contract_size
        .map(|cs| contracts * cs * price)
        .filter(|v| v.is_finite())
}

/// Running totals of `levels` from the best outward.
pub fn cumulative(levels: &[BookLevel]) -> Vec<f64> {
    levels
        .iter()
        .scan(0.0, |sum, l| {
            *sum += l.contracts;
            Some(*sum)
        })
        .collect()
}

/// A left-aligned bar of `width` cells for `value` out of `max`, in eighths of a cell.
pub fn bar(value: f64, max: f64, width: usize) -> String {
    const PARTIAL: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    if max <= 0.0 || !value.is_finite() || width == 0 {
        return String::new();
    }
    let eighths = ((value.max(0.0) / max).min(1.0) * (width * 8) as f64).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push(PARTIAL[eighths % 8]);
    }
    // A level that exists never draws as nothing.
    if s.is_empty() && value > 0.0 {
        s.push('▏');
    }
    s
}

/// The line between asks and bids, in the longest form that fits `width`.
pub fn middle_line(book: &BookSnapshot, decimals: Option<u32>, width: usize) -> String {
    let full = spread_line(book, decimals);
    let p = |v: f64| format::price_in(v, decimals, 14);
    let mut forms = vec![format!("▲ asks · {full} · bids ▼"), full.clone()];
    if let (Some(bid), Some(ask)) = (book.bids.first(), book.asks.first())
        && ask.price >= bid.price
    {
        forms.push(format!(
            "spread {} · mid {}",
            p(ask.price - bid.price),
            p((ask.price + bid.price) / 2.0)
        ));
        forms.push(format!("spread {}", p(ask.price - bid.price)));
    }
    forms
        .into_iter()
        .find(|f| f.width() <= width)
        .unwrap_or_else(|| format::fit_text(&full, width))
}

/// The line between asks and bids: spread (absolute and in basis points) and mid, or what is
/// missing or wrong.
pub fn spread_line(book: &BookSnapshot, decimals: Option<u32>) -> String {
    let (Some(bid), Some(ask)) = (book.bids.first(), book.asks.first()) else {
        return match (book.bids.is_empty(), book.asks.is_empty()) {
            (true, true) => "empty book: no bids, no asks".into(),
            (true, false) => "no bids".into(),
            _ => "no asks".into(),
        };
    };
    let mid = (bid.price + ask.price) / 2.0;
    let spread = ask.price - bid.price;
    let p = |v: f64| format::price_in(v, decimals, 14);
    if spread < 0.0 {
        return format!("crossed: bid {} > ask {}", p(bid.price), p(ask.price));
    }
    let bps = if mid > 0.0 { spread / mid * 1e4 } else { 0.0 };
    format!(
        "spread {} ({} bp) · mid {}",
        p(spread),
        format::fit_number(bps, 1, 8),
        p(mid)
    )
}

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let m = symbol::market(app);
    let bv = m.and_then(|m| m.book.as_ref());
    let mut title = " Book".to_string();
    if let Some(bv) = bv {
        if bv.book.gaps > 0 {
            let s = if bv.book.gaps == 1 { "" } else { "s" };
            title.push_str(&format!(" · {} gap{s} resynced", bv.book.gaps));
        }
        if bv.book.source == DataSource::Rest {
            title.push_str(" · REST");
        }
    }
    title.push(' ');
    let inner = panel::block(app, frame, area, title);
    let Some(bv) = bv else {
        symbol::message(app, frame, inner, &symbol::loading(app, "book"));
        return;
    };
    let book = &bv.book;
    let theme = &app.theme;
    let d = symbol::decimals(app);
    let cs = symbol::contract_size(app);
    let rows = (inner.height as usize).saturating_sub(2);
    let levels = (rows / 2).min(app.view_cfg.book_levels);
    let asks = &book.asks[..book.asks.len().min(levels)];
    let bids = &book.bids[..book.bids.len().min(levels)];

    let price_w = asks
        .iter()
        .chain(bids)
        .map(|l| format::price_in(l.price, d, 14).len())
        .max()
        .unwrap_or(0)
        .max(5);
    let mut cols = vec![
        Col::new("Price", price_w, Align::Right, 0),
        Col::new("Contr.", SIZE_W, Align::Right, 0),
        Col::new("USDT", SIZE_W, Align::Right, 3),
        Col::new("Cum", SIZE_W, Align::Right, 2),
    ];
    let avail = inner.width as usize;
    let fixed = grid::fit_columns(&cols, avail);
    let used: usize = fixed.iter().map(|&i| cols[i].width + grid::GAP).sum();
    let bar_w = avail.saturating_sub(used);
    // The rows stop before the bars, which are painted cell by cell below: a wide bar as text
    // costs more to lay out than the rest of the book.
    let row_keep = fixed.clone();
    let mut keep = fixed;
    let bar_x = inner.x + used as u16;
    if bar_w >= BAR_MIN {
        cols.push(Col::new("Depth", bar_w, Align::Left, 1));
        keep.push(cols.len() - 1);
    }
    let mut bars: Vec<(u16, f64, Style)> = Vec::with_capacity(2 * levels);

    let max = asks
        .iter()
        .chain(bids)
        .map(|l| l.contracts)
        .fold(0.0, f64::max);
    let line = |l: &BookLevel, cum: f64, style: Style| {
        let cells = vec![
            Span::styled(format::price_in(l.price, d, price_w), style),
            Span::raw(format::volume(l.contracts, SIZE_W)),
            Span::raw(
                quote_value(l.contracts, l.price, cs)
                    .map_or(format::MISSING.to_string(), |v| format::volume(v, SIZE_W)),
            ),
            Span::styled(format::volume(cum, SIZE_W), theme.muted()),
        ];
        grid::row(&cols, &row_keep, grid::pick(cells, &row_keep), Style::new())
    };

    let mut lines: Vec<Line<'static>> = vec![grid::header(&cols, &keep, theme.header())];
    // Asks: the best nearest the spread, so the worst shown is on top; short sides leave
    // their blank rows away from the middle.
    lines.extend((asks.len()..levels).map(|_| Line::raw("")));
    let ask_cum = cumulative(asks);
    for (l, cum) in asks.iter().zip(&ask_cum).rev() {
        bars.push((lines.len() as u16, l.contracts, theme.down()));
        lines.push(line(l, *cum, theme.down()));
    }
    lines.push(Line::styled(middle_line(book, d, avail), theme.header()));
    let bid_cum = cumulative(bids);
    for (l, cum) in bids.iter().zip(&bid_cum) {
        bars.push((lines.len() as u16, l.contracts, theme.up()));
        lines.push(line(l, *cum, theme.up()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
    if bar_w >= BAR_MIN {
        let buf = frame.buffer_mut();
        for (row, contracts, style) in bars {
            let y = inner.y + row;
            if y >= inner.bottom() {
                break;
            }
            for (i, ch) in bar(contracts, max, bar_w).chars().enumerate() {
                if let Some(cell) = buf.cell_mut((bar_x + i as u16, y)) {
                    cell.set_char(ch).set_style(style);
                }
            }
        }
    }
    panel::hidden_cols_note(
        app,
        frame,
        area,
        symbol::age_note(app, bv.age_ms(app.now_ms)).map(|n| format!(" {n} ")),
    );
    let deepest = book.asks.len().max(book.bids.len());
    let mut note = Vec::new();
    if deepest > levels {
        note.push(format!("top {levels} of {deepest}"));
    }
    if let Some(h) = grid::hidden_note(&cols, &keep) {
        note.push(h.trim().to_string());
    }
    if !note.is_empty() {
        panel::bottom_left_note(app, frame, area, Some(format!(" {} ", note.join(" · "))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(price: f64, contracts: f64) -> BookLevel {
        BookLevel {
            price,
            contracts,
            orders: 1,
        }
    }

    fn book(bids: Vec<BookLevel>, asks: Vec<BookLevel>) -> BookSnapshot {
        BookSnapshot {
            symbol: "BTC_USDT".into(),
            version: 1,
            bids,
            asks,
            contract_size: Some(0.0001),
            price_decimals: Some(1),
            exchange_ts_ms: 0,
            received_ms: 0,
            gaps: 0,
            source: DataSource::Ws,
        }
    }

    #[test]
    fn spread_mid_and_what_is_missing() {
        let b = book(vec![level(100.0, 1.0)], vec![level(100.2, 1.0)]);
        assert_eq!(spread_line(&b, Some(1)), "spread 0.2 (20.0 bp) · mid 100.1");
        assert_eq!(
            spread_line(&book(vec![], vec![level(1.0, 1.0)]), None),
            "no bids"
        );
        assert_eq!(
            spread_line(&book(vec![level(1.0, 1.0)], vec![]), None),
            "no asks"
        );
        assert!(spread_line(&book(vec![], vec![]), None).starts_with("empty book"));
        let crossed = book(vec![level(101.0, 1.0)], vec![level(100.0, 1.0)]);
        assert!(spread_line(&crossed, Some(1)).starts_with("crossed"));
        // Narrow panels get a shorter line, never a cut number.
        assert_eq!(
            middle_line(&b, Some(1), 60),
            "▲ asks · spread 0.2 (20.0 bp) · mid 100.1 · bids ▼"
        );
        assert_eq!(
            middle_line(&b, Some(1), 34),
            "spread 0.2 (20.0 bp) · mid 100.1"
        );
        assert_eq!(middle_line(&b, Some(1), 24), "spread 0.2 · mid 100.1");
        assert_eq!(middle_line(&b, Some(1), 12), "spread 0.2");
    }

    #[test]
    fn sizes_in_contracts_and_quote_and_cumulative() {
        // 2 contracts of 0.0001 BTC at 95 000: 19 USDT.
        assert_eq!(quote_value(2.0, 95_000.0, Some(0.0001)), Some(19.0));
        assert_eq!(quote_value(2.0, 95_000.0, None), None, "unknown, not zero");
        let levels = [level(1.0, 5.0), level(0.9, 2.5), level(0.8, 1.0)];
        assert_eq!(cumulative(&levels), [5.0, 7.5, 8.5]);
    }

    #[test]
    fn bars_scale_to_the_largest_level_in_eighths() {
        assert_eq!(bar(10.0, 10.0, 4), "████");
        assert_eq!(bar(5.0, 10.0, 4), "██");
        assert_eq!(bar(1.0, 10.0, 4), "▍", "3.2 eighths round to 3");
        assert_eq!(bar(0.01, 10.0, 4), "▏", "a level never vanishes");
        assert_eq!(bar(0.0, 10.0, 4), "");
        assert_eq!(bar(1.0, 0.0, 4), "");
    }
}
