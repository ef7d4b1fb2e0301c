//! The event loop: terminal keys, client events, a clock tick and signals in, `App::update`
//! in the middle, effects and frames out.

use super::action::{Action, Effect};
use super::alerts::{self, hook::HookRunner};
use super::app::App;
use super::keymap::Keymap;
use super::recording::{RecordOptions, Recorder};
use super::render::{RenderEvent, Renderer};
use super::terminal;
use super::theme::Theme;
use crate::settings::TuiSettings;
use color_eyre::eyre::WrapErr;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use trademon_client::link::LinkStatus;
use trademon_client::{ClientCommand, ClientEvent, ClientHandle};
use trademon_protocol::{LogEvent, now_ms};

/// Ages and the reconnect countdown move at this pace.
const TICK: Duration = Duration::from_millis(250);
/// Draw at least this often even when nothing changed. Every frame writes (synchronized
/// update codes at least), so a terminal that died without SIGHUP shows up as a write error
/// within this time instead of leaving crossterm's reader spinning on a dead tty.
const WATCHDOG: Duration = Duration::from_secs(2);
/// How long to wait for the render thread at exit before leaving it behind.
const RENDER_SHUTDOWN: Duration = Duration::from_millis(500);

/// Why the loop ended.
#[derive(Debug)]
enum Exit {
    Quit,
    Signal(&'static str),
    TerminalLost(String),
}

/// Run the TUI until `q`, a signal, or a lost terminal. The terminal is restored on every
/// path, including panics (see `terminal::install_panic_hook`).
pub async fn run(
    cfg: &TuiSettings,
    keymap: Keymap,
    client: ClientHandle,
    events: mpsc::Receiver<ClientEvent>,
    record: RecordOptions,
) -> color_eyre::Result<()> {
    let theme = Theme::detect(cfg.tui.color);
    let mut signals = Signals::new()?;

    terminal::install_panic_hook();
    let (term, capture) = terminal::setup().wrap_err("setting up the terminal")?;
    let size = term.size().map(|s| (s.width, s.height)).unwrap_or((80, 24));
    let mut rec = Recorder::new(cfg, theme.palette, &record);
    let (renderer, render_events) =
        match Renderer::spawn(term, cfg.tui.fps, Some((rec.tap(), capture))) {
            Ok(r) => r,
            Err(e) => {
                terminal::restore();
                return Err(e).wrap_err("starting the render thread");
            }
        };

    let link = LinkStatus::new(String::new());
    let mut app = App::new(&cfg.tui, keymap, theme, link, size, now_ms()).with_alerts(&cfg.alerts);
    let (notice_tx, notices) = mpsc::unbounded_channel();
    let hooks = Hooks {
        runner: HookRunner::new(&cfg.alerts, notice_tx),
        notices,
    };
    let mut start = app.start();
    start.extend(rec.begin(&mut app));
    let exit = event_loop(
        &mut app,
        &mut rec,
        start,
        &client,
        events,
        &renderer,
        render_events,
        &mut signals,
        hooks,
    )
    .await;
    // Tell the connection task to close cleanly whatever ended the loop (q already did).
    if !matches!(exit, Exit::Quit) {
        client.send(ClientCommand::Shutdown);
    }
    renderer.shutdown(RENDER_SHUTDOWN);
    // After the render thread: the last frame's bytes are in the recording.
    rec.finish();
    terminal::restore();
    match exit {
        Exit::Quit => tracing::info!("tui: quit by key"),
        Exit::Signal(name) => tracing::info!(signal = name, "tui: exit on signal"),
        // A lost terminal is a normal end for an SSH tool (connection dropped): no error.
        Exit::TerminalLost(why) => tracing::warn!(error = %why, "tui: terminal lost, exiting"),
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn event_loop(
    app: &mut App,
    rec: &mut Recorder,
    start: Vec<Effect>,
    client: &ClientHandle,
    mut client_events: mpsc::Receiver<ClientEvent>,
    renderer: &Renderer,
    mut render_events: mpsc::UnboundedReceiver<RenderEvent>,
    signals: &mut Signals,
    mut hooks: Hooks,
) -> Exit {
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut client_open = true;
    // The renderer takes a new state only after it finished the previous frame.
    let mut render_ready = true;
    let mut pending = start;
    let mut last_frame = Instant::now();

    loop {
        // Recording effects can produce more effects (notices may change subscriptions).
        while !pending.is_empty() {
            for effect in std::mem::take(&mut pending) {
                match effect {
                    Effect::Client(cmd) => client.send(cmd),
                    Effect::Quit => return Exit::Quit,
                    Effect::ToggleRecording => pending.extend(rec.toggle(app)),
                    Effect::BugReport => pending.extend(rec.bug_report(app)),
                    Effect::Alert { alert, hook } => {
                        alerts::log_raised(&alert);
                        if let Some(runner) = hooks.runner.as_ref().filter(|_| hook) {
                            // The task reports its own outcome (log, events panel).
                            let _ = runner.spawn(&alert, app.now_ms());
                        }
                    }
                    Effect::AlertAcknowledged(alert) => alerts::log_acknowledged(&alert),
                }
            }
        }
        let overdue = last_frame.elapsed() >= WATCHDOG;
        if render_ready && (app.take_dirty() || overdue) {
            if !renderer.send(rec.job(app)) {
                return Exit::TerminalLost("render thread ended".into());
            }
            render_ready = false;
            last_frame = Instant::now();
        }

        tokio::select! {
            name = signals.recv() => return Exit::Signal(name),
            ev = render_events.recv() => match ev {
                Some(RenderEvent::Ready) => render_ready = true,
                Some(RenderEvent::Failed(e)) => return Exit::TerminalLost(e),
                None => return Exit::TerminalLost("render thread ended".into()),
            },
            ev = keys.next() => match ev {
                Some(Ok(Event::Key(key))) if key.kind == KeyEventKind::Press => {
                    pending = rec.update(app, Action::Key(key));
                }
                Some(Ok(Event::Resize(w, h))) => pending = rec.update(app, Action::Resize(w, h)),
                Some(Ok(_)) => {}
                // A dead tty makes crossterm's reader fail or end; looping on it would spin.
                Some(Err(e)) => return Exit::TerminalLost(e.to_string()),
                None => return Exit::TerminalLost("terminal input closed".into()),
            },
            ev = client_events.recv(), if client_open => match ev {
                Some(ev) => pending = rec.update(app, Action::Client(ev)),
                None => {
                    // The connection task is gone: keep showing what we know, say so.
                    client_open = false;
                    tracing::warn!("tui: client event channel closed");
                }
            },
            Some(ev) = hooks.notices.recv() => {
                pending = rec.update(app, Action::Client(ClientEvent::Notice(ev)));
            }
            _ = tick.tick() => {
                pending = rec.update(app, Action::Tick(now_ms()));
                pending.extend(rec.tick(app));
            }
        }
    }
}

/// The alert hook runner (none without `alerts.command`) and the failures it puts on the
/// events panel.
struct Hooks {
    runner: Option<HookRunner>,
    notices: mpsc::UnboundedReceiver<LogEvent>,
}

/// The signals that end the TUI: SIGHUP (the SSH session went away) and SIGTERM on unix;
/// elsewhere ctrl-c from the console (in raw mode a ctrl-c key is a key, not a signal).
struct Signals {
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> color_eyre::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                hup: signal(SignalKind::hangup()).wrap_err("SIGHUP handler")?,
                term: signal(SignalKind::terminate()).wrap_err("SIGTERM handler")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The name of the next signal.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.hup.recv() => "SIGHUP",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "ctrl-c"
        }
    }
}
