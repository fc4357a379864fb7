//! Loading a suite's runs for the report: each run's summary, `metrics.csv` and
//! `train_loss.csv`, read with the `csv` crate (missing files are unfinished runs).

use std::path::Path;

use anyhow::Context;

use crate::run::{Summary, read_summary};

/// (epoch, train loss, valid loss, valid accuracy) of one epoch.
pub type EpochRow = (usize, f64, Option<f64>, Option<f64>);

/// One run as the report sees it.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Dataset name.
    pub dataset: String,
    /// Optimizer label.
    pub label: String,
    /// Seed.
    pub seed: u64,
    /// The summary, once the run has ended.
    pub summary: Option<Summary>,
    /// One row per epoch.
    pub epochs: Vec<EpochRow>,
    /// Per-iteration training loss.
    pub iterations: Vec<f64>,
}

/// The data rows of a CSV file with a header (none when the file does not exist).
fn read_rows(path: &Path) -> anyhow::Result<Vec<csv::StringRecord>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    reader
        .records()
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read {}", path.display()))
}

/// A number of a CSV cell (`None` for an empty cell), the error naming the file.
fn number(path: &Path, cell: Option<&str>) -> anyhow::Result<Option<f64>> {
    match cell.unwrap_or("") {
        "" => Ok(None),
        s => s
            .parse::<f64>()
            .map(Some)
            .with_context(|| format!("{}: bad number `{s}`", path.display())),
    }
}

/// Loads one run of a suite from its directory.
pub fn load_run(dir: &Path, dataset: &str, label: &str, seed: u64) -> anyhow::Result<RunRecord> {
    let summary = read_summary(dir)?;
    let metrics = dir.join("metrics.csv");
    let mut epochs = Vec::new();
    for row in read_rows(&metrics)? {
        if row.len() < 6 {
            anyhow::bail!("{}: expected 6 columns", metrics.display());
        }
        let epoch = row[0]
            .parse()
            .with_context(|| format!("{}: bad epoch `{}`", metrics.display(), &row[0]))?;
        epochs.push((
            epoch,
            number(&metrics, row.get(1))?.unwrap_or(f64::NAN),
            number(&metrics, row.get(3))?,
            number(&metrics, row.get(4))?,
        ));
    }
    let losses = dir.join("train_loss.csv");
    let iterations = read_rows(&losses)?
        .iter()
        .map(|row| Ok(number(&losses, row.get(2))?.unwrap_or(f64::NAN)))
        .collect::<anyhow::Result<_>>()?;
    Ok(RunRecord {
        dataset: dataset.to_string(),
        label: label.to_string(),
        seed,
        summary,
        epochs,
        iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_read_and_a_bad_number_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("metrics.csv"),
            "epoch,train_loss,train_accuracy,valid_loss,valid_accuracy,lr\n1,2.5,10,,,0.1\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("train_loss.csv"),
            "iteration,epoch,train_loss\n1,1,2.75\n2,1,NaN\n",
        )
        .unwrap();
        let run = load_run(dir.path(), "d", "sgd", 1).unwrap();
        assert_eq!(run.epochs, vec![(1, 2.5, None, None)]);
        assert_eq!(run.iterations[0], 2.75);
        assert!(run.iterations[1].is_nan() && run.summary.is_none());
        std::fs::write(
            dir.path().join("train_loss.csv"),
            "iteration,epoch,train_loss\n1,1,x\n",
        )
        .unwrap();
        let err = load_run(dir.path(), "d", "sgd", 1).unwrap_err().to_string();
        assert!(
            err.contains("train_loss.csv") && err.contains("`x`"),
            "{err}"
        );
    }
}
