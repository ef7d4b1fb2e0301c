//! The adapter task: connect -> subscribe -> read until the connection ends -> back off ->
//! again, until the consumer drops the event receiver. Pure decisions live in `wire`,
//! `subscriptions`, `dedupe` and `health`; this file wires them to sockets and timers.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::backoff::Backoff;
use crate::config::MexcConfig;
use crate::exchange::MarketEvent;
use crate::protocol::{CloseInfo, Initiator, UpstreamHealth, UpstreamState, now_ms};

use super::connection::{self, Ending, Writer, WsStream};
use super::dedupe::TradeDedupe;
use super::health::{HealthTracker, LogThrottle};
use super::subscriptions::Subscriptions;
use super::wire;

mod inbound;

/// Health is republished at least this often while connected (ages move).
const HEALTH_EVERY: Duration = Duration::from_secs(1);
/// Noisy warnings (malformed frames, binary frames) at most once per this period.
const NOISY_LOG_EVERY: Duration = Duration::from_secs(10);

/// The event receiver is gone: stop everything.
struct Shutdown;

pub(super) struct Adapter {
    cfg: MexcConfig,
    symbols: watch::Receiver<BTreeSet<String>>,
    /// False once the symbol sender is dropped, so a closed watch never spins the loop.
    symbols_open: bool,
    out: mpsc::Sender<MarketEvent>,
    health_tx: watch::Sender<UpstreamHealth>,
    health: HealthTracker,
    subs: Subscriptions,
    dedupe: TradeDedupe,
    backoff: Backoff,
    malformed: LogThrottle,
    binary: LogThrottle,
}

impl Adapter {
    pub(super) fn new(
        cfg: MexcConfig,
        symbols: watch::Receiver<BTreeSet<String>>,
        out: mpsc::Sender<MarketEvent>,
    ) -> (Adapter, watch::Receiver<UpstreamHealth>) {
        let health = HealthTracker::new(cfg.ws_url.clone());
        let subs = Subscriptions::new();
        let (health_tx, health_rx) = watch::channel(health.snapshot(Instant::now(), subs.counts()));
        let ms = Duration::from_millis;
        let backoff = Backoff::new(
            ms(cfg.backoff_base_ms),
            ms(cfg.backoff_cap_ms),
            ms(cfg.stable_after_ms),
        );
        let adapter = Adapter {
            cfg,
            symbols,
            symbols_open: true,
            out,
            health_tx,
            health,
            subs,
            dedupe: TradeDedupe::new(),
            backoff,
            malformed: LogThrottle::new(NOISY_LOG_EVERY),
            binary: LogThrottle::new(NOISY_LOG_EVERY),
        };
        (adapter, health_rx)
    }

    fn publish(&self) {
        self.health_tx
            .send_replace(self.health.snapshot(Instant::now(), self.subs.counts()));
    }

    pub(super) async fn run(mut self) {
        let url = self.cfg.ws_url.clone();
        let connect_timeout = Duration::from_millis(self.cfg.connect_timeout_ms);
        let mut first = true;
        loop {
            if !first {
                self.health.reconnects += 1;
            }
            first = false;
            self.publish();
            let conn_id = connection::next_conn_id();
            tracing::debug!(event = "mexc.connecting", conn_id, url);

            let attempt = tokio::select! {
                r = connection::connect(&url, connect_timeout) => r,
                _ = self.out.closed() => break,
            };
            let delay = match attempt {
                Ok(ws) => {
                    let started = Instant::now();
                    let (ending, frames_in, frames_out, shutdown) =
                        self.run_connection(ws, &conn_id).await;
                    let up_for = started.elapsed();
                    self.backoff.connection_ended(up_for);
                    self.subs.on_disconnected();
                    if shutdown {
                        log_close(&ending, &conn_id, up_for, frames_in, frames_out, None);
                        self.health.disconnected(close_info(&ending));
                        break;
                    }
                    let delay = self.backoff.next_delay();
                    log_close(
                        &ending,
                        &conn_id,
                        up_for,
                        frames_in,
                        frames_out,
                        Some(delay),
                    );
                    self.health.disconnected(close_info(&ending));
                    delay
                }
                Err(ending) => {
                    let delay = self.backoff.next_delay();
                    tracing::warn!(
                        event = "mexc.connect_failed",
                        conn_id,
                        url,
                        initiator = ?ending.initiator,
                        code = ending.code,
                        reason = %ending.reason,
                        attempt = self.backoff.attempt(),
                        retry_in_ms = delay.as_millis() as u64,
                    );
                    self.health.disconnected(close_info(&ending));
                    delay
                }
            };
            self.publish();
            if self.wait_before_retry(delay).await.is_err() {
                break;
            }
        }
        self.health.state = UpstreamState::Down;
        self.publish();
        tracing::info!(event = "mexc.stopped", reason = "event receiver dropped");
    }

