//! MEXC futures wire format: pure parsing of inbound frames and building of outbound
//! commands. No IO, no clocks, no state — every function here is unit-tested over the frame
//! shapes MEXC sends (live captures, quoted in the tests).
//!
//! Numbers — the documented f64 path (decided for issue 3, see docs/protocol.md "Numbers"):
//! prices and sizes become `f64` straight from the raw JSON token (serde_json parses the
//! token with correct rounding, `9.75E+4`, `1.066397E3` and `25329.000…000` included), so
//! every value is the f64 nearest to the exchange's decimal — one rounding, never two.
//! MEXC sends at most ~10 significant digits and an f64 holds 15-17, so the decimal reads
//! back unchanged when printed with the instrument's precision. We only display, compare
//! and compute percentages; nothing is summed into balances, so an exact decimal type would
//! add a dependency and conversions without changing any shown value.

use serde_json::{Map, Value};

use trademon_core::depth_book::{DepthDelta, DepthSnapshot};
use trademon_core::market::{Side, TickerUpdate, Trade};
use trademon_protocol::{Candle, Interval};

mod feeds;
pub use feeds::levels;

/// The channels the adapter subscribes: ticker and deal for every watched symbol, kline,
/// depth and funding rate for the symbols someone views (the feeds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Ticker,
    Deal,
    Kline(Interval),
    Depth,
    FundingRate,
}

/// Every `<name>` we subscribe (acks carry only this, no symbol and no interval).
const METHODS: [&str; 5] = ["ticker", "deal", "kline", "depth", "funding.rate"];

impl Channel {
    /// The channels of every watched symbol.
    pub const ALL: [Channel; 2] = [Channel::Ticker, Channel::Deal];

    /// The `<name>` in `sub.<name>`, `rs.sub.<name>` and `push.<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Ticker => "ticker",
            Channel::Deal => "deal",
            Channel::Kline(_) => "kline",
            Channel::Depth => "depth",
            Channel::FundingRate => "funding.rate",
        }
    }

    /// The name shown in the upstream view: the kline interval is part of the stream.
    pub fn label(self) -> String {
        match self {
            Channel::Kline(i) => format!("kline.{i}"),
            other => other.name().to_string(),
        }
    }

    fn method(name: &str) -> Option<&'static str> {
        METHODS.into_iter().find(|m| *m == name)
    }
}

/// One parsed inbound text frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// Reply to our JSON ping; `server_ms` is the server clock if present.
    Pong {
        server_ms: Option<i64>,
    },
    /// `rs.sub.<channel>`; acks carry no symbol (nor a kline interval), so the caller
    /// matches them FIFO by [`Channel::name`].
    SubAck {
        channel: &'static str,
        ok: bool,
        text: String,
    },
    /// `rs.unsub.*`: never relied on (MEXC may not send it), only recognised.
    UnsubAck,
    /// `rs.error`; `contract` is set when the text names a refused contract.
    Error {
        text: String,
        contract: Option<String>,
    },
    Ticker(TickerUpdate),
    Deals {
        symbol: String,
        trades: Vec<Trade>,
        /// Rows dropped because a required field was missing or malformed.
        skipped_rows: usize,
    },
    /// `push.kline`: one candle, possibly still open.
    Kline {
        symbol: String,
        interval: Interval,
        candle: Candle,
    },
    /// `push.depth`: one incremental (possibly merged) frame.
    Depth {
        symbol: String,
        delta: DepthDelta,
        /// `cts` or the frame's `ts`.
        ts_ms: Option<i64>,
    },
    /// `push.depth.full`: the top levels at a version (not subscribed; recognised).
    DepthFull {
        symbol: String,
        snapshot: DepthSnapshot,
        ts_ms: Option<i64>,
    },
    /// `push.funding.rate`.
    Funding {
        symbol: String,
        rate: f64,
        next_settle_ms: Option<i64>,
    },
    /// Frames we recognise as harmless but do not use (`clientId`, unknown channels, acks
    /// of channels we never subscribe).
    Ignored {
        channel: String,
    },
    /// A known push that cannot become an event (e.g. ticker without `lastPrice`).
    Skipped {
        channel: String,
        reason: String,
    },
}

/// Why a text frame could not be parsed at all.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("invalid json: {0}")]
    Json(#[source] serde_json::Error),
    #[error("frame is not a JSON object")]
    NotAnObject,
    #[error("frame has no string `channel`")]
    NoChannel,
}

