//! One client WebSocket: a reader and a writer over the split socket.
//!
//! The rules that keep the heartbeat honest:
//! - The **reader only reads**. It moves the idle deadline on every frame, parses, and hands
//!   off without waiting (`try_send` to the writer's control lane, unbounded send to the hub).
//!   Because it polls the socket again at once, tungstenite's automatic Pong to a client Ping
//!   is flushed immediately too. A control reply is never dropped: app pings are rate-limited
//!   (`server.max_pings_per_s`, beyond closes 4502) and a lane that fills anyway closes 4008.
//! - The **writer** drains the control lane (app pongs, error replies) *before* any queued
//!   data and flushes it at once; data goes out in bounded batches (feed..., one flush) with
//!   the control lane checked between batches, inside a send window confirmed by protocol
//!   Pings ([`super::flow`]) so a pong never queues behind seconds of backlog. Every flush is
//!   bounded by `write_timeout_ms` (expiry closes 4008).
//! - Every close has a code and a reason and is logged once with who closed it.

use super::flow::{FlowWindow, pong_seq};
use super::hooks::TestHooks;
use super::hub::{HubCmd, HubHandle};
use super::queue::{ClientQueue, QueueLimits};
use super::queue_meter::QueueMeter;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::error::CapacityError;
use trademon_protocol::{
    ClientMsg, CloseInfo, ErrorReply, Hello, Initiator, Level, LogEvent, PROTOCOL_VERSION, Pong,
    ServerMsg, StreamName, close, error_code, now_ms, parse_client_frame, request_id,
};

/// Data per writer batch: small enough that the control lane is checked often.
const BATCH_MSGS: usize = 64;
const BATCH_BYTES: usize = 64 * 1024;
/// Least room for control replies waiting for the writer (see [`control_lane`]).
const CONTROL_LANE: usize = 256;
/// Longest close reason that fits a control frame (125 - 2 bytes of code).
const MAX_REASON: usize = 123;

#[derive(Debug, Clone, Copy)]
pub struct ConnParams {
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
    pub max_protocol_errors: u32,
    /// Hub-bound ops (subscribe, unsubscribe, start, stop) per second, burst of the same size.
    pub max_ops_per_s: u32,
    /// App pings per second, burst of the same size; beyond closes 4502.
    pub max_pings_per_s: u32,
    /// Client WebSockets open at once; one more is closed 1013.
    pub max_clients: u32,
    pub queue: QueueLimits,
    pub max_in_flight_bytes: u64,
    /// How long to keep driving the socket for the peer's half of a close handshake.
    pub close_grace: Duration,
}

pub struct ConnCtx {
    /// Hub key.
    pub num: u64,
    /// Human id in logs and `hello`, e.g. `c-7`.
    pub id: String,
    pub epoch: String,
    pub hub: HubHandle,
    pub hooks: Arc<TestHooks>,
    pub params: ConnParams,
    /// Backend-wide queue accounting this connection's queue reports to.
    pub meter: Arc<QueueMeter>,
    /// Held for the life of the connection task; shutdown waits until every clone is gone,
    /// so each close is logged before the process exits.
    pub _alive: tokio::sync::mpsc::Sender<()>,
}

/// Who closed, with which code and why. The first decision wins.
#[derive(Debug, Clone)]
struct CloseRecord {
    initiator: Initiator,
    code: u16,
    reason: String,
}

/// How the connection closed: the first close recorded wins, from whichever side.
#[derive(Default)]
struct CloseSlot {
    close: OnceLock<CloseRecord>,
}

impl CloseSlot {
    fn record(&self, initiator: Initiator, code: u16, reason: impl Into<String>) {
        let _ = self.close.set(CloseRecord {
            initiator,
            code,
            reason: truncate(reason.into(), MAX_REASON),
        });
    }
}

/// Open client WebSockets, counted against `server.max_clients`.
#[derive(Debug, Default)]
pub struct ClientSlots {
    open: AtomicUsize,
}

