//! The report's core, end to end on hand-made runs: aggregation, published rows, verdicts and
//! their rendering.

use super::aggregate::*;
use super::load::RunRecord;
use crate::claim::Metric;
use crate::run_dir::{BackendInfo, EpochMetrics, RunStatus, Summary};
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

pub(crate) fn run(label: &str, seed: u64, accuracy: f64, status: RunStatus) -> RunRecord {
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
        total_wall_time_s: Some(1.5),
        images_per_s: 1.0,
        train_images: 1,
        valid_images: 1,
        parameters: 1,
        backend: BackendInfo {
            backend: "flex".into(),
            device: "cpu".into(),
            cpu_simd: Some("x86_64-v4".into()),
        },
        resumed_from_epoch: 0,
        nodes: None,
        provenance: None,
    };
    RunRecord {
        dataset: "fashion-mnist-embedded".into(),
        label: label.into(),
        seed,
        summary: Some(summary),
        epochs: vec![EpochMetrics {
            epoch: 1,
            train_loss: 1.0,
            train_accuracy: 50.0,
            valid_loss: Some(2.0 - accuracy / 100.0),
            valid_accuracy: Some(accuracy),
            lr: 0.1,
            train_loss_smoothed: None,
            valid_top5_accuracy: None,
        }],
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
    records.push(run("sgd", 4, 0.0, RunStatus::Interrupted));
    let (tables, findings) = aggregate(&suite, &records);
    let table = &tables[0];
    let sgd = &table.rows[0];
    assert!(sgd.baseline && sgd.accuracy_tests.p.raw.is_none());
    assert_eq!((sgd.unfinished, sgd.valid_accuracy.len()), (1, 3));
    let reset = &table.rows[1];
    assert!(reset.accuracy_tests.p.raw.unwrap() < 0.05, "{reset:?}");
    assert!(table.rows[2].accuracy_tests.p.raw.unwrap() > 0.05);
    assert_eq!(table.pairs.len(), 1);
    let pair = &table.pairs[0];
    assert_eq!(
        (pair.reset.as_str(), pair.keep.as_str()),
        ("la-reset", "la-keep")
    );
    assert!((pair.accuracy_diff.unwrap() - 29.8).abs() < 1e-9);
    // 2 optimizers against the baseline and one pair, accuracy and loss each: one family.
    assert_eq!(findings.tests_run, 6);
    assert_eq!(findings.families.final_epoch, 6);
    assert_eq!(findings.families.final_tables, 6);
    assert!(
        findings
            .significant
            .iter()
            .any(|s| s.starts_with("`la-reset` vs `sgd`"))
    );
    assert_eq!(table.train_curves.len(), 3);
    assert_eq!(table.valid_accuracy_curves[1].1, vec![(1.0, 80.0, 0.5)]);
}

/// A suite of three optimizers and claims of every outcome (each a hypothesis in its own words,
/// one part per line of `parts`: role, words, conditions).
/// One part: role, words, conditions (TOML).
type PartText = (&'static str, &'static str, String);

fn claims_suite(claims: &[(&str, Vec<PartText>)]) -> String {
    let mut toml = String::from(
        r#"
name = "t"
datasets = ["fashion-mnist-embedded"]
seeds = [1, 2, 3]
published_source = "p. 7"
published_smoothing = { weight = 0.5, epochs = 1, source = "t" }
[[optimizers]]
label = "sgd"
spec = "sgd"
published = { accuracy = 50.0 }
[[optimizers]]
label = "la-keep"
spec = "lookahead(sgd, keep)"
published = { train_loss = 0.2, accuracy = 55.0, errata = [{ metric = "train_loss", logged = 0.25, note = "A copy error." }] }
[[optimizers]]
label = "adamw"
spec = "adamw"
"#,
    );
    for (text, parts) in claims {
        toml.push_str(&format!("[[claims]]\nhypothesis = \"{text}\"\n"));
        for (role, words, conditions) in parts {
            toml.push_str(&format!(
                "[[claims.parts]]\nwords = \"{words}\"\nrole = \"{role}\"\n{conditions}\n"
            ));
        }
    }
    toml
}

const ACC: &str = "metric = \"accuracy\"";

