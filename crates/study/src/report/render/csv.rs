//! The report's CSV files (with the `csv` crate).

use super::super::aggregate::DatasetTable;
use super::super::load::RunRecord;
use super::super::published::placement;
use super::super::stats::{Sample, Stats};
use crate::suite::Suite;

/// CSV text with the given header and rows (fields quoted where needed).
fn csv_text(
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header)?;
    for row in rows {
        writer.write_record(&row)?;
    }
    writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write CSV: {e}"))
}

/// `results.csv`: one row per run.
pub fn results_csv(suite: &Suite, records: &[RunRecord]) -> anyhow::Result<Vec<u8>> {
    let rows = records.iter().map(|rec| {
        let spec = suite
            .optimizers
            .iter()
            .find(|o| o.label == rec.label)
            .map_or(String::new(), |o| o.spec.to_string());
        let mut row = vec![
            rec.dataset.clone(),
            rec.label.clone(),
            spec,
            rec.seed.to_string(),
        ];
        match &rec.summary {
            Some(s) => row.extend([
                format!("{:?}", s.status),
                s.epochs_completed.to_string(),
                opt(s.final_train_loss),
                opt(s.final_valid_loss),
                opt(s.final_valid_accuracy),
                opt(s.best_valid_accuracy),
                opt(s.final_train_loss_smoothed),
                opt(s.final_valid_top5_accuracy),
                s.best_valid_loss_epoch
                    .as_ref()
                    .map_or(String::new(), |e| e.epoch.to_string()),
                format!("{:.1}", s.wall_time_s),
                format!("{:.1}", s.images_per_s),
                s.backend.backend.clone(),
                s.backend.device.clone(),
                format!("{:.1}", s.training_time_s()),
                s.backend.cpu_simd.clone().unwrap_or_default(),
                s.provenance
                    .as_ref()
                    .and_then(|p| p.git_commit.clone())
                    .unwrap_or_default(),
            ]),
            None => {
                row.push("missing".into());
                row.extend(std::iter::repeat_n(String::new(), 15));
            }
        }
        row
    });
    csv_text(
        &[
            "dataset",
            "optimizer",
            "spec",
            "seed",
            "status",
            "epochs_completed",
            "final_train_loss",
            "final_valid_loss",
            "final_valid_accuracy",
            "best_valid_accuracy",
            "final_train_loss_smoothed",
            "final_valid_top5_accuracy",
            "best_valid_loss_epoch",
            "wall_time_s",
            "images_per_s",
            "backend",
            "device",
            "total_wall_time_s",
            "cpu_simd",
            "git_commit",
        ],
        rows,
    )
}

/// `epochs.csv`: one row per run and epoch.
pub fn epochs_csv(records: &[RunRecord]) -> anyhow::Result<Vec<u8>> {
    let rows = records.iter().flat_map(|rec| {
        rec.epochs.iter().map(move |e| {
            vec![
                rec.dataset.clone(),
                rec.label.clone(),
                rec.seed.to_string(),
                e.epoch.to_string(),
                e.train_loss.to_string(),
                opt(e.valid_loss),
                opt(e.valid_accuracy),
            ]
        })
    });
    csv_text(
        &[
            "dataset",
            "optimizer",
            "seed",
            "epoch",
            "train_loss",
            "valid_loss",
            "valid_accuracy",
        ],
        rows,
    )
}

/// `summary.csv`: one row per dataset and optimizer.
pub fn summary_csv(tables: &[DatasetTable]) -> anyhow::Result<Vec<u8>> {
    let field = |values: &Sample, std: bool| {
        values.stats().map_or(String::new(), |s| {
            (if std { s.std } else { s.mean }).to_string()
        })
    };
    let rows = tables.iter().flat_map(|t| {
        t.rows.iter().map(move |r| {
            vec![
                t.dataset.clone(),
                r.label.clone(),
                r.valid_accuracy.len().to_string(),
                r.diverged.to_string(),
                field(&r.train_loss, false),
                field(&r.train_loss, true),
                field(&r.valid_loss, false),
                field(&r.valid_loss, true),
                field(&r.valid_accuracy, false),
                field(&r.valid_accuracy, true),
                opt(r.accuracy_tests.welch.raw),
                opt(r.accuracy_tests.welch.holm),
                opt(r.accuracy_tests.paired.raw),
                opt(r.accuracy_tests.paired.holm),
                opt(r.loss_tests.welch.raw),
                opt(r.loss_tests.welch.holm),
                opt(r.loss_tests.paired.raw),
                opt(r.loss_tests.paired.holm),
            ]
        })
    });
    csv_text(
        &[
            "dataset",
            "optimizer",
            "n",
            "diverged",
            "train_loss_mean",
            "train_loss_std",
            "valid_loss_mean",
            "valid_loss_std",
            "valid_accuracy_mean",
            "valid_accuracy_std",
            "p_accuracy_welch",
            "p_accuracy_welch_holm",
            "p_accuracy_paired",
            "p_accuracy_paired_holm",
            "p_valid_loss_welch",
            "p_valid_loss_welch_holm",
            "p_valid_loss_paired",
            "p_valid_loss_paired_holm",
        ],
        rows,
    )
}

