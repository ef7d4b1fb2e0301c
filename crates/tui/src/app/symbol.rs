//! The symbol view's UI state and keys: which symbol at which interval, the chart's zoom and
//! how far back it is scrolled. Opening, switching and closing the view tell the model what to
//! keep and the connection what to subscribe (three streams on the same WebSocket).

use super::{App, Focus, describe};
use crate::action::Effect;
use crate::format;
use crate::keymap::Command;
use crate::settings::{SelfTrades, TuiConfig};
use trademon_client::market_view::SymbolMarket;
use trademon_client::{ClientCommand, SymbolView};
use trademon_protocol::{Candle, Interval};
use unicode_width::UnicodeWidthStr;

/// The timeframes the view switches among, shortest first.
pub const TIMEFRAMES: [Interval; 6] = [
    Interval::Min1,
    Interval::Min5,
    Interval::Min15,
    Interval::Min60,
    Interval::Hour4,
    Interval::Day1,
];

/// Columns per candle at each zoom level: one is a dense chart, from two on one column is a
/// gap and the body is the rest (odd, so the wick sits in its middle).
pub const ZOOM_CELLS: [usize; 4] = [1, 2, 4, 6];
/// The zoom a view opens with: a one-column body and a gap.
pub const DEFAULT_ZOOM: usize = 1;

/// The open symbol view. Serialized into a recording's start state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SymbolViewState {
    pub symbol: String,
    pub interval: Interval,
    /// Index into `ZOOM_CELLS`.
    pub zoom: usize,
    /// `t` of the newest candle shown while scrolled back; `None` follows the newest. A time,
    /// not a count, so new candles arriving do not move what the trader is reading.
    pub anchor: Option<i64>,
}

impl SymbolViewState {
    pub fn cells_per_candle(&self) -> usize {
        ZOOM_CELLS[self.zoom.min(ZOOM_CELLS.len() - 1)]
    }
}

/// The symbol view's settings from `[tui]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewConfig {
    pub interval: Interval,
    pub book_levels: usize,
    pub large_quote: f64,
    pub self_trades: SelfTrades,
    pub age_after_ms: u64,
}

impl ViewConfig {
    pub fn from_config(cfg: &TuiConfig) -> ViewConfig {
        ViewConfig {
            interval: cfg.chart_interval,
            book_levels: cfg.book_levels.max(1),
            large_quote: cfg.tape_large_quote,
            self_trades: cfg.tape_self_trades,
            age_after_ms: cfg.view_age_after_ms,
        }
    }
}

/// Width of the symbol view's book and tape column for a body `width` wide: two fifths,
/// between 34 and 72 columns, never more than half. The chart gets the rest.
pub fn right_width(width: u16) -> u16 {
    (width * 2 / 5).clamp(34, 72).min(width / 2)
}

/// Width of the chart's price axis for prices between `lo` and `hi`: the widest label plus
/// the last-price marker.
pub fn axis_width(lo: f64, hi: f64, decimals: Option<u32>) -> u16 {
    let d = |p: f64| decimals.map_or_else(|| format::price_decimals(p), |d| d as usize);
    let w = |p: f64| format::fit_number(p, d(p), 14).width();
    (w(lo).max(w(hi)) + 1).clamp(6, 16) as u16
}

/// The candles on screen, `[start, end)`, for `visible` candle slots: the newest `visible`
/// up to the anchor (or the newest), and always a full window when there is history for one.
pub fn window(candles: &[Candle], anchor: Option<i64>, visible: usize) -> (usize, usize) {
    let n = candles.len();
    let end = match anchor {
        None => n,
        Some(t) => match candles.binary_search_by_key(&t, |c| c.t) {
            Ok(i) => i + 1,
            Err(i) => i,
        },
    };
    let end = end.clamp(visible.min(n), n);
    (end.saturating_sub(visible), end)
}

/// The anchor after moving the window's end by `delta` candles (negative: back in history).
/// Reaching the newest candle follows it again.
pub fn scrolled(
    candles: &[Candle],
    anchor: Option<i64>,
    visible: usize,
    delta: i64,
) -> Option<i64> {
    let n = candles.len();
    if n == 0 {
        return None;
    }
    let (_, end) = window(candles, anchor, visible);
    let lowest = visible.min(n).max(1) as i64;
    let to = (end as i64 + delta).clamp(lowest, n as i64) as usize;
    if to >= n {
        None
    } else {
        candles.get(to - 1).map(|c| c.t)
    }
}

