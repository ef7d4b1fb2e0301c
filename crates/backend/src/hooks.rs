//! Switches that tests flip on a running backend to provoke failure modes on demand.

use std::sync::atomic::AtomicBool;

/// Shared with every connection; read with `Ordering::Relaxed` (a flag, no data behind it).
#[derive(Debug, Default)]
pub struct TestHooks {
    /// Application `pong` replies are dropped while data keeps flowing: the client's
    /// "missed pong but traffic arrives" path (stay Slow, never reconnect) can be tested.
    pub hold_pongs: AtomicBool,
    /// `GET /ws` answers 503 while REST keeps working: the client's polling fallback.
    pub refuse_upgrades: AtomicBool,
}
