//! `trademon watch --json`: the chosen streams of every session (or one) as NDJSON on stdout,
//! from the one WebSocket the client crate keeps (heartbeat, reconnect, resubscribe).
//!
//! The loop follows the `sessions` stream whatever was chosen, so a session the backend adds
//! later is followed too. It ends on the `stop` future (Ctrl-C, SIGTERM: a close 1000), a
//! closed stdout (`| head`: the same close, exit 0), an unknown `--session`, or a backend that
//! refuses the client for good (4501-4503).

use super::gate::{SeqGate, Verdict};
use super::ndjson::{Ndjson, ScriptLine};
use std::collections::BTreeSet;
use std::future::Future;
use std::time::Duration;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use trademon_client::link::LinkState;
use trademon_client::{ClientCommand, ClientEvent, ClientHandle, Subscription};
use trademon_protocol::{ServerMsg, SessionInfo, StreamName, now_ms};

#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub streams: Vec<StreamName>,
    /// Only this session's per-session streams; `None`: every session.
    pub session: Option<String>,
    /// How long the close handshake may take once the watch ends.
    pub close_timeout: Duration,
}

/// Why the watch ended; `launch` turns it into an exit code.
#[derive(Debug)]
pub enum WatchEnd {
    /// Ctrl-C or SIGTERM: closed 1000.
    Stopped,
    /// The reader of stdout went away (EPIPE): closed 1000, exit 0 without a word.
    StdoutClosed,
    /// `--session` names no session of the backend.
    UnknownSession { id: String, valid: Vec<String> },
    /// The backend refused this client and said not to reconnect (auth failed, protocol).
    Refused(String),
    /// Writing stdout failed for another reason than a closed pipe.
    WriteFailed(std::io::Error),
    /// The connection task ended on its own (it only does when told to).
    LinkEnded,
}

/// The global streams to follow from the start: `sessions` always (to know the sessions),
/// plus the chosen global ones. Per-session streams follow once the sessions are known.
pub fn initial_subscriptions(opts: &WatchOptions) -> BTreeSet<Subscription> {
    let mut set = BTreeSet::from([global(StreamName::Sessions)]);
    set.extend(
        opts.streams
            .iter()
            .filter(|s| !s.is_per_session())
            .map(|s| global(*s)),
    );
    set
}

fn global(stream: StreamName) -> Subscription {
    Subscription {
        stream,
        session_id: None,
    }
}

/// What the watch follows: the initial set plus the chosen per-session streams of each
/// session in `sessions` that the filter lets through.
fn desired(opts: &WatchOptions, sessions: &BTreeSet<String>) -> BTreeSet<Subscription> {
    let mut set = initial_subscriptions(opts);
    for id in sessions
        .iter()
        .filter(|id| opts.session.as_ref().is_none_or(|only| only == *id))
    {
        set.extend(
            opts.streams
                .iter()
                .filter(|s| s.is_per_session())
                .map(|s| Subscription {
                    stream: *s,
                    session_id: Some(id.clone()),
                }),
        );
    }
    set
}

struct Watch<'a, W> {
    opts: &'a WatchOptions,
    client: ClientHandle,
    out: Ndjson<W>,
    gate: SeqGate,
    sessions: BTreeSet<String>,
    /// The `sessions` stream's first full_update came (the `--session` check is done).
    sessions_known: bool,
    link: Option<LinkState>,
}

pub async fn run<W: AsyncWrite + Unpin>(
    opts: &WatchOptions,
    client: ClientHandle,
    mut events: mpsc::Receiver<ClientEvent>,
    out: W,
    stop: impl Future<Output = ()>,
) -> WatchEnd {
    let mut w = Watch {
        opts,
        client,
        out: Ndjson::new(out),
        gate: SeqGate::default(),
        sessions: BTreeSet::new(),
        sessions_known: false,
        link: None,
    };
    tokio::pin!(stop);
    let end = loop {
        tokio::select! {
            () = &mut stop => break WatchEnd::Stopped,
            ev = events.recv() => match ev {
                None => return WatchEnd::LinkEnded,
                Some(ev) => match w.on_event(ev).await {
                    Ok(()) => {}
                    Err(end) => break end,
                },
            },
        }
    };
    // A graceful close (1000 "client quit"); the task ends, and with it the channel.
    w.client.send(ClientCommand::Shutdown);
    let drain = async { while events.recv().await.is_some() {} };
    let _ = tokio::time::timeout(opts.close_timeout, drain).await;
    end
}

