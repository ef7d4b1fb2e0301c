//! The symbol view: one symbol's key stats, candlestick chart, order book and trade tape, in
//! place of the panels (the header and health bar stay). Layout, from 80x24 to 250x70:
//!
//! ```text
//!  stats: last, mark, index, funding with countdown, 24 h high/low/volume, open interest
//! ┌ chart ───────────────────────────────┐┌ book ──────────┐
//! │ legend (EMA, VWAP levels)            ││ asks, spread,  │
//! │ candles                      axis    ││ bids           │
//! │ volume                               │└────────────────┘
//! │ time                                 │┌ tape ──────────┐
//! └──────────────────────────────────────┘└────────────────┘
//!  status: link trouble, the newest problem since the view opened, or key hints
//! ```
//!
//! Until a stream's `full_update` arrives its panel says "loading" (never an empty book or a
//! zero price); while the backend link is down the status line says so and every panel shows
//! its data's age.

use super::{book, chart, panel, tape};
use crate::app::App;
use crate::app::symbol::{SymbolViewState, right_width, window};
use crate::format::{self, Unit};
use crate::keymap::Command;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use trademon_client::link::LinkState;
use trademon_client::market_view::SymbolMarket;
use trademon_client::model::TickerView;
use trademon_protocol::Level;

/// The engine's indicators drawn as levels on the chart: (name as the engine spells it,
/// label, short label, line glyph).
const LEVELS: [(&str, &str, &str, char); 3] = [
    ("ema_9_1m", "EMA9", "E9", '-'),
    ("ema_21_1m", "EMA21", "E21", '='),
    ("vwap_5m", "VWAP", "VW", '~'),
];

/// The parts of the symbol view's area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub stats: Rect,
    pub chart: Rect,
    pub book: Rect,
    pub tape: Rect,
    pub status: Rect,
}

/// The layout of the symbol view in `body`. The book takes about three fifths of the right
/// column (whole levels on each side, at most `book_levels`), the tape the rest.
pub fn areas(body: Rect, book_levels: usize) -> Areas {
    let [stats, panels, status] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(body);
    let [chart, right] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(right_width(body.width)),
    ])
    .areas(panels);
    // Borders, header and the spread line, then two rows per level.
    let levels =
        ((right.height as usize * 3 / 5).saturating_sub(4) / 2).clamp(1, book_levels.max(1));
    let book_h = (2 * levels as u16 + 4).min(right.height);
    let [book, tape] =
        Layout::vertical([Constraint::Length(book_h), Constraint::Fill(1)]).areas(right);
    Areas {
        stats,
        chart,
        book,
        tape,
        status,
    }
}

/// The open view's data (see `App::symbol_market`).
pub(crate) fn market(app: &App) -> Option<&SymbolMarket> {
    app.symbol_market()
}

fn ticker<'a>(app: &'a App, symbol: &str) -> Option<&'a TickerView> {
    let session = app.active_session()?;
    app.model.market.get(&session.id)?.get(symbol)
}

/// The contract's price decimals from whichever stream told us.
pub(crate) fn decimals(app: &App) -> Option<u32> {
    app.view_decimals()
}

/// Base units per contract, when the backend knows the contract.
pub(crate) fn contract_size(app: &App) -> Option<f64> {
    let m = market(app)?;
    m.book
        .as_ref()
        .and_then(|b| b.book.contract_size)
        .or_else(|| m.tape.as_ref()?.contract_size)
        .filter(|c| c.is_finite() && *c > 0.0)
}

/// Whether the backend link delivers the symbol's streams now (REST polling does not).
pub(crate) fn link_up(app: &App) -> bool {
    matches!(app.link.state, LinkState::Live | LinkState::Slow)
}

/// ` · 12s old` when data of this age should say so (old, or the link is down).
pub(crate) fn age_note(app: &App, age_ms: i64) -> Option<String> {
    (!link_up(app) || age_ms >= app.view_cfg.age_after_ms as i64)
        .then(|| format!("{} old", format::age(age_ms)))
}

/// A panel's one message (loading, nothing yet), wrapped so it is read whole.
pub(crate) fn message(app: &App, frame: &mut Frame, area: Rect, text: &str) {
    let p = Paragraph::new(Line::styled(text.to_string(), app.theme.muted()))
        .wrap(ratatui::widgets::Wrap { trim: true });
    frame.render_widget(p, area);
}

/// "loading … 3s" for a panel whose stream has not sent its full state yet.
pub(crate) fn loading(app: &App, what: &str) -> String {
    let since = market(app).map_or(app.now_ms, |m| m.opened_ms);
    let waited = format::age(app.now_ms - since);
    if link_up(app) {
        format!("loading {what}… {waited}")
    } else {
        format!(
            "loading {what}… {waited} (backend link {})",
            app.link.state.word()
        )
    }
}

pub fn render(app: &App, frame: &mut Frame, body: Rect) {
    let Some(view) = &app.symbol_view else {
        return;
    };
    let a = areas(body, app.view_cfg.book_levels);
    frame.render_widget(
        Paragraph::new(stats(app, view, a.stats.width as usize)),
        a.stats,
    );
    render_chart(app, view, frame, a.chart);
    book::render(app, frame, a.book);
    tape::render(app, frame, a.tape);
    frame.render_widget(
        Paragraph::new(status(app, a.status.width as usize)),
        a.status,
    );
}

