//! The render thread: owns the terminal and draws the latest state it was given.
//!
//! Terminal writes block when the SSH send window is full; on their own OS thread they stall
//! neither input nor data. The event loop sends a state snapshot only when something changed
//! and only after the renderer said `Ready`, so at most `fps` snapshots are cloned per second
//! and a slow terminal drops intermediate states instead of queueing them.

use super::app::App;
use super::terminal::Term;
use super::view::view;
use crossterm::queue;
use crossterm::terminal::{BeginSynchronizedUpdate, EndSynchronizedUpdate};
use std::io::{self, Write};
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

pub struct Renderer {
    frames: Option<std_mpsc::Sender<Box<App>>>,
    thread: Option<JoinHandle<()>>,
    done: std_mpsc::Receiver<()>,
}

impl Renderer {
    /// Start the thread. Events come back on the returned receiver.
    pub fn spawn(
        terminal: Term,
        fps: u32,
    ) -> io::Result<(Renderer, mpsc::UnboundedReceiver<RenderEvent>)> {
        let (frame_tx, frame_rx) = std_mpsc::channel::<Box<App>>();
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = std_mpsc::channel();
        let interval = Duration::from_secs_f64(1.0 / f64::from(fps.max(1)));
        let thread = std::thread::Builder::new()
            .name("tui-render".into())
            .spawn(move || {
                render_loop(terminal, frame_rx, event_tx, interval);
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
    pub fn send(&self, app: Box<App>) -> bool {
        self.frames.as_ref().is_some_and(|tx| tx.send(app).is_ok())
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
    frames: std_mpsc::Receiver<Box<App>>,
    events: mpsc::UnboundedSender<RenderEvent>,
    interval: Duration,
) {
    let failed = render_frames(&mut terminal, &frames, &events, interval);
    // ratatui's Drop shows the cursor and prints to stderr (our terminal) if that fails.
    // After a write error the terminal is gone: skip that. Otherwise show it here.
    if failed || terminal.show_cursor().is_err() {
        std::mem::forget(terminal);
    }
}

/// Draw until the sender is dropped; true when a terminal write failed.
fn render_frames(
    terminal: &mut Term,
    frames: &std_mpsc::Receiver<Box<App>>,
    events: &mpsc::UnboundedSender<RenderEvent>,
    interval: Duration,
) -> bool {
    while let Ok(mut app) = frames.recv() {
        // Only the newest state matters.
        while let Ok(newer) = frames.try_recv() {
            app = newer;
        }
        let started = Instant::now();
        if let Err(e) = draw(terminal, &app) {
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

/// One frame between BeginSynchronizedUpdate and EndSynchronizedUpdate, so the terminal shows
/// it whole, never half-drawn. `Terminal::draw` flushes the BufWriter once at its end.
fn draw(terminal: &mut Term, app: &App) -> io::Result<()> {
    queue!(terminal.backend_mut(), BeginSynchronizedUpdate)?;
    terminal.draw(|frame| view(app, frame))?;
    queue!(terminal.backend_mut(), EndSynchronizedUpdate)?;
    terminal.backend_mut().flush()
}
