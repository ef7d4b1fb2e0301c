//! The symbol view's pushes: `push.kline`, `push.depth`, `push.depth.full` and
//! `push.funding.rate`, pure. A frame that cannot become an event is `Skipped` with a reason;
//! for depth a single bad level skips the whole frame, because applying part of a delta would
//! leave a wrong book that no version check could notice (the next frame then shows a gap and
//! the book resyncs).

use serde_json::{Map, Value};

use trademon_core::depth_book::{DepthDelta, DepthSnapshot};
use trademon_protocol::{BookLevel, Candle, Interval};

use super::{Inbound, num, num_i64, num_u64};

fn skipped(channel: &str, reason: impl Into<String>) -> Inbound {
    Inbound::Skipped {
        channel: channel.into(),
        reason: reason.into(),
    }
}

/// The symbol of a push: live frames carry it at the top level, some also inside `data`.
fn symbol_of<'a>(obj: &'a Map<String, Value>, d: &'a Map<String, Value>) -> Option<&'a str> {
    obj.get("symbol")
        .or_else(|| d.get("symbol"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `push.kline`: `t` is the window's open time in **seconds**; `q` volume in contracts, `a`
/// turnover in quote. MEXC sends no "closed" flag: the candle with the newest `t` is open.
pub(super) fn parse_kline(obj: &Map<String, Value>, data: &Value) -> Inbound {
    const CH: &str = "push.kline";
    let Some(d) = data.as_object() else {
        return skipped(CH, "data is not an object");
    };
    let Some(symbol) = symbol_of(obj, d) else {
        return skipped(CH, "no symbol");
    };
    let Some(interval) = d.get("interval").and_then(Value::as_str) else {
        return skipped(CH, "no interval");
    };
    let Some(interval) = Interval::parse(interval) else {
        return skipped(CH, format!("unknown interval {interval:?}"));
    };
    match candle_from(d) {
        Ok(candle) => Inbound::Kline {
            symbol: symbol.to_string(),
            interval,
            candle,
        },
        Err(reason) => skipped(CH, reason),
    }
}

fn candle_from(d: &Map<String, Value>) -> Result<Candle, String> {
    let f = |key: &str| d.get(key).and_then(num).ok_or(format!("no {key}"));
    let t = d.get("t").and_then(num_i64).ok_or("no t")?;
    if t <= 0 {
        return Err(format!("t {t} is not a time"));
    }
    Ok(Candle {
        t,
        open: f("o")?,
        high: f("h")?,
        low: f("l")?,
        close: f("c")?,
        volume: f("q")?,
        amount: f("a")?,
    })
}

/// `[price, contracts, orders]` rows (REST depth and both depth pushes). `orders` may be
/// missing (0). Any bad row fails the whole side.
pub fn levels(v: Option<&Value>) -> Result<Vec<BookLevel>, String> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let Some(rows) = v.as_array() else {
        return Err("levels are not a list".into());
    };
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let r = row.as_array().ok_or(format!("level {i} is not a list"))?;
            let price = r
                .first()
                .and_then(num)
                .ok_or(format!("level {i}: bad price"))?;
            let contracts = r
                .get(1)
                .and_then(num)
                .ok_or(format!("level {i}: bad size"))?;
            if price <= 0.0 || contracts < 0.0 {
                return Err(format!("level {i}: price {price} size {contracts}"));
            }
            let orders = r
                .get(2)
                .and_then(num_u64)
                .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
            Ok(BookLevel {
                price,
                contracts,
                orders,
            })
        })
        .collect()
}

fn exchange_ts(obj: &Map<String, Value>, d: &Map<String, Value>) -> Option<i64> {
    d.get("cts")
        .and_then(num_i64)
        .or_else(|| obj.get("ts").and_then(num_i64))
}

/// `push.depth`: merged frames carry `begin`/`end` (and `version` = `end`), unmerged ones only
/// `version`.
pub(super) fn parse_depth(obj: &Map<String, Value>, data: &Value) -> Inbound {
    const CH: &str = "push.depth";
    let Some(d) = data.as_object() else {
        return skipped(CH, "data is not an object");
    };
    let Some(symbol) = symbol_of(obj, d) else {
        return skipped(CH, "no symbol");
    };
    let version = d.get("version").and_then(num_u64);
    let end = d.get("end").and_then(num_u64).or(version);
    let Some(end) = end else {
        return skipped(CH, "no version");
    };
    let begin = d.get("begin").and_then(num_u64).unwrap_or(end);
    if begin > end {
        return skipped(CH, format!("begin {begin} after end {end}"));
    }
    let (bids, asks) = match (levels(d.get("bids")), levels(d.get("asks"))) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) => return skipped(CH, format!("bids: {e}")),
        (_, Err(e)) => return skipped(CH, format!("asks: {e}")),
    };
    Inbound::Depth {
        symbol: symbol.to_string(),
        delta: DepthDelta {
            begin,
            end,
            bids,
            asks,
        },
        ts_ms: exchange_ts(obj, d),
    }
}

