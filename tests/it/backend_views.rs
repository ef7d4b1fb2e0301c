//! The symbol view's streams (`candles`, `book`, `tape`) over real loopback sockets: subscribe
//! rules and errors, `full_update` then deltas in seq, the one-interval rule, book conflation
//! to `views.book_interval_ms` (paused time), the feeds the backend wants across connections,
//! candle merging when a REST window overlaps pushes, and closed candles stored once in QuestDB.
//!
//! Market events reach the hub in the order they are sent, so a later event's visible effect
//! proves the earlier ones were handled: the tests use that instead of waiting and hoping.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use support::*;
use tokio::sync::{mpsc, watch};
use trademon::backend::{self, BackendInputs};
use trademon::config::Config;
use trademon::exchange::{ContractSpec, ContractUpdate, MarketEvent, Side, Trade};
use trademon::protocol::{
    BookLevel, Candle, ClientMsg, DataSource, Envelope, ErrorReply, Interval, ServerMsg, Snapshot,
    StreamName, UpstreamState, error_code,
};
use trademon_core::market::{BookTop, Feed, FeedWant};
use trademon_questdb_double::TestServer;
use trademon_questdb_double::tables::Value;

const BTC: &str = "BTC_USDT";

fn op(
    subscribe: bool,
    id: u64,
    stream: &str,
    symbol: Option<&str>,
    interval: Option<&str>,
) -> ClientMsg {
    let (stream, symbol, interval) = (
        stream.to_string(),
        symbol.map(str::to_string),
        interval.map(str::to_string),
    );
    if subscribe {
        ClientMsg::Subscribe {
            id,
            stream,
            session_id: None,
            symbol,
            interval,
        }
    } else {
        ClientMsg::Unsubscribe {
            id,
            stream,
            session_id: None,
            symbol,
            interval,
        }
    }
}

async fn sub(ws: &mut Ws, id: u64, stream: &str, symbol: Option<&str>, interval: Option<&str>) {
    send(ws, &op(true, id, stream, symbol, interval)).await;
}

async fn unsub(ws: &mut Ws, id: u64, stream: &str, symbol: Option<&str>, interval: Option<&str>) {
    send(ws, &op(false, id, stream, symbol, interval)).await;
}

async fn ack(ws: &mut Ws, id: u64, stream: StreamName) {
    match recv(ws).await {
        ServerMsg::Ack(a) => assert_eq!((a.id, a.stream), (id, stream)),
        other => panic!("expected ack {id}, got {other:?}"),
    }
}

async fn full(ws: &mut Ws) -> Envelope<Snapshot> {
    match recv(ws).await {
        ServerMsg::FullUpdate(e) => e,
        other => panic!("expected full_update, got {other:?}"),
    }
}

/// `ack` then `full_update` of a fresh subscription.
async fn subscribed(
    ws: &mut Ws,
    id: u64,
    stream: StreamName,
    symbol: &str,
    interval: Option<&str>,
) -> Envelope<Snapshot> {
    sub(ws, id, stream.as_str(), Some(symbol), interval).await;
    ack(ws, id, stream).await;
    let f = full(ws).await;
    assert_eq!((f.stream, f.symbol.as_deref()), (stream, Some(symbol)));
    assert_eq!(f.session_id, None);
    f
}

async fn error(ws: &mut Ws, id: u64) -> ErrorReply {
    match recv(ws).await {
        ServerMsg::Error(e) => {
            assert_eq!(e.id, Some(id));
            e
        }
        other => panic!("expected error {id}, got {other:?}"),
    }
}

fn candle(t: i64, close: f64) -> Candle {
    Candle {
        t,
        open: 100.0,
        high: close.max(100.0),
        low: close.min(100.0),
        close,
        volume: 3.0,
        amount: 300.0,
    }
}

fn candles(interval: Interval, list: Vec<Candle>, source: DataSource) -> MarketEvent {
    MarketEvent::Candles {
        symbol: BTC.into(),
        interval,
        candles: list,
        source,
    }
}

