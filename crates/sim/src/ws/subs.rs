//! What one connection streams, and how a subscribe is answered under the subscription faults
//! (never ack, ack twice, `rs.error`, acked-but-silent, delayed ack).

use super::super::commands::{Channel, SymbolArg};
use super::super::faults::{FaultState, any_matches};
use super::super::feed::Topic;
use super::super::market::{symbol_index, symbol_name};
use std::time::Duration;

/// Symbol indexes as bits (up to `sim.symbols`, at most 1000): duplicate subscribes collapse
/// into one stream like on MEXC, and the per-push check is one shift and mask.
#[derive(Debug, Default)]
struct Bits(Vec<u64>);

impl Bits {
    fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, i: usize, on: bool) {
        if self.0.len() <= i / 64 {
            if !on {
                return;
            }
            self.0.resize(i / 64 + 1, 0);
        }
        if on {
            self.0[i / 64] |= 1 << (i % 64);
        } else {
            self.0[i / 64] &= !(1 << (i % 64));
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Subscriptions {
    /// Contracts the market lists; others are "not exists".
    listed: usize,
    ticker: Bits,
    deal: Bits,
    tickers: bool,
}

impl Subscriptions {
    pub fn new(listed: usize) -> Subscriptions {
        Subscriptions {
            listed,
            ..Subscriptions::default()
        }
    }

    pub fn wants(&self, topic: Topic) -> bool {
        match topic {
            Topic::Ticker(i) => self.ticker.get(i),
            Topic::Deal(i) => self.deal.get(i),
            Topic::Tickers => self.tickers,
        }
    }

    fn set(&mut self, channel: Channel, symbol: usize, on: bool) {
        let bits = match channel {
            Channel::Ticker => &mut self.ticker,
            Channel::Deal => &mut self.deal,
            Channel::Tickers => {
                self.tickers = on;
                return;
            }
        };
        bits.set(symbol, on);
    }

    /// Apply `sub.<channel>` and say what to answer.
    pub fn subscribe(&mut self, channel: Channel, symbol: &SymbolArg, f: &FaultState) -> Answer {
        let name = channel.name();
        let (index, label) = match (channel, symbol) {
            (Channel::Tickers, _) => (Some(0), None),
            (_, SymbolArg::Text(s)) => (
                symbol_index(s).filter(|&i| i < self.listed),
                Some(s.as_str()),
            ),
            (_, other) => (None, Some(other.label())),
        };
        let not_exists = || Answer::error(format!("Contract [{}] not exists", symbol.label()));
        let Some(index) = index else {
            return not_exists();
        };
        // Selectors see the canonical symbol for known contracts.
        let sym = label.and_then(|_| symbol_name(index));
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
                if let Some(i) = symbol_index(s).filter(|&i| i < self.listed) {
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

    fn sel(list: &[&str]) -> Vec<crate::faults::Selector> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn btc() -> SymbolArg {
        SymbolArg::Text("BTC_USDT".into())
    }

    #[test]
    fn healthy_unknown_and_each_fault() {
        let deal_btc = Topic::Deal(symbol_index("BTC_USDT").unwrap());
        let off = FaultState::default();

        let mut s = Subscriptions::new(12);
        let a = s.subscribe(Channel::Deal, &btc(), &off);
        assert_eq!(a.replies, vec![Reply::Ack("deal")]);
        assert!(s.wants(deal_btc));

        let mut s = Subscriptions::new(12);
        let a = s.subscribe(Channel::Deal, &SymbolArg::Text("SIM012_USDT".into()), &off);
        assert_eq!(
            a.replies,
            vec![Reply::Error("Contract [SIM012_USDT] not exists".into())],
            "a synthetic contract beyond sim.symbols is not listed"
        );
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

    #[test]
    fn synthetic_contracts_beyond_64_stream_when_listed() {
        let off = FaultState::default();
        let mut s = Subscriptions::new(200);
        let sym = SymbolArg::Text("SIM150_USDT".into());
        assert_eq!(
            s.subscribe(Channel::Ticker, &sym, &off).replies,
            vec![Reply::Ack("ticker")]
        );
        assert!(s.wants(Topic::Ticker(150)));
        assert!(!s.wants(Topic::Ticker(86)) && !s.wants(Topic::Deal(150)));
        s.unsubscribe(Channel::Ticker, &sym);
        assert!(!s.wants(Topic::Ticker(150)));
    }
}
