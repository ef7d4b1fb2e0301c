//! Everything the exchange knows beyond prices and trades: per contract an order book with its
//! commit log, live klines in every interval (last, index and fair price), the recent trades,
//! and the history before start. The market model (`market`) makes prices and trades; the venue
//! turns them into what REST answers and streams push, all from one state, so a REST snapshot and
//! the pushes after it always agree.
//!
//! Pure like the model: time comes in as an argument, randomness from a seeded generator.

use crate::book::Book;
use crate::candles::{Candle, HistoryParams, MAX_CANDLES, Series, history, scaled};
use crate::interval::KlineInterval;
use crate::market::{Market, PumpSpec, Ticker, Trade, TradeBatch, spec_of};
use fastrand::Rng;
use std::collections::VecDeque;
use std::sync::Arc;

/// Trades `GET deals` can return (MEXC: at most 100).
pub const DEALS_KEPT: usize = 100;
/// How often books requote and resting orders churn, and index/fair candles take a price: the
/// model may step much faster (benchmarks step it every millisecond), books need not.
pub const BOOK_STEP_MS: i64 = 100;
/// First depth version, close to live values.
const FIRST_VERSION: u64 = 25_133_684_085;

/// Which price a kline follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceKind {
    Last,
    Index,
    Fair,
}

/// The live candles of one contract: `[kind][interval]`.
#[derive(Debug, Clone)]
struct SymbolKlines {
    last: Vec<Series>,
    index: Vec<Series>,
    fair: Vec<Series>,
}

impl SymbolKlines {
    fn new(now_ms: i64, t: &Ticker) -> SymbolKlines {
        let all = |price: i64| {
            KlineInterval::ALL
                .iter()
                .map(|&i| Series::new(i, now_ms, price))
                .collect()
        };
        SymbolKlines {
            last: all(t.last.mantissa),
            index: all(t.index_price.mantissa),
            fair: all(t.fair_price.mantissa),
        }
    }

    fn series(&self, kind: PriceKind, interval: KlineInterval) -> &Series {
        let list = match kind {
            PriceKind::Last => &self.last,
            PriceKind::Index => &self.index,
            PriceKind::Fair => &self.fair,
        };
        &list[interval.index()]
    }
}

/// The state at start that history is synthesized back from.
#[derive(Debug, Clone, Copy)]
struct Origin {
    last: i64,
    /// index / last and fair / last at start.
    index_ratio: f64,
    fair_ratio: f64,
}

#[derive(Debug, Clone)]
pub struct Venue {
    market: Market,
    rng: Rng,
    seed: u64,
    trades_per_s: f64,
    start_ms: i64,
    next_book_ms: i64,
    books: Vec<Book>,
    klines: Vec<SymbolKlines>,
    deals: Vec<VecDeque<Trade>>,
    origins: Vec<Origin>,
    /// Shared with the feed's ticker snapshot, so a step computes and stores them once.
    tickers: Arc<Vec<Ticker>>,
}

