//! QuestDB reads on the hub, which never waits for them: a `history` request and the start's
//! signals back-fill run in tasks of their own and come back as `HubCmd::Deliver` and
//! `HubCmd::Backfill` through a weak sender (a pending read never keeps the hub alive).

use super::HubCmd;
use crate::fanout::StreamKey;
use crate::history::{self, HistoryError, HistoryRequest};
use trademon_protocol::{ErrorReply, HistoryReply, ServerMsg, SignalInfo, StreamName, error_code};

use super::Hub;

impl Hub {
    pub(super) fn history_request(&mut self, conn: u64, id: u64, req: HistoryRequest) {
        let Some(queries) = self.history.clone() else {
            self.reply(conn, history_error(id, &HistoryError::questdb_off()));
            return;
        };
        let me = self.me.clone();
        tokio::spawn(async move {
            let msg = match history::run(Some(&queries), &req).await {
                Ok(rows) => ServerMsg::History(HistoryReply {
                    id,
                    query: req.query,
                    rows,
                }),
                Err(e) => history_error(id, &e),
            };
            if let Some(tx) = me.upgrade() {
                let _ = tx.send(HubCmd::Deliver {
                    conn,
                    msg: Box::new(msg),
                });
            }
        });
    }

    /// One read per session; sessions QuestDB does not know, or QuestDB away, leave the
    /// panel as this run fills it.
    pub(super) fn start_backfill(&self) {
        let Some(queries) = self.history.clone() else {
            return;
        };
        let n = self.engine.settings().signal_history;
        let before_ms = self.settings.started_ms;
        for session in self.session_ids() {
            let (queries, me) = (queries.clone(), self.me.clone());
            tokio::spawn(async move {
                match history::backfill_signals(&queries, &session, n, before_ms).await {
                    Ok(signals) if signals.is_empty() => {}
                    Ok(signals) => {
                        if let Some(tx) = me.upgrade() {
                            let _ = tx.send(HubCmd::Backfill { session, signals });
                        }
                    }
                    // QuestDB's own state is on the health bar; this is only a missing extra.
                    Err(e) => tracing::info!(
                        event = "history.backfill_skipped", session = %session, error = %e
                    ),
                }
            });
        }
    }

    /// Keep the earlier runs' signals and give every subscriber the longer list.
    pub(super) fn on_backfill(&mut self, session: String, signals: Vec<SignalInfo>) {
        tracing::info!(event = "history.backfilled", session = %session, signals = signals.len());
        self.backfilled.insert(session.clone(), signals);
        let snapshot = self.stream_snapshot(StreamName::Signals, Some(&session));
        let key = StreamKey::new(StreamName::Signals, Some(session));
        self.fanout.resend_full(key, snapshot);
    }
}

fn history_error(id: u64, e: &HistoryError) -> ServerMsg {
    let code = match e {
        HistoryError::Unavailable(_) => error_code::HISTORY_UNAVAILABLE,
        HistoryError::NotFound(_) => error_code::SESSION_NOT_FOUND,
        HistoryError::Invalid(_) => error_code::INVALID_MESSAGE,
    };
    ServerMsg::Error(ErrorReply {
        id: Some(id),
        code: code.to_string(),
        message: e.to_string(),
        valid: Vec::new(),
    })
}
