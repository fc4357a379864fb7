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
//! cargo xtask bench [--quick]              # every benchmark, one after the other
//! cargo xtask download <dataset>           # official URL, checksum, progress bar, extraction
//! cargo xtask import <dataset> <archive>   # an archive you already have
//! cargo xtask datasets                     # what can be downloaded, and what is on disk
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use libtorch::LibTorch;

mod libtorch;

/// Tasks for lookahead-burn.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
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
    },
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

/// `cargo`, as the one running xtask, in the environment of a plain `cargo` command: without
/// the package variables `cargo run` set for xtask (`CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`, …).
/// ring's build script reruns when they change, so a build through xtask and a build by hand
/// would otherwise rebuild, in turn, everything above ring (LibTorch's bindings, Burn).
fn cargo_command() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_by_cargo_run = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&name.as_ref());
        if set_by_cargo_run {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// `cargo` with LibTorch's environment when it is set up (building the `tch` feature needs it,
/// running its binaries too).
fn cargo_with(libtorch: Option<&LibTorch>) -> Command {
    let mut command = cargo_command();
    if let Some(libtorch) = libtorch {
        libtorch.apply(&mut command);
    }
    command
}

/// Builds the test build (as `cargo xtask test` does) and returns its bench executables: path,
/// package directory, bench name.
fn test_build_benches(libtorch: Option<&LibTorch>) -> Result<Vec<(PathBuf, PathBuf, String)>> {
    let output = cargo_with(libtorch)
        .args([
            "test",
            "--workspace",
            "--features",
            &test_features(libtorch),
            "--all-targets",
        ])
        .args(["--no-run", "--message-format=json-render-diagnostics"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    if !output.status.success() {
        bail!("the test build failed ({})", output.status);
    }
    let mut benches = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let target = &message["target"];
        let is_bench = target["kind"]
            .as_array()
            .is_some_and(|kinds| kinds.iter().any(|k| k == "bench"));
        if let (true, Some(exe), Some(name), Some(manifest)) = (
            is_bench,
            message["executable"].as_str(),
            target["name"].as_str(),
            message["manifest_path"].as_str(),
        ) {
            let dir = Path::new(manifest).parent().unwrap_or(Path::new("."));
            benches.push((PathBuf::from(exe), dir.to_path_buf(), name.to_string()));
        }
    }
    Ok(benches)
}

fn cargo(args: &[&str]) -> Result<()> {
    let mut command = cargo_command();
    let status = command
        .args(args)
        .status()
        .with_context(|| format!("cannot run `{}`", command.get_program().display()))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// The features of the test build: `experiments` with every backend that runs here: flex and
/// ndarray (its defaults), wgpu (on a Vulkan driver), and tch when LibTorch is set up. CUDA's
/// code compiles without a GPU or a toolkit but cannot run here: `lint` checks it.
fn test_features(libtorch: Option<&LibTorch>) -> String {
    with_tch("experiments/wgpu", libtorch)
}

/// The features `lint` checks: every backend that compiles here.
fn lint_features(libtorch: Option<&LibTorch>) -> String {
    with_tch(
        "experiments/ndarray,experiments/wgpu,experiments/cuda",
        libtorch,
    )
}

/// `features`, and `experiments/tch` when LibTorch is set up.
fn with_tch(features: &str, libtorch: Option<&LibTorch>) -> String {
    match libtorch {
        Some(_) => format!("{features},experiments/tch"),
        None => features.to_string(),
    }
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

/// Checks that wgpu can find a Vulkan driver (Linux), and returns XDG_RUNTIME_DIR to set when
/// it is unset (wgpu's Vulkan loader warns without one).
fn wgpu_environment() -> Result<Option<PathBuf>> {
    if cfg!(target_os = "linux") {
        let from_env = ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        let folders = [
            "/usr/share/vulkan/icd.d",
            "/etc/vulkan/icd.d",
            "/usr/local/share/vulkan/icd.d",
        ];
        let installed = folders.iter().any(|folder| {
            std::fs::read_dir(folder).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| e.path().extension().is_some_and(|x| x == "json"))
            })
        });
        if !from_env && !installed {
            bail!(
                "no Vulkan driver found (no ICD file in {}), and the wgpu tests need one. \
                 Without a GPU, install Mesa's software driver: `sudo apt-get install -y \
                 mesa-vulkan-drivers`. Or run the CPU backends' tests only: `cargo test \
                 --workspace`",
                folders.join(", ")
            );
        }
    }
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return Ok(None);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/xdg-runtime");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot restrict {}", dir.display()))?;
    }
    Ok(Some(dir))
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

