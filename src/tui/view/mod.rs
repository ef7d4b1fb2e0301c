//! The pure view: `view(&App, &mut Frame)` draws one frame from state and nothing else
//! (no IO, no clock), so every screen is reproducible in a snapshot test.
//!
//! Layout: header (1 line), health bar (1-2 lines), then the panels. Wide terminals put the
//! watchlist and the state machines side by side; narrow ones stack them and shrink the
//! state-machine and event panels before the watchlist. Below the minimum size one message
//! says so instead of a broken layout.

mod events;
mod grid;
mod header;
mod health_bar;
mod help;
mod instances;
mod upstream;
mod watchlist;

use super::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;
/// From this width the watchlist and the state machines sit side by side.
const SIDE_BY_SIDE_WIDTH: u16 = 110;
/// Smallest event panel: borders plus two lines.
const EVENTS_MIN: u16 = 4;
/// Smallest useful table panel: borders, header and one row.
const TABLE_MIN: u16 = 4;

pub fn view(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    let health = health_bar::lines(app, area.width as usize);
    let [top, health_area, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(health.len() as u16),
        Constraint::Fill(1),
    ])
    .areas(area);
    header::render(app, frame, top);
    frame.render_widget(Paragraph::new(health), health_area);
    if app.show_upstream {
        upstream::render(app, frame, body);
        if app.show_help() {
            help::render(app, frame, area);
        }
        return;
    }

    let rows = app.active_session().map_or(0, |s| s.symbols.len()).max(1) as u16;
    // Borders (2) + column header (1) + one line per symbol.
    let table_h = rows + 3;
    if body.width >= SIDE_BY_SIDE_WIDTH {
        let top_h = table_h.min(body.height.saturating_sub(EVENTS_MIN));
        let [tables, events_area] =
            Layout::vertical([Constraint::Length(top_h), Constraint::Fill(1)]).areas(body);
        // The state-machine panel needs about 40 columns; the watchlist takes the rest.
        let [wl, inst] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(44)]).areas(tables);
        watchlist::render(app, frame, wl, false);
        instances::render(app, frame, inst);
        events::render(app, frame, events_area);
    } else {
        let (wl_h, inst_h) = stacked_heights(body.height, table_h);
        let [wl, inst, events_area] = Layout::vertical([
            Constraint::Length(wl_h),
            Constraint::Length(inst_h),
            Constraint::Fill(1),
        ])
        .areas(body);
        watchlist::render(app, frame, wl, inst_h == 0);
        if inst_h > 0 {
            instances::render(app, frame, inst);
        }
        events::render(app, frame, events_area);
    }

    if app.show_help() {
        help::render(app, frame, area);
    }
}

/// Heights of the stacked watchlist and state-machine panels in a body of `h` lines: the
/// watchlist first (it is what traders watch), then the state machines, with the event panel
/// keeping at least `EVENTS_MIN`. A state-machine panel too small to show one row is left out
/// and the watchlist shows the state as a column instead.
fn stacked_heights(h: u16, table_h: u16) -> (u16, u16) {
    let free = h.saturating_sub(EVENTS_MIN);
    let wl = table_h.min(free);
    let inst = table_h.min(free - wl);
    if inst < TABLE_MIN {
        (wl, 0)
    } else {
        (wl, inst)
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
        // 80x24 with 4 symbols: both tables whole, events keep the rest.
        assert_eq!(stacked_heights(21, 7), (7, 7));
        // Many symbols: the watchlist shrinks to leave a state-machine panel, events >= 4.
        assert_eq!(stacked_heights(21, 13), (13, 4));
        // Too little room: the state machines go, the watchlist stays.
        assert_eq!(stacked_heights(14, 13), (10, 0));
    }
}
