//! fastai's XResNet ("Bag of Tricks for Image Classification", He et al. 2019, ResNet-D).

use burn::config::Config;
use burn::module::Initializer;
use burn::nn::LinearConfig;
use burn::tensor::backend::Backend;

use crate::error::{ConfigError, check_common, scaled};
use crate::layers::{Activation, ConvBn, Fan, ResidualBlock};
use crate::network::XResNet;

/// The depth of an XResNet.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum XResNetVariant {
    /// Expansion 1, [2, 2, 2, 2].
    XResNet18,
    /// Expansion 1, [3, 4, 6, 3].
    XResNet34,
    /// Expansion 4, [3, 4, 6, 3].
    XResNet50,
}

impl XResNetVariant {
    /// Blocks per stage.
    pub fn blocks(self) -> [usize; 4] {
        match self {
            XResNetVariant::XResNet18 => [2, 2, 2, 2],
            _ => [3, 4, 6, 3],
        }
    }

    /// Block expansion.
    pub fn expansion(self) -> usize {
        match self {
            XResNetVariant::XResNet50 => 4,
            _ => 1,
        }
    }
}

/// Configuration of fastai's [`XResNet`].
///
/// ```
/// use burn::backend::NdArray;
/// use models::{Activation, XResNetConfig, XResNetVariant};
///
/// let config = XResNetConfig::new(XResNetVariant::XResNet50)
///     .with_num_classes(10)
///     .with_activation(Activation::Mish);
/// let model = config.init::<NdArray>(&Default::default()).unwrap();
/// assert_eq!(model.param_count(), 23_547_754);
/// ```
#[derive(Config, Debug)]
pub struct XResNetConfig {
    /// Depth and expansion.
    pub variant: XResNetVariant,
    /// Number of classes. Default 1000.
    #[config(default = 1000)]
    pub num_classes: usize,
    /// Input channels. Default 3.
    #[config(default = 3)]
    pub in_channels: usize,
    /// fastai's `widen`: multiplies the stage widths 64/128/256/512 (not the 32/32/64 stem).
    /// Default 1.
    #[config(default = 1.0)]
    pub width: f64,
    /// Overrides the variant's blocks per stage (for tiny models). Default none.
    pub blocks: Option<[usize; 4]>,
    /// Activation. Default ReLU.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Dropout probability before the classifier (fastai's `p`). Default 0.
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl XResNetConfig {
    /// A tiny XResNet-18 for CPU tests: width 1/8, one block per stage.
    pub fn tiny(num_classes: usize, in_channels: usize) -> Self {
        Self::new(XResNetVariant::XResNet18)
            .with_num_classes(num_classes)
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
        )?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ConfigError {
                field: "dropout",
                value: self.dropout.to_string(),
                requirement: "must be in [0, 1)",
            });
        }
        Ok(())
    }

    /// Builds the model with fastai's `init_cnn`: kaiming-normal (fan_in, gain √2) for every
    /// conv and the classifier, all biases 0, BN γ = 1 except each block's last (γ = 0).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<XResNet<B>, ConfigError> {
        self.validate()?;
        let conv = |c: [usize; 2], k, s, zero| ConvBn::new(c, k, s, Fan::In, zero, device);
        let stem = vec![
            conv([self.in_channels, 32], 3, 2, false),
            conv([32, 32], 3, 1, false),
            conv([32, 64], 3, 1, false),
        ];
        let expansion = self.variant.expansion();
        // fastai: block_szs = [64 // expansion, 64w, 128w, 256w, 512w].
        let mut sizes = vec![64 / expansion];
        sizes.extend((0..4).map(|stage| scaled(64 << stage, self.width)));
        let layout = self.blocks.unwrap_or(self.variant.blocks());
        let mut blocks = Vec::new();
        for (stage, &count) in layout.iter().enumerate() {
            let nf = sizes[stage + 1];
            for index in 0..count {
                let ni = if index == 0 { sizes[stage] } else { nf };
                let stride = if stage > 0 && index == 0 { 2 } else { 1 };
                let (ni_x, nf_x) = (ni * expansion, nf * expansion);
                let convs = if expansion == 1 {
                    vec![
                        conv([ni_x, nf], 3, stride, false),
                        conv([nf, nf_x], 3, 1, true),
                    ]
                } else {
                    vec![
                        conv([ni_x, nf], 1, 1, false),
                        conv([nf, nf], 3, stride, false),
                        conv([nf, nf_x], 1, 1, true),
                    ]
                };
                let pool = (stride != 1).then_some(stride);
                let projection = (ni_x != nf_x).then(|| conv([ni_x, nf_x], 1, 1, false));
                blocks.push(ResidualBlock::new(convs, pool, projection, self.activation));
            }
        }
        let features = sizes[4] * expansion;
        let fc = LinearConfig::new(features, self.num_classes)
            .with_initializer(Initializer::KaimingNormal {
                gain: std::f64::consts::SQRT_2,
                fan_out_only: false,
            })
            .init(device);
        let fc = burn::nn::Linear {
            bias: fc.bias.map(|b| b.map(|t| t.zeros_like())),
            ..fc
        };
        Ok(XResNet::assemble(
            stem,
            true,
            blocks,
            self.dropout,
            fc,
            self.activation,
        ))
    }
}
