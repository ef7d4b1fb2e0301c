//! `trademon bench frame`: how long one TUI frame takes to build at 200x50 with a session of
//! 100 symbols. The App is filled by the real pipeline (simulator -> backend -> one WebSocket
//! -> client -> `App::update`) running the demo strategy, with pumps forced on a few symbols
//! so instances, indicators, condition gauges, signals and paper positions are all populated.
//! Then, frame after frame while data keeps arriving, it times what the render path does per
//! frame: the `App` clone handed to the render thread, `view` into ratatui's buffer, and the
//! diff against the previous frame encoded as terminal bytes (crossterm into memory). The
//! render thread's share, the frame build proper, is view + diff; the clone runs on the event
//! loop.

use super::record::Counter;
use super::stats::Percentiles;
use color_eyre::eyre::{Result, eyre};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use trademon::client::ClientCommand;
use trademon::client::link::LinkStatus;
use trademon::config::SessionConfig;
use trademon::exchange::sim::market::{PumpSpec, symbol_name};
use trademon::launch::{initial_subscriptions, start_embedded};
use trademon::protocol::now_ms;
use trademon::tui::App;
use trademon::tui::action::{Action, Effect};
use trademon::tui::keymap::Keymap;
use trademon::tui::terminal;
use trademon::tui::theme::{Palette, Theme};
use trademon::tui::view::view;

const SIZE: (u16, u16) = (200, 50);
/// Symbols pumped at start: enough for several entries, exits and open positions on screen.
const PUMPED: usize = 12;
/// A pump the demo strategy enters on within seconds (see `sim.first_pump_after_s`'s shape).
const PUMP: PumpSpec = PumpSpec {
    magnitude_pct: 6.0,
    rise_ms: 8_000,
    fade_ms: 30_000,
    retrace: 0.5,
    rate_mult: 8.0,
    size_mult: 3.0,
};

pub struct FrameOptions {
    pub symbols: usize,
    pub warmup_s: u64,
    pub frames: usize,
    /// Frames per second while measuring (data arrives between frames, as in the TUI).
    pub fps: u32,
}

pub struct FrameReport {
    pub opts: FrameOptions,
    /// What the App held when measuring started.
    pub content: String,
    pub clone: Percentiles,
    pub view: Percentiles,
    pub diff: Percentiles,
    /// view + diff: what the render thread spends per frame.
    pub build: Percentiles,
    pub total: Percentiles,
    pub bytes_per_frame: f64,
}

impl std::fmt::Display for FrameReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.opts;
        writeln!(
            f,
            "frame {}x{}, {} symbols ({}), {} frames at {} fps after {} s of live data",
            SIZE.0, SIZE.1, o.symbols, self.content, o.frames, o.fps, o.warmup_s
        )?;
        writeln!(f, "App clone:             {}", self.clone)?;
        writeln!(f, "view -> buffer:        {}", self.view)?;
        writeln!(f, "diff -> terminal bytes: {}", self.diff)?;
        writeln!(f, "frame build (view + diff): {}", self.build)?;
        write!(
            f,
            "total (clone + view + diff): {}  |  {:.0} terminal bytes per frame",
            self.total, self.bytes_per_frame
        )
    }
}

