//! Commands sent from the keyboard over the one WebSocket (`ClientCommand::Request`): each
//! gets an id, waits for the backend's `result` or `error` with that id, and the status line
//! says what was asked and what came back: `… stop session majors`, then `✓ session majors
//! stopped` or `✕ close BTC_USDT: …`, with the age of the answer, or that no answer came
//! within `tui.command_timeout_ms`. Every step is logged (`tui.command*` events).
//!
//! The scanner's add/remove keys (app/scanner on its branch) keep the same shape (`Commands`,
//! `CommandStatus`, `Outcome`, `on_command_reply`, `expire_commands`), so one of the two
//! copies goes when both are on one branch.

use super::App;
use crate::action::Effect;
use std::collections::BTreeMap;
use trademon_client::ClientCommand;
use trademon_protocol::{ClientMsg, ServerMsg};

/// What became of a command sent from the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    Done,
    Failed,
}

impl Outcome {
    /// The status line's marker, so the outcome reads without colour.
    pub fn mark(self) -> &'static str {
        match self {
            Outcome::Sent => "…",
            Outcome::Done => "✓",
            Outcome::Failed => "✕",
        }
    }
}

/// The status line of the last command: what was asked and what the backend answered.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandStatus {
    pub id: u64,
    pub text: String,
    pub outcome: Outcome,
    /// Client clock when it was sent or answered.
    pub at_ms: i64,
}

/// Commands in flight, paired with their replies by id. Ids start far above the connection's
/// own subscribe ids so the two never meet.
#[derive(Debug, Clone)]
pub struct Commands {
    next_id: u64,
    /// id -> (what it asked, client clock when sent).
    pending: BTreeMap<u64, (String, i64)>,
    pub last: Option<CommandStatus>,
}

impl Default for Commands {
    fn default() -> Self {
        Commands {
            next_id: 1 << 40,
            pending: BTreeMap::new(),
            last: None,
        }
    }
}

impl App {
    /// The last keyboard command and its answer.
    pub fn command_status(&self) -> Option<&CommandStatus> {
        self.commands.last.as_ref()
    }

    /// The status line now: the last command while it waits for its answer, and its answer
    /// for `tui.command_status_ms` after it came, with its age; `None` after that.
    pub fn command_line(&self) -> Option<(Outcome, String)> {
        let last = self.commands.last.as_ref()?;
        let age = (self.now_ms - last.at_ms).max(0);
        let age_text = crate::format::age(age);
        match last.outcome {
            Outcome::Sent => Some((last.outcome, format!("{} (sent {age_text} ago)", last.text))),
            _ if age as u64 >= self.command_status_ms => None,
            _ => Some((last.outcome, format!("{} · {age_text} ago", last.text))),
        }
    }

    /// Sends `make(id)` for `what` (`stop session majors`) when the link can carry it; the
    /// status line says it went, or why it did not.
    pub(super) fn send_command(
        &mut self,
        what: String,
        make: impl FnOnce(u64) -> ClientMsg,
    ) -> Vec<Effect> {
        if !crate::headline::link_delivers(self.link.state) {
            self.command_failed(0, format!("{what}: not sent, the backend link is down"));
            return Vec::new();
        }
        let id = self.commands.next_id;
        self.commands.next_id += 1;
        let msg = make(id);
        tracing::info!(event = "tui.command", id, what = %what, request = ?msg);
        self.commands
            .pending
            .insert(id, (what.clone(), self.now_ms));
        self.commands.last = Some(CommandStatus {
            id,
            text: what,
            outcome: Outcome::Sent,
            at_ms: self.now_ms,
        });
        self.dirty = true;
        vec![Effect::Client(ClientCommand::Request(msg))]
    }

    /// A command that failed or was refused before it was sent (id 0), or answered with an
    /// error.
    pub(super) fn command_failed(&mut self, id: u64, text: String) {
        tracing::warn!(event = "tui.command_failed", id, reason = %text);
        self.commands.last = Some(CommandStatus {
            id,
            text,
            outcome: Outcome::Failed,
            at_ms: self.now_ms,
        });
        self.dirty = true;
    }

    /// A cancelled prompt or confirmation: said on the status line, nothing sent.
    pub(super) fn command_cancelled(&mut self, what: &str) {
        tracing::info!(event = "tui.command_cancelled", what = %what);
        self.commands.last = Some(CommandStatus {
            id: 0,
            text: format!("{what}: cancelled"),
            outcome: Outcome::Failed,
            at_ms: self.now_ms,
        });
        self.dirty = true;
    }

    /// A `result` or `error` answering one of our commands.
    pub(super) fn on_command_reply(&mut self, msg: &ServerMsg) {
        let (id, ok, text) = match msg {
            ServerMsg::Result(r) => (r.id, r.ok, r.message.clone().unwrap_or_default()),
            ServerMsg::Error(e) => match e.id {
                Some(id) => (id, false, e.message.clone()),
                None => return,
            },
            _ => return,
        };
        let Some((what, _)) = self.commands.pending.remove(&id) else {
            return;
        };
        if ok {
            tracing::info!(event = "tui.command_done", id, what = %what, answer = %text);
            let text = if text.is_empty() {
                format!("{what}: done")
            } else {
                text
            };
            self.commands.last = Some(CommandStatus {
                id,
                text,
                outcome: Outcome::Done,
                at_ms: self.now_ms,
            });
            self.dirty = true;
        } else {
            self.command_failed(id, format!("{what}: {text}"));
        }
    }

    /// Commands without an answer after `tui.command_timeout_ms` are shown as unanswered.
    pub(super) fn expire_commands(&mut self) {
        let limit = self.command_timeout_ms as i64;
        let now = self.now_ms;
        let expired: Vec<(u64, String)> = self
            .commands
            .pending
            .iter()
            .filter(|(_, (_, sent))| now - sent >= limit)
            .map(|(id, (what, _))| (*id, what.clone()))
            .collect();
        for (id, what) in expired {
            self.commands.pending.remove(&id);
            self.command_failed(
                id,
                format!("{what}: no answer within {} s", limit.max(0) / 1000),
            );
        }
    }
}
