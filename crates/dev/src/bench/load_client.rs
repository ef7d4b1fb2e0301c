//! The clients of `trademon bench load`: a fast one that reads everything and pings, and a
//! slow one that subscribes and then never reads again.

use super::stats::MsHistogram;
use color_eyre::eyre::{Result, WrapErr, eyre};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trademon::protocol::now_ms;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How often each fast client sends an app `ping`.
const PING_EVERY: Duration = Duration::from_millis(100);
/// Delivery latencies above this count in the last bucket (the report says so via `max`).
pub const HISTOGRAM_MS: usize = 10_000;

/// What one fast client saw since the last `take`.
#[derive(Debug, Clone)]
pub struct Tally {
    pub msgs: u64,
    /// Arrival minus the backend's receipt (tickers) or the feeder's stamp (events), in ms.
    pub delays: MsHistogram,
    pub rtts_ms: Vec<f64>,
    /// Ordered (`events`) messages that skipped a seq.
    pub gaps: u64,
    /// `full_update`s after the first subscribe: the backend resynced this client.
    pub resyncs: u64,
    /// Set when the connection ended.
    pub ended: Option<String>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            msgs: 0,
            delays: MsHistogram::new(HISTOGRAM_MS),
            rtts_ms: Vec::new(),
            gaps: 0,
            resyncs: 0,
            ended: None,
        }
    }
}

/// Shared between a client task (writes) and the bench (takes a phase's worth).
#[derive(Clone, Default)]
pub struct LiveTally(Arc<Mutex<Tally>>);

impl LiveTally {
    fn lock(&self) -> MutexGuard<'_, Tally> {
        // Plain counters: a panic elsewhere leaves nothing inconsistent behind.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tally so far, leaving a fresh one (`ended` carries over: a closed client stays so).
    pub fn take(&self) -> Tally {
        let mut t = self.lock();
        let ended = t.ended.clone();
        std::mem::replace(
            &mut *t,
            Tally {
                ended,
                ..Tally::default()
            },
        )
    }
}

/// Only the fields the bench reads; a full `ServerMsg` parse per frame would make 50 clients
/// cost more CPU than the backend they measure.
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    id: u64,
    #[serde(default)]
    data: Stamp,
}

#[derive(Deserialize, Default)]
struct Stamp {
    /// Tickers: when the backend received the exchange frame.
    #[serde(default)]
    received_ms: Option<i64>,
    /// Events: when the feeder made it.
    #[serde(default)]
    ts: Option<i64>,
}

/// Connects and subscribes to `subs` (`(stream, session)`); returns once every `full_update`
/// arrived, with the seq of the ordered `events` stream.
pub async fn connect(url: &str, subs: &[(&str, Option<&str>)]) -> Result<(Ws, u64)> {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .wrap_err("bench client cannot connect")?;
    for (i, (stream, session)) in subs.iter().enumerate() {
        let mut op = serde_json::json!({"op": "subscribe", "id": i + 1, "stream": stream});
        if let Some(s) = session {
            op["session_id"] = serde_json::json!(s);
        }
        ws.send(Message::text(op.to_string())).await?;
    }
    let (mut fulls, mut events_seq) = (0, 0);
    while fulls < subs.len() {
        let Some(frame) = ws.next().await else {
            return Err(eyre!("closed before the subscriptions were answered"));
        };
        if let Message::Text(t) = frame? {
            let f: Frame = serde_json::from_str(&t)?;
            if f.kind == "full_update" {
                fulls += 1;
                if t.contains(r#""stream":"events""#) {
                    events_seq = f.seq;
                }
            }
        }
    }
    Ok((ws, events_seq))
}

/// Reads everything and pings every 100 ms until `stop` fires or the connection ends.
pub async fn run_fast(
    mut ws: Ws,
    mut events_seq: u64,
    tally: LiveTally,
    mut stop: mpsc::Receiver<()>,
) {
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    let mut next_id = 0u64;
    let mut ping = tokio::time::interval(PING_EVERY);
    let ended = loop {
        tokio::select! {
            _ = stop.recv() => break None,
            _ = ping.tick() => {
                next_id += 1;
                sent.insert(next_id, Instant::now());
                let op = format!(r#"{{"op":"ping","id":{next_id}}}"#);
                if let Err(e) = ws.send(Message::text(op)).await {
                    break Some(format!("ping failed: {e}"));
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(t))) => {
                    let Ok(f) = serde_json::from_str::<Frame>(&t) else { continue };
                    let mut tl = tally.lock();
                    match f.kind {
                        "pong" => {
                            if let Some(at) = sent.remove(&f.id) {
                                tl.rtts_ms.push(at.elapsed().as_secs_f64() * 1000.0);
                            }
                        }
                        "full_update" => tl.resyncs += 1,
                        kind => {
                            tl.msgs += 1;
                            if kind == "event" {
                                tl.gaps += u64::from(f.seq != events_seq + 1);
                                events_seq = f.seq;
                            }
                            if let Some(at) = f.data.received_ms.or(f.data.ts) {
                                tl.delays.record(now_ms() - at);
                            }
                        }
                    }
                }
                Some(Ok(Message::Close(c))) => {
                    break Some(c.map_or("close".into(), |c| format!("close {} {}", u16::from(c.code), c.reason)));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break Some(format!("read error: {e}")),
                None => break Some("connection ended".into()),
            },
        }
    };
    if ended.is_some() {
        tally.lock().ended = ended;
    }
}

/// Reads a client that stopped reading up to its close frame: `(code, reason)`.
pub async fn drain_to_close(mut ws: Ws, within: Duration) -> Result<(u16, String)> {
    let read = async {
        while let Some(frame) = ws.next().await {
            if let Message::Close(c) = frame? {
                return Ok(c.map_or((1005, String::new()), |c| {
                    (u16::from(c.code), c.reason.to_string())
                }));
            }
        }
        Err(eyre!("connection ended without a close frame"))
    };
    tokio::time::timeout(within, read)
        .await
        .map_err(|_| eyre!("no close frame within {within:?}"))?
}
