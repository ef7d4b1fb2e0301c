//! Subscription bookkeeping per (channel, symbol), free of IO so it is unit-testable.
//!
//! States: Pending (queued or sent) -> Acked (`rs.sub.*`) -> Live (first data), or Failed
//! (`rs.error Contract [X] not exists`). Acks carry no symbol, so every *sent* subscribe
//! is queued per channel and acks are matched FIFO; the first data frame is the real proof.
//! The hardening issue adds Stale, ack timeouts and resubscribe on top of this type.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::protocol::SubscriptionCounts;

use super::wire::Channel;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubState {
    Pending,
    Acked,
    Live,
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

#[derive(Debug, Default)]
pub struct Subscriptions {
    desired: BTreeSet<String>,
    /// Only for desired, non-failed symbols.
    states: BTreeMap<(Channel, String), SubState>,
    /// Symbol -> exchange text. Failed symbols are not resubscribed (no hot loop), not even
    /// after a reconnect, until they leave the watch set and come back.
    failed: BTreeMap<String, String>,
    /// Sent subscribes awaiting their reply, per channel, oldest first.
    awaiting: BTreeMap<Channel, VecDeque<String>>,
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

    pub fn state(&self, channel: Channel, symbol: &str) -> Option<&SubState> {
        self.states.get(&(channel, symbol.to_string()))
    }

    pub fn failed(&self) -> &BTreeMap<String, String> {
        &self.failed
    }

    /// Replace the watch set. While connected, queues subscribes for new symbols and
    /// unsubscribes for removed ones (dropping still-unsent subscribes instead).
    pub fn set_desired(&mut self, wanted: &BTreeSet<String>) {
        let removed: Vec<String> = self.desired.difference(wanted).cloned().collect();
        let added: Vec<String> = wanted.difference(&self.desired).cloned().collect();
        for symbol in removed {
            self.desired.remove(&symbol);
            let was_failed = self.failed.remove(&symbol).is_some();
            for ch in Channel::ALL {
                let had_state = self.states.remove(&(ch, symbol.clone())).is_some();
                let unsent = Command::Sub(ch, symbol.clone());
                let before = self.outbox.len();
                self.outbox.retain(|c| *c != unsent);
                let was_sent = before == self.outbox.len();
                // `awaiting` keeps the symbol: its reply is still coming and FIFO must hold.
                if self.connected && had_state && was_sent && !was_failed {
                    self.outbox.push_back(Command::Unsub(ch, symbol.clone()));
                }
            }
        }
        for symbol in added {
            self.desired.insert(symbol.clone());
            for ch in Channel::ALL {
                self.states.insert((ch, symbol.clone()), SubState::Pending);
                if self.connected {
                    self.outbox.push_back(Command::Sub(ch, symbol.clone()));
                }
            }
        }
    }

    /// A new connection is up: everything not failed is subscribed again from scratch.
    pub fn on_connected(&mut self) {
        self.connected = true;
        self.awaiting.clear();
        self.outbox.clear();
        for symbol in &self.desired {
            if self.failed.contains_key(symbol) {
                continue;
            }
            for ch in Channel::ALL {
                self.states.insert((ch, symbol.clone()), SubState::Pending);
                self.outbox.push_back(Command::Sub(ch, symbol.clone()));
            }
        }
    }

    pub fn on_disconnected(&mut self) {
        self.connected = false;
        self.awaiting.clear();
        self.outbox.clear();
        for state in self.states.values_mut() {
            *state = SubState::Pending;
        }
    }

    pub fn has_outbox(&self) -> bool {
        !self.outbox.is_empty()
    }

    /// Take the next command to send; subscribes start waiting for their ack now.
    pub fn next_command(&mut self) -> Option<Command> {
        let cmd = self.outbox.pop_front()?;
        if let Command::Sub(ch, symbol) = &cmd {
            self.awaiting
                .entry(*ch)
                .or_default()
                .push_back(symbol.clone());
        }
        Some(cmd)
    }

    /// `rs.sub.<channel>`: pops the oldest sent subscribe of that channel. Returns its
    /// symbol (if any was outstanding) so the caller can log it.
    pub fn on_ack(&mut self, channel: Channel, ok: bool) -> Option<String> {
        let symbol = self.awaiting.get_mut(&channel)?.pop_front()?;
        if ok {
            if let Some(state) = self.states.get_mut(&(channel, symbol.clone())) {
                // Data may have beaten the ack; never downgrade Live.
                if *state == SubState::Pending {
                    *state = SubState::Acked;
                }
            }
        }
        Some(symbol)
    }

    pub fn on_data(&mut self, channel: Channel, symbol: &str) -> DataVerdict {
        match self.states.get_mut(&(channel, symbol.to_string())) {
            None => DataVerdict::NotSubscribed,
            Some(SubState::Live) => DataVerdict::Data,
            Some(state) => {
                *state = SubState::Live;
                DataVerdict::FirstData
            }
        }
    }

    /// `rs.error Contract [X] not exists`: X fails on every channel. Its outstanding
    /// replies are consumed so FIFO matching of the other symbols stays aligned.
    /// Returns true the first time (so `SymbolFailed` is emitted once, not per channel).
    pub fn on_contract_refused(&mut self, symbol: &str, reason: &str) -> bool {
        for queue in self.awaiting.values_mut() {
            if let Some(pos) = queue.iter().position(|s| s == symbol) {
                queue.remove(pos);
            }
        }
        if !self.desired.contains(symbol) || self.failed.contains_key(symbol) {
            return false;
        }
        for ch in Channel::ALL {
            self.states.remove(&(ch, symbol.to_string()));
        }
        self.outbox
            .retain(|c| !matches!(c, Command::Sub(_, s) if s == symbol));
        self.failed.insert(symbol.to_string(), reason.to_string());
        true
    }

    /// Counts per (channel, symbol); a failed symbol counts once per channel.
    pub fn counts(&self) -> SubscriptionCounts {
        let mut c = SubscriptionCounts::default();
        for state in self.states.values() {
            match state {
                SubState::Pending => c.pending += 1,
                SubState::Acked => c.acked += 1,
                SubState::Live => c.live += 1,
            }
        }
        c.failed = (self.failed.len() * Channel::ALL.len()) as u32;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(symbols: &[&str]) -> BTreeSet<String> {
        symbols.iter().map(|s| s.to_string()).collect()
    }

    fn drain(s: &mut Subscriptions) -> Vec<Command> {
        std::iter::from_fn(|| s.next_command()).collect()
    }

    fn sub(ch: Channel, sym: &str) -> Command {
        Command::Sub(ch, sym.into())
    }

    #[test]
    fn connect_subscribes_ticker_and_deal_for_every_symbol() {
        let mut s = Subscriptions::new();
        s.set_desired(&set(&["BTC_USDT", "ETH_USDT"]));
        assert!(!s.has_outbox(), "nothing is sent while disconnected");
        s.on_connected();
        assert_eq!(
            drain(&mut s),
            vec![
                sub(Channel::Ticker, "BTC_USDT"),
                sub(Channel::Deal, "BTC_USDT"),
                sub(Channel::Ticker, "ETH_USDT"),
                sub(Channel::Deal, "ETH_USDT"),
            ]
        );
        assert_eq!(s.counts().pending, 4);
    }

    #[test]
    fn acks_match_fifo_per_channel_and_data_makes_live() {
        let mut s = Subscriptions::new();
        s.set_desired(&set(&["A_USDT", "B_USDT"]));
        s.on_connected();
        drain(&mut s);
        assert_eq!(s.on_ack(Channel::Deal, true).as_deref(), Some("A_USDT"));
        assert_eq!(s.state(Channel::Deal, "A_USDT"), Some(&SubState::Acked));
        assert_eq!(s.state(Channel::Ticker, "A_USDT"), Some(&SubState::Pending));
        // Data before ack: Live at once, and the later ack does not downgrade it.
        assert_eq!(s.on_data(Channel::Deal, "B_USDT"), DataVerdict::FirstData);
        assert_eq!(s.on_ack(Channel::Deal, true).as_deref(), Some("B_USDT"));
        assert_eq!(s.state(Channel::Deal, "B_USDT"), Some(&SubState::Live));
        assert_eq!(s.on_data(Channel::Deal, "B_USDT"), DataVerdict::Data);
        assert_eq!(s.on_ack(Channel::Deal, true), None, "no stray acks");
        let c = s.counts();
        assert_eq!((c.pending, c.acked, c.live), (2, 1, 1));
    }

    #[test]
    fn unsent_subscriptions_are_not_awaiting_acks() {
        let mut s = Subscriptions::new();
        s.set_desired(&set(&["A_USDT", "B_USDT"]));
        s.on_connected();
        s.next_command(); // ticker A only
        assert_eq!(s.on_ack(Channel::Ticker, true).as_deref(), Some("A_USDT"));
        assert_eq!(s.on_ack(Channel::Ticker, true), None);
    }

    #[test]
    fn watch_set_changes_sub_new_and_unsub_removed() {
        let mut s = Subscriptions::new();
        s.set_desired(&set(&["A_USDT", "B_USDT"]));
        s.on_connected();
        drain(&mut s);
        s.set_desired(&set(&["B_USDT", "C_USDT"]));
        assert_eq!(
            drain(&mut s),
            vec![
                Command::Unsub(Channel::Ticker, "A_USDT".into()),
                Command::Unsub(Channel::Deal, "A_USDT".into()),
                sub(Channel::Ticker, "C_USDT"),
                sub(Channel::Deal, "C_USDT"),
            ]
        );
        assert_eq!(
            s.on_data(Channel::Deal, "A_USDT"),
            DataVerdict::NotSubscribed
        );
        // A's ack was still outstanding and must be consumed before B's.
        assert_eq!(s.on_ack(Channel::Ticker, true).as_deref(), Some("A_USDT"));
        assert_eq!(s.on_ack(Channel::Ticker, true).as_deref(), Some("B_USDT"));
    }

    #[test]
    fn removing_an_unsent_symbol_just_drops_its_subscribes() {
        let mut s = Subscriptions::new();
        s.set_desired(&set(&["A_USDT"]));
        s.on_connected();
        s.set_desired(&set(&[]));
        assert_eq!(drain(&mut s), vec![]);
        assert_eq!(s.counts(), SubscriptionCounts::default());
    }

    #[test]
    fn refused_contract_fails_once_keeps_fifo_and_is_not_resubscribed() {
        let mut s = Subscriptions::new();
        s.set_desired(&set(&["NOPE_USDT", "BTC_USDT"]));
        s.on_connected();
        drain(&mut s);
        // Replies arrive in order: ticker NOPE -> error, deal NOPE -> error, then acks.
        assert!(s.on_contract_refused("NOPE_USDT", "Contract [NOPE_USDT] not exists"));
        assert!(!s.on_contract_refused("NOPE_USDT", "Contract [NOPE_USDT] not exists"));
        assert_eq!(s.on_ack(Channel::Ticker, true).as_deref(), Some("BTC_USDT"));
        assert_eq!(s.on_ack(Channel::Deal, true).as_deref(), Some("BTC_USDT"));
        assert_eq!(s.counts().failed, 2);
        assert_eq!(s.counts().acked, 2);

        s.on_disconnected();
        s.on_connected();
        let cmds = drain(&mut s);
        assert!(
            cmds.iter()
                .all(|c| !matches!(c, Command::Sub(_, x) if x == "NOPE_USDT")),
            "failed symbol must not be retried on reconnect: {cmds:?}"
        );
        assert_eq!(cmds.len(), 2);

        // Leaving and re-entering the watch set is the explicit way to try again.
        s.set_desired(&set(&["BTC_USDT"]));
        assert!(s.failed().is_empty());
        s.set_desired(&set(&["BTC_USDT", "NOPE_USDT"]));
        assert_eq!(drain(&mut s).len(), 2);
    }

    #[test]
    fn disconnect_resets_states_and_reconnect_resubscribes_everything() {
        let mut s = Subscriptions::new();
        s.set_desired(&set(&["A_USDT"]));
        s.on_connected();
        drain(&mut s);
        s.on_data(Channel::Ticker, "A_USDT");
        s.on_disconnected();
        assert_eq!(s.counts().pending, 2);
        s.set_desired(&set(&["A_USDT", "B_USDT"]));
        assert!(!s.has_outbox());
        s.on_connected();
        assert_eq!(drain(&mut s).len(), 4);
        assert_eq!(s.on_data(Channel::Ticker, "A_USDT"), DataVerdict::FirstData);
    }
}
