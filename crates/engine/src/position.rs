//! Paper positions: isolated margin, fills at a trade price with slippage, taker fees.
//!
//! Formulas (sign = +1 long, -1 short; slip = slippage_bps / 10 000; fee = fee_bps / 10 000):
//! - entry fill = trade x (1 + sign x slip); exit fill = trade x (1 - sign x slip) (against us).
//! - notional at entry = `size_quote`; quantity = size_quote / entry; margin = size_quote / leverage.
//! - fees: entry fee = size_quote x fee; exit fee = quantity x exit x fee.
//! - unrealized PnL = sign x quantity x (mark - entry) (gross of fees).
//! - realized PnL (after close) = sign x quantity x (exit - entry) - entry fee - exit fee.
//! - `pnl_pct` is on MARGIN and net of the fees paid so far:
//!   open: (unrealized - fees) / margin x 100; closed: realized / margin x 100.
//!   So at 5x leverage a 1 % favourable move is about +5 % before fees.
//! - liquidation price (isolated, maintenance margin rate mmr):
//!   long entry x (1 - 1/leverage + mmr), short entry x (1 + 1/leverage - mmr).
//! - distance to liquidation = (mark - liq) / mark x 100 for long, (liq - mark) / mark x 100 for
//!   short; <= 0 means the mark is at or beyond it.
//!
//! Liquidation: once the mark (fair price when known, else last) reaches the liquidation price
//! (long: mark <= liq, short: mark >= liq) the position is closed AT the liquidation price, no
//! slippage (the exchange takes the position over there, not at the mark that overshot).
//! - exit fee = quantity x liq x fee (taken as on any exit).
//! - price PnL at liq = sign x quantity x (liq - entry) = -size_quote x (1/leverage - mmr)
//!   = -margin + mmr x size_quote: the maintenance margin is all that is left, and a
//!   liquidation forfeits it (on MEXC to the insurance fund).
//! - so realized PnL = -margin - entry fee - exit fee, and pnl_pct = -100 % - fees / margin.
//!
//! Hand-worked (the tests check it): 50x short, size 100 USDT at 100 000, mmr 0.5 %, fee 6 bps,
//! no slippage: quantity 0.001, margin 2, entry fee 0.06, liq = 100 000 x (1 + 0.02 - 0.005) =
//! 101 500; a mark of 101 600 liquidates at 101 500: exit fee 0.001 x 101 500 x 0.0006 =
//! 0.0609, realized = -2 - 0.06 - 0.0609 = -2.1209 (-106.045 % of margin).

use serde::{Deserialize, Serialize};

