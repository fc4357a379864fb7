//! Where a run's configuration comes from. Four layers, each overriding the one before: the
//! defaults, a **recipe** (a suite's shared recipe, or one arm of it: `--recipe cifar10`,
//! `--recipe seed-cifar10:la-sgd`; by default the corrected suite of the run's dataset, so that
//! `train cifar10` trains the study's CIFAR-10 recipe and not a toy), a config **file**, and
//! the **flags**. [`Layered`] is the result: the config, and for every field that differs from
//! the defaults the layer that set it, printed before training and saved in the run directory
//! (`config_sources.json`).

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{DatasetKind, Schedule, TrainConfig};
use crate::suite::Suite;

/// The layer a field's value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A recipe: the suite (and arm) named.
    Recipe(String),
    /// A config file.
    File(String),
    /// A command-line flag.
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Recipe(name) => write!(f, "recipe {name}"),
            Source::File(path) => write!(f, "file {path}"),
            Source::Flag => f.write_str("flag"),
        }
    }
}

/// The corrected suite whose recipe a dataset trains with by default (`None`: the defaults,
/// which are already the committed Fashion-MNIST's quick recipe).
pub fn dataset_recipe(dataset: &DatasetKind) -> Option<&'static str> {
    match dataset {
        DatasetKind::Cifar10 => Some("cifar10"),
        DatasetKind::Cifar100 => Some("cifar100"),
        DatasetKind::Imagenette(_) => Some("imagenette"),
        DatasetKind::FashionMnistEmbedded | DatasetKind::FashionMnist => None,
    }
}

/// The fields a recipe sets: `suite` (its shared recipe and first dataset) or `suite:label` (that
/// arm's whole run config: optimizer, learning rate, weight decay, flip), each a shipped suite
/// or a suite file; the seed is left to the other layers.
pub fn recipe_fields(recipe: &str) -> anyhow::Result<Map<String, Value>> {
    let (name, label) = match recipe.rsplit_once(':') {
        Some((name, label)) if !name.is_empty() => (name, Some(label)),
        _ => (recipe, None),
    };
    let suite = Suite::load(name).with_context(|| format!("--recipe {recipe}"))?;
    let mut config = suite.recipe.clone();
    if let Some(dataset) = suite.datasets.first() {
        config.dataset = dataset.clone();
    }
    if let Some(label) = label {
        let Some(run) = suite
            .runs(std::path::Path::new("."))
            .into_iter()
            .find(|r| r.label == label)
        else {
            let labels: Vec<&str> = suite.optimizers.iter().map(|o| o.label.as_str()).collect();
            bail!(
                "--recipe {recipe}: suite `{name}` has no arm `{label}` (it has {})",
                labels.join(", ")
            );
        };
        config = run.config;
    }
    let mut fields = non_default(&config)?;
    fields.remove("seed");
    Ok(fields)
}

/// The fields of `config` that differ from the defaults.
fn non_default(config: &TrainConfig) -> anyhow::Result<Map<String, Value>> {
    let (Value::Object(mine), Value::Object(defaults)) = (
        serde_json::to_value(config)?,
        serde_json::to_value(TrainConfig::new())?,
    ) else {
        bail!("a config is not a table");
    };
    Ok(mine
        .into_iter()
        .filter(|(k, v)| defaults.get(k) != Some(v))
        .collect())
}

/// A config and where each of its non-default fields came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Layered {
    /// The effective config.
    pub config: TrainConfig,
    /// Field → (value as written, source), for every field that differs from the defaults.
    pub sources: BTreeMap<String, (String, Source)>,
    /// What a layer changed under another's feet, said before training (a run length that
    /// leaves a recipe's step decay where it was).
    pub notes: Vec<String>,
}

impl Layered {
    /// The defaults overridden by each layer in turn (each parsed and checked as a file's
    /// fields: an unknown field or a bad value names the field).
    pub fn new(layers: Vec<(Source, Map<String, Value>)>) -> anyhow::Result<Self> {
        let mut config = TrainConfig::new();
        let mut set_by: BTreeMap<String, Source> = BTreeMap::new();
        // The layer that set the decay epochs, and the run length they were set for.
        let mut decay_set: Option<(Source, usize)> = None;
        for (source, fields) in layers {
            for key in fields.keys() {
                set_by.insert(key.clone(), source.clone());
            }
            let sets_decay = fields.contains_key("lr_decay_epochs");
            config = config
                .with_fields(fields)
                .with_context(|| source.to_string())?;
            if sets_decay {
                decay_set = Some((source, config.epochs));
            }
        }
        let notes = decay_set
            .and_then(|(source, epochs)| step_decay_note(&config, &source, epochs))
            .into_iter()
            .collect();
        let sources = non_default(&config)?
            .into_iter()
            .filter_map(|(k, v)| {
                let source = set_by.get(&k)?.clone();
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                Some((k, (text, source)))
            })
            .collect();
        Ok(Self {
            config,
            sources,
            notes,
        })
    }

    /// A config that came whole from one source (a suite's run: `suite:label`), its non-default
    /// fields attributed to it.
    pub fn from_source(config: &TrainConfig, source: Source) -> anyhow::Result<Self> {
        Self::new(vec![(source, non_default(config)?)])
    }

    /// The sources as JSON (`config_sources.json`): field → `{ value, source }`.
    pub fn sources_json(&self) -> Value {
        Value::Object(
            self.sources
                .iter()
                .map(|(k, (v, s))| {
                    (
                        k.clone(),
                        serde_json::json!({ "value": v, "source": s.to_string() }),
                    )
                })
                .collect(),
        )
    }
}