fn claims() -> String {
    let c = |rest: &str| format!("conditions = [{{ {ACC}, {rest} }}]");
    let (highest, lowest) = (
        c("label = \"la-keep\", is = \"highest\""),
        c("label = \"adamw\", is = \"lowest\""),
    );
    let sgd_beats_la = c("label = \"sgd\", is = \"above\", other = \"la-keep\"");
    let la_beats_adamw = c("label = \"la-keep\", is = \"above\", other = \"adamw\"");
    let top5 =
        "conditions = [{ metric = \"top5\", label = \"la-keep\", is = \"lowest\" }]".to_string();
    let among = c("label = \"la-keep\", is = \"highest\", among = [\"adamw\"]");
    let sgd_highest = c("label = \"sgd\", is = \"highest\"");
    let converged = format!(
        "needs = [\"convergence\"]\n{}",
        c("label = \"la-keep\", is = \"lowest\"")
    );
    let on_tables = format!(
        "on = \"seed_tables\"\n{}",
        c("label = \"la-keep\", is = \"above\", other = \"sgd\"")
    );
    let margin = c("label = \"la-keep\", is = \"below\", other = \"sgd\", margin = 5");
    let claims: Vec<(&str, Vec<PartText>)> = vec![
        (
            "LA is the most accurate",
            vec![("assertion", "LA is the most accurate", highest)],
        ),
        (
            "AdamW is the least accurate",
            vec![("assertion", "AdamW is the least accurate", lowest)],
        ),
        (
            "SGD beats LA",
            vec![("assertion", "SGD beats LA", sgd_beats_la.clone())],
        ),
        (
            "LA has the worst top-5",
            vec![("assertion", "LA has the worst top-5", top5)],
        ),
        (
            "LA beats AdamW",
            vec![("assertion", "LA beats AdamW", among)],
        ),
        (
            "Since SGD beats LA, LA beats AdamW",
            vec![
                ("premise", "SGD beats LA", sgd_beats_la.clone()),
                ("assertion", "LA beats AdamW", la_beats_adamw.clone()),
            ],
        ),
        (
            "SGD is the most accurate",
            vec![("assertion", "SGD is the most accurate", sgd_highest)],
        ),
        (
            "LA converges worst and beats AdamW",
            vec![
                ("assertion", "LA converges worst", converged),
                ("assertion", "beats AdamW", la_beats_adamw),
            ],
        ),
        (
            "The tables show LA above SGD",
            vec![
                ("assertion", "The tables show LA above SGD", on_tables),
                ("mechanism", "LA above SGD", sgd_beats_la),
            ],
        ),
        (
            "LA loses to SGD by less than 5",
            vec![("assertion", "LA loses to SGD by less than 5", margin)],
        ),
    ];
    claims_suite(&claims)
}

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

