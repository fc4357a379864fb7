//! `experiments`: train one run, run a comparison suite, or write a suite's report.
//!
//! ```text
//! experiments train --dataset cifar10 --model resnet18-cifar --optimizer "lookahead(sgd(momentum=0.9))"
//! experiments train --resume --out runs/my-run
//! experiments compare quick
//! experiments report runs/quick
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use experiments::backend::{self, default_backend};
use experiments::config::{ModelKind, Precision, Schedule, TrainConfig};
use experiments::run::{RunOptions, RunStatus, read_config};
use experiments::spec::OptimizerSpec;
use experiments::suite::{RunOutcome, Suite};
use experiments::throughput::ThroughputTask;
use experiments::{TrainTask, compare, report, train_on};

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
    /// Backend (ndarray, flex, wgpu, vulkan, metal, cuda); must be compiled in. Default: the
    /// first compiled of flex, ndarray, cuda, wgpu, vulkan, metal.
    #[arg(long)]
    backend: Option<String>,
    /// Device index (GPU backends; 0 = the default device).
    #[arg(long, default_value_t = 0, conflicts_with = "devices")]
    device: usize,
    /// Several devices, data-parallel (burn-train's multi-device strategy: one batch per device
    /// per step, gradients summed on the first). On a CPU backend, `0,1` runs two workers.
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

/// Fields of the run's config; each overrides the config file's (or the default).
#[derive(Args, Clone, Default)]
struct ConfigFlags {
    /// A JSON (.json) or TOML config file; flags override its fields.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Dataset: fashion-mnist-embedded, fashion-mnist, cifar10, cifar100, imagenette, or an
    /// Imagenette/Imagewoof folder name (imagenette2-320, imagewoof2-160, …).
    #[arg(long)]
    dataset: Option<String>,
    /// Where datasets live (default $LOOKAHEAD_DATA_DIR, else datasets/).
    #[arg(long)]
    data_dir: Option<String>,
    /// Model: tiny-resnet, micro-resnet, tiny-xresnet, resnet18-cifar, resnet18/34/50, xresnet18/34/50[-mish].
    #[arg(long)]
    model: Option<String>,
    /// Image side for Imagenette.
    #[arg(long)]
    image_size: Option<usize>,
    /// Epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Batch size.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Optimizer spec, e.g. "lookahead(sgd(momentum=0.9), k=5, alpha=0.5, reset)".
    #[arg(long)]
    optimizer: Option<String>,
    /// Schedule: onecycle, flatcos, constant.
    #[arg(long)]
    schedule: Option<Schedule>,
    /// Peak (or constant) learning rate.
    #[arg(long)]
    lr_max: Option<f64>,
    /// Weight decay (replaces the optimizer spec's).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Mixup α (0 = off).
    #[arg(long)]
    mixup: Option<f64>,
    /// Label smoothing ε.
    #[arg(long)]
    label_smoothing: Option<f64>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Train on N images only.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Validate on N images only.
    #[arg(long)]
    valid_limit: Option<usize>,
    /// Precision of the forward/backward passes: f32, bf16, f16 (f32 master weights).
    #[arg(long)]
    precision: Option<Precision>,
    /// Static loss scale (default 1024 with f16, else 1).
    #[arg(long)]
    loss_scale: Option<f64>,
}

impl ConfigFlags {
    fn any_field(&self) -> bool {
        self.config.is_some()
            || self.dataset.is_some()
            || self.data_dir.is_some()
            || self.model.is_some()
            || self.image_size.is_some()
            || self.epochs.is_some()
            || self.batch_size.is_some()
            || self.optimizer.is_some()
            || self.schedule.is_some()
            || self.lr_max.is_some()
            || self.weight_decay.is_some()
            || self.mixup.is_some()
            || self.label_smoothing.is_some()
            || self.seed.is_some()
            || self.train_limit.is_some()
            || self.valid_limit.is_some()
            || self.precision.is_some()
            || self.loss_scale.is_some()
    }

    fn build(&self) -> anyhow::Result<TrainConfig> {
        let mut c = match &self.config {
            Some(path) => TrainConfig::from_file(path)?,
            None => TrainConfig::new(),
        };
        macro_rules! set {
            ($($field:ident),*) => {$(
                if let Some(v) = &self.$field {
                    c.$field = v.clone();
                }
            )*};
        }
        set!(
            dataset,
            model,
            image_size,
            epochs,
            batch_size,
            optimizer,
            schedule,
            lr_max,
            mixup,
            label_smoothing,
            seed,
            precision
        );
        if self.data_dir.is_some() {
            c.data_dir = self.data_dir.clone();
        }
        if self.weight_decay.is_some() {
            c.weight_decay = self.weight_decay;
        }
        if self.train_limit.is_some() {
            c.train_limit = self.train_limit;
        }
        if self.valid_limit.is_some() {
            c.valid_limit = self.valid_limit;
        }
        if self.loss_scale.is_some() {
            c.loss_scale = self.loss_scale;
        }
        c.check()?;
        Ok(c)
    }
}

