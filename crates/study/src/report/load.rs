//! Loading a suite's runs for the report: each run's summary, `metrics.csv` and
//! `train_loss.csv`, read through [`crate::run_dir`]'s types (missing files are unfinished
//! runs).

use std::path::Path;

use crate::run_dir::{EpochMetrics, Summary, read_epochs, read_iterations, read_summary};

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
    pub epochs: Vec<EpochMetrics>,
    /// Per-iteration training loss.
    pub iterations: Vec<f64>,
}

/// Loads one run of a suite from its directory.
pub fn load_run(dir: &Path, dataset: &str, label: &str, seed: u64) -> anyhow::Result<RunRecord> {
    let summary = read_summary(dir)?;
    if let Some(s) = &summary
        && (s.seed != seed || s.dataset != dataset)
    {
        anyhow::bail!(
            "{}: the summary is of seed {} on `{}`, its folder of seed {seed} on `{dataset}`: \
             a run's files moved or copied into another run's folder",
            dir.join("summary.json").display(),
            s.seed,
            crate::input::shown(&s.dataset)
        );
    }
    let epochs = read_epochs(dir)?;
    let iterations = read_iterations(dir)?
        .into_iter()
        .map(|(_, _, loss)| loss)
        .collect();
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
        assert_eq!(run.epochs.len(), 1);
        assert_eq!(run.epochs[0].train_loss, 2.5);
        assert_eq!(run.epochs[0].valid_loss, None);
        assert_eq!(run.iterations[0], 2.75);
        assert!(run.iterations[1].is_nan() && run.summary.is_none());
        std::fs::write(
            dir.path().join("train_loss.csv"),
            "iteration,epoch,train_loss\n1,1,x\n",
        )
        .unwrap();
        let err = format!("{:#}", load_run(dir.path(), "d", "sgd", 1).unwrap_err());
        assert!(
            err.contains("train_loss.csv") && err.contains("`x`"),
            "{err}"
        );
    }

    #[test]
    fn a_summary_of_another_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let record = crate::report::tests::run("sgd", 2, 80.0, crate::run_dir::RunStatus::Complete);
        let summary = record.summary.unwrap();
        crate::run_dir::write_summary(dir.path(), &summary).unwrap();
        load_run(dir.path(), "fashion-mnist-embedded", "sgd", 2).unwrap();
        let err = format!(
            "{:#}",
            load_run(dir.path(), "fashion-mnist-embedded", "sgd", 3).unwrap_err()
        );
        assert!(
            err.contains("summary is of seed 2") && err.contains("seed 3"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            load_run(dir.path(), "cifar10", "sgd", 2).unwrap_err()
        );
        assert!(err.contains("`fashion-mnist-embedded`"), "{err}");
    }

    #[test]
    fn a_folder_where_a_file_is_expected_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("metrics.csv")).unwrap();
        let err = format!("{:#}", load_run(dir.path(), "d", "sgd", 1).unwrap_err());
        assert!(
            err.contains("metrics.csv") && err.contains("is a folder"),
            "{err}"
        );
        std::fs::remove_dir(dir.path().join("metrics.csv")).unwrap();
        std::fs::create_dir(dir.path().join("summary.json")).unwrap();
        let err = format!("{:#}", load_run(dir.path(), "d", "sgd", 1).unwrap_err());
        assert!(err.contains("summary.json: is a folder"), "{err}");
    }
}
