//! Market state: the per-symbol `Ticker` the streams carry, merged from normalized market
//! events. `Market` owns it; the hub asks it for the merged ticker of an event and for the
//! tickers of a session's symbols, and publishes what it returns.

use std::collections::HashMap;
use trademon_core::market::{MarketEvent, TickerUpdate, Trade};
use trademon_protocol::{DataSource, Ticker};

/// The latest ticker of every symbol seen.
#[derive(Default)]
pub struct Market {
    tickers: HashMap<String, Ticker>,
    /// Funding of symbols without a row yet (a ticker needs a price): (rate, next settlement).
    funding: HashMap<String, Funding>,
}

type Funding = (f64, Option<i64>);

impl Market {
    /// The ticker `ev` makes of the stored one, not stored yet (the engine sees the event
    /// first); `None` for events that carry no price. Funding before a symbol's first price
    /// waits for it.
    pub fn merge(&mut self, ev: &MarketEvent, now_ms: i64) -> Option<Ticker> {
        let fresh = match ev {
            MarketEvent::Ticker { update, source } => {
                merge_ticker(self.tickers.get(&update.symbol), update, *source, now_ms)
            }
            MarketEvent::Trades {
                symbol,
                trades,
                source,
            } => apply_trades(self.tickers.get(symbol), symbol, trades, *source, now_ms)?,
            MarketEvent::Funding {
                symbol,
                rate,
                next_settle_ms,
            } => {
                if !rate.is_finite() {
                    return None;
                }
                let funding = (*rate, *next_settle_ms);
                let Some(prev) = self.tickers.get(symbol) else {
                    self.funding.insert(symbol.clone(), funding);
                    return None;
                };
                return Some(apply_funding(prev, funding));
            }
            // The engine fails the instances (one event each, from their transition) and the
            // link's state reaches clients through `health`; candles and books have streams
            // of their own.
            MarketEvent::SymbolFailed { .. }
            | MarketEvent::Contracts(_)
            | MarketEvent::Link { .. }
            | MarketEvent::Candles { .. }
            | MarketEvent::Book(_) => return None,
        };
        Some(match self.funding.remove(&fresh.symbol) {
            Some(funding) => apply_funding(&fresh, funding),
            None => fresh,
        })
    }

    /// Stores a merged ticker, with its prices' precision once the contract is known, and
    /// returns it for publishing. A merged ticker carries the decimals over and
    /// `contracts_changed` updates the stored ones, so only a symbol's first ticker needs
    /// the look-up.
    pub fn commit(&mut self, mut ticker: Ticker, decimals: impl Fn(&str) -> Option<u32>) -> Ticker {
        if ticker.price_decimals.is_none() {
            ticker.price_decimals = decimals(&ticker.symbol);
        }
        self.tickers.insert(ticker.symbol.clone(), ticker.clone());
        ticker
    }

    /// New contract specifications: every stored ticker takes its symbol's precision.
    pub fn contracts_changed(&mut self, decimals: impl Fn(&str) -> Option<u32>) {
        for (symbol, t) in &mut self.tickers {
            t.price_decimals = decimals(symbol);
        }
    }

    /// The stored tickers of `symbols`, in their order (symbols without one are left out).
    pub fn tickers_of(&self, symbols: &[String]) -> Vec<Ticker> {
        symbols
            .iter()
            .filter_map(|sym| self.tickers.get(sym).cloned())
            .collect()
    }
}

/// A ticker frame replaces what it carries and keeps the rest: live frames omit fields at
/// times, and a panel must not blank a column because one frame lacked it.
pub fn merge_ticker(
    prev: Option<&Ticker>,
    u: &TickerUpdate,
    source: DataSource,
    now_ms: i64,
) -> Ticker {
    let keep = |new: Option<f64>, old: fn(&Ticker) -> Option<f64>| new.or(prev.and_then(old));
    Ticker {
        open_interest: keep(u.open_interest, |t| t.open_interest),
        high_24h: keep(u.high_24h, |t| t.high_24h),
        low_24h: keep(u.low_24h, |t| t.low_24h),
        next_funding_ms: prev.and_then(|t| t.next_funding_ms),
        symbol: u.symbol.clone(),
        last: u.last,
        bid: keep(u.bid, |t| t.bid),
        ask: keep(u.ask, |t| t.ask),
        change_pct: keep(u.change_pct, |t| t.change_pct),
        volume_24h: keep(u.volume_24h, |t| t.volume_24h),
        fair_price: keep(u.fair_price, |t| t.fair_price),
        index_price: keep(u.index_price, |t| t.index_price),
        funding_rate: keep(u.funding_rate, |t| t.funding_rate),
        price_decimals: prev.and_then(|t| t.price_decimals),
        received_ms: now_ms,
        source,
    }
}

/// Funding (`push.funding.rate` or REST): the rate and the next settlement; the price, its
/// age and source stay, since funding says nothing about them. A missing settlement time
/// keeps the known one.
fn apply_funding(prev: &Ticker, (rate, next_settle_ms): Funding) -> Ticker {
    let mut t = prev.clone();
    t.funding_rate = Some(rate);
    t.next_funding_ms = next_settle_ms.or(prev.next_funding_ms);
    t
}

