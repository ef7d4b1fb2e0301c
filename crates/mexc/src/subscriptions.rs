//! Subscription bookkeeping per (channel, symbol) for one shard, free of IO so it is
//! unit-testable. Time comes in as arguments.
//!
//! States: Pending (queued or sent) -> Acked (`rs.sub.*`) -> Live (first data) -> Stale
//! (watchdog), plus Failed (`rs.error Contract [X] not exists`). Acks carry no symbol, so
//! every *sent* subscribe joins one queue in send order; an ack pops the oldest entry of
//! its channel (FIFO per method) and an `rs.error` without a symbol pops the oldest entry
//! overall (replies come in command order). Matching can still be fooled (duplicate or lost
//! acks), which is why the first data frame is the real proof and every wrong guess ends in
//! the ack-timeout / stale watchdogs (see `escalation`) rather than in a stuck stream.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tokio::time::Instant;

use trademon_protocol::{StreamState, SubscriptionCounts, UpstreamStream};

use super::wire::Channel;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubState {
    Pending,
    Acked,
    Live,
    Failed,
}

/// One (channel, symbol) subscription.
#[derive(Debug, Clone)]
pub struct Sub {
    pub state: SubState,
    /// When the current subscribe left (None: queued, or not connected).
    pub sent_at: Option<Instant>,
    /// When the current subscribe was acked.
    pub acked_at: Option<Instant>,
    pub last_data: Option<Instant>,
    /// Set by the watchdog; cleared by the next data frame. Shown as state Stale.
    pub stale: bool,
    /// Resubscribes in total (shown in the detail view).
    pub resubscribes: u32,
    /// Resubscribes since the last data frame or reconnect: the escalation ladder's rung.
    pub tries: u32,
    /// This stream already caused one reconnect since its last data: never another.
    pub reconnect_used: bool,
    /// Ladder exhausted: REST covers the symbol, retries go slow.
    pub degraded: bool,
    /// Degraded streams are retried no earlier than this.
    pub retry_at: Option<Instant>,
    /// The exchange's refusal text, or the last `rs.error` attributed to this stream.
    pub error: Option<String>,
    /// Depth only: version gaps detected (each one resynced from a REST snapshot).
    pub gaps: u64,
}

impl Sub {
    fn new() -> Sub {
        Sub {
            state: SubState::Pending,
            sent_at: None,
            acked_at: None,
            last_data: None,
            stale: false,
            resubscribes: 0,
            tries: 0,
            reconnect_used: false,
            degraded: false,
            retry_at: None,
            error: None,
            gaps: 0,
        }
    }

    pub fn shown_state(&self) -> StreamState {
        match self.state {
            SubState::Failed => StreamState::Failed,
            SubState::Live if !self.stale => StreamState::Live,
            _ if self.stale => StreamState::Stale,
            SubState::Pending => StreamState::Pending,
            SubState::Acked => StreamState::Acked,
            SubState::Live => StreamState::Live,
        }
    }
}

/// A command waiting in the paced outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Sub(Channel, String),
    Unsub(Channel, String),
}

impl Command {
    pub fn to_text(&self) -> String {
        match self {
            Command::Sub(c, s) => super::wire::command(true, *c, s),
            Command::Unsub(c, s) => super::wire::command(false, *c, s),
        }
    }
}

/// What a data frame means for its subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataVerdict {
    /// First data since (re)subscribing: the subscription just became Live.
    FirstData,
    Data,
    /// Not (or no longer) subscribed, e.g. a late frame after `unsub`: drop it.
    NotSubscribed,
}

pub type Key = (Channel, String);

#[derive(Debug, Default)]
pub struct Subscriptions {
    desired: BTreeSet<String>,
    /// Feed streams (kline, depth, funding rate) of viewed symbols, on top of `desired`.
    feeds: BTreeSet<Key>,
    /// Every wanted stream: each channel of every desired symbol, and the feeds (failed ones
    /// included, for the detail view).
    subs: BTreeMap<Key, Sub>,
    /// Sent subscribes awaiting their reply, in send order.
    awaiting: VecDeque<Key>,
    /// Commands not yet sent (pacing).
    outbox: VecDeque<Command>,
    connected: bool,
}

impl Subscriptions {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn desired(&self) -> &BTreeSet<String> {
        &self.desired
    }

    pub fn get(&self, channel: Channel, symbol: &str) -> Option<&Sub> {
        self.subs.get(&(channel, symbol.to_string()))
    }

    pub fn state(&self, channel: Channel, symbol: &str) -> Option<SubState> {
        self.get(channel, symbol).map(|s| s.state)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Sub)> {
        self.subs.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Key, &mut Sub)> {
        self.subs.iter_mut()
    }

    pub fn failed(&self) -> BTreeMap<String, String> {
        self.subs
            .iter()
            .filter(|(_, s)| s.state == SubState::Failed)
            .map(|((_, sym), s)| (sym.clone(), s.error.clone().unwrap_or_default()))
            .collect()
    }

