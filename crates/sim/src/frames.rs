//! Wire text for everything the simulator sends, shaped like live MEXC frames.
//!
//! Envelopes are derived structs so field order is fixed (`symbol,data,channel,ts` for pushes,
//! as live frames have it). Numbers are written as raw JSON text because live frames spell the
//! same kind of value several ways (`95012.3`, `9.50123E+4`, `95012.300000000`) and parsers must
//! cope; which spelling a number gets is drawn from a seeded generator, so it is reproducible.

use super::market::{Decimal, Ticker, Trade};
use fastrand::Rng;
use serde::Serialize;
use serde_json::value::RawValue;

/// A JSON number exactly as it goes on the wire.
pub type Num = Box<RawValue>;

/// How one number is spelled. Every style denotes exactly the same value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumStyle {
    /// `95012.3`
    Plain,
    /// `9.50123E+4`
    Exponent,
    /// `9.50123E4`
    ExponentNoSign,
    /// `95012.30000000000000000000` (seen live on some fields)
    ZeroTail,
}

/// Plain text of `d`, or one of the other spellings.
pub fn spell(d: Decimal, style: NumStyle) -> String {
    match style {
        NumStyle::Plain => d.to_string(),
        NumStyle::ZeroTail => {
            let plain = d.to_string();
            let dot = if plain.contains('.') { "" } else { "." };
            format!("{plain}{dot}00000000000000000000")
        }
        NumStyle::Exponent => exponent(d, true),
        NumStyle::ExponentNoSign => exponent(d, false),
    }
}

/// Scientific notation built from the digits, so no float rounding can creep in.
fn exponent(d: Decimal, plus_sign: bool) -> String {
    if d.mantissa == 0 {
        return "0E+0".to_string();
    }
    let sign = if d.mantissa < 0 { "-" } else { "" };
    let mut m = d.mantissa.unsigned_abs();
    let mut scale = i64::from(d.scale);
    while m.is_multiple_of(10) {
        m /= 10;
        scale -= 1;
    }
    let digits = m.to_string();
    let exp = digits.len() as i64 - 1 - scale;
    let mantissa = match digits.split_at(1) {
        (first, "") => first.to_string(),
        (first, rest) => format!("{first}.{rest}"),
    };
    let exp_sign = if exp < 0 {
        "-"
    } else if plus_sign {
        "+"
    } else {
        ""
    };
    format!("{sign}{mantissa}E{exp_sign}{}", exp.unsigned_abs())
}

pub(crate) fn raw(text: String) -> Num {
    // Our own text is always a valid number; `null` is a safe fallback should that ever break.
    RawValue::from_string(text).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// Chooses spellings and occasional omissions. `plain()` never varies anything (used by REST,
/// where callers compare snapshots); `seeded()` imitates live frames.
pub struct Spelling {
    rng: Option<Rng>,
    /// The `exponent_numbers` fault: every price in exponent form.
    force_exponent: bool,
}

/// Chance that a price field in a ticker is spelled in exponent form.
const TICKER_EXPONENT_CHANCE: f64 = 0.04;
/// Chance that a ticker number gets a long zero tail.
const ZERO_TAIL_CHANCE: f64 = 0.01;
/// Chance that a ticker push lacks one optional field.
const OMIT_CHANCE: f64 = 0.08;
/// Chance that a trade price is spelled in exponent form.
pub(crate) const DEAL_EXPONENT_CHANCE: f64 = 0.03;
/// Share of trades that carry `cts`.
const CTS_CHANCE: f64 = 0.7;

/// Ticker fields that live frames have been seen without (never `lastPrice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Optional {
    Volume24,
    Amount24,
    HoldVol,
    RiseFallValue,
    MaxBidPrice,
    MinAskPrice,
}

const OPTIONALS: [Optional; 6] = [
    Optional::Volume24,
    Optional::Amount24,
    Optional::HoldVol,
    Optional::RiseFallValue,
    Optional::MaxBidPrice,
    Optional::MinAskPrice,
];

impl Spelling {
    pub fn plain() -> Spelling {
        Spelling {
            rng: None,
            force_exponent: false,
        }
    }

    pub fn seeded(seed: u64) -> Spelling {
        Spelling {
            rng: Some(Rng::with_seed(seed)),
            force_exponent: false,
        }
    }

    pub fn set_force_exponent(&mut self, on: bool) {
        self.force_exponent = on;
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.as_mut().is_some_and(|r| r.f64() < p)
    }

