//! `experiments`: train one run, run a comparison suite, or write a suite's report.
//!
//! ```text
//! experiments train --dataset cifar10 --model resnet18-cifar --optimizer "lookahead(sgd(momentum=0.9))"
//! experiments train --resume --out runs/my-run
//! experiments compare quick
//! experiments report runs/quick
//! experiments orchestrator --port 29400     # then, on each of 2 machines:
//! experiments train … --nodes 2 --node-rank R --orchestrator HOST:29400 [--node-address IP:PORT]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use experiments::backend::{self, default_backend};
use experiments::compare::{self, RunOutcome};
use experiments::console;
use experiments::nodes::{self, NodeSpec};
use experiments::run::RunOptions;
use experiments::throughput::ThroughputTask;
use experiments::{TrainTask, check_on, train_on};
use study::config::{DatasetKind, ModelKind, Precision, TrainConfig, TrainFlags};
use study::recipe::{Layered, Source, dataset_recipe, recipe_fields};
use study::report;
use study::run_dir::{RunStatus, read_config, recorded_backend, run_state};
use study::slice::Slice;
use study::spec::OptimizerSpec;
use study::suite::Suite;

#[derive(Parser)]
#[command(
    name = "experiments",
    version,
    about = "Train with Lookahead and other optimizers, compare them over seeds, report with significance tests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct BackendArgs {
    /// Backend, one compiled into this binary (`experiments backends` lists them). Default:
    /// the first compiled in, in the catalogue's order of preference (see `backend.rs`).
    #[arg(long)]
    backend: Option<String>,
    /// Device index (GPU backends; 0 = the default device).
    #[arg(long, default_value_t = 0, conflicts_with = "devices")]
    device: usize,
    /// Several devices, data-parallel (burn-train's multi-device strategy): each step splits
    /// the global `--batch-size` evenly over them and averages their gradients, so the run is
    /// the same experiment as on one device. On a CPU backend, `0,1` runs two workers.
    #[arg(long, value_delimiter = ',')]
    devices: Vec<usize>,
    /// Plain progress lines even when stdout is a terminal (no Burn TUI dashboard).
    #[arg(long)]
    no_dashboard: bool,
}

impl BackendArgs {
    fn indices(&self) -> Vec<usize> {
        if self.devices.is_empty() {
            vec![self.device]
        } else {
            self.devices.clone()
        }
    }

    fn backend(&self) -> String {
        self.backend
            .clone()
            .unwrap_or_else(|| default_backend().to_string())
    }
}

/// One process's place in a multi-node run (docs/multi-node.md).
#[derive(Args, Clone, Default)]
struct NodeArgs {
    /// Nodes (processes, one per machine) training this run together; every node runs the same
    /// command with its own --node-rank. `--batch-size` is the global batch (divisible by it).
    #[arg(long)]
    nodes: Option<u32>,
    /// This node's rank, 0 to nodes − 1; node 0 writes the run directory.
    #[arg(long, requires = "nodes", default_value_t = 0)]
    node_rank: u32,
    /// The orchestrator's address, host:port (`experiments orchestrator --port P`).
    #[arg(long, requires = "nodes")]
    orchestrator: Option<String>,
    /// This node's address and a free port at which the other nodes reach it (default, with an
    /// orchestrator on 127.0.0.1: 127.0.0.1:<orchestrator port + 1 + rank>).
    #[arg(long, requires = "nodes")]
    node_address: Option<String>,
    /// Seconds a node waits for the others (to join, at each step) before it stops with an
    /// error.
    #[arg(long, requires = "nodes", default_value_t = NodeSpec::DEFAULT_TIMEOUT_S)]
    node_timeout: f64,
}

impl NodeArgs {
    fn spec(&self) -> anyhow::Result<Option<NodeSpec>> {
        let Some(nodes) = self.nodes else {
            return Ok(None);
        };
        let Some(orchestrator) = &self.orchestrator else {
            bail!("--nodes needs --orchestrator <host:port>");
        };
        Ok(Some(NodeSpec::new(
            nodes,
            self.node_rank,
            orchestrator,
            self.node_address.as_deref(),
            self.node_timeout,
        )?))
    }
}

/// The run's config, in layers (`study::recipe`): the defaults, a recipe (by default the
/// study's recipe for the dataset: the corrected suite `cifar10`, `cifar100` or `imagenette`), a
/// file, the flags. The flags are `TrainFlags`, declared with `TrainConfig` from one list of
/// fields, and reach the config through its serialised form, so a flag is parsed and checked
/// exactly as the file's field is.
#[derive(Args, Clone, Default)]
struct ConfigFlags {
    /// Start from a suite's recipe, `<suite>` (its shared recipe and first dataset) or
    /// `<suite>:<label>` (that arm's optimizer, learning rate, weight decay too), e.g.
    /// `seed-cifar10:la-sgd`; `none` for the bare defaults. Default: the study's recipe for the
    /// dataset (CIFAR-10/100, Imagenette), the defaults for Fashion-MNIST.
    #[arg(long)]
    recipe: Option<String>,
    /// A JSON (.json) or TOML config file; flags override its fields.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(flatten)]
    fields: TrainFlags,
}

