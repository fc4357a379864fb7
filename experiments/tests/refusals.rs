//! Nothing already written is lost: every way `train` and `compare` refuse an existing run or
//! suite directory leaves it byte for byte as it was (its `.lock` file aside, which names the
//! last process that held it), and a run whose newest checkpoint does not load continues from
//! the newest one that does, to the same metrics as a run never interrupted.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use study::run_dir::{RunStatus, read_summary};

const BIN: &str = env!("CARGO_BIN_EXE_experiments");

fn experiments(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// Every file under `dir` but the lock file, with its bytes (directories as empty entries).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            files.insert(path.clone(), Vec::new());
            for entry in fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if path.file_name().is_some_and(|n| n != ".lock") {
            // A FIFO is recorded as one, not read (a read would wait for a writer).
            let bytes = match path.is_file() {
                true => fs::read(&path).unwrap(),
                false => b"<not a regular file>".to_vec(),
            };
            files.insert(path.clone(), bytes);
        }
    }
    files
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        match entry.path().is_dir() {
            true => copy_dir(&entry.path(), &target),
            false => drop(fs::copy(entry.path(), target).unwrap()),
        }
    }
}

/// Runs `args` in `cwd`, expects a refusal whose stderr holds `says`, and that `dir` is
/// unchanged.
fn refused(case: &str, args: &[&str], cwd: &Path, dir: &Path, says: &str) {
    let before = snapshot(dir);
    let output = experiments(args, cwd);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{case}: accepted: {output:?}");
    assert!(stderr.contains(says), "{case}: `{says}` not in: {stderr}");
    assert!(
        stderr.lines().last().unwrap_or("").starts_with("error")
            || stderr.contains("\nerror:")
            || stderr.starts_with("error:"),
        "{case}: no error line: {stderr}"
    );
    assert!(snapshot(dir) == before, "{case}: {} changed", dir.display());
}

fn train_args<'a>(out: &'a str, seed: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--out",
        out,
        "--backend",
        "flex",
        "--no-dashboard",
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
        seed,
    ]
}

/// `dir` as a run killed after epoch 2's checkpoint (burn-train keeps the last two epochs'):
/// no summary, no checkpoint of epoch 3.
fn interrupted_copy(finished: &Path, dir: &Path) {
    copy_dir(finished, dir);
    fs::remove_file(dir.join("summary.json")).unwrap();
    for kind in ["model", "optim", "scheduler"] {
        fs::remove_file(dir.join("checkpoint").join(format!("{kind}-3.mpk"))).unwrap();
    }
}

