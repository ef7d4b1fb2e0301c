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
}
