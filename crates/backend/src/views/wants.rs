//! Who views what: connections per per-symbol stream instance, and the market feeds that makes
//! the adapter keep open (published on a watch channel it reads).

use crate::fanout::StreamKey;
use std::collections::{BTreeSet, HashMap};
use tokio::sync::watch;
use trademon_core::market::{Feed, FeedWant};
use trademon_protocol::StreamName;

/// The feed a per-symbol stream instance needs beyond tickers and trades (which flow for every
/// session symbol anyway): `candles` its interval's klines, `book` the depth; `tape` none.
pub fn feed_of(key: &StreamKey) -> Option<FeedWant> {
    let feed = match (key.stream, key.interval) {
        (StreamName::Candles, Some(interval)) => Feed::Kline(interval),
        (StreamName::Book, _) => Feed::Depth,
        _ => return None,
    };
    Some(FeedWant {
        symbol: key.symbol.clone()?,
        feed,
    })
}

pub struct Viewers {
    /// Connections following each per-symbol stream instance (never 0: removed instead).
    counts: HashMap<StreamKey, usize>,
    feeds: watch::Sender<BTreeSet<FeedWant>>,
}

impl Viewers {
    pub fn new(feeds: watch::Sender<BTreeSet<FeedWant>>) -> Viewers {
        let viewers = Viewers {
            counts: HashMap::new(),
            feeds,
        };
        viewers.publish();
        viewers
    }

    /// One more connection follows `key`.
    pub fn add(&mut self, key: &StreamKey) {
        *self.counts.entry(key.clone()).or_insert(0) += 1;
        self.publish();
    }

    /// One connection less follows `key`; `true` when it was the last one.
    pub fn remove(&mut self, key: &StreamKey) -> bool {
        let Some(n) = self.counts.get_mut(key) else {
            return false;
        };
        *n -= 1;
        if *n > 0 {
            return false;
        }
        self.counts.remove(key);
        self.publish();
        true
    }

    pub fn count(&self, key: &StreamKey) -> usize {
        self.counts.get(key).copied().unwrap_or(0)
    }

    /// The adapter sees a new set only when it differs (a second viewer changes nothing).
    fn publish(&self) {
        let wanted: BTreeSet<FeedWant> = self.counts.keys().filter_map(feed_of).collect();
        self.feeds.send_if_modified(|set| {
            let changed = *set != wanted;
            if changed {
                *set = wanted;
            }
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trademon_protocol::Interval;

    #[test]
    fn a_feed_is_wanted_while_any_connection_views_it() {
        let (tx, mut rx) = watch::channel(BTreeSet::new());
        let mut v = Viewers::new(tx);
        let candles =
            StreamKey::symbol(StreamName::Candles, "BTC_USDT".into(), Some(Interval::Min5));
        let tape = StreamKey::symbol(StreamName::Tape, "BTC_USDT".into(), None);
        let kline = FeedWant {
            symbol: "BTC_USDT".into(),
            feed: Feed::Kline(Interval::Min5),
        };
        v.add(&candles);
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), BTreeSet::from([kline.clone()]));
        v.add(&candles);
        v.add(&tape);
        assert!(
            !rx.has_changed().unwrap(),
            "a second viewer or the tape wants nothing new"
        );
        assert!(!v.remove(&candles));
        assert_eq!(v.count(&candles), 1);
        assert!(v.remove(&candles));
        assert!(rx.borrow_and_update().is_empty());
        assert!(!v.remove(&candles), "nobody left to remove");
        assert!(v.remove(&tape));
    }
}
