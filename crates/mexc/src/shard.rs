//! One connection slot ("shard"): connect -> subscribe its symbols -> read until the
//! connection ends -> back off -> again, until stopped. Each shard has its own socket,
//! ping timer, watchdogs and health entry; the supervisor decides which symbols it carries
//! and when it is replaced (rotation). Pure decisions live in `wire`, `subscriptions`,
//! `escalation`, `watchdog` and `dedupe`; this file wires them to sockets and timers.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::MexcConfig;
use trademon_core::backoff::Backoff;
use trademon_core::market::{FeedWant, LinkChange, MarketEvent};
use trademon_protocol::{CloseInfo, Initiator, UpstreamState, now_ms};

use super::connection::{self, Ending, Writer, WsStream};
use super::dedupe::SharedDedupe;
use super::escalation::{self, Limits, Step, Why};
use super::feeds::Feeds;
use super::feeds_rest::Fetched;
use super::health::{HealthTracker, LogThrottle, ShardReport};
use super::subscriptions::Subscriptions;
use super::watchdog::{self, PongVerdict, PongWatch};
use super::wire;

mod feed_io;
mod inbound;

/// Health is republished at least this often while connected (ages move).
const HEALTH_EVERY: Duration = Duration::from_secs(1);
/// Noisy warnings (malformed frames, binary frames) at most once per this period.
const NOISY_LOG_EVERY: Duration = Duration::from_secs(10);
/// Close codes meaning "the server is restarting / busy, come back later" (RFC 6455 1012,
/// 1013): waiting only the jittered backoff would hammer a recovering server.
const RETRY_LATER_CODES: [u16; 2] = [1012, 1013];

/// The shard must end: the event receiver is gone, or the supervisor stopped it.
pub(super) struct Shutdown(pub String);

/// Everything a shard shares with the supervisor and the other shards.
#[derive(Clone)]
pub(super) struct ShardContext {
    pub cfg: Arc<MexcConfig>,
    pub out: mpsc::Sender<MarketEvent>,
    pub dedupe: SharedDedupe,
    pub malformed: Arc<AtomicU64>,
    /// Poked after every report change; the supervisor coalesces.
    pub notify: Arc<Notify>,
    /// For the feeds' REST requests (`None`: it could not be built; they fail with that).
    pub http: Option<reqwest::Client>,
}

/// The supervisor's side of a shard.
pub(super) struct ShardHandle {
    pub report: watch::Receiver<ShardReport>,
    /// Send a reason to stop the shard (its socket closes with 1000 and that reason);
    /// dropping it stops the shard too.
    pub stop: watch::Sender<Option<String>>,
    pub task: tokio::task::JoinHandle<()>,
}

pub(super) fn spawn(
    shared: ShardContext,
    symbols: watch::Receiver<BTreeSet<String>>,
    wants: watch::Receiver<BTreeSet<FeedWant>>,
) -> ShardHandle {
    let now = Instant::now();
    let health = HealthTracker::new(now);
    let subs = Subscriptions::new();
    let (report_tx, report) = watch::channel(health.snapshot(now, &subs));
    let (stop, stop_rx) = watch::channel(None);
    let ms = Duration::from_millis;
    let c = &shared.cfg;
    let backoff = Backoff::new(
        ms(c.backoff_base_ms),
        ms(c.backoff_cap_ms),
        ms(c.stable_after_ms),
    );
    let limits = Limits {
        ack_timeout: ms(c.ack_timeout_ms),
        ticker_stale: ms(c.ticker_stale_ms),
        max_tries: c.stale_resubscribe_max,
    };
    let pong = PongWatch::new(ms(c.pong_warn_ms), ms(c.pong_reconnect_ms), now);
    let feeds = Feeds::new(feed_io::limits(c));
    let (fetched_tx, fetched_rx) = mpsc::unbounded_channel();
    let shard = Shard {
        shared,
        symbols,
        symbols_open: true,
        wants,
        wants_open: true,
        feeds,
        fetched_tx,
        fetched_rx,
        fetches: JoinSet::new(),
        stop: stop_rx,
        report_tx,
        health,
        subs,
        backoff,
        limits,
        pong,
        malformed: LogThrottle::new(NOISY_LOG_EVERY),
        binary: LogThrottle::new(NOISY_LOG_EVERY),
    };
    ShardHandle {
        report,
        stop,
        task: tokio::spawn(shard.run()),
    }
}

