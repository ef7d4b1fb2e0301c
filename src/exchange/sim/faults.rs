//! Fault-injection seams and observation counters, all in one place so the fault-injection
//! issue can extend them without touching the connection code's structure.
//!
//! Switches are plain atomics read by every connection on each event, so flipping one takes
//! effect at once for all clients. Tests read the counters and the command log to assert what a
//! client actually did on the wire (ping cadence, resubscription).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::watch;

/// How many received text frames the command log keeps (oldest dropped first).
pub const COMMAND_LOG_MAX: usize = 4096;

#[derive(Debug)]
pub struct SimFaults {
    /// Stop sending market pushes (acks, pongs and errors still flow).
    pub pause_pushes: AtomicBool,
    /// Swallow pong replies; the ping still counts for the heartbeat.
    pub stall_pongs: AtomicBool,
    /// Answer `/edge` upgrades with HTTP 403 and an HTML body, like MEXC's WAF.
    pub refuse_upgrades: AtomicBool,
    connections_accepted: AtomicU64,
    connections_open: AtomicU64,
    pings_received: AtomicU64,
    pushes_lagged: AtomicU64,
    commands: Mutex<VecDeque<String>>,
    /// Symbols to pump on the next market step (`force_pump`).
    forced_pumps: Mutex<Vec<String>>,
    /// Bumped by `drop_all`; every connection watches it.
    drop_generation: watch::Sender<u64>,
}

impl Default for SimFaults {
    fn default() -> Self {
        SimFaults {
            pause_pushes: AtomicBool::new(false),
            stall_pongs: AtomicBool::new(false),
            refuse_upgrades: AtomicBool::new(false),
            connections_accepted: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            pings_received: AtomicU64::new(0),
            pushes_lagged: AtomicU64::new(0),
            commands: Mutex::new(VecDeque::new()),
            forced_pumps: Mutex::new(Vec::new()),
            drop_generation: watch::Sender::new(0),
        }
    }
}

impl SimFaults {
    pub fn new() -> SimFaults {
        SimFaults::default()
    }

    /// Drop every open WebSocket's TCP connection without a close frame (client sees 1006).
    pub fn drop_all(&self) {
        self.drop_generation.send_modify(|g| *g += 1);
    }

    /// Start a deterministic upward pump on `symbol` at the next market step (unknown symbols
    /// are ignored). Lets tests drive a strategy to an entry on cue instead of waiting for luck.
    pub fn force_pump(&self, symbol: &str) {
        self.forced_pumps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(symbol.to_string());
    }

    pub(crate) fn take_forced_pumps(&self) -> Vec<String> {
        std::mem::take(&mut *self.forced_pumps.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// WebSocket upgrades accepted since start.
    pub fn connections_accepted(&self) -> u64 {
        self.connections_accepted.load(Ordering::Relaxed)
    }

    /// WebSocket connections currently open.
    pub fn connections_open(&self) -> u64 {
        self.connections_open.load(Ordering::Relaxed)
    }

    /// Valid JSON `{"method":"ping"}` frames received, all connections.
    pub fn pings_received(&self) -> u64 {
        self.pings_received.load(Ordering::Relaxed)
    }

    /// Pushes skipped because a client fell too far behind.
    pub fn pushes_lagged(&self) -> u64 {
        self.pushes_lagged.load(Ordering::Relaxed)
    }

    /// Text frames clients sent, oldest first (bounded by `COMMAND_LOG_MAX`).
    pub fn commands(&self) -> Vec<String> {
        self.log().iter().cloned().collect()
    }

    pub fn clear_commands(&self) {
        self.log().clear();
    }

    fn log(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        // A panic while holding the lock cannot leave the log inconsistent; keep using it.
        self.commands.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn record_command(&self, text: &str) {
        let mut log = self.log();
        if log.len() >= COMMAND_LOG_MAX {
            log.pop_front();
        }
        log.push_back(text.to_string());
    }

    pub(crate) fn count_ping(&self) {
        self.pings_received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_lagged(&self, n: u64) {
        self.pushes_lagged.fetch_add(n, Ordering::Relaxed);
    }

    /// Register a new connection; the guard keeps `connections_open` right however it ends.
    pub(crate) fn open_connection(&self) -> (u64, ConnectionGuard<'_>) {
        let n = self.connections_accepted.fetch_add(1, Ordering::Relaxed) + 1;
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        (n, ConnectionGuard { faults: self })
    }

    pub(crate) fn drop_signal(&self) -> watch::Receiver<u64> {
        self.drop_generation.subscribe()
    }

    pub fn pushes_paused(&self) -> bool {
        self.pause_pushes.load(Ordering::Relaxed)
    }

    pub fn pongs_stalled(&self) -> bool {
        self.stall_pongs.load(Ordering::Relaxed)
    }

    pub fn upgrades_refused(&self) -> bool {
        self.refuse_upgrades.load(Ordering::Relaxed)
    }
}

pub(crate) struct ConnectionGuard<'a> {
    faults: &'a SimFaults,
}

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.faults.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}
