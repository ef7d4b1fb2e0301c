//! One test per exchange fault (issue 3): the fault is detected
//! within its bound, the right action is taken (counted: subscribes and connects, no
//! storm), the adapter recovers, the trades that reach `out` have neither duplicates nor
//! gaps, and health says what happened. Timings are scaled down to milliseconds.
//!
//! The tests run on tokio's paused clock (all but rotation, see there): the adapter, the fake
//! exchange and the test share one current-thread runtime over real loopback sockets, and the
//! clock only moves when every task waits, so the bounds below are virtual time and hold on a
//! loaded machine.

mod fake;
mod feeds;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake::{Cmd, Fake, RestMode};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep, timeout};

use trademon::config::MexcConfig;
use trademon::exchange::mexc::{self, MexcHandle};
use trademon::exchange::{LinkChange, MarketEvent};
use trademon::protocol::{
    BookLevel, Candle, DataSource, Initiator, Interval, StreamState, UpstreamHealth, UpstreamState,
};

fn cfg(url: &str, rest_url: &str) -> MexcConfig {
    MexcConfig {
        ws_url: url.to_string(),
        rest_url: rest_url.to_string(),
        ping_interval_ms: 100,
        connect_timeout_ms: 1000,
        backoff_base_ms: 50,
        backoff_cap_ms: 200,
        stable_after_ms: 60_000,
        subscribe_pace_ms: 0,
        silence_reconnect_ms: 600,
        ack_timeout_ms: 200,
        pong_warn_ms: 300,
        pong_reconnect_ms: 450,
        ticker_stale_ms: 300,
        stale_resubscribe_max: 2,
        retry_later_ms: 800,
        max_subscriptions_per_connection: 200,
        rotate_after_s: 0,
        rest_fallback_after_ms: 300,
        rest_poll_interval_ms: 150,
        rest_timeout_ms: 500,
        waf_cooldown_ms: 1000,
        ..trademon::config::Config::defaults().mexc
    }
}

/// (symbol, version, bids, asks, source) of a `Book` event.
type SeenBook = (String, u64, Vec<BookLevel>, Vec<BookLevel>, DataSource);

/// Everything that reached `out`, collected concurrently (as the engine would consume it).
#[derive(Default)]
struct Seen {
    trades: BTreeMap<String, Vec<u64>>,
    tickers: Vec<(String, DataSource, Instant)>,
    failed: Vec<(String, String)>,
    /// (conn id, `open` / `close` / `connect_failed`, close code)
    links: Vec<(String, &'static str, Option<u16>)>,
    /// Symbol view feeds, in arrival order.
    candles: Vec<(String, Interval, Vec<Candle>, DataSource)>,
    books: Vec<SeenBook>,
    funding: Vec<(String, f64, Option<i64>)>,
}

struct Run {
    handle: MexcHandle,
    seen: Arc<Mutex<Seen>>,
    _symbols: watch::Sender<BTreeSet<String>>,
    wants: watch::Sender<BTreeSet<mexc::FeedWant>>,
}

fn start(c: MexcConfig, symbols: &[&str]) -> Run {
    let set: BTreeSet<String> = symbols.iter().map(|s| s.to_string()).collect();
    let (tx, rx) = watch::channel(set);
    let (out, mut events) = mpsc::channel(4096);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            let mut s = s.lock().unwrap();
            match ev {
                MarketEvent::Trades { symbol, trades, .. } => s
                    .trades
                    .entry(symbol)
                    .or_default()
                    .extend(trades.iter().filter_map(|t| t.id)),
                MarketEvent::Ticker { update, source } => {
                    s.tickers.push((update.symbol, source, Instant::now()))
                }
                MarketEvent::SymbolFailed { symbol, reason } => s.failed.push((symbol, reason)),
                MarketEvent::Contracts(_) => {}
                MarketEvent::Candles {
                    symbol,
                    interval,
                    candles,
                    source,
                } => s.candles.push((symbol, interval, candles, source)),
                MarketEvent::Book(b) => s
                    .books
                    .push((b.symbol, b.version, b.bids, b.asks, b.source)),
                MarketEvent::Funding {
                    symbol,
                    rate,
                    next_settle_ms,
                } => s.funding.push((symbol, rate, next_settle_ms)),
                MarketEvent::Link {
                    conn_id, change, ..
                } => {
                    let code = match &change {
                        LinkChange::Opened => None,
                        LinkChange::Closed(c) | LinkChange::ConnectFailed(c) => Some(c.code),
                    };
                    s.links.push((conn_id, change.name(), code));
                }
            }
        }
    });
    let (wants, wants_rx) = watch::channel(BTreeSet::new());
    Run {
        handle: mexc::spawn(c, rx, wants_rx, out),
        seen,
        _symbols: tx,
        wants,
    }
}