#[test]
fn every_refusal_of_a_run_directory_leaves_it_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let path = |name: &str| cwd.join(name);
    let (a, b) = (path("a"), path("b"));
    for (dir, seed) in [(&a, "1"), (&b, "2")] {
        let output = experiments(&train_args(dir.to_str().unwrap(), seed), cwd);
        assert!(output.status.success(), "{output:?}");
    }
    let resume = |dir: &Path| {
        ["train", "--resume", "--no-dashboard", "--out"]
            .into_iter()
            .map(str::to_string)
            .chain([dir.to_str().unwrap().to_string()])
            .collect::<Vec<_>>()
    };
    let run = |case: &str, dir: &Path, args: &[String], says: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(case, &args, cwd, dir, says);
    };
    let ckpt = |dir: &Path, kind: &str, epoch: usize| {
        dir.join("checkpoint").join(format!("{kind}-{epoch}.mpk"))
    };
    let owned = |v: Vec<&str>| v.into_iter().map(str::to_string).collect::<Vec<_>>();

    let a_str = a.to_str().unwrap();
    run(
        "finished, no --resume",
        &a,
        &owned(train_args(a_str, "1")),
        "finished run",
    );

    let i = path("interrupted");
    interrupted_copy(&a, &i);
    let i_str = i.to_str().unwrap();
    run(
        "interrupted, no --resume",
        &i,
        &owned(train_args(i_str, "1")),
        "--resume",
    );
    let mut with_flags = resume(&i);
    with_flags.extend(["--epochs".into(), "4".into()]);
    run(
        "--resume with flags",
        &i,
        &with_flags,
        "drop the config flags",
    );

    // A negative number is the flag's value (clap read `-1` as an unknown flag).
    let negative = path("negative");
    fs::create_dir(&negative).unwrap();
    let mut args = owned(train_args(negative.to_str().unwrap(), "1"));
    args.extend(["--lr-max".into(), "-1".into()]);
    run(
        "a negative learning rate",
        &negative,
        &args,
        "field `lr_max`",
    );

    // A FIFO where a config file is expected: refused by name (reading it blocked forever).
    let fifo = path("config.toml");
    if Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        let mut args = owned(train_args(negative.to_str().unwrap(), "1"));
        args.extend(["--config".into(), fifo.to_str().unwrap().into()]);
        run(
            "a FIFO as the config",
            &negative,
            &args,
            "not a regular file",
        );
    }

    let edited = path("edited");
    interrupted_copy(&a, &edited);
    let config = fs::read_to_string(edited.join("config.json")).unwrap();
    fs::write(
        edited.join("config.json"),
        config.replace("\"lr_max\": 0.05", "\"lr_max\": 0.2"),
    )
    .unwrap();
    run(
        "config.json edited",
        &edited,
        &resume(&edited),
        "field `lr_max`",
    );

    let truncated = path("truncated");
    interrupted_copy(&a, &truncated);
    let model = ckpt(&truncated, "model", 2);
    let bytes = fs::read(&model).unwrap();
    fs::write(&model, &bytes[..1000]).unwrap();
    run(
        "only checkpoint truncated",
        &truncated,
        &resume(&truncated),
        "no checkpoint that loads",
    );

    // A parameter id with a byte no id holds (Burn's decoder panics on it; found by fuzzing).
    let bad_id = path("bad-id");
    interrupted_copy(&a, &bad_id);
    let model = ckpt(&bad_id, "model", 2);
    let mut bytes = fs::read(&model).unwrap();
    let at = bytes.windows(3).position(|w| w == b"\xa2id").unwrap() + 4;
    bytes[at + 3] = 0x01;
    fs::write(&model, &bytes).unwrap();
    run(
        "invalid parameter id",
        &bad_id,
        &resume(&bad_id),
        "no checkpoint that loads",
    );

    let missing = path("missing");
    interrupted_copy(&a, &missing);
    fs::remove_dir_all(missing.join("checkpoint")).unwrap();
    run(
        "checkpoints deleted",
        &missing,
        &resume(&missing),
        "no checkpoint that loads",
    );

    // Nothing but `metrics.csv` and `sessions.json` left of the trained epochs: still progress.
    let records_only = path("records-only");
    interrupted_copy(&a, &records_only);
    fs::remove_dir_all(records_only.join("checkpoint")).unwrap();
    for split in ["train", "valid"] {
        fs::remove_dir_all(records_only.join(split)).unwrap();
    }
    run(
        "only the records of trained epochs",
        &records_only,
        &resume(&records_only),
        "metrics.csv holds 3 epoch(s)",
    );
    fs::remove_file(records_only.join("metrics.csv")).unwrap();
    run(
        "only the sessions of trained epochs",
        &records_only,
        &resume(&records_only),
        "sessions.json records",
    );
    fs::write(records_only.join("checkpoint"), b"").unwrap();
    run(
        "`checkpoint` is a file",
        &records_only,
        &resume(&records_only),
        "`checkpoint` is not a folder",
    );

    let unnamed = path("no-model-files");
    interrupted_copy(&a, &unnamed);
    fs::remove_file(ckpt(&unnamed, "model", 2)).unwrap();
    run(
        "the only checkpoint's model file missing",
        &unnamed,
        &resume(&unnamed),
        "model-2.mpk is missing",
    );

    let no_fingerprint = path("no-fingerprint");
    interrupted_copy(&a, &no_fingerprint);
    fs::remove_file(no_fingerprint.join("fingerprint.json")).unwrap();
    run(
        "no fingerprint",
        &no_fingerprint,
        &resume(&no_fingerprint),
        "no fingerprint.json",
    );

    let not_a_file = path("not-a-file");
    interrupted_copy(&a, &not_a_file);
    let model = ckpt(&not_a_file, "model", 2);
    fs::remove_file(&model).unwrap();
    fs::create_dir(&model).unwrap();
    run(
        "checkpoint is a folder",
        &not_a_file,
        &resume(&not_a_file),
        "is a folder, where checkpoint files are written",
    );

    let swapped = path("swapped");
    interrupted_copy(&a, &swapped);
    for kind in ["model", "optim", "scheduler"] {
        fs::copy(ckpt(&b, kind, 2), ckpt(&swapped, kind, 2)).unwrap();
    }
    run(
        "checkpoint of another run",
        &swapped,
        &resume(&swapped),
        "belongs to another run",
    );

    let mixed = path("mixed");
    interrupted_copy(&a, &mixed);
    fs::copy(ckpt(&b, "optim", 2), ckpt(&mixed, "optim", 2)).unwrap();
    run(
        "optimizer of another run",
        &mixed,
        &resume(&mixed),
        "optimizer state of another run",
    );
}

