//! The report's Markdown sections.

use std::fmt::Write as _;

use super::super::aggregate::{DatasetTable, Families, Findings, PValue, Tests, p_text};
use super::super::load::RunRecord;
use super::super::runs::TestKind;
use super::super::stats::Sample;
use crate::claim::Metric;
use crate::suite::Suite;

pub(super) fn pm(sample: &Sample, digits: usize) -> String {
    if !sample.all_finite() {
        let diverged = sample.0.iter().filter(|(_, v)| !v.is_finite()).count();
        return sample.median().map_or("–".into(), |m| {
            format!(
                "median {} ({diverged} of {} at ∞: diverged)",
                num(m, digits),
                sample.len()
            )
        });
    }
    match sample.stats() {
        Some(s) if s.n > 1 => format!("{:.*} ± {:.*}", digits, s.mean, digits, s.std),
        Some(s) => format!("{:.*}", digits, s.mean),
        None => "–".into(),
    }
}

/// A number with `digits` decimals; ∞ for a diverged run's loss.
pub(super) fn num(v: f64, digits: usize) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "∞".into()
        } else {
            "−∞".into()
        }
    } else {
        format!("{v:.digits$}")
    }
}

/// The report's header: the suite and its recipe.
pub fn header(suite: &Suite) -> String {
    let r = &suite.recipe;
    format!(
        "# Suite `{}`\n\n{}\n\nRecipe: model `{}`, {} epochs, batch {}, {:?} schedule (peak lr {} \
         unless the optimizer sets its own), mixup α {}, label smoothing {}; seeds {:?}. \
         Baseline: `{}`.\n\n",
        suite.name,
        suite.description,
        r.model,
        r.epochs,
        r.batch_size,
        r.schedule,
        r.lr_max,
        r.mixup,
        r.label_smoothing,
        suite.seeds,
        suite.baseline_label()
    )
}

/// How the report tests: the deciding test, and its families, listed once.
pub fn families(families: &Families) -> String {
    let mut md = String::from(
        "## How this report tests\n\nEvery comparison is decided by one test, fixed before \
         the runs: the paired t-test over the seeds both sides share (same initial weights, same \
         data order), or the Wilcoxon signed-rank test where a diverged run's loss is infinite \
         (their unpaired counterparts, Welch's and rank-sum, only where fewer than two seeds are \
         shared). Welch's t-test is shown beside it as a raw p that decides nothing. Each \
         distinct comparison is tested once per family, and every place it appears shows the \
         same p and the same Holm–Bonferroni-adjusted p; \"significant\" means an adjusted p \
         below 0.05 in its family. The families:\n\n",
    );
    let verdicts = families.final_epoch - families.final_tables.min(families.final_epoch);
    let _ = writeln!(
        md,
        "1. **final-epoch values**: {} distinct comparisons: {} in the tables (against the \
         baseline, reset against keep){};",
        families.final_epoch,
        families.final_tables,
        if verdicts > 0 {
            format!(", {verdicts} more in the verdicts on the seed's claims")
        } else {
            String::new()
        }
    );
    if families.smoothed > 0 {
        let _ = writeln!(
            md,
            "2. **the smoothed curve** (the verdicts again, on the values as the seed published \
             them): {} distinct comparisons.",
            families.smoothed
        );
    }
    md.push_str(
        "\nThe smallest difference a comparison could detect and the seeds it would need are \
         computed at the level Holm tests it at in its family (α/(m − r + 1) for the r-th \
         smallest p of m, α = 0.05), with power 0.8.\n\n",
    );
    md
}

/// One dataset's section: the table against the baseline and the reset/keep pairs.
pub fn dataset_section(table: &DatasetTable, baseline: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## {}\n", table.dataset);
    let _ = writeln!(
        md,
        "Final-epoch values over the seeds, mean ± sample std (n = completed and diverged runs: \
         a diverged run counts with infinite losses and chance accuracy, and a column with an \
         infinite value shows its median; train loss: the last epoch's mean). p against \
         `{baseline}`, two-sided, by the deciding test (paired over the shared seeds; \
         signed-rank where a value is infinite), Holm-adjusted in brackets within the \
         final-epoch family; Welch's p beside it, raw, decides nothing.\n"
    );
    let _ = writeln!(
        md,
        "| optimizer | spec | n | diverged | train loss | valid loss | valid accuracy (%) | p acc (Holm) | p loss (Holm) | Welch p acc, loss (not deciding) |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for row in &table.rows {
        let mut n = row.valid_accuracy.len().to_string();
        if row.unfinished > 0 {
            let _ = write!(n, " ({} unfinished)", row.unfinished);
        }
        let (acc, loss, welch) = if row.baseline {
            ("baseline".into(), "baseline".into(), "–".into())
        } else {
            test_columns(&row.accuracy_tests, &row.loss_tests)
        };
        let _ = writeln!(
            md,
            "| {} | `{}` | {n} | {} | {} | {} | {} | {acc} | {loss} | {welch} |",
            row.label,
            row.spec,
            row.diverged,
            pm(&row.train_loss, 4),
            pm(&row.valid_loss, 4),
            pm(&row.valid_accuracy, 2),
        );
    }
    if !table.pairs.is_empty() {
        let _ = writeln!(
            md,
            "\nReset against keep (same inner optimizer, k, α, learning rate and flip; reset is a full \
             reset or the seed's zero-moments), by the same test in the same family.\n\n| reset | keep | Δ valid accuracy (points) | p acc (Holm) | Δ valid loss | p loss (Holm) | Welch p acc, loss (not deciding) |\n|---|---|---|---|---|---|---|"
        );
        let d = |d: Option<f64>| d.map_or("–".into(), |d| format!("{d:+.4}"));
        for pair in &table.pairs {
            let (acc, loss, welch) = test_columns(&pair.accuracy_tests, &pair.loss_tests);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {acc} | {} | {loss} | {welch} |",
                pair.reset,
                pair.keep,
                d(pair.accuracy_diff),
                d(pair.loss_diff),
            );
        }
    }
    md
}

