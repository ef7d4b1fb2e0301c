//! The paper journal: each session's paper book (signals, open positions, closed trades and the
//! totals) kept in the data dir so that a restarted backend gives it back.
//!
//! One file of JSON lines, append-only, `fsync`ed after every record: a line is on disk before
//! the hub publishes the event it records, so `kill -9` loses nothing that was shown. Records
//! are what the engine emits (`signal`, `opened`, `closed`, each with its session) plus `book`,
//! a whole session's book written by compaction. Replaying the lines in order rebuilds every
//! book; closing a position id twice, or opening an open one again, changes nothing.
//!
//! Reading never panics: a line that does not parse is skipped with a warning (the usual one
//! is the last line torn by a crash mid-write). On open the file is compacted: rewritten as one
//! `book` line per session (temp file, `fsync`, rename, `fsync` of the directory), which drops
//! torn and bad lines and starts appends on a clean line. A file with bad lines before its end
//! is copied aside first (`<name>.corrupt-<ms>`) so nothing is destroyed unseen. It is also
//! compacted whenever it grows past `data.paper_journal_max_bytes`: books are bounded
//! (`engine.signal_history` signals, `engine.trade_history` closed trades per session), so the
//! file stays bounded too.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use trademon_engine::{EngineEvent, PositionStatus, PositionView, RestoredBook, Signal};

/// Bumped on an incompatible change of the record layout.
pub const VERSION: u32 = 1;

/// Where the journal lives and how big it may grow before compaction.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalSettings {
    pub path: PathBuf,
    pub max_bytes: u64,
    /// `engine.signal_history` / `engine.trade_history`: what a book keeps.
    pub signal_cap: usize,
    pub trade_cap: usize,
}

/// One session's book as written by compaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Book {
    session: String,
    realized_pnl: f64,
    fees_closed: f64,
    signals_total: u64,
    closed_trades: u64,
    winning_trades: u64,
    /// Oldest first.
    signals: VecDeque<Signal>,
    /// Oldest first.
    closed: VecDeque<PositionView>,
    /// By position id.
    open: BTreeMap<u64, PositionView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Record {
    Header { v: u32 },
    Book(Book),
    Signal(Signal),
    Opened(PositionView),
    Closed(PositionView),
}

/// What loading found: each message names the file and line.
pub type Warnings = Vec<String>;

pub struct Journal {
    settings: JournalSettings,
    /// `None` when the file cannot be opened for appending (reported); the books still work.
    file: Option<File>,
    bytes: u64,
    books: BTreeMap<String, Book>,
}

impl Journal {
    /// Loads the journal (no file yet: empty books), compacts it, and opens it for appending.
    /// Problems are warnings, never a failure: the backend runs without history rather than
    /// not at all.
    pub fn open(settings: JournalSettings) -> (Journal, Warnings) {
        let mut warnings = Vec::new();
        let books = load(&settings, &mut warnings);
        let mut j = Journal {
            settings,
            file: None,
            bytes: 0,
            books,
        };
        if let Err(e) = j.compact() {
            warnings.push(format!("paper journal not written: {e}"));
        }
        (j, warnings)
    }

    /// The session's book for `EngineInput::Restore`; `None` when the journal has none.
    pub fn book(&self, session: &str) -> Option<RestoredBook> {
        let b = self.books.get(session)?;
        Some(RestoredBook {
            realized_pnl: b.realized_pnl,
            fees_closed: b.fees_closed,
            signals_total: b.signals_total,
            closed_trades: b.closed_trades,
            winning_trades: b.winning_trades,
            signals: b.signals.iter().cloned().collect(),
            closed: b.closed.iter().cloned().collect(),
            open: b.open.values().cloned().collect(),
        })
    }

