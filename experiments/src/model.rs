//! The network of a run: [`ModelKind`] names and builds it (same seed, same weights on every
//! backend), and [`Classifier`] wraps it for burn-train: `TrainStep` (mixup, label-smoothing
//! cross-entropy, mixed precision with loss scaling) and `InferenceStep` (plain cross-entropy).

use std::fmt;
use std::str::FromStr;

use anyhow::Context;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{FloatDType, Tensor};
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use data::{ImageBatch, mixed_cross_entropy};
use models::{ResNet, compute_copy};

use crate::config::Precision;
use crate::slow_eval::SlowModel;

/// The models `train` knows.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelKind {
    /// `ResNetConfig::tiny` (width 1/8, one block per stage, CIFAR stem).
    TinyResNet,
    /// `ResNetConfig::tiny` with torchvision's ImageNet stem (7×7 stride-2 conv and max-pool):
    /// a quarter of the resolution after the stem, about 10× fewer operations, for quick CPU
    /// runs on 28×28 images.
    MicroResNet,
    /// `XResNetConfig::tiny`.
    TinyXResNet,
    /// The CIFAR ResNet-18 of the Lookahead paper.
    CifarResNet18,
    /// torchvision ResNet-18/34/50.
    ResNet(models::ResNetVariant),
    /// fastai v1's `cnn_learner` over torchvision ResNet-18/34/50 (ImageNet stem, not
    /// pretrained, fastai's concat-pool/BN/dropout head: `models::Head::FastaiV1`).
    FastaiResNet(models::ResNetVariant),
    /// `MicroResNet` with fastai v1's head: the seed study's model shape in miniature.
    MicroFastai,
    /// fastai XResNet-18/34/50, ReLU or Mish.
    XResNet(models::XResNetVariant, models::Activation),
}

/// Every model name with its kind: the one list parsing and printing share.
fn model_names() -> Vec<(String, ModelKind)> {
    use models::{Activation, ResNetVariant as R, XResNetVariant as X};
    let mut names = vec![
        ("tiny-resnet".to_string(), ModelKind::TinyResNet),
        ("micro-resnet".into(), ModelKind::MicroResNet),
        ("tiny-xresnet".into(), ModelKind::TinyXResNet),
        ("resnet18-cifar".into(), ModelKind::CifarResNet18),
        ("resnet18".into(), ModelKind::ResNet(R::ResNet18)),
        ("resnet34".into(), ModelKind::ResNet(R::ResNet34)),
        ("resnet50".into(), ModelKind::ResNet(R::ResNet50)),
        (
            "resnet18-fastai".into(),
            ModelKind::FastaiResNet(R::ResNet18),
        ),
        (
            "resnet34-fastai".into(),
            ModelKind::FastaiResNet(R::ResNet34),
        ),
        (
            "resnet50-fastai".into(),
            ModelKind::FastaiResNet(R::ResNet50),
        ),
        ("micro-resnet-fastai".into(), ModelKind::MicroFastai),
    ];
    for (name, variant) in [
        ("xresnet18", X::XResNet18),
        ("xresnet34", X::XResNet34),
        ("xresnet50", X::XResNet50),
    ] {
        names.push((name.into(), ModelKind::XResNet(variant, Activation::Relu)));
        names.push((
            format!("{name}-mish"),
            ModelKind::XResNet(variant, Activation::Mish),
        ));
    }
    names
}

impl FromStr for ModelKind {
    type Err = anyhow::Error;

    /// ```
    /// use experiments::model::ModelKind;
    /// let kind: ModelKind = "xresnet50-mish".parse().unwrap();
    /// assert_eq!(kind.to_string(), "xresnet50-mish");
    /// assert!("vgg".parse::<ModelKind>().is_err());
    /// ```
    fn from_str(name: &str) -> anyhow::Result<Self> {
        model_names()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, kind)| kind)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown model `{name}`; known: {}",
                    model_names()
                        .into_iter()
                        .map(|(n, _)| n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = model_names()
            .into_iter()
            .find(|(_, kind)| kind == self)
            .map(|(name, _)| name)
            .unwrap_or_default();
        f.write_str(&name)
    }
}

crate::serde_as_text!(ModelKind);