fn book(symbol: &str, version: u64) -> MarketEvent {
    let level = |price: f64| BookLevel {
        price,
        contracts: 5.0,
        orders: 2,
    };
    MarketEvent::Book(BookTop {
        symbol: symbol.into(),
        version,
        bids: vec![level(99.5), level(99.0)],
        asks: vec![level(100.5)],
        ts_ms: 1_763_772_000_000 + version as i64,
        source: DataSource::Ws,
        gaps: 0,
    })
}

fn trades(ids: &[u64]) -> MarketEvent {
    MarketEvent::Trades {
        symbol: BTC.into(),
        trades: ids
            .iter()
            .map(|&id| Trade {
                id: Some(id),
                price: 100.0 + id as f64,
                contracts: id as f64,
                taker: if id % 2 == 0 { Side::Buy } else { Side::Sell },
                ts_ms: 1_763_772_000_000 + id as i64,
                self_trade: id == 2,
            })
            .collect(),
        source: DataSource::Ws,
    }
}

fn want(symbol: &str, feed: Feed) -> FeedWant {
    FeedWant {
        symbol: symbol.into(),
        feed,
    }
}

fn wanted(b: &TestBackend) -> BTreeSet<FeedWant> {
    b.feeds.borrow().clone()
}

/// Waits until the wanted feeds are `want` (a connection's close reaches the hub on its own).
async fn until_wanted(b: &TestBackend, want: BTreeSet<FeedWant>) {
    let mut rx = b.feeds.clone();
    tokio::time::timeout(WAIT, rx.wait_for(|s| *s == want))
        .await
        .unwrap_or_else(|_| panic!("feeds never became {want:?}; now {:?}", wanted(b)))
        .expect("the backend dropped the feeds channel");
}

/// The next `candles` delta.
async fn candles_delta(ws: &mut Ws) -> Envelope<trademon::protocol::CandlesUpdate> {
    match recv(ws).await {
        ServerMsg::Candles(e) => e,
        other => panic!("expected a candles delta, got {other:?}"),
    }
}

fn ts(list: &[Candle]) -> Vec<i64> {
    list.iter().map(|c| c.t).collect()
}

fn spec(symbol: &str, price_scale: u32) -> ContractSpec {
    ContractSpec {
        symbol: symbol.into(),
        contract_size: 0.0001,
        price_scale,
        price_unit: 0.1,
        vol_scale: 0,
        vol_unit: 1.0,
        min_vol: 1.0,
        max_vol: 1_000_000.0,
        max_leverage: 125.0,
        maintenance_margin_rate: 0.004,
        state: 0,
    }
}

