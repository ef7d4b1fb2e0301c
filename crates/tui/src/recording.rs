//! The event loop's side of recording: every `Action` goes through [`Recorder::update`],
//! which logs it for the flight recorder and any running recording before `App::update`
//! sees it; the `R` and `B` effects start/stop a recording and write a bug bundle.
//! The recording machinery itself is in `crate::record`.

use super::action::{Action, Effect};
use super::app::App;
use super::render::RenderJob;
use super::theme::Palette;
use crate::record::bugreport::{self, Extras};
use crate::record::events::{self, Record};
use crate::record::manifest::Context;
use crate::record::recorder::new_recording_dir;
use crate::record::{Redactor, Tap};
use crate::settings::TuiSettings;
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use trademon_client::ClientEvent;
use trademon_protocol::{Level, LogEvent};

/// Recording options from the command line.
#[derive(Debug, Clone, Default)]
pub struct RecordOptions {
    /// `--record DIR`: record from the start into this bundle directory.
    pub dir: Option<PathBuf>,
    /// Secrets not in the config (`connect --token`).
    pub extra_secrets: Vec<String>,
}

pub struct Recorder {
    tap: Arc<Tap>,
    record_dir: PathBuf,
    first_dir: Option<PathBuf>,
    max_recording_mb: u64,
    extras: Extras,
}

impl Recorder {
    pub fn new(cfg: &TuiSettings, palette: Palette, opts: &RecordOptions) -> Recorder {
        let redactor = Redactor::new(
            cfg.secrets
                .iter()
                .cloned()
                .chain(opts.extra_secrets.iter().cloned()),
        );
        let ctx = Context::from_env(&cfg.config_toml, palette, &redactor);
        let extras = Extras {
            redactor,
            config_toml: ctx.config_toml.clone(),
            log_dir: cfg.log_dir.clone(),
            log_lines: cfg.record.bug_log_lines,
            reason: String::new(),
        };
        let tap = Arc::new(Tap::new(
            ctx,
            (cfg.record.flight_minutes, cfg.record.flight_max_mb),
        ));
        crate::record::register_panic_dump(tap.clone(), cfg.record_dir.clone(), extras.clone());
        Recorder {
            tap,
            record_dir: cfg.record_dir.clone(),
            first_dir: opts.dir.clone(),
            max_recording_mb: cfg.record.max_recording_mb,
            extras,
        }
    }

    pub fn tap(&self) -> Arc<Tap> {
        self.tap.clone()
    }

    /// At start: open the flight ring's first segment, and record if `--record` asked.
    pub fn begin(&mut self, app: &mut App) -> Vec<Effect> {
        self.tap.tick(app);
        match self.first_dir.take() {
            Some(dir) => self.start(app, dir),
            None => Vec::new(),
        }
    }

    /// Log `action`, then apply it.
    pub fn update(&mut self, app: &mut App, action: Action) -> Vec<Effect> {
        let session_before = app.active_session().map(|s| s.id.clone());
        match &action {
            Action::Key(k) => self.tap.record(&Record::Key {
                key: events::key_name(k),
            }),
            Action::Resize(w, h) => self.tap.record(&Record::Resize { w: *w, h: *h }),
            Action::Tick(now) => self.tap.record(&Record::Tick { now_ms: *now }),
            Action::Recording(since) => self.tap.record(&Record::Recording { since_ms: *since }),
            Action::Client(ev) => self.tap.record(&match ev {
                ClientEvent::Message { raw, .. } => Record::Frame {
                    raw: Cow::Borrowed(raw),
                },
                ClientEvent::Link(l) => Record::Link {
                    link: Cow::Borrowed(l),
                },
                ClientEvent::Snapshot(s) => Record::Snapshot {
                    snapshot: Box::new(Cow::Borrowed(s)),
                },
                ClientEvent::Notice(e) => Record::Notice {
                    event: Cow::Borrowed(e),
                },
            }),
        }
        let effects = app.update(action);
        let after = app.active_session().map(|s| s.id.clone());
        if after != session_before
            && let Some(id) = after
        {
            self.tap.record(&Record::Session {
                index: app.active,
                id,
            });
        }
        effects
    }

    /// A state goes to the renderer: log the draw and tag the job with its seq.
    pub fn job(&mut self, app: &App) -> RenderJob {
        let (seq, keyframe) = self.tap.next_draw();
        self.tap.record(&Record::Draw { seq });
        RenderJob {
            app: Box::new(app.clone()),
            seq,
            keyframe,
        }
    }

