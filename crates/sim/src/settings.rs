//! The simulator's settings (`[sim]` in the config file; docs/config.md).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    pub listen: String,
    pub heartbeat_timeout_ms: u64,
    pub ticker_interval_ms: u64,
    pub trades_per_s: f64,
    pub pump_chance_per_s: f64,
    /// Start an upward pump on the first simulated symbol this many seconds after start, so a
    /// demo shows a signal within a minute; 0 = only random pumps.
    #[serde(default)]
    pub first_pump_after_s: u64,
    pub seed: u64,
    /// Contracts the simulator lists: the twelve majors, then synthetic `SIMnnn_USDT` ones
    /// (benchmarks offer more streams this way; the demo keeps 12).
    pub symbols: usize,
}
