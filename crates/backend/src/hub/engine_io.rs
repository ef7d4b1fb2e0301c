//! The hub's side of the engine: feed it, turn its events into stream messages, and serve the
//! engine-backed parts of snapshots.
//!
//! Indicator, condition and position-mark changes are only marked dirty here and published by
//! `flush` (every `HubSettings::flush_interval`, 250 ms), which caps those conflated streams
//! at 4 Hz per symbol however fast trades come. Transitions, signals, opened and closed
//! positions go out at once.

use super::Hub;
use crate::convert;
use std::collections::BTreeSet;
use trademon_core::numfmt;
use trademon_engine::{EngineEvent, EngineInput, InstanceState};
use trademon_protocol::{
    InstanceRemoved, Level, PositionsSnapshot, ServerMsg, SignalInfo, StateChange, StreamName,
    SymbolConditions, SymbolIndicators,
};

/// What changed since the last flush.
#[derive(Default)]
pub(super) struct Dirty {
    indicators: BTreeSet<String>,
    /// (session, symbol)
    conditions: BTreeSet<(String, String)>,
    /// (session, symbol) of open positions whose mark moved.
    positions: BTreeSet<(String, String)>,
}

impl Hub {
    /// Applies one input at `now`, publishes what it caused, and returns the reasons of any
    /// refused command (for the caller's reply).
    pub(super) fn apply_engine(&mut self, input: EngineInput, now: i64) -> Vec<String> {
        let events = self.engine.apply(input, now);
        let mut rejected = Vec::new();
        for ev in events {
            if let Some(store) = &self.store {
                store.send_all(trademon_store::rows_from_engine(&ev));
            }
            self.journal_record(&ev);
            if let EngineEvent::CommandRejected { reason, .. } = ev {
                rejected.push(reason);
            } else {
                self.on_engine_event(ev);
            }
        }
        rejected
    }

    fn on_engine_event(&mut self, ev: EngineEvent) {
        let sm = StreamName::StateMachines;
        match ev {
            EngineEvent::InstanceAdded {
                session,
                symbol,
                state,
                ..
            } => {
                if state == InstanceState::Failed {
                    let why = self.engine.contract_failure(&symbol).unwrap_or_default();
                    self.note_failed(&session, &symbol, &why);
                }
                let inst = self
                    .engine
                    .instances(&session)
                    .iter()
                    .find(|i| i.symbol == symbol)
                    .map(convert::instance);
                if let Some(inst) = inst {
                    self.publish(sm, Some(&session), None, inst, ServerMsg::InstanceAdded);
                }
                self.dirty.conditions.insert((session, symbol));
            }
            EngineEvent::InstanceRemoved {
                session, symbol, ..
            } => {
                let data = InstanceRemoved { symbol };
                self.publish(sm, Some(&session), None, data, ServerMsg::InstanceRemoved);
            }
            EngineEvent::StateChange {
                session,
                symbol,
                from,
                to,
                reason,
                at_ms,
            } => {
                if to == InstanceState::Failed {
                    self.note_failed(&session, &symbol, &reason);
                } else if to == InstanceState::Liquidated {
                    self.note(
                        Level::Warn,
                        "position.liquidated",
                        format!("{session} {symbol}: {reason}"),
                    );
                } else if from == InstanceState::EntrySignal && to == InstanceState::Cooldown {
                    // The paper order was refused (size under the minimum, leverage).
                    self.note(
                        Level::Warn,
                        "position.refused",
                        format!("{session} {symbol}: {reason}"),
                    );
                }
                let data = StateChange {
                    symbol: symbol.clone(),
                    from: from.as_str().to_string(),
                    to: to.as_str().to_string(),
                    reason,
                    at_ms,
                };
                self.publish(sm, Some(&session), None, data, ServerMsg::StateChange);
                self.dirty.conditions.insert((session, symbol));
            }
            EngineEvent::Signal(s) => {
                let info = convert::signal(&s);
                self.note(Level::Info, "signal", signal_text(&s.session, &info));
                let stream = StreamName::Signals;
                self.publish(stream, Some(&s.session), None, info, ServerMsg::Signal);
            }
            EngineEvent::PositionOpened(p) | EngineEvent::PositionClosed(p) => {
                let alert = self.engine.settings().liquidation_alert_pct;
                let info = convert::position(&p, alert);
                let stream = StreamName::Positions;
                // A closed position is a trade for the client's list: conflated under a key of
                // its own so a newer value of the symbol never replaces it unsent.
                let key = match info.status {
                    trademon_protocol::PositionStatus::Closed => format!("closed #{}", p.id),
                    trademon_protocol::PositionStatus::Open => p.symbol.clone(),
                };
                self.publish(
                    stream,
                    Some(&p.session),
                    Some(&key),
                    info,
                    ServerMsg::Position,
                );
                self.dirty
                    .positions
                    .remove(&(p.session.clone(), p.symbol.clone()));
                self.publish_totals(&p.session);
            }
            EngineEvent::PositionUpdated(p) => {
                self.dirty.positions.insert((p.session, p.symbol));
            }
            EngineEvent::LiquidationRisk {
                session,
                symbol,
                mark,
                liquidation_price,
                distance_pct,
                ..
            } => {
                self.note(
                    Level::Warn,
                    "position.liquidation_risk",
                    format!(
                        "{session} {symbol}: mark {} is {} from liquidation at {}",
                        numfmt::price(mark, None),
                        numfmt::with_unit(distance_pct, numfmt::Unit::Percent),
                        numfmt::price(liquidation_price, None),
                    ),
                );
                self.dirty.positions.insert((session, symbol));
            }
            EngineEvent::IndicatorsChanged { symbol } => {
                self.dirty.indicators.insert(symbol);
            }
            EngineEvent::ConditionsChanged { session, symbol } => {
                self.dirty.conditions.insert((session, symbol));
            }
            EngineEvent::CommandRejected { .. } => {} // returned by `apply_engine`
        }
    }

