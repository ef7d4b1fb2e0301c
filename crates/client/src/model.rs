//! The client's replica of backend state, built only from protocol messages.
//!
//! Time is passed in (`now_ms`, the client's wall clock or a replay clock) so the same
//! messages always give the same model. Nothing here does IO.

use crate::market_view::{SymbolMarket, ViewLimits};
use std::collections::{BTreeMap, VecDeque};
use trademon_protocol::{
    Envelope, Health, Instance, Interval, LogEvent, PositionInfo, PositionStatus, RestSnapshot,
    ServerMsg, SessionInfo, SessionTotals, SignalInfo, Snapshot, StreamName, SymbolConditions,
    SymbolIndicators, Ticker,
};

/// Signals kept per session (newest last); the backend's full_update sends at most its own
/// `engine.signal_history`.
pub const SIGNALS_MAX: usize = 200;

/// Closed trades kept per session (newest first); the backend's full_update sends at most its
/// own `engine.trade_history`.
pub const TRADES_MAX: usize = 200;

/// One symbol's latest market data with what is needed to tell its age honestly.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TickerView {
    pub ticker: Ticker,
    /// `last` of the previous update, for the direction marker.
    pub prev_last: Option<f64>,
    /// Age of the data at the backend when the message left it (`ts - received_ms`).
    pub age_at_send_ms: i64,
    /// Client clock when the message was applied.
    pub applied_ms: i64,
}

impl TickerView {
    /// Age of the data now: its age when sent plus the time since it arrived here.
    pub fn age_ms(&self, now_ms: i64) -> i64 {
        self.age_at_send_ms.max(0) + (now_ms - self.applied_ms).max(0)
    }
}

/// Result of applying one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// State changed (redraw).
    Changed,
    /// Nothing to do for the model (acks, pongs, stale conflated values).
    Unchanged,
    /// An ordered stream skipped a seq: the caller must resync that stream (of that session,
    /// or of that symbol for the symbol view's streams).
    Gap {
        stream: StreamName,
        session_id: Option<String>,
        symbol: Option<String>,
        expected: u64,
        got: u64,
    },
}

/// Serde: recordings start from a serialized model (a state keyframe), see `record::events`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClientModel {
    /// Backend run id; a new epoch means every seq starts over.
    pub epoch: Option<String>,
    pub sessions: Vec<SessionInfo>,
    /// session id -> symbol -> ticker.
    pub market: BTreeMap<String, BTreeMap<String, TickerView>>,
    /// session id -> symbol -> instance.
    pub instances: BTreeMap<String, BTreeMap<String, Instance>>,
    pub health: Option<Health>,
    /// Client clock when `health` arrived.
    pub health_applied_ms: i64,
    /// Newest last; repeats aggregated.
    pub events: VecDeque<LogEvent>,
    pub events_max: usize,
    /// session id -> symbol -> every indicator of that symbol.
    pub indicators: BTreeMap<String, BTreeMap<String, SymbolIndicators>>,
    /// session id -> symbol -> condition progress of that instance.
    pub conditions: BTreeMap<String, BTreeMap<String, SymbolConditions>>,
    /// session id -> signals, oldest first, at most `SIGNALS_MAX`.
    pub signals: BTreeMap<String, VecDeque<SignalInfo>>,
    /// session id -> symbol -> open paper position.
    pub positions: BTreeMap<String, BTreeMap<String, PositionInfo>>,
    /// session id -> closed paper trades, newest first, at most `TRADES_MAX`.
    #[serde(default)]
    pub closed: BTreeMap<String, VecDeque<PositionInfo>>,
    /// session id -> paper results.
    pub totals: BTreeMap<String, SessionTotals>,
    /// The open symbol view's candles, book and tape (`open_symbol_view`).
    #[serde(default)]
    pub symbol_view: Option<SymbolMarket>,
    #[serde(default)]
    pub view_limits: ViewLimits,
    /// Keyed by stream and session, or by stream and symbol for the symbol view's streams.
    #[serde(with = "seq_pairs")]
    seqs: BTreeMap<(StreamName, Option<String>), u64>,
}

/// JSON object keys must be strings: the seq table goes out as a list of pairs.
mod seq_pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;
    use trademon_protocol::StreamName;

    type Seqs = BTreeMap<(StreamName, Option<String>), u64>;

    pub fn serialize<S: Serializer>(seqs: &Seqs, s: S) -> Result<S::Ok, S::Error> {
        let pairs: Vec<(&(StreamName, Option<String>), &u64)> = seqs.iter().collect();
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Seqs, D::Error> {
        let pairs: Vec<((StreamName, Option<String>), u64)> = Vec::deserialize(d)?;
        Ok(pairs.into_iter().collect())
    }
}

impl ClientModel {
    pub fn new(events_max: usize) -> Self {
        ClientModel {
            events_max: events_max.max(1),
            ..Default::default()
        }
    }

    /// How many candles and trades the symbol view keeps.
    pub fn with_view_limits(mut self, limits: ViewLimits) -> Self {
        self.view_limits = limits;
        self
    }

