//! The whole stack over real loopback sockets: MEXC simulator -> adapter -> backend -> one
//! WebSocket -> client connection, with a chaos proxy between client and backend.

use crate::support;

use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::chaos_proxy::ChaosProxy;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use trademon::client::connection::{self, ConnectOptions};
use trademon::client::link::{LinkState, LinkStatus};
use trademon::client::model::ClientModel;
use trademon::client::{ClientCommand, ClientEvent, Subscription};
use trademon::config::Config;
use trademon::engine::{EntrySettings, ExitSettings, StrategySettings};
use trademon::launch::{Embedded, start_embedded};
use trademon::protocol::{ServerMsg, StreamName};

fn fast_config() -> Config {
    let mut cfg = Config::defaults();
    cfg.sim.ticker_interval_ms = 200;
    cfg.sim.trades_per_s = 20.0;
    cfg.client.ping_interval_ms = 100;
    cfg.client.pong_timeout_ms = 100;
    cfg.client.backoff_base_ms = 50;
    cfg.client.backoff_cap_ms = 200;
    cfg.client.connect_timeout_ms = 300;
    cfg.client.poll_after_failures = 2;
    cfg.client.poll_interval_ms = 100;
    // Pumps only on cue (`SimFaults::force_pump`); and never read or write the user's data dir.
    cfg.sim.first_pump_after_s = 0;
    cfg.sim.pump_chance_per_s = 0.0;
    let dir = std::env::temp_dir().join(format!("trademon-stack-{}", std::process::id()));
    cfg.data.dir = dir.display().to_string();
    cfg
}

async fn demo_stack(cfg: &Config) -> Embedded {
    let (_tx, rx) = mpsc::channel(16);
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    start_embedded(cfg, true, loopback, rx)
        .await
        .expect("embedded stack starts")
}

fn all_subscriptions(sessions: &[&str]) -> BTreeSet<Subscription> {
    let mut set: BTreeSet<Subscription> =
        [StreamName::Sessions, StreamName::Health, StreamName::Events]
            .into_iter()
            .map(|stream| Subscription {
                stream,
                session_id: None,
            })
            .collect();
    for s in sessions {
        for stream in StreamName::ALL.into_iter().filter(|s| s.is_per_session()) {
            set.insert(Subscription {
                stream,
                session_id: Some(s.to_string()),
            });
        }
    }
    set
}

/// Collects client events and answers "did X happen by now".
struct Observer {
    rx: mpsc::Receiver<ClientEvent>,
    link: Option<LinkStatus>,
    states_seen: Vec<LinkState>,
    full_updates: usize,
    tickers: usize,
    snapshots: usize,
    /// The client's replica, fed every message as the TUI's model is.
    model: ClientModel,
    state_changes: Vec<(String, String)>,
}

impl Observer {
    fn new(rx: mpsc::Receiver<ClientEvent>) -> Self {
        Observer {
            rx,
            link: None,
            states_seen: Vec::new(),
            full_updates: 0,
            tickers: 0,
            snapshots: 0,
            model: ClientModel::new(100),
            state_changes: Vec::new(),
        }
    }

    fn note(&mut self, ev: ClientEvent) {
        match ev {
            ClientEvent::Link(l) => {
                if self.states_seen.last() != Some(&l.state) {
                    self.states_seen.push(l.state);
                }
                self.link = Some(l);
            }
            ClientEvent::Message { msg, .. } => {
                self.model.apply(&msg, trademon::protocol::now_ms());
                match msg {
                    ServerMsg::FullUpdate(_) => self.full_updates += 1,
                    ServerMsg::Ticker(_) => self.tickers += 1,
                    ServerMsg::StateChange(e) => {
                        self.state_changes.push((e.data.symbol, e.data.to))
                    }
                    _ => {}
                }
            }
            ClientEvent::Snapshot(_) => self.snapshots += 1,
            ClientEvent::Notice(_) => {}
        }
    }

    fn state(&self) -> Option<LinkState> {
        self.link.as_ref().map(|l| l.state)
    }

    /// Drain events until `pred` holds or `limit` passes.
    async fn until(&mut self, what: &str, limit: Duration, pred: impl Fn(&Observer) -> bool) {
        let deadline = Instant::now() + limit;
        while !pred(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            match timeout(left, self.rx.recv()).await {
                Ok(Some(ev)) => self.note(ev),
                Ok(None) => panic!("client event stream ended while waiting for {what}"),
                Err(_) => panic!(
                    "timed out waiting for {what}; states seen {:?}, last {:?}",
                    self.states_seen, self.link
                ),
            }
        }
    }

