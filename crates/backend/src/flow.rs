//! Send window for one connection, measured with protocol Pings.
//!
//! A pong can never overtake bytes already in the kernel socket buffers (a slow reader saw
//! 3-6 s "RTT" from a healthy server that filled them). So the writer
//! keeps at most [`WINDOW_BYTES`] of data unconfirmed: it stamps the byte count on every
//! protocol Ping it sends, the client's WebSocket library answers each Ping with a Pong once it
//! has *read* up to it, and a Pong therefore confirms everything written before its Ping. While
//! the window is full the writer sends no data (conflated values keep being replaced in the
//! queue, ordered ones pile up until the queue closes the client 4008), but control frames
//! still go out at once and sit behind at most one window of data.

use std::collections::VecDeque;

/// Default data allowed in flight before a confirmation (`server.max_in_flight_bytes`). It
/// bounds what a pong can queue behind: at a slow reader's 600 KB/s that is ~100 ms (256 KiB
/// measured ~450 ms). Throughput is capped at window / RTT: unlimited in practice on loopback,
/// ~640 KB/s (thousands of tickers/s) over a 100 ms SSH tunnel, plenty for a conflated UI feed.
#[cfg(test)]
pub const WINDOW_BYTES: u64 = 64 * 1024;
/// Unanswered Pings remembered; older ones are implied by any newer answer (Pongs are
/// cumulative: a peer may answer only the latest of several pings).
const MAX_PENDING: usize = 64;

#[derive(Debug)]
pub struct FlowWindow {
    window: u64,
    written: u64,
    confirmed: u64,
    last_ping_at: u64,
    next_seq: u64,
    /// (ping seq, bytes written when it was sent), oldest first.
    pending: VecDeque<(u64, u64)>,
}

impl FlowWindow {
    pub fn new(window_bytes: u64) -> Self {
        FlowWindow {
            window: window_bytes.max(1),
            written: 0,
            confirmed: 0,
            last_ping_at: 0,
            next_seq: 0,
            pending: VecDeque::new(),
        }
    }

    pub fn wrote(&mut self, bytes: usize) {
        self.written += bytes as u64;
    }

    pub fn in_flight(&self) -> u64 {
        self.written - self.confirmed
    }

    pub fn is_open(&self) -> bool {
        self.in_flight() < self.window
    }

    pub fn ping_due(&self) -> bool {
        // A quarter window between Pings keeps confirmations arriving while the window is
        // still open (no stop-and-wait).
        self.written - self.last_ping_at >= (self.window / 4).max(1)
    }

    /// Payload for the next Ping (8 bytes, big-endian seq), recorded as pending.
    pub fn next_ping(&mut self) -> [u8; 8] {
        self.next_seq += 1;
        if self.pending.len() == MAX_PENDING {
            self.pending.pop_front();
        }
        self.pending.push_back((self.next_seq, self.written));
        self.last_ping_at = self.written;
        self.next_seq.to_be_bytes()
    }

    /// A Pong with `seq` confirms everything written before that Ping.
    pub fn confirm(&mut self, seq: u64) {
        while let Some(&(s, at)) = self.pending.front() {
            if s > seq {
                break;
            }
            self.confirmed = self.confirmed.max(at);
            self.pending.pop_front();
        }
    }
}

/// The seq in a Pong payload we sent, if it is one of ours.
pub fn pong_seq(payload: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = payload.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_closes_when_unconfirmed_and_reopens_on_pong() {
        let mut w = FlowWindow::new(WINDOW_BYTES);
        assert!(w.is_open());
        w.wrote(20_000);
        assert!(w.ping_due());
        let p1 = w.next_ping();
        assert!(!w.ping_due());
        w.wrote(50_000);
        assert!(!w.is_open());
        let p2 = w.next_ping();
        w.confirm(pong_seq(&p1).unwrap());
        assert_eq!(w.in_flight(), 50_000);
        assert!(w.is_open());
        w.confirm(pong_seq(&p2).unwrap());
        assert_eq!(w.in_flight(), 0);
    }

    #[test]
    fn a_later_pong_confirms_earlier_pings_and_old_ones_are_ignored() {
        let mut w = FlowWindow::new(WINDOW_BYTES);
        w.wrote(10);
        let _ = w.next_ping();
        w.wrote(10);
        let p2 = w.next_ping();
        w.confirm(pong_seq(&p2).unwrap());
        assert_eq!(w.in_flight(), 0);
        w.wrote(5);
        w.confirm(1);
        assert_eq!(w.in_flight(), 5);
        assert_eq!(pong_seq(b"xyz"), None);
    }
}