struct Shard {
    shared: ShardContext,
    symbols: watch::Receiver<BTreeSet<String>>,
    /// False once the symbol sender is dropped, so a closed watch never spins the loop.
    symbols_open: bool,
    /// The feeds (kline, depth, funding rate) this connection carries for viewed symbols.
    wants: watch::Receiver<BTreeSet<FeedWant>>,
    wants_open: bool,
    feeds: Feeds,
    /// REST answers of the feeds, back into this task (requests run beside it).
    fetched_tx: mpsc::UnboundedSender<Fetched>,
    fetched_rx: mpsc::UnboundedReceiver<Fetched>,
    /// Running feed requests; dropped (aborted) with the shard.
    fetches: JoinSet<()>,
    stop: watch::Receiver<Option<String>>,
    report_tx: watch::Sender<ShardReport>,
    health: HealthTracker,
    subs: Subscriptions,
    backoff: Backoff,
    limits: Limits,
    pong: PongWatch,
    malformed: LogThrottle,
    binary: LogThrottle,
}

/// Resolves when the shard must end: stop requested or dropped, or consumer gone.
async fn stop_requested(
    stop: &mut watch::Receiver<Option<String>>,
    out: &mpsc::Sender<MarketEvent>,
) -> String {
    let by_supervisor = async {
        loop {
            if let Some(reason) = stop.borrow_and_update().clone() {
                return reason;
            }
            if stop.changed().await.is_err() {
                return "adapter stopped".to_string();
            }
        }
    };
    tokio::select! {
        r = by_supervisor => r,
        _ = out.closed() => "adapter stopped".to_string(),
    }
}

impl Shard {
    fn publish(&self) {
        self.report_tx
            .send_replace(self.health.snapshot(Instant::now(), &self.subs));
        self.shared.notify.notify_one();
    }

    fn follow_symbols(&mut self, changed: Result<(), watch::error::RecvError>) {
        if changed.is_ok() {
            let wanted = self.symbols.borrow_and_update().clone();
            self.subs.set_desired(&wanted);
            self.publish();
        } else {
            // Sender gone: keep streaming the last set.
            self.symbols_open = false;
        }
    }

