//! Command-line interface (clap derive). Parsing only; `launch` does the work.

use crate::config::{ColorMode, FlagOverrides};
use crate::protocol::StreamName;
use crate::script::streams;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  trademon --demo                          offline demo: built-in MEXC simulator, two sessions
  trademon --symbols BTC_USDT,ETH_USDT     watch two live MEXC contracts
  trademon serve --listen 127.0.0.1:7878   backend only (headless)
  trademon connect ws://127.0.0.1:7878/ws  TUI only, to a running backend
  trademon sim --listen 127.0.0.1:9001     the MEXC simulator alone
  trademon config --print                  show the effective configuration (secrets redacted)
  trademon --demo --record /tmp/rec        record the session (R toggles recording at any time)
  trademon replay /tmp/rec --speed 4       replay a recording through the same UI code
  trademon replay /tmp/rec --headless --dump-screen   print the final screen as text
  trademon replay trademon-bug-<time>.tar.gz   replay the recording inside a bug bundle
  trademon bugreport                       write trademon-bug-<time>.tar.gz (logs, config, recording)
  trademon watch --json --stream signals   the embedded backend's signals as NDJSON (pipe into jq)
  trademon watch --json --connect ws://127.0.0.1:7878/ws --session majors
                                           a running backend's signals and positions of one session
  trademon status --connect ws://127.0.0.1:7878/ws
                                           health summary: exit 0 when Live, 1 degraded or down
  trademon status --json --demo            the same as one JSON object, embedded demo backend
  NO_COLOR=1 trademon --demo               no colours (states still shown by text and symbol)";

#[derive(Debug, Parser)]
#[command(
    name = "trademon",
    version,
    about = "Terminal trading monitor for MEXC futures: paper-trading sessions, one WebSocket, honest link health",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Feed the embedded backend from the built-in MEXC simulator (no network needed).
    #[arg(long, global = true)]
    pub demo: bool,

    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Config file (default: the platform config dir's trademon/config.toml, if present).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// MEXC futures WebSocket URL.
    #[arg(long, global = true, value_name = "URL")]
    pub mexc_url: Option<String>,

    /// MEXC futures REST base URL.
    #[arg(long, global = true, value_name = "URL")]
    pub mexc_rest_url: Option<String>,

    /// Replace the configured sessions with one ad-hoc session watching these symbols.
    #[arg(long, global = true, value_name = "LIST", value_delimiter = ',')]
    pub symbols: Option<Vec<String>>,

    /// Colour mode: auto, 16, 256, truecolor or none (NO_COLOR is honoured under auto).
    #[arg(long, global = true, value_name = "MODE")]
    pub color: Option<ColorMode>,

    /// Maximum frames per second drawn to the terminal.
    #[arg(long, global = true, value_name = "N")]
    pub fps: Option<u32>,

    /// Directory for trademon.log and errors.log.
    #[arg(long, global = true, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,

    /// Record the TUI session from the start into this bundle directory (screen.cast,
    /// events.ndjson, manifest.json). `R` stops; later recordings go under record.dir.
    #[arg(long, global = true, value_name = "DIR")]
    pub record: Option<PathBuf>,
}

