//! Text that describes the state in words, built by `App` when a popup opens (the status
//! popup, a selected row's full text) and shared with the health bar: the mode badge and the
//! words for link states, closes and errors. The view draws it (`view::popup`).

use super::{App, Focus, is_stale};
use crate::format;
use crate::headline::{link_delivers, venue};
use trademon_protocol::{
    DataSource, Initiator, Level, MarketSource, SignalKind, StreamState, UpstreamState,
    UpstreamStream,
};

/// Upper bound for the scroll position kept in `App` (the view clamps to the text).
pub const MAX_SCROLL: u16 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Popup {
    pub title: String,
    pub body: String,
}

/// The popup for the selected row of the focused list; `None` when that list is empty.
pub fn for_selection(app: &App) -> Option<Popup> {
    match app.focus {
        Focus::Watchlist => instance(app),
        Focus::Signals => signal(app),
        Focus::Positions => position(app),
        Focus::Events => event(app),
        Focus::Trades => trade(app),
    }
}

fn trade(app: &App) -> Option<Popup> {
    let t = app.shown_trades().nth(app.cursor(Focus::Trades))?;
    let d = app.price_decimals(&t.symbol);
    let price = |p: f64| format::price_in(p, d, usize::MAX);
    let time = |ms: Option<i64>| {
        ms.map_or(format::MISSING.to_string(), |ms| {
            format!("{} {}", app.clock.time(ms), app.clock.label(ms))
        })
    };
    let body = [
        format!(
            "{} {} · {}x",
            t.symbol,
            t.direction,
            format::fit_number(t.leverage, 0, usize::MAX)
        ),
        format!("Opened: {}", time(Some(t.opened_at_ms))),
        format!("Closed: {}", time(t.closed_at_ms)),
        format!(
            "Size: {} USDT",
            format::fit_number(t.size_quote, 2, usize::MAX)
        ),
        format!("Entry fill: {}", price(t.entry_price)),
        format!(
            "Exit fill: {}",
            t.exit_price.map_or(format::MISSING.to_string(), price)
        ),
        format!(
            "Realized PnL: {} USDT (net of fees)",
            format::signed(t.realized_pnl, usize::MAX)
        ),
        format!("Fees: {} USDT", format::fit_number(t.fees, 4, usize::MAX)),
        format!(
            "Why: {}",
            non_empty(t.close_reason.as_deref().unwrap_or(""))
        ),
    ];
    Some(Popup {
        title: format!("Trade #{} {}", t.id, t.symbol),
        body: body.join("\n"),
    })
}

/// The selected open paper position whole (the close key acts on this one).
fn position(app: &App) -> Option<Popup> {
    let p = app.shown_positions().nth(app.cursor(Focus::Positions))?;
    let d = app.price_decimals(&p.symbol);
    let price = |v: f64| format::price_in(v, d, usize::MAX);
    let body = [
        format!(
            "{} {} · {}x",
            p.symbol,
            p.direction,
            format::fit_number(p.leverage, 0, usize::MAX)
        ),
        format!(
            "Opened: {} {}",
            app.clock.time(p.opened_at_ms),
            app.clock.label(p.opened_at_ms)
        ),
        format!(
            "Size: {} USDT",
            format::fit_number(p.size_quote, 2, usize::MAX)
        ),
        format!("Entry fill: {}", price(p.entry_price)),
        format!("Mark: {}", price(p.mark_price)),
        format!(
            "Unrealized PnL: {} USDT (gross), fees so far {} USDT",
            format::signed(p.unrealized_pnl, usize::MAX),
            format::fit_number(p.fees, 4, usize::MAX)
        ),
        format!(
            "Liquidation: {} ({} away)",
            price(p.liquidation_price),
            format::percent(p.distance_to_liq_pct, usize::MAX)
        ),
        format!(
            "Close it at market: {}",
            app.keymap.keys_for(crate::keymap::Command::ClosePosition)
        ),
    ];
    Some(Popup {
        title: format!("Position #{} {}", p.id, p.symbol),
        body: body.join("\n"),
    })
}

fn instance(app: &App) -> Option<Popup> {
    instance_of(app, app.selected_symbol()?)
}

