//! One training run's recipe: [`TrainConfig`] (a Burn `Config`, every field defaulted, read from
//! JSON or TOML), checked by [`TrainConfig::check`] before anything is trained.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::config::Config;
pub use data::DatasetKind;
use serde::{Deserialize, Serialize};

pub use crate::model::ModelKind;
use crate::spec::OptimizerSpec;

/// The learning-rate schedule of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// fastai's `fit_one_cycle`: warm-up to `lr_max` over 25 % of the steps, cosine down.
    OneCycle,
    /// fastai's `fit_flat_cos`: `lr_max` for 75 % of the steps, cosine down.
    FlatCos,
    /// `lr_max` throughout.
    Constant,
}

impl std::str::FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "onecycle" => Ok(Schedule::OneCycle),
            "flatcos" => Ok(Schedule::FlatCos),
            "constant" => Ok(Schedule::Constant),
            _ => Err(format!(
                "unknown schedule `{s}`; known: onecycle, flatcos, constant"
            )),
        }
    }
}

/// The float precision of a run's forward and backward passes. The weights, the optimizer's
/// state and Lookahead's slow weights are f32 in every case (master weights); see
/// [`models::compute_copy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// Convolutions and the classifier in bfloat16 (CUDA on Ampere or later; Flex on CPU).
    /// BatchNorm and the loss stay in f32. No loss scaling is needed: bf16 has f32's range.
    Bf16,
    /// Convolutions and the classifier in float16 (CUDA, wgpu/Vulkan/Metal with shader-f16).
    /// BatchNorm and the loss stay in f32; the loss is scaled before the backward pass and the
    /// gradients unscaled (static loss scaling, `loss_scale`), so small gradients survive f16.
    F16,
}

impl Precision {
    /// The dtype of the forward and backward passes.
    pub fn dtype(self) -> burn::tensor::FloatDType {
        use burn::tensor::FloatDType;
        match self {
            Precision::F32 => FloatDType::F32,
            Precision::Bf16 => FloatDType::BF16,
            Precision::F16 => FloatDType::F16,
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "fp32" | "float32" => Ok(Precision::F32),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            "f16" | "fp16" | "float16" => Ok(Precision::F16),
            _ => Err(format!("unknown precision `{s}`; known: f32, bf16, f16")),
        }
    }
}

