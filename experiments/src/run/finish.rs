//! Finish: a session's end written down: `metrics.csv` and `train_loss.csv` from burn-train's
//! metric logs, then `summary.json` (all through `study::run_dir`'s types).

use std::path::{Path, PathBuf};

use burn::train::logger::{FileMetricLogger, MetricLogger};
use burn::train::metric::NumericEntry;
use burn::train::metric::store::Split;
use study::config::TrainConfig;
use study::run_dir::{
    BackendInfo, Divergence, EpochMetrics, IterationLoss, NodesSummary, RunStatus, Summary,
    best_valid_loss_epoch, epoch_dirs, set_smoothed_losses, write_metrics, write_summary,
};

use super::epoch_logs::EpochLogs;
use crate::datasets::RunData;

/// Burn's metric logs of a run directory, read through burn-train's own reader
/// (`FileMetricLogger::read_numeric`): (value, count) per logged batch.
struct MetricLogs {
    dir: PathBuf,
    logger: FileMetricLogger,
}

impl MetricLogs {
    fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            logger: FileMetricLogger::new(dir),
        }
    }

    /// The entries of metric `name` in `epoch` of `split` (none when the log is missing).
    fn read(&mut self, name: &str, epoch: usize, split: Split) -> anyhow::Result<Vec<(f64, f64)>> {
        let file = EpochLogs::file(&self.dir, name, epoch, &split);
        // Burn's reader opens whatever is there: a FIFO would block it, a device feed it.
        if file.exists() {
            data::check_regular(&file)?;
        }
        let entries = self
            .logger
            .read_numeric(name, epoch, &split)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        Ok(entries
            .into_iter()
            .map(|entry| match entry {
                NumericEntry::Value(v) => (v, 1.0),
                NumericEntry::Aggregated {
                    aggregated_value,
                    count,
                } => (aggregated_value, count as f64),
            })
            .collect())
    }
}

fn weighted_mean(entries: &[(f64, f64)]) -> Option<f64> {
    let total: f64 = entries.iter().map(|(_, w)| w).sum();
    (total > 0.0).then(|| entries.iter().map(|(v, w)| v * w).sum::<f64>() / total)
}

/// The per-epoch metrics and per-iteration training losses of a run, from Burn's metric logs.
/// Epochs after `upto` (if given) are ignored.
pub fn read_metrics(
    dir: &Path,
    upto: Option<usize>,
) -> anyhow::Result<(Vec<EpochMetrics>, Vec<IterationLoss>)> {
    let mut logs = MetricLogs::new(dir);
    let mut epochs = Vec::new();
    let mut iterations = Vec::new();
    let valid: std::collections::HashSet<usize> = epoch_dirs(dir, "valid")
        .into_iter()
        .map(|(e, _)| e)
        .collect();
    let mut global = 0;
    for (epoch, _) in epoch_dirs(dir, "train") {
        if upto.is_some_and(|u| epoch > u) {
            continue;
        }
        let losses = logs.read("Loss", epoch, Split::Train)?;
        if losses.is_empty() {
            continue;
        }
        for (loss, _) in &losses {
            global += 1;
            iterations.push((global, epoch, *loss));
        }
        let lr = logs.read("Learning Rate", epoch, Split::Train)?;
        let (valid_loss, valid_accuracy) = if valid.contains(&epoch) {
            (
                weighted_mean(&logs.read("Loss", epoch, Split::Valid)?),
                weighted_mean(&logs.read("Accuracy", epoch, Split::Valid)?),
            )
        } else {
            (None, None)
        };
        let valid_top5_accuracy = if valid.contains(&epoch) {
            weighted_mean(&logs.read(TOP5, epoch, Split::Valid)?)
        } else {
            None
        };
        epochs.push(EpochMetrics {
            epoch,
            train_loss_smoothed: None,
            valid_top5_accuracy,
            train_loss: weighted_mean(&losses).unwrap_or(f64::NAN),
            train_accuracy: weighted_mean(&logs.read("Accuracy", epoch, Split::Train)?)
                .unwrap_or(f64::NAN),
            valid_loss,
            valid_accuracy,
            lr: lr.last().map_or(f64::NAN, |(v, _)| *v),
        });
    }
    set_smoothed_losses(&mut epochs, &iterations);
    Ok((epochs, iterations))
}

/// The name of burn-train's top-5 accuracy metric (and of its log file).
const TOP5: &str = "Top-K Accuracy @ TopK(5)";

