//! Session commands on the hub: start, stop, add and remove a symbol. Each maps to an engine
//! input; an engine refusal (`CommandRejected`) becomes a `failed` session (start) or an error
//! reply (the rest). Every change is published on `sessions`, steers the adapter's symbol set
//! and is persisted.

use super::{CmdError, Hub};
use crate::persist::{self, PersistedSession};
use std::collections::BTreeSet;
use trademon_engine::EngineInput;
use trademon_protocol::is_valid_symbol;
use trademon_protocol::{Level, ServerMsg, SessionInfo, SessionState, StreamName, now_ms};

impl Hub {
    pub(super) fn find(&self, id: &str) -> Option<usize> {
        self.sessions.iter().position(|s| s.cfg.id == id)
    }

    pub(super) fn find_or_err(&self, id: &str) -> Result<usize, CmdError> {
        self.find(id)
            .ok_or_else(|| CmdError::NotFound(self.not_found()))
    }

    pub(super) fn start_session(&mut self, id: &str) -> Result<SessionInfo, CmdError> {
        let idx = self.find_or_err(id)?;
        let r = self.start_idx(idx);
        self.persist();
        r
    }

    /// Starts without persisting (startup restores what the file already says).
    pub(super) fn start_idx(&mut self, idx: usize) -> Result<SessionInfo, CmdError> {
        if self.sessions[idx].is_running() {
            return Ok(self.sessions[idx].info());
        }
        let id = self.sessions[idx].cfg.id.clone();
        self.sessions[idx].error = None;
        self.set_state(idx, SessionState::Starting);
        let now = now_ms();
        let input = EngineInput::StartSession {
            id: id.clone(),
            strategy: self.sessions[idx].cfg.strategy.clone(),
            symbols: self.sessions[idx].cfg.symbols.clone(),
        };
        let rejected = self.apply_engine(input, now);
        if let Some(reason) = rejected.into_iter().next() {
            self.sessions[idx].error = Some(reason.clone());
            self.set_state(idx, SessionState::Failed);
            self.note(
                Level::Warn,
                "session.failed",
                format!("session {id} failed to start: {reason}"),
            );
            return Err(CmdError::Rejected(reason));
        }
        self.sessions[idx].started_ms = Some(now);
        self.restore_book(&id, now);
        if self.sessions[idx].paused {
            // Paused before it stopped (or before the restart): it starts monitor only.
            self.apply_engine(EngineInput::PauseSession { id: id.clone() }, now);
        }
        self.set_state(idx, SessionState::Running);
        self.publish_symbols();
        self.publish_totals(&id);
        self.note(
            Level::Info,
            "session.started",
            format!("session {id} started"),
        );
        Ok(self.sessions[idx].info())
    }

    pub(super) fn stop_session(&mut self, id: &str) -> Result<SessionInfo, CmdError> {
        let idx = self.find_or_err(id)?;
        if !self.sessions[idx].is_running() {
            // A failed session has nothing in the engine; stopping clears the failure.
            if self.sessions[idx].state == SessionState::Failed {
                self.set_state(idx, SessionState::Stopped);
                self.persist();
            }
            return Ok(self.sessions[idx].info());
        }
        self.apply_engine(EngineInput::StopSession { id: id.to_string() }, now_ms());
        self.sessions[idx].started_ms = None;
        self.set_state(idx, SessionState::Stopped);
        self.publish_symbols();
        self.publish_totals(id);
        self.persist();
        self.note(
            Level::Info,
            "session.stopped",
            format!("session {id} stopped"),
        );
        Ok(self.sessions[idx].info())
    }

    pub(super) fn add_symbol(&mut self, id: &str, symbol: &str) -> Result<SessionInfo, CmdError> {
        if !is_valid_symbol(symbol) {
            return Err(CmdError::InvalidSymbol(format!(
                "{symbol:?} is not a MEXC futures symbol like BTC_USDT"
            )));
        }
        let idx = self.find_or_err(id)?;
        if self.sessions[idx].has_symbol(symbol) {
            return Err(CmdError::Rejected(format!(
                "session {id} already has {symbol}"
            )));
        }
        if self.sessions[idx].is_running() {
            let input = EngineInput::AddSymbol {
                session: id.to_string(),
                symbol: symbol.to_string(),
            };
            if let Some(reason) = self.apply_engine(input, now_ms()).into_iter().next() {
                return Err(CmdError::Rejected(reason));
            }
        }
        self.sessions[idx].cfg.symbols.push(symbol.to_string());
        self.symbols_changed(idx, format!("{symbol} added to session {id}"));
        Ok(self.sessions[idx].info())
    }

