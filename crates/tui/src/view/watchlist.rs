//! The watchlist: every symbol of the active session, with data or without.
//! Freshness is explicit: an age column, stale rows dimmed AND marked, `no data` for symbols
//! that never got a value, and a title that says when values are last known, not live.

use super::grid::{self, Align, Col};
use super::{panel, scroll};
use crate::app::watch::WatchSort;
use crate::app::{App, Focus, is_stale};
use crate::format;
use crate::headline::link_delivers;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use trademon_client::link::LinkState;
use trademon_protocol::DataSource;
use unicode_width::UnicodeWidthStr;

/// Price column: a 6-digit integer part with a decimal (`100000.1`) or 8 decimals
/// (`0.00001234`), fixed so the columns do not jump when BTC crosses 100 000. Wider prices
/// are shortened visibly by `format` (never cut).
const PRICE_W: usize = 10;
/// Index of the optional state column in `cols`.
const STATE_COL: usize = 8;
/// Sparkline widths that divide the hour evenly (1, 2, 3, 4, 5 minutes a cell); the widest
/// that fits is used, and below the narrowest the column is the first one left out.
const SPARK_WIDTHS: [usize; 5] = [60, 30, 20, 15, 12];

/// `with_state`: the state-machine panel did not fit, so its state column moves in here.
pub fn render(app: &App, frame: &mut Frame, area: Rect, with_state: bool) {
    let theme = &app.theme;
    let session = app.active_session();
    let name = session.map_or("no session", |s| s.name.as_str());
    let mut title = vec![Span::styled(
        panel::list_title(app, Focus::Watchlist, &format!("Watchlist {name}")),
        theme.title(),
    )];
    if app.watch_sort != WatchSort::default() {
        title.push(Span::styled(
            format!(" {} ", app.watch_sort.label()),
            theme.header(),
        ));
    }
    if app.filter_typing {
        // The cursor says keys go to the filter now.
        title.push(Span::styled(format!(" /{}▏ ", app.filter), theme.warn()));
    } else if !app.filter.is_empty() {
        title.push(Span::styled(format!(" /{} ", app.filter), theme.header()));
    }
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

    let sym_w = session
        .symbols
        .iter()
        .map(|s| s.width())
        .max()
        .unwrap_or(0)
        .clamp(6, 16);
    let mut cols = vec![
        Col::new("", 1, Align::Left, 0),
        Col::new("Symbol", sym_w, Align::Left, 0),
        Col::new("", 1, Align::Left, 0),
        Col::new("Last USDT", PRICE_W, Align::Right, 0),
        Col::new("Chg 24h", 8, Align::Right, 3),
        Col::new("Vol USDT", 8, Align::Right, 1),
        Col::new("Age", 4, Align::Right, 4),
        Col::new("Status", 7, Align::Left, 2),
        Col::new("State", if with_state { 12 } else { 0 }, Align::Left, 1),
    ];
    if !with_state {
        cols.truncate(STATE_COL);
    }
    // The sparkline takes the room the others leave, and goes first when there is none
    // (rightmost of the lowest priority).
    let others: usize = cols.iter().map(|c| c.width + grid::GAP).sum();
    let room = (inner.width as usize).saturating_sub(others);
    let spark_w = SPARK_WIDTHS
        .into_iter()
        .find(|w| *w <= room)
        .unwrap_or(SPARK_WIDTHS[SPARK_WIDTHS.len() - 1]);
    cols.push(Col::new("Price 1h", spark_w, Align::Left, 1));
    let spark_of = |sym: &str| {
        let line = app
            .sparks
            .get(&session.id, sym)
            .map(|s| s.sparkline(app.now_ms, spark_w))
            .unwrap_or_default();
        Span::raw(line)
    };
    let instances = app.model.instances.get(&session.id);
    let state_of = |sym: &str| {
        let state = instances
            .and_then(|m| m.get(sym))
            .map_or(format::MISSING, |i| i.state.as_str());
        Span::raw(state.to_string())
    };
    // Without the state column it is not there at all (not a hidden column).
    let cols = &cols[..];
    let keep = grid::fit_columns(cols, inner.width as usize);
    let w = |i: usize| cols[i].width;

    let mut lines = vec![grid::header(cols, &keep, theme.header())];
    let visible = (inner.height as usize).saturating_sub(1);
    let rows = app.watch_rows();
    // Scroll so the selected row stays on screen.
    let at = rows.iter().position(|i| *i == app.selected).unwrap_or(0);
    let first = scroll::first_row(at, rows.len(), visible);
    if rows.is_empty() && !session.symbols.is_empty() {
        lines.push(Line::styled("  no symbol matches", theme.muted()));
    }
    for &i in rows.iter().skip(first).take(visible) {
        let sym = &session.symbols[i];
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
                    Span::raw(""),
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
                    Some(c) => Span::styled(format::percent(c, w(4)), theme.by_sign(c)),
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
                        Span::raw(format::price_in(t.last, t.price_decimals, w(3))),
                        chg,
                        Span::raw(vol),
                        Span::raw(format::age(age)),
                        Span::raw(status),
                        state_of(sym),
                        spark_of(sym),
                    ],
                    if stale { theme.stale() } else { Style::new() },
                )
            }
        };
        let mut cells = cells;
        if !with_state {
            cells.remove(STATE_COL);
        }
        let row_style = if selected {
            row_style.patch(theme.selected())
        } else {
            row_style
        };
        lines.push(grid::row(cols, &keep, grid::pick(cells, &keep), row_style));
    }
    let shown = if rows.is_empty() { 0 } else { lines.len() - 1 };
    // Say that rows are scrolled off, or columns left out, rather than hiding them silently.
    panel::bottom_left_note(
        app,
        frame,
        area,
        scroll::range_note(first, shown, rows.len()),
    );
    panel::hidden_cols_note(app, frame, area, grid::hidden_note(cols, &keep));
    frame.render_widget(Paragraph::new(lines), inner);
}
