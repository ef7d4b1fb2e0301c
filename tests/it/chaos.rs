//! Chaos scenarios (issue 7): the real stack (simulator -> adapter -> backend -> client) with a
//! fault proxy on a link, under the DEFAULT client heartbeat settings, so the bounds asserted
//! here are the ones a trader gets. These take tens of seconds each; they run in parallel.

use crate::support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;
use support::chaos_proxy::ChaosProxy;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};
use trademon::client::connection::{self, ConnectOptions};
use trademon::client::link::{LinkState, LinkStatus};
use trademon::client::{ClientCommand, ClientEvent, ClientHandle, Subscription};
use trademon::config::Config;
use trademon::exchange::sim;
use trademon::launch::{Embedded, start_embedded};
use trademon::protocol::{ServerMsg, SessionInfo, StreamName, now_ms};

fn config() -> Config {
    let mut cfg = Config::defaults();
    // Demo sessions persist in the data dir: never the user's own.
    cfg.data.dir = std::env::temp_dir()
        .join(format!(
            "trademon-chaos-{}-{}",
            std::process::id(),
            fastrand::u32(..)
        ))
        .display()
        .to_string();
    // Livelier market so freshness is measurable; heartbeat settings stay at their defaults.
    cfg.sim.ticker_interval_ms = 250;
    cfg.sim.trades_per_s = 10.0;
    cfg
}

async fn stack(cfg: &Config, demo: bool) -> Embedded {
    let (_tx, rx) = mpsc::channel(16);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    start_embedded(cfg, demo, loopback, rx)
        .await
        .expect("stack starts")
}

fn subscriptions(session: &str) -> BTreeSet<Subscription> {
    let mut set: BTreeSet<Subscription> = [StreamName::Sessions, StreamName::Health]
        .into_iter()
        .map(|stream| Subscription {
            stream,
            session_id: None,
        })
        .collect();
    for stream in [StreamName::MarketData, StreamName::StateMachines] {
        set.insert(Subscription {
            stream,
            session_id: Some(session.into()),
        });
    }
    set
}

/// Everything a scenario asserts on, gathered from the client's event stream.
struct Watch {
    rx: mpsc::Receiver<ClientEvent>,
    handle: ClientHandle,
    link: Option<LinkStatus>,
    states: Vec<(Instant, LinkState)>,
    /// Local arrival time minus the backend's receipt time of each ticker, in ms.
    ticker_delays: Vec<(Instant, i64)>,
    full_updates: usize,
    /// Every `full_update` with its arrival time: which (stream, session) was resynced when.
    fulls: Vec<(Instant, StreamName, Option<String>)>,
    /// The backend run the client is talking to (from `hello`).
    epoch: Option<String>,
    /// The session list of the latest `sessions` full_update.
    sessions: Option<Vec<SessionInfo>>,
    /// Symbols of the latest `state_machines` full_update (one instance per symbol).
    machines: Vec<String>,
    /// Each failed connect attempt's error, as the link status reported it.
    connect_errors: Vec<String>,
    /// Every reconnect countdown the link status announced, in ms.
    countdowns: Vec<u64>,
    upstream_reconnects: u64,
}

impl Watch {
    fn start(url: String, cfg: &Config, session: &str) -> Watch {
        let (handle, rx) = connection::spawn(
            ConnectOptions {
                ws_url: url,
                token: None,
                cfg: cfg.client.clone(),
            },
            subscriptions(session),
        );
        Watch {
            rx,
            handle,
            link: None,
            states: Vec::new(),
            ticker_delays: Vec::new(),
            full_updates: 0,
            fulls: Vec::new(),
            epoch: None,
            sessions: None,
            machines: Vec::new(),
            connect_errors: Vec::new(),
            countdowns: Vec::new(),
            upstream_reconnects: 0,
        }
    }

