//! Streaming indicators per symbol.
//!
//! Every value carries `updated_at`: the engine time (ms) of the input that last refreshed it.
//! A value is STALE when `now - updated_at >= stale_after_s * 1000`; stale values are reported
//! and can never satisfy an entry condition. Windowed values keep moving as time passes (volume
//! rolls off on `Tick`) but their `updated_at` stays at the last trade, so a quiet market goes
//! stale instead of looking fresh.
//!
//! Formulas (windows are per-second buckets, see `windows`; "now" = the ring's current second):
//! - `last`: price of the newest trade or ticker `last`, whichever came later.
//! - `mid` = (bid + ask) / 2; `spread_bps` = (ask - bid) / mid x 10 000 (ticker bid/ask).
//! - `change_pct_Nm` = (p - p_ago) / p_ago x 100, p = last trade price, p_ago = last trade price
//!   at or before the end of the second N x 60 s ago (no value before that much history).
//! - `vwap_5m` = sum(quote volume) / sum(base volume) over 5 m;
//!   `vwap_dev_pct_5m` = (p - vwap_5m) / vwap_5m x 100.
//! - `volume_1m`, `volume_5m`: quote volume, sum(price x contracts x contract_size).
//! - `volume_surge_5m` = volume_1m / mean 1 m volume of the trailing 30 m, the mean being
//!   volume_30m x 60 / covered_s with covered_s = seconds of trade history in that window
//!   (capped at 1800); no value before 60 s of history. During warm-up (covered_s < 1800) the
//!   ratio is at most covered_s / 60.
//! - `trades_per_s_1m` = trades in the 1 m window / 60.
//! - `buy_ratio_1m` = taker-buy quote volume / quote volume over 1 m (no value without volume).
//! - `rsi_14_1m`: Wilder RSI(14) on 1-minute closes; `ema_9_1m`, `ema_21_1m`: EMA seeded with the
//!   SMA of the first N closes, alpha = 2 / (N + 1). Closed minutes are committed; the current
//!   minute's last price is applied provisionally, so values move with every trade. Minutes
//!   without trades repeat the previous close (up to 60; after a longer gap they restart).
//! - `funding_rate`, `fair_price`, `index_price`: as last received in a ticker.
//! - `open_interest_change_pct_5m` = (oi - oi_5m_ago) / oi_5m_ago x 100 from
//!   `EngineInput::OpenInterest` readings; no value until such readings span 5 minutes.

use serde::{Serialize, Serializer};

use super::windows::{RING_SECS, SecondRing, W1};

/// Indicator names, exactly as condition expressions use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndicatorId {
    Last,
    Mid,
    SpreadBps,
    ChangePct1m,
    ChangePct5m,
    ChangePct15m,
    Vwap5m,
    VwapDevPct5m,
    Volume1m,
    Volume5m,
    VolumeSurge5m,
    TradesPerS1m,
    BuyRatio1m,
    Rsi14_1m,
    Ema9_1m,
    Ema21_1m,
    FundingRate,
    FairPrice,
    IndexPrice,
    OpenInterestChangePct5m,
}

pub const INDICATOR_COUNT: usize = 20;

