//! Mean ± std over seeds; Welch's unequal-variances t-test, the paired t-test over shared seeds,
//! and the Holm–Bonferroni adjustment of a family of p-values.

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

/// The values of one metric over seeds: (seed, value) of each completed run that has it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample(pub Vec<(u64, f64)>);

impl Sample {
    /// The values, in seed order of the runs.
    pub fn values(&self) -> Vec<f64> {
        self.0.iter().map(|(_, v)| *v).collect()
    }

    /// Mean, std and count (`None` when empty).
    pub fn stats(&self) -> Option<Stats> {
        Stats::of(&self.values())
    }

    /// The mean (`None` when empty).
    pub fn mean(&self) -> Option<f64> {
        self.stats().map(|s| s.mean)
    }

    /// Whether every value is finite (a diverged run's loss is +∞).
    pub fn all_finite(&self) -> bool {
        self.0.iter().all(|(_, v)| v.is_finite())
    }

    /// The median (`None` when empty); +∞ sorts last.
    pub fn median(&self) -> Option<f64> {
        let mut v = self.values();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        // Two equal middle values (e.g. both +∞) are the median; averaging them gives NaN for ∞.
        Some(if v.len() % 2 == 1 || v[mid - 1] == v[mid] {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        })
    }

    /// Where the values lie: the mean when every value is finite, else the median (a mean
    /// with +∞ in it says nothing but "some run diverged").
    pub fn center(&self) -> Option<f64> {
        if self.all_finite() {
            self.mean()
        } else {
            self.median()
        }
    }

    /// Every value moved by `by` (a margin: "above `b` − 0.5" is above `b` shifted by −0.5).
    pub fn shifted(&self, by: f64) -> Sample {
        Sample(self.0.iter().map(|(seed, v)| (*seed, v + by)).collect())
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The standard error of the difference of means, √(s²ₐ/nₐ + s²ᵦ/nᵦ), and its
/// Welch–Satterthwaite degrees of freedom; `None` when either side has fewer than 2 values or
/// the error is zero or not finite.
pub fn welch_se_df(a: &[f64], b: &[f64]) -> Option<(f64, f64)> {
    let (sa, sb) = (Stats::of(a)?, Stats::of(b)?);
    if sa.n < 2 || sb.n < 2 {
        return None;
    }
    let (va, vb) = (sa.std.powi(2) / sa.n as f64, sb.std.powi(2) / sb.n as f64);
    let se2 = va + vb;
    if !se2.is_finite() || se2 <= 0.0 {
        return None;
    }
    let df = se2.powi(2) / (va.powi(2) / (sa.n - 1) as f64 + vb.powi(2) / (sb.n - 1) as f64);
    Some((se2.sqrt(), df))
}

/// Two-sided p-value of Welch's unequal-variances t-test of `a` against `b`; `None` when either
/// has fewer than 2 values or both have zero variance.
pub fn welch_p(a: &[f64], b: &[f64]) -> Option<f64> {
    let (se, df) = welch_se_df(a, b)?;
    let t = (Stats::of(a)?.mean - Stats::of(b)?.mean) / se;
    two_sided(t, df)
}

/// The differences `a − b` over the seeds both share, in `a`'s order.
pub fn paired_differences(a: &[(u64, f64)], b: &[(u64, f64)]) -> Vec<f64> {
    a.iter()
        .filter_map(|(seed, x)| b.iter().find(|(s, _)| s == seed).map(|(_, y)| x - y))
        .collect()
}

/// Two-sided p-value of Student's t with `df` degrees of freedom.
fn two_sided(t: f64, df: f64) -> Option<f64> {
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * (1.0 - dist.cdf(t.abs()))).clamp(0.0, 1.0))
}

/// Two-sided p-value of the paired t-test of `a` against `b`, values paired by seed (runs that
/// share a seed share their initial weights and data order, so the seed's effect cancels in the
/// difference): t = mean(d) / (sd(d)/√n), n − 1 degrees of freedom. `None` with fewer than 2
/// shared seeds or when every difference is the same.
pub fn paired_p(a: &[(u64, f64)], b: &[(u64, f64)]) -> Option<f64> {
    let s = Stats::of(&paired_differences(a, b))?;
    if s.n < 2 || s.std <= 0.0 {
        return None;
    }
    two_sided(s.mean / (s.std / (s.n as f64).sqrt()), (s.n - 1) as f64)
}

