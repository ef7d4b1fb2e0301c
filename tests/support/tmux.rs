//! A real terminal for end-to-end tests: the built binary runs inside a tmux session on a
//! private tmux server (`-L socket`), keys go in with `send-keys`, the screen comes back with
//! `capture-pane`. Included with `#[path]` by each end-to-end test; not every test uses every
//! helper.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
    session: String,
}

/// Is this command installed (`cmd arg` exits 0)?
pub fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

impl Tmux {
    /// Start `command` in a detached `width` x `height` session on a private tmux server.
    pub fn start(name: &str, width: u16, height: u16, command: &str) -> Tmux {
        let t = Tmux {
            socket: format!("trademon-{name}-{}", std::process::id()),
            session: name.to_string(),
        };
        let status = t
            .cmd()
            .args(["new-session", "-d", "-x", &width.to_string()])
            .args(["-y", &height.to_string(), "-s", name])
            .arg(command)
            .status()
            .expect("tmux new-session");
        assert!(status.success(), "tmux new-session failed");
        t
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    pub fn capture(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let status = self
            .cmd()
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    pub fn resize(&self, width: u16, height: u16) {
        let _ = self
            .cmd()
            .args(["resize-window", "-t", &self.session])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .status();
    }

    pub fn alive(&self) -> bool {
        self.cmd()
            .args(["has-session", "-t", &self.session])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Poll the screen until `pred` holds; the last screen is in the panic message otherwise.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return screen;
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait up to `timeout` for the program to exit (the session closes with it).
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        let start = Instant::now();
        while self.alive() && start.elapsed() < timeout {
            std::thread::sleep(Duration::from_millis(100));
        }
        !self.alive()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}
