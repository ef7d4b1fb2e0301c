//! The client's settings (`[client]` in the config file; docs/config.md).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub ping_interval_ms: u64,
    pub pong_timeout_ms: u64,
    pub slow_after_missed: u32,
    pub reconnect_after_missed: u32,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    pub stable_after_ms: u64,
    /// After the backend closed 1001 (going away: a restart), connect retries are drawn
    /// under this for `restart_window_ms`, so a restarted backend is found at once.
    pub restart_retry_max_ms: u64,
    pub restart_window_ms: u64,
    pub connect_timeout_ms: u64,
    pub poll_after_failures: u32,
    pub poll_interval_ms: u64,
    pub disconnected_after_poll_failures: u32,
    pub max_message_bytes: usize,
}
