//! A trader's controls on the hub: create a session, close a paper position at market, pause
//! or resume a strategy. Like `session_ops`, each checks what it can before the engine sees
//! it, maps an engine refusal to `CmdError::Rejected`, publishes the session on `sessions`,
//! persists what must survive a restart, and raises an INFO `session.*` event (which the
//! TUI's event panel shows) so every action is on screen and in the log.

use super::{CmdError, Hub};
use crate::SessionConfig;
use crate::convert;
use serde::Deserialize;
use trademon_core::numfmt;
use trademon_engine::EngineInput;
use trademon_protocol::{Level, PositionInfo, SessionInfo, is_valid_symbol, now_ms};

/// What `create_session` (WS) and `POST /api/v1/sessions` (REST) ask for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NewSession {
    pub id: String,
    /// The tab's name; the id when absent or blank.
    #[serde(default)]
    pub name: Option<String>,
    pub strategy: String,
    pub symbols: Vec<String>,
}

/// `session majors closed BTC_USDT at market: exit 95123.4 USDT, realized PnL -0.12 USDT`.
pub fn closed_text(session: &str, p: &PositionInfo) -> String {
    let exit = p.exit_price.unwrap_or(p.mark_price);
    format!(
        "session {session} closed {} at market: exit {} USDT, realized PnL {} USDT",
        p.symbol,
        numfmt::price(exit, None),
        numfmt::with_unit(p.realized_pnl, numfmt::Unit::Quote),
    )
}

impl Hub {
    /// Checks the new session as the configuration's sessions are checked (id letters,
    /// digits, `-`, `_`, unused; name unused; a configured strategy; symbols like `BTC_USDT`,
    /// at least one, each once), then adds it, starts it and persists it.
    pub(super) fn create_session(&mut self, spec: NewSession) -> Result<SessionInfo, CmdError> {
        let cfg = self.check_new_session(spec)?;
        let id = cfg.id.clone();
        self.sessions.push(crate::sessions::Session::new(cfg));
        let idx = self.sessions.len() - 1;
        tracing::info!(event = "session.created", session = %id, "session created");
        self.note(
            Level::Info,
            "session.created",
            format!(
                "session {id} created: strategy {}, {}",
                self.sessions[idx].cfg.strategy,
                self.sessions[idx].cfg.symbols.join(", ")
            ),
        );
        // A refused start leaves it `failed` with the reason, as a configured one would be.
        let started = self.start_idx(idx);
        self.persist();
        started.or_else(|_| Ok(self.sessions[idx].info()))
    }

    fn check_new_session(&self, spec: NewSession) -> Result<SessionConfig, CmdError> {
        let reject = |m: String| Err(CmdError::Rejected(m));
        let id = spec.id.trim().to_string();
        let id_ok = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return reject(format!(
                "session id {:?} must be non-empty letters, digits, '-' or '_'",
                spec.id
            ));
        }
        if self.find(&id).is_some() {
            return reject(format!("session {id} exists already"));
        }
        let name = match spec.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => id.clone(),
        };
        if let Some(other) = self.sessions.iter().find(|s| s.cfg.name.trim() == name) {
            return reject(format!(
                "name {name:?} is already session {}'s: the tabs could not be told apart",
                other.cfg.id
            ));
        }
        let strategies = self.engine.strategy_names();
        if !strategies.contains(&spec.strategy) {
            return reject(format!(
                "unknown strategy {:?}; known strategies: {}",
                spec.strategy,
                strategies.join(", ")
            ));
        }
        if spec.symbols.is_empty() {
            return reject("a session needs at least one symbol, e.g. BTC_USDT".into());
        }
        let mut symbols: Vec<String> = Vec::new();
        for sym in spec.symbols {
            let sym = sym.trim().to_string();
            if !is_valid_symbol(&sym) {
                return Err(CmdError::InvalidSymbol(format!(
                    "{sym:?} is not a MEXC futures symbol like BTC_USDT"
                )));
            }
            if symbols.contains(&sym) {
                return reject(format!("{sym} is listed twice"));
            }
            symbols.push(sym);
        }
        Ok(SessionConfig {
            id,
            name,
            strategy: spec.strategy,
            symbols,
        })
    }

    /// Closes the session's open paper position on `symbol` at market (the engine's
    /// `ClosePosition`); returns the closed position. The signal, the closed trade and the
    /// totals are journaled and published by `apply_engine` like any exit.
    pub(super) fn close_position(
        &mut self,
        id: &str,
        symbol: &str,
    ) -> Result<PositionInfo, CmdError> {
        let idx = self.find_or_err(id)?;
        let session = &self.sessions[idx];
        if !session.is_running() {
            return Err(CmdError::Rejected(format!(
                "session {id} is not running; it has no open positions"
            )));
        }
        if !session.has_symbol(symbol) {
            return Err(CmdError::Rejected(format!(
                "session {id} has no {symbol}; it has {}",
                session.cfg.symbols.join(", ")
            )));
        }
        let input = EngineInput::ClosePosition {
            session: id.to_string(),
            symbol: symbol.to_string(),
        };
        if let Some(reason) = self.apply_engine(input, now_ms()).into_iter().next() {
            return Err(CmdError::Rejected(reason));
        }
        let alert = self.engine.settings().liquidation_alert_pct;
        let closed = self
            .engine
            .closed_trades(id)
            .iter()
            .rev()
            .find(|p| p.symbol == symbol)
            .map(|p| convert::position(p, alert))
            .ok_or_else(|| CmdError::Rejected(format!("{symbol}: no closed trade recorded")))?;
        let text = closed_text(id, &closed);
        tracing::info!(event = "session.position_closed", session = %id, symbol, position = closed.id, "{text}");
        self.note(Level::Info, "session.position_closed", text);
        Ok(closed)
    }

    /// Pauses (monitor only) or resumes the session's strategy. A running session's engine
    /// state follows at once; a stopped one keeps the flag and starts that way. The flag is
    /// persisted, so a restart keeps it. Asking for the state it is in changes nothing.
    pub(super) fn set_paused(&mut self, id: &str, paused: bool) -> Result<SessionInfo, CmdError> {
        let idx = self.find_or_err(id)?;
        if self.sessions[idx].paused == paused {
            return Ok(self.sessions[idx].info());
        }
        if self.sessions[idx].is_running() {
            let input = if paused {
                EngineInput::PauseSession { id: id.to_string() }
            } else {
                EngineInput::ResumeSession { id: id.to_string() }
            };
            if let Some(reason) = self.apply_engine(input, now_ms()).into_iter().next() {
                return Err(CmdError::Rejected(reason));
            }
        }
        self.sessions[idx].paused = paused;
        let state = self.sessions[idx].state;
        self.set_state(idx, state);
        self.persist();
        let (name, text) = if paused {
            (
                "session.paused",
                format!("session {id} paused its strategy: monitor only, no new entries"),
            )
        } else {
            (
                "session.resumed",
                format!("session {id} resumed its strategy: entries allowed"),
            )
        };
        tracing::info!(event = name, session = %id, "{text}");
        self.note(Level::Info, name, text);
        Ok(self.sessions[idx].info())
    }
}
