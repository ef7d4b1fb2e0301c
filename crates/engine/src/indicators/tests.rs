//! Indicator values against hand-computed numbers on small scripted sequences.

use super::*;
use trademon_core::market::{Side, TickerUpdate, Trade};

fn tr(price: f64, contracts: f64, taker: Side) -> Trade {
    Trade {
        self_trade: false,
        id: None,
        price,
        contracts,
        taker,
        ts_ms: 0,
    }
}

fn buy(price: f64, contracts: f64) -> Trade {
    tr(price, contracts, Side::Buy)
}

fn sell(price: f64, contracts: f64) -> Trade {
    tr(price, contracts, Side::Sell)
}

fn val(s: &SymbolState, id: IndicatorId) -> Option<f64> {
    s.compute().get(id).map(|v| v.value)
}

fn approx(a: Option<f64>, b: f64) {
    let a = a.unwrap_or_else(|| panic!("no value, expected {b}"));
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn names_round_trip_and_are_complete() {
    assert_eq!(IndicatorId::ALL.len(), INDICATOR_COUNT);
    for (i, id) in IndicatorId::ALL.into_iter().enumerate() {
        assert_eq!(id.index(), i);
        assert_eq!(IndicatorId::parse(id.as_str()), Some(id));
    }
    assert_eq!(IndicatorId::parse("rsi_14_1m"), Some(IndicatorId::Rsi14_1m));
    assert_eq!(IndicatorId::parse("nope"), None);
}

#[test]
fn vwap_and_deviation() {
    let mut s = SymbolState::new(1.0);
    s.ingest_trades(&[buy(10.0, 2.0)], 0);
    s.ingest_trades(&[sell(20.0, 1.0)], 1_000);
    // (10 x 2 + 20 x 1) / 3
    approx(val(&s, IndicatorId::Vwap5m), 40.0 / 3.0);
    approx(
        val(&s, IndicatorId::VwapDevPct5m),
        (20.0 - 40.0 / 3.0) / (40.0 / 3.0) * 100.0,
    );
    // The first trade leaves the 5 m window at 300 s.
    s.advance(300_000);
    approx(val(&s, IndicatorId::Vwap5m), 20.0);
    s.advance(301_000);
    assert_eq!(val(&s, IndicatorId::Vwap5m), None);
}

#[test]
fn quote_volume_uses_contract_size() {
    let mut s = SymbolState::new(0.5);
    s.ingest_trades(&[buy(100.0, 4.0)], 0);
    approx(val(&s, IndicatorId::Volume1m), 200.0); // 100 x 4 x 0.5
    approx(val(&s, IndicatorId::Vwap5m), 100.0);
}

#[test]
fn volume_windows_roll_off_after_60_and_300_s() {
    let mut s = SymbolState::new(1.0);
    s.ingest_trades(&[buy(100.0, 1.0)], 0);
    s.ingest_trades(&[sell(50.0, 1.0)], 30_000);
    s.advance(59_999);
    approx(val(&s, IndicatorId::Volume1m), 150.0);
    s.advance(60_000);
    approx(val(&s, IndicatorId::Volume1m), 50.0);
    approx(val(&s, IndicatorId::Volume5m), 150.0);
    s.advance(90_000);
    approx(val(&s, IndicatorId::Volume1m), 0.0);
    s.advance(299_999);
    approx(val(&s, IndicatorId::Volume5m), 150.0);
    s.advance(300_000);
    approx(val(&s, IndicatorId::Volume5m), 50.0);
    s.advance(330_000);
    approx(val(&s, IndicatorId::Volume5m), 0.0);
    // Still reported (zero volume is a fact), but its updated_at is the last trade.
    assert_eq!(
        s.compute().get(IndicatorId::Volume5m).map(|v| v.updated_at),
        Some(30_000)
    );
}

#[test]
fn change_pct_against_price_n_minutes_ago() {
    let mut s = SymbolState::new(1.0);
    s.ingest_trades(&[buy(100.0, 1.0)], 0);
    s.ingest_trades(&[buy(101.0, 1.0)], 30_000);
    s.ingest_trades(&[buy(102.0, 1.0)], 59_999);
    assert_eq!(val(&s, IndicatorId::ChangePct1m), None); // not 60 s of history yet
    s.ingest_trades(&[buy(102.0, 1.0)], 60_500);
    approx(val(&s, IndicatorId::ChangePct1m), 2.0); // vs 100 (second 0)
    s.ingest_trades(&[buy(104.0, 1.0)], 90_000);
    approx(
        val(&s, IndicatorId::ChangePct1m),
        (104.0 - 101.0) / 101.0 * 100.0,
    );
    assert_eq!(val(&s, IndicatorId::ChangePct5m), None);
    s.ingest_trades(&[buy(110.0, 1.0)], 300_000);
    approx(val(&s, IndicatorId::ChangePct5m), 10.0);
    approx(
        val(&s, IndicatorId::ChangePct1m),
        (110.0 - 104.0) / 104.0 * 100.0,
    );
    s.ingest_trades(&[buy(99.0, 1.0)], 900_000);
    approx(val(&s, IndicatorId::ChangePct15m), -1.0);
    approx(val(&s, IndicatorId::ChangePct5m), -10.0); // vs 110 at 600 s (carried)
}

#[test]
fn volume_surge_ratio() {
    let mut s = SymbolState::new(1.0);
    s.ingest_trades(&[buy(60.0, 1.0)], 0);
    s.advance(58_999);
    assert_eq!(val(&s, IndicatorId::VolumeSurge5m), None); // 59 s of history
    s.advance(59_000);
    approx(val(&s, IndicatorId::VolumeSurge5m), 1.0);
    // Warm-up: 241 s covered, 30 m volume 360, last minute 300.
    s.ingest_trades(&[buy(300.0, 1.0)], 240_000);
    approx(
        val(&s, IndicatorId::VolumeSurge5m),
        300.0 / (360.0 * 60.0 / 241.0),
    );

    // Full window: 10 per minute for 30 minutes, then 100 in the last minute.
    let mut s = SymbolState::new(1.0);
    for m in 0..30 {
        s.ingest_trades(&[buy(10.0, 1.0)], m * 60_000);
    }
    s.ingest_trades(&[buy(100.0, 1.0)], 1_800_000);
    // 30 m window = seconds (0, 1800]: minutes 1..29 (290) + 100; mean 1 m = 390 / 30 = 13.
    approx(val(&s, IndicatorId::Volume1m), 100.0);
    approx(val(&s, IndicatorId::VolumeSurge5m), 100.0 / 13.0);
}

#[test]
fn trades_per_second_and_buy_ratio() {
    let mut s = SymbolState::new(1.0);
    let mut batch = Vec::new();
    for i in 0..30 {
        batch.push(if i % 4 == 0 {
            sell(10.0, 1.0)
        } else {
            buy(10.0, 1.0)
        });
    }
    s.ingest_trades(&batch, 10_000);
    approx(val(&s, IndicatorId::TradesPerS1m), 0.5);
    // 8 sells (i = 0, 4, ..., 28), 22 buys, equal quote sizes.
    approx(val(&s, IndicatorId::BuyRatio1m), 22.0 / 30.0);
    s.ingest_trades(&[sell(10.0, 22.0)], 20_000);
    // Buys 220 of 300 + 220 quote.
    approx(val(&s, IndicatorId::BuyRatio1m), 220.0 / 520.0);
    s.advance(80_000);
    assert_eq!(val(&s, IndicatorId::BuyRatio1m), None); // no volume in the window
    approx(val(&s, IndicatorId::TradesPerS1m), 0.0);
}

#[test]
fn rsi_wilder_hand_worked() {
    let mut r = Rsi::new(3);
    for c in [10.0, 11.0, 12.0] {
        r.push(c);
    }
    assert_eq!(r.value(), None);
    // Changes +1 +1 -1: avg gain 2/3, avg loss 1/3 -> RS 2 -> 66.67
    approx(r.peek(11.0), 100.0 - 100.0 / 3.0);
    r.push(11.0);
    approx(r.value(), 100.0 - 100.0 / 3.0);
    // +2: gain (2/3 x 2 + 2) / 3 = 10/9, loss (1/3 x 2) / 3 = 2/9 -> RS 5 -> 83.33
    r.push(13.0);
    approx(r.value(), 100.0 - 100.0 / 6.0);
    let mut flat = Rsi::new(2);
    for _ in 0..3 {
        flat.push(5.0);
    }
    approx(flat.value(), 50.0);
}

#[test]
fn ema_hand_worked() {
    let mut e = Ema::new(3);
    e.push(1.0);
    e.push(2.0);
    assert_eq!(e.value(), None);
    approx(e.peek(3.0), 2.0); // SMA seed
    e.push(3.0);
    e.push(4.0); // 0.5 x 4 + 0.5 x 2
    approx(e.value(), 3.0);
    e.push(5.0);
    approx(e.value(), 4.0);
}

#[test]
fn rsi_and_ema_on_minute_closes_with_provisional_minute() {
    let mut s = SymbolState::new(1.0);
    // Closes 10, 11, 10, 11, ... for minutes 0..=14: 14 changes, 7 up, 7 down -> RSI 50.
    for m in 0..15 {
        let close = if m % 2 == 0 { 10.0 } else { 11.0 };
        // An earlier trade in the minute that the close overrides.
        s.ingest_trades(&[buy(50.0, 1.0)], m * 60_000 + 1_000);
        s.ingest_trades(&[buy(close, 1.0)], m * 60_000 + 2_000);
    }
    approx(val(&s, IndicatorId::Rsi14_1m), 50.0);
    // Minute 15 closes at 11 (+1): gain 7.5/14, loss 6.5/14 -> RSI = 100 x 7.5 / 14.
    s.ingest_trades(&[buy(11.0, 1.0)], 15 * 60_000);
    approx(val(&s, IndicatorId::Rsi14_1m), 100.0 * 7.5 / 14.0);

    let mut s = SymbolState::new(1.0);
    for m in 0..8 {
        s.ingest_trades(&[buy((m + 1) as f64, 1.0)], m * 60_000);
    }
    assert_eq!(val(&s, IndicatorId::Ema9_1m), None);
    s.ingest_trades(&[buy(9.0, 1.0)], 8 * 60_000);
    approx(val(&s, IndicatorId::Ema9_1m), 5.0); // mean of 1..=9
    s.ingest_trades(&[buy(10.0, 1.0)], 9 * 60_000);
    approx(val(&s, IndicatorId::Ema9_1m), 0.2 * 10.0 + 0.8 * 5.0);
    assert_eq!(val(&s, IndicatorId::Ema21_1m), None);
}

#[test]
fn empty_minutes_repeat_the_close_and_long_gaps_restart() {
    let mut s = SymbolState::new(1.0);
    for m in 0..3 {
        s.ingest_trades(&[buy(1.0 + m as f64, 1.0)], m * 60_000);
    }
    // Minutes 3..=7 empty (close 3 repeated), minute 8 at 3: closes 1,2,3,3,3,3,3,3,3 -> 24/9.
    s.ingest_trades(&[buy(3.0, 1.0)], 8 * 60_000);
    approx(val(&s, IndicatorId::Ema9_1m), 24.0 / 9.0);
    s.ingest_trades(&[buy(3.0, 1.0)], 100 * 60_000);
    assert_eq!(val(&s, IndicatorId::Ema9_1m), None);
}

#[test]
fn mid_spread_and_ticker_fields() {
    let mut s = SymbolState::new(1.0);
    let t = TickerUpdate {
        symbol: "X".into(),
        last: 100.05,
        bid: Some(99.9),
        ask: Some(100.1),
        fair_price: Some(100.02),
        index_price: Some(100.01),
        funding_rate: Some(-0.0001),
        ..TickerUpdate::default()
    };
    assert_eq!(s.ingest_ticker(&t, 5_000), 0);
    approx(val(&s, IndicatorId::Mid), 100.0);
    approx(val(&s, IndicatorId::SpreadBps), 0.2 / 100.0 * 10_000.0);
    approx(val(&s, IndicatorId::Last), 100.05);
    approx(val(&s, IndicatorId::FairPrice), 100.02);
    approx(val(&s, IndicatorId::IndexPrice), 100.01);
    approx(val(&s, IndicatorId::FundingRate), -0.0001);
    assert_eq!(s.mark(5_000, 60_000), Some(100.02));
    assert_eq!(s.mark(65_000, 60_000), Some(100.05)); // stale fair price: fall back to last
    // A crossed book and NaN fields are rejected; the old values stay.
    let bad = TickerUpdate {
        symbol: "X".into(),
        last: f64::NAN,
        bid: Some(101.0),
        ask: Some(100.0),
        fair_price: Some(f64::INFINITY),
        ..TickerUpdate::default()
    };
    assert_eq!(s.ingest_ticker(&bad, 6_000), 3);
    approx(val(&s, IndicatorId::Mid), 100.0);
    approx(val(&s, IndicatorId::Last), 100.05);
    approx(val(&s, IndicatorId::FairPrice), 100.02);
}

#[test]
fn bad_and_duplicate_trades_never_poison_values() {
    let mut s = SymbolState::new(1.0);
    let mut t = buy(100.0, 1.0);
    t.id = Some(7);
    let r = s.ingest_trades(
        &[
            buy(f64::NAN, 1.0),
            buy(100.0, f64::INFINITY),
            buy(-1.0, 1.0),
            buy(100.0, 0.0),
            t.clone(),
            t.clone(),
        ],
        0,
    );
    assert_eq!((r.accepted, r.invalid, r.duplicate), (1, 4, 1));
    assert_eq!(r.first_price, Some(100.0));
    approx(val(&s, IndicatorId::Volume1m), 100.0);
    approx(val(&s, IndicatorId::Vwap5m), 100.0);
    let r = s.ingest_trades(&[buy(f64::NAN, 1.0)], 1_000);
    assert_eq!(r.accepted, 0);
    assert_eq!(r.first_price, None);
    approx(val(&s, IndicatorId::Last), 100.0);
}

#[test]
fn open_interest_change_needs_an_input_and_5_minutes() {
    let mut s = SymbolState::new(1.0);
    s.ingest_trades(&[buy(1.0, 1.0)], 0);
    assert_eq!(val(&s, IndicatorId::OpenInterestChangePct5m), None);
    assert!(s.ingest_open_interest(1_000.0, 0));
    assert!(!s.ingest_open_interest(f64::NAN, 1_000));
    s.advance(299_000);
    assert_eq!(val(&s, IndicatorId::OpenInterestChangePct5m), None);
    assert!(s.ingest_open_interest(1_100.0, 300_000));
    approx(val(&s, IndicatorId::OpenInterestChangePct5m), 10.0);
}

/// xorshift64*: scripted randomness for the reference test.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One accepted trade as the brute-force reference sees it.
struct Rec {
    sec: i64,
    price: f64,
    base: f64,
    buy: bool,
}

/// Recomputes the windowed indicators from the full trade list (O(n) per query).
fn reference(recs: &[Rec], head: i64) -> Vec<(IndicatorId, Option<f64>)> {
    // Records are in time order: skip everything older than the longest window.
    let recent = &recs[recs.partition_point(|r| r.sec <= head - 1800)..];
    let window = |n: i64| {
        recent
            .iter()
            .filter(move |r| r.sec > head - n && r.sec <= head)
    };
    let quote = |n: i64| window(n).map(|r| r.price * r.base).sum::<f64>();
    let base5: f64 = window(300).map(|r| r.base).sum();
    let buy1: f64 = window(60).filter(|r| r.buy).map(|r| r.price * r.base).sum();
    let (q1, q5, q30) = (quote(60), quote(300), quote(1800));
    let last = recs.last().map(|r| r.price);
    let ago = |secs: i64| {
        recs.iter()
            .rev()
            .find(|r| r.sec <= head - secs)
            .map(|r| r.price)
    };
    let pct = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| (a - b) / b * 100.0);
    let covered = recs.first().map_or(0, |f| (head - f.sec + 1).min(1800));
    let vwap = (base5 > 0.0).then(|| q5 / base5);
    vec![
        (IndicatorId::Volume1m, Some(q1)),
        (IndicatorId::Volume5m, Some(q5)),
        (
            IndicatorId::TradesPerS1m,
            Some(window(60).count() as f64 / 60.0),
        ),
        (IndicatorId::BuyRatio1m, (q1 > 0.0).then(|| buy1 / q1)),
        (IndicatorId::Vwap5m, vwap),
        (IndicatorId::VwapDevPct5m, pct(last, vwap)),
        (IndicatorId::ChangePct1m, pct(last, ago(60))),
        (IndicatorId::ChangePct5m, pct(last, ago(300))),
        (IndicatorId::ChangePct15m, pct(last, ago(900))),
        (
            IndicatorId::VolumeSurge5m,
            (covered >= 60 && q30 > 0.0).then(|| q1 / (q30 * 60.0 / covered as f64)),
        ),
    ]
}