/// Declares [`TrainConfig`] and its command-line overrides [`TrainFlags`] from one list of
/// fields: each field's doc (also its `--help`), name, type and default are written once.
/// `flag T` is the type a flag parses (a field `Option<T>` has flag `T`: the flag sets it).
/// A default is one token: a literal, or a string holding an expression (Burn's `Config`).
macro_rules! train_config {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $ty:ty, flag $flag:ty = $default:tt;
    )*) => {
        /// The recipe of one training run. Every field has a default, so a config file names
        /// only what it changes (`{"dataset": "cifar10", "epochs": 30}`).
        #[derive(Config, Debug, PartialEq)]
        pub struct TrainConfig {
            $(
                $(#[doc = $doc])*
                #[config(default = $default)]
                pub $name: $ty,
            )*
        }

        /// The command-line overrides of a [`TrainConfig`]: one optional `--field-name` flag per
        /// field, parsed by the field's own `FromStr`; the flags given replace the fields of the
        /// config file (or of the defaults), through [`TrainConfig::with_flags`].
        #[derive(clap::Args, Serialize, Debug, Clone, Default)]
        pub struct TrainFlags {
            $(
                $(#[doc = $doc])*
                #[arg(long)]
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $name: Option<$flag>,
            )*
        }
    };
}

train_config! {
    /// Dataset: `fashion-mnist-embedded` (committed, offline), `fashion-mnist`, `cifar10`,
    /// `cifar100`, `imagenette` (imagenette2-160/-320/full, whichever is on disk), an exact
    /// Imagenette/Imagewoof folder name (`imagenette2-320`, `imagewoof2-160`, …). Default
    /// `fashion-mnist-embedded`.
    dataset: DatasetKind, flag DatasetKind = "DatasetKind::FashionMnistEmbedded";
    /// Where datasets live; default `$LOOKAHEAD_DATA_DIR`, else `datasets/`.
    data_dir: Option<String>, flag String = "None";
    /// Model: `tiny-resnet`, `micro-resnet`, `tiny-xresnet`, `resnet18-cifar`, `resnet18`, `resnet34`,
    /// `resnet50`, `xresnet18`, `xresnet34`, `xresnet50` (append `-mish` to an XResNet for
    /// Mish). Default `tiny-resnet`.
    model: ModelKind, flag ModelKind = "ModelKind::TinyResNet";
    /// Training/validation image side for Imagenette (random-resized crop / center crop).
    /// Default 128, the study's size. CIFAR and Fashion-MNIST keep their native size.
    image_size: usize, flag usize = 128;
    /// Epochs. Default 5.
    epochs: usize, flag usize = 5;
    /// Batch size. Default 128.
    batch_size: usize, flag usize = 128;
    /// Optimizer spec (see `OptimizerSpec`), e.g. `lookahead(sgd(momentum=0.9), k=5, alpha=0.5,
    /// reset)`. Default `sgd(momentum=0.9)`.
    optimizer: OptimizerSpec, flag OptimizerSpec = "OptimizerSpec::sgd_momentum()";
    /// Learning-rate schedule. Default one-cycle.
    schedule: Schedule, flag Schedule = "Schedule::OneCycle";
    /// Peak (one-cycle, flat-cos) or constant learning rate. Default 0.05.
    lr_max: f64, flag f64 = 0.05;
    /// Overrides the optimizer spec's weight decay when set. Default none (the spec's).
    weight_decay: Option<f64>, flag f64 = "None";
    /// Mixup α (fastai's `MixUp`); 0 disables mixup. Default 0.
    mixup: f64, flag f64 = 0.0;
    /// Label smoothing ε of the training loss. Default 0.
    label_smoothing: f64, flag f64 = 0.0;
    /// Seed of the model initialisation, the data order, augmentation and mixup. Default 42.
    seed: u64, flag u64 = 42;
    /// Train on the first N training images only (after a seeded shuffle); default all.
    train_limit: Option<usize>, flag usize = "None";
    /// Validate on the first N validation images only; default all.
    valid_limit: Option<usize>, flag usize = "None";
    /// Precision of the forward and backward passes: `f32`, `bf16` or `f16` (mixed precision
    /// over f32 master weights, on backends that support the type). Default `f32`.
    precision: Precision, flag Precision = "Precision::F32";
    /// Static loss scale: the loss is multiplied by it before the backward pass and the
    /// gradients divided by it. Default: 1024 with `f16`, 1 otherwise.
    loss_scale: Option<f64>, flag f64 = "None";
}

impl TrainConfig {
    /// Reads a config from JSON (`.json`) or TOML (any other extension), naming the file and
    /// the field on error. Missing fields take their defaults.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let value: serde_json::Value = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text)
                .with_context(|| format!("invalid config {}", path.display()))?
        } else {
            toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))?
        };
        Self::from_value(value).with_context(|| format!("invalid config {}", path.display()))
    }

    /// A config from a JSON-like value naming some fields: the others take their defaults, an
    /// unknown field is an error naming it, and a value that does not parse is an error naming
    /// its field (`field `model`: unknown model `vgg`; …`).
    pub fn from_value(value: serde_json::Value) -> anyhow::Result<Self> {
        let serde_json::Value::Object(given) = value else {
            bail!("expected a table of fields");
        };
        let serde_json::Value::Object(mut merged) = serde_json::to_value(Self::new())? else {
            bail!("the default config is not a table");
        };
        for (key, value) in given {
            if !merged.contains_key(&key) {
                let known: Vec<&String> = merged.keys().collect();
                bail!(
                    "unknown field `{key}`; known: {}",
                    known
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            merged.insert(key.clone(), value);
        }
        serde_path_to_error::deserialize(serde_json::Value::Object(merged)).map_err(|e| {
            let field = e.path().to_string();
            anyhow::anyhow!("field `{field}`: {}", e.into_inner())
        })
    }

    /// This config with the fields given in `flags` replaced (each checked as in a file).
    pub fn with_flags(&self, flags: &TrainFlags) -> anyhow::Result<Self> {
        let serde_json::Value::Object(fields) = serde_json::to_value(flags)? else {
            bail!("the flags are not a table");
        };
        self.with_fields(fields)
    }

    /// This config with the fields of `fields` replaced (each parsed and checked as in a file).
    pub fn with_fields(
        &self,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> anyhow::Result<Self> {
        let serde_json::Value::Object(mut merged) = serde_json::to_value(self)? else {
            bail!("the config is not a table");
        };
        merged.extend(fields);
        Self::from_value(serde_json::Value::Object(merged))
    }

    /// serde `deserialize_with` for a [`TrainConfig`] field with defaults for missing fields
    /// (the `recipe` of a suite).
    pub fn deserialize_with_defaults<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Self::from_value(value).map_err(|e| serde::de::Error::custom(format!("{e:#}")))
    }

    /// The optimizer spec with `weight_decay` applied.
    pub fn optimizer_spec(&self) -> OptimizerSpec {
        let mut spec = self.optimizer.clone();
        if let Some(wd) = self.weight_decay {
            spec.set_weight_decay(wd);
        }
        spec
    }

    /// The loss scale in effect (`loss_scale`, else 1024 for f16 and 1 otherwise).
    pub fn effective_loss_scale(&self) -> f64 {
        self.loss_scale.unwrap_or(match self.precision {
            Precision::F16 => 1024.0,
            _ => 1.0,
        })
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        data::data_dir(self.data_dir.as_deref().map(Path::new))
    }

    /// Checks the numeric fields (not the data on disk; the typed fields were checked when
    /// parsed): the errors name the field.
    pub fn check(&self) -> anyhow::Result<()> {
        let positive = [
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("image_size", self.image_size),
        ];
        for (field, value) in positive {
            if value == 0 {
                bail!("field `{field}`: must be at least 1");
            }
        }
        if !(self.lr_max.is_finite() && self.lr_max > 0.0) {
            bail!(
                "field `lr_max`: must be a positive number, got {}",
                self.lr_max
            );
        }
        if let Some(wd) = self.weight_decay
            && !(wd.is_finite() && wd >= 0.0)
        {
            bail!("field `weight_decay`: must be ≥ 0, got {wd}");
        }
        if !(self.mixup.is_finite() && self.mixup >= 0.0) {
            bail!("field `mixup`: must be ≥ 0 (0 = off), got {}", self.mixup);
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            bail!(
                "field `label_smoothing`: must be in [0, 1), got {}",
                self.label_smoothing
            );
        }
        if self.precision == Precision::F32 && self.loss_scale.is_some_and(|s| s != 1.0) {
            bail!("field `loss_scale`: only meaningful with `precision` bf16 or f16");
        }
        if let Some(scale) = self.loss_scale
            && !(scale.is_finite() && scale > 0.0)
        {
            bail!("field `loss_scale`: must be a positive number, got {scale}");
        }
        for (field, limit) in [
            ("train_limit", self.train_limit),
            ("valid_limit", self.valid_limit),
        ] {
            if limit == Some(0) {
                bail!("field `{field}`: must be at least 1 when set");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_defaults_and_checks_name_the_field() {
        let config = TrainConfig::from_value(serde_json::json!({})).unwrap();
        assert_eq!(config, TrainConfig::new());
        config.check().unwrap();
        // Typed fields are refused when read, numeric ones by `check`: both name the field.
        let bad = |json: &str| match TrainConfig::from_value(serde_json::from_str(json).unwrap()) {
            Ok(config) => format!("{:#}", config.check().unwrap_err()),
            Err(e) => format!("{e:#}"),
        };
        let unknown = TrainConfig::from_value(serde_json::json!({"epoch": 3})).unwrap_err();
        assert!(unknown.to_string().contains("unknown field `epoch`"));
        assert!(bad(r#"{"epochs": 0}"#).contains("`epochs`"));
        assert!(bad(r#"{"lr_max": -1}"#).contains("`lr_max`"));
        assert!(bad(r#"{"model": "vgg"}"#).contains("unknown model `vgg`"));
        assert!(bad(r#"{"model": "vgg"}"#).contains("field `model`"));
        assert!(bad(r#"{"dataset": "mnist"}"#).contains("unknown dataset `mnist`"));
        let k0 = bad(r#"{"optimizer": "lookahead(sgd, k=0)"}"#);
        assert!(k0.contains("`optimizer`") && k0.contains('k'), "{k0}");
        assert!(bad(r#"{"label_smoothing": 1.0}"#).contains("`label_smoothing`"));
    }

    #[test]
    fn toml_and_json_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("run.toml");
        std::fs::write(
            &toml_path,
            "dataset = \"cifar10\"\nepochs = 3\nschedule = \"flatcos\"\n",
        )
        .unwrap();
        let config = TrainConfig::from_file(&toml_path).unwrap();
        assert_eq!(
            config,
            TrainConfig::new()
                .with_dataset(DatasetKind::Cifar10)
                .with_epochs(3)
                .with_schedule(Schedule::FlatCos)
        );
        let json_path = dir.path().join("run.json");
        std::fs::write(&json_path, r#"{"epochs": "three"}"#).unwrap();
        let message = format!("{:#}", TrainConfig::from_file(&json_path).unwrap_err());
        assert!(
            message.contains("run.json") && message.contains("three"),
            "{message}"
        );
    }
}

/// The typed fields print as users write them and read back to the same value.
#[cfg(test)]
mod round_trip {
    use super::*;

    #[test]
    fn a_config_survives_json_unchanged() {
        let config = TrainConfig::new()
            .with_dataset(DatasetKind::Imagenette(Some("imagewoof2-320")))
            .with_model("xresnet18-mish".parse().unwrap())
            .with_optimizer(
                OptimizerSpec::parse("lookahead(rmsprop(momentum=0.9), k=4, pullback)").unwrap(),
            );
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["dataset"], "imagewoof2-320");
        assert_eq!(json["model"], "xresnet18-mish");
        assert_eq!(TrainConfig::from_value(json).unwrap(), config);
    }
}
