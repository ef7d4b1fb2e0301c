//! The alert hook: `[alerts] command` run with `sh -c` for an alert, the alert as one JSON line
//! on stdin, stdout discarded, the head of stderr kept for the log.
//!
//! It never blocks the UI: each run is a task on the runtime. At most `max_commands` run at
//! once (an alert beyond that runs none: logged). A run still going after `command_timeout_ms`
//! is killed with its whole process group (the command runs as a group leader, so a pipeline
//! or a background job it started goes too) and reaped. Every failure, timeout and skip is
//! logged; the first one after a success also goes to the events panel (`alert.hook_failed`),
//! so a broken hook is seen once, not once per alert.

use super::{Alert, AlertsConfig};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use trademon_protocol::{Level, LogEvent};

/// Bytes of a hook's stderr kept for the log line of a failure.
const STDERR_KEPT: u64 = 2048;

/// How one run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    /// Exit status 0.
    Done,
    /// Could not start, or ended with another status: why, with the head of its stderr.
    Failed(String),
    /// Still running after the timeout: killed with its process group (`pid` led it).
    TimedOut { pid: Option<u32> },
    /// `max_commands` hooks were running: this alert ran none.
    Skipped,
}

impl HookOutcome {
    fn problem(&self, timeout: Duration, max: usize) -> Option<String> {
        match self {
            HookOutcome::Done => None,
            HookOutcome::Failed(why) => Some(why.clone()),
            HookOutcome::TimedOut { .. } => Some(format!(
                "still running after {} ms: killed",
                timeout.as_millis()
            )),
            HookOutcome::Skipped => Some(format!(
                "alerts.max_commands ({max}) hooks already running: not started"
            )),
        }
    }
}

/// Starts hooks; lives in the event loop (`run`). Clone-free: tasks get what they need.
pub struct HookRunner {
    command: Arc<str>,
    timeout: Duration,
    max: usize,
    slots: Arc<Semaphore>,
    /// A failure was reported on screen and no run has succeeded since.
    failing: Arc<AtomicBool>,
    notices: mpsc::UnboundedSender<LogEvent>,
}

impl HookRunner {
    /// `None` when `alerts.command` is empty. Failures shown on screen go to `notices`.
    pub fn new(cfg: &AlertsConfig, notices: mpsc::UnboundedSender<LogEvent>) -> Option<Self> {
        if !cfg.has_hook() {
            return None;
        }
        let max = cfg.max_commands.max(1);
        Some(HookRunner {
            command: cfg.command.clone().into(),
            timeout: Duration::from_millis(cfg.command_timeout_ms.max(1)),
            max,
            slots: Arc::new(Semaphore::new(max)),
            failing: Arc::new(AtomicBool::new(false)),
            notices,
        })
    }

    /// Run the hook for `alert` on the runtime. Returns the task (tests await it); the event
    /// loop drops it. A skipped run (too many running) is reported and returns `None`.
    pub fn spawn(&self, alert: &Alert, now_ms: i64) -> Option<JoinHandle<HookOutcome>> {
        let report = Report {
            kind: alert.kind.name(),
            timeout: self.timeout,
            max: self.max,
            failing: self.failing.clone(),
            notices: self.notices.clone(),
        };
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            report.outcome(&HookOutcome::Skipped, now_ms);
            return None;
        };
        let command = self.command.clone();
        let input = alert.to_json();
        let timeout = self.timeout;
        Some(tokio::spawn(async move {
            let outcome = run_once(&command, &input, timeout).await;
            drop(permit);
            report.outcome(&outcome, now_ms);
            outcome
        }))
    }
}

/// Logs an outcome and puts the first failure of a streak on the events panel.
struct Report {
    kind: &'static str,
    timeout: Duration,
    max: usize,
    failing: Arc<AtomicBool>,
    notices: mpsc::UnboundedSender<LogEvent>,
}

impl Report {
    fn outcome(&self, outcome: &HookOutcome, now_ms: i64) {
        let Some(problem) = outcome.problem(self.timeout, self.max) else {
            tracing::debug!(kind = self.kind, "alert.hook_done");
            self.failing.store(false, Ordering::Relaxed);
            return;
        };
        tracing::warn!(kind = self.kind, problem = %problem, "alert.hook_failed");
        if !self.failing.swap(true, Ordering::Relaxed) {
            let _ = self.notices.send(LogEvent {
                ts: now_ms,
                level: Level::Warn,
                name: "alert.hook_failed".into(),
                message: format!(
                    "alert hook ({} alert): {problem}; later failures only in the log until one succeeds",
                    self.kind
                ),
                count: 1,
            });
        }
    }
}

/// Run `command` once with `input` (plus a newline) on stdin, within `timeout`.
pub async fn run_once(command: &str, input: &str, timeout: Duration) -> HookOutcome {
    run_until(command, input, tokio::time::sleep(timeout)).await
}

/// `run_once` with the timeout as a future: when `deadline` completes first, the hook is
/// killed (tests end it at a known point instead of after a time).
pub async fn run_until(
    command: &str,
    input: &str,
    deadline: impl std::future::Future<Output = ()>,
) -> HookOutcome {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // A backstop: a dropped task still kills its hook.
        .kill_on_drop(true);
    // Its own process group, so a timeout kills what the command started too.
    #[cfg(unix)]
    cmd.process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return HookOutcome::Failed(format!("could not start sh: {e}")),
    };
    let pid = child.id();
    let stdin = child.stdin.take();
    let stderr = child.stderr.take();
    let work = async {
        if let Some(mut stdin) = stdin {
            // A hook that does not read its input may exit first (broken pipe): not an error.
            let _ = stdin.write_all(input.as_bytes()).await;
            let _ = stdin.write_all(b"\n").await;
            // Dropped here: the hook sees end of input.
        }
        let err = match stderr {
            Some(s) => read_head(s).await,
            None => String::new(),
        };
        (child.wait().await, err)
    };
    let finished = tokio::select! {
        done = work => Some(done),
        () = deadline => None,
    };
    match finished {
        Some((Ok(status), _)) if status.success() => HookOutcome::Done,
        Some((Ok(status), err)) => {
            let how = match status.code() {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".to_string(),
            };
            HookOutcome::Failed(if err.is_empty() {
                how
            } else {
                format!("{how}: {err}")
            })
        }
        Some((Err(e), _)) => HookOutcome::Failed(format!("waiting for the hook: {e}")),
        None => {
            kill_group(pid);
            let _ = child.start_kill();
            // Reap it, so no zombie is left behind.
            let _ = child.wait().await;
            HookOutcome::TimedOut { pid }
        }
    }
}

/// The first `STDERR_KEPT` bytes of stderr as one line; the rest is read and dropped so the
/// hook never blocks on a full pipe.
async fn read_head(mut s: impl AsyncRead + Unpin) -> String {
    let mut head = Vec::new();
    let _ = (&mut s).take(STDERR_KEPT).read_to_end(&mut head).await;
    let _ = tokio::io::copy(&mut s, &mut tokio::io::sink()).await;
    String::from_utf8_lossy(&head)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(unix)]
fn kill_group(pid: Option<u32>) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_pid: Option<u32>) {}

#[cfg(all(test, target_os = "linux"))]
#[path = "hook_tests.rs"]
mod tests;
