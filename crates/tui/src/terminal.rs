//! Terminal setup and restore, safe to call from any exit path (normal return, error, panic,
//! signal). Restore is idempotent and ignores write errors: on a hung-up tty there is nobody
//! to tell, and retrying writes there is how programs end up spinning.

use crate::record::tee::{Capture, Tee};
use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode,
    enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};

mod quiet;
pub use quiet::QuietBackend;

/// Batch a frame into few `write(2)` calls; over SSH each one is a packet.
pub const WRITE_BUFFER: usize = 64 * 1024;

/// The `Tee` below the `BufWriter` sees exactly the bytes each frame sends to the terminal
/// (for recordings, `record::tee`).
/// The sink is boxed so benchmarks and tests can draw the real pipeline into memory; the
/// dynamic call happens once per `BufWriter` flush, about once per frame.
/// `QuietBackend`: a frame that changes nothing sends nothing.
pub type Term = Terminal<QuietBackend<CrosstermBackend<BufWriter<Tee<Box<dyn Write + Send>>>>>>;

/// Whether we changed the terminal and owe it a restore.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Raw mode, alternate screen, hidden cursor. On failure the terminal is restored first.
/// The `Capture` gives the render thread each frame's bytes for recordings.
pub fn setup() -> io::Result<(Term, Capture)> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let result = (|| {
        let tee = Tee::new(Box::new(io::stdout()) as Box<dyn Write + Send>);
        let capture = tee.capture();
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, tee);
        execute!(out, EnterAlternateScreen, Hide)?;
        Ok((
            Terminal::new(QuietBackend::new(CrosstermBackend::new(out)))?,
            capture,
        ))
    })();
    if result.is_err() {
        restore();
    }
    result
}

/// A terminal drawing into `out` at a fixed size, with no tty (benchmarks, tests).
pub fn headless(out: Box<dyn Write + Send>, size: (u16, u16)) -> io::Result<(Term, Capture)> {
    let tee = Tee::new(out);
    let capture = tee.capture();
    let backend = QuietBackend::new(CrosstermBackend::new(BufWriter::with_capacity(
        WRITE_BUFFER,
        tee,
    )));
    let viewport = ratatui::Viewport::Fixed(ratatui::layout::Rect::new(0, 0, size.0, size.1));
    let term = Terminal::with_options(backend, ratatui::TerminalOptions { viewport })?;
    Ok((term, capture))
}

/// Leave raw mode and the alternate screen and show the cursor again. Only the first call
/// after `setup` does anything.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = disable_raw_mode();
    let mut out = io::stdout();
    // End a synchronized update a panic may have left open, or the terminal stays frozen.
    let _ = execute!(out, EndSynchronizedUpdate, LeaveAlternateScreen, Show);
}

/// color-eyre's panic and error hooks, with the panic hook wrapped to restore the terminal
/// before it prints (a report written into the alternate screen in raw mode is lost).
/// A panic anywhere ends the process: otherwise a dead task could leave the UI running on a
/// restored, cooked terminal. It takes the place of the hook `telemetry::init` installed and
/// does that hook's part itself (the panic goes to the logs), without its second report on
/// the terminal.
/// How the binary writes out buffered log lines; the panic hook calls it before `exit`, which
/// runs no destructors. Set once by the binary (`flush_logs_with`).
static LOG_FLUSH: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// The binary's log flush, for the panic hook (the TUI does not own the log files).
pub fn flush_logs_with(flush: fn()) {
    let _ = LOG_FLUSH.set(flush);
}

pub fn install_panic_hook() {
    let (panic_hook, eyre_hook) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .into_hooks();
    // Already installed (e.g. by main): keep that one.
    let _ = eyre_hook.install();
    let panic_hook = panic_hook.into_panic_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        trademon_core::panics::log(info);
        // The flight recorder's last minutes are the best report of what led here.
        if let Some(path) = crate::record::dump_on_panic(&panic_message(info)) {
            eprintln!("trademon: bug report written to {}", path.display());
        }
        panic_hook(info);
        // `exit` runs no destructors: write out the log lines (the panic's among them) first.
        if let Some(flush) = LOG_FLUSH.get() {
            flush();
        }
        std::process::exit(101);
    }));
}

fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info
        .payload()
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| info.payload().downcast_ref::<String>().cloned())
        .unwrap_or_default();
    match info.location() {
        Some(l) => format!("{payload} at {}:{}", l.file(), l.line()),
        None => payload,
    }
}
