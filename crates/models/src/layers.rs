//! Building blocks shared by both families: activations, conv + BatchNorm, and the residual block.

use burn::config::Config;
use burn::module::{Initializer, Module};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::activation::{mish, relu};
use burn::tensor::backend::Backend;

/// The non-linearity used after each conv-BN pair and after each residual sum.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum Activation {
    /// max(x, 0).
    Relu,
    /// x·tanh(softplus(x)) (Misra 2019), used by the Imagenette leaderboard's XResNets.
    Mish,
}

impl Activation {
    /// Applies the activation.
    pub fn forward<B: Backend, const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Activation::Relu => relu(x),
            Activation::Mish => mish(x),
        }
    }
}

/// Which fan Kaiming-normal initialisation divides by (gain √2, for ReLU).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fan {
    /// torchvision: `kaiming_normal_(mode="fan_out", nonlinearity="relu")`.
    Out,
    /// fastai's `init_cnn`: `kaiming_normal_` with its default `mode="fan_in"`.
    In,
}

impl Fan {
    pub(crate) fn initializer(self) -> Initializer {
        Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: self == Fan::Out,
        }
    }
}

/// A bias-free `k×k` convolution (padding `k/2`) followed by BatchNorm.
#[derive(Module, Debug)]
pub struct ConvBn<B: Backend> {
    /// The convolution.
    pub conv: Conv2d<B>,
    /// The BatchNorm (γ = 1, β = 0, or γ = 0 for the last BN of a residual branch).
    pub bn: BatchNorm<B>,
}

impl<B: Backend> ConvBn<B> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        fan: Fan,
        zero_gamma: bool,
        device: &B::Device,
    ) -> Self {
        let pad = kernel / 2;
        let conv = Conv2dConfig::new(channels, [kernel, kernel])
            .with_stride([stride, stride])
            .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
            .with_bias(false)
            .with_initializer(fan.initializer())
            .init(device);
        let mut bn = BatchNormConfig::new(channels[1]).init(device);
        if zero_gamma {
            bn.gamma = bn.gamma.map(|gamma| gamma.zeros_like());
        }
        Self { conv, bn }
    }

    /// `bn(conv(x))`. BatchNorm runs in f32 whatever the input's dtype (see
    /// [`compute_copy`](crate::compute_copy)); the result has the input's dtype.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        crate::batch_norm(&self.bn, self.conv.forward(x))
    }
}

/// A residual block of either family: `act(convs(x) + shortcut(x))`.
///
/// The conv path applies the activation after every conv-BN pair but the last (2 pairs for a
/// basic block, 3 for a bottleneck). The shortcut is the identity, or an optional average pool
/// (XResNet, stride ≠ 1, ceil mode) followed by an optional 1×1 conv-BN (torchvision's strided
/// 1×1 conv-BN, or XResNet's stride-1 one when the channel count changes).
#[derive(Module, Debug)]
pub struct ResidualBlock<B: Backend> {
    /// The conv-BN pairs of the residual branch.
    pub convs: Vec<ConvBn<B>>,
    /// XResNet's shortcut pooling.
    pub pool: Option<AvgPool2d>,
    /// The shortcut projection.
    pub projection: Option<ConvBn<B>>,
    /// The activation.
    #[module(skip)]
    pub activation: Activation,
}

impl<B: Backend> ResidualBlock<B> {
    pub(crate) fn new(
        convs: Vec<ConvBn<B>>,
        pool_stride: Option<usize>,
        projection: Option<ConvBn<B>>,
        activation: Activation,
    ) -> Self {
        let pool = pool_stride.map(|s| {
            AvgPool2dConfig::new([s, s])
                .with_strides([s, s])
                .with_ceil_mode(true)
                .with_count_include_pad(false)
                .init()
        });
        Self {
            convs,
            pool,
            projection,
            activation,
        }
    }

    /// `act(convs(x) + shortcut(x))`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let last = self.convs.len().saturating_sub(1);
        let mut y = x.clone();
        for (i, conv) in self.convs.iter().enumerate() {
            y = conv.forward(y);
            if i < last {
                y = self.activation.forward(y);
            }
        }
        let mut shortcut = x;
        if let Some(pool) = &self.pool {
            shortcut = pool.forward(shortcut);
        }
        if let Some(projection) = &self.projection {
            shortcut = projection.forward(shortcut);
        }
        self.activation.forward(y + shortcut)
    }
}
