//! The TUI's settings: `[tui]` and `[record]` in the config file (docs/config.md), and what
//! `run` and the recorder need from the rest of the config, gathered by the binary.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use trademon_protocol::Interval;

/// The shipped defaults; a recorded config from an older build is read over them.
const DEFAULTS_TOML: &str = include_str!("../../../assets/default-config.toml");

/// Everything `run` and the recorder read.
#[derive(Debug, Clone)]
pub struct TuiSettings {
    pub tui: TuiConfig,
    pub record: RecordConfig,
    /// `[alerts]`: bell, banner and hook per kind of alert.
    pub alerts: crate::alerts::AlertsConfig,
    /// Where recordings and bug bundles go (`record.dir`, resolved).
    pub record_dir: PathBuf,
    /// The log directory, for the log lines a bug bundle carries.
    pub log_dir: PathBuf,
    /// The whole config as TOML with secrets replaced, for manifests and bug bundles.
    pub config_toml: String,
    /// Secret values (`server.token`, QuestDB credentials) kept out of recordings.
    pub secrets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColorMode {
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "16")]
    Ansi16,
    #[serde(rename = "256")]
    Ansi256,
    #[serde(rename = "truecolor")]
    TrueColor,
    #[serde(rename = "none")]
    None,
}

impl std::str::FromStr for ColorMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(ColorMode::Auto),
            "16" => Ok(ColorMode::Ansi16),
            "256" => Ok(ColorMode::Ansi256),
            "truecolor" => Ok(ColorMode::TrueColor),
            "none" => Ok(ColorMode::None),
            other => Err(format!(
                "unknown colour mode {other:?}; use auto, 16, 256, truecolor or none"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuiConfig {
    pub fps: u32,
    pub color: ColorMode,
    pub stale_after_ms: u64,
    pub event_panel_max: usize,
    /// Zone for times on screen: `local`, `UTC` or an IANA name (`Europe/Berlin`).
    pub timezone: String,
    /// The symbol view's candle interval when it opens.
    pub chart_interval: Interval,
    pub chart_candles_max: usize,
    pub tape_max: usize,
    /// Order book levels shown per side at most.
    pub book_levels: usize,
    /// Trades worth at least this much quote currency are marked `big`; 0: none.
    pub tape_large_quote: f64,
    pub tape_self_trades: SelfTrades,
    /// The symbol view's panels show their data's age from this age on.
    pub view_age_after_ms: u64,
    /// A command sent from the keyboard (add or remove a symbol) without an answer after this
    /// long is shown as unanswered.
    pub command_timeout_ms: u64,
    /// The answer to a command sent from the keyboard stays on the status line this long.
    pub command_status_ms: u64,
    pub keys: KeysConfig,
}

/// What the tape does with self-trades (MEXC's `M` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelfTrades {
    Mark,
    Hide,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    pub quit: Vec<String>,
    pub next_session: Vec<String>,
    pub prev_session: Vec<String>,
    pub up: Vec<String>,
    pub down: Vec<String>,
    /// Cycle the detail view (state machines, indicators, conditions, signals, positions).
    pub next_view: Vec<String>,
    pub prev_view: Vec<String>,
    pub help: Vec<String>,
    pub reconnect: Vec<String>,
    pub record: Vec<String>,
    pub upstream: Vec<String>,
    /// Open the status popup: the whole headline with its causes.
    pub status: Vec<String>,
    pub bug_report: Vec<String>,
    /// Move the focus (which list `up`/`down` move in) to the next list.
    pub focus: Vec<String>,
    /// Open the full text of the selected row in a popup.
    pub open: Vec<String>,
    pub page_up: Vec<String>,
    pub page_down: Vec<String>,
    /// Open or close the symbol view of the selected watchlist row.
    pub symbol_view: Vec<String>,
    /// Watchlist: cycle the sort order (config, symbol, change, volume, volatility, state).
    pub sort: Vec<String>,
    pub sort_reverse: Vec<String>,
    /// Watchlist: type a filter; enter keeps it, esc clears it.
    pub filter: Vec<String>,
    pub scroll_back: Vec<String>,
    pub scroll_forward: Vec<String>,
    pub zoom_in: Vec<String>,
    pub zoom_out: Vec<String>,
    pub next_interval: Vec<String>,
    pub prev_interval: Vec<String>,
    /// Remove the alert banner on top (the next one shows).
    pub acknowledge: Vec<String>,
    /// Start the active session, or stop it (asks y/n first).
    pub start_stop: Vec<String>,
    /// Pause the active session's strategy (monitor only), or resume it.
    pub pause_resume: Vec<String>,
    /// Close the selected paper position at market (asks y/n first).
    pub close_position: Vec<String>,
    /// Add a symbol to the active session (a one-line prompt), remove the selected one (y/n).
    pub add_symbol: Vec<String>,
    pub remove_symbol: Vec<String>,
    /// Create a session from a small form (name, strategy, symbols).
    pub new_session: Vec<String>,
}

/// Recordings, the flight recorder and bug bundles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    pub dir: String,
    pub flight_minutes: u64,
    pub flight_max_mb: u64,
    pub max_recording_mb: u64,
    pub bug_log_lines: usize,
}

/// `[tui]` of a recorded config (a manifest's `config`) over the shipped defaults, so a
/// recording made before a key existed still replays.
pub fn tui_from_recorded(config_toml: &str) -> Result<TuiConfig, String> {
    let recorded: toml::Table = toml::from_str(config_toml).map_err(|e| e.to_string())?;
    let mut tui = default_tui_table();
    if let Some(toml::Value::Table(over)) = recorded.get("tui") {
        merge(&mut tui, over);
    }
    toml::Value::Table(tui)
        .try_into()
        .map_err(|e: toml::de::Error| format!("[tui]: {e}"))
}

fn default_tui_table() -> toml::Table {
    let all: toml::Table = toml::from_str(DEFAULTS_TOML).unwrap_or_default();
    match all.get("tui") {
        Some(toml::Value::Table(t)) => t.clone(),
        _ => toml::Table::new(),
    }
}

fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// `[tui]` as the shipped defaults have it, for tests (the binary reads the whole config).
#[cfg(test)]
pub(crate) fn default_tui() -> TuiConfig {
    tui_from_recorded("").unwrap_or_else(|e| panic!("assets/default-config.toml: {e}"))
}
