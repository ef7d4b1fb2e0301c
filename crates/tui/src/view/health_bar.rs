//! The health bar. First the headline: one honest word for whether the data on screen
//! is live (the worst of the backend link, the backend's MEXC link and the rows' freshness, see
//! `tui::headline`) with the reason in words; then the mode badge (DEMO, REPLAY), REC, RTT, the
//! age of the newest data, the MEXC state (as last known, with its age, while the backend is
//! unreachable), QuestDB, and while the backend link is not Live why it went down.

use super::grid::flow;
use crate::app::App;
use crate::app::describe::{close_words, error_words, mode_badge, upstream_word};
use crate::format;
use crate::headline::link_delivers;
use crate::keymap::Command;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use trademon_client::link::LinkState;
use trademon_protocol::MarketSource;
use trademon_protocol::{StoreHealth, StoreState};
use unicode_width::UnicodeWidthStr;

/// Segments in priority order, flowed onto one line (two when narrow).
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let link = app.link();
    let state = link.state;
    let mut segs: Vec<Vec<Span<'static>>> = Vec::new();

    let countdown = || match app.next_attempt_in_ms() {
        Some(ms) => format!(
            "attempt {}, next in {}",
            link.attempt,
            format::seconds_tenths(ms)
        ),
        None => format!("attempt {}", link.attempt),
    };
    let extra = match state {
        LinkState::Reconnecting => format!(", {}", countdown()),
        _ => String::new(),
    };
    segs.push(head_segment(app, &extra, width));
    if state == LinkState::Slow {
        segs.push(vec![Span::styled(
            format!("{} pongs missed", link.missed_pongs),
            theme.warn(),
        )]);
    }

    // Right beside the headline: simulated or replayed data must never pass for live MEXC.
    if let Some(badge) = mode_badge(app) {
        segs.push(vec![Span::styled(format!(" {badge} "), theme.active_tab())]);
    }

    // Right after the headline: a trader must see at a glance that the screen is recorded.
    if let Some(ms) = app.recording_elapsed_ms() {
        segs.push(vec![Span::styled(rec_label(ms), theme.error())]);
    }

    // While polling or down, the WebSocket retries go on: say when the next one is.
    if matches!(state, LinkState::Polling | LinkState::Disconnected) && link.attempt > 0 {
        segs.push(vec![Span::styled(
            format!("ws {}", countdown()),
            theme.muted(),
        )]);
    }

    segs.push(vec![
        Span::styled("rtt ", theme.muted()),
        Span::raw(link.rtt_ms.map_or(format::MISSING.to_string(), format::rtt)),
    ]);

    let age = app
        .active_session()
        .and_then(|s| app.model.newest_data_age_ms(&s.id, app.now_ms));
    let mut data = vec![
        Span::styled("data ", theme.muted()),
        Span::raw(age.map_or(format::MISSING.to_string(), format::age)),
    ];
    if age.is_some() && !link_delivers(state) {
        data.push(Span::styled(" (last known)", theme.warn()));
    }
    segs.push(data);

    let market = app.market().unwrap_or_default();
    let label = match market {
        MarketSource::Mexc => "MEXC ",
        MarketSource::Simulator => "sim ",
    };
    let mut mexc = vec![Span::styled(label, theme.muted())];
    match &app.model.health {
        None => mexc.push(Span::styled(format::MISSING, theme.muted())),
        Some(h) => {
            let up = &h.upstream;
            mexc.push(Span::styled(
                upstream_word(up.state, up.source),
                theme.upstream(up.state),
            ));
            // The backend is not telling us anything now: this is what it said last.
            if !link_delivers(state) {
                let ago = format::age(app.health_age_ms().unwrap_or(0));
                mexc.push(Span::styled(
                    format!(" (last known {ago} ago)"),
                    theme.warn(),
                ));
            }
        }
    }
    segs.push(mexc);

    // The QuestDB store, when the backend runs one: word first, then the spool backlog.
    if let Some(store) = app.model.health.as_ref().and_then(|h| h.store.as_ref())
        && let Some(seg) = store_segment(store, theme)
    {
        segs.push(seg);
    }

    if state != LinkState::Live {
        if let Some(c) = &link.last_close {
            segs.push(vec![
                Span::styled("closed ", theme.muted()),
                Span::raw(close_words(c)),
            ]);
        }
        if let Some((err, n)) = &link.last_error {
            segs.push(vec![
                Span::styled("error ", theme.muted()),
                Span::styled(error_words(err, *n), theme.error()),
            ]);
        }
    }

    flow(segs, width, 2)
}

