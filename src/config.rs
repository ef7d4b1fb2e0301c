//! Typed configuration, layered: embedded defaults < user file < `TRADEMON_*` env < flags.
//!
//! Every timer and limit in trademon is a key here. `validate` refuses inconsistent values with
//! a message naming the key, before anything starts. `docs/config.md` lists every key.

use crate::engine::{Engine, EngineSettings, StrategySettings};
pub use crate::protocol::is_valid_symbol;
pub use crate::store::config::{FsyncPolicy, QuestdbConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
pub use trademon_backend::{
    BackendSettings, ServerConfig, SessionConfig, ViewsConfig, check_bind_allowed,
};
pub use trademon_client::ClientConfig;
pub use trademon_mexc::MexcConfig;
pub use trademon_sim::SimConfig;
pub use trademon_tui::alerts::AlertsConfig;
pub use trademon_tui::settings::{ColorMode, KeysConfig, RecordConfig, TuiConfig, TuiSettings};

pub const DEFAULTS_TOML: &str = include_str!("../assets/default-config.toml");

/// Keys whose values never reach a log, a recording or a bug bundle. The alert hook's command
/// may carry a token (a webhook URL with its key); it is only in the config, which prints it
/// redacted (not a scrubbed value: a short command such as `cat` would scrub ordinary words).
pub const SECRET_KEYS: &[&str] = &["server.token", "alerts.command"];

const ENV_PREFIX: &str = "TRADEMON_";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub client: ClientConfig,
    pub mexc: MexcConfig,
    pub sim: SimConfig,
    pub tui: TuiConfig,
    /// `[alerts]`: bell, banner and hook per kind of alert (the TUI's).
    pub alerts: AlertsConfig,
    pub log: LogConfig,
    pub data: DataConfig,
    /// Engine-wide settings (`[engine]`), handed to `Engine::new` as they are.
    #[serde(default)]
    pub engine: EngineSettings,
    /// Strategies by name (`[strategies.<name>]`); `default` is built in unless defined here.
    #[serde(default)]
    pub strategies: BTreeMap<String, StrategySettings>,
    pub questdb: QuestdbConfig,
    pub record: RecordConfig,
    pub views: ViewsConfig,
    /// `trademon watch` and `trademon status` (`config/script.rs`).
    pub script: ScriptConfig,
    #[serde(default)]
    pub sessions: Vec<SessionConfig>,
    #[serde(default)]
    pub demo_sessions: Vec<SessionConfig>,
}

/// Action name -> key names (`q`, `ctrl-c`, `tab`, `backtab`, `up`, `?`, `R`, `f1`...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub dir: String,
    pub level: String,
    /// When `trademon.log` and `errors.log` start afresh (the old one becomes `<name>.1`).
    pub rotation: LogRotation,
    /// With `rotation = "size"`: a file is rotated before it would grow past this.
    pub max_bytes: u64,
    /// Files kept per log, the live one included; older ones are removed.
    pub max_files: u32,
}

/// `log.rotation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogRotation {
    /// Past `log.max_bytes`.
    Size,
    /// At the first line of a new UTC day.
    Daily,
    /// Never: one file per log grows without bound.
    Never,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub dir: String,
    /// The paper journal (`<data dir>/paper-journal.jsonl`) is compacted once it grows past
    /// this many bytes.
    pub paper_journal_max_bytes: u64,
}

/// Checks `[questdb]` even when disabled, so a typo surfaces before someone turns the store on.
fn check_questdb(p: &mut Checks, q: &QuestdbConfig) {
    if let Err(e) = crate::store::config::parse_conf(&q.conf) {
        // The message may quote the string; it must not show its credentials.
        let e = crate::store::config::redact_conf_text(&e.to_string(), &q.conf);
        p.fail("questdb.conf", format!("questdb.conf: {e}"));
    }
    let url_ok = q.exec_url.is_empty()
        || q.exec_url.starts_with("http://")
        || q.exec_url.starts_with("https://");
    if !url_ok {
        p.fail(
            "questdb.exec_url",
            format!(
                "questdb.exec_url {:?} must start with http:// or https:// (or be empty)",
                q.exec_url
            ),
        );
    }
    p.positive("questdb.spool_max_mb", q.spool_max_mb);
    p.positive("questdb.flush_rows", q.flush_rows as u64);
    p.positive("questdb.flush_age_ms", q.flush_age_ms);
    p.positive("questdb.retry_base_ms", q.retry_base_ms);
    p.positive("questdb.channel_capacity", q.channel_capacity as u64);
    p.positive("questdb.request_timeout_ms", q.request_timeout_ms);
    if q.retry_cap_ms < q.retry_base_ms {
        p.fail(
            "questdb.retry_cap_ms",
            format!(
                "questdb.retry_cap_ms ({}) must not be below questdb.retry_base_ms ({})",
                q.retry_cap_ms, q.retry_base_ms
            ),
        );
    }
    if q.flush_rows > 1_000_000 {
        p.fail(
            "questdb.flush_rows",
            "questdb.flush_rows must be at most 1000000 (one request per flush)",
        );
    }
}

/// Command-line values that override everything else.
#[derive(Debug, Clone, Default)]
pub struct FlagOverrides {
    pub mexc_url: Option<String>,
    pub mexc_rest_url: Option<String>,
    pub symbols: Option<Vec<String>>,
    pub color: Option<ColorMode>,
    pub fps: Option<u32>,
    pub log_dir: Option<PathBuf>,
}

mod origin;
mod script;
pub use origin::{ConfigError, Origin, Problem, Sources};
pub use script::ScriptConfig;

/// Problems collected by `Config::check`, all of them, not the first.
#[derive(Debug, Default)]
struct Checks {
    problems: Vec<Problem>,
}

impl Checks {
    fn fail(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem::new(key, message));
    }

    fn positive(&mut self, key: &str, v: u64) {
        if v == 0 {
            self.fail(key, format!("{key} must be above 0"));
        }
    }
}

