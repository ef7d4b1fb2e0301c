//! The symbol view's feeds (kline, depth, funding rate) against the fake exchange: a chart
//! without holes across a reconnect, a book that matches the exchange's through a version gap,
//! and feeds that open and close with the wants. Paused clock, like the fault tests above.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::time::sleep;

use super::fake::{Cmd, Fake, Levels, Market, Ohlc, Rest};
use super::{Run, cfg, start, until};
use trademon::exchange::mexc::{Feed, FeedWant};
use trademon::protocol::{BookLevel, Candle, DataSource, Interval, UpstreamState, now_ms};

/// An hour before now: every candle the fake makes stays in the wall clock's past, where the
/// adapter's REST window (which ends now) reaches it.
fn an_hour_ago_minute() -> i64 {
    let s = now_ms() / 1000;
    s - s % 60 - 3600
}

fn wants(list: &[(&str, Feed)]) -> BTreeSet<FeedWant> {
    list.iter()
        .map(|(s, f)| FeedWant {
            symbol: s.to_string(),
            feed: *f,
        })
        .collect()
}

async fn stack(minute: i64, symbols: &[&str]) -> (Fake, Rest, Run) {
    let market = Arc::new(Mutex::new(Market::new(minute, 30)));
    let fake = Fake::with_market(market.clone()).await;
    let rest = Rest::with_market(symbols, market).await;
    let run = start(cfg(&fake.url, &rest.url), symbols);
    (fake, rest, run)
}

fn as_ohlc(c: &Candle) -> Ohlc {
    [c.open, c.high, c.low, c.close, c.volume, c.amount]
}

const MIN1: Feed = Feed::Kline(Interval::Min1);

#[tokio::test(start_paused = true)]
async fn reconnect_mid_candle_with_candles_missed_leaves_a_continuous_series() {
    let m0 = an_hour_ago_minute();
    let (fake, _rest, mut run) = stack(m0, &["BTC_USDT"]).await;
    run.wants.send_replace(wants(&[("BTC_USDT", MIN1)]));
    let seen = run.seen.clone();
    let ws_close =
        |close: f64| {
            let seen = seen.clone();
            move || {
                seen.lock().unwrap().candles.iter().any(|(_, _, c, src)| {
                    *src == DataSource::Ws && c.iter().any(|c| c.close == close)
                })
            }
        };
    until("history from REST", 2000, || {
        seen.lock()
            .unwrap()
            .candles
            .iter()
            .any(|(_, _, _, src)| *src == DataSource::Rest)
    })
    .await;
    // Three full minutes while connected, every change pushed.
    for minute in 0..3 {
        for k in 0..3 {
            let price = 100.0 + f64::from(minute * 3 + k);
            fake.market(|m| m.trade(price, 1.0));
            sleep(Duration::from_millis(60)).await;
        }
        fake.market(Market::next_minute);
        sleep(Duration::from_millis(60)).await;
    }
    // Into the fourth minute: one trade seen, then the connection drops mid-candle.
    fake.market(|m| m.trade(200.0, 2.0));
    until("the mid-candle push", 1000, ws_close(200.0)).await;
    fake.set(|f| f.refuse = true);
    fake.send(0, Cmd::Drop);
    run.health("down", 2000, |h| h.state != UpstreamState::Live)
        .await;
    // While down: the rest of that candle, two whole candles and the start of the next.
    for (price, next) in [
        (201.0, false),
        (199.0, true),
        (203.0, true),
        (204.0, true),
        (205.0, false),
    ] {
        if next {
            fake.market(Market::next_minute);
        }
        fake.market(|m| m.trade(price, 1.0));
        sleep(Duration::from_millis(100)).await;
    }
    sleep(Duration::from_millis(400)).await;
    fake.set(|f| f.refuse = false);
    run.health("live again", 5000, |h| {
        h.state == UpstreamState::Live && h.reconnects >= 1
    })
    .await;
    until("the gap window from REST", 2000, || {
        fake.market(|m| m.kline_requests.len()) >= 2
            && seen
                .lock()
                .unwrap()
                .candles
                .iter()
                .filter(|(_, _, _, src)| *src == DataSource::Rest)
                .count()
                >= 2
    })
    .await;
    fake.market(|m| m.trade(206.0, 1.0));
    until("a push after the reconnect", 1000, ws_close(206.0)).await;

    // The window after the reconnect starts at the last candle seen: the one cut mid-way.
    let requests = fake.market(|m| m.kline_requests.clone());
    assert_eq!(requests[1].0, m0 + 3 * 60, "{requests:?}");
    // Merge by open time, later replacing earlier, as downstream does.
    let mut merged: BTreeMap<i64, Candle> = BTreeMap::new();
    for (symbol, interval, candles, _) in seen.lock().unwrap().candles.iter() {
        assert_eq!((symbol.as_str(), *interval), ("BTC_USDT", Interval::Min1));
        for c in candles {
            merged.insert(c.t, *c);
        }
    }
    let truth = fake.market(|m| m.candles.clone());
    let times: Vec<i64> = merged.keys().copied().collect();
    assert_eq!(times.first(), truth.keys().next(), "history from the start");
    assert_eq!(times.last(), Some(&(m0 + 6 * 60)), "up to the open candle");
    for w in times.windows(2) {
        assert_eq!(w[1] - w[0], 60, "hole in the series after {}", w[0]);
    }
    for (t, c) in &merged {
        assert_eq!(
            as_ohlc(c),
            truth[t],
            "candle {t} differs from the exchange's"
        );
    }
    // The cut candle's final values only ever came from the gap window.
    assert_eq!(merged[&(m0 + 180)].close, 201.0);
    assert_eq!(merged[&(m0 + 180)].volume, 3.0);
}

