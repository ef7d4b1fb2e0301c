//! REST requests of the symbol view's feeds: kline history, the depth snapshot and the funding
//! rate. Parsing is pure and tested over MEXC's shapes; [`fetch`] does the one request a
//! [`Fetch`] asks for with the adapter's HTTP client (its `rest_timeout_ms`).
//!
//! - `GET /api/v1/contract/kline/{symbol}?interval=Min1&start=&end=`: `start`/`end` in
//!   **seconds**, both inclusive, at most [`MAX_KLINE_ROWS`] rows; `data` is columnar:
//!   `time, open, close, high, low, vol, amount` arrays of one length.
//! - `GET /api/v1/contract/depth/{symbol}`: `{asks, bids, version, timestamp}`, levels
//!   `[price, contracts, orders]`.
//! - `GET /api/v1/contract/funding_rate/{symbol}`: `{symbol, fundingRate, nextSettleTime, ...}`.

use serde_json::Value;
use tokio::time::Instant;

use trademon_core::depth_book::DepthSnapshot;
use trademon_protocol::{Candle, Interval};

use super::wire;

/// MEXC answers at most this many candles per kline request.
pub const MAX_KLINE_ROWS: i64 = 2000;

/// Why a feed's REST request gave nothing usable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeedRestError {
    #[error("HTTP {0}")]
    Http(u16),
    /// HTTP 200 `success:false, code:510`, or HTTP 429.
    #[error("throttled ({0})")]
    Throttled(String),
    #[error("blocked by the WAF (HTTP 403)")]
    Waf,
    #[error("code {code}: {message}")]
    Api { code: i64, message: String },
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("unexpected answer: {0}")]
    Shape(String),
    #[error("{0}")]
    Transport(String),
}

/// The `data` of a successful MEXC answer.
fn envelope(status: u16, body: &str) -> Result<Value, FeedRestError> {
    match status {
        200 => {}
        403 => return Err(FeedRestError::Waf),
        429 => return Err(FeedRestError::Throttled("HTTP 429".into())),
        other => return Err(FeedRestError::Http(other)),
    }
    let v: Value = serde_json::from_str(body)
        .map_err(|_| FeedRestError::NotJson(body.chars().take(80).collect()))?;
    if v.get("success").and_then(Value::as_bool) != Some(true) {
        let code = v.get("code").and_then(wire::num_i64).unwrap_or(0);
        let message = v
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        return Err(if code == 510 {
            FeedRestError::Throttled(format!("code 510: {message}"))
        } else {
            FeedRestError::Api { code, message }
        });
    }
    match v {
        Value::Object(mut o) => o
            .remove("data")
            .filter(|d| !d.is_null())
            .ok_or_else(|| FeedRestError::Shape("no data".into())),
        _ => Err(FeedRestError::Shape("not an object".into())),
    }
}

/// Kline history, oldest first. A row with a bad value is left out (the rest of the window
/// is still good); columns of different lengths are refused (rows could not be matched up).
pub fn parse_klines(status: u16, body: &str) -> Result<Vec<Candle>, FeedRestError> {
    let data = envelope(status, body)?;
    let col = |name: &str| -> Result<&Vec<Value>, FeedRestError> {
        data.get(name)
            .and_then(Value::as_array)
            .ok_or_else(|| FeedRestError::Shape(format!("no `{name}` column")))
    };
    let (time, open, close, high, low, vol, amount) = (
        col("time")?,
        col("open")?,
        col("close")?,
        col("high")?,
        col("low")?,
        col("vol")?,
        col("amount")?,
    );
    let n = time.len();
    if [open, close, high, low, vol, amount]
        .iter()
        .any(|c| c.len() != n)
    {
        return Err(FeedRestError::Shape(
            "kline columns differ in length".into(),
        ));
    }
    let mut candles: Vec<Candle> = (0..n)
        .filter_map(|i| {
            Some(Candle {
                t: wire::num_i64(&time[i]).filter(|t| *t > 0)?,
                open: wire::num(&open[i])?,
                high: wire::num(&high[i])?,
                low: wire::num(&low[i])?,
                close: wire::num(&close[i])?,
                volume: wire::num(&vol[i])?,
                amount: wire::num(&amount[i])?,
            })
        })
        .collect();
    candles.sort_by_key(|c| c.t);
    candles.dedup_by_key(|c| c.t);
    Ok(candles)
}

/// The depth snapshot and its exchange time (`timestamp`, ms).
pub fn parse_depth(status: u16, body: &str) -> Result<(DepthSnapshot, Option<i64>), FeedRestError> {
    let data = envelope(status, body)?;
    let version = data
        .get("version")
        .and_then(wire::num_u64)
        .ok_or_else(|| FeedRestError::Shape("no version".into()))?;
    let bids =
        wire::levels(data.get("bids")).map_err(|e| FeedRestError::Shape(format!("bids: {e}")))?;
    let asks =
        wire::levels(data.get("asks")).map_err(|e| FeedRestError::Shape(format!("asks: {e}")))?;
    Ok((
        DepthSnapshot {
            version,
            bids,
            asks,
        },
        data.get("timestamp").and_then(wire::num_i64),
    ))
}

