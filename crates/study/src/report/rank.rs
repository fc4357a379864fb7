//! Rank-based tests, for samples where a t-test cannot run: a diverged run's loss is +∞ (see
//! [`super::runs::diverged_value`]), and a mean or a standard deviation with an infinite value
//! in it means nothing. Both tests are exact: the null distribution of the statistic is counted
//! over every sign assignment (signed-rank) or every split of the pooled values (rank-sum), with
//! tied values given their mid-rank (as scipy's `method="exact"` does for untied data and its
//! permutation form for tied data). Ranks are doubled so that mid-ranks stay integers.

use super::stats::paired_differences;

/// Two-sided exact p of the Wilcoxon signed-rank test of `a` against `b`, paired by seed.
/// Differences of zero, and ∞ − ∞ (both runs diverged), are dropped (Wilcoxon's convention);
/// `None` without a non-zero difference.
pub fn signed_rank_p(a: &[(u64, f64)], b: &[(u64, f64)]) -> Option<f64> {
    let d: Vec<f64> = paired_differences(a, b)
        .into_iter()
        .filter(|d| !d.is_nan() && *d != 0.0)
        .collect();
    if d.is_empty() {
        return None;
    }
    let magnitudes: Vec<f64> = d.iter().map(|d| d.abs()).collect();
    let ranks = doubled_midranks(&magnitudes);
    let w: usize = ranks
        .iter()
        .zip(&d)
        .filter(|(_, d)| **d > 0.0)
        .map(|(r, _)| r)
        .sum();
    // Under the null each difference's sign is a fair coin: count the subsets by rank sum.
    let total: usize = ranks.iter().sum();
    let mut counts = vec![0.0_f64; total + 1];
    counts[0] = 1.0;
    for &r in &ranks {
        for s in (r..=total).rev() {
            counts[s] += counts[s - r];
        }
    }
    Some(two_sided(&counts, w))
}

/// Two-sided exact p of the Wilcoxon rank-sum (Mann–Whitney) test of `a` against `b`;
/// `None` when either is empty or every value ties.
pub fn rank_sum_p(a: &[f64], b: &[f64]) -> Option<f64> {
    let pooled: Vec<f64> = a.iter().chain(b).copied().filter(|v| !v.is_nan()).collect();
    let n_a = a.iter().filter(|v| !v.is_nan()).count();
    if n_a == 0 || n_a == pooled.len() {
        return None;
    }
    let ranks = doubled_midranks(&pooled);
    if ranks.iter().all(|r| *r == ranks[0]) {
        return None;
    }
    let r: usize = ranks[..n_a].iter().sum();
    // Under the null every choice of n_a of the pooled values is equally likely:
    // ways[k][s] = the choices of k values whose doubled ranks sum to s.
    let total: usize = ranks.iter().sum();
    let mut ways = vec![vec![0.0_f64; total + 1]; n_a + 1];
    ways[0][0] = 1.0;
    for &rank in &ranks {
        for k in (1..=n_a).rev() {
            for s in (rank..=total).rev() {
                ways[k][s] += ways[k - 1][s - rank];
            }
        }
    }
    Some(two_sided(&ways[n_a], r))
}

/// Two-sided p of the observed statistic `x` under the null counts: twice the smaller tail.
fn two_sided(counts: &[f64], x: usize) -> f64 {
    let all: f64 = counts.iter().sum();
    let below: f64 = counts[..=x].iter().sum();
    let above: f64 = counts[x..].iter().sum();
    (2.0 * below.min(above) / all).min(1.0)
}

/// Twice each value's rank among `values` (1-based), tied values sharing their mean rank; +∞
/// ranks last and ties with +∞.
fn doubled_midranks(values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&i, &j| values[i].total_cmp(&values[j]));
    let mut ranks = vec![0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Ranks start + 1 ..= end share their mean, (start + 1 + end) / 2; doubled.
        for &i in &order[start..end] {
            ranks[i] = start + 1 + end;
        }
        start = end;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paired(xs: &[f64]) -> Vec<(u64, f64)> {
        xs.iter().enumerate().map(|(i, x)| (i as u64, *x)).collect()
    }

    #[test]
    fn signed_rank_matches_scipy() {
        // scipy.stats.wilcoxon([1.1, 2.3, -0.4, 3.5, 2.0, 0.9, 1.7]) → statistic 1, p 0.03125.
        let d = paired(&[1.1, 2.3, -0.4, 3.5, 2.0, 0.9, 1.7]);
        let zero = paired(&[0.0; 7]);
        assert!((signed_rank_p(&d, &zero).unwrap() - 0.03125).abs() < 1e-12);
        // Three seeds can never reach 5 %: the smallest two-sided p is 2/2³.
        let d = paired(&[1.0, 2.0, 3.0]);
        assert_eq!(signed_rank_p(&d, &paired(&[0.0; 3])), Some(0.25));
        // A diverged run (+∞) ranks largest; both diverged (∞ − ∞) drops out.
        let a = paired(&[f64::INFINITY, 0.7, 0.8, 0.9, 1.0, f64::INFINITY]);
        let b = paired(&[0.5, 0.6, 0.7, 0.8, 0.9, f64::INFINITY]);
        assert!((signed_rank_p(&a, &b).unwrap() - 0.0625).abs() < 1e-12);
        assert_eq!(signed_rank_p(&paired(&[1.0]), &paired(&[1.0])), None);
    }

    #[test]
    fn rank_sum_matches_scipy() {
        // scipy.stats.mannwhitneyu([1, 2, 3], [4, 5, 6], method="exact") → p 0.1.
        assert!((rank_sum_p(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap() - 0.1).abs() < 1e-12);
        // mannwhitneyu([0.61, 0.64, 0.58, 0.66], [0.70, 0.69, 0.75, 0.72, 0.71], "exact") → 0.015873.
        let p = rank_sum_p(&[0.61, 0.64, 0.58, 0.66], &[0.70, 0.69, 0.75, 0.72, 0.71]).unwrap();
        assert!((p - 2.0 / 126.0).abs() < 1e-12, "{p}");
        // Ties (two diverged runs at +∞, mid-rank 4.5 each): of the C(5,2) = 10 splits only the
        // observed one has a rank sum as large, so p = 2·1/10.
        let p = rank_sum_p(&[f64::INFINITY, f64::INFINITY], &[0.1, 0.2, 0.3]).unwrap();
        assert!((p - 0.2).abs() < 1e-12, "{p}");
        assert_eq!(rank_sum_p(&[1.0], &[1.0]), None);
        assert_eq!(rank_sum_p(&[], &[1.0]), None);
    }
}