/// How a run ended, from its divergence (if any) and the epochs completed.
fn outcome(
    divergence: Option<&Divergence>,
    completed: usize,
    epochs: usize,
) -> (RunStatus, Option<String>) {
    match divergence {
        Some(d) => (RunStatus::Diverged, Some(d.to_string())),
        // Burn's TUI resets the interrupter when training ends, so a stop is read from the
        // epochs completed rather than from the interrupter.
        None if completed < epochs => (
            RunStatus::Interrupted,
            Some(format!(
                "interrupted after epoch {completed}; continue with --resume"
            )),
        ),
        None => (RunStatus::Complete, None),
    }
}

/// What a finished session knows, to be written as `summary.json`.
pub struct Session<'a> {
    /// The recipe.
    pub config: &'a TrainConfig,
    /// The data trained on.
    pub data: &'a RunData,
    /// Trainable parameters.
    pub parameters: usize,
    /// Optimizer steps per epoch.
    pub per_epoch: usize,
    /// The epoch this session resumed from.
    pub resumed_from: usize,
    /// Epochs completed (train + valid + checkpoint).
    pub completed: usize,
    /// This session's wall time, seconds.
    pub wall_time_s: f64,
    /// The wall time over every session of the run, seconds (the writing process only).
    pub total_wall_time_s: Option<f64>,
    /// Backend and device.
    pub backend: BackendInfo,
    /// The multi-node run, if any.
    pub nodes: Option<NodesSummary>,
}

/// Writes `metrics.csv`, `train_loss.csv` and `summary.json` of a finished session.
pub fn finish(
    dir: &Path,
    session: Session<'_>,
    divergence: Option<Divergence>,
) -> anyhow::Result<Summary> {
    let config = session.config;
    let completed = session.completed;
    let (status, message) = outcome(divergence.as_ref(), completed, config.epochs);
    let upto = (status != RunStatus::Diverged).then_some(completed);
    let (epochs, iterations) = read_metrics(dir, upto)?;
    write_metrics(dir, &epochs, &iterations)?;
    if config.tensorboard {
        let losses: Vec<f64> = iterations.iter().map(|&(_, _, loss)| loss).collect();
        let momenta = super::schedule::epoch_momenta(config, session.per_epoch, epochs.len())?;
        crate::tensorboard::write_run(dir, config, &epochs, &losses, &momenta)?;
    }
    let valid_epochs: Vec<&EpochMetrics> = epochs
        .iter()
        .filter(|e| e.valid_accuracy.is_some())
        .collect();
    let best = valid_epochs.iter().copied().max_by(|a, b| {
        a.valid_accuracy
            .partial_cmp(&b.valid_accuracy)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let last_valid = valid_epochs.last();
    let train_images = session.per_epoch * config.batch_size;
    let session_epochs = completed.saturating_sub(session.resumed_from);
    let summary = Summary {
        status,
        message,
        divergence,
        optimizer: config.optimizer_spec().to_string(),
        dataset: config.dataset.to_string(),
        dataset_variant: session.data.variant.to_string(),
        dataset_path: session.data.source.clone(),
        model: config.model.to_string(),
        seed: config.seed,
        epochs: config.epochs,
        epochs_completed: completed,
        final_train_loss: epochs.last().map(|e| e.train_loss),
        final_valid_loss: last_valid.and_then(|e| e.valid_loss),
        final_valid_accuracy: last_valid.and_then(|e| e.valid_accuracy),
        best_valid_accuracy: best.and_then(|e| e.valid_accuracy),
        best_epoch: best.map(|e| e.epoch),
        final_train_loss_smoothed: epochs.last().and_then(|e| e.train_loss_smoothed),
        final_valid_top5_accuracy: last_valid.and_then(|e| e.valid_top5_accuracy),
        best_valid_loss_epoch: best_valid_loss_epoch(&epochs).cloned(),
        wall_time_s: session.wall_time_s,
        total_wall_time_s: session.total_wall_time_s,
        images_per_s: (session_epochs * train_images) as f64 / session.wall_time_s.max(1e-9),
        train_images,
        valid_images: session.data.valid_indices.len(),
        parameters: session.parameters,
        backend: session.backend,
        resumed_from_epoch: session.resumed_from,
        nodes: session.nodes,
        provenance: Some(crate::provenance::provenance()),
    };
    write_summary(dir, &summary)?;
    Ok(summary)
}
