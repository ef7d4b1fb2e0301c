//! A fault-injecting fake MEXC futures endpoint (WebSocket + REST ticker) for the adapter's
//! fault tests. A feed ticks every `FEED_MS`; on each tick every connection pushes a ticker
//! and one trade (id = tick number, the same on every connection, as the exchange would)
//! for each stream it is subscribed to. Faults are flags the test flips at any time.
//!
//! The symbol view's feeds come from a [`Market`] the test drives (candles, an order book
//! with versions, the funding rate): on each tick a connection pushes what changed since its
//! last push — the open candle, one merged depth frame covering every version since, the
//! funding rate — and the REST kline, depth and funding endpoints answer from the same
//! market, so a REST snapshot and the pushes agree on versions.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

pub const FEED_MS: u64 = 20;
/// Trades replayed to a fresh deal subscription (MEXC may replay a recent tail).
const REPLAY: usize = 100;

#[derive(Debug, Clone, Default)]
pub struct Faults {
    pub no_pong: bool,
    pub pong_delay_ms: u64,
    pub no_ack: bool,
    pub ack_twice: bool,
    /// `rs.error Contract [X] not exists`.
    pub unknown: BTreeSet<String>,
    /// `rs.error "Contract doesn't exist!"` (no symbol) instead of an ack; never pushed.
    pub refused_without_symbol: BTreeSet<String>,
    /// Acked, never pushed.
    pub silent_ticker: BTreeSet<String>,
    /// No trades at all (tickers still flow).
    pub quiet_deals: bool,
    /// Stop reading and writing, keep the TCP connection open.
    pub half_open: bool,
    pub gzip: bool,
    pub deal_as_object: bool,
    /// Drop TCP connections before the upgrade.
    pub refuse: bool,
    /// Depth frames still to be lost (each one a version gap for the client).
    pub drop_depth_frames: u32,
}

/// One Min1 candle of the fake market: open, high, low, close, volume, amount.
pub type Ohlc = [f64; 6];

/// One side of a book: (price, contracts), best first.
pub type Levels = Vec<(f64, f64)>;

/// The market behind the symbol view's feeds (one book and one chart, whatever the symbol).
#[derive(Debug, Default)]
pub struct Market {
    /// Min1 candles by open time in seconds: the truth.
    pub candles: BTreeMap<i64, Ohlc>,
    /// Open time of the current candle.
    pub minute: i64,
    /// Bumped on every candle change, so connections push it once.
    pub kline_seq: u64,
    /// Book levels: (is bid, price) -> contracts.
    pub book: BTreeMap<(bool, u64), f64>,
    pub version: u64,
    /// The levels each version changed.
    pub changes: BTreeMap<u64, Vec<(bool, u64)>>,
    pub funding: (f64, i64),
    pub funding_seq: u64,
    /// (start, end) of every REST kline request.
    pub kline_requests: Vec<(i64, i64)>,
    pub depth_requests: usize,
    pub funding_requests: usize,
}

impl Market {
    /// `history` flat candles before the current one, which opens at `minute`.
    pub fn new(minute: i64, history: i64) -> Market {
        let mut m = Market {
            minute,
            version: 1000,
            funding: (0.0001, 1_790_000_000_000),
            ..Market::default()
        };
        for k in (1..=history).rev() {
            m.candles
                .insert(minute - 60 * k, [100.0, 100.0, 100.0, 100.0, 0.0, 0.0]);
        }
        m.candles
            .insert(minute, [100.0, 100.0, 100.0, 100.0, 0.0, 0.0]);
        for p in 1..=5u64 {
            m.book.insert((true, 100 - p), 10.0);
            m.book.insert((false, 100 + p), 10.0);
        }
        m
    }

    pub fn trade(&mut self, price: f64, size: f64) {
        let c = self
            .candles
            .entry(self.minute)
            .or_insert([price, price, price, price, 0.0, 0.0]);
        c[1] = c[1].max(price);
        c[2] = c[2].min(price);
        c[3] = price;
        c[4] += size;
        c[5] += size * price;
        self.kline_seq += 1;
    }

