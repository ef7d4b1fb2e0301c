//! The watchlist at a glance: the last hour of each symbol's price in one-minute buckets (for
//! the sparkline and the volatility sort), the sort orders and the `/` filter.
//!
//! Pure: times come in as arguments (the app's `now_ms`), nothing reads a clock.

use super::App;
use crate::action::Effect;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::cmp::Ordering;
use std::collections::{BTreeMap, VecDeque};
use trademon_client::ClientCommand;
use trademon_protocol::{ServerMsg, Snapshot};

const MINUTE_MS: i64 = 60_000;
/// Minutes a series keeps, and the span the sparkline draws: one hour.
pub const SPARK_MINUTES: usize = 60;
/// The sparkline's levels, lowest first: plain block characters that read without colour.
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The close of each minute a symbol had a price in, oldest first, at most [`SPARK_MINUTES`].
/// Minutes without a price have no bucket: a gap stays a gap.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinuteSeries {
    /// (minute since the epoch, last price seen in it).
    buckets: VecDeque<(i64, f64)>,
}

impl MinuteSeries {
    /// A price seen at `at_ms`: it is the close of its minute until a later one arrives.
    /// Prices from an earlier minute than the newest bucket are ignored (a late message does
    /// not rewrite a closed minute); non-finite prices are not prices.
    pub fn record(&mut self, at_ms: i64, last: f64) {
        if !last.is_finite() {
            return;
        }
        let minute = at_ms.div_euclid(MINUTE_MS);
        match self.buckets.back_mut() {
            Some((m, close)) if *m == minute => *close = last,
            Some((m, _)) if *m > minute => {}
            _ => self.buckets.push_back((minute, last)),
        }
        // Keep the last hour only, by time as well as by count.
        while self
            .buckets
            .front()
            .is_some_and(|(m, _)| *m <= minute - SPARK_MINUTES as i64)
            || self.buckets.len() > SPARK_MINUTES
        {
            self.buckets.pop_front();
        }
    }

    /// Buckets of the hour up to `now_ms` (older ones are not the last hour any more).
    pub fn window(&self, now_ms: i64) -> impl Iterator<Item = (i64, f64)> + '_ {
        let now_min = now_ms.div_euclid(MINUTE_MS);
        self.buckets
            .iter()
            .copied()
            .filter(move |(m, _)| *m > now_min - SPARK_MINUTES as i64 && *m <= now_min)
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// (max - min) / last over the hour's buckets; `None` (unknown) with fewer than two
    /// minutes of data or a last price that is not positive.
    pub fn volatility(&self, now_ms: i64) -> Option<f64> {
        let mut n = 0;
        let (mut lo, mut hi, mut last) = (f64::INFINITY, f64::NEG_INFINITY, 0.0);
        for (_, p) in self.window(now_ms) {
            n += 1;
            lo = lo.min(p);
            hi = hi.max(p);
            last = p;
        }
        (n >= 2 && last > 0.0).then(|| (hi - lo) / last)
    }

    /// The hour up to `now_ms` in `width` cells, oldest left; each cell covers
    /// `60 / width` minutes (rounded up) and shows the close of its newest minute with data.
    /// Cells without data are blank. The scale is the drawn cells' own min..max; a flat
    /// hour is a row of `▄`.
    pub fn sparkline(&self, now_ms: i64, width: usize) -> String {
        if width == 0 {
            return String::new();
        }
        let per_cell = SPARK_MINUTES.div_ceil(width) as i64;
        let cells = SPARK_MINUTES.div_ceil(per_cell as usize).min(width);
        let now_min = now_ms.div_euclid(MINUTE_MS);
        // The last cell ends with the current minute.
        let start = now_min + 1 - per_cell * cells as i64;
        let mut values: Vec<Option<f64>> = vec![None; cells];
        for (m, p) in self.window(now_ms) {
            if m < start {
                continue;
            }
            let i = ((m - start) / per_cell) as usize;
            if let Some(v) = values.get_mut(i) {
                *v = Some(p);
            }
        }
        let (lo, hi) = values
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(*p), hi.max(*p))
            });
        let top = (LEVELS.len() - 1) as f64;
        let mut out = String::with_capacity(width * 3);
        // Right-aligned in the column when the cells do not divide it evenly.
        out.extend(std::iter::repeat_n(' ', width - cells));
        for v in values {
            out.push(match v {
                None => ' ',
                Some(_) if hi - lo <= 0.0 => LEVELS[3],
                Some(p) => LEVELS[(((p - lo) / (hi - lo)) * top).round() as usize],
            });
        }
        out
    }
}

/// A series per (session id, symbol), filled from the tickers the client applies.
#[derive(Debug, Clone, Default)]
pub struct Sparks {
    series: BTreeMap<(String, String), MinuteSeries>,
}

