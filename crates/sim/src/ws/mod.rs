//! The `/edge` WebSocket endpoint: one task per connection, and that task is the only writer,
//! so replies, pushes, injected frames and closes can never interleave mid-frame.
//!
//! Faults are applied here, at the writer: pong delay/drop, stalled and gzip streams, the
//! subscription faults (in `subs`), heartbeat timeout and style, and the one-shot actions
//! (drop, close, half-open, inject).

mod subs;

use super::ServerState;
use super::clock::wall_ms;
use super::commands::{self, Command};
use super::conn_io::Peer;
use super::faults::{ActionKind, FaultState, Outbound, any_matches, client_id_frame};
use super::feed::PushFrame;
use super::frames::{self, Ts};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use futures_util::SinkExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use subs::{Reply, Subscriptions};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;

/// Most pushes written per flush; bounds how long other events (pings, faults) wait.
const PUSH_BATCH: usize = 64;
/// A client that cannot take a frame for this long is dropped rather than stalling its task.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Read buffer per connection. tungstenite zero-fills the whole free buffer before every read
/// attempt, and this task polls the socket each time a push wakes it: with the default 128 KiB
/// that memset was the simulator's largest single cost under load (`bench e2e`, perf). Clients
/// send only small commands, so 4 KiB loses nothing.
const READ_BUFFER: usize = 4096;
/// Close code MEXC uses when the JSON heartbeat expires ("unsupported data").
const HEARTBEAT_CLOSE_CODE: u16 = 1003;
const HEARTBEAT_NOTICE: &str = "more than 60 seconds no response, close the channel";
/// Body of the refused upgrade, shaped like the CDN/WAF page MEXC's edge returns.
pub(crate) const WAF_PAGE: &str = "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n\
<center><h1>403 Forbidden</h1></center>\r\n</body>\r\n</html>\r\n";

pub(crate) async fn edge(
    State(shared): State<Arc<ServerState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if shared.faults.state().refuse_upgrades {
        return (StatusCode::FORBIDDEN, Html(WAF_PAGE)).into_response();
    }
    match upgrade {
        Ok(up) => up
            .read_buffer_size(READ_BUFFER)
            .on_upgrade(move |socket| connection(socket, shared, peer)),
        Err(rejection) => rejection.into_response(),
    }
}

/// `now + d`, saturating instead of panicking on an absurd configured timeout.
fn after(from: Instant, d: Duration) -> Instant {
    from.checked_add(d)
        .unwrap_or_else(|| from + Duration::from_secs(86_400 * 365))
}

/// Why a connection ended, for the log line.
#[derive(Debug)]
enum Exit {
    ClientClosed,
    ReadFailed,
    WriteFailed,
    HeartbeatExpired,
    Dropped,
    ClosedByFault,
    Shutdown,
}

#[derive(Debug)]
struct WriteFailed;

/// Send one frame, giving up on a client that does not take it in time.
async fn send(socket: &mut WebSocket, msg: Message) -> Result<(), WriteFailed> {
    match tokio::time::timeout(WRITE_TIMEOUT, socket.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(WriteFailed),
    }
}

/// Queue one frame without flushing (tungstenite writes only when its buffer fills); the same
/// time limit as `send`, since a full buffer does write.
async fn feed(socket: &mut WebSocket, msg: Message) -> Result<(), WriteFailed> {
    match tokio::time::timeout(WRITE_TIMEOUT, SinkExt::feed(socket, msg)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(WriteFailed),
    }
}

async fn flush(socket: &mut WebSocket) -> Result<(), WriteFailed> {
    match tokio::time::timeout(WRITE_TIMEOUT, SinkExt::flush(socket)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(WriteFailed),
    }
}

async fn send_text(
    socket: &mut WebSocket,
    text: serde_json::Result<String>,
) -> Result<(), WriteFailed> {
    match text {
        Ok(text) => send(socket, Message::Text(text.into())).await,
        Err(e) => {
            tracing::warn!(error = %e, "sim: could not render a reply");
            Ok(())
        }
    }
}

