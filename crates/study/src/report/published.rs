//! The seed study's published numbers beside the replica's: one row per optimizer and metric
//! that the suite gives a published value for, with the replica's values extracted as the seed
//! extracted its own (the smoothed curve's last point, [`At::Smoothed`]: like with like), at the
//! final epoch, and at the epoch of the lowest validation loss (the checkpoint fastai saved,
//! chosen on the test split; not what was published), and where the published value falls in
//! the replica's spread. A printed value that the seed's logs contradict (an erratum) is
//! compared through the logged value, and the row says so.

use std::fmt;

use super::runs::{At, DatasetRuns};
use super::stats::Sample;
use crate::claim::Metric;
use crate::suite::Suite;

/// One published number and the replica's values of the same metric.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedRow {
    /// The optimizer's label.
    pub label: String,
    /// The metric.
    pub metric: Metric,
    /// The value compared with: the seed's published value, or the logged one where an
    /// erratum corrects it.
    pub published: f64,
    /// The value as printed, and the erratum's note, where the two differ.
    pub erratum: Option<(f64, String)>,
    /// The replica's values extracted as the seed's were (smoothed over epochs), when the suite
    /// gives the smoothing.
    pub smoothed: Option<Sample>,
    /// The replica's values at the final epoch.
    pub final_epoch: Sample,
    /// The replica's values at each run's lowest-validation-loss epoch.
    pub best_loss_epoch: Sample,
}

/// Where a published value falls among the replica's values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Placement {
    /// No completed run has the metric.
    NoRuns,
    /// Below every replica value.
    Below {
        /// Standard score (published − mean)/std, when the values vary.
        z: Option<f64>,
    },
    /// Between the smallest and the largest replica value (inclusive).
    Inside {
        /// Standard score, when the values vary.
        z: Option<f64>,
    },
    /// Above every replica value.
    Above {
        /// Standard score, when the values vary.
        z: Option<f64>,
    },
}

/// Where `value` falls in `sample`'s spread.
pub fn placement(value: f64, sample: &Sample) -> Placement {
    let Some(stats) = sample.stats() else {
        return Placement::NoRuns;
    };
    let values = sample.values();
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let z = (stats.std > 0.0).then(|| (value - stats.mean) / stats.std);
    if value < lo {
        Placement::Below { z }
    } else if value > hi {
        Placement::Above { z }
    } else {
        Placement::Inside { z }
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (word, z) = match *self {
            Placement::NoRuns => return f.write_str("–"),
            Placement::Below { z } => ("below all", z),
            Placement::Inside { z } => ("inside", z),
            Placement::Above { z } => ("above all", z),
        };
        match z {
            Some(z) if z.abs() >= 1e4 => write!(f, "{word} (z = {z:+.1e})"),
            Some(z) => write!(f, "{word} (z = {z:+.1})"),
            None => f.write_str(word),
        }
    }
}

/// The published rows of a dataset, in the suite's order of optimizers and [`Metric::ALL`].
pub(super) fn published_rows(
    suite: &Suite,
    runs: &DatasetRuns<'_>,
    smoothing: Option<f64>,
) -> Vec<PublishedRow> {
    let mut rows = Vec::new();
    for o in &suite.optimizers {
        let Some(published) = &o.published else {
            continue;
        };
        for metric in Metric::ALL {
            if let Some(value) = published.get(metric) {
                rows.push(PublishedRow {
                    label: o.label.clone(),
                    metric,
                    published: value,
                    erratum: published
                        .erratum(metric)
                        .zip(published.printed(metric))
                        .map(|(e, printed)| (printed, e.note.clone())),
                    smoothed: smoothing.map(|w| runs.metric(&o.label, metric, At::Smoothed(w))),
                    final_epoch: runs.metric(&o.label, metric, At::Final),
                    best_loss_epoch: runs.metric(&o.label, metric, At::BestValidLoss),
                });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_says_where_the_published_value_falls() {
        let sample = Sample(vec![(1, 80.0), (2, 82.0), (3, 84.0)]);
        // mean 82, std 2.
        assert_eq!(placement(85.0, &sample), Placement::Above { z: Some(1.5) });
        assert_eq!(
            placement(81.0, &sample),
            Placement::Inside { z: Some(-0.5) }
        );
        assert_eq!(placement(70.0, &sample), Placement::Below { z: Some(-6.0) });
        assert_eq!(placement(84.0, &sample).to_string(), "inside (z = +1.0)");
        assert_eq!(
            placement(1.0, &Sample(vec![(1, 2.0)])).to_string(),
            "below all"
        );
        assert_eq!(placement(1.0, &Sample::default()), Placement::NoRuns);
        // The seed's diverged losses (164 851) are far out: the z-score in scientific notation.
        assert_eq!(
            placement(164_851.2, &Sample(vec![(1, 0.5), (2, 0.6)])).to_string(),
            "above all (z = +2.3e6)"
        );
    }
}