#[tokio::test]
async fn per_symbol_subscriptions_check_symbol_and_interval_and_name_the_valid_choices() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    let session_symbols = ["BTC_USDT", "DOGE_USDT", "ETH_USDT", "SOL_USDT"];

    sub(&mut ws, 1, "book", None, None).await;
    let e = error(&mut ws, 1).await;
    assert_eq!(e.code, error_code::INVALID_MESSAGE);
    assert!(e.message.contains("needs a symbol"), "{}", e.message);
    assert_eq!(e.valid, session_symbols);

    sub(&mut ws, 2, "tape", Some("btc_usdt"), None).await;
    let e = error(&mut ws, 2).await;
    assert_eq!(e.code, error_code::INVALID_SYMBOL);
    assert!(e.message.contains("btc_usdt"), "{}", e.message);

    sub(&mut ws, 3, "book", Some("XRP_USDT"), None).await;
    let e = error(&mut ws, 3).await;
    assert_eq!(e.code, error_code::INVALID_SYMBOL);
    assert!(e.message.contains("not listed"), "{}", e.message);
    assert_eq!(e.valid, session_symbols);

    sub(&mut ws, 4, "candles", Some(BTC), None).await;
    let e = error(&mut ws, 4).await;
    assert_eq!(e.code, error_code::INVALID_MESSAGE);
    assert!(e.message.contains("interval"), "{}", e.message);
    let intervals: Vec<String> = Interval::ALL.iter().map(|i| i.to_string()).collect();
    assert_eq!(e.valid, intervals);

    sub(&mut ws, 5, "candles", Some(BTC), Some("Hour1")).await;
    let e = error(&mut ws, 5).await;
    assert_eq!(e.code, error_code::INVALID_MESSAGE);
    assert!(e.message.contains("Hour1"), "{}", e.message);
    assert_eq!(e.valid, intervals);

    unsub(&mut ws, 6, "book", None, None).await;
    assert_eq!(error(&mut ws, 6).await.code, error_code::INVALID_MESSAGE);
    assert!(
        wanted(&b).is_empty(),
        "a refused subscription wants nothing"
    );

    // A contract MEXC lists can be viewed though no session has it; the book carries its
    // contract size and price decimals. The market_data subscription is the barrier: BTC's
    // ticker with decimals shows the contracts were taken in.
    subscribe(&mut ws, 7, "market_data", Some("majors")).await;
    ack(&mut ws, 7, StreamName::MarketData).await;
    full(&mut ws).await;
    let update = ContractUpdate {
        specs: vec![spec("XRP_USDT", 4), spec(BTC, 1)],
        unlisted: Vec::new(),
    };
    b.market.send(MarketEvent::Contracts(update)).await.unwrap();
    b.market.send(ticker(BTC, 100.0, None)).await.unwrap();
    recv_until(&mut ws, |m| match m {
        ServerMsg::Ticker(e) if e.data.price_decimals == Some(1) => Some(()),
        _ => None,
    })
    .await;
    let f = subscribed(&mut ws, 8, StreamName::Book, "XRP_USDT", None).await;
    assert!(f.data.book.is_none(), "no top has arrived yet");
    assert_eq!(wanted(&b), BTreeSet::from([want("XRP_USDT", Feed::Depth)]));
    b.market.send(book("XRP_USDT", 7)).await.unwrap();
    let got = recv_until(&mut ws, |m| match m {
        ServerMsg::Book(e) => Some(e),
        _ => None,
    })
    .await;
    assert_eq!(
        (got.seq, got.symbol.as_deref()),
        (f.seq + 1, Some("XRP_USDT"))
    );
    let d = got.data;
    assert_eq!(
        (d.version, d.price_decimals, d.contract_size),
        (7, Some(4), Some(0.0001))
    );
    assert_eq!((d.bids.len(), d.asks.len(), d.gaps), (2, 1, 0));
    assert_eq!(d.source, DataSource::Ws);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn candles_full_update_then_deltas_in_seq_and_one_interval_per_symbol() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    // The tape is the barrier for "nothing else came" below.
    subscribed(&mut ws, 1, StreamName::Tape, BTC, None).await;
    let f = subscribed(&mut ws, 2, StreamName::Candles, BTC, Some("Min1")).await;
    assert_eq!(f.interval, Some(Interval::Min1));
    let c = f.data.candles.expect("candles in the full_update");
    assert_eq!((c.interval, c.candles.len()), (Interval::Min1, 0));
    assert_eq!(
        wanted(&b),
        BTreeSet::from([want(BTC, Feed::Kline(Interval::Min1))])
    );

    // History from REST, then the live candle.
    let history = vec![candle(0, 101.0), candle(60, 102.0), candle(120, 103.0)];
    b.market
        .send(candles(Interval::Min1, history, DataSource::Rest))
        .await
        .unwrap();
    b.market
        .send(candles(
            Interval::Min1,
            vec![candle(120, 104.0)],
            DataSource::Ws,
        ))
        .await
        .unwrap();
    let d1 = candles_delta(&mut ws).await;
    assert_eq!(
        (d1.seq, d1.interval, d1.symbol.as_deref()),
        (f.seq + 1, Some(Interval::Min1), Some(BTC))
    );
    assert_eq!(ts(&d1.data.candles), [0, 60, 120]);
    let d2 = candles_delta(&mut ws).await;
    assert_eq!(d2.seq, f.seq + 2);
    assert_eq!(d2.data.candles, [candle(120, 104.0)]);

    // Another interval of the same symbol replaces the subscription (and the wanted feed).
    let f5 = subscribed(&mut ws, 3, StreamName::Candles, BTC, Some("Min5")).await;
    assert_eq!(f5.interval, Some(Interval::Min5));
    assert!(f5.data.candles.unwrap().candles.is_empty());
    assert_eq!(
        wanted(&b),
        BTreeSet::from([want(BTC, Feed::Kline(Interval::Min5))])
    );
    b.market
        .send(candles(
            Interval::Min1,
            vec![candle(180, 105.0)],
            DataSource::Ws,
        ))
        .await
        .unwrap();
    b.market
        .send(candles(
            Interval::Min5,
            vec![candle(300, 106.0)],
            DataSource::Ws,
        ))
        .await
        .unwrap();
    let d = candles_delta(&mut ws).await;
    assert_eq!(
        (d.interval, d.seq),
        (Some(Interval::Min5), f5.seq + 1),
        "Min1 no longer comes"
    );

    // Unsubscribing names the symbol; the interval followed goes whatever it is.
    unsub(&mut ws, 4, "candles", Some(BTC), None).await;
    ack(&mut ws, 4, StreamName::Candles).await;
    assert!(wanted(&b).is_empty());
    b.market
        .send(candles(
            Interval::Min5,
            vec![candle(600, 107.0)],
            DataSource::Ws,
        ))
        .await
        .unwrap();
    b.market.send(trades(&[1])).await.unwrap();
    match recv(&mut ws).await {
        ServerMsg::Tape(e) => assert_eq!(e.data.trades.len(), 1),
        other => panic!("no candles after the unsubscribe; got {other:?}"),
    }
    b.handle.shutdown().await;
}

