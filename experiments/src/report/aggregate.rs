//! The pure core of a report: from the runs of a suite to one [`DatasetTable`] per dataset
//! (per-optimizer statistics and tests against the baseline, reset/keep pairs, the seed's
//! published numbers beside ours, verdicts on the seed's claims, curves) and the [`Findings`]
//! across them. No I/O: unit-tested on hand-made runs.
//!
//! Every comparison is tested twice: Welch's t-test (independent samples) and the paired t-test
//! over the seeds both sides share (same initial weights, same data order). Each kind of test is
//! one family across the whole report, adjusted by Holm–Bonferroni; the verdicts' tests are a
//! third family.

use lookahead_optim::InnerStatePolicy;

use super::load::{EpochRow, RunRecord};
use super::published::{PublishedRow, published_rows};
use super::stats::{Sample, band, holm, paired_p, smooth, welch_p};
use super::verdict::{Verdict, verdicts};
use crate::claim::Metric;
use crate::run::{RunStatus, Summary};
use crate::spec::OptimizerSpec;
use crate::suite::Suite;

/// Mean ± std curves, one per optimizer label: (x, mean, std) points.
pub type Curves = Vec<(String, Vec<(f64, f64, f64)>)>;

/// A p-value and its Holm–Bonferroni adjustment within its family.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PValue {
    /// As tested.
    pub raw: Option<f64>,
    /// Adjusted for the family's other tests.
    pub holm: Option<f64>,
}

impl PValue {
    /// An unadjusted p-value (adjusted by [`adjust`]).
    pub fn new(raw: Option<f64>) -> Self {
        PValue { raw, holm: raw }
    }

    /// Whether the adjusted p is below 5 %.
    pub fn significant(&self) -> bool {
        self.holm.is_some_and(|p| p < 0.05)
    }
}

/// One comparison, tested on independent samples and on the pairs of shared seeds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Tests {
    /// Welch's unequal-variances t-test.
    pub welch: PValue,
    /// The paired t-test over shared seeds.
    pub paired: PValue,
}

impl Tests {
    /// Both tests of `a` against `b`.
    pub fn of(a: &Sample, b: &Sample) -> Self {
        Tests {
            welch: PValue::new(welch_p(&a.values(), &b.values())),
            paired: PValue::new(paired_p(&a.0, &b.0)),
        }
    }

    /// Whether either test is significant after adjustment.
    pub fn significant(&self) -> bool {
        self.welch.significant() || self.paired.significant()
    }

    /// Whether neither test could run.
    pub fn untestable(&self) -> bool {
        self.welch.raw.is_none() && self.paired.raw.is_none()
    }
}

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
    /// Final train loss (epoch mean) of each completed run.
    pub train_loss: Sample,
    /// Final valid loss of each completed run.
    pub valid_loss: Sample,
    /// Final valid accuracy of each completed run.
    pub valid_accuracy: Sample,
    /// Valid accuracy against the baseline (default for the baseline itself).
    pub accuracy_tests: Tests,
    /// Valid loss against the baseline.
    pub loss_tests: Tests,
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
    /// Valid accuracy, reset against keep.
    pub accuracy_tests: Tests,
    /// Mean valid loss, reset − keep.
    pub loss_diff: Option<f64>,
    /// Valid loss, reset against keep.
    pub loss_tests: Tests,
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
    /// The seed's published numbers beside the replica's, one row per optimizer and metric.
    pub published: Vec<PublishedRow>,
    /// A verdict per claim of the suite.
    pub verdicts: Vec<Verdict>,
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
    /// One line per comparison significant at 5 % after Holm–Bonferroni (either test).
    pub significant: Vec<String>,
    /// Whether some comparison could not be tested (too few runs, no variance).
    pub untestable: bool,
    /// Comparisons tested (each by Welch and paired).
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

/// Which epoch of a run a number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The last epoch.
    Final,
    /// The epoch of the lowest validation loss (the seed's reported model: chosen on its test
    /// split).
    BestValidLoss,
}

