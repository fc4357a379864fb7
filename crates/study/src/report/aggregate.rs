//! The pure core of a report: from the runs of a suite to one [`DatasetTable`] per dataset
//! (per-optimizer statistics and tests against the baseline, reset/keep pairs, the seed's
//! published numbers beside ours, verdicts on the seed's claims, curves) and the [`Findings`]
//! across them. No I/O: unit-tested on hand-made runs.
//!
//! Every comparison is decided by one pre-registered test ([`Tests`]: the paired test over the
//! seeds both sides share, rank-based where a value is infinite), and each distinct comparison is
//! tested once per family: every comparison of a report on final-epoch values (the tables
//! against the baseline, reset against keep, and the verdicts' comparisons) is one
//! Holm–Bonferroni family, the verdicts' comparisons on the smoothed curve another ([`Families`]).
//! A comparison that appears in a table and in a verdict is the same test with the same adjusted
//! p, so it cannot read "significant" in one place and "inconclusive" in another.

use super::load::RunRecord;
use super::power::ALPHA;
use super::published::{PublishedRow, published_rows};
pub use super::runs::{At, PValue, Tests, metric_value};
use super::runs::{DatasetRuns, is};
use super::stats::{Sample, band, holm, holm_levels, smooth};
use super::verdict::{PartBody, Verdict, verdicts};
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
    /// One line per table comparison significant at 5 % after Holm–Bonferroni.
    pub significant: Vec<String>,
    /// Whether some comparison could not be tested (too few runs, no variance).
    pub untestable: bool,
    /// Comparisons of the tables (against the baseline, reset against keep).
    pub tests_run: usize,
    /// Of those, the ones with a test (enough runs on both sides, some variance).
    pub tested: usize,
    /// The report's families of tests.
    pub families: Families,
}

/// The report's Holm–Bonferroni families: how many distinct comparisons each holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Families {
    /// Every distinct comparison on final-epoch values: the tables and the verdicts.
    pub final_epoch: usize,
    /// Of those, the tables' (against the baseline, reset against keep).
    pub final_tables: usize,
    /// Every distinct comparison of the verdicts on the smoothed curve (0 without smoothing).
    pub smoothed: usize,
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
    let families = adjust(&mut tables);
    let findings = Findings {
        families,
        ..findings(&tables)
    };
    (tables, findings)
}

/// What makes two comparisons the same: the dataset, the metric, both sides and the margin
/// moved onto the other side (a comparison without a margin is the same in either order).
#[derive(Debug, Clone, PartialEq)]
struct Key {
    dataset: String,
    metric: Metric,
    sides: (String, String),
    shift: f64,
}

impl Key {
    fn new(dataset: &str, metric: Metric, a: &str, b: &str, shift: f64) -> Self {
        let sides = if shift == 0.0 && a > b {
            (b.to_string(), a.to_string())
        } else {
            (a.to_string(), b.to_string())
        };
        Key {
            dataset: dataset.to_string(),
            metric,
            sides,
            shift,
        }
    }
}

/// Holm–Bonferroni within each family: every distinct comparison on final-epoch values (the
/// tables and the verdicts; the question "what do these runs show"), and every distinct
/// comparison of the verdicts on the smoothed curve (do the seed's conclusions hold as it
/// measured them). A comparison met twice in a family is tested once: every place it appears
/// gets the same adjusted p and the same Holm level.
fn adjust(tables: &mut [DatasetTable]) -> Families {
    let mut in_tables: Vec<(Key, &mut Tests)> = Vec::new();
    let mut in_verdicts: Vec<(Key, &mut Tests)> = Vec::new();
    let mut smoothed: Vec<(Key, &mut Tests)> = Vec::new();
    for t in tables.iter_mut() {
        let baseline = t.rows.iter().find(|r| r.baseline).map(|r| r.label.clone());
        let dataset = t.dataset.clone();
        for r in t.rows.iter_mut().filter(|r| !r.baseline) {
            let b = baseline.as_deref().unwrap_or_default();
            let key = |m| Key::new(&dataset, m, &r.label, b, 0.0);
            in_tables.push((key(Metric::Accuracy), &mut r.accuracy_tests));
            in_tables.push((key(Metric::ValidLoss), &mut r.loss_tests));
        }
        for p in t.pairs.iter_mut() {
            let key = |m| Key::new(&dataset, m, &p.reset, &p.keep, 0.0);
            in_tables.push((key(Metric::Accuracy), &mut p.accuracy_tests));
            in_tables.push((key(Metric::ValidLoss), &mut p.loss_tests));
        }
        in_verdicts.extend(verdict_tests(&dataset, &mut t.verdicts));
        smoothed.extend(verdict_tests(&dataset, &mut t.smoothed_verdicts));
    }
    let final_tables = distinct(in_tables.iter().map(|(k, _)| k)).len();
    in_tables.extend(in_verdicts);
    Families {
        final_epoch: family(in_tables),
        final_tables,
        smoothed: family(smoothed),
    }
}

/// The distinct keys, in their first order.
fn distinct<'a>(keys: impl Iterator<Item = &'a Key>) -> Vec<&'a Key> {
    let mut seen: Vec<&Key> = Vec::new();
    for key in keys {
        if !seen.contains(&key) {
            seen.push(key);
        }
    }
    seen
}

/// Adjusts one family over its distinct comparisons; returns how many there are.
fn family(slots: Vec<(Key, &mut Tests)>) -> usize {
    let mut keys: Vec<Key> = Vec::new();
    let mut raw: Vec<Option<f64>> = Vec::new();
    for (key, tests) in &slots {
        if !keys.contains(key) {
            keys.push(key.clone());
            raw.push(tests.p.raw);
        }
    }
    let (adjusted, levels) = (holm(&raw), holm_levels(&raw, ALPHA));
    for (key, tests) in slots {
        if let Some(i) = keys.iter().position(|k| *k == key) {
            tests.p.holm = adjusted[i];
            tests.p.level = levels[i];
        }
    }
    keys.len()
}

/// Every replica comparison of a set of verdicts, with its key.
fn verdict_tests<'a>(dataset: &str, verdicts: &'a mut [Verdict]) -> Vec<(Key, &'a mut Tests)> {
    let mut slots = Vec::new();
    for part in verdicts.iter_mut().flat_map(|v| v.parts.iter_mut()) {
        let PartBody::Replica(conditions) = &mut part.body else {
            continue;
        };
        for c in conditions.iter_mut() {
            for x in c.comparisons.iter_mut() {
                let key = Key::new(
                    dataset,
                    c.condition.metric,
                    &c.condition.label,
                    &x.other,
                    x.shift,
                );
                slots.push((key, &mut x.tests));
            }
        }
    }
    slots
}

/// The significant comparisons, in the tables' order.
fn findings(tables: &[DatasetTable]) -> Findings {
    let mut findings = Findings::default();
    let mut note = |what: String, d: Option<f64>, digits: usize, tests: &Tests| {
        findings.tests_run += 1;
        findings.tested += usize::from(!tests.untestable());
        findings.untestable |= tests.untestable();
        if tests.significant() {
            findings.significant.push(format!(
                "{what} {} ({} p = {}, Holm {})",
                d.map_or("–".into(), |d| format!("{d:+.digits$}")),
                tests.kind,
                p_text(tests.p.raw),
                p_text(tests.p.holm),
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
