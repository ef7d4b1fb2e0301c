//! Decides which stream messages `trademon watch` passes on, so that its output keeps the
//! protocol's promise on its own: per (stream, session or symbol) a `full_update` first, then
//! deltas whose `seq` only grows.
//!
//! - Deltas before the key's `full_update` are held back: the `full_update` carries them.
//! - Ordered streams: exactly the next seq, else a gap; the caller resyncs (unsubscribe +
//!   subscribe), and deltas are held back again until the fresh `full_update`.
//! - Conflated streams: anything newer than the last seq passed (older values were replaced
//!   on the backend); a value at or below it is dropped.
//! - Every new connection (`hello`) starts over: it brings new `full_update`s.
//!
//! Pure and small on purpose: no model of the data, only seqs (the client model keeps far
//! more than a pipe to stdout needs).

use std::collections::HashMap;
use trademon_protocol::{ServerMsg, StreamName};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not a stream message (hello, ack, pong, error, result...).
    NotStream,
    /// Print it.
    Pass,
    /// Held back: before the key's `full_update`, or not newer than what was passed.
    Hold,
    /// An ordered stream skipped seqs: resync this stream (and session).
    Gap {
        stream: StreamName,
        key: Option<String>,
        expected: u64,
        got: u64,
    },
}

#[derive(Debug, Default)]
pub struct SeqGate {
    last: HashMap<(StreamName, Option<String>), u64>,
}

impl SeqGate {
    pub fn admit(&mut self, msg: &ServerMsg) -> Verdict {
        if let ServerMsg::Hello(_) = msg {
            self.last.clear();
            return Verdict::NotStream;
        }
        let Some((stream, key, seq)) = msg.stream_position() else {
            return Verdict::NotStream;
        };
        let k = (stream, key.map(str::to_string));
        if let ServerMsg::FullUpdate(_) = msg {
            self.last.insert(k, seq);
            return Verdict::Pass;
        }
        let Some(&last) = self.last.get(&k) else {
            return Verdict::Hold;
        };
        if seq <= last {
            return Verdict::Hold;
        }
        if !stream.is_conflated() && seq != last + 1 {
            // Nothing of this key passes until the resync's full_update.
            self.last.remove(&k);
            return Verdict::Gap {
                stream,
                key: k.1,
                expected: last + 1,
                got: seq,
            };
        }
        self.last.insert(k, seq);
        Verdict::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trademon_protocol::{Envelope, Hello, SessionTotals, SignalInfo, Snapshot};

    fn env<T>(stream: StreamName, session: &str, seq: u64, data: T) -> Envelope<T> {
        Envelope {
            stream,
            session_id: Some(session.into()),
            symbol: None,
            interval: None,
            seq,
            ts: 0,
            data,
        }
    }

    fn full(stream: StreamName, session: &str, seq: u64) -> ServerMsg {
        ServerMsg::FullUpdate(env(stream, session, seq, Snapshot::default()))
    }

    fn signal(session: &str, seq: u64) -> ServerMsg {
        let s: SignalInfo = serde_json::from_value(serde_json::json!({
            "id": seq, "symbol": "BTC_USDT", "side": "BUY", "price": 1.0,
            "reason": "r", "kind": "entry", "at_ms": 0
        }))
        .unwrap();
        ServerMsg::Signal(env(StreamName::Signals, session, seq, s))
    }

    fn totals(session: &str, seq: u64) -> ServerMsg {
        let t: SessionTotals = serde_json::from_value(serde_json::json!({
            "started_ms": 0, "realized_pnl": 0.0, "unrealized_pnl": 0.0, "fees": 0.0,
            "open_positions": 0, "signals": 0
        }))
        .unwrap();
        ServerMsg::SessionTotals(env(StreamName::Positions, session, seq, t))
    }

    fn hello() -> ServerMsg {
        let h: Hello = serde_json::from_value(serde_json::json!({
            "protocol": 1, "server": "t", "connection_id": "c-1", "epoch": "e",
            "streams": [], "ping_interval_ms": 1, "idle_timeout_ms": 1
        }))
        .unwrap();
        ServerMsg::Hello(h)
    }

    #[test]
    fn ordered_deltas_pass_in_sequence_after_the_full_update() {
        let mut g = SeqGate::default();
        assert_eq!(
            g.admit(&signal("a", 3)),
            Verdict::Hold,
            "before the full_update"
        );
        assert_eq!(g.admit(&full(StreamName::Signals, "a", 3)), Verdict::Pass);
        assert_eq!(
            g.admit(&signal("a", 3)),
            Verdict::Hold,
            "inside the full_update"
        );
        assert_eq!(g.admit(&signal("a", 4)), Verdict::Pass);
        assert_eq!(g.admit(&signal("a", 5)), Verdict::Pass);
        // Another session has its own seq.
        assert_eq!(g.admit(&signal("b", 5)), Verdict::Hold);
    }

    #[test]
    fn an_ordered_gap_asks_for_a_resync_and_holds_until_the_new_full_update() {
        let mut g = SeqGate::default();
        g.admit(&full(StreamName::Signals, "a", 3));
        assert_eq!(
            g.admit(&signal("a", 6)),
            Verdict::Gap {
                stream: StreamName::Signals,
                key: Some("a".into()),
                expected: 4,
                got: 6
            }
        );
        assert_eq!(g.admit(&signal("a", 7)), Verdict::Hold);
        assert_eq!(g.admit(&full(StreamName::Signals, "a", 7)), Verdict::Pass);
        assert_eq!(g.admit(&signal("a", 8)), Verdict::Pass);
    }

    #[test]
    fn conflated_deltas_may_skip_but_never_go_back() {
        let mut g = SeqGate::default();
        g.admit(&full(StreamName::Positions, "a", 10));
        assert_eq!(g.admit(&totals("a", 13)), Verdict::Pass);
        assert_eq!(g.admit(&totals("a", 12)), Verdict::Hold);
        assert_eq!(g.admit(&totals("a", 13)), Verdict::Hold);
        assert_eq!(g.admit(&totals("a", 20)), Verdict::Pass);
    }

    #[test]
    fn a_new_connection_waits_for_its_own_full_updates() {
        let mut g = SeqGate::default();
        g.admit(&full(StreamName::Signals, "a", 3));
        assert_eq!(g.admit(&hello()), Verdict::NotStream);
        assert_eq!(g.admit(&signal("a", 4)), Verdict::Hold);
        // A restarted backend (new epoch) counts from its own start.
        assert_eq!(g.admit(&full(StreamName::Signals, "a", 0)), Verdict::Pass);
        assert_eq!(g.admit(&signal("a", 1)), Verdict::Pass);
    }
}
