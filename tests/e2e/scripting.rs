//! `trademon watch --json` and `trademon status` as a script runs them: the real binary
//! against a backend fed by the in-repo simulator over real loopback sockets (or its own
//! embedded demo backend), its stdout parsed line by line.
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use trademon::config::Config;
use trademon::engine::{EntrySettings, ExitSettings, StrategySettings};
use trademon::launch::{Embedded, start_embedded};

/// Generous: what a loaded CI machine may take, not a window the behaviour must hit.
const PATIENCE: Duration = Duration::from_secs(30);

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "trademon-script-{tag}-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The child's config: its data and logs in `dir`, an ephemeral simulator port (for
/// `--demo`), a quick demo market.
fn child_config(dir: &Path) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[data]\ndir = {:?}\n[log]\ndir = {:?}\n[sim]\nlisten = \"127.0.0.1:0\"\nticker_interval_ms = 200\n",
            dir.join("data").display().to_string(),
            dir.join("logs").display().to_string()
        ),
    )
    .expect("config written");
    path
}

/// The in-process stack: simulator -> adapter -> backend, a strategy that enters on the first
/// seconds of a pump, and pumps only on cue.
async fn demo_stack(dir: &Path) -> Embedded {
    let mut cfg = Config::defaults();
    cfg.sim.ticker_interval_ms = 200;
    cfg.sim.trades_per_s = 20.0;
    cfg.sim.first_pump_after_s = 0;
    cfg.sim.pump_chance_per_s = 0.0;
    cfg.server.close_grace_ms = 200;
    cfg.data.dir = dir.join("stack").display().to_string();
    cfg.strategies.insert(
        "pumped".into(),
        StrategySettings {
            entry: EntrySettings {
                all: vec!["vwap_dev_pct_5m > 0.3".into(), "buy_ratio_1m > 0.6".into()],
            },
            exit: ExitSettings {
                any: vec!["position_age_s > 600".into()],
            },
            ..StrategySettings::default_strategy()
        },
    );
    for s in &mut cfg.demo_sessions {
        s.strategy = "pumped".into();
    }
    let (_tx, rx) = mpsc::channel(16);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    start_embedded(&cfg, true, loopback, rx)
        .await
        .expect("embedded stack starts")
}

fn trademon(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trademon"));
    c.arg("--config")
        .arg(child_config(dir))
        .args(args)
        .env_remove("TRADEMON_TOKEN")
        .stdin(Stdio::null());
    c
}