impl ConfigFlags {
    fn any_field(&self) -> anyhow::Result<bool> {
        let given = serde_json::to_value(&self.fields)?;
        Ok(self.config.is_some()
            || self.recipe.is_some()
            || given.as_object().is_some_and(|fields| !fields.is_empty()))
    }

    /// The layers (recipe, file, flags) and the config they make, checked.
    fn build(&self) -> anyhow::Result<Layered> {
        let file = match &self.config {
            Some(path) => Some((
                Source::File(path.display().to_string()),
                TrainConfig::file_fields(path)?,
            )),
            None => None,
        };
        let flags = self.fields.fields()?;
        let recipe = match self.recipe.as_deref() {
            Some("none") => None,
            Some(recipe) => Some(recipe.to_string()),
            None => {
                // The dataset the flags or the file name, else the default one.
                let named = flags
                    .get("dataset")
                    .or_else(|| file.as_ref().and_then(|(_, f)| f.get("dataset")));
                let dataset: DatasetKind = match named {
                    Some(v) => serde_json::from_value(v.clone()).context("field `dataset`")?,
                    None => TrainConfig::new().dataset,
                };
                dataset_recipe(&dataset).map(str::to_string)
            }
        };
        let mut layers = Vec::new();
        if let Some(recipe) = recipe {
            layers.push((Source::Recipe(recipe.clone()), recipe_fields(&recipe)?));
        }
        layers.extend(file);
        layers.push((Source::Flag, flags));
        let layered = Layered::new(layers)?;
        layered.config.check()?;
        Ok(layered)
    }
}

/// Which runs of a suite `compare` trains, and what it overrides in every run. Shards of one
/// suite (other labels, seeds or datasets) can run at once, from several processes or machines,
/// into the same `--out`: each run has one writer, and the report reads what has finished.
#[derive(Args, Clone, Default)]
struct SliceArgs {
    /// Only these optimizer labels (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Only these seeds (comma-separated).
    #[arg(long, value_delimiter = ',')]
    seeds: Vec<u64>,
    /// Only these datasets (comma-separated).
    #[arg(long, value_delimiter = ',')]
    datasets: Vec<String>,
    /// Precision of every run (f32, bf16, f16), overriding the suite's recipe.
    #[arg(long)]
    precision: Option<Precision>,
}

