//! Configurable keys: key names from `[tui.keys]` parsed into crossterm key events,
//! looked up to a [`Command`], and listed for the generated help overlay.

use crate::settings::KeysConfig;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::fmt;

/// What a key press asks the UI to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Quit,
    NextSession,
    PrevSession,
    Up,
    Down,
    NextView,
    PrevView,
    Help,
    Reconnect,
    Record,
    Upstream,
    /// The full status (headline, its causes, the link details) in a popup.
    Status,
    BugReport,
    Focus,
    Open,
    PageUp,
    PageDown,
    /// Open or close the symbol view of the selected watchlist row.
    SymbolView,
    /// Watchlist: the next sort order, reverse it, type a `/` filter.
    Sort,
    SortReverse,
    Filter,
    ScrollBack,
    ScrollForward,
    ZoomIn,
    ZoomOut,
    NextInterval,
    PrevInterval,
    /// Remove the alert banner on top (the next one shows).
    Acknowledge,
    /// Start the active session, or stop it (after a y/n confirmation).
    StartStop,
    /// Pause the active session's strategy (monitor only), or resume it.
    PauseResume,
    /// Close the selected paper position at market (after y/n).
    ClosePosition,
    /// Add a symbol to the active session (a prompt), remove the selected one (after y/n).
    AddSymbol,
    RemoveSymbol,
    /// Create a session from a small form.
    NewSession,
    /// Jump to session N (0-based); bound to the digits 1-9, not configurable.
    Session(usize),
}

/// Where a key acts: the main screen (watchlist and panels, the upstream view) or the
/// symbol view. A key may mean one thing on each, never two on the same screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Screen {
    Main,
    Symbol,
}

