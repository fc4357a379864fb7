//! `summary.json` and `backend.json`: how a run ended, on what, and its final numbers.

use serde::{Deserialize, Serialize};

use super::provenance::Provenance;

use super::metrics::{EpochMetrics, check_percent};

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

/// Where a divergence was seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Iteration within the epoch (1-based).
    pub iteration: usize,
    /// The loss value (`NaN`, `inf` or `-inf`; text, since JSON has no such numbers); `-` when
    /// this node saw it through the other nodes (`across_nodes`).
    pub loss: String,
    /// Whether it was a training (else a validation) loss.
    pub train: bool,
    /// In a multi-node run, what the nodes' per-step exchange showed when this node's own loss
    /// did not; every node stopped after that step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub across_nodes: Option<String>,
}

/// The one divergence message: `diverged: training loss NaN at epoch 2, iteration 7`, or over
/// nodes `diverged: a node saw a non-finite loss at epoch 2, iteration 7 (every node stopped
/// after this step)`.
impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(what) = &self.across_nodes {
            return write!(
                f,
                "diverged: {what} at epoch {}, iteration {} (every node stopped after this step)",
                self.epoch, self.iteration
            );
        }
        write!(
            f,
            "diverged: {} loss {} at epoch {}, iteration {}",
            if self.train { "training" } else { "validation" },
            self.loss,
            self.epoch,
            self.iteration
        )
    }
}

/// The backend a run trained on and its device (`backend.json`, and in `summary.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// Backend name (`flex`, `cuda`, …).
    pub backend: String,
    /// The device, as the backend describes it.
    pub device: String,
    /// The widest SIMD level of the CPU that ran it (`x86_64-v4` = AVX-512, `x86_64-v3` = AVX2,
    /// `aarch64-neon`, …): CPU backends' kernels dispatch on it, so float sums, and with them a
    /// report's last digits, reproduce byte for byte only on the same level. Absent in runs
    /// written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_simd: Option<String>,
}

impl std::fmt::Display for BackendInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.backend, self.device)?;
        match &self.cpu_simd {
            Some(level) => write!(f, " (CPU SIMD level {level})"),
            None => Ok(()),
        }
    }
}

/// What the all-reduces of a multi-node run cost: measured wall time, and the gradient size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AllReduceStats {
    /// Gradient all-reduces (optimizer steps).
    pub steps: usize,
    /// Their total wall time, seconds (waiting for the slower node included).
    pub seconds: f64,
    /// Values per all-reduce (f32 gradients and running statistics).
    pub values: usize,
}

impl AllReduceStats {
    /// Mean wall time per step, milliseconds.
    pub fn ms_per_step(&self) -> f64 {
        1e3 * self.seconds / self.steps.max(1) as f64
    }

    /// Bytes exchanged per step (f32 gradients and running statistics).
    pub fn bytes(&self) -> usize {
        4 * self.values
    }

    /// Bytes each node sends per step in a ring all-reduce of `nodes` nodes: 2(N − 1)/N of the
    /// gradient (reduce-scatter, then all-gather).
    pub fn ring_bytes_sent(&self, nodes: u32) -> f64 {
        let n = f64::from(nodes);
        2.0 * (n - 1.0) / n * self.bytes() as f64
    }
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
    /// The summary of `nodes` nodes' run seen by node `rank`, from its all-reduce statistics.
    pub fn new(nodes: u32, rank: u32, stats: AllReduceStats) -> Self {
        Self {
            nodes,
            rank,
            all_reduce: stats,
            all_reduce_ms_per_step: stats.ms_per_step(),
            bytes_per_step: stats.bytes(),
            ring_bytes_sent_per_step: stats.ring_bytes_sent(nodes),
        }
    }
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
    /// Wall time over every session that trained the run (resumed runs: every process, each
    /// up to its last completed epoch), seconds. Absent in runs written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_wall_time_s: Option<f64>,
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
    /// The code and the machine behind the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

impl Summary {
    /// Refuses numbers no run can produce: an accuracy outside 0–100 % (top-5 below top-1), a
    /// negative loss or time, more epochs completed than asked for.
    pub fn check(&self) -> Result<(), String> {
        let accuracies = [
            ("final_valid_accuracy", self.final_valid_accuracy),
            ("best_valid_accuracy", self.best_valid_accuracy),
            ("final_valid_top5_accuracy", self.final_valid_top5_accuracy),
        ];
        for (field, value) in accuracies {
            check_percent(field, value)?;
        }
        if let (Some(top1), Some(top5)) =
            (self.final_valid_accuracy, self.final_valid_top5_accuracy)
            && top5 < top1
        {
            return Err(format!(
                "field `final_valid_top5_accuracy`: {top5} is below top-1's {top1}"
            ));
        }
        let nonnegative = [
            ("final_train_loss", self.final_train_loss),
            ("final_valid_loss", self.final_valid_loss),
            ("final_train_loss_smoothed", self.final_train_loss_smoothed),
            ("wall_time_s", Some(self.wall_time_s)),
            ("total_wall_time_s", self.total_wall_time_s),
        ];
        for (field, value) in nonnegative {
            if value.is_some_and(|v| v < 0.0) {
                return Err(format!(
                    "field `{field}`: negative ({})",
                    value.unwrap_or(0.0)
                ));
            }
        }
        if self.epochs_completed > self.epochs {
            return Err(format!(
                "field `epochs_completed`: {} of {} epochs",
                self.epochs_completed, self.epochs
            ));
        }
        Ok(())
    }

    /// The run's training time over every session (this session's where older runs did not
    /// record the total).
    pub fn training_time_s(&self) -> f64 {
        self.total_wall_time_s.unwrap_or(self.wall_time_s)
    }
}
