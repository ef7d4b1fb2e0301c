//! App-level heartbeat bookkeeping for one connection: which pings are out, which were missed,
//! the measured round trip, and when any other frame last arrived.
//!
//! Pure: time is passed in, nothing here does IO. The rule it implements is that a missed
//! pong only counts against the link when the line was *also* silent: a pong can queue behind
//! data already in the pipe, so traffic proves the peer is alive even while pongs are late.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Pings remembered for RTT of late pongs; beyond this the oldest are forgotten (bounded memory
/// on a link that stays Slow for hours).
const REMEMBERED_PINGS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    /// At least `slow_after` pongs missed in a row; the link stays up.
    Slow,
    /// `reconnect_after` pongs missed in a row and no frame at all since the first of them was
    /// sent: the link is dead.
    Dead,
}

#[derive(Debug, Clone)]
pub struct Heartbeat {
    pong_timeout: Duration,
    slow_after: u32,
    reconnect_after: u32,
    /// Sent, not answered, deadline not passed yet (oldest first).
    outstanding: VecDeque<(u64, Instant)>,
    /// Sent, and possibly already declared missed; only for RTT of late pongs.
    sent: VecDeque<(u64, Instant)>,
    /// Send times of the current streak of missed pings, last `reconnect_after` only.
    missed_sent_at: VecDeque<Instant>,
    missed: u32,
    last_frame: Option<Instant>,
    rtt: Option<Duration>,
}

impl Heartbeat {
    pub fn new(pong_timeout: Duration, slow_after: u32, reconnect_after: u32) -> Self {
        Heartbeat {
            pong_timeout,
            slow_after: slow_after.max(1),
            reconnect_after: reconnect_after.max(1),
            outstanding: VecDeque::new(),
            sent: VecDeque::new(),
            missed_sent_at: VecDeque::new(),
            missed: 0,
            last_frame: None,
            rtt: None,
        }
    }

    /// Forget everything about the previous connection. The caller keeps ids increasing across
    /// connects so a pong from an old socket can never match a new ping.
    pub fn reset(&mut self) {
        self.outstanding.clear();
        self.sent.clear();
        self.missed_sent_at.clear();
        self.missed = 0;
        self.last_frame = None;
    }

    /// Registers a ping going out now. Ids must increase: a pong for id N means every older
    /// ping will not be answered any more.
    pub fn ping_sent(&mut self, id: u64, now: Instant) {
        self.outstanding.push_back((id, now));
        self.sent.push_back((id, now));
        while self.sent.len() > REMEMBERED_PINGS {
            self.sent.pop_front();
        }
        while self.outstanding.len() > REMEMBERED_PINGS {
            self.outstanding.pop_front();
        }
    }

    /// Any pong proves the peer answers: the missed streak ends. Returns the RTT when the id is
    /// one we sent (late pongs included: a late answer is still a true measurement).
    pub fn pong(&mut self, id: u64, now: Instant) -> Option<Duration> {
        self.missed = 0;
        self.missed_sent_at.clear();
        // The server answers in order, so older pings will not be answered any more.
        self.outstanding.retain(|(i, _)| *i > id);
        let rtt = self
            .sent
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, at)| now.saturating_duration_since(*at));
        self.sent.retain(|(i, _)| *i > id);
        if rtt.is_some() {
            self.rtt = rtt;
        }
        rtt
    }

    /// Any frame other than a pong (data, acks, protocol ping/pong).
    pub fn frame(&mut self, now: Instant) {
        self.last_frame = Some(now);
    }

    /// Moves pings whose deadline passed into the missed streak and says what that means.
    pub fn check(&mut self, now: Instant) -> Verdict {
        while let Some(&(_, sent_at)) = self.outstanding.front() {
            if sent_at + self.pong_timeout > now {
                break;
            }
            self.outstanding.pop_front();
            self.missed = self.missed.saturating_add(1);
            self.missed_sent_at.push_back(sent_at);
            while self.missed_sent_at.len() > self.reconnect_after as usize {
                self.missed_sent_at.pop_front();
            }
        }
        self.verdict()
    }

    fn verdict(&self) -> Verdict {
        if self.missed >= self.reconnect_after {
            // The window is the *last* `reconnect_after` missed pings, so a link that carried
            // traffic for a while and then went fully silent is still caught.
            let window_start = self.missed_sent_at.front().copied();
            let silent = match (window_start, self.last_frame) {
                (Some(start), Some(frame)) => frame < start,
                _ => true,
            };
            if silent {
                return Verdict::Dead;
            }
        }
        if self.missed >= self.slow_after {
            Verdict::Slow
        } else {
            Verdict::Healthy
        }
    }

    /// When the oldest outstanding ping will count as missed (for the caller's timer).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.outstanding
            .front()
            .map(|(_, sent_at)| *sent_at + self.pong_timeout)
    }

    pub fn missed(&self) -> u32 {
        self.missed
    }

    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// Time since the last non-pong frame, for the close reason.
    pub fn silent_for(&self, now: Instant) -> Option<Duration> {
        self.last_frame.map(|f| now.saturating_duration_since(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn hb() -> Heartbeat {
        Heartbeat::new(ms(100), 2, 3)
    }

    #[test]
    fn answered_pings_stay_healthy_and_measure_rtt() {
        let t0 = Instant::now();
        let mut h = hb();
        h.ping_sent(1, t0);
        let id = 1;
        assert_eq!(h.pong(id, t0 + ms(7)), Some(ms(7)));
        assert_eq!(h.check(t0 + ms(500)), Verdict::Healthy);
        assert_eq!(h.rtt(), Some(ms(7)));
    }

    #[test]
    fn a_ping_is_missed_only_after_its_timeout() {
        let t0 = Instant::now();
        let mut h = hb();
        h.ping_sent(1, t0);
        assert_eq!(h.check(t0 + ms(99)), Verdict::Healthy);
        assert_eq!(h.missed(), 0);
        h.check(t0 + ms(100));
        assert_eq!(h.missed(), 1);
    }

    #[test]
    fn late_pong_ends_the_streak_and_still_gives_rtt() {
        let t0 = Instant::now();
        let mut h = hb();
        h.ping_sent(1, t0);
        let a = 1;
        h.ping_sent(2, t0 + ms(100));
        assert_eq!(h.check(t0 + ms(250)), Verdict::Slow);
        assert_eq!(h.pong(a, t0 + ms(260)), Some(ms(260)));
        assert_eq!(h.missed(), 0);
        assert_eq!(h.check(t0 + ms(260)), Verdict::Healthy);
    }

    #[test]
    fn unknown_pong_id_resets_but_gives_no_rtt() {
        let t0 = Instant::now();
        let mut h = hb();
        h.ping_sent(1, t0);
        h.check(t0 + ms(200));
        assert_eq!(h.pong(999_999, t0 + ms(210)), None);
        assert_eq!(h.missed(), 0);
    }

    #[test]
    fn next_deadline_is_the_oldest_outstanding_ping() {
        let t0 = Instant::now();
        let mut h = hb();
        assert_eq!(h.next_deadline(), None);
        h.ping_sent(1, t0);
        h.ping_sent(2, t0 + ms(50));
        assert_eq!(h.next_deadline(), Some(t0 + ms(100)));
    }
}
