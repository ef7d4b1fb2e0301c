//! Fault injection and observation, all in one place: the switchable `FaultState`, one-shot
//! actions on open connections, forced pumps, and the counters tests assert on.
//!
//! `SimFaults` is the in-process handle (tests hold it through `SimHandle::faults`); the HTTP
//! control API (`control.rs`) is a thin JSON layer over the same methods. Connections watch the
//! state and the action channel, so a change takes effect at once for every client.

mod action;
mod limiter;
mod selector;
mod state;

pub(crate) use action::{Action, ActionKind, client_id_frame};
pub use action::{MAX_CLOSE_REASON, Malformed, Outbound, check_close};
pub(crate) use limiter::Limiter;
pub use limiter::{REST_LIMIT, REST_WINDOW};
pub use selector::{Selector, any_matches};
pub use state::{FaultState, PatchError};

use super::market::{PumpSpec, symbol_index};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

/// How many received text frames the command log keeps (oldest dropped first).
pub const COMMAND_LOG_MAX: usize = 4096;
/// Actions queued per connection before a busy one misses some (it logs the loss).
const ACTION_BUFFER: usize = 256;

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionError {
    /// No open connection has this id.
    UnknownConnection(u64),
    UnknownSymbol(String),
    Invalid(String),
}

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActionError::UnknownConnection(id) => write!(f, "no open connection {id}"),
            ActionError::UnknownSymbol(s) => write!(f, "unknown symbol {s:?}"),
            ActionError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ActionError {}

/// One open WebSocket, as `GET /control/connections` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub id: u64,
    pub peer: Option<SocketAddr>,
    pub age_ms: u64,
    pub half_open: bool,
}

#[derive(Debug)]
struct ConnEntry {
    peer: Option<SocketAddr>,
    opened: Instant,
    half_open: bool,
}

/// Counters, as `GET /control/stats` reports them.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Stats {
    pub connections_accepted: u64,
    pub connections_open: u64,
    pub pings_received: u64,
    pub pushes_lagged: u64,
    /// Push frames the market rendered for subscribers (the offered load).
    pub pushes_published: u64,
    pub pumps_forced: u64,
}

#[derive(Debug)]
pub struct SimFaults {
    state: watch::Sender<FaultState>,
    actions: broadcast::Sender<Action>,
    connections_accepted: AtomicU64,
    pings_received: AtomicU64,
    pushes_lagged: AtomicU64,
    pushes_published: AtomicU64,
    pumps_forced: AtomicU64,
    commands: Mutex<VecDeque<String>>,
    open: Mutex<BTreeMap<u64, ConnEntry>>,
    pumps: Mutex<Vec<(usize, PumpSpec)>>,
    limiter: Mutex<Limiter>,
}

impl Default for SimFaults {
    fn default() -> Self {
        SimFaults {
            state: watch::Sender::new(FaultState::default()),
            actions: broadcast::Sender::new(ACTION_BUFFER),
            connections_accepted: AtomicU64::new(0),
            pings_received: AtomicU64::new(0),
            pushes_lagged: AtomicU64::new(0),
            pushes_published: AtomicU64::new(0),
            pumps_forced: AtomicU64::new(0),
            commands: Mutex::new(VecDeque::new()),
            open: Mutex::new(BTreeMap::new()),
            pumps: Mutex::new(Vec::new()),
            limiter: Mutex::new(Limiter::default()),
        }
    }
}

