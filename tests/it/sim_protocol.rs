//! The MEXC futures simulator over real loopback sockets, with tokio-tungstenite as the client.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use trademon::config::SimConfig;
use trademon::exchange::sim::{self, SYMBOLS, SimHandle};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const TICKER_FIELDS: &[&str] = &[
    "symbol",
    "lastPrice",
    "bid1",
    "ask1",
    "volume24",
    "amount24",
    "holdVol",
    "lower24Price",
    "high24Price",
    "riseFallRate",
    "riseFallValue",
    "indexPrice",
    "fairPrice",
    "fundingRate",
    "maxBidPrice",
    "minAskPrice",
    "timestamp",
    "contractId",
];
/// Fields the simulator never omits.
const TICKER_ALWAYS: &[&str] = &[
    "symbol",
    "lastPrice",
    "bid1",
    "ask1",
    "lower24Price",
    "high24Price",
    "riseFallRate",
    "indexPrice",
    "fairPrice",
    "fundingRate",
    "timestamp",
    "contractId",
];

fn cfg(heartbeat_timeout_ms: u64) -> SimConfig {
    SimConfig {
        listen: "127.0.0.1:0".into(),
        heartbeat_timeout_ms,
        ticker_interval_ms: 100,
        trades_per_s: 40.0,
        pump_chance_per_s: 0.0,
        first_pump_after_s: 0,
        seed: 7,
        symbols: 12,
    }
}

async fn start(cfg: SimConfig) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    sim::start(&cfg, listener).await.unwrap()
}

async fn connect(sim: &SimHandle) -> Ws {
    connect_async(sim.ws_url()).await.unwrap().0
}

async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

/// Next frame within `wait`, or `None` on timeout.
async fn next(ws: &mut Ws, wait: Duration) -> Option<Message> {
    match timeout(wait, ws.next()).await {
        Ok(Some(Ok(m))) => Some(m),
        Ok(other) => panic!("socket ended: {other:?}"),
        Err(_) => None,
    }
}