    async fn run(mut self) {
        let url = self.shared.cfg.ws_url.clone();
        let connect_timeout = Duration::from_millis(self.shared.cfg.connect_timeout_ms);
        let wanted = self.symbols.borrow_and_update().clone();
        self.subs.set_desired(&wanted);
        if self.follow_wants(Ok(())).await.is_err() {
            return;
        }
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
                _ = stop_requested(&mut self.stop, &self.shared.out) => break,
            };
            let delay = match attempt {
                Ok(ws) => {
                    let started = Instant::now();
                    self.emit_link(&conn_id, LinkChange::Opened).await;
                    let (ending, frames_in, frames_out, shutdown) =
                        self.run_connection(ws, &conn_id).await;
                    let up_for = started.elapsed();
                    self.backoff.connection_ended(up_for);
                    self.subs.on_disconnected();
                    self.feeds.on_connection_change();
                    self.health.disconnected(
                        Instant::now(),
                        close_info(&ending),
                        format!("connection lost: {}", ending.cause),
                    );
                    self.emit_link(&conn_id, LinkChange::Closed(close_info(&ending)))
                        .await;
                    if shutdown {
                        log_close(&ending, &conn_id, up_for, frames_in, frames_out, None);
                        break;
                    }
                    let delay = self.retry_delay(&ending);
                    log_close(
                        &ending,
                        &conn_id,
                        up_for,
                        frames_in,
                        frames_out,
                        Some(delay),
                    );
                    delay
                }
                Err(ending) => {
                    let delay = self.retry_delay(&ending);
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
                    self.health.disconnected(
                        Instant::now(),
                        close_info(&ending),
                        format!("unreachable: {}", ending.cause),
                    );
                    self.emit_link(&conn_id, LinkChange::ConnectFailed(close_info(&ending)))
                        .await;
                    delay
                }
            };
            self.publish();
            if self.wait_before_retry(delay).await.is_err() {
                break;
            }
        }
        self.health.state = UpstreamState::Down;
        let mut last = self.health.snapshot(Instant::now(), &self.subs);
        last.ended = true;
        self.report_tx.send_replace(last);
        self.shared.notify.notify_one();
    }

    /// Into the market stream, for `connection_events`. A stopped backend (receiver gone) is
    /// not this task's concern: its own shutdown follows.
    async fn emit_link(&self, conn_id: &str, change: LinkChange) {
        let ev = MarketEvent::Link {
            conn_id: conn_id.to_string(),
            change,
            at_ms: now_ms(),
        };
        let _ = self.shared.out.send(ev).await;
    }

    /// Full-jitter backoff; a server asking us to come back later (1012/1013) gets at
    /// least `retry_later_ms`.
    fn retry_delay(&mut self, ending: &Ending) -> Duration {
        let delay = self.backoff.next_delay();
        if ending.initiator == Initiator::Remote && RETRY_LATER_CODES.contains(&ending.code) {
            delay.max(Duration::from_millis(self.shared.cfg.retry_later_ms))
        } else {
            delay
        }
    }

    /// Backoff pause. Follows watch-set changes meanwhile so health counts stay true.
    async fn wait_before_retry(&mut self, delay: Duration) -> Result<(), Shutdown> {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return Ok(()),
                r = stop_requested(&mut self.stop, &self.shared.out) => return Err(Shutdown(r)),
                changed = self.symbols.changed(), if self.symbols_open => self.follow_symbols(changed),
                changed = self.wants.changed(), if self.wants_open => self.follow_wants(changed).await?,
                Some(f) = self.fetched_rx.recv() => self.on_fetched(f).await?,
            }
        }
    }

    /// One connection from open to end. Returns (ending, frames in, frames out, shutdown).
    async fn run_connection(&mut self, ws: WsStream, conn_id: &str) -> (Ending, u64, u64, bool) {
        let cfg = self.shared.cfg.clone();
        let ms = Duration::from_millis;
        let (sink, mut stream) = ws.split();
        let mut writer = Writer::spawn(sink, ms(cfg.ping_interval_ms));
        let wanted = self.symbols.borrow_and_update().clone();
        self.subs.set_desired(&wanted);
        self.subs.on_connected();
        self.feeds.on_connection_change();
        let opened = Instant::now();
        self.health.connected(opened, conn_id);
        self.pong = PongWatch::new(ms(cfg.pong_warn_ms), ms(cfg.pong_reconnect_ms), opened);
        self.publish();
        tracing::info!(
            event = "mexc.connected",
            conn_id,
            url = %cfg.ws_url,
            symbols = wanted.len(),
            reconnects = self.health.reconnects,
        );

        let pace = ms(cfg.subscribe_pace_ms);
        let silence = ms(cfg.silence_reconnect_ms);
        let mut frames_in: u64 = 0;
        let mut last_inbound = opened;
        let mut next_send = opened;
        let mut last_publish = opened;
        let mut tick = tokio::time::interval(watchdog::tick_every(&[
            silence,
            ms(cfg.pong_warn_ms),
            ms(cfg.ack_timeout_ms),
            ms(cfg.ticker_stale_ms),
        ]));
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
                    if let Err(Shutdown(reason)) = handled {
                        break (Ending::local(reason), true);
                    }
                    // Time spent waiting on a slow consumer is not socket silence: the next
                    // frames are already buffered and must not trigger a reconnect.
                    last_inbound = Instant::now();
                }
                _ = tokio::time::sleep_until(next_send), if self.subs.has_outbox() => {
                    let now = Instant::now();
                    if let Some(cmd) = self.subs.next_command(now) {
                        tracing::debug!(event = "mexc.command", conn_id, command = ?cmd);
                        writer.send(cmd.to_text());
                        next_send = now + pace;
                        self.publish();
                    }
                }
                changed = self.symbols.changed(), if self.symbols_open => {
                    tracing::info!(event = "mexc.symbols_changed", conn_id, symbols = self.symbols.borrow().len());
                    self.follow_symbols(changed);
                }
                changed = self.wants.changed(), if self.wants_open => {
                    if let Err(Shutdown(reason)) = self.follow_wants(changed).await {
                        break (Ending::local(reason), true);
                    }
                }
                Some(f) = self.fetched_rx.recv() => {
                    if let Err(Shutdown(reason)) = self.on_fetched(f).await {
                        break (Ending::local(reason), true);
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    if let Some(ending) = self.watchdogs(conn_id, now, last_inbound, silence) {
                        break (ending, false);
                    }
                    if now.saturating_duration_since(last_publish) >= HEALTH_EVERY {
                        last_publish = now;
                        self.publish();
                    }
                }
                res = &mut writer.task => {
                    let reason = match res {
                        Ok(Ok(())) => "writer stopped".to_string(),
                        Ok(Err(e)) => format!("write failed: {e}"),
                        Err(e) => format!("writer task failed: {e}"),
                    };
                    break (Ending::transport(reason), false);
                }
                reason = stop_requested(&mut self.stop, &self.shared.out) => break (Ending::local(reason), true),
            }
        };

        let close =
            (ending.initiator == Initiator::Local).then(|| (ending.code, ending.reason.clone()));
        let frames_out = if writer.task.is_finished() {
            writer.frames_out.load(Ordering::Relaxed)
        } else {
            writer.finish(close).await
        };
        (ending, frames_in, frames_out, shutdown)
    }

    /// Silence, pong age, then the per-stream ladder. `Some` ends the connection.
    fn watchdogs(
        &mut self,
        conn_id: &str,
        now: Instant,
        last_inbound: Instant,
        silence: Duration,
    ) -> Option<Ending> {
        if watchdog::silent(last_inbound, now, silence) {
            return Some(Ending::local(format!(
                "no inbound frame for {} ms",
                silence.as_millis()
            )));
        }
        match self.pong.check(now) {
            PongVerdict::Fine => {}
            PongVerdict::Overdue { age_ms } => {
                tracing::warn!(
                    event = "mexc.pong_overdue",
                    conn_id,
                    pong_age_ms = age_ms,
                    warn_ms = self.shared.cfg.pong_warn_ms,
                    reconnect_at_ms = self.shared.cfg.pong_reconnect_ms,
                );
                self.publish();
            }
            PongVerdict::Reconnect { age_ms } => {
                return Some(Ending::local(format!("no pong for {age_ms} ms")));
            }
        }
        let actions = escalation::check(&mut self.subs, now, self.limits);
        let mut reconnect = None;
        for a in &actions {
            let (channel, symbol) = (a.key.0.name(), a.key.1.as_str());
            let sub = self.subs.get(a.key.0, symbol);
            let total = sub.map_or(0, |s| s.resubscribes);
            let error = sub.and_then(|s| s.error.clone());
            match a.why {
                Why::AckTimeout { waited_ms } => tracing::warn!(
                    event = "mexc.subscription_expired",
                    conn_id,
                    channel,
                    symbol,
                    waited_ms,
                    ack_timeout_ms = self.shared.cfg.ack_timeout_ms,
                    ?error,
                ),
                Why::Stale { age_ms } => tracing::warn!(
                    event = "mexc.stream_stale",
                    conn_id,
                    channel,
                    symbol,
                    data_age_ms = age_ms,
                    stale_ms = self.shared.cfg.ticker_stale_ms,
                ),
            }
            if let Step::Resubscribe { .. } = a.step {
                self.feeds.on_resubscribed(a.key.0, symbol);
            }
            match a.step {
                Step::Resubscribe { attempt, slow } => tracing::warn!(
                    event = "mexc.resubscribed",
                    conn_id,
                    channel,
                    symbol,
                    attempt,
                    slow,
                    resubscribes = total,
                    cause = why_name(a.why),
                ),
                Step::Reconnect => {
                    tracing::warn!(
                        event = "mexc.escalated",
                        conn_id,
                        channel,
                        symbol,
                        action = "reconnect",
                        cause = why_name(a.why),
                        tries = self.limits.max_tries,
                    );
                    reconnect.get_or_insert_with(|| {
                        format!(
                            "{channel} {symbol} {} after {} resubscribes",
                            why_name(a.why),
                            self.limits.max_tries
                        )
                    });
                }
                Step::Degrade => tracing::warn!(
                    event = "mexc.escalated",
                    conn_id,
                    channel,
                    symbol,
                    action = "rest_fallback",
                    cause = why_name(a.why),
                    retry_every_ms = (match a.why {
                        Why::AckTimeout { .. } => self.limits.ack_timeout,
                        Why::Stale { .. } => self.limits.ticker_stale,
                    } * escalation::SLOW_RETRY_FACTOR)
                        .as_millis() as u64,
                ),
            }
        }
        if !actions.is_empty() {
            self.publish();
        }
        reconnect.map(Ending::local)
    }
}

fn why_name(w: Why) -> &'static str {
    match w {
        Why::AckTimeout { .. } => "ack_timeout",
        Why::Stale { .. } => "stale",
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

/// Every close, one line, stable event name, everything needed to understand it.
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
        tracing::info!(event = "mexc.closed", ?initiator, code = e.code, reason = %e.reason, conn_id, duration_ms, frames_in, frames_out);
    } else {
        tracing::warn!(event = "mexc.closed", ?initiator, code = e.code, reason = %e.reason, conn_id, duration_ms, frames_in, frames_out, retry_in_ms);
    }
}