/// The next (or previous) timeframe; an interval from the config outside the list moves to
/// its nearest neighbour in that direction.
pub fn step_interval(current: Interval, forward: bool) -> Interval {
    let pos = TIMEFRAMES.iter().position(|i| *i == current);
    match (pos, forward) {
        (Some(i), true) => TIMEFRAMES[(i + 1).min(TIMEFRAMES.len() - 1)],
        (Some(i), false) => TIMEFRAMES[i.saturating_sub(1)],
        (None, true) => TIMEFRAMES
            .into_iter()
            .find(|i| *i > current)
            .unwrap_or(TIMEFRAMES[TIMEFRAMES.len() - 1]),
        (None, false) => TIMEFRAMES
            .into_iter()
            .rev()
            .find(|i| *i < current)
            .unwrap_or(TIMEFRAMES[0]),
    }
}

impl App {
    /// The open symbol view's data, when the model holds it for the view's symbol.
    pub(crate) fn symbol_market(&self) -> Option<&SymbolMarket> {
        let view = self.symbol_view.as_ref()?;
        self.model
            .symbol_view
            .as_ref()
            .filter(|m| m.symbol == view.symbol)
    }

    /// The contract's price decimals from whichever stream told them.
    pub(crate) fn view_decimals(&self) -> Option<u32> {
        let m = self.symbol_market();
        m.and_then(|m| m.candles.as_ref()?.price_decimals)
            .or_else(|| m.and_then(|m| m.book.as_ref()?.book.price_decimals))
            .or_else(|| m.and_then(|m| m.tape.as_ref()?.price_decimals))
            .or_else(|| {
                self.symbol_view
                    .as_ref()
                    .and_then(|v| self.price_decimals(&v.symbol))
            })
    }

    /// The price axis width for the whole series, so it stays put while scrolling.
    pub(crate) fn chart_axis_width(&self) -> u16 {
        let candles = candles_of(&self.model);
        let (lo, hi) = candles
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), c| {
                (lo.min(c.low), hi.max(c.high))
            });
        if !lo.is_finite() || !hi.is_finite() {
            return 8;
        }
        axis_width(lo, hi, self.view_decimals())
    }

    /// Candles the chart shows at the app's size and zoom: its plot's columns (the chart
    /// panel inside its borders, less the price axis) over the columns per candle. Keys
    /// scroll by it; the view draws the same from the area it is given.
    pub fn visible_candles(&self) -> usize {
        let Some(v) = &self.symbol_view else {
            return 0;
        };
        let width = self.size.0;
        let chart_w = width.saturating_sub(right_width(width));
        let plot = chart_w
            .saturating_sub(2)
            .saturating_sub(self.chart_axis_width());
        (plot as usize / v.cells_per_candle()).max(1)
    }

    /// The open symbol view, if any.
    pub fn symbol_view(&self) -> Option<&SymbolViewState> {
        self.symbol_view.as_ref()
    }

    /// Opens the symbol view on the selected watchlist row (the first one when nothing else
    /// was selected); nothing without a symbol.
    pub(super) fn open_symbol_view(&mut self) -> Vec<Effect> {
        let Some(symbol) = self.selected_symbol().map(str::to_string) else {
            return Vec::new();
        };
        let interval = self
            .symbol_view
            .as_ref()
            .map_or(self.view_cfg.interval, |v| v.interval);
        let zoom = self.symbol_view.as_ref().map_or(DEFAULT_ZOOM, |v| v.zoom);
        self.focus = Focus::Watchlist;
        self.show_symbol(symbol, interval, zoom)
    }

    /// Shows `symbol` at `interval`: the model keeps its streams, the connection subscribes.
    fn show_symbol(&mut self, symbol: String, interval: Interval, zoom: usize) -> Vec<Effect> {
        self.model.open_symbol_view(&symbol, interval, self.now_ms);
        let view = SymbolView {
            symbol: symbol.clone(),
            interval,
        };
        self.symbol_view = Some(SymbolViewState {
            symbol,
            interval,
            zoom,
            anchor: None,
        });
        self.dirty = true;
        vec![Effect::Client(ClientCommand::SetSymbolView(Some(view)))]
    }

    pub(super) fn close_symbol_view(&mut self) -> Vec<Effect> {
        if self.symbol_view.take().is_none() {
            return Vec::new();
        }
        self.model.close_symbol_view();
        self.dirty = true;
        vec![Effect::Client(ClientCommand::SetSymbolView(None))]
    }

    /// A command on the symbol view's screen; `None` for the ones that act the same
    /// everywhere (quit, help, status...), which the main handler takes.
    pub(super) fn on_symbol_command(&mut self, command: Command) -> Option<Vec<Effect>> {
        let view = self.symbol_view.clone()?;
        let visible = self.visible_candles();
        let candles = self
            .model
            .symbol_view
            .as_ref()
            .and_then(|m| m.candles.as_ref())
            .map_or(&[][..], |c| c.candles.as_slice());
        let step = (visible / 4).max(1) as i64;
        let effects = match command {
            Command::SymbolView => return Some(self.close_symbol_view()),
            Command::Up | Command::Down => {
                let delta = if command == Command::Up { -1 } else { 1 };
                // In the watchlist's order and filter, as on screen.
                let to = self.watch_step(delta);
                if to == self.selected && self.selected_symbol() == Some(view.symbol.as_str()) {
                    return Some(Vec::new());
                }
                self.selected = to;
                match self.selected_symbol().map(str::to_string) {
                    Some(s) => self.show_symbol(s, view.interval, view.zoom),
                    None => Vec::new(),
                }
            }
            Command::Open => {
                self.popup = describe::instance_of(self, &view.symbol);
                self.popup_scroll = 0;
                Vec::new()
            }
            Command::ScrollBack | Command::ScrollForward => {
                let delta = if command == Command::ScrollBack {
                    -step
                } else {
                    step
                };
                let anchor = scrolled(candles, view.anchor, visible, delta);
                if let Some(v) = &mut self.symbol_view {
                    v.anchor = anchor;
                }
                Vec::new()
            }
            Command::ZoomIn | Command::ZoomOut => {
                let zoom = if command == Command::ZoomIn {
                    (view.zoom + 1).min(ZOOM_CELLS.len() - 1)
                } else {
                    view.zoom.saturating_sub(1)
                };
                if let Some(v) = &mut self.symbol_view {
                    v.zoom = zoom;
                }
                // Keep the anchor a full window from the start at the new width.
                let visible = self.visible_candles();
                if let Some(v) = &mut self.symbol_view {
                    v.anchor = scrolled(candles_of(&self.model), v.anchor, visible, 0);
                }
                Vec::new()
            }
            Command::NextInterval | Command::PrevInterval => {
                let to = step_interval(view.interval, command == Command::NextInterval);
                if to == view.interval {
                    return Some(Vec::new());
                }
                self.show_symbol(view.symbol, to, view.zoom)
            }
            _ => return None,
        };
        self.dirty = true;
        Some(effects)
    }
}

