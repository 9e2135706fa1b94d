//! Streaming error statistics of a quantized value against its float
//! reference: a handful of sums per pair, updated one sample at a time, so
//! memory does not grow with the number of samples.

use serde::{Deserialize, Serialize};

/// Running sums of one (reference, measured) pair over every element of
/// every sample seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Sums {
    /// Elements compared.
    pub count: u64,
    /// Elements skipped because either side was NaN or infinite.
    pub non_finite: u64,
    /// Σ (measured − reference).
    pub sum_diff: f64,
    /// Σ (measured − reference)².
    pub sum_diff2: f64,
    /// Σ reference².
    pub sum_ref2: f64,
    /// Σ measured².
    pub sum_val2: f64,
    /// Σ reference · measured.
    pub sum_dot: f64,
    /// max |measured − reference|.
    pub max_abs: f64,
}

impl Sums {
    /// Add one sample: `reference` and `measured` element by element (the
    /// shorter length is used; callers check the lengths).
    pub fn add(&mut self, reference: &[f32], measured: &[f32]) {
        // Per-sample partial sums in f64, folded into the totals once.
        let mut s = Sums::default();
        for (&r, &m) in reference.iter().zip(measured) {
            if !(r.is_finite() && m.is_finite()) {
                s.non_finite = s.non_finite.saturating_add(1);
                continue;
            }
            let (r, m) = (f64::from(r), f64::from(m));
            let d = m - r;
            s.count = s.count.saturating_add(1);
            s.sum_diff += d;
            s.sum_diff2 += d * d;
            s.sum_ref2 += r * r;
            s.sum_val2 += m * m;
            s.sum_dot += r * m;
            s.max_abs = s.max_abs.max(d.abs());
        }
        self.merge(&s);
    }

    /// Fold another set of sums into this one.
    pub fn merge(&mut self, o: &Sums) {
        self.count = self.count.saturating_add(o.count);
        self.non_finite = self.non_finite.saturating_add(o.non_finite);
        self.sum_diff += o.sum_diff;
        self.sum_diff2 += o.sum_diff2;
        self.sum_ref2 += o.sum_ref2;
        self.sum_val2 += o.sum_val2;
        self.sum_dot += o.sum_dot;
        self.max_abs = self.max_abs.max(o.max_abs);
    }

    /// The metrics, or `None` when nothing was compared.
    pub fn metrics(&self, scale: Option<f32>) -> Option<Metrics> {
        if self.count == 0 {
            return None;
        }
        let n = self.count as f64;
        let mse = self.sum_diff2 / n;
        let rmse = mse.sqrt();
        let sqnr_db = if self.sum_diff2 == 0.0 {
            None
        } else if self.sum_ref2 == 0.0 {
            Some(f64::NEG_INFINITY)
        } else {
            Some(10.0 * (self.sum_ref2 / self.sum_diff2).log10())
        };
        let denom = (self.sum_ref2 * self.sum_val2).sqrt();
        let cosine = if denom > 0.0 {
            Some((self.sum_dot / denom).clamp(-1.0, 1.0))
        } else if self.sum_ref2 == 0.0 && self.sum_val2 == 0.0 {
            Some(1.0)
        } else {
            None
        };
        Some(Metrics {
            count: self.count,
            sqnr_db,
            rmse,
            rmse_over_scale: scale
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(|s| rmse / f64::from(s)),
            cosine,
            max_abs_error: self.max_abs,
            mean_error: self.sum_diff / n,
            mean_squared_error: mse,
            noise_to_signal: if self.sum_ref2 > 0.0 {
                Some(self.sum_diff2 / self.sum_ref2)
            } else {
                None
            },
        })
    }
}

/// Error metrics of a measured value against its float reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Elements compared (over all samples).
    pub count: u64,
    /// 10·log10(Σ reference² / Σ error²) in dB; `None` when the error is
    /// exactly zero (no noise), −∞ when the reference is all zeros.
    pub sqnr_db: Option<f64>,
    /// Root mean squared error.
    pub rmse: f64,
    /// RMSE divided by the quantized tensor's scale (QuantizationDebugger's
    /// measure: about 1/√12 ≈ 0.29 for a value off by plain rounding).
    pub rmse_over_scale: Option<f64>,
    /// Cosine similarity of the two as vectors over all samples.
    pub cosine: Option<f64>,
    /// Largest absolute error.
    pub max_abs_error: f64,
    /// Mean error (bias).
    pub mean_error: f64,
    /// Mean squared error.
    pub mean_squared_error: f64,
    /// Σ error² / Σ reference², the linear form of SQNR.
    pub noise_to_signal: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_have_no_noise() {
        let mut s = Sums::default();
        s.add(&[1.0, -2.0, 3.0], &[1.0, -2.0, 3.0]);
        let m = s.metrics(Some(0.5)).unwrap();
        assert_eq!(m.sqnr_db, None);
        assert_eq!(m.rmse, 0.0);
        assert_eq!(m.cosine, Some(1.0));
        assert_eq!(m.max_abs_error, 0.0);
    }

    #[test]
    fn sums_over_samples_equal_one_pass() {
        let r = [1.0f32, 2.0, -1.0, 0.5];
        let q = [1.1f32, 1.9, -1.0, 0.25];
        let mut once = Sums::default();
        once.add(&r, &q);
        let mut twice = Sums::default();
        twice.add(&r[..2], &q[..2]);
        twice.add(&r[2..], &q[2..]);
        assert_eq!(once.count, twice.count);
        assert!((once.sum_diff2 - twice.sum_diff2).abs() < 1e-12);
        let m = once.metrics(Some(0.1)).unwrap();
        let mse = (0.01 + 0.01 + 0.0 + 0.0625) / 4.0;
        assert!((m.mean_squared_error - mse).abs() < 1e-6);
        let sqnr = 10.0 * ((1.0 + 4.0 + 1.0 + 0.25) / (mse * 4.0)).log10();
        assert!((m.sqnr_db.unwrap() - sqnr).abs() < 1e-4);
        assert!((m.rmse_over_scale.unwrap() - mse.sqrt() / 0.1).abs() < 1e-4);
    }

    #[test]
    fn non_finite_values_are_counted_not_summed() {
        let mut s = Sums::default();
        s.add(&[1.0, f32::NAN], &[1.0, 2.0]);
        assert_eq!((s.count, s.non_finite), (1, 1));
    }
}
