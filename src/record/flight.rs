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
use crate::tui::App;
use std::collections::VecDeque;

/// Segment length: the granularity by which old data is dropped.
pub const SEGMENT_MS: u64 = 30_000;

struct Segment {
    start_ms: u64,
    state: Box<App>,
    /// Frames of draws before this seq belong to the previous segment.
    first_seq: u64,
    /// `(ms since the hub's origin, record body)`.
    events: Vec<(u64, String)>,
    /// `(us since the hub's origin, code, JSON data)`.
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