impl Run {
    async fn health(
        &mut self,
        what: &str,
        within_ms: u64,
        f: impl Fn(&UpstreamHealth) -> bool,
    ) -> UpstreamHealth {
        let got = timeout(
            Duration::from_millis(within_ms),
            self.handle.health.wait_for(|h| f(h)),
        )
        .await
        .ok()
        .and_then(|r| r.ok().map(|h| h.clone()));
        got.unwrap_or_else(|| {
            panic!(
                "health never became {what}: {:#?}",
                *self.handle.health.borrow()
            )
        })
    }

    fn now(&self) -> UpstreamHealth {
        self.handle.health.borrow().clone()
    }

    fn stream(&self, channel: &str, symbol: &str) -> trademon::protocol::UpstreamStream {
        self.now()
            .streams
            .into_iter()
            .find(|s| s.channel == channel && s.symbol == symbol)
            .unwrap_or_else(|| panic!("no stream {channel} {symbol}"))
    }

    /// Trade ids of `symbol` received so far: asserts no duplicate and no gap.
    fn trade_ids_complete(&self, symbol: &str) -> Vec<u64> {
        let s = self.seen.lock().unwrap();
        let ids = s.trades.get(symbol).cloned().unwrap_or_default();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "duplicate trade ids for {symbol}");
        if let (Some(first), Some(last)) = (sorted.first(), sorted.last()) {
            assert_eq!(
                sorted.len() as u64,
                last - first + 1,
                "missing trade ids for {symbol} between {first} and {last}"
            );
        }
        sorted
    }

    fn rest_tickers(&self, symbol: &str) -> usize {
        let s = self.seen.lock().unwrap();
        s.tickers
            .iter()
            .filter(|(sym, src, _)| sym == symbol && *src == DataSource::Rest)
            .count()
    }
}

fn all_live(n: u32) -> impl Fn(&UpstreamHealth) -> bool {
    move |h| h.state == UpstreamState::Live && h.subscriptions.live == n
}

async fn until(what: &str, within_ms: u64, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_millis(within_ms);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(10)).await;
    }
}

const NO_REST: &str = "http://127.0.0.1:9";

// ------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn pongs_delayed_are_tolerated_pongs_dropped_force_a_reconnect() {
    let fake = Fake::start().await;
    fake.set(|f| f.pong_delay_ms = 200); // below the 300 ms warning
    let mut run = start(cfg(&fake.url, NO_REST), &["BTC_USDT"]);
    run.health("live", 2000, all_live(2)).await;
    sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        fake.accepts(),
        1,
        "a 200 ms pong delay is no reason to reconnect"
    );
    assert!(run.now().pong_age_ms.is_some());

    fake.set(|f| f.no_pong = true);
    let dropped_at = Instant::now();
    let h = run.health("reconnected", 2000, |h| h.reconnects == 1).await;
    let waited = dropped_at.elapsed();
    let close = h.last_close.unwrap();
    assert_eq!(close.initiator, Initiator::Local);
    assert!(close.reason.starts_with("no pong for"), "{}", close.reason);
    // Last pong <= 300 ms before `dropped_at` (one ping interval + delay): the reconnect
    // comes after the 450 ms threshold, never before the 300 ms warning, and data was
    // flowing the whole time (so silence did not do it).
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_millis(900),
        "{waited:?}"
    );
    let closed = fake.closed(0).await;
    assert_eq!(closed.1.map(|c| c.0), Some(1000));
    assert!(
        run.trade_ids_complete("BTC_USDT").len() > 10,
        "data flowed throughout"
    );

    fake.set(|f| f.no_pong = false);
    run.health("live again", 2000, all_live(2)).await;
    sleep(Duration::from_millis(700)).await;
    assert_eq!(fake.accepts(), 2, "exactly one reconnect");
}

