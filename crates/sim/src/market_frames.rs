//! Wire shapes of the depth, kline, funding and index/fair data, pushed and over REST, with
//! MEXC's field names. Depth rows are `[price, contracts, orders]`; kline times are seconds and
//! REST klines are columnar (`time`, `open`, `close`, `high`, `low`, `vol`, `amount` and the
//! `real*` columns live answers carry); everything else is milliseconds.

use crate::book::{Change, Commit, Level, merge};
use crate::candles::Candle;
use crate::frames::{DEAL_EXPONENT_CHANCE, DealRow, Num, Push, Spelling, Ts, deal_row, raw, spell};
use crate::interval::KlineInterval;
use crate::market::{Decimal, Ticker, Trade};
use serde::Serialize;

/// Funding bounds the simulator reports (BTC's on MEXC).
const MAX_FUNDING_RATE: Decimal = Decimal {
    mantissa: 3,
    scale: 3,
};
const MIN_FUNDING_RATE: Decimal = Decimal {
    mantissa: -3,
    scale: 3,
};
/// Hours between settlements (`collectCycle`).
const COLLECT_CYCLE_H: u32 = 8;

/// `[price, contracts, orders]`.
#[derive(Serialize)]
pub struct Row(Num, u64, u32);

fn price(ticks: i64, decimals: u32, sp: &mut Spelling) -> Num {
    raw(spell(
        Decimal::new(ticks, decimals),
        sp.style(DEAL_EXPONENT_CHANCE),
    ))
}

fn level_rows(levels: &[Level], decimals: u32, sp: &mut Spelling) -> Vec<Row> {
    levels
        .iter()
        .map(|l| Row(price(l.price, decimals, sp), l.contracts, l.orders))
        .collect()
}

fn change_rows(changes: &[Change], decimals: u32, sp: &mut Spelling) -> Vec<Row> {
    changes
        .iter()
        .map(|c| Row(price(c.price, decimals, sp), c.contracts, c.orders))
        .collect()
}

/// `push.depth` data of a merged frame.
#[derive(Serialize)]
struct MergedDepth {
    asks: Vec<Row>,
    bids: Vec<Row>,
    begin: u64,
    end: u64,
    version: u64,
}

/// `push.depth` data of an unmerged frame and one entry of `depth_commits`.
#[derive(Serialize)]
pub struct CommitData {
    asks: Vec<Row>,
    bids: Vec<Row>,
    version: u64,
}

/// `push.depth.full` data.
#[derive(Serialize)]
struct FullDepth {
    asks: Vec<Row>,
    bids: Vec<Row>,
    version: u64,
    cts: i64,
}

/// `GET depth/{symbol}` data.
#[derive(Serialize)]
pub struct DepthData {
    asks: Vec<Row>,
    bids: Vec<Row>,
    version: u64,
    timestamp: i64,
}

fn push<T: Serialize>(symbol: &str, channel: &str, data: T, ts: Ts) -> serde_json::Result<String> {
    serde_json::to_string(&Push {
        symbol: Some(symbol),
        data,
        channel,
        ts,
    })
}

/// One merged `push.depth` frame for consecutive commits (`begin` = first version, `end` =
/// `version` = last). `None` when there are none.
pub fn depth_merged(
    symbol: &str,
    decimals: u32,
    commits: &[&Commit],
    sp: &mut Spelling,
    ts: Ts,
) -> Option<serde_json::Result<String>> {
    let (first, last) = (commits.first()?, commits.last()?);
    let (bids, asks) = merge(commits.iter().copied());
    let data = MergedDepth {
        asks: change_rows(&asks, decimals, sp),
        bids: change_rows(&bids, decimals, sp),
        begin: first.version,
        end: last.version,
        version: last.version,
    };
    Some(push(symbol, "push.depth", data, ts))
}

fn commit_data(c: &Commit, decimals: u32, sp: &mut Spelling) -> CommitData {
    let (bids, asks) = merge([c]);
    CommitData {
        asks: change_rows(&asks, decimals, sp),
        bids: change_rows(&bids, decimals, sp),
        version: c.version,
    }
}

/// The unmerged `push.depth` frame of one commit (`compress:false`): only `version`.
pub fn depth_commit(
    symbol: &str,
    decimals: u32,
    commit: &Commit,
    sp: &mut Spelling,
    ts: Ts,
) -> serde_json::Result<String> {
    push(symbol, "push.depth", commit_data(commit, decimals, sp), ts)
}

/// `push.depth.full`: the best `bids`/`asks`, the book version and the matching time.
pub fn depth_full(
    symbol: &str,
    decimals: u32,
    (bids, asks): (&[Level], &[Level]),
    version: u64,
    sp: &mut Spelling,
    ts: Ts,
) -> serde_json::Result<String> {
    let data = FullDepth {
        asks: level_rows(asks, decimals, sp),
        bids: level_rows(bids, decimals, sp),
        version,
        cts: ts.ms,
    };
    push(symbol, "push.depth.full", data, ts)
}

