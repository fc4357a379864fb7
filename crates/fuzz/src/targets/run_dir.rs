//! Targets over what training leaves behind: a run directory's files, a suite directory's
//! inputs to the report, and checkpoints as `--resume` reads them. Each starts from a real run
//! (micro ResNet, two epochs on the embedded Fashion-MNIST, Flex), trained once per work
//! directory.

use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, Flex};
use experiments::model::{BuildModel, Classifier};
use experiments::run::{RunOptions, resume_point};
use experiments::{TrainTask, train_on};
use study::config::TrainConfig;
use study::report::{aggregate, load_run, report};
use study::run_dir::{
    Fingerprint, Sessions, check_dir, read_config, read_epochs, read_fingerprint, read_iterations,
    read_summary, recorded_backend, run_state,
};
use study::suite::{SUITE_JSON, Suite, read_suite_json};

use super::{Target, Verdict, split_choice, with_choice};
use crate::mutate::{Layout, Rng, mutate_bytes, mutate_text};

type B = Autodiff<Flex>;

/// The files of a run directory the run-dir target mutates.
const RUN_FILES: [&str; 7] = [
    "summary.json",
    "metrics.csv",
    "train_loss.csv",
    "fingerprint.json",
    "sessions.json",
    "config.json",
    "backend.json",
];

const WORDS: [&str; 12] = [
    "status",
    "Complete",
    "Diverged",
    "Interrupted",
    "epoch",
    "valid_accuracy",
    "lr_max",
    "epochs_completed",
    "null",
    "\"seed\": 1",
    "NaN",
    "-1",
];

/// The recipe of the trained run.
fn recipe() -> anyhow::Result<TrainConfig> {
    let mut config = TrainConfig::from_value(serde_json::json!({
        "dataset": "fashion-mnist-embedded", "model": "micro-resnet", "epochs": 2,
        "batch_size": 32, "train_limit": 64, "valid_limit": 32, "tensorboard": false,
        "optimizer": "lookahead(sgd(momentum=0.9), k=2, alpha=0.5)",
    }))?;
    config.seed = 3;
    Ok(config)
}

/// `work/trained`: the run every target here starts from, trained once.
fn trained(work: &Path) -> anyhow::Result<(PathBuf, TrainConfig)> {
    let dir = work.join("trained");
    let config = recipe()?;
    if read_summary(&dir)?.is_none() {
        let options = RunOptions {
            label: "fuzz seed run ".into(),
            ..RunOptions::default()
        };
        let task = TrainTask {
            config: config.clone(),
            dir: dir.clone(),
            options,
        };
        train_on("flex", &[0], task)?;
    }
    Ok((dir, config))
}

/// A copy of directory `from` at `to` (replaced), with the bytes of the files `names`.
fn copy_files(from: &Path, to: &Path, names: &[String]) -> anyhow::Result<Vec<Vec<u8>>> {
    names
        .iter()
        .map(|name| {
            let bytes = std::fs::read(from.join(name))?;
            let target = to.join(name);
            std::fs::create_dir_all(target.parent().unwrap_or(to))?;
            std::fs::write(&target, &bytes)?;
            Ok(bytes)
        })
        .collect()
}

/// Files of one directory, one mutated per input (its index first), the last one restored
/// before the next.
struct Files {
    dir: PathBuf,
    names: Vec<String>,
    originals: Vec<Vec<u8>>,
    seeds: Vec<Vec<u8>>,
    last: Option<usize>,
}

impl Files {
    /// The files `names` of `dir`, whose bytes are `originals`; each is a seed (its index
    /// first).
    fn new(dir: PathBuf, names: Vec<String>, originals: Vec<Vec<u8>>) -> Self {
        let seeds = originals
            .iter()
            .enumerate()
            .map(|(i, b)| with_choice(i, b))
            .collect();
        Self {
            dir,
            names,
            originals,
            seeds,
            last: None,
        }
    }

    /// Writes `input`'s file; returns its index.
    fn write(&mut self, input: &[u8]) -> usize {
        if let Some(last) = self.last.take() {
            std::fs::write(self.dir.join(&self.names[last]), &self.originals[last])
                .expect("writable");
        }
        let (choice, bytes) = split_choice(input, self.names.len());
        let path = self.dir.join(&self.names[choice]);
        match std::fs::remove_file(&path) {
            Ok(()) | Err(_) => {}
        }
        // An empty input stands for a missing file.
        if !bytes.is_empty() {
            std::fs::write(&path, bytes).expect("writable");
        }
        self.last = Some(choice);
        choice
    }

