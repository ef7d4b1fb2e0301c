//! Replay a bundle through the same `App::update` and `view` code the live TUI runs, with the
//! recorded clock and no network: `start` gives the state, each record becomes the `Action`
//! it was, and each `draw` renders a frame exactly where the live UI sent one to its
//! renderer. The result depends only on the file, so two replays give the same screens.

use crate::keymap::Keymap;
use crate::record::bundle::{self, BundleError, EVENTS, Loaded};
use crate::record::events::{self, Line, Record};
use crate::record::manifest::palette_from_name;
use crate::theme::Theme;
use crate::{Action, App, view};
use ratatui::Terminal;
use ratatui::backend::{Backend, TestBackend};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use std::path::Path;
use std::time::Duration;
use trademon_client::ClientEvent;
use trademon_protocol::ServerMsg;
use unicode_width::UnicodeWidthStr;

/// One step of a replay.
pub enum Step {
    /// State changed (or not); nothing to draw.
    Applied,
    /// The live UI drew here.
    Draw,
    End,
}

/// A bundle being replayed.
pub struct Replayer {
    pub app: App,
    lines: std::vec::IntoIter<(usize, Line)>,
    file: String,
}

impl Replayer {
    pub fn open(dir: &Path) -> Result<Replayer, BundleError> {
        Replayer::new(bundle::load(dir)?)
    }

    pub fn new(loaded: Loaded) -> Result<Replayer, BundleError> {
        let file = loaded.dir.join(EVENTS).display().to_string();
        let manifest_file = loaded.dir.join(bundle::MANIFEST).display().to_string();
        let bad_manifest = |why: String| BundleError::file(manifest_file.clone(), why);
        // The recorded config, not the local one: keys and limits as the trader had them.
        let tui = crate::settings::tui_from_recorded(&loaded.manifest.config)
            .map_err(|e| bad_manifest(format!("config: {e}")))?;
        let keymap = Keymap::from_config(&tui.keys).map_err(|e| bad_manifest(e.to_string()))?;
        let palette = palette_from_name(&loaded.manifest.colour_mode).ok_or_else(|| {
            bad_manifest(format!(
                "unknown colour_mode {:?}",
                loaded.manifest.colour_mode
            ))
        })?;
        let mut lines = loaded.lines.into_iter();
        let Some((_, first)) = lines.next() else {
            return Err(BundleError::file(file, "no records"));
        };
        let Record::Start {
            now_ms,
            size,
            state,
        } = first.record
        else {
            return Err(BundleError::at(
                &file,
                1,
                "the first record must be the start state",
            ));
        };
        let mut app = App::new(
            &tui,
            keymap,
            Theme::new(palette),
            state.link.clone(),
            size,
            now_ms,
        );
        state.apply_to(&mut app);
        Ok(Replayer { app, lines, file })
    }

    /// Apply the next record; `(ms offset, step)`.
    pub fn step(&mut self) -> Result<(u64, Step), BundleError> {
        let Some((n, line)) = self.lines.next() else {
            return Ok((0, Step::End));
        };
        let at = |why: String| BundleError::at(&self.file, n, why);
        let action = match line.record {
            Record::Frame { raw } => {
                let msg: ServerMsg = serde_json::from_str(&raw)
                    .map_err(|e| at(format!("frame is not a protocol message: {e}")))?;
                Action::Client(ClientEvent::Message {
                    msg,
                    raw: raw.into_owned(),
                })
            }
            Record::Link { link } => Action::Client(ClientEvent::Link(link.into_owned())),
            Record::Snapshot { snapshot } => {
                Action::Client(ClientEvent::Snapshot((*snapshot).into_owned()))
            }
            Record::Notice { event } => Action::Client(ClientEvent::Notice(event.into_owned())),
            Record::Key { key } => {
                match events::key_event(&key).map_err(|e| at(format!("key {key:?}: {e}")))? {
                    Some(ev) => Action::Key(ev),
                    None => return Ok((line.t, Step::Applied)),
                }
            }
            Record::Resize { w, h } => Action::Resize(w, h),
            Record::Tick { now_ms } => Action::Tick(now_ms),
            Record::Recording { since_ms } => Action::Recording(since_ms),
            Record::Draw { .. } => return Ok((line.t, Step::Draw)),
            Record::End => return Ok((line.t, Step::End)),
            Record::Session { .. } | Record::Start { .. } => return Ok((line.t, Step::Applied)),
        };
        // Effects (subscribe, reconnect, quit, record) were carried out live; their results
        // are in the log as later records.
        let _ = self.app.update(action);
        Ok((line.t, Step::Applied))
    }
}

/// Draw `app` into `terminal` at the size the live UI had, like the render thread did.
fn draw_at_size<B: Backend>(terminal: &mut Terminal<B>, app: &App) -> Result<(), String> {
    let _ = terminal
        .draw(|f| view(app, f))
        .map_err(|e| format!("{e:?}"))?;
    Ok(())
}

/// Replay without a terminal into a `TestBackend` at the recorded sizes; the final screen.
pub fn headless(dir: &Path) -> Result<Buffer, BundleError> {
    headless_from(Replayer::open(dir)?, dir)
}

