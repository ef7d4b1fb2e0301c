//! The QuestDB store (issue 5): everything trademon sees is written to QuestDB
//! over ILP/HTTP with the official client, on its own thread, through per-table buffers; rows
//! that cannot be written wait in a bounded durable spool and are replayed in order (DEDUP
//! UPSERT KEYS make every resend idempotent); poison rows go to a quarantine file; health is
//! published on a watch channel. See docs/questdb.md.
//!
//! Use: [`spawn`] once at start, [`StoreHandle::send`] rows from anywhere (never blocks), show
//! the [`StoreHealth`] receiver, read history with [`queries::Queries`].

pub mod config;
pub mod error;
pub mod exec;
pub mod quarantine;
pub mod queries;
pub mod retry;
pub mod rows;
pub mod schema;
pub mod spool;
pub mod timefmt;
mod writer;

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

pub use config::StoreSettings;
pub use error::{ConfError, StartError};
pub use queries::{Queries, QueryError};
pub use rows::{
    Priority, StoreRow, Table, indicator_row, kline_row, link_row, rows_from_engine,
    rows_from_market, session_row,
};
pub use trademon_protocol::{StoreHealth, StoreState};

use writer::{Msg, Overflow, Writer};

/// The producer side. Cheap to clone; `send` never blocks and never does I/O.
#[derive(Clone)]
pub struct StoreHandle {
    tx: Option<SyncSender<Msg>>,
    shared: Arc<Overflow>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreHandle")
            .field("enabled", &self.tx.is_some())
            .finish()
    }
}

impl StoreHandle {
    /// A handle that accepts and discards everything (`questdb.enabled = false`).
    pub fn disabled() -> StoreHandle {
        StoreHandle {
            tx: None,
            shared: Arc::default(),
            thread: Arc::default(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queue a row for the writer thread. When the channel is full, market data and
    /// connection events are dropped (counted in health); signals, transitions and sessions go
    /// to an overflow list the writer takes on its next turn, so they are never dropped.
    pub fn send(&self, row: StoreRow) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(Msg::Row(row)) {
            Ok(()) => {}
            Err(TrySendError::Full(Msg::Row(row))) => {
                if row.table().priority() == Priority::Critical {
                    if let Ok(mut v) = self.shared.overflow.lock() {
                        v.push(row);
                    }
                } else {
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn send_all(&self, rows: impl IntoIterator<Item = StoreRow>) {
        for r in rows {
            self.send(r);
        }
    }

    /// Write or spool everything buffered so far; false on timeout. Blocking: call from a
    /// plain thread or `spawn_blocking`, not from async code directly.
    pub fn flush_blocking(&self, timeout: Duration) -> bool {
        let Some(tx) = &self.tx else { return true };
        let (ack_tx, ack_rx) = std::sync::mpsc::channel();
        // `send` (not try_send): a flush waits its turn behind queued rows.
        if tx.send(Msg::Flush(ack_tx)).is_err() {
            return false;
        }
        ack_rx.recv_timeout(timeout).is_ok()
    }

    /// Flush or spool everything, then stop the writer and wait for it. Blocking.
    pub fn shutdown(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Shutdown);
        }
        self.join();
    }

    /// Stop at once without writing or spooling the in-memory buffers: the effect of
    /// `kill -9` on the writer, for crash tests. Blocking.
    pub fn abort(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Msg::Abort);
        }
        self.join();
    }

    fn join(&self) {
        let handle = self.thread.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// Start the store from `[questdb]`. Disabled config: a discarding handle and a `Disabled`
/// health. Errors: an unusable conf string or spool directory (nothing started).
pub fn spawn(
    cfg: &crate::config::QuestdbConfig,
    data_dir: &Path,
) -> Result<(StoreHandle, watch::Receiver<StoreHealth>), StartError> {
    if !cfg.enabled {
        let (_tx, rx) = watch::channel(StoreHealth::disabled());
        return Ok((StoreHandle::disabled(), rx));
    }
    spawn_with(StoreSettings::resolve(cfg, data_dir)?)
}

/// Start the store from resolved settings (tests and benchmarks build these directly).
pub fn spawn_with(
    s: StoreSettings,
) -> Result<(StoreHandle, watch::Receiver<StoreHealth>), StartError> {
    let spool = spool::Spool::open(&s.spool_dir, s.spool_max_bytes, s.fsync).map_err(|source| {
        StartError::Spool {
            dir: s.spool_dir.clone(),
            source,
        }
    })?;
    let (health_tx, health_rx) = watch::channel(StoreHealth::starting());
    let shared = Arc::new(Overflow::default());
    let (tx, rx) = std::sync::mpsc::sync_channel(s.channel_capacity);
    let writer = Writer::new(s, spool, shared.clone(), health_tx)?;
    let thread = std::thread::Builder::new()
        .name("questdb-writer".into())
        .spawn(move || writer.run(rx))
        .map_err(StartError::Thread)?;
    Ok((
        StoreHandle {
            tx: Some(tx),
            shared,
            thread: Arc::new(Mutex::new(Some(thread))),
        },
        health_rx,
    ))
}
