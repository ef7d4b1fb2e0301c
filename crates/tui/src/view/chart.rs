//! The candlestick chart, drawn cell by cell into the frame's buffer: two price steps per
//! text row (half blocks), volume bars beneath, a price axis with round ticks at the
//! contract's decimals, the last price marked on the axis, and the engine's indicator levels.
//!
//! Up and down differ in colour AND in shape where there is no colour: with the `none`
//! palette rising candles are drawn with line glyphs (`┃╹╻╿╽`, "hollow") and falling ones
//! with blocks (`█▀▄`, filled).

use crate::format::{self, Clock};
use crate::theme::Theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use trademon_protocol::{Candle, Interval};
use unicode_width::UnicodeWidthStr;

/// What one half of a text cell shows of a candle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Empty,
    Wick,
    Body,
}

/// The glyph of one cell from what its upper and lower half show. `hollow` draws the body as
/// a heavy line (rising candles without colour); otherwise it is a block.
pub fn glyph(top: Part, bottom: Part, hollow: bool) -> char {
    use Part::*;
    match (top, bottom, hollow) {
        (Empty, Empty, _) => ' ',
        (Wick, Wick, _) => '│',
        (Wick, Empty, _) => '╵',
        (Empty, Wick, _) => '╷',
        (Body, Body, false) => '█',
        // A block's half hides the wick's half beside it: the body is what matters.
        (Body, Empty | Wick, false) => '▀',
        (Empty | Wick, Body, false) => '▄',
        (Body, Body, true) => '┃',
        (Body, Empty, true) => '╹',
        (Empty, Body, true) => '╻',
        (Body, Wick, true) => '╿',
        (Wick, Body, true) => '╽',
    }
}

/// Prices to half-rows: `2 * rows` steps from `hi` (top) down to `lo`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub rows: usize,
}

impl Scale {
    /// The scale for prices between `lo` and `hi`; a flat range is opened a little around
    /// its price so it draws as a line in the middle rather than dividing by zero.
    pub fn new(lo: f64, hi: f64, rows: usize) -> Scale {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        if hi - lo > f64::EPSILON * hi.abs().max(1.0) {
            return Scale { lo, hi, rows };
        }
        let pad = (hi.abs() * 0.001).max(1e-9);
        Scale {
            lo: lo - pad,
            hi: hi + pad,
            rows,
        }
    }

    /// Half-row of `price`: 0 is the upper half of the top row; clamped into the chart.
    pub fn half(&self, price: f64) -> usize {
        let steps = (2 * self.rows).max(1);
        let f = (self.hi - price) / (self.hi - self.lo) * steps as f64;
        if f.is_nan() {
            return 0;
        }
        (f.floor().max(0.0) as usize).min(steps - 1)
    }

    pub fn row(&self, price: f64) -> usize {
        self.half(price) / 2
    }

    pub fn contains(&self, price: f64) -> bool {
        price >= self.lo && price <= self.hi
    }
}

/// A round step (1, 2 or 5 times a power of ten) giving about `max_ticks` ticks over
/// `range`, never finer than the price unit of `decimals`.
pub fn nice_step(range: f64, max_ticks: usize, decimals: Option<u32>) -> f64 {
    let unit = decimals.map_or(0.0, |d| 10f64.powi(-(d.min(12) as i32)));
    let raw = (range / max_ticks.max(1) as f64).max(unit);
    if !raw.is_finite() || raw <= 0.0 {
        return unit.max(1e-9);
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    (step * mag).max(unit)
}

/// Decimals a tick label needs: the contract's when known, else as many as the step has.
pub fn tick_decimals(step: f64, decimals: Option<u32>) -> usize {
    match decimals {
        Some(d) => d as usize,
        None => {
            let mut d = 0;
            while d < 12
                && ((step * 10f64.powi(d as i32)).round() - step * 10f64.powi(d as i32)).abs()
                    > 1e-6
            {
                d += 1;
            }
            d
        }
    }
}

/// Ticks as (row, price): multiples of a round step inside the scale, at most one per row and
/// about one every three rows.
pub fn ticks(scale: &Scale, decimals: Option<u32>) -> Vec<(usize, f64)> {
    let max_ticks = (scale.rows / 3).max(2);
    let step = nice_step(scale.hi - scale.lo, max_ticks, decimals);
    let mut out: Vec<(usize, f64)> = Vec::new();
    let mut k = (scale.lo / step).ceil();
    // Bounded: a step fitted to the range gives a handful of ticks; a degenerate one stops.
    for _ in 0..1_000 {
        let price = k * step;
        if price > scale.hi + step * 1e-9 {
            break;
        }
        let row = scale.row(price);
        if out.last().is_none_or(|(r, _)| *r != row) {
            out.push((row, price));
        }
        k += 1.0;
    }
    out
}

/// An indicator level drawn across the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub name: &'static str,
    /// The name where the long one does not fit (`E9`).
    pub short: &'static str,
    /// The line's glyph: different per indicator, so they tell apart without colour.
    pub glyph: char,
    pub value: Option<f64>,
    pub stale: bool,
}

