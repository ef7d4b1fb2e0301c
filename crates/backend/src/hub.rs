//! The hub: the task that owns sessions, the engine, market state (`Market`), events and
//! health, and hands stream data to the fan-out task (`crate::fanout`), which owns the clients,
//! their queues and subscriptions, and the seqs.
//!
//! Everyone else talks to it by message: connection readers send client ops without waiting
//! (unbounded channel: a reader must never await anything but its socket, and each command is
//! tiny; a client flooding commands fills its own bounded reply FIFO and is closed 4008), REST
//! handlers ask with a oneshot reply. Snapshots are taken and deltas sent on this one task, in
//! one order down fan-out's channel, and fan-out numbers them in that order, so a subscriber's
//! `full_update` carries exactly the seq that precedes its first delta: nothing lost, nothing
//! twice.

pub mod control_ops;
mod engine_io;
mod history_io;
mod session_ops;
#[cfg(test)]
mod tests_rate;
mod views_io;

use super::events::EventLog;
use super::fanout::{self, FanoutTx, StreamKey};
use super::history::HistoryRequest;
use super::market;
use super::persist;
use super::queue::ClientQueue;
use super::sessions::Session;
use crate::SessionConfig;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use trademon_core::market::{FeedWant, LinkChange, MarketEvent};
use trademon_engine::{Engine, EngineInput};
use trademon_protocol::ClientMsg;
use trademon_protocol::{
    CloseInfo, CommandResult, Envelope, ErrorReply, Health, Level, LogEvent, PositionInfo,
    RestSnapshot, ServerMsg, SessionInfo, SignalInfo, Snapshot, StreamName, UpstreamHealth, close,
    error_code, now_ms,
};
use trademon_store::{Queries, StoreHandle, StoreHealth, link_row, rows_from_market};

pub struct HubSettings {
    pub epoch: String,
    pub started_ms: i64,
    /// Entries kept in the `events` ring.
    pub events_max: usize,
    /// `health` goes out once per this interval with the latest state, and only then: the
    /// upstream watch changes with every age it carries, so publishing on change as well
    /// sent it several times a second.
    pub health_interval: Duration,
    /// How often the engine gets a `Tick` (windows roll, values go stale, timed exits fire).
    pub engine_tick: Duration,
    /// How often throttled engine streams (indicators, conditions, position marks) publish.
    pub flush_interval: Duration,
    /// Where sessions persist across restarts; `None`: not persisted.
    pub sessions_file: Option<PathBuf>,
    /// The paper journal; `None`: paper books are not kept.
    pub paper_journal: Option<super::journal::JournalSettings>,
    /// Told to every client in `health.market`.
    pub market: trademon_protocol::MarketSource,
    /// The per-symbol streams' limits and book interval.
    pub views: crate::ViewsConfig,
}

pub struct HubInputs {
    pub market: mpsc::Receiver<MarketEvent>,
    pub upstream: watch::Receiver<UpstreamHealth>,
    pub symbols: watch::Sender<BTreeSet<String>>,
    /// The per-symbol feeds (klines, depth) some client views; the adapter keeps them open.
    pub feeds: watch::Sender<BTreeSet<FeedWant>>,
    pub log_events: mpsc::Receiver<LogEvent>,
    /// Rows for QuestDB; `None`: nothing is written.
    pub store: Option<StoreHandle>,
    /// The store's health for `Health.store`; `None`: absent.
    pub store_health: Option<watch::Receiver<StoreHealth>>,
    /// QuestDB's read side (`[questdb]` on); `None`: `history` requests answer unavailable.
    pub history: Option<Arc<Queries>>,
}

/// The session is not configured; `valid` lists the ids that are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    pub valid: Vec<String>,
}

/// Why a session command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    NotFound(NotFound),
    /// The symbol is not spelled like a MEXC futures symbol.
    InvalidSymbol(String),
    /// The engine or the session's state refused it (the reason says which).
    Rejected(String),
}

