//! One training run's recipe: [`TrainConfig`] (every field defaulted, read from JSON or TOML),
//! checked by [`TrainConfig::check`] before anything is trained.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
pub use data::DatasetKind;
use serde::{Deserialize, Serialize};

pub use crate::model_kind::ModelKind;
use crate::spec::OptimizerSpec;

/// The learning-rate schedule of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// fastai v2's `fit_one_cycle`: warm-up to `lr_max` over 25 % of the steps, cosine down
    /// to `lr_max`/1e5.
    OneCycle,
    /// fastai v1's (1.0.59) `fit_one_cycle`: warm-up from `lr_max`/25 over ⌊30 %⌋ of the
    /// steps, cosine down to `lr_max`/2.5e5 (`OneCycleConfig::fastai_v1`).
    #[serde(rename = "onecycle-v1")]
    OneCycleV1,
    /// fastai's `fit_flat_cos`: `lr_max` for 75 % of the steps, cosine down.
    FlatCos,
    /// `lr_max` throughout.
    Constant,
    /// `lr_max`, divided by `lr_decay_factor` after each epoch of `lr_decay_epochs` (0-based
    /// indices: the seed study's `LRDecayCallback` on a plain `fit`).
    #[serde(rename = "step-decay")]
    StepDecay,
}

impl Schedule {
    /// Whether the schedule is a one-cycle schedule (the ones that can cycle the momentum).
    pub fn is_one_cycle(self) -> bool {
        matches!(self, Schedule::OneCycle | Schedule::OneCycleV1)
    }
}

impl std::str::FromStr for Schedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "onecycle" => Ok(Schedule::OneCycle),
            "onecyclev1" => Ok(Schedule::OneCycleV1),
            "flatcos" => Ok(Schedule::FlatCos),
            "constant" => Ok(Schedule::Constant),
            "stepdecay" => Ok(Schedule::StepDecay),
            _ => Err(format!(
                "unknown schedule `{s}`; known: onecycle, onecycle-v1, flatcos, constant, \
                 step-decay"
            )),
        }
    }
}

/// fastai's `moms`: the momentum cycled by a one-cycle schedule, `high` → `low` during the
/// warm-up and back to `high` during the annealing. Written `high,low` (`0.95,0.85`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moms {
    /// Momentum at the start and the end of the cycle.
    pub high: f64,
    /// Momentum at the lr's peak.
    pub low: f64,
}

impl std::str::FromStr for Moms {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let [high, low] = parts[..] else {
            return Err(format!(
                "`{s}`: expected two momenta `high,low`, e.g. 0.95,0.85"
            ));
        };
        let number = |t: &str| -> Result<f64, String> {
            let v: f64 = t.parse().map_err(|_| format!("`{t}` is not a number"))?;
            if (0.0..1.0).contains(&v) {
                Ok(v)
            } else {
                Err(format!("momentum {v} is outside [0, 1)"))
            }
        };
        Ok(Moms {
            high: number(high)?,
            low: number(low)?,
        })
    }
}

impl std::fmt::Display for Moms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{}", self.high, self.low)
    }
}

crate::serde_as_text!(Moms);

/// A list of 0-based epoch indices, written `60,120,160`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochList(pub Vec<usize>);

impl EpochList {
    /// The seed study's decay epochs: 60, 120, 160.
    pub fn seed() -> Self {
        EpochList(vec![60, 120, 160])
    }
}

impl std::str::FromStr for EpochList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let epochs = s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse()
                    .map_err(|_| format!("`{t}` is not an epoch index"))
            })
            .collect::<Result<Vec<usize>, String>>()?;
        if epochs.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("`{s}`: epochs must be strictly ascending"));
        }
        Ok(EpochList(epochs))
    }
}

impl std::fmt::Display for EpochList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: Vec<String> = self.0.iter().map(usize::to_string).collect();
        write!(f, "{}", words.join(","))
    }
}

crate::serde_as_text!(EpochList);