    /// Start showing `symbol` at `interval`: its streams' messages are applied from now on.
    /// The same symbol at a new interval keeps the book and tape and drops the candles (a new
    /// `full_update` brings the new interval's history); another symbol starts from nothing.
    pub fn open_symbol_view(&mut self, symbol: &str, interval: Interval, now_ms: i64) {
        match &mut self.symbol_view {
            Some(v) if v.symbol == symbol => {
                if v.interval != interval {
                    v.interval = interval;
                    v.candles = None;
                    v.opened_ms = now_ms;
                    self.seqs
                        .remove(&(StreamName::Candles, Some(symbol.to_string())));
                }
            }
            _ => {
                self.close_symbol_view();
                self.symbol_view = Some(SymbolMarket::new(symbol.to_string(), interval, now_ms));
            }
        }
    }

    /// Stop showing the symbol view: its data and seqs go (a reopen subscribes afresh).
    pub fn close_symbol_view(&mut self) {
        if let Some(v) = self.symbol_view.take() {
            for stream in [StreamName::Candles, StreamName::Book, StreamName::Tape] {
                self.seqs.remove(&(stream, Some(v.symbol.clone())));
            }
        }
    }

    /// Forget every seq (after a reconnect the backend sends full updates again).
    pub fn reset_sequences(&mut self) {
        self.seqs.clear();
    }

    pub fn last_seq(&self, stream: StreamName, session_id: Option<&str>) -> Option<u64> {
        self.seqs
            .get(&(stream, session_id.map(str::to_string)))
            .copied()
    }

    pub fn apply(&mut self, msg: &ServerMsg, now_ms: i64) -> Applied {
        match msg {
            ServerMsg::Hello(h) => {
                if self.epoch.as_deref() != Some(h.epoch.as_str()) {
                    self.epoch = Some(h.epoch.clone());
                    self.seqs.clear();
                }
                Applied::Unchanged
            }
            ServerMsg::FullUpdate(e) if e.stream.is_per_symbol() => {
                self.symbol_full_update(e, now_ms)
            }
            ServerMsg::FullUpdate(e) => {
                self.seqs.insert(key(e), e.seq);
                self.apply_snapshot(e.session_id.as_deref(), &e.data, e.ts, now_ms);
                Applied::Changed
            }
            ServerMsg::Ticker(e) => {
                if !self.accept(e) {
                    return Applied::Unchanged;
                }
                let Some(session) = e.session_id.clone() else {
                    return Applied::Unchanged;
                };
                let symbols = self.market.entry(session).or_default();
                let prev_last = symbols.get(&e.data.symbol).map(|v| v.ticker.last);
                symbols.insert(
                    e.data.symbol.clone(),
                    TickerView {
                        ticker: e.data.clone(),
                        prev_last,
                        age_at_send_ms: e.ts - e.data.received_ms,
                        applied_ms: now_ms,
                    },
                );
                Applied::Changed
            }
            ServerMsg::Health(e) => {
                if !self.accept(e) {
                    return Applied::Unchanged;
                }
                self.health = Some(e.data.clone());
                self.health_applied_ms = now_ms;
                Applied::Changed
            }
            ServerMsg::Indicators(e) => self.conflated(e, |m, s| {
                let map = m.indicators.entry(s).or_default();
                map.insert(e.data.symbol.clone(), e.data.clone());
            }),
            ServerMsg::Conditions(e) => self.conflated(e, |m, s| {
                let map = m.conditions.entry(s).or_default();
                map.insert(e.data.symbol.clone(), e.data.clone());
            }),
            ServerMsg::Position(e) => self.conflated(e, |m, s| {
                let map = m.positions.entry(s.clone()).or_default();
                match e.data.status {
                    PositionStatus::Open => {
                        map.insert(e.data.symbol.clone(), e.data.clone());
                    }
                    // Only drop the position this message is about; a newer one may be open.
                    PositionStatus::Closed => {
                        if map.get(&e.data.symbol).is_some_and(|p| p.id <= e.data.id) {
                            map.remove(&e.data.symbol);
                        }
                        let list = m.closed.entry(s).or_default();
                        if !list.iter().any(|p| p.id == e.data.id) {
                            list.push_front(e.data.clone());
                            list.truncate(TRADES_MAX);
                        }
                    }
                }
            }),
            ServerMsg::SessionTotals(e) => self.conflated(e, |m, s| {
                m.totals.insert(s, e.data.clone());
            }),
            ServerMsg::Candles(e) => {
                let limits = self.view_limits;
                // Another interval's candles (late, from before a switch) are no gap.
                if !self
                    .symbol_view
                    .as_ref()
                    .is_some_and(|v| v.accepts_candles(&e.data))
                {
                    return Applied::Unchanged;
                }
                self.symbol_delta(e, false, |v, d| v.merge_candles(d, limits, now_ms))
            }
            ServerMsg::Book(e) => self.symbol_delta(e, true, |v, d| v.set_book(d, e.ts, now_ms)),
            ServerMsg::Tape(e) => {
                let limits = self.view_limits;
                self.symbol_delta(e, false, |v, d| v.push_trades(d, limits, now_ms))
            }
            ServerMsg::Signal(e) => self.ordered(e, |m, s| {
                let list = m.signals.entry(s).or_default();
                list.push_back(e.data.clone());
                while list.len() > SIGNALS_MAX {
                    list.pop_front();
                }
            }),
            ServerMsg::InstanceAdded(e) => self.ordered(e, |m, s| {
                m.instances
                    .entry(s)
                    .or_default()
                    .insert(e.data.symbol.clone(), e.data.clone());
            }),
            ServerMsg::InstanceRemoved(e) => self.ordered(e, |m, s| {
                let sym = &e.data.symbol;
                if let Some(map) = m.instances.get_mut(&s) {
                    map.remove(sym);
                }
                // The instance's progress and position went with it.
                if let Some(map) = m.conditions.get_mut(&s) {
                    map.remove(sym);
                }
                if let Some(map) = m.positions.get_mut(&s) {
                    map.remove(sym);
                }
            }),
            ServerMsg::StateChange(e) => self.ordered(e, |m, s| {
                let map = m.instances.entry(s).or_default();
                let inst = map
                    .entry(e.data.symbol.clone())
                    .or_insert_with(|| Instance {
                        symbol: e.data.symbol.clone(),
                        state: e.data.from.clone(),
                        since_ms: e.data.at_ms,
                        last_reason: String::new(),
                    });
                inst.state = e.data.to.clone();
                inst.since_ms = e.data.at_ms;
                inst.last_reason = e.data.reason.clone();
            }),
            ServerMsg::SessionChanged(e) => self.ordered(e, |m, _| {
                match m.sessions.iter_mut().find(|s| s.id == e.data.id) {
                    Some(s) => *s = e.data.clone(),
                    None => m.sessions.push(e.data.clone()),
                }
            }),
            ServerMsg::Event(e) => self.ordered(e, |m, _| m.push_event(e.data.clone())),
            ServerMsg::Ack(_)
            | ServerMsg::Error(_)
            | ServerMsg::Pong(_)
            | ServerMsg::Result(_)
            | ServerMsg::History(_) => Applied::Unchanged,
        }
    }

