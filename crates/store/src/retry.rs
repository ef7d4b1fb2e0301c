//! What a failed flush means, and how long to wait before the next attempt.
//!
//! `questdb-rs` does not expose the HTTP status, and a 400 "bad data" and an exhausted 5xx both
//! arrive as `ServerFlushError`. The server's JSON error reaches us raw (QuestDB sends
//! `application/json; charset=utf-8`, which the client does not parse) or pre-formatted
//! (`... [id: X, code: invalid, line: N]` when a proxy sends exactly `application/json`), so
//! both shapes are read here. Unknown answers are transient: retrying is safe under DEDUP,
//! dropping is not.

use std::time::Duration;

use questdb::ErrorCode;

use trademon_core::backoff::Backoff;

#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// 400 `invalid` for one row (1-based `line` in the request): quarantine it, resend the rest.
    Poison {
        line: Option<usize>,
        error_id: String,
        message: String,
    },
    /// 413: the request is too big; split it (a single row that is too big is poison).
    TooLarge { message: String },
    /// The table itself is unusable (non-WAL, missing and auto-create off): hold the table.
    Schema { message: String },
    /// Refused, reset, timeout, 5xx, 429, 502...: back off and resend the same rows.
    Transient { message: String },
    /// Auth or configuration: retrying soon cannot help; alert and wait the cap.
    Fatal { message: String },
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Poison { message, .. }
            | Failure::TooLarge { message }
            | Failure::Schema { message }
            | Failure::Transient { message }
            | Failure::Fatal { message } => message,
        }
    }
}

/// The fields of QuestDB's ILP error body, from either message shape.
#[derive(Debug, Default, PartialEq)]
struct ServerError {
    code: Option<String>,
    message: String,
    line: Option<usize>,
    error_id: Option<String>,
}

fn parse_server_error(msg: &str) -> ServerError {
    let body = msg.strip_prefix("Could not flush buffer: ").unwrap_or(msg);
    if let Some(start) = body.find('{')
        && let Ok(j) = serde_json::from_str::<serde_json::Value>(&body[start..])
    {
        let s = |k: &str| j.get(k).and_then(|v| v.as_str()).map(str::to_string);
        return ServerError {
            code: s("code"),
            message: s("message").unwrap_or_else(|| body.to_string()),
            line: j
                .get("line")
                .and_then(|v| v.as_u64())
                .and_then(|n| usize::try_from(n).ok()),
            error_id: s("errorId"),
        };
    }
    // "<message> [id: X, code: invalid, line: N]"
    if let Some(open) = body.rfind(" [")
        && body.ends_with(']')
    {
        let mut out = ServerError {
            message: body[..open].to_string(),
            ..Default::default()
        };
        for part in body[open + 2..body.len() - 1].split(", ") {
            match part.split_once(": ") {
                Some(("id", v)) => out.error_id = Some(v.to_string()),
                Some(("code", v)) => out.code = Some(v.to_string()),
                Some(("line", v)) => out.line = v.parse().ok(),
                _ => {}
            }
        }
        if out.code.is_some() {
            return out;
        }
    }
    ServerError {
        message: body.to_string(),
        ..Default::default()
    }
}

pub fn classify(e: &questdb::Error) -> Failure {
    let msg = e.msg().to_string();
    match e.code() {
        ErrorCode::AuthError
        | ErrorCode::ConfigError
        | ErrorCode::HttpNotSupported
        | ErrorCode::TlsError
        | ErrorCode::ProtocolVersionError => Failure::Fatal { message: msg },
        ErrorCode::ServerFlushError => classify_server(&msg),
        // Socket errors (refused, reset, peer closed, timeout) and DNS failures: transient.
        _ => Failure::Transient { message: msg },
    }
}

fn classify_server(msg: &str) -> Failure {
    let se = parse_server_error(msg);
    let code = se.code.as_deref().unwrap_or("");
    let lower = se.message.to_ascii_lowercase();
    if code == "request too large" || lower.contains("does not fit") {
        return Failure::TooLarge {
            message: se.message,
        };
    }
    if code == "invalid" {
        let table_level = lower.contains("non-wal")
            || lower.contains("creating new tables is disabled")
            || lower.contains("creating new columns is disabled");
        if table_level {
            return Failure::Schema {
                message: se.message,
            };
        }
        return Failure::Poison {
            line: se.line,
            error_id: se.error_id.unwrap_or_default(),
            message: se.message,
        };
    }
    if code == "not supported" {
        return Failure::Fatal {
            message: se.message,
        };
    }
    Failure::Transient {
        message: msg.to_string(),
    }
}

/// The outer retry schedule: full jitter between `base` and `cap`, reset on success.
#[derive(Debug, Clone)]
pub struct Retry {
    backoff: Backoff,
    cap: Duration,
}

impl Retry {
    pub fn new(base: Duration, cap: Duration) -> Retry {
        Retry {
            backoff: Backoff::new(base, cap, Duration::ZERO),
            cap,
        }
    }

    pub fn next_delay(&mut self) -> Duration {
        self.backoff.next_delay()
    }

    /// Auth/config failures wait the full cap: no tight loop against a server that refuses us.
    pub fn fatal_delay(&self) -> Duration {
        self.cap
    }

    pub fn reset(&mut self) {
        self.backoff.connection_ended(Duration::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_are_read() {
        let raw = r#"Could not flush buffer: {"code":"invalid","message":"failed to parse line protocol:errors encountered on line(s):\nerror in line 3: table: trades, column: price; cast error","line":3,"errorId":"abc-12"}"#;
        match classify_server(raw) {
            Failure::Poison { line, error_id, .. } => {
                assert_eq!(line, Some(3));
                assert_eq!(error_id, "abc-12");
            }
            other => panic!("{other:?}"),
        }
        let fmt = "Could not flush buffer: failed to parse line protocol [id: a1-7, code: invalid, line: 1]";
        match classify_server(fmt) {
            Failure::Poison { line, error_id, .. } => {
                assert_eq!(line, Some(1));
                assert_eq!(error_id, "a1-7");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify_server(
                r#"Could not flush buffer: {"code":"internal error","message":"commit error"}"#
            ),
            Failure::Transient { .. }
        ));
        assert!(matches!(
            classify_server("Could not flush buffer: <html>502 Bad Gateway</html>"),
            Failure::Transient { .. }
        ));
        assert!(matches!(
            classify_server(
                r#"Could not flush buffer: {"code":"request too large","message":"x"}"#
            ),
            Failure::TooLarge { .. }
        ));
        assert!(matches!(
            classify_server(
                r#"Could not flush buffer: {"code":"invalid","message":"table: t; cannot insert in non-WAL table","line":1}"#
            ),
            Failure::Schema { .. }
        ));
    }
}