impl ClientSlots {
    /// A slot while fewer than `max` are taken; it is given back when dropped.
    pub fn take(self: &Arc<Self>, max: u32) -> Option<ClientSlot> {
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(ClientSlot(self.clone()))
    }
}

/// One of the `server.max_clients` places, held for the life of a connection.
#[derive(Debug)]
pub struct ClientSlot(Arc<ClientSlots>);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the upgrade decided about a connection.
#[derive(Debug)]
pub enum Admission {
    Open(ClientSlot),
    /// Missing or wrong token: closed 4501 at once.
    BadToken,
    /// `server.max_clients` reached: closed 1013 at once.
    Full,
}

/// Runs an accepted connection to its end; a refused one gets its close code at once.
pub async fn serve(ws: WebSocket, ctx: ConnCtx, admission: Admission) {
    let started = Instant::now();
    let _slot = match admission {
        Admission::Open(slot) => slot,
        Admission::BadToken => {
            let rec = reject(ws, &ctx, close::AUTH_FAILED, "auth failed").await;
            log_close(&ctx, &rec, started, 0, 0);
            return;
        }
        Admission::Full => {
            let reason = format!(
                "server full: {} clients connected; try again later",
                ctx.params.max_clients
            );
            let rec = reject(ws, &ctx, close::TOO_MANY_CLIENTS, &reason).await;
            log_close(&ctx, &rec, started, 0, 0);
            return;
        }
    };
    let queue = Arc::new(ClientQueue::new(ctx.params.queue, ctx.meter.clone()));
    ctx.hub.send(HubCmd::Register {
        conn: ctx.num,
        conn_id: ctx.id.clone(),
        queue: queue.clone(),
    });

    let (sink, stream) = ws.split();
    let shared = Arc::new(CloseSlot::default());
    let (ctrl_tx, ctrl_rx) = mpsc::channel(control_lane(&ctx.params));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (acked_tx, acked_rx) = watch::channel(0u64);
    let (done_tx, done_rx) = watch::channel(false);

    let reader = Reader {
        ctx: &ctx,
        shared: &shared,
        ctrl: ctrl_tx,
        stop: stop_tx,
        acked: acked_tx,
        writer_done: done_rx,
        protocol_errors: 0,
        ops: OpBudget::new(ctx.params.max_ops_per_s, Instant::now()),
        pings: OpBudget::new(ctx.params.max_pings_per_s, Instant::now()),
        frames: 0,
    };
    let writer = Writer {
        ctx: &ctx,
        shared: &shared,
        sink,
        queue,
        ctrl: ctrl_rx,
        stop: stop_rx,
        acked: acked_rx,
        done: done_tx,
        flow: FlowWindow::new(ctx.params.max_in_flight_bytes),
        frames: 0,
    };
    let (frames_in, frames_out) = tokio::join!(reader.run(stream), writer.run());

    let rec = shared.close.get().cloned().unwrap_or(CloseRecord {
        initiator: Initiator::Transport,
        code: 1006,
        reason: "connection ended without close frame".into(),
    });
    log_close(&ctx, &rec, started, frames_in, frames_out);
    ctx.hub.send(HubCmd::Unregister {
        conn: ctx.num,
        close: CloseInfo {
            initiator: rec.initiator,
            code: rec.code,
            reason: rec.reason,
            at_ms: now_ms(),
        },
    });
}