    pub(crate) fn style(&mut self, exponent_chance: f64) -> NumStyle {
        if self.force_exponent {
            return NumStyle::Exponent;
        }
        let Some(rng) = self.rng.as_mut() else {
            return NumStyle::Plain;
        };
        let x = rng.f64();
        if x < exponent_chance / 2.0 {
            NumStyle::Exponent
        } else if x < exponent_chance {
            NumStyle::ExponentNoSign
        } else if x < exponent_chance + ZERO_TAIL_CHANCE {
            NumStyle::ZeroTail
        } else {
            NumStyle::Plain
        }
    }

    pub(crate) fn price(&mut self, d: Decimal) -> Num {
        let style = self.style(TICKER_EXPONENT_CHANCE);
        raw(spell(d, style))
    }

    fn omitted(&mut self) -> Option<Optional> {
        if !self.chance(OMIT_CHANCE) {
            return None;
        }
        let rng = self.rng.as_mut()?;
        OPTIONALS.get(rng.usize(0..OPTIONALS.len())).copied()
    }
}

/// `push.ticker` data and one row of the REST ticker.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TickerData {
    symbol: &'static str,
    last_price: Num,
    bid1: Num,
    ask1: Num,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume24: Option<Num>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amount24: Option<Num>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hold_vol: Option<Num>,
    lower24_price: Num,
    high24_price: Num,
    rise_fall_rate: Num,
    #[serde(skip_serializing_if = "Option::is_none")]
    rise_fall_value: Option<Num>,
    index_price: Num,
    fair_price: Num,
    funding_rate: Num,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_bid_price: Option<Num>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_ask_price: Option<Num>,
    timestamp: i64,
    contract_id: u32,
}

pub fn ticker_data(t: &Ticker, sp: &mut Spelling) -> TickerData {
    let omit = sp.omitted();
    let keep = |o: Optional, n: Num| (omit != Some(o)).then_some(n);
    TickerData {
        symbol: t.symbol,
        last_price: sp.price(t.last),
        bid1: sp.price(t.bid1),
        ask1: sp.price(t.ask1),
        volume24: keep(Optional::Volume24, raw(t.volume24.to_string())),
        amount24: keep(Optional::Amount24, sp.price(t.amount24)),
        hold_vol: keep(Optional::HoldVol, raw(t.hold_vol.to_string())),
        lower24_price: sp.price(t.lower24),
        high24_price: sp.price(t.high24),
        rise_fall_rate: raw(t.rise_fall_rate.to_string()),
        rise_fall_value: keep(Optional::RiseFallValue, sp.price(t.rise_fall_value)),
        index_price: sp.price(t.index_price),
        fair_price: sp.price(t.fair_price),
        funding_rate: raw(t.funding_rate.to_string()),
        max_bid_price: keep(Optional::MaxBidPrice, sp.price(t.max_bid)),
        min_ask_price: keep(Optional::MinAskPrice, sp.price(t.min_ask)),
        timestamp: t.timestamp,
        contract_id: t.contract_id,
    }
}

/// One row of `push.tickers` (the all-contracts summary).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TickersRow {
    symbol: &'static str,
    last_price: Num,
    rise_fall_rate: Num,
    fair_price: Num,
    index_price: Num,
    volume24: Num,
    amount24: Num,
    max_bid_price: Num,
    min_ask_price: Num,
    lower24_price: Num,
    high24_price: Num,
    timestamp: i64,
}

/// One trade of `push.deal`.
#[derive(Serialize)]
pub(crate) struct DealRow {
    p: Num,
    v: u64,
    /// Taker side: 1 buy, 2 sell.
    #[serde(rename = "T")]
    taker: u8,
    #[serde(rename = "O")]
    open_flag: u8,
    /// Self-trade flag: 2 = no.
    #[serde(rename = "M")]
    self_trade: u8,
    t: i64,
    /// Trade id as a string, as live frames send it.
    i: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cts: Option<String>,
}

/// An envelope `ts`: a JSON number as live frames have it, or a string as the docs show it
/// (the `ts_string` fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ts {
    pub ms: i64,
    pub as_string: bool,
}

impl Ts {
    pub fn new(ms: i64, as_string: bool) -> Ts {
        Ts { ms, as_string }
    }
}

impl From<i64> for Ts {
    fn from(ms: i64) -> Ts {
        Ts::new(ms, false)
    }
}

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.as_string {
            s.serialize_str(&self.ms.to_string())
        } else {
            s.serialize_i64(self.ms)
        }
    }
}