    fn mutate_text(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let (choice, bytes) = split_choice(seed, self.names.len());
        let text = String::from_utf8_lossy(bytes);
        with_choice(choice, mutate_text(&text, &WORDS, rng).as_bytes())
    }
}

fn percent(value: Option<f64>) -> bool {
    value.is_none_or(|v| (0.0..=100.0).contains(&v))
}

/// The run directory's readers (`read_summary`, `read_epochs`, `read_iterations`,
/// `read_config`, `read_fingerprint`, `check_dir`, `Sessions::read`, `recorded_backend`,
/// `run_state`). Oracle: accepted summaries and metrics hold possible numbers; an accepted
/// fingerprint or config is the run's own recipe.
pub struct RunDir {
    files: Files,
    config: TrainConfig,
}

impl RunDir {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let (trained, config) = trained(work)?;
        let dir = work.join("run");
        let names: Vec<String> = RUN_FILES.iter().map(|s| s.to_string()).collect();
        let originals = copy_files(&trained, &dir, &names)?;
        let files = Files::new(dir, names, originals);
        Ok(Self { files, config })
    }
}

impl Target for RunDir {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.files.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        self.files.mutate_text(seed, rng)
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        self.files.write(input);
        let dir = &self.files.dir;
        let summary = read_summary(dir);
        if let Ok(Some(s)) = &summary {
            let all = [
                s.final_valid_accuracy,
                s.best_valid_accuracy,
                s.final_valid_top5_accuracy,
            ];
            assert!(all.into_iter().all(percent), "impossible accuracy accepted");
        }
        let epochs = read_epochs(dir);
        if let Ok(epochs) = &epochs {
            for (i, e) in epochs.iter().enumerate() {
                assert_eq!(e.epoch, i + 1, "epochs out of order accepted");
                assert!(percent(Some(e.train_accuracy)) && percent(e.valid_accuracy));
            }
        }
        let own = Fingerprint::of(&self.config).expect("serialises");
        let fingerprint = read_fingerprint(dir);
        let checked = check_dir(dir, &self.config, "the fuzz recipe");
        if checked.is_ok()
            && let Ok(Some(f)) = &fingerprint
        {
            assert!(
                f.config_changes(&own).is_empty(),
                "a changed fingerprint passed"
            );
        }
        let results = [
            summary.is_ok(),
            epochs.is_ok(),
            read_iterations(dir).is_ok(),
            read_config(dir).is_ok(),
            fingerprint.is_ok(),
            checked.is_ok(),
            Sessions::read(dir).is_ok(),
            recorded_backend(dir).is_ok(),
            run_state(dir).is_ok(),
        ];
        match results.iter().all(|ok| *ok) {
            true => Verdict::Accepted,
            false => Verdict::Refused,
        }
    }
}

const SUITE: &str = r#"
name = "fuzz"
datasets = ["fashion-mnist-embedded"]
seeds = [1, 2]
baseline = "sgd"
[recipe]
model = "micro-resnet"
epochs = 2
[[optimizers]]
label = "sgd"
spec = "sgd(momentum=0.9)"
published = { accuracy = 80.0, valid_loss = 0.5, train_loss = 0.4 }
[[optimizers]]
label = "la"
spec = "lookahead(sgd(momentum=0.9), k=2, alpha=0.5)"
published = { accuracy = 81.0, valid_loss = 0.5, train_loss = 0.45 }
[[claims]]
hypothesis = "Lookahead reaches a higher accuracy and a lower validation loss than SGD"
note = "A claim of the fuzz suite, so that verdicts are rendered from mutated inputs."

[[claims.parts]]
words = "Lookahead reaches a higher accuracy"
role = "assertion"
conditions = [{ metric = "accuracy", label = "la", is = "above", other = "sgd" }]

[[claims.parts]]
words = "a lower validation loss than SGD"
role = "assertion"
conditions = [{ metric = "valid_loss", label = "la", is = "lowest", among = ["la", "sgd"] }]
"#;

/// A suite directory's inputs to the report: `suite.json` and each run's summary, metrics
/// and losses; the runs loaded and aggregated (every 100th accepted input also rendered whole:
/// Markdown, CSV, SVG).
pub struct Report {
    files: Files,
    accepted: usize,
}

