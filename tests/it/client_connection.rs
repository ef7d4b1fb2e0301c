//! The client connection task against a controllable fake backend over real loopback sockets:
//! heartbeat (Slow without reconnect, Reconnecting… on silence), subscription replay, REST
//! polling fallback, Disconnected, do-not-reconnect close codes, error aggregation, reconnect now.
//! Every test runs on tokio's paused clock: client, fake and test share one current-thread
//! runtime, the clock moves only when every task waits, so heartbeat, backoff and "at once"
//! bounds are virtual time and hold on a loaded machine.

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use trademon::client::connection::{self, ConnectOptions};
use trademon::client::link::{LinkState, LinkStatus};
use trademon::client::model::ClientModel;
use trademon::client::{ClientCommand, ClientEvent, ClientHandle, Subscription};
use trademon::config::{ClientConfig, Config};
use trademon::protocol::{
    self, Ack, ClientMsg, DataSource, Envelope, Hello, LogEvent, Pong, RestSnapshot, ServerMsg,
    Snapshot, StreamName, Ticker,
};

// ------------------------------------------------------------------------------------------
// Fake backend
// ------------------------------------------------------------------------------------------

/// Knobs and observations shared between a test and its fake backend.
#[derive(Default)]
struct Ctl {
    /// Answer app pings? (false = pongs held back, data still flows)
    hold_pongs: AtomicBool,
    /// Send nothing at all on open sockets (no pongs, no data, no acks).
    silent: AtomicBool,
    /// Refuse WebSocket upgrades with 503 (REST keeps working).
    refuse_upgrade: AtomicBool,
    upgrade_attempts: AtomicUsize,
    connections: AtomicUsize,
    rest_requests: AtomicUsize,
    /// (connection number, stream, session) of every subscribe op received.
    subscribes: Mutex<Vec<(usize, String, Option<String>)>>,
    /// Close frames received from the client: (connection number, code, reason).
    client_closes: Mutex<Vec<(usize, u16, String)>>,
    /// Authorization headers seen on upgrades.
    auth_headers: Mutex<Vec<String>>,
    seq: AtomicU64,
    close_all: Option<broadcast::Sender<(u16, String)>>,
}

struct Fake {
    addr: SocketAddr,
    ctl: Arc<Ctl>,
}

impl Fake {
    async fn start() -> Fake {
        let (close_tx, _) = broadcast::channel(8);
        let ctl = Arc::new(Ctl {
            close_all: Some(close_tx),
            ..Ctl::default()
        });
        let app = Router::new()
            .route("/ws", get(ws_route))
            .route("/api/v1/snapshot", get(snapshot_route))
            .route("/api/v1/health", get(|| async { "ok" }))
            .with_state(ctl.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake backend");
        let addr = listener.local_addr().expect("fake backend address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake { addr, ctl }
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    fn close_all(&self, code: u16, reason: &str) {
        if let Some(tx) = &self.ctl.close_all {
            let _ = tx.send((code, reason.to_string()));
        }
    }

    fn connections(&self) -> usize {
        self.ctl.connections.load(Ordering::SeqCst)
    }

    fn subscribes_on(&self, conn: usize) -> BTreeSet<(String, Option<String>)> {
        self.ctl
            .subscribes
            .lock()
            .expect("lock")
            .iter()
            .filter(|(c, _, _)| *c == conn)
            .map(|(_, s, id)| (s.clone(), id.clone()))
            .collect()
    }

    fn client_closes(&self) -> Vec<(usize, u16, String)> {
        self.ctl.client_closes.lock().expect("lock").clone()
    }
}

async fn ws_route(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    State(ctl): State<Arc<Ctl>>,
) -> Response {
    ctl.upgrade_attempts.fetch_add(1, Ordering::SeqCst);
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        ctl.auth_headers.lock().expect("lock").push(v.to_string());
    }
    if ctl.refuse_upgrade.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "upgrades refused by test").into_response();
    }
    let conn = ctl.connections.fetch_add(1, Ordering::SeqCst) + 1;
    ws.on_upgrade(move |socket| serve_socket(socket, ctl, conn))
}

