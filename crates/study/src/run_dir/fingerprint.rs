//! `fingerprint.json`: what must not change while a run is continued (`--resume`, `compare`).
//!
//! A run continued under another recipe, or from another run's checkpoint, would mix two runs
//! in one directory without a trace. The fingerprint is written when a run starts from epoch 0
//! and checked before anything is written by every later session: every config field but the
//! ones that only say where data lives or what else is written ([`MAY_CHANGE`]), and the ids
//! Burn drew for the model's parameters (random per run, saved in every checkpoint), so a
//! checkpoint from another run is refused even when the recipes are equal.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::TrainConfig;

/// `fingerprint.json`.
pub const FINGERPRINT: &str = "fingerprint.json";

/// Config fields a continued run may change: where the data is read from, and whether
/// TensorBoard files are written. Every other field changes what is trained.
pub const MAY_CHANGE: [&str; 2] = ["data_dir", "tensorboard"];

/// What must not change while a run is continued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fingerprint {
    /// Every config field but [`MAY_CHANGE`], as written in `config.json`.
    pub config: BTreeMap<String, Value>,
    /// A digest of the model's parameter ids ([`param_digest`]); `None` when not yet known.
    pub params: Option<String>,
}

/// A digest of a model's parameter ids (order-free): 16 hex digits of SHA-256 over the sorted
/// ids.
pub fn param_digest(ids: impl IntoIterator<Item = u64>) -> String {
    use sha2::{Digest, Sha256};
    let mut ids: Vec<u64> = ids.into_iter().collect();
    ids.sort_unstable();
    let mut hash = Sha256::new();
    for id in ids {
        hash.update(id.to_le_bytes());
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Fingerprint {
    /// The fingerprint of `config` (parameters not yet known).
    pub fn of(config: &TrainConfig) -> anyhow::Result<Self> {
        let Value::Object(fields) = serde_json::to_value(config)? else {
            bail!("a config serialises to a JSON object");
        };
        let config = fields
            .into_iter()
            .filter(|(name, _)| !MAY_CHANGE.contains(&name.as_str()))
            .collect();
        Ok(Self {
            config,
            params: None,
        })
    }

    /// With the digest of the model's parameter ids.
    pub fn with_params(self, digest: String) -> Self {
        Self {
            params: Some(digest),
            ..self
        }
    }

    /// The config fields that differ between the run's start (`self`) and `now`, each as
    /// "field `name`: the run started with A, now B".
    pub fn config_changes(&self, now: &Self) -> Vec<String> {
        let missing = Value::String("(absent)".into());
        let mut names: Vec<&String> = self.config.keys().chain(now.config.keys()).collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .filter_map(|name| {
                let then = self.config.get(name).unwrap_or(&missing);
                let now = now.config.get(name).unwrap_or(&missing);
                (then != now)
                    .then(|| format!("field `{name}`: the run started with {then}, now {now}"))
            })
            .collect()
    }

    /// Refuses `now` when a config field differs from the run's start: an error naming each
    /// field, what the run started with and what it is now. `what` names `now`'s source.
    pub fn check_config(&self, now: &Self, dir: &Path, what: &str) -> anyhow::Result<()> {
        let changes = self.config_changes(now);
        if changes.is_empty() {
            return Ok(());
        }
        bail!(
            "{}: {what} differs from the recipe the run started with ({}); a run continues \
             only under its own recipe: restore it, or train into another directory\n  {}",
            dir.display(),
            dir.join(FINGERPRINT).display(),
            changes.join("\n  ")
        )
    }

    /// Refuses a checkpoint whose parameter ids are not the ones this run started with.
    pub fn check_params(&self, digest: &str, checkpoint: &Path) -> anyhow::Result<()> {
        match &self.params {
            Some(own) if own != digest => bail!(
                "{} belongs to another run: its parameter ids (digest {digest}) are not the ones \
                 this run started with ({own}); put back this run's own checkpoint or delete the \
                 directory",
                checkpoint.display()
            ),
            _ => Ok(()),
        }
    }
}

/// Reads `dir/fingerprint.json`; `None` for a run directory from before fingerprints.
pub fn read_fingerprint(dir: &Path) -> anyhow::Result<Option<Fingerprint>> {
    let path = dir.join(FINGERPRINT);
    if !path.exists() {
        return Ok(None);
    }
    let text = crate::input::read_text(&path)?;
    let fingerprint = crate::input::from_json(&text).with_context(|| {
        format!(
            "corrupt {}: nothing else shows which recipe the checkpoints were trained with; \
             delete the run directory to start again",
            path.display()
        )
    })?;
    Ok(Some(fingerprint))
}

/// Writes `dir/fingerprint.json`, atomically.
pub fn write_fingerprint(dir: &Path, fingerprint: &Fingerprint) -> anyhow::Result<()> {
    let path = dir.join(FINGERPRINT);
    let text = serde_json::to_string_pretty(fingerprint)?;
    Ok(data::write_atomic(&path, text.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_field_is_named_with_both_values_and_data_dir_may_change() {
        let start = TrainConfig::default();
        let mut now = start.clone();
        now.lr_max = 0.2;
        now.data_dir = Some("elsewhere".into());
        now.tensorboard = false;
        let (a, b) = (
            Fingerprint::of(&start).unwrap(),
            Fingerprint::of(&now).unwrap(),
        );
        let changes = a.config_changes(&b);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(changes[0].contains("`lr_max`") && changes[0].contains("0.05"));
        assert!(changes[0].contains("0.2"));
        let dir = Path::new("runs/x");
        let err = a.check_config(&b, dir, "config.json").unwrap_err();
        assert!(format!("{err}").contains("lr_max"));
        assert!(a.check_config(&a.clone(), dir, "config.json").is_ok());
    }

    #[test]
    fn every_recipe_field_but_the_allowed_ones_is_fingerprinted() {
        let f = Fingerprint::of(&TrainConfig::default()).unwrap();
        for name in [
            "model",
            "optimizer",
            "dataset",
            "batch_size",
            "seed",
            "precision",
        ] {
            assert!(f.config.contains_key(name), "{name}");
        }
        for name in ["train_limit", "valid_limit", "epochs", "schedule", "moms"] {
            assert!(f.config.contains_key(name), "{name}");
        }
        assert!(!f.config.contains_key("data_dir") && !f.config.contains_key("tensorboard"));
    }

    #[test]
    fn param_digests_ignore_order_and_tell_runs_apart() {
        assert_eq!(param_digest([3, 1, 2]), param_digest([1, 2, 3]));
        assert_ne!(param_digest([1, 2, 3]), param_digest([1, 2, 4]));
        let f = Fingerprint::of(&TrainConfig::default())
            .unwrap()
            .with_params(param_digest([1, 2]));
        let file = Path::new("checkpoint/model-1.mpk");
        assert!(f.check_params(&param_digest([2, 1]), file).is_ok());
        let err = f.check_params(&param_digest([5]), file).unwrap_err();
        assert!(format!("{err}").contains("another run"));
    }

    #[test]
    fn a_corrupt_fingerprint_is_an_error_naming_the_file_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_fingerprint(dir.path()).unwrap().is_none());
        let f = Fingerprint::of(&TrainConfig::default())
            .unwrap()
            .with_params("ab".into());
        write_fingerprint(dir.path(), &f).unwrap();
        assert_eq!(read_fingerprint(dir.path()).unwrap(), Some(f));
        std::fs::write(dir.path().join(FINGERPRINT), "{\"config\": 3").unwrap();
        let err = read_fingerprint(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains(FINGERPRINT));
    }
}
