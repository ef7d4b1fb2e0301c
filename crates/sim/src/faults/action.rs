//! One-shot actions on open connections (drop, close, half-open, inject), as opposed to the
//! switchable `FaultState`. They go out on a broadcast channel every connection task listens to,
//! so an action reaches a connection between two frames, never in the middle of one.

use serde::{Deserialize, Serialize};

/// What one connection should do now.
#[derive(Debug, Clone)]
pub(crate) enum ActionKind {
    /// Close TCP without a close frame; `rst` makes it a reset (SO_LINGER 0) instead of a FIN.
    Drop { rst: bool },
    /// Send a close frame with this code and reason, then close TCP.
    Close { code: u16, reason: String },
    /// Stop reading and writing; keep the socket open.
    HalfOpen,
    /// Send this frame regardless of subscriptions.
    Send(Outbound),
}

#[derive(Debug, Clone)]
pub(crate) struct Action {
    /// `None` = every open connection.
    pub conn: Option<u64>,
    pub kind: ActionKind,
}

impl Action {
    pub fn is_for(&self, conn: u64) -> bool {
        self.conn.is_none_or(|c| c == conn)
    }
}

/// A frame to inject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    Text(String),
    Binary(Vec<u8>),
}

/// Ready-made bad frames of the kinds the live exchange has sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Malformed {
    /// Text that is not JSON at all.
    InvalidJson,
    /// A `push.deal` cut off mid-number.
    Truncated,
    /// A well-formed push on a channel nobody subscribed to.
    UnknownChannel,
    /// The `clientId` control frame seen after the first pong.
    ClientId,
    /// A Binary frame that is not gzip.
    BinaryGarbage,
    /// An empty Text frame.
    Empty,
}

impl Malformed {
    pub fn frame(self, now_ms: i64) -> Outbound {
        let text = match self {
            Malformed::InvalidJson => "{channel:push.deal, data: [oops}".to_string(),
            Malformed::Truncated => format!(
                r#"{{"symbol":"BTC_USDT","data":[{{"p":95012.3,"v":3,"T":1,"O":1,"M":2,"t":{now_ms},"i":"1627"#
            ),
            Malformed::UnknownChannel => format!(
                r#"{{"symbol":"BTC_USDT","data":{{"foo":1}},"channel":"push.unknown.channel","ts":{now_ms}}}"#
            ),
            Malformed::ClientId => client_id_frame(now_ms),
            Malformed::BinaryGarbage => {
                return Outbound::Binary(b"\x00\x01not gzip\xff\xfe".to_vec());
            }
            Malformed::Empty => String::new(),
        };
        Outbound::Text(text)
    }
}

/// `{"channel":"clientId","data":"<opaque id>","ts":..}`
pub fn client_id_frame(now_ms: i64) -> String {
    let id = (now_ms as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!(r#"{{"channel":"clientId","data":"{id:016x}","ts":{now_ms}}}"#)
}

/// Longest close reason a close frame can carry (125-byte control payload minus the code).
pub const MAX_CLOSE_REASON: usize = 123;

/// Check a close code and reason before anything is sent: codes a peer must never send on the
/// wire (1005, 1006, 1015) and anything outside 1000-4999 are refused, so the fault is the
/// one asked for and not a protocol error of our own making.
pub fn check_close(code: u16, reason: &str) -> Result<(), String> {
    if !(1000..=4999).contains(&code) || matches!(code, 1004..=1006 | 1015) {
        return Err(format!(
            "close code {code} cannot be sent (use 1000-4999 except 1004-1006 and 1015)"
        ));
    }
    if reason.len() > MAX_CLOSE_REASON {
        return Err(format!(
            "close reason is {} bytes; at most {MAX_CLOSE_REASON} fit in a close frame",
            reason.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes() {
        assert!(check_close(1000, "").is_ok());
        assert!(check_close(1012, "restart").is_ok());
        assert!(check_close(4000, "x").is_ok());
        for bad in [0, 999, 1005, 1006, 1015, 5000] {
            assert!(check_close(bad, "").is_err(), "{bad}");
        }
        assert!(check_close(1000, &"x".repeat(124)).is_err());
    }

    #[test]
    fn presets_are_what_they_say() {
        let text = |m: Malformed| match m.frame(5) {
            Outbound::Text(t) => t,
            Outbound::Binary(_) => panic!("binary"),
        };
        assert!(serde_json::from_str::<serde_json::Value>(&text(Malformed::InvalidJson)).is_err());
        assert!(serde_json::from_str::<serde_json::Value>(&text(Malformed::Truncated)).is_err());
        let unknown: serde_json::Value =
            serde_json::from_str(&text(Malformed::UnknownChannel)).unwrap();
        assert_eq!(unknown["channel"], "push.unknown.channel");
        let id: serde_json::Value = serde_json::from_str(&text(Malformed::ClientId)).unwrap();
        assert_eq!(id["channel"], "clientId");
        assert!(matches!(Malformed::BinaryGarbage.frame(5), Outbound::Binary(b) if b[0] != 0x1f));
    }
}
