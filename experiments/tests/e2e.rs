//! End to end on the committed Fashion-MNIST (Flex backend, tiny ResNet, a few hundred images):
//! a micro suite through `compare` and `report`, a diverging run, resuming a killed run, same
//! seed twice, a second writer of a directory refused, and configs refused before training.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use experiments::Execution;
use experiments::compare::RunOutcome;
use experiments::lock::DirLock;
use study::run_dir::{RunStatus, Summary, read_summary};
use study::slice::Slice;
use study::suite::Suite;

const BIN: &str = env!("CARGO_BIN_EXE_experiments");

/// The micro recipe: micro ResNet, 1024 training images, 512 validation images, batch 32, 2
/// epochs.
const MICRO: &str = r#"
datasets = ["fashion-mnist-embedded"]
seeds = [1, 2]
baseline = "sgd"

[recipe]
model = "micro-resnet"
epochs = 2
batch_size = 32
lr_max = 0.05
train_limit = 1024
valid_limit = 512

[[optimizers]]
label = "sgd"
spec = "sgd(momentum=0.9)"

[[optimizers]]
label = "la-sgd-reset"
spec = "lookahead(sgd(momentum=0.9), k=5, alpha=0.5, reset)"
"#;

/// A third optimizer for [`MICRO`] whose loss becomes NaN/inf. BatchNorm renormalises huge
/// weights, so a rate like 1e12 (or 1e30) can leave the loss finite on some CPUs; 1e39 is past
/// f32's range, and the classifier's logits overflow on every one.
const ABSURD: &str =
    "\n[[optimizers]]\nlabel = \"sgd-absurd\"\nspec = \"sgd(momentum=0.9)\"\nlr_max = 1e39\n";

/// The micro recipe's flags for `experiments train`.
const MICRO_RUN: &[&str] = &[
    "--model",
    "micro-resnet",
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--train-limit",
    "1024",
    "--valid-limit",
    "512",
    "--lr-max",
    "0.05",
];

