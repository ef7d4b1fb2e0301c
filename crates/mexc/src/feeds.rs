//! The symbol view's feeds on one connection, pure: which streams the wanted feeds mean,
//! when to ask REST for what, and what each push and REST answer emits. Time comes in as
//! arguments; the shard carries out the [`Effect`]s.
//!
//! - **Klines.** Each time a kline stream is confirmed on a connection (its ack or first
//!   push) — the first time, after every reconnect (and so after a REST fallback), after a
//!   resubscribe — the window from the last candle seen (or `kline_history` candles back) to
//!   now is fetched and emitted as `Candles { source: Rest }`, so a chart has no hole for the
//!   time the stream was down. Each `push.kline` is emitted as one candle. Pushes that arrive
//!   while the window is being fetched are newer than the window for their candles, so the
//!   window leaves those candles out.
//! - **Depth.** A [`DepthSync`] per symbol: pushes are buffered until the stream is confirmed
//!   and a REST snapshot has arrived, then applied by MEXC's version-range rules. A gap is
//!   counted and the book resyncs from a new snapshot. After every visible change the top
//!   `book_levels` of each side go out as `Book` (source Rest right after a snapshot).
//! - **Funding.** One REST `funding_rate` when a symbol is first wanted, then the pushes.
//!
//! Every REST request of a feed is at least `rest_gap` after the previous one of that feed
//! (MEXC allows about 20 per 2 s per endpoint), a failed one is retried after that gap, and
//! after the WAF's HTML 403 only after `waf_cooldown`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use trademon_core::depth_book::{DepthDelta, DepthSync, SyncEvent};
use trademon_core::market::{BookTop, Feed, FeedWant, MarketEvent};
use trademon_protocol::{BookLevel, Candle, DataSource, Interval, is_valid_symbol};

use super::feeds_rest::{FeedRestError, Fetch, Fetched, MAX_KLINE_ROWS};
use super::subscriptions::Key;
use super::wire::Channel;

/// Seconds used for a month when sizing a window (months have no fixed length).
const MONTH_S: i64 = 31 * 86_400;

#[derive(Debug, Clone, Copy)]
pub struct FeedLimits {
    pub book_levels: usize,
    pub kline_history: u32,
    pub depth_buffer: usize,
    pub rest_gap: Duration,
    pub waf_cooldown: Duration,
}

/// What the shard must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Emit(MarketEvent),
    Fetch(Fetch),
    /// A depth version gap on a synced book: count it (the resync is already asked for).
    Gap {
        symbol: String,
        expected: u64,
        begin: u64,
    },
    /// A REST request failed (logged by the shard); it is retried after `retry_in`, or not
    /// at all when the exchange refused it outright (`code 1001`: no such contract).
    FetchFailed {
        what: &'static str,
        symbol: String,
        error: FeedRestError,
        retry_in: Option<Duration>,
    },
    /// A want whose symbol breaks the symbol rule: never subscribed.
    Rejected(String),
}

#[derive(Debug)]
struct KlineFeed {
    epoch: u64,
    /// Open time of the newest candle seen (push or REST), kept across reconnects.
    last_t: Option<i64>,
    /// The window was asked for on the current connection.
    filled: bool,
    /// Oldest candle pushed since the window was asked for (those are newer than it).
    pushed_since_fetch: Option<i64>,
}

#[derive(Debug)]
struct DepthFeed {
    epoch: u64,
    sync: DepthSync,
    /// The stream is confirmed on the current connection: pushes are arriving or will.
    confirmed: bool,
    fetching: bool,
    last_request: Option<Instant>,
    last_top: Option<(Vec<BookLevel>, Vec<BookLevel>)>,
    /// Version gaps since the feed opened (each one resynced from REST).
    gaps: u64,
}

#[derive(Debug)]
struct FundingFeed {
    epoch: u64,
}

#[derive(Debug)]
pub struct Feeds {
    limits: FeedLimits,
    klines: BTreeMap<(String, Interval), KlineFeed>,
    depth: BTreeMap<String, DepthFeed>,
    funding: BTreeMap<String, FundingFeed>,
    next_epoch: u64,
}

fn window_s(interval: Interval) -> i64 {
    interval.seconds().unwrap_or(MONTH_S)
}

impl Feeds {
    pub fn new(limits: FeedLimits) -> Feeds {
        Feeds {
            limits,
            klines: BTreeMap::new(),
            depth: BTreeMap::new(),
            funding: BTreeMap::new(),
            next_epoch: 1,
        }
    }