/// The funding rate and the next settlement (ms).
pub fn parse_funding(status: u16, body: &str) -> Result<(f64, Option<i64>), FeedRestError> {
    let data = envelope(status, body)?;
    let rate = data
        .get("fundingRate")
        .and_then(wire::num)
        .or_else(|| data.get("rate").and_then(wire::num))
        .ok_or_else(|| FeedRestError::Shape("no fundingRate".into()))?;
    Ok((rate, data.get("nextSettleTime").and_then(wire::num_i64)))
}

/// One REST request a feed needs, not before `not_before` (pacing, retries).
#[derive(Debug, Clone, PartialEq)]
pub enum Fetch {
    Klines {
        symbol: String,
        interval: Interval,
        start_s: i64,
        end_s: i64,
        epoch: u64,
        not_before: Instant,
    },
    Depth {
        symbol: String,
        epoch: u64,
        not_before: Instant,
    },
    Funding {
        symbol: String,
        epoch: u64,
        not_before: Instant,
    },
}

/// A request's answer, tagged with the feed epoch it was asked for (a feed that was
/// dropped or restarted since ignores it).
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    Klines {
        symbol: String,
        interval: Interval,
        epoch: u64,
        /// The window's start, for a retry.
        start_s: i64,
        result: Result<Vec<Candle>, FeedRestError>,
    },
    Depth {
        symbol: String,
        epoch: u64,
        result: Result<(DepthSnapshot, Option<i64>), FeedRestError>,
    },
    Funding {
        symbol: String,
        epoch: u64,
        result: Result<(f64, Option<i64>), FeedRestError>,
    },
}

impl Fetch {
    pub fn url(&self, base: &str) -> String {
        let base = base.trim_end_matches('/');
        match self {
            Fetch::Klines {
                symbol,
                interval,
                start_s,
                end_s,
                ..
            } => format!(
                "{base}/api/v1/contract/kline/{symbol}?interval={interval}&start={start_s}&end={end_s}"
            ),
            Fetch::Depth { symbol, .. } => format!("{base}/api/v1/contract/depth/{symbol}"),
            Fetch::Funding { symbol, .. } => {
                format!("{base}/api/v1/contract/funding_rate/{symbol}")
            }
        }
    }

    pub fn not_before(&self) -> Instant {
        match self {
            Fetch::Klines { not_before, .. }
            | Fetch::Depth { not_before, .. }
            | Fetch::Funding { not_before, .. } => *not_before,
        }
    }
}