/// Next text frame that is not a market push, skipping pushes.
async fn next_reply(ws: &mut Ws) -> String {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match next(ws, left).await {
            Some(Message::Text(t)) if !t.contains("\"channel\":\"push.") => return t.to_string(),
            Some(_) => {}
            None => panic!("no reply within 2 s"),
        }
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn assert_reply(text: &str, channel: &str, data: &str) {
    let v = json(text);
    assert_eq!(
        keys(&v),
        ["channel", "data", "ts"].map(String::from).into(),
        "{text}"
    );
    assert_eq!(v["channel"], channel, "{text}");
    assert_eq!(v["data"], data, "{text}");
    assert!(v["ts"].as_i64().unwrap() > 1_700_000_000_000, "{text}");
}

/// Envelope fields in live order: `{"symbol":..,"data":..,"channel":..,"ts":..}`.
fn assert_push_envelope(text: &str, symbol: &str, channel: &str) -> Value {
    assert!(
        text.starts_with(&format!("{{\"symbol\":\"{symbol}\",\"data\":")),
        "{text}"
    );
    let tail = format!(",\"channel\":\"{channel}\",\"ts\":");
    let at = text.rfind(&tail).unwrap_or_else(|| panic!("{text}"));
    let ts = &text[at + tail.len()..text.len() - 1];
    assert!(ts.chars().all(|c| c.is_ascii_digit()), "{text}");
    json(text)
}

#[tokio::test]
async fn subscribe_ticker_and_deal_then_pushes_with_live_shapes() {
    let sim = start(cfg(10_000)).await;
    let mut ws = connect(&sim).await;
    send(
        &mut ws,
        r#"{"method":"sub.ticker","param":{"symbol":"BTC_USDT"},"gzip":false}"#,
    )
    .await;
    assert_reply(&next_reply(&mut ws).await, "rs.sub.ticker", "success");
    send(
        &mut ws,
        r#"{"method":"sub.deal","param":{"symbol":"BTC_USDT"},"gzip":false}"#,
    )
    .await;
    assert_reply(&next_reply(&mut ws).await, "rs.sub.deal", "success");

    let (mut tickers, mut deals) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(3);
    while (tickers < 2 || deals < 3) && Instant::now() < deadline {
        let Some(Message::Text(text)) = next(&mut ws, Duration::from_secs(1)).await else {
            continue;
        };
        let v = json(&text);
        match v["channel"].as_str().unwrap() {
            "push.ticker" => {
                let v = assert_push_envelope(&text, "BTC_USDT", "push.ticker");
                let d = &v["data"];
                let got = keys(d);
                let all: BTreeSet<String> = TICKER_FIELDS.iter().map(|s| s.to_string()).collect();
                assert!(got.is_subset(&all), "extra fields: {text}");
                for f in TICKER_ALWAYS {
                    assert!(got.contains(*f), "missing {f}: {text}");
                }
                assert_eq!(d["symbol"], "BTC_USDT");
                let last = d["lastPrice"].as_f64().unwrap();
                assert!((50_000.0..200_000.0).contains(&last), "{text}");
                assert!(d["bid1"].as_f64().unwrap() < d["ask1"].as_f64().unwrap());
                tickers += 1;
            }
            "push.deal" => {
                let v = assert_push_envelope(&text, "BTC_USDT", "push.deal");
                let rows = v["data"].as_array().expect("deal data is an array");
                assert!(!rows.is_empty());
                for r in rows {
                    let k = keys(r);
                    for f in ["p", "v", "T", "O", "M", "t", "i"] {
                        assert!(k.contains(f), "missing {f}: {text}");
                    }
                    assert!(
                        k.len() == 7 || (k.len() == 8 && k.contains("cts")),
                        "{text}"
                    );
                    assert!(r["p"].as_f64().unwrap() > 0.0);
                    assert!(r["v"].as_u64().unwrap() >= 1);
                    assert!([1, 2].contains(&r["T"].as_u64().unwrap()));
                    assert!([1, 2, 3].contains(&r["O"].as_u64().unwrap()));
                    assert_eq!(r["M"], 2);
                    assert!(r["t"].as_i64().unwrap() > 1_700_000_000_000);
                    assert!(r["i"].as_str().unwrap().parse::<u64>().is_ok());
                    if let Some(cts) = r.get("cts") {
                        assert!(cts.as_str().unwrap().parse::<i64>().is_ok());
                    }
                }
                deals += 1;
            }
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert!(
        tickers >= 2 && deals >= 3,
        "tickers {tickers} deals {deals}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn trade_ids_are_contiguous_per_symbol_across_frames() {
    let sim = start(cfg(10_000)).await;
    let mut ws = connect(&sim).await;
    for s in ["BTC_USDT", "ETH_USDT", "PEPE_USDT"] {
        send(
            &mut ws,
            &format!(r#"{{"method":"sub.deal","param":{{"symbol":"{s}"}}}}"#),
        )
        .await;
        assert_reply(&next_reply(&mut ws).await, "rs.sub.deal", "success");
    }
    let mut ids: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut frames = 0;
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        let Some(Message::Text(text)) = next(&mut ws, Duration::from_millis(500)).await else {
            continue;
        };
        let v = json(&text);
        assert_eq!(v["channel"], "push.deal", "{text}");
        let sym = v["symbol"].as_str().unwrap().to_string();
        let list = ids.entry(sym).or_default();
        for r in v["data"].as_array().unwrap() {
            list.push(r["i"].as_str().unwrap().parse().unwrap());
        }
        frames += 1;
    }
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(frames > 10);
    for (sym, list) in &ids {
        assert!(list.len() > 10, "{sym}");
        for w in list.windows(2) {
            assert_eq!(w[1], w[0] + 1, "{sym}: gap or reorder");
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_symbol_is_refused_and_the_socket_carries_on() {
    let sim = start(cfg(10_000)).await;
    let mut ws = connect(&sim).await;
    send(
        &mut ws,
        r#"{"method":"sub.deal","param":{"symbol":"NOPE_USDT"}}"#,
    )
    .await;
    assert_reply(
        &next_reply(&mut ws).await,
        "rs.error",
        "Contract [NOPE_USDT] not exists",
    );
    send(&mut ws, r#"{"method":"sub.ticker","param":{}}"#).await;
    assert_reply(
        &next_reply(&mut ws).await,
        "rs.error",
        "Contract [null] not exists",
    );
    // Unknown methods and garbage: no reply at all; the pong is the next thing we see.
    send(&mut ws, r#"{"method":"sub.depth.nope","param":{}}"#).await;
    send(&mut ws, "not json").await;
    send(&mut ws, r#"{"op":"ping"}"#).await;
    send(&mut ws, r#"{"method":"ping"}"#).await;
    assert_eq!(json(&next_reply(&mut ws).await)["channel"], "pong");

    send(
        &mut ws,
        r#"{"method":"sub.deal","param":{"symbol":"ETH_USDT"}}"#,
    )
    .await;
    assert_reply(&next_reply(&mut ws).await, "rs.sub.deal", "success");
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut eth = false;
    while !eth && Instant::now() < deadline {
        if let Some(Message::Text(t)) = next(&mut ws, Duration::from_millis(500)).await {
            let v = json(&t);
            assert_eq!(v["symbol"], "ETH_USDT", "{t}");
            eth = v["channel"] == "push.deal";
        }
    }
    assert!(eth, "ETH deals after the refusal");
    sim.shutdown().await;
}

#[tokio::test]
async fn json_ping_gets_pong_with_data_and_ts() {
    let sim = start(cfg(10_000)).await;
    let mut ws = connect(&sim).await;
    send(&mut ws, r#"{"method":"ping"}"#).await;
    let v = json(&next_reply(&mut ws).await);
    assert_eq!(keys(&v), ["channel", "data", "ts"].map(String::from).into());
    assert_eq!(v["channel"], "pong");
    let data = v["data"].as_i64().unwrap();
    assert!(data > 1_700_000_000_000);
    assert_eq!(v["ts"].as_i64().unwrap(), data);
    assert_eq!(sim.faults.pings_received(), 1);
    sim.shutdown().await;
}

struct Closed {
    texts: Vec<String>,
    close: Message,
    took: Duration,
    pongs: usize,
}

/// Reads until the server closes, sending `keepalive` every 50 ms meanwhile.
async fn until_close(ws: &mut Ws, keepalive: Option<Message>) -> Closed {
    let t0 = Instant::now();
    let mut texts = Vec::new();
    let mut pongs = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Some(m) = &keepalive {
                    ws.send(m.clone()).await.unwrap();
                }
            }
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => texts.push(t.to_string()),
                Some(Ok(close @ Message::Close(_))) => {
                    return Closed { texts, close, took: t0.elapsed(), pongs };
                }
                Some(Ok(Message::Pong(_))) => pongs += 1,
                Some(Ok(_)) => {}
                other => panic!("ended without close frame: {other:?}"),
            },
            _ = tokio::time::sleep(Duration::from_secs(3)) => panic!("no close within 3 s"),
        }
    }
}

// Paused clock (the simulator's heartbeat keeps tokio time): the bounds are virtual time.
#[tokio::test(start_paused = true)]
async fn heartbeat_expires_without_json_ping_even_with_protocol_pings() {
    let sim = start(cfg(300)).await;
    let mut ws = connect(&sim).await;
    let Closed {
        texts,
        close,
        took,
        pongs,
    } = until_close(&mut ws, Some(Message::Ping(vec![1].into()))).await;
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(pongs >= 3, "protocol Pings are answered: {pongs}");
    let last = texts.last().expect("rs.error before the close");
    assert_reply(
        last,
        "rs.error",
        "more than 60 seconds no response, close the channel",
    );
    let Message::Close(Some(frame)) = close else {
        panic!("close without a frame: {close:?}")
    };
    assert_eq!(frame.code, CloseCode::Unsupported);
    assert_eq!(u16::from(frame.code), 1003);
    assert!(
        frame.reason.starts_with("ping check expired, session: "),
        "{}",
        frame.reason
    );
    assert_eq!(sim.faults.pings_received(), 0);
    sim.shutdown().await;
}

// Paused clock: a ping every 100 ms of virtual time keeps the 300 ms heartbeat alive however
// slowly the machine runs the loop, so only a broken heartbeat can close it early.
#[tokio::test(start_paused = true)]
async fn json_pings_keep_the_socket_alive_then_silence_closes_it() {
    let sim = start(cfg(300)).await;
    let mut ws = connect(&sim).await;
    // Other commands do not count as heartbeat either.
    send(&mut ws, r#"{"method":"sub.tickers","param":{}}"#).await;
    assert_reply(&next_reply(&mut ws).await, "rs.sub.tickers", "success");
    let t0 = Instant::now();
    let mut pongs = 0;
    let mut last_ping = t0;
    while t0.elapsed() < Duration::from_millis(900) {
        last_ping = Instant::now();
        send(&mut ws, r#"{"method":"ping"}"#).await;
        let deadline = Instant::now() + Duration::from_millis(100);
        while let Some(m) = next(&mut ws, deadline.saturating_duration_since(Instant::now())).await
        {
            match m {
                Message::Text(t) if t.contains("\"pong\"") => pongs += 1,
                Message::Text(t) => {
                    let v = json(&t);
                    assert_eq!(v["channel"], "push.tickers", "{t}");
                    assert_eq!(v["data"].as_array().unwrap().len(), SYMBOLS.len());
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(pongs >= 7, "{pongs}");
    let Closed { close, .. } = until_close(&mut ws, None).await;
    // The server's deadline restarted when it read the last ping, after we sent it.
    let silent = last_ping.elapsed();
    assert!(silent >= Duration::from_millis(290), "{silent:?}");
    assert!(matches!(close, Message::Close(Some(f)) if u16::from(f.code) == 1003));
    let cmds = sim.faults.commands();
    assert_eq!(
        cmds.iter().filter(|c| c.contains("ping")).count() as u64,
        sim.faults.pings_received()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn rest_ticker_lists_every_symbol_and_refuses_unknown_ones() {
    let sim = start(cfg(10_000)).await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let url = format!("{}{path}", sim.rest_url());
        let http = http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    let all = get("/api/v1/contract/ticker").await;
    assert_eq!(all["success"], true);
    assert_eq!(all["code"], 0);
    let rows = all["data"].as_array().unwrap();
    let names: BTreeSet<&str> = rows.iter().map(|r| r["symbol"].as_str().unwrap()).collect();
    assert_eq!(names, SYMBOLS.iter().copied().collect());
    assert!(SYMBOLS.len() >= 12);
    for r in rows {
        for f in TICKER_FIELDS {
            assert!(r.get(*f).is_some(), "{f} in {r}");
        }
        assert!(r["lastPrice"].as_f64().unwrap() > 0.0);
    }

    let one = get("/api/v1/contract/ticker?symbol=SOL_USDT").await;
    assert_eq!(one["success"], true);
    assert_eq!(one["data"]["symbol"], "SOL_USDT");
    let sol = one["data"]["lastPrice"].as_f64().unwrap();
    assert!((100.0..300.0).contains(&sol), "{sol}");

    let none = get("/api/v1/contract/ticker?symbol=NOPE_USDT").await;
    assert_eq!(
        none,
        serde_json::json!({"success":false,"code":1001,"message":"contract does not exist"})
    );

    let ping = get("/api/v1/contract/ping").await;
    assert_eq!(ping["success"], true);
    assert!(ping["data"].as_i64().unwrap() > 1_700_000_000_000);
    sim.shutdown().await;
}

#[tokio::test]
async fn fault_seams_refuse_drop_pause_and_stall() {
    let sim = start(cfg(10_000)).await;
    let f = sim.faults.clone();

    f.update(|s| s.refuse_upgrades = true);
    match connect_async(sim.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 403);
            let body =
                String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).to_string();
            assert!(body.contains("<html>"), "{body}");
        }
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    f.update(|s| s.refuse_upgrades = false);

    let mut ws = connect(&sim).await;
    assert_eq!(f.connections_accepted(), 1);
    f.update(|s| s.drop_pongs = true);
    send(&mut ws, r#"{"method":"ping"}"#).await;
    f.update(|s| s.pause_pushes = true);
    send(
        &mut ws,
        r#"{"method":"sub.deal","param":{"symbol":"BTC_USDT"}}"#,
    )
    .await;
    // The ack is the first reply: the pong was swallowed.
    assert_reply(&next_reply(&mut ws).await, "rs.sub.deal", "success");
    assert_eq!(f.pings_received(), 1);
    assert_eq!(
        next(&mut ws, Duration::from_millis(400)).await,
        None,
        "paused"
    );
    f.update(|s| s.pause_pushes = false);
    let m = next(&mut ws, Duration::from_secs(1))
        .await
        .expect("pushes resume");
    assert!(m.to_text().unwrap().contains("push.deal"));
    assert_eq!(
        f.commands(),
        vec![
            r#"{"method":"ping"}"#.to_string(),
            r#"{"method":"sub.deal","param":{"symbol":"BTC_USDT"}}"#.to_string()
        ]
    );

    f.drop_all();
    let ended = timeout(Duration::from_secs(2), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(c))) => panic!("drop_all sent a close frame: {c:?}"),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "socket not dropped");

    let mut again = connect(&sim).await;
    assert_eq!(f.connections_accepted(), 2);
    send(&mut again, r#"{"method":"ping"}"#).await;
    f.update(|s| s.drop_pongs = false);
    send(&mut again, r#"{"method":"ping"}"#).await;
    assert_eq!(json(&next_reply(&mut again).await)["channel"], "pong");
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_clients_and_stops_listening() {
    let sim = start(cfg(10_000)).await;
    let url = sim.ws_url();
    let mut ws = connect(&sim).await;
    timeout(Duration::from_secs(3), sim.shutdown())
        .await
        .unwrap();
    let end = timeout(Duration::from_secs(1), ws.next()).await.unwrap();
    assert!(!matches!(end, Some(Ok(Message::Text(_)))), "{end:?}");
    assert!(connect_async(url).await.is_err());
}