    /// Replace state from a REST snapshot (polling fallback).
    pub fn apply_rest_snapshot(&mut self, snap: &RestSnapshot, now_ms: i64) {
        if self.epoch.as_deref() != Some(snap.epoch.as_str()) {
            self.epoch = Some(snap.epoch.clone());
            self.seqs.clear();
        }
        self.apply_snapshot(Some(&snap.session_id), &snap.data, snap.ts, now_ms);
    }

    /// Add an event that originated in the client (link closes, errors) to the event panel.
    pub fn push_event(&mut self, ev: LogEvent) {
        if let Some(last) = self.events.back_mut()
            && last.name == ev.name
            && last.message == ev.message
        {
            last.count = last.count.saturating_add(ev.count);
            last.ts = ev.ts;
            last.level = last.level.max(ev.level);
            return;
        }
        self.events.push_back(ev);
        while self.events.len() > self.events_max {
            self.events.pop_front();
        }
    }

    /// Newest data age over one session's symbols (for the health bar).
    pub fn newest_data_age_ms(&self, session_id: &str, now_ms: i64) -> Option<i64> {
        self.market
            .get(session_id)?
            .values()
            .map(|v| v.age_ms(now_ms))
            .min()
    }

    fn apply_snapshot(&mut self, session: Option<&str>, snap: &Snapshot, ts: i64, now_ms: i64) {
        if let Some(sessions) = &snap.sessions {
            self.sessions = sessions.clone();
        }
        if let (Some(tickers), Some(s)) = (&snap.market_data, session) {
            let old = self.market.remove(s).unwrap_or_default();
            let fresh = tickers
                .iter()
                .map(|t| {
                    let prev_last = old.get(&t.symbol).map(|v| v.ticker.last);
                    let view = TickerView {
                        ticker: t.clone(),
                        prev_last,
                        age_at_send_ms: ts - t.received_ms,
                        applied_ms: now_ms,
                    };
                    (t.symbol.clone(), view)
                })
                .collect();
            self.market.insert(s.to_string(), fresh);
        }
        if let (Some(instances), Some(s)) = (&snap.state_machines, session) {
            let map = instances
                .iter()
                .map(|i| (i.symbol.clone(), i.clone()))
                .collect();
            self.instances.insert(s.to_string(), map);
        }
        if let Some(s) = session {
            if let Some(list) = &snap.indicators {
                let map = list.iter().map(|i| (i.symbol.clone(), i.clone())).collect();
                self.indicators.insert(s.to_string(), map);
            }
            if let Some(list) = &snap.conditions {
                let map = list.iter().map(|c| (c.symbol.clone(), c.clone())).collect();
                self.conditions.insert(s.to_string(), map);
            }
            if let Some(list) = &snap.signals {
                let skip = list.len().saturating_sub(SIGNALS_MAX);
                self.signals
                    .insert(s.to_string(), list.iter().skip(skip).cloned().collect());
            }
            if let Some(p) = &snap.positions {
                let map = p
                    .open
                    .iter()
                    .map(|p| (p.symbol.clone(), p.clone()))
                    .collect();
                self.positions.insert(s.to_string(), map);
                let closed = p.closed.iter().take(TRADES_MAX).cloned().collect();
                self.closed.insert(s.to_string(), closed);
                self.totals.insert(s.to_string(), p.totals.clone());
            }
        }
        if let Some(h) = &snap.health {
            self.health = Some(h.as_ref().clone());
            self.health_applied_ms = now_ms;
        }
        if let Some(events) = &snap.events {
            self.events.clear();
            for e in events {
                self.push_event(e.clone());
            }
        }
    }

