//! The per-stream escalation ladder, pure: given the subscriptions and the
//! time, decide which streams are in trouble and what to do about each, in proportion:
//!
//! 1. resubscribe (`unsub` + `sub`) up to `max_tries` times;
//! 2. then one reconnect of the socket — once per stream until it delivers data again, so
//!    a stream the exchange never serves cannot cause a reconnect storm;
//! 3. then "degraded": REST polling covers the symbol's ticker and the stream is retried
//!    slowly (every [`SLOW_RETRY_FACTOR`] thresholds), never in a hot loop.
//!
//! Trouble is either an ack timeout (a sent subscribe with neither ack nor data) or a
//! stale ticker (no data for `ticker_stale` since the ack or the last data). Deal streams
//! are never judged by data age: a quiet market is normal and must not look like a fault.

use std::time::Duration;

use tokio::time::Instant;

use super::subscriptions::{Key, SubState, Subscriptions};
use super::wire::Channel;

/// Degraded streams are retried every this many thresholds.
pub const SLOW_RETRY_FACTOR: u32 = 4;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub ack_timeout: Duration,
    pub ticker_stale: Duration,
    pub max_tries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Sent this long ago, neither ack nor data.
    AckTimeout { waited_ms: u64 },
    /// No data for this long (since the ack or the last data frame).
    Stale { age_ms: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Resubscribe {
        attempt: u32,
        slow: bool,
    },
    Reconnect,
    /// Ladder exhausted: REST takes over; slow retries from now on.
    Degrade,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub key: Key,
    pub why: Why,
    pub step: Step,
}

