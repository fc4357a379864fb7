//! The network both families build: stem, residual stages, pooled head.

use burn::module::Module;
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::fastai_head::FastaiHead;
use crate::layers::{Activation, ConvBn, ResidualBlock};

/// A residual network: stem conv-BN-act layers, an optional 3×3/2 max-pool, residual blocks,
/// global average pooling (so any input size that survives the strides works), dropout and a
/// linear classifier. Built by [`ResNetConfig`](crate::ResNetConfig) (torchvision layout) and
/// [`XResNetConfig`](crate::XResNetConfig) (fastai layout).
#[derive(Module, Debug)]
pub struct ResNet<B: Backend> {
    /// Stem conv-BN pairs, each followed by the activation.
    pub stem: Vec<ConvBn<B>>,
    /// The stem's 3×3 stride-2 max-pool (absent with the CIFAR stem).
    pub stem_pool: Option<MaxPool2d>,
    /// The residual blocks of all stages, in order.
    pub blocks: Vec<ResidualBlock<B>>,
    /// Global average pooling.
    pub pool: AdaptiveAvgPool2d,
    /// fastai v1's `cnn_learner` head between the pooling and `dropout`/`fc` (concat pooling,
    /// BN, dropout, linear, ReLU, BN); `None`: average pooling straight into the classifier.
    pub head: Option<FastaiHead<B>>,
    /// Dropout before the classifier (p = 0 unless configured).
    pub dropout: Dropout,
    /// The classifier.
    pub fc: Linear<B>,
    /// The activation.
    #[module(skip)]
    pub activation: Activation,
}

/// fastai's `XResNet` is the same network, built with fastai's stem, shortcuts and init.
pub type XResNet<B> = ResNet<B>;

impl<B: Backend> ResNet<B> {
    pub(crate) fn assemble(
        stem: Vec<ConvBn<B>>,
        stem_pool: bool,
        blocks: Vec<ResidualBlock<B>>,
        dropout: f64,
        fc: Linear<B>,
        activation: Activation,
    ) -> Self {
        let stem_pool = stem_pool.then(|| {
            MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init()
        });
        Self {
            stem,
            stem_pool,
            blocks,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            head: None,
            dropout: DropoutConfig::new(dropout).init(),
            fc,
            activation,
        }
    }

    /// The same network with fastai v1's `cnn_learner` head (see [`FastaiHead`]).
    pub(crate) fn with_fastai_head(mut self, head: FastaiHead<B>, fc: Linear<B>) -> Self {
        self.head = Some(head);
        self.dropout = DropoutConfig::new(0.5).init();
        self.fc = fc;
        self
    }

    /// Logits `[batch, classes]` for images `[batch, channels, height, width]`.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut x = images;
        for conv in &self.stem {
            x = self.activation.forward(conv.forward(x));
        }
        if let Some(pool) = &self.stem_pool {
            x = pool.forward(x);
        }
        for block in &self.blocks {
            x = block.forward(x);
        }
        let x = match &self.head {
            Some(head) => head.forward(x, &self.pool),
            None => self.pool.forward(x).flatten::<2>(1, 3),
        };
        self.fc.forward(self.dropout.forward(x))
    }

    /// Number of trainable parameters (BatchNorm running statistics excluded, as PyTorch's
    /// `sum(p.numel() for p in model.parameters())`).
    pub fn param_count(&self) -> usize {
        // Burn's `num_params` also visits BatchNorm's running mean and variance.
        let running: usize = self
            .stem
            .iter()
            .chain(
                self.blocks
                    .iter()
                    .flat_map(|b| b.convs.iter().chain(&b.projection)),
            )
            .map(|conv| 2 * conv.bn.gamma.shape().num_elements())
            .sum();
        let head = self.head.as_ref().map_or(0, FastaiHead::running_stats);
        self.num_params() - running - head
    }
}