pub fn depth_data(
    decimals: u32,
    (bids, asks): (&[Level], &[Level]),
    version: u64,
    timestamp: i64,
) -> DepthData {
    let sp = &mut Spelling::plain();
    DepthData {
        asks: level_rows(asks, decimals, sp),
        bids: level_rows(bids, decimals, sp),
        version,
        timestamp,
    }
}

/// `GET depth_commits` data, in the order given (newest first).
pub fn commits_data<'a>(
    decimals: u32,
    commits: impl IntoIterator<Item = &'a Commit>,
) -> Vec<CommitData> {
    let sp = &mut Spelling::plain();
    commits
        .into_iter()
        .map(|c| commit_data(c, decimals, sp))
        .collect()
}

/// `GET deals` rows: the push rows without `cts`.
pub fn deals_data<'a>(trades: impl IntoIterator<Item = &'a Trade>) -> Vec<DealRow> {
    let sp = &mut Spelling::plain();
    trades.into_iter().map(|t| deal_row(t, sp)).collect()
}

fn amount(a: f64) -> Num {
    raw(Decimal::from_f64(a, 4).to_string())
}

/// `push.kline` data.
#[derive(Serialize)]
struct KlineData<'a> {
    symbol: &'a str,
    interval: &'static str,
    t: i64,
    o: Num,
    c: Num,
    h: Num,
    l: Num,
    q: u64,
    a: Num,
    ro: Num,
    rc: Num,
    rh: Num,
    rl: Num,
}

pub fn kline_push(
    symbol: &str,
    decimals: u32,
    interval: KlineInterval,
    c: &Candle,
    sp: &mut Spelling,
    ts: Ts,
) -> serde_json::Result<String> {
    let mut p = |ticks| price(ticks, decimals, sp);
    let data = KlineData {
        symbol,
        interval: interval.name(),
        t: c.t,
        o: p(c.open),
        c: p(c.close),
        h: p(c.high),
        l: p(c.low),
        q: c.vol,
        a: amount(c.amount),
        ro: p(c.open),
        rc: p(c.close),
        rh: p(c.high),
        rl: p(c.low),
    };
    push(symbol, "push.kline", data, ts)
}

/// `GET kline` data: one array per field, oldest first.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct KlineColumns {
    time: Vec<i64>,
    open: Vec<Num>,
    close: Vec<Num>,
    high: Vec<Num>,
    low: Vec<Num>,
    vol: Vec<u64>,
    amount: Vec<Num>,
    real_open: Vec<Num>,
    real_close: Vec<Num>,
    real_high: Vec<Num>,
    real_low: Vec<Num>,
}

pub fn kline_columns(decimals: u32, candles: &[Candle]) -> KlineColumns {
    let p = |ticks| raw(Decimal::new(ticks, decimals).to_string());
    let mut k = KlineColumns::default();
    for c in candles {
        k.time.push(c.t);
        k.open.push(p(c.open));
        k.close.push(p(c.close));
        k.high.push(p(c.high));
        k.low.push(p(c.low));
        k.vol.push(c.vol);
        k.amount.push(amount(c.amount));
        k.real_open.push(p(c.open));
        k.real_close.push(p(c.close));
        k.real_high.push(p(c.high));
        k.real_low.push(p(c.low));
    }
    k
}

/// `push.funding.rate` data (`rate`, as live frames and the docs' example spell it).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FundingPush<'a> {
    symbol: &'a str,
    rate: Num,
    next_settle_time: i64,
}

pub fn funding_push(t: &Ticker, next_settle_ms: i64, ts: Ts) -> serde_json::Result<String> {
    let data = FundingPush {
        symbol: t.symbol,
        rate: raw(t.funding_rate.to_string()),
        next_settle_time: next_settle_ms,
    };
    push(t.symbol, "push.funding.rate", data, ts)
}

/// `push.index.price` / `push.fair.price` data.
#[derive(Serialize)]
struct PricePush<'a> {
    symbol: &'a str,
    price: Num,
}

/// `channel` is `push.index.price` or `push.fair.price`.
pub fn price_push(
    channel: &str,
    symbol: &str,
    value: Decimal,
    sp: &mut Spelling,
    ts: Ts,
) -> serde_json::Result<String> {
    let data = PricePush {
        symbol,
        price: sp.price(value),
    };
    push(symbol, channel, data, ts)
}

/// `GET funding_rate/{symbol}` data.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FundingData {
    symbol: &'static str,
    funding_rate: Num,
    max_funding_rate: Num,
    min_funding_rate: Num,
    collect_cycle: u32,
    next_settle_time: i64,
    timestamp: i64,
}

