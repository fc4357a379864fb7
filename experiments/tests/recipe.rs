//! `train <dataset>` trains the study's recipe for the dataset (the corrected suite's), prints
//! the effective configuration with the source of each field, and saves it; `--recipe` picks
//! another suite or arm; flags override either. Run on a small CIFAR-10 in the real binary
//! format, written here, through the same code path as `cargo xtask train cifar10`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use study::run_dir::{read_config, read_summary};
use study::suite::Suite;

const BIN: &str = env!("CARGO_BIN_EXE_experiments");

/// A CIFAR-10 folder in the official binary layout, `records` images per file (a label byte
/// then 3072 pixel bytes per record).
fn write_cifar10(dir: &Path, records: usize) {
    let folder = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&folder).unwrap();
    let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    std::fs::write(folder.join("batches.meta.txt"), names).unwrap();
    let batch = |seed: usize| -> Vec<u8> {
        let mut bytes = Vec::with_capacity(records * 3073);
        for r in 0..records {
            let label = ((r + seed) % 10) as u8;
            bytes.push(label);
            // Each class a different brightness, so there is something to learn.
            bytes.extend((0..3072).map(|i| (label as usize * 25 + (i * 7 + r) % 20) as u8));
        }
        bytes
    };
    for i in 1..=5 {
        std::fs::write(folder.join(format!("data_batch_{i}.bin")), batch(i)).unwrap();
    }
    std::fs::write(folder.join("test_batch.bin"), batch(0)).unwrap();
}

fn experiments(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn a_dataset_trains_its_recipe_and_says_where_each_field_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    write_cifar10(&data, 40);
    let out = dir.path().join("run");
    let output = experiments(&[
        "train",
        "--dataset",
        "cifar10",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        // Small enough for a CPU test; everything else is the recipe's.
        "--model",
        "micro-resnet",
        "--epochs",
        "1",
        "--train-limit",
        "128",
        "--valid-limit",
        "64",
        "--backend",
        "flex",
        "--no-dashboard",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("effective configuration"), "{stdout}");
    assert!(
        stdout.contains("(recipe cifar10)") && stdout.contains("(flag)"),
        "{stdout}"
    );
    let suite = Suite::load("cifar10").unwrap();
    let config = read_config(&out).unwrap();
    assert_eq!(config.batch_size, suite.recipe.batch_size);
    assert_eq!(config.schedule, suite.recipe.schedule);
    assert_eq!(config.lr_max, suite.recipe.lr_max);
    assert_eq!(config.epochs, 1);
    let sources: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config_sources.json")).unwrap())
            .unwrap();
    assert_eq!(sources["epochs"]["source"], "flag");
    assert_eq!(sources["lr_max"]["source"], "recipe cifar10");
    assert_eq!(sources["dataset"]["source"], "flag");
    let summary = read_summary(&out).unwrap().unwrap();
    let provenance = summary.provenance.unwrap();
    assert_eq!(provenance.burn_version, "0.21.0");
    assert!(summary.total_wall_time_s.unwrap() >= summary.wall_time_s * 0.99);
}

#[test]
fn recipe_arms_and_none_and_bad_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // `--recipe none` on CIFAR-10: the bare defaults; the run stops at the missing data, after
    // printing its configuration.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let args = |recipe: &str| {
        vec![
            "train".to_string(),
            "--dataset".into(),
            "cifar10".into(),
            "--data-dir".into(),
            empty.to_str().unwrap().into(),
            "--out".into(),
            out.to_str().unwrap().into(),
            "--recipe".into(),
            recipe.into(),
        ]
    };
    let run = |recipe: &str| {
        let a = args(recipe);
        experiments(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let none = run("none");
    let stdout = String::from_utf8_lossy(&none.stdout);
    assert!(!stdout.contains("recipe"), "{stdout}");
    let arm = run("seed-cifar10:la-adamw");
    let stdout = String::from_utf8_lossy(&arm.stdout);
    assert!(
        stdout.contains("lookahead(adamw(wd=0.3)")
            && stdout.contains("(recipe seed-cifar10:la-adamw)"),
        "{stdout}"
    );
    let bad = run("seed-cifar10:nope");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && stderr.contains("`nope`"),
        "{stderr}"
    );
    assert!(!out.exists());
}
