//! Trade de-duplication across reconnects and across connections: a fresh subscription may
//! replay trades already seen, and during a make-before-break rotation two sockets deliver
//! the same trades. One instance is shared by every connection of the adapter.
//!
//! Per symbol we keep the set of recently seen ids (MEXC ids `i` increase per symbol) and a
//! floor below which everything counts as seen. A set, not just "the last id", because two
//! sockets interleave: the new socket may deliver 102 before the lagging old one delivers
//! 101, and 101 must still pass. Trades without an id pass through.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use trademon_core::market::Trade;

/// Ids remembered per symbol above the floor; far more than any replay window.
const WINDOW: usize = 4096;

#[derive(Debug, Default)]
struct Seen {
    ids: BTreeSet<u64>,
    /// Ids at or below this were seen (or are too old to matter).
    floor: Option<u64>,
}

#[derive(Debug, Default)]
pub struct TradeDedupe {
    seen: HashMap<String, Seen>,
    dropped: u64,
}

/// The adapter-wide instance; the lock is held only for one batch.
pub type SharedDedupe = Arc<Mutex<TradeDedupe>>;

impl TradeDedupe {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps trades not seen before for `symbol` (and trades without an id).
    pub fn filter(&mut self, symbol: &str, trades: Vec<Trade>) -> Vec<Trade> {
        let seen = self.seen.entry(symbol.to_string()).or_default();
        let before = trades.len();
        let kept: Vec<Trade> = trades
            .into_iter()
            .filter(|t| match t.id {
                None => true,
                Some(id) if seen.floor.is_some_and(|f| id <= f) => false,
                Some(id) => seen.ids.insert(id),
            })
            .collect();
        while seen.ids.len() > WINDOW {
            seen.floor = seen.ids.pop_first();
        }
        self.dropped += (before - kept.len()) as u64;
        kept
    }

    /// Trades dropped as duplicates since start (for diagnostics).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Filter through the shared instance. A poisoned lock (a panic elsewhere while holding
/// it) still holds consistent data: recover it rather than lose trades.
pub fn filter_shared(d: &SharedDedupe, symbol: &str, trades: Vec<Trade>) -> Vec<Trade> {
    let mut guard = d.lock().unwrap_or_else(|p| p.into_inner());
    guard.filter(symbol, trades)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trademon_core::market::Side;

    fn t(id: Option<u64>) -> Trade {
        Trade {
            self_trade: false,
            id,
            price: 1.0,
            contracts: 1.0,
            taker: Side::Buy,
            ts_ms: 0,
        }
    }

    fn ids(v: &[Trade]) -> Vec<Option<u64>> {
        v.iter().map(|t| t.id).collect()
    }

    #[test]
    fn replayed_ids_are_dropped_per_symbol() {
        let mut d = TradeDedupe::new();
        assert_eq!(
            ids(&d.filter("A", vec![t(Some(1)), t(Some(2))])),
            [Some(1), Some(2)]
        );
        // Replay after reconnect overlaps the old tail.
        assert_eq!(ids(&d.filter("A", vec![t(Some(2)), t(Some(3))])), [Some(3)]);
        // Another symbol has its own sequence.
        assert_eq!(ids(&d.filter("B", vec![t(Some(1))])), [Some(1)]);
        assert_eq!(d.dropped(), 1);
    }

    #[test]
    fn duplicates_inside_one_batch_and_missing_ids() {
        let mut d = TradeDedupe::new();
        let kept = d.filter(
            "A",
            vec![t(Some(5)), t(None), t(Some(5)), t(Some(4)), t(Some(6))],
        );
        // 4 was never seen: a lagging second socket may deliver it late; it passes.
        assert_eq!(ids(&kept), [Some(5), None, Some(4), Some(6)]);
        assert_eq!(ids(&d.filter("A", vec![t(None)])), [None]);
    }

    #[test]
    fn window_moves_the_floor() {
        let mut d = TradeDedupe::new();
        let n = WINDOW as u64 + 10;
        assert_eq!(
            d.filter("A", (1..=n).map(|i| t(Some(i))).collect()).len(),
            n as usize
        );
        assert!(
            d.filter("A", vec![t(Some(3))]).is_empty(),
            "below the floor"
        );
        assert_eq!(ids(&d.filter("A", vec![t(Some(n + 1))])), [Some(n + 1)]);
    }
}
