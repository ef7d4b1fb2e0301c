use super::*;
use trademon_core::depth_book::DepthSnapshot;

const NOW_MS: i64 = 1_790_000_000_000;

fn limits() -> FeedLimits {
    FeedLimits {
        book_levels: 2,
        kline_history: 300,
        depth_buffer: 100,
        rest_gap: Duration::from_millis(1000),
        waf_cooldown: Duration::from_secs(60),
    }
}

fn want(symbol: &str, feed: Feed) -> FeedWant {
    FeedWant {
        symbol: symbol.into(),
        feed,
    }
}

fn wants(list: &[(&str, Feed)]) -> BTreeSet<FeedWant> {
    list.iter().map(|(s, f)| want(s, *f)).collect()
}

fn candle(t: i64, close: f64) -> Candle {
    Candle {
        t,
        open: 1.0,
        high: close.max(1.0),
        low: 1.0,
        close,
        volume: 1.0,
        amount: 1.0,
    }
}

fn lv(price: f64, contracts: f64) -> BookLevel {
    BookLevel {
        price,
        contracts,
        orders: 1,
    }
}

fn only_fetch(effects: &[Effect]) -> Fetch {
    match effects {
        [Effect::Fetch(f)] => f.clone(),
        other => panic!("expected one fetch: {other:?}"),
    }
}

