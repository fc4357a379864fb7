//! The report's core, end to end on hand-made runs: aggregation, published rows, verdicts and
//! their rendering.

use super::aggregate::*;
use super::load::RunRecord;
use crate::claim::Metric;
use crate::run_dir::{BackendInfo, RunStatus, Summary};
use crate::suite::Suite;

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
    s.best_valid_loss_epoch = Some(crate::run_dir::EpochMetrics {
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
    use super::verdict::{Outcome, TestKind};
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
    use super::published::Placement;
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
    match super::published::placement(train.published, &train.final_epoch) {
        Placement::Below { z: Some(z) } => assert!((z + 2.0).abs() < 1e-9),
        other => panic!("{other:?}"),
    }
    // Accuracy: final mean 52, std 1.5 (z = +2); best-loss epoch mean 53 (z = +1.33).
    let acc = &rows[1];
    assert_eq!(acc.best_loss_epoch.values(), vec![53.0, 54.5, 51.5]);
    let md = super::render::published_section(&tables[0], suite.published_source.as_deref());
    assert!(md.contains("Published: p. 7."), "{md}");
    assert!(
        md.contains("| la-keep | accuracy (%) | 55 | 52.00 ± 1.50 | above all (z = +2.0) | 53.00 ± 1.50 | above all (z = +1.3) |"),
        "{md}"
    );
    let csv = String::from_utf8(super::render::published_csv(&tables).unwrap()).unwrap();
    assert!(
        csv.contains(
            "fashion-mnist-embedded,la-keep,accuracy,55,3,52,1.5,above all (z = +2.0),53,1.5"
        ),
        "{csv}"
    );
}
