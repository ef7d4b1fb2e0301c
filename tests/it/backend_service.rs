//! Backend service over real loopback sockets: streams, snapshots, REST, heartbeat, auth,
//! limits and close codes. Load behaviour (slow consumers, pong priority) is in backend_load.rs.

use crate::support;

use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use support::*;
use tokio_tungstenite::tungstenite::Message;
use trademon::config::Config;
use trademon::protocol::{
    ClientMsg, Level, LogEvent, RestError, RestSnapshot, ServerMsg, SessionInfo, SessionState,
    StreamName, UpstreamState, close, error_code,
};

fn full_update(msg: ServerMsg) -> trademon::protocol::Envelope<trademon::protocol::Snapshot> {
    match msg {
        ServerMsg::FullUpdate(e) => e,
        other => panic!("expected full_update, got {other:?}"),
    }
}

/// Polls the REST snapshot of `session` until `ready` holds (the hub has taken in what the
/// test fed), instead of sleeping and hoping it has.
async fn until_snapshot(
    b: &TestBackend,
    session: &str,
    what: &str,
    ready: impl Fn(&trademon::protocol::Snapshot) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let snap: trademon::protocol::RestSnapshot =
            reqwest::get(b.http(&format!("/api/v1/snapshot?session={session}")))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        if ready(&snap.data) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hub never had {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn ack(msg: ServerMsg, id: u64, stream: StreamName) {
    match msg {
        ServerMsg::Ack(a) => assert_eq!((a.id, a.stream), (id, stream)),
        other => panic!("expected ack {id}, got {other:?}"),
    }
}

#[tokio::test]
async fn hello_first_then_state_machines_full_update_with_monitoring_instances() {
    let b = start(test_config()).await;
    let mut ws = connect_url(&b.handle.ws_url()).await;
    let ServerMsg::Hello(h) = recv(&mut ws).await else {
        panic!("hello must come first")
    };
    assert_eq!(h.protocol, trademon::protocol::PROTOCOL_VERSION);
    assert_eq!(h.streams, StreamName::valid_names());
    assert_eq!(h.ping_interval_ms, 10_000);
    assert!(!h.epoch.is_empty());

    subscribe(&mut ws, 1, "state_machines", Some("majors")).await;
    ack(recv(&mut ws).await, 1, StreamName::StateMachines);
    let full = full_update(recv(&mut ws).await);
    assert_eq!(full.stream, StreamName::StateMachines);
    assert_eq!(full.session_id.as_deref(), Some("majors"));
    assert!(full.data.market_data.is_none() && full.data.sessions.is_none());
    let inst = full.data.state_machines.unwrap();
    let syms: Vec<_> = inst.iter().map(|i| i.symbol.as_str()).collect();
    assert_eq!(syms, ["BTC_USDT", "ETH_USDT", "SOL_USDT"]);
    assert!(
        inst.iter()
            .all(|i| i.state == "MONITORING" && i.since_ms > 0)
    );
    // The adapter is told to watch the union of running sessions' symbols.
    let want: Vec<_> = b.symbols.borrow().iter().cloned().collect();
    assert_eq!(want, ["BTC_USDT", "DOGE_USDT", "ETH_USDT", "SOL_USDT"]);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn market_data_full_update_then_ticker_deltas_with_increasing_seq() {
    let b = start(test_config()).await;
    b.market
        .send(ticker("BTC_USDT", 100.0, Some(99.0)))
        .await
        .unwrap();
    let mut ws = connect(&b).await;
    // The first ticker may or may not be in the snapshot; wait until the hub has it.
    until_snapshot(&b, "majors", "the first ticker", |d| {
        d.market_data
            .as_ref()
            .is_some_and(|m| m.iter().any(|t| t.symbol == "BTC_USDT"))
    })
    .await;
    subscribe(&mut ws, 7, "market_data", Some("majors")).await;
    ack(recv(&mut ws).await, 7, StreamName::MarketData);
    let full = full_update(recv(&mut ws).await);
    let md = full.data.market_data.unwrap();
    assert_eq!(md.len(), 1);
    assert_eq!((md[0].symbol.as_str(), md[0].bid), ("BTC_USDT", Some(99.0)));

    // A frame without bid keeps the previous bid; trades move `last`.
    for i in 1..=200 {
        b.market
            .send(ticker("BTC_USDT", 100.0 + i as f64, None))
            .await
            .unwrap();
        b.market
            .send(ticker("ETH_USDT", 3000.0 + i as f64, None))
            .await
            .unwrap();
        b.market.send(ticker("XRP_USDT", 1.0, None)).await.unwrap(); // in no session
    }
    let mut seq = full.seq;
    let (mut btc_done, mut eth_done) = (false, false);
    while !(btc_done && eth_done) {
        match recv(&mut ws).await {
            ServerMsg::Ticker(e) => {
                assert_eq!(e.stream, StreamName::MarketData);
                assert_eq!(e.session_id.as_deref(), Some("majors"));
                assert!(e.seq > seq, "seq must increase: {} after {seq}", e.seq);
                seq = e.seq;
                assert_ne!(e.data.symbol, "XRP_USDT");
                if e.data.symbol == "BTC_USDT" {
                    assert_eq!(e.data.bid, Some(99.0), "omitted field kept");
                    btc_done |= e.data.last == 300.0;
                }
                eth_done |= e.data.symbol == "ETH_USDT" && e.data.last == 3200.0;
                assert!(e.data.received_ms > 0);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn unknown_stream_gets_error_with_valid_list_and_connection_stays_open() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    subscribe(&mut ws, 1, "orderbook", None).await;
    match recv(&mut ws).await {
        ServerMsg::Error(e) => {
            assert_eq!(e.id, Some(1));
            assert_eq!(e.code, error_code::UNKNOWN_STREAM);
            assert!(e.message.contains("orderbook"), "{}", e.message);
            assert_eq!(e.valid, StreamName::valid_names());
        }
        other => panic!("expected error, got {other:?}"),
    }
    subscribe(&mut ws, 2, "sessions", Some("ignored-for-global")).await;
    ack(recv(&mut ws).await, 2, StreamName::Sessions);
    let full = full_update(recv(&mut ws).await);
    assert_eq!(full.session_id, None);
    assert_eq!(full.data.sessions.unwrap().len(), 2);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn unknown_or_missing_session_errors_on_ws_and_rest() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    subscribe(&mut ws, 3, "market_data", Some("nope")).await;
    match recv(&mut ws).await {
        ServerMsg::Error(e) => {
            assert_eq!(e.code, error_code::SESSION_NOT_FOUND);
            assert_eq!(e.valid, ["majors", "alts"]);
        }
        other => panic!("expected error, got {other:?}"),
    }
    subscribe(&mut ws, 4, "state_machines", None).await;
    match recv(&mut ws).await {
        ServerMsg::Error(e) => assert_eq!(e.code, error_code::SESSION_REQUIRED),
        other => panic!("expected error, got {other:?}"),
    }
    send(
        &mut ws,
        &ClientMsg::StopSession {
            id: 5,
            session_id: "nope".into(),
        },
    )
    .await;
    match recv(&mut ws).await {
        ServerMsg::Error(e) => assert_eq!((e.id, e.code.as_str()), (Some(5), "session_not_found")),
        other => panic!("expected error, got {other:?}"),
    }

    let r = reqwest::get(b.http("/api/v1/snapshot?session=nope"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "session_not_found");
    assert_eq!(body["session_id"], "nope");
    let r = reqwest::Client::new()
        .post(b.http("/api/v1/sessions/nope/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = reqwest::get(b.http("/api/v1/snapshot")).await.unwrap();
    assert_eq!(r.status(), 400);
    let e: RestError = r.json().await.unwrap();
    assert_eq!(e.error, "missing_parameter");
    b.handle.shutdown().await;
}

#[tokio::test]
async fn rest_health_sessions_and_snapshot_with_every_stream() {
    let b = start(test_config()).await;
    b.market
        .send(ticker("ETH_USDT", 3000.0, None))
        .await
        .unwrap();
    b.logs
        .send(LogEvent {
            ts: 1,
            level: Level::Warn,
            name: "mexc.close".into(),
            message: "1006".into(),
            count: 1,
        })
        .await
        .unwrap();
    b.upstream
        .send_replace(upstream(UpstreamState::Reconnecting));
    until_snapshot(&b, "alts", "the close event and the upstream state", |d| {
        d.health
            .as_ref()
            .is_some_and(|h| h.upstream.state == UpstreamState::Reconnecting)
            && d.events
                .as_ref()
                .is_some_and(|e| e.iter().any(|e| e.name == "mexc.close"))
    })
    .await;

    let h: serde_json::Value = reqwest::get(b.http("/api/v1/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["upstream"]["state"], "reconnecting");
    let s: Vec<SessionInfo> = reqwest::get(b.http("/api/v1/sessions"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s.len(), 2);
    assert!(
        s.iter()
            .all(|s| s.state == SessionState::Running && s.mode == "paper")
    );

    let snap: RestSnapshot = reqwest::get(b.http("/api/v1/snapshot?session=alts"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snap.session_id, "alts");
    let d = &snap.data;
    assert_eq!(d.sessions.as_ref().unwrap().len(), 2);
    assert_eq!(d.market_data.as_ref().unwrap()[0].symbol, "ETH_USDT");
    assert_eq!(d.state_machines.as_ref().unwrap().len(), 2);
    assert_eq!(
        d.health.as_ref().unwrap().upstream.state,
        UpstreamState::Reconnecting
    );
    assert!(
        d.events
            .as_ref()
            .unwrap()
            .iter()
            .any(|e| e.name == "mexc.close")
    );
    let names: Vec<_> = snap.seq.keys().cloned().collect();
    let mut valid = StreamName::valid_names();
    valid.sort();
    assert_eq!(names, valid);
    assert!(snap.seq["market_data"] >= 1 && snap.seq["events"] >= 1);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn stop_and_start_emit_instance_and_session_events_in_seq_order() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    subscribe(&mut ws, 1, "state_machines", Some("majors")).await;
    ack(recv(&mut ws).await, 1, StreamName::StateMachines);
    let sm_seq0 = full_update(recv(&mut ws).await).seq;
    subscribe(&mut ws, 2, "sessions", None).await;
    ack(recv(&mut ws).await, 2, StreamName::Sessions);
    let ss_seq0 = full_update(recv(&mut ws).await).seq;

    let r = reqwest::Client::new()
        .post(b.http("/api/v1/sessions/majors/stop"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let info: SessionInfo = r.json().await.unwrap();
    assert_eq!(info.state, SessionState::Stopped);

    let mut removed = Vec::new();
    let mut sm_seq = sm_seq0;
    let mut ss_seq = ss_seq0;
    while removed.len() < 3 {
        match recv(&mut ws).await {
            ServerMsg::InstanceRemoved(e) => {
                assert_eq!(e.seq, sm_seq + 1);
                sm_seq = e.seq;
                removed.push(e.data.symbol);
            }
            ServerMsg::SessionChanged(e) => {
                assert_eq!(e.seq, ss_seq + 1);
                ss_seq = e.seq;
                assert_eq!(e.data.state, SessionState::Stopped);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(removed, ["BTC_USDT", "ETH_USDT", "SOL_USDT"]);
    if ss_seq == ss_seq0 {
        let ServerMsg::SessionChanged(e) = recv(&mut ws).await else {
            panic!("expected session_changed")
        };
        assert_eq!(e.data.state, SessionState::Stopped);
        ss_seq = e.seq;
    }
    // ETH stays watched (alts), BTC and SOL are dropped for the adapter.
    let want: Vec<_> = b.symbols.borrow().iter().cloned().collect();
    assert_eq!(want, ["DOGE_USDT", "ETH_USDT"]);

    send(
        &mut ws,
        &ClientMsg::StartSession {
            id: 9,
            session_id: "majors".into(),
        },
    )
    .await;
    let mut states = Vec::new();
    let mut added = Vec::new();
    let mut result = None;
    while result.is_none() {
        match recv(&mut ws).await {
            ServerMsg::SessionChanged(e) => {
                assert_eq!(e.seq, ss_seq + 1);
                ss_seq = e.seq;
                states.push(e.data.state);
            }
            ServerMsg::InstanceAdded(e) => {
                assert_eq!(e.seq, sm_seq + 1);
                sm_seq = e.seq;
                assert_eq!(e.data.state, "MONITORING");
                added.push(e.data.symbol);
            }
            ServerMsg::Result(r) => result = Some(r),
            other => panic!("unexpected {other:?}"),
        }
    }
    let r = result.unwrap();
    assert!(r.ok && r.id == 9, "{r:?}");
    assert_eq!(states, [SessionState::Starting, SessionState::Running]);
    assert_eq!(added, ["BTC_USDT", "ETH_USDT", "SOL_USDT"]);
    assert_eq!(b.symbols.borrow().len(), 4);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn idle_client_is_closed_4000_with_reason() {
    let mut cfg = test_config();
    cfg.server.ping_interval_ms = 100;
    cfg.server.idle_timeout_ms = 300;
    // The client reads only after the close was sent: it needs the production grace to answer.
    cfg.server.close_grace_ms = Config::defaults().server.close_grace_ms;
    let b = start(cfg).await;
    let mut ws = connect(&b).await;
    // Not polling the socket: no automatic pong, nothing inbound at all.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (code, reason) = expect_close(&mut ws, WAIT).await;
    assert_eq!(code, close::HEARTBEAT_TIMEOUT);
    assert_eq!(reason, "heartbeat timeout: no frame for 0.3s");

    // A client that keeps reading answers protocol Pings and stays connected.
    let mut alive = connect(&b).await;
    subscribe(&mut alive, 1, "health", None).await;
    let until = tokio::time::Instant::now() + Duration::from_millis(800);
    while tokio::time::Instant::now() < until {
        match recv(&mut alive).await {
            ServerMsg::Ack(_) | ServerMsg::FullUpdate(_) | ServerMsg::Health(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn wrong_token_is_closed_4501_and_rest_answers_401() {
    let mut cfg = test_config();
    cfg.server.token = "s3cret-token".into();
    let b = start(cfg).await;
    let mut ws = connect_url(&format!("{}?token=wrong", b.handle.ws_url())).await;
    let (code, reason) = expect_close(&mut ws, WAIT).await;
    assert_eq!((code, reason.as_str()), (close::AUTH_FAILED, "auth failed"));
    let mut ws = connect_url(&b.handle.ws_url()).await;
    assert_eq!(expect_close(&mut ws, WAIT).await.0, close::AUTH_FAILED);

    // Right token by query and by header.
    let mut ws = connect_url(&format!("{}?token=s3cret-token", b.handle.ws_url())).await;
    assert!(matches!(recv(&mut ws).await, ServerMsg::Hello(_)));
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = b.handle.ws_url().into_client_request().unwrap();
    req.headers_mut()
        .insert("Authorization", "Bearer s3cret-token".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert!(matches!(recv(&mut ws).await, ServerMsg::Hello(_)));

    let r = reqwest::get(b.http("/api/v1/health")).await.unwrap();
    assert_eq!(r.status(), 401);
    let e: RestError = r.json().await.unwrap();
    assert_eq!(e.error, "unauthorized");
    let r = reqwest::Client::new()
        .get(b.http("/api/v1/health"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn non_loopback_bind_without_token_is_refused() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let (_m, market) = tokio::sync::mpsc::channel(1);
    let (_u, upstream_rx) = tokio::sync::watch::channel(upstream(UpstreamState::Live));
    let (symbols, _s) = tokio::sync::watch::channel(Default::default());
    let (_l, log_events) = tokio::sync::mpsc::channel(1);
    let cfg = test_config();
    let r = trademon::backend::start(
        cfg.backend_settings(),
        cfg.build_engine().unwrap(),
        sessions(),
        listener,
        trademon::backend::BackendInputs {
            market,
            upstream: upstream_rx,
            symbols,
            feeds: tokio::sync::watch::channel(Default::default()).0,
            log_events,
            sessions_file: None,
            paper_journal: None,
            store: None,
            store_health: None,
            market_source: Default::default(),
        },
    )
    .await;
    let err = r
        .err()
        .expect("non-loopback bind without token must fail")
        .to_string();
    assert!(err.contains("server.token"), "{err}");
}

#[tokio::test]
async fn oversize_frame_is_closed_1009() {
    let mut cfg = test_config();
    cfg.server.max_frame_bytes = 16 * 1024;
    let b = start(cfg).await;
    let mut ws = connect(&b).await;
    ws.send(Message::text("x".repeat(64 * 1024))).await.unwrap();
    let (code, reason) = expect_close(&mut ws, WAIT).await;
    assert_eq!(code, close::MESSAGE_TOO_BIG);
    assert!(reason.starts_with("message too big"), "{reason}");
    b.handle.shutdown().await;
}

#[tokio::test]
async fn bad_frames_get_error_replies_then_4502() {
    let mut cfg = test_config();
    cfg.server.max_protocol_errors = 3;
    let b = start(cfg).await;
    let mut ws = connect(&b).await;
    ws.send(Message::text("{not json")).await.unwrap();
    let ServerMsg::Error(e) = recv(&mut ws).await else {
        panic!("expected error")
    };
    assert_eq!(e.code, error_code::INVALID_MESSAGE);
    ws.send(Message::text(r#"{"op":"dance","id":1}"#))
        .await
        .unwrap();
    let ServerMsg::Error(e) = recv(&mut ws).await else {
        panic!("expected error")
    };
    assert_eq!(e.code, error_code::INVALID_MESSAGE);
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    let ServerMsg::Error(e) = recv(&mut ws).await else {
        panic!("expected error")
    };
    assert_eq!(e.code, error_code::UNSUPPORTED_FRAME);
    // Still usable.
    send(&mut ws, &ClientMsg::Ping { id: 77 }).await;
    let ServerMsg::Pong(p) = recv(&mut ws).await else {
        panic!("expected pong")
    };
    assert_eq!(p.id, 77);
    ws.send(Message::text("[]")).await.unwrap();
    let (code, reason) = expect_close(&mut ws, WAIT).await;
    assert_eq!(code, close::PROTOCOL_VIOLATION);
    assert_eq!(reason, "protocol violation: 4 bad frames");
    b.handle.shutdown().await;
}

#[tokio::test]
async fn other_protocol_version_is_closed_4503() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    send(
        &mut ws,
        &ClientMsg::Hello {
            protocol: 99,
            client: "future".into(),
        },
    )
    .await;
    let (code, reason) = expect_close(&mut ws, WAIT).await;
    assert_eq!(code, close::UNSUPPORTED_VERSION);
    assert!(reason.contains("99"), "{reason}");
    b.handle.shutdown().await;
}

#[tokio::test]
async fn hold_pongs_withholds_app_pongs_while_data_flows() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    subscribe(&mut ws, 1, "market_data", Some("majors")).await;
    ack(recv(&mut ws).await, 1, StreamName::MarketData);
    full_update(recv(&mut ws).await);
    b.handle
        .hooks
        .hold_pongs
        .store(true, std::sync::atomic::Ordering::Relaxed);
    send(&mut ws, &ClientMsg::Ping { id: 1 }).await;
    let mut tickers = 0;
    for i in 0..20 {
        b.market
            .send(ticker("SOL_USDT", 150.0 + i as f64, None))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let until = tokio::time::Instant::now() + Duration::from_millis(400);
    while let Ok(frame) = tokio::time::timeout_at(until, ws.next()).await {
        if let Some(Ok(Message::Text(t))) = frame {
            match serde_json::from_str::<ServerMsg>(&t).unwrap() {
                ServerMsg::Ticker(_) => tickers += 1,
                ServerMsg::Pong(p) => panic!("pong {p:?} must be held"),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(tickers > 0, "data must keep flowing");
    b.handle
        .hooks
        .hold_pongs
        .store(false, std::sync::atomic::Ordering::Relaxed);
    send(&mut ws, &ClientMsg::Ping { id: 2 }).await;
    let id = recv_until(&mut ws, |m| match m {
        ServerMsg::Pong(p) => Some(p.id),
        _ => None,
    })
    .await;
    assert_eq!(id, 2);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn refuse_upgrades_answers_503_while_rest_snapshot_works() {
    let b = start(test_config()).await;
    b.handle
        .hooks
        .refuse_upgrades
        .store(true, std::sync::atomic::Ordering::Relaxed);
    match tokio_tungstenite::connect_async(b.handle.ws_url()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 503),
        Err(other) => panic!("expected HTTP 503, got {other}"),
        Ok(_) => panic!("upgrade must be refused"),
    }
    let r = reqwest::get(b.http("/api/v1/snapshot?session=majors"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let snap: RestSnapshot = r.json().await.unwrap();
    assert_eq!(snap.data.state_machines.unwrap().len(), 3);
    b.handle
        .hooks
        .refuse_upgrades
        .store(false, std::sync::atomic::Ordering::Relaxed);
    connect(&b).await;
    b.handle.shutdown().await;
}

#[tokio::test]
async fn events_stream_aggregates_repeats_and_reports_failed_symbols() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    subscribe(&mut ws, 1, "events", None).await;
    ack(recv(&mut ws).await, 1, StreamName::Events);
    full_update(recv(&mut ws).await);
    for _ in 0..3 {
        b.logs
            .send(LogEvent {
                ts: 5,
                level: Level::Error,
                name: "store.write".into(),
                message: "disk full".into(),
                count: 1,
            })
            .await
            .unwrap();
    }
    // Repeats aggregate only when consecutive, and market and log inputs are separate
    // channels with no order between them: see the repeats first, then fail a symbol.
    let mut counts = Vec::new();
    while counts.len() < 3 {
        if let ServerMsg::Event(e) = recv(&mut ws).await
            && e.data.name == "store.write"
        {
            counts.push(e.data.count);
        }
    }
    b.market
        .send(trademon::exchange::MarketEvent::SymbolFailed {
            symbol: "SOL_USDT".into(),
            reason: "Contract [SOL_USDT] not exists".into(),
        })
        .await
        .unwrap();
    let failed = loop {
        if let ServerMsg::Event(e) = recv(&mut ws).await
            && e.data.message.contains("SOL_USDT")
        {
            break e.data;
        }
    };
    assert_eq!(counts, [1, 2, 3]);
    assert_eq!(failed.level, Level::Error);
    assert!(failed.message.contains("not listed on MEXC"), "{failed:?}");
    b.handle.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_clients_1001_with_reason() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    let shutdown = tokio::spawn(b.handle.shutdown());
    let (code, reason) = expect_close(&mut ws, WAIT).await;
    assert_eq!(
        (code, reason.as_str()),
        (close::GOING_AWAY, "server shutting down")
    );
    shutdown.await.unwrap();
}
