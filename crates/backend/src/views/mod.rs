//! The symbol view's state: per symbol its candles (per interval), the top of its order book
//! and a tape of its newest trades, fed from the market events the hub receives and served as
//! the per-symbol streams `candles`, `book` and `tape` (docs/protocol.md).
//!
//! The hub owns one `Views` and asks it for deltas and snapshots; time comes in as an argument.
//! Candles and the book are kept only while some connection views them (their feeds are opened
//! for viewers and closed after the last one leaves, so a kept copy would go stale and leave a
//! hole the next viewer could not tell from a quiet market). The tape is kept for every symbol
//! whose trades flow, so a viewer sees the recent trades at once.

mod candles;
mod wants;

pub use candles::Merged;

use crate::ViewsConfig;
use crate::fanout::StreamKey;
use std::collections::{BTreeSet, HashMap, VecDeque};
use tokio::sync::watch;
use trademon_core::market::{BookTop, FeedWant, Side, Trade};
use trademon_protocol::{
    BookSnapshot, Candle, CandlesUpdate, DataSource, Interval, Snapshot, StreamName, TapeTrade,
    TapeUpdate,
};

/// What the engine's contract specification says about a symbol; `None` while unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ContractInfo {
    pub price_decimals: Option<u32>,
    pub contract_size: Option<f64>,
}

struct Book {
    top: BookTop,
    received_ms: i64,
    /// Changed since it was last published.
    dirty: bool,
}

impl Book {
    fn snapshot(&self, info: ContractInfo) -> BookSnapshot {
        BookSnapshot {
            symbol: self.top.symbol.clone(),
            version: self.top.version,
            bids: self.top.bids.clone(),
            asks: self.top.asks.clone(),
            contract_size: info.contract_size,
            price_decimals: info.price_decimals,
            exchange_ts_ms: self.top.ts_ms,
            received_ms: self.received_ms,
            gaps: self.top.gaps,
            source: self.top.source,
        }
    }
}

pub struct Views {
    candles_max: usize,
    tape_max: usize,
    viewers: wants::Viewers,
    candles: HashMap<(String, Interval), candles::Series>,
    books: HashMap<String, Book>,
    tapes: HashMap<String, VecDeque<TapeTrade>>,
}

impl Views {
    pub fn new(cfg: &ViewsConfig, feeds: watch::Sender<BTreeSet<FeedWant>>) -> Views {
        Views {
            candles_max: cfg.candles_max,
            tape_max: cfg.tape_max.max(1),
            viewers: wants::Viewers::new(feeds),
            candles: HashMap::new(),
            books: HashMap::new(),
            tapes: HashMap::new(),
        }
    }

    /// A connection started following `key` (a per-symbol stream instance).
    pub fn view(&mut self, key: &StreamKey) {
        self.viewers.add(key);
    }

    /// A connection stopped following `key`. After the last one, its feed closes and what was
    /// kept of it is dropped.
    pub fn unview(&mut self, key: &StreamKey) {
        if !self.viewers.remove(key) {
            return;
        }
        let Some(symbol) = key.symbol.clone() else {
            return;
        };
        match (key.stream, key.interval) {
            (StreamName::Candles, Some(interval)) => {
                self.candles.remove(&(symbol, interval));
            }
            (StreamName::Book, _) => {
                self.books.remove(&symbol);
            }
            _ => {}
        }
    }

    /// Whether any connection follows `key`.
    pub fn is_viewed(&self, key: &StreamKey) -> bool {
        self.viewers.count(key) > 0
    }

