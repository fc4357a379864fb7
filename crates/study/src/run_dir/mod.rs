//! The run directory's format: what `experiments train` writes and `report` reads, as types.
//!
//! A run directory holds:
//!
//! | file | type | written |
//! | --- | --- | --- |
//! | `config.json` | [`TrainConfig`] | when a session starts, atomically |
//! | `fingerprint.json` | [`Fingerprint`] | when the run starts from epoch 0, atomically; checked by every later session |
//! | `backend.json` | [`BackendInfo`] | when a session starts, atomically (node 0 / one process) |
//! | `train/epoch-N/*.log`, `valid/epoch-N/*.log` | burn-train's metric logs | during training, by burn-train |
//! | `checkpoint/{model,optim,scheduler}-N.mpk` | burn-train's checkpoints (the last two epochs) | at each epoch's end, by burn-train, **not** atomically |
//! | `metrics.csv` | [`MetricsRow`] per epoch | when the session ends, atomically |
//! | `train_loss.csv` | [`IterationRow`] per iteration | when the session ends, atomically |
//! | `model.mpk` | the final weights | when the session ends, by Burn's recorder, **not** atomically |
//! | `summary.json` | [`Summary`] | last, atomically: a run has ended once it exists |

pub mod fingerprint;
pub mod metrics;
pub mod provenance;
pub mod summary;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;

pub use fingerprint::{
    FINGERPRINT, Fingerprint, MAY_CHANGE, param_digest, read_fingerprint, write_fingerprint,
};
pub use metrics::{
    EpochMetrics, IterationLoss, IterationRow, METRICS, MetricsRow, TRAIN_LOSS,
    best_valid_loss_epoch, debiased_ema, read_epochs, read_iterations, set_smoothed_losses,
    write_metrics,
};
pub use provenance::{Provenance, SESSIONS, SessionTime, Sessions, cpu_model_in};
pub use summary::{AllReduceStats, BackendInfo, Divergence, NodesSummary, RunStatus, Summary};

use crate::config::TrainConfig;
use crate::input::from_json;

/// `config.json`: the run's recipe.
pub const CONFIG: &str = "config.json";
/// `backend.json`: the backend a session started on (`--resume` continues on it).
pub const BACKEND: &str = "backend.json";
/// `summary.json`: how the run ended.
pub const SUMMARY: &str = "summary.json";

/// Writes `value` as pretty JSON to `dir/name`, atomically.
fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> anyhow::Result<()> {
    let path = dir.join(name);
    let text = serde_json::to_string_pretty(value)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(data::write_atomic(&path, text.as_bytes())?)
}

/// Writes `summary.json` (atomically: a run has ended once it exists).
pub fn write_summary(dir: &Path, summary: &Summary) -> anyhow::Result<()> {
    write_json(dir, SUMMARY, summary)
}

/// Writes `config.json`.
pub fn write_config(dir: &Path, config: &TrainConfig) -> anyhow::Result<()> {
    write_json(dir, CONFIG, config)
}

/// Writes `backend.json`.
pub fn write_backend(dir: &Path, backend: &BackendInfo) -> anyhow::Result<()> {
    write_json(dir, BACKEND, backend)
}

/// Reads a run directory's `summary.json`, if the run has ended.
pub fn read_summary(dir: &Path) -> anyhow::Result<Option<Summary>> {
    let path = dir.join(SUMMARY);
    if !path.exists() {
        return Ok(None);
    }
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let summary: Summary =
        from_json(&text).with_context(|| format!("corrupt {}", path.display()))?;
    summary
        .check()
        .map_err(|why| anyhow::anyhow!("corrupt {}: {why}", path.display()))?;
    Ok(Some(summary))
}

/// The backend a run directory's run trained on: its `backend.json` (written when a session
/// starts), else its `summary.json`'s (runs from before `backend.json`); `None` for neither.
/// `train --resume` continues on it unless `--backend` says otherwise.
pub fn recorded_backend(dir: &Path) -> anyhow::Result<Option<BackendInfo>> {
    let path = dir.join(BACKEND);
    if path.exists() {
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let info = from_json(&text).with_context(|| {
            format!(
                "corrupt {}: expected {{\"backend\", \"device\"}}",
                path.display()
            )
        })?;
        return Ok(Some(info));
    }
    Ok(read_summary(dir)?.map(|summary| summary.backend))
}

/// Reads a run directory's `config.json`.
pub fn read_config(dir: &Path) -> anyhow::Result<TrainConfig> {
    let path = dir.join(CONFIG);
    if !path.exists() {
        bail!(
            "{}: no config.json, so there is no run here to resume",
            dir.display()
        );
    }
    TrainConfig::from_file(&path)
}

/// Refuses to continue the run in `dir` under `config` when a field that must not change
/// differs from the run's start (its `fingerprint.json`, else its `config.json`); a directory
/// with neither is not a run yet. `what` names `config`'s source in the error.
pub fn check_dir(dir: &Path, config: &TrainConfig, what: &str) -> anyhow::Result<()> {
    let recorded = match read_fingerprint(dir)? {
        Some(recorded) => recorded,
        None if dir.join(CONFIG).exists() => Fingerprint::of(&read_config(dir)?)?,
        None => return Ok(()),
    };
    recorded.check_config(&Fingerprint::of(config)?, dir, what)
}

/// The epochs with a checkpoint in `dir`, newest first.
pub fn checkpoint_epochs(dir: &Path) -> Vec<usize> {
    let mut epochs: Vec<usize> = fs::read_dir(dir.join("checkpoint"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix("model-")?
                .strip_suffix(".mpk")?
                .parse()
                .ok()
        })
        .collect();
    epochs.sort_unstable_by(|a, b| b.cmp(a));
    epochs
}

/// The epochs with a metric-log folder of `split` (`train`/`valid`), in order.
pub fn epoch_dirs(dir: &Path, split: &str) -> Vec<(usize, PathBuf)> {
    let mut out: Vec<(usize, PathBuf)> = fs::read_dir(dir.join(split))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            Some((name.strip_prefix("epoch-")?.parse().ok()?, e.path()))
        })
        .collect();
    out.sort_unstable();
    out
}

/// Whether a run directory is finished (its summary's status) and whether it holds trained
/// epochs a fresh start would overwrite ([`has_progress`]: it needs `--resume`).
pub fn run_state(dir: &Path) -> anyhow::Result<(Option<RunStatus>, bool)> {
    let summary = read_summary(dir)?;
    let progress = has_progress(dir, summary.as_ref());
    Ok((summary.map(|s| s.status), progress))
}

/// Whether `dir` holds a trained epoch that a start from epoch 0 would overwrite: any file in
/// `checkpoint/` (loadable or not), a summary with a completed epoch, or the logs of a second
/// epoch (the first was then complete).
pub fn has_progress(dir: &Path, summary: Option<&Summary>) -> bool {
    let checkpoint_entries = fs::read_dir(dir.join("checkpoint"))
        .map(|entries| entries.count() > 0)
        .unwrap_or(false);
    checkpoint_entries
        || summary.is_some_and(|s| s.epochs_completed > 0)
        || epoch_dirs(dir, "train")
            .iter()
            .any(|(epoch, _)| *epoch >= 2)
}