async fn snapshot_route(
    Query(q): Query<HashMap<String, String>>,
    State(ctl): State<Arc<Ctl>>,
) -> Response {
    ctl.rest_requests.fetch_add(1, Ordering::SeqCst);
    let session_id = q.get("session").cloned().unwrap_or_default();
    axum::Json(RestSnapshot {
        session_id,
        epoch: "e1".into(),
        ts: protocol::now_ms(),
        seq: BTreeMap::new(),
        data: Snapshot::default(),
    })
    .into_response()
}

fn text(msg: &ServerMsg) -> Message {
    Message::Text(serde_json::to_string(msg).expect("serialize").into())
}

async fn serve_socket(mut socket: WebSocket, ctl: Arc<Ctl>, conn: usize) {
    let Some(close_tx) = ctl.close_all.as_ref() else {
        return;
    };
    let mut close_rx = close_tx.subscribe();
    let hello = ServerMsg::Hello(Hello {
        protocol: protocol::PROTOCOL_VERSION,
        server: "fake".into(),
        connection_id: format!("c{conn}"),
        epoch: "e1".into(),
        streams: StreamName::valid_names(),
        ping_interval_ms: 10_000,
        idle_timeout_ms: 30_000,
    });
    if socket.send(text(&hello)).await.is_err() {
        return;
    }
    let mut data = tokio::time::interval(Duration::from_millis(10));
    loop {
        tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(t))) => {
                    let silent = ctl.silent.load(Ordering::SeqCst);
                    match serde_json::from_str::<ClientMsg>(t.as_str()) {
                        Ok(ClientMsg::Ping { id }) if !silent && !ctl.hold_pongs.load(Ordering::SeqCst) => {
                            let pong = ServerMsg::Pong(Pong { id, ts: protocol::now_ms() });
                            let _ = socket.send(text(&pong)).await;
                        }
                        Ok(ClientMsg::Subscribe { id, stream, session_id, .. }) => {
                            ctl.subscribes.lock().expect("lock").push((conn, stream.clone(), session_id.clone()));
                            if let (false, Some(stream)) = (silent, StreamName::parse(&stream)) {
                                let ack = ServerMsg::Ack(Ack { id, stream, session_id });
                                let _ = socket.send(text(&ack)).await;
                            }
                        }
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame.map(|f| (f.code, f.reason.to_string())).unwrap_or((1005, String::new()));
                    ctl.client_closes.lock().expect("lock").push((conn, code, reason));
                    // Keep polling so axum sends the close reply.
                    while let Some(Ok(_)) = socket.recv().await {}
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
            _ = data.tick() => {
                if ctl.silent.load(Ordering::SeqCst) {
                    continue;
                }
                let seq = ctl.seq.fetch_add(1, Ordering::SeqCst) + 1;
                let tick = ServerMsg::Ticker(Envelope { interval: None, symbol: None,
                    stream: StreamName::MarketData,
                    session_id: Some("s1".into()),
                    seq,
                    ts: protocol::now_ms(),
                    data: Ticker { next_funding_ms: None, high_24h: None, low_24h: None, open_interest: None,
                        symbol: "BTC_USDT".into(),
                        last: 60_000.0 + seq as f64,
                        bid: None,
                        ask: None,
                        change_pct: None,
                        volume_24h: None,
                        fair_price: None,
                        index_price: None,
                        funding_rate: None,
                        price_decimals: None,
                        received_ms: protocol::now_ms(),
                        source: DataSource::Ws,
                    },
                });
                if socket.send(text(&tick)).await.is_err() {
                    return;
                }
            }
            Ok((code, reason)) = close_rx.recv() => {
                let frame = CloseFrame { code, reason: reason.into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
                while let Some(Ok(_)) = socket.recv().await {}
                return;
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Client side helpers
// ------------------------------------------------------------------------------------------

/// Short timings so the whole file runs in a few seconds.
fn fast_config() -> ClientConfig {
    let mut c = Config::defaults().client;
    c.ping_interval_ms = 50;
    c.pong_timeout_ms = 50;
    c.slow_after_missed = 2;
    c.reconnect_after_missed = 3;
    c.backoff_base_ms = 20;
    c.backoff_cap_ms = 100;
    c.connect_timeout_ms = 1000;
    c.poll_after_failures = 3;
    c.poll_interval_ms = 50;
    c.disconnected_after_poll_failures = 3;
    c.max_message_bytes = 1 << 20;
    c
}

fn desired() -> BTreeSet<Subscription> {
    [
        Subscription {
            stream: StreamName::Sessions,
            session_id: None,
        },
        Subscription {
            stream: StreamName::MarketData,
            session_id: Some("s1".into()),
        },
        Subscription {
            stream: StreamName::StateMachines,
            session_id: Some("s1".into()),
        },
    ]
    .into_iter()
    .collect()
}

fn desired_wire() -> BTreeSet<(String, Option<String>)> {
    desired()
        .into_iter()
        .map(|s| (s.stream.as_str().to_string(), s.session_id))
        .collect()
}

struct Client {
    handle: ClientHandle,
    rx: mpsc::Receiver<ClientEvent>,
    /// Every event seen so far, in order.
    seen: Vec<ClientEvent>,
}

impl Client {
    fn start(url: String, cfg: ClientConfig) -> Client {
        Client::start_with(url, cfg, None)
    }

    fn start_with(url: String, cfg: ClientConfig, token: Option<&str>) -> Client {
        let (handle, rx) = connection::spawn(
            ConnectOptions {
                ws_url: url,
                token: token.map(str::to_string),
                cfg,
            },
            desired(),
        );
        Client {
            handle,
            rx,
            seen: Vec::new(),
        }
    }

    /// Reads events until `pred` matches one; panics with the last link status on timeout.
    async fn until(
        &mut self,
        what: &str,
        within: Duration,
        mut pred: impl FnMut(&ClientEvent) -> bool,
    ) -> ClientEvent {
        let deadline = Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(ev)) => {
                    self.seen.push(ev.clone());
                    if pred(&ev) {
                        return ev;
                    }
                }
                Ok(None) => panic!("event channel closed while waiting for {what}"),
                Err(_) => panic!(
                    "timed out after {within:?} waiting for {what}; last status: {:?}",
                    self.last_status()
                ),
            }
        }
    }

    async fn until_state(&mut self, state: LinkState, within: Duration) -> LinkStatus {
        match self
            .until(
                &format!("state {state:?}"),
                within,
                |ev| matches!(ev, ClientEvent::Link(s) if s.state == state),
            )
            .await
        {
            ClientEvent::Link(s) => s,
            _ => unreachable!("predicate only matches Link"),
        }
    }

    /// Collects everything that arrives during `d`.
    async fn drain_for(&mut self, d: Duration) -> Vec<ClientEvent> {
        let deadline = Instant::now() + d;
        let mut got = Vec::new();
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            self.seen.push(ev.clone());
            got.push(ev);
        }
        got
    }

    fn last_status(&self) -> Option<&LinkStatus> {
        self.seen.iter().rev().find_map(|ev| match ev {
            ClientEvent::Link(s) => Some(s),
            _ => None,
        })
    }

    fn notices(&self, name: &str) -> Vec<LogEvent> {
        self.seen
            .iter()
            .filter_map(|ev| match ev {
                ClientEvent::Notice(n) if n.name == name => Some(n.clone()),
                _ => None,
            })
            .collect()
    }
}