/// The value of `metric` in a run's summary, at the epoch `at` (the train loss is fastai's
/// smoothed one where the run recorded it, else the epoch mean).
pub fn metric_value(s: &Summary, metric: Metric, at: At) -> Option<f64> {
    match at {
        At::Final => match metric {
            Metric::TrainLoss => s.final_train_loss_smoothed.or(s.final_train_loss),
            Metric::ValidLoss => s.final_valid_loss,
            Metric::Accuracy => s.final_valid_accuracy,
            Metric::Top5 => s.final_valid_top5_accuracy,
        },
        At::BestValidLoss => {
            let e = s.best_valid_loss_epoch.as_ref()?;
            match metric {
                Metric::TrainLoss => e.train_loss_smoothed.or(Some(e.train_loss)),
                Metric::ValidLoss => e.valid_loss,
                Metric::Accuracy => e.valid_accuracy,
                Metric::Top5 => e.valid_top5_accuracy,
            }
        }
    }
}

/// The runs of one dataset, by label.
pub(super) struct DatasetRuns<'a> {
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

    /// (seed, value) of every completed run of `label` that has the value.
    fn sample(&self, label: &str, f: impl Fn(&Summary) -> Option<f64>) -> Sample {
        Sample(
            self.complete(label)
                .into_iter()
                .filter_map(|r| Some((r.seed, f(r.summary.as_ref()?)?)))
                .collect(),
        )
    }

    /// `metric` of `label` at epoch `at`.
    pub(super) fn metric(&self, label: &str, metric: Metric, at: At) -> Sample {
        self.sample(label, |s| metric_value(s, metric, at))
    }
}

fn is(run: &RunRecord, status: RunStatus) -> bool {
    run.summary.as_ref().is_some_and(|s| s.status == status)
}

fn diff(x: &Sample, y: &Sample) -> Option<f64> {
    Some(x.mean()? - y.mean()?)
}

/// Aggregates the runs of `suite` (loaded in `records`) into tables and findings.
pub fn aggregate(suite: &Suite, records: &[RunRecord]) -> (Vec<DatasetTable>, Findings) {
    let mut tables: Vec<DatasetTable> = suite
        .datasets
        .iter()
        .map(|dataset| {
            let dataset = dataset.to_string();
            let runs = DatasetRuns {
                records: records.iter().filter(|r| r.dataset == dataset).collect(),
            };
            let (train_curves, valid_loss_curves, valid_accuracy_curves) = curves(suite, &runs);
            DatasetTable {
                dataset: dataset.clone(),
                rows: optimizer_rows(suite, &runs),
                pairs: pair_rows(suite, &runs),
                published: published_rows(suite, &runs),
                verdicts: verdicts(suite, &runs),
                train_curves,
                valid_loss_curves,
                valid_accuracy_curves,
            }
        })
        .collect();
    adjust(&mut tables);
    let findings = findings(&tables);
    (tables, findings)
}

/// Holm–Bonferroni within each family: every Welch test of the report, every paired test, and
/// every verdict's test.
fn adjust(tables: &mut [DatasetTable]) {
    fn family(slots: Vec<&mut PValue>) {
        let raw: Vec<Option<f64>> = slots.iter().map(|p| p.raw).collect();
        for (slot, adjusted) in slots.into_iter().zip(holm(&raw)) {
            slot.holm = adjusted;
        }
    }
    let mut welch = Vec::new();
    let mut paired = Vec::new();
    let mut claims = Vec::new();
    for t in tables.iter_mut() {
        let comparisons = t
            .rows
            .iter_mut()
            .filter(|r| !r.baseline)
            .flat_map(|r| [&mut r.accuracy_tests, &mut r.loss_tests])
            .chain(
                t.pairs
                    .iter_mut()
                    .flat_map(|p| [&mut p.accuracy_tests, &mut p.loss_tests]),
            );
        for tests in comparisons {
            welch.push(&mut tests.welch);
            paired.push(&mut tests.paired);
        }
        claims.extend(
            t.verdicts
                .iter_mut()
                .flat_map(|v| v.conditions.iter_mut().map(|c| &mut c.p)),
        );
    }
    family(welch);
    family(paired);
    family(claims);
}