/// The child's stdout lines as they come, on a channel (a reader thread).
fn lines_of(child: &mut Child) -> std_mpsc::Receiver<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std_mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for the child, killing it after `limit` (no process is left behind a failed test).
fn exit_code_within(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("trademon did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(ok.success());
}

/// Checks every line of a watch's output: NDJSON, and per (stream, session) a full_update
/// first, then seqs that only grow. Returns the full_updates and the deltas seen per stream.
#[derive(Default)]
struct Checked {
    full_updates: BTreeMap<String, usize>,
    deltas: BTreeMap<String, usize>,
    types: BTreeSet<String>,
    link_states: Vec<String>,
}

fn check_line(c: &mut Checked, last: &mut BTreeMap<(String, String), u64>, line: &str) {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    let ty = v["type"]
        .as_str()
        .unwrap_or_else(|| panic!("no type: {line}"));
    c.types.insert(ty.to_string());
    if ty == "link" {
        c.link_states
            .push(v["state"].as_str().expect("link state").to_string());
        return;
    }
    assert_ne!(ty, "resync", "no gap expected on loopback: {line}");
    let stream = v["stream"]
        .as_str()
        .unwrap_or_else(|| panic!("no stream: {line}"));
    let session = v["session_id"].as_str().unwrap_or("").to_string();
    let seq = v["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq: {line}"));
    let key = (stream.to_string(), session);
    if ty == "full_update" {
        *c.full_updates.entry(stream.to_string()).or_default() += 1;
        if let Some(prev) = last.get(&key) {
            assert!(seq >= *prev, "full_update went back: {line}");
        }
        last.insert(key, seq);
        return;
    }
    *c.deltas.entry(stream.to_string()).or_default() += 1;
    let prev = last
        .get(&key)
        .unwrap_or_else(|| panic!("a delta before its full_update: {line}"));
    assert!(seq > *prev, "seq not increasing after {prev}: {line}");
    last.insert(key, seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_json_prints_every_chosen_stream_as_ndjson_with_increasing_seq() {
    let dir = temp_dir("watch");
    let stack = demo_stack(&dir).await;
    let url = stack.backend.ws_url();
    let mut child = trademon(
        &dir,
        &[
            "watch",
            "--json",
            "--stream",
            "signals,positions",
            "--connect",
            &url,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("trademon watch starts");
    let lines = lines_of(&mut child);

    let mut checked = Checked::default();
    let mut last = BTreeMap::new();
    let mut pumped = false;
    let deadline = Instant::now() + PATIENCE;
    // Until the pumped symbol's entry signal and its position have come through.
    while checked.deltas.get("signals").copied().unwrap_or(0) == 0
        || checked.deltas.get("positions").copied().unwrap_or(0) == 0
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match lines.recv_timeout(left) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no signal and position delta in time; full_updates {:?}, deltas {:?}",
                    checked.full_updates, checked.deltas
                );
            }
        };
        check_line(&mut checked, &mut last, &line);
        // Every chosen stream of both demo sessions has its full_update: pump now.
        if !pumped && checked.full_updates.values().sum::<usize>() >= 4 {
            stack
                .sim
                .as_ref()
                .expect("demo runs the simulator")
                .faults
                .force_pump("BTC_USDT")
                .expect("BTC_USDT is simulated");
            pumped = true;
        }
    }
    interrupt(&child);
    assert_eq!(
        exit_code_within(&mut child, PATIENCE),
        Some(0),
        "Ctrl-C ends the watch with 0"
    );
    // Whatever came before the end parses and keeps the rules too.
    for line in lines.try_iter() {
        check_line(&mut checked, &mut last, &line);
    }
    assert_eq!(
        checked.full_updates.get("signals"),
        Some(&2),
        "one per session"
    );
    assert_eq!(
        checked.full_updates.get("positions"),
        Some(&2),
        "one per session"
    );
    assert!(
        checked.types.is_subset(
            &[
                "link",
                "full_update",
                "signal",
                "position",
                "session_totals"
            ]
            .map(String::from)
            .into()
        ),
        "only the chosen streams: {:?}",
        checked.types
    );
    assert_eq!(
        checked.link_states.first().map(String::as_str),
        Some("connecting")
    );
    assert!(
        checked.link_states.iter().any(|s| s == "live"),
        "{:?}",
        checked.link_states
    );
    // The close was a normal one (1000), as the watch's log says.
    let log = std::fs::read_to_string(dir.join("logs").join("trademon.log")).unwrap_or_default();
    assert!(
        log.lines().any(|l| l.contains("\"link.close\"")
            && l.contains("\"code\":1000")
            && l.contains("client quit")),
        "no normal close in the watch's log:\n{log}"
    );
    stack.shutdown().await;
}