    pub(super) fn remove_symbol(
        &mut self,
        id: &str,
        symbol: &str,
    ) -> Result<SessionInfo, CmdError> {
        let idx = self.find_or_err(id)?;
        if !self.sessions[idx].has_symbol(symbol) {
            return Err(CmdError::Rejected(format!(
                "session {id} has no {symbol}; it has {}",
                self.sessions[idx].cfg.symbols.join(", ")
            )));
        }
        if self.sessions[idx].is_running() {
            let input = EngineInput::RemoveSymbol {
                session: id.to_string(),
                symbol: symbol.to_string(),
            };
            if let Some(reason) = self.apply_engine(input, now_ms()).into_iter().next() {
                return Err(CmdError::Rejected(reason));
            }
        }
        self.sessions[idx].cfg.symbols.retain(|s| s != symbol);
        self.symbols_changed(idx, format!("{symbol} removed from session {id}"));
        Ok(self.sessions[idx].info())
    }

    pub(super) fn symbols_changed(&mut self, idx: usize, message: String) {
        let state = self.sessions[idx].state;
        self.set_state(idx, state);
        self.publish_symbols();
        let id = self.sessions[idx].cfg.id.clone();
        self.publish_totals(&id);
        self.persist();
        self.note(Level::Info, "session.symbols", message);
    }

    /// Sets the lifecycle state and publishes the session on `sessions`.
    pub(super) fn set_state(&mut self, idx: usize, state: SessionState) {
        self.sessions[idx].state = state;
        self.store_session(idx);
        let info = self.sessions[idx].info();
        self.publish(
            StreamName::Sessions,
            None,
            None,
            info,
            ServerMsg::SessionChanged,
        );
    }

    /// The whole session row to the store (an upsert keyed by session id).
    fn store_session(&self, idx: usize) {
        let Some(store) = &self.store else { return };
        let s = &self.sessions[idx];
        let now = trademon_protocol::now_ms();
        let view = self
            .engine
            .session(&s.cfg.id)
            .unwrap_or_else(|| trademon_engine::SessionView {
                id: s.cfg.id.clone(),
                strategy: s.cfg.strategy.clone(),
                started_ms: s.started_ms.unwrap_or(now),
                symbols: s.cfg.symbols.clone(),
                realized_pnl: 0.0,
                unrealized_pnl: 0.0,
                fees: 0.0,
                open_positions: 0,
                signals: 0,
                closed_fees: 0.0,
                closed_trades: 0,
                winning_trades: 0,
                paused: s.paused,
            });
        let status = serde_json::to_value(s.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        store.send(trademon_store::session_row(
            &view,
            &s.cfg.name,
            &status,
            now,
        ));
    }

    /// The adapter subscribes exactly the union of running sessions' symbols, less the ones
    /// the exchange refuses (their instances are FAILED; asking again would only fail again).
    pub(super) fn publish_symbols(&mut self) {
        let want: BTreeSet<String> = self
            .sessions
            .iter()
            .filter(|s| s.is_running())
            .flat_map(|s| s.cfg.symbols.iter().cloned())
            .filter(|sym| self.engine.contract_failure(sym).is_none())
            .collect();
        self.symbols.send_if_modified(|cur| {
            let changed = *cur != want;
            *cur = want;
            changed
        });
    }

    /// Writes the sessions file. Runs on the hub task: the file is a few hundred bytes and
    /// changes only on user commands, so the short blocking write costs less than a handoff.
    pub(super) fn persist(&mut self) {
        let Some(path) = self.settings.sessions_file.clone() else {
            return;
        };
        let list = self
            .sessions
            .iter()
            .map(|s| PersistedSession {
                id: s.cfg.id.clone(),
                name: s.cfg.name.clone(),
                strategy: s.cfg.strategy.clone(),
                symbols: s.cfg.symbols.clone(),
                running: s.is_running(),
                paused: s.paused,
            })
            .collect();
        if let Err(e) = persist::save(&path, list) {
            tracing::error!(event = "sessions.save_failed", error = %e, "cannot save sessions");
            self.note(
                Level::Error,
                "sessions.save_failed",
                format!("cannot save sessions: {e}"),
            );
        }
    }
}
