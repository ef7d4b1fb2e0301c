//! Wire behaviours docs/protocol.md promises, on a real backend: error replies name their
//! request, pongs are never dropped, a ping flood and a full server get a documented close,
//! ticker rows are whole rows.

use super::support::*;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use trademon::exchange::{MarketEvent, Side, Trade};
use trademon::protocol::{DataSource, ServerMsg, close, error_code};

fn error_of(msg: ServerMsg) -> trademon::protocol::ErrorReply {
    match msg {
        ServerMsg::Error(e) => e,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

#[tokio::test]
async fn error_replies_carry_the_request_id_even_for_invalid_frames() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    let cases = [
        (r#"{"op":"dance","id":7}"#, Some(7)),
        (r#"{"op":"subscribe","id":8}"#, Some(8)),
        (r#"{"op":"start_session","id":9,"session_id":5}"#, Some(9)),
        (r#"{"op":"history","id":10,"query":"everything"}"#, Some(10)),
        (r#"{"id":18446744073709551615}"#, Some(u64::MAX)),
        (r#"{"op":"ping","id":"eleven"}"#, None),
        (r#"{"op":"ping","id":-1}"#, None),
        ("not json", None),
    ];
    for (frame, id) in cases {
        ws.send(Message::text(frame)).await.unwrap();
        let e = error_of(recv(&mut ws).await);
        assert_eq!(e.code, error_code::INVALID_MESSAGE, "{frame}: {e:?}");
        assert_eq!(e.id, id, "{frame}: {e:?}");
    }
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let e = error_of(recv(&mut ws).await);
    assert_eq!(
        (e.code.as_str(), e.id),
        (error_code::UNSUPPORTED_FRAME, None)
    );
    // Errors the hub makes had the id already; they still do.
    subscribe(&mut ws, 12, "orders", None).await;
    let e = error_of(recv(&mut ws).await);
    assert_eq!(
        (e.code.as_str(), e.id),
        (error_code::UNKNOWN_STREAM, Some(12))
    );
    b.handle.shutdown().await;
}

/// Sends `n` pings back to back (one flush), ids 1..=n.
async fn ping_burst(ws: &mut Ws, n: u64) {
    for id in 1..=n {
        ws.feed(Message::text(format!(r#"{{"op":"ping","id":{id}}}"#)))
            .await
            .unwrap();
    }
    ws.flush().await.unwrap();
}

#[tokio::test]
async fn every_ping_within_the_rate_gets_its_pong_in_order() {
    let mut cfg = test_config();
    cfg.server.max_pings_per_s = 5000;
    let b = start(cfg).await;
    let mut ws = connect(&b).await;
    // Far more than the old 256-slot lane that dropped pongs when it was full.
    let n = 1500;
    ping_burst(&mut ws, n).await;
    for want in 1..=n {
        match recv(&mut ws).await {
            ServerMsg::Pong(p) => assert_eq!(p.id, want, "pongs out of order or missing"),
            other => panic!("expected pong {want}, got {other:?}"),
        }
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn a_ping_flood_is_closed_4502_with_a_reason_not_answered_with_silence() {
    let mut cfg = test_config();
    cfg.server.max_pings_per_s = 10;
    let b = start(cfg).await;
    let mut ws = connect(&b).await;
    ping_burst(&mut ws, 100).await;
    // The pongs within the budget come first, in order, then the close.
    let mut next = 1;
    let (code, reason) = loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for pongs and the close")
            .expect("stream ended without close frame")
            .expect("read error");
        match frame {
            Message::Text(t) => match serde_json::from_str::<ServerMsg>(&t).unwrap() {
                ServerMsg::Pong(p) => {
                    assert_eq!(p.id, next, "pongs out of order or missing");
                    next += 1;
                }
                other => panic!("unexpected {other:?}"),
            },
            Message::Close(Some(f)) => break (u16::from(f.code), f.reason.to_string()),
            Message::Close(None) => panic!("close without a code"),
            _ => {}
        }
    };
    assert_eq!(code, close::PROTOCOL_VIOLATION, "{reason}");
    assert_eq!(reason, "protocol violation: too many pings (over 10/s)");
    // The burst of the bucket (10) is answered; the flood's tail is not.
    assert!(
        (11..=20).contains(&next),
        "{} pongs before the close",
        next - 1
    );
    b.handle.shutdown().await;
}

#[tokio::test]
async fn a_client_beyond_max_clients_is_closed_1013_and_its_place_comes_back() {
    let mut cfg = test_config();
    cfg.server.max_clients = 2;
    let b = start(cfg).await;
    let mut first = connect(&b).await;
    let _second = connect(&b).await;
    let mut third = connect_url(&b.handle.ws_url()).await;
    let (code, reason) = expect_close(&mut third, WAIT).await;
    assert_eq!(code, close::TOO_MANY_CLIENTS, "{reason}");
    assert_eq!(reason, "server full: 2 clients connected; try again later");
    assert!(close::may_reconnect(code));

    // Once a client has gone, a new one gets in (its slot is given back when its task ends).
    first.close(None).await.unwrap();
    while first.next().await.is_some() {}
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut ws = connect_url(&b.handle.ws_url()).await;
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let hello: ServerMsg = serde_json::from_str(&t).unwrap();
                assert!(matches!(hello, ServerMsg::Hello(_)), "{hello:?}");
                break;
            }
            Ok(Some(Ok(Message::Close(Some(f))))) => {
                assert_eq!(u16::from(f.code), close::TOO_MANY_CLIENTS);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.handle.shutdown().await;
}

fn trades(symbol: &str, price: f64) -> MarketEvent {
    MarketEvent::Trades {
        symbol: symbol.into(),
        trades: vec![Trade {
            self_trade: false,
            id: None,
            price,
            contracts: 1.0,
            taker: Side::Buy,
            ts_ms: 1,
        }],
        source: DataSource::Ws,
    }
}

/// The keys of the JSON a ticker serializes to.
fn keys(t: &trademon::protocol::Ticker) -> Vec<String> {
    let v = serde_json::to_value(t).unwrap();
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn next_ticker(ws: &mut Ws) -> trademon::protocol::Ticker {
    recv_until(ws, |m| match m {
        ServerMsg::Ticker(e) => Some(e.data),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn ticker_deltas_and_snapshot_rows_are_the_whole_merged_row() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    subscribe(&mut ws, 1, "market_data", Some("majors")).await;
    assert!(matches!(recv(&mut ws).await, ServerMsg::Ack(_)));
    assert!(matches!(recv(&mut ws).await, ServerMsg::FullUpdate(_)));

    // A trade before the first ticker: the row has what MEXC has sent, nothing invented.
    b.market.send(trades("BTC_USDT", 100.0)).await.unwrap();
    let t = next_ticker(&mut ws).await;
    assert_eq!(keys(&t), ["last", "received_ms", "source", "symbol"]);

    let mut full = ticker("BTC_USDT", 101.0, Some(100.9));
    if let MarketEvent::Ticker { update, .. } = &mut full {
        update.ask = Some(101.1);
        update.volume_24h = Some(5e6);
    }
    b.market.send(full).await.unwrap();
    let t = next_ticker(&mut ws).await;
    assert_eq!(
        (t.bid, t.ask, t.volume_24h),
        (Some(100.9), Some(101.1), Some(5e6))
    );

    // A later trade or a ticker frame lacking fields still publishes the whole row.
    b.market.send(trades("BTC_USDT", 102.0)).await.unwrap();
    let after_trade = next_ticker(&mut ws).await;
    assert_eq!(after_trade.last, 102.0);
    assert_eq!(keys(&after_trade), keys(&t));
    b.market
        .send(ticker("BTC_USDT", 103.0, None))
        .await
        .unwrap();
    let sparse = next_ticker(&mut ws).await;
    assert_eq!(
        (sparse.last, sparse.bid, sparse.ask),
        (103.0, Some(100.9), Some(101.1))
    );

    // A new subscriber's snapshot row is that same row.
    subscribe(&mut ws, 2, "market_data", Some("majors")).await;
    let rows = recv_until(&mut ws, |m| match m {
        ServerMsg::FullUpdate(e) => e.data.market_data,
        _ => None,
    })
    .await;
    let row = rows.iter().find(|r| r.symbol == "BTC_USDT").unwrap();
    assert_eq!(row, &sparse);
    b.handle.shutdown().await;
}
