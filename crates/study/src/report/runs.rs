//! A dataset's runs as samples over seeds: which epoch a number comes from ([`At`]: final,
//! best-valid-loss checkpoint, or the smoothed curve the seed published), what a diverged run
//! counts as ([`diverged_value`]: every run stays in the sample), and the one test that decides a
//! comparison ([`Tests`], its p-value with its Holm adjustment). Shared by the aggregation, the
//! published rows and the verdicts.

use super::load::RunRecord;
use super::rank::{rank_sum_p, signed_rank_p};
use super::stats::{Sample, paired_p, welch_p};
use crate::claim::Metric;
use crate::run_dir::{EpochMetrics, RunStatus, Summary, debiased_ema};

/// A p-value, its Holm–Bonferroni adjustment within its family, and the level Holm tests it at.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PValue {
    /// As tested.
    pub raw: Option<f64>,
    /// Adjusted for the family's other tests.
    pub holm: Option<f64>,
    /// The level Holm's step-down tests the raw p at (α/(m − r + 1) for the r-th smallest of
    /// the family's m): what the power of this comparison is computed at.
    pub level: Option<f64>,
}

impl PValue {
    /// An unadjusted p-value (adjusted later, within its family).
    pub fn new(raw: Option<f64>) -> Self {
        PValue {
            raw,
            holm: raw,
            level: raw.map(|_| super::power::ALPHA),
        }
    }

    /// Whether the adjusted p is below 5 %.
    pub fn significant(&self) -> bool {
        self.holm.is_some_and(|p| p < super::power::ALPHA)
    }
}

/// The test a comparison used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TestKind {
    /// Paired t-test over shared seeds.
    #[default]
    Paired,
    /// Wilcoxon signed-rank test over shared seeds (a value was infinite).
    SignedRank,
    /// Welch's t-test (fewer than two shared seeds).
    Welch,
    /// Wilcoxon rank-sum (Mann–Whitney) test (fewer than two shared seeds, a value infinite).
    RankSum,
}

impl std::fmt::Display for TestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TestKind::Paired => "paired",
            TestKind::Welch => "Welch",
            TestKind::SignedRank => "signed-rank",
            TestKind::RankSum => "rank-sum",
        })
    }
}

/// One comparison and its one pre-registered test: the paired t-test over the seeds both sides
/// share (same initial weights, same data order), or the Wilcoxon signed-rank test where a
/// value is infinite (a diverged run's loss); their unpaired counterparts (Welch's, rank-sum)
/// only where fewer than two seeds are shared. That test alone decides, everywhere in a report.
/// Welch's test (rank-sum) is kept beside it as a raw p-value that decides nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Tests {
    /// The deciding test.
    pub kind: TestKind,
    /// Its p-value, adjusted within its family.
    pub p: PValue,
    /// Welch's unequal-variances t-test (the rank-sum test where a value is infinite), raw:
    /// shown, never adjusted, never deciding.
    pub welch: Option<f64>,
}

impl Tests {
    /// The deciding test of `a` against `b`, and Welch's beside it.
    pub fn of(a: &Sample, b: &Sample) -> Self {
        let finite = a.all_finite() && b.all_finite();
        let (paired, welch) = if finite {
            (paired_p(&a.0, &b.0), welch_p(&a.values(), &b.values()))
        } else {
            (
                signed_rank_p(&a.0, &b.0),
                rank_sum_p(&a.values(), &b.values()),
            )
        };
        let (kind, p) = match (paired, finite) {
            (Some(_), true) => (TestKind::Paired, paired),
            (Some(_), false) => (TestKind::SignedRank, paired),
            (None, true) => (TestKind::Welch, welch),
            (None, false) => (TestKind::RankSum, welch),
        };
        Tests {
            kind,
            p: PValue::new(p),
            welch,
        }
    }

    /// Whether the deciding test is significant after adjustment.
    pub fn significant(&self) -> bool {
        self.p.significant()
    }

    /// Whether no test could run.
    pub fn untestable(&self) -> bool {
        self.p.raw.is_none()
    }
}

/// Which epoch of a run a number comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum At {
    /// The last epoch.
    Final,
    /// The epoch of the lowest validation loss: the checkpoint fastai's callback saved and
    /// reloaded, chosen on the validation split (the test split for CIFAR and Imagenette). Not
    /// what the seed published.
    BestValidLoss,
    /// The debiased exponential moving average over the run's epochs with this weight per
    /// epoch: how the seed's charts smoothed the numbers it published (see
    /// [`crate::suite::Smoothing`]).
    Smoothed(f64),
}