/// Upgrade done but refused: send the close and give the peer a moment to answer it.
async fn reject(mut ws: WebSocket, ctx: &ConnCtx, code: u16, reason: &str) -> CloseRecord {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    let _ = timeout(
        ctx.params.write_timeout,
        ws.send(Message::Close(Some(frame))),
    )
    .await;
    let _ = timeout(ctx.params.close_grace, async {
        while ws.next().await.is_some() {}
    })
    .await;
    CloseRecord {
        initiator: Initiator::Local,
        code,
        reason: reason.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------

struct Reader<'a> {
    ctx: &'a ConnCtx,
    shared: &'a CloseSlot,
    ctrl: mpsc::Sender<Utf8Bytes>,
    stop: watch::Sender<bool>,
    acked: watch::Sender<u64>,
    writer_done: watch::Receiver<bool>,
    protocol_errors: u32,
    ops: OpBudget,
    pings: OpBudget,
    frames: u64,
}

/// Room in the control lane: a full burst of pings plus a second of them at the rate, and
/// every error reply the connection may get before it is closed 4502. A client that reads
/// its replies never fills it; one that fills it anyway is closed 4008, never left without
/// a pong it asked for.
fn control_lane(p: &ConnParams) -> usize {
    let pings = usize::try_from(p.max_pings_per_s).unwrap_or(usize::MAX);
    let errors = usize::try_from(p.max_protocol_errors).unwrap_or(usize::MAX);
    pings
        .saturating_mul(2)
        .saturating_add(errors)
        .saturating_add(1)
        .clamp(CONTROL_LANE, 1 << 16)
}

/// A token bucket for ops that cost the hub work (each valid subscribe builds a full
/// snapshot on the hub's single task). Without it one client could flood thousands of
/// subscribes per second, all valid, none a protocol error, and delay every other client.
/// Burst = rate, so a client (re)subscribing its handful of streams at once never hits it.
struct OpBudget {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl OpBudget {
    fn new(per_s: u32, now: Instant) -> OpBudget {
        // 0 is refused by config validation; treat it as 1 rather than blocking every op.
        let rate = f64::from(per_s.max(1));
        OpBudget {
            tokens: rate,
            rate,
            last: now,
        }
    }

    /// Takes one token; `false` when the client is over its rate.
    fn take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Reader<'_> {
    /// Returns the number of frames read.
    async fn run(mut self, mut stream: SplitStream<WebSocket>) -> u64 {
        let idle = self.ctx.params.idle_timeout;
        let mut last_in = Instant::now();
        // Once closing, read only until this instant (the peer's close reply or EOF).
        let mut closing_until: Option<Instant> = None;
        let mut writer_finished = false;
        loop {
            let deadline = closing_until.unwrap_or(last_in + idle);
            let next = tokio::select! {
                biased;
                _ = self.writer_done.changed(), if !writer_finished => {
                    writer_finished = true;
                    let grace = Instant::now() + self.ctx.params.close_grace;
                    closing_until = Some(closing_until.map_or(grace, |c| c.min(grace)));
                    continue;
                }
                next = timeout_at(deadline, stream.next()) => next,
            };
            match next {
                Err(_) if closing_until.is_some() => break,
                Err(_) => {
                    let reason = format!(
                        "heartbeat timeout: no frame for {}",
                        secs(idle.as_millis() as u64)
                    );
                    self.request_close(close::HEARTBEAT_TIMEOUT, reason);
                    closing_until = Some(self.close_deadline());
                }
                Ok(None) => {
                    self.shared.record(
                        Initiator::Transport,
                        1006,
                        "connection dropped without close frame",
                    );
                    break;
                }
                Ok(Some(Err(e))) => {
                    let text = e.to_string();
                    let cause = ReadFailure::of(&e);
                    let we_close = cause != ReadFailure::Other;
                    if cause == ReadFailure::InvalidUtf8 {
                        // RFC 6455 §8.1: a text frame that is not UTF-8 fails the connection
                        // with 1007. Before this the reader ended without any close frame
                        // (recorded as a 1006 transport drop), so the client saw no reason.
                        self.request_close(
                            close::INVALID_PAYLOAD,
                            "invalid UTF-8 in text frame".into(),
                        );
                    } else if let ReadFailure::TooBig(limit) = cause {
                        let reason = format!("message too big: {limit}");
                        self.request_close(close::MESSAGE_TOO_BIG, reason);
                    } else {
                        self.shared.record(
                            Initiator::Transport,
                            1006,
                            format!("read failed: {text}"),
                        );
                        let _ = self.stop.send(true);
                    }
                    // The read side is unusable after an error; let the writer finish its
                    // close (bounded by its own timeouts) and end.
                    if !writer_finished {
                        let _ = timeout(self.close_window(), self.writer_done.changed()).await;
                    }
                    if we_close {
                        // The peer's close reply cannot be read any more, but the socket stays
                        // open for the close grace anyway: closed now, with the rest of an
                        // oversized message unread, it would send a TCP reset that can destroy
                        // our close frame before the peer reads it (a reset, not the reason).
                        tokio::time::sleep(self.ctx.params.close_grace).await;
                    }
                    break;
                }
                Ok(Some(Ok(msg))) => {
                    self.frames += 1;
                    last_in = Instant::now();
                    if self.on_message(msg) && closing_until.is_none() {
                        closing_until = Some(self.close_deadline());
                    }
                }
            }
        }
        // Whatever ended the read side, the writer has nothing left to do.
        let _ = self.stop.send(true);
        self.frames
    }

    /// Handles one frame; `true` when it started a close.
    fn on_message(&mut self, msg: Message) -> bool {
        match msg {
            Message::Text(text) => self.on_text(&text),
            Message::Binary(_) => self.protocol_error(
                None,
                error_code::UNSUPPORTED_FRAME,
                "binary frames are not supported; send JSON text".into(),
            ),
            // tungstenite queued the Pong already; our next poll of the stream flushes it.
            Message::Ping(_) => false,
            Message::Pong(payload) => {
                if let Some(seq) = pong_seq(&payload) {
                    self.acked.send_if_modified(|cur| {
                        let newer = seq > *cur;
                        *cur = (*cur).max(seq);
                        newer
                    });
                }
                false
            }
            Message::Close(frame) => {
                let (code, reason) = match frame {
                    Some(f) => (f.code, f.reason.to_string()),
                    None => (1005, "no status code".to_string()),
                };
                self.shared.record(Initiator::Remote, code, reason);
                let _ = self.stop.send(true);
                true
            }
        }
    }

    fn on_text(&mut self, text: &str) -> bool {
        let msg = match parse_client_frame(text) {
            Ok(m) => m,
            Err(e) => {
                let detail = truncate(e.to_string(), 200);
                return self.protocol_error(
                    request_id(text),
                    error_code::INVALID_MESSAGE,
                    format!("invalid message: {detail}"),
                );
            }
        };
        match msg {
            ClientMsg::Ping { .. } if !self.pings.take(Instant::now()) => {
                let rate = self.ctx.params.max_pings_per_s;
                self.request_close(
                    close::PROTOCOL_VIOLATION,
                    format!("protocol violation: too many pings (over {rate}/s)"),
                );
                true
            }
            ClientMsg::Ping { id } => {
                if self.ctx.hooks.hold_pongs.load(Ordering::Relaxed) {
                    return false;
                }
                self.control(&ServerMsg::Pong(Pong { id, ts: now_ms() }))
            }
            ClientMsg::Hello { protocol, .. } if protocol != PROTOCOL_VERSION => {
                self.request_close(
                    close::UNSUPPORTED_VERSION,
                    format!(
                        "unsupported protocol version {protocol}; server speaks {PROTOCOL_VERSION}"
                    ),
                );
                true
            }
            ClientMsg::Hello { .. } => false,
            _ if !self.ops.take(Instant::now()) => {
                let rate = self.ctx.params.max_ops_per_s;
                self.request_close(
                    close::PROTOCOL_VIOLATION,
                    format!("protocol violation: too many requests (over {rate} ops/s)"),
                );
                true
            }
            other => {
                self.ctx.hub.send(HubCmd::Client {
                    conn: self.ctx.num,
                    msg: other,
                });
                false
            }
        }
    }

    /// Error reply, or close 4502 once the client exceeded `max_protocol_errors`.
    fn protocol_error(&mut self, id: Option<u64>, code: &str, message: String) -> bool {
        self.protocol_errors += 1;
        if self.protocol_errors > self.ctx.params.max_protocol_errors {
            let reason = format!("protocol violation: {} bad frames", self.protocol_errors);
            self.request_close(close::PROTOCOL_VIOLATION, reason);
            return true;
        }
        self.control(&ServerMsg::Error(ErrorReply {
            id,
            code: code.to_string(),
            message,
            valid: Vec::new(),
        }))
    }

    /// Hands a reply to the writer, ahead of queued data; `true` when it started a close
    /// (the lane is full: the client does not read what it asked for).
    fn control(&mut self, reply: &ServerMsg) -> bool {
        let Ok(s) = serde_json::to_string(reply) else {
            return false;
        };
        match self.ctrl.try_send(Utf8Bytes::from(s)) {
            // Closed: the writer has ended, so the connection is closing already.
            Ok(()) | Err(TrySendError::Closed(_)) => false,
            Err(TrySendError::Full(_)) => {
                let reason = format!(
                    "slow consumer: {} control replies unread",
                    self.ctrl.max_capacity()
                );
                self.request_close(close::SLOW_CONSUMER, reason);
                true
            }
        }
    }

    /// Local close: the writer sends the frame; the reader keeps reading for the reply.
    fn request_close(&self, code: u16, reason: String) {
        self.shared.record(Initiator::Local, code, reason);
        let _ = self.stop.send(true);
    }

    /// The writer may need up to one write timeout to get the close frame out.
    fn close_window(&self) -> Duration {
        self.ctx.params.write_timeout + self.ctx.params.close_grace
    }

    fn close_deadline(&self) -> Instant {
        Instant::now() + self.close_window()
    }
}

/// What a failed read means for the close we send, told by the tungstenite error axum wraps
/// (axum and the client link the same tungstenite, so the type is the one we name).
#[derive(Debug, PartialEq)]
enum ReadFailure {
    /// A text frame that is not UTF-8 (RFC 6455 §8.1: close with 1007).
    InvalidUtf8,
    /// A message over the size limit; the text says how far over ("N > M").
    TooBig(String),
    Other,
}

impl ReadFailure {
    fn of(e: &axum::Error) -> ReadFailure {
        let Some(ws) = std::error::Error::source(e).and_then(|s| s.downcast_ref::<WsError>())
        else {
            return ReadFailure::Other;
        };
        ReadFailure::of_ws(ws)
    }

    fn of_ws(ws: &WsError) -> ReadFailure {
        match ws {
            WsError::Utf8(_) => ReadFailure::InvalidUtf8,
            WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
                ReadFailure::TooBig(format!("{size} > {max_size}"))
            }
            WsError::Capacity(_) => ReadFailure::TooBig("limit exceeded".into()),
            _ => ReadFailure::Other,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------

enum WriteFail {
    Timeout,
    Io(String),
}

struct Writer<'a> {
    ctx: &'a ConnCtx,
    shared: &'a CloseSlot,
    sink: SplitSink<WebSocket, Message>,
    queue: Arc<ClientQueue>,
    ctrl: mpsc::Receiver<Utf8Bytes>,
    stop: watch::Receiver<bool>,
    acked: watch::Receiver<u64>,
    done: watch::Sender<bool>,
    flow: FlowWindow,
    frames: u64,
}

impl Writer<'_> {
    /// Returns the number of frames written.
    async fn run(mut self) -> u64 {
        let result = self.pump().await;
        match result {
            Ok(()) => {}
            Err(WriteFail::Timeout) => {
                let ms = self.ctx.params.write_timeout.as_millis();
                self.shared.record(
                    Initiator::Local,
                    close::SLOW_CONSUMER,
                    format!("slow consumer: write blocked for {ms} ms"),
                );
            }
            Err(WriteFail::Io(e)) => {
                self.shared
                    .record(Initiator::Transport, 1006, format!("write failed: {e}"))
            }
        }
        // Send our close frame if the decision to close was ours (any side of this
        // connection); a remote or transport close needs none.
        if let Some(rec) = self.shared.close.get().cloned()
            && rec.initiator == Initiator::Local
        {
            let frame = CloseFrame {
                code: rec.code,
                reason: Utf8Bytes::from(rec.reason),
            };
            let sent = timeout(
                self.ctx.params.write_timeout,
                self.sink.send(Message::Close(Some(frame))),
            )
            .await;
            if matches!(sent, Ok(Ok(()))) {
                self.frames += 1;
            }
        }
        let _ = self.done.send(true);
        self.frames
    }

    /// Writes until a stop (close decided somewhere) or a write failure.
    async fn pump(&mut self) -> Result<(), WriteFail> {
        let hello = ServerMsg::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            server: format!("trademon/{}", env!("CARGO_PKG_VERSION")),
            connection_id: self.ctx.id.clone(),
            epoch: self.ctx.epoch.clone(),
            streams: StreamName::valid_names(),
            ping_interval_ms: self.ctx.params.ping_interval.as_millis() as u64,
            idle_timeout_ms: self.ctx.params.idle_timeout.as_millis() as u64,
        });
        if let Ok(s) = serde_json::to_string(&hello) {
            self.feed(Message::Text(Utf8Bytes::from(s))).await?;
            self.flush().await?;
        }
        let period = self.ctx.params.ping_interval;
        let mut heartbeat = tokio::time::interval_at(Instant::now() + period, period);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(BATCH_MSGS);
        loop {
            // 1. Control first, flushed on its own so it never waits for a data batch.
            if self.drain_control().await? {
                continue;
            }
            if *self.stop.borrow() {
                return Ok(());
            }
            // 2. One bounded batch of data, if the send window allows.
            self.flow.confirm(*self.acked.borrow_and_update());
            if self.flow.is_open() {
                if let Some(order) = self.queue.take_batch(BATCH_MSGS, BATCH_BYTES, &mut batch) {
                    self.shared
                        .record(Initiator::Local, order.code, order.reason);
                    return Ok(());
                }
                if !batch.is_empty() {
                    for m in batch.drain(..) {
                        self.flow.wrote(m.len());
                        self.feed(Message::Text(m)).await?;
                    }
                    if self.flow.ping_due() {
                        self.feed_ping().await?;
                    }
                    self.flush().await?;
                    continue;
                }
            } else if let Some(order) = self.queue.close_order() {
                // Window full: still honour a close order (e.g. overflow while the client
                // stopped reading).
                self.shared
                    .record(Initiator::Local, order.code, order.reason);
                return Ok(());
            }
            // 3. Nothing sendable: wait for the first thing that changes that.
            let window_open = self.flow.is_open();
            tokio::select! {
                biased;
                msg = self.ctrl.recv() => match msg {
                    Some(text) => {
                        self.feed(Message::Text(text)).await?;
                        self.drain_control().await?;
                        self.flush().await?;
                    }
                    // The reader ended (it holds the sender): the connection is over.
                    None => return Ok(()),
                },
                _ = self.stop.changed() => {}
                _ = self.acked.changed(), if !window_open => {}
                _ = self.queue.wait() => {}
                _ = heartbeat.tick() => {
                    self.feed_ping().await?;
                    self.flush().await?;
                }
            }
        }
    }

    /// Sends everything in the control lane with one flush; `true` if anything was sent.
    async fn drain_control(&mut self) -> Result<bool, WriteFail> {
        let mut sent = false;
        while let Ok(text) = self.ctrl.try_recv() {
            self.feed(Message::Text(text)).await?;
            sent = true;
        }
        if sent {
            self.flush().await?;
        }
        Ok(sent)
    }

    async fn feed_ping(&mut self) -> Result<(), WriteFail> {
        let payload = self.flow.next_ping();
        self.feed(Message::Ping(Bytes::copy_from_slice(&payload)))
            .await
    }

    /// Queues a frame in tungstenite's buffer (a real write only when the buffer is full,
    /// hence the same timeout as a flush).
    async fn feed(&mut self, msg: Message) -> Result<(), WriteFail> {
        match timeout(self.ctx.params.write_timeout, self.sink.feed(msg)).await {
            Ok(Ok(())) => {
                self.frames += 1;
                Ok(())
            }
            Ok(Err(e)) => Err(WriteFail::Io(e.to_string())),
            Err(_) => Err(WriteFail::Timeout),
        }
    }

    async fn flush(&mut self) -> Result<(), WriteFail> {
        match timeout(self.ctx.params.write_timeout, self.sink.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(WriteFail::Io(e.to_string())),
            Err(_) => Err(WriteFail::Timeout),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Diagnostics
// ---------------------------------------------------------------------------------------------

/// One structured line per close, on every path.
fn log_close(ctx: &ConnCtx, rec: &CloseRecord, started: Instant, frames_in: u64, frames_out: u64) {
    let duration_ms = started.elapsed().as_millis() as u64;
    let initiator = match rec.initiator {
        Initiator::Local => "local",
        Initiator::Remote => "remote",
        Initiator::Transport => "transport",
    };
    let normal = matches!(rec.code, close::NORMAL | close::GOING_AWAY | 1005);
    if normal {
        tracing::info!(
            event = "client.close", conn = %ctx.id, initiator, code = rec.code,
            reason = %rec.reason, duration_ms, frames_in, frames_out, "client connection closed"
        );
        // Abnormal closes reach the events stream through the WARN log layer
        // (`BackendInputs::log_events`); adding them here too would show them twice.
        ctx.hub.send(HubCmd::Note(LogEvent {
            ts: now_ms(),
            level: Level::Info,
            name: "client.close".into(),
            message: format!(
                "client {} closed by {initiator}: {} {}",
                ctx.id, rec.code, rec.reason
            ),
            count: 1,
        }));
    } else {
        tracing::warn!(
            event = "client.close", conn = %ctx.id, initiator, code = rec.code,
            reason = %rec.reason, duration_ms, frames_in, frames_out, "client connection closed"
        );
    }
}

/// `30000` -> `30s`, `300` -> `0.3s`.
fn secs(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// Cuts at a char boundary so the result is at most `max` bytes of valid UTF-8.
fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_a_control_frame_at_char_boundaries() {
        let long = "é".repeat(100);
        let t = truncate(long, MAX_REASON);
        assert!(t.len() <= MAX_REASON);
        assert!(t.chars().all(|c| c == 'é'));
        assert_eq!(truncate("short".into(), MAX_REASON), "short");
    }

    #[test]
    fn idle_reason_formats_seconds() {
        assert_eq!(secs(30_000), "30s");
        assert_eq!(secs(300), "0.3s");
    }

    #[test]
    fn op_budget_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = OpBudget::new(10, t0);
        assert!((0..10).all(|_| b.take(t0)), "burst of the rate");
        assert!(!b.take(t0), "11th op in the same instant is over");
        // 100 ms later one more token has accrued, not more.
        let t1 = t0 + Duration::from_millis(100);
        assert!(b.take(t1));
        assert!(!b.take(t1));
        // A long pause refills to the burst size only.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| b.take(t2)).count(), 10);
    }

    #[test]
    fn utf8_errors_are_recognised() {
        let e = axum::Error::new(WsError::Utf8("bad".into()));
        assert_eq!(ReadFailure::of(&e), ReadFailure::InvalidUtf8);
        let reset = axum::Error::new(WsError::Protocol(
            tokio_tungstenite::tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        ));
        assert_eq!(ReadFailure::of(&reset), ReadFailure::Other);
    }

    #[test]
    fn capacity_errors_are_recognised() {
        let e = axum::Error::new(WsError::Capacity(CapacityError::MessageTooLong {
            size: 2_000_000,
            max_size: 1_048_576,
        }));
        assert_eq!(
            ReadFailure::of(&e),
            ReadFailure::TooBig("2000000 > 1048576".into())
        );
        let io = axum::Error::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(ReadFailure::of(&io), ReadFailure::Other);
    }
}
