//! The network of a run: [`ModelKind`] names and builds it (same seed, same weights on every
//! backend), and [`Classifier`] wraps it for burn-train: `TrainStep` (mixup, label-smoothing
//! cross-entropy, mixed precision with loss scaling) and `InferenceStep` (plain cross-entropy).

use anyhow::Context;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{FloatDType, Tensor};
use burn::train::{ClassificationOutput, InferenceStep, TrainOutput, TrainStep};
use data::{ImageBatch, mixed_cross_entropy};
use models::{ResNet, compute_copy};

use crate::channels::SlowSlot;
use study::config::{ModelKind, Precision};
use study::model_kind::{Act, Depth};

/// The `models` crate's ResNet of a depth.
fn resnet_variant(depth: Depth) -> models::ResNetVariant {
    match depth {
        Depth::D18 => models::ResNetVariant::ResNet18,
        Depth::D34 => models::ResNetVariant::ResNet34,
        Depth::D50 => models::ResNetVariant::ResNet50,
    }
}

/// The `models` crate's XResNet of a depth.
fn xresnet_variant(depth: Depth) -> models::XResNetVariant {
    match depth {
        Depth::D18 => models::XResNetVariant::XResNet18,
        Depth::D34 => models::XResNetVariant::XResNet34,
        Depth::D50 => models::XResNetVariant::XResNet50,
    }
}

/// Builds the networks that [`ModelKind`] names.
pub trait BuildModel {
    /// Builds the network with initial weights drawn on the host from `seed`, then moved to
    /// `device`: the same seed gives the same network on every backend (each backend's own
    /// generator would draw other weights; GPU backends draw theirs on the device). The host
    /// backend is NdArray, always compiled for this purpose.
    fn build_seeded<B: Backend>(
        &self,
        classes: usize,
        channels: usize,
        seed: u64,
        device: &B::Device,
    ) -> anyhow::Result<models::ResNet<B>>;

    /// Builds the network for `classes` classes of `channels`-channel images.
    fn build<B: Backend>(
        &self,
        classes: usize,
        channels: usize,
        device: &B::Device,
    ) -> anyhow::Result<models::ResNet<B>>;
}

impl BuildModel for ModelKind {
    fn build_seeded<B: Backend>(
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

    fn build<B: Backend>(
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
            ModelKind::ResNet(depth) => ResNetConfig::new(resnet_variant(*depth))
                .with_num_classes(classes)
                .with_in_channels(channels)
                .init(device)?,
            ModelKind::FastaiResNet(depth) => ResNetConfig::new(resnet_variant(*depth))
                .with_num_classes(classes)
                .with_in_channels(channels)
                .with_head(models::Head::FastaiV1)
                .init(device)?,
            ModelKind::MicroFastai => ResNetConfig::tiny(classes, channels)
                .with_stem(models::Stem::ImageNet)
                .with_head(models::Head::FastaiV1)
                .init(device)?,
            ModelKind::SmallFastai => ResNetConfig::tiny(classes, channels)
                .with_width(0.25)
                .with_blocks(Some([2, 2, 2, 2]))
                .with_stem(models::Stem::ImageNet)
                .with_head(models::Head::FastaiV1)
                .init(device)?,
            ModelKind::XResNet(depth, act) => XResNetConfig::new(xresnet_variant(*depth))
                .with_num_classes(classes)
                .with_in_channels(channels)
                .with_activation(match act {
                    Act::Relu => models::Activation::Relu,
                    Act::Mish => models::Activation::Mish,
                })
                .init(device)?,
        };
        Ok(net)
    }
}

/// The dtype of the forward and backward passes of a precision.
pub fn dtype(precision: Precision) -> FloatDType {
    match precision {
        Precision::F32 => FloatDType::F32,
        Precision::Bf16 => FloatDType::BF16,
        Precision::F16 => FloatDType::F16,
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
    /// This replica's share of the step's gradient: 1/n with n data-parallel devices, whose
    /// gradients burn-train sums, so that the step averages them over the global batch as one
    /// device would (1 = one device).
    #[module(skip)]
    pub gradient_share: f64,
    /// With `eval_weights = "slow"`: the slot from which validation takes the network of
    /// Lookahead's slow weights (see [`SlowSlot`]); empty otherwise.
    #[module(skip)]
    pub slow: SlowSlot,
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
            gradient_share: 1.0,
            slow: SlowSlot::default(),
        }
    }

    /// The same classifier training as one of `devices` data-parallel replicas (see
    /// `gradient_share`).
    pub fn on_devices(self, devices: usize) -> Self {
        Self {
            gradient_share: 1.0 / devices.max(1) as f64,
            ..self
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
                let dtype = dtype(half);
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
            // One of n replicas: the gradient of loss/n, so that burn-train's sum over the
            // devices is the mean over the global batch.
            let grads = match self.gradient_share {
                1.0 => item.loss.backward(),
                share => item.loss.clone().mul_scalar(share).backward(),
            };
            return TrainOutput::new(self, grads, item);
        }
        // Static loss scaling: backward of `scale · loss`, then every gradient divided by
        // `scale` (and multiplied by the replica's share), so the optimizer sees the gradients
        // of the loss itself.
        let grads = item.loss.clone().mul_scalar(self.loss_scale).backward();
        let mut grads = GradientsParams::from_grads(grads, self);
        self.visit(&mut Unscale::<B> {
            grads: &mut grads,
            factor: self.gradient_share / self.loss_scale,
            _backend: core::marker::PhantomData,
        });
        TrainOutput { grads, item }
    }
}

/// Checks that the backend computes in `precision` on `device`, naming the field otherwise.
pub fn check_precision<B: Backend>(precision: Precision, device: &B::Device) -> anyhow::Result<()> {
    let dtype: burn::tensor::DType = dtype(precision).into();
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
        match self.slow.apply(self.clone()) {
            Some(slow) => slow.forward_classification(batch, false),
            None => self.forward_classification(batch, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{B, batch, classifier};
    use burn::backend::Flex;
    use burn::tensor::DType;

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
