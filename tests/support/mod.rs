//! Helpers shared by the integration test binaries (`it`, `e2e`); no tests of their own. Each
//! binary uses a part of them.
#![allow(dead_code)]

pub mod chaos_proxy;
pub mod tmux;
pub mod trade_ids;

use futures_util::{SinkExt, StreamExt};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trademon::backend::{self, BackendHandle, BackendInputs};
use trademon::config::{Config, SessionConfig};
use trademon::exchange::{MarketEvent, TickerUpdate};
use trademon::protocol::{
    ClientMsg, DataSource, LogEvent, ServerMsg, SubscriptionCounts, UpstreamHealth, UpstreamState,
};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const WAIT: Duration = Duration::from_secs(5);

pub struct TestBackend {
    pub handle: BackendHandle,
    pub market: mpsc::Sender<MarketEvent>,
    pub upstream: watch::Sender<UpstreamHealth>,
    pub symbols: watch::Receiver<BTreeSet<String>>,
    /// The per-symbol feeds the backend wants open (what the adapter would get).
    pub feeds: watch::Receiver<BTreeSet<trademon_core::market::FeedWant>>,
    pub logs: mpsc::Sender<LogEvent>,
}

impl TestBackend {
    pub fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.handle.addr, path)
    }
}

pub fn test_config() -> Config {
    let mut cfg = Config::defaults();
    // Test clients often stop reading before shutdown; don't wait out the full close grace.
    cfg.server.close_grace_ms = 200;
    cfg
}

pub fn sessions() -> Vec<SessionConfig> {
    let s = |id: &str, syms: &[&str]| SessionConfig {
        id: id.into(),
        name: id.to_uppercase(),
        strategy: "default".into(),
        symbols: syms.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        s("majors", &["BTC_USDT", "ETH_USDT", "SOL_USDT"]),
        s("alts", &["DOGE_USDT", "ETH_USDT"]),
    ]
}

pub fn upstream(state: UpstreamState) -> UpstreamHealth {
    UpstreamHealth {
        state,
        url: "ws://sim".into(),
        pong_age_ms: None,
        last_data_age_ms: None,
        reconnects: 0,
        last_close: None,
        subscriptions: SubscriptionCounts::default(),
        source: DataSource::Ws,
        ..Default::default()
    }
}

pub async fn start_with(cfg: Config, sessions: Vec<SessionConfig>) -> TestBackend {
    start_persisted(cfg, sessions, None).await
}

/// Like `start_with`, persisting sessions in `sessions_file`.
pub async fn start_persisted(
    cfg: Config,
    sessions: Vec<SessionConfig>,
    sessions_file: Option<std::path::PathBuf>,
) -> TestBackend {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (market, market_rx) = mpsc::channel(65_536);
    let (upstream_tx, upstream_rx) = watch::channel(upstream(UpstreamState::Live));
    let (symbols_tx, symbols) = watch::channel(BTreeSet::new());
    let (feeds_tx, feeds) = watch::channel(BTreeSet::new());
    let (logs, logs_rx) = mpsc::channel(65_536);
    let handle = backend::start(
        cfg.backend_settings(),
        cfg.build_engine().unwrap(),
        sessions,
        listener,
        BackendInputs {
            market: market_rx,
            upstream: upstream_rx,
            symbols: symbols_tx,
            feeds: feeds_tx,
            log_events: logs_rx,
            sessions_file,
            paper_journal: None,
            store: None,
            store_health: None,
            market_source: Default::default(),
        },
    )
    .await
    .unwrap();
    TestBackend {
        handle,
        market,
        upstream: upstream_tx,
        symbols,
        feeds,
        logs,
    }
}

pub async fn start(cfg: Config) -> TestBackend {
    start_with(cfg, sessions()).await
}

pub async fn connect_url(url: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .unwrap();
    ws
}

/// Connects and checks that `hello` is the first frame.
pub async fn connect(b: &TestBackend) -> Ws {
    let mut ws = connect_url(&b.handle.ws_url()).await;
    match recv(&mut ws).await {
        ServerMsg::Hello(h) => assert!(h.connection_id.starts_with("c-"), "{h:?}"),
        other => panic!("first frame must be hello, got {other:?}"),
    }
    ws
}

pub async fn send(ws: &mut Ws, msg: &ClientMsg) {
    ws.send(Message::text(serde_json::to_string(msg).unwrap()))
        .await
        .unwrap();
}

pub async fn subscribe(ws: &mut Ws, id: u64, stream: &str, session: Option<&str>) {
    send(
        ws,
        &ClientMsg::Subscribe {
            interval: None,
            symbol: None,
            id,
            stream: stream.into(),
            session_id: session.map(str::to_string),
        },
    )
    .await;
}

/// Next protocol message (WebSocket Ping/Pong frames skipped). Panics on close or timeout.
pub async fn recv(ws: &mut Ws) -> ServerMsg {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for a message")
            .expect("stream ended")
            .expect("read error");
        match frame {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// Skips messages until `f` returns `Some`.
pub async fn recv_until<T>(ws: &mut Ws, mut f: impl FnMut(ServerMsg) -> Option<T>) -> T {
    loop {
        if let Some(t) = f(recv(ws).await) {
            return t;
        }
    }
}

/// Reads (discarding data) until the close frame; returns its code and reason.
pub async fn expect_close(ws: &mut Ws, within: Duration) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("timed out waiting for close");
        match frame {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("read error before close frame: {e}"),
            None => panic!("stream ended without close frame"),
        }
    }
}

pub fn ticker(symbol: &str, last: f64, bid: Option<f64>) -> MarketEvent {
    MarketEvent::Ticker {
        update: TickerUpdate {
            symbol: symbol.into(),
            last,
            bid,
            ..Default::default()
        },
        source: DataSource::Ws,
    }
}