fn experiments(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// Runs `experiments train --out <dir>/<name> <args>`, asserts it succeeded, returns its summary.
fn train_summary(dir: &Path, name: &str, args: &[&str]) -> Summary {
    let out = dir.join(name);
    let out = out.to_str().unwrap();
    let mut all = vec!["train", "--out", out];
    all.extend_from_slice(args);
    let output = experiments(&all, dir);
    assert!(output.status.success(), "{name}: {output:?}");
    read_summary(Path::new(out)).unwrap().unwrap()
}

#[test]
fn micro_suite_compares_reports_and_survives_a_diverging_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("micro");
    // A third optimizer with an absurd learning rate (ABSURD).
    let text = format!("name = \"micro\"\n{MICRO}{ABSURD}");
    let suite = Suite::parse(&text, "micro").unwrap();
    let outcomes = experiments::compare(
        &suite,
        &out,
        &Execution::new("flex", &[0]),
        &Slice::default(),
    )
    .unwrap();
    assert_eq!(outcomes.len(), 6);
    for (run, outcome) in &outcomes {
        let summary = read_summary(&run.dir).unwrap().unwrap();
        if run.label == "sgd-absurd" {
            assert_eq!(outcome, &RunOutcome::Finished(RunStatus::Diverged));
            assert_eq!(summary.status, RunStatus::Diverged);
            assert!(summary.message.unwrap().contains("diverged"));
            assert!(summary.divergence.is_some());
        } else {
            assert_eq!(outcome, &RunOutcome::Finished(RunStatus::Complete));
            assert_eq!(summary.epochs_completed, 2);
            let metrics = std::fs::read_to_string(run.dir.join("metrics.csv")).unwrap();
            assert_eq!(metrics.lines().count(), 3, "{metrics}");
            let losses = std::fs::read_to_string(run.dir.join("train_loss.csv")).unwrap();
            assert_eq!(losses.lines().count(), 1 + 2 * 1024 / 32);
            let loss = summary.final_train_loss.unwrap();
            assert!(loss.is_finite() && loss > 0.0 && loss < 2.3, "{loss}");
        }
    }
    let best = outcomes
        .iter()
        .filter_map(|(run, _)| read_summary(&run.dir).unwrap()?.final_valid_accuracy)
        .fold(0.0, f64::max);
    assert!(best > 20.0, "best valid accuracy {best} % (chance: 10 %)");

    // A second compare skips every finished run.
    let again = experiments::compare(
        &suite,
        &out,
        &Execution::new("flex", &[0]),
        &Slice::default(),
    )
    .unwrap();
    assert!(
        again
            .iter()
            .all(|(_, o)| matches!(o, RunOutcome::Skipped(_)))
    );

    // The report, through the binary.
    let output = experiments(&["report", out.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{output:?}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "| sgd | `sgd",
        "| la-sgd-reset |",
        "| sgd-absurd |",
        "What these seeds allow concluding",
        "Code and machine: lookahead-burn",
        "fashion-mnist-embedded_valid_accuracy.svg",
    ] {
        assert!(md.contains(needle), "report lacks `{needle}`:\n{md}");
    }
    let row = md
        .lines()
        .find(|l| l.starts_with("| la-sgd-reset |"))
        .unwrap();
    assert!(row.contains('±'), "{row}");
    let absurd = md
        .lines()
        .find(|l| l.starts_with("| sgd-absurd |"))
        .unwrap();
    // Both diverged runs stay in the sample (n 2, diverged 2): infinite loss (the median shown),
    // chance accuracy.
    assert!(absurd.contains("| 2 | 2 |"), "two diverged runs: {absurd}");
    assert!(absurd.contains("(2 of 2 at ∞: diverged)"), "{absurd}");
    assert!(
        absurd.contains("| 10.00 ± 0.00 |"),
        "chance accuracy: {absurd}"
    );
    for name in ["train_loss", "valid_loss", "valid_accuracy"] {
        let svg = std::fs::read_to_string(out.join(format!("fashion-mnist-embedded_{name}.svg")))
            .unwrap();
        assert!(svg.contains("<svg") && svg.contains("<polyline"), "{name}");
    }
    let results = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(results.lines().count(), 7);
    assert!(results.contains(",Diverged,"));
    let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let sgd = summary.lines().find(|l| l.contains(",sgd,")).unwrap();
    let accuracy: f64 = sgd.split(',').nth(8).unwrap().parse().unwrap();
    assert!(accuracy > 10.0 && accuracy <= 100.0, "{sgd}");
}

fn train_args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "train",
        "--out",
        out,
        "--model",
        "micro-resnet",
        "--epochs",
        "3",
        "--batch-size",
        "32",
        "--train-limit",
        "2048",
        "--valid-limit",
        "256",
        "--mixup",
        "0.4",
        // fastai v1's mechanisms, so that resuming covers them: the seed's Lookahead variant
        // (θ1 start, moments zeroed at syncs), momentum cycling, true weight decay, and
        // validation on the slow weights (k = 3 does not divide the 64 steps of an epoch).
        "--optimizer",
        "lookahead(adam, k=3, alpha=0.5, zero-moments, theta1)",
        "--schedule",
        "onecycle-v1",
        "--moms",
        "0.95,0.85",
        "--true-weight-decay",
        "0.01",
        "--eval-weights",
        "slow",
        "--lr-max",
        "0.003",
        "--seed",
        "7",
    ];
    args.extend_from_slice(extra);
    args
}

/// The CPU backends of the test build that train (Flex always; LibTorch when built with `tch`).
fn cpu_training_backends() -> Vec<&'static str> {
    ["flex", "tch"]
        .into_iter()
        .filter(|b| experiments::backend::compiled_backends().contains(b))
        .collect()
}

/// On each CPU backend of the test build (Flex, and LibTorch when compiled in).
#[test]
fn a_killed_run_resumes_to_the_same_metrics_and_same_seed_repeats() {
    for backend in cpu_training_backends() {
        killed_run_resumes_on(backend);
    }
}

