//! The pure trading engine: streaming indicators, condition expressions, per-(session, symbol)
//! strategy state machines, signals and paper positions.
//!
//! `Engine::apply(input, now_ms)` is the only mutator. It does no IO, reads no clock, draws no
//! random numbers and iterates only ordered maps, so the same input sequence always produces
//! byte-identical output (replay and tests rely on it). Per-trade work is amortized O(1): trades
//! land in per-second buckets with running window sums (`windows`), and every indicator is read
//! from those sums in constant time (`indicators`).
//!
//! Integration sketch: feed every `MarketEvent` as `EngineInput::Market`, send `Tick` about once
//! a second (or more often), translate session commands into `StartSession` / `StopSession` /
//! `AddSymbol` / `RemoveSymbol` / `ClosePosition` / `PauseSession` / `ResumeSession`, forward
//! the returned events, and serve `full_update` snapshots from the read-only views
//! (`instances`, `indicators`, `conditions`, `positions`, `signals`, `sessions`).
//! `IndicatorsChanged` / `ConditionsChanged` are cheap hints to re-read a view (throttle them).
//!
//! Views reflect the state as of the last input that touched the symbol (market data or `Tick`),
//! with staleness judged at the last `now_ms` seen.

pub mod book;
pub mod check;
pub mod condition;
pub mod events;
pub mod indicators;
pub mod input;
pub mod position;
pub mod session;
pub mod settings;
pub mod sizing;
pub mod strategy;
pub mod windows;

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod control_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use trademon_core::contract::NOT_LISTED;
use trademon_core::market::{ContractSpec, ContractUpdate, MarketEvent, TickerUpdate, Trade};

pub use condition::{ConditionKind, ConditionProgress};
pub use events::{
    EngineEvent, InstanceState, InstanceView, SessionView, Signal, SignalKind, SignalSide,
};
pub use indicators::{IndicatorEntry, IndicatorId, IndicatorSnapshot};
pub use input::EngineInput;
pub use position::{PositionStatus, PositionView};
pub use settings::{
    DEFAULT_STRATEGY, Direction, EngineSettings, EntrySettings, ExitSettings, StrategySettings,
};

pub use book::RestoredBook;
use book::SessionBook;
use indicators::SymbolState;
use position::PaperPosition;
use session::Session;
use strategy::{CompiledStrategy, Ctx, Instance, Sink};

/// Why the engine could not be built. Messages name the strategy and expression at fault.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineError {
    Settings(String),
    Strategy {
        strategy: String,
        message: String,
    },
    Condition {
        strategy: String,
        expression: String,
        problem: String,
    },
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::Settings(m) => write!(f, "engine settings: {m}"),
            EngineError::Strategy { strategy, message } => {
                write!(f, "strategy `{strategy}`: {message}")
            }
            EngineError::Condition {
                strategy,
                expression,
                problem,
            } => write!(
                f,
                "strategy `{strategy}`: condition `{expression}`: {problem}"
            ),
        }
    }
}

impl std::error::Error for EngineError {}

/// Counters of inputs the engine refused or repaired; nothing here affects indicator values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EngineStats {
    pub trades: u64,
    /// NaN / infinite / non-positive prices or sizes, crossed bid/ask, bad open interest.
    pub invalid_values: u64,
    /// Trades whose exchange id was not above the last seen id of the symbol.
    pub duplicate_trades: u64,
    pub rejected_commands: u64,
    /// `apply` calls whose `now_ms` was earlier than a previous one (treated as the latest).
    pub clock_regressions: u64,
}

/// The engine. Build with `Engine::new`, drive with `Engine::apply`, read with the views.
/// `Clone` gives a cheap-to-reason-about snapshot (e.g. for what-if replays in tests).
#[derive(Debug, Clone)]
pub struct Engine {
    settings: EngineSettings,
    strategies: BTreeMap<String, CompiledStrategy>,
    symbols: BTreeMap<String, SymbolState>,
    sessions: BTreeMap<String, Session>,
    now_ms: i64,
    next_signal_id: u64,
    next_position_id: u64,
    last_notify_sec: Option<i64>,
    stats: EngineStats,
    /// Contract specifications by symbol (from `MarketEvent::Contracts`).
    specs: BTreeMap<String, ContractSpec>,
    /// Symbols the exchange refused (not listed), with the reason shown on their instances.
    refused: BTreeMap<String, String>,
}

