use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn lv(price: f64, contracts: f64) -> BookLevel {
    BookLevel {
        price,
        contracts,
        orders: if contracts > 0.0 { 1 } else { 0 },
    }
}

fn delta(begin: u64, end: u64, bids: &[(f64, f64)], asks: &[(f64, f64)]) -> DepthDelta {
    DepthDelta {
        begin,
        end,
        bids: bids.iter().map(|&(p, c)| lv(p, c)).collect(),
        asks: asks.iter().map(|&(p, c)| lv(p, c)).collect(),
    }
}

fn snap(version: u64, bids: &[(f64, f64)], asks: &[(f64, f64)]) -> DepthSnapshot {
    DepthSnapshot {
        version,
        bids: bids.iter().map(|&(p, c)| lv(p, c)).collect(),
        asks: asks.iter().map(|&(p, c)| lv(p, c)).collect(),
    }
}

fn prices(levels: &[BookLevel]) -> Vec<f64> {
    levels.iter().map(|l| l.price).collect()
}

#[test]
fn merged_frames_follow_the_range_rules() {
    let mut b = DepthBook::from_snapshot(&snap(100, &[(10.0, 1.0)], &[(11.0, 1.0)]));
    // A range that started before the snapshot still applies (absolute sizes).
    assert_eq!(
        b.apply(&delta(98, 103, &[(10.0, 5.0)], &[])),
        Apply::Applied
    );
    assert_eq!(b.version(), 103);
    // Wholly older: dropped, the book keeps its size.
    assert_eq!(b.apply(&delta(101, 103, &[(10.0, 9.0)], &[])), Apply::Stale);
    assert_eq!(b.top(1).0[0].contracts, 5.0);
    // Exactly next, unmerged (begin = end = version).
    assert_eq!(
        b.apply(&delta(104, 104, &[], &[(11.0, 0.0)])),
        Apply::Applied
    );
    assert!(b.top(5).1.is_empty(), "size 0 deletes the level");
    // 105 is missing.
    assert_eq!(
        b.apply(&delta(106, 108, &[(9.0, 1.0)], &[])),
        Apply::Gap {
            expected: 105,
            begin: 106
        }
    );
    assert_eq!(b.version(), 104, "a gap leaves the book as it was");
    assert_eq!(prices(&b.top(5).0), vec![10.0]);
}

#[test]
fn top_is_best_first_on_both_sides() {
    let b = DepthBook::from_snapshot(&snap(
        1,
        &[(9.0, 1.0), (10.0, 2.0), (8.0, 3.0), (7.0, 0.0)],
        &[(12.0, 1.0), (11.0, 2.0), (13.0, 3.0)],
    ));
    let (bids, asks) = b.top(2);
    assert_eq!(prices(&bids), vec![10.0, 9.0]);
    assert_eq!(prices(&asks), vec![11.0, 12.0]);
    assert_eq!(
        b.levels().0.len(),
        3,
        "a zero level in a snapshot is not a level"
    );
}

#[test]
fn exponent_and_plain_prices_are_one_level() {
    let mut b = DepthBook::from_snapshot(&snap(1, &[("9.75E+4".parse().unwrap(), 1.0)], &[]));
    b.apply(&delta(2, 2, &[(97500.0, 0.0)], &[]));
    assert!(b.levels().0.is_empty());
}

#[test]
fn sync_buffers_until_the_snapshot_then_applies_by_the_rules() {
    let mut s = DepthSync::new(100);
    assert_eq!(
        s.push(delta(99, 101, &[(10.0, 1.0)], &[])),
        SyncEvent::Unchanged
    );
    assert_eq!(
        s.push(delta(102, 102, &[(10.0, 2.0)], &[])),
        SyncEvent::Unchanged
    );
    assert!(!s.is_synced());
    // The snapshot lands inside the first buffered range.
    assert_eq!(
        s.snapshot(&snap(100, &[(10.0, 7.0)], &[])),
        SyncEvent::Synced
    );
    let b = s.book().unwrap();
    assert_eq!((b.version(), b.top(1).0[0].contracts), (102, 2.0));
    assert_eq!(
        s.push(delta(103, 103, &[], &[(11.0, 1.0)])),
        SyncEvent::Changed
    );
    assert_eq!(
        s.push(delta(103, 103, &[], &[(11.0, 1.0)])),
        SyncEvent::Unchanged
    );
    // A gap drops the book and keeps the frame for the next snapshot.
    assert_eq!(
        s.push(delta(105, 106, &[(10.0, 3.0)], &[])),
        SyncEvent::Gap {
            expected: 104,
            begin: 105
        }
    );
    assert!(!s.is_synced());
    // A snapshot older than the buffered frame: ask again.
    assert_eq!(
        s.snapshot(&snap(103, &[], &[])),
        SyncEvent::SnapshotTooOld {
            version: 103,
            first_begin: 105
        }
    );
    assert_eq!(
        s.snapshot(&snap(105, &[(10.0, 1.0)], &[])),
        SyncEvent::Synced
    );
    assert_eq!(s.book().unwrap().version(), 106);
    assert_eq!(s.book().unwrap().top(1).0[0].contracts, 3.0);
}

