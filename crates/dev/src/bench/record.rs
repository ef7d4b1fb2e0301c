//! Recording overhead: the real TUI pipeline (demo simulator -> backend -> one WebSocket ->
//! client -> `App::update` -> render thread -> terminal bytes) drawing into memory, measured
//! three times under the same load: no recorder at all, the flight recorder alone (the
//! default), and flight recorder plus a running recording. Frame rate is what the render
//! thread drew; CPU is the whole process (simulator and backend included, same in each
//! phase), from /proc/self/stat.

use super::soak::rss_mb;
use color_eyre::eyre::{Result, eyre};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use trademon::client::ClientEvent;
use trademon::client::link::LinkStatus;
use trademon::config::{Config, SessionConfig};
use trademon::exchange::sim::market::symbol_name;
use trademon::launch::{initial_subscriptions, start_embedded};
use trademon::protocol::now_ms;
use trademon::tui::App;
use trademon::tui::action::{Action, Effect};
use trademon::tui::keymap::Keymap;
use trademon::tui::recording::{RecordOptions, Recorder};
use trademon::tui::render::{RenderEvent, Renderer};
use trademon::tui::terminal;
use trademon::tui::theme::{Palette, Theme};

/// The options the command takes; `Default` is the recording-overhead run of issue 6.
pub struct RecordBench {
    pub seconds: u64,
    pub trades_per_s: f64,
    pub fps: u32,
    pub size: (u16, u16),
    /// One session following this many simulator contracts instead of the two demo sessions.
    pub symbols: Option<usize>,
}

pub struct Phase {
    pub name: &'static str,
    pub fps: f64,
    pub cpu_pct: f64,
    pub bytes_per_s: f64,
}

pub struct RecordReport {
    pub phases: Vec<Phase>,
    pub opts: RecordBench,
    /// Whole process (simulator, backend, client, TUI), before the stack started and at the end.
    pub rss_start_mb: f64,
    pub rss_end_mb: f64,
}

impl std::fmt::Display for RecordReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.opts;
        let symbols = o
            .symbols
            .map_or("the demo sessions".to_string(), |n| format!("{n} symbols"));
        writeln!(
            f,
            "{}x{} demo, {symbols}, sim.trades_per_s={} per symbol, drawing at tui.fps={}, {} s \
             per phase, RSS {:.1} MB -> {:.1} MB",
            o.size.0,
            o.size.1,
            o.trades_per_s,
            o.fps,
            o.seconds,
            self.rss_start_mb,
            self.rss_end_mb
        )?;
        let base = self.phases.first().map_or(1.0, |p| p.cpu_pct.max(0.01));
        for p in &self.phases {
            writeln!(
                f,
                "{:<22} {:>6.1} frames/s  {:>6.1} % CPU ({:+.1} % vs off)  {:>8.0} terminal bytes/s",
                p.name,
                p.fps,
                p.cpu_pct,
                (p.cpu_pct / base - 1.0) * 100.0,
                p.bytes_per_s
            )?;
        }
        Ok(())
    }
}

pub async fn run(opts: RecordBench) -> Result<RecordReport> {
    let rss_start_mb = rss_mb();
    let dir = std::env::temp_dir().join(format!("trademon-bench-record-{}", std::process::id()));
    let mut cfg = super::scratch_config("record");
    cfg.sim.trades_per_s = opts.trades_per_s;
    cfg.tui.fps = opts.fps;
    if let Some(n) = opts.symbols {
        let symbols: Vec<String> = (0..n.max(1))
            .filter_map(symbol_name)
            .map(str::to_string)
            .collect();
        cfg.sim.symbols = symbols.len();
        cfg.mexc.subscribe_pace_ms = 1;
        cfg.demo_sessions = vec![SessionConfig {
            id: "bench".into(),
            name: "Bench".into(),
            strategy: "demo".into(),
            symbols,
        }];
        cfg.validate()?;
    }
    cfg.record.dir = dir.display().to_string();
    cfg.log.dir = dir.join("logs").display().to_string();
    let (_log_tx, log_rx) = mpsc::channel(16);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let embedded = start_embedded(&cfg, true, loopback, log_rx).await?;
    let (client, mut events) = embedded.connect(&cfg, initial_subscriptions());
    // Warm up: connected, subscribed, prices flowing.
    let mut warm = cfg.clone();
    warm.record.flight_minutes = 0;
    pipeline(
        &warm,
        &client,
        &mut events,
        Duration::from_secs(3),
        false,
        opts.size,
    )
    .await?;

    let mut phases = Vec::new();
    for (name, flight, recording) in [
        ("off (no recorder)", 0, false),
        ("flight recorder", cfg.record.flight_minutes, false),
        ("flight + recording", cfg.record.flight_minutes, true),
    ] {
        let mut c = cfg.clone();
        c.record.flight_minutes = flight;
        let mut p = pipeline(
            &c,
            &client,
            &mut events,
            Duration::from_secs(opts.seconds),
            recording,
            opts.size,
        )
        .await?;
        p.name = name;
        phases.push(p);
    }
    let rss_end_mb = rss_mb();
    client.send(trademon::client::ClientCommand::Shutdown);
    embedded.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(RecordReport {
        phases,
        opts,
        rss_start_mb,
        rss_end_mb,
    })
}