fn killed_run_resumes_on(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (a, b, c) = (path("a"), path("b"), path("c"));
    let on = ["--backend", backend];

    let output = experiments(&train_args(&a, &on), dir.path());
    assert!(output.status.success(), "{backend}: {output:?}");

    // Kill b once epoch 1's checkpoint is written, while epoch 2 trains (SIGKILL: no clean-up).
    let mut child = Command::new(BIN)
        .args(train_args(&b, &on))
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = Path::new(&b).join("checkpoint");
    let start = Instant::now();
    while !(checkpoint.join("model-1.mpk").exists()
        && checkpoint.join("optim-1.mpk").exists()
        && checkpoint.join("scheduler-1.mpk").exists())
    {
        assert!(start.elapsed() < Duration::from_secs(300), "no checkpoint");
        assert!(child.try_wait().unwrap().is_none(), "run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be killed"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(read_summary(Path::new(&b)).unwrap().is_none());
    // The killed process's lock file stays behind; its lock died with it (resumed below).
    assert!(Path::new(&b).join(experiments::lock::LOCK_FILE).exists());

    // Without --resume, the directory is refused (nothing is overwritten).
    let refused = experiments(&train_args(&b, &on), dir.path());
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--resume"));

    // Without --backend, it resumes on the backend it started on (recorded in backend.json),
    // whichever backend is this binary's default.
    let resumed = experiments(&["train", "--resume", "--out", &b], dir.path());
    assert!(resumed.status.success(), "{resumed:?}");
    let summary = read_summary(Path::new(&b)).unwrap().unwrap();
    assert_eq!(
        (summary.status, summary.resumed_from_epoch),
        (RunStatus::Complete, 1)
    );
    assert_eq!(summary.backend.backend, backend);
    // The killed process's time counts: two sessions in sessions.json, the first up to its
    // last completed epoch; the total covers both, this session's time is kept apart.
    let sessions = study::run_dir::Sessions::read(Path::new(&b)).unwrap();
    assert_eq!(sessions.sessions.len(), 2, "{sessions:?}");
    assert_eq!(sessions.sessions[0].epochs, 1, "{sessions:?}");
    assert!(sessions.sessions[0].wall_time_s > 0.0);
    let total = summary.total_wall_time_s.unwrap();
    assert!((total - sessions.total_s()).abs() < 1e-9);
    assert!(
        total > summary.wall_time_s,
        "{total} vs {}",
        summary.wall_time_s
    );
    // The seed study's measurements are recorded: smoothed loss, top-5, best-loss epoch.
    let top5 = summary.final_valid_top5_accuracy.unwrap();
    assert!(top5 >= summary.final_valid_accuracy.unwrap() && top5 <= 100.0);
    assert!(summary.final_train_loss_smoothed.unwrap().is_finite());
    let best = summary.best_valid_loss_epoch.unwrap();
    assert!(best.valid_loss.unwrap() <= summary.final_valid_loss.unwrap());
    let metrics = |run: &str| std::fs::read_to_string(Path::new(run).join("metrics.csv")).unwrap();
    let losses =
        |run: &str| std::fs::read_to_string(Path::new(run).join("train_loss.csv")).unwrap();
    assert_eq!(metrics(&a), metrics(&b), "{backend}: resumed run differs");
    assert_eq!(losses(&a), losses(&b));

    // The same seed twice: identical metrics.
    let output = experiments(&train_args(&c, &on), dir.path());
    assert!(output.status.success(), "{backend}: {output:?}");
    assert_eq!(metrics(&a), metrics(&c));
    assert_eq!(losses(&a), losses(&c));
}

/// One writer per directory: while another process holds a run directory (here this test,
/// through the same lock `experiments` takes), `train` and `train --resume` on it are refused at
/// once, naming the holder, and leave its files as they were; `compare` on a suite directory in
/// use is refused before writing anything. (A lock left by a killed process does not block:
/// `a_killed_run_resumes_to_the_same_metrics_and_same_seed_repeats`.)
#[test]
fn a_second_writer_is_refused_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_str = run.to_str().unwrap();
    let tiny = [
        "--backend",
        "flex",
        "--model",
        "micro-resnet",
        "--epochs",
        "1",
        "--batch-size",
        "32",
        "--train-limit",
        "64",
        "--valid-limit",
        "64",
    ];
    train_summary(dir.path(), "run", &tiny);
    let files = |dir: &Path| {
        ["config.json", "metrics.csv", "summary.json"].map(|f| std::fs::read(dir.join(f)).unwrap())
    };
    let before = files(&run);

    let held = DirLock::acquire(&run).unwrap();
    let pid = std::process::id().to_string();
    let mut fresh = vec!["train", "--out", run_str];
    fresh.extend_from_slice(&tiny);
    for args in [fresh, vec!["train", "--resume", "--out", run_str]] {
        let refused = experiments(&args, dir.path());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains("in use by another process") && stderr.contains(&pid),
            "{args:?}: {stderr}"
        );
    }
    assert!(
        before == files(&run),
        "a refused writer changed the run's files"
    );
    drop(held);

    // A suite has one writer per run, not per suite: a run another process holds is left to
    // it, and a slice trains only the runs it names.
    let out = dir.path().join("suite");
    let suite = Suite::parse(&format!("name = \"micro\"\n{MICRO}"), "micro").unwrap();
    let busy_dir = out
        .join("fashion-mnist-embedded")
        .join("sgd")
        .join("seed-1");
    let held = DirLock::create(&busy_dir).unwrap();
    let slice = Slice {
        seeds: vec![1],
        ..Slice::default()
    };
    let outcomes =
        experiments::compare(&suite, &out, &Execution::new("flex", &[0]), &slice).unwrap();
    let got: Vec<(&str, u64, bool)> = outcomes
        .iter()
        .map(|(r, o)| (r.label.as_str(), r.seed, matches!(o, RunOutcome::Busy(_))))
        .collect();
    assert_eq!(
        got,
        [("sgd", 1, true), ("la-sgd-reset", 1, false)],
        "{outcomes:?}"
    );
    assert!(out.join("suite.json").exists());
    assert!(!busy_dir.join("summary.json").exists());
    drop(held);
    let unknown = Slice {
        labels: vec!["nope".into()],
        ..Slice::default()
    };
    let error =
        experiments::compare(&suite, &out, &Execution::new("flex", &[0]), &unknown).unwrap_err();
    assert!(format!("{error:#}").contains("--only"), "{error:#}");
}

