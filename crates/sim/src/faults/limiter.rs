//! The REST rate limit MEXC applies per endpoint: 20 requests per 2 s window, then HTTP 200
//! `code 510` until the window ends ("the next 2 s window succeeds",
//! so fixed windows, not a sliding log).

use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

pub const REST_LIMIT: u32 = 20;
pub const REST_WINDOW: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub(crate) struct Limiter {
    windows: HashMap<String, (Instant, u32)>,
}

impl Limiter {
    /// Count a request to `endpoint`; false when it is over the limit.
    pub fn admit(&mut self, endpoint: &str, now: Instant) -> bool {
        let window = self.windows.entry(endpoint.to_string()).or_insert((now, 0));
        if now.duration_since(window.0) >= REST_WINDOW {
            *window = (now, 0);
        }
        window.1 = window.1.saturating_add(1);
        window.1 <= REST_LIMIT
    }

    pub fn clear(&mut self) {
        self.windows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_per_window_per_endpoint() {
        let mut l = Limiter::default();
        let t0 = Instant::now();
        for _ in 0..REST_LIMIT {
            assert!(l.admit("/a", t0));
        }
        assert!(!l.admit("/a", t0));
        assert!(l.admit("/b", t0), "endpoints are limited separately");
        assert!(!l.admit("/a", t0 + Duration::from_millis(1999)));
        assert!(l.admit("/a", t0 + REST_WINDOW));
    }
}