impl Engine {
    /// Validates the settings and parses every condition of every strategy. A strategy named
    /// `default` is added from `StrategySettings::default_strategy` unless configured.
    pub fn new(
        settings: EngineSettings,
        strategies: BTreeMap<String, StrategySettings>,
    ) -> Result<Engine, EngineError> {
        settings.validate().map_err(EngineError::Settings)?;
        let mmr = settings.maintenance_margin_rate;
        let mut compiled = BTreeMap::new();
        for (name, s) in &strategies {
            compiled.insert(name.clone(), CompiledStrategy::compile(name, s, mmr)?);
        }
        if !compiled.contains_key(DEFAULT_STRATEGY) {
            let s = StrategySettings::default_strategy();
            compiled.insert(
                DEFAULT_STRATEGY.to_string(),
                CompiledStrategy::compile(DEFAULT_STRATEGY, &s, mmr)?,
            );
        }
        Ok(Engine {
            settings,
            strategies: compiled,
            symbols: BTreeMap::new(),
            sessions: BTreeMap::new(),
            now_ms: i64::MIN,
            next_signal_id: 0,
            next_position_id: 0,
            last_notify_sec: None,
            stats: EngineStats::default(),
            specs: BTreeMap::new(),
            refused: BTreeMap::new(),
        })
    }

    fn stale_ms(&self) -> i64 {
        secs_to_ms(self.settings.stale_after_s)
    }

    /// Applies one input at engine time `now_ms` and returns what happened, in order.
    pub fn apply(&mut self, input: EngineInput, now_ms: i64) -> Vec<EngineEvent> {
        if now_ms < self.now_ms {
            self.stats.clock_regressions += 1;
        } else {
            self.now_ms = now_ms;
        }
        let mut out = Vec::new();
        match input {
            EngineInput::Market(MarketEvent::Trades { symbol, trades, .. }) => {
                self.on_trades(&symbol, &trades, &mut out)
            }
            EngineInput::Market(MarketEvent::Ticker { update, .. }) => {
                self.on_ticker(&update, &mut out)
            }
            EngineInput::Market(MarketEvent::SymbolFailed { symbol, .. }) => {
                // `Contract [X] not exists` is the only refusal MEXC sends per symbol.
                self.refused.insert(symbol.clone(), NOT_LISTED.to_string());
                self.reconcile_contract(&symbol, &mut out);
            }
            EngineInput::Market(MarketEvent::Contracts(update)) => {
                self.on_contracts(update, &mut out)
            }
            // Chart, book and funding feed the symbol view; no strategy reads them yet.
            EngineInput::Market(
                MarketEvent::Link { .. }
                | MarketEvent::Candles { .. }
                | MarketEvent::Book(_)
                | MarketEvent::Funding { .. },
            ) => {}
            EngineInput::OpenInterest { symbol, contracts } => {
                let now = self.now_ms;
                let market = self.market_mut(&symbol);
                if market.ingest_open_interest(contracts, now) {
                    self.run_symbol(&symbol, None, &mut out);
                } else {
                    self.stats.invalid_values += 1;
                }
            }
            EngineInput::Tick => self.on_tick(&mut out),
            EngineInput::StartSession {
                id,
                strategy,
                symbols,
            } => self.start_session(id, strategy, symbols, &mut out),
            EngineInput::StopSession { id } => self.stop_session(&id, &mut out),
            EngineInput::AddSymbol { session, symbol } => {
                self.add_symbol(&session, &symbol, &mut out)
            }
            EngineInput::RemoveSymbol { session, symbol } => {
                self.remove_symbol(&session, &symbol, &mut out)
            }
            EngineInput::Restore { session, book } => self.restore(&session, &book, &mut out),
            EngineInput::ClosePosition { session, symbol } => {
                self.close_position(&session, &symbol, &mut out)
            }
            EngineInput::PauseSession { id } => self.set_paused(&id, true, &mut out),
            EngineInput::ResumeSession { id } => self.set_paused(&id, false, &mut out),
        }
        out
    }

