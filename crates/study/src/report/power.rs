//! What an inconclusive comparison could have shown: the smallest difference its n detects
//! (the minimum detectable effect) and the n its observed difference would need, for a
//! two-sided t-test at level α (the level Holm–Bonferroni tests the comparison at in its family,
//! α = 0.05 before adjustment) with power 0.8, from the usual approximation
//! MDE = (t₁₋α/₂,df + t_power,df) · SE (the central-t form of the power equation; it is within a
//! few percent of the exact noncentral-t answer from n ≈ 5 on, and errs on the side of a larger
//! n below that).

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::stats::{Stats, welch_se_df};

/// The family-wise error rate every family of a report is held at; Holm tests each comparison at
/// a fraction of it.
pub const ALPHA: f64 = 0.05;
/// The power asked for.
pub const POWER: f64 = 0.8;
/// The largest n [`n_needed`] looks at.
pub const MAX_N: usize = 10_000;

/// (t₁₋α/₂ + t_power) with `df` degrees of freedom.
fn multiplier(df: f64, alpha: f64) -> Option<f64> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(t.inverse_cdf(1.0 - alpha / 2.0) + t.inverse_cdf(POWER))
}

/// The smallest mean difference a paired t-test at level `alpha` over these `differences`
/// detects: multiplier with n − 1 df, times sd(d)/√n. `None` with fewer than 2 differences or
/// no spread.
pub fn paired_mde(differences: &[f64], alpha: f64) -> Option<f64> {
    let s = Stats::of(differences)?;
    if s.n < 2 || !s.std.is_finite() || s.std <= 0.0 {
        return None;
    }
    Some(multiplier((s.n - 1) as f64, alpha)? * s.std / (s.n as f64).sqrt())
}

/// The smallest n (≥ 2) at which a paired t-test at level `alpha` detects a mean difference
/// `diff` whose differences have standard deviation `sd`; `None` beyond [`MAX_N`] or without a
/// difference.
pub fn n_needed(diff: f64, sd: f64, alpha: f64) -> Option<usize> {
    if !diff.is_finite() || !sd.is_finite() || diff == 0.0 || sd <= 0.0 {
        return None;
    }
    (2..=MAX_N).find(|&n| {
        multiplier((n - 1) as f64, alpha).is_some_and(|m| m * sd / (n as f64).sqrt() <= diff.abs())
    })
}

/// The smallest difference Welch's test at level `alpha` between `a` and `b` detects: multiplier
/// with the Welch–Satterthwaite df, times √(s²ₐ/nₐ + s²ᵦ/nᵦ).
pub fn welch_mde(a: &[f64], b: &[f64], alpha: f64) -> Option<f64> {
    let (se, df) = welch_se_df(a, b)?;
    Some(multiplier(df, alpha)? * se)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_matches_t_tables() {
        // t.975,9 = 2.2622, t.80,9 = 0.8834 (scipy.stats.t.ppf(.975, 9), .ppf(.8, 9)): sd 1, n 10 → 0.9946.
        let d: Vec<f64> = (0..10)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let sd = Stats::of(&d).unwrap().std;
        let mde = paired_mde(&d, ALPHA).unwrap();
        assert!((mde - 3.1456 * sd / 10f64.sqrt()).abs() < 1e-3, "{mde}");
        // d = sd: n = 10 (n = 9 gives (2.3060 + 0.8889)/3 = 1.065 > 1); G*Power's exact
        // noncentral power at n = 10 is 0.803 (scipy.stats.nct), at 9 0.748.
        assert_eq!(n_needed(1.0, 1.0, ALPHA), Some(10));
        assert_eq!(n_needed(-0.5, 1.0, ALPHA), Some(34));
        assert_eq!(n_needed(0.0, 1.0, ALPHA), None);
        assert_eq!(n_needed(1e-9, 1.0, ALPHA), None);
        assert_eq!(paired_mde(&[1.0, 1.0, 1.0], ALPHA), None);
        // At a Holm level of 0.05/12: t.99792,df + t.80,df; d = sd needs n = 18
        // (scipy: (t.ppf(1 - 0.05/24, 17) + t.ppf(.8, 17)) / sqrt(18) = 0.9829 ≤ 1, at n = 17
        // (t.ppf(1 - 0.05/24, 16) + t.ppf(.8, 16)) / sqrt(17) = 1.0194).
        assert_eq!(n_needed(1.0, 1.0, ALPHA / 12.0), Some(18));
        // Two samples of 3 with sd 1: SE √(2/3), df 4: (2.7764 + 0.9410)·0.8165 = 3.035.
        let mde = welch_mde(&[0.0, 1.0, 2.0], &[5.0, 6.0, 7.0], ALPHA).unwrap();
        assert!((mde - 3.035).abs() < 2e-3, "{mde}");
    }
}
