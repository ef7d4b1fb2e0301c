//! `[script]`: the commands a script runs without the TUI (`trademon watch --json`,
//! `trademon status`). Their own section, so a cron job's limits never change the TUI's.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptConfig {
    /// `trademon status` waits at most this long for the backend to be Live (every first
    /// snapshot in, the headline Live) before it prints what it has and exits 1.
    pub status_timeout_ms: u64,
    /// `trademon watch` gives the close handshake (code 1000) this long after Ctrl-C or a
    /// closed stdout before it exits anyway.
    pub close_timeout_ms: u64,
    /// Without `--connect`, how long to try the port of the backend a running trademon
    /// advertises (`discovery`) before starting an embedded one.
    pub discover_probe_ms: u64,
}

impl ScriptConfig {
    /// Every problem with these values, as `(key, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.status_timeout_ms == 0 {
            out.push((
                "script.status_timeout_ms",
                "script.status_timeout_ms must be above 0".to_string(),
            ));
        }
        if self.close_timeout_ms == 0 {
            out.push((
                "script.close_timeout_ms",
                "script.close_timeout_ms must be above 0".to_string(),
            ));
        }
        if self.discover_probe_ms == 0 {
            out.push((
                "script.discover_probe_ms",
                "script.discover_probe_ms must be above 0".to_string(),
            ));
        }
        out
    }
}
