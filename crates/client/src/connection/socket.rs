//! One open WebSocket, from handshake to close: hello and subscription replay, app pings,
//! reading every frame into the UI channel, commands, and a logged close.
//!
//! The loop only ever awaits the socket, the ping timer, the pong deadline and commands, so a
//! slow UI costs at most the channel's slack and never delays reading pongs that already arrived.

use super::Connection;
use crate::dial::WsStream;
use crate::health_machine::Input;
use crate::outbox::Gone;
use crate::{ClientCommand, Subscription, SymbolStream, SymbolView};
use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error, Message};
use trademon_protocol::{
    self as protocol, ClientMsg, CloseInfo, Initiator, Level, PROTOCOL_VERSION, ServerMsg, close,
};

/// How long the close handshake may take before the socket is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// RFC 6455: a close reason is at most 123 bytes.
const MAX_REASON_BYTES: usize = 123;
/// Code recorded when the transport ended without a close frame (never sent on the wire).
const ABNORMAL: u16 = 1006;
/// Code recorded for a close frame without a status.
const NO_STATUS: u16 = 1005;

/// How a socket's run ended, for the lifecycle in `connection.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SocketEnd {
    Quit,
    ReconnectNow,
    /// `server_restarting`: the backend said it is going away (1001): it is likely back in
    /// moments, so the reconnect should not wait out a long backoff.
    Lost {
        may_reconnect: bool,
        server_restarting: bool,
    },
}

/// Per-connection counters for the close log line.
struct Counters {
    opened: Instant,
    frames_in: u64,
    frames_out: u64,
    /// From the server's `hello`.
    connection_id: Option<String>,
}

impl Connection {
    pub(super) async fn run_socket(&mut self, mut ws: WsStream) -> Result<SocketEnd, Gone> {
        let mut c = Counters {
            opened: Instant::now(),
            frames_in: 0,
            frames_out: 0,
            connection_id: None,
        };
        let result = self.socket_loop(&mut ws, &mut c).await;
        if result.is_err() {
            // The UI is gone, so no notices; still say goodbye properly and log it.
            let frame = CloseFrame {
                code: CloseCode::from(close::GOING_AWAY),
                reason: "client gone".into(),
            };
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await;
            log_close(
                "local",
                close::GOING_AWAY,
                "client gone",
                &c,
                tracing::Level::INFO,
            );
        }
        result
    }

