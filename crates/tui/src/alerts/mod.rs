//! Alerts: what the trader must notice even when not looking at the screen.
//!
//! - `detect`: pure. From the client model (signals, positions, closed trades), the link state
//!   and the data ages it derives [`Alert`]s, one per event: it keeps high-water marks and seen
//!   sets, so a signal replayed in a `full_update` after a reconnect does not ring again.
//! - `state`: pure. Per kind (`[alerts.<kind>]`) an alert becomes a pending banner (until
//!   acknowledged), a bell (rate-limited) and/or a hook request; it lives in `App`.
//! - `hook`: the only IO. `[alerts] command` run with `sh -c`, the alert as JSON on stdin, on
//!   the runtime (never the UI), at most `max_commands` at once, killed with its process group
//!   after `command_timeout_ms`.
//! - `config`: `[alerts]`.
//!
//! The bell is a BEL byte the render thread writes with a frame (`render::draw`), the banner is
//! `view::alert_banner`. Other parts raise their own alerts with `App::raise_alert` (the
//! scanner's threshold alerts will).

pub mod config;
pub mod detect;
pub mod hook;
pub mod state;

#[cfg(test)]
mod detect_tests;

pub use config::{AlertsConfig, KindConfig};
pub use detect::Detector;
pub use state::AlertState;

use serde::{Deserialize, Serialize};

/// What an alert is about; each kind has its own `[alerts.<kind>]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A strategy signal (entry, exit, forced exit).
    Signal,
    /// A paper position opened or closed (not by liquidation).
    Fill,
    /// A paper position's mark came within `alerts.liquidation_risk_pct` of its liquidation.
    LiquidationRisk,
    /// A paper position was liquidated.
    Liquidation,
    /// The link to the backend left Live (and, as information, came back).
    LinkLost,
    /// Market data of a running session went stale.
    DataStale,
}

impl AlertKind {
    pub const ALL: [AlertKind; 6] = [
        AlertKind::Signal,
        AlertKind::Fill,
        AlertKind::LiquidationRisk,
        AlertKind::Liquidation,
        AlertKind::LinkLost,
        AlertKind::DataStale,
    ];

    /// The config table and JSON name: `liquidation_risk`.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Signal => "signal",
            AlertKind::Fill => "fill",
            AlertKind::LiquidationRisk => "liquidation_risk",
            AlertKind::Liquidation => "liquidation",
            AlertKind::LinkLost => "link_lost",
            AlertKind::DataStale => "data_stale",
        }
    }

    /// The word on the banner, upper case so it reads as a label without colour.
    pub fn label(self) -> &'static str {
        match self {
            AlertKind::Signal => "SIGNAL",
            AlertKind::Fill => "FILL",
            AlertKind::LiquidationRisk => "LIQ RISK",
            AlertKind::Liquidation => "LIQUIDATED",
            AlertKind::LinkLost => "LINK",
            AlertKind::DataStale => "STALE",
        }
    }
}

/// One alert: what, when, where, and a sentence a trader can act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    /// When the event happened (ms since the epoch): the signal's or fill's own time, else the
    /// client clock when it was seen.
    pub at_ms: i64,
    /// Session id, when the alert belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    pub text: String,
}

impl Alert {
    pub fn new(kind: AlertKind, at_ms: i64, text: impl Into<String>) -> Alert {
        Alert {
            kind,
            at_ms,
            session: None,
            symbol: None,
            text: text.into(),
        }
    }

    pub fn session(mut self, id: &str) -> Alert {
        self.session = Some(id.to_string());
        self
    }

    pub fn symbol(mut self, symbol: &str) -> Alert {
        self.symbol = Some(symbol.to_string());
        self
    }

    /// The object a hook reads on stdin (one line): the fields above plus `time`, the same
    /// instant as RFC 3339 UTC, for scripts that do not want to convert milliseconds.
    pub fn to_json(&self) -> String {
        let time = jiff::Timestamp::from_millisecond(self.at_ms)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let value = serde_json::json!({
            "kind": self.kind,
            "at_ms": self.at_ms,
            "time": time,
            "session": self.session,
            "symbol": self.symbol,
            "text": self.text,
        });
        value.to_string()
    }
}

/// Every alert goes to the log (the event loop calls this for `Effect::Alert`): liquidations,
/// liquidation risk and lost links at WARN (they reach `errors.log`), the rest at INFO.
pub fn log_raised(alert: &Alert) {
    let session = alert.session.as_deref().unwrap_or("");
    let symbol = alert.symbol.as_deref().unwrap_or("");
    match alert.kind {
        AlertKind::Liquidation | AlertKind::LiquidationRisk | AlertKind::LinkLost => {
            tracing::warn!(kind = alert.kind.name(), at_ms = alert.at_ms, session, symbol, text = %alert.text, "alert")
        }
        _ => {
            tracing::info!(kind = alert.kind.name(), at_ms = alert.at_ms, session, symbol, text = %alert.text, "alert")
        }
    }
}

/// The trader acknowledged an alert's banner.
pub fn log_acknowledged(alert: &Alert) {
    tracing::info!(kind = alert.kind.name(), at_ms = alert.at_ms, text = %alert.text, "alert.acknowledged");
}
