//! Command-line targets of `experiments train --check`: hostile flags, and hostile config files
//! (JSON, TOML). A check reads everything a start would (config, data, model, directory) and
//! writes nothing, so every run is also held to its scratch folder's bytes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::cli::{Exec, Snapshot, binary, check_effective, exec, judge, make_fifo, remove};
use super::text::{FIELD_WORDS, SPEC_WORDS};
use super::{Target, Verdict, split_choice, with_choice};
use crate::mutate::{Rng, mutate_text};

/// Every flag of `train`.
const FLAGS: [&str; 36] = [
    "--recipe",
    "--config",
    "--dataset",
    "--data-dir",
    "--model",
    "--image-size",
    "--epochs",
    "--batch-size",
    "--optimizer",
    "--schedule",
    "--lr-max",
    "--lr-decay-epochs",
    "--lr-decay-factor",
    "--moms",
    "--weight-decay",
    "--true-weight-decay",
    "--eval-weights",
    "--transforms",
    "--flip",
    "--mixup",
    "--label-smoothing",
    "--seed",
    "--train-limit",
    "--valid-limit",
    "--precision",
    "--loss-scale",
    "--tensorboard",
    "--out",
    "--resume",
    "--backend",
    "--device",
    "--devices",
    "--nodes",
    "--node-rank",
    "--orchestrator",
    "--check",
];

/// Values, valid and hostile; `@FIFO@`, `@FOLDER@` and `@DATA@` stand for a FIFO, a folder and
/// the tiny data folder of the scratch folder.
const VALUES: [&str; 48] = [
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "-0",
    "1",
    "2",
    "1e308",
    "-1e308",
    "1e-320",
    "0.5",
    "18446744073709551616",
    "4294967296",
    "",
    " ",
    "0,0",
    "0,1",
    "0,1,0",
    "1,-1",
    "0.95,0.85",
    "😀",
    "@FIFO@",
    "@FOLDER@",
    "@DATA@",
    "/dev/zero",
    "/nonexistent",
    "micro-resnet",
    "tiny-resnet",
    "resnet50",
    "xresnet18-mish",
    "fashion-mnist",
    "fashion-mnist-embedded",
    "cifar10",
    "imagenette2-160",
    "true",
    "false",
    "slow",
    "fastai-v1",
    "step-decay",
    "flat-cos",
    "bf16",
    "f16",
    "seed-cifar10:la-sgd",
    "quick",
    "none",
    "lookahead(sgd(nesterov=true, momentum=0))",
    "sgd(momentum=0.9, wd=1e308)",
];

/// Values of one flag, valid and hostile.
const FLAG_VALUES: [(&str, &[&str]); 24] = [
    ("--epochs", &["1", "3", "0", "4294967295"]),
    ("--batch-size", &["1", "2", "16", "0", "100000"]),
    (
        "--lr-max",
        &["0.001", "1", "nan", "inf", "0", "1e308", "1e-320"],
    ),
    ("--weight-decay", &["0", "0.1", "nan", "inf", "11", "1e308"]),
    (
        "--true-weight-decay",
        &["0", "0.1", "nan", "inf", "11", "1e308"],
    ),
    ("--mixup", &["0", "0.2", "1", "nan", "101", "1e308"]),
    ("--label-smoothing", &["0", "0.1", "0.99", "1", "nan"]),
    (
        "--moms",
        &["0.95,0.85", "0.9,0.9", "nan,0.8", "1.5,0.5", "0,0"],
    ),
    (
        "--model",
        &[
            "micro-resnet",
            "tiny-resnet",
            "tiny-xresnet",
            "micro-resnet-fastai",
        ],
    ),
    (
        "--dataset",
        &[
            "fashion-mnist",
            "fashion-mnist-embedded",
            "cifar10",
            "imagenette",
        ],
    ),
    (
        "--optimizer",
        &[
            "adamw(wd=0.01)",
            "rmsprop(momentum=0.9)",
            "ranger",
            "lookahead(radam, k=6, alpha=0.8, pullback)",
            "sgd(momentum=0.9, nesterov=true)",
            "sgd(momentum=0.9, dampening=0.1, nesterov=true)",
            "adam(eps=2)",
        ],
    ),
    (
        "--schedule",
        &[
            "one-cycle",
            "onecycle-v1",
            "flat-cos",
            "constant",
            "step-decay",
        ],
    ),
    ("--seed", &["0", "18446744073709551615"]),
    ("--train-limit", &["1", "8", "0", "1000000"]),
    ("--valid-limit", &["1", "8", "0", "1000000"]),
    ("--devices", &["0", "0,0", "0,1", "5"]),
    ("--precision", &["f32", "bf16", "f16"]),
    ("--loss-scale", &["1", "1024", "0", "nan", "inf"]),
    ("--lr-decay-epochs", &["1", "0,1", "5,1"]),
    ("--lr-decay-factor", &["5", "1", "0", "nan"]),
    ("--eval-weights", &["fast", "slow"]),
    ("--transforms", &["study", "fastai-v1"]),
    ("--image-size", &["32", "1", "0"]),
    (
        "--recipe",
        &["none", "quick", "seed-cifar10:la-sgd", "seed-cifar10:nope"],
    ),
];

