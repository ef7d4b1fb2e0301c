//! One contract's order book, as MEXC's depth endpoints and streams expose it: price levels in
//! ticks with absolute sizes in contracts and an order count, and a version that counts commits.
//!
//! Every change to the book is part of a commit with the next version; a commit lists the new
//! absolute state of each level it touched (0 contracts = the level is gone). The same commits
//! feed `GET depth_commits`, the unmerged `push.depth` frames (one per commit) and the merged ones
//! (a contiguous range `begin..=end`), and `GET depth` reports the version of the last one, so a
//! client can take a snapshot and continue with pushes as MEXC's recipe says.
//!
//! Pure: randomness comes from the caller's generator, prices and sizes from the market model.

use fastrand::Rng;
use std::collections::{BTreeMap, VecDeque};

/// Levels kept per side.
pub const BOOK_LEVELS: usize = 50;
/// Commits remembered for `depth_commits` (the docs' recipe asks for 1000).
pub const COMMIT_LOG: usize = 1000;
/// Chance that a price between the old and the new best gets a level when the quote moves.
const GAP_FILL_CHANCE: f64 = 0.7;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Bid,
    Ask,
}

/// The absolute state of one level after a commit; `contracts == 0` deletes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Change {
    pub side: Side,
    pub price: i64,
    pub contracts: u64,
    pub orders: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub version: u64,
    pub changes: Vec<Change>,
}

/// One level of a snapshot (best first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Level {
    pub price: i64,
    pub contracts: u64,
    pub orders: u32,
}

#[derive(Debug, Clone)]
pub struct Book {
    /// Price in ticks -> (contracts, orders).
    bids: BTreeMap<i64, (u64, u32)>,
    asks: BTreeMap<i64, (u64, u32)>,
    version: u64,
    log: VecDeque<Commit>,
    /// Typical level size, from the contract's mean trade size.
    mean_contracts: f64,
}

/// A fresh level: sizes grow a little away from the touch, as on a real book.
fn fresh(rng: &mut Rng, mean_contracts: f64, distance: i64) -> (u64, u32) {
    let z = crate::market::normal(rng);
    let size = mean_contracts * 3.0 * (0.8 * z).exp() * (1.0 + 0.05 * distance.min(100) as f64);
    let contracts = size.round().max(1.0) as u64;
    let orders = (1.0 + (contracts as f64 / mean_contracts.max(1.0)).sqrt()).round() as u32;
    (contracts, orders.clamp(1, 99))
}

/// Collects the level changes of one commit; a level touched twice keeps its last state.
struct Pending {
    changes: Vec<Change>,
}

impl Pending {
    fn new() -> Pending {
        Pending {
            changes: Vec::new(),
        }
    }

    fn record(&mut self, c: Change) {
        match self
            .changes
            .iter_mut()
            .find(|x| x.side == c.side && x.price == c.price)
        {
            Some(x) => *x = c,
            None => self.changes.push(c),
        }
    }
}

