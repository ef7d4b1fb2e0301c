//! trademon: a terminal trading monitor. One binary: an embedded backend (MEXC adapter,
//! engine, hub, server) and a ratatui client talking to it over exactly one WebSocket.
//! See docs/architecture.md for how the pieces fit.

pub mod backend;
pub mod backoff;
pub mod bench;
pub mod cli;
pub mod client;
pub mod config;
pub mod engine;
pub mod exchange;
pub mod launch;
pub mod numfmt;
pub mod record;
pub mod store;
pub mod telemetry;
pub mod tui;
pub mod user_error;

pub use trademon_protocol as protocol;
