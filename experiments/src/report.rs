//! Reports of a suite's directory: a Markdown report with mean ± std tables over seeds and
//! Welch's t-tests, SVG plots (mean line and ±std band per optimizer), and CSV of every number.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use lookahead_optim::InnerStatePolicy;
use plotters::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::run::{RunStatus, Summary, read_summary};
use crate::spec::OptimizerSpec;
use crate::suite::Suite;

/// Mean, sample standard deviation and count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for a single value.
    pub std: f64,
    /// Number of values.
    pub n: usize,
}

impl Stats {
    /// The statistics of `values` (`None` when empty).
    pub fn of(values: &[f64]) -> Option<Stats> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Some(Stats {
            mean,
            std: var.sqrt(),
            n,
        })
    }
}

/// Two-sided p-value of Welch's unequal-variances t-test of `a` against `b`; `None` when either
/// has fewer than 2 values or both have zero variance.
pub fn welch_p(a: &[f64], b: &[f64]) -> Option<f64> {
    let (sa, sb) = (Stats::of(a)?, Stats::of(b)?);
    if sa.n < 2 || sb.n < 2 {
        return None;
    }
    let (va, vb) = (sa.std.powi(2) / sa.n as f64, sb.std.powi(2) / sb.n as f64);
    let se2 = va + vb;
    if se2 <= 0.0 {
        return None;
    }
    let t = (sa.mean - sb.mean) / se2.sqrt();
    // Welch–Satterthwaite degrees of freedom.
    let df = se2.powi(2) / (va.powi(2) / (sa.n - 1) as f64 + vb.powi(2) / (sb.n - 1) as f64);
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * (1.0 - dist.cdf(t.abs()))).clamp(0.0, 1.0))
}

/// (epoch, train loss, valid loss, valid accuracy) of one epoch.
type EpochRow = (usize, f64, Option<f64>, Option<f64>);

/// One run as the report sees it.
#[derive(Debug, Clone)]
struct RunRecord {
    dataset: String,
    label: String,
    seed: u64,
    summary: Option<Summary>,
    /// (epoch, train_loss, valid_loss, valid_accuracy) per epoch.
    epochs: Vec<EpochRow>,
    /// Per-iteration training loss.
    iterations: Vec<f64>,
}

fn read_csv_rows(path: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect())
}

fn parse_f(path: &Path, s: &str) -> anyhow::Result<Option<f64>> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<f64>()
        .map(Some)
        .with_context(|| format!("{}: bad number `{s}`", path.display()))
}

fn load_run(dir: &Path, dataset: &str, label: &str, seed: u64) -> anyhow::Result<RunRecord> {
    let summary = read_summary(dir)?;
    let metrics = dir.join("metrics.csv");
    let mut epochs = Vec::new();
    for row in read_csv_rows(&metrics)? {
        if row.len() < 6 {
            bail!("{}: expected 6 columns", metrics.display());
        }
        let epoch = row[0]
            .parse()
            .with_context(|| format!("{}: bad epoch `{}`", metrics.display(), row[0]))?;
        epochs.push((
            epoch,
            parse_f(&metrics, &row[1])?.unwrap_or(f64::NAN),
            parse_f(&metrics, &row[3])?,
            parse_f(&metrics, &row[4])?,
        ));
    }
    let losses = dir.join("train_loss.csv");
    let mut iterations = Vec::new();
    for row in read_csv_rows(&losses)? {
        let value = row.get(2).map_or("", String::as_str);
        iterations.push(parse_f(&losses, value)?.unwrap_or(f64::NAN));
    }
    Ok(RunRecord {
        dataset: dataset.to_string(),
        label: label.to_string(),
        seed,
        summary,
        epochs,
        iterations,
    })
}

/// The files a report wrote.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// `report.md`.
    pub markdown: PathBuf,
    /// CSV files.
    pub csv: Vec<PathBuf>,
    /// SVG plots.
    pub plots: Vec<PathBuf>,
}

fn pm(stats: Option<Stats>, digits: usize) -> String {
    match stats {
        Some(s) if s.n > 1 => format!("{:.*} ± {:.*}", digits, s.mean, digits, s.std),
        Some(s) => format!("{:.*}", digits, s.mean),
        None => "–".into(),
    }
}

fn p_text(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "< 0.001".into(),
        Some(p) => format!("{p:.3}"),
        None => "n/a".into(),
    }
}