impl Command {
    /// Config key name, as in `[tui.keys]`.
    pub fn name(self) -> &'static str {
        match self {
            Command::Quit => "quit",
            Command::NextSession => "next_session",
            Command::PrevSession => "prev_session",
            Command::Up => "up",
            Command::Down => "down",
            Command::NextView => "next_view",
            Command::PrevView => "prev_view",
            Command::Help => "help",
            Command::Reconnect => "reconnect",
            Command::Record => "record",
            Command::Upstream => "upstream",
            Command::Status => "status",
            Command::BugReport => "bug_report",
            Command::Focus => "focus",
            Command::Open => "open",
            Command::PageUp => "page_up",
            Command::PageDown => "page_down",
            Command::SymbolView => "symbol_view",
            Command::Sort => "sort",
            Command::SortReverse => "sort_reverse",
            Command::Filter => "filter",
            Command::ScrollBack => "scroll_back",
            Command::ScrollForward => "scroll_forward",
            Command::ZoomIn => "zoom_in",
            Command::ZoomOut => "zoom_out",
            Command::NextInterval => "next_interval",
            Command::PrevInterval => "prev_interval",
            Command::Acknowledge => "acknowledge",
            Command::StartStop => "start_stop",
            Command::PauseResume => "pause_resume",
            Command::ClosePosition => "close_position",
            Command::AddSymbol => "add_symbol",
            Command::RemoveSymbol => "remove_symbol",
            Command::NewSession => "new_session",
            Command::Session(_) => "session",
        }
    }

    /// Whether the command acts on `screen`.
    pub fn acts_on(self, screen: Screen) -> bool {
        match self {
            Command::Quit
            | Command::Help
            | Command::Reconnect
            | Command::Record
            | Command::Status
            | Command::BugReport
            | Command::SymbolView
            | Command::Up
            | Command::Down
            | Command::Open
            | Command::Acknowledge => true,
            Command::NextSession
            | Command::PrevSession
            | Command::NextView
            | Command::PrevView
            | Command::Upstream
            | Command::Focus
            | Command::PageUp
            | Command::PageDown
            | Command::Sort
            | Command::SortReverse
            | Command::Filter
            | Command::StartStop
            | Command::PauseResume
            | Command::ClosePosition
            | Command::AddSymbol
            | Command::RemoveSymbol
            | Command::NewSession
            | Command::Session(_) => screen == Screen::Main,
            Command::ScrollBack
            | Command::ScrollForward
            | Command::ZoomIn
            | Command::ZoomOut
            | Command::NextInterval
            | Command::PrevInterval => screen == Screen::Symbol,
        }
    }

    fn shares_a_screen(self, other: Command) -> bool {
        [Screen::Main, Screen::Symbol]
            .into_iter()
            .any(|s| self.acts_on(s) && other.acts_on(s))
    }

    /// One line for the help overlay.
    pub fn description(self) -> &'static str {
        match self {
            Command::Quit => "quit and restore the terminal",
            Command::NextSession => "next session",
            Command::PrevSession => "previous session",
            Command::Up => "move selection up",
            Command::Down => "move selection down",
            Command::NextView => "next detail view",
            Command::PrevView => "previous detail view",
            Command::Help => "show or hide this help",
            Command::Reconnect => "reconnect now (resets the backoff)",
            Command::Record => "start or stop recording",
            Command::Upstream => "show or hide the upstream detail (MEXC, QuestDB)",
            Command::Status => "show the full status: headline, causes, link details",
            Command::BugReport => "write a bug-report bundle",
            Command::Focus => "next list: watchlist, signals, positions, events, trades",
            Command::Open => "open the selected row's full text",
            Command::PageUp => "scroll the focused list a page up",
            Command::PageDown => "scroll the focused list a page down",
            Command::SymbolView => "open or close the selected symbol's chart and book",
            Command::Sort => "watchlist: next sort order",
            Command::SortReverse => "watchlist: reverse the sort",
            Command::Filter => "watchlist: filter symbols (enter keeps, esc clears)",
            Command::ScrollBack => "chart: back through history",
            Command::ScrollForward => "chart: forward, up to the newest candle",
            Command::ZoomIn => "chart: zoom in (wider candles)",
            Command::ZoomOut => "chart: zoom out (more candles)",
            Command::NextInterval => "chart: next timeframe",
            Command::PrevInterval => "chart: previous timeframe",
            Command::Acknowledge => "acknowledge the alert banner (the next one shows)",
            Command::StartStop => "start the session, or stop it (y/n)",
            Command::PauseResume => "pause the strategy (monitor only), or resume it",
            Command::ClosePosition => "close the selected paper position at market (y/n)",
            Command::AddSymbol => "add a symbol to the session",
            Command::RemoveSymbol => "remove the selected symbol from the session (y/n)",
            Command::NewSession => "new session: name, strategy, symbols",
            Command::Session(_) => "jump to session N",
        }
    }

    /// Two commands the help shows on one line (`tab/backtab  next / previous session`), so
    /// every key still fits an 80x24 screen: the partner and the joint description.
    pub fn help_pair(self, screen: Screen) -> Option<(Command, &'static str)> {
        if screen != Screen::Main {
            return None;
        }
        Some(match self {
            Command::Up => (Command::Down, "move selection up / down"),
            Command::NextSession => (Command::PrevSession, "next / previous session"),
            Command::NextView => (Command::PrevView, "next / previous detail view"),
            Command::PageUp => (
                Command::PageDown,
                "scroll the focused list a page up / down",
            ),
            Command::Sort => (Command::SortReverse, "watchlist: next sort order / reverse"),
            // Paired so the main screen's keys still fit an 80x24 help.
            Command::Quit => (Command::Help, "quit / show or hide this help"),
            Command::Record => (
                Command::BugReport,
                "start or stop recording / write a bug-report bundle",
            ),
            Command::Reconnect => (Command::Status, "reconnect now / the full status popup"),
            Command::StartStop => (
                Command::PauseResume,
                "session: start or stop (y/n) / pause or resume",
            ),
            Command::AddSymbol => (
                Command::RemoveSymbol,
                "add a symbol / remove the selected one (y/n)",
            ),
            _ => return None,
        })
    }

    /// The help line in the symbol view, where up/down and open mean something else.
    pub fn description_on(self, screen: Screen) -> &'static str {
        match (self, screen) {
            (Command::Up, Screen::Symbol) => "previous watchlist symbol",
            (Command::Down, Screen::Symbol) => "next watchlist symbol",
            (Command::Open, Screen::Symbol) => "the instance and its last reason in a popup",
            (Command::Open, Screen::Main) => "watchlist: open the symbol view; else full text",
            _ => self.description(),
        }
    }
}