    /// Contract size of `symbol`: the `engine.contract_sizes` override, else the exchange's
    /// specification, else 1 (until the specification arrives; volumes are rescaled then).
    pub fn contract_size(&self, symbol: &str) -> f64 {
        self.settings
            .contract_size_override(symbol)
            .or_else(|| self.specs.get(symbol).map(|s| s.contract_size))
            .unwrap_or(1.0)
    }

    /// Maintenance margin rate of `symbol`: the exchange's, else `engine.maintenance_margin_rate`.
    pub fn maintenance_margin_rate(&self, symbol: &str) -> f64 {
        self.specs
            .get(symbol)
            .map_or(self.settings.maintenance_margin_rate, |s| {
                s.maintenance_margin_rate
            })
    }

    /// The exchange's specification of `symbol`, if known.
    pub fn contract(&self, symbol: &str) -> Option<&ContractSpec> {
        self.specs.get(symbol)
    }

    /// Why `symbol` cannot be traded (not listed, or listed but not enabled); `None`: fine or
    /// not known yet.
    pub fn contract_failure(&self, symbol: &str) -> Option<String> {
        self.refused
            .get(symbol)
            .cloned()
            .or_else(|| self.specs.get(symbol).and_then(ContractSpec::not_tradable))
    }

    fn on_contracts(&mut self, update: ContractUpdate, out: &mut Vec<EngineEvent>) {
        let mut touched = BTreeSet::new();
        for spec in update.specs {
            let symbol = spec.symbol.clone();
            // A listing from the exchange overrides an earlier refusal.
            self.refused.remove(&symbol);
            self.specs.insert(symbol.clone(), spec);
            let size = self.contract_size(&symbol);
            if let Some(m) = self.symbols.get_mut(&symbol) {
                m.set_contract_size(size);
            }
            touched.insert(symbol);
        }
        for (symbol, reason) in update.unlisted {
            self.refused.insert(symbol.clone(), reason);
            touched.insert(symbol);
        }
        for symbol in touched {
            self.reconcile_contract(&symbol, out);
        }
    }

    /// Moves every instance of `symbol` to FAILED when its contract cannot be traded (closing
    /// a paper position first), and back to MONITORING when it can again.
    fn reconcile_contract(&mut self, symbol: &str, out: &mut Vec<EngineEvent>) {
        let failure = self.contract_failure(symbol);
        let base = CtxBase {
            settings: &self.settings,
            specs: &self.specs,
            now_ms: self.now_ms,
        };
        for (sid, session) in &mut self.sessions {
            let Some(inst) = session.instances.get_mut(symbol) else {
                continue;
            };
            let failed = inst.state == InstanceState::Failed;
            if failed == failure.is_some() {
                continue;
            }
            let Some(strategy) = self.strategies.get(&session.strategy) else {
                continue;
            };
            let market = self
                .symbols
                .entry(symbol.to_string())
                .or_insert_with(|| SymbolState::new(1.0));
            let ind = market.compute();
            let ctx = base.ctx(sid, strategy, market, &ind, symbol);
            let mut sink = Sink {
                events: out,
                next_signal_id: &mut self.next_signal_id,
                next_position_id: &mut self.next_position_id,
                book: &mut session.book,
            };
            match &failure {
                Some(reason) => inst.fail(reason, &ctx, &mut sink),
                None => inst.relist(&ctx, &mut sink),
            }
        }
    }

    fn market_mut(&mut self, symbol: &str) -> &mut SymbolState {
        let size = self.contract_size(symbol);
        self.symbols
            .entry(symbol.to_string())
            .or_insert_with(|| SymbolState::new(size))
    }

    fn on_trades(&mut self, symbol: &str, trades: &[Trade], out: &mut Vec<EngineEvent>) {
        let now = self.now_ms;
        let r = self.market_mut(symbol).ingest_trades(trades, now);
        self.stats.trades += r.accepted;
        self.stats.invalid_values += r.invalid;
        self.stats.duplicate_trades += r.duplicate;
        if r.accepted > 0 {
            self.run_symbol(symbol, r.first_price, out);
        }
    }

    fn on_ticker(&mut self, update: &TickerUpdate, out: &mut Vec<EngineEvent>) {
        let now = self.now_ms;
        self.stats.invalid_values += self.market_mut(&update.symbol).ingest_ticker(update, now);
        self.run_symbol(&update.symbol, None, out);
    }

