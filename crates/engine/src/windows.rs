//! Per-second bucket ring: the only trade history the engine keeps.
//!
//! Why: windowed indicators (1 m, 5 m, 30 m volume, VWAP, prices N minutes ago) must cost O(1)
//! per trade. Each trade is added to the bucket of the current second and to three running sums;
//! when time advances by one second, the buckets that leave each window are subtracted. Advancing
//! costs O(seconds elapsed), capped by a full reset after a gap of `RING_SECS` or more, so it is
//! amortized O(1) per second of engine time, independent of the trade rate.
//!
//! Resolution is one second of the engine clock (`now_ms`), not exchange time: exchange
//! timestamps can be skewed and REST batches arrive late, while the engine clock is one
//! monotonic timeline for everything (windows, staleness, cooldowns).
//!
//! Window `n` seconds = the buckets of seconds `(head - n, head]`, i.e. the current second and
//! the `n - 1` before it: a trade applied at `t` ms counts until `now_ms >= t' + n*1000` where
//! `t'` is the start of its second.

/// Ring length: 30 minutes, the longest window (`volume_surge_5m` baseline). Also covers the
/// 15-minute price lookback.
pub const RING_SECS: i64 = 1800;
/// Window lengths in seconds.
pub const W1: i64 = 60;
pub const W5: i64 = 300;
pub const W30: i64 = RING_SECS;

/// One second of trades, plus carried-forward price and open interest so a lookback never needs
/// to scan for the last non-empty second.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    quote: f64,
    base: f64,
    buy_quote: f64,
    count: u32,
    /// Last trade price at or before the end of this second (`None` before the first trade).
    close: Option<f64>,
    /// Last open interest at or before the end of this second.
    oi: Option<f64>,
}

/// Running sums of one window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    /// Quote volume: sum of price x contracts x contract_size.
    pub quote: f64,
    /// Base volume: sum of contracts x contract_size.
    pub base: f64,
    /// Quote volume of taker-buy trades.
    pub buy_quote: f64,
    pub count: u64,
}

impl Sums {
    fn add(&mut self, quote: f64, base: f64, buy_quote: f64, count: u64) {
        self.quote += quote;
        self.base += base;
        self.buy_quote += buy_quote;
        self.count += count;
    }

    fn remove(&mut self, b: &Bucket) {
        if b.count == 0 {
            return;
        }
        self.count = self.count.saturating_sub(u64::from(b.count));
        if self.count == 0 {
            // Exact zero instead of floating-point residue once the window is empty.
            *self = Sums::default();
        } else {
            self.quote = (self.quote - b.quote).max(0.0);
            self.base = (self.base - b.base).max(0.0);
            self.buy_quote = (self.buy_quote - b.buy_quote).max(0.0);
        }
    }
}

#[derive(Debug, Clone)]
pub struct SecondRing {
    buckets: Vec<Bucket>,
    /// Newest second (`now_ms` div 1000) the ring has advanced to.
    head: Option<i64>,
    first_trade_sec: Option<i64>,
    carry_close: Option<f64>,
    carry_oi: Option<f64>,
    w1: Sums,
    w5: Sums,
    w30: Sums,
}

impl Default for SecondRing {
    fn default() -> Self {
        Self::new()
    }
}

fn slot(sec: i64) -> usize {
    // rem_euclid of a positive modulus is in [0, RING_SECS), so the cast is lossless.
    sec.rem_euclid(RING_SECS) as usize
}

impl SecondRing {
    pub fn new() -> SecondRing {
        SecondRing {
            buckets: vec![Bucket::default(); RING_SECS as usize],
            head: None,
            first_trade_sec: None,
            carry_close: None,
            carry_oi: None,
            w1: Sums::default(),
            w5: Sums::default(),
            w30: Sums::default(),
        }
    }

    pub fn head(&self) -> Option<i64> {
        self.head
    }

    /// Moves the ring to second `sec`; earlier seconds are ignored (time never goes back).
    pub fn advance_to(&mut self, sec: i64) {
        let Some(head) = self.head else {
            self.head = Some(sec);
            return;
        };
        if sec <= head {
            return;
        }
        if sec - head >= RING_SECS {
            let fresh = Bucket {
                close: self.carry_close,
                oi: self.carry_oi,
                ..Bucket::default()
            };
            self.buckets.fill(fresh);
            self.w1 = Sums::default();
            self.w5 = Sums::default();
            self.w30 = Sums::default();
            self.head = Some(sec);
            return;
        }
        for s in head + 1..=sec {
            // The bucket of second `s - n` leaves window `n`. Slots for seconds before the ring
            // was first used are empty, so removing them is a no-op.
            let b1 = self.buckets[slot(s - W1)];
            self.w1.remove(&b1);
            let b5 = self.buckets[slot(s - W5)];
            self.w5.remove(&b5);
            let i = slot(s); // holds second s - W30
            let b30 = self.buckets[i];
            self.w30.remove(&b30);
            self.buckets[i] = Bucket {
                close: self.carry_close,
                oi: self.carry_oi,
                ..Bucket::default()
            };
        }
        self.head = Some(sec);
    }