/// The popup of one symbol's instance in the active session (the symbol view's `open`).
pub(crate) fn instance_of(app: &App, sym: &str) -> Option<Popup> {
    let session = app.active_session()?;
    let clock = &app.clock;
    let zone = clock.label(app.now_ms);
    let mut body = Vec::new();
    match app
        .model
        .instances
        .get(&session.id)
        .and_then(|m| m.get(sym))
    {
        Some(i) => {
            body.push(format!(
                "State: {} since {} {zone} ({} ago)",
                i.state,
                clock.time(i.since_ms),
                format::age(app.now_ms - i.since_ms)
            ));
            body.push(format!("Why: {}", non_empty(&i.last_reason)));
        }
        None => body.push("State: unknown (no state machine reported yet)".into()),
    }
    match app.model.market.get(&session.id).and_then(|m| m.get(sym)) {
        Some(tv) => {
            let t = &tv.ticker;
            let p = |v: f64| format::price_in(v, t.price_decimals, usize::MAX);
            body.push(format!(
                "Last price: {} USDT, {} old",
                p(t.last),
                format::age(tv.age_ms(app.now_ms))
            ));
            if let Some(c) = t.change_pct {
                body.push(format!("Change 24 h: {}", format::percent(c, usize::MAX)));
            }
            if let Some(v) = t.volume_24h {
                body.push(format!("Volume 24 h: {} USDT", format::volume(v, 12)));
            }
            if let Some(f) = t.funding_rate {
                body.push(format!(
                    "Funding rate: {}",
                    trademon_core::numfmt::with_unit(f, format::Unit::Rate)
                ));
            }
        }
        None => body.push("Market data: none received yet".into()),
    }
    Some(Popup {
        title: format!("{} · {}", sym, session.name),
        body: body.join("\n"),
    })
}

fn signal(app: &App) -> Option<Popup> {
    let s = app.shown_signals().nth(app.cursor(Focus::Signals))?;
    let kind = match s.kind {
        SignalKind::Entry => "entry",
        SignalKind::Exit => "exit",
        SignalKind::ForcedExit => "forced exit",
        SignalKind::Liquidation => "liquidation",
    };
    let side = match s.side {
        trademon_protocol::Side::Buy => "BUY",
        trademon_protocol::Side::Sell => "SELL",
    };
    let body = [
        format!(
            "Time: {} {}",
            app.clock.time(s.at_ms),
            app.clock.label(s.at_ms)
        ),
        format!("{side} {} ({kind})", s.symbol),
        format!(
            "Last price when raised: {} USDT. Paper orders fill at the next trade; the fill \
             price is the position's entry (or exit) price.",
            format::price(s.price, usize::MAX)
        ),
        format!("Why: {}", non_empty(&s.reason)),
    ];
    Some(Popup {
        title: format!("Signal #{} {side} {}", s.id, s.symbol),
        body: body.join("\n"),
    })
}

fn event(app: &App) -> Option<Popup> {
    let e = app.shown_events().nth(app.cursor(Focus::Events))?;
    let level = match e.level {
        Level::Info => "INFO",
        Level::Warn => "WARN",
        Level::Error => "ERROR",
    };
    let count = if e.count > 1 {
        format!(" (seen {} times, last at this time)", e.count)
    } else {
        String::new()
    };
    let body = [
        format!(
            "Time: {} {}{count}",
            app.clock.time(e.ts),
            app.clock.label(e.ts)
        ),
        format!("{level} {}", e.name),
        e.message.clone(),
    ];
    Some(Popup {
        title: format!("Event {}", e.name),
        body: body.join("\n"),
    })
}

/// The full row of an upstream subscription, error text whole.
pub fn upstream_row(s: &UpstreamStream) -> Popup {
    let state = match s.state {
        StreamState::Pending => "pending (subscribed, no answer yet)",
        StreamState::Acked => "acked (no data yet)",
        StreamState::Live => "live",
        StreamState::Stale => "STALE (no data for too long)",
        StreamState::Failed => "FAILED",
    };
    let age = s.data_age_ms.map_or("no data yet".to_string(), |a| {
        format!("{} ago", format::age(a as i64))
    });
    let body = [
        format!("State: {state}"),
        format!("Last data: {age}"),
        format!("Resubscribes: {}", s.resubscribes),
        format!("Error: {}", s.error.as_deref().unwrap_or("none")),
    ];
    Popup {
        title: format!("{} {}", s.symbol, s.channel),
        body: body.join("\n"),
    }
}

fn non_empty(s: &str) -> &str {
    if s.is_empty() { "(no reason given)" } else { s }
}

/// `DEMO`, `REPLAY ×4`, `REPLAY ×4 paused`, `REPLAY finished`; `None` for live MEXC.
pub fn mode_badge(app: &App) -> Option<String> {
    let demo = app.market() == Some(MarketSource::Simulator);
    match (app.replay(), demo) {
        (Some(r), true) => Some(format!("{} DEMO", r.label())),
        (Some(r), false) => Some(r.label()),
        (None, true) => Some("DEMO".into()),
        (None, false) => None,
    }
}

