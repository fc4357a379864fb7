//! Resume: where a run starts (the newest checkpoint that loads and is this run's), which
//! directory states are refused, and the directory made ready for the session.

use std::fs;
use std::path::Path;

use anyhow::{Context, bail};
use burn::tensor::backend::AutodiffBackend;
use burn::train::metric::store::Split;
use study::config::TrainConfig;
use study::run_dir::{
    BACKEND, CONFIG, FINGERPRINT, Fingerprint, METRICS, RunStatus, SESSIONS, SUMMARY, Sessions,
    Summary, TRAIN_LOSS, checkpoint_epochs, epoch_dirs, read_fingerprint, read_summary,
    recorded_progress, write_config,
};

use super::checkpoint::{self, ParamShapes, Unusable};
use super::epoch_logs::EpochLogs;
use super::finish::read_metrics;
use crate::console;
use crate::model::Classifier;

/// Where a run starts, read from its directory (nothing written yet).
pub struct ResumePoint {
    /// The checkpoint epoch to continue from (0 = a fresh start).
    pub epoch: usize,
    /// The summary of a run that has already ended (nothing to train).
    pub ended: Option<Summary>,
    /// `fingerprint.json` as this session writes it.
    pub fingerprint: Fingerprint,
}

/// A checkpoint's epoch and what it holds.
type Newest = (usize, checkpoint::Loaded);

/// The newest checkpoint epoch of `dir` that loads and holds this run's `model`, with the
/// reasons newer ones were passed over; `None` when none loads. A checkpoint that loads but
/// belongs to another model or run is an error.
fn newest_loadable<B: AutodiffBackend>(
    dir: &Path,
    model: &Classifier<B>,
    device: &B::Device,
) -> anyhow::Result<(Option<Newest>, Vec<String>)> {
    let mut skipped = Vec::new();
    for epoch in checkpoint_epochs(dir) {
        if let Some(missing) = missing_log(dir, epoch) {
            skipped.push(format!(
                "the checkpoint of epoch {epoch} comes without the logs it continues from \
                 ({} is missing)",
                missing.display()
            ));
            continue;
        }
        match checkpoint::load::<B>(dir, epoch, model, device) {
            Ok(loaded) => return Ok((Some((epoch, loaded)), skipped)),
            Err(Unusable::Foreign(why)) => bail!("{why}; nothing was changed"),
            Err(Unusable::Unreadable(why)) => skipped.push(format!(
                "the checkpoint of epoch {epoch} does not load ({why})"
            )),
        }
    }
    Ok((None, skipped))
}

/// The first metric log of epochs `1..=epoch` missing from `dir` (the run's metrics are read
/// from them: a checkpoint whose epochs lack a log, as after a log that could not be written,
/// would continue to a run with a hole in its metrics).
fn missing_log(dir: &Path, epoch: usize) -> Option<std::path::PathBuf> {
    (1..=epoch)
        .flat_map(|e| {
            [Split::Train, Split::Valid].map(|split| EpochLogs::file(dir, "Loss", e, &split))
        })
        .find(|path| !path.is_file())
}

/// Reads now what a session resumed from the checkpoint of `epoch` reads back once it has
/// trained (the sessions, the kept epochs' logs, each epoch with its training losses), so that
/// a damaged record is refused before anything is written.
fn check_records(dir: &Path, epoch: usize) -> anyhow::Result<()> {
    Sessions::read(dir)?;
    let (kept, _) = read_metrics(dir, Some(epoch))?;
    if let Some(hole) = (1..=epoch).find(|e| !kept.iter().any(|m| m.epoch == *e)) {
        bail!(
            "{}: cannot resume from the checkpoint of epoch {epoch}: the training losses of \
             epoch {hole} are not in its logs ({} holds none); nothing was changed",
            dir.display(),
            EpochLogs::file(dir, "Loss", hole, &Split::Train).display()
        );
    }
    Ok(())
}

/// The files a session writes at the top of its run directory (each atomically: a rename
/// onto the name, which a folder there would refuse at the end of the session).
const WRITTEN: [&str; 10] = [
    CONFIG,
    BACKEND,
    FINGERPRINT,
    SESSIONS,
    METRICS,
    TRAIN_LOSS,
    SUMMARY,
    "model.mpk",
    "config_sources.json",
    crate::tensorboard::EVENT_FILE,
];

/// Refuses, before any work: a folder where the session will write a file; a directory
/// holding a finished or interrupted run unless resuming.
pub fn check_dir_state(dir: &Path, resume: bool) -> anyhow::Result<()> {
    for name in WRITTEN {
        let path = dir.join(name);
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            bail!(
                "{} is a folder, where the run writes a file; move it away; nothing was changed",
                path.display()
            );
        }
    }
    let checkpoint = dir.join("checkpoint");
    for entry in fs::read_dir(&checkpoint).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            bail!(
                "{} is a folder, where checkpoint files are written; move it away; nothing was \
                 changed",
                entry.path().display()
            );
        }
    }
    if resume {
        return Ok(());
    }
    let summary = read_summary(dir)?;
    if let Some(summary) = &summary {
        bail!(
            "{} already holds a finished run ({:?}); choose another output directory or delete it",
            dir.display(),
            summary.status
        );
    }
    if let Some(found) = recorded_progress(dir, None) {
        bail!(
            "{} holds an interrupted run ({found}); continue it with `--resume`, or choose \
             another output directory",
            dir.display()
        );
    }
    Ok(())
}