/// Parse one inbound text frame.
pub fn parse_frame(text: &str) -> Result<Inbound, WireError> {
    let value: Value = serde_json::from_str(text).map_err(WireError::Json)?;
    let obj = value.as_object().ok_or(WireError::NotAnObject)?;
    let channel = obj
        .get("channel")
        .and_then(Value::as_str)
        .ok_or(WireError::NoChannel)?;
    let data = obj.get("data").unwrap_or(&Value::Null);

    Ok(match channel {
        "pong" => Inbound::Pong {
            server_ms: num_i64(data).or_else(|| obj.get("ts").and_then(num_i64)),
        },
        "rs.error" => {
            let text = text_of(data);
            Inbound::Error {
                contract: refused_contract(&text),
                text,
            }
        }
        "push.ticker" => parse_ticker(obj, data),
        "push.deal" => parse_deals(obj, data),
        "push.kline" => feeds::parse_kline(obj, data),
        "push.depth" => feeds::parse_depth(obj, data),
        "push.depth.full" => feeds::parse_depth_full(obj, data),
        "push.funding.rate" => feeds::parse_funding(obj, data),
        other => {
            if let Some(name) = other.strip_prefix("rs.sub.") {
                match Channel::method(name) {
                    Some(channel) => {
                        let text = text_of(data);
                        Inbound::SubAck {
                            channel,
                            ok: text == "success",
                            text,
                        }
                    }
                    None => Inbound::Ignored {
                        channel: other.to_string(),
                    },
                }
            } else if other.starts_with("rs.unsub.") {
                Inbound::UnsubAck
            } else {
                // `clientId`, `push.index.price`, anything new: harmless, ignored by design.
                Inbound::Ignored {
                    channel: other.to_string(),
                }
            }
        }
    })
}

/// `Contract [NOPE_USDT] not exists` -> `NOPE_USDT`. The docs' older text
/// `Contract doesn't exist!` names no symbol and yields `None`.
pub fn refused_contract(text: &str) -> Option<String> {
    let rest = text.strip_prefix("Contract [")?;
    let (symbol, tail) = rest.split_once(']')?;
    if symbol.is_empty() || !tail.contains("not exist") {
        return None;
    }
    Some(symbol.to_string())
}

fn text_of(data: &Value) -> String {
    match data {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parse_ticker(obj: &Map<String, Value>, data: &Value) -> Inbound {
    let skipped = |reason: &str| Inbound::Skipped {
        channel: "push.ticker".into(),
        reason: reason.into(),
    };
    let Some(d) = data.as_object() else {
        return skipped("data is not an object");
    };
    match ticker_from_object(d, obj) {
        Ok(t) => Inbound::Ticker(t),
        Err(reason) => skipped(reason),
    }
}

/// One ticker object, as pushed in `push.ticker.data` or returned by the REST ticker
/// endpoint (same field names). `outer` supplies a top-level `symbol` / `ts` fallback.
pub fn ticker_from_object(
    d: &Map<String, Value>,
    outer: &Map<String, Value>,
) -> Result<TickerUpdate, &'static str> {
    // Live frames carry the symbol both in `data` and at top level; either will do.
    let symbol = d
        .get("symbol")
        .or_else(|| outer.get("symbol"))
        .and_then(Value::as_str)
        .ok_or("no symbol")?;
    let last = d.get("lastPrice").and_then(num).ok_or("no lastPrice")?;
    let f = |key: &str| d.get(key).and_then(num);
    Ok(TickerUpdate {
        high_24h: f("high24Price"),
        low_24h: f("lower24Price"),
        open_interest: f("holdVol"),
        symbol: symbol.to_string(),
        last,
        bid: f("bid1"),
        ask: f("ask1"),
        // `num` only admits finite values, but x100 can still overflow to +-inf (fuzz
        // `mexc_frame` found `"riseFallRate":-0.04241e308`); drop it like any bad field.
        change_pct: f("riseFallRate")
            .map(|r| r * 100.0)
            .filter(|p| p.is_finite()),
        volume_24h: f("amount24"),
        fair_price: f("fairPrice"),
        index_price: f("indexPrice"),
        // The docs' table says `fundingRate`, their example and `push.funding.rate` say
        // `rate`: accept both.
        funding_rate: f("fundingRate").or_else(|| f("rate")),
        exchange_ts_ms: d
            .get("timestamp")
            .and_then(num_i64)
            .or_else(|| outer.get("ts").and_then(num_i64)),
    })
}

fn parse_deals(obj: &Map<String, Value>, data: &Value) -> Inbound {
    let Some(symbol) = obj.get("symbol").and_then(Value::as_str) else {
        return Inbound::Skipped {
            channel: "push.deal".into(),
            reason: "no symbol".into(),
        };
    };
    let frame_ts = obj.get("ts").and_then(num_i64);
    // Docs show one object, live frames send an array: accept both.
    let rows: &[Value] = match data {
        Value::Array(rows) => rows,
        Value::Object(_) => std::slice::from_ref(data),
        _ => &[],
    };
    let trades: Vec<Trade> = rows.iter().filter_map(|r| trade_row(r, frame_ts)).collect();
    Inbound::Deals {
        symbol: symbol.to_string(),
        skipped_rows: rows.len() - trades.len(),
        trades,
    }
}

fn trade_row(row: &Value, frame_ts: Option<i64>) -> Option<Trade> {
    let r = row.as_object()?;
    let taker = match r.get("T").and_then(num_i64)? {
        1 => Side::Buy,
        2 => Side::Sell,
        _ => return None,
    };
    Some(Trade {
        // `M`: 1 = self-trade, 2 = not (the English docs mistranslate it as "auto-transact").
        self_trade: r.get("M").and_then(num_i64) == Some(1),
        // `i` is an undocumented string id; absent ids pass through un-deduplicated.
        id: r.get("i").and_then(num_u64),
        price: r.get("p").and_then(num)?,
        contracts: r.get("v").and_then(num)?,
        taker,
        ts_ms: r
            .get("t")
            .and_then(num_i64)
            .or_else(|| r.get("cts").and_then(num_i64))
            .or(frame_ts)?,
    })
}

/// A JSON number in any form (`9.75E+4`, zero tails) or a numeric string, as f64.
pub fn num(v: &Value) -> Option<f64> {
    let x = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    x.is_finite().then_some(x)
}

/// Millisecond timestamps: number (possibly float or exponent form) or string.
pub fn num_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .or_else(|| num(v).map(|f| f as i64)),
        _ => None,
    }
}

