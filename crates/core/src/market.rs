//! The market data model: normalized events an exchange adapter emits and everything
//! downstream (engine, store, backend) consumes.

use trademon_protocol::{CloseInfo, DataSource};

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
    /// An exchange WebSocket opened, closed or failed to open. In the market stream, so it is
    /// stored (`connection_events`) in order with the data it bounds; no symbol, no engine input.
    Link {
        conn_id: String,
        change: LinkChange,
        at_ms: i64,
    },
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
            MarketEvent::Trades { symbol, .. } | MarketEvent::SymbolFailed { symbol, .. } => symbol,
            MarketEvent::Link { .. } | MarketEvent::Contracts(_) => "",
        }
    }
}
