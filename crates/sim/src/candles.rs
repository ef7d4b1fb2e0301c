//! Klines: live candles built from the simulator's own trades (or, for the index and fair price,
//! from the prices it quotes), and history before the simulator started, synthesized from the
//! seed so that a chart opened right after start has something to show and ends at the price the
//! market starts from.
//!
//! Every window has a candle: a window without trades repeats the previous close with zero
//! volume, so a series has no holes. Prices are ticks, volume contracts, amount quote currency.

use crate::interval::KlineInterval;
use crate::market::{SymbolSpec, normal};
use fastrand::Rng;
use std::collections::VecDeque;

/// Most candles one answer carries, and the live candles kept per series (MEXC: 2000).
pub const MAX_CANDLES: usize = 2000;
/// History never reaches back before 2019-01-01 UTC (weeks and months would otherwise span
/// decades).
const HISTORY_FLOOR_S: i64 = 1_546_300_800;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    /// Window start, seconds.
    pub t: i64,
    pub open: i64,
    pub close: i64,
    pub high: i64,
    pub low: i64,
    /// Contracts.
    pub vol: u64,
    /// Quote currency.
    pub amount: f64,
}

impl Candle {
    fn flat(t: i64, price: i64) -> Candle {
        Candle {
            t,
            open: price,
            close: price,
            high: price,
            low: price,
            vol: 0,
            amount: 0.0,
        }
    }
}

/// The live candles of one interval, oldest first, ending with the current window.
#[derive(Debug, Clone)]
pub struct Series {
    interval: KlineInterval,
    candles: VecDeque<Candle>,
}

impl Series {
    /// A series whose first candle is the window holding `now_ms`, opening at `price`.
    pub fn new(interval: KlineInterval, now_ms: i64, price: i64) -> Series {
        let t = interval.window_start(now_ms.div_euclid(1000));
        Series {
            interval,
            candles: VecDeque::from([Candle::flat(t, price)]),
        }
    }

    /// Start of the first live window.
    #[cfg(test)]
    pub fn first_t(&self) -> i64 {
        self.candles.front().map_or(i64::MAX, |c| c.t)
    }

    pub fn current(&self) -> Option<&Candle> {
        self.candles.back()
    }

    /// Add windows up to the one holding `ts_ms`, each a flat candle at the last close.
    pub fn advance(&mut self, ts_ms: i64) {
        let target = self.interval.window_start(ts_ms.div_euclid(1000));
        let Some(last) = self.candles.back().copied() else {
            return;
        };
        if target <= last.t {
            return;
        }
        let mut t = self.interval.next(last.t);
        // A stall longer than the whole buffer: restart the run at the target window.
        let mut added = 0;
        while t < target && added < MAX_CANDLES {
            self.push(Candle::flat(t, last.close));
            t = self.interval.next(t);
            added += 1;
        }
        self.push(Candle::flat(target, last.close));
    }

    fn push(&mut self, c: Candle) {
        if self.candles.len() == MAX_CANDLES {
            self.candles.pop_front();
        }
        self.candles.push_back(c);
    }

    /// A trade at `ts_ms` (after everything already added).
    pub fn trade(&mut self, ts_ms: i64, price: i64, contracts: u64, amount: f64) {
        self.advance(ts_ms);
        // The open of a window stays the previous close (so consecutive candles join up); the
        // trade moves the close and widens the range.
        if let Some(c) = self.candles.back_mut() {
            c.close = price;
            c.high = c.high.max(price);
            c.low = c.low.min(price);
            c.vol += contracts;
            c.amount += amount;
        }
    }

    /// Live candles with `from_t <= t <= to_t`, oldest first.
    pub fn range(&self, from_t: i64, to_t: i64) -> impl Iterator<Item = &Candle> {
        self.candles
            .iter()
            .filter(move |c| c.t >= from_t && c.t <= to_t)
    }
}

/// What history synthesis needs to know about one contract.
#[derive(Debug, Clone, Copy)]
pub struct HistoryParams {
    pub seed: u64,
    pub symbol: usize,
    pub spec: SymbolSpec,
    pub trades_per_s: f64,
    /// Start of the first live window of this interval.
    pub first_live_t: i64,
    /// The price the market started from: the last synthetic close.
    pub start_price: i64,
}