/// One test decides each comparison; `highest`/`lowest` test every competitor; one Holm family
/// holds every distinct comparison of the tables and the verdicts, so a comparison met in both
/// has one adjusted p; every outcome. Reference values: scipy 1.16 (`ttest_rel`, `ttest_ind`
/// with `equal_var=False`) on the same numbers, Holm by hand: p = [acc la–sgd 0.0202041, loss
/// la–sgd 0.0202041, acc adamw–sgd (Welch: every paired difference is −10) 0.000255217, loss
/// adamw–sgd ≈ 0, acc la–adamw 0.000578202, la − (sgd + 5) 0.00913261] → Holm [0.0404082,
/// 0.0404082, 0.00127608, ≈ 0, 0.00231281, 0.0273978].
#[test]
fn verdicts_are_decided_once_over_every_competitor() {
    use super::runs::TestKind;
    use super::verdict::Outcome;
    let suite = Suite::parse(&claims(), "t").unwrap();
    let (tables, findings) = aggregate(&suite, &claim_records());
    let t = &tables[0];
    // la-keep vs sgd, accuracy: ttest_rel p = 0.0202041 decides; Welch 0.137507 is shown.
    let la = &t.rows[1].accuracy_tests;
    assert_eq!(la.kind, TestKind::Paired);
    assert!((la.p.raw.unwrap() - 0.020_204_1).abs() < 1e-6, "{la:?}");
    assert!((la.welch.unwrap() - 0.137_507).abs() < 1e-5, "{la:?}");
    assert!((la.p.holm.unwrap() - 0.040_408_2).abs() < 1e-6, "{la:?}");
    // Six distinct comparisons with a p (the top-5 ones have none), four of them the table's.
    assert_eq!(findings.families.final_tables, 4);
    assert_eq!(findings.families.final_epoch, 8);
    let v = &t.verdicts;
    let part = |i: usize| &v[i].parts[0];
    let c = &part(0).conditions()[0];
    let others: Vec<&str> = c.comparisons.iter().map(|x| x.other.as_str()).collect();
    assert_eq!(others, ["sgd", "adamw"]);
    let (sgd, adamw) = (&c.comparisons[0], &c.comparisons[1]);
    assert_eq!((sgd.tests.kind, sgd.holds), (TestKind::Paired, Some(true)));
    // The same comparison in the table and in the verdict: the same adjusted p.
    assert_eq!(sgd.tests.p, la.p);
    assert!(
        (adamw.tests.p.holm.unwrap() - 0.002_312_81).abs() < 1e-8,
        "{adamw:?}"
    );
    assert_eq!(v[0].outcome(), Outcome::Supported);
    // Every difference of adamw − sgd is −10: no paired test, Welch's decides.
    let c = &part(1).conditions()[0].comparisons[0];
    assert_eq!((c.other.as_str(), c.tests.kind), ("sgd", TestKind::Welch));
    assert!(
        (c.tests.p.raw.unwrap() - 0.000_255_217).abs() < 1e-8,
        "{c:?}"
    );
    assert!(
        (c.tests.p.holm.unwrap() - 0.001_276_08).abs() < 1e-8,
        "{c:?}"
    );
    assert_eq!(v[1].outcome(), Outcome::Supported);
    // "SGD beats LA" goes significantly the other way: contradicted, not merely unsupported.
    assert_eq!(part(2).conditions()[0].comparisons[0].holds, Some(false));
    assert_eq!(v[2].outcome(), Outcome::Contradicted);
    // No top-5 values: inconclusive.
    assert_eq!(part(3).conditions()[0].comparisons[0].holds, None);
    assert_eq!(v[3].outcome(), Outcome::Inconclusive);
    // `among` leaves sgd out: only adamw is compared.
    let c = &part(4).conditions()[0];
    assert_eq!(c.comparisons.len(), 1);
    assert_eq!(c.comparisons[0].other, "adamw");
    // A premise that goes the other way: the claim does not apply, nothing is contradicted.
    assert_eq!(v[5].parts[0].outcome(), Outcome::Contradicted);
    assert_eq!(v[5].outcome(), Outcome::PremiseNotMet);
    // Significantly below la-keep, significantly above adamw: mixed, not contradicted.
    assert_eq!(v[6].outcome(), Outcome::Mixed);
    // A part that needs convergence is not testable in a suite that cannot show it; the
    // claim is supported in part.
    assert_eq!(v[7].parts[0].outcome(), Outcome::NotTestable);
    assert_eq!(
        (v[7].outcome(), v[7].untested_assertions()),
        (Outcome::Supported, 1)
    );
    // On the seed's tables: 55 above 50 holds; the replica's mechanism, contradicted, is shown
    // apart and does not decide.
    assert_eq!(v[8].parts[0].outcome(), Outcome::Supported);
    assert_eq!(v[8].parts[1].outcome(), Outcome::Contradicted);
    assert_eq!(v[8].outcome(), Outcome::Supported);
    // A margin: la-keep below sgd + 5, paired p 0.00913261, Holm 0.0273978 at level 0.05/3.
    let c = &part(9).conditions()[0].comparisons[0];
    assert_eq!((c.shift, c.holds), (5.0, Some(true)));
    assert!(
        (c.tests.p.holm.unwrap() - 0.027_397_8).abs() < 1e-6,
        "{c:?}"
    );
    assert!(
        (c.tests.p.level.unwrap() - 0.05 / 3.0).abs() < 1e-12,
        "{c:?}"
    );
    assert_eq!(v[9].outcome(), Outcome::Supported);
    let md = super::render::verdict_section(&tables[0]);
    assert!(md.contains("❌ **contradicted** — SGD beats LA"), "{md}");
    assert!(
        md.contains("⊘ **premise not met** — Since SGD beats LA"),
        "{md}"
    );
    assert!(
        md.contains("in part (1 assertion(s) not testable here)"),
        "{md}"
    );
    assert!(md.contains("needs training to convergence"), "{md}");
    assert!(md.contains("vs `sgd` 50.00 ✓ (+5.00)"), "{md}");
    let csv = String::from_utf8(super::render::verdicts_csv(&tables).unwrap()).unwrap();
    assert!(csv.contains("final,hypothesis,contradicted,"), "{csv}");
    assert!(
        csv.contains(",seed_tables,,accuracy,la-keep,above,sgd,,55,50,"),
        "{csv}"
    );
}

