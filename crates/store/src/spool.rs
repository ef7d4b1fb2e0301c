//! The durable spool: rows that could not be written yet, as NDJSON segment files per table
//! (`<spool_dir>/<table>/<id>.ndjson`, one `{"at":<spooled ms>,"row":{...}}` per line).
//!
//! Typed rows (not ILP bytes) are kept so buffers can be rebuilt by any client version. One
//! queue per table keeps per-table order, lets a held table (schema problem) wait while the
//! others drain, and makes "drop the oldest market data first" a matter of deleting the oldest
//! market segment. Segment ids are global and increasing, so "oldest" compares across tables.
//!
//! Replay re-reads a whole segment and deletes it only when every row of it was written; a crash
//! in between replays the segment again, which DEDUP makes harmless. A torn last line (the
//! process died mid-write) is skipped and counted, never fatal.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::rows::{Priority, StoreRow, Table};
use crate::config::FsyncPolicy;

#[derive(Serialize)]
struct LineOut<'a> {
    at: i64,
    row: &'a StoreRow,
}

#[derive(Deserialize)]
struct LineIn {
    at: i64,
    row: StoreRow,
}

#[derive(Debug)]
struct Segment {
    id: u64,
    path: PathBuf,
    /// Valid rows in the file.
    rows: u64,
    /// Rows already written (only for the loaded front segment).
    done: u64,
    bytes: u64,
    first_at_ms: i64,
}

#[derive(Debug, Default)]
struct TableSpool {
    /// Oldest first; the open segment, if any, is the last.
    segments: VecDeque<Segment>,
    writer: Option<BufWriter<File>>,
    /// Rows of the front segment not yet acknowledged, once it has been loaded for replay.
    replay: VecDeque<StoreRow>,
    loaded: bool,
}

impl TableSpool {
    fn pending_rows(&self) -> u64 {
        self.segments.iter().map(|s| s.rows - s.done).sum()
    }
}

/// What an append did beyond writing.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct AppendOutcome {
    pub written: u64,
    /// Rows lost: older market segments deleted for room, or new market rows refused.
    pub dropped: u64,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    seg_max_bytes: u64,
    fsync: FsyncPolicy,
    next_id: u64,
    tables: Vec<TableSpool>,
    total_bytes: u64,
    /// Lines that could not be read back (torn tail after a crash, foreign format).
    pub corrupt: u64,
    /// Critical rows were kept although the spool is over its bound.
    pub over_limit: bool,
}

fn seg_name(id: u64) -> String {
    format!("{id:020}.ndjson")
}

