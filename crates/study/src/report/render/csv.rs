//! The report's CSV files (with the `csv` crate).

use super::super::aggregate::{DatasetTable, Tests};
use super::super::load::RunRecord;
use super::super::published::placement;
use super::super::stats::{Sample, Stats};
use super::super::verdict::{PartBody, PartResult};
use crate::claim::Condition;
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
            ]
            .into_iter()
            .chain(test_fields(&r.accuracy_tests, r.baseline))
            .chain(test_fields(&r.loss_tests, r.baseline))
            .collect::<Vec<String>>()
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
            "accuracy_test",
            "p_accuracy",
            "p_accuracy_holm",
            "p_accuracy_welch_not_deciding",
            "valid_loss_test",
            "p_valid_loss",
            "p_valid_loss_holm",
            "p_valid_loss_welch_not_deciding",
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

/// The deciding test's name, p and adjusted p, and Welch's raw p beside them (empty for the
/// baseline).
fn test_fields(t: &Tests, baseline: bool) -> [String; 4] {
    if baseline {
        return Default::default();
    }
    [
        t.kind.to_string(),
        opt(t.p.raw),
        opt(t.p.holm),
        opt(t.welch),
    ]
}

/// `verdicts.csv`: one row per dataset, extraction (final, smoothed), claim, part and
/// comparison (one row for a part not testable here), with the claim's and the part's outcome.
pub fn verdicts_csv(tables: &[DatasetTable]) -> anyhow::Result<Vec<u8>> {
    let mut rows = Vec::new();
    for t in tables {
        let sets = [("final", &t.verdicts), ("smoothed", &t.smoothed_verdicts)];
        for (at, verdicts) in sets {
            for v in verdicts {
                for (i, part) in v.parts.iter().enumerate() {
                    let head = vec![
                        t.dataset.clone(),
                        at.to_string(),
                        v.claim.quote.clone().unwrap_or_else(|| "hypothesis".into()),
                        v.outcome().to_string(),
                        opt_bool(v.on_published()),
                        i.to_string(),
                        format!("{:?}", part.part.role).to_lowercase(),
                        part.part.words.clone(),
                        part.outcome().to_string(),
                    ];
                    for tail in part_rows(part) {
                        rows.push(head.iter().cloned().chain(tail).collect());
                    }
                }
            }
        }
    }
    csv_text(&VERDICT_COLUMNS, rows)
}

const VERDICT_COLUMNS: [&str; 27] = [
    "dataset",
    "at",
    "claim",
    "claim_outcome",
    "holds_on_published",
    "part",
    "role",
    "words",
    "part_outcome",
    "evidence",
    "not_testable_because",
    "metric",
    "optimizer",
    "relation",
    "other",
    "margin",
    "value",
    "other_value",
    "n",
    "other_n",
    "diverged_runs",
    "holds",
    "test",
    "p",
    "p_holm",
    "holm_level",
    "seeds_needed_at_holm_level",
];

/// The columns after the part's, one row per comparison (18 fields each).
fn part_rows(part: &PartResult) -> Vec<Vec<String>> {
    let condition = |c: &Condition, other: &str| {
        vec![
            c.metric.to_string(),
            c.label.clone(),
            format!("{:?}", c.is).to_lowercase(),
            other.to_string(),
            opt(c.margin),
        ]
    };
    match &part.body {
        PartBody::NotTestable(why) => {
            let mut row = vec!["replica".to_string(), why.clone()];
            row.resize(18, String::new());
            vec![row]
        }
        PartBody::SeedTables(checks) => checks
            .iter()
            .flat_map(|c| {
                c.others.iter().map(|(other, theirs, holds)| {
                    let mut row = vec!["seed_tables".to_string(), String::new()];
                    row.extend(condition(&c.condition, other));
                    row.extend([c.value.to_string(), theirs.to_string()]);
                    row.extend([String::new(), String::new(), String::new()]);
                    row.push(holds.to_string());
                    row.resize(18, String::new());
                    row
                })
            })
            .collect(),
        PartBody::Replica(conditions) => conditions
            .iter()
            .flat_map(|c| {
                c.comparisons.iter().map(|x| {
                    let mut row = vec!["replica".to_string(), String::new()];
                    row.extend(condition(&c.condition, &x.other));
                    let power = x.power(&c.sample);
                    row.extend([
                        opt(c.sample.center()),
                        opt(x.other_sample.center()),
                        c.sample.len().to_string(),
                        x.other_sample.len().to_string(),
                        c.diverged.to_string(),
                        opt_bool(x.holds),
                        x.tests.kind.to_string(),
                        opt(x.tests.p.raw),
                        opt(x.tests.p.holm),
                        opt(x.tests.p.level),
                        power.n_needed.map_or(String::new(), |n| n.to_string()),
                    ]);
                    row
                })
            })
            .collect(),
    }
}

fn opt_bool(v: Option<bool>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// An optional number as a CSV cell: its shortest round-tripping form, or empty.
fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}