/// A reconnect mid-candle: the REST window that fills the gap overlaps the pushes already
/// seen. The client's series (deltas applied by `t`) stays continuous, the window's values win
/// for the candles it covers, and a repeated push changes nothing (no delta, no seq).
#[tokio::test]
async fn a_rest_window_overlapping_pushes_leaves_a_continuous_series() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    let f = subscribed(&mut ws, 1, StreamName::Candles, BTC, Some("Min1")).await;
    let mut model: BTreeMap<i64, Candle> = BTreeMap::new();
    let mut seq = f.seq;
    let mut apply = |e: Envelope<trademon::protocol::CandlesUpdate>,
                     model: &mut BTreeMap<i64, Candle>| {
        assert_eq!(e.seq, seq + 1, "ordered stream: no gap, no repeat");
        seq = e.seq;
        for c in e.data.candles {
            model.insert(c.t, c);
        }
    };
    for t in 0..4 {
        b.market
            .send(candles(
                Interval::Min1,
                vec![candle(t * 60, 110.0 + t as f64)],
                DataSource::Ws,
            ))
            .await
            .unwrap();
        apply(candles_delta(&mut ws).await, &mut model);
    }
    // The link dropped during minute 3; the adapter fetched minutes 2..7 from REST.
    let window: Vec<Candle> = (2..8).map(|t| candle(t * 60, 120.0 + t as f64)).collect();
    b.market
        .send(candles(Interval::Min1, window.clone(), DataSource::Rest))
        .await
        .unwrap();
    apply(candles_delta(&mut ws).await, &mut model);
    // The same push twice and the same window again: nothing changes.
    b.market
        .send(candles(Interval::Min1, vec![window[5]], DataSource::Ws))
        .await
        .unwrap();
    b.market
        .send(candles(Interval::Min1, window.clone(), DataSource::Rest))
        .await
        .unwrap();
    b.market
        .send(candles(
            Interval::Min1,
            vec![candle(480, 130.0)],
            DataSource::Ws,
        ))
        .await
        .unwrap();
    let next = candles_delta(&mut ws).await;
    assert_eq!(
        next.data.candles,
        [candle(480, 130.0)],
        "duplicates made no delta"
    );
    apply(next, &mut model);

    let times: Vec<i64> = model.keys().copied().collect();
    assert_eq!(
        times,
        (0..=8).map(|t| t * 60).collect::<Vec<_>>(),
        "no hole"
    );
    assert_eq!(
        model[&120].close, 122.0,
        "the REST value replaced the pushed one"
    );
    assert_eq!(model[&60].close, 111.0);
    // A new viewer's full_update is the same series.
    let mut ws2 = connect(&b).await;
    let f2 = subscribed(&mut ws2, 1, StreamName::Candles, BTC, Some("Min1")).await;
    let series = f2.data.candles.unwrap().candles;
    assert_eq!(series, model.values().copied().collect::<Vec<_>>());
    assert_eq!(f2.seq, seq);
    b.handle.shutdown().await;
}