    /// A symbol view stream's `full_update`: replaces that part of the view if it is the
    /// view's symbol (and interval); anything else is late news from a closed view.
    fn symbol_full_update(&mut self, e: &Envelope<Snapshot>, now_ms: i64) -> Applied {
        let limits = self.view_limits;
        let Some(view) = &mut self.symbol_view else {
            return Applied::Unchanged;
        };
        if e.symbol.as_deref() != Some(view.symbol.as_str()) {
            return Applied::Unchanged;
        }
        let d = &e.data;
        let applied = match e.stream {
            StreamName::Candles => match &d.candles {
                Some(c) if view.accepts_candles(c) => {
                    view.set_candles(c, limits, now_ms);
                    true
                }
                Some(_) => false,
                // The backend has nothing yet (the feed is opening): the deltas that follow
                // build it, so their seq starts here.
                None => true,
            },
            StreamName::Book => match &d.book {
                Some(b) if b.symbol == view.symbol => {
                    view.set_book(b, e.ts, now_ms);
                    true
                }
                Some(_) => false,
                None => true,
            },
            StreamName::Tape => match &d.tape {
                Some(t) if t.symbol == view.symbol => {
                    view.set_tape(t, limits, now_ms);
                    true
                }
                Some(_) => false,
                None => true,
            },
            _ => false,
        };
        if !applied {
            return Applied::Unchanged;
        }
        self.seqs.insert(key(e), e.seq);
        Applied::Changed
    }

    /// A symbol view stream's delta for the open view's symbol, by the stream's seq rule
    /// (`conflated`: newer wins; otherwise exactly the next seq or a gap).
    fn symbol_delta<T>(
        &mut self,
        e: &Envelope<T>,
        conflated: bool,
        f: impl FnOnce(&mut SymbolMarket, &T),
    ) -> Applied {
        let Some(view) = &self.symbol_view else {
            return Applied::Unchanged;
        };
        // Late news from a closed view; the payload's symbol is the envelope's.
        if e.symbol.as_deref() != Some(view.symbol.as_str()) {
            return Applied::Unchanged;
        }
        let k = key(e);
        match self.seqs.get(&k) {
            // Before the full_update: it carries everything up to its seq.
            None => return Applied::Unchanged,
            Some(&last) if e.seq <= last => return Applied::Unchanged,
            Some(&last) if !conflated && e.seq != last + 1 => {
                return Applied::Gap {
                    stream: e.stream,
                    session_id: None,
                    symbol: e.symbol.clone(),
                    expected: last + 1,
                    got: e.seq,
                };
            }
            Some(_) => {}
        }
        let Some(view) = &mut self.symbol_view else {
            return Applied::Unchanged;
        };
        f(view, &e.data);
        self.seqs.insert(k, e.seq);
        Applied::Changed
    }

    /// Conflated streams: take anything newer than what we have.
    fn accept<T>(&mut self, e: &Envelope<T>) -> bool {
        let k = key(e);
        match self.seqs.get(&k) {
            Some(&last) if e.seq <= last => false,
            _ => {
                self.seqs.insert(k, e.seq);
                true
            }
        }
    }

    /// Conflated per-session streams: apply anything newer than what we have.
    fn conflated<T>(&mut self, e: &Envelope<T>, f: impl FnOnce(&mut Self, String)) -> Applied {
        let Some(session) = e.session_id.clone() else {
            return Applied::Unchanged;
        };
        if !self.accept(e) {
            return Applied::Unchanged;
        }
        f(self, session);
        Applied::Changed
    }

    /// Ordered streams: exactly the next seq, or a gap the caller must resync.
    fn ordered<T>(&mut self, e: &Envelope<T>, f: impl FnOnce(&mut Self, String)) -> Applied {
        let k = key(e);
        let Some(&last) = self.seqs.get(&k) else {
            // No full_update yet for this stream: the resync that follows will bring it.
            return Applied::Unchanged;
        };
        if e.seq <= last {
            return Applied::Unchanged;
        }
        if e.seq != last + 1 {
            return Applied::Gap {
                stream: e.stream,
                session_id: e.session_id.clone(),
                symbol: None,
                expected: last + 1,
                got: e.seq,
            };
        }
        self.seqs.insert(k, e.seq);
        f(self, e.session_id.clone().unwrap_or_default());
        Applied::Changed
    }
}

