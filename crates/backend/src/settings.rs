//! The backend's settings: `[server]` and `[[sessions]]` in the config file (docs/config.md),
//! and what `start` needs from the other sections, gathered by the binary's config.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use trademon_store::config::StoreSettings;

/// Everything `start` reads besides the engine and the sessions.
#[derive(Debug, Clone)]
pub struct BackendSettings {
    pub server: ServerConfig,
    /// Entries the `events` stream keeps (`tui.event_panel_max`).
    pub events_max: usize,
    /// Size at which the paper journal is compacted (`data.paper_journal_max_bytes`).
    pub paper_journal_max_bytes: u64,
    /// Signals and closed trades each session's paper book keeps (`engine.signal_history`,
    /// `engine.trade_history`).
    pub signal_history: usize,
    pub trade_history: usize,
    /// Where history requests are answered from; `None`: QuestDB is off.
    pub history: Option<StoreSettings>,
    /// The symbol view's streams (`[views]`).
    pub views: ViewsConfig,
}

/// `[views]`: what the backend keeps and how often it publishes for the per-symbol streams
/// (`candles`, `book`, `tape`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewsConfig {
    /// Candles kept per (symbol, interval); the oldest go first.
    pub candles_max: usize,
    /// Newest trades kept per symbol for the tape.
    pub tape_max: usize,
    /// A symbol's `book` is published at most once per this interval (the newest top wins).
    pub book_interval_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub token: String,
    pub ping_interval_ms: u64,
    pub idle_timeout_ms: u64,
    pub max_frame_bytes: usize,
    pub client_queue_max_msgs: usize,
    pub client_queue_max_bytes: usize,
    pub write_timeout_ms: u64,
    pub max_protocol_errors: u32,
    /// Hub-bound client ops per second (burst of the same size); beyond closes 4502.
    pub max_ops_per_s: u32,
    pub max_in_flight_bytes: u64,
    pub close_grace_ms: u64,
    /// Client WebSockets open at once; one more is closed 1013 (try again later).
    pub max_clients: u32,
    /// App pings one client may send per second (burst of the same size); beyond closes 4502.
    pub max_pings_per_s: u32,
    /// One `health` per this interval, carrying the latest state.
    pub health_interval_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    pub id: String,
    pub name: String,
    #[serde(default = "default_strategy")]
    pub strategy: String,
    pub symbols: Vec<String>,
}

fn default_strategy() -> String {
    trademon_engine::DEFAULT_STRATEGY.to_string()
}

/// A non-loopback bind without a token: refused, since it would expose the backend.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "refusing to listen on {0} without server.token: a non-loopback bind exposes the backend; \
     set server.token (or TRADEMON_SERVER__TOKEN) or listen on 127.0.0.1"
)]
pub struct BindRefused(pub SocketAddr);

pub fn check_bind_allowed(addr: SocketAddr, token: &str) -> Result<(), BindRefused> {
    if !addr.ip().is_loopback() && token.is_empty() {
        return Err(BindRefused(addr));
    }
    Ok(())
}