impl IndicatorId {
    /// Every indicator, in display order.
    pub const ALL: [IndicatorId; INDICATOR_COUNT] = [
        IndicatorId::Last,
        IndicatorId::Mid,
        IndicatorId::SpreadBps,
        IndicatorId::ChangePct1m,
        IndicatorId::ChangePct5m,
        IndicatorId::ChangePct15m,
        IndicatorId::Vwap5m,
        IndicatorId::VwapDevPct5m,
        IndicatorId::Volume1m,
        IndicatorId::Volume5m,
        IndicatorId::VolumeSurge5m,
        IndicatorId::TradesPerS1m,
        IndicatorId::BuyRatio1m,
        IndicatorId::Rsi14_1m,
        IndicatorId::Ema9_1m,
        IndicatorId::Ema21_1m,
        IndicatorId::FundingRate,
        IndicatorId::FairPrice,
        IndicatorId::IndexPrice,
        IndicatorId::OpenInterestChangePct5m,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorId::Last => "last",
            IndicatorId::Mid => "mid",
            IndicatorId::SpreadBps => "spread_bps",
            IndicatorId::ChangePct1m => "change_pct_1m",
            IndicatorId::ChangePct5m => "change_pct_5m",
            IndicatorId::ChangePct15m => "change_pct_15m",
            IndicatorId::Vwap5m => "vwap_5m",
            IndicatorId::VwapDevPct5m => "vwap_dev_pct_5m",
            IndicatorId::Volume1m => "volume_1m",
            IndicatorId::Volume5m => "volume_5m",
            IndicatorId::VolumeSurge5m => "volume_surge_5m",
            IndicatorId::TradesPerS1m => "trades_per_s_1m",
            IndicatorId::BuyRatio1m => "buy_ratio_1m",
            IndicatorId::Rsi14_1m => "rsi_14_1m",
            IndicatorId::Ema9_1m => "ema_9_1m",
            IndicatorId::Ema21_1m => "ema_21_1m",
            IndicatorId::FundingRate => "funding_rate",
            IndicatorId::FairPrice => "fair_price",
            IndicatorId::IndexPrice => "index_price",
            IndicatorId::OpenInterestChangePct5m => "open_interest_change_pct_5m",
        }
    }

    pub fn parse(name: &str) -> Option<IndicatorId> {
        IndicatorId::ALL.into_iter().find(|id| id.as_str() == name)
    }

    /// What the value measures, for formatting it in reasons and on screen.
    pub fn unit(self) -> trademon_core::numfmt::Unit {
        use trademon_core::numfmt::Unit;
        match self {
            IndicatorId::Last
            | IndicatorId::Mid
            | IndicatorId::Vwap5m
            | IndicatorId::Ema9_1m
            | IndicatorId::Ema21_1m
            | IndicatorId::FairPrice
            | IndicatorId::IndexPrice => Unit::Price,
            IndicatorId::SpreadBps => Unit::Bps,
            IndicatorId::ChangePct1m
            | IndicatorId::ChangePct5m
            | IndicatorId::ChangePct15m
            | IndicatorId::VwapDevPct5m
            | IndicatorId::OpenInterestChangePct5m => Unit::Percent,
            IndicatorId::Volume1m | IndicatorId::Volume5m => Unit::Quote,
            IndicatorId::VolumeSurge5m | IndicatorId::TradesPerS1m | IndicatorId::Rsi14_1m => {
                Unit::Plain
            }
            IndicatorId::BuyRatio1m => Unit::Ratio,
            IndicatorId::FundingRate => Unit::Rate,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl Serialize for IndicatorId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One value with the engine time of the input that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Val {
    pub value: f64,
    pub updated_at: i64,
}

impl Val {
    pub fn is_stale(&self, now_ms: i64, stale_ms: i64) -> bool {
        now_ms.saturating_sub(self.updated_at) >= stale_ms
    }
}

/// All indicator values of one symbol at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IndicatorSet {
    vals: [Option<Val>; INDICATOR_COUNT],
}

impl IndicatorSet {
    pub fn get(&self, id: IndicatorId) -> Option<Val> {
        self.vals[id.index()]
    }

    fn set(&mut self, id: IndicatorId, value: Option<f64>, updated_at: Option<i64>) {
        self.vals[id.index()] = match (value, updated_at) {
            (Some(v), Some(t)) if v.is_finite() => Some(Val {
                value: v,
                updated_at: t,
            }),
            _ => None,
        };
    }
}

/// One row of an indicator snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorEntry {
    pub name: IndicatorId,
    pub value: Option<f64>,
    pub updated_at: Option<i64>,
    pub stale: bool,
}

/// Every indicator of a symbol, in `IndicatorId::ALL` order, for `full_update` snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorSnapshot {
    pub symbol: String,
    /// Engine time the staleness flags refer to.
    pub at_ms: i64,
    pub values: Vec<IndicatorEntry>,
}

/// Wilder's RSI: the first average is the mean of the first `period` gains/losses, then
/// avg = (avg x (period - 1) + x) / period; RSI = 100 - 100 / (1 + avg_gain / avg_loss)
/// (100 when there are no losses, 50 when the series is flat).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rsi {
    period: u32,
    prev: Option<f64>,
    changes: u32,
    avg_gain: f64,
    avg_loss: f64,
}

