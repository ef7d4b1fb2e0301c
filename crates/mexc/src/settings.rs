//! The adapter's settings (`[mexc]` in the config file; docs/config.md).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MexcConfig {
    pub ws_url: String,
    pub rest_url: String,
    pub ping_interval_ms: u64,
    pub connect_timeout_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    pub stable_after_ms: u64,
    pub subscribe_pace_ms: u64,
    pub silence_reconnect_ms: u64,
    pub ack_timeout_ms: u64,
    pub pong_warn_ms: u64,
    pub pong_reconnect_ms: u64,
    pub ticker_stale_ms: u64,
    pub stale_resubscribe_max: u32,
    pub retry_later_ms: u64,
    pub max_subscriptions_per_connection: usize,
    pub rotate_after_s: u64,
    pub rest_fallback_after_ms: u64,
    pub rest_poll_interval_ms: u64,
    pub rest_timeout_ms: u64,
    pub waf_cooldown_ms: u64,
    /// Contract specifications are loaded again this often.
    pub contracts_refresh_s: u64,
    /// A failed contract load is tried again after this long.
    pub contracts_retry_s: u64,
    /// Least gap between two contract detail requests (MEXC allows one per 5 s).
    pub contracts_min_gap_ms: u64,
    /// Levels per side in each `Book` event of a viewed symbol.
    pub book_levels: usize,
    /// Candles of history fetched when a kline feed first opens.
    pub kline_history: u32,
    /// Least gap between two REST requests of one feed (depth resyncs, retries).
    pub feed_rest_gap_ms: u64,
    /// Depth frames kept while a book waits for its REST snapshot.
    pub depth_buffer_frames: usize,
}
