//! The render thread: owns the terminal and draws the latest state it was given.
//!
//! Terminal writes block when the SSH send window is full; on their own OS thread they stall
//! neither input nor data. The event loop sends a state snapshot only when something changed
//! and only after the renderer said `Ready`, so at most `fps` snapshots are cloned per second
//! and a slow terminal drops intermediate states instead of queueing them.

use super::app::App;
use super::terminal::Term;
use super::view::view;
use crate::record::tee::Capture;
use crate::record::{Tap, cast};
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What the render thread tells the event loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderEvent {
    /// A frame was drawn and the frame interval has passed: send the next state if dirty.
    Ready,
    /// Writing to the terminal failed (hang-up, closed pty): the loop must end.
    Failed(String),
}

/// One state to draw. `seq` and `keyframe` come from the recorder (`record::Tap::next_draw`)
/// so the bytes of this frame can be filed with the `draw` record of the same seq.
pub struct RenderJob {
    pub app: Box<App>,
    pub seq: u64,
    /// Also produce the whole screen as bytes (a recording or flight segment starts here).
    pub keyframe: bool,
}

pub struct Renderer {
    frames: Option<std_mpsc::Sender<RenderJob>>,
    thread: Option<JoinHandle<()>>,
    done: std_mpsc::Receiver<()>,
}

impl Renderer {
    /// Start the thread. Events come back on the returned receiver. With a `tap`, each
    /// frame's bytes go to it (recordings, flight recorder).
    pub fn spawn(
        terminal: Term,
        fps: u32,
        tap: Option<(Arc<Tap>, Capture)>,
    ) -> io::Result<(Renderer, mpsc::UnboundedReceiver<RenderEvent>)> {
        let (frame_tx, frame_rx) = std_mpsc::channel::<RenderJob>();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = std_mpsc::channel();
        let interval = Duration::from_secs_f64(1.0 / f64::from(fps.max(1)));
        let thread = std::thread::Builder::new()
            .name("tui-render".into())
            .spawn(move || {
                render_loop(terminal, frame_rx, event_tx, interval, tap);
                let _ = done_tx.send(());
            })?;
        Ok((
            Renderer {
                frames: Some(frame_tx),
                thread: Some(thread),
                done: done_rx,
            },
            event_rx,
        ))
    }

    /// Hand over a state to draw. Returns false when the thread is gone.
    pub fn send(&self, job: RenderJob) -> bool {
        self.frames.as_ref().is_some_and(|tx| tx.send(job).is_ok())
    }

    /// Stop the thread and wait for it up to `timeout`: a write blocked on a dead SSH link
    /// must not keep the process from exiting.
    pub fn shutdown(mut self, timeout: Duration) {
        self.frames = None;
        if self.done.recv_timeout(timeout).is_ok()
            && let Some(t) = self.thread.take()
        {
            let _ = t.join();
        }
    }
}

fn render_loop(
    mut terminal: Term,
    frames: std_mpsc::Receiver<RenderJob>,
    events: mpsc::UnboundedSender<RenderEvent>,
    interval: Duration,
    tap: Option<(Arc<Tap>, Capture)>,
) {
    let tap = tap.as_ref().map(|(h, c)| (h.as_ref(), c));
    let failed = render_frames(&mut terminal, &frames, &events, interval, tap);
    // ratatui's Drop shows the cursor and prints to stderr (our terminal) if that fails.
    // After a write error the terminal is gone: skip that. Otherwise show it here.
    if failed || terminal.show_cursor().is_err() {
        std::mem::forget(terminal);
    }
}

/// Draw until the sender is dropped; true when a terminal write failed.
fn render_frames(
    terminal: &mut Term,
    frames: &std_mpsc::Receiver<RenderJob>,
    events: &mpsc::UnboundedSender<RenderEvent>,
    interval: Duration,
    tap: Option<(&Tap, &Capture)>,
) -> bool {
    // Bells written so far; a job whose app counts more rings once (a skipped job's bell is
    // in the next one's count, and a burst was rate-limited in `App` already).
    let mut rung = 0;
    while let Ok(mut job) = frames.recv() {
        // Only the newest state matters (the loop sends one at a time, so this is rare; a
        // skipped job's keyframe request carries over).
        while let Ok(newer) = frames.try_recv() {
            let keyframe = job.keyframe || newer.keyframe;
            job = newer;
            job.keyframe = keyframe;
        }
        let started = Instant::now();
        let bell = job.app.bells() > rung;
        rung = rung.max(job.app.bells());
        if let Err(e) = draw(terminal, &job, bell, tap) {
            let _ = events.send(RenderEvent::Failed(e.to_string()));
            return true;
        }
        // The fps cap: no new frame before the interval is over.
        if let Some(rest) = interval.checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
        if events.send(RenderEvent::Ready).is_err() {
            return false;
        }
    }
    false
}

/// One frame. The backend (`terminal::QuietBackend`) wraps what changed in one synchronized
/// update, so the terminal shows it whole, and sends nothing when nothing changed.
/// `Terminal::draw` flushes the BufWriter once at its end.
/// With a capturing `tap`, the bytes are taken from the `Tee` under the `BufWriter` after the
/// flush, so they are exactly what this frame wrote. `bell`: an alert rang; the BEL byte goes
/// out in the same buffered write as the frame (never println!, which would tear a frame).
pub(crate) fn draw(
    terminal: &mut Term,
    job: &RenderJob,
    bell: bool,
    tap: Option<(&Tap, &Capture)>,
) -> io::Result<()> {
    let capture = tap.is_some_and(|(h, _)| h.capturing());
    if let Some((_, c)) = tap {
        c.set(capture);
    }
    let mut keyframe = None;
    terminal.draw(|frame| {
        view(&job.app, frame);
        if capture && job.keyframe {
            keyframe = Some(cast::keyframe(frame.buffer_mut()));
        }
    })?;
    if bell {
        terminal.backend_mut().write_all(b"\x07")?;
    }
    terminal.backend_mut().flush()?;
    if let Some((tap, c)) = tap.filter(|_| capture) {
        tap.output(job.seq, &c.take(), keyframe.as_deref());
    }
    Ok(())
}
