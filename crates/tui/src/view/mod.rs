//! The pure view: `view(&App, &mut Frame)` draws one frame from state and nothing else
//! (no IO, no clock), so every screen is reproducible in a snapshot test.
//!
//! Layout: an alert banner while one waits (1 line), header (1 line), health bar (1-2 lines), session summary (1 line), then the panels.
//! Wide and tall terminals show every panel at once (watchlist | state machines, indicators |
//! conditions, signals | positions, trades, events); smaller ones stack the watchlist, ONE detail panel
//! picked with `next_view` / `prev_view` (a tab line names it) and the events, shrinking the
//! detail and event panels before the watchlist. Below the minimum size one message says so
//! instead of a broken layout. The symbol view (`symbol`: chart, book, tape) and the upstream
//! view take the panels' place while open.

mod alert_banner;
mod book;
mod chart;
mod conditions;
mod control;
mod events;
mod grid;
mod header;
mod health_bar;
mod help;
mod indicators;
mod instances;
mod panel;
pub mod popup;
mod positions;
pub mod scroll;
mod signals;
mod store_detail;
mod summary;
pub mod symbol;
mod tape;
mod trades;
mod upstream;
mod watchlist;

use super::app::{App, DetailView};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;
/// From this width the engine panels can sit side by side.
const SIDE_BY_SIDE_WIDTH: u16 = 110;
/// Smallest event panel: borders plus two lines.
const EVENTS_MIN: u16 = 4;
/// Smallest useful table panel: borders, header and one row.
const TABLE_MIN: u16 = 4;
/// Rows the stacked layout keeps for the detail panel before the watchlist gets more.
const DETAIL_MIN: u16 = 7;
/// Smallest stacked watchlist: borders, header and three rows.
const WATCHLIST_MIN: u16 = 6;
/// The signal and position row, and the closed-trades row, of the full layout.
const TRADES_H: u16 = 8;
/// Width of the state-machine and condition panels beside the watchlist and indicators.
const SIDE_PANEL_W: u16 = 72;

pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    draw(app, frame, area);
    if let Some(p) = &app.popup {
        popup::render(app, p, frame, area);
    }
}

fn draw(app: &App, frame: &mut Frame, area: Rect) {
    // An alert waiting to be acknowledged takes the top line; everything else moves down.
    let area = match alert_banner::line(app, area.width as usize) {
        Some(banner) => {
            let [top, rest] =
                Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
            frame.render_widget(Paragraph::new(banner), top);
            rest
        }
        None => area,
    };
    let health = health_bar::lines(app, area.width as usize);
    let [top, health_area, summary_area, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(health.len() as u16),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(area);
    header::render(app, frame, top);
    frame.render_widget(Paragraph::new(health), health_area);
    frame.render_widget(
        Paragraph::new(summary::line(app, area.width as usize)),
        summary_area,
    );
    if app.symbol_view.is_some() {
        symbol::render(app, frame, body);
    } else if app.show_upstream {
        upstream::render(app, frame, body);
    } else {
        panels(app, frame, body);
    }
    if app.show_help() {
        help::render(app, frame, area);
    }
    if let Some(p) = app.popup() {
        popup::render(app, p, frame, area);
    }
    // The last command's status line, and a question, prompt or form over everything.
    control::render(app, frame, area);
}

fn panels(app: &App, frame: &mut Frame, body: Rect) {
    let rows = app.active_session().map_or(0, |s| s.symbols.len()).max(1) as u16;
    // Borders (2) + column header (1) + one line per symbol.
    let table_h = rows + 3;
    // Entry and exit conditions of the selected instance, at least six lines.
    let cond_h = (conditions_count(app).max(6) as u16 + 3).max(table_h);
    let full_h = table_h + cond_h + 2 * TRADES_H + EVENTS_MIN;
    if body.width >= SIDE_BY_SIDE_WIDTH && body.height >= full_h {
        full_layout(app, frame, body, table_h, cond_h);
    } else {
        stacked_layout(app, frame, body, table_h, cond_h);
    }
}

/// Everything at once: watchlist | state machines, indicators | conditions, signals |
/// positions, closed trades, events.
fn full_layout(app: &App, frame: &mut Frame, body: Rect, table_h: u16, cond_h: u16) {
    let [top, middle, trades, closed, events_area] = Layout::vertical([
        Constraint::Length(table_h),
        Constraint::Length(cond_h),
        Constraint::Length(TRADES_H),
        Constraint::Length(TRADES_H),
        Constraint::Fill(1),
    ])
    .areas(body);
    let side = |r: Rect| {
        let w = (body.width / 2).clamp(44, SIDE_PANEL_W);
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(w)]).areas::<2>(r)
    };
    let [wl, inst] = side(top);
    watchlist::render(app, frame, wl, false);
    instances::render(app, frame, inst);
    let [ind, cond] = side(middle);
    indicators::render(app, frame, ind);
    conditions::render(app, frame, cond);
    let [sig, pos] = Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(trades);
    signals::render(app, frame, sig);
    positions::render(app, frame, pos);
    trades::render(app, frame, closed);
    events::render(app, frame, events_area);
}