    /// After new data for `symbol`: notify, fill pending signals (`fill_price` = first trade of
    /// the batch) and run every instance of the symbol, sessions in id order.
    fn run_symbol(&mut self, symbol: &str, fill_price: Option<f64>, out: &mut Vec<EngineEvent>) {
        out.push(EngineEvent::IndicatorsChanged {
            symbol: symbol.to_string(),
        });
        let base = CtxBase {
            settings: &self.settings,
            specs: &self.specs,
            now_ms: self.now_ms,
        };
        let Some(market) = self.symbols.get(symbol) else {
            return;
        };
        let ind = market.compute();
        for (sid, session) in &mut self.sessions {
            let Some(inst) = session.instances.get_mut(symbol) else {
                continue;
            };
            let Some(strategy) = self.strategies.get(&session.strategy) else {
                continue;
            };
            let ctx = Ctx {
                paused: session.paused,
                ..base.ctx(sid, strategy, market, &ind, symbol)
            };
            let mut sink = Sink {
                events: out,
                next_signal_id: &mut self.next_signal_id,
                next_position_id: &mut self.next_position_id,
                book: &mut session.book,
            };
            if let Some(price) = fill_price {
                inst.on_trade(price, &ctx, &mut sink);
            }
            inst.evaluate(&ctx, &mut sink);
            out.push(EngineEvent::ConditionsChanged {
                session: sid.clone(),
                symbol: symbol.to_string(),
            });
        }
    }

    /// Time passes: roll every symbol's windows and run every instance. Change hints go out at
    /// most once per second.
    fn on_tick(&mut self, out: &mut Vec<EngineEvent>) {
        let now = self.now_ms;
        let base = CtxBase {
            settings: &self.settings,
            specs: &self.specs,
            now_ms: self.now_ms,
        };
        let sec = now.div_euclid(1000);
        let notify = self.last_notify_sec != Some(sec);
        self.last_notify_sec = Some(sec);
        for (symbol, market) in &mut self.symbols {
            market.advance(now);
            if notify {
                out.push(EngineEvent::IndicatorsChanged {
                    symbol: symbol.clone(),
                });
            }
        }
        for (sid, session) in &mut self.sessions {
            let Some(strategy) = self.strategies.get(&session.strategy) else {
                continue;
            };
            for (symbol, inst) in &mut session.instances {
                let Some(market) = self.symbols.get(symbol) else {
                    continue;
                };
                let ind = market.compute();
                let ctx = Ctx {
                    paused: session.paused,
                    ..base.ctx(sid, strategy, market, &ind, symbol)
                };
                let mut sink = Sink {
                    events: out,
                    next_signal_id: &mut self.next_signal_id,
                    next_position_id: &mut self.next_position_id,
                    book: &mut session.book,
                };
                inst.evaluate(&ctx, &mut sink);
                if notify {
                    out.push(EngineEvent::ConditionsChanged {
                        session: sid.clone(),
                        symbol: symbol.clone(),
                    });
                }
            }
        }
    }

    fn reject(&mut self, session: &str, reason: String, out: &mut Vec<EngineEvent>) {
        self.stats.rejected_commands += 1;
        out.push(EngineEvent::CommandRejected {
            session: session.to_string(),
            reason,
        });
    }

    fn start_session(
        &mut self,
        id: String,
        strategy: String,
        symbols: Vec<String>,
        out: &mut Vec<EngineEvent>,
    ) {
        if self.sessions.contains_key(&id) {
            return self.reject(&id, format!("session `{id}` is already running"), out);
        }
        if !self.strategies.contains_key(&strategy) {
            let known: Vec<&str> = self.strategies.keys().map(String::as_str).collect();
            let reason = format!(
                "unknown strategy `{strategy}`; known strategies: {}",
                known.join(", ")
            );
            return self.reject(&id, reason, out);
        }
        let mut session = Session {
            strategy,
            started_ms: self.now_ms,
            instances: BTreeMap::new(),
            book: SessionBook::new(self.settings.signal_history, self.settings.trade_history),
            paused: false,
        };
        for symbol in symbols {
            if session.instances.contains_key(&symbol) {
                continue;
            }
            self.market_mut(&symbol);
            let inst = self.new_instance(&symbol);
            let state = inst.state;
            session.instances.insert(symbol.clone(), inst);
            out.push(EngineEvent::InstanceAdded {
                session: id.clone(),
                symbol,
                state,
                at_ms: self.now_ms,
            });
        }
        self.sessions.insert(id, session);
    }