impl Spool {
    /// Open (creating the directories) and index what a previous run left behind.
    pub fn open(dir: &Path, max_bytes: u64, fsync: FsyncPolicy) -> io::Result<Spool> {
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            seg_max_bytes: (max_bytes / 16).clamp(4096, 16 * 1024 * 1024),
            fsync,
            next_id: 1,
            tables: Table::ALL.iter().map(|_| TableSpool::default()).collect(),
            total_bytes: 0,
            corrupt: 0,
            over_limit: false,
        };
        for t in Table::ALL {
            let tdir = dir.join(t.name());
            fs::create_dir_all(&tdir)?;
            let mut files: Vec<(u64, PathBuf)> = fs::read_dir(&tdir)?
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let p = e.path();
                    let id = p
                        .file_name()?
                        .to_str()?
                        .strip_suffix(".ndjson")?
                        .parse()
                        .ok()?;
                    Some((id, p))
                })
                .collect();
            files.sort();
            for (id, path) in files {
                let data = fs::read(&path)?;
                let (rows, corrupt, first_at) = parse_lines(&data, |_, _| {});
                spool.corrupt += corrupt;
                spool.next_id = spool.next_id.max(id + 1);
                if rows == 0 {
                    // Nothing replayable in it (an empty or fully torn segment).
                    let _ = fs::remove_file(&path);
                    continue;
                }
                spool.total_bytes += data.len() as u64;
                spool.tables[t.index()].segments.push_back(Segment {
                    id,
                    path,
                    rows,
                    done: 0,
                    bytes: data.len() as u64,
                    first_at_ms: first_at.unwrap_or(0),
                });
            }
        }
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn rows(&self, t: Table) -> u64 {
        self.tables[t.index()].pending_rows()
    }

    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(TableSpool::pending_rows).sum()
    }

    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// When the oldest pending row was spooled (wall clock ms).
    pub fn oldest_at_ms(&self) -> Option<i64> {
        self.tables
            .iter()
            .filter_map(|t| t.segments.iter().find(|s| s.rows > s.done))
            .map(|s| s.first_at_ms)
            .min()
    }

    /// Append rows at the back of their tables' queues, making room per the priority rules.
    pub fn append(&mut self, rows: &[StoreRow], now_ms: i64) -> io::Result<AppendOutcome> {
        let mut out = AppendOutcome::default();
        let mut touched = [false; Table::COUNT];
        let mut line = Vec::with_capacity(256);
        for row in rows {
            line.clear();
            serde_json::to_writer(&mut line, &LineOut { at: now_ms, row })
                .map_err(io::Error::other)?;
            line.push(b'\n');
            let t = row.table();
            let need = line.len() as u64;
            if self.total_bytes + need > self.max_bytes {
                out.dropped += self.make_room(need);
            }
            if self.total_bytes + need > self.max_bytes {
                if t.priority() == Priority::Critical {
                    // Never drop the trading record: exceed the bound and say so in health.
                    self.over_limit = true;
                } else {
                    out.dropped += 1;
                    continue;
                }
            }
            self.write_line(t, &line, now_ms)?;
            touched[t.index()] = true;
            out.written += 1;
            if self.fsync == FsyncPolicy::Always {
                self.sync_table(t)?;
            }
        }
        for t in Table::ALL {
            if touched[t.index()] {
                match self.fsync {
                    FsyncPolicy::Batch => self.sync_table(t)?,
                    // Flushing to the OS is enough to survive a process kill.
                    _ => self.flush_table(t)?,
                }
            }
        }
        Ok(out)
    }

    fn write_line(&mut self, t: Table, line: &[u8], now_ms: i64) -> io::Result<()> {
        let need = line.len() as u64;
        let rotate = match self.tables[t.index()].segments.back() {
            Some(s) => {
                self.tables[t.index()].writer.is_none() || s.bytes + need > self.seg_max_bytes
            }
            None => true,
        };
        if rotate {
            self.flush_table(t)?;
            let id = self.next_id;
            self.next_id += 1;
            let path = self.dir.join(t.name()).join(seg_name(id));
            let file = OpenOptions::new()
                .create_new(true)
                .append(true)
                .open(&path)?;
            if self.fsync != FsyncPolicy::Never {
                // Make the new directory entry durable too.
                if let Ok(d) = File::open(self.dir.join(t.name())) {
                    let _ = d.sync_all();
                }
            }
            let ts = &mut self.tables[t.index()];
            ts.writer = Some(BufWriter::with_capacity(64 * 1024, file));
            ts.segments.push_back(Segment {
                id,
                path,
                rows: 0,
                done: 0,
                bytes: 0,
                first_at_ms: now_ms,
            });
        }
        let ts = &mut self.tables[t.index()];
        if let Some(w) = ts.writer.as_mut() {
            w.write_all(line)?;
        }
        if let Some(s) = ts.segments.back_mut() {
            s.rows += 1;
            s.bytes += need;
        }
        self.total_bytes += need;
        Ok(())
    }

    fn flush_table(&mut self, t: Table) -> io::Result<()> {
        if let Some(w) = self.tables[t.index()].writer.as_mut() {
            w.flush()?;
        }
        Ok(())
    }

    fn sync_table(&mut self, t: Table) -> io::Result<()> {
        if let Some(w) = self.tables[t.index()].writer.as_mut() {
            w.flush()?;
            w.get_ref().sync_data()?;
        }
        Ok(())
    }

    /// Delete the oldest droppable segments until `need` more bytes fit. Returns rows dropped.
    fn make_room(&mut self, need: u64) -> u64 {
        let mut dropped = 0;
        while self.total_bytes + need > self.max_bytes {
            let victim = [Priority::Market, Priority::Diagnostic]
                .into_iter()
                .find_map(|p| {
                    Table::ALL
                        .into_iter()
                        .filter(|t| t.priority() == p)
                        .filter_map(|t| self.tables[t.index()].segments.front().map(|s| (s.id, t)))
                        .min()
                });
            let Some((_, t)) = victim else { break };
            dropped += self.drop_front(t);
        }
        dropped
    }

    fn drop_front(&mut self, t: Table) -> u64 {
        let ts = &mut self.tables[t.index()];
        let Some(seg) = ts.segments.pop_front() else {
            return 0;
        };
        if ts.segments.is_empty() {
            // It was the open segment: the next append starts a new one.
            ts.writer = None;
        }
        ts.replay.clear();
        ts.loaded = false;
        let _ = fs::remove_file(&seg.path);
        self.total_bytes = self.total_bytes.saturating_sub(seg.bytes);
        seg.rows - seg.done
    }

    /// Up to `max` of the oldest pending rows of `t`, without removing them (see [`Spool::ack`]).
    pub fn peek(&mut self, t: Table, max: usize) -> io::Result<Vec<StoreRow>> {
        self.load_front(t)?;
        Ok(self.tables[t.index()]
            .replay
            .iter()
            .take(max)
            .cloned()
            .collect())
    }

    fn load_front(&mut self, t: Table) -> io::Result<()> {
        if self.tables[t.index()].loaded {
            return Ok(());
        }
        let open_is_front = self.tables[t.index()].segments.len() == 1;
        if open_is_front {
            // Seal the open segment before reading it: later appends go to a new one.
            self.flush_table(t)?;
            self.tables[t.index()].writer = None;
        }
        let ts = &mut self.tables[t.index()];
        let Some(seg) = ts.segments.front_mut() else {
            return Ok(());
        };
        let data = fs::read(&seg.path)?;
        let mut replay = VecDeque::new();
        let (rows, _, _) = parse_lines(&data, |_, row| replay.push_back(row));
        // A line that went bad on disk since open: account for it so counts reach zero.
        let lost = seg.rows.saturating_sub(rows);
        seg.rows = rows;
        ts.replay = replay;
        ts.loaded = true;
        self.corrupt += lost;
        Ok(())
    }

    /// Outcome of the rows returned by `peek`: `done[i]` means row i was written or
    /// quarantined and is forgotten; the others stay at the front, in order. The segment file
    /// is deleted once all of it is done.
    pub fn ack(&mut self, t: Table, done: &[bool]) {
        let ts = &mut self.tables[t.index()];
        let n = done.len().min(ts.replay.len());
        let mut kept = VecDeque::with_capacity(ts.replay.len());
        let mut finished = 0u64;
        for (i, row) in ts.replay.drain(..).enumerate() {
            if i < n && done[i] {
                finished += 1;
            } else {
                kept.push_back(row);
            }
        }
        ts.replay = kept;
        let Some(seg) = ts.segments.front_mut() else {
            return;
        };
        seg.done += finished;
        if ts.loaded && ts.replay.is_empty() {
            let seg_bytes = seg.bytes;
            let path = seg.path.clone();
            ts.segments.pop_front();
            ts.loaded = false;
            let _ = fs::remove_file(path);
            self.total_bytes = self.total_bytes.saturating_sub(seg_bytes);
        }
    }

    /// Force everything to disk (shutdown).
    pub fn sync_all(&mut self) -> io::Result<()> {
        for t in Table::ALL {
            self.sync_table(t)?;
        }
        Ok(())
    }
}

