//! The symbol view's replica: one symbol's candles, order book and trade tape, built from the
//! `candles`, `book` and `tape` streams (docs/protocol.md). `ClientModel` owns one of these
//! while the UI has a symbol open and routes the streams' messages here.
//!
//! Each part is `None` until its `full_update` arrived, so the screen can say "loading"
//! instead of drawing an empty book as if the market had no orders.

use std::collections::VecDeque;
use trademon_protocol::{BookSnapshot, Candle, CandlesUpdate, Interval, TapeTrade, TapeUpdate};

/// How much of each stream the client keeps (`tui.chart_candles_max`, `tui.tape_max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ViewLimits {
    pub candles: usize,
    pub trades: usize,
}

impl Default for ViewLimits {
    fn default() -> Self {
        ViewLimits {
            candles: 1_000,
            trades: 200,
        }
    }
}

/// One symbol's market view.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SymbolMarket {
    pub symbol: String,
    /// The candle interval asked for; candles of another one (late, from before a switch)
    /// are ignored.
    pub interval: Interval,
    /// Client clock when the view (or its current interval) was opened: how long "loading"
    /// has lasted.
    pub opened_ms: i64,
    pub candles: Option<CandleSeries>,
    pub book: Option<BookView>,
    pub tape: Option<TapeView>,
}

/// Candles oldest first, one per `t`, at most `ViewLimits::candles`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CandleSeries {
    pub candles: Vec<Candle>,
    pub price_decimals: Option<u32>,
    /// Client clock when the last message of the stream was applied.
    pub applied_ms: i64,
}

/// The whole top of the book, as last sent.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BookView {
    pub book: BookSnapshot,
    /// Age of the book at the backend when the message left it (`ts - received_ms`).
    pub age_at_send_ms: i64,
    pub applied_ms: i64,
}

impl BookView {
    /// Time since the book last changed: its age when sent plus the time since it arrived.
    pub fn age_ms(&self, now_ms: i64) -> i64 {
        self.age_at_send_ms.max(0) + (now_ms - self.applied_ms).max(0)
    }
}

/// Trades oldest first (newest at the back), at most `ViewLimits::trades`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TapeView {
    pub trades: VecDeque<TapeTrade>,
    pub contract_size: Option<f64>,
    pub price_decimals: Option<u32>,
    pub applied_ms: i64,
}

impl SymbolMarket {
    pub fn new(symbol: String, interval: Interval, now_ms: i64) -> SymbolMarket {
        SymbolMarket {
            symbol,
            interval,
            opened_ms: now_ms,
            candles: None,
            book: None,
            tape: None,
        }
    }

    /// The candles of `u` if they belong to this view (symbol and interval).
    pub fn accepts_candles(&self, u: &CandlesUpdate) -> bool {
        u.symbol == self.symbol && u.interval == self.interval
    }

    /// A `full_update`: the history window replaces what was kept.
    pub fn set_candles(&mut self, u: &CandlesUpdate, limits: ViewLimits, now_ms: i64) {
        let mut series = CandleSeries {
            candles: Vec::with_capacity(u.candles.len()),
            price_decimals: u.price_decimals,
            applied_ms: now_ms,
        };
        series.merge(&u.candles, limits.candles);
        self.candles = Some(series);
    }

    /// A delta: each candle replaces the one with the same `t` or joins in time order.
    pub fn merge_candles(&mut self, u: &CandlesUpdate, limits: ViewLimits, now_ms: i64) {
        if let Some(series) = &mut self.candles {
            series.merge(&u.candles, limits.candles);
            if u.price_decimals.is_some() {
                series.price_decimals = u.price_decimals;
            }
            series.applied_ms = now_ms;
        }
    }

    pub fn set_book(&mut self, book: &BookSnapshot, ts: i64, now_ms: i64) {
        self.book = Some(BookView {
            book: book.clone(),
            age_at_send_ms: ts - book.received_ms,
            applied_ms: now_ms,
        });
    }

