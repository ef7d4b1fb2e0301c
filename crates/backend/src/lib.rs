//! The backend service: hub (streams, snapshots, seq, per-client queues) and the axum server
//! (`GET /ws` + REST on one port). See docs/architecture.md.
//!
//! - `hub`: the one task owning backend state; fans messages out to client queues.
//! - `queue`: per-client outbound queue (conflating map + bounded FIFO); `queue_meter`: what
//!   all of them hold, backend-wide.
//! - `connection`: reader/writer per WebSocket, control frames first, heartbeat, closes.
//! - `flow`: send window confirmed by protocol Pings (bounds backlog ahead of a pong).
//! - `routes`: axum routes, REST handlers; `auth`: token check; `hooks`: test switches.
//! - `market`, `events`, `sessions`: state kept by the hub; the hub also owns the engine.
//! - `views`: the symbol view's candles, books and tapes (per-symbol streams), and who views
//!   them (the feeds the adapter keeps open).
//! - `convert`: engine views -> wire types; `persist`: the sessions file in the data dir;
//!   `journal`: the paper journal (each session's paper book, restored on start).
//! - `history`: QuestDB history for REST and the WebSocket, and the signals back-fill.
//! - `supervise`: long-lived tasks under watch; the first to end is reported with its cause.

mod auth;
mod connection;
mod convert;
mod events;
mod fanout;
mod flow;
mod history;
mod hooks;
mod hub;
mod journal;
mod market;
mod persist;
mod queue;
mod queue_meter;
mod routes;
mod sessions;
mod settings;
pub mod supervise;
mod views;

pub use hooks::TestHooks;
pub use queue_meter::QueueStats;
pub use settings::{
    BackendSettings, BindRefused, ServerConfig, SessionConfig, ViewsConfig, check_bind_allowed,
};

use axum::serve::ListenerExt;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use trademon_core::market::{FeedWant, MarketEvent};
use trademon_engine::Engine;
use trademon_protocol::{LogEvent, UpstreamHealth, now_ms};

/// How long `shutdown` waits for each stage (hub, server); connections get their close grace
/// on top of it.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);

pub struct BackendInputs {
    pub market: mpsc::Receiver<MarketEvent>,
    pub upstream: watch::Receiver<UpstreamHealth>,
    /// The backend publishes the union of running sessions' symbols here (the adapter subscribes them).
    pub symbols: watch::Sender<BTreeSet<String>>,
    /// The backend publishes the per-symbol feeds (klines, depth) that clients view here (the
    /// adapter opens them while wanted).
    pub feeds: watch::Sender<BTreeSet<FeedWant>>,
    /// WARN/ERROR log events (from a tracing layer) to show in the `events` stream.
    pub log_events: mpsc::Receiver<LogEvent>,
    /// Where sessions persist across restarts (`<data dir>/sessions.json`); `None`: they don't.
    pub sessions_file: Option<std::path::PathBuf>,
    /// The paper journal (`<data dir>/paper-journal.jsonl`, see `journal`); `None`: paper
    /// books start empty and are not kept.
    pub paper_journal: Option<std::path::PathBuf>,
    /// The QuestDB store (docs/questdb.md); `None`: nothing is written.
    pub store: Option<trademon_store::StoreHandle>,
    /// The store's health, carried in `Health.store`; `None`: absent from health.
    pub store_health: Option<watch::Receiver<trademon_store::StoreHealth>>,
    /// Whether `market` comes from MEXC or the simulator; clients show which.
    pub market_source: trademon_protocol::MarketSource,
}

pub struct BackendHandle {
    pub addr: SocketAddr,
    pub hooks: Arc<TestHooks>,
    meter: Arc<queue_meter::QueueMeter>,
    hub: hub::HubHandle,
    hub_task: supervise::Watched,
    server_stop: oneshot::Sender<()>,
    server_task: supervise::Watched,
    /// Ends (recv -> None) once the server and every connection task are gone.
    alive: mpsc::Receiver<()>,
    /// Watches the hub and the server; a launcher adds its own tasks (adapter, loaders) and
    /// stops when `first_end` reports one.
    pub tasks: supervise::TaskWatch,
}

impl BackendHandle {
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// What the per-client queues hold now and at most so far (the backend's own accounting).
    pub fn queue_stats(&self) -> QueueStats {
        self.meter.stats()
    }

