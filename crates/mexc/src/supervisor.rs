//! The adapter's top task: splits the watch set over connections (`shards`), runs one
//! shard task per connection, rotates connections make-before-break (`rotation`), starts
//! and stops the REST fallback, and merges everything into one [`UpstreamHealth`].
//!
//! The wanted feeds (kline, depth, funding rate of viewed symbols) ride on the connection
//! that carries the symbol's ticker, so a symbol's streams share one socket and fail
//! together; a viewed symbol no session watches rides on the first connection. Feeds do not
//! count against `max_subscriptions_per_connection` (a view adds at most three).

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use trademon_core::market::FeedWant;
use trademon_protocol::{StreamState, UpstreamHealth, UpstreamState};

use super::health::{self, RestStatus, ShardReport};
use super::rest_fallback::{self, RestPoller};
use super::rotation::{self, RotationStep};
use super::shard::{self, ShardContext, ShardHandle};
use super::shards;

/// One connection slot: its symbol set, the running shard, and during a rotation the
/// shard that will replace it.
struct Slot {
    symbols: watch::Sender<BTreeSet<String>>,
    /// The feeds this connection carries.
    feeds: watch::Sender<BTreeSet<FeedWant>>,
    primary: ShardHandle,
    successor: Option<(ShardHandle, Instant)>,
    /// After a failed rotation, the next try waits until then.
    hold_until: Option<Instant>,
}

pub(super) struct Supervisor {
    shared: ShardContext,
    symbols: watch::Receiver<BTreeSet<String>>,
    symbols_open: bool,
    wants: watch::Receiver<BTreeSet<FeedWant>>,
    wants_open: bool,
    health_tx: watch::Sender<UpstreamHealth>,
    slots: Vec<Slot>,
    rest: Option<RestPoller>,
}

impl Supervisor {
    pub(super) fn new(
        shared: ShardContext,
        symbols: watch::Receiver<BTreeSet<String>>,
        wants: watch::Receiver<BTreeSet<FeedWant>>,
    ) -> (Supervisor, watch::Receiver<UpstreamHealth>) {
        let (health_tx, health_rx) = watch::channel(UpstreamHealth {
            url: shared.cfg.ws_url.clone(),
            ..UpstreamHealth::default()
        });
        let s = Supervisor {
            shared,
            symbols,
            symbols_open: true,
            wants,
            wants_open: true,
            health_tx,
            slots: Vec::new(),
            rest: None,
        };
        (s, health_rx)
    }

    pub(super) async fn run(mut self) {
        self.reassign();
        let ms = Duration::from_millis;
        let cfg = self.shared.cfg.clone();
        // Often enough to start the REST fallback and finish rotations promptly.
        let mut tick = tokio::time::interval(
            (ms(cfg.rest_fallback_after_ms).min(ms(cfg.ack_timeout_ms)) / 5)
                .clamp(ms(10), Duration::from_secs(1)),
        );
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let notify = self.shared.notify.clone();
        loop {
            tokio::select! {
                _ = self.shared.out.closed() => break,
                changed = self.symbols.changed(), if self.symbols_open => {
                    if changed.is_ok() {
                        self.reassign();
                    } else {
                        self.symbols_open = false;
                    }
                }
                changed = self.wants.changed(), if self.wants_open => {
                    if changed.is_ok() {
                        self.distribute_feeds();
                    } else {
                        self.wants_open = false;
                    }
                }
                _ = notify.notified() => self.step(Instant::now()),
                _ = tick.tick() => self.step(Instant::now()),
            }
        }
        self.rest = None;
        let mut tasks = Vec::new();
        for slot in self.slots.drain(..) {
            let _ = slot.primary.stop.send(Some("adapter stopped".into()));
            tasks.push(slot.primary.task);
            if let Some((s, _)) = slot.successor {
                let _ = s.stop.send(Some("adapter stopped".into()));
                tasks.push(s.task);
            }
        }
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        self.health_tx.send_modify(|h| {
            h.state = UpstreamState::Down;
            for c in &mut h.connections {
                c.state = UpstreamState::Down;
            }
        });
        tracing::info!(event = "mexc.stopped", reason = "event receiver dropped");
    }