#[test]
fn sync_keeps_only_the_newest_frames_and_reset_forgets_everything() {
    let mut s = DepthSync::new(2);
    for v in 1..=5 {
        s.push(delta(v, v, &[(v as f64, 1.0)], &[]));
    }
    // Frames 1..=3 were dropped; a snapshot at 3 covers them.
    assert_eq!(s.snapshot(&snap(3, &[(1.0, 1.0)], &[])), SyncEvent::Synced);
    assert_eq!(s.book().unwrap().version(), 5);
    assert_eq!(s.book().unwrap().levels().0.len(), 3);
    s.reset();
    assert!(!s.is_synced());
    assert_eq!(s.snapshot(&snap(9, &[], &[])), SyncEvent::Synced);
    assert_eq!(s.book().unwrap().version(), 9);
    // While synced an older or equal snapshot changes nothing, a newer one replaces the book.
    assert_eq!(
        s.snapshot(&snap(9, &[(1.0, 1.0)], &[])),
        SyncEvent::Unchanged
    );
    assert_eq!(s.snapshot(&snap(12, &[(1.0, 1.0)], &[])), SyncEvent::Synced);
    assert_eq!(s.book().unwrap().version(), 12);
}

// -----------------------------------------------------------------------------------------
// Property test against a brute-force model.
//
// The exchange's book moves through versions 1..=N, each changing a few levels. The truth at
// version v is computed by replaying every change from an empty book (the brute force). The
// client sees a random delivery: merged frames with correct contents, overlapping and stale
// ones, ranges that are never delivered (gaps), snapshots at any version (also older than
// frames already delivered) and resets. Whenever the client says it is synced, its whole book
// must equal the truth at its version; a gap must be reported exactly when versions are
// missing; and a fresh snapshot always brings it back.
// -----------------------------------------------------------------------------------------

/// (is_bid, price tick, size; 0 = delete) per version.
type Change = (bool, u8, u8);

fn truth_at(changes: &[Vec<Change>], v: u64) -> (BTreeMap<u8, u8>, BTreeMap<u8, u8>) {
    let mut bids = BTreeMap::new();
    let mut asks = BTreeMap::new();
    for version in changes.iter().take(v as usize) {
        for &(is_bid, p, size) in version {
            let side = if is_bid { &mut bids } else { &mut asks };
            if size == 0 {
                side.remove(&p);
            } else {
                side.insert(p, size);
            }
        }
    }
    (bids, asks)
}

fn levels_of(side: &BTreeMap<u8, u8>) -> Vec<BookLevel> {
    side.iter()
        .map(|(&p, &c)| lv(f64::from(p), f64::from(c)))
        .collect()
}

/// The frame MEXC would send for versions `begin..=end`: every level changed in the range,
/// with its size at `end`.
fn frame(changes: &[Vec<Change>], begin: u64, end: u64) -> DepthDelta {
    let (bids_end, asks_end) = truth_at(changes, end);
    let mut touched: BTreeMap<(bool, u8), ()> = BTreeMap::new();
    for version in &changes[(begin - 1) as usize..end as usize] {
        for &(is_bid, p, _) in version {
            touched.insert((is_bid, p), ());
        }
    }
    let mut d = DepthDelta {
        begin,
        end,
        ..DepthDelta::default()
    };
    for &(is_bid, p) in touched.keys() {
        let side = if is_bid { &bids_end } else { &asks_end };
        let size = side.get(&p).copied().unwrap_or(0);
        let l = lv(f64::from(p), f64::from(size));
        if is_bid {
            d.bids.push(l)
        } else {
            d.asks.push(l)
        }
    }
    d
}