    /// Gives a running session its journaled book back. An open position whose symbol the
    /// session no longer has, or whose instance already holds one, is refused with a reason
    /// (`CommandRejected`) and left out.
    fn restore(&mut self, sid: &str, book: &RestoredBook, out: &mut Vec<EngineEvent>) {
        let base = CtxBase {
            settings: &self.settings,
            specs: &self.specs,
            now_ms: self.now_ms,
        };
        let Some(session) = self.sessions.get_mut(sid) else {
            return self.reject(sid, format!("no running session `{sid}` to restore"), out);
        };
        session.book.restore(book);
        let max_signal = book.signals.iter().map(|s| s.id).max().unwrap_or(0);
        let max_position = book
            .closed
            .iter()
            .chain(&book.open)
            .map(|p| p.id)
            .max()
            .unwrap_or(0);
        self.next_signal_id = self.next_signal_id.max(max_signal);
        self.next_position_id = self.next_position_id.max(max_position);
        let mut refused = Vec::new();
        if let Some(strategy) = self.strategies.get(&session.strategy) {
            for view in &book.open {
                let inst = session.instances.get_mut(&view.symbol);
                let pos = PaperPosition::restore(view, &strategy.settings);
                let (Some(inst), Some(pos)) = (inst, pos) else {
                    refused.push(format!(
                        "open position #{} of {} not restored: the session has no such symbol or the record is unusable",
                        view.id, view.symbol
                    ));
                    continue;
                };
                if inst.position.is_some() {
                    refused.push(format!(
                        "open position #{} of {} not restored: the instance already holds one",
                        view.id, view.symbol
                    ));
                    continue;
                }
                let Some(market) = self.symbols.get(&view.symbol) else {
                    continue;
                };
                let ind = market.compute();
                let ctx = base.ctx(sid, strategy, market, &ind, &view.symbol);
                let mut sink = Sink {
                    events: out,
                    next_signal_id: &mut self.next_signal_id,
                    next_position_id: &mut self.next_position_id,
                    book: &mut session.book,
                };
                inst.restore_position(pos, &ctx, &mut sink);
            }
        }
        for reason in refused {
            self.reject(sid, reason, out);
        }
    }

    fn stop_session(&mut self, id: &str, out: &mut Vec<EngineEvent>) {
        let Some(mut session) = self.sessions.remove(id) else {
            return self.reject(id, format!("no running session `{id}`"), out);
        };
        let symbols: Vec<String> = session.instances.keys().cloned().collect();
        for symbol in symbols {
            self.remove_instance(id, &mut session, &symbol, "session stopped", out);
        }
    }

    fn add_symbol(&mut self, sid: &str, symbol: &str, out: &mut Vec<EngineEvent>) {
        let now = self.now_ms;
        let inst = self.new_instance(symbol);
        let state = inst.state;
        let Some(session) = self.sessions.get_mut(sid) else {
            return self.reject(sid, format!("no running session `{sid}`"), out);
        };
        if session.instances.contains_key(symbol) {
            return self.reject(sid, format!("session `{sid}` already has {symbol}"), out);
        }
        session.instances.insert(symbol.to_string(), inst);
        self.market_mut(symbol);
        out.push(EngineEvent::InstanceAdded {
            session: sid.to_string(),
            symbol: symbol.to_string(),
            state,
            at_ms: now,
        });
    }

