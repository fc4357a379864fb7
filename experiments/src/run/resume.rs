//! Resume: where a run starts (the newest checkpoint that loads), which directory states are
//! refused, and the directory made ready for the session.

use std::fs;
use std::path::Path;

use anyhow::{Context, bail};
use burn::module::Module;
use burn::optim::Optimizer;
use burn::optim::lr_scheduler::LrScheduler;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use lookahead_optim::AnySchedule;
use study::config::TrainConfig;
use study::run_dir::{Summary, checkpoint_epochs, epoch_dirs, read_summary, write_config};

use crate::console;
use crate::model::Classifier;
use crate::optim::StudyOptimizer;

/// The recorder of checkpoints: full precision, so that a resumed run is bit-identical.
pub type CheckpointRecorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// The optimizer record of a run's checkpoints.
type OptimRecord<B> = <StudyOptimizer<Classifier<B>, B> as Optimizer<Classifier<B>, B>>::Record;

/// The newest checkpoint epoch of `dir` whose three files load, or 0 when there is none.
pub fn resumable_epoch<B: AutodiffBackend>(
    dir: &Path,
    device: &B::Device,
) -> anyhow::Result<(usize, Vec<String>)> {
    let recorder = CheckpointRecorder::new();
    let mut skipped = Vec::new();
    for epoch in checkpoint_epochs(dir) {
        let file = |kind: &str| dir.join("checkpoint").join(format!("{kind}-{epoch}"));
        let model: Result<<Classifier<B> as Module<B>>::Record, _> =
            recorder.load(file("model"), device);
        let optim: Result<OptimRecord<B>, _> = recorder.load(file("optim"), device);
        let sched: Result<<AnySchedule as LrScheduler>::Record<B>, _> =
            Recorder::<B>::load(&recorder, file("scheduler"), device);
        match (model, optim, sched) {
            (Ok(_), Ok(_), Ok(_)) => return Ok((epoch, skipped)),
            (m, o, s) => {
                let why = [m.err(), o.err(), s.err()]
                    .into_iter()
                    .flatten()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                skipped.push(format!("checkpoint of epoch {epoch} unreadable ({why})"));
            }
        }
    }
    Ok((0, skipped))
}

/// Refuses a directory holding a finished or interrupted run unless resuming, before any work.
pub fn check_dir_state(dir: &Path, resume: bool) -> anyhow::Result<()> {
    if resume {
        return Ok(());
    }
    if let Some(summary) = read_summary(dir)? {
        bail!(
            "{} already holds a finished run ({:?}); choose another output directory or delete it",
            dir.display(),
            summary.status
        );
    }
    if !checkpoint_epochs(dir).is_empty() {
        bail!(
            "{} holds an interrupted run; continue it with `--resume`, or choose another output \
             directory",
            dir.display()
        );
    }
    Ok(())
}

/// Where a run starts: the newest loadable checkpoint's epoch with `resume` (0 = a fresh
/// start; unreadable newer checkpoints are named in warnings), and the summary of a run that
/// has already ended. Reads `dir` only.
pub fn resume_point<B: AutodiffBackend>(
    config: &TrainConfig,
    dir: &Path,
    resume: bool,
    device: &B::Device,
) -> anyhow::Result<(usize, Option<Summary>)> {
    if !resume {
        return Ok((0, None));
    }
    let (epoch, skipped) = resumable_epoch::<B>(dir, device)?;
    for message in skipped {
        console::line(format!("warning: {}: {message}", dir.display()));
    }
    let ended = if epoch >= config.epochs {
        read_summary(dir)?
    } else {
        None
    };
    Ok((epoch, ended))
}

/// Prepares a run's working directory (created and locked by [`train`]) to train from epoch
/// `resumed_from`: writes `config.json`; removes the metric logs of later epochs (they belong
/// to the session that was cut short) and a stale summary.
pub fn prepare_dir(config: &TrainConfig, dir: &Path, resumed_from: usize) -> anyhow::Result<()> {
    write_config(dir, config)?;
    for split in ["train", "valid"] {
        for (epoch, path) in epoch_dirs(dir, split) {
            if epoch > resumed_from {
                fs::remove_dir_all(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
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