/// Parse NDJSON spool lines, calling `f` for each valid row. Returns (valid rows, bad lines,
/// first spool time). A last line without `\n` is a torn write and counts as bad.
fn parse_lines(data: &[u8], mut f: impl FnMut(i64, StoreRow)) -> (u64, u64, Option<i64>) {
    let mut rows = 0;
    let mut bad = 0;
    let mut first = None;
    let mut rest = data;
    while !rest.is_empty() {
        let (line, next, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..], true),
            None => (rest, &rest[rest.len()..], false),
        };
        rest = next;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<LineIn>(line) {
            Ok(l) if complete => {
                rows += 1;
                first.get_or_insert(l.at);
                f(l.at, l.row);
            }
            _ => bad += 1,
        }
    }
    (rows, bad, first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(id: i64) -> StoreRow {
        StoreRow::Trade {
            symbol: "BTC_USDT".into(),
            trade_id: id,
            price: 1.0,
            qty: 2.0,
            side: "BUY".into(),
            ts_ms: 1_700_000_000_000 + id,
        }
    }

    fn signal(id: i64) -> StoreRow {
        StoreRow::Signal {
            session: "s".into(),
            symbol: "BTC_USDT".into(),
            signal_id: id,
            side: "SELL".into(),
            kind: "entry".into(),
            price: 1.0,
            reason: "r".into(),
            ts_ms: 1_700_000_000_000 + id,
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("trademon-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn rows_come_back_in_order_across_restart_and_a_torn_tail() {
        let dir = tmp("order");
        let mut s = Spool::open(&dir, 1 << 20, FsyncPolicy::Batch).unwrap();
        let rows: Vec<_> = (0..10).map(trade).collect();
        s.append(&rows, 5).unwrap();
        assert_eq!(s.total_rows(), 10);
        drop(s);
        // A torn write after the last complete line.
        let seg = fs::read_dir(dir.join("trades"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"{\"at\":5,\"row\":{\"t\":\"tra").unwrap();
        let mut s = Spool::open(&dir, 1 << 20, FsyncPolicy::Batch).unwrap();
        assert_eq!(s.corrupt, 1);
        assert_eq!(s.total_rows(), 10);
        assert_eq!(s.oldest_at_ms(), Some(5));
        let got = s.peek(Table::Trades, 4).unwrap();
        assert_eq!(got, rows[..4]);
        s.ack(Table::Trades, &[true; 4]);
        let got = s.peek(Table::Trades, 100).unwrap();
        assert_eq!(got, rows[4..]);
        s.ack(Table::Trades, &[true; 6]);
        assert_eq!(s.total_rows(), 0);
        assert_eq!(s.total_bytes(), 0);
        assert_eq!(fs::read_dir(dir.join("trades")).unwrap().count(), 0);
    }

    #[test]
    fn full_spool_drops_oldest_market_data_and_keeps_signals() {
        let dir = tmp("full");
        let mut s = Spool::open(&dir, 64 * 1024, FsyncPolicy::Never).unwrap();
        let mut dropped = 0;
        for i in 0..2000 {
            dropped += s.append(&[trade(i)], 1).unwrap().dropped;
            if i % 10 == 0 {
                dropped += s.append(&[signal(i)], 1).unwrap().dropped;
            }
        }
        assert!(dropped > 0);
        assert_eq!(s.rows(Table::Signals), 200);
        assert!(s.total_bytes() <= 64 * 1024);
        // The newest trades survived, the oldest went.
        let first = s.peek(Table::Trades, 1).unwrap();
        assert!(matches!(first[0], StoreRow::Trade { trade_id, .. } if trade_id > 0));
        assert_eq!(s.rows(Table::Trades) + dropped, 2000);
    }
}
