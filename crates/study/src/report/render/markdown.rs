//! The report's Markdown sections.

use std::fmt::Write as _;

use super::super::aggregate::{DatasetTable, Findings, PValue, Tests, p_text};
use super::super::load::RunRecord;
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

/// One dataset's section: the table against the baseline and the reset/keep pairs.
pub fn dataset_section(table: &DatasetTable, baseline: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## {}\n", table.dataset);
    let _ = writeln!(
        md,
        "Final-epoch values over the seeds, mean ± sample std (n = completed and diverged runs: \
         a diverged run counts with infinite losses and chance accuracy, and a column with an \
         infinite value shows its median; train loss: the last epoch's mean). p against \
         `{baseline}`, two-sided: Welch's t-test, and the paired t-test over the seeds both share \
         (same initial weights and data order), or their rank-based counterparts (rank-sum, \
         signed-rank) where a value is infinite; in brackets, Holm–Bonferroni-adjusted across \
         this table's and the reset/keep table's tests of that kind (the verdicts below are \
         another family).\n"
    );
    let _ = writeln!(
        md,
        "| optimizer | spec | n | diverged | train loss | valid loss | valid accuracy (%) | p acc: Welch | p acc: paired | p loss: Welch | p loss: paired |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for row in &table.rows {
        let mut n = row.valid_accuracy.len().to_string();
        if row.unfinished > 0 {
            let _ = write!(n, " ({} unfinished)", row.unfinished);
        }
        let p = |p: PValue| {
            if row.baseline {
                "baseline".to_string()
            } else {
                p_pair(p)
            }
        };
        let _ = writeln!(
            md,
            "| {} | `{}` | {n} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.label,
            row.spec,
            row.diverged,
            pm(&row.train_loss, 4),
            pm(&row.valid_loss, 4),
            pm(&row.valid_accuracy, 2),
            p(row.accuracy_tests.welch),
            p(row.accuracy_tests.paired),
            p(row.loss_tests.welch),
            p(row.loss_tests.paired),
        );
    }
    if !table.pairs.is_empty() {
        let _ = writeln!(
            md,
            "\nReset against keep (same inner optimizer, k, α, learning rate and flip; reset is a full \
             reset or the seed's zero-moments): Welch and paired \
             t-tests (Holm-adjusted in brackets).\n\n| reset | keep | Δ valid accuracy (points) | p acc: Welch | p acc: paired | Δ valid loss | p loss: Welch | p loss: paired |\n|---|---|---|---|---|---|---|---|"
        );
        let d = |d: Option<f64>| d.map_or("–".into(), |d| format!("{d:+.4}"));
        for pair in &table.pairs {
            let t = |t: &Tests| (p_pair(t.welch), p_pair(t.paired));
            let ((aw, ap), (lw, lp)) = (t(&pair.accuracy_tests), t(&pair.loss_tests));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {aw} | {ap} | {} | {lw} | {lp} |",
                pair.reset,
                pair.keep,
                d(pair.accuracy_diff),
                d(pair.loss_diff),
            );
        }
    }
    md
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
    if findings.significant.is_empty() {
        let _ = writeln!(
            md,
            "- No optimizer differs from `{baseline}` (nor reset from keep) at the 5 % level after \
             Holm–Bonferroni ({} comparisons, each by Welch's and the paired t-test). With \
             {n_seeds} seed(s) per optimizer this is an absence of evidence, not evidence of no \
             difference: a t-test on {n_seeds} values per side only detects differences several \
             times larger than the seed-to-seed spread.",
            findings.tests_run
        );
    } else {
        let _ = writeln!(
            md,
            "- Significant at the 5 % level after Holm–Bonferroni (Welch's or the paired t-test):"
        );
        for s in &findings.significant {
            let _ = writeln!(md, "  - {s}");
        }
        let _ = writeln!(
            md,
            "- Everything else: no difference at the 5 % level, which with {n_seeds} seed(s) per \
             optimizer is an absence of evidence, not evidence of no difference.\n- These are \
             {} comparisons (accuracy and loss, against the baseline and reset vs keep), each tested \
             by Welch's t-test and by the paired t-test; each kind is one Holm–Bonferroni family, \
             which keeps the chance of any false positive among them at 5 %. The raw p-values are \
             in the tables beside the adjusted ones: a raw p < 0.05 that does not survive the \
             adjustment is a hint to rerun with more seeds, not a finding.",
            findings.tests_run
        );
    }
    let _ = writeln!(
        md,
        "- Every number here is reproduced by `cargo xtask compare {} --backend <backend>` then \
         `cargo xtask report <dir>`; the CSV files beside this report hold them all \
         (`results.csv` per run, `summary.csv` per optimizer, `epochs.csv` per epoch, \
         `published.csv` beside the seed's numbers, `verdicts.csv` per comparison of each \
         verdict).",
        suite.name
    );
    let summaries = || records.iter().filter_map(|r| r.summary.as_ref());
    let total_time: f64 = summaries().map(|s| s.training_time_s()).sum();
    if let Some(s) = summaries().next() {
        let _ = writeln!(
            md,
            "- Runs trained on {}; total training wall time {:.0} s (every process of a resumed \
             run counted). The numbers reproduce to the last digit on the same backend and \
             device (on a CPU: the same SIMD level); elsewhere within the seeds' spread.",
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
