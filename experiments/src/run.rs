//! One training run through burn-train's `SupervisedTraining`/`Learner`: the run directory, its
//! checkpoints, resuming, divergence, and the summary.
//!
//! A run directory holds `config.json`, Burn's metric logs (`train/epoch-N/*.log`,
//! `valid/epoch-N/*.log`), `checkpoint/{model,optim,scheduler}-N.mpk` (the last two epochs),
//! and, once the run ends, `metrics.csv` (one row per epoch), `train_loss.csv` (one row per
//! iteration), `model.mpk` (the final weights) and `summary.json`.

use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::module::Module;
use burn::optim::LearningRate;
use burn::optim::Optimizer;
use burn::optim::lr_scheduler::LrScheduler;
use burn::prelude::Backend;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use burn::train::checkpoint::{CheckpointingAction, CheckpointingStrategy, KeepLastNCheckpoints};
use burn::train::logger::{FileMetricLogger, MetricLogger};
use burn::train::metric::store::{EpochSummary, EventStoreClient, MetricsUpdate, Split};
use burn::train::metric::{
    AccuracyMetric, LearningRateMetric, LossMetric, MetricDefinition, NumericEntry,
    TopKAccuracyMetric,
};
use burn::train::{
    ExecutionStrategy, Interrupter, Learner, MultiDeviceOptim, SupervisedTraining, TrainingStrategy,
};
use lookahead_optim::{
    FlatCos, FlatCosConfig, OneCycle, OneCycleConfig, StepDecay, StepDecayConfig,
};
use serde::{Deserialize, Serialize};

use crate::any_optim::AnyInner;
use crate::backend::BackendInfo;
use crate::config::{EvalWeights, Schedule, TrainConfig};
use crate::datasets::{self, RunData};
use crate::hyper::ScheduledMomentum;
use crate::loader::{EpochLoader, Shard};
use crate::lock::DirLock;
use crate::model::Classifier;
use crate::monitor::{Divergence, DivergenceGuard, LineRenderer};
use crate::nodes::agree::{self, Item};
use crate::nodes::stop::{self, StopVote};
use crate::nodes::{AllReduceStats, NodeLink, NodeSpec};
use crate::slow_eval::{EpochEndSlow, SlowModel};
use crate::spec::{StepExtras, StudyOptimizer};

/// The recorder of checkpoints: full precision, so that a resumed run is bit-identical.
pub type CheckpointRecorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// The learning-rate curve of a run, one variant per [`Schedule`].
#[derive(Clone, Debug)]
pub enum LrCurve {
    /// fastai's one cycle (v2 or v1), which may also cycle the momentum.
    OneCycle(OneCycle),
    /// fastai's flat-cos.
    FlatCos(FlatCos),
    /// Step decay at epoch ends.
    StepDecay(StepDecay),
    /// A constant rate.
    Constant(f64),
}

impl LrCurve {
    /// The learning rate of iteration `iter` (0-based).
    pub fn lr_at(&self, iter: usize) -> LearningRate {
        match self {
            LrCurve::OneCycle(s) => s.lr_at(iter),
            LrCurve::FlatCos(s) => s.lr_at(iter),
            LrCurve::StepDecay(s) => s.lr_at(iter),
            LrCurve::Constant(lr) => *lr,
        }
    }
}

/// The schedule of a run: its learning-rate curve and, with `moms`, the momentum it sets for
/// each step through a [`ScheduledMomentum`] shared with the optimizer. Both are functions of
/// the iteration, the only state (the record), so a resumed run gets the same values.
#[derive(Clone, Debug)]
pub struct RunSchedule {
    /// The learning-rate curve.
    pub curve: LrCurve,
    /// Where the momentum of each step goes (one-cycle with `moms` only).
    pub momentum: Option<ScheduledMomentum>,
    iter: usize,
}

