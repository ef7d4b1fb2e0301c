//! The MEXC adapter against a minimal fake MEXC futures server over real loopback sockets.
//! The fake speaks just enough of the protocol : JSON ping -> pong, `sub.*` ->
//! `rs.sub.*` ack or `rs.error Contract [X] not exists`, and pushes the test scripts.
//! Tests run on tokio's paused clock (adapter, fake and test in one current-thread runtime), so
//! timer bounds are virtual time and hold on a loaded machine; the flood test is the exception.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use trademon::config::MexcConfig;
use trademon::exchange::mexc::{self, MexcHandle};
use trademon::exchange::{MarketEvent, Trade};
use trademon::protocol::{Initiator, UpstreamHealth, UpstreamState};

// ------------------------------------------------------------------------------------------
// Fake MEXC
// ------------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Behaviour {
    /// Answer JSON pings (off to simulate a silent server).
    no_pong: bool,
    /// Symbols answered with `rs.error Contract [X] not exists`.
    unknown: Vec<String>,
}

enum Cmd {
    Send(String),
    Binary(Vec<u8>),
    /// Push deal frames as fast as possible until the deadline.
    Flood(Instant),
    /// Abrupt drop: no close frame.
    Drop,
    Close(u16, &'static str),
}

#[derive(Debug)]
enum Seen {
    Text(Instant, Value),
    Close(Option<CloseFrame>),
}

struct Conn {
    rx: mpsc::UnboundedReceiver<Seen>,
    tx: mpsc::UnboundedSender<Cmd>,
}

impl Conn {
    fn send(&self, v: Value) {
        let _ = self.tx.send(Cmd::Send(v.to_string()));
    }
    fn cmd(&self, c: Cmd) {
        let _ = self.tx.send(c);
    }

    async fn next(&mut self, within: Duration) -> Option<Seen> {
        timeout(within, self.rx.recv()).await.ok().flatten()
    }

    /// The next `n` frames that are not pings, within one overall deadline.
    async fn commands(&mut self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut out = Vec::new();
        while out.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Seen::Text(_, v)) if v["method"] != "ping" => out.push(v),
                Some(_) => {}
                None => panic!("expected {n} commands, got {out:?}"),
            }
        }
        out
    }

    /// Every non-ping frame that arrives within `window`.
    async fn commands_within(&mut self, window: Duration) -> Vec<Value> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Seen::Text(_, v)) if v["method"] != "ping" => out.push(v),
                Some(_) => {}
                None => return out,
            }
        }
    }
}

struct Server {
    url: String,
    accepts: Arc<AtomicUsize>,
    conns: mpsc::UnboundedReceiver<Conn>,
}

impl Server {
    async fn start(b: Behaviour) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/edge", listener.local_addr().unwrap());
        let accepts = Arc::new(AtomicUsize::new(0));
        let (conn_tx, conns) = mpsc::unbounded_channel();
        let counter = accepts.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                    continue;
                };
                let (seen_tx, rx) = mpsc::unbounded_channel();
                let (tx, cmd_rx) = mpsc::unbounded_channel();
                let _ = conn_tx.send(Conn { rx, tx });
                tokio::spawn(serve(ws, b.clone(), seen_tx, cmd_rx));
            }
        });
        Server {
            url,
            accepts,
            conns,
        }
    }

    async fn next_conn(&mut self, within: Duration) -> Conn {
        timeout(within, self.conns.recv())
            .await
            .expect("no connection in time")
            .expect("server gone")
    }
}