/// Key stats, wrapped whole onto two lines; unknown values show as `--`.
fn stats(app: &App, view: &SymbolViewState, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let t = ticker(app, &view.symbol);
    let d = decimals(app);
    let price =
        |v: Option<f64>| v.map_or(format::MISSING.to_string(), |v| format::price_in(v, d, 14));
    let seg = |label: &str, value: String| {
        vec![
            Span::styled(format!("{label} "), theme.muted()),
            Span::raw(value),
        ]
    };
    let mut segments: Vec<Vec<Span<'static>>> =
        vec![vec![Span::styled(view.symbol.clone(), theme.title())]];
    let last = t.map(|t| t.ticker.last);
    let mut last_seg = seg("Last", price(last));
    if let (Some(tv), Some(last)) = (t, last) {
        match tv.prev_last {
            Some(p) if last > p => last_seg.push(Span::styled(" ▲", theme.up())),
            Some(p) if last < p => last_seg.push(Span::styled(" ▼", theme.down())),
            _ => {}
        }
    }
    segments.push(last_seg);
    let tk = t.map(|t| &t.ticker);
    segments.push(seg("Mark", price(tk.and_then(|t| t.fair_price))));
    segments.push(seg("Index", price(tk.and_then(|t| t.index_price))));
    let funding = tk
        .and_then(|t| t.funding_rate)
        .map_or(format::MISSING.to_string(), |r| {
            format::unit(r, Unit::Rate, 10)
        });
    let countdown = tk
        .and_then(|t| t.next_funding_ms)
        .map_or(format::MISSING.to_string(), |at| countdown(at - app.now_ms));
    segments.push(seg("Funding", format!("{funding} in {countdown}")));
    let mut hl = seg("24h H", price(tk.and_then(|t| t.high_24h)));
    hl.extend(seg(" L", price(tk.and_then(|t| t.low_24h))));
    segments.push(hl);
    let vol = tk
        .and_then(|t| t.volume_24h)
        .map_or(format::MISSING.to_string(), |v| {
            format!("{} USDT", format::compact(v, 2))
        });
    segments.push(seg("Vol", vol));
    let oi = tk.and_then(|t| t.open_interest);
    let mut oi_text = oi.map_or(format::MISSING.to_string(), |v| {
        format!("{} ct", format::compact(v, 1))
    });
    if let (Some(oi), Some(cs), Some(last)) = (oi, contract_size(app), last) {
        oi_text.push_str(&format!(" ({} USDT)", format::compact(oi * cs * last, 1)));
    }
    segments.push(seg("OI", oi_text));
    match t {
        None => segments.push(vec![Span::styled("no ticker data yet", theme.stale())]),
        Some(tv) => {
            let age = tv.age_ms(app.now_ms);
            if crate::app::is_stale(age, app.stale_after_ms) {
                segments.push(vec![Span::styled(
                    format!("stale! {} old", format::age(age)),
                    theme.warn(),
                )]);
            } else if let Some(note) = age_note(app, age) {
                segments.push(vec![Span::styled(note, theme.stale())]);
            }
        }
    }
    super::grid::flow(segments, width, 2)
}