impl Sparks {
    pub fn record(&mut self, session: &str, symbol: &str, at_ms: i64, last: f64) {
        self.series
            .entry((session.to_string(), symbol.to_string()))
            .or_default()
            .record(at_ms, last);
    }

    pub fn get(&self, session: &str, symbol: &str) -> Option<&MinuteSeries> {
        self.series.get(&(session.to_string(), symbol.to_string()))
    }
}

/// What the watchlist is ordered by. `Session` is the order of the session's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Session,
    Symbol,
    Change,
    Volume,
    Volatility,
    State,
}

impl SortKey {
    const ALL: [SortKey; 6] = [
        SortKey::Session,
        SortKey::Symbol,
        SortKey::Change,
        SortKey::Volume,
        SortKey::Volatility,
        SortKey::State,
    ];

    pub fn next(self) -> SortKey {
        let i = SortKey::ALL.iter().position(|k| *k == self).unwrap_or(0);
        SortKey::ALL[(i + 1) % SortKey::ALL.len()]
    }

    fn name(self) -> &'static str {
        match self {
            SortKey::Session => "config",
            SortKey::Symbol => "symbol",
            SortKey::Change => "chg 24h",
            SortKey::Volume => "vol",
            SortKey::Volatility => "volat 1h",
            SortKey::State => "state",
        }
    }
}

/// The watchlist's order: a key and whether it is reversed from the key's natural direction
/// (symbols A-Z; the largest change, volume and volatility first; the busiest state first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchSort {
    pub key: SortKey,
    pub reverse: bool,
}

impl WatchSort {
    /// For the panel title, in words so it reads without colour: `sort chg 24h ↓`.
    pub fn label(self) -> String {
        let arrow = match (self.key, self.reverse) {
            (SortKey::Session | SortKey::Symbol | SortKey::State, false) => "↑",
            (SortKey::Session | SortKey::Symbol | SortKey::State, true) => "↓",
            (_, false) => "↓",
            (_, true) => "↑",
        };
        format!("sort {} {arrow}", self.key.name())
    }
}

/// What a row is sorted by; `None` is unknown and always sorts last, whichever direction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowFacts<'a> {
    pub symbol: &'a str,
    pub change: Option<f64>,
    pub volume: Option<f64>,
    pub volatility: Option<f64>,
    pub state: Option<&'a str>,
}

/// Busiest first: a position or a signal needs the trader's eyes before a quiet monitor.
fn state_rank(state: &str) -> u8 {
    match state {
        "IN_POSITION" => 0,
        "EXIT_SIGNAL" => 1,
        "ENTRY_SIGNAL" => 2,
        "LIQUIDATED" => 3,
        "COOLDOWN" => 4,
        "MONITORING" => 5,
        "FAILED" => 6,
        _ => 7,
    }
}

/// Known before unknown; known values by `cmp`.
fn known_first<T>(a: Option<T>, b: Option<T>, cmp: impl Fn(T, T) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => cmp(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Indices into `rows` of the rows whose symbol matches `filter`, in `sort` order. Ties keep
/// the config order, so equal rows do not swap places from one frame to the next.
pub fn order(rows: &[RowFacts], sort: WatchSort, filter: &str) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..rows.len())
        .filter(|&i| matches(filter, rows[i].symbol))
        .collect();
    let dir = |o: Ordering| if sort.reverse { o.reverse() } else { o };
    let desc = |a: f64, b: f64| dir(b.total_cmp(&a));
    idx.sort_by(|&a, &b| {
        let (x, y) = (&rows[a], &rows[b]);
        match sort.key {
            SortKey::Session => dir(a.cmp(&b)),
            SortKey::Symbol => dir(x.symbol.cmp(y.symbol)),
            SortKey::Change => known_first(x.change, y.change, desc),
            SortKey::Volume => known_first(x.volume, y.volume, desc),
            SortKey::Volatility => known_first(x.volatility, y.volatility, desc),
            SortKey::State => known_first(x.state, y.state, |a, b| {
                dir(state_rank(a).cmp(&state_rank(b)))
            }),
        }
        .then(a.cmp(&b))
    });
    idx
}

/// The filter keeps symbols that contain its text, ignoring case; empty keeps all.
pub fn matches(filter: &str, symbol: &str) -> bool {
    filter.is_empty() || symbol.to_lowercase().contains(&filter.to_lowercase())
}