pub fn funding_data(t: &Ticker, next_settle_ms: i64, now_ms: i64) -> FundingData {
    FundingData {
        symbol: t.symbol,
        funding_rate: raw(t.funding_rate.to_string()),
        max_funding_rate: raw(MAX_FUNDING_RATE.to_string()),
        min_funding_rate: raw(MIN_FUNDING_RATE.to_string()),
        collect_cycle: COLLECT_CYCLE_H,
        next_settle_time: next_settle_ms,
        timestamp: now_ms,
    }
}

/// `GET index_price/{symbol}` data.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexPriceData {
    symbol: &'static str,
    index_price: Num,
    timestamp: i64,
}

/// `GET fair_price/{symbol}` data.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FairPriceData {
    symbol: &'static str,
    fair_price: Num,
    timestamp: i64,
}

pub fn index_price_data(t: &Ticker, now_ms: i64) -> IndexPriceData {
    IndexPriceData {
        symbol: t.symbol,
        index_price: raw(t.index_price.to_string()),
        timestamp: now_ms,
    }
}

pub fn fair_price_data(t: &Ticker, now_ms: i64) -> FairPriceData {
    FairPriceData {
        symbol: t.symbol,
        fair_price: raw(t.fair_price.to_string()),
        timestamp: now_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::Side;
    use serde_json::{Value, json};

    fn v(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn depth_frames_have_the_live_shape() {
        let c1 = Commit {
            version: 11,
            changes: vec![
                Change {
                    side: Side::Ask,
                    price: 975_000,
                    contracts: 20,
                    orders: 2,
                },
                Change {
                    side: Side::Bid,
                    price: 974_990,
                    contracts: 0,
                    orders: 0,
                },
            ],
        };
        let c2 = Commit {
            version: 12,
            changes: vec![Change {
                side: Side::Ask,
                price: 975_000,
                contracts: 7,
                orders: 1,
            }],
        };
        let sp = &mut Spelling::plain();
        let merged = depth_merged("BTC_USDT", 1, &[&c1, &c2], sp, Ts::from(9))
            .unwrap()
            .unwrap();
        assert_eq!(
            v(&merged),
            json!({"symbol":"BTC_USDT","channel":"push.depth","ts":9,
                   "data":{"asks":[[97500.0,7,1]],"bids":[[97499.0,0,0]],"begin":11,"end":12,"version":12}})
        );
        assert!(depth_merged("BTC_USDT", 1, &[], sp, Ts::from(9)).is_none());
        let one = depth_commit("BTC_USDT", 1, &c1, sp, Ts::from(9)).unwrap();
        let d = &v(&one)["data"];
        assert_eq!(d["version"], 11);
        assert!(d.get("begin").is_none() && d.get("end").is_none());
        let levels = [Level {
            price: 975_000,
            contracts: 3,
            orders: 1,
        }];
        let full = depth_full("BTC_USDT", 1, (&levels, &levels), 12, sp, Ts::from(9)).unwrap();
        assert_eq!(
            v(&full)["data"],
            json!({"asks":[[97500.0,3,1]],"bids":[[97500.0,3,1]],"version":12,"cts":9})
        );
    }

    #[test]
    fn kline_push_and_columns_agree() {
        let c = Candle {
            t: 1_790_171_220,
            open: 950_000,
            close: 950_500,
            high: 951_000,
            low: 949_000,
            vol: 12,
            amount: 114.06,
        };
        let push = kline_push(
            "BTC_USDT",
            1,
            KlineInterval::Min1,
            &c,
            &mut Spelling::plain(),
            Ts::from(5),
        )
        .unwrap();
        let p = v(&push);
        assert_eq!(p["channel"], "push.kline");
        assert_eq!(p["symbol"], "BTC_USDT");
        assert_eq!(
            p["data"],
            json!({"symbol":"BTC_USDT","interval":"Min1","t":1_790_171_220i64,"o":95000.0,"c":95050.0,
                   "h":95100.0,"l":94900.0,"q":12,"a":114.06,"ro":95000.0,"rc":95050.0,"rh":95100.0,"rl":94900.0})
        );
        let cols = serde_json::to_value(kline_columns(1, &[c, c])).unwrap();
        for (col, want) in [
            ("time", json!(1_790_171_220i64)),
            ("open", json!(95000.0)),
            ("close", json!(95050.0)),
            ("high", json!(95100.0)),
            ("low", json!(94900.0)),
            ("vol", json!(12)),
            ("amount", json!(114.06)),
            ("realOpen", json!(95000.0)),
            ("realClose", json!(95050.0)),
            ("realHigh", json!(95100.0)),
            ("realLow", json!(94900.0)),
        ] {
            assert_eq!(cols[col], json!([want, want]), "{col}");
        }
    }
}
