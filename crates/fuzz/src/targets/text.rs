//! Text targets: optimizer specs, run configs (JSON and TOML), suite files.

use std::path::{Component, Path, PathBuf};

use study::config::TrainConfig;
use study::spec::OptimizerSpec;
use study::suite::{SHIPPED, Suite};

use super::{Target, Verdict};
use crate::mutate::{Rng, mutate_text};

/// Names the spec grammar knows.
pub(super) const SPEC_WORDS: [&str; 22] = [
    "lookahead",
    "ranger",
    "sgd",
    "adam",
    "adamw",
    "rmsprop",
    "radam",
    "k",
    "alpha",
    "reset",
    "keep",
    "pullback",
    "zero-moments",
    "theta1",
    "momentum",
    "wd",
    "beta1",
    "beta2",
    "eps",
    "dampening",
    "nesterov",
    "alpha=",
];

/// Names of config and suite fields.
pub(super) const FIELD_WORDS: [&str; 14] = [
    "epochs",
    "batch_size",
    "lr_max",
    "optimizer",
    "model",
    "dataset",
    "seed",
    "moms",
    "weight_decay",
    "image_size",
    "label",
    "seeds",
    "baseline",
    "[[optimizers]]",
];

fn text_of(input: &[u8]) -> String {
    String::from_utf8_lossy(input).into_owned()
}

/// `OptimizerSpec::parse`; oracle: an accepted spec prints to a spec that parses to itself.
pub struct Spec {
    seeds: Vec<Vec<u8>>,
}

impl Spec {
    pub fn new() -> Self {
        let seeds = [
            "sgd(momentum=0.9)",
            "lookahead(sgd(momentum=0.9, wd=5e-4), k=5, alpha=0.5, reset)",
            "lookahead(adamw(beta1=0.9, beta2=0.99, eps=1e-6, wd=0.01), k=6, alpha=0.8, pullback, theta1)",
            "ranger(k=6, alpha=0.5)",
            "lookahead(rmsprop(momentum=0.9, alpha=0.99), k=10, alpha=0.5, zero-moments)",
            "radam(beta1=0.95)",
        ];
        Self {
            seeds: seeds.iter().map(|s| s.as_bytes().to_vec()).collect(),
        }
    }
}

impl Target for Spec {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        mutate_text(&text_of(seed), &SPEC_WORDS, rng).into_bytes()
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        let result = OptimizerSpec::parse(&text_of(input));
        if let Ok(spec) = &result {
            let printed = spec.to_string();
            match OptimizerSpec::parse(&printed) {
                Ok(again) if again == *spec => {}
                other => panic!("accepted spec prints as `{printed}`, which parses to {other:?}"),
            }
        }
        Verdict::from(&result)
    }
}

/// `TrainConfig::from_file` and `check`, JSON and TOML; oracle: an accepted config survives a
/// JSON round trip unchanged (so every float in it is finite).
pub struct Config {
    seeds: Vec<Vec<u8>>,
    dir: PathBuf,
}

impl Config {
    pub fn new(work: &Path) -> Self {
        let toml = "dataset = \"fashion-mnist-embedded\"\nmodel = \"micro-resnet\"\nepochs = 3\n\
                    batch_size = 64\noptimizer = \"lookahead(sgd(momentum=0.9), k=5, alpha=0.5)\"\n\
                    schedule = \"onecycle\"\nlr_max = 0.1\nmoms = [0.95, 0.85]\n\
                    weight_decay = 0.0005\nmixup = 0.4\nlabel_smoothing = 0.1\nseed = 7\n\
                    train_limit = 1000\nprecision = \"f32\"\nlr_decay_epochs = [60, 120]\n";
        let json = serde_json::to_string_pretty(&TrainConfig::default()).unwrap_or_default();
        Self {
            seeds: vec![toml.into(), json.into_bytes()],
            dir: work.to_path_buf(),
        }
    }
}

impl Target for Config {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        mutate_text(&text_of(seed), &FIELD_WORDS, rng).into_bytes()
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        let json = input.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let path = self
            .dir
            .join(if json { "config.json" } else { "config.toml" });
        std::fs::write(&path, input).expect("the work directory is writable");
        let result = TrainConfig::from_file(&path).and_then(|c| c.check().map(|()| c));
        if let Ok(config) = &result {
            let text = serde_json::to_string(config).expect("a config serialises");
            let again: TrainConfig = serde_json::from_str(&text).expect("and reads back");
            assert!(
                again == *config,
                "accepted config changes in a round trip: {text}"
            );
        }
        Verdict::from(&result)
    }
}

/// `Suite::parse` and `check`; oracle: the runs of an accepted suite have distinct
/// directories, each inside the output directory.
pub struct SuiteFile {
    seeds: Vec<Vec<u8>>,
}

impl SuiteFile {
    pub fn new() -> Self {
        let seeds = SHIPPED
            .iter()
            .filter(|(name, _)| ["quick", "seed-quick", "cifar10"].contains(name))
            .map(|(_, text)| text.as_bytes().to_vec())
            .collect();
        Self { seeds }
    }
}

impl Target for SuiteFile {
    fn seeds(&self) -> &[Vec<u8>] {
        &self.seeds
    }

    fn mutate(&self, seed: &[u8], rng: &mut Rng) -> Vec<u8> {
        let mut words = FIELD_WORDS.to_vec();
        words.extend(["\".\"", "\"..\"", "published", "claims", "errata"]);
        mutate_text(&text_of(seed), &words, rng).into_bytes()
    }

    fn run(&mut self, input: &[u8]) -> Verdict {
        let result = Suite::parse(&text_of(input), "fuzz").and_then(|s| s.check().map(|()| s));
        if let Ok(suite) = &result {
            let runs = suite.runs(Path::new("out"));
            let mut dirs: Vec<&PathBuf> = runs.iter().map(|r| &r.dir).collect();
            dirs.sort();
            dirs.dedup();
            assert_eq!(dirs.len(), runs.len(), "two runs share a directory");
            for dir in dirs {
                let inside = dir
                    .components()
                    .skip(1)
                    .all(|c| matches!(c, Component::Normal(_)));
                assert!(inside, "run directory {} leaves the suite's", dir.display());
            }
        }
        Verdict::from(&result)
    }
}