pub async fn run(opts: FrameOptions) -> Result<FrameReport> {
    let symbols: Vec<String> = (0..opts.symbols.max(1))
        .filter_map(symbol_name)
        .map(str::to_string)
        .collect();
    let dir = std::env::temp_dir().join(format!("trademon-bench-frame-{}", std::process::id()));
    let mut cfg = super::scratch_config("frame");
    cfg.sim.symbols = symbols.len();
    // Rows change several times a second, as on a busy market.
    cfg.sim.ticker_interval_ms = 250;
    cfg.sim.trades_per_s = 10.0;
    cfg.mexc.subscribe_pace_ms = 1;
    cfg.log.dir = dir.join("logs").display().to_string();
    cfg.demo_sessions = vec![SessionConfig {
        id: "frame".into(),
        name: "Frame".into(),
        strategy: "demo".into(),
        symbols: symbols.clone(),
    }];
    cfg.validate()?;
    let (_log_tx, log_rx) = mpsc::channel(16);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let stack = start_embedded(&cfg, true, loopback, log_rx).await?;
    if let Some(sim) = &stack.sim {
        for s in symbols.iter().take(PUMPED) {
            sim.faults.force_pump_with(s, PUMP)?;
        }
    }
    let (client, mut events) = stack.connect(&cfg, initial_subscriptions());
    let keymap = Keymap::from_config(&cfg.tui.keys)?;
    let mut app = App::new(
        &cfg.tui,
        keymap,
        Theme::new(Palette::Ansi256),
        LinkStatus::new(String::new()),
        SIZE,
        now_ms(),
    );
    let send = |effects: Vec<Effect>| {
        for e in effects {
            if let Effect::Client(cmd) = e {
                client.send(cmd);
            }
        }
    };
    send(app.start());

    // Live data into the App for the warm-up.
    let warm_end = tokio::time::Instant::now() + Duration::from_secs(opts.warmup_s);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(warm_end) => break,
            ev = events.recv() => match ev {
                Some(ev) => send(app.update(Action::Client(ev))),
                None => return Err(eyre!("client ended during warm-up")),
            },
            _ = tick.tick() => send(app.update(Action::Tick(now_ms()))),
        }
    }
    let content = describe(&app);

    let bytes = Arc::new(AtomicU64::new(0));
    let (mut term, _capture) = terminal::headless(Box::new(Counter(bytes.clone())), SIZE)?;
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(opts.fps.max(1))));
    let (mut clones, mut views, mut diffs) = (vec![], vec![], vec![]);
    let (mut builds, mut totals) = (vec![], vec![]);
    // The first frame draws the whole screen; it is not a steady-state frame.
    let bytes_after_first;
    {
        term.draw(|frame| view(&app, frame))?;
        bytes_after_first = bytes.load(Ordering::Relaxed);
    }
    while clones.len() < opts.frames {
        // Data between frames, untimed (the event loop does this while the render thread draws).
        loop {
            tokio::select! {
                biased;
                _ = pace.tick() => break,
                ev = events.recv() => match ev {
                    Some(ev) => send(app.update(Action::Client(ev))),
                    None => return Err(eyre!("client ended")),
                },
                _ = tick.tick() => send(app.update(Action::Tick(now_ms()))),
            }
        }
        // At 200x50 one detail panel shows at a time: cycle them (machines, indicators,
        // conditions, signals, positions) so every panel is in the figures.
        send(app.update(Action::Key(KeyEvent::new(
            KeyCode::Char('v'),
            KeyModifiers::NONE,
        ))));
        let t0 = Instant::now();
        let snapshot = Box::new(app.clone());
        let t1 = Instant::now();
        let mut t2 = t1;
        term.draw(|frame| {
            view(&snapshot, frame);
            t2 = Instant::now();
        })?;
        let t3 = Instant::now();
        let ms = |a: Instant, b: Instant| b.duration_since(a).as_secs_f64() * 1000.0;
        clones.push(ms(t0, t1));
        views.push(ms(t1, t2));
        diffs.push(ms(t2, t3));
        builds.push(ms(t1, t3));
        totals.push(ms(t0, t3));
    }
    let frames = clones.len();
    let steady_bytes = bytes.load(Ordering::Relaxed) - bytes_after_first;
    client.send(ClientCommand::Shutdown);
    stack.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let p = |v: Vec<f64>| Percentiles::from_samples(v).ok_or_else(|| eyre!("no frames drawn"));
    Ok(FrameReport {
        opts,
        content,
        clone: p(clones)?,
        view: p(views)?,
        diff: p(diffs)?,
        build: p(builds)?,
        total: p(totals)?,
        bytes_per_frame: steady_bytes as f64 / frames.max(1) as f64,
    })
}

/// What the screen had to show, so a run without signals or positions is visible as such.
fn describe(app: &App) -> String {
    let Some(id) = app.active_session().map(|s| s.id.clone()) else {
        return "no session".into();
    };
    let m = app.model();
    let count = |n: Option<usize>| n.unwrap_or(0);
    format!(
        "{} tickers, {} instances, {} indicator rows, {} condition rows, {} signals, {} positions",
        count(m.market.get(&id).map(|x| x.len())),
        count(m.instances.get(&id).map(|x| x.len())),
        count(m.indicators.get(&id).map(|x| x.len())),
        count(m.conditions.get(&id).map(|x| x.len())),
        count(m.signals.get(&id).map(|x| x.len())),
        count(m.positions.get(&id).map(|x| x.len())),
    )
}
