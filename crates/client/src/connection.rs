//! The client connection task: exactly one WebSocket to the backend, reconnected with full-jitter
//! backoff, subscriptions replayed from the desired set, and REST polling while it is down.
//!
//! This file owns the lifecycle between sockets (connect, back off, stop after a refusal) and
//! the shared bookkeeping (status, notices, polling plan). `connection/socket.rs` runs one open socket,
//! `health_machine.rs` decides the link state, `poller.rs` does the REST fallback.

mod socket;
#[cfg(test)]
mod symbol_view_tests;

use super::dial::{self, DialParams};
use super::health_machine::{HealthMachine, Input, Thresholds};
use super::link::{LinkState, LinkStatus};
use super::outbox::{Gone, Outbox};
use super::poller::{self, PollOutcome, PollPlan, PollerConfig};
use super::repeats::Repeats;
use super::{ClientCommand, ClientEvent, ClientHandle, Subscription, SymbolView};
use crate::ClientConfig;
use socket::SocketEnd;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use trademon_core::backoff::Backoff;
use trademon_protocol::{Level, LogEvent};

/// Events buffered for the UI before conflatable market messages start being dropped.
const EVENT_CAPACITY: usize = 4096;
/// Countdown updates while waiting to reconnect (the UI shows tenths of a second).
const COUNTDOWN_TICK: Duration = Duration::from_millis(200);
/// At most one log line / notice per distinct repeated error in this window.
const REPEAT_WINDOW: Duration = Duration::from_secs(30);

pub struct ConnectOptions {
    /// `ws://host:port/ws`; the REST base is derived from it.
    pub ws_url: String,
    pub token: Option<String>,
    pub cfg: ClientConfig,
}

// The token must never reach a log line, so no derived Debug.
impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("ws_url", &dial::display_url(&self.ws_url))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("cfg", &self.cfg)
            .finish()
    }
}

/// Spawns the connection task on the current tokio runtime.
pub fn spawn(
    opts: ConnectOptions,
    desired: BTreeSet<Subscription>,
) -> (ClientHandle, mpsc::Receiver<ClientEvent>) {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::channel(EVENT_CAPACITY);
    let conn = Connection::new(opts, desired, cmd_rx, ev_tx);
    tokio::spawn(conn.run());
    (ClientHandle { commands: cmd_tx }, ev_rx)
}

/// What to do after a phase ends.
enum Next {
    Connect,
    Wait(Duration),
    /// A do-not-reconnect close: wait for the user.
    Stopped,
    Quit,
}

/// A command seen outside an open socket, already applied where it could be.
enum Idle {
    Continue,
    ReconnectNow,
    Quit,
}

pub(super) struct Connection {
    pub(super) opts: ConnectOptions,
    pub(super) cmds: mpsc::UnboundedReceiver<ClientCommand>,
    /// False once every handle is dropped; the task keeps running (only Shutdown ends it).
    pub(super) cmds_open: bool,
    pub(super) out: Outbox,
    pub(super) desired: BTreeSet<Subscription>,
    /// The open symbol view, replayed after every connect like `desired`.
    pub(super) symbol_view: Option<SymbolView>,
    pub(super) machine: HealthMachine,
    backoff: Backoff,
    pub(super) status: LinkStatus,
    published: Option<LinkStatus>,
    repeats: Repeats,
    poll_plan: watch::Sender<PollPlan>,
    pub(super) poll_rx: mpsc::Receiver<PollOutcome>,
    poller: Option<JoinHandle<()>>,
    pub(super) next_op_id: u64,
    pub(super) next_ping_id: u64,
    ever_connected: bool,
    /// Until then, a failed connect retries within `client.restart_retry_max_ms`: the backend
    /// closed 1001 (going away), so it is most likely restarting and back in moments.
    restart_fast_until: Option<Instant>,
}

