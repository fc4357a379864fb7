//! Launch: the prepared run through burn-train's `SupervisedTraining`/`Learner`, then its final
//! weights and summary.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::epoch_logs::EpochLogs;
use anyhow::{Context, bail};
use burn::module::Module;
use burn::tensor::backend::AutodiffBackend;
use burn::train::checkpoint::{CheckpointingAction, CheckpointingStrategy, KeepLastNCheckpoints};
use burn::train::metric::store::EventStoreClient;
use burn::train::metric::{AccuracyMetric, LearningRateMetric, LossMetric, TopKAccuracyMetric};
use burn::train::{
    ExecutionStrategy, Interrupter, Learner, LearningComponentsTypes, MultiDeviceOptim,
    SupervisedTraining, TrainingStrategy,
};
use study::config::TrainConfig;
use study::run_dir::{BackendInfo, NodesSummary, Sessions, Summary, checkpoint_epochs, epoch_dirs};

use super::atomic_recorder::AtomicMpkRecorder;
use super::finish::{Session, finish};
use super::logger::{ResumedMetricLogger, SessionClock};
use super::options::RunOptions;
use super::prepare::Prepared;
use crate::monitor::{DivergenceGuard, LineRenderer};
use crate::nodes::NodeLink;
use crate::nodes::stop::{self, StopVote};

/// burn-train's checkpointing for nodes other than 0: none (node 0 writes the run's).
struct NoCheckpoints;

impl CheckpointingStrategy for NoCheckpoints {
    fn checkpointing(&mut self, _epoch: usize, _: &EventStoreClient) -> Vec<CheckpointingAction> {
        Vec::new()
    }
}

/// Trains the prepared run through burn-train's `SupervisedTraining`, then writes its final
/// weights and summary in the working directory.
pub fn launch<B: AutodiffBackend>(
    config: &TrainConfig,
    prepared: Prepared<B>,
    options: &RunOptions,
    devices: &[B::Device],
    backend: BackendInfo,
    link: Option<&NodeLink>,
) -> anyhow::Result<Summary> {
    let Prepared {
        setup,
        work_dir,
        resumed_from,
        writer,
        lock: _lock,
        ..
    } = prepared;
    let dir = work_dir.as_path();
    let interrupter = Interrupter::new();
    let vote = link.map(|_| {
        Arc::new(StopVote::new(
            interrupter.clone(),
            resumed_from + 1,
            setup.per_epoch,
        ))
    });
    // Over nodes, the guard's stop is a request that the next step's exchange carries, and
    // burn-train's loop stops on every node after the same step (nodes::stop).
    let (guard, divergence) =
        DivergenceGuard::new(vote.as_ref().map_or(interrupter.clone(), |v| v.request()));
    let optim = setup.optim.with_vote(vote.clone());
    let recorder = AtomicMpkRecorder::new();
    let logger = metric_logger(dir, writer, resumed_from, interrupter.clone())?;
    let log_failure = logger.inner.failure();
    let mut training = SupervisedTraining::new(
        dir,
        Arc::new(setup.train_loader),
        Arc::new(setup.valid_loader),
    )
    .metrics((AccuracyMetric::new(), LossMetric::new()))
    .metric_valid_numeric(TopKAccuracyMetric::new(5))
    .metric_train_numeric(LearningRateMetric::new())
    .metric_valid(guard.for_validation())
    .metric_train(guard)
    .with_application_logger(None)
    .with_metric_logger(logger)
    .with_file_checkpointer(recorder.clone())
    .with_interrupter(interrupter)
    .num_epochs(config.epochs);
    training = for_session(training, writer, resumed_from, options);
    training = on_devices(training, devices);
    let start = Instant::now();
    let result = training.launch(Learner::new(setup.model, optim, setup.schedule));
    let wall_time_s = start.elapsed().as_secs_f64();
    drop(result.renderer);
    check_writes(&recorder, &log_failure)?;
    let total_wall_time_s = writer
        .then(|| close_session(dir, resumed_from, wall_time_s))
        .transpose()?;
    result
        .model
        .save_file(dir.join("model"), &AtomicMpkRecorder::new())
        .with_context(|| format!("cannot write {}", dir.join("model.mpk").display()))?;
    let own = divergence.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let divergence = stop::recorded(own, vote.and_then(|v| v.divergence()));
    let completed = completed_epochs(dir, writer);
    let session = Session {
        config,
        data: &setup.data,
        parameters: setup.parameters,
        per_epoch: setup.per_epoch,
        resumed_from,
        completed: completed.max(resumed_from),
        wall_time_s,
        total_wall_time_s,
        backend,
        nodes: link.map(|l| NodesSummary::new(l.spec().nodes, l.spec().rank, l.stats())),
    };
    finish(dir, session, divergence)
}