/// A small difference at n = 3 is inconclusive, and the report says what this n could detect at
/// the comparison's Holm level: paired differences [1, −0.5, 0.8] (mean 0.4333, sd 0.8145),
/// the largest p of the family's 5 (level 0.05): MDE = (t.975,2 + t.8,2)·sd/√3 = (4.3027 +
/// 1.0607)·0.4702 = 2.522; the observed 0.4333 needs n = 30 (scipy: the smallest n with
/// (t.ppf(.975, n−1) + t.ppf(.8, n−1))·0.8145/√n ≤ 0.4333).
#[test]
fn inconclusive_verdicts_say_what_this_n_could_detect() {
    use super::verdict::Outcome;
    let text = format!(
        "{}{}",
        claims_suite(&[]),
        "[[claims]]\nhypothesis = \"LA beats AdamW\"\n[[claims.parts]]\nwords = \"LA beats AdamW\"\n\
         role = \"assertion\"\nconditions = [{ metric = \"accuracy\", label = \"la-keep\", \
         is = \"above\", other = \"adamw\" }]\n"
    );
    let suite = Suite::parse(&text, "t").unwrap();
    let mut records = Vec::new();
    for (seed, a, b) in [(1, 51.0, 50.0), (2, 50.5, 51.0), (3, 49.8, 49.0)] {
        records.push(seed_run("sgd", seed, 30.0 + seed as f64, 0.5));
        records.push(seed_run("la-keep", seed, a, 0.4));
        records.push(seed_run("adamw", seed, b, 0.1));
    }
    let (tables, _) = aggregate(&suite, &records);
    let v = &tables[0].verdicts[0];
    assert_eq!(v.outcome(), Outcome::Inconclusive);
    let (sample, d) = v.parts[0].deciding().unwrap();
    assert_eq!(d.other, "adamw");
    let power = d.power(sample);
    assert_eq!(power.level, 0.05);
    assert!((power.mde.unwrap() - 2.522).abs() < 2e-3, "{power:?}");
    assert_eq!(power.n_needed, Some(30));
    let md = super::render::verdict_section(&tables[0]);
    assert!(
        md.contains("the observed one needs ≈ 30 seeds to be significant at that level"),
        "{md}"
    );
}

/// A diverged run stays in the sample: +∞ loss, chance accuracy (10 classes: 10 %), rank-based
/// tests where a value is infinite, counted beside the verdict; a smoothed curve is filled
/// with the same values up to the suite's epochs.
#[test]
fn diverged_runs_count_under_the_rule() {
    use super::runs::TestKind;
    use super::runs::{At, DatasetRuns};
    let suite = Suite::parse(&claims(), "t").unwrap();
    let mut records = claim_records();
    let diverged = records
        .iter_mut()
        .find(|r| r.label == "la-keep" && r.seed == 2)
        .unwrap();
    let s = diverged.summary.as_mut().unwrap();
    s.status = RunStatus::Diverged;
    (s.final_valid_loss, s.final_valid_accuracy) = (None, None);
    let (tables, _) = aggregate(&suite, &records);
    let t = &tables[0];
    let la = &t.rows[1];
    assert_eq!((la.diverged, la.valid_accuracy.len()), (1, 3));
    assert_eq!(la.valid_accuracy.values(), vec![52.0, 10.0, 50.5]);
    assert_eq!(la.valid_loss.values()[1], f64::INFINITY);
    assert_eq!(la.loss_tests.kind, TestKind::SignedRank);
    assert_eq!(la.accuracy_tests.kind, TestKind::Paired);
    // Valid loss against sgd, rank-based: la − sgd = [1.48 − 1.50, ∞, 1.495 − 1.51] has ranks
    // 2, 3, 1 with signs −, +, −: W+ = 3 of 6, p = 1 (scipy.stats.wilcoxon gives 1.0).
    assert_eq!(la.loss_tests.p.raw, Some(1.0));
    let c = &t.verdicts[0].parts[0].conditions()[0];
    assert_eq!(c.diverged, 1);
    assert_eq!(t.verdicts[0].diverged(), 1);
    assert_eq!(c.comparisons[0].tests.kind, TestKind::Paired);
    let md = super::render::dataset_section(t, "sgd");
    assert!(md.contains("median 1.4950 (1 of 3 at ∞: diverged)"), "{md}");
    // The smoothed value of a diverged run: its logged epochs, then chance up to the suite's
    // epochs (here 5: one logged epoch of 53.5, four at 10 %), debiased EMA with w = 0.5:
    // weights 1, 2, 4, 8, 16 over 31: (53.5 + 30·10)/31.
    let runs = DatasetRuns {
        records: records.iter().collect(),
        classes: 10,
        epochs: 5,
    };
    let smoothed = runs.metric("la-keep", Metric::Accuracy, At::Smoothed(0.5));
    assert!(
        (smoothed.values()[1] - (53.5 + 300.0) / 31.0).abs() < 1e-9,
        "{smoothed:?}"
    );
}