fn emitted(effects: &[Effect]) -> Vec<MarketEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Emit(ev) => Some(ev.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn wants_become_at_most_three_streams_per_symbol_and_a_funding_fetch() {
    let t0 = Instant::now();
    let mut f = Feeds::new(limits());
    let e = f.set_wants(
        &wants(&[
            ("BTC_USDT", Feed::Kline(Interval::Min1)),
            ("BTC_USDT", Feed::Depth),
            ("bad/sym", Feed::Depth),
        ]),
        t0,
    );
    assert_eq!(
        e,
        vec![
            Effect::Rejected("bad/sym".into()),
            Effect::Fetch(Fetch::Funding {
                symbol: "BTC_USDT".into(),
                epoch: match &e[1] {
                    Effect::Fetch(Fetch::Funding { epoch, .. }) => *epoch,
                    _ => 0,
                },
                not_before: t0,
            })
        ]
    );
    let keys: Vec<Key> = f.keys().into_iter().collect();
    assert_eq!(
        keys,
        vec![
            (Channel::Kline(Interval::Min1), "BTC_USDT".to_string()),
            (Channel::Depth, "BTC_USDT".to_string()),
            (Channel::FundingRate, "BTC_USDT".to_string()),
        ]
    );
    // The same wants again: nothing new, no second funding fetch.
    assert!(
        f.set_wants(
            &wants(&[
                ("BTC_USDT", Feed::Kline(Interval::Min1)),
                ("BTC_USDT", Feed::Depth)
            ]),
            t0
        )
        .is_empty()
    );
    // Depth closed: kline and funding stay.
    f.set_wants(&wants(&[("BTC_USDT", Feed::Kline(Interval::Min1))]), t0);
    assert_eq!(f.keys().len(), 2);
    assert!(f.set_wants(&BTreeSet::new(), t0).is_empty());
    assert!(f.keys().is_empty());
    // A push for a feed nobody wants emits nothing.
    assert!(
        f.on_kline("BTC_USDT", Interval::Min1, candle(60, 1.0))
            .is_empty()
    );
    assert!(f.on_funding("BTC_USDT", 0.1, None).is_empty());
}

#[test]
fn kline_window_is_fetched_on_every_confirmation_from_the_last_candle_seen() {
    let t0 = Instant::now();
    let mut f = Feeds::new(limits());
    f.set_wants(&wants(&[("ETH_USDT", Feed::Kline(Interval::Min1))]), t0);
    let ch = Channel::Kline(Interval::Min1);
    let now_s = NOW_MS / 1000;
    let Fetch::Klines {
        start_s,
        end_s,
        epoch,
        ..
    } = only_fetch(&f.on_confirmed(ch, "ETH_USDT", NOW_MS, t0))
    else {
        panic!()
    };
    assert_eq!(
        (start_s, end_s),
        (now_s - 300 * 60, now_s),
        "kline_history candles back"
    );
    // Ack and first push both confirm: one window per connection.
    assert!(f.on_confirmed(ch, "ETH_USDT", NOW_MS, t0).is_empty());
    // A push arrives while the window is in flight: it is newer for its candle.
    let pushed = f.on_kline("ETH_USDT", Interval::Min1, candle(now_s - 60, 7.0));
    assert_eq!(
        emitted(&pushed),
        vec![MarketEvent::Candles {
            symbol: "ETH_USDT".into(),
            interval: Interval::Min1,
            candles: vec![candle(now_s - 60, 7.0)],
            source: DataSource::Ws
        }]
    );
    let window = vec![
        candle(now_s - 180, 1.0),
        candle(now_s - 120, 2.0),
        candle(now_s - 60, 3.0),
    ];
    let e = f.on_fetched(
        Fetched::Klines {
            symbol: "ETH_USDT".into(),
            interval: Interval::Min1,
            epoch,
            start_s,
            result: Ok(window.clone()),
        },
        NOW_MS,
        t0,
    );
    assert_eq!(
        emitted(&e),
        vec![MarketEvent::Candles {
            symbol: "ETH_USDT".into(),
            interval: Interval::Min1,
            candles: window[..2].to_vec(),
            source: DataSource::Rest
        }],
        "the pushed candle is not overwritten by the older REST copy"
    );
    // Reconnect: the answer to the old request is ignored, the next confirmation fetches
    // from the last candle seen (the pushed one, possibly still open then).
    f.on_connection_change();
    let late = f.on_fetched(
        Fetched::Klines {
            symbol: "ETH_USDT".into(),
            interval: Interval::Min1,
            epoch,
            start_s,
            result: Ok(window),
        },
        NOW_MS,
        t0,
    );
    assert!(late.is_empty());
    let later_ms = NOW_MS + 600_000;
    let Fetch::Klines { start_s, end_s, .. } =
        only_fetch(&f.on_confirmed(ch, "ETH_USDT", later_ms, t0))
    else {
        panic!()
    };
    assert_eq!((start_s, end_s), (now_s - 60, later_ms / 1000));
}

#[test]
fn kline_gap_fill_reaches_back_at_most_one_request() {
    let t0 = Instant::now();
    let mut f = Feeds::new(limits());
    f.set_wants(&wants(&[("ETH_USDT", Feed::Kline(Interval::Min1))]), t0);
    f.on_kline("ETH_USDT", Interval::Min1, candle(1_000_000, 1.0));
    let ch = Channel::Kline(Interval::Min1);
    let Fetch::Klines { start_s, end_s, .. } =
        only_fetch(&f.on_confirmed(ch, "ETH_USDT", NOW_MS, t0))
    else {
        panic!()
    };
    assert_eq!((end_s - start_s) / 60 + 1, MAX_KLINE_ROWS);
}

#[test]
fn failed_fetches_retry_after_the_gap_and_the_waf_cooldown() {
    let t0 = Instant::now();
    let mut f = Feeds::new(limits());
    f.set_wants(&wants(&[("ETH_USDT", Feed::Kline(Interval::Min5))]), t0);
    let Fetch::Klines { start_s, epoch, .. } =
        only_fetch(&f.on_confirmed(Channel::Kline(Interval::Min5), "ETH_USDT", NOW_MS, t0))
    else {
        panic!()
    };
    let e = f.on_fetched(
        Fetched::Klines {
            symbol: "ETH_USDT".into(),
            interval: Interval::Min5,
            epoch,
            start_s,
            result: Err(FeedRestError::Http(503)),
        },
        NOW_MS,
        t0,
    );
    assert!(
        matches!(&e[0], Effect::FetchFailed { what: "kline", retry_in, .. } if *retry_in == Some(Duration::from_secs(1)))
    );
    assert!(matches!(
        &e[1],
        Effect::Fetch(Fetch::Klines { start_s: s, end_s, not_before, .. })
            if *s == start_s && *end_s == NOW_MS / 1000 + 1 && *not_before == t0 + Duration::from_secs(1)
    ));
    let funding_epoch = f.funding["ETH_USDT"].epoch;
    let e = f.on_fetched(
        Fetched::Funding {
            symbol: "ETH_USDT".into(),
            epoch: funding_epoch,
            result: Err(FeedRestError::Waf),
        },
        NOW_MS,
        t0,
    );
    assert!(matches!(
        &e[1],
        Effect::Fetch(Fetch::Funding { not_before, .. }) if *not_before == t0 + Duration::from_secs(60)
    ));
    // The exchange refusing the request itself is not asked again every second.
    let e = f.on_fetched(
        Fetched::Funding {
            symbol: "ETH_USDT".into(),
            epoch: funding_epoch,
            result: Err(FeedRestError::Api {
                code: 1001,
                message: "contract not exists".into(),
            }),
        },
        NOW_MS,
        t0,
    );
    assert!(
        matches!(e.as_slice(), [Effect::FetchFailed { retry_in: None, .. }]),
        "{e:?}"
    );
    let e = f.on_fetched(
        Fetched::Funding {
            symbol: "ETH_USDT".into(),
            epoch: funding_epoch,
            result: Ok((0.0001, Some(NOW_MS + 3_600_000))),
        },
        NOW_MS,
        t0,
    );
    assert_eq!(
        emitted(&e),
        vec![MarketEvent::Funding {
            symbol: "ETH_USDT".into(),
            rate: 0.0001,
            next_settle_ms: Some(NOW_MS + 3_600_000)
        }]
    );
}

fn delta(begin: u64, end: u64, bids: &[(f64, f64)]) -> DepthDelta {
    DepthDelta {
        begin,
        end,
        bids: bids.iter().map(|&(p, c)| lv(p, c)).collect(),
        asks: Vec::new(),
    }
}

fn snapshot_answer(f: &mut Feeds, fetch: Fetch, version: u64, now: Instant) -> Vec<Effect> {
    let Fetch::Depth { symbol, epoch, .. } = fetch else {
        panic!("{fetch:?}")
    };
    f.on_fetched(
        Fetched::Depth {
            symbol,
            epoch,
            result: Ok((
                DepthSnapshot {
                    version,
                    bids: vec![lv(10.0, 1.0), lv(9.0, 1.0), lv(8.0, 1.0)],
                    asks: vec![lv(11.0, 1.0)],
                },
                Some(NOW_MS - 5),
            )),
        },
        NOW_MS,
        now,
    )
}

fn book_of(effects: &[Effect]) -> BookTop {
    match emitted(effects).as_slice() {
        [MarketEvent::Book(b)] => b.clone(),
        other => panic!("expected one book: {other:?}"),
    }
}

#[test]
fn depth_buffers_syncs_from_the_snapshot_and_resyncs_after_a_gap() {
    let t0 = Instant::now();
    let mut f = Feeds::new(limits());
    f.set_wants(&wants(&[("BTC_USDT", Feed::Depth)]), t0);
    // Pushes before the stream is confirmed wait; no snapshot is asked for yet.
    assert!(
        f.on_depth("BTC_USDT", delta(99, 101, &[(10.0, 5.0)]), None, NOW_MS, t0)
            .is_empty()
    );
    let fetch = only_fetch(&f.on_confirmed(Channel::Depth, "BTC_USDT", NOW_MS, t0));
    assert!(
        f.on_confirmed(Channel::Depth, "BTC_USDT", NOW_MS, t0)
            .is_empty()
    );
    let b = book_of(&snapshot_answer(&mut f, fetch, 100, t0));
    assert_eq!(
        (b.version, b.source, b.ts_ms),
        (101, DataSource::Rest, NOW_MS - 5)
    );
    assert_eq!(
        b.bids,
        vec![lv(10.0, 5.0), lv(9.0, 1.0)],
        "top book_levels, buffered frame applied"
    );
    // A change below the top is not shown again; one in the top is.
    assert!(
        f.on_depth(
            "BTC_USDT",
            delta(102, 102, &[(8.0, 3.0)]),
            Some(1),
            NOW_MS,
            t0
        )
        .is_empty()
    );
    let b = book_of(&f.on_depth(
        "BTC_USDT",
        delta(103, 104, &[(9.0, 2.0)]),
        Some(7),
        NOW_MS,
        t0,
    ));
    assert_eq!((b.version, b.source, b.ts_ms), (104, DataSource::Ws, 7));
    // 105 lost: a gap, counted, and a snapshot asked for no sooner than the pacing allows.
    let t1 = t0 + Duration::from_millis(300);
    let e = f.on_depth(
        "BTC_USDT",
        delta(106, 106, &[(10.0, 1.0)]),
        None,
        NOW_MS,
        t1,
    );
    assert_eq!(
        e[0],
        Effect::Gap {
            symbol: "BTC_USDT".into(),
            expected: 105,
            begin: 106
        }
    );
    let Effect::Fetch(fetch @ Fetch::Depth { not_before, .. }) = e[1].clone() else {
        panic!("{e:?}")
    };
    assert_eq!(
        not_before,
        t0 + Duration::from_millis(1000),
        "rest_gap after the last request"
    );
    // Frames keep buffering; one snapshot at a time.
    assert!(
        f.on_depth(
            "BTC_USDT",
            delta(107, 107, &[(12.0, 1.0)]),
            None,
            NOW_MS,
            t1
        )
        .is_empty()
    );
    // The snapshot is older than the buffered frames: asked again.
    let t2 = t0 + Duration::from_millis(1000);
    let again = only_fetch(&snapshot_answer(&mut f, fetch, 104, t2));
    assert!(
        matches!(again, Fetch::Depth { not_before, .. } if not_before == t2 + Duration::from_millis(1000))
    );
    let b = book_of(&snapshot_answer(&mut f, again, 105, t2));
    assert_eq!(b.version, 107);
    assert_eq!(b.bids[0], lv(12.0, 1.0));
}

#[test]
fn depth_starts_over_on_reconnect_and_ignores_old_answers() {
    let t0 = Instant::now();
    let mut f = Feeds::new(limits());
    f.set_wants(&wants(&[("BTC_USDT", Feed::Depth)]), t0);
    let fetch = only_fetch(&f.on_confirmed(Channel::Depth, "BTC_USDT", NOW_MS, t0));
    f.on_connection_change();
    assert!(
        snapshot_answer(&mut f, fetch, 100, t0).is_empty(),
        "answer for the old connection"
    );
    assert!(
        f.on_depth(
            "BTC_USDT",
            delta(101, 101, &[(10.0, 2.0)]),
            None,
            NOW_MS,
            t0
        )
        .is_empty()
    );
    let t1 = t0 + Duration::from_secs(5);
    let fetch = only_fetch(&f.on_confirmed(Channel::Depth, "BTC_USDT", NOW_MS, t1));
    assert!(matches!(fetch, Fetch::Depth { not_before, .. } if not_before == t1));
    let b = book_of(&snapshot_answer(&mut f, fetch, 100, t1));
    assert_eq!((b.version, b.bids[0]), (101, lv(10.0, 2.0)));
    // A resubscribe also starts the stream over.
    f.on_resubscribed(Channel::Depth, "BTC_USDT");
    assert!(
        f.on_depth(
            "BTC_USDT",
            delta(102, 102, &[(10.0, 3.0)]),
            None,
            NOW_MS,
            t1
        )
        .is_empty()
    );
}