    async fn socket_loop(
        &mut self,
        ws: &mut WsStream,
        c: &mut Counters,
    ) -> Result<SocketEnd, Gone> {
        self.on_opened().await?;

        // The whole desired set, every time: the server has no memory of this client.
        let mut replay = vec![ClientMsg::Hello {
            protocol: PROTOCOL_VERSION,
            client: format!("trademon/{}", env!("CARGO_PKG_VERSION")),
        }];
        for sub in self.desired.clone() {
            replay.push(self.subscribe_msg(&sub));
        }
        let view_streams = self.symbol_view.as_ref().map(SymbolView::streams);
        for s in view_streams.into_iter().flatten() {
            replay.push(self.symbol_msg(&s, true));
        }
        if let Err(e) = self.send_batch(ws, &replay, c).await {
            return self.transport_lost(c, e).await;
        }

        let mut ping_timer =
            tokio::time::interval(Duration::from_millis(self.opts.cfg.ping_interval_ms));
        ping_timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let deadline = self.machine.next_deadline();
            let far = Instant::now() + Duration::from_secs(3600);
            // Commands and the ping timer come first: under a flood the socket is always
            // ready and would otherwise starve them.
            tokio::select! {
                biased;
                cmd = self.cmds.recv(), if self.cmds_open => {
                    if let Some(end) = self.on_command(cmd, ws, c).await? {
                        return Ok(end);
                    }
                }
                _ = ping_timer.tick() => {
                    let id = self.next_ping_id;
                    self.next_ping_id += 1;
                    if let Err(e) = self.send_batch(ws, &[ClientMsg::Ping { id }], c).await {
                        return self.transport_lost(c, e).await;
                    }
                    self.machine.on(Input::PingSent { id }, Instant::now());
                }
                frame = ws.next() => match frame {
                    Some(Ok(msg)) => {
                        c.frames_in += 1;
                        if let Some(end) = self.on_frame(msg, ws, c).await? {
                            return Ok(end);
                        }
                    }
                    Some(Err(Error::Capacity(e))) => {
                        // Our own limit (max_message_bytes): tell the server why (1009).
                        let reason = format!("message too big: {e}");
                        let end = SocketEnd::Lost {
                            may_reconnect: true,
                            server_restarting: false,
                        };
                        return self.close_local(ws, c, close::MESSAGE_TOO_BIG, &reason, end).await;
                    }
                    Some(Err(e)) => return self.transport_lost(c, e.to_string()).await,
                    None => {
                        return self
                            .transport_lost(c, "connection ended without a close frame".into())
                            .await;
                    }
                },
                // The WebSocket is up: REST results still in flight are stale.
                Some(_) = self.poll_rx.recv() => {}
                _ = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {
                    let now = Instant::now();
                    let out = self.machine.on(Input::Tick, now);
                    if out.reconnect {
                        let silent = self
                            .machine
                            .silent_for(now)
                            .map(|d| format!("{} ms", d.as_millis()))
                            .unwrap_or_else(|| "ever".into());
                        let reason = format!(
                            "heartbeat timeout: {} pongs missed, no frame for {silent}",
                            self.opts.cfg.reconnect_after_missed
                        );
                        return self
                            .close_local(ws, c, close::HEARTBEAT_TIMEOUT, &reason, SocketEnd::Lost { may_reconnect: true, server_restarting: false })
                            .await;
                    }
                    self.publish().await?;
                }
            }
        }
    }

    async fn on_command(
        &mut self,
        cmd: Option<ClientCommand>,
        ws: &mut WsStream,
        c: &mut Counters,
    ) -> Result<Option<SocketEnd>, Gone> {
        let msgs = match cmd {
            None => {
                self.cmds_open = false;
                return Ok(None);
            }
            Some(ClientCommand::Shutdown) => {
                return self
                    .close_local(ws, c, close::NORMAL, "client quit", SocketEnd::Quit)
                    .await
                    .map(Some);
            }
            Some(ClientCommand::ReconnectNow) => {
                return self
                    .close_local(
                        ws,
                        c,
                        close::NORMAL,
                        "reconnect requested",
                        SocketEnd::ReconnectNow,
                    )
                    .await
                    .map(Some);
            }
            Some(ClientCommand::SetSubscriptions(set)) => self.set_subscriptions(set),
            Some(ClientCommand::Resync(sub)) => {
                // Only what is still wanted: a late resync must not resurrect a subscription.
                if !self.desired.contains(&sub) {
                    return Ok(None);
                }
                let unsub = self.unsubscribe_msg(&sub);
                vec![unsub, self.subscribe_msg(&sub)]
            }
            Some(ClientCommand::SetSymbolView(view)) => self.set_symbol_view(view),
            Some(ClientCommand::Request(msg)) => vec![msg],
            Some(ClientCommand::ResyncSymbol { stream, symbol }) => {
                // Only a stream of the view still open: a late resync must not reopen one.
                let open = self.symbol_view.as_ref().map(SymbolView::streams);
                match open
                    .into_iter()
                    .flatten()
                    .find(|s| s.stream == stream && s.symbol == symbol)
                {
                    Some(s) => vec![self.symbol_msg(&s, false), self.symbol_msg(&s, true)],
                    None => return Ok(None),
                }
            }
        };
        if msgs.is_empty() {
            return Ok(None);
        }
        match self.send_batch(ws, &msgs, c).await {
            Ok(()) => Ok(None),
            Err(e) => self.transport_lost(c, e).await.map(Some),
        }
    }

    /// Stores the new desired set and returns the (un)subscribe ops for the difference.
    fn set_subscriptions(&mut self, set: BTreeSet<Subscription>) -> Vec<ClientMsg> {
        let removed: Vec<Subscription> = self.desired.difference(&set).cloned().collect();
        let added: Vec<Subscription> = set.difference(&self.desired).cloned().collect();
        self.desired = set;
        self.sync_poll_plan();
        let mut msgs: Vec<ClientMsg> = removed.iter().map(|s| self.unsubscribe_msg(s)).collect();
        msgs.extend(added.iter().map(|s| self.subscribe_msg(s)));
        msgs
    }

    /// Stores the new symbol view and returns the (un)subscribe ops for the streams that
    /// changed: a new interval moves `candles` alone, a new symbol moves all three.
    fn set_symbol_view(&mut self, view: Option<SymbolView>) -> Vec<ClientMsg> {
        let old = self
            .symbol_view
            .as_ref()
            .map(SymbolView::streams)
            .unwrap_or_default();
        let new = view.as_ref().map(SymbolView::streams).unwrap_or_default();
        self.symbol_view = view;
        let mut msgs: Vec<ClientMsg> = old
            .difference(&new)
            .map(|s| self.symbol_msg(s, false))
            .collect();
        msgs.extend(new.difference(&old).map(|s| self.symbol_msg(s, true)));
        msgs
    }

    /// Handles one inbound frame; `Some` when the socket is finished.
    async fn on_frame(
        &mut self,
        msg: Message,
        ws: &mut WsStream,
        c: &mut Counters,
    ) -> Result<Option<SocketEnd>, Gone> {
        let now = Instant::now();
        match msg {
            Message::Text(text) => {
                let raw = text.as_str().to_string();
                match serde_json::from_str::<ServerMsg>(&raw) {
                    Ok(msg) => self.on_server_msg(msg, raw, c, now).await?,
                    Err(e) => {
                        // Still proof of life, just not something we understand.
                        self.machine.on(Input::Frame, now);
                        self.report(
                            Level::Warn,
                            "link.bad_frame",
                            &format!("unparsable message: {e}"),
                        )
                        .await?;
                    }
                }
            }
            Message::Binary(_) => {
                self.machine.on(Input::Frame, now);
                self.report(Level::Warn, "link.bad_frame", "unexpected binary frame")
                    .await?;
            }
            Message::Ping(_) => {
                self.machine.on(Input::Frame, now);
                // tungstenite queued the pong; flushing sends it now instead of on the next read.
                let _ = tokio::time::timeout(self.write_timeout(), ws.flush()).await;
            }
            Message::Pong(_) | Message::Frame(_) => {
                self.machine.on(Input::Frame, now);
            }
            Message::Close(frame) => {
                let (code, reason) = match frame {
                    Some(f) => (u16::from(f.code), f.reason.to_string()),
                    None => (NO_STATUS, String::new()),
                };
                // Keep reading so tungstenite sends its close reply (bounded).
                drain(ws, c).await;
                self.closed(Initiator::Remote, code, &reason, c).await?;
                return Ok(Some(SocketEnd::Lost {
                    may_reconnect: close::may_reconnect(code),
                    server_restarting: code == close::GOING_AWAY,
                }));
            }
        }
        Ok(None)
    }

    async fn on_server_msg(
        &mut self,
        msg: ServerMsg,
        raw: String,
        c: &mut Counters,
        now: Instant,
    ) -> Result<(), Gone> {
        match &msg {
            ServerMsg::Pong(p) => {
                let before = self.machine.state();
                self.machine.on(Input::Pong { id: p.id }, now);
                if self.machine.state() != before {
                    tracing::info!(
                        event = "link.pong",
                        id = p.id,
                        "pong received, link live again"
                    );
                }
                self.publish().await?;
            }
            other => {
                self.machine.on(Input::Frame, now);
                match other {
                    ServerMsg::Hello(h) => {
                        c.connection_id = Some(h.connection_id.clone());
                        if h.protocol != PROTOCOL_VERSION {
                            let text = format!(
                                "server speaks protocol {}, this client {PROTOCOL_VERSION}",
                                h.protocol
                            );
                            self.report(Level::Warn, "link.protocol", &text).await?;
                        }
                    }
                    ServerMsg::Error(e) => {
                        let text = format!("{}: {}", e.code, e.message);
                        self.report(Level::Warn, "link.error", &text).await?;
                    }
                    _ => {}
                }
            }
        }
        if !self.out.message(msg, raw).await? {
            self.report_nowait(
                Level::Warn,
                "link.ui_behind",
                "UI is behind: market updates dropped (latest value wins)",
            );
        }
        Ok(())
    }

    /// Sends a close frame, waits (bounded) for the handshake to finish, logs it.
    async fn close_local(
        &mut self,
        ws: &mut WsStream,
        c: &Counters,
        code: u16,
        reason: &str,
        end: SocketEnd,
    ) -> Result<SocketEnd, Gone> {
        let reason = truncate(reason, MAX_REASON_BYTES);
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.clone().into(),
        };
        let mut counters = Counters {
            opened: c.opened,
            frames_in: c.frames_in,
            frames_out: c.frames_out + 1,
            connection_id: c.connection_id.clone(),
        };
        let handshake = async {
            if ws.close(Some(frame)).await.is_ok() {
                drain(ws, &mut counters).await;
            }
        };
        // A peer declared dead by the heartbeat will not answer: don't wait long for it.
        let limit = if code == close::HEARTBEAT_TIMEOUT {
            CLOSE_TIMEOUT.min(self.write_timeout())
        } else {
            CLOSE_TIMEOUT
        };
        let _ = tokio::time::timeout(limit, handshake).await;
        self.closed(Initiator::Local, code, &reason, &counters)
            .await?;
        Ok(end)
    }

    async fn transport_lost(&mut self, c: &Counters, error: String) -> Result<SocketEnd, Gone> {
        self.closed(Initiator::Transport, ABNORMAL, &error, c)
            .await?;
        Ok(SocketEnd::Lost {
            may_reconnect: true,
            server_restarting: false,
        })
    }

    /// Every close is logged with who, code, reason, connection id, duration, counters.
    async fn closed(
        &mut self,
        initiator: Initiator,
        code: u16,
        reason: &str,
        c: &Counters,
    ) -> Result<(), Gone> {
        let who = match initiator {
            Initiator::Local => "local",
            Initiator::Remote => "remote",
            Initiator::Transport => "transport",
        };
        let routine = initiator == Initiator::Local && code == close::NORMAL;
        let level = if routine {
            tracing::Level::INFO
        } else {
            tracing::Level::WARN
        };
        log_close(who, code, reason, c, level);
        self.status.last_close = Some(CloseInfo {
            initiator,
            code,
            reason: reason.to_string(),
            at_ms: protocol::now_ms(),
        });
        let mut text = format!("closed by {who}: {code}");
        if !reason.is_empty() {
            text.push(' ');
            text.push_str(reason);
        }
        if !close::may_reconnect(code) && initiator == Initiator::Remote {
            text.push_str(" (not reconnecting)");
        }
        let level = if routine { Level::Info } else { Level::Warn };
        // The close itself is logged above with all its fields; this is the event-panel line.
        self.notify(level, "link.close", &text).await
    }

    async fn send_batch(
        &mut self,
        ws: &mut WsStream,
        msgs: &[ClientMsg],
        c: &mut Counters,
    ) -> Result<(), String> {
        let write = async {
            for m in msgs {
                let text = serde_json::to_string(m).map_err(|e| e.to_string())?;
                ws.feed(Message::text(text))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            ws.flush().await.map_err(|e| e.to_string())
        };
        match tokio::time::timeout(self.write_timeout(), write).await {
            Ok(Ok(())) => {
                c.frames_out += msgs.len() as u64;
                Ok(())
            }
            Ok(Err(e)) => Err(format!("write failed: {e}")),
            Err(_) => Err(format!(
                "write timed out after {} ms",
                self.write_timeout().as_millis()
            )),
        }
    }

    /// A write that cannot finish within a pong timeout means the link is as good as dead.
    fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.opts.cfg.pong_timeout_ms.max(1))
    }

    fn subscribe_msg(&mut self, sub: &Subscription) -> ClientMsg {
        ClientMsg::Subscribe {
            interval: None,
            symbol: None,
            id: self.op_id(),
            stream: sub.stream.as_str().to_string(),
            session_id: sub.session_id.clone(),
        }
    }

    fn unsubscribe_msg(&mut self, sub: &Subscription) -> ClientMsg {
        ClientMsg::Unsubscribe {
            interval: None,
            symbol: None,
            id: self.op_id(),
            stream: sub.stream.as_str().to_string(),
            session_id: sub.session_id.clone(),
        }
    }

    /// Subscribe (or unsubscribe) one per-symbol stream.
    fn symbol_msg(&mut self, s: &SymbolStream, subscribe: bool) -> ClientMsg {
        let id = self.op_id();
        let stream = s.stream.as_str().to_string();
        let symbol = Some(s.symbol.clone());
        let interval = s.interval.map(|i| i.as_str().to_string());
        if subscribe {
            ClientMsg::Subscribe {
                id,
                stream,
                session_id: None,
                symbol,
                interval,
            }
        } else {
            ClientMsg::Unsubscribe {
                id,
                stream,
                session_id: None,
                symbol,
                interval,
            }
        }
    }

    fn op_id(&mut self) -> u64 {
        let id = self.next_op_id;
        self.next_op_id += 1;
        id
    }
}

