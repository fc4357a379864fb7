//! A suite's runs, one after the other ([`compare`]): finished runs are skipped, interrupted
//! ones resumed, a diverged or failed run is recorded and the suite goes on.

use std::path::Path;

use anyhow::bail;
use study::run_dir::{RunStatus, run_state};
use study::suite::{SUITE_JSON, Suite, SuiteRun, read_suite_json};

use crate::lock::DirLock;
use crate::run::RunOptions;
use crate::{TrainTask, backend, console, nodes, train_on};

/// What happened to one run of `compare`.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Already finished before this invocation.
    Skipped(RunStatus),
    /// Ran (or resumed) to an end.
    Finished(RunStatus),
    /// Failed with an error (the suite went on).
    Failed(String),
}

/// Creates and locks `out` (see [`crate::lock`]; the lock is held as long as the returned
/// value lives), then writes `suite.json` into it (refusing a directory that holds a different
/// suite).
pub fn prepare_out(suite: &Suite, out: &Path) -> anyhow::Result<DirLock> {
    let lock = DirLock::create(out)?;
    let path = out.join(SUITE_JSON);
    if path.exists() {
        let existing = read_suite_json(out)?;
        if existing.name != suite.name {
            bail!(
                "{} holds suite `{}`, not `{}`; choose another --out",
                out.display(),
                existing.name,
                suite.name
            );
        }
    }
    data::write_atomic(&path, serde_json::to_string_pretty(suite)?.as_bytes())?;
    Ok(lock)
}

/// Checks that every dataset of the suite is on disk (before any training).
pub fn check_data(suite: &Suite) -> anyhow::Result<()> {
    for dataset in &suite.datasets {
        data::locate(dataset, &suite.recipe.data_dir())?;
    }
    Ok(())
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
    check_data(suite)?;
    let _lock = match nodes {
        Some(spec) if !spec.is_writer() => None,
        _ => Some(prepare_out(suite, out)?),
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
        let (finished, has_checkpoints) = run_state(&run.dir)?;
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
