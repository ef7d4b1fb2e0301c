//! Upstream health bookkeeping. Each shard records facts in a [`HealthTracker`] (connected,
//! pong, data, close) and publishes a [`ShardReport`]; the supervisor merges the reports of
//! all connections and the REST fallback's status into one [`UpstreamHealth`].

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;

use trademon_protocol::{
    CloseInfo, DataSource, SubscriptionCounts, UpstreamConnection, UpstreamHealth, UpstreamState,
    UpstreamStream,
};

use super::subscriptions::Subscriptions;

#[derive(Debug)]
pub struct HealthTracker {
    pub state: UpstreamState,
    pub conn_id: String,
    pub reconnects: u64,
    pub last_close: Option<CloseInfo>,
    /// Why this connection is not up, in a few words; `None` while connected.
    pub cause: Option<String>,
    connected_at: Option<Instant>,
    /// Not connected since (None while connected). Starts at creation: connecting is down.
    down_since: Option<Instant>,
    last_pong: Option<Instant>,
    /// Kept across connections: data age keeps growing while we are down.
    last_data: Option<Instant>,
}

/// One connection slot's view, published to the supervisor.
#[derive(Debug, Clone)]
pub struct ShardReport {
    pub conn: UpstreamConnection,
    pub streams: Vec<UpstreamStream>,
    pub connected_at: Option<Instant>,
    pub down_since: Option<Instant>,
    pub last_data: Option<Instant>,
    /// Symbols whose ticker the escalation ladder gave up on (REST covers them).
    pub degraded: BTreeSet<String>,
    /// The symbols this connection is responsible for.
    pub symbols: BTreeSet<String>,
    /// Connected and every stream confirmed (see `Subscriptions::ready`).
    pub ready: bool,
    /// The task ended (stopped); its report is final.
    pub ended: bool,
    /// Why the connection is not up (see `HealthTracker::cause`).
    pub cause: Option<String>,
}

impl HealthTracker {
    pub fn new(now: Instant) -> Self {
        HealthTracker {
            state: UpstreamState::Connecting,
            conn_id: String::new(),
            reconnects: 0,
            last_close: None,
            cause: None,
            connected_at: None,
            down_since: Some(now),
            last_pong: None,
            last_data: None,
        }
    }

    pub fn connected(&mut self, now: Instant, conn_id: &str) {
        self.state = UpstreamState::Live;
        self.conn_id = conn_id.to_string();
        self.connected_at = Some(now);
        self.down_since = None;
        self.last_pong = None;
        self.cause = None;
    }

    /// The connection ended or never opened; `cause` is what the headline will say.
    pub fn disconnected(&mut self, now: Instant, close: CloseInfo, cause: String) {
        self.state = UpstreamState::Reconnecting;
        self.connected_at = None;
        self.down_since.get_or_insert(now);
        self.last_pong = None;
        self.last_close = Some(close);
        self.cause = Some(cause);
    }

    pub fn pong(&mut self, now: Instant) {
        self.last_pong = Some(now);
    }

    pub fn data(&mut self, now: Instant) {
        self.last_data = Some(now);
    }

    pub fn snapshot(&self, now: Instant, subs: &Subscriptions) -> ShardReport {
        let age = |t: Instant| now.saturating_duration_since(t).as_millis() as u64;
        ShardReport {
            conn: UpstreamConnection {
                id: self.conn_id.clone(),
                state: self.state,
                // Before the first pong the age counts from the open, so a server that never
                // answers shows a growing age rather than nothing.
                pong_age_ms: self
                    .connected_at
                    .map(|open| age(self.last_pong.unwrap_or(open))),
                subscriptions: subs.counts(),
                last_close: self.last_close.clone(),
                reconnects: self.reconnects,
            },
            streams: subs.list(now),
            connected_at: self.connected_at,
            down_since: self.down_since,
            last_data: self.last_data,
            degraded: subs.degraded_symbols(),
            symbols: subs.desired().clone(),
            ready: self.connected_at.is_some() && subs.ready(),
            ended: false,
            cause: self.cause.clone(),
        }
    }
}

/// What the REST fallback contributes to health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestStatus {
    pub active: bool,
    /// Its last failure, `None` after a success.
    pub error: Option<String>,
}

