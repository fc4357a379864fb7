//! `cargo xtask`: help for every task, and clear errors before any build for an unknown
//! backend, an unknown dataset, or a dataset not on disk.
#![allow(clippy::unwrap_used)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_xtask");

fn xtask(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BIN).args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_task_has_help() {
    for task in [
        vec!["--help"],
        vec!["train", "--help"],
        vec!["compare", "--help"],
        vec!["report", "--help"],
        vec!["download", "--help"],
        vec!["import", "--help"],
        vec!["bench", "--help"],
        vec!["test", "--help"],
        vec!["example", "--help"],
        vec!["datasets", "--help"],
        vec!["gpu-check", "--help"],
    ] {
        let (ok, stdout, _) = xtask(&task);
        assert!(ok && stdout.contains("Usage"), "{task:?}");
    }
}

#[test]
fn bad_backend_or_dataset_fails_before_building() {
    let (ok, _, err) = xtask(&["train", "cifar10", "--backend", "tpu"]);
    assert!(!ok && err.contains("unknown backend `tpu`"), "{err}");
    let (ok, _, err) = xtask(&["train", "mnist", "--backend", "flex"]);
    assert!(!ok && err.contains("unknown dataset `mnist`"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().to_str().unwrap();
    let (ok, _, err) = xtask(&["train", "cifar10", "--backend", "cuda", "--data-dir", dir]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("cargo xtask download cifar10") && err.contains("cargo xtask import cifar10"),
        "{err}"
    );
    let (ok, _, err) = xtask(&["compare", "imagenette", "--data-dir", dir]);
    assert!(
        !ok && err.contains("cargo xtask download imagenette2-160"),
        "{err}"
    );
    // An Imagenette archive that is not extracted is not data `experiments` can read: refused
    // here, before the build, as `experiments` would refuse it after.
    std::fs::write(empty.path().join("imagenette2-160.tgz"), b"not extracted").unwrap();
    let (ok, _, err) = xtask(&[
        "train",
        "imagenette",
        "--backend",
        "flex",
        "--data-dir",
        dir,
    ]);
    assert!(
        !ok && err.contains("cargo xtask import imagenette2-160"),
        "{err}"
    );
    let (ok, _, err) = xtask(&["compare", "no-such-suite"]);
    assert!(!ok && err.contains("no suite `no-such-suite`"), "{err}");
}
