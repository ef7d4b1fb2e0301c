//! trademon: a terminal trading monitor. One binary: an embedded backend (MEXC adapter,
//! engine, hub, server) and a ratatui client talking to it over exactly one WebSocket.
//! See docs/architecture.md for how the pieces fit.

pub mod cli;
pub mod config;
pub mod discovery;
pub mod exchange;
pub mod launch;
pub mod script;
pub mod telemetry;
pub mod user_error;

pub use trademon_backend as backend;
pub use trademon_client as client;
pub use trademon_core::{backoff, numfmt};
pub use trademon_engine as engine;
pub use trademon_protocol as protocol;
pub use trademon_store as store;
pub use trademon_tui as tui;
pub use trademon_tui::record;