#[tokio::test(start_paused = true)]
async fn never_acked_subscription_is_resubscribed_after_the_ack_timeout() {
    let fake = Fake::start().await;
    fake.set(|f| {
        f.no_ack = true;
        f.quiet_deals = true;
        f.silent_ticker.insert("BTC_USDT".into());
    });
    let t0 = Instant::now();
    let run = start(cfg(&fake.url, NO_REST), &["BTC_USDT"]);
    until("a resubscribe", 1000, || {
        fake.count(Some(0), "sub.ticker", "BTC_USDT") == 2
    })
    .await;
    // The 200 ms ack timeout plus a watchdog tick, before the 300 ms ticker staleness could
    // have caused it.
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(200) && waited < Duration::from_millis(300),
        "{waited:?}"
    );
    assert_eq!(
        fake.count(Some(0), "unsub.ticker", "BTC_USDT"),
        1,
        "unsub before the new sub"
    );
    // Data is the real confirmation, ack or not.
    fake.set(|f| {
        f.quiet_deals = false;
        f.silent_ticker.clear();
    });
    let mut run = run;
    run.health("live without any ack", 2000, all_live(2)).await;
    let subs = fake.count(None, "sub.ticker", "BTC_USDT");
    sleep(Duration::from_millis(800)).await;
    assert_eq!(
        fake.count(None, "sub.ticker", "BTC_USDT"),
        subs,
        "no resubscribe once live"
    );
    assert!(subs <= 3, "{subs} subscribes");
    assert_eq!(fake.accepts(), 1);
    assert!(run.stream("ticker", "BTC_USDT").resubscribes >= 1);
}

#[tokio::test(start_paused = true)]
async fn duplicate_acks_cause_no_resubscribe_and_no_reconnect() {
    let fake = Fake::start().await;
    fake.set(|f| f.ack_twice = true);
    let mut run = start(cfg(&fake.url, NO_REST), &["A_USDT", "B_USDT", "C_USDT"]);
    run.health("all live", 2000, all_live(6)).await;
    sleep(Duration::from_millis(800)).await;
    for s in ["A_USDT", "B_USDT", "C_USDT"] {
        assert_eq!(fake.count(None, "sub.ticker", s), 1);
        assert_eq!(fake.count(None, "sub.deal", s), 1);
    }
    assert_eq!(fake.accepts(), 1);
    assert_eq!(run.now().subscriptions.live, 6);
}

