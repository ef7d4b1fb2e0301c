//! Payloads of the symbol view's streams (`candles`, `book`, `tape`): one symbol's chart,
//! order book and trade tape. Shared with the market model (`trademon-core`) so the adapter,
//! the backend and the client agree on one shape without conversions.

use serde::{Deserialize, Serialize};

/// A candle interval, named as MEXC names it (`sub.kline`'s `interval`, the REST kline
/// `interval` parameter). MEXC has no `Hour1`: one hour is `Min60`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Interval {
    Min1,
    Min5,
    Min15,
    Min30,
    Min60,
    Hour4,
    Hour8,
    Day1,
    Week1,
    Month1,
}

impl Interval {
    pub const ALL: [Interval; 10] = [
        Interval::Min1,
        Interval::Min5,
        Interval::Min15,
        Interval::Min30,
        Interval::Min60,
        Interval::Hour4,
        Interval::Hour8,
        Interval::Day1,
        Interval::Week1,
        Interval::Month1,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Min1 => "Min1",
            Interval::Min5 => "Min5",
            Interval::Min15 => "Min15",
            Interval::Min30 => "Min30",
            Interval::Min60 => "Min60",
            Interval::Hour4 => "Hour4",
            Interval::Hour8 => "Hour8",
            Interval::Day1 => "Day1",
            Interval::Week1 => "Week1",
            Interval::Month1 => "Month1",
        }
    }

    pub fn parse(s: &str) -> Option<Interval> {
        Interval::ALL.into_iter().find(|i| i.as_str() == s)
    }

    /// Length in seconds. A month has no fixed length: its candles open on the calendar month,
    /// so `None` and callers align by the exchange's `t` alone.
    pub fn seconds(self) -> Option<i64> {
        Some(match self {
            Interval::Min1 => 60,
            Interval::Min5 => 300,
            Interval::Min15 => 900,
            Interval::Min30 => 1_800,
            Interval::Min60 => 3_600,
            Interval::Hour4 => 14_400,
            Interval::Hour8 => 28_800,
            Interval::Day1 => 86_400,
            Interval::Week1 => 604_800,
            Interval::Month1 => return None,
        })
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One candle. `t` is the window's open time in **seconds** since the epoch, as MEXC sends it
/// (REST kline and `push.kline` alike); the other timestamps in this protocol are ms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    pub t: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    /// Volume in contracts (MEXC `vol` / `q`).
    pub volume: f64,
    /// Turnover in quote currency (MEXC `amount` / `a`).
    pub amount: f64,
}

/// One price level of an order book: absolute size, never a change.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BookLevel {
    pub price: f64,
    /// Size in contracts, as MEXC sends it (multiply by the contract size for base units).
    pub contracts: f64,
    /// Number of orders at this level (MEXC's third array element); 0 when not sent.
    #[serde(default)]
    pub orders: u32,
}

/// A `candles` stream message. In a `full_update`: the history window, oldest first, without
/// gaps the backend knows how to fill. In a delta: the candles that changed, oldest first —
/// usually the open one, and the one it closed when a new window starts. A candle replaces the
/// one with the same `t`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandlesUpdate {
    pub symbol: String,
    pub interval: Interval,
    pub candles: Vec<Candle>,
    /// Decimals of the contract's price; absent while the contract specification is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_decimals: Option<u32>,
}

/// A `book` stream message: always the whole top of the book (conflated, newest wins).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookSnapshot {
    pub symbol: String,
    /// The exchange's book version.
    pub version: u64,
    /// Best first.
    pub bids: Vec<BookLevel>,
    /// Best first.
    pub asks: Vec<BookLevel>,
    /// Base units per contract; absent while the contract specification is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_size: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_decimals: Option<u32>,
    /// Exchange time of the last change (ms).
    pub exchange_ts_ms: i64,
    /// Backend wall clock (ms) when the last change arrived.
    pub received_ms: i64,
    /// Version gaps the backend detected (each one resynced from a REST snapshot) since the
    /// feed opened.
    #[serde(default)]
    pub gaps: u64,
    pub source: crate::DataSource,
}

/// One trade on the tape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TapeTrade {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// Exchange trade time (ms).
    pub ts_ms: i64,
    pub price: f64,
    /// Size in contracts.
    pub contracts: f64,
    pub taker: crate::Side,
    /// MEXC's `M` flag: both sides of the trade were the same account.
    #[serde(default)]
    pub self_trade: bool,
}

/// A `tape` stream message. In a `full_update`: the newest trades kept, oldest first. In a
/// delta: the new trades, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TapeUpdate {
    pub symbol: String,
    pub trades: Vec<TapeTrade>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_size: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_decimals: Option<u32>,
}