/// The seq key, as `ServerMsg::stream_position` has it: the session, or the symbol of a
/// per-symbol stream.
fn key<T>(e: &Envelope<T>) -> (StreamName, Option<String>) {
    (e.stream, e.session_id.clone().or_else(|| e.symbol.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trademon_protocol::{DataSource, Level, StateChange};

    fn env<T>(stream: StreamName, seq: u64, data: T) -> Envelope<T> {
        Envelope {
            interval: None,
            symbol: None,
            stream,
            session_id: Some("s1".into()),
            seq,
            ts: 10_000,
            data,
        }
    }

    fn full_instances(seq: u64) -> ServerMsg {
        ServerMsg::FullUpdate(env(
            StreamName::StateMachines,
            seq,
            Snapshot {
                state_machines: Some(vec![Instance {
                    symbol: "BTC_USDT".into(),
                    state: "MONITORING".into(),
                    since_ms: 1,
                    last_reason: String::new(),
                }]),
                ..Default::default()
            },
        ))
    }

    fn change(seq: u64, to: &str) -> ServerMsg {
        ServerMsg::StateChange(env(
            StreamName::StateMachines,
            seq,
            StateChange {
                symbol: "BTC_USDT".into(),
                from: "MONITORING".into(),
                to: to.into(),
                reason: "test".into(),
                at_ms: 5,
            },
        ))
    }

    #[test]
    fn ordered_stream_applies_next_seq_and_reports_a_gap() {
        let mut m = ClientModel::new(10);
        assert_eq!(m.apply(&full_instances(4), 0), Applied::Changed);
        assert_eq!(m.apply(&change(5, "ENTRY_SIGNAL"), 0), Applied::Changed);
        assert_eq!(m.instances["s1"]["BTC_USDT"].state, "ENTRY_SIGNAL");
        let gap = m.apply(&change(7, "IN_POSITION"), 0);
        assert_eq!(
            gap,
            Applied::Gap {
                stream: StreamName::StateMachines,
                session_id: Some("s1".into()),
                symbol: None,
                expected: 6,
                got: 7
            }
        );
        // Not applied: the resync brings the truth.
        assert_eq!(m.instances["s1"]["BTC_USDT"].state, "ENTRY_SIGNAL");
    }

    #[test]
    fn ticker_age_counts_backend_age_plus_local_time() {
        let mut m = ClientModel::new(10);
        let t = Ticker {
            next_funding_ms: None,
            high_24h: None,
            low_24h: None,
            open_interest: None,
            symbol: "BTC_USDT".into(),
            last: 100.0,
            bid: None,
            ask: None,
            change_pct: None,
            volume_24h: None,
            fair_price: None,
            index_price: None,
            funding_rate: None,
            price_decimals: None,
            received_ms: 9_000,
            source: DataSource::Ws,
        };
        m.apply(
            &ServerMsg::Ticker(env(StreamName::MarketData, 3, t.clone())),
            50_000,
        );
        // Sent 1 s after the backend received it, applied at 50 s, now 52 s: 3 s old.
        assert_eq!(m.market["s1"]["BTC_USDT"].age_ms(52_000), 3_000);
        // An older conflated value is ignored, a newer one records the direction.
        let mut older = t.clone();
        older.last = 1.0;
        assert_eq!(
            m.apply(
                &ServerMsg::Ticker(env(StreamName::MarketData, 2, older)),
                50_000
            ),
            Applied::Unchanged
        );
        let mut newer = t;
        newer.last = 101.0;
        m.apply(
            &ServerMsg::Ticker(env(StreamName::MarketData, 9, newer)),
            50_000,
        );
        assert_eq!(m.market["s1"]["BTC_USDT"].prev_last, Some(100.0));
    }

    #[test]
    fn repeated_events_are_aggregated() {
        let mut m = ClientModel::new(2);
        let ev = |msg: &str| LogEvent {
            ts: 1,
            level: Level::Warn,
            name: "link.close".into(),
            message: msg.into(),
            count: 1,
        };
        m.push_event(ev("refused"));
        m.push_event(ev("refused"));
        m.push_event(ev("refused"));
        assert_eq!(m.events.len(), 1);
        assert_eq!(m.events[0].count, 3);
        m.push_event(ev("a"));
        m.push_event(ev("b"));
        assert_eq!(m.events.len(), 2, "bounded by events_max");
    }

    fn position(id: u64, status: PositionStatus) -> PositionInfo {
        PositionInfo {
            id,
            symbol: "BTC_USDT".into(),
            direction: "long".into(),
            status,
            size_quote: 100.0,
            leverage: 5.0,
            entry_price: 100.0,
            mark_price: 101.0,
            unrealized_pnl: 1.0,
            realized_pnl: 0.0,
            fees: 0.06,
            pnl_pct: 4.7,
            liquidation_price: 80.5,
            distance_to_liq_pct: 20.3,
            alert: false,
            opened_at_ms: 1,
            closed_at_ms: None,
            exit_price: None,
            close_reason: None,
        }
    }

    fn signal(id: u64) -> SignalInfo {
        SignalInfo {
            id,
            symbol: "BTC_USDT".into(),
            side: trademon_protocol::Side::Buy,
            price: 100.0,
            reason: "all entry conditions met".into(),
            kind: trademon_protocol::SignalKind::Entry,
            at_ms: 5,
        }
    }

    #[test]
    fn engine_streams_follow_their_seq_rules() {
        let mut m = ClientModel::new(10);
        // Signals are ordered: nothing before the full_update, then exactly the next seq.
        let sig = |seq, id| ServerMsg::Signal(env(StreamName::Signals, seq, signal(id)));
        assert_eq!(m.apply(&sig(1, 1), 0), Applied::Unchanged);
        let full = Snapshot {
            signals: Some(vec![signal(1)]),
            ..Default::default()
        };
        m.apply(&ServerMsg::FullUpdate(env(StreamName::Signals, 1, full)), 0);
        assert_eq!(m.apply(&sig(2, 2), 0), Applied::Changed);
        assert_eq!(m.signals["s1"].len(), 2);
        assert!(matches!(m.apply(&sig(4, 4), 0), Applied::Gap { .. }));

        // Positions are conflated: gaps are fine, older values are dropped, a close removes
        // only the position it is about.
        let pos = |seq, p| ServerMsg::Position(env(StreamName::Positions, seq, p));
        assert_eq!(
            m.apply(&pos(5, position(1, PositionStatus::Open)), 0),
            Applied::Changed
        );
        assert_eq!(
            m.apply(&pos(3, position(0, PositionStatus::Open)), 0),
            Applied::Unchanged
        );
        assert_eq!(m.positions["s1"]["BTC_USDT"].id, 1);
        m.apply(&pos(9, position(2, PositionStatus::Open)), 0);
        m.apply(&pos(10, position(1, PositionStatus::Closed)), 0);
        assert_eq!(
            m.positions["s1"]["BTC_USDT"].id, 2,
            "a newer position stays"
        );
        m.apply(&pos(11, position(2, PositionStatus::Closed)), 0);
        assert!(m.positions["s1"].is_empty());
        // Closed positions are the trade list, newest first, each id once.
        let ids = |m: &ClientModel| m.closed["s1"].iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(ids(&m), [2, 1]);
        m.apply(&pos(12, position(2, PositionStatus::Closed)), 0);
        assert_eq!(ids(&m), [2, 1]);
        // A full_update replaces the list with the backend's.
        let full = ServerMsg::FullUpdate(env(
            StreamName::Positions,
            13,
            Snapshot {
                positions: Some(Box::new(trademon_protocol::PositionsSnapshot {
                    closed: vec![position(9, PositionStatus::Closed)],
                    ..Default::default()
                })),
                ..Default::default()
            },
        ));
        m.apply(&full, 0);
        assert_eq!(ids(&m), [9]);
        let totals = SessionTotals {
            signals: 2,
            ..Default::default()
        };
        m.apply(
            &ServerMsg::SessionTotals(env(StreamName::Positions, 14, totals.clone())),
            0,
        );
        assert_eq!(m.totals["s1"], totals);
    }

    #[test]
    fn removing_an_instance_drops_its_conditions_and_position() {
        let mut m = ClientModel::new(10);
        m.apply(&full_instances(1), 0);
        let cond = SymbolConditions {
            symbol: "BTC_USDT".into(),
            state: "IN_POSITION".into(),
            conditions: vec![],
        };
        m.apply(
            &ServerMsg::Conditions(env(StreamName::Conditions, 1, cond)),
            0,
        );
        m.apply(
            &ServerMsg::Position(env(
                StreamName::Positions,
                1,
                position(1, PositionStatus::Open),
            )),
            0,
        );
        m.apply(&change(2, "IN_POSITION"), 0);
        assert_eq!(m.instances["s1"]["BTC_USDT"].last_reason, "test");
        let removed = trademon_protocol::InstanceRemoved {
            symbol: "BTC_USDT".into(),
        };
        m.apply(
            &ServerMsg::InstanceRemoved(env(StreamName::StateMachines, 3, removed)),
            0,
        );
        assert!(m.conditions["s1"].is_empty());
        assert!(m.positions["s1"].is_empty());
        assert!(m.instances["s1"].is_empty());
    }

    // ----- the symbol view's streams ------------------------------------------------------

    fn sym_env<T>(stream: StreamName, symbol: &str, seq: u64, data: T) -> Envelope<T> {
        Envelope {
            interval: (stream == StreamName::Candles).then_some(Interval::Min1),
            symbol: Some(symbol.into()),
            stream,
            session_id: None,
            seq,
            ts: 10_000,
            data,
        }
    }

    fn candles(symbol: &str, interval: Interval, ts: &[i64]) -> trademon_protocol::CandlesUpdate {
        trademon_protocol::CandlesUpdate {
            symbol: symbol.into(),
            interval,
            candles: ts
                .iter()
                .map(|&t| trademon_protocol::Candle {
                    t,
                    open: 1.0,
                    high: 2.0,
                    low: 0.5,
                    close: 1.5,
                    volume: 3.0,
                    amount: 4.5,
                })
                .collect(),
            price_decimals: Some(2),
        }
    }

    fn book(symbol: &str, best_bid: f64) -> trademon_protocol::BookSnapshot {
        let level = |price| trademon_protocol::BookLevel {
            price,
            contracts: 10.0,
            orders: 1,
        };
        trademon_protocol::BookSnapshot {
            symbol: symbol.into(),
            version: 1,
            bids: vec![level(best_bid)],
            asks: vec![level(best_bid + 1.0)],
            contract_size: Some(0.0001),
            price_decimals: Some(1),
            exchange_ts_ms: 9_000,
            received_ms: 9_500,
            gaps: 0,
            source: DataSource::Ws,
        }
    }

    fn tape(symbol: &str, ids: &[u64]) -> trademon_protocol::TapeUpdate {
        trademon_protocol::TapeUpdate {
            symbol: symbol.into(),
            trades: ids
                .iter()
                .map(|&id| trademon_protocol::TapeTrade {
                    id: Some(id),
                    ts_ms: id as i64,
                    price: 100.0,
                    contracts: 1.0,
                    taker: trademon_protocol::Side::Buy,
                    self_trade: false,
                })
                .collect(),
            contract_size: Some(0.0001),
            price_decimals: Some(1),
        }
    }

    fn full<T>(
        stream: StreamName,
        symbol: &str,
        seq: u64,
        f: impl FnOnce(&mut Snapshot, T),
        data: T,
    ) -> ServerMsg {
        let mut snap = Snapshot::default();
        f(&mut snap, data);
        ServerMsg::FullUpdate(sym_env(stream, symbol, seq, snap))
    }

    /// A feed that is still opening at the backend: its full_update has nothing yet, and the
    /// deltas after it build the view (the demo's book arrives this way).
    #[test]
    fn an_empty_full_update_starts_the_seq_and_leaves_the_panel_loading() {
        let mut m = ClientModel::new(10);
        m.open_symbol_view("BTC_USDT", Interval::Min1, 0);
        let empty = ServerMsg::FullUpdate(sym_env(
            StreamName::Book,
            "BTC_USDT",
            226,
            Snapshot::default(),
        ));
        m.apply(&empty, 0);
        assert!(
            m.symbol_view.as_ref().unwrap().book.is_none(),
            "still loading"
        );
        let delta = ServerMsg::Book(sym_env(
            StreamName::Book,
            "BTC_USDT",
            227,
            book("BTC_USDT", 99.0),
        ));
        assert_eq!(m.apply(&delta, 0), Applied::Changed);
        let b = m.symbol_view.as_ref().unwrap().book.as_ref().unwrap();
        assert_eq!(b.book.bids[0].price, 99.0);
    }

    fn full_candles(symbol: &str, seq: u64, ts: &[i64]) -> ServerMsg {
        full(
            StreamName::Candles,
            symbol,
            seq,
            |s, c| s.candles = Some(Box::new(c)),
            candles(symbol, Interval::Min1, ts),
        )
    }

    fn candle_ts(m: &ClientModel) -> Vec<i64> {
        let view = m.symbol_view.as_ref().expect("view open");
        view.candles
            .as_ref()
            .map(|c| c.candles.iter().map(|c| c.t).collect())
            .unwrap_or_default()
    }

    #[test]
    fn symbol_streams_follow_their_seq_rules() {
        let mut m = ClientModel::new(10);
        m.open_symbol_view("BTC_USDT", Interval::Min1, 0);
        let delta = |seq, ts: &[i64]| {
            ServerMsg::Candles(sym_env(
                StreamName::Candles,
                "BTC_USDT",
                seq,
                candles("BTC_USDT", Interval::Min1, ts),
            ))
        };
        // Loading until each full_update: a delta before it is not the history.
        assert_eq!(m.apply(&delta(4, &[60]), 0), Applied::Unchanged);
        let v = m.symbol_view.as_ref().unwrap();
        assert!(v.candles.is_none() && v.book.is_none() && v.tape.is_none());

        // Candles are ordered: exactly the next seq, else a gap keyed by the symbol.
        assert_eq!(
            m.apply(&full_candles("BTC_USDT", 5, &[60, 120]), 0),
            Applied::Changed
        );
        assert_eq!(m.last_seq(StreamName::Candles, Some("BTC_USDT")), Some(5));
        assert_eq!(m.apply(&delta(6, &[120, 180]), 0), Applied::Changed);
        assert_eq!(candle_ts(&m), [60, 120, 180]);
        assert_eq!(
            m.apply(&delta(6, &[240]), 0),
            Applied::Unchanged,
            "a repeat"
        );
        assert_eq!(
            m.apply(&delta(8, &[240]), 0),
            Applied::Gap {
                stream: StreamName::Candles,
                session_id: None,
                symbol: Some("BTC_USDT".into()),
                expected: 7,
                got: 8
            }
        );
        assert_eq!(candle_ts(&m), [60, 120, 180], "a gap applies nothing");

        // The book is conflated: newer wins, gaps are fine, older is dropped.
        let book_msg = |seq, bid| {
            ServerMsg::Book(sym_env(
                StreamName::Book,
                "BTC_USDT",
                seq,
                book("BTC_USDT", bid),
            ))
        };
        assert_eq!(
            m.apply(&book_msg(2, 1.0), 0),
            Applied::Unchanged,
            "before its full_update"
        );
        let fb = full(
            StreamName::Book,
            "BTC_USDT",
            3,
            |s, b| s.book = Some(Box::new(b)),
            book("BTC_USDT", 99.0),
        );
        assert_eq!(m.apply(&fb, 1_000), Applied::Changed);
        assert_eq!(m.apply(&book_msg(10, 100.0), 1_000), Applied::Changed);
        assert_eq!(m.apply(&book_msg(7, 98.0), 1_000), Applied::Unchanged);
        let b = m.symbol_view.as_ref().unwrap().book.as_ref().unwrap();
        assert_eq!(b.book.bids[0].price, 100.0);
        // Sent 500 ms after the backend got it, applied at 1 s, now 3 s: 2.5 s old.
        assert_eq!(b.age_ms(3_000), 2_500);

        // The tape is ordered and appends.
        let ft = full(
            StreamName::Tape,
            "BTC_USDT",
            1,
            |s, t| s.tape = Some(Box::new(t)),
            tape("BTC_USDT", &[1, 2]),
        );
        assert_eq!(m.apply(&ft, 0), Applied::Changed);
        let tape_msg = |seq, ids: &[u64]| {
            ServerMsg::Tape(sym_env(
                StreamName::Tape,
                "BTC_USDT",
                seq,
                tape("BTC_USDT", ids),
            ))
        };
        assert_eq!(m.apply(&tape_msg(2, &[3, 4]), 0), Applied::Changed);
        assert!(matches!(
            m.apply(&tape_msg(4, &[5]), 0),
            Applied::Gap {
                stream: StreamName::Tape,
                ..
            }
        ));
        let ids: Vec<_> = m
            .symbol_view
            .as_ref()
            .unwrap()
            .tape
            .as_ref()
            .unwrap()
            .trades
            .iter()
            .filter_map(|t| t.id)
            .collect();
        assert_eq!(ids, [1, 2, 3, 4]);
    }

    #[test]
    fn only_the_open_views_symbol_and_interval_are_applied() {
        let mut m = ClientModel::new(10).with_view_limits(ViewLimits {
            candles: 500,
            trades: 3,
        });
        // No view open: nothing is kept.
        assert_eq!(
            m.apply(&full_candles("BTC_USDT", 1, &[60]), 0),
            Applied::Unchanged
        );
        m.open_symbol_view("BTC_USDT", Interval::Min1, 0);
        assert_eq!(
            m.apply(&full_candles("ETH_USDT", 1, &[60]), 0),
            Applied::Unchanged
        );
        m.apply(&full_candles("BTC_USDT", 1, &[60]), 0);
        let ft = full(
            StreamName::Tape,
            "BTC_USDT",
            1,
            |s, t| s.tape = Some(Box::new(t)),
            tape("BTC_USDT", &[1, 2, 3, 4, 5]),
        );
        m.apply(&ft, 0);
        let ids: Vec<_> = m
            .symbol_view
            .as_ref()
            .unwrap()
            .tape
            .as_ref()
            .unwrap()
            .trades
            .iter()
            .filter_map(|t| t.id)
            .collect();
        assert_eq!(ids, [3, 4, 5], "the newest trades, capped");

        // A new interval drops the candles (loading again) and keeps book and tape.
        m.open_symbol_view("BTC_USDT", Interval::Min5, 7_000);
        let v = m.symbol_view.as_ref().unwrap();
        assert!(v.candles.is_none() && v.tape.is_some());
        assert_eq!(v.opened_ms, 7_000);
        assert_eq!(m.last_seq(StreamName::Candles, Some("BTC_USDT")), None);
        // The old interval's candles, still in flight, change nothing and are no gap.
        let old = ServerMsg::Candles(sym_env(
            StreamName::Candles,
            "BTC_USDT",
            9,
            candles("BTC_USDT", Interval::Min1, &[120]),
        ));
        assert_eq!(m.apply(&old, 0), Applied::Unchanged);
        let mut five = sym_env(
            StreamName::Candles,
            "BTC_USDT",
            2,
            Snapshot {
                candles: Some(Box::new(candles("BTC_USDT", Interval::Min5, &[300, 600]))),
                ..Default::default()
            },
        );
        five.interval = Some(Interval::Min5);
        assert_eq!(m.apply(&ServerMsg::FullUpdate(five), 0), Applied::Changed);
        assert_eq!(candle_ts(&m), [300, 600]);

        // Another symbol starts from nothing; closing forgets the view and its seqs.
        m.open_symbol_view("ETH_USDT", Interval::Min5, 0);
        assert!(m.symbol_view.as_ref().unwrap().tape.is_none());
        assert_eq!(m.last_seq(StreamName::Tape, Some("BTC_USDT")), None);
        m.close_symbol_view();
        assert!(m.symbol_view.is_none());
        let tape_msg = ServerMsg::Tape(sym_env(
            StreamName::Tape,
            "ETH_USDT",
            2,
            tape("ETH_USDT", &[9]),
        ));
        assert_eq!(m.apply(&tape_msg, 0), Applied::Unchanged);
    }

    #[test]
    fn a_model_with_a_symbol_view_round_trips_through_json() {
        let mut m = ClientModel::new(10);
        m.open_symbol_view("BTC_USDT", Interval::Min1, 0);
        m.apply(&full_candles("BTC_USDT", 1, &[60]), 0);
        let json = serde_json::to_string(&m).expect("serialize");
        let back: ClientModel = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, m);
        // A keyframe from before the symbol view existed still loads.
        let old: ClientModel = serde_json::from_str(r#"{"epoch":null,"sessions":[],"market":{},"instances":{},"health":null,"health_applied_ms":0,"events":[],"events_max":5,"indicators":{},"conditions":{},"signals":{},"positions":{},"totals":{},"seqs":[]}"#).expect("old keyframe");
        assert!(old.symbol_view.is_none());
        assert_eq!(old.view_limits, ViewLimits::default());
    }
}