async fn send_outbound(socket: &mut WebSocket, frame: Outbound) -> Result<(), WriteFailed> {
    match frame {
        Outbound::Text(t) => send(socket, Message::Text(t.into())).await,
        Outbound::Binary(b) => send(socket, Message::Binary(b.into())).await,
    }
}

/// Something held back to send later (delayed pong or ack).
#[derive(Debug)]
enum Later {
    Pong,
    Reply(Reply),
}

/// Per-connection state the loop threads through its handlers.
struct Conn {
    socket: WebSocket,
    /// The connection's tag in MEXC's heartbeat close reason, which calls it a "session".
    tag: String,
    subs: Subscriptions,
    faults: FaultState,
    configured_heartbeat: Duration,
    last_beat: Instant,
    pongs_sent: u64,
    /// Held-back frames by due time; the counter keeps equal times in arrival order.
    later: BTreeMap<(Instant, u64), Later>,
    later_seq: u64,
}

impl Conn {
    fn heartbeat(&self) -> Duration {
        self.faults
            .heartbeat_timeout_ms
            .map_or(self.configured_heartbeat, Duration::from_millis)
    }

    fn deadline(&self) -> Instant {
        after(self.last_beat, self.heartbeat())
    }

    fn ts(&self) -> Ts {
        Ts::new(
            wall_ms().saturating_add(self.faults.ts_skew_ms),
            self.faults.ts_string,
        )
    }

    fn hold(&mut self, delay: Duration, item: Later) {
        self.later_seq += 1;
        self.later
            .insert((after(Instant::now(), delay), self.later_seq), item);
    }

    async fn send_later(&mut self, item: Later) -> Result<(), WriteFailed> {
        match item {
            Later::Pong => self.pong().await,
            Later::Reply(r) => self.reply(r).await,
        }
    }

    async fn pong(&mut self) -> Result<(), WriteFailed> {
        let ts = self.ts();
        send_text(&mut self.socket, frames::pong(ts)).await?;
        self.pongs_sent += 1;
        if self.pongs_sent == 1 && self.faults.client_id_after_pong {
            send(
                &mut self.socket,
                Message::Text(client_id_frame(ts.ms).into()),
            )
            .await?;
        }
        Ok(())
    }

    async fn reply(&mut self, reply: Reply) -> Result<(), WriteFailed> {
        let ts = self.ts();
        let text = match reply {
            Reply::Ack(channel) => frames::sub_ack(channel, ts),
            Reply::Error(text) => frames::rs_error(&text, ts),
        };
        send_text(&mut self.socket, text).await
    }

    /// A client text frame: commands are logged, then answered (or not) as the faults say.
    async fn on_text(&mut self, shared: &ServerState, text: &str) -> Result<(), WriteFailed> {
        shared.faults.record_command(text);
        match commands::parse(text) {
            Ok(Command::Ping) => {
                shared.faults.count_ping();
                self.last_beat = Instant::now();
                if self.faults.drop_pongs {
                    return Ok(());
                }
                match self.faults.delay_pongs_ms {
                    0 => self.pong().await,
                    ms => {
                        self.hold(Duration::from_millis(ms), Later::Pong);
                        Ok(())
                    }
                }
            }
            Ok(Command::Sub {
                channel,
                symbol,
                args,
            }) => {
                let answer = self.subs.subscribe(channel, &symbol, &args, &self.faults);
                for reply in answer.replies {
                    match answer.delay {
                        Some(d) => self.hold(d, Later::Reply(reply)),
                        None => self.reply(reply).await?,
                    }
                }
                Ok(())
            }
            Ok(Command::Unsub {
                channel,
                symbol,
                args,
            }) => {
                // MEXC sends no unsubscribe ack.
                self.subs.unsubscribe(channel, &symbol, &args);
                Ok(())
            }
            // A real MEXC method with no simulation behind it: say so rather than leave the
            // client waiting (the text is the simulator's own; MEXC serves these).
            Ok(Command::NotSimulated(method)) => {
                self.reply(Reply::Error(format!("{method} is not simulated")))
                    .await
            }
            // Unknown methods and garbage get no reply at all, like MEXC.
            Err(e) => {
                tracing::debug!(conn = self.tag, error = %e, "sim: ignored client frame");
                Ok(())
            }
        }
    }