    /// Replace the watch set. While connected, queues subscribes for new symbols and
    /// unsubscribes for removed ones (dropping still-unsent subscribes instead).
    pub fn set_desired(&mut self, wanted: &BTreeSet<String>) {
        self.desired = wanted.clone();
        self.sync_streams();
    }

    /// Replace the feed streams (kline, depth, funding rate of viewed symbols), with the same
    /// queueing as [`Self::set_desired`]. A feed of a symbol the exchange refused starts
    /// Failed, with the refusal, and is never sent.
    pub fn set_feeds(&mut self, feeds: &BTreeSet<Key>) {
        self.feeds = feeds.clone();
        self.sync_streams();
    }

    /// Symbol first, so a symbol's streams are (un)subscribed together.
    fn sync_streams(&mut self) {
        let mut wanted: Vec<Key> = self
            .desired
            .iter()
            .flat_map(|s| Channel::ALL.map(|ch| (ch, s.clone())))
            .chain(self.feeds.iter().cloned())
            .collect();
        wanted.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
        wanted.dedup();
        let mut removed: Vec<Key> = self
            .subs
            .keys()
            .filter(|k| !wanted.contains(k))
            .cloned()
            .collect();
        removed.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
        for key in removed {
            let Some(sub) = self.subs.remove(&key) else {
                continue;
            };
            let (ch, symbol) = key;
            let unsent = Command::Sub(ch, symbol.clone());
            let before = self.outbox.len();
            self.outbox.retain(|c| *c != unsent);
            let was_sent = before == self.outbox.len();
            // `awaiting` keeps the entry: its reply is still coming and FIFO must hold.
            if self.connected && was_sent && sub.state != SubState::Failed {
                self.outbox.push_back(Command::Unsub(ch, symbol));
            }
        }
        for key in wanted {
            if self.subs.contains_key(&key) {
                continue;
            }
            let refusal = self
                .subs
                .iter()
                .find(|((_, s), sub)| *s == key.1 && sub.state == SubState::Failed)
                .map(|(_, sub)| sub.error.clone());
            let mut sub = Sub::new();
            if let Some(error) = refusal {
                sub.state = SubState::Failed;
                sub.error = error;
            } else if self.connected {
                self.outbox.push_back(Command::Sub(key.0, key.1.clone()));
            }
            self.subs.insert(key, sub);
        }
    }

    /// A new connection is up: everything not failed is subscribed again from scratch.
    pub fn on_connected(&mut self) {
        self.connected = true;
        self.awaiting.clear();
        self.outbox.clear();
        for ((ch, symbol), sub) in self.subs.iter_mut() {
            if sub.state == SubState::Failed {
                continue;
            }
            reset_for_new_socket(sub);
            self.outbox.push_back(Command::Sub(*ch, symbol.clone()));
        }
    }

    pub fn on_disconnected(&mut self) {
        self.connected = false;
        self.awaiting.clear();
        self.outbox.clear();
        for sub in self.subs.values_mut() {
            if sub.state != SubState::Failed {
                reset_for_new_socket(sub);
            }
        }
    }

