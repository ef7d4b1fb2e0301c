//! Trade de-duplication across reconnects: MEXC trade ids (`i`) increase per symbol, and a
//! fresh subscription may replay trades already seen on the previous socket. Keeping the
//! last id per symbol (not per connection) drops those replays; trades without an id pass.

use std::collections::HashMap;

use crate::exchange::Trade;

#[derive(Debug, Default)]
pub struct TradeDedupe {
    last_id: HashMap<String, u64>,
    dropped: u64,
}

impl TradeDedupe {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps trades whose id is above the last one seen for `symbol` (or that have no id).
    pub fn filter(&mut self, symbol: &str, trades: Vec<Trade>) -> Vec<Trade> {
        let mut last = self.last_id.get(symbol).copied();
        let before = trades.len();
        let kept: Vec<Trade> = trades
            .into_iter()
            .filter(|t| match (t.id, last) {
                (None, _) => true,
                (Some(id), Some(l)) if id <= l => false,
                (Some(id), _) => {
                    last = Some(id);
                    true
                }
            })
            .collect();
        if let Some(l) = last {
            self.last_id.insert(symbol.to_string(), l);
        }
        self.dropped += (before - kept.len()) as u64;
        kept
    }

    /// Trades dropped as duplicates since start (for diagnostics).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Side;

    fn t(id: Option<u64>) -> Trade {
        Trade {
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
        assert_eq!(ids(&kept), [Some(5), None, Some(6)]);
        assert_eq!(ids(&d.filter("A", vec![t(None)])), [None]);
    }
}
