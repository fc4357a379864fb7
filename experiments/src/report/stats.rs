//! Mean ± std over seeds, and Welch's unequal-variances t-test.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Mean, sample standard deviation and count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for a single value.
    pub std: f64,
    /// Number of values.
    pub n: usize,
}

impl Stats {
    /// The statistics of `values` (`None` when empty).
    pub fn of(values: &[f64]) -> Option<Stats> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(Stats {
            mean,
            std: var.sqrt(),
            n,
        })
    }
}

/// Two-sided p-value of Welch's unequal-variances t-test of `a` against `b`; `None` when either
/// has fewer than 2 values or both have zero variance.
pub fn welch_p(a: &[f64], b: &[f64]) -> Option<f64> {
    let (sa, sb) = (Stats::of(a)?, Stats::of(b)?);
    if sa.n < 2 || sb.n < 2 {
        return None;
    }
    let (va, vb) = (sa.std.powi(2) / sa.n as f64, sb.std.powi(2) / sb.n as f64);
    let se2 = va + vb;
    if se2 <= 0.0 {
        return None;
    }
    let t = (sa.mean - sb.mean) / se2.sqrt();
    // Welch–Satterthwaite degrees of freedom.
    let df = se2.powi(2) / (va.powi(2) / (sa.n - 1) as f64 + vb.powi(2) / (sb.n - 1) as f64);
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * (1.0 - dist.cdf(t.abs()))).clamp(0.0, 1.0))
}

/// Exponential moving average with bias correction (fastai's smoothed loss, β = 0.98).
pub fn smooth(values: &[f64]) -> Vec<f64> {
    let beta = 0.98;
    let mut avg = 0.0;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            avg = beta * avg + (1.0 - beta) * v;
            avg / (1.0 - beta.powi(i as i32 + 1))
        })
        .collect()
}

/// Mean and std per position over series (positions missing from some series use the others;
/// non-finite values are left out).
pub fn band(series: &[Vec<f64>]) -> Vec<(f64, f64, f64)> {
    let len = series.iter().map(Vec::len).max().unwrap_or(0);
    (0..len)
        .filter_map(|i| {
            let values: Vec<f64> = series
                .iter()
                .filter_map(|s| s.get(i).copied())
                .filter(|v| v.is_finite())
                .collect();
            Stats::of(&values).map(|s| (i as f64, s.mean, s.std))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoothing_is_debiased_and_bands_skip_missing_values() {
        // A constant series stays constant under the debiased EMA.
        assert!(smooth(&[2.0; 5]).iter().all(|v| (v - 2.0).abs() < 1e-12));
        let b = band(&[vec![1.0, 2.0, 5.0], vec![3.0, f64::NAN]]);
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].1, b[1].1, b[2].1), (2.0, 2.0, 5.0));
    }

    #[test]
    fn welch_matches_a_reference_value() {
        // t = -2.8947, df = 5.5208; p by numerical integration of the t density (Python): 0.0302862
        // (= scipy.stats.ttest_ind([1, 2, 3, 4], [3, 5, 7, 9, 11], equal_var=False).pvalue)
        let p = welch_p(&[1.0, 2.0, 3.0, 4.0], &[3.0, 5.0, 7.0, 9.0, 11.0]).unwrap();
        assert!((p - 0.030_286_2).abs() < 1e-5, "{p}");
        assert_eq!(welch_p(&[1.0], &[2.0, 3.0]), None);
        assert_eq!(welch_p(&[1.0, 1.0], &[2.0, 2.0]), None);
        let s = Stats::of(&[1.0, 2.0, 3.0]).unwrap();
        assert!((s.mean - 2.0).abs() < 1e-12 && (s.std - 1.0).abs() < 1e-12);
    }
}