impl ModelKind {
    /// Parses a model name (see [`FromStr`]).
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        name.parse()
    }

    /// Builds the network with initial weights drawn on the host from `seed`, then moved to
    /// `device`: the same seed gives the same network on every backend (each backend's own
    /// generator would draw other weights; GPU backends draw theirs on the device). The host
    /// backend is NdArray, always compiled for this purpose.
    pub fn build_seeded<B: burn::tensor::backend::Backend>(
        &self,
        classes: usize,
        channels: usize,
        seed: u64,
        device: &B::Device,
    ) -> anyhow::Result<models::ResNet<B>> {
        use burn::backend::NdArray;
        use burn::module::Module;
        use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
        type Host = NdArray<f32>;
        // The host backend's generator is one per process: hold it from the seed to the last
        // draw, so that builds on other threads (parallel tests, several runs in one process)
        // cannot take draws from between ours. Burn draws a parameter lazily, when it is first
        // read: serialising the record, inside the lock, draws them all.
        static HOST_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let host_device = Default::default();
        let recorder = BinBytesRecorder::<FullPrecisionSettings>::new();
        let bytes = {
            let _draws = HOST_RNG
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            <Host as burn::tensor::backend::Backend>::seed(&host_device, seed);
            let host = self.build::<Host>(classes, channels, &host_device)?;
            recorder
                .record(host.into_record(), ())
                .context("cannot serialise the initial weights")?
        };
        let record = recorder
            .load(bytes, device)
            .context("cannot load the initial weights on the device")?;
        Ok(self
            .build::<B>(classes, channels, device)?
            .load_record(record))
    }

    /// Builds the network for `classes` classes of `channels`-channel images.
    pub fn build<B: burn::tensor::backend::Backend>(
        &self,
        classes: usize,
        channels: usize,
        device: &B::Device,
    ) -> anyhow::Result<models::ResNet<B>> {
        use models::{ResNetConfig, XResNetConfig};
        let net = match self {
            ModelKind::TinyResNet => ResNetConfig::tiny(classes, channels).init(device)?,
            ModelKind::TinyXResNet => XResNetConfig::tiny(classes, channels).init(device)?,
            ModelKind::MicroResNet => ResNetConfig::tiny(classes, channels)
                .with_stem(models::Stem::ImageNet)
                .init(device)?,
            ModelKind::CifarResNet18 => ResNetConfig::cifar_resnet18(classes)
                .with_in_channels(channels)
                .init(device)?,
            ModelKind::ResNet(variant) => ResNetConfig::new(*variant)
                .with_num_classes(classes)
                .with_in_channels(channels)
                .init(device)?,
            ModelKind::FastaiResNet(variant) => ResNetConfig::new(*variant)
                .with_num_classes(classes)
                .with_in_channels(channels)
                .with_head(models::Head::FastaiV1)
                .init(device)?,
            ModelKind::MicroFastai => ResNetConfig::tiny(classes, channels)
                .with_stem(models::Stem::ImageNet)
                .with_head(models::Head::FastaiV1)
                .init(device)?,
            ModelKind::XResNet(variant, activation) => XResNetConfig::new(*variant)
                .with_num_classes(classes)
                .with_in_channels(channels)
                .with_activation(*activation)
                .init(device)?,
        };
        Ok(net)
    }
}

/// A classifier network and its training loss.
#[derive(Module, Debug)]
pub struct Classifier<B: Backend> {
    /// The network (ResNet or XResNet): images → logits. Its weights are f32 whatever the
    /// precision (master weights).
    pub net: ResNet<B>,
    /// Label smoothing ε of the training loss.
    pub label_smoothing: f64,
    /// Precision of the forward and backward passes.
    #[module(skip)]
    pub precision: Precision,
    /// Static loss scale (1 = none).
    pub loss_scale: f64,
    /// With `eval_weights = "slow"`: the slot from which validation takes the network of
    /// Lookahead's slow weights (see [`crate::slow_eval`]); empty otherwise.
    #[module(skip)]
    pub slow: SlowModel,
}

impl<B: Backend> Classifier<B> {
    /// A classifier of `net` with these training settings.
    pub fn new(
        net: ResNet<B>,
        label_smoothing: f64,
        precision: Precision,
        loss_scale: f64,
    ) -> Self {
        Self {
            net,
            label_smoothing,
            precision,
            loss_scale,
            slow: SlowModel::default(),
        }
    }

    /// f32 logits of a batch of f32 images.
    ///
    /// With bf16/f16 the network runs on [`compute_copy`] of itself (convolutions and the head
    /// in half precision, BatchNorm in f32) and the logits are cast back to f32 for the loss.
    pub fn logits(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        match self.precision {
            Precision::F32 => self.net.forward(images),
            half => {
                let dtype = half.dtype();
                compute_copy(&self.net, dtype)
                    .forward(images.cast(dtype))
                    .cast(FloatDType::F32)
            }
        }
    }

    /// Loss (with mixup targets and smoothing when given) and logits of a batch.
    pub fn forward_classification(
        &self,
        batch: ImageBatch<B>,
        train: bool,
    ) -> ClassificationOutput<B> {
        let logits = self.logits(batch.images);
        let (mix, smoothing) = if train {
            (batch.mix.as_ref(), self.label_smoothing)
        } else {
            (None, 0.0)
        };
        let loss = mixed_cross_entropy(logits.clone(), batch.targets.clone(), mix, smoothing);
        ClassificationOutput::new(loss, logits, batch.targets)
    }
}

