//! ResNet in torchvision's layout, and the CIFAR ResNet-18 of the Lookahead paper.

use burn::config::Config;
use burn::nn::LinearConfig;
use burn::tensor::backend::Backend;

use crate::error::{ConfigError, check_common, scaled};
use crate::fastai_head::{FASTAI_HIDDEN, FastaiHead, kaiming_linear};
use crate::layers::{Activation, ConvBn, Fan, ResidualBlock};
use crate::network::ResNet;

/// The depth of a torchvision ResNet.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum ResNetVariant {
    /// BasicBlock ×[2, 2, 2, 2].
    ResNet18,
    /// BasicBlock ×[3, 4, 6, 3].
    ResNet34,
    /// Bottleneck (expansion 4) ×[3, 4, 6, 3].
    ResNet50,
}

impl ResNetVariant {
    /// Blocks per stage.
    pub fn blocks(self) -> [usize; 4] {
        match self {
            ResNetVariant::ResNet18 => [2, 2, 2, 2],
            ResNetVariant::ResNet34 | ResNetVariant::ResNet50 => [3, 4, 6, 3],
        }
    }

    /// Output channels of a block / its inner width (1 for BasicBlock, 4 for Bottleneck).
    pub fn expansion(self) -> usize {
        match self {
            ResNetVariant::ResNet50 => 4,
            _ => 1,
        }
    }
}

/// The stem of a ResNet.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum Stem {
    /// torchvision's: 7×7 stride-2 conv, BN, ReLU, 3×3 stride-2 max-pool.
    ImageNet,
    /// For 32×32 images (kuangliu/pytorch-cifar, the Lookahead paper's CIFAR ResNet-18):
    /// 3×3 stride-1 conv, BN, ReLU, no max-pool.
    Cifar,
}

/// Configuration of a torchvision-layout [`ResNet`].
///
/// ```
/// use burn::backend::NdArray;
/// use models::{ResNetConfig, ResNetVariant, Stem};
///
/// let config = ResNetConfig::new(ResNetVariant::ResNet18).with_num_classes(10).with_stem(Stem::Cifar);
/// let model = config.init::<NdArray>(&Default::default()).unwrap();
/// assert_eq!(model.param_count(), 11_173_962);
/// ```
#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Depth and block type.
    pub variant: ResNetVariant,
    /// Number of classes. Default 1000.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Input channels. Default 3.
    #[config(default = 3)]
    pub in_channels: usize,
    /// Stem. Default [`Stem::ImageNet`].
    #[config(default = "Stem::ImageNet")]
    pub stem: Stem,
    /// Multiplies every width (stem 64 and stages 64/128/256/512). Default 1.
    #[config(default = 1.0)]
    pub width: f64,
    /// Overrides the variant's blocks per stage (for tiny models). Default none.
    pub blocks: Option<[usize; 4]>,
    /// Initialise each block's last BN γ to zero (torchvision's `zero_init_residual`). Default false.
    #[config(default = false)]
    pub zero_init_residual: bool,
    /// The classifier head. Default [`Head::Linear`] (torchvision's).
    #[config(default = "Head::Linear")]
    pub head: Head,
}

/// The head of a ResNet after its last stage.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum Head {
    /// torchvision's: global average pooling, one linear layer.
    Linear,
    /// fastai v1's `cnn_learner` head ([`FastaiHead`](crate::FastaiHead) then dropout 0.5 and
    /// a 512 → classes linear layer), over the torchvision body (`cut=-2`, not re-initialised).
    FastaiV1,
}

impl ResNetConfig {
    /// The CIFAR ResNet-18 of the Lookahead paper (kuangliu/pytorch-cifar): 3×3 stem, no max-pool.
    pub fn cifar_resnet18(num_classes: usize) -> Self {
        Self::new(ResNetVariant::ResNet18)
            .with_num_classes(num_classes)
            .with_stem(Stem::Cifar)
    }

    /// A tiny ResNet-18 for CPU tests: width 1/8, one block per stage, CIFAR stem.
    pub fn tiny(num_classes: usize, in_channels: usize) -> Self {
        Self::cifar_resnet18(num_classes)
            .with_in_channels(in_channels)
            .with_width(0.125)
            .with_blocks(Some([1, 1, 1, 1]))
    }

    /// Checks the fields; errors name the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_common(
            self.num_classes,
            self.in_channels,
            self.width,
            self.blocks.as_ref(),
        )
    }

    /// Builds the model: kaiming-normal (fan_out, ReLU) convolutions, BN γ = 1, β = 0 (γ = 0
    /// on each block's last BN with `zero_init_residual`), PyTorch's default linear init.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<ResNet<B>, ConfigError> {
        self.validate()?;
        let width = |c| scaled(c, self.width);
        let expansion = self.variant.expansion();
        let stem_out = width(64);
        let stem = match self.stem {
            Stem::ImageNet => {
                ConvBn::new([self.in_channels, stem_out], 7, 2, Fan::Out, false, device)
            }
            Stem::Cifar => ConvBn::new([self.in_channels, stem_out], 3, 1, Fan::Out, false, device),
        };
        let conv = |c: [usize; 2], k, s, zero| ConvBn::new(c, k, s, Fan::Out, zero, device);
        let zero = self.zero_init_residual;

        let mut blocks = Vec::new();
        let mut in_planes = stem_out;
        let layout = self.blocks.unwrap_or(self.variant.blocks());
        for (stage, &count) in layout.iter().enumerate() {
            let planes = width(64 << stage);
            let out = planes * expansion;
            for index in 0..count {
                let stride = if stage > 0 && index == 0 { 2 } else { 1 };
                let convs = if expansion == 1 {
                    vec![
                        conv([in_planes, planes], 3, stride, false),
                        conv([planes, planes], 3, 1, zero),
                    ]
                } else {
                    vec![
                        conv([in_planes, planes], 1, 1, false),
                        conv([planes, planes], 3, stride, false),
                        conv([planes, out], 1, 1, zero),
                    ]
                };
                let projection = (stride != 1 || in_planes != out)
                    .then(|| conv([in_planes, out], 1, stride, false));
                blocks.push(ResidualBlock::new(
                    convs,
                    None,
                    projection,
                    Activation::Relu,
                ));
                in_planes = out;
            }
        }
        let fc = LinearConfig::new(in_planes, self.num_classes).init(device);
        let net = ResNet::assemble(
            vec![stem],
            self.stem == Stem::ImageNet,
            blocks,
            0.0,
            fc,
            Activation::Relu,
        );
        Ok(match self.head {
            Head::Linear => net,
            Head::FastaiV1 => net.with_fastai_head(
                FastaiHead::new(in_planes, device),
                kaiming_linear(FASTAI_HIDDEN, self.num_classes, device),
            ),
        })
    }
}