impl Connection {
    fn new(
        opts: ConnectOptions,
        desired: BTreeSet<Subscription>,
        cmds: mpsc::UnboundedReceiver<ClientCommand>,
        events: mpsc::Sender<ClientEvent>,
    ) -> Self {
        let cfg = &opts.cfg;
        let backoff = Backoff::new(
            Duration::from_millis(cfg.backoff_base_ms),
            Duration::from_millis(cfg.backoff_cap_ms),
            Duration::from_millis(cfg.stable_after_ms),
        );
        let machine = HealthMachine::new(Thresholds::from(cfg));
        let (plan_tx, plan_rx) = watch::channel(PollPlan::default());
        let (poll_tx, poll_rx) = mpsc::channel(64);
        let status = LinkStatus::new(dial::display_url(&opts.ws_url));
        let mut repeats = Repeats::new(REPEAT_WINDOW);
        // Without a REST base there is no fallback; the WebSocket side still works.
        let poller = match poller::rest_base(&opts.ws_url) {
            Ok(base) => Some(poller::spawn(
                PollerConfig {
                    base,
                    token: opts.token.clone(),
                    interval: Duration::from_millis(cfg.poll_interval_ms),
                    request_timeout: Duration::from_millis(cfg.connect_timeout_ms.max(1)),
                },
                plan_rx,
                poll_tx,
            )),
            Err(e) => {
                if let Some(ev) =
                    repeats.record(Level::Warn, "link.poll_disabled", &e, Instant::now())
                {
                    log_event(&ev);
                }
                None
            }
        };
        Connection {
            opts,
            cmds,
            cmds_open: true,
            out: Outbox::new(events),
            desired,
            symbol_view: None,
            machine,
            backoff,
            status,
            published: None,
            repeats,
            poll_plan: plan_tx,
            poll_rx,
            poller,
            next_op_id: 1,
            next_ping_id: 1,
            ever_connected: false,
            restart_fast_until: None,
        }
    }

    async fn run(mut self) {
        let _ = self.phases().await;
        if let Some(p) = self.poller.take() {
            p.abort();
        }
        tracing::info!(event = "link.stopped", "client connection task ended");
    }

    /// Err(Gone) when the UI dropped its receiver: nothing left to serve.
    async fn phases(&mut self) -> Result<(), Gone> {
        self.publish().await?;
        let mut next = Next::Connect;
        loop {
            next = match next {
                Next::Connect => self.connect().await?,
                Next::Wait(delay) => self.wait(delay).await?,
                Next::Stopped => self.stopped().await?,
                Next::Quit => return Ok(()),
            };
        }
    }

    /// One connect attempt, and the socket's run if it opens. Commands and poll results are served
    /// while the handshake is pending.
    async fn connect(&mut self) -> Result<Next, Gone> {
        self.status.next_attempt_in_ms = None;
        self.publish().await?;
        let cfg = &self.opts.cfg;
        let attempt = dial::dial(DialParams {
            url: self.opts.ws_url.clone(),
            token: self.opts.token.clone(),
            max_message_bytes: cfg.max_message_bytes,
            timeout: Duration::from_millis(cfg.connect_timeout_ms),
        });
        tokio::pin!(attempt);
        let result = loop {
            tokio::select! {
                biased;
                cmd = self.cmds.recv(), if self.cmds_open => match self.idle_command(cmd) {
                    Idle::Continue => {}
                    // Abandon this attempt and start a fresh one at once.
                    Idle::ReconnectNow => return Ok(Next::Connect),
                    Idle::Quit => return Ok(Next::Quit),
                },
                Some(outcome) = self.poll_rx.recv() => self.on_poll(outcome).await?,
                result = &mut attempt => break result,
            }
        };
        match result {
            Ok(ws) => {
                let started = Instant::now();
                let end = self.run_socket(ws).await?;
                Ok(self.after_socket(end, started.elapsed()).await?)
            }
            Err(e) => {
                self.error_streak(&e.message);
                self.report(Level::Warn, "link.connect_failed", &e.message)
                    .await?;
                if e.permanent {
                    self.machine.on(Input::Refused, Instant::now());
                    self.sync_poll_plan();
                    return Ok(Next::Stopped);
                }
                self.machine.on(Input::ConnectFailed, Instant::now());
                self.sync_poll_plan();
                Ok(Next::Wait(self.retry_delay(Instant::now())))
            }
        }
    }

    async fn after_socket(&mut self, end: SocketEnd, up_for: Duration) -> Result<Next, Gone> {
        let now = Instant::now();
        self.backoff.connection_ended(up_for);
        let next = match end {
            SocketEnd::Quit => return Ok(Next::Quit),
            SocketEnd::ReconnectNow => {
                self.backoff.reset();
                self.machine.on(Input::Lost, now);
                Next::Connect
            }
            SocketEnd::Lost {
                may_reconnect: true,
                server_restarting,
            } => {
                self.machine.on(Input::Lost, now);
                let window = Duration::from_millis(self.opts.cfg.restart_window_ms);
                self.restart_fast_until = server_restarting.then(|| now + window);
                Next::Wait(self.retry_delay(now))
            }
            SocketEnd::Lost {
                may_reconnect: false,
                ..
            } => {
                self.machine.on(Input::Refused, now);
                Next::Stopped
            }
        };
        self.sync_poll_plan();
        self.publish().await?;
        Ok(next)
    }

