//! The strategy state machine of one (session, symbol) instance.
//!
//! ```text
//! MONITORING --all entry conditions met on fresh data / entry signal--> ENTRY_SIGNAL
//! ENTRY_SIGNAL --next trade / paper fill--> IN_POSITION
//! IN_POSITION --any exit condition met / exit signal--> EXIT_SIGNAL
//! EXIT_SIGNAL --next trade / paper fill, position closed--> COOLDOWN
//! COOLDOWN --cooldown_s elapsed--> MONITORING
//! IN_POSITION / EXIT_SIGNAL --mark crossed the liquidation price--> LIQUIDATED
//! LIQUIDATED --cooldown_s elapsed--> MONITORING
//! ```
//! Conditions are evaluated after every input that touches the instance (a market event of its
//! symbol, or `Tick`), on the values as of that input. "Next trade" = the first accepted trade of
//! a later trade batch than the one that raised the signal.
//!
//! Staleness gates entries only: exit conditions may act on stale values (getting out on old
//! data is the conservative mistake). A pending signal waits for its trade however long it
//! takes.
//!
//! Liquidation is checked on every evaluation with a position, before exit conditions: when the
//! mark (fair price when known, else last) has reached the liquidation price, the position is
//! closed at the liquidation price with the isolated margin lost (`position` module docs), a
//! `liquidation` signal and the closed position go out, and the instance goes to LIQUIDATED,
//! which is its cooldown. A pending exit signal is overtaken: the exchange does not wait for
//! our next trade. Inside `liquidation_alert_pct` (but not crossed) `LiquidationRisk` fires on
//! entering and then every `liquidation_alert_interval_s`.

use super::EngineError;
use super::book::SessionBook;
use super::condition::{self, Condition, ConditionKind, ConditionProgress, PositionValues};
use super::events::{EngineEvent, InstanceState, InstanceView, Signal, SignalKind, SignalSide};
use super::indicators::{IndicatorSet, SymbolState};
use super::position::PaperPosition;
use super::settings::{Direction, StrategySettings};
use super::sizing;
use trademon_core::market::ContractSpec;

/// A strategy with its conditions parsed.
#[derive(Debug, Clone)]
pub struct CompiledStrategy {
    pub name: String,
    pub settings: StrategySettings,
    pub entry: Vec<Condition>,
    pub exit: Vec<Condition>,
}

