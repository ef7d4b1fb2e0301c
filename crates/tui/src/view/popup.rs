//! A popup with the full text of one row (an event, a signal, an instance, an upstream
//! subscription): what a table cell had to cut with `…` is readable here whole. Drawn over
//! everything, wrapped to its width, scrolled with up/down and the page keys, closed by esc.

use super::scroll;
use crate::app::{App, Focus};
use crate::format;
use crate::keymap::Command;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};
use trademon_protocol::{Level, SignalKind, StreamState, UpstreamStream};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Upper bound for the scroll position kept in `App` (the view clamps to the text).
pub const MAX_SCROLL: u16 = 10_000;
/// Widest popup: longer lines wrap, which reads better than a full-width block.
const MAX_WIDTH: u16 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Popup {
    pub title: String,
    pub body: String,
}

pub fn render(app: &App, popup: &Popup, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let w = area.width.saturating_sub(2).min(MAX_WIDTH);
    let inner_w = w.saturating_sub(2) as usize;
    let lines = wrap(&popup.body, inner_w);
    let h = (lines.len() as u16 + 2)
        .min(area.height.saturating_sub(2))
        .max(3);
    let rect = Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + (area.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    };
    let visible = h.saturating_sub(2) as usize;
    let first = (app.popup_scroll as usize).min(lines.len().saturating_sub(visible));
    let close = format!(" esc close · {} ", scroll_hint(app));
    let mut block = Block::bordered()
        .border_style(theme.title())
        .title(Span::styled(
            format!(
                " {} ",
                format::fit_text(&popup.title, inner_w.saturating_sub(2))
            ),
            theme.title(),
        ))
        .title_bottom(Span::styled(close, theme.muted()));
    if let Some(note) = scroll::range_note(first, visible.min(lines.len()), lines.len()) {
        block = block.title_bottom(Line::styled(note, theme.muted()).right_aligned());
    }
    let shown: Vec<Line<'static>> = lines
        .into_iter()
        .skip(first)
        .take(visible)
        .map(Line::from)
        .collect();
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(shown).block(block), rect);
}

fn scroll_hint(app: &App) -> String {
    let up = app.keymap.keys_for(Command::Up);
    let down = app.keymap.keys_for(Command::Down);
    let first = |k: String| k.split(", ").next().unwrap_or("").to_string();
    format!("{}/{} scroll", first(up), first(down))
}

/// Word-wraps `text` to `width` columns; words longer than a line are split.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        let mut used = 0;
        for word in para.split(' ') {
            let ww = word.width();
            let sep = usize::from(used > 0);
            if used + sep + ww <= width {
                if sep == 1 {
                    line.push(' ');
                }
                line.push_str(word);
                used += sep + ww;
                continue;
            }
            if used > 0 {
                out.push(std::mem::take(&mut line));
                used = 0;
            }
            for ch in word.chars() {
                let cw = ch.width().unwrap_or(0);
                if used + cw > width {
                    out.push(std::mem::take(&mut line));
                    used = 0;
                }
                line.push(ch);
                used += cw;
            }
        }
        out.push(line);
    }
    out
}

/// The popup for the selected row of the focused list; `None` when that list is empty.
pub fn for_selection(app: &App) -> Option<Popup> {
    match app.focus {
        Focus::Watchlist => instance(app),
        Focus::Signals => signal(app),
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

fn instance(app: &App) -> Option<Popup> {
    let session = app.active_session()?;
    let sym = app.selected_symbol()?;
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

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_words_and_splits_long_ones() {
        assert_eq!(wrap("aaa bbb ccc", 7), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("one\n\ntwo", 10), vec!["one", "", "two"]);
    }
}
