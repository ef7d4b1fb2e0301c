//! The one task that drives the market model and fans its output out.
//!
//! Frames are rendered once here and broadcast; each connection picks what it subscribed to.
//! A broadcast channel never waits for a slow receiver (it lags and the connection counts it),
//! so no client can slow the market down.

use super::book::Level;
use super::candles::Candle;
use super::clock::wall_ms;
use super::faults::SimFaults;
use super::frames::{self, Spelling, Ts};
use super::interest::Interest;
use super::interval::KlineInterval;
use super::market::{PumpSpec, Ticker, spec_of, symbol_name};
use super::market_frames;
use super::venue::Venue;
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, MissedTickBehavior};

/// `push.tickers` cadence (MEXC documents once per second); funding, index and fair price
/// pushes follow it too (MEXC: "keep updating").
const TICKERS_EVERY: Duration = Duration::from_secs(1);
/// Model step; finer only if the ticker cadence asks for it.
const MAX_TICK: Duration = Duration::from_millis(100);

/// What a push is about, for per-connection filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Topic {
    Ticker(usize),
    Deal(usize),
    Tickers,
    /// Merged `push.depth` frames (the default).
    Depth(usize),
    /// Unmerged `push.depth` frames, one per commit (`compress:false`).
    DepthRaw(usize),
    /// `push.depth.full` with this many levels.
    DepthFull(usize, u8),
    Kline(usize, KlineInterval),
    FundingRate(usize),
    IndexPrice(usize),
    FairPrice(usize),
}

impl Topic {
    /// Channel name as subscriptions and fault selectors spell it.
    pub fn channel(self) -> &'static str {
        match self {
            Topic::Ticker(_) => "ticker",
            Topic::Deal(_) => "deal",
            Topic::Tickers => "tickers",
            Topic::Depth(_) | Topic::DepthRaw(_) => "depth",
            Topic::DepthFull(..) => "depth.full",
            Topic::Kline(..) => "kline",
            Topic::FundingRate(_) => "funding.rate",
            Topic::IndexPrice(_) => "index.price",
            Topic::FairPrice(_) => "fair.price",
        }
    }

    /// The symbol a per-symbol stream is about (`push.tickers` has none).
    pub fn symbol(self) -> Option<&'static str> {
        match self {
            Topic::Tickers => None,
            Topic::Ticker(i)
            | Topic::Deal(i)
            | Topic::Depth(i)
            | Topic::DepthRaw(i)
            | Topic::DepthFull(i, _)
            | Topic::Kline(i, _)
            | Topic::FundingRate(i)
            | Topic::IndexPrice(i)
            | Topic::FairPrice(i) => symbol_name(i),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PushFrame {
    pub topic: Topic,
    /// Shared bytes: cloning per connection does not copy the text.
    pub text: Utf8Bytes,
}

pub(crate) struct FeedConfig {
    pub ticker_every: Duration,
    /// Seeds the spelling quirks (exponent numbers, omitted fields).
    pub seed: u64,
    /// Pump the first symbol this long after start (`sim.first_pump_after_s`); `None`: never.
    pub first_pump_after: Option<Duration>,
}

/// The demo's first pump: +5 % over 20 s on a heavy, buy-side burst, half given back over
/// 40 s. Slow enough that the demo strategy's entry and exit are both on screen for a while.
const FIRST_PUMP: PumpSpec = PumpSpec {
    magnitude_pct: 5.0,
    rise_ms: 20_000,
    fade_ms: 40_000,
    retrace: 0.5,
    rate_mult: 8.0,
    size_mult: 3.0,
};

pub(crate) type Snapshot = Arc<Vec<Ticker>>;

/// The venue is shared with REST, which reads it between steps; a panic while it is held
/// leaves at worst one step half applied, which the next step carries on from.
pub(crate) fn lock(venue: &Mutex<Venue>) -> MutexGuard<'_, Venue> {
    venue.lock().unwrap_or_else(|e| e.into_inner())
}

