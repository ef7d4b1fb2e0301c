//! Per-client outbound queue: the hub pushes, the connection writer drains.
//!
//! Two parts:
//! - a **conflating map** for `market_data` and `health`: one slot per key (stream, session,
//!   symbol), the newest value replaces an unsent older one, so it never holds more than the
//!   number of keys;
//! - a **bounded FIFO** for everything that must arrive in order (acks, errors, `full_update`,
//!   instance and session events, log events). Overflow closes the client 4008.
//!
//! Why a `Mutex` + `Notify` and not a channel: conflation has to *replace* a message that is
//! still waiting, which no channel can do, and the producer must never wait (a push is a
//! few pointer moves under a lock held for microseconds by exactly two parties: the hub task
//! and this client's writer). Messages are `Utf8Bytes`, serialized once by the hub and shared
//! by every client (a clone is a reference-count bump).
//!
//! Every change of the bytes held is reported to the backend-wide [`QueueMeter`], so the bound
//! can be checked from the backend's own accounting.

use super::queue_meter::QueueMeter;
use axum::extract::ws::Utf8Bytes;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;
use trademon_protocol::{StreamName, close};

/// One conflation slot: the newest message for this key wins.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConflateKey {
    pub stream: StreamName,
    /// The session of a per-session stream, or the symbol of a per-symbol one (`book`).
    pub session_id: Option<String>,
    /// Symbol for `market_data`; empty for single-valued streams like `health`.
    pub item: String,
}

#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    pub max_msgs: usize,
    pub max_bytes: usize,
}

/// Why the writer has to close the connection instead of sending more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOrder {
    pub code: u16,
    pub reason: String,
}

#[derive(Default)]
struct State {
    fifo: VecDeque<Utf8Bytes>,
    fifo_bytes: usize,
    /// Newest value per key with the stamp of its last push.
    latest: HashMap<ConflateKey, (u64, Utf8Bytes)>,
    latest_bytes: usize,
    /// Keys by the stamp of their last push. Draining in this order sends values in the order
    /// they were produced, so seqs never go backwards for a client (which drops a seq at or
    /// below the last one it saw); each key is sent once per drain, so none starves.
    order: BTreeMap<u64, ConflateKey>,
    next_stamp: u64,
    close: Option<CloseOrder>,
}

impl State {
    /// Bytes of message text this queue holds (what the meter adds up).
    fn held(&self) -> usize {
        self.fifo_bytes + self.latest_bytes
    }
}

pub struct ClientQueue {
    limits: QueueLimits,
    state: Mutex<State>,
    wake: Notify,
    meter: Arc<QueueMeter>,
}