/// Server push; field order matches live frames.
#[derive(Serialize)]
pub(crate) struct Push<'a, T> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<&'a str>,
    pub data: T,
    pub channel: &'a str,
    pub ts: Ts,
}

/// Ack, pong or error.
#[derive(Serialize)]
struct Reply<'a, T> {
    channel: &'a str,
    data: T,
    ts: Ts,
}

pub fn ticker_push(t: &Ticker, sp: &mut Spelling, ts: impl Into<Ts>) -> serde_json::Result<String> {
    serde_json::to_string(&Push {
        symbol: Some(t.symbol),
        data: ticker_data(t, sp),
        channel: "push.ticker",
        ts: ts.into(),
    })
}

pub fn tickers_push(
    all: &[Ticker],
    sp: &mut Spelling,
    ts: impl Into<Ts>,
) -> serde_json::Result<String> {
    let rows: Vec<TickersRow> = all
        .iter()
        .map(|t| TickersRow {
            symbol: t.symbol,
            last_price: sp.price(t.last),
            rise_fall_rate: raw(t.rise_fall_rate.to_string()),
            fair_price: sp.price(t.fair_price),
            index_price: sp.price(t.index_price),
            volume24: raw(t.volume24.to_string()),
            amount24: sp.price(t.amount24),
            max_bid_price: sp.price(t.max_bid),
            min_ask_price: sp.price(t.min_ask),
            lower24_price: sp.price(t.lower24),
            high24_price: sp.price(t.high24),
            timestamp: t.timestamp,
        })
        .collect();
    serde_json::to_string(&Push {
        symbol: None,
        data: rows,
        channel: "push.tickers",
        ts: ts.into(),
    })
}

pub(crate) fn deal_row(t: &Trade, sp: &mut Spelling) -> DealRow {
    DealRow {
        p: raw(spell(t.price, sp.style(DEAL_EXPONENT_CHANCE))),
        v: t.contracts,
        taker: if t.taker_buy { 1 } else { 2 },
        open_flag: t.open_flag,
        self_trade: 2,
        t: t.ts_ms,
        i: t.id.to_string(),
        cts: sp.chance(CTS_CHANCE).then(|| t.ts_ms.to_string()),
    }
}

/// `push.deal` with `data` as an array of trades, as live frames have it.
pub fn deal_push(
    symbol: &str,
    trades: &[Trade],
    sp: &mut Spelling,
    ts: impl Into<Ts>,
) -> serde_json::Result<String> {
    let rows: Vec<DealRow> = trades.iter().map(|t| deal_row(t, sp)).collect();
    serde_json::to_string(&Push {
        symbol: Some(symbol),
        data: rows,
        channel: "push.deal",
        ts: ts.into(),
    })
}

/// `push.deal` with `data` as one object, as the docs still show it (the `deal_object` fault):
/// one frame per trade.
pub fn deal_push_objects(
    symbol: &str,
    trades: &[Trade],
    sp: &mut Spelling,
    ts: Ts,
) -> Vec<serde_json::Result<String>> {
    trades
        .iter()
        .map(|t| {
            serde_json::to_string(&Push {
                symbol: Some(symbol),
                data: deal_row(t, sp),
                channel: "push.deal",
                ts,
            })
        })
        .collect()
}

/// Gzip `bytes` the way a `gzip:true` MEXC stream would (magic `1f 8b`).
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes)?;
    enc.finish()
}

/// `{"channel":"rs.sub.<ch>","data":"success","ts":..}`: no symbol, no id, like MEXC.
pub fn sub_ack(channel: &str, ts: impl Into<Ts>) -> serde_json::Result<String> {
    serde_json::to_string(&Reply {
        channel: &format!("rs.sub.{channel}"),
        data: "success",
        ts: ts.into(),
    })
}

pub fn rs_error(text: &str, ts: impl Into<Ts>) -> serde_json::Result<String> {
    serde_json::to_string(&Reply {
        channel: "rs.error",
        data: text,
        ts: ts.into(),
    })
}

