//! One (symbol, interval)'s candle series: merged by open time `t`, bounded, and aware of which
//! candles have closed (a newer `t` exists) so each reaches the store once.

use std::collections::{BTreeMap, BTreeSet};
use trademon_protocol::Candle;

struct Kept {
    candle: Candle,
    /// Handed to the store in this value (a later correction clears it).
    stored: bool,
}

/// What one merge changed.
#[derive(Debug, Default, PartialEq)]
pub struct Merged {
    /// The candles that changed (new, or a new value for their `t`), oldest first: the delta.
    pub changed: Vec<Candle>,
    /// Candles now closed whose value the store has not had yet, oldest first.
    pub closed: Vec<Candle>,
}

pub struct Series {
    candles: BTreeMap<i64, Kept>,
    max: usize,
}

impl Series {
    pub fn new(max: usize) -> Series {
        Series {
            candles: BTreeMap::new(),
            max: max.max(1),
        }
    }

    /// Oldest first.
    pub fn all(&self) -> Vec<Candle> {
        self.candles.values().map(|k| k.candle).collect()
    }

    /// Merges a REST window or a pushed candle. A later value for the same `t` replaces the
    /// earlier one and an identical one changes nothing, so overlapping windows and repeated
    /// pushes are harmless. A candle is closed once a newer `t` is known: the store gets it
    /// then (and again only if a later value corrects it). When the series is full, candles
    /// older than all it keeps are ignored.
    pub fn merge(&mut self, incoming: &[Candle]) -> Merged {
        let prev_newest = self.newest();
        let floor = (self.candles.len() >= self.max)
            .then(|| self.candles.keys().next().copied())
            .flatten();
        let mut touched = BTreeSet::new();
        for c in incoming {
            if !is_finite(c) || floor.is_some_and(|f| c.t < f) {
                continue;
            }
            match self.candles.get_mut(&c.t) {
                Some(k) if k.candle == *c => {}
                Some(k) => {
                    k.candle = *c;
                    k.stored = false;
                    touched.insert(c.t);
                }
                None => {
                    let kept = Kept {
                        candle: *c,
                        stored: false,
                    };
                    self.candles.insert(c.t, kept);
                    touched.insert(c.t);
                }
            }
        }
        let newest = self.newest();
        let mut closed = Vec::new();
        // Before trimming: a REST window longer than the series still reaches the store whole.
        let candidates: BTreeSet<i64> = touched.iter().copied().chain(prev_newest).collect();
        for t in candidates {
            if newest.is_some_and(|n| t < n)
                && let Some(k) = self.candles.get_mut(&t)
                && !k.stored
            {
                k.stored = true;
                closed.push(k.candle);
            }
        }
        while self.candles.len() > self.max {
            self.candles.pop_first();
        }
        let changed = touched
            .iter()
            .filter_map(|t| self.candles.get(t).map(|k| k.candle))
            .collect();
        Merged { changed, closed }
    }

    fn newest(&self) -> Option<i64> {
        self.candles.keys().next_back().copied()
    }
}

fn is_finite(c: &Candle) -> bool {
    [c.open, c.high, c.low, c.close, c.volume, c.amount]
        .iter()
        .all(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(t: i64, close: f64) -> Candle {
        Candle {
            t,
            open: 1.0,
            high: close.max(1.0),
            low: 1.0,
            close,
            volume: 2.0,
            amount: 3.0,
        }
    }

    fn ts(v: &[Candle]) -> Vec<i64> {
        v.iter().map(|c| c.t).collect()
    }

    #[test]
    fn pushes_update_the_open_candle_and_close_the_previous_once() {
        let mut s = Series::new(100);
        let m = s.merge(&[c(60, 1.0)]);
        assert_eq!((ts(&m.changed), ts(&m.closed)), (vec![60], vec![]));
        let m = s.merge(&[c(60, 2.0)]);
        assert_eq!((ts(&m.changed), ts(&m.closed)), (vec![60], vec![]));
        // The same value again: nothing changed, nothing to store.
        assert_eq!(s.merge(&[c(60, 2.0)]), Merged::default());
        // A new window closes the previous candle with its last value.
        let m = s.merge(&[c(120, 5.0)]);
        assert_eq!(ts(&m.changed), vec![120]);
        assert_eq!(m.closed, vec![c(60, 2.0)]);
        assert_eq!(s.merge(&[c(120, 6.0)]).closed, vec![]);
    }

    #[test]
    fn a_rest_window_overlapping_pushes_leaves_one_continuous_series() {
        let mut s = Series::new(100);
        for t in 0..4 {
            s.merge(&[c(t * 60, 10.0 + t as f64)]);
        }
        // A reconnect: the REST window covers the last pushes and the minutes missed.
        let window: Vec<Candle> = (2..8).map(|t| c(t * 60, 20.0 + t as f64)).collect();
        let m = s.merge(&window);
        assert_eq!(ts(&m.changed), vec![120, 180, 240, 300, 360, 420]);
        // 180 was the open candle, closed now; 120 is corrected; the window's own closed ones.
        assert_eq!(ts(&m.closed), vec![120, 180, 240, 300, 360]);
        let all = s.all();
        assert_eq!(ts(&all), (0..8).map(|t| t * 60).collect::<Vec<_>>());
        assert_eq!(
            all[2].close, 22.0,
            "the later value replaced the pushed one"
        );
        // The same window again (a duplicate): no delta, no second store.
        assert_eq!(s.merge(&window), Merged::default());
    }

    #[test]
    fn the_series_is_capped_and_ignores_what_is_older_than_it_keeps() {
        let mut s = Series::new(3);
        let window: Vec<Candle> = (0..5).map(|t| c(t, 1.0)).collect();
        let m = s.merge(&window);
        // All closed candles of the window reach the store, the series keeps the newest 3.
        assert_eq!(ts(&m.closed), vec![0, 1, 2, 3]);
        assert_eq!(ts(&m.changed), vec![2, 3, 4]);
        assert_eq!(ts(&s.all()), vec![2, 3, 4]);
        assert_eq!(s.merge(&window), Merged::default());
        let m = s.merge(&[c(5, 1.0)]);
        assert_eq!((ts(&m.changed), ts(&m.closed)), (vec![5], vec![4]));
        assert_eq!(ts(&s.all()), vec![3, 4, 5]);
    }

    #[test]
    fn a_candle_with_a_non_finite_value_is_dropped() {
        let mut s = Series::new(10);
        let mut bad = c(60, 1.0);
        bad.high = f64::NAN;
        assert_eq!(s.merge(&[bad]), Merged::default());
        assert!(s.all().is_empty());
    }
}