    /// Drain everything that arrives during `d`.
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
async fn subscribe_gets_ack_full_update_per_symbol_then_market_data_in_seq_order() {
    let cfg = fast_config();
    let stack = demo_stack(&cfg).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(stack.backend.ws_url())
        .await
        .unwrap();
    let hello = loop {
        let m = timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("frame within 5 s")
            .expect("socket open")
            .expect("frame ok");
        if let Message::Text(t) = m {
            break serde_json::from_str::<ServerMsg>(&t).expect("valid server message");
        }
    };
    assert!(matches!(hello, ServerMsg::Hello(_)), "{hello:?}");

    let sub = |id: u64, stream: &str, session: &str| {
        Message::text(format!(
            r#"{{"op":"subscribe","id":{id},"stream":"{stream}","session_id":"{session}"}}"#
        ))
    };
    ws.send(sub(1, "state_machines", "majors")).await.unwrap();
    ws.send(sub(2, "nope", "majors")).await.unwrap();
    ws.send(sub(3, "market_data", "majors")).await.unwrap();

    let mut acks = Vec::new();
    let mut instances = None;
    let mut error = None;
    let mut ticker_seqs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ticker_seqs.len() < 10 {
        assert!(
            Instant::now() < deadline,
            "no market data: acks {acks:?} instances {instances:?}"
        );
        let Some(Ok(Message::Text(t))) = timeout(Duration::from_secs(5), ws.next()).await.unwrap()
        else {
            continue;
        };
        match serde_json::from_str::<ServerMsg>(&t).unwrap() {
            ServerMsg::Ack(a) => acks.push(a.id),
            ServerMsg::Error(e) => error = Some(e),
            ServerMsg::FullUpdate(f) if f.stream == StreamName::StateMachines => {
                assert!(acks.contains(&1), "full_update before its ack");
                instances = f.data.state_machines;
            }
            ServerMsg::Ticker(t) => ticker_seqs.push(t.seq),
            _ => {}
        }
    }
    let instances = instances.expect("state_machines full_update");
    let symbols: BTreeSet<_> = instances.iter().map(|i| i.symbol.as_str()).collect();
    assert_eq!(
        symbols,
        cfg.demo_sessions[0]
            .symbols
            .iter()
            .map(String::as_str)
            .collect()
    );
    assert!(instances.iter().all(|i| i.state == "MONITORING"));
    let error = error.expect("unknown stream answered");
    assert_eq!(error.code, "unknown_stream");
    assert!(error.valid.contains(&"market_data".to_string()));
    assert!(
        acks.contains(&3),
        "the connection kept working after the error"
    );
    assert!(
        ticker_seqs.windows(2).all(|w| w[1] > w[0]),
        "seq must be monotonic: {ticker_seqs:?}"
    );
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_pongs_show_slow_without_reconnect_and_a_blackhole_reconnects_and_resubscribes() {
    let cfg = fast_config();
    let stack = demo_stack(&cfg).await;
    let proxy = ChaosProxy::start(stack.backend.addr).await;
    let desired = all_subscriptions(&["majors", "alts"]);
    let (client, rx) = connection::spawn(
        ConnectOptions {
            ws_url: format!("ws://{}/ws", proxy.addr),
            token: None,
            cfg: cfg.client.clone(),
        },
        desired.clone(),
    );
    let mut obs = Observer::new(rx);
    obs.until("Live with data", Duration::from_secs(10), |o| {
        o.state() == Some(LinkState::Live) && o.tickers > 5
    })
    .await;

    // Pongs withheld while data flows: Slow, never a reconnect.
    stack.backend.hooks.hold_pongs.store(true, Ordering::SeqCst);
    obs.until("Slow", Duration::from_secs(5), |o| {
        o.state() == Some(LinkState::Slow)
    })
    .await;
    let accepted = proxy.accepted();
    let tickers = obs.tickers;
    obs.run_for(Duration::from_millis(1500)).await;
    assert_eq!(obs.state(), Some(LinkState::Slow));
    assert!(
        !obs.states_seen.contains(&LinkState::Reconnecting),
        "{:?}",
        obs.states_seen
    );
    assert_eq!(proxy.accepted(), accepted, "no new connection while Slow");
    assert!(obs.tickers > tickers, "data kept flowing while Slow");
    stack
        .backend
        .hooks
        .hold_pongs
        .store(false, Ordering::SeqCst);
    obs.until("Live again", Duration::from_secs(5), |o| {
        o.state() == Some(LinkState::Live)
    })
    .await;

    // Pongs and data both stop: Reconnecting…, then Live with every subscription replayed.
    proxy.set_blackhole(true);
    obs.until("Reconnecting", Duration::from_secs(5), |o| {
        o.state() == Some(LinkState::Reconnecting)
    })
    .await;
    let full_before = obs.full_updates;
    proxy.set_blackhole(false);
    obs.until(
        "Live after recovery with full updates",
        Duration::from_secs(10),
        |o| o.state() == Some(LinkState::Live) && o.full_updates >= full_before + desired.len(),
    )
    .await;
    client.send(ClientCommand::Shutdown);
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_upgrades_fall_back_to_polling_and_back_to_live() {
    let cfg = fast_config();
    let stack = demo_stack(&cfg).await;
    stack
        .backend
        .hooks
        .refuse_upgrades
        .store(true, Ordering::SeqCst);
    let (client, rx) = connection::spawn(
        ConnectOptions {
            ws_url: stack.backend.ws_url(),
            token: None,
            cfg: cfg.client.clone(),
        },
        all_subscriptions(&["majors"]),
    );
    let mut obs = Observer::new(rx);
    obs.until("Polling with snapshots", Duration::from_secs(10), |o| {
        o.state() == Some(LinkState::Polling) && o.snapshots >= 3
    })
    .await;

    stack
        .backend
        .hooks
        .refuse_upgrades
        .store(false, Ordering::SeqCst);
    obs.until("Live again", Duration::from_secs(10), |o| {
        o.state() == Some(LinkState::Live)
    })
    .await;
    let snapshots = obs.snapshots;
    obs.run_for(Duration::from_millis(600)).await;
    assert_eq!(
        obs.snapshots, snapshots,
        "polling must stop once the WebSocket is back"
    );
    assert_eq!(obs.state(), Some(LinkState::Live));
    client.send(ClientCommand::Shutdown);
    stack.shutdown().await;
}

/// A scripted pump in the simulator drives a session to IN_POSITION end to end: simulator ->
/// adapter -> hub + engine -> one WebSocket -> client model sees the transitions, the BUY signal
/// and the open position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_pump_drives_a_session_into_a_position_seen_by_the_client() {
    let mut cfg = fast_config();
    // Enters on the first seconds of a pump (the demo strategy waits for a bigger move).
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
    let stack = demo_stack(&cfg).await;
    let (client, rx) = connection::spawn(
        ConnectOptions {
            ws_url: stack.backend.ws_url(),
            token: None,
            cfg: cfg.client.clone(),
        },
        all_subscriptions(&["majors"]),
    );
    let mut obs = Observer::new(rx);
    obs.until("live data", Duration::from_secs(10), |o| {
        o.state() == Some(LinkState::Live) && o.tickers > 3
    })
    .await;
    let sim = stack.sim.as_ref().expect("demo runs the simulator");
    sim.faults
        .force_pump("BTC_USDT")
        .expect("BTC_USDT is simulated");
    let in_position = |o: &Observer| {
        o.model
            .instances
            .get("majors")
            .and_then(|m| m.get("BTC_USDT"))
            .is_some_and(|i| i.state == "IN_POSITION")
    };
    obs.until(
        "IN_POSITION with signal and position",
        Duration::from_secs(20),
        |o| {
            in_position(o)
                && o.model.signals.get("majors").is_some_and(|s| !s.is_empty())
                && o.model
                    .positions
                    .get("majors")
                    .is_some_and(|p| p.contains_key("BTC_USDT"))
                && o.model
                    .totals
                    .get("majors")
                    .is_some_and(|t| t.open_positions >= 1)
        },
    )
    .await;
    let changes: Vec<&str> = obs
        .state_changes
        .iter()
        .filter(|(s, _)| s == "BTC_USDT")
        .map(|(_, to)| to.as_str())
        .collect();
    assert_eq!(
        &changes[..2],
        ["ENTRY_SIGNAL", "IN_POSITION"],
        "{changes:?}"
    );
    let signal = &obs.model.signals["majors"][0];
    assert_eq!(signal.symbol, "BTC_USDT");
    assert_eq!(signal.side, trademon::protocol::Side::Buy);
    let pos = &obs.model.positions["majors"]["BTC_USDT"];
    assert!(pos.entry_price > 0.0 && pos.liquidation_price < pos.entry_price);
    let ind = &obs.model.indicators["majors"]["BTC_USDT"];
    assert!(ind.values["vwap_dev_pct_5m"].value.is_some());
    client.send(ClientCommand::Shutdown);
    stack.shutdown().await;
}
