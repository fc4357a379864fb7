//! The pure core of a report: from the runs of a suite to one [`DatasetTable`] per dataset
//! (per-optimizer statistics and tests against the baseline, reset/keep pairs, the seed's
//! published numbers beside ours, verdicts on the seed's claims, curves) and the [`Findings`]
//! across them. No I/O: unit-tested on hand-made runs.
//!
//! Every comparison is tested twice: Welch's t-test (independent samples) and the paired t-test
//! over the seeds both sides share (same initial weights, same data order). Each kind of test is
//! one family across the whole report, adjusted by Holm–Bonferroni; the verdicts' tests are a
//! third family.

use super::load::RunRecord;
use super::published::{PublishedRow, published_rows};
pub use super::runs::{At, PValue, Tests, metric_value};
use super::runs::{DatasetRuns, is};
use super::stats::{Sample, band, holm, smooth};
use super::verdict::{Verdict, verdicts};
use crate::claim::Metric;
use crate::run_dir::{EpochMetrics, RunStatus};
use crate::spec::{OptimizerSpec, StatePolicy};
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
    /// A verdict per claim of the suite, on the final epoch.
    pub verdicts: Vec<Verdict>,
    /// The same verdicts on the smoothed curve the seed published (the sensitivity check;
    /// empty when the suite gives no smoothing).
    pub smoothed_verdicts: Vec<Verdict>,
    /// The smoothing weight per epoch used for this dataset's runs, if any.
    pub smoothing_weight: Option<f64>,
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

/// Whether two specs differ only in the inner-state policy, `a` resetting (Reset, or the seed's
/// ZeroMoments) and `b` with Keep.
pub fn reset_keep_pair(a: &OptimizerSpec, b: &OptimizerSpec) -> bool {
    match (a, b) {
        (
            OptimizerSpec::Lookahead {
                inner: ia,
                k: ka,
                alpha: aa,
                policy: StatePolicy::Reset | StatePolicy::ZeroMoments,
                slow_start: sa,
            },
            OptimizerSpec::Lookahead {
                inner: ib,
                k: kb,
                alpha: ab,
                policy: StatePolicy::Keep,
                slow_start: sb,
            },
        ) => ia == ib && ka == kb && aa == ab && sa == sb,
        _ => false,
    }
}

fn diff(x: &Sample, y: &Sample) -> Option<f64> {
    Some(x.center()? - y.center()?)
}

/// Aggregates the runs of `suite` (loaded in `records`) into tables and findings.
pub fn aggregate(suite: &Suite, records: &[RunRecord]) -> (Vec<DatasetTable>, Findings) {
    let mut tables: Vec<DatasetTable> = suite
        .datasets
        .iter()
        .map(|dataset| {
            let classes = dataset.num_classes();
            let dataset = dataset.to_string();
            let runs = DatasetRuns {
                records: records.iter().filter(|r| r.dataset == dataset).collect(),
                classes,
                epochs: suite.recipe.epochs,
            };
            let weight = suite
                .published_smoothing
                .as_ref()
                .map(|s| s.weight_for(suite.recipe.epochs));
            let (train_curves, valid_loss_curves, valid_accuracy_curves) = curves(suite, &runs);
            DatasetTable {
                dataset: dataset.clone(),
                rows: optimizer_rows(suite, &runs),
                pairs: pair_rows(suite, &runs),
                published: published_rows(suite, &runs, weight),
                verdicts: verdicts(suite, &runs, At::Final),
                smoothed_verdicts: weight
                    .map(|w| verdicts(suite, &runs, At::Smoothed(w)))
                    .unwrap_or_default(),
                smoothing_weight: weight,
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

/// Holm–Bonferroni within each family, one per question: every Welch test of the tables (does
/// an optimizer differ from the baseline, does reset differ from keep), every paired test of
/// them, every verdict's test on the final epoch (which of the seed's conclusions hold), and
/// every verdict's test on the smoothed curve (do they hold as the seed measured them).
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
    let mut smoothed = Vec::new();
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
        claims.extend(verdict_tests(&mut t.verdicts));
        smoothed.extend(verdict_tests(&mut t.smoothed_verdicts));
    }
    family(welch);
    family(paired);
    family(claims);
    family(smoothed);
}

/// Every comparison's p of a set of verdicts.
fn verdict_tests(verdicts: &mut [Verdict]) -> impl Iterator<Item = &mut PValue> {
    verdicts
        .iter_mut()
        .flat_map(|v| v.conditions.iter_mut())
        .flat_map(|c| c.comparisons.iter_mut().map(|c| &mut c.p))
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
                diverged: runs.diverged(label),
                unfinished: all
                    .iter()
                    .filter(|r| r.summary.is_none() || is(r, RunStatus::Interrupted))
                    .count(),
                train_loss: runs.final_train_loss_mean(label),
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
                && a.flip == b.flip
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
        let per_epoch = |f: fn(&EpochMetrics) -> Option<f64>| {
            let series: Vec<Vec<f64>> = done
                .iter()
                .map(|r| r.epochs.iter().map(|e| f(e).unwrap_or(f64::NAN)).collect())
                .collect();
            from_one(band(&series))
        };
        train.push((o.label.clone(), from_one(band(&smoothed))));
        vloss.push((o.label.clone(), per_epoch(|e| e.valid_loss)));
        vacc.push((o.label.clone(), per_epoch(|e| e.valid_accuracy)));
    }
    (train, vloss, vacc)
}
