//! The hook runner against real `sh` processes: the JSON on stdin, once; a hook that hangs is
//! killed with everything it started; the concurrency limit; failures reported once.

use super::*;
use crate::alerts::{AlertKind, config};
use std::path::PathBuf;

const AT: i64 = 1_700_000_000_000;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "trademon-hook-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
    fn path(&self, file: &str) -> String {
        self.0.join(file).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn alert() -> Alert {
    Alert::new(
        AlertKind::Signal,
        AT,
        "majors: BUY BTC_USDT entry at 95130.1: \"quoted\" reason",
    )
    .session("majors")
    .symbol("BTC_USDT")
}

fn runner(
    command: &str,
    timeout_ms: u64,
    max: usize,
) -> (HookRunner, mpsc::UnboundedReceiver<LogEvent>) {
    let mut cfg = config::defaults();
    cfg.command = command.into();
    cfg.command_timeout_ms = timeout_ms;
    cfg.max_commands = max;
    let (tx, rx) = mpsc::unbounded_channel();
    (HookRunner::new(&cfg, tx).expect("a command is set"), rx)
}

/// Processes of process group `pgid` that have not exited (zombies count as gone).
fn alive_in_group(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces, so split after the last `)`.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (Some(state), Some(pgrp)) = (fields.first(), fields.get(2)) else {
            continue;
        };
        if *pgrp == pgid.to_string() && *state != "Z" && *state != "X" {
            out.push(pid);
        }
    }
    out
}

/// SIGKILL is delivered asynchronously: wait (bounded) until the group has no live process.
fn wait_group_gone(pgid: u32) -> Vec<u32> {
    for _ in 0..500 {
        let alive = alive_in_group(pgid);
        if alive.is_empty() {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    alive_in_group(pgid)
}

#[tokio::test]
async fn the_hook_gets_the_alert_as_one_json_line_on_stdin_once() {
    let dir = TempDir::new("json");
    let out = dir.path("stdin.ndjson");
    let (runner, mut notices) = runner(&format!("cat >> '{out}'"), 10_000, 4);
    let outcome = runner
        .spawn(&alert(), AT)
        .expect("started")
        .await
        .expect("task ran");
    assert_eq!(outcome, HookOutcome::Done);
    let text = std::fs::read_to_string(&out).expect("the hook wrote its stdin");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "called once: {text:?}");
    let json: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON");
    assert_eq!(
        json,
        serde_json::json!({
            "kind": "signal",
            "at_ms": AT,
            "time": "2023-11-14T22:13:20Z",
            "session": "majors",
            "symbol": "BTC_USDT",
            "text": "majors: BUY BTC_USDT entry at 95130.1: \"quoted\" reason",
        })
    );
    assert!(notices.try_recv().is_err(), "success: nothing on screen");
}

#[tokio::test(start_paused = true)]
async fn a_hook_that_hangs_is_killed_after_the_timeout() {
    let (runner, mut notices) = runner("sleep 30", 5_000, 4);
    let virtual_start = tokio::time::Instant::now();
    let real_start = std::time::Instant::now();
    let outcome = runner
        .spawn(&alert(), AT)
        .expect("started")
        .await
        .expect("task ran");
    let HookOutcome::TimedOut { pid: Some(pid) } = outcome else {
        panic!("not timed out: {outcome:?}");
    };
    assert!(virtual_start.elapsed() >= Duration::from_millis(5_000));
    assert!(
        real_start.elapsed() < Duration::from_secs(20),
        "killed at the timeout, not after sleep 30 ended"
    );
    assert_eq!(wait_group_gone(pid), Vec::<u32>::new(), "the hook is gone");
    let ev = notices.try_recv().expect("the failure is on screen");
    assert_eq!(ev.name, "alert.hook_failed");
    assert_eq!(ev.level, Level::Warn);
    assert!(
        ev.message.contains("still running after 5000 ms: killed"),
        "{}",
        ev.message
    );
}

#[tokio::test]
async fn a_timeout_kills_what_the_hook_started_too() {
    let dir = TempDir::new("group");
    let fifo = dir.path("pid.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    // A pipeline-like hook: a background child, its pid told through the fifo, then waiting.
    let command = format!("sleep 30 & echo $! > '{fifo}'; wait");
    let reader = fifo.clone();
    let grandchild = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = grandchild.clone();
    // The deadline: the moment the hook has started its child (no clock involved).
    let deadline = async move {
        let line = tokio::task::spawn_blocking(move || std::fs::read_to_string(reader))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        *seen.lock().unwrap_or_else(|p| p.into_inner()) = line.trim().parse::<u32>().ok();
    };
    let outcome = run_until(&command, "{}", deadline).await;
    let HookOutcome::TimedOut { pid: Some(pgid) } = outcome else {
        panic!("not timed out: {outcome:?}");
    };
    let child = grandchild
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .expect("the hook told its child's pid");
    assert_ne!(child, pgid);
    assert_eq!(wait_group_gone(pgid), Vec::<u32>::new());
    let state = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
    let state = state.rsplit_once(')').map_or("", |(_, r)| r).trim_start();
    assert!(
        state.is_empty() || state.starts_with('Z') || state.starts_with('X'),
        "the background child lives on: {state}"
    );
}

#[tokio::test(start_paused = true)]
async fn at_most_max_commands_run_and_failures_are_shown_once_per_streak() {
    let (runner, mut notices) = runner("sleep 30", 5_000, 1);
    let first = runner.spawn(&alert(), AT).expect("the first starts");
    assert!(runner.spawn(&alert(), AT).is_none(), "one at a time");
    let ev = notices.try_recv().expect("shown");
    assert!(
        ev.message
            .contains("alerts.max_commands (1) hooks already running"),
        "{}",
        ev.message
    );
    assert!(runner.spawn(&alert(), AT).is_none());
    assert!(notices.try_recv().is_err(), "the streak is shown once");
    assert!(matches!(first.await, Ok(HookOutcome::TimedOut { .. })));
    assert!(notices.try_recv().is_err(), "still the same streak");
}

#[tokio::test]
async fn a_success_ends_a_failure_streak_and_the_next_failure_shows_with_its_stderr() {
    let dir = TempDir::new("streak");
    let code = dir.path("code");
    // The hook exits with the status the test writes into `code`.
    let (runner, mut notices) = runner(
        &format!("cat > /dev/null; echo oops >&2; exit $(cat '{code}')"),
        30_000,
        4,
    );
    let run = |status: &str| {
        std::fs::write(&code, status).expect("write");
        runner.spawn(&alert(), AT).expect("runs")
    };
    let first = run("3").await.ok();
    assert_eq!(
        first,
        Some(HookOutcome::Failed("exit status 3: oops".into()))
    );
    let ev = notices.try_recv().expect("shown");
    assert!(ev.message.contains("exit status 3: oops"), "{}", ev.message);
    assert!(run("4").await.is_ok());
    assert!(notices.try_recv().is_err(), "the streak is shown once");
    assert_eq!(run("0").await.ok(), Some(HookOutcome::Done));
    assert!(run("5").await.is_ok());
    let ev = notices.try_recv().expect("a new streak shows");
    assert!(ev.message.contains("exit status 5"), "{}", ev.message);
}
