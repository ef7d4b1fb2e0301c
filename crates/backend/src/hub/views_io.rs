//! The hub's side of the symbol view's streams (`candles`, `book`, `tape`): checking a
//! subscription's symbol and interval, who views what (and so which feeds the adapter keeps
//! open), feeding `views::Views` from market events and publishing what changed.
//!
//! `candles` and `tape` deltas go out as their events arrive; `book` is conflated: a symbol's
//! newest top goes out at most once per `views.book_interval_ms` (the hub's book timer calls
//! `flush_books`).

use super::Hub;
use crate::fanout::StreamKey;
use crate::views::ContractInfo;
use std::collections::BTreeSet;
use trademon_core::market::MarketEvent;
use trademon_engine::Engine;
use trademon_protocol::{ErrorReply, Interval, ServerMsg, StreamName, error_code, is_valid_symbol};

fn error(code: &str, message: String, valid: Vec<String>) -> ErrorReply {
    ErrorReply {
        id: None,
        code: code.to_string(),
        message,
        valid,
    }
}

/// Price decimals and contract size from the engine's contract specification; unknown until
/// the specifications arrive.
fn contract_info(engine: &Engine, symbol: &str) -> ContractInfo {
    match engine.contract(symbol) {
        Some(spec) => ContractInfo {
            price_decimals: Some(spec.price_scale),
            // A configured override wins, as it does for the engine's sizing.
            contract_size: Some(engine.contract_size(symbol)),
        },
        None => ContractInfo::default(),
    }
}

fn interval_names() -> Vec<String> {
    Interval::ALL
        .iter()
        .map(|i| i.as_str().to_string())
        .collect()
}

impl Hub {
    /// Completes `key` of a per-symbol stream with its symbol and (for `candles`) interval;
    /// other keys pass unchanged. The symbol must be one of a session or a contract the
    /// exchange lists. An unsubscribe names whatever candles interval the connection follows
    /// for that symbol (it views at most one), so its `interval` may be left out.
    pub(super) fn resolve_symbol(
        &self,
        conn: u64,
        key: StreamKey,
        symbol: Option<String>,
        interval: Option<String>,
        unsubscribe: bool,
    ) -> Result<StreamKey, ErrorReply> {
        let name = key.stream;
        if !name.is_per_symbol() {
            return Ok(key);
        }
        let Some(symbol) = symbol else {
            return Err(error(
                error_code::INVALID_MESSAGE,
                format!("stream {name} needs a symbol"),
                self.view_symbols(),
            ));
        };
        if unsubscribe && let Some(followed) = self.followed(conn, name, &symbol) {
            return Ok(followed);
        }
        if !is_valid_symbol(&symbol) {
            return Err(error(
                error_code::INVALID_SYMBOL,
                format!("symbol {symbol:?} is not spelled like BTC_USDT"),
                Vec::new(),
            ));
        }
        let in_session = self.sessions.iter().any(|s| s.has_symbol(&symbol));
        if !in_session && self.engine.contract(&symbol).is_none() {
            return Err(error(
                error_code::INVALID_SYMBOL,
                format!("unknown symbol {symbol:?}: in no session and not listed on MEXC"),
                self.view_symbols(),
            ));
        }
        let interval = match (name, interval) {
            (StreamName::Candles, Some(text)) => match Interval::parse(&text) {
                Some(i) => Some(i),
                None => {
                    return Err(error(
                        error_code::INVALID_MESSAGE,
                        format!("unknown interval {text:?}"),
                        interval_names(),
                    ));
                }
            },
            (StreamName::Candles, None) if !unsubscribe => {
                return Err(error(
                    error_code::INVALID_MESSAGE,
                    "stream candles needs an interval".to_string(),
                    interval_names(),
                ));
            }
            // Only candles have intervals; an unsubscribe of one not followed is acked anyway.
            _ => None,
        };
        Ok(StreamKey::symbol(name, symbol, interval))
    }

    /// The instance of `stream` for `symbol` that `conn` follows, whatever its interval.
    fn followed(&self, conn: u64, stream: StreamName, symbol: &str) -> Option<StreamKey> {
        let c = self.clients.get(&conn)?;
        c.subs
            .iter()
            .find(|k| k.stream == stream && k.symbol.as_deref() == Some(symbol))
            .cloned()
    }

