//! `cargo xtask`: the project's task runner (an alias in `.cargo/config.toml`).
//!
//! ```text
//! cargo xtask example                      # the Lookahead example (release build)
//! cargo xtask bench [--quick]              # every benchmark, one after the other
//! cargo xtask download <dataset>           # official URL, checksum, progress bar, extraction
//! cargo xtask import <dataset> <archive>   # an archive you already have
//! cargo xtask datasets                     # what can be downloaded, and what is on disk
//! ```

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

/// Tasks for lookahead-burn.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Runs the Lookahead(SGD) vs SGD example (three spirals, Flex CPU backend), in release mode.
    Example,
    /// Runs the benchmarks: optimizer step (lookahead-optim), training throughput per CPU
    /// backend and PyTorch (models), data pipeline (data).
    Bench {
        /// Fewer rounds and smaller inputs: a smoke test rather than a measurement.
        #[arg(long)]
        quick: bool,
    },
    /// Downloads a dataset from its official URL, verifies it and extracts it.
    Download {
        /// cifar10, cifar100, imagenette2, imagenette2-320, imagenette2-160, imagewoof2[-320|-160]
        /// or fashion-mnist.
        dataset: String,
        /// Data directory (default: $LOOKAHEAD_DATA_DIR, else datasets/).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Imports a dataset from an archive you already have (verified against the published
    /// checksum, then extracted). For fashion-mnist, give the folder holding its four files.
    Import {
        /// The dataset's name (see `download`).
        dataset: String,
        /// The archive (or folder).
        archive: PathBuf,
        /// Data directory (default: $LOOKAHEAD_DATA_DIR, else datasets/).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Lists the datasets, their official URLs, and which are on disk.
    Datasets {
        /// Data directory (default: $LOOKAHEAD_DATA_DIR, else datasets/).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .status()
        .with_context(|| format!("cannot run `{cargo}`"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    // Errors are printed as one clear message (with their causes), never as a backtrace.
    match run(Cli::parse().task) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(task: Task) -> Result<()> {
    match task {
        Task::Example => cargo(&[
            "run",
            "--release",
            "--example",
            "spirals",
            "-p",
            "lookahead-optim",
        ]),
        Task::Bench { quick } => {
            for (package, bench) in [
                ("lookahead-optim", "step"),
                ("models", "throughput"),
                ("data", "pipeline"),
            ] {
                let mut args = vec!["bench", "-p", package, "--bench", bench];
                if quick {
                    args.extend(["--", "--quick"]);
                }
                cargo(&args)?;
            }
            Ok(())
        }
        Task::Download { dataset, data_dir } => {
            let dir = data::data_dir(data_dir.as_deref());
            let folder = data::download(&dataset, &dir, true)?;
            println!("{dataset} is ready in {}", folder.display());
            Ok(())
        }
        Task::Import {
            dataset,
            archive,
            data_dir,
        } => {
            let dir = data::data_dir(data_dir.as_deref());
            let folder = data::import(&dataset, &archive, &dir)?;
            println!("{dataset} imported into {}", folder.display());
            Ok(())
        }
        Task::Datasets { data_dir } => {
            let dir = data::data_dir(data_dir.as_deref());
            println!("data directory: {}", dir.display());
            for spec in data::DATASETS {
                let here = dir.join(spec.folder).is_dir();
                let state = if here { "on disk" } else { "-" };
                println!("{:<16} {:<8} {}", spec.name, state, spec.files[0].url);
            }
            println!(
                "embedded: Fashion-MNIST test set (10,000 images, datasets/fashion-mnist-t10k)"
            );
            Ok(())
        }
    }
}
