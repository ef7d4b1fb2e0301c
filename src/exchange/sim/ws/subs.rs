//! What one connection streams, and how a subscribe is answered under the subscription faults
//! (never ack, ack twice, `rs.error`, acked-but-silent, delayed ack).

use super::super::commands::{Channel, SymbolArg};
use super::super::faults::{FaultState, any_matches};
use super::super::feed::Topic;
use super::super::market::{SYMBOL_NAMES, symbol_index};
use std::time::Duration;

/// Bitmasks over symbol indexes: the simulator has far fewer than 64 symbols, and duplicate
/// subscribes collapse into one stream like on MEXC.
#[derive(Debug, Default)]
pub(super) struct Subscriptions {
    ticker: u64,
    deal: u64,
    tickers: bool,
}

fn bit(i: usize) -> u64 {
    1u64.checked_shl(i as u32).unwrap_or(0)
}

impl Subscriptions {
    pub fn wants(&self, topic: Topic) -> bool {
        match topic {
            Topic::Ticker(i) => self.ticker & bit(i) != 0,
            Topic::Deal(i) => self.deal & bit(i) != 0,
            Topic::Tickers => self.tickers,
        }
    }

    fn set(&mut self, channel: Channel, symbol: usize, on: bool) {
        let mask = match channel {
            Channel::Ticker => &mut self.ticker,
            Channel::Deal => &mut self.deal,
            Channel::Tickers => {
                self.tickers = on;
                return;
            }
        };
        if on {
            *mask |= bit(symbol);
        } else {
            *mask &= !bit(symbol);
        }
    }

    /// Apply `sub.<channel>` and say what to answer.
    pub fn subscribe(&mut self, channel: Channel, symbol: &SymbolArg, f: &FaultState) -> Answer {
        let name = channel.name();
        let (index, label) = match (channel, symbol) {
            (Channel::Tickers, _) => (Some(0), None),
            (_, SymbolArg::Text(s)) => (symbol_index(s), Some(s.as_str())),
            (_, other) => (None, Some(other.label())),
        };
        let not_exists = || Answer::error(format!("Contract [{}] not exists", symbol.label()));
        let Some(index) = index else {
            return not_exists();
        };
        // Selectors see the canonical symbol for known contracts.
        let sym = label.and_then(|_| SYMBOL_NAMES.get(index).copied());
        if any_matches(&f.rs_error, name, sym) {
            return not_exists();
        }
        let delay = any_matches(&f.delay_acks, name, sym)
            .then(|| Duration::from_millis(f.delay_acks_ms))
            .filter(|d| !d.is_zero());
        if any_matches(&f.silent, name, sym) {
            return Answer::acks(name, 1, delay);
        }
        if any_matches(&f.never_ack, name, sym) {
            if f.never_ack_streams {
                self.set(channel, index, true);
            }
            return Answer::acks(name, 0, None);
        }
        self.set(channel, index, true);
        let times = if any_matches(&f.ack_twice, name, sym) {
            2
        } else {
            1
        };
        Answer::acks(name, times, delay)
    }

    /// Apply `unsub.<channel>` (MEXC sends no reply).
    pub fn unsubscribe(&mut self, channel: Channel, symbol: &SymbolArg) {
        match (channel, symbol) {
            (Channel::Tickers, _) => self.set(channel, 0, false),
            (_, SymbolArg::Text(s)) => {
                if let Some(i) = symbol_index(s) {
                    self.set(channel, i, false);
                }
            }
            _ => {}
        }
    }
}

/// A reply to render when it is sent (so its `ts` is the send time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Reply {
    /// `rs.sub.<channel>` success.
    Ack(&'static str),
    /// `rs.error` with this text.
    Error(String),
}

#[derive(Debug, PartialEq, Eq)]
pub(super) struct Answer {
    pub replies: Vec<Reply>,
    /// Hold the replies back this long (the `delay_acks` fault).
    pub delay: Option<Duration>,
}

impl Answer {
    fn error(text: String) -> Answer {
        Answer {
            replies: vec![Reply::Error(text)],
            delay: None,
        }
    }

    fn acks(channel: &'static str, times: usize, delay: Option<Duration>) -> Answer {
        Answer {
            replies: vec![Reply::Ack(channel); times],
            delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(list: &[&str]) -> Vec<crate::exchange::sim::faults::Selector> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn btc() -> SymbolArg {
        SymbolArg::Text("BTC_USDT".into())
    }

    #[test]
    fn healthy_unknown_and_each_fault() {
        let deal_btc = Topic::Deal(symbol_index("BTC_USDT").unwrap());
        let off = FaultState::default();

        let mut s = Subscriptions::default();
        let a = s.subscribe(Channel::Deal, &btc(), &off);
        assert_eq!(a.replies, vec![Reply::Ack("deal")]);
        assert!(s.wants(deal_btc));

        let mut s = Subscriptions::default();
        let a = s.subscribe(Channel::Deal, &SymbolArg::Text("NOPE".into()), &off);
        assert_eq!(
            a.replies,
            vec![Reply::Error("Contract [NOPE] not exists".into())]
        );

        let f = FaultState {
            rs_error: sel(&["BTC_USDT"]),
            ..FaultState::default()
        };
        let a = s.subscribe(Channel::Deal, &btc(), &f);
        assert_eq!(
            a.replies,
            vec![Reply::Error("Contract [BTC_USDT] not exists".into())]
        );
        assert!(!s.wants(deal_btc));

        let f = FaultState {
            silent: sel(&["deal:*"]),
            ..FaultState::default()
        };
        assert_eq!(s.subscribe(Channel::Deal, &btc(), &f).replies.len(), 1);
        assert!(!s.wants(deal_btc), "silent never streams");

        let f = FaultState {
            never_ack: sel(&["*"]),
            ..FaultState::default()
        };
        assert!(s.subscribe(Channel::Deal, &btc(), &f).replies.is_empty());
        assert!(!s.wants(deal_btc));
        let f = FaultState {
            never_ack_streams: true,
            ..f
        };
        assert!(s.subscribe(Channel::Deal, &btc(), &f).replies.is_empty());
        assert!(s.wants(deal_btc));

        let f = FaultState {
            ack_twice: sel(&["deal:BTC_USDT"]),
            delay_acks: sel(&["*"]),
            delay_acks_ms: 50,
            ..FaultState::default()
        };
        let a = s.subscribe(Channel::Deal, &btc(), &f);
        assert_eq!(a.replies.len(), 2);
        assert_eq!(a.delay, Some(Duration::from_millis(50)));
    }
}