/// Counts bytes written to the "terminal".
pub struct Counter(pub std::sync::Arc<std::sync::atomic::AtomicU64>);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The event loop of `tui::run` minus the keyboard, for `length`.
async fn pipeline(
    cfg: &Config,
    client: &trademon::client::ClientHandle,
    events: &mut mpsc::Receiver<ClientEvent>,
    length: Duration,
    recording: bool,
    size: (u16, u16),
) -> Result<Phase> {
    let bytes = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (term, capture) = terminal::headless(Box::new(Counter(bytes.clone())), size)?;
    let keymap = Keymap::from_config(&cfg.tui.keys)?;
    let mut rec = Recorder::new(
        &cfg.tui_settings(),
        Palette::Ansi256,
        &RecordOptions::default(),
    );
    let (renderer, mut render_events) =
        Renderer::spawn(term, cfg.tui.fps, Some((rec.tap(), capture)))?;
    let mut app = App::new(
        &cfg.tui,
        keymap,
        Theme::new(Palette::Ansi256),
        LinkStatus::new(String::new()),
        size,
        now_ms(),
    );
    let mut pending = app.start();
    pending.extend(rec.begin(&mut app));
    if recording {
        pending.extend(rec.toggle(&mut app));
    }
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut ready = true;
    let mut frames = 0u64;
    let cpu0 = cpu_ticks();
    let start = Instant::now();
    let deadline = tokio::time::sleep(length);
    tokio::pin!(deadline);
    loop {
        for e in std::mem::take(&mut pending) {
            if let Effect::Client(cmd) = e {
                client.send(cmd);
            }
        }
        // Draw at the frame cap whether or not data changed (the demo changes a few rows a
        // second): every frame pays the full per-frame cost (clone, view, diff, tee, cast line).
        if ready {
            app.take_dirty();
            if !renderer.send(rec.job(&app)) {
                return Err(eyre!("render thread ended"));
            }
            ready = false;
        }
        tokio::select! {
            _ = &mut deadline => break,
            ev = render_events.recv() => match ev {
                Some(RenderEvent::Ready) => { ready = true; frames += 1; }
                Some(RenderEvent::Failed(e)) => return Err(eyre!(e)),
                None => return Err(eyre!("render thread ended")),
            },
            ev = events.recv() => match ev {
                Some(ev) => pending = rec.update(&mut app, Action::Client(ev)),
                None => return Err(eyre!("client ended")),
            },
            _ = tick.tick() => {
                pending = rec.update(&mut app, Action::Tick(now_ms()));
                pending.extend(rec.tick(&mut app));
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_ticks().saturating_sub(cpu0) as f64 / 100.0;
    if recording {
        let _ = rec.toggle(&mut app);
    }
    renderer.shutdown(Duration::from_secs(1));
    rec.finish();
    Ok(Phase {
        name: "",
        fps: frames as f64 / elapsed,
        cpu_pct: cpu / elapsed * 100.0,
        bytes_per_s: bytes.load(std::sync::atomic::Ordering::Relaxed) as f64 / elapsed,
    })
}

/// utime + stime of this process in clock ticks (USER_HZ, 100 on Linux).
pub fn cpu_ticks() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let get = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(14) + get(15)
}