#[test]
fn bad_configs_fail_before_training_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-data");
    std::fs::create_dir(&empty).unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--optimizer", "adagrad"], "adagrad"),
        (vec!["--optimizer", "lookahead(sgd, k=0)"], "k"),
        (vec!["--optimizer", "lookahead(sgd, alpha=2)"], "alpha"),
        (vec!["--epochs", "0"], "`epochs`"),
        (
            vec![
                "--dataset",
                "cifar10",
                "--data-dir",
                empty.to_str().unwrap(),
            ],
            "cargo xtask download cifar10",
        ),
        (vec!["--dataset", "mnist"], "unknown dataset `mnist`"),
        // The global batch is split over the devices: it must divide evenly.
        (
            vec![
                "--devices",
                "0,1,2",
                "--batch-size",
                "32",
                "--backend",
                "flex",
            ],
            "does not split evenly over 3 devices",
        ),
        (vec!["--backend", "tpu"], "unknown backend `tpu`"),
        (vec!["--precision", "f8"], "unknown precision `f8`"),
        (
            vec!["--precision", "f16", "--loss-scale", "0"],
            "field `loss_scale`",
        ),
    ];
    for (extra, needle) in cases {
        let out = dir.path().join("run");
        let mut args = vec!["train", "--out", out.to_str().unwrap()];
        args.extend(extra.iter().copied());
        let output = experiments(&args, dir.path());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!out.exists(), "{args:?} created the run directory");
    }
    let output = experiments(&["compare", "no-such-suite"], dir.path());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no suite `no-such-suite`"));
}

#[test]
fn every_subcommand_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["train", "--help"],
        vec!["compare", "--help"],
        vec!["report", "--help"],
        vec!["backends", "--help"],
        vec!["orchestrator", "--help"],
    ] {
        let output = experiments(&args, dir.path());
        assert!(output.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("Usage"));
    }
    let output = experiments(&["backends"], dir.path());
    assert!(String::from_utf8_lossy(&output.stdout).contains("flex"));
}

#[test]
fn two_cpu_devices_train_to_the_same_accuracy_band() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, devices: &str| {
        train_summary(
            dir.path(),
            name,
            &[MICRO_RUN, &["--devices", devices]].concat(),
        )
    };
    let one = run("one", "0");
    let two = run("two", "0,1");
    assert_eq!(two.status, RunStatus::Complete);
    assert_eq!(
        two.backend.device.matches("Cpu").count(),
        2,
        "{:?}",
        two.backend
    );
    let (a1, a2) = (
        one.final_valid_accuracy.unwrap(),
        two.final_valid_accuracy.unwrap(),
    );
    assert!(a1 > 20.0 && a2 > 20.0, "{a1} {a2}");
    assert!(
        (a1 - a2).abs() < 15.0,
        "one device {a1} %, two devices {a2} %"
    );
    // The global batch is the recipe's on any device count: each step split the batch of 32
    // over the two devices (16 each) and averaged their gradients, so both runs took the same
    // steps at the same learning rates over the same images.
    let read =
        |name: &str, file: &str| std::fs::read_to_string(dir.path().join(name).join(file)).unwrap();
    let iterations = |name: &str| read(name, "train_loss.csv").lines().count() - 1;
    assert_eq!(iterations("one"), 2 * 1024 / 32);
    // burn-train logs each device's half-batch: two rows per step, as many steps.
    assert_eq!(iterations("two"), 2 * iterations("one"));
    let lrs = |name: &str| -> Vec<String> {
        read(name, "metrics.csv")
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(5).unwrap().to_string())
            .collect()
    };
    assert_eq!(lrs("two"), lrs("one"));
    assert_eq!(two.train_images, one.train_images);
    assert_eq!(one.train_images, 1024);
}