    fn note(&mut self, ev: ClientEvent) {
        match ev {
            ClientEvent::Link(l) => {
                if self.states.last().map(|s| s.1) != Some(l.state) {
                    self.states.push((Instant::now(), l.state));
                }
                let was = self.link.as_ref().and_then(|p| p.last_error.clone());
                if let Some((e, _)) = l.last_error.clone().filter(|e| Some(e) != was.as_ref()) {
                    self.connect_errors.push(e);
                }
                self.countdowns.extend(l.next_attempt_in_ms);
                self.link = Some(l);
            }
            ClientEvent::Message { msg, .. } => match msg {
                ServerMsg::Ticker(t) => self
                    .ticker_delays
                    .push((Instant::now(), now_ms() - t.data.received_ms)),
                ServerMsg::FullUpdate(f) => {
                    self.full_updates += 1;
                    self.fulls.push((Instant::now(), f.stream, f.session_id));
                    if let Some(list) = f.data.sessions {
                        self.sessions = Some(list);
                    }
                    if let Some(list) = f.data.state_machines {
                        self.machines = list.into_iter().map(|i| i.symbol).collect();
                    }
                }
                ServerMsg::Hello(h) => self.epoch = Some(h.epoch),
                ServerMsg::Health(h) => self.upstream_reconnects = h.data.upstream.reconnects,
                _ => {}
            },
            _ => {}
        }
    }

    fn state(&self) -> Option<LinkState> {
        self.link.as_ref().map(|l| l.state)
    }

    fn saw(&self, s: LinkState) -> bool {
        self.states.iter().any(|(_, x)| *x == s)
    }

    fn reconnects(&self) -> u64 {
        self.link.as_ref().map_or(0, |l| l.reconnects)
    }

    async fn until(&mut self, what: &str, limit: Duration, pred: impl Fn(&Watch) -> bool) {
        let deadline = Instant::now() + limit;
        while !pred(self) {
            match timeout(
                deadline.saturating_duration_since(Instant::now()),
                self.rx.recv(),
            )
            .await
            {
                Ok(Some(ev)) => self.note(ev),
                Ok(None) => panic!("client ended while waiting for {what}"),
                Err(_) => panic!("{what}: not within {limit:?}; states {:?}", self.states),
            }
        }
    }

