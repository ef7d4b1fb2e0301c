//! MEXC futures market-data adapter: `sub.ticker` + `sub.deal` per watched symbol over one or
//! more WebSockets, hardened against the real exchange (issue 3). Output:
//! [`MarketEvent`]s plus an [`UpstreamHealth`] watch.
//!
//! Layout, one job per file:
//! - `wire` (pure parsing/commands, gzip inflation), `subscriptions` (per-(channel, symbol)
//!   state, FIFO ack matching), `escalation` (resubscribe -> reconnect -> REST ladder),
//!   `watchdog` (pong age, silence), `dedupe` (trade ids, shared by all connections),
//!   `shards` (symbols -> connections), `rotation` (make-before-break decisions),
//!   `health` (reports and their merge), `cause` (errors in a few words) — all pure and
//!   unit-tested;
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
use trademon_protocol::UpstreamHealth;

pub struct MexcHandle {
    /// Updated on every change and at least every second while connected.
    pub health: watch::Receiver<UpstreamHealth>,
    /// Ends (cleanly) once the receiver of `out` is dropped. Aborting it stops the
    /// connections too (their stop signals are dropped with it).
    pub task: JoinHandle<()>,
}

/// Start the adapter. It follows `symbols` (subscribing new and unsubscribing removed
/// symbols while connected) and sends events to `out` until that channel is closed.
/// Must be called inside a tokio runtime.
pub fn spawn(
    cfg: MexcConfig,
    symbols: watch::Receiver<BTreeSet<String>>,
    out: mpsc::Sender<MarketEvent>,
) -> MexcHandle {
    let shared = shard::ShardContext {
        cfg: Arc::new(cfg),
        out,
        dedupe: Arc::new(std::sync::Mutex::new(dedupe::TradeDedupe::new())),
        malformed: Arc::new(AtomicU64::new(0)),
        notify: Arc::new(Notify::new()),
    };
    let (supervisor, health) = supervisor::Supervisor::new(shared, symbols);
    MexcHandle {
        health,
        task: tokio::spawn(supervisor.run()),
    }
}