    /// Appends what `ev` changes in a paper book (signals, opened and closed positions; nothing
    /// else) and syncs it to disk. An `opened` for a position already open (a restore) is not
    /// written again.
    pub fn record(&mut self, ev: &EngineEvent) -> Result<(), String> {
        let rec = match ev {
            EngineEvent::Signal(s) => Record::Signal(s.clone()),
            EngineEvent::PositionOpened(p) => {
                let known = self
                    .books
                    .get(&p.session)
                    .is_some_and(|b| b.open.contains_key(&p.id));
                if known {
                    return Ok(());
                }
                Record::Opened(p.clone())
            }
            EngineEvent::PositionClosed(p) => Record::Closed(p.clone()),
            _ => return Ok(()),
        };
        apply(&mut self.books, rec.clone(), &self.settings);
        self.append(&rec)?;
        if self.bytes > self.settings.max_bytes {
            self.compact()?;
        }
        Ok(())
    }

    fn append(&mut self, rec: &Record) -> Result<(), String> {
        let path = &self.settings.path;
        let Some(file) = self.file.as_mut() else {
            return Err(format!("{} is not open for writing", path.display()));
        };
        let mut line = serde_json::to_string(rec).map_err(|e| e.to_string())?;
        line.push('\n');
        file.write_all(line.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("cannot append to {}: {e}", path.display()))?;
        self.bytes += line.len() as u64;
        Ok(())
    }

    /// Rewrites the file as a header and one `book` line per session, atomically, and reopens
    /// it for appending.
    fn compact(&mut self) -> Result<(), String> {
        let path = self.settings.path.clone();
        self.file = None;
        let mut text = line(&Record::Header { v: VERSION })?;
        for b in self.books.values() {
            text.push_str(&line(&Record::Book(b.clone()))?);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let tmp = path.with_extension("jsonl.tmp");
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
        written.map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        // The rename is durable only once the directory entry is.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.file = Some(file);
        self.bytes = text.len() as u64;
        Ok(())
    }
}

fn line(rec: &Record) -> Result<String, String> {
    let mut s = serde_json::to_string(rec).map_err(|e| e.to_string())?;
    s.push('\n');
    Ok(s)
}

fn bounded_push<T>(q: &mut VecDeque<T>, x: T, cap: usize) {
    q.push_back(x);
    while q.len() > cap.max(1) {
        q.pop_front();
    }
}

fn book_mut<'a>(books: &'a mut BTreeMap<String, Book>, session: &str) -> &'a mut Book {
    books.entry(session.to_string()).or_insert_with(|| Book {
        session: session.to_string(),
        ..Book::default()
    })
}

fn apply(books: &mut BTreeMap<String, Book>, rec: Record, s: &JournalSettings) {
    match rec {
        Record::Header { .. } => {}
        Record::Book(b) => {
            books.insert(b.session.clone(), b);
        }
        Record::Signal(sig) => {
            let b = book_mut(books, &sig.session);
            b.signals_total += 1;
            bounded_push(&mut b.signals, sig, s.signal_cap);
        }
        Record::Opened(p) if p.status == PositionStatus::Open => {
            book_mut(books, &p.session).open.insert(p.id, p);
        }
        Record::Closed(p) if p.status == PositionStatus::Closed => {
            let b = book_mut(books, &p.session);
            b.open.remove(&p.id);
            if !b.closed.iter().any(|c| c.id == p.id) {
                b.realized_pnl += p.realized_pnl;
                b.fees_closed += p.fees;
                b.closed_trades += 1;
                if p.realized_pnl > 0.0 {
                    b.winning_trades += 1;
                }
                bounded_push(&mut b.closed, p, s.trade_cap);
            }
        }
        // An `opened` that is not open or a `closed` that is not closed is not a book change.
        Record::Opened(_) | Record::Closed(_) => {}
    }
}