/// `push.depth.full`: the top N levels (5, 10 or 20), best first, at `version`.
pub(super) fn parse_depth_full(obj: &Map<String, Value>, data: &Value) -> Inbound {
    const CH: &str = "push.depth.full";
    let Some(d) = data.as_object() else {
        return skipped(CH, "data is not an object");
    };
    let Some(symbol) = symbol_of(obj, d) else {
        return skipped(CH, "no symbol");
    };
    let Some(version) = d.get("version").and_then(num_u64) else {
        return skipped(CH, "no version");
    };
    let (bids, asks) = match (levels(d.get("bids")), levels(d.get("asks"))) {
        (Ok(b), Ok(a)) => (b, a),
        (Err(e), _) => return skipped(CH, format!("bids: {e}")),
        (_, Err(e)) => return skipped(CH, format!("asks: {e}")),
    };
    Inbound::DepthFull {
        symbol: symbol.to_string(),
        snapshot: DepthSnapshot {
            version,
            bids,
            asks,
        },
        ts_ms: exchange_ts(obj, d),
    }
}

/// `push.funding.rate`: `rate` (the docs' table says `fundingRate`: accept both) and the next
/// settlement `nextSettleTime` (ms).
pub(super) fn parse_funding(obj: &Map<String, Value>, data: &Value) -> Inbound {
    const CH: &str = "push.funding.rate";
    let Some(d) = data.as_object() else {
        return skipped(CH, "data is not an object");
    };
    let Some(symbol) = symbol_of(obj, d) else {
        return skipped(CH, "no symbol");
    };
    let Some(rate) = d
        .get("rate")
        .and_then(num)
        .or_else(|| d.get("fundingRate").and_then(num))
    else {
        return skipped(CH, "no rate");
    };
    Inbound::Funding {
        symbol: symbol.to_string(),
        rate,
        next_settle_ms: d.get("nextSettleTime").and_then(num_i64),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_frame;
    use super::*;

    #[test]
    fn kline_push_with_seconds_and_undocumented_fields() {
        // Shape per the docs' example, plus the undocumented ro/rc/rh/rl of live frames.
        let r = parse_frame(
            r#"{"symbol":"BTC_USDT","data":{"a":2.3374E2,"c":6885,"h":6910.5,"interval":"Min60","l":6885,"o":6894.5,"q":1611754,"rc":6885,"rh":6910.5,"rl":6885,"ro":6894.5,"symbol":"BTC_USDT","t":1587448800},"channel":"push.kline","ts":1587442022003}"#,
        );
        assert_eq!(
            r.ok(),
            Some(Inbound::Kline {
                symbol: "BTC_USDT".into(),
                interval: Interval::Min60,
                candle: Candle {
                    t: 1_587_448_800,
                    open: 6894.5,
                    high: 6910.5,
                    low: 6885.0,
                    close: 6885.0,
                    volume: 1_611_754.0,
                    amount: 233.74,
                },
            })
        );
    }

    #[test]
    fn bad_klines_are_skipped_with_a_reason() {
        let cases = [
            (r#"{"channel":"push.kline","data":[]}"#, "not an object"),
            (
                r#"{"channel":"push.kline","data":{"interval":"Min1","t":1,"o":1,"c":1,"h":1,"l":1,"q":1,"a":1}}"#,
                "no symbol",
            ),
            (
                r#"{"channel":"push.kline","symbol":"X","data":{"interval":"Hour1","t":1,"o":1,"c":1,"h":1,"l":1,"q":1,"a":1}}"#,
                "unknown interval",
            ),
            (
                r#"{"channel":"push.kline","symbol":"X","data":{"interval":"Min1","o":1,"c":1,"h":1,"l":1,"q":1,"a":1}}"#,
                "no t",
            ),
            (
                r#"{"channel":"push.kline","symbol":"X","data":{"interval":"Min1","t":5,"o":1,"c":"x","h":1,"l":1,"q":1,"a":1}}"#,
                "no c",
            ),
            (
                r#"{"channel":"push.kline","symbol":"X","data":{"interval":"Min1","t":-5,"o":1,"c":1,"h":1,"l":1,"q":1,"a":1}}"#,
                "not a time",
            ),
        ];
        for (frame, why) in cases {
            match parse_frame(frame) {
                Ok(Inbound::Skipped { channel, reason }) => {
                    assert_eq!(channel, "push.kline");
                    assert!(reason.contains(why), "{frame}: {reason}");
                }
                other => panic!("{frame}: {other:?}"),
            }
        }
    }

    #[test]
    fn merged_depth_frame_with_exponent_numbers() {
        // The live 2025-05-19 frame shape: begin/end/version, `9.75E+4`.
        let r = parse_frame(
            r#"{"symbol":"BTC_USDT","data":{"asks":[[9.75E+4,1.066397E3,2],[97501,0,0]],"bids":[[97499.5,"12",1]],"end":25133684088,"begin":25133684085,"version":25133684088},"channel":"push.depth","ts":1747641600123}"#,
        );
        let Ok(Inbound::Depth {
            symbol,
            delta,
            ts_ms,
        }) = r
        else {
            panic!("{r:?}")
        };
        assert_eq!(symbol, "BTC_USDT");
        assert_eq!((delta.begin, delta.end), (25_133_684_085, 25_133_684_088));
        assert_eq!(
            delta.asks,
            vec![
                BookLevel {
                    price: 97500.0,
                    contracts: 1066.397,
                    orders: 2
                },
                BookLevel {
                    price: 97501.0,
                    contracts: 0.0,
                    orders: 0
                },
            ]
        );
        assert_eq!(delta.bids[0].contracts, 12.0);
        assert_eq!(ts_ms, Some(1_747_641_600_123));
    }

    #[test]
    fn unmerged_depth_frame_has_only_version() {
        let r = parse_frame(
            r#"{"channel":"push.depth","data":{"asks":[],"bids":[[6859.5,3251,1]],"version":96801927},"symbol":"BTC_USDT","ts":1587442022003}"#,
        );
        let Ok(Inbound::Depth { delta, .. }) = r else {
            panic!("{r:?}")
        };
        assert_eq!((delta.begin, delta.end), (96_801_927, 96_801_927));
        assert_eq!(delta.bids.len(), 1);
    }

    #[test]
    fn one_bad_level_skips_the_whole_depth_frame() {
        for data in [
            r#"{"asks":[[1,2,3],["x",1,1]],"bids":[],"version":5}"#,
            r#"{"asks":[[1,-2,3]],"bids":[],"version":5}"#,
            r#"{"asks":[[0,2,3]],"bids":[],"version":5}"#,
            r#"{"asks":[],"bids":{"1":2},"version":5}"#,
            r#"{"asks":[],"bids":[[1]],"version":5}"#,
            r#"{"asks":[],"bids":[],"begin":9,"end":5,"version":5}"#,
            r#"{"asks":[],"bids":[]}"#,
            r#"{"asks":[],"bids":[],"version":-1}"#,
        ] {
            let frame = format!(r#"{{"symbol":"X_USDT","channel":"push.depth","data":{data}}}"#);
            assert!(
                matches!(parse_frame(&frame), Ok(Inbound::Skipped { .. })),
                "{frame}"
            );
        }
    }

    #[test]
    fn depth_full_is_a_top_snapshot() {
        let r = parse_frame(
            r#"{"symbol":"ETH_USDT","data":{"asks":[[2500.1,10,1]],"bids":[[2500,4,2],[2499.9,1,1]],"version":77,"cts":1789897547100},"channel":"push.depth.full","ts":1789897547215}"#,
        );
        let Ok(Inbound::DepthFull {
            symbol,
            snapshot,
            ts_ms,
        }) = r
        else {
            panic!("{r:?}")
        };
        assert_eq!(symbol, "ETH_USDT");
        assert_eq!((snapshot.version, snapshot.bids.len()), (77, 2));
        assert_eq!(ts_ms, Some(1_789_897_547_100));
    }

    #[test]
    fn funding_push_accepts_rate_and_funding_rate() {
        let a = parse_frame(
            r#"{"channel":"push.funding.rate","data":{"rate":0.001,"symbol":"BTC_USDT","nextSettleTime":1587442022003},"symbol":"BTC_USDT","ts":1587442022003}"#,
        );
        assert_eq!(
            a.ok(),
            Some(Inbound::Funding {
                symbol: "BTC_USDT".into(),
                rate: 0.001,
                next_settle_ms: Some(1_587_442_022_003),
            })
        );
        let b = parse_frame(
            r#"{"channel":"push.funding.rate","data":{"fundingRate":"-1.5E-4","symbol":"ETH_USDT"}}"#,
        );
        assert_eq!(
            b.ok(),
            Some(Inbound::Funding {
                symbol: "ETH_USDT".into(),
                rate: -0.00015,
                next_settle_ms: None,
            })
        );
        assert!(matches!(
            parse_frame(r#"{"channel":"push.funding.rate","data":{"symbol":"X"}}"#),
            Ok(Inbound::Skipped { .. })
        ));
    }
}