/// The micro suite (SGD and Lookahead(SGD), k = 3, with reset; seed 3, 256 images, one epoch: 8
/// steps, two synchronisations) on every backend compiled into the test build: `ndarray` and
/// `flex` by default, `wgpu` and `tch` when built with them (`.ci/run` does, and runs wgpu on
/// Mesa's lavapipe). Tolerance: each run's final train and
/// valid losses within 1 % of the Flex run, accuracy within 1 point. Initial weights are drawn
/// on the host, so the backends start from the same network (before that, each backend's own
/// initial weights made the losses differ by 2.3 %). Measured agreement with Flex (SGD run):
/// NdArray 6e-6 train / 8e-5 valid and wgpu on lavapipe 1e-7 / 4e-7 on one CPU, but NdArray
/// 5e-4 / 2e-3 on an AMD EPYC (Flex's SIMD kernels round differently per CPU); LibTorch 2.9.0
/// (`tch`) 1.3e-7 / 2.7e-8 on that EPYC (`-- --nocapture` prints them). Longer runs
/// drift apart further (rounding differences grow with the steps: 0.5 % / 7 % after 16 steps).
#[test]
fn backends_agree_on_the_same_seed() {
    let backends: Vec<&str> = ["flex", "ndarray", "wgpu", "tch"]
        .into_iter()
        .filter(|b| experiments::backend::compiled_backends().contains(b))
        .collect();
    assert!(backends.len() >= 2, "{backends:?}");
    let text = MICRO
        .replace("seeds = [1, 2]", "seeds = [3]")
        .replace("epochs = 2", "epochs = 1")
        .replace("train_limit = 1024", "train_limit = 256")
        .replace("valid_limit = 512", "valid_limit = 128")
        .replace("k=5", "k=3");
    let suite = Suite::parse(&format!("name = \"agree\"\n{text}"), "agree").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<Vec<Summary>> = backends
        .iter()
        .map(|backend| {
            let exec = Execution {
                loader_workers: 2,
                ..Execution::new(backend, &[0])
            };
            let outcomes =
                experiments::compare(&suite, &dir.path().join(backend), &exec, &Slice::default())
                    .unwrap();
            assert_eq!(outcomes.len(), 2, "{backend}");
            outcomes
                .iter()
                .map(|(run, outcome)| {
                    assert_eq!(
                        outcome,
                        &RunOutcome::Finished(RunStatus::Complete),
                        "{backend} {}",
                        run.label
                    );
                    let summary = read_summary(&run.dir).unwrap().unwrap();
                    assert_eq!(summary.backend.backend, *backend);
                    summary
                })
                .collect()
        })
        .collect();
    let close = |a: Option<f64>, b: Option<f64>| {
        let (a, b) = (a.unwrap(), b.unwrap());
        (a - b).abs() <= 1e-2 * b.abs()
    };
    for (backend, summaries) in backends.iter().zip(&runs).skip(1) {
        for (s, reference) in summaries.iter().zip(&runs[0]) {
            // The agreement, for the record (`-- --nocapture` shows it).
            let relative =
                |a: Option<f64>, b: Option<f64>| (a.unwrap() - b.unwrap()).abs() / b.unwrap().abs();
            eprintln!(
                "{backend} vs flex, {}: train loss {:.1e}, valid loss {:.1e} (relative)",
                s.optimizer,
                relative(s.final_train_loss, reference.final_train_loss),
                relative(s.final_valid_loss, reference.final_valid_loss)
            );
            assert!(
                close(s.final_train_loss, reference.final_train_loss)
                    && close(s.final_valid_loss, reference.final_valid_loss),
                "{backend}: {s:?}\nflex: {reference:?}"
            );
            let accuracy =
                s.final_valid_accuracy.unwrap() - reference.final_valid_accuracy.unwrap();
            assert!(accuracy.abs() <= 1.0, "{backend}: {accuracy}");
        }
    }
}