impl<W: AsyncWrite + Unpin> Watch<'_, W> {
    async fn on_event(&mut self, ev: ClientEvent) -> Result<(), WatchEnd> {
        match ev {
            ClientEvent::Message { msg, raw } => self.on_message(&msg, &raw).await,
            ClientEvent::Link(status) => {
                if self.link == Some(status.state) {
                    return Ok(());
                }
                self.link = Some(status.state);
                self.write_line(&ScriptLine::link(&status, now_ms()))
                    .await?;
                // Stopped for good (4501-4503 or rejected credentials): nothing will come.
                if status.state == LinkState::Disconnected
                    && let Some(close) = status.last_close.as_ref().filter(|c| c.code >= 4500)
                {
                    return Err(WatchEnd::Refused(format!(
                        "the backend closed the connection {}: {}",
                        close.code, close.reason
                    )));
                }
                Ok(())
            }
            // REST snapshots (the fallback while the WebSocket is down) are not the stream the
            // watch prints; the link lines say data is not flowing. Notices are in the log.
            ClientEvent::Snapshot(_) | ClientEvent::Notice(_) => Ok(()),
        }
    }

    async fn on_message(&mut self, msg: &ServerMsg, raw: &str) -> Result<(), WatchEnd> {
        let verdict = self.gate.admit(msg);
        self.track_sessions(msg, &verdict)?;
        match verdict {
            Verdict::Pass if self.chosen(msg) => self.write_raw(raw).await,
            Verdict::Gap {
                stream,
                key,
                expected,
                got,
            } => {
                tracing::info!(event = "watch.resync", stream = stream.as_str(), session = ?key, expected, got, "seq gap, resyncing");
                self.client.send(ClientCommand::Resync(Subscription {
                    stream,
                    session_id: key.clone(),
                }));
                if self.opts.streams.contains(&stream) {
                    let line = ScriptLine::Resync {
                        ts: now_ms(),
                        stream,
                        session_id: key,
                        expected,
                        got,
                    };
                    self.write_line(&line).await?;
                }
                Ok(())
            }
            _ => {
                if let ServerMsg::Error(e) = msg {
                    tracing::warn!(event = "watch.backend_error", code = %e.code, "{}", e.message);
                }
                Ok(())
            }
        }
    }

    /// A stream message the user chose, of a session the filter lets through.
    fn chosen(&self, msg: &ServerMsg) -> bool {
        let Some((stream, key, _)) = msg.stream_position() else {
            return false;
        };
        self.opts.streams.contains(&stream)
            && (!stream.is_per_session()
                || self
                    .opts
                    .session
                    .as_deref()
                    .is_none_or(|only| key == Some(only)))
    }

    /// Learns the sessions from the `sessions` stream and follows each one's streams.
    fn track_sessions(&mut self, msg: &ServerMsg, verdict: &Verdict) -> Result<(), WatchEnd> {
        if *verdict != Verdict::Pass {
            return Ok(());
        }
        let before = self.sessions.clone();
        match msg {
            ServerMsg::FullUpdate(e) if e.stream == StreamName::Sessions => {
                let list: &[SessionInfo] = e.data.sessions.as_deref().unwrap_or_default();
                self.sessions.extend(list.iter().map(|s| s.id.clone()));
                if !self.sessions_known {
                    self.sessions_known = true;
                    self.check_session_filter()?;
                }
            }
            ServerMsg::SessionChanged(e) => {
                self.sessions.insert(e.data.id.clone());
            }
            _ => return Ok(()),
        }
        if self.sessions != before {
            self.client.send(ClientCommand::SetSubscriptions(desired(
                self.opts,
                &self.sessions,
            )));
        }
        Ok(())
    }

    fn check_session_filter(&self) -> Result<(), WatchEnd> {
        match &self.opts.session {
            Some(id) if !self.sessions.contains(id) => Err(WatchEnd::UnknownSession {
                id: id.clone(),
                valid: self.sessions.iter().cloned().collect(),
            }),
            _ => Ok(()),
        }
    }

    async fn write_raw(&mut self, raw: &str) -> Result<(), WatchEnd> {
        self.out.raw(raw).await.map_err(write_end)
    }

    async fn write_line(&mut self, line: &ScriptLine) -> Result<(), WatchEnd> {
        self.out.line(line).await.map_err(write_end)
    }
}

fn write_end(e: std::io::Error) -> WatchEnd {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        WatchEnd::StdoutClosed
    } else {
        WatchEnd::WriteFailed(e)
    }
}

#[cfg(test)]
mod tests;
