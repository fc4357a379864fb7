//! The commands of `experiments` whose work is more than a call: `train` (and `--check`),
//! `compare` (and `--check`), `throughput`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use experiments::backend;
use experiments::compare::{self, RunOutcome};
use experiments::console;
use experiments::nodes::NodeSpec;
use experiments::run::RunOptions;
use experiments::throughput::ThroughputTask;
use experiments::{TrainTask, check_on, train_on};
use study::config::TrainConfig;
use study::recipe::Layered;
use study::report;
use study::run_dir::{RunStatus, read_config, recorded_backend, run_state};
use study::spec::OptimizerSpec;
use study::suite::Suite;

use crate::{BackendArgs, ConfigFlags, SliceArgs};

fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// The config and directory of `train`: from the layers (recipe, file, flags, with where each
/// field came from), or from the run directory to resume.
fn train_config(
    flags: &ConfigFlags,
    out: Option<PathBuf>,
    resume: bool,
) -> anyhow::Result<(TrainConfig, PathBuf, Option<Layered>)> {
    if resume {
        let Some(dir) = out else {
            bail!("--resume needs --out <the run directory>");
        };
        if flags.any_field()? {
            bail!(
                "--resume continues the run with its own {}; drop the config flags",
                dir.join("config.json").display()
            );
        }
        return Ok((read_config(&dir)?, dir, None));
    }
    let layered = flags.build()?;
    let config = layered.config.clone();
    let dir = out.unwrap_or_else(|| {
        PathBuf::from("runs")
            .join(config.dataset.to_string())
            .join(slug(&config.optimizer.to_string()))
            .join(format!("seed-{}", config.seed))
    });
    Ok((config, dir, Some(layered)))
}

/// How `train` starts: `--resume`, `--check`.
#[derive(Clone, Copy)]
pub(crate) struct How {
    pub(crate) resume: bool,
    pub(crate) check: bool,
}

