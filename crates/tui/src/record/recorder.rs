//! The tap every recorded thing goes through: the event loop hands it each `Action` (as a
//! [`Record`]) and the render thread each frame's bytes. It serializes a record once,
//! scrubs it, and fans it out to the flight ring and to the running recording, if
//! any. One mutex orders both threads, so times in a file never go backwards.

use super::bundle::{BundleFiles, BundleWriter};
use super::cast::{self, Header};
use super::events::{self, AppState, Record};
use super::flight::FlightRing;
use super::manifest::{Context, file_stamp};
use crate::App;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use trademon_protocol::now_ms;

/// A recording in progress.
struct Active {
    writer: BundleWriter,
    /// Tap time (ms) when it started.
    start_us: u64,
    /// Frames of earlier draws were already on screen before it started.
    first_seq: u64,
    /// Stop once the frame of this draw is written (it was in flight at stop time).
    stop_after_seq: Option<u64>,
    max_bytes: u64,
}

struct Inner {
    flight: Option<FlightRing>,
    active: Option<Active>,
    /// Seq the next `Draw` gets; frames and resizes are filed by it.
    next_seq: u64,
    /// Newest seq whose bytes arrived from the render thread.
    last_output_seq: Option<u64>,
    /// A recording that ended in the render thread (stop after an in-flight frame) or by
    /// the size cap, for the event loop to report.
    finished: Vec<Result<PathBuf, String>>,
    over_cap: bool,
}

/// Where the TUI's actions and frames are tapped off into the flight ring and the running
/// recording (not the backend's hub, which fans market data out to clients).
pub struct Tap {
    inner: Mutex<Inner>,
    origin: Instant,
    origin_unix_ms: i64,
    ctx: Context,
    /// Set when the next frame must carry a screen keyframe; read by the render thread.
    keyframe_wanted: AtomicBool,
    /// Whether frames are wanted at all (flight on or a recording running).
    capturing: AtomicBool,
}

/// What starting a recording gives back.
pub struct Started {
    pub dir: PathBuf,
    pub since_ms: i64,
}

