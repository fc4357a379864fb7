//! The experiments of lookahead-burn: train one run with burn-train's `Learner`, run comparison
//! suites of optimizers, and write reports with significance tests and plots.
//!
//! * [`config::TrainConfig`]: a run's recipe (dataset, model, epochs, optimizer spec, schedule,
//!   mixup, seed, …); [`spec::OptimizerSpec`]: `sgd`, `adam`, `adamw`, `rmsprop`, `radam`,
//!   `ranger`, `lookahead(<inner>, k, alpha, keep|reset|pullback)`.
//! * [`run::train`]: one run in a directory (config, metrics, checkpoints every epoch, resume,
//!   divergence detection, summary), generic over the backend.
//! * [`suite::Suite`] and [`compare`]: a grid of runs, skipping finished ones and resuming
//!   interrupted ones.
//! * [`report::report`]: Markdown, CSV and SVG from a suite's directory.
//! * [`backend`]: the backends compiled in (cargo features) and the run-time choice.
//! * [`lock`]: one writer per run or suite directory (an OS file lock for the process's life).
//! * [`nodes`]: one run across several machines (burn-collective: orchestrator, gradient
//!   all-reduce, config agreement, watchdog).
//!
//! One run, from code (the `experiments train` subcommand does the same):
//!
//! ```
//! use experiments::config::{ModelKind, TrainConfig};
//! use experiments::run::{RunOptions, RunStatus};
//! use experiments::spec::OptimizerSpec;
//! use experiments::{TrainTask, train_on};
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

/// `Serialize`/`Deserialize` for a type through its `Display`/`FromStr`: configs and suites hold
/// typed values (parsed once, when read) and files keep the names users write.
#[macro_export]
macro_rules! serde_as_text {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse::<$ty>()
                    .map_err(|e| serde::de::Error::custom(format!("{e:#}")))
            }
        }
    };
}

pub mod any_optim;
pub mod backend;
pub mod claim;
pub mod config;
pub mod console;
pub mod datasets;
pub mod hyper;
pub mod loader;
pub mod lock;
pub mod model;
pub mod monitor;
pub mod nodes;
pub mod report;
pub mod run;
pub mod slow_eval;
pub mod spec;
pub mod suite;
pub mod throughput;

use std::path::{Path, PathBuf};

use burn::tensor::backend::AutodiffBackend;

use backend::{BackendInfo, BackendTask};
use config::TrainConfig;
use run::{RunOptions, RunStatus, Summary};
use suite::{RunOutcome, Suite, SuiteRun};

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

/// Runs one training task on `backend` and `devices` (indices; several = data-parallel),
/// turning a panic inside Burn into an error.
// `inline` in the unit-test build only: this function compiles the whole training loop once per
// backend, and no unit test calls it, so the test build of the library need not compile it
// again (about a third of CI's build time); the library itself compiles it as usual.
#[cfg_attr(test, inline)]
pub fn train_on(backend: &str, devices: &[usize], task: TrainTask) -> anyhow::Result<Summary> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        backend::dispatch(backend, devices, task)
    }));
    match outcome {
        Ok(result) => result?,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            anyhow::bail!("training failed inside Burn: {message}")
        }
    }
}

/// Runs every run of `suite` into `out`, in sequence: finished runs are skipped, interrupted
/// ones resumed, a diverged or failed run is recorded and the suite goes on. Checks every config
/// and the data on disk before the first run; `out` is locked while the runs train (a second
/// `compare` over it is refused). With `nodes`, every run is a multi-node run (every node runs
/// the same `compare`; node 0 writes `out`, see [`nodes`]).
#[cfg_attr(test, inline)] // see `train_on`
pub fn compare(
    suite: &Suite,
    out: &Path,
    backend: &str,
    devices: &[usize],
    dashboard: bool,
    nodes: Option<&nodes::NodeSpec>,
) -> anyhow::Result<Vec<(SuiteRun, RunOutcome)>> {
    suite.check()?;
    backend::check_backend(backend)?;
    suite::check_data(suite)?;
    let _lock = match nodes {
        Some(spec) if !spec.is_writer() => None,
        _ => Some(suite::prepare_out(suite, out)?),
    };
    let runs = suite.runs(out);
    let total = runs.len();
    let mut outcomes = Vec::new();
    for (i, run) in runs.into_iter().enumerate() {
        let name = format!(
            "[{}/{}] {} {} seed {}",
            i + 1,
            total,
            run.dataset,
            run.label,
            run.seed
        );
        let (finished, has_checkpoints) = suite::run_state(&run.dir)?;
        if let Some(status @ (RunStatus::Complete | RunStatus::Diverged)) = finished {
            println!("{name}: already {status:?}, skipped");
            outcomes.push((run, RunOutcome::Skipped(status)));
            continue;
        }
        let resume = has_checkpoints || finished == Some(RunStatus::Interrupted);
        println!(
            "{name}: {} ({})",
            if resume { "resuming" } else { "training" },
            run.dir.display()
        );
        let task = TrainTask {
            config: run.config.clone(),
            dir: run.dir.clone(),
            options: RunOptions {
                resume,
                dashboard,
                label: format!("{name} "),
                nodes: nodes.cloned(),
            },
        };
        let outcome = match train_on(backend, devices, task) {
            Ok(summary) => {
                match (&summary.status, &summary.message) {
                    (RunStatus::Complete, _) => println!(
                        "{name}: complete, valid accuracy {:.2} %, {:.0} s",
                        summary.final_valid_accuracy.unwrap_or(f64::NAN),
                        summary.wall_time_s
                    ),
                    (status, message) => {
                        println!("{name}: {status:?}: {}", message.as_deref().unwrap_or(""))
                    }
                }
                RunOutcome::Finished(summary.status)
            }
            Err(e) => {
                console::line(format!("{name}: failed: {e:#}"));
                RunOutcome::Failed(format!("{e:#}"))
            }
        };
        let interrupted = outcome == RunOutcome::Finished(RunStatus::Interrupted);
        outcomes.push((run, outcome));
        if interrupted {
            println!("suite interrupted; rerun the same command to continue");
            break;
        }
    }
    Ok(outcomes)
}