/// Narrow or short terminals: the watchlist, one detail panel chosen with `next_view` /
/// `prev_view` (a tab line says which and how to switch), and the events.
fn stacked_layout(app: &App, frame: &mut Frame, body: Rect, table_h: u16, cond_h: u16) {
    let (wl_h, detail_h) = stacked_heights(body.height, table_h, cond_h);
    let [wl, tabs, detail, events_area] = Layout::vertical([
        Constraint::Length(wl_h),
        Constraint::Length(u16::from(detail_h > 0)),
        Constraint::Length(detail_h),
        Constraint::Fill(1),
    ])
    .areas(body);
    watchlist::render(app, frame, wl, detail_h == 0);
    if detail_h > 0 {
        frame.render_widget(Paragraph::new(tab_line(app, tabs.width as usize)), tabs);
        match app.detail {
            DetailView::Machines => instances::render(app, frame, detail),
            DetailView::Indicators => indicators::render(app, frame, detail),
            DetailView::Conditions => conditions::render(app, frame, detail),
            DetailView::Signals => signals::render(app, frame, detail),
            DetailView::Positions => positions::render(app, frame, detail),
            DetailView::Trades => trades::render(app, frame, detail),
        }
    }
    events::render(app, frame, events_area);
}

/// ` Machines │[Indicators]│ Conditions …  v/V switch`: the active view reversed AND bracketed.
/// The key hint shortens (first key of each command, then no word) to fit `width`.
fn tab_line(app: &App, width: usize) -> Line<'static> {
    let theme = &app.theme;
    let mut spans = vec![Span::raw(" ")];
    for (i, v) in DetailView::ALL.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled("│", theme.border()));
        }
        if v == app.detail {
            spans.push(Span::styled(format!("[{}]", v.title()), theme.active_tab()));
        } else {
            spans.push(Span::raw(format!(" {} ", v.title())));
        }
    }
    let next = app.keymap.keys_for(super::keymap::Command::NextView);
    let prev = app.keymap.keys_for(super::keymap::Command::PrevView);
    let first = |keys: &str| keys.split(", ").next().unwrap_or("").to_string();
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let hint = [
        format!("  {next} / {prev} switch"),
        format!("  {} / {} switch", first(&next), first(&prev)),
        format!("  {}/{}", first(&next), first(&prev)),
    ]
    .into_iter()
    .find(|h| used + h.chars().count() <= width);
    if let Some(h) = hint {
        spans.push(Span::styled(h, theme.muted()));
    }
    Line::from(spans)
}

fn conditions_count(app: &App) -> usize {
    let Some(s) = app.active_session() else {
        return 0;
    };
    let sym = app.selected_symbol().unwrap_or("");
    app.model
        .conditions
        .get(&s.id)
        .and_then(|m| m.get(sym))
        .map_or(0, |c| c.conditions.len())
}

/// Heights of the stacked watchlist and detail panel (plus its tab line) in a body of `h`
/// lines: the watchlist first (it is what traders watch), then the detail panel, with the
/// event panel keeping at least `EVENTS_MIN`. A detail panel too small to show one row is
/// left out and the watchlist shows the state as a column instead.
fn stacked_heights(h: u16, table_h: u16, detail_want: u16) -> (u16, u16) {
    let free = h.saturating_sub(EVENTS_MIN);
    // A long watchlist scrolls (its selection stays visible) so that the detail panel keeps a
    // few rows; the watchlist never goes below a header and three rows for it.
    let detail_min = detail_want.min(DETAIL_MIN);
    let wl = table_h
        .min(free.saturating_sub(detail_min + 1))
        .max(table_h.min(WATCHLIST_MIN))
        .min(free);
    // One line of the rest goes to the tab line.
    let detail = detail_want.min(free.saturating_sub(wl + 1));
    if detail < TABLE_MIN {
        (table_h.min(free), 0)
    } else {
        (wl, detail)
    }
}

fn too_small(frame: &mut Frame, area: Rect) {
    let msg = vec![
        Line::from(format!(
            "terminal too small: {}x{}",
            area.width, area.height
        )),
        Line::from(format!("need at least {MIN_WIDTH}x{MIN_HEIGHT}")),
    ];
    frame.render_widget(
        Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacked_panels_leave_room_for_events() {
        // 80x24 with 4 symbols: watchlist and a 9-line detail panel whole, events keep 4.
        assert_eq!(stacked_heights(20, 7, 9), (7, 8));
        assert_eq!(stacked_heights(21, 7, 9), (7, 9));
        // Many symbols: the watchlist scrolls to leave a detail panel, events >= 4.
        assert_eq!(stacked_heights(21, 12, 12), (9, 7));
        assert_eq!(stacked_heights(20, 23, 9), (8, 7));
        // Too little room: the detail panel goes, the watchlist stays.
        assert_eq!(stacked_heights(14, 13, 13), (10, 0));
    }
}
