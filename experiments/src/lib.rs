//! The experiments of lookahead-burn: train one run with burn-train's `Learner`, run comparison
//! suites of optimizers, and write reports with significance tests and plots.
//!
//! What a run is (its config, its optimizer spec, a suite, the run-directory format) and the
//! reports live in the Burn-free `study` crate; this crate trains.
//!
//! * [`run::train`]: one run in a directory (config, metrics, checkpoints every epoch, resume,
//!   divergence detection, summary), generic over the backend, in named stages.
//! * [`optim`]: the optimizer a run steps, built from a `study` spec.
//! * [`compare()`]: a suite's grid of runs, skipping finished ones and resuming interrupted
//!   ones.
//! * [`backend`]: the backends compiled in (cargo features) and the run-time choice.
//! * [`lock`]: one writer per run or suite directory (an OS file lock for the process's life).
//! * [`nodes`]: one run across several machines (burn-collective: orchestrator, gradient
//!   all-reduce, config agreement, watchdog).
//!
//! One run, from code (the `experiments train` subcommand does the same):
//!
//! ```
//! use experiments::run::RunOptions;
//! use experiments::{TrainTask, train_on};
//! use study::config::{ModelKind, TrainConfig};
//! use study::run_dir::RunStatus;
//! use study::spec::OptimizerSpec;
//!
//! let dir = std::env::temp_dir().join(format!("lookahead-doc-{}", std::process::id()));
//! let config = TrainConfig::new()
//!     .with_model(ModelKind::MicroResNet)
//!     .with_optimizer(OptimizerSpec::parse("lookahead(sgd(momentum=0.9), k=5, alpha=0.5, reset)").unwrap())
//!     .with_epochs(1)
//!     .with_batch_size(32)
//!     .with_train_limit(Some(256))
//!     .with_valid_limit(Some(64));
//! let task = TrainTask { config, dir: dir.clone(), options: RunOptions::default() };
//! let summary = train_on(experiments::backend::default_backend(), &[0], task).unwrap();
//! assert_eq!(summary.status, RunStatus::Complete);
//! assert!(dir.join("checkpoint/model-1.mpk").exists());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

pub mod backend;
pub mod channels;
pub mod compare;
pub mod console;
pub mod datasets;
pub mod loader;
pub mod lock;
pub mod model;
pub mod monitor;
pub mod nodes;
pub mod optim;
pub mod provenance;
pub mod run;
pub mod tensorboard;
#[cfg(test)]
mod test_util;
pub mod throughput;

use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;
use study::config::TrainConfig;
use study::run_dir::{BackendInfo, Summary};

use backend::BackendTask;
use run::RunOptions;

pub use compare::{Execution, compare};

/// [`run::train`] as a [`BackendTask`], for [`backend::dispatch`].
pub struct TrainTask {
    /// The recipe.
    pub config: TrainConfig,
    /// The run directory.
    pub dir: PathBuf,
    /// Options.
    pub options: RunOptions,
}

impl BackendTask for TrainTask {
    type Output = anyhow::Result<Summary>;

    fn run<B: AutodiffBackend>(self, devices: Vec<B::Device>, info: BackendInfo) -> Self::Output {
        run::train::<B>(&self.config, &self.dir, &self.options, devices, info)
    }
}

/// [`run::check`] as a [`BackendTask`]: `experiments train --check`.
pub struct CheckTask(pub TrainTask);

impl BackendTask for CheckTask {
    type Output = anyhow::Result<run::Plan>;

    fn run<B: AutodiffBackend>(self, devices: Vec<B::Device>, _: BackendInfo) -> Self::Output {
        let TrainTask {
            config,
            dir,
            options,
        } = self.0;
        run::check::<B>(&config, &dir, &options, devices)
    }
}

/// Checks a run on `backend` and `devices` as its start would, training nothing and writing
/// nothing ([`run::check`]), a panic inside Burn turned into an error.
#[cfg_attr(test, inline)] // see `train_on`
pub fn check_on(backend: &str, devices: &[usize], task: TrainTask) -> anyhow::Result<run::Plan> {
    unwind("checking", || {
        backend::dispatch(backend, devices, CheckTask(task))
    })??
}

/// `f`'s result, or its panic as an error (`doing` names what failed inside Burn).
fn unwind<R>(doing: &str, f: impl FnOnce() -> R) -> anyhow::Result<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => Ok(result),
        Err(panic) => {
            let message =
                console::panic_message(panic.as_ref()).unwrap_or_else(|| "unknown panic".into());
            anyhow::bail!("{doing} failed inside Burn: {message}")
        }
    }
}

/// Runs one training task on `backend` and `devices` (indices; several = data-parallel),
/// turning a panic inside Burn into an error.
// `inline` in the unit-test build only: this function compiles the whole training loop once per
// backend, and no unit test calls it, so the test build of the library need not compile it
// again (about a third of CI's build time); the library itself compiles it as usual.
#[cfg_attr(test, inline)]
pub fn train_on(backend: &str, devices: &[usize], task: TrainTask) -> anyhow::Result<Summary> {
    unwind("training", || backend::dispatch(backend, devices, task))??
}
