//! The pure core of a report: from the runs of a suite to one [`DatasetTable`] per dataset
//! (per-optimizer statistics and tests against the baseline, reset/keep pairs, curves) and the
//! [`Findings`] across them. No I/O: unit-tested on hand-made runs.

use lookahead_optim::InnerStatePolicy;

use super::load::{EpochRow, RunRecord};
use super::stats::{Stats, band, smooth, welch_p};
use crate::run::{RunStatus, Summary};
use crate::spec::OptimizerSpec;
use crate::suite::Suite;

/// Mean ± std curves, one per optimizer label: (x, mean, std) points.
pub type Curves = Vec<(String, Vec<(f64, f64, f64)>)>;

/// One optimizer's line of a dataset's table.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerRow {
    /// Its label.
    pub label: String,
    /// Its spec, as text.
    pub spec: String,
    /// Whether it is the suite's baseline.
    pub baseline: bool,
    /// Runs that diverged.
    pub diverged: usize,
    /// Runs without a summary, or interrupted.
    pub unfinished: usize,
    /// Final train loss of each completed run.
    pub train_loss: Vec<f64>,
    /// Final valid loss of each completed run.
    pub valid_loss: Vec<f64>,
    /// Final valid accuracy of each completed run.
    pub valid_accuracy: Vec<f64>,
    /// Welch p against the baseline, valid accuracy (`None` for the baseline or untestable).
    pub p_accuracy: Option<f64>,
    /// Welch p against the baseline, valid loss.
    pub p_loss: Option<f64>,
}

/// A Lookahead spec with Reset against the same spec with Keep.
#[derive(Debug, Clone, PartialEq)]
pub struct PairRow {
    /// The Reset label.
    pub reset: String,
    /// The Keep label.
    pub keep: String,
    /// Mean valid accuracy, reset − keep.
    pub accuracy_diff: Option<f64>,
    /// Welch p, valid accuracy.
    pub p_accuracy: Option<f64>,
    /// Mean valid loss, reset − keep.
    pub loss_diff: Option<f64>,
    /// Welch p, valid loss.
    pub p_loss: Option<f64>,
}

/// Everything the report shows of one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetTable {
    /// Dataset name.
    pub dataset: String,
    /// One row per optimizer, in the suite's order.
    pub rows: Vec<OptimizerRow>,
    /// Reset/keep pairs.
    pub pairs: Vec<PairRow>,
    /// Smoothed training loss per iteration.
    pub train_curves: Curves,
    /// Validation loss per epoch.
    pub valid_loss_curves: Curves,
    /// Validation accuracy per epoch.
    pub valid_accuracy_curves: Curves,
}

/// What the tests found, across datasets.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Findings {
    /// One line per comparison significant at 5 %.
    pub significant: Vec<String>,
    /// Whether some comparison could not be tested (too few runs, no variance).
    pub untestable: bool,
    /// Tests run (each at 5 %, uncorrected).
    pub tests_run: usize,
}

/// p-value as the report prints it.
pub fn p_text(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "< 0.001".into(),
        Some(p) => format!("{p:.3}"),
        None => "n/a".into(),
    }
}

/// Whether two specs differ only in the inner-state policy, `a` with Reset and `b` with Keep.
pub fn reset_keep_pair(a: &OptimizerSpec, b: &OptimizerSpec) -> bool {
    match (a, b) {
        (
            OptimizerSpec::Lookahead {
                inner: ia,
                k: ka,
                alpha: aa,
                policy: InnerStatePolicy::Reset,
                slow_start: sa,
            },
            OptimizerSpec::Lookahead {
                inner: ib,
                k: kb,
                alpha: ab,
                policy: InnerStatePolicy::Keep,
                slow_start: sb,
            },
        ) => ia == ib && ka == kb && aa == ab && sa == sb,
        _ => false,
    }
}

/// The runs of one dataset, by label.
struct DatasetRuns<'a> {
    dataset: &'a str,
    records: Vec<&'a RunRecord>,
}

impl<'a> DatasetRuns<'a> {
    fn of(&self, label: &str) -> Vec<&'a RunRecord> {
        self.records
            .iter()
            .copied()
            .filter(|r| r.label == label)
            .collect()
    }

    fn complete(&self, label: &str) -> Vec<&'a RunRecord> {
        self.of(label)
            .into_iter()
            .filter(|r| is(r, RunStatus::Complete))
            .collect()
    }

    fn values(&self, label: &str, f: fn(&Summary) -> Option<f64>) -> Vec<f64> {
        self.complete(label)
            .into_iter()
            .filter_map(|r| r.summary.as_ref().and_then(f))
            .collect()
    }
}

fn is(run: &RunRecord, status: RunStatus) -> bool {
    run.summary.as_ref().is_some_and(|s| s.status == status)
}

fn accuracy(s: &Summary) -> Option<f64> {
    s.final_valid_accuracy
}

fn valid_loss(s: &Summary) -> Option<f64> {
    s.final_valid_loss
}

fn train_loss(s: &Summary) -> Option<f64> {
    s.final_train_loss
}

fn mean(values: &[f64]) -> Option<f64> {
    Stats::of(values).map(|s| s.mean)
}

