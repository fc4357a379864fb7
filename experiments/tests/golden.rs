//! Same seed, same bytes, across refactorings: short runs whose `metrics.csv` and
//! `train_loss.csv` must equal, byte for byte, the files committed in `tests/golden/`, which were
//! written by the code before the typed-config/typed-pullback refactoring (issue 11). Each run
//! covers another path: plain SGD, Lookahead with Pullback over SGD (momentum read through Burn's
//! record item), Adam with mixup, RMSProp with momentum, Ranger, AdamW with Reset and FlatCos,
//! and (added with issue 12) the seed study's fastai v1 mechanics. Issue 12 appended two columns
//! to `metrics.csv` (`train_loss_smoothed`, `valid_top5_accuracy`); the six before them and
//! every `train_loss.csv` were checked byte-identical to the earlier files when they were added.
//! Issue 14 regenerated every file once, on purpose: `models::batch_norm` replaced Burn's
//! BatchNorm forward (the same function, another float rounding: losses moved in the 7th digit,
//! accuracies not at all).
//!
//! The bytes depend on the CPU's SIMD level: Flex's elementwise kernels and reductions run at the
//! widest level macerator finds at run time (x86-64: V3 = AVX2, V4 = AVX-512), and the lane count
//! changes the order of float sums. So the files sit in one folder per level,
//! `tests/golden/<arch>-<level>/` (`x86_64-v3`, `x86_64-v4`). The V4 files were added when a
//! machine with AVX-512 first ran the test (issue 15's stop), written by the commit whose V3
//! files had just passed. A machine whose level has no folder (an older x86-64, ARM) compares
//! its runs with the nearest level's files instead, every number within 5 % relative and the
//! epoch/iteration columns and learning rates exactly, and says so: the two committed levels
//! differ from each other by up to 2.8 % (train accuracy), 1.9 % (valid loss) and 1.4 %
//! (per-iteration loss). To add a level's own files, run the test with
//! `LOOKAHEAD_WRITE_GOLDEN=1` on a commit that passes on another level.
//!
//! A lower level's files can be written on a higher-level machine under QEMU's user-mode
//! emulator, which offers the CPU model's features only: the test process and each run under
//! `qemu-x86_64 -cpu Haswell` see AVX2 without AVX-512 (`docs/development.md` has the command;
//! `$LOOKAHEAD_GOLDEN_RUNNER` puts the runs under it). The convolution kernels of the patched
//! Flex (`vendor/burn-flex`) changed both levels' bytes; both folders were rewritten on an
//! AVX-512 machine, V3 under QEMU 7.2, after the commit before it had reproduced the V3 files of
//! a real AVX2 machine byte for byte under the same emulation. BatchNorm's running variance made
//! unbiased (PyTorch's) moved every validation column of both levels (training columns and
//! `train_loss.csv` unchanged on V4); the V3 folder was rewritten under the same emulation, where
//! its `train_loss.csv` files moved too from the second iteration on: the V3 path had drifted
//! with the commit before (its im2col/col2im bounds change was checked on V4 only), which no
//! real AVX2 machine has checked since.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_experiments");

/// (name, extra flags) of each golden run.
const RUNS: &[(&str, &[&str])] = &[
    ("sgd", &["--optimizer", "sgd(momentum=0.9)"]),
    (
        "la-sgd-pullback",
        &[
            "--optimizer",
            "lookahead(sgd(momentum=0.9), k=3, alpha=0.5, pullback)",
        ],
    ),
    (
        "la-adam-pullback-mixup",
        &[
            "--optimizer",
            "lookahead(adam, k=3, alpha=0.5, pullback)",
            "--lr-max",
            "0.003",
            "--mixup",
            "0.4",
        ],
    ),
    (
        "la-rmsprop-pullback",
        &[
            "--optimizer",
            "lookahead(rmsprop(momentum=0.9), k=3, alpha=0.5, pullback)",
            "--lr-max",
            "0.001",
        ],
    ),
    ("ranger", &["--optimizer", "ranger", "--lr-max", "0.003"]),
    (
        "seed-mechanics",
        &[
            "--optimizer",
            "lookahead(sgd(momentum=0.9), k=3, zero-moments, theta1)",
            "--schedule",
            "onecycle-v1",
            "--moms",
            "0.95,0.85",
            "--true-weight-decay",
            "0.01",
            "--eval-weights",
            "slow",
            "--transforms",
            "fastai-v1",
            "--flip",
            "false",
        ],
    ),
    (
        "la-adamw-reset-flatcos",
        &[
            "--optimizer",
            "lookahead(adamw, k=3, reset)",
            "--lr-max",
            "0.003",
            "--schedule",
            "flatcos",
        ],
    ),
];

/// The flags every golden run shares: Flex (the bytes were written on it; the default backend is
/// LibTorch when compiled in), micro ResNet, 256 training and 128 validation images of the
/// committed Fashion-MNIST, batch 32, 2 epochs, seed 11.
const COMMON: &[&str] = &[
    "--backend",
    "flex",
    "--model",
    "micro-resnet",
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--train-limit",
    "256",
    "--valid-limit",
    "128",
    "--seed",
    "11",
];