impl App {
    /// The active session's watchlist rows: indices into its symbols, filtered and sorted.
    pub(crate) fn watch_rows(&self) -> Vec<usize> {
        let Some(session) = self.active_session() else {
            return Vec::new();
        };
        let market = self.model.market.get(&session.id);
        let instances = self.model.instances.get(&session.id);
        let facts: Vec<RowFacts> = session
            .symbols
            .iter()
            .map(|sym| {
                let t = market.and_then(|m| m.get(sym)).map(|v| &v.ticker);
                RowFacts {
                    symbol: sym,
                    change: t.and_then(|t| t.change_pct),
                    volume: t.and_then(|t| t.volume_24h),
                    volatility: self
                        .sparks
                        .get(&session.id, sym)
                        .and_then(|s| s.volatility(self.now_ms)),
                    state: instances.and_then(|m| m.get(sym)).map(|i| i.state.as_str()),
                }
            })
            .collect();
        order(&facts, self.watch_sort, &self.filter)
    }

    /// The selection moved `delta` rows in the watchlist's order (an index into the symbols).
    pub(crate) fn watch_step(&self, delta: i64) -> usize {
        let rows = self.watch_rows();
        match rows.iter().position(|&i| i == self.selected) {
            Some(at) => rows[super::step(at, delta, rows.len())],
            None => rows.first().copied().unwrap_or(self.selected),
        }
    }

    /// After the filter or the session changed: the selection on a shown row, if any.
    pub(super) fn keep_selection_shown(&mut self) {
        let rows = self.watch_rows();
        if !rows.contains(&self.selected)
            && let Some(first) = rows.first()
        {
            self.selected = *first;
        }
    }

    /// Tickers the model just applied go into the sparkline buckets, in the minute the
    /// backend received them (on the app's clock: now minus their age when sent), so a stale
    /// value, or one a snapshot repeats after a reconnect, does not fill a later minute.
    pub(super) fn record_sparks(&mut self, msg: &ServerMsg) {
        match msg {
            ServerMsg::Ticker(e) => {
                if let Some(session) = &e.session_id {
                    let at = self.now_ms - (e.ts - e.data.received_ms).max(0);
                    self.sparks.record(session, &e.data.symbol, at, e.data.last);
                }
            }
            ServerMsg::FullUpdate(e) if !e.stream.is_per_symbol() => {
                if let Some(session) = &e.session_id {
                    self.record_snapshot(session, &e.data, e.ts);
                }
            }
            _ => {}
        }
    }

    /// `sent_ms`: when the backend sent the snapshot (its clock, like `received_ms`).
    pub(super) fn record_snapshot(&mut self, session: &str, snap: &Snapshot, sent_ms: i64) {
        for t in snap.market_data.iter().flatten() {
            let at = self.now_ms - (sent_ms - t.received_ms).max(0);
            self.sparks.record(session, &t.symbol, at, t.last);
        }
    }

