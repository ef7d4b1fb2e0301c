//! Scripting without the TUI: `trademon watch --json` (NDJSON of chosen streams) and
//! `trademon status [--json]` (one summary, exit code by health). Both talk to the backend
//! over the same one WebSocket as the TUI (the client crate's connection: heartbeat,
//! reconnect, resubscribe); `launch` starts the backend or connects, and hands them the
//! client's events.

pub mod gate;
pub mod ndjson;
pub mod status;
pub mod status_text;
pub mod streams;
pub mod watch;