impl RunSchedule {
    /// The schedule of `config` over `num_iters` optimizer steps of which `per_epoch` make an
    /// epoch, writing the cycled momentum (if `config.moms`) to `momentum`.
    pub fn new(
        config: &TrainConfig,
        num_iters: usize,
        per_epoch: usize,
        momentum: Option<ScheduledMomentum>,
    ) -> anyhow::Result<Self> {
        let one_cycle = |c: OneCycleConfig| -> anyhow::Result<LrCurve> {
            let c = match config.moms {
                Some(m) => c.with_moms((m.high, m.low)),
                None => c,
            };
            Ok(LrCurve::OneCycle(c.init()?))
        };
        let curve = match config.schedule {
            Schedule::OneCycle => one_cycle(OneCycleConfig::new(config.lr_max, num_iters))?,
            Schedule::OneCycleV1 => one_cycle(OneCycleConfig::fastai_v1(config.lr_max, num_iters))?,
            Schedule::FlatCos => {
                LrCurve::FlatCos(FlatCosConfig::new(config.lr_max, num_iters).init()?)
            }
            Schedule::StepDecay => LrCurve::StepDecay(
                StepDecayConfig::on_epoch_ends(config.lr_max, &config.lr_decay_epochs.0, per_epoch)
                    .with_factor(config.lr_decay_factor)
                    .init()?,
            ),
            Schedule::Constant => LrCurve::Constant(config.lr_max),
        };
        let momentum = match (&curve, config.moms) {
            (LrCurve::OneCycle(_), Some(_)) => momentum,
            _ => None,
        };
        Ok(Self {
            curve,
            momentum,
            iter: 0,
        })
    }
}

impl LrScheduler for RunSchedule {
    /// The number of iterations already stepped.
    type Record<B: Backend> = usize;

    fn step(&mut self) -> LearningRate {
        if let (LrCurve::OneCycle(cycle), Some(handle)) = (&self.curve, &self.momentum) {
            handle.set(cycle.momentum_at(self.iter));
        }
        let lr = self.curve.lr_at(self.iter);
        self.iter += 1;
        lr
    }

    fn to_record<B: Backend>(&self) -> usize {
        self.iter
    }

    fn load_record<B: Backend>(mut self, record: usize) -> Self {
        self.iter = record;
        self
    }
}

/// Burn's `FileMetricLogger`, with the epoch numbers of a resumed run corrected: burn-train
/// 0.21's event store numbers the first epoch of every session 1 (later ones correctly), so a
/// run resumed after epoch N would overwrite epoch 1's logs with epoch N + 1's.
struct ResumedMetricLogger {
    inner: FileMetricLogger,
    first_epoch: usize,
}

impl MetricLogger for ResumedMetricLogger {
    fn log(&mut self, update: MetricsUpdate, epoch: usize, split: &Split) {
        self.inner.log(update, epoch.max(self.first_epoch), split);
    }

    fn read_numeric(
        &mut self,
        name: &str,
        epoch: usize,
        split: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        self.inner.read_numeric(name, epoch, split)
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.inner.log_metric_definition(definition);
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        self.inner.log_epoch_summary(summary);
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every epoch ran.
    Complete,
    /// Stopped at a NaN/inf loss.
    Diverged,
    /// Stopped by the user (the dashboard's quit key); resumable with `--resume`.
    Interrupted,
}

/// The metrics of one epoch (means over the epoch's batches, weighted by batch size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Mean training loss (with mixup/smoothing when used).
    pub train_loss: f64,
    /// Training accuracy, percent (against the un-mixed targets).
    pub train_accuracy: f64,
    /// Validation loss (plain cross-entropy).
    pub valid_loss: Option<f64>,
    /// Validation accuracy, percent.
    pub valid_accuracy: Option<f64>,
    /// Learning rate of the epoch's last iteration.
    pub lr: f64,
    /// fastai's smoothed training loss at the epoch's last iteration: the debiased EMA
    /// (β = 0.98) of every batch loss since the run's start (what fastai reports as
    /// `train_loss`).
    #[serde(default)]
    pub train_loss_smoothed: Option<f64>,
    /// Validation top-5 accuracy, percent.
    #[serde(default)]
    pub valid_top5_accuracy: Option<f64>,
}

