//! Fan-out: the task that owns connected clients, their queues and subscriptions, and the seq
//! of every stream instance. Nothing else writes to a client queue or counts a seq.
//!
//! Ordering scheme: the state owner (the hub) sends deltas and snapshots down one FIFO channel
//! (`FanoutTx`), and fan-out stamps seqs as the messages arrive. A subscribe carries the
//! snapshot the owner took at that point of its publish order, so fan-out stamps its
//! `full_update` with the seq of the last delta sent before it, and the next delta of the
//! stream gets seq + 1: nothing lost, nothing twice. The same holds for a REST snapshot's seqs
//! and a re-sent `full_update`. The owner never stamps a seq and fan-out never builds state,
//! so the two cannot disagree; a client's control replies travel the same channel, so they
//! stay in order with its data.

use crate::queue::{ClientQueue, ConflateKey};
use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use trademon_protocol::{
    Ack, Envelope, Interval, RestSnapshot, ServerMsg, Snapshot, StreamName, now_ms,
};

/// Identifies a stream instance: the stream and, for per-session streams, the session; for the
/// per-symbol streams, the symbol (and the interval of `candles`). Each instance has its own seq.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamKey {
    pub stream: StreamName,
    pub session: Option<String>,
    pub symbol: Option<String>,
    pub interval: Option<Interval>,
}

impl StreamKey {
    /// A global stream (`session` `None`) or a per-session one.
    pub fn new(stream: StreamName, session: Option<String>) -> StreamKey {
        StreamKey {
            stream,
            session,
            symbol: None,
            interval: None,
        }
    }

    /// A per-symbol stream; `interval` only for `candles`.
    pub fn symbol(stream: StreamName, symbol: String, interval: Option<Interval>) -> StreamKey {
        StreamKey {
            stream,
            session: None,
            symbol: Some(symbol),
            interval,
        }
    }

    /// What scopes the stream's conflation slots in a client queue: its session, or its symbol.
    fn scope(&self) -> Option<&str> {
        self.session.as_deref().or(self.symbol.as_deref())
    }

    fn envelope<T>(&self, seq: u64, data: T) -> Envelope<T> {
        Envelope {
            interval: self.interval,
            symbol: self.symbol.clone(),
            stream: self.stream,
            session_id: self.session.clone(),
            seq,
            ts: now_ms(),
            data,
        }
    }
}

/// Builds a delta's message once fan-out has given it its seq.
type MakeMsg = Box<dyn FnOnce(u64) -> ServerMsg + Send>;

/// What the state owner tells fan-out, in its order.
pub enum FanoutMsg {
    Register {
        conn: u64,
        conn_id: String,
        queue: Arc<ClientQueue>,
    },
    Unregister {
        conn: u64,
    },
    Subscribe {
        conn: u64,
        id: u64,
        key: StreamKey,
        snapshot: Box<Snapshot>,
    },
    Unsubscribe {
        conn: u64,
        id: u64,
        key: StreamKey,
    },
    /// Drops a subscription without a reply (replaced by another of the same client).
    Forget {
        conn: u64,
        key: StreamKey,
    },
    Reply {
        conn: u64,
        msg: Box<ServerMsg>,
    },
    Publish {
        key: StreamKey,
        conflate: Option<String>,
        make: MakeMsg,
    },
    ResendFull {
        key: StreamKey,
        snapshot: Box<Snapshot>,
    },
    /// A REST snapshot to stamp with the seqs and hand to `done`.
    Rest {
        snap: Box<RestSnapshot>,
        done: Box<dyn FnOnce(RestSnapshot) + Send>,
    },
    /// Close every client's queue, then answer `done`.
    CloseAll {
        code: u16,
        reason: String,
        done: oneshot::Sender<()>,
    },
}

/// The owner's end of the fan-out channel. Unbounded: the owner must never wait on fan-out,
/// and fan-out never waits on anything (client queues are non-blocking).
#[derive(Clone)]
pub struct FanoutTx {
    tx: mpsc::UnboundedSender<FanoutMsg>,
}

impl FanoutTx {
    fn send(&self, msg: FanoutMsg) {
        // Fan-out ends only after every sender is gone; a failed send means it panicked,
        // which the hub reports when it sees the task end.
        let _ = self.tx.send(msg);
    }

    pub fn register(&self, conn: u64, conn_id: String, queue: Arc<ClientQueue>) {
        self.send(FanoutMsg::Register {
            conn,
            conn_id,
            queue,
        });
    }

    pub fn unregister(&self, conn: u64) {
        self.send(FanoutMsg::Unregister { conn });
    }

    pub fn subscribe(&self, conn: u64, id: u64, key: StreamKey, snapshot: Snapshot) {
        let snapshot = Box::new(snapshot);
        self.send(FanoutMsg::Subscribe {
            conn,
            id,
            key,
            snapshot,
        });
    }