fn states(events: &[ClientEvent]) -> Vec<LinkState> {
    events
        .iter()
        .filter_map(|ev| match ev {
            ClientEvent::Link(s) => Some(s.state),
            _ => None,
        })
        .collect()
}

const WITHIN: Duration = Duration::from_secs(3);

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn held_pongs_while_data_flows_is_slow_and_never_reconnects() {
    let fake = Fake::start().await;
    let mut client = Client::start(fake.url(), fast_config());
    client.until_state(LinkState::Live, WITHIN).await;
    client
        .until(
            "a pong with rtt",
            WITHIN,
            |ev| matches!(ev, ClientEvent::Link(s) if s.rtt_ms.is_some()),
        )
        .await;

    fake.ctl.hold_pongs.store(true, Ordering::SeqCst);
    let slow = client.until_state(LinkState::Slow, WITHIN).await;
    assert!(slow.missed_pongs >= 2, "{slow:?}");

    // Many pong timeouts' worth of time: traffic keeps it Slow, never a reconnect.
    let during = client.drain_for(Duration::from_millis(800)).await;
    let seen_states = states(&during);
    assert!(
        !seen_states.contains(&LinkState::Reconnecting),
        "reconnected although data flowed: {seen_states:?}"
    );
    assert_eq!(fake.connections(), 1);
    assert!(fake.client_closes().is_empty());
    assert!(
        client
            .last_status()
            .is_some_and(|s| s.state == LinkState::Slow && s.missed_pongs >= 10),
        "{:?}",
        client.last_status()
    );

    // Pongs come back: Live again on the same connection.
    fake.ctl.hold_pongs.store(false, Ordering::SeqCst);
    let live = client.until_state(LinkState::Live, WITHIN).await;
    assert_eq!(live.missed_pongs, 0);
    assert_eq!(fake.connections(), 1);
    client.handle.send(ClientCommand::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn silence_reconnects_and_replays_the_desired_subscriptions() {
    let fake = Fake::start().await;
    let mut client = Client::start(fake.url(), fast_config());
    client.until_state(LinkState::Live, WITHIN).await;
    client
        .until("the hello", WITHIN, |ev| {
            matches!(
                ev,
                ClientEvent::Message {
                    msg: ServerMsg::Hello(_),
                    ..
                }
            )
        })
        .await;
    client
        .until("data", WITHIN, |ev| {
            matches!(
                ev,
                ClientEvent::Message {
                    msg: ServerMsg::Ticker(_),
                    ..
                }
            )
        })
        .await;
    assert_subscribed(&fake, 1).await;

    // Everything stops on the open socket: no pongs, no data.
    fake.ctl.silent.store(true, Ordering::SeqCst);
    let rec = client.until_state(LinkState::Reconnecting, WITHIN).await;
    let close = rec.last_close.expect("close recorded in the status");
    assert_eq!(close.code, protocol::close::HEARTBEAT_TIMEOUT);
    assert!(close.reason.contains("heartbeat timeout"), "{close:?}");

    // The server recovers: Live again on a new connection with the whole set replayed.
    fake.ctl.silent.store(false, Ordering::SeqCst);
    let live = client.until_state(LinkState::Live, WITHIN).await;
    assert_eq!(live.reconnects, 1);
    assert_eq!(fake.connections(), 2);
    client
        .until("an ack on the new connection", WITHIN, |ev| {
            matches!(
                ev,
                ClientEvent::Message {
                    msg: ServerMsg::Ack(_),
                    ..
                }
            )
        })
        .await;
    assert_subscribed(&fake, 2).await;
    // The server saw the heartbeat close with its code and reason (close handshake done).
    let closes = fake.client_closes();
    assert!(
        closes
            .iter()
            .any(|(c, code, reason)| *c == 1 && *code == 4000 && reason.contains("heartbeat")),
        "{closes:?}"
    );
    client.handle.send(ClientCommand::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn refused_upgrades_fall_back_to_polling_and_back_to_live() {
    let fake = Fake::start().await;
    fake.ctl.refuse_upgrade.store(true, Ordering::SeqCst);
    let mut client = Client::start_with(fake.url(), fast_config(), Some("t0ken"));

    client.until_state(LinkState::Polling, WITHIN).await;
    for i in 0..3 {
        client
            .until(
                &format!("snapshot {i}"),
                WITHIN,
                |ev| matches!(ev, ClientEvent::Snapshot(s) if s.session_id == "s1"),
            )
            .await;
    }
    // WebSocket retries went on while polling.
    let attempts_while_polling = fake.ctl.upgrade_attempts.load(Ordering::SeqCst);
    assert!(attempts_while_polling > 3, "{attempts_while_polling}");

    fake.ctl.refuse_upgrade.store(false, Ordering::SeqCst);
    client.until_state(LinkState::Live, WITHIN).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rest_after_live = fake.ctl.rest_requests.load(Ordering::SeqCst);
    let later = client.drain_for(Duration::from_millis(400)).await;
    assert_eq!(
        fake.ctl.rest_requests.load(Ordering::SeqCst),
        rest_after_live,
        "polling must stop once the WebSocket is back"
    );
    assert!(
        !later
            .iter()
            .any(|ev| matches!(ev, ClientEvent::Snapshot(_)))
    );
    assert_subscribed(&fake, 1).await;
    // The token went along on the upgrade.
    assert!(
        fake.ctl
            .auth_headers
            .lock()
            .expect("lock")
            .iter()
            .all(|h| h == "Bearer t0ken")
    );
    client.handle.send(ClientCommand::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn websocket_and_rest_both_down_is_disconnected_and_retries_go_on() {
    // A port nobody listens on: WebSocket and REST both fail.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut client = Client::start(format!("ws://127.0.0.1:{port}/ws"), fast_config());
    let down = client.until_state(LinkState::Disconnected, WITHIN).await;
    // Polls that fail bring no data, so the link never claims to be Polling.
    let claimed_polling = client
        .seen
        .iter()
        .any(|ev| matches!(ev, ClientEvent::Link(s) if s.state == LinkState::Polling));
    assert!(!claimed_polling, "Polling shown while REST was down too");
    assert!(
        client
            .seen
            .iter()
            .any(|ev| matches!(ev, ClientEvent::Link(s) if s.state == LinkState::Reconnecting)),
        "Reconnecting… shown before Disconnected"
    );
    // WebSocket retries keep going while Disconnected (recovery is automatic).
    client
        .until("another connect attempt", WITHIN, |ev| {
            matches!(ev, ClientEvent::Link(s) if s.state == LinkState::Disconnected && s.attempt > down.attempt)
        })
        .await;
    // "Connection refused" again and again is one notice, not one per attempt.
    let refused = client.notices("link.connect_failed");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].message.contains("refused"),
        "{:?}",
        refused[0].message
    );
    assert_eq!(client.notices("link.poll_failed").len(), 1);
    let streak = client.last_status().and_then(|s| s.last_error.clone());
    assert!(streak.as_ref().is_some_and(|(_, n)| *n > 3), "{streak:?}");
    client.handle.send(ClientCommand::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn close_4501_is_disconnected_without_reconnect_attempts() {
    let fake = Fake::start().await;
    let mut client = Client::start(fake.url(), fast_config());
    client.until_state(LinkState::Live, WITHIN).await;

    fake.close_all(protocol::close::AUTH_FAILED, "auth failed");
    let down = client.until_state(LinkState::Disconnected, WITHIN).await;
    let close = down.last_close.expect("close shown");
    assert_eq!((close.code, close.reason.as_str()), (4501, "auth failed"));
    assert_eq!(close.initiator, protocol::Initiator::Remote);

    client.drain_for(Duration::from_millis(500)).await;
    assert_eq!(fake.ctl.upgrade_attempts.load(Ordering::SeqCst), 1);
    assert_eq!(fake.ctl.rest_requests.load(Ordering::SeqCst), 0);
    let notices = client.notices("link.close");
    assert!(
        notices.iter().any(|n| n.message.contains("4501")),
        "{notices:?}"
    );

    // The user can still ask for a reconnect.
    client.handle.send(ClientCommand::ReconnectNow);
    client.until_state(LinkState::Live, WITHIN).await;
    client.handle.send(ClientCommand::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn identical_connect_errors_are_aggregated_into_one_notice() {
    let fake = Fake::start().await;
    fake.ctl.refuse_upgrade.store(true, Ordering::SeqCst);
    let cfg = ClientConfig {
        backoff_base_ms: 5,
        backoff_cap_ms: 10,
        poll_after_failures: 1000,
        ..fast_config()
    };
    let mut client = Client::start(fake.url(), cfg);
    let status = client
        .until("ten identical failures", WITHIN, |ev| {
            matches!(ev, ClientEvent::Link(s) if s.last_error.as_ref().is_some_and(|(_, n)| *n >= 10))
        })
        .await;
    let ClientEvent::Link(status) = status else {
        unreachable!()
    };
    let (message, _) = status.last_error.clone().expect("error");
    assert!(message.contains("503"), "{message}");
    let so_far = client.notices("link.connect_failed");
    assert_eq!(so_far.len(), 1, "repeats must not be repeated: {so_far:?}");
    assert_eq!(so_far[0].count, 1);

    // The link comes back: the repeats are summed up in one more notice with their count.
    fake.ctl.refuse_upgrade.store(false, Ordering::SeqCst);
    client.until_state(LinkState::Live, WITHIN).await;
    let failures = fake.ctl.upgrade_attempts.load(Ordering::SeqCst) - 1;
    let notices = client.notices("link.connect_failed");
    assert!(notices.len() <= 2, "{notices:?}");
    let total: u32 = notices.iter().map(|n| n.count).sum();
    assert_eq!(total as usize, failures);

    // As the event panel shows it: one line with the count.
    let mut model = ClientModel::new(100);
    for n in notices {
        model.push_event(n);
    }
    assert_eq!(model.events.len(), 1);
    assert_eq!(model.events[0].count as usize, failures);
    client.handle.send(ClientCommand::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn reconnect_now_reconnects_at_once() {
    let fake = Fake::start().await;
    // A long backoff proves the reconnect does not wait for it (no fast retry after the 1001
    // below: that has its own test).
    let cfg = ClientConfig {
        backoff_base_ms: 10_000,
        backoff_cap_ms: 10_000,
        restart_window_ms: 0,
        ..fast_config()
    };
    let mut client = Client::start(fake.url(), cfg);
    client.until_state(LinkState::Live, WITHIN).await;

    let asked = Instant::now();
    client.handle.send(ClientCommand::ReconnectNow);
    client
        .until("live on a second connection", WITHIN, |ev| {
            matches!(ev, ClientEvent::Link(s) if s.state == LinkState::Live && s.reconnects == 1)
        })
        .await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(fake.connections(), 2);
    let closes = fake.client_closes();
    assert!(
        closes
            .iter()
            .any(|(c, code, reason)| *c == 1 && *code == 1000 && reason == "reconnect requested"),
        "{closes:?}"
    );
    client
        .until("replay on the new connection", WITHIN, |ev| {
            matches!(
                ev,
                ClientEvent::Message {
                    msg: ServerMsg::Ack(_),
                    ..
                }
            )
        })
        .await;
    assert_eq!(fake.subscribes_on(2), desired_wire());

    // While waiting out a long backoff, ReconnectNow connects at once too. Upgrades are refused
    // meanwhile so a short random draw only leads to another draw, not to a connection.
    fake.ctl.refuse_upgrade.store(true, Ordering::SeqCst);
    fake.close_all(protocol::close::GOING_AWAY, "restart");
    client.until_state(LinkState::Reconnecting, WITHIN).await;
    client
        .until("a countdown of more than a second", WITHIN, |ev| {
            matches!(ev, ClientEvent::Link(s) if s.next_attempt_in_ms.is_some_and(|ms| ms > 1000))
        })
        .await;
    fake.ctl.refuse_upgrade.store(false, Ordering::SeqCst);
    let asked = Instant::now();
    client.handle.send(ClientCommand::ReconnectNow);
    client.until_state(LinkState::Live, WITHIN).await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    client.handle.send(ClientCommand::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn a_backend_going_away_is_retried_fast_while_it_restarts() {
    let fake = Fake::start().await;
    // A backoff ladder that would wait seconds, and a restart that refuses for a while.
    let cfg = ClientConfig {
        backoff_base_ms: 2_000,
        backoff_cap_ms: 15_000,
        restart_retry_max_ms: 200,
        restart_window_ms: 10_000,
        poll_after_failures: 1000,
        ..fast_config()
    };
    let mut client = Client::start(fake.url(), cfg);
    client.until_state(LinkState::Live, WITHIN).await;
    fake.ctl.refuse_upgrade.store(true, Ordering::SeqCst);
    fake.close_all(protocol::close::GOING_AWAY, "server shutting down");
    // Every countdown while the backend is away stays under the restart cap.
    let mut countdowns = Vec::new();
    client
        .until("six refused attempts", WITHIN, |ev| {
            if let ClientEvent::Link(s) = ev
                && let Some(ms) = s.next_attempt_in_ms
            {
                countdowns.push(ms);
            }
            fake.ctl.upgrade_attempts.load(Ordering::SeqCst) >= 7
        })
        .await;
    assert!(
        countdowns.iter().all(|&ms| ms <= 200),
        "after 1001 the retries stay fast: {countdowns:?}"
    );
    fake.ctl.refuse_upgrade.store(false, Ordering::SeqCst);
    let back = Instant::now();
    client.until_state(LinkState::Live, WITHIN).await;
    assert!(
        back.elapsed() < Duration::from_secs(1),
        "{:?}",
        back.elapsed()
    );
    client.handle.send(ClientCommand::Shutdown);
}

#[tokio::test(start_paused = true)]
async fn set_subscriptions_sends_the_difference_and_shutdown_closes_cleanly() {
    let fake = Fake::start().await;
    let mut client = Client::start(fake.url(), fast_config());
    client.until_state(LinkState::Live, WITHIN).await;
    let mut wanted = desired();
    wanted.insert(Subscription {
        stream: StreamName::Events,
        session_id: None,
    });
    client.handle.send(ClientCommand::SetSubscriptions(wanted));
    client
        .until("ack for events", WITHIN, |ev| {
            matches!(ev, ClientEvent::Message { msg: ServerMsg::Ack(a), .. } if a.stream == StreamName::Events)
        })
        .await;
    let subs = fake.ctl.subscribes.lock().expect("lock").len();
    assert_eq!(subs, desired().len() + 1, "only the new one is subscribed");

    client.handle.send(ClientCommand::Shutdown);
    let deadline = Instant::now() + WITHIN;
    while fake.client_closes().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        fake.client_closes(),
        vec![(1, 1000, "client quit".to_string())]
    );
    // The task ends: the event channel closes.
    let end =
        tokio::time::timeout(WITHIN, async { while client.rx.recv().await.is_some() {} }).await;
    assert!(end.is_ok(), "the connection task must end on Shutdown");
}

/// The replayed set arrives as several frames; an ack or data can come back before the fake
/// has read the last of them, so wait (bounded) for the whole set on that connection.
async fn assert_subscribed(fake: &Fake, connection: usize) {
    let deadline = Instant::now() + WITHIN;
    while fake.subscribes_on(connection) != desired_wire() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.subscribes_on(connection), desired_wire());
}
