//! Chaos scenarios (issue 7): the real stack (simulator -> adapter -> backend -> client) with a
//! fault proxy on a link, under the DEFAULT client heartbeat settings, so the bounds asserted
//! here are the ones a trader gets. These take tens of seconds each; they run in parallel.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;
use support::chaos_proxy::ChaosProxy;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use trademon::client::connection::{self, ConnectOptions};
use trademon::client::link::{LinkState, LinkStatus};
use trademon::client::{ClientCommand, ClientEvent, ClientHandle, Subscription};
use trademon::config::Config;
use trademon::exchange::sim;
use trademon::launch::{Embedded, start_embedded};
use trademon::protocol::{ServerMsg, StreamName, now_ms};

fn config() -> Config {
    let mut cfg = Config::defaults();
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
            upstream_reconnects: 0,
        }
    }

    fn note(&mut self, ev: ClientEvent) {
        match ev {
            ClientEvent::Link(l) => {
                if self.states.last().map(|s| s.1) != Some(l.state) {
                    self.states.push((Instant::now(), l.state));
                }
                self.link = Some(l);
            }
            ClientEvent::Message { msg, .. } => match msg {
                ServerMsg::Ticker(t) => self
                    .ticker_delays
                    .push((Instant::now(), now_ms() - t.data.received_ms)),
                ServerMsg::FullUpdate(_) => self.full_updates += 1,
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
    w.until("Reconnecting…", Duration::from_secs(20), |w| {
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

    proxy.set_blackhole(false);
    let full_before = w.full_updates;
    w.until("Live and resynced", Duration::from_secs(20), |w| {
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
    w.until("Live again, resynced", Duration::from_secs(5), |w| {
        w.state() == Some(LinkState::Live) && w.full_updates >= full_before + 4
    })
    .await;
    let back = cut.elapsed();
    eprintln!("Live and resynced {back:?} after the reset");
    assert!(back < Duration::from_secs(1), "took {back:?}");
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