/// Everything the chart draws, already chosen by the symbol view.
pub struct ChartData<'a> {
    /// The candles on screen, oldest first.
    pub candles: &'a [Candle],
    /// Columns per candle (zoom).
    pub cells: usize,
    pub decimals: Option<u32>,
    pub last: Option<f64>,
    pub levels: &'a [Level],
    pub interval: Interval,
    pub clock: &'a Clock,
    pub theme: &'a Theme,
    /// Width of the price axis at the right (`axis_width`).
    pub axis_w: u16,
}

/// The row split of a chart area of `height` rows: (legend, price rows, volume rows, time
/// axis). Small charts give up the legend, then volume, then the time axis.
pub fn rows(height: u16) -> (u16, u16, u16, u16) {
    let legend = u16::from(height >= 8);
    let time = u16::from(height >= 5);
    let volume = if height >= 8 { (height / 6).max(1) } else { 0 };
    let price = height.saturating_sub(legend + time + volume);
    (legend, price, volume, time)
}

pub fn render(buf: &mut Buffer, area: Rect, d: &ChartData) {
    if area.width <= d.axis_w + 1 || area.height < 3 {
        return;
    }
    let (legend_h, price_h, volume_h, time_h) = rows(area.height);
    let plot_w = area.width - d.axis_w;
    let y0 = area.y + legend_h;
    let plot = Rect::new(area.x, y0, plot_w, price_h);
    let axis_x = area.x + plot_w;
    let volume = Rect::new(area.x, y0 + price_h, plot_w, volume_h);
    let time_y = y0 + price_h + volume_h;

    let (lo, hi) = d
        .candles
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
            let l = c.low.min(c.open).min(c.close);
            let h = c.high.max(c.open).max(c.close);
            (lo.min(l), hi.max(h))
        });
    if !lo.is_finite() || !hi.is_finite() || price_h == 0 {
        return;
    }
    let scale = Scale::new(lo, hi, price_h as usize);
    let cells = d.cells.max(1);
    // Newest at the right edge.
    let used = (d.candles.len() * cells).min(plot_w as usize);
    let left = plot.x + plot_w - used as u16;
    let theme = d.theme;
    let hollow_up = theme.palette == crate::theme::Palette::None;

    // The legend says which levels are drawn: a level whose legend does not fit is left
    // out, so nothing on the chart goes unexplained. Levels draw first; candles over them.
    let shown_levels = if legend_h > 0 {
        legend(buf, Rect::new(area.x, area.y, area.width, 1), d, &scale)
    } else {
        0
    };
    for level in &d.levels[..shown_levels] {
        let Some(v) = level.value.filter(|v| scale.contains(*v)) else {
            continue;
        };
        let y = plot.y + scale.row(v) as u16;
        let style = if level.stale {
            theme.stale()
        } else {
            theme.overlay()
        };
        for x in plot.x..plot.x + plot_w {
            put(buf, x, y, level.glyph, style);
        }
    }

    let body_w = if cells <= 2 { 1 } else { cells - 1 };
    for (i, c) in d.candles.iter().enumerate() {
        let x = left + (i * cells) as u16;
        let up = c.close >= c.open;
        let style = if up { theme.up() } else { theme.down() };
        let hollow = hollow_up && up;
        let high = scale.half(c.high.max(c.open).max(c.close));
        let low = scale.half(c.low.min(c.open).min(c.close));
        let body_top = scale.half(c.open.max(c.close));
        let body_bot = scale.half(c.open.min(c.close));
        let part = |k: usize| {
            if (body_top..=body_bot).contains(&k) {
                Part::Body
            } else if (high..=low).contains(&k) {
                Part::Wick
            } else {
                Part::Empty
            }
        };
        let body_only = |p: Part| if p == Part::Body { p } else { Part::Empty };
        let wick_col = body_w / 2;
        for r in high / 2..=low / 2 {
            let (top, bottom) = (part(2 * r), part(2 * r + 1));
            for col in 0..body_w {
                let (t, b) = if col == wick_col {
                    (top, bottom)
                } else {
                    (body_only(top), body_only(bottom))
                };
                let g = glyph(t, b, hollow);
                if g != ' ' {
                    put(buf, x + col as u16, plot.y + r as u16, g, style);
                }
            }
        }
    }

    // Volume bars in quote currency, scaled to the largest on screen.
    if volume.height > 0 {
        let max = d.candles.iter().map(|c| c.amount).fold(0.0, f64::max);
        const EIGHTHS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        if max > 0.0 {
            let total = volume.height as f64 * 8.0;
            for (i, c) in d.candles.iter().enumerate() {
                let x = left + (i * cells) as u16;
                let style = if c.close >= c.open {
                    theme.up()
                } else {
                    theme.down()
                };
                let h = ((c.amount.max(0.0) / max) * total).round() as usize;
                for j in 0..volume.height as usize {
                    let fill = h.saturating_sub(j * 8).min(8);
                    if fill == 0 {
                        break;
                    }
                    let y = volume.y + volume.height - 1 - j as u16;
                    for col in 0..body_w {
                        put(buf, x + col as u16, y, EIGHTHS[fill], style);
                    }
                }
            }
        }
        let label = format!(" {}", format::compact(max, 1));
        buf.set_string(axis_x, volume.y, fit(&label, d.axis_w), theme.muted());
        if volume.height >= 2 {
            buf.set_string(axis_x, volume.y + 1, fit(" USDT", d.axis_w), theme.muted());
        }
    }

    // Price axis: round ticks, then the last price over them.
    let tick_style = theme.muted();
    let label_w = d.axis_w.saturating_sub(1) as usize;
    for (row, price) in ticks(&scale, d.decimals) {
        let step_d = tick_decimals(
            nice_step(scale.hi - scale.lo, (scale.rows / 3).max(2), d.decimals),
            d.decimals,
        );
        let text = format::fit_number(price, step_d, label_w);
        buf.set_string(
            axis_x,
            plot.y + row as u16,
            format!(" {text:>label_w$}"),
            tick_style,
        );
    }
    if let Some(last) = d.last {
        let (row, mark) = if last > scale.hi {
            (0, '↑')
        } else if last < scale.lo {
            (scale.rows - 1, '↓')
        } else {
            (scale.row(last), '◀')
        };
        let dec = d
            .decimals
            .map_or_else(|| format::price_decimals(last), |d| d as usize);
        let text = format::fit_number(last, dec, label_w);
        buf.set_string(
            axis_x,
            plot.y + row as u16,
            format!("{mark}{text:>label_w$}"),
            theme.marker(),
        );
    }

    // Time axis: labels at round times, spaced so they never touch.
    if time_h > 0 {
        time_axis(buf, Rect::new(area.x, time_y, plot_w, 1), d, left, cells);
    }
}

