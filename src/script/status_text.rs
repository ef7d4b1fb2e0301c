//! `trademon status` without `--json`: the summary as a few lines of plain text. Symbols and
//! words, never colour; every age says how old.

use super::status::{SessionReport, StatusReport};
use std::fmt::Write;
use trademon_client::link::LinkState;
use trademon_core::numfmt::{self, Unit};
use trademon_protocol::{DataSource, MarketSource, UpstreamState};

pub fn render(r: &StatusReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", r.headline);
    let _ = writeln!(out, "backend   {}", backend_line(r));
    if let Some(h) = &r.health {
        let age = r.health_age_ms.unwrap_or(0);
        let _ = writeln!(out, "market    {}", upstream_line(h, age));
        if let Some(s) = &h.store {
            let _ = writeln!(
                out,
                "store     QuestDB {} (spool {} rows{})",
                serde_word(&s.state),
                s.rows_spooled,
                s.last_error
                    .as_deref()
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            );
        }
    }
    if r.sessions.is_empty() {
        let known = r.health.is_some() || r.link.state == LinkState::Live;
        let _ = writeln!(out, "sessions  {}", if known { "none" } else { "unknown" });
    }
    for s in &r.sessions {
        session_lines(&mut out, s);
    }
    out
}

fn backend_line(r: &StatusReport) -> String {
    let mut t = format!("{}  link {}", r.link.url, serde_word(&r.link.state));
    if let Some(rtt) = r.link.rtt_ms {
        let _ = write!(t, ", rtt {rtt:.1} ms");
    }
    if let Some(h) = &r.health {
        let up_s = ((r.ts - h.backend_started_ms).max(0) / 1000) as u64;
        let _ = write!(
            t,
            ", up {}, {} client{}",
            duration(up_s),
            h.clients,
            if h.clients == 1 { "" } else { "s" }
        );
    }
    t
}

fn upstream_line(h: &trademon_protocol::Health, health_age_ms: i64) -> String {
    let u = &h.upstream;
    let venue = match h.market {
        MarketSource::Mexc => "MEXC",
        MarketSource::Simulator => "simulator",
    };
    let source = match u.source {
        DataSource::Ws => "websocket",
        DataSource::Rest => "REST fallback",
    };
    let state = match u.state {
        UpstreamState::RestPolling => "REST polling".to_string(),
        other => serde_word(&other),
    };
    let c = &u.subscriptions;
    let mut t = format!(
        "{venue}: {state} ({source}), subscriptions {} live, {} stale, {} failed, {} acked, {} pending",
        c.live, c.stale, c.failed, c.acked, c.pending
    );
    if let Some(age) = u.last_data_age_ms {
        let _ = write!(t, ", newest data {} ms old", age);
    }
    if let Some(cause) = &u.cause {
        let _ = write!(t, "; {cause}");
    }
    if let Some(e) = &u.rest_error {
        let _ = write!(t, "; REST: {e}");
    }
    let _ = write!(t, " (as of {} ms ago)", health_age_ms);
    t
}

fn session_lines(out: &mut String, s: &SessionReport) {
    let i = &s.info;
    let _ = writeln!(
        out,
        "session   {} ({})  {}  strategy {}{}",
        i.id,
        i.name,
        serde_word(&i.state),
        i.strategy,
        i.error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default()
    );
    let r = &s.rows;
    let fresh = r.total.saturating_sub(r.stale + r.missing);
    let _ = writeln!(
        out,
        "  symbols    {}  ({fresh} fresh, {} stale, {} no data)",
        i.symbols.join(" "),
        r.stale,
        r.missing
    );
    match &s.totals {
        Some(t) => {
            let _ = writeln!(
                out,
                "  PnL        realized {} USDT, unrealized {} USDT, fees {} USDT; {} signals, {} closed trades ({} won)",
                signed(t.realized_pnl),
                signed(t.unrealized_pnl),
                numfmt::with_unit(t.fees, Unit::Quote),
                t.signals,
                t.closed_trades,
                t.winning_trades
            );
        }
        None => {
            let _ = writeln!(out, "  PnL        unknown (no positions snapshot)");
        }
    }
    let _ = writeln!(out, "  positions  {} open", s.open_positions.len());
    for p in &s.open_positions {
        let _ = writeln!(
            out,
            "    {} {} {} USDT x{} entry {} mark {} uPnL {} USDT ({}){}",
            p.symbol,
            p.direction,
            numfmt::with_unit(p.size_quote, Unit::Quote),
            numfmt::threshold(p.leverage, Unit::Plain),
            numfmt::price(p.entry_price, None),
            numfmt::price(p.mark_price, None),
            signed(p.unrealized_pnl),
            numfmt::with_unit(p.pnl_pct, Unit::Percent),
            if p.alert { "  ! near liquidation" } else { "" }
        );
    }
}

/// `+1.25`, `-0.40`, `0.00`.
fn signed(v: f64) -> String {
    let t = numfmt::with_unit(v, Unit::Quote);
    if v > 0.0 && !t.starts_with('+') {
        format!("+{t}")
    } else {
        t
    }
}

/// A value's serde name (`running`, `rest_polling`), as in the JSON.
fn serde_word<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "?".into(),
    }
}

/// `42s`, `3m 05s`, `2h 03m`, `4d 01h`.
fn duration(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {:02}h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(185), "3m 05s");
        assert_eq!(duration(7380), "2h 03m");
        assert_eq!(duration(90000), "1d 01h");
    }

    #[test]
    fn pnl_has_its_sign() {
        assert_eq!(signed(1.25), "+1.25");
        assert_eq!(signed(-0.4), "-0.40");
        assert_eq!(signed(0.0), "0.00");
    }
}
