//! Session state owned by the hub: lifecycle and, until the engine exists, one `MONITORING`
//! instance per symbol of a running session.

use crate::config::SessionConfig;
use crate::protocol::{Instance, SessionInfo, SessionState};

/// Placeholder strategy state until the engine drives instances.
pub const MONITORING: &str = "MONITORING";

pub struct Session {
    pub cfg: SessionConfig,
    pub state: SessionState,
    /// One per symbol while running, in the configured symbol order; empty when stopped.
    pub instances: Vec<Instance>,
}

impl Session {
    pub fn new(cfg: SessionConfig) -> Self {
        Session {
            cfg,
            state: SessionState::Stopped,
            instances: Vec::new(),
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
            error: None,
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state, SessionState::Starting | SessionState::Running)
    }

    /// Creates the instances of a start; the caller emits `instance_added` for each.
    pub fn create_instances(&mut self, now_ms: i64) -> Vec<Instance> {
        self.instances = self
            .cfg
            .symbols
            .iter()
            .map(|s| Instance {
                symbol: s.clone(),
                state: MONITORING.to_string(),
                since_ms: now_ms,
            })
            .collect();
        self.instances.clone()
    }

    /// Removes the instances of a stop; the caller emits `instance_removed` for each.
    pub fn remove_instances(&mut self) -> Vec<Instance> {
        std::mem::take(&mut self.instances)
    }

    pub fn has_symbol(&self, symbol: &str) -> bool {
        self.cfg.symbols.iter().any(|s| s == symbol)
    }
}