/// What was last pushed on the "only on change" streams, per topic.
#[derive(Default)]
struct Pushed {
    full: HashMap<(usize, u8), (Vec<Level>, Vec<Level>)>,
    kline: HashMap<(usize, super::interval::KlineInterval), Candle>,
}

pub(crate) async fn run(
    venue: Arc<Mutex<Venue>>,
    interest: Arc<Interest<Topic>>,
    cfg: FeedConfig,
    pushes: broadcast::Sender<PushFrame>,
    snapshot: watch::Sender<Snapshot>,
    faults: Arc<SimFaults>,
    mut shutdown: watch::Receiver<bool>,
) {
    let state = faults.state_watch();
    let tick_every = cfg.ticker_every.min(MAX_TICK);
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut spelling = Spelling::seeded(cfg.seed ^ 0x005e_edf4_a3e5);
    let start = Instant::now();
    let mut next_ticker = start + cfg.ticker_every;
    let mut next_tickers = start + TICKERS_EVERY;
    let mut pushed = Pushed::default();
    let mut first_pump = cfg.first_pump_after.map(|d| start + d);
    let publish = |topic: Topic, text: serde_json::Result<String>| match text {
        // No receivers is normal (nobody connected); the frame is simply not needed.
        Ok(text) => {
            faults.count_published();
            drop(pushes.send(PushFrame {
                topic,
                text: text.into(),
            }))
        }
        Err(e) => tracing::warn!(error = %e, "sim: could not render a push"),
    };
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        let now_ms = wall_ms();
        // Payload-shape faults are applied here, where frames are rendered once for everyone.
        let (deal_object, ts) = {
            let f = state.borrow();
            spelling.set_force_exponent(f.exponent_numbers);
            let ts = Ts::new(now_ms.saturating_add(f.ts_skew_ms), f.ts_string);
            (f.deal_object, ts)
        };
        let pumps = faults.take_pumps();
        let wanted = interest.wanted();
        let mut v = lock(&venue);
        if first_pump.is_some_and(|at| Instant::now() >= at) {
            first_pump = None;
            v.force_pump(0, FIRST_PUMP);
        }
        for (symbol, spec) in pumps {
            tracing::info!(symbol = symbol_name(symbol), ?spec, "sim: forced pump");
            v.force_pump(symbol, spec);
        }
        // Depth frames carry exactly the commits of this step: note where each wanted book is.
        let before: HashMap<usize, u64> = wanted
            .iter()
            .filter_map(|t| match *t {
                Topic::Depth(i) | Topic::DepthRaw(i) => Some((i, v.book(i).version())),
                _ => None,
            })
            .collect();
        for batch in v.step(now_ms) {
            let Some(symbol) = symbol_name(batch.symbol) else {
                continue;
            };
            let topic = Topic::Deal(batch.symbol);
            if deal_object {
                for text in frames::deal_push_objects(symbol, &batch.trades, &mut spelling, ts) {
                    publish(topic, text);
                }
            } else {
                publish(
                    topic,
                    frames::deal_push(symbol, &batch.trades, &mut spelling, ts),
                );
            }
        }
        let tickers = v.shared_tickers();
        let at = Instant::now();
        if due(&mut next_ticker, at, cfg.ticker_every) {
            for (i, t) in tickers.iter().enumerate() {
                publish(Topic::Ticker(i), frames::ticker_push(t, &mut spelling, ts));
            }
        }
        let each_second = due(&mut next_tickers, at, TICKERS_EVERY);
        if each_second {
            let text = frames::tickers_push(&tickers, &mut spelling, ts);
            publish(Topic::Tickers, text);
        }
        pushed
            .full
            .retain(|k, _| wanted.contains(&Topic::DepthFull(k.0, k.1)));
        pushed
            .kline
            .retain(|k, _| wanted.contains(&Topic::Kline(k.0, k.1)));
        for topic in wanted {
            on_demand(
                &v,
                topic,
                &before,
                each_second,
                &mut pushed,
                &mut spelling,
                ts,
                &publish,
            );
        }
        drop(v);
        snapshot.send_replace(tickers);
    }
}