/// Where a run starts: from epoch 0 without `resume`; with it, the newest checkpoint that
/// loads and is this run's (newer ones that do not load are named in a warning, and their
/// epochs are trained again). Refused, before anything is written: a recipe that differs
/// from the run's `fingerprint.json`, a checkpoint of another model or run, and a directory
/// with trained epochs but no checkpoint that loads.
pub fn resume_point<B: AutodiffBackend>(
    config: &TrainConfig,
    dir: &Path,
    resume: bool,
    model: &Classifier<B>,
    device: &B::Device,
) -> anyhow::Result<ResumePoint> {
    let own = Fingerprint::of(config)?;
    let fresh = |own: Fingerprint| ResumePoint {
        epoch: 0,
        ended: None,
        fingerprint: own.with_params(ParamShapes::of::<B, _>(model).digest()),
    };
    if !resume {
        return Ok(fresh(own));
    }
    let recorded = read_fingerprint(dir)?;
    if let Some(recorded) = &recorded {
        recorded.check_config(&own, dir, "its config.json")?;
    }
    // A run that has ended (complete, or diverged: it would diverge again) has nothing to
    // train, whatever its checkpoints hold: a damaged last checkpoint must not start its last
    // epochs over.
    if let Some(summary) = read_summary(dir)?
        && matches!(summary.status, RunStatus::Complete | RunStatus::Diverged)
    {
        return Ok(ResumePoint {
            epoch: summary.epochs_completed,
            ended: Some(summary),
            ..fresh(own)
        });
    }
    let (newest, skipped) = newest_loadable::<B>(dir, model, device)?;
    let Some((epoch, loaded)) = newest else {
        let summary = read_summary(dir)?;
        if let Some(found) = recorded_progress(dir, summary.as_ref()) {
            bail!(
                "{}: cannot resume: it holds trained epochs ({found}) but no checkpoint that \
                 loads ({}); nothing was changed. Put back the checkpoint files, or delete the \
                 directory to start again",
                dir.display(),
                if skipped.is_empty() {
                    "no model-N.mpk in checkpoint/".into()
                } else {
                    skipped.join("; ")
                }
            );
        }
        return Ok(fresh(own));
    };
    let Some(recorded) = &recorded else {
        bail!(
            "{}: cannot resume: it has no {FINGERPRINT}, so nothing shows that {} was trained \
             with this run's recipe (seed, optimizer, data); nothing was changed. Delete the \
             directory to start again",
            dir.display(),
            loaded.model_file.display()
        );
    };
    recorded.check_params(&loaded.params.digest(), &loaded.model_file)?;
    check_records(dir, epoch)?;
    for message in &skipped {
        console::line(format!(
            "warning: {}: {message}: continuing from epoch {epoch}, the newest checkpoint that \
             loads (the logs after it are replaced)",
            dir.display()
        ));
    }
    Ok(ResumePoint {
        epoch,
        ended: None,
        fingerprint: own.with_params(loaded.params.digest()),
    })
}

/// Prepares a run's working directory (created and locked by [`train`]) to train from epoch
/// `resumed_from`: writes `config.json`; removes the metric logs of later epochs (they belong
/// to the session that was cut short) and a stale summary.
pub fn prepare_dir(config: &TrainConfig, dir: &Path, resumed_from: usize) -> anyhow::Result<()> {
    write_config(dir, config)?;
    for split in ["train", "valid"] {
        for (epoch, path) in epoch_dirs(dir, split) {
            if epoch > resumed_from {
                // Whatever stands there (a folder, or a file where one was expected) goes.
                let removed = match fs::symlink_metadata(&path).map(|m| m.is_dir()) {
                    Ok(true) => fs::remove_dir_all(&path),
                    _ => fs::remove_file(&path),
                };
                removed.with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
    }
    let summary_path = dir.join("summary.json");
    if summary_path.exists() {
        fs::remove_file(&summary_path)
            .with_context(|| format!("cannot remove {}", summary_path.display()))?;
    }
    Ok(())
}

/// Copies node 0's checkpoint of `epoch` from the run directory into node `R > 0`'s working
/// directory, where burn-train loads it from.
pub fn copy_checkpoint(run_dir: &Path, work_dir: &Path, epoch: usize) -> anyhow::Result<()> {
    let target = work_dir.join("checkpoint");
    fs::create_dir_all(&target).with_context(|| format!("cannot create {}", target.display()))?;
    for kind in ["model", "optim", "scheduler"] {
        let name = format!("{kind}-{epoch}.mpk");
        let from = run_dir.join("checkpoint").join(&name);
        let bytes = fs::read(&from).with_context(|| {
            format!(
                "cannot read node 0's checkpoint {}: put --out on storage every node sees, or \
                 copy node 0's checkpoint directory there",
                from.display()
            )
        })?;
        data::write_atomic(&target.join(name), &bytes)?;
    }
    Ok(())
}