impl Tap {
    /// `flight`: `(minutes, max_mb)`; minutes 0 turns the flight recorder off.
    pub fn new(ctx: Context, flight: (u64, u64)) -> Tap {
        let ring = (flight.0 > 0).then(|| FlightRing::new(flight.0, flight.1));
        let capturing = ring.is_some();
        Tap {
            inner: Mutex::new(Inner {
                flight: ring,
                active: None,
                next_seq: 0,
                last_output_seq: None,
                finished: Vec::new(),
                over_cap: false,
            }),
            origin: Instant::now(),
            origin_unix_ms: now_ms(),
            ctx,
            keyframe_wanted: AtomicBool::new(false),
            capturing: AtomicBool::new(capturing),
        }
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind: keep recording.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_us(&self) -> u64 {
        self.origin.elapsed().as_micros() as u64
    }

    pub fn capturing(&self) -> bool {
        self.capturing.load(Ordering::Relaxed)
    }

    pub fn recording(&self) -> bool {
        self.lock().active.is_some()
    }

    /// Record one thing the UI was given (or did).
    pub fn record(&self, record: &Record<'_>) {
        let mut g = self.lock();
        if g.flight.is_none() && g.active.is_none() {
            return;
        }
        let body = events::body(record);
        let body = self.ctx.redactor.scrub(&body);
        let t_us = self.now_us();
        let resize = match record {
            Record::Resize { w, h } => Some(cast::resize_json(*w, *h)),
            _ => None,
        };
        let seq = g.next_seq;
        if let Record::Draw { seq } = record {
            g.next_seq = seq + 1;
        }
        let inner = &mut *g;
        if let Some(f) = inner.flight.as_mut() {
            f.push_event(t_us / 1000, &body);
            if let Some(r) = &resize {
                f.push_cast(seq, t_us, 'r', r.clone());
            }
        }
        if let Some(a) = inner.active.as_mut() {
            let rel = t_us.saturating_sub(a.start_us);
            let mut ok = a
                .writer
                .event(&events::with_time(rel / 1000, &body))
                .is_ok();
            if let Some(r) = &resize {
                ok &= a.writer.cast_event(rel, 'r', r).is_ok();
            }
            if !ok || a.writer.bytes() > a.max_bytes {
                inner.over_cap = true;
            }
        }
    }

    /// The seq the next draw gets, and whether its frame must be a keyframe.
    pub fn next_draw(&self) -> (u64, bool) {
        let seq = self.lock().next_seq;
        (seq, self.keyframe_wanted.swap(false, Ordering::Relaxed))
    }

    /// From the render thread: the bytes draw `seq` wrote, and the screen keyframe when one
    /// was asked for.
    pub fn output(&self, seq: u64, bytes: &[u8], keyframe: Option<&[u8]>) {
        let mut g = self.lock();
        let t_us = self.now_us();
        g.last_output_seq = Some(seq);
        let inner = &mut *g;
        let shown = keyframe.unwrap_or(bytes);
        // A frame that changed nothing sent nothing (`terminal::QuietBackend`): no event.
        if shown.is_empty() {
            return;
        }
        if let Some(f) = inner.flight.as_mut() {
            f.push_cast(seq, t_us, 'o', cast::data_json(shown));
        }
        let Some(a) = inner.active.as_mut() else {
            return;
        };
        if seq < a.first_seq {
            return;
        }
        // The first frame of a recording must be whole; after that, exactly what was
        // written.
        let data = if seq == a.first_seq { shown } else { bytes };
        let rel = t_us.saturating_sub(a.start_us);
        if a.writer
            .cast_event(rel, 'o', &cast::data_json(data))
            .is_err()
            || a.writer.bytes() > a.max_bytes
        {
            inner.over_cap = true;
        }
        if a.stop_after_seq.is_some_and(|s| seq >= s) {
            let done = self.finish_active(inner);
            inner.finished.extend(done);
        }
    }

    /// Start a recording into `dir` from `app`'s state. Fails when one runs or `dir` holds
    /// a recording already.
    pub fn start(&self, dir: &Path, app: &App, max_mb: u64) -> Result<Started, String> {
        let mut g = self.lock();
        if g.active.is_some() {
            return Err("a recording is running already".into());
        }
        let unix = now_ms();
        let manifest = self.ctx.manifest("recording", app.size, unix);
        let header = Header::new(app.size, unix, &self.ctx.term, &self.ctx.shell);
        let mut writer = BundleWriter::create(dir, manifest, &header)
            .map_err(|e| format!("cannot record into {}: {e}", dir.display()))?;
        let start = Record::Start {
            now_ms: app.now_ms,
            size: app.size,
            state: Box::new(AppState::of(app)),
        };
        let body = events::body(&start);
        writer
            .event(&events::with_time(0, &self.ctx.redactor.scrub(&body)))
            .map_err(|e| format!("cannot write {}: {e}", dir.display()))?;
        g.active = Some(Active {
            writer,
            start_us: self.now_us(),
            first_seq: g.next_seq,
            stop_after_seq: None,
            max_bytes: max_mb.saturating_mul(1 << 20),
        });
        g.over_cap = false;
        self.keyframe_wanted.store(true, Ordering::Relaxed);
        self.capturing.store(true, Ordering::Relaxed);
        Ok(Started {
            dir: dir.to_path_buf(),
            since_ms: app.now_ms,
        })
    }

    /// Stop the running recording. If the last draw's frame is still being written, the
    /// recording ends right after it (reported through [`Tap::take_finished`]); otherwise
    /// now. Returns the directory when it ended now.
    pub fn stop(&self) -> Option<Result<PathBuf, String>> {
        let mut g = self.lock();
        let last_draw = g.next_seq.checked_sub(1);
        let in_flight = match (last_draw, g.last_output_seq) {
            (Some(d), Some(o)) => o < d,
            (Some(_), None) => true,
            _ => false,
        };
        let a = g.active.as_mut()?;
        if in_flight && last_draw.is_some_and(|d| d >= a.first_seq) {
            a.stop_after_seq = last_draw;
            return None;
        }
        let inner = &mut *g;
        self.finish_active(inner)
    }

    /// End whatever runs (at exit, after the render thread stopped).
    pub fn finish(&self) -> Option<Result<PathBuf, String>> {
        let mut g = self.lock();
        let inner = &mut *g;
        self.finish_active(inner)
    }

    fn finish_active(&self, inner: &mut Inner) -> Option<Result<PathBuf, String>> {
        let mut a = inner.active.take()?;
        self.capturing
            .store(inner.flight.is_some(), Ordering::Relaxed);
        let rel = self.now_us().saturating_sub(a.start_us);
        let _ = a
            .writer
            .event(&events::with_time(rel / 1000, &events::body(&Record::End)));
        let dir = a.writer.dir().display().to_string();
        Some(
            a.writer
                .finish(rel / 1000)
                .map_err(|e| format!("cannot finish {dir}: {e}")),
        )
    }

    /// Recordings that ended outside the event loop's calls.
    pub fn take_finished(&self) -> Vec<Result<PathBuf, String>> {
        std::mem::take(&mut self.lock().finished)
    }

    /// True once when the running recording passed `record.max_recording_mb` or a write
    /// failed: the event loop stops it.
    pub fn take_over_cap(&self) -> bool {
        std::mem::take(&mut self.lock().over_cap)
    }

    /// Periodic upkeep: flush the recording and roll the flight ring over.
    pub fn tick(&self, app: &App) {
        let mut g = self.lock();
        let now = self.now_us() / 1000;
        let next_seq = g.next_seq;
        if let Some(f) = g.flight.as_mut()
            && f.wants_segment(now)
        {
            f.start_segment(now, Box::new(app.clone()), next_seq);
            self.keyframe_wanted.store(true, Ordering::Relaxed);
        }
        if let Some(a) = g.active.as_mut()
            && a.writer.flush().is_err()
        {
            g.over_cap = true;
        }
    }

    /// The flight ring as bundle files. Blocks on the lock.
    pub fn flight_bundle(&self) -> Option<BundleFiles> {
        let g = self.lock();
        g.flight.as_ref()?.bundle(&self.ctx, self.origin_unix_ms)
    }

    /// Like [`Tap::flight_bundle`] but gives up if the lock is held (panic hook: the
    /// panicking thread may hold it).
    pub fn try_flight_bundle(&self) -> Option<BundleFiles> {
        for _ in 0..20 {
            match self.inner.try_lock() {
                Ok(g) => return g.flight.as_ref()?.bundle(&self.ctx, self.origin_unix_ms),
                Err(std::sync::TryLockError::Poisoned(p)) => {
                    return p
                        .into_inner()
                        .flight
                        .as_ref()?
                        .bundle(&self.ctx, self.origin_unix_ms);
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
            }
        }
        None
    }

    pub fn flight_bytes(&self) -> usize {
        self.lock().flight.as_ref().map_or(0, |f| f.bytes())
    }
}

/// A new recording directory under `base`, named by its start time.
pub fn new_recording_dir(base: &Path) -> PathBuf {
    let stamp = file_stamp(now_ms());
    let mut dir = base.join(format!("trademon-rec-{stamp}"));
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = base.join(format!("trademon-rec-{stamp}-{n}"));
    }
    dir
}
