//! CI's smoke run of the fuzzer: a few hundred inputs of every target, no finding. (The long
//! run is `cargo xtask fuzz -- --execs 1000000`.) The command-line targets run the
//! `experiments` binary beside the fuzzer's, which `cargo test --workspace` builds.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn every_target_runs_a_few_hundred_inputs_without_a_finding() {
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_fuzz"))
        .args(["run", "--execs", "300", "--seed", "7", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    let targets = [
        "spec",
        "config",
        "suite",
        "idx",
        "cifar",
        "cifar-archive",
        "imagenette",
        "image-cache",
        "run-dir",
        "report",
        "checkpoint",
        "cli-flags",
        "cli-config",
        "cli-suite",
        "cli-data",
        "cli-run-dir",
    ];
    for name in targets {
        let row = summary
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap();
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[2], "300", "{row}");
        assert_eq!(cells[5], "0", "{row}");
        // Both outcomes occur: the mutants reach past the first check, and get refused.
        assert!(cells[3] != "0" && cells[4] != "0", "{row}");
    }
}