pub enum HubCmd {
    Register {
        conn: u64,
        conn_id: String,
        queue: Arc<ClientQueue>,
    },
    Unregister {
        conn: u64,
        /// How it ended, for `connection_events`.
        close: CloseInfo,
    },
    /// Stream and session ops from a client (`subscribe`, `unsubscribe`, `start_session`,
    /// `stop_session`); the replies go into that client's queue, in order with its data.
    Client {
        conn: u64,
        msg: ClientMsg,
    },
    /// A notable backend event for the `events` stream.
    Note(LogEvent),
    Health(oneshot::Sender<Health>),
    Sessions(oneshot::Sender<Vec<SessionInfo>>),
    Snapshot(String, oneshot::Sender<Result<RestSnapshot, NotFound>>),
    Start(String, oneshot::Sender<Result<SessionInfo, CmdError>>),
    Stop(String, oneshot::Sender<Result<SessionInfo, CmdError>>),
    /// (session, symbol)
    AddSymbol(
        String,
        String,
        oneshot::Sender<Result<SessionInfo, CmdError>>,
    ),
    RemoveSymbol(
        String,
        String,
        oneshot::Sender<Result<SessionInfo, CmdError>>,
    ),
    /// A new paper session, started at once (REST `POST /api/v1/sessions`).
    Create(
        control_ops::NewSession,
        oneshot::Sender<Result<SessionInfo, CmdError>>,
    ),
    /// (session, symbol): close the open paper position at market.
    ClosePosition(
        String,
        String,
        oneshot::Sender<Result<PositionInfo, CmdError>>,
    ),
    /// (session, paused): pause (monitor only) or resume the strategy.
    Pause(String, bool, oneshot::Sender<Result<SessionInfo, CmdError>>),
    /// Close every client 1001 and end the task.
    Shutdown(oneshot::Sender<()>),
    /// A reply made off the hub (a QuestDB answer), queued for `conn` in order with its data.
    Deliver {
        conn: u64,
        msg: Box<ServerMsg>,
    },
    /// A session's signals from before this start, read from QuestDB (oldest first).
    Backfill {
        session: String,
        signals: Vec<SignalInfo>,
    },
}

/// Cheap to clone. Every method is fire-and-forget or a one-shot question; none can block
/// on a client.
#[derive(Clone)]
pub struct HubHandle {
    tx: mpsc::UnboundedSender<HubCmd>,
}

impl HubHandle {
    /// `false` once the hub has ended (backend shutting down).
    pub fn send(&self, cmd: HubCmd) -> bool {
        self.tx.send(cmd).is_ok()
    }

    /// Asks the hub; `None` if it has ended.
    pub async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> HubCmd) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        if !self.send(make(tx)) {
            return None;
        }
        rx.await.ok()
    }
}

struct Follower {
    conn_id: String,
    subs: HashSet<StreamKey>,
}

struct Hub {
    settings: HubSettings,
    sessions: Vec<Session>,
    /// Tickers (market state).
    market: market::Market,
    /// The symbol view's candles, books and tapes, and who views them.
    views: super::views::Views,
    events: EventLog,
    upstream: UpstreamHealth,
    /// The fan-out task: clients' queues, their subscriptions, and every stream's seq.
    fanout: FanoutTx,
    /// Who is connected and what they follow, as the hub has told fan-out: for `health`,
    /// link rows, and skipping data nobody reads. A client whose queue overflowed still
    /// counts here until its connection unregisters; fan-out drops what it would get.
    clients: HashMap<u64, Follower>,
    symbols: watch::Sender<BTreeSet<String>>,
    /// The pure trading engine; only this task touches it, with `now_ms` passed in.
    engine: Engine,
    dirty: engine_io::Dirty,
    /// Every market and engine event becomes rows here (never blocks).
    store: Option<StoreHandle>,
    /// The latest store health (from its watch), shown in `Health.store`.
    store_health: Option<StoreHealth>,
    history: Option<Arc<Queries>>,
    /// For tasks that answer later (QuestDB reads). Weak: it must not keep the hub alive.
    me: mpsc::WeakUnboundedSender<HubCmd>,
    /// Per session, signals of earlier runs (from QuestDB), shown before this run's.
    backfilled: HashMap<String, Vec<SignalInfo>>,
    /// Each session's paper book on disk; every book change is appended before it is published.
    journal: Option<super::journal::Journal>,
    /// The last journal write failed (reported once until a write succeeds again).
    journal_failing: bool,
}