/// The significant comparisons, in the tables' order.
fn findings(tables: &[DatasetTable]) -> Findings {
    let mut findings = Findings::default();
    let mut note = |what: String, d: Option<f64>, digits: usize, tests: &Tests| {
        findings.tests_run += 1;
        findings.untestable |= tests.untestable();
        if tests.significant() {
            findings.significant.push(format!(
                "{what} {} (Welch p = {}, Holm {}; paired p = {}, Holm {})",
                d.map_or("–".into(), |d| format!("{d:+.digits$}")),
                p_text(tests.welch.raw),
                p_text(tests.welch.holm),
                p_text(tests.paired.raw),
                p_text(tests.paired.holm),
            ));
        }
    };
    for t in tables {
        let baseline = t.rows.iter().find(|r| r.baseline);
        for r in t.rows.iter().filter(|r| !r.baseline) {
            let Some(b) = baseline else { continue };
            let head = format!("`{}` vs `{}` on {}:", r.label, b.label, t.dataset);
            note(
                format!("{head} valid accuracy (points)"),
                diff(&r.valid_accuracy, &b.valid_accuracy),
                2,
                &r.accuracy_tests,
            );
            note(
                format!("{head} valid loss"),
                diff(&r.valid_loss, &b.valid_loss),
                4,
                &r.loss_tests,
            );
        }
        for p in &t.pairs {
            let head = format!("`{}` vs `{}` on {}:", p.reset, p.keep, t.dataset);
            note(
                format!("{head} valid accuracy (points)"),
                p.accuracy_diff,
                2,
                &p.accuracy_tests,
            );
            note(format!("{head} valid loss"), p.loss_diff, 4, &p.loss_tests);
        }
    }
    findings
}

/// Each optimizer's statistics and its tests against the baseline.
fn optimizer_rows(suite: &Suite, runs: &DatasetRuns<'_>) -> Vec<OptimizerRow> {
    let baseline = suite.baseline_label();
    let accuracy = |label: &str| runs.metric(label, Metric::Accuracy, At::Final);
    let valid_loss = |label: &str| runs.metric(label, Metric::ValidLoss, At::Final);
    let (base_acc, base_loss) = (accuracy(baseline), valid_loss(baseline));
    suite
        .optimizers
        .iter()
        .map(|o| {
            let label = o.label.as_str();
            let all = runs.of(label);
            let (acc, vloss) = (accuracy(label), valid_loss(label));
            let is_baseline = label == baseline;
            let (accuracy_tests, loss_tests) = if is_baseline {
                Default::default()
            } else {
                (Tests::of(&acc, &base_acc), Tests::of(&vloss, &base_loss))
            };
            OptimizerRow {
                label: label.to_string(),
                spec: o.spec.to_string(),
                baseline: is_baseline,
                diverged: all.iter().filter(|r| is(r, RunStatus::Diverged)).count(),
                unfinished: all
                    .iter()
                    .filter(|r| r.summary.is_none() || is(r, RunStatus::Interrupted))
                    .count(),
                train_loss: runs.sample(label, |s| s.final_train_loss),
                valid_loss: vloss,
                valid_accuracy: acc,
                accuracy_tests,
                loss_tests,
            }
        })
        .collect()
}

