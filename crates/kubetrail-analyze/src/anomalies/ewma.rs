//! An exponentially weighted moving average of a series and of its variance.

/// EWMA of a value and of its variance, updated one bucket at a time (West's incremental form:
/// the variance of an exponentially weighted window, with no stored history).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Ewma {
    /// The weighted mean of the values seen (0 before any).
    pub mean: f64,
    /// The weighted variance of the values seen, in squared units of the value (0 before two).
    pub variance: f64,
    /// Buckets seen.
    pub n: u64,
}

impl Ewma {
    /// Adds one bucket's value with weight `alpha` (0 < alpha ≤ 1; higher forgets faster).
    pub fn update(&mut self, x: f64, alpha: f64) {
        let diff = x - self.mean;
        let incr = alpha * diff;
        self.mean += incr;
        self.variance = (1.0 - alpha) * (self.variance + diff * incr);
        self.n += 1;
    }

    /// The spread a new value is judged against: the learned standard deviation, but never
    /// below √mean (counts of independent events vary at least that much: Poisson) nor below 1
    /// (a quiet series must not make a single occurrence look extreme).
    pub fn sigma(&self) -> f64 {
        self.variance.sqrt().max(self.mean.sqrt()).max(1.0)
    }

    /// How many sigmas `x` is above the mean.
    pub fn score(&self, x: f64) -> f64 {
        (x - self.mean) / self.sigma()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_series_learns_its_level_and_little_spread() {
        let mut e = Ewma::default();
        for _ in 0..50 {
            e.update(10.0, 0.3);
        }
        assert!((e.mean - 10.0).abs() < 1e-3, "{e:?}");
        assert!(e.variance < 1e-3, "{e:?}");
        // Poisson floor: √10 ≈ 3.16.
        assert!((e.sigma() - 10f64.sqrt()).abs() < 1e-3);
        assert!(e.score(30.0) > 6.0);
        assert!(e.score(13.0) < 1.0);
    }

    #[test]
    fn a_noisy_series_learns_a_wide_spread() {
        let mut e = Ewma::default();
        for i in 0..100 {
            e.update(if i % 2 == 0 { 0.0 } else { 40.0 }, 0.2);
        }
        assert!((e.mean - 20.0).abs() < 5.0, "{e:?}");
        assert!(e.sigma() > 15.0, "{e:?}");
        assert!(e.score(40.0) < 2.0, "the usual high is not a spike");
    }

    #[test]
    fn a_silent_series_judges_against_one() {
        let mut e = Ewma::default();
        for _ in 0..10 {
            e.update(0.0, 0.3);
        }
        assert_eq!(e.sigma(), 1.0);
        assert_eq!(e.score(5.0), 5.0);
    }
}