impl CompiledStrategy {
    pub fn compile(
        name: &str,
        settings: &StrategySettings,
        mmr: f64,
    ) -> Result<CompiledStrategy, EngineError> {
        settings
            .validate(mmr)
            .map_err(|message| EngineError::Strategy {
                strategy: name.to_string(),
                message,
            })?;
        let parse_all = |list: &[String], allow_position: bool| {
            list.iter()
                .map(|expr| {
                    condition::parse(expr, allow_position).map_err(|problem| {
                        EngineError::Condition {
                            strategy: name.to_string(),
                            expression: expr.clone(),
                            problem,
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(CompiledStrategy {
            name: name.to_string(),
            settings: settings.clone(),
            entry: parse_all(&settings.entry.all, false)?,
            exit: parse_all(&settings.exit.any, true)?,
        })
    }

    fn entry_side(&self) -> SignalSide {
        match self.settings.direction {
            Direction::Long => SignalSide::Buy,
            Direction::Short => SignalSide::Sell,
        }
    }

    fn exit_side(&self) -> SignalSide {
        match self.entry_side() {
            SignalSide::Buy => SignalSide::Sell,
            SignalSide::Sell => SignalSide::Buy,
        }
    }
}

/// Read-only inputs for one evaluation.
pub struct Ctx<'a> {
    pub session: &'a str,
    pub strategy: &'a CompiledStrategy,
    pub market: &'a SymbolState,
    pub ind: &'a IndicatorSet,
    pub now_ms: i64,
    pub stale_ms: i64,
    /// Maintenance margin rate of this symbol (its contract's, else the configured one).
    pub mmr: f64,
    pub alert_pct: f64,
    /// The exchange's specification of this symbol's contract, if known: sizes paper orders.
    pub contract: Option<&'a ContractSpec>,
    pub alert_interval_ms: i64,
    /// The session is paused (monitor only): entry conditions are shown, never acted on.
    pub paused: bool,
}

/// Where an evaluation writes.
pub struct Sink<'a> {
    pub events: &'a mut Vec<EngineEvent>,
    pub next_signal_id: &'a mut u64,
    pub next_position_id: &'a mut u64,
    pub book: &'a mut SessionBook,
}

#[derive(Debug, Clone)]
pub struct Instance {
    pub symbol: String,
    pub state: InstanceState,
    pub since_ms: i64,
    pub reason: String,
    pub position: Option<PaperPosition>,
    cooldown_until_ms: i64,
}

/// A price in a reason, rounded the way the screen shows it (never `98264.92458370002`).
fn fmt_price(p: f64) -> String {
    trademon_core::numfmt::price(p, None)
}

/// An amount of quote currency in a reason: `0.0042`, `-1.50`.
fn fmt_quote(v: f64) -> String {
    trademon_core::numfmt::with_unit(v, trademon_core::numfmt::Unit::Quote)
}

impl Instance {
    pub fn new(symbol: &str, now_ms: i64) -> Instance {
        Instance {
            symbol: symbol.to_string(),
            state: InstanceState::Monitoring,
            since_ms: now_ms,
            reason: "instance added".to_string(),
            position: None,
            cooldown_until_ms: 0,
        }
    }

    /// An instance whose contract the exchange refuses: FAILED from the start.
    pub fn failed(symbol: &str, reason: &str, now_ms: i64) -> Instance {
        Instance {
            state: InstanceState::Failed,
            reason: reason.to_string(),
            ..Instance::new(symbol, now_ms)
        }
    }

    /// The contract cannot be traded: close any paper position, then FAILED.
    pub fn fail(&mut self, reason: &str, ctx: &Ctx, sink: &mut Sink) {
        if self.state == InstanceState::Failed {
            return;
        }
        self.force_close(reason, ctx, sink);
        self.transition(InstanceState::Failed, reason.to_string(), ctx, sink);
    }

    /// The contract is tradable again (e.g. a fresh specification after a stale cache).
    pub fn relist(&mut self, ctx: &Ctx, sink: &mut Sink) {
        if self.state == InstanceState::Failed {
            let reason = "contract listed and enabled on MEXC".to_string();
            self.transition(InstanceState::Monitoring, reason, ctx, sink);
        }
    }

    fn start_cooldown(&mut self, ctx: &Ctx) {
        self.cooldown_until_ms = ctx.now_ms.saturating_add(
            i64::try_from(ctx.strategy.settings.cooldown_s)
                .unwrap_or(i64::MAX / 2)
                .saturating_mul(1000),
        );
    }

    pub fn view(&self, session: &str) -> InstanceView {
        InstanceView {
            session: session.to_string(),
            symbol: self.symbol.clone(),
            state: self.state,
            since_ms: self.since_ms,
            reason: self.reason.clone(),
        }
    }

    fn transition(&mut self, to: InstanceState, reason: String, ctx: &Ctx, sink: &mut Sink) {
        sink.events.push(EngineEvent::StateChange {
            session: ctx.session.to_string(),
            symbol: self.symbol.clone(),
            from: self.state,
            to,
            reason: reason.clone(),
            at_ms: ctx.now_ms,
        });
        self.state = to;
        self.since_ms = ctx.now_ms;
        self.reason = reason;
    }

    fn signal(
        &self,
        side: SignalSide,
        kind: SignalKind,
        price: f64,
        reason: &str,
        ctx: &Ctx,
        sink: &mut Sink,
    ) {
        *sink.next_signal_id += 1;
        let signal = Signal {
            id: *sink.next_signal_id,
            session: ctx.session.to_string(),
            symbol: self.symbol.clone(),
            side,
            kind,
            price,
            reason: reason.to_string(),
            at_ms: ctx.now_ms,
        };
        sink.book.record_signal(signal.clone());
        sink.events.push(EngineEvent::Signal(signal));
    }

    fn position_values(&self, now_ms: i64) -> Option<PositionValues> {
        self.position.as_ref().map(|p| PositionValues {
            pnl_pct: p.pnl_pct(),
            age_s: p.age_s(now_ms),
        })
    }

    /// Entry and exit conditions with their current progress.
    pub fn conditions(&self, ctx: &Ctx) -> Vec<ConditionProgress> {
        let pos = self.position_values(ctx.now_ms);
        let entry = ctx.strategy.entry.iter().map(|c| {
            c.evaluate(
                ConditionKind::Entry,
                ctx.ind,
                None,
                ctx.now_ms,
                ctx.stale_ms,
            )
        });
        let exit = ctx
            .strategy
            .exit
            .iter()
            .map(|c| c.evaluate(ConditionKind::Exit, ctx.ind, pos, ctx.now_ms, ctx.stale_ms));
        entry.chain(exit).collect()
    }

    /// Fills a pending signal at the first trade of a new batch.
    pub fn on_trade(&mut self, trade_price: f64, ctx: &Ctx, sink: &mut Sink) {
        let s = &ctx.strategy.settings;
        match self.state {
            InstanceState::EntrySignal => {
                let order = match sizing::size(s, ctx.contract, ctx.mmr, trade_price) {
                    Ok(order) => order,
                    Err(why) => {
                        // No position; cooling down keeps the same signal from repeating.
                        self.start_cooldown(ctx);
                        let reason = format!("entry refused: {why}; cooldown {} s", s.cooldown_s);
                        self.transition(InstanceState::Cooldown, reason, ctx, sink);
                        return;
                    }
                };
                *sink.next_position_id += 1;
                let pos = PaperPosition::open(
                    *sink.next_position_id,
                    &order.settings,
                    ctx.mmr,
                    trade_price,
                    ctx.now_ms,
                );
                // The fill price is the position's entry; the trade it filled against and the
                // slippage are named as such, not as a second price of the fill.
                let reason = format!(
                    "entry filled at {} USDT (next trade {} + {} bps slippage), fee {} USDT; {}",
                    fmt_price(pos.entry_price),
                    fmt_price(trade_price),
                    s.slippage_bps,
                    fmt_quote(pos.fees()),
                    sizing::describe(&order, ctx.contract),
                );
                sink.events.push(EngineEvent::PositionOpened(
                    pos.view(ctx.session, &self.symbol),
                ));
                self.position = Some(pos);
                self.transition(InstanceState::InPosition, reason, ctx, sink);
            }
            InstanceState::ExitSignal => {
                // This batch may have carried the mark past the liquidation price: then the
                // liquidation comes first, as on the exchange.
                if let Some(pos) = self.position.as_mut()
                    && let Some(mark) = ctx.market.mark(ctx.now_ms, ctx.stale_ms)
                {
                    pos.set_mark(mark);
                    if pos.liquidation_crossed() {
                        self.liquidate(ctx, sink);
                        return;
                    }
                }
                let Some(mut pos) = self.position.take() else {
                    // Unreachable by construction; recover to a consistent state.
                    self.transition(
                        InstanceState::Monitoring,
                        "no position to exit".into(),
                        ctx,
                        sink,
                    );
                    return;
                };
                let why = self.reason.clone();
                let exit = pos.close(trade_price, ctx.now_ms, why);
                let view = pos.view(ctx.session, &self.symbol);
                sink.book.record_close(&pos, view.clone());
                sink.events.push(EngineEvent::PositionClosed(view));
                let reason = format!(
                    "exit filled at {} USDT (next trade {} - slippage), realized PnL {} USDT; \
                     cooldown {} s",
                    fmt_price(exit),
                    fmt_price(trade_price),
                    fmt_quote(pos.realized()),
                    s.cooldown_s
                );
                self.start_cooldown(ctx);
                self.transition(InstanceState::Cooldown, reason, ctx, sink);
            }
            _ => {}
        }
    }

    /// Runs the machine on the current values: cooldown expiry, mark/PnL update, liquidation
    /// and its alert, then entry (MONITORING) or exit (IN_POSITION) conditions.
    pub fn evaluate(&mut self, ctx: &Ctx, sink: &mut Sink) {
        let cooling = matches!(
            self.state,
            InstanceState::Cooldown | InstanceState::Liquidated
        );
        if cooling && ctx.now_ms >= self.cooldown_until_ms {
            let after = if self.state == InstanceState::Liquidated {
                " after the liquidation"
            } else {
                ""
            };
            let reason = format!(
                "cooldown of {} s{after} over",
                ctx.strategy.settings.cooldown_s
            );
            self.transition(InstanceState::Monitoring, reason, ctx, sink);
        }

        let mut crossed = false;
        if let Some(pos) = self.position.as_mut()
            && let Some(mark) = ctx.market.mark(ctx.now_ms, ctx.stale_ms)
        {
            if pos.set_mark(mark) {
                sink.events.push(EngineEvent::PositionUpdated(
                    pos.view(ctx.session, &self.symbol),
                ));
            }
            crossed = pos.liquidation_crossed();
            if !crossed
                && let Some(distance_pct) =
                    pos.liquidation_alert(ctx.alert_pct, ctx.now_ms, ctx.alert_interval_ms)
            {
                sink.events.push(EngineEvent::LiquidationRisk {
                    session: ctx.session.to_string(),
                    symbol: self.symbol.clone(),
                    mark: pos.mark,
                    liquidation_price: pos.liquidation_price(),
                    distance_pct,
                    at_ms: ctx.now_ms,
                });
            }
        }
        if crossed {
            self.liquidate(ctx, sink);
            return;
        }

        match self.state {
            InstanceState::Monitoring if !ctx.paused => self.check_entry(ctx, sink),
            InstanceState::InPosition => self.check_exit(ctx, sink),
            _ => {}
        }
    }

    /// The mark has crossed the liquidation price: close there, margin lost, LIQUIDATED.
    fn liquidate(&mut self, ctx: &Ctx, sink: &mut Sink) {
        let Some(mut pos) = self.position.take() else {
            return;
        };
        let (mark, liq) = (pos.mark, pos.liquidation_price());
        let reason = format!(
            "liquidated: mark {} crossed the liquidation price {} ({}x isolated); margin {} lost",
            fmt_price(mark),
            fmt_price(liq),
            fmt_price(pos.leverage()),
            fmt_price(pos.margin()),
        );
        self.signal(
            ctx.strategy.exit_side(),
            SignalKind::Liquidation,
            liq,
            &reason,
            ctx,
            sink,
        );
        pos.liquidate(ctx.now_ms, reason.clone());
        let view = pos.view(ctx.session, &self.symbol);
        sink.book.record_close(&pos, view.clone());
        sink.events.push(EngineEvent::PositionClosed(view));
        self.start_cooldown(ctx);
        let reason = format!(
            "{reason}; realized pnl {} incl. fees {}; cooldown {} s",
            fmt_price(pos.realized()),
            fmt_price(pos.fees()),
            ctx.strategy.settings.cooldown_s
        );
        self.transition(InstanceState::Liquidated, reason, ctx, sink);
    }

    /// Puts a restored open position back: the instance is IN_POSITION again.
    pub fn restore_position(&mut self, pos: PaperPosition, ctx: &Ctx, sink: &mut Sink) {
        let reason = format!(
            "position #{} restored from the paper journal (entry {}, liquidation {})",
            pos.id,
            fmt_price(pos.entry_price),
            fmt_price(pos.liquidation_price())
        );
        sink.events.push(EngineEvent::PositionOpened(
            pos.view(ctx.session, &self.symbol),
        ));
        self.position = Some(pos);
        self.transition(InstanceState::InPosition, reason, ctx, sink);
    }

    fn check_entry(&mut self, ctx: &Ctx, sink: &mut Sink) {
        let Some(price) = ctx.market.last() else {
            return;
        };
        let check = |c: &Condition| {
            c.check(
                ConditionKind::Entry,
                ctx.ind,
                None,
                ctx.now_ms,
                ctx.stale_ms,
            )
        };
        if !ctx.strategy.entry.iter().all(|c| check(c).met) {
            return;
        }
        let parts: Vec<String> = ctx
            .strategy
            .entry
            .iter()
            .map(|c| c.describe(check(c).value))
            .collect();
        let reason = format!("all entry conditions met: {}", parts.join(", "));
        self.signal(
            ctx.strategy.entry_side(),
            SignalKind::Entry,
            price,
            &reason,
            ctx,
            sink,
        );
        self.transition(InstanceState::EntrySignal, reason, ctx, sink);
    }

    fn check_exit(&mut self, ctx: &Ctx, sink: &mut Sink) {
        let pos = self.position_values(ctx.now_ms);
        let check =
            |c: &Condition| c.check(ConditionKind::Exit, ctx.ind, pos, ctx.now_ms, ctx.stale_ms);
        if !ctx.strategy.exit.iter().any(|c| check(c).met) {
            return;
        }
        let met: Vec<String> = ctx
            .strategy
            .exit
            .iter()
            .filter_map(|c| {
                let p = check(c);
                p.met.then(|| c.describe(p.value))
            })
            .collect();
        let price = ctx.market.last().or(self.position.as_ref().map(|p| p.mark));
        let Some(price) = price else { return };
        let reason = format!("exit condition met: {}", met.join(", "));
        self.signal(
            ctx.strategy.exit_side(),
            SignalKind::Exit,
            price,
            &reason,
            ctx,
            sink,
        );
        self.transition(InstanceState::ExitSignal, reason, ctx, sink);
    }

    /// Closes an open position at the last price (session stop / symbol removal).
    pub fn force_close(&mut self, why: &str, ctx: &Ctx, sink: &mut Sink) {
        let reason = format!("{why}: closing the open position at the last price");
        self.close_at_last(reason, ctx, sink);
    }

    /// A trader's close at market (`EngineInput::ClosePosition`): the position closes at the
    /// last price like a forced exit, then the instance cools down as after any exit, so the
    /// entry that may still hold does not reopen it at once. `Err` says why nothing was closed.
    pub fn close_at_market(&mut self, ctx: &Ctx, sink: &mut Sink) -> Result<(), String> {
        if self.position.is_none() {
            return Err(format!(
                "{} has no open paper position (it is {})",
                self.symbol,
                self.state.as_str()
            ));
        }
        let why = "closed at market by request".to_string();
        let Some((pos, exit, trade_price)) = self.close_at_last(why, ctx, sink) else {
            return Ok(());
        };
        let s = &ctx.strategy.settings;
        let reason = format!(
            "closed at market by request: exit {} USDT (last {} - slippage), realized PnL {} \
             USDT; cooldown {} s",
            fmt_price(exit),
            fmt_price(trade_price),
            fmt_quote(pos.realized()),
            s.cooldown_s
        );
        self.start_cooldown(ctx);
        self.transition(InstanceState::Cooldown, reason, ctx, sink);
        Ok(())
    }

    /// The session was paused: an entry signal still waiting for its fill is dropped, so no
    /// position opens while paused.
    pub fn cancel_entry(&mut self, ctx: &Ctx, sink: &mut Sink) {
        if self.state == InstanceState::EntrySignal {
            let reason = "strategy paused: the pending entry was cancelled".to_string();
            self.transition(InstanceState::Monitoring, reason, ctx, sink);
        }
    }

    /// Closes the open position at the last price (the mark while no trade is known) with a
    /// `forced_exit` signal; returns the closed position, its exit fill and the price it
    /// closed against.
    fn close_at_last(
        &mut self,
        reason: String,
        ctx: &Ctx,
        sink: &mut Sink,
    ) -> Option<(PaperPosition, f64, f64)> {
        let mut pos = self.position.take()?;
        let price = ctx.market.last().unwrap_or(pos.mark);
        self.signal(
            ctx.strategy.exit_side(),
            SignalKind::ForcedExit,
            price,
            &reason,
            ctx,
            sink,
        );
        let exit = pos.close(price, ctx.now_ms, reason);
        let view = pos.view(ctx.session, &self.symbol);
        sink.book.record_close(&pos, view.clone());
        sink.events.push(EngineEvent::PositionClosed(view));
        Some((pos, exit, price))
    }
}
