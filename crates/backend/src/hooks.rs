//! Switches that tests flip on a running backend to provoke failure modes on demand.
//!
//! They exist only with the `test-hooks` cargo feature, which the crate's dev-dependency on
//! itself turns on for its own tests and which a release build never has: there a switch
//! reads as off, always, and nothing can turn it on.

#[cfg(feature = "test-hooks")]
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;

/// Shared with every connection; read with `Ordering::Relaxed` (a flag, no data behind it).
#[derive(Debug, Default)]
pub struct TestHooks {
    /// Application `pong` replies are dropped while data keeps flowing: the client's
    /// "missed pong but traffic arrives" path (stay Slow, never reconnect) can be tested.
    pub hold_pongs: Switch,
    /// `GET /ws` answers 503 while REST keeps working: the client's polling fallback.
    pub refuse_upgrades: Switch,
}

/// One switch; off unless a test (with `test-hooks`) turns it on.
#[derive(Debug, Default)]
pub struct Switch {
    #[cfg(feature = "test-hooks")]
    on: AtomicBool,
}

impl Switch {
    #[cfg(feature = "test-hooks")]
    pub fn load(&self, order: Ordering) -> bool {
        self.on.load(order)
    }

    #[cfg(not(feature = "test-hooks"))]
    pub fn load(&self, _order: Ordering) -> bool {
        false
    }

    #[cfg(feature = "test-hooks")]
    pub fn store(&self, on: bool, order: Ordering) {
        self.on.store(on, order);
    }
}

#[cfg(feature = "test-hooks")]
impl super::BackendHandle {
    /// Aborts the hub task as a crash would end it, for the test that a dead hub stops
    /// `serve` with a logged cause (tests/supervision.rs).
    pub fn hub_abort_handle(&self) -> tokio::task::AbortHandle {
        self.hub_task.abort_handle()
    }
}
