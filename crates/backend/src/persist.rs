//! Sessions persisted in the data dir, so a restarted backend restores what the user did at
//! run time: which sessions were running or stopped, and symbols added or removed.
//!
//! The file is versioned JSON written atomically (temp file + rename), so a crash mid-write
//! leaves the previous file. A file that cannot be read or parsed is reported and ignored: the
//! backend then starts from the configuration, never panics.

use crate::SessionConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Bumped on an incompatible change of the file layout.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistedSession {
    pub id: String,
    pub name: String,
    pub strategy: String,
    pub symbols: Vec<String>,
    pub running: bool,
    /// The strategy was paused (monitor only); absent in files of older builds.
    #[serde(default)]
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct File {
    version: u32,
    sessions: Vec<PersistedSession>,
}

/// `Ok(None)` when there is no file yet; `Err` names the file and what is wrong with it.
pub fn load(path: &Path) -> Result<Option<Vec<PersistedSession>>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let file: File = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a sessions file: {e}", path.display()))?;
    if file.version != VERSION {
        return Err(format!(
            "{} has version {}, this build reads version {VERSION}",
            path.display(),
            file.version
        ));
    }
    Ok(Some(file.sessions))
}

/// Atomic replace: write `<path>.tmp`, then rename over `path`.
pub fn save(path: &Path, sessions: Vec<PersistedSession>) -> Result<(), String> {
    let file = File {
        version: VERSION,
        sessions,
    };
    let text = serde_json::to_string_pretty(&file).map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The sessions to run: persisted ones in their order (symbols and running state from the
/// file; name and strategy from the configuration when it still defines the id, since those
/// are edited there), then configured sessions the file does not know, running.
pub fn merge(
    configured: Vec<SessionConfig>,
    persisted: Vec<PersistedSession>,
) -> Vec<(SessionConfig, bool)> {
    let mut out: Vec<(SessionConfig, bool)> = Vec::new();
    for p in persisted {
        if out.iter().any(|(c, _)| c.id == p.id) {
            continue;
        }
        let from_cfg = configured.iter().find(|c| c.id == p.id);
        let cfg = SessionConfig {
            id: p.id.clone(),
            name: from_cfg.map_or(p.name, |c| c.name.clone()),
            strategy: from_cfg.map_or(p.strategy, |c| c.strategy.clone()),
            symbols: p.symbols,
        };
        out.push((cfg, p.running));
    }
    for c in configured {
        if !out.iter().any(|(o, _)| o.id == c.id) {
            out.push((c, true));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(id: &str, syms: &[&str]) -> SessionConfig {
        SessionConfig {
            id: id.into(),
            name: id.to_uppercase(),
            strategy: "default".into(),
            symbols: syms.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn round_trip_and_bad_files() {
        let dir = std::env::temp_dir().join(format!("trademon-persist-{}", std::process::id()));
        let path = dir.join("sessions.json");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(load(&path), Ok(None));
        let s = vec![PersistedSession {
            id: "a".into(),
            name: "A".into(),
            strategy: "default".into(),
            symbols: vec!["BTC_USDT".into()],
            running: false,
            paused: false,
        }];
        save(&path, s.clone()).unwrap();
        assert_eq!(load(&path), Ok(Some(s)));
        std::fs::write(&path, "{not json").unwrap();
        assert!(load(&path).unwrap_err().contains("sessions.json"));
        std::fs::write(&path, r#"{"version":99,"sessions":[]}"#).unwrap();
        assert!(load(&path).unwrap_err().contains("version 99"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn merge_keeps_file_state_and_adds_new_config_sessions() {
        let configured = vec![cfg("a", &["BTC_USDT"]), cfg("b", &["ETH_USDT"])];
        let persisted = vec![PersistedSession {
            id: "a".into(),
            name: "old".into(),
            strategy: "default".into(),
            symbols: vec!["BTC_USDT".into(), "SOL_USDT".into()],
            running: false,
            paused: false,
        }];
        let m = merge(configured, persisted);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].0.symbols, vec!["BTC_USDT", "SOL_USDT"]);
        assert_eq!(m[0].0.name, "A");
        assert!(!m[0].1);
        assert_eq!((m[1].0.id.as_str(), m[1].1), ("b", true));
    }

    #[test]
    fn sessions_created_at_run_time_come_back_and_old_files_read_unpaused() {
        // A file of an older build has no `paused`: not paused.
        let text = r#"{"version":1,"sessions":[{"id":"new","name":"New","strategy":"demo",
            "symbols":["SUI_USDT"],"running":true}]}"#;
        let file: File = serde_json::from_str(text).unwrap();
        assert!(!file.sessions[0].paused);
        // A session the configuration does not name (created with `create_session`) is kept
        // with its own name and strategy, after the file's others and before new config ones.
        let mut created = file.sessions[0].clone();
        created.paused = true;
        let m = merge(vec![cfg("a", &["BTC_USDT"])], vec![created]);
        assert_eq!(m.len(), 2);
        assert_eq!(
            (
                m[0].0.id.as_str(),
                m[0].0.name.as_str(),
                m[0].0.strategy.as_str()
            ),
            ("new", "New", "demo")
        );
        assert_eq!(m[0].0.symbols, vec!["SUI_USDT"]);
        assert!(m[0].1);
        assert_eq!(m[1].0.id, "a");
    }
}