    /// Adds one validated trade to the current second (call `advance_to` first).
    pub fn add_trade(&mut self, price: f64, base: f64, taker_buy: bool) {
        let Some(head) = self.head else { return };
        let quote = price * base;
        let buy_quote = if taker_buy { quote } else { 0.0 };
        let b = &mut self.buckets[slot(head)];
        b.quote += quote;
        b.base += base;
        b.buy_quote += buy_quote;
        b.count = b.count.saturating_add(1);
        b.close = Some(price);
        self.carry_close = Some(price);
        for w in [&mut self.w1, &mut self.w5, &mut self.w30] {
            w.add(quote, base, buy_quote, 1);
        }
        if self.first_trade_sec.is_none() {
            self.first_trade_sec = Some(head);
        }
    }

    /// Multiplies every quote and base volume by `factor` (a corrected contract size).
    pub fn rescale_volumes(&mut self, factor: f64) {
        for b in &mut self.buckets {
            b.quote *= factor;
            b.base *= factor;
            b.buy_quote *= factor;
        }
        for w in [&mut self.w1, &mut self.w5, &mut self.w30] {
            w.quote *= factor;
            w.base *= factor;
            w.buy_quote *= factor;
        }
    }

    /// Records an open-interest reading for the current second.
    pub fn set_open_interest(&mut self, oi: f64) {
        let Some(head) = self.head else { return };
        self.buckets[slot(head)].oi = Some(oi);
        self.carry_oi = Some(oi);
    }

    pub fn w1(&self) -> Sums {
        self.w1
    }
    pub fn w5(&self) -> Sums {
        self.w5
    }
    pub fn w30(&self) -> Sums {
        self.w30
    }

    /// Last trade price overall.
    pub fn last_close(&self) -> Option<f64> {
        self.carry_close
    }

    pub fn last_open_interest(&self) -> Option<f64> {
        self.carry_oi
    }

    /// Last trade price at or before the end of second `head - secs_ago`; `None` when that second
    /// is before the first trade or outside the ring.
    pub fn close_ago(&self, secs_ago: i64) -> Option<f64> {
        let head = self.head?;
        if !(0..RING_SECS).contains(&secs_ago) {
            return None;
        }
        self.buckets[slot(head - secs_ago)].close
    }

    /// Open interest at or before the end of second `head - secs_ago`.
    pub fn open_interest_ago(&self, secs_ago: i64) -> Option<f64> {
        let head = self.head?;
        if !(0..RING_SECS).contains(&secs_ago) {
            return None;
        }
        self.buckets[slot(head - secs_ago)].oi
    }

    /// Seconds of trade history inside the 30 m window, counting the current second
    /// (`head - first_trade_sec + 1`, capped at `RING_SECS`); 0 before the first trade.
    pub fn covered_secs(&self) -> i64 {
        match (self.head, self.first_trade_sec) {
            (Some(h), Some(f)) => (h - f + 1).clamp(0, RING_SECS),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_roll_off_at_their_length() {
        let mut r = SecondRing::new();
        r.advance_to(1000);
        r.add_trade(10.0, 2.0, true); // quote 20
        r.advance_to(1030);
        r.add_trade(20.0, 1.0, false); // quote 20
        assert_eq!(r.w1().quote, 40.0);
        assert_eq!(r.w1().count, 2);
        r.advance_to(1059);
        assert_eq!(r.w1().count, 2);
        r.advance_to(1060); // second 1000 leaves the 1 m window
        assert_eq!(r.w1().quote, 20.0);
        assert_eq!(r.w1().buy_quote, 0.0);
        assert_eq!(r.w5().quote, 40.0);
        r.advance_to(1090);
        assert_eq!(r.w1(), Sums::default());
        r.advance_to(1299);
        assert_eq!(r.w5().count, 2);
        r.advance_to(1300);
        assert_eq!(r.w5().quote, 20.0);
        assert_eq!(r.w5().base, 1.0);
        r.advance_to(1330);
        assert_eq!(r.w5(), Sums::default());
        assert_eq!(r.w30().count, 2);
        r.advance_to(2800);
        assert_eq!(r.w30().count, 1);
        r.advance_to(2830);
        assert_eq!(r.w30(), Sums::default());
    }

    #[test]
    fn closes_carry_forward_and_big_gaps_reset() {
        let mut r = SecondRing::new();
        r.advance_to(0);
        assert_eq!(r.close_ago(0), None);
        r.add_trade(5.0, 1.0, true);
        r.advance_to(10);
        r.add_trade(6.0, 1.0, true);
        r.advance_to(70);
        assert_eq!(r.close_ago(0), Some(6.0));
        assert_eq!(r.close_ago(60), Some(6.0)); // second 10
        assert_eq!(r.close_ago(61), Some(5.0)); // second 9
        assert_eq!(r.close_ago(70), Some(5.0)); // second 0
        assert_eq!(r.close_ago(71), None); // before the first trade
        assert_eq!(r.covered_secs(), 71);
        r.advance_to(10_000);
        assert_eq!(r.w30(), Sums::default());
        assert_eq!(r.close_ago(900), Some(6.0));
        assert_eq!(r.covered_secs(), RING_SECS);
        r.advance_to(5); // backwards: ignored
        assert_eq!(r.head(), Some(10_000));
    }
}