/// `headless` for a bundle already opened; `dir` names it in errors.
pub fn headless_from(mut r: Replayer, dir: &Path) -> Result<Buffer, BundleError> {
    let (w, h) = r.app.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h))
        .map_err(|e| BundleError::file(dir.display().to_string(), format!("{e:?}")))?;
    let render_err = |e: String| BundleError::file(dir.display().to_string(), e);
    let mut drew = false;
    loop {
        match r.step()? {
            (_, Step::Applied) => {}
            (_, Step::Draw) => {
                let (w, h) = r.app.size;
                if terminal.backend().size().map(|s| (s.width, s.height)).ok() != Some((w, h)) {
                    terminal.backend_mut().resize(w, h);
                }
                draw_at_size(&mut terminal, &r.app).map_err(render_err)?;
                drew = true;
            }
            (_, Step::End) => break,
        }
    }
    if !drew {
        draw_at_size(&mut terminal, &r.app).map_err(render_err)?;
    }
    Ok(terminal.backend().buffer().clone())
}

/// The screen as text, one line per row, trailing blanks trimmed; wide characters once.
pub fn screen_text(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut row = String::new();
        let mut skip = 0;
        for x in 0..buf.area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            row.push_str(if sym.is_empty() { " " } else { sym });
            skip = sym.width().saturating_sub(1);
        }
        out.push_str(row.trim_end());
        out.push('\n');
    }
    out
}

/// Replay into the real terminal at the recorded pace times `speed`. Keys: q quits, space
/// pauses. The frame keeps the recorded size (a fixed viewport), whatever this terminal is.
/// The screen says `REPLAY ×speed` (`paused`, `finished`): a replay must never look live.
pub fn interactive(dir: &Path, speed: f64) -> color_eyre::Result<()> {
    play(Replayer::open(dir)?, speed)
}

/// `interactive` for a bundle already opened (so a bad bundle is reported before the
/// terminal is taken).
pub fn play(mut r: Replayer, speed: f64) -> color_eyre::Result<()> {
    use crossterm::event::{self, Event, KeyCode, KeyEventKind};
    use ratatui::backend::CrosstermBackend;
    use ratatui::{TerminalOptions, Viewport};

    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    crate::terminal::install_panic_hook();
    // Raw mode, alternate screen, hidden cursor, and the restore duty; the replay draws
    // through its own fixed-viewport terminal below.
    drop(crate::terminal::setup()?);
    let rect = |app: &App| {
        let (tw, th) = crossterm::terminal::size().unwrap_or(app.size);
        Rect::new(0, 0, app.size.0.min(tw), app.size.1.min(th))
    };
    let result = (|| -> color_eyre::Result<()> {
        let mut terminal = Terminal::with_options(
            CrosstermBackend::new(std::io::stdout()),
            TerminalOptions {
                viewport: Viewport::Fixed(rect(&r.app)),
            },
        )?;
        let mut last_t = 0u64;
        let mut paused = false;
        let badge = |paused: bool, finished: bool| crate::app::ReplayBadge {
            speed,
            paused,
            finished,
        };
        // Waits `ms` of recorded time, handling keys; false when the user quits. A pause
        // toggle redraws at once so the badge never claims the replay runs while it waits.
        let wait = |ms: u64,
                    paused: &mut bool,
                    finished: bool,
                    r: &mut Replayer,
                    terminal: &mut Terminal<CrosstermBackend<std::io::Stdout>>|
         -> color_eyre::Result<bool> {
            let mut left = Duration::from_secs_f64(ms as f64 / 1000.0 / speed);
            loop {
                let slice = if *paused {
                    Duration::from_millis(100)
                } else {
                    left.min(Duration::from_millis(50))
                };
                if event::poll(slice)? {
                    if let Event::Key(k) = event::read()?
                        && k.kind == KeyEventKind::Press
                    {
                        match k.code {
                            KeyCode::Char('q') | KeyCode::Esc => return Ok(false),
                            KeyCode::Char(' ') if !finished => {
                                *paused = !*paused;
                                r.app.set_replay(Some(badge(*paused, finished)));
                                terminal.draw(|f| view(&r.app, f))?;
                            }
                            _ => {}
                        }
                    }
                } else if !*paused {
                    left = left.saturating_sub(slice);
                }
                if !*paused && left.is_zero() {
                    return Ok(true);
                }
            }
        };
        loop {
            let (t, step) = r.step()?;
            match step {
                Step::Applied => {}
                Step::Draw => {
                    if !wait(
                        t.saturating_sub(last_t),
                        &mut paused,
                        false,
                        &mut r,
                        &mut terminal,
                    )? {
                        return Ok(());
                    }
                    last_t = t;
                    let area = rect(&r.app);
                    if terminal.get_frame().area() != area {
                        terminal.resize(area)?;
                    }
                    r.app.set_replay(Some(badge(paused, false)));
                    terminal.draw(|f| view(&r.app, f))?;
                }
                Step::End => break,
            }
        }
        // Keep the last screen until q, saying that nothing more will come.
        r.app.set_replay(Some(badge(false, true)));
        terminal.draw(|f| view(&r.app, f))?;
        while wait(60_000, &mut paused, true, &mut r, &mut terminal)? {}
        Ok(())
    })();
    crate::terminal::restore();
    result
}