#[tokio::test(start_paused = true)]
async fn rs_error_marks_only_that_symbol_failed_and_errors_without_symbol_keep_fifo() {
    let fake = Fake::start().await;
    fake.set(|f| {
        f.unknown.insert("NOPE_USDT".into());
        f.refused_without_symbol.insert("ODD_USDT".into());
    });
    let mut run = start(
        cfg(&fake.url, NO_REST),
        &["A_USDT", "NOPE_USDT", "ODD_USDT", "Z_USDT"],
    );
    run.health("A and Z live, NOPE failed", 2000, |h| {
        h.subscriptions.live == 4 && h.subscriptions.failed == 2
    })
    .await;
    let nope = run.stream("ticker", "NOPE_USDT");
    assert_eq!(nope.state, StreamState::Failed);
    assert_eq!(
        nope.error.as_deref(),
        Some("Contract [NOPE_USDT] not exists")
    );
    assert_eq!(
        run.seen.lock().unwrap().failed,
        vec![(
            "NOPE_USDT".to_string(),
            "Contract [NOPE_USDT] not exists".to_string()
        )]
    );
    // ODD's refusal named no symbol: it was matched to ODD (oldest outstanding), so Z
    // was acked and live, and ODD carries the text while its ladder runs.
    until("ODD errored", 1000, || {
        run.stream("ticker", "ODD_USDT").error.is_some()
    })
    .await;
    assert_eq!(
        run.stream("ticker", "ODD_USDT").error.as_deref(),
        Some("Contract doesn't exist!")
    );
    sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        fake.count(None, "sub.ticker", "NOPE_USDT"),
        1,
        "no retry for a refused contract"
    );
    assert!(
        fake.accepts() <= 2,
        "ODD may cost one reconnect, never a storm: {}",
        fake.accepts()
    );
    assert_eq!(run.stream("deal", "A_USDT").state, StreamState::Live);
    run.trade_ids_complete("A_USDT");
}

#[tokio::test(start_paused = true)]
async fn acked_but_silent_ticker_escalates_resubscribe_reconnect_rest_then_recovers() {
    let fake = Fake::start().await;
    let rest = fake::Rest::start(&["SILENT_USDT", "OK_USDT"]).await;
    fake.set(|f| {
        f.silent_ticker.insert("SILENT_USDT".into());
    });
    let mut run = start(cfg(&fake.url, &rest.url), &["OK_USDT", "SILENT_USDT"]);
    let t0 = Instant::now();
    // Ladder: 2 resubscribes on the first socket, then one reconnect.
    until("escalation to a reconnect", 2500, || fake.accepts() == 2).await;
    assert_eq!(fake.count(Some(0), "sub.ticker", "SILENT_USDT"), 3);
    assert_eq!(
        fake.count(Some(0), "sub.ticker", "OK_USDT"),
        1,
        "healthy streams untouched"
    );
    let closed = fake.closed(0).await;
    assert!(
        closed
            .1
            .as_ref()
            .is_some_and(|(c, r)| *c == 1000 && r.contains("stale")),
        "{closed:?}"
    );
    // The new socket gets its 2 resubscribes, then no second reconnect: REST takes over.
    let h = run
        .health("rest fallback for the silent ticker", 3000, |h| {
            h.source == DataSource::Rest
        })
        .await;
    assert_eq!(h.state, UpstreamState::Live, "the socket itself is fine");
    assert!(t0.elapsed() < Duration::from_millis(3500));
    until("REST tickers for SILENT", 1000, || {
        run.rest_tickers("SILENT_USDT") >= 2
    })
    .await;
    assert_eq!(
        run.rest_tickers("OK_USDT"),
        0,
        "REST only covers what the WS does not"
    );
    assert_eq!(
        run.stream("ticker", "SILENT_USDT").state,
        StreamState::Stale
    );
    sleep(Duration::from_millis(1000)).await;
    assert_eq!(fake.accepts(), 2, "no reconnect storm");
    let subs_conn1 = fake.count(Some(1), "sub.ticker", "SILENT_USDT");
    assert!(
        (3..=5).contains(&subs_conn1),
        "slow retries only: {subs_conn1}"
    );

    // The exchange serves it again: the next slow retry goes Live and REST stops.
    fake.set(|f| f.silent_ticker.clear());
    run.health("back to ws", 3000, |h| {
        h.source == DataSource::Ws && h.subscriptions.live == 4
    })
    .await;
    let polls = rest.hits().len();
    sleep(Duration::from_millis(500)).await;
    assert_eq!(rest.hits().len(), polls, "polling stopped");
    assert_eq!(fake.accepts(), 2);
    run.trade_ids_complete("OK_USDT");
}