impl Rsi {
    pub fn new(period: u32) -> Rsi {
        Rsi {
            period: period.max(1),
            prev: None,
            changes: 0,
            avg_gain: 0.0,
            avg_loss: 0.0,
        }
    }

    pub fn push(&mut self, close: f64) {
        if let Some(prev) = self.prev {
            let change = close - prev;
            let gain = change.max(0.0);
            let loss = (-change).max(0.0);
            let n = f64::from(self.period);
            if self.changes < self.period {
                self.avg_gain += gain;
                self.avg_loss += loss;
                self.changes += 1;
                if self.changes == self.period {
                    self.avg_gain /= n;
                    self.avg_loss /= n;
                }
            } else {
                self.avg_gain = (self.avg_gain * (n - 1.0) + gain) / n;
                self.avg_loss = (self.avg_loss * (n - 1.0) + loss) / n;
            }
        }
        self.prev = Some(close);
    }

    pub fn value(&self) -> Option<f64> {
        if self.changes < self.period {
            return None;
        }
        if self.avg_loss == 0.0 {
            return Some(if self.avg_gain == 0.0 { 50.0 } else { 100.0 });
        }
        Some(100.0 - 100.0 / (1.0 + self.avg_gain / self.avg_loss))
    }

    /// Value as if `close` were pushed, without committing it.
    pub fn peek(&self, close: f64) -> Option<f64> {
        let mut next = *self;
        next.push(close);
        next.value()
    }
}

/// Exponential moving average seeded with the simple mean of the first `period` values, then
/// ema = alpha x close + (1 - alpha) x ema with alpha = 2 / (period + 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ema {
    period: u32,
    seen: u32,
    seed_sum: f64,
    value: Option<f64>,
}

impl Ema {
    pub fn new(period: u32) -> Ema {
        Ema {
            period: period.max(1),
            seen: 0,
            seed_sum: 0.0,
            value: None,
        }
    }

    pub fn push(&mut self, close: f64) {
        let n = f64::from(self.period);
        match self.value {
            Some(v) => {
                let alpha = 2.0 / (n + 1.0);
                self.value = Some(alpha * close + (1.0 - alpha) * v);
            }
            None => {
                self.seed_sum += close;
                self.seen += 1;
                if self.seen >= self.period {
                    self.value = Some(self.seed_sum / n);
                }
            }
        }
    }

    pub fn value(&self) -> Option<f64> {
        self.value
    }

    pub fn peek(&self, close: f64) -> Option<f64> {
        let mut next = *self;
        next.push(close);
        next.value()
    }
}

/// Longest run of empty minutes that is filled with repeated closes; longer gaps restart
/// RSI/EMA (their state would be mostly fill anyway).
const MAX_MINUTE_FILL: i64 = 60;

/// 1-minute candles feeding RSI and EMAs.
#[derive(Debug, Clone)]
struct MinuteCloses {
    minute: Option<i64>,
    close: f64,
    rsi14: Rsi,
    ema9: Ema,
    ema21: Ema,
}

impl MinuteCloses {
    fn new() -> MinuteCloses {
        MinuteCloses {
            minute: None,
            close: 0.0,
            rsi14: Rsi::new(14),
            ema9: Ema::new(9),
            ema21: Ema::new(21),
        }
    }

    fn commit(&mut self, close: f64) {
        self.rsi14.push(close);
        self.ema9.push(close);
        self.ema21.push(close);
    }

    fn on_trade(&mut self, now_ms: i64, price: f64) {
        let minute = now_ms.div_euclid(60_000);
        if let Some(cur) = self.minute
            && minute > cur
        {
            let gap = minute - cur - 1;
            if gap > MAX_MINUTE_FILL {
                *self = MinuteCloses::new();
            } else {
                for _ in 0..=gap {
                    self.commit(self.close);
                }
            }
        }
        if self.minute.is_none_or(|cur| minute > cur) {
            self.minute = Some(minute);
        }
        self.close = price;
    }
}

/// Everything the engine knows about one symbol's market.
#[derive(Debug, Clone)]
pub struct SymbolState {
    contract_size: f64,
    ring: SecondRing,
    minutes: MinuteCloses,
    last: Option<Val>,
    last_trade_ms: Option<i64>,
    last_trade_id: Option<u64>,
    bid_ask: Option<(f64, f64, i64)>,
    funding_rate: Option<Val>,
    fair_price: Option<Val>,
    index_price: Option<Val>,
    oi_ms: Option<i64>,
}

