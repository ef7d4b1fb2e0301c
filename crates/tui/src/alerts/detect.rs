//! Which alerts the client model, the link and the clock call for, once per event.
//!
//! Pure: the caller passes the model, the link state and the time. Identity rules:
//! - a signal is new when its `(at_ms, id)` is above the session's high-water mark; a
//!   `full_update` after a reconnect repeats old signals below it, a backend restarted from its
//!   journal gives restored signals their old times, and one restarted without it gives new
//!   signals newer times even when ids start over;
//! - a fill: an open position whose `(opened_at_ms, id)` was not open before; a close whose
//!   `(closed_at_ms, id)` is above the mark of the closed list (newest first);
//! - liquidation risk: once per position until its distance is above the threshold again;
//! - link lost: once per loss (Live or Slow to Reconnecting, Polling or Disconnected), and once
//!   when it is Live again;
//! - data stale: once per session until all its rows are fresh again (not while the link is
//!   down: the link alert says why).
//!
//! The first time a session's signals or positions are seen (the first `full_update`) is the
//! baseline: history already on the backend does not ring.

use super::{Alert, AlertKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use trademon_client::link::{LinkState, LinkStatus};
use trademon_client::model::ClientModel;
use trademon_protocol::{PositionInfo, SessionState, SignalInfo, SignalKind};

/// Position and signal identity: time first, so ids that start over after a backend restart
/// without its journal still compare as newer.
type Mark = (i64, u64);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    /// Percent distance of the mark to the liquidation price that raises `liquidation_risk`.
    risk_pct: f64,
    sessions: BTreeMap<String, Marks>,
    /// The link was Live (or Slow) since the last loss, so a drop is a loss.
    link_up: bool,
    /// When the link was lost, while it is.
    lost_at_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Marks {
    /// `None` before the first `full_update` of signals.
    signals: Option<Option<Mark>>,
    /// Open positions seen; `None` before the first `full_update` of positions.
    open: Option<BTreeSet<Mark>>,
    /// Newest close seen.
    closed: Option<Mark>,
    /// Positions alerted as near liquidation that have not recovered.
    at_risk: BTreeSet<u64>,
    /// An alert was raised for stale data and the rows are not all fresh again.
    stale: bool,
}

impl Detector {
    pub fn new(risk_pct: f64) -> Detector {
        Detector {
            risk_pct,
            sessions: BTreeMap::new(),
            link_up: false,
            lost_at_ms: None,
        }
    }

    /// Signals, fills, liquidations and liquidation risk: call after the model applied
    /// something that can change signals or positions.
    pub fn trading(&mut self, model: &ClientModel, now_ms: i64) -> Vec<Alert> {
        let mut out = Vec::new();
        for (session, list) in &model.signals {
            let marks = self.sessions.entry(session.clone()).or_default();
            let newest = list.back().map(signal_mark);
            let Some(seen) = marks.signals else {
                marks.signals = Some(newest);
                continue;
            };
            let fresh: Vec<&SignalInfo> = list
                .iter()
                .rev()
                .take_while(|s| Some(signal_mark(s)) > seen)
                .collect();
            for s in fresh.into_iter().rev() {
                out.push(signal_alert(
                    session,
                    s,
                    decimals(model, session, &s.symbol),
                ));
            }
            marks.signals = Some(newest.max(seen));
        }
        let sessions: BTreeSet<&String> =
            model.positions.keys().chain(model.closed.keys()).collect();
        for session in sessions {
            let marks = self.sessions.entry(session.clone()).or_default();
            let open = model.positions.get(session);
            let open_now: BTreeSet<Mark> = open
                .into_iter()
                .flat_map(|m| m.values())
                .map(|p| (p.opened_at_ms, p.id))
                .collect();
            let closed = model.closed.get(session);
            let newest_close = closed.and_then(|c| c.front()).map(close_mark);
            match &marks.open {
                None => marks.closed = newest_close,
                Some(seen) => {
                    for p in open.into_iter().flat_map(|m| m.values()) {
                        if !seen.contains(&(p.opened_at_ms, p.id)) {
                            out.push(opened_alert(
                                session,
                                p,
                                decimals(model, session, &p.symbol),
                            ));
                        }
                    }
                    let fresh: Vec<&PositionInfo> = closed
                        .into_iter()
                        .flatten()
                        .take_while(|p| Some(close_mark(p)) > marks.closed)
                        .collect();
                    for p in fresh.into_iter().rev() {
                        // The liquidation signal already says it (kind `liquidation`).
                        if !is_liquidated(p) {
                            out.push(closed_alert(
                                session,
                                p,
                                decimals(model, session, &p.symbol),
                            ));
                        }
                    }
                    marks.closed = newest_close.max(marks.closed);
                }
            }
            marks.open = Some(open_now);
            for p in open.into_iter().flat_map(|m| m.values()) {
                if self.risk_pct > 0.0 && near_liquidation(p, self.risk_pct) {
                    if marks.at_risk.insert(p.id) {
                        let d = decimals(model, session, &p.symbol);
                        out.push(risk_alert(session, p, d, now_ms));
                    }
                } else {
                    marks.at_risk.remove(&p.id);
                }
            }
            marks
                .at_risk
                .retain(|id| open.is_some_and(|m| m.values().any(|p| p.id == *id)));
        }
        out
    }

    /// The link to the backend changed (or may have).
    pub fn link(&mut self, link: &LinkStatus, now_ms: i64) -> Vec<Alert> {
        match link.state {
            LinkState::Live | LinkState::Slow => {
                self.link_up = true;
                match self.lost_at_ms.take() {
                    Some(since) if link.state == LinkState::Live => {
                        let down = crate::format::age(now_ms - since);
                        vec![Alert::new(
                            AlertKind::LinkLost,
                            now_ms,
                            format!("backend link back: Live after {down} down"),
                        )]
                    }
                    // Slow is up but not yet back: keep waiting for Live.
                    lost => {
                        self.lost_at_ms = lost;
                        Vec::new()
                    }
                }
            }
            LinkState::Reconnecting | LinkState::Polling | LinkState::Disconnected
                if self.link_up && self.lost_at_ms.is_none() =>
            {
                self.link_up = false;
                self.lost_at_ms = Some(now_ms);
                vec![Alert::new(
                    AlertKind::LinkLost,
                    now_ms,
                    format!("backend link lost: {}{}", link.state.word(), cause(link)),
                )]
            }
            _ => Vec::new(),
        }
    }

    /// Data ages: call as time passes. `is_stale(age_ms)` is the watchlist's rule (the caller's,
    /// so the two never differ), `stale_after_ms` its threshold for the text.
    pub fn staleness(
        &mut self,
        model: &ClientModel,
        link: LinkState,
        stale_after_ms: u64,
        is_stale: impl Fn(i64) -> bool,
        now_ms: i64,
    ) -> Vec<Alert> {
        if !matches!(link, LinkState::Live | LinkState::Slow) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for session in &model.sessions {
            let marks = self.sessions.entry(session.id.clone()).or_default();
            let running = session.state == SessionState::Running;
            let market = model.market.get(&session.id);
            let stale: Vec<&str> = session
                .symbols
                .iter()
                .filter(|sym| {
                    market
                        .and_then(|m| m.get(*sym))
                        .is_some_and(|t| is_stale(t.age_ms(now_ms)))
                })
                .map(String::as_str)
                .collect();
            if !running || stale.is_empty() {
                marks.stale = false;
                continue;
            }
            if marks.stale {
                continue;
            }
            marks.stale = true;
            let text = format!(
                "{}: {}/{} stale: {} (no market data for {})",
                session.id,
                stale.len(),
                session.symbols.len(),
                stale.join(", "),
                crate::format::age(stale_after_ms as i64),
            );
            let mut alert = Alert::new(AlertKind::DataStale, now_ms, text).session(&session.id);
            if let [one] = stale.as_slice() {
                alert = alert.symbol(one);
            }
            out.push(alert);
        }
        out
    }
}

/// The contract's price decimals, when its ticker said them.
fn decimals(model: &ClientModel, session: &str, symbol: &str) -> Option<u32> {
    model
        .market
        .get(session)?
        .get(symbol)?
        .ticker
        .price_decimals
}

/// A price as the screen shows it: the contract's decimals, else by magnitude.
fn px(value: f64, decimals: Option<u32>) -> String {
    crate::format::price_in(value, decimals, 24)
}

fn signal_mark(s: &SignalInfo) -> Mark {
    (s.at_ms, s.id)
}

fn close_mark(p: &PositionInfo) -> Mark {
    (p.closed_at_ms.unwrap_or(p.opened_at_ms), p.id)
}

/// The engine closes a liquidated position with a reason that starts so (engine::strategy).
fn is_liquidated(p: &PositionInfo) -> bool {
    p.close_reason
        .as_deref()
        .is_some_and(|r| r.starts_with("liquidated"))
}

fn near_liquidation(p: &PositionInfo, pct: f64) -> bool {
    p.liquidation_price > 0.0 && p.distance_to_liq_pct.is_finite() && p.distance_to_liq_pct <= pct
}

fn signal_alert(session: &str, s: &SignalInfo, d: Option<u32>) -> Alert {
    let (kind, what) = match s.kind {
        SignalKind::Entry => (AlertKind::Signal, "entry"),
        SignalKind::Exit => (AlertKind::Signal, "exit"),
        SignalKind::ForcedExit => (AlertKind::Signal, "forced exit"),
        SignalKind::Liquidation => (AlertKind::Liquidation, "liquidation"),
    };
    let side = match s.side {
        trademon_protocol::Side::Buy => "BUY",
        trademon_protocol::Side::Sell => "SELL",
    };
    Alert::new(
        kind,
        s.at_ms,
        format!(
            "{session}: {side} {} {what} at {}: {}",
            s.symbol,
            px(s.price, d),
            s.reason
        ),
    )
    .session(session)
    .symbol(&s.symbol)
}

fn opened_alert(session: &str, p: &PositionInfo, d: Option<u32>) -> Alert {
    Alert::new(
        AlertKind::Fill,
        p.opened_at_ms,
        format!(
            "{session}: paper {} {} opened at {}, {:.2} USDT x{}",
            p.direction.to_uppercase(),
            p.symbol,
            px(p.entry_price, d),
            p.size_quote,
            p.leverage
        ),
    )
    .session(session)
    .symbol(&p.symbol)
}

fn closed_alert(session: &str, p: &PositionInfo, d: Option<u32>) -> Alert {
    let exit = p
        .exit_price
        .map_or_else(|| "an unknown price".to_string(), |x| px(x, d));
    let reason = p
        .close_reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    Alert::new(
        AlertKind::Fill,
        p.closed_at_ms.unwrap_or(p.opened_at_ms),
        format!(
            "{session}: paper {} {} closed at {exit}, PnL {:.2} USDT{reason}",
            p.direction.to_uppercase(),
            p.symbol,
            p.realized_pnl
        ),
    )
    .session(session)
    .symbol(&p.symbol)
}

fn risk_alert(session: &str, p: &PositionInfo, d: Option<u32>, now_ms: i64) -> Alert {
    Alert::new(
        AlertKind::LiquidationRisk,
        now_ms,
        format!(
            "{session}: paper {} {} mark {} is {:.2} % from liquidation at {}",
            p.direction.to_uppercase(),
            p.symbol,
            px(p.mark_price, d),
            p.distance_to_liq_pct,
            px(p.liquidation_price, d)
        ),
    )
    .session(session)
    .symbol(&p.symbol)
}

/// ` (close 1006: …)` or ` (connection refused)`: why the link went down, when known.
fn cause(link: &LinkStatus) -> String {
    if let Some((e, _)) = &link.last_error {
        return format!(" ({e})");
    }
    match &link.last_close {
        Some(c) if c.reason.is_empty() => format!(" (close {})", c.code),
        Some(c) => format!(" (close {}: {})", c.code, c.reason),
        None => String::new(),
    }
}