    /// A market push and whatever else the feed has already queued (up to `PUSH_BATCH`),
    /// written with one flush: one `write(2)` per frame was this task's main cost when the
    /// market renders hundreds of pushes per model tick (`bench e2e`).
    async fn on_pushes(
        &mut self,
        first: PushFrame,
        pushes: &mut tokio::sync::broadcast::Receiver<PushFrame>,
        faults: &super::faults::SimFaults,
    ) -> Result<(), WriteFailed> {
        self.on_push(first).await?;
        for _ in 1..PUSH_BATCH {
            match pushes.try_recv() {
                Ok(push) => self.on_push(push).await?,
                Err(TryRecvError::Lagged(n)) => faults.count_lagged(n),
                Err(_) => break,
            }
        }
        flush(&mut self.socket).await
    }

    /// A market push, queued (not flushed) if subscribed and not paused or stalled; gzip
    /// streams go as Binary.
    async fn on_push(&mut self, push: PushFrame) -> Result<(), WriteFailed> {
        let PushFrame { topic, text } = push;
        let (channel, symbol) = (topic.channel(), topic.symbol());
        let f = &self.faults;
        if !self.subs.wants(topic) || f.pause_pushes || any_matches(&f.stall, channel, symbol) {
            return Ok(());
        }
        if any_matches(&f.gzip, channel, symbol) {
            match frames::gzip(text.as_bytes()) {
                Ok(bytes) => return feed(&mut self.socket, Message::Binary(bytes.into())).await,
                Err(e) => tracing::warn!(error = %e, "sim: gzip failed; sending text"),
            }
        }
        feed(&mut self.socket, Message::Text(text)).await
    }

    /// MEXC's heartbeat close: an `rs.error` notice, then close 1003 (or a bare TCP drop).
    async fn expire(&mut self) -> Result<(), WriteFailed> {
        if self.faults.heartbeat_drop {
            return Ok(());
        }
        let ts = self.ts();
        send_text(&mut self.socket, frames::rs_error(HEARTBEAT_NOTICE, ts)).await?;
        let reason = format!("ping check expired, session: {}", self.tag);
        self.close(HEARTBEAT_CLOSE_CODE, reason).await
    }

    async fn close(&mut self, code: u16, reason: String) -> Result<(), WriteFailed> {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        send(&mut self.socket, Message::Close(Some(frame))).await
    }
}

