//! The symbol view's subscriptions on the one WebSocket, against a scripted server: open,
//! interval change, resync, replay after a reconnect, close.

use super::{ConnectOptions, spawn};
use crate::{ClientCommand, ClientConfig, Subscription, SymbolView};
use futures_util::StreamExt;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use trademon_protocol::{ClientMsg, Interval, StreamName};

/// Bounds a wait on the local socket; the test never sleeps for a result.
const WAIT: Duration = Duration::from_secs(10);

fn config() -> ClientConfig {
    ClientConfig {
        ping_interval_ms: 60_000,
        pong_timeout_ms: 60_000,
        slow_after_missed: 2,
        reconnect_after_missed: 3,
        backoff_base_ms: 1,
        backoff_cap_ms: 5,
        stable_after_ms: 60_000,
        restart_retry_max_ms: 5,
        restart_window_ms: 0,
        connect_timeout_ms: 5_000,
        poll_after_failures: 100,
        poll_interval_ms: 60_000,
        disconnected_after_poll_failures: 100,
        max_message_bytes: 1 << 20,
    }
}

/// A (un)subscribe op as (subscribe?, stream, symbol, interval).
type Op = (bool, String, Option<String>, Option<String>);

async fn next_op(ws: &mut WebSocketStream<tokio::net::TcpStream>) -> Op {
    loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("socket open")
            .expect("frame ok");
        let Message::Text(text) = frame else { continue };
        match serde_json::from_str::<ClientMsg>(text.as_str()).expect("a client frame") {
            ClientMsg::Subscribe {
                stream,
                symbol,
                interval,
                ..
            } => return (true, stream, symbol, interval),
            ClientMsg::Unsubscribe {
                stream,
                symbol,
                interval,
                ..
            } => return (false, stream, symbol, interval),
            _ => continue,
        }
    }
}

async fn ops(ws: &mut WebSocketStream<tokio::net::TcpStream>, n: usize) -> BTreeSet<Op> {
    let mut out = BTreeSet::new();
    for _ in 0..n {
        out.insert(next_op(ws).await);
    }
    out
}

fn op(sub: bool, stream: &str, symbol: Option<&str>, interval: Option<&str>) -> Op {
    (
        sub,
        stream.to_string(),
        symbol.map(str::to_string),
        interval.map(str::to_string),
    )
}

fn view_ops(sub: bool, symbol: &str, interval: &str) -> BTreeSet<Op> {
    [
        op(sub, "candles", Some(symbol), Some(interval)),
        op(sub, "book", Some(symbol), None),
        op(sub, "tape", Some(symbol), None),
    ]
    .into_iter()
    .collect()
}

async fn accept(listener: &TcpListener) -> WebSocketStream<tokio::net::TcpStream> {
    let (tcp, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("a connection in time")
        .expect("accept");
    tokio_tungstenite::accept_async(tcp)
        .await
        .expect("handshake")
}

#[tokio::test]
async fn the_symbol_view_subscribes_on_the_one_socket_and_survives_a_reconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let desired: BTreeSet<Subscription> = [Subscription {
        stream: StreamName::Sessions,
        session_id: None,
    }]
    .into_iter()
    .collect();
    let (handle, mut events) = spawn(
        ConnectOptions {
            ws_url: format!("ws://{addr}/ws"),
            token: None,
            cfg: config(),
        },
        desired,
    );
    // The UI drains its events, as the TUI does.
    let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });

    let mut ws = accept(&listener).await;
    assert_eq!(
        next_op(&mut ws).await,
        op(true, "sessions", None, None),
        "the session streams first"
    );

    // Open: three subscriptions, candles with the interval.
    let btc = |interval| SymbolView {
        symbol: "BTC_USDT".into(),
        interval,
    };
    handle.send(ClientCommand::SetSymbolView(Some(btc(Interval::Min1))));
    assert_eq!(ops(&mut ws, 3).await, view_ops(true, "BTC_USDT", "Min1"));

    // A new interval moves candles alone: unsubscribe the old, subscribe the new.
    handle.send(ClientCommand::SetSymbolView(Some(btc(Interval::Min5))));
    assert_eq!(
        next_op(&mut ws).await,
        op(false, "candles", Some("BTC_USDT"), Some("Min1"))
    );
    assert_eq!(
        next_op(&mut ws).await,
        op(true, "candles", Some("BTC_USDT"), Some("Min5"))
    );

    // A resync of another symbol's stream is late news: nothing is sent for it. The tape's
    // resync that follows is the next thing on the wire.
    handle.send(ClientCommand::ResyncSymbol {
        stream: StreamName::Tape,
        symbol: "ETH_USDT".into(),
    });
    handle.send(ClientCommand::ResyncSymbol {
        stream: StreamName::Tape,
        symbol: "BTC_USDT".into(),
    });
    assert_eq!(
        next_op(&mut ws).await,
        op(false, "tape", Some("BTC_USDT"), None)
    );
    assert_eq!(
        next_op(&mut ws).await,
        op(true, "tape", Some("BTC_USDT"), None)
    );

    // The server goes away: the next socket replays the session streams and the open view.
    drop(ws);
    let mut ws = accept(&listener).await;
    let mut want = view_ops(true, "BTC_USDT", "Min5");
    want.insert(op(true, "sessions", None, None));
    assert_eq!(ops(&mut ws, 4).await, want);

    // Another symbol: all three move.
    handle.send(ClientCommand::SetSymbolView(Some(SymbolView {
        symbol: "ETH_USDT".into(),
        interval: Interval::Min5,
    })));
    let mut want = view_ops(false, "BTC_USDT", "Min5");
    want.extend(view_ops(true, "ETH_USDT", "Min5"));
    assert_eq!(ops(&mut ws, 6).await, want);

    // Close: its three streams are unsubscribed, nothing else.
    handle.send(ClientCommand::SetSymbolView(None));
    assert_eq!(ops(&mut ws, 3).await, view_ops(false, "ETH_USDT", "Min5"));

    handle.send(ClientCommand::Shutdown);
    let _ = tokio::time::timeout(WAIT, drain).await;
}