impl Report {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let (trained, _) = trained(work)?;
        let dir = work.join("suite");
        let suite = Suite::parse(SUITE, "the fuzz suite")?;
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(SUITE_JSON), serde_json::to_string_pretty(&suite)?)?;
        let mut names = vec![SUITE_JSON.to_string()];
        let mut originals = vec![std::fs::read(dir.join(SUITE_JSON))?];
        for run in suite.runs(&dir) {
            let run_names: Vec<String> = ["summary.json", "metrics.csv", "train_loss.csv"]
                .map(String::from)
                .to_vec();
            let mut copied = copy_files(&trained, &run.dir, &run_names)?;
            // One trained run stands for every run of the suite: its summary names each one's
            // seed (a summary of another seed than its folder's is refused).
            let mut summary: serde_json::Value = serde_json::from_slice(&copied[0])?;
            summary["seed"] = run.seed.into();
            copied[0] = serde_json::to_vec_pretty(&summary)?;
            std::fs::write(run.dir.join(&run_names[0]), &copied[0])?;
            originals.extend(copied);
            let rel = run.dir.strip_prefix(&dir)?.to_path_buf();
            names.extend(
                run_names
                    .iter()
                    .map(|n| rel.join(n).to_string_lossy().into_owned()),
            );
        }
        let files = Files::new(dir, names, originals);
        Ok(Self { files, accepted: 0 })
    }
}

impl Target for Report {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.files.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        self.files.mutate_text(seed, rng)
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        self.files.write(input);
        let dir = &self.files.dir;
        let loaded = read_suite_json(dir).and_then(|suite| {
            let records = suite
                .runs(dir)
                .iter()
                .map(|r| load_run(&r.dir, &r.dataset, &r.label, r.seed))
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok((suite, records))
        });
        let Ok((suite, records)) = &loaded else {
            return Verdict::Refused;
        };
        aggregate(suite, records);
        self.accepted += 1;
        if self.accepted % 100 == 1 {
            report(dir).expect("an accepted suite directory renders");
        }
        Verdict::Accepted
    }
}

/// Checkpoints (both epochs' model, optimizer and scheduler files, with the epochs' loss logs)
/// and `fingerprint.json` as `train --resume` reads them (`resume_point`): a file truncated, emptied (missing), edited.
/// Oracle: a run with trained epochs never restarts from epoch 0, and a fingerprint that
/// passes is the run's own.
pub struct Checkpoint {
    files: Files,
    config: TrainConfig,
    model: Classifier<B>,
}

impl Checkpoint {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let (trained, config) = trained(work)?;
        let dir = work.join("resume");
        let mut names: Vec<String> = (1..=2)
            .flat_map(|e| {
                ["model", "optim", "scheduler"].map(|k| format!("checkpoint/{k}-{e}.mpk"))
            })
            .collect();
        names.extend(["fingerprint.json", "config.json"].map(String::from));
        // A checkpoint continues only from epochs whose metric logs are there.
        names.extend(
            (1..=2).flat_map(|e| {
                ["train", "valid"].map(|split| format!("{split}/epoch-{e}/Loss.log"))
            }),
        );
        let originals = copy_files(&trained, &dir, &names)?;
        let device = Default::default();
        let net = config
            .model
            .build_seeded::<B>(10, 1, config.seed, &device)?;
        let model = Classifier::new(
            net,
            config.label_smoothing,
            config.precision,
            config.effective_loss_scale(),
        );
        let files = Files::new(dir, names, originals);
        Ok(Self {
            files,
            config,
            model,
        })
    }
}

impl Target for Checkpoint {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.files.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let (choice, bytes) = split_choice(seed, self.files.names.len());
        if self.files.names[choice].ends_with(".json") {
            return self.files.mutate_text(seed, rng);
        }
        let layout = Layout {
            fields: Vec::new(),
            boundaries: vec![0, bytes.len() / 2],
        };
        with_choice(choice, &mutate_bytes(bytes, &layout, rng))
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        self.files.write(input);
        let device = Default::default();
        let dir = &self.files.dir;
        // As `train --resume` does: the recipe from the directory's config.json.
        let result = read_config(dir).and_then(|config| {
            resume_point::<B>(&config, dir, true, &self.model, &device).map(|p| (config, p))
        });
        if let Ok((config, point)) = &result {
            assert!(
                point.epoch >= 1,
                "a run with trained epochs restarted from epoch 0"
            );
            let own = Fingerprint::of(&self.config).expect("serialises");
            let now = Fingerprint::of(config).expect("serialises");
            assert!(
                own.config_changes(&now).is_empty(),
                "a changed config.json resumed"
            );
            if let Ok(Some(f)) = read_fingerprint(dir) {
                assert!(
                    f.config_changes(&own).is_empty(),
                    "a changed fingerprint passed"
                );
            }
        }
        Verdict::from(&result)
    }
}