impl<B: AutodiffBackend> TrainStep for Classifier<B> {
    type Input = ImageBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: ImageBatch<B>) -> TrainOutput<ClassificationOutput<B>> {
        let item = self.forward_classification(batch, true);
        if self.loss_scale == 1.0 {
            return TrainOutput::new(self, item.loss.backward(), item);
        }
        // Static loss scaling: backward of `scale · loss`, then every gradient divided by
        // `scale`, so the optimizer sees the gradients of the loss itself.
        let grads = item.loss.clone().mul_scalar(self.loss_scale).backward();
        let mut grads = GradientsParams::from_grads(grads, self);
        self.visit(&mut Unscale::<B> {
            grads: &mut grads,
            factor: 1.0 / self.loss_scale,
            _backend: core::marker::PhantomData,
        });
        TrainOutput { grads, item }
    }
}

/// Checks that the backend computes in `precision` on `device`, naming the field otherwise.
pub fn check_precision<B: Backend>(precision: Precision, device: &B::Device) -> anyhow::Result<()> {
    let dtype: burn::tensor::DType = precision.dtype().into();
    if !B::supports_dtype(device, dtype) {
        anyhow::bail!(
            "field `precision`: this backend has no {dtype:?} arithmetic on {device:?}; use f32{}",
            match precision {
                Precision::Bf16 => " or f16",
                Precision::F16 => " or bf16",
                Precision::F32 => "",
            }
        );
    }
    Ok(())
}

/// Multiplies the gradient of every parameter it visits by `factor`.
struct Unscale<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    factor: f64,
    _backend: core::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Unscale<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(grad) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads
                .register::<B::InnerBackend, D>(param.id, grad.mul_scalar(self.factor));
        }
    }
}

impl<B: Backend> InferenceStep for Classifier<B> {
    type Input = ImageBatch<B>;
    type Output = ClassificationOutput<B>;