/// `● Live`, `◐ Degraded — MEXC REST fallback`, ... The reasons are cut to fit `width`, never
/// to nothing, and a cut says which key shows them whole.
fn head_segment(app: &App, extra: &str, width: usize) -> Vec<Span<'static>> {
    let theme = &app.theme;
    let h = app.headline();
    let style = theme.link(h.level.style_as());
    let head = format!(" {} {}", h.level.symbol(), h.word);
    let mut out = vec![Span::styled(head.clone(), style)];
    if !h.reasons.is_empty() {
        let reasons = format!(" — {}", h.reasons.join(", "));
        let room = width.saturating_sub(head.width() + extra.width());
        let text = if reasons.width() <= room {
            reasons
        } else {
            let key = app.keymap.keys_for(Command::Status);
            let hint = if key.is_empty() {
                String::new()
            } else {
                format!(" [{key}]")
            };
            // At least a few characters of the reason stay, whatever the width.
            let keep = room.saturating_sub(hint.width()).max(6);
            format!("{}{hint}", format::fit_text(&reasons, keep))
        };
        out.push(Span::styled(
            text,
            style.remove_modifier(Modifier::REVERSED),
        ));
    }
    if !extra.is_empty() {
        out.push(Span::styled(extra.to_string(), theme.warn()));
    }
    out
}

/// `QDB ok`, `QDB ! degraded spool 12`, `QDB ✗ DOWN spool 1.2k`; nothing when disabled. The
/// word and marker carry the state, colour only repeats it.
fn store_segment(h: &StoreHealth, theme: &crate::theme::Theme) -> Option<Vec<Span<'static>>> {
    let label = Span::styled("QDB ", theme.muted());
    let spool = || format!(" spool {}", spool_count(h.rows_spooled));
    let seg = match h.state {
        StoreState::Disabled => return None,
        StoreState::Ok => vec![label, Span::raw("ok")],
        StoreState::Degraded => vec![
            label,
            Span::styled(format!("! degraded{}", spool()), theme.warn()),
        ],
        StoreState::Down => vec![
            label,
            Span::styled(format!("✗ DOWN{}", spool()), theme.error()),
        ],
    };
    Some(seg)
}

/// `12`, `999`, `1.2k`, `3.4M`.
fn spool_count(n: u64) -> String {
    if n < 1000 {
        n.to_string()
    } else {
        format::compact(n as f64, 1)
    }
}

/// `REC mm:ss` (hours only when needed) for the health bar.
pub fn rec_label(elapsed_ms: i64) -> String {
    let s = elapsed_ms.max(0) / 1000;
    if s >= 3600 {
        format!("REC {}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("REC {:02}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(seg: &[Span<'_>]) -> String {
        seg.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn store_segment_names_the_state_in_words() {
        let theme = crate::theme::Theme::new(crate::theme::Palette::None);
        let mut h = StoreHealth::disabled();
        assert!(store_segment(&h, &theme).is_none());
        h.state = StoreState::Ok;
        assert_eq!(text(&store_segment(&h, &theme).unwrap()), "QDB ok");
        h.state = StoreState::Degraded;
        h.rows_spooled = 12;
        assert_eq!(
            text(&store_segment(&h, &theme).unwrap()),
            "QDB ! degraded spool 12"
        );
        h.state = StoreState::Down;
        h.rows_spooled = 1234;
        assert_eq!(
            text(&store_segment(&h, &theme).unwrap()),
            "QDB ✗ DOWN spool 1.2k"
        );
    }
}