impl GlobalArgs {
    pub fn overrides(&self) -> FlagOverrides {
        FlagOverrides {
            mexc_url: self.mexc_url.clone(),
            mexc_rest_url: self.mexc_rest_url.clone(),
            symbols: self.symbols.clone().map(|v| {
                v.into_iter()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            }),
            color: self.color,
            fps: self.fps,
            log_dir: self.log_dir.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the backend only (headless): MEXC adapter, sessions, hub, WebSocket + REST server.
    Serve {
        /// Listen address (default: server.listen). Non-loopback needs server.token.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Run the TUI only, connected to a running backend.
    Connect {
        /// Backend WebSocket URL, e.g. ws://127.0.0.1:7878/ws
        url: String,
        /// Bearer token when the backend requires one (or TRADEMON_TOKEN).
        #[arg(long, env = "TRADEMON_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// Run the MEXC futures simulator alone (WebSocket /edge, REST and the /control fault API
    /// on one port; see docs/simulator.md).
    Sim {
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Serve the /control fault API even when listening on a non-loopback address
        /// (it is unauthenticated and can drop every connection).
        #[arg(long)]
        allow_remote_control: bool,
    },
    /// Replay a recording through the same update/view code, with the recorded clock.
    Replay {
        /// A recording directory (manifest.json, screen.cast, events.ndjson), a bug bundle
        /// (trademon-bug-<time>.tar.gz) or the folder it unpacks to.
        #[arg(value_name = "PATH")]
        dir: PathBuf,
        /// Playback speed factor (2 = twice as fast).
        #[arg(long, default_value_t = 1.0, value_name = "N")]
        speed: f64,
        /// No terminal: render into an in-memory screen at the recorded size.
        #[arg(long)]
        headless: bool,
        /// With --headless: print the final screen as text.
        #[arg(long, requires = "headless")]
        dump_screen: bool,
    },
    /// Write trademon-bug-<time>.tar.gz: the newest recording, recent logs, redacted config,
    /// versions. (In the TUI, `B` does the same with the flight recorder's last minutes.)
    Bugreport {
        /// Where to write it (default: the current directory).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Recording to include (default: the newest under record.dir).
        #[arg(long, value_name = "DIR")]
        recording: Option<PathBuf>,
    },
    /// Print the chosen streams as NDJSON on stdout: the backend's own messages (a
    /// full_update, then deltas with seq), plus `link` and `resync` lines (docs/protocol.md,
    /// "Scripting"). From --connect URL, the running trademon's backend, or an embedded one
    /// (see --connect). Ctrl-C closes the WebSocket (1000) and exits 0; so does a closed
    /// stdout.
    Watch(WatchArgs),
    /// Print one health summary (link, sessions, positions, PnL, MEXC health) and exit 0 when
    /// Live, 1 when degraded, without market data or unreachable (README, "Scripting").
    Status(StatusArgs),
    /// Show or check the effective configuration.
    Config {
        /// Print the effective configuration as TOML (secrets redacted).
        #[arg(long, conflicts_with = "check")]
        print: bool,
        /// Validate the configuration and exit non-zero with the reason if it is invalid.
        #[arg(long)]
        check: bool,
    },
}

/// Where `watch` and `status` get their data: a running backend, or an embedded one.
#[derive(Debug, Args, Clone, Default)]
pub struct BackendArgs {
    /// A running backend's WebSocket URL (e.g. ws://127.0.0.1:7878/ws). Default: the backend
    /// of a trademon (TUI or serve) already running here with the same data dir and --demo,
    /// else an embedded one of its own (always with --symbols).
    #[arg(long, value_name = "URL")]
    pub connect: Option<String>,
    /// Bearer token when the backend requires one (or TRADEMON_TOKEN; default: server.token).
    #[arg(long, env = "TRADEMON_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct WatchArgs {
    /// Print NDJSON, one message per line (the only output of watch; required so a script
    /// says what it expects).
    #[arg(long, required = true)]
    pub json: bool,
    /// Streams to print, comma-separated: sessions, market_data, state_machines, health,
    /// events, indicators, conditions, signals, positions.
    #[arg(
        long = "stream",
        value_name = "LIST",
        value_delimiter = ',',
        default_value = streams::DEFAULT_STREAMS,
        value_parser = streams::parse_stream
    )]
    pub streams: Vec<StreamName>,
    /// Only this session's per-session streams (default: every session the backend has,
    /// including ones it adds later).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Wait at most this long for Live (default: script.status_timeout_ms).
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    #[command(flatten)]
    pub backend: BackendArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_parse_after_subcommand() {
        let cli = Cli::try_parse_from([
            "trademon",
            "serve",
            "--demo",
            "--symbols",
            "BTC_USDT, ETH_USDT",
            "--color",
            "none",
        ])
        .unwrap();
        assert!(cli.demo);
        let o = cli.global.overrides();
        assert_eq!(o.symbols.unwrap(), vec!["BTC_USDT", "ETH_USDT"]);
        assert_eq!(o.color, Some(ColorMode::None));
        assert!(matches!(cli.command, Some(Command::Serve { listen: None })));
    }

    #[test]
    fn watch_takes_a_stream_list_and_defaults_to_signals_and_positions() {
        let cli = Cli::try_parse_from(["trademon", "watch", "--json"]).unwrap();
        let Some(Command::Watch(w)) = cli.command else {
            panic!("not watch");
        };
        assert_eq!(w.streams, vec![StreamName::Signals, StreamName::Positions]);
        let cli = Cli::try_parse_from([
            "trademon",
            "watch",
            "--json",
            "--stream",
            "events,health",
            "--session",
            "majors",
            "--connect",
            "ws://127.0.0.1:7878/ws",
        ])
        .unwrap();
        let Some(Command::Watch(w)) = cli.command else {
            panic!("not watch");
        };
        assert_eq!(w.streams, vec![StreamName::Events, StreamName::Health]);
        assert_eq!(w.session.as_deref(), Some("majors"));
        assert_eq!(w.backend.connect.as_deref(), Some("ws://127.0.0.1:7878/ws"));
    }

    #[test]
    fn an_unknown_stream_is_a_usage_error_naming_the_valid_ones() {
        let e = Cli::try_parse_from(["trademon", "watch", "--json", "--stream", "signals,nope"])
            .unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(text.contains("unknown stream \"nope\""), "{text}");
        assert!(
            text.contains("valid streams: sessions, market_data"),
            "{text}"
        );
        // Without --json watch says what is missing.
        let e = Cli::try_parse_from(["trademon", "watch"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("--json"), "{e}");
    }

    #[test]
    fn bad_colour_mode_is_refused() {
        let e = Cli::try_parse_from(["trademon", "--color", "purple"]).unwrap_err();
        assert!(e.to_string().contains("purple"));
    }
}