    fn step(&self, batch: ImageBatch<B>) -> ClassificationOutput<B> {
        match self.slow.get::<ResNet<B>>() {
            Some(net) => Classifier {
                net,
                slow: SlowModel::default(),
                ..self.clone()
            }
            .forward_classification(batch, false),
            None => self.forward_classification(batch, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::OptimizerSpec;
    use burn::backend::{Autodiff, Flex};
    use burn::optim::Optimizer;
    use burn::tensor::{DType, Int};

    type B = Autodiff<Flex>;

    /// Fixed images (not the backend's global generator, which parallel tests share).
    fn batch(device: &burn::tensor::Device<B>) -> ImageBatch<B> {
        let pixels: Vec<f32> = (0..8 * 28 * 28)
            .map(|i| ((i as f32) * 0.7548).sin() + 0.3 * ((i as f32) * 0.0131).cos())
            .collect();
        ImageBatch {
            images: Tensor::<B, 1>::from_floats(pixels.as_slice(), device).reshape([8, 1, 28, 28]),
            targets: Tensor::<B, 1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 7], device),
            mix: None,
        }
    }

    fn classifier(precision: Precision, loss_scale: f64) -> Classifier<B> {
        let net = ModelKind::MicroResNet
            .build_seeded::<B>(10, 1, 7, &Default::default())
            .unwrap();
        Classifier::new(net, 0.0, precision, loss_scale)
    }

    /// Every gradient of a step, flattened, in parameter order.
    struct Flatten<'a>(&'a GradientsParams, Vec<f32>);
    impl ModuleVisitor<B> for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.0.get::<Flex, D>(param.id) {
                assert_eq!(g.dtype(), DType::F32);
                self.1.extend(g.into_data().to_vec::<f32>().unwrap());
            }
        }
    }

    fn gradients(model: &Classifier<B>) -> Vec<f32> {
        let output = TrainStep::step(model, batch(&Default::default()));
        let mut flat = Flatten(&output.grads, Vec::new());
        model.visit(&mut flat);
        flat.1
    }

    #[test]
    fn loss_scaling_returns_the_unscaled_gradients() {
        // A power-of-two scale is exact in floating point: the unscaled gradients of a scaled
        // half-precision backward pass equal the plain ones.
        let plain = gradients(&classifier(Precision::Bf16, 1.0));
        let scaled = gradients(&classifier(Precision::Bf16, 1024.0));
        assert_eq!(plain.len(), scaled.len());
        assert!(plain.iter().any(|g| *g != 0.0));
        for (a, b) in plain.iter().zip(&scaled) {
            assert!((a - b).abs() <= 1e-6 * a.abs().max(1e-3), "{a} vs {b}");
        }
        // The half-precision passes stay close to f32 (f16 keeps 11 bits of mantissa, bf16 8).
        let full = gradients(&classifier(Precision::F32, 1.0));
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let error = |precision, scale| {
            let half = gradients(&classifier(precision, scale));
            let diff: Vec<f32> = full.iter().zip(&half).map(|(a, b)| a - b).collect();
            norm(&diff) / norm(&full)
        };
        let (f16, bf16) = (error(Precision::F16, 1024.0), error(Precision::Bf16, 1.0));
        assert!(
            f16 > 0.0 && f16 < bf16 && bf16 < 0.5,
            "f16 {f16}, bf16 {bf16}"
        );
    }

    /// `eval_weights = "slow"`: after each epoch's last step the validation model runs
    /// Lookahead's slow weights (here mid-cycle: 4 steps with k = 3, so φ ≠ θ), training keeps
    /// the fast weights, and without the slot validation runs the fast weights.
    #[test]
    fn validation_runs_the_slow_weights_of_the_epoch_end() {
        use crate::slow_eval::{EpochEndSlow, SlowModel};
        use burn::module::AutodiffModule;
        let slot = SlowModel::default();
        let mut model = classifier(Precision::F32, 1.0);
        model.slow = slot.clone();
        let inner = OptimizerSpec::parse("lookahead(sgd(momentum=0.9), k=3, alpha=0.5)")
            .unwrap()
            .build::<B, Classifier<B>>()
            .unwrap();
        let mut optim = EpochEndSlow::new(inner, 2, Some(slot.clone()));
        // A fixed batch, not drawn from the backend's (global, shared between tests) generator.
        let device = Default::default();
        let pixels: Vec<f32> = (0..8 * 28 * 28)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let images =
            Tensor::<B, 1>::from_floats(pixels.as_slice(), &device).reshape([8, 1, 28, 28]);
        let batch = || ImageBatch::<B> {
            images: images.clone(),
            targets: Tensor::<B, 1, Int>::from_ints([0, 1, 2, 3, 4, 5, 6, 7], &device),
            mix: None,
        };
        for step in 1..=4 {
            let output = TrainStep::step(&model, batch());
            model = optim.step(0.1, model, output.grads);
            // The slot is filled at epoch ends (every 2 steps) only.
            assert_eq!(
                slot.get::<ResNet<Flex>>().is_some(),
                step >= 2,
                "step {step}"
            );
        }
        let slow = lookahead_optim::slow_weights(optim.inner(), &model);
        let valid_images = images.clone().inner();
        let valid_batch = || ImageBatch::<Flex> {
            images: valid_images.clone(),
            targets: Tensor::from_ints([0, 1, 2, 3, 4, 5, 6, 7], &Default::default()),
            mix: None,
        };
        let logits = |output: ClassificationOutput<Flex>| -> Vec<f32> {
            output.output.into_data().to_vec().unwrap()
        };
        let validated = logits(InferenceStep::step(&model.valid(), valid_batch()));
        let of_slow = logits(slow.valid().forward_classification(valid_batch(), false));
        let mut fast_only = model.valid();
        fast_only.slow = SlowModel::default();
        let of_fast = logits(InferenceStep::step(&fast_only, valid_batch()));
        assert_eq!(validated, of_slow);
        assert_ne!(validated, of_fast, "mid-cycle, φ and θ differ");
    }

    #[test]
    fn lookahead_over_bf16_keeps_f32_weights() {
        let mut model = classifier(Precision::Bf16, 1.0);
        let mut optim = OptimizerSpec::parse("lookahead(sgd(momentum=0.9), k=2, alpha=0.5)")
            .unwrap()
            .build::<B, Classifier<B>>()
            .unwrap();
        let before = model.net.fc.weight.val().into_data();
        for _ in 0..3 {
            let output = TrainStep::step(&model, batch(&Default::default()));
            model = optim.step(0.1, model, output.grads);
        }
        struct AllF32(usize);
        impl ModuleVisitor<B> for AllF32 {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
                assert_eq!(param.val().dtype(), DType::F32);
                self.0 += 1;
            }
        }
        let mut all = AllF32(0);
        model.visit(&mut all);
        assert!(all.0 > 10);
        assert_ne!(model.net.fc.weight.val().into_data(), before);
    }

    #[test]
    fn a_backend_without_the_type_is_refused_by_name() {
        assert!(check_precision::<Flex>(Precision::Bf16, &Default::default()).is_ok());
        assert!(check_precision::<Flex>(Precision::F32, &Default::default()).is_ok());
        let ndarray =
            check_precision::<burn::backend::NdArray>(Precision::Bf16, &Default::default());
        let message = format!("{:#}", ndarray.unwrap_err());
        assert!(message.contains("field `precision`"), "{message}");
    }
}
