//! The session summary line: mode PAPER, session, strategy, lifecycle and uptime, paper PnL.

use super::grid::flow;
use super::panel::signed;
use crate::app::App;
use ratatui::text::{Line, Span};
use trademon_protocol::SessionState;

pub fn line(app: &App, width: usize) -> Line<'static> {
    let theme = &app.theme;
    let Some(s) = app.active_session() else {
        return Line::styled(" PAPER  waiting for the session list…", theme.muted());
    };
    let totals = app.model.totals.get(&s.id);
    let mut segs: Vec<Vec<Span<'static>>> = vec![
        vec![Span::styled(" PAPER", theme.active_tab())],
        vec![Span::raw(format!("{} · strategy {}", s.name, s.strategy))],
    ];
    let state = match s.state {
        SessionState::Running => {
            let up = totals
                .and_then(|t| t.started_ms)
                .map(|at| format!("running {}", uptime(app.now_ms - at)))
                .unwrap_or_else(|| "running".into());
            Span::raw(up)
        }
        SessionState::Starting => Span::styled("STARTING", theme.warn()),
        SessionState::Stopped => Span::styled("STOPPED", theme.warn()),
        SessionState::Failed => Span::styled(
            format!("FAILED: {}", s.error.as_deref().unwrap_or("unknown reason")),
            theme.error(),
        ),
    };
    segs.push(vec![state]);
    if s.paused {
        // In words, not only a colour: entries do not act while paused.
        segs.push(vec![Span::styled("PAUSED (monitor only)", theme.warn())]);
    }
    let failed = app
        .model
        .instances
        .get(&s.id)
        .map_or(0, |m| m.values().filter(|i| i.state == "FAILED").count());
    if failed > 0 {
        // Symbols the exchange refuses: counted here so a long watchlist cannot hide them.
        segs.push(vec![Span::styled(
            format!("✕ {failed}/{} symbols failed", s.symbols.len()),
            theme.error(),
        )]);
    }
    if let Some(t) = totals {
        let pnl = t.realized_pnl + t.unrealized_pnl;
        let style = theme.by_sign(pnl);
        segs.push(vec![
            Span::raw("PnL "),
            Span::styled(signed(pnl, 12), style),
            Span::raw(" USDT"),
        ]);
        segs.push(vec![Span::raw(format!(
            "{} open · {} signals",
            t.open_positions, t.signals
        ))]);
        segs.push(vec![Span::styled(
            format!(
                "realized {} · open {} · fees {} USDT",
                signed(t.realized_pnl, 12),
                signed(t.unrealized_pnl, 12),
                crate::format::fit_number(t.fees, 2, 12)
            ),
            theme.muted(),
        )]);
    }
    flow(segs, width, 1).into_iter().next().unwrap_or_default()
}

/// `45s`, `3m12s`, `2h05m`, `3d04h`: precise enough for a session clock.
fn uptime(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
        _ => format!("{}d{:02}h", s / 86_400, (s / 3600) % 24),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uptime_units() {
        assert_eq!(super::uptime(45_000), "45s");
        assert_eq!(super::uptime(192_000), "3m12s");
        assert_eq!(super::uptime(7_500_000), "2h05m");
        assert_eq!(super::uptime(-5), "0s");
    }
}
