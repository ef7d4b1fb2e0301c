//! Wiring for `trademon watch` and `trademon status`: start the embedded backend (or take
//! `--connect URL`), open the one WebSocket, hand its events to `script`, and turn the outcome
//! into an exit code. Logs go to the log files; stdout carries only the data.

use super::{Embedded, init_logs, start_embedded, stopped_by, wait_for_shutdown_signal};
use crate::backend::supervise::TaskEnd;
use crate::cli::{BackendArgs, StatusArgs, WatchArgs};
use crate::client::connection::{self, ConnectOptions};
use crate::client::{ClientEvent, ClientHandle, Subscription};
use crate::config::Config;
use crate::script::status::{self, StatusOptions};
use crate::script::watch::{self, WatchEnd, WatchOptions};
use crate::script::{status_text, streams};
use crate::telemetry::{self, Telemetry};
use crate::user_error::UserError;
use color_eyre::eyre::Result;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// The backend a script command talks to, and its one client.
struct Link {
    embedded: Option<Embedded>,
    client: ClientHandle,
    events: mpsc::Receiver<ClientEvent>,
    url: String,
    logs: Telemetry,
}

impl Link {
    /// Resolves when an embedded backend's task ends (never for `--connect`).
    async fn backend_end(&mut self) -> TaskEnd {
        match self.embedded.as_mut() {
            Some(e) => e.first_end().await,
            None => std::future::pending().await,
        }
    }

    /// Stops an embedded backend; the log stays open until the Link is dropped.
    async fn shutdown(&mut self) {
        if let Some(e) = self.embedded.take() {
            e.shutdown().await;
        }
    }
}

/// Where a script command's data comes from.
enum Target {
    Remote { url: String, token: Option<String> },
    Embedded,
}

/// `--connect URL`; else the backend a running trademon advertises (`discovery`), unless
/// `--symbols` asks for sessions of its own; else an embedded backend.
async fn target(cfg: &Config, demo: bool, args: &BackendArgs, discover: bool) -> Result<Target> {
    if let Some(url) = &args.connect {
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(UserError::config(format!(
                "--connect {url:?} is not a WebSocket URL like ws://127.0.0.1:7878/ws"
            ))
            .into());
        }
        return Ok(Target::Remote {
            url: url.clone(),
            token: args.token.clone(),
        });
    }
    if discover {
        let probe = Duration::from_millis(cfg.script.discover_probe_ms);
        if let Some(advert) = crate::discovery::find(&cfg.data_dir(), demo, probe).await {
            return Ok(Target::Remote {
                url: advert.url,
                // --token / TRADEMON_TOKEN, else this config's token (the advertising backend
                // runs on this machine, most likely with the same config).
                token: args
                    .token
                    .clone()
                    .or_else(|| (!cfg.server.token.is_empty()).then(|| cfg.server.token.clone())),
            });
        }
    }
    Ok(Target::Embedded)
}

async fn open(
    cfg: &Config,
    demo: bool,
    target: Target,
    desired: BTreeSet<Subscription>,
    mode: &'static str,
) -> Result<Link> {
    match target {
        Target::Remote { url, token } => {
            let mut secrets = cfg.secret_values();
            secrets.extend(token.clone());
            let logs = telemetry::init(&cfg.log_dir(), &cfg.log, secrets, None)?;
            tracing::info!(event = "app.start", mode, url = %url, "trademon connecting");
            let (client, events) = connection::spawn(
                ConnectOptions {
                    ws_url: url.clone(),
                    token,
                    cfg: cfg.client.clone(),
                },
                desired,
            );
            Ok(Link {
                embedded: None,
                client,
                events,
                // A `?token=` must not reach stdout (the client's status hides it the same way).
                url: url
                    .split_once('?')
                    .map_or(url.as_str(), |(base, _)| base)
                    .to_string(),
                logs,
            })
        }
        Target::Embedded => {
            let (logs, log_events) = init_logs(cfg, true)?;
            tracing::info!(event = "app.start", demo, mode, "trademon starting");
            let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
            let embedded = start_embedded(cfg, demo, loopback, log_events).await?;
            let (client, events) = embedded.connect(cfg, desired);
            Ok(Link {
                url: embedded.backend.ws_url(),
                embedded: Some(embedded),
                client,
                events,
                logs,
            })
        }
    }
}