    /// Backoff pause. Follows watch-set changes meanwhile so health counts stay true.
    async fn wait_before_retry(&mut self, delay: Duration) -> Result<(), Shutdown> {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return Ok(()),
                _ = self.out.closed() => return Err(Shutdown),
                changed = self.symbols.changed(), if self.symbols_open => {
                    if changed.is_ok() {
                        let wanted = self.symbols.borrow_and_update().clone();
                        self.subs.set_desired(&wanted);
                        self.publish();
                    } else {
                        self.symbols_open = false;
                    }
                }
            }
        }
    }

    /// One connection from open to end. Returns (ending, frames in, frames out, shutdown).
    async fn run_connection(&mut self, ws: WsStream, conn_id: &str) -> (Ending, u64, u64, bool) {
        let (sink, mut stream) = ws.split();
        let mut writer = Writer::spawn(sink, Duration::from_millis(self.cfg.ping_interval_ms));
        let wanted = self.symbols.borrow_and_update().clone();
        self.subs.set_desired(&wanted);
        self.subs.on_connected();
        self.health.connected(Instant::now());
        self.publish();
        tracing::info!(
            event = "mexc.connected",
            conn_id,
            url = %self.cfg.ws_url,
            symbols = wanted.len(),
        );

        let pace = Duration::from_millis(self.cfg.subscribe_pace_ms);
        let silence = Duration::from_millis(self.cfg.silence_reconnect_ms);
        let mut frames_in: u64 = 0;
        let mut last_inbound = Instant::now();
        let silence_timer = tokio::time::sleep_until(last_inbound + silence);
        tokio::pin!(silence_timer);
        let mut next_send = Instant::now();
        let mut tick = tokio::time::interval(HEALTH_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);

        // Not `biased`: a flood on the socket must not starve pacing, health or watchdogs.
        let (ending, shutdown) = loop {
            tokio::select! {
                msg = stream.next() => {
                    let m = match msg {
                        None => break (Ending::transport("stream ended without close frame"), false),
                        Some(Err(e)) => break (Ending::from_error(&e), false),
                        Some(Ok(m)) => m,
                    };
                    frames_in += 1;
                    last_inbound = Instant::now();
                    let handled = match m {
                        Message::Text(text) => self.on_text(text.as_str(), conn_id).await,
                        Message::Binary(bytes) => match wire::decode_binary(&bytes) {
                            Ok(text) => self.on_text(&text, conn_id).await,
                            Err(why) => {
                                if let Some(suppressed) = self.binary.hit(last_inbound) {
                                    tracing::warn!(event = "mexc.binary_dropped", conn_id, ?why, suppressed, total = self.binary.total);
                                }
                                Ok(())
                            }
                        },
                        Message::Close(frame) => break (Ending::remote(frame.as_ref()), false),
                        // tungstenite answers protocol Pings itself; they prove nothing to MEXC.
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(()),
                    };
                    if handled.is_err() {
                        break (Ending::local("adapter stopped"), true);
                    }
                    // Time spent waiting on a slow consumer is not socket silence: the next
                    // frames are already buffered and must not trigger a reconnect.
                    last_inbound = Instant::now();
                }
                _ = tokio::time::sleep_until(next_send), if self.subs.has_outbox() => {
                    if let Some(cmd) = self.subs.next_command() {
                        tracing::debug!(event = "mexc.command", conn_id, command = ?cmd);
                        writer.send(cmd.to_text());
                        next_send = Instant::now() + pace;
                        self.publish();
                    }
                }
                changed = self.symbols.changed(), if self.symbols_open => {
                    if changed.is_ok() {
                        let wanted = self.symbols.borrow_and_update().clone();
                        tracing::info!(event = "mexc.symbols_changed", conn_id, symbols = wanted.len());
                        self.subs.set_desired(&wanted);
                        self.publish();
                    } else {
                        // Sender gone: keep streaming the last set.
                        self.symbols_open = false;
                    }
                }
                _ = &mut silence_timer => {
                    let deadline = last_inbound + silence;
                    if Instant::now() >= deadline {
                        let reason = format!("no inbound frame for {} ms", silence.as_millis());
                        break (Ending::local(reason), false);
                    }
                    silence_timer.as_mut().reset(deadline);
                }
                _ = tick.tick() => self.publish(),
                res = &mut writer.task => {
                    let reason = match res {
                        Ok(Ok(())) => "writer stopped".to_string(),
                        Ok(Err(e)) => format!("write failed: {e}"),
                        Err(e) => format!("writer task failed: {e}"),
                    };
                    break (Ending::transport(reason), false);
                }
                _ = self.out.closed() => break (Ending::local("adapter stopped"), true),
            }
        };

        let close =
            (ending.initiator == Initiator::Local).then(|| (ending.code, ending.reason.clone()));
        let frames_out = if writer.task.is_finished() {
            writer.frames_out.load(std::sync::atomic::Ordering::Relaxed)
        } else {
            writer.finish(close).await
        };
        (ending, frames_in, frames_out, shutdown)
    }
}

fn close_info(e: &Ending) -> CloseInfo {
    CloseInfo {
        initiator: e.initiator,
        code: e.code,
        reason: e.reason.clone(),
        at_ms: now_ms(),
    }
}

/// DG-1: every close, one line, stable event name, everything needed to understand it.
fn log_close(
    e: &Ending,
    conn_id: &str,
    up_for: Duration,
    frames_in: u64,
    frames_out: u64,
    retry_in: Option<Duration>,
) {
    let duration_ms = up_for.as_millis() as u64;
    let retry_in_ms = retry_in.map(|d| d.as_millis() as u64);
    let initiator = e.initiator;
    if retry_in.is_none() && initiator == Initiator::Local {
        tracing::info!(event = "mexc.close", ?initiator, code = e.code, reason = %e.reason, conn_id, duration_ms, frames_in, frames_out);
    } else {
        tracing::warn!(event = "mexc.close", ?initiator, code = e.code, reason = %e.reason, conn_id, duration_ms, frames_in, frames_out, retry_in_ms);
    }
}
