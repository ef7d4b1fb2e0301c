//! The one task that drives the market model and fans its output out.
//!
//! Frames are rendered once here and broadcast; each connection picks what it subscribed to.
//! A broadcast channel never waits for a slow receiver (it lags and the connection counts it),
//! so no client can slow the market down.

use super::clock::wall_ms;
use super::faults::SimFaults;
use super::frames::{self, Spelling, Ts};
use super::market::{Market, PumpSpec, Ticker, symbol_name};
use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, MissedTickBehavior};

/// `push.tickers` cadence (MEXC documents once per second).
const TICKERS_EVERY: Duration = Duration::from_secs(1);
/// Model step; finer only if the ticker cadence asks for it.
const MAX_TICK: Duration = Duration::from_millis(100);

/// What a push is about, for per-connection filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    Ticker(usize),
    Deal(usize),
    Tickers,
}

impl Topic {
    /// Channel name as subscriptions and fault selectors spell it.
    pub fn channel(self) -> &'static str {
        match self {
            Topic::Ticker(_) => "ticker",
            Topic::Deal(_) => "deal",
            Topic::Tickers => "tickers",
        }
    }

    /// The symbol a per-symbol stream is about (`push.tickers` has none).
    pub fn symbol(self) -> Option<&'static str> {
        match self {
            Topic::Ticker(i) | Topic::Deal(i) => symbol_name(i),
            Topic::Tickers => None,
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

pub(crate) async fn run(
    mut market: Market,
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
        if first_pump.is_some_and(|at| Instant::now() >= at) {
            first_pump = None;
            market.force_pump(0, FIRST_PUMP);
        }
        for (symbol, spec) in faults.take_pumps() {
            tracing::info!(symbol = symbol_name(symbol), ?spec, "sim: forced pump");
            market.force_pump(symbol, spec);
        }
        for batch in market.step(now_ms) {
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
        let tickers = market.tickers();
        let at = Instant::now();
        if due(&mut next_ticker, at, cfg.ticker_every) {
            for (i, t) in tickers.iter().enumerate() {
                publish(Topic::Ticker(i), frames::ticker_push(t, &mut spelling, ts));
            }
        }
        if due(&mut next_tickers, at, TICKERS_EVERY) {
            let text = frames::tickers_push(&tickers, &mut spelling, ts);
            publish(Topic::Tickers, text);
        }
        snapshot.send_replace(Arc::new(tickers));
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