/// Merge connection reports (primaries first; rotation successors only add a connection
/// entry) into the health the hub publishes.
pub fn aggregate(
    url: &str,
    primaries: &[&ShardReport],
    successors: &[&ShardReport],
    rest: RestStatus,
    malformed_frames: u64,
    now: Instant,
) -> UpstreamHealth {
    let age = |t: Instant| now.saturating_duration_since(t).as_millis() as u64;
    let all_live = primaries.iter().all(|r| r.connected_at.is_some());
    let never_connected = primaries
        .iter()
        .all(|r| r.connected_at.is_none() && r.conn.reconnects == 0 && r.conn.last_close.is_none());
    let state = if all_live {
        UpstreamState::Live
    } else if rest.active {
        UpstreamState::RestPolling
    } else if never_connected {
        UpstreamState::Connecting
    } else {
        UpstreamState::Reconnecting
    };
    let mut subscriptions = SubscriptionCounts::default();
    for r in primaries {
        let c = &r.conn.subscriptions;
        subscriptions.pending += c.pending;
        subscriptions.acked += c.acked;
        subscriptions.live += c.live;
        subscriptions.stale += c.stale;
        subscriptions.failed += c.failed;
    }
    let mut streams: Vec<UpstreamStream> =
        primaries.iter().flat_map(|r| r.streams.clone()).collect();
    streams.sort_by(|a, b| (&a.symbol, &a.channel).cmp(&(&b.symbol, &b.channel)));
    UpstreamHealth {
        state,
        url: url.to_string(),
        pong_age_ms: primaries.iter().filter_map(|r| r.conn.pong_age_ms).max(),
        last_data_age_ms: primaries.iter().filter_map(|r| r.last_data).max().map(age),
        reconnects: primaries.iter().map(|r| r.conn.reconnects).sum(),
        last_close: primaries
            .iter()
            .chain(successors)
            .filter_map(|r| r.conn.last_close.clone())
            .max_by_key(|c| c.at_ms),
        subscriptions,
        source: if rest.active {
            DataSource::Rest
        } else {
            DataSource::Ws
        },
        connections: primaries
            .iter()
            .chain(successors)
            .map(|r| r.conn.clone())
            .collect(),
        malformed_frames,
        streams,
        // The first connection that is down speaks for all: sharded connections to one
        // host fail for the same reason.
        cause: if all_live {
            None
        } else {
            primaries
                .iter()
                .filter(|r| r.connected_at.is_none())
                .find_map(|r| r.cause.clone())
        },
        rest_error: if rest.active { rest.error } else { None },
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
    use trademon_protocol::Initiator;

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
    fn ages_close_and_aggregate() {
        let t0 = Instant::now();
        let ms = |v: u64| t0 + Duration::from_millis(v);
        let subs = Subscriptions::new();
        let mut h = HealthTracker::new(t0);
        let r = h.snapshot(t0, &subs);
        let up = aggregate("ws://x", &[&r], &[], RestStatus::default(), 0, t0);
        assert_eq!(
            (up.state, up.pong_age_ms),
            (UpstreamState::Connecting, None)
        );
        h.connected(t0, "mexc-1");
        h.data(t0);
        h.pong(ms(250));
        let r = h.snapshot(ms(300), &subs);
        assert_eq!(r.conn.pong_age_ms, Some(50));
        h.disconnected(
            ms(350),
            CloseInfo {
                initiator: Initiator::Transport,
                code: 1006,
                reason: "eof".into(),
                at_ms: 1,
            },
            "connection lost: eof".into(),
        );
        let down = h.snapshot(ms(400), &subs);
        let mut other = HealthTracker::new(t0);
        other.connected(t0, "mexc-2");
        let live = other.snapshot(ms(400), &subs);
        let up = aggregate(
            "ws://x",
            &[&down, &live],
            &[],
            RestStatus::default(),
            3,
            ms(400),
        );
        assert_eq!(up.state, UpstreamState::Reconnecting);
        assert_eq!(up.connections.len(), 2);
        assert_eq!(up.last_data_age_ms, Some(400));
        assert_eq!(up.last_close.map(|c| c.code), Some(1006));
        assert_eq!(up.malformed_frames, 3);
        assert_eq!(up.cause.as_deref(), Some("connection lost: eof"));
        assert_eq!(up.rest_error, None);
        let rest_failing = RestStatus {
            active: true,
            error: Some("connection refused".into()),
        };
        let up = aggregate("ws://x", &[&down, &live], &[], rest_failing, 0, ms(400));
        assert_eq!(
            (up.state, up.source),
            (UpstreamState::RestPolling, DataSource::Rest)
        );
        assert_eq!(up.rest_error.as_deref(), Some("connection refused"));
        // Every connection up again: no cause, whatever happened before.
        let up = aggregate("ws://x", &[&live], &[], RestStatus::default(), 0, ms(400));
        assert_eq!((up.state, up.cause), (UpstreamState::Live, None));
    }
}
