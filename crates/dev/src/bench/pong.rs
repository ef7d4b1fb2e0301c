//! App pong RTT while the backend pushes market data to one client, next to the RTT on an
//! idle link. The backend is the real one (hub, queues, axum connection), fed synthetic
//! `MarketEvent`s at a fixed rate; the client is a raw WebSocket that reads as fast as it can.

use super::stats::Percentiles;
use color_eyre::eyre::{Result, WrapErr, eyre};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use trademon::config::{Config, SessionConfig};
use trademon::exchange::{MarketEvent, TickerUpdate};
use trademon::protocol::DataSource;

pub struct PongReport {
    pub idle: Percentiles,
    pub loaded: Percentiles,
    pub target_rate: u64,
    pub delivered_per_s: f64,
}

impl std::fmt::Display for PongReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pong RTT idle: {}  |  pong RTT at {} msg/s offered ({:.0} msg/s delivered): {}",
            self.idle, self.target_rate, self.delivered_per_s, self.loaded
        )
    }
}

pub async fn run(rate: u64, seconds: u64, symbols: usize) -> Result<PongReport> {
    let names: Vec<String> = (0..symbols.max(1))
        .map(|i| format!("S{i:03}_USDT"))
        .collect();
    let mut cfg = Config::defaults();
    cfg.sessions = vec![SessionConfig {
        id: "bench".into(),
        name: "Bench".into(),
        strategy: "default".into(),
        symbols: names.clone(),
    }];
    let synthetic = super::synthetic::start(&cfg).await?;
    let (backend, market_tx) = (&synthetic.backend, synthetic.market.clone());

    let (ws, _) = tokio_tungstenite::connect_async_with_config(backend.ws_url(), None, true)
        .await
        .wrap_err("bench client cannot connect")?;
    let (mut sink, mut stream) = ws.split();
    sink.send(Message::text(
        r#"{"op":"subscribe","id":1,"stream":"market_data","session_id":"bench"}"#,
    ))
    .await?;

    // Reader: counts data frames and resolves pongs against their send time.
    let received = Arc::new(AtomicU64::new(0));
    let (pong_tx, mut pong_rx) = mpsc::unbounded_channel::<(u64, Instant)>();
    let counter = received.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            if let Message::Text(t) = msg {
                if t.contains("\"type\":\"pong\"") {
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&t)
                        && let Some(id) = v["id"].as_u64()
                    {
                        let _ = pong_tx.send((id, Instant::now()));
                    }
                } else {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });

    let phase = Duration::from_secs(seconds.max(1));
    let idle = measure_pings(&mut sink, &mut pong_rx, phase, 0).await?;

    let feeder = tokio::spawn(feed(market_tx, names, rate));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = received.load(Ordering::Relaxed);
    let started = Instant::now();
    let loaded = measure_pings(&mut sink, &mut pong_rx, phase, 1_000_000).await?;
    let delivered = received.load(Ordering::Relaxed) - before;
    let delivered_per_s = delivered as f64 / started.elapsed().as_secs_f64();
    feeder.abort();
    reader.abort();
    synthetic.backend.shutdown().await;
    Ok(PongReport {
        idle,
        loaded,
        target_rate: rate,
        delivered_per_s,
    })
}

/// Ping every 10 ms for `phase`, return the RTT distribution in ms.
async fn measure_pings<S>(
    sink: &mut S,
    pongs: &mut mpsc::UnboundedReceiver<(u64, Instant)>,
    phase: Duration,
    first_id: u64,
) -> Result<Percentiles>
where
    S: SinkExt<Message> + Unpin,
    S::Error: std::fmt::Display,
{
    let mut sent: HashMap<u64, Instant> = HashMap::new();
    let mut rtts = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let end = Instant::now() + phase;
    let mut id = first_id;
    while Instant::now() < end {
        tokio::select! {
            _ = tick.tick() => {
                id += 1;
                sent.insert(id, Instant::now());
                sink.send(Message::text(format!(r#"{{"op":"ping","id":{id}}}"#)))
                    .await
                    .map_err(|e| eyre!("ping send failed: {e}"))?;
            }
            Some((pid, at)) = pongs.recv() => {
                if let Some(t0) = sent.remove(&pid) {
                    rtts.push(at.duration_since(t0).as_secs_f64() * 1000.0);
                }
            }
        }
    }
    Percentiles::from_samples(rtts).ok_or_else(|| eyre!("no pong came back"))
}

/// Offer `rate` ticker events per second, spread over the symbols.
async fn feed(tx: mpsc::Sender<MarketEvent>, symbols: Vec<String>, rate: u64) {
    let per_ms = (rate / 1000).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        for _ in 0..per_ms {
            n += 1;
            let symbol = symbols[(n as usize) % symbols.len()].clone();
            let ev = MarketEvent::Ticker {
                update: TickerUpdate {
                    symbol,
                    last: 100.0 + (n % 1000) as f64 / 100.0,
                    ..Default::default()
                },
                source: DataSource::Ws,
            };
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    }
}