/// A key with modifiers, normalised so config names and terminal events compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    /// Terminals report `R` as `Char('R')` with SHIFT, and Shift-Tab as `BackTab` with SHIFT
    /// on some and without on others: SHIFT is implied by those codes, so drop it.
    pub fn from_event(ev: &KeyEvent) -> Key {
        let mut mods =
            ev.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        if matches!(ev.code, KeyCode::Char(_) | KeyCode::BackTab) {
            mods.remove(KeyModifiers::SHIFT);
        }
        Key {
            code: ev.code,
            mods,
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("ctrl-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("alt-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("shift-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            code => {
                let name = NAMED
                    .iter()
                    .find(|(_, c)| *c == code)
                    .map(|(n, _)| *n)
                    .unwrap_or("?");
                f.write_str(name)
            }
        }
    }
}

const NAMED: &[(&str, KeyCode)] = &[
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("space", KeyCode::Char(' ')),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeymapError {
    BadName {
        action: &'static str,
        name: String,
        why: String,
    },
    Conflict {
        key: String,
        first: &'static str,
        second: &'static str,
    },
}

impl fmt::Display for KeymapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeymapError::BadName { action, name, why } => write!(
                f,
                "tui.keys.{action}: bad key name {name:?}: {why}. Use one character (q, R, ?), \
                 f1-f12, one of {}, optionally prefixed by ctrl-, alt- or shift-",
                NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
            KeymapError::Conflict { key, first, second } => write!(
                f,
                "tui.keys: key {key:?} is bound to both {first} and {second}"
            ),
        }
    }
}

impl std::error::Error for KeymapError {}

impl KeymapError {
    /// The `[tui.keys]` entry at fault (the later of two conflicting ones).
    pub fn config_key(&self) -> String {
        match self {
            KeymapError::BadName { action, .. } => format!("tui.keys.{action}"),
            KeymapError::Conflict { second, .. } => format!("tui.keys.{second}"),
        }
    }
}

/// Parse one key name: `q`, `R`, `?`, `ctrl-c`, `alt-x`, `tab`, `backtab`, `shift-tab`,
/// `up`, `f1`...
pub fn parse_key(name: &str) -> Result<Key, String> {
    let mut mods = KeyModifiers::NONE;
    let mut rest = name;
    // A lone "-" is the minus key, not an empty modifier list.
    while rest.len() > 1 {
        let lower = rest.to_ascii_lowercase();
        let (m, len) = if lower.starts_with("ctrl-") {
            (KeyModifiers::CONTROL, 5)
        } else if lower.starts_with("alt-") {
            (KeyModifiers::ALT, 4)
        } else if lower.starts_with("shift-") {
            (KeyModifiers::SHIFT, 6)
        } else {
            break;
        };
        mods |= m;
        rest = &rest[len..];
    }
    if rest.is_empty() {
        return Err("no key after the modifier".into());
    }
    let mut chars = rest.chars();
    let code = match (chars.next(), chars.next()) {
        (Some(c), None) if !c.is_control() => {
            // Keep the case: `R` and `r` are different keys. ctrl-R is ctrl-r to terminals.
            if mods.contains(KeyModifiers::CONTROL) {
                KeyCode::Char(c.to_ascii_lowercase())
            } else if mods.contains(KeyModifiers::SHIFT) && c.is_ascii_alphabetic() {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c.to_ascii_uppercase())
            } else {
                KeyCode::Char(c)
            }
        }
        _ => {
            let lower = rest.to_ascii_lowercase();
            if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                if !(1..=12).contains(&n) {
                    return Err(format!("function keys go from f1 to f12, not f{n}"));
                }
                KeyCode::F(n)
            } else if lower == "shift-tab" || (lower == "tab" && mods.contains(KeyModifiers::SHIFT))
            {
                mods.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            } else if let Some((_, code)) = NAMED.iter().find(|(n, _)| *n == lower) {
                *code
            } else {
                return Err("unknown key".into());
            }
        }
    };
    let key = Key { code, mods };
    // Normalise the same way as terminal events so lookups compare equal.
    Ok(Key::from_event(&KeyEvent::new(key.code, key.mods)))
}

