//! `trademon bench e2e`: market-data messages per second through the whole pipeline —
//! simulator -> adapter -> engine -> hub -> one WebSocket -> client — in one process, and in
//! the same run the reference: a raw tokio-tungstenite flood (one server task writing text
//! frames of the delivered size as fast as it can to one client reading them over loopback).
//! The ratio of the two says how much of the machine's WebSocket capacity the pipeline uses.

use super::record::cpu_ticks;
use super::stats::{MsHistogram, Percentiles};
use color_eyre::eyre::{Result, WrapErr, eyre};
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use trademon::client::{ClientCommand, ClientEvent, Subscription};
use trademon::config::SessionConfig;
use trademon::exchange::sim::market::symbol_name;
use trademon::launch::start_embedded;
use trademon::protocol::{ServerMsg, StreamName, now_ms};

/// Longest wait for every symbol's first ticker (subscriptions are paced by the adapter).
const WARMUP_MAX: Duration = Duration::from_secs(30);
/// Frames the raw server queues per flush: like the backend writer, batches, not one syscall
/// per frame.
const RAW_BATCH: usize = 64;

pub struct E2eOptions {
    pub seconds: u64,
    pub symbols: usize,
    pub ticker_interval_ms: u64,
    pub trades_per_s: f64,
    pub strategy: String,
}

pub struct E2eReport {
    pub opts: E2eOptions,
    /// Push frames the simulator rendered per second (what the adapter was offered).
    pub offered_per_s: f64,
    /// Pushes the simulator skipped because the adapter fell behind, per second.
    pub lagged_per_s: f64,
    pub delivered_per_s: f64,
    pub delivery: Option<Percentiles>,
    /// Whole process (simulator, adapter, backend, client), in % of one core.
    pub cpu_pct: f64,
    /// Mean size of a delivered message, the raw flood's frame size.
    pub frame_bytes: usize,
    pub raw_per_s: f64,
    pub raw_cpu_pct: f64,
}

impl std::fmt::Display for E2eReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.opts;
        writeln!(
            f,
            "e2e {} s, {} symbols, sim.ticker_interval_ms={}, sim.trades_per_s={}, strategy {}",
            o.seconds, o.symbols, o.ticker_interval_ms, o.trades_per_s, o.strategy
        )?;
        writeln!(
            f,
            "pipeline: offered {:.0} msg/s (sim lagged {:.0}/s), delivered {:.0} msg/s to the \
             client, delivery {}, CPU {:.0} % of one core",
            self.offered_per_s,
            self.lagged_per_s,
            self.delivered_per_s,
            self.delivery
                .as_ref()
                .map_or("n/a".to_string(), |p| p.to_string()),
            self.cpu_pct
        )?;
        write!(
            f,
            "raw tokio-tungstenite flood, {} B text frames: {:.0} msg/s, CPU {:.0} % of one core  \
             => pipeline/raw {:.3}",
            self.frame_bytes,
            self.raw_per_s,
            self.raw_cpu_pct,
            self.delivered_per_s / self.raw_per_s.max(1e-9)
        )
    }
}