/// Trades move `last` (the newest trade of the batch); everything else stays.
/// `None` when the batch is empty (nothing changed).
pub fn apply_trades(
    prev: Option<&Ticker>,
    symbol: &str,
    trades: &[Trade],
    source: DataSource,
    now_ms: i64,
) -> Option<Ticker> {
    let newest = trades.iter().max_by_key(|t| t.ts_ms)?;
    let mut t = prev.cloned().unwrap_or_else(|| Ticker {
        open_interest: None,
        high_24h: None,
        low_24h: None,
        next_funding_ms: None,
        symbol: symbol.to_string(),
        last: newest.price,
        bid: None,
        ask: None,
        change_pct: None,
        volume_24h: None,
        fair_price: None,
        index_price: None,
        funding_rate: None,
        price_decimals: None,
        received_ms: now_ms,
        source,
    });
    t.last = newest.price;
    t.received_ms = now_ms;
    t.source = source;
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trademon_core::market::Side;

    fn upd(last: f64, bid: Option<f64>, vol: Option<f64>) -> TickerUpdate {
        TickerUpdate {
            symbol: "BTC_USDT".into(),
            last,
            bid,
            volume_24h: vol,
            ..Default::default()
        }
    }

    #[test]
    fn omitted_fields_keep_previous_values() {
        let a = merge_ticker(None, &upd(100.0, Some(99.5), Some(1e6)), DataSource::Ws, 1);
        let b = merge_ticker(Some(&a), &upd(101.0, None, None), DataSource::Rest, 2);
        assert_eq!(b.last, 101.0);
        assert_eq!(b.bid, Some(99.5));
        assert_eq!(b.volume_24h, Some(1e6));
        assert_eq!(b.received_ms, 2);
        assert_eq!(b.source, DataSource::Rest);
    }

    #[test]
    fn trades_update_last_only() {
        let a = merge_ticker(None, &upd(100.0, Some(99.5), None), DataSource::Ws, 1);
        let tr = |p: f64, ts: i64| Trade {
            self_trade: false,
            id: None,
            price: p,
            contracts: 1.0,
            taker: Side::Buy,
            ts_ms: ts,
        };
        let b = apply_trades(
            Some(&a),
            "BTC_USDT",
            &[tr(102.0, 5), tr(101.0, 4)],
            DataSource::Ws,
            9,
        )
        .unwrap();
        assert_eq!(b.last, 102.0);
        assert_eq!(b.bid, Some(99.5));
        assert!(apply_trades(Some(&a), "BTC_USDT", &[], DataSource::Ws, 9).is_none());
        let fresh = apply_trades(None, "ETH_USDT", &[tr(5.0, 1)], DataSource::Ws, 3).unwrap();
        assert_eq!((fresh.symbol.as_str(), fresh.last), ("ETH_USDT", 5.0));
    }

    #[test]
    fn stats_and_funding_merge_into_the_row_and_stay() {
        let mut m = Market::default();
        let funding = |rate: f64, next: Option<i64>| MarketEvent::Funding {
            symbol: "BTC_USDT".into(),
            rate,
            next_settle_ms: next,
        };
        // Funding before the first price waits for it.
        assert!(m.merge(&funding(0.0001, Some(8_000)), 1).is_none());
        let stats = TickerUpdate {
            high_24h: Some(110.0),
            low_24h: Some(90.0),
            open_interest: Some(5e5),
            ..upd(100.0, None, None)
        };
        let ev = MarketEvent::Ticker {
            update: stats,
            source: DataSource::Ws,
        };
        let first = m.merge(&ev, 2).unwrap();
        assert_eq!(first.funding_rate, Some(0.0001));
        assert_eq!(first.next_funding_ms, Some(8_000));
        let first = m.commit(first, |_| None);
        // A frame without them keeps the stats and the settlement time.
        let plain = MarketEvent::Ticker {
            update: upd(101.0, None, None),
            source: DataSource::Ws,
        };
        let second = m.merge(&plain, 3).unwrap();
        let second = m.commit(second, |_| None);
        assert_eq!((second.high_24h, second.low_24h), (Some(110.0), Some(90.0)));
        assert_eq!(second.open_interest, Some(5e5));
        assert_eq!(second.next_funding_ms, Some(8_000));
        // A funding update changes the rate and settlement, not the price or its age.
        let third = m.merge(&funding(-0.0002, None), 4).unwrap();
        assert_eq!(
            (third.funding_rate, third.next_funding_ms),
            (Some(-0.0002), Some(8_000))
        );
        assert_eq!((third.last, third.received_ms), (101.0, 3));
        assert_eq!(first.symbol, third.symbol);
        assert!(m.merge(&funding(f64::NAN, None), 5).is_none());
    }

    #[test]
    fn market_keeps_merged_tickers_and_their_precision() {
        let mut m = Market::default();
        let ev = |last: f64, bid: Option<f64>| MarketEvent::Ticker {
            update: upd(last, bid, None),
            source: DataSource::Ws,
        };
        let first = m.merge(&ev(100.0, Some(99.5)), 1).unwrap();
        // Unknown contract: the precision stays unknown.
        let first = m.commit(first, |_| None);
        assert_eq!(first.price_decimals, None);
        m.contracts_changed(|s| (s == "BTC_USDT").then_some(1));
        let second = m.merge(&ev(101.0, None), 2).unwrap();
        let second = m.commit(second, |_| panic!("a merged ticker carries its precision"));
        assert_eq!((second.bid, second.price_decimals), (Some(99.5), Some(1)));
        let syms = ["ETH_USDT".to_string(), "BTC_USDT".to_string()];
        assert_eq!(m.tickers_of(&syms), vec![second]);
    }
}