/// Mixed precision on the CPU (Flex and LibTorch compute in bf16 and f16): on each, the micro
/// run in bf16 and in f16 (loss scale 1024) reaches the f32 run's accuracy band; NdArray, which
/// has no half-precision arithmetic, refuses it by field name before anything is written.
#[test]
fn mixed_precision_trains_like_f32() {
    let dir = tempfile::tempdir().unwrap();
    for backend in cpu_training_backends() {
        let run = |precision: &str| {
            train_summary(
                dir.path(),
                &format!("{backend}-{precision}"),
                &[
                    MICRO_RUN,
                    &[
                        "--backend",
                        backend,
                        "--seed",
                        "3",
                        "--precision",
                        precision,
                    ],
                ]
                .concat(),
            )
        };
        let full = run("f32").final_valid_accuracy.unwrap();
        for precision in ["bf16", "f16"] {
            let summary = run(precision);
            let name = format!("{backend}-{precision}");
            let config = std::fs::read_to_string(dir.path().join(name).join("config.json"));
            assert!(config.unwrap().contains(&format!("\"{precision}\"")));
            let accuracy = summary.final_valid_accuracy.unwrap();
            assert!(
                accuracy > 40.0 && (accuracy - full).abs() < 10.0,
                "{backend} {precision}: {accuracy} %, f32: {full} %"
            );
        }
    }
    let out = dir.path().join("ndarray-bf16");
    let output = experiments(
        &[
            "train",
            "--backend",
            "ndarray",
            "--precision",
            "bf16",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("field `precision`"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists());
}

/// A free port on 127.0.0.1 (the OS's pick; released at once, so a later bind can take it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An `experiments orchestrator` process on a free port, killed when dropped.
struct Orchestrator {
    child: std::process::Child,
    port: u16,
}

impl Orchestrator {
    fn start() -> Self {
        let port = free_port();
        let child = Command::new(BIN)
            .args(["orchestrator", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "no orchestrator");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Orchestrator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts node `rank` of 2 with `args` (an `experiments train` command line), its own free
/// data port, and a short timeout.
fn node(args: &[&str], rank: u32, orchestrator: &Orchestrator, cwd: &Path) -> std::process::Child {
    let (rank, address) = (rank.to_string(), format!("127.0.0.1:{}", free_port()));
    Command::new(BIN)
        .args(args)
        .args(["--nodes", "2", "--node-rank", &rank, "--node-timeout", "20"])
        .args([
            "--orchestrator",
            &orchestrator.address(),
            "--node-address",
            &address,
        ])
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `args` as nodes 0 and 1 of a two-node run and asserts that both succeeded (showing
/// both outputs otherwise).
fn run_two_nodes(args: &[&str], orchestrator: &Orchestrator, cwd: &Path) {
    let nodes: Vec<_> = (0..2)
        .map(|rank| node(args, rank, orchestrator, cwd))
        .collect();
    let outputs: Vec<_> = nodes
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    for (rank, output) in outputs.iter().enumerate() {
        assert!(
            output.status.success(),
            "node {rank} of {args:?}: {outputs:?}"
        );
    }
}

/// The float values of a saved classifier (`model.mpk`), in parameter order (ids aside).
fn saved_weights(path: &Path) -> Vec<f32> {
    use burn::backend::NdArray;
    use burn::module::{Module, ModuleVisitor, Param};
    use burn::tensor::Tensor;
    use experiments::model::BuildModel;
    use experiments::model::Classifier;
    use study::config::{ModelKind, Precision};

    struct Values(Vec<f32>);
    impl ModuleVisitor<NdArray> for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<NdArray, D>>) {
            self.0
                .extend(param.val().into_data().to_vec::<f32>().unwrap());
        }
    }
    let device = Default::default();
    let net = ModelKind::MicroResNet
        .build_seeded::<NdArray>(10, 1, 1, &device)
        .unwrap();
    let model = Classifier::new(net, 0.0, Precision::F32, 1.0)
        .load_file(path, &experiments::run::CheckpointRecorder::new(), &device)
        .unwrap();
    let mut values = Values(Vec::new());
    model.visit(&mut values);
    values.0
}

/// Two nodes (separate processes, 127.0.0.1, Flex) train the micro recipe with the global
/// batch of one process: both end with the same weights (every parameter and running
/// statistic of the saved records equal), node 0 alone wrote the run's files, and the accuracy
/// is in the single-process band. Tolerance: within 10 points of one process (the two nodes'
/// BatchNorm normalises over 16 images, not 32, and each node draws its own augmentation, so
/// the runs are not the same arithmetic; measured here: see the closing note of issue 15).
#[test]
fn two_nodes_train_like_one_process_with_identical_weights() {
    let dir = tempfile::tempdir().unwrap();
    let one = train_summary(
        dir.path(),
        "one",
        &[MICRO_RUN, &["--backend", "flex"]].concat(),
    );
    let out = dir.path().join("two");
    let args = [
        &["train", "--out", out.to_str().unwrap(), "--backend", "flex"],
        MICRO_RUN,
    ]
    .concat();
    let orchestrator = Orchestrator::start();
    run_two_nodes(&args, &orchestrator, dir.path());
    let two = read_summary(&out).unwrap().unwrap();
    let other = read_summary(&out.join("node-1")).unwrap().unwrap();
    assert_eq!(
        (two.status, other.status),
        (RunStatus::Complete, RunStatus::Complete)
    );
    let stats = two.nodes.as_ref().unwrap();
    assert_eq!((stats.nodes, stats.rank), (2, 0));
    // 2 epochs of 1024 / 32 global batches: every step averaged the gradients.
    assert_eq!(stats.all_reduce.steps, 2 * 1024 / 32);
    // f32 gradients of every parameter, and BatchNorm's running statistics (2 per channel).
    let (bytes, grads) = (stats.bytes_per_step, 4 * two.parameters);
    assert!(
        bytes > grads && bytes < grads + grads / 10,
        "{bytes} {grads}"
    );
    assert_eq!(two.train_images, one.train_images);
    let (w0, w1) = (
        saved_weights(&out.join("model.mpk")),
        saved_weights(&out.join("node-1/model.mpk")),
    );
    assert!(
        !w0.is_empty() && w0 == w1,
        "the nodes' final weights differ"
    );
    // Node 1 wrote no checkpoint (burn-train leaves its folder empty).
    let saved = std::fs::read_dir(out.join("node-1/checkpoint")).map_or(0, |d| d.count());
    assert_eq!(saved, 0);
    assert_eq!(other.nodes.as_ref().unwrap().rank, 1);
    let (a1, a2) = (
        one.final_valid_accuracy.unwrap(),
        two.final_valid_accuracy.unwrap(),
    );
    println!("one process {a1} %, two nodes {a2} %");
    assert!(a1 > 20.0 && a2 > 20.0, "{a1} {a2}");
    assert!(
        (a1 - a2).abs() < 10.0,
        "one process {a1} %, two nodes {a2} %"
    );
}

/// Killing node 1 mid-epoch: node 0 stops with a clear error within its timeout (20 s; here
/// at once, as the killed node's connection breaks), the
/// run directory keeps the completed epoch, and `--resume` on both nodes (with a fresh
/// orchestrator) finishes the run with identical weights. Then nodes whose configs differ are
/// refused before training, naming the field.
#[test]
fn a_killed_node_stops_the_other_and_both_resume_and_mismatches_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_str = out.to_str().unwrap();
    let mut args = train_args(out_str, &["--backend", "flex"]);
    let orchestrator = Orchestrator::start();
    let mut nodes: Vec<_> = (0..2)
        .map(|rank| node(&args, rank, &orchestrator, dir.path()))
        .collect();
    let checkpoint = out.join("checkpoint");
    let start = Instant::now();
    while !(checkpoint.join("scheduler-1.mpk").exists() && checkpoint.join("model-1.mpk").exists())
    {
        assert!(start.elapsed() < Duration::from_secs(300), "no checkpoint");
        assert!(nodes[0].try_wait().unwrap().is_none(), "node 0 ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    nodes[1].kill().unwrap();
    nodes[1].wait().unwrap();
    let killed = Instant::now();
    let first = nodes.remove(0).wait_with_output().unwrap();
    let waited = killed.elapsed();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(!first.status.success(), "node 0 went on: {stderr}");
    assert!(
        waited < Duration::from_secs(60),
        "node 0 took {waited:?} to stop"
    );
    // Either the broken connection or the watchdog's timeout, named, with what to do.
    assert!(
        stderr.contains("error: node 0") && stderr.contains("--resume"),
        "{stderr}"
    );
    assert!(read_summary(&out).unwrap().is_none());
    assert!(out.join("train/epoch-1").exists() && checkpoint.join("optim-1.mpk").exists());
    drop(orchestrator);

    let orchestrator = Orchestrator::start();
    let resume = ["train", "--resume", "--out", out_str];
    run_two_nodes(&resume, &orchestrator, dir.path());
    let summary = read_summary(&out).unwrap().unwrap();
    assert_eq!(
        (summary.status, summary.resumed_from_epoch),
        (RunStatus::Complete, 1)
    );
    let (w0, w1) = (
        saved_weights(&out.join("model.mpk")),
        saved_weights(&out.join("node-1/model.mpk")),
    );
    assert!(w0 == w1, "the resumed nodes' final weights differ");
    drop(orchestrator);

    // Configs that differ (here the learning rate) are refused on both nodes, before training.
    let orchestrator = Orchestrator::start();
    let other = dir.path().join("mismatch");
    args = train_args(other.to_str().unwrap(), &["--backend", "flex"]);
    let mut changed = args.clone();
    let lr = changed.iter().position(|a| *a == "--lr-max").unwrap();
    changed[lr + 1] = "0.004";
    let nodes = [
        node(&args, 0, &orchestrator, dir.path()),
        node(&changed, 1, &orchestrator, dir.path()),
    ];
    for (rank, child) in nodes.into_iter().enumerate() {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "node {rank} trained");
        assert!(
            stderr.contains("disagree on `lr_max`"),
            "node {rank}: {stderr}"
        );
    }
    assert!(!other.join("config.json").exists() && !other.join("checkpoint").exists());
}

/// A two-node run that diverges (learning rate 1e39) ends on both nodes after the same step,
/// each recording it (node 0 in the run's summary, node 1 in `node-1/`) and exiting with the
/// diverged run's status, not with a broken connection or a timeout. Before the stop vote, on
/// this recipe node 1's guard stopped it at iteration 5 while node 0's own loss was finite, and
/// node 0 failed in the next all-reduce without a summary.
#[test]
fn a_diverging_two_node_run_stops_both_nodes_after_the_same_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut args = train_args(out.to_str().unwrap(), &["--backend", "flex"]);
    let set = |args: &mut Vec<&str>, flag: &str, value: &'static str| {
        let at = args.iter().position(|a| *a == flag).unwrap();
        args[at + 1] = value;
    };
    set(&mut args, "--optimizer", "sgd(momentum=0.9)");
    set(&mut args, "--lr-max", "1e39");
    let orchestrator = Orchestrator::start();
    let nodes: Vec<_> = (0..2)
        .map(|rank| node(&args, rank, &orchestrator, dir.path()))
        .collect();
    let outputs: Vec<_> = nodes
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    let stderr: Vec<_> = outputs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stderr))
        .collect();
    both_diverged_after_one_step(&out, &format!("{stderr:#?}"));
    for output in &outputs {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("error: diverged: "), "{stderr}");
    }
}