    pub fn has_outbox(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Take the next command to send; subscribes start waiting for their ack now.
    pub fn next_command(&mut self, now: Instant) -> Option<Command> {
        let cmd = self.outbox.pop_front()?;
        if let Command::Sub(ch, symbol) = &cmd {
            let key = (*ch, symbol.clone());
            if let Some(sub) = self.subs.get_mut(&key) {
                sub.sent_at = Some(now);
            }
            self.awaiting.push_back(key);
        }
        Some(cmd)
    }

    /// Queue `unsub` + `sub` for one stream (the unsub so the server never streams it twice;
    /// its ack is never relied on). The stream goes back to Pending and the ack clock
    /// restarts when the subscribe leaves. Its old awaiting entry is dropped: the reply is
    /// presumed lost, and a late one is a stray the FIFO tolerates.
    pub fn resubscribe(&mut self, channel: Channel, symbol: &str) -> bool {
        let key = (channel, symbol.to_string());
        let Some(sub) = self.subs.get_mut(&key) else {
            return false;
        };
        if sub.state == SubState::Failed || !self.connected {
            return false;
        }
        if let Some(pos) = self.awaiting.iter().position(|k| *k == key) {
            self.awaiting.remove(pos);
        }
        let queued = Command::Sub(channel, symbol.to_string());
        if self.outbox.contains(&queued) {
            return false;
        }
        sub.state = SubState::Pending;
        sub.sent_at = None;
        sub.acked_at = None;
        sub.resubscribes += 1;
        sub.tries += 1;
        self.outbox
            .push_back(Command::Unsub(channel, symbol.to_string()));
        self.outbox.push_back(queued);
        true
    }

    /// `rs.sub.<channel>` (`channel` as in [`Channel::name`]: a kline ack names no interval):
    /// pops the oldest sent subscribe of that channel. Returns its stream (if any was
    /// outstanding) so the caller can log it.
    pub fn on_ack(&mut self, channel: &str, ok: bool, now: Instant) -> Option<Key> {
        let pos = self
            .awaiting
            .iter()
            .position(|(c, _)| c.name() == channel)?;
        let key = self.awaiting.remove(pos)?;
        if let Some(sub) = self.subs.get_mut(&key) {
            if ok {
                // Data may have beaten the ack; never downgrade Live.
                if sub.state == SubState::Pending {
                    sub.state = SubState::Acked;
                    sub.acked_at = Some(now);
                }
            } else {
                sub.error = Some(format!("rs.sub.{channel} not success"));
            }
        }
        Some(key)
    }

    /// An `rs.error` that names no symbol: it answers the oldest outstanding subscribe.
    /// The stream stays Pending (the ack timeout retries it) and carries the text.
    pub fn on_unattributed_error(&mut self, text: &str) -> Option<Key> {
        let key = self.awaiting.pop_front()?;
        if let Some(sub) = self.subs.get_mut(&key) {
            sub.error = Some(text.to_string());
        }
        Some(key)
    }

    pub fn on_data(&mut self, channel: Channel, symbol: &str, now: Instant) -> DataVerdict {
        let Some(sub) = self.subs.get_mut(&(channel, symbol.to_string())) else {
            return DataVerdict::NotSubscribed;
        };
        sub.last_data = Some(now);
        match sub.state {
            SubState::Failed => DataVerdict::NotSubscribed,
            SubState::Live if !sub.stale => DataVerdict::Data,
            _ => {
                // Real proof: the ladder starts over.
                sub.state = SubState::Live;
                sub.stale = false;
                sub.tries = 0;
                sub.reconnect_used = false;
                sub.degraded = false;
                sub.retry_at = None;
                sub.error = None;
                DataVerdict::FirstData
            }
        }
    }

    /// `rs.error Contract [X] not exists`: X fails on every channel. Its outstanding
    /// replies are consumed so FIFO matching of the other symbols stays aligned.
    /// Returns true the first time (so `SymbolFailed` is emitted once, not per channel).
    pub fn on_contract_refused(&mut self, symbol: &str, reason: &str) -> bool {
        self.awaiting.retain(|(_, s)| s != symbol);
        let mut first = true;
        let mut known = false;
        for (_, sub) in self.subs.iter_mut().filter(|((_, s), _)| s == symbol) {
            known = true;
            if sub.state == SubState::Failed {
                first = false;
                continue;
            }
            sub.state = SubState::Failed;
            sub.stale = false;
            sub.degraded = false;
            sub.error = Some(reason.to_string());
        }
        self.outbox
            .retain(|c| !matches!(c, Command::Sub(_, s) if s == symbol));
        known && first
    }

    /// A depth version gap on `symbol` (shown in the upstream view).
    pub fn note_gap(&mut self, channel: Channel, symbol: &str) {
        if let Some(sub) = self.subs.get_mut(&(channel, symbol.to_string())) {
            sub.gaps += 1;
        }
    }

    /// Counts per (channel, symbol), as shown.
    pub fn counts(&self) -> SubscriptionCounts {
        let mut c = SubscriptionCounts::default();
        for sub in self.subs.values() {
            match sub.shown_state() {
                StreamState::Pending => c.pending += 1,
                StreamState::Acked => c.acked += 1,
                StreamState::Live => c.live += 1,
                StreamState::Stale => c.stale += 1,
                StreamState::Failed => c.failed += 1,
            }
        }
        c
    }

    /// Symbols whose ticker the WebSocket does not deliver after the whole ladder.
    pub fn degraded_symbols(&self) -> BTreeSet<String> {
        self.subs
            .iter()
            .filter(|((ch, _), s)| *ch == Channel::Ticker && s.degraded)
            .map(|((_, sym), _)| sym.clone())
            .collect()
    }

    /// Ready to take over in a rotation: every ticker Live, every other stream at least
    /// acked (a quiet market may not trade or move its book for minutes; once acked, new data
    /// reaches this socket).
    pub fn ready(&self) -> bool {
        self.subs.iter().all(|((ch, _), s)| match s.state {
            SubState::Failed => true,
            SubState::Live => !s.stale,
            SubState::Acked => *ch != Channel::Ticker,
            SubState::Pending => false,
        })
    }

    pub fn list(&self, now: Instant) -> Vec<UpstreamStream> {
        self.subs
            .iter()
            .map(|((ch, symbol), s)| UpstreamStream {
                channel: ch.label(),
                symbol: symbol.clone(),
                state: s.shown_state(),
                data_age_ms: s
                    .last_data
                    .map(|t| now.saturating_duration_since(t).as_millis() as u64),
                resubscribes: s.resubscribes,
                error: s.error.clone(),
                gaps: s.gaps,
            })
            .collect()
    }
}

/// Before a (re)connect: Pending again, but the history (counters, stale flag, whether a
/// reconnect was already spent on this stream, last data) is kept. The new socket gets a
/// fresh set of resubscribes before the ladder moves on.
fn reset_for_new_socket(sub: &mut Sub) {
    sub.state = SubState::Pending;
    sub.sent_at = None;
    sub.acked_at = None;
    sub.tries = 0;
    sub.retry_at = None;
}

#[cfg(test)]
mod tests;