fn sides(bids: &[BookLevel], asks: &[BookLevel]) -> (Levels, Levels) {
    let f = |l: &[BookLevel]| l.iter().map(|l| (l.price, l.contracts)).collect();
    (f(bids), f(asks))
}

#[tokio::test(start_paused = true)]
async fn depth_book_matches_the_exchange_through_merged_frames_and_a_gap() {
    let (fake, _rest, mut run) = stack(an_hour_ago_minute(), &["BTC_USDT"]).await;
    run.wants.send_replace(wants(&[("BTC_USDT", Feed::Depth)]));
    let seen = run.seen.clone();
    let book_matches = || {
        let (version, top) = fake.market(|m| (m.version, m.top(20)));
        let s = seen.lock().unwrap();
        s.books
            .last()
            .is_some_and(|(_, v, b, a, _)| *v == version && sides(b, a) == top)
    };
    until("the book from the REST snapshot", 2000, book_matches).await;
    assert_eq!(
        seen.lock().unwrap().books[0].4,
        DataSource::Rest,
        "the first book comes right after the snapshot"
    );
    // Single and merged frames (several versions between two pushes), deletes included.
    for i in 0..12u64 {
        fake.market(|m| {
            m.depth(&[(true, 95 - i % 3, (i + 1) as f64)]);
            if i % 3 == 0 {
                m.depth(&[(false, 101 + i % 4, 0.0), (true, 99, 2.5 + i as f64)]);
                m.depth(&[(false, 110 + i, 1.0)]);
            }
        });
        sleep(Duration::from_millis(30)).await;
    }
    until("the book after deltas", 2000, book_matches).await;
    assert_eq!(fake.market(|m| m.depth_requests), 1);
    assert!(
        seen.lock()
            .unwrap()
            .books
            .iter()
            .skip(1)
            .all(|b| b.4 == DataSource::Ws),
        "deltas are WebSocket data"
    );
    // One frame lost: the next one starts past the book's version.
    fake.set(|f| f.drop_depth_frames = 1);
    fake.market(|m| m.depth(&[(true, 98, 7.0)]));
    sleep(Duration::from_millis(60)).await;
    fake.market(|m| m.depth(&[(false, 102, 3.0)]));
    run.health("a counted gap", 2000, |h| {
        h.streams
            .iter()
            .any(|s| s.channel == "depth" && s.symbol == "BTC_USDT" && s.gaps == 1)
    })
    .await;
    until("the resynced book", 3000, book_matches).await;
    assert_eq!(fake.market(|m| m.depth_requests), 2, "one resync");
    // And it keeps following.
    fake.market(|m| m.depth(&[(true, 99, 0.0), (true, 100, 4.0)]));
    until("the book after the resync", 2000, book_matches).await;
    assert_eq!(run.stream("depth", "BTC_USDT").gaps, 1);
}

#[tokio::test(start_paused = true)]
async fn a_viewed_symbol_opens_three_streams_and_closes_them() {
    let (fake, _rest, mut run) = stack(an_hour_ago_minute(), &["BTC_USDT"]).await;
    // ETH is viewed but watched by no session: it rides on the first (only) connection.
    run.wants
        .send_replace(wants(&[("ETH_USDT", MIN1), ("ETH_USDT", Feed::Depth)]));
    let seen = run.seen.clone();
    until("the funding rate from REST", 2000, || {
        seen.lock()
            .unwrap()
            .funding
            .contains(&("ETH_USDT".into(), 0.0001, Some(1_790_000_000_000)))
    })
    .await;
    run.health("feeds live", 2000, |h| {
        ["kline.Min1", "depth", "funding.rate"].iter().all(|ch| {
            h.streams
                .iter()
                .any(|s| s.symbol == "ETH_USDT" && s.channel == *ch)
        })
    })
    .await;
    fake.market(|m| {
        m.funding = (-0.0002, 1_790_000_900_000);
        m.funding_seq += 1;
    });
    until("the pushed funding rate", 1000, || {
        seen.lock().unwrap().funding.contains(&(
            "ETH_USDT".into(),
            -0.0002,
            Some(1_790_000_900_000),
        ))
    })
    .await;
    let subs: Vec<_> = [
        "sub.kline",
        "sub.depth",
        "sub.funding.rate",
        "sub.ticker",
        "sub.deal",
    ]
    .iter()
    .map(|m| fake.count(None, m, "ETH_USDT"))
    .collect();
    assert_eq!(
        subs,
        vec![1, 1, 1, 0, 0],
        "at most three streams per viewed symbol"
    );
    assert_eq!(fake.market(|m| m.funding_requests), 1);

    run.wants.send_replace(BTreeSet::new());
    run.health("feeds gone", 2000, |h| {
        h.streams.iter().all(|s| s.symbol != "ETH_USDT")
    })
    .await;
    until("unsubscribes", 1000, || {
        fake.count(None, "unsub.funding.rate", "ETH_USDT") == 1
    })
    .await;
    let raw = fake.log.lock().unwrap().raw.clone();
    for cmd in [
        json!({"method":"unsub.kline","param":{"symbol":"ETH_USDT","interval":"Min1"},"gzip":false}),
        json!({"method":"unsub.depth","param":{"symbol":"ETH_USDT"},"gzip":false}),
        json!({"method":"unsub.funding.rate","param":{"symbol":"ETH_USDT"},"gzip":false}),
    ] {
        assert!(raw.contains(&cmd), "{cmd} not sent: {raw:?}");
    }
    assert_eq!(
        fake.count(None, "unsub.ticker", "BTC_USDT"),
        0,
        "the watched symbol stays"
    );
}
