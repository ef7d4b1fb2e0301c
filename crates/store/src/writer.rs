//! The writer thread: owns the blocking `questdb` sender, per-table buffers, the spool and the
//! quarantine. It is a plain OS thread because every client call blocks (ureq, and
//! `thread::sleep` in the client's own retries); it must never run on a tokio worker.
//!
//! Flow per table: rows collect in memory and are flushed at `flush_rows` or `flush_age`, one
//! table per request (one server transaction). A table whose spool is not empty, that is held
//! for a schema problem, or any table while QuestDB is backing off, appends to the spool
//! instead, so per-table order is kept and the spool drains oldest first once writes succeed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use questdb::ingress::{Buffer, Sender};
use tokio::sync::watch;

use super::config::StoreSettings;
use super::error::StartError;
use super::exec::{ExecClient, ExecError};
use super::quarantine::{Quarantine, QuarantineEntry};
use super::retry::{Failure, Retry, classify};
use super::rows::{StoreRow, Table};
use super::schema;
use super::spool::Spool;
use trademon_protocol::{StoreHealth, StoreState};

pub(crate) enum Msg {
    Row(StoreRow),
    /// Write (or spool) everything buffered, then answer.
    Flush(std::sync::mpsc::Sender<()>),
    /// Flush or spool everything, then stop.
    Shutdown,
    /// Stop at once, losing the in-memory buffers: what `kill -9` does (tests only).
    Abort,
}

/// State shared with `StoreHandle` (the producer side).
#[derive(Debug, Default)]
pub(crate) struct Overflow {
    /// Critical rows that met a full channel: the writer takes them on its next turn. Never
    /// file I/O on the caller's (tokio) thread.
    pub overflow: Mutex<Vec<StoreRow>>,
    /// Market rows dropped because the channel was full.
    pub dropped: AtomicU64,
}

#[derive(Default)]
struct TableBuf {
    rows: Vec<StoreRow>,
    since: Option<Instant>,
}

/// Most spool chunks sent per loop turn, so a long drain still reads the channel.
const DRAIN_CHUNKS_PER_TURN: usize = 8;

pub(crate) struct Writer {
    s: StoreSettings,
    sender: Option<Sender>,
    exec: ExecClient,
    rt: tokio::runtime::Runtime,
    spool: Spool,
    quarantine: Quarantine,
    bufs: Vec<TableBuf>,
    ilp: Buffer,
    schema_ok: [bool; Table::COUNT],
    problems: Vec<Vec<String>>,
    next_schema_check: Instant,
    retry: Retry,
    blocked_until: Option<Instant>,
    down: bool,
    last_error: Option<String>,
    written: u64,
    dropped: u64,
    rate: (Instant, u64, f64),
    shared: Arc<Overflow>,
    health: watch::Sender<StoreHealth>,
    last_publish: Instant,
}