/// Reads every line it can. A bad line is skipped with a warning; bad lines before the last
/// one get the file copied aside before compaction rewrites it.
fn load(s: &JournalSettings, warnings: &mut Warnings) -> BTreeMap<String, Book> {
    let mut books = BTreeMap::new();
    let path = &s.path;
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return books,
        Err(e) => {
            warnings.push(format!(
                "cannot read the paper journal {}: {e}; starting without paper history",
                path.display()
            ));
            return books;
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.split('\n').collect();
    // A file ending in '\n' splits into a final empty piece; anything else there was torn.
    let last = lines.len().saturating_sub(1);
    let mut bad_inside = 0usize;
    for (i, raw) in lines.iter().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(raw) {
            Ok(Record::Header { v }) if v != VERSION => {
                warnings.push(format!(
                    "{} has version {v}, this build reads version {VERSION}; starting without paper history",
                    path.display()
                ));
                keep_aside(path, "version", warnings);
                return BTreeMap::new();
            }
            Ok(rec) => apply(&mut books, rec, s),
            Err(e) if i == last => warnings.push(format!(
                "{} line {}: torn last record skipped ({e}); the write it held was cut short",
                path.display(),
                i + 1
            )),
            Err(e) => {
                bad_inside += 1;
                warnings.push(format!(
                    "{} line {}: unreadable record skipped ({e})",
                    path.display(),
                    i + 1
                ));
            }
        }
    }
    if bad_inside > 0 {
        keep_aside(path, "corrupt", warnings);
    }
    books
}