impl ClientQueue {
    pub fn new(limits: QueueLimits, meter: Arc<QueueMeter>) -> Self {
        ClientQueue {
            limits,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            meter,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends to the ordered FIFO. `false` if the queue is closed, including when this push
    /// overflowed it (the client is then closed 4008 and should be dropped by the producer).
    pub fn push_ordered(&self, msg: Utf8Bytes) -> bool {
        let mut s = self.lock();
        if s.close.is_some() {
            return false;
        }
        let len = msg.len();
        // One message larger than the byte bound still passes when the FIFO is empty, so a
        // big `full_update` can always be delivered to a client that keeps up.
        let too_many = s.fifo.len() >= self.limits.max_msgs;
        let too_big = !s.fifo.is_empty() && s.fifo_bytes + len > self.limits.max_bytes;
        if too_many || too_big {
            let reason = format!(
                "slow consumer: queue {} msgs / {} bytes",
                s.fifo.len(),
                s.fifo_bytes
            );
            self.meter.overflowed();
            self.close_locked(&mut s, close::SLOW_CONSUMER, reason);
            drop(s);
            self.wake.notify_one();
            return false;
        }
        s.fifo_bytes += len;
        s.fifo.push_back(msg);
        self.meter.changed(s.held() - len, s.held());
        self.meter.fifo_depth(s.fifo.len(), s.fifo_bytes);
        drop(s);
        self.wake.notify_one();
        true
    }

    /// Stores the newest value for `key`, replacing an unsent older one. `false` if closed.
    pub fn push_latest(&self, key: ConflateKey, msg: Utf8Bytes) -> bool {
        let mut s = self.lock();
        if s.close.is_some() {
            return false;
        }
        s.next_stamp += 1;
        let stamp = s.next_stamp;
        let before = s.held();
        s.latest_bytes += msg.len();
        if let Some((old, old_msg)) = s.latest.insert(key.clone(), (stamp, msg)) {
            s.order.remove(&old);
            s.latest_bytes -= old_msg.len();
        }
        s.order.insert(stamp, key);
        self.meter.changed(before, s.held());
        drop(s);
        self.wake.notify_one();
        true
    }

    /// Drops unsent conflated values of one stream (and session): a `full_update` queued now
    /// supersedes them, and sending them after it would move the client backwards.
    pub fn discard_latest(&self, stream: StreamName, session_id: Option<&str>) {
        let mut s = self.lock();
        let matches = |k: &ConflateKey| k.stream == stream && k.session_id.as_deref() == session_id;
        let before = s.held();
        let mut dropped = 0;
        s.latest.retain(|k, (_, m)| {
            let keep = !matches(k);
            if !keep {
                dropped += m.len();
            }
            keep
        });
        s.latest_bytes -= dropped;
        s.order.retain(|_, k| !matches(k));
        self.meter.changed(before, s.held());
    }

    /// Asks the writer to close with `code`/`reason`; the first order wins. Pending data is
    /// dropped: a closed client resyncs from `full_update` anyway.
    pub fn close(&self, code: u16, reason: impl Into<String>) {
        let mut s = self.lock();
        self.close_locked(&mut s, code, reason.into());
        drop(s);
        self.wake.notify_one();
    }

    fn close_locked(&self, s: &mut State, code: u16, reason: String) {
        if s.close.is_none() {
            self.meter.changed(s.held(), 0);
            s.close = Some(CloseOrder { code, reason });
            s.fifo.clear();
            s.fifo_bytes = 0;
            s.latest.clear();
            s.latest_bytes = 0;
            s.order.clear();
        }
    }

    /// Moves up to `max_msgs` / `max_bytes` (at least one message) into `out`: the FIFO first,
    /// conflated values only once the FIFO is empty. FIFO-first keeps a `full_update` ahead of
    /// the deltas that follow it. Returns the close order instead when there is one.
    pub fn take_batch(
        &self,
        max_msgs: usize,
        max_bytes: usize,
        out: &mut Vec<Utf8Bytes>,
    ) -> Option<CloseOrder> {
        let mut s = self.lock();
        if let Some(c) = &s.close {
            return Some(c.clone());
        }
        let before = s.held();
        let mut bytes = 0;
        while out.len() < max_msgs && (out.is_empty() || bytes < max_bytes) {
            let Some(m) = s.fifo.pop_front() else { break };
            s.fifo_bytes -= m.len();
            bytes += m.len();
            out.push(m);
        }
        if s.fifo.is_empty() {
            while out.len() < max_msgs && (out.is_empty() || bytes < max_bytes) {
                let Some((_, k)) = s.order.pop_first() else {
                    break;
                };
                if let Some((_, m)) = s.latest.remove(&k) {
                    s.latest_bytes -= m.len();
                    bytes += m.len();
                    out.push(m);
                }
            }
        }
        self.meter.changed(before, s.held());
        None
    }

    /// The pending close order, if any (checked even when the writer may not send data).
    pub fn close_order(&self) -> Option<CloseOrder> {
        self.lock().close.clone()
    }

    /// Waits for a push or a close. A push that happened while nobody waited is remembered
    /// (`Notify::notify_one` stores a permit), so a wake-up is never lost.
    pub async fn wait(&self) {
        self.wake.notified().await;
    }

    /// FIFO depth in messages and bytes plus conflated slots in use.
    #[cfg(test)]
    pub fn depth(&self) -> (usize, usize, usize) {
        let s = self.lock();
        (s.fifo.len(), s.fifo_bytes, s.latest.len())
    }
}

impl Drop for ClientQueue {
    /// A connection that ends without a close order (transport drop) still leaves the meter.
    fn drop(&mut self) {
        let held = self.lock().held();
        self.meter.changed(held, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(max_msgs: usize, max_bytes: usize) -> ClientQueue {
        ClientQueue::new(
            QueueLimits {
                max_msgs,
                max_bytes,
            },
            Arc::default(),
        )
    }

    fn key(sym: &str) -> ConflateKey {
        ConflateKey {
            stream: StreamName::MarketData,
            session_id: Some("s".into()),
            item: sym.into(),
        }
    }

    fn drain(q: &ClientQueue) -> Vec<String> {
        let mut out = Vec::new();
        assert!(q.take_batch(usize::MAX, usize::MAX, &mut out).is_none());
        out.iter().map(|m| m.as_str().to_string()).collect()
    }

    #[test]
    fn latest_value_per_key_wins_in_production_order() {
        let q = q(10, 1000);
        q.push_latest(key("A"), "a1".into());
        q.push_latest(key("B"), "b1".into());
        q.push_latest(key("A"), "a2".into());
        // a2 was produced after b1 (higher seq): it must not be sent before it.
        assert_eq!(drain(&q), vec!["b1", "a2"]);
        assert_eq!(drain(&q), Vec::<String>::new());
    }

    #[test]
    fn fifo_drains_before_conflated_values() {
        let q = q(10, 1000);
        q.push_latest(key("A"), "tick".into());
        q.push_ordered("full_update".into());
        assert_eq!(drain(&q), vec!["full_update", "tick"]);
    }

    #[test]
    fn discard_latest_drops_only_that_stream_and_session() {
        let q = q(10, 1000);
        q.push_latest(key("A"), "a".into());
        let other = ConflateKey {
            session_id: Some("t".into()),
            ..key("A")
        };
        q.push_latest(other, "other".into());
        q.discard_latest(StreamName::MarketData, Some("s"));
        assert_eq!(drain(&q), vec!["other"]);
    }

    #[test]
    fn overflow_by_count_closes_4008_with_sizes() {
        let q = q(2, 1000);
        assert!(q.push_ordered("1".into()));
        assert!(q.push_ordered("2".into()));
        assert!(!q.push_ordered("3".into()));
        assert!(!q.push_latest(key("A"), "x".into()));
        let mut out = Vec::new();
        let c = q.take_batch(10, 10, &mut out).unwrap();
        assert_eq!(c.code, close::SLOW_CONSUMER);
        assert_eq!(c.reason, "slow consumer: queue 2 msgs / 2 bytes");
        assert!(out.is_empty());
        assert_eq!(q.depth(), (0, 0, 0));
    }

    #[test]
    fn overflow_by_bytes_but_one_big_message_passes_alone() {
        let q = q(100, 4);
        assert!(q.push_ordered("0123456789".into()));
        assert!(!q.push_ordered("x".into()));
        let q = q2();
        assert!(q.push_ordered("ab".into()));
        assert!(q.push_ordered("cd".into()));
        assert!(!q.push_ordered("e".into()));
        fn q2() -> ClientQueue {
            ClientQueue::new(
                QueueLimits {
                    max_msgs: 100,
                    max_bytes: 4,
                },
                Arc::default(),
            )
        }
    }

    #[test]
    fn batches_respect_limits_but_always_take_one() {
        let q = q(100, 10_000);
        for i in 0..5 {
            q.push_ordered(format!("m{i}").into());
        }
        let mut out = Vec::new();
        q.take_batch(2, 1000, &mut out);
        assert_eq!(out.len(), 2);
        out.clear();
        q.take_batch(100, 1, &mut out);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn the_meter_sees_every_byte_held_and_released() {
        let meter = Arc::new(QueueMeter::default());
        let limits = QueueLimits {
            max_msgs: 3,
            max_bytes: 1000,
        };
        let a = ClientQueue::new(limits, meter.clone());
        let b = ClientQueue::new(limits, meter.clone());
        a.push_ordered("1234".into());
        a.push_latest(key("A"), "xx".into());
        // Replacing a conflated value counts the new bytes only.
        a.push_latest(key("A"), "yyy".into());
        b.push_latest(key("B"), "z".into());
        assert_eq!(meter.stats().queued_bytes, 4 + 3 + 1);
        b.discard_latest(StreamName::MarketData, Some("s"));
        assert_eq!(meter.stats().queued_bytes, 7);
        assert_eq!(drain(&a).len(), 2);
        assert_eq!(meter.stats().queued_bytes, 0);
        // Overflow: the peak is the bound, the close releases everything and is counted.
        for m in ["a", "bb", "ccc"] {
            assert!(a.push_ordered(m.into()));
        }
        assert!(!a.push_ordered("d".into()));
        let s = meter.stats();
        assert_eq!((s.peak_client_fifo_msgs, s.peak_client_fifo_bytes), (3, 6));
        assert_eq!((s.queued_bytes, s.overflow_closes), (0, 1));
        assert_eq!(s.peak_queued_bytes, 8);
        // A queue dropped while holding data gives its bytes back.
        b.push_ordered("held".into());
        drop(b);
        assert_eq!(meter.stats().queued_bytes, 0);
    }

    #[test]
    fn first_close_wins() {
        let q = q(10, 10);
        q.close(1001, "server shutting down");
        q.close(4008, "later");
        let mut out = Vec::new();
        assert_eq!(q.take_batch(1, 1, &mut out).unwrap().code, 1001);
        assert!(q.close_order().is_some());
    }
}