impl Config {
    /// The embedded defaults alone (always valid; a test proves it).
    pub fn defaults() -> Config {
        Config::from_layers(None, &[]).unwrap_or_else(|e| panic!("embedded defaults invalid: {e}"))
    }

    /// Load from the layers and check the result. `file`: explicit path (must exist) or the
    /// platform config file if present. `env`: `(name, value)` pairs, normally
    /// `std::env::vars()`. On refusal every problem is reported, each with the file line,
    /// variable or flag its value came from.
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
        flags: &FlagOverrides,
    ) -> Result<Config, ConfigError> {
        let user_file = match file {
            Some(p) => Some(read_file(p)?),
            None => match default_config_path() {
                Some(p) if p.exists() => Some(read_file(&p)?),
                _ => None,
            },
        };
        let user_file = user_file.as_ref().map(|(p, s)| (p.as_path(), s.as_str()));
        let sources = Sources::new(user_file, env).with_flags(flags);
        let mut cfg = Config::merge_layers(user_file, env, &sources)?;
        cfg.apply_flags(flags);
        let problems = cfg.check();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            let mut problems: Vec<Problem> =
                problems.into_iter().map(|p| sources.locate(p)).collect();
            // In file order, then the environment, flags and defaults.
            problems.sort_by_key(|p| match &p.origin {
                Some(Origin::File { line, .. }) => (0, *line),
                Some(Origin::Env(_)) => (1, 0),
                Some(Origin::Flag(_)) => (2, 0),
                None => (3, 0),
            });
            Err(ConfigError { problems })
        }
    }

    /// Merge defaults, an optional user file `(path, text)` and env overrides; no validation.
    pub fn from_layers(
        user_file: Option<(&Path, &str)>,
        env: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        Config::merge_layers(user_file, env, &Sources::new(user_file, env))
    }

    fn merge_layers(
        user_file: Option<(&Path, &str)>,
        env: &[(String, String)],
        sources: &Sources<'_>,
    ) -> Result<Config, ConfigError> {
        let mut merged: toml::Table = DEFAULTS_TOML
            .parse()
            .map_err(|e| ConfigError::msg(format!("embedded defaults: {e}")))?;
        if let Some((path, text)) = user_file {
            let user: toml::Table = text.parse().map_err(|_| {
                // Every syntax error, each at its line (the parser recovers and goes on).
                let (_, errors) = toml::de::DeTable::parse_recoverable(text);
                let problems = errors
                    .iter()
                    .map(|e| {
                        let origin = match e.span() {
                            Some(span) => sources.file_line(span.start),
                            None => Some(Origin::File {
                                path: path.to_path_buf(),
                                line: 1,
                            }),
                        };
                        Problem::new("", format!("not valid TOML: {}", e.message())).at(origin)
                    })
                    .collect::<Vec<_>>();
                if problems.is_empty() {
                    ConfigError::msg(format!("{}: not valid TOML", path.display()))
                } else {
                    ConfigError { problems }
                }
            })?;
            merge_tables(&mut merged, user);
        }
        let mut problems = Vec::new();
        for (name, value) in env {
            if let Err(p) = apply_env(&mut merged, name, value) {
                problems.push(p);
            }
        }
        if problems.is_empty() {
            match Config::deserialize(toml::Value::Table(merged.clone())) {
                Ok(cfg) => return Ok(cfg),
                Err(whole) => {
                    problems = deserialize_problems(&merged);
                    if problems.is_empty() {
                        problems.push(Problem::new("", whole.message().trim().to_string()));
                    }
                }
            }
        }
        Err(ConfigError {
            problems: problems.into_iter().map(|p| sources.locate(p)).collect(),
        })
    }

    pub fn apply_flags(&mut self, flags: &FlagOverrides) {
        if let Some(u) = &flags.mexc_url {
            self.mexc.ws_url = u.clone();
        }
        if let Some(u) = &flags.mexc_rest_url {
            self.mexc.rest_url = u.clone();
        }
        if let Some(c) = flags.color {
            self.tui.color = c;
        }
        if let Some(f) = flags.fps {
            self.tui.fps = f;
        }
        if let Some(d) = &flags.log_dir {
            self.log.dir = d.display().to_string();
        }
        if let Some(symbols) = &flags.symbols {
            let adhoc = SessionConfig {
                id: "watch".into(),
                name: "Watch".into(),
                strategy: crate::engine::DEFAULT_STRATEGY.to_string(),
                symbols: symbols.clone(),
            };
            self.sessions = vec![adhoc.clone()];
            self.demo_sessions = vec![adhoc];
        }
    }

    /// Refuse values that cannot work together: every problem `check` finds.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = self.check();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Every problem with this configuration, all at once, each naming its key: the values
    /// below, `[tui.keys]` as the TUI parses them, sessions, strategies and conditions as the
    /// engine compiles them, and `questdb.conf`. Start runs exactly this (through `load`), so
    /// `config --check` passes what start accepts and nothing else.
    pub fn check(&self) -> Vec<Problem> {
        let mut p = Checks::default();
        self.check_values(&mut p);
        for e in crate::tui::keymap::check(&self.tui.keys) {
            p.fail(&e.config_key(), e.to_string());
        }
        self.check_sessions_and_strategies(&mut p);
        p.problems
    }

    fn check_values(&self, p: &mut Checks) {
        for (key, message) in self.script.problems() {
            p.fail(key, message);
        }
        let c = &self.client;
        p.positive("client.ping_interval_ms", c.ping_interval_ms);
        p.positive("client.pong_timeout_ms", c.pong_timeout_ms);
        p.positive("client.backoff_base_ms", c.backoff_base_ms);
        p.positive("client.poll_interval_ms", c.poll_interval_ms);
        p.positive("client.connect_timeout_ms", c.connect_timeout_ms);
        // 0 would retry in a tight loop for the whole window.
        p.positive("client.restart_retry_max_ms", c.restart_retry_max_ms);
        if c.slow_after_missed == 0 {
            p.fail(
                "client.slow_after_missed",
                "client.slow_after_missed must be at least 1",
            );
        }
        if c.reconnect_after_missed <= c.slow_after_missed {
            p.fail("client.reconnect_after_missed", format!(
                "client.reconnect_after_missed ({}) must be above client.slow_after_missed ({}): \
                 a link has to show Slow before it is dropped",
                c.reconnect_after_missed, c.slow_after_missed
            ));
        }
        if c.backoff_cap_ms < c.backoff_base_ms {
            p.fail(
                "client.backoff_cap_ms",
                format!(
                    "client.backoff_cap_ms ({}) must not be below client.backoff_base_ms ({})",
                    c.backoff_cap_ms, c.backoff_base_ms
                ),
            );
        }
        if c.poll_after_failures == 0 {
            p.fail(
                "client.poll_after_failures",
                "client.poll_after_failures must be at least 1",
            );
        }

        let s = &self.server;
        p.positive("server.ping_interval_ms", s.ping_interval_ms);
        // Saturating: user numbers up to i64::MAX reach here; a plain `*` panicked in debug
        // builds and wrapped in release, letting a nonsense config pass (found by proptest).
        if s.idle_timeout_ms < s.ping_interval_ms.saturating_mul(2) {
            p.fail("server.idle_timeout_ms", format!(
                "server.idle_timeout_ms ({}) must be at least twice server.ping_interval_ms ({})",
                s.idle_timeout_ms, s.ping_interval_ms
            ));
        }
        // Layered timeouts: the client notices a dead link before the backend gives up
        // on the client, and the backend's upstream deadline is the longest.
        let client_detect = c
            .ping_interval_ms
            .saturating_mul(u64::from(c.reconnect_after_missed));
        if client_detect >= s.idle_timeout_ms {
            p.fail("client.ping_interval_ms", format!(
                "client.ping_interval_ms x client.reconnect_after_missed ({client_detect} ms) must be \
                 below server.idle_timeout_ms ({} ms): the client's own pings keep the server link alive",
                s.idle_timeout_ms
            ));
        }
        if s.max_frame_bytes < 1024 {
            p.fail(
                "server.max_frame_bytes",
                "server.max_frame_bytes must be at least 1024",
            );
        }
        p.positive(
            "server.client_queue_max_msgs",
            s.client_queue_max_msgs as u64,
        );
        p.positive(
            "server.client_queue_max_bytes",
            s.client_queue_max_bytes as u64,
        );
        p.positive("server.write_timeout_ms", s.write_timeout_ms);
        p.positive("server.max_ops_per_s", u64::from(s.max_ops_per_s));
        p.positive("server.max_clients", u64::from(s.max_clients));
        p.positive("server.max_pings_per_s", u64::from(s.max_pings_per_s));
        p.positive("server.health_interval_ms", s.health_interval_ms);
        p.positive("views.candles_max", self.views.candles_max as u64);
        p.positive("views.tape_max", self.views.tape_max as u64);
        p.positive("views.book_interval_ms", self.views.book_interval_ms);
        if s.max_in_flight_bytes < 4096 {
            p.fail(
                "server.max_in_flight_bytes",
                "server.max_in_flight_bytes must be at least 4096",
            );
        }
        match s.listen.parse::<SocketAddr>() {
            Err(_) => p.fail(
                "server.listen",
                format!(
                    "server.listen {:?} is not an address like 127.0.0.1:7878",
                    s.listen
                ),
            ),
            // `serve` refuses this at start; say so now.
            Ok(addr) => {
                if let Err(e) = check_bind_allowed(addr, &s.token) {
                    p.fail("server.listen", format!("server.listen: {e}"));
                }
            }
        }

        let m = &self.mexc;
        if !(m.ws_url.starts_with("ws://") || m.ws_url.starts_with("wss://")) {
            p.fail(
                "mexc.ws_url",
                format!("mexc.ws_url {:?} must start with ws:// or wss://", m.ws_url),
            );
        }
        if !(m.rest_url.starts_with("http://") || m.rest_url.starts_with("https://")) {
            p.fail(
                "mexc.rest_url",
                format!(
                    "mexc.rest_url {:?} must start with http:// or https://",
                    m.rest_url
                ),
            );
        }
        p.positive("mexc.ping_interval_ms", m.ping_interval_ms);
        if m.ping_interval_ms > 30_000 {
            p.fail("mexc.ping_interval_ms", format!(
                "mexc.ping_interval_ms ({}) must be at most 30000: MEXC closes a socket 60 s after the last ping",
                m.ping_interval_ms
            ));
        }
        if m.silence_reconnect_ms <= s.idle_timeout_ms {
            p.fail(
                "mexc.silence_reconnect_ms",
                format!(
                    "mexc.silence_reconnect_ms ({}) must be above server.idle_timeout_ms ({}): \
                 upstream timeouts are the outermost layer",
                    m.silence_reconnect_ms, s.idle_timeout_ms
                ),
            );
        }
        if m.backoff_cap_ms < m.backoff_base_ms {
            p.fail(
                "mexc.backoff_cap_ms",
                "mexc.backoff_cap_ms must not be below mexc.backoff_base_ms",
            );
        }
        check_mexc_watchdogs(p, m);
        check_mexc_feeds(p, m);

        let sim = &self.sim;
        p.positive("sim.ticker_interval_ms", sim.ticker_interval_ms);
        p.positive("sim.heartbeat_timeout_ms", sim.heartbeat_timeout_ms);
        let max_symbols = crate::exchange::sim::market::MAX_SYMBOLS;
        if !(1..=max_symbols).contains(&sim.symbols) {
            p.fail(
                "sim.symbols",
                format!(
                    "sim.symbols ({}) must be between 1 and {max_symbols}",
                    sim.symbols
                ),
            );
        }
        if !(sim.trades_per_s.is_finite() && sim.trades_per_s >= 0.0) {
            p.fail(
                "sim.trades_per_s",
                "sim.trades_per_s must be a non-negative number",
            );
        }
        if !(0.0..=1.0).contains(&sim.pump_chance_per_s) {
            p.fail(
                "sim.pump_chance_per_s",
                "sim.pump_chance_per_s must be between 0 and 1",
            );
        }

        if !(1..=120).contains(&self.tui.fps) {
            p.fail(
                "tui.fps",
                format!("tui.fps ({}) must be between 1 and 120", self.tui.fps),
            );
        }
        p.positive("tui.stale_after_ms", self.tui.stale_after_ms);
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            p.fail(
                "log.level",
                format!(
                    "log.level {:?} is not a level (error, warn, info, debug, trace) or filter: {e}",
                    self.log.level
                ),
            );
        }
        p.positive("log.max_bytes", self.log.max_bytes);
        p.positive("log.max_files", self.log.max_files.into());
        if let Err(e) = crate::tui::format::Clock::from_config(&self.tui.timezone) {
            p.fail("tui.timezone", e.to_string());
        }

        for (key, why) in self.alerts.problems() {
            p.fail(key, why);
        }
        check_questdb(p, &self.questdb);
        let r = &self.record;
        if r.flight_minutes > 60 {
            p.fail(
                "record.flight_minutes",
                format!(
                    "record.flight_minutes ({}) must be at most 60: the ring lives in memory",
                    r.flight_minutes
                ),
            );
        }
        p.positive("record.flight_max_mb", r.flight_max_mb);
        p.positive("record.max_recording_mb", r.max_recording_mb);
    }

    /// Sessions as the backend runs them and strategies as the engine compiles them.
    fn check_sessions_and_strategies(&self, p: &mut Checks) {
        check_sessions(p, "sessions", &self.sessions);
        check_sessions(p, "demo_sessions", &self.demo_sessions);
        let settings = crate::engine::check::check_settings(&self.engine, &self.strategies);
        let engine_ok = settings.is_empty();
        for problem in settings {
            let mut found = Problem::new(&problem.key, problem.error.to_string());
            // "leverage must be >= 1": the field's own line when the file set it, else the
            // strategy's table.
            if let crate::engine::EngineError::Strategy { message, .. } = &problem.error
                && let Some(field) = message
                    .split_whitespace()
                    .next()
                    .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            {
                found.keys.insert(0, format!("{}.{field}", problem.key));
            }
            p.problems.push(found);
        }
        // Engine::new is the final word (a check added there alone still reaches --check);
        // after the detailed pass it only reports what that pass does not know.
        let known = if engine_ok {
            match self.build_engine() {
                Ok(engine) => engine.strategy_names(),
                Err(e) => {
                    p.fail("engine", e.to_string());
                    return;
                }
            }
        } else {
            let mut names: Vec<String> = self.strategies.keys().cloned().collect();
            if !names.iter().any(|n| n == crate::engine::DEFAULT_STRATEGY) {
                names.push(crate::engine::DEFAULT_STRATEGY.to_string());
                names.sort();
            }
            names
        };
        for (key, list) in [
            ("sessions", &self.sessions),
            ("demo_sessions", &self.demo_sessions),
        ] {
            for (i, s) in list.iter().enumerate() {
                if !known.contains(&s.strategy) {
                    p.fail(
                        &format!("{key}[{i}].strategy"),
                        format!(
                            "{key}[{i}].strategy (session {:?}): unknown strategy {:?}; configured strategies: {}",
                            s.id,
                            s.strategy,
                            known.join(", ")
                        ),
                    );
                }
            }
        }
    }

    /// The engine for `[engine]` and `[strategies.*]`, or the reason it cannot be built.
    /// What the backend reads from this config besides the engine and the sessions.
    pub fn backend_settings(&self) -> BackendSettings {
        BackendSettings {
            server: self.server.clone(),
            events_max: self.tui.event_panel_max,
            paper_journal_max_bytes: self.data.paper_journal_max_bytes,
            signal_history: self.engine.signal_history,
            trade_history: self.engine.trade_history,
            views: self.views.clone(),
            // Validation resolved these once already; a failure here means no history.
            history: self
                .questdb
                .enabled
                .then(|| {
                    crate::store::config::StoreSettings::resolve(&self.questdb, &self.data_dir())
                        .ok()
                })
                .flatten(),
        }
    }

    /// What the TUI and its recorder read from this config.
    pub fn tui_settings(&self) -> TuiSettings {
        TuiSettings {
            tui: self.tui.clone(),
            record: self.record.clone(),
            alerts: self.alerts.clone(),
            record_dir: self.record_dir(),
            log_dir: self.log_dir(),
            config_toml: self.redacted_toml(),
            secrets: self.secret_values(),
        }
    }

    pub fn build_engine(&self) -> Result<Engine, ConfigError> {
        Engine::new(self.engine.clone(), self.strategies.clone())
            .map_err(|e| ConfigError::msg(format!("invalid engine configuration: {e}")))
    }

    /// The listen address for `serve`, refusing a non-loopback bind without a token.
    pub fn server_listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        let addr: SocketAddr = self.server.listen.parse().map_err(|_| {
            ConfigError::msg(format!(
                "server.listen {:?} is not an address",
                self.server.listen
            ))
        })?;
        check_bind_allowed(addr, &self.server.token)
            .map_err(|e| ConfigError::msg(e.to_string()))?;
        Ok(addr)
    }

    /// The config as TOML with every secret replaced, for `config --print`, logs and bundles.
    pub fn redacted_toml(&self) -> String {
        let mut value = match toml::Value::try_from(self) {
            Ok(v) => v,
            Err(e) => return format!("# config could not be serialized: {e}\n"),
        };
        for key in SECRET_KEYS {
            redact_key(&mut value, key);
        }
        // The QuestDB client string carries its credentials inside one value.
        if let Some(conf) = value
            .get_mut("questdb")
            .and_then(|q| q.as_table_mut())
            .and_then(|q| q.get_mut("conf"))
            && let Some(text) = conf.as_str()
        {
            *conf = toml::Value::String(crate::store::config::redact_conf(text));
        }
        toml::to_string_pretty(&value).unwrap_or_else(|e| format!("# {e}\n"))
    }

    /// Secret values currently set (non-empty), for redaction filters.
    pub fn secret_values(&self) -> Vec<String> {
        let mut out = vec![self.server.token.clone()];
        // Credentials inside the QuestDB client string (username/password/token).
        out.extend(crate::store::config::conf_secrets(&self.questdb.conf));
        out.into_iter().filter(|s| !s.is_empty()).collect()
    }

    pub fn data_dir(&self) -> PathBuf {
        if !self.data.dir.is_empty() {
            return PathBuf::from(&self.data.dir);
        }
        directories::ProjectDirs::from("", "", "trademon")
            .map(|d| d.data_local_dir().to_path_buf())
            .unwrap_or_else(|| PathBuf::from(".trademon"))
    }

    /// Where recordings and bug bundles go.
    pub fn record_dir(&self) -> PathBuf {
        if !self.record.dir.is_empty() {
            return PathBuf::from(&self.record.dir);
        }
        self.data_dir().join("recordings")
    }

    pub fn log_dir(&self) -> PathBuf {
        if !self.log.dir.is_empty() {
            return PathBuf::from(&self.log.dir);
        }
        self.data_dir().join("logs")
    }

    /// Sessions to run: the demo set under `--demo`, the configured set otherwise.
    pub fn active_sessions(&self, demo: bool) -> &[SessionConfig] {
        if demo {
            &self.demo_sessions
        } else {
            &self.sessions
        }
    }
}