    /// The `R` key.
    pub fn toggle(&mut self, app: &mut App) -> Vec<Effect> {
        if self.tap.recording() {
            self.stop(app)
        } else {
            let dir = new_recording_dir(&self.record_dir);
            self.start(app, dir)
        }
    }

    fn start(&mut self, app: &mut App, dir: PathBuf) -> Vec<Effect> {
        match self.tap.start(&dir, app, self.max_recording_mb) {
            Ok(started) => {
                tracing::info!(event = "record.start", dir = %started.dir.display(), "recording started");
                let mut fx = self.update(app, Action::Recording(Some(started.since_ms)));
                fx.extend(self.notice(
                    app,
                    Level::Info,
                    format!("recording to {}", started.dir.display()),
                ));
                fx
            }
            Err(why) => {
                tracing::warn!(event = "record.error", error = %why, "recording not started");
                self.notice(app, Level::Warn, why)
            }
        }
    }

    fn stop(&mut self, app: &mut App) -> Vec<Effect> {
        let done = self.tap.stop();
        // The indicator goes at once; the files close after the frame in flight.
        let mut fx = app.update(Action::Recording(None));
        if let Some(r) = done {
            fx.extend(self.report_finished(app, r));
        }
        fx
    }

    fn report_finished(&mut self, app: &mut App, r: Result<PathBuf, String>) -> Vec<Effect> {
        match r {
            Ok(dir) => {
                tracing::info!(event = "record.stop", dir = %dir.display(), "recording saved");
                self.notice(
                    app,
                    Level::Info,
                    format!("recording saved: {}", dir.display()),
                )
            }
            Err(why) => {
                tracing::warn!(event = "record.error", error = %why, "recording failed");
                self.notice(app, Level::Warn, why)
            }
        }
    }

    /// The `B` key: the flight recorder's last minutes, logs and config as a tar.gz.
    pub fn bug_report(&mut self, app: &mut App) -> Vec<Effect> {
        let recording = match self.tap.flight_bundle() {
            Some(files) => bugreport::Recording::Files(files),
            None => bugreport::Recording::None,
        };
        let mut extras = self.extras.clone();
        extras.reason = "B key".into();
        match bugreport::write(&self.record_dir, recording, &extras) {
            Ok(path) => {
                tracing::info!(event = "record.bugreport", path = %path.display(), "bug report written");
                self.notice(app, Level::Info, format!("bug report: {}", path.display()))
            }
            Err(e) => {
                let why = format!("bug report failed: {e}");
                tracing::warn!(event = "record.error", error = %why, "bug report failed");
                self.notice(app, Level::Warn, why)
            }
        }
    }

    /// Periodic upkeep (on each tick): flush, roll the flight ring, stop at the size cap,
    /// report recordings that ended in the render thread.
    pub fn tick(&mut self, app: &mut App) -> Vec<Effect> {
        self.tap.tick(app);
        let mut fx = Vec::new();
        if self.tap.take_over_cap() && self.tap.recording() {
            fx.extend(self.notice(
                app,
                Level::Warn,
                format!(
                    "recording stopped at record.max_recording_mb ({} MB) or a write error",
                    self.max_recording_mb
                ),
            ));
            fx.extend(self.stop(app));
        }
        for r in self.tap.take_finished() {
            fx.extend(self.report_finished(app, r));
        }
        fx
    }

    /// At exit, after the render thread stopped: close a running recording.
    pub fn finish(self) {
        if let Some(r) = self.tap.finish() {
            match r {
                Ok(dir) => {
                    tracing::info!(event = "record.stop", dir = %dir.display(), "recording saved")
                }
                Err(why) => {
                    tracing::warn!(event = "record.error", error = %why, "recording failed")
                }
            }
        }
        for r in self.tap.take_finished() {
            if let Err(why) = r {
                tracing::warn!(event = "record.error", error = %why, "recording failed");
            }
        }
        crate::record::unregister_panic_dump();
    }

    fn notice(&mut self, app: &mut App, level: Level, message: String) -> Vec<Effect> {
        let ev = LogEvent {
            ts: app.now_ms(),
            level,
            name: "record".into(),
            message,
            count: 1,
        };
        self.update(app, Action::Client(ClientEvent::Notice(ev)))
    }
}