#[derive(Subcommand)]
enum Command {
    /// Train one run (Burn Learner: loss, accuracy, lr metrics; checkpoint every epoch).
    Train {
        #[command(flatten)]
        config: Box<ConfigFlags>,
        /// Run directory (default runs/<dataset>/<optimizer>/seed-<seed>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue the run in --out from its last checkpoint (its config.json is used).
        #[arg(long)]
        resume: bool,
        #[command(flatten)]
        backend: BackendArgs,
    },
    /// Run a comparison suite (datasets × optimizers × seeds), then write its report.
    Compare {
        /// A shipped suite (quick, cifar10, cifar100, imagenette) or a suite TOML file.
        suite: String,
        /// Output directory (default runs/<suite name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not write the report at the end.
        #[arg(long)]
        no_report: bool,
        /// Where datasets live (overrides the suite's recipe).
        #[arg(long)]
        data_dir: Option<String>,
        #[command(flatten)]
        backend: BackendArgs,
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
        model: String,
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
        /// Optimizer specs, repeatable; the first is the reference of the ratios. Default:
        /// `sgd(momentum=0.9)` and `lookahead(sgd(momentum=0.9), k=5, alpha=0.5)`.
        #[arg(long = "optimizer")]
        optimizers: Vec<String>,
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
            backend,
        } => {
            let (config, dir) = if resume {
                let Some(dir) = out else {
                    bail!("--resume needs --out <the run directory>");
                };
                if config.any_field() {
                    bail!(
                        "--resume continues the run with its own {}; drop the config flags",
                        dir.join("config.json").display()
                    );
                }
                (read_config(&dir)?, dir)
            } else {
                let config = config.build()?;
                let dir = out.unwrap_or_else(|| {
                    PathBuf::from("runs")
                        .join(&config.dataset)
                        .join(slug(&config.optimizer))
                        .join(format!("seed-{}", config.seed))
                });
                (config, dir)
            };
            let name = backend.backend();
            println!("training in {} on {name}", dir.display());
            let summary = train_on(
                &name,
                &backend.indices(),
                TrainTask {
                    config,
                    dir: dir.clone(),
                    options: RunOptions {
                        resume,
                        dashboard: !backend.no_dashboard,
                        label: String::new(),
                    },
                },
            )?;
            println!(
                "{:?}: {} epochs, valid accuracy {} %, valid loss {}, {:.1} s, {:.0} images/s ({})",
                summary.status,
                summary.epochs_completed,
                summary
                    .final_valid_accuracy
                    .map_or("–".into(), |v| format!("{v:.2}")),
                summary
                    .final_valid_loss
                    .map_or("–".into(), |v| format!("{v:.4}")),
                summary.wall_time_s,
                summary.images_per_s,
                summary.backend
            );
            println!("summary: {}", dir.join("summary.json").display());
            match summary.status {
                RunStatus::Complete => Ok(ExitCode::SUCCESS),
                _ => {
                    eprintln!("error: {}", summary.message.unwrap_or_default());
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Compare {
            suite,
            out,
            no_report,
            data_dir,
            backend,
        } => {
            let mut suite = Suite::load(&suite)?;
            if data_dir.is_some() {
                suite.recipe.data_dir = data_dir;
            }
            let out = out.unwrap_or_else(|| PathBuf::from("runs").join(&suite.name));
            let name = backend.backend();
            let start = std::time::Instant::now();
            let outcomes = compare(
                &suite,
                &out,
                &name,
                &backend.indices(),
                !backend.no_dashboard,
            )?;
            let failed = outcomes
                .iter()
                .filter(|(_, o)| matches!(o, RunOutcome::Failed(_)))
                .count();
            let diverged = outcomes
                .iter()
                .filter(|(_, o)| {
                    matches!(
                        o,
                        RunOutcome::Finished(RunStatus::Diverged)
                            | RunOutcome::Skipped(RunStatus::Diverged)
                    )
                })
                .count();
            println!(
                "suite `{}`: {} runs ({} diverged, {} failed) in {:.0} s, in {}",
                suite.name,
                outcomes.len(),
                diverged,
                failed,
                start.elapsed().as_secs_f64(),
                out.display()
            );
            if !no_report {
                let files = report::report(&out)?;
                println!("report: {}", files.markdown.display());
            }
            Ok(if failed > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Report { dir } => {
            let files = report::report(&dir)?;
            println!("report: {}", files.markdown.display());
            for path in files.csv.iter().chain(&files.plots) {
                println!("        {}", path.display());
            }
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
            let texts = if optimizers.is_empty() {
                vec![
                    "sgd(momentum=0.9)".to_string(),
                    "lookahead(sgd(momentum=0.9), k=5, alpha=0.5)".to_string(),
                ]
            } else {
                optimizers
            };
            let specs = texts
                .iter()
                .map(|t| OptimizerSpec::parse(t))
                .collect::<Result<Vec<_>, _>>()?;
            ModelKind::parse(&model).context("--model")?;
            if batch_size == 0 || image_size == 0 {
                bail!("--batch-size and --image-size must be at least 1");
            }
            let task = ThroughputTask {
                model,
                batch_size,
                image_size,
                classes: 10,
                warmup,
                steps,
                rounds,
                optimizers: specs,
                precision,
            };
            let report = backend::dispatch(&backend.backend(), &backend.indices(), task)??;
            print!("{}", report.table());
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&report)?)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Backends => {
            println!("{}", backend::compiled_backends().join("\n"));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).context("experiments") {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