pub(crate) fn upstream_word(state: UpstreamState, source: DataSource) -> String {
    let word = match state {
        UpstreamState::Connecting => "connecting",
        UpstreamState::Live => "live",
        UpstreamState::Reconnecting => "reconnecting",
        UpstreamState::RestPolling => "REST polling",
        UpstreamState::Down => "DOWN",
    };
    let rest = if source == DataSource::Rest && state != UpstreamState::RestPolling {
        " REST"
    } else {
        ""
    };
    format!("{word}{rest}")
}

pub(crate) fn close_words(c: &trademon_protocol::CloseInfo) -> String {
    let who = match c.initiator {
        Initiator::Local => "by us",
        Initiator::Remote => "by server",
        Initiator::Transport => "transport",
    };
    let reason = if c.reason.is_empty() {
        String::new()
    } else {
        format!(" {}", c.reason)
    };
    format!("{} ({who}){reason}", c.code)
}

pub(crate) fn error_words(err: &str, n: u32) -> String {
    let times = if n > 1 {
        format!("×{n} ")
    } else {
        String::new()
    };
    format!("{times}{err}")
}

/// The status popup: everything the headline stands for, whole, true at this instant.
pub fn status_popup(app: &App) -> Popup {
    let h = app.headline();
    let link = app.link();
    let market = app.market();
    let mut out: Vec<String> = vec![h.text()];
    if let Some(badge) = mode_badge(app) {
        out.push(format!("Mode: {badge}"));
    }
    out.push(String::new());

    let mut backend = format!(
        "Backend link: {} {}",
        link.state.symbol(),
        link.state.word()
    );
    if let Some(rtt) = link.rtt_ms {
        backend.push_str(&format!(", rtt {}", format::rtt(rtt)));
    }
    if link.attempt > 0 {
        backend.push_str(&format!(", attempt {}", link.attempt));
        if let Some(ms) = app.next_attempt_in_ms() {
            backend.push_str(&format!(", next in {}", format::seconds_tenths(ms)));
        }
    }
    out.push(backend);
    if !link.url.is_empty() {
        out.push(format!("  {}", link.url));
    }
    if let Some(c) = &link.last_close {
        out.push(format!("  last close: {}", close_words(c)));
    }
    if let Some((err, n)) = &link.last_error {
        out.push(format!("  last error: {}", error_words(err, *n)));
    }
    out.push(String::new());

    let v = venue(market.unwrap_or_default());
    match &app.model.health {
        None => out.push(format!("{v}: no status from the backend yet")),
        Some(health) => {
            let up = &health.upstream;
            let when = if link_delivers(link.state) {
                "now".to_string()
            } else {
                format!(
                    "last known, {} ago",
                    format::age(app.health_age_ms().unwrap_or(0))
                )
            };
            let source = match health.market {
                MarketSource::Mexc => "the exchange",
                MarketSource::Simulator => "the built-in simulator (DEMO), not MEXC",
            };
            out.push(format!(
                "{v} ({when}): {}, reconnects {}",
                upstream_word(up.state, up.source),
                up.reconnects
            ));
            out.push(format!("  market data from {source}"));
            if !up.url.is_empty() {
                out.push(format!("  {}", up.url));
            }
            if let Some(c) = &up.cause {
                out.push(format!("  cause: {c}"));
            }
            if let Some(e) = &up.rest_error {
                out.push(format!("  REST fallback: {e}"));
            }
            if let Some(c) = &up.last_close {
                out.push(format!("  last close: {}", close_words(c)));
            }
        }
    }
    out.push(String::new());

    match app.active_session() {
        None => out.push("Data: no session yet".into()),
        Some(s) => {
            let f = app.freshness();
            let fresh = f.total.saturating_sub(f.stale + f.missing);
            out.push(format!(
                "Data ({}): {fresh}/{} fresh (stale after {})",
                s.name,
                f.total,
                format::age(app.stale_after_ms as i64)
            ));
            let market = app.model.market.get(&s.id);
            let mut stale = Vec::new();
            let mut missing = Vec::new();
            for sym in &s.symbols {
                match market.and_then(|m| m.get(sym)) {
                    None => missing.push(sym.clone()),
                    Some(t) => {
                        let age = t.age_ms(app.now_ms);
                        if is_stale(age, app.stale_after_ms) {
                            stale.push(format!("{sym} ({})", format::age(age)));
                        }
                    }
                }
            }
            if !stale.is_empty() {
                out.push(format!("  stale: {}", stale.join(", ")));
            }
            if !missing.is_empty() {
                out.push(format!("  no data: {}", missing.join(", ")));
            }
        }
    }
    Popup {
        title: "Status".into(),
        body: out.join("\n"),
    }
}