/// The close line: stable event name, who, code, reason, connection id, duration, counters.
fn log_close(who: &str, code: u16, reason: &str, c: &Counters, level: tracing::Level) {
    let duration_ms = c.opened.elapsed().as_millis() as u64;
    let connection_id = c.connection_id.as_deref().unwrap_or("-");
    let (frames_in, frames_out) = (c.frames_in, c.frames_out);
    if level == tracing::Level::INFO {
        tracing::info!(
            event = "link.close",
            initiator = who,
            code,
            reason,
            connection_id,
            duration_ms,
            frames_in,
            frames_out,
            "websocket closed"
        );
    } else {
        tracing::warn!(
            event = "link.close",
            initiator = who,
            code,
            reason,
            connection_id,
            duration_ms,
            frames_in,
            frames_out,
            "websocket closed"
        );
    }
}

/// Reads until the stream ends (or the close timeout) so the close handshake completes.
async fn drain(ws: &mut WsStream, c: &mut Counters) {
    let read_all = async {
        while let Some(Ok(_)) = ws.next().await {
            c.frames_in += 1;
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, read_all).await;
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame() {
        let long = "é".repeat(100);
        let t = truncate(&long, MAX_REASON_BYTES);
        assert!(t.len() <= MAX_REASON_BYTES);
        assert!(long.starts_with(&t));
        assert_eq!(truncate("short", MAX_REASON_BYTES), "short");
    }
}