    /// Closes every client 1001 "server shutting down", stops the hub and the server.
    pub async fn shutdown(self) {
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, self.hub.ask(hub::HubCmd::Shutdown)).await;
        let _ = self.server_stop.send(());
        let mut server = self.server_task;
        if tokio::time::timeout(SHUTDOWN_WAIT, server.ended())
            .await
            .is_err()
        {
            server.abort();
        }
        // Connections finish their close handshake (bounded by their grace) and log it.
        let mut alive = self.alive;
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, alive.recv()).await;
        let mut hub_task = self.hub_task;
        if tokio::time::timeout(SHUTDOWN_WAIT, hub_task.ended())
            .await
            .is_err()
        {
            hub_task.abort();
        }
        tracing::info!(event = "backend.stopped", "backend stopped");
    }
}

/// Why the backend did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot read the listener address")]
    ListenerAddr(#[source] std::io::Error),
    #[error(transparent)]
    BindRefused(#[from] BindRefused),
}

/// Starts the hub and serves `listener`. Refuses a non-loopback address without a token.
pub async fn start(
    settings: BackendSettings,
    engine: Engine,
    sessions: Vec<SessionConfig>,
    listener: tokio::net::TcpListener,
    inputs: BackendInputs,
) -> Result<BackendHandle, StartError> {
    let addr = listener.local_addr().map_err(StartError::ListenerAddr)?;
    check_bind_allowed(addr, &settings.server.token)?;
    let s = &settings.server;

    let started_ms = now_ms();
    // Changes on every start, so a client never mixes seqs of two backend runs.
    let epoch = format!("{started_ms:x}-{:04x}", fastrand::u16(..));
    let queue = queue::QueueLimits {
        max_msgs: s.client_queue_max_msgs,
        max_bytes: s.client_queue_max_bytes,
    };
    let history = history::queries(settings.history.as_ref());
    let (hub, hub_task) = hub::spawn(
        hub::HubSettings {
            epoch: epoch.clone(),
            started_ms,
            events_max: settings.events_max,
            health_interval: Duration::from_millis(s.health_interval_ms),
            engine_tick: Duration::from_secs(1),
            flush_interval: Duration::from_millis(250),
            sessions_file: inputs.sessions_file,
            paper_journal: inputs.paper_journal.map(|path| journal::JournalSettings {
                path,
                max_bytes: settings.paper_journal_max_bytes,
                signal_cap: settings.signal_history,
                trade_cap: settings.trade_history,
            }),
            market: inputs.market_source,
            views: settings.views.clone(),
        },
        engine,
        sessions,
        hub::HubInputs {
            market: inputs.market,
            upstream: inputs.upstream,
            symbols: inputs.symbols,
            feeds: inputs.feeds,
            log_events: inputs.log_events,
            store: inputs.store,
            store_health: inputs.store_health,
            history: history.clone(),
        },
    );

    let hooks = Arc::new(TestHooks::default());
    let meter = Arc::new(queue_meter::QueueMeter::default());
    let (alive_tx, alive) = mpsc::channel::<()>(1);
    let state = routes::AppState {
        history,
        alive: alive_tx,
        hub: hub.clone(),
        hooks: hooks.clone(),
        meter: meter.clone(),
        token: Arc::from(s.token.as_str()),
        epoch: Arc::from(epoch.as_str()),
        params: connection::ConnParams {
            ping_interval: Duration::from_millis(s.ping_interval_ms),
            idle_timeout: Duration::from_millis(s.idle_timeout_ms),
            write_timeout: Duration::from_millis(s.write_timeout_ms),
            max_protocol_errors: s.max_protocol_errors,
            max_ops_per_s: s.max_ops_per_s,
            max_pings_per_s: s.max_pings_per_s,
            max_clients: s.max_clients,
            queue,
            max_in_flight_bytes: s.max_in_flight_bytes,
            close_grace: Duration::from_millis(s.close_grace_ms),
        },
        max_frame_bytes: s.max_frame_bytes,
        next_conn: Arc::new(AtomicU64::new(0)),
        clients: Default::default(),
    };
    let app = routes::router(state);
    // Nagle + delayed ACK adds up to ~40 ms to small frames.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(event = "server.nodelay_failed", error = %e, "cannot set TCP_NODELAY");
        }
    });
    let (server_stop, stop_rx) = oneshot::channel::<()>();
    let server_task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await;
        if let Err(e) = &served {
            tracing::error!(event = "server.failed", error = %e, "backend server ended");
        }
        served
    });
    let tasks = supervise::TaskWatch::new();
    let hub_task = tasks.watch("hub", hub_task);
    let server_task = tasks.watch("server", server_task);
    tracing::info!(event = "backend.started", %addr, epoch = %epoch, "backend listening");
    Ok(BackendHandle {
        addr,
        hooks,
        meter,
        hub,
        hub_task,
        server_stop,
        server_task,
        alive,
        tasks,
    })
}
