//! Full-jitter exponential backoff (AWS "Exponential Backoff And Jitter"):
//! `delay = random(0, min(cap, base * 2^attempt))`, reset only after a stable period so a
//! server that accepts and then drops at once cannot cause a fast loop.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    stable_after: Duration,
    attempt: u32,
    rng: fastrand::Rng,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration, stable_after: Duration) -> Self {
        Backoff::with_rng(base, cap, stable_after, fastrand::Rng::new())
    }

    /// Seeded, for tests.
    pub fn with_rng(
        base: Duration,
        cap: Duration,
        stable_after: Duration,
        rng: fastrand::Rng,
    ) -> Self {
        Backoff {
            base,
            cap: cap.max(base),
            stable_after,
            attempt: 0,
            rng,
        }
    }

    /// Failures since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The ceiling the next delay is drawn under.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Delay before the next attempt; counts one more failure.
    pub fn next_delay(&mut self) -> Duration {
        self.next_delay_within(self.cap)
    }

    /// Like `next_delay`, drawn under at most `cap`: for a peer known to be back soon.
    pub fn next_delay_within(&mut self, cap: Duration) -> Duration {
        let ceiling = self.ceiling().min(cap);
        self.attempt = self.attempt.saturating_add(1);
        let ms = ceiling.as_millis().min(u128::from(u64::MAX)) as u64;
        Duration::from_millis(self.rng.u64(0..=ms))
    }

    /// Call when a connection ends: the counter resets only if it had been up long enough.
    pub fn connection_ended(&mut self, was_up_for: Duration) {
        if was_up_for >= self.stable_after {
            self.attempt = 0;
        }
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn delays_stay_under_a_doubling_capped_ceiling() {
        let mut b = Backoff::with_rng(ms(250), ms(15_000), ms(30_000), fastrand::Rng::with_seed(1));
        let ceilings: Vec<u64> = (0..10)
            .map(|_| {
                let c = b.ceiling();
                let d = b.next_delay();
                assert!(d <= c, "{d:?} above {c:?}");
                c.as_millis() as u64
            })
            .collect();
        assert_eq!(&ceilings[..7], &[250, 500, 1000, 2000, 4000, 8000, 15_000]);
        assert!(ceilings[7..].iter().all(|&c| c == 15_000));
    }

    #[test]
    fn jitter_spreads_delays() {
        let mut b = Backoff::with_rng(
            ms(1000),
            ms(60_000),
            ms(30_000),
            fastrand::Rng::with_seed(2),
        );
        for _ in 0..6 {
            b.next_delay();
        }
        let samples: Vec<Duration> = (0..20)
            .map(|_| {
                let mut c = b.clone();
                c.rng = fastrand::Rng::with_seed(fastrand::u64(..));
                c.next_delay()
            })
            .collect();
        let distinct: std::collections::BTreeSet<_> = samples.iter().collect();
        assert!(
            distinct.len() > 10,
            "full jitter should not repeat: {samples:?}"
        );
    }

    #[test]
    fn a_capped_delay_stays_jittered_under_the_cap_and_still_counts() {
        let mut b = Backoff::with_rng(ms(250), ms(15_000), ms(30_000), fastrand::Rng::with_seed(4));
        let delays: Vec<Duration> = (0..30).map(|_| b.next_delay_within(ms(500))).collect();
        assert!(delays.iter().all(|d| *d <= ms(500)), "{delays:?}");
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 10, "jitter kept under the cap: {delays:?}");
        assert_eq!(b.attempt(), 30);
        assert_eq!(
            b.ceiling(),
            ms(15_000),
            "the uncapped ladder went on climbing"
        );
    }

    #[test]
    fn resets_only_after_a_stable_connection() {
        let mut b = Backoff::with_rng(ms(100), ms(5000), ms(30_000), fastrand::Rng::with_seed(3));
        b.next_delay();
        b.next_delay();
        b.connection_ended(ms(500));
        assert_eq!(
            b.attempt(),
            2,
            "a flapping server must not reset the backoff"
        );
        b.connection_ended(ms(30_000));
        assert_eq!(b.attempt(), 0);
    }
}