/// Several devices: burn-train's multi-device strategy (the optimizer on the first).
fn on_devices<LC: LearningComponentsTypes>(
    training: SupervisedTraining<LC>,
    devices: &[burn::tensor::Device<LC::Backend>],
) -> SupervisedTraining<LC> {
    match devices.len() > 1 {
        true => training.with_training_strategy(TrainingStrategy::Default(
            ExecutionStrategy::MultiDevice(devices.to_vec(), MultiDeviceOptim::OptimMainDevice),
        )),
        false => training,
    }
}

/// The session's end when a checkpoint or a metric log could not be written (burn-train's
/// loop was stopped at the first): one error naming the file and the OS reason.
fn check_writes(recorder: &AtomicMpkRecorder, logs: &Mutex<Option<String>>) -> anyhow::Result<()> {
    if let Some(why) = recorder.failure() {
        bail!(
            "a checkpoint could not be written ({why}); training stopped. The checkpoints \
             written before are whole: once the cause is fixed (space freed, permissions), \
             continue with `--resume`"
        );
    }
    if let Some(why) = logs.lock().unwrap_or_else(|e| e.into_inner()).clone() {
        bail!(
            "a metric log could not be written ({why}); training stopped. Once the cause is \
             fixed (space freed, permissions), continue with `--resume`"
        );
    }
    Ok(())
}

/// The run's metric logger with the session's clock (the writing process only); a log that
/// cannot be written stops `interrupter`'s training.
fn metric_logger(
    dir: &Path,
    writer: bool,
    resumed_from: usize,
    interrupter: Interrupter,
) -> anyhow::Result<ResumedMetricLogger> {
    Ok(ResumedMetricLogger {
        inner: EpochLogs::new(dir, interrupter),
        first_epoch: resumed_from + 1,
        clock: writer
            .then(|| SessionClock::start(dir.to_path_buf(), resumed_from))
            .transpose()?,
    })
}

/// The session clock's last tick, with this session's whole time: the total over every session.
fn close_session(dir: &Path, resumed_from: usize, wall_time_s: f64) -> anyhow::Result<f64> {
    let mut sessions = Sessions::read(dir)?;
    sessions.update(
        completed_epochs(dir, true).saturating_sub(resumed_from),
        wall_time_s,
    );
    sessions.write(dir)?;
    Ok(sessions.total_s())
}

/// What differs from session to session: checkpoints (written by node 0 or one process only),
/// the epoch to resume from, and plain progress lines unless the dashboard is asked for and
/// stdout is a terminal.
fn for_session<LC: LearningComponentsTypes>(
    training: SupervisedTraining<LC>,
    writer: bool,
    resumed_from: usize,
    options: &RunOptions,
) -> SupervisedTraining<LC> {
    let mut training = match writer {
        true => training.with_checkpointing_strategy(KeepLastNCheckpoints::new(2)),
        false => training.with_checkpointing_strategy(NoCheckpoints),
    };
    if resumed_from > 0 {
        training = training.checkpoint(resumed_from);
    }
    if !(options.dashboard && std::io::stdout().is_terminal()) {
        training = training.renderer(LineRenderer::new(options.label.clone()));
    }
    training
}

/// The epochs a session completed: node 0 (or one process) its newest checkpoint with all three
/// files, another node the epochs it validated.
fn completed_epochs(dir: &Path, writer: bool) -> usize {
    match writer {
        true => checkpoint_epochs(dir)
            .into_iter()
            .find(|epoch| {
                ["model", "optim", "scheduler"]
                    .iter()
                    .all(|kind| dir.join(format!("checkpoint/{kind}-{epoch}.mpk")).exists())
            })
            .unwrap_or(0),
        false => epoch_dirs(dir, "valid").last().map_or(0, |(e, _)| *e),
    }
}
