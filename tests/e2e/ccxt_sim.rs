//! ccxt's MEXC client, the library most MEXC bots use, against `trademon sim`: the built binary
//! runs the simulator, `tests/ccxt/check_sim.py` points ccxt at it and calls load_markets,
//! fetch_ticker(s), fetch_trades, fetch_order_book, fetch_ohlcv, the funding rate and the
//! watch_* streams, checking each answer.
//!
//! Needs python3 with ccxt (`pip install -r tests/ccxt/requirements.txt`; `.ci/run` installs
//! it). Without it the test says why and passes, unless `TRADEMON_REQUIRE_CCXT=1` (CI), where
//! a missing ccxt fails. `TRADEMON_PYTHON` names another interpreter.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The whole script: twelve calls of at most 30 s each, usually a few seconds in all.
const SCRIPT_LIMIT: Duration = Duration::from_secs(300);

/// A child process killed when the test ends, passing or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python() -> String {
    std::env::var("TRADEMON_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// `Some(reason)` when ccxt cannot be imported.
fn ccxt_missing(python: &str) -> Option<String> {
    match Command::new(python)
        .args(["-c", "import ccxt.pro"])
        .output()
    {
        Err(e) => Some(format!("{python} cannot run: {e}")),
        Ok(out) if !out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            // The traceback's last line says what is missing.
            let last = stderr.lines().last().unwrap_or("").trim();
            Some(format!("{python} -c 'import ccxt.pro' failed: {last}"))
        }
        Ok(_) => None,
    }
}

/// Starts `trademon sim` on a free loopback port; returns it with its REST and WS URLs.
fn start_sim(root: &Path) -> (Killed, String, String) {
    let config = root.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[data]\ndir = {:?}\n\n[log]\ndir = {:?}\n",
            root.join("data").to_string_lossy(),
            root.join("logs").to_string_lossy(),
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_trademon"))
        .arg("--config")
        .arg(&config)
        .args(["sim", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("trademon sim starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let sim = Killed(child);
    let mut lines = BufReader::new(stdout).lines();
    // "MEXC simulator: WebSocket ws://127.0.0.1:P/edge  REST http://127.0.0.1:P"
    let (ws, rest) = loop {
        let line = lines
            .next()
            .expect("the simulator printed its URLs")
            .expect("readable stdout");
        let words: Vec<&str> = line.split_whitespace().collect();
        let ws = words.iter().find(|w| w.starts_with("ws://"));
        let rest = words.iter().find(|w| w.starts_with("http://"));
        if let (Some(ws), Some(rest)) = (ws, rest) {
            break (ws.to_string(), rest.to_string());
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (sim, rest, ws)
}

#[test]
fn ccxt_mexc_client_gets_data_from_the_simulator() {
    let python = python();
    if let Some(why) = ccxt_missing(&python) {
        let required = std::env::var("TRADEMON_REQUIRE_CCXT").is_ok_and(|v| v == "1");
        assert!(!required, "TRADEMON_REQUIRE_CCXT=1 but {why}");
        eprintln!("skipped: {why} (pip install -r tests/ccxt/requirements.txt)");
        return;
    }
    let root = std::env::temp_dir().join(format!("trademon-ccxt-sim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let (_sim, rest, ws) = start_sim(&root);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ccxt/check_sim.py");
    let out_path = root.join("check_sim.out");
    let out = std::fs::File::create(&out_path).unwrap();
    let err = out.try_clone().unwrap();
    let child = Command::new(&python)
        .arg(&script)
        .args(["--rest", &rest, "--ws", &ws, "--timeout", "30"])
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("the check script starts");
    // Waited for on its own thread, so a hung script is killed at the limit instead of hanging
    // the test.
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut child = child;
        let _ = done.send(child.wait());
    });
    let status = match finished.recv_timeout(SCRIPT_LIMIT) {
        Ok(status) => Some(status.expect("wait for the check script")),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            None
        }
    };
    let report = std::fs::read_to_string(&out_path).unwrap_or_default();
    println!("{report}");
    let status =
        status.unwrap_or_else(|| panic!("check_sim.py ran over {SCRIPT_LIMIT:?}:\n{report}"));
    assert!(status.success(), "ccxt check failed ({status}):\n{report}");
    assert!(report.contains(" 0 failed"), "{report}");
    for call in [
        "load_markets",
        "fetch_ticker",
        "fetch_tickers",
        "fetch_trades",
        "fetch_order_book",
        "fetch_ohlcv",
        "watch_ticker",
        "watch_trades",
        "watch_order_book",
        "watch_ohlcv",
    ] {
        assert!(
            report.contains(&format!("ok   {call}:")),
            "{call}:\n{report}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}
