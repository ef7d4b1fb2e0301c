//! The watchlist (SE-6): every symbol of the active session, with data or without.
//! Freshness is explicit: an age column, stale rows dimmed AND marked, `no data` for symbols
//! that never got a value, and a title that says when values are last known, not live.

use super::grid::{self, Align, Col};
use crate::client::link::LinkState;
use crate::protocol::DataSource;
use crate::tui::app::{App, is_stale, link_delivers};
use crate::tui::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use unicode_width::UnicodeWidthStr;

/// Widest price column we size for; beyond it prices are compacted (never cut).
const PRICE_MAX: usize = 14;
/// Index of the optional state column in `cols`.
const STATE_COL: usize = 8;

/// `with_state`: the state-machine panel did not fit, so its state column moves in here.
pub fn render(app: &App, frame: &mut Frame, area: Rect, with_state: bool) {
    let theme = &app.theme;
    let session = app.active_session();
    let name = session.map_or("no session", |s| s.name.as_str());
    let mut title = vec![Span::styled(format!(" Watchlist {name} "), theme.title())];
    let state = app.link().state;
    let has_data =
        session.is_some_and(|s| app.model.market.get(&s.id).is_some_and(|m| !m.is_empty()));
    if state == LinkState::Polling {
        title.push(Span::styled(" via REST polling ", theme.warn()));
    } else if !link_delivers(state) && has_data {
        title.push(Span::styled(" last known values ", theme.warn()));
    }
    let block = Block::bordered()
        .border_style(theme.border())
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let Some(session) = session else {
        let msg = Line::styled("waiting for the session list…", theme.muted());
        frame.render_widget(Paragraph::new(msg), inner);
        return;
    };
    let market = app.model.market.get(&session.id);
    let ticker = |sym: &str| market.and_then(|m| m.get(sym));

    // Size the price column to the widest price we have, so prices fit whole.
    let price_w = session
        .symbols
        .iter()
        .filter_map(|s| ticker(s))
        .map(|t| format::price(t.ticker.last, PRICE_MAX).len())
        .max()
        .unwrap_or(0)
        .clamp(6, PRICE_MAX);
    let sym_w = session
        .symbols
        .iter()
        .map(|s| s.width())
        .max()
        .unwrap_or(0)
        .clamp(6, 16);
    let cols = [
        Col::new("", 1, Align::Left, 0),
        Col::new("Symbol", sym_w, Align::Left, 0),
        Col::new("", 1, Align::Left, 0),
        Col::new("Last", price_w, Align::Right, 0),
        Col::new("Chg 24h", 8, Align::Right, 3),
        Col::new("Vol 24h", 7, Align::Right, 1),
        Col::new("Age", 4, Align::Right, 4),
        Col::new("Status", 7, Align::Left, 2),
        Col::new("State", if with_state { 12 } else { 0 }, Align::Left, 1),
    ];
    let instances = app.model.instances.get(&session.id);
    let state_of = |sym: &str| {
        let state = instances
            .and_then(|m| m.get(sym))
            .map_or(format::MISSING, |i| i.state.as_str());
        Span::raw(state.to_string())
    };
    let mut keep = grid::fit_columns(&cols, inner.width as usize);
    if !with_state {
        keep.retain(|&i| i != STATE_COL);
    }
    let w = |i: usize| cols[i].width;

    let mut lines = vec![grid::header(&cols, &keep, theme.header())];
    let visible = (inner.height as usize).saturating_sub(1);
    // Scroll so the selected row stays on screen.
    let first = app.selected.saturating_sub(visible.saturating_sub(1));
    for (i, sym) in session.symbols.iter().enumerate().skip(first).take(visible) {
        let selected = i == app.selected;
        let marker = Span::raw(if selected { ">" } else { " " });
        // A contract the exchange refuses: its reason in words instead of empty columns.
        if let Some(inst) = instances
            .and_then(|m| m.get(sym.as_str()))
            .filter(|i| i.state == "FAILED")
        {
            let reason = if inst.last_reason.is_empty() {
                "failed"
            } else {
                inst.last_reason.as_str()
            };
            let mut style = theme.error();
            if selected {
                style = style.patch(theme.selected());
            }
            // Same gap after the marker as the grid rows, so the symbol stays in its column.
            lines.push(Line::from(vec![
                marker,
                Span::raw(" "),
                Span::styled(format!("{sym:<sym_w$}  ✕ {reason}"), style),
            ]));
            continue;
        }
        let (cells, row_style) = match ticker(sym) {
            None => (
                vec![
                    marker,
                    Span::raw(sym.clone()),
                    Span::raw(" "),
                    Span::raw(format::MISSING),
                    Span::raw(format::MISSING),
                    Span::raw(format::MISSING),
                    Span::raw(format::MISSING),
                    Span::raw("no data"),
                    state_of(sym),
                ],
                theme.stale(),
            ),
            Some(tv) => {
                let t = &tv.ticker;
                let age = tv.age_ms(app.now_ms);
                let stale = is_stale(age, app.stale_after_ms);
                let arrow = match tv.prev_last {
                    Some(p) if t.last > p => Span::styled("▲", theme.up()),
                    Some(p) if t.last < p => Span::styled("▼", theme.down()),
                    _ => Span::raw(" "),
                };
                let chg = match t.change_pct {
                    Some(c) => Span::styled(
                        format::percent(c, w(4)),
                        if c > 0.0 {
                            theme.up()
                        } else if c < 0.0 {
                            theme.down()
                        } else {
                            Style::new()
                        },
                    ),
                    None => Span::raw(format::MISSING),
                };
                let vol = t
                    .volume_24h
                    .map_or(format::MISSING.to_string(), |v| format::volume(v, w(5)));
                let status = if stale {
                    "stale!"
                } else if t.source == DataSource::Rest {
                    // From the exchange's REST fallback: slower, say so.
                    "REST"
                } else {
                    ""
                };
                (
                    vec![
                        marker,
                        Span::raw(sym.clone()),
                        arrow,
                        Span::raw(format::price(t.last, w(3))),
                        chg,
                        Span::raw(vol),
                        Span::raw(format::age(age)),
                        Span::raw(status),
                        state_of(sym),
                    ],
                    if stale { theme.stale() } else { Style::new() },
                )
            }
        };
        let row_style = if selected {
            row_style.patch(theme.selected())
        } else {
            row_style
        };
        lines.push(grid::row(&cols, &keep, grid::pick(cells, &keep), row_style));
    }
    let hidden = session.symbols.len().saturating_sub(visible);
    if hidden > 0 && inner.height > 1 {
        // Say that rows are scrolled off rather than hiding them silently.
        let note = format!(
            " {}-{} of {} ",
            first + 1,
            (first + visible).min(session.symbols.len()),
            session.symbols.len()
        );
        let note_area = Rect {
            x: area.x + 2,
            y: area.bottom().saturating_sub(1),
            width: (note.len() as u16).min(area.width.saturating_sub(4)),
            height: 1,
        };
        frame.render_widget(Paragraph::new(Span::styled(note, theme.muted())), note_area);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