    fn spawn_shard(
        &self,
        symbols: &watch::Sender<BTreeSet<String>>,
        feeds: &watch::Sender<BTreeSet<FeedWant>>,
    ) -> ShardHandle {
        shard::spawn(self.shared.clone(), symbols.subscribe(), feeds.subscribe())
    }

    /// Each wanted feed to the connection that carries its symbol, else to the first.
    fn distribute_feeds(&mut self) {
        let wants = self.wants.borrow_and_update().clone();
        let carried: Vec<BTreeSet<String>> = self
            .slots
            .iter()
            .map(|s| s.symbols.borrow().clone())
            .collect();
        for (i, slot) in self.slots.iter().enumerate() {
            let mine: BTreeSet<FeedWant> = wants
                .iter()
                .filter(
                    |w| match carried.iter().position(|c| c.contains(&w.symbol)) {
                        Some(at) => at == i,
                        None => i == 0,
                    },
                )
                .cloned()
                .collect();
            slot.feeds.send_if_modified(|f| {
                let changed = *f != mine;
                *f = mine;
                changed
            });
        }
    }

    /// Spread the watch set over connections, opening connections as needed.
    fn reassign(&mut self) {
        let wanted = self.symbols.borrow_and_update().clone();
        let current: Vec<BTreeSet<String>> = self
            .slots
            .iter()
            .map(|s| s.symbols.borrow().clone())
            .collect();
        let per = shards::symbols_per_shard(self.shared.cfg.max_subscriptions_per_connection);
        let next = shards::assign(&current, &wanted, per);
        self.slots.truncate(next.len());
        for (i, set) in next.into_iter().enumerate() {
            match self.slots.get(i) {
                Some(slot) => {
                    slot.symbols.send_if_modified(|s| {
                        let changed = *s != set;
                        *s = set;
                        changed
                    });
                }
                None => {
                    let (tx, _) = watch::channel(set);
                    let (feeds, _) = watch::channel(BTreeSet::new());
                    let primary = self.spawn_shard(&tx, &feeds);
                    self.slots.push(Slot {
                        symbols: tx,
                        feeds,
                        primary,
                        successor: None,
                        hold_until: None,
                    });
                }
            }
        }
        if self.slots.len() > 1 {
            tracing::info!(
                event = "mexc.sharded",
                connections = self.slots.len(),
                symbols = wanted.len(),
                per_connection = per
            );
        }
        self.distribute_feeds();
        self.step(Instant::now());
    }

    fn step(&mut self, now: Instant) {
        self.rotate(now);
        self.rest_fallback(now);
        self.publish(now);
    }

    fn rotate(&mut self, now: Instant) {
        let cfg = self.shared.cfg.clone();
        let limits = rotation::Limits::from_config(&cfg);
        for i in 0..self.slots.len() {
            let step = {
                let slot = &self.slots[i];
                let primary = slot.primary.report.borrow().clone();
                let successor = slot
                    .successor
                    .as_ref()
                    .map(|(h, started)| (h.report.borrow().clone(), *started));
                rotation::decide(&primary, successor.as_ref(), slot.hold_until, now, limits)
            };
            match step {
                RotationStep::Wait => {}
                RotationStep::Start => {
                    let old = self.slots[i].primary.report.borrow().conn.id.clone();
                    tracing::info!(
                        event = "mexc.rotating",
                        conn_id = old,
                        after_s = cfg.rotate_after_s
                    );
                    let h = self.spawn_shard(&self.slots[i].symbols, &self.slots[i].feeds);
                    self.slots[i].successor = Some((h, now));
                }
                RotationStep::Complete => {
                    let slot = &mut self.slots[i];
                    if let Some((new, started)) = slot.successor.take() {
                        let old = std::mem::replace(&mut slot.primary, new);
                        let old_id = old.report.borrow().conn.id.clone();
                        let new_id = slot.primary.report.borrow().conn.id.clone();
                        let _ = old.stop.send(Some("rotated".into()));
                        tracing::info!(
                            event = "mexc.rotated",
                            old_conn_id = old_id,
                            new_conn_id = new_id,
                            overlap_ms = now.saturating_duration_since(started).as_millis() as u64,
                        );
                    }
                }
                RotationStep::Abandon => {
                    let slot = &mut self.slots[i];
                    if let Some((new, _)) = slot.successor.take() {
                        let new_id = new.report.borrow().conn.id.clone();
                        let _ = new.stop.send(Some("rotation abandoned".into()));
                        tracing::warn!(
                            event = "mexc.rotation_failed",
                            conn_id = slot.primary.report.borrow().conn.id.clone(),
                            new_conn_id = new_id,
                            waited_ms = limits.ready_timeout.as_millis() as u64,
                            retry_in_ms = limits.retry_after.as_millis() as u64,
                        );
                    }
                    slot.hold_until = Some(now + limits.retry_after);
                }
            }
        }
    }

