//! Rendering a report: Markdown, CSV (with the `csv` crate) and SVG plots (plotters), from the
//! tables of [`super::aggregate`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::bail;
use plotters::prelude::*;

use super::aggregate::{Curves, DatasetTable, Findings, p_text};
use super::load::RunRecord;
use super::stats::Stats;
use crate::run::fmt_opt as opt;
use crate::suite::Suite;

fn pm(stats: Option<Stats>, digits: usize) -> String {
    match stats {
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
        "Final-epoch values over the seeds, mean ± sample std (n = completed runs). p: \
         two-sided Welch t-test against `{baseline}` (valid accuracy, valid loss).\n"
    );
    let _ = writeln!(
        md,
        "| optimizer | spec | n | diverged | train loss | valid loss | valid accuracy (%) | p (acc) | p (loss) |\n|---|---|---|---|---|---|---|---|---|"
    );
    for row in &table.rows {
        let mut n = row.valid_accuracy.len().to_string();
        if row.unfinished > 0 {
            let _ = write!(n, " ({} unfinished)", row.unfinished);
        }
        let p = |p: Option<f64>| {
            if row.baseline {
                "baseline".to_string()
            } else {
                p_text(p)
            }
        };
        let _ = writeln!(
            md,
            "| {} | `{}` | {n} | {} | {} | {} | {} | {} | {} |",
            row.label,
            row.spec,
            row.diverged,
            pm(Stats::of(&row.train_loss), 4),
            pm(Stats::of(&row.valid_loss), 4),
            pm(Stats::of(&row.valid_accuracy), 2),
            p(row.p_accuracy),
            p(row.p_loss),
        );
    }
    if !table.pairs.is_empty() {
        let _ = writeln!(
            md,
            "\nReset against keep (same inner optimizer, k, α, learning rate): Welch t-test.\n\n| reset | keep | Δ valid accuracy (points) | p (acc) | Δ valid loss | p (loss) |\n|---|---|---|---|---|---|"
        );
        let d = |d: Option<f64>| d.map_or("–".into(), |d| format!("{d:+.4}"));
        for pair in &table.pairs {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                pair.reset,
                pair.keep,
                d(pair.accuracy_diff),
                p_text(pair.p_accuracy),
                d(pair.loss_diff),
                p_text(pair.p_loss)
            );
        }
    }
    md
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
            "- No optimizer differs from `{baseline}` (nor reset from keep) at the 5 % level. With \
             {n_seeds} seed(s) per optimizer this is an absence of evidence, not evidence of no \
             difference: a t-test on {n_seeds} values per side only detects differences several \
             times larger than the seed-to-seed spread."
        );
    } else {
        let _ = writeln!(
            md,
            "- Significant at the 5 % level (two-sided Welch t-test):"
        );
        for s in &findings.significant {
            let _ = writeln!(md, "  - {s}");
        }
        let _ = writeln!(
            md,
            "- Everything else: no difference at the 5 % level, which with {n_seeds} seed(s) per \
             optimizer is an absence of evidence, not evidence of no difference.\n- These are \
             {} tests at 5 % each (accuracy and loss, against the baseline and reset vs keep), \
             uncorrected for multiple comparisons: about one in twenty comes out significant by \
             chance alone. Treat single results near p = 0.05 as hints to rerun with more seeds.",
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
                format!("{:.1}", s.wall_time_s),
                format!("{:.1}", s.images_per_s),
                s.backend.backend.clone(),
                s.backend.device.clone(),
            ]),
            None => {
                row.push("missing".into());
                row.extend(std::iter::repeat_n(String::new(), 9));
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
    let field = |values: &[f64], std: bool| {
        Stats::of(values).map_or(String::new(), |s| {
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
                opt(r.p_accuracy),
                opt(r.p_loss),
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
            "p_accuracy_vs_baseline",
            "p_valid_loss_vs_baseline",
        ],
        rows,
    )
}

/// Draws a dataset's three plots into `dir`; returns the Markdown image lines and the files.
pub fn dataset_plots(dir: &Path, table: &DatasetTable) -> anyhow::Result<(String, Vec<PathBuf>)> {
    let dataset = &table.dataset;
    let slug = dataset.replace(['/', ' '], "_");
    let mut lines = Vec::new();
    let mut files = Vec::new();
    for (name, title, x, y, curves) in [
        (
            "train_loss",
            "training loss (EMA 0.98)",
            "iteration",
            "loss",
            &table.train_curves,
        ),
        (
            "valid_loss",
            "validation loss",
            "epoch",
            "loss",
            &table.valid_loss_curves,
        ),
        (
            "valid_accuracy",
            "validation accuracy",
            "epoch",
            "accuracy (%)",
            &table.valid_accuracy_curves,
        ),
    ] {
        if curves.iter().all(|(_, c)| c.is_empty()) {
            continue;
        }
        let file = format!("{slug}_{name}.svg");
        let path = dir.join(&file);
        let caption = format!("{dataset}: {title}, mean ± std over seeds");
        plot(&path, &caption, x, y, curves)?;
        lines.push(format!("![{dataset} {title}]({file})"));
        files.push(path);
    }
    Ok((format!("\n{}\n\n", lines.join("\n\n")), files))
}

/// The x and y ranges of the curves, y padded by 5 %.
fn ranges(curves: &Curves) -> Option<((f64, f64), (f64, f64))> {
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
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    Some(((x0, x1), (y0 - pad, y1 + pad)))
}

/// One SVG: a mean line and a ±std band per curve.
fn plot(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    curves: &Curves,
) -> anyhow::Result<()> {
    let Some(((x0, x1), (y0, y1))) = ranges(curves) else {
        bail!("{}: nothing to plot", path.display());
    };
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()?;
        for (i, (label, curve)) in curves.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let mut outline: Vec<(f64, f64)> = curve.iter().map(|&(x, m, s)| (x, m + s)).collect();
            outline.extend(curve.iter().rev().map(|&(x, m, s)| (x, m - s)));
            chart.draw_series(std::iter::once(Polygon::new(
                outline,
                color.mix(0.15).filled(),
            )))?;
            chart
                .draw_series(LineSeries::new(
                    curve.iter().map(|&(x, m, _)| (x, m)),
                    color.stroke_width(2),
                ))?
                .label(label.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", path.display()))
}