    fn next_epoch_id(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    /// The subscriptions the wanted feeds need: kline per interval, depth, and the funding
    /// rate of every viewed symbol (so at most three per symbol a view opens).
    pub fn keys(&self) -> BTreeSet<Key> {
        let mut keys: BTreeSet<Key> = self
            .klines
            .keys()
            .map(|(s, i)| (Channel::Kline(*i), s.clone()))
            .collect();
        keys.extend(self.depth.keys().map(|s| (Channel::Depth, s.clone())));
        keys.extend(
            self.funding
                .keys()
                .map(|s| (Channel::FundingRate, s.clone())),
        );
        keys
    }

    /// Follow the wanted feeds: new ones start (a new symbol's funding rate is fetched at
    /// once), gone ones are forgotten with everything they held.
    pub fn set_wants(&mut self, wants: &BTreeSet<FeedWant>, now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        let mut klines = BTreeSet::new();
        let mut depth = BTreeSet::new();
        let mut symbols = BTreeSet::new();
        for w in wants {
            if !is_valid_symbol(&w.symbol) {
                if !effects.contains(&Effect::Rejected(w.symbol.clone())) {
                    effects.push(Effect::Rejected(w.symbol.clone()));
                }
                continue;
            }
            symbols.insert(w.symbol.clone());
            match w.feed {
                Feed::Kline(i) => {
                    klines.insert((w.symbol.clone(), i));
                }
                Feed::Depth => {
                    depth.insert(w.symbol.clone());
                }
            }
        }
        self.klines.retain(|k, _| klines.contains(k));
        self.depth.retain(|s, _| depth.contains(s));
        self.funding.retain(|s, _| symbols.contains(s));
        for k in klines {
            if !self.klines.contains_key(&k) {
                let epoch = self.next_epoch_id();
                self.klines.insert(
                    k,
                    KlineFeed {
                        epoch,
                        last_t: None,
                        filled: false,
                        pushed_since_fetch: None,
                    },
                );
            }
        }
        for s in depth {
            if !self.depth.contains_key(&s) {
                let epoch = self.next_epoch_id();
                self.depth.insert(
                    s,
                    DepthFeed {
                        epoch,
                        sync: DepthSync::new(self.limits.depth_buffer),
                        confirmed: false,
                        fetching: false,
                        last_request: None,
                        last_top: None,
                        gaps: 0,
                    },
                );
            }
        }
        for s in symbols {
            if !self.funding.contains_key(&s) {
                let epoch = self.next_epoch_id();
                self.funding.insert(s.clone(), FundingFeed { epoch });
                effects.push(Effect::Fetch(Fetch::Funding {
                    symbol: s,
                    epoch,
                    not_before: now,
                }));
            }
        }
        effects
    }

    /// The connection opened or closed: every stream starts over. Books are dropped (pushes
    /// were or will be missed), kline windows are asked for again once confirmed, answers to
    /// requests made before are ignored.
    pub fn on_connection_change(&mut self) {
        let mut epochs = std::iter::from_fn({
            let mut g = self.next_epoch;
            move || {
                g += 1;
                Some(g)
            }
        });
        for k in self.klines.values_mut() {
            k.epoch = epochs.next().unwrap_or_default();
            k.filled = false;
            k.pushed_since_fetch = None;
        }
        for d in self.depth.values_mut() {
            d.epoch = epochs.next().unwrap_or_default();
            d.sync.reset();
            d.confirmed = false;
            d.fetching = false;
        }
        self.next_epoch = epochs.next().unwrap_or_default();
    }

    /// A subscription was resent (ack timeout, stale): its stream starts over like on a new
    /// connection.
    pub fn on_resubscribed(&mut self, channel: Channel, symbol: &str) {
        match channel {
            Channel::Kline(i) => {
                let epoch = self.next_epoch_id();
                if let Some(k) = self.klines.get_mut(&(symbol.to_string(), i)) {
                    k.epoch = epoch;
                    k.filled = false;
                    k.pushed_since_fetch = None;
                }
            }
            Channel::Depth => {
                let epoch = self.next_epoch_id();
                if let Some(d) = self.depth.get_mut(symbol) {
                    d.epoch = epoch;
                    d.sync.reset();
                    d.confirmed = false;
                    d.fetching = false;
                }
            }
            _ => {}
        }
    }

    /// A feed stream was confirmed (acked, or its first push). `now_ms`: wall clock.
    pub fn on_confirmed(
        &mut self,
        channel: Channel,
        symbol: &str,
        now_ms: i64,
        now: Instant,
    ) -> Vec<Effect> {
        match channel {
            Channel::Kline(interval) => {
                let history = i64::from(self.limits.kline_history);
                let Some(k) = self.klines.get_mut(&(symbol.to_string(), interval)) else {
                    return Vec::new();
                };
                if k.filled {
                    return Vec::new();
                }
                k.filled = true;
                k.pushed_since_fetch = None;
                let secs = window_s(interval);
                let end_s = now_ms.div_euclid(1000);
                let start_s = match k.last_t {
                    // From the last candle seen (it may have been open), as far back as one
                    // request reaches.
                    Some(t) => t.max(end_s - (MAX_KLINE_ROWS - 1) * secs),
                    None => end_s - history * secs,
                };
                vec![Effect::Fetch(Fetch::Klines {
                    symbol: symbol.to_string(),
                    interval,
                    start_s,
                    end_s,
                    epoch: k.epoch,
                    not_before: now,
                })]
            }
            Channel::Depth => {
                let Some(d) = self.depth.get_mut(symbol) else {
                    return Vec::new();
                };
                if d.confirmed {
                    return Vec::new();
                }
                d.confirmed = true;
                self.request_snapshot(symbol, now, None)
                    .into_iter()
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    fn request_snapshot(
        &mut self,
        symbol: &str,
        now: Instant,
        at_least: Option<Instant>,
    ) -> Option<Effect> {
        let gap = self.limits.rest_gap;
        let d = self.depth.get_mut(symbol)?;
        if d.fetching || !d.confirmed {
            return None;
        }
        let paced = d.last_request.map_or(now, |t| (t + gap).max(now));
        let not_before = at_least.map_or(paced, |t| t.max(paced));
        d.fetching = true;
        d.last_request = Some(not_before);
        Some(Effect::Fetch(Fetch::Depth {
            symbol: symbol.to_string(),
            epoch: d.epoch,
            not_before,
        }))
    }

    pub fn on_kline(&mut self, symbol: &str, interval: Interval, candle: Candle) -> Vec<Effect> {
        let Some(k) = self.klines.get_mut(&(symbol.to_string(), interval)) else {
            return Vec::new();
        };
        k.last_t = Some(k.last_t.map_or(candle.t, |t| t.max(candle.t)));
        if k.filled {
            k.pushed_since_fetch = Some(k.pushed_since_fetch.map_or(candle.t, |t| t.min(candle.t)));
        }
        vec![Effect::Emit(MarketEvent::Candles {
            symbol: symbol.to_string(),
            interval,
            candles: vec![candle],
            source: DataSource::Ws,
        })]
    }

    pub fn on_depth(
        &mut self,
        symbol: &str,
        delta: DepthDelta,
        ts_ms: Option<i64>,
        now_ms: i64,
        now: Instant,
    ) -> Vec<Effect> {
        let Some(d) = self.depth.get_mut(symbol) else {
            return Vec::new();
        };
        match d.sync.push(delta) {
            SyncEvent::Changed => self
                .book(symbol, ts_ms.unwrap_or(now_ms), DataSource::Ws)
                .into_iter()
                .collect(),
            SyncEvent::Gap { expected, begin } => {
                let mut out = vec![Effect::Gap {
                    symbol: symbol.to_string(),
                    expected,
                    begin,
                }];
                if let Some(d) = self.depth.get_mut(symbol) {
                    d.last_top = None;
                    d.gaps += 1;
                }
                out.extend(self.request_snapshot(symbol, now, None));
                out
            }
            SyncEvent::Unchanged | SyncEvent::Synced | SyncEvent::SnapshotTooOld { .. } => {
                Vec::new()
            }
        }
    }

    /// The top of the book as an event, if it differs from the last one sent.
    fn book(&mut self, symbol: &str, ts_ms: i64, source: DataSource) -> Option<Effect> {
        let n = self.limits.book_levels;
        let d = self.depth.get_mut(symbol)?;
        let book = d.sync.book()?;
        let top = book.top(n);
        if d.last_top.as_ref() == Some(&top) {
            return None;
        }
        d.last_top = Some(top.clone());
        Some(Effect::Emit(MarketEvent::Book(BookTop {
            symbol: symbol.to_string(),
            version: book.version(),
            bids: top.0,
            asks: top.1,
            ts_ms,
            source,
            gaps: d.gaps,
        })))
    }

    pub fn on_funding(
        &mut self,
        symbol: &str,
        rate: f64,
        next_settle_ms: Option<i64>,
    ) -> Vec<Effect> {
        if !self.funding.contains_key(symbol) {
            return Vec::new();
        }
        vec![Effect::Emit(MarketEvent::Funding {
            symbol: symbol.to_string(),
            rate,
            next_settle_ms,
        })]
    }

    /// `None`: the exchange answered with a refusal of the request itself (unknown contract,
    /// bad parameter), which asking again every second would not change.
    fn retry_delay(&self, e: &FeedRestError) -> Option<Duration> {
        match e {
            FeedRestError::Api { .. } => None,
            FeedRestError::Waf => Some(self.limits.waf_cooldown),
            // MEXC's throttle window is 2 s.
            FeedRestError::Throttled(_) => Some(self.limits.rest_gap.max(Duration::from_secs(2))),
            _ => Some(self.limits.rest_gap),
        }
    }

    pub fn on_fetched(&mut self, fetched: Fetched, now_ms: i64, now: Instant) -> Vec<Effect> {
        match fetched {
            Fetched::Klines {
                symbol,
                interval,
                epoch,
                start_s,
                result,
            } => self.on_klines_fetched((symbol, interval), epoch, start_s, result, now_ms, now),
            Fetched::Depth {
                symbol,
                epoch,
                result,
            } => {
                let delay = result.as_ref().err().and_then(|e| self.retry_delay(e));
                let Some(d) = self.depth.get_mut(&symbol).filter(|d| d.epoch == epoch) else {
                    return Vec::new();
                };
                d.fetching = false;
                match result {
                    Err(error) => {
                        let mut out = vec![Effect::FetchFailed {
                            what: "depth",
                            symbol: symbol.clone(),
                            error,
                            retry_in: delay,
                        }];
                        if let Some(retry_in) = delay {
                            out.extend(self.request_snapshot(&symbol, now, Some(now + retry_in)));
                        }
                        out
                    }
                    Ok((snapshot, ts)) => match d.sync.snapshot(&snapshot) {
                        SyncEvent::Synced => {
                            d.last_top = None;
                            self.book(&symbol, ts.unwrap_or(now_ms), DataSource::Rest)
                                .into_iter()
                                .collect()
                        }
                        SyncEvent::SnapshotTooOld { .. } => self
                            .request_snapshot(&symbol, now, None)
                            .into_iter()
                            .collect(),
                        _ => Vec::new(),
                    },
                }
            }
            Fetched::Funding {
                symbol,
                epoch,
                result,
            } => {
                if self.funding.get(&symbol).is_none_or(|f| f.epoch != epoch) {
                    return Vec::new();
                }
                match result {
                    Ok((rate, next_settle_ms)) => vec![Effect::Emit(MarketEvent::Funding {
                        symbol,
                        rate,
                        next_settle_ms,
                    })],
                    Err(error) => {
                        let retry_in = self.retry_delay(&error);
                        let retry = retry_in.map(|d| {
                            Effect::Fetch(Fetch::Funding {
                                symbol: symbol.clone(),
                                epoch,
                                not_before: now + d,
                            })
                        });
                        let failed = Effect::FetchFailed {
                            what: "funding_rate",
                            symbol,
                            error,
                            retry_in,
                        };
                        std::iter::once(failed).chain(retry).collect()
                    }
                }
            }
        }
    }

    fn on_klines_fetched(
        &mut self,
        (symbol, interval): (String, Interval),
        epoch: u64,
        start_s: i64,
        result: Result<Vec<Candle>, FeedRestError>,
        now_ms: i64,
        now: Instant,
    ) -> Vec<Effect> {
        let delay = result.as_ref().err().and_then(|e| self.retry_delay(e));
        let Some(k) = self
            .klines
            .get_mut(&(symbol.clone(), interval))
            .filter(|k| k.epoch == epoch)
        else {
            return Vec::new();
        };
        match result {
            Err(error) => {
                // The same window, ending when the retry is made (an end in the future only
                // means "up to now" to the exchange). Pushes since the first try still cover
                // their candles, so `pushed_since_fetch` stays.
                let retry = delay.map(|d| {
                    Effect::Fetch(Fetch::Klines {
                        symbol: symbol.clone(),
                        interval,
                        start_s,
                        end_s: (now_ms + d.as_millis() as i64).div_euclid(1000),
                        epoch,
                        not_before: now + d,
                    })
                });
                let failed = Effect::FetchFailed {
                    what: "kline",
                    symbol,
                    error,
                    retry_in: delay,
                };
                std::iter::once(failed).chain(retry).collect()
            }
            Ok(mut candles) => {
                if let Some(pushed) = k.pushed_since_fetch {
                    candles.retain(|c| c.t < pushed);
                }
                if let Some(last) = candles.last() {
                    k.last_t = Some(k.last_t.map_or(last.t, |t| t.max(last.t)));
                }
                if candles.is_empty() {
                    return Vec::new();
                }
                vec![Effect::Emit(MarketEvent::Candles {
                    symbol,
                    interval,
                    candles,
                    source: DataSource::Rest,
                })]
            }
        }
    }
}

#[cfg(test)]
mod tests;