/// Loopback is always allowed; anything else needs a token.
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "trademon").map(|d| d.config_dir().join("config.toml"))
}

fn read_file(path: &Path) -> Result<(PathBuf, String), ConfigError> {
    std::fs::read_to_string(path)
        .map(|s| (path.to_path_buf(), s))
        .map_err(|e| ConfigError::msg(format!("cannot read config file {}: {e}", path.display())))
}

/// The MEXC watchdogs' order: each must fire before the one it backs up.
fn check_mexc_watchdogs(p: &mut Checks, m: &MexcConfig) {
    p.positive("mexc.ack_timeout_ms", m.ack_timeout_ms);
    p.positive("mexc.ticker_stale_ms", m.ticker_stale_ms);
    p.positive("mexc.rest_timeout_ms", m.rest_timeout_ms);
    if !(m.ping_interval_ms < m.pong_warn_ms
        && m.pong_warn_ms < m.pong_reconnect_ms
        && m.pong_reconnect_ms < 60_000)
    {
        p.fail("mexc.ping_interval_ms", format!(
            "mexc.ping_interval_ms ({}) < mexc.pong_warn_ms ({}) < mexc.pong_reconnect_ms ({}) < 60000 \
             must hold: MEXC closes 60 s after the last ping, so the pong age must be acted on first",
            m.ping_interval_ms, m.pong_warn_ms, m.pong_reconnect_ms
        ));
    }
    if m.silence_reconnect_ms <= m.ping_interval_ms {
        p.fail(
            "mexc.silence_reconnect_ms",
            format!(
                "mexc.silence_reconnect_ms ({}) must be above mexc.ping_interval_ms ({}): \
             a pong per ping is the least traffic a healthy socket has",
                m.silence_reconnect_ms, m.ping_interval_ms
            ),
        );
    }
    if m.max_subscriptions_per_connection < 2 {
        p.fail("mexc.max_subscriptions_per_connection", 
            "mexc.max_subscriptions_per_connection must be at least 2 (ticker and deal of one symbol)",
        );
    }
    if m.rotate_after_s != 0 && m.rotate_after_s.saturating_mul(1000) <= m.ack_timeout_ms {
        p.fail(
            "mexc.rotate_after_s",
            format!(
                "mexc.rotate_after_s ({}) must be 0 (never) or longer than mexc.ack_timeout_ms",
                m.rotate_after_s
            ),
        );
    }
    // MEXC allows 20 requests / 2 s on the ticker endpoint.
    if m.rest_poll_interval_ms < 100 {
        p.fail("mexc.rest_poll_interval_ms", format!(
            "mexc.rest_poll_interval_ms ({}) must be at least 100: MEXC allows 20 requests per 2 s",
            m.rest_poll_interval_ms
        ));
    }
    if m.waf_cooldown_ms < m.rest_poll_interval_ms {
        p.fail(
            "mexc.waf_cooldown_ms",
            "mexc.waf_cooldown_ms must not be below mexc.rest_poll_interval_ms",
        );
    }
    if m.contracts_refresh_s < 60 || m.contracts_retry_s == 0 {
        p.fail(
            "mexc.contracts_refresh_s",
            "mexc.contracts_refresh_s must be at least 60 and mexc.contracts_retry_s at least 1",
        );
    }
}

