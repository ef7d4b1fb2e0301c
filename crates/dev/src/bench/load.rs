//! `trademon bench load` (issue 7): one backend, `--clients` clients reading everything at
//! `--rate` msg/s. Phase 1: those clients alone. Phase 2: the same plus one client that
//! subscribes like them and then never reads again. Per phase it prints what the readers got
//! (msg/s each, delivery latency, app pong RTT, gaps, resyncs, closes), what happened to the
//! slow client, the process RSS and the backend's own queue accounting.
//!
//! The load is 90 % ticker updates over 100 symbols (`market_data`: conflated per symbol, as
//! real market data) and 10 % events (`events`: ordered, every one must reach every client, so
//! a client that stops reading fills its bounded queue and is closed 4008).

use super::load_client::{self, LiveTally, Tally};
use super::soak::rss_mb;
use super::stats::{MsHistogram, Percentiles};
use super::synthetic::{self, Synthetic};
use color_eyre::eyre::Result;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use trademon::backend::QueueStats;
use trademon::config::{Config, SessionConfig};
use trademon::exchange::{MarketEvent, TickerUpdate};
use trademon::protocol::{DataSource, Level, LogEvent, now_ms};

const SYMBOLS: usize = 100;
const SESSION: &str = "load";
/// Every this-many-th message is an ordered event, the rest are tickers.
const EVENT_EVERY: u64 = 10;
/// How long the readers run before phase 1 counts (connections settle, buffers warm).
const WARM_UP: Duration = Duration::from_secs(1);
/// How often phase 2 looks at the queue accounting for the slow client's overflow.
const WATCH_EVERY: Duration = Duration::from_millis(10);

pub struct PhaseReport {
    pub name: &'static str,
    pub seconds: f64,
    /// Messages per second per reader: mean and the slowest reader.
    pub mean_per_client: f64,
    pub min_per_client: f64,
    pub delivery: Option<Percentiles>,
    pub pong_rtt: Option<Percentiles>,
    pub gaps: u64,
    pub resyncs: u64,
    /// Readers whose connection ended (by the end of the phase), with the first reason.
    pub readers_ended: usize,
    pub first_end: Option<String>,
    pub slow: Option<String>,
    pub rss_start_mb: f64,
    pub rss_end_mb: f64,
    pub queues: QueueStats,
}

pub struct LoadReport {
    pub clients: usize,
    pub rate: u64,
    pub phases: Vec<PhaseReport>,
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = |p: &Option<Percentiles>| {
            p.as_ref().map_or("n/a".into(), |p| {
                format!("p50 {:.2} / p99 {:.2} / max {:.2} ms", p.p50, p.p99, p.max)
            })
        };
        writeln!(
            f,
            "load: {} readers, {} msg/s offered (90 % tickers over {SYMBOLS} symbols, 10 % ordered events)",
            self.clients, self.rate
        )?;
        for ph in &self.phases {
            writeln!(f, "{} ({:.1} s):", ph.name, ph.seconds)?;
            writeln!(
                f,
                "  delivered per reader: mean {:.0} msg/s, slowest {:.0} msg/s",
                ph.mean_per_client, ph.min_per_client
            )?;
            writeln!(f, "  delivery latency:     {}", p(&ph.delivery))?;
            writeln!(f, "  app pong RTT:         {}", p(&ph.pong_rtt))?;
            writeln!(
                f,
                "  readers: {} ordered gaps, {} resyncs, {} connections ended{}",
                ph.gaps,
                ph.resyncs,
                ph.readers_ended,
                ph.first_end
                    .as_ref()
                    .map_or(String::new(), |e| format!(" (first: {e})"))
            )?;
            if let Some(s) = &ph.slow {
                writeln!(f, "  slow client: {s}")?;
            }
            let q = &ph.queues;
            writeln!(
                f,
                "  RSS {:.1} -> {:.1} MB (one process: backend and clients); queues now {} B, \
                 peak {} B total, deepest ordered queue {} msgs / {} B, {} overflow closes",
                ph.rss_start_mb,
                ph.rss_end_mb,
                q.queued_bytes,
                q.peak_queued_bytes,
                q.peak_client_fifo_msgs,
                q.peak_client_fifo_bytes,
                q.overflow_closes
            )?;
        }
        Ok(())
    }
}

struct Reader {
    tally: LiveTally,
    stop: mpsc::Sender<()>,
    task: JoinHandle<()>,
}