/// The legend row: each level's glyph, name and value (`--` while warming up, `*` stale, an
/// arrow when it lies outside the prices on screen), with short names (`E9`) when the long
/// ones do not fit. Returns how many levels it names.
fn legend(buf: &mut Buffer, row: Rect, d: &ChartData, scale: &Scale) -> usize {
    let text = |level: &Level, short: bool| {
        let value = match level.value {
            None => format::MISSING.to_string(),
            Some(v) => {
                let dec = d
                    .decimals
                    .map_or_else(|| format::price_decimals(v), |d| d as usize);
                let mut s = format::fit_number(v, dec, 14);
                if level.stale {
                    s.push('*');
                }
                if v > scale.hi {
                    s.push('↑');
                } else if v < scale.lo {
                    s.push('↓');
                }
                s
            }
        };
        let name = if short { level.short } else { level.name };
        format!("{}{name} {value}  ", level.glyph)
    };
    let width = |short: bool| {
        d.levels
            .iter()
            .map(|l| text(l, short).width())
            .sum::<usize>()
    };
    let short = width(false) > row.width as usize;
    let mut x = row.x;
    let mut named = 0;
    for level in d.levels {
        let t = text(level, short);
        let w = t.width() as u16;
        if x + w.saturating_sub(2) > row.x + row.width {
            break;
        }
        let style = if level.stale {
            d.theme.stale()
        } else {
            d.theme.overlay()
        };
        buf.set_string(
            x,
            row.y,
            format::fit_text(&t, (row.x + row.width - x) as usize),
            style,
        );
        x += w;
        named += 1;
    }
    named
}

