//! MEXC futures market-data adapter: `sub.ticker` + `sub.deal` per watched symbol over one or
//! more WebSockets, hardened against the real exchange (issue 3), and the symbol view's feeds
//! (`sub.kline`, `sub.depth`, `sub.funding.rate` per viewed symbol, with REST history, depth
//! snapshots and funding rate). Output: [`MarketEvent`]s plus an [`UpstreamHealth`] watch.
//!
//! Layout, one job per file:
//! - `wire` (pure parsing/commands, gzip inflation), `subscriptions` (per-(channel, symbol)
//!   state, FIFO ack matching), `escalation` (resubscribe -> reconnect -> REST ladder),
//!   `watchdog` (pong age, silence), `dedupe` (trade ids, shared by all connections),
//!   `shards` (symbols -> connections), `rotation` (make-before-break decisions),
//!   `health` (reports and their merge), `cause` (errors in a few words), `feeds` (the
//!   feeds' decisions: kline gap fill, depth book sync), `feeds_rest` (their REST answers) —
//!   all pure and unit-tested;
//! - `connection` (socket, writer with the ping timer, close classification), `shard` (one
//!   connection slot's reconnect loop and watchdogs, with `shard::inbound`),
//!   `rest_fallback` (the REST poller), `supervisor` (the task tying them together);
//! - `contracts` (contract specifications: parsing, cache, loader task; started on its own
//!   with [`contracts::spawn`], next to the adapter).

pub mod cause;
pub mod connection;
pub mod contracts;
pub mod dedupe;
pub mod escalation;
pub mod feeds;
pub mod feeds_rest;
pub mod health;
pub mod rest_fallback;
pub mod rotation;
mod settings;
mod shard;
pub mod shards;
pub mod subscriptions;
mod supervisor;
pub mod watchdog;
pub mod wire;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

pub use settings::MexcConfig;
use trademon_core::market::MarketEvent;
/// What `spawn`'s `wants` are made of.
pub use trademon_core::market::{Feed, FeedWant};
use trademon_protocol::UpstreamHealth;

pub struct MexcHandle {
    /// Updated on every change and at least every second while connected.
    pub health: watch::Receiver<UpstreamHealth>,
    /// Ends (cleanly) once the receiver of `out` is dropped. Aborting it stops the
    /// connections too (their stop signals are dropped with it).
    pub task: JoinHandle<()>,
}

/// Start the adapter. It follows `symbols` (ticker and deal of each, subscribing new and
/// unsubscribing removed symbols while connected) and `wants` (the kline, depth and funding
/// rate feeds of viewed symbols, opened and closed the same way), and sends events to `out`
/// until that channel is closed. Must be called inside a tokio runtime.
pub fn spawn(
    cfg: MexcConfig,
    symbols: watch::Receiver<BTreeSet<String>>,
    wants: watch::Receiver<BTreeSet<FeedWant>>,
    out: mpsc::Sender<MarketEvent>,
) -> MexcHandle {
    let http = reqwest::Client::builder()
        .dns_resolver(cause::TypedResolver)
        .timeout(std::time::Duration::from_millis(cfg.rest_timeout_ms))
        .build()
        .inspect_err(|e| {
            tracing::error!(event = "mexc.rest_failed", error = %e, "cannot build HTTP client for the feeds");
        })
        .ok();
    let shared = shard::ShardContext {
        cfg: Arc::new(cfg),
        out,
        dedupe: Arc::new(std::sync::Mutex::new(dedupe::TradeDedupe::new())),
        malformed: Arc::new(AtomicU64::new(0)),
        notify: Arc::new(Notify::new()),
        http,
    };
    let (supervisor, health) = supervisor::Supervisor::new(shared, symbols, wants);
    MexcHandle {
        health,
        task: tokio::spawn(supervisor.run()),
    }
}
