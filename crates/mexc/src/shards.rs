//! Which symbols go on which connection, pure. A connection carries at most
//! `max_subscriptions_per_connection` subscriptions (two per symbol: ticker and deal).
//!
//! Assignment is sticky: a symbol stays on its connection while it is watched, so a
//! watch-set change never moves (unsubscribes and resubscribes) unrelated symbols. New
//! symbols fill the first connection with room; new connections open only when all are
//! full; emptied connections after the first are closed.

use std::collections::BTreeSet;

use super::wire::Channel;

/// Symbols per connection for a subscription cap.
pub fn symbols_per_shard(max_subscriptions: usize) -> usize {
    (max_subscriptions / Channel::ALL.len()).max(1)
}

/// New per-connection symbol sets from the current ones and the wanted set. Index i of the
/// result is connection i; the result always has at least one (possibly empty) entry so
/// there is always a socket (and a health entry) to show.
pub fn assign(
    current: &[BTreeSet<String>],
    wanted: &BTreeSet<String>,
    per_shard: usize,
) -> Vec<BTreeSet<String>> {
    let per_shard = per_shard.max(1);
    let mut shards: Vec<BTreeSet<String>> = current
        .iter()
        .map(|s| s.intersection(wanted).cloned().collect())
        .collect();
    // A lowered cap (config reload) or a corrupt state: spill the excess.
    let mut spill: Vec<String> = Vec::new();
    for s in &mut shards {
        while s.len() > per_shard {
            if let Some(x) = s.pop_last() {
                spill.push(x);
            }
        }
    }
    let placed: BTreeSet<&String> = shards.iter().flatten().collect();
    let mut new: Vec<String> = wanted
        .iter()
        .filter(|s| !placed.contains(s))
        .cloned()
        .collect();
    new.extend(spill);
    for symbol in new {
        match shards.iter_mut().find(|s| s.len() < per_shard) {
            Some(s) => {
                s.insert(symbol);
            }
            None => shards.push(BTreeSet::from([symbol])),
        }
    }
    while shards.len() > 1 && shards.last().is_some_and(|s| s.is_empty()) {
        shards.pop();
    }
    if shards.is_empty() {
        shards.push(BTreeSet::new());
    }
    shards
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &[&str]) -> BTreeSet<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn splits_by_cap_and_keeps_assignments_sticky() {
        assert_eq!(symbols_per_shard(200), 100);
        assert_eq!(symbols_per_shard(3), 1);
        let a = assign(&[], &set(&["A", "B", "C"]), 2);
        assert_eq!(a, vec![set(&["A", "B"]), set(&["C"])]);
        // B leaves, D and E arrive: A and C stay where they are.
        let b = assign(&a, &set(&["A", "C", "D", "E"]), 2);
        assert_eq!(b, vec![set(&["A", "D"]), set(&["C", "E"])]);
        // Everything leaves: one empty connection remains.
        assert_eq!(assign(&b, &set(&[]), 2), vec![set(&[])]);
        // A middle shard emptied stays (closing it would renumber the others).
        let c = assign(
            &[set(&["A"]), set(&["B"]), set(&["C"])],
            &set(&["A", "C"]),
            1,
        );
        assert_eq!(c, vec![set(&["A"]), set(&[]), set(&["C"])]);
    }
}