    /// The `full_update` of a per-symbol stream instance.
    pub fn snapshot(&self, key: &StreamKey, info: ContractInfo) -> Snapshot {
        let mut s = Snapshot::default();
        let Some(symbol) = key.symbol.clone() else {
            return s;
        };
        match (key.stream, key.interval) {
            (StreamName::Candles, Some(interval)) => {
                let candles = self
                    .candles
                    .get(&(symbol.clone(), interval))
                    .map(candles::Series::all)
                    .unwrap_or_default();
                s.candles = Some(Box::new(CandlesUpdate {
                    symbol,
                    interval,
                    candles,
                    price_decimals: info.price_decimals,
                }));
            }
            (StreamName::Book, _) => {
                s.book = self.books.get(&symbol).map(|b| Box::new(b.snapshot(info)));
            }
            (StreamName::Tape, _) => {
                let trades = self
                    .tapes
                    .get(&symbol)
                    .map(|t| t.iter().cloned().collect())
                    .unwrap_or_default();
                s.tape = Some(Box::new(TapeUpdate {
                    symbol,
                    trades,
                    contract_size: info.contract_size,
                    price_decimals: info.price_decimals,
                }));
            }
            _ => {}
        }
        s
    }

    /// Merges candles of a viewed (symbol, interval); those of one nobody views are ignored
    /// (a feed still closing). The source does not matter: REST and pushes describe the same
    /// candles, and the later value wins.
    pub fn on_candles(&mut self, symbol: &str, interval: Interval, candles: &[Candle]) -> Merged {
        let key = StreamKey::symbol(StreamName::Candles, symbol.to_string(), Some(interval));
        if !self.is_viewed(&key) {
            return Merged::default();
        }
        let max = self.candles_max;
        self.candles
            .entry((symbol.to_string(), interval))
            .or_insert_with(|| candles::Series::new(max))
            .merge(candles)
    }

    /// Keeps the newest top of a viewed book until the next `take_books`.
    pub fn on_book(&mut self, top: BookTop, now_ms: i64) {
        let key = StreamKey::symbol(StreamName::Book, top.symbol.clone(), None);
        if !self.is_viewed(&key) {
            return;
        }
        match self.books.get_mut(&top.symbol) {
            // During a connection rotation both links emit the book for a while: a lower
            // pushed version is the other link's older state. A REST snapshot always counts
            // (after an exchange restart its versions may start lower).
            Some(b) if top.source == DataSource::Ws && top.version < b.top.version => {}
            Some(b) => {
                b.top = top;
                b.received_ms = now_ms;
                b.dirty = true;
            }
            None => {
                let book = Book {
                    top,
                    received_ms: now_ms,
                    dirty: true,
                };
                self.books.insert(book.top.symbol.clone(), book);
            }
        }
    }

    /// The books that changed since the last call, each once with its newest top: the caller
    /// calls this once per `views.book_interval_ms`, which caps every book at that rate.
    pub fn take_books(&mut self, info: impl Fn(&str) -> ContractInfo) -> Vec<BookSnapshot> {
        let mut out: Vec<BookSnapshot> = self
            .books
            .values_mut()
            .filter(|b| b.dirty)
            .map(|b| {
                b.dirty = false;
                b.snapshot(info(&b.top.symbol))
            })
            .collect();
        out.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        out
    }

    /// Adds trades to the symbol's tape and returns the new ones, oldest first. A trade whose
    /// exchange id the tape already holds is not added twice.
    pub fn on_trades(&mut self, symbol: &str, trades: &[Trade]) -> Vec<TapeTrade> {
        let tape = self.tapes.entry(symbol.to_string()).or_default();
        let mut new: Vec<TapeTrade> = trades
            .iter()
            .filter(|t| t.id.is_none() || !tape.iter().any(|k| k.id == t.id))
            .map(|t| TapeTrade {
                id: t.id,
                ts_ms: t.ts_ms,
                price: t.price,
                contracts: t.contracts,
                taker: match t.taker {
                    Side::Buy => trademon_protocol::Side::Buy,
                    Side::Sell => trademon_protocol::Side::Sell,
                },
                self_trade: t.self_trade,
            })
            .collect();
        new.sort_by_key(|t| (t.ts_ms, t.id));
        let out_of_order = match (tape.back(), new.first()) {
            (Some(last), Some(first)) => (first.ts_ms, first.id) < (last.ts_ms, last.id),
            _ => false,
        };
        tape.extend(new.iter().cloned());
        if out_of_order {
            tape.make_contiguous().sort_by_key(|t| (t.ts_ms, t.id));
        }
        while tape.len() > self.tape_max {
            tape.pop_front();
        }
        new
    }
}

#[cfg(test)]
mod tests;