/// A link to the backend that breaks mid-watch: the script sees the gap as `link` lines, and
/// every stream starts again with a `full_update`; the seq rules hold across it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_says_when_the_link_breaks_and_starts_each_stream_again() {
    let dir = temp_dir("reconnect");
    let stack = demo_stack(&dir).await;
    let proxy = crate::support::chaos_proxy::ChaosProxy::start(stack.backend.addr).await;
    let url = format!("ws://{}/ws", proxy.addr);
    let mut child = trademon(
        &dir,
        &[
            "watch",
            "--json",
            "--stream",
            "health,signals",
            "--connect",
            &url,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("trademon watch starts");
    let lines = lines_of(&mut child);
    let mut checked = Checked::default();
    let mut last = BTreeMap::new();
    let next = |checked: &mut Checked, last: &mut BTreeMap<(String, String), u64>| match lines
        .recv_timeout(PATIENCE)
    {
        Ok(line) => check_line(checked, last, &line),
        Err(_) => panic!(
            "the watch went quiet; links {:?}, full_updates {:?}",
            checked.link_states, checked.full_updates
        ),
    };
    // health and both sessions' signals, and a health delta.
    while checked.full_updates.values().sum::<usize>() < 3 || !checked.deltas.contains_key("health")
    {
        next(&mut checked, &mut last);
    }
    let before = checked.full_updates.values().sum::<usize>();
    proxy.reset_all();
    while !(checked.link_states.iter().any(|s| s == "reconnecting")
        && checked.link_states.last().map(String::as_str) == Some("live")
        && checked.full_updates.values().sum::<usize>() >= before + 3)
    {
        next(&mut checked, &mut last);
    }
    interrupt(&child);
    assert_eq!(exit_code_within(&mut child, PATIENCE), Some(0));
    for line in lines.try_iter() {
        check_line(&mut checked, &mut last, &line);
    }
    assert_eq!(
        checked.link_states[..2],
        ["connecting".to_string(), "live".to_string()]
    );
    stack.shutdown().await;
}

#[test]
fn watch_with_a_closed_stdout_exits_0_quietly() {
    // The embedded demo backend this time (`| head -n 2`).
    let dir = temp_dir("head");
    let mut child = trademon(&dir, &["--demo", "watch", "--json", "--stream", "health"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trademon watch starts");
    let lines = lines_of(&mut child);
    let mut got = Vec::new();
    while got.len() < 3 {
        match lines.recv_timeout(PATIENCE) {
            Ok(l) => got.push(l),
            Err(_) => {
                let _ = child.kill();
                panic!("fewer than 3 lines: {got:?}");
            }
        }
    }
    assert!(
        got.iter().any(|l| l.contains("\"stream\":\"health\"")),
        "{got:?}"
    );
    // The reader goes away: the next health line (1 s) meets a closed pipe.
    drop(lines);
    let code = exit_code_within(&mut child, PATIENCE);
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert_eq!(code, Some(0), "stderr: {err}");
    assert!(err.is_empty(), "quietly: {err}");
}

#[test]
fn watch_refuses_an_unknown_stream_listing_the_valid_ones() {
    let dir = temp_dir("badstream");
    let out = trademon(&dir, &["watch", "--json", "--stream", "signals,orders"])
        .output()
        .expect("trademon runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown stream \"orders\""), "{err}");
    assert!(
        err.contains("sessions, market_data, state_machines, health, events, indicators, conditions, signals, positions"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

fn status(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["status"];
    all.extend_from_slice(args);
    let mut child = trademon(dir, &all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trademon status starts");
    let out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(err).unwrap_or_default());
    let code = exit_code_within(&mut child, PATIENCE);
    (
        code,
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_exits_0_when_live_and_1_when_the_market_link_is_cut() {
    let dir = temp_dir("status");
    let stack = demo_stack(&dir).await;
    let url = stack.backend.ws_url();

    let d = dir.clone();
    let u = url.clone();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || status(&d, &["--json", "--connect", &u]))
            .await
            .expect("status ran");
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    let v = json(&out);
    assert_eq!(v["type"], "status");
    assert_eq!(v["level"], "live");
    assert_eq!(v["headline"], "● Live (simulated)");
    assert_eq!(v["health"]["market"], "simulator");
    let ids: Vec<&str> = v["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["majors", "alts"]);
    assert!(
        v["sessions"][0]["totals"]["realized_pnl"].is_number(),
        "{v}"
    );

    // The simulator refuses the adapter from now on, and its open connections drop.
    let sim = stack.sim.as_ref().expect("demo runs the simulator");
    sim.faults.update(|f| f.refuse_upgrades = true);
    sim.faults
        .drop_connections(None, false)
        .expect("connections dropped");
    let health_url = format!("http://{}/api/v1/health", stack.backend.addr);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let state = match http.get(&health_url).send().await {
            Ok(r) => r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| v["upstream"]["state"].as_str().map(String::from)),
            Err(_) => None,
        };
        if state.as_deref().is_some_and(|s| s != "live") {
            break;
        }
        assert!(Instant::now() < deadline, "the upstream stayed live");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = dir.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        status(&d, &["--json", "--timeout-ms", "1500", "--connect", &url])
    })
    .await
    .expect("status ran");
    assert_eq!(code, Some(1), "stdout: {out}\nstderr: {err}");
    let v = json(&out);
    let level = v["level"].as_str().expect("level");
    assert!(
        level == "degraded" || level == "no_data",
        "a cut market link is degraded or no data: {v}"
    );
    assert_eq!(v["exit_code"], 1);
    assert!(
        v["headline"]
            .as_str()
            .is_some_and(|h| h.contains("simulator")),
        "the headline names the cause: {v}"
    );
    stack.shutdown().await;
}

#[test]
fn status_exits_1_with_the_reason_when_no_backend_listens() {
    let dir = temp_dir("down");
    // A port that was free a moment ago and that nothing listens on now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("ws://127.0.0.1:{port}/ws");
    let (code, out, err) = status(&dir, &["--json", "--connect", &url]);
    assert_eq!(code, Some(1), "stdout: {out}\nstderr: {err}");
    let v = json(&out);
    assert_eq!(v["level"], "unreachable");
    assert_eq!(v["exit_code"], 1);
    let headline = v["headline"].as_str().expect("headline");
    assert!(headline.contains("backend unreachable"), "{headline}");
    assert!(headline.contains(&url), "{headline}");
    // The text form says the same in words.
    let (code, out, _) = status(&dir, &["--connect", &url]);
    assert_eq!(code, Some(1));
    assert!(
        out.starts_with("✕ Disconnected — backend unreachable"),
        "{out}"
    );
}

#[test]
fn status_of_the_embedded_demo_is_live() {
    let dir = temp_dir("embedded");
    let (code, out, err) = status(&dir, &["--demo"]);
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    assert!(out.starts_with("● Live (simulated)"), "{out}");
    assert!(out.contains("session   majors (Majors)  running"), "{out}");
}

/// Without `--connect`, a script follows the backend a running trademon advertises in the
/// data dir (here `trademon serve --demo`), not a second backend of its own.
#[test]
fn status_without_connect_follows_the_running_backend() {
    let dir = temp_dir("discover");
    let mut serve = trademon(&dir, &["--demo", "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("trademon serve starts");
    let lines = lines_of(&mut serve);
    let url = loop {
        match lines.recv_timeout(PATIENCE) {
            Ok(l) => {
                if let Some(rest) = l.strip_prefix("trademon backend listening on ") {
                    break rest.split(' ').next().expect("url").to_string();
                }
            }
            Err(_) => {
                let _ = serve.kill();
                panic!("serve did not say where it listens");
            }
        }
    };
    let advert = dir.join("data").join("demo-backend.json");
    assert!(advert.exists(), "serve advertises its backend");
    let (code, out, err) = status(&dir, &["--demo", "--json"]);
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    let v = json(&out);
    assert_eq!(
        v["link"]["url"],
        url.as_str(),
        "the served backend, not a new one"
    );
    // A live run never follows the demo's backend.
    assert!(!dir.join("data").join("backend.json").exists());
    interrupt(&serve);
    assert_eq!(exit_code_within(&mut serve, PATIENCE), Some(0));
    assert!(!advert.exists(), "removed when serve stops");
}
