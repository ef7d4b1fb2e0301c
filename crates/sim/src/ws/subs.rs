//! What one connection streams, and how a subscribe is answered under the subscription faults
//! (never ack, ack twice, `rs.error`, acked-but-silent, delayed ack).

use super::super::commands::{Arg, Channel, SubArgs, SymbolArg};
use super::super::faults::{FaultState, any_matches};
use super::super::feed::Topic;
use super::super::interest::Interest;
use super::super::interval::KlineInterval;
use super::super::market::{symbol_index, symbol_name};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// `push.depth.full` sizes MEXC serves; 20 when none is asked for.
const FULL_DEPTH_LIMITS: [u8; 3] = [5, 10, 20];
const FULL_DEPTH_DEFAULT: u8 = 20;
const NOT_SUPPORT_LIMIT: &str = "Not support limit";
const NOT_SUPPORT_INTERVAL: &str = "Not support interval";

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

#[derive(Debug)]
pub(super) struct Subscriptions {
    /// Contracts the market lists; others are "not exists".
    listed: usize,
    ticker: Bits,
    deal: Bits,
    tickers: bool,
    /// The on-demand streams (depth, klines, funding, index, fair), also registered in
    /// `interest` so the feed renders them.
    on_demand: HashSet<Topic>,
    interest: Arc<Interest<Topic>>,
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        for topic in self.on_demand.drain() {
            self.interest.remove(topic);
        }
    }
}

/// The one stream a subscription to `channel` with `args` means, or MEXC's refusal text.
fn topic_of(channel: Channel, symbol: usize, args: &SubArgs) -> Result<Topic, &'static str> {
    Ok(match channel {
        Channel::Ticker => Topic::Ticker(symbol),
        Channel::Deal => Topic::Deal(symbol),
        Channel::Tickers => Topic::Tickers,
        Channel::Depth if args.compress => Topic::Depth(symbol),
        Channel::Depth => Topic::DepthRaw(symbol),
        Channel::DepthFull => {
            let limit = match &args.limit {
                Arg::Missing => Some(FULL_DEPTH_DEFAULT),
                Arg::Int(n) => u8::try_from(*n).ok(),
                Arg::Text(t) => t.trim().parse::<u8>().ok(),
                Arg::Other(_) => None,
            };
            match limit.filter(|l| FULL_DEPTH_LIMITS.contains(l)) {
                Some(l) => Topic::DepthFull(symbol, l),
                None => return Err(NOT_SUPPORT_LIMIT),
            }
        }
        Channel::Kline => {
            let interval = match &args.interval {
                // The docs' example always names one; a bare subscribe gets minutes, as REST
                // defaults to.
                Arg::Missing => Some(KlineInterval::Min1),
                Arg::Text(t) => KlineInterval::parse(t),
                Arg::Int(_) | Arg::Other(_) => None,
            };
            match interval {
                Some(i) => Topic::Kline(symbol, i),
                None => return Err(NOT_SUPPORT_INTERVAL),
            }
        }
        Channel::FundingRate => Topic::FundingRate(symbol),
        Channel::IndexPrice => Topic::IndexPrice(symbol),
        Channel::FairPrice => Topic::FairPrice(symbol),
    })
}

impl Subscriptions {
    #[cfg(test)]
    pub fn new(listed: usize) -> Subscriptions {
        Subscriptions::with_interest(listed, Arc::default())
    }

    pub fn with_interest(listed: usize, interest: Arc<Interest<Topic>>) -> Subscriptions {
        Subscriptions {
            listed,
            ticker: Bits::default(),
            deal: Bits::default(),
            tickers: false,
            on_demand: HashSet::new(),
            interest,
        }
    }

    pub fn wants(&self, topic: Topic) -> bool {
        match topic {
            Topic::Ticker(i) => self.ticker.get(i),
            Topic::Deal(i) => self.deal.get(i),
            Topic::Tickers => self.tickers,
            other => self.on_demand.contains(&other),
        }
    }

    fn set(&mut self, topic: Topic, on: bool) {
        let bits = match topic {
            Topic::Ticker(i) => (&mut self.ticker, i),
            Topic::Deal(i) => (&mut self.deal, i),
            Topic::Tickers => {
                self.tickers = on;
                return;
            }
            other => {
                if on && self.on_demand.insert(other) {
                    self.interest.add(other);
                } else if !on && self.on_demand.remove(&other) {
                    self.interest.remove(other);
                }
                return;
            }
        };
        bits.0.set(bits.1, on);
    }

    /// One stream per (channel, symbol) except klines (one per interval): a new depth mode or
    /// depth.full size replaces the old one.
    fn replace(&mut self, topic: Topic) {
        let stale: Vec<Topic> = self
            .on_demand
            .iter()
            .copied()
            .filter(|t| match (*t, topic) {
                (Topic::Depth(a) | Topic::DepthRaw(a), Topic::Depth(b) | Topic::DepthRaw(b)) => {
                    a == b
                }
                (Topic::DepthFull(a, _), Topic::DepthFull(b, _)) => a == b,
                _ => false,
            })
            .collect();
        for t in stale {
            self.set(t, false);
        }
        self.set(topic, true);
    }