/// A node whose orchestrator never answers stops within its timeout (here 3 s), naming what
/// it waited for; nothing of the run is written.
#[test]
fn a_node_without_its_orchestrator_stops_within_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (port, data) = (free_port(), free_port());
    let start = Instant::now();
    let output = Command::new(BIN)
        .args(train_args(out.to_str().unwrap(), &["--backend", "flex"]))
        .args(["--nodes", "2", "--node-rank", "0", "--node-timeout", "3"])
        .args(["--orchestrator", &format!("127.0.0.1:{port}")])
        .args(["--node-address", &format!("127.0.0.1:{data}")])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert!(
        stderr.contains("waiting for all 2 nodes to join") && stderr.contains("unreachable"),
        "{stderr}"
    );
    assert!(!out.join("config.json").exists());
}

/// A suite through `compare` on two nodes, each with two local devices: node 0 writes the
/// suite directory and its report, node 1 only its `node-1/` folders, both nodes end every
/// run with the same weights, and a run that diverges stops both after the same step.
#[test]
fn a_suite_compares_on_two_nodes_with_two_devices_each() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("nodes.toml");
    let text = MICRO
        .replace("seeds = [1, 2]", "seeds = [1]")
        .replace("epochs = 2", "epochs = 1")
        .replace("train_limit = 1024", "train_limit = 512");
    // A third optimizer diverges (as in the one-process suite test): every node must stop
    // after the same step, record it, and go on to the suite's end together.
    std::fs::write(&suite, format!("name = \"nodes\"\n{text}{ABSURD}")).unwrap();
    let out = dir.path().join("out");
    let args = [
        "compare",
        suite.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--backend",
        "flex",
        "--devices",
        "0,1",
    ];
    let orchestrator = Orchestrator::start();
    run_two_nodes(&args, &orchestrator, dir.path());
    assert!(out.join("suite.json").exists() && out.join("report.md").exists());
    for label in ["sgd", "la-sgd-reset"] {
        let run = out
            .join("fashion-mnist-embedded")
            .join(label)
            .join("seed-1");
        let summary = read_summary(&run).unwrap().unwrap();
        assert_eq!(summary.status, RunStatus::Complete, "{label}");
        assert_eq!(summary.backend.device.matches("Cpu").count(), 2);
        let (w0, w1) = (
            saved_weights(&run.join("model.mpk")),
            saved_weights(&run.join("node-1/model.mpk")),
        );
        assert!(w0 == w1, "{label}: the nodes' final weights differ");
    }
    let run = out
        .join("fashion-mnist-embedded")
        .join("sgd-absurd")
        .join("seed-1");
    both_diverged_after_one_step(&run, "");
}

/// Asserts that both nodes' summaries of the run in `out` (node 0's there, node 1's in
/// `node-1/`) say it diverged at the same epoch and iteration (`context` shown otherwise).
fn both_diverged_after_one_step(out: &Path, context: &str) {
    let [first, second] = [out.to_path_buf(), out.join("node-1")].map(|dir| {
        let summary = read_summary(&dir)
            .unwrap()
            .unwrap_or_else(|| panic!("no summary in {}: {context}", dir.display()));
        assert_eq!(summary.status, RunStatus::Diverged, "{}", dir.display());
        summary.divergence.unwrap()
    });
    assert_eq!(
        (first.epoch, first.iteration),
        (second.epoch, second.iteration),
        "the nodes stopped after different steps: {first} / {second}"
    );
}
