//! `trademon bench frame`: how long one TUI frame takes to build at 200x50 with a session of
//! 100 symbols. The App is filled by the real pipeline (simulator -> backend -> one WebSocket
//! -> client -> `App::update`) running the demo strategy, with pumps forced on a few symbols
//! so instances, indicators, condition gauges, signals and paper positions are all populated.
//! Then, frame after frame while data keeps arriving, it times what the render path does per
//! frame: the `App` clone handed to the render thread, `view` into ratatui's buffer, and the
//! diff against the previous frame encoded as terminal bytes (crossterm into memory). The
//! render thread's share, the frame build proper, is view + diff; the clone runs on the event
//! loop.
//!
//! Then the same again with the symbol view open (`enter` on the first watchlist row: chart,
//! order book, trade tape on the same WebSocket). If the backend does not serve the view's
//! streams within a few seconds, the view is filled through the same `App::update` with
//! generated candles, a 20-level book changing ten times a second and a tape, and the report
//! says so.

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
use trademon::client::ClientEvent;
use trademon::client::link::LinkStatus;
use trademon::config::SessionConfig;
use trademon::exchange::sim::market::{PumpSpec, symbol_name};
use trademon::launch::{initial_subscriptions, start_embedded};
use trademon::protocol::{
    BookLevel, BookSnapshot, Candle, CandlesUpdate, DataSource, Envelope, Interval, ServerMsg,
    Side, Snapshot, StreamName, TapeTrade, TapeUpdate, now_ms,
};
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
    pub main: Figures,
    /// The same with the symbol view open, and what it showed.
    pub symbol_content: String,
    pub symbol: Figures,
}

/// One screen's per-frame costs.
pub struct Figures {
    pub clone: Percentiles,
    pub view: Percentiles,
    pub diff: Percentiles,
    /// view + diff: what the render thread spends per frame.
    pub build: Percentiles,
    pub total: Percentiles,
    pub bytes_per_frame: f64,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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

impl std::fmt::Display for FrameReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let o = &self.opts;
        writeln!(
            f,
            "frame {}x{}, {} symbols ({}), {} frames at {} fps after {} s of live data",
            SIZE.0, SIZE.1, o.symbols, self.content, o.frames, o.fps, o.warmup_s
        )?;
        writeln!(f, "{}", self.main)?;
        writeln!(f, "symbol view open ({}):", self.symbol_content)?;
        write!(f, "{}", self.symbol)
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

    // At 200x50 one detail panel shows at a time: cycle them (machines, indicators,
    // conditions, signals, positions) so every panel is in the figures.
    let next_view = |app: &mut App| {
        app.update(Action::Key(KeyEvent::new(
            KeyCode::Char('v'),
            KeyModifiers::NONE,
        )))
    };
    let main = measure(&mut app, &mut events, &send, &opts, next_view).await?;

    // The symbol view of the first row, through its streams on the same socket.
    send(app.update(Action::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    ))));
    let served = wait_for_view(&mut app, &mut events, &send, Duration::from_secs(10)).await?;
    let mut synthetic = Synthetic::default();
    if !served {
        synthetic.fill(&mut app);
    }
    let symbol_content = format!(
        "{}; {}",
        describe_view(&app),
        if served {
            "served by the backend"
        } else {
            "generated: the backend did not serve candles, book and tape within 10 s"
        }
    );
    let per_frame = |app: &mut App| {
        if !served {
            synthetic.book_update(app);
        }
        Vec::new()
    };
    let symbol = measure(&mut app, &mut events, &send, &opts, per_frame).await?;

    client.send(ClientCommand::Shutdown);
    stack.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(FrameReport {
        opts,
        content,
        main,
        symbol_content,
        symbol,
    })
}

/// `opts.frames` frames timed while live data keeps arriving; `per_frame` changes the state
/// before each one (a key, a generated book).
async fn measure(
    app: &mut App,
    events: &mut mpsc::Receiver<ClientEvent>,
    send: &impl Fn(Vec<Effect>),
    opts: &FrameOptions,
    mut per_frame: impl FnMut(&mut App) -> Vec<Effect>,
) -> Result<Figures> {
    let bytes = Arc::new(AtomicU64::new(0));
    let (mut term, _capture) = terminal::headless(Box::new(Counter(bytes.clone())), SIZE)?;
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(opts.fps.max(1))));
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let (mut clones, mut views, mut diffs) = (vec![], vec![], vec![]);
    let (mut builds, mut totals) = (vec![], vec![]);
    // The first frame draws the whole screen; it is not a steady-state frame.
    let bytes_after_first;
    {
        term.draw(|frame| view(app, frame))?;
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
        send(per_frame(app));
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
    let p = |v: Vec<f64>| Percentiles::from_samples(v).ok_or_else(|| eyre!("no frames drawn"));
    Ok(Figures {
        clone: p(clones)?,
        view: p(views)?,
        diff: p(diffs)?,
        build: p(builds)?,
        total: p(totals)?,
        bytes_per_frame: steady_bytes as f64 / frames.max(1) as f64,
    })
}

