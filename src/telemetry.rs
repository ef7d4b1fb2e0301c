//! Logging: JSON lines to `trademon.log` (configured level) and `errors.log` (WARN and above
//! only), secrets scrubbed from every line, nothing ever written to the terminal.
//! WARN/ERROR events are also forwarded to the backend's `events` stream for the event panel.
//! Both files rotate (`rotate`, `log.rotation`). Every panic is logged (`install_panic_hook`).

mod rotate;

use crate::config::LogConfig;
use crate::protocol::{Level, LogEvent, now_ms};
use color_eyre::eyre::WrapErr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// The background log writers. Held here rather than in `Telemetry` so that `flush` can reach
/// them from a panic hook that ends the process without running destructors.
static WRITERS: Mutex<Vec<WorkerGuard>> = Mutex::new(Vec::new());

/// Logs are flushed when it drops.
pub struct Telemetry {
    pub log_dir: PathBuf,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        flush();
    }
}

/// Write out every line the log writers hold and stop them; later lines are lost. For the
/// end of the process, including `std::process::exit` from a panic hook.
pub fn flush() {
    let writers = match WRITERS.lock() {
        Ok(mut w) => std::mem::take(&mut *w),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    drop(writers);
}

/// Set up file logging for this process and log every panic from now on. `events` receives
/// WARN+ events for the event panel.
pub fn init(
    log_dir: &Path,
    log: &LogConfig,
    secrets: Vec<String>,
    events: Option<mpsc::Sender<LogEvent>>,
) -> color_eyre::Result<Telemetry> {
    std::fs::create_dir_all(log_dir).map_err(|e| {
        crate::user_error::UserError::unavailable(format!(
            "cannot create the log directory {} (log.dir or --log-dir): {e}",
            log_dir.display()
        ))
    })?;
    let secrets = Arc::new(secrets);
    let open = |name: &str| {
        rotate::RotatingFile::open(
            log_dir,
            name,
            log.rotation,
            log.max_bytes,
            log.max_files,
            Box::new(|| rotate::utc_day(std::time::SystemTime::now())),
        )
        .map_err(|e| {
            crate::user_error::UserError::unavailable(format!(
                "cannot open the log file {} (log.dir or --log-dir): {e}",
                log_dir.join(name).display()
            ))
        })
    };
    let (main_writer, main_guard) = tracing_appender::non_blocking(open("trademon.log")?);
    let (err_writer, err_guard) = tracing_appender::non_blocking(open("errors.log")?);
    let level = log.level.as_str();

    let filter = EnvFilter::try_new(level)
        .or_else(|_| EnvFilter::try_new("info"))
        .wrap_err_with(|| format!("log.level {level:?}"))?;

    let main_layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_writer(Redacting::new(main_writer, secrets.clone()))
        .with_filter(filter);
    let error_layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_writer(Redacting::new(err_writer, secrets.clone()))
        .with_filter(LevelFilter::WARN);
    let forward = events.map(|tx| EventForwarder {
        tx,
        secrets: secrets.clone(),
    });

    Registry::default()
        .with(main_layer)
        .with(error_layer)
        .with(forward.with_filter(LevelFilter::WARN))
        .try_init()
        .wrap_err("logging already initialised")?;
    match WRITERS.lock() {
        Ok(mut w) => w.extend([main_guard, err_guard]),
        Err(poisoned) => poisoned.into_inner().extend([main_guard, err_guard]),
    }
    install_panic_hook();
    crate::tui::terminal::flush_logs_with(flush);
    Ok(Telemetry {
        log_dir: log_dir.to_path_buf(),
    })
}

/// Every panic, in any thread and any mode, is logged (so it reaches `trademon.log` and
/// `errors.log`) before the hook that was installed before runs (Rust's own, which prints
/// it). The TUI installs its hook later and calls `trademon_core::panics::log` itself, after restoring the
/// terminal (`tui::terminal::install_panic_hook`).
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        trademon_core::panics::log(info);
        previous(info);
    }));
}

/// Replace every secret value in `text` (logs are scrubbed like recordings).
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "<redacted>");
        }
    }
    out
}

/// A `MakeWriter` that scrubs secrets from each formatted line before it reaches the file.
#[derive(Clone)]
struct Redacting<W> {
    inner: W,
    secrets: Arc<Vec<String>>,
}

