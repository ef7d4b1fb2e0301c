//! MEXC futures market-data adapter (basic): one WebSocket, `sub.ticker` + `sub.deal` per
//! watched symbol, unconditional JSON ping, reconnect with full-jitter backoff, resubscribe,
//! trade de-duplication across reconnects. Output: [`MarketEvent`]s plus an
//! [`UpstreamHealth`] watch.
//!
//! Layout: `wire` (pure parsing/commands), `subscriptions` (pure per-(channel, symbol)
//! state), `dedupe` (pure), `health` (health bookkeeping), `connection` (socket, writer with
//! the ping timer, close classification), `adapter` (the task tying them together) with
//! `adapter::inbound` (frame -> bookkeeping -> events).
//! Hardening (ack timeouts, stale streams, pong watchdog, gzip, REST fallback, sharding)
//! plugs into these seams; see issue 3.

mod adapter;
pub mod connection;
pub mod dedupe;
pub mod health;
pub mod subscriptions;
pub mod wire;

use std::collections::BTreeSet;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::MexcConfig;
use crate::exchange::MarketEvent;
use crate::protocol::UpstreamHealth;

pub struct MexcHandle {
    /// Updated on every change and at least every second while connected.
    pub health: watch::Receiver<UpstreamHealth>,
    /// Ends (cleanly) once the receiver of `out` is dropped.
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
    let (adapter, health) = adapter::Adapter::new(cfg, symbols, out);
    MexcHandle {
        health,
        task: tokio::spawn(adapter.run()),
    }
}