/// Synthetic candles for windows before `first_live_t` whose start is in `from_t..=to_t`, oldest
/// first. The walk runs backwards from `start_price`, so the same seed, symbol and interval give
/// the same history whatever range is asked for.
pub fn history(p: &HistoryParams, interval: KlineInterval, from_t: i64, to_t: i64) -> Vec<Candle> {
    let mut out = Vec::new();
    if from_t >= p.first_live_t || to_t < from_t {
        return out;
    }
    let mut rng = Rng::with_seed(
        p.seed
            ^ (p.symbol as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ ((interval.index() as u64 + 1) << 56),
    );
    let tick = 10f64.powi(-(p.spec.decimals as i32));
    let secs = interval.nominal_secs() as f64;
    let sigma = p.spec.daily_vol * (secs / 86_400.0).sqrt();
    let anchor = (p.start_price.max(1) as f64).ln();
    let mean_vol = p.trades_per_s.max(0.0) * secs * p.spec.mean_contracts;
    let mut close = p.start_price.max(1) as f64;
    let mut t = interval.prev(p.first_live_t);
    for _ in 0..MAX_CANDLES {
        if t < HISTORY_FLOOR_S || t < from_t {
            break;
        }
        // Backwards: the open is where the walk was one window earlier, pulled gently towards
        // the start price so years of daily candles stay plausible.
        let ln_close = close.ln();
        let open = (ln_close - sigma * normal(&mut rng) - 0.02 * (ln_close - anchor)).exp();
        let wick_up = (sigma * 0.5 * normal(&mut rng).abs()).exp();
        let wick_down = (-sigma * 0.5 * normal(&mut rng).abs()).exp();
        let volume = (mean_vol * (0.4 * normal(&mut rng) - 0.08).exp())
            .round()
            .max(0.0);
        let open_t = (open.round() as i64).max(1);
        let close_t = (close.round() as i64).max(1);
        let high = ((open.max(close) * wick_up).round() as i64).max(open_t.max(close_t));
        let low = ((open.min(close) * wick_down).round() as i64).clamp(1, open_t.min(close_t));
        if t <= to_t {
            let mid = (high + low) as f64 / 2.0 * tick;
            out.push(Candle {
                t,
                open: open_t,
                close: close_t,
                high,
                low,
                vol: volume as u64,
                amount: volume * p.spec.contract_size * mid,
            });
        }
        close = open;
        t = interval.prev(t);
    }
    out.reverse();
    out
}

/// The same candles in another price (index or fair): prices scaled by `ratio`, no volume.
pub fn scaled(candles: &[Candle], ratio: f64) -> Vec<Candle> {
    let s = |x: i64| ((x as f64 * ratio).round() as i64).max(1);
    candles
        .iter()
        .map(|c| Candle {
            t: c.t,
            open: s(c.open),
            close: s(c.close),
            high: s(c.high),
            low: s(c.low),
            vol: 0,
            amount: 0.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::SPECS;

    const NOW_MS: i64 = 1_790_171_232_000;

    fn params(interval: KlineInterval) -> HistoryParams {
        HistoryParams {
            seed: 7,
            symbol: 0,
            spec: SPECS[0],
            trades_per_s: 4.0,
            first_live_t: interval.window_start(NOW_MS / 1000),
            start_price: 950_123,
        }
    }

    #[test]
    fn history_ends_at_the_start_price_without_gaps_and_is_deterministic() {
        for interval in KlineInterval::ALL {
            let p = params(interval);
            let all = history(&p, interval, 0, i64::MAX);
            assert!(!all.is_empty(), "{interval:?}");
            let last = all.last().unwrap();
            assert_eq!(last.close, 950_123, "{interval:?}");
            assert_eq!(interval.next(last.t), p.first_live_t, "{interval:?}");
            for w in all.windows(2) {
                assert_eq!(interval.next(w[0].t), w[1].t, "{interval:?}");
                assert_eq!(w[0].close, w[1].open, "{interval:?}: continuous");
            }
            for c in &all {
                assert!(c.low <= c.open.min(c.close) && c.high >= c.open.max(c.close));
                assert!(c.low >= 1 && c.t >= HISTORY_FLOOR_S);
            }
            assert!(all.len() <= MAX_CANDLES);
            // Any sub-range is the same candles.
            let mid = all[all.len() / 2].t;
            let part = history(&p, interval, mid, p.first_live_t);
            assert_eq!(part, all[all.len() / 2..].to_vec(), "{interval:?}");
            assert_eq!(history(&p, interval, 0, i64::MAX), all);
        }
        let min1 = history(
            &params(KlineInterval::Min1),
            KlineInterval::Min1,
            0,
            i64::MAX,
        );
        assert_eq!(min1.len(), MAX_CANDLES, "33 hours of minutes");
        assert!(min1.iter().all(|c| c.vol > 0));
        // Prices stay plausible over 2000 days.
        let days = history(
            &params(KlineInterval::Day1),
            KlineInterval::Day1,
            0,
            i64::MAX,
        );
        assert!(
            days.iter()
                .all(|c| c.close > 950_123 / 20 && c.close < 950_123 * 20)
        );
    }

    #[test]
    fn live_series_fill_quiet_windows_and_track_trades() {
        let mut s = Series::new(KlineInterval::Min1, NOW_MS, 100);
        let t0 = s.first_t();
        s.trade(NOW_MS + 1_000, 103, 5, 50.0);
        s.trade(NOW_MS + 2_000, 98, 1, 10.0);
        let c = *s.current().unwrap();
        assert_eq!(
            (c.t, c.open, c.high, c.low, c.close, c.vol),
            (t0, 100, 103, 98, 98, 6)
        );
        // Three quiet minutes, then a trade.
        s.trade(t0 * 1000 + 4 * 60_000 + 5, 99, 2, 20.0);
        let all: Vec<Candle> = s.range(0, i64::MAX).copied().collect();
        assert_eq!(all.len(), 5);
        for (k, w) in all.windows(2).enumerate() {
            assert_eq!(w[1].t, w[0].t + 60, "{k}");
            assert_eq!(w[1].open, w[0].close, "{k}");
        }
        assert_eq!(all[2].vol, 0);
        assert_eq!((all[4].open, all[4].close, all[4].vol), (98, 99, 2));
        // A long stall keeps at most MAX_CANDLES and still ends at the right window.
        s.advance(NOW_MS + 10 * MAX_CANDLES as i64 * 60_000);
        assert_eq!(s.range(0, i64::MAX).count(), MAX_CANDLES);
        assert_eq!(
            s.current().unwrap().t,
            KlineInterval::Min1.window_start(NOW_MS / 1000 + 10 * MAX_CANDLES as i64 * 60)
        );
    }

    #[test]
    fn scaled_keeps_times_and_drops_volume() {
        let p = params(KlineInterval::Min5);
        let h = history(&p, KlineInterval::Min5, 0, i64::MAX);
        let idx = scaled(&h, 1.001);
        assert_eq!(idx.len(), h.len());
        assert!(
            idx.iter()
                .zip(&h)
                .all(|(a, b)| a.t == b.t && a.vol == 0 && a.high >= b.high)
        );
    }
}
