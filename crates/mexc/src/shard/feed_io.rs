//! The shard's side of the feeds (`feeds` decides, this carries out): following the wanted
//! feeds, running their REST requests beside the connection, and turning [`Effect`]s into
//! events, log lines and gap counts. A child of `shard` so it can use the shard's state.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::MexcConfig;
use trademon_core::market::FeedWant;
use trademon_protocol::now_ms;

use super::super::feeds::{Effect, FeedLimits};
use super::super::feeds_rest::{self, Fetch, Fetched};
use super::super::wire::Channel;
use super::{Shard, Shutdown};

pub(super) fn limits(c: &MexcConfig) -> FeedLimits {
    FeedLimits {
        book_levels: c.book_levels,
        kline_history: c.kline_history,
        depth_buffer: c.depth_buffer_frames,
        rest_gap: Duration::from_millis(c.feed_rest_gap_ms),
        waf_cooldown: Duration::from_millis(c.waf_cooldown_ms),
    }
}

impl Shard {
    /// The wanted feeds changed (or are read for the first time with `Ok(())`).
    pub(super) async fn follow_wants(
        &mut self,
        changed: Result<(), watch::error::RecvError>,
    ) -> Result<(), Shutdown> {
        if changed.is_err() {
            // Sender gone: keep the last set.
            self.wants_open = false;
            return Ok(());
        }
        let wants: BTreeSet<FeedWant> = self.wants.borrow_and_update().clone();
        let effects = self.feeds.set_wants(&wants, Instant::now());
        self.subs.set_feeds(&self.feeds.keys());
        self.publish();
        self.apply(effects).await
    }

    pub(super) async fn on_fetched(&mut self, f: Fetched) -> Result<(), Shutdown> {
        let effects = self.feeds.on_fetched(f, now_ms(), Instant::now());
        self.apply(effects).await
    }

    /// A feed stream was confirmed on this connection (ack or first push).
    pub(super) async fn feed_confirmed(
        &mut self,
        channel: Channel,
        symbol: &str,
    ) -> Result<(), Shutdown> {
        let effects = self
            .feeds
            .on_confirmed(channel, symbol, now_ms(), Instant::now());
        self.apply(effects).await
    }

    fn start_fetch(&mut self, f: Fetch) {
        // Finished requests are reaped here rather than by a select arm of their own.
        while self.fetches.try_join_next().is_some() {}
        let client = self.shared.http.clone();
        let base = self.shared.cfg.rest_url.clone();
        let tx = self.fetched_tx.clone();
        self.fetches.spawn(async move {
            let answer = feeds_rest::fetch(client, base, f).await;
            let _ = tx.send(answer);
        });
    }

    pub(super) async fn apply(&mut self, effects: Vec<Effect>) -> Result<(), Shutdown> {
        for e in effects {
            match e {
                Effect::Emit(ev) => self.emit(ev).await?,
                Effect::Fetch(f) => {
                    tracing::debug!(
                        event = "mexc.feed_fetch",
                        url = f.url(&self.shared.cfg.rest_url)
                    );
                    self.start_fetch(f);
                }
                Effect::Gap {
                    symbol,
                    expected,
                    begin,
                } => {
                    self.subs.note_gap(Channel::Depth, &symbol);
                    tracing::warn!(
                        event = "mexc.depth_gap",
                        conn_id = self.health.conn_id,
                        symbol,
                        expected,
                        begin,
                        action = "resync from REST",
                    );
                    self.publish();
                }
                Effect::FetchFailed {
                    what,
                    symbol,
                    error,
                    retry_in,
                } => tracing::warn!(
                    event = "mexc.feed_rest_failed",
                    what,
                    symbol,
                    error = %error,
                    retry_in_ms = retry_in.map(|d| d.as_millis() as u64),
                ),
                Effect::Rejected(symbol) => tracing::warn!(
                    event = "mexc.feed_rejected",
                    symbol,
                    reason = "not a BASE_QUOTE symbol",
                ),
            }
        }
        Ok(())
    }
}
