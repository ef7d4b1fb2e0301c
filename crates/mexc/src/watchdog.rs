//! Connection-level watchdogs, pure: pong age and socket silence.
//!
//! The pong age counts from the last pong, or from the open before the first one, so a
//! server that never answers is caught too. Warn once per overdue episode, then reconnect:
//! with `pong_reconnect < 60 s` (validated) the age never passes 60 s without action.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PongVerdict {
    Fine,
    /// First time past the warn threshold in this episode.
    Overdue {
        age_ms: u64,
    },
    Reconnect {
        age_ms: u64,
    },
}

#[derive(Debug)]
pub struct PongWatch {
    warn: Duration,
    reconnect: Duration,
    since: Instant,
    warned: bool,
}

impl PongWatch {
    pub fn new(warn: Duration, reconnect: Duration, opened: Instant) -> Self {
        PongWatch {
            warn,
            reconnect,
            since: opened,
            warned: false,
        }
    }

    pub fn pong(&mut self, now: Instant) {
        self.since = now;
        self.warned = false;
    }

    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.since)
    }

    pub fn check(&mut self, now: Instant) -> PongVerdict {
        let age = self.age(now);
        let age_ms = age.as_millis() as u64;
        if age >= self.reconnect {
            PongVerdict::Reconnect { age_ms }
        } else if age >= self.warn && !self.warned {
            self.warned = true;
            PongVerdict::Overdue { age_ms }
        } else {
            PongVerdict::Fine
        }
    }
}

/// True when nothing at all arrived for `limit` (half-open sockets end here).
pub fn silent(last_inbound: Instant, now: Instant, limit: Duration) -> bool {
    now.saturating_duration_since(last_inbound) >= limit
}

/// How often the connection loop runs its watchdogs: fine enough that every threshold is
/// met within a tenth of itself (at most 500 ms late, well inside MEXC's 60 s).
pub fn tick_every(thresholds: &[Duration]) -> Duration {
    let smallest = thresholds
        .iter()
        .copied()
        .min()
        .unwrap_or(Duration::from_secs(1));
    (smallest / 10).clamp(Duration::from_millis(5), Duration::from_millis(500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_once_then_reconnects_and_a_pong_resets() {
        let t0 = Instant::now();
        let ms = |v: u64| t0 + Duration::from_millis(v);
        let mut w = PongWatch::new(Duration::from_millis(300), Duration::from_millis(450), t0);
        assert_eq!(w.check(ms(299)), PongVerdict::Fine);
        assert_eq!(w.check(ms(300)), PongVerdict::Overdue { age_ms: 300 });
        assert_eq!(w.check(ms(400)), PongVerdict::Fine, "warned once");
        assert_eq!(w.check(ms(450)), PongVerdict::Reconnect { age_ms: 450 });
        w.pong(ms(460));
        assert_eq!(w.check(ms(700)), PongVerdict::Fine);
        assert_eq!(w.check(ms(760)), PongVerdict::Overdue { age_ms: 300 });
    }

    #[test]
    fn silence_and_tick() {
        let t0 = Instant::now();
        assert!(!silent(
            t0,
            t0 + Duration::from_millis(99),
            Duration::from_millis(100)
        ));
        assert!(silent(
            t0,
            t0 + Duration::from_millis(100),
            Duration::from_millis(100)
        ));
        assert_eq!(
            tick_every(&[Duration::from_secs(45), Duration::from_secs(10)]),
            Duration::from_millis(500)
        );
        assert_eq!(
            tick_every(&[Duration::from_millis(300)]),
            Duration::from_millis(30)
        );
    }
}