/// Exponential moving average with bias correction (fastai's smoothed loss, β = 0.98).
fn smooth(values: &[f64]) -> Vec<f64> {
    let beta = 0.98;
    let mut avg = 0.0;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            avg = beta * avg + (1.0 - beta) * v;
            avg / (1.0 - beta.powi(i as i32 + 1))
        })
        .collect()
}

/// Mean and std per position over series (positions missing from some series use the others).
fn band(series: &[Vec<f64>]) -> Vec<(f64, f64, f64)> {
    let len = series.iter().map(Vec::len).max().unwrap_or(0);
    (0..len)
        .filter_map(|i| {
            let values: Vec<f64> = series
                .iter()
                .filter_map(|s| s.get(i).copied())
                .filter(|v| v.is_finite())
                .collect();
            Stats::of(&values).map(|s| (i as f64, s.mean, s.std))
        })
        .collect()
}

type Curves = Vec<(String, Vec<(f64, f64, f64)>)>;

fn plot(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    curves: &Curves,
) -> anyhow::Result<()> {
    let points = || curves.iter().flat_map(|(_, c)| c.iter());
    let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, m, s) in points() {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(m - s);
        y1 = y1.max(m + s);
    }
    if !(x0.is_finite() && y0.is_finite()) {
        bail!("{}: nothing to plot", path.display());
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    let (y0, y1) = (y0 - pad, y1 + pad);
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

/// Whether two specs differ only in the inner-state policy, `a` with Reset and `b` with Keep.
fn reset_keep_pair(a: &OptimizerSpec, b: &OptimizerSpec) -> bool {
    match (a, b) {
        (
            OptimizerSpec::Lookahead {
                inner: ia,
                k: ka,
                alpha: aa,
                policy: InnerStatePolicy::Reset,
            },
            OptimizerSpec::Lookahead {
                inner: ib,
                k: kb,
                alpha: ab,
                policy: InnerStatePolicy::Keep,
            },
        ) => ia == ib && ka == kb && aa == ab,
        _ => false,
    }
}

/// Writes the report of the suite run in `dir` (which holds `suite.json`) into `dir`.
pub fn report(dir: &Path) -> anyhow::Result<ReportFiles> {
    let suite_path = dir.join("suite.json");
    let text = std::fs::read_to_string(&suite_path).with_context(|| {
        format!(
            "cannot read {}: is {} a suite's output directory (from `compare`)?",
            suite_path.display(),
            dir.display()
        )
    })?;
    let suite: Suite =
        serde_json::from_str(&text).with_context(|| format!("corrupt {}", suite_path.display()))?;
    let specs: BTreeMap<String, OptimizerSpec> = suite.specs()?.into_iter().collect();
    let baseline = suite.baseline_label().to_string();
    let mut records = Vec::new();
    for run in suite.runs(dir) {
        records.push(load_run(&run.dir, &run.dataset, &run.label, run.seed)?);
    }
    let mut md = String::new();
    let mut plots = Vec::new();
    let _ = writeln!(md, "# Suite `{}`\n\n{}\n", suite.name, suite.description);
    let r = &suite.recipe;
    let _ = writeln!(
        md,
        "Recipe: model `{}`, {} epochs, batch {}, {:?} schedule (peak lr {} unless the optimizer \
         sets its own), mixup α {}, label smoothing {}; seeds {:?}. Baseline: `{}`.\n",
        r.model,
        r.epochs,
        r.batch_size,
        r.schedule,
        r.lr_max,
        r.mixup,
        r.label_smoothing,
        suite.seeds,
        baseline
    );
    // CSV of every run.
    let mut results = String::from(
        "dataset,optimizer,spec,seed,status,epochs_completed,final_train_loss,final_valid_loss,\
         final_valid_accuracy,best_valid_accuracy,wall_time_s,images_per_s,backend,device\n",
    );
    let mut epochs_csv =
        String::from("dataset,optimizer,seed,epoch,train_loss,valid_loss,valid_accuracy\n");
    for rec in &records {
        let o = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        let spec = specs
            .get(&rec.label)
            .map_or(String::new(), |s| s.to_string());
        match &rec.summary {
            Some(s) => {
                let _ = writeln!(
                    results,
                    "{},{},\"{}\",{},{:?},{},{},{},{},{},{:.1},{:.1},{},\"{}\"",
                    rec.dataset,
                    rec.label,
                    spec,
                    rec.seed,
                    s.status,
                    s.epochs_completed,
                    o(s.final_train_loss),
                    o(s.final_valid_loss),
                    o(s.final_valid_accuracy),
                    o(s.best_valid_accuracy),
                    s.wall_time_s,
                    s.images_per_s,
                    s.backend.backend,
                    s.backend.device
                );
            }
            None => {
                let _ = writeln!(
                    results,
                    "{},{},\"{}\",{},missing,,,,,,,,,",
                    rec.dataset, rec.label, spec, rec.seed
                );
            }
        }
        for (epoch, tl, vl, va) in &rec.epochs {
            let _ = writeln!(
                epochs_csv,
                "{},{},{},{epoch},{tl},{},{}",
                rec.dataset,
                rec.label,
                rec.seed,
                o(*vl),
                o(*va)
            );
        }
    }
    let mut summary_csv = String::from(
        "dataset,optimizer,n,diverged,train_loss_mean,train_loss_std,valid_loss_mean,\
         valid_loss_std,valid_accuracy_mean,valid_accuracy_std,p_accuracy_vs_baseline,\
         p_valid_loss_vs_baseline\n",
    );
    let mut significant = Vec::new();
    let mut untestable = false;
    let mut tests_run = 0usize;
    for dataset in &suite.datasets {
        let of = |label: &str| -> Vec<&RunRecord> {
            records
                .iter()
                .filter(|r| &r.dataset == dataset && r.label == label)
                .collect()
        };
        let complete = |label: &str| -> Vec<&Summary> {
            of(label)
                .into_iter()
                .filter_map(|r| r.summary.as_ref())
                .filter(|s| s.status == RunStatus::Complete)
                .collect()
        };
        let values = |label: &str, f: &dyn Fn(&Summary) -> Option<f64>| -> Vec<f64> {
            complete(label).into_iter().filter_map(f).collect()
        };
        let acc = |s: &Summary| s.final_valid_accuracy;
        let vloss = |s: &Summary| s.final_valid_loss;
        let tloss = |s: &Summary| s.final_train_loss;
        let _ = writeln!(md, "## {dataset}\n");
        let _ = writeln!(
            md,
            "Final-epoch values over the seeds, mean ± sample std (n = completed runs). p: \
             two-sided Welch t-test against `{baseline}` (valid accuracy, valid loss).\n"
        );
        let _ = writeln!(
            md,
            "| optimizer | spec | n | diverged | train loss | valid loss | valid accuracy (%) | p (acc) | p (loss) |\n|---|---|---|---|---|---|---|---|---|"
        );
        for o in &suite.optimizers {
            let label = o.label.as_str();
            let runs = of(label);
            let diverged = runs
                .iter()
                .filter(|r| {
                    r.summary
                        .as_ref()
                        .is_some_and(|s| s.status == RunStatus::Diverged)
                })
                .count();
            let missing = runs
                .iter()
                .filter(|r| {
                    r.summary
                        .as_ref()
                        .is_none_or(|s| s.status == RunStatus::Interrupted)
                })
                .count();
            let (a, l, t) = (
                values(label, &acc),
                values(label, &vloss),
                values(label, &tloss),
            );
            let (pa, pl) = if label == baseline {
                (None, None)
            } else {
                (
                    welch_p(&a, &values(&baseline, &acc)),
                    welch_p(&l, &values(&baseline, &vloss)),
                )
            };
            if label != baseline {
                tests_run += 2;
                if pa.is_none() || pl.is_none() {
                    untestable = true;
                }
                let base_acc = Stats::of(&values(&baseline, &acc)).map_or(0.0, |s| s.mean);
                let base_loss = Stats::of(&values(&baseline, &vloss)).map_or(0.0, |s| s.mean);
                if pa.is_some_and(|p| p < 0.05) {
                    let diff = Stats::of(&a).map_or(0.0, |s| s.mean) - base_acc;
                    significant.push(format!(
                        "`{label}` vs `{baseline}` on {dataset}: valid accuracy {diff:+.2} points (p = {})",
                        p_text(pa)
                    ));
                }
                if pl.is_some_and(|p| p < 0.05) {
                    let diff = Stats::of(&l).map_or(0.0, |s| s.mean) - base_loss;
                    significant.push(format!(
                        "`{label}` vs `{baseline}` on {dataset}: valid loss {diff:+.4} (p = {})",
                        p_text(pl)
                    ));
                }
            }
            let spec = specs.get(label).map_or(String::new(), |s| s.to_string());
            let mut n = format!("{}", a.len());
            if missing > 0 {
                let _ = write!(n, " ({missing} unfinished)");
            }
            let _ = writeln!(
                md,
                "| {label} | `{spec}` | {n} | {diverged} | {} | {} | {} | {} | {} |",
                pm(Stats::of(&t), 4),
                pm(Stats::of(&l), 4),
                pm(Stats::of(&a), 2),
                if label == baseline {
                    "baseline".into()
                } else {
                    p_text(pa)
                },
                if label == baseline {
                    "baseline".into()
                } else {
                    p_text(pl)
                },
            );
            let s = |v: &[f64]| Stats::of(v);
            let f = |st: Option<Stats>, std: bool| {
                st.map_or(String::new(), |s| {
                    (if std { s.std } else { s.mean }).to_string()
                })
            };
            let _ = writeln!(
                summary_csv,
                "{dataset},{label},{},{diverged},{},{},{},{},{},{},{},{}",
                a.len(),
                f(s(&t), false),
                f(s(&t), true),
                f(s(&l), false),
                f(s(&l), true),
                f(s(&a), false),
                f(s(&a), true),
                pa.map_or(String::new(), |p| p.to_string()),
                pl.map_or(String::new(), |p| p.to_string()),
            );
        }
        // Reset against keep.
        let pairs: Vec<(&str, &str)> = suite
            .optimizers
            .iter()
            .flat_map(|a| suite.optimizers.iter().map(move |b| (a, b)))
            .filter(|(a, b)| {
                a.lr_max == b.lr_max
                    && a.weight_decay == b.weight_decay
                    && match (specs.get(&a.label), specs.get(&b.label)) {
                        (Some(sa), Some(sb)) => reset_keep_pair(sa, sb),
                        _ => false,
                    }
            })
            .map(|(a, b)| (a.label.as_str(), b.label.as_str()))
            .collect();
        if !pairs.is_empty() {
            let _ = writeln!(
                md,
                "\nReset against keep (same inner optimizer, k, α, learning rate): Welch t-test.\n\n| reset | keep | Δ valid accuracy (points) | p (acc) | Δ valid loss | p (loss) |\n|---|---|---|---|---|---|"
            );
            for (reset, keep) in pairs {
                let (ar, ak) = (values(reset, &acc), values(keep, &acc));
                let (lr, lk) = (values(reset, &vloss), values(keep, &vloss));
                let diff = |x: &[f64], y: &[f64]| match (Stats::of(x), Stats::of(y)) {
                    (Some(x), Some(y)) => format!("{:+.4}", x.mean - y.mean),
                    _ => "–".into(),
                };
                let (pa, pl) = (welch_p(&ar, &ak), welch_p(&lr, &lk));
                tests_run += 2;
                if pa.is_none() || pl.is_none() {
                    untestable = true;
                }
                for (what, p, x, y) in [("accuracy", pa, &ar, &ak), ("loss", pl, &lr, &lk)] {
                    if p.is_some_and(|p| p < 0.05) {
                        significant.push(format!(
                            "`{reset}` vs `{keep}` on {dataset}: valid {what} {} (p = {})",
                            diff(x, y),
                            p_text(p)
                        ));
                    }
                }
                let _ = writeln!(
                    md,
                    "| {reset} | {keep} | {} | {} | {} | {} |",
                    diff(&ar, &ak),
                    p_text(pa),
                    diff(&lr, &lk),
                    p_text(pl)
                );
            }
        }
        // Plots.
        let slug = dataset.replace(['/', ' '], "_");
        let mut train_curves = Curves::new();
        let mut vloss_curves = Curves::new();
        let mut vacc_curves = Curves::new();
        for o in &suite.optimizers {
            let runs: Vec<&RunRecord> = of(&o.label)
                .into_iter()
                .filter(|r| {
                    r.summary
                        .as_ref()
                        .is_some_and(|s| s.status == RunStatus::Complete)
                })
                .collect();
            if runs.is_empty() {
                continue;
            }
            let smoothed: Vec<Vec<f64>> = runs.iter().map(|r| smooth(&r.iterations)).collect();
            let per_epoch = |f: &dyn Fn(&EpochRow) -> Option<f64>| {
                let series: Vec<Vec<f64>> = runs
                    .iter()
                    .map(|r| r.epochs.iter().map(|e| f(e).unwrap_or(f64::NAN)).collect())
                    .collect();
                band(&series)
                    .into_iter()
                    .map(|(i, m, s)| (i + 1.0, m, s))
                    .collect::<Vec<_>>()
            };
            train_curves.push((
                o.label.clone(),
                band(&smoothed)
                    .into_iter()
                    .map(|(i, m, s)| (i + 1.0, m, s))
                    .collect(),
            ));
            vloss_curves.push((o.label.clone(), per_epoch(&|e| e.2)));
            vacc_curves.push((o.label.clone(), per_epoch(&|e| e.3)));
        }
        let mut lines = Vec::new();
        for (name, title, x, y, curves) in [
            (
                "train_loss",
                "training loss (EMA 0.98)",
                "iteration",
                "loss",
                &train_curves,
            ),
            (
                "valid_loss",
                "validation loss",
                "epoch",
                "loss",
                &vloss_curves,
            ),
            (
                "valid_accuracy",
                "validation accuracy",
                "epoch",
                "accuracy (%)",
                &vacc_curves,
            ),
        ] {
            if curves.iter().all(|(_, c)| c.is_empty()) {
                continue;
            }
            let file = format!("{slug}_{name}.svg");
            let path = dir.join(&file);
            plot(
                &path,
                &format!("{dataset}: {title}, mean ± std over seeds"),
                x,
                y,
                curves,
            )?;
            lines.push(format!("![{dataset} {title}]({file})"));
            plots.push(path);
        }
        let _ = writeln!(md, "\n{}\n", lines.join("\n\n"));
    }
    // What the seeds allow concluding.
    let n_seeds = suite.seeds.len();
    let _ = writeln!(md, "## What these seeds allow concluding\n");
    if n_seeds < 2 || untestable {
        let _ = writeln!(
            md,
            "- Some comparisons have fewer than two completed runs per side (or no variance): no \
             test is possible there (`n/a`)."
        );
    }
    if significant.is_empty() {
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
        for s in &significant {
            let _ = writeln!(md, "  - {s}");
        }
        let _ = writeln!(
            md,
            "- Everything else: no difference at the 5 % level, which with {n_seeds} seed(s) per \
             optimizer is an absence of evidence, not evidence of no difference.\n- These are \
             {} tests at 5 % each (accuracy and loss, against the baseline and reset vs keep), \
             uncorrected for multiple comparisons: about one in twenty comes out significant by \
             chance alone. Treat single results near p = 0.05 as hints to rerun with more seeds.",
            tests_run
        );
    }
    let _ = writeln!(
        md,
        "- Every number here is reproduced by `cargo xtask compare {} --backend <backend>` then \
         `cargo xtask report <dir>`; the CSV files beside this report hold them all \
         (`results.csv` per run, `summary.csv` per optimizer, `epochs.csv` per epoch).",
        suite.name
    );
    let total_time: f64 = records
        .iter()
        .filter_map(|r| r.summary.as_ref())
        .map(|s| s.wall_time_s)
        .sum();
    if let Some(s) = records.iter().find_map(|r| r.summary.as_ref()) {
        let _ = writeln!(
            md,
            "- Runs trained on {}; total training wall time {:.0} s.",
            s.backend, total_time
        );
    }
    let write = |name: &str, text: &str| -> anyhow::Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    };
    let csv = vec![
        write("results.csv", &results)?,
        write("summary.csv", &summary_csv)?,
        write("epochs.csv", &epochs_csv)?,
    ];
    let markdown = write("report.md", &md)?;
    Ok(ReportFiles {
        markdown,
        csv,
        plots,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_matches_a_reference_value() {
        // t = -2.8947, df = 5.5208; p by numerical integration of the t density (Python): 0.0302862
        // (= scipy.stats.ttest_ind([1, 2, 3, 4], [3, 5, 7, 9, 11], equal_var=False).pvalue)
        let p = welch_p(&[1.0, 2.0, 3.0, 4.0], &[3.0, 5.0, 7.0, 9.0, 11.0]).unwrap();
        assert!((p - 0.030_286_2).abs() < 1e-5, "{p}");
        assert_eq!(welch_p(&[1.0], &[2.0, 3.0]), None);
        assert_eq!(welch_p(&[1.0, 1.0], &[2.0, 2.0]), None);
        let s = Stats::of(&[1.0, 2.0, 3.0]).unwrap();
        assert!((s.mean - 2.0).abs() < 1e-12 && (s.std - 1.0).abs() < 1e-12);
    }
}