fn keep_aside(path: &Path, why: &str, warnings: &mut Warnings) {
    let aside = PathBuf::from(format!(
        "{}.{why}-{}",
        path.display(),
        trademon_protocol::now_ms()
    ));
    match std::fs::copy(path, &aside) {
        Ok(_) => warnings.push(format!("the original is kept as {}", aside.display())),
        Err(e) => warnings.push(format!("cannot keep a copy as {}: {e}", aside.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trademon_engine::{Direction, SignalKind, SignalSide};

    fn settings(dir: &Path) -> JournalSettings {
        JournalSettings {
            path: dir.join("paper-journal.jsonl"),
            max_bytes: 1 << 20,
            signal_cap: 3,
            trade_cap: 2,
        }
    }

    fn signal(id: u64, at_ms: i64) -> Signal {
        Signal {
            id,
            session: "s1".into(),
            symbol: "BTC_USDT".into(),
            side: SignalSide::Buy,
            kind: SignalKind::Entry,
            price: 100_000.5,
            reason: "all entry conditions met".into(),
            at_ms,
        }
    }

    fn position(id: u64, status: PositionStatus, realized: f64) -> PositionView {
        let closed = status == PositionStatus::Closed;
        PositionView {
            id,
            session: "s1".into(),
            symbol: "BTC_USDT".into(),
            direction: Direction::Short,
            status,
            size_quote: 100.0,
            quantity: 0.001,
            leverage: 50.0,
            margin: 2.0,
            entry_price: 100_000.0,
            mark_price: 100_100.0,
            unrealized_pnl: 0.0,
            realized_pnl: realized,
            fees: 0.12,
            pnl_pct: realized / 2.0 * 100.0,
            liquidation_price: 101_500.0,
            liquidation_distance_pct: 1.4,
            opened_at_ms: 1_000,
            closed_at_ms: closed.then_some(2_000),
            exit_price: closed.then_some(99_000.0),
            close_reason: closed.then(|| "pnl_pct >= 3".to_string()),
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "trademon-journal-{name}-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn round_trip_restores_books_with_totals_and_bounds() {
        let dir = tmp("round");
        let (mut j, w) = Journal::open(settings(&dir));
        assert!(w.is_empty(), "{w:?}");
        for (i, r) in [(1, 0.9), (2, -0.4), (3, 0.2)] {
            j.record(&EngineEvent::Signal(signal(i, i as i64))).unwrap();
            j.record(&EngineEvent::PositionOpened(position(
                i,
                PositionStatus::Open,
                0.0,
            )))
            .unwrap();
            j.record(&EngineEvent::PositionClosed(position(
                i,
                PositionStatus::Closed,
                r,
            )))
            .unwrap();
        }
        j.record(&EngineEvent::Signal(signal(4, 4))).unwrap();
        j.record(&EngineEvent::PositionOpened(position(
            4,
            PositionStatus::Open,
            0.0,
        )))
        .unwrap();
        // A restore re-emits `opened` for an open position: not a second record.
        let before = std::fs::read_to_string(&settings(&dir).path).unwrap();
        j.record(&EngineEvent::PositionOpened(position(
            4,
            PositionStatus::Open,
            0.0,
        )))
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&settings(&dir).path).unwrap(),
            before
        );
        // Events that are no book change are not written.
        j.record(&EngineEvent::IndicatorsChanged { symbol: "X".into() })
            .unwrap();
        let want = j.book("s1").unwrap();
        drop(j);

        let (j, w) = Journal::open(settings(&dir));
        assert!(w.is_empty(), "{w:?}");
        let b = j.book("s1").unwrap();
        assert_eq!(b, want);
        assert!((b.realized_pnl - 0.7).abs() < 1e-12);
        assert!((b.fees_closed - 0.36).abs() < 1e-12);
        assert_eq!(
            (b.signals_total, b.closed_trades, b.winning_trades),
            (4, 3, 2)
        );
        // Bounded: the newest 3 signals and 2 closed trades, oldest first.
        assert_eq!(
            b.signals.iter().map(|s| s.id).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        assert_eq!(b.closed.iter().map(|c| c.id).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(b.open, vec![position(4, PositionStatus::Open, 0.0)]);
        assert!(j.book("other").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn torn_last_record_is_skipped_with_a_warning() {
        let dir = tmp("torn");
        let s = settings(&dir);
        let (mut j, _) = Journal::open(s.clone());
        j.record(&EngineEvent::Signal(signal(1, 1))).unwrap();
        j.record(&EngineEvent::PositionClosed(position(
            1,
            PositionStatus::Closed,
            0.5,
        )))
        .unwrap();
        drop(j);
        // A crash cut the next record short.
        let whole = line(&Record::Signal(signal(2, 2))).unwrap();
        let mut f = OpenOptions::new().append(true).open(&s.path).unwrap();
        f.write_all(&whole.as_bytes()[..whole.len() / 2]).unwrap();
        drop(f);

        let (mut j, w) = Journal::open(s.clone());
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("torn last record"), "{w:?}");
        let b = j.book("s1").unwrap();
        assert_eq!(b.signals.len(), 1);
        assert_eq!(b.closed_trades, 1);
        // Compaction left a clean file: the next append reads back.
        j.record(&EngineEvent::Signal(signal(3, 3))).unwrap();
        drop(j);
        let (j, w) = Journal::open(s.clone());
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(j.book("s1").unwrap().signals.len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn garbage_inside_is_skipped_and_kept_aside_never_a_panic() {
        let dir = tmp("garbage");
        let s = settings(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let good = line(&Record::Signal(signal(1, 1))).unwrap();
        let text = format!(
            "{{\"t\":\"header\",\"v\":1}}\nnot json\n\u{0}\u{ff}\n{good}{{\"t\":\"closed\",\"id\":\"x\"}}\n"
        );
        std::fs::write(&s.path, text).unwrap();
        let (j, w) = Journal::open(s.clone());
        assert_eq!(j.book("s1").unwrap().signals.len(), 1);
        assert!(w.iter().any(|m| m.contains("line 2")), "{w:?}");
        assert!(w.iter().any(|m| m.contains("kept as")), "{w:?}");
        // A journal from a newer build is not read (and not destroyed).
        std::fs::write(&s.path, "{\"t\":\"header\",\"v\":99}\n").unwrap();
        let (j, w) = Journal::open(s.clone());
        assert!(j.book("s1").is_none());
        assert!(w.iter().any(|m| m.contains("version 99")), "{w:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn compaction_bounds_the_file() {
        let dir = tmp("compact");
        let s = JournalSettings {
            max_bytes: 4_000,
            ..settings(&dir)
        };
        let (mut j, _) = Journal::open(s.clone());
        for i in 1..=200 {
            j.record(&EngineEvent::Signal(signal(i, i as i64))).unwrap();
            j.record(&EngineEvent::PositionClosed(position(
                i,
                PositionStatus::Closed,
                1.0,
            )))
            .unwrap();
        }
        let len = std::fs::metadata(&s.path).unwrap().len();
        assert!(len <= 4_000 + 2_000, "journal is {len} bytes");
        let b = j.book("s1").unwrap();
        assert_eq!((b.signals_total, b.closed_trades), (200, 200));
        drop(j);
        let (j, _) = Journal::open(s);
        assert_eq!(j.book("s1").unwrap().closed_trades, 200);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
