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
use crate::input::{from_json, read_text};

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
    let text = read_text(&path)?;
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
        let text = read_text(&path)?;
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

/// The epochs with any checkpoint file (`model-N.mpk`, `optim-N.mpk`, `scheduler-N.mpk`) in
/// `dir`, newest first: an epoch one of whose files is missing is listed, so that loading it
/// names the missing file.
pub fn checkpoint_epochs(dir: &Path) -> Vec<usize> {
    let mut epochs: Vec<usize> = fs::read_dir(dir.join("checkpoint"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let rest = ["model-", "optim-", "scheduler-"]
                .iter()
                .find_map(|kind| name.strip_prefix(kind))?;
            rest.strip_suffix(".mpk")?.parse().ok()
        })
        .collect();
    epochs.sort_unstable_by(|a, b| b.cmp(a));
    epochs.dedup();
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

/// Whether a run directory is finished (its summary's status) and what it has recorded of
/// trained epochs that a fresh start would overwrite ([`recorded_progress`]: it needs
/// `--resume`).
pub fn run_state(dir: &Path) -> anyhow::Result<(Option<RunStatus>, Option<String>)> {
    let summary = read_summary(dir)?;
    let progress = recorded_progress(dir, summary.as_ref());
    Ok((summary.map(|s| s.status), progress))
}

/// What `dir` has recorded of trained epochs, which a start from epoch 0 would overwrite,
/// named for an error (the first found); `None` when it holds none. Anything a run records
/// counts: a `checkpoint` entry that is not a folder or a folder with any file (loadable or
/// not), a summary with a completed epoch, a `metrics.csv` with an epoch's row (or one that
/// does not read), a session of `sessions.json` with a completed epoch (or a file that does not
/// read), the logs of a second epoch (the first was then complete), the final `model.mpk`.
pub fn recorded_progress(dir: &Path, summary: Option<&Summary>) -> Option<String> {
    let checkpoint = dir.join("checkpoint");
    match fs::symlink_metadata(&checkpoint) {
        Ok(meta) if !meta.is_dir() => return Some("`checkpoint` is not a folder".into()),
        Ok(_) => {
            let files = fs::read_dir(&checkpoint).map_or(0, |entries| entries.count());
            if files > 0 {
                return Some(format!("checkpoint/ holds {files} file(s)"));
            }
        }
        Err(_) => {}
    }
    if let Some(s) = summary.filter(|s| s.epochs_completed > 0) {
        return Some(format!(
            "{SUMMARY} records {} completed epoch(s)",
            s.epochs_completed
        ));
    }
    if let Some(found) = recorded_in_files(dir) {
        return Some(found);
    }
    if let Some((epoch, _)) = epoch_dirs(dir, "train").into_iter().rfind(|(e, _)| *e >= 2) {
        return Some(format!(
            "train/epoch-{epoch}/ holds the logs of epoch {epoch}"
        ));
    }
    dir.join("model.mpk")
        .exists()
        .then(|| "model.mpk holds final weights".into())
}

/// The epochs `metrics.csv` and `sessions.json` record (a file that does not read counts).
fn recorded_in_files(dir: &Path) -> Option<String> {
    if dir.join(METRICS).exists() {
        match metrics::read_epochs(dir) {
            Ok(epochs) if epochs.is_empty() => {}
            Ok(epochs) => return Some(format!("{METRICS} holds {} epoch(s)", epochs.len())),
            Err(e) => return Some(format!("{METRICS} exists and does not read ({e:#})")),
        }
    }
    match Sessions::read(dir) {
        Ok(sessions) => {
            let epochs: usize = sessions.sessions.iter().map(|s| s.epochs).sum();
            (epochs > 0).then(|| format!("{SESSIONS} records {epochs} trained epoch(s)"))
        }
        Err(e) => Some(format!("{SESSIONS} does not read ({e:#})")),
    }
}