/// Holm–Bonferroni adjustment of a family of p-values (entries without a test stay `None` and
/// do not count in the family). With the m p-values sorted ascending, p₍ᵢ₎ (i from 1) becomes
/// maxⱼ≤ᵢ min(1, (m − j + 1)·p₍ⱼ₎): the step-down form that controls the family-wise error
/// rate at the level each adjusted p is compared with.
pub fn holm(ps: &[Option<f64>]) -> Vec<Option<f64>> {
    let order = ascending(ps);
    let m = order.len();
    let mut adjusted = vec![None; ps.len()];
    let mut running = 0.0_f64;
    for (rank, (i, p)) in order.into_iter().enumerate() {
        running = running.max(((m - rank) as f64 * p).min(1.0));
        adjusted[i] = Some(running);
    }
    adjusted
}

/// The p-values that are there, with their positions, smallest first.
fn ascending(ps: &[Option<f64>]) -> Vec<(usize, f64)> {
    let mut order: Vec<(usize, f64)> = ps
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| (i, p)))
        .collect();
    order.sort_by(|x, y| x.1.total_cmp(&y.1));
    order
}

/// The level Holm–Bonferroni tests each p-value of a family at: α/(m − r + 1) for the r-th
/// smallest of m (`None` where there is no p-value). A comparison is significant when its p and
/// every smaller one's pass their levels; this is the level the power of a comparison is
/// computed at.
pub fn holm_levels(ps: &[Option<f64>], alpha: f64) -> Vec<Option<f64>> {
    let order = ascending(ps);
    let m = order.len();
    let mut levels = vec![None; ps.len()];
    for (rank, (i, _)) in order.into_iter().enumerate() {
        levels[i] = Some(alpha / (m - rank) as f64);
    }
    levels
}

pub use crate::run_dir::metrics::smooth;

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
    fn holm_matches_statsmodels() {
        // statsmodels 0.15.0 `multipletests([0.01, 0.04, 0.03, 0.005, 0.5], method="holm")[1]`:
        // [0.04, 0.09, 0.09, 0.025, 0.5]; a missing test stays missing and is not counted.
        let got = holm(&[
            Some(0.01),
            Some(0.04),
            None,
            Some(0.03),
            Some(0.005),
            Some(0.5),
        ]);
        let want = [
            Some(0.04),
            Some(0.09),
            None,
            Some(0.09),
            Some(0.025),
            Some(0.5),
        ];
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.is_some(), w.is_some());
            if let (Some(g), Some(w)) = (g, w) {
                assert!((g - w).abs() < 1e-12, "{got:?}");
            }
        }
        assert_eq!(holm(&[Some(0.6), Some(0.7)]), vec![Some(1.0), Some(1.0)]);
    }

    #[test]
    fn paired_matches_scipy() {
        // scipy 1.17.1 `ttest_rel([1.0, 2.0, 3.5, 4.0], [1.5, 2.1, 3.9, 4.3]).pvalue`:
        // 0.0318742 (t = -3.8060, df = 3). Pairing is by seed, whatever the order; unshared seeds
        // drop out.
        let a = [(1, 1.0), (2, 2.0), (3, 3.5), (4, 4.0), (9, 100.0)];
        let b = [(4, 4.3), (3, 3.9), (2, 2.1), (1, 1.5)];
        let p = paired_p(&a, &b).unwrap();
        assert!((p - 0.031_874_2).abs() < 1e-6, "{p}");
        // Welch on the same values cannot see the pairing (scipy: p = 0.748).
        assert!(welch_p(&[1.0, 2.0, 3.5, 4.0], &[1.5, 2.1, 3.9, 4.3]).unwrap() > 0.5);
        assert_eq!(paired_p(&a[..1], &b), None);
        assert_eq!(paired_p(&[(1, 1.0), (2, 2.0)], &[(1, 0.5), (2, 1.5)]), None);
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