async fn serve(
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    b: Behaviour,
    seen: mpsc::UnboundedSender<Seen>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
) {
    let (mut sink, mut stream) = ws.split();
    let mut flood_until: Option<Instant> = None;
    let mut flood_id: u64 = 1_000_000;
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    let method = v["method"].as_str().unwrap_or_default().to_string();
                    let _ = seen.send(Seen::Text(Instant::now(), v.clone()));
                    let reply = if method == "ping" {
                        (!b.no_pong).then(|| json!({"channel":"pong","data":1790133892943u64,"ts":1790133892943u64}))
                    } else if let Some(ch) = method.strip_prefix("sub.") {
                        let sym = v["param"]["symbol"].as_str().unwrap_or("null");
                        Some(if b.unknown.iter().any(|u| u == sym) {
                            json!({"channel":"rs.error","data":format!("Contract [{sym}] not exists"),"ts":1})
                        } else {
                            json!({"channel":format!("rs.sub.{ch}"),"data":"success","ts":1})
                        })
                    } else {
                        None
                    };
                    if let Some(r) = reply
                        && sink.send(Message::text(r.to_string())).await.is_err() { return; }
                }
                Some(Ok(Message::Close(f))) => { let _ = seen.send(Seen::Close(f)); return; }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return,
            },
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Send(s)) => { if sink.send(Message::text(s)).await.is_err() { return; } }
                Some(Cmd::Binary(b)) => { if sink.send(Message::binary(b)).await.is_err() { return; } }
                Some(Cmd::Flood(until)) => flood_until = Some(until),
                Some(Cmd::Close(code, reason)) => {
                    let f = CloseFrame { code: code.into(), reason: reason.into() };
                    let _ = sink.send(Message::Close(Some(f))).await;
                }
                Some(Cmd::Drop) | None => return,
            },
            _ = std::future::ready(()), if flood_until.is_some() => {
                if flood_until.is_some_and(|u| Instant::now() >= u) {
                    flood_until = None;
                    continue;
                }
                let rows: Vec<Value> = (0..5).map(|k| {
                    flood_id += 1;
                    json!({"p":80489.5,"v":k + 1,"T":1,"O":3,"M":2,"t":1789897547210u64,"i":flood_id.to_string()})
                }).collect();
                let f = json!({"symbol":"BTC_USDT","data":rows,"channel":"push.deal","ts":1789897547215u64});
                if sink.send(Message::text(f.to_string())).await.is_err() { return; }
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

fn cfg(url: &str) -> MexcConfig {
    MexcConfig {
        ws_url: url.to_string(),
        rest_url: "http://127.0.0.1:9".into(),
        ping_interval_ms: 1000,
        connect_timeout_ms: 1000,
        backoff_base_ms: 50,
        backoff_cap_ms: 200,
        stable_after_ms: 60_000,
        subscribe_pace_ms: 0,
        silence_reconnect_ms: 5000,
        ..trademon::config::Config::defaults().mexc
    }
}

fn symbols(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

struct Running {
    handle: MexcHandle,
    events: mpsc::Receiver<MarketEvent>,
    symbols: watch::Sender<BTreeSet<String>>,
    _wants: watch::Sender<BTreeSet<mexc::FeedWant>>,
}

fn start(cfg: MexcConfig, list: &[&str]) -> Running {
    let (symbols, sym_rx) = watch::channel(symbols(list));
    let (wants, wants_rx) = watch::channel(BTreeSet::new());
    let (out, events) = mpsc::channel(1024);
    Running {
        handle: mexc::spawn(cfg, sym_rx, wants_rx, out),
        events,
        symbols,
        _wants: wants,
    }
}

impl Running {
    /// Next market data event. Link events (open/close, asserted in tests/mexc_faults.rs)
    /// are skipped: they interleave with data at every connect.
    async fn event(&mut self) -> MarketEvent {
        loop {
            let ev = timeout(Duration::from_secs(3), self.events.recv())
                .await
                .expect("no event in time")
                .expect("adapter gone");
            if !matches!(ev, MarketEvent::Link { .. }) {
                return ev;
            }
        }
    }

    /// Next trades batch, skipping tickers.
    async fn trades(&mut self) -> (String, Vec<Trade>) {
        loop {
            if let MarketEvent::Trades { symbol, trades, .. } = self.event().await {
                return (symbol, trades);
            }
        }
    }

    async fn health_until(
        &mut self,
        what: &str,
        f: impl Fn(&UpstreamHealth) -> bool,
    ) -> UpstreamHealth {
        let got = timeout(
            Duration::from_secs(3),
            self.handle.health.wait_for(|h| f(h)),
        )
        .await
        .ok()
        .and_then(|r| r.ok().map(|h| h.clone()));
        got.unwrap_or_else(|| {
            panic!(
                "health never became {what}: {:?}",
                *self.handle.health.borrow()
            )
        })
    }
}

fn deal(symbol: &str, ids: &[u64]) -> Value {
    let rows: Vec<Value> = ids
        .iter()
        .map(|i| json!({"p":9.75E+4,"v":1.066397E3,"T":2,"O":1,"M":2,"t":1789897547210u64,"i":i.to_string(),"cts":"1789897547210"}))
        .collect();
    json!({"symbol":symbol,"data":rows,"channel":"push.deal","ts":"1789897547215"})
}

fn ticker(symbol: &str, last: f64) -> Value {
    json!({"symbol":symbol,"data":{"symbol":symbol,"lastPrice":last,"bid1":last - 0.5,"ask1":last + 0.5,"riseFallRate":0.0123,"amount24":1.5E9,"timestamp":1789897547210u64},"channel":"push.ticker","ts":1789897547215u64})
}

fn sub_set(cmds: &[Value]) -> BTreeSet<(String, String)> {
    cmds.iter()
        .map(|c| {
            assert_eq!(c["gzip"], false, "every command carries gzip:false: {c}");
            (
                c["method"].as_str().unwrap_or_default().to_string(),
                c["param"]["symbol"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn ids(trades: &[Trade]) -> Vec<u64> {
    trades.iter().filter_map(|t| t.id).collect()
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn subscribes_streams_follows_watch_set_and_stops_when_receiver_drops() {
    let mut server = Server::start(Behaviour::default()).await;
    let mut run = start(cfg(&server.url), &["BTC_USDT", "ETH_USDT"]);
    let mut conn = server.next_conn(Duration::from_secs(3)).await;

    let first = conn.commands(4).await;
    assert_eq!(
        sub_set(&first),
        pairs(&[
            ("sub.ticker", "BTC_USDT"),
            ("sub.deal", "BTC_USDT"),
            ("sub.ticker", "ETH_USDT"),
            ("sub.deal", "ETH_USDT"),
        ])
    );
    assert_eq!(
        first[0]["param"],
        json!({"symbol": first[0]["param"]["symbol"]})
    );

    // Noise must not hurt: malformed JSON, a binary frame, clientId, unknown channel.
    conn.cmd(Cmd::Send("{not json".into()));
    conn.cmd(Cmd::Binary(vec![0x1f, 0x8b, 8, 0, 1, 2]));
    conn.send(json!({"channel":"clientId","data":"abc","ts":1}));
    conn.send(json!({"channel":"push.kline","data":{},"symbol":"BTC_USDT"}));
    conn.send(ticker("BTC_USDT", 80000.0));
    conn.send(deal("ETH_USDT", &[7, 8]));

    match run.event().await {
        MarketEvent::Ticker { update, .. } => {
            assert_eq!(update.symbol, "BTC_USDT");
            assert_eq!(update.last, 80000.0);
            assert!((update.change_pct.unwrap() - 1.23).abs() < 1e-9);
            assert_eq!(update.volume_24h, Some(1.5e9));
        }
        other => panic!("expected ticker, got {other:?}"),
    }
    let (sym, trades) = run.trades().await;
    assert_eq!((sym.as_str(), ids(&trades)), ("ETH_USDT", vec![7, 8]));
    assert_eq!(trades[0].price, 97_500.0);

    let h = run
        .health_until("live with 2 streams live, 2 acked", |h| {
            h.subscriptions.live == 2 && h.subscriptions.acked == 2
        })
        .await;
    assert_eq!(h.state, UpstreamState::Live);
    assert_eq!(h.url, server.url);

    // Watch set change while connected: sub the new, unsub the removed.
    run.symbols.send_replace(symbols(&["BTC_USDT", "SOL_USDT"]));
    assert_eq!(
        sub_set(&conn.commands(4).await),
        pairs(&[
            ("unsub.ticker", "ETH_USDT"),
            ("unsub.deal", "ETH_USDT"),
            ("sub.ticker", "SOL_USDT"),
            ("sub.deal", "SOL_USDT"),
        ])
    );
    assert_eq!(
        server.accepts.load(Ordering::SeqCst),
        1,
        "noise never reconnects"
    );

    // Dropping the receiver ends the task cleanly, with a local close frame.
    let Running { handle, events, .. } = run;
    drop(events);
    timeout(Duration::from_secs(2), handle.task)
        .await
        .expect("task did not stop")
        .expect("task panicked");
    assert_eq!(handle.health.borrow().state, UpstreamState::Down);
    loop {
        match conn.next(Duration::from_secs(2)).await {
            Some(Seen::Close(Some(f))) => {
                assert_eq!(u16::from(f.code), 1000);
                break;
            }
            Some(Seen::Text(..)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_pings_keep_their_cadence_while_the_server_floods() {
    let mut server = Server::start(Behaviour::default()).await;
    let mut c = cfg(&server.url);
    c.ping_interval_ms = 100;
    let mut run = start(c, &["BTC_USDT"]);
    let mut conn = server.next_conn(Duration::from_secs(3)).await;
    conn.commands(2).await;

    let flood_for = Duration::from_millis(1200);
    conn.cmd(Cmd::Flood(Instant::now() + flood_for));
    // The consumer drains concurrently, as the engine would.
    let drain = tokio::spawn(async move {
        let mut n = 0usize;
        let until = Instant::now() + flood_for;
        while Instant::now() < until {
            match timeout(Duration::from_millis(200), run.events.recv()).await {
                Ok(Some(MarketEvent::Trades { trades, .. })) => n += trades.len(),
                Ok(Some(_)) | Err(_) => {}
                Ok(None) => break,
            }
        }
        (n, run)
    });

    let start_at = Instant::now();
    let mut pings = Vec::new();
    while start_at.elapsed() < flood_for {
        if let Some(Seen::Text(at, v)) = conn.next(Duration::from_millis(300)).await
            && v["method"] == "ping"
        {
            assert_eq!(v, json!({"method":"ping"}));
            pings.push(at);
        }
    }
    let (trades, _run) = drain.await.unwrap();
    assert!(trades > 500, "the flood really flowed: {trades} trades");
    // Real clock: the flood runs until a deadline, which a paused clock would never reach.
    // A ping timer starved by the inbound flood would send nothing for the whole 1.2 s; the
    // bounds allow a loaded machine's scheduling (nominal: 12 pings, 100 ms apart) and still
    // catch that. No lower bound on a gap: the times are when the fake read each ping, and a
    // starved reader reads two at once.
    assert!(pings.len() >= 5, "{} pings in {flood_for:?}", pings.len());
    let gaps: Vec<u128> = pings
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    assert!(
        gaps.iter().all(|&g| g <= 800),
        "ping gaps should stay near 100 ms: {gaps:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn reconnects_after_a_drop_resubscribes_and_drops_replayed_trades() {
    let mut server = Server::start(Behaviour::default()).await;
    let mut run = start(cfg(&server.url), &["BTC_USDT", "ETH_USDT"]);
    let mut conn = server.next_conn(Duration::from_secs(3)).await;
    conn.commands(4).await;
    conn.send(deal("BTC_USDT", &[100, 101, 102]));
    assert_eq!(ids(&run.trades().await.1), vec![100, 101, 102]);

    conn.cmd(Cmd::Drop);
    let h = run
        .health_until("reconnecting after a drop", |h| h.last_close.is_some())
        .await;
    let close = h.last_close.unwrap();
    assert_eq!((close.initiator, close.code), (Initiator::Transport, 1006));

    let mut conn2 = server.next_conn(Duration::from_secs(3)).await;
    assert_eq!(
        sub_set(&conn2.commands(4).await),
        pairs(&[
            ("sub.ticker", "BTC_USDT"),
            ("sub.deal", "BTC_USDT"),
            ("sub.ticker", "ETH_USDT"),
            ("sub.deal", "ETH_USDT"),
        ]),
        "everything is subscribed again"
    );
    // The new subscription replays the tail the old socket already delivered.
    conn2.send(deal("BTC_USDT", &[101, 102, 103, 104]));
    conn2.send(deal("BTC_USDT", &[104]));
    conn2.send(deal("BTC_USDT", &[105]));
    assert_eq!(ids(&run.trades().await.1), vec![103, 104]);
    assert_eq!(
        ids(&run.trades().await.1),
        vec![105],
        "a full replay emits nothing"
    );

    let h = run
        .health_until("live again", |h| {
            h.state == UpstreamState::Live && h.reconnects == 1 && h.subscriptions.live == 1
        })
        .await;
    assert_eq!(h.connections.len(), 1);
    assert_eq!(server.accepts.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn unknown_contract_fails_alone_and_is_not_retried() {
    let mut server = Server::start(Behaviour {
        unknown: vec!["NOPE_USDT".into()],
        ..Behaviour::default()
    })
    .await;
    let mut run = start(cfg(&server.url), &["BTC_USDT", "NOPE_USDT"]);
    let mut conn = server.next_conn(Duration::from_secs(3)).await;

    assert_eq!(
        run.event().await,
        MarketEvent::SymbolFailed {
            symbol: "NOPE_USDT".into(),
            reason: "Contract [NOPE_USDT] not exists".into()
        }
    );
    // Same socket, other symbol keeps flowing; a second rs.error (deal) is not re-reported.
    conn.send(deal("BTC_USDT", &[1]));
    let next = run.event().await;
    assert!(
        matches!(&next, MarketEvent::Trades { symbol, .. } if symbol == "BTC_USDT"),
        "{next:?}"
    );
    let h = run
        .health_until("2 failed, 2 acked", |h| {
            h.subscriptions.failed == 2 && h.subscriptions.acked + h.subscriptions.live == 2
        })
        .await;
    assert_eq!(h.state, UpstreamState::Live);

    // No hot retry on this socket: at most the initial ticker + deal subscribe for NOPE
    // (the deal one is skipped when the ticker error beats it out of the paced outbox).
    let cmds = conn.commands_within(Duration::from_millis(400)).await;
    let nope = cmds
        .iter()
        .filter(|c| c["param"]["symbol"] == "NOPE_USDT")
        .count();
    assert!(nope <= 2, "{cmds:?}");
    conn.cmd(Cmd::Drop);
    let mut conn2 = server.next_conn(Duration::from_secs(3)).await;
    assert_eq!(
        sub_set(&conn2.commands(2).await),
        pairs(&[("sub.ticker", "BTC_USDT"), ("sub.deal", "BTC_USDT")])
    );
    assert_eq!(
        conn2.commands_within(Duration::from_millis(300)).await,
        Vec::<Value>::new(),
        "NOPE_USDT is not resubscribed"
    );
    assert_eq!(server.accepts.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn silent_server_is_left_and_reconnected() {
    let mut server = Server::start(Behaviour {
        no_pong: true,
        ..Behaviour::default()
    })
    .await;
    let mut c = cfg(&server.url);
    c.silence_reconnect_ms = 300;
    c.ping_interval_ms = 100;
    let mut run = start(c, &[]);
    let t0 = Instant::now();
    let mut conn = server.next_conn(Duration::from_secs(3)).await;
    // Our pings keep going out, yet nothing comes back: that is silence.
    let close = loop {
        match conn.next(Duration::from_secs(2)).await {
            Some(Seen::Close(f)) => break f,
            Some(Seen::Text(..)) => {}
            None => panic!("adapter never left the silent socket"),
        }
    };
    // Virtual time: the 300 ms silence window plus at most one watchdog tick (a tenth of it).
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(400),
        "{waited:?}"
    );
    assert!(close.is_some_and(|f| f.reason.contains("no inbound frame")));
    server.next_conn(Duration::from_secs(3)).await;
    let h = run.health_until("reconnected", |h| h.reconnects >= 1).await;
    let last = h.last_close.unwrap();
    assert_eq!(last.initiator, Initiator::Local);
    assert!(last.reason.contains("300 ms"), "{}", last.reason);
}

#[tokio::test(start_paused = true)]
async fn remote_close_code_is_reported() {
    let mut server = Server::start(Behaviour::default()).await;
    let mut run = start(cfg(&server.url), &["BTC_USDT"]);
    let conn = server.next_conn(Duration::from_secs(3)).await;
    conn.cmd(Cmd::Close(4001, "maintenance"));
    let h = run
        .health_until("closed by remote", |h| h.last_close.is_some())
        .await;
    let close = h.last_close.unwrap();
    assert_eq!(
        (close.initiator, close.code, close.reason.as_str()),
        (Initiator::Remote, 4001, "maintenance")
    );
    server.next_conn(Duration::from_secs(3)).await;
}

/// Counts reconnect attempts over a window: full-jitter backoff, never a spin.
async fn attempts_over(run: &mut Running, window: Duration) -> u64 {
    tokio::time::sleep(window).await;
    run.handle.health.borrow().reconnects
}

fn slow_backoff(url: &str) -> MexcConfig {
    let mut c = cfg(url);
    c.backoff_base_ms = 100;
    c.backoff_cap_ms = 400;
    c
}

#[tokio::test(start_paused = true)]
async fn connection_refused_backs_off() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/edge", listener.local_addr().unwrap());
    drop(listener);
    let mut run = start(slow_backoff(&url), &["BTC_USDT"]);
    let n = attempts_over(&mut run, Duration::from_secs(2)).await;
    // Mean delay ~ cap/2 = 200 ms once capped: ~10 attempts; a spin would be thousands.
    assert!((3..=40).contains(&n), "{n} attempts in 2 s");
    let h = run.handle.health.borrow().clone();
    assert_eq!(h.state, UpstreamState::Reconnecting);
    let close = h.last_close.unwrap();
    assert_eq!((close.initiator, close.code), (Initiator::Transport, 1006));
}

#[tokio::test(start_paused = true)]
async fn http_403_on_upgrade_backs_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/edge", listener.local_addr().unwrap());
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = accepts.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 2048];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp
                .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-type: text/html\r\ncontent-length: 9\r\n\r\nForbidden")
                .await;
        }
    });
    let mut run = start(slow_backoff(&url), &["BTC_USDT"]);
    attempts_over(&mut run, Duration::from_secs(2)).await;
    let n = accepts.load(Ordering::SeqCst);
    assert!((3..=40).contains(&n), "{n} upgrade attempts in 2 s");
    let close = run.handle.health.borrow().last_close.clone().unwrap();
    assert_eq!(close.initiator, Initiator::Remote);
    assert!(close.reason.contains("403"), "{}", close.reason);
}

#[tokio::test(start_paused = true)]
async fn immediate_close_after_upgrade_backs_off() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/edge", listener.local_addr().unwrap());
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = accepts.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await {
                let _ = ws.close(None).await;
            }
        }
    });
    let mut run = start(slow_backoff(&url), &["BTC_USDT"]);
    attempts_over(&mut run, Duration::from_secs(2)).await;
    let n = accepts.load(Ordering::SeqCst);
    assert!((3..=40).contains(&n), "{n} connections in 2 s");
}

#[tokio::test(start_paused = true)]
async fn subscribes_are_paced() {
    let mut server = Server::start(Behaviour::default()).await;
    let mut c = cfg(&server.url);
    c.subscribe_pace_ms = 40;
    let _run = start(c, &["A_USDT", "B_USDT", "C_USDT"]);
    let mut conn = server.next_conn(Duration::from_secs(3)).await;
    let mut at = Vec::new();
    while at.len() < 6 {
        match conn.next(Duration::from_secs(3)).await {
            Some(Seen::Text(t, v)) if v["method"] != "ping" => at.push(t),
            Some(_) => {}
            None => panic!("only {} subscribes arrived", at.len()),
        }
    }
    let gaps: Vec<u128> = at.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert!(gaps.iter().all(|&g| g >= 30), "pace 40 ms: {gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn stuck_handshake_times_out_and_retries() {
    // Accepts TCP and never answers the upgrade: the connect timeout must cut it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/edge", listener.local_addr().unwrap());
    let accepts = Arc::new(AtomicUsize::new(0));
    let counter = accepts.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(tcp);
        }
    });
    let mut c = cfg(&url);
    c.connect_timeout_ms = 200;
    let mut run = start(c, &["BTC_USDT"]);
    let h = run
        .health_until("a connect timeout", |h| h.last_close.is_some())
        .await;
    assert!(
        h.last_close
            .unwrap()
            .reason
            .contains("timed out after 200 ms"),
        "{:?}",
        run.handle.health.borrow().last_close
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(accepts.load(Ordering::SeqCst) >= 2, "it retries");
}
