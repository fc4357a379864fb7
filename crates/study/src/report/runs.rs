//! A dataset's runs as samples over seeds: which epoch a number comes from ([`At`]), a
//! metric's value in a summary, and the two tests of one comparison ([`Tests`], each p-value
//! with its Holm adjustment). Shared by the aggregation, the published rows and the verdicts.

use super::load::RunRecord;
use super::stats::{Sample, paired_p, welch_p};
use crate::claim::Metric;
use crate::run_dir::{RunStatus, Summary};

/// A p-value and its Holm–Bonferroni adjustment within its family.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PValue {
    /// As tested.
    pub raw: Option<f64>,
    /// Adjusted for the family's other tests.
    pub holm: Option<f64>,
}

impl PValue {
    /// An unadjusted p-value (adjusted later, within its family).
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
    pub(super) records: Vec<&'a RunRecord>,
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

    /// (seed, value) of every completed run of `label` that has the value.
    pub(super) fn sample(&self, label: &str, f: impl Fn(&Summary) -> Option<f64>) -> Sample {
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

pub(super) fn is(run: &RunRecord, status: RunStatus) -> bool {
    run.summary.as_ref().is_some_and(|s| s.status == status)
}
