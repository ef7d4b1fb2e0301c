//! `trademon bench soak`: simulator -> adapter -> backend -> one WebSocket -> client, at a
//! fixed message rate for N minutes, in one process. Prints one summary line and fails (exit 1)
//! on any reconnect, client or upstream, so CI can run a short soak as a gate.

use super::stats::{MsHistogram, Percentiles};
use color_eyre::eyre::Result;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use trademon::client::{ClientCommand, ClientEvent, Subscription};
use trademon::config::SessionConfig;
use trademon::exchange::sim;
use trademon::exchange::sim::market::symbol_name;
use trademon::launch::start_embedded;
use trademon::protocol::{ServerMsg, StreamName, now_ms};

pub struct SoakReport {
    pub minutes: f64,
    pub symbols: usize,
    pub delivered: u64,
    pub client_reconnects: u64,
    pub upstream_reconnects: u64,
    pub rss_start_mb: f64,
    pub rss_end_mb: f64,
    pub delivery: Option<Percentiles>,
    pub pong_rtt: Option<Percentiles>,
}

impl SoakReport {
    pub fn passed(&self) -> bool {
        self.client_reconnects == 0 && self.upstream_reconnects == 0 && self.delivered > 0
    }
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p99 = |p: &Option<Percentiles>| {
            p.as_ref()
                .map_or("n/a".into(), |p| format!("{:.2} ms", p.p99))
        };
        write!(
            f,
            "soak {:.1} min, {} symbols: delivered {} msgs ({:.0} msg/s), reconnects client {} upstream {}, \
             RSS {:.1} MB -> {:.1} MB, p99 delivery {}, p99 pong RTT {} => {}",
            self.minutes,
            self.symbols,
            self.delivered,
            self.delivered as f64 / (self.minutes * 60.0).max(1e-9),
            self.client_reconnects,
            self.upstream_reconnects,
            self.rss_start_mb,
            self.rss_end_mb,
            p99(&self.delivery),
            p99(&self.pong_rtt),
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}

pub async fn run(minutes: f64, rate: u64, symbol_count: usize) -> Result<SoakReport> {
    let mut cfg = super::scratch_config("soak");
    let symbols: Vec<String> = (0..symbol_count.max(1))
        .filter_map(symbol_name)
        .map(str::to_string)
        .collect();
    cfg.sim.symbols = symbols.len();
    if symbols.len() > sim::SYMBOLS.len() {
        // Subscribe the extra contracts at once rather than at the default 50 ms pace.
        cfg.mexc.subscribe_pace_ms = 1;
    }
    // Ticker pushes dominate the feed: one per symbol per model tick. Timer ticks overshoot
    // (1 ms granularity, ~1.7 ms for a 1 ms interval), so aim ~60 % under the nominal
    // interval; the summary reports the rate actually delivered.
    let nominal = symbols.len() as f64 * 1000.0 / rate.max(1) as f64;
    cfg.sim.ticker_interval_ms = ((nominal * 0.6) as u64).max(1);
    cfg.sim.trades_per_s = 10.0;
    // More pong samples than the 5 s default gives, same pong timeout rules.
    cfg.client.ping_interval_ms = 500;
    cfg.demo_sessions = vec![SessionConfig {
        id: "soak".into(),
        name: "Soak".into(),
        strategy: "default".into(),
        symbols,
    }];
    let rss_start_mb = rss_mb();
    let (_log_tx, log_rx) = mpsc::channel(1024);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let stack = start_embedded(&cfg, true, loopback, log_rx).await?;
    let desired: BTreeSet<Subscription> = [
        (StreamName::MarketData, Some("soak".to_string())),
        (StreamName::Health, None),
    ]
    .into_iter()
    .map(|(stream, session_id)| Subscription { stream, session_id })
    .collect();
    let (client, mut events) = stack.connect(&cfg, desired);

    let duration = Duration::from_secs_f64(minutes * 60.0);
    let started = Instant::now();
    let mut delivered = 0u64;
    let mut delays = MsHistogram::new(60_000);
    let mut rtts = Vec::new();
    let mut last_rtt = None;
    let mut client_reconnects = 0;
    let mut upstream_reconnects = 0;
    let mut first_upstream = None;
    while let Some(left) = duration.checked_sub(started.elapsed()) {
        let Ok(Some(ev)) = tokio::time::timeout(left, events.recv()).await else {
            break;
        };
        match ev {
            ClientEvent::Message {
                msg: ServerMsg::Ticker(t),
                ..
            } => {
                delivered += 1;
                // Same machine, same clock: arrival here minus receipt at the backend.
                delays.record(now_ms() - t.data.received_ms);
            }
            ClientEvent::Message {
                msg: ServerMsg::Health(h),
                ..
            } => {
                let r = h.data.upstream.reconnects;
                let base = *first_upstream.get_or_insert(r);
                upstream_reconnects = r - base;
            }
            ClientEvent::Link(l) => {
                client_reconnects = l.reconnects;
                if l.rtt_ms.is_some() && l.rtt_ms != last_rtt {
                    rtts.extend(l.rtt_ms);
                    last_rtt = l.rtt_ms;
                }
            }
            _ => {}
        }
    }
    let rss_end_mb = rss_mb();
    client.send(ClientCommand::Shutdown);
    stack.shutdown().await;
    Ok(SoakReport {
        minutes: started.elapsed().as_secs_f64() / 60.0,
        symbols: symbol_count,
        delivered,
        client_reconnects,
        upstream_reconnects,
        rss_start_mb,
        rss_end_mb,
        delivery: delays.percentiles(),
        pong_rtt: Percentiles::from_samples(rtts),
    })
}

/// Resident set size of this process in MB (Linux `/proc`); 0 where unavailable.
pub fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