pub async fn run(opts: E2eOptions) -> Result<E2eReport> {
    let symbols: Vec<String> = (0..opts.symbols.max(1))
        .filter_map(symbol_name)
        .map(str::to_string)
        .collect();
    let mut cfg = super::scratch_config("e2e");
    cfg.sim.symbols = symbols.len();
    cfg.sim.ticker_interval_ms = opts.ticker_interval_ms;
    cfg.sim.trades_per_s = opts.trades_per_s;
    // Subscribe everything at once: the default 50 ms pace would take 20 s for 200 symbols.
    cfg.mexc.subscribe_pace_ms = 1;
    cfg.demo_sessions = vec![SessionConfig {
        id: "e2e".into(),
        name: "E2E".into(),
        strategy: opts.strategy.clone(),
        symbols: symbols.clone(),
    }];
    cfg.validate()?;
    let (_log_tx, log_rx) = mpsc::channel(1024);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let stack = start_embedded(&cfg, true, loopback, log_rx).await?;
    let faults = stack
        .sim
        .as_ref()
        .map(|s| s.faults.clone())
        .ok_or_else(|| eyre!("no simulator in the embedded stack"))?;
    let desired: BTreeSet<Subscription> = [Subscription {
        stream: StreamName::MarketData,
        session_id: Some("e2e".to_string()),
    }]
    .into_iter()
    .collect();
    let (client, mut events) = stack.connect(&cfg, desired);

    // Warm up until every symbol has delivered (all subscriptions live), then measure.
    let mut seen = HashSet::new();
    let warm_end = Instant::now() + WARMUP_MAX;
    while seen.len() < symbols.len() {
        let left = warm_end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(ClientEvent::Message {
                msg: ServerMsg::Ticker(t),
                ..
            })) => {
                seen.insert(t.data.symbol.clone());
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err(eyre!("client ended during warm-up")),
            Err(_) => break,
        }
    }
    if seen.len() < symbols.len() {
        tracing::warn!(
            seen = seen.len(),
            "bench e2e: not every symbol delivered before the warm-up ended"
        );
    }

    let length = Duration::from_secs(opts.seconds.max(1));
    let (published0, lagged0) = (faults.pushes_published(), faults.pushes_lagged());
    let cpu0 = cpu_ticks();
    let started = Instant::now();
    let mut delivered = 0u64;
    let mut bytes = 0usize;
    let mut sized = 0usize;
    let mut delays = MsHistogram::new(60_000);
    while let Some(left) = length.checked_sub(started.elapsed()) {
        let Ok(Some(ev)) = tokio::time::timeout(left, events.recv()).await else {
            break;
        };
        if let ClientEvent::Message {
            msg: msg @ ServerMsg::Ticker(_),
            ..
        } = ev
        {
            delivered += 1;
            if let ServerMsg::Ticker(t) = &msg {
                // Same process, same clock: arrival here minus receipt at the backend.
                delays.record(now_ms() - t.data.received_ms);
            }
            // Size a sample of messages for the raw flood (serializing all would load the
            // client side of the measurement).
            if delivered % 64 == 1
                && let Ok(s) = serde_json::to_string(&msg)
            {
                bytes += s.len();
                sized += 1;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_ticks().saturating_sub(cpu0) as f64 / 100.0;
    let offered = faults.pushes_published() - published0;
    let lagged = faults.pushes_lagged() - lagged0;
    client.send(ClientCommand::Shutdown);
    stack.shutdown().await;

    let frame_bytes = bytes.checked_div(sized).unwrap_or(300);
    let (raw_per_s, raw_cpu_pct) = raw_flood(frame_bytes, length).await?;
    Ok(E2eReport {
        opts,
        offered_per_s: offered as f64 / elapsed,
        lagged_per_s: lagged as f64 / elapsed,
        delivered_per_s: delivered as f64 / elapsed,
        delivery: delays.percentiles(),
        cpu_pct: cpu / elapsed * 100.0,
        frame_bytes,
        raw_per_s,
        raw_cpu_pct,
    })
}

/// One server task writes `size`-byte text frames as fast as it can to one client reading
/// them over loopback, for `length`; returns (frames/s read, CPU % of one core).
async fn raw_flood(size: usize, length: Duration) -> Result<(f64, f64)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/", listener.local_addr()?);
    // JSON-like text of the same length as a delivered message.
    let payload = Utf8Bytes::from(format!(
        "{{\"p\":\"{}\"}}",
        "x".repeat(size.saturating_sub(8))
    ));
    let server = tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
            return;
        };
        let (mut sink, _stream) = ws.split();
        loop {
            for _ in 0..RAW_BATCH {
                if sink.feed(Message::Text(payload.clone())).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .wrap_err("raw flood client cannot connect")?;
    let (_sink, mut stream) = ws.split();
    // Let the flood reach its pace before counting.
    let warm = Instant::now() + Duration::from_millis(500);
    while Instant::now() < warm {
        if stream.next().await.is_none() {
            return Err(eyre!("raw flood ended during warm-up"));
        }
    }
    let cpu0 = cpu_ticks();
    let started = Instant::now();
    let mut frames = 0u64;
    while started.elapsed() < length {
        match stream.next().await {
            Some(Ok(Message::Text(_))) => frames += 1,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e).wrap_err("raw flood read failed"),
            None => break,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_ticks().saturating_sub(cpu0) as f64 / 100.0;
    server.abort();
    Ok((frames as f64 / elapsed, cpu / elapsed * 100.0))
}