/// The data transforms of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Transforms {
    /// This project's: CIFAR/Fashion-MNIST random crop after padding (±4/±2 px) and flip,
    /// Imagenette random-resized crop and flip; inputs normalised by the dataset's statistics.
    #[default]
    Study,
    /// fastai v1's as the seed study had them, inputs in [0, 1] (no normalisation):
    /// CIFAR/Fashion-MNIST pad 4 and crop at U(0.4, 0.6) of the slack (a ±1 px jitter),
    /// Imagenette `get_transforms()` at `image_size` (warp, rotation, zoom, lighting,
    /// reflection padding; validation centre crop). `flip` sets the horizontal flip.
    FastaiV1,
}

impl std::str::FromStr for Transforms {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "study" => Ok(Transforms::Study),
            "fastai-v1" => Ok(Transforms::FastaiV1),
            _ => Err(format!("unknown transforms `{s}`; known: study, fastai-v1")),
        }
    }
}

/// The weights a run validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EvalWeights {
    /// The model's (fast) weights, as trained.
    #[default]
    Fast,
    /// Lookahead's slow weights φ at the epoch's end, whatever the step's position in the
    /// k-cycle (with BatchNorm's running statistics of the fast trajectory, as in the seed
    /// study, whose validations fell right after a sync). Plain optimizers: the same as fast.
    Slow,
}

