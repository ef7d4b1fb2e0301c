//! Which of the on-demand streams (depth, klines, funding, index and fair price) some connection
//! wants. The feed renders those frames only for topics listed here: depth and klines for every
//! contract at every step would cost far more than the tickers and trades everyone reads.

use crate::feed::Topic;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
pub(crate) struct Interest {
    counts: Mutex<HashMap<Topic, usize>>,
}

impl Interest {
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
        i.add(Topic::Depth(1));
        i.add(Topic::Depth(1));
        i.add(Topic::FundingRate(2));
        i.remove(Topic::Depth(1));
        i.remove(Topic::Kline(0, crate::interval::KlineInterval::Min1));
        let mut w = i.wanted();
        w.sort_by_key(|t| format!("{t:?}"));
        assert_eq!(w, vec![Topic::Depth(1), Topic::FundingRate(2)]);
        i.remove(Topic::Depth(1));
        assert_eq!(i.wanted(), vec![Topic::FundingRate(2)]);
    }
}