fn diff(x: &[f64], y: &[f64]) -> Option<f64> {
    Some(mean(x)? - mean(y)?)
}

/// Aggregates the runs of `suite` (loaded in `records`) into tables and findings.
pub fn aggregate(suite: &Suite, records: &[RunRecord]) -> (Vec<DatasetTable>, Findings) {
    let mut findings = Findings::default();
    let tables = suite
        .datasets
        .iter()
        .map(|dataset| {
            let dataset = dataset.to_string();
            let runs = DatasetRuns {
                dataset: &dataset,
                records: records.iter().filter(|r| r.dataset == dataset).collect(),
            };
            let rows = optimizer_rows(suite, &runs, &mut findings);
            let pairs = pair_rows(suite, &runs, &mut findings);
            let (train_curves, valid_loss_curves, valid_accuracy_curves) = curves(suite, &runs);
            DatasetTable {
                dataset: dataset.clone(),
                rows,
                pairs,
                train_curves,
                valid_loss_curves,
                valid_accuracy_curves,
            }
        })
        .collect();
    (tables, findings)
}

/// Each optimizer's statistics and its tests against the baseline.
fn optimizer_rows(
    suite: &Suite,
    runs: &DatasetRuns<'_>,
    findings: &mut Findings,
) -> Vec<OptimizerRow> {
    let baseline = suite.baseline_label();
    let (base_acc, base_loss) = (
        runs.values(baseline, accuracy),
        runs.values(baseline, valid_loss),
    );
    let dataset = runs.dataset;
    suite
        .optimizers
        .iter()
        .map(|o| {
            let label = o.label.as_str();
            let all = runs.of(label);
            let (acc, vloss) = (runs.values(label, accuracy), runs.values(label, valid_loss));
            let is_baseline = label == baseline;
            let (pa, pl) = if is_baseline {
                (None, None)
            } else {
                (welch_p(&acc, &base_acc), welch_p(&vloss, &base_loss))
            };
            if !is_baseline {
                findings.tests_run += 2;
                findings.untestable |= pa.is_none() || pl.is_none();
                if pa.is_some_and(|p| p < 0.05) {
                    findings.significant.push(format!(
                        "`{label}` vs `{baseline}` on {dataset}: valid accuracy {:+.2} points (p = {})",
                        mean(&acc).unwrap_or(0.0) - mean(&base_acc).unwrap_or(0.0),
                        p_text(pa)
                    ));
                }
                if pl.is_some_and(|p| p < 0.05) {
                    findings.significant.push(format!(
                        "`{label}` vs `{baseline}` on {dataset}: valid loss {:+.4} (p = {})",
                        mean(&vloss).unwrap_or(0.0) - mean(&base_loss).unwrap_or(0.0),
                        p_text(pl)
                    ));
                }
            }
            OptimizerRow {
                label: label.to_string(),
                spec: o.spec.to_string(),
                baseline: is_baseline,
                diverged: all.iter().filter(|r| is(r, RunStatus::Diverged)).count(),
                unfinished: all
                    .iter()
                    .filter(|r| r.summary.is_none() || is(r, RunStatus::Interrupted))
                    .count(),
                train_loss: runs.values(label, train_loss),
                valid_loss: vloss,
                valid_accuracy: acc,
                p_accuracy: pa,
                p_loss: pl,
            }
        })
        .collect()
}

/// Reset against keep: specs differing only in the policy, with the same learning rate and
/// weight decay.
fn pair_rows(suite: &Suite, runs: &DatasetRuns<'_>, findings: &mut Findings) -> Vec<PairRow> {
    let pairs = suite
        .optimizers
        .iter()
        .flat_map(|a| suite.optimizers.iter().map(move |b| (a, b)))
        .filter(|(a, b)| {
            a.lr_max == b.lr_max
                && a.weight_decay == b.weight_decay
                && reset_keep_pair(&a.spec, &b.spec)
        });
    let dataset = runs.dataset;
    pairs
        .map(|(r, k)| {
            let (reset, keep) = (r.label.as_str(), k.label.as_str());
            let (ar, ak) = (runs.values(reset, accuracy), runs.values(keep, accuracy));
            let (lr, lk) = (
                runs.values(reset, valid_loss),
                runs.values(keep, valid_loss),
            );
            let (pa, pl) = (welch_p(&ar, &ak), welch_p(&lr, &lk));
            findings.tests_run += 2;
            findings.untestable |= pa.is_none() || pl.is_none();
            for (what, p, d) in [
                ("accuracy", pa, diff(&ar, &ak)),
                ("loss", pl, diff(&lr, &lk)),
            ] {
                if p.is_some_and(|p| p < 0.05) {
                    findings.significant.push(format!(
                        "`{reset}` vs `{keep}` on {dataset}: valid {what} {} (p = {})",
                        d.map_or("–".into(), |d| format!("{d:+.4}")),
                        p_text(p)
                    ));
                }
            }
            PairRow {
                reset: reset.to_string(),
                keep: keep.to_string(),
                accuracy_diff: diff(&ar, &ak),
                p_accuracy: pa,
                loss_diff: diff(&lr, &lk),
                p_loss: pl,
            }
        })
        .collect()
}