    pub fn unsubscribe(&self, conn: u64, id: u64, key: StreamKey) {
        self.send(FanoutMsg::Unsubscribe { conn, id, key });
    }

    pub fn forget(&self, conn: u64, key: StreamKey) {
        self.send(FanoutMsg::Forget { conn, key });
    }

    pub fn reply(&self, conn: u64, msg: ServerMsg) {
        let msg = Box::new(msg);
        self.send(FanoutMsg::Reply { conn, msg });
    }

    pub fn resend_full(&self, key: StreamKey, snapshot: Snapshot) {
        let snapshot = Box::new(snapshot);
        self.send(FanoutMsg::ResendFull { key, snapshot });
    }

    pub fn rest(&self, snap: RestSnapshot, done: impl FnOnce(RestSnapshot) + Send + 'static) {
        let (snap, done) = (Box::new(snap), Box::new(done));
        self.send(FanoutMsg::Rest { snap, done });
    }

    pub fn close_all(&self, code: u16, reason: &str, done: oneshot::Sender<()>) {
        let reason = reason.to_string();
        self.send(FanoutMsg::CloseAll { code, reason, done });
    }

    /// The next delta of `key`; `conflate` names the item for conflated streams.
    pub fn publish<T: Serialize + Send + 'static>(
        &self,
        key: StreamKey,
        conflate: Option<&str>,
        data: T,
        wrap: fn(Envelope<T>) -> ServerMsg,
    ) {
        let k = key.clone();
        let make: MakeMsg = Box::new(move |seq| wrap(k.envelope(seq, data)));
        let conflate = conflate.map(str::to_string);
        self.send(FanoutMsg::Publish {
            key,
            conflate,
            make,
        });
    }
}

/// Starts the fan-out task; it ends when every `FanoutTx` is gone.
pub fn spawn() -> (FanoutTx, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut fanout = Fanout::default();
        while let Some(msg) = rx.recv().await {
            fanout.on_msg(msg);
        }
    });
    (FanoutTx { tx }, task)
}

struct Client {
    conn_id: String,
    queue: Arc<ClientQueue>,
    subs: HashSet<StreamKey>,
}

#[derive(Default)]
struct Fanout {
    seqs: HashMap<StreamKey, u64>,
    clients: HashMap<u64, Client>,
}

impl Fanout {
    fn on_msg(&mut self, msg: FanoutMsg) {
        match msg {
            FanoutMsg::Register {
                conn,
                conn_id,
                queue,
            } => self.register(conn, conn_id, queue),
            FanoutMsg::Unregister { conn } => {
                self.clients.remove(&conn);
            }
            FanoutMsg::Subscribe {
                conn,
                id,
                key,
                snapshot,
            } => self.subscribe(conn, id, key, *snapshot),
            FanoutMsg::Unsubscribe { conn, id, key } => self.unsubscribe(conn, id, key),
            FanoutMsg::Forget { conn, key } => self.forget(conn, &key),
            FanoutMsg::Reply { conn, msg } => self.reply(conn, *msg),
            FanoutMsg::Publish {
                key,
                conflate,
                make,
            } => self.publish(key, conflate.as_deref(), make),
            FanoutMsg::ResendFull { key, snapshot } => self.resend_full(&key, *snapshot),
            FanoutMsg::Rest { snap, done } => done(self.stamp_rest(*snap)),
            FanoutMsg::CloseAll { code, reason, done } => {
                self.close_all(code, &reason);
                let _ = done.send(());
            }
        }
    }