/// Starts the hub task. Sessions persisted in `settings.sessions_file` come back as they were
/// (running or stopped, with their symbols); configured sessions the file lacks start running.
pub fn spawn(
    settings: HubSettings,
    engine: Engine,
    sessions: Vec<SessionConfig>,
    inputs: HubInputs,
) -> (HubHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (fanout_tx, fanout_task) = fanout::spawn();
    let mut problems = Vec::new();
    let restored = match settings.sessions_file.as_deref().map(persist::load) {
        Some(Ok(Some(list))) => list,
        Some(Ok(None)) | None => Vec::new(),
        Some(Err(e)) => {
            tracing::error!(event = "sessions.load_failed", error = %e, "starting from the configured sessions");
            problems.push(format!("{e}; starting from the configured sessions"));
            Vec::new()
        }
    };
    // Paused strategies stay paused across restarts (monitor only until resumed).
    let paused: HashSet<String> = restored
        .iter()
        .filter(|p| p.paused)
        .map(|p| p.id.clone())
        .collect();
    let plan = persist::merge(sessions, restored);
    let mut journal_warnings = Vec::new();
    let journal = settings.paper_journal.clone().map(|s| {
        let (j, warnings) = super::journal::Journal::open(s);
        for w in warnings {
            tracing::warn!(event = "journal.load_problem", problem = %w, "paper journal");
            journal_warnings.push(w);
        }
        j
    });
    let views = super::views::Views::new(&settings.views, inputs.feeds);
    let mut hub = Hub {
        views,
        events: EventLog::new(settings.events_max),
        sessions: plan.iter().map(|(c, _)| Session::new(c.clone())).collect(),
        market: market::Market::default(),
        upstream: inputs.upstream.borrow().clone(),
        fanout: fanout_tx,
        clients: HashMap::new(),
        symbols: inputs.symbols,
        settings,
        engine,
        dirty: engine_io::Dirty::default(),
        store: inputs.store,
        store_health: inputs.store_health.as_ref().map(|rx| rx.borrow().clone()),
        history: inputs.history,
        me: tx.downgrade(),
        backfilled: HashMap::new(),
        journal,
        journal_failing: false,
    };
    for p in problems {
        hub.note(Level::Error, "sessions.load_failed", p);
    }
    for w in journal_warnings {
        hub.note(Level::Warn, "journal.load_problem", w);
    }
    for (i, (cfg, running)) in plan.iter().enumerate() {
        hub.sessions[i].paused = paused.contains(&cfg.id);
        if *running {
            // A refusal marks the session failed (with the reason) and is logged there.
            let _ = hub.start_idx(i);
        }
    }
    hub.publish_symbols();
    hub.start_backfill();
    let task = tokio::spawn(hub.run(
        rx,
        inputs.market,
        inputs.upstream,
        inputs.log_events,
        inputs.store_health,
        fanout_task,
    ));
    (HubHandle { tx }, task)
}