    /// Apply `sub.<channel>` and say what to answer.
    pub fn subscribe(
        &mut self,
        channel: Channel,
        symbol: &SymbolArg,
        args: &SubArgs,
        f: &FaultState,
    ) -> Answer {
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
        let topic = match topic_of(channel, index, args) {
            Ok(topic) => topic,
            Err(text) => return Answer::error(text.to_string()),
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
                self.replace(topic);
            }
            return Answer::acks(name, 0, None);
        }
        self.replace(topic);
        let times = if any_matches(&f.ack_twice, name, sym) {
            2
        } else {
            1
        };
        Answer::acks(name, times, delay)
    }

    /// Apply `unsub.<channel>` (MEXC sends no reply). Without a valid interval, `unsub.kline`
    /// ends every interval of the symbol (the docs show it with the symbol only).
    pub fn unsubscribe(&mut self, channel: Channel, symbol: &SymbolArg, args: &SubArgs) {
        let index = match (channel, symbol) {
            (Channel::Tickers, _) => 0,
            (_, SymbolArg::Text(s)) => match symbol_index(s).filter(|&i| i < self.listed) {
                Some(i) => i,
                None => return,
            },
            _ => return,
        };
        let matching: Vec<Topic> = match channel {
            Channel::Ticker => vec![Topic::Ticker(index)],
            Channel::Deal => vec![Topic::Deal(index)],
            Channel::Tickers => vec![Topic::Tickers],
            Channel::Kline => match topic_of(channel, index, args) {
                Ok(t) if !matches!(args.interval, Arg::Missing) => vec![t],
                _ => KlineInterval::ALL
                    .iter()
                    .map(|&i| Topic::Kline(index, i))
                    .collect(),
            },
            _ => self
                .on_demand
                .iter()
                .copied()
                .filter(|t| t.channel() == channel.name() && t.symbol() == symbol_name(index))
                .collect(),
        };
        for t in matching {
            self.set(t, false);
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

    fn none() -> SubArgs {
        SubArgs::default()
    }

    #[test]
    fn healthy_unknown_and_each_fault() {
        let deal_btc = Topic::Deal(symbol_index("BTC_USDT").unwrap());
        let off = FaultState::default();

        let mut s = Subscriptions::new(12);
        let a = s.subscribe(Channel::Deal, &btc(), &none(), &off);
        assert_eq!(a.replies, vec![Reply::Ack("deal")]);
        assert!(s.wants(deal_btc));

        let mut s = Subscriptions::new(12);
        let a = s.subscribe(
            Channel::Deal,
            &SymbolArg::Text("SIM012_USDT".into()),
            &none(),
            &off,
        );
        assert_eq!(
            a.replies,
            vec![Reply::Error("Contract [SIM012_USDT] not exists".into())],
            "a synthetic contract beyond sim.symbols is not listed"
        );
        let a = s.subscribe(
            Channel::Deal,
            &SymbolArg::Text("NOPE".into()),
            &none(),
            &off,
        );
        assert_eq!(
            a.replies,
            vec![Reply::Error("Contract [NOPE] not exists".into())]
        );

        let f = FaultState {
            rs_error: sel(&["BTC_USDT"]),
            ..FaultState::default()
        };
        let a = s.subscribe(Channel::Deal, &btc(), &none(), &f);
        assert_eq!(
            a.replies,
            vec![Reply::Error("Contract [BTC_USDT] not exists".into())]
        );
        assert!(!s.wants(deal_btc));

        let f = FaultState {
            silent: sel(&["deal:*"]),
            ..FaultState::default()
        };
        assert_eq!(
            s.subscribe(Channel::Deal, &btc(), &none(), &f)
                .replies
                .len(),
            1
        );
        assert!(!s.wants(deal_btc), "silent never streams");

        let f = FaultState {
            never_ack: sel(&["*"]),
            ..FaultState::default()
        };
        assert!(
            s.subscribe(Channel::Deal, &btc(), &none(), &f)
                .replies
                .is_empty()
        );
        assert!(!s.wants(deal_btc));
        let f = FaultState {
            never_ack_streams: true,
            ..f
        };
        assert!(
            s.subscribe(Channel::Deal, &btc(), &none(), &f)
                .replies
                .is_empty()
        );
        assert!(s.wants(deal_btc));

        let f = FaultState {
            ack_twice: sel(&["deal:BTC_USDT"]),
            delay_acks: sel(&["*"]),
            delay_acks_ms: 50,
            ..FaultState::default()
        };
        let a = s.subscribe(Channel::Deal, &btc(), &none(), &f);
        assert_eq!(a.replies.len(), 2);
        assert_eq!(a.delay, Some(Duration::from_millis(50)));
    }

    #[test]
    fn synthetic_contracts_beyond_64_stream_when_listed() {
        let off = FaultState::default();
        let mut s = Subscriptions::new(200);
        let sym = SymbolArg::Text("SIM150_USDT".into());
        assert_eq!(
            s.subscribe(Channel::Ticker, &sym, &none(), &off).replies,
            vec![Reply::Ack("ticker")]
        );
        assert!(s.wants(Topic::Ticker(150)));
        assert!(!s.wants(Topic::Ticker(86)) && !s.wants(Topic::Deal(150)));
        s.unsubscribe(Channel::Ticker, &sym, &none());
        assert!(!s.wants(Topic::Ticker(150)));
    }

    fn args(json: &str) -> SubArgs {
        let text = format!(r#"{{"method":"sub.x","param":{json}}}"#);
        // Parse the params the way the endpoint does, through a real command.
        let text = text.replace("sub.x", "sub.depth");
        match crate::commands::parse(&text).unwrap() {
            crate::commands::Command::Sub { args, .. } => args,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn market_data_channels_validate_their_params_like_mexc() {
        let off = FaultState::default();
        let interest = Arc::new(Interest::default());
        let mut s = Subscriptions::with_interest(12, interest.clone());
        let ok = |a: Answer, ch: &'static str| assert_eq!(a.replies, vec![Reply::Ack(ch)]);
        let err = |a: Answer, text: &str| assert_eq!(a.replies, vec![Reply::Error(text.into())]);

        ok(
            s.subscribe(Channel::DepthFull, &btc(), &args(r#"{"limit":5}"#), &off),
            "depth.full",
        );
        assert!(s.wants(Topic::DepthFull(0, 5)));
        // A new size replaces the old one.
        ok(
            s.subscribe(Channel::DepthFull, &btc(), &args("{}"), &off),
            "depth.full",
        );
        assert!(s.wants(Topic::DepthFull(0, 20)) && !s.wants(Topic::DepthFull(0, 5)));
        for bad in [
            r#"{"limit":7}"#,
            r#"{"limit":0}"#,
            r#"{"limit":"x"}"#,
            r#"{"limit":5.5}"#,
        ] {
            err(
                s.subscribe(Channel::DepthFull, &btc(), &args(bad), &off),
                "Not support limit",
            );
        }
        // An unknown contract is refused first, whatever the other params.
        let nope = SymbolArg::Text("NOPE_USDT".into());
        err(
            s.subscribe(
                Channel::Kline,
                &nope,
                &args(r#"{"interval":"Hour1"}"#),
                &off,
            ),
            "Contract [NOPE_USDT] not exists",
        );
        err(
            s.subscribe(
                Channel::Kline,
                &btc(),
                &args(r#"{"interval":"Hour1"}"#),
                &off,
            ),
            "Not support interval",
        );
        ok(
            s.subscribe(
                Channel::Kline,
                &btc(),
                &args(r#"{"interval":"Min60"}"#),
                &off,
            ),
            "kline",
        );
        ok(
            s.subscribe(
                Channel::Kline,
                &btc(),
                &args(r#"{"interval":"Min1"}"#),
                &off,
            ),
            "kline",
        );
        assert!(s.wants(Topic::Kline(0, KlineInterval::Min60)));
        assert!(s.wants(Topic::Kline(0, KlineInterval::Min1)));
        // Depth: merged by default, unmerged with compress:false, one mode at a time.
        ok(
            s.subscribe(Channel::Depth, &btc(), &args("{}"), &off),
            "depth",
        );
        assert!(s.wants(Topic::Depth(0)));
        ok(
            s.subscribe(Channel::Depth, &btc(), &args(r#"{"compress":false}"#), &off),
            "depth",
        );
        assert!(s.wants(Topic::DepthRaw(0)) && !s.wants(Topic::Depth(0)));
        for (ch, topic) in [
            (Channel::FundingRate, Topic::FundingRate(0)),
            (Channel::IndexPrice, Topic::IndexPrice(0)),
            (Channel::FairPrice, Topic::FairPrice(0)),
        ] {
            ok(s.subscribe(ch, &btc(), &none(), &off), ch.name());
            assert!(s.wants(topic));
        }
        assert_eq!(interest.wanted().len(), 7);

        // Unsubscribes: kline without an interval ends every interval of the symbol.
        s.unsubscribe(Channel::Kline, &btc(), &args(r#"{"interval":"Min60"}"#));
        assert!(!s.wants(Topic::Kline(0, KlineInterval::Min60)));
        assert!(s.wants(Topic::Kline(0, KlineInterval::Min1)));
        s.unsubscribe(Channel::Kline, &btc(), &none());
        s.unsubscribe(Channel::Depth, &btc(), &none());
        s.unsubscribe(Channel::DepthFull, &btc(), &none());
        assert!(!s.wants(Topic::Kline(0, KlineInterval::Min1)));
        assert!(!s.wants(Topic::DepthRaw(0)) && !s.wants(Topic::DepthFull(0, 20)));
        assert_eq!(interest.wanted().len(), 3);
        // A closed connection gives its streams up.
        drop(s);
        assert!(interest.wanted().is_empty());
    }
}