/// What a diverged run counts as, at every epoch from the one it diverged in: what fastai
/// 1.0.59, which trained on through a non-finite loss, would have reported. Its weights are then
/// NaN, so every loss is NaN (counted as +∞: worse than any finite loss, ties with other
/// diverged runs) and every prediction is the first class (PyTorch's `argmax` over NaN logits),
/// which on these balanced validation sets is chance: 100/C % top-1, 100·min(5, C)/C % top-5.
pub fn diverged_value(metric: Metric, classes: usize) -> f64 {
    let c = classes.max(1) as f64;
    match metric {
        Metric::TrainLoss | Metric::ValidLoss => f64::INFINITY,
        Metric::Accuracy => 100.0 / c,
        Metric::Top5 => 100.0 * c.min(5.0) / c,
    }
}

/// `metric` of one epoch (the train loss is fastai's smoothed one where recorded, else the
/// epoch mean).
pub fn epoch_value(e: &EpochMetrics, metric: Metric) -> Option<f64> {
    match metric {
        Metric::TrainLoss => e.train_loss_smoothed.or(Some(e.train_loss)),
        Metric::ValidLoss => e.valid_loss,
        Metric::Accuracy => e.valid_accuracy,
        Metric::Top5 => e.valid_top5_accuracy,
    }
}

/// The value of `metric` in a completed run's summary, at the final epoch or the lowest
/// validation loss's (the train loss is fastai's smoothed one where the run recorded it, else
/// the epoch mean). `None` for [`At::Smoothed`], which needs every epoch.
pub fn metric_value(s: &Summary, metric: Metric, at: At) -> Option<f64> {
    match at {
        At::Final => match metric {
            Metric::TrainLoss => s.final_train_loss_smoothed.or(s.final_train_loss),
            Metric::ValidLoss => s.final_valid_loss,
            Metric::Accuracy => s.final_valid_accuracy,
            Metric::Top5 => s.final_valid_top5_accuracy,
        },
        At::BestValidLoss => epoch_value(s.best_valid_loss_epoch.as_ref()?, metric),
        At::Smoothed(_) => None,
    }
}

/// The runs of one dataset, by label, and what their numbers mean.
pub(super) struct DatasetRuns<'a> {
    pub(super) records: Vec<&'a RunRecord>,
    /// The dataset's classes (for a diverged run's chance accuracy).
    pub(super) classes: usize,
    /// The epochs each run was asked for (a diverged run's curve is filled up to them).
    pub(super) epochs: usize,
}

impl<'a> DatasetRuns<'a> {
    pub(super) fn of(&self, label: &str) -> Vec<&'a RunRecord> {
        self.records
            .iter()
            .copied()
            .filter(|r| r.label == label)
            .collect()
    }

    pub(super) fn complete(&self, label: &str) -> Vec<&'a RunRecord> {
        self.of(label)
            .into_iter()
            .filter(|r| is(r, RunStatus::Complete))
            .collect()
    }

    /// The runs that count: completed and diverged ones (an interrupted or unfinished run has
    /// no result yet).
    pub(super) fn counted(&self, label: &str) -> Vec<&'a RunRecord> {
        self.of(label)
            .into_iter()
            .filter(|r| is(r, RunStatus::Complete) || is(r, RunStatus::Diverged))
            .collect()
    }

    /// Diverged runs of `label`.
    pub(super) fn diverged(&self, label: &str) -> usize {
        self.of(label)
            .iter()
            .filter(|r| is(r, RunStatus::Diverged))
            .count()
    }

    /// `metric` of `label` at epoch `at`, over every run that counts: (seed, value).
    pub(super) fn metric(&self, label: &str, metric: Metric, at: At) -> Sample {
        Sample(
            self.counted(label)
                .into_iter()
                .filter_map(|r| Some((r.seed, self.value(r, metric, at)?)))
                .collect(),
        )
    }

    /// The last epoch's mean training loss of `label` (+∞ for a diverged run).
    pub(super) fn final_train_loss_mean(&self, label: &str) -> Sample {
        Sample(
            self.counted(label)
                .into_iter()
                .filter_map(|r| {
                    let s = r.summary.as_ref()?;
                    let v = match s.status {
                        RunStatus::Diverged => f64::INFINITY,
                        _ => s.final_train_loss?,
                    };
                    Some((r.seed, v))
                })
                .collect(),
        )
    }

    /// One run's value; a diverged run's under the rule of [`diverged_value`].
    fn value(&self, r: &RunRecord, metric: Metric, at: At) -> Option<f64> {
        let s = r.summary.as_ref()?;
        let diverged = s.status == RunStatus::Diverged;
        match at {
            At::Final if diverged => Some(diverged_value(metric, self.classes)),
            At::Final | At::BestValidLoss => metric_value(s, metric, at),
            At::Smoothed(weight) => {
                let mut series: Vec<f64> = r
                    .epochs
                    .iter()
                    .map(|e| epoch_value(e, metric))
                    .collect::<Option<_>>()?;
                if diverged {
                    let fill = self.epochs.max(series.len() + 1);
                    series.resize(fill, diverged_value(metric, self.classes));
                }
                debiased_ema(&series, weight)
            }
        }
    }
}

pub(super) fn is(run: &RunRecord, status: RunStatus) -> bool {
    run.summary.as_ref().is_some_and(|s| s.status == status)
}
