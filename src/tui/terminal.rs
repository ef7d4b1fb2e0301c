//! Terminal setup and restore, safe to call from any exit path (normal return, error, panic,
//! signal). Restore is idempotent and ignores write errors: on a hung-up tty there is nobody
//! to tell, and retrying writes there is how programs end up spinning.

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode,
    enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, BufWriter, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

/// Batch a frame into few `write(2)` calls; over SSH each one is a packet.
pub const WRITE_BUFFER: usize = 64 * 1024;

pub type Term = Terminal<CrosstermBackend<BufWriter<Stdout>>>;

/// Whether we changed the terminal and owe it a restore.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Raw mode, alternate screen, hidden cursor. On failure the terminal is restored first.
pub fn setup() -> io::Result<Term> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let result = (|| {
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, io::stdout());
        execute!(out, EnterAlternateScreen, Hide)?;
        Terminal::new(CrosstermBackend::new(out))
    })();
    if result.is_err() {
        restore();
    }
    result
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
/// restored, cooked terminal.
pub fn install_panic_hook() {
    let (panic_hook, eyre_hook) = color_eyre::config::HookBuilder::default()
        .display_env_section(false)
        .into_hooks();
    // Already installed (e.g. by main): keep that one.
    let _ = eyre_hook.install();
    let panic_hook = panic_hook.into_panic_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        panic_hook(info);
        std::process::exit(101);
    }));
}
