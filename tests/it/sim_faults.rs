//! Every simulator fault over real loopback sockets: a raw tokio-tungstenite client on `/edge`,
//! reqwest on REST and `/control`. Each test proves the simulator does exactly what the fault
//! says, so adapter tests can rely on it. Timings are short; the file runs in a few seconds.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::Read;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use trademon::config::SimConfig;
use trademon::exchange::sim::faults::{Malformed, Outbound};
use trademon::exchange::sim::{self, ControlAccess, FaultState, SimHandle};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn cfg() -> SimConfig {
    SimConfig {
        listen: "127.0.0.1:0".into(),
        heartbeat_timeout_ms: 10_000,
        ticker_interval_ms: 100,
        trades_per_s: 40.0,
        pump_chance_per_s: 0.0,
        seed: 11,
        // Pumps only on cue in these tests.
        first_pump_after_s: 0,
        symbols: 12,
    }
}

async fn start() -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    sim::start(&cfg(), listener).await.unwrap()
}

/// Connect and wait until the simulator has registered the connection, so an action sent
/// next surely reaches it (the server task starts after the handshake answer is on its way).
async fn connect(sim: &SimHandle) -> Ws {
    let before = sim.faults.connections_accepted();
    let ws = connect_async(sim.ws_url()).await.unwrap().0;
    let deadline = Instant::now() + Duration::from_secs(2);
    while sim.faults.connections_accepted() == before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ws
}

fn local_addr(ws: &Ws) -> std::net::SocketAddr {
    match ws.get_ref() {
        MaybeTlsStream::Plain(tcp) => tcp.local_addr().unwrap(),
        _ => panic!("plain TCP expected"),
    }
}

async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

async fn sub(ws: &mut Ws, channel: &str, symbol: &str) {
    let cmd = format!(r#"{{"method":"sub.{channel}","param":{{"symbol":"{symbol}"}}}}"#);
    send(ws, &cmd).await;
}

/// Every frame that arrives within `wait`; panics if the socket ends meanwhile.
async fn collect(ws: &mut Ws, wait: Duration) -> Vec<Message> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    loop {
        match timeout(
            deadline.saturating_duration_since(Instant::now()),
            ws.next(),
        )
        .await
        {
            Ok(Some(Ok(m))) => got.push(m),
            Ok(other) => panic!("socket ended: {other:?} after {got:?}"),
            Err(_) => return got,
        }
    }
}

fn text_of(m: &Message) -> Option<String> {
    match m {
        Message::Text(t) => Some(t.to_string()),
        _ => None,
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn channel(m: &Message) -> Option<String> {
    let t = text_of(m)?;
    let v: Value = serde_json::from_str(&t).ok()?;
    v["channel"].as_str().map(String::from)
}

fn replies(frames: &[Message]) -> Vec<String> {
    frames
        .iter()
        .filter_map(channel)
        .filter(|c| !c.starts_with("push."))
        .collect()
}

fn pushes(frames: &[Message], ch: &str, symbol: &str) -> usize {
    frames
        .iter()
        .filter_map(text_of)
        .map(|t| json(&t))
        .filter(|v| v["channel"] == ch && v["symbol"] == symbol)
        .count()
}

/// The first frame with this channel, skipping others, within `wait`.
async fn wait_for(ws: &mut Ws, ch: &str, wait: Duration) -> Option<(Instant, Value)> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, ws.next()).await {
            Ok(Some(Ok(m))) => {
                if channel(&m).as_deref() == Some(ch) {
                    return Some((Instant::now(), json(&text_of(&m)?)));
                }
            }
            Ok(other) => panic!("socket ended: {other:?}"),
            Err(_) => return None,
        }
    }
}

/// How the socket ended: `Ok(close)` for a close frame, `Err(e)` for a transport end.
/// How the socket ended: a close frame, or the error that ended it (`None`: plain end of stream).
async fn ending(
    ws: &mut Ws,
) -> Result<Option<tungstenite::protocol::CloseFrame>, Option<tungstenite::Error>> {
    let r = timeout(Duration::from_secs(2), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(c))) => return Ok(c),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(Some(e)),
                None => return Err(None),
            }
        }
    })
    .await;
    r.unwrap_or_else(|_| panic!("socket did not end within 2 s"))
}