/// Feeds live data until the symbol view has candles, book and tape, or `limit` passes.
async fn wait_for_view(
    app: &mut App,
    events: &mut mpsc::Receiver<ClientEvent>,
    send: &impl Fn(Vec<Effect>),
    limit: Duration,
) -> Result<bool> {
    let end = tokio::time::Instant::now() + limit;
    let full = |app: &App| {
        app.model().symbol_view.as_ref().is_some_and(|m| {
            m.candles.as_ref().is_some_and(|c| !c.candles.is_empty())
                && m.book.is_some()
                && m.tape.is_some()
        })
    };
    while !full(app) {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => return Ok(false),
            ev = events.recv() => match ev {
                Some(ev) => send(app.update(Action::Client(ev))),
                None => return Err(eyre!("client ended while opening the symbol view")),
            },
        }
    }
    Ok(true)
}

/// A symbol view's streams made up locally: an hour of Min1 candles (the chart's whole
/// history), a 20-level book that changes every frame, 200 trades.
#[derive(Default)]
struct Synthetic {
    seq: u64,
}

impl Synthetic {
    fn env<T>(&mut self, stream: StreamName, symbol: &str, data: T) -> Envelope<T> {
        self.seq += 1;
        Envelope {
            stream,
            session_id: None,
            symbol: Some(symbol.to_string()),
            interval: (stream == StreamName::Candles).then_some(Interval::Min1),
            seq: self.seq,
            ts: now_ms(),
            data,
        }
    }

    fn fill(&mut self, app: &mut App) {
        let Some(view) = app.symbol_view().cloned() else {
            return;
        };
        let sym = view.symbol.as_str();
        let now_s = now_ms() / 1000 / 60 * 60;
        let mut price = 100.0;
        let candles: Vec<Candle> = (0..1_000)
            .map(|i: i64| {
                let open = price;
                price = (price + ((i as f64) * 1.3).sin() * 0.4).max(1.0);
                Candle {
                    t: now_s - (999 - i) * 60,
                    open,
                    high: open.max(price) + 0.2,
                    low: open.min(price) - 0.1,
                    close: price,
                    volume: 100.0 + (i % 9) as f64 * 40.0,
                    amount: 1_000.0 + (i % 7) as f64 * 300.0,
                }
            })
            .collect();
        let last = price;
        let candles = Snapshot {
            candles: Some(Box::new(CandlesUpdate {
                symbol: sym.to_string(),
                interval: view.interval,
                candles,
                price_decimals: Some(2),
            })),
            ..Default::default()
        };
        let trades = (0..200)
            .map(|i: i64| TapeTrade {
                id: Some(i as u64),
                ts_ms: now_ms() - (200 - i) * 300,
                price: last + ((i % 5) as f64 - 2.0) * 0.01,
                contracts: 10.0 + (i % 13) as f64 * 50.0,
                taker: if i % 3 == 0 { Side::Sell } else { Side::Buy },
                self_trade: i % 50 == 0,
            })
            .collect();
        let tape = Snapshot {
            tape: Some(Box::new(TapeUpdate {
                symbol: sym.to_string(),
                trades,
                contract_size: Some(0.01),
                price_decimals: Some(2),
            })),
            ..Default::default()
        };
        let book = Snapshot {
            book: Some(Box::new(self.book(sym, last))),
            ..Default::default()
        };
        for (stream, snap) in [
            (StreamName::Candles, candles),
            (StreamName::Tape, tape),
            (StreamName::Book, book),
        ] {
            let msg = ServerMsg::FullUpdate(self.env(stream, sym, snap));
            app.update(Action::Client(ClientEvent::Message {
                msg,
                raw: String::new(),
            }));
        }
    }

    fn book(&self, symbol: &str, mid: f64) -> BookSnapshot {
        let wobble = (self.seq % 17) as f64;
        let level = |i: usize, side: f64| BookLevel {
            price: mid + side * (0.005 + i as f64 * 0.01),
            contracts: 100.0 + ((i as f64 + wobble) * 37.0) % 900.0,
            orders: 1,
        };
        BookSnapshot {
            symbol: symbol.to_string(),
            version: self.seq,
            bids: (0..20).map(|i| level(i, -1.0)).collect(),
            asks: (0..20).map(|i| level(i, 1.0)).collect(),
            contract_size: Some(0.01),
            price_decimals: Some(2),
            exchange_ts_ms: now_ms(),
            received_ms: now_ms(),
            gaps: 0,
            source: DataSource::Ws,
        }
    }

    /// A new book every frame: at the bench's 30 fps that is more than the ten a second a
    /// busy symbol sends.
    fn book_update(&mut self, app: &mut App) {
        let Some(sym) = app.symbol_view().map(|v| v.symbol.clone()) else {
            return;
        };
        let mid = app
            .model()
            .symbol_view
            .as_ref()
            .and_then(|m| m.candles.as_ref()?.candles.last().map(|c| c.close))
            .unwrap_or(100.0);
        let book = self.book(&sym, mid);
        let msg = ServerMsg::Book(self.env(StreamName::Book, &sym, book));
        app.update(Action::Client(ClientEvent::Message {
            msg,
            raw: String::new(),
        }));
    }
}

/// What the symbol view showed.
fn describe_view(app: &App) -> String {
    let Some(m) = app.model().symbol_view.as_ref() else {
        return "no symbol view".into();
    };
    format!(
        "{} {}: {} candles, {}/{} book levels, {} trades",
        m.symbol,
        m.interval,
        m.candles.as_ref().map_or(0, |c| c.candles.len()),
        m.book.as_ref().map_or(0, |b| b.book.bids.len()),
        m.book.as_ref().map_or(0, |b| b.book.asks.len()),
        m.tape.as_ref().map_or(0, |t| t.trades.len()),
    )
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
