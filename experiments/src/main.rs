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
use experiments::console;
use experiments::nodes::{self, NodeSpec};
use experiments::throughput::ThroughputTask;
use study::config::{DatasetKind, ModelKind, Precision, TrainConfig, TrainFlags};
use study::recipe::{Layered, Source, dataset_recipe, recipe_fields};
use study::report;
use study::slice::Slice;
use study::spec::OptimizerSpec;

mod commands;

use commands::{How, check_suite, compare_suite, throughput, train};

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
    /// Threads building training and validation batches ahead of the step (default: the
    /// machine's cores; 0: on the training thread). The batches are the same for any count.
    #[arg(long, value_name = "N")]
    loader_workers: Option<usize>,
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

    fn loader_workers(&self) -> usize {
        self.loader_workers
            .unwrap_or_else(experiments::loader::default_workers)
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