#[tokio::test(start_paused = true)]
async fn quiet_deal_stream_never_causes_a_reconnect() {
    let fake = Fake::start().await;
    fake.set(|f| f.quiet_deals = true);
    let mut run = start(cfg(&fake.url, NO_REST), &["BTC_USDT"]);
    run.health("ticker live", 2000, |h| {
        h.subscriptions.live == 1 && h.subscriptions.acked == 1
    })
    .await;
    sleep(Duration::from_millis(1500)).await; // 5x the ticker threshold
    assert_eq!(fake.accepts(), 1);
    assert_eq!(
        fake.count(None, "sub.deal", "BTC_USDT"),
        1,
        "no deal resubscribe"
    );
    let deal = run.stream("deal", "BTC_USDT");
    assert_eq!((deal.state, deal.resubscribes), (StreamState::Acked, 0));
}

#[tokio::test(start_paused = true)]
async fn abrupt_tcp_drop_reconnects_and_trades_stay_complete() {
    let fake = Fake::start().await;
    let mut run = start(cfg(&fake.url, NO_REST), &["BTC_USDT", "ETH_USDT"]);
    run.health("live", 2000, all_live(4)).await;
    sleep(Duration::from_millis(200)).await;
    fake.send(0, Cmd::Drop);
    let h = run
        .health("reconnected and live", 2000, |h| {
            h.reconnects == 1 && h.subscriptions.live == 4
        })
        .await;
    let close = h.last_close.unwrap();
    assert_eq!((close.initiator, close.code), (Initiator::Transport, 1006));
    sleep(Duration::from_millis(200)).await;
    // The fresh subscription replays a tail the old socket delivered: deduplicated, and
    // it covers the gap, so every id is there exactly once.
    for s in ["BTC_USDT", "ETH_USDT"] {
        let ids = run.trade_ids_complete(s);
        assert!(ids.len() > 15, "{s}: {}", ids.len());
    }
    assert_eq!(fake.accepts(), 2);
}

#[tokio::test(start_paused = true)]
async fn close_1012_waits_retry_later_before_reconnecting() {
    let fake = Fake::start().await;
    let mut run = start(cfg(&fake.url, NO_REST), &["BTC_USDT"]);
    run.health("live", 2000, all_live(2)).await;
    fake.send(0, Cmd::Close(1012, "service restart"));
    let h = run.health("closed", 1000, |h| h.last_close.is_some()).await;
    let close = h.last_close.unwrap();
    assert_eq!(
        (close.initiator, close.code, close.reason.as_str()),
        (Initiator::Remote, 1012, "service restart")
    );
    let closed_at = Instant::now();
    until("reconnect", 2000, || fake.accepts() == 2).await;
    let waited = fake.conn(1).unwrap().at - closed_at;
    assert!(
        waited >= Duration::from_millis(700),
        "1012 must wait retry_later (800 ms): {waited:?}"
    );
    run.health("live again", 2000, all_live(2)).await;
    // The market stream carries the link's life for `connection_events`: opened, closed
    // with the exchange's code, opened again under a new id.
    let links = run.seen.lock().unwrap().links.clone();
    let kinds: Vec<_> = links.iter().map(|(_, k, c)| (*k, *c)).collect();
    assert_eq!(
        kinds,
        [("open", None), ("close", Some(1012)), ("open", None)],
        "{links:?}"
    );
    assert_eq!(
        links[0].0, links[1].0,
        "a close names the connection it ends"
    );
    assert_ne!(links[0].0, links[2].0, "a reconnect is a new connection id");
}

