//! `trademon watch --json` output: one JSON value per line on stdout. Stream messages go out
//! exactly as the backend sent them (the raw WebSocket text); the watch's own lines (the link
//! to the backend, a resync) are `ScriptLine`s, shaped like protocol messages (`type` first)
//! so one `jq 'select(.type == ...)'` handles both. docs/protocol.md ("Scripting") shows them
//! and a test parses every example there as this type.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use trademon_client::link::{LinkState, LinkStatus};
use trademon_protocol::{CloseInfo, StreamName};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ScriptLine {
    /// The link to the backend changed state: a script sees every gap in the data.
    Link {
        ts: i64,
        state: LinkState,
        /// The backend's WebSocket URL (without a token).
        url: String,
        /// Reconnect attempt (1-based) while reconnecting, 0 otherwise.
        attempt: u32,
        /// Reconnects of this watch so far.
        reconnects: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_close: Option<CloseInfo>,
        /// The last connect error, while the link is down.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An ordered stream skipped seqs: its messages stop until the fresh `full_update` the
    /// watch asked for (it replaces what the script holds of that stream).
    Resync {
        ts: i64,
        stream: StreamName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        expected: u64,
        got: u64,
    },
}

impl ScriptLine {
    pub fn link(status: &LinkStatus, ts: i64) -> ScriptLine {
        let down = !matches!(status.state, LinkState::Live | LinkState::Slow);
        ScriptLine::Link {
            ts,
            state: status.state,
            url: status.url.clone(),
            attempt: status.attempt,
            reconnects: status.reconnects,
            last_close: status.last_close.clone(),
            error: status
                .last_error
                .as_ref()
                .filter(|_| down)
                .map(|(m, _)| m.clone()),
        }
    }
}

/// Where the lines go. Every line is flushed at once: a script reading a pipe sees a signal
/// when it happens, not when a buffer fills.
pub struct Ndjson<W> {
    out: W,
}

impl<W: AsyncWrite + Unpin> Ndjson<W> {
    pub fn new(out: W) -> Self {
        Ndjson { out }
    }

    /// One line of JSON text as received (it holds no newline: the backend sends compact JSON).
    pub async fn raw(&mut self, json: &str) -> std::io::Result<()> {
        let mut line = String::with_capacity(json.len() + 1);
        line.push_str(json.trim_end());
        line.push('\n');
        self.out.write_all(line.as_bytes()).await?;
        self.out.flush().await
    }

    pub async fn line(&mut self, line: &ScriptLine) -> std::io::Result<()> {
        let text = serde_json::to_string(line).map_err(std::io::Error::other)?;
        self.raw(&text).await
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_end_in_a_newline_each() {
        let mut w = Ndjson::new(Vec::new());
        w.raw("{\"type\":\"signal\"}").await.unwrap();
        w.line(&ScriptLine::Resync {
            ts: 5,
            stream: StreamName::Signals,
            session_id: Some("a".into()),
            expected: 4,
            got: 6,
        })
        .await
        .unwrap();
        let text = String::from_utf8(w.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], "{\"type\":\"signal\"}");
        assert_eq!(
            lines[1],
            r#"{"type":"resync","ts":5,"stream":"signals","session_id":"a","expected":4,"got":6}"#
        );
    }

    #[test]
    fn a_link_line_carries_the_error_only_while_down() {
        let mut s = LinkStatus::new("ws://127.0.0.1:7878/ws");
        s.last_error = Some(("connection refused".into(), 2));
        s.state = LinkState::Reconnecting;
        s.attempt = 2;
        let v = serde_json::to_value(ScriptLine::link(&s, 1)).unwrap();
        assert_eq!(v["type"], "link");
        assert_eq!(v["state"], "reconnecting");
        assert_eq!(v["error"], "connection refused");
        s.state = LinkState::Live;
        let v = serde_json::to_value(ScriptLine::link(&s, 1)).unwrap();
        assert!(v.get("error").is_none(), "{v}");
    }
}