/// `published.csv`: the seed's published numbers beside the replica's, one row per dataset,
/// optimizer and metric (empty but for the header when the suite has none).
pub fn published_csv(tables: &[DatasetTable]) -> anyhow::Result<Vec<u8>> {
    let stat =
        |s: &Sample, f: fn(Stats) -> f64| s.stats().map_or(String::new(), |x| f(x).to_string());
    let rows = tables.iter().flat_map(|t| {
        t.published.iter().map(move |r| {
            vec![
                t.dataset.clone(),
                r.label.clone(),
                r.metric.to_string(),
                r.published.to_string(),
                r.erratum
                    .as_ref()
                    .map_or(String::new(), |(printed, _)| printed.to_string()),
                r.final_epoch.len().to_string(),
                r.smoothed
                    .as_ref()
                    .map_or(String::new(), |s| stat(s, |x| x.mean)),
                r.smoothed
                    .as_ref()
                    .map_or(String::new(), |s| stat(s, |x| x.std)),
                r.smoothed
                    .as_ref()
                    .map_or(String::new(), |s| placement(r.published, s).to_string()),
                stat(&r.final_epoch, |x| x.mean),
                stat(&r.final_epoch, |x| x.std),
                placement(r.published, &r.final_epoch).to_string(),
                stat(&r.best_loss_epoch, |x| x.mean),
                stat(&r.best_loss_epoch, |x| x.std),
                placement(r.published, &r.best_loss_epoch).to_string(),
            ]
        })
    });
    csv_text(
        &[
            "dataset",
            "optimizer",
            "metric",
            "published",
            "printed_erratum",
            "n",
            "smoothed_mean",
            "smoothed_std",
            "smoothed_where",
            "final_mean",
            "final_std",
            "final_where",
            "best_valid_loss_epoch_mean",
            "best_valid_loss_epoch_std",
            "best_valid_loss_epoch_where",
        ],
        rows,
    )
}

/// `verdicts.csv`: one row per dataset, extraction (final, smoothed), claim, condition and
/// comparison, with the claim's and the condition's outcome.
pub fn verdicts_csv(tables: &[DatasetTable]) -> anyhow::Result<Vec<u8>> {
    let mut rows = Vec::new();
    for t in tables {
        let sets = [("final", &t.verdicts), ("smoothed", &t.smoothed_verdicts)];
        for (at, verdicts) in sets {
            for v in verdicts {
                for c in &v.conditions {
                    for x in &c.comparisons {
                        rows.push(vec![
                            t.dataset.clone(),
                            at.to_string(),
                            v.claim.clone(),
                            v.outcome().to_string(),
                            opt_bool(v.on_published()),
                            c.condition.metric.to_string(),
                            c.condition.label.clone(),
                            format!("{:?}", c.condition.is).to_lowercase(),
                            x.other.clone(),
                            opt(c.sample.center()),
                            opt(x.other_sample.center()),
                            c.sample.len().to_string(),
                            x.other_sample.len().to_string(),
                            c.diverged.to_string(),
                            opt_bool(x.holds),
                            x.test.to_string(),
                            opt(x.p.raw),
                            opt(x.p.holm),
                            opt(x.power.mde),
                            x.power.n_needed.map_or(String::new(), |n| n.to_string()),
                        ]);
                    }
                }
            }
        }
    }
    csv_text(
        &[
            "dataset",
            "at",
            "claim",
            "outcome",
            "holds_on_published",
            "metric",
            "optimizer",
            "relation",
            "other",
            "value",
            "other_value",
            "n",
            "other_n",
            "diverged_runs",
            "holds",
            "test",
            "p",
            "p_holm",
            "min_detectable_difference",
            "seeds_needed",
        ],
        rows,
    )
}

fn opt_bool(v: Option<bool>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// An optional number as a CSV cell: its shortest round-tripping form, or empty.
fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}