    /// Full-jitter backoff; capped at `restart_retry_max_ms` while a restarting backend is
    /// expected back (the attempts are still counted and jittered).
    fn retry_delay(&mut self, now: Instant) -> Duration {
        match self.restart_fast_until {
            Some(until) if now < until => {
                let cap = Duration::from_millis(self.opts.cfg.restart_retry_max_ms);
                self.backoff.next_delay_within(cap)
            }
            _ => self.backoff.next_delay(),
        }
    }

    /// Backoff wait with a visible countdown; `ReconnectNow` cuts it short.
    async fn wait(&mut self, delay: Duration) -> Result<Next, Gone> {
        let deadline = Instant::now() + delay;
        let mut countdown = tokio::time::interval(COUNTDOWN_TICK);
        loop {
            tokio::select! {
                biased;
                cmd = self.cmds.recv(), if self.cmds_open => match self.idle_command(cmd) {
                    Idle::Continue => {}
                    Idle::ReconnectNow => return Ok(Next::Connect),
                    Idle::Quit => return Ok(Next::Quit),
                },
                Some(outcome) = self.poll_rx.recv() => self.on_poll(outcome).await?,
                _ = tokio::time::sleep_until(deadline) => return Ok(Next::Connect),
                _ = countdown.tick() => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.status.next_attempt_in_ms = Some(left.as_millis() as u64);
                    self.publish().await?;
                }
            }
        }
    }

    /// After a 4500-4999 close (or rejected credentials): no reconnects, no polling, until the
    /// user presses reconnect.
    async fn stopped(&mut self) -> Result<Next, Gone> {
        self.status.next_attempt_in_ms = None;
        self.publish().await?;
        loop {
            tokio::select! {
                cmd = self.cmds.recv(), if self.cmds_open => match self.idle_command(cmd) {
                    Idle::Continue => {}
                    Idle::ReconnectNow => return Ok(Next::Connect),
                    Idle::Quit => return Ok(Next::Quit),
                },
                Some(outcome) = self.poll_rx.recv() => self.on_poll(outcome).await?,
                // Every handle gone and nothing will ever change: wait for the UI to go away.
                _ = self.out.closed(), if !self.cmds_open => return Ok(Next::Quit),
            }
        }
    }

    /// Applies a command received while no socket is open.
    fn idle_command(&mut self, cmd: Option<ClientCommand>) -> Idle {
        match cmd {
            None => {
                self.cmds_open = false;
                Idle::Continue
            }
            Some(ClientCommand::SetSubscriptions(set)) => {
                self.desired = set;
                self.sync_poll_plan();
                Idle::Continue
            }
            Some(ClientCommand::SetSymbolView(view)) => {
                self.symbol_view = view;
                Idle::Continue
            }
            // Nothing to resync without a socket; the next connect replays everything anyway.
            Some(ClientCommand::Resync(_) | ClientCommand::ResyncSymbol { .. }) => Idle::Continue,
            // A command is not replayed on a later connect: the trader asked for it now.
            Some(ClientCommand::Request(msg)) => {
                tracing::warn!(event = "client.request_dropped", request = ?msg, reason = "no connection");
                Idle::Continue
            }
            Some(ClientCommand::ReconnectNow) => {
                self.backoff.reset();
                self.machine.on(Input::Retry, Instant::now());
                self.sync_poll_plan();
                Idle::ReconnectNow
            }
            Some(ClientCommand::Shutdown) => Idle::Quit,
        }
    }

    pub(super) async fn on_poll(&mut self, outcome: PollOutcome) -> Result<(), Gone> {
        // Results that arrive after the WebSocket came back are stale: drop them.
        if !self.machine.should_poll() {
            return Ok(());
        }
        match outcome {
            PollOutcome::Snapshot(snap) => self.out.send(ClientEvent::Snapshot(*snap)).await?,
            PollOutcome::Round(Ok(())) => {
                self.machine.on(Input::PollOk, Instant::now());
            }
            PollOutcome::Round(Err(e)) => {
                self.report(Level::Warn, "link.poll_failed", &e).await?;
                self.machine.on(Input::PollFailed, Instant::now());
            }
        }
        self.sync_poll_plan();
        self.publish().await
    }

    /// Starts or stops the poller to match the machine, with the sessions of the desired set.
    pub(super) fn sync_poll_plan(&mut self) {
        let sessions: BTreeSet<String> = self
            .desired
            .iter()
            .filter_map(|s| s.session_id.clone())
            .collect();
        let plan = PollPlan {
            active: self.machine.should_poll(),
            sessions: sessions.into_iter().collect(),
        };
        // Only a real change wakes the poller.
        self.poll_plan.send_if_modified(|p| {
            if *p == plan {
                false
            } else {
                *p = plan;
                true
            }
        });
    }

    /// Called once a socket is open: counters, status and the aggregated-error summaries.
    pub(super) async fn on_opened(&mut self) -> Result<(), Gone> {
        if self.ever_connected {
            self.status.reconnects += 1;
        }
        self.ever_connected = true;
        self.status.last_error = None;
        self.status.next_attempt_in_ms = None;
        self.machine.on(Input::Opened, Instant::now());
        self.sync_poll_plan();
        self.flush_repeats().await?;
        self.publish().await
    }

    /// Publishes the link status if anything the UI shows changed.
    pub(super) async fn publish(&mut self) -> Result<(), Gone> {
        let state = self.machine.state();
        self.status.state = state;
        self.status.rtt_ms = self.machine.rtt().map(|d| d.as_secs_f64() * 1000.0);
        self.status.missed_pongs = self.machine.missed_pongs();
        let up = matches!(state, LinkState::Live | LinkState::Slow);
        self.status.attempt = if up { 0 } else { self.backoff.attempt() };
        if up {
            self.status.next_attempt_in_ms = None;
        }
        if self.published.as_ref() == Some(&self.status) {
            return Ok(());
        }
        let previous = self.published.replace(self.status.clone());
        if previous.map(|p| p.state) != Some(state) {
            tracing::info!(event = "link.state", state = state.word(), attempt = self.status.attempt, url = %self.status.url, "link state changed");
        }
        self.out.send(ClientEvent::Link(self.status.clone())).await
    }

    /// Counts an error or notable event; shows and logs it unless it is a repeat.
    pub(super) async fn report(
        &mut self,
        level: Level,
        name: &str,
        message: &str,
    ) -> Result<(), Gone> {
        match self.repeats.record(level, name, message, Instant::now()) {
            Some(ev) => self.notice(ev).await,
            None => Ok(()),
        }
    }

    /// Like `report` for events already logged in full elsewhere: aggregated notice only.
    pub(super) async fn notify(
        &mut self,
        level: Level,
        name: &str,
        message: &str,
    ) -> Result<(), Gone> {
        match self.repeats.record(level, name, message, Instant::now()) {
            Some(ev) => self.out.send(ClientEvent::Notice(ev)).await,
            None => Ok(()),
        }
    }

    /// Like `report` but never waits (used when the UI is already behind).
    pub(super) fn report_nowait(&mut self, level: Level, name: &str, message: &str) {
        if let Some(ev) = self.repeats.record(level, name, message, Instant::now()) {
            log_event(&ev);
            self.out.try_send(ClientEvent::Notice(ev));
        }
    }

    pub(super) async fn notice(&mut self, ev: LogEvent) -> Result<(), Gone> {
        log_event(&ev);
        self.out.send(ClientEvent::Notice(ev)).await
    }

    async fn flush_repeats(&mut self) -> Result<(), Gone> {
        for ev in self.repeats.flush(Instant::now()) {
            self.notice(ev).await?;
        }
        Ok(())
    }

    /// The "same error N times in a row" shown on the health bar.
    fn error_streak(&mut self, message: &str) {
        self.status.last_error = match self.status.last_error.take() {
            Some((m, n)) if m == message => Some((m, n.saturating_add(1))),
            _ => Some((message.to_string(), 1)),
        };
    }
}

/// One log line per reported event; repeats carry their count instead of more lines.
fn log_event(ev: &LogEvent) {
    match ev.level {
        Level::Info => {
            tracing::info!(event = %ev.name, count = ev.count, "{}", ev.message)
        }
        Level::Warn => {
            tracing::warn!(event = %ev.name, count = ev.count, "{}", ev.message)
        }
        Level::Error => {
            tracing::error!(event = %ev.name, count = ev.count, "{}", ev.message)
        }
    }
}