/// A panic while holding one of these locks cannot leave the data inconsistent (every critical
/// section is a single push, pop or insert); keep using it rather than poisoning the simulator.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimFaults {
    pub fn new() -> SimFaults {
        SimFaults::default()
    }

    // --- switchable faults ---

    /// The faults switched on now.
    pub fn state(&self) -> FaultState {
        self.state.borrow().clone()
    }

    /// Replace the whole fault state.
    pub fn set(&self, next: FaultState) {
        self.state.send_replace(next);
    }

    /// Change some knobs: `faults.update(|f| f.delay_pongs_ms = 20_000)`.
    pub fn update(&self, change: impl FnOnce(&mut FaultState)) {
        self.state.send_modify(change);
    }

    /// Apply a JSON patch (see `FaultState::patched`); returns the new state.
    pub fn patch(&self, patch: &serde_json::Value) -> Result<FaultState, PatchError> {
        let mut result = Err(PatchError(String::new()));
        // Patch under the watch lock so two concurrent patches cannot lose each other's knobs.
        self.state.send_if_modified(|s| match s.patched(patch) {
            Ok(next) => {
                let changed = next != *s;
                *s = next.clone();
                result = Ok(next);
                changed
            }
            Err(e) => {
                result = Err(e);
                false
            }
        });
        result
    }

    /// All faults off: default state, REST windows forgotten, queued pumps cancelled, and
    /// half-open connections dropped (nothing else could ever end them).
    pub fn reset(&self) {
        self.state.send_replace(FaultState::default());
        lock(&self.limiter).clear();
        lock(&self.pumps).clear();
        let frozen: Vec<u64> = lock(&self.open)
            .iter()
            .filter(|(_, e)| e.half_open)
            .map(|(id, _)| *id)
            .collect();
        for id in frozen {
            let _ = self.act(Some(id), ActionKind::Drop { rst: false });
        }
    }

    // --- one-shot actions; `conn` None = every open connection; Ok = how many it reached ---

    /// Drop every open WebSocket's TCP connection without a close frame (client sees 1006).
    pub fn drop_all(&self) {
        let _ = self.drop_connections(None, false);
    }

    /// Close TCP without a close frame; with `rst` as a reset (RST, SO_LINGER 0), else a FIN.
    pub fn drop_connections(&self, conn: Option<u64>, rst: bool) -> Result<usize, ActionError> {
        self.act(conn, ActionKind::Drop { rst })
    }

    /// Send a close frame with `code` and `reason`, then close TCP.
    pub fn close(&self, conn: Option<u64>, code: u16, reason: &str) -> Result<usize, ActionError> {
        check_close(code, reason).map_err(ActionError::Invalid)?;
        self.act(
            conn,
            ActionKind::Close {
                code,
                reason: reason.to_string(),
            },
        )
    }

    /// Stop reading and writing on open connections without closing them.
    pub fn half_open(&self, conn: Option<u64>) -> Result<usize, ActionError> {
        self.act(conn, ActionKind::HalfOpen)
    }

    /// Send `frame` to open connections regardless of what they subscribed to.
    pub fn inject(&self, conn: Option<u64>, frame: Outbound) -> Result<usize, ActionError> {
        self.act(conn, ActionKind::Send(frame))
    }

    fn act(&self, conn: Option<u64>, kind: ActionKind) -> Result<usize, ActionError> {
        let reached = {
            let open = lock(&self.open);
            match conn {
                Some(id) if !open.contains_key(&id) => {
                    return Err(ActionError::UnknownConnection(id));
                }
                Some(_) => 1,
                None => open.len(),
            }
        };
        // No receivers just means nobody is connected; the action has nothing to do.
        let _ = self.actions.send(Action { conn, kind });
        Ok(reached)
    }

    // --- market ---

    /// Start a pump on `symbol` now with the default shape (+5 % over 5 s, 8x trades).
    pub fn force_pump(&self, symbol: &str) -> Result<(), ActionError> {
        self.force_pump_with(symbol, PumpSpec::default())
    }

    /// Start a pump of this shape on `symbol` at the market's next step (<= 100 ms).
    pub fn force_pump_with(&self, symbol: &str, spec: PumpSpec) -> Result<(), ActionError> {
        let i = symbol_index(symbol).ok_or_else(|| ActionError::UnknownSymbol(symbol.into()))?;
        spec.check().map_err(ActionError::Invalid)?;
        lock(&self.pumps).push((i, spec));
        self.pumps_forced.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    // --- observation ---

    pub fn stats(&self) -> Stats {
        Stats {
            connections_accepted: self.connections_accepted(),
            connections_open: self.connections_open(),
            pings_received: self.pings_received(),
            pushes_lagged: self.pushes_lagged(),
            pushes_published: self.pushes_published(),
            pumps_forced: self.pumps_forced.load(Ordering::Relaxed),
        }
    }

    /// Open WebSocket connections, oldest first.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        lock(&self.open)
            .iter()
            .map(|(id, e)| ConnectionInfo {
                id: *id,
                peer: e.peer,
                age_ms: e.opened.elapsed().as_millis() as u64,
                half_open: e.half_open,
            })
            .collect()
    }

    /// WebSocket upgrades accepted since start.
    pub fn connections_accepted(&self) -> u64 {
        self.connections_accepted.load(Ordering::Relaxed)
    }

    /// WebSocket connections currently open.
    pub fn connections_open(&self) -> u64 {
        lock(&self.open).len() as u64
    }

    /// Valid JSON `{"method":"ping"}` frames received, all connections.
    pub fn pings_received(&self) -> u64 {
        self.pings_received.load(Ordering::Relaxed)
    }

    /// Pushes skipped because a client fell too far behind.
    pub fn pushes_lagged(&self) -> u64 {
        self.pushes_lagged.load(Ordering::Relaxed)
    }

    /// Push frames rendered since start (each is offered to every connection).
    pub fn pushes_published(&self) -> u64 {
        self.pushes_published.load(Ordering::Relaxed)
    }

    /// Text frames clients sent, oldest first (bounded by `COMMAND_LOG_MAX`).
    pub fn commands(&self) -> Vec<String> {
        lock(&self.commands).iter().cloned().collect()
    }

    pub fn clear_commands(&self) {
        lock(&self.commands).clear();
    }

    // --- seams for the connection, feed and REST code ---

    pub(crate) fn record_command(&self, text: &str) {
        let mut log = lock(&self.commands);
        if log.len() >= COMMAND_LOG_MAX {
            log.pop_front();
        }
        log.push_back(text.to_string());
    }

    pub(crate) fn count_ping(&self) {
        self.pings_received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_published(&self) {
        self.pushes_published.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_lagged(&self, n: u64) {
        self.pushes_lagged.fetch_add(n, Ordering::Relaxed);
    }

    /// Register a new connection; the guard unregisters it however the connection ends.
    pub(crate) fn open_connection(&self, peer: Option<SocketAddr>) -> ConnectionGuard<'_> {
        let id = self.connections_accepted.fetch_add(1, Ordering::Relaxed) + 1;
        lock(&self.open).insert(
            id,
            ConnEntry {
                peer,
                opened: Instant::now(),
                half_open: false,
            },
        );
        ConnectionGuard { faults: self, id }
    }

    pub(crate) fn state_watch(&self) -> watch::Receiver<FaultState> {
        self.state.subscribe()
    }

    pub(crate) fn action_signal(&self) -> broadcast::Receiver<Action> {
        self.actions.subscribe()
    }

    /// Pumps requested since the last call, for the feed task.
    pub(crate) fn take_pumps(&self) -> Vec<(usize, PumpSpec)> {
        std::mem::take(&mut *lock(&self.pumps))
    }

    /// Count a REST call against its endpoint's window; false when over the limit.
    pub(crate) fn rest_admit(&self, endpoint: &str) -> bool {
        lock(&self.limiter).admit(endpoint, Instant::now())
    }
}

pub(crate) struct ConnectionGuard<'a> {
    faults: &'a SimFaults,
    pub id: u64,
}

impl ConnectionGuard<'_> {
    pub fn mark_half_open(&self) {
        if let Some(e) = lock(&self.faults.open).get_mut(&self.id) {
            e.half_open = true;
        }
    }
}

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        lock(&self.faults.open).remove(&self.id);
    }
}