    /// The symbols of every session, for error replies (listed contracts are too many).
    fn view_symbols(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.sessions.iter().flat_map(|s| &s.cfg.symbols).collect();
        set.into_iter().cloned().collect()
    }

    fn contract_info(&self, symbol: &str) -> ContractInfo {
        contract_info(&self.engine, symbol)
    }

    /// `ack` and `full_update` of a per-symbol stream instance. Candles of another interval
    /// of the same symbol are replaced: a connection views one interval per symbol.
    pub(super) fn subscribe_view(&mut self, conn: u64, id: u64, key: StreamKey) {
        if key.stream == StreamName::Candles
            && let Some(old) = key
                .symbol
                .as_deref()
                .and_then(|s| self.followed(conn, key.stream, s))
            && old != key
        {
            self.unfollow(conn, &old);
            self.fanout.forget(conn, old);
        }
        let symbol = key.symbol.clone().unwrap_or_default();
        let snapshot = self.views.snapshot(&key, self.contract_info(&symbol));
        let newly = self
            .clients
            .get_mut(&conn)
            .is_some_and(|c| c.subs.insert(key.clone()));
        if newly {
            self.views.view(&key);
        }
        self.fanout.subscribe(conn, id, key, snapshot);
    }

    /// `conn` stops following `key` (any stream); a per-symbol one loses a viewer.
    pub(super) fn unfollow(&mut self, conn: u64, key: &StreamKey) {
        let removed = self
            .clients
            .get_mut(&conn)
            .is_some_and(|c| c.subs.remove(key));
        if removed && key.stream.is_per_symbol() {
            self.views.unview(key);
        }
    }

    /// A closed connection's views end with it.
    pub(super) fn drop_views(&mut self, subs: impl IntoIterator<Item = StreamKey>) {
        for key in subs {
            if key.stream.is_per_symbol() {
                self.views.unview(&key);
            }
        }
    }

    /// Candles, trades and book tops into the views; what changed goes to their viewers, and
    /// candles that closed to the store.
    pub(super) fn on_view_market(&mut self, ev: &MarketEvent, now: i64) {
        match ev {
            MarketEvent::Candles {
                symbol,
                interval,
                candles,
                ..
            } => {
                let merged = self.views.on_candles(symbol, *interval, candles);
                if let Some(store) = &self.store {
                    let rows = merged
                        .closed
                        .iter()
                        .map(|c| trademon_store::kline_row(symbol, *interval, c));
                    store.send_all(rows);
                }
                if merged.changed.is_empty() {
                    return;
                }
                let key = StreamKey::symbol(StreamName::Candles, symbol.clone(), Some(*interval));
                let data = trademon_protocol::CandlesUpdate {
                    symbol: symbol.clone(),
                    interval: *interval,
                    candles: merged.changed,
                    price_decimals: self.contract_info(symbol).price_decimals,
                };
                self.fanout.publish(key, None, data, ServerMsg::Candles);
            }
            MarketEvent::Trades { symbol, trades, .. } => {
                let new = self.views.on_trades(symbol, trades);
                let key = StreamKey::symbol(StreamName::Tape, symbol.clone(), None);
                if new.is_empty() || !self.views.is_viewed(&key) {
                    return;
                }
                let info = self.contract_info(symbol);
                let data = trademon_protocol::TapeUpdate {
                    symbol: symbol.clone(),
                    trades: new,
                    contract_size: info.contract_size,
                    price_decimals: info.price_decimals,
                };
                self.fanout.publish(key, None, data, ServerMsg::Tape);
            }
            MarketEvent::Book(top) => self.views.on_book(top.clone(), now),
            _ => {}
        }
    }

    /// Publishes every book that changed since the last flush, once, with its newest top.
    pub(super) fn flush_books(&mut self) {
        let engine = &self.engine;
        let books = self
            .views
            .take_books(|symbol| contract_info(engine, symbol));
        for book in books {
            let key = StreamKey::symbol(StreamName::Book, book.symbol.clone(), None);
            self.fanout.publish(key, Some(""), book, ServerMsg::Book);
        }
    }
}
