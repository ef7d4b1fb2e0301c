//! The market-data surface over real loopback sockets, as an independent MEXC client sees it:
//! REST shapes and errors, the depth, depth.full, kline, funding, index and fair price streams,
//! and the consistency between them (a REST depth snapshot continues with the pushes; REST
//! klines and deals agree with the pushed ones).
//!
//! Frames are awaited with a deadline (the simulator runs on the wall clock); nothing sleeps.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use trademon_sim::{SimConfig, SimHandle};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest wait for any one expected frame.
const WAIT: Duration = Duration::from_secs(5);

fn cfg() -> SimConfig {
    SimConfig {
        listen: "127.0.0.1:0".into(),
        heartbeat_timeout_ms: 60_000,
        ticker_interval_ms: 200,
        trades_per_s: 20.0,
        pump_chance_per_s: 0.0,
        first_pump_after_s: 0,
        seed: 11,
        symbols: 12,
    }
}

async fn start() -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    trademon_sim::start(&cfg(), listener).await.unwrap()
}

async fn connect(sim: &SimHandle) -> Ws {
    connect_async(sim.ws_url()).await.unwrap().0
}

async fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).await.unwrap();
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Next text frame whose `channel` is `channel`, skipping others.
async fn frame(ws: &mut Ws, channel: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v = json(&t);
                if v["channel"] == channel {
                    return v;
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("socket ended waiting for {channel}: {other:?}"),
            Err(_) => panic!("no {channel} within {WAIT:?}"),
        }
    }
}

/// The next reply (ack, error or pong), skipping pushes.
async fn reply(ws: &mut Ws) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if !t.contains("\"channel\":\"push.") => {
                return json(&t);
            }
            Ok(Some(Ok(_))) => {}
            Ok(other) => panic!("socket ended: {other:?}"),
            Err(_) => panic!("no reply within {WAIT:?}"),
        }
    }
}

async fn get(sim: &SimHandle, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("{}{path}", sim.rest_url()))
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, json(&text))
}

/// `data` of a successful MEXC answer.
async fn data(sim: &SimHandle, path: &str) -> Value {
    let (status, v) = get(sim, path).await;
    assert_eq!(status, 200, "{path}: {v}");
    assert_eq!(v["success"], true, "{path}: {v}");
    assert_eq!(v["code"], 0, "{path}: {v}");
    v["data"].clone()
}

fn assert_failure(v: &Value, code: i64, message: &str) {
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["message"], message, "{v}");
}

/// BTC_USDT prices have one decimal: the key a level is stored under.
fn ticks(price: &Value) -> i64 {
    (price.as_f64().unwrap() * 10.0).round() as i64
}

/// A client's book: price ticks -> (contracts, orders).
#[derive(Debug, Default, PartialEq)]
struct Book {
    bids: BTreeMap<i64, (u64, u64)>,
    asks: BTreeMap<i64, (u64, u64)>,
}

impl Book {
    fn apply(&mut self, data: &Value) {
        for (key, side) in [("bids", &mut self.bids), ("asks", &mut self.asks)] {
            for row in data[key].as_array().unwrap() {
                let row = row.as_array().unwrap();
                assert_eq!(row.len(), 3, "[price, contracts, orders]: {row:?}");
                let (p, v, n) = (
                    ticks(&row[0]),
                    row[1].as_u64().unwrap(),
                    row[2].as_u64().unwrap(),
                );
                if v == 0 {
                    side.remove(&p);
                } else {
                    side.insert(p, (v, n));
                }
            }
        }
    }

    fn from_snapshot(data: &Value) -> Book {
        let mut b = Book::default();
        b.apply(data);
        b
    }
}

fn assert_sorted_uncrossed(data: &Value) {
    let side = |k: &str| -> Vec<i64> {
        data[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| ticks(&r[0]))
            .collect()
    };
    let (bids, asks) = (side("bids"), side("asks"));
    assert!(!bids.is_empty() && !asks.is_empty(), "{data}");
    assert!(bids.windows(2).all(|w| w[0] > w[1]), "bids best first");
    assert!(asks.windows(2).all(|w| w[0] < w[1]), "asks best first");
    assert!(bids[0] < asks[0], "crossed: {} >= {}", bids[0], asks[0]);
}