/// A long value (100 kB): an error must shorten it, not echo it.
const LONG: &str = "@LONG@";

/// Tokens `\0`-separated.
fn tokens(input: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(input)
        .split('\0')
        .map(str::to_string)
        .collect()
}

fn one_edit(tokens: &mut Vec<String>, rng: &mut Rng) {
    let at = rng.below(tokens.len().max(1));
    let values: Vec<usize> = (0..tokens.len())
        .filter(|&i| !tokens[i].starts_with("--"))
        .collect();
    match rng.below(8) {
        // A flag's value replaced: the command's shape kept, the value often one of the flag's.
        0 | 1 if !values.is_empty() => {
            let i = *rng.pick(&values);
            let own = i
                .checked_sub(1)
                .and_then(|f| FLAG_VALUES.iter().find(|(flag, _)| *flag == tokens[f]));
            tokens[i] = match (own, rng.below(3)) {
                (Some((_, pool)), 0 | 1) => rng.pick(pool).to_string(),
                _ => rng.pick(&VALUES).to_string(),
            };
        }
        2 if !tokens.is_empty() => tokens[at] = rng.pick(&FLAGS).to_string(),
        3 => {
            let value = match rng.below(20) {
                0 => LONG.to_string(),
                _ => rng.pick(&VALUES).to_string(),
            };
            let at = rng.below(tokens.len() + 1);
            tokens.splice(at..at, [rng.pick(&FLAGS).to_string(), value]);
        }
        4 if !tokens.is_empty() => {
            tokens.remove(at);
        }
        5 if !tokens.is_empty() => tokens.insert(at, tokens[at].clone()),
        6 if !tokens.is_empty() => {
            let other = rng.below(tokens.len());
            tokens.swap(at, other);
        }
        _ if !tokens.is_empty() => {
            let mut words = SPEC_WORDS.to_vec();
            words.extend(FIELD_WORDS);
            tokens[at] = mutate_text(&tokens[at], &words, rng);
        }
        _ => tokens.push(rng.pick(&FLAGS).to_string()),
    }
}

/// A scratch folder with the tiny data, a FIFO and an empty folder; runs put nothing in it.
struct Scratch {
    root: PathBuf,
    before: Snapshot,
}

impl Scratch {
    fn new(work: &Path, name: &str) -> anyhow::Result<Self> {
        let root = work.join(name);
        remove(&root);
        std::fs::create_dir_all(root.join("folder"))?;
        super::cli::tiny_fashion_mnist(&root.join("data"))?;
        make_fifo(&root.join("fifo"))?;
        let before = Snapshot::of(&root);
        Ok(Self { root, before })
    }

    /// `value` with its stand-ins replaced.
    fn resolve(&self, value: &str) -> OsString {
        let path = |name: &str| self.root.join(name).to_string_lossy().into_owned();
        let value = value
            .replace("@FIFO@", &path("fifo"))
            .replace("@FOLDER@", &path("folder"))
            .replace("@DATA@", &path("data"));
        match value == LONG {
            true => "x".repeat(100_000).into(),
            false => value.into(),
        }
    }

    /// `train --check` on Flex with `args`, into an output folder that must stay absent.
    fn check(&self, bin: &Path, args: impl IntoIterator<Item = OsString>) -> (Exec, Vec<OsString>) {
        let mut all: Vec<OsString> = ["train", "--check", "--backend", "flex", "--no-dashboard"]
            .map(OsString::from)
            .to_vec();
        all.extend(args);
        all.push("--out".into());
        all.push(self.root.join("run").into());
        let done = exec(bin, &all, &self.root);
        self.before
            .assert_same(&Snapshot::of(&self.root), "a check (it writes nothing)");
        (done, all)
    }
}

/// `train --check` with mutated flags (a micro run on the tiny data to start from). Oracles:
/// [`judge`], [`check_effective`], nothing written.
pub struct Flags {
    bin: PathBuf,
    scratch: Scratch,
    seeds: Vec<Vec<u8>>,
}

