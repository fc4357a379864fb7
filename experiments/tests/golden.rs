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
//! files had just passed. A machine whose level has no folder fails, naming the folder; to add one, run
//! the test with `LOOKAHEAD_WRITE_GOLDEN=1` on a commit that passes on another level.
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

/// The folder of golden files for this machine's SIMD level (see the module's doc).
fn golden_folder() -> PathBuf {
    let level = format!("{:?}", macerator::Arch::new()).to_lowercase();
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{}-{level}", std::env::consts::ARCH))
}

#[test]
fn the_same_seed_gives_the_committed_bytes() {
    let golden = golden_folder();
    let write = std::env::var_os("LOOKAHEAD_WRITE_GOLDEN").is_some();
    assert!(
        write || golden.is_dir(),
        "no golden files for this CPU's SIMD level: {} is missing (write it with \
         LOOKAHEAD_WRITE_GOLDEN=1 on a commit that passes on another level)",
        golden.display()
    );
    let dir = tempfile::tempdir().unwrap();
    // The committed data set is found relative to the working directory.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (name, flags) in RUNS {
        let out = dir.path().join(name);
        let output = Command::new(BIN)
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
            assert_eq!(got, expected, "{name}/{file} differs from tests/golden");
        }
    }
}