/// What the command-line campaign (`cargo xtask fuzz`, `cli-*` targets) found, each refused
/// before anything is written, or left alone.
#[test]
fn what_the_command_line_campaign_found_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let a = cwd.join("a");
    let output = experiments(&train_args(a.to_str().unwrap(), "1"), cwd);
    assert!(output.status.success(), "{output:?}");
    let resume = |dir: &Path| -> Vec<String> {
        own([
            "train",
            "--resume",
            "--backend",
            "flex",
            "--no-dashboard",
            "--out",
        ])
        .into_iter()
        .chain([dir.to_str().unwrap().to_string()])
        .collect()
    };
    let case = |name: &str, damage: &dyn Fn(&Path), says: &str| {
        let dir = cwd.join(name);
        interrupted_copy(&a, &dir);
        damage(&dir);
        refused(name, &refs(&resume(&dir)), cwd, &dir, says);
    };
    let fifo = |path: &Path| {
        let _ = fs::remove_file(path);
        assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
    };
    // A FIFO in a checkpoint: named, never opened (it blocked the reader).
    case(
        "a FIFO checkpoint file",
        &|d| fifo(&d.join("checkpoint/optim-2.mpk")),
        "optim-2.mpk: is not a regular file",
    );
    case(
        "a FIFO epoch log",
        &|d| fifo(&d.join("valid/epoch-1/Accuracy.log")),
        "not a regular file",
    );
    case(
        "a damaged sessions.json",
        &|d| fs::write(d.join("sessions.json"), "{\"sessions\": [}").unwrap(),
        "sessions.json",
    );
    case(
        "an empty training-loss log",
        &|d| fs::write(d.join("train/epoch-1/Loss.log"), "").unwrap(),
        "epoch 1 are not in its logs",
    );
    case(
        "a folder where metrics.csv is written",
        &|d| {
            fs::remove_file(d.join("metrics.csv")).unwrap();
            fs::create_dir(d.join("metrics.csv")).unwrap();
        },
        "is a folder, where the run writes a file",
    );
    // An ended run whose last checkpoint is damaged is not trained again.
    let ended = cwd.join("ended");
    copy_dir(&a, &ended);
    fs::write(ended.join("checkpoint/model-3.mpk"), b"").unwrap();
    let before = snapshot(&ended);
    let output = experiments(&refs(&resume(&ended)), cwd);
    assert!(output.status.success(), "{output:?}");
    assert!(snapshot(&ended) == before, "an ended run was changed");
    // A check writes nothing, not even the run directory.
    let fresh = cwd.join("fresh");
    let mut check = train_args(fresh.to_str().unwrap(), "1");
    check.push("--check");
    let output = experiments(&check, cwd);
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("nothing written"));
    assert!(!fresh.exists(), "a check created the run directory");
    // A usage error quotes a 100 kB argument shortened.
    let long = "x".repeat(100_000);
    let output = experiments(&["train", "--check", &long], cwd);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stderr.len() < 4_000, "{} bytes", output.stderr.len());
}