impl Flags {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let base = "--dataset\0fashion-mnist\0--data-dir\0@DATA@\0--model\0micro-resnet\0\
                    --epochs\x002\0--batch-size\x008";
        let seeds = [
            base.to_string(),
            format!(
                "{base}\0--optimizer\0lookahead(sgd(momentum=0.9), k=5, alpha=0.5, reset)\0\
                 --lr-max\x000.1\0--moms\x000.95,0.85\0--weight-decay\x000.0005\0--mixup\x000.4\0\
                 --label-smoothing\x000.1\0--seed\x007"
            ),
            format!(
                "{base}\0--schedule\0step-decay\0--lr-decay-epochs\x001\0--lr-decay-factor\x005\0\
                 --true-weight-decay\x000.01\0--eval-weights\0slow\0\
                 --transforms\0fastai-v1\0--flip\0false\0--train-limit\x0016\0--valid-limit\x008\0\
                 --devices\x000"
            ),
            format!("--recipe\0seed-cifar10:la-sgd\0{base}\0--precision\0f32\0--loss-scale\x001"),
        ];
        Ok(Self {
            bin: binary()?,
            scratch: Scratch::new(work, "cli-flags")?,
            seeds: seeds.map(String::into_bytes).to_vec(),
        })
    }
}

impl Target for Flags {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let mut tokens = tokens(seed);
        for _ in 0..1 + usize::from(rng.below(4) == 0) {
            one_edit(&mut tokens, rng);
        }
        tokens.join("\0").into_bytes()
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        let args = tokens(input)
            .iter()
            .map(|t| self.scratch.resolve(t))
            .collect::<Vec<_>>();
        let (done, all) = self.scratch.check(&self.bin, args);
        let verdict = judge(&done, &all);
        if verdict == Verdict::Accepted {
            check_effective(&done.stdout);
        }
        verdict
    }
}

/// `train --check --config FILE` with a mutated JSON or TOML config (the input's first byte
/// picks the format). Oracles: [`judge`], [`check_effective`], nothing written, and a refusal
/// names a file, a field or a flag.
pub struct Config {
    bin: PathBuf,
    scratch: Scratch,
    seeds: Vec<Vec<u8>>,
}

impl Config {
    pub fn new(work: &Path) -> anyhow::Result<Self> {
        let toml = "dataset = \"fashion-mnist\"\ndata_dir = \"@DATA@\"\nmodel = \"micro-resnet\"\n\
                    epochs = 2\nbatch_size = 8\n\
                    optimizer = \"lookahead(sgd(momentum=0.9), k=5, alpha=0.5)\"\n\
                    schedule = \"one-cycle\"\nlr_max = 0.1\nmoms = [0.95, 0.85]\n\
                    weight_decay = 0.0005\nmixup = 0.4\nlabel_smoothing = 0.1\nseed = 7\n\
                    train_limit = 16\nprecision = \"f32\"\nlr_decay_epochs = [1]\n";
        let json = "{\n  \"dataset\": \"fashion-mnist\",\n  \"data_dir\": \"@DATA@\",\n  \
                    \"model\": \"micro-resnet\",\n  \"epochs\": 2,\n  \"batch_size\": 8,\n  \
                    \"optimizer\": \"adamw(wd=0.01)\",\n  \"true_weight_decay\": 0.01,\n  \
                    \"eval_weights\": \"fast\",\n  \"transforms\": \"fastai-v1\",\n  \
                    \"tensorboard\": false\n}\n";
        Ok(Self {
            bin: binary()?,
            scratch: Scratch::new(work, "cli-config")?,
            seeds: vec![
                with_choice(0, json.as_bytes()),
                with_choice(1, toml.as_bytes()),
            ],
        })
    }
}

impl Target for Config {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let (choice, text) = split_choice(seed, 2);
        let text = String::from_utf8_lossy(text);
        with_choice(choice, mutate_text(&text, &FIELD_WORDS, rng).as_bytes())
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        let (choice, text) = split_choice(input, 2);
        let text = String::from_utf8_lossy(text);
        let data = self.scratch.root.join("data");
        let text = text.replace("@DATA@", &data.to_string_lossy());
        let file = self.scratch.root.join("folder").join(match choice {
            0 => "config.json",
            _ => "config.toml",
        });
        std::fs::write(&file, text).expect("the scratch folder is writable");
        self.scratch.before = Snapshot::of(&self.scratch.root);
        let (done, all) = self
            .scratch
            .check(&self.bin, ["--config".into(), file.clone().into()]);
        remove(&file);
        self.scratch.before = Snapshot::of(&self.scratch.root);
        let verdict = judge(&done, &all);
        match verdict {
            Verdict::Accepted => check_effective(&done.stdout),
            Verdict::Refused => {
                let line = done.stderr.lines().find(|l| l.starts_with("error:"));
                let line = line.unwrap_or_default();
                assert!(
                    line.contains("config.") || line.contains('`') || line.contains('/'),
                    "a refusal that names no file, field or flag: {line}"
                );
            }
        }
        verdict
    }
}
