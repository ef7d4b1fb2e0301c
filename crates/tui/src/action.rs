//! Everything that can change UI state, and everything the UI asks the outside world to do.
//!
//! Inputs carry their own time (`Tick(now_ms)`) so `App::update` never reads a clock: the same
//! actions always give the same screens (snapshot tests now, deterministic replay later).

use crossterm::event::KeyEvent;
use trademon_client::{ClientCommand, ClientEvent};

// `Client` is large, but an action is built once and moved into `update`: boxing it would
// add an allocation per market message to save a memcpy.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A key press (the event loop passes only `KeyEventKind::Press`).
    Key(KeyEvent),
    /// New terminal size, columns x rows.
    Resize(u16, u16),
    /// Something from the connection task.
    Client(ClientEvent),
    /// Wall clock advanced to this time (ms since the epoch); ages and countdowns move.
    Tick(i64),
    /// A recording started at this client time (ms since the epoch), or stopped (`None`):
    /// the health bar shows `REC mm:ss`.
    Recording(Option<i64>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send to the connection task.
    Client(ClientCommand),
    /// Leave the event loop and restore the terminal.
    Quit,
    /// Start or stop recording (`tui::recording` does it).
    ToggleRecording,
    /// Write a bug-report bundle from the flight recorder.
    BugReport,
    /// An alert was raised (its banner and bell are in `App` already): log it, and run the
    /// `[alerts] command` hook when `hook`.
    Alert {
        alert: crate::alerts::Alert,
        hook: bool,
    },
    /// The trader acknowledged this alert's banner: log it.
    AlertAcknowledged(crate::alerts::Alert),
}