    /// REST covers the symbols of connections down past `rest_fallback_after_ms` and the
    /// tickers the escalation ladder gave up on; it stops once the WebSocket covers all.
    fn rest_fallback(&mut self, now: Instant) {
        let after = Duration::from_millis(self.shared.cfg.rest_fallback_after_ms);
        let covering: BTreeSet<String> = self
            .rest
            .as_ref()
            .map(|p| p.symbols.borrow().clone())
            .unwrap_or_default();
        let mut need: BTreeSet<String> = BTreeSet::new();
        let mut down = 0;
        for slot in &self.slots {
            let r = slot.primary.report.borrow();
            if r.down_since
                .is_some_and(|t| now.saturating_duration_since(t) >= after)
            {
                need.extend(r.symbols.iter().cloned());
                down += 1;
            } else {
                // Back up: REST keeps covering a symbol until its ticker is Live again
                // ("stop when the WebSocket is Live"), not merely connected.
                need.extend(
                    r.streams
                        .iter()
                        .filter(|s| {
                            s.channel == "ticker"
                                && covering.contains(&s.symbol)
                                && !matches!(s.state, StreamState::Live | StreamState::Failed)
                        })
                        .map(|s| s.symbol.clone()),
                );
            }
            need.extend(r.degraded.iter().cloned());
        }
        match (&self.rest, need.is_empty()) {
            (None, false) => {
                tracing::warn!(
                    event = "mexc.rest_fallback",
                    action = "start",
                    symbols = need.len(),
                    connections_down = down,
                    down_after_ms = after.as_millis() as u64,
                    poll_interval_ms = self.shared.cfg.rest_poll_interval_ms,
                );
                self.rest = Some(rest_fallback::spawn(
                    &self.shared.cfg,
                    self.shared.out.clone(),
                    need,
                ));
            }
            (Some(_), true) => {
                tracing::info!(
                    event = "mexc.rest_fallback",
                    action = "stop",
                    reason = "websocket delivers again"
                );
                self.rest = None;
            }
            (Some(p), false) => {
                p.symbols.send_if_modified(|s| {
                    let changed = *s != need;
                    *s = need;
                    changed
                });
            }
            (None, true) => {}
        }
    }

    fn publish(&self, now: Instant) {
        let primaries: Vec<ShardReport> = self
            .slots
            .iter()
            .map(|s| s.primary.report.borrow().clone())
            .collect();
        let successors: Vec<ShardReport> = self
            .slots
            .iter()
            .filter_map(|s| s.successor.as_ref().map(|(h, _)| h.report.borrow().clone()))
            .collect();
        let h = health::aggregate(
            &self.shared.cfg.ws_url,
            &primaries.iter().collect::<Vec<_>>(),
            &successors.iter().collect::<Vec<_>>(),
            RestStatus {
                active: self.rest.is_some(),
                error: self.rest.as_ref().and_then(|p| p.error.borrow().clone()),
            },
            self.shared.malformed.load(Ordering::Relaxed),
            now,
        );
        self.health_tx.send_if_modified(|old| {
            let changed = *old != h;
            *old = h;
            changed
        });
    }
}