/// The command that runs the binary: itself, or under `$LOOKAHEAD_GOLDEN_RUNNER` (a command and
/// its arguments, split on spaces), e.g. an emulator that offers a lower SIMD level (see
/// `docs/development.md`).
fn runner() -> Command {
    let prefix = std::env::var("LOOKAHEAD_GOLDEN_RUNNER").unwrap_or_default();
    let mut words = prefix.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(BIN);
            command
        }
        None => Command::new(BIN),
    }
}

/// This machine's SIMD level, `<arch>-<level>` (see the module's doc).
fn this_level() -> String {
    let level = format!("{:?}", macerator::Arch::new()).to_lowercase();
    format!("{}-{level}", std::env::consts::ARCH)
}

/// The golden folder to compare with: this level's (exact), else the nearest committed one
/// (within tolerance): the highest level of the same architecture, else any.
fn golden_folder() -> (PathBuf, bool) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let own = root.join(this_level());
    if own.is_dir() {
        return (own, true);
    }
    let mut levels: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    levels.sort();
    let same_arch = levels
        .iter()
        .rev()
        .find(|l| l.starts_with(std::env::consts::ARCH));
    let nearest = same_arch.or(levels.last()).expect("no golden files at all");
    (root.join(nearest), false)
}

/// Whether two CSV texts agree: same header and shape, integer cells (epochs, iterations) and
/// the learning rate equal, every other number within `tolerance` relative.
fn assert_close(got: &str, expected: &str, tolerance: f64, what: &str) {
    let rows = |t: &str| -> Vec<Vec<String>> {
        t.lines()
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let (g, e) = (rows(got), rows(expected));
    assert_eq!(g.len(), e.len(), "{what}: row count");
    assert_eq!(g[0], e[0], "{what}: header");
    for (r, (gr, er)) in g.iter().zip(&e).enumerate().skip(1) {
        for (c, (gc, ec)) in gr.iter().zip(er).enumerate() {
            let column = &e[0][c];
            let exact = column == "lr" || !ec.contains(['.', 'e', 'N']);
            let (Ok(x), Ok(y)) = (gc.parse::<f64>(), ec.parse::<f64>()) else {
                assert_eq!(gc, ec, "{what} row {r} {column}");
                continue;
            };
            if exact {
                assert_eq!(x, y, "{what} row {r} {column}");
            } else {
                let scale = x.abs().max(y.abs()).max(1e-12);
                assert!(
                    (x - y).abs() / scale <= tolerance,
                    "{what} row {r} {column}: {x} vs {y} (more than {tolerance} relative)"
                );
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_committed_bytes() {
    let (golden, exact) = golden_folder();
    let write = std::env::var_os("LOOKAHEAD_WRITE_GOLDEN").is_some();
    let golden = if write {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/golden")
            .join(this_level())
    } else {
        golden
    };
    if !exact && !write {
        eprintln!(
            "no golden files for {}: comparing with {} within 5 % (numbers) instead of byte for \
             byte",
            this_level(),
            golden.display()
        );
    }
    let dir = tempfile::tempdir().unwrap();
    // The committed data set is found relative to the working directory.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (name, flags) in RUNS {
        let out = dir.path().join(name);
        let output = runner()
            .args(["train", "--out", out.to_str().unwrap()])
            .args(COMMON)
            .args(*flags)
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(output.status.success(), "{name}: {output:?}");
        for file in ["metrics.csv", "train_loss.csv"] {
            if write {
                std::fs::create_dir_all(golden.join(name)).unwrap();
                std::fs::copy(out.join(file), golden.join(name).join(file)).unwrap();
            }
            let expected = std::fs::read_to_string(golden.join(name).join(file)).unwrap();
            let got = std::fs::read_to_string(out.join(file)).unwrap();
            if exact || write {
                assert_eq!(got, expected, "{name}/{file} differs from tests/golden");
            } else {
                assert_close(&got, &expected, 0.05, &format!("{name}/{file}"));
            }
        }
    }
}

/// The tolerance path itself, on the two committed levels' files: each agrees with the other
/// within 5 %, and a changed number or a changed epoch column is caught.
#[test]
fn the_nearest_level_is_compared_within_tolerance() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let (v3, v4) = (root.join("x86_64-v3"), root.join("x86_64-v4"));
    for entry in std::fs::read_dir(&v3).unwrap() {
        let name = entry.unwrap().file_name();
        for file in ["metrics.csv", "train_loss.csv"] {
            let a = std::fs::read_to_string(v3.join(&name).join(file)).unwrap();
            let b = std::fs::read_to_string(v4.join(&name).join(file)).unwrap();
            assert_close(&a, &b, 0.05, &format!("{name:?}/{file}"));
        }
    }
    let metrics = std::fs::read_to_string(v3.join("sgd").join("metrics.csv")).unwrap();
    let header = metrics.lines().next().unwrap();
    let row = metrics.lines().nth(1).unwrap();
    let mut cells: Vec<String> = row.split(',').map(str::to_string).collect();
    let loss: f64 = cells[1].parse().unwrap();
    cells[1] = (loss * 1.2).to_string();
    let changed = format!("{header}\n{}\n", cells.join(","));
    let original = format!("{header}\n{row}\n");
    let caught = std::panic::catch_unwind(|| assert_close(&changed, &original, 0.05, "t"));
    assert!(caught.is_err());
}