/// `experiments train`: one run, its summary printed (with `--check`, what it would train).
pub(crate) fn train(
    flags: &ConfigFlags,
    out: Option<PathBuf>,
    How { resume, check }: How,
    backend: &BackendArgs,
    nodes: Option<NodeSpec>,
) -> anyhow::Result<ExitCode> {
    let (config, dir, layered) = train_config(flags, out, resume)?;
    if let Some(layered) = &layered {
        print!("{layered}");
    }
    // Node R > 0 writes its own files (final weights, shard logs) under the run directory.
    let own_dir = match &nodes {
        Some(spec) if !spec.is_writer() => dir.join(format!("node-{}", spec.rank)),
        _ => dir.clone(),
    };
    // A resumed run continues on the backend it started on, unless `--backend` is given.
    let recorded = if resume && backend.backend.is_none() {
        recorded_backend(&dir)?.map(|info| info.backend)
    } else {
        None
    };
    let name = recorded.unwrap_or_else(|| backend.backend());
    let options = RunOptions {
        resume,
        dashboard: !backend.no_dashboard,
        label: String::new(),
        nodes,
        config_sources: layered.as_ref().map(Layered::sources_json),
        check,
        loader_workers: backend.loader_workers(),
    };
    let task = TrainTask {
        config,
        dir: dir.clone(),
        options,
    };
    if check {
        let plan = check_on(&name, &backend.indices(), task)?;
        println!(
            "check of {} on {name} passed, nothing written: {plan}",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("training in {} on {name}", dir.display());
    let summary = train_on(&name, &backend.indices(), task)?;
    let or_dash =
        |v: Option<f64>, digits: usize| v.map_or("–".into(), |v| format!("{v:.digits$}"));
    println!(
        "{:?}: {} epochs, valid accuracy {} %, valid loss {}, {:.1} s, {:.0} images/s ({})",
        summary.status,
        summary.epochs_completed,
        or_dash(summary.final_valid_accuracy, 2),
        or_dash(summary.final_valid_loss, 4),
        summary.wall_time_s,
        summary.images_per_s,
        summary.backend
    );
    if let Some(n) = &summary.nodes {
        println!(
            "node {} of {}: {} gradient all-reduces, {:.1} ms each, {:.1} MB of gradients and statistics per step \
             (ring: {:.1} MB sent per node)",
            n.rank,
            n.nodes,
            n.all_reduce.steps,
            n.all_reduce_ms_per_step,
            n.bytes_per_step as f64 / 1e6,
            n.ring_bytes_sent_per_step / 1e6
        );
    }
    println!("summary: {}", own_dir.join("summary.json").display());
    if summary.status == RunStatus::Complete {
        return Ok(ExitCode::SUCCESS);
    }
    console::line(format!("error: {}", summary.message.unwrap_or_default()));
    Ok(ExitCode::FAILURE)
}

/// The suite `compare` runs (`--data-dir` and `--precision` applied) and its output directory.
fn load_suite(
    suite: &str,
    out: Option<PathBuf>,
    data_dir: Option<String>,
    slice: &SliceArgs,
) -> anyhow::Result<(Suite, PathBuf)> {
    let mut suite = Suite::load(suite)?;
    if data_dir.is_some() {
        suite.recipe.data_dir = data_dir;
    }
    if let Some(precision) = slice.precision {
        suite.recipe.precision = precision;
    }
    let out = out.unwrap_or_else(|| PathBuf::from("runs").join(&suite.name));
    Ok((suite, out))
}

/// `experiments compare --check`: every run's state once the checks pass; nothing written.
pub(crate) fn check_suite(
    suite: &str,
    out: Option<PathBuf>,
    data_dir: Option<String>,
    slice: &SliceArgs,
    backend: &BackendArgs,
) -> anyhow::Result<ExitCode> {
    let (suite, out) = load_suite(suite, out, data_dir, slice)?;
    let runs = compare::plan(&suite, &out, &backend.backend(), &slice.slice())?;
    let mut left = 0;
    for run in &runs {
        let state = match run_state(&run.dir)? {
            (Some(status @ (RunStatus::Complete | RunStatus::Diverged)), _) => {
                format!("{status:?}, nothing to train")
            }
            (_, Some(progress)) => format!("to continue ({progress})"),
            (Some(status), None) => format!("to continue ({status:?})"),
            (None, None) => "to train".to_string(),
        };
        left += usize::from(state.starts_with("to "));
        println!("{} {} seed {}: {state}", run.dataset, run.label, run.seed);
    }
    println!(
        "check of suite `{}` in {} passed, nothing written: {} runs, {left} to train or continue",
        suite.name,
        out.display(),
        runs.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `experiments compare`: the runs of a suite (or of a slice of it), then its report.
pub(crate) fn compare_suite(
    suite: &str,
    out: Option<PathBuf>,
    no_report: bool,
    data_dir: Option<String>,
    slice: &SliceArgs,
    backend: &BackendArgs,
    nodes: Option<NodeSpec>,
) -> anyhow::Result<ExitCode> {
    let (suite, out) = load_suite(suite, out, data_dir, slice)?;
    let start = std::time::Instant::now();
    let (name, devices) = (backend.backend(), backend.indices());
    let exec = compare::Execution {
        backend: &name,
        devices: &devices,
        dashboard: !backend.no_dashboard,
        loader_workers: backend.loader_workers(),
        nodes: nodes.as_ref(),
    };
    let outcomes = compare::compare(&suite, &out, &exec, &slice.slice())?;
    let count = |f: fn(&RunOutcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    let failed = count(|o| matches!(o, RunOutcome::Failed(_)));
    let busy = count(|o| matches!(o, RunOutcome::Busy(_)));
    let diverged = count(|o| {
        matches!(
            o,
            RunOutcome::Finished(RunStatus::Diverged) | RunOutcome::Skipped(RunStatus::Diverged)
        )
    });
    println!(
        "suite `{}`: {} runs ({diverged} diverged, {failed} failed, {busy} left to another \
         process) in {:.0} s, in {}",
        suite.name,
        outcomes.len(),
        start.elapsed().as_secs_f64(),
        out.display()
    );
    if !no_report && nodes.as_ref().is_none_or(NodeSpec::is_writer) {
        let files = report::report(&out)?;
        println!("report: {}", files.markdown.display());
    }
    if failed > 0 {
        console::line(format!(
            "error: {failed} of the suite's runs failed (their errors are above); rerun the same \
             command to retry them"
        ));
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `experiments throughput`: the table, and the JSON if asked. No optimizer given: SGD with
/// momentum and Lookahead over it.
pub(crate) fn throughput(
    mut task: ThroughputTask,
    json: Option<PathBuf>,
    backend: &BackendArgs,
) -> anyhow::Result<ExitCode> {
    if task.batch_size == 0 || task.image_size == 0 {
        bail!("--batch-size and --image-size must be at least 1");
    }
    if task.optimizers.is_empty() {
        task.optimizers = vec![
            OptimizerSpec::parse("sgd(momentum=0.9)")?,
            OptimizerSpec::parse("lookahead(sgd(momentum=0.9), k=5, alpha=0.5)")?,
        ];
    }
    let report = backend::dispatch(&backend.backend(), &backend.indices(), task)??;
    print!("{}", report.table());
    if let Some(path) = json {
        data::write_atomic(&path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}
