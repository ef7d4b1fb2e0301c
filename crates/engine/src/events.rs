//! What the engine emits. Everything derives `Serialize` with a stable field order, so two runs
//! of the same inputs serialize byte-identically.

use serde::{Deserialize, Serialize};

use super::position::PositionView;

/// Strategy state of one (session, symbol) instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceState {
    Monitoring,
    EntrySignal,
    InPosition,
    ExitSignal,
    Cooldown,
    /// The position was liquidated (mark crossed the liquidation price). This state is the
    /// cooldown after it: it lasts the strategy's `cooldown_s`, then MONITORING.
    Liquidated,
    /// The symbol cannot be traded (not listed on the exchange, or refused by it). Terminal.
    Failed,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Monitoring => "MONITORING",
            InstanceState::EntrySignal => "ENTRY_SIGNAL",
            InstanceState::InPosition => "IN_POSITION",
            InstanceState::ExitSignal => "EXIT_SIGNAL",
            InstanceState::Cooldown => "COOLDOWN",
            InstanceState::Liquidated => "LIQUIDATED",
            InstanceState::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SignalSide {
    Buy,
    Sell,
}

/// Why a signal was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    Entry,
    Exit,
    /// The session stopped or the symbol was removed with a position open, or the trader
    /// closed the position at market (`close_position`).
    ForcedExit,
    /// The mark crossed the liquidation price: the position was closed there, margin lost.
    Liquidation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// Engine-wide sequence number, starting at 1.
    pub id: u64,
    pub session: String,
    pub symbol: String,
    pub side: SignalSide,
    pub kind: SignalKind,
    /// `last` when the signal was raised (fills happen at the next trade).
    pub price: f64,
    pub reason: String,
    pub at_ms: i64,
}

/// One (session, symbol) instance for snapshots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceView {
    pub session: String,
    pub symbol: String,
    pub state: InstanceState,
    /// Engine time of the last transition (or of creation).
    pub since_ms: i64,
    pub reason: String,
}

/// A session for the summary line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionView {
    pub id: String,
    pub strategy: String,
    pub started_ms: i64,
    pub symbols: Vec<String>,
    /// Sum of realized PnL of closed positions (net of fees).
    pub realized_pnl: f64,
    /// Sum of unrealized PnL of open positions (gross of fees).
    pub unrealized_pnl: f64,
    pub fees: f64,
    pub open_positions: usize,
    pub signals: u64,
    /// Fees of closed positions (already inside `realized_pnl`).
    pub closed_fees: f64,
    /// Closed paper trades of the session (all of them, not only the ones still listed).
    pub closed_trades: u64,
    /// Closed trades whose realized PnL (net of fees) is above zero.
    pub winning_trades: u64,
    /// Monitor only: conditions update, no new entries (`PauseSession`).
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    InstanceAdded {
        session: String,
        symbol: String,
        state: InstanceState,
        at_ms: i64,
    },
    InstanceRemoved {
        session: String,
        symbol: String,
        reason: String,
        at_ms: i64,
    },
    StateChange {
        session: String,
        symbol: String,
        from: InstanceState,
        to: InstanceState,
        reason: String,
        at_ms: i64,
    },
    Signal(Signal),
    PositionOpened(PositionView),
    PositionUpdated(PositionView),
    PositionClosed(PositionView),
    /// The mark came within `liquidation_alert_pct` of the liquidation price; repeats every
    /// `liquidation_alert_interval_s` while it stays there.
    LiquidationRisk {
        session: String,
        symbol: String,
        mark: f64,
        liquidation_price: f64,
        distance_pct: f64,
        at_ms: i64,
    },
    /// Indicator values of `symbol` may have changed: read `Engine::indicators`. Emitted after
    /// each market input and at most once per second per symbol on `Tick`.
    IndicatorsChanged {
        symbol: String,
    },
    /// Condition progress of an instance may have changed: read `Engine::conditions`.
    ConditionsChanged {
        session: String,
        symbol: String,
    },
    /// A session command was refused (unknown strategy or session, duplicate id or symbol).
    CommandRejected {
        session: String,
        reason: String,
    },
}