/// The symbol view's feeds: a chart needs at least an hour of `Min1` and MEXC answers at most
/// 2000 candles per request; its REST limit is 20 requests per 2 s per endpoint.
fn check_mexc_feeds(p: &mut Checks, m: &MexcConfig) {
    if m.book_levels == 0 {
        p.fail("mexc.book_levels", "mexc.book_levels must be at least 1");
    }
    if !(60..=2000).contains(&m.kline_history) {
        p.fail(
            "mexc.kline_history",
            format!(
                "mexc.kline_history ({}) must be 60 to 2000: at least an hour of Min1, at most one MEXC request",
                m.kline_history
            ),
        );
    }
    if m.feed_rest_gap_ms < 100 {
        p.fail(
            "mexc.feed_rest_gap_ms",
            format!(
                "mexc.feed_rest_gap_ms ({}) must be at least 100: MEXC allows 20 requests per 2 s",
                m.feed_rest_gap_ms
            ),
        );
    }
    if m.depth_buffer_frames == 0 {
        p.fail(
            "mexc.depth_buffer_frames",
            "mexc.depth_buffer_frames must be at least 1",
        );
    }
}

/// What the backend needs of a session list: something to run, unique ids and names, and
/// symbols that are MEXC contracts, each once.
fn check_sessions(p: &mut Checks, key: &str, sessions: &[SessionConfig]) {
    if sessions.is_empty() {
        p.fail(
            key,
            format!("{key} is empty: add a [[{key}]] table with id, name and symbols"),
        );
    }
    let mut ids = std::collections::BTreeMap::new();
    let mut names = std::collections::BTreeMap::new();
    for (i, s) in sessions.iter().enumerate() {
        let valid_id = !s.id.is_empty()
            && s.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_id {
            p.fail(
                &format!("{key}[{i}].id"),
                format!(
                    "{key}[{i}].id {:?} must be non-empty letters, digits, '-' or '_'",
                    s.id
                ),
            );
        } else if let Some(first) = ids.insert(s.id.clone(), i) {
            p.fail(
                &format!("{key}[{i}].id"),
                format!("{key}[{i}].id {:?} is already used by {key}[{first}]", s.id),
            );
        }
        if s.name.trim().is_empty() {
            p.fail(
                &format!("{key}[{i}].name"),
                format!("{key}[{i}].name (session {:?}) is empty", s.id),
            );
        } else if let Some(first) = names.insert(s.name.trim().to_string(), i) {
            p.fail(
                &format!("{key}[{i}].name"),
                format!(
                    "{key}[{i}].name {:?} is already used by {key}[{first}]: the tabs could not be told apart",
                    s.name
                ),
            );
        }
        if s.symbols.is_empty() {
            p.fail(
                &format!("{key}[{i}].symbols"),
                format!("{key}[{i}].symbols (session {:?}) is empty", s.id),
            );
        }
        let mut seen = std::collections::BTreeMap::new();
        for (j, sym) in s.symbols.iter().enumerate() {
            let at = format!("{key}[{i}].symbols[{j}]");
            if !is_valid_symbol(sym) {
                p.fail(
                    &at,
                    format!("{at}: {sym:?} is not a MEXC futures symbol like BTC_USDT"),
                );
            } else if let Some(first) = seen.insert(sym.as_str(), j) {
                p.fail(
                    &at,
                    format!(
                        "{at}: {sym:?} is listed twice in session {:?} (first at {key}[{i}].symbols[{first}])",
                        s.id
                    ),
                );
            }
        }
    }
}

