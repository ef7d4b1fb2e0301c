//! A running session: its strategy, one instance per symbol, and its paper book (`book`).

use std::collections::BTreeMap;

use super::book::SessionBook;
use super::events::SessionView;
use super::strategy::Instance;

#[derive(Debug, Clone)]
pub struct Session {
    pub strategy: String,
    pub started_ms: i64,
    /// Keyed by symbol: BTreeMap so every iteration (and thus output order) is deterministic.
    pub instances: BTreeMap<String, Instance>,
    pub book: SessionBook,
    /// Monitor only (`PauseSession`): no new entries.
    pub paused: bool,
}

impl Session {
    pub fn view(&self, id: &str) -> SessionView {
        let open = self.instances.values().filter_map(|i| i.position.as_ref());
        let (unrealized, open_fees, count) = open.fold((0.0, 0.0, 0), |(u, f, n), p| {
            (u + p.unrealized(), f + p.fees(), n + 1)
        });
        SessionView {
            id: id.to_string(),
            strategy: self.strategy.clone(),
            started_ms: self.started_ms,
            symbols: self.instances.keys().cloned().collect(),
            realized_pnl: self.book.realized_pnl,
            unrealized_pnl: unrealized,
            fees: self.book.fees_closed + open_fees,
            open_positions: count,
            signals: self.book.signals_total,
            closed_fees: self.book.fees_closed,
            closed_trades: self.book.closed_trades,
            winning_trades: self.book.winning_trades,
            paused: self.paused,
        }
    }
}
