//! Fan-out: the one owner of connected clients, their queues and subscriptions, and the seq
//! of every stream instance. Nothing else writes to a client queue or counts a seq.
//!
//! Ordering scheme: the state owner (the hub) publishes deltas and hands over snapshots
//! through the same ordered path (method calls today, one FIFO channel when fan-out runs as a
//! task), and fan-out stamps seqs as the messages arrive. A subscribe carries the snapshot the
//! owner took at that point of its publish order, so fan-out stamps its `full_update` with the
//! seq of the last delta published before it; the next delta of the stream gets seq + 1. The
//! owner never stamps a seq and fan-out never builds state, so the two cannot disagree.

use crate::queue::{ClientQueue, ConflateKey};
use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use trademon_protocol::{Ack, Envelope, RestSnapshot, ServerMsg, Snapshot, StreamName, now_ms};

/// Identifies a stream instance: the stream and, for per-session streams, the session.
pub type StreamKey = (StreamName, Option<String>);

struct Client {
    conn_id: String,
    queue: Arc<ClientQueue>,
    subs: HashSet<StreamKey>,
}

#[derive(Default)]
pub struct Fanout {
    seqs: HashMap<StreamKey, u64>,
    clients: HashMap<u64, Client>,
}

impl Fanout {
    pub fn register(&mut self, conn: u64, conn_id: String, queue: Arc<ClientQueue>) {
        let subs = HashSet::new();
        self.clients.insert(
            conn,
            Client {
                conn_id,
                queue,
                subs,
            },
        );
    }

    /// Forgets the client; its id if it was known.
    pub fn unregister(&mut self, conn: u64) -> Option<String> {
        self.clients.remove(&conn).map(|c| c.conn_id)
    }

    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// `ack`, then `full_update` of `snapshot` at the stream's current seq, then registration:
    /// all in this one step, so the next delta of this stream is exactly seq + 1 for this client.
    pub fn subscribe(&mut self, conn: u64, id: u64, key: StreamKey, snapshot: Snapshot) {
        let ack = ServerMsg::Ack(Ack {
            id,
            stream: key.0,
            session_id: key.1.clone(),
        });
        let full = self.full_update(&key, snapshot);
        let (Some(ack), Some(full)) = (encode(&ack), encode(&full)) else {
            return;
        };
        let Some(c) = self.clients.get_mut(&conn) else {
            return;
        };
        c.queue.discard_latest(key.0, key.1.as_deref());
        if c.queue.push_ordered(ack) && c.queue.push_ordered(full) {
            c.subs.insert(key);
        } else {
            c.subs.clear();
        }
    }

    /// Drops the subscription and whatever of the stream is still queued unsent, then acks.
    pub fn unsubscribe(&mut self, conn: u64, id: u64, key: StreamKey) {
        if let Some(c) = self.clients.get_mut(&conn) {
            c.subs.remove(&key);
            c.queue.discard_latest(key.0, key.1.as_deref());
        }
        let ack = Ack {
            id,
            stream: key.0,
            session_id: key.1,
        };
        self.reply(conn, ServerMsg::Ack(ack));
    }

    /// Gives every subscriber of `key` a fresh `full_update` at the current seq (the owner's
    /// state grew without a delta, e.g. signals back-filled from QuestDB).
    pub fn resend_full(&mut self, key: &StreamKey, snapshot: Snapshot) {
        let Some(full) = encode(&self.full_update(key, snapshot)) else {
            return;
        };
        for c in self.clients.values_mut() {
            if !c.subs.contains(key) {
                continue;
            }
            c.queue.discard_latest(key.0, key.1.as_deref());
            if !c.queue.push_ordered(full.clone()) {
                c.subs.clear();
            }
        }
    }

    /// Fills in the seq of every stream of the REST snapshot, at this point of the publish order.
    pub fn stamp_rest(&self, mut snap: RestSnapshot) -> RestSnapshot {
        let mut seq = BTreeMap::new();
        for stream in StreamName::ALL {
            let sid = stream.is_per_session().then(|| snap.session_id.clone());
            let cur = self.seqs.get(&(stream, sid)).copied().unwrap_or(0);
            seq.insert(stream.as_str().to_string(), cur);
        }
        snap.seq = seq;
        snap
    }

    fn full_update(&self, key: &StreamKey, data: Snapshot) -> ServerMsg {
        ServerMsg::FullUpdate(Envelope {
            stream: key.0,
            session_id: key.1.clone(),
            seq: self.seqs.get(key).copied().unwrap_or(0),
            ts: now_ms(),
            data,
        })
    }

    /// A control reply to one client, in order with its stream data. A client whose queue is
    /// closed (overflow) loses its subscriptions: its writer is closing it 4008 and fan-out
    /// must not spend more work on it.
    pub fn reply(&mut self, conn: u64, msg: ServerMsg) {
        let Some(text) = encode(&msg) else { return };
        if let Some(c) = self.clients.get_mut(&conn)
            && !c.queue.push_ordered(text)
        {
            c.subs.clear();
        }
    }

    /// Whether any client follows `key`: the owner can skip building data nobody reads.
    pub fn has_subscribers(&self, key: &StreamKey) -> bool {
        self.clients.values().any(|c| c.subs.contains(key))
    }

    /// Assigns the next seq of `key` and queues the message for every subscriber: serialized
    /// once, the bytes shared. `conflate` names the item for conflated streams.
    pub fn publish<T: Serialize>(
        &mut self,
        key: StreamKey,
        conflate: Option<&str>,
        data: T,
        wrap: fn(Envelope<T>) -> ServerMsg,
    ) {
        let seq = {
            let s = self.seqs.entry(key.clone()).or_insert(0);
            *s += 1;
            *s
        };
        if !self.has_subscribers(&key) {
            return;
        }
        let stream = key.0;
        let msg = wrap(Envelope {
            stream,
            session_id: key.1.clone(),
            seq,
            ts: now_ms(),
            data,
        });
        let Some(text) = encode(&msg) else { return };
        for c in self.clients.values_mut() {
            if !c.subs.contains(&key) {
                continue;
            }
            let queued = match conflate {
                Some(item) => c.queue.push_latest(
                    ConflateKey {
                        stream,
                        session_id: key.1.clone(),
                        item: item.to_string(),
                    },
                    text.clone(),
                ),
                None => c.queue.push_ordered(text.clone()),
            };
            if !queued {
                tracing::debug!(event = "hub.client_dropped", conn = %c.conn_id, "queue closed");
                c.subs.clear();
            }
        }
    }

    pub fn close_all(&mut self, code: u16, reason: &str) {
        for c in self.clients.values() {
            c.queue.close(code, reason);
        }
    }
}

fn encode(msg: &ServerMsg) -> Option<Utf8Bytes> {
    match serde_json::to_string(msg) {
        Ok(s) => Some(Utf8Bytes::from(s)),
        Err(e) => {
            tracing::error!(event = "hub.encode_failed", error = %e, "cannot serialize a server message");
            None
        }
    }
}