    /// A trader's close at market of one instance's open position (see
    /// `EngineInput::ClosePosition`); refused with the reason when there is none.
    fn close_position(&mut self, sid: &str, symbol: &str, out: &mut Vec<EngineEvent>) {
        let base = CtxBase {
            settings: &self.settings,
            specs: &self.specs,
            now_ms: self.now_ms,
        };
        let Some(session) = self.sessions.get_mut(sid) else {
            return self.reject(sid, format!("no running session `{sid}`"), out);
        };
        let refused = match (
            session.instances.get_mut(symbol),
            self.strategies.get(&session.strategy),
            self.symbols.get(symbol),
        ) {
            (None, _, _) => Err(format!("session `{sid}` has no {symbol}")),
            (Some(inst), Some(strategy), Some(market)) => {
                let ind = market.compute();
                let ctx = Ctx {
                    paused: session.paused,
                    ..base.ctx(sid, strategy, market, &ind, symbol)
                };
                let mut sink = Sink {
                    events: out,
                    next_signal_id: &mut self.next_signal_id,
                    next_position_id: &mut self.next_position_id,
                    book: &mut session.book,
                };
                inst.close_at_market(&ctx, &mut sink)
            }
            // A running instance always has its strategy and market state; say so if not.
            (Some(_), _, _) => Err(format!("{symbol} of session `{sid}` has no market state")),
        };
        if let Err(reason) = refused {
            self.reject(sid, reason, out);
        }
    }

    /// Pauses (monitor only) or resumes a running session's strategy. Pausing cancels entry
    /// signals still waiting for their fill.
    fn set_paused(&mut self, sid: &str, paused: bool, out: &mut Vec<EngineEvent>) {
        let base = CtxBase {
            settings: &self.settings,
            specs: &self.specs,
            now_ms: self.now_ms,
        };
        let Some(session) = self.sessions.get_mut(sid) else {
            return self.reject(sid, format!("no running session `{sid}`"), out);
        };
        if session.paused == paused {
            return;
        }
        session.paused = paused;
        let Some(strategy) = self.strategies.get(&session.strategy) else {
            return;
        };
        for (symbol, inst) in &mut session.instances {
            if paused && let Some(market) = self.symbols.get(symbol) {
                let ind = market.compute();
                let ctx = Ctx {
                    paused,
                    ..base.ctx(sid, strategy, market, &ind, symbol)
                };
                let mut sink = Sink {
                    events: out,
                    next_signal_id: &mut self.next_signal_id,
                    next_position_id: &mut self.next_position_id,
                    book: &mut session.book,
                };
                inst.cancel_entry(&ctx, &mut sink);
            }
            // The conditions panel says whether entries may act.
            out.push(EngineEvent::ConditionsChanged {
                session: sid.to_string(),
                symbol: symbol.clone(),
            });
        }
    }

    /// A new instance: MONITORING, or FAILED at once when the contract is known to be refused.
    fn new_instance(&self, symbol: &str) -> Instance {
        match self.contract_failure(symbol) {
            Some(reason) => Instance::failed(symbol, &reason, self.now_ms),
            None => Instance::new(symbol, self.now_ms),
        }
    }

    fn remove_symbol(&mut self, sid: &str, symbol: &str, out: &mut Vec<EngineEvent>) {
        let Some(mut session) = self.sessions.remove(sid) else {
            return self.reject(sid, format!("no running session `{sid}`"), out);
        };
        if session.instances.contains_key(symbol) {
            self.remove_instance(sid, &mut session, symbol, "symbol removed", out);
        } else {
            self.reject(sid, format!("session `{sid}` has no {symbol}"), out);
        }
        self.sessions.insert(sid.to_string(), session);
    }

    /// Closes the instance's open position (if any) at the last price, then removes it.
    fn remove_instance(
        &mut self,
        sid: &str,
        session: &mut Session,
        symbol: &str,
        why: &str,
        out: &mut Vec<EngineEvent>,
    ) {
        let Some(mut inst) = session.instances.remove(symbol) else {
            return;
        };
        let base = CtxBase {
            settings: &self.settings,
            specs: &self.specs,
            now_ms: self.now_ms,
        };
        if let (Some(strategy), Some(market)) = (
            self.strategies.get(&session.strategy),
            self.symbols.get(symbol),
        ) {
            let ind = market.compute();
            let ctx = base.ctx(sid, strategy, market, &ind, symbol);
            let mut sink = Sink {
                events: out,
                next_signal_id: &mut self.next_signal_id,
                next_position_id: &mut self.next_position_id,
                book: &mut session.book,
            };
            inst.force_close(why, &ctx, &mut sink);
        }
        out.push(EngineEvent::InstanceRemoved {
            session: sid.to_string(),
            symbol: symbol.to_string(),
            reason: why.to_string(),
            at_ms: self.now_ms,
        });
    }