impl Writer {
    pub(crate) fn new(
        s: StoreSettings,
        spool: Spool,
        shared: Arc<Overflow>,
        health: watch::Sender<StoreHealth>,
    ) -> Result<Writer, StartError> {
        // protocol_version is pinned (StoreSettings), so this does no network I/O and works
        // while QuestDB is down.
        let sender = Sender::from_conf(&s.conf).map_err(StartError::Client)?;
        let ilp = sender.new_buffer();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StartError::Runtime)?;
        let now = Instant::now();
        for note in &s.notes {
            tracing::info!(event = "store.config", "{note}");
        }
        Ok(Writer {
            exec: ExecClient::new(&s),
            quarantine: Quarantine::new(spool.dir()),
            retry: Retry::new(s.retry_base, s.retry_cap),
            dropped: 0,
            s,
            sender: Some(sender),
            rt,
            spool,
            bufs: Table::ALL.iter().map(|_| TableBuf::default()).collect(),
            ilp,
            schema_ok: [false; Table::COUNT],
            problems: vec![Vec::new(); Table::COUNT],
            next_schema_check: now,
            blocked_until: None,
            down: false,
            last_error: None,
            written: 0,
            rate: (now, 0, 0.0),
            shared,
            health,
            last_publish: now - Duration::from_secs(1),
        })
    }

    pub(crate) fn run(mut self, rx: Receiver<Msg>) {
        tracing::info!(
            event = "store.started",
            spooled = self.spool.total_rows(),
            spool_dir = %self.spool.dir().display()
        );
        self.publish(true);
        loop {
            let wait = self.next_wakeup(Instant::now());
            let mut first = match rx.recv_timeout(wait) {
                Ok(m) => Some(m),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(Msg::Shutdown),
            };
            // Take what is queued in one go, but bounded so timers still run under load.
            let mut n = 0;
            while let Some(msg) = first.take().or_else(|| {
                n += 1;
                if n < 50_000 { rx.try_recv().ok() } else { None }
            }) {
                match msg {
                    Msg::Row(r) => self.accept(r),
                    Msg::Flush(ack) => {
                        self.take_overflow();
                        self.flush_all(true);
                        self.publish(true);
                        let _ = ack.send(());
                    }
                    Msg::Shutdown => {
                        self.shutdown();
                        return;
                    }
                    Msg::Abort => return,
                }
            }
            self.take_overflow();
            self.turn(Instant::now());
        }
    }

    fn accept(&mut self, row: StoreRow) {
        let t = row.table();
        let b = &mut self.bufs[t.index()];
        if b.rows.is_empty() {
            b.since = Some(Instant::now());
        }
        b.rows.push(row);
        if b.rows.len() >= self.s.flush_rows {
            self.flush_table(t);
        }
    }

    fn take_overflow(&mut self) {
        let rows = match self.shared.overflow.lock() {
            Ok(mut v) if !v.is_empty() => std::mem::take(&mut *v),
            _ => return,
        };
        for r in rows {
            self.accept(r);
        }
    }

    fn next_wakeup(&self, now: Instant) -> Duration {
        let mut at = now + Duration::from_millis(200); // health cadence
        for b in &self.bufs {
            if let Some(since) = b.since {
                at = at.min(since + self.s.flush_age);
            }
        }
        if let Some(b) = self.blocked_until {
            at = at.min(b);
        } else if self.spool.total_rows() > 0 && self.schema_ok.iter().any(|ok| *ok) {
            at = now; // keep draining
        }
        if self.schema_ok.iter().any(|ok| !ok) {
            at = at.min(self.next_schema_check);
        }
        at.saturating_duration_since(now)
            .max(Duration::from_millis(1))
    }

    fn blocked(&self, now: Instant) -> bool {
        self.blocked_until.is_some_and(|b| now < b)
    }

    /// Timers: schema checks, aged buffers, spool drain, health.
    fn turn(&mut self, now: Instant) {
        if self.blocked_until.is_some_and(|b| now >= b) {
            self.blocked_until = None;
        }
        if !self.blocked(now)
            && now >= self.next_schema_check
            && self.schema_ok.iter().any(|ok| !ok)
        {
            self.check_schema();
        }
        let age = self.s.flush_age;
        for t in Table::ALL {
            if self.bufs[t.index()].since.is_some_and(|s| now >= s + age) {
                self.flush_table(t);
            }
        }
        self.drain_spool();
        if self.down && !self.blocked(Instant::now()) && self.spool.total_rows() == 0 {
            self.probe();
        }
        self.publish(false);
    }

    fn flush_all(&mut self, _force: bool) {
        for t in Table::ALL {
            if !self.bufs[t.index()].rows.is_empty() {
                self.flush_table(t);
            }
        }
        // A flush request also drains what can be drained now.
        while self.spool.total_rows() > 0 && !self.blocked(Instant::now()) {
            let before = self.spool.total_rows();
            self.drain_spool();
            if self.spool.total_rows() >= before {
                break;
            }
        }
    }

    fn flush_table(&mut self, t: Table) {
        let b = &mut self.bufs[t.index()];
        let rows = std::mem::take(&mut b.rows);
        b.since = None;
        if rows.is_empty() {
            return;
        }
        let direct =
            !self.blocked(Instant::now()) && self.schema_ok[t.index()] && self.spool.rows(t) == 0;
        if !direct {
            self.spool_rows(&rows);
            return;
        }
        let done = self.send(t, &rows);
        let rest: Vec<StoreRow> = rows
            .into_iter()
            .zip(done)
            .filter(|(_, d)| !d)
            .map(|(r, _)| r)
            .collect();
        if !rest.is_empty() {
            self.spool_rows(&rest);
        }
    }

    fn spool_rows(&mut self, rows: &[StoreRow]) {
        match self.spool.append(rows, trademon_protocol::now_ms()) {
            Ok(out) => {
                if out.dropped > 0 {
                    self.dropped += out.dropped;
                    tracing::warn!(
                        event = "store.spool_full",
                        dropped = out.dropped,
                        "spool full: oldest market data dropped"
                    );
                }
            }
            Err(e) => {
                // The disk refused: these rows are lost. Count them and say so loudly.
                self.dropped += rows.len() as u64;
                self.last_error = Some(format!("spool write failed: {e}"));
                tracing::error!(event = "store.spool_error", error = %e, rows = rows.len());
            }
        }
    }

    /// Send the oldest spooled rows of each writable table.
    fn drain_spool(&mut self) {
        let mut chunks = 0;
        for t in Table::ALL {
            while chunks < DRAIN_CHUNKS_PER_TURN
                && self.schema_ok[t.index()]
                && !self.blocked(Instant::now())
                && self.spool.rows(t) > 0
            {
                chunks += 1;
                let rows = match self.spool.peek(t, self.s.flush_rows) {
                    Ok(r) => r,
                    Err(e) => {
                        self.last_error = Some(format!("spool read failed: {e}"));
                        tracing::error!(event = "store.spool_error", table = %t, error = %e);
                        break;
                    }
                };
                if rows.is_empty() {
                    break;
                }
                let done = self.send(t, &rows);
                self.spool.ack(t, &done);
                if done.iter().any(|d| !d) {
                    break;
                }
                if self.spool.total_rows() == 0 {
                    tracing::info!(event = "store.spool_drained");
                }
            }
        }
    }

    /// Write rows of one table. Returns, per row, whether it is finished (written or
    /// quarantined); unfinished rows must be kept (spooled) by the caller.
    fn send(&mut self, t: Table, rows: &[StoreRow]) -> Vec<bool> {
        let mut done = vec![false; rows.len()];
        let mut queue: VecDeque<Vec<usize>> = VecDeque::from([(0..rows.len()).collect()]);
        while let Some(batch) = queue.pop_front() {
            // Encode; rows the client refuses (bad name, negative ts) are poison right here.
            self.ilp.clear();
            let mut in_buf = Vec::with_capacity(batch.len());
            for &i in &batch {
                match rows[i].write_ilp(&mut self.ilp) {
                    Ok(()) => in_buf.push(i),
                    Err(e) => {
                        self.quarantine_row(&rows[i], "client", e.msg());
                        done[i] = true;
                    }
                }
            }
            if in_buf.is_empty() {
                continue;
            }
            let Some(sender) = self.sender.as_mut() else {
                return done;
            };
            let res = sender.flush_and_keep_with_flags(&self.ilp, true);
            self.ilp.clear();
            let failure = match res {
                Ok(()) => {
                    for &i in &in_buf {
                        done[i] = true;
                    }
                    self.written += in_buf.len() as u64;
                    self.on_success();
                    continue;
                }
                Err(e) => classify(&e),
            };
            match failure {
                Failure::Poison {
                    line,
                    error_id,
                    message,
                } => {
                    let bad = line
                        .and_then(|n| n.checked_sub(1))
                        .filter(|&n| n < in_buf.len());
                    match bad {
                        Some(k) => {
                            let i = in_buf.remove(k);
                            self.quarantine_row(&rows[i], &error_id, &message);
                            done[i] = true;
                            if !in_buf.is_empty() {
                                queue.push_front(in_buf);
                            }
                        }
                        // No usable line number: bisect until the bad row stands alone.
                        None => self.split_or_quarantine(
                            &mut queue, in_buf, rows, &mut done, &error_id, &message,
                        ),
                    }
                }
                Failure::TooLarge { message } => {
                    self.split_or_quarantine(&mut queue, in_buf, rows, &mut done, "413", &message)
                }
                Failure::Schema { message } => {
                    self.hold_table(t, message);
                    return done;
                }
                Failure::Transient { message } => {
                    self.on_failure(message, false);
                    return done;
                }
                Failure::Fatal { message } => {
                    self.on_failure(message, true);
                    return done;
                }
            }
        }
        done
    }

    fn split_or_quarantine(
        &mut self,
        queue: &mut VecDeque<Vec<usize>>,
        mut batch: Vec<usize>,
        rows: &[StoreRow],
        done: &mut [bool],
        error_id: &str,
        message: &str,
    ) {
        if batch.len() == 1 {
            let i = batch[0];
            self.quarantine_row(&rows[i], error_id, message);
            done[i] = true;
            return;
        }
        let second = batch.split_off(batch.len() / 2);
        queue.push_front(second);
        queue.push_front(batch);
    }

    fn quarantine_row(&mut self, row: &StoreRow, error_id: &str, message: &str) {
        let entry = QuarantineEntry {
            at: trademon_protocol::now_ms(),
            table: row.table().name().to_string(),
            error_id: error_id.to_string(),
            message: message.to_string(),
            row: row.clone(),
        };
        tracing::warn!(
            event = "store.quarantined",
            table = entry.table,
            error_id,
            message,
            "row rejected by QuestDB moved to quarantine"
        );
        self.last_error = Some(format!("quarantined a {} row: {message}", entry.table));
        if let Err(e) = self.quarantine.put(&entry) {
            // Nowhere else to put it: count it as dropped so it is not invisible.
            self.dropped += 1;
            tracing::error!(event = "store.quarantine_error", error = %e, path = %self.quarantine.path().display());
        }
    }

    fn on_success(&mut self) {
        if self.down {
            tracing::info!(event = "store.recovered", spooled = self.spool.total_rows());
        }
        self.down = false;
        self.retry.reset();
        self.blocked_until = None;
    }

    fn on_failure(&mut self, message: String, fatal: bool) {
        let delay = if fatal {
            self.retry.fatal_delay()
        } else {
            self.retry.next_delay()
        };
        if !self.down || self.last_error.as_deref() != Some(message.as_str()) {
            if fatal {
                tracing::error!(event = "store.alert", error = %message, retry_in_ms = delay.as_millis() as u64,
                    "QuestDB refuses the writer (auth or configuration); retrying at the cap");
            } else {
                tracing::warn!(event = "store.down", error = %message, retry_in_ms = delay.as_millis() as u64);
            }
        }
        self.down = true;
        self.last_error = Some(message);
        self.blocked_until = Some(Instant::now() + delay);
    }

    fn hold_table(&mut self, t: Table, message: String) {
        tracing::warn!(event = "store.schema_mismatch", table = %t, problem = %message, "table held in the spool");
        self.schema_ok[t.index()] = false;
        self.problems[t.index()] = vec![format!("{}: {message}", t.name())];
        self.next_schema_check = Instant::now() + self.s.schema_recheck;
    }

    /// Create missing tables and compare each with what the code writes. A table with a
    /// problem is held (its rows wait in the spool); the others go on.
    fn check_schema(&mut self) {
        for t in Table::ALL {
            if self.schema_ok[t.index()] {
                continue;
            }
            let create = self.rt.block_on(self.exec.run(&schema::create_sql(t)));
            let checked =
                create.and_then(|_| self.rt.block_on(self.exec.run(&schema::columns_sql(t))));
            let problems = match checked {
                Ok(ds) => {
                    let actual = actual_columns(&ds);
                    schema::compare(t, &actual)
                }
                Err(ExecError::Sql { error, .. }) => vec![format!("{}: {error}", t.name())],
                Err(e) => {
                    // Not an answer about the schema: QuestDB is unreachable or refusing.
                    let fatal = matches!(
                        e,
                        ExecError::Status {
                            status: 401 | 403,
                            ..
                        }
                    );
                    self.on_failure(e.to_string(), fatal);
                    self.next_schema_check = self.blocked_until.unwrap_or_else(Instant::now);
                    return;
                }
            };
            if problems.is_empty() {
                if !self.problems[t.index()].is_empty() {
                    tracing::info!(event = "store.schema_ok", table = %t);
                }
                self.schema_ok[t.index()] = true;
                self.problems[t.index()].clear();
                self.on_success();
            } else {
                if self.problems[t.index()] != problems {
                    for p in &problems {
                        tracing::warn!(event = "store.schema_mismatch", table = %t, problem = %p,
                            "table held in the spool until its schema is fixed");
                    }
                }
                self.problems[t.index()] = problems;
            }
        }
        self.next_schema_check = Instant::now() + self.s.schema_recheck;
    }

    /// Down with nothing to send: ask `/ping` so health clears without waiting for a row.
    fn probe(&mut self) {
        let res = self.rt.block_on(self.exec.ping());
        match res {
            Ok(()) => self.on_success(),
            Err(e) => self.on_failure(e.to_string(), false),
        }
    }

    fn shutdown(&mut self) {
        self.take_overflow();
        self.flush_all(true);
        if let Err(e) = self.spool.sync_all() {
            tracing::error!(event = "store.spool_error", error = %e);
        }
        self.publish(true);
        tracing::info!(
            event = "store.stopped",
            written = self.written,
            spooled = self.spool.total_rows()
        );
    }

    fn snapshot(&mut self) -> StoreHealth {
        let now = Instant::now();
        let (at, base, rate) = self.rate;
        let elapsed = now.duration_since(at);
        if elapsed >= Duration::from_secs(1) {
            let r = (self.written - base) as f64 / elapsed.as_secs_f64();
            self.rate = (now, self.written, r);
        }
        let rows_spooled = self.spool.total_rows();
        let problems: Vec<String> = self.problems.iter().flatten().cloned().collect();
        let state = if self.down {
            StoreState::Down
        } else if rows_spooled > 0 || !problems.is_empty() || self.spool.over_limit {
            StoreState::Degraded
        } else if self.schema_ok.iter().all(|ok| *ok) {
            StoreState::Ok
        } else {
            StoreState::Degraded
        };
        let oldest = self
            .spool
            .oldest_at_ms()
            .map(|at| (trademon_protocol::now_ms() - at).max(0) as u64)
            .unwrap_or(0);
        StoreHealth {
            state,
            rows_spooled,
            oldest_spooled_age_ms: oldest,
            last_error: self.last_error.clone(),
            rows_written_per_s: if elapsed >= Duration::from_secs(1) {
                self.rate.2
            } else {
                rate
            },
            dropped: self.dropped
                + self.spool.corrupt
                + self.shared.dropped.load(Ordering::Relaxed),
            quarantined: self.quarantine.count,
            schema_problems: problems,
        }
    }

    fn publish(&mut self, force: bool) {
        let now = Instant::now();
        if !force && now.duration_since(self.last_publish) < Duration::from_millis(100) {
            return;
        }
        self.last_publish = now;
        let h = self.snapshot();
        self.health.send_if_modified(|cur| {
            if *cur != h {
                *cur = h;
                true
            } else {
                false
            }
        });
    }
}

fn actual_columns(ds: &super::exec::Dataset) -> Vec<schema::ActualColumn> {
    let (Some(c), Some(ty)) = (ds.col("column"), ds.col("type")) else {
        return Vec::new();
    };
    let key = ds.col("upsertKey");
    let des = ds.col("designated");
    let as_bool = |r: &Vec<serde_json::Value>, i: Option<usize>| {
        i.and_then(|i| r.get(i))
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    };
    ds.rows
        .iter()
        .map(|r| schema::ActualColumn {
            name: r
                .get(c)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            ty: r
                .get(ty)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            upsert_key: as_bool(r, key),
            designated: as_bool(r, des),
        })
        .collect()
}