/// One client for the whole file: building one loads TLS roots, which is slow in debug builds.
fn http() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| reqwest::Client::builder().no_proxy().build().unwrap())
        .clone()
}

async fn control(sim: &SimHandle, path: &str, body: Value) -> (u16, Value) {
    let r = http()
        .post(format!("{}{path}", sim.control_url()))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

async fn get_json(url: String) -> (u16, Value) {
    let r = http().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

// --- heartbeat ---

#[tokio::test]
async fn delayed_pong_arrives_after_the_delay_while_data_flows() {
    let sim = start().await;
    let (status, state) = control(&sim, "/faults", json!({"delay_pongs_ms": 400})).await;
    assert_eq!((status, state["delay_pongs_ms"].as_u64()), (200, Some(400)));
    let mut ws = connect(&sim).await;
    sub(&mut ws, "deal", "BTC_USDT").await;
    let sent = Instant::now();
    send(&mut ws, r#"{"method":"ping"}"#).await;
    let early = collect(&mut ws, Duration::from_millis(300)).await;
    assert!(!replies(&early).contains(&"pong".to_string()), "{early:?}");
    assert!(
        pushes(&early, "push.deal", "BTC_USDT") > 0,
        "data keeps flowing"
    );
    let (at, pong) = wait_for(&mut ws, "pong", Duration::from_secs(1))
        .await
        .expect("pong");
    assert!(at - sent >= Duration::from_millis(400), "{:?}", at - sent);
    assert!(pong["data"].as_i64().unwrap() > 1_700_000_000_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn dropped_pongs_never_come_but_the_ping_counts() {
    let sim = start().await;
    sim.faults.update(|f| f.drop_pongs = true);
    let mut ws = connect(&sim).await;
    send(&mut ws, r#"{"method":"ping"}"#).await;
    sub(&mut ws, "ticker", "BTC_USDT").await;
    let frames = collect(&mut ws, Duration::from_millis(500)).await;
    assert_eq!(replies(&frames), vec!["rs.sub.ticker"]);
    assert_eq!(sim.faults.pings_received(), 1);
    sim.shutdown().await;
}

// Paused clock: the simulator's heartbeat runs on tokio time, so the bound below is virtual and
// proves the new timeout took effect at once, however loaded the machine.
#[tokio::test(start_paused = true)]
async fn heartbeat_timeout_is_settable_at_runtime_with_notice_and_1003() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let set = Instant::now();
    // Measured from the last ping (here: accept), so this expires at once.
    sim.faults.update(|f| f.heartbeat_timeout_ms = Some(150));
    let (_, notice) = wait_for(&mut ws, "rs.error", Duration::from_secs(1))
        .await
        .expect("heartbeat notice");
    assert_eq!(
        notice["data"],
        "more than 60 seconds no response, close the channel"
    );
    let close = ending(&mut ws).await.expect("close frame").expect("code");
    assert_eq!(u16::from(close.code), 1003);
    assert!(close.reason.starts_with("ping check expired, session: "));
    assert!(set.elapsed() < Duration::from_millis(800));

    // The drop style: no notice, no close frame.
    sim.faults.update(|f| {
        f.heartbeat_timeout_ms = Some(200);
        f.heartbeat_drop = true;
    });
    let mut ws = connect(&sim).await;
    let end = ending(&mut ws).await;
    assert!(end.is_err(), "expected a bare TCP end, got {end:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn client_id_frame_follows_the_first_pong_only() {
    let sim = start().await;
    sim.faults.update(|f| f.client_id_after_pong = true);
    let mut ws = connect(&sim).await;
    send(&mut ws, r#"{"method":"ping"}"#).await;
    send(&mut ws, r#"{"method":"ping"}"#).await;
    let frames = collect(&mut ws, Duration::from_millis(300)).await;
    assert_eq!(replies(&frames), vec!["pong", "clientId", "pong"]);
    sim.shutdown().await;
}

// --- streams ---

#[tokio::test]
async fn stalled_stream_is_silent_while_the_other_symbol_continues() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    sub(&mut ws, "deal", "BTC_USDT").await;
    sub(&mut ws, "deal", "ETH_USDT").await;
    collect(&mut ws, Duration::from_millis(200)).await;
    sim.faults
        .update(|f| f.stall = vec!["deal:BTC_USDT".parse().unwrap()]);
    collect(&mut ws, Duration::from_millis(50)).await;
    let frames = collect(&mut ws, Duration::from_millis(700)).await;
    assert_eq!(pushes(&frames, "push.deal", "BTC_USDT"), 0);
    assert!(pushes(&frames, "push.deal", "ETH_USDT") >= 3, "{frames:?}");
    sim.faults.update(|f| f.stall.clear());
    let frames = collect(&mut ws, Duration::from_millis(500)).await;
    assert!(pushes(&frames, "push.deal", "BTC_USDT") > 0, "resumes");
    sim.shutdown().await;
}

#[tokio::test]
async fn gzip_stream_sends_binary_that_inflates_to_a_push() {
    let sim = start().await;
    let (status, _) = control(&sim, "/faults", json!({"gzip": ["deal:BTC_USDT"]})).await;
    assert_eq!(status, 200);
    let mut ws = connect(&sim).await;
    sub(&mut ws, "deal", "BTC_USDT").await;
    sub(&mut ws, "ticker", "BTC_USDT").await;
    let frames = collect(&mut ws, Duration::from_millis(600)).await;
    let binary: Vec<&[u8]> = frames
        .iter()
        .filter_map(|m| match m {
            Message::Binary(b) => Some(b.as_ref()),
            _ => None,
        })
        .collect();
    assert!(!binary.is_empty(), "{frames:?}");
    for b in binary {
        assert_eq!(&b[..2], &[0x1f, 0x8b]);
        let mut text = String::new();
        flate2::read::GzDecoder::new(b)
            .read_to_string(&mut text)
            .unwrap();
        let v = json(&text);
        assert_eq!(
            (v["channel"].as_str(), v["symbol"].as_str()),
            (Some("push.deal"), Some("BTC_USDT"))
        );
    }
    assert!(
        pushes(&frames, "push.ticker", "BTC_USDT") > 0,
        "tickers stay text"
    );
    sim.shutdown().await;
}

// --- subscription replies ---

#[tokio::test]
async fn never_ack_gives_no_reply_and_optionally_streams() {
    let sim = start().await;
    sim.faults
        .update(|f| f.never_ack = vec!["BTC_USDT".parse().unwrap()]);
    let mut ws = connect(&sim).await;
    sub(&mut ws, "deal", "BTC_USDT").await;
    let frames = collect(&mut ws, Duration::from_millis(500)).await;
    assert!(frames.is_empty(), "{frames:?}");
    sim.faults.update(|f| f.never_ack_streams = true);
    sub(&mut ws, "deal", "BTC_USDT").await;
    let frames = collect(&mut ws, Duration::from_millis(500)).await;
    assert!(replies(&frames).is_empty(), "{frames:?}");
    assert!(pushes(&frames, "push.deal", "BTC_USDT") > 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn ack_twice_sends_two_acks_and_one_stream() {
    let sim = start().await;
    sim.faults
        .update(|f| f.ack_twice = vec!["deal:*".parse().unwrap()]);
    let mut ws = connect(&sim).await;
    sub(&mut ws, "deal", "BTC_USDT").await;
    let frames = collect(&mut ws, Duration::from_millis(500)).await;
    assert_eq!(replies(&frames), vec!["rs.sub.deal", "rs.sub.deal"]);
    assert!(pushes(&frames, "push.deal", "BTC_USDT") > 0);
    let mut ids: Vec<String> = frames
        .iter()
        .filter_map(text_of)
        .map(|t| json(&t))
        .filter(|v| v["channel"] == "push.deal")
        .flat_map(|v| v["data"].as_array().cloned().unwrap_or_default())
        .map(|r| r["i"].as_str().unwrap_or_default().to_string())
        .collect();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "one stream, no duplicate trades");
    sim.shutdown().await;
}

#[tokio::test]
async fn rs_error_refuses_one_symbol_and_the_socket_carries_on() {
    let sim = start().await;
    sim.faults
        .update(|f| f.rs_error = vec!["BTC_USDT".parse().unwrap()]);
    let mut ws = connect(&sim).await;
    sub(&mut ws, "deal", "BTC_USDT").await;
    sub(&mut ws, "deal", "ETH_USDT").await;
    let (_, err) = wait_for(&mut ws, "rs.error", Duration::from_secs(1))
        .await
        .expect("rs.error");
    assert_eq!(err["data"], "Contract [BTC_USDT] not exists");
    let frames = collect(&mut ws, Duration::from_millis(500)).await;
    assert_eq!(replies(&frames), vec!["rs.sub.deal"]);
    assert_eq!(pushes(&frames, "push.deal", "BTC_USDT"), 0);
    assert!(pushes(&frames, "push.deal", "ETH_USDT") > 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn silent_subscription_is_acked_and_never_pushes() {
    let sim = start().await;
    sim.faults
        .update(|f| f.silent = vec!["ticker:BTC_USDT".parse().unwrap()]);
    let mut ws = connect(&sim).await;
    sub(&mut ws, "ticker", "BTC_USDT").await;
    sub(&mut ws, "ticker", "ETH_USDT").await;
    let frames = collect(&mut ws, Duration::from_millis(700)).await;
    assert_eq!(replies(&frames), vec!["rs.sub.ticker", "rs.sub.ticker"]);
    assert_eq!(pushes(&frames, "push.ticker", "BTC_USDT"), 0);
    assert!(pushes(&frames, "push.ticker", "ETH_USDT") >= 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn delayed_acks_arrive_out_of_order() {
    let sim = start().await;
    sim.faults.update(|f| {
        f.delay_acks = vec!["deal:*".parse().unwrap()];
        f.delay_acks_ms = 300;
    });
    let mut ws = connect(&sim).await;
    sub(&mut ws, "deal", "BTC_USDT").await;
    sub(&mut ws, "ticker", "BTC_USDT").await;
    let frames = collect(&mut ws, Duration::from_millis(600)).await;
    assert_eq!(replies(&frames), vec!["rs.sub.ticker", "rs.sub.deal"]);
    sim.shutdown().await;
}

// --- payload shapes ---

#[tokio::test]
async fn deal_as_object() {
    let sim = start().await;
    sim.faults.update(|f| f.deal_object = true);
    let mut ws = connect(&sim).await;
    sub(&mut ws, "deal", "BTC_USDT").await;
    let frames = collect(&mut ws, Duration::from_millis(500)).await;
    let deals: Vec<Value> = frames
        .iter()
        .filter_map(text_of)
        .map(|t| json(&t))
        .filter(|v| v["channel"] == "push.deal")
        .collect();
    assert!(deals.len() >= 3);
    for d in deals {
        let data = d["data"].as_object().expect("object");
        for k in ["p", "v", "T", "O", "M", "t", "i"] {
            assert!(data.contains_key(k), "{d}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn exponent_numbers_string_ts_and_skew() {
    let sim = start().await;
    sim.faults.update(|f| {
        f.exponent_numbers = true;
        f.ts_string = true;
        f.ts_skew_ms = 3_600_000;
    });
    let mut ws = connect(&sim).await;
    sub(&mut ws, "deal", "BTC_USDT").await;
    sub(&mut ws, "ticker", "BTC_USDT").await;
    send(&mut ws, r#"{"method":"ping"}"#).await;
    let frames = collect(&mut ws, Duration::from_millis(500)).await;
    let now = trademon_now_ms();
    let mut seen = 0;
    for t in frames.iter().filter_map(text_of) {
        let v = json(&t);
        let ts: i64 = v["ts"].as_str().expect("string ts").parse().unwrap();
        assert!(ts - now > 3_500_000, "skewed ts {ts} vs {now}");
        match v["channel"].as_str() {
            Some("push.deal") => {
                assert!(t.contains(r#""p":"#) && t.contains("E+"), "{t}");
                seen += 1;
            }
            Some("push.ticker") => {
                let at = t.find(r#""lastPrice":"#).unwrap();
                assert!(t[at..].split(',').next().unwrap().contains('E'), "{t}");
                seen += 1;
            }
            _ => {}
        }
    }
    assert!(seen >= 2);
    sim.shutdown().await;
}

fn trademon_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

// --- connection actions ---

#[tokio::test]
async fn drop_is_a_fin_without_close_frame_and_rst_is_a_reset() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    let (_, r) = control(&sim, "/drop", json!({})).await;
    assert_eq!(r["reached"], 1);
    let end = ending(&mut ws).await;
    assert!(end.is_err(), "no close frame: {end:?}");

    let mut ws = connect(&sim).await;
    let (_, r) = control(&sim, "/drop", json!({"rst": true})).await;
    assert_eq!(r["reached"], 1);
    let end = ending(&mut ws).await;
    let e = end.expect_err("no close frame");
    assert!(
        matches!(&e, Some(tungstenite::Error::Io(io)) if io.kind() == std::io::ErrorKind::ConnectionReset),
        "{e:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn close_with_code_and_reason() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    let (status, r) = control(
        &sim,
        "/close",
        json!({"code": 1012, "reason": "service restart"}),
    )
    .await;
    assert_eq!((status, &r["reached"]), (200, &json!(1)));
    let close = ending(&mut ws).await.expect("close frame").expect("code");
    assert_eq!(u16::from(close.code), 1012);
    assert_eq!(close.reason.as_str(), "service restart");

    let (status, r) = control(&sim, "/close", json!({"code": 1006})).await;
    assert_eq!(status, 400, "{r}");
    sim.shutdown().await;
}

#[tokio::test]
async fn half_open_stops_everything_but_keeps_the_socket() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    sub(&mut ws, "deal", "BTC_USDT").await;
    collect(&mut ws, Duration::from_millis(200)).await;
    sim.faults.half_open(None).unwrap();
    collect(&mut ws, Duration::from_millis(50)).await;
    send(&mut ws, r#"{"method":"ping"}"#).await;
    ws.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
    let frames = collect(&mut ws, Duration::from_millis(1_000)).await;
    assert!(frames.is_empty(), "nothing flows: {frames:?}");
    let conns = sim.faults.connections();
    assert_eq!(conns.len(), 1);
    assert!(conns[0].half_open);
    // Still open: a write succeeds and nothing ends.
    send(&mut ws, r#"{"method":"ping"}"#).await;
    assert!(
        collect(&mut ws, Duration::from_millis(200))
            .await
            .is_empty()
    );
    sim.faults.drop_all();
    assert!(ending(&mut ws).await.is_err());
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_frames_arrive_verbatim() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    for kind in [
        "invalid_json",
        "truncated",
        "unknown_channel",
        "client_id",
        "empty",
    ] {
        let (status, r) = control(&sim, "/inject", json!({"kind": kind})).await;
        assert_eq!(status, 200, "{r}");
        let got = collect(&mut ws, Duration::from_millis(150)).await;
        assert_eq!(got.len(), 1, "{kind}: {got:?}");
        assert_eq!(text_of(&got[0]).as_deref(), r["frame"].as_str(), "{kind}");
    }
    let text = r#"{"channel":"push.deal","data":"surprise"}"#;
    control(&sim, "/inject", json!({"text": text})).await;
    let got = collect(&mut ws, Duration::from_millis(150)).await;
    assert_eq!(text_of(&got[0]).as_deref(), Some(text));

    sim.faults
        .inject(None, Malformed::BinaryGarbage.frame(0))
        .unwrap();
    let got = collect(&mut ws, Duration::from_millis(150)).await;
    assert!(
        matches!(&got[..], [Message::Binary(b)] if b[0] != 0x1f),
        "{got:?}"
    );
    let (status, _) = control(&sim, "/inject", json!({"kind": "nope"})).await;
    assert_eq!(status, 400);
    let (status, _) = control(&sim, "/inject", json!({})).await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn inject_reaches_every_connection_or_just_one() {
    let sim = start().await;
    let mut a = connect(&sim).await;
    let mut b = connect(&sim).await;
    let n = sim
        .faults
        .inject(None, Outbound::Text("hello".into()))
        .unwrap();
    assert_eq!(n, 2);
    for ws in [&mut a, &mut b] {
        let got = collect(ws, Duration::from_millis(150)).await;
        assert_eq!(got, vec![Message::text("hello")]);
    }
    let me = local_addr(&a);
    let first = sim
        .faults
        .connections()
        .into_iter()
        .find(|c| c.peer == Some(me))
        .unwrap()
        .id;
    let (status, r) = control(&sim, "/inject", json!({"conn": first, "text": "one"})).await;
    assert_eq!((status, &r["reached"]), (200, &json!(1)));
    assert_eq!(collect(&mut a, Duration::from_millis(150)).await.len(), 1);
    assert!(collect(&mut b, Duration::from_millis(150)).await.is_empty());
    let (status, _) = control(&sim, "/inject", json!({"conn": 999, "text": "x"})).await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn refused_upgrade_via_control_api() {
    let sim = start().await;
    control(&sim, "/faults", json!({"refuse_upgrades": true})).await;
    match connect_async(sim.ws_url()).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    control(&sim, "/faults", json!({"refuse_upgrades": null})).await;
    let _ok = connect(&sim).await;
    sim.shutdown().await;
}

// --- market ---

#[tokio::test]
async fn forced_pump_moves_price_and_volume() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    sub(&mut ws, "ticker", "ETH_USDT").await;
    let (_, t0) = wait_for(&mut ws, "push.ticker", Duration::from_secs(1))
        .await
        .unwrap();
    let p0 = t0["data"]["lastPrice"].as_f64().unwrap();
    let (status, r) = control(
        &sim,
        "/pump",
        json!({"symbol": "ETH_USDT", "magnitude_pct": 10, "rise_ms": 500, "fade_ms": 60000}),
    )
    .await;
    assert_eq!(status, 200, "{r}");
    tokio::time::sleep(Duration::from_millis(900)).await;
    collect(&mut ws, Duration::from_millis(50)).await;
    let (_, t1) = wait_for(&mut ws, "push.ticker", Duration::from_secs(1))
        .await
        .unwrap();
    let p1 = t1["data"]["lastPrice"].as_f64().unwrap();
    assert!(p1 / p0 > 1.07, "{p0} -> {p1}");
    assert_eq!(sim.faults.stats().pumps_forced, 1);
    assert!(sim.faults.force_pump("NOPE_USDT").is_err());
    let (status, _) = control(&sim, "/pump", json!({"symbol": "ETH_USDT", "rise_ms": 0})).await;
    assert_eq!(status, 400);
    sim.shutdown().await;
}

// --- REST ---

#[tokio::test]
async fn rest_throttle_answers_510_with_http_200() {
    let sim = start().await;
    sim.faults.update(|f| f.rest_throttle = true);
    let (status, body) = get_json(format!("{}/api/v1/contract/ticker", sim.rest_url())).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"success":false,"code":510,"message":"Requests are too frequent, please try again later"})
    );
    sim.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn rest_rate_limit_allows_20_per_2s_per_endpoint() {
    let sim = start().await;
    sim.faults.update(|f| f.rest_rate_limit = true);
    // The limiter keeps tokio time and the clock is paused: the 21 requests surely fall into
    // one 2 s window, and the bound below checks that premise rather than the machine's speed.
    let ping = format!("{}/api/v1/contract/ping", sim.rest_url());
    let t = Instant::now();
    let first = futures_util::future::join_all((0..20).map(|_| get_json(ping.clone()))).await;
    assert!(first.iter().all(|(_, b)| b["success"] == true), "{first:?}");
    let (status, b) = get_json(ping.clone()).await;
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "too slow to test the window"
    );
    assert_eq!((status, &b["code"]), (200, &json!(510)), "{b}");
    assert_eq!(
        b["message"],
        "Requests are too frequent, please try again later"
    );
    let (_, ticker) = get_json(format!("{}/api/v1/contract/ticker", sim.rest_url())).await;
    assert_eq!(
        ticker["success"], true,
        "other endpoints have their own window"
    );
    sim.faults.reset();
    sim.faults.update(|f| f.rest_rate_limit = true);
    let (_, b) = get_json(ping).await;
    assert_eq!(b["success"], true, "reset forgets the windows");
    sim.shutdown().await;
}

#[tokio::test]
async fn rest_waf_is_an_html_403() {
    let sim = start().await;
    sim.faults.update(|f| f.rest_waf = true);
    let r = http()
        .get(format!("{}/api/v1/contract/ticker", sim.rest_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(r.text().await.unwrap().contains("403 Forbidden"));
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_rest_other_status_and_array_for_object() {
    let sim = start().await;
    let url = format!("{}/api/v1/contract/ticker?symbol=BTC_USDT", sim.rest_url());
    sim.faults.update(|f| f.rest_delay_ms = 300);
    let t = Instant::now();
    let (_, b) = get_json(url.clone()).await;
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(b["data"]["symbol"], "BTC_USDT");

    sim.faults.set(FaultState {
        rest_ticker_array: true,
        ..FaultState::default()
    });
    let (_, b) = get_json(url.clone()).await;
    assert!(b["data"].as_array().unwrap().len() > 1);

    sim.faults.set(FaultState {
        rest_http_status: Some(502),
        ..FaultState::default()
    });
    let r = http().get(url).send().await.unwrap();
    assert_eq!(r.status(), 502);
    sim.shutdown().await;
}

// --- control API ---

#[tokio::test]
async fn control_api_round_trip_and_reset() {
    let sim = start().await;
    let faults_url = format!("{}/faults", sim.control_url());
    let (status, off) = get_json(faults_url.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(off, serde_json::to_value(FaultState::default()).unwrap());

    let (status, s) = control(
        &sim,
        "/faults",
        json!({"delay_pongs_ms": 20000, "stall": ["deal:BTC_USDT"], "rest_waf": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(s["stall"], json!(["deal:BTC_USDT"]));
    let (_, got) = get_json(faults_url.clone()).await;
    assert_eq!(got, s);
    assert_eq!(sim.faults.state().delay_pongs_ms, 20_000);

    // Refused patches change nothing.
    for bad in [
        json!({"delay_pong_ms": 1}),
        json!({"stall": ["liquidation:X"]}),
        json!([]),
    ] {
        let (status, e) = control(&sim, "/faults", bad).await;
        assert_eq!(status, 400);
        assert!(e["error"].as_str().is_some());
    }
    let r = http()
        .post(&faults_url)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(get_json(faults_url.clone()).await.1, s);

    // Reset: all off, and a half-open connection is let go.
    let mut ws = connect(&sim).await;
    sim.faults.half_open(None).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, after) = control(&sim, "/reset", json!(null)).await;
    assert_eq!(status, 200);
    assert_eq!(after, off);
    assert!(sim.faults.state().is_off());
    assert!(ending(&mut ws).await.is_err());

    let (_, conns) = get_json(format!("{}/connections", sim.control_url())).await;
    assert!(conns.as_array().unwrap().is_empty(), "{conns}");
    let (_, stats) = get_json(format!("{}/stats", sim.control_url())).await;
    assert_eq!(stats["connections_accepted"], 1);
    let (status, _) = control(&sim, "/drop", json!({"conn": 42})).await;
    assert_eq!(status, 404);
    sim.shutdown().await;
}

#[tokio::test]
async fn control_api_refused_unless_enabled_off_loopback() {
    let wildcard = "0.0.0.0:9001".parse().unwrap();
    assert!(matches!(
        ControlAccess::for_listener(wildcard, false),
        ControlAccess::Refused(_)
    ));
    assert_eq!(
        ControlAccess::for_listener(wildcard, true),
        ControlAccess::Enabled
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = sim::start_with(
        &cfg(),
        listener,
        ControlAccess::for_listener(wildcard, false),
    )
    .await
    .unwrap();
    let (status, e) = get_json(format!("{}/faults", sim.control_url())).await;
    assert_eq!(status, 403);
    assert!(e["error"].as_str().unwrap().contains("not loopback"));
    let (status, _) = control(&sim, "/drop", json!({})).await;
    assert_eq!(status, 403);
    // The simulator itself still works.
    let (_, ping) = get_json(format!("{}/api/v1/contract/ping", sim.rest_url())).await;
    assert_eq!(ping["success"], true);
    sim.shutdown().await;
}
