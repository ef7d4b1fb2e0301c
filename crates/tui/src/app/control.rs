//! Control from the keyboard: start or stop the active session, pause or resume its strategy,
//! close the selected paper position at market, add a symbol (a one-line prompt), remove the
//! selected one, create a session (a small form). Each ends as one WebSocket op (`Request`),
//! sent through `commands`, whose answer the status line shows.
//!
//! What cannot be undone (stop, close a position, remove a symbol) asks `y`/`n` first; the
//! question names what will happen. While a prompt, a question or the form is open every key
//! goes to it (Ctrl-C still quits), so nothing changes unseen behind it.

use super::App;
use crate::action::Effect;
use crate::keymap::Command;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use trademon_client::ClientCommand;
use trademon_protocol::{ClientMsg, SessionInfo, SessionState, is_valid_symbol};

/// A session the form asks the backend to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub id: String,
    pub name: String,
    pub strategy: String,
    pub symbols: Vec<String>,
}

/// What a key asks the backend to do, once confirmed where it must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Start { session: String },
    Stop { session: String },
    Pause { session: String },
    Resume { session: String },
    ClosePosition { session: String, symbol: String },
    AddSymbol { session: String, symbol: String },
    RemoveSymbol { session: String, symbol: String },
    Create(NewSession),
}

impl Request {
    /// What the status line says was asked: `stop session majors`.
    pub fn describe(&self) -> String {
        match self {
            Request::Start { session } => format!("start session {session}"),
            Request::Stop { session } => format!("stop session {session}"),
            Request::Pause { session } => format!("pause the strategy of session {session}"),
            Request::Resume { session } => format!("resume the strategy of session {session}"),
            Request::ClosePosition { session, symbol } => {
                format!("close {symbol} of session {session} at market")
            }
            Request::AddSymbol { session, symbol } => format!("add {symbol} to session {session}"),
            Request::RemoveSymbol { session, symbol } => {
                format!("remove {symbol} from session {session}")
            }
            Request::Create(s) => format!("create session {}", s.id),
        }
    }

    /// The op as it goes over the WebSocket (docs/protocol.md, "Commands").
    pub fn to_msg(&self, id: u64) -> ClientMsg {
        match self.clone() {
            Request::Start { session } => ClientMsg::StartSession {
                id,
                session_id: session,
            },
            Request::Stop { session } => ClientMsg::StopSession {
                id,
                session_id: session,
            },
            Request::Pause { session } => ClientMsg::PauseStrategy {
                id,
                session_id: session,
            },
            Request::Resume { session } => ClientMsg::ResumeStrategy {
                id,
                session_id: session,
            },
            Request::ClosePosition { session, symbol } => ClientMsg::ClosePosition {
                id,
                session_id: session,
                symbol,
            },
            Request::AddSymbol { session, symbol } => ClientMsg::AddSymbol {
                id,
                session_id: session,
                symbol,
            },
            Request::RemoveSymbol { session, symbol } => ClientMsg::RemoveSymbol {
                id,
                session_id: session,
                symbol,
            },
            Request::Create(s) => ClientMsg::CreateSession {
                id,
                session_id: s.id,
                name: Some(s.name),
                strategy: s.strategy,
                symbols: s.symbols,
            },
        }
    }
}

/// The field of the new-session form that takes the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormField {
    Name,
    Strategy,
    Symbols,
}

impl FormField {
    pub const ALL: [FormField; 3] = [FormField::Name, FormField::Strategy, FormField::Symbols];

    pub fn label(self) -> &'static str {
        match self {
            FormField::Name => "Name",
            FormField::Strategy => "Strategy",
            FormField::Symbols => "Symbols",
        }
    }

    fn step(self, delta: isize) -> FormField {
        let n = FormField::ALL.len() as isize;
        let i = FormField::ALL.iter().position(|f| *f == self).unwrap_or(0) as isize;
        FormField::ALL[(i + delta).rem_euclid(n) as usize]
    }
}

