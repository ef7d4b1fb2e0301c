//! Make-before-break rotation, pure decisions (MX: long-lived sockets are replaced before
//! the exchange or a middlebox ends them). After `rotate_after_s` a second connection with
//! the same symbols opens; once all its streams are confirmed (tickers Live, deals at least
//! acked) the old one closes. Both deliver meanwhile; the shared trade dedupe drops the
//! doubles, so there is neither a gap nor a duplicate. A successor that does not become
//! ready in time is abandoned and the rotation retried later; the old socket never closes
//! before its replacement is proven.

use std::time::Duration;

use tokio::time::Instant;

use crate::MexcConfig;

use super::health::ShardReport;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// 0 = never rotate.
    pub rotate_after: Duration,
    pub ready_timeout: Duration,
    pub retry_after: Duration,
}

impl Limits {
    pub fn from_config(c: &MexcConfig) -> Limits {
        let ms = Duration::from_millis;
        // Room for an ack timeout and a ticker's cadence, with margin.
        let ready_timeout = (ms(c.ack_timeout_ms) + ms(c.ticker_stale_ms)) * 2;
        Limits {
            rotate_after: Duration::from_secs(c.rotate_after_s),
            ready_timeout,
            retry_after: ready_timeout * 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStep {
    Wait,
    /// Open the successor now.
    Start,
    /// The successor is ready: close the old connection.
    Complete,
    /// The successor did not become ready in time: close it, keep the old one.
    Abandon,
}

pub fn decide(
    primary: &ShardReport,
    successor: Option<&(ShardReport, Instant)>,
    hold_until: Option<Instant>,
    now: Instant,
    l: Limits,
) -> RotationStep {
    if let Some((s, started)) = successor {
        if s.ready {
            return RotationStep::Complete;
        }
        if now.saturating_duration_since(*started) >= l.ready_timeout {
            return RotationStep::Abandon;
        }
        return RotationStep::Wait;
    }
    if l.rotate_after.is_zero() || hold_until.is_some_and(|t| now < t) {
        return RotationStep::Wait;
    }
    match primary.connected_at {
        Some(t) if now.saturating_duration_since(t) >= l.rotate_after => RotationStep::Start,
        _ => RotationStep::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::HealthTracker;
    use crate::subscriptions::Subscriptions;

    fn report(connected: Option<Instant>, ready: bool) -> ShardReport {
        let mut h = HealthTracker::new(Instant::now());
        if let Some(t) = connected {
            h.connected(t, "mexc-1");
        }
        let mut r = h.snapshot(Instant::now(), &Subscriptions::new());
        r.ready = ready;
        r
    }

    #[test]
    fn rotates_only_when_old_and_completes_only_when_ready() {
        let t0 = Instant::now();
        let s = |v: u64| t0 + Duration::from_secs(v);
        let l = Limits {
            rotate_after: Duration::from_secs(100),
            ready_timeout: Duration::from_secs(10),
            retry_after: Duration::from_secs(20),
        };
        let old = report(Some(t0), true);
        assert_eq!(decide(&old, None, None, s(99), l), RotationStep::Wait);
        assert_eq!(decide(&old, None, None, s(100), l), RotationStep::Start);
        assert_eq!(
            decide(&old, None, Some(s(120)), s(110), l),
            RotationStep::Wait,
            "held"
        );
        assert_eq!(
            decide(&report(None, false), None, None, s(500), l),
            RotationStep::Wait,
            "down: nothing to rotate"
        );
        let pending = (report(Some(s(100)), false), s(100));
        assert_eq!(
            decide(&old, Some(&pending), None, s(105), l),
            RotationStep::Wait
        );
        assert_eq!(
            decide(&old, Some(&pending), None, s(110), l),
            RotationStep::Abandon
        );
        let ready = (report(Some(s(100)), true), s(100));
        assert_eq!(
            decide(&old, Some(&ready), None, s(101), l),
            RotationStep::Complete
        );
        let never = Limits {
            rotate_after: Duration::ZERO,
            ..l
        };
        assert_eq!(
            decide(&old, None, None, s(10_000), never),
            RotationStep::Wait
        );
    }
}
