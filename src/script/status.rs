//! `trademon status`: one look at the backend over the one WebSocket, then a summary and an
//! exit code a cron job or a pager can use.
//!
//! It follows `sessions` and `health`, then `market_data` and `positions` of every session,
//! and judges with the TUI's own headline (`tui::headline`: the client link, the backend's
//! market link, the freshness of the running sessions' rows). It stops as soon as every first
//! snapshot is in and the headline is Live (exit 0); when the backend cannot be reached or the
//! link drops (exit 1, with the reason); or at the deadline, with what it has then (exit 1).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::mpsc;
use trademon_client::link::{LinkState, LinkStatus};
use trademon_client::model::{Applied, ClientModel};
use trademon_client::{ClientCommand, ClientEvent, ClientHandle, Subscription};
use trademon_protocol::{
    CloseInfo, Health, PositionInfo, ServerMsg, SessionInfo, SessionState, SessionTotals,
    StreamName, now_ms,
};
use trademon_tui::headline::{self, Freshness, Inputs, Level, Upstream};

#[derive(Debug, Clone)]
pub struct StatusOptions {
    /// `script.status_timeout_ms` or `--timeout-ms`.
    pub timeout: Duration,
    /// The watchlist's stale rule (`tui.stale_after_ms`).
    pub stale_after_ms: u64,
    /// How long the close handshake may take at the end.
    pub close_timeout: Duration,
}

/// The verdict, mildest first. `unreachable`: the backend was never reached, or the link to
/// it dropped while looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusLevel {
    Live,
    Degraded,
    NoData,
    Connecting,
    Reconnecting,
    Disconnected,
    Unreachable,
}

impl StatusLevel {
    /// 0 only for Live (simulated included); anything else is 1. Usage errors are 2 (clap,
    /// config) and never get this far.
    pub fn exit_code(self) -> u8 {
        match self {
            StatusLevel::Live => 0,
            _ => 1,
        }
    }
}

