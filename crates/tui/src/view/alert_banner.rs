//! The alert banner: one reversed line on top of the screen while an alert waits to be
//! acknowledged. `! 14:02:11 SIGNAL majors: BUY BTC_USDT entry …  (+2 more) A ack`: a marker
//! and the kind in words, so it reads without colour; the alert's own time, so its text says
//! when it was true.

use crate::app::App;
use crate::format::fit_text;
use crate::keymap::Command;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

/// The banner line for `width` columns, or `None` when no alert waits.
pub fn line(app: &App, width: usize) -> Option<Line<'static>> {
    let (alert, more) = app.alert_banner()?;
    let style = app.theme.warn().patch(app.theme.marker());
    let keys = app.keymap.keys_for(Command::Acknowledge);
    let key = keys.split(", ").next().unwrap_or("");
    let more = if more > 0 {
        format!(" (+{more} more)")
    } else {
        String::new()
    };
    let tail = if key.is_empty() {
        format!("{more} ")
    } else {
        format!("{more} {key} ack ")
    };
    let head = format!(" ! {} {} ", app.clock.time(alert.at_ms), alert.kind.label());
    let room = width.saturating_sub(head.width() + tail.width());
    let text = fit_text(&alert.text, room);
    let pad = room.saturating_sub(text.width());
    Some(Line::from(vec![Span::styled(
        format!("{head}{text}{}{tail}", " ".repeat(pad)),
        style,
    )]))
}