/// One help line: a command and the keys bound to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub command: Command,
    pub keys: Vec<Key>,
}

/// Keys -> commands. Digits 1-9 always jump to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    bindings: Vec<Binding>,
}

/// Every problem with `[tui.keys]` (bad names, a key bound twice, a digit taken from the
/// session keys), all at once. `config --check` and start both call this; the TUI refuses
/// exactly what it reports.
pub fn check(keys: &KeysConfig) -> Vec<KeymapError> {
    Keymap::build(keys).1
}

impl Keymap {
    /// The keymap, or the first problem `check` reports.
    pub fn from_config(keys: &KeysConfig) -> Result<Keymap, KeymapError> {
        let (keymap, problems) = Keymap::build(keys);
        match problems.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(keymap),
        }
    }

    /// The keymap from the names that parse, and every problem found on the way.
    fn build(keys: &KeysConfig) -> (Keymap, Vec<KeymapError>) {
        let mut problems = Vec::new();
        let table: [(Command, &Vec<String>); 34] = [
            (Command::Quit, &keys.quit),
            (Command::NextSession, &keys.next_session),
            (Command::PrevSession, &keys.prev_session),
            (Command::Up, &keys.up),
            (Command::Down, &keys.down),
            (Command::NextView, &keys.next_view),
            (Command::PrevView, &keys.prev_view),
            (Command::Help, &keys.help),
            (Command::Reconnect, &keys.reconnect),
            (Command::Record, &keys.record),
            (Command::Upstream, &keys.upstream),
            (Command::Status, &keys.status),
            (Command::BugReport, &keys.bug_report),
            (Command::Focus, &keys.focus),
            (Command::Open, &keys.open),
            (Command::PageUp, &keys.page_up),
            (Command::PageDown, &keys.page_down),
            (Command::SymbolView, &keys.symbol_view),
            (Command::Sort, &keys.sort),
            (Command::SortReverse, &keys.sort_reverse),
            (Command::Filter, &keys.filter),
            (Command::ScrollBack, &keys.scroll_back),
            (Command::ScrollForward, &keys.scroll_forward),
            (Command::ZoomIn, &keys.zoom_in),
            (Command::ZoomOut, &keys.zoom_out),
            (Command::NextInterval, &keys.next_interval),
            (Command::PrevInterval, &keys.prev_interval),
            (Command::Acknowledge, &keys.acknowledge),
            (Command::StartStop, &keys.start_stop),
            (Command::PauseResume, &keys.pause_resume),
            (Command::ClosePosition, &keys.close_position),
            (Command::AddSymbol, &keys.add_symbol),
            (Command::RemoveSymbol, &keys.remove_symbol),
            (Command::NewSession, &keys.new_session),
        ];
        let mut bindings: Vec<Binding> = Vec::new();
        for (command, names) in table {
            let mut parsed = Vec::new();
            for name in names {
                let key = match parse_key(name) {
                    Ok(key) => key,
                    Err(why) => {
                        problems.push(KeymapError::BadName {
                            action: command.name(),
                            name: name.clone(),
                            why,
                        });
                        continue;
                    }
                };
                if let Some(first) =
                    digit_session(&key)
                        .map(|_| "session (digits 1-9)")
                        .or_else(|| {
                            bindings
                                .iter()
                                .find(|b| {
                                    b.keys.contains(&key) && b.command.shares_a_screen(command)
                                })
                                .map(|b| b.command.name())
                        })
                {
                    problems.push(KeymapError::Conflict {
                        key: key.to_string(),
                        first,
                        second: command.name(),
                    });
                    continue;
                }
                if !parsed.contains(&key) {
                    parsed.push(key);
                }
            }
            bindings.push(Binding {
                command,
                keys: parsed,
            });
        }
        (Keymap { bindings }, problems)
    }

    /// The command of a key on the main screen.
    pub fn lookup(&self, ev: &KeyEvent) -> Option<Command> {
        self.lookup_on(ev, Screen::Main)
    }

    /// The command of a key on `screen` (the digits jump to a session on the main screen).
    pub fn lookup_on(&self, ev: &KeyEvent, screen: Screen) -> Option<Command> {
        let key = Key::from_event(ev);
        if let Some(n) = digit_session(&key) {
            return (screen == Screen::Main).then_some(Command::Session(n));
        }
        self.bindings
            .iter()
            .find(|b| b.keys.contains(&key) && b.command.acts_on(screen))
            .map(|b| b.command)
    }

    /// Every command with its keys, in a stable order, for the help overlay.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// Keys of one command joined for display (`q, ctrl-c`), for hints in the header.
    pub fn keys_for(&self, command: Command) -> String {
        self.bindings
            .iter()
            .find(|b| b.command == command)
            .map(|b| {
                b.keys
                    .iter()
                    .map(Key::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    }
}

fn digit_session(key: &Key) -> Option<usize> {
    match key.code {
        KeyCode::Char(c @ '1'..='9') if key.mods.is_empty() => Some(c as usize - '1' as usize),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::default_tui;

    fn ev(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn parses_names_from_the_default_config() {
        let km = Keymap::from_config(&default_tui().keys).expect("defaults parse");
        let none = KeyModifiers::NONE;
        assert_eq!(
            km.lookup(&ev(KeyCode::Char('q'), none)),
            Some(Command::Quit)
        );
        assert_eq!(
            km.lookup(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Command::Quit)
        );
        assert_eq!(
            km.lookup(&ev(KeyCode::Tab, none)),
            Some(Command::NextSession)
        );
        // Some terminals add SHIFT to BackTab and to upper-case letters.
        assert_eq!(
            km.lookup(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Command::PrevSession)
        );
        assert_eq!(
            km.lookup(&ev(KeyCode::Char('R'), KeyModifiers::SHIFT)),
            Some(Command::Record)
        );
        assert_eq!(
            km.lookup(&ev(KeyCode::Char('r'), none)),
            Some(Command::Reconnect)
        );
        assert_eq!(
            km.lookup(&ev(KeyCode::Char('3'), none)),
            Some(Command::Session(2))
        );
        assert_eq!(km.lookup(&ev(KeyCode::Char('0'), none)), None);
        assert_eq!(km.lookup(&ev(KeyCode::Char('x'), none)), None);
        assert_eq!(km.keys_for(Command::Quit), "q, ctrl-c");
    }

    #[test]
    fn key_names() {
        assert_eq!(parse_key("f1").map(|k| k.code), Ok(KeyCode::F(1)));
        assert_eq!(parse_key("shift-tab").map(|k| k.code), Ok(KeyCode::BackTab));
        assert_eq!(parse_key("-").map(|k| k.code), Ok(KeyCode::Char('-')));
        assert_eq!(parse_key("ctrl-C"), parse_key("ctrl-c"));
        assert_eq!(parse_key("shift-r"), parse_key("R"));
        assert!(parse_key("f13").is_err());
        assert!(parse_key("ctrl-").is_err());
        assert!(parse_key("escape").is_err());
    }

    #[test]
    fn bad_names_and_conflicts_are_clear_errors() {
        let mut keys = default_tui().keys;
        keys.help = vec!["hlep".into()];
        let err = Keymap::from_config(&keys).unwrap_err().to_string();
        assert!(
            err.contains("tui.keys.help") && err.contains("\"hlep\""),
            "{err}"
        );

        let mut keys = default_tui().keys;
        keys.record = vec!["q".into()];
        let err = Keymap::from_config(&keys).unwrap_err().to_string();
        assert!(err.contains("quit") && err.contains("record"), "{err}");

        let mut keys = default_tui().keys;
        keys.up = vec!["1".into()];
        assert!(Keymap::from_config(&keys).is_err(), "digits are reserved");

        // The symbol view's keys may not take a key that acts there already (up/down do).
        let mut keys = default_tui().keys;
        keys.zoom_in = vec!["k".into()];
        let err = Keymap::from_config(&keys).unwrap_err().to_string();
        assert!(err.contains("up") && err.contains("zoom_in"), "{err}");
    }

    #[test]
    fn one_key_means_one_thing_per_screen() {
        let km = Keymap::from_config(&default_tui().keys).expect("defaults parse");
        let none = KeyModifiers::NONE;
        let on = |code, screen| km.lookup_on(&ev(code, none), screen);
        // `left`: the previous detail view on the main screen, back in history on the chart.
        assert_eq!(on(KeyCode::Left, Screen::Main), Some(Command::PrevView));
        assert_eq!(on(KeyCode::Left, Screen::Symbol), Some(Command::ScrollBack));
        assert_eq!(
            on(KeyCode::Right, Screen::Symbol),
            Some(Command::ScrollForward)
        );
        // The chart's keys do nothing on the main screen, the list keys nothing on the chart;
        // `+`/`-` zoom the chart but add and remove symbols on the main screen.
        assert_eq!(on(KeyCode::Char('t'), Screen::Main), None);
        assert_eq!(
            on(KeyCode::Char('+'), Screen::Main),
            Some(Command::AddSymbol)
        );
        assert_eq!(
            on(KeyCode::Char('+'), Screen::Symbol),
            Some(Command::ZoomIn)
        );
        assert_eq!(
            on(KeyCode::Char('-'), Screen::Main),
            Some(Command::RemoveSymbol)
        );
        assert_eq!(
            on(KeyCode::Char('S'), Screen::Symbol),
            None,
            "no session control there"
        );
        assert_eq!(on(KeyCode::Char('f'), Screen::Symbol), None);
        assert_eq!(
            on(KeyCode::Char('2'), Screen::Symbol),
            None,
            "no session jumps"
        );
        // Everywhere: quit, help, the symbol view toggle, up/down.
        for screen in [Screen::Main, Screen::Symbol] {
            assert_eq!(on(KeyCode::Char('q'), screen), Some(Command::Quit));
            assert_eq!(on(KeyCode::Char('c'), screen), Some(Command::SymbolView));
            assert_eq!(on(KeyCode::Down, screen), Some(Command::Down));
        }
        assert_eq!(
            on(KeyCode::Char('t'), Screen::Symbol),
            Some(Command::NextInterval)
        );
        assert_eq!(
            km.lookup_on(&ev(KeyCode::Char('T'), KeyModifiers::SHIFT), Screen::Symbol),
            Some(Command::PrevInterval)
        );
        assert_eq!(
            on(KeyCode::Char('-'), Screen::Symbol),
            Some(Command::ZoomOut)
        );
        assert_eq!(
            on(KeyCode::Char('='), Screen::Symbol),
            Some(Command::ZoomIn)
        );
    }

    #[test]
    fn check_reports_every_problem_at_once() {
        assert_eq!(check(&default_tui().keys), vec![]);
        let mut keys = default_tui().keys;
        keys.help = vec!["hlep".into()];
        keys.record = vec!["q".into()];
        keys.up = vec!["2".into()];
        let problems: Vec<String> = check(&keys).iter().map(|e| e.to_string()).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("hlep")), "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("quit") && p.contains("record")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("digits")),
            "{problems:?}"
        );
    }
}