impl Hub {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<HubCmd>,
        mut market: mpsc::Receiver<MarketEvent>,
        mut upstream: watch::Receiver<UpstreamHealth>,
        mut log_events: mpsc::Receiver<LogEvent>,
        store_health: Option<watch::Receiver<StoreHealth>>,
        mut fanout_task: tokio::task::JoinHandle<()>,
    ) {
        let (mut market_open, mut logs_open, mut upstream_open) = (true, true, true);
        // A disabled store's watch has no sender: `changed` fails at once and is not polled again.
        let mut store_open = store_health.is_some();
        let (_unused_tx, unused_rx) = watch::channel(StoreHealth::disabled());
        let mut store_health = store_health.unwrap_or(unused_rx);
        let mut tick = tokio::time::interval(self.settings.health_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut engine_tick = tokio::time::interval(self.settings.engine_tick);
        engine_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flush = tokio::time::interval(self.settings.flush_interval);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let book_every = Duration::from_millis(self.settings.views.book_interval_ms.max(1));
        let mut books = tokio::time::interval(book_every);
        books.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(HubCmd::Shutdown(done)) => {
                        // Fan-out answers once every queue is closed.
                        self.fanout.close_all(close::GOING_AWAY, "server shutting down", done);
                        return;
                    }
                    Some(cmd) => self.on_cmd(cmd),
                    None => return,
                },
                ev = market.recv(), if market_open => match ev {
                    Some(ev) => self.on_market(ev),
                    None => market_open = false,
                },
                ev = log_events.recv(), if logs_open => match ev {
                    Some(ev) => self.add_event(ev),
                    None => logs_open = false,
                },
                changed = upstream.changed(), if upstream_open => match changed {
                    Ok(()) => self.upstream = upstream.borrow_and_update().clone(),
                    Err(_) => upstream_open = false,
                },
                changed = store_health.changed(), if store_open => match changed {
                    Ok(()) => {
                        self.store_health = Some(store_health.borrow_and_update().clone());
                    }
                    Err(_) => store_open = false,
                },
                _ = tick.tick() => self.publish_health(),
                _ = engine_tick.tick() => {
                    self.apply_engine(EngineInput::Tick, now_ms());
                }
                _ = flush.tick() => self.flush(),
                _ = books.tick() => self.flush_books(),
                // Fan-out holds no sender of its own, so it ends only by panicking: the hub
                // ends the same way, for the supervisor to report.
                end = &mut fanout_task => match end {
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    _ => return,
                },
            }
        }
    }

    fn on_cmd(&mut self, cmd: HubCmd) {
        match cmd {
            HubCmd::Register {
                conn,
                conn_id,
                queue,
            } => {
                self.note(
                    Level::Info,
                    "client.connected",
                    format!("client {conn_id} connected"),
                );
                self.store_link(&conn_id, LinkChange::Opened);
                let subs = HashSet::new();
                let follower = Follower {
                    conn_id: conn_id.clone(),
                    subs,
                };
                self.clients.insert(conn, follower);
                self.fanout.register(conn, conn_id, queue);
            }
            HubCmd::Unregister { conn, close } => {
                self.fanout.unregister(conn);
                if let Some(client) = self.clients.remove(&conn) {
                    self.store_link(&client.conn_id, LinkChange::Closed(close));
                    self.drop_views(client.subs);
                }
            }
            HubCmd::Client { conn, msg } => self.on_client(conn, msg),
            HubCmd::Note(ev) => self.add_event(ev),
            HubCmd::Health(reply) => {
                let _ = reply.send(self.health());
            }
            HubCmd::Sessions(reply) => {
                let _ = reply.send(self.session_infos());
            }
            HubCmd::Snapshot(id, reply) => match self.rest_snapshot(&id) {
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
                // Fan-out stamps the seqs at this point of the publish order.
                Ok(snap) => self.fanout.rest(snap, move |s| {
                    let _ = reply.send(Ok(s));
                }),
            },
            HubCmd::Start(id, reply) => {
                let _ = reply.send(self.start_session(&id));
            }
            HubCmd::Stop(id, reply) => {
                let _ = reply.send(self.stop_session(&id));
            }
            HubCmd::AddSymbol(id, symbol, reply) => {
                let _ = reply.send(self.add_symbol(&id, &symbol));
            }
            HubCmd::RemoveSymbol(id, symbol, reply) => {
                let _ = reply.send(self.remove_symbol(&id, &symbol));
            }
            HubCmd::Create(spec, reply) => {
                let _ = reply.send(self.create_session(spec));
            }
            HubCmd::ClosePosition(id, symbol, reply) => {
                let _ = reply.send(self.close_position(&id, &symbol));
            }
            HubCmd::Pause(id, paused, reply) => {
                let _ = reply.send(self.set_paused(&id, paused));
            }
            HubCmd::Shutdown(_) => {} // handled in `run`
            HubCmd::Deliver { conn, msg } => self.reply(conn, *msg),
            HubCmd::Backfill { session, signals } => self.on_backfill(session, signals),
        }
    }

    // ---- client ops ----------------------------------------------------------------------

    fn on_client(&mut self, conn: u64, msg: ClientMsg) {
        match msg {
            ClientMsg::Subscribe {
                id,
                stream,
                session_id,
                symbol,
                interval,
            } => match self
                .resolve(&stream, session_id)
                .and_then(|k| self.resolve_symbol(conn, k, symbol, interval, false))
            {
                Err(e) => self.reply(conn, ServerMsg::Error(ErrorReply { id: Some(id), ..e })),
                Ok(key) => self.subscribe(conn, id, key),
            },
            ClientMsg::Unsubscribe {
                id,
                stream,
                session_id,
                symbol,
                interval,
            } => match self
                .resolve(&stream, session_id)
                .and_then(|k| self.resolve_symbol(conn, k, symbol, interval, true))
            {
                Err(e) => self.reply(conn, ServerMsg::Error(ErrorReply { id: Some(id), ..e })),
                Ok(key) => {
                    self.unfollow(conn, &key);
                    self.fanout.unsubscribe(conn, id, key)
                }
            },
            ClientMsg::StartSession { id, session_id } => {
                let r = self.start_session(&session_id);
                self.reply_command(conn, id, &session_id, r, "started");
            }
            ClientMsg::StopSession { id, session_id } => {
                let r = self.stop_session(&session_id);
                self.reply_command(conn, id, &session_id, r, "stopped");
            }
            ClientMsg::AddSymbol {
                id,
                session_id,
                symbol,
            } => {
                let r = self.add_symbol(&session_id, &symbol);
                self.reply_command(conn, id, &session_id, r, &format!("got {symbol}"));
            }
            ClientMsg::RemoveSymbol {
                id,
                session_id,
                symbol,
            } => {
                let r = self.remove_symbol(&session_id, &symbol);
                self.reply_command(conn, id, &session_id, r, &format!("lost {symbol}"));
            }
            ClientMsg::CreateSession {
                id,
                session_id,
                name,
                strategy,
                symbols,
            } => {
                let spec = control_ops::NewSession {
                    id: session_id.clone(),
                    name,
                    strategy,
                    symbols,
                };
                let r = self.create_session(spec);
                self.reply_command(conn, id, &session_id, r, "created and started");
            }
            ClientMsg::ClosePosition {
                id,
                session_id,
                symbol,
            } => {
                let r = self.close_position(&session_id, &symbol);
                self.reply_closed(conn, id, &session_id, r);
            }
            ClientMsg::PauseStrategy { id, session_id } => {
                let r = self.set_paused(&session_id, true);
                let verb = "paused its strategy (monitor only: no new entries)";
                self.reply_command(conn, id, &session_id, r, verb);
            }
            ClientMsg::ResumeStrategy { id, session_id } => {
                let r = self.set_paused(&session_id, false);
                self.reply_command(conn, id, &session_id, r, "resumed its strategy");
            }
            ClientMsg::History {
                id,
                query,
                session_id,
                symbol,
                limit,
            } => self.history_request(
                conn,
                id,
                HistoryRequest {
                    query,
                    session_id,
                    symbol,
                    limit,
                },
            ),
            // Answered by the connection itself.
            ClientMsg::Hello { .. } | ClientMsg::Ping { .. } => {}
        }
    }

    /// Checks a stream name and session against the closed sets. Global and per-symbol
    /// streams ignore a session id (`resolve_symbol` completes the per-symbol ones).
    fn resolve(&self, stream: &str, session_id: Option<String>) -> Result<StreamKey, ErrorReply> {
        let error = |code: &str, message: String, valid: Vec<String>| ErrorReply {
            id: None,
            code: code.to_string(),
            message,
            valid,
        };
        let Some(name) = StreamName::parse(stream) else {
            return Err(error(
                error_code::UNKNOWN_STREAM,
                format!("unknown stream {stream:?}"),
                StreamName::valid_names(),
            ));
        };
        if !name.is_per_session() {
            return Ok(StreamKey::new(name, None));
        }
        match session_id {
            None => Err(error(
                error_code::SESSION_REQUIRED,
                format!("stream {name} needs a session_id"),
                self.session_ids(),
            )),
            Some(sid) if self.find(&sid).is_none() => Err(error(
                error_code::SESSION_NOT_FOUND,
                format!("unknown session {sid:?}"),
                self.session_ids(),
            )),
            Some(sid) => Ok(StreamKey::new(name, Some(sid))),
        }
    }

    /// The stream's whole current state goes to fan-out, which answers `ack` and `full_update`
    /// at the seq of the last delta published before it.
    fn subscribe(&mut self, conn: u64, id: u64, key: StreamKey) {
        if key.stream.is_per_symbol() {
            return self.subscribe_view(conn, id, key);
        }
        let snapshot = self.stream_snapshot(key.stream, key.session.as_deref());
        if let Some(c) = self.clients.get_mut(&conn) {
            c.subs.insert(key.clone());
        }
        self.fanout.subscribe(conn, id, key, snapshot);
    }

    fn reply_command(
        &mut self,
        conn: u64,
        id: u64,
        session_id: &str,
        r: Result<SessionInfo, CmdError>,
        verb: &str,
    ) {
        let error = |code: &str, message: String, valid: Vec<String>| {
            ServerMsg::Error(ErrorReply {
                id: Some(id),
                code: code.to_string(),
                message,
                valid,
            })
        };
        let msg = match r {
            Ok(info) => ServerMsg::Result(CommandResult {
                id,
                ok: true,
                message: Some(format!("session {} {verb}", info.id)),
            }),
            Err(CmdError::NotFound(nf)) => error(
                error_code::SESSION_NOT_FOUND,
                format!("unknown session {session_id:?}"),
                nf.valid,
            ),
            Err(CmdError::InvalidSymbol(m)) => error(error_code::INVALID_SYMBOL, m, Vec::new()),
            Err(CmdError::Rejected(m)) => error(error_code::REJECTED, m, Vec::new()),
        };
        self.reply(conn, msg);
    }

    /// `close_position`'s answer: what was closed, where, and the realized PnL.
    fn reply_closed(
        &mut self,
        conn: u64,
        id: u64,
        session_id: &str,
        r: Result<PositionInfo, CmdError>,
    ) {
        match r {
            Ok(p) => {
                let message = control_ops::closed_text(session_id, &p);
                let ok = ServerMsg::Result(CommandResult {
                    id,
                    ok: true,
                    message: Some(message),
                });
                self.reply(conn, ok);
            }
            Err(e) => self.reply_command(conn, id, session_id, Err(e), ""),
        }
    }

    /// A control reply to one client, in order with its stream data.
    fn reply(&mut self, conn: u64, msg: ServerMsg) {
        self.fanout.reply(conn, msg);
    }

    // ---- sessions ------------------------------------------------------------------------

    fn not_found(&self) -> NotFound {
        NotFound {
            valid: self.session_ids(),
        }
    }

    fn session_ids(&self) -> Vec<String> {
        self.sessions.iter().map(|s| s.cfg.id.clone()).collect()
    }

    fn session_infos(&self) -> Vec<SessionInfo> {
        self.sessions.iter().map(Session::info).collect()
    }

    // ---- market, health, events -----------------------------------------------------------

    /// A client socket opened or closed, as a `connection_events` row.
    fn store_link(&self, conn_id: &str, change: LinkChange) {
        if let Some(store) = &self.store {
            store.send(link_row("client", conn_id, &change, now_ms()));
        }
    }

    fn on_market(&mut self, ev: MarketEvent) {
        let now = now_ms();
        let ticker = self.market.merge(&ev, now);
        self.on_view_market(&ev, now);
        let contracts_changed = matches!(
            ev,
            MarketEvent::SymbolFailed { .. } | MarketEvent::Contracts(_)
        );
        if let Some(store) = &self.store {
            store.send_all(rows_from_market(&ev, now));
        }
        // The engine sees every event; its transitions and signals go out before the ticker.
        self.apply_engine(EngineInput::Market(ev), now);
        if contracts_changed {
            let engine = &self.engine;
            self.market
                .contracts_changed(|symbol| engine.contract(symbol).map(|c| c.price_scale));
            self.publish_symbols();
        }
        let Some(ticker) = ticker else { return };
        let engine = &self.engine;
        let ticker = self.market.commit(ticker, |symbol| {
            engine.contract(symbol).map(|c| c.price_scale)
        });
        let symbol = ticker.symbol.clone();
        let sessions: Vec<String> = self
            .sessions
            .iter()
            .filter(|s| s.has_symbol(&symbol))
            .map(|s| s.cfg.id.clone())
            .collect();
        for sid in sessions {
            self.publish(
                StreamName::MarketData,
                Some(&sid),
                Some(&symbol),
                ticker.clone(),
                ServerMsg::Ticker,
            );
        }
    }

    fn health(&self) -> Health {
        Health {
            backend_started_ms: self.settings.started_ms,
            clients: u32::try_from(self.clients.len()).unwrap_or(u32::MAX),
            market: self.settings.market,
            upstream: self.upstream.clone(),
            store: self.store_health.clone(),
        }
    }

    fn publish_health(&mut self) {
        let h = self.health();
        self.publish(StreamName::Health, None, Some(""), h, ServerMsg::Health);
    }

    pub(super) fn note(&mut self, level: Level, name: &str, message: String) {
        self.add_event(LogEvent {
            ts: now_ms(),
            level,
            name: name.to_string(),
            message,
            count: 1,
        });
    }

    fn add_event(&mut self, ev: LogEvent) {
        let stored = self.events.push(ev);
        self.publish(StreamName::Events, None, None, stored, ServerMsg::Event);
    }

    // ---- snapshots and fan-out --------------------------------------------------------------

    fn stream_snapshot(&self, stream: StreamName, session: Option<&str>) -> Snapshot {
        let sess = session
            .and_then(|id| self.find(id))
            .map(|i| &self.sessions[i]);
        let mut s = Snapshot::default();
        match stream {
            StreamName::Sessions => s.sessions = Some(self.session_infos()),
            StreamName::MarketData => {
                s.market_data = Some(
                    sess.map(|se| self.market.tickers_of(&se.cfg.symbols))
                        .unwrap_or_default(),
                )
            }
            StreamName::StateMachines => {
                let list = session
                    .map(|id| self.engine.instances(id))
                    .unwrap_or_default();
                s.state_machines = Some(list.iter().map(super::convert::instance).collect())
            }
            StreamName::Health => s.health = Some(Box::new(self.health())),
            StreamName::Events => s.events = Some(self.events.snapshot()),
            StreamName::Indicators => {
                s.indicators = Some(session.map_or(Vec::new(), |id| self.snapshot_indicators(id)))
            }
            StreamName::Conditions => {
                s.conditions = Some(session.map_or(Vec::new(), |id| self.snapshot_conditions(id)))
            }
            StreamName::Signals => {
                s.signals = Some(session.map_or(Vec::new(), |id| self.snapshot_signals(id)))
            }
            StreamName::Positions => {
                s.positions = Some(Box::new(
                    session
                        .map(|id| self.snapshot_positions(id))
                        .unwrap_or_default(),
                ))
            }
            StreamName::Candles | StreamName::Book | StreamName::Tape => {}
        }
        s
    }

    fn rest_snapshot(&self, session_id: &str) -> Result<RestSnapshot, NotFound> {
        if self.find(session_id).is_none() {
            return Err(self.not_found());
        }
        let mut data = Snapshot::default();
        for stream in StreamName::ALL {
            let sid = stream.is_per_session().then(|| session_id.to_string());
            let part = self.stream_snapshot(stream, sid.as_deref());
            data.sessions = data.sessions.or(part.sessions);
            data.market_data = data.market_data.or(part.market_data);
            data.state_machines = data.state_machines.or(part.state_machines);
            data.health = data.health.or(part.health);
            data.events = data.events.or(part.events);
            data.indicators = data.indicators.or(part.indicators);
            data.conditions = data.conditions.or(part.conditions);
            data.signals = data.signals.or(part.signals);
            data.positions = data.positions.or(part.positions);
        }
        // The seqs are fan-out's to fill in.
        Ok(RestSnapshot {
            session_id: session_id.to_string(),
            epoch: self.settings.epoch.clone(),
            ts: now_ms(),
            seq: BTreeMap::new(),
            data,
        })
    }

    /// Whether any client follows (stream, session): skip building data nobody reads.
    fn has_subscribers(&self, stream: StreamName, session: &str) -> bool {
        let key = StreamKey::new(stream, Some(session.to_string()));
        self.clients.values().any(|c| c.subs.contains(&key))
    }

    /// The next delta of (stream, session); fan-out stamps its seq and queues it for every
    /// subscriber. `conflate` names the item for conflated streams.
    fn publish<T: Serialize + Send + 'static>(
        &mut self,
        stream: StreamName,
        session: Option<&str>,
        conflate: Option<&str>,
        data: T,
        wrap: fn(Envelope<T>) -> ServerMsg,
    ) {
        let key = StreamKey::new(stream, session.map(str::to_string));
        self.fanout.publish(key, conflate, data, wrap);
    }
}