    /// The one event for an instance the exchange refuses.
    fn note_failed(&mut self, session: &str, symbol: &str, reason: &str) {
        self.note(
            Level::Error,
            "contract.failed",
            format!("{session} {symbol} FAILED: {reason}; not subscribed"),
        );
    }

    /// Appends a paper-book change to the journal (synced before it is published). A failing
    /// disk is reported once, then again only after a write has succeeded in between.
    fn journal_record(&mut self, ev: &EngineEvent) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        match j.record(ev) {
            Ok(()) => self.journal_failing = false,
            Err(e) => {
                tracing::error!(event = "journal.write_failed", error = %e, "paper journal");
                if !self.journal_failing {
                    self.journal_failing = true;
                    self.note(
                        Level::Error,
                        "journal.write_failed",
                        format!("paper history is not being saved: {e}"),
                    );
                }
            }
        }
    }

    /// Gives a just-started session its journaled paper book back.
    pub(super) fn restore_book(&mut self, sid: &str, now: i64) {
        let Some(book) = self.journal.as_ref().and_then(|j| j.book(sid)) else {
            return;
        };
        let (open, closed) = (book.open.len(), book.closed_trades);
        let input = EngineInput::Restore {
            session: sid.to_string(),
            book: Box::new(book),
        };
        for reason in self.apply_engine(input, now) {
            self.note(
                Level::Warn,
                "journal.restore_refused",
                format!("{sid}: {reason}"),
            );
        }
        self.note(
            Level::Info,
            "journal.restored",
            format!("session {sid}: paper book restored ({open} open, {closed} closed trades)"),
        );
    }

    /// Publishes the throttled streams for everything marked dirty since the last flush.
    pub(super) fn flush(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for symbol in dirty.indicators {
            let Some(data) = self.symbol_indicators(&symbol) else {
                continue;
            };
            let sessions: Vec<String> = self
                .sessions
                .iter()
                .filter(|s| s.is_running() && s.has_symbol(&symbol))
                .map(|s| s.cfg.id.clone())
                .collect();
            for sid in sessions {
                self.store_indicators(&sid, &data);
                if self.has_subscribers(StreamName::Indicators, &sid) {
                    let stream = StreamName::Indicators;
                    let data = data.clone();
                    self.publish(
                        stream,
                        Some(&sid),
                        Some(&symbol),
                        data,
                        ServerMsg::Indicators,
                    );
                }
            }
        }
        for (sid, symbol) in dirty.conditions {
            if !self.has_subscribers(StreamName::Conditions, &sid) {
                continue;
            }
            if let Some(data) = self.symbol_conditions(&sid, &symbol) {
                let stream = StreamName::Conditions;
                self.publish(
                    stream,
                    Some(&sid),
                    Some(&symbol),
                    data,
                    ServerMsg::Conditions,
                );
            }
        }
        let mut totals = BTreeSet::new();
        for (sid, symbol) in dirty.positions {
            let alert = self.engine.settings().liquidation_alert_pct;
            let pos = self
                .engine
                .positions(&sid)
                .into_iter()
                .find(|p| p.symbol == symbol);
            if let Some(p) = pos {
                let info = convert::position(&p, alert);
                let stream = StreamName::Positions;
                self.publish(stream, Some(&sid), Some(&symbol), info, ServerMsg::Position);
            }
            totals.insert(sid);
        }
        for sid in totals {
            self.publish_totals(&sid);
        }
    }

    /// Session totals on `positions`, conflated under the empty key (symbols are never empty).
    pub(super) fn publish_totals(&mut self, sid: &str) {
        let started = self.find(sid).and_then(|i| self.sessions[i].started_ms);
        let data = convert::totals(self.engine.session(sid).as_ref(), started);
        let stream = StreamName::Positions;
        self.publish(stream, Some(sid), Some(""), data, ServerMsg::SessionTotals);
    }

    /// `indicator_values` rows at the throttled cadence, stamped with each value's own time,
    /// so a value re-sent unchanged upserts onto its row (DEDUP) instead of adding one.
    fn store_indicators(&self, sid: &str, data: &SymbolIndicators) {
        let Some(store) = &self.store else { return };
        for (name, v) in &data.values {
            if let (Some(value), Some(at)) = (v.value, v.updated_at) {
                store.send(trademon_store::indicator_row(
                    sid,
                    &data.symbol,
                    name,
                    value,
                    at,
                ));
            }
        }
    }

    fn symbol_indicators(&self, symbol: &str) -> Option<SymbolIndicators> {
        self.engine
            .indicators(symbol)
            .map(|s| convert::indicators(&s))
    }

    fn symbol_conditions(&self, sid: &str, symbol: &str) -> Option<SymbolConditions> {
        let list = self.engine.conditions(sid, symbol)?;
        let state = self
            .engine
            .instances(sid)
            .into_iter()
            .find(|i| i.symbol == symbol)?
            .state;
        Some(convert::conditions(symbol, state.as_str(), &list))
    }

    // ---- snapshot parts (full_update and REST) ------------------------------------------

    fn running_symbols(&self, sid: &str) -> Vec<String> {
        self.find(sid)
            .map(|i| &self.sessions[i])
            .filter(|s| s.is_running())
            .map(|s| s.cfg.symbols.clone())
            .unwrap_or_default()
    }

    pub(super) fn snapshot_indicators(&self, sid: &str) -> Vec<SymbolIndicators> {
        self.running_symbols(sid)
            .iter()
            .filter_map(|s| self.symbol_indicators(s))
            .collect()
    }

    pub(super) fn snapshot_conditions(&self, sid: &str) -> Vec<SymbolConditions> {
        self.running_symbols(sid)
            .iter()
            .filter_map(|s| self.symbol_conditions(sid, s))
            .collect()
    }

    /// Earlier runs' signals back-filled from QuestDB, then the engine's (this run's and those
    /// the paper journal restored), at most `engine.signal_history`, oldest first. Back-filled
    /// ones the engine already holds (not older than its oldest) are left out.
    pub(super) fn snapshot_signals(&self, sid: &str) -> Vec<SignalInfo> {
        let now = self.engine.signals(sid);
        let first = now.first().map_or(i64::MAX, |s| s.at_ms);
        let earlier: Vec<&SignalInfo> = self
            .backfilled
            .get(sid)
            .map(|v| v.iter().filter(|s| s.at_ms < first).collect())
            .unwrap_or_default();
        let cap = self.engine.settings().signal_history;
        let skip = (earlier.len() + now.len()).saturating_sub(cap);
        earlier
            .into_iter()
            .cloned()
            .chain(now.iter().map(convert::signal))
            .skip(skip)
            .collect()
    }

    pub(super) fn snapshot_positions(&self, sid: &str) -> PositionsSnapshot {
        let alert = self.engine.settings().liquidation_alert_pct;
        let started = self.find(sid).and_then(|i| self.sessions[i].started_ms);
        PositionsSnapshot {
            open: self
                .engine
                .positions(sid)
                .iter()
                .map(|p| convert::position(p, alert))
                .collect(),
            closed: self
                .engine
                .closed_trades(sid)
                .iter()
                .rev()
                .map(|p| convert::position(p, alert))
                .collect(),
            totals: convert::totals(self.engine.session(sid).as_ref(), started),
        }
    }
}

fn signal_text(session: &str, s: &SignalInfo) -> String {
    let side = match s.side {
        trademon_protocol::Side::Buy => "BUY",
        trademon_protocol::Side::Sell => "SELL",
    };
    // The last price when the signal was raised, named so: the fill comes at the next trade.
    format!(
        "{session} {} {side} (last {}): {}",
        s.symbol,
        numfmt::price(s.price, None),
        s.reason
    )
}
