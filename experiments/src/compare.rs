//! A suite's runs, one after the other ([`compare`]): finished runs are skipped, interrupted
//! ones resumed, a diverged or failed run is recorded and the suite goes on. Any slice of a suite
//! (`--only`, `--seeds`, `--datasets`) can run, from several processes or machines into one
//! output directory: each run directory has one writer (its lock), a run another process is
//! training is left to it, and the report reads whatever has finished.

use std::path::Path;
use std::time::Instant;

use anyhow::bail;
use study::recipe::{Layered, Source};
use study::run_dir::{RunStatus, check_dir, run_state};
use study::slice::Slice;
use study::suite::{SUITE_JSON, Suite, SuiteRun, read_suite_json};

use crate::console::duration_text;
use crate::lock::{DirLock, LockError};
use crate::run::RunOptions;
use crate::{TrainTask, backend, console, nodes, train_on};

/// What happened to one run of `compare`.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutcome {
    /// Already finished before this invocation.
    Skipped(RunStatus),
    /// Another process is training it (its directory is locked): left to it.
    Busy(String),
    /// Ran (or resumed) to an end.
    Finished(RunStatus),
    /// Failed with an error (the suite went on).
    Failed(String),
}

/// Refuses an output directory whose `suite.json` holds a different suite, or this suite with
/// a run's recipe changed (its finished runs would be skipped and reported as if they were the
/// new recipe's). Reads only.
pub fn check_out(suite: &Suite, out: &Path) -> anyhow::Result<()> {
    let path = out.join(SUITE_JSON);
    if !path.exists() {
        return Ok(());
    }
    let existing = read_suite_json(out)?;
    if existing.name != suite.name {
        bail!(
            "{} holds suite `{}`, not `{}`; choose another --out",
            out.display(),
            existing.name,
            suite.name
        );
    }
    let changed = suite.changed_runs(&existing)?;
    if !changed.is_empty() {
        bail!(
            "{} holds suite `{}` run under another recipe; nothing was changed. Change the \
             suite back, or run it into another --out:\n  {}",
            path.display(),
            suite.name,
            changed.join("\n  ")
        );
    }
    Ok(())
}

/// Writes `suite.json` into `out` (created if needed), once [`check_out`] passes. Every shard
/// of a suite writes the same file (atomically), so the suite directory needs no lock of its
/// own: each run directory has one.
pub fn prepare_out(suite: &Suite, out: &Path) -> anyhow::Result<()> {
    check_out(suite, out)?;
    std::fs::create_dir_all(out)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
    data::write_atomic(
        &out.join(SUITE_JSON),
        serde_json::to_string_pretty(suite)?.as_bytes(),
    )?;
    Ok(())
}

/// Checks that every dataset of the suite is on disk (before any training).
pub fn check_data(suite: &Suite) -> anyhow::Result<()> {
    for dataset in &suite.datasets {
        data::locate(dataset, &suite.recipe.data_dir())?;
    }
    Ok(())
}

/// The runs of `slice` of `suite` in `out`, once every check `compare` makes before its first
/// run has passed (the suite, the backend, the data on disk, `out`'s suite, each run directory
/// against its recipe); nothing is written (`experiments compare --check`).
pub fn plan(
    suite: &Suite,
    out: &Path,
    backend: &str,
    slice: &Slice,
) -> anyhow::Result<Vec<SuiteRun>> {
    suite.check()?;
    backend::check_backend(backend)?;
    check_data(suite)?;
    check_out(suite, out)?;
    let runs = slice.runs(suite, out)?;
    for run in &runs {
        check_dir(
            &run.dir,
            &run.config,
            &format!("suite `{}`'s recipe", suite.name),
        )?;
    }
    Ok(runs)
}

/// How a suite's runs are executed; nothing here changes what they compute.
#[derive(Debug, Clone, Copy)]
pub struct Execution<'a> {
    /// The backend's name.
    pub backend: &'a str,
    /// Its devices (indices).
    pub devices: &'a [usize],
    /// Burn's TUI dashboard when stdout is a terminal.
    pub dashboard: bool,
    /// Threads building batches ahead of the step ([`RunOptions::loader_workers`]).
    pub loader_workers: usize,
    /// This process's place in a multi-node run.
    pub nodes: Option<&'a nodes::NodeSpec>,
}

impl<'a> Execution<'a> {
    /// One process on `backend`'s `devices`, plain lines, batches built ahead on every core.
    pub fn new(backend: &'a str, devices: &'a [usize]) -> Self {
        Self {
            backend,
            devices,
            dashboard: false,
            loader_workers: crate::loader::default_workers(),
            nodes: None,
        }
    }
}

