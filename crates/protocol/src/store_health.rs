//! The writer's health, published on a `tokio::sync::watch` channel and carried in
//! `protocol::Health::store` for the health bar and the detail view.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreState {
    /// Writing normally, nothing held back.
    Ok,
    /// Writing, but rows wait in the spool or a table is held (schema problem), or the spool
    /// overflowed.
    Degraded,
    /// The last attempt failed: QuestDB unreachable or refusing us; rows go to the spool.
    Down,
    /// `questdb.enabled = false`.
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreHealth {
    pub state: StoreState,
    /// Rows waiting in the spool (all tables).
    pub rows_spooled: u64,
    /// Age of the oldest spooled row, 0 when the spool is empty.
    pub oldest_spooled_age_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub rows_written_per_s: f64,
    /// Rows given up: market data dropped for a full channel or spool, unreadable spool lines.
    pub dropped: u64,
    /// Rows moved to the quarantine file.
    pub quarantined: u64,
    /// Each names table and column, e.g. `signals.side: column missing`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_problems: Vec<String>,
}

impl StoreHealth {
    pub fn disabled() -> StoreHealth {
        StoreHealth {
            state: StoreState::Disabled,
            rows_spooled: 0,
            oldest_spooled_age_ms: 0,
            last_error: None,
            rows_written_per_s: 0.0,
            dropped: 0,
            quarantined: 0,
            schema_problems: Vec::new(),
        }
    }

    pub fn starting() -> StoreHealth {
        StoreHealth {
            state: StoreState::Degraded,
            ..StoreHealth::disabled()
        }
    }
}
