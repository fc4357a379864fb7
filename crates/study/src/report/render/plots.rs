//! The report's SVG plots (plotters): mean line and ±std band per optimizer, published values
//! marked.

use std::path::{Path, PathBuf};

use anyhow::bail;
use plotters::prelude::*;

use super::super::aggregate::{Curves, DatasetTable};
use crate::claim::Metric;

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
        // A loss that overflowed (1e308, a std of +∞) has no place on an axis: such points are
        // left out, and a plot with none left is replaced by a line saying so.
        let curves = &finite_points(curves);
        if curves.iter().all(|(_, c)| c.is_empty()) {
            lines.push(format!("*{dataset}: {title}: no finite values to plot.*"));
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

/// The points of `curves` whose mean, mean − std and mean + std are finite.
fn finite_points(curves: &Curves) -> Curves {
    curves
        .iter()
        .map(|(label, points)| {
            let finite = points
                .iter()
                .copied()
                .filter(|&(x, m, s)| [x, m - s, m + s].iter().all(|v| v.is_finite()))
                .collect();
            (label.clone(), finite)
        })
        .collect()
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
