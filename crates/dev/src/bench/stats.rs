//! Small statistics helpers for the benchmark commands.

/// p50 / p99 / max of a sample set, in the samples' unit (ms here).
#[derive(Debug, Clone, PartialEq)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Percentiles {
    pub fn from_samples(mut v: Vec<f64>) -> Option<Percentiles> {
        v.retain(|x| x.is_finite());
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        Some(Percentiles {
            count: v.len(),
            p50: at(0.50),
            p99: at(0.99),
            max: v[v.len() - 1],
        })
    }
}

/// Counts of whole-millisecond samples in fixed memory, so a long soak's RSS figure measures
/// the application and not the benchmark's own sample list. Samples above the last bucket
/// count in it (the reported max is then a lower bound).
#[derive(Debug, Clone)]
pub struct MsHistogram {
    counts: Vec<u64>,
    total: u64,
}

impl MsHistogram {
    pub fn new(max_ms: usize) -> MsHistogram {
        MsHistogram {
            counts: vec![0; max_ms + 1],
            total: 0,
        }
    }

    pub fn record(&mut self, ms: i64) {
        let last = self.counts.len() - 1;
        let i = usize::try_from(ms.max(0)).unwrap_or(last).min(last);
        self.counts[i] += 1;
        self.total += 1;
    }

    /// Adds `other`'s counts (same bucket range; a shorter one adds into the first buckets).
    pub fn merge(&mut self, other: &MsHistogram) {
        let last = self.counts.len() - 1;
        for (ms, n) in other.counts.iter().enumerate() {
            self.counts[ms.min(last)] += n;
        }
        self.total += other.total;
    }

    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.total == 0 {
            return None;
        }
        // The same nearest-rank rule as `from_samples`.
        let at = |q: f64| {
            let rank = ((self.total - 1) as f64 * q).round() as u64;
            let mut seen = 0;
            for (ms, n) in self.counts.iter().enumerate() {
                seen += n;
                if seen > rank {
                    return ms as f64;
                }
            }
            (self.counts.len() - 1) as f64
        };
        Some(Percentiles {
            count: usize::try_from(self.total).unwrap_or(usize::MAX),
            p50: at(0.50),
            p99: at(0.99),
            max: at(1.0),
        })
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (n={})",
            self.p50, self.p99, self.max, self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_set() {
        let p = Percentiles::from_samples((1..=100).map(f64::from).collect()).unwrap();
        assert_eq!(p.p50, 51.0);
        assert_eq!(p.p99, 99.0);
        assert_eq!(p.max, 100.0);
        assert_eq!(Percentiles::from_samples(vec![f64::NAN]), None);
    }

    #[test]
    fn histogram_agrees_with_the_sorted_samples() {
        let samples: Vec<i64> = (0..1000).map(|i| (i * 7919) % 97).collect();
        let mut h = MsHistogram::new(60_000);
        samples.iter().for_each(|&s| h.record(s));
        let exact = Percentiles::from_samples(samples.iter().map(|&s| s as f64).collect());
        assert_eq!(h.percentiles(), exact);
        assert_eq!(MsHistogram::new(10).percentiles(), None);
    }

    #[test]
    fn merged_histograms_equal_one_fed_every_sample() {
        let (mut a, mut b, mut all) = (
            MsHistogram::new(100),
            MsHistogram::new(100),
            MsHistogram::new(100),
        );
        for s in [1, 5, 5, 90] {
            a.record(s);
            all.record(s);
        }
        for s in [2, 3, 200] {
            b.record(s);
            all.record(s);
        }
        a.merge(&b);
        assert_eq!(a.percentiles(), all.percentiles());
        assert_eq!(a.percentiles().map(|p| p.count), Some(7));
    }

    #[test]
    fn histogram_clamps_out_of_range_samples() {
        let mut h = MsHistogram::new(10);
        h.record(-5);
        h.record(1_000);
        h.record(3);
        let p = h.percentiles().unwrap();
        assert_eq!((p.p50, p.max, p.count), (3.0, 10.0, 3));
    }
}