/// What `status --json` prints: one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Always `status`.
    #[serde(rename = "type")]
    pub kind: String,
    pub ts: i64,
    pub level: StatusLevel,
    /// The TUI's headline words (`● Live (simulated)`, `◐ Degraded — MEXC REST fallback`).
    pub headline: String,
    pub reasons: Vec<String>,
    pub exit_code: u8,
    pub link: LinkReport,
    /// The backend run (changes on every backend start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// The `health` stream's data as last received: market source, upstream (MEXC or the
    /// simulator) with its subscriptions and cause, the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_age_ms: Option<i64>,
    pub sessions: Vec<SessionReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkReport {
    pub state: LinkState,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Why the backend could not be reached (the last connect error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_close: Option<CloseInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionReport {
    #[serde(flatten)]
    pub info: SessionInfo,
    /// The session's symbols by the watchlist's rule.
    pub rows: Rows,
    pub open_positions: Vec<PositionInfo>,
    /// Realized and unrealized PnL, fees, counts; absent until its snapshot came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<SessionTotals>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rows {
    pub total: usize,
    /// Data older than `tui.stale_after_ms`.
    pub stale: usize,
    /// No data yet.
    pub missing: usize,
}

pub fn initial_subscriptions() -> BTreeSet<Subscription> {
    [StreamName::Sessions, StreamName::Health]
        .into_iter()
        .map(|stream| Subscription {
            stream,
            session_id: None,
        })
        .collect()
}

/// The per-session streams the summary needs, for every session.
fn desired(sessions: &[SessionInfo]) -> BTreeSet<Subscription> {
    let mut set = initial_subscriptions();
    for s in sessions {
        for stream in [StreamName::MarketData, StreamName::Positions] {
            set.insert(Subscription {
                stream,
                session_id: Some(s.id.clone()),
            });
        }
    }
    set
}

/// How the wait ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Live,
    Deadline,
    /// Never connected, refused, or lost while looking.
    Unreachable,
}

/// Everything the summary is built from.
pub struct Observed {
    model: ClientModel,
    link: LinkStatus,
    ever_up: bool,
}

impl Observed {
    pub fn new(url: &str) -> Self {
        Observed {
            model: ClientModel::new(1),
            link: LinkStatus::new(url),
            ever_up: false,
        }
    }

    /// Every first snapshot is in: sessions, health, and each session's rows and book.
    fn complete(&self) -> bool {
        let m = &self.model;
        m.last_seq(StreamName::Sessions, None).is_some()
            && m.health.is_some()
            && m.sessions.iter().all(|s| {
                m.last_seq(StreamName::MarketData, Some(&s.id)).is_some()
                    && m.last_seq(StreamName::Positions, Some(&s.id)).is_some()
            })
    }

    fn rows(&self, s: &SessionInfo, stale_after_ms: u64, now: i64) -> Rows {
        let market = self.model.market.get(&s.id);
        let mut r = Rows {
            total: s.symbols.len(),
            ..Rows::default()
        };
        for sym in &s.symbols {
            match market.and_then(|m| m.get(sym)) {
                None => r.missing += 1,
                // The watchlist's rule (`tui::app::is_stale`).
                Some(t) if t.age_ms(now) >= 0 && t.age_ms(now) as u64 >= stale_after_ms => {
                    r.stale += 1
                }
                Some(_) => {}
            }
        }
        r
    }

    /// The running sessions' rows together: a stopped session's rows do not move.
    fn freshness(&self, stale_after_ms: u64, now: i64) -> Freshness {
        let mut f = Freshness::default();
        for s in self
            .model
            .sessions
            .iter()
            .filter(|s| s.state == SessionState::Running)
        {
            let r = self.rows(s, stale_after_ms, now);
            f.total += r.total;
            f.stale += r.stale;
            f.missing += r.missing;
        }
        f
    }

    fn headline(&self, stale_after_ms: u64, now: i64) -> headline::Headline {
        let h = self.model.health.as_ref();
        headline::headline(&Inputs {
            link: self.link.state,
            upstream: h.map(|h| Upstream {
                state: h.upstream.state,
                source: h.upstream.source,
                cause: h.upstream.cause.as_deref(),
                rest_error: h.upstream.rest_error.as_deref(),
            }),
            freshness: self.freshness(stale_after_ms, now),
            market: h.map(|h| h.market).unwrap_or_default(),
            replay: false,
        })
    }

    fn is_live(&self, stale_after_ms: u64, now: i64) -> bool {
        self.complete() && self.headline(stale_after_ms, now).level == Level::Live
    }

    /// Applies one client event; `Some` when it ends the wait. Seq gaps are resynced.
    fn on_event(&mut self, ev: ClientEvent, client: &ClientHandle, now: i64) -> Option<Outcome> {
        match ev {
            ClientEvent::Message { msg, .. } => {
                let sessions_before = self.model.sessions.clone();
                match self.model.apply(&msg, now) {
                    Applied::Gap {
                        stream, session_id, ..
                    } => client.send(ClientCommand::Resync(Subscription { stream, session_id })),
                    Applied::Changed | Applied::Unchanged => {}
                }
                if let ServerMsg::Error(e) = &msg {
                    tracing::warn!(event = "status.backend_error", code = %e.code, "{}", e.message);
                }
                let ids = |v: &[SessionInfo]| v.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
                if ids(&sessions_before) != ids(&self.model.sessions) {
                    client.send(ClientCommand::SetSubscriptions(desired(
                        &self.model.sessions,
                    )));
                }
                None
            }
            ClientEvent::Link(status) => {
                self.link = status;
                match self.link.state {
                    LinkState::Live | LinkState::Slow => {
                        self.ever_up = true;
                        None
                    }
                    LinkState::Connecting if !self.ever_up && self.link.last_error.is_none() => {
                        None
                    }
                    // A failed connect, a refusal, or a link lost while looking: the answer is
                    // that the backend cannot be reached now.
                    _ => Some(Outcome::Unreachable),
                }
            }
            ClientEvent::Snapshot(_) | ClientEvent::Notice(_) => None,
        }
    }

    /// The summary at `now`.
    fn report(&self, outcome: &Outcome, opts: &StatusOptions, now: i64) -> StatusReport {
        let stale = opts.stale_after_ms;
        let h = self.headline(stale, now);
        let (level, headline, reasons) = match outcome {
            Outcome::Unreachable => {
                let why = self.unreachable_reason();
                (
                    StatusLevel::Unreachable,
                    format!("✕ Disconnected — {why}"),
                    vec![why],
                )
            }
            _ if !self.complete() => {
                let why = format!(
                    "no full snapshot within {} ms (waiting for {})",
                    opts.timeout.as_millis(),
                    self.missing().join(", ")
                );
                let level = match h.level {
                    Level::Live => StatusLevel::Connecting,
                    other => level_of(other),
                };
                let mut reasons = h.reasons.clone();
                reasons.push(why);
                let word = if level == StatusLevel::Connecting {
                    "~ Connecting…".to_string()
                } else {
                    format!("{} {}", h.level.symbol(), h.word)
                };
                (level, format!("{word} — {}", reasons.join(", ")), reasons)
            }
            _ => (level_of(h.level), h.text(), h.reasons.clone()),
        };
        let m = &self.model;
        StatusReport {
            kind: "status".into(),
            ts: now,
            level,
            headline,
            reasons,
            exit_code: level.exit_code(),
            link: LinkReport {
                state: self.link.state,
                url: self.link.url.clone(),
                rtt_ms: self.link.rtt_ms,
                error: self.link.last_error.as_ref().map(|(m, _)| m.clone()),
                last_close: self.link.last_close.clone(),
            },
            epoch: m.epoch.clone(),
            health: m.health.clone(),
            health_age_ms: m
                .health
                .as_ref()
                .map(|_| (now - m.health_applied_ms).max(0)),
            sessions: m
                .sessions
                .iter()
                .map(|s| SessionReport {
                    info: s.clone(),
                    rows: self.rows(s, stale, now),
                    open_positions: m
                        .positions
                        .get(&s.id)
                        .map(|p| p.values().cloned().collect())
                        .unwrap_or_default(),
                    totals: m.totals.get(&s.id).cloned(),
                })
                .collect(),
        }
    }

    fn unreachable_reason(&self) -> String {
        let l = &self.link;
        let why = match (&l.last_close, &l.last_error) {
            (Some(c), _) if self.ever_up || c.code >= 4500 => {
                let mut t = format!("backend closed the link: {}", c.code);
                if !c.reason.is_empty() {
                    t.push_str(&format!(" {}", c.reason));
                }
                t
            }
            (_, Some((e, _))) => format!("backend unreachable: {e}"),
            _ => "backend unreachable".to_string(),
        };
        format!("{why} ({})", l.url)
    }

    /// The first snapshots still missing, named like the streams.
    fn missing(&self) -> Vec<String> {
        let m = &self.model;
        if self.link.state != LinkState::Live && !self.ever_up {
            return vec!["the backend link".into()];
        }
        let mut out = Vec::new();
        if m.last_seq(StreamName::Sessions, None).is_none() {
            out.push("sessions".into());
        }
        if m.health.is_none() {
            out.push("health".into());
        }
        for s in &m.sessions {
            for stream in [StreamName::MarketData, StreamName::Positions] {
                if m.last_seq(stream, Some(&s.id)).is_none() {
                    out.push(format!("{} of {}", stream.as_str(), s.id));
                }
            }
        }
        out
    }
}

fn level_of(l: Level) -> StatusLevel {
    match l {
        Level::Live => StatusLevel::Live,
        Level::Degraded => StatusLevel::Degraded,
        Level::NoData => StatusLevel::NoData,
        Level::Connecting => StatusLevel::Connecting,
        Level::Reconnecting => StatusLevel::Reconnecting,
        Level::Disconnected => StatusLevel::Disconnected,
    }
}

/// Waits for the verdict (see the module doc), closes the link (1000) and returns the summary.
pub async fn collect(
    opts: &StatusOptions,
    url: &str,
    client: ClientHandle,
    mut events: mpsc::Receiver<ClientEvent>,
) -> StatusReport {
    let mut seen = Observed::new(url);
    let deadline = tokio::time::sleep(opts.timeout);
    tokio::pin!(deadline);
    let outcome = loop {
        tokio::select! {
            () = &mut deadline => break Outcome::Deadline,
            ev = events.recv() => {
                let Some(ev) = ev else { break Outcome::Unreachable };
                let now = now_ms();
                if let Some(end) = seen.on_event(ev, &client, now) {
                    break end;
                }
                if seen.is_live(opts.stale_after_ms, now) {
                    break Outcome::Live;
                }
            }
        }
    };
    let report = seen.report(&outcome, opts, now_ms());
    client.send(ClientCommand::Shutdown);
    let drain = async { while events.recv().await.is_some() {} };
    let _ = tokio::time::timeout(opts.close_timeout, drain).await;
    report
}

#[cfg(test)]
mod tests;
