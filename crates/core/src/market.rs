//! The market data model: normalized events an exchange adapter emits and everything
//! downstream (engine, store, backend) consumes.

use trademon_protocol::{BookLevel, Candle, CloseInfo, DataSource, Interval};

pub use crate::contract::{ContractSpec, ContractUpdate};

/// Taker side of a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Buy,
    Sell,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    /// Exchange trade id (`i`), contiguous per symbol on MEXC; `None` if the frame lacked it.
    pub id: Option<u64>,
    pub price: f64,
    /// Size in contracts, as MEXC sends it.
    pub contracts: f64,
    pub taker: Side,
    /// Exchange trade time, ms since the epoch.
    pub ts_ms: i64,
    /// MEXC's `M` flag: both sides were the same account (a self-trade).
    pub self_trade: bool,
}

/// Ticker fields are all optional except `last`: live frames omit fields at times.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TickerUpdate {
    pub symbol: String,
    pub last: f64,
    pub bid: Option<f64>,
    pub ask: Option<f64>,
    /// `riseFallRate` x 100.
    pub change_pct: Option<f64>,
    /// `amount24`: 24 h turnover in quote currency.
    pub volume_24h: Option<f64>,
    pub fair_price: Option<f64>,
    pub index_price: Option<f64>,
    pub funding_rate: Option<f64>,
    /// `high24Price`, `lower24Price`.
    pub high_24h: Option<f64>,
    pub low_24h: Option<f64>,
    /// `holdVol`: open interest in contracts.
    pub open_interest: Option<f64>,
    pub exchange_ts_ms: Option<i64>,
}

/// Normalized market data, the adapter's only output besides its health.
#[derive(Debug, Clone, PartialEq)]
pub enum MarketEvent {
    Ticker {
        update: TickerUpdate,
        source: DataSource,
    },
    Trades {
        symbol: String,
        trades: Vec<Trade>,
        source: DataSource,
    },
    /// The exchange refused this symbol (e.g. `Contract [X] not exists`); other symbols go on.
    SymbolFailed { symbol: String, reason: String },
    /// Contract specifications (and contracts the exchange does not list), from its REST API or
    /// the cache of its last answer; no symbol of its own.
    Contracts(ContractUpdate),
    /// Candles of one symbol and interval: a REST history window (oldest first) or one
    /// `push.kline` candle, possibly still open. Downstream merges by open time `t`; a later
    /// value for the same `t` replaces the earlier one, so duplicates and overlaps are harmless.
    Candles {
        symbol: String,
        interval: Interval,
        candles: Vec<Candle>,
        source: DataSource,
    },
    /// The top of one symbol's order book after it changed.
    Book(BookTop),
    /// Funding rate and the next settlement (`push.funding.rate` or REST `funding_rate`).
    Funding {
        symbol: String,
        rate: f64,
        next_settle_ms: Option<i64>,
    },
    /// An exchange WebSocket opened, closed or failed to open. In the market stream, so it is
    /// stored (`connection_events`) in order with the data it bounds; no symbol, no engine input.
    Link {
        conn_id: String,
        change: LinkChange,
        at_ms: i64,
    },
}

/// The best `N` levels of each side of one symbol's book, best first, as the adapter's full
/// book (kept from REST snapshots and `push.depth` deltas by their versions) holds them.
#[derive(Debug, Clone, PartialEq)]
pub struct BookTop {
    pub symbol: String,
    /// The exchange's book version after the last applied change.
    pub version: u64,
    pub bids: Vec<BookLevel>,
    pub asks: Vec<BookLevel>,
    /// Exchange time of the last change (ms), or the receive time when the frame had none.
    pub ts_ms: i64,
    pub source: DataSource,
    /// Version gaps the adapter found in this feed since it opened; each one was resynced from
    /// a REST snapshot.
    pub gaps: u64,
}

/// A per-symbol market feed beyond ticker and trades: opened while some client views the
/// symbol, closed when the last one stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feed {
    Kline(Interval),
    Depth,
}

/// One wanted feed of one symbol: what the backend asks the adapter to keep subscribed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedWant {
    pub symbol: String,
    pub feed: Feed,
}

/// What happened to a WebSocket link (the exchange's, or a client's of the backend).
#[derive(Debug, Clone, PartialEq)]
pub enum LinkChange {
    Opened,
    Closed(CloseInfo),
    ConnectFailed(CloseInfo),
}

impl LinkChange {
    /// The `event` column of `connection_events`.
    pub fn name(&self) -> &'static str {
        match self {
            LinkChange::Opened => "open",
            LinkChange::Closed(_) => "close",
            LinkChange::ConnectFailed(_) => "connect_failed",
        }
    }
}

impl MarketEvent {
    pub fn symbol(&self) -> &str {
        match self {
            MarketEvent::Ticker { update, .. } => &update.symbol,
            MarketEvent::Trades { symbol, .. }
            | MarketEvent::SymbolFailed { symbol, .. }
            | MarketEvent::Candles { symbol, .. }
            | MarketEvent::Funding { symbol, .. } => symbol,
            MarketEvent::Book(top) => &top.symbol,
            MarketEvent::Link { .. } | MarketEvent::Contracts(_) => "",
        }
    }
}
