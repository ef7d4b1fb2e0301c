//! Aggregation of repeated identical errors: the first occurrence is reported at once,
//! repeats are counted and reported as one entry with a count at most once per window, and
//! whatever is still counted goes out when the caller flushes (link back up, state change).
//!
//! Reports carry the count *since the previous report* with the same name and message, which is
//! what `ClientModel::push_event` adds up into a single event-panel line.

use std::time::Duration;
use tokio::time::Instant;
use trademon_protocol::{Level, LogEvent, now_ms};

/// Distinct errors remembered; the least recently seen is forgotten beyond this.
const MAX_KEYS: usize = 32;

#[derive(Debug, Clone)]
struct Entry {
    level: Level,
    name: String,
    message: String,
    /// Occurrences not reported yet.
    pending: u32,
    last_report: Instant,
    last_seen: Instant,
}

#[derive(Debug, Clone)]
pub struct Repeats {
    window: Duration,
    entries: Vec<Entry>,
}

impl Repeats {
    pub fn new(window: Duration) -> Self {
        Repeats {
            window,
            entries: Vec::new(),
        }
    }

    /// Counts one occurrence; returns a report when this one should be shown and logged.
    pub fn record(
        &mut self,
        level: Level,
        name: &str,
        message: &str,
        now: Instant,
    ) -> Option<LogEvent> {
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.name == name && e.message == message)
        {
            e.pending = e.pending.saturating_add(1);
            e.last_seen = now;
            e.level = e.level.max(level);
            if now.saturating_duration_since(e.last_report) >= self.window {
                return Some(take(e, now));
            }
            return None;
        }
        if self.entries.len() >= MAX_KEYS
            && let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(i, _)| i)
        {
            self.entries.swap_remove(oldest);
        }
        self.entries.push(Entry {
            level,
            name: name.to_string(),
            message: message.to_string(),
            pending: 0,
            last_report: now,
            last_seen: now,
        });
        Some(event(level, name, message, 1))
    }

    /// Reports every repeat counted but not reported yet.
    pub fn flush(&mut self, now: Instant) -> Vec<LogEvent> {
        self.entries
            .iter_mut()
            .filter(|e| e.pending > 0)
            .map(|e| take(e, now))
            .collect()
    }
}

fn take(e: &mut Entry, now: Instant) -> LogEvent {
    let count = std::mem::take(&mut e.pending);
    e.last_report = now;
    event(e.level, &e.name, &e.message, count)
}

pub fn event(level: Level, name: &str, message: &str, count: u32) -> LogEvent {
    LogEvent {
        ts: now_ms(),
        level,
        name: name.to_string(),
        message: message.to_string(),
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn first_is_reported_repeats_are_counted_and_flushed_once() {
        let t0 = Instant::now();
        let mut r = Repeats::new(ms(30_000));
        let first = r.record(Level::Warn, "link.connect_failed", "refused", t0);
        assert_eq!(first.map(|e| e.count), Some(1));
        for i in 1..20 {
            assert!(
                r.record(Level::Warn, "link.connect_failed", "refused", t0 + ms(i))
                    .is_none()
            );
        }
        let flushed = r.flush(t0 + ms(100));
        assert_eq!(flushed.len(), 1);
        assert_eq!(flushed[0].count, 19);
        assert!(r.flush(t0 + ms(200)).is_empty());
    }

    #[test]
    fn a_repeat_after_the_window_reports_the_running_count() {
        let t0 = Instant::now();
        let mut r = Repeats::new(ms(1000));
        r.record(Level::Warn, "a", "x", t0);
        r.record(Level::Warn, "a", "x", t0 + ms(10));
        let again = r.record(Level::Warn, "a", "x", t0 + ms(1000));
        assert_eq!(again.map(|e| e.count), Some(2));
    }

    #[test]
    fn distinct_errors_are_reported_separately() {
        let t0 = Instant::now();
        let mut r = Repeats::new(ms(30_000));
        assert!(r.record(Level::Warn, "a", "x", t0).is_some());
        assert!(r.record(Level::Warn, "a", "y", t0).is_some());
        assert!(r.record(Level::Warn, "b", "x", t0).is_some());
        assert!(r.record(Level::Warn, "a", "x", t0).is_none());
    }

    #[test]
    fn memory_is_bounded() {
        let t0 = Instant::now();
        let mut r = Repeats::new(ms(30_000));
        for i in 0..100u64 {
            r.record(Level::Warn, "a", &i.to_string(), t0 + ms(i));
        }
        assert!(r.entries.len() <= MAX_KEYS);
    }
}