/// Labels under candles whose open time is a multiple of a round duration, chosen so that
/// labels are at least a label's width apart.
fn time_axis(buf: &mut Buffer, row: Rect, d: &ChartData, left: u16, cells: usize) {
    let Some(secs) = d.interval.seconds() else {
        return;
    };
    let daily = secs >= 86_400;
    let label_w = 5usize;
    let min_candles = (label_w + 2).div_ceil(cells) as i64;
    const ROUND: [i64; 16] = [
        60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 14_400, 21_600, 43_200, 86_400,
        172_800, 604_800, 2_592_000,
    ];
    let Some(every) = ROUND
        .into_iter()
        .find(|r| r % secs == 0 && r / secs >= min_candles)
    else {
        return;
    };
    let mut next_free = row.x;
    for (i, c) in d.candles.iter().enumerate() {
        if c.t.rem_euclid(every) != 0 {
            continue;
        }
        let x = left + (i * cells) as u16;
        if x < next_free || x as usize + label_w > (row.x + row.width) as usize {
            continue;
        }
        let ms = c.t.saturating_mul(1000);
        let text = if daily {
            d.clock.date(ms)
        } else {
            d.clock.time(ms)[..5].to_string()
        };
        buf.set_string(x, row.y, &text, d.theme.muted());
        next_free = x + label_w as u16 + 1;
    }
}

fn put(buf: &mut Buffer, x: u16, y: u16, ch: char, style: Style) {
    if let Some(cell) = buf.cell_mut((x, y)) {
        cell.set_char(ch).set_style(style);
    }
}