/// Books (version 1..=30) arrive every 10 ms of (paused) time; returns (seq, version) of the
/// books a viewer got, the last one being version 30.
async fn books_seen(book_interval_ms: u64) -> Vec<(u64, u64)> {
    let mut cfg = test_config();
    cfg.views.book_interval_ms = book_interval_ms;
    let b = start(cfg).await;
    let mut ws = connect(&b).await;
    let f = subscribed(&mut ws, 1, StreamName::Book, BTC, None).await;
    assert_eq!(wanted(&b), BTreeSet::from([want(BTC, Feed::Depth)]));
    for version in 1..=30 {
        b.market.send(book(BTC, version)).await.unwrap();
        tokio::time::advance(Duration::from_millis(10)).await;
    }
    let mut got: Vec<(u64, u64)> = Vec::new();
    while got.last().is_none_or(|&(_, v)| v < 30) {
        match recv(&mut ws).await {
            ServerMsg::Book(e) => got.push((e.seq, e.data.version)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got[0].0, f.seq + 1);
    for w in got.windows(2) {
        assert_eq!(w[1].0, w[0].0 + 1, "seq in order: {got:?}");
        assert!(w[1].1 > w[0].1, "each book newer than the last: {got:?}");
    }
    b.handle.shutdown().await;
    got
}

/// 30 tops in 300 ms: with `views.book_interval_ms` 100 a viewer gets one book per 100 ms (at
/// most 4, each the newest top at its tick, the last one the newest of all); a shorter interval
/// lets more through, so the interval is what bounds them.
#[tokio::test(start_paused = true)]
async fn the_book_goes_out_at_most_once_per_interval_with_the_newest_top() {
    let slow = books_seen(100).await;
    assert!((2..=4).contains(&slow.len()), "{slow:?}");
    assert!(
        slow.windows(2).any(|w| w[1].1 > w[0].1 + 1),
        "tops in between were skipped: {slow:?}"
    );
    let fast = books_seen(20).await;
    assert!(
        fast.len() >= 10,
        "a 20 ms interval lets about 15 through: {fast:?}"
    );
    assert!(fast.len() <= 16, "still at most one per 20 ms: {fast:?}");
}

#[tokio::test]
async fn a_feed_stays_wanted_while_any_connection_views_it_and_goes_with_the_last() {
    let b = start(test_config()).await;
    let (mut ws1, mut ws2) = (connect(&b).await, connect(&b).await);
    subscribed(&mut ws1, 1, StreamName::Book, BTC, None).await;
    subscribed(&mut ws1, 2, StreamName::Candles, BTC, Some("Min15")).await;
    subscribed(&mut ws2, 1, StreamName::Book, BTC, None).await;
    // Subscribing again is a fresh full_update, not a second viewer.
    subscribed(&mut ws2, 2, StreamName::Book, BTC, None).await;
    let both = BTreeSet::from([
        want(BTC, Feed::Depth),
        want(BTC, Feed::Kline(Interval::Min15)),
    ]);
    assert_eq!(wanted(&b), both);
    // Tape needs no feed of its own.
    subscribed(&mut ws2, 3, StreamName::Tape, BTC, None).await;
    assert_eq!(wanted(&b), both);

    // ws1 goes away: its candles go, the book stays for ws2.
    ws1.close(None).await.unwrap();
    until_wanted(&b, BTreeSet::from([want(BTC, Feed::Depth)])).await;
    unsub(&mut ws2, 4, "book", Some(BTC), None).await;
    ack(&mut ws2, 4, StreamName::Book).await;
    assert!(wanted(&b).is_empty(), "one unsubscribe ends the one view");
    // Unsubscribing what is not followed is acked and changes nothing.
    unsub(&mut ws2, 5, "book", Some(BTC), None).await;
    ack(&mut ws2, 5, StreamName::Book).await;
    subscribed(&mut ws2, 6, StreamName::Book, "ETH_USDT", None).await;
    assert_eq!(wanted(&b), BTreeSet::from([want("ETH_USDT", Feed::Depth)]));
    drop(ws2);
    until_wanted(&b, BTreeSet::new()).await;
    b.handle.shutdown().await;
}

#[tokio::test]
async fn the_tape_has_the_newest_trades_then_only_new_ones() {
    let b = start(test_config()).await;
    let mut ws = connect(&b).await;
    // Trades flow for session symbols whether or not anyone views the tape; the ticker
    // moving to the last trade shows the hub took them in.
    subscribe(&mut ws, 1, "market_data", Some("majors")).await;
    ack(&mut ws, 1, StreamName::MarketData).await;
    full(&mut ws).await;
    b.market.send(trades(&[3, 1, 2])).await.unwrap();
    recv_until(&mut ws, |m| match m {
        ServerMsg::Ticker(e) if e.data.last == 103.0 => Some(()),
        _ => None,
    })
    .await;
    let f = subscribed(&mut ws, 2, StreamName::Tape, BTC, None).await;
    let tape = f.data.tape.expect("tape in the full_update");
    let ids: Vec<_> = tape.trades.iter().map(|t| t.id).collect();
    assert_eq!(ids, [Some(1), Some(2), Some(3)], "oldest first");
    let flags: Vec<_> = tape.trades.iter().map(|t| t.self_trade).collect();
    assert_eq!(
        flags,
        [false, true, false],
        "MEXC's self-trade flag is kept"
    );
    assert_eq!(tape.trades[0].taker, trademon::protocol::Side::Sell);
    assert!(wanted(&b).is_empty());

    b.market.send(trades(&[3, 4])).await.unwrap();
    let d = recv_until(&mut ws, |m| match m {
        ServerMsg::Tape(e) => Some(e),
        _ => None,
    })
    .await;
    assert_eq!(d.seq, f.seq + 1);
    let ids: Vec<_> = d.data.trades.iter().map(|t| t.id).collect();
    assert_eq!(
        ids,
        [Some(4)],
        "a trade already on the tape is not sent again"
    );
    b.handle.shutdown().await;
}

/// A backend writing to the in-repo QuestDB double.
async fn start_with_store(
    server: &TestServer,
    dir: &std::path::Path,
) -> (TestBackend, trademon::store::StoreHandle) {
    let cfg: Config = test_config();
    let settings = trademon::store::StoreSettings::for_test(server.addr(), dir);
    let (store, store_health) = trademon::store::spawn_with(settings).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (market, market_rx) = mpsc::channel(1024);
    let (upstream, upstream_rx) = watch::channel(support::upstream(UpstreamState::Live));
    let (symbols_tx, symbols) = watch::channel(BTreeSet::new());
    let (feeds_tx, feeds) = watch::channel(BTreeSet::new());
    let (logs, logs_rx) = mpsc::channel(16);
    let handle = backend::start(
        cfg.backend_settings(),
        cfg.build_engine().unwrap(),
        sessions(),
        listener,
        BackendInputs {
            market: market_rx,
            upstream: upstream_rx,
            symbols: symbols_tx,
            feeds: feeds_tx,
            log_events: logs_rx,
            sessions_file: None,
            paper_journal: None,
            store: Some(store.clone()),
            store_health: Some(store_health),
            market_source: Default::default(),
        },
    )
    .await
    .unwrap();
    let b = TestBackend {
        handle,
        market,
        upstream,
        symbols,
        feeds,
        logs,
    };
    (b, store)
}

async fn flush(store: &trademon::store::StoreHandle) -> bool {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.flush_blocking(Duration::from_secs(5)))
        .await
        .unwrap()
}

/// Each candle reaches QuestDB once it has closed (a newer one exists), whether it came from
/// REST history or from pushes, and once only: repeated pushes and windows write nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn klines_are_stored_once_per_closed_candle() {
    let server = TestServer::start().unwrap();
    let dir = std::env::temp_dir().join(format!(
        "trademon-views-klines-{}-{}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let (b, store) = start_with_store(&server, &dir).await;
    let mut ws = connect(&b).await;
    // Once the client's link row is written the tables exist and passed the schema check.
    // Without DEDUP every write of a candle shows as a row of its own: a candle written twice
    // would be two rows, not one upserted.
    assert!(flush(&store).await, "the store flushed");
    server.with_catalog(|c| c.get_mut("klines").expect("klines created").dedup.clear());
    subscribed(&mut ws, 1, StreamName::Candles, BTC, Some("Min5")).await;
    let history: Vec<Candle> = (0..4).map(|t| candle(t * 300, 100.0 + t as f64)).collect();
    let mut again = history.clone();
    again[3] = candle(900, 99.0);
    let events = [
        // History: 0, 300 and 600 are closed, 900 may be open.
        candles(Interval::Min5, history.clone(), DataSource::Rest),
        // The open candle moves, then a new one closes it.
        candles(Interval::Min5, vec![candle(900, 99.0)], DataSource::Ws),
        candles(Interval::Min5, vec![candle(1200, 98.0)], DataSource::Ws),
        // Repeats: the push, and a REST window that agrees with what is known.
        candles(Interval::Min5, vec![candle(1200, 98.0)], DataSource::Ws),
        candles(Interval::Min5, again, DataSource::Rest),
        candles(Interval::Min5, vec![candle(1200, 97.0)], DataSource::Ws),
    ];
    for ev in events {
        b.market.send(ev).await.unwrap();
    }
    // Rows go to the store before the delta goes out: the last delta means all were sent.
    recv_until(&mut ws, |m| match m {
        ServerMsg::Candles(e) if e.data.candles == [candle(1200, 97.0)] => Some(()),
        _ => None,
    })
    .await;
    assert!(flush(&store).await, "the store flushed");

    let (opens, closes, symbols, intervals) = server.with_catalog(|c| {
        let t = c.get("klines").expect("klines table created");
        (
            t.column_values("ts"),
            t.column_values("close"),
            t.column_values("symbol"),
            t.column_values("interval"),
        )
    });
    let mut stored: Vec<(i64, Option<Value>)> = opens
        .into_iter()
        .map(|v| match v {
            Some(Value::Ts(us)) => us / 1_000_000,
            other => panic!("ts {other:?}"),
        })
        .zip(closes)
        .collect();
    stored.sort_by_key(|(t, _)| *t);
    let opens: Vec<i64> = stored.iter().map(|(t, _)| *t).collect();
    assert_eq!(
        opens,
        [0, 300, 600, 900],
        "each closed candle once, by open time"
    );
    assert_eq!(
        stored[3].1,
        Some(Value::Double(99.0)),
        "the candle's last value"
    );
    assert!(symbols.iter().all(|s| *s == Some(Value::Str(BTC.into()))));
    assert!(
        intervals
            .iter()
            .all(|s| *s == Some(Value::Str("Min5".into())))
    );
    b.handle.shutdown().await;
    tokio::task::spawn_blocking(move || store.shutdown())
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