    /// Keys while the filter is typed: text goes to the filter, not to the keymap; enter keeps
    /// the filter, esc clears it. Ctrl-C still quits.
    pub(super) fn on_filter_key(&mut self, key: KeyEvent) -> Vec<Effect> {
        let ctrl_alt = key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return vec![Effect::Client(ClientCommand::Shutdown), Effect::Quit];
            }
            KeyCode::Char(c) if !ctrl_alt => self.filter.push(c),
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Enter => self.filter_typing = false,
            KeyCode::Esc => {
                self.filter.clear();
                self.filter_typing = false;
            }
            _ => return Vec::new(),
        }
        self.keep_selection_shown();
        self.dirty = true;
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_040_000; // a minute boundary (divisible by 60 000)

    fn closes(s: &MinuteSeries) -> Vec<(i64, f64)> {
        s.buckets
            .iter()
            .map(|(m, p)| (m - T0 / MINUTE_MS, *p))
            .collect()
    }

    #[test]
    fn a_minute_keeps_its_last_price_and_boundaries_start_a_new_one() {
        let mut s = MinuteSeries::default();
        s.record(T0, 10.0);
        s.record(T0 + 59_999, 11.0);
        s.record(T0 + 60_000, 12.0);
        assert_eq!(closes(&s), vec![(0, 11.0), (1, 12.0)]);
        // A late price for a closed minute does not rewrite it.
        s.record(T0 + 30_000, 99.0);
        s.record(T0 + 60_001, f64::NAN);
        assert_eq!(closes(&s), vec![(0, 11.0), (1, 12.0)]);
    }

    #[test]
    fn gaps_stay_gaps_and_the_hour_is_the_cap() {
        let mut s = MinuteSeries::default();
        s.record(T0, 1.0);
        s.record(T0 + 5 * MINUTE_MS, 2.0);
        assert_eq!(closes(&s), vec![(0, 1.0), (5, 2.0)], "no filled minutes");
        for m in 0..100 {
            s.record(T0 + m * MINUTE_MS, m as f64);
        }
        assert_eq!(s.len(), SPARK_MINUTES);
        assert_eq!(closes(&s).first(), Some(&(40, 40.0)));
        // After a long silence the old hour is gone, not shown as recent.
        s.record(T0 + 500 * MINUTE_MS, 7.0);
        assert_eq!(closes(&s), vec![(500, 7.0)]);
    }

    #[test]
    fn the_sparkline_draws_only_minutes_with_data() {
        let mut s = MinuteSeries::default();
        let now = T0 + 59 * MINUTE_MS + 1;
        assert_eq!(s.sparkline(now, 60), " ".repeat(60));
        s.record(T0 + 57 * MINUTE_MS, 100.0);
        s.record(T0 + 59 * MINUTE_MS, 200.0);
        let line: Vec<char> = s.sparkline(now, 60).chars().collect();
        assert_eq!(line.len(), 60);
        assert_eq!(&line[57..], &['▁', ' ', '█']);
        assert!(line[..57].iter().all(|c| *c == ' '));
        // Three minutes a cell at width 20: minutes 57-59 share the last cell (close 200).
        let narrow = s.sparkline(now, 20);
        assert_eq!(narrow.chars().count(), 20);
        assert!(narrow.ends_with('▄'), "one point is flat: {narrow:?}");
        // An hour later nothing is left to draw.
        assert_eq!(s.sparkline(now + 60 * MINUTE_MS, 12).trim(), "");
    }

    #[test]
    fn volatility_is_range_over_last_and_unknown_without_two_minutes() {
        let mut s = MinuteSeries::default();
        assert_eq!(s.volatility(T0), None);
        s.record(T0, 100.0);
        assert_eq!(s.volatility(T0), None, "one minute says nothing");
        s.record(T0 + MINUTE_MS, 90.0);
        s.record(T0 + 2 * MINUTE_MS, 120.0);
        s.record(T0 + 2 * MINUTE_MS + 10, 80.0);
        // max 100, min 80, last 80.
        assert_eq!(s.volatility(T0 + 2 * MINUTE_MS), Some(0.25));
        assert_eq!(s.volatility(T0 + 200 * MINUTE_MS), None, "an old hour");
    }

    fn row<'a>(symbol: &'a str, change: Option<f64>, state: Option<&'a str>) -> RowFacts<'a> {
        RowFacts {
            symbol,
            change,
            volume: change.map(|c| c * 10.0),
            volatility: change.map(f64::abs),
            state,
        }
    }

    #[test]
    fn sort_orders_put_unknowns_last_both_ways() {
        let rows = [
            row("ETH_USDT", Some(2.0), Some("MONITORING")),
            row("BTC_USDT", None, None),
            row("SOL_USDT", Some(-5.0), Some("IN_POSITION")),
            row("ADA_USDT", Some(7.0), Some("COOLDOWN")),
        ];
        let by = |key, reverse| order(&rows, WatchSort { key, reverse }, "");
        assert_eq!(by(SortKey::Session, false), vec![0, 1, 2, 3]);
        assert_eq!(by(SortKey::Session, true), vec![3, 2, 1, 0]);
        assert_eq!(by(SortKey::Symbol, false), vec![3, 1, 0, 2]);
        assert_eq!(by(SortKey::Change, false), vec![3, 0, 2, 1]);
        assert_eq!(by(SortKey::Change, true), vec![2, 0, 3, 1]);
        assert_eq!(by(SortKey::Volume, false), vec![3, 0, 2, 1]);
        assert_eq!(by(SortKey::Volatility, false), vec![3, 2, 0, 1]);
        assert_eq!(by(SortKey::Volatility, true), vec![0, 2, 3, 1]);
        assert_eq!(by(SortKey::State, false), vec![2, 3, 0, 1]);
        assert_eq!(by(SortKey::State, true), vec![0, 3, 2, 1]);
    }

    #[test]
    fn the_sort_cycles_and_says_what_it_is() {
        let mut k = SortKey::default();
        let mut seen = vec![k];
        for _ in 0..5 {
            k = k.next();
            seen.push(k);
        }
        assert_eq!(k.next(), SortKey::Session);
        assert_eq!(seen.len(), SortKey::ALL.len());
        let s = WatchSort {
            key: SortKey::Change,
            reverse: false,
        };
        assert_eq!(s.label(), "sort chg 24h ↓");
        let s = WatchSort {
            key: SortKey::Symbol,
            reverse: true,
        };
        assert_eq!(s.label(), "sort symbol ↓");
    }

    #[test]
    fn the_filter_matches_any_part_ignoring_case() {
        assert!(matches("", "BTC_USDT"));
        assert!(matches("btc", "BTC_USDT"));
        assert!(matches("C_u", "BTC_USDT"));
        assert!(!matches("eth", "BTC_USDT"));
        let rows = [row("ETH_USDT", None, None), row("BTC_USDT", None, None)];
        assert_eq!(order(&rows, WatchSort::default(), "usdt"), vec![0, 1]);
        assert_eq!(order(&rows, WatchSort::default(), "Bt"), vec![1]);
        assert!(order(&rows, WatchSort::default(), "xyz").is_empty());
    }
}