#[tokio::test(start_paused = true)]
async fn half_open_socket_is_detected_by_silence() {
    let fake = Fake::start().await;
    let mut c = cfg(&fake.url, NO_REST);
    c.silence_reconnect_ms = 250;
    let mut run = start(c, &["BTC_USDT"]);
    run.health("live", 2000, all_live(2)).await;
    fake.set(|f| f.half_open = true);
    let t0 = Instant::now();
    let h = run
        .health("left the half-open socket", 2000, |h| h.reconnects == 1)
        .await;
    assert!(
        t0.elapsed() < Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
    let close = h.last_close.unwrap();
    assert!(
        close.reason.contains("no inbound frame for 250 ms"),
        "{}",
        close.reason
    );
    fake.set(|f| f.half_open = false);
    fake.send(0, Cmd::Drop);
    run.health("live again", 2000, all_live(2)).await;
}

#[tokio::test(start_paused = true)]
async fn malformed_and_unknown_frames_are_counted_and_ignored() {
    let fake = Fake::start().await;
    let mut run = start(cfg(&fake.url, NO_REST), &["BTC_USDT"]);
    run.health("live", 2000, all_live(2)).await;
    for bad in ["{not json", "[1,2]", r#"{"data":1}"#] {
        fake.send(0, Cmd::Text(bad.into()));
    }
    fake.send(0, Cmd::Binary(vec![0x00, 0x01, 0x02]));
    fake.send(0, Cmd::Binary(vec![0x1f, 0x8b, 0x08, 0x00]));
    fake.send(
        0,
        Cmd::Text(r#"{"channel":"clientId","data":"abc","ts":1}"#.into()),
    );
    fake.send(
        0,
        Cmd::Text(r#"{"channel":"push.kline","data":{},"symbol":"BTC_USDT"}"#.into()),
    );
    fake.send(0, Cmd::Text(r#"{"channel":"rs.error","data":"more than 60 seconds no response, close the channel"}"#.into()));
    run.health("3 malformed", 1000, |h| h.malformed_frames == 3)
        .await;
    sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.accepts(), 1);
    assert_eq!(run.now().subscriptions.live, 2);
    run.trade_ids_complete("BTC_USDT");
}

#[tokio::test(start_paused = true)]
async fn gzip_frames_deal_objects_and_exponent_numbers_are_parsed() {
    let fake = Fake::start().await;
    fake.set(|f| {
        f.gzip = true;
        f.deal_as_object = true;
    });
    let mut run = start(cfg(&fake.url, NO_REST), &["BTC_USDT"]);
    run.health("live over gzip", 2000, all_live(2)).await;
    sleep(Duration::from_millis(200)).await;
    let ids = run.trade_ids_complete("BTC_USDT");
    assert!(ids.len() > 5);
    assert_eq!(run.now().malformed_frames, 0);
    assert!(
        run.now().pong_age_ms.is_some_and(|a| a < 300),
        "gzip pongs count"
    );
}

#[tokio::test(start_paused = true)]
async fn rest_fallback_honours_throttle_and_waf_and_hands_back_to_ws() {
    let fake = Fake::start().await;
    fake.set(|f| f.refuse = true);
    let rest = fake::Rest::start(&["BTC_USDT"]).await;
    let t0 = Instant::now();
    let mut run = start(cfg(&fake.url, &rest.url), &["BTC_USDT"]);
    let h = run
        .health("rest polling", 2000, |h| {
            h.state == UpstreamState::RestPolling
        })
        .await;
    assert_eq!(h.source, DataSource::Rest);
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "not before rest_fallback_after"
    );
    until("REST tickers", 1000, || run.rest_tickers("BTC_USDT") >= 3).await;
    // Rate: never more than 20 requests in 2 s.
    let hits = rest.hits();
    for w in hits.windows(2) {
        assert!(
            w[1].0 - w[0].0 >= Duration::from_millis(140),
            "poll interval respected"
        );
    }

    rest.set(RestMode::Throttle);
    until("a 510", 1000, || {
        rest.hits().iter().any(|h| h.1 == RestMode::Throttle)
    })
    .await;
    let first_510 = rest
        .hits()
        .iter()
        .find(|h| h.1 == RestMode::Throttle)
        .unwrap()
        .0;
    rest.set(RestMode::Waf);
    until("the request after the 510", 3000, || {
        rest.hits().iter().any(|h| h.1 == RestMode::Waf)
    })
    .await;
    let first_403 = rest.hits().iter().find(|h| h.1 == RestMode::Waf).unwrap().0;
    assert!(
        first_403 - first_510 >= Duration::from_millis(1900),
        "510 waits out the 2 s window"
    );
    rest.set(RestMode::Ok);
    until("the request after the 403", 2000, || {
        rest.hits().last().is_some_and(|h| h.1 == RestMode::Ok)
    })
    .await;
    let after = rest
        .hits()
        .iter()
        .find(|h| h.1 == RestMode::Ok && h.0 > first_403)
        .unwrap()
        .0;
    assert!(
        after - first_403 >= Duration::from_millis(950),
        "WAF cooldown (1000 ms)"
    );

    fake.set(|f| f.refuse = false);
    let h = run
        .health("ws live again", 3000, |h| {
            h.state == UpstreamState::Live && h.source == DataSource::Ws
        })
        .await;
    assert!(
        h.subscriptions.live >= 1,
        "REST covers until the ticker is live: {h:?}"
    );
    assert_eq!(run.stream("ticker", "BTC_USDT").state, StreamState::Live);
    let polls = rest.hits().len();
    sleep(Duration::from_millis(500)).await;
    assert_eq!(
        rest.hits().len(),
        polls,
        "polling stopped once the WS is live"
    );
}

#[tokio::test(start_paused = true)]
async fn sharding_spreads_symbols_over_connections() {
    let fake = Fake::start().await;
    let mut c = cfg(&fake.url, NO_REST);
    c.max_subscriptions_per_connection = 2;
    let mut run = start(c, &["A_USDT", "B_USDT", "C_USDT"]);
    let h = run
        .health("3 connections live", 2000, |h| {
            all_live(6)(h) && h.connections.len() == 3
        })
        .await;
    assert!(
        h.connections
            .iter()
            .all(|c| c.subscriptions.live == 2 && c.pong_age_ms.is_some())
    );
    assert_eq!(fake.accepts(), 3);
    for i in 0..3 {
        let log = fake.log.lock().unwrap();
        let cmds = &log.commands[&i];
        let symbols: BTreeSet<&String> = cmds.iter().map(|(_, s)| s).collect();
        assert_eq!(
            (cmds.len(), symbols.len()),
            (2, 1),
            "one symbol per connection: {cmds:?}"
        );
    }
    // One shard dropping leaves the others alone.
    fake.send(1, Cmd::Drop);
    run.health("shard reconnected", 2000, |h| {
        h.reconnects == 1 && all_live(6)(h)
    })
    .await;
    assert_eq!(fake.accepts(), 4);
}

// Real clock on purpose: on the paused clock the rotation timer and the fake's feed tick can
// fire at the same virtual instant, so "closed only after the successor had data" would have
// no measurable gap. On the real clock the 20 ms (one feed tick) is a lower bound, which load
// only makes easier to meet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_is_make_before_break_without_gap_or_duplicate() {
    let fake = Fake::start().await;
    let mut c = cfg(&fake.url, NO_REST);
    c.rotate_after_s = 1;
    let mut run = start(c, &["BTC_USDT", "ETH_USDT"]);
    run.health("live", 2000, all_live(4)).await;
    until("the successor connection", 2500, || fake.accepts() == 2).await;
    let new_at = fake.conn(1).unwrap().at;
    until("the old connection closed", 2000, || {
        fake.conn(0).unwrap().closed.is_some()
    })
    .await;
    let (closed_at, frame) = fake.closed(0).await;
    assert_eq!(frame, Some((1000, "rotated".to_string())));
    assert!(
        closed_at > new_at + Duration::from_millis(20),
        "old closed only after the new one was live"
    );
    let h = run
        .health("one connection again", 1000, |h| {
            h.connections.len() == 1 && all_live(4)(h)
        })
        .await;
    assert_eq!(h.reconnects, 0, "a rotation is not a reconnect");
    sleep(Duration::from_millis(300)).await;
    for s in ["BTC_USDT", "ETH_USDT"] {
        let ids = run.trade_ids_complete(s);
        assert!(ids.len() > 40, "{s}: {}", ids.len());
    }
    assert_eq!(fake.accepts(), 2);
}