/// Mean ± std over the completed seeds: smoothed training loss per iteration, validation loss
/// and accuracy per epoch (x from 1).
fn curves(suite: &Suite, runs: &DatasetRuns<'_>) -> (Curves, Curves, Curves) {
    let (mut train, mut vloss, mut vacc) = (Curves::new(), Curves::new(), Curves::new());
    let from_one = |b: Vec<(f64, f64, f64)>| -> Vec<(f64, f64, f64)> {
        b.into_iter().map(|(i, m, s)| (i + 1.0, m, s)).collect()
    };
    for o in &suite.optimizers {
        let done = runs.complete(&o.label);
        if done.is_empty() {
            continue;
        }
        let smoothed: Vec<Vec<f64>> = done.iter().map(|r| smooth(&r.iterations)).collect();
        let per_epoch = |f: fn(&EpochRow) -> Option<f64>| {
            let series: Vec<Vec<f64>> = done
                .iter()
                .map(|r| r.epochs.iter().map(|e| f(e).unwrap_or(f64::NAN)).collect())
                .collect();
            from_one(band(&series))
        };
        train.push((o.label.clone(), from_one(band(&smoothed))));
        vloss.push((o.label.clone(), per_epoch(|e| e.2)));
        vacc.push((o.label.clone(), per_epoch(|e| e.3)));
    }
    (train, vloss, vacc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendInfo;

    const SUITE: &str = r#"
name = "t"
datasets = ["fashion-mnist-embedded"]
seeds = [1, 2, 3]
[[optimizers]]
label = "sgd"
spec = "sgd"
[[optimizers]]
label = "la-reset"
spec = "lookahead(sgd, reset)"
[[optimizers]]
label = "la-keep"
spec = "lookahead(sgd, keep)"
"#;

    fn run(label: &str, seed: u64, accuracy: f64, status: RunStatus) -> RunRecord {
        let summary = Summary {
            status,
            message: None,
            divergence: None,
            optimizer: label.into(),
            dataset: "fashion-mnist-embedded".into(),
            dataset_variant: String::new(),
            dataset_path: String::new(),
            model: "micro-resnet".into(),
            seed,
            epochs: 1,
            epochs_completed: 1,
            final_train_loss: Some(1.0),
            final_valid_loss: Some(2.0 - accuracy / 100.0),
            final_valid_accuracy: Some(accuracy),
            best_valid_accuracy: Some(accuracy),
            best_epoch: Some(1),
            final_train_loss_smoothed: None,
            final_valid_top5_accuracy: None,
            best_valid_loss_epoch: None,
            wall_time_s: 1.0,
            images_per_s: 1.0,
            train_images: 1,
            valid_images: 1,
            parameters: 1,
            backend: BackendInfo {
                backend: "flex".into(),
                device: "cpu".into(),
            },
            resumed_from_epoch: 0,
        };
        RunRecord {
            dataset: "fashion-mnist-embedded".into(),
            label: label.into(),
            seed,
            summary: Some(summary),
            epochs: vec![(1, 1.0, Some(1.0), Some(accuracy))],
            iterations: vec![1.0, 0.5],
        }
    }

    #[test]
    fn tables_test_against_the_baseline_and_pair_reset_with_keep() {
        let suite = Suite::parse(SUITE, "t").unwrap();
        let mut records = Vec::new();
        for (seed, noise) in [(1, 0.0), (2, 0.5), (3, -0.5)] {
            records.push(run("sgd", seed, 50.0 + noise, RunStatus::Complete));
            records.push(run("la-reset", seed, 80.0 + noise, RunStatus::Complete));
            records.push(run(
                "la-keep",
                seed,
                50.2 + 2.0 * noise,
                RunStatus::Complete,
            ));
        }
        records[0] = run("sgd", 1, 0.0, RunStatus::Diverged);
        let (tables, findings) = aggregate(&suite, &records);
        let table = &tables[0];
        let sgd = &table.rows[0];
        assert!(sgd.baseline && sgd.p_accuracy.is_none());
        assert_eq!((sgd.diverged, sgd.valid_accuracy.len()), (1, 2));
        let reset = &table.rows[1];
        assert!(reset.p_accuracy.unwrap() < 0.05, "{reset:?}");
        assert!(table.rows[2].p_accuracy.unwrap() > 0.05);
        assert_eq!(table.pairs.len(), 1);
        let pair = &table.pairs[0];
        assert_eq!(
            (pair.reset.as_str(), pair.keep.as_str()),
            ("la-reset", "la-keep")
        );
        assert!((pair.accuracy_diff.unwrap() - 29.8).abs() < 1e-9);
        // 2 optimizers against the baseline and one pair, accuracy and loss each.
        assert_eq!(findings.tests_run, 6);
        assert!(
            findings
                .significant
                .iter()
                .any(|s| s.starts_with("`la-reset` vs `sgd`"))
        );
        assert_eq!(table.train_curves.len(), 3);
        assert_eq!(table.valid_accuracy_curves[1].1, vec![(1.0, 80.0, 0.5)]);
    }
}
