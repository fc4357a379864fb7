//! Every run writes TensorBoard event files, read back here by the real `tensorboard` package
//! from PyPI (installed beside torch by `cargo xtask setup libtorch`; `cargo xtask test` puts
//! that venv's Python in `$PYTHON`): the scalars equal `metrics.csv`, and the hparams hold the
//! run's configuration. `--tensorboard false` writes none. In CI (`$CI` set) a missing
//! tensorboard fails the test; elsewhere the read-back is skipped with a message.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::Command;

use experiments::tensorboard::EVENT_FILE;

const BIN: &str = env!("CARGO_BIN_EXE_experiments");

fn train(out: &Path, extra: &[&str]) {
    let mut args = vec![
        "train",
        "--out",
        out.to_str().unwrap(),
        "--model",
        "micro-resnet",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--train-limit",
        "512",
        "--valid-limit",
        "256",
        "--backend",
        "flex",
        "--no-dashboard",
    ];
    args.extend_from_slice(extra);
    let output = Command::new(BIN).args(&args).output().unwrap();
    assert!(output.status.success(), "{output:?}");
}

/// Reads the run's event file with tensorboard's EventAccumulator and prints, one per line,
/// `scalar <tag> <step> <value>` and `hparam <name> <value>`.
const READER: &str = r#"
import sys
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2
acc = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})
acc.Reload()
for tag in acc.Tags()["scalars"]:
    for e in acc.Scalars(tag):
        print("scalar", tag, e.step, repr(e.value))
content = acc.PluginTagToContent("hparams")
start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
for name, value in start.session_start_info.hparams.items():
    kind = value.WhichOneof("kind")
    print("hparam", name, getattr(value, kind))
exp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"])
print("metrics", " ".join(m.name.tag for m in exp.experiment.metric_infos))
"#;

#[test]
fn tensorboard_reads_the_runs_scalars_and_hparams() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(&run, &["--lr-max", "0.07", "--moms", "0.95,0.85"]);
    assert!(run.join(EVENT_FILE).exists());
    let off = dir.path().join("off");
    train(&off, &["--tensorboard", "false"]);
    assert!(!off.join(EVENT_FILE).exists());

    let Some(python) = support::python_with("tensorboard") else {
        return;
    };
    let output = Command::new(python)
        .args(["-c", READER, run.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    let scalar = |tag: &str, step: usize| -> f64 {
        let prefix = format!("scalar {tag} {step} ");
        let line = text.lines().find(|l| l.starts_with(&prefix));
        line.unwrap_or_else(|| panic!("no {prefix}in\n{text}"))[prefix.len()..]
            .parse()
            .unwrap()
    };
    // Per epoch, as in metrics.csv (f32 in the event file).
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    for line in metrics.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let epoch: usize = cells[0].parse().unwrap();
        for (column, tag) in [
            (1, "epoch/train_loss"),
            (3, "epoch/valid_loss"),
            (4, "epoch/valid_accuracy"),
            (5, "epoch/lr"),
        ] {
            let expected: f64 = cells[column].parse().unwrap();
            let got = scalar(tag, epoch);
            assert!(
                (got - expected).abs() <= 1e-6 * expected.abs().max(1.0),
                "{tag} epoch {epoch}: {got} vs {expected}"
            );
        }
    }
    // Per iteration: 2 epochs of 512/64 steps.
    let losses = std::fs::read_to_string(run.join("train_loss.csv")).unwrap();
    let first: f64 = losses
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!((scalar("train/loss", 1) - first).abs() <= 1e-6 * first.abs());
    assert!(text.contains("scalar train/loss_smoothed 16 "), "{text}");
    // One-cycle momentum: down towards 0.85 past the peak, back up towards 0.95 at the end.
    let (m1, m2) = (scalar("epoch/momentum", 1), scalar("epoch/momentum", 2));
    assert!(0.85 < m1 && m1 < m2 && m2 <= 0.95, "{m1} {m2}");
    // The configuration as hparams.
    assert!(text.contains("hparam lr_max 0.07"), "{text}");
    assert!(text.contains("hparam model micro-resnet"), "{text}");
    assert!(
        text.contains("metrics epoch/valid_accuracy epoch/valid_loss"),
        "{text}"
    );
}