pub(super) async fn run_watch(
    cfg: Config,
    demo: bool,
    discover: bool,
    args: WatchArgs,
) -> Result<ExitCode> {
    debug_assert!(args.json, "clap requires --json");
    let opts = WatchOptions {
        streams: dedup(args.streams),
        session: args.session,
        close_timeout: Duration::from_millis(cfg.script.close_timeout_ms),
    };
    let to = target(&cfg, demo, &args.backend, discover).await?;
    let mut link = open(&cfg, demo, to, watch::initial_subscriptions(&opts), "watch").await?;
    let client = link.client.clone();
    let events = std::mem::replace(&mut link.events, mpsc::channel(1).1);
    let ended = {
        let watching = watch::run(
            &opts,
            client,
            events,
            tokio::io::stdout(),
            wait_for_shutdown_signal(),
        );
        tokio::select! {
            end = watching => Ok(end),
            end = link.backend_end() => Err(end),
        }
    };
    let log_dir = link.logs.log_dir.clone();
    link.shutdown().await;
    let end = match ended {
        Ok(end) => end,
        Err(task) => return Ok(stopped_by(&task, &log_dir)),
    };
    tracing::info!(event = "app.stop", mode = "watch", end = ?end, "watch ended");
    match end {
        WatchEnd::Stopped | WatchEnd::StdoutClosed => Ok(ExitCode::SUCCESS),
        WatchEnd::UnknownSession { id, valid } => Err(UserError::config(format!(
            "--session {id:?}: the backend has no such session; valid sessions: {}",
            if valid.is_empty() {
                "none".to_string()
            } else {
                valid.join(", ")
            }
        ))
        .into()),
        WatchEnd::Refused(why) => {
            eprintln!("trademon: {why} (not reconnecting)");
            Ok(ExitCode::FAILURE)
        }
        WatchEnd::WriteFailed(e) => {
            eprintln!("trademon: cannot write to stdout: {e}");
            Ok(ExitCode::FAILURE)
        }
        WatchEnd::LinkEnded => {
            eprintln!("trademon: the connection to the backend ended");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `--stream signals,signals` prints each message once.
fn dedup(streams: Vec<crate::protocol::StreamName>) -> Vec<crate::protocol::StreamName> {
    let mut out = Vec::new();
    for s in streams {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.is_empty() {
        // clap's default applies only when the flag is absent; `--stream ""` is refused by the
        // parser, so this is only a guard.
        out.extend(
            streams::DEFAULT_STREAMS
                .split(',')
                .filter_map(|s| streams::parse_stream(s).ok()),
        );
    }
    out
}

pub(super) async fn run_status(
    cfg: Config,
    demo: bool,
    discover: bool,
    args: StatusArgs,
) -> Result<ExitCode> {
    let timeout_ms = args.timeout_ms.unwrap_or(cfg.script.status_timeout_ms);
    if timeout_ms == 0 {
        return Err(UserError::config("--timeout-ms must be above 0").into());
    }
    let opts = StatusOptions {
        timeout: Duration::from_millis(timeout_ms),
        stale_after_ms: cfg.tui.stale_after_ms,
        close_timeout: Duration::from_millis(cfg.script.close_timeout_ms),
    };
    let to = target(&cfg, demo, &args.backend, discover).await?;
    let mut link = open(&cfg, demo, to, status::initial_subscriptions(), "status").await?;
    let client = link.client.clone();
    let events = std::mem::replace(&mut link.events, mpsc::channel(1).1);
    let url = link.url.clone();
    let collected = {
        let collecting = status::collect(&opts, &url, client, events);
        tokio::select! {
            r = collecting => Ok(r),
            end = link.backend_end() => Err(end),
        }
    };
    let log_dir = link.logs.log_dir.clone();
    link.shutdown().await;
    let report = match collected {
        Ok(r) => r,
        Err(task) => return Ok(stopped_by(&task, &log_dir)),
    };
    tracing::info!(event = "app.stop", mode = "status", level = ?report.level, "status done");
    let text = if args.json {
        let mut t = serde_json::to_string(&report)?;
        t.push('\n');
        t
    } else {
        status_text::render(&report)
    };
    let mut out = tokio::io::stdout();
    // A closed stdout only loses the text; the exit code still says it.
    let _ = out.write_all(text.as_bytes()).await;
    let _ = out.flush().await;
    Ok(ExitCode::from(report.exit_code))
}