pub fn num_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Outbound
// ---------------------------------------------------------------------------------------

/// The JSON application ping, exactly as documented (WebSocket Ping frames do not count).
pub const PING: &str = r#"{"method":"ping"}"#;

/// `sub.<channel>` / `unsub.<channel>` for one symbol, always with `"gzip":false` so the
/// server never switches us to binary frames. Kline commands carry the interval both ways
/// (the docs show `unsub.kline` with `symbol` only; the official Go SDK requires both).
pub fn command(subscribe: bool, channel: Channel, symbol: &str) -> String {
    let verb = if subscribe { "sub" } else { "unsub" };
    let param = match channel {
        Channel::Kline(i) => serde_json::json!({ "symbol": symbol, "interval": i.as_str() }),
        _ => serde_json::json!({ "symbol": symbol }),
    };
    serde_json::json!({
        "method": format!("{verb}.{}", channel.name()),
        "param": param,
        "gzip": false,
    })
    .to_string()
}

// ---------------------------------------------------------------------------------------
// Binary frames
// ---------------------------------------------------------------------------------------

/// Why a binary frame was not turned into text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryDrop {
    /// Starts with the gzip magic but did not inflate to UTF-8 text.
    BadGzip {
        len: usize,
        error: String,
    },
    /// Inflated beyond [`MAX_INFLATED`]: refused rather than risk a gzip bomb.
    TooLarge {
        len: usize,
    },
    Unknown {
        len: usize,
    },
}

/// Largest inflated frame accepted (a full depth snapshot is far below this).
pub const MAX_INFLATED: u64 = 4 * 1024 * 1024;

/// Binary frames: gzip (magic `1f 8b`) is inflated to the text to feed [`parse_frame`];
/// anything else is dropped with a reason. We always send `"gzip":false`, but the old docs
/// made gzip the default and the official SDKs still gunzip any binary frame.
pub fn decode_binary(bytes: &[u8]) -> Result<String, BinaryDrop> {
    use std::io::Read;
    let len = bytes.len();
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(BinaryDrop::Unknown { len });
    }
    let mut text = String::new();
    let mut inflater = flate2::read::GzDecoder::new(bytes).take(MAX_INFLATED + 1);
    match inflater.read_to_string(&mut text) {
        Ok(n) if n as u64 > MAX_INFLATED => Err(BinaryDrop::TooLarge { len }),
        Ok(_) => Ok(text),
        Err(e) => Err(BinaryDrop::BadGzip {
            len,
            error: e.to_string(),
        }),
    }
}

/// `rs.error` texts that are server notices rather than the reply to one of our commands
/// (so they must not consume an outstanding subscribe in FIFO matching).
pub fn is_notice(text: &str) -> bool {
    text.contains("no response") || text.contains("close the channel")
}

#[cfg(test)]
mod tests;
