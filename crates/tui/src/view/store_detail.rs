//! The QuestDB writer's health in the upstream detail view: state in words, spool size
//! and age, write rate, drops and quarantines, the last error, and every schema problem by
//! table and column (e.g. `signals.side: column missing`). The health bar only has room for
//! the state and the spool count.

use crate::format;
use crate::theme::Theme;
use ratatui::text::{Line, Span};
use trademon_protocol::{StoreHealth, StoreState};

pub fn lines(h: &StoreHealth, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let (word, style) = match h.state {
        StoreState::Ok => ("ok", theme.up()),
        StoreState::Degraded => ("DEGRADED", theme.warn()),
        StoreState::Down => ("DOWN", theme.error()),
        StoreState::Disabled => ("off", theme.muted()),
    };
    let spool = if h.rows_spooled == 0 {
        "spool empty".to_string()
    } else {
        format!(
            "spool {} rows, oldest {}",
            h.rows_spooled,
            format::age(i64::try_from(h.oldest_spooled_age_ms).unwrap_or(i64::MAX))
        )
    };
    let rest = format!(
        " · {spool} · {:.0} rows/s · dropped {} · quarantined {}",
        h.rows_written_per_s, h.dropped, h.quarantined
    );
    let head = format!("QuestDB {word}");
    let mut out = vec![Line::from(vec![
        Span::styled(head.clone(), style),
        Span::raw(format::fit_text(
            &rest,
            width.saturating_sub(head.chars().count()),
        )),
    ])];
    if let Some(e) = &h.last_error {
        // The writer keeps its last error after it recovers: say it is history, not now.
        let (label, style) = match h.state {
            StoreState::Ok => ("earlier error (recovered)", theme.muted()),
            _ => ("last error", theme.warn()),
        };
        out.push(Line::styled(
            format::fit_text(&format!("  {label}: {e}"), width),
            style,
        ));
    }
    for p in &h.schema_problems {
        out.push(Line::styled(
            format::fit_text(&format!("  schema: {p} (rows held in the spool)"), width),
            theme.error(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Theme {
        Theme::new(crate::theme::Palette::None)
    }

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn down_store_names_spool_error_and_missing_column() {
        let mut h = StoreHealth::disabled();
        h.state = StoreState::Down;
        h.rows_spooled = 1234;
        h.oldest_spooled_age_ms = 62_000;
        h.last_error = Some("Could not flush buffer: connection refused".into());
        h.schema_problems = vec!["signals.side: column missing".into()];
        let got = text(&lines(&h, &plain(), 120));
        assert!(
            got[0].starts_with("QuestDB DOWN · spool 1234 rows, oldest 1m"),
            "{got:?}"
        );
        assert!(got[1].contains("connection refused"), "{got:?}");
        assert!(got[2].contains("signals.side: column missing"), "{got:?}");
    }

    #[test]
    fn healthy_store_fits_80_columns_and_calls_a_past_error_recovered() {
        let mut h = StoreHealth::disabled();
        h.state = StoreState::Ok;
        h.rows_written_per_s = 850.0;
        let got = text(&lines(&h, &plain(), 78));
        assert_eq!(got.len(), 1);
        assert!(
            got[0].starts_with("QuestDB ok · spool empty · 850 rows/s"),
            "{got:?}"
        );
        assert!(got[0].chars().count() <= 78);
        h.last_error = Some("connection refused".into());
        let got = text(&lines(&h, &plain(), 78));
        assert_eq!(got[1], "  earlier error (recovered): connection refused");
    }
}