/// What ingesting a trade batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TradeIngest {
    pub accepted: u64,
    pub invalid: u64,
    pub duplicate: u64,
    /// Price of the first accepted trade (the "next trade" that fills pending signals).
    pub first_price: Option<f64>,
}

fn positive(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

impl SymbolState {
    pub fn new(contract_size: f64) -> SymbolState {
        SymbolState {
            contract_size,
            ring: SecondRing::new(),
            minutes: MinuteCloses::new(),
            last: None,
            last_trade_ms: None,
            last_trade_id: None,
            bid_ask: None,
            funding_rate: None,
            fair_price: None,
            index_price: None,
            oi_ms: None,
        }
    }

    /// A new contract size (the exchange's specification arrived): volumes already in the
    /// windows were counted with the old size, and scale linearly with it.
    pub fn set_contract_size(&mut self, size: f64) {
        if !(size.is_finite() && size > 0.0) || size == self.contract_size {
            return;
        }
        self.ring.rescale_volumes(size / self.contract_size);
        self.contract_size = size;
    }

    pub fn contract_size(&self) -> f64 {
        self.contract_size
    }

    /// Advances the windows to `now_ms` (roll-off of old seconds).
    pub fn advance(&mut self, now_ms: i64) {
        self.ring.advance_to(now_ms.div_euclid(1000));
    }

    /// Adds trades at engine time `now_ms`. Trades with a non-finite or non-positive price or
    /// size are rejected; trades whose exchange id is not above the last seen id are duplicates
    /// (WebSocket and REST fallback overlap) and skipped.
    pub fn ingest_trades(
        &mut self,
        trades: &[trademon_core::market::Trade],
        now_ms: i64,
    ) -> TradeIngest {
        self.advance(now_ms);
        let mut out = TradeIngest::default();
        for t in trades {
            if !positive(t.price) || !positive(t.contracts) {
                out.invalid += 1;
                continue;
            }
            if let Some(id) = t.id {
                if self.last_trade_id.is_some_and(|last| id <= last) {
                    out.duplicate += 1;
                    continue;
                }
                self.last_trade_id = Some(id);
            }
            let base = t.contracts * self.contract_size;
            if !positive(t.price * base) {
                out.invalid += 1;
                continue;
            }
            self.ring
                .add_trade(t.price, base, t.taker == trademon_core::market::Side::Buy);
            self.minutes.on_trade(now_ms, t.price);
            out.accepted += 1;
            out.first_price.get_or_insert(t.price);
        }
        if let Some(price) = self.ring.last_close()
            && out.accepted > 0
        {
            self.last = Some(Val {
                value: price,
                updated_at: now_ms,
            });
            self.last_trade_ms = Some(now_ms);
        }
        out
    }

    /// Applies a ticker; returns the number of rejected (non-finite / out of range) fields.
    pub fn ingest_ticker(&mut self, t: &trademon_core::market::TickerUpdate, now_ms: i64) -> u64 {
        self.advance(now_ms);
        let mut invalid = 0;
        let val = |v: f64| Val {
            value: v,
            updated_at: now_ms,
        };
        if positive(t.last) {
            self.last = Some(val(t.last));
        } else {
            invalid += 1;
        }
        match (t.bid, t.ask) {
            (Some(b), Some(a)) if positive(b) && positive(a) && b <= a => {
                self.bid_ask = Some((b, a, now_ms));
            }
            (None, None) => {}
            _ => invalid += 1,
        }
        for (field, slot, must_be_positive) in [
            (t.fair_price, &mut self.fair_price, true),
            (t.index_price, &mut self.index_price, true),
            (t.funding_rate, &mut self.funding_rate, false),
        ] {
            match field {
                Some(v) if v.is_finite() && (!must_be_positive || v > 0.0) => *slot = Some(val(v)),
                Some(_) => invalid += 1,
                None => {}
            }
        }
        invalid
    }

    /// Records an open-interest reading (contracts held); returns false if rejected.
    pub fn ingest_open_interest(&mut self, oi: f64, now_ms: i64) -> bool {
        if !(oi.is_finite() && oi >= 0.0) {
            return false;
        }
        self.advance(now_ms);
        self.ring.set_open_interest(oi);
        self.oi_ms = Some(now_ms);
        true
    }

    /// Mark price for paper positions: the fair price when it is fresh, else `last`.
    pub fn mark(&self, now_ms: i64, stale_ms: i64) -> Option<f64> {
        match self.fair_price {
            Some(f) if !f.is_stale(now_ms, stale_ms) => Some(f.value),
            _ => self.last.map(|v| v.value),
        }
    }

    pub fn last(&self) -> Option<f64> {
        self.last.map(|v| v.value)
    }

    /// Computes every indicator from the current state. O(1): reads running sums and a few
    /// ring slots.
    pub fn compute(&self) -> IndicatorSet {
        use IndicatorId as I;
        let mut s = IndicatorSet::default();
        let r = &self.ring;
        let tt = self.last_trade_ms;
        let price = r.last_close();

        s.vals[I::Last.index()] = self.last;
        if let Some((bid, ask, at)) = self.bid_ask {
            let mid = (bid + ask) / 2.0;
            s.set(I::Mid, Some(mid), Some(at));
            s.set(I::SpreadBps, Some((ask - bid) / mid * 10_000.0), Some(at));
        }

        let pct = |now: f64, then: f64| (now - then) / then * 100.0;
        for (id, mins) in [
            (I::ChangePct1m, 1),
            (I::ChangePct5m, 5),
            (I::ChangePct15m, 15),
        ] {
            let v = price.zip(r.close_ago(mins * 60)).map(|(p, a)| pct(p, a));
            s.set(id, v, tt);
        }

        let (w1, w5, w30) = (r.w1(), r.w5(), r.w30());
        let vwap = (w5.base > 0.0).then(|| w5.quote / w5.base);
        s.set(I::Vwap5m, vwap, tt);
        s.set(I::VwapDevPct5m, price.zip(vwap).map(|(p, v)| pct(p, v)), tt);
        if tt.is_some() {
            s.set(I::Volume1m, Some(w1.quote), tt);
            s.set(I::Volume5m, Some(w5.quote), tt);
            s.set(I::TradesPerS1m, Some(w1.count as f64 / W1 as f64), tt);
        }
        let covered = r.covered_secs();
        if covered >= W1 && w30.quote > 0.0 {
            let mean_1m = w30.quote * W1 as f64 / covered.min(RING_SECS) as f64;
            s.set(I::VolumeSurge5m, Some(w1.quote / mean_1m), tt);
        }
        let ratio = (w1.quote > 0.0).then(|| w1.buy_quote / w1.quote);
        s.set(I::BuyRatio1m, ratio, tt);

        if self.minutes.minute.is_some() {
            let c = self.minutes.close;
            s.set(I::Rsi14_1m, self.minutes.rsi14.peek(c), tt);
            s.set(I::Ema9_1m, self.minutes.ema9.peek(c), tt);
            s.set(I::Ema21_1m, self.minutes.ema21.peek(c), tt);
        }

        s.vals[I::FundingRate.index()] = self.funding_rate;
        s.vals[I::FairPrice.index()] = self.fair_price;
        s.vals[I::IndexPrice.index()] = self.index_price;
        let oi = r
            .last_open_interest()
            .zip(r.open_interest_ago(300))
            .and_then(|(now, ago)| (ago > 0.0).then(|| pct(now, ago)));
        s.set(I::OpenInterestChangePct5m, oi, self.oi_ms);
        s
    }

    pub fn snapshot(&self, symbol: &str, now_ms: i64, stale_ms: i64) -> IndicatorSnapshot {
        let set = self.compute();
        IndicatorSnapshot {
            symbol: symbol.to_string(),
            at_ms: now_ms,
            values: IndicatorId::ALL
                .into_iter()
                .map(|id| {
                    let v = set.get(id);
                    IndicatorEntry {
                        name: id,
                        value: v.map(|v| v.value),
                        updated_at: v.map(|v| v.updated_at),
                        stale: v.is_some_and(|v| v.is_stale(now_ms, stale_ms)),
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests;