/// The accuracy and loss columns (deciding p with its Holm adjustment) and Welch's raw pair.
fn test_columns(accuracy: &Tests, loss: &Tests) -> (String, String, String) {
    (
        p_decided(accuracy),
        p_decided(loss),
        format!("{}, {}", p_text(accuracy.welch), p_text(loss.welch)),
    )
}

/// The deciding test's p and its Holm adjustment, naming the test where it is not the paired
/// t-test: `0.012 (0.084)`, `0.020 (0.150) signed-rank`.
pub(super) fn p_decided(t: &Tests) -> String {
    let text = p_pair(t.p);
    match t.kind {
        TestKind::Paired => text,
        kind => format!("{text} {kind}"),
    }
}

/// A p-value and its Holm adjustment: `0.012 (0.084)`.
pub(super) fn p_pair(p: PValue) -> String {
    match p.raw {
        None => "n/a".into(),
        Some(_) => format!("{} ({})", p_text(p.raw), p_text(p.holm)),
    }
}

/// How the report names a metric.
pub(super) fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::TrainLoss => "train loss (smoothed)",
        Metric::ValidLoss => "valid loss",
        Metric::Accuracy => "accuracy (%)",
        Metric::Top5 => "top-5 accuracy (%)",
    }
}

/// The closing section: what the seeds allow concluding, and how to reproduce.
pub fn conclusions(suite: &Suite, findings: &Findings, records: &[RunRecord]) -> String {
    let mut md = String::new();
    let n_seeds = suite.seeds.len();
    let baseline = suite.baseline_label();
    let _ = writeln!(md, "## What these seeds allow concluding\n");
    if n_seeds < 2 || findings.untestable {
        let _ = writeln!(
            md,
            "- Some comparisons have fewer than two completed runs per side (or no variance): no \
             test is possible there (`n/a`)."
        );
    }
    md.push_str(&significance(findings, records, n_seeds, baseline));
    let _ = writeln!(
        md,
        "- Every number here is regenerated from the runs' own files (`summary.json`, \
         `metrics.csv`, `train_loss.csv` in `<dataset>/<label>/seed-<seed>/` beside this report) \
         by `cargo xtask report <dir>`, and the runs by `cargo xtask compare {} --backend \
         <backend>`; the CSV files beside this report hold every number (`results.csv` per run, \
         `summary.csv` per optimizer, `epochs.csv` per epoch, `published.csv` beside the seed's \
         numbers, `verdicts.csv` per comparison of each claim's parts).",
        suite.name
    );
    let summaries = || records.iter().filter_map(|r| r.summary.as_ref());
    let total_time: f64 = summaries().map(|s| s.training_time_s()).sum();
    if let Some(s) = summaries().next() {
        let _ = writeln!(
            md,
            "- Runs trained on {}; total training wall time {:.0} s (every process of a resumed \
             run counted). Retrained at the commit below on the same backend and device (on a \
             CPU: the same SIMD level) the runs reproduce byte for byte; at another commit, \
             SIMD level or device, within the seeds' spread.",
            s.backend, total_time
        );
    }
    let mut origins: Vec<String> = summaries()
        .filter_map(|s| s.provenance.as_ref().map(ToString::to_string))
        .collect();
    origins.sort();
    origins.dedup();
    for origin in origins {
        let _ = writeln!(md, "- Code and machine: {origin}.");
    }
    md
}

/// The conclusions' bullets on the tables' tests: nothing tested, nothing significant, or the
/// significant comparisons.
fn significance(
    findings: &Findings,
    records: &[RunRecord],
    n_seeds: usize,
    baseline: &str,
) -> String {
    let mut md = String::new();
    let finished = records
        .iter()
        .filter(|r| {
            r.summary.as_ref().is_some_and(|s| {
                matches!(
                    s.status,
                    crate::run_dir::RunStatus::Complete | crate::run_dir::RunStatus::Diverged
                )
            })
        })
        .count();
    if findings.tested == 0 {
        let _ = writeln!(
            md,
            "- Nothing: no comparison could be tested ({finished} of the suite's runs have \
             finished)."
        );
    } else if findings.significant.is_empty() {
        let _ = writeln!(
            md,
            "- No optimizer differs from `{baseline}` (nor reset from keep) at the 5 % level after \
             Holm–Bonferroni ({} comparisons in the tables). With {n_seeds} seed(s) per optimizer \
             this is an absence of evidence, not evidence of no difference: a test on \
             {n_seeds} values per side only detects differences several times larger than the \
             seed-to-seed spread.",
            findings.tests_run
        );
    } else {
        let _ = writeln!(
            md,
            "- Significant at the 5 % level after Holm–Bonferroni, by the deciding test, in the \
             tables ({} comparisons):",
            findings.tests_run
        );
        for s in &findings.significant {
            let _ = writeln!(md, "  - {s}");
        }
        let _ = writeln!(
            md,
            "- Everything else in the tables: no difference at the 5 % level, which with \
             {n_seeds} seed(s) per optimizer is an absence of evidence, not evidence of no \
             difference. A raw p < 0.05 that does not survive the adjustment is a hint to rerun \
             with more seeds, not a finding."
        );
    }
    md
}
