//! A running session: its strategy, one instance per symbol, and its books (bounded signal
//! history, realized PnL and fees of closed positions).

use std::collections::BTreeMap;

use super::events::{SessionView, Signal};
use super::position::PaperPosition;
use super::strategy::Instance;

/// Per-session records that outlive single positions.
#[derive(Debug, Clone)]
pub struct SessionBook {
    cap: usize,
    /// Newest last; trimmed to `cap` lazily (when it reaches 2 x cap) so trimming is amortized O(1).
    signals: Vec<Signal>,
    pub signals_total: u64,
    pub realized_pnl: f64,
    pub fees_closed: f64,
}

impl SessionBook {
    pub fn new(cap: usize) -> SessionBook {
        SessionBook {
            cap: cap.max(1),
            signals: Vec::new(),
            signals_total: 0,
            realized_pnl: 0.0,
            fees_closed: 0.0,
        }
    }

    pub fn record_signal(&mut self, s: Signal) {
        self.signals.push(s);
        self.signals_total += 1;
        if self.signals.len() >= 2 * self.cap {
            let excess = self.signals.len() - self.cap;
            self.signals.drain(..excess);
        }
    }

    pub fn record_close(&mut self, p: &PaperPosition) {
        self.realized_pnl += p.realized();
        self.fees_closed += p.fees();
    }

    /// The newest `cap` signals, oldest first.
    pub fn signals(&self) -> &[Signal] {
        let start = self.signals.len().saturating_sub(self.cap);
        &self.signals[start..]
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub strategy: String,
    pub started_ms: i64,
    /// Keyed by symbol: BTreeMap so every iteration (and thus output order) is deterministic.
    pub instances: BTreeMap<String, Instance>,
    pub book: SessionBook,
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
        }
    }
}