async fn connection(socket: WebSocket, shared: Arc<ServerState>, peer: Peer) {
    let faults = shared.faults.clone();
    // Listen before registering: once the connection is listed, an action aimed at it must
    // reach it.
    let mut pushes = shared.pushes.subscribe();
    let mut actions = faults.action_signal();
    let mut state = faults.state_watch();
    let open = faults.open_connection(Some(peer.addr));
    let id = open.id;
    let mut shutdown = shared.shutdown.clone();
    let started = Instant::now();
    let mut c = Conn {
        socket,
        tag: format!("{:016x}", id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        subs: Subscriptions::with_interest(shared.symbols, shared.interest.clone()),
        faults: state.borrow_and_update().clone(),
        configured_heartbeat: shared.heartbeat,
        // MEXC's clock starts at accept and only JSON pings move it.
        last_beat: Instant::now(),
        pongs_sent: 0,
        later: BTreeMap::new(),
        later_seq: 0,
    };
    let deadline = tokio::time::sleep_until(c.deadline());
    tokio::pin!(deadline);
    let later_timer = tokio::time::sleep_until(Instant::now());
    tokio::pin!(later_timer);

    let exit = loop {
        // Both timers follow the state the previous turn left behind.
        if deadline.deadline() != c.deadline() {
            deadline.as_mut().reset(c.deadline());
        }
        let next_later = c.later.first_key_value().map(|(k, _)| k.0);
        if let Some(at) = next_later
            && later_timer.deadline() != at
        {
            later_timer.as_mut().reset(at);
        }
        let step = tokio::select! {
            action = actions.recv() => match action {
                Ok(a) if a.is_for(id) => match a.kind {
                    ActionKind::Drop { rst } => {
                        if rst {
                            peer.arm_reset();
                        }
                        break Exit::Dropped;
                    }
                    ActionKind::Close { code, reason } => {
                        let _ = c.close(code, reason).await;
                        break Exit::ClosedByFault;
                    }
                    ActionKind::HalfOpen => {
                        open.mark_half_open();
                        break half_open(&mut c, &mut actions, &mut shutdown, id, &peer).await;
                    }
                    ActionKind::Send(frame) => send_outbound(&mut c.socket, frame).await,
                },
                Ok(_) => Ok(()),
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(conn = c.tag, missed = n, "sim: fault actions missed");
                    Ok(())
                }
                Err(RecvError::Closed) => break Exit::Shutdown,
            },
            changed = state.changed() => match changed {
                Ok(()) => {
                    c.faults = state.borrow_and_update().clone();
                    Ok(())
                }
                Err(_) => break Exit::Shutdown,
            },
            _ = shutdown.changed() => {
                let _ = send(&mut c.socket, Message::Close(None)).await;
                break Exit::Shutdown;
            }
            () = &mut deadline => {
                let _ = c.expire().await;
                break Exit::HeartbeatExpired;
            }
            () = &mut later_timer, if next_later.is_some() => {
                match c.later.pop_first() {
                    Some((_, item)) => c.send_later(item).await,
                    None => Ok(()),
                }
            }
            msg = c.socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => c.on_text(&shared, &text).await,
                // tungstenite queued the close reply; the next read flushes it and ends.
                Some(Ok(Message::Close(_))) => Ok(()),
                // Protocol Pings are answered by tungstenite and do not count as heartbeat.
                Some(Ok(_)) => Ok(()),
                Some(Err(_)) => break Exit::ReadFailed,
                None => break Exit::ClientClosed,
            },
            push = pushes.recv() => match push {
                Ok(push) => c.on_pushes(push, &mut pushes, &faults).await,
                Err(RecvError::Lagged(n)) => {
                    faults.count_lagged(n);
                    Ok(())
                }
                Err(RecvError::Closed) => break Exit::Shutdown,
            },
        };
        if step.is_err() {
            break Exit::WriteFailed;
        }
    };
    // Dropping the socket here closes TCP: without a close frame for `Exit::Dropped`, and as a
    // reset when the drop asked for one.
    tracing::debug!(
        conn = c.tag,
        ?exit,
        duration_ms = started.elapsed().as_millis() as u64,
        "sim: connection ended"
    );
}

/// Half-open: neither read nor write, keep the socket. Only a drop, a close or shutdown ends it.
async fn half_open(
    c: &mut Conn,
    actions: &mut tokio::sync::broadcast::Receiver<super::faults::Action>,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
    id: u64,
    peer: &Peer,
) -> Exit {
    tracing::debug!(conn = c.tag, "sim: connection half-open");
    loop {
        tokio::select! {
            action = actions.recv() => match action {
                Ok(a) if a.is_for(id) => match a.kind {
                    ActionKind::Drop { rst } => {
                        if rst {
                            peer.arm_reset();
                        }
                        return Exit::Dropped;
                    }
                    ActionKind::Close { code, reason } => {
                        let _ = c.close(code, reason).await;
                        return Exit::ClosedByFault;
                    }
                    // Nothing flows on a half-open socket, injected frames included.
                    ActionKind::HalfOpen | ActionKind::Send(_) => {}
                },
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return Exit::Shutdown,
            },
            // No close frame: the peer is not listening anyway.
            _ = shutdown.changed() => return Exit::Shutdown,
        }
    }
}
