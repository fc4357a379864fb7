//! Rendering a report: Markdown, CSV (with the `csv` crate) and SVG plots (plotters), from the
//! tables of [`super::aggregate`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::bail;
use plotters::prelude::*;

use super::aggregate::{Curves, DatasetTable, Findings, PValue, Tests, p_text};
use super::load::RunRecord;
use super::published::placement;
use super::stats::{Sample, Stats};
use super::verdict::{Outcome, TestKind};
use crate::claim::{Metric, Relation};
use crate::suite::Suite;

fn pm(sample: &Sample, digits: usize) -> String {
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
fn p_pair(p: PValue) -> String {
    match p.raw {
        None => "n/a".into(),
        Some(_) => format!("{} ({})", p_text(p.raw), p_text(p.holm)),
    }
}

/// How the report names a metric.
fn metric_name(metric: Metric) -> &'static str {
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
fn condition_text(c: &super::verdict::ConditionResult) -> String {
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
            ]),
            None => {
                row.push("missing".into());
                row.extend(std::iter::repeat_n(String::new(), 12));
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
        ],
        rows,
    )
}

/// `epochs.csv`: one row per run and epoch.
pub fn epochs_csv(records: &[RunRecord]) -> anyhow::Result<Vec<u8>> {
    let rows = records.iter().flat_map(|rec| {
        rec.epochs.iter().map(move |(epoch, tl, vl, va)| {
            vec![
                rec.dataset.clone(),
                rec.label.clone(),
                rec.seed.to_string(),
                epoch.to_string(),
                tl.to_string(),
                opt(*vl),
                opt(*va),
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
                r.final_epoch.len().to_string(),
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
            "n",
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

/// The seed's published value of a curve, drawn at its last epoch.
#[derive(Debug, Clone, PartialEq)]
struct Marker {
    /// Index of the curve (its colour).
    curve: usize,
    /// Its last epoch.
    x: f64,
    /// The published value.
    y: f64,
}

/// The published markers of `metric` on `curves`.
fn markers(table: &DatasetTable, curves: &Curves, metric: Metric) -> Vec<Marker> {
    table
        .published
        .iter()
        .filter(|r| r.metric == metric)
        .filter_map(|r| {
            let curve = curves.iter().position(|(label, _)| *label == r.label)?;
            let x = curves[curve].1.last()?.0;
            Some(Marker {
                curve,
                x,
                y: r.published,
            })
        })
        .collect()
}

/// Draws a dataset's three plots into `dir`; returns the Markdown image lines and the files.
pub fn dataset_plots(dir: &Path, table: &DatasetTable) -> anyhow::Result<(String, Vec<PathBuf>)> {
    let dataset = &table.dataset;
    let slug = dataset.replace(['/', ' '], "_");
    let mut lines = Vec::new();
    let mut files = Vec::new();
    for (name, title, x, y, curves, metric) in [
        (
            "train_loss",
            "training loss (EMA 0.98)",
            "iteration",
            "loss",
            &table.train_curves,
            None,
        ),
        (
            "valid_loss",
            "validation loss",
            "epoch",
            "loss",
            &table.valid_loss_curves,
            Some(Metric::ValidLoss),
        ),
        (
            "valid_accuracy",
            "validation accuracy",
            "epoch",
            "accuracy (%)",
            &table.valid_accuracy_curves,
            Some(Metric::Accuracy),
        ),
    ] {
        if curves.iter().all(|(_, c)| c.is_empty()) {
            continue;
        }
        let file = format!("{slug}_{name}.svg");
        let path = dir.join(&file);
        let marks = metric.map_or(Vec::new(), |m| markers(table, curves, m));
        let mut caption = format!("{dataset}: {title}, mean ± std over seeds");
        if !marks.is_empty() {
            caption.push_str("; ◆ published");
        }
        let axes = Axes {
            x: x.to_string(),
            y: y.to_string(),
            integer_x: x == "epoch",
        };
        plot(&path, &caption, &axes, curves, &marks)?;
        lines.push(format!("![{dataset} {title}]({file})"));
        files.push(path);
    }
    Ok((format!("\n{}\n\n", lines.join("\n\n")), files))
}

/// A plot's axis titles, and whether x counts whole units (epochs).
struct Axes {
    x: String,
    y: String,
    integer_x: bool,
}

/// The x and y ranges of the curves, y padded by 5 % and widened to take in the published
/// markers that lie within one range's height of the curves (farther ones are drawn at the
/// edge with their value).
fn ranges(curves: &Curves, marks: &[Marker]) -> Option<((f64, f64), (f64, f64))> {
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, m, s) in curves.iter().flat_map(|(_, c)| c.iter()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(m - s);
        y1 = y1.max(m + s);
    }
    if !(x0.is_finite() && y0.is_finite()) {
        return None;
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    // Room on the right for the markers drawn at the last epoch.
    if !marks.is_empty() {
        x1 += (x1 - x0) * 0.02;
    }
    let span = (y1 - y0).max(1e-6);
    for m in marks {
        if m.y >= y0 - span && m.y <= y1 + span {
            y0 = y0.min(m.y);
            y1 = y1.max(m.y);
        }
    }
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    Some(((x0, x1), (y0 - pad, y1 + pad)))
}

/// One SVG: a mean line and a ±std band per curve, the published values as diamonds at the
/// last epoch, and the legend to the right of the plotting area.
fn plot(
    path: &Path,
    title: &str,
    axes: &Axes,
    curves: &Curves,
    marks: &[Marker],
) -> anyhow::Result<()> {
    let Some(((x0, x1), (y0, y1))) = ranges(curves, marks) else {
        bail!("{}: nothing to plot", path.display());
    };
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (1100, 600)).into_drawing_area();
        root.fill(&WHITE)?;
        let (area, legend) = root.split_horizontally(860);
        let mut chart = ChartBuilder::on(&area)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        // Epochs: at most one label per whole epoch, so plotters' round steps (1, 2, 5 × 10ⁿ)
        // are whole numbers.
        let integer_x = axes.integer_x;
        let x_labels = if integer_x {
            ((x1 - x0).round() as usize + 1).min(12)
        } else {
            10
        };
        chart
            .configure_mesh()
            .x_labels(x_labels)
            .x_desc(axes.x.as_str())
            .y_desc(axes.y.as_str())
            .x_label_formatter(&|x| {
                if integer_x {
                    format!("{}", x.round() as i64)
                } else {
                    format!("{x}")
                }
            })
            .draw()?;
        for (i, (_, curve)) in curves.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let mut outline: Vec<(f64, f64)> = curve.iter().map(|&(x, m, s)| (x, m + s)).collect();
            outline.extend(curve.iter().rev().map(|&(x, m, s)| (x, m - s)));
            chart.draw_series(std::iter::once(Polygon::new(
                outline,
                color.mix(0.15).filled(),
            )))?;
            chart.draw_series(LineSeries::new(
                curve.iter().map(|&(x, m, _)| (x, m)),
                color.stroke_width(2),
            ))?;
        }
        for m in marks {
            let color = Palette99::pick(m.curve).to_rgba();
            let y = m.y.clamp(y0, y1);
            let diamond = EmptyElement::at((m.x, y))
                + Polygon::new(vec![(0, -7), (7, 0), (0, 7), (-7, 0)], color.filled())
                + PathElement::new(
                    vec![(0, -7), (7, 0), (0, 7), (-7, 0), (0, -7)],
                    BLACK.stroke_width(1),
                );
            chart.plotting_area().draw(&diamond)?;
            if y != m.y {
                let text = EmptyElement::at((m.x, y))
                    + Text::new(
                        format!("{} {}", if m.y > y { "↑" } else { "↓" }, m.y),
                        (-90, -4),
                        ("sans-serif", 13),
                    );
                chart.plotting_area().draw(&text)?;
            }
        }
        legend_box(&legend, curves, !marks.is_empty())?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", path.display()))
}

/// The legend, in its own area beside the plot: a line per curve, and the published marker.
fn legend_box<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    curves: &Curves,
    published: bool,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let font = ("sans-serif", 15).into_font();
    let mut y = 60;
    for (i, (label, _)) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        area.draw(&PathElement::new(
            vec![(8, y), (36, y)],
            color.stroke_width(3),
        ))?;
        area.draw(&Text::new(label.clone(), (44, y - 8), font.clone()))?;
        y += 24;
    }
    if published {
        y += 8;
        let diamond = vec![(22, y - 7), (29, y), (22, y + 7), (15, y), (22, y - 7)];
        area.draw(&Polygon::new(diamond.clone(), WHITE.filled()))?;
        area.draw(&PathElement::new(diamond, BLACK.stroke_width(1)))?;
        area.draw(&Text::new("published (seed)", (44, y - 8), font))?;
    }
    Ok(())
}

/// An optional number as a CSV cell: its shortest round-tripping form, or empty.
fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}
