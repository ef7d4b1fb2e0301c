//! Issue 5's "Done when", as a trader runs it, with a short outage: the in-repo QuestDB test
//! double (journalled so it keeps its tables across a restart) in a child process of this
//! test and `trademon --demo` with `[questdb]` pointed at it, in a real terminal (tmux,
//! 80x24). The health bar says `QDB ok`; killing the double (SIGKILL) turns it to
//! `QDB ✗ DOWN spool N` with N growing; restarting the double drains the spool back to
//! `QDB ok`; after `q` every table holds rows and every trade id is stored once, contiguous
//! per symbol. The one-minute outage of the issue is the same run with a longer pause
//! (docs/questdb.md, "Outage drill").

use crate::support::trade_ids as trade_check;

use crate::support::tmux;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tmux::{Tmux, have};
use trade_check::assert_each_trade_once_and_contiguous;
use trademon::store::exec::ExecClient;

const WAIT: Duration = Duration::from_secs(30);
const TABLES: [&str; 7] = [
    "trades",
    "prices",
    "indicator_values",
    "signals",
    "fsm_transitions",
    "sessions",
    "connection_events",
];

/// The double's process, killed when the test ends, passing or not.
struct Double(Child);

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const DOUBLE_LISTEN: &str = "TRADEMON_TEST_DOUBLE_LISTEN";
const DOUBLE_JOURNAL: &str = "TRADEMON_TEST_DOUBLE_JOURNAL";

/// The double's process: this test binary run again for `questdb_double_process` alone. The
/// double lives in trademon-questdb-double, not in the release binary, and a process of its
/// own can be killed with SIGKILL like a real QuestDB.
#[test]
#[ignore = "the QuestDB double's process for store_e2e_tmux; that test starts it"]
fn questdb_double_process() {
    let (Ok(listen), Ok(journal)) = (std::env::var(DOUBLE_LISTEN), std::env::var(DOUBLE_JOURNAL))
    else {
        return;
    };
    let addr = listen.parse().expect("listen address");
    let (server, _) =
        trademon_questdb_double::TestServer::start_journalled(addr, Path::new(&journal))
            .expect("the double starts");
    println!("QuestDB TEST DOUBLE on http://{}", server.addr());
    loop {
        std::thread::park();
    }
}

/// The double on `listen`; returns the child and the address it printed.
fn start_double(listen: &str, journal: &Path) -> (Double, String) {
    // The test's name without this binary's crate name, however the tests are gathered.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let name = if module.is_empty() {
        "questdb_double_process".to_string()
    } else {
        format!("{module}::questdb_double_process")
    };
    let mut child = Command::new(std::env::current_exe().expect("test binary path"))
        .args([
            "--ignored",
            "--exact",
            &name,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DOUBLE_LISTEN, listen)
        .env(DOUBLE_JOURNAL, journal)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("questdb-double starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("questdb-double printed its address")
            .expect("readable stdout");
        if let Some(rest) = line.split("on http://").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
    };
    (Double(child), addr)
}

/// The number after "spool" on the health bar, if the bar shows the store down.
fn spool_shown_down(screen: &str) -> Option<f64> {
    let at = screen.find("DOWN spool ")? + "DOWN spool ".len();
    let n: String = screen[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'k' || *c == 'M')
        .collect();
    let (num, mult) = match n.chars().last() {
        Some('k') => (&n[..n.len() - 1], 1e3),
        Some('M') => (&n[..n.len() - 1], 1e6),
        _ => (n.as_str(), 1.0),
    };
    num.parse::<f64>().ok().map(|v| v * mult)
}

#[test]
fn demo_writes_every_table_survives_a_questdb_outage_and_stores_each_trade_once() {
    if !have("tmux", "-V") {
        eprintln!("SKIPPED: tmux is not installed (.ci/run installs it)");
        return;
    }
    let root = std::env::temp_dir().join(format!("trademon-qdb-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let journal = root.join("qdb.journal");
    let (double, addr) = start_double("127.0.0.1:0", &journal);

    let config = root.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[questdb]\nenabled = true\nconf = \"http::addr={addr};protocol_version=2;\"\n\
             flush_age_ms = 100\nretry_base_ms = 50\nretry_cap_ms = 500\n\
             request_timeout_ms = 2000\n\n[sim]\nfirst_pump_after_s = 2\n"
        ),
    )
    .unwrap();
    let command = format!(
        "env TERM=xterm-256color TRADEMON_DATA__DIR={} {} --demo --config {}",
        root.join("data").display(),
        env!("CARGO_BIN_EXE_trademon"),
        config.display()
    );
    let t = Tmux::start("qdb", 80, 24, &command);
    t.wait_for("Live and QDB ok", WAIT, |s| {
        s.contains("Live") && s.contains("QDB ok")
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let exec = ExecClient::with(
        &format!("http://{addr}"),
        Duration::from_secs(5),
        None,
        None,
    );
    let rows = |table: &str| {
        rt.block_on(exec.run(&format!("SELECT ts FROM {table}")))
            .map_or(0, |d| d.rows.len())
    };
    let wait_rows = |tables: &[&str]| {
        let start = std::time::Instant::now();
        while tables.iter().any(|t| rows(t) == 0) {
            let counts: Vec<_> = tables.iter().map(|t| (*t, rows(t))).collect();
            assert!(start.elapsed() < WAIT * 2, "tables still empty: {counts:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_rows(&["trades", "prices", "sessions", "connection_events"]);

    // Outage: the double is killed; the bar says DOWN in words with a growing spool.
    drop(double);
    let first = t.wait_for("QDB DOWN with a spool", WAIT, |s| {
        spool_shown_down(s).is_some_and(|n| n > 0.0)
    });
    let first = spool_shown_down(&first).unwrap_or_default();
    t.wait_for("the spool count to grow by 50 rows", WAIT, |s| {
        spool_shown_down(s).is_some_and(|n| n >= first + 50.0)
    });

    // Back on the same port with the same journal: the spool drains and the bar is ok again.
    let (_double, _) = start_double(&addr, &journal);
    let back = t.wait_for("QDB ok after the outage", WAIT, |s| {
        s.contains("QDB ok") && !s.contains("spool")
    });
    assert!(back.contains("Live"), "{back}");
    // The scripted pump brings the signals and the rest of the transitions.
    wait_rows(&TABLES);
    t.keys(&["q"]);
    assert!(
        t.wait_exit(Duration::from_secs(15)),
        "trademon did not exit"
    );
    let counts: Vec<_> = TABLES.iter().map(|t| (*t, rows(t))).collect();
    eprintln!("rows per table: {counts:?}");

    let d = rt
        .block_on(exec.run("SELECT symbol, trade_id FROM trades"))
        .expect("trade ids");
    let mut ids: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in &d.rows {
        if let (Some(s), Some(id)) = (row[0].as_str(), row[1].as_i64()) {
            ids.entry(s.to_string()).or_default().push(id);
        }
    }
    assert_each_trade_once_and_contiguous(ids);
    let _ = std::fs::remove_dir_all(&root);
}