/// The published table: the replica at the final epoch and at the best-valid-loss epoch,
/// and where the published value falls.
#[test]
fn published_numbers_sit_beside_the_replica() {
    use super::published::Placement;
    let suite = Suite::parse(&claims(), "t").unwrap();
    let (tables, _) = aggregate(&suite, &claim_records());
    let rows = &tables[0].published;
    // sgd's accuracy, then la-keep's train loss and accuracy.
    assert_eq!(rows.len(), 3);
    assert_eq!((rows[0].label.as_str(), rows[0].published), ("sgd", 50.0));
    let rows = &rows[1..];
    // Train loss: printed 0.2, corrected by the erratum to 0.25; smoothed [0.3, 0.25, 0.35],
    // mean 0.3, std 0.05: 0.25 is inside, z = −1.
    let train = &rows[0];
    assert_eq!(
        (train.label.as_str(), train.metric),
        ("la-keep", Metric::TrainLoss)
    );
    assert_eq!(train.published, 0.25);
    assert_eq!(train.erratum, Some((0.2, "A copy error.".to_string())));
    assert_eq!(train.final_epoch.values(), vec![0.3, 0.25, 0.35]);
    match super::published::placement(train.published, &train.final_epoch) {
        Placement::Inside { z: Some(z) } => assert!((z + 1.0).abs() < 1e-9),
        other => panic!("{other:?}"),
    }
    // Accuracy: one epoch per run, so smoothed = final: mean 52, std 1.5 (z = +2); best-loss
    // checkpoint mean 53.
    let acc = &rows[1];
    assert_eq!(
        acc.smoothed.as_ref().unwrap().values(),
        vec![52.0, 53.5, 50.5]
    );
    assert_eq!(acc.best_loss_epoch.values(), vec![53.0, 54.5, 51.5]);
    let md = super::render::published_section(&tables[0], suite.published_source.as_deref());
    assert!(md.contains("Published: p. 7."), "{md}");
    assert!(
        md.contains("| la-keep | accuracy (%) | 55 | 52.00 ± 1.50 | above all (z = +2.0) | 52.00 ± 1.50 | above all (z = +2.0) | 53.00 ± 1.50 |"),
        "{md}"
    );
    assert!(
        md.contains("| ~~0.2~~ 0.25 ✎1 |")
            && md.contains(
                "✎1: `la-keep` train loss (smoothed): printed 0.2, logged 0.25. A copy error."
            ),
        "{md}"
    );
    let csv = String::from_utf8(super::render::published_csv(&tables).unwrap()).unwrap();
    assert!(
        csv.contains(
            "fashion-mnist-embedded,la-keep,accuracy,55,,3,52,1.5,above all (z = +2.0),52,1.5,above all (z = +2.0),53,1.5"
        ),
        "{csv}"
    );
}

/// A validation loss that overflows the plots' arithmetic (1e308: its std over seeds is +∞)
/// leaves its points out of the plot instead of failing the report (found by fuzzing).
#[test]
fn an_overflowing_loss_is_left_out_of_the_plots() {
    let suite = Suite::parse(SUITE, "t").unwrap();
    let mut records = Vec::new();
    for seed in 1..=3 {
        for label in ["sgd", "la-reset", "la-keep"] {
            let mut record = run(label, seed, 50.0 + seed as f64, RunStatus::Complete);
            if seed == 1 {
                record.epochs[0].valid_loss = Some(1e308);
            }
            records.push(record);
        }
    }
    let (tables, _) = aggregate(&suite, &records);
    let dir = tempfile::tempdir().unwrap();
    let (lines, files) = super::render::dataset_plots(dir.path(), &tables[0]).unwrap();
    assert!(
        lines.contains("validation loss: no finite values to plot"),
        "{lines}"
    );
    assert!(!files.is_empty(), "the other plots are drawn");
}

#[test]
fn a_suite_without_finished_runs_concludes_nothing() {
    let suite = Suite::parse(SUITE, "t").unwrap();
    let records = vec![run("sgd", 1, 0.0, RunStatus::Interrupted)];
    let (_, findings) = aggregate(&suite, &records);
    let md = super::render::conclusions(&suite, &findings, &records);
    assert!(
        md.contains("Nothing: no comparison could be tested")
            && !md.contains("No optimizer differs"),
        "{md}"
    );
}