    /// A `full_update`: the newest trades, oldest first, replace the tape.
    pub fn set_tape(&mut self, u: &TapeUpdate, limits: ViewLimits, now_ms: i64) {
        let mut tape = TapeView {
            trades: VecDeque::with_capacity(u.trades.len().min(limits.trades)),
            contract_size: u.contract_size,
            price_decimals: u.price_decimals,
            applied_ms: now_ms,
        };
        tape.push(&u.trades, limits.trades);
        self.tape = Some(tape);
    }

    /// A delta: new trades, oldest first, go on the end.
    pub fn push_trades(&mut self, u: &TapeUpdate, limits: ViewLimits, now_ms: i64) {
        if let Some(tape) = &mut self.tape {
            tape.push(&u.trades, limits.trades);
            if u.contract_size.is_some() {
                tape.contract_size = u.contract_size;
            }
            if u.price_decimals.is_some() {
                tape.price_decimals = u.price_decimals;
            }
            tape.applied_ms = now_ms;
        }
    }
}

impl CandleSeries {
    fn merge(&mut self, candles: &[Candle], max: usize) {
        for c in candles {
            match self.candles.binary_search_by_key(&c.t, |k| k.t) {
                Ok(i) => self.candles[i] = *c,
                Err(i) => self.candles.insert(i, *c),
            }
        }
        let over = self.candles.len().saturating_sub(max.max(1));
        if over > 0 {
            self.candles.drain(..over);
        }
    }
}

impl TapeView {
    fn push(&mut self, trades: &[TapeTrade], max: usize) {
        let max = max.max(1);
        let skip = trades.len().saturating_sub(max);
        self.trades.extend(trades.iter().skip(skip).cloned());
        while self.trades.len() > max {
            self.trades.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(t: i64, close: f64) -> Candle {
        Candle {
            t,
            open: close,
            high: close,
            low: close,
            close,
            volume: 1.0,
            amount: close,
        }
    }

    fn update(candles: Vec<Candle>) -> CandlesUpdate {
        CandlesUpdate {
            symbol: "BTC_USDT".into(),
            interval: Interval::Min1,
            candles,
            price_decimals: Some(1),
        }
    }

    #[test]
    fn candles_replace_by_time_stay_ordered_and_capped() {
        let limits = ViewLimits {
            candles: 3,
            trades: 2,
        };
        let mut m = SymbolMarket::new("BTC_USDT".into(), Interval::Min1, 0);
        // Out of order and duplicated in the full update: kept once, in time order.
        m.set_candles(
            &update(vec![candle(120, 3.0), candle(60, 2.0), candle(120, 3.5)]),
            limits,
            1,
        );
        let ts = |m: &SymbolMarket| {
            m.candles
                .as_ref()
                .unwrap()
                .candles
                .iter()
                .map(|c| (c.t, c.close))
                .collect::<Vec<_>>()
        };
        assert_eq!(ts(&m), [(60, 2.0), (120, 3.5)]);
        // The open candle changes, then a new one opens: the oldest goes past the cap.
        m.merge_candles(&update(vec![candle(120, 4.0), candle(180, 5.0)]), limits, 2);
        assert_eq!(ts(&m), [(60, 2.0), (120, 4.0), (180, 5.0)]);
        m.merge_candles(&update(vec![candle(240, 6.0)]), limits, 3);
        assert_eq!(ts(&m), [(120, 4.0), (180, 5.0), (240, 6.0)]);
        // A late candle fills its place rather than landing at the end.
        m.merge_candles(&update(vec![candle(150, 9.0)]), limits, 4);
        assert_eq!(ts(&m), [(150, 9.0), (180, 5.0), (240, 6.0)]);
    }

    #[test]
    fn a_delta_before_the_full_update_is_not_history() {
        let mut m = SymbolMarket::new("BTC_USDT".into(), Interval::Min1, 0);
        m.merge_candles(&update(vec![candle(60, 1.0)]), ViewLimits::default(), 1);
        assert!(m.candles.is_none(), "still loading, not a one-candle chart");
        let other = CandlesUpdate {
            interval: Interval::Min5,
            ..update(vec![])
        };
        assert!(!m.accepts_candles(&other));
    }
}
