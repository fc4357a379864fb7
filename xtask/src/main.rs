//! `cargo xtask`: the project's task runner (an alias in `.cargo/config.toml`).
//!
//! ```text
//! cargo xtask setup libtorch              # LibTorch 2.9.0 for the `tch` backend (a venv with PyPI's torch)
//! cargo xtask lint                         # clippy over every target and every backend that builds here
//! cargo xtask test [args]                  # every test, the wgpu backend (on a Vulkan driver) included
//! cargo xtask example                      # the Lookahead example (release build)
//! cargo xtask train <dataset> --backend <b> [flags passed on to `experiments train`]
//! cargo xtask compare <suite> --backend <b> [flags passed on to `experiments compare`]
//! cargo xtask report <dir>                 # report of a suite's output directory
//! cargo xtask seed-fit                     # the smoothing behind the seed's published numbers
//! cargo xtask bench [--quick]              # every benchmark, one after the other
//! cargo xtask download <dataset>           # official URL, checksum, progress bar, extraction
//! cargo xtask import <dataset> <archive>   # an archive you already have
//! cargo xtask datasets                     # what can be downloaded, and what is on disk
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use cargo::{cargo, cargo_with, lint_features, test_features, wgpu_environment};
use libtorch::LibTorch;

mod bench;
mod cargo;
mod libtorch;
mod seed_fit;

/// Tasks for lookahead-burn.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about, after_help = study::suite::shipped_help())]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

/// What `cargo xtask setup` prepares.
#[derive(Clone, Copy, ValueEnum)]
enum SetupWhat {
    /// LibTorch 2.9.0 for Burn's `tch` backend: a Python venv with PyPI's `torch==2.9.0`.
    Libtorch,
}

