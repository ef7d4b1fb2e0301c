//! What the client knows about its one link to the backend, as shown on the health bar.

use trademon_protocol::CloseInfo;

/// Health of the client <-> backend link. Shown with a word, a symbol and a colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Connecting,
    Live,
    /// Pongs are late but the link is up: no reconnect.
    Slow,
    Reconnecting,
    /// WebSocket down; data comes from `GET /api/v1/snapshot` while WebSocket retries go on.
    Polling,
    /// Neither the WebSocket nor REST works.
    Disconnected,
}

impl LinkState {
    pub fn word(self) -> &'static str {
        match self {
            LinkState::Connecting => "Connecting…",
            LinkState::Live => "Live",
            LinkState::Slow => "Slow",
            LinkState::Reconnecting => "Reconnecting…",
            LinkState::Polling => "Polling",
            LinkState::Disconnected => "Disconnected",
        }
    }

    /// A single-width symbol so state never depends on colour alone (no emoji widths).
    pub fn symbol(self) -> &'static str {
        match self {
            LinkState::Connecting => "~",
            LinkState::Live => "●",
            LinkState::Slow => "◐",
            LinkState::Reconnecting => "↻",
            LinkState::Polling => "⇅",
            LinkState::Disconnected => "✕",
        }
    }
}

/// Snapshot of the link, published by the connection task on every change. Serde: recordings
/// store it (`record::events`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinkStatus {
    pub state: LinkState,
    pub url: String,
    /// Last measured app ping round trip.
    pub rtt_ms: Option<f64>,
    pub missed_pongs: u32,
    /// Reconnect attempt number (1-based) while reconnecting, 0 otherwise.
    pub attempt: u32,
    /// Time left until the next connect attempt, when one is scheduled.
    pub next_attempt_in_ms: Option<u64>,
    pub last_close: Option<CloseInfo>,
    /// Most recent error text and how many times it repeated in a row.
    pub last_error: Option<(String, u32)>,
    /// Total reconnects of this client.
    pub reconnects: u64,
}

impl LinkStatus {
    pub fn new(url: impl Into<String>) -> Self {
        LinkStatus {
            state: LinkState::Connecting,
            url: url.into(),
            rtt_ms: None,
            missed_pongs: 0,
            attempt: 0,
            next_attempt_in_ms: None,
            last_close: None,
            last_error: None,
            reconnects: 0,
        }
    }
}