    // ----- read-only views -------------------------------------------------------------------

    /// The latest `now_ms` seen (`i64::MIN` before the first `apply`).
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Names of the configured strategies (including `default`).
    pub fn strategy_names(&self) -> Vec<String> {
        self.strategies.keys().cloned().collect()
    }

    /// Every symbol some running session watches (what the adapter must subscribe to).
    pub fn watched_symbols(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self
            .sessions
            .values()
            .flat_map(|s| s.instances.keys())
            .collect();
        set.into_iter().cloned().collect()
    }

    pub fn sessions(&self) -> Vec<SessionView> {
        self.sessions.iter().map(|(id, s)| s.view(id)).collect()
    }

    pub fn session(&self, id: &str) -> Option<SessionView> {
        self.sessions.get(id).map(|s| s.view(id))
    }

    /// Instances of a session, by symbol (empty for an unknown session).
    pub fn instances(&self, session: &str) -> Vec<InstanceView> {
        self.sessions
            .get(session)
            .map(|s| s.instances.values().map(|i| i.view(session)).collect())
            .unwrap_or_default()
    }

    /// Every indicator of `symbol`, with staleness at the latest `now_ms`.
    pub fn indicators(&self, symbol: &str) -> Option<IndicatorSnapshot> {
        self.symbols
            .get(symbol)
            .map(|m| m.snapshot(symbol, self.now_ms, self.stale_ms()))
    }

    /// Entry then exit conditions of one instance with value, threshold, progress, met, stale.
    pub fn conditions(&self, session: &str, symbol: &str) -> Option<Vec<ConditionProgress>> {
        let s = self.sessions.get(session)?;
        let inst = s.instances.get(symbol)?;
        let strategy = self.strategies.get(&s.strategy)?;
        let market = self.symbols.get(symbol)?;
        let ind = market.compute();
        let base = CtxBase {
            settings: &self.settings,
            specs: &self.specs,
            now_ms: self.now_ms,
        };
        let ctx = base.ctx(session, strategy, market, &ind, symbol);
        Some(inst.conditions(&ctx))
    }

    /// Open paper positions of a session, by symbol.
    pub fn positions(&self, session: &str) -> Vec<PositionView> {
        self.sessions
            .get(session)
            .map(|s| {
                s.instances
                    .iter()
                    .filter_map(|(sym, i)| i.position.as_ref().map(|p| p.view(session, sym)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The newest `trade_history` closed trades of a session, oldest first.
    pub fn closed_trades(&self, session: &str) -> &[PositionView] {
        self.sessions
            .get(session)
            .map(|s| s.book.closed())
            .unwrap_or(&[])
    }

    /// The newest `signal_history` signals of a session, oldest first.
    pub fn signals(&self, session: &str) -> &[Signal] {
        self.sessions
            .get(session)
            .map(|s| s.book.signals())
            .unwrap_or(&[])
    }
}

/// What every `Ctx` of one step shares: the settings, the contract specifications and the
/// time. Borrowed field by field, so the sessions can be borrowed mutably beside it.
struct CtxBase<'a> {
    settings: &'a EngineSettings,
    specs: &'a BTreeMap<String, ContractSpec>,
    now_ms: i64,
}

impl<'a> CtxBase<'a> {
    fn ctx<'b>(
        &'b self,
        session: &'b str,
        strategy: &'b CompiledStrategy,
        market: &'b SymbolState,
        ind: &'b indicators::IndicatorSet,
        symbol: &str,
    ) -> Ctx<'b> {
        let contract = self.specs.get(symbol);
        Ctx {
            session,
            strategy,
            market,
            ind,
            now_ms: self.now_ms,
            stale_ms: secs_to_ms(self.settings.stale_after_s),
            mmr: contract.map_or(self.settings.maintenance_margin_rate, |s| {
                s.maintenance_margin_rate
            }),
            alert_pct: self.settings.liquidation_alert_pct,
            contract,
            alert_interval_ms: secs_to_ms(self.settings.liquidation_alert_interval_s),
            paused: false,
        }
    }
}

fn secs_to_ms(s: u64) -> i64 {
    i64::try_from(s)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
}