fn ratio(a: i64, b: i64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// The trades just before start, so `GET deals` answers like a market that was already trading:
/// ids right below the model's first, times spaced as the configured rate, at the start quote.
fn backlog(
    rng: &mut Rng,
    market: &Market,
    symbol: usize,
    t: &Ticker,
    trades_per_s: f64,
    now_ms: i64,
) -> VecDeque<Trade> {
    let first_live = market.next_trade_id(symbol);
    let mean_gap_ms = 1000.0 / trades_per_s.max(0.1);
    let mean_contracts = spec_of(symbol).mean_contracts;
    let mut at = now_ms;
    let mut out = VecDeque::with_capacity(DEALS_KEPT);
    for k in 1..=DEALS_KEPT as u64 {
        let Some(id) = first_live.checked_sub(k) else {
            break;
        };
        at -= (-(1.0 - rng.f64()).ln() * mean_gap_ms).ceil().max(1.0) as i64;
        let taker_buy = rng.bool();
        let size = mean_contracts * (0.9 * crate::market::normal(rng) - 0.4).exp();
        out.push_front(Trade {
            id,
            price: if taker_buy { t.ask1 } else { t.bid1 },
            contracts: size.round().max(1.0) as u64,
            taker_buy,
            open_flag: rng.u8(1..=3),
            ts_ms: at,
        });
    }
    out
}

impl Venue {
    /// A venue around `market` as it is at `now_ms`.
    pub fn new(market: Market, seed: u64, trades_per_s: f64, now_ms: i64) -> Venue {
        let mut rng = Rng::with_seed(seed ^ 0x0b00_c0de_5eed);
        let tickers = market.tickers();
        let books = tickers
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let spec = spec_of(i);
                let version = FIRST_VERSION + i as u64 * 1_000_003 + rng.u64(0..1_000_000);
                Book::new(
                    &mut rng,
                    t.bid1.mantissa,
                    t.ask1.mantissa,
                    spec.mean_contracts,
                    version,
                )
            })
            .collect();
        let klines = tickers
            .iter()
            .map(|t| SymbolKlines::new(now_ms, t))
            .collect();
        let origins = tickers
            .iter()
            .map(|t| Origin {
                last: t.last.mantissa,
                index_ratio: ratio(t.index_price.mantissa, t.last.mantissa),
                fair_ratio: ratio(t.fair_price.mantissa, t.last.mantissa),
            })
            .collect();
        let deals = tickers
            .iter()
            .enumerate()
            .map(|(i, t)| backlog(&mut rng, &market, i, t, trades_per_s, now_ms))
            .collect();
        Venue {
            deals,
            market,
            rng,
            seed,
            trades_per_s,
            start_ms: now_ms,
            next_book_ms: now_ms + BOOK_STEP_MS,
            books,
            klines,
            origins,
            tickers: Arc::new(tickers),
        }
    }

    pub fn symbol_count(&self) -> usize {
        self.tickers.len()
    }

    pub fn force_pump(&mut self, symbol: usize, spec: PumpSpec) {
        self.market.force_pump(symbol, spec);
    }

    /// Advance to `now_ms`: trades happen (and take liquidity, and make candles), and every
    /// [`BOOK_STEP_MS`] the books follow the quote. Returns the trades.
    pub fn step(&mut self, now_ms: i64) -> Vec<TradeBatch> {
        let batches = self.market.step(now_ms);
        self.tickers = Arc::new(self.market.tickers());
        for batch in &batches {
            let i = batch.symbol;
            let spec = spec_of(i);
            let tick = 10f64.powi(-(spec.decimals as i32));
            for t in &batch.trades {
                self.books[i].trade(&mut self.rng, t.taker_buy, t.price.mantissa, t.contracts);
                let amount =
                    t.contracts as f64 * spec.contract_size * t.price.mantissa as f64 * tick;
                for s in &mut self.klines[i].last {
                    s.trade(t.ts_ms, t.price.mantissa, t.contracts, amount);
                }
                let kept = &mut self.deals[i];
                if kept.len() == DEALS_KEPT {
                    kept.pop_front();
                }
                kept.push_back(t.clone());
            }
        }
        if now_ms >= self.next_book_ms {
            self.next_book_ms = now_ms + BOOK_STEP_MS;
            for (i, t) in self.tickers.iter().enumerate() {
                let book = &mut self.books[i];
                book.requote(&mut self.rng, t.bid1.mantissa, t.ask1.mantissa);
                let n = self.rng.usize(0..=2);
                book.churn(&mut self.rng, n);
                let k = &mut self.klines[i];
                for s in &mut k.last {
                    s.advance(now_ms);
                }
                for s in &mut k.index {
                    s.trade(now_ms, t.index_price.mantissa, 0, 0.0);
                }
                for s in &mut k.fair {
                    s.trade(now_ms, t.fair_price.mantissa, 0, 0.0);
                }
            }
        }
        batches
    }

    pub fn tickers(&self) -> &[Ticker] {
        &self.tickers
    }

    /// The tickers after the last step, to hand on without copying.
    pub fn shared_tickers(&self) -> Arc<Vec<Ticker>> {
        self.tickers.clone()
    }

    pub fn book(&self, symbol: usize) -> &Book {
        &self.books[symbol]
    }

    /// Depth versions of every book, to find the commits a step made.
    #[cfg(test)]
    pub fn versions(&self) -> Vec<u64> {
        self.books.iter().map(Book::version).collect()
    }

    /// The last `limit` trades, newest first.
    pub fn deals(&self, symbol: usize, limit: usize) -> impl Iterator<Item = &Trade> {
        self.deals[symbol].iter().rev().take(limit)
    }

    /// The candle of the current window.
    pub fn current_candle(&self, symbol: usize, interval: KlineInterval) -> Option<Candle> {
        self.klines[symbol]
            .series(PriceKind::Last, interval)
            .current()
            .copied()
    }

    /// The live candle of window `t`, if still kept.
    pub fn live_candle(&self, symbol: usize, interval: KlineInterval, t: i64) -> Option<Candle> {
        self.klines[symbol]
            .series(PriceKind::Last, interval)
            .range(t, t)
            .next()
            .copied()
    }

    /// Candles as `GET kline` selects them (times in seconds): with `start`, the first
    /// [`MAX_CANDLES`] from the window holding it; otherwise the last ones up to `end` (default:
    /// now). Synthetic history before start, live candles after.
    pub fn klines(
        &self,
        symbol: usize,
        kind: PriceKind,
        interval: KlineInterval,
        start: Option<i64>,
        end: Option<i64>,
    ) -> Vec<Candle> {
        let live = self.klines[symbol].series(kind, interval);
        let now_t = live.current().map_or(i64::MAX, |c| c.t);
        // Nothing exists after the current window: an `end` in the future means now.
        let to = end.unwrap_or(now_t).min(now_t);
        let (from, from_start) = match start {
            Some(s) => (interval.window_start(s), true),
            None => {
                let mut t = interval.window_start(to);
                for _ in 1..MAX_CANDLES {
                    t = interval.prev(t);
                }
                (t, false)
            }
        };
        if to < from {
            return Vec::new();
        }
        let first_live = interval.window_start(self.start_ms.div_euclid(1000));
        let origin = self.origins[symbol];
        let params = HistoryParams {
            seed: self.seed,
            symbol,
            spec: spec_of(symbol),
            trades_per_s: self.trades_per_s,
            first_live_t: first_live,
            start_price: origin.last,
        };
        let past = history(&params, interval, from, to);
        let mut out = match kind {
            PriceKind::Last => past,
            PriceKind::Index => scaled(&past, origin.index_ratio),
            PriceKind::Fair => scaled(&past, origin.fair_ratio),
        };
        out.extend(live.range(from.max(first_live), to).copied());
        if out.len() > MAX_CANDLES {
            if from_start {
                out.truncate(MAX_CANDLES);
            } else {
                out.drain(..out.len() - MAX_CANDLES);
            }
        }
        out
    }

    /// Next funding settlement after `now_ms` (every 8 h from 00:00 UTC, BTC's `collectCycle`).
    pub fn next_settle_ms(now_ms: i64) -> i64 {
        const CYCLE_MS: i64 = 8 * 3_600_000;
        (now_ms.div_euclid(CYCLE_MS) + 1) * CYCLE_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{Side, merge};
    use crate::market::MarketParams;

    const T0: i64 = 1_790_171_232_000;

    fn venue() -> Venue {
        let params = MarketParams {
            seed: 7,
            trades_per_s: 8.0,
            pump_chance_per_s: 0.0,
            symbols: 12,
        };
        Venue::new(Market::new(params, T0), 7, 8.0, T0)
    }

    #[test]
    fn books_follow_the_quote_and_versions_only_grow() {
        let mut v = venue();
        let mut before = v.versions();
        for k in 1..=100 {
            v.step(T0 + k * 50);
            let now = v.versions();
            assert!(now.iter().zip(&before).all(|(a, b)| a >= b));
            before = now;
        }
        for (i, t) in v.tickers().iter().enumerate() {
            let (bids, asks) = v.book(i).top(1);
            assert!(bids[0].price < asks[0].price);
            // Requoted at the last book step, the touch is the ticker's (trades since may have
            // taken a level, never crossed it).
            assert!(bids[0].price <= t.bid1.mantissa + 1, "{}", t.symbol);
        }
    }

    #[test]
    fn the_first_live_candle_opens_where_history_closes() {
        let mut v = venue();
        for k in 1..=50 {
            v.step(T0 + k * 100);
        }
        for interval in KlineInterval::ALL {
            let all = v.klines(0, PriceKind::Last, interval, None, None);
            assert!(all.len() >= 2, "{interval:?}");
            let last = all.last().unwrap();
            assert_eq!(Some(*last), v.current_candle(0, interval));
            let first_live = interval.window_start(T0 / 1000);
            let k = all.iter().position(|c| c.t == first_live).unwrap();
            assert!(k > 0, "{interval:?}: history before start");
            assert_eq!(all[k - 1].close, all[k].open, "{interval:?}");
            for w in all.windows(2) {
                assert_eq!(interval.next(w[0].t), w[1].t, "{interval:?}");
            }
        }
        let min1 = v.klines(0, PriceKind::Last, KlineInterval::Min1, None, None);
        assert_eq!(min1.len(), MAX_CANDLES);
        // An hour of history right after start, index and fair too.
        let hour = v.klines(
            0,
            PriceKind::Index,
            KlineInterval::Min1,
            Some(T0 / 1000 - 3600),
            None,
        );
        assert!(hour.len() >= 60 && hour.iter().all(|c| c.vol == 0));
        let fair = v.klines(
            3,
            PriceKind::Fair,
            KlineInterval::Min5,
            None,
            Some(T0 / 1000),
        );
        assert!(!fair.is_empty() && fair.last().unwrap().t <= T0 / 1000);
        // Ranges: start only -> forward from the window holding it; end before all -> nothing.
        let from = v.klines(
            0,
            PriceKind::Last,
            KlineInterval::Min1,
            Some(T0 / 1000 - 119),
            None,
        );
        assert_eq!(from[0].t, KlineInterval::Min1.window_start(T0 / 1000 - 119));
        assert!(
            v.klines(0, PriceKind::Last, KlineInterval::Min1, None, Some(1_000))
                .is_empty()
        );
        let future = v.klines(
            0,
            PriceKind::Last,
            KlineInterval::Min1,
            None,
            Some(T0 / 1000 + 86_400),
        );
        assert_eq!(future, min1, "an end after now is now");
        assert!(
            v.klines(
                0,
                PriceKind::Last,
                KlineInterval::Min1,
                Some(T0 / 1000),
                Some(T0 / 1000 - 600)
            )
            .is_empty()
        );
    }

    #[test]
    fn deals_are_the_latest_trades_newest_first() {
        let mut v = venue();
        // Before any step: the backlog, right below the first live id and before start.
        let first_live = v.market.next_trade_id(0);
        let backlog: Vec<&Trade> = v.deals(0, 1000).collect();
        assert_eq!(backlog.len(), DEALS_KEPT);
        assert_eq!(backlog[0].id, first_live - 1);
        assert!(
            backlog
                .windows(2)
                .all(|w| w[0].id == w[1].id + 1 && w[0].ts_ms >= w[1].ts_ms)
        );
        assert!(backlog.iter().all(|t| t.ts_ms < T0));
        let mut all = Vec::new();
        for k in 1..=200 {
            for b in v.step(T0 + k * 100) {
                if b.symbol == 0 {
                    all.extend(b.trades);
                }
            }
        }
        let kept: Vec<&Trade> = v.deals(0, 1000).collect();
        assert_eq!(kept.len(), DEALS_KEPT);
        assert_eq!(kept[0], all.last().unwrap());
        assert!(kept.windows(2).all(|w| w[0].id == w[1].id + 1));
        assert_eq!(v.deals(0, 5).count(), 5);
    }

    #[test]
    fn trades_land_in_the_book_and_the_candles() {
        let mut v = venue();
        let before = v.versions();
        let c0 = v.current_candle(0, KlineInterval::Min1).unwrap();
        let mut vol = 0;
        for k in 1..=20 {
            for b in v.step(T0 + k * 100) {
                if b.symbol == 0 {
                    vol += b.trades.iter().map(|t| t.contracts).sum::<u64>();
                }
            }
        }
        let c1 = v.current_candle(0, KlineInterval::Min1).unwrap();
        if c1.t == c0.t {
            assert_eq!(c1.vol, vol);
        }
        let commits: Vec<_> = v.book(0).commits_after(before[0]).collect();
        assert!(!commits.is_empty());
        let (bids, asks) = merge(commits);
        assert!(bids.iter().all(|c| c.side == Side::Bid));
        assert!(asks.iter().all(|c| c.side == Side::Ask));
    }

    #[test]
    fn settlement_is_the_next_eight_hour_mark() {
        let h = 3_600_000;
        assert_eq!(Venue::next_settle_ms(0), 8 * h);
        assert_eq!(Venue::next_settle_ms(8 * h), 16 * h);
        assert_eq!(Venue::next_settle_ms(23 * h + 5), 24 * h);
    }
}
