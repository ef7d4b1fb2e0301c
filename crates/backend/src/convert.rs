//! Engine views and events -> wire types. Pure functions: the protocol stays independent of
//! the engine's internal types, and the mapping is tested in one place.

use trademon_engine::{
    self as engine, ConditionProgress, IndicatorSnapshot, InstanceView, PositionView, SessionView,
    Signal,
};
use trademon_protocol::{
    ConditionInfo, ConditionKind, IndicatorValue, Instance, PositionInfo, PositionStatus,
    SessionTotals, Side, SignalInfo, SignalKind, SymbolConditions, SymbolIndicators,
};

pub fn instance(v: &InstanceView) -> Instance {
    Instance {
        symbol: v.symbol.clone(),
        state: v.state.as_str().to_string(),
        since_ms: v.since_ms,
        last_reason: v.reason.clone(),
    }
}

pub fn indicators(s: &IndicatorSnapshot) -> SymbolIndicators {
    SymbolIndicators {
        symbol: s.symbol.clone(),
        values: s
            .values
            .iter()
            .map(|e| {
                let v = IndicatorValue {
                    value: e.value,
                    updated_at: e.updated_at,
                    stale: e.stale,
                };
                (e.name.as_str().to_string(), v)
            })
            .collect(),
    }
}

pub fn conditions(symbol: &str, state: &str, list: &[ConditionProgress]) -> SymbolConditions {
    SymbolConditions {
        symbol: symbol.to_string(),
        state: state.to_string(),
        conditions: list
            .iter()
            .map(|c| ConditionInfo {
                kind: match c.kind {
                    engine::ConditionKind::Entry => ConditionKind::Entry,
                    engine::ConditionKind::Exit => ConditionKind::Exit,
                },
                expr: c.expr.clone(),
                indicator: c.name.to_string(),
                op: c.op.as_str().to_string(),
                threshold: c.threshold,
                value: c.value,
                progress_pct: c.progress_pct,
                met: c.met,
                stale: c.stale,
            })
            .collect(),
    }
}

pub fn signal(s: &Signal) -> SignalInfo {
    SignalInfo {
        id: s.id,
        symbol: s.symbol.clone(),
        side: match s.side {
            engine::SignalSide::Buy => Side::Buy,
            engine::SignalSide::Sell => Side::Sell,
        },
        price: s.price,
        reason: s.reason.clone(),
        kind: match s.kind {
            engine::SignalKind::Entry => SignalKind::Entry,
            engine::SignalKind::Exit => SignalKind::Exit,
            engine::SignalKind::ForcedExit => SignalKind::ForcedExit,
            engine::SignalKind::Liquidation => SignalKind::Liquidation,
        },
        at_ms: s.at_ms,
    }
}

/// `alert_pct`: `engine.liquidation_alert_pct`; the flag is set while the mark is that close.
pub fn position(p: &PositionView, alert_pct: f64) -> PositionInfo {
    let open = p.status == engine::PositionStatus::Open;
    PositionInfo {
        id: p.id,
        symbol: p.symbol.clone(),
        direction: p.direction.as_str().to_string(),
        status: if open {
            PositionStatus::Open
        } else {
            PositionStatus::Closed
        },
        size_quote: p.size_quote,
        leverage: p.leverage,
        entry_price: p.entry_price,
        mark_price: p.mark_price,
        unrealized_pnl: p.unrealized_pnl,
        realized_pnl: p.realized_pnl,
        fees: p.fees,
        pnl_pct: p.pnl_pct,
        liquidation_price: p.liquidation_price,
        distance_to_liq_pct: p.liquidation_distance_pct,
        alert: open && p.liquidation_distance_pct <= alert_pct,
        opened_at_ms: p.opened_at_ms,
        closed_at_ms: p.closed_at_ms,
        exit_price: p.exit_price,
        close_reason: p.close_reason.clone(),
    }
}

pub fn totals(v: Option<&SessionView>, started_ms: Option<i64>) -> SessionTotals {
    let Some(v) = v else {
        return SessionTotals {
            started_ms,
            ..Default::default()
        };
    };
    SessionTotals {
        started_ms,
        realized_pnl: v.realized_pnl,
        unrealized_pnl: v.unrealized_pnl,
        fees: v.fees,
        open_positions: u32::try_from(v.open_positions).unwrap_or(u32::MAX),
        signals: v.signals,
        closed_fees: v.closed_fees,
        closed_trades: v.closed_trades,
        winning_trades: v.winning_trades,
    }
}
