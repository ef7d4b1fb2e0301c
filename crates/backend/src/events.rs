//! The recent-events ring behind the `events` stream.

use std::collections::VecDeque;
use trademon_protocol::LogEvent;

pub struct EventLog {
    max: usize,
    entries: VecDeque<LogEvent>,
}

impl EventLog {
    pub fn new(max: usize) -> Self {
        EventLog {
            max: max.max(1),
            entries: VecDeque::new(),
        }
    }

    /// Appends `ev`, or folds it into the newest entry when name and message repeat (so a
    /// flapping error is one line with a count, not a screenful). Returns the entry as stored,
    /// which is what the stream sends.
    pub fn push(&mut self, ev: LogEvent) -> LogEvent {
        if let Some(last) = self.entries.back_mut()
            && last.name == ev.name
            && last.message == ev.message
            && last.level == ev.level
        {
            last.count = last.count.saturating_add(ev.count.max(1));
            last.ts = ev.ts;
            return last.clone();
        }
        if self.entries.len() == self.max {
            self.entries.pop_front();
        }
        let stored = LogEvent {
            count: ev.count.max(1),
            ..ev
        };
        self.entries.push_back(stored.clone());
        stored
    }

    pub fn snapshot(&self) -> Vec<LogEvent> {
        self.entries.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trademon_protocol::Level;

    fn ev(name: &str, msg: &str, ts: i64) -> LogEvent {
        LogEvent {
            ts,
            level: Level::Warn,
            name: name.into(),
            message: msg.into(),
            count: 1,
        }
    }

    #[test]
    fn consecutive_repeats_aggregate_with_count() {
        let mut log = EventLog::new(3);
        log.push(ev("a", "x", 1));
        let agg = log.push(ev("a", "x", 2));
        assert_eq!((agg.count, agg.ts), (2, 2));
        log.push(ev("b", "y", 3));
        log.push(ev("a", "x", 4));
        let s = log.snapshot();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].count, 2);
        assert_eq!(s[2].count, 1);
    }

    #[test]
    fn ring_keeps_the_newest() {
        let mut log = EventLog::new(2);
        for i in 0..5 {
            log.push(ev("n", &i.to_string(), i));
        }
        let s = log.snapshot();
        assert_eq!(s.iter().map(|e| e.ts).collect::<Vec<_>>(), vec![3, 4]);
    }
}
