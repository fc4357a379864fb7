//! A write that fails never loses work: at every file a run writes (checkpoints, metric logs,
//! sessions, metrics, losses, summary, final weights, TensorBoard events, config, fingerprint)
//! a write error as a full disk gives it (injected through `data::FAULT_ENV`: "No space left on
//! device") ends the session with one error naming the file and the reason, no panic in any
//! thread, and `--resume` once the cause is gone ends with the uninterrupted run's
//! `metrics.csv`, byte for byte; and a run killed at each of those writes resumes to it too.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_experiments");

fn train(dir: &Path, fault: Option<&str>, resume: bool) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("train")
        .arg("--out")
        .arg(dir)
        .arg("--no-dashboard");
    // Flex on resume too: a session that failed before `backend.json` was written leaves no
    // record of it, and the default backend (LibTorch where it is compiled in) trains differently.
    command.args(["--backend", "flex"]);
    match resume {
        true => command.arg("--resume"),
        false => command.args([
            "--model",
            "micro-resnet",
            "--epochs",
            "3",
            "--batch-size",
            "32",
            "--train-limit",
            "256",
            "--valid-limit",
            "64",
            "--seed",
            "3",
        ]),
    };
    command.env_remove(data::FAULT_ENV);
    if let Some(part) = fault {
        command.env(data::FAULT_ENV, part);
    }
    command.output().unwrap()
}

/// Every file a run writes, by a part of its path.
const POINTS: [&str; 13] = [
    "checkpoint/model-2.mpk",
    "checkpoint/optim-2.mpk",
    "checkpoint/scheduler-3.mpk",
    "train/epoch-2/Loss.log",
    "valid/epoch-3/Accuracy.log",
    "sessions.json",
    "metrics.csv",
    "train_loss.csv",
    "summary.json",
    "model.mpk",
    "events.out.tfevents",
    "config.json",
    "fingerprint.json",
];

/// The uninterrupted run's `metrics.csv`, from a run in `tmp`.
fn reference(tmp: &Path) -> Vec<u8> {
    let reference = tmp.join("reference");
    let done = train(&reference, None, false);
    assert!(done.status.success(), "{done:?}");
    std::fs::read(reference.join("metrics.csv")).unwrap()
}

/// Resumes the run in `dir` (or starts it again when the fault came before its config was
/// written) and requires the uninterrupted run's `metrics.csv`.
fn resume_to_the_same_metrics(dir: &Path, expected: &[u8], point: &str) {
    let resumed = match dir.join("config.json").exists() {
        true => train(dir, None, true),
        false => train(dir, None, false),
    };
    assert!(resumed.status.success(), "{point}: {resumed:?}");
    let metrics = std::fs::read(dir.join("metrics.csv")).unwrap();
    assert!(
        metrics == expected,
        "{point}: metrics.csv differs from the uninterrupted run's"
    );
}

#[test]
fn every_write_point_fails_cleanly_and_resumes_to_the_same_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let expected = reference(tmp.path());
    for (i, point) in POINTS.iter().enumerate() {
        let dir = tmp.path().join(format!("run-{i}"));
        let failed = train(&dir, Some(point), false);
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(!failed.status.success(), "{point}: accepted: {stderr}");
        let file = Path::new(point).file_name().unwrap().to_string_lossy();
        assert!(
            stderr.contains(&*file) && stderr.contains("No space left on device"),
            "{point}: the error does not name the file and the reason: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{point}: a panic: {stderr}");
        resume_to_the_same_metrics(&dir, &expected, point);
    }
}

/// A run killed (SIGKILL) at each write point, its temporary file written and not renamed,
/// resumes to the uninterrupted run's `metrics.csv`, byte for byte.
#[test]
fn a_run_killed_at_every_write_point_resumes_to_the_same_metrics() {
    use std::os::unix::process::ExitStatusExt;
    let tmp = tempfile::tempdir().unwrap();
    let expected = reference(tmp.path());
    for (i, point) in POINTS.iter().enumerate() {
        let dir = tmp.path().join(format!("killed-{i}"));
        let killed = train(&dir, Some(&format!("kill:{point}")), false);
        assert_eq!(
            killed.status.signal(),
            Some(9),
            "{point}: not killed: {killed:?}"
        );
        resume_to_the_same_metrics(&dir, &expected, point);
    }
}