    /// The next minute opens, flat at the last close.
    pub fn next_minute(&mut self) {
        let close = self.candles.get(&self.minute).map_or(100.0, |c| c[3]);
        self.minute += 60;
        self.candles
            .insert(self.minute, [close, close, close, close, 0.0, 0.0]);
        self.kline_seq += 1;
    }

    /// One version: set each (is bid, price, contracts); 0 removes.
    pub fn depth(&mut self, levels: &[(bool, u64, f64)]) {
        self.version += 1;
        for &(bid, price, size) in levels {
            if size > 0.0 {
                self.book.insert((bid, price), size);
            } else {
                self.book.remove(&(bid, price));
            }
        }
        self.changes.insert(
            self.version,
            levels.iter().map(|&(b, p, _)| (b, p)).collect(),
        );
    }

    fn level(&self, bid: bool, price: u64) -> Value {
        let size = self.book.get(&(bid, price)).copied().unwrap_or(0.0);
        json!([price, size, if size > 0.0 { 1 } else { 0 }])
    }

    /// The merged frame for versions `begin..=version`, sizes as of now.
    fn depth_frame(&self, symbol: &str, begin: u64) -> Value {
        let touched: BTreeSet<(bool, u64)> = self
            .changes
            .range(begin..=self.version)
            .flat_map(|(_, v)| v.iter().copied())
            .collect();
        let side = |bid: bool| -> Vec<Value> {
            touched
                .iter()
                .filter(|(b, _)| *b == bid)
                .map(|&(b, p)| self.level(b, p))
                .collect()
        };
        json!({"symbol":symbol,"data":{"asks":side(false),"bids":side(true),"begin":begin,"end":self.version,"version":self.version},"channel":"push.depth","ts":1789897547215u64})
    }

    /// The top `n` levels of each side, best first: (bids, asks) of (price, contracts).
    pub fn top(&self, n: usize) -> (Levels, Levels) {
        let bids = self.book.iter().rev().filter(|((b, _), _)| *b).take(n);
        let asks = self.book.iter().filter(|((b, _), _)| !*b).take(n);
        (
            bids.map(|((_, p), s)| (*p as f64, *s)).collect(),
            asks.map(|((_, p), s)| (*p as f64, *s)).collect(),
        )
    }
}

/// What one connection last pushed of the market.
#[derive(Default)]
struct Pushed {
    kline: BTreeMap<String, u64>,
    depth: BTreeMap<String, u64>,
    funding: BTreeMap<String, u64>,
}

pub enum Cmd {
    Text(String),
    Binary(Vec<u8>),
    Drop,
    Close(u16, &'static str),
}

#[derive(Debug, Clone)]
pub struct Accepted {
    pub at: Instant,
    pub closed: Option<(Instant, Option<(u16, String)>)>,
}

#[derive(Default)]
pub struct Log {
    /// Per connection index: (method, symbol) of every command received.
    pub commands: BTreeMap<usize, Vec<(String, String)>>,
    /// Every command as sent (pings aside), in order.
    pub raw: Vec<Value>,
    pub conns: Vec<Accepted>,
}

pub struct Fake {
    pub url: String,
    pub faults: Arc<Mutex<Faults>>,
    pub log: Arc<Mutex<Log>>,
    pub cmds: Arc<Mutex<Vec<mpsc::UnboundedSender<Cmd>>>>,
    pub market: Arc<Mutex<Market>>,
}

impl Fake {
    pub async fn start() -> Fake {
        Fake::with_market(Arc::new(Mutex::new(Market::default()))).await
    }