impl<W> Redacting<W> {
    fn new(inner: W, secrets: Arc<Vec<String>>) -> Self {
        Redacting { inner, secrets }
    }
}

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for Redacting<W> {
    type Writer = RedactingLine<W::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingLine {
            inner: self.inner.make_writer(),
            secrets: self.secrets.clone(),
            buf: Vec::new(),
        }
    }
}

/// Buffers one event's output so a secret split across writes is still found.
struct RedactingLine<W: Write> {
    inner: W,
    secrets: Arc<Vec<String>>,
    buf: Vec<u8>,
}

impl<W: Write> Write for RedactingLine<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf);
        let clean = scrub(&text, &self.secrets);
        self.buf.clear();
        self.inner.write_all(clean.as_bytes())?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for RedactingLine<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Sends WARN+ events to the backend so the TUI's event panel shows them.
struct EventForwarder {
    tx: mpsc::Sender<LogEvent>,
    secrets: Arc<Vec<String>>,
}

impl<S: tracing::Subscriber> Layer<S> for EventForwarder {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut v = FieldText::default();
        event.record(&mut v);
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => Level::Error,
            tracing::Level::WARN => Level::Warn,
            _ => Level::Info,
        };
        let name = v
            .event
            .unwrap_or_else(|| event.metadata().target().to_string());
        let mut message = v.message;
        if !v.fields.is_empty() {
            if !message.is_empty() {
                message.push(' ');
            }
            message.push_str(&v.fields.join(" "));
        }
        // Never block a logging call site: if the backend is behind, the file log still has it.
        let _ = self.tx.try_send(LogEvent {
            ts: now_ms(),
            level,
            name,
            message: scrub(&message, &self.secrets),
            count: 1,
        });
    }
}

#[derive(Default)]
struct FieldText {
    event: Option<String>,
    message: String,
    fields: Vec<String>,
}

impl Visit for FieldText {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "event" => self.event = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            name => self.fields.push(format!("{name}={value}")),
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "event" => self.event = Some(format!("{value:?}").trim_matches('"').to_string()),
            "message" => self.message = format!("{value:?}"),
            name => self.fields.push(format!("{name}={value:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_replaces_every_secret() {
        let s = vec!["tok123".to_string(), String::new()];
        assert_eq!(scrub("a tok123 b tok123", &s), "a <redacted> b <redacted>");
        assert_eq!(scrub("nothing", &s), "nothing");
    }

    #[test]
    fn redacting_writer_scrubs_split_writes() {
        let out: Vec<u8> = Vec::new();
        let mut w = RedactingLine {
            inner: out,
            secrets: Arc::new(vec!["secret-xyz".into()]),
            buf: Vec::new(),
        };
        w.write_all(b"{\"token\":\"secr").unwrap();
        w.write_all(b"et-xyz\"}\n").unwrap();
        w.flush().unwrap();
        let text = String::from_utf8(w.inner.clone()).unwrap();
        assert!(!text.contains("secret-xyz"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn forwarder_keeps_event_name_and_fields() {
        let (tx, mut rx) = mpsc::channel(4);
        let layer = EventForwarder {
            tx,
            secrets: Arc::new(vec!["pw".into()]),
        };
        let subscriber = Registry::default().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(event = "mexc.close", code = 1006, "closed by pw");
        });
        let ev = rx.try_recv().unwrap();
        assert_eq!(ev.name, "mexc.close");
        assert_eq!(ev.level, Level::Warn);
        assert!(ev.message.contains("code=1006"), "{}", ev.message);
        assert!(!ev.message.contains("pw"), "{}", ev.message);
    }

    #[test]
    fn a_panic_is_logged_with_its_message_and_location() {
        let (tx, mut rx) = mpsc::channel(4);
        let layer = EventForwarder {
            tx,
            secrets: Arc::new(Vec::new()),
        };
        // Process-wide, chained to the hook before it, as `init` installs it; other tests'
        // panics pass through it to their own (absent) subscribers.
        install_panic_hook();
        let subscriber = Registry::default().with(layer);
        let caught = tracing::subscriber::with_default(subscriber, || {
            std::panic::catch_unwind(|| panic!("order book {} inverted", 3))
        });
        assert!(caught.is_err());
        let ev = rx.try_recv().expect("the panic was logged");
        assert_eq!(ev.name, "panic");
        assert_eq!(ev.level, Level::Error);
        assert!(
            ev.message.contains("order book 3 inverted"),
            "{}",
            ev.message
        );
        assert!(ev.message.contains("src/telemetry.rs:"), "{}", ev.message);
    }
}