#[tokio::test]
async fn rest_snapshot_then_merged_pushes_rebuild_the_book_without_a_gap() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    send(
        &mut ws,
        r#"{"method":"sub.depth","param":{"symbol":"BTC_USDT"}}"#,
    )
    .await;
    assert_eq!(reply(&mut ws).await["channel"], "rs.sub.depth");
    // The docs' recipe: subscribe, take the REST snapshot, then apply the pushes after it.
    let first = frame(&mut ws, "push.depth").await;
    let snap = data(&sim, "/api/v1/contract/depth/BTC_USDT").await;
    assert_sorted_uncrossed(&snap);
    assert!(snap["timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    let mut version = snap["version"].as_u64().unwrap();
    let mut book = Book::from_snapshot(&snap);
    let mut pending = vec![first];
    let mut applied = 0;
    let mut check: Option<Value> = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < deadline,
            "never reached the check snapshot"
        );
        let f = match pending.pop() {
            Some(f) => f,
            None => frame(&mut ws, "push.depth").await,
        };
        assert_eq!(f["symbol"], "BTC_USDT");
        let d = &f["data"];
        let (begin, end) = (d["begin"].as_u64().unwrap(), d["end"].as_u64().unwrap());
        assert_eq!(d["version"].as_u64(), Some(end), "{f}");
        assert!(begin <= end);
        if end <= version {
            continue;
        }
        assert!(
            begin <= version + 1 && version < end,
            "gap: book at {version}, frame {begin}..={end}"
        );
        if applied > 0 {
            assert_eq!(begin, version + 1, "frames follow each other");
        }
        book.apply(d);
        version = end;
        applied += 1;
        if applied == 10 {
            check = Some(data(&sim, "/api/v1/contract/depth/BTC_USDT").await);
        }
        if let Some(s) = &check {
            let want = s["version"].as_u64().unwrap();
            assert!(version <= want, "passed {want} without landing on it");
            if version == want {
                assert_eq!(book, Book::from_snapshot(s), "book at version {want}");
                break;
            }
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn unmerged_depth_frames_carry_one_version_each() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    send(
        &mut ws,
        r#"{"method":"sub.depth","param":{"symbol":"ETH_USDT","compress":false}}"#,
    )
    .await;
    assert_eq!(reply(&mut ws).await["channel"], "rs.sub.depth");
    let mut last: Option<u64> = None;
    for _ in 0..30 {
        let f = frame(&mut ws, "push.depth").await;
        let d = &f["data"];
        assert!(d.get("begin").is_none() && d.get("end").is_none(), "{f}");
        let v = d["version"].as_u64().unwrap();
        if let Some(prev) = last {
            assert_eq!(v, prev + 1, "one commit per frame");
        }
        last = Some(v);
    }
    // depth_commits lists the same commits, newest first.
    let commits = data(&sim, "/api/v1/contract/depth_commits/ETH_USDT/1000").await;
    let commits = commits.as_array().unwrap();
    assert!(commits.len() >= 30);
    let versions: Vec<u64> = commits
        .iter()
        .map(|c| c["version"].as_u64().unwrap())
        .collect();
    assert!(
        versions.windows(2).all(|w| w[0] == w[1] + 1),
        "{versions:?}"
    );
    assert!(versions.contains(&last.unwrap()));
    let few = data(&sim, "/api/v1/contract/depth_commits/ETH_USDT/3").await;
    assert_eq!(few.as_array().unwrap().len(), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn depth_full_pushes_the_top_levels_and_refuses_other_sizes() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    send(
        &mut ws,
        r#"{"method":"sub.depth.full","param":{"symbol":"BTC_USDT","limit":7}}"#,
    )
    .await;
    let e = reply(&mut ws).await;
    assert_eq!(
        (e["channel"].as_str(), e["data"].as_str()),
        (Some("rs.error"), Some("Not support limit"))
    );
    send(
        &mut ws,
        r#"{"method":"sub.depth.full","param":{"symbol":"BTC_USDT","limit":5}}"#,
    )
    .await;
    assert_eq!(reply(&mut ws).await["channel"], "rs.sub.depth.full");
    let mut versions = Vec::new();
    for _ in 0..3 {
        let f = frame(&mut ws, "push.depth.full").await;
        let d = &f["data"];
        assert_eq!(d["bids"].as_array().unwrap().len(), 5, "{f}");
        assert_eq!(d["asks"].as_array().unwrap().len(), 5, "{f}");
        assert_sorted_uncrossed(d);
        assert!(d["cts"].as_i64().unwrap() > 1_700_000_000_000);
        versions.push(d["version"].as_u64().unwrap());
    }
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "only on change: {versions:?}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn pushed_klines_agree_with_rest_klines() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    send(
        &mut ws,
        r#"{"method":"sub.kline","param":{"symbol":"BTC_USDT","interval":"Hour1"}}"#,
    )
    .await;
    let e = reply(&mut ws).await;
    assert_eq!(
        (e["channel"].as_str(), e["data"].as_str()),
        (Some("rs.error"), Some("Not support interval"))
    );
    send(
        &mut ws,
        r#"{"method":"sub.kline","param":{"symbol":"BTC_USDT","interval":"Min1"}}"#,
    )
    .await;
    assert_eq!(reply(&mut ws).await["channel"], "rs.sub.kline");
    let push = frame(&mut ws, "push.kline").await;
    assert_eq!(push["symbol"], "BTC_USDT");
    let k = &push["data"];
    for f in [
        "symbol", "interval", "t", "o", "c", "h", "l", "q", "a", "ro", "rc", "rh", "rl",
    ] {
        assert!(k.get(f).is_some(), "{f} in {k}");
    }
    assert_eq!(k["interval"], "Min1");
    let t = k["t"].as_i64().unwrap();
    assert_eq!(t % 60, 0);
    assert!(
        t > 1_700_000_000 && t < 10_000_000_000,
        "seconds, not ms: {t}"
    );

    let d = data(&sim, "/api/v1/contract/kline/BTC_USDT?interval=Min1").await;
    let col = |name: &str| d[name].as_array().unwrap().clone();
    let time = col("time");
    assert_eq!(time.len(), 2000);
    for name in [
        "open",
        "close",
        "high",
        "low",
        "vol",
        "amount",
        "realOpen",
        "realClose",
        "realHigh",
        "realLow",
    ] {
        assert_eq!(col(name).len(), time.len(), "{name}");
    }
    let times: Vec<i64> = time.iter().map(|x| x.as_i64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[1] - w[0] == 60),
        "ascending minutes, no hole"
    );
    let at = times
        .iter()
        .position(|x| *x == t)
        .expect("the pushed window is in REST");
    assert_eq!(col("open")[at], k["o"], "same open");
    assert!(
        col("vol")[at].as_u64() >= k["q"].as_u64(),
        "REST is the same candle or later"
    );
    assert!(col("high")[at].as_f64() >= k["h"].as_f64());
    assert!(col("low")[at].as_f64() <= k["l"].as_f64());
    // Windows before start are synthesized: more than an hour of them, ending where live starts.
    assert!(at >= 60, "an hour of history: {at}");
    assert_eq!(col("close")[at - 1], col("open")[at]);

    // start/end in seconds, both ends inclusive of their windows.
    let path = format!(
        "/api/v1/contract/kline/BTC_USDT?interval=Min5&start={}&end={}",
        t - 3600,
        t
    );
    let d = data(&sim, &path).await;
    let times: Vec<i64> = d["time"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect();
    assert_eq!(times.first(), Some(&((t - 3600) / 300 * 300)));
    assert!(times.len() == 13 || times.len() == 12, "{times:?}");
    for kind in ["index_price", "fair_price"] {
        let d = data(
            &sim,
            &format!("/api/v1/contract/kline/{kind}/BTC_USDT?interval=Min15"),
        )
        .await;
        let vol = d["vol"].as_array().unwrap();
        assert!(
            !vol.is_empty() && vol.iter().all(|v| v.as_u64() == Some(0)),
            "{kind}"
        );
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn rest_deals_match_the_pushed_ones() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    send(
        &mut ws,
        r#"{"method":"sub.deal","param":{"symbol":"SOL_USDT"}}"#,
    )
    .await;
    assert_eq!(reply(&mut ws).await["channel"], "rs.sub.deal");
    let mut pushed: HashMap<String, Value> = HashMap::new();
    while pushed.len() < 20 {
        let f = frame(&mut ws, "push.deal").await;
        for d in f["data"].as_array().unwrap() {
            pushed.insert(d["i"].as_str().unwrap().to_string(), d.clone());
        }
    }
    let rest = data(&sim, "/api/v1/contract/deals/SOL_USDT?limit=100").await;
    let rest = rest.as_array().unwrap();
    assert_eq!(rest.len(), 100);
    let ids: Vec<u64> = rest
        .iter()
        .map(|d| d["i"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1] + 1),
        "newest first, contiguous"
    );
    let mut matched = 0;
    for d in rest {
        if let Some(p) = pushed.get(d["i"].as_str().unwrap()) {
            for f in ["v", "T", "O", "M", "t"] {
                assert_eq!(d[f], p[f], "{f}: {d} vs {p}");
            }
            assert_eq!(d["p"].as_f64(), p["p"].as_f64());
            matched += 1;
        }
    }
    assert!(matched >= 20, "{matched}");
    assert_eq!(
        data(&sim, "/api/v1/contract/deals/SOL_USDT?limit=3")
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn funding_index_and_fair_price_stream_and_answer() {
    let sim = start().await;
    let mut ws = connect(&sim).await;
    for ch in ["funding.rate", "index.price", "fair.price"] {
        send(
            &mut ws,
            &format!(r#"{{"method":"sub.{ch}","param":{{"symbol":"BTC_USDT"}}}}"#),
        )
        .await;
        assert_eq!(reply(&mut ws).await["channel"], format!("rs.sub.{ch}"));
    }
    let f = frame(&mut ws, "push.funding.rate").await;
    let d = &f["data"];
    assert_eq!(d["symbol"], "BTC_USDT");
    assert!(d["rate"].as_f64().unwrap().abs() < 0.01);
    let next = d["nextSettleTime"].as_i64().unwrap();
    assert_eq!(next % (8 * 3_600_000), 0);
    for ch in ["push.index.price", "push.fair.price"] {
        let f = frame(&mut ws, ch).await;
        assert_eq!(f["data"]["symbol"], "BTC_USDT");
        assert!(f["data"]["price"].as_f64().unwrap() > 1000.0, "{f}");
    }
    let fr = data(&sim, "/api/v1/contract/funding_rate/BTC_USDT").await;
    for k in [
        "symbol",
        "fundingRate",
        "maxFundingRate",
        "minFundingRate",
        "collectCycle",
        "nextSettleTime",
        "timestamp",
    ] {
        assert!(fr.get(k).is_some(), "{k} in {fr}");
    }
    assert_eq!(fr["collectCycle"], 8);
    let ip = data(&sim, "/api/v1/contract/index_price/BTC_USDT").await;
    assert!(ip["indexPrice"].as_f64().unwrap() > 1000.0 && ip["timestamp"].as_i64().is_some());
    let fp = data(&sim, "/api/v1/contract/fair_price/BTC_USDT").await;
    assert!(fp["fairPrice"].as_f64().unwrap() > 1000.0);
    sim.shutdown().await;
}

#[tokio::test]
async fn errors_have_mexc_shapes() {
    let sim = start().await;
    for path in [
        "/api/v1/contract/depth/NOPE_USDT",
        "/api/v1/contract/deals/NOPE_USDT",
        "/api/v1/contract/kline/NOPE_USDT",
        "/api/v1/contract/depth_commits/NOPE_USDT/5",
        "/api/v1/contract/funding_rate/NOPE_USDT",
        "/api/v1/contract/index_price/NOPE_USDT",
        "/api/v1/contract/fair_price/NOPE_USDT",
    ] {
        let (status, v) = get(&sim, path).await;
        assert_eq!(status, 200, "{path}");
        assert_failure(&v, 1001, "contract does not exist");
    }
    for path in [
        "/api/v1/contract/kline/BTC_USDT?interval=Hour1",
        "/api/v1/contract/kline/BTC_USDT?start=yesterday",
        "/api/v1/contract/depth/BTC_USDT?limit=0",
        "/api/v1/contract/deals/BTC_USDT?limit=x",
        "/api/v1/contract/depth_commits/BTC_USDT/-1",
    ] {
        let (status, v) = get(&sim, path).await;
        assert_eq!(status, 200, "{path}");
        assert_failure(&v, 600, "Parameter error");
    }
    for path in [
        "/api/v1/contract/risk_reverse",
        "/api/v1/private/account/assets",
        "/api/v3/exchangeInfo",
    ] {
        let (status, v) = get(&sim, path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(v["success"], false);
        assert_eq!(v["code"], 404);
        assert!(
            v["message"].as_str().unwrap().contains("not simulated"),
            "{v}"
        );
    }
    // Limits are caps, not errors; unknown parameters are ignored.
    let d = data(&sim, "/api/v1/contract/depth/BTC_USDT?limit=5&foo=1").await;
    assert_eq!(d["bids"].as_array().unwrap().len(), 5);
    assert_eq!(d["asks"].as_array().unwrap().len(), 5);

    // WebSocket: methods MEXC has but the simulator does not serve get rs.error; a method MEXC
    // does not know gets nothing, as on MEXC (the pong is the next reply).
    let mut ws = connect(&sim).await;
    send(&mut ws, r#"{"method":"sub.contract","param":{}}"#).await;
    let e = reply(&mut ws).await;
    assert_eq!(e["channel"], "rs.error");
    assert_eq!(e["data"], "sub.contract is not simulated");
    send(
        &mut ws,
        r#"{"method":"sub.liquidation","param":{"symbol":"BTC_USDT"}}"#,
    )
    .await;
    send(
        &mut ws,
        r#"{"method":"sub.kline","param":{"symbol":"NOPE_USDT","interval":"Min1"}}"#,
    )
    .await;
    let e = reply(&mut ws).await;
    assert_eq!(e["data"], "Contract [NOPE_USDT] not exists");
    send(&mut ws, r#"{"method":"ping"}"#).await;
    assert_eq!(reply(&mut ws).await["channel"], "pong");
    sim.shutdown().await;
}