    fn register(&mut self, conn: u64, conn_id: String, queue: Arc<ClientQueue>) {
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

    /// `ack`, then `full_update` of `snapshot` at the stream's current seq, then registration:
    /// all in this one step, so the next delta of this stream is exactly seq + 1 for this client.
    fn subscribe(&mut self, conn: u64, id: u64, key: StreamKey, snapshot: Snapshot) {
        let ack = ServerMsg::Ack(Ack {
            id,
            stream: key.stream,
            session_id: key.session.clone(),
        });
        let full = self.full_update(&key, snapshot);
        let (Some(ack), Some(full)) = (encode(&ack), encode(&full)) else {
            return;
        };
        let Some(c) = self.clients.get_mut(&conn) else {
            return;
        };
        c.queue.discard_latest(key.stream, key.scope());
        if c.queue.push_ordered(ack) && c.queue.push_ordered(full) {
            c.subs.insert(key);
        } else {
            c.subs.clear();
        }
    }

    /// Drops the subscription and whatever of the stream is still queued unsent, then acks.
    fn unsubscribe(&mut self, conn: u64, id: u64, key: StreamKey) {
        self.forget(conn, &key);
        let ack = Ack {
            id,
            stream: key.stream,
            session_id: key.session,
        };
        self.reply(conn, ServerMsg::Ack(ack));
    }

    fn forget(&mut self, conn: u64, key: &StreamKey) {
        if let Some(c) = self.clients.get_mut(&conn) {
            c.subs.remove(key);
            c.queue.discard_latest(key.stream, key.scope());
        }
    }

    /// Gives every subscriber of `key` a fresh `full_update` at the current seq (the owner's
    /// state grew without a delta, e.g. signals back-filled from QuestDB).
    fn resend_full(&mut self, key: &StreamKey, snapshot: Snapshot) {
        let Some(full) = encode(&self.full_update(key, snapshot)) else {
            return;
        };
        for c in self.clients.values_mut() {
            if !c.subs.contains(key) {
                continue;
            }
            c.queue.discard_latest(key.stream, key.scope());
            if !c.queue.push_ordered(full.clone()) {
                c.subs.clear();
            }
        }
    }

    /// Fills in the seq of every stream of the REST snapshot, at this point of the publish order.
    fn stamp_rest(&self, mut snap: RestSnapshot) -> RestSnapshot {
        let mut seq = BTreeMap::new();
        for stream in StreamName::ALL {
            let sid = stream.is_per_session().then(|| snap.session_id.clone());
            let cur = self
                .seqs
                .get(&StreamKey::new(stream, sid))
                .copied()
                .unwrap_or(0);
            seq.insert(stream.as_str().to_string(), cur);
        }
        snap.seq = seq;
        snap
    }

    fn full_update(&self, key: &StreamKey, data: Snapshot) -> ServerMsg {
        let seq = self.seqs.get(key).copied().unwrap_or(0);
        ServerMsg::FullUpdate(key.envelope(seq, data))
    }

    /// A control reply to one client, in order with its stream data. A client whose queue is
    /// closed (overflow) loses its subscriptions: its writer is closing it 4008 and fan-out
    /// must not spend more work on it.
    fn reply(&mut self, conn: u64, msg: ServerMsg) {
        let Some(text) = encode(&msg) else { return };
        if let Some(c) = self.clients.get_mut(&conn)
            && !c.queue.push_ordered(text)
        {
            c.subs.clear();
        }
    }

    fn has_subscribers(&self, key: &StreamKey) -> bool {
        self.clients.values().any(|c| c.subs.contains(key))
    }

    /// Assigns the next seq of `key` and queues the message for every subscriber: serialized
    /// once, the bytes shared. `conflate` names the item for conflated streams.
    fn publish(&mut self, key: StreamKey, conflate: Option<&str>, make: MakeMsg) {
        let seq = {
            let s = self.seqs.entry(key.clone()).or_insert(0);
            *s += 1;
            *s
        };
        if !self.has_subscribers(&key) {
            return;
        }
        let stream = key.stream;
        let Some(text) = encode(&make(seq)) else {
            return;
        };
        for c in self.clients.values_mut() {
            if !c.subs.contains(&key) {
                continue;
            }
            let queued = match conflate {
                Some(item) => c.queue.push_latest(
                    ConflateKey {
                        stream,
                        session_id: key.scope().map(str::to_string),
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

    fn close_all(&mut self, code: u16, reason: &str) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::QueueLimits;
    use crate::queue_meter::QueueMeter;
    use trademon_protocol::LogEvent;

    fn queue() -> Arc<ClientQueue> {
        let limits = QueueLimits {
            max_msgs: 64,
            max_bytes: 1 << 20,
        };
        Arc::new(ClientQueue::new(limits, Arc::new(QueueMeter::default())))
    }

    fn drain(q: &ClientQueue) -> Vec<ServerMsg> {
        let mut batch = Vec::new();
        assert!(q.take_batch(64, 1 << 20, &mut batch).is_none(), "closed");
        batch
            .iter()
            .map(|m| serde_json::from_str(m).unwrap())
            .collect()
    }

    fn event(n: u32) -> LogEvent {
        LogEvent {
            ts: 0,
            level: trademon_protocol::Level::Info,
            name: format!("e{n}"),
            message: String::new(),
            count: 1,
        }
    }

    /// Deltas sent before a subscribe are counted in its `full_update`'s seq; the first delta
    /// after it is exactly one more, and a REST snapshot taken in between sees the same seq.
    #[tokio::test]
    async fn full_update_takes_the_seq_of_the_deltas_sent_before_it() {
        let (tx, task) = spawn();
        let q = queue();
        let key = StreamKey::new(StreamName::Events, None);
        tx.register(1, "c-1".into(), q.clone());
        tx.publish(key.clone(), None, event(1), ServerMsg::Event);
        tx.publish(key.clone(), None, event(2), ServerMsg::Event);
        tx.subscribe(1, 7, key.clone(), Snapshot::default());
        let (rest_tx, rest_rx) = oneshot::channel();
        let snap = RestSnapshot {
            session_id: "s".into(),
            epoch: "e".into(),
            ts: 0,
            seq: BTreeMap::new(),
            data: Snapshot::default(),
        };
        tx.rest(snap, move |s| {
            let _ = rest_tx.send(s);
        });
        tx.publish(key.clone(), None, event(3), ServerMsg::Event);
        let rest = rest_rx.await.unwrap();
        assert_eq!(rest.seq.get("events"), Some(&2));
        let (done_tx, done) = oneshot::channel();
        // A probe: answered once every message sent before it has been handled.
        tx.rest(
            RestSnapshot {
                session_id: "s".into(),
                epoch: "e".into(),
                ts: 0,
                seq: BTreeMap::new(),
                data: Snapshot::default(),
            },
            move |_| {
                let _ = done_tx.send(());
            },
        );
        done.await.unwrap();
        let got = drain(&q);
        let seqs: Vec<(&str, u64)> = got
            .iter()
            .map(|m| match m {
                ServerMsg::Ack(a) => ("ack", a.id),
                ServerMsg::FullUpdate(e) => ("full", e.seq),
                ServerMsg::Event(e) => ("event", e.seq),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(seqs, vec![("ack", 7), ("full", 2), ("event", 3)]);
        drop(tx);
        task.await.unwrap();
    }

    /// Per-symbol instances count their own seqs, carry their symbol (and interval), and one
    /// symbol's subscription leaves another symbol's queued book alone.
    #[tokio::test]
    async fn per_symbol_instances_have_their_own_seq_and_conflation_slot() {
        use trademon_protocol::{BookSnapshot, CandlesUpdate, DataSource};
        let book = |symbol: &str, version: u64| BookSnapshot {
            symbol: symbol.into(),
            version,
            bids: Vec::new(),
            asks: Vec::new(),
            contract_size: None,
            price_decimals: None,
            exchange_ts_ms: 0,
            received_ms: 0,
            gaps: 0,
            source: DataSource::Ws,
        };
        let (tx, task) = spawn();
        let q = queue();
        let btc = StreamKey::symbol(StreamName::Book, "BTC_USDT".into(), None);
        let eth = StreamKey::symbol(StreamName::Book, "ETH_USDT".into(), None);
        let m1 = StreamKey::symbol(StreamName::Candles, "BTC_USDT".into(), Some(Interval::Min1));
        tx.register(1, "c-1".into(), q.clone());
        tx.subscribe(1, 1, btc.clone(), Snapshot::default());
        tx.subscribe(1, 2, m1.clone(), Snapshot::default());
        tx.publish(btc.clone(), Some(""), book("BTC_USDT", 1), ServerMsg::Book);
        tx.publish(btc.clone(), Some(""), book("BTC_USDT", 2), ServerMsg::Book);
        tx.subscribe(1, 3, eth.clone(), Snapshot::default());
        let candles = CandlesUpdate {
            symbol: "BTC_USDT".into(),
            interval: Interval::Min1,
            candles: Vec::new(),
            price_decimals: None,
        };
        tx.publish(m1, None, candles, ServerMsg::Candles);
        tx.publish(eth, Some(""), book("ETH_USDT", 9), ServerMsg::Book);
        let (done_tx, done) = oneshot::channel();
        let probe = RestSnapshot {
            session_id: "s".into(),
            epoch: "e".into(),
            ts: 0,
            seq: BTreeMap::new(),
            data: Snapshot::default(),
        };
        tx.rest(probe, move |_| {
            let _ = done_tx.send(());
        });
        done.await.unwrap();
        let got: Vec<(String, Option<String>, Option<Interval>, u64)> = drain(&q)
            .into_iter()
            .filter_map(|m| match m {
                ServerMsg::Book(e) => Some((
                    format!("book {}", e.data.version),
                    e.symbol,
                    e.interval,
                    e.seq,
                )),
                ServerMsg::Candles(e) => Some(("candles".into(), e.symbol, e.interval, e.seq)),
                _ => None,
            })
            .collect();
        let btc_sym = Some("BTC_USDT".to_string());
        assert_eq!(
            got,
            vec![
                ("candles".into(), btc_sym.clone(), Some(Interval::Min1), 1),
                // Conflated: the newest BTC book only, not dropped by ETH's subscribe.
                ("book 2".into(), btc_sym, None, 2),
                ("book 9".into(), Some("ETH_USDT".into()), None, 1),
            ]
        );
        drop(tx);
        task.await.unwrap();
    }
}
