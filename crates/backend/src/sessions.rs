//! Session records owned by the hub: definition (id, name, strategy, symbols), lifecycle and
//! the reason of a failure. The strategy instances themselves live in the engine.

use crate::SessionConfig;
use trademon_protocol::{SessionInfo, SessionState};

pub struct Session {
    /// Symbols change at run time (`add_symbol` / `remove_symbol`); the order is kept.
    pub cfg: SessionConfig,
    pub state: SessionState,
    /// Why the last start failed (`failed` state).
    pub error: Option<String>,
    /// Backend wall clock when the session last started running.
    pub started_ms: Option<i64>,
    /// Monitor only (`pause_strategy`): kept while stopped, applied whenever it starts.
    pub paused: bool,
}

impl Session {
    pub fn new(cfg: SessionConfig) -> Self {
        Session {
            cfg,
            state: SessionState::Stopped,
            error: None,
            started_ms: None,
            paused: false,
        }
    }

    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            id: self.cfg.id.clone(),
            name: self.cfg.name.clone(),
            mode: "paper".to_string(),
            strategy: self.cfg.strategy.clone(),
            symbols: self.cfg.symbols.clone(),
            state: self.state,
            error: self.error.clone(),
            paused: self.paused,
        }
    }

    /// Whether the engine runs this session (its instances exist).
    pub fn is_running(&self) -> bool {
        matches!(self.state, SessionState::Starting | SessionState::Running)
    }

    pub fn has_symbol(&self, symbol: &str) -> bool {
        self.cfg.symbols.iter().any(|s| s == symbol)
    }
}
