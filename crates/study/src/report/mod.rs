//! Reports of a suite's directory: a Markdown report with mean ± std tables over seeds, Welch's
//! and paired t-tests with Holm–Bonferroni-adjusted p-values, the seed study's published numbers
//! beside the replica's, a verdict per claim of the suite, SVG plots (mean line and ±std band per
//! optimizer, published values marked), and CSV of every number.
//!
//! Three steps: [`load`] reads the runs, [`aggregate`] (pure) turns them into one
//! [`DatasetTable`] per dataset and the [`Findings`], [`render`] writes Markdown, CSV and SVG.

mod aggregate;
mod load;
pub mod power;
mod published;
pub mod rank;
mod render;
mod runs;
pub mod stats;
#[cfg(test)]
mod tests;
mod verdict;

use std::path::{Path, PathBuf};

pub use aggregate::{
    At, DatasetTable, Families, Findings, OptimizerRow, PValue, PairRow, Tests, aggregate,
    metric_value,
};
pub use load::{RunRecord, load_run};
pub use published::{Placement, PublishedRow, placement};
pub use runs::TestKind;
pub use runs::{diverged_value, epoch_value};
pub use stats::{Sample, Stats, holm, paired_p, welch_p};
pub use verdict::{
    Comparison, ConditionResult, Outcome, PartBody, PartResult, Power, TableCheck, Verdict,
};

use crate::suite::read_suite_json;

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

/// The files, one per line: `report: <markdown>`, then every CSV and plot.
impl std::fmt::Display for ReportFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "report: {}", self.markdown.display())?;
        for path in self.csv.iter().chain(&self.plots) {
            writeln!(f, "        {}", path.display())?;
        }
        Ok(())
    }
}

/// Writes the report of the suite run in `dir` (which holds `suite.json`) into `dir`.
pub fn report(dir: &Path) -> anyhow::Result<ReportFiles> {
    let suite = read_suite_json(dir)?;
    let records = suite
        .runs(dir)
        .iter()
        .map(|run| load_run(&run.dir, &run.dataset, &run.label, run.seed))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (tables, findings) = aggregate(&suite, &records);

    let mut md = render::header(&suite);
    md.push_str(&render::families(&findings.families));
    let mut plots = Vec::new();
    for table in &tables {
        md.push_str(&render::dataset_section(table, suite.baseline_label()));
        md.push_str(&render::published_section(
            table,
            suite.published_source.as_deref(),
        ));
        md.push_str(&render::verdict_section(table));
        let (lines, files) = render::dataset_plots(dir, table)?;
        md.push_str(&lines);
        plots.extend(files);
    }
    md.push_str(&render::conclusions(&suite, &findings, &records));

    let write = |name: &str, bytes: &[u8]| -> anyhow::Result<PathBuf> {
        let path = dir.join(name);
        data::write_atomic(&path, bytes)?;
        Ok(path)
    };
    let csv = vec![
        write("results.csv", &render::results_csv(&suite, &records)?)?,
        write("summary.csv", &render::summary_csv(&tables)?)?,
        write("epochs.csv", &render::epochs_csv(&records)?)?,
        write("published.csv", &render::published_csv(&tables)?)?,
        write("verdicts.csv", &render::verdicts_csv(&tables)?)?,
    ];
    let markdown = write("report.md", md.as_bytes())?;
    Ok(ReportFiles {
        markdown,
        csv,
        plots,
    })
}