/// Runs cargo (with LibTorch's environment when set up), echoing its stderr, and returns its
/// stdout.
fn cargo_output(libtorch: Option<&LibTorch>, args: &[&str]) -> Result<String> {
    let mut command = cargo_with(libtorch);
    let output = command
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run `{}`", command.get_program().display()))?;
    if !output.status.success() {
        bail!("`cargo {}` failed ({})", args.join(" "), output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The figures users look for in one bench's output: training images/s per backend, the
/// Lookahead/inner step ratios, the data pipeline's images/s.
fn bench_summary(bench: &str, output: &str) -> Vec<(String, String)> {
    let last = |line: &str| line.split_whitespace().last().unwrap_or("").to_string();
    let second = |line: &str| line.split_whitespace().nth(1).unwrap_or("").to_string();
    output
        .lines()
        .filter_map(|line| match bench {
            "throughput" => ["tch", "flex", "ndarray", "pytorch"]
                .into_iter()
                .find(|b| line.starts_with(&format!("{b} ")))
                .map(|b| {
                    (
                        format!("CIFAR ResNet-18 training, images/s, {b}"),
                        second(line),
                    )
                }),
            "profile" => line.starts_with("whole step").then(|| {
                (
                    "CIFAR ResNet-18 step, ms per step (columns as in the profile table)"
                        .to_string(),
                    line.split_whitespace()
                        .skip(2)
                        .step_by(2)
                        .collect::<Vec<_>>()
                        .join(" / "),
                )
            }),
            "step" => line.starts_with("Lookahead").then(|| {
                (
                    format!(
                        "optimizer step ratio, {} / inner",
                        line[..26.min(line.len())].trim()
                    ),
                    last(line),
                )
            }),
            "pipeline" => {
                (line.starts_with("CIFAR") || line.starts_with("Imagenette")).then(|| {
                    (
                        format!("data: {}, images/s", line[..58.min(line.len())].trim()),
                        last(line),
                    )
                })
            }
            _ => None,
        })
        .collect()
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
        Task::Report { dir } => {
            print!("{}", study::report::report(&dir)?);
            Ok(())
        }
        Task::GpuCheck { features, run } => gpu_check(&features, run),
        Task::Bench { quick, dev } => bench(quick, dev),
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
        command.args(["test", "--workspace", "--features", &features, targets]);
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

/// `cargo xtask bench`: the three benches one after the other, then a summary of their figures.
fn bench(quick: bool, dev: bool) -> Result<()> {
    let libtorch = LibTorch::find()?;
    let benches = if dev {
        test_build_benches(libtorch.as_ref())?
    } else {
        Vec::new()
    };
    // Release benches: the default backends, and tch (the throughput bench's LibTorch row).
    let features = if libtorch.is_some() {
        "experiments/tch"
    } else {
        ""
    };
    let mut summary = Vec::new();
    // lookahead-optim's optimizer step, models' training throughput and its profile by op
    // family, data's pipeline.
    for bench in ["step", "throughput", "profile", "pipeline"] {
        let output = if dev {
            run_test_build_bench(&benches, bench, quick, libtorch.as_ref())?
        } else {
            // `--workspace` resolves features as for the whole workspace, so the three
            // benches share one release build of the dependencies.
            let mut args = vec!["bench", "--workspace", "--bench", bench];
            if !features.is_empty() {
                args.extend(["--features", features]);
            }
            if quick {
                args.extend(["--", "--quick"]);
            }
            cargo_output(libtorch.as_ref(), &args)?
        };
        print!("{output}");
        summary.extend(bench_summary(bench, &output));
    }
    println!("\n== summary: this machine, one run (ratios are measured side by side)");
    for (what, figure) in summary {
        println!("{what:<64} {figure:>14}");
    }
    Ok(())
}

/// Runs bench `bench` of the test build as `cargo bench` would, returning its stdout.
fn run_test_build_bench(
    benches: &[(PathBuf, PathBuf, String)],
    bench: &str,
    quick: bool,
    libtorch: Option<&LibTorch>,
) -> Result<String> {
    let Some((exe, dir)) = benches
        .iter()
        .find(|(_, _, n)| n == bench)
        .map(|(e, d, _)| (e, d))
    else {
        bail!("the test build has no bench `{bench}`");
    };
    let mut command = Command::new(exe);
    if let Some(libtorch) = libtorch {
        libtorch.apply(&mut command);
    }
    command.arg("--bench").current_dir(dir);
    if quick {
        command.arg("--quick");
    }
    let output = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    if !output.status.success() {
        bail!("bench `{bench}` failed ({})", output.status);
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
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