    pub async fn with_market(market: Arc<Mutex<Market>>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/edge", listener.local_addr().unwrap());
        let faults = Arc::new(Mutex::new(Faults::default()));
        let log = Arc::new(Mutex::new(Log::default()));
        let cmds = Arc::new(Mutex::new(Vec::new()));
        let tick = Arc::new(AtomicU64::new(0));
        let (feed_tx, _) = broadcast::channel::<u64>(256);
        {
            let feed_tx = feed_tx.clone();
            let tick = tick.clone();
            tokio::spawn(async move {
                let mut iv = tokio::time::interval(Duration::from_millis(FEED_MS));
                loop {
                    iv.tick().await;
                    let n = tick.fetch_add(1, Ordering::SeqCst) + 1;
                    let _ = feed_tx.send(n);
                }
            });
        }
        let (f, l, c, t) = (faults.clone(), log.clone(), cmds.clone(), tick.clone());
        let mk = market.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                if f.lock().unwrap().refuse {
                    drop(tcp);
                    continue;
                }
                let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                    continue;
                };
                let idx = {
                    let mut log = l.lock().unwrap();
                    log.conns.push(Accepted {
                        at: Instant::now(),
                        closed: None,
                    });
                    log.conns.len() - 1
                };
                let (tx, rx) = mpsc::unbounded_channel();
                c.lock().unwrap().push(tx.clone());
                let conn = Conn {
                    idx,
                    faults: f.clone(),
                    log: l.clone(),
                    tick: t.clone(),
                    me: tx,
                    market: mk.clone(),
                };
                tokio::spawn(conn.serve(ws, rx, feed_tx.subscribe()));
            }
        });
        Fake {
            url,
            faults,
            log,
            cmds,
            market,
        }
    }

    pub fn market<R>(&self, f: impl FnOnce(&mut Market) -> R) -> R {
        f(&mut self.market.lock().unwrap())
    }

    pub fn set(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.faults.lock().unwrap());
    }

    pub fn accepts(&self) -> usize {
        self.log.lock().unwrap().conns.len()
    }

    pub fn conn(&self, i: usize) -> Option<Accepted> {
        self.log.lock().unwrap().conns.get(i).cloned()
    }

    /// How connection `i` was closed, once its task has seen the close: the adapter may
    /// already be on its next connection by then (a few polls of the fake's own clock).
    pub async fn closed(&self, i: usize) -> (Instant, Option<(u16, String)>) {
        for _ in 0..500 {
            if let Some(c) = self.conn(i).and_then(|c| c.closed) {
                return c;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("connection {i} was never seen closed");
    }

    /// Commands `method` for `symbol` received on connection `i` (all connections: None).
    pub fn count(&self, conn: Option<usize>, method: &str, symbol: &str) -> usize {
        let log = self.log.lock().unwrap();
        log.commands
            .iter()
            .filter(|(i, _)| conn.is_none_or(|c| c == **i))
            .flat_map(|(_, v)| v)
            .filter(|(m, s)| m == method && s == symbol)
            .count()
    }

    pub fn send(&self, conn: usize, cmd: Cmd) {
        if let Some(tx) = self.cmds.lock().unwrap().get(conn) {
            let _ = tx.send(cmd);
        }
    }
}

struct Conn {
    idx: usize,
    faults: Arc<Mutex<Faults>>,
    log: Arc<Mutex<Log>>,
    tick: Arc<AtomicU64>,
    me: mpsc::UnboundedSender<Cmd>,
    market: Arc<Mutex<Market>>,
}

pub fn ticker(symbol: &str, n: u64) -> Value {
    let last = 80000.0 + n as f64;
    json!({"symbol":symbol,"data":{"symbol":symbol,"lastPrice":last,"bid1":last - 0.5,"ask1":last + 0.5,"riseFallRate":0.0123,"amount24":1.5E9,"timestamp":1789897547210u64},"channel":"push.ticker","ts":1789897547215u64})
}

fn trade_row(n: u64) -> Value {
    json!({"p":9.75E+4,"v":1.066397E3,"T":1 + (n % 2),"O":1,"M":2,"t":1789897547210u64 + n,"i":n.to_string(),"cts":"1789897547210"})
}

impl Conn {
    fn gz(text: &str) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = e.write_all(text.as_bytes());
        e.finish().unwrap_or_default()
    }

    fn frame(&self, v: &Value) -> Message {
        if self.faults.lock().unwrap().gzip {
            Message::binary(Self::gz(&v.to_string()))
        } else {
            Message::text(v.to_string())
        }
    }

    async fn serve(
        self,
        ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
        mut cmds: mpsc::UnboundedReceiver<Cmd>,
        mut feed: broadcast::Receiver<u64>,
    ) {
        let (mut sink, mut stream) = ws.split();
        let mut subs: BTreeSet<(String, String)> = BTreeSet::new();
        let mut out: VecDeque<Message> = VecDeque::new();
        let mut pushed = Pushed::default();
        let close = loop {
            while let Some(m) = out.pop_front() {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
            if self.faults.lock().unwrap().half_open {
                // Neither read nor write, keep the socket: the client must notice silence.
                let _keep = (sink, stream);
                loop {
                    match cmds.recv().await {
                        Some(Cmd::Drop) | None => break,
                        Some(_) => {}
                    }
                }
                break None;
            }
            tokio::select! {
                msg = stream.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                        self.on_command(&v, &mut subs, &mut out, &mut pushed);
                    }
                    Some(Ok(Message::Close(f))) => break f.map(|f| (u16::from(f.code), f.reason.to_string())),
                    Some(Ok(_)) => {}
                    None | Some(Err(_)) => break None,
                },
                n = feed.recv() => {
                    let Ok(n) = n else { continue };
                    let f = self.faults.lock().unwrap().clone();
                    for (ch, sym) in &subs {
                        if ch == "ticker" && !f.silent_ticker.contains(sym) {
                            out.push_back(self.frame(&ticker(sym, n)));
                        }
                        if ch == "deal" && !f.quiet_deals {
                            let data = if f.deal_as_object { trade_row(n) } else { json!([trade_row(n)]) };
                            out.push_back(self.frame(&json!({"symbol":sym,"data":data,"channel":"push.deal","ts":"1789897547215"})));
                        }
                    }
                    self.push_market(&subs, &mut pushed, &mut out);
                }
                cmd = cmds.recv() => match cmd {
                    Some(Cmd::Text(s)) => out.push_back(Message::text(s)),
                    Some(Cmd::Binary(b)) => out.push_back(Message::binary(b)),
                    Some(Cmd::Close(code, reason)) => {
                        let f = CloseFrame { code: code.into(), reason: reason.into() };
                        let _ = sink.send(Message::Close(Some(f))).await;
                    }
                    Some(Cmd::Drop) | None => break None,
                },
            }
        };
        let mut log = self.log.lock().unwrap();
        if let Some(c) = log.conns.get_mut(self.idx) {
            c.closed = Some((Instant::now(), close));
        }
    }

    /// The market's changes since this connection's last push, for its feed subscriptions.
    fn push_market(
        &self,
        subs: &BTreeSet<(String, String)>,
        pushed: &mut Pushed,
        out: &mut VecDeque<Message>,
    ) {
        let m = self.market.lock().unwrap();
        for (ch, sym) in subs {
            if let Some(interval) = ch.strip_prefix("kline.") {
                let last = pushed.kline.entry(sym.clone()).or_insert(0);
                if m.kline_seq > *last
                    && let Some(c) = m.candles.get(&m.minute)
                {
                    *last = m.kline_seq;
                    out.push_back(self.frame(&json!({"symbol":sym,"data":{"symbol":sym,"interval":interval,"t":m.minute,"o":c[0],"h":c[1],"l":c[2],"c":c[3],"q":c[4],"a":c[5],"ro":c[0],"rc":c[3],"rh":c[1],"rl":c[2]},"channel":"push.kline","ts":1789897547215u64})));
                }
            }
            if ch == "depth" {
                let last = pushed.depth.entry(sym.clone()).or_insert(m.version);
                if m.version > *last {
                    let begin = *last + 1;
                    *last = m.version;
                    let lost = {
                        let mut f = self.faults.lock().unwrap();
                        let lost = f.drop_depth_frames > 0;
                        f.drop_depth_frames = f.drop_depth_frames.saturating_sub(1);
                        lost
                    };
                    if !lost {
                        out.push_back(self.frame(&m.depth_frame(sym, begin)));
                    }
                }
            }
            if ch == "funding.rate" {
                let last = pushed.funding.entry(sym.clone()).or_insert(0);
                if m.funding_seq > *last {
                    *last = m.funding_seq;
                    out.push_back(self.frame(&json!({"symbol":sym,"data":{"symbol":sym,"rate":m.funding.0,"nextSettleTime":m.funding.1},"channel":"push.funding.rate","ts":1789897547215u64})));
                }
            }
        }
    }

    fn on_command(
        &self,
        v: &Value,
        subs: &mut BTreeSet<(String, String)>,
        out: &mut VecDeque<Message>,
        pushed: &mut Pushed,
    ) {
        let method = v["method"].as_str().unwrap_or_default().to_string();
        let sym = v["param"]["symbol"].as_str().unwrap_or("null").to_string();
        // One kline stream per interval, as MEXC keys them.
        let stream = |ch: &str| match v["param"]["interval"].as_str() {
            Some(i) if ch == "kline" => format!("kline.{i}"),
            _ => ch.to_string(),
        };
        let f = self.faults.lock().unwrap().clone();
        if method == "ping" {
            let pong = json!({"channel":"pong","data":1790133892943u64,"ts":1790133892943u64});
            if f.no_pong {
            } else if f.pong_delay_ms > 0 {
                let me = self.me.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(f.pong_delay_ms)).await;
                    let _ = me.send(Cmd::Text(pong.to_string()));
                });
            } else {
                out.push_back(self.frame(&pong));
            }
            return;
        }
        {
            let mut log = self.log.lock().unwrap();
            log.raw.push(v.clone());
            log.commands
                .entry(self.idx)
                .or_default()
                .push((method.clone(), sym.clone()));
        }
        if let Some(ch) = method.strip_prefix("unsub.") {
            subs.remove(&(stream(ch), sym));
            return;
        }
        let Some(ch) = method.strip_prefix("sub.") else {
            return;
        };
        if f.unknown.contains(&sym) {
            out.push_back(Message::text(
                json!({"channel":"rs.error","data":format!("Contract [{sym}] not exists"),"ts":1})
                    .to_string(),
            ));
            return;
        }
        if f.refused_without_symbol.contains(&sym) {
            out.push_back(Message::text(
                json!({"channel":"rs.error","data":"Contract doesn't exist!","ts":1}).to_string(),
            ));
            return;
        }
        if !f.no_ack {
            let ack = json!({"channel":format!("rs.sub.{ch}"),"data":"success","ts":1});
            out.push_back(self.frame(&ack));
            if f.ack_twice {
                out.push_back(self.frame(&ack));
            }
        }
        subs.insert((stream(ch), sym.clone()));
        if ch == "depth" {
            // Frames from the version at subscription on.
            let v = self.market.lock().unwrap().version;
            pushed.depth.insert(sym.clone(), v);
        }
        if ch == "deal" && !f.quiet_deals {
            // Replay the recent tail, as a fresh subscription may.
            let n = self.tick.load(Ordering::SeqCst);
            let rows: Vec<Value> = (n.saturating_sub(REPLAY as u64) + 1..=n)
                .map(trade_row)
                .collect();
            if !rows.is_empty() {
                out.push_back(self.frame(
                    &json!({"symbol":sym,"data":rows,"channel":"push.deal","ts":1789897547215u64}),
                ));
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// REST
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestMode {
    Ok,
    Throttle,
    Waf,
}

#[derive(Clone)]
pub struct Rest {
    pub url: String,
    pub mode: Arc<Mutex<RestMode>>,
    pub hits: Arc<Mutex<Vec<(Instant, RestMode)>>>,
    pub symbols: Arc<Vec<String>>,
    calls: Arc<AtomicUsize>,
    pub market: Arc<Mutex<Market>>,
}

impl Rest {
    pub async fn start(symbols: &[&str]) -> Rest {
        Rest::with_market(symbols, Arc::new(Mutex::new(Market::default()))).await
    }

    /// The kline, depth and funding rate endpoints answer from `market` (the `Fake`'s).
    pub async fn with_market(symbols: &[&str], market: Arc<Mutex<Market>>) -> Rest {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let rest = Rest {
            url,
            mode: Arc::new(Mutex::new(RestMode::Ok)),
            hits: Arc::new(Mutex::new(Vec::new())),
            symbols: Arc::new(symbols.iter().map(|s| s.to_string()).collect()),
            calls: Arc::new(AtomicUsize::new(0)),
            market,
        };
        let app = axum::Router::new()
            .route("/api/v1/contract/ticker", axum::routing::get(ticker_route))
            .route(
                "/api/v1/contract/kline/{symbol}",
                axum::routing::get(kline_route),
            )
            .route(
                "/api/v1/contract/depth/{symbol}",
                axum::routing::get(depth_route),
            )
            .route(
                "/api/v1/contract/funding_rate/{symbol}",
                axum::routing::get(funding_route),
            )
            .with_state(rest.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        rest
    }

    pub fn set(&self, m: RestMode) {
        *self.mode.lock().unwrap() = m;
    }

    pub fn hits(&self) -> Vec<(Instant, RestMode)> {
        self.hits.lock().unwrap().clone()
    }
}

async fn ticker_route(State(r): State<Rest>) -> Response {
    let mode = *r.mode.lock().unwrap();
    r.hits.lock().unwrap().push((Instant::now(), mode));
    let n = r.calls.fetch_add(1, Ordering::SeqCst) as u64;
    match mode {
        RestMode::Ok => {
            let data: Vec<Value> = r
                .symbols
                .iter()
                .map(|s| ticker(s, n)["data"].clone())
                .chain([json!({"symbol":"OTHER_USDT","lastPrice":1})])
                .collect();
            axum::Json(json!({"success":true,"code":0,"data":data})).into_response()
        }
        RestMode::Throttle => axum::Json(
            json!({"success":false,"code":510,"message":"Requests are too frequent, please try again later"}),
        )
        .into_response(),
        RestMode::Waf => (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/html")],
            "<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY>Reference #18</BODY></HTML>",
        )
            .into_response(),
    }
}

/// Columnar, `start`/`end` in seconds, both inclusive, as MEXC answers.
async fn kline_route(
    State(r): State<Rest>,
    Path(_symbol): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let (Some(start), Some(end)) = (num("start"), num("end")) else {
        return axum::Json(json!({"success":false,"code":600,"message":"param error"}))
            .into_response();
    };
    let mut m = r.market.lock().unwrap();
    m.kline_requests.push((start, end));
    let rows: Vec<(&i64, &Ohlc)> = m.candles.range(start..=end).collect();
    let col = |i: usize| -> Vec<f64> { rows.iter().map(|(_, c)| c[i]).collect() };
    let data = json!({
        "time": rows.iter().map(|(t, _)| **t).collect::<Vec<i64>>(),
        "open": col(0), "high": col(1), "low": col(2), "close": col(3), "vol": col(4), "amount": col(5),
    });
    axum::Json(json!({"success":true,"code":0,"data":data})).into_response()
}

async fn depth_route(State(r): State<Rest>, Path(_symbol): Path<String>) -> Response {
    let mut m = r.market.lock().unwrap();
    m.depth_requests += 1;
    let side = |bid: bool| -> Vec<Value> {
        let levels = m.book.iter().filter(|((b, _), _)| *b == bid);
        let rows: Vec<Value> = levels.map(|((_, p), s)| json!([p, s, 1])).collect();
        if bid {
            rows.into_iter().rev().collect()
        } else {
            rows
        }
    };
    let data = json!({"asks":side(false),"bids":side(true),"version":m.version,"timestamp":1789897547000u64});
    axum::Json(json!({"success":true,"code":0,"data":data})).into_response()
}

async fn funding_route(State(r): State<Rest>, Path(symbol): Path<String>) -> Response {
    let mut m = r.market.lock().unwrap();
    m.funding_requests += 1;
    let data = json!({"symbol":symbol,"fundingRate":m.funding.0,"maxFundingRate":0.003,"minFundingRate":-0.003,"collectCycle":8,"nextSettleTime":m.funding.1,"timestamp":1789897547000u64});
    axum::Json(json!({"success":true,"code":0,"data":data})).into_response()
}
