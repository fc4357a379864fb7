//! Shards of one suite in one directory: two `compare` processes with other seeds (and a
//! third with an overlapping slice) run at once into the same `--out`; every run ends complete
//! exactly once, and the report merges them all.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};

use study::run_dir::{RunStatus, read_summary};
use study::suite::read_suite_json;

const BIN: &str = env!("CARGO_BIN_EXE_experiments");

const SUITE: &str = r#"
name = "shards"
datasets = ["fashion-mnist-embedded"]
seeds = [1, 2]
baseline = "sgd"

[recipe]
model = "micro-resnet"
epochs = 1
batch_size = 32
lr_max = 0.05
train_limit = 256
valid_limit = 128

[[optimizers]]
label = "sgd"
spec = "sgd(momentum=0.9)"

[[optimizers]]
label = "la-sgd"
spec = "lookahead(sgd(momentum=0.9), k=5, alpha=0.5)"
"#;

#[test]
fn shards_of_a_suite_share_one_directory() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("shards.toml");
    std::fs::write(&suite, SUITE).unwrap();
    let out = dir.path().join("out");
    let shard = |extra: &[&str]| {
        let mut args = vec![
            "compare",
            suite.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--backend",
            "flex",
            "--no-dashboard",
            "--no-report",
        ];
        args.extend_from_slice(extra);
        Command::new(BIN)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [
        shard(&["--seeds", "1"]),
        shard(&["--seeds", "2"]),
        shard(&["--only", "sgd"]),
    ];
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
    }
    assert_eq!(read_suite_json(&out).unwrap().name, "shards");
    for label in ["sgd", "la-sgd"] {
        for seed in [1, 2] {
            let run = out
                .join("fashion-mnist-embedded")
                .join(label)
                .join(format!("seed-{seed}"));
            let summary = read_summary(&run).unwrap().unwrap();
            assert_eq!(summary.status, RunStatus::Complete, "{label} {seed}");
            // Its configuration's sources: the suite's arm.
            let sources = std::fs::read_to_string(run.join("config_sources.json")).unwrap();
            assert!(
                sources.contains(&format!("recipe shards:{label}")),
                "{sources}"
            );
            // Trained once: one session, never resumed by a second writer.
            let sessions = study::run_dir::Sessions::read(&run).unwrap();
            assert_eq!(sessions.sessions.len(), 1, "{label} {seed}: {sessions:?}");
        }
    }
    let report = Command::new(BIN)
        .args(["report", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(report.status.success(), "{report:?}");
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(results.matches(",Complete,").count(), 4, "{results}");
}