/// The new-session form: three lines of text and the field being typed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionForm {
    pub name: String,
    pub strategy: String,
    /// Symbols separated by commas or spaces; typed upper case.
    pub symbols: String,
    pub field: FormField,
    /// Why the last `enter` did not submit.
    pub error: Option<String>,
}

impl SessionForm {
    pub fn new(strategy: &str) -> SessionForm {
        SessionForm {
            name: String::new(),
            strategy: strategy.to_string(),
            symbols: String::new(),
            field: FormField::Name,
            error: None,
        }
    }

    pub fn text(&self, field: FormField) -> &str {
        match field {
            FormField::Name => &self.name,
            FormField::Strategy => &self.strategy,
            FormField::Symbols => &self.symbols,
        }
    }

    fn text_mut(&mut self) -> &mut String {
        match self.field {
            FormField::Name => &mut self.name,
            FormField::Strategy => &mut self.strategy,
            FormField::Symbols => &mut self.symbols,
        }
    }

    /// The session id the name gives: lower case letters and digits, other runs of
    /// characters one `-` (`Alts 2` -> `alts-2`).
    pub fn id(&self) -> String {
        session_id_from(&self.name)
    }

    /// The session to create, or the first problem in words (the backend checks the same
    /// again; this only saves a round trip for what the screen can already tell).
    pub fn validate(&self, sessions: &[SessionInfo]) -> Result<NewSession, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("type a name for the session".into());
        }
        let id = self.id();
        if id.is_empty() {
            return Err("the name needs a letter or a digit (it gives the id)".into());
        }
        if sessions.iter().any(|s| s.id == id) {
            return Err(format!("session id {id} is in use: choose another name"));
        }
        if sessions.iter().any(|s| s.name.trim() == name) {
            return Err(format!("a session is named {name:?} already"));
        }
        let strategy = self.strategy.trim();
        if strategy.is_empty() {
            return Err("type a strategy (as configured, e.g. default)".into());
        }
        let symbols = parse_symbols(&self.symbols);
        if symbols.is_empty() {
            return Err("add at least one symbol, e.g. BTC_USDT".into());
        }
        for (i, sym) in symbols.iter().enumerate() {
            if !is_valid_symbol(sym) {
                return Err(format!("{sym} is not a MEXC futures symbol like BTC_USDT"));
            }
            if symbols[..i].contains(sym) {
                return Err(format!("{sym} is listed twice"));
            }
        }
        Ok(NewSession {
            id,
            name: name.to_string(),
            strategy: strategy.to_string(),
            symbols,
        })
    }
}

/// `Alts 2` -> `alts-2`: what the backend accepts as an id (letters, digits, `-`, `_`).
pub fn session_id_from(name: &str) -> String {
    let mut id = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            id.push(c.to_ascii_lowercase());
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    id.trim_end_matches('-').to_string()
}

/// `btc_usdt, eth_usdt sol_usdt` -> `[BTC_USDT, ETH_USDT, SOL_USDT]`.
pub fn parse_symbols(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_uppercase)
        .collect()
}

/// What takes the keys over the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    /// A question answered `y` (send `request`) or `n`/esc (nothing sent).
    Confirm {
        question: String,
        request: Request,
    },
    /// The symbol to add to `session` (its id), typed on one line.
    AddSymbol {
        session: String,
        name: String,
        text: String,
        error: Option<String>,
    },
    NewSession(SessionForm),
}

impl App {
    /// The prompt, question or form on screen, if any.
    pub fn modal(&self) -> Option<&Modal> {
        self.modal.as_ref()
    }