/// What `summary.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// How the run ended.
    pub status: RunStatus,
    /// Why it stopped, when it did not complete.
    pub message: Option<String>,
    /// Where it diverged.
    pub divergence: Option<Divergence>,
    /// Optimizer spec (normalised).
    pub optimizer: String,
    /// Dataset name, as configured (`imagenette`, `cifar10`, …).
    pub dataset: String,
    /// The catalogue variant the dataset was read as (`imagenette2-160` for `imagenette`, …).
    #[serde(default)]
    pub dataset_variant: String,
    /// The folder or archive the dataset was read from.
    #[serde(default)]
    pub dataset_path: String,
    /// Model name.
    pub model: String,
    /// Seed.
    pub seed: u64,
    /// Epochs asked for.
    pub epochs: usize,
    /// Epochs fully run (train + valid + checkpoint).
    pub epochs_completed: usize,
    /// Mean training loss of the last epoch.
    pub final_train_loss: Option<f64>,
    /// Validation loss after the last epoch.
    pub final_valid_loss: Option<f64>,
    /// Validation accuracy (percent) after the last epoch.
    pub final_valid_accuracy: Option<f64>,
    /// Best validation accuracy (percent) over the epochs.
    pub best_valid_accuracy: Option<f64>,
    /// The epoch of the best validation accuracy.
    pub best_epoch: Option<usize>,
    /// fastai's smoothed training loss at the end of the last epoch.
    #[serde(default)]
    pub final_train_loss_smoothed: Option<f64>,
    /// Validation top-5 accuracy (percent) after the last epoch.
    #[serde(default)]
    pub final_valid_top5_accuracy: Option<f64>,
    /// The epoch with the lowest validation loss, whole: the model the seed study's callback
    /// reloaded at the end of training and reported (selected on the validation split, which
    /// for CIFAR and Imagenette is the test split).
    #[serde(default)]
    pub best_valid_loss_epoch: Option<EpochMetrics>,
    /// Wall time of this session (since the start or the last resume), seconds.
    pub wall_time_s: f64,
    /// Training images per second of wall time in this session (validation time included).
    pub images_per_s: f64,
    /// Training images per epoch.
    pub train_images: usize,
    /// Validation images.
    pub valid_images: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// Backend and device.
    pub backend: BackendInfo,
    /// The epoch this session resumed from (0 = a fresh start).
    pub resumed_from_epoch: usize,
    /// The multi-node run this summary's node took part in (absent for one process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodesSummary>,
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Continue from the run directory's last checkpoint.
    pub resume: bool,
    /// Use Burn's TUI dashboard when stdout is a terminal (otherwise plain lines).
    pub dashboard: bool,
    /// Prefix of the plain progress lines.
    pub label: String,
    /// This process's place in a multi-node run (`--nodes`, `--node-rank`, …); `None` for one
    /// process.
    pub nodes: Option<NodeSpec>,
}

/// A multi-node run as one node saw it (in `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodesSummary {
    /// Nodes in the run.
    pub nodes: u32,
    /// The rank of the node that wrote this summary.
    pub rank: u32,
    /// This session's gradient all-reduces: count, wall time, values per step.
    pub all_reduce: AllReduceStats,
    /// Mean all-reduce wall time per step, milliseconds.
    pub all_reduce_ms_per_step: f64,
    /// Bytes averaged per step: f32 gradients and running statistics.
    pub bytes_per_step: usize,
    /// Bytes each node sends per step (ring all-reduce: 2(N − 1)/N of the gradient).
    pub ring_bytes_sent_per_step: f64,
}

impl NodesSummary {
    fn new(link: &NodeLink) -> Self {
        let spec = link.spec();
        let stats = link.stats();
        Self {
            nodes: spec.nodes,
            rank: spec.rank,
            all_reduce: stats,
            all_reduce_ms_per_step: stats.ms_per_step(),
            bytes_per_step: stats.bytes(),
            ring_bytes_sent_per_step: stats.ring_bytes_sent(spec.nodes),
        }
    }
}

/// Writes `bytes` to `path` atomically (the project's one atomic write, in `data`).
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    Ok(data::write_atomic(path, bytes)?)
}

/// Reads a run directory's `summary.json`, if the run has ended.
pub fn read_summary(dir: &Path) -> anyhow::Result<Option<Summary>> {
    let path = dir.join("summary.json");
    if !path.exists() {
        return Ok(None);
    }
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Some(
        serde_json::from_str(&text).with_context(|| format!("corrupt {}", path.display()))?,
    ))
}

