//! State-machine overview: one instance per symbol of the active session, its state, how
//! long it has been in it and why (the reason of the last transition).

use super::grid::{self, Align, Col};
use crate::app::App;
use crate::format;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use unicode_width::UnicodeWidthStr;

pub fn render(app: &App, frame: &mut Frame, area: Rect) {
    let theme = &app.theme;
    let block = Block::bordered()
        .border_style(theme.border())
        .title(Span::styled(" State machines ", theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(session) = app.active_session() else {
        return;
    };
    let instances = app.model.instances.get(&session.id);
    // Session symbols first (in their order), then any instance the session list lacks.
    let mut symbols: Vec<&String> = session.symbols.iter().collect();
    if let Some(map) = instances {
        symbols.extend(map.keys().filter(|k| !session.symbols.contains(k)));
    }

    let sym_w = symbols
        .iter()
        .map(|s| s.width())
        .max()
        .unwrap_or(0)
        .clamp(6, 16);
    let state_w = instances
        .map(|m| m.values().map(|i| i.state.width()).max().unwrap_or(0))
        .unwrap_or(0)
        .clamp(10, 20);
    // The reason takes what is left; it is text, so a long one is cut with a visible `…`.
    let reason_w = (inner.width as usize).saturating_sub(sym_w + state_w + 8 + 3);
    let cols = [
        Col::new("Symbol", sym_w, Align::Left, 0),
        Col::new("State", state_w, Align::Left, 0),
        Col::new("In state", 8, Align::Right, 2),
        Col::new("Last reason", reason_w.max(12), Align::Left, 1),
    ];
    let keep = grid::fit_columns(&cols, inner.width as usize);
    let mut lines: Vec<Line<'static>> = vec![grid::header(&cols, &keep, theme.header())];
    let visible = (inner.height as usize).saturating_sub(1);
    // Follow the watchlist selection so the selected instance is always on screen.
    let selected = app
        .selected_symbol()
        .and_then(|sel| symbols.iter().position(|s| s.as_str() == sel))
        .unwrap_or(0);
    let first = super::scroll::first_row(selected, symbols.len(), visible);
    for sym in symbols.iter().skip(first).take(visible) {
        let cells = match instances.and_then(|m| m.get(*sym)) {
            Some(i) => vec![
                Span::raw((*sym).clone()),
                Span::styled(i.state.clone(), Style::new()),
                Span::raw(format::age(app.now_ms - i.since_ms)),
                Span::styled(i.last_reason.clone(), theme.muted()),
            ],
            None => vec![
                Span::raw((*sym).clone()),
                Span::styled(format::MISSING, theme.muted()),
                Span::raw(format::MISSING),
                Span::raw(""),
            ],
        };
        // The selected instance (watchlist selection) is the one the condition panel shows.
        let style = if app.selected_symbol() == Some(sym.as_str()) {
            theme.selected()
        } else {
            Style::new()
        };
        lines.push(grid::row(&cols, &keep, grid::pick(cells, &keep), style));
    }
    let shown = lines.len() - 1;
    super::panel::bottom_left_note(
        app,
        frame,
        area,
        super::scroll::range_note(first, shown, symbols.len()),
    );
    frame.render_widget(Paragraph::new(lines), inner);
    super::panel::hidden_cols_note(app, frame, area, grid::hidden_note(&cols, &keep));
}