/// Render one wanted on-demand stream for this step, if it has something to say: depth after
/// commits, depth.full and klines on change, funding/index/fair once a second.
#[allow(clippy::too_many_arguments)]
fn on_demand(
    v: &Venue,
    topic: Topic,
    before: &HashMap<usize, u64>,
    each_second: bool,
    pushed: &mut Pushed,
    sp: &mut Spelling,
    ts: Ts,
    publish: &impl Fn(Topic, serde_json::Result<String>),
) {
    let Some(symbol) = topic.symbol() else {
        return;
    };
    let i = match topic {
        Topic::Depth(i)
        | Topic::DepthRaw(i)
        | Topic::DepthFull(i, _)
        | Topic::Kline(i, _)
        | Topic::FundingRate(i)
        | Topic::IndexPrice(i)
        | Topic::FairPrice(i) => i,
        Topic::Ticker(_) | Topic::Deal(_) | Topic::Tickers => return,
    };
    if i >= v.symbol_count() {
        return;
    }
    let decimals = spec_of(i).decimals;
    let ticker = &v.tickers()[i];
    match topic {
        Topic::Depth(_) => {
            let from = before.get(&i).copied().unwrap_or(u64::MAX);
            let commits: Vec<_> = v.book(i).commits_after(from).collect();
            if let Some(text) = market_frames::depth_merged(symbol, decimals, &commits, sp, ts) {
                publish(topic, text);
            }
        }
        Topic::DepthRaw(_) => {
            let from = before.get(&i).copied().unwrap_or(u64::MAX);
            for c in v.book(i).commits_after(from) {
                publish(
                    topic,
                    market_frames::depth_commit(symbol, decimals, c, sp, ts),
                );
            }
        }
        Topic::DepthFull(_, limit) => {
            let book = v.book(i);
            let top = book.top(usize::from(limit));
            if pushed.full.get(&(i, limit)) != Some(&top) {
                let text = market_frames::depth_full(
                    symbol,
                    decimals,
                    (&top.0, &top.1),
                    book.version(),
                    sp,
                    ts,
                );
                publish(topic, text);
                pushed.full.insert((i, limit), top);
            }
        }
        Topic::Kline(_, interval) => {
            let Some(candle) = v.current_candle(i, interval) else {
                return;
            };
            let last = pushed.kline.get(&(i, interval)).copied();
            // A new window: first the final state of the one that ended, if this step's trades
            // changed it, so the pushes end on what REST reports for it.
            if let Some(last) = last.filter(|c| c.t < candle.t)
                && let Some(done) = v.live_candle(i, interval, last.t)
                && done != last
            {
                let text = market_frames::kline_push(symbol, decimals, interval, &done, sp, ts);
                publish(topic, text);
            }
            if last != Some(candle) {
                let text = market_frames::kline_push(symbol, decimals, interval, &candle, sp, ts);
                publish(topic, text);
                pushed.kline.insert((i, interval), candle);
            }
        }
        Topic::FundingRate(_) if each_second => {
            let next = Venue::next_settle_ms(ts.ms);
            publish(topic, market_frames::funding_push(ticker, next, ts));
        }
        Topic::IndexPrice(_) if each_second => {
            let text =
                market_frames::price_push("push.index.price", symbol, ticker.index_price, sp, ts);
            publish(topic, text);
        }
        Topic::FairPrice(_) if each_second => {
            let text =
                market_frames::price_push("push.fair.price", symbol, ticker.fair_price, sp, ts);
            publish(topic, text);
        }
        _ => {}
    }
}

/// True when `next` has come; moves it one period on without trying to catch up a backlog.
fn due(next: &mut Instant, now: Instant, every: Duration) -> bool {
    if now < *next {
        return false;
    }
    *next += every;
    if *next <= now {
        *next = now + every;
    }
    true
}
