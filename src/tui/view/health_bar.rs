//! The health bar (RC-4): link state as symbol + word + colour, RTT, age of the newest data of
//! the active session, MEXC state, and while the link is not Live, why it went down.

use super::grid::flow;
use crate::client::link::LinkState;
use crate::protocol::{DataSource, Initiator, UpstreamState};
use crate::store::{StoreHealth, StoreState};
use crate::tui::app::{App, link_delivers};
use crate::tui::format;
use ratatui::text::{Line, Span};

/// Segments in priority order, flowed onto one line (two when narrow).
pub fn lines(app: &App, width: usize) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let link = app.link();
    let state = link.state;
    let mut segs: Vec<Vec<Span<'static>>> = Vec::new();

    let mut head = vec![Span::styled(
        format!(" {} {}", state.symbol(), state.word()),
        theme.link(state),
    )];
    let countdown = || match app.next_attempt_in_ms() {
        Some(ms) => format!(
            "attempt {}, next in {}",
            link.attempt,
            format::seconds_tenths(ms)
        ),
        None => format!("attempt {}", link.attempt),
    };
    match state {
        LinkState::Reconnecting => {
            head.push(Span::styled(format!(" {}", countdown()), theme.warn()))
        }
        LinkState::Slow => head.push(Span::styled(
            format!(" {} pongs missed", link.missed_pongs),
            theme.warn(),
        )),
        LinkState::Polling => head.push(Span::styled(" (data from REST snapshots)", theme.warn())),
        _ => {}
    }
    segs.push(head);

    // Right after the link state: a trader must see at a glance that the screen is recorded.
    if let Some(ms) = app.recording_elapsed_ms() {
        segs.push(vec![Span::styled(
            crate::tui::recording::rec_label(ms),
            theme.error(),
        )]);
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

    let mexc = match &app.model.health {
        None => Span::styled(format::MISSING, theme.muted()),
        Some(h) => {
            let up = &h.upstream;
            let word = match up.state {
                UpstreamState::Connecting => "connecting",
                UpstreamState::Live => "live",
                UpstreamState::Reconnecting => "reconnecting",
                UpstreamState::RestPolling => "REST polling",
                UpstreamState::Down => "DOWN",
            };
            let rest = if up.source == DataSource::Rest && up.state != UpstreamState::RestPolling {
                " REST"
            } else {
                ""
            };
            Span::styled(format!("{word}{rest}"), theme.upstream(up.state))
        }
    };
    segs.push(vec![Span::styled("MEXC ", theme.muted()), mexc]);

    // The QuestDB store, when the backend runs one: word first, then the spool backlog.
    if let Some(store) = app.model.health.as_ref().and_then(|h| h.store.as_ref())
        && let Some(seg) = store_segment(store, theme)
    {
        segs.push(seg);
    }

    if state != LinkState::Live {
        if let Some(c) = &link.last_close {
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
            segs.push(vec![
                Span::styled("closed ", theme.muted()),
                Span::raw(format!("{} ({who}){reason}", c.code)),
            ]);
        }
        if let Some((err, n)) = &link.last_error {
            let times = if *n > 1 {
                format!("×{n} ")
            } else {
                String::new()
            };
            segs.push(vec![
                Span::styled("error ", theme.muted()),
                Span::styled(format!("{times}{err}"), theme.error()),
            ]);
        }
    }

    flow(segs, width, 2)
}

/// `QDB ok`, `QDB ! degraded spool 12`, `QDB ✗ DOWN spool 1.2k`; nothing when disabled. The
/// word and marker carry the state, colour only repeats it.
fn store_segment(h: &StoreHealth, theme: &crate::tui::theme::Theme) -> Option<Vec<Span<'static>>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(seg: &[Span<'_>]) -> String {
        seg.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn store_segment_names_the_state_in_words() {
        let theme = crate::tui::theme::Theme::new(crate::tui::theme::Palette::None);
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
