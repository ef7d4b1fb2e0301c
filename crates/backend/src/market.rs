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
}

impl Market {
    /// The ticker `ev` makes of the stored one, not stored yet (the engine sees the event
    /// first); `None` for events that carry no price.
    pub fn merge(&self, ev: &MarketEvent, now_ms: i64) -> Option<Ticker> {
        match ev {
            MarketEvent::Ticker { update, source } => Some(merge_ticker(
                self.tickers.get(&update.symbol),
                update,
                *source,
                now_ms,
            )),
            MarketEvent::Trades {
                symbol,
                trades,
                source,
            } => apply_trades(self.tickers.get(symbol), symbol, trades, *source, now_ms),
            // The engine fails the instances (one event each, from their transition) and the
            // link's state reaches clients through `health`.
            MarketEvent::SymbolFailed { .. }
            | MarketEvent::Contracts(_)
            | MarketEvent::Link { .. }
            | MarketEvent::Candles { .. }
            | MarketEvent::Book(_)
            | MarketEvent::Funding { .. } => None,
        }
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
        open_interest: None,
        high_24h: None,
        low_24h: None,
        next_funding_ms: None,
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
