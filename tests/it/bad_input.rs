//! Bad input at the door (issue 7 item 6) against a real backend over loopback:
//! oversize frames (1009), binary frames, invalid JSON and UTF-8, unknown ops, deep nesting,
//! huge ids, floods of subscribes and junk (error replies, then a final 4502), a silent client
//! and a half-closed one. The last test runs all the abuse at once while a well-behaved client
//! watches: it must see no close and no gap.

use crate::support;

use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use trademon::protocol::{ClientMsg, Level, LogEvent, ServerMsg, StreamName, close, error_code};

fn expect_error(msg: ServerMsg, code: &str) -> trademon::protocol::ErrorReply {
    match msg {
        ServerMsg::Error(e) if e.code == code => e,
        other => panic!("expected error {code}, got {other:?}"),
    }
}

/// A text frame whose payload is not UTF-8 (tungstenite's `Message::Text` cannot carry one).
fn invalid_utf8_text() -> Message {
    Message::Frame(Frame::message(
        vec![b'{', 0xff, 0xfe, b'}'],
        OpCode::Data(Data::Text),
        true,
    ))
}

fn deep_json(depth: usize) -> String {
    format!(
        r#"{{"op":"subscribe","id":1,"stream":"sessions","x":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

/// Sends every frame with one flush, ignoring errors: the backend may close before the last
/// one is written, which is the point.
async fn blast(ws: &mut Ws, frames: impl IntoIterator<Item = Message>) {
    for f in frames {
        if ws.feed(f).await.is_err() {
            return;
        }
    }
    let _ = ws.flush().await;
}

#[tokio::test]
async fn malformed_frames_get_error_replies_and_the_connection_stays_usable() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;

    ws.send(Message::binary(vec![0u8; 64])).await.unwrap();
    expect_error(recv(&mut ws).await, error_code::UNSUPPORTED_FRAME);

    ws.send(Message::text("{\"op\":")).await.unwrap();
    expect_error(recv(&mut ws).await, error_code::INVALID_MESSAGE);

    ws.send(Message::text(r#"{"op":"dance","id":1}"#))
        .await
        .unwrap();
    let e = expect_error(recv(&mut ws).await, error_code::INVALID_MESSAGE);
    assert!(e.message.contains("dance"), "{e:?}");

    // serde_json's recursion limit turns 100k levels of nesting into an error, not a crash.
    ws.send(Message::text(deep_json(100_000))).await.unwrap();
    let e = expect_error(recv(&mut ws).await, error_code::INVALID_MESSAGE);
    assert!(e.message.contains("recursion limit"), "{e:?}");

    // Ids beyond u64, negative or fractional are refused; u64::MAX is echoed exactly.
    for id in ["18446744073709551616", "-1", "1.5", "1e3"] {
        ws.send(Message::text(format!(r#"{{"op":"ping","id":{id}}}"#)))
            .await
            .unwrap();
        expect_error(recv(&mut ws).await, error_code::INVALID_MESSAGE);
    }
    subscribe(&mut ws, u64::MAX, "sessions", None).await;
    match recv(&mut ws).await {
        ServerMsg::Ack(a) => assert_eq!((a.id, a.stream), (u64::MAX, StreamName::Sessions)),
        other => panic!("expected ack, got {other:?}"),
    }
    assert!(matches!(recv(&mut ws).await, ServerMsg::FullUpdate(_)));

    // Unknown fields are ignored (forward compatibility).
    ws.send(Message::text(
        r#"{"op":"ping","id":9,"future":{"a":[1,2]},"x":null}"#,
    ))
    .await
    .unwrap();
    let pong = recv_until(&mut ws, |m| match m {
        ServerMsg::Pong(p) => Some(p),
        _ => None,
    })
    .await;
    assert_eq!(pong.id, 9);

    // A valid op for an unknown stream is answered by the hub with its id.
    subscribe(&mut ws, 3, "orderbook", None).await;
    let e = expect_error(recv(&mut ws).await, error_code::UNKNOWN_STREAM);
    assert_eq!(e.id, Some(3));
    b.handle.shutdown().await;
}

#[tokio::test]
async fn ten_megabyte_frame_is_closed_1009() {
    let b = start(test_config()).await;
    let ws = connect(&b).await;
    let (mut tx, mut rx) = ws.split();
    // The backend refuses after the frame header; the rest of our write may fail.
    let writer = tokio::spawn(async move {
        let _ = tx.send(Message::text("x".repeat(10 * 1024 * 1024))).await;
        tx
    });
    let code = loop {
        match tokio::time::timeout(WAIT, rx.next()).await.expect("close") {
            Some(Ok(Message::Close(Some(f)))) => break u16::from(f.code),
            Some(Ok(_)) => continue,
            other => panic!("expected close 1009, got {other:?}"),
        }
    };
    assert_eq!(code, close::MESSAGE_TOO_BIG);
    let _ = writer.await;
    // The backend is fine.
    let mut ws = connect(&b).await;
    send(&mut ws, &ClientMsg::Ping { id: 1 }).await;
    assert!(matches!(recv(&mut ws).await, ServerMsg::Pong(_)));
    b.handle.shutdown().await;
}

#[tokio::test]
async fn invalid_utf8_text_frame_is_closed_1007() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    ws.send(invalid_utf8_text()).await.unwrap();
    let (code, reason) = expect_close(&mut ws, WAIT).await;
    assert_eq!(code, close::INVALID_PAYLOAD);
    assert!(reason.contains("UTF-8"), "{reason}");
    b.handle.shutdown().await;
}

#[tokio::test]
async fn junk_flood_gets_error_replies_then_4502() {
    let b = start(test_config()).await;
    let max = b_max_errors();
    let mut ws = connect(&b).await;
    blast(
        &mut ws,
        (0..5_000).map(|i| Message::text(format!("junk {i}"))),
    )
    .await;
    let mut errors = 0;
    let (code, reason) = loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("close") {
            Some(Ok(Message::Text(t))) => {
                let m: ServerMsg = serde_json::from_str(&t).unwrap();
                expect_error(m, error_code::INVALID_MESSAGE);
                errors += 1;
            }
            Some(Ok(Message::Close(Some(f)))) => break (u16::from(f.code), f.reason.to_string()),
            Some(Ok(_)) => continue,
            other => panic!("expected close, got {other:?}"),
        }
    };
    assert_eq!(code, close::PROTOCOL_VIOLATION);
    assert_eq!(
        reason,
        format!("protocol violation: {} bad frames", max + 1)
    );
    assert_eq!(errors, max, "one error reply per bad frame up to the limit");
    assert!(!close::may_reconnect(code));
    b.handle.shutdown().await;
}

fn b_max_errors() -> u32 {
    test_config().server.max_protocol_errors
}

#[tokio::test]
async fn subscribe_burst_up_to_the_rate_is_served() {
    let b = start(test_config()).await;
    let n = test_config().server.max_ops_per_s as u64;
    let mut ws = connect(&b).await;
    blast(
        &mut ws,
        (1..=n).map(|id| {
            // Odd ids valid, even ids for a stream that does not exist.
            let stream = if id % 2 == 1 {
                "state_machines"
            } else {
                "orderbook"
            };
            let m = ClientMsg::Subscribe {
                interval: None,
                symbol: None,
                id,
                stream: stream.into(),
                session_id: Some("majors".into()),
            };
            Message::text(serde_json::to_string(&m).unwrap())
        }),
    )
    .await;
    // Every op answered, in order: an ack (then its full_update) or an error with its id.
    let mut next = 1;
    while next <= n {
        match recv(&mut ws).await {
            ServerMsg::Ack(a) => {
                assert_eq!(a.id, next);
                next += 1;
            }
            ServerMsg::Error(e) => {
                assert_eq!(
                    (e.id, e.code.as_str()),
                    (Some(next), error_code::UNKNOWN_STREAM)
                );
                next += 1;
            }
            _ => {}
        }
    }
    send(&mut ws, &ClientMsg::Ping { id: 5 }).await;
    recv_until(&mut ws, |m| matches!(m, ServerMsg::Pong(_)).then_some(())).await;
    b.handle.shutdown().await;
}

/// 5,000 subscribes in a burst, valid and invalid: replies for the first ones, then 4502.
#[tokio::test]
async fn subscribe_flood_is_closed_4502_too_many_requests() {
    let b = start(test_config()).await;
    let rate = test_config().server.max_ops_per_s as u64;
    let mut ws = connect(&b).await;
    blast(&mut ws, subscribe_flood(5_000)).await;
    let (mut acks, mut errors) = (0u64, 0u64);
    let (code, reason) = loop {
        match tokio::time::timeout(WAIT, ws.next()).await.expect("close") {
            Some(Ok(Message::Text(t))) => match serde_json::from_str(&t).unwrap() {
                ServerMsg::Ack(_) => acks += 1,
                ServerMsg::Error(e) => {
                    assert_eq!(e.code, error_code::UNKNOWN_STREAM, "{e:?}");
                    errors += 1
                }
                _ => {}
            },
            Some(Ok(Message::Close(Some(f)))) => break (u16::from(f.code), f.reason.to_string()),
            Some(Ok(_)) => continue,
            other => panic!("expected close, got {other:?}"),
        }
    };
    assert_eq!(code, close::PROTOCOL_VIOLATION);
    assert!(reason.contains("too many requests"), "{reason}");
    assert!(
        acks + errors <= rate + 1,
        "at most a burst is served: {acks} acks, {errors} errors"
    );
    // Replies still queued when the close is decided are not sent: the close is final.
    b.handle.shutdown().await;
}

fn subscribe_flood(n: u64) -> impl Iterator<Item = Message> {
    (1..=n).map(|id| {
        // Two in three valid, the rest for a stream that does not exist.
        let stream = if id % 3 == 0 {
            "orderbook"
        } else {
            "market_data"
        };
        let m = ClientMsg::Subscribe {
            interval: None,
            symbol: None,
            id,
            stream: stream.into(),
            session_id: Some("majors".into()),
        };
        Message::text(serde_json::to_string(&m).unwrap())
    })
}

/// A WebSocket client by hand over raw TCP, so it can be truly silent: tungstenite would
/// answer the backend's pings (and fail on a flush once the backend closed).
async fn raw_ws(b: &TestBackend) -> tokio::net::TcpStream {
    use tokio::io::AsyncReadExt;
    let mut s = tokio::net::TcpStream::connect(b.handle.addr).await.unwrap();
    s.write_all(
        b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(s.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// Reads unmasked server frames until a close frame; returns its code and reason.
async fn raw_close(s: &mut tokio::net::TcpStream) -> (u16, String) {
    use tokio::io::AsyncReadExt;
    loop {
        let b0 = s.read_u8().await.expect("frame header");
        let len = match s.read_u8().await.unwrap() & 0x7f {
            126 => u64::from(s.read_u16().await.unwrap()),
            127 => s.read_u64().await.unwrap(),
            n => u64::from(n),
        };
        let mut payload = vec![0u8; len as usize];
        s.read_exact(&mut payload).await.unwrap();
        if b0 & 0x0f == 0x8 {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            return (code, String::from_utf8_lossy(&payload[2..]).into_owned());
        }
    }
}

#[tokio::test]
async fn silent_client_is_closed_4000_after_the_idle_timeout() {
    let mut cfg = test_config();
    cfg.server.ping_interval_ms = 100;
    cfg.server.idle_timeout_ms = 300;
    let b = start(cfg).await;
    let mut raw = raw_ws(&b).await;
    let (code, reason) = tokio::time::timeout(WAIT, raw_close(&mut raw))
        .await
        .expect("close within the idle timeout");
    assert_eq!(code, close::HEARTBEAT_TIMEOUT);
    assert!(reason.starts_with("heartbeat timeout"), "{reason}");
    b.handle.shutdown().await;
}

#[tokio::test]
async fn half_closed_client_is_dropped_and_the_backend_carries_on() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    if let MaybeTlsStream::Plain(tcp) = ws.get_mut() {
        // FIN from our side; we can still read.
        tcp.shutdown().await.unwrap();
    }
    // The backend sees EOF and ends the connection (no frame owed to a peer that left).
    let end = tokio::time::timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(end.is_ok(), "backend must drop a half-closed client");
    let mut ws = connect(&b).await;
    send(&mut ws, &ClientMsg::Ping { id: 1 }).await;
    assert!(matches!(recv(&mut ws).await, ServerMsg::Pong(_)));
    b.handle.shutdown().await;
}

/// Everything above at once, while a well-behaved client watches `events` (never conflated:
/// its seq must be contiguous) and `market_data`: no close, no gap, no stall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_at_the_door_leaves_another_client_untouched() {
    let mut cfg = test_config();
    cfg.server.ping_interval_ms = 200;
    cfg.server.idle_timeout_ms = 600;
    let b = start(cfg).await;

    let mut good = connect(&b).await;
    subscribe(&mut good, 1, "events", None).await;
    subscribe(&mut good, 2, "market_data", Some("majors")).await;

    // Feed: one event and one ticker every 2 ms until told to stop.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let (market, logs) = (b.market.clone(), b.logs.clone());
    let feeder = tokio::spawn(async move {
        let mut i = 0u64;
        while !*stop_rx.borrow_and_update() {
            let ev = LogEvent {
                ts: 1,
                level: Level::Info,
                name: "feed".into(),
                message: format!("feed-{i}"),
                count: 1,
            };
            logs.send(ev).await.unwrap();
            market
                .send(ticker("BTC_USDT", 1.0 + i as f64, None))
                .await
                .unwrap();
            i += 1;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(2)) => {}
                _ = stop_rx.changed() => {}
            }
        }
        i
    });

    // The watcher: checks every frame (polling also answers the backend's pings, which keeps
    // it alive under the short idle timeout) and returns once it saw the last fed event.
    let (total_tx, total_rx) = tokio::sync::watch::channel(None::<u64>);
    let watcher = tokio::spawn(async move {
        let mut events_seq: Option<u64> = None;
        let mut ticker_seq = 0u64;
        let mut next_feed = 0u64;
        let mut last_frame = tokio::time::Instant::now();
        let mut max_gap = Duration::ZERO;
        loop {
            if let Some(total) = *total_rx.borrow()
                && next_feed >= total
            {
                return (max_gap, next_feed, good);
            }
            let frame = tokio::time::timeout(WAIT, good.next())
                .await
                .expect("watcher stalled")
                .expect("watcher stream ended")
                .expect("watcher read error");
            let now = tokio::time::Instant::now();
            max_gap = max_gap.max(now - last_frame);
            last_frame = now;
            let text = match frame {
                Message::Text(t) => t,
                Message::Close(f) => panic!("watcher closed: {f:?}"),
                _ => continue,
            };
            match serde_json::from_str::<ServerMsg>(&text).unwrap() {
                ServerMsg::FullUpdate(e) if e.stream == StreamName::Events => {
                    // Events fed before the subscription are in the snapshot.
                    for ev in e.data.events.unwrap_or_default() {
                        if let Some(n) = ev.message.strip_prefix("feed-") {
                            next_feed = next_feed.max(n.parse::<u64>().unwrap() + 1);
                        }
                    }
                    events_seq = Some(e.seq);
                }
                ServerMsg::Event(e) => {
                    let prev = events_seq.expect("event before full_update");
                    assert_eq!(e.seq, prev + 1, "gap in the events stream");
                    events_seq = Some(e.seq);
                    if let Some(n) = e.data.message.strip_prefix("feed-") {
                        let n: u64 = n.parse().unwrap();
                        assert_eq!(n, next_feed, "fed event lost or reordered");
                        next_feed = n + 1;
                    }
                }
                ServerMsg::Ticker(e) => {
                    assert!(e.seq > ticker_seq, "ticker seq went back");
                    ticker_seq = e.seq;
                }
                _ => {}
            }
        }
    });

    // The abusers, one after another, each on its own connection.
    let mut ws = connect(&b).await;
    blast(&mut ws, subscribe_flood(5_000)).await;
    assert_eq!(
        expect_close(&mut ws, WAIT).await.0,
        close::PROTOCOL_VIOLATION
    );

    let mut ws = connect(&b).await;
    blast(&mut ws, (0..5_000).map(|_| Message::text("{"))).await;
    assert_eq!(
        expect_close(&mut ws, WAIT).await.0,
        close::PROTOCOL_VIOLATION
    );

    let mut ws = connect(&b).await;
    blast(&mut ws, (0..100).map(|_| Message::binary(vec![0u8; 1000]))).await;
    assert_eq!(
        expect_close(&mut ws, WAIT).await.0,
        close::PROTOCOL_VIOLATION
    );

    let mut ws = connect(&b).await;
    ws.send(invalid_utf8_text()).await.unwrap();
    assert_eq!(expect_close(&mut ws, WAIT).await.0, close::INVALID_PAYLOAD);

    let mut ws = connect(&b).await;
    blast(&mut ws, (0..10).map(|_| Message::text(deep_json(100_000)))).await;
    expect_error(recv(&mut ws).await, error_code::INVALID_MESSAGE);
    drop(ws);

    let ws = connect(&b).await;
    let (mut tx, mut rx) = ws.split();
    let big = tokio::spawn(async move {
        let _ = tx.send(Message::text("y".repeat(10 * 1024 * 1024))).await;
    });
    let code = loop {
        match tokio::time::timeout(WAIT, rx.next()).await.expect("close") {
            Some(Ok(Message::Close(Some(f)))) => break u16::from(f.code),
            Some(Ok(_)) => continue,
            other => panic!("expected close 1009, got {other:?}"),
        }
    };
    assert_eq!(code, close::MESSAGE_TOO_BIG);
    let _ = big.await;

    // Silent (never polls: no pongs) and half-closed clients.
    let mut silent = raw_ws(&b).await;
    let mut half = connect(&b).await;
    if let MaybeTlsStream::Plain(tcp) = half.get_mut() {
        tcp.shutdown().await.unwrap();
    }
    let (code, _) = tokio::time::timeout(WAIT, raw_close(&mut silent))
        .await
        .expect("silent client closed");
    assert_eq!(code, close::HEARTBEAT_TIMEOUT);
    drop((silent, half));

    stop_tx.send(true).unwrap();
    let fed = feeder.await.unwrap();
    total_tx.send(Some(fed)).unwrap();
    let (max_gap, seen, mut good) = watcher.await.unwrap();
    assert_eq!(seen, fed);
    // Events are fed every 2 ms, so an idle machine shows gaps of milliseconds. 3 s leaves a
    // loaded 2-core machine's scheduler room and still catches the good client held up for
    // seconds by an abuser; the order and completeness checks above do not depend on time.
    assert!(
        max_gap < Duration::from_secs(3),
        "the watcher stalled for {max_gap:?}"
    );
    send(&mut good, &ClientMsg::Ping { id: 7 }).await;
    recv_until(&mut good, |m| matches!(m, ServerMsg::Pong(_)).then_some(())).await;
    b.handle.shutdown().await;
}