fn merge_tables(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge_tables(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The config key path of a `TRADEMON_*` variable (`TRADEMON_CLIENT__PING_INTERVAL_MS` ->
/// `client`, `ping_interval_ms`); `None` for other variables and for `TRADEMON_*` ones that are
/// not config keys (e.g. `TRADEMON_TOKEN`).
fn env_key(name: &str) -> Option<Vec<String>> {
    let key = name.strip_prefix(ENV_PREFIX)?;
    let path: Vec<String> = key.split("__").map(|p| p.to_ascii_lowercase()).collect();
    (path.len() >= 2 && path.iter().all(|p| !p.is_empty())).then_some(path)
}

/// The environment as `Config::load` takes it, from `std::env::vars_os()` (`vars()` panics
/// on a variable that is not UTF-8). Such a `TRADEMON_*` variable is refused by name; any
/// other is none of trademon's business and is skipped, whatever its bytes.
pub fn env_pairs(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    let mut problems = Vec::new();
    for (name, value) in vars {
        match (name.into_string(), value.into_string()) {
            (Ok(name), Ok(value)) => pairs.push((name, value)),
            (name, _) => {
                let name = match name {
                    Ok(n) => n,
                    Err(raw) => raw.to_string_lossy().into_owned(),
                };
                if name.starts_with(ENV_PREFIX) {
                    let key = env_key(&name).map(|k| k.join(".")).unwrap_or_default();
                    problems.push(
                        Problem::new(
                            &key,
                            format!("the environment variable {name} is not valid UTF-8"),
                        )
                        .at(Some(Origin::Env(name))),
                    );
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(pairs)
    } else {
        Err(ConfigError { problems })
    }
}

/// `TRADEMON_CLIENT__PING_INTERVAL_MS=3000` sets `client.ping_interval_ms`.
/// The value is read as a TOML value (number, bool, array) and otherwise as a string.
fn apply_env(table: &mut toml::Table, name: &str, raw: &str) -> Result<(), Problem> {
    let Some(path) = env_key(name) else {
        return Ok(());
    };
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let origin = Some(Origin::Env(name.to_string()));
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut cur = table;
    for p in parents {
        cur = match cur.get_mut(p) {
            Some(toml::Value::Table(t)) => t,
            _ => {
                return Err(Problem::new(
                    &path.join("."),
                    format!("there is no config section {p:?} (see docs/config.md)"),
                )
                .at(origin));
            }
        };
    }
    cur.insert(last.clone(), value);
    Ok(())
}

/// Why `merged` does not deserialize, section by section (and session by session, strategy by
/// strategy), so one run names every bad key, not only the first serde stops at.
fn deserialize_problems(merged: &toml::Table) -> Vec<Problem> {
    fn try_de<T: serde::de::DeserializeOwned>(key: &str, v: &toml::Value, out: &mut Vec<Problem>) {
        if let Err(e) = T::deserialize(v.clone()) {
            out.push(serde_problem(key, &e));
        }
    }
    let mut out = Vec::new();
    for (section, v) in merged {
        let k = section.as_str();
        match k {
            "server" => try_de::<ServerConfig>(k, v, &mut out),
            "client" => try_de::<ClientConfig>(k, v, &mut out),
            "mexc" => try_de::<MexcConfig>(k, v, &mut out),
            "sim" => try_de::<SimConfig>(k, v, &mut out),
            "tui" => try_de::<TuiConfig>(k, v, &mut out),
            "alerts" => try_de::<AlertsConfig>(k, v, &mut out),
            "log" => try_de::<LogConfig>(k, v, &mut out),
            "data" => try_de::<DataConfig>(k, v, &mut out),
            "engine" => try_de::<EngineSettings>(k, v, &mut out),
            "questdb" => try_de::<QuestdbConfig>(k, v, &mut out),
            "record" => try_de::<RecordConfig>(k, v, &mut out),
            "views" => try_de::<ViewsConfig>(k, v, &mut out),
            "script" => try_de::<ScriptConfig>(k, v, &mut out),
            "strategies" => match v {
                toml::Value::Table(t) => {
                    for (name, s) in t {
                        try_de::<StrategySettings>(&format!("strategies.{name}"), s, &mut out);
                    }
                }
                _ => try_de::<BTreeMap<String, StrategySettings>>(k, v, &mut out),
            },
            "sessions" | "demo_sessions" => match v {
                toml::Value::Array(list) => {
                    for (i, s) in list.iter().enumerate() {
                        try_de::<SessionConfig>(&format!("{k}[{i}]"), s, &mut out);
                    }
                }
                _ => try_de::<Vec<SessionConfig>>(k, v, &mut out),
            },
            other => out.push(Problem::new(
                other,
                format!("unknown section {other:?} (see docs/config.md for the sections)"),
            )),
        }
    }
    out
}

/// A serde error under `key` as a problem naming the full key: toml reports the path below
/// `key` as a trailing "in `a.b`" line, and an unknown field only by name in the message.
fn serde_problem(key: &str, e: &toml::de::Error) -> Problem {
    let text = e.to_string();
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut full = key.to_string();
    if let Some(last) = lines.last()
        && let Some(inner) = last.strip_prefix("in `").and_then(|l| l.strip_suffix('`'))
    {
        full = format!("{key}.{inner}");
        lines.pop();
    }
    let message = lines.join(" ");
    let field = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|m| m.split('`').next())
            .map(str::to_string)
    };
    if let Some(f) = field("unknown field `") {
        full = format!("{full}.{f}");
    }
    Problem::new(&full, format!("{full}: {message}"))
}

fn redact_key(value: &mut toml::Value, dotted: &str) {
    let mut cur = value;
    let parts: Vec<&str> = dotted.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        let Some(t) = cur.as_table_mut() else { return };
        if i + 1 == parts.len() {
            if let Some(v) = t.get_mut(*p)
                && v.as_str().is_some_and(|s| !s.is_empty())
            {
                *v = toml::Value::String("<redacted>".into());
            }
            return;
        }
        let Some(next) = t.get_mut(*p) else { return };
        cur = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn embedded_defaults_are_valid() {
        let c = Config::defaults();
        c.validate().unwrap();
        assert_eq!(c.client.ping_interval_ms, 5000);
        assert_eq!(c.demo_sessions.len(), 2);
        assert!(c.demo_sessions.iter().all(|s| s.symbols.len() >= 3));
    }

    #[test]
    fn file_then_env_then_flags_override_in_order() {
        let file = "[client]\nping_interval_ms = 4000\npong_timeout_ms = 4000\n";
        let e = env(&[("TRADEMON_CLIENT__PONG_TIMEOUT_MS", "3000"), ("HOME", "/x")]);
        let mut c = Config::from_layers(Some((Path::new("u.toml"), file)), &e).unwrap();
        assert_eq!(c.client.ping_interval_ms, 4000);
        assert_eq!(c.client.pong_timeout_ms, 3000);
        c.apply_flags(&FlagOverrides {
            fps: Some(5),
            symbols: Some(vec!["BTC_USDT".into()]),
            ..Default::default()
        });
        assert_eq!(c.tui.fps, 5);
        assert_eq!(c.sessions.len(), 1);
        assert_eq!(c.sessions[0].symbols, vec!["BTC_USDT"]);
        c.validate().unwrap();
    }

    #[test]
    fn reconnect_threshold_not_above_slow_is_refused_naming_the_key() {
        let file = "[client]\nslow_after_missed = 3\nreconnect_after_missed = 3\n";
        let c = Config::from_layers(Some((Path::new("u.toml"), file)), &[]).unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("client.reconnect_after_missed"), "{e}");
        assert!(e.contains("client.slow_after_missed"), "{e}");
    }

    #[test]
    fn unknown_key_is_refused_with_its_name() {
        let file = "[client]\nping_intervall_ms = 1\n";
        let e = Config::from_layers(Some((Path::new("u.toml"), file)), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("ping_intervall_ms"), "{e}");
        assert!(e.contains("u.toml"), "{e}");
    }

    #[test]
    fn env_for_missing_section_is_refused() {
        let e = Config::from_layers(None, &env(&[("TRADEMON_NOPE__X", "1")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("TRADEMON_NOPE__X"), "{e}");
    }

    #[test]
    fn upstream_timeout_must_be_outermost() {
        let e = Config::from_layers(
            None,
            &env(&[("TRADEMON_MEXC__SILENCE_RECONNECT_MS", "20000")]),
        )
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("mexc.silence_reconnect_ms"), "{e}");
    }

    #[test]
    fn mexc_watchdog_orderings_name_their_keys() {
        let check = |pairs: &[(&str, &str)]| {
            Config::from_layers(None, &env(pairs))
                .unwrap()
                .validate()
                .err()
                .map(|e| e.to_string())
        };
        let e = check(&[("TRADEMON_MEXC__PONG_WARN_MS", "50000")]).unwrap();
        assert!(
            e.contains("mexc.pong_warn_ms") && e.contains("mexc.pong_reconnect_ms"),
            "{e}"
        );
        let e = check(&[("TRADEMON_MEXC__PONG_RECONNECT_MS", "60000")]).unwrap();
        assert!(e.contains("60000"), "{e}");
        let e = check(&[("TRADEMON_MEXC__REST_POLL_INTERVAL_MS", "50")]).unwrap();
        assert!(e.contains("mexc.rest_poll_interval_ms"), "{e}");
        let e = check(&[("TRADEMON_MEXC__MAX_SUBSCRIPTIONS_PER_CONNECTION", "1")]).unwrap();
        assert!(e.contains("mexc.max_subscriptions_per_connection"), "{e}");
        assert_eq!(
            check(&[("TRADEMON_MEXC__ROTATE_AFTER_S", "0")]),
            None,
            "0 disables rotation"
        );
    }

    #[test]
    fn bad_symbol_in_session_is_refused() {
        let mut c = Config::defaults();
        c.apply_flags(&FlagOverrides {
            symbols: Some(vec!["btc-usdt".into()]),
            ..Default::default()
        });
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("btc-usdt"), "{e}");
    }

    #[test]
    fn questdb_keys_are_validated_by_name() {
        let file = "[questdb]\nretry_base_ms = 500\nretry_cap_ms = 100\n";
        let c = Config::from_layers(Some((Path::new("u.toml"), file)), &[]).unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("questdb.retry_cap_ms"), "{e}");
        let file = "[questdb]\nconf = \"tcp::addr=x:9009;\"\n";
        let c = Config::from_layers(Some((Path::new("u.toml"), file)), &[]).unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("questdb.conf"), "{e}");
        let file = "[questdb]\nfsync = \"sometimes\"\n";
        let e = Config::from_layers(Some((Path::new("u.toml"), file)), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("sometimes"), "{e}");
    }

    #[test]
    fn non_loopback_bind_needs_token() {
        let a: SocketAddr = "0.0.0.0:7878".parse().unwrap();
        assert!(check_bind_allowed(a, "").is_err());
        assert!(check_bind_allowed(a, "s3cret").is_ok());
        assert!(check_bind_allowed("127.0.0.1:0".parse().unwrap(), "").is_ok());
    }

    #[test]
    fn redacted_toml_hides_the_credentials_inside_the_questdb_conf() {
        let mut c = Config::defaults();
        c.questdb.conf =
            "https::addr=db:9000;username=canary-user;password=canary-pw;token=canary-tok;".into();
        let t = c.redacted_toml();
        for secret in ["canary-user", "canary-pw", "canary-tok"] {
            assert!(!t.contains(secret), "{secret} in\n{t}");
        }
        assert!(
            t.contains(
                "https::addr=db:9000;username=<redacted>;password=<redacted>;token=<redacted>;"
            ),
            "{t}"
        );
        assert!(c.secret_values().contains(&"canary-user".to_string()));
    }

    #[test]
    fn the_alert_hook_command_is_printed_redacted_and_bad_alert_values_are_named() {
        let mut c = Config::defaults();
        c.alerts.command = "curl -d @- https://hooks.example/canary-hook-key".into();
        let t = c.redacted_toml();
        assert!(!t.contains("canary-hook-key"), "{t}");
        c.alerts.command_timeout_ms = 0;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("alerts.command_timeout_ms"), "{e}");
    }

    #[test]
    fn check_reports_every_problem_with_its_key() {
        let mut c = Config::defaults();
        c.client.slow_after_missed = 0;
        c.tui.fps = 0;
        c.tui.keys.record = vec!["q".into()];
        c.sessions[0].symbols = vec!["BTC_USDT".into(), "BTC_USDT".into()];
        c.demo_sessions[1].id = "majors".into();
        c.server.listen = "0.0.0.0:7878".into();
        let problems = c.check();
        let keys: Vec<&str> = problems.iter().map(|p| p.keys[0].as_str()).collect();
        for k in [
            "client.slow_after_missed",
            "tui.fps",
            "tui.keys.record",
            "sessions[0].symbols[1]",
            "demo_sessions[1].id",
            "server.listen",
        ] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
    }

    #[test]
    fn redacted_toml_hides_the_token() {
        let mut c = Config::defaults();
        c.server.token = "canary-token-123".into();
        let t = c.redacted_toml();
        assert!(!t.contains("canary-token-123"));
        assert!(t.contains("<redacted>"));
    }

    #[cfg(unix)]
    #[test]
    fn env_that_is_not_utf8_is_refused_for_trademon_and_skipped_otherwise() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(vec![b'a', 0xff, b'b']);
        let ok = |s: &str| OsString::from(s);
        let pairs = env_pairs([
            (ok("LANG"), bad()),
            (OsString::from_vec(vec![b'X', 0xfe]), ok("1")),
            (ok("TRADEMON_CLIENT__PING_INTERVAL_MS"), ok("3000")),
        ])
        .unwrap();
        assert_eq!(pairs, env(&[("TRADEMON_CLIENT__PING_INTERVAL_MS", "3000")]));
        let e = env_pairs([
            (ok("TRADEMON_LOG__DIR"), bad()),
            (ok("TRADEMON_CLIENT__PING_INTERVAL_MS"), ok("3000")),
        ])
        .unwrap_err();
        assert_eq!(e.problems.len(), 1, "{e}");
        assert_eq!(e.problems[0].keys[0], "log.dir");
        let text = e.to_string();
        assert!(text.contains("TRADEMON_LOG__DIR"), "{text}");
        assert!(text.contains("not valid UTF-8"), "{text}");
    }
}