/// `{"channel":"pong","data":<ms>,"ts":<ms>}`; `data` stays a number even when `ts` is a string.
pub fn pong(now: impl Into<Ts>) -> serde_json::Result<String> {
    let ts = now.into();
    serde_json::to_string(&Reply {
        channel: "pong",
        data: ts.ms,
        ts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of(text: &str) -> f64 {
        text.parse().unwrap()
    }

    #[test]
    fn every_spelling_is_the_same_value() {
        for d in [
            Decimal::new(950_123, 1),
            Decimal::new(975_000, 1),
            Decimal::new(120_000, 10),
            Decimal::new(-5, 2),
            Decimal::new(7, 0),
        ] {
            let plain = value_of(&spell(d, NumStyle::Plain));
            for style in [
                NumStyle::Exponent,
                NumStyle::ExponentNoSign,
                NumStyle::ZeroTail,
            ] {
                let text = spell(d, style);
                assert_eq!(value_of(&text), plain, "{text}");
                serde_json::from_str::<serde_json::Value>(&text).unwrap();
            }
        }
        assert_eq!(
            spell(Decimal::new(975_000, 1), NumStyle::Exponent),
            "9.75E+4"
        );
        assert_eq!(
            spell(Decimal::new(120_000, 10), NumStyle::Exponent),
            "1.2E-5"
        );
        assert_eq!(
            spell(Decimal::new(10_663_970, 4), NumStyle::ExponentNoSign),
            "1.066397E3"
        );
    }

    #[test]
    fn seeded_quirks_are_reproducible_and_do_happen() {
        use crate::market::{Market, MarketParams};
        let params = MarketParams {
            seed: 1,
            trades_per_s: 4.0,
            pump_chance_per_s: 0.0,
            symbols: 12,
        };
        let tickers = Market::new(params, 1_790_000_000_000).tickers();
        let render = |seed| {
            let mut sp = Spelling::seeded(seed);
            (0..50)
                .flat_map(|_| tickers.iter())
                .map(|t| ticker_push(t, &mut sp, 1).unwrap())
                .collect::<Vec<_>>()
        };
        let a = render(9);
        assert_eq!(a, render(9));
        assert_ne!(a, render(10));
        assert!(a.iter().any(|f| f.contains("E+") || f.contains("E-")));
        assert!(a.iter().any(|f| !f.contains("\"volume24\"")));
        assert!(a.iter().all(|f| f.contains("\"lastPrice\"")));
        for f in &a {
            serde_json::from_str::<serde_json::Value>(f).unwrap();
        }
        let plain = ticker_push(&tickers[0], &mut Spelling::plain(), 1).unwrap();
        assert!(!plain.contains('E'), "{plain}");
    }

    #[test]
    fn replies_have_the_live_shape() {
        assert_eq!(
            sub_ack("deal", 5).unwrap(),
            r#"{"channel":"rs.sub.deal","data":"success","ts":5}"#
        );
        assert_eq!(
            rs_error("Contract [X] not exists", 5).unwrap(),
            r#"{"channel":"rs.error","data":"Contract [X] not exists","ts":5}"#
        );
        assert_eq!(pong(7).unwrap(), r#"{"channel":"pong","data":7,"ts":7}"#);
        assert_eq!(
            pong(Ts::new(7, true)).unwrap(),
            r#"{"channel":"pong","data":7,"ts":"7"}"#
        );
    }

    #[test]
    fn fault_shapes_deal_object_exponent_and_gzip() {
        let trade = Trade {
            id: 16_270_106_116,
            price: Decimal::new(804_890, 1),
            contracts: 11,
            taker_buy: false,
            open_flag: 1,
            ts_ms: 1_789_897_547_210,
        };
        let mut sp = Spelling::plain();
        sp.set_force_exponent(true);
        let frames = deal_push_objects(
            "BTC_USDT",
            &[trade.clone(), trade],
            &mut sp,
            Ts::new(9, true),
        );
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[0].as_ref().unwrap(),
            r#"{"symbol":"BTC_USDT","data":{"p":8.0489E+4,"v":11,"T":2,"O":1,"M":2,"t":1789897547210,"i":"16270106116"},"channel":"push.deal","ts":"9"}"#
        );
        let packed = gzip(b"hello").unwrap();
        assert_eq!(&packed[..2], &[0x1f, 0x8b]);
    }

    #[test]
    fn deal_push_has_envelope_in_live_order() {
        let trade = Trade {
            id: 16_270_106_116,
            price: Decimal::new(804_890, 1),
            contracts: 11,
            taker_buy: true,
            open_flag: 3,
            ts_ms: 1_789_897_547_210,
        };
        let text = deal_push("BTC_USDT", &[trade], &mut Spelling::plain(), 9).unwrap();
        assert_eq!(
            text,
            r#"{"symbol":"BTC_USDT","data":[{"p":80489.0,"v":11,"T":1,"O":3,"M":2,"t":1789897547210,"i":"16270106116"}],"channel":"push.deal","ts":9}"#
        );
    }
}
