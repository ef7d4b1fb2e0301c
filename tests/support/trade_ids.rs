//! The store's end-to-end promise, checked one way everywhere: every trade id stored once,
//! contiguous per symbol (the simulator numbers each symbol's trades 1, 2, 3, ...).
//! Included with `#[path]`.

use std::collections::BTreeMap;

pub fn assert_each_trade_once_and_contiguous(ids: BTreeMap<String, Vec<i64>>) {
    assert!(!ids.is_empty(), "no trades stored");
    for (sym, mut list) in ids {
        let n = list.len();
        list.sort_unstable();
        list.dedup();
        assert_eq!(list.len(), n, "{sym}: duplicate trade ids stored");
        let span = (list[n - 1] - list[0] + 1) as usize;
        assert_eq!(span, n, "{sym}: trade ids not contiguous ({n} of {span})");
    }
}