/// The backend a run directory's run trained on: its `backend.json` (written when a session
/// starts), else its `summary.json`'s (runs from before `backend.json`); `None` for neither.
/// `train --resume` continues on it unless `--backend` says otherwise.
pub fn recorded_backend(dir: &Path) -> anyhow::Result<Option<BackendInfo>> {
    let path = dir.join("backend.json");
    if path.exists() {
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let info = serde_json::from_str(&text).with_context(|| {
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
    let path = dir.join("config.json");
    if !path.exists() {
        bail!(
            "{}: no config.json, so there is no run here to resume",
            dir.display()
        );
    }
    TrainConfig::from_file(&path)
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
fn epoch_dirs(dir: &Path, split: &str) -> Vec<(usize, PathBuf)> {
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
        let entries = self.logger.read_numeric(name, epoch, &split).map_err(|e| {
            let file = self
                .dir
                .join(split.to_string())
                .join(format!("epoch-{epoch}"))
                .join(format!("{}.log", name.replace(' ', "_")));
            anyhow::anyhow!("{}: {e}", file.display())
        })?;
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

/// One training iteration's loss: (iteration over the run, epoch, loss).
pub type IterationLoss = (usize, usize, f64);

/// The optimizer of a run: the spec's, wrapped for validation on the slow weights.
pub type RunOptimizer<B> = EpochEndSlow<B, AnyInner<<B as AutodiffBackend>::InnerBackend>>;

/// The optimizer record of a run's checkpoints.
type OptimRecord<B> = <StudyOptimizer<Classifier<B>, B> as Optimizer<Classifier<B>, B>>::Record;

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

/// Sets each epoch's `train_loss_smoothed` to fastai's smoothed loss (debiased EMA, β = 0.98,
/// over every iteration since the run's start) at the epoch's last iteration.
fn set_smoothed_losses(epochs: &mut [EpochMetrics], iterations: &[IterationLoss]) {
    let losses: Vec<f64> = iterations.iter().map(|&(_, _, loss)| loss).collect();
    let smoothed = crate::report::stats::smooth(&losses);
    for e in epochs.iter_mut() {
        e.train_loss_smoothed = iterations
            .iter()
            .rposition(|&(_, epoch, _)| epoch == e.epoch)
            .map(|i| smoothed[i]);
    }
}

/// The epoch with the lowest finite validation loss (the first of equals; epochs with a
/// non-finite training loss are left out, as JSON cannot hold them).
fn best_valid_loss_epoch(epochs: &[EpochMetrics]) -> Option<&EpochMetrics> {
    epochs
        .iter()
        .filter(|e| e.valid_loss.is_some_and(f64::is_finite) && e.train_loss.is_finite())
        .fold(None, |best: Option<&EpochMetrics>, e| match best {
            Some(b) if b.valid_loss <= e.valid_loss => Some(b),
            _ => Some(e),
        })
}

/// An optional number as a CSV cell: its shortest round-tripping form, or empty.
pub(crate) fn fmt_opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// A CSV file written atomically with the `csv` crate; numbers are written in Rust's shortest
/// round-tripping form (`Display`).
fn write_csv(path: &Path, header: &[&str], rows: Vec<Vec<String>>) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header)?;
    for row in rows {
        writer.write_record(&row)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    write_atomic(path, &bytes)
}

fn write_metrics(
    dir: &Path,
    epochs: &[EpochMetrics],
    iterations: &[IterationLoss],
) -> anyhow::Result<()> {
    let rows = epochs
        .iter()
        .map(|e| {
            vec![
                e.epoch.to_string(),
                e.train_loss.to_string(),
                e.train_accuracy.to_string(),
                fmt_opt(e.valid_loss),
                fmt_opt(e.valid_accuracy),
                e.lr.to_string(),
                fmt_opt(e.train_loss_smoothed),
                fmt_opt(e.valid_top5_accuracy),
            ]
        })
        .collect();
    write_csv(
        &dir.join("metrics.csv"),
        &[
            "epoch",
            "train_loss",
            "train_accuracy",
            "valid_loss",
            "valid_accuracy",
            "lr",
            "train_loss_smoothed",
            "valid_top5_accuracy",
        ],
        rows,
    )?;
    let rows = iterations
        .iter()
        .map(|(i, epoch, loss)| vec![i.to_string(), epoch.to_string(), loss.to_string()])
        .collect();
    write_csv(
        &dir.join("train_loss.csv"),
        &["iteration", "epoch", "train_loss"],
        rows,
    )
}

/// The newest checkpoint epoch of `dir` whose three files load, or 0 when there is none.
fn resumable_epoch<B: AutodiffBackend>(
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
        let sched: Result<<RunSchedule as LrScheduler>::Record<B>, _> =
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
fn check_dir_state(dir: &Path, resume: bool) -> anyhow::Result<()> {
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

/// Everything a run trains with, built (and checked) before the run directory is touched.
struct RunSetup<B: AutodiffBackend> {
    data: RunData,
    model: Classifier<B>,
    parameters: usize,
    optim: RunOptimizer<B>,
    train_loader: EpochLoader<B>,
    valid_loader: EpochLoader<B::InnerBackend>,
    /// Optimizer steps per epoch (one batch per device per step).
    per_epoch: usize,
    schedule: RunSchedule,
}

impl<B: AutodiffBackend> RunSetup<B> {
    fn new(config: &TrainConfig, devices: &[B::Device], shard: Shard) -> anyhow::Result<Self> {
        let device = devices[0].clone();
        let data: RunData = datasets::load(config)?;
        crate::model::check_precision::<B>(config.precision, &device)?;
        B::seed(&device, config.seed);
        let net =
            config
                .model
                .build_seeded::<B>(data.classes, data.channels, config.seed, &device)?;
        let parameters = net.param_count();
        let mut model = Classifier::new(
            net,
            config.label_smoothing,
            config.precision,
            config.effective_loss_scale(),
        );
        let momentum = config.moms.map(|_| ScheduledMomentum::default());
        let extras = StepExtras {
            momentum: momentum.clone(),
            true_weight_decay: config.true_weight_decay,
        };
        let optim = config
            .optimizer_spec()
            .build_with::<B, Classifier<B>>(&extras)?;
        let train_loader = EpochLoader::<B>::train(
            data.train.clone(),
            data.train_indices.clone(),
            data.train_batcher.clone(),
            config.batch_size,
            device.clone(),
        )
        .sharded(shard);
        let valid_loader = EpochLoader::<B::InnerBackend>::valid(
            data.valid.clone(),
            data.valid_indices.clone(),
            data.valid_batcher.clone(),
            config.batch_size,
            device,
        );
        // With several devices, each optimizer step takes one batch per device (burn-train's
        // multi-device strategy splits the epoch's items between them and sums the gradients).
        let per_epoch = train_loader.batches_per_epoch() / devices.len();
        if per_epoch == 0 {
            bail!(
                "field `batch_size`: {} images are less than one batch per device ({} devices \
                 of batch {})",
                data.train_indices.len(),
                devices.len(),
                config.batch_size
            );
        }
        let schedule = RunSchedule::new(config, config.epochs * per_epoch, per_epoch, momentum)?;
        let slot = (config.eval_weights == EvalWeights::Slow).then(SlowModel::default);
        if let Some(slot) = &slot {
            model.slow = slot.clone();
        }
        let optim = EpochEndSlow::new(optim, per_epoch, slot);
        Ok(Self {
            data,
            model,
            parameters,
            optim,
            train_loader,
            valid_loader,
            per_epoch,
            schedule,
        })
    }
}

/// Where a run starts: the newest loadable checkpoint's epoch with `resume` (0 = a fresh
/// start; unreadable newer checkpoints are named in warnings), and the summary of a run that
/// has already ended. Reads `dir` only.
fn resume_point<B: AutodiffBackend>(
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
        crate::console::line(format!("warning: {}: {message}", dir.display()));
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
fn prepare_dir(config: &TrainConfig, dir: &Path, resumed_from: usize) -> anyhow::Result<()> {
    write_atomic(
        &dir.join("config.json"),
        serde_json::to_string_pretty(config)?.as_bytes(),
    )?;
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
fn copy_checkpoint(run_dir: &Path, work_dir: &Path, epoch: usize) -> anyhow::Result<()> {
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
        write_atomic(&target.join(name), &bytes)?;
    }
    Ok(())
}

/// burn-train's checkpointing for nodes other than 0: none (node 0 writes the run's).
struct NoCheckpoints;

impl CheckpointingStrategy for NoCheckpoints {
    fn checkpointing(&mut self, _epoch: usize, _: &EventStoreClient) -> Vec<CheckpointingAction> {
        Vec::new()
    }
}

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
struct Session<'a> {
    config: &'a TrainConfig,
    data: &'a RunData,
    parameters: usize,
    per_epoch: usize,
    devices: usize,
    resumed_from: usize,
    /// Epochs completed (train + valid + checkpoint).
    completed: usize,
    wall_time_s: f64,
    backend: BackendInfo,
    nodes: Option<NodesSummary>,
}

/// Writes `metrics.csv`, `train_loss.csv` and `summary.json` of a finished session.
fn finish(
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
    let train_images = session.per_epoch * session.devices * config.batch_size;
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
        images_per_s: (session_epochs * train_images) as f64 / session.wall_time_s.max(1e-9),
        train_images,
        valid_images: session.data.valid_indices.len(),
        parameters: session.parameters,
        backend: session.backend,
        resumed_from_epoch: session.resumed_from,
        nodes: session.nodes,
    };
    write_atomic(
        &dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    Ok(summary)
}

/// Trains one run in `dir` (created if needed, and locked for the run's life: a second writer
/// is refused, see [`crate::lock`]) and returns its summary (also written to
/// `dir/summary.json`). Every check (config, optimizer spec, data on disk, directory state)
/// happens before training; a NaN/inf loss ends the run as [`RunStatus::Diverged`].
///
/// With `options.nodes`, this process is one node of a multi-node run ([`crate::nodes`]): the
/// nodes join, compare their configs, then train their shards with averaged gradients; node 0
/// writes `dir`, node `R > 0` works in `dir/node-R/` (its shard's logs and final weights).
pub fn train<B: AutodiffBackend>(
    config: &TrainConfig,
    dir: &Path,
    options: &RunOptions,
    devices: Vec<B::Device>,
    backend: BackendInfo,
) -> anyhow::Result<Summary> {
    let Some(device) = devices.first().cloned() else {
        bail!("no device to train on");
    };
    config.check()?;
    if let Some(spec) = &options.nodes
        && !config.batch_size.is_multiple_of(spec.nodes as usize)
    {
        bail!(
            "field `batch_size`: {} is the global batch of the {} nodes and must divide by it",
            config.batch_size,
            spec.nodes
        );
    }
    // Every local check first; the nodes of a multi-node run then compare their configs and
    // whether each passed its checks, so that one node's refusal stops them all at once.
    let local = Prepared::<B>::new(config, dir, options, &devices);
    let link = match &options.nodes {
        Some(spec) => {
            let agreed = join_and_agree::<B>(spec, config, &backend, &device, &local);
            let link = local
                .as_ref()
                .map_err(|e| anyhow::anyhow!("{e:#}"))
                .and(agreed)?;
            Some(link)
        }
        None => None,
    };
    let mut prepared = local?;
    if let Some(summary) = prepared.ended.take() {
        return Ok(summary);
    }
    let resumed_from = prepared.resumed_from;
    prepare_dir(config, &prepared.work_dir, resumed_from)?;
    if prepared.writer {
        write_atomic(
            &dir.join("backend.json"),
            serde_json::to_string_pretty(&backend)?.as_bytes(),
        )?;
    } else if resumed_from > 0 {
        copy_checkpoint(dir, &prepared.work_dir, resumed_from)?;
    }
    prepared.setup.train_loader.set_epochs_done(resumed_from);
    prepared.setup.optim = prepared.setup.optim.with_link(link.clone());
    launch(
        config,
        prepared,
        options,
        &devices,
        backend,
        link.as_deref(),
    )
}

/// What a run trains with, once every local check has passed: the directory lock, the setup,
/// and where the run starts.
struct Prepared<B: AutodiffBackend> {
    _lock: DirLock,
    setup: RunSetup<B>,
    /// Whether this process writes the run directory (one process, or node 0).
    writer: bool,
    /// Where burn-train works: the run directory, or `dir/node-R/` for node `R > 0`.
    work_dir: PathBuf,
    resumed_from: usize,
    /// The summary of a run that has already ended (nothing to train).
    ended: Option<Summary>,
}

impl<B: AutodiffBackend> Prepared<B> {
    fn new(
        config: &TrainConfig,
        dir: &Path,
        options: &RunOptions,
        devices: &[B::Device],
    ) -> anyhow::Result<Self> {
        let spec = options.nodes.as_ref();
        let writer = spec.is_none_or(NodeSpec::is_writer);
        let shard = spec.map_or(Shard::WHOLE, |s| Shard {
            rank: s.rank as usize,
            count: s.nodes as usize,
        });
        // Held until training ends: a second writer of this directory is refused. An existing
        // directory is locked before its state is read; a new one is created (and locked) only
        // after every check, so a refused config leaves no directory behind.
        let existing = (writer && dir.exists())
            .then(|| DirLock::acquire(dir))
            .transpose()?;
        if writer {
            check_dir_state(dir, options.resume)?;
        }
        let setup = RunSetup::<B>::new(config, devices, shard)?;
        let work_dir = match writer {
            true => dir.to_path_buf(),
            false => dir.join(format!("node-{}", shard.rank)),
        };
        let lock = match existing {
            Some(lock) => lock,
            None => DirLock::create(&work_dir)?,
        };
        let (resumed_from, ended) = resume_point::<B>(config, dir, options.resume, &devices[0])?;
        Ok(Self {
            _lock: lock,
            setup,
            writer,
            work_dir,
            resumed_from,
            ended,
        })
    }
}

/// Joins the multi-node run of `spec` and checks that every node has the same config,
/// backend, resume point, and passed its own checks (`local`).
fn join_and_agree<B: AutodiffBackend>(
    spec: &NodeSpec,
    config: &TrainConfig,
    backend: &BackendInfo,
    device: &B::Device,
    local: &anyhow::Result<Prepared<B>>,
) -> anyhow::Result<Arc<NodeLink>> {
    let link = NodeLink::join::<B::InnerBackend>(spec, device)?;
    let mut items = agree::json_items(&serde_json::to_value(config)?);
    let (resumed, ended) = match local {
        Ok(p) => (p.resumed_from.to_string(), p.ended.is_some().to_string()),
        Err(_) => ("–".into(), "–".into()),
    };
    items.extend([
        Item::new("backend", backend.backend.clone()),
        Item::new("the checkpoint epoch to resume from", resumed),
        Item::new("whether the run has already ended", ended),
        Item::new(
            "its checks (a node refused the run: see its error)",
            local.is_ok().to_string(),
        ),
    ]);
    link.agree::<B::InnerBackend>(&items, device)?;
    Ok(link)
}

/// Trains the prepared run through burn-train's `SupervisedTraining`, then writes its final
/// weights and summary in the working directory.
fn launch<B: AutodiffBackend>(
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
        ..
    } = prepared;
    let dir = work_dir.as_path();
    let interrupter = Interrupter::new();
    // Over nodes, the guard's stop is a request that the next step's exchange carries, and
    // burn-train's loop stops on every node after the same step (nodes::stop).
    let vote = link.map(|_| {
        Arc::new(StopVote::new(
            interrupter.clone(),
            resumed_from + 1,
            setup.per_epoch,
        ))
    });
    let guard_stops = vote.as_ref().map_or(interrupter.clone(), |v| v.request());
    let (guard, divergence) = DivergenceGuard::new(guard_stops);
    let optim = setup.optim.with_vote(vote.clone());
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
    .with_metric_logger(ResumedMetricLogger {
        inner: FileMetricLogger::new(dir),
        first_epoch: resumed_from + 1,
    })
    .with_file_checkpointer(CheckpointRecorder::new())
    .with_interrupter(interrupter)
    .num_epochs(config.epochs);
    training = match writer {
        true => training.with_checkpointing_strategy(KeepLastNCheckpoints::new(2)),
        false => training.with_checkpointing_strategy(NoCheckpoints),
    };
    if resumed_from > 0 {
        training = training.checkpoint(resumed_from);
    }
    if devices.len() > 1 {
        training = training.with_training_strategy(TrainingStrategy::Default(
            ExecutionStrategy::MultiDevice(devices.to_vec(), MultiDeviceOptim::OptimMainDevice),
        ));
    }
    if !(options.dashboard && std::io::stdout().is_terminal()) {
        training = training.renderer(LineRenderer::new(options.label.clone()));
    }
    let start = Instant::now();
    let result = training.launch(Learner::new(setup.model, optim, setup.schedule));
    let wall_time_s = start.elapsed().as_secs_f64();
    drop(result.renderer);
    result
        .model
        .save_file(dir.join("model"), &CheckpointRecorder::new())
        .with_context(|| format!("cannot write {}", dir.join("model.mpk").display()))?;
    let own = divergence.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let divergence = stop::recorded(own, vote.and_then(|v| v.divergence()));
    // Node 0 counts its checkpoints; another node the epochs it validated.
    let completed = match writer {
        true => checkpoint_epochs(dir).first().copied().unwrap_or(0),
        false => epoch_dirs(dir, "valid").last().map_or(0, |(e, _)| *e),
    };
    let session = Session {
        config,
        data: &setup.data,
        parameters: setup.parameters,
        per_epoch: setup.per_epoch,
        devices: devices.len(),
        resumed_from,
        completed: completed.max(resumed_from),
        wall_time_s,
        backend,
        nodes: link.map(NodesSummary::new),
    };
    finish(dir, session, divergence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Moms;
    use burn::backend::Flex;

    fn epoch(epoch: usize, valid_loss: Option<f64>) -> EpochMetrics {
        EpochMetrics {
            epoch,
            train_loss: 1.0,
            train_accuracy: 50.0,
            valid_loss,
            valid_accuracy: Some(epoch as f64),
            lr: 0.1,
            train_loss_smoothed: None,
            valid_top5_accuracy: None,
        }
    }

    /// fastai's `SmoothenValue(0.98)` over the batch losses 1, 2, 3 (computed by hand:
    /// mov_avg = 0.98·mov_avg + 0.02·v, smooth = mov_avg / (1 − 0.98ⁿ)), read at each
    /// epoch's last batch; the best-loss epoch is the first lowest finite one.
    #[test]
    fn smoothed_loss_and_best_loss_epoch() {
        let mut epochs = vec![
            epoch(1, Some(0.7)),
            epoch(2, Some(f64::NAN)),
            epoch(3, Some(0.5)),
        ];
        let iterations = [(1, 1, 1.0), (2, 1, 2.0), (3, 3, 3.0)];
        set_smoothed_losses(&mut epochs, &iterations);
        let smoothed: Vec<Option<f64>> = epochs.iter().map(|e| e.train_loss_smoothed).collect();
        assert!((smoothed[0].unwrap() - 1.505_050_505_050_503_4).abs() < 1e-12);
        assert_eq!(smoothed[1], None);
        assert!((smoothed[2].unwrap() - 2.013_467_555_434_633_7).abs() < 1e-12);
        assert_eq!(best_valid_loss_epoch(&epochs).map(|e| e.epoch), Some(3));
        epochs.push(epoch(4, Some(0.5)));
        assert_eq!(best_valid_loss_epoch(&epochs).map(|e| e.epoch), Some(3));
        assert_eq!(best_valid_loss_epoch(&epochs[1..2]), None);
    }

    /// With `moms`, each step writes the momentum of its iteration (fastai v1's cycle: 0.95 at
    /// the start, 0.85 at the end of the ⌊0.3·n⌋-step warm-up, back to 0.95), and a schedule
    /// restored from its record continues with the same lr and momentum.
    #[test]
    fn the_schedule_cycles_the_momentum_and_resumes_exactly() {
        let config = TrainConfig::new()
            .with_schedule(Schedule::OneCycleV1)
            .with_lr_max(0.1)
            .with_moms(Some(Moms {
                high: 0.95,
                low: 0.85,
            }));
        let handle = ScheduledMomentum::default();
        let mut full = RunSchedule::new(&config, 100, 10, Some(handle.clone())).unwrap();
        let values: Vec<(f64, f64)> = (0..100)
            .map(|_| {
                let lr = full.step();
                (lr, handle.get().unwrap())
            })
            .collect();
        assert!((values[0].0 - 0.1 / 25.0).abs() < 1e-15 && values[0].1 == 0.95);
        assert!((values[30].0 - 0.1).abs() < 1e-15 && (values[30].1 - 0.85).abs() < 1e-15);
        assert!((values[99].1 - 0.95).abs() < 1e-3, "{:?}", values[99]);
        let again = ScheduledMomentum::default();
        let mut resumed = RunSchedule::new(&config, 100, 10, Some(again.clone()))
            .unwrap()
            .load_record::<Flex>(full.to_record::<Flex>() - 63);
        for expected in &values[37..] {
            assert_eq!((resumed.step(), again.get().unwrap()), *expected);
        }
        // Without `moms` nothing is written.
        let plain = ScheduledMomentum::default();
        let mut schedule = RunSchedule::new(
            &config.clone().with_moms(None),
            100,
            10,
            Some(plain.clone()),
        )
        .unwrap();
        schedule.step();
        assert_eq!(plain.get(), None);
    }

    /// `step-decay`: ÷ `lr_decay_factor` from the first iteration after each listed epoch.
    #[test]
    fn step_decay_divides_after_the_listed_epochs() {
        let config = TrainConfig::new()
            .with_schedule(Schedule::StepDecay)
            .with_lr_max(0.1)
            .with_lr_decay_epochs("1,3".parse().unwrap());
        let mut schedule = RunSchedule::new(&config, 50, 10, None).unwrap();
        let lrs: Vec<f64> = (0..50).map(|_| schedule.step()).collect();
        assert_eq!((lrs[19], lrs[20]), (0.1, 0.1 / 5.0));
        assert_eq!((lrs[39], lrs[40]), (0.1 / 5.0, 0.1 / 5.0 / 5.0));
    }
}