#[derive(Subcommand)]
enum Task {
    /// Prepares an optional dependency. `libtorch`: a venv with PyPI's torch 2.9.0 (about 2.5 GB
    /// to download, 6.7 GB on disk) in $LOOKAHEAD_LIBTORCH_VENV, else
    /// ~/.cache/lookahead-burn/libtorch-2.9.0; from then on every task builds `experiments` with
    /// the `tch` backend too, and it is the default backend (`$LIBTORCH`, a LibTorch folder,
    /// is used instead when set). Prints the environment to build and run by hand.
    Setup {
        /// What to prepare.
        what: SetupWhat,
    },
    /// Lints every target with clippy (`-D warnings`), `experiments` built for ndarray, wgpu and
    /// cuda on top of its defaults, and tch when LibTorch is set up.
    Lint,
    /// Runs every test of the workspace with `experiments` built for flex, ndarray and wgpu
    /// together, and tch when LibTorch is set up (`cargo xtask setup libtorch`): `cargo test
    /// --workspace --features experiments/wgpu[,experiments/tch] [args]`. The wgpu tests need a
    /// Vulkan driver (without a GPU: Mesa's lavapipe, Debian's `mesa-vulkan-drivers`);
    /// XDG_RUNTIME_DIR is set to a private directory when unset.
    Test {
        /// Lints while it builds (CI's one build): clippy compiles the workspace's crates
        /// (`-D warnings`, as `lint`) and `experiments` is built for every backend `lint`
        /// checks (cuda included), so no separate `lint` pass is needed.
        #[arg(long)]
        lint: bool,
        /// Arguments passed on to `cargo test` (e.g. `-p experiments -- backends_agree`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Runs the Lookahead(SGD) vs SGD example (three spirals, Flex CPU backend), in release mode.
    Example,
    /// Trains one run: builds `experiments` in release with exactly the backend's cargo feature,
    /// then runs `experiments train --dataset <dataset> --backend <backend> [flags]`.
    Train {
        /// fashion-mnist-embedded (committed, offline), fashion-mnist, cifar10, cifar100,
        /// imagenette, or an Imagenette/Imagewoof folder name (imagenette2-320, …).
        dataset: String,
        /// tch, flex, ndarray, wgpu, vulkan, metal or cuda; `auto`: tch when LibTorch is set up,
        /// else flex.
        #[arg(long, default_value = "auto")]
        backend: String,
        /// Flags passed on to `experiments train` (see `cargo xtask train x -- --help`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        flags: Vec<String>,
    },
    /// Runs a comparison suite (a shipped suite, `crates/study/suites/<name>.toml`, or a TOML
    /// file) and writes its report, with `experiments` built for exactly the backend's feature.
    #[command(after_help = study::suite::shipped_help())]
    Compare {
        /// Suite name or file.
        suite: String,
        /// tch, flex, ndarray, wgpu, vulkan, metal or cuda; `auto`: tch when LibTorch is set up,
        /// else flex.
        #[arg(long, default_value = "auto")]
        backend: String,
        /// Flags passed on to `experiments compare` (--out, --device, --no-dashboard, …).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        flags: Vec<String>,
    },
    /// Writes the report (Markdown, CSV, SVG) of a suite's output directory (no training build).
    Report {
        /// The directory `compare` wrote (default for a shipped suite: runs/<suite>).
        dir: PathBuf,
        /// Read the runs under this suite's claims and published numbers (a shipped suite's
        /// name or a suite file): its report-only fields are written into the directory's
        /// suite.json first, refused if the suite would train any run under another recipe.
        #[arg(long)]
        suite: Option<String>,
    },
    /// Fits the smoothing behind the seed study's published numbers (a debiased moving average
    /// over epochs) on its logged per-epoch tables, and prints each published value beside the
    /// smoothed log and the final epoch (no training build).
    SeedFit,
    /// Prepares the GPU check: builds `experiments` in release with the cuda and vulkan
    /// features, strips it, and puts it in target/gpu-check/ with scripts/gpu-check.sh and the
    /// PyTorch reference. Copy that folder to a machine with an NVIDIA GPU and run
    /// `./gpu-check.sh` there.
    GpuCheck {
        /// Backend features to build (comma-separated); e.g. `flex` to rehearse on a CPU.
        #[arg(long, default_value = "cuda,vulkan")]
        features: String,
        /// Also run the check here once prepared (with CUDA_BACKEND/VULKAN_BACKEND from the
        /// environment).
        #[arg(long)]
        run: bool,
    },
    /// Runs the benchmarks: optimizer step (lookahead-optim), training throughput per CPU
    /// backend (Flex, NdArray, and LibTorch when set up) and native PyTorch, and the step's
    /// profile by op family (models), data pipeline (data). PyTorch's figures come from
    /// $PYTHON, else LibTorch's venv, else python3.
    Bench {
        /// Fewer rounds and smaller inputs: a smoke test rather than a measurement.
        #[arg(long)]
        quick: bool,
        /// Build the benches as `cargo xtask test` builds the tests (dependencies optimised, ours
        /// not, the same features): a smoke test reusing the test build, without a release
        /// build (CI). The figures are not representative.
        #[arg(long)]
        dev: bool,
    },
    /// Fuzzes every parser and reader (specs, configs, suites, IDX, CIFAR folders and archives,
    /// Imagenette folders and cache, run directories, checkpoints, report inputs) with
    /// structure-aware mutations, and the `experiments` binary itself on hostile flags, configs,
    /// suites, dataset trees and run directories: `fuzz run` (crates/fuzz), built in release. Findings (crashes,
    /// aborts, hangs, silent acceptance) and the summary go to target/fuzz/; the command fails
    /// when there is one. E.g. `cargo xtask fuzz -- --execs 1000000`, `-- --targets spec,idx`.
    Fuzz {
        /// Flags passed on to `fuzz run` (--targets, --execs, --seed, --out, --jobs, …).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
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

/// `auto` → tch when LibTorch is set up, else flex; any other name as given (checked).
fn resolve_backend(backend: &str, libtorch: Option<&LibTorch>) -> Result<String> {
    let name = match (backend, libtorch) {
        ("auto", Some(_)) => "tch",
        ("auto", None) => "flex",
        (name, _) => name,
    };
    check_backend(name)?;
    if name == "tch" && libtorch.is_none() {
        bail!(
            "backend `tch` needs LibTorch {}: run `cargo xtask setup libtorch` (a venv with \
             PyPI's torch), or set LIBTORCH to an unpacked LibTorch folder",
            libtorch::TORCH_VERSION
        );
    }
    Ok(name.to_string())
}

/// Backends `experiments` can be built with: its cargo features (but `default`), read from its
/// manifest, the one list of them (`experiments`' `backend.rs` dispatches on the same features).
fn backends() -> Result<Vec<String>> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let value: toml::Value =
        toml::from_str(&text).with_context(|| format!("invalid {}", manifest.display()))?;
    let features = value
        .get("features")
        .and_then(toml::Value::as_table)
        .with_context(|| format!("{}: no [features]", manifest.display()))?;
    Ok(features
        .keys()
        .filter(|name| name.as_str() != "default")
        .cloned()
        .collect())
}

fn check_backend(backend: &str) -> Result<()> {
    let known = backends()?;
    if !known.iter().any(|b| b == backend) {
        bail!(
            "unknown backend `{backend}`; known: {} (each is a cargo feature of `experiments`)",
            known.join(", ")
        );
    }
    Ok(())
}

/// The value of `--data-dir` among flags passed on, if any.
fn data_dir_flag(flags: &[String]) -> Option<PathBuf> {
    flags.iter().enumerate().find_map(|(i, f)| {
        f.strip_prefix("--data-dir=")
            .map(PathBuf::from)
            .or_else(|| (f == "--data-dir").then(|| flags.get(i + 1).map(PathBuf::from))?)
    })
}

/// Checks that `dataset` is known and on disk exactly as `experiments` will look for it (the
/// one catalogue in `data`), before a long release build.
fn check_dataset(dataset: &str, dir: &Path) -> Result<()> {
    let kind: data::DatasetKind = dataset.parse()?;
    data::locate(&kind, dir)?;
    Ok(())
}

/// The datasets of a suite (shipped name or file), to check them before building.
fn suite_datasets(suite: &str) -> Result<Vec<String>> {
    let suite = study::suite::Suite::load(suite)?;
    Ok(suite.datasets.iter().map(ToString::to_string).collect())
}

/// `cargo run --release -p experiments` with exactly `backend`'s feature (and LibTorch's
/// environment for `tch`).
fn experiments(backend: &str, libtorch: Option<&LibTorch>, args: &[String]) -> Result<()> {
    let mut command = cargo_with(libtorch.filter(|_| backend == "tch"));
    command
        .args(["run", "--release", "--quiet", "-p", "experiments"])
        .args(["--no-default-features", "--features", backend, "--"])
        .args(args);
    let status = command.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("`experiments {}` failed ({status})", args.join(" "));
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
        Task::Setup {
            what: SetupWhat::Libtorch,
        } => setup_libtorch(),
        Task::Lint => lint(),
        Task::Test { lint, args } => test(lint, &args),
        Task::Example => cargo(&[
            "run",
            "--release",
            "--example",
            "spirals",
            "-p",
            "lookahead-optim",
        ]),
        Task::Train {
            dataset,
            backend,
            flags,
        } => train(dataset, backend, flags),
        Task::Compare {
            suite,
            backend,
            flags,
        } => compare(suite, backend, flags),
        // The report needs no training code: `study` reads the runs (no Burn crate is built).
        Task::Report { dir, suite } => {
            if let Some(suite) = suite {
                let suite = study::suite::Suite::load(&suite)?;
                study::refresh::refresh_report_fields(&dir, &suite)?;
            }
            print!("{}", study::report::report(&dir)?);
            Ok(())
        }
        Task::SeedFit => seed_fit::seed_fit(),
        Task::GpuCheck { features, run } => gpu_check(&features, run),
        Task::Bench { quick, dev } => bench::bench(quick, dev),
        Task::Fuzz { args } => {
            // The command-line targets run the binary beside the fuzzer's (Flex only).
            cargo(&["build", "--release", "--quiet", "-p", "experiments"])?;
            let mut command = vec!["run", "--release", "--quiet", "-p", "fuzz", "--", "run"];
            command.extend(args.iter().map(String::as_str));
            cargo(&command)
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
        Task::Datasets { data_dir } => datasets(data_dir.as_deref()),
    }
}

/// `cargo xtask setup libtorch`: the venv, then the environment to use it by hand.
fn setup_libtorch() -> Result<()> {
    let found = libtorch::setup(&libtorch::venv_dir()?)?;
    println!(
        "LibTorch is ready: `cargo xtask …` now builds the `tch` backend and uses it by default."
    );
    println!("To build or run `experiments` with `--features tch` by hand:");
    for line in found.exports() {
        println!("{line}");
    }
    Ok(())
}

/// `cargo xtask lint`: clippy over every target and every backend that compiles here.
/// The lint flags of `lint` and `test --lint`.
const CLIPPY_FLAGS: &[&str] = &["-D", "warnings"];

/// Clippy's driver (a rustc that also lints), checked to run.
fn clippy_driver() -> Result<PathBuf> {
    let driver = PathBuf::from("clippy-driver");
    let runs = Command::new(&driver)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !runs {
        bail!("`clippy-driver --version` failed: install clippy (`rustup component add clippy`)");
    }
    Ok(driver)
}

fn lint() -> Result<()> {
    let libtorch = LibTorch::find()?;
    let features = lint_features(libtorch.as_ref());
    let status = cargo_with(libtorch.as_ref())
        .args(["clippy", "--workspace", "--all-targets", "--features"])
        .arg(&features)
        .arg("--")
        .args(CLIPPY_FLAGS)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("clippy failed ({status})");
    }
    Ok(())
}

/// `cargo xtask test`: every target, then the doc tests, with the test features (with `lint`,
/// the lint features, built by clippy).
fn test(lint: bool, args: &[String]) -> Result<()> {
    let runtime = wgpu_environment()?;
    let libtorch = LibTorch::find()?;
    let features = match lint {
        true => lint_features(libtorch.as_ref()),
        false => test_features(libtorch.as_ref()),
    };
    let clippy = lint.then(clippy_driver).transpose()?;
    // Every target (benches run as quick smoke tests), then the doc tests: one build.
    for targets in ["--all-targets", "--doc"] {
        let mut command = cargo_with(libtorch.as_ref());
        if let Some(driver) = &clippy {
            // How `cargo clippy` itself runs its driver: as the workspace's compiler (it
            // compiles and lints; dependencies keep plain rustc), lint flags in CLIPPY_ARGS
            // separated by `__CLIPPY_HACKERY__`. Both passes set it, or the doc-test pass would
            // rebuild the libraries.
            command.env("RUSTC_WORKSPACE_WRAPPER", driver);
            let separated: String = CLIPPY_FLAGS
                .iter()
                .map(|flag| format!("{flag}__CLIPPY_HACKERY__"))
                .collect();
            command.env("CLIPPY_ARGS", separated);
        }
        command.args([
            "test",
            "--workspace",
            "--no-fail-fast",
            "--features",
            &features,
            targets,
        ]);
        command.args(args);
        if let Some(dir) = &runtime {
            command.env("XDG_RUNTIME_DIR", dir);
        }
        let status = command.status().context("cannot run cargo")?;
        if !status.success() {
            bail!("the tests failed ({status})");
        }
    }
    Ok(())
}

/// `cargo xtask train`: checks the backend and the data, then `experiments train`.
fn train(dataset: String, backend: String, flags: Vec<String>) -> Result<()> {
    let libtorch = LibTorch::find()?;
    let backend = resolve_backend(&backend, libtorch.as_ref())?;
    check_dataset(&dataset, &data::data_dir(data_dir_flag(&flags).as_deref()))?;
    let mut args = vec![
        "train".to_string(),
        "--dataset".into(),
        dataset,
        "--backend".into(),
        backend.clone(),
    ];
    args.extend(flags);
    experiments(&backend, libtorch.as_ref(), &args)
}

/// `cargo xtask compare`: checks the backend and every dataset of the suite, then
/// `experiments compare`.
fn compare(suite: String, backend: String, flags: Vec<String>) -> Result<()> {
    let libtorch = LibTorch::find()?;
    let backend = resolve_backend(&backend, libtorch.as_ref())?;
    let dir = data::data_dir(data_dir_flag(&flags).as_deref());
    for dataset in suite_datasets(&suite)? {
        check_dataset(&dataset, &dir)?;
    }
    let mut args = vec![
        "compare".to_string(),
        suite,
        "--backend".into(),
        backend.clone(),
    ];
    args.extend(flags);
    experiments(&backend, libtorch.as_ref(), &args)
}

/// `cargo xtask datasets`: the catalogue, and where each dataset is on disk.
fn datasets(data_dir: Option<&Path>) -> Result<()> {
    let dir = data::data_dir(data_dir);
    println!("data directory: {}", dir.display());
    for spec in data::DATASETS {
        let found = spec
            .name
            .parse::<data::DatasetKind>()
            .ok()
            .and_then(|kind| data::locate(&kind, &dir).ok());
        let state = if found.is_some() { "on disk" } else { "-" };
        println!("{:<16} {:<8} {}", spec.name, state, spec.files[0].url);
    }
    println!(
        "embedded: Fashion-MNIST test set (10,000 images, {})",
        data::EMBEDDED_FASHION_MNIST_DIR
    );
    Ok(())
}

/// `cargo xtask gpu-check`: the stripped release binary, the script and the PyTorch reference
/// in target/gpu-check/, run there if asked.
fn gpu_check(features: &str, run: bool) -> Result<()> {
    let libtorch = LibTorch::find()?;
    for feature in features.split(',') {
        resolve_backend(feature.trim(), libtorch.as_ref())?;
    }
    let status = cargo_with(libtorch.as_ref())
        .args([
            "build",
            "--release",
            "-p",
            "experiments",
            "--no-default-features",
        ])
        .args(["--features", features])
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("the release build for {features} failed ({status})");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("target/gpu-check");
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let copy = |from: &Path, to: &str| -> Result<()> {
        std::fs::copy(from, out.join(to))
            .with_context(|| format!("cannot copy {}", from.display()))?;
        Ok(())
    };
    copy(&root.join("target/release/experiments"), "experiments")?;
    copy(&root.join("scripts/gpu-check.sh"), "gpu-check.sh")?;
    copy(
        &root.join("crates/models/benches/torch_resnet18.py"),
        "torch_resnet18.py",
    )?;
    let binary = out.join("experiments");
    match Command::new("strip").arg(&binary).status() {
        Ok(s) if s.success() => {}
        _ => eprintln!("warning: could not strip {}", binary.display()),
    }
    // The Vulkan loader, for GPU machines without one (the NVIDIA driver brings the ICD).
    let loader = Path::new("/usr/lib/x86_64-linux-gnu/libvulkan.so.1");
    if loader.exists() {
        std::fs::create_dir_all(out.join("vulkan-lib"))?;
        copy(loader, "vulkan-lib/libvulkan.so.1")?;
    }
    println!(
        "GPU check ready in {}: copy it to the GPU machine and run ./gpu-check.sh",
        out.display()
    );
    if run {
        let status = Command::new(out.join("gpu-check.sh"))
            .status()
            .context("cannot run gpu-check.sh")?;
        if !status.success() {
            bail!("gpu-check.sh failed ({status})");
        }
    }
    Ok(())
}