impl SliceArgs {
    fn slice(&self) -> Slice {
        Slice {
            labels: self.only.clone(),
            seeds: self.seeds.clone(),
            datasets: self.datasets.clone(),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Train one run (Burn Learner: loss, accuracy, lr metrics; checkpoint every epoch).
    #[command(after_help = study::spec::grammar_help())]
    Train {
        #[command(flatten)]
        config: Box<ConfigFlags>,
        /// Run directory (default runs/<dataset>/<optimizer>/seed-<seed>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue the run in --out from its last checkpoint (its config.json is used).
        #[arg(long)]
        resume: bool,
        /// Check everything a start would (config, data on disk, model, devices, the run
        /// directory and the checkpoint it would continue from), print what it would train,
        /// and stop: nothing is trained or written. With `--resume`, checks the continuation.
        #[arg(long, conflicts_with = "nodes")]
        check: bool,
        #[command(flatten)]
        backend: BackendArgs,
        #[command(flatten)]
        nodes: NodeArgs,
    },
    /// Run a comparison suite (datasets × optimizers × seeds), then write its report.
    #[command(after_help = study::suite::shipped_help())]
    Compare {
        /// A shipped suite (listed below) or a suite TOML file.
        suite: String,
        /// Output directory (default runs/<suite name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not write the report at the end.
        #[arg(long)]
        no_report: bool,
        /// Check everything the runs would (the suite, the backend, the data on disk, the
        /// output directory and each run directory against its recipe), print each run's
        /// state, and stop: nothing is trained or written.
        #[arg(long, conflicts_with = "nodes")]
        check: bool,
        /// Where datasets live (overrides the suite's recipe).
        #[arg(long)]
        data_dir: Option<String>,
        #[command(flatten)]
        slice: SliceArgs,
        #[command(flatten)]
        backend: BackendArgs,
        #[command(flatten)]
        nodes: NodeArgs,
    },
    /// Burn's collective orchestrator for multi-node runs: start one, then every node with
    /// `--nodes N --node-rank R --orchestrator <this machine>:PORT`. Start a fresh one for each
    /// launch (it keeps the nodes of a stopped launch registered).
    Orchestrator {
        /// The port to listen on (all interfaces).
        #[arg(long, default_value_t = 29400)]
        port: u16,
    },
    /// Write the report (Markdown, CSV, SVG plots) of a suite's output directory.
    Report {
        /// The suite's output directory (holding suite.json).
        dir: PathBuf,
    },
    /// Training throughput on generated data: the same steps for each optimizer, side by side.
    Throughput {
        /// Model (default: the CIFAR ResNet-18).
        #[arg(long, default_value = "resnet18-cifar")]
        model: ModelKind,
        /// Batch size.
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        /// Image side (3 channels).
        #[arg(long, default_value_t = 32)]
        image_size: usize,
        /// Untimed steps first.
        #[arg(long, default_value_t = 2)]
        warmup: usize,
        /// Timed steps per round.
        #[arg(long, default_value_t = 5)]
        steps: usize,
        /// Rounds (optimizers alternate; the median round counts).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Optimizer specs, repeatable; the first is the reference of the ratios, and its inner
        /// optimizer alone (Burn's, without the Lookahead wrapper) is also timed as the bare
        /// baseline. Default: `sgd(momentum=0.9)` and `lookahead(sgd(momentum=0.9), k=5,
        /// alpha=0.5)`.
        #[arg(long = "optimizer")]
        optimizers: Vec<OptimizerSpec>,
        /// Precision of the forward/backward passes: f32, bf16, f16 (f32 master weights).
        #[arg(long, default_value = "f32")]
        precision: Precision,
        /// Also write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// List the backends compiled into this binary.
    Backends,
}

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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Train {
            config,
            out,
            resume,
            check,
            backend,
            nodes,
        } => {
            let how = How { resume, check };
            train(&config, out, how, &backend, nodes.spec()?)
        }
        Command::Compare {
            suite,
            out,
            check: true,
            data_dir,
            slice,
            backend,
            ..
        } => check_suite(&suite, out, data_dir, &slice, &backend),
        Command::Compare {
            suite,
            out,
            no_report,
            data_dir,
            slice,
            backend,
            nodes,
            ..
        } => compare_suite(
            &suite,
            out,
            no_report,
            data_dir,
            &slice,
            &backend,
            nodes.spec()?,
        ),
        Command::Orchestrator { port } => {
            nodes::run_orchestrator(port)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { dir } => {
            print!("{}", report::report(&dir)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Throughput {
            model,
            batch_size,
            image_size,
            warmup,
            steps,
            rounds,
            optimizers,
            precision,
            json,
            backend,
        } => {
            if batch_size == 0 || image_size == 0 {
                bail!("--batch-size and --image-size must be at least 1");
            }
            let optimizers = if optimizers.is_empty() {
                vec![
                    OptimizerSpec::parse("sgd(momentum=0.9)")?,
                    OptimizerSpec::parse("lookahead(sgd(momentum=0.9), k=5, alpha=0.5)")?,
                ]
            } else {
                optimizers
            };
            let task = ThroughputTask {
                model,
                batch_size,
                image_size,
                classes: 10,
                warmup,
                steps,
                rounds,
                optimizers,
                precision,
            };
            throughput(task, json, &backend)
        }
        Command::Backends => {
            println!("{}", backend::compiled_backends().join("\n"));
            Ok(ExitCode::SUCCESS)
        }
    }
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
struct How {
    resume: bool,
    check: bool,
}

/// `experiments train`: one run, its summary printed (with `--check`, what it would train).
fn train(
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
fn check_suite(
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
fn compare_suite(
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
    let dashboard = !backend.no_dashboard;
    let outcomes = compare::compare(
        &suite,
        &out,
        &backend.backend(),
        &backend.indices(),
        dashboard,
        nodes.as_ref(),
        &slice.slice(),
    )?;
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

/// `experiments throughput`: the table, and the JSON if asked.
fn throughput(
    task: ThroughputTask,
    json: Option<PathBuf>,
    backend: &BackendArgs,
) -> anyhow::Result<ExitCode> {
    let report = backend::dispatch(&backend.backend(), &backend.indices(), task)??;
    print!("{}", report.table());
    if let Some(path) = json {
        data::write_atomic(&path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to stdout as they are; a usage error to stderr, the argument it
        // quotes shortened.
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let text = console::long_words_shortened(&e.render().to_string());
            console::line(text.trim_end());
            return ExitCode::from(2);
        }
    };
    let outcome = run(cli).context("experiments");
    // A multi-node process leaves the run (burn-collective's finish) once its command is done.
    nodes::leave();
    match outcome {
        Ok(code) => code,
        Err(e) => {
            console::line(format!("error: {}", console::error_text(&e)));
            ExitCode::FAILURE
        }
    }
}