/// Reset against keep: specs differing only in the policy, with the same learning rate and
/// weight decay.
fn pair_rows(suite: &Suite, runs: &DatasetRuns<'_>) -> Vec<PairRow> {
    let pairs = suite
        .optimizers
        .iter()
        .flat_map(|a| suite.optimizers.iter().map(move |b| (a, b)))
        .filter(|(a, b)| {
            a.lr_max == b.lr_max
                && a.weight_decay == b.weight_decay
                && reset_keep_pair(&a.spec, &b.spec)
        });
    let accuracy = |label: &str| runs.metric(label, Metric::Accuracy, At::Final);
    let valid_loss = |label: &str| runs.metric(label, Metric::ValidLoss, At::Final);
    pairs
        .map(|(r, k)| {
            let (reset, keep) = (r.label.as_str(), k.label.as_str());
            let (ar, ak) = (accuracy(reset), accuracy(keep));
            let (lr, lk) = (valid_loss(reset), valid_loss(keep));
            PairRow {
                reset: reset.to_string(),
                keep: keep.to_string(),
                accuracy_diff: diff(&ar, &ak),
                accuracy_tests: Tests::of(&ar, &ak),
                loss_diff: diff(&lr, &lk),
                loss_tests: Tests::of(&lr, &lk),
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
    use crate::claim::Metric;

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
            nodes: None,
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
        assert!(sgd.baseline && sgd.accuracy_tests.welch.raw.is_none());
        assert_eq!((sgd.diverged, sgd.valid_accuracy.len()), (1, 2));
        let reset = &table.rows[1];
        assert!(reset.accuracy_tests.welch.raw.unwrap() < 0.05, "{reset:?}");
        assert!(table.rows[2].accuracy_tests.welch.raw.unwrap() > 0.05);
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

    const CLAIMS: &str = r#"
name = "t"
datasets = ["fashion-mnist-embedded"]
seeds = [1, 2, 3]
published_source = "p. 7"
[[optimizers]]
label = "sgd"
spec = "sgd"
[[optimizers]]
label = "la-keep"
spec = "lookahead(sgd, keep)"
published = { train_loss = 0.2, accuracy = 55.0 }
[[optimizers]]
label = "adamw"
spec = "adamw"
[[claims]]
text = "LA is the most accurate"
conditions = [{ metric = "accuracy", label = "la-keep", is = "highest" }]
[[claims]]
text = "AdamW is the least accurate"
conditions = [{ metric = "accuracy", label = "adamw", is = "lowest" }]
[[claims]]
text = "SGD beats LA"
conditions = [{ metric = "accuracy", label = "sgd", is = "above", other = "la-keep" }]
[[claims]]
text = "LA has the worst top-5"
conditions = [{ metric = "top5", label = "la-keep", is = "lowest" }]
[[claims]]
text = "LA beats AdamW"
conditions = [{ metric = "accuracy", label = "la-keep", is = "highest", among = ["adamw"] }]
"#;

    /// A run with fastai's smoothed train loss and a lowest-valid-loss epoch one point more
    /// accurate than the last.
    fn seed_run(label: &str, seed: u64, accuracy: f64, smoothed: f64) -> RunRecord {
        let mut r = run(label, seed, accuracy, RunStatus::Complete);
        let s = r.summary.as_mut().unwrap();
        s.final_train_loss_smoothed = Some(smoothed);
        s.best_valid_loss_epoch = Some(crate::run::EpochMetrics {
            epoch: 1,
            train_loss: 9.0,
            train_accuracy: 0.0,
            valid_loss: Some(0.5),
            valid_accuracy: Some(accuracy + 1.0),
            lr: 0.1,
            train_loss_smoothed: Some(smoothed + 0.1),
            valid_top5_accuracy: None,
        });
        r
    }

    fn claim_records() -> Vec<RunRecord> {
        let mut records = Vec::new();
        for (i, seed) in [1, 2, 3].into_iter().enumerate() {
            records.push(seed_run("sgd", seed, [50.0, 51.0, 49.0][i], 0.5));
            records.push(seed_run(
                "la-keep",
                seed,
                [52.0, 53.5, 50.5][i],
                [0.3, 0.25, 0.35][i],
            ));
            records.push(seed_run("adamw", seed, [40.0, 41.0, 39.0][i], 0.1));
        }
        records
    }

    /// Paired tests see what Welch's cannot; Holm adjusts the verdicts' family; each outcome.
    /// Reference values: scipy 1.17.1 / statsmodels 0.15.0 on the same numbers.
    #[test]
    fn verdicts_use_paired_tests_and_holm() {
        use super::super::verdict::{Outcome, TestKind};
        let suite = Suite::parse(CLAIMS, "t").unwrap();
        let (tables, _) = aggregate(&suite, &claim_records());
        let t = &tables[0];
        // la-keep vs sgd, accuracy: ttest_rel p = 0.0202041, ttest_ind(equal_var=False) 0.137507.
        let la = &t.rows[1].accuracy_tests;
        assert!(
            (la.paired.raw.unwrap() - 0.020_204_1).abs() < 1e-6,
            "{la:?}"
        );
        assert!((la.welch.raw.unwrap() - 0.137_507).abs() < 1e-5, "{la:?}");
        let v = &t.verdicts;
        // Highest: tested against the runner-up (sgd), paired; Holm over the four tested
        // conditions: multipletests([0.0202041, 0.000255217, 0.0202041, 0.000578202], "holm")
        // = [0.0404082, 0.00102087, 0.0404082, 0.00173461].
        let c = &v[0].conditions[0];
        assert_eq!(
            (c.other.as_deref(), c.test, c.holds),
            (Some("sgd"), TestKind::Paired, Some(true))
        );
        assert!((c.p.holm.unwrap() - 0.040_408_2).abs() < 1e-6, "{c:?}");
        assert_eq!(v[0].outcome(), Outcome::Supported);
        // Every difference of adamw − sgd is −10: no paired test; Welch p = 0.000255217.
        let c = &v[1].conditions[0];
        assert_eq!((c.other.as_deref(), c.test), (Some("sgd"), TestKind::Welch));
        assert!((c.p.raw.unwrap() - 0.000_255_217).abs() < 1e-8, "{c:?}");
        assert!((c.p.holm.unwrap() - 0.001_020_87).abs() < 1e-8, "{c:?}");
        assert_eq!(v[1].outcome(), Outcome::Supported);
        assert_eq!(
            (v[2].conditions[0].holds, v[2].outcome()),
            (Some(false), Outcome::NotSupported)
        );
        assert_eq!(
            (v[3].conditions[0].holds, v[3].outcome()),
            (None, Outcome::NotTestable)
        );
        // `among` leaves sgd out: the runner-up is adamw (ttest_rel p = 0.000578202).
        let c = &v[4].conditions[0];
        assert_eq!(c.other.as_deref(), Some("adamw"));
        assert!((c.p.raw.unwrap() - 0.000_578_202).abs() < 1e-8, "{c:?}");
        assert!((c.p.holm.unwrap() - 0.001_734_61).abs() < 1e-8, "{c:?}");
    }

    /// The published table: the replica at the final epoch and at the best-valid-loss epoch,
    /// and where the published value falls.
    #[test]
    fn published_numbers_sit_beside_the_replica() {
        use super::super::published::Placement;
        let suite = Suite::parse(CLAIMS, "t").unwrap();
        let (tables, _) = aggregate(&suite, &claim_records());
        let rows = &tables[0].published;
        assert_eq!(rows.len(), 2);
        // Train loss: smoothed [0.3, 0.25, 0.35], mean 0.3, std 0.05: 0.2 is below all, z = −2.
        let train = &rows[0];
        assert_eq!(
            (train.label.as_str(), train.metric),
            ("la-keep", Metric::TrainLoss)
        );
        assert_eq!(train.final_epoch.values(), vec![0.3, 0.25, 0.35]);
        match super::super::published::placement(train.published, &train.final_epoch) {
            Placement::Below { z: Some(z) } => assert!((z + 2.0).abs() < 1e-9),
            other => panic!("{other:?}"),
        }
        // Accuracy: final mean 52, std 1.5 (z = +2); best-loss epoch mean 53 (z = +1.33).
        let acc = &rows[1];
        assert_eq!(acc.best_loss_epoch.values(), vec![53.0, 54.5, 51.5]);
        let md =
            super::super::render::published_section(&tables[0], suite.published_source.as_deref());
        assert!(md.contains("Published: p. 7."), "{md}");
        assert!(
            md.contains("| la-keep | accuracy (%) | 55 | 52.00 ± 1.50 | above all (z = +2.0) | 53.00 ± 1.50 | above all (z = +1.3) |"),
            "{md}"
        );
        let csv = String::from_utf8(super::super::render::published_csv(&tables).unwrap()).unwrap();
        assert!(
            csv.contains(
                "fashion-mnist-embedded,la-keep,accuracy,55,3,52,1.5,above all (z = +2.0),53,1.5"
            ),
            "{csv}"
        );
    }
}