impl std::str::FromStr for EvalWeights {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "fast" => Ok(EvalWeights::Fast),
            "slow" => Ok(EvalWeights::Slow),
            _ => Err(format!(
                "unknown evaluation weights `{s}`; known: fast, slow"
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
/// Each field also gets a builder `with_<field>` (as Burn's `Config` derive gives).
macro_rules! train_config {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident: $ty:ty, flag $flag:ty = $default:expr;
    )*) => {
        /// The recipe of one training run. Every field has a default, so a config file names
        /// only what it changes (`{"dataset": "cifar10", "epochs": 30}`).
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
        pub struct TrainConfig {
            $(
                $(#[doc = $doc])*
                pub $name: $ty,
            )*
        }

        /// The most epochs a run takes.
pub const MAX_EPOCHS: usize = 100_000;
/// The largest weight decay of a run (`1e308` was caught only as a divergence).
pub const MAX_WD: f64 = 10.0;
/// The largest mixup α (Beta(α, α) then draws λ ≈ ½ in any case).
pub const MAX_MIXUP: f64 = 100.0;

/// The largest batch.
pub const MAX_BATCH: usize = 1 << 16;

impl TrainConfig {
            /// Every field at its default.
            pub fn new() -> Self {
                Self { $($name: $default,)* }
            }

            $(
                pastey::paste! {
                    #[doc = "This config with `" $name "` set."]
                    pub fn [<with_ $name>](mut self, value: $ty) -> Self {
                        self.$name = value;
                        self
                    }
                }
            )*
        }

        impl Default for TrainConfig {
            fn default() -> Self {
                Self::new()
            }
        }

        /// The command-line overrides of a [`TrainConfig`]: one optional `--field-name` flag per
        /// field, parsed by the field's own `FromStr`; the flags given replace the fields of the
        /// config file (or of the defaults), through [`TrainConfig::with_flags`].
        #[derive(clap::Args, Serialize, Debug, Clone, Default)]
        pub struct TrainFlags {
            $(
                $(#[doc = $doc])*
                #[arg(long, allow_negative_numbers = true)]
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
    dataset: DatasetKind, flag DatasetKind = DatasetKind::FashionMnistEmbedded;
    /// Where datasets live; default `$LOOKAHEAD_DATA_DIR`, else `datasets/`.
    data_dir: Option<String>, flag String = None;
    /// Model: `tiny-resnet`, `micro-resnet`, `tiny-xresnet`, `resnet18-cifar`, `resnet18`, `resnet34`,
    /// `resnet50`, `xresnet18`, `xresnet34`, `xresnet50` (append `-mish` to an XResNet for
    /// Mish); fastai v1's `cnn_learner` models `resnet18-fastai`, `resnet34-fastai`,
    /// `resnet50-fastai`, `micro-resnet-fastai` and `small-resnet-fastai`. Default `tiny-resnet`.
    model: ModelKind, flag ModelKind = ModelKind::TinyResNet;
    /// Training/validation image side for Imagenette (random-resized crop / center crop).
    /// Default 128, the study's size. CIFAR and Fashion-MNIST keep their native size.
    image_size: usize, flag usize = 128;
    /// Epochs. Default 5.
    epochs: usize, flag usize = 5;
    /// Batch size. Default 128.
    batch_size: usize, flag usize = 128;
    /// Optimizer spec, e.g. `lookahead(sgd(momentum=0.9), k=5, alpha=0.5, reset)` (the
    /// grammar, every inner optimizer and its defaults: at the end of `--help`). Default
    /// `sgd(momentum=0.9)`.
    optimizer: OptimizerSpec, flag OptimizerSpec = OptimizerSpec::sgd_momentum();
    /// Learning-rate schedule. Default one-cycle.
    schedule: Schedule, flag Schedule = Schedule::OneCycle;
    /// Peak (one-cycle, flat-cos), constant or initial (step-decay) learning rate. Default 0.05.
    lr_max: f64, flag f64 = 0.05;
    /// `step-decay` only: the 0-based epochs after which the lr is divided by
    /// `lr_decay_factor`. Default `60,120,160` (the seed study's).
    lr_decay_epochs: EpochList, flag EpochList = EpochList::seed();
    /// `step-decay` only: the divisor. Default 5.
    lr_decay_factor: f64, flag f64 = 5.0;
    /// One-cycle only: cycle the momentum `high,low` with the lr (fastai's `moms`, e.g.
    /// `0.95,0.85`): it replaces SGD's and RMSProp's momentum (RMSProp becomes heavy-ball
    /// RMSProp, as under fastai v1) and Adam's, AdamW's and RAdam's β1 at every step. Default
    /// none (the spec's momentum throughout).
    moms: Option<Moms>, flag Moms = None;
    /// Overrides the optimizer spec's weight decay when set. Default none (the spec's).
    weight_decay: Option<f64>, flag f64 = None;
    /// fastai v1's true weight decay (`wd` with `true_wd=True, bn_wd=True`): before every step
    /// each parameter, BatchNorm and biases included, is multiplied by `1 − wd·lr`, and the
    /// spec's own weight decay is set to 0 (as fastai did). Default none.
    true_weight_decay: Option<f64>, flag f64 = None;
    /// Validate the `fast` weights or Lookahead's `slow` weights (at each epoch's end, whatever
    /// the position in the k-cycle). Default `fast`.
    eval_weights: EvalWeights, flag EvalWeights = EvalWeights::Fast;
    /// Data transforms: `study` (this project's, normalised inputs) or `fastai-v1` (the seed
    /// study's fastai v1 transforms, inputs in [0, 1]). Default `study`.
    transforms: Transforms, flag Transforms = Transforms::Study;
    /// `fastai-v1` transforms only: flip training images horizontally with p = ½ (the seed's
    /// "with reset" CIFAR runs and its Imagenette run did, its other CIFAR runs did not).
    /// Default true.
    flip: bool, flag bool = true;
    /// Mixup α (fastai's `MixUp`); 0 disables mixup. Default 0.
    mixup: f64, flag f64 = 0.0;
    /// Label smoothing ε of the training loss. Default 0.
    label_smoothing: f64, flag f64 = 0.0;
    /// Seed of the model initialisation, the data order, augmentation and mixup. Default 42.
    seed: u64, flag u64 = 42;
    /// Train on the first N training images only (after a seeded shuffle); default all.
    train_limit: Option<usize>, flag usize = None;
    /// Validate on the first N validation images only; default all.
    valid_limit: Option<usize>, flag usize = None;
    /// Precision of the forward and backward passes: `f32`, `bf16` or `f16` (mixed precision
    /// over f32 master weights, on backends that support the type). Default `f32`.
    precision: Precision, flag Precision = Precision::F32;
    /// Static loss scale: the loss is multiplied by it before the backward pass and the
    /// gradients divided by it. Default: 1024 with `f16`, 1 otherwise.
    loss_scale: Option<f64>, flag f64 = None;
    /// Write TensorBoard event files into the run directory (scalars per iteration and per
    /// epoch, the config as hparams) at the end of each session. Default true.
    tensorboard: bool, flag bool = true;
}

/// `fields`, refusing a null: what a non-finite number (NaN, ±∞) becomes on its way into
/// JSON, where it would otherwise read as "unset".
fn finite(
    fields: serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    if let Some((key, _)) = fields.iter().find(|(_, v)| v.is_null()) {
        bail!("field `{key}`: not a finite number");
    }
    Ok(fields)
}

impl TrainFlags {
    /// The fields given as flags, as a config file's would be; a non-finite number
    /// (`--weight-decay NaN`) is an error naming its field, not an unset field.
    pub fn fields(&self) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
        let serde_json::Value::Object(fields) = serde_json::to_value(self)? else {
            bail!("the flags are not a table");
        };
        finite(fields)
    }
}

impl TrainConfig {
    /// Reads a config from JSON (`.json`) or TOML (any other extension), naming the file and
    /// the field on error. Missing fields take their defaults.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let fields = Self::file_fields(path)?;
        Self::from_value(serde_json::Value::Object(fields))
            .with_context(|| format!("invalid config {}", path.display()))
    }

    /// The fields a config file names (JSON for `.json`, else TOML), unchecked.
    pub fn file_fields(path: &Path) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
        let text = crate::input::read_text(path).context("config")?;
        let value: serde_json::Value = if path.extension().is_some_and(|e| e == "json") {
            crate::input::from_json(&text)
                .with_context(|| format!("invalid config {}", path.display()))?
        } else {
            toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))?
        };
        match value {
            // TOML has no null: a null here was a `nan` or `inf`, which JSON cannot hold.
            serde_json::Value::Object(fields) if path.extension().is_some_and(|e| e == "json") => {
                Ok(fields)
            }
            serde_json::Value::Object(fields) => {
                finite(fields).with_context(|| format!("invalid config {}", path.display()))
            }
            _ => bail!(
                "invalid config {}: expected a table of fields",
                path.display()
            ),
        }
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
        self.with_fields(flags.fields()?)
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

    /// The optimizer spec with `weight_decay` applied (0 with `true_weight_decay`: fastai v1
    /// zeroed the optimizer's own decay, so the `wd` a spec passes has no effect).
    pub fn optimizer_spec(&self) -> OptimizerSpec {
        let mut spec = self.optimizer.clone();
        if let Some(wd) = self.weight_decay {
            spec.set_weight_decay(wd);
        }
        if self.true_weight_decay.is_some() {
            spec.set_weight_decay(0.0);
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

    /// The weight decays: each in [0, `MAX_WD`]; not both kinds at once.
    fn check_decay(&self) -> anyhow::Result<()> {
        if let Some(wd) = self.weight_decay
            && !(wd.is_finite() && (0.0..=MAX_WD).contains(&wd))
        {
            bail!("field `weight_decay`: must be in [0, {MAX_WD}], got {wd}");
        }
        let Some(wd) = self.true_weight_decay else {
            return Ok(());
        };
        if !(wd.is_finite() && (0.0..=MAX_WD).contains(&wd)) {
            bail!("field `true_weight_decay`: must be in [0, {MAX_WD}], got {wd}");
        }
        if self.weight_decay.is_some() {
            bail!(
                "field `weight_decay`: has no effect with `true_weight_decay` (the optimizer's \
                 own decay is zeroed); set one of them"
            );
        }
        Ok(())
    }

    /// Checks the numeric fields (not the data on disk; the typed fields were checked when
    /// parsed): the errors name the field.
    pub fn check(&self) -> anyhow::Result<()> {
        // Bounded above too: each sizes an allocation or a loop.
        let counts = [
            ("epochs", self.epochs, MAX_EPOCHS),
            ("batch_size", self.batch_size, MAX_BATCH),
            ("image_size", self.image_size, data::MAX_IMAGE_SIDE),
        ];
        for (field, value, max) in counts {
            if !(1..=max).contains(&value) {
                bail!("field `{field}`: must be in 1..={max}, got {value}");
            }
        }
        if !(self.lr_max.is_finite() && self.lr_max > 0.0) {
            bail!(
                "field `lr_max`: must be a positive number, got {}",
                self.lr_max
            );
        }
        self.check_decay()?;
        if !self.flip && self.transforms == Transforms::Study {
            bail!("field `flip`: the study transforms always flip; set `transforms` fastai-v1");
        }
        if self.moms.is_some() && !self.schedule.is_one_cycle() {
            bail!(
                "field `moms`: momentum cycling needs a one-cycle schedule (onecycle or \
                 onecycle-v1), not {:?}",
                self.schedule
            );
        }
        if !(self.lr_decay_factor.is_finite() && self.lr_decay_factor > 0.0) {
            bail!(
                "field `lr_decay_factor`: must be a positive number, got {}",
                self.lr_decay_factor
            );
        }
        if !(self.mixup.is_finite() && (0.0..=MAX_MIXUP).contains(&self.mixup)) {
            bail!(
                "field `mixup`: must be in [0, {MAX_MIXUP}] (0 = off), got {}",
                self.mixup
            );
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

    /// NaN and ±∞ are refused naming the field, from a flag and from a TOML file, instead of
    /// turning into "unset" on their way through JSON.
    #[test]
    fn non_finite_numbers_are_refused_with_their_field() {
        let flags = TrainFlags {
            weight_decay: Some(f64::NAN),
            ..TrainFlags::default()
        };
        let err = format!("{:#}", TrainConfig::new().with_flags(&flags).unwrap_err());
        assert!(
            err.contains("`weight_decay`") && err.contains("finite"),
            "{err}"
        );
        let flags = TrainFlags {
            lr_max: Some(f64::INFINITY),
            ..TrainFlags::default()
        };
        let err = format!("{:#}", TrainConfig::new().with_flags(&flags).unwrap_err());
        assert!(err.contains("`lr_max`"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.toml");
        std::fs::write(&path, "true_weight_decay = nan\n").unwrap();
        let err = format!("{:#}", TrainConfig::from_file(&path).unwrap_err());
        assert!(
            err.contains("run.toml") && err.contains("`true_weight_decay`"),
            "{err}"
        );
        // JSON's own null still means "unset" for an optional field.
        let json = dir.path().join("run.json");
        std::fs::write(&json, r#"{"weight_decay": null}"#).unwrap();
        assert_eq!(TrainConfig::from_file(&json).unwrap().weight_decay, None);
    }

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
        // fastai v1's mechanisms: each checked against its field.
        let moms = bad(r#"{"moms": "0.95,0.85", "schedule": "step-decay"}"#);
        assert!(
            moms.contains("`moms`") && moms.contains("one-cycle"),
            "{moms}"
        );
        assert!(bad(r#"{"moms": "0.95"}"#).contains("field `moms`"));
        assert!(bad(r#"{"moms": "0.95,1.5"}"#).contains("outside [0, 1)"));
        let both = bad(r#"{"true_weight_decay": 0.01, "weight_decay": 0.1}"#);
        assert!(both.contains("`weight_decay`") && both.contains("true_weight_decay"));
        assert!(bad(r#"{"lr_decay_epochs": "60,50"}"#).contains("strictly ascending"));
        // Absurd magnitudes are refused by their field, not left to diverge.
        assert!(bad(r#"{"weight_decay": 1e308}"#).contains("must be in [0, 10]"));
        assert!(bad(r#"{"mixup": 1e308}"#).contains("field `mixup`"));
        let wd = bad(r#"{"optimizer": "sgd(wd=1e308)"}"#);
        assert!(wd.contains("`wd`") && wd.contains("[0, 10]"), "{wd}");
        assert!(bad(r#"{"eval_weights": "ema"}"#).contains("field `eval_weights`"));
        let seed = TrainConfig::from_value(serde_json::json!({
            "schedule": "onecycle-v1", "moms": "0.95,0.85", "true_weight_decay": 0.01,
            "eval_weights": "slow", "optimizer": "lookahead(sgd(wd=0.001), theta1, zero-moments)"
        }))
        .unwrap();
        seed.check().unwrap();
        assert_eq!(seed.schedule, Schedule::OneCycleV1);
        // The spec's own decay is zeroed under true weight decay (fastai's OptimWrapper).
        assert_eq!(
            seed.optimizer_spec().to_string(),
            "lookahead(sgd,k=5,alpha=0.5,zero-moments,theta1)"
        );
        assert_eq!(
            TrainConfig::from_value(serde_json::to_value(&seed).unwrap()).unwrap(),
            seed
        );
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
