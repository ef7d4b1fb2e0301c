use super::*;
use trademon_protocol::BookLevel;

fn cfg() -> ViewsConfig {
    ViewsConfig {
        candles_max: 100,
        tape_max: 3,
        book_interval_ms: 100,
    }
}

fn views() -> (Views, watch::Receiver<BTreeSet<FeedWant>>) {
    let (tx, rx) = watch::channel(BTreeSet::new());
    (Views::new(&cfg(), tx), rx)
}

fn book_key(symbol: &str) -> StreamKey {
    StreamKey::symbol(StreamName::Book, symbol.into(), None)
}

fn candles_key(symbol: &str, i: Interval) -> StreamKey {
    StreamKey::symbol(StreamName::Candles, symbol.into(), Some(i))
}

fn top(symbol: &str, version: u64, source: DataSource) -> BookTop {
    let level = |price: f64| BookLevel {
        price,
        contracts: 1.0,
        orders: 1,
    };
    BookTop {
        symbol: symbol.into(),
        version,
        bids: vec![level(99.0)],
        asks: vec![level(101.0)],
        ts_ms: 1_000 + version as i64,
        source,
        gaps: 0,
    }
}

fn candle(t: i64) -> Candle {
    Candle {
        t,
        open: 1.0,
        high: 2.0,
        low: 0.5,
        close: 1.5,
        volume: 10.0,
        amount: 15.0,
    }
}

fn trade(id: u64, ts_ms: i64) -> Trade {
    Trade {
        id: Some(id),
        price: 100.0,
        contracts: 2.0,
        taker: Side::Sell,
        ts_ms,
        self_trade: id == 2,
    }
}

#[test]
fn a_book_goes_out_once_per_flush_with_its_newest_top() {
    let (mut v, _rx) = views();
    v.on_book(top("BTC_USDT", 1, DataSource::Ws), 5);
    assert!(
        v.take_books(|_| ContractInfo::default()).is_empty(),
        "nobody views it"
    );
    v.view(&book_key("BTC_USDT"));
    for version in 1..=20 {
        v.on_book(
            top("BTC_USDT", version, DataSource::Ws),
            100 + version as i64,
        );
    }
    let info = ContractInfo {
        price_decimals: Some(1),
        contract_size: Some(0.0001),
    };
    let out = v.take_books(|_| info);
    assert_eq!(out.len(), 1);
    let b = &out[0];
    assert_eq!(
        (b.version, b.received_ms, b.exchange_ts_ms),
        (20, 120, 1_020)
    );
    assert_eq!((b.price_decimals, b.contract_size), (Some(1), Some(0.0001)));
    assert_eq!((b.gaps, b.source), (0, DataSource::Ws));
    assert!(
        v.take_books(|_| info).is_empty(),
        "unchanged since: nothing"
    );
}

#[test]
fn the_adapters_gap_count_is_served_and_an_older_version_never_replaces_a_newer() {
    let (mut v, _rx) = views();
    v.view(&book_key("BTC_USDT"));
    v.on_book(top("BTC_USDT", 9, DataSource::Rest), 1);
    v.on_book(
        BookTop {
            gaps: 1,
            ..top("BTC_USDT", 10, DataSource::Ws)
        },
        2,
    );
    // During a connection rotation both links emit the book: the older one is ignored.
    v.on_book(top("BTC_USDT", 8, DataSource::Ws), 3);
    let out = v.take_books(|_| ContractInfo::default());
    assert_eq!(
        (out[0].gaps, out[0].version, out[0].received_ms),
        (1, 10, 2)
    );
    let snap = v.snapshot(&book_key("BTC_USDT"), ContractInfo::default());
    assert_eq!(snap.book.map(|b| b.gaps), Some(1));
}

#[test]
fn the_last_viewer_leaving_drops_the_book_and_candles() {
    let (mut v, rx) = views();
    let (book, m1) = (
        book_key("BTC_USDT"),
        candles_key("BTC_USDT", Interval::Min1),
    );
    v.view(&book);
    v.view(&book);
    v.view(&m1);
    assert_eq!(rx.borrow().len(), 2);
    v.on_book(top("BTC_USDT", 1, DataSource::Ws), 1);
    assert_eq!(
        v.on_candles("BTC_USDT", Interval::Min1, &[candle(60)])
            .changed
            .len(),
        1
    );
    // Another interval nobody views is not kept.
    let other = v.on_candles("BTC_USDT", Interval::Min5, &[candle(300)]);
    assert_eq!(other, Merged::default());
    v.unview(&book);
    assert!(
        v.snapshot(&book, ContractInfo::default()).book.is_some(),
        "one viewer left"
    );
    v.unview(&book);
    v.unview(&m1);
    assert!(rx.borrow().is_empty());
    assert!(v.snapshot(&book, ContractInfo::default()).book.is_none());
    let candles = v.snapshot(&m1, ContractInfo::default()).candles.unwrap();
    assert!(candles.candles.is_empty());
    // Late data of the closed feeds is not kept.
    v.on_book(top("BTC_USDT", 2, DataSource::Ws), 2);
    assert!(v.take_books(|_| ContractInfo::default()).is_empty());
}

#[test]
fn the_tape_keeps_the_newest_trades_oldest_first_once_each() {
    let (mut v, _rx) = views();
    let new = v.on_trades("BTC_USDT", &[trade(2, 20), trade(1, 10)]);
    assert_eq!(
        new.iter().map(|t| t.id).collect::<Vec<_>>(),
        [Some(1), Some(2)]
    );
    assert!(new[1].self_trade && !new[0].self_trade);
    assert_eq!(new[0].taker, trademon_protocol::Side::Sell);
    // A trade already on the tape is not new again.
    let new = v.on_trades("BTC_USDT", &[trade(2, 20), trade(3, 30), trade(4, 40)]);
    assert_eq!(
        new.iter().map(|t| t.id).collect::<Vec<_>>(),
        [Some(3), Some(4)]
    );
    let tape = v
        .snapshot(
            &StreamKey::symbol(StreamName::Tape, "BTC_USDT".into(), None),
            ContractInfo::default(),
        )
        .tape
        .unwrap();
    let ids: Vec<_> = tape.trades.iter().map(|t| t.id).collect();
    assert_eq!(
        ids,
        [Some(2), Some(3), Some(4)],
        "capped at tape_max, oldest dropped"
    );
}
