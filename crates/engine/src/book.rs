//! A session's paper book: bounded signal and closed-trade history, realized PnL and fees of
//! closed positions. Strategy instances write to it; a session owns it.

use super::events::Signal;
use super::position::{PaperPosition, PositionView};

/// A session's paper book as a journal kept it, for `EngineInput::Restore`: totals, the
/// newest signals and closed trades (oldest first), and the positions still open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestoredBook {
    pub realized_pnl: f64,
    pub fees_closed: f64,
    pub signals_total: u64,
    pub closed_trades: u64,
    pub winning_trades: u64,
    pub signals: Vec<Signal>,
    pub closed: Vec<PositionView>,
    pub open: Vec<PositionView>,
}

/// Newest last; trimmed to `cap` lazily (when it reaches 2 x cap) so trimming is amortized O(1).
#[derive(Debug, Clone)]
struct Bounded<T> {
    cap: usize,
    items: Vec<T>,
}

impl<T> Bounded<T> {
    fn new(cap: usize) -> Self {
        Bounded {
            cap: cap.max(1),
            items: Vec::new(),
        }
    }

    fn push(&mut self, x: T) {
        self.items.push(x);
        if self.items.len() >= 2 * self.cap {
            let excess = self.items.len() - self.cap;
            self.items.drain(..excess);
        }
    }

    /// The newest `cap`, oldest first.
    fn as_slice(&self) -> &[T] {
        let start = self.items.len().saturating_sub(self.cap);
        &self.items[start..]
    }
}

/// Per-session records that outlive single positions.
#[derive(Debug, Clone)]
pub struct SessionBook {
    signals: Bounded<Signal>,
    closed: Bounded<PositionView>,
    pub signals_total: u64,
    pub realized_pnl: f64,
    pub fees_closed: f64,
    pub closed_trades: u64,
    pub winning_trades: u64,
}

impl SessionBook {
    pub fn new(signal_cap: usize, trade_cap: usize) -> SessionBook {
        SessionBook {
            signals: Bounded::new(signal_cap),
            closed: Bounded::new(trade_cap),
            signals_total: 0,
            realized_pnl: 0.0,
            fees_closed: 0.0,
            closed_trades: 0,
            winning_trades: 0,
        }
    }

    pub fn record_signal(&mut self, s: Signal) {
        self.signals.push(s);
        self.signals_total += 1;
    }

    /// `p` is closed; `view` is its final view (kept for the Trades panel).
    pub fn record_close(&mut self, p: &PaperPosition, view: PositionView) {
        self.realized_pnl += p.realized();
        self.fees_closed += p.fees();
        self.closed_trades += 1;
        if p.realized() > 0.0 {
            self.winning_trades += 1;
        }
        self.closed.push(view);
    }

    /// Takes over a restored book's totals and lists (open positions are the caller's).
    pub fn restore(&mut self, b: &RestoredBook) {
        self.realized_pnl = b.realized_pnl;
        self.fees_closed = b.fees_closed;
        self.signals_total = b.signals_total;
        self.closed_trades = b.closed_trades;
        self.winning_trades = b.winning_trades;
        self.signals = Bounded::new(self.signals.cap);
        for s in &b.signals {
            self.signals.push(s.clone());
        }
        self.closed = Bounded::new(self.closed.cap);
        for c in &b.closed {
            self.closed.push(c.clone());
        }
    }

    /// The newest `signal_history` signals, oldest first.
    pub fn signals(&self) -> &[Signal] {
        self.signals.as_slice()
    }

    /// The newest `trade_history` closed trades, oldest first.
    pub fn closed(&self) -> &[PositionView] {
        self.closed.as_slice()
    }
}