impl Book {
    /// A full book around `bid`/`ask` (ticks). No commit is logged for the initial state;
    /// `version` is where the counter starts.
    pub fn new(rng: &mut Rng, bid: i64, ask: i64, mean_contracts: f64, version: u64) -> Book {
        let mut book = Book {
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            version,
            log: VecDeque::new(),
            mean_contracts,
        };
        let mut scratch = Pending::new();
        book.requote_into(rng, bid, ask, &mut scratch);
        book
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    fn side(&mut self, side: Side) -> &mut BTreeMap<i64, (u64, u32)> {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    fn set(&mut self, p: &mut Pending, side: Side, price: i64, contracts: u64, orders: u32) {
        let levels = self.side(side);
        if contracts == 0 {
            if levels.remove(&price).is_none() {
                return;
            }
            p.record(Change {
                side,
                price,
                contracts: 0,
                orders: 0,
            });
        } else {
            if levels.insert(price, (contracts, orders)) == Some((contracts, orders)) {
                return;
            }
            p.record(Change {
                side,
                price,
                contracts,
                orders,
            });
        }
    }

    fn finish(&mut self, p: Pending) {
        if p.changes.is_empty() {
            return;
        }
        self.version += 1;
        if self.log.len() == COMMIT_LOG {
            self.log.pop_front();
        }
        self.log.push_back(Commit {
            version: self.version,
            changes: p.changes,
        });
    }

    /// A taker trade: a buy sweeps every ask below its price and takes `contracts` from the
    /// level at its price (a sell likewise on the bids). One commit. The quote can run ahead of
    /// the book between requotes; a trade that leaves a side thin refills it in the same commit
    /// (liquidity behind the move), so no reader ever sees an empty side.
    pub fn trade(&mut self, rng: &mut Rng, taker_buy: bool, price: i64, contracts: u64) {
        let mut p = Pending::new();
        let (side, swept): (Side, Vec<i64>) = if taker_buy {
            (
                Side::Ask,
                self.asks.range(..price).map(|(k, _)| *k).collect(),
            )
        } else {
            let above = price.saturating_add(1);
            (
                Side::Bid,
                self.bids.range(above..).map(|(k, _)| *k).collect(),
            )
        };
        for level in swept {
            self.set(&mut p, side, level, 0, 0);
        }
        if let Some(&(size, orders)) = self.side(side).get(&price) {
            let left = size.saturating_sub(contracts);
            let orders = if left == 0 { 0 } else { orders.max(1) };
            self.set(&mut p, side, price, left, orders);
        }
        if self.bids.len() < BOOK_LEVELS / 2 || self.asks.len() < BOOK_LEVELS / 2 {
            let best_bid = self.bids.keys().next_back().copied();
            let best_ask = self.asks.keys().next().copied();
            let (bid, ask) = match (best_bid, best_ask) {
                (Some(b), Some(a)) => (b, a),
                (Some(b), None) => (b, price.max(b + 1)),
                (None, Some(a)) => (price.min(a - 1), a),
                (None, None) => (price - 1, price + 1),
            };
            self.requote_into(rng, bid, ask, &mut p);
        }
        self.finish(p);
    }

    /// Move the touch to `bid`/`ask` (ticks, `bid < ask`): crossed levels go, the touch gets a
    /// level, some of the ticks the quote moved over fill in, and each side is brought back to
    /// [`BOOK_LEVELS`]. One commit.
    pub fn requote(&mut self, rng: &mut Rng, bid: i64, ask: i64) {
        let mut p = Pending::new();
        self.requote_into(rng, bid, ask, &mut p);
        self.finish(p);
    }

    fn requote_into(&mut self, rng: &mut Rng, bid: i64, ask: i64, p: &mut Pending) {
        let bid = bid.max(1);
        let ask = ask.max(bid + 1);
        let mean = self.mean_contracts;
        let crossed_bids: Vec<i64> = self.bids.range(bid + 1..).map(|(k, _)| *k).collect();
        for price in crossed_bids {
            self.set(p, Side::Bid, price, 0, 0);
        }
        let crossed_asks: Vec<i64> = self.asks.range(..ask).map(|(k, _)| *k).collect();
        for price in crossed_asks {
            self.set(p, Side::Ask, price, 0, 0);
        }
        // The touch, then the ticks between it and the next resting level.
        for side in [Side::Bid, Side::Ask] {
            let (touch, step) = match side {
                Side::Bid => (bid, -1),
                Side::Ask => (ask, 1),
            };
            if !self.side(side).contains_key(&touch) {
                let (c, o) = fresh(rng, mean, 0);
                self.set(p, side, touch, c, o);
            }
            let next = match side {
                Side::Bid => self.bids.range(..touch).next_back().map(|(k, _)| *k),
                Side::Ask => self.asks.range(touch + 1..).next().map(|(k, _)| *k),
            };
            if let Some(next) = next {
                let mut price = touch + step;
                let mut filled = 0;
                while price != next && filled < BOOK_LEVELS {
                    if rng.f64() < GAP_FILL_CHANCE {
                        let (c, o) = fresh(rng, mean, (price - touch).abs());
                        self.set(p, side, price, c, o);
                    }
                    price += step;
                    filled += 1;
                }
            }
            // Deepen to the target, leaving the odd empty tick.
            while self.side(side).len() < BOOK_LEVELS {
                let deepest = match side {
                    Side::Bid => self.bids.keys().next().copied().unwrap_or(touch),
                    Side::Ask => self.asks.keys().next_back().copied().unwrap_or(touch),
                };
                let price = deepest + step * (1 + i64::from(rng.f64() < 0.2));
                if price < 1 {
                    break;
                }
                let (c, o) = fresh(rng, mean, (price - touch).abs());
                self.set(p, side, price, c, o);
            }
            while self.side(side).len() > BOOK_LEVELS {
                let deepest = match side {
                    Side::Bid => self.bids.keys().next().copied(),
                    Side::Ask => self.asks.keys().next_back().copied(),
                };
                match deepest {
                    Some(price) => self.set(p, side, price, 0, 0),
                    None => break,
                }
            }
        }
    }

    /// Resting orders come and go: `n` commits, each resizing (or now and then removing) one
    /// level near the touch. The touch itself is resized, never removed.
    pub fn churn(&mut self, rng: &mut Rng, n: usize) {
        for _ in 0..n {
            let side = if rng.bool() { Side::Bid } else { Side::Ask };
            let near: Vec<(i64, u64, u32)> = self
                .levels(side)
                .take(20)
                .map(|l| (l.price, l.contracts, l.orders))
                .collect();
            let Some(&(price, size, orders)) = near.get(rng.usize(0..near.len().max(1))) else {
                continue;
            };
            let is_touch = near.first().is_some_and(|t| t.0 == price);
            let mut p = Pending::new();
            if !is_touch && near.len() > 2 && rng.f64() < 0.1 {
                self.set(&mut p, side, price, 0, 0);
            } else {
                let z = crate::market::normal(rng);
                let contracts = ((size as f64) * (0.3 * z).exp()).round().max(1.0) as u64;
                let orders = if contracts > size {
                    orders.saturating_add(1).min(99)
                } else {
                    orders.saturating_sub(u32::from(orders > 1))
                };
                self.set(&mut p, side, price, contracts, orders);
            }
            self.finish(p);
        }
    }

    /// Levels of one side, best first.
    pub fn levels(&self, side: Side) -> Box<dyn Iterator<Item = Level> + '_> {
        let level = |(price, (contracts, orders)): (&i64, &(u64, u32))| Level {
            price: *price,
            contracts: *contracts,
            orders: *orders,
        };
        match side {
            Side::Bid => Box::new(self.bids.iter().rev().map(level)),
            Side::Ask => Box::new(self.asks.iter().map(level)),
        }
    }

    /// The best `n` levels of each side: `(bids, asks)`.
    pub fn top(&self, n: usize) -> (Vec<Level>, Vec<Level>) {
        (
            self.levels(Side::Bid).take(n).collect(),
            self.levels(Side::Ask).take(n).collect(),
        )
    }

    /// Commits after `version`, oldest first (as many as the log still holds).
    pub fn commits_after(&self, version: u64) -> impl Iterator<Item = &Commit> {
        let skip = self.log.partition_point(|c| c.version <= version);
        self.log.range(skip..)
    }

    /// The last `n` commits, newest first.
    pub fn recent_commits(&self, n: usize) -> impl Iterator<Item = &Commit> {
        self.log.iter().rev().take(n)
    }
}

/// Changes of several consecutive commits folded into the last state of each level, asks
/// ascending and bids descending (the order MEXC's merged frames have).
pub fn merge<'a>(commits: impl IntoIterator<Item = &'a Commit>) -> (Vec<Change>, Vec<Change>) {
    let mut bids: BTreeMap<i64, Change> = BTreeMap::new();
    let mut asks: BTreeMap<i64, Change> = BTreeMap::new();
    for c in commits {
        for ch in &c.changes {
            match ch.side {
                Side::Bid => bids.insert(ch.price, *ch),
                Side::Ask => asks.insert(ch.price, *ch),
            };
        }
    }
    (
        bids.into_values().rev().collect(),
        asks.into_values().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's copy of the book, built only from what the server publishes.
    #[derive(Default, Debug, PartialEq)]
    struct Copy {
        bids: BTreeMap<i64, (u64, u32)>,
        asks: BTreeMap<i64, (u64, u32)>,
    }

    impl Copy {
        fn from_snapshot(b: &Book) -> Copy {
            let mut c = Copy::default();
            for l in b.levels(Side::Bid) {
                c.bids.insert(l.price, (l.contracts, l.orders));
            }
            for l in b.levels(Side::Ask) {
                c.asks.insert(l.price, (l.contracts, l.orders));
            }
            c
        }

        fn apply(&mut self, ch: &Change) {
            let side = match ch.side {
                Side::Bid => &mut self.bids,
                Side::Ask => &mut self.asks,
            };
            if ch.contracts == 0 {
                side.remove(&ch.price);
            } else {
                side.insert(ch.price, (ch.contracts, ch.orders));
            }
        }
    }

    fn book(seed: u64) -> (Rng, Book) {
        let mut rng = Rng::with_seed(seed);
        let b = Book::new(&mut rng, 950_000, 950_005, 200.0, 1_000);
        (rng, b)
    }

    /// `full`: right after a requote, every side has exactly `BOOK_LEVELS`.
    fn check_invariants(b: &Book, full: bool) {
        let (bids, asks) = b.top(BOOK_LEVELS + 5);
        for side in [&bids, &asks] {
            assert!(side.len() <= BOOK_LEVELS && side.len() + 5 >= BOOK_LEVELS);
            assert!(!full || side.len() == BOOK_LEVELS);
        }
        assert!(bids[0].price < asks[0].price, "crossed");
        assert!(bids.windows(2).all(|w| w[0].price > w[1].price));
        assert!(asks.windows(2).all(|w| w[0].price < w[1].price));
        assert!(
            bids.iter()
                .chain(&asks)
                .all(|l| l.contracts > 0 && l.orders > 0)
        );
    }

    #[test]
    fn a_new_book_is_full_uncrossed_and_has_no_commits() {
        let (_, b) = book(1);
        check_invariants(&b, true);
        assert_eq!(b.version(), 1_000);
        assert_eq!(b.recent_commits(10).count(), 0);
        let (bids, asks) = b.top(1);
        assert_eq!((bids[0].price, asks[0].price), (950_000, 950_005));
    }

    #[test]
    fn versions_count_commits_and_replaying_them_rebuilds_the_book() {
        let (mut rng, mut b) = book(2);
        let snapshot = Copy::from_snapshot(&b);
        let v0 = b.version();
        let mut copy = snapshot;
        let (mut bid, mut ask) = (950_000, 950_005);
        // Fewer commits than the log holds, so every one can be replayed.
        for step in 0..150 {
            let drift = rng.i64(-3..=3);
            bid += drift;
            ask += drift;
            if step % 3 == 0 {
                let (bids, asks) = b.top(1);
                b.trade(&mut rng, true, asks[0].price + 1, 500);
                b.trade(&mut rng, false, bids[0].price, 100);
            }
            b.requote(&mut rng, bid, ask);
            check_invariants(&b, true);
            b.churn(&mut rng, 2);
            check_invariants(&b, false);
        }
        let commits: Vec<&Commit> = b.commits_after(v0).collect();
        assert!(commits.len() > 300, "{}", commits.len());
        assert_eq!(commits.len() as u64, b.version() - v0);
        // Contiguous versions, no empty commit.
        for (k, c) in commits.iter().enumerate() {
            assert_eq!(c.version, v0 + 1 + k as u64);
            assert!(!c.changes.is_empty());
        }
        assert_eq!(b.version(), commits.last().unwrap().version);
        // Replaying them one by one, or merged in arbitrary contiguous chunks, gives the book.
        let mut merged = Copy {
            bids: copy.bids.clone(),
            asks: copy.asks.clone(),
        };
        for c in &commits {
            for ch in &c.changes {
                copy.apply(ch);
            }
        }
        assert_eq!(copy, Copy::from_snapshot(&b));
        for chunk in commits.chunks(7) {
            let (bids, asks) = merge(chunk.iter().copied());
            assert!(bids.windows(2).all(|w| w[0].price > w[1].price));
            assert!(asks.windows(2).all(|w| w[0].price < w[1].price));
            for ch in bids.iter().chain(&asks) {
                merged.apply(ch);
            }
        }
        assert_eq!(merged, Copy::from_snapshot(&b));
    }

    #[test]
    fn a_buy_sweeps_the_asks_below_its_price() {
        let (mut rng, mut b) = book(3);
        let (_, asks) = b.top(3);
        let v = b.version();
        b.trade(&mut rng, true, asks[2].price, 1);
        let (_, after) = b.top(1);
        assert_eq!(after[0].price, asks[2].price);
        let commit = b.commits_after(v).next().unwrap();
        assert_eq!(commit.version, v + 1);
        let deleted = commit.changes.iter().filter(|c| c.contracts == 0).count();
        assert_eq!(deleted, 2);
    }

    #[test]
    fn a_trade_beyond_the_book_leaves_no_side_empty() {
        let (mut rng, mut b) = book(5);
        let (bids, asks) = b.top(BOOK_LEVELS);
        let v = b.version();
        // The quote ran far ahead: a buy above every ask, then a sell below every bid.
        b.trade(&mut rng, true, asks[BOOK_LEVELS - 1].price + 500, 10);
        check_invariants(&b, false);
        let (_, after) = b.top(1);
        assert!(after[0].price >= asks[BOOK_LEVELS - 1].price + 500);
        b.trade(&mut rng, false, bids[BOOK_LEVELS - 1].price - 500, 10);
        check_invariants(&b, false);
        assert_eq!(b.version(), v + 2, "one commit per trade");
    }

    #[test]
    fn the_log_keeps_the_last_commits_newest_first() {
        let (mut rng, mut b) = book(4);
        b.churn(&mut rng, COMMIT_LOG + 50);
        let recent: Vec<u64> = b
            .recent_commits(COMMIT_LOG + 10)
            .map(|c| c.version)
            .collect();
        assert_eq!(recent.len(), COMMIT_LOG);
        assert_eq!(recent[0], b.version());
        assert!(recent.windows(2).all(|w| w[0] == w[1] + 1));
        assert_eq!(b.commits_after(b.version()).count(), 0);
    }
}
