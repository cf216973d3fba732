//! Reliability of a confidence against what happened: ten equal-width bins, and the expected
//! calibration error.

/// Number of bins of the reliability diagram (width 0.1).
pub const BINS: usize = 10;

/// One bin: the suggestions whose confidence falls in `[lo, hi)` (the last bin includes 1).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bin {
    /// Lower bound of the bin.
    pub lo: f64,
    /// Upper bound of the bin.
    pub hi: f64,
    /// Suggestions in the bin.
    pub count: u64,
    /// Mean confidence of those suggestions (0 when the bin is empty).
    pub mean_confidence: f64,
    /// Share of them accepted (0 when the bin is empty).
    pub acceptance: f64,
}

/// Accumulates (confidence, accepted) pairs.
#[derive(Debug, Clone, Default)]
pub struct Reliability {
    count: [u64; BINS],
    confidence: [f64; BINS],
    accepted: [u64; BINS],
}

impl Reliability {
    /// Adds one suggestion. A confidence outside 0..=1 or not a number is ignored (returns
    /// `false`).
    pub fn add(&mut self, confidence: f64, accepted: bool) -> bool {
        if !(0.0..=1.0).contains(&confidence) {
            return false;
        }
        let b = ((confidence * BINS as f64) as usize).min(BINS - 1);
        self.count[b] += 1;
        self.confidence[b] += confidence;
        if accepted {
            self.accepted[b] += 1;
        }
        true
    }

    /// Suggestions added.
    pub fn total(&self) -> u64 {
        self.count.iter().sum()
    }

    /// All ten bins, empty ones included.
    pub fn bins(&self) -> Vec<Bin> {
        (0..BINS)
            .map(|b| {
                let n = self.count[b];
                let (mean_confidence, acceptance) = if n == 0 {
                    (0.0, 0.0)
                } else {
                    (
                        self.confidence[b] / n as f64,
                        self.accepted[b] as f64 / n as f64,
                    )
                };
                Bin {
                    lo: b as f64 / BINS as f64,
                    hi: (b + 1) as f64 / BINS as f64,
                    count: n,
                    mean_confidence,
                    acceptance,
                }
            })
            .collect()
    }

    /// Expected calibration error: Σ_b (n_b / N) · |acceptance_b − mean confidence_b|;
    /// `None` when nothing was added.
    pub fn ece(&self) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        Some(
            self.bins()
                .iter()
                .map(|b| b.count as f64 / total as f64 * (b.acceptance - b.mean_confidence).abs())
                .sum(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_and_ece_by_hand() {
        let mut r = Reliability::default();
        // Bin 0.9: 0.95 twice, one accepted: mean 0.95, acceptance 0.5, gap 0.45.
        assert!(r.add(0.95, true));
        assert!(r.add(0.95, false));
        // Bin 0.2: 0.2 twice, both refused: gap 0.2. 1.0 goes to the last bin.
        assert!(r.add(0.2, false));
        assert!(r.add(0.2, false));
        assert!(!r.add(1.5, true));
        assert!(!r.add(f64::NAN, true));
        let bins = r.bins();
        assert_eq!(bins.len(), 10);
        assert_eq!(bins[9].count, 2);
        assert!((bins[9].acceptance - 0.5).abs() < 1e-12);
        assert_eq!(bins[2].count, 2);
        assert_eq!(bins[2].acceptance, 0.0);
        // ECE = 2/4 · 0.45 + 2/4 · 0.2 = 0.325.
        assert!((r.ece().unwrap() - 0.325).abs() < 1e-12);
        r.add(1.0, true);
        assert_eq!(r.bins()[9].count, 3);
    }

    #[test]
    fn a_calibrated_confidence_has_no_error() {
        let mut r = Reliability::default();
        for i in 0..10 {
            r.add(0.8, i < 8);
        }
        assert!(r.ece().unwrap() < 1e-12);
        r.add(0.8, false);
        // 11 at 0.8, 8 accepted: |8/11 − 0.8| = 0.0727...
        assert!((r.ece().unwrap() - (0.8 - 8.0 / 11.0)).abs() < 1e-12);
        assert_eq!(Reliability::default().ece(), None);
    }
}
