//! Protocol-faithful MEXC futures simulator: WebSocket `/edge` and the REST ticker on one port.
//!
//! It speaks the happy path of the live protocol with its quirks (acks without symbols, silence
//! for unknown methods, JSON-ping-only heartbeat, deals as arrays, exponent numbers) so the
//! adapter and the demo can run offline. `SimFaults` is the fault-injection handle; `/control`
//! exposes the same over HTTP (docs/simulator.md).
//!
//! Layout: `market` (pure model) -> `feed` (the one task stepping it, broadcasting rendered
//! `frames`) -> `ws` (one task per connection) and `rest`. `commands` parses client input.
//! `faults` holds every fault switch and action, `control` is its HTTP face, `conn_io` the
//! listener that can turn a drop into a TCP reset.

mod book;
mod candles;
mod clock;
mod commands;
mod conn_io;
mod control;
pub mod faults;
mod feed;
mod frames;
mod interest;
mod interval;
pub mod market;
mod market_frames;
mod rest;
mod rest_market;
mod settings;
mod venue;
mod ws;

pub use control::ControlAccess;
pub use faults::{COMMAND_LOG_MAX, FaultState, SimFaults};

use axum::Router;
use axum::routing::get;
use conn_io::{Peer, SimListener};
use feed::{FeedConfig, PushFrame, Snapshot, Topic};
use interest::Interest;
use market::{Market, MarketParams};
pub use settings::SimConfig;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use venue::Venue;

/// The simulated majors (the contracts of the default `sim.symbols`).
pub const SYMBOLS: &[&str] = &market::SYMBOL_NAMES;

/// Pushes buffered per connection before a slow client starts losing them (counted as lag).
const PUSH_BUFFER: usize = 4096;
/// How long `shutdown` waits for the server to wind down before aborting it.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// State every request and connection shares.
pub(crate) struct ServerState {
    heartbeat: Duration,
    /// Contracts the market lists; subscribing to any other is refused as on MEXC.
    symbols: usize,
    faults: Arc<SimFaults>,
    pushes: broadcast::Sender<PushFrame>,
    snapshot: watch::Receiver<Snapshot>,
    /// Books, klines and recent trades; the feed steps it, REST reads it between steps.
    venue: Arc<Mutex<Venue>>,
    /// On-demand streams some connection wants (the feed renders only those).
    interest: Arc<Interest<Topic>>,
    shutdown: watch::Receiver<bool>,
}

/// A running simulator. Dropping it stops everything too (the shutdown channel closes), just
/// without waiting for the tasks to finish.
pub struct SimHandle {
    pub addr: SocketAddr,
    pub faults: Arc<SimFaults>,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    feed: JoinHandle<()>,
}

impl SimHandle {
    /// `ws://127.0.0.1:PORT/edge`
    pub fn ws_url(&self) -> String {
        format!("ws://{}/edge", self.dial_addr())
    }

    /// `http://127.0.0.1:PORT`
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.dial_addr())
    }

    /// `http://127.0.0.1:PORT/control` (answers 403 when the control API is refused).
    pub fn control_url(&self) -> String {
        format!("http://{}/control", self.dial_addr())
    }

    /// Where a local client connects: a wildcard bind (`0.0.0.0`) is reached via loopback.
    fn dial_addr(&self) -> SocketAddr {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        addr
    }

    /// Stop the market, close every connection and stop listening.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.feed.await;
        let mut server = self.server;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
    }
}

/// Start the simulator on `listener` (bind it from `cfg.listen`, or port 0 in tests). The
/// control API is on when the listener is loopback.
pub async fn start(cfg: &SimConfig, listener: TcpListener) -> std::io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    start_with(cfg, listener, ControlAccess::for_listener(addr, false)).await
}

/// `start` with an explicit decision about the `/control` API.
pub async fn start_with(
    cfg: &SimConfig,
    listener: TcpListener,
    control: ControlAccess,
) -> std::io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    let faults = Arc::new(SimFaults::new());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let now_ms = clock::wall_ms();
    let market = Market::new(
        MarketParams {
            seed: cfg.seed,
            trades_per_s: cfg.trades_per_s,
            pump_chance_per_s: cfg.pump_chance_per_s,
            symbols: cfg.symbols,
        },
        now_ms,
    );
    let symbols = market.symbol_count();
    let (snapshot_tx, snapshot_rx) = watch::channel(Arc::new(market.tickers()));
    let venue = Arc::new(Mutex::new(Venue::new(
        market,
        cfg.seed,
        cfg.trades_per_s,
        now_ms,
    )));
    let interest = Arc::new(Interest::default());
    let (pushes, _) = broadcast::channel(PUSH_BUFFER);
    let feed = tokio::spawn(feed::run(
        venue.clone(),
        interest.clone(),
        FeedConfig {
            // Validation refuses 0, but a zero interval would make tokio panic: clamp anyway.
            ticker_every: Duration::from_millis(cfg.ticker_interval_ms.max(1)),
            seed: cfg.seed,
            first_pump_after: (cfg.first_pump_after_s > 0)
                .then(|| Duration::from_secs(cfg.first_pump_after_s)),
        },
        pushes.clone(),
        snapshot_tx,
        faults.clone(),
        shutdown_rx.clone(),
    ));

    let shared = Arc::new(ServerState {
        heartbeat: Duration::from_millis(cfg.heartbeat_timeout_ms),
        symbols,
        faults: faults.clone(),
        pushes,
        snapshot: snapshot_rx,
        venue,
        interest,
        shutdown: shutdown_rx.clone(),
    });
    let app = Router::new()
        .route("/edge", get(ws::edge))
        .merge(rest::routes(shared.clone(), rest_market::routes()))
        .merge(control::routes(control))
        .with_state(shared)
        .into_make_service_with_connect_info::<Peer>();
    let listener = SimListener::new(listener);
    let mut stop = shutdown_rx;
    let server = tokio::spawn(async move {
        let signal = async move {
            let _ = stop.wait_for(|down| *down).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
        {
            tracing::warn!(error = %e, "sim: server stopped");
        }
    });
    tracing::info!(%addr, "sim: MEXC futures simulator listening");
    Ok(SimHandle {
        addr,
        faults,
        shutdown: shutdown_tx,
        server,
        feed,
    })
}