/// A step decay set for a run of `set_for` epochs, in a run of another length: what happens to
/// the learning rate, and the decay epochs at the same fractions of training.
fn step_decay_note(config: &TrainConfig, source: &Source, set_for: usize) -> Option<String> {
    let (epochs, decay) = (config.epochs, &config.lr_decay_epochs.0);
    if config.schedule != Schedule::StepDecay || epochs == set_for || decay.is_empty() {
        return None;
    }
    // Decay epoch e (0-based) ends a phase after e + 1 of `set_for` epochs: the same fraction of
    // `epochs`, rounded, at least one epoch after the one before.
    let mut scaled: Vec<usize> = Vec::new();
    for e in decay {
        let end = ((e + 1) * epochs + set_for / 2) / set_for.max(1);
        let min = scaled.last().map_or(0, |last| last + 1);
        scaled.push(end.saturating_sub(1).max(min));
    }
    let last = decay.last().copied().unwrap_or(0);
    let factor = config.lr_decay_factor.powi(decay.len() as i32);
    let tail = match epochs.checked_sub(last + 1) {
        Some(n) if n > 0 => format!(
            "the learning rate is divided after epochs {} and stays at 1/{factor} of its peak \
             for the last {n} of {epochs} epochs",
            config.lr_decay_epochs
        ),
        _ => format!(
            "decay epochs {} at or past the run's end never all take effect",
            config.lr_decay_epochs
        ),
    };
    let scaled: Vec<String> = scaled.iter().map(usize::to_string).collect();
    Some(format!(
        "epochs = {epochs}, but the step decay ({source}) was set for {set_for} epochs: {tail}. \
         To keep its phases at the same fractions of training, pass --lr-decay-epochs {}.",
        scaled.join(",")
    ))
}

/// `effective configuration (fields that differ from the defaults):` then one `field = value
/// (source)` line per field.
impl fmt::Display for Layered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "effective configuration (fields that differ from the defaults):"
        )?;
        let width = self.sources.keys().map(String::len).max().unwrap_or(0);
        for (field, (value, source)) in &self.sources {
            writeln!(f, "  {field:<width$} = {value}  ({source})")?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Map<String, Value> {
        match toml::from_str::<Value>(text).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_dataset_trains_its_suite_recipe_and_flags_override_it() {
        assert_eq!(dataset_recipe(&DatasetKind::Cifar10), Some("cifar10"));
        assert_eq!(dataset_recipe(&DatasetKind::FashionMnistEmbedded), None);
        let recipe = recipe_fields("cifar10").unwrap();
        let suite = Suite::load("cifar10").unwrap();
        let layered = Layered::new(vec![
            (Source::Recipe("cifar10".into()), recipe),
            (Source::Flag, fields("epochs = 3")),
        ])
        .unwrap();
        let c = &layered.config;
        assert_eq!(c.model, suite.recipe.model);
        assert_eq!(c.batch_size, suite.recipe.batch_size);
        assert_eq!(c.dataset, DatasetKind::Cifar10);
        assert_eq!(c.epochs, 3);
        let (value, source) = &layered.sources["epochs"];
        assert_eq!((value.as_str(), source), ("3", &Source::Flag));
        assert_eq!(layered.sources["model"].1, Source::Recipe("cifar10".into()));
        let text = layered.to_string();
        assert!(text.contains("epochs") && text.contains("(flag)"), "{text}");
        assert!(text.contains("(recipe cifar10)"), "{text}");
    }

    #[test]
    fn an_arm_brings_its_optimizer_and_a_bad_name_is_named() {
        let arm = recipe_fields("seed-cifar10:adamw").unwrap();
        let layered =
            Layered::new(vec![(Source::Recipe("seed-cifar10:adamw".into()), arm)]).unwrap();
        assert_eq!(layered.config.lr_max, 0.001);
        assert_eq!(layered.config.optimizer.to_string(), "adamw(wd=0.3)");
        assert_eq!(layered.config.seed, TrainConfig::new().seed);
        let err = format!("{:#}", recipe_fields("seed-cifar10:nope").unwrap_err());
        assert!(err.contains("`nope`") && err.contains("la-sgd"), "{err}");
        let err = format!("{:#}", recipe_fields("no-such-suite").unwrap_err());
        assert!(err.contains("no-such-suite"), "{err}");
        let err = format!(
            "{:#}",
            Layered::new(vec![(Source::File("run.toml".into()), fields("epoch = 3"))]).unwrap_err()
        );
        assert!(err.contains("run.toml") && err.contains("`epoch`"), "{err}");
    }

    /// A run length other than the one a recipe's step decay was set for is said before
    /// training, with the decay epochs at the same fractions.
    #[test]
    fn a_longer_run_is_told_where_the_step_decay_stays() {
        let arm = recipe_fields("seed-quick:adamw").unwrap();
        let recipe = Source::Recipe("seed-quick:adamw".into());
        let layered = Layered::new(vec![
            (recipe.clone(), arm.clone()),
            (Source::Flag, fields("epochs = 30")),
        ])
        .unwrap();
        let text = layered.to_string();
        assert!(
            text.contains("stays at 1/125 of its peak for the last 27 of 30 epochs")
                && text.contains("--lr-decay-epochs 7,14,22"),
            "{text}"
        );
        let same = Layered::new(vec![(recipe, arm)]).unwrap();
        assert!(same.notes.is_empty());
    }
}
