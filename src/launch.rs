//! Starts the pieces each command needs and wires them together:
//! simulator (demo) -> MEXC adapter -> backend -> one WebSocket -> client -> TUI.
//! The embedded and the remote case run the same code: the TUI always talks to the
//! backend over a real loopback WebSocket.

use crate::backend::supervise::{TaskEnd, Watched};
use crate::backend::{self, BackendHandle, BackendInputs};
use crate::cli::{Cli, Command};
use crate::client::connection::{self, ConnectOptions};
use crate::client::{ClientEvent, ClientHandle, Subscription};
use crate::config::{Config, SessionConfig, check_bind_allowed};
use crate::exchange::{mexc, sim};
use crate::protocol::{LogEvent, StreamName};
use crate::store::{self, StoreHandle};
use crate::telemetry::{self, Telemetry};
use crate::user_error::UserError;
use color_eyre::eyre::{Result, WrapErr};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

mod scripting;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let loaded = crate::config::env_pairs(std::env::vars_os())
        .and_then(|env| Config::load(cli.global.config.as_deref(), &env, &cli.global.overrides()));
    if let Some(Command::Config { check: true, .. }) = cli.command {
        return Ok(report_check(loaded));
    }
    let cfg = loaded.map_err(|e| UserError::config(format!("configuration refused: {e}")))?;
    // Before anything starts and before the TUI takes the terminal (only the TUI records).
    let tui = matches!(cli.command, None | Some(Command::Connect { .. }));
    if let Some(dir) = cli.global.record.as_ref().filter(|_| tui) {
        crate::record::bundle::check_new_dir(dir)
            .map_err(|e| UserError::unavailable(e.to_string()))?;
    }
    let record = crate::tui::RecordOptions {
        dir: cli.global.record.clone(),
        extra_secrets: Vec::new(),
    };
    match cli.command {
        None => run_tui_embedded(cfg, cli.demo, record).await,
        Some(Command::Serve { listen }) => run_serve(cfg, cli.demo, listen).await,
        Some(Command::Connect { url, token }) => run_connect(cfg, url, token, record).await,
        Some(Command::Replay {
            dir,
            speed,
            headless,
            dump_screen,
        }) => run_replay(&cfg, dir, speed, headless, dump_screen).await,
        Some(Command::Bugreport { out, recording }) => run_bugreport(cfg, out, recording),
        Some(Command::Sim {
            listen,
            allow_remote_control,
        }) => run_sim(cfg, listen, allow_remote_control).await,
        // A running trademon's backend is followed unless --symbols asks for other sessions.
        Some(Command::Watch(args)) => {
            let discover = cli.global.symbols.is_none();
            scripting::run_watch(cfg, cli.demo, discover, args).await
        }
        Some(Command::Status(args)) => {
            let discover = cli.global.symbols.is_none();
            scripting::run_status(cfg, cli.demo, discover, args).await
        }
        Some(Command::Config { .. }) => {
            print!("{}", cfg.redacted_toml());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `config --check`: every problem on stdout, each with where its value came from; exit 2
/// when there is any. The checks are the ones start runs (`Config::load`).
fn report_check(loaded: std::result::Result<Config, crate::config::ConfigError>) -> ExitCode {
    match loaded {
        Ok(_) => {
            println!("configuration OK");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let n = e.problems.len();
            println!(
                "configuration refused: {n} problem{}",
                if n == 1 { "" } else { "s" }
            );
            for p in &e.problems {
                println!("  {p}");
            }
            ExitCode::from(crate::user_error::Kind::Config.exit_code())
        }
    }
}

/// Everything behind the WebSocket: optional simulator, adapter, backend.
pub struct Embedded {
    pub backend: BackendHandle,
    pub sim: Option<sim::SimHandle>,
    /// The MEXC adapter (its shard supervisor).
    adapter: Watched,
    /// The contract specification loader (`mexc::contracts`).
    contracts: Watched,
    /// The QuestDB writer (`None` when `questdb.enabled = false`).
    store: Option<StoreHandle>,
    /// Ends when the store's writer thread stops (its health channel closes).
    store_watch: Option<Watched>,
}

/// How long shutdown waits for the store to write or spool what it holds.
const STORE_SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

impl Embedded {
    /// A client of this backend over a real loopback WebSocket, as the TUI and the benches use.
    pub fn connect(
        &self,
        cfg: &Config,
        desired: BTreeSet<Subscription>,
    ) -> (ClientHandle, mpsc::Receiver<ClientEvent>) {
        connection::spawn(
            ConnectOptions {
                ws_url: self.backend.ws_url(),
                // A configured token applies to every client, the embedded one included.
                token: (!cfg.server.token.is_empty()).then(|| cfg.server.token.clone()),
                cfg: cfg.client.clone(),
            },
            desired,
        )
    }

    /// The first of the hub, the server, the adapter, the contracts loader and the store
    /// writer to end, logged with its cause. Pending while they all run.
    pub async fn first_end(&mut self) -> TaskEnd {
        self.backend.tasks.first_end().await
    }

    pub async fn shutdown(self) {
        self.backend.shutdown().await;
        self.adapter.abort();
        self.contracts.abort();
        if let Some(w) = &self.store_watch {
            w.abort();
        }
        // After the hub: no more rows arrive. Blocking join, so off the runtime's workers.
        if let Some(store) = self.store {
            let join = tokio::task::spawn_blocking(move || store.shutdown());
            if tokio::time::timeout(STORE_SHUTDOWN_WAIT, join)
                .await
                .is_err()
            {
                tracing::warn!(
                    event = "store.shutdown_timeout",
                    "the QuestDB writer did not stop in time; unsent rows stay in its spool"
                );
            }
        }
        if let Some(s) = self.sim {
            s.shutdown().await;
        }
    }
}

/// Start simulator (demo), adapter and backend on `listen`.
pub async fn start_embedded(
    cfg: &Config,
    demo: bool,
    listen: SocketAddr,
    log_events: mpsc::Receiver<LogEvent>,
) -> Result<Embedded> {
    let mut mexc_cfg = cfg.mexc.clone();
    let sim = if demo {
        let listener = TcpListener::bind(&cfg.sim.listen).await.map_err(|e| {
            UserError::unavailable(format!(
                "the simulator cannot listen on {} (sim.listen): {e}",
                cfg.sim.listen
            ))
        })?;
        let s = sim::start(&cfg.sim, listener)
            .await
            .wrap_err("simulator failed to start")?;
        mexc_cfg.ws_url = s.ws_url();
        mexc_cfg.rest_url = s.rest_url();
        Some(s)
    } else {
        None
    };
    let sessions: Vec<SessionConfig> = cfg.active_sessions(demo).to_vec();
    let (symbols_tx, symbols_rx) = watch::channel(BTreeSet::new());
    // The feeds (klines, depth) that clients' symbol views want; the backend keeps the set.
    let (feeds_tx, feeds_rx) = watch::channel(BTreeSet::new());
    let (market_tx, market_rx) = mpsc::channel(8192);
    // Demo contracts are the simulator's: cached apart, so they never stand in for MEXC's.
    let contracts_cache = cfg.data_dir().join(if demo {
        "demo-contracts.json"
    } else {
        "contracts.json"
    });
    let contracts = mexc::contracts::spawn(
        mexc_cfg.clone(),
        Some(contracts_cache),
        symbols_rx.clone(),
        market_tx.clone(),
    );
    let adapter = mexc::spawn(mexc_cfg, symbols_rx, feeds_rx, market_tx.clone());
    // The writer thread owns the sender of its health: the channel closes when it stops.
    let store_ended = |mut health: watch::Receiver<store::StoreHealth>| async move {
        while health.changed().await.is_ok() {}
        Err::<(), _>("its writer thread stopped")
    };
    let listener = TcpListener::bind(listen).await.map_err(|e| {
        UserError::unavailable(format!("the backend cannot listen on {listen}: {e}"))
    })?;
    // Disabled: no handle, no health, no thread, no files: exactly as without a store.
    let (store, store_health) = if cfg.questdb.enabled {
        let (h, rx) = store::spawn(&cfg.questdb, &cfg.data_dir()).map_err(|e| {
            let e = crate::store::config::redact_conf_text(&e.to_string(), &cfg.questdb.conf);
            UserError::unavailable(format!(
                "cannot start the QuestDB store ([questdb] in the config): {e}"
            ))
        })?;
        (Some(h), Some(rx))
    } else {
        (None, None)
    };
    let store_watch = store_health.clone().map(|rx| tokio::spawn(store_ended(rx)));
    let backend = backend::start(
        cfg.backend_settings(),
        cfg.build_engine()?,
        sessions,
        listener,
        BackendInputs {
            market: market_rx,
            upstream: adapter.health.clone(),
            symbols: symbols_tx,
            feeds: feeds_tx,
            log_events,
            // Demo sessions persist apart, so a demo never changes what a real run restores.
            sessions_file: Some(cfg.data_dir().join(if demo {
                "demo-sessions.json"
            } else {
                "sessions.json"
            })),
            paper_journal: Some(cfg.data_dir().join(if demo {
                "demo-paper-journal.jsonl"
            } else {
                "paper-journal.jsonl"
            })),
            store: store.clone(),
            store_health,
            market_source: if demo {
                crate::protocol::MarketSource::Simulator
            } else {
                crate::protocol::MarketSource::Mexc
            },
        },
    )
    .await;
    let backend = match backend {
        Ok(b) => b,
        Err(e) => {
            if let Some(w) = store_watch {
                w.abort();
            }
            if let Some(s) = store {
                let _ = tokio::task::spawn_blocking(move || s.shutdown()).await;
            }
            return Err(e.into());
        }
    };
    // Both end by design once the hub drops the market channel (the hub is then the cause).
    let hub_gone = move || market_tx.is_closed();
    let adapter = backend
        .tasks
        .watch_follower("mexc adapter", adapter.task, hub_gone.clone());
    let contracts = backend
        .tasks
        .watch_follower("contracts loader", contracts, hub_gone);
    let store_watch = store_watch.map(|t| backend.tasks.watch("questdb store", t));
    Ok(Embedded {
        backend,
        sim,
        adapter,
        contracts,
        store,
        store_watch,
    })
}

fn init_logs(cfg: &Config, with_events: bool) -> Result<(Telemetry, mpsc::Receiver<LogEvent>)> {
    let (tx, rx) = mpsc::channel(1024);
    let t = telemetry::init(
        &cfg.log_dir(),
        &cfg.log,
        cfg.secret_values(),
        with_events.then_some(tx),
    )?;
    Ok((t, rx))
}

/// The global streams every TUI wants before it knows the sessions.
pub fn initial_subscriptions() -> BTreeSet<Subscription> {
    [StreamName::Sessions, StreamName::Health, StreamName::Events]
        .into_iter()
        .map(|stream| Subscription {
            stream,
            session_id: None,
        })
        .collect()
}

async fn run_tui_embedded(
    cfg: Config,
    demo: bool,
    record: crate::tui::RecordOptions,
) -> Result<ExitCode> {
    let (logs, log_events) = init_logs(&cfg, true)?;
    tracing::info!(
        event = "app.start",
        demo,
        mode = "embedded",
        "trademon starting"
    );
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut embedded = start_embedded(&cfg, demo, loopback, log_events).await?;
    let _advert = advertise(&cfg, demo, &embedded);
    #[cfg(all(unix, feature = "test-hooks"))]
    kill_hub_on_sigusr1(&embedded.backend)?;
    let (client, events) = embedded.connect(&cfg, initial_subscriptions());
    // A panic anywhere already ends the process through the TUI's panic hook; this catches a
    // backend task that returns or is cancelled, which would otherwise leave the screen up
    // with nothing behind it.
    let outcome = tokio::select! {
        result = run_tui(&cfg, client, events, record) => Ok(result),
        end = embedded.first_end() => Err(end),
    };
    if outcome.is_err() {
        // The TUI was dropped mid-loop (its render thread stops with its channel): give the
        // terminal back before the cause is printed on it.
        crate::tui::terminal::restore();
    }
    embedded.shutdown().await;
    match outcome {
        Ok(result) => result.map(|_| ExitCode::SUCCESS),
        Err(end) => Ok(stopped_by(&end, &logs.log_dir)),
    }
}

async fn run_connect(
    cfg: Config,
    url: String,
    token: Option<String>,
    mut record: crate::tui::RecordOptions,
) -> Result<ExitCode> {
    // The token must never reach a recording or bug bundle.
    record.extra_secrets.extend(token.clone());
    let mut secrets = cfg.secret_values();
    secrets.extend(token.clone());
    let _logs = telemetry::init(&cfg.log_dir(), &cfg.log, secrets, None)?;
    tracing::info!(event = "app.start", mode = "connect", url = %url, "trademon connecting");
    let (client, events) = connection::spawn(
        ConnectOptions {
            ws_url: url,
            token,
            cfg: cfg.client.clone(),
        },
        initial_subscriptions(),
    );
    run_tui(&cfg, client, events, record).await?;
    Ok(ExitCode::SUCCESS)
}

/// The TUI with this config's keys and settings; a bad key binding is reported before the
/// screen is taken over, on a normal terminal.
async fn run_tui(
    cfg: &Config,
    client: ClientHandle,
    events: mpsc::Receiver<ClientEvent>,
    record: crate::tui::RecordOptions,
) -> Result<()> {
    let keymap = crate::tui::keymap::Keymap::from_config(&cfg.tui.keys)
        .map_err(|e| UserError::config(e.to_string()))?;
    crate::tui::run(&cfg.tui_settings(), keymap, client, events, record).await
}

async fn run_serve(cfg: Config, demo: bool, listen: Option<String>) -> Result<ExitCode> {
    let addr_text = listen.unwrap_or_else(|| cfg.server.listen.clone());
    let addr: SocketAddr = addr_text.parse().map_err(|_| {
        UserError::config(format!(
            "--listen {addr_text:?} is not an address like 127.0.0.1:7878"
        ))
    })?;
    check_bind_allowed(addr, &cfg.server.token).map_err(|e| UserError::config(e.to_string()))?;
    let (logs, log_events) = init_logs(&cfg, true)?;
    let mut embedded = start_embedded(&cfg, demo, addr, log_events).await?;
    let _advert = advertise(&cfg, demo, &embedded);
    #[cfg(all(unix, feature = "test-hooks"))]
    kill_hub_on_sigusr1(&embedded.backend)?;
    tracing::info!(event = "app.start", mode = "serve", demo, addr = %embedded.backend.addr, "backend listening");
    println!(
        "trademon backend listening on {} (logs in {})",
        embedded.backend.ws_url(),
        logs.log_dir.display()
    );
    if let Some(s) = &embedded.sim {
        println!("MEXC simulator on {}", s.ws_url());
    }
    let ended = tokio::select! {
        () = wait_for_shutdown_signal() => None,
        end = embedded.first_end() => Some(end),
    };
    tracing::info!(event = "app.stop", mode = "serve", "shutting down");
    embedded.shutdown().await;
    match ended {
        None => Ok(ExitCode::SUCCESS),
        Some(end) => Ok(stopped_by(&end, &logs.log_dir)),
    }
}

/// Tells `trademon watch` and `trademon status` on this machine where this backend listens
/// (`discovery`), until it stops. Without it they start their own backend: worth a warning,
/// not a refusal.
fn advertise(cfg: &Config, demo: bool, embedded: &Embedded) -> Option<crate::discovery::Published> {
    let url = crate::discovery::local_url(embedded.backend.addr);
    match crate::discovery::publish(&cfg.data_dir(), demo, &url) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(event = "discovery.write_failed", error = %e, "cannot tell scripts where the backend listens");
            None
        }
    }
}

