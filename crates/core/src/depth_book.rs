//! One symbol's whole order book, kept from a REST snapshot and MEXC's incremental
//! `push.depth` frames, pure (no IO, no clock).
//!
//! MEXC merges incremental frames since 2025-04: a frame covers the contiguous version range
//! `begin..=end` (an unmerged frame has only `version`, so `begin = end = version`) and carries
//! every level changed in that range with its size after `end`. Sizes are absolute and a size
//! of 0 deletes the level, so applying a frame that overlaps versions the book already holds
//! is harmless. The documented "version must be previous + 1" rule does not hold for merged
//! frames; the range rules below do:
//!
//! - `end <= version`: stale, dropped;
//! - `begin <= version + 1 <= end`: applied, the book moves to `end`;
//! - otherwise versions are missing: a gap. The book cannot be trusted past it and the caller
//!   resyncs from a REST snapshot (`GET /api/v1/contract/depth/{symbol}`).
//!
//! [`DepthBook`] applies these rules to a synced book; [`DepthSync`] adds what a live feed
//! needs around it: frames that arrive before the snapshot (or after a gap) wait in a bounded
//! buffer and are applied on top of the next snapshot by the same rules.

use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};

use trademon_protocol::BookLevel;

/// A whole book at one version (the REST depth endpoint's answer).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DepthSnapshot {
    pub version: u64,
    pub bids: Vec<BookLevel>,
    pub asks: Vec<BookLevel>,
}

/// One incremental frame: the levels changed in versions `begin..=end`, absolute sizes,
/// size 0 = level removed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DepthDelta {
    pub begin: u64,
    pub end: u64,
    pub bids: Vec<BookLevel>,
    pub asks: Vec<BookLevel>,
}

/// What applying one frame to a synced book did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Apply {
    Applied,
    /// `end <= version`: everything in it is already in the book.
    Stale,
    /// Versions between the book and the frame are missing: the book is unchanged and must be
    /// resynced from a snapshot.
    Gap {
        expected: u64,
        begin: u64,
    },
}

/// A price as a map key: the exchange's prices are finite (the parser drops the rest), and
/// the same decimal always parses to the same f64, so ordering by `total_cmp` is exact.
#[derive(Debug, Clone, Copy)]
struct Price(f64);

impl PartialEq for Price {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Price {}
impl PartialOrd for Price {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Price {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

type Side = BTreeMap<Price, (f64, u32)>;

/// A synced book: every level of both sides at `version`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DepthBook {
    version: u64,
    bids: Side,
    asks: Side,
}

fn set_levels(side: &mut Side, levels: &[BookLevel]) {
    for l in levels {
        // A non-positive or non-finite size cannot rest on a book: treat it like 0.
        if l.contracts > 0.0 && l.contracts.is_finite() {
            side.insert(Price(l.price), (l.contracts, l.orders));
        } else {
            side.remove(&Price(l.price));
        }
    }
}

fn level((p, (c, o)): (&Price, &(f64, u32))) -> BookLevel {
    BookLevel {
        price: p.0,
        contracts: *c,
        orders: *o,
    }
}

impl DepthBook {
    pub fn from_snapshot(s: &DepthSnapshot) -> DepthBook {
        let mut book = DepthBook {
            version: s.version,
            ..DepthBook::default()
        };
        set_levels(&mut book.bids, &s.bids);
        set_levels(&mut book.asks, &s.asks);
        book
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn apply(&mut self, d: &DepthDelta) -> Apply {
        if d.end <= self.version {
            return Apply::Stale;
        }
        let next = self.version.saturating_add(1);
        if d.begin <= next && next <= d.end {
            set_levels(&mut self.bids, &d.bids);
            set_levels(&mut self.asks, &d.asks);
            self.version = d.end;
            Apply::Applied
        } else {
            Apply::Gap {
                expected: next,
                begin: d.begin,
            }
        }
    }

    /// The best `n` levels of each side, best first: bids from the highest price down, asks
    /// from the lowest up.
    pub fn top(&self, n: usize) -> (Vec<BookLevel>, Vec<BookLevel>) {
        (
            self.bids.iter().rev().take(n).map(level).collect(),
            self.asks.iter().take(n).map(level).collect(),
        )
    }

    /// Every level, best first (tests compare whole books).
    pub fn levels(&self) -> (Vec<BookLevel>, Vec<BookLevel>) {
        self.top(usize::MAX)
    }
}

/// What one input did to a [`DepthSync`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncEvent {
    /// A frame moved the synced book forward.
    Changed,
    /// Nothing visible: a stale frame, or one buffered while waiting for a snapshot.
    Unchanged,
    /// A synced book met missing versions: it is dropped, this frame is buffered, and a
    /// snapshot is needed. Counted by the caller.
    Gap { expected: u64, begin: u64 },
    /// Synced from a snapshot, with the buffered frames applied on top.
    Synced,
    /// The snapshot is older than the buffered frames (versions between them are missing):
    /// a newer snapshot is needed. Not a stream gap, just a snapshot taken too early.
    SnapshotTooOld { version: u64, first_begin: u64 },
}

/// A live feed's book: either synced, or waiting for a snapshot with the frames since.
#[derive(Debug, Clone)]
pub struct DepthSync {
    book: Option<DepthBook>,
    pending: VecDeque<DepthDelta>,
    max_pending: usize,
}

impl DepthSync {
    /// `max_pending`: frames kept while waiting for a snapshot; older ones are dropped first
    /// (a snapshot fetched after them makes them stale anyway).
    pub fn new(max_pending: usize) -> DepthSync {
        DepthSync {
            book: None,
            pending: VecDeque::new(),
            max_pending: max_pending.max(1),
        }
    }

    pub fn book(&self) -> Option<&DepthBook> {
        self.book.as_ref()
    }

    pub fn is_synced(&self) -> bool {
        self.book.is_some()
    }

    /// The stream broke (reconnect, resubscribe): nothing known holds any more.
    pub fn reset(&mut self) {
        self.book = None;
        self.pending.clear();
    }

    fn buffer(&mut self, d: DepthDelta) {
        if self.pending.len() >= self.max_pending {
            self.pending.pop_front();
        }
        self.pending.push_back(d);
    }

    pub fn push(&mut self, d: DepthDelta) -> SyncEvent {
        let Some(book) = self.book.as_mut() else {
            self.buffer(d);
            return SyncEvent::Unchanged;
        };
        match book.apply(&d) {
            Apply::Applied => SyncEvent::Changed,
            Apply::Stale => SyncEvent::Unchanged,
            Apply::Gap { expected, begin } => {
                self.book = None;
                self.pending.clear();
                self.buffer(d);
                SyncEvent::Gap { expected, begin }
            }
        }
    }

    /// A REST snapshot arrived. While synced, only a newer snapshot replaces the book.
    pub fn snapshot(&mut self, s: &DepthSnapshot) -> SyncEvent {
        if let Some(book) = &self.book {
            if s.version <= book.version {
                return SyncEvent::Unchanged;
            }
            self.book = Some(DepthBook::from_snapshot(s));
            return SyncEvent::Synced;
        }
        let mut book = DepthBook::from_snapshot(s);
        while let Some(d) = self.pending.pop_front() {
            match book.apply(&d) {
                Apply::Applied | Apply::Stale => {}
                Apply::Gap { begin, .. } => {
                    self.pending.push_front(d);
                    return SyncEvent::SnapshotTooOld {
                        version: s.version,
                        first_begin: begin,
                    };
                }
            }
        }
        self.book = Some(book);
        SyncEvent::Synced
    }
}

#[cfg(test)]
mod tests;
