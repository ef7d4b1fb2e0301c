//! `events.ndjson`: one JSON object per line, `{"t": <ms since the recording started>,
//! "k": <kind>, ...}`. It holds everything `App::update` was given, in order, so a replay
//! through the same `update`/`view` code reproduces every frame:
//!
//! - `start`: the state keyframe (the whole `App` state when recording began), client clock
//!   and terminal size. A recording can start at any time, so it cannot begin from nothing.
//! - `frame` (an inbound protocol frame, raw text as received), `link`, `snapshot` (REST
//!   while polling), `notice`, `key`, `resize`, `tick` (client clock), `recording`.
//! - `draw`: a state went to the renderer here; the cast holds the bytes of the same frame.
//! - `session`: the active session changed (informational, replay derives it from keys).
//! - `end`.

use crate::App;
use crate::keymap::{Key, parse_key};
use crossterm::event::{KeyEvent, KeyEventKind};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use trademon_client::link::LinkStatus;
use trademon_client::model::ClientModel;
use trademon_protocol::{LogEvent, RestSnapshot};

/// The UI state a recording starts from: every `App` field that `update` and `view` read,
/// except the keymap and theme, which come from the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppState {
    pub model: ClientModel,
    pub link: LinkStatus,
    pub link_at_ms: i64,
    pub active: usize,
    pub selected: usize,
    pub show_help: bool,
    pub size: (u16, u16),
    pub now_ms: i64,
    pub recording_since_ms: Option<i64>,
    /// The open symbol view (its data is in `model`); absent in recordings made before it.
    #[serde(default)]
    pub symbol_view: Option<crate::app::symbol::SymbolViewState>,
    /// Alert detection marks and waiting banners, so a replay raises exactly the alerts the
    /// live UI did; absent in recordings made before alerts (or with them off).
    #[serde(default)]
    pub alerts: Option<Box<crate::alerts::AlertState>>,
}

impl AppState {
    pub fn of(app: &App) -> AppState {
        AppState {
            model: app.model.clone(),
            link: app.link.clone(),
            link_at_ms: app.link_at_ms,
            active: app.active,
            selected: app.selected,
            show_help: app.show_help,
            size: app.size,
            now_ms: app.now_ms,
            recording_since_ms: app.recording_since_ms,
            symbol_view: app.symbol_view.clone(),
            alerts: app.alerts.clone(),
        }
    }

    /// Put this state into `app` (built from the recorded config with `App::new`).
    pub fn apply_to(self, app: &mut App) {
        app.model = self.model;
        app.link = self.link;
        app.link_at_ms = self.link_at_ms;
        app.active = self.active;
        app.selected = self.selected;
        app.show_help = self.show_help;
        app.size = self.size;
        app.now_ms = self.now_ms;
        app.recording_since_ms = self.recording_since_ms;
        app.symbol_view = self.symbol_view;
        app.alerts = self.alerts;
    }
}

/// One line of `events.ndjson` without its time. Borrowed where the hot path has the data
/// already (inbound frames), owned after parsing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub enum Record<'a> {
    Start {
        now_ms: i64,
        size: (u16, u16),
        state: Box<AppState>,
    },
    Frame {
        raw: Cow<'a, str>,
    },
    Link {
        link: Cow<'a, LinkStatus>,
    },
    /// Boxed: a REST snapshot (only while polling) is far larger than the other records.
    Snapshot {
        snapshot: Box<Cow<'a, RestSnapshot>>,
    },
    Notice {
        event: Cow<'a, LogEvent>,
    },
    /// Key name as in `[tui.keys]` (`q`, `ctrl-c`, `tab`); `unknown` for keys without a name.
    Key {
        key: String,
    },
    Resize {
        w: u16,
        h: u16,
    },
    Tick {
        now_ms: i64,
    },
    Recording {
        since_ms: Option<i64>,
    },
    Draw {
        seq: u64,
    },
    Session {
        index: usize,
        id: String,
    },
    End,
}

/// A parsed line.
#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    pub t: u64,
    #[serde(flatten)]
    pub record: Record<'static>,
}

/// Serialize a record body (`{"k":...}`) once; the time is put in front per destination
/// (the flight ring and a recording count time from different starts).
pub fn body(record: &Record<'_>) -> String {
    serde_json::to_string(record).unwrap_or_else(|e| {
        // Only a map with non-string keys can fail here; keep the log readable anyway.
        format!("{{\"k\":\"error\",\"why\":{:?}}}", e.to_string())
    })
}

/// `{"t":T,` + the body without its `{`.
pub fn with_time(t_ms: u64, body: &str) -> String {
    let rest = body.strip_prefix('{').unwrap_or(body);
    if rest.starts_with('}') {
        format!("{{\"t\":{t_ms}}}")
    } else {
        format!("{{\"t\":{t_ms},{rest}")
    }
}

pub const UNKNOWN_KEY: &str = "unknown";

/// The name of a key press, in the form `[tui.keys]` uses, so it parses back exactly.
pub fn key_name(ev: &KeyEvent) -> String {
    let key = Key::from_event(ev);
    let name = key.to_string();
    match parse_key(&name) {
        Ok(back) if back == key => name,
        _ => UNKNOWN_KEY.to_string(),
    }
}

/// The key press a recorded name stands for; `None` for `unknown` (it did nothing).
pub fn key_event(name: &str) -> Result<Option<KeyEvent>, String> {
    if name == UNKNOWN_KEY {
        return Ok(None);
    }
    let key = parse_key(name)?;
    let mut ev = KeyEvent::new(key.code, key.mods);
    ev.kind = KeyEventKind::Press;
    Ok(Some(ev))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    #[test]
    fn keys_round_trip_by_name() {
        for ev in [
            KeyEvent::new(KeyCode::Char('R'), KeyModifiers::SHIFT),
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
            KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE),
            KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT),
            KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE),
            KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
        ] {
            let name = key_name(&ev);
            let back = key_event(&name).unwrap().unwrap();
            assert_eq!(Key::from_event(&back), Key::from_event(&ev), "{name}");
        }
        let odd = KeyEvent::new(KeyCode::CapsLock, KeyModifiers::NONE);
        assert_eq!(key_name(&odd), UNKNOWN_KEY);
        assert_eq!(key_event(UNKNOWN_KEY).unwrap(), None);
    }

    #[test]
    fn time_goes_in_front_of_the_body() {
        let b = body(&Record::Tick { now_ms: 5 });
        let line = with_time(42, &b);
        assert_eq!(line, r#"{"t":42,"k":"tick","now_ms":5}"#);
        let parsed: Line = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed.t, 42);
        assert!(matches!(parsed.record, Record::Tick { now_ms: 5 }));
    }
}