#[test]
fn windowed_indicators_match_a_brute_force_reference_on_random_sequences() {
    for seed in [1_u64, 7, 0xdead_beef] {
        let mut rng = Rng(seed);
        let mut s = SymbolState::new(0.01);
        let mut recs: Vec<Rec> = Vec::new();
        let mut now = 1_700_000_000_123_i64;
        let mut price = 50.0;
        for step in 0..3_000 {
            // Mostly sub-second steps, sometimes quiet minutes, rarely a gap over 30 minutes.
            now += match rng.next() % 100 {
                0 => 2_000_000,
                1..=4 => 61_000 + (rng.next() % 400_000) as i64,
                _ => (rng.next() % 1_500) as i64,
            };
            if rng.next().is_multiple_of(5) {
                s.advance(now); // a Tick
            } else {
                let n = 1 + rng.next() % 5;
                let mut batch = Vec::new();
                for _ in 0..n {
                    price *= 1.0 + (rng.unit() - 0.5) * 0.01;
                    let contracts = 1.0 + (rng.next() % 50) as f64;
                    let t = if rng.unit() < 0.5 {
                        buy(price, contracts)
                    } else {
                        sell(price, contracts)
                    };
                    recs.push(Rec {
                        sec: now.div_euclid(1000),
                        price,
                        base: contracts * 0.01,
                        buy: t.taker == Side::Buy,
                    });
                    batch.push(t);
                }
                s.ingest_trades(&batch, now);
            }
            let head = now.div_euclid(1000);
            let got = s.compute();
            for (id, want) in reference(&recs, head) {
                let have = got.get(id).map(|v| v.value);
                match (have, want) {
                    (Some(h), Some(w)) => assert!(
                        (h - w).abs() <= 1e-9 * w.abs().max(1.0),
                        "seed {seed} step {step} {}: {h} vs {w}",
                        id.as_str()
                    ),
                    (None, None) => {}
                    _ => panic!(
                        "seed {seed} step {step} {}: {have:?} vs {want:?}",
                        id.as_str()
                    ),
                }
            }
        }
    }
}