use super::settings::{Direction, StrategySettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionStatus {
    Open,
    Closed,
}

/// A paper position as shown to clients (`positions` stream) and as the paper journal keeps it
/// (`EngineInput::Restore` rebuilds an open position from it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionView {
    /// Engine-wide sequence number.
    pub id: u64,
    pub session: String,
    pub symbol: String,
    pub direction: Direction,
    pub status: PositionStatus,
    pub size_quote: f64,
    pub quantity: f64,
    pub leverage: f64,
    pub margin: f64,
    pub entry_price: f64,
    pub mark_price: f64,
    pub unrealized_pnl: f64,
    pub realized_pnl: f64,
    pub fees: f64,
    pub pnl_pct: f64,
    pub liquidation_price: f64,
    pub liquidation_distance_pct: f64,
    pub opened_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    pub exit_price: Option<f64>,
    pub close_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Closed {
    exit_price: f64,
    at_ms: i64,
    reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaperPosition {
    pub id: u64,
    direction: Direction,
    size_quote: f64,
    leverage: f64,
    fee_rate: f64,
    slippage_bps: f64,
    pub quantity: f64,
    pub entry_price: f64,
    pub mark: f64,
    pub opened_at_ms: i64,
    fees: f64,
    realized: f64,
    liquidation_price: f64,
    /// When the last liquidation alert fired; `None` while the mark is outside the alert
    /// distance (entering it fires at once, staying inside repeats every interval).
    liq_alert_at_ms: Option<i64>,
    closed: Option<Closed>,
}

/// Slipped fill price. `entering` picks the side: entering a long buys (pays up), exiting it
/// sells (gets less); the reverse for short.
pub fn fill_price(
    direction: Direction,
    trade_price: f64,
    slippage_bps: f64,
    entering: bool,
) -> f64 {
    let s = direction.sign() * if entering { 1.0 } else { -1.0 };
    trade_price * (1.0 + s * slippage_bps / 10_000.0)
}

/// Isolated-margin liquidation price, see the module docs.
pub fn liquidation_price(direction: Direction, entry: f64, leverage: f64, mmr: f64) -> f64 {
    match direction {
        Direction::Long => entry * (1.0 - 1.0 / leverage + mmr),
        Direction::Short => entry * (1.0 + 1.0 / leverage - mmr),
    }
}

impl PaperPosition {
    /// Opens at `trade_price` (the next trade after the entry signal).
    pub fn open(
        id: u64,
        s: &StrategySettings,
        mmr: f64,
        trade_price: f64,
        now_ms: i64,
    ) -> PaperPosition {
        let entry = fill_price(s.direction, trade_price, s.slippage_bps, true);
        let fee_rate = s.fee_bps / 10_000.0;
        PaperPosition {
            id,
            direction: s.direction,
            size_quote: s.size_quote,
            leverage: s.leverage,
            fee_rate,
            slippage_bps: s.slippage_bps,
            quantity: s.size_quote / entry,
            entry_price: entry,
            mark: trade_price,
            opened_at_ms: now_ms,
            fees: s.size_quote * fee_rate,
            realized: 0.0,
            liquidation_price: liquidation_price(s.direction, entry, s.leverage, mmr),
            liq_alert_at_ms: None,
            closed: None,
        }
    }

    /// An open position as a journal kept it: entry, quantity, size, leverage, fees paid,
    /// liquidation price and id stay as they were; fee rate and slippage come from the
    /// strategy `s` (they apply to the exit still to come). `None` for a view that is not an
    /// open position with usable numbers.
    pub fn restore(v: &PositionView, s: &StrategySettings) -> Option<PaperPosition> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        let usable = v.status == PositionStatus::Open
            && [
                v.size_quote,
                v.quantity,
                v.leverage,
                v.entry_price,
                v.liquidation_price,
            ]
            .into_iter()
            .all(positive)
            && v.fees.is_finite();
        if !usable {
            return None;
        }
        Some(PaperPosition {
            id: v.id,
            direction: v.direction,
            size_quote: v.size_quote,
            leverage: v.leverage,
            fee_rate: s.fee_bps / 10_000.0,
            slippage_bps: s.slippage_bps,
            quantity: v.quantity,
            entry_price: v.entry_price,
            mark: if positive(v.mark_price) {
                v.mark_price
            } else {
                v.entry_price
            },
            opened_at_ms: v.opened_at_ms,
            fees: v.fees,
            realized: 0.0,
            liquidation_price: v.liquidation_price,
            liq_alert_at_ms: None,
            closed: None,
        })
    }

    pub fn is_open(&self) -> bool {
        self.closed.is_none()
    }

    pub fn leverage(&self) -> f64 {
        self.leverage
    }

    pub fn margin(&self) -> f64 {
        self.size_quote / self.leverage
    }

    pub fn fees(&self) -> f64 {
        self.fees
    }

    pub fn realized(&self) -> f64 {
        self.realized
    }

    pub fn unrealized(&self) -> f64 {
        if self.closed.is_some() {
            return 0.0;
        }
        self.direction.sign() * self.quantity * (self.mark - self.entry_price)
    }

    pub fn pnl_pct(&self) -> f64 {
        let net = if self.closed.is_some() {
            self.realized
        } else {
            self.unrealized() - self.fees
        };
        net / self.margin() * 100.0
    }

    pub fn age_s(&self, now_ms: i64) -> f64 {
        now_ms.saturating_sub(self.opened_at_ms) as f64 / 1000.0
    }

    pub fn liquidation_price(&self) -> f64 {
        self.liquidation_price
    }

    pub fn liquidation_distance_pct(&self) -> f64 {
        let d = match self.direction {
            Direction::Long => self.mark - self.liquidation_price,
            Direction::Short => self.liquidation_price - self.mark,
        };
        d / self.mark * 100.0
    }

    /// Sets the mark; returns whether it changed. Non-finite or non-positive marks are ignored.
    pub fn set_mark(&mut self, mark: f64) -> bool {
        if !(mark.is_finite() && mark > 0.0) || mark == self.mark || self.closed.is_some() {
            return false;
        }
        self.mark = mark;
        true
    }

    /// Returns the distance when an alert is due: the mark has just come within `alert_pct` of
    /// the liquidation price, or has stayed inside for `interval_ms` since the last alert. Moving
    /// back out re-arms it.
    pub fn liquidation_alert(
        &mut self,
        alert_pct: f64,
        now_ms: i64,
        interval_ms: i64,
    ) -> Option<f64> {
        if self.closed.is_some() {
            return None;
        }
        let d = self.liquidation_distance_pct();
        if d > alert_pct {
            self.liq_alert_at_ms = None;
            return None;
        }
        let due = match self.liq_alert_at_ms {
            None => true,
            Some(at) => now_ms.saturating_sub(at) >= interval_ms,
        };
        if due {
            self.liq_alert_at_ms = Some(now_ms);
        }
        due.then_some(d)
    }

    /// Whether the mark has reached the liquidation price (long: at or below, short: at or
    /// above).
    pub fn liquidation_crossed(&self) -> bool {
        self.closed.is_none()
            && match self.direction {
                Direction::Long => self.mark <= self.liquidation_price,
                Direction::Short => self.mark >= self.liquidation_price,
            }
    }

    /// Liquidates: closes at the liquidation price, no slippage, the isolated margin lost (see
    /// the module docs). Returns the exit price (= the liquidation price).
    pub fn liquidate(&mut self, now_ms: i64, reason: String) -> f64 {
        let exit = self.liquidation_price;
        self.fees += self.quantity * exit * self.fee_rate;
        self.realized = -self.margin() - self.fees;
        self.closed = Some(Closed {
            exit_price: exit,
            at_ms: now_ms,
            reason,
        });
        exit
    }

    /// Closes at `trade_price` (slipped against us) and returns the exit fill price.
    pub fn close(&mut self, trade_price: f64, now_ms: i64, reason: String) -> f64 {
        let exit = fill_price(self.direction, trade_price, self.slippage_bps, false);
        let exit_fee = self.quantity * exit * self.fee_rate;
        self.fees += exit_fee;
        self.realized =
            self.direction.sign() * self.quantity * (exit - self.entry_price) - self.fees;
        self.mark = trade_price;
        self.closed = Some(Closed {
            exit_price: exit,
            at_ms: now_ms,
            reason,
        });
        exit
    }

    pub fn view(&self, session: &str, symbol: &str) -> PositionView {
        PositionView {
            id: self.id,
            session: session.to_string(),
            symbol: symbol.to_string(),
            direction: self.direction,
            status: if self.is_open() {
                PositionStatus::Open
            } else {
                PositionStatus::Closed
            },
            size_quote: self.size_quote,
            quantity: self.quantity,
            leverage: self.leverage,
            margin: self.margin(),
            entry_price: self.entry_price,
            mark_price: self.mark,
            unrealized_pnl: self.unrealized(),
            realized_pnl: self.realized,
            fees: self.fees,
            pnl_pct: self.pnl_pct(),
            liquidation_price: self.liquidation_price,
            liquidation_distance_pct: self.liquidation_distance_pct(),
            opened_at_ms: self.opened_at_ms,
            closed_at_ms: self.closed.as_ref().map(|c| c.at_ms),
            exit_price: self.closed.as_ref().map(|c| c.exit_price),
            close_reason: self.closed.as_ref().map(|c| c.reason.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approx(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    fn strat(direction: Direction, fee_bps: f64, slippage_bps: f64) -> StrategySettings {
        StrategySettings {
            direction,
            fee_bps,
            slippage_bps,
            ..StrategySettings::default_strategy()
        }
    }

    #[test]
    fn liquidation_price_hand_worked() {
        // 5x, mmr 0.5 %: long liquidates 19.5 % below entry, short 19.5 % above.
        approx(liquidation_price(Direction::Long, 100.0, 5.0, 0.005), 80.5);
        approx(
            liquidation_price(Direction::Short, 100.0, 5.0, 0.005),
            119.5,
        );
        approx(liquidation_price(Direction::Long, 200.0, 10.0, 0.01), 182.0);
    }

    #[test]
    fn long_pnl_fees_and_slippage_hand_worked() {
        // size 100, 5x, fee 10 bps, slippage 0: trade at 100 -> entry 100, qty 1, margin 20.
        let s = strat(Direction::Long, 10.0, 0.0);
        let mut p = PaperPosition::open(1, &s, 0.005, 100.0, 1_000);
        approx(p.entry_price, 100.0);
        approx(p.quantity, 1.0);
        approx(p.margin(), 20.0);
        approx(p.fees(), 0.1);
        assert!(p.set_mark(102.0));
        approx(p.unrealized(), 2.0);
        approx(p.pnl_pct(), (2.0 - 0.1) / 20.0 * 100.0); // 9.5 %
        approx(p.age_s(31_000), 30.0);
        let exit = p.close(103.0, 5_000, "tp".into());
        approx(exit, 103.0);
        approx(p.fees(), 0.1 + 0.103);
        approx(p.realized(), 3.0 - 0.203);
        approx(p.pnl_pct(), 2.797 / 20.0 * 100.0);
        let v = p.view("s", "X");
        assert_eq!(v.status, PositionStatus::Closed);
        assert_eq!(v.unrealized_pnl, 0.0);
        assert_eq!(v.exit_price, Some(103.0));
    }

    #[test]
    fn short_fills_slip_against_us() {
        // Short, slippage 10 bps, fee 0: sells at 99.9 for a trade at 100, buys back at 90.09.
        let s = strat(Direction::Short, 0.0, 10.0);
        let mut p = PaperPosition::open(1, &s, 0.005, 100.0, 0);
        approx(p.entry_price, 99.9);
        approx(p.quantity, 100.0 / 99.9);
        approx(p.liquidation_price(), 99.9 * 1.195);
        p.set_mark(95.0);
        approx(p.unrealized(), 100.0 / 99.9 * 4.9);
        let exit = p.close(90.0, 1, "tp".into());
        approx(exit, 90.09);
        approx(p.realized(), 100.0 / 99.9 * (99.9 - 90.09));
    }

    #[test]
    fn liquidation_alert_fires_on_entering_and_repeats_while_inside() {
        let s = strat(Direction::Long, 0.0, 0.0); // liq 80.5, alert within 2 %, every 30 s
        let mut p = PaperPosition::open(1, &s, 0.005, 100.0, 0);
        let every = 30_000;
        assert_eq!(p.liquidation_alert(2.0, 0, every), None);
        p.set_mark(82.0); // (82 - 80.5) / 82 = 1.83 %
        let d = p.liquidation_alert(2.0, 1_000, every).unwrap();
        approx(d, 1.5 / 82.0 * 100.0);
        p.set_mark(81.0);
        // Still inside: nothing until the interval has passed since the last alert...
        assert_eq!(p.liquidation_alert(2.0, 30_999, every), None);
        // ...then again, and again one interval later.
        assert!(p.liquidation_alert(2.0, 31_000, every).is_some());
        assert_eq!(p.liquidation_alert(2.0, 45_000, every), None);
        assert!(p.liquidation_alert(2.0, 61_000, every).is_some());
        // Out re-arms: coming back in fires at once.
        p.set_mark(90.0);
        assert_eq!(p.liquidation_alert(2.0, 62_000, every), None);
        p.set_mark(81.5);
        assert!(p.liquidation_alert(2.0, 63_000, every).is_some());
    }

    /// Strategy for the 50x examples: size 100 USDT, fee 6 bps, no slippage.
    fn fifty_x(direction: Direction) -> StrategySettings {
        StrategySettings {
            leverage: 50.0,
            size_quote: 100.0,
            ..strat(direction, 6.0, 0.0)
        }
    }

    #[test]
    fn short_50x_liquidation_hand_worked() {
        // Short 100 USDT at 100 000, 50x, mmr 0.5 %, fee 6 bps, no slippage:
        //   quantity = 100 / 100 000 = 0.001; margin = 100 / 50 = 2; entry fee = 100 x 0.0006 = 0.06
        //   liq = 100 000 x (1 + 1/50 - 0.005) = 100 000 x 1.015 = 101 500
        //   mark 101 600 (past liq) -> closed AT 101 500:
        //   exit fee = 0.001 x 101 500 x 0.0006 = 0.0609; fees = 0.1209
        //   price pnl at liq = -0.001 x 1 500 = -1.5 = -margin + mmr x size (2 - 0.5)
        //   realized = -margin - fees = -2 - 0.1209 = -2.1209; pnl_pct = -106.045 %
        let mut p = PaperPosition::open(7, &fifty_x(Direction::Short), 0.005, 100_000.0, 0);
        approx(p.quantity, 0.001);
        approx(p.margin(), 2.0);
        approx(p.fees(), 0.06);
        approx(p.liquidation_price(), 101_500.0);
        p.set_mark(101_499.0);
        assert!(!p.liquidation_crossed());
        p.set_mark(101_600.0);
        assert!(p.liquidation_crossed());
        let exit = p.liquidate(9_000, "liquidated".into());
        approx(exit, 101_500.0);
        approx(p.fees(), 0.1209);
        approx(p.realized(), -2.1209);
        approx(p.pnl_pct(), -106.045);
        let v = p.view("s", "BTC_USDT");
        assert_eq!(v.status, PositionStatus::Closed);
        approx(v.exit_price.unwrap(), 101_500.0);
        assert_eq!(v.closed_at_ms, Some(9_000));
        assert!(
            !p.liquidation_crossed(),
            "a closed position is not liquidated twice"
        );
    }

    #[test]
    fn long_50x_liquidation_hand_worked() {
        // Long 100 USDT at 100 000, 50x, mmr 0.5 %, fee 6 bps, no slippage:
        //   quantity 0.001, margin 2, entry fee 0.06
        //   liq = 100 000 x (1 - 1/50 + 0.005) = 100 000 x 0.985 = 98 500
        //   mark 98 000 (past liq) -> closed AT 98 500:
        //   exit fee = 0.001 x 98 500 x 0.0006 = 0.0591; fees = 0.1191
        //   realized = -2 - 0.1191 = -2.1191; pnl_pct = -105.955 %
        let mut p = PaperPosition::open(8, &fifty_x(Direction::Long), 0.005, 100_000.0, 0);
        approx(p.liquidation_price(), 98_500.0);
        p.set_mark(98_500.0); // at the price counts as reached
        assert!(p.liquidation_crossed());
        p.set_mark(98_000.0);
        let exit = p.liquidate(1, "liquidated".into());
        approx(exit, 98_500.0);
        approx(p.fees(), 0.1191);
        approx(p.realized(), -2.1191);
        approx(p.pnl_pct(), -105.955);
    }

    #[test]
    fn restore_keeps_entry_size_leverage_liquidation_and_id() {
        let s = fifty_x(Direction::Short);
        let mut p = PaperPosition::open(42, &s, 0.005, 100_000.0, 5);
        p.set_mark(100_200.0);
        let v = p.view("s", "BTC_USDT");
        let r = PaperPosition::restore(&v, &s).unwrap();
        assert_eq!(r.view("s", "BTC_USDT"), v);
        let mut closed = v.clone();
        closed.status = PositionStatus::Closed;
        assert!(PaperPosition::restore(&closed, &s).is_none());
        let mut broken = v;
        broken.quantity = f64::NAN;
        assert!(PaperPosition::restore(&broken, &s).is_none());
    }
}