fn fit(text: &str, w: u16) -> String {
    format::fit_text(text, w as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::theme::Palette;

    #[test]
    fn glyphs_tell_up_from_down_without_colour() {
        use Part::*;
        // Filled (falling, or any candle in colour): blocks.
        assert_eq!(glyph(Body, Body, false), '█');
        assert_eq!(glyph(Body, Empty, false), '▀');
        assert_eq!(glyph(Empty, Body, false), '▄');
        // Hollow (rising without colour): line glyphs, never a block.
        assert_eq!(glyph(Body, Body, true), '┃');
        assert_eq!(glyph(Body, Wick, true), '╿');
        assert_eq!(glyph(Wick, Body, true), '╽');
        for (t, b) in [
            (Body, Body),
            (Body, Empty),
            (Empty, Body),
            (Body, Wick),
            (Wick, Body),
        ] {
            assert_ne!(glyph(t, b, true), glyph(t, b, false), "{t:?}/{b:?}");
        }
        // Wicks look the same either way.
        assert_eq!(glyph(Wick, Wick, true), '│');
        assert_eq!(glyph(Wick, Empty, false), '╵');
        assert_eq!(glyph(Empty, Wick, false), '╷');
        assert_eq!(glyph(Empty, Empty, true), ' ');
    }

    #[test]
    fn scale_maps_prices_to_half_rows() {
        let s = Scale::new(100.0, 110.0, 5);
        assert_eq!(s.half(110.0), 0, "the high is the top half of row 0");
        assert_eq!(
            s.half(100.0),
            9,
            "the low is the bottom half of the last row"
        );
        assert_eq!(s.half(105.0), 5);
        assert_eq!(s.row(105.0), 2);
        assert_eq!(s.half(1e9), 0, "clamped above");
        assert_eq!(s.half(-1e9), 9, "clamped below");
        // A flat market draws in the middle, never divides by zero.
        let flat = Scale::new(50.0, 50.0, 4);
        assert!(flat.lo < 50.0 && flat.hi > 50.0);
        assert_eq!(flat.row(50.0), 2);
    }

    #[test]
    fn ticks_are_round_steps_at_the_contract_decimals() {
        assert_eq!(nice_step(100.0, 5, None), 20.0);
        assert_eq!(nice_step(7.0, 3, None), 5.0);
        assert_eq!(nice_step(0.003, 3, None), 0.001);
        // Never finer than the price unit: BTC quoted to 0.1.
        assert_eq!(nice_step(0.05, 5, Some(1)), 0.1);
        assert_eq!(tick_decimals(0.05, None), 2);
        assert_eq!(tick_decimals(50.0, None), 0);
        assert_eq!(tick_decimals(50.0, Some(1)), 1);

        let s = Scale::new(95_012.3, 95_187.9, 12);
        let t = ticks(&s, Some(1));
        let prices: Vec<f64> = t.iter().map(|(_, p)| *p).collect();
        assert_eq!(prices, [95_050.0, 95_100.0, 95_150.0]);
        // Higher prices on higher rows, inside the chart, one per row.
        let rows: Vec<usize> = t.iter().map(|(r, _)| *r).collect();
        assert!(rows.windows(2).all(|w| w[0] > w[1]), "{rows:?}");
        assert!(rows.iter().all(|r| *r < 12));
        // A tall chart gets more ticks, a short one at least two.
        assert!(ticks(&Scale::new(0.0, 100.0, 40), None).len() >= 10);
        assert!(ticks(&Scale::new(0.0, 100.0, 3), None).len() >= 2);
    }

    fn candle(t: i64, open: f64, close: f64) -> Candle {
        Candle {
            t,
            open,
            high: open.max(close) + 1.0,
            low: open.min(close) - 1.0,
            close,
            volume: 1.0,
            amount: 100.0,
        }
    }

    fn draw(palette: Palette, candles: &[Candle], cells: usize) -> Buffer {
        let theme = Theme::new(palette);
        let clock = Clock::utc();
        let area = Rect::new(0, 0, 30, 14);
        let mut buf = Buffer::empty(area);
        render(
            &mut buf,
            area,
            &ChartData {
                candles,
                cells,
                decimals: Some(1),
                last: candles.last().map(|c| c.close),
                levels: &[],
                interval: Interval::Min1,
                clock: &clock,
                theme: &theme,
                axis_w: 8,
            },
        );
        buf
    }

    /// The price rows of column `x` (legend, volume and time rows left out).
    fn column(buf: &Buffer, x: u16) -> String {
        let (legend, price, _, _) = rows(buf.area.height);
        (legend..legend + price)
            .map(|y| buf.cell((x, y)).map_or(" ", |c| c.symbol()).to_string())
            .collect()
    }

    #[test]
    fn candles_sit_newest_at_the_right_with_their_zoom_width() {
        let c = [candle(60, 100.0, 110.0), candle(120, 110.0, 104.0)];
        // Plot is 30 - 8 = 22 columns; at two columns a candle the newest body is column 20.
        let buf = draw(Palette::Ansi16, &c, 2);
        let falling = column(&buf, 20);
        let rising = column(&buf, 18);
        assert!(falling.contains('█'), "{falling:?}");
        assert!(rising.contains('█'), "{rising:?}");
        assert_eq!(
            column(&buf, 21).trim_end_matches(' '),
            column(&buf, 21).trim(),
            "gap column"
        );
        assert!(!column(&buf, 21).contains('█'), "the gap stays clear");
        // Without colour the rising candle is hollow and the falling one filled.
        let buf = draw(Palette::None, &c, 2);
        assert!(column(&buf, 18).contains('┃') && !column(&buf, 18).contains('█'));
        assert!(column(&buf, 20).contains('█'));
        // Wider zoom: a three-column body with the wick in its middle.
        let buf = draw(Palette::Ansi16, &c, 4);
        for x in 18..21 {
            assert!(column(&buf, x).contains('█'), "body column {x}");
        }
        assert!(!column(&buf, 21).contains('█'));
    }

    #[test]
    fn the_axis_marks_the_last_price() {
        let c = [candle(60, 100.0, 110.0), candle(120, 110.0, 104.0)];
        let buf = draw(Palette::None, &c, 2);
        let text: String = (0..buf.area.height)
            .map(|y| {
                (22..30)
                    .map(|x| buf.cell((x, y)).map_or(" ", |c| c.symbol()))
                    .collect::<String>()
                    + "\n"
            })
            .collect();
        let line = text.lines().find(|l| l.contains('◀')).unwrap_or_default();
        assert!(line.contains("104.0"), "{text}");
    }
}