#[test]
fn a_run_continues_from_the_newest_checkpoint_that_loads_to_the_same_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let a = cwd.join("a");
    let output = experiments(&train_args(a.to_str().unwrap(), "1"), cwd);
    assert!(output.status.success(), "{output:?}");
    // Killed while epoch 3's checkpoint was written: its model file cut short.
    let cut = cwd.join("cut");
    copy_dir(&a, &cut);
    fs::remove_file(cut.join("summary.json")).unwrap();
    let model = cut.join("checkpoint").join("model-3.mpk");
    let bytes = fs::read(&model).unwrap();
    fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let output = experiments(
        &[
            "train",
            "--resume",
            "--no-dashboard",
            "--out",
            cut.to_str().unwrap(),
        ],
        cwd,
    );
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the checkpoint of epoch 3 does not load")
            && stderr.contains("continuing from epoch 2"),
        "{stderr}"
    );
    let summary = read_summary(&cut).unwrap().unwrap();
    assert_eq!(
        (summary.status, summary.resumed_from_epoch),
        (RunStatus::Complete, 2)
    );
    let metrics = |dir: &Path| fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert_eq!(metrics(&a), metrics(&cut));
}

const SUITE: &str = r#"
name = "refusals"
datasets = ["fashion-mnist-embedded"]
seeds = [1]

[recipe]
model = "micro-resnet"
epochs = 1
batch_size = 32
lr_max = 0.05
train_limit = 128
valid_limit = 64

[[optimizers]]
label = "sgd"
spec = "sgd(momentum=0.9)"
"#;

#[test]
fn compare_refuses_a_changed_suite_and_touches_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    let suite = cwd.join("suite.toml");
    fs::write(&suite, SUITE).unwrap();
    let out = cwd.join("out");
    let compare = |file: &Path| {
        own([
            "compare",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--backend",
            "flex",
            "--no-dashboard",
            "--no-report",
        ])
    };
    let first = experiments(&refs(&compare(&suite)), cwd);
    assert!(first.status.success(), "{first:?}");

    let changed = cwd.join("changed.toml");
    fs::write(&changed, SUITE.replace("lr_max = 0.05", "lr_max = 0.2")).unwrap();
    refused(
        "suite recipe changed",
        &refs(&compare(&changed)),
        cwd,
        &out,
        "field `lr_max`",
    );

    let other = cwd.join("other.toml");
    fs::write(&other, SUITE.replace("\"refusals\"", "\"other\"")).unwrap();
    refused(
        "another suite",
        &refs(&compare(&other)),
        cwd,
        &out,
        "holds suite `refusals`",
    );

    // A run directory edited by hand (suite.json unchanged) is refused the same way.
    let run = out
        .join("fashion-mnist-embedded")
        .join("sgd")
        .join("seed-1");
    let config = fs::read_to_string(run.join("config.json")).unwrap();
    fs::write(
        run.join("config.json"),
        config.replace("\"epochs\": 1", "\"epochs\": 2"),
    )
    .unwrap();
    fs::remove_file(run.join("fingerprint.json")).unwrap();
    refused(
        "run edited",
        &refs(&compare(&suite)),
        cwd,
        &out,
        "field `epochs`",
    );

    let broken = cwd.join("broken.toml");
    fs::write(&broken, SUITE.replace("seeds = [1]", "seeds = [1, 1]")).unwrap();
    refused(
        "duplicate seeds",
        &refs(&compare(&broken)),
        cwd,
        &out,
        "a seed appears twice",
    );

    // The report refuses a summary no run writes, and writes no report.
    let summary = run.join("summary.json");
    let text = fs::read_to_string(&summary).unwrap();
    let at = text.find("\"final_valid_accuracy\": ").unwrap() + 24;
    let end = at + text[at..].find(',').unwrap();
    fs::write(&summary, format!("{}150.0{}", &text[..at], &text[end..])).unwrap();
    let report = own(["report", out.to_str().unwrap()]);
    refused(
        "impossible accuracy",
        &refs(&report),
        cwd,
        &out,
        "not a percentage",
    );

    for label in [".", "..", ".hidden", &"x".repeat(300)] {
        let bad = cwd.join("bad.toml");
        fs::write(
            &bad,
            SUITE.replace("label = \"sgd\"", &format!("label = \"{label}\"")),
        )
        .unwrap();
        refused(
            "bad label",
            &refs(&compare(&bad)),
            cwd,
            &out,
            "optimizer label",
        );
    }
}

fn own<const N: usize>(args: [&str; N]) -> Vec<String> {
    args.into_iter().map(str::to_string).collect()
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