/// One watchdog pass. Marks stale streams, applies the ladder's bookkeeping and queues the
/// resubscribes; the caller logs the actions and carries out `Reconnect`.
pub fn check(subs: &mut Subscriptions, now: Instant, l: Limits) -> Vec<Action> {
    let ms = |d: Duration| d.as_millis() as u64;
    let mut actions = Vec::new();
    for (key, sub) in subs.iter_mut() {
        let why = match sub.state {
            SubState::Failed => None,
            SubState::Pending => sub
                .sent_at
                .map(|t| now.saturating_duration_since(t))
                .filter(|w| *w >= l.ack_timeout)
                .map(|w| Why::AckTimeout { waited_ms: ms(w) }),
            SubState::Acked | SubState::Live if key.0 == Channel::Ticker => {
                let since = match (sub.acked_at, sub.last_data) {
                    (Some(a), Some(d)) => Some(a.max(d)),
                    (a, d) => a.or(d),
                };
                since
                    .map(|t| now.saturating_duration_since(t))
                    .filter(|age| *age >= l.ticker_stale)
                    .map(|age| Why::Stale { age_ms: ms(age) })
            }
            SubState::Acked | SubState::Live => None,
        };
        let Some(why) = why else { continue };
        if matches!(why, Why::Stale { .. }) {
            sub.stale = true;
        }
        let threshold = match why {
            Why::AckTimeout { .. } => l.ack_timeout,
            Why::Stale { .. } => l.ticker_stale,
        };
        let step = if sub.degraded {
            if sub.retry_at.is_some_and(|t| now < t) {
                continue;
            }
            sub.retry_at = Some(now + threshold * SLOW_RETRY_FACTOR);
            Step::Resubscribe {
                attempt: sub.tries + 1,
                slow: true,
            }
        } else if sub.tries < l.max_tries {
            Step::Resubscribe {
                attempt: sub.tries + 1,
                slow: false,
            }
        } else if !sub.reconnect_used {
            sub.reconnect_used = true;
            Step::Reconnect
        } else {
            sub.degraded = true;
            sub.retry_at = Some(now + threshold * SLOW_RETRY_FACTOR);
            Step::Degrade
        };
        actions.push(Action {
            key: key.clone(),
            why,
            step,
        });
    }
    for a in &actions {
        if let Step::Resubscribe { .. } = a.step {
            subs.resubscribe(a.key.0, &a.key.1);
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn limits() -> Limits {
        Limits {
            ack_timeout: Duration::from_millis(100),
            ticker_stale: Duration::from_millis(300),
            max_tries: 2,
        }
    }

    fn connected(symbols: &[&str], now: Instant) -> Subscriptions {
        let mut s = Subscriptions::new();
        let set: BTreeSet<String> = symbols.iter().map(|s| s.to_string()).collect();
        s.set_desired(&set);
        s.on_connected();
        while s.next_command(now).is_some() {}
        s
    }

    fn drain(s: &mut Subscriptions, now: Instant) -> usize {
        std::iter::from_fn(|| s.next_command(now)).count()
    }

    fn steps(a: &[Action]) -> Vec<(Channel, Step)> {
        a.iter().map(|a| (a.key.0, a.step)).collect()
    }

    #[test]
    fn ack_timeout_resubscribes_then_reconnects_once_then_degrades() {
        let t0 = Instant::now();
        let ms = |v: u64| t0 + Duration::from_millis(v);
        let mut s = connected(&["A_USDT"], t0);
        assert!(check(&mut s, ms(99), limits()).is_empty());
        let a = check(&mut s, ms(100), limits());
        assert_eq!(a.len(), 2, "both channels expired: {a:?}");
        assert!(matches!(a[0].why, Why::AckTimeout { waited_ms: 100 }));
        assert_eq!(
            a[0].step,
            Step::Resubscribe {
                attempt: 1,
                slow: false
            }
        );
        assert_eq!(drain(&mut s, ms(100)), 4, "unsub + sub per stream");
        assert!(
            check(&mut s, ms(150), limits()).is_empty(),
            "clock restarted"
        );
        check(&mut s, ms(200), limits());
        drain(&mut s, ms(200));
        let a = check(&mut s, ms(300), limits());
        assert_eq!(
            steps(&a),
            vec![
                (Channel::Ticker, Step::Reconnect),
                (Channel::Deal, Step::Reconnect)
            ]
        );
        // The new socket: two more tries, then no second reconnect but degrade.
        s.on_disconnected();
        s.on_connected();
        drain(&mut s, ms(300));
        check(&mut s, ms(400), limits());
        drain(&mut s, ms(400));
        check(&mut s, ms(500), limits());
        drain(&mut s, ms(500));
        let a = check(&mut s, ms(600), limits());
        assert!(a.iter().all(|a| a.step == Step::Degrade), "{a:?}");
        assert_eq!(s.degraded_symbols().len(), 1);
        // Degraded: quiet until the slow retry is due, then one resubscribe.
        assert!(check(&mut s, ms(999), limits()).is_empty());
        let a = check(&mut s, ms(1000), limits());
        assert!(
            a.iter()
                .all(|a| matches!(a.step, Step::Resubscribe { slow: true, .. }))
        );
        assert_eq!(s.get(Channel::Ticker, "A_USDT").unwrap().resubscribes, 5);
        // Data resets everything.
        s.on_data(Channel::Ticker, "A_USDT", ms(1001));
        assert!(s.degraded_symbols().is_empty());
    }

    #[test]
    fn stale_ticker_is_marked_and_resubscribed_deals_never_go_stale() {
        let t0 = Instant::now();
        let ms = |v: u64| t0 + Duration::from_millis(v);
        let mut s = connected(&["A_USDT"], t0);
        s.on_ack(Channel::Ticker.name(), true, ms(10));
        s.on_ack(Channel::Deal.name(), true, ms(10));
        s.on_data(Channel::Ticker, "A_USDT", ms(50));
        s.on_data(Channel::Deal, "A_USDT", ms(50));
        assert!(check(&mut s, ms(349), limits()).is_empty());
        let a = check(&mut s, ms(350), limits());
        assert_eq!(a.len(), 1, "{a:?}");
        assert_eq!(a[0].key.0, Channel::Ticker);
        assert_eq!(a[0].why, Why::Stale { age_ms: 300 });
        assert_eq!(s.counts().stale, 1);
        // An hour of silence on the deal stream is fine.
        drain(&mut s, ms(350));
        s.on_data(Channel::Ticker, "A_USDT", ms(360));
        assert!(check(&mut s, ms(600), limits()).is_empty());
        assert_eq!(s.counts().live, 2);
    }
}