    /// One of the control keys on the main screen.
    pub(super) fn on_control_command(&mut self, command: Command) -> Vec<Effect> {
        let Some(session) = self.active_session().cloned() else {
            self.command_failed(0, "no session yet: the session list has not arrived".into());
            return Vec::new();
        };
        let id = session.id.clone();
        match command {
            Command::StartStop => match session.state {
                SessionState::Running | SessionState::Starting => {
                    let open = self.model.positions.get(&id).map_or(0, |m| m.len());
                    let positions = match open {
                        0 => "It has no open paper position.".to_string(),
                        1 => "Its open paper position closes at market.".to_string(),
                        n => format!("Its {n} open paper positions close at market."),
                    };
                    self.confirm(
                        format!("Stop session {}? {positions}", session.name),
                        Request::Stop { session: id },
                    )
                }
                SessionState::Stopped | SessionState::Failed => {
                    self.request(Request::Start { session: id })
                }
            },
            Command::PauseResume if session.paused => self.request(Request::Resume { session: id }),
            Command::PauseResume => self.request(Request::Pause { session: id }),
            Command::ClosePosition => self.ask_close_position(&session),
            Command::AddSymbol => {
                self.modal = Some(Modal::AddSymbol {
                    session: id,
                    name: session.name.clone(),
                    text: String::new(),
                    error: None,
                });
                self.dirty = true;
                Vec::new()
            }
            Command::RemoveSymbol => {
                let Some(symbol) = self.selected_symbol().map(str::to_string) else {
                    self.command_failed(0, "remove: no watchlist row is selected".into());
                    return Vec::new();
                };
                let has_position = self
                    .model
                    .positions
                    .get(&id)
                    .is_some_and(|m| m.contains_key(&symbol));
                let tail = if has_position {
                    " Its open paper position closes at market."
                } else {
                    ""
                };
                self.confirm(
                    format!("Remove {symbol} from session {}?{tail}", session.name),
                    Request::RemoveSymbol {
                        session: id,
                        symbol,
                    },
                )
            }
            Command::NewSession => {
                self.modal = Some(Modal::NewSession(SessionForm::new(&session.strategy)));
                self.dirty = true;
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// The position to close: the Positions list's selected row when it has the focus, else
    /// the selected watchlist symbol's.
    fn ask_close_position(&mut self, session: &SessionInfo) -> Vec<Effect> {
        let symbol = if self.focus == super::Focus::Positions {
            self.shown_positions()
                .nth(self.cursor(super::Focus::Positions))
                .map(|p| p.symbol.clone())
        } else {
            self.selected_symbol().map(str::to_string)
        };
        let Some(symbol) = symbol else {
            self.command_failed(0, "close: no position or watchlist row is selected".into());
            return Vec::new();
        };
        let Some(p) = self
            .model
            .positions
            .get(&session.id)
            .and_then(|m| m.get(&symbol))
        else {
            self.command_failed(
                0,
                format!(
                    "close {symbol}: no open paper position in session {}",
                    session.id
                ),
            );
            return Vec::new();
        };
        let d = self.price_decimals(&symbol);
        let question = format!(
            "Close the {symbol} {} position ({} USDT, {}x, mark {}, PnL {} USDT) at market in \
             session {}?",
            p.direction,
            crate::format::fit_number(p.size_quote, 2, 12),
            crate::format::fit_number(p.leverage, 0, 6),
            crate::format::price_in(p.mark_price, d, 14),
            crate::format::signed(p.unrealized_pnl - p.fees, 12),
            session.name
        );
        let request = Request::ClosePosition {
            session: session.id.clone(),
            symbol,
        };
        self.confirm(question, request)
    }

    fn confirm(&mut self, question: String, request: Request) -> Vec<Effect> {
        tracing::info!(event = "tui.confirm", question = %question);
        self.modal = Some(Modal::Confirm { question, request });
        self.dirty = true;
        Vec::new()
    }

    fn request(&mut self, request: Request) -> Vec<Effect> {
        self.send_command(request.describe(), |id| request.to_msg(id))
    }

    /// Every key while a prompt, a question or the form is open.
    pub(super) fn on_modal_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let Some(modal) = self.modal.take() else {
            return Vec::new();
        };
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return vec![Effect::Client(ClientCommand::Shutdown), Effect::Quit];
        }
        let was_dirty = self.dirty;
        self.dirty = true;
        let typed = match key.code {
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                Some(c)
            }
            _ => None,
        };
        match modal {
            Modal::Confirm { question, request } => match key.code {
                KeyCode::Char('y' | 'Y') => return self.request(request),
                KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                    self.command_cancelled(&request.describe())
                }
                // Anything else leaves the question up: only y sends.
                _ => {
                    self.dirty = was_dirty;
                    self.modal = Some(Modal::Confirm { question, request });
                }
            },
            Modal::AddSymbol {
                session,
                name,
                mut text,
                error,
            } => {
                let mut error = error;
                match key.code {
                    KeyCode::Esc => {
                        self.command_cancelled(&format!("add a symbol to session {session}"));
                        return Vec::new();
                    }
                    KeyCode::Enter => {
                        let symbol = text.trim().to_ascii_uppercase();
                        let has = self
                            .model
                            .sessions
                            .iter()
                            .any(|s| s.id == session && s.symbols.contains(&symbol));
                        error = if !is_valid_symbol(&symbol) {
                            Some(format!(
                                "{symbol:?} is not a MEXC futures symbol like BTC_USDT"
                            ))
                        } else if has {
                            Some(format!("{name} has {symbol} already"))
                        } else {
                            return self.request(Request::AddSymbol { session, symbol });
                        };
                    }
                    KeyCode::Backspace => {
                        text.pop();
                    }
                    _ => {
                        if let Some(c) = typed.filter(|c| !c.is_whitespace()) {
                            text.push(c.to_ascii_uppercase());
                        }
                    }
                }
                self.modal = Some(Modal::AddSymbol {
                    session,
                    name,
                    text,
                    error,
                });
            }
            Modal::NewSession(mut form) => {
                match key.code {
                    KeyCode::Esc => {
                        self.command_cancelled("create a session");
                        return Vec::new();
                    }
                    KeyCode::Enter => match form.validate(&self.model.sessions) {
                        Ok(new) => return self.request(Request::Create(new)),
                        Err(why) => form.error = Some(why),
                    },
                    KeyCode::Tab | KeyCode::Down => form.field = form.field.step(1),
                    KeyCode::BackTab | KeyCode::Up => form.field = form.field.step(-1),
                    KeyCode::Backspace => {
                        form.text_mut().pop();
                    }
                    _ => {
                        if let Some(c) = typed {
                            let c = if form.field == FormField::Symbols {
                                c.to_ascii_uppercase()
                            } else {
                                c
                            };
                            form.text_mut().push(c);
                        }
                    }
                }
                self.modal = Some(Modal::NewSession(form));
            }
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_names() {
        assert_eq!(session_id_from("Alts 2"), "alts-2");
        assert_eq!(session_id_from("  Meme coins!! "), "meme-coins");
        assert_eq!(session_id_from("top_10"), "top_10");
        assert_eq!(session_id_from("€€"), "");
        assert_eq!(session_id_from("Böse Wölfe"), "b-se-w-lfe");
    }

    #[test]
    fn symbols_split_on_commas_and_spaces_upper_case() {
        assert_eq!(
            parse_symbols(" btc_usdt,eth_usdt  sol_usdt,, "),
            vec!["BTC_USDT", "ETH_USDT", "SOL_USDT"]
        );
        assert!(parse_symbols(" , ").is_empty());
    }

    #[test]
    fn requests_become_the_documented_ops() {
        let r = Request::ClosePosition {
            session: "majors".into(),
            symbol: "BTC_USDT".into(),
        };
        assert_eq!(r.describe(), "close BTC_USDT of session majors at market");
        let json = serde_json::to_string(&r.to_msg(21)).unwrap();
        assert_eq!(
            json,
            r#"{"op":"close_position","id":21,"session_id":"majors","symbol":"BTC_USDT"}"#
        );
        let json = serde_json::to_string(
            &Request::Pause {
                session: "majors".into(),
            }
            .to_msg(19),
        )
        .unwrap();
        assert_eq!(
            json,
            r#"{"op":"pause_strategy","id":19,"session_id":"majors"}"#
        );
    }
}