fn candles_of(model: &trademon_client::model::ClientModel) -> &[Candle] {
    model
        .symbol_view
        .as_ref()
        .and_then(|m| m.candles.as_ref())
        .map_or(&[][..], |c| c.candles.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candles(n: i64) -> Vec<Candle> {
        (1..=n)
            .map(|i| Candle {
                t: i * 60,
                open: 1.0,
                high: 1.0,
                low: 1.0,
                close: 1.0,
                volume: 1.0,
                amount: 1.0,
            })
            .collect()
    }

    #[test]
    fn the_window_follows_the_newest_or_the_anchor_and_stays_full() {
        let c = candles(100);
        assert_eq!(window(&c, None, 30), (70, 100));
        // Anchored at candle 50 (t = 3000): it is the newest shown.
        assert_eq!(window(&c, Some(3_000), 30), (20, 50));
        // Anchored too far back for a full window: the window starts at the oldest.
        assert_eq!(window(&c, Some(600), 30), (0, 30));
        // A gap in the times: the anchor falls between, the window ends before it.
        assert_eq!(window(&c, Some(3_030), 30), (20, 50));
        // Less history than room.
        assert_eq!(window(&c[..10], None, 30), (0, 10));
        assert_eq!(window(&[], Some(60), 30), (0, 0));
    }

    #[test]
    fn scrolling_stops_at_both_ends() {
        let c = candles(100);
        let back = scrolled(&c, None, 30, -7);
        assert_eq!(back, Some(93 * 60), "seven candles back");
        // Far back: the oldest full window, never past it.
        let oldest = scrolled(&c, back, 30, -1_000);
        assert_eq!(oldest, Some(30 * 60));
        assert_eq!(scrolled(&c, oldest, 30, -1), oldest, "at the oldest");
        // Forward to the newest follows it again.
        assert_eq!(scrolled(&c, oldest, 30, 1_000), None);
        assert_eq!(scrolled(&c, None, 30, 5), None, "at the newest already");
        // Less history than room: nothing to scroll.
        assert_eq!(scrolled(&c[..10], None, 30, -3), None);
        assert_eq!(scrolled(&[], None, 30, -3), None);
    }

    #[test]
    fn timeframes_step_and_stop_at_the_ends() {
        assert_eq!(step_interval(Interval::Min1, true), Interval::Min5);
        assert_eq!(step_interval(Interval::Min60, true), Interval::Hour4);
        assert_eq!(step_interval(Interval::Day1, true), Interval::Day1);
        assert_eq!(step_interval(Interval::Min1, false), Interval::Min1);
        assert_eq!(step_interval(Interval::Hour4, false), Interval::Min60);
        // Min30 from the config is not in the list: its neighbours are.
        assert_eq!(step_interval(Interval::Min30, true), Interval::Min60);
        assert_eq!(step_interval(Interval::Min30, false), Interval::Min15);
    }
}
