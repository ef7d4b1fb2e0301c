//! Backend-wide accounting of what the per-client outbound queues hold.
//!
//! Every `ClientQueue` reports its byte changes here, so "memory never grows without bound"
//! can be checked from the backend's own numbers (tests, `trademon bench load`) instead of
//! process RSS, which allocator caching and the test's own clients blur. Atomics, not a lock:
//! the hub pushes one message to every subscriber, and the meter must cost it next to nothing.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[derive(Debug, Default)]
pub struct QueueMeter {
    /// Bytes held by every client queue now (ordered FIFO + conflated slots).
    queued_bytes: AtomicUsize,
    peak_queued_bytes: AtomicUsize,
    /// The deepest any one client's ordered FIFO has been, in messages and in bytes.
    peak_client_fifo_msgs: AtomicUsize,
    peak_client_fifo_bytes: AtomicUsize,
    /// Clients closed 4008 because their ordered FIFO overflowed.
    overflow_closes: AtomicU64,
}

/// A reading of the meter (`BackendHandle::queue_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub queued_bytes: usize,
    pub peak_queued_bytes: usize,
    pub peak_client_fifo_msgs: usize,
    pub peak_client_fifo_bytes: usize,
    pub overflow_closes: u64,
}

impl QueueMeter {
    /// One queue went from holding `before` bytes to holding `after`.
    pub fn changed(&self, before: usize, after: usize) {
        if after >= before {
            let now = self
                .queued_bytes
                .fetch_add(after - before, Ordering::Relaxed)
                + (after - before);
            self.peak_queued_bytes.fetch_max(now, Ordering::Relaxed);
        } else {
            self.queued_bytes
                .fetch_sub(before - after, Ordering::Relaxed);
        }
    }

    /// One client's ordered FIFO now holds `msgs` messages of `bytes` bytes.
    pub fn fifo_depth(&self, msgs: usize, bytes: usize) {
        self.peak_client_fifo_msgs
            .fetch_max(msgs, Ordering::Relaxed);
        self.peak_client_fifo_bytes
            .fetch_max(bytes, Ordering::Relaxed);
    }

    pub fn overflowed(&self) {
        self.overflow_closes.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> QueueStats {
        QueueStats {
            queued_bytes: self.queued_bytes.load(Ordering::Relaxed),
            peak_queued_bytes: self.peak_queued_bytes.load(Ordering::Relaxed),
            peak_client_fifo_msgs: self.peak_client_fifo_msgs.load(Ordering::Relaxed),
            peak_client_fifo_bytes: self.peak_client_fifo_bytes.load(Ordering::Relaxed),
            overflow_closes: self.overflow_closes.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_current_and_peak_bytes_across_queues() {
        let m = QueueMeter::default();
        m.changed(0, 100);
        m.changed(0, 50);
        m.changed(100, 10);
        let s = m.stats();
        assert_eq!((s.queued_bytes, s.peak_queued_bytes), (60, 150));
        m.fifo_depth(3, 300);
        m.fifo_depth(2, 500);
        m.overflowed();
        let s = m.stats();
        assert_eq!(
            (
                s.peak_client_fifo_msgs,
                s.peak_client_fifo_bytes,
                s.overflow_closes
            ),
            (3, 500, 1)
        );
    }
}