/// Runs the runs of `slice` of `suite` into `out`, in the suite's seed-major order: finished
/// runs are skipped, interrupted ones resumed, a run another process is training left to it, a
/// diverged or failed run recorded and the suite goes on. Checks every config and the data on
/// disk before the first run, and prints an estimate of the time left after each run. With
/// `exec.nodes`, every run is a multi-node run (every node runs the same `compare`; node 0
/// writes `out`, see [`nodes`]).
#[cfg_attr(test, inline)] // see `train_on`
pub fn compare(
    suite: &Suite,
    out: &Path,
    exec: &Execution,
    slice: &Slice,
) -> anyhow::Result<Vec<(SuiteRun, RunOutcome)>> {
    let runs = plan(suite, out, exec.backend, slice)?;
    if exec.nodes.is_none_or(nodes::NodeSpec::is_writer) {
        prepare_out(suite, out)?;
    }
    let mut eta = Eta::new(&runs);
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
        let outcome = one_run(&suite.name, &run, &name, exec)?;
        eta.done(&run, &outcome);
        if let Some(left) = eta.left(i + 1) {
            println!(
                "{name}: about {left} left for the {} runs after it",
                total - i - 1
            );
        }
        let interrupted = outcome == RunOutcome::Finished(RunStatus::Interrupted);
        outcomes.push((run, outcome));
        if interrupted {
            println!("suite interrupted; rerun the same command to continue");
            break;
        }
    }
    Ok(outcomes)
}

/// One run of the suite: skipped when finished or busy, else trained (or resumed).
fn one_run(
    suite: &str,
    run: &SuiteRun,
    name: &str,
    exec: &Execution,
) -> anyhow::Result<RunOutcome> {
    // The state is read under the run's lock: a shard that holds it is training the run.
    let lock = match exec.nodes.is_none_or(nodes::NodeSpec::is_writer) {
        true => match DirLock::create(&run.dir) {
            Ok(lock) => Some(lock),
            Err(LockError::Held { holder, .. }) => {
                println!("{name}: {holder} is training it, left to it");
                return Ok(RunOutcome::Busy(holder));
            }
            Err(e) => return Err(e.into()),
        },
        false => None,
    };
    let (finished, progress) = run_state(&run.dir)?;
    drop(lock);
    if let Some(status @ (RunStatus::Complete | RunStatus::Diverged)) = finished {
        println!("{name}: already {status:?}, skipped");
        return Ok(RunOutcome::Skipped(status));
    }
    let resume = progress.is_some() || finished == Some(RunStatus::Interrupted);
    println!(
        "{name}: {} ({})",
        if resume { "resuming" } else { "training" },
        run.dir.display()
    );
    let layered = Layered::from_source(
        &run.config,
        Source::Recipe(format!("{suite}:{}", run.label)),
    )?;
    print!("{layered}");
    let task = TrainTask {
        config: run.config.clone(),
        dir: run.dir.clone(),
        options: RunOptions {
            resume,
            dashboard: exec.dashboard,
            label: format!("{name} "),
            nodes: exec.nodes.cloned(),
            config_sources: Some(layered.sources_json()),
            check: false,
            loader_workers: exec.loader_workers,
        },
    };
    Ok(match train_on(exec.backend, exec.devices, task) {
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
        Err(e) => match e.downcast_ref::<LockError>() {
            // Another shard took it between the check and the start.
            Some(LockError::Held { holder, .. }) => {
                println!("{name}: {holder} is training it, left to it");
                RunOutcome::Busy(holder.clone())
            }
            _ => {
                let why = console::error_text(&e);
                console::line(format!("{name}: failed: {why}"));
                RunOutcome::Failed(why)
            }
        },
    })
}

/// The time left, from the epochs this invocation trained so far: seconds per epoch times the
/// epochs of the runs not finished yet (one interrupted part-way counts whole).
struct Eta {
    start: Instant,
    epochs_left: Vec<usize>,
    trained: usize,
}

impl Eta {
    fn new(runs: &[SuiteRun]) -> Self {
        let epochs_left = runs
            .iter()
            .map(|r| match run_state(&r.dir) {
                Ok((Some(RunStatus::Complete | RunStatus::Diverged), _)) => 0,
                _ => r.config.epochs,
            })
            .collect();
        Self {
            start: Instant::now(),
            epochs_left,
            trained: 0,
        }
    }

    fn done(&mut self, run: &SuiteRun, outcome: &RunOutcome) {
        if matches!(outcome, RunOutcome::Finished(_)) {
            self.trained += run.config.epochs;
        }
    }

    /// `12 min`, once an epoch has been timed and runs remain after the `finished` first ones.
    fn left(&self, finished: usize) -> Option<String> {
        let remaining: usize = self.epochs_left.get(finished..)?.iter().sum();
        if self.trained == 0 || remaining == 0 {
            return None;
        }
        let per_epoch = self.start.elapsed().as_secs_f64() / self.trained as f64;
        Some(duration_text(per_epoch * remaining as f64))
    }
}
