//! Upstream health bookkeeping: the adapter records facts here (connected, pong, data,
//! close) and publishes [`HealthTracker::snapshot`] on the watch channel.

use std::time::Duration;

use tokio::time::Instant;

use crate::protocol::{CloseInfo, DataSource, SubscriptionCounts, UpstreamHealth, UpstreamState};

#[derive(Debug)]
pub struct HealthTracker {
    url: String,
    pub state: UpstreamState,
    pub reconnects: u64,
    pub last_close: Option<CloseInfo>,
    connected_at: Option<Instant>,
    last_pong: Option<Instant>,
    /// Kept across connections: data age keeps growing while we are down.
    last_data: Option<Instant>,
}

impl HealthTracker {
    pub fn new(url: String) -> Self {
        HealthTracker {
            url,
            state: UpstreamState::Connecting,
            reconnects: 0,
            last_close: None,
            connected_at: None,
            last_pong: None,
            last_data: None,
        }
    }

    pub fn connected(&mut self, now: Instant) {
        self.state = UpstreamState::Live;
        self.connected_at = Some(now);
        self.last_pong = None;
    }

    pub fn disconnected(&mut self, close: CloseInfo) {
        self.state = UpstreamState::Reconnecting;
        self.connected_at = None;
        self.last_pong = None;
        self.last_close = Some(close);
    }

    pub fn pong(&mut self, now: Instant) {
        self.last_pong = Some(now);
    }

    pub fn data(&mut self, now: Instant) {
        self.last_data = Some(now);
    }

    pub fn snapshot(&self, now: Instant, subscriptions: SubscriptionCounts) -> UpstreamHealth {
        let age = |t: Instant| now.saturating_duration_since(t).as_millis() as u64;
        UpstreamHealth {
            state: self.state,
            url: self.url.clone(),
            // Before the first pong the age counts from the open, so a server that never
            // answers shows a growing age rather than nothing.
            pong_age_ms: self
                .connected_at
                .map(|open| age(self.last_pong.unwrap_or(open))),
            last_data_age_ms: self.last_data.map(age),
            reconnects: self.reconnects,
            last_close: self.last_close.clone(),
            subscriptions,
            source: DataSource::Ws,
        }
    }
}

/// Rate-limits a noisy log line (malformed frames, dropped binaries): at most one line
/// per `every`, reporting how many were suppressed in between.
#[derive(Debug)]
pub struct LogThrottle {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
    pub total: u64,
}

impl LogThrottle {
    pub fn new(every: Duration) -> Self {
        LogThrottle {
            every,
            last: None,
            suppressed: 0,
            total: 0,
        }
    }

    /// Counts one occurrence; `Some(suppressed_before)` when this one should be logged.
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        self.total += 1;
        match self.last {
            Some(t) if now.saturating_duration_since(t) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Initiator;

    #[test]
    fn throttle_logs_first_then_summarises() {
        let t0 = Instant::now();
        let mut t = LogThrottle::new(Duration::from_secs(5));
        assert_eq!(t.hit(t0), Some(0));
        assert_eq!(t.hit(t0 + Duration::from_secs(1)), None);
        assert_eq!(t.hit(t0 + Duration::from_secs(2)), None);
        assert_eq!(t.hit(t0 + Duration::from_secs(6)), Some(2));
        assert_eq!(t.total, 4);
    }

    #[test]
    fn ages_and_close_in_snapshot() {
        let t0 = Instant::now();
        let mut h = HealthTracker::new("ws://x".into());
        let s = h.snapshot(t0, SubscriptionCounts::default());
        assert_eq!(
            (s.state, s.pong_age_ms, s.last_data_age_ms),
            (UpstreamState::Connecting, None, None)
        );
        h.connected(t0);
        h.data(t0);
        let s = h.snapshot(
            t0 + Duration::from_millis(300),
            SubscriptionCounts::default(),
        );
        assert_eq!(s.state, UpstreamState::Live);
        assert_eq!(s.pong_age_ms, Some(300));
        h.pong(t0 + Duration::from_millis(250));
        let s = h.snapshot(
            t0 + Duration::from_millis(300),
            SubscriptionCounts::default(),
        );
        assert_eq!(s.pong_age_ms, Some(50));
        h.disconnected(CloseInfo {
            initiator: Initiator::Transport,
            code: 1006,
            reason: "eof".into(),
            at_ms: 1,
        });
        let s = h.snapshot(
            t0 + Duration::from_millis(400),
            SubscriptionCounts::default(),
        );
        assert_eq!(s.state, UpstreamState::Reconnecting);
        assert_eq!(s.pong_age_ms, None);
        assert_eq!(s.last_data_age_ms, Some(400));
        assert_eq!(s.last_close.map(|c| c.code), Some(1006));
    }
}
