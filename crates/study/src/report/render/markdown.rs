//! The report's Markdown sections.

use std::fmt::Write as _;

use super::super::aggregate::{DatasetTable, Findings, PValue, Tests, p_text};
use super::super::load::RunRecord;
use super::super::published::placement;
use super::super::stats::Sample;
use super::super::verdict::{Outcome, TestKind};
use crate::claim::{Metric, Relation};
use crate::suite::Suite;

pub(super) fn pm(sample: &Sample, digits: usize) -> String {
    match sample.stats() {
        Some(s) if s.n > 1 => format!("{:.*} ± {:.*}", digits, s.mean, digits, s.std),
        Some(s) => format!("{:.*}", digits, s.mean),
        None => "–".into(),
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
        "Final-epoch values over the seeds, mean ± sample std (n = completed runs; train loss: \
         the last epoch's mean). p against `{baseline}`, two-sided: Welch's t-test, and the paired \
         t-test over the seeds both share (same initial weights and data order); in brackets, \
         Holm–Bonferroni-adjusted across all the report's tests of that kind.\n"
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
            "\nReset against keep (same inner optimizer, k, α, learning rate): Welch and paired \
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

/// The seed's published numbers beside the replica's (nothing when the suite has none).
pub fn published_section(table: &DatasetTable, source: Option<&str>) -> String {
    let mut md = String::new();
    if table.published.is_empty() {
        return md;
    }
    let _ = writeln!(
        md,
        "\n### The seed's published numbers beside the replica's\n\nPublished: {}. Replica: mean ± \
         std over the completed seeds, at the final epoch and at each run's lowest-validation-loss \
         epoch — **the epoch the seed reported, chosen on its test split** (its validation set \
         was the official test set, and fastai reloaded the best-valid-loss weights at the end). \
         \"where\": where the published value falls among the replica's runs (z = (published − \
         mean)/std).\n",
        source.unwrap_or("the suite's `published` values")
    );
    let _ = writeln!(
        md,
        "| optimizer | metric | published | replica, final epoch | where | replica, best-valid-loss epoch ⚠ test split | where |\n|---|---|---|---|---|---|---|"
    );
    for row in &table.published {
        let digits = row.metric.digits();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.label,
            metric_name(row.metric),
            row.published,
            pm(&row.final_epoch, digits),
            placement(row.published, &row.final_epoch),
            pm(&row.best_loss_epoch, digits),
            placement(row.published, &row.best_loss_epoch),
        );
    }
    md.push('\n');
    md
}

/// A verdict line per claim of the suite (nothing when it has none).
pub fn verdict_section(table: &DatasetTable) -> String {
    let mut md = String::new();
    if table.verdicts.is_empty() {
        return md;
    }
    let _ = writeln!(
        md,
        "\n### The seed's conclusions, tested\n\nEach claim is a set of conditions on the \
         final-epoch means (train loss: fastai's smoothed loss); each condition is tested with \
         the paired t-test over shared seeds (Welch's where fewer than two seeds are shared), \
         p Holm-adjusted across every verdict of the report. **Supported**: every condition holds \
         at 5 %; **not supported**: a tested condition fails or is not significant; **not \
         testable at this n**: too few runs.\n"
    );
    for v in &table.verdicts {
        let parts: Vec<String> = v.conditions.iter().map(condition_text).collect();
        let outcome = v.outcome();
        let mark = match outcome {
            Outcome::Supported => "✅",
            Outcome::NotSupported => "❌",
            Outcome::NotTestable => "❔",
        };
        let _ = writeln!(
            md,
            "- {mark} **{outcome}** — “{}”: {}.",
            v.claim,
            parts.join("; ")
        );
    }
    md.push('\n');
    md
}

/// `adamw train loss 0.0012 (n 3) lowest, next sgd 0.0100 (n 3): holds, paired p 0.010 (Holm 0.040)`.
fn condition_text(c: &super::super::verdict::ConditionResult) -> String {
    let metric = c.condition.metric;
    let digits = metric.digits();
    let mean = |s: &Sample| {
        s.mean()
            .map_or("–".into(), |m| format!("{m:.digits$} (n {})", s.len()))
    };
    let relation = match c.condition.is {
        Relation::Lowest => "lowest, next",
        Relation::Highest => "highest, next",
        Relation::Below => "below",
        Relation::Above => "above",
    };
    let other = c.other.as_deref().unwrap_or("–");
    let of = c
        .condition
        .among
        .as_ref()
        .map_or(String::new(), |among| format!(" (of {})", among.join(", ")));
    let holds = match c.holds {
        Some(true) => "holds",
        Some(false) => "does not hold",
        None => "no runs",
    };
    let test = match c.test {
        TestKind::Paired => "paired",
        TestKind::Welch => "Welch",
    };
    format!(
        "`{}` {} {}{of} {relation} `{other}` {}: {holds}, {test} p {} (Holm {})",
        c.condition.label,
        metric_name(metric),
        mean(&c.sample),
        mean(&c.other_sample),
        p_text(c.p.raw),
        p_text(c.p.holm)
    )
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
         (`results.csv` per run, `summary.csv` per optimizer, `epochs.csv` per epoch).",
        suite.name
    );
    let summaries = || records.iter().filter_map(|r| r.summary.as_ref());
    let total_time: f64 = summaries().map(|s| s.wall_time_s).sum();
    if let Some(s) = summaries().next() {
        let _ = writeln!(
            md,
            "- Runs trained on {}; total training wall time {:.0} s.",
            s.backend, total_time
        );
    }
    md
}