/// Wait for `not_before`, do the request, parse the answer.
pub async fn fetch(client: Option<reqwest::Client>, base: String, req: Fetch) -> Fetched {
    tokio::time::sleep_until(req.not_before()).await;
    let url = req.url(&base);
    let answer = match client {
        None => Err(FeedRestError::Transport("no HTTP client".into())),
        Some(client) => match client.get(&url).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                resp.text()
                    .await
                    .map(|body| (status, body))
                    .map_err(|e| FeedRestError::Transport(super::cause::human(&e)))
            }
            Err(e) => Err(FeedRestError::Transport(super::cause::human(&e))),
        },
    };
    match req {
        Fetch::Klines {
            symbol,
            interval,
            epoch,
            start_s,
            ..
        } => Fetched::Klines {
            symbol,
            interval,
            epoch,
            start_s,
            result: answer.and_then(|(s, b)| parse_klines(s, &b)),
        },
        Fetch::Depth { symbol, epoch, .. } => Fetched::Depth {
            symbol,
            epoch,
            result: answer.and_then(|(s, b)| parse_depth(s, &b)),
        },
        Fetch::Funding { symbol, epoch, .. } => Fetched::Funding {
            symbol,
            epoch,
            result: answer.and_then(|(s, b)| parse_funding(s, &b)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columnar_klines_become_candles_oldest_first() {
        // MEXC's shape (docs example), plus the undocumented real* columns, out of order.
        let body = r#"{"success":true,"code":0,"data":{"time":[1609740660,1609740600],"open":[33016.5,33040.5],"close":[33031.0,33016.5],"high":[33035.5,33046.5],"low":[33007.5,33010.0],"vol":[1.2E3,9181],"amount":[3983.5,"30314.4"],"realOpen":[1,2],"realClose":[1,2],"realHigh":[1,2],"realLow":[1,2]}}"#;
        let c = parse_klines(200, body).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[0],
            Candle {
                t: 1_609_740_600,
                open: 33040.5,
                high: 33046.5,
                low: 33010.0,
                close: 33016.5,
                volume: 9181.0,
                amount: 30314.4
            }
        );
        assert_eq!((c[1].t, c[1].volume), (1_609_740_660, 1200.0));
    }

    #[test]
    fn bad_kline_answers_are_errors_bad_rows_are_dropped() {
        let row_bad = r#"{"success":true,"data":{"time":[1,2],"open":[1,"x"],"close":[1,1],"high":[1,1],"low":[1,1],"vol":[1,1],"amount":[1,1]}}"#;
        assert_eq!(parse_klines(200, row_bad).unwrap().len(), 1);
        let ragged = r#"{"success":true,"data":{"time":[1,2],"open":[1],"close":[1,1],"high":[1,1],"low":[1,1],"vol":[1,1],"amount":[1,1]}}"#;
        assert!(matches!(
            parse_klines(200, ragged),
            Err(FeedRestError::Shape(_))
        ));
        let no_col = r#"{"success":true,"data":{"time":[1]}}"#;
        assert!(
            matches!(parse_klines(200, no_col), Err(FeedRestError::Shape(m)) if m.contains("open"))
        );
        assert!(matches!(
            parse_klines(
                200,
                r#"{"success":false,"code":510,"message":"Requests are too frequent"}"#
            ),
            Err(FeedRestError::Throttled(_))
        ));
        assert!(matches!(
            parse_klines(
                200,
                r#"{"success":false,"code":1001,"message":"contract not exists"}"#
            ),
            Err(FeedRestError::Api { code: 1001, .. })
        ));
        assert_eq!(parse_klines(403, "<html>"), Err(FeedRestError::Waf));
        assert_eq!(parse_klines(502, ""), Err(FeedRestError::Http(502)));
        assert!(matches!(
            parse_klines(200, "<html>"),
            Err(FeedRestError::NotJson(_))
        ));
        assert!(matches!(
            parse_klines(200, r#"{"success":true,"data":[]}"#),
            Err(FeedRestError::Shape(_))
        ));
        assert!(matches!(
            parse_klines(200, r#"{"success":true}"#),
            Err(FeedRestError::Shape(_))
        ));
    }

    #[test]
    fn depth_snapshot_and_funding_rate() {
        let depth = r#"{"success":true,"code":0,"data":{"asks":[[6859.5,3251,1],[6860,"5.5E1",2]],"bids":[[6858,1,1]],"version":96801927,"timestamp":1587442022003}}"#;
        let (s, ts) = parse_depth(200, depth).unwrap();
        assert_eq!((s.version, s.asks.len(), s.bids.len()), (96_801_927, 2, 1));
        assert_eq!(s.asks[1].contracts, 55.0);
        assert_eq!(ts, Some(1_587_442_022_003));
        assert!(matches!(
            parse_depth(200, r#"{"success":true,"data":{"asks":[],"bids":[]}}"#),
            Err(FeedRestError::Shape(m)) if m.contains("version")
        ));
        assert!(matches!(
            parse_depth(200, r#"{"success":true,"data":{"asks":[["a"]],"bids":[],"version":1}}"#),
            Err(FeedRestError::Shape(m)) if m.contains("asks")
        ));
        let funding = r#"{"success":true,"code":0,"data":{"symbol":"BTC_USDT","fundingRate":0.000266,"maxFundingRate":0.0025,"minFundingRate":-0.0025,"collectCycle":8,"nextSettleTime":1587456000000,"timestamp":1587442022003}}"#;
        assert_eq!(
            parse_funding(200, funding),
            Ok((0.000266, Some(1_587_456_000_000)))
        );
        assert!(parse_funding(200, r#"{"success":true,"data":{"symbol":"X"}}"#).is_err());
    }

    #[test]
    fn urls_carry_seconds_and_the_interval() {
        let now = Instant::now();
        let k = Fetch::Klines {
            symbol: "BTC_USDT".into(),
            interval: Interval::Min1,
            start_s: 1_700_000_000,
            end_s: 1_700_018_000,
            epoch: 1,
            not_before: now,
        };
        assert_eq!(
            k.url("http://x/"),
            "http://x/api/v1/contract/kline/BTC_USDT?interval=Min1&start=1700000000&end=1700018000"
        );
        let d = Fetch::Depth {
            symbol: "ETH_USDT".into(),
            epoch: 1,
            not_before: now,
        };
        assert_eq!(d.url("http://x"), "http://x/api/v1/contract/depth/ETH_USDT");
        let f = Fetch::Funding {
            symbol: "ETH_USDT".into(),
            epoch: 1,
            not_before: now,
        };
        assert_eq!(
            f.url("http://x"),
            "http://x/api/v1/contract/funding_rate/ETH_USDT"
        );
    }
}
