//! A dead hub stops `trademon serve` and the embedded TUI: the process exits 1, says which
//! task ended and why, and the log says it too. The hub is killed through the SIGUSR1 switch
//! that only test builds have (the `test-hooks` feature, src/launch.rs `kill_hub_on_sigusr1`).
#![cfg(unix)]

use crate::support::tmux;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Generous: this is how long a loaded machine may take, not a window the behaviour must hit.
const EXIT_DEADLINE: Duration = Duration::from_secs(60);

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "trademon-supervised-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A config file in `dir` that keeps data and logs (`dir/logs`) there.
fn config_in(dir: &Path) -> PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[data]\ndir = {:?}\n[log]\ndir = {:?}\n",
            dir.join("data").display().to_string(),
            dir.join("logs").display().to_string()
        ),
    )
    .expect("config written");
    config
}

/// The log names the hub and its cause at ERROR in both files.
fn assert_hub_end_logged(logs: &Path) {
    for file in ["trademon.log", "errors.log"] {
        let ended = events(&logs.join(file), "task.ended");
        let hub = ended
            .iter()
            .find(|v| v["fields"]["task"] == "hub")
            .unwrap_or_else(|| panic!("no task.ended for the hub in {file}: {ended:?}"));
        assert_eq!(hub["level"], "ERROR", "{hub}");
        assert_eq!(hub["fields"]["cause"], "was cancelled", "{hub}");
    }
    // An orderly stop after the cause, not a crash.
    assert!(
        !events(&logs.join("trademon.log"), "backend.stopped").is_empty(),
        "the backend was shut down"
    );
}

/// The JSON log lines of `file` whose `fields.event` is `event`.
fn events(file: &Path, event: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["event"] == event)
        .collect()
}

#[test]
fn killing_the_hub_ends_serve_with_a_logged_cause() {
    let dir = temp_dir();
    let config = config_in(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_trademon"))
        .arg("--demo")
        .arg("--config")
        .arg(&config)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trademon serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        let line = lines
            .next()
            .expect("serve printed its address")
            .expect("readable stdout");
        if line.contains("listening on") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let mut stderr = child.stderr.take().expect("piped stderr");

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-USR1", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());

    let (tx, rx) = mpsc::channel::<std::io::Result<ExitStatus>>();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait());
        child
    });
    let status = match rx.recv_timeout(EXIT_DEADLINE) {
        Ok(status) => status.expect("wait for serve"),
        Err(_) => {
            // Do not leave a zombie service behind a failed test.
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("serve kept running {EXIT_DEADLINE:?} after its hub was killed");
        }
    };
    let _ = waiter.join();
    assert_eq!(status.code(), Some(1), "serve exited with {status}");
    let mut err_text = String::new();
    let _ = stderr.read_to_string(&mut err_text);
    assert!(
        err_text.contains("the hub task was cancelled"),
        "stderr: {err_text}"
    );

    assert_hub_end_logged(&dir.join("logs"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn killing_the_hub_ends_the_embedded_tui_with_the_terminal_restored() {
    if !tmux::have("tmux", "-V") {
        eprintln!("SKIPPED: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = temp_dir();
    let config = config_in(&dir);
    // The shell stays after trademon so its exit code and last words can be read.
    let command = format!(
        "sh -c 'TERM=xterm-256color {} --demo --config {}; echo exit=$?; sleep 600'",
        env!("CARGO_BIN_EXE_trademon"),
        config.display()
    );
    let t = tmux::Tmux::start("supervision", 80, 24, &command);
    t.wait_for("Live and prices", Duration::from_secs(30), |s| {
        s.contains("Live") && s.contains("BTC_USDT")
    });
    let out = t
        .cmd()
        .args(["list-panes", "-t", "supervision", "-F", "#{pane_pid}"])
        .output()
        .expect("tmux list-panes");
    let shell = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let out = Command::new("pgrep")
        .args(["-P", &shell])
        .output()
        .expect("pgrep");
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !pid.is_empty(),
        "no trademon under the pane's shell {shell}"
    );
    let killed = Command::new("kill")
        .args(["-USR1", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());

    let screen = t.wait_for("trademon to exit", EXIT_DEADLINE, |s| s.contains("exit="));
    assert!(screen.contains("exit=1"), "{screen}");
    assert!(
        screen.contains("stopped: the hub task was cancelled"),
        "{screen}"
    );
    // Back on the normal screen: the watchlist went with the alternate screen.
    assert!(!screen.contains("BTC_USDT"), "{screen}");
    assert_hub_end_logged(&dir.join("logs"));
    let _ = std::fs::remove_dir_all(&dir);
}
