//! Which of the on-demand streams (depth, klines, funding, index and fair price) some connection
//! wants. The feed renders those frames only for topics listed here: depth and klines for every
//! contract at every step would cost far more than the tickers and trades everyone reads.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

/// Connections per topic (the feed's `Topic`; generic so this module needs nothing from it).
#[derive(Debug)]
pub(crate) struct Interest<Topic> {
    counts: Mutex<HashMap<Topic, usize>>,
}

impl<Topic> Default for Interest<Topic> {
    fn default() -> Self {
        Interest {
            counts: Mutex::new(HashMap::new()),
        }
    }
}

impl<Topic: Copy + Eq + Hash> Interest<Topic> {
    /// Every critical section is one map update; a panic elsewhere cannot leave it half done.
    fn lock(&self) -> MutexGuard<'_, HashMap<Topic, usize>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add(&self, topic: Topic) {
        *self.lock().entry(topic).or_insert(0) += 1;
    }

    pub fn remove(&self, topic: Topic) {
        let mut counts = self.lock();
        if let Some(n) = counts.get_mut(&topic) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&topic);
            }
        }
    }

    /// The topics at least one connection wants now.
    pub fn wanted(&self) -> Vec<Topic> {
        self.lock().keys().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_topic() {
        let i = Interest::default();
        i.add((1, 'd'));
        i.add((1, 'd'));
        i.add((2, 'f'));
        i.remove((1, 'd'));
        i.remove((0, 'k'));
        let mut w = i.wanted();
        w.sort();
        assert_eq!(w, vec![(1, 'd'), (2, 'f')]);
        i.remove((1, 'd'));
        assert_eq!(i.wanted(), vec![(2, 'f')]);
    }
}