/// A service task ended: say which and why in one line (the log has the rest) and exit 1.
/// Not color-eyre's report: its location and backtrace would point here, not at the cause.
fn stopped_by(end: &TaskEnd, log_dir: &std::path::Path) -> ExitCode {
    eprintln!(
        "trademon: stopped: {end} (see {})",
        log_dir.join("errors.log").display()
    );
    ExitCode::FAILURE
}

async fn run_sim(
    cfg: Config,
    listen: Option<String>,
    allow_remote_control: bool,
) -> Result<ExitCode> {
    let addr = listen.unwrap_or_else(|| cfg.sim.listen.clone());
    let _logs = telemetry::init(&cfg.log_dir(), &cfg.log, cfg.secret_values(), None)?;
    let listener = TcpListener::bind(&addr).await.map_err(|e| {
        UserError::unavailable(format!("the simulator cannot listen on {addr}: {e}"))
    })?;
    let control = sim::ControlAccess::for_listener(listener.local_addr()?, allow_remote_control);
    let s = sim::start_with(&cfg.sim, listener, control.clone()).await?;
    println!(
        "MEXC simulator: WebSocket {}  REST {}",
        s.ws_url(),
        s.rest_url()
    );
    match control {
        sim::ControlAccess::Enabled => println!(
            "fault control: {}  (curl {}/faults; docs/simulator.md)",
            s.control_url(),
            s.control_url()
        ),
        sim::ControlAccess::Refused(why) => println!("fault control: off ({why})"),
    }
    wait_for_shutdown_signal().await;
    s.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

async fn run_replay(
    cfg: &Config,
    path: std::path::PathBuf,
    speed: f64,
    headless: bool,
    dump_screen: bool,
) -> Result<ExitCode> {
    use crate::tui::replay::{self, Replayer};
    // For panics and what the replay code logs. A replay only reads files, so a log directory
    // that cannot be used does not stop it (the terminal still gets a panic's report).
    let _logs = telemetry::init(&cfg.log_dir(), &cfg.log, cfg.secret_values(), None).ok();
    // A recording, a bug bundle's folder or its .tar.gz; a bad one is a user error, reported
    // before the terminal is taken.
    let opened = crate::record::unpack::open(&path)
        .map_err(|e| UserError::unavailable(format!("cannot replay: {e}")))?;
    let replayer = Replayer::open(&opened.dir)
        .map_err(|e| UserError::unavailable(format!("cannot replay: {e}")))?;
    if headless {
        let screen = replay::headless_from(replayer, &opened.dir)
            .map_err(|e| UserError::unavailable(format!("cannot replay: {e}")))?;
        if dump_screen {
            print!("{}", replay::screen_text(&screen));
        }
        return Ok(ExitCode::SUCCESS);
    }
    tokio::task::spawn_blocking(move || replay::play(replayer, speed))
        .await
        .wrap_err("replay thread")??;
    // The temporary unpack directory (if any) goes only after the replay.
    drop(opened);
    Ok(ExitCode::SUCCESS)
}

fn run_bugreport(
    cfg: Config,
    out: Option<std::path::PathBuf>,
    recording: Option<std::path::PathBuf>,
) -> Result<ExitCode> {
    use crate::record::bugreport::{self, Extras, Recording};
    let redactor = crate::record::Redactor::new(cfg.secret_values());
    let extras = Extras {
        config_toml: redactor.scrub(&cfg.redacted_toml()).into_owned(),
        redactor,
        log_dir: cfg.log_dir(),
        log_lines: cfg.record.bug_log_lines,
        reason: "trademon bugreport".into(),
    };
    let rec = match recording.or_else(|| bugreport::newest_recording(&cfg.record_dir())) {
        Some(d) => Recording::Dir(d),
        None => Recording::None,
    };
    let out = out.unwrap_or_else(|| std::path::PathBuf::from("."));
    let path = bugreport::write(&out, rec, &extras).map_err(|e| {
        UserError::unavailable(format!(
            "cannot write the bug report into {}: {e}",
            out.display()
        ))
    })?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Test builds only (the `test-hooks` feature, never in a release build): SIGUSR1 aborts the
/// hub task, so tests/supervision.rs can check that a dead hub stops `serve` and the embedded
/// TUI with a logged cause. A real cause would be better, but no input ends the hub short of
/// a bug; a switch that kills it is what the feature keeps out of the product.
#[cfg(all(unix, feature = "test-hooks"))]
fn kill_hub_on_sigusr1(backend: &BackendHandle) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut usr1 = signal(SignalKind::user_defined1()).wrap_err("SIGUSR1 handler")?;
    let hub = backend.hub_abort_handle();
    tokio::spawn(async move {
        if usr1.recv().await.is_some() {
            hub.abort();
        }
    });
    Ok(())
}

/// Ctrl-C, SIGTERM or SIGHUP.
pub async fn wait_for_shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let hup = signal(SignalKind::hangup());
        match (term, hup) {
            (Ok(mut term), Ok(mut hup)) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