    async fn run_for(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        while let Ok(Some(ev)) = timeout(
            deadline.saturating_duration_since(Instant::now()),
            self.rx.recv(),
        )
        .await
        {
            self.note(ev);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackholed_client_link_shows_reconnecting_within_20_s_and_recovers() {
    let cfg = config();
    let s = stack(&cfg, true).await;
    let proxy = ChaosProxy::start(s.backend.addr).await;
    let mut w = Watch::start(format!("ws://{}/ws", proxy.addr), &cfg, "majors");
    w.until("Live", Duration::from_secs(10), |w| {
        w.state() == Some(LinkState::Live)
    })
    .await;

    proxy.set_blackhole(true);
    let cut = Instant::now();
    // Dead takes `reconnect_after_missed` pings in a row without any frame since the first of
    // them, the first sent at most one interval after the cut: at most 3 x 5 s + 5 s = 20 s.
    // The wait allows a loaded machine's timers 5 s more; the lower bound proves the heartbeat
    // (and not something quicker and wrong) found the dead link.
    let c = &cfg.client;
    let ms = Duration::from_millis;
    let worst = ms(c.ping_interval_ms) * c.reconnect_after_missed + ms(c.pong_timeout_ms);
    let earliest = ms(c.ping_interval_ms) * (c.reconnect_after_missed - 1) + ms(c.pong_timeout_ms);
    assert_eq!(
        worst,
        Duration::from_secs(20),
        "the defaults this test is named for"
    );
    w.until("Reconnecting…", worst + Duration::from_secs(5), |w| {
        w.state() == Some(LinkState::Reconnecting)
    })
    .await;
    let detected = cut.elapsed();
    assert!(
        w.saw(LinkState::Slow),
        "Slow comes before Reconnecting…: {:?}",
        w.states
    );
    eprintln!("blackhole detected after {detected:?}");
    assert!(
        detected + Duration::from_secs(1) >= earliest,
        "declared dead after {detected:?}, before the heartbeat could have"
    );

    proxy.set_blackhole(false);
    let full_before = w.full_updates;
    w.until("Live and resynced", Duration::from_secs(30), |w| {
        w.state() == Some(LinkState::Live) && w.full_updates >= full_before + 4
    })
    .await;
    w.handle.send(ClientCommand::Shutdown);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_100ms_with_50ms_jitter_causes_no_reconnect() {
    let cfg = config();
    let s = stack(&cfg, true).await;
    let proxy = ChaosProxy::start(s.backend.addr).await;
    proxy.set_latency(Duration::from_millis(100), Duration::from_millis(50));
    let mut w = Watch::start(format!("ws://{}/ws", proxy.addr), &cfg, "majors");
    w.until("Live", Duration::from_secs(10), |w| {
        w.state() == Some(LinkState::Live)
    })
    .await;
    w.run_for(Duration::from_secs(15)).await;
    assert_eq!(w.reconnects(), 0, "states {:?}", w.states);
    assert!(!w.saw(LinkState::Reconnecting), "states {:?}", w.states);
    assert_eq!(proxy.accepted(), 1, "one connection for the whole run");
    let rtt = w.link.as_ref().and_then(|l| l.rtt_ms).unwrap_or_default();
    assert!(rtt >= 100.0, "the latency is visible in the RTT: {rtt} ms");
    w.handle.send(ClientCommand::Shutdown);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_10_kb_per_s_never_reconnects_and_prices_stay_fresh() {
    let cfg = config();
    let s = stack(&cfg, true).await;
    let proxy = ChaosProxy::start(s.backend.addr).await;
    let mut w = Watch::start(format!("ws://{}/ws", proxy.addr), &cfg, "majors");
    w.until("Live", Duration::from_secs(10), |w| {
        w.state() == Some(LinkState::Live)
    })
    .await;
    proxy.set_bandwidth(10 * 1024);
    let throttled = Instant::now();
    w.run_for(Duration::from_secs(25)).await;
    assert_eq!(w.reconnects(), 0, "no false reconnect: {:?}", w.states);
    assert!(!w.saw(LinkState::Reconnecting), "states {:?}", w.states);
    // Conflation keeps the newest price moving: tickers keep arriving, and their age on
    // arrival stays bounded instead of growing with a backlog.
    let late: Vec<i64> = w
        .ticker_delays
        .iter()
        .filter(|(at, _)| at.duration_since(throttled) > Duration::from_secs(15))
        .map(|(_, d)| *d)
        .collect();
    assert!(late.len() >= 5, "tickers kept arriving: {}", late.len());
    let worst = late.iter().copied().max().unwrap_or_default();
    eprintln!(
        "worst ticker age on arrival at 10 KB/s: {worst} ms over {} tickers",
        late.len()
    );
    assert!(worst < 15_000, "prices went stale: {worst} ms");
    w.handle.send(ClientCommand::Shutdown);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_stream_is_live_again_within_a_second_and_resynced() {
    let cfg = config();
    let s = stack(&cfg, true).await;
    let proxy = ChaosProxy::start(s.backend.addr).await;
    let mut w = Watch::start(format!("ws://{}/ws", proxy.addr), &cfg, "majors");
    w.until("Live with data", Duration::from_secs(10), |w| {
        w.state() == Some(LinkState::Live) && w.ticker_delays.len() > 5
    })
    .await;
    let full_before = w.full_updates;
    proxy.reset_all();
    let cut = Instant::now();
    w.until("Reconnecting…", Duration::from_secs(5), |w| {
        w.state() != Some(LinkState::Live)
    })
    .await;
    w.until("Live again, resynced", Duration::from_secs(10), |w| {
        w.state() == Some(LinkState::Live) && w.full_updates >= full_before + 4
    })
    .await;
    let back = cut.elapsed();
    eprintln!("Live and resynced {back:?} after the reset");
    // The reset itself is noticed: the first backoff step (250 ms) and a resync, never the
    // heartbeat's 15 s or more. 1 s is what an idle machine does; 5 s keeps that distinction
    // on a loaded one.
    assert!(back < Duration::from_secs(5), "took {back:?}");
    assert_eq!(w.reconnects(), 1);
    w.handle.send(ClientCommand::Shutdown);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackholed_mexc_link_is_reconnected_by_the_backend_within_50_s() {
    let cfg = config();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let simulator = sim::start(&cfg.sim, listener).await.unwrap();
    let proxy = ChaosProxy::start(simulator.addr).await;
    let mut live_cfg = cfg.clone();
    live_cfg.mexc.ws_url = format!("ws://{}/edge", proxy.addr);
    live_cfg.mexc.rest_url = simulator.rest_url();
    let s = stack(&live_cfg, false).await;
    let mut w = Watch::start(s.backend.ws_url(), &cfg, "majors");
    w.until("data flowing", Duration::from_secs(10), |w| {
        w.ticker_delays.len() > 5
    })
    .await;
    let before = w.upstream_reconnects;
    let accepted = proxy.accepted();

    proxy.set_blackhole(true);
    let cut = Instant::now();
    // The adapter notices the silence and opens a new connection through the proxy.
    let deadline = cut + Duration::from_secs(50);
    while proxy.accepted() == accepted {
        assert!(Instant::now() < deadline, "no MEXC reconnect within 50 s");
        w.run_for(Duration::from_millis(250)).await;
    }
    let detected = cut.elapsed();
    eprintln!("MEXC blackhole: new connection after {detected:?}");
    proxy.set_blackhole(false);
    w.until(
        "upstream reconnect reported and data back",
        Duration::from_secs(20),
        |w| {
            w.upstream_reconnects > before
                && w.ticker_delays
                    .last()
                    .is_some_and(|(at, _)| *at > cut + detected)
        },
    )
    .await;
    // The client link itself never dropped.
    assert_eq!(w.reconnects(), 0, "client states {:?}", w.states);
    w.handle.send(ClientCommand::Shutdown);
    s.shutdown().await;
    simulator.shutdown().await;
}

/// Issue 7: the backend restarts on the same port with the same data dir (as `trademon serve`
/// under a supervisor would) while the client keeps running. The client must be Live on the
/// new backend within 2 s of it starting, with every subscription replayed and resynced from
/// its `full_update`, and the sessions exactly as they were: a stopped session stays stopped and
/// an added symbol stays added, which only the sessions file in the data dir can bring back.
///
/// The port stays closed for 3 s, as when a process exits and a supervisor starts it again.
/// The plain backoff (250 ms base, full jitter, 15 s cap) could be waiting up to 15 s by then;
/// the backend's 1001 close tells the client a restart is under way, so it retries within
/// `client.restart_retry_max_ms` (500 ms) for `client.restart_window_ms` (10 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_restart_is_live_within_2_s_with_the_same_sessions() {
    let dir = std::env::temp_dir().join(format!("trademon-chaos-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = config();
    cfg.data.dir = dir.to_string_lossy().into_owned();
    let session = |id: &str, symbols: &[&str]| trademon::config::SessionConfig {
        id: id.into(),
        name: id.to_uppercase(),
        strategy: "default".into(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
    };
    cfg.sessions = vec![
        session("majors", &["BTC_USDT", "ETH_USDT", "SOL_USDT"]),
        session("alts", &["DOGE_USDT", "LINK_USDT"]),
    ];
    // The exchange does not restart with us: one simulator serves both backend runs.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let simulator = sim::start(&cfg.sim, listener).await.unwrap();
    cfg.mexc.ws_url = simulator.ws_url();
    cfg.mexc.rest_url = simulator.rest_url();
    let s = stack(&cfg, false).await;
    let addr = s.backend.addr;

    let http = reqwest::Client::new();
    for path in [
        "/api/v1/sessions/alts/stop",
        "/api/v1/sessions/majors/symbols/XRP_USDT",
    ] {
        let r = http
            .post(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let before: Vec<SessionInfo> = reqwest::get(format!("http://{addr}/api/v1/sessions"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut w = Watch::start(s.backend.ws_url(), &cfg, "majors");
    w.until(
        "Live with data and the changed sessions",
        Duration::from_secs(10),
        |w| {
            w.state() == Some(LinkState::Live)
                && w.ticker_delays.len() > 3
                && w.sessions.as_ref() == Some(&before)
        },
    )
    .await;
    let old_epoch = w.epoch.clone().expect("hello seen");
    let majors_symbols = w.machines.clone();
    assert_eq!(
        majors_symbols.len(),
        4,
        "XRP_USDT added: {majors_symbols:?}"
    );

    let stopping = Instant::now();
    s.shutdown().await;
    let stopped = stopping.elapsed();
    let fulls_before = w.fulls.len();
    let countdowns_before = w.countdowns.len();
    // Down for a while: the client's connects are refused meanwhile.
    sleep(Duration::from_secs(3)).await;
    let starting = Instant::now();
    let (_tx, rx) = mpsc::channel(16);
    let s = start_embedded(&cfg, false, addr, rx)
        .await
        .expect("the new backend binds the same port");
    // Bound and serving from here on (a client that connected while it was starting is
    // answered now); the bound is measured from this instant.
    let listening = Instant::now();
    let started_in = listening - starting;
    let desired = subscriptions("majors");
    w.until(
        "Live on the new backend, every stream resynced",
        Duration::from_secs(10),
        |w| {
            let resynced: BTreeSet<Subscription> = w.fulls[fulls_before..]
                .iter()
                .map(|(_, stream, session_id)| Subscription {
                    stream: *stream,
                    session_id: session_id.clone(),
                })
                .collect();
            w.state() == Some(LinkState::Live)
                && w.epoch.as_ref().is_some_and(|e| *e != old_epoch)
                && resynced == desired
        },
    )
    .await;
    let resynced_after = listening.elapsed();
    let live_after = w
        .states
        .iter()
        .rev()
        .find(|(_, st)| *st == LinkState::Live)
        .map(|(at, _)| at.saturating_duration_since(listening))
        .unwrap_or_default();
    eprintln!(
        "backend restart: old one stopped in {stopped:?}, new one started in {started_in:?}; \
         client Live {live_after:?} and resynced {resynced_after:?} after it listened; states {:?}; failed attempts {:?}",
        w.states.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        w.connect_errors
    );
    // The fast restart retry, not the plain backoff, brought it back: every countdown while
    // the backend was away stayed within `client.restart_retry_max_ms`. That is what makes an
    // idle machine Live well within 2 s; the wall-clock bound below leaves a loaded one slack.
    let waits = &w.countdowns[countdowns_before..];
    assert!(!waits.is_empty(), "the client counted down to retries");
    assert!(
        waits
            .iter()
            .all(|&ms| ms <= cfg.client.restart_retry_max_ms),
        "retries after 1001 stay within restart_retry_max_ms: {waits:?}"
    );
    assert!(
        live_after < Duration::from_secs(5),
        "Live after {live_after:?}"
    );
    assert!(
        !w.connect_errors.is_empty(),
        "connects were refused while the backend was down"
    );
    assert_eq!(w.reconnects(), 1, "one reconnect, to the new backend");
    assert_eq!(w.sessions.as_ref(), Some(&before), "sessions as they were");
    assert_eq!(
        w.machines, majors_symbols,
        "an instance per restored symbol"
    );

    // Data flows again through the new backend's own MEXC connection.
    let ticks = w.ticker_delays.len();
    w.until(
        "tickers from the new backend",
        Duration::from_secs(10),
        |w| w.ticker_delays.len() > ticks + 3,
    )
    .await;
    w.handle.send(ClientCommand::Shutdown);
    s.shutdown().await;
    simulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