fn snapshot_at(changes: &[Vec<Change>], v: u64) -> DepthSnapshot {
    let (bids, asks) = truth_at(changes, v);
    DepthSnapshot {
        version: v,
        bids: levels_of(&bids),
        asks: levels_of(&asks),
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Deliver the next `len` versions as one merged frame, starting `back` versions before
    /// the next undelivered one (an overlap) — or skip `len` versions entirely (a gap).
    Next {
        len: u64,
        back: u64,
        skip: bool,
    },
    /// Replay an old range.
    Replay {
        from_end: u64,
        len: u64,
    },
    /// A REST snapshot taken `lag` versions before the newest the exchange has sent.
    Snapshot {
        lag: u64,
    },
    Reset,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1u64..5, 0u64..3, prop::bool::weighted(0.08))
            .prop_map(|(len, back, skip)| Op::Next { len, back, skip }),
        2 => (0u64..8, 1u64..4).prop_map(|(from_end, len)| Op::Replay { from_end, len }),
        2 => (0u64..4).prop_map(|lag| Op::Snapshot { lag }),
        1 => Just(Op::Reset),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    (any::<bool>(), 1u8..12, 0u8..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn synced_book_always_equals_the_brute_force_truth(
        changes in prop::collection::vec(prop::collection::vec(change(), 1..4), 40..80),
        ops in prop::collection::vec(op(), 10..80),
        max_pending in 1usize..30,
    ) {
        let n = changes.len() as u64;
        let mut sync = DepthSync::new(max_pending);
        // Next version the exchange will send.
        let mut sent: u64 = 1;
        for op in ops {
            match op {
                Op::Next { len, back, skip } => {
                    if sent > n { continue; }
                    let end = (sent + len - 1).min(n);
                    if skip { sent = end + 1; continue; }
                    let begin = sent.saturating_sub(back).max(1);
                    let d = frame(&changes, begin, end);
                    let before = sync.book().map(DepthBook::version);
                    let ev = sync.push(d);
                    if let Some(v) = before {
                        // The rules, stated independently of the implementation.
                        let want = if end <= v {
                            SyncEvent::Unchanged
                        } else if begin <= v + 1 {
                            SyncEvent::Changed
                        } else {
                            SyncEvent::Gap { expected: v + 1, begin }
                        };
                        prop_assert_eq!(ev, want);
                    } else {
                        prop_assert_eq!(ev, SyncEvent::Unchanged, "not synced: buffered");
                    }
                    sent = end + 1;
                }
                Op::Replay { from_end, len } => {
                    let end = sent.saturating_sub(1 + from_end);
                    if end == 0 { continue; }
                    let begin = end.saturating_sub(len - 1).max(1);
                    let before = sync.book().map(DepthBook::version);
                    let ev = sync.push(frame(&changes, begin, end));
                    if before.is_some_and(|v| end <= v) {
                        prop_assert_eq!(ev, SyncEvent::Unchanged);
                    }
                }
                Op::Snapshot { lag } => {
                    let v = sent.saturating_sub(1 + lag);
                    let ev = sync.snapshot(&snapshot_at(&changes, v));
                    prop_assert!(!matches!(ev, SyncEvent::Gap { .. } | SyncEvent::Changed), "{:?}", ev);
                }
                Op::Reset => sync.reset(),
            }
            if let Some(book) = sync.book() {
                let v = book.version();
                prop_assert!(v < sent, "book at {} but only {} sent", v, sent - 1);
                let (bids, asks) = truth_at(&changes, v);
                let mut want_bids = levels_of(&bids);
                want_bids.reverse();
                prop_assert_eq!(book.levels(), (want_bids.clone(), levels_of(&asks)), "at version {}", v);
                let (top_bids, top_asks) = book.top(3);
                want_bids.truncate(3);
                prop_assert_eq!(top_bids, want_bids);
                prop_assert_eq!(top_asks, levels_of(&asks).into_iter().take(3).collect::<Vec<_>>());
            }
        }
        // Whatever happened, a snapshot of the newest version syncs the book to the truth.
        let last = sent.saturating_sub(1).min(n);
        sync.reset();
        prop_assert_eq!(sync.snapshot(&snapshot_at(&changes, last)), SyncEvent::Synced);
        let (bids, asks) = truth_at(&changes, last);
        let mut want_bids = levels_of(&bids);
        want_bids.reverse();
        prop_assert_eq!(sync.book().map(DepthBook::levels), Some((want_bids, levels_of(&asks))));
    }
}