/// `3h 12m`, `4m 05s`, `due` once the time has come.
pub fn countdown(ms: i64) -> String {
    if ms <= 0 {
        return "due".into();
    }
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s / 60) % 60)
    } else {
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

fn render_chart(app: &App, view: &SymbolViewState, frame: &mut Frame, area: Rect) {
    let m = market(app);
    let series = m.and_then(|m| m.candles.as_ref());
    let title = format!(" {} {} ", view.symbol, view.interval);
    let inner = panel::block(app, frame, area, title);
    let Some(series) = series else {
        message(
            app,
            frame,
            inner,
            &loading(app, &format!("{} candles", view.interval)),
        );
        return;
    };
    if series.candles.is_empty() {
        message(
            app,
            frame,
            inner,
            &format!("no {} candles yet", view.interval),
        );
        return;
    }
    // From the area drawn in, which is the app's size in the running TUI (the app scrolls
    // by `App::visible_candles`).
    let axis = app.chart_axis_width();
    let visible = (inner.width.saturating_sub(axis) as usize / view.cells_per_candle()).max(1);
    let (start, end) = window(&series.candles, view.anchor, visible);
    let shown = &series.candles[start..end];
    let levels = levels(app, &view.symbol);
    let clock = app.clock.clone();
    let last = if end == series.candles.len() {
        ticker(app, &view.symbol)
            .map(|t| t.ticker.last)
            .or(shown.last().map(|c| c.close))
    } else {
        // Scrolled back: the last price is the newest, shown with an arrow if off the chart.
        ticker(app, &view.symbol)
            .map(|t| t.ticker.last)
            .or(series.candles.last().map(|c| c.close))
    };
    chart::render(
        frame.buffer_mut(),
        inner,
        &chart::ChartData {
            candles: shown,
            cells: view.cells_per_candle(),
            decimals: decimals(app),
            last,
            levels: &levels,
            interval: view.interval,
            clock: &clock,
            theme: &app.theme,
            axis_w: axis,
        },
    );
    // Where in history: newest, or how far back and how to return.
    let behind = series.candles.len() - end;
    let forward = first_key(app, Command::ScrollForward);
    let back = first_key(app, Command::ScrollBack);
    let note = if behind == 0 {
        format!(" newest · {back} history ")
    } else {
        format!(" {behind} back · {forward} newer ")
    };
    panel::bottom_left_note(app, frame, area, Some(note));
    let age = app.now_ms - series.applied_ms;
    panel::hidden_cols_note(
        app,
        frame,
        area,
        age_note(app, age).map(|n| format!(" {n} ")),
    );
}

fn levels(app: &App, symbol: &str) -> Vec<chart::Level> {
    let values = app
        .active_session()
        .and_then(|s| app.model.indicators.get(&s.id))
        .and_then(|m| m.get(symbol));
    LEVELS
        .iter()
        .map(|(key, name, short, glyph)| {
            let v = values.and_then(|v| v.values.get(*key));
            chart::Level {
                name,
                short,
                glyph: *glyph,
                value: v.and_then(|v| v.value).filter(|v| v.is_finite()),
                stale: v.is_some_and(|v| v.stale),
            }
        })
        .collect()
}

pub(crate) fn first_key(app: &App, command: Command) -> String {
    app.keymap
        .keys_for(command)
        .split(", ")
        .next()
        .unwrap_or("")
        .to_string()
}

/// The bottom line: the backend link when it is down, else the newest warning since the view
/// opened (a refused subscription shows here), else the keys.
fn status(app: &App, width: usize) -> Line<'static> {
    let theme = &app.theme;
    if !link_up(app) {
        let text = format!(
            " {} backend link {}: values are the last known, ages shown ",
            app.link.state.symbol(),
            app.link.state.word()
        );
        return Line::styled(format::fit_text(&text, width), theme.link(app.link.state));
    }
    let since = market(app).map_or(app.now_ms, |m| m.opened_ms);
    if let Some(ev) = app
        .model
        .events
        .iter()
        .rev()
        .find(|e| e.level >= Level::Warn && e.ts >= since)
    {
        let text = format!(" {}: {}", ev.name, ev.message);
        return Line::styled(format::fit_text(&text, width), theme.level(ev.level));
    }
    let k = |c| first_key(app, c);
    let hints = [
        format!(
            " esc back  {}/{} history  {}/{} zoom  {}/{} timeframe  {}/{} symbol  {} keys",
            k(Command::ScrollBack),
            k(Command::ScrollForward),
            k(Command::ZoomIn),
            k(Command::ZoomOut),
            k(Command::NextInterval),
            k(Command::PrevInterval),
            k(Command::Up),
            k(Command::Down),
            k(Command::Help)
        ),
        format!(
            " esc back  {}/{} history  {}/{} zoom  {}/{} timeframe",
            k(Command::ScrollBack),
            k(Command::ScrollForward),
            k(Command::ZoomIn),
            k(Command::ZoomOut),
            k(Command::NextInterval),
            k(Command::PrevInterval)
        ),
    ];
    let text = hints
        .into_iter()
        .find(|h| h.chars().count() <= width)
        .unwrap_or_else(|| format::fit_text(" esc back", width));
    Line::styled(text, theme.muted())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_read_in_hours_then_minutes() {
        assert_eq!(countdown(3 * 3_600_000 + 12 * 60_000 + 5_000), "3h 12m");
        assert_eq!(countdown(4 * 60_000 + 5_000), "4m 05s");
        assert_eq!(countdown(999), "0m 00s");
        assert_eq!(countdown(0), "due");
        assert_eq!(countdown(-5), "due");
    }

    #[test]
    fn the_layout_fits_from_80x24_to_250x70() {
        for (w, h) in [(80u16, 20u16), (120, 36), (200, 46), (250, 66), (60, 12)] {
            let body = Rect::new(0, 4, w, h);
            let a = areas(body, 20);
            for r in [a.stats, a.chart, a.book, a.tape, a.status] {
                assert!(
                    body.contains(r.as_position()) || r.area() == 0,
                    "{w}x{h}: {r:?}"
                );
                assert!(
                    r.right() <= body.right() && r.bottom() <= body.bottom(),
                    "{w}x{h}: {r:?}"
                );
            }
            assert!(
                a.chart.width >= a.book.width,
                "{w}x{h}: the chart is the largest"
            );
            assert!(
                a.chart.area() > a.book.area() + a.tape.area() / 2,
                "{w}x{h}"
            );
            // The book holds whole levels: borders, header, spread, two rows a level.
            assert_eq!((a.book.height - 4) % 2, 0, "{w}x{h}: {:?}", a.book);
        }
        // Tall terminals show at most the configured levels.
        let a = areas(Rect::new(0, 0, 250, 66), 5);
        assert_eq!(a.book.height, 2 * 5 + 4);
    }
}
