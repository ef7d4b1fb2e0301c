//! Socket plumbing for one MEXC connection: connect with a timeout, the writer task that
//! owns the sink and the unconditional ping timer, and close classification.
//!
//! The writer is its own task so a JSON ping goes out on time no matter what the reader is
//! doing (parsing a flood, waiting on a slow consumer): MEXC closes sockets 60 s after the
//! last *client ping*, even busy ones.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use trademon_protocol::Initiator;

use super::wire;

pub type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;
type WsSink = SplitSink<WsStream, Message>;

/// RFC 6455: the connection ended without a close frame.
pub const CODE_ABNORMAL: u16 = 1006;
/// RFC 6455: a close frame without a status code.
pub const CODE_NO_STATUS: u16 = 1005;
pub const CODE_NORMAL: u16 = 1000;

/// Ids like `mexc-3`, unique per process so several adapters (sharding, later) never clash.
pub fn next_conn_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("mexc-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Why a connection ended (or never started), as reported in health and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub initiator: Initiator,
    pub code: u16,
    pub reason: String,
    /// The same in a few words for the health `cause` (`reason` keeps the full text for logs).
    pub cause: String,
}

impl Ending {
    pub fn local(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Ending {
            initiator: Initiator::Local,
            code: CODE_NORMAL,
            cause: super::cause::shorten(&reason),
            reason,
        }
    }

    pub fn transport(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Ending {
            initiator: Initiator::Transport,
            code: CODE_ABNORMAL,
            cause: super::cause::shorten(&reason),
            reason,
        }
    }

    /// The peer's close frame (`None`: a close frame without status).
    pub fn remote(frame: Option<&CloseFrame>) -> Self {
        match frame {
            Some(f) => {
                let code = u16::from(f.code);
                let cause = if f.reason.is_empty() {
                    format!("closed by server ({code})")
                } else {
                    super::cause::shorten(&format!("closed by server ({code}): {}", f.reason))
                };
                Ending {
                    initiator: Initiator::Remote,
                    code,
                    reason: f.reason.to_string(),
                    cause,
                }
            }
            None => Ending {
                initiator: Initiator::Remote,
                code: CODE_NO_STATUS,
                reason: String::new(),
                cause: format!("closed by server ({CODE_NO_STATUS})"),
            },
        }
    }

    /// A read or handshake error: no close frame was seen, hence 1006. An HTTP answer to the
    /// upgrade (403 from a WAF, 429...) was the server's decision, hence Remote.
    pub fn from_error(e: &WsError) -> Self {
        match e {
            WsError::Http(resp) => Ending {
                initiator: Initiator::Remote,
                code: CODE_ABNORMAL,
                reason: format!("HTTP {} on upgrade", resp.status()),
                cause: format!("HTTP {}", resp.status()),
            },
            other => Ending {
                cause: super::cause::human(other),
                ..Ending::transport(other.to_string())
            },
        }
    }
}

/// Connect within `timeout`, Nagle off (small command and ping frames must not wait).
pub async fn connect(url: &str, timeout: Duration) -> Result<WsStream, Ending> {
    let config = WebSocketConfig::default();
    let attempt = async {
        // Resolved here first so a DNS failure arrives typed (see `cause`); the connect
        // below resolves again, from the system's cache.
        if let Ok(uri) = url.parse::<tokio_tungstenite::tungstenite::http::Uri>()
            && let Some(host) = uri.host()
        {
            let port = uri
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("wss") {
                    443
                } else {
                    80
                });
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if let Err(e) = super::cause::resolve(host, port).await {
                return Err(Ending {
                    cause: super::cause::human(&e),
                    ..Ending::transport(e.to_string())
                });
            }
        }
        tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .map_err(|e| Ending::from_error(&e))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok((ws, _response))) => Ok(ws),
        Ok(Err(ending)) => Err(ending),
        Err(_) => Err(Ending::transport(format!(
            "connect timed out after {} ms",
            timeout.as_millis()
        ))),
    }
}

/// What the connection loop asks the writer to send.
#[derive(Debug)]
pub enum Outgoing {
    Text(String),
    /// Send a close frame and stop.
    Close(u16, String),
}

pub struct Writer {
    tx: mpsc::UnboundedSender<Outgoing>,
    pub frames_out: Arc<AtomicU64>,
    pub task: JoinHandle<Result<(), WsError>>,
}

impl Writer {
    /// The queue is unbounded on purpose: it only ever holds our own commands (at most two
    /// per watched symbol plus one close), so the reader never waits on it.
    pub fn spawn(sink: WsSink, ping_every: Duration) -> Writer {
        let (tx, rx) = mpsc::unbounded_channel();
        let frames_out = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(write_loop(sink, rx, ping_every, frames_out.clone()));
        Writer {
            tx,
            frames_out,
            task,
        }
    }

    pub fn send(&self, text: String) {
        // A send error means the writer already ended; the loop sees that via `task`.
        let _ = self.tx.send(Outgoing::Text(text));
    }

    /// Ends the writer: with a close frame for a local close, else just flush and close.
    /// Waits briefly so the close frame really leaves; a dead socket must not hold us up.
    pub async fn finish(self, close: Option<(u16, String)>) -> u64 {
        if let Some((code, reason)) = close {
            let _ = self.tx.send(Outgoing::Close(code, reason));
        }
        drop(self.tx);
        let mut task = self.task;
        if !task.is_finished()
            && tokio::time::timeout(Duration::from_secs(1), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
        self.frames_out.load(Ordering::Relaxed)
    }
}

async fn write_loop(
    mut sink: WsSink,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    ping_every: Duration,
    frames_out: Arc<AtomicU64>,
) -> Result<(), WsError> {
    // Unconditional: a fixed cadence from connect, never "only when idle".
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = ping.tick() => {
                sink.send(Message::text(wire::PING)).await?;
                frames_out.fetch_add(1, Ordering::Relaxed);
            }
            msg = rx.recv() => match msg {
                Some(Outgoing::Text(text)) => {
                    sink.send(Message::text(text)).await?;
                    frames_out.fetch_add(1, Ordering::Relaxed);
                }
                Some(Outgoing::Close(code, reason)) => {
                    let frame = CloseFrame { code: code.into(), reason: reason.into() };
                    sink.send(Message::Close(Some(frame))).await?;
                    frames_out.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                // The reader is done (peer close or error): flush whatever tungstenite
                // queued (e.g. the close reply) and stop.
                None => return sink.close().await,
            },
        }
    }
}