pub async fn run(clients: usize, rate: u64, seconds: u64) -> Result<LoadReport> {
    let symbols: Vec<String> = (0..SYMBOLS).map(|i| format!("L{i:03}_USDT")).collect();
    let mut cfg = Config::defaults();
    cfg.sessions = vec![SessionConfig {
        id: SESSION.into(),
        name: "Load".into(),
        strategy: "default".into(),
        symbols: symbols.clone(),
    }];
    // The fast clients and the slow one, however many were asked for.
    let wanted = u32::try_from(clients.saturating_add(1)).unwrap_or(u32::MAX);
    cfg.server.max_clients = cfg.server.max_clients.max(wanted);
    let bench = synthetic::start(&cfg).await?;
    let url = bench.backend.ws_url();
    let subs = [("market_data", Some(SESSION)), ("events", None)];

    let mut readers = Vec::with_capacity(clients);
    for _ in 0..clients {
        let (ws, seq) = load_client::connect(&url, &subs).await?;
        let tally = LiveTally::default();
        let (stop, stop_rx) = mpsc::channel(1);
        let task = tokio::spawn(load_client::run_fast(ws, seq, tally.clone(), stop_rx));
        readers.push(Reader { tally, stop, task });
    }
    let feeder = tokio::spawn(feed(
        bench.market.clone(),
        bench.logs.clone(),
        symbols,
        rate,
    ));
    tokio::time::sleep(WARM_UP).await;
    take_all(&readers);

    let phase = Duration::from_secs(seconds.max(1));
    let rss_start_mb = rss_mb();
    let started = Instant::now();
    tokio::time::sleep(phase).await;
    let one = phase_report(
        "phase 1: readers only",
        &readers,
        started,
        rss_start_mb,
        &bench,
    );

    let rss_start_mb = rss_mb();
    let overflows_before = bench.backend.queue_stats().overflow_closes;
    let (slow_ws, _) = load_client::connect(&url, &subs).await?;
    let subscribed = Instant::now();
    take_all(&readers);
    let started = Instant::now();
    let mut slow_ws = Some(slow_ws);
    let mut drain = None;
    while started.elapsed() < phase {
        // The backend decided to close it: read up to the close frame now, within the close
        // grace, or the server drops the socket and the frame is lost.
        if bench.backend.queue_stats().overflow_closes > overflows_before
            && let Some(ws) = slow_ws.take()
        {
            let after = subscribed.elapsed();
            drain = Some((
                after,
                tokio::spawn(load_client::drain_to_close(ws, Duration::from_secs(10))),
            ));
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
    let mut two = phase_report(
        "phase 2: readers + 1 client that never reads",
        &readers,
        started,
        rss_start_mb,
        &bench,
    );
    two.slow = Some(match drain {
        Some((after, task)) => match task.await {
            Ok(Ok((code, reason))) => format!(
                "closed {code} \"{reason}\", {:.2} s after it subscribed",
                after.as_secs_f64()
            ),
            Ok(Err(e)) => format!("queue overflowed after {:.2} s; {e}", after.as_secs_f64()),
            Err(e) => format!("drain task failed: {e}"),
        },
        None => format!(
            "still connected after {:.1} s (no overflow)",
            subscribed.elapsed().as_secs_f64()
        ),
    });

    feeder.abort();
    for r in &readers {
        let _ = r.stop.try_send(());
    }
    for r in readers {
        let _ = r.task.await;
    }
    bench.backend.shutdown().await;
    Ok(LoadReport {
        clients,
        rate,
        phases: vec![one, two],
    })
}

fn take_all(readers: &[Reader]) -> Vec<Tally> {
    readers.iter().map(|r| r.tally.take()).collect()
}

fn phase_report(
    name: &'static str,
    readers: &[Reader],
    started: Instant,
    rss_start_mb: f64,
    bench: &Synthetic,
) -> PhaseReport {
    let tallies = take_all(readers);
    let seconds = started.elapsed().as_secs_f64();
    let rates: Vec<f64> = tallies.iter().map(|t| t.msgs as f64 / seconds).collect();
    let mut delivery = MsHistogram::new(load_client::HISTOGRAM_MS);
    let mut rtts = Vec::new();
    for t in &tallies {
        delivery.merge(&t.delays);
        rtts.extend_from_slice(&t.rtts_ms);
    }
    let ended: Vec<&String> = tallies.iter().filter_map(|t| t.ended.as_ref()).collect();
    PhaseReport {
        name,
        seconds,
        mean_per_client: rates.iter().sum::<f64>() / rates.len().max(1) as f64,
        min_per_client: rates.iter().copied().fold(f64::INFINITY, f64::min),
        delivery: delivery.percentiles(),
        pong_rtt: Percentiles::from_samples(rtts),
        gaps: tallies.iter().map(|t| t.gaps).sum(),
        resyncs: tallies.iter().map(|t| t.resyncs).sum(),
        readers_ended: ended.len(),
        first_end: ended.first().map(|e| e.to_string()),
        slow: None,
        rss_start_mb,
        rss_end_mb: rss_mb(),
        queues: bench.backend.queue_stats(),
    }
}

/// Offers `rate` msg/s, paced by elapsed time so timer overshoot does not lower the rate.
async fn feed(
    market: mpsc::Sender<MarketEvent>,
    logs: mpsc::Sender<LogEvent>,
    symbols: Vec<String>,
    rate: u64,
) {
    let start = Instant::now();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while sent < due {
            sent += 1;
            let ok = if sent.is_multiple_of(EVENT_EVERY) {
                let ev = LogEvent {
                    ts: now_ms(),
                    level: Level::Info,
                    name: "bench.load".into(),
                    message: format!("event {sent}"),
                    count: 1,
                };
                logs.send(ev).await.is_ok()
            } else {
                let ev = MarketEvent::Ticker {
                    update: TickerUpdate {
                        symbol: symbols[(sent as usize) % symbols.len()].clone(),
                        last: 100.0 + (sent % 1000) as f64 / 100.0,
                        ..Default::default()
                    },
                    source: DataSource::Ws,
                };
                market.send(ev).await.is_ok()
            };
            if !ok {
                return;
            }
        }
    }
}
