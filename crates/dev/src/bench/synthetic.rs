//! The real backend (hub, queues, axum connections) on a loopback port, fed by the bench
//! instead of an exchange: what `bench pong` and `bench load` measure.

use color_eyre::eyre::Result;
use std::collections::BTreeSet;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use trademon::backend::{self, BackendHandle, BackendInputs};
use trademon::config::Config;
use trademon::exchange::MarketEvent;
use trademon::protocol::{LogEvent, UpstreamHealth, UpstreamState};

pub struct Synthetic {
    pub backend: BackendHandle,
    /// Market events in, as the exchange adapter would send them.
    pub market: mpsc::Sender<MarketEvent>,
    /// Events for the `events` stream, as the WARN log layer would send them.
    pub logs: mpsc::Sender<LogEvent>,
    // Kept so the hub sees a live upstream and a subscriber for its symbols.
    _upstream: watch::Sender<UpstreamHealth>,
    _symbols: watch::Receiver<BTreeSet<String>>,
}

/// Starts the backend with `cfg` and `cfg.sessions` on 127.0.0.1:0; nothing persisted.
pub async fn start(cfg: &Config) -> Result<Synthetic> {
    let (market, market_rx) = mpsc::channel(65_536);
    let (logs, logs_rx) = mpsc::channel(65_536);
    let (upstream, upstream_rx) = watch::channel(UpstreamHealth {
        state: UpstreamState::Live,
        url: "bench://synthetic".into(),
        ..Default::default()
    });
    let (symbols_tx, symbols) = watch::channel(BTreeSet::new());
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let backend = backend::start(
        cfg.backend_settings(),
        cfg.build_engine()?,
        cfg.sessions.clone(),
        listener,
        BackendInputs {
            market: market_rx,
            upstream: upstream_rx,
            symbols: symbols_tx,
            feeds: tokio::sync::watch::channel(BTreeSet::new()).0,
            log_events: logs_rx,
            sessions_file: None,
            paper_journal: None,
            store: None,
            store_health: None,
            market_source: trademon::protocol::MarketSource::Simulator,
        },
    )
    .await?;
    Ok(Synthetic {
        backend,
        market,
        logs,
        _upstream: upstream,
        _symbols: symbols,
    })
}
