//! The flight recorder: an always-on ring of the last `record.flight_minutes` of events and
//! frames, so a bug report can show what happened *before* anyone thought of recording.
//!
//! The ring is a queue of segments of about `SEGMENT_MS`. Each segment starts with a state
//! keyframe (a clone of the `App`, serialized only if a bundle is written) and its first
//! frame is a screen keyframe, so dropping the oldest segment leaves a ring that still
//! replays and plays from its new start. Memory is bounded by time and by bytes.

use super::bundle::BundleFiles;
use super::cast::{self, Header};
use super::events::{self, AppState, Record};
use super::manifest::Context;
use crate::App;
use std::collections::VecDeque;

/// Segment length: the granularity by which old data is dropped.
pub const SEGMENT_MS: u64 = 30_000;

struct Segment {
    start_ms: u64,
    state: Box<App>,
    /// Frames of draws before this seq belong to the previous segment.
    first_seq: u64,
    /// `(ms since the tap's origin, record body)`.
    events: Vec<(u64, String)>,
    /// `(us since the tap's origin, code, JSON data)`.
    cast: Vec<(u64, char, String)>,
    bytes: usize,
}

pub struct FlightRing {
    window_ms: u64,
    max_bytes: usize,
    segments: VecDeque<Segment>,
    bytes: usize,
}

