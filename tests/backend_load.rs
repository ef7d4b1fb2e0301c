//! Backend under load over real loopback sockets: a slow consumer is closed 4008 without
//! hurting others, and app pongs stay fast while market data floods a slowly reading client.

#[path = "backend_support.rs"]
mod support;

use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;
use tokio_tungstenite::tungstenite::Message;
use trademon::config::{Config, SessionConfig};
use trademon::protocol::{ClientMsg, Level, LogEvent, ServerMsg, close};

#[tokio::test]
async fn slow_consumer_is_closed_4008_and_other_clients_are_unaffected() {
    let mut cfg = test_config();
    cfg.server.client_queue_max_msgs = 256;
    cfg.server.client_queue_max_bytes = 256 * 1024;
    cfg.server.write_timeout_ms = 3000;
    // The slow client reads its whole backlog before it sees the 4008 frame: give it the
    // production close grace, or the server drops it first and the reason is lost.
    cfg.server.close_grace_ms = Config::defaults().server.close_grace_ms;
    let b = start(cfg).await;

    let mut slow = connect(&b).await;
    subscribe(&mut slow, 1, "events", None).await;
    let mut good = connect(&b).await;
    subscribe(&mut good, 1, "events", None).await;
    let _ = recv(&mut good).await; // ack
    let ServerMsg::FullUpdate(full) = recv(&mut good).await else {
        panic!("expected full_update")
    };
    const N: usize = 3000;
    // The good client reads everything and checks the ordered stream has no gap.
    let reader = tokio::spawn(async move {
        let mut seq = full.seq;
        let mut seen = 0;
        while seen < N {
            match recv(&mut good).await {
                ServerMsg::Event(e) if e.data.name == "load.test" => {
                    assert_eq!(e.seq, seq + 1, "ordered stream must not skip");
                    seq = e.seq;
                    seen += 1;
                }
                ServerMsg::Event(e) => seq = e.seq,
                other => panic!("unexpected {other:?}"),
            }
        }
        good
    });

    let pad = "x".repeat(400);
    for i in 0..N {
        b.logs
            .send(LogEvent {
                ts: i as i64,
                level: Level::Warn,
                name: "load.test".into(),
                message: format!("event {i} {pad}"),
                count: 1,
            })
            .await
            .unwrap();
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let mut good = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("good client must receive every event")
        .unwrap();

    // The slow client never read: its queue overflowed and it was closed with a reason.
    let (code, reason) = expect_close(&mut slow, WAIT).await;
    assert_eq!(code, close::SLOW_CONSUMER);
    assert!(reason.starts_with("slow consumer"), "{reason}");

    // The good one is still served.
    send(&mut good, &ClientMsg::Ping { id: 42 }).await;
    let id = recv_until(&mut good, |m| match m {
        ServerMsg::Pong(p) => Some(p.id),
        _ => None,
    })
    .await;
    assert_eq!(id, 42);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn app_pong_rtt_stays_low_while_market_data_floods_a_slow_reader() {
    const SYMBOLS: usize = 200;
    let symbols: Vec<String> = (0..SYMBOLS).map(|i| format!("S{i}_USDT")).collect();
    let session = SessionConfig {
        id: "flood".into(),
        name: "Flood".into(),
        strategy: "default".into(),
        symbols: symbols.clone(),
    };
    let b = start_with(test_config(), vec![session]).await;
    let mut ws = connect(&b).await;
    subscribe(&mut ws, 1, "market_data", Some("flood")).await;
    let _ = recv(&mut ws).await; // ack
    let _ = recv(&mut ws).await; // full_update

    let flood_for = Duration::from_millis(2500);
    let market = b.market.clone();
    let feeder = tokio::spawn(async move {
        let until = Instant::now() + flood_for;
        let mut n = 0u64;
        while Instant::now() < until {
            for s in &symbols {
                market
                    .send(ticker(s, 1.0 + (n % 1000) as f64, Some(0.5)))
                    .await
                    .unwrap();
                n += 1;
            }
            tokio::task::yield_now().await;
        }
        n
    });

    let (mut tx, mut rx) = ws.split();
    let sent_at: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let pinger = {
        let sent_at = sent_at.clone();
        tokio::spawn(async move {
            for id in 1..=20u64 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                sent_at.lock().unwrap().insert(id, Instant::now());
                let ping = serde_json::to_string(&ClientMsg::Ping { id }).unwrap();
                tx.send(Message::text(ping)).await.unwrap();
            }
            tx
        })
    };

    // Slow reader: a pause every 20 frames caps it far below what the server can send.
    let mut rtts = Vec::new();
    let mut tickers = 0u64;
    let mut frames = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    while rtts.len() < 20 {
        let frame = tokio::time::timeout_at(deadline, rx.next())
            .await
            .expect("pongs must keep arriving")
            .expect("stream ended")
            .expect("read error");
        frames += 1;
        if frames % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if let Message::Text(t) = frame {
            match serde_json::from_str::<ServerMsg>(&t).unwrap() {
                ServerMsg::Ticker(_) => tickers += 1,
                ServerMsg::Pong(p) => {
                    let sent = sent_at.lock().unwrap()[&p.id];
                    rtts.push(sent.elapsed());
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let produced = feeder.await.unwrap();
    let _tx = pinger.await.unwrap();
    let max = rtts.iter().max().copied().unwrap_or_default();
    eprintln!(
        "flood: produced {produced} tickers, read {tickers}; app pong rtt max {max:?}, all {rtts:?}"
    );
    assert!(tickers > 1000, "data must flow: {tickers}");
    assert!(
        max < Duration::from_millis(500),
        "pong waited behind data: max rtt {max:?}"
    );
    b.handle.shutdown().await;
}