impl FlightRing {
    pub fn new(minutes: u64, max_mb: u64) -> FlightRing {
        FlightRing {
            window_ms: minutes * 60_000,
            max_bytes: (max_mb as usize).saturating_mul(1 << 20),
            segments: VecDeque::new(),
            bytes: 0,
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether a new segment (and so a keyframe) is due.
    pub fn wants_segment(&self, now_ms: u64) -> bool {
        match self.segments.back() {
            None => true,
            Some(s) => {
                now_ms.saturating_sub(s.start_ms) >= SEGMENT_MS || s.bytes >= self.max_bytes / 4
            }
        }
    }

    pub fn start_segment(&mut self, now_ms: u64, state: Box<App>, first_seq: u64) {
        self.segments.push_back(Segment {
            start_ms: now_ms,
            state,
            first_seq,
            events: Vec::new(),
            cast: Vec::new(),
            bytes: 0,
        });
        self.evict(now_ms);
    }

    pub fn push_event(&mut self, t_ms: u64, body: &str) {
        if let Some(s) = self.segments.back_mut() {
            s.bytes += body.len();
            self.bytes += body.len();
            s.events.push((t_ms, body.to_string()));
        }
    }

    /// A cast event of draw `seq` (resizes pass the newest seq).
    pub fn push_cast(&mut self, seq: u64, t_us: u64, code: char, data_json: String) {
        let Some(s) = self.segments.iter_mut().rev().find(|s| s.first_seq <= seq) else {
            // Its segment was dropped already.
            return;
        };
        s.bytes += data_json.len();
        self.bytes += data_json.len();
        s.cast.push((t_us, code, data_json));
    }

    /// Drop segments that are wholly older than the window, then the oldest while over the
    /// byte cap; the newest one always stays.
    fn evict(&mut self, now_ms: u64) {
        let horizon = now_ms.saturating_sub(self.window_ms);
        while self.segments.len() > 1 {
            let next_start = self.segments[1].start_ms;
            if next_start <= horizon || self.bytes > self.max_bytes {
                if let Some(old) = self.segments.pop_front() {
                    self.bytes -= old.bytes;
                }
            } else {
                break;
            }
        }
    }

    /// The ring as a bundle, times counted from its oldest segment. `None` when empty.
    pub fn bundle(&self, ctx: &Context, origin_unix_ms: i64) -> Option<BundleFiles> {
        let first = self.segments.front()?;
        let base_ms = first.start_ms;
        let base_us = base_ms * 1000;
        let size = first.state.size;
        let start_unix = origin_unix_ms + base_ms as i64;
        let mut manifest = ctx.manifest("flight", size, start_unix);
        manifest.note = Some(
            "flight recorder: the last minutes before the bug report, starting from a state \
             keyframe"
                .into(),
        );
        let header = Header::new(size, start_unix, &ctx.term, &ctx.shell);

        let mut cast = header.line();
        cast.push('\n');
        let mut events = String::new();
        let start = Record::Start {
            now_ms: first.state.now_ms,
            size,
            state: Box::new(AppState::of(&first.state)),
        };
        events.push_str(&events::with_time(
            0,
            &ctx_scrub(ctx, &events::body(&start)),
        ));
        events.push('\n');
        let mut frames = 0;
        for s in &self.segments {
            for (t, body) in &s.events {
                events.push_str(&events::with_time(t.saturating_sub(base_ms), body));
                events.push('\n');
            }
            for (t, code, data) in &s.cast {
                frames += u64::from(*code == 'o');
                cast.push_str(&cast::event_line(t.saturating_sub(base_us), *code, data));
                cast.push('\n');
            }
        }
        manifest.frames = Some(frames);
        let manifest = serde_json::to_string_pretty(&manifest).ok()?;
        Some(BundleFiles {
            manifest,
            cast,
            events,
        })
    }
}

/// The state keyframe is serialized here, at dump time: scrub it like every other record.
fn ctx_scrub(ctx: &Context, body: &str) -> String {
    ctx.redactor.scrub(body).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keymap::Keymap;
    use crate::record::Redactor;
    use crate::settings::default_tui;
    use crate::theme::{Palette, Theme};
    use trademon_client::link::LinkStatus;

    fn app() -> Box<App> {
        let tui = default_tui();
        let keymap = Keymap::from_config(&tui.keys).unwrap();
        Box::new(App::new(
            &tui,
            keymap,
            Theme::new(Palette::None),
            LinkStatus::new(""),
            (80, 24),
            0,
        ))
    }

    #[test]
    fn old_segments_go_by_time_and_by_bytes() {
        let mut r = FlightRing::new(1, 1);
        r.start_segment(0, app(), 0);
        r.push_event(10, "{\"k\":\"end\"}");
        r.start_segment(SEGMENT_MS, app(), 1);
        r.start_segment(2 * SEGMENT_MS, app(), 2);
        // The second segment starts exactly one minute before the newest start + 30 s.
        r.start_segment(3 * SEGMENT_MS, app(), 3);
        assert_eq!(r.segments.front().map(|s| s.start_ms), Some(SEGMENT_MS));
        // Over the byte cap, only the newest stays.
        r.push_cast(3, 3 * SEGMENT_MS * 1000, 'o', "x".repeat(2 << 20));
        r.start_segment(3 * SEGMENT_MS + 1, app(), 4);
        assert_eq!(r.segments.len(), 1);
        assert!(r.bytes() < 1 << 20);
    }

    #[test]
    fn bundle_starts_with_the_state_keyframe_and_rebased_times() {
        let mut r = FlightRing::new(5, 8);
        r.start_segment(1_000, app(), 7);
        r.push_event(1_500, "{\"k\":\"tick\",\"now_ms\":1}");
        r.push_cast(6, 1_600_000, 'o', "\"old frame\"".into());
        r.push_cast(7, 1_700_000, 'o', "\"keyframe\"".into());
        let ctx = Context::from_env("", Palette::None, &Redactor::default());
        let b = r.bundle(&ctx, 0).unwrap();
        let first = b.events.lines().next().unwrap();
        assert!(first.starts_with("{\"t\":0,\"k\":\"start\""), "{first}");
        assert!(
            b.events.contains("{\"t\":500,\"k\":\"tick\""),
            "{}",
            b.events
        );
        // The frame of a draw before the segment is not in it; times count from its start.
        assert!(!b.cast.contains("old frame"));
        assert!(
            b.cast.contains("[0.700000, \"o\", \"keyframe\"]"),
            "{}",
            b.cast
        );
    }
}
